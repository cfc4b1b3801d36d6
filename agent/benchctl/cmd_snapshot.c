/*
 * benchctl snapshot --udid ID [--out FILE] [--syslog-seconds N] [--crash-dir DIR] [--probe NAME]...
 *                   [--timeout S]
 * Reads every probe of one device (ID: a usbmux UDID, or the ECID/UDID of a device in
 * recovery/DFU mode) and writes the snapshot JSON (docs/snapshot.md) to FILE or stdout.
 * A locked/untrusted device still gets a snapshot that says so, and the exit code says which.
 */
#include "benchctl.h"

#include "capture.h"
#include "idevice.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
snapshot_usage(FILE *f)
{
	fprintf(
	    f, "usage: benchctl snapshot --udid ID [--out FILE] [--syslog-seconds N] [--crash-dir DIR]\n"
	       "                         [--probe info|battery|diagnostics|syslog|crashes]... [--timeout S]\n"
	       "  ID is a UDID, or the ECID of a device in recovery/DFU mode (see benchctl devices).\n"
	       "  --syslog-seconds N   device log capture length (default 5, 0 skips it)\n"
	       "  --crash-dir DIR      keep the copied crash reports there (default: not kept)\n"
	       "  --timeout S          stop a device that has not finished in S seconds plus the\n"
	       "                       syslog time (default 120; 0: no limit)\n"
	       "  The device is read by a sandboxed reader process (benchd-reader): data that\n"
	       "  crashes it ends this command only, with the reason (exit 1).\n");
}

int
cmd_snapshot(struct ctl *g, int argc, char **argv)
{
	const char *id = NULL, *out = NULL, *crash_dir = NULL;
	const char *probes[8];
	size_t nprobes = 0;
	int secs = 5, timeout_s = 120, derr = 0, r;
	struct capture_opts o = {0};
	char *bytes = NULL, why[512] = "";
	size_t len = 0;

	(void)g;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			snapshot_usage(stdout);
			return BC_EXIT_OK;
		}
		if (strcmp(a, "--udid") != 0 && strcmp(a, "--ecid") != 0 && strcmp(a, "--out") != 0 &&
		    strcmp(a, "--syslog-seconds") != 0 && strcmp(a, "--crash-dir") != 0 &&
		    strcmp(a, "--probe") != 0 && strcmp(a, "--timeout") != 0) {
			fprintf(stderr, "benchctl snapshot: unknown option '%s'\n", a);
			snapshot_usage(stderr);
			return BC_EXIT_USAGE;
		}
		if (v == NULL) {
			fprintf(stderr, "benchctl snapshot: %s needs a value\n", a);
			return BC_EXIT_USAGE;
		}
		i++;
		if (strcmp(a, "--udid") == 0 || strcmp(a, "--ecid") == 0) {
			id = v;
		} else if (strcmp(a, "--out") == 0) {
			out = v;
		} else if (strcmp(a, "--crash-dir") == 0) {
			crash_dir = v;
		} else if (strcmp(a, "--timeout") == 0) {
			char *end;
			long n = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' || n < 0 || n > 3600) {
				fprintf(stderr, "benchctl snapshot: --timeout must be 0..3600, not '%s'\n",
				        v);
				return BC_EXIT_USAGE;
			}
			timeout_s = (int)n;
		} else if (strcmp(a, "--syslog-seconds") == 0) {
			char *end;
			long n = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' || n < 0 || n > 600) {
				fprintf(stderr,
				        "benchctl snapshot: --syslog-seconds must be 0..600, not '%s'\n", v);
				return BC_EXIT_USAGE;
			}
			secs = (int)n;
		} else {
			if (strcmp(v, IDEV_PROBE_INFO) && strcmp(v, IDEV_PROBE_BATTERY) &&
			    strcmp(v, IDEV_PROBE_DIAGNOSTICS) && strcmp(v, IDEV_PROBE_SYSLOG) &&
			    strcmp(v, IDEV_PROBE_CRASHES)) {
				fprintf(stderr, "benchctl snapshot: unknown probe '%s'\n", v);
				return BC_EXIT_USAGE;
			}
			if (nprobes < sizeof(probes) / sizeof(probes[0]))
				probes[nprobes++] = v;
		}
	}
	if (id == NULL) {
		fprintf(stderr, "benchctl snapshot: --udid is required (see benchctl devices)\n");
		snapshot_usage(stderr);
		return BC_EXIT_USAGE;
	}
	o.syslog_seconds = secs;
	o.deadline_s = timeout_s > 0 ? timeout_s + secs : 0;
	o.crash_dir = crash_dir;
	o.probes = nprobes ? probes : NULL;
	o.nprobes = nprobes;
	o.progress = benchctl_progress;
	r = capture_device(id, &o, &bytes, &len, &derr, why, sizeof(why));
	if (r != 0) {
		fprintf(stderr, "benchctl: %s\n", why[0] ? why : idev_strerror(r));
		return benchctl_exit_for_device(r);
	}
	if (out) {
		if (util_write_file_atomic(out, bytes, len, 0644) != 0) {
			fprintf(stderr, "benchctl: cannot write %s: %s\n", out, strerror(errno));
			free(bytes);
			return BC_EXIT_FAIL;
		}
	} else if (fwrite(bytes, 1, len, stdout) != len || fflush(stdout) != 0) {
		fprintf(stderr, "benchctl: cannot write the snapshot to stdout: %s\n", strerror(errno));
		free(bytes);
		return BC_EXIT_FAIL;
	}
	free(bytes);
	if (derr != 0) {
		fprintf(stderr, "benchctl: %s\n", why[0] ? why : idev_strerror(derr));
		return benchctl_exit_for_device(derr);
	}
	if (out)
		fprintf(stderr, "benchctl: snapshot written to %s\n", out);
	return BC_EXIT_OK;
}
