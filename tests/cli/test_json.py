#!/usr/bin/env python3
"""benchctl's output contract for scripts (CONTRACTS.md 1, README "benchctl exit codes"), checked
on every command, in success and in failure, against the real programs: benchctl, benchd,
idevice-emu and the local case receiver.

  test_json.py --bin DIR TEST [--work DIR]

TEST:
  json    every command with --json: each output is one line of compact JSON (a stream, one per
          line); a failure is {"ok": false, "error": "one line", "code": ...} on stdout with the
          same line on stderr and the README's exit code; every time is an RFC 3339 UTC string
          (no Unix seconds or milliseconds anywhere); a prose result ("fail: 2 faults") has its
          fields beside it; a fault with no part has "part": null and "part_note"; a locked phone
          is a code in run --json (device_state); devices --json gives a usbmux device's serial.
  usage   every command and subcommand, and benchd: a bad command line is exactly one line
          "benchctl CMD: WHAT: see benchctl CMD --help" (exit 2), never the whole usage.
  demo    what scripts/demo --keep-running says to type, run as printed against a running demo:
          status, history, benchctl devices on the demo's usbmuxd socket, scripts/emu-ctl list /
          detach / attach (benchctl watch sees the phone go and come back); Ctrl-C stops it all.

Exit 0 pass, 1 fail.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "agent"))
import test_benchd as tb  # noqa: E402  (the harness: Bench, Emu, Receiver, process cleanup)
import test_cases as tc  # noqa: E402  (device profiles: a worn battery, a question)

from test_benchd import Fail, check, log, wait_for  # noqa: E402

RECORDED = os.path.join(TOP, "diag-trees", "tests", "recorded")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
# Keys that hold a point in time, wherever they appear.
TIME_KEY = re.compile(r"(^|_)(at|since|until|time|date|timestamp|next_try|expires)$")
# Integers that are sizes or counts, never times, even when large.
SIZE_KEY = re.compile(r"bytes|size|capacity|_mah|_mv|_ma$|count|total|lines")
PROSE_RESULT = re.compile(r"^(pass|fail|incomplete): (\d+) faults?\b")
CHECKED = {"outputs": 0, "failures": 0, "times": 0}


# ---------------------------------------------------------------------------------------------
# The schema checks


def compact(line):
    """True when the line has no whitespace outside its strings (jansson JSON_COMPACT)."""
    in_str = esc = False
    for ch in line:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in " \t\r\n":
            return False
    return True


def walk(v, what, path="$"):
    """Times as RFC 3339 UTC strings, no Unix times, prose results with their fields, no-part
    faults with a null part and its note."""
    if isinstance(v, dict):
        if path.endswith(".raw") or path.endswith(".evidence"):
            return  # the device's own plists and the trees' evidence, as read
        for k, x in v.items():
            p = "%s.%s" % (path, k)
            if TIME_KEY.search(k) and not k.endswith("_s") and k not in ("uptime_s",):
                check(x is None or (isinstance(x, str) and RFC3339.match(x)),
                      "%s: %s is %r, not an RFC 3339 UTC time" % (what, p, x))
                CHECKED["times"] += 1
            if isinstance(x, int) and not isinstance(x, bool) and not SIZE_KEY.search(k):
                check(not (10 ** 9 <= x <= 4 * 10 ** 9 or 10 ** 12 <= x <= 4 * 10 ** 12),
                      "%s: %s = %d looks like a Unix time: give it as RFC 3339" % (what, p, x))
            if isinstance(x, str) and k in ("result", "reason", "summary", "why"):
                m = PROSE_RESULT.match(x)
                if m:
                    n = int(m.group(2))
                    check(v.get("outcome") == m.group(1) and
                          (v.get("fault_count") == n or
                           (isinstance(v.get("faults"), list) and len(v["faults"]) == n)),
                          "%s: %s is the prose %r without outcome and the fault count beside it: %s" %
                          (what, p, x, v))
            walk(x, what, p)
        if "code" in v and "part" in v and isinstance(v.get("part"), str):
            check(not v["part"].startswith("none"),
                  "%s: %s: the part %r is no part: want null and part_note" % (what, path, v["part"]))
        if "code" in v and "part" in v and v["part"] is None and "severity" in v:
            check(isinstance(v.get("part_note"), str) and v["part_note"],
                  "%s: %s: a null part without part_note: %s" % (what, path, v))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk(x, what, "%s[%d]" % (path, i))


def docs(out, what, stream=False):
    """The JSON documents of stdout: one (or, for a stream, one per line), each compact."""
    check(out.endswith("\n"), "%s: stdout does not end with a newline: %r" % (what, out[-200:]))
    lines = out.split("\n")[:-1]
    check(stream or len(lines) == 1, "%s: %d lines on stdout, want one JSON line:\n%s" %
          (what, len(lines), out[:2000]))
    got = []
    for line in lines:
        try:
            v = json.loads(line)
        except ValueError as e:
            raise Fail("%s: not JSON (%s): %r" % (what, e, line[:300]))
        check(compact(line), "%s: not compact JSON: %r" % (what, line[:300]))
        walk(v, what)
        got.append(v)
    CHECKED["outputs"] += 1
    return got


def ok_doc(r, what, rc=0, stream=False):
    check(r.returncode == rc, "%s: exit %d, want %d\nstdout: %s\nstderr: %s" %
          (what, r.returncode, rc, r.stdout[:1500], r.stderr[:1500]))
    d = docs(r.stdout, what, stream)
    if not stream and isinstance(d[0], dict) and "ok" in d[0]:
        check(d[0]["ok"] is True, "%s: exit %d but ok is %r" % (what, rc, d[0]["ok"]))
    return d if stream else d[0]


def fail_doc(r, what, rc, code=None):
    """A failure: exit rc, one line {"ok":false,"error","code"} on stdout, its line on stderr."""
    check(r.returncode == rc, "%s: exit %d, want %d\nstdout: %s\nstderr: %s" %
          (what, r.returncode, rc, r.stdout[:1500], r.stderr[:1500]))
    d = docs(r.stdout, what)[0]
    check(isinstance(d, dict) and d.get("ok") is False, "%s: a failure without \"ok\": false: %s" % (what, d))
    e = d.get("error")
    check(isinstance(e, str) and e and "\n" not in e, "%s: no one-line error: %s" % (what, d))
    check(isinstance(d.get("code"), str) and d["code"], "%s: no code: %s" % (what, d))
    if code:
        check(d["code"] == code, "%s: code %r, want %r" % (what, d["code"], code))
    check(e in r.stderr, "%s: the error is not on stderr too: %r" % (what, r.stderr))
    CHECKED["failures"] += 1
    return d


# ---------------------------------------------------------------------------------------------
# Running benchctl


class Ctl:
    def __init__(self, state, sock=None, env=None):
        self.state, self.sock, self.env = state, sock, env

    def __call__(self, *args, json_out=True, timeout=60, daemon=False):
        argv = [os.path.join(tb.A.bin, "benchctl"), "--state-dir", self.state]
        if json_out:
            argv.append("--json")
        argv += list(args)
        if daemon and self.sock:
            argv += ["--socket", self.sock]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=self.env or os.environ)


# ---------------------------------------------------------------------------------------------
# json


def local_commands(work, c):
    """What needs no daemon: key, trees, run --snapshot, report show/verify."""
    worn = os.path.join(RECORDED, "worn-battery-11.json")
    locked = os.path.join(RECORDED, "locked-13.json")
    fail_doc(c("key", "export"), "key export with no key", 1, "failed")
    ok_doc(c("key", "init"), "key init")
    d = ok_doc(c("key", "export"), "key export")
    check(d.get("kty") == "OKP" and d.get("kid"), "key export: %s" % d)
    fail_doc(c("key", "init"), "key init when there is a key", 1, "failed")
    d = ok_doc(c("trees", "list"), "trees list")
    check(d["ok"] is True and any(t["name"] == "battery" for t in d["trees"]), "trees list: %s" % d)
    ok_doc(c("trees", "check"), "trees check")
    d = ok_doc(c("trees", "test"), "trees test")
    check(d["failed"] == 0 and d["passed"] > 10, "trees test: %s" % {k: d[k] for k in ("passed", "failed")})
    fail_doc(c("trees", "list", "--trees-dir", os.path.join(work, "no-trees")), "trees list of no trees", 1)
    fail_doc(c("trees", "run", "--snapshot", os.path.join(work, "absent.json")), "trees run of no file", 1)
    d = ok_doc(c("trees", "run", "--snapshot", worn), "trees run")
    check(d["outcome"] == "fail", "trees run: %s" % d["outcome"])

    # run: the fields, the no-part fault, the locked phone's code.
    d = ok_doc(c("run", "--snapshot", worn, "--ticket", "T-1"), "run --snapshot")
    check(d["outcome"] == "fail" and d["fault_count"] == len(d["faults"]) > 0 and d["device_state"] == "ok",
          "run --snapshot of the worn battery: %s" % d)
    check(all(f["part"] == "battery" for f in d["faults"] if f["code"].startswith("BAT")), "parts: %s" % d["faults"])
    worn_id = d["report_id"]
    d = ok_doc(c("run", "--snapshot", locked), "run --snapshot of a locked phone")
    check(d["device_state"] == "locked" and d["outcome"] == "incomplete", "a locked phone: %s" % d)
    sys3 = [f for f in d["faults"] if f["code"] == "SYS-003"]
    check(sys3 and sys3[0]["part"] is None and sys3[0]["part_note"] == "ask the customer",
          "SYS-003 has a null part and its note: %s" % sys3)
    locked_id = d["report_id"]
    bad = os.path.join(work, "bad-snapshot.json")
    with open(bad, "w") as f:
        f.write("not a snapshot\n")
    fail_doc(c("run", "--snapshot", bad), "run over a file that is not a snapshot", 1, "failed")
    fail_doc(c("run", "--snapshot", os.path.join(work, "absent.json")), "run over no file", 1)
    fail_doc(c("run", "--snapshot", worn, "--answer", "nosuchkey=yes"), "run with a refused --answer", 2,
             "bad_request")

    d = ok_doc(c("run", "--replay", worn_id), "run --replay")
    check(d["replay"]["of"] == worn_id and d["replay"]["same"] is True, "run --replay: %s" % d.get("replay"))
    fail_doc(c("run", "--replay", "00000000-0000-4000-8000-000000000000"), "run --replay of no report", 2)
    hist = os.path.join(work, "history.json")
    with open(hist, "w") as f:
        json.dump([{"at": "2026-01-10T10:00:00Z", "battery_serial": "F5D0TEST", "cycle_count": 300,
                    "health_pct": 90, "nominal_capacity_mah": 2800, "design_capacity_mah": 3110}], f)
    ok_doc(c("run", "--snapshot", worn, "--history", hist), "run --history")
    with open(hist, "w") as f:
        f.write("[1,")
    fail_doc(c("run", "--snapshot", worn, "--history", hist), "run --history of a file that is not JSON", 2)

    # report show and verify.
    d = ok_doc(c("report", "show", worn_id), "report show --json")
    check(d["report_id"] == worn_id and RFC3339.match(d["created_at"]), "report show: %s" % d.get("report_id"))
    d = ok_doc(c("report", "show", locked_id), "report show --json of the locked phone's report")
    check([f["part"] for f in d["faults"] if f["code"] == "SYS-003"] == [None], "the signed report's SYS-003 part")
    ok_doc(c("report", "verify", worn_id), "report verify")
    fail_doc(c("report", "verify", "00000000-0000-4000-8000-000000000000"), "verify of an unknown id", 1)
    tampered = os.path.join(work, "tampered.jws.json")
    with open(os.path.join(c.state, "reports", worn_id + ".jws.json")) as f:
        j = json.load(f)
    j["signature"] = ("A" if j["signature"][0] != "A" else "B") + j["signature"][1:]
    with open(tampered, "w") as f:
        json.dump(j, f)
    fail_doc(c("report", "verify", tampered), "verify of a bad signature", 6, "invalid_report")
    d = fail_doc(c("report", "show", tampered), "show of a bad signature", 6, "invalid_report")
    check(d.get("report", {}).get("report_id") == worn_id, "show of a bad signature keeps the payload beside")
    out = os.path.join(work, "page.html")
    d = ok_doc(c("report", "show", worn_id, "--format", "html", "--out", out), "report show --out")
    check(d["out"] == out and os.path.getsize(out) > 1000, "report show --out: %s" % d)
    return worn_id


def device_commands(work, c, emu, worn_udid, worn_serial, locked_udid):
    d = ok_doc(c("devices"), "devices")
    by = {x["udid"]: x for x in d if "udid" in x}
    check(set(by) >= {worn_udid, locked_udid}, "devices lists %s" % sorted(by))
    check(by[worn_udid].get("serial") == worn_serial and by[worn_udid]["mode"] == "normal",
          "devices --json gives the usbmux device's serial (README): %s" % by[worn_udid])
    r = c("snapshot", "--udid", worn_udid, "--syslog-seconds", "0")
    d = ok_doc(r, "snapshot to stdout")
    check(d["schema"] == "benchd.snapshot/1" and d["device"]["udid"] == worn_udid, "snapshot: %s" % d.get("device"))
    snap = os.path.join(work, "worn-snap.json")
    d = ok_doc(c("snapshot", "--udid", worn_udid, "--syslog-seconds", "0", "--out", snap), "snapshot --out")
    check(d == {"ok": True, "out": snap, "device_state": "ok", "device_mode": "normal"}, "snapshot --out: %s" % d)
    d = fail_doc(c("snapshot", "--udid", locked_udid, "--syslog-seconds", "0", "--out",
                   os.path.join(work, "locked-snap.json")), "snapshot --out of a locked phone", 4, "device_locked")
    check(d.get("device_state") == "locked" and os.path.exists(os.path.join(work, "locked-snap.json")),
          "the locked phone's snapshot is still written and says so: %s" % d)
    fail_doc(c("snapshot", "--udid", "00008030-0000000000000000", "--syslog-seconds", "0"),
             "snapshot of no such device", 3, "no_device")
    d = ok_doc(c("run", "--udid", locked_udid, "--syslog-seconds", "0"), "run --udid of a locked phone")
    check(d["device_state"] == "locked" and d["outcome"] == "incomplete" and
          [f["code"] for f in d["faults"]] == ["SYS-003"], "run --udid of a locked phone: %s" % d)
    fail_doc(c("run", "--udid", "00008030-0000000000000000", "--syslog-seconds", "0"), "run --udid of no device",
             3, "no_device")


DAEMON_COMMANDS = [("status",), ("sessions",), ("outbox",), ("outbox", "retry", "--held"), ("upload", "check"),
                   ("watch",), ("history", "F2LZK0ABN72J"), ("report", "list"), ("booking", "list"),
                   ("booking", "add", "--serial", "F2LZK0ABN72J", "--ticket", "T-9"), ("booking", "remove", "1"),
                   ("answer", "F2LZK0ABN72J", "k=v"), ("link", "F2LZK0ABN72J", "T-1"), ("finish", "F2LZK0ABN72J")]


def daemon_commands(work, c, rx, b, tg0b_serial, worn_serial):
    d = ok_doc(c("status", daemon=True), "status")
    check(RFC3339.match(d["started_at"]) and isinstance(d["uptime_s"], int), "status times: %s" % d)
    d = ok_doc(c("sessions", daemon=True), "sessions")
    done = [s for s in d["recent"] if s["state"] == "done"]
    check(len(done) >= 2, "two sessions done: %s" % d["recent"])
    for s in done:
        check(s["outcome"] in ("pass", "fail", "incomplete") and isinstance(s["faults"], list),
              "a recent session gives outcome and faults as fields: %s" % s)
    for s in d["live"]:
        if s["state"] == "finished":
            check(s["outcome"] and isinstance(s["fault_count"], int), "a live session's fields: %s" % s)
    d = ok_doc(c("outbox", daemon=True), "outbox")
    ok_doc(c("history", worn_serial, daemon=True), "history")
    d = ok_doc(c("report", "list", daemon=True), "report list")
    check(len(d["reports"]) >= 2, "report list: %s" % d)
    ok_doc(c("report", "list", "--since", "2020-01-01", "--limit", "5", daemon=True), "report list --since")
    d = ok_doc(c("booking", "add", "--serial", "C39NOTHERE01", "--ticket", "T-77", "--note", "screen", daemon=True),
               "booking add")
    bid = d["booking"]["id"]
    fail_doc(c("booking", "add", "--serial", "C39NOTHERE01", "--ticket", "T-78", daemon=True),
             "booking the same serial twice", 1)
    ok_doc(c("booking", "list", daemon=True), "booking list")
    ok_doc(c("booking", "remove", str(bid), daemon=True), "booking remove")
    fail_doc(c("booking", "remove", str(bid), daemon=True), "booking remove of a removed booking", 2, "not_found")
    # The bench workflow: a refused answer, an answer, a ticket, finish.
    fail_doc(c("answer", tg0b_serial, "tg0b_new_batery=yes", daemon=True), "answer with an unknown key", 2,
             "bad_request")
    fail_doc(c("answer", "F2LNOSUCHONE", "tg0b_new_battery=yes", daemon=True), "answer for no case", 2)
    d = ok_doc(c("answer", tg0b_serial, "tg0b_new_battery=no", daemon=True), "answer")
    check(d["revision"] == 2 and d["outcome"] in ("fail", "pass"), "answer: %s" % d)
    d = ok_doc(c("link", tg0b_serial, "T-4711", daemon=True), "link")
    check(d["revision"] == 3, "link: %s" % d)
    ok_doc(c("finish", worn_serial, daemon=True), "finish")
    fail_doc(c("link", tg0b_serial, "bad\tticket", daemon=True), "link with a bad ticket", 2)
    fail_doc(c("outbox", "retry", "nosuchid", daemon=True), "outbox retry of no such report", 2, "not_found")
    wait_for("the uploads", lambda: json.loads(c("outbox", daemon=True).stdout)["counts"]["pending"] == 0, 30)
    d = ok_doc(c("outbox", daemon=True), "outbox after the uploads")
    check(d["items"] and all(i["state"] == "delivered" for i in d["items"]), "delivered: %s" % d["items"])
    ok_doc(c("upload", "check", daemon=True), "upload check")
    # watch: a stream, one event per line, until interrupted.
    argv = [os.path.join(tb.A.bin, "benchctl"), "--state-dir", c.state, "--json", "watch", "--socket", c.sock]
    w = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    ok_doc(c("link", worn_serial, "T-5000", daemon=True), "link while watching")
    time.sleep(1.0)
    w.send_signal(signal.SIGINT)
    out, err = w.communicate(timeout=10)
    ev = docs(out, "watch", stream=True)
    types = [e.get("type") for e in ev]
    check("report.signed" in types, "watch --json saw no report.signed: %s" % types)
    check(all(RFC3339.match(e["at"]) and isinstance(e["seq"], int) for e in ev), "events' at and seq: %s" % ev[:3])


def t_json(work):
    tb.devices_ready()
    state = os.path.join(work, "state")
    c = Ctl(state)

    # No benchd: every daemon command is exit 7 and one line.
    c.sock = os.path.join(work, "nobody.sock")
    for args in DAEMON_COMMANDS:
        fail_doc(c(*args, daemon=True), "benchctl %s without benchd" % " ".join(args), 7, "not_running")
        fail_doc(c(*args), "benchctl %s without benchd (the default socket)" % " ".join(args), 7, "not_running")

    local_commands(work, c)

    # Devices: a worn iPhone 11, a locked 13, an 11 Pro with a question.
    worn_udid, worn_serial, worn_dir = tc.worn_profile(work)
    tg0b_udid, tg0b_serial, tg0b_dir = tc.tg0b_profile(work)
    locked_dir = tc.profile(work, "locked", "locked-13", "00008110-00AB12CD34EF0033", "MQ9WTEST0033")
    emu = tc.Emu(work, [worn_dir, locked_dir])
    device_commands(work, c, emu, worn_udid, worn_serial, "00008110-00AB12CD34EF0033")
    emu.detach("00008110-00AB12CD34EF0033")

    # benchd over them, uploading to the receiver.
    rx = tb.Receiver(work)
    b = tc.bench(work, rx)
    c2 = Ctl(b.state, b.sock)
    b.start()
    emu.attach(tg0b_dir)
    wait_for("two reports", lambda: json.loads(c2("status", daemon=True).stdout)["reports"] >= 2, 60)
    daemon_commands(work, c2, rx, b, tg0b_serial, worn_serial)
    b.stop()
    emu.stop()
    rx.stop()
    log("checked %d outputs, %d failures, %d times" % (CHECKED["outputs"], CHECKED["failures"], CHECKED["times"]))


# ---------------------------------------------------------------------------------------------
# usage

USAGE = [
    # (argv, the command whose --help it names)
    (["--bogus"], None), ([], None), (["nosuchcommand"], None), (["--state-dir"], None),
    (["--lang", "de", "status"], None),
    (["devices", "--bogus"], "devices"), (["devices", "extra"], "devices"),
    (["snapshot"], "snapshot"), (["snapshot", "--udid"], "snapshot"), (["snapshot", "--bogus"], "snapshot"),
    (["snapshot", "--udid", "x", "--probe", "nope"], "snapshot"),
    (["run"], "run"), (["run", "--bogus"], "run"), (["run", "--udid"], "run"),
    (["run", "--snapshot", "a", "--udid", "b"], "run"), (["run", "--no-key-init=1", "--udid", "x"], "run"),
    (["run", "--answer", "novalue", "--udid", "x"], "run"), (["run", "--syslog-seconds", "9999", "--udid", "x"], "run"),
    (["report"], "report"), (["report", "frob"], "report"), (["report", "show"], "report"),
    (["report", "show", "a", "b"], "report"), (["report", "show", "f", "--format", "pdf"], "report"),
    (["report", "show", "f", "--view", "boss"], "report"), (["report", "verify", "f", "--format", "html"], "report"),
    (["report", "verify", "f", "--key"], "report"), (["report", "list", "--bogus"], "report"),
    (["report", "list", "--limit", "0"], "report"), (["report", "list", "extra"], "report"),
    (["key"], "key"), (["key", "frob"], "key"), (["key", "init", "--bogus"], "key"), (["key", "init", "x"], "key"),
    (["key", "export", "x"], "key"),
    (["trees"], "trees"), (["trees", "frob"], "trees"), (["trees", "list", "--bogus"], "trees"),
    (["trees", "run"], "trees"), (["trees", "list", "--trace"], "trees"), (["trees", "check", "--trees-dir"], "trees"),
    (["status", "--bogus"], "status"), (["status", "extra"], "status"), (["sessions", "--limit", "x"], "sessions"),
    (["outbox", "frob"], "outbox"), (["outbox", "retry"], "outbox"), (["outbox", "retry", "a", "b"], "outbox"),
    (["outbox", "--bogus"], "outbox"),
    (["upload"], "upload"), (["upload", "frob"], "upload"), (["upload", "check", "--bogus"], "upload"),
    (["watch", "extra"], "watch"), (["watch", "--bogus"], "watch"),
    (["answer"], "answer"), (["answer", "D"], "answer"), (["answer", "D", "novalue"], "answer"),
    (["answer", "D", "k=v", "--bogus"], "answer"),
    (["link", "D"], "link"), (["link", "D", "T", "X"], "link"), (["finish"], "finish"), (["finish", "D", "E"], "finish"),
    (["history"], "history"), (["history", "--device", "x"], "history"),
    (["booking"], "booking"), (["booking", "frob"], "booking"), (["booking", "add", "--ticket", "T"], "booking"),
    (["booking", "add", "--serial", "S"], "booking"), (["booking", "add", "--serial", "S", "--ticket", "T", "x"], "booking"),
    (["booking", "list", "x"], "booking"), (["booking", "remove"], "booking"), (["booking", "remove", "x"], "booking"),
    (["booking", "remove", "1", "--bogus"], "booking"),
]


def t_usage(work):
    exe = os.path.join(tb.A.bin, "benchctl")
    state = os.path.join(work, "state")
    for n, (argv, cmd) in enumerate(USAGE):
        what = "benchctl " + " ".join(argv)
        # Every one with --json (the line on stderr and the JSON on stdout); a few without, for
        # an empty stdout (each run of an ASan build costs a few tenths of a second).
        for js in ((False, True) if n % 8 == 0 else (True,)):
            r = subprocess.run([exe, "--state-dir", state] + (["--json"] if js else []) + argv,
                               capture_output=True, text=True, timeout=30)
            check(r.returncode == 2, "%s: exit %d, want 2 (%r)" % (what, r.returncode, r.stderr))
            lines = r.stderr.splitlines()
            check(len(lines) == 1, "%s: %d lines on stderr, want one:\n%s" % (what, len(lines), r.stderr))
            line = lines[0]
            helped = "see benchctl %s--help" % (cmd + " " if cmd else "")
            check(line.startswith("benchctl: ") and line.endswith(": " + helped),
                  "%s: %r does not end with ': %s'" % (what, line, helped))
            check("usage:" not in line and len(line) < 200, "%s: not one short line: %r" % (what, line))
            if js:
                fail_doc(r, what + " --json", 2, "bad_request")
            else:
                check(r.stdout == "", "%s: stdout %r" % (what, r.stdout[:200]))
    # --help is still the whole usage, on stdout, exit 0.
    for argv in (["--help"], ["run", "--help"], ["report", "--help"], ["booking", "--help"], ["trees", "--help"]):
        r = subprocess.run([exe] + argv, capture_output=True, text=True, timeout=30)
        check(r.returncode == 0 and r.stdout.startswith("usage: ") and r.stderr == "",
              "benchctl %s: %d %r" % (" ".join(argv), r.returncode, r.stderr))
    # benchd's own options.
    benchd = os.path.join(tb.A.bin, "benchd")
    for argv, want in ((["--bogus"], "benchd: unknown option '--bogus': see benchd --help"),
                       (["--config"], "benchd: --config needs a value: see benchd --help"),
                       (["-c"], "benchd: -c needs a value: see benchd --help"),
                       (["-x"], "benchd: unknown option '-x': see benchd --help"),
                       (["extra"], "benchd: unexpected argument 'extra': see benchd --help"),
                       (["--check-config=yes"], "benchd: --check-config takes no value: see benchd --help")):
        r = subprocess.run([benchd] + argv, capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and r.stderr == want + "\n" and r.stdout == "",
              "benchd %s: %d %r, want %r" % (" ".join(argv), r.returncode, r.stderr, want))
    r = subprocess.run([benchd, "--help"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and r.stdout.startswith("usage: benchd"), "benchd --help")
    log("%d bad command lines, each one line naming its --help" % (len(USAGE) + 6))


def t_demo(work):
    """What scripts/demo --keep-running tells a new user to type works as printed. The demo runs
    on this build (--bin, the bench page on a free port); every command line of its hint is run
    as printed, by the shell: status, history of the named serial, benchctl devices on the demo's
    usbmuxd socket, and scripts/emu-ctl list, detach and attach, with benchctl watch seeing the
    phone go and come back. SIGTERM (as Ctrl-C) then stops everything the demo started."""
    tb.devices_ready()
    out = os.path.join(work, "demo.log")
    env = dict(os.environ, TMPDIR=work)
    env.pop("USBMUXD_SOCKET_ADDRESS", None)
    demo = tb.Proc([os.path.join(TOP, "scripts", "demo"), "--keep-running", "--bin", tb.A.bin,
                    "--web", "127.0.0.1:0"], out, env=env)
    wait_for("the demo's hint", lambda: " attach " in demo.text() or not demo.alive(), 180, 0.2)
    check(demo.alive(), "the demo stopped before its hint: %s" % demo.text()[-2000:])
    text = demo.text()
    # benchctl sessions as the demo prints it: every row's columns under their heading, even for
    # the longest model name ("iPhone SE (2nd generation)").
    table = text[text.index("attached now:"):text.index("recent sessions:")].splitlines()[1:]
    col = table[0].index(" MODE ") + 1
    check(any("(2nd generation)" in r for r in table) and
          all(r[col - 1] == " " and r[col:].split()[0] in ("normal", "recovery", "dfu") for r in table[1:]),
          "benchctl sessions' columns do not line up:\n" + "\n".join(table))
    hint = text[text.index("Try, in another terminal:"):]
    lines = [ln.strip() for ln in hint.splitlines() if ln.startswith("    ")]
    log("the hint's command lines:\n  " + "\n  ".join(lines))

    def line(word):
        found = [ln for ln in lines if re.search(r"(^|\s)%s(\s|$)" % word, ln)]
        check(len(found) == 1, "the hint has no single command line with %r: %r" % (word, lines))
        return found[0]

    def sh(cmdline):
        # As a user pastes it: a shell in another terminal, without the demo's environment.
        r = subprocess.run(["bash", "-c", cmdline], capture_output=True, text=True, timeout=60, cwd=work,
                           env={k: v for k, v in os.environ.items() if k != "USBMUXD_SOCKET_ADDRESS"})
        return r

    r = sh(line("status"))
    check(r.returncode == 0 and "running" in r.stdout, "the hint's status: %d %r %r" % (r.returncode, r.stdout, r.stderr))
    r = sh(line("history"))
    check(r.returncode == 0 and "SERIAL" not in line("history") and "1 report" in r.stdout,
          "the hint's history names a serial with its report: %d %r %r" % (r.returncode, r.stdout, r.stderr))
    devices = line("devices")
    check("USBMUXD_SOCKET_ADDRESS=UNIX:" in devices, "the hint's devices line sets USBMUXD_SOCKET_ADDRESS: " + devices)
    r = sh(devices)
    listed = [ln.split()[0] for ln in r.stdout.splitlines()[1:] if ln.strip()]
    check(r.returncode == 0 and len(listed) == len(tc_profiles()), "the hint's devices: %d %r %r" % (r.returncode, r.stdout, r.stderr))
    r = sh(line("list"))
    check(r.returncode == 0 and r.stdout.startswith("ok %d " % len(listed)), "the hint's emu-ctl list: %r %r" % (r.stdout, r.stderr))
    detach = line("detach")
    udid = detach.split()[-1]
    check(udid in listed, "the hint's detach names a listed phone: " + detach)
    watch = tb.Proc(["bash", "-c", line("watch")], os.path.join(work, "watch.log"))
    wait_for("benchctl watch", lambda: os.path.getsize(watch.logpath) > 0 or not watch.alive(), 20)
    time.sleep(0.5)
    r = sh(detach)
    check(r.returncode == 0 and r.stdout == "ok\n", "the hint's detach: %d %r %r" % (r.returncode, r.stdout, r.stderr))
    wait_for("the phone gone from benchctl devices", lambda: udid not in sh(devices).stdout, 20, 0.3)
    r = sh(line("attach"))
    check(r.returncode == 0 and r.stdout.startswith("ok " + udid), "the hint's attach: %r %r" % (r.stdout, r.stderr))
    wait_for("the phone back in benchctl devices", lambda: udid in sh(devices).stdout, 20, 0.3)
    wait_for("benchctl watch sees it go and come back",
             lambda: watch.text().count(udid) >= 2, 30, 0.3)
    watch.stop(signal.SIGINT)
    log("benchctl watch while the phone was unplugged and plugged:\n" + watch.text()[-800:])

    # scripts/emu-ctl's own failures: one line that says what to do.
    ctl = os.path.join(TOP, "scripts", "emu-ctl")
    r = subprocess.run([ctl], capture_output=True, text=True)
    check(r.returncode == 2 and "see scripts/emu-ctl --help" in r.stderr, "emu-ctl with nothing: %r" % r.stderr)
    r = subprocess.run([ctl, os.path.join(work, "nobody.sock"), "list"], capture_output=True, text=True)
    check(r.returncode == 1 and "no emulator answers" in r.stderr, "emu-ctl to no emulator: %r" % r.stderr)
    r = sh(detach.replace(udid, "NOSUCHUDID"))
    check(r.returncode == 1 and r.stdout.startswith("error "), "emu-ctl detach of an unknown phone: %r" % r.stdout)

    # Ctrl-C (the demo traps INT and TERM alike; TERM here, as INT may be ignored in a
    # background job): the demo stops benchd, the receiver and the emulator.
    pgid = demo.p.pid
    rc = demo.stop(signal.SIGTERM, 30)
    check(rc == 130 and "demo: interrupted" in demo.text(), "the demo on Ctrl-C: %d %r" % (rc, demo.text()[-300:]))

    def group_gone():
        try:
            os.killpg(pgid, 0)
            return False
        except ProcessLookupError:
            return True
    wait_for("everything the demo started to stop", group_gone, 15)


def tc_profiles():
    return [d for d in os.listdir(tb.PROFILES) if os.path.exists(os.path.join(tb.PROFILES, d, "device.plist"))]


TESTS = {"json": t_json, "usage": t_usage, "demo": t_demo}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True, help="the build's bin/ directory")
    p.add_argument("--work", default="", help="keep the work directory here")
    p.add_argument("test", choices=sorted(TESTS))
    tb.A = p.parse_args()
    tb.A.bin = os.path.abspath(tb.A.bin)
    work = tb.A.work or tempfile.mkdtemp(prefix="benchd-cli-")
    os.makedirs(work, exist_ok=True)
    ok = False
    try:
        TESTS[tb.A.test](work)
        ok = True
        print("PASS: %s" % tb.A.test)
        return 0
    except Fail as e:
        print("FAIL: %s: %s" % (tb.A.test, e))
        for name in sorted(os.listdir(work)):
            if name.endswith(".log"):
                with open(os.path.join(work, name), errors="replace") as f:
                    print("---- %s\n%s" % (name, f.read()[-4000:]))
        return 1
    finally:
        tb.kill_started()
        if ok and not tb.A.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
