#!/bin/sh
# idevicesyslog and the crash-report mover ping against idevice-emu.
# Usage: svc-syslog.sh EMU PROFILES CASE
EMU=$1 PROFILES=$2 CASE=$3
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

case $CASE in
stream)
	svc_start "$PROFILES/worn-battery-11"
	# idevicesyslog streams until interrupted: give it 3 s, then check what arrived.
	run 3 idevicesyslog -u $WORN
	[ $RC -eq 124 ] || fail "idevicesyslog ended by itself ($RC): the stream should idle"
	expected "$PROFILES/worn-battery-11/syslog.txt" >"$T/want"
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
	run 3 idevicesyslog -u $WORN
	expected "$PROFILES/worn-battery-11/syslog.txt" >"$T/want"
	log_lines >"$T/got"
	n=$(wc -l <"$T/got")
	[ "$n" -ge 1 ] || fail "nothing arrived before the drop"
	[ "$n" -lt "$(wc -l <"$T/want")" ] || fail "the whole log arrived despite the drop"
	head -n "$n" "$T/want" | cmp -s - "$T/got" || fail "lines before the drop differ"
	;;
*)
	fail "unknown case $CASE"
	;;
esac
svc_stop
echo "ok: $CASE"
