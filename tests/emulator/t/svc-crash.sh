#!/bin/sh
# idevicecrashreport (crashreportmover + AFC) against idevice-emu.
# Usage: svc-crash.sh EMU PROFILES CASE [SVC_CHECK]
EMU=$1 PROFILES=$2 CASE=$3 SVC_CHECK=${4:-}
. "$(dirname "$0")/svc-lib.sh"

HEALTHY=00008130-000A1C2E3B4D801E
SMC=00008110-000C39D20A78801E

case $CASE in
keep)
	# -k copies byte for byte, subfolders included, and leaves everything on the device.
	svc_copy smc-14
	svc_copy healthy-15pro
	svc_start "$T/smc-14" "$T/healthy-15pro"
	for n in 1 2; do
		mkdir "$T/c$n"
		start=$(now_ms)
		run 60 idevicecrashreport -u $SMC -k "$T/c$n"
		took=$(($(now_ms) - start))
		[ $RC -eq 0 ] || fail "run $n exited $RC"
		# Without the mover's "ping" the tool waits 10 x 2 s: a faster run proves it came.
		[ $took -lt 15000 ] || fail "run $n took $took ms (no ping from crashreportmover?)"
		grep -q "File size mismatch" "$T/out" && fail "size mismatch on run $n"
		diff -r "$PROFILES/smc-14/crashes" "$T/c$n" >&2 || fail "run $n: files differ from the profile"
	done
	grep -c "^Copy: " "$T/out" | grep -qx 5 || fail "expected 5 reports copied"
	mkdir "$T/h"
	run 60 idevicecrashreport -u $HEALTHY -k "$T/h"
	[ $RC -eq 0 ] || fail "healthy exited $RC"
	[ -f "$T/h/Retired/JetsamEvent-2026-11-19-141502.ips" ] || fail "subfolder not kept"
	diff -r "$PROFILES/healthy-15pro/crashes" "$T/h" >&2 || fail "healthy files differ"
	;;
move)
	# Without -k the tool removes what it copied: the device stops listing the reports, but the
	# profile's files on disk stay untouched.
	svc_copy smc-14
	(cd "$T/smc-14/crashes" && ls -lR --time-style=+%s . | cksum) >"$T/before"
	svc_start "$T/smc-14"
	mkdir "$T/m1" "$T/m2"
	run 60 idevicecrashreport -u $SMC "$T/m1"
	[ $RC -eq 0 ] || fail "move exited $RC"
	grep -c "^Move: " "$T/out" | grep -qx 5 || fail "expected 5 reports moved"
	diff -r "$PROFILES/smc-14/crashes" "$T/m1" >&2 || fail "moved files differ"
	diff -r "$PROFILES/smc-14/crashes" "$T/smc-14/crashes" >&2 || fail "the profile's files changed"
	(cd "$T/smc-14/crashes" && ls -lR --time-style=+%s . | cksum) | cmp -s - "$T/before" ||
	    fail "the profile's folder changed"
	run 60 idevicecrashreport -u $SMC -k "$T/m2"
	[ $RC -eq 0 ] || fail "second run exited $RC"
	[ -z "$(ls -A "$T/m2")" ] || fail "removed reports are still listed"
	;;
empty)
	# No crashes/ folder: a phone with nothing to report, not an error.
	svc_copy healthy-15pro
	rm -rf "$T/healthy-15pro/crashes"
	svc_start "$T/healthy-15pro"
	mkdir "$T/e"
	run 60 idevicecrashreport -u $HEALTHY -k "$T/e"
	[ $RC -eq 0 ] || fail "empty device exited $RC"
	grep -q "^Done." "$T/out" || fail "no Done."
	[ -z "$(ls -A "$T/e")" ] || fail "files from an empty device"
	;;
edge)
	# Corners the tools never reach (t/svc-check.c, real libimobiledevice clients).
	svc_copy healthy-15pro
	svc_start "$T/healthy-15pro"
	SVC_UDID=$HEALTHY SVC_PROFILE="$T/healthy-15pro" "$SVC_CHECK" >"$T/out" 2>&1 || fail "service edge cases"
	cat "$T/out"
	diff -r "$PROFILES/healthy-15pro/crashes" "$T/healthy-15pro/crashes" >&2 ||
	    fail "the profile's files changed"
	;;
disconnect)
	svc_copy healthy-15pro "<key>DisconnectAfter</key><string>afc</string>"
	svc_start "$T/healthy-15pro"
	mkdir "$T/d"
	run 60 idevicecrashreport -u $HEALTHY -k "$T/d"
	[ $RC -ne 124 ] || fail "idevicecrashreport hung after the drop"
	diff -r "$PROFILES/healthy-15pro/crashes" "$T/d" >/dev/null 2>&1 &&
	    fail "every report arrived despite the drop"
	;;
*)
	fail "unknown case $CASE"
	;;
esac
svc_stop
echo "ok: $CASE"
