#!/usr/bin/env python3
"""benchctl run --udid end to end: the real libimobiledevice stack (through capture_device) against
idevice-emu serving bundled profiles, the real engine and trees, a signed report. The stored
snapshot replayed with run --snapshot gives the same faults and trace; a locked phone still gets a
signed report (SYS-003, outcome incomplete, exit 0); an unknown device or no usbmuxd exits 3."""
import base64
import json
import os
import plistlib
import re
import signal
import subprocess
import time

from common import BENCHCTL, TempDir, check, finish

SOURCE = os.environ["SOURCE_DIR"]
EMU = os.environ["EMU"]
PROFILES = os.path.join(SOURCE, "tests", "profiles")


def udid_of(name):
    with open(os.path.join(PROFILES, name, "device.plist"), "rb") as f:
        return plistlib.load(f)["Lockdown"]["Root"]["UniqueDeviceID"]


def payload(path):
    s = json.load(open(path))["payload"]
    return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))


with TempDir() as tmp:
    sock = os.path.join(tmp, "mux.sock")
    log = open(os.path.join(tmp, "emu.log"), "w")
    emu = subprocess.Popen([EMU, "--socket", sock, os.path.join(PROFILES, "worn-battery-11"),
                            os.path.join(PROFILES, "locked-13")], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not ("ready" in open(os.path.join(tmp, "emu.log")).read()
                                              and os.path.exists(sock)):
            if emu.poll() is not None:
                raise SystemExit("idevice-emu exited: " + open(os.path.join(tmp, "emu.log")).read())
            time.sleep(0.05)
        env = dict(os.environ, USBMUXD_SOCKET_ADDRESS="UNIX:" + sock, BENCHD_STATE_DIR=os.path.join(tmp, "state"))

        def run(args, e=env):
            p = subprocess.run([BENCHCTL] + args, env=e, capture_output=True, timeout=60)
            return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

        worn = udid_of("worn-battery-11")
        t0 = time.time()
        rc, out, err = run(["--json", "run", "--udid", worn, "--syslog-seconds", "1", "--ticket", "R-1"])
        dt = time.time() - t0
        check(rc == 0, "run --udid %s exits 0 (%s)" % (worn, err.strip()))
        s = json.loads(out)
        print("run --udid took %.2f s (1 s of syslog)" % dt)
        rep = payload(s["report_path"])
        check(rep["device"]["udid"] == worn and rep["device"]["product_type"] == "iPhone12,1",
              "the report names the emulated device")
        check("BAT-001" in [f["code"] for f in rep["faults"]], "the worn battery is found (BAT-001)")
        rc, _, err = run(["report", "verify", s["report_path"]])
        check(rc == 0, "the report verifies")
        snap = json.load(open(s["snapshot_path"]))
        check(snap["schema"] == "benchd.snapshot/1" and snap["device"]["udid"] == worn,
              "the snapshot read from the device is stored beside the report")
        # tests/profiles/README.md tells a new user what the report will say (issue 18 item 7: it
        # said 6.2 GB free while the report said 8.0 GB): its figure must be the one shown.
        row = [l for l in open(os.path.join(PROFILES, "README.md")) if l.startswith("| `worn-battery-11`")]
        said = re.search(r"(\d+\.\d) GB free of (\d+) GB", row[0] if row else "")
        rc, text, err = run(["report", "show", s["report_path"], "--view", "technician"])
        shown = re.search(r"(\d+\.\d) GB \(\d+ %\)[^\n]*?(\d+\.\d) GB", text)
        check(said is not None and shown is not None and said.group(1) == shown.group(1) and
              float(said.group(2)) == float(shown.group(2)),
              "the profiles README's free space (%s) is what the report shows (%s)" %
              (said and said.group(0), shown and shown.group(0)))
        rc, out2, err = run(["--json", "run", "--snapshot", s["snapshot_path"]])
        rep2 = payload(json.loads(out2)["report_path"])
        check(rc == 0 and rep2["faults"] == rep["faults"] and rep2["trace"] == rep["trace"] and
              rep2["outcome"] == rep["outcome"], "replaying the stored snapshot gives the same faults and trace")

        locked = udid_of("locked-13")
        rc, out, err = run(["--json", "run", "--udid", locked, "--syslog-seconds", "0"])
        check(rc == 0 and "locked" in err, "a locked phone: exit 0 and a note on stderr (%s)" % err.strip())
        s = json.loads(out) if rc == 0 else {"outcome": None, "faults": []}
        check(s["outcome"] == "incomplete" and "SYS-003" in [f["code"] for f in s["faults"]],
              "a locked phone gives a signed report with SYS-003, outcome incomplete")

        rc, out, err = run(["run", "--udid", "00000000-NOPE"])
        check(rc == 3 and out == "" and len(err.strip().splitlines()) == 1, "an unknown device: exit 3, one line")
        rc, out, err = run(["run", "--udid", worn], dict(env, USBMUXD_SOCKET_ADDRESS="UNIX:" + os.path.join(tmp, "none.sock")))
        check(rc == 3 and len(err.strip().splitlines()) == 1, "no usbmuxd: exit 3, one line (%s)" % err.strip())
    finally:
        emu.send_signal(signal.SIGTERM)
        try:
            emu.wait(10)
        except subprocess.TimeoutExpired:
            emu.kill()
            emu.wait()
        log.close()

finish()
