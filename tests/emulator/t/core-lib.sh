# Shared shell helpers for the idevice-emu core tests (sourced, not run).
#   EMU=path/to/idevice-emu; . core-lib.sh
#   emu_profile DIR UDID [EXTRA_XML]   write a minimal profile; EXTRA_XML goes into the top dict
#   emu_start PROFILE...               start the emulator on $T/mux.sock (control: $T/ctl.sock)
#   emu_ctl "COMMAND"                  one control-socket line, prints the answer line
#   fail "why"                         print and exit 1
set -u
T=$(mktemp -d "${TMPDIR:-/tmp}/emu-core.XXXXXX")
EMU_PID=
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
	if [ -f "$T/emu.log" ]; then
		echo "--- emulator log (last 30 lines) ---" >&2
		tail -n 30 "$T/emu.log" >&2
	fi
	exit 1
}

emu_profile() {
	mkdir -p "$1"
	cat >"$1/device.plist" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Lockdown</key>
	<dict>
		<key>Root</key>
		<dict>
			<key>UniqueDeviceID</key><string>$2</string>
			<key>DeviceName</key><string>Bench iPhone</string>
			<key>DeviceClass</key><string>iPhone</string>
			<key>ProductType</key><string>iPhone12,1</string>
			<key>ProductVersion</key><string>16.7.2</string>
			<key>BuildVersion</key><string>20H115</string>
			<key>SerialNumber</key><string>F2LZK0AAN72J</string>
			<key>WiFiAddress</key><string>aa:bb:cc:dd:ee:01</string>
			<key>UniqueChipID</key><integer>1234567890123</integer>
		</dict>
		<key>com.apple.mobile.battery</key>
		<dict>
			<key>BatteryCurrentCapacity</key><integer>78</integer>
			<key>BatteryIsCharging</key><false/>
		</dict>
	</dict>
	${3:-}
</dict>
</plist>
XML
}

# Start the emulator in the background and wait (up to 20 s) for its mux socket.
emu_start() {
	"$EMU" --socket "$T/mux.sock" --control "$T/ctl.sock" "$@" >"$T/emu.log" 2>&1 &
	EMU_PID=$!
	for _ in $(seq 1 200); do
		[ -S "$T/mux.sock" ] && return 0
		kill -0 "$EMU_PID" 2>/dev/null || fail "idevice-emu exited before its socket appeared"
		sleep 0.1
	done
	fail "idevice-emu socket did not appear within 20 s"
}

# Stop the emulator with SIGTERM; fails unless it exits 0 and removes its socket.
emu_stop() {
	kill -TERM "$EMU_PID"
	wait "$EMU_PID"
	rc=$?
	EMU_PID=
	[ "$rc" -eq 0 ] || fail "idevice-emu exited with $rc on SIGTERM"
	[ ! -e "$T/mux.sock" ] || fail "socket file left behind"
}

emu_ctl() {
	timeout 20 "$EMU_CHECK" control "$T/ctl.sock" "$1"
}
