#!/usr/bin/env python3
"""Measure benchd with N emulated iPhones plugged at once (not a ctest: numbers, not pass/fail).

  tests/agent/measure_devices.py BIN_DIR N [SYSLOG_SECONDS] [LATENCY_MS]
  e.g. tests/agent/measure_devices.py build/bin 64 0 2

Copies the bundled profiles to N unique UDIDs with Behaviour/LatencyMs, starts idevice-emu with
all of them attached, then benchd; prints when each signed report appeared (from benchd's
start: median, p95, max) and benchd's peak resident memory (VmHWM). Use a build without
sanitizers for meaningful numbers.
"""
import os
import plistlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_benchd as T  # noqa: E402


class Args:
    pass


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    T.A = Args()
    T.A.bin = os.path.abspath(sys.argv[1])
    T.A.work = ""
    n = int(sys.argv[2])
    syslog = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    latency = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    work = tempfile.mkdtemp(prefix="benchd-measure-")
    profiles = T.clone_profiles(work, n)
    for _, d in profiles:
        p = os.path.join(d, "device.plist")
        with open(p, "rb") as f:
            pl = plistlib.load(f)
        pl.setdefault("Behaviour", {})["LatencyMs"] = latency
        with open(p, "wb") as f:
            plistlib.dump(pl, f)
    emu = T.Emu(work, profiles)
    os.environ["USBMUXD_SOCKET_ADDRESS"] = "UNIX:" + emu.sock
    b = T.Bench(work)
    with open(b.conf) as f:
        conf = f.read().replace("syslog_seconds = 0", "syslog_seconds = %d" % syslog)
    with open(b.conf, "w") as f:
        f.write(conf)
    t0 = time.time()
    b.start()
    pid = b.proc.p.pid
    hwm = [0]
    rdir = os.path.join(b.state, "reports")

    def done():
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmHWM"):
                        hwm[0] = max(hwm[0], int(line.split()[1]))
        except OSError:
            pass
        return len([f for f in os.listdir(rdir) if f.endswith(".jws.json")]) >= n

    T.wait_for("%d reports" % n, done, 300, 0.05)
    total = time.time() - t0
    ts = sorted(os.stat(os.path.join(rdir, f)).st_mtime - t0 for f in os.listdir(rdir) if f.endswith(".jws.json"))
    b.stop()
    emu.stop()
    print("%d devices, %d ms latency, syslog %d s: all %d signed reports %.2f s after benchd started; "
          "per report: median %.2f s, p95 %.2f s, max %.2f s; benchd peak RSS (VmHWM) %.1f MB; work dir %s"
          % (n, latency, syslog, len(ts), total, statistics.median(ts), ts[int(0.95 * (len(ts) - 1))], ts[-1],
             hwm[0] / 1024, work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
