#!/bin/bash
# Garbage on the mux socket and on a lockdown stream (random bytes, huge and short lengths, the
# binary protocol, non-XML and non-dict payloads, truncated messages) never takes the emulator
# down: it keeps answering ListDevices and full ideviceinfo sessions (also with 200 idle
# connections open), and SIGTERM with open Listen/TLS clients exits 0 at once.
. "$(dirname "$0")/core-lib.sh"
U1=00008030-0000000000000401
emu_profile "$T/p1" $U1
emu_start "$T/p1"
timeout 60 "$EMU_CHECK" garbage "$T/mux.sock" || fail "garbage check"
kill -0 "$EMU_PID" || fail "the emulator died on garbage"
v=$(timeout 20 ideviceinfo -u $U1 -k ProductVersion) || fail "ideviceinfo after garbage"
[ "$v" = 16.7.2 ] || fail "after garbage: '$v'"
out=$(printf 'attach\nlist\n' | timeout 20 "$EMU_CHECK" control "$T/ctl.sock" "$(head -c 5000 /dev/zero | tr '\0' x)")
[[ "$out" == error* ]] || fail "an over-long control line: '$out'"

# SIGTERM with a Listen client and a lockdown TLS session open: exit 0 at once, clients see EOF
timeout 70 "$EMU_CHECK" hold $U1 >"$T/hold.out" 2>&1 &
hold=$!
for _ in $(seq 1 100); do grep -q ready "$T/hold.out" && break; sleep 0.1; done
grep -q ready "$T/hold.out" || fail "hold client never got its session: $(cat "$T/hold.out")"
t0=$(date +%s%N)
emu_stop
ms=$((($(date +%s%N) - t0) / 1000000))
[ $ms -lt 5000 ] || fail "shutdown with open connections took $ms ms"
wait $hold || fail "the held session did not end when the emulator stopped: $(cat "$T/hold.out")"
echo PASS
