#!/bin/bash
# The stock tools, unmodified, against two emulated devices: idevice_id lists both UDIDs
# (8-16 form and the old 40-hex form), ideviceinfo reads all of Root, one key, a domain, and
# without a session; idevicepair validate succeeds on a paired profile; SIGTERM exits cleanly.
# Old firmware: iOS 9 makes the client cap TLS at 1.0, iOS 6 adds ValidatePair to the handshake.
. "$(dirname "$0")/core-lib.sh"
U1=00008030-001A35E21A05802E
U2=a1b2c3d4e5f60718293a4b5c6d7e8f9012345678
emu_profile "$T/p1" $U1
emu_profile "$T/p2" $U2
U3=00008030-0000000000000903
U4=00008030-0000000000000613
emu_profile "$T/p3" $U3
sed -i 's/16.7.2/9.3.5/' "$T/p3/device.plist"
emu_profile "$T/p4" $U4
sed -i 's/16.7.2/6.1.3/' "$T/p4/device.plist"
emu_start "$T/p1" "$T/p2" "$T/p3" "$T/p4"

ids=$(timeout 20 idevice_id -l) || fail "idevice_id -l failed"
[ "$(printf '%s\n' "$ids" | sort)" = "$(printf '%s\n' $U1 $U2 $U3 $U4 | sort)" ] ||
	fail "idevice_id -l printed '$ids'"

out=$(timeout 20 ideviceinfo -u $U1) || fail "ideviceinfo failed: $out"
grep -qx "UniqueDeviceID: $U1" <<<"$out" || fail "ideviceinfo lacks the UDID: $out"
grep -qx "ProductType: iPhone12,1" <<<"$out" || fail "ideviceinfo lacks ProductType: $out"
grep -qx "WiFiAddress: aa:bb:cc:dd:ee:01" <<<"$out" || fail "ideviceinfo lacks WiFiAddress"

v=$(timeout 20 ideviceinfo -u $U1 -k ProductVersion) || fail "ideviceinfo -k failed"
[ "$v" = 16.7.2 ] || fail "ideviceinfo -k ProductVersion printed '$v'"

b=$(timeout 20 ideviceinfo -u $U1 -q com.apple.mobile.battery) || fail "ideviceinfo -q failed"
grep -qx "BatteryCurrentCapacity: 78" <<<"$b" || fail "battery domain: '$b'"
grep -qx "BatteryIsCharging: false" <<<"$b" || fail "battery domain: '$b'"

v=$(timeout 20 ideviceinfo -u $U1 -s -k ProductType) || fail "ideviceinfo -s failed"
[ "$v" = iPhone12,1 ] || fail "ideviceinfo -s printed '$v'"

v=$(timeout 20 ideviceinfo -u $U2 -k UniqueDeviceID) || fail "ideviceinfo on the 40-hex UDID failed"
[ "$v" = $U2 ] || fail "40-hex UDID device answered '$v'"

v=$(timeout 20 ideviceinfo -u $U3 -k ProductVersion) || fail "ideviceinfo over TLS 1.0 (iOS 9) failed"
[ "$v" = 9.3.5 ] || fail "iOS 9 device answered '$v'"
v=$(timeout 20 ideviceinfo -u $U4 -k ProductVersion) || fail "ideviceinfo with ValidatePair (iOS 6) failed"
[ "$v" = 6.1.3 ] || fail "iOS 6 device answered '$v'"

# a key the profile does not have: MissingValue, the tool prints nothing
v=$(timeout 20 ideviceinfo -u $U1 -k NoSuchKey) || true
[ -z "$v" ] || fail "a missing key printed '$v'"

out=$(timeout 20 idevicepair -u $U1 validate) || fail "idevicepair validate failed: $out"
grep -q "SUCCESS: Validated pairing with device $U1" <<<"$out" || fail "validate said: $out"

timeout 20 "$EMU_CHECK" record $U1 || fail "the pair record of a paired profile is incomplete"

buid=$(timeout 20 idevicepair systembuid) || fail "idevicepair systembuid failed"
[[ "$buid" =~ ^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$ ]] || fail "BUID '$buid'"

emu_stop
echo PASS
