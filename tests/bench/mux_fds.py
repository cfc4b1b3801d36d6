#!/usr/bin/env python3
"""benchd's open descriptors across usbmuxd restarts (issue 11: libusbmuxd 2.0.2's listener leaked
one socket per reconnect, 15 -> 41 over 20 restarts).

  tests/bench/mux_fds.py --bin BUILD/bin [--restarts 20] [--settle S]

Starts idevice-emu (one emulated iPhone), then benchd watching its socket, and restarts the
emulator (a new iPhone each time) RESTARTS times, waiting for each phone's session to end.
Prints benchd's descriptor count (/proc/PID/fd) with the first and second emulator and 2 s after
the last stop, then one JSON line. Works with any benchd build (it only reads the store and /proc). Not a timed test.
"""

import argparse
import json
import os
import plistlib
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROFILES = os.path.join(os.path.dirname(HERE), "profiles")


def wait_for(what, fn, timeout, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    raise SystemExit("mux_fds: timed out waiting for " + what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--restarts", type=int, default=20)
    ap.add_argument("--settle", type=float, default=0,
                    help="keep each emulator up this many seconds instead of waiting for its phone's "
                         "session (for a benchd that does not see phones after a restart)")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="benchd-muxfds-")
    sock = os.path.join(work, "mux.sock")
    state = os.path.join(work, "state")
    os.makedirs(state, mode=0o750)
    conf = os.path.join(work, "benchd.conf")
    with open(conf, "w") as f:
        f.write("[bench]\nid = bench-fds\nsyslog_seconds = 0\ndrain_seconds = 5\n[web]\nlisten =\n"
                "[control]\nsocket = %s\n" % os.path.join(work, "control.sock"))
    env = dict(os.environ, USBMUXD_SOCKET_ADDRESS="UNIX:" + sock)
    logf = open(os.path.join(work, "benchd.log"), "wb")
    bd = None
    db = os.path.join(state, "benchd.db")

    def done(udid):
        if not os.path.exists(db):
            return False
        c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
        try:
            return c.execute("SELECT count(*) FROM sessions WHERE device = ? AND state != 'running'",
                             (udid,)).fetchone()[0] > 0
        except sqlite3.OperationalError:
            return False
        finally:
            c.close()

    fds = lambda: len(os.listdir("/proc/%d/fd" % bd.pid))
    counts = {"first": None, "second": None, "end": None}
    try:
        for i in range(a.restarts):
            dst = os.path.join(work, "p%02d" % i)
            shutil.copytree(os.path.join(PROFILES, "worn-battery-11"), dst)
            with open(os.path.join(dst, "device.plist"), "rb") as f:
                d = plistlib.load(f)
            udid = "00008030-%012X%04X" % (0xFD5, i)
            d["Lockdown"]["Root"]["UniqueDeviceID"] = udid
            with open(os.path.join(dst, "device.plist"), "wb") as f:
                plistlib.dump(d, f)
            emu = subprocess.Popen([os.path.join(a.bin, "idevice-emu"), "--socket", sock, dst],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if bd is None:  # benchd starts with usbmuxd there (libusbmuxd's listener needs it)
                wait_for("the emulator's socket", lambda: os.path.exists(sock), 30)
                bd = subprocess.Popen([os.path.join(a.bin, "benchd"), "--config", conf, "--state-dir", state],
                                      env=env, stdout=logf, stderr=logf)
            if a.settle:
                time.sleep(a.settle)
            else:
                wait_for("restart %d: the phone's session" % i, lambda: done(udid) or bd.poll() is not None, 90)
            if bd.poll() is not None:
                raise SystemExit("mux_fds: benchd exited (%s)" % bd.returncode)
            if i == 0:
                counts["first"] = fds()
            if i == 1:
                counts["second"] = fds()
            emu.send_signal(signal.SIGTERM)
            emu.wait(30)
            time.sleep(0.3)
        time.sleep(2)
        counts["end"] = fds()
    finally:
        if bd is not None and bd.poll() is None:
            bd.send_signal(signal.SIGTERM)
            bd.wait(30)
        logf.close()
    shutil.rmtree(work, ignore_errors=True)
    print("benchd descriptors: %d with the first usbmuxd, %d with the second, %d after %d restarts"
          % (counts["first"], counts["second"], counts["end"], a.restarts))
    print(json.dumps(dict(counts, restarts=a.restarts), sort_keys=True, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
