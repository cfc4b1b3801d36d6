#!/bin/bash
# Every bundled profile (tests/profiles/*/) loads together; idevice_id lists each UDID and a full
# ideviceinfo session on each returns the ProductType written in its device.plist (the unpaired
# profile is paired by the tool on the way, as with a real phone; a TrustPending one fails with
# the pairing-dialog error).
. "$(dirname "$0")/core-lib.sh"
P="$(dirname "$0")/../../profiles"
dirs=()
for d in "$P"/*/; do
	[ -f "$d/device.plist" ] && dirs+=("${d%/}")
done
[ ${#dirs[@]} -gt 0 ] || fail "no bundled profiles under $P"
emu_start "${dirs[@]}"

plist_value() { # FILE KEY: the first <string> after <key>KEY</key>
	grep -A1 "<key>$2</key>" "$1" | sed -n 's:.*<string>\(.*\)</string>.*:\1:p' | head -n1
}
ids=$(timeout 20 idevice_id -l) || fail "idevice_id -l"
for d in "${dirs[@]}"; do
	u=$(plist_value "$d/device.plist" UniqueDeviceID)
	want=$(plist_value "$d/device.plist" ProductType)
	grep -qx "$u" <<<"$ids" || fail "$d: $u not listed by idevice_id ($ids)"
	if grep -A1 "<key>TrustPending</key>" "$d/device.plist" | grep -q "<true/>"; then
		# the trust dialog is up: the tool's handshake cannot pair and must say so
		got=$(timeout 20 ideviceinfo -u "$u" -k ProductType 2>&1) && fail "$d: TrustPending answered '$got'"
		grep -q "Pairing dialog response pending" <<<"$got" || fail "$d: TrustPending said '$got'"
		continue
	fi
	got=$(timeout 20 ideviceinfo -u "$u" -k ProductType) || fail "$d: ideviceinfo failed"
	[ "$got" = "$want" ] || fail "$d: ProductType '$got', profile says '$want'"
done
emu_stop
echo PASS
