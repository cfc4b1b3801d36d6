#!/bin/bash
# Garbage on the mux socket and on a lockdown stream (random bytes, huge and short lengths, the
# binary protocol, non-XML and non-dict payloads, truncated messages) never takes the emulator
# down: it keeps answering ListDevices and full ideviceinfo sessions, and still exits cleanly.
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
emu_stop
echo PASS
