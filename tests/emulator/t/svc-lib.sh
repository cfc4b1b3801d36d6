# Shared helpers for the idevice-emu service tests (sourced, not run).
#   EMU=path/to/idevice-emu PROFILES=tests/profiles; . svc-lib.sh
#   svc_copy NAME [BEHAVIOUR_XML]   copy a bundled profile to $T/NAME, optionally replacing its
#                                   (empty) Behaviour dict with BEHAVIOUR_XML (dict contents); the
#                                   copy has no Clock, so its crash reports are served with the
#                                   dates on disk and compare byte for byte (emu-client-clock tests
#                                   the moved dates)
#   svc_start DIR...                start the emulator on $T/mux.sock (control socket
#                                   $T/ctl.sock) and wait for the mux socket
#   svc_stop                        stop it; fails on a non-zero exit or a sanitizer report
#   run TIMEOUT TOOL ARGS...        run a stock tool under timeout; output in $T/out, rc in $RC
#   fail "why"                      print, show the emulator log, exit 1
set -u
T=$(mktemp -d "${TMPDIR:-/tmp}/emu-svc.XXXXXX")
EMU_PID=
RC=0
export USBMUXD_SOCKET_ADDRESS="UNIX:$T/mux.sock"

cleanup() {
	if [ -n "$EMU_PID" ] && kill -0 "$EMU_PID" 2>/dev/null; then
		kill -TERM "$EMU_PID"
		wait "$EMU_PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$T/out" ]; then
		echo "--- tool output (last 20 lines) ---" >&2
		tail -n 20 "$T/out" >&2
	fi
	if [ -f "$T/emu.log" ]; then
		echo "--- emulator log (last 30 lines) ---" >&2
		tail -n 30 "$T/emu.log" >&2
	fi
	exit 1
}

svc_copy() {
	cp -R "$PROFILES/$1" "$T/$1" || fail "cannot copy profile $1"
	sed -i '/<key>Clock<\/key>/,/<\/dict>/d' "$T/$1/device.plist"
	grep -q "<key>Clock</key>" "$T/$1/device.plist" && fail "could not drop Clock from $1"
	if [ $# -ge 2 ]; then
		sed -i "/<key>Behaviour<\/key>/{n;s|<dict/>|<dict>$2</dict>|}" "$T/$1/device.plist"
		grep -q "$2" "$T/$1/device.plist" || fail "could not set Behaviour in $1"
	fi
}

svc_start() {
	"$EMU" --socket "$T/mux.sock" --control "$T/ctl.sock" "$@" >"$T/emu.log" 2>&1 &
	EMU_PID=$!
	i=0
	while [ ! -S "$T/mux.sock" ]; do
		i=$((i + 1))
		[ $i -le 600 ] || fail "emulator socket did not appear in 30 s"
		kill -0 "$EMU_PID" 2>/dev/null || fail "emulator exited at start"
		sleep 0.05
	done
}

svc_stop() {
	[ -n "$EMU_PID" ] || return 0
	kill -TERM "$EMU_PID"
	erc=0
	wait "$EMU_PID" || erc=$?
	EMU_PID=
	if grep -q "Sanitizer" "$T/emu.log"; then
		fail "sanitizer report from the emulator"
	fi
	[ "$erc" -eq 0 ] || fail "emulator exited with $erc"
}

run() {
	t=$1
	shift
	RC=0
	timeout "$t" "$@" >"$T/out" 2>&1 || RC=$?
}

# Seconds since the epoch with milliseconds, for "fails quickly" checks.
now_ms() {
	date +%s%3N
}
