#!/usr/bin/env python3
"""Hostile-device tests (DESIGN.md 5): bad devices through idevice-emu against the real benchctl
and benchd. A bad device must end its session with a clear reason (a one-line error, or a signed
report whose snapshot records the failed probe), never hang, never crash (the test build has
ASan/UBSan: any sanitizer report fails the test), and never disturb other devices.

  hostile.py --bin DIR CASE [--keep]

Single-device cases run `benchctl run --udid` on one emulated device:
  disconnect-handshake    lockdown drops the connection at StartSession
  disconnect-diagnostics  diagnostics_relay drops mid-request
  disconnect-syslog       syslog_relay drops after 3 lines
  disconnect-afc          AFC drops at the first FileRead of a crash report
  latency-400             every lockdown and service reply 400 ms late
  junk-crashes            crash folder of garbage: random bytes, empty, truncated JSON, binary
                          .plist, 12 folders deep, odd names, a 3 MiB run of one byte
  oversized-crash         a 40 MiB .ips (over the 32 MiB per-report cap) and a 6 MiB panic
  many-crashes            1,104 crash reports (over the 1,000-report cap)
  huge-ioreg              AppleSmartBattery with 120 000 properties and a 3 MiB string, nested
                          300 deep, a 1 MiB DeviceName; 4 MiB of syslog with 8 KiB lines
benchd case:
  benchd-mixed            6 healthy devices and 6 hostile ones plugged at once into benchd: every
                          healthy device gets its signed report, benchd answers `benchctl status`
                          throughout and stops cleanly.
Exit 0 pass, 1 fail.
"""

import argparse
import json
import os
import plistlib
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROFILES = os.path.join(os.path.dirname(HERE), "profiles")
A = None
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer")


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def log(msg):
    print("hostile: " + msg, flush=True)


def wait_for(what, fn, timeout, step=0.1):
    end = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            raise Fail("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(step)


# ---------------------------------------------------------------------------------------------
# Profiles


def profile(work, base, i, behaviour=None, edit=None):
    """A copy of bundled profile `base` with a unique UDID, Behaviour merged, edit(dir, dict)."""
    dst = os.path.join(work, "p%02d-%s" % (i, base))
    shutil.copytree(os.path.join(PROFILES, base), dst)
    pl = os.path.join(dst, "device.plist")
    with open(pl, "rb") as f:
        d = plistlib.load(f)
    # the crash files must be served as written (names and sizes are checked): no moved dates
    d.pop("Clock", None)
    root = d["Lockdown"]["Root"]
    udid = "%s%04X" % (root["UniqueDeviceID"][:-4], 0xA000 + i)
    root["UniqueDeviceID"] = udid
    if behaviour:
        d.setdefault("Behaviour", {}).update(behaviour)
    if edit:
        edit(dst, d)
    with open(pl, "wb") as f:
        plistlib.dump(d, f)
    return udid, dst


def junk_crashes(dst, d):
    c = os.path.join(dst, "crashes")
    shutil.rmtree(c, ignore_errors=True)
    os.makedirs(c)
    rnd = random.Random(8)

    def put(name, data):
        p = os.path.join(c, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)

    put("panic-full-2026-11-21-000001.000.ips", bytes(rnd.getrandbits(8) for _ in range(70000)))
    put("panic-full-2026-11-21-000002.000.ips", b"")
    put("panic-full-2026-11-21-000003.000.ips", b'{"bug_type":"210","timestamp":"2026-11-21 08:33:40.00 +0100"}\n{"panicString":"panic(cpu 0')
    put("panic-full-2026-11-21-000004.000.ips", b'{"bug_type":"210"}\n')
    put("panic-full-2026-11-21-000005.000.ips", b'{"bug_type":210,"timestamp":[],"os_version":{}}\n{"panicString":7,"product":null}')
    put("panic-full-2026-11-21-000006.000.ips", b"A" * (3 * 1024 * 1024))
    put("panic-full-2026-11-21-000007.000.ips", b"\x00\xff" * 5000 + b"\n" * 5000)
    put("panic-base-2026-11-21-000008.plist", b"bplist00" + bytes(rnd.getrandbits(8) for _ in range(4000)))
    put("panic-base-2026-11-21-000009.plist", b'<?xml version="1.0"?><plist><dict><key>description</key>' + b"<array>" * 5000)
    put("panic-full-2026-11-21-00000\xc3\x28-\x01.ips".encode("latin-1").decode("latin-1"), b'{"bug_type":"210"}\n{}')
    deep = "/".join("d%d" % k for k in range(12))
    put(deep + "/panic-full-2026-11-21-000010.000.ips", b'{"bug_type":"210"}\n{"panicString":"deep"}')
    put("Retired/" + "x" * 200 + ".ips", b'{"bug_type":"210"}\n{"panicString":"long name"}')


def oversized_crash(dst, d):
    c = os.path.join(dst, "crashes")
    with open(os.path.join(c, "panic-full-2026-11-21-120000.000.ips"), "wb") as f:
        f.truncate(40 * 1024 * 1024)  # sparse: 40 MiB of NULs
    head = (b'{"bug_type":"210","timestamp":"2026-11-21 12:00:01.00 +0100"}\n'
            b'{"product":"iPhone13,2","panicString":"panic(cpu 1 caller 0x1): big one\\n')
    with open(os.path.join(c, "panic-full-2026-11-21-120001.000.ips"), "wb") as f:
        f.write(head)
        f.write(b"  lr: 0xfffffff02a3bc8e4  fp: 0xffffffe80123abcd\\n" * (6 * 1024 * 1024 // 52))
        f.write(b'"}\n')


def huge_ioreg(dst, d):
    bat = d["IORegistry"]["AppleSmartBattery"]
    bat["BatteryData"] = {"K%06d" % k: k for k in range(120000)}
    bat["Serial"] = "S" * (3 * 1024 * 1024)
    deep = "leaf"
    for _ in range(300):
        deep = {"n": deep}
    bat["Deep"] = deep
    d["Lockdown"]["Root"]["DeviceName"] = "N" * (1024 * 1024)
    with open(os.path.join(dst, "syslog.txt"), "w") as f:
        line = "Nov 22 10:00:00 iPhone kernel[0] <Notice>: " + "x" * 8100 + "\n"
        for k in range(4 * 1024 * 1024 // 16000):
            f.write(line)
            f.write("Nov 22 10:00:01 iPhone thermalmonitord[112] <Error>: Missing sensor(s): prs0\n" * 100)


def many_crashes(dst, d):
    c = os.path.join(dst, "crashes")
    for k in range(1100):
        with open(os.path.join(c, "JetsamEvent-2026-11-21-%06d.ips" % k), "wb") as f:
            f.write(b'{"bug_type":"298","timestamp":"2026-11-21 08:00:00.00 +0100"}\n{"product":"iPhone13,2"}\n')


SINGLE = {
    "disconnect-handshake": ("thermal-loop-12", {"DisconnectAfter": "handshake"}, None),
    "disconnect-diagnostics": ("thermal-loop-12", {"DisconnectAfter": "diagnostics"}, None),
    "disconnect-syslog": ("thermal-loop-12", {"DisconnectAfter": "syslog"}, None),
    "disconnect-afc": ("thermal-loop-12", {"DisconnectAfter": "afc"}, None),
    "latency-400": ("worn-battery-11", {"LatencyMs": 400}, None),
    "junk-crashes": ("thermal-loop-12", None, junk_crashes),
    "oversized-crash": ("thermal-loop-12", None, oversized_crash),
    "huge-ioreg": ("worn-battery-11", None, huge_ioreg),
    "many-crashes": ("thermal-loop-12", None, many_crashes),
}

# ---------------------------------------------------------------------------------------------
# Processes


class Proc:
    def __init__(self, argv, logpath, env=None):
        self.logpath = logpath
        self.logf = open(logpath, "wb")
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=self.logf, env=env)

    def alive(self):
        return self.p.poll() is None

    def text(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, timeout=60):
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                raise Fail("%s did not stop within %d s of SIGTERM" % (self.logpath, timeout))
        self.logf.close()
        return self.p.returncode


def no_sanitizer(text, who):
    for m in SANITIZER_MARKS:
        check(m not in text, "%s: sanitizer report:\n%s" % (who, text[-4000:]))


class Emu:
    def __init__(self, work, dirs=()):
        self.sock = os.path.join(work, "mux.sock")
        self.control = os.path.join(work, "emu-control.sock")
        self.proc = Proc([os.path.join(A.bin, "idevice-emu"), "--socket", self.sock, "--control", self.control]
                         + list(dirs), os.path.join(work, "emu.log"))
        wait_for("the emulator's socket", lambda: os.path.exists(self.sock) or not self.proc.alive(), 60)
        check(self.proc.alive(), "idevice-emu exited at start:\n" + self.proc.text())

    def attach_all(self, dirs):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(60)
        s.connect(self.control)
        s.sendall("".join("attach %s\n" % d for d in dirs).encode())
        f = s.makefile("rb")
        out = [f.readline().decode().strip() for _ in dirs]
        s.close()
        return out

    def stop(self):
        rc = self.proc.stop()
        no_sanitizer(self.proc.text(), "idevice-emu")
        check(rc == 0, "idevice-emu exited %s" % rc)


def env_for(emu):
    e = dict(os.environ)
    e["USBMUXD_SOCKET_ADDRESS"] = "UNIX:" + emu.sock
    return e


# ---------------------------------------------------------------------------------------------
# Single device: benchctl run


def one_line(s):
    lines = [x for x in s.strip().splitlines() if x.strip()]
    return len(lines) == 1


def t_single(work, case):
    base, beh, edit = SINGLE[case]
    udid, pdir = profile(work, base, 1, beh, edit)
    emu = Emu(work, [pdir])
    env = env_for(emu)
    state = os.path.join(work, "state")
    syslog = "2" if case in ("disconnect-syslog", "huge-ioreg") else "0"
    limit = 75 if case == "latency-400" else 45
    argv = [os.path.join(A.bin, "benchctl"), "--state-dir", state, "--json", "run", "--udid", udid,
            "--syslog-seconds", syslog]
    t0 = time.time()
    try:
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        emu.stop()
        raise Fail("benchctl run hung: no answer within %d s" % limit)
    dt = time.time() - t0
    log("%s: benchctl run exit %d in %.1f s; stderr: %s" % (case, r.returncode, dt, r.stderr.strip()[:300]))
    no_sanitizer(r.stderr, "benchctl")
    check(r.returncode >= 0, "benchctl died of signal %d" % -r.returncode)
    check(r.returncode in (0, 1, 3), "benchctl exit %d (want 0 report, 1/3 reason): %s" % (r.returncode, r.stderr))
    snap = None
    if r.returncode == 0:
        res = json.loads(r.stdout)
        check(os.path.exists(res["report_path"]), "no report at " + res["report_path"])
        v = subprocess.run([os.path.join(A.bin, "benchctl"), "--state-dir", state, "report", "verify",
                            res["report_path"]], capture_output=True, text=True, timeout=30)
        check(v.returncode == 0, "the report does not verify: " + v.stderr)
        with open(res["snapshot_path"]) as f:
            snap = json.load(f)
        errs = {e.get("probe"): e.get("reason", "") for e in snap.get("errors", [])}
        log("%s: report %s outcome %s, probe errors %s" % (case, res["report_id"], res["outcome"], errs))
        for reason in errs.values():
            check(reason and "\n" not in reason, "a probe error without a one-line reason: %r" % reason)
    else:
        # the reason is one line on stderr (progress lines start with "benchctl: " too: the last
        # line is the reason)
        last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        check(last.startswith("benchctl: ") and len(last) > 20, "no clear reason on stderr: %r" % r.stderr)
    expect = EXPECT.get(case)
    if expect:
        expect(r, snap)
    # the emulator (the "phone") survived the session
    check(emu.proc.alive(), "idevice-emu died:\n" + emu.proc.text()[-3000:])
    emu.stop()


def probe_error(snap, probe, words=()):
    check(snap is not None, "no report: want one with the %s probe's error recorded" % probe)
    errs = {e.get("probe"): e.get("reason", "") for e in snap.get("errors", [])}
    check(probe in errs, "want an error for probe %s, errors are %s" % (probe, errs))
    for w in words:
        check(w in errs[probe].lower(), "the %s error %r does not say %r" % (probe, errs[probe], w))


def x_handshake(r, snap):
    # The session cannot start: either no report and a reason, or a report that says so.
    if snap is None:
        check(r.returncode in (1, 3), "exit %d" % r.returncode)
    else:
        check(snap.get("errors"), "a report without any error for a device that drops the handshake")


def x_diag(r, snap):
    # diagnostics_relay serves both the battery gauge (ioregentry) and the diagnostics probe:
    # whichever asked first records the drop.
    check(snap is not None, "no report")
    errs = {e.get("probe"): e.get("reason", "") for e in snap.get("errors", [])}
    check(any(p in errs and "dropped" in errs[p] for p in ("battery", "diagnostics")),
          "want the drop recorded for the battery or diagnostics probe, errors are %s" % errs)
    check(snap.get("device", {}).get("product_type"), "info was read before diagnostics: want the model")


def x_syslog(r, snap):
    check(snap is not None, "no report")
    errs = {e.get("probe"): e.get("reason", "") for e in snap.get("errors", [])}
    lines = snap.get("syslog", {}).get("log", [])
    # the relay drops after 3 lines: either an error for syslog or the lines that came
    check("syslog" in errs or len(lines) <= 3, "syslog dropped after 3 lines, snapshot has %d and errors %s" %
          (len(lines), errs))
    check(len(snap.get("crashes", [])) == 4, "crash reports after the syslog drop: %d, want 4" %
          len(snap.get("crashes", [])))


def x_afc(r, snap):
    probe_error(snap, "crashes")
    # the reboot-loop phone's panics could not be read: the report must not say "pass"
    out = json.loads(r.stdout)["outcome"]
    check(out == "incomplete", "outcome %s for a device whose crash reports could not be read" % out)
    check(snap.get("battery"), "the battery read before the crash copy is kept")


def x_latency(r, snap):
    check(snap is not None and not snap.get("errors"), "a slow device still gives a full report: %s" %
          (snap or {}).get("errors"))


# What junk_crashes puts on the phone, and what the copy must make of each file: read (the
# readable ones, however odd), or noted in raw.crashes_skipped with a reason. Nothing vanishes
# unnoted: the name with a control character is noted with '?' in its place (the character itself
# never reaches the snapshot).
JUNK_READ = {"panic-full-2026-11-21-000003.000.ips": True,  # truncated JSON: read, marked truncated
             "panic-full-2026-11-21-000004.000.ips": False, "panic-full-2026-11-21-000005.000.ips": False,
             "Retired/" + "x" * 200 + ".ips": False}
JUNK_SKIPPED = {"panic-full-2026-11-21-000001.000.ips": "not a crash report",
                "panic-full-2026-11-21-000002.000.ips": "empty",
                "panic-full-2026-11-21-000006.000.ips": "not a crash report",
                "panic-full-2026-11-21-000007.000.ips": "not a crash report",
                "panic-base-2026-11-21-000008.plist": "not a crash report",
                "panic-base-2026-11-21-000009.plist": "not a crash report",
                "/".join("d%d" % k for k in range(9)): "nested too deep"}


def crashes_of(snap):
    got = {c.get("name"): c for c in snap.get("crashes", [])}
    skipped = {x.get("name"): x.get("reason", "") for x in snap.get("raw", {}).get("crashes_skipped", [])}
    return got, skipped


def x_junk(r, snap):
    check(snap is not None, "no report for a device with junk crash files")
    got, skipped = crashes_of(snap)
    log("junk-crashes: read %s; skipped %s" % (sorted(got), skipped))
    for name, truncated in JUNK_READ.items():
        check(name in got, "the readable crash report %s is missing from the snapshot (read: %s, skipped: %s)" %
              (name[:60], sorted(got), skipped))
        check(bool(got[name].get("truncated")) == truncated, "%s: truncated %r, want %r" %
              (name[:60], got[name].get("truncated"), truncated))
    check(got["Retired/" + "x" * 200 + ".ips"].get("panic_string") == "long name",
          "the long-named panic's text was not read: %r" % got["Retired/" + "x" * 200 + ".ips"])
    for name, why in JUNK_SKIPPED.items():
        check(why in skipped.get(name, ""), "%s vanished: want it noted as %r in crashes_skipped, have %s" %
              (name, why, skipped))
    extra = set(got) - set(JUNK_READ)
    check(not extra, "crash reports nobody put on the phone: %s" % extra)
    check(not any(ord(ch) < 0x20 for n in list(got) + list(skipped) for ch in n),
          "a name with a control character reached the snapshot")
    check(any(n.startswith("panic-full-2026-11-21-00000") and "?" in n and "control character" in why
              for n, why in skipped.items()),
          "the file whose name has a control character vanished unnoted: crashes_skipped %s" % skipped)


def x_oversized(r, snap):
    check(snap is not None, "no report")
    got, skipped = crashes_of(snap)
    # The 6 MiB panic is read (its head, marked truncated), with its panic text.
    six = got.get("panic-full-2026-11-21-120001.000.ips")
    check(six is not None, "the 6 MiB panic is not in the snapshot (read %s, skipped %s)" % (sorted(got), skipped))
    check(six.get("truncated") is True and six.get("bug_type") == "210" and
          (six.get("panic_string") or "").startswith("panic(cpu 1 caller 0x1): big one"),
          "the 6 MiB panic was not read as a truncated panic: %s" % {k: str(v)[:80] for k, v in six.items()})
    # The 40 MiB one (over the 32 MiB cap) is not copied, and the snapshot says so.
    check("panic-full-2026-11-21-120000.000.ips" not in got, "the 40 MiB report was copied")
    check("larger than 32 MiB" in skipped.get("panic-full-2026-11-21-120000.000.ips", ""),
          "the 40 MiB report vanished: want it noted in crashes_skipped, have %s" % skipped)
    # The profile's own four panics are still read beside them.
    check(sum(1 for n in got if n.startswith("panic-full-2026-11-")) == 5, "crash reports read: %s" % sorted(got))


def x_huge(r, snap):
    check(snap is not None, "no report for a device with enormous replies")
    lines = snap.get("syslog", {}).get("log", [])
    check(len(lines) <= 20000 and sum(len(x) for x in lines) <= 2 * 1024 * 1024 + 16 * 1024,
          "syslog lines not bounded: %d lines" % len(lines))


def x_many(r, snap):
    check(snap is not None, "no report")
    n = len(snap.get("crashes", []))
    skipped = json.dumps(snap.get("raw", {}).get("crashes_skipped", []))
    check(n <= 1000, "%d crash reports copied, over the 1000 cap" % n)
    check("more than 1000" in skipped, "the reports over the cap are not noted as skipped")


EXPECT = {
    "many-crashes": x_many,
    "disconnect-handshake": x_handshake,
    "disconnect-diagnostics": x_diag,
    "disconnect-syslog": x_syslog,
    "disconnect-afc": x_afc,
    "latency-400": x_latency,
    "junk-crashes": x_junk,
    "oversized-crash": x_oversized,
    "huge-ioreg": x_huge,
}

# ---------------------------------------------------------------------------------------------
# benchd: hostile devices among healthy ones


def t_benchd_mixed(work):
    healthy = [profile(work, b, i) for i, b in enumerate(["thermal-loop-12", "smc-14", "worn-battery-11",
                                                          "healthy-15pro", "thermal-loop-12", "smc-14"])]
    hostile = [
        profile(work, "thermal-loop-12", 20, {"DisconnectAfter": "handshake"}),
        profile(work, "thermal-loop-12", 21, {"DisconnectAfter": "afc"}),
        profile(work, "smc-14", 22, {"DisconnectAfter": "diagnostics"}),
        profile(work, "worn-battery-11", 23, {"LatencyMs": 400}),
        profile(work, "thermal-loop-12", 24, None, junk_crashes),
        profile(work, "worn-battery-11", 25, None, huge_ioreg),
    ]
    emu = Emu(work)
    env = env_for(emu)
    state = os.path.join(work, "state")
    os.makedirs(state)
    csock = os.path.join(work, "control.sock")
    conf = os.path.join(work, "benchd.conf")
    with open(conf, "w") as f:
        f.write("[bench]\nid = bench-hostile\nsyslog_seconds = 0\ndrain_seconds = 5\n[control]\nsocket = %s\n" % csock)
    bd = Proc([os.path.join(A.bin, "benchd"), "--config", conf, "--state-dir", state],
              os.path.join(work, "benchd.log"), env=env)
    ctl = [os.path.join(A.bin, "benchctl"), "--state-dir", state, "--socket", csock]

    def status():
        check(bd.alive(), "benchd died:\n" + bd.text()[-4000:])
        r = subprocess.run(ctl[:1] + ["status"] + ctl[1:] + ["--json"], env=env, capture_output=True, text=True,
                           timeout=30)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def rows():
        db = os.path.join(state, "benchd.db")
        if not os.path.exists(db):
            return {}
        c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        try:
            return {d: (s, why, p) for d, s, why, p in c.execute(
                "SELECT s.device, s.state, s.reason, r.path FROM sessions s LEFT JOIN reports r "
                "ON r.report_id = s.report_id")}
        except sqlite3.OperationalError:
            return {}
        finally:
            c.close()

    try:
        wait_for("benchd to answer benchctl status", status, 60, 0.2)
        time.sleep(0.3)
        ans = emu.attach_all([p for _, p in hostile + healthy])
        check(all(a.startswith("ok") for a in ans), "attach: %s" % ans)
        t0 = time.time()

        def healthy_done():
            st = status()
            check(st is not None, "benchd stopped answering benchctl status")
            r = rows()
            return all(r.get(u, ("running",))[0] != "running" for u, _ in healthy) and r

        r = wait_for("the healthy devices' reports", healthy_done, 90, 0.3)
        log("healthy devices done %.1f s after the plug" % (time.time() - t0))
        for u, _ in healthy:
            s, why, path = r[u]
            check(s == "done" and path and os.path.exists(path), "healthy %s: %s (%s)" % (u, s, why))

        def all_done():
            status()
            rr = rows()
            return all(rr.get(u, ("running",))[0] != "running" for u, _ in hostile + healthy) and rr

        r = wait_for("every session to end", all_done, 90, 0.3)
        for u, _ in hostile:
            s, why, path = r[u]
            log("hostile %s: %s: %s" % (u, s, why))
            check(s in ("done", "failed", "unplugged"), "hostile %s ended %s" % (u, s))
            check(s == "done" or (why and "\n" not in why), "hostile %s: no one-line reason: %r" % (u, why))
        # a device that drops the handshake is still plugged in: the reason says what happened
        s, why, _ = r[hostile[0][0]]
        check(s == "failed" and "handshake" in (why or ""),
              "the handshake-dropping device ended %s: %r (want failed, naming the handshake)" % (s, why))
        check(status() is not None, "benchd does not answer after the hostile sessions")
    finally:
        rc = bd.stop()
        text = bd.text()
        emu.proc.stop()
    no_sanitizer(text, "benchd")
    check(rc == 0, "benchd exited %s at SIGTERM:\n%s" % (rc, text[-3000:]))


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("case")
    A = ap.parse_args()
    A.bin = os.path.abspath(A.bin)
    work = tempfile.mkdtemp(prefix="benchd-hostile-")
    ok = False
    try:
        if A.case == "benchd-mixed":
            t_benchd_mixed(work)
        elif A.case in SINGLE:
            t_single(work, A.case)
        else:
            print("unknown case %s" % A.case, file=sys.stderr)
            return 2
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
