#!/bin/sh
# bench.smoke: bench.py --smoke works end to end and its last line is the JSON it promises.
#   smoke.sh PYTHON BENCH_PY BINDIR
set -eu
py=$1 bench=$2 bin=$3
for t in ideviceinfo idevicediagnostics idevicecrashreport; do
  command -v $t >/dev/null || { echo "SKIP: $t missing (libimobiledevice-utils)"; exit 77; }
done
out=$("$py" "$bench" --smoke --bin "$bin")
echo "$out"
echo "$out" | tail -n 1 | "$py" -c '
import json, sys
d = json.loads(sys.stdin.read())
s, f, p = d["single"], d["fleet"][0], d["parse"]
assert s["stock_median_s"] > 0 and s["benchctl_median_s"] > 0 and s["ratio"] > 0, s
assert f["devices"] == 4 and 0 < f["p50_s"] <= f["p95_s"] <= f["max_s"], f
assert f["benchd_vmhwm_mb"] > 0 and f["reports_per_s"] > 0, f
assert p["crash_files"] >= 10 and p["signatures"] > 0 and p["syslog_ms_per_mib"] > 0, p
print("smoke: JSON ok")
'
