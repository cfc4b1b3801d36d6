#!/usr/bin/env python3
"""benchd benchmarks (DESIGN.md 5): prints a table, then one JSON line (the last line of stdout).

  tests/bench/bench.py --bin BUILD/bin [--runs N] [--devices N] [--latency-ms N]
                       [--benchd-syslog S[,S...]] [--smoke]

(1) single: one emulated iPhone (a copy of tests/profiles/thermal-loop-12 with Behaviour
    LatencyMs 2: 4 panic reports) read by `benchctl run --udid U --syslog-seconds 0` (snapshot,
    every tree, signed report written to disk) against the same reads done by Debian's stock
    tools one after another: ideviceinfo, ideviceinfo -q com.apple.mobile.battery,
    ideviceinfo -q com.apple.disk_usage, idevicediagnostics ioregentry AppleSmartBattery,
    idevicecrashreport -k DIR. Neither side reads the syslog. Runs alternate (stock, benchctl,
    stock, ...) after one untimed warm-up of each; the median of each side and the ratio.
(2) fleet: N emulated devices (default 64; copies of four readable bundled profiles, unique
    UDIDs, LatencyMs 2) attached at once through the emulator's control socket while benchd
    (syslog_seconds S) is watching. Plug time = when the attach commands were written (all in one
    write); report time = the mtime of the signed report file named by the session's
    row in benchd's SQLite store (reports.stored_at only has whole seconds).
    p50/p95/max, reports per second (N / (last report - plug)), benchd's VmHWM, and (sampled
    every 50 ms from /proc/PID/smaps_rollup) the peak PSS of benchd plus its benchd-reader
    processes alive at that moment, with the most readers seen at once (issue 11).
    Every session must end 'done' with its signed report file, or the run fails.
(3) parse: tests/bench/bench_parse (crash parser per report, syslog scan per MiB).

--smoke: 1 run, 4 devices, few parse iterations: checks the instruments work (any build), says
nothing about speed. Use a Release build for figures:
  cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench -j2
  tests/bench/bench.py --bin build-bench/bin
Exit 0 when every phase completed, 1 otherwise (with the reason on stderr).
"""

import argparse
import json
import os
import plistlib
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
PROFILES = os.path.join(TOP, "tests", "profiles")
FLEET_PROFILES = ("thermal-loop-12", "smc-14", "worn-battery-11", "healthy-15pro")
A = None


class Fail(Exception):
    pass


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def wait_for(what, fn, timeout, step=0.02):
    end = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            raise Fail("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(step)


def make_profile(work, name, i, latency):
    """A copy of bundled profile `name` with a unique UDID and Behaviour LatencyMs."""
    dst = os.path.join(work, "profiles", "%03d-%s" % (i, name))
    shutil.copytree(os.path.join(PROFILES, name), dst)
    pl = os.path.join(dst, "device.plist")
    with open(pl, "rb") as f:
        d = plistlib.load(f)
    root = d["Lockdown"]["Root"]
    udid = "%s%04X" % (root["UniqueDeviceID"][:-4], i)
    root["UniqueDeviceID"] = udid
    d.setdefault("Behaviour", {})["LatencyMs"] = latency
    with open(pl, "wb") as f:
        plistlib.dump(d, f)
    return udid, dst


class Emu:
    def __init__(self, work, profiles=()):
        self.sock = os.path.join(work, "mux.sock")
        self.control = os.path.join(work, "emu-control.sock")
        self.log = open(os.path.join(work, "emu.log"), "wb")
        self.proc = subprocess.Popen([os.path.join(A.bin, "idevice-emu"), "--socket", self.sock, "--control",
                                      self.control] + list(profiles), stdout=self.log, stderr=self.log)
        wait_for("the emulator's socket", lambda: os.path.exists(self.sock) or self.proc.poll() is not None, 20)
        if self.proc.poll() is not None:
            raise Fail("idevice-emu exited at start (see %s)" % self.log.name)

    def attach_all(self, dirs):
        """Every attach command in one write; returns the time of that write and the answers."""
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.control)
        data = "".join("attach %s\n" % d for d in dirs).encode()
        t = time.time()
        s.sendall(data)
        f = s.makefile("rb")
        answers = [f.readline().decode().strip() for _ in dirs]
        s.close()
        return t, answers

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def env_for(emu):
    e = dict(os.environ)
    e["USBMUXD_SOCKET_ADDRESS"] = "UNIX:" + emu.sock
    return e


def run(argv, env, what, timeout=120):
    t = time.perf_counter()
    r = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise Fail("%s failed (exit %d): %s" % (what, r.returncode, r.stderr.decode(errors="replace").strip()))
    return dt, r.stdout


# ---------------------------------------------------------------------------------------------
# (1) one device: benchctl run vs the stock tools


def bench_single(work):
    udid, pdir = make_profile(work, "thermal-loop-12", 0, A.latency_ms)
    emu = Emu(work, [pdir])
    env = env_for(emu)
    state = os.path.join(work, "single-state")
    os.makedirs(state)
    crashdirs = [0]

    def stock():
        t = 0.0
        t += run(["ideviceinfo", "-u", udid], env, "ideviceinfo")[0]
        t += run(["ideviceinfo", "-u", udid, "-q", "com.apple.mobile.battery"], env, "ideviceinfo battery")[0]
        t += run(["ideviceinfo", "-u", udid, "-q", "com.apple.disk_usage"], env, "ideviceinfo disk_usage")[0]
        t += run(["idevicediagnostics", "-u", udid, "ioregentry", "AppleSmartBattery"], env,
                 "idevicediagnostics ioregentry")[0]
        crashdirs[0] += 1
        d = os.path.join(work, "stock-crashes-%d" % crashdirs[0])
        os.makedirs(d)
        dt, out = run(["idevicecrashreport", "-u", udid, "-k", d], env, "idevicecrashreport")
        t += dt
        got = sorted(os.listdir(d))
        if not any(n.endswith(".ips") for n in got):
            raise Fail("idevicecrashreport copied no .ips into %s: %s" % (d, got))
        shutil.rmtree(d)
        return t

    def ours():
        dt, out = run([os.path.join(A.bin, "benchctl"), "--state-dir", state, "--json", "run", "--udid", udid,
                       "--syslog-seconds", "0"], env, "benchctl run")
        res = json.loads(out)
        if not os.path.exists(res["report_path"]):
            raise Fail("benchctl run wrote no report at %s" % res["report_path"])
        snap = json.load(open(res["snapshot_path"]))
        if len(snap.get("crashes", [])) < 4:
            raise Fail("benchctl's snapshot has %d crash reports, want the profile's 4" % len(snap.get("crashes", [])))
        return dt

    try:
        stock()  # warm-up (page cache, first pairing); also creates nothing on the device
        ours()   # warm-up: creates the bench key
        ts, to = [], []
        for _ in range(A.runs):
            ts.append(stock())
            to.append(ours())
    finally:
        emu.stop()
    ms, mo = statistics.median(ts), statistics.median(to)
    return {
        "runs": A.runs,
        "latency_ms": A.latency_ms,
        "stock_median_s": round(ms, 4),
        "benchctl_median_s": round(mo, 4),
        "stock_runs_s": [round(x, 4) for x in ts],
        "benchctl_runs_s": [round(x, 4) for x in to],
        "ratio": round(ms / mo, 2),
    }


# ---------------------------------------------------------------------------------------------
# (2) N devices plugged at once into benchd


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def pss_kb(pid):
    """Proportional set size (shared pages split between their users), kB; 0 when gone."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def readers_of(pid):
    """benchd's reader processes (issue 11: one per session)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                st = f.read()
        except OSError:
            continue
        if "(benchd-reader)" in st[:st.rindex(")") + 1] and int(st[st.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(p))
    return out


class PssSampler(threading.Thread):
    """Every 50 ms: benchd's PSS plus every reader's; keeps the peak of the sum (benchd + readers
    alive at that moment), benchd's own peak and the most readers seen at once."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.stop_ev = pid, threading.Event()
        self.total_kb = self.benchd_kb = self.readers = 0

    def run(self):
        while not self.stop_ev.is_set():
            rs = readers_of(self.pid)
            b = pss_kb(self.pid)
            total = b + sum(pss_kb(r) for r in rs)
            self.total_kb, self.benchd_kb = max(self.total_kb, total), max(self.benchd_kb, b)
            self.readers = max(self.readers, len(rs))
            self.stop_ev.wait(0.05)

    def stop(self):
        self.stop_ev.set()
        self.join()


def pct(xs, p):
    """Nearest-rank percentile."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def bench_fleet(work, n, syslog_seconds):
    work = os.path.join(work, "fleet-%d-%ds" % (n, syslog_seconds))
    os.makedirs(work)
    profs = [make_profile(work, FLEET_PROFILES[i % len(FLEET_PROFILES)], i, A.latency_ms) for i in range(n)]
    emu = Emu(work)
    env = env_for(emu)
    state = os.path.join(work, "state")
    os.makedirs(state)
    conf = os.path.join(work, "benchd.conf")
    with open(conf, "w") as f:
        f.write("[bench]\nid = bench-perf\nsyslog_seconds = %d\nmax_sessions = 64\ndrain_seconds = 5\n"
                "[control]\nsocket = %s\n" % (syslog_seconds, os.path.join(work, "control.sock")))
    blog = open(os.path.join(work, "benchd.log"), "wb")
    bd = subprocess.Popen([os.path.join(A.bin, "benchd"), "--config", conf, "--state-dir", state], env=env,
                          stdout=blog, stderr=blog)
    ctl = [os.path.join(A.bin, "benchctl"), "--state-dir", state, "--socket", os.path.join(work, "control.sock")]
    db = os.path.join(state, "benchd.db")

    def status():
        if bd.poll() is not None:
            raise Fail("benchd exited (status %s): see %s" % (bd.returncode, blog.name))
        r = subprocess.run(ctl[:1] + ["status"] + ctl[1:] + ["--json"], env=env, capture_output=True, text=True,
                           timeout=30)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def rows():
        if not os.path.exists(db):
            return []
        c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
        try:
            return c.execute("SELECT s.device, s.state, s.reason, r.stored_at, r.path FROM sessions s "
                             "LEFT JOIN reports r ON r.report_id = s.report_id").fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            c.close()

    try:
        wait_for("benchd to answer benchctl status", status, 30, 0.1)
        time.sleep(0.3)  # the usbmux watcher is listening
        sampler = PssSampler(bd.pid)
        sampler.start()
        t_plug, answers = emu.attach_all([p for _, p in profs])
        bad = [a for a in answers if not a.startswith("ok")]
        if bad:
            raise Fail("the emulator refused attaches: %s" % bad[:3])
        budget = 120 + 2 * syslog_seconds

        def ended():
            r = rows()
            done = [x for x in r if x[1] != "running"]
            return r if len(done) >= n else None

        r = wait_for("%d sessions to end" % n, ended, budget, 0.1)
        if status() is None:
            raise Fail("benchd does not answer benchctl status after the run")
        hwm = vm_hwm_kb(bd.pid)
        sampler.stop()
    finally:
        if bd.poll() is None:
            bd.send_signal(signal.SIGTERM)
            try:
                bd.wait(30)
            except subprocess.TimeoutExpired:
                bd.kill()
                bd.wait()
        blog.close()
        emu.stop()
    want = {u for u, _ in profs}
    got = {x[0] for x in r}
    if got != want:
        raise Fail("sessions for %d devices, want %d (missing %s)" % (len(got), n, sorted(want - got)[:3]))
    notdone = [x for x in r if x[1] != "done" or x[3] is None]
    if notdone:
        raise Fail("%d sessions without a report, e.g. %s: %s" % (len(notdone), notdone[0][0], notdone[0][2]))
    missing = [x[4] for x in r if not os.path.exists(x[4])]
    if missing:
        raise Fail("report files missing: %s" % missing[:3])
    if len(r) != n:
        raise Fail("%d sessions for %d devices (a device was diagnosed twice)" % (len(r), n))
    # reports.stored_at has whole seconds: the report file's mtime (set when the signed bytes were
    # written, just before the rename and the store row) is the precise report time.
    lat = [os.stat(x[4]).st_mtime - t_plug for x in r]
    span = max(lat)
    return {
        "devices": n,
        "latency_ms": A.latency_ms,
        "syslog_seconds": syslog_seconds,
        "p50_s": round(pct(lat, 50), 3),
        "p95_s": round(pct(lat, 95), 3),
        "max_s": round(span, 3),
        "reports_per_s": round(n / span, 2),
        "benchd_vmhwm_mb": round(hwm / 1024.0, 1),
        "total_pss_peak_mb": round(sampler.total_kb / 1024.0, 1),
        "benchd_pss_peak_mb": round(sampler.benchd_kb / 1024.0, 1),
        "readers_peak": sampler.readers,
    }


# ---------------------------------------------------------------------------------------------


def bench_parse():
    argv = [os.path.join(A.bin, "bench_parse")] + (["--smoke"] if A.smoke else []) + [TOP]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise Fail("bench_parse failed: " + r.stderr.strip())
    sys.stderr.write(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    global A
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--devices", type=int, default=64)
    ap.add_argument("--latency-ms", type=int, default=2)
    ap.add_argument("--benchd-syslog", default="0,5", help="benchd syslog_seconds values, comma-separated")
    ap.add_argument("--only", default="single,fleet,parse")
    ap.add_argument("--smoke", action="store_true")
    A = ap.parse_args()
    A.bin = os.path.abspath(A.bin)
    if A.smoke:
        A.runs, A.devices, A.benchd_syslog = 1, 4, "0"
    for tool in ("ideviceinfo", "idevicediagnostics", "idevicecrashreport"):
        if shutil.which(tool) is None:
            say("%s is missing (Debian libimobiledevice-utils)" % tool)
            return 1
    only = A.only.split(",")
    work = tempfile.mkdtemp(prefix="benchd-bench-")
    out = {"bench": "benchd", "smoke": A.smoke}
    try:
        if "single" in only:
            say("one device: %d alternating runs" % A.runs)
            out["single"] = bench_single(work)
        if "fleet" in only:
            out["fleet"] = []
            for s in [int(x) for x in A.benchd_syslog.split(",")]:
                say("%d devices plugged at once, syslog_seconds %d" % (A.devices, s))
                out["fleet"].append(bench_fleet(work, A.devices, s))
        if "parse" in only:
            out["parse"] = bench_parse()
    except (Fail, subprocess.TimeoutExpired, OSError, ValueError) as e:
        say("FAIL: %s (work dir kept: %s)" % (e, work))
        return 1
    shutil.rmtree(work, ignore_errors=True)

    print("%-58s %s" % ("measure", "value"))
    if "single" in out:
        s = out["single"]
        print("%-58s %.3f s" % ("1 device, stock tools (5 reads, one after another), median", s["stock_median_s"]))
        print("%-58s %.3f s" % ("1 device, benchctl run (snapshot+trees+signed), median", s["benchctl_median_s"]))
        print("%-58s %.2fx  (bar >= 3x)" % ("speed-up", s["ratio"]))
    for f in out.get("fleet", []):
        tag = "%d devices, syslog %d s:" % (f["devices"], f["syslog_seconds"])
        print("%-58s %.3f / %.3f / %.3f s%s" % (tag + " plug-to-report p50/p95/max", f["p50_s"], f["p95_s"],
                                             f["max_s"], "  (bar p95 < 3 s)" if f["syslog_seconds"] == 0 else ""))
        print("%-58s %.1f" % (tag + " reports per second", f["reports_per_s"]))
        print("%-58s %.1f MB  (bar < 64 MB)" % (tag + " benchd peak RSS (VmHWM)", f["benchd_vmhwm_mb"]))
        print("%-58s %.1f MB  (bar < 256 MB)" % (tag + " peak PSS, benchd + its readers", f["total_pss_peak_mb"]))
        print("%-58s %d" % (tag + " most reader processes at once", f["readers_peak"]))
    if "parse" in out:
        p = out["parse"]
        print("%-58s %.1f us" % ("crash report parsed (bundled .ips/.plist, mean)", p["crash_us_per_report"]))
        print("%-58s %.2f ms" % ("crash report parsed (2 MiB .ips panic)", p["crash_ms_2mib_panic"]))
        print("%-58s %.2f ms" % ("syslog scanned, full signature set, per MiB", p["syslog_ms_per_mib"]))
    print(json.dumps(out, sort_keys=True, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
