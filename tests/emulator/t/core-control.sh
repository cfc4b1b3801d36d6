#!/bin/bash
# The control socket: list, attach (also refusing duplicates and bad profiles, one line each),
# detach; a detach ends a connected lockdown session at once and Listen clients (libusbmuxd's
# event API) see Detached then Attached.
. "$(dirname "$0")/core-lib.sh"
U1=00008030-0000000000000301
U2=00008030-0000000000000302
emu_profile "$T/p1" $U1
emu_profile "$T/p2" $U2
mkdir -p "$T/bad" && echo 'not a plist' >"$T/bad/device.plist"
emu_start "$T/p1"

[ "$(emu_ctl list)" = "ok 1 $U1" ] || fail "list: $(emu_ctl list)"
out=$(emu_ctl "attach $T/p2") || fail "attach failed: $out"
[[ "$out" =~ ^ok\ $U2\ [0-9]+$ ]] || fail "attach answered '$out'"
[ "$(emu_ctl list)" = "ok 2 $U1 $U2" ] || fail "list after attach: $(emu_ctl list)"
ids=$(timeout 20 idevice_id -l | sort | tr '\n' ' ')
[ "$ids" = "$U1 $U2 " ] || fail "idevice_id after attach: '$ids'"
v=$(timeout 20 ideviceinfo -u $U2 -k UniqueDeviceID) || fail "ideviceinfo on the attached device"
[ "$v" = $U2 ] || fail "attached device answered '$v'"

out=$(emu_ctl "attach $T/p2") && fail "a duplicate attach succeeded"
[[ "$out" == "error "*"already attached"* ]] || fail "duplicate attach: '$out'"
out=$(emu_ctl "attach $T/bad") && fail "a bad profile attached"
[[ "$out" == "error $T/bad/device.plist: "* ]] || fail "bad profile: '$out'"
out=$(emu_ctl "attach $T/nonexistent") && fail "a missing profile attached"
[[ "$out" == "error "* ]] || fail "missing profile: '$out'"
out=$(emu_ctl "frobnicate") && fail "an unknown command succeeded"
[[ "$out" == "error unknown command"* ]] || fail "unknown command: '$out'"
out=$(emu_ctl "detach 00000000-0000000000000000") && fail "detaching a missing device succeeded"

timeout 30 "$EMU_CHECK" detach-ends $U1 "$T/ctl.sock" || fail "detach did not end the session"
[ "$(emu_ctl list)" = "ok 1 $U2" ] || fail "list after detach: $(emu_ctl list)"
ids=$(timeout 20 idevice_id -l)
[ "$ids" = "$U2" ] || fail "idevice_id after detach: '$ids'"

timeout 30 "$EMU_CHECK" events $U2 "$T/ctl.sock" "$T/p2" || fail "Listen events"
kill -0 "$EMU_PID" || fail "emulator died"
emu_stop
echo PASS
