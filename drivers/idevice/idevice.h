/*
 * idevice: the driver for iPhones in normal mode, over usbmuxd and lockdownd
 * (libimobiledevice 1.3.0). Only drivers/ includes libimobiledevice headers; this header does
 * not, so everything above sees plain C and jansson.
 *
 * One session (idev_session) = one lockdown session and one TLS handshake, reused for every
 * probe. A probe that fails records {probe, reason} in the snapshot's "errors" and the others
 * still run. Every read has a timeout and every length a cap (docs/snapshot.md).
 * Crash reports are copied, never removed from the device.
 *
 * Ownership: idev_session_new/idev_session_free; the json_t returned by idev_session_snapshot
 * belongs to the caller (json_decref). The strings and callbacks in struct idev_opts are
 * borrowed: they must live as long as the session.
 *
 * Limits (docs/snapshot.md): service reads time out after opts.timeout_ms (default 10 s);
 * lockdown requests use libimobiledevice 1.3.0's fixed 30 s; a dropped connection is seen at
 * once. Crash reports: at most 1000 files of 32 MiB (512 MiB in all), folders 8 deep, each
 * streamed to crash_dir in 64 KiB chunks with only its first 512 KiB held to parse; files that
 * are not reports (by name, or unreadable) are listed in raw.crashes_skipped, never removed.
 * The crash copy has a budget of 90 s (less when opts.budget_s leaves less), checked before
 * every listing entry and every read. A reply nested deeper than IDEV_MAX_NESTING is refused
 * before anything recursive (libplist's writers and copy) walks it.
 * The syslog capture runs on a thread of its own while the crash reports are copied, so a
 * session takes about syslog_seconds, not syslog_seconds plus the copy.
 * Not every bug is ours to check: libimobiledevice 1.3.0 and libplist 2.2 have some a device
 * can trigger before our code sees a byte, so benchd runs all of this in the reader process
 * (agent/capture/reader.h), never in the daemon.
 * A session ignores SIGPIPE when no handler is set, so an unplug mid-write is an error, not a
 * dead process. Sessions on different devices may run in parallel threads.
 */
#ifndef BENCHD_IDEVICE_H
#define BENCHD_IDEVICE_H

#include <jansson.h>
#include <stddef.h>

enum idev_err {
	IDEV_OK = 0,
	IDEV_E_NOT_FOUND = -1,       /* no device with that UDID (or unplugged) */
	IDEV_E_LOCKED = -2,          /* passcode locked: unlock it */
	IDEV_E_UNTRUSTED = -3,       /* not paired: tap Trust on the device */
	IDEV_E_PAIRING_PENDING = -4, /* the Trust dialog is waiting for an answer */
	IDEV_E_UNPLUGGED = -5,       /* the device went away during a read */
	IDEV_E_TIMEOUT = -6,         /* the device did not answer in time */
	IDEV_E_PROTOCOL = -7,        /* the device sent something we cannot use */
	IDEV_E_NO_USBMUXD = -8,      /* no usbmuxd (or emulator) answers */
	IDEV_E_IO = -9,              /* local I/O (crash folder, disk) */
	IDEV_E_UNKNOWN = -256,
};
const char *idev_strerror(int err);

/* A device usbmuxd reports. */
struct idev_info {
	char udid[65];
	unsigned product_id;
	int conn_usb; /* 1 USB, 0 network */
};
/* List attached devices. *out is malloc'd (caller frees), *n set. Returns IDEV_OK or error. */
int idev_list(struct idev_info **out, size_t *n);

/*
 * Attach/detach events (usbmux Listen, muxwatch.c), delivered on the watcher's own thread.
 * The watcher owns its connection (libusbmuxd 2.0.2's leaked a socket per reconnect): it
 * keeps trying while usbmuxd is away (100 ms doubling to 10 s), reports every device of a lost
 * connection as removed, and logs once per change ("no usbmuxd answers on ...", "answers
 * again"). idev_watch_start fails only when no thread can be started; idev_watch_status says
 * how it is: 1 connected, 0 connecting, -1 usbmuxd away or not watching (why says which).
 */
enum idev_event_kind { IDEV_EVENT_ADD = 1, IDEV_EVENT_REMOVE = 2, IDEV_EVENT_PAIRED = 3 };
typedef void (*idev_event_cb)(enum idev_event_kind kind, const char *udid, void *ctx);
int idev_watch_start(idev_event_cb cb, void *ctx);
void idev_watch_stop(void);
int idev_watch_status(char *why, size_t whylen);

/* Probe names as used in trees and snapshots. */
#define IDEV_PROBE_INFO        "info"
#define IDEV_PROBE_BATTERY     "battery"
#define IDEV_PROBE_DIAGNOSTICS "diagnostics"
#define IDEV_PROBE_SYSLOG      "syslog"
#define IDEV_PROBE_CRASHES     "crashes"

#define IDEV_MAX_NESTING 256 /* arrays/dicts deep in one device reply */

struct idev_opts {
	const char *const *probes; /* NULL: all five */
	size_t nprobes;
	int syslog_seconds;      /* capture length, 0 skips syslog */
	const char *crash_dir;   /* where crash files are streamed; NULL: parse in memory only */
	const char *models_path; /* diag-trees/models.json for model names; NULL: default */
	int timeout_ms;          /* per read; 0 = default (10 s) */
	const char *label;       /* lockdown Label, e.g. "benchd" */
	/* Progress for long work ("reading crash reports 3/12"); may be NULL. */
	void (*progress)(const char *what, void *ctx);
	void *progress_ctx;
	/*
	 * The same progress as structured events, and early readings, one call at a time (the
	 * crash workers and the syslog thread are serialised), ev borrowed for the call:
	 *   {"type":"step","step":"reading crash reports","done":3,"total":12}  (done/total optional)
	 *   {"type":"reading","name":"battery","value":{...snapshot battery...}} (after the battery probe)
	 *   {"type":"reading","name":"crashes","value":{"panics":N,"reports":M}} (after the copy)
	 * May be NULL.
	 */
	void (*event)(const json_t *ev, void *ctx);
	void *event_ctx;
	/* The whole session should end within this many seconds of idev_session_new (0: no
	 * limit): the crash copy stops early enough to leave the rest of the session room. */
	int budget_s;
	/* Checked between reads; non-zero stops the session early (daemon shutdown). */
	volatile int *cancel;
};

struct idev_session;
/*
 * Open a session: connect, lockdown handshake, TLS. On failure returns an idev_err and writes a
 * technician-readable reason to why (e.g. "device is locked: unlock it and try again").
 */
int idev_session_new(const char *udid, const struct idev_opts *opts, struct idev_session **out, char *why,
                     size_t whylen);
void idev_session_free(struct idev_session *s);
/* Run the probes and build a snapshot (docs/snapshot.md). Returns IDEV_OK when a snapshot was
 * built, even with probe errors recorded inside it. */
int idev_session_snapshot(struct idev_session *s, json_t **snapshot, char *why, size_t whylen);

/*
 * After idev_session_snapshot: IDEV_OK, or the state that kept probes from running:
 * IDEV_E_LOCKED (services refused: device.lockdown "locked") or IDEV_E_UNPLUGGED (the device
 * went away during the read). The snapshot is still valid; why gets the technician's words.
 */
int idev_session_device_err(const struct idev_session *s, char *why, size_t whylen);

/*
 * Quick look without a session (like `ideviceinfo -s`): ProductType and DeviceName of an
 * attached device. Either output may be NULL. IDEV_OK or an idev_err.
 */
int idev_peek(const char *udid, char *product_type, size_t ptlen, char *name, size_t namelen);
/*
 * The device's serial number (lockdown SerialNumber) into serial ("" when it does not say). Asked
 * before a session first, as idev_peek does; a phone that answers it only inside a session (iOS
 * keeps some values for paired hosts) is asked in one when this host already holds its pair
 * record. It never pairs: a phone that does not trust this computer is not asked to.
 */
int idev_peek_serial(const char *udid, char *serial, size_t seriallen);

/*
 * A snapshot for a device that cannot be read (locked, untrusted, pairing pending): device
 * fields known from usbmux plus device.lockdown and an errors entry. Lets trees write SYS-003.
 */
json_t *idev_snapshot_unreadable(const char *udid, int err, const char *why);

#endif
