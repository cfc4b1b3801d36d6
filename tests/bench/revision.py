#!/usr/bin/env python3
"""Revision latency and session time (DESIGN.md 5, 4.8): prints a table, then one JSON line.

  tests/bench/revision.py --bin BUILD/bin [--runs N] [--sessions N] [--syslog S] [--smoke] [--hold]

(1) answer: an emulated iPhone 11 Pro whose panic asks tg0b_new_battery is plugged into benchd
    (with a local case receiver as its upload target, so every final revision also has its
    upload body built and queued, as on a real bench). Then N answers, alternating yes / no so
    each one makes a new revision: the trees rerun over the stored snapshot, a report is signed
    and written with its snapshot, committed with its outbox row. Timed two ways: the control
    request alone ({"cmd":"answer"} on the socket, what the bench page waits for) and the whole
    `benchctl answer` process.
(2) link: N tickets linked to the same case (each a new revision: a signed copy carrying it).
(3) session: a copy of tests/profiles/worn-battery-11 (every probe: crash reports, syslog)
    detached and attached again N times with benchd's syslog_seconds S (default 5, benchd's own
    default): the time from the attach command to the report.signed event of benchd's event bus.

--smoke: 3 runs, 1 session with a 1 s capture: checks the instruments (every revision must
supersede the one before it over the same snapshot), says nothing about speed. Use a Release
build for figures. --hold: once measured, leave benchd, the emulator and the receiver up and
print how to reach them, until Ctrl-C (to time the commands with another tool).
Exit 0 when every phase completed, 1 otherwise (with the reason on stderr).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "agent"))
import test_benchd as tb  # noqa: E402
import test_cases as tc  # noqa: E402

A = None


def say(msg):
    print("revision: " + msg, file=sys.stderr, flush=True)


class Control:
    """A connection to benchd's control socket: one JSON line out, one back."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rwb")

    def ask(self, req):
        self.f.write(json.dumps(req).encode() + b"\n")
        self.f.flush()
        return json.loads(self.f.readline())

    def close(self):
        self.s.close()


class Events:
    """A subscriber on benchd's event bus (the control socket's subscribe request)."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rwb")
        self.f.write(b'{"cmd":"subscribe"}\n')
        self.f.flush()
        if not json.loads(self.f.readline()).get("ok"):
            raise tb.Fail("benchd refused the subscription")

    def until(self, pred, timeout=60):
        self.s.settimeout(timeout)
        while True:
            line = self.f.readline()
            if not line:
                raise tb.Fail("benchd closed the event stream")
            e = json.loads(line)
            if pred(e):
                return e, time.perf_counter()


def stats(xs):
    xs = sorted(xs)
    return {"n": len(xs), "median_s": round(statistics.median(xs), 4), "min_s": round(xs[0], 4),
            "max_s": round(xs[-1], 4)}


def main():
    global A
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", required=True)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--sessions", type=int, default=5)
    p.add_argument("--syslog", type=int, default=5)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--hold", action="store_true")
    A = p.parse_args()
    if A.smoke:
        A.runs, A.sessions, A.syslog = 3, 1, 1
    tb.A = argparse.Namespace(bin=os.path.abspath(A.bin), work="")
    work = tempfile.mkdtemp(prefix="benchd-revision-")
    procs = []
    try:
        return measure(work, procs)
    except tb.Fail as e:
        say("FAILED: %s (logs in %s)" % (e, work))
        return 1
    finally:
        for pr in tc.STARTED:
            proc = getattr(pr, "p", pr)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if not A.hold:
            shutil.rmtree(work, ignore_errors=True)


def measure(work, procs):
    udid, serial, tdir = tc.tg0b_profile(work)
    wudid, wserial, wdir = tc.worn_profile(work)
    emu = tc.detached_emu(work, [(udid, serial, tdir), (wudid, wserial, wdir)])
    rx = tb.Receiver(work)
    b = tc.bench(work, rx)
    with open(b.conf) as f:
        conf = f.read().replace("syslog_seconds = 0", "syslog_seconds = %d" % A.syslog)
    with open(b.conf, "w") as f:
        f.write(conf)
    b.start()
    ev = Events(b.sock)
    ctl = Control(b.sock)
    benchctl = os.path.join(tb.A.bin, "benchctl")

    # (1) and (2): revisions of one case.
    emu.attach(tdir)
    first, _ = ev.until(lambda e: e["type"] == "report.signed" and e.get("device") == udid)
    if first["final"]:
        raise tb.Fail("the TG0B phone's first report asks nothing: %s" % first)
    prev, sha = first["report_id"], tc.payload(b, first["report_id"])["snapshot_sha256"]
    answer_socket, answer_proc, link_socket, link_proc = [], [], [], []
    values = ["yes", "no"]  # each answer differs from the one before it: always a new revision

    def check_revision(a, what):
        nonlocal prev
        if not a.get("ok") or a.get("unchanged") or a.get("supersedes", prev) != prev:
            raise tb.Fail("%s made no new revision: %s" % (what, a))
        p = tc.payload(b, a["report_id"])
        if p["case"]["supersedes"] != prev or p["snapshot_sha256"] != sha:
            raise tb.Fail("%s: revision %s does not supersede %s over the same snapshot" % (what, a, prev))
        prev = a["report_id"]

    for i in range(A.runs):
        t = time.perf_counter()
        a = ctl.ask({"cmd": "answer", "device": serial, "answers": {"tg0b_new_battery": values[0]}})
        answer_socket.append(time.perf_counter() - t)
        check_revision(a, "answer over the socket")
        t = time.perf_counter()
        r = subprocess.run([benchctl, "--state-dir", b.state, "--json", "answer", serial,
                            "tg0b_new_battery=" + values[1], "--socket", b.sock], capture_output=True,
                           text=True)
        answer_proc.append(time.perf_counter() - t)
        if r.returncode != 0:
            raise tb.Fail("benchctl answer: %s" % r.stderr)
        check_revision(json.loads(r.stdout), "benchctl answer")
    for i in range(A.runs):
        t = time.perf_counter()
        a = ctl.ask({"cmd": "link", "device": serial, "ticket": "T-S%d" % i})
        link_socket.append(time.perf_counter() - t)
        check_revision(a, "link over the socket")
        t = time.perf_counter()
        r = subprocess.run([benchctl, "--state-dir", b.state, "--json", "link", serial, "T-P%d" % i, "--socket",
                            b.sock], capture_output=True, text=True)
        link_proc.append(time.perf_counter() - t)
        if r.returncode != 0:
            raise tb.Fail("benchctl link: %s" % r.stderr)
        check_revision(json.loads(r.stdout), "benchctl link")

    # (3) a whole session with the capture.
    sessions = []
    for i in range(A.sessions):
        t = time.perf_counter()
        emu.attach(wdir)
        e, t1 = ev.until(lambda e: e["type"] == "report.signed" and e.get("device") == wudid, 60 + A.syslog)
        sessions.append(t1 - t)
        ev.until(lambda e: e["type"] == "session.ended" and e.get("device") == wudid)
        emu.detach(wudid)
        ev.until(lambda e: e["type"] == "device.detached" and e.get("device") == wudid)

    out = {"answer_socket": stats(answer_socket), "answer_benchctl": stats(answer_proc),
           "link_socket": stats(link_socket), "link_benchctl": stats(link_proc),
           "session": dict(stats(sessions), syslog_seconds=A.syslog)}
    print("%-34s %8s %8s %8s %4s" % ("measure", "median", "min", "max", "n"))
    for k, label in (("answer_socket", "answer (control request)"), ("answer_benchctl", "answer (benchctl process)"),
                     ("link_socket", "link (control request)"), ("link_benchctl", "link (benchctl process)"),
                     ("session", "session, %d s capture" % A.syslog)):
        s = out[k]
        print("%-34s %7.3fs %7.3fs %7.3fs %4d" % (label, s["median_s"], s["min_s"], s["max_s"], s["n"]))
    print(json.dumps(out), flush=True)
    if A.hold:
        print("holding: state %s, socket %s, device %s (answer toggles tg0b_new_battery); Ctrl-C or SIGTERM stops"
              % (b.state, b.sock, serial), flush=True)
        def stop(sig, frame):
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, stop)  # a background job ignores SIGINT: SIGTERM stops it too
        signal.signal(signal.SIGINT, stop)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    ctl.close()
    b.stop()
    emu.stop()
    rx.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
