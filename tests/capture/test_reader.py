#!/usr/bin/env python3
"""The reader process (issue 11, agent/capture/reader.h) against idevice-emu.

  test_reader.py --bin DIR CASE [--keep]

  events    what a caller of capture_device sees, in order: steps with done/total for the crash
            copy, the battery reading before the syslog capture and the crash reports (within
            about a second of the start), the crashes reading with the panic count; the syslog
            is captured beside the crash copy, so a 3 s capture ends the read in about 3 s
  sandbox   a reader held by a phone that trickles its lockdown replies, seen from /proc:
            no_new_privs, a seccomp filter, its limits (stack, CPU, files, core, address space
            outside sanitizer builds), nothing open but its five descriptors and its sockets,
            a process group of its own; it dies with its parent
  seccomp   a reader that tries what reading a phone never needs (execve, kill of its parent,
            a raw packet socket; fork and ptrace outside sanitizer builds) dies of SIGSYS, and
            benchctl names the refused call in its one-line reason
  deadline  capture_device with deadline 4 s on a phone that trickles: the reader is killed,
            the reason names the stage, nothing is left running
  crash     the libimobiledevice 1.3.0 AFC heap overflow (Behaviour AfcReadOverflow) crashes
            the reader, not benchctl: exit 1, "the phone sent data that crashed the reader: ...
            while reading crash reports"
Exit 0 pass, 1 fail.
"""

import argparse
import json
import os
import plistlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROFILES = os.path.join(os.path.dirname(HERE), "profiles")
A = None


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def log(msg):
    print("reader: " + msg, flush=True)


def wait_for(what, fn, timeout, step=0.05):
    end = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            raise Fail("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(step)


def profile(work, base, behaviour=None):
    dst = os.path.join(work, "p-" + base)
    shutil.copytree(os.path.join(PROFILES, base), dst)
    pl = os.path.join(dst, "device.plist")
    with open(pl, "rb") as f:
        d = plistlib.load(f)
    if behaviour:
        d.setdefault("Behaviour", {}).update(behaviour)
    with open(pl, "wb") as f:
        plistlib.dump(d, f)
    return d["Lockdown"]["Root"]["UniqueDeviceID"], dst


class Emu:
    def __init__(self, work, dirs):
        self.sock = os.path.join(work, "mux.sock")
        self.logf = open(os.path.join(work, "emu.log"), "wb")
        self.p = subprocess.Popen([os.path.join(A.bin, "idevice-emu"), "--socket", self.sock] + dirs,
                                  stdout=self.logf, stderr=self.logf)
        wait_for("the emulator's socket", lambda: os.path.exists(self.sock), 30)

    def env(self, **extra):
        e = dict(os.environ)
        e["USBMUXD_SOCKET_ADDRESS"] = "UNIX:" + self.sock
        e.update(extra)
        return e

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(30)
        self.logf.close()


def sanitizer_build():
    """ASan builds link libasan: their reader has no address-space limit and a wider filter."""
    r = subprocess.run(["ldd", os.path.join(A.bin, "benchd-reader")], capture_output=True, text=True)
    return "libasan" in r.stdout


def readers_of(parent):
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                st = f.read()
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        if ppid == parent and cmd and cmd[0].endswith(b"benchd-reader"):
            out.append(int(pid))
    return out


def capture_events(emu, udid, syslog_s, deadline_s, out=None, env=None):
    argv = [os.path.join(A.bin, "capture_events"), udid, str(syslog_s), str(deadline_s)] + ([out] if out else [])
    return subprocess.Popen(argv, env=env or emu.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def parse(stdout):
    events, progress, result = [], [], None
    for line in stdout.splitlines():
        kind, _, rest = line.partition(" ")
        ms, _, text = rest.partition(" ")
        if kind == "event":
            events.append((int(ms), json.loads(text)))
        elif kind == "progress":
            progress.append((int(ms), text))
        elif kind == "result":
            r, derr, nbytes, took, why = (line.split(" ", 5)[1:] + [""])[:5]
            result = {"r": int(r), "device_err": int(derr), "bytes": int(nbytes), "ms": int(took), "why": why}
    return events, progress, result


# ---------------------------------------------------------------------------------------------


def t_events(work):
    udid, pdir = profile(work, "thermal-loop-12", {"LatencyMs": 2})
    emu = Emu(work, [pdir])
    snap_path = os.path.join(work, "snap.json")
    p = capture_events(emu, udid, 3, 60, snap_path)
    so, se = p.communicate(timeout=60)
    emu.stop()
    events, progress, res = parse(so)
    check(res and res["r"] == 0, "capture failed: %s\n%s" % (res, se))
    with open(snap_path) as f:
        snap = json.load(f)
    kinds = [(e.get("type"), e.get("name") or e.get("step")) for _, e in events]
    log("events: %s" % kinds)

    def first(pred):
        for i, (ms, e) in enumerate(events):
            if pred(e):
                return i, ms
        raise Fail("no such event in %s" % kinds)

    ib, tb = first(lambda e: e["type"] == "reading" and e["name"] == "battery")
    isl, tsl = first(lambda e: e["type"] == "step" and e["step"].startswith("capturing the device log"))
    icr, _ = first(lambda e: e["type"] == "step" and e["step"] == "reading crash reports")
    ic, _ = first(lambda e: e["type"] == "reading" and e["name"] == "crashes")
    check(ib < isl and ib < icr, "the battery reading came after the syslog or crash steps: %s" % kinds)
    check(tb < 1500, "the battery reading came %d ms after the start (want within about a second)" % tb)
    check(events[ib][1]["value"] == snap["battery"], "the battery reading is not the snapshot's battery")
    steps = [e for _, e in events if e["type"] == "step" and e["step"] == "reading crash reports"]
    check(steps and all(e.get("total") == len(snap["crashes"]) and 1 <= e["done"] <= e["total"] for e in steps),
          "crash steps without done/total: %s" % steps)
    panics = sum(1 for c in snap["crashes"] if c.get("bug_type") == "210")
    check(events[ic][1]["value"] == {"panics": panics, "reports": len(snap["crashes"])},
          "crashes reading %s, want %d panics of %d" % (events[ic][1]["value"], panics, len(snap["crashes"])))
    check(panics > 0, "the reboot-loop phone's panics were not counted")
    # progress text is the same steps, with n/m
    check(any(t.startswith("reading crash reports ") and "/" in t for _, t in progress), "progress text %s" % progress)
    # the syslog is captured beside the crash copy: the read ends about 3 s after the start
    check(res["ms"] < 3000 + 2500, "the read took %d ms with a 3 s syslog capture (copy not overlapped?)" % res["ms"])
    check(len(snap["syslog"]["log"]) > 0 and not snap["errors"], "syslog %s, errors %s" %
          (len(snap["syslog"]["log"]), snap["errors"]))
    log("battery reading at %d ms, read done at %d ms" % (tb, res["ms"]))


def t_sandbox(work):
    udid, pdir = profile(work, "worn-battery-11", {"Trickle": "lockdown"})
    emu = Emu(work, [pdir])
    p = capture_events(emu, udid, 0, 60)
    try:
        pids = wait_for("the reader", lambda: readers_of(p.pid), 20)
        rp = pids[0]
        wait_for("the sandbox", lambda: "Seccomp:\t2" in open("/proc/%d/status" % rp).read(), 10)
        status = open("/proc/%d/status" % rp).read()
        check("NoNewPrivs:\t1" in status, "no_new_privs not set:\n" + status)
        limits = {}
        for line in open("/proc/%d/limits" % rp).read().splitlines()[1:]:
            name, soft = line[:26].strip(), line[26:47].strip()
            limits[name] = soft
        log("limits: %s" % limits)
        check(limits["Max stack size"] == str(8 << 20), "stack limit %s" % limits["Max stack size"])
        check(limits["Max open files"] == "64", "open files limit %s" % limits["Max open files"])
        check(limits["Max core file size"] == "0", "core limit %s" % limits["Max core file size"])
        check(limits["Max cpu time"] == "90", "CPU limit %s (deadline 60 + 30)" % limits["Max cpu time"])
        check(limits["Max file size"] == str(40 << 20), "file size limit %s" % limits["Max file size"])
        if sanitizer_build():
            check(limits["Max address space"] == "unlimited", "a sanitizer build needs its address space")
        else:
            check(limits["Max address space"] == str(1 << 30), "address space %s" % limits["Max address space"])
        fds = {}
        for fd in os.listdir("/proc/%d/fd" % rp):
            fds[int(fd)] = os.readlink("/proc/%d/fd/%s" % (rp, fd))
        log("descriptors: %s" % fds)
        check(fds[0] == "/dev/null" and fds[1] == "/dev/null", "stdin/stdout %s" % fds)
        for fd, what in fds.items():
            check(fd <= 4 or what.startswith("socket:"), "the reader holds %d -> %s" % (fd, what))
        with open("/proc/%d/stat" % rp) as f:
            st = f.read()
        pgrp = int(st[st.rindex(")") + 2:].split()[2])
        check(pgrp == rp, "the reader is not in a process group of its own (%d)" % pgrp)
        # it dies with its parent
        p.kill()
        p.wait()
        wait_for("the reader to die with its parent", lambda: not os.path.exists("/proc/%d/status" % rp) or
                 "State:\tZ" in open("/proc/%d/status" % rp).read(), 10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        emu.stop()


def run_snapshot(emu, udid, env=None, timeout=60, extra=()):
    argv = [os.path.join(A.bin, "benchctl"), "snapshot", "--udid", udid, "--syslog-seconds", "0",
            "--out", os.path.join(os.path.dirname(emu.sock), "s.json")] + list(extra)
    t0 = time.time()
    r = subprocess.run(argv, env=env or emu.env(), capture_output=True, text=True, timeout=timeout)
    return r, time.time() - t0


def reason_of(stderr):
    lines = [l for l in stderr.strip().splitlines() if l.startswith("benchctl: ") and "warning" not in l]
    return lines[-1] if lines else ""


def t_seccomp(work):
    udid, pdir = profile(work, "worn-battery-11")
    emu = Emu(work, [pdir])
    calls = ["execve", "kill-parent", "socket-packet"]
    if not sanitizer_build():  # LeakSanitizer needs ptrace and a non-thread clone at exit
        calls += ["fork", "ptrace"]
    want = {"execve": "execve", "kill-parent": "kill", "socket-packet": "socket", "fork": "clone",
            "ptrace": "ptrace"}
    try:
        for c in calls:
            r, dt = run_snapshot(emu, udid, env=emu.env(BENCHD_READER_TRY_SYSCALL=c))
            why = reason_of(r.stderr)
            log("%s: exit %d: %s" % (c, r.returncode, why))
            check(r.returncode == 1, "%s: benchctl exit %d, want 1:\n%s" % (c, r.returncode, r.stderr))
            check("crashed the reader: SIGSYS (its filter refused the system call %s)" % want[c] in why,
                  "%s: reason %r" % (c, why))
            check("the filter did not stop it" not in r.stderr, "%s went through the filter" % c)
        # and without the hook the same phone reads fine through the same filter
        r, dt = run_snapshot(emu, udid)
        check(r.returncode == 0, "a plain read failed: %s" % r.stderr)
    finally:
        emu.stop()


def t_deadline(work):
    udid, pdir = profile(work, "worn-battery-11", {"Trickle": "lockdown"})
    emu = Emu(work, [pdir])
    try:
        p = capture_events(emu, udid, 0, 4)
        so, se = p.communicate(timeout=30)
        _, _, res = parse(so)
        log("result %s" % res)
        check(res and res["r"] == -102, "want CAPTURE_E_DEADLINE (-102): %s %s" % (res, se))
        check(res["ms"] < 4000 + 1500, "the deadline of 4 s ended the read after %d ms" % res["ms"])
        check("did not finish within 4 s: stopped while connecting" in res["why"], "reason %r" % res["why"])
        check(not readers_of(p.pid), "a reader outlived its capture")
        # benchctl's --timeout is the same deadline
        r, dt = run_snapshot(emu, udid, extra=["--timeout", "3"])
        log("benchctl --timeout 3: exit %d in %.1f s: %s" % (r.returncode, dt, reason_of(r.stderr)))
        check(r.returncode == 1 and dt < 3 + 3 and "did not finish within 3 s" in r.stderr,
              "benchctl --timeout 3: exit %d after %.1f s: %s" % (r.returncode, dt, r.stderr))
    finally:
        emu.stop()


def t_crash(work):
    udid, pdir = profile(work, "thermal-loop-12", {"AfcReadOverflow": True})
    emu = Emu(work, [pdir])
    try:
        # Since main's emulator changes merged (2026-12-02) the overflowing reply does not always
        # reach the sanitizer: some reads end with the AFC connection lost instead (contained as
        # well: a snapshot with the crashes probe's error). Under load that happened 4 times in a
        # row once (2026-12-02, 3 tests at once on 2 cores): up to 10 tries for the crash itself.
        for attempt in range(10):
            r, dt = run_snapshot(emu, udid)
            why = reason_of(r.stderr)
            log("try %d: exit %d in %.1f s: %s" % (attempt + 1, r.returncode, dt, why))
            check(r.returncode in (0, 1), "exit %d (benchctl itself must survive):\n%s" % (r.returncode, r.stderr))
            if r.returncode == 1:
                break
            with open(os.path.join(os.path.dirname(emu.sock), "s.json")) as f:
                errs = {e["probe"]: e["reason"] for e in json.load(f)["errors"]}
            check("crashes" in errs, "a snapshot without the crashes probe's error: %s" % errs)
        check(r.returncode == 1, "the overflow never crashed the reader in 10 tries:\n%s" % r.stderr)
        check(why.startswith("benchctl: the phone sent data that crashed the reader: ") and
              "while reading crash reports" in why and why.endswith("unplug it, the bench goes on"),
              "reason %r" % why)
        if sanitizer_build():
            # which report ASan gives depends on how the overflowing bytes arrive (one recv or
            # several): heap-buffer-overflow, or a corrupted chunk found at free
            check(re.search(r"AddressSanitizer (heap-buffer-overflow|attempting [a-z-]+|SEGV)", why),
                  "the reason does not name the sanitizer's report: %r" % why)
        # the report of the overflow came from the reader, and benchctl stayed whole
        check(all(l.startswith("benchctl: ") for l in r.stderr.strip().splitlines()),
              "output that is not benchctl's own lines:\n" + r.stderr[-2000:])
    finally:
        emu.stop()


CASES = {"events": t_events, "sandbox": t_sandbox, "seccomp": t_seccomp, "deadline": t_deadline, "crash": t_crash}


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("case", choices=sorted(CASES))
    A = ap.parse_args()
    A.bin = os.path.abspath(A.bin)
    work = tempfile.mkdtemp(prefix="benchd-reader-")
    ok = False
    try:
        CASES[A.case](work)
        ok = True
        log("%s: PASS" % A.case)
    except Fail as e:
        log("%s: FAIL: %s (work dir %s)" % (A.case, e, work))
    finally:
        if ok and not A.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
