#!/usr/bin/env python3
"""How honest is the battery forecast? Synthetic batteries with a known future go through the
real battery tree (benchctl trees run --history), and we count how often the months_to_80
interval holds the month the battery really reaches 80 %, and how often BAT-010 fires.

Each battery: a true wear slope (a multiple of the model's normal, drawn per scenario), a true
start level, readings that are ceil(true health + gauge wobble), daily use that varies day to day
and drifts month to month, three or more visits. Its future is simulated with the same
process, so "truth" is the day its true health crosses 80 %. The model the tree assumes
(linear wear, constant mean use) holds in the "model" scenarios and is broken on purpose in the
others (wear that speeds up, use that changes), so the figures show what the interval is worth
when the assumptions fail too.

  tests/bench/forecast_coverage.py --bin build-bench/bin [--n 300] [--seed 1] [--smoke]

--smoke (ctest) runs a few batteries and checks only that every forecast is well formed
(low <= high, months integers, basis sane). The printed coverage is the measurement; it is a
figure to read, not a pass/fail bar (the README quotes it).
"""
import argparse
import datetime
import json
import math
import os
import random
import subprocess
import sys
import tempfile

NOW = datetime.datetime(2026, 11, 20, 10, 0, 0)


def at(days):
    return (NOW - datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def daily_use(rng, mean, days, drift):
    """Cycles on each of `days` days: gamma day to day (cv 0.5), the mean drifting per 30 days."""
    out, m = [], mean
    for d in range(days):
        if d % 30 == 0:
            m = max(0.05, mean * math.exp(rng.gauss(0, drift)))
        out.append(rng.gammavariate(4.0, m / 4.0))
    return out


def battery(rng, rating, scenario):
    normal = 20.0 / rating
    factor = {"model": math.exp(rng.gauss(0, 0.4)), "fast": 2.0 * math.exp(rng.gauss(0, 0.1)),
              "accelerating": math.exp(rng.gauss(0, 0.4)), "habits": math.exp(rng.gauss(0, 0.4))}[scenario]
    slope = factor * normal
    start = 100.0 + rng.uniform(-1.0, 2.0)
    mean_use = rng.uniform(0.4, 1.5)
    drift = 0.6 if scenario == "habits" else 0.15
    # "accelerating": the wear per cycle grows by half again every 500 cycles (a cell past its
    # knee), so a straight line fitted to the past is too slow for the future.
    accel = 1.0 / 1000.0 if scenario == "accelerating" else 0.0

    def true_health(c):
        return start - slope * c * (1.0 + accel * c)

    past_days = rng.randint(150, 400)
    first_cycles = rng.randint(60, 250)
    use = daily_use(rng, mean_use, past_days + 3000, drift)
    cyc = [first_cycles]
    for u in use:
        cyc.append(cyc[-1] + u)
    nvisits = rng.choice([3, 3, 4, 5])
    visit_days = sorted(rng.sample(range(0, past_days - 20), nvisits - 1)) + [past_days]
    rows = []
    for vd in visit_days:
        c = int(cyc[vd])
        h = math.ceil(true_health(cyc[vd]) + rng.gauss(0, 0.4))
        rows.append((past_days - vd, c, min(h, 104)))
    now_c, now_h = rows[-1][1], rows[-1][2]
    cross = None
    for d in range(past_days, len(cyc)):
        if true_health(cyc[d]) <= 80.0:
            cross = (d - past_days) / 30.44
            break
    return rows, now_c, now_h, cross, factor


def run_tree(bin_dir, pt, rows, now_c, now_h, tmp):
    snap = {"schema": "benchd.snapshot/1", "captured_at": at(0),
            "device": {"product_type": pt, "mode": "normal", "lockdown": "ok"},
            "battery": {"health_pct": now_h, "cycle_count": now_c, "serial": "SIM1", "flags": []}}
    hist = [{"at": at(a), "battery_serial": "SIM1", "cycle_count": c, "health_pct": h} for a, c, h in rows[:-1]]
    sp, hp = os.path.join(tmp, "s.json"), os.path.join(tmp, "h.json")
    json.dump(snap, open(sp, "w"))
    json.dump(hist, open(hp, "w"))
    p = subprocess.run([os.path.join(bin_dir, "benchctl"), "--json", "trees", "run", "--snapshot", sp,
                        "--history", hp, "--tree", "battery"], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("benchctl trees run failed: " + p.stderr)
    r = json.loads(p.stdout)
    if r["errors"]:
        raise SystemExit("the battery tree erred: %s" % r["errors"])
    return r["readings"].get("battery_forecast"), [f["code"] for f in r["faults"]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()
    n = 4 if a.smoke else a.n
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in ("model", "fast", "accelerating", "habits"):
            rng = random.Random("%d-%s" % (a.seed, scenario))
            st = {"interval": 0, "covered": 0, "early": 0, "late": 0, "open": 0, "status": 0,
                  "bat010": 0, "bat010_wrong": 0, "bat010_missed": 0, "width": []}
            for _ in range(n):
                pt, rating = rng.choice([("iPhone14,5", 500), ("iPhone16,1", 1000)])
                rows, now_c, now_h, cross, factor = battery(rng, rating, scenario)
                fc, faults = run_tree(a.bin, pt, rows, now_c, now_h, tmp)
                if "BAT-010" in faults:
                    st["bat010"] += 1
                    if factor < 1.5:
                        st["bat010_wrong"] += 1
                elif factor >= 2.0 and fc is not None and "months_to_80" in fc:
                    st["bat010_missed"] += 1
                if fc is None or "status" in fc:
                    st["status"] += 1
                    continue
                lo, hi = fc["months_to_80"]
                if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi <= 60 and
                        fc["basis"]["visits"] >= 2 and fc["basis"]["cycles"] >= 50):
                    print("malformed forecast:", fc)
                    bad += 1
                if fc.get("open_ended"):
                    st["open"] += 1
                    if cross is None or cross >= lo:
                        st["covered"] += 1
                    else:
                        st["late"] += 1
                    st["interval"] += 1
                    continue
                st["interval"] += 1
                st["width"].append(hi - lo)
                if cross is not None and lo <= cross <= hi + 1:  # hi is rounded up to a whole month
                    st["covered"] += 1
                elif cross is not None and cross < lo:
                    st["late"] += 1      # the forecast said later than it happened
                else:
                    st["early"] += 1     # it happened after the interval
            k = st["interval"]
            w = sorted(st["width"])
            print("%-12s n=%d forecasts=%d covered=%.0f%% (too late %d, too soon %d) open-ended=%d "
                  "statuses=%d BAT-010=%d (on batteries under 1.5x: %d; 2x or more with a forecast and no "
                  "BAT-010: %d) median width=%s months" %
                  (scenario, n, k, 100.0 * st["covered"] / max(k, 1), st["late"], st["early"], st["open"],
                   st["status"], st["bat010"], st["bat010_wrong"], st["bat010_missed"],
                   w[len(w) // 2] if w else "-"))
    if bad:
        raise SystemExit("%d malformed forecasts" % bad)


main()
