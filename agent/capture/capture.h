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
 * Ownership: *bytes is malloc'd, the caller frees it.
 */
#ifndef BENCHD_CAPTURE_H
#define BENCHD_CAPTURE_H

#include <stddef.h>

struct capture_opts {
	int syslog_seconds;        /* 0 skips syslog */
	const char *crash_dir;     /* crash files are streamed here; NULL: a temp dir, removed */
	const char *trees_dir;     /* for models.json and syslog-rules.txt; NULL: default */
	const char *const *probes; /* NULL: all */
	size_t nprobes;
	void (*progress)(const char *what, void *ctx);
	void *progress_ctx;
	volatile int *cancel;
};

/*
 * Returns 0 when a snapshot was made (*bytes set; *device_err is 0, or the idev_err that made
 * the device unreadable, e.g. IDEV_E_LOCKED, with the reason in why). Returns an idev_err/
 * usbdev_err (negative) with a reason in why when no snapshot could be made at all (no such
 * device, unplugged, no usbmuxd).
 */
int capture_device(const char *id, const struct capture_opts *opts, char **bytes, size_t *len,
                   int *device_err, char *why, size_t whylen);

#endif
