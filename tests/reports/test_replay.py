#!/usr/bin/env python3
"""benchctl run --history and --replay as a user runs them (issue 16): a run with a battery
history records it under inputs.history and puts the forecast in readings; --replay of the
stored report (by id, or by file elsewhere) signs a new report with the same outcome, faults,
forecast and inputs, and says so; a replay under changed trees says what differs; a snapshot
that is not the report's, a history that is not one and replay options that contradict the
report are refused with one line and exit 2."""
import base64
import json
import os
import shutil

from common import TempDir, check, finish, run

SOURCE = os.environ["SOURCE_DIR"]
TREES = os.path.join(SOURCE, "diag-trees")
CASE = json.load(open(os.path.join(TREES, "tests", "forecast-twice-normal-wear.json"), encoding="utf-8"))


def payload(path):
    s = json.load(open(path))["payload"]
    return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))


def one_line(err):
    return len(err.strip().splitlines()) == 1


with TempDir() as tmp:
    state = os.path.join(tmp, "state")
    snap, hist = os.path.join(tmp, "snap.json"), os.path.join(tmp, "history.json")
    json.dump(CASE["snapshot"], open(snap, "w"))
    json.dump(CASE["history"], open(hist, "w"))
    want = CASE["expect"]["readings"]["battery_forecast"]

    rc, out, err = run(["--json", "run", "--snapshot", snap, "--history", hist, "--trees-dir", TREES], state)
    check(rc == 0, "run --snapshot --history exits 0 (%s)" % err.strip())
    s1 = json.loads(out)
    r1 = payload(s1["report_path"])
    check(r1["inputs"] == {"history": CASE["history"]}, "the report keeps the history under inputs.history")
    check(r1["readings"]["battery_forecast"] == want and s1["battery_forecast"] == want,
          "readings.battery_forecast (and the summary) is %s" % want)
    check(r1["readings"]["battery"]["health_pct"] == CASE["snapshot"]["battery"]["health_pct"],
          "the snapshot's battery reading is still there beside the derived one")
    check(sorted(f["code"] for f in r1["faults"]) == ["BAT-010"], "2x normal wear over 150 cycles: BAT-010")
    rc, out, err = run(["run", "--snapshot", snap, "--history", hist, "--trees-dir", TREES], state)
    check(rc == 0 and "battery forecast: 80 % in 1 to 3 months (from 3 visits, 150 cycles, 150 days)" in out,
          "the text summary states the forecast (%s)" % out.strip().splitlines()[-4:])

    # Without the history the same snapshot has no forecast to give: the history is an input.
    rc, out, err = run(["--json", "run", "--snapshot", snap, "--trees-dir", TREES], state)
    r0 = payload(json.loads(out)["report_path"])
    check(rc == 0 and r0["inputs"] == {"history": []} and r0["readings"]["battery_forecast"] == {"status": "too early"}
          and r0["faults"] == [], "without --history: inputs.history [], too early, no BAT-010")

    # Replay by report id.
    rc, out, err = run(["--json", "run", "--replay", s1["report_id"], "--trees-dir", TREES], state)
    check(rc == 0, "run --replay REPORT_ID exits 0 (%s)" % err.strip())
    s2 = json.loads(out)
    r2 = payload(s2["report_path"])
    check(s2["replay"] == {"of": s1["report_id"], "same": True, "differences": []}, "--json says the replay is the same")
    check(r2["report_id"] != r1["report_id"] and r2["faults"] == r1["faults"] and
          r2["readings"]["battery_forecast"] == want and r2["inputs"] == r1["inputs"] and
          r2["snapshot_sha256"] == r1["snapshot_sha256"] and r2["outcome"] == r1["outcome"],
          "the replayed report: a new report with the same faults, forecast, inputs and snapshot")
    rc, out, err = run(["run", "--replay", s1["report_id"], "--trees-dir", TREES], state)
    check(rc == 0 and "replay of %s: the same outcome, faults and readings (forecast)" % s1["report_id"] in out,
          "the text summary says the replay is the same")

    # Replay of a report file copied elsewhere, with its snapshot beside it.
    away = os.path.join(tmp, "away")
    os.mkdir(away)
    for p in (s1["report_path"], s1["snapshot_path"]):
        shutil.copy(p, away)
    copy = os.path.join(away, os.path.basename(s1["report_path"]))
    rc, out, err = run(["--json", "run", "--replay", copy, "--trees-dir", TREES], state)
    check(rc == 0 and json.loads(out)["replay"]["same"], "--replay FILE works on a copy with its snapshot beside it")

    # Changed trees: the replay runs, and says what differs and why.
    trees2 = os.path.join(tmp, "trees2")
    shutil.copytree(TREES, trees2, ignore=shutil.ignore_patterns("tests"))
    lua = open(os.path.join(trees2, "battery.lua")).read()
    check("fast = 1.5," in lua, "battery.lua names its BAT-010 threshold (fast = 1.5)")
    open(os.path.join(trees2, "battery.lua"), "w").write(lua.replace("fast = 1.5,", "fast = 3.0,"))
    rc, out, err = run(["--json", "run", "--replay", s1["report_id"], "--trees-dir", trees2], state)
    d = json.loads(out)["replay"] if rc == 0 else {}
    check(rc == 0 and d["same"] is False and any(x.startswith("faults:") for x in d["differences"]) and
          any("tree battery changed since" in x for x in d["differences"]),
          "under changed trees the replay differs in its faults and names the changed tree (%s)" % d)

    # Refusals: one line, exit 2.
    bad = os.path.join(tmp, "bad")
    shutil.copytree(away, bad)
    sp = os.path.join(bad, os.path.basename(s1["snapshot_path"]))
    open(sp, "a").write(" ")
    rc, out, err = run(["run", "--replay", os.path.join(bad, os.path.basename(copy)), "--trees-dir", TREES], state)
    check(rc == 2 and one_line(err) and "SHA-256" in err, "a snapshot that is not the report's: refused (%d: %s)" % (rc, err.strip()))
    os.remove(sp)
    rc, out, err = run(["run", "--replay", os.path.join(bad, os.path.basename(copy)), "--trees-dir", TREES], state)
    check(rc == 1 and one_line(err) and "snapshot" in err and "beside the report" in err,
          "no snapshot beside the report: exit 1 saying where it should be (%s)" % err.strip())
    rc, out, err = run(["run", "--replay", "00000000-0000-4000-8000-000000000000"], state)
    check(rc == 2 and one_line(err) and "cannot read the report" in err, "an unknown report id: exit 2 (%s)" % err.strip())
    rc, out, err = run(["run", "--replay", snap], state)
    check(rc == 2 and one_line(err) and "not a signed report" in err, "a snapshot is not a report to replay (%s)" % err.strip())
    rc, out, err = run(["run", "--replay", s1["report_id"], "--history", hist], state)
    check(rc == 2 and one_line(err) and "drop --tree, --answer, --ticket and --history" in err,
          "--replay with --history is refused: the report has its own (%s)" % err.strip())
    rc, out, err = run(["run", "--replay", s1["report_id"], "--snapshot", snap], state)
    check(rc == 2 and "exactly one of" in err, "--replay with --snapshot is refused")
    for text, code, what in (("[1, 2]", 2, "history reading 1 is not an object"),
                             ("{\"history\": []}", 2, "not a JSON array"),
                             ("[{\"at\": ", 2, "is not JSON"),
                             ("[" + ",".join(["{}"] * 1001) + "]", 2, "more than the 1000")):
        hp = os.path.join(tmp, "h-bad.json")
        open(hp, "w").write(text)
        rc, out, err = run(["run", "--snapshot", snap, "--history", hp, "--trees-dir", TREES], state)
        check(rc == code and one_line(err) and what in err, "--history %s...: exit %d, '%s' (%d: %s)" %
              (text[:12], code, what, rc, err.strip()))
    rc, out, err = run(["run", "--snapshot", snap, "--history", os.path.join(tmp, "none.json")], state)
    check(rc == 1 and one_line(err) and "cannot read the history" in err, "a missing history file: exit 1 (%s)" % err.strip())
    rc, out, err = run(["trees", "run", "--snapshot", snap, "--history", hist, "--trees-dir", TREES, "--tree", "battery"])
    check(rc == 0 and 'reading  battery_forecast: {"basis":{"cycles":150,"days":150,"visits":3},"months_to_80":[1,3]}' in out,
          "trees run --history prints the derived reading (%s)" % out.strip())

finish()
