#!/bin/bash
# Behaviour knobs: LatencyMs delays every lockdown reply (an ideviceinfo -k run has 5 replies);
# DisconnectAfter=handshake drops the lockdown connection so the tool fails fast, without
# affecting another device.
. "$(dirname "$0")/core-lib.sh"
U1=00008030-0000000000000501
U2=00008030-0000000000000502
U3=00008030-0000000000000503
emu_profile "$T/p1" $U1 '<key>Behaviour</key><dict><key>LatencyMs</key><integer>250</integer></dict>'
emu_profile "$T/p2" $U2 '<key>Behaviour</key><dict><key>DisconnectAfter</key><string>handshake</string></dict>'
emu_profile "$T/p3" $U3
emu_start "$T/p1" "$T/p2" "$T/p3"

t0=$(date +%s%N)
v=$(timeout 20 ideviceinfo -u $U1 -k ProductVersion) || fail "ideviceinfo on the slow device"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$v" = 16.7.2 ] || fail "slow device: '$v'"
[ $ms -ge 1250 ] || fail "5 replies at 250 ms took only $ms ms"

t0=$(date +%s%N)
timeout 20 ideviceinfo -u $U2 -k ProductVersion >/dev/null 2>&1
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ $rc -ne 0 ] || fail "ideviceinfo succeeded on a device that drops the handshake"
[ $rc -ne 124 ] || fail "ideviceinfo hung on a dropped handshake"
[ $ms -lt 10000 ] || fail "the dropped handshake took $ms ms to fail"

v=$(timeout 20 ideviceinfo -u $U3 -k ProductVersion) || fail "the healthy device failed"
[ "$v" = 16.7.2 ] || fail "healthy device: '$v'"
emu_stop
echo PASS
