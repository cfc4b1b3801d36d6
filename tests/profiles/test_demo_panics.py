#!/usr/bin/env python3
"""The demo's panic phones show their panic faults on any date (issue 18 item 1).

The bundled profiles' crash reports are dated November 2026; before Clock/CrashDatesAsOf every
panic was "outside the 7-day window" a week later, so the thermal-loop 12 and the SMC 14 got no PAN
fault while the report still said "4 kernel panics" and the SMC action text named PAN-020. Here
the real emulator serves the bundled profiles and the real `benchctl run --udid` diagnoses them,
today and again with both running under faketime far from 2026 (2040 and 2025): thermal-loop-12
must get PAN-001 and PAN-010 (charge-port assembly), smc-14 PAN-001 and PAN-020 (charge-port
assembly, 0x100000 on a 14), every panic the snapshot counts must lie in the 7 days before its
captured_at, and the text and HTML renders must not claim what the faults do not show: every
PAN code they name is a fault of the report, and "N kernel panics" with N >= 3 comes with PAN-001.

  test_demo_panics.py BIN_DIR PROFILES_DIR      exit 0 pass, 1 fail, 77 faketime missing
"""
import base64
import datetime
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BIN, PROFILES = sys.argv[1], sys.argv[2]
EMU, BENCHCTL = os.path.join(BIN, "idevice-emu"), os.path.join(BIN, "benchctl")
PHONES = {
    "thermal-loop-12": ("00008101-0016244A1E90003A",
                        {"PAN-001": None, "PAN-010": "charge-port assembly"}),
    "smc-14": ("00008110-000C39D20A78801E",
               {"PAN-001": None, "PAN-020": "charge-port assembly"}),
}
# libfaketime is preloaded before the sanitizer runtime of a sanitizer build (TESTING.md: the same
# as for umockdev); the monotonic clock stays real so timeouts mean what they say.
FAKE_ENV = {"ASAN_OPTIONS": "verify_asan_link_order=0:" + os.environ.get("ASAN_OPTIONS", ""),
            "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
LIBFAKETIME = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def payload(path):
    s = json.load(open(path))["payload"]
    return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))


def rfc(ts):
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")


def run_at(clock, tmp):
    """clock: None (the real date) or a faketime start ("2040-06-01 12:00:00")."""
    label = clock or "today"
    work = os.path.join(tmp, label.replace(" ", "_").replace(":", ""))
    os.makedirs(work)
    sock = os.path.join(work, "mux.sock")
    # libfaketime preloaded directly: the faketime wrapper needs sem_open(), which a CI container
    # without a usable /dev/shm refuses.
    pre = []
    env = dict(os.environ, USBMUXD_SOCKET_ADDRESS="UNIX:" + sock, BENCHD_STATE_DIR=os.path.join(work, "state"))
    if clock:
        env.update(FAKE_ENV)
        env.update(LD_PRELOAD=LIBFAKETIME[0], FAKETIME="@" + clock)
    log = open(os.path.join(work, "emu.log"), "w")
    # its own process group: faketime runs the emulator as a child and does not pass SIGTERM on,
    # so the group is what gets stopped
    emu = subprocess.Popen(pre + [EMU, "--socket", sock] + [os.path.join(PROFILES, p) for p in PHONES],
                           stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.time() + 30
        while not os.path.exists(sock):
            if emu.poll() is not None or time.time() > deadline:
                raise SystemExit("FAIL: idevice-emu did not start: " + open(log.name).read())
            time.sleep(0.05)
        for profile, (udid, want) in PHONES.items():
            r = subprocess.run(pre + [BENCHCTL, "--json", "run", "--udid", udid, "--syslog-seconds", "1"],
                               env=env, capture_output=True, text=True, timeout=90)
            if not check(r.returncode == 0, "%s %s: benchctl run --udid exits 0 (%s)" %
                         (label, profile, r.stderr.strip()[-300:])):
                continue
            out = json.loads(r.stdout)
            rep = payload(out["report_path"])
            snap = json.load(open(out["snapshot_path"]))
            year = int(rep["created_at"][:4])
            check((clock is None) or year == int(clock[:4]),
                  "%s %s: the report is made on that date (%s)" % (label, profile, rep["created_at"]))
            faults = {}
            for f in rep["faults"]:
                faults.setdefault(f["code"], []).append(f)
            for code, part in want.items():
                got = faults.get(code, [])
                check(got and (part is None or any(f["part"] == part for f in got)),
                      "%s %s: %s%s is raised (faults: %s)" % (label, profile, code,
                                                             " (%s)" % part if part else "", sorted(faults)))
            cap = rfc(snap["captured_at"])
            ages = [(cap - rfc(c["timestamp"])).total_seconds() / 86400 for c in snap["crashes"]
                    if c.get("bug_type") == "210" and c.get("timestamp")]
            recent = [a for a in ages if 0 <= a <= 7]
            check(len(recent) >= 3, "%s %s: %d panics lie in the 7 days before captured_at (ages %s)" %
                  (label, profile, len(recent), sorted(round(a, 1) for a in ages)))
            for fmt in ("text", "html"):
                r = subprocess.run(pre + [BENCHCTL, "report", "show", out["report_path"], "--format", fmt],
                                   env=env, capture_output=True, text=True, timeout=60)
                check(r.returncode == 0, "%s %s: report show --format %s" % (label, profile, fmt))
                named = set(re.findall(r"\bPAN-\d{3}\b", r.stdout))
                check(named <= set(faults), "%s %s: every PAN code the %s names is a fault of the report "
                      "(named %s)" % (label, profile, fmt, sorted(named)))
                m = re.search(r"(\d+) kernel panics", r.stdout)
                n = int(m.group(1)) if m else 0
                check(n < 3 or "PAN-001" in faults, "%s %s: the %s's '%d kernel panics' comes with PAN-001" %
                      (label, profile, fmt, n))
    finally:
        stop_group(emu)
        log.close()


def stop_group(p):
    """SIGTERM to the process group (faketime and the emulator under it), then wait for every
    member to be gone; SIGKILL what is left after 20 s."""
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            os.killpg(p.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()
    check(False, "the emulator (pid group %d) did not stop on SIGTERM within 20 s" % p.pid)


def main():
    if not LIBFAKETIME:
        print("SKIP: faketime is not installed (Debian's faketime, scripts/packages/truth.test.txt)")
        return 77
    tmp = tempfile.mkdtemp(prefix="demo-panics.")
    try:
        for clock in (None, "2040-06-01 12:00:00", "2025-03-01 08:00:00"):
            run_at(clock, tmp)
    finally:
        if failures:
            print("(work directory kept: %s)" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
