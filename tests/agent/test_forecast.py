#!/usr/bin/env python3
"""benchd end to end for the battery forecast (issue 16, DESIGN 4.9): one iPhone 11 visits the
bench three times, months apart, its battery wearing between visits (the emulator's profile is
edited between unplug and plug: cycle count and nominal capacity). Each visit is a real session
of a real benchd over the real libimobiledevice stack; benchd runs under faketime at each
visit's date, so the store's readings carry those dates as a bench would have recorded them.

The third report must carry the first two visits in inputs.history (oldest first, the same
battery serial), and readings.battery_forecast must be the interval the battery tree gives for
that history (the same numbers as diag-trees/tests/forecast-steady-wear.json), narrower than
the second visit's; benchctl history
shows it; a revision (link) keeps the same inputs and forecast; benchctl run --replay of the
stored report gives the same faults and forecast.

  test_forecast.py --bin DIR [--work DIR]      exit 0 pass, 1 fail, 77 skipped (no faketime)
"""
import argparse
import glob
import json
import os
import plistlib
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_benchd as tb  # noqa: E402
import test_cases as tc  # noqa: E402

from test_benchd import Fail, check, log  # noqa: E402

UDID, SERIAL, BATTERY = "00008030-00AB12CD34EF0166", "F17ZFCAST001", "F5D9347R3AHLTLVA6"
DESIGN = 3110
# (faketime start, cycle count, nominal capacity mAh -> health ceil(nominal / 3110 * 100))
VISITS = [("2026-03-09 15:20:00", 231, 2890),   # 93 %
          ("2026-07-14 11:05:00", 318, 2828),   # 91 %
          ("2026-11-20 10:00:00", 412, 2734)]   # 88 %
WANT = {"months_to_80": [8, 20], "basis": {"visits": 3, "cycles": 181, "days": 256}}


def set_battery(pdir, cycles, nominal):
    """The profile's battery after some months of use: every place the drivers may read it."""
    pl = os.path.join(pdir, "device.plist")
    with open(pl, "rb") as f:
        d = plistlib.load(f)
    asb = d["IORegistry"]["AppleSmartBattery"]
    asb["CycleCount"] = cycles
    asb["BatteryData"]["CycleCount"] = cycles
    asb["NominalChargeCapacity"] = nominal
    asb["AppleRawMaxCapacity"] = nominal + 20
    for k in ("All", "GasGauge"):
        gg = d["Diagnostics"].get(k, {}).get("GasGauge")
        if gg is not None:
            gg["CycleCount"] = cycles
    with open(pl, "wb") as f:
        plistlib.dump(d, f)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--work", default="")
    tb.A = p.parse_args()
    # libfaketime preloaded into benchd itself (the faketime wrapper would sit between the test
    # and benchd's pid, so SIGTERM would not reach it).
    libs = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
    faketime = libs[0] if libs else None
    if faketime is None:
        print("SKIP: faketime is not installed (scripts/packages/forecast.test.txt; scripts/deps --test)")
        return 77
    work = tb.A.work or tempfile.mkdtemp(prefix="benchd-forecast-")
    os.makedirs(work, exist_ok=True)
    try:
        run(work, faketime)
        print("PASS: forecast")
        return 0
    except Fail as e:
        print("FAIL: forecast: %s" % e)
        for name in sorted(os.listdir(work)):
            if name.endswith(".log"):
                with open(os.path.join(work, name), errors="replace") as f:
                    print("---- %s\n%s" % (name, f.read()[-6000:]))
        return 1
    finally:
        for proc in tc.STARTED:
            pp = getattr(proc, "p", proc)
            if pp.poll() is None:
                pp.kill()
                pp.wait()
        if not tb.A.work:
            shutil.rmtree(work, ignore_errors=True)


def run(work, faketime):
    pdir = tc.profile(work, "visits-11", "worn-battery-11", UDID, SERIAL)
    emu = tc.detached_emu(work, [(UDID, SERIAL, pdir)])
    b = tc.bench(work)
    # faketime preloads itself: ASan must not insist on coming first (TESTING.md, as umockdev).
    env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "detect_leaks=1") + ":verify_asan_link_order=0",
           "LD_PRELOAD": faketime, "FAKETIME_DONT_FAKE_MONOTONIC": "1", "TZ": "UTC"}
    reports = []
    for i, (when, cycles, nominal) in enumerate(VISITS):
        set_battery(pdir, cycles, nominal)
        env["FAKETIME"] = "@" + when   # the clock starts at the visit's date and runs
        b.start(env=env)
        emu.attach(pdir)
        s = tc.latest_session(b, UDID, i + 1)
        check(s["state"] == "done" and s.get("report_id"), "visit %d: session %s" % (i + 1, s))
        rep = tc.payload(b, s["report_id"])
        bat = rep["readings"]["battery"]
        check(bat["cycle_count"] == cycles and bat["health_pct"] == -(-nominal * 100 // DESIGN) and
              bat.get("serial") == BATTERY and rep["readings"]["captured_at"].startswith(when[:10]),
              "visit %d read %s cycles, %s %% on %s" % (i + 1, bat.get("cycle_count"), bat.get("health_pct"),
                                                      rep["readings"]["captured_at"]))
        log("visit %d: %s, %d cycles, %d %%: history %d rows, forecast %s" % (
            i + 1, rep["readings"]["captured_at"], bat["cycle_count"], bat["health_pct"],
            len(rep["inputs"]["history"]), rep["readings"].get("battery_forecast")))
        reports.append(rep)
        emu.detach(UDID)
        if i < len(VISITS) - 1:
            b.stop()

    r1, r2, r3 = reports
    check(r1["inputs"]["history"] == [] and r1["readings"]["battery_forecast"] == {"status": "too early"},
          "visit 1: no history, too early (%s)" % r1["readings"].get("battery_forecast"))
    # Two readings 87 cycles and 2 points apart: enough for a forecast, but a wide one (the model's
    # normal slope still weighs a fifth).
    f2 = r2["readings"]["battery_forecast"]
    check(len(r2["inputs"]["history"]) == 1 and f2 == {"months_to_80": [10, 47],
                                                       "basis": {"visits": 2, "cycles": 87, "days": 127}},
          "visit 2: one earlier reading, a wide interval: %s" % f2)
    h = r3["inputs"]["history"]
    check([(x["cycle_count"], x["health_pct"], x["battery_serial"], x["at"][:10]) for x in h] ==
          [(231, 93, BATTERY, "2026-03-09"), (318, 91, BATTERY, "2026-07-14")],
          "visit 3: inputs.history holds visits 1 and 2, oldest first: %s" % h)
    check(all(x["design_capacity_mah"] == DESIGN and x["nominal_capacity_mah"] in (2890, 2828) for x in h),
          "the history rows carry the capacities: %s" % h)
    check(r3["readings"]["battery_forecast"] == WANT,
          "visit 3: forecast %s, want %s" % (r3["readings"]["battery_forecast"], WANT))
    check(WANT["months_to_80"][1] - WANT["months_to_80"][0] < f2["months_to_80"][1] - f2["months_to_80"][0],
          "a third visit narrows the interval")
    check([f["code"] for f in r3["faults"] if f["code"] == "BAT-010"] == [], "0.7x normal wear: no BAT-010")

    # benchctl history shows the forecast (JSON and text).
    rc, hist, err = tc.ctl(b, "history", SERIAL)
    check(rc == 0 and hist["battery_forecast"] == WANT and
          hist["battery_forecast_report_id"] == r3["report_id"], "benchctl history --json: %s" % hist)
    rc, text, err = tc.ctl_text(b, "history", SERIAL)
    check(rc == 0 and "battery forecast: 80 % in 8 to 20 months (from 3 visits, 181 cycles, 256 days" in text,
          "benchctl history text:\n" + text)

    # A revision over the same snapshot keeps the inputs and the forecast.
    rc, a, err = tc.ctl(b, "link", SERIAL, "T-4242")
    check(rc == 0, "link: %s" % err)
    rl = tc.payload(b, a["report_id"])
    check(rl["case"]["ticket"] == "T-4242" and rl["inputs"] == r3["inputs"] and
          rl["readings"]["battery_forecast"] == WANT, "the linked revision keeps inputs.history and the forecast")
    b.stop()
    emu.stop()

    # The stored report replays to the same faults and forecast (another state dir: no benchd).
    other = os.path.join(work, "replay-state")
    path = os.path.join(b.state, "reports", r3["report_id"] + ".jws.json")
    r = subprocess.run([os.path.join(tb.A.bin, "benchctl"), "--state-dir", other, "--json", "run", "--replay", path],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "run --replay: %s" % r.stderr)
    out = json.loads(r.stdout)
    rr = tc.payload(type("S", (), {"state": other})(), out["report_id"])
    check(out["replay"]["same"] and rr["faults"] == r3["faults"] and rr["readings"]["battery_forecast"] == WANT and
          rr["inputs"] == r3["inputs"], "the replay gives the same faults and forecast: %s" % out["replay"])


if __name__ == "__main__":
    sys.exit(main())
