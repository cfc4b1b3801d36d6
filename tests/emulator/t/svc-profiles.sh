#!/bin/sh
# The bundled profiles (tests/profiles): every one loads into idevice-emu and answers as the
# phone it claims to be, and the data keeps the promises of tests/profiles/README.md.
# Usage: svc-profiles.sh EMU PROFILES
EMU=$1 PROFILES=$2 CASE=profiles
. "$(dirname "$0")/svc-lib.sh"

# <key>K</key><string>V</string> from the Root domain (plistlib writes one per line pair).
root_val() {
	sed -n "/<key>$2<\/key>/{n;s/^[[:space:]]*<[a-z]*>\(.*\)<\/[a-z]*>/\1/p;q}" "$1/device.plist"
}

n=0
for p in "$PROFILES"/*/; do
	p=${p%/}
	name=$(basename "$p")
	[ -f "$p/device.plist" ] || continue
	n=$((n + 1))
	udid=$(root_val "$p" UniqueDeviceID)
	echo "$udid" | grep -Eq '^[0-9A-F]{8}-[0-9A-F]{16}$' || fail "$name: UDID '$udid' not in the 25-char form"
	echo "$udid" >>"$T/udids"
	ver=$(root_val "$p" ProductVersion)
	[ "${ver%%.*}" -ge 10 ] || fail "$name: ProductVersion $ver < 10"
	grep -q "BEGIN RSA PUBLIC KEY" "$p/device.plist" ||
	    grep -q "LS0tLS1CRUdJTiBSU0EgUFVCTElDIEtFWS0tLS0t" "$p/device.plist" ||
	    fail "$name: no RSA DevicePublicKey"
	[ "$(du -sk "$p" | cut -f1)" -lt 200 ] || fail "$name: larger than 200 KB"
	[ -s "$p/syslog.txt" ] || fail "$name: no syslog.txt"
	# every syslog line parses the way idevicesyslog 1.3.0 expects (spaces at 3, 6, 15)
	grep -Evq '^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [^ ]+ [^ ]+\[[0-9]+\] <(Notice|Error|Warning|Debug)>: ' \
	    "$p/syslog.txt" && fail "$name: a syslog line is not in the device format"
	# .ips reports: a JSON header line with bug_type, a body naming this ProductType
	pt=$(root_val "$p" ProductType)
	for f in $(find "$p/crashes" -name '*.ips' 2>/dev/null); do
		head -n 1 "$f" | grep -q '^{"bug_type":"[0-9]*"' || fail "$name: $f has no bug_type header"
		grep -q "\"product\": \"$pt\"" "$f" || fail "$name: $f does not name $pt"
	done
	set -- "$@" "$p"
done
[ $n -ge 5 ] || fail "only $n profiles"
[ "$(sort "$T/udids" | uniq -d)" = "" ] || fail "duplicate UDIDs: $(sort "$T/udids" | uniq -d)"
shift 2
svc_start "$@"
for p in "$@"; do
	udid=$(root_val "$p" UniqueDeviceID)
	# -s: no session, so locked and untrusted phones answer too
	run 60 ideviceinfo -s -u "$udid" -k ProductType
	[ $RC -eq 0 ] || fail "$(basename "$p"): ideviceinfo exited $RC"
	[ "$(cat "$T/out")" = "$(root_val "$p" ProductType)" ] || fail "$(basename "$p"): wrong ProductType"
done
svc_stop
echo "ok: $n profiles"
