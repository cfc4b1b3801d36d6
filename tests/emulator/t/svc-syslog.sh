#!/bin/sh
# idevicesyslog against idevice-emu's syslog_relay (the mover ping is covered by svc-crash.sh).
# Usage: svc-syslog.sh EMU PROFILES CASE [EMU_CORE_CHECK]
EMU=$1 PROFILES=$2 CASE=$3 CTL=${4:-}
. "$(dirname "$0")/svc-lib.sh"

WORN=00008030-001A35E21A05802E

# The profile's lines as 1.3.0 prints them: "Mmm dd HH:MM:SS " then the rest without the
# device name (never printed by 1.3.0).
expected() {
	sed 's/^\(.\{16\}\)[^ ]* /\1/' "$1"
}

# The syslog records in the tool's output (not "[connected]", "Exiting..." and the like).
log_lines() {
	grep -E '^[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} ' "$T/out"
}

# Run idevicesyslog in the background until $1 records arrived or 30 s passed, run the
# command $3 (if any), wait up to $2 seconds (to see that nothing else comes, or for the tool
# to end), then interrupt it. RC: 1 if it ended by itself.
syslog_until() {
	idevicesyslog -x -u $WORN >"$T/out" 2>&1 &
	sp=$!
	i=0
	while [ "$(log_lines | wc -l)" -lt "$1" ] && [ $i -lt 300 ]; do
		kill -0 $sp 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	[ -z "${3:-}" ] || $3
	i=0
	while [ $i -lt $(($2 * 10)) ] && kill -0 $sp 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	RC=0
	kill -0 $sp 2>/dev/null || RC=1 # it ended by itself
	kill -INT $sp 2>/dev/null
	wait $sp 2>/dev/null
}

detach_worn() {
	"$CTL" control "$T/ctl.sock" "detach $WORN" >/dev/null || fail "control: detach refused"
}

case $CASE in
stream)
	svc_start "$PROFILES/worn-battery-11"
	expected "$PROFILES/worn-battery-11/syslog.txt" >"$T/want"
	syslog_until "$(wc -l <"$T/want")" 1
	[ $RC -eq 0 ] || fail "idevicesyslog ended by itself: the stream should idle"
	log_lines >"$T/got"
	cmp -s "$T/want" "$T/got" || {
		diff "$T/want" "$T/got" | head -20 >&2
		fail "syslog lines differ from the profile's"
	}
	grep -q "maximum capacity 77% below 80%" "$T/got" || fail "battery line missing"
	;;
disconnect)
	svc_copy worn-battery-11 "<key>DisconnectAfter</key><string>syslog</string>"
	svc_start "$T/worn-battery-11"
	expected "$PROFILES/worn-battery-11/syslog.txt" >"$T/want"
	syslog_until 1 2
	log_lines >"$T/got"
	n=$(wc -l <"$T/got")
	[ "$n" -ge 1 ] || fail "nothing arrived before the drop"
	[ "$n" -lt "$(wc -l <"$T/want")" ] || fail "the whole log arrived despite the drop"
	head -n "$n" "$T/want" | cmp -s - "$T/got" || fail "lines before the drop differ"
	;;
detach)
	# The device leaves while streaming: the tool (-x) sees it go and ends by itself.
	svc_start "$PROFILES/worn-battery-11"
	expected "$PROFILES/worn-battery-11/syslog.txt" >"$T/want"
	syslog_until "$(wc -l <"$T/want")" 10 detach_worn
	[ $RC -eq 1 ] || fail "idevicesyslog -x still running 10 s after the detach"
	log_lines | cmp -s "$T/want" - || fail "syslog lines differ from the profile's"
	grep -q "detached $WORN" "$T/emu.log" || fail "the emulator did not detach"
	;;
*)
	fail "unknown case $CASE"
	;;
esac
svc_stop
echo "ok: $CASE"
