#!/bin/bash
# Bad profiles stop the emulator at startup with exit status 1 and one line naming the file and
# the problem; no socket is left behind.
. "$(dirname "$0")/core-lib.sh"
U=00008030-0000000000000601

expect_bad() { # DIR PATTERN
	"$EMU" --socket "$T/mux.sock" "$1" >"$T/err" 2>&1
	rc=$?
	[ $rc -eq 1 ] || fail "$1: exit status $rc (want 1): $(cat "$T/err")"
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "$1: want one line, got: $(cat "$T/err")"
	grep -q -- "$2" "$T/err" || fail "$1: '$(cat "$T/err")' does not match '$2'"
	[ ! -e "$T/mux.sock" ] || fail "$1: socket left behind"
}

mkdir -p "$T/garbage" && echo '<plist><dict><key>x' >"$T/garbage/device.plist"
expect_bad "$T/garbage" "$T/garbage/device.plist: not a valid XML property list"
mkdir -p "$T/empty"
expect_bad "$T/empty" "$T/empty/device.plist: cannot read"
expect_bad "$T/nonexistent" "$T/nonexistent: not a profile directory"
emu_profile "$T/noudid" ""
expect_bad "$T/noudid" "device.plist: Lockdown/Root/UniqueDeviceID must be"
emu_profile "$T/lat" $U '<key>Behaviour</key><dict><key>LatencyMs</key><string>5</string></dict>'
expect_bad "$T/lat" "device.plist: Behaviour/LatencyMs must be an integer"
emu_profile "$T/typo" $U '<key>Behaviour</key><dict><key>Pared</key><true/></dict>'
expect_bad "$T/typo" "unknown Behaviour key 'Pared'"
emu_profile "$T/disc" $U '<key>Behaviour</key><dict><key>DisconnectAfter</key><string>never</string></dict>'
expect_bad "$T/disc" "Behaviour/DisconnectAfter must be one of"
emu_profile "$T/pid" $U '<key>ProductID</key><string>x</string>'
expect_bad "$T/pid" "ProductID must be an integer"

# the same UDID twice
emu_profile "$T/a" $U
emu_profile "$T/b" $U
"$EMU" --socket "$T/mux.sock" "$T/a" "$T/b" >"$T/err" 2>&1 && fail "a duplicate UDID started"
grep -q "already attached" "$T/err" || fail "duplicate UDID: $(cat "$T/err")"
echo PASS
