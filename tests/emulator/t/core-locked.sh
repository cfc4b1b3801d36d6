#!/bin/bash
# A PasscodeLocked profile: StartService answers PasswordProtected (seen through libimobiledevice
# as LOCKDOWN_E_PASSWORD_PROTECTED) and idevicediagnostics fails quickly instead of hanging.
# An unlocked profile starts the same service on a port; an unknown name is InvalidService.
. "$(dirname "$0")/core-lib.sh"
U1=00008030-0000000000000201
U2=00008030-0000000000000202
emu_profile "$T/p1" $U1 '<key>Behaviour</key><dict><key>PasscodeLocked</key><true/></dict>'
emu_profile "$T/p2" $U2
emu_start "$T/p1" "$T/p2"

out=$(timeout 20 "$EMU_CHECK" start-service $U1 com.apple.mobile.diagnostics_relay) &&
	fail "a locked device started a service"
[ "$out" = "error PasswordProtected" ] || fail "locked StartService: '$out'"

t0=$(date +%s%N)
timeout 20 idevicediagnostics -u $U1 diagnostics >/dev/null 2>&1
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ $rc -ne 0 ] || fail "idevicediagnostics succeeded on a locked device"
[ $rc -ne 124 ] || fail "idevicediagnostics hung on a locked device"
[ $ms -lt 10000 ] || fail "idevicediagnostics took $ms ms to fail"

out=$(timeout 20 "$EMU_CHECK" start-service $U2 com.apple.mobile.diagnostics_relay) ||
	fail "unlocked StartService failed: $out"
[[ "$out" =~ ^ok\ [0-9]+$ ]] || fail "unlocked StartService: '$out'"
out=$(timeout 20 "$EMU_CHECK" start-service $U2 com.example.nosuchservice) &&
	fail "an unknown service started"
[ "$out" = "error InvalidService" ] || fail "unknown service: '$out'"

emu_stop
echo PASS
