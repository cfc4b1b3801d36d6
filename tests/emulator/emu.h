/*
 * idevice-emu internals shared by the core (usbmuxd, lockdownd, TLS, pairing, control socket,
 * profiles: emu_*.c) and the device services (diagnostics_relay, syslog_relay,
 * crashreportmover, AFC: svc_*.c).
 *
 * Threads: one thread per client connection. A device is shared read-only by its connections
 * after load; `detached` is set by the control socket and every tracked fd of the device is
 * shut down, so blocked reads return at once. Services never touch usbmux or lockdown framing
 * beyond the helpers below.
 */
#ifndef EMU_H
#define EMU_H

#include <plist/plist.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define EMU_MAX_PLIST       (4u * 1024 * 1024) /* the largest lockdown-framed plist we accept */
#define EMU_READ_TIMEOUT_MS 30000

struct emu_device {
	char udid[65];             /* Lockdown/Root/UniqueDeviceID */
	char dir[4096];            /* the profile directory */
	uint32_t device_id;        /* usbmux DeviceID, > 0 */
	unsigned product_id;       /* USB product id */
	plist_t plist;             /* device.plist root dict: read-only after load */
	int paired;                /* Behaviour/Paired */
	int passcode_locked;       /* Behaviour/PasscodeLocked */
	int trust_pending;         /* Behaviour/TrustPending */
	int latency_ms;            /* Behaviour/LatencyMs */
	char disconnect_after[16]; /* Behaviour/DisconnectAfter or "" */
	int service_port_zero;     /* Behaviour/ServicePortZero: StartService "succeeds" with Port 0 */
	long long crash_shift;     /* Clock/CrashDatesAsOf: seconds crash-report dates move (emu_clock.c) */
	atomic_int detached;       /* set on detach and on emulator shutdown; connections end */
};

/*
 * Crash-report dates relative to the emulator's start (emu_clock.c, profile key
 * Clock/CrashDatesAsOf): non-zero when this device's dates move. emu_dates_shift rewrites, in
 * place and keeping every length, each "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DDTHH:MM:SS" and
 * "YYYY-MM-DD-HHMMSS" in buf: direction +1 from disk to what the phone shows, -1 back.
 */
int emu_dates_active(const struct emu_device *d);
void emu_dates_shift(const struct emu_device *d, char *buf, size_t len, int direction);

/* Sleep the device's LatencyMs (before every reply); cut short by detach or shutdown. */
void emu_delay(const struct emu_device *d);
/* Non-zero when Behaviour/DisconnectAfter names this stage ("handshake", "diagnostics",
 * "syslog", "afc"): the caller then closes the connection without a reply. */
int emu_should_disconnect(const struct emu_device *d, const char *stage);

/*
 * Read exactly n bytes; 0 on success, -1 on EOF, error, timeout or detach. timeout_ms bounds the
 * whole call; a negative timeout_ms waits without limit (still ended by detach or shutdown).
 * d may be NULL (no device yet).
 */
int emu_read_full(int fd, void *buf, size_t n, int timeout_ms, const struct emu_device *d);
/* Write all n bytes in as few writes as the kernel allows (one call per message). 0 or -1. */
int emu_write_all(int fd, const void *buf, size_t n);

/*
 * Lockdown-style framing: 4-byte big-endian length then a plist, XML or binary ("bplist00") as a
 * real device accepts (libimobiledevice sends XML, other clients binary). Both are checked with
 * bounds before libplist parses them, since its parsers recurse without limit: XML with more
 * than 1024 arrays/dicts, binary plists with a bad trailer, out-of-range offsets or references,
 * nesting deeper than 32 or more than 16384 objects reached are refused. -1 on any problem.
 */
int emu_plist_recv(int fd, plist_t *out, int timeout_ms, const struct emu_device *d);
/* Send with the length, in one write, in the format the last request on this connection came in
 * (XML starts "<?xml"). */
int emu_plist_send(int fd, plist_t p);

/*
 * Look up a value in the profile: emu_profile_get(d, "IORegistry", "AppleSmartBattery", NULL).
 * Returns a borrowed node (valid while d is; copy it before putting it in a reply) or NULL.
 */
plist_t emu_profile_get(const struct emu_device *d, ...) __attribute__((sentinel));

/*
 * A lockdown service. serve() runs on the connection's own thread with fd connected (plain:
 * the emulator answers EnableServiceSSL false); it returns when the client is done, on error, or
 * when the device is detached. It must bound every length it reads.
 */
struct emu_service {
	const char *name; /* e.g. "com.apple.mobile.diagnostics_relay" */
	void (*serve)(int fd, struct emu_device *d);
};
/* Defined by the services (svc_*.c), terminated by {NULL, NULL}. */
extern const struct emu_service emu_services[];

#endif
