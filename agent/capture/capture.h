/*
 * capture: a device identifier -> the exact bytes of a benchd.snapshot/1 document.
 *
 * The one way a snapshot is made from a device, shared by `benchctl snapshot`, `benchctl run
 * --udid` and every benchd session. A UDID of a usbmux device runs the idevice probes in one
 * lockdown session; an ECID (or UDID) of a recovery/DFU/WTF/Port DFU device gives the USB-level
 * snapshot; a locked, untrusted or pairing-pending device gives a snapshot that says so
 * (device.lockdown, errors) so the trees can still write SYS-003. syslog.signatures are filled
 * with engine_scan_syslog over the captured lines.
 *
 * Privilege separation (DESIGN.md 2): capture_device reads nothing itself. It spawns a
 * short-lived reader process (benchd-reader, reader.h) with posix_spawn, never fork, which does
 * all of the above (libimobiledevice, libplist, libusb and our normalisers parse device bytes
 * only there) under resource limits, PR_SET_NO_NEW_PRIVS and a seccomp filter, with no key,
 * no database and no descriptor of ours but two pipes: the snapshot bytes come back on one,
 * progress and early readings as JSON lines on the other. Everything that comes back is
 * untrusted and bounded (CAPTURE_MAX_SNAPSHOT, CAPTURE_MAX_LINE). A reader that crashes, is
 * killed by its filter or its limits, or outlives deadline_s ends this capture only, with a
 * reason naming the stage it was in.
 *
 * The reader is found at $BENCHD_READER when set, else beside the running program (the build
 * tree's bin/), else at ../libexec/benchd/benchd-reader from it, else at the configured
 * libexecdir.
 *
 * Callbacks (progress, event) run on the caller's thread, in order. Ownership: *bytes is
 * malloc'd, the caller frees it; ev is borrowed for the call.
 */
#ifndef BENCHD_CAPTURE_H
#define BENCHD_CAPTURE_H

#include <jansson.h>
#include <stddef.h>

#define CAPTURE_MAX_SNAPSHOT (64u << 20)  /* bytes; = REPORT_MAX_SNAPSHOT */
#define CAPTURE_MAX_LINE     (256u << 10) /* one progress/event line from the reader */

/* Errors of the capture itself (beside the idev_err/usbdev_err of the device). */
enum capture_err {
	CAPTURE_E_CRASHED = -101,   /* the reader died of a signal (crash, filter, limit) or a
	                               sanitizer report: "the phone sent data that crashed the reader" */
	CAPTURE_E_DEADLINE = -102,  /* deadline_s passed: the reader was killed */
	CAPTURE_E_READER = -103,    /* the reader could not be started, or broke its protocol */
	CAPTURE_E_CANCELLED = -104, /* *cancel was set: the reader was stopped */
};
const char *capture_strerror(int err);

struct capture_opts {
	int syslog_seconds;        /* 0 skips syslog */
	const char *crash_dir;     /* crash files are streamed here; NULL: a temp dir, removed */
	const char *trees_dir;     /* for models.json and syslog-rules.txt; NULL: default */
	const char *const *probes; /* NULL: all */
	size_t nprobes;
	/* "reading crash reports 3/12": every step as text. May be NULL. */
	void (*progress)(const char *what, void *ctx);
	void *progress_ctx;
	volatile int *cancel; /* polled every 100 ms; non-zero stops the reader (CAPTURE_E_CANCELLED) */
	int deadline_s;       /* whole-capture deadline; 0: no deadline (benchd passes
	                         session_timeout_seconds + syslog_seconds) */
	/*
	 * Structured progress and early readings, on the caller's thread, in order. ev is one of
	 *   {"type":"step","step":"reading crash reports","done":3,"total":12}  (done/total optional)
	 *   {"type":"reading","name":"battery","value":{...normalised battery fields...}}
	 *   {"type":"reading","name":"crashes","value":{"panics":N,"reports":M}}
	 * The battery reading comes as soon as the battery probe is done, before the syslog capture
	 * and the crash reports. ev is borrowed for the call. May be NULL.
	 */
	void (*event)(const json_t *ev, void *ctx);
	void *event_ctx;
};

/*
 * Returns 0 when a snapshot was made (*bytes set; *device_err is 0, or the idev_err that made
 * the device unreadable, e.g. IDEV_E_LOCKED, with the reason in why). Returns an idev_err/
 * usbdev_err (negative) with a reason in why when no snapshot could be made at all (no such
 * device, unplugged, no usbmuxd), or a capture_err: CAPTURE_E_CRASHED with why like "the phone
 * sent data that crashed the reader: SIGSEGV while reading diagnostics; unplug it, the bench
 * goes on", CAPTURE_E_DEADLINE ("the phone did not finish within 125 s: stopped while ...").
 */
int capture_device(const char *id, const struct capture_opts *opts, char **bytes, size_t *len,
                   int *device_err, char *why, size_t whylen);

#endif
