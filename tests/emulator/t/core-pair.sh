#!/bin/bash
# Pairing: `idevicepair pair` on a Paired=false profile succeeds (DevicePublicKey, Pair,
# SavePairRecord) and the device then opens TLS sessions (before that, StartSession from an
# unknown host is InvalidHostID); a TrustPending profile refuses with
# the trust-dialog error; `idevicepair unpair` then `validate` pairs afresh.
. "$(dirname "$0")/core-lib.sh"
U1=00008030-0000000000000101
U2=00008030-0000000000000102
emu_profile "$T/p1" $U1 '<key>Behaviour</key><dict><key>Paired</key><false/></dict>'
emu_profile "$T/p2" $U2 '<key>Behaviour</key><dict><key>Paired</key><false/><key>TrustPending</key><true/></dict>'
emu_start "$T/p1" "$T/p2"

# before any pairing usbmuxd has no record and the device rejects a session from a host it does not know.
# The refusal itself is checked: exit 1 with "no pair record", not any failure (a crash is 139,
# a hang 124).
rc=0; out=$(timeout 20 "$EMU_CHECK" record $U1 2>&1) || rc=$?
[ "$rc" = 1 ] && [ "$out" = "no pair record for $U1" ] ||
	fail "an unpaired profile: want exit 1 and 'no pair record for $U1', got $rc: $out"
timeout 20 "$EMU_CHECK" bad-host $U1 || fail "an unpaired device did not answer InvalidHostID"

out=$(timeout 20 idevicepair -u $U1 pair) || fail "idevicepair pair failed: $out"
grep -q "SUCCESS: Paired with device $U1" <<<"$out" || fail "pair said: $out"
timeout 20 "$EMU_CHECK" record $U1 >/dev/null || fail "SavePairRecord did not keep the host's record"
v=$(timeout 20 ideviceinfo -u $U1 -k ProductType) || fail "ideviceinfo after pairing failed"
[ "$v" = iPhone12,1 ] || fail "after pairing: '$v'"
out=$(timeout 20 idevicepair -u $U1 validate) || fail "validate after pair failed: $out"

out=$(timeout 20 idevicepair -u $U2 pair 2>&1) && fail "pairing a TrustPending device succeeded: $out"
grep -q "accept the trust dialog" <<<"$out" || fail "TrustPending pair said: $out"
rc=0; out=$(timeout 20 ideviceinfo -u $U2 -k ProductType 2>&1) || rc=$?
[ "$rc" = 255 ] && grep -q "Could not connect to lockdownd: Pairing dialog response pending" <<<"$out" ||
	fail "a TrustPending device: want ideviceinfo's exit 255 (its -1 for a lockdown error) and the pairing-pending error, got $rc: $out"

out=$(timeout 20 idevicepair -u $U1 unpair) || fail "unpair failed: $out"
grep -q "SUCCESS: Unpaired" <<<"$out" || fail "unpair said: $out"
out=$(timeout 20 idevicepair -u $U1 validate) || fail "validate after unpair failed: $out"

emu_stop
echo PASS
