#!/usr/bin/env python3
"""benchd diagnoses a phone again once it is trusted (README: "A device that could not be read for
want of trust is diagnosed again once it pairs"; issue 13, issue 18 item 9).

The real benchd watches the real idevice-emu serving the bundled trust-pending XR (the "Trust this
computer?" dialog is showing). Its first session ends with the phone unread: SYS-003, outcome
incomplete, lockdown "pairing-pending". Then the emulator's control socket plays the user tapping
Trust ("trust UDID": the pair record is saved and Listen clients get Paired), and benchd must start
a second session on its own, read the phone and sign a report without SYS-003 that holds the
battery the phone has. Everything this test starts is stopped, pass or fail.

  test_trust.py --bin DIR [--work DIR]     exit 0 pass, 1 fail
"""
import argparse
import base64
import json
import os
import plistlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROFILE = os.path.join(os.path.dirname(HERE), "profiles", "trust-pending-xr")


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)
    print("ok   " + what, flush=True)


def wait_for(what, fn, timeout=60.0, step=0.1):
    end = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            raise Fail("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(step)


def payload(path):
    s = json.load(open(path))["payload"]
    return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))


class Proc:
    def __init__(self, argv, logpath, env):
        self.logpath = logpath
        self.log = open(logpath, "ab")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                  start_new_session=True)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.log.close()
        return rc

    def text(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", default="")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="benchd-trust-")
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(PROFILE, "device.plist"), "rb") as f:
        prof = plistlib.load(f)
    udid = prof["Lockdown"]["Root"]["UniqueDeviceID"]
    bat = prof["IORegistry"]["AppleSmartBattery"]

    mux = os.path.join(work, "mux.sock")
    ctl = os.path.join(work, "emu-control.sock")
    state = os.path.join(work, "state")
    conf = os.path.join(work, "bench.conf")
    with open(conf, "w") as f:
        f.write("[bench]\nid = bench-trust\nsyslog_seconds = 0\ndrain_seconds = 10\n"
                "[control]\nsocket = %s\n" % os.path.join(work, "control.sock"))
    env = dict(os.environ, USBMUXD_SOCKET_ADDRESS="UNIX:" + mux, BENCHD_STATE_DIR=state)
    procs = []
    ok = False
    try:
        emu = Proc([os.path.join(a.bin, "idevice-emu"), "--socket", mux, "--control", ctl, PROFILE],
                   os.path.join(work, "emu.log"), env)
        procs.append(emu)
        wait_for("the emulator's socket", lambda: os.path.exists(mux), 20)
        benchd = Proc([os.path.join(a.bin, "benchd"), "--config", conf, "--state-dir", state],
                      os.path.join(work, "benchd.log"), env)
        procs.append(benchd)

        def sessions():
            r = subprocess.run([os.path.join(a.bin, "benchctl"), "sessions", "--json", "--limit", "100",
                                "--socket", os.path.join(work, "control.sock")],
                               env=env, capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                return None
            out = json.loads(r.stdout)
            return [s for s in out.get("recent", []) if s.get("device") == udid and s.get("report_id")]

        first = wait_for("benchd's first session of the trust-pending phone", lambda: sessions(), 60)
        rep1 = payload(os.path.join(state, "reports", first[0]["report_id"] + ".jws.json"))
        codes1 = [f["code"] for f in rep1["faults"]]
        check(rep1["outcome"] == "incomplete" and "SYS-003" in codes1,
              "before Trust: the report says the phone is not trusted yet (%s, %s)" % (rep1["outcome"], codes1))
        snap1 = json.load(open(os.path.join(state, "reports", first[0]["report_id"] + ".snapshot.json")))
        check(snap1["device"].get("lockdown") == "pairing-pending",
              "before Trust: the snapshot says pairing-pending (%s)" % snap1["device"].get("lockdown"))
        check("battery" not in snap1 or not snap1["battery"].get("cycle_count"),
              "before Trust: no battery was read")

        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(ctl)
        s.sendall(("trust %s\n" % udid).encode())
        answer = s.makefile("rb").readline().decode().strip()
        s.close()
        check(answer == "ok %s trusted" % udid, "the emulator's control socket: '%s'" % answer)

        both = wait_for("benchd to diagnose the phone again after Trust",
                        lambda: (lambda ss: ss if ss and len(ss) >= 2 else None)(sessions()), 60)
        ids = {x["report_id"] for x in both}
        check(len(ids) == 2, "two signed reports for the phone, one before and one after Trust")
        second = [x for x in both if x["report_id"] != first[0]["report_id"]][0]
        path2 = os.path.join(state, "reports", second["report_id"] + ".jws.json")
        rep2 = payload(path2)
        codes2 = [f["code"] for f in rep2["faults"]]
        check("SYS-003" not in codes2 and rep2["outcome"] != "incomplete",
              "after Trust: the new report reads the phone (%s, %s)" % (rep2["outcome"], codes2))
        snap2 = json.load(open(os.path.join(state, "reports", second["report_id"] + ".snapshot.json")))
        b = snap2.get("battery", {})
        check(snap2["device"].get("lockdown") == "ok" and b.get("cycle_count") == bat["CycleCount"] and
              b.get("design_capacity_mah") == bat["DesignCapacity"],
              "after Trust: the battery the phone has (%s cycles, %s mAh design)" %
              (b.get("cycle_count"), b.get("design_capacity_mah")))
        r = subprocess.run([os.path.join(a.bin, "benchctl"), "--state-dir", state, "report", "verify", path2],
                           env=env, capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, "the report after Trust verifies")
        check("diagnosing it again" in benchd.text(), "benchd's log says it diagnoses the phone again")
        rc = benchd.stop()
        procs.remove(benchd)
        text = benchd.text()
        check(rc == 0, "benchd exits 0 on SIGTERM (%s)" % rc)
        check("AddressSanitizer" not in text and "runtime error" not in text and "LeakSanitizer" not in text,
              "no sanitizer report in benchd's log")
        ok = True
        print("PASS: trust")
        return 0
    except Fail as e:
        print("FAIL: %s" % e)
        for name in ("benchd.log", "emu.log"):
            p = os.path.join(work, name)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    print("---- %s\n%s" % (name, f.read()[-6000:]))
        return 1
    finally:
        for p in reversed(procs):
            p.stop()
        if ok and not a.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
