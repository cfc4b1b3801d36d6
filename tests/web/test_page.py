#!/usr/bin/env python3
"""The bench page in real Chromium (playwright-core + Debian's chromium): test_page.py starts the
emulator with the bundled profiles and benchd, runs page.js, and checks in the store what the
clicks did.

  test_page.py --bin DIR [--work DIR] [--artefacts DIR] bench|many [N]

  bench   every emulated device's tile with its model and battery; a phone plugged after the
          page loaded appears without a reload (under 1 s); an answer clicked and a ticket typed
          give signed revisions (checked in the state directory and the store); the stream drops
          (benchd restarts) and the page comes back by itself; screenshots in en and zh
  many    N phones (default 64) at once: the page shows them all live and stays responsive;
          benchd's memory with the page open
Screenshots are kept in --artefacts (default: artefacts/ in the current directory).
Exit 0 pass, 1 fail, 77 skipped (no chromium or no node_modules: scripts/deps --test).
"""
import argparse
import json
import math
import os
import plistlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webcommon as W  # noqa: E402
from webcommon import T, check, log  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def models():
    with open(os.path.join(HERE, "..", "..", "diag-trees", "models.json")) as f:
        m = json.load(f)
    m = m.get("models", m)
    return {k: v.get("name") for k, v in m.items() if isinstance(v, dict)}


def expect(udid, d, names):
    """What the tile of this profile must show."""
    with open(os.path.join(d, "device.plist"), "rb") as f:
        pl = plistlib.load(f)
    root = pl["Lockdown"]["Root"]
    beh = pl.get("Behaviour", {})
    e = {"udid": udid, "model_name": names.get(root["ProductType"], root["ProductType"])}
    if beh.get("PasscodeLocked") or beh.get("TrustPending"):
        e["alert"] = "unlock" if beh.get("PasscodeLocked") else "Trust"
        return e
    bat = pl.get("IORegistry", {}).get("AppleSmartBattery", {})
    if bat.get("DesignCapacity") and bat.get("NominalChargeCapacity"):
        pct = math.ceil(bat["NominalChargeCapacity"] * 100 / bat["DesignCapacity"])
        e["battery"] = pct
        e["band"] = "good" if pct >= 80 else ("worn" if pct >= 60 else "bad")
    return e


def bundled():
    out = []
    for name in sorted(os.listdir(W.PROFILES)):
        pl = os.path.join(W.PROFILES, name, "device.plist")
        if os.path.exists(pl):
            with open(pl, "rb") as f:
                out.append((plistlib.load(f)["Lockdown"]["Root"]["UniqueDeviceID"], os.path.join(W.PROFILES, name)))
    return out


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        s = f.read()
    return (int(re.search(r"VmRSS:\s+(\d+)", s).group(1)), int(re.search(r"VmHWM:\s+(\d+)", s).group(1)))


def run_node(cfg, work, bench, on_need=None, timeout=240):
    path = os.path.join(work, "page-config.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.Popen(["node", os.path.join(HERE, "page.js"), path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=open(os.path.join(work, "node.log"), "w"), text=True, cwd=HERE)
    out = None
    end = time.time() + timeout
    try:
        for line in p.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                log("node: " + line.rstrip())
                continue
            if "step" in msg:
                log("page: " + msg["step"])
            elif "need" in msg:
                ok = on_need(msg["need"]) if on_need else False
                p.stdin.write("ok\n" if ok else "no\n")
                p.stdin.flush()
            elif "result" in msg:
                out = msg["result"]
            elif "fail" in msg:
                raise W.Fail("in Chromium: " + msg["fail"])
            if time.time() > end:
                raise W.Fail("page.js ran over %d s" % timeout)
        rc = p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    check(rc == 0 and out is not None, "page.js exited %s without a result (see %s/node.log)" % (p.returncode, work))
    return out


def t_bench(work, artefacts):
    names = models()
    q = W.question_profile(work)
    profiles = bundled() + [q]
    plug = W.clone(work, "healthy-15pro", "00008130-00AA77BB11CC001E")
    emu, b, page = W.start(work, profiles)
    cfg = {
        "url": page.url, "emu_control": emu.control, "state_dir": b.state, "artefacts": artefacts,
        "chromium": CHROMIUM,
        "devices": [expect(u, d, names) for u, d in profiles],
        "plug": {"udid": plug[0], "dir": plug[1]},
        "question": {"udid": q[0], "key": "tg0b_new_battery", "choice": "yes"},
        "ticket": {"udid": "00008030-001A35E21A05802E", "ticket": "T-4711"},
        "booking": {"serial": "F2LBOOKED001", "ticket": "T-5000"},
    }

    def restart(what):
        check(what == "restart", "page.js asked for " + what)
        b.stop()
        with open(b.conf) as f:
            conf = f.read().replace("listen = 127.0.0.1:0", "listen = 127.0.0.1:%d" % page.port)
        with open(b.conf, "w") as f:
            f.write(conf)
        os.unlink(os.path.join(b.state, "web.url")) if os.path.exists(os.path.join(b.state, "web.url")) else None
        b.start()
        W.wait_for("the page on the same port", lambda: os.path.exists(os.path.join(b.state, "web.url")), 20)
        return True

    res = run_node(cfg, work, b, restart)
    # What the clicks did, in the store: the answered case has its revision, with the answer.
    a = res["answered"]
    rows = W.store_rows(b, "SELECT revision, report_id FROM reports WHERE case_id = ? ORDER BY revision", (a["case_id"],))
    # (The restart re-reads every phone still plugged in: later revisions may follow.)
    check([r[0] for r in rows][:a["revision"]] == list(range(1, a["revision"] + 1)) and
          rows[a["revision"] - 1][1] == a["report_id"], "the answered case's revisions in the store: %s" % rows)
    ans = W.store_rows(b, "SELECT answers FROM cases WHERE case_id = ?", (a["case_id"],))
    check(ans and json.loads(ans[0][0]).get("tg0b_new_battery") == "yes", "the case's answers: %s" % ans)
    t = res["ticketed"]
    rows = W.store_rows(b, "SELECT ticket FROM cases WHERE case_id = ?", (t["case_id"],))
    check(rows and rows[0][0] == "T-4711", "the case's ticket in the store: %s" % rows)
    rows = W.store_rows(b, "SELECT revision FROM reports WHERE report_id = ?", (t["report_id"],))
    check(rows and rows[0][0] == t["earlier"] + 1, "the ticket's revision in the store: %s" % rows)
    bk = W.store_rows(b, "SELECT ticket, value FROM bookings")
    check(("T-5000", "F2LBOOKED001") in bk, "the booking made on the page after the restart: %s" % bk)
    log("figures: " + json.dumps(res))
    check(res["plug_to_tile_ms"] < 1000, "a plugged phone took %d ms to appear" % res["plug_to_tile_ms"])
    for png in ("bench-en.png", "bench-zh.png", "customer-zh.png"):
        p = os.path.join(artefacts, png)
        check(os.path.exists(p) and os.path.getsize(p) > 20000, "screenshot %s missing or empty" % p)
    log("screenshots: %s" % artefacts)
    b.stop()
    emu.stop()


def t_many(work, artefacts, n):
    names = models()
    src = ["healthy-15pro", "worn-battery-11", "thermal-loop-12", "smc-14", "unpaired-se"]
    profiles = [W.clone(work, src[i % len(src)], "00008130-0064%08X001E" % i) for i in range(n)]
    for _, d in profiles:
        p = os.path.join(d, "device.plist")
        with open(p, "rb") as f:
            pl = plistlib.load(f)
        pl.setdefault("Behaviour", {})["LatencyMs"] = 2
        with open(p, "wb") as f:
            plistlib.dump(pl, f)
    emu, b, page = W.start(work, [])
    peak = [0, 0]

    cfg = {"mode": "many", "url": page.url, "emu_control": emu.control, "state_dir": b.state, "artefacts": artefacts,
           "chromium": CHROMIUM, "devices": [expect(u, d, names) for u, d in profiles],
           "plug_all": [d for _, d in profiles]}

    def sample(what):
        check(what == "sample", "page.js asked for " + what)
        now, hwm = rss(b.proc.p.pid)
        peak[0], peak[1] = max(peak[0], now), max(peak[1], hwm)
        return True

    res = run_node(cfg, work, b, sample, timeout=400)
    now, hwm = rss(b.proc.p.pid)
    res["benchd_rss_mb"] = round(max(peak[0], now) / 1024, 1)
    res["benchd_hwm_mb"] = round(max(peak[1], hwm) / 1024, 1)
    log("figures: " + json.dumps(res))
    reports = W.store_rows(b, "SELECT COUNT(*) FROM reports")[0][0]
    check(reports == res["reports_on_page"], "%d reports in the store, %d on the page" % (reports, res["reports_on_page"]))
    b.stop()
    emu.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", default="")
    ap.add_argument("--artefacts", default="artefacts")
    ap.add_argument("test", choices=["bench", "many"])
    ap.add_argument("n", nargs="?", type=int, default=64)
    a = ap.parse_args()
    if not os.path.exists(CHROMIUM):
        print("SKIP: chromium is not installed (scripts/deps --test installs it)")
        return 77
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")) or not shutil.which("node"):
        print("SKIP: node or tests/web/node_modules/playwright-core is missing (scripts/deps --test runs npm ci)")
        return 77
    artefacts = os.path.abspath(a.artefacts)
    os.makedirs(artefacts, exist_ok=True)
    tests = {"bench": lambda w: t_bench(w, artefacts), "many": lambda w: t_many(w, artefacts, a.n)}
    return W.run_main(tests, ["--bin", a.bin] + (["--work", a.work] if a.work else []) + [a.test])


if __name__ == "__main__":
    sys.exit(main())
