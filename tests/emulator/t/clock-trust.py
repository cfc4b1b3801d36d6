#!/usr/bin/env python3
"""Two emulator features the demo and benchd's tests rest on (issue 13), through Debian's stock
libimobiledevice tools as independent clients:

  clock   a profile's Clock/CrashDatesAsOf: idevicecrashreport copies the reports with every date
          (names, header timestamps, Date/Time lines) moved by one shift, emulator start minus
          CrashDatesAsOf, the sizes unchanged and nothing else altered; a profile without Clock is
          served as it is; a bad Clock value is refused with one line naming it.
  trust   the control socket's "trust UDID": a trust-pending phone refuses idevicepair until then,
          a Listen client gets Paired, and ideviceinfo reads the phone afterwards.

  clock-trust.py EMU PROFILES_DIR clock|trust     exit 0 pass, 1 fail, 77 tools missing
"""
import datetime
import os
import plistlib
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

EMU, PROFILES, WHAT = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []
DATE = re.compile(rb"(?<!\d)(\d{4})-(\d\d)-(\d\d)([ T])(\d\d):(\d\d):(\d\d)(?!\d)|"
                  rb"(?<!\d)(\d{4})-(\d\d)-(\d\d)-(\d\d)(\d\d)(\d\d)(?!\d)")


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def shift_dates(data, seconds):
    """What the emulator is meant to do, written independently: move every date by seconds."""
    def one(m):
        g = m.groups()
        if g[0] is not None:
            y, mo, d, sep, h, mi, s = g[:7]
            t = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
            t += datetime.timedelta(seconds=seconds)
            return t.strftime("%Y-%m-%d").encode() + sep + t.strftime("%H:%M:%S").encode()
        y, mo, d, h, mi, s = g[7:]
        t = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
        t += datetime.timedelta(seconds=seconds)
        return t.strftime("%Y-%m-%d-%H%M%S").encode()
    return DATE.sub(one, data)


def name_time(name):
    m = re.search(r"-(\d{4})-(\d\d)-(\d\d)-(\d\d)(\d\d)(\d\d)", name)
    return datetime.datetime(*map(int, m.groups())) if m else None


class Emu:
    def __init__(self, tmp, profiles, control=False):
        self.sock = os.path.join(tmp, "mux.sock")
        self.ctl = os.path.join(tmp, "ctl.sock")
        self.log = open(os.path.join(tmp, "emu.log"), "w")
        argv = [EMU, "--socket", self.sock] + (["--control", self.ctl] if control else []) + profiles
        self.t0 = time.time()
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while not os.path.exists(self.sock):
            if self.p.poll() is not None or time.time() > deadline:
                raise SystemExit("FAIL: idevice-emu did not start: " + open(self.log.name).read())
            time.sleep(0.05)
        self.t1 = time.time()
        self.env = dict(os.environ, USBMUXD_SOCKET_ADDRESS="UNIX:" + self.sock)

    def control(self, line):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(self.ctl)
        s.sendall(line.encode() + b"\n")
        out = s.makefile("rb").readline().decode().strip()
        s.close()
        return out

    def tool(self, *argv):
        return subprocess.run(list(argv), env=self.env, capture_output=True, text=True, timeout=30)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.log.close()
        text = open(self.log.name, errors="replace").read()
        check(rc == 0, "idevice-emu exits 0 on SIGTERM (%s)" % rc)
        check("ERROR: AddressSanitizer" not in text and "runtime error" not in text,
              "no sanitizer report in the emulator's log")
        return text


def udid_of(profile):
    with open(os.path.join(profile, "device.plist"), "rb") as f:
        return plistlib.load(f)["Lockdown"]["Root"]["UniqueDeviceID"]


def as_of(profile):
    with open(os.path.join(profile, "device.plist"), "rb") as f:
        s = plistlib.load(f).get("Clock", {}).get("CrashDatesAsOf")
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def test_clock(tmp):
    src = os.path.join(PROFILES, "smc-14")
    plain = os.path.join(tmp, "no-clock")
    shutil.copytree(src, plain)
    with open(os.path.join(plain, "device.plist"), "rb") as f:
        d = plistlib.load(f)
    d.pop("Clock")
    d["Lockdown"]["Root"]["UniqueDeviceID"] = udid_of(src)[:-4] + "F00D"
    with open(os.path.join(plain, "device.plist"), "wb") as f:
        plistlib.dump(d, f)

    bad = os.path.join(tmp, "bad-clock")
    shutil.copytree(src, bad)
    d["Clock"] = {"CrashDatesAsOf": "next tuesday"}
    with open(os.path.join(bad, "device.plist"), "wb") as f:
        plistlib.dump(d, f)
    r = subprocess.run([EMU, "--socket", os.path.join(tmp, "bad.sock"), bad], capture_output=True, text=True,
                       timeout=20)
    check(r.returncode == 1 and "Clock/CrashDatesAsOf must be a UTC time" in r.stderr and
          len(r.stderr.strip().splitlines()) == 1, "a bad Clock value is refused with one line (%s)" % r.stderr.strip())

    emu = Emu(tmp, [src, plain])
    try:
        asof = as_of(src).timestamp()
        lo, hi = emu.t0 - asof - 2, emu.t1 - asof + 2
        out = os.path.join(tmp, "copied")
        os.makedirs(out)
        r = emu.tool("idevicecrashreport", "-u", udid_of(src), "-k", out)
        check(r.returncode == 0, "idevicecrashreport -k copies the reports (%s)" % r.stderr.strip()[-200:])
        disk = sorted(os.listdir(os.path.join(src, "crashes")))
        got = sorted(os.listdir(out))
        check(len(got) == len(disk) == 5, "%d reports copied, %d on disk" % (len(got), len(disk)))
        shifts = set()
        for dn, gn in zip(disk, got):
            s = (name_time(gn) - name_time(dn)).total_seconds()
            shifts.add(s)
        check(len(shifts) == 1, "one shift for every report name (%s)" % sorted(shifts))
        shift = shifts.pop() if len(shifts) == 1 else 0
        check(lo <= shift <= hi, "the shift %.0f s is the emulator's start minus CrashDatesAsOf (%.0f..%.0f)"
              % (shift, lo, hi))
        newest = max(name_time(g) for g in got if g.startswith("panic-full"))
        check(datetime.datetime.now() - newest < datetime.timedelta(days=3),
              "the newest panic is under 3 days old today (%s)" % newest)
        for dn, gn in zip(disk, got):
            with open(os.path.join(src, "crashes", dn), "rb") as f:
                want = f.read()
            with open(os.path.join(out, gn), "rb") as f:
                data = f.read()
            check(len(data) == len(want), "%s: %d bytes, as on disk" % (gn, len(data)))
            check(data == shift_dates(want, shift), "%s: only its dates differ, all moved by the same shift" % gn)
        header = open(os.path.join(out, got[-1]), "rb").read().split(b"\n", 1)[0]
        check(str(name_time(got[-1]).date()).encode() in header,
              "the header's timestamp and the name agree: %s" % header[:90].decode(errors="replace"))

        out2 = os.path.join(tmp, "copied-plain")
        os.makedirs(out2)
        r = emu.tool("idevicecrashreport", "-u", udid_of(plain), "-k", out2)
        check(r.returncode == 0 and sorted(os.listdir(out2)) == disk,
              "a profile without Clock is served with its own dates")
    finally:
        emu.stop()


def test_trust(tmp):
    src = os.path.join(PROFILES, "trust-pending-xr")
    udid = udid_of(src)
    emu = Emu(tmp, [src], control=True)
    try:
        r = emu.tool("idevicepair", "-u", udid, "pair")
        check(r.returncode != 0 and "accept the trust dialog" in (r.stdout + r.stderr),
              "before Trust: idevicepair pair is refused with the dialog pending (%s)" % (r.stdout + r.stderr).strip())
        r = emu.tool("ideviceinfo", "-u", udid, "-k", "ProductType")
        check(r.returncode != 0, "before Trust: ideviceinfo cannot start a session")

        listen = socket.socket(socket.AF_UNIX)
        listen.settimeout(10)
        listen.connect(emu.sock)
        body = plistlib.dumps({"MessageType": "Listen", "ClientVersionString": "clock-trust", "ProgName": "t"})
        listen.sendall(struct.pack("<IIII", 16 + len(body), 1, 8, 1) + body)

        def event():
            n = struct.unpack("<IIII", listen.recv(16, socket.MSG_WAITALL))[0]
            return plistlib.loads(listen.recv(n - 16, socket.MSG_WAITALL))
        check(event().get("Number") == 0, "Listen: Result 0 first")
        attached = event()
        check(attached.get("MessageType") == "Attached", "Listen: the phone is attached")

        out = emu.control("trust " + udid)
        check(out == "ok %s trusted" % udid, "control 'trust %s' answers '%s'" % (udid, out))
        ev = event()
        check(ev.get("MessageType") == "Paired" and ev.get("DeviceID") == attached.get("DeviceID"),
              "Listen: Paired for that device (%s)" % ev)
        listen.close()
        r = emu.tool("ideviceinfo", "-u", udid, "-k", "ProductType")
        check(r.returncode == 0 and r.stdout.strip() == "iPhone11,8",
              "after Trust: ideviceinfo reads the phone (%s)" % (r.stdout + r.stderr).strip())
        out = emu.control("trust 00000000-0000000000000000")
        check(out == "error no attached device 00000000-0000000000000000", "trust of no such device: '%s'" % out)
    finally:
        emu.stop()


def main():
    for tool in ("idevicecrashreport", "idevicepair", "ideviceinfo"):
        if shutil.which(tool) is None:
            print("SKIP: %s is not installed (libimobiledevice-utils, scripts/packages/core.test.txt)" % tool)
            return 77
    tmp = tempfile.mkdtemp(prefix="emu-%s." % WHAT)
    try:
        {"clock": test_clock, "trust": test_trust}[WHAT](tmp)
    finally:
        if not failures:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("(work directory kept: %s)" % tmp)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
