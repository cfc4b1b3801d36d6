#!/bin/sh
# idevicediagnostics (libimobiledevice 1.3.0) against idevice-emu's diagnostics_relay.
# Usage: svc-diag.sh EMU PROFILES CASE [SVC_CHECK]
EMU=$1 PROFILES=$2 CASE=$3 SVC_CHECK=${4:-}
. "$(dirname "$0")/svc-lib.sh"

WORN=00008030-001A35E21A05802E
HEALTHY=00008130-000A1C2E3B4D801E

# The value after <key>K</key> in the tool's XML output.
xml_val() {
	sed -n "/<key>$1<\/key>/{n;s/^[[:space:]]*<[a-z]*>\(.*\)<\/[a-z]*>/\1/p;q}" "$T/out"
}

case $CASE in
ioreg)
	svc_start "$PROFILES/worn-battery-11"
	run 60 idevicediagnostics -u $WORN ioregentry AppleSmartBattery
	[ $RC -eq 0 ] || fail "ioregentry exited $RC"
	[ "$(xml_val InstantAmperage)" = "-498" ] || fail "InstantAmperage is '$(xml_val InstantAmperage)', want -498"
	[ "$(xml_val Amperage)" = "-491" ] || fail "Amperage is '$(xml_val Amperage)', want -491"
	[ "$(xml_val DesignCapacity)" = "3110" ] || fail "DesignCapacity wrong"
	[ "$(xml_val NominalChargeCapacity)" = "2380" ] || fail "NominalChargeCapacity wrong"
	[ "$(xml_val CycleCount)" = "720" ] || fail "CycleCount wrong"
	[ "$(xml_val Temperature)" = "3120" ] || fail "Temperature wrong"
	grep -q "<key>IORegistry</key>" "$T/out" || fail "reply not under Diagnostics/IORegistry"
	# An entry the device does not have: success with an empty registry, like a real phone.
	run 60 idevicediagnostics -u $WORN ioregentry AppleNoSuchEntry
	[ $RC -eq 0 ] || fail "unknown entry exited $RC"
	grep -q "<dict/>" "$T/out" || fail "unknown entry is not an empty dict"
	;;
gasgauge)
	svc_start "$PROFILES/worn-battery-11" "$PROFILES/healthy-15pro"
	run 60 idevicediagnostics -u $WORN diagnostics GasGauge
	[ $RC -eq 0 ] || fail "diagnostics GasGauge exited $RC"
	grep -q "<key>GasGauge</key>" "$T/out" || fail "no GasGauge dict"
	[ "$(xml_val CycleCount)" = "720" ] || fail "GasGauge CycleCount wrong"
	[ "$(xml_val FullChargeCapacity)" = "100" ] || fail "GasGauge FullChargeCapacity wrong"
	run 60 idevicediagnostics -u $HEALTHY diagnostics All
	[ $RC -eq 0 ] || fail "diagnostics All exited $RC"
	for k in GasGauge HDMI NAND WiFi; do
		grep -q "<key>$k</key>" "$T/out" || fail "All lacks $k"
	done
	[ "$(xml_val CycleCount)" = "180" ] || fail "All/GasGauge CycleCount wrong"
	run 60 idevicediagnostics -u $HEALTHY diagnostics NAND
	[ $RC -eq 0 ] && grep -q "<key>NAND</key>" "$T/out" || fail "diagnostics NAND"
	run 60 idevicediagnostics -u $HEALTHY sleep
	[ $RC -eq 0 ] || fail "sleep exited $RC"
	grep -q "deep sleep" "$T/out" || fail "sleep not acknowledged"
	;;
gestalt)
	svc_start "$PROFILES/worn-battery-11" "$PROFILES/healthy-15pro"
	# iOS 17.5.1: every key answers MobileGestaltDeprecated inside a successful reply.
	run 60 idevicediagnostics -u $HEALTHY mobilegestalt ProductType
	[ $RC -eq 0 ] || fail "mobilegestalt (deprecated) exited $RC"
	grep -q "<key>MobileGestalt</key>" "$T/out" || fail "no MobileGestalt dict"
	[ "$(xml_val Status)" = "MobileGestaltDeprecated" ] || fail "deprecated status missing"
	grep -q "iPhone16,1" "$T/out" && fail "deprecated answer leaked a value"
	# iOS 16.7.2 still answers.
	run 60 idevicediagnostics -u $WORN mobilegestalt ProductType SerialNumber NoSuchKey
	[ $RC -eq 0 ] || fail "mobilegestalt exited $RC"
	[ "$(xml_val ProductType)" = "iPhone12,1" ] || fail "ProductType wrong"
	[ "$(xml_val SerialNumber)" = "F17ZD1QRN72J" ] || fail "SerialNumber wrong"
	[ "$(xml_val Status)" = "Success" ] || fail "Status not Success"
	grep -q NoSuchKey "$T/out" && fail "an unknown key was answered"
	;;
locked)
	svc_start "$PROFILES/locked-13"
	start=$(now_ms)
	run 60 idevicediagnostics -u 00008110-001E6D4A3C29002E diagnostics GasGauge
	took=$(($(now_ms) - start))
	[ $RC -ne 0 ] || fail "a locked phone answered diagnostics"
	[ $RC -ne 124 ] || fail "idevicediagnostics hung on a locked phone"
	grep -q "Could not start diagnostics service" "$T/out" || fail "not the StartService error"
	[ $took -lt 15000 ] || fail "took $took ms to fail (a lockdown timeout is 30 s)"
	;;
disconnect)
	svc_copy healthy-15pro "<key>DisconnectAfter</key><string>diagnostics</string>"
	svc_start "$T/healthy-15pro"
	run 60 idevicediagnostics -u $HEALTHY diagnostics GasGauge
	[ $RC -ne 124 ] || fail "idevicediagnostics hung after the drop"
	[ $RC -ne 0 ] || fail "a dropped connection counted as success"
	grep -q "Unable to retrieve diagnostics" "$T/out" || fail "not the retrieval error"
	;;
latency)
	svc_copy healthy-15pro "<key>LatencyMs</key><integer>300</integer>"
	svc_start "$T/healthy-15pro"
	SVC_UDID=$HEALTHY SVC_PROFILE="$T/healthy-15pro" SVC_LATENCY_MS=300 "$SVC_CHECK" test_latency \
	    >"$T/out" 2>&1 || fail "replies came faster than LatencyMs"
	grep -q "PASSED.*1 test" "$T/out" || fail "latency check did not run"
	;;
*)
	fail "unknown case $CASE"
	;;
esac
svc_stop
echo "ok: $CASE"
