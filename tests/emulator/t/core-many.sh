#!/bin/bash
# 64 devices at once: all listed by idevice_id, and 64 concurrent ideviceinfo runs (each a full
# TLS session) each get their own device's UDID back.
. "$(dirname "$0")/core-lib.sh"
N=64
profiles=()
for i in $(seq 1 $N); do
	u=$(printf '00008030-%016X' $i)
	emu_profile "$T/p$i" "$u"
	profiles+=("$T/p$i")
done
emu_start "${profiles[@]}"

n=$(timeout 20 idevice_id -l | sort -u | wc -l)
[ "$n" -eq $N ] || fail "idevice_id -l listed $n devices, not $N"
[ "$(emu_ctl list | cut -d' ' -f2)" = $N ] || fail "control list: $(emu_ctl list)"

t0=$(date +%s%N)
pids=()
for i in $(seq 1 $N); do
	u=$(printf '00008030-%016X' $i)
	(timeout 60 ideviceinfo -u "$u" -k UniqueDeviceID >"$T/out.$i" 2>&1; echo $? >"$T/rc.$i") &
	pids+=($!)
done
wait "${pids[@]}" # not a bare wait: the emulator is a child too
ms=$((($(date +%s%N) - t0) / 1000000))
for i in $(seq 1 $N); do
	u=$(printf '00008030-%016X' $i)
	[ "$(cat "$T/rc.$i")" = 0 ] || fail "ideviceinfo on $u failed: $(cat "$T/out.$i")"
	[ "$(cat "$T/out.$i")" = "$u" ] || fail "device $u answered '$(cat "$T/out.$i")'"
done
echo "$N concurrent ideviceinfo sessions in $ms ms"
emu_stop
echo PASS
