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
	       "  --out FILE           write it there (default: standard output)\n"
	       "  --timeout S          stop a device that has not finished in S seconds plus the\n"
	       "                       syslog time (default 120; 0: no limit)\n"
	       "The device is read by a sandboxed reader process (benchd-reader): data that\n"
	       "crashes it ends this command only, with the reason (exit 1).\n"
	       "With --json the snapshot is one line on stdout, or with --out one line\n"
	       "{\"ok\":true,\"out\",\"device_state\",\"device_mode\"}; exit 3 no such device, 4 locked,\n"
	       "5 not trusted (the snapshot is still written and says so).\n");
}

/* device.lockdown and device.mode of the snapshot bytes (NULL when absent). */
static json_t *
device_fields(const char *bytes, size_t len, json_t **snap)
{
	json_t *s = json_loadb(bytes, len, 0, NULL), *o = json_object();
	const json_t *d = json_object_get(s, "device");

	if (json_is_string(json_object_get(d, "lockdown")))
		json_object_set(o, "device_state", json_object_get(d, "lockdown"));
	if (json_is_string(json_object_get(d, "mode")))
		json_object_set(o, "device_mode", json_object_get(d, "mode"));
	*snap = s;
	return o;
}

int
cmd_snapshot(struct ctl *g, int argc, char **argv)
{
	const char *id = NULL, *out = NULL, *crash_dir = NULL;
	const char *probes[8];
	size_t nprobes = 0;
	int secs = 5, timeout_s = 120, derr = 0, r, ec;
	struct capture_opts o = {0};
	char *bytes = NULL, why[512] = "";
	json_t *snap = NULL, *fields;
	size_t len = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			snapshot_usage(stdout);
			return BC_EXIT_OK;
		}
		if (strcmp(a, "--udid") != 0 && strcmp(a, "--ecid") != 0 && strcmp(a, "--out") != 0 &&
		    strcmp(a, "--syslog-seconds") != 0 && strcmp(a, "--crash-dir") != 0 &&
		    strcmp(a, "--probe") != 0 && strcmp(a, "--timeout") != 0)
			return benchctl_usage_error(g, "snapshot", "%s '%s'",
			                            a[0] == '-' ? "unknown option" : "unexpected argument",
			                            a);
		if (v == NULL)
			return benchctl_usage_error(g, "snapshot", "%s needs a value", a);
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
			if (*v == '\0' || *end != '\0' || n < 0 || n > 3600)
				return benchctl_usage_error(g, "snapshot",
				                            "--timeout takes 0 to 3600, not '%s'", v);
			timeout_s = (int)n;
		} else if (strcmp(a, "--syslog-seconds") == 0) {
			char *end;
			long n = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' || n < 0 || n > 600)
				return benchctl_usage_error(g, "snapshot",
				                            "--syslog-seconds takes 0 to 600, not '%s'", v);
			secs = (int)n;
		} else {
			if (strcmp(v, IDEV_PROBE_INFO) && strcmp(v, IDEV_PROBE_BATTERY) &&
			    strcmp(v, IDEV_PROBE_DIAGNOSTICS) && strcmp(v, IDEV_PROBE_SYSLOG) &&
			    strcmp(v, IDEV_PROBE_CRASHES))
				return benchctl_usage_error(
				    g, "snapshot",
				    "unknown probe '%s' (info, battery, diagnostics, syslog or crashes)", v);
			if (nprobes < sizeof(probes) / sizeof(probes[0]))
				probes[nprobes++] = v;
		}
	}
	if (id == NULL)
		return benchctl_usage_error(g, "snapshot",
		                            "give the device with --udid ID (benchctl devices lists them)");
	o.syslog_seconds = secs;
	o.deadline_s = timeout_s > 0 ? timeout_s + secs : 0;
	o.crash_dir = crash_dir;
	o.probes = nprobes ? probes : NULL;
	o.nprobes = nprobes;
	o.progress = benchctl_progress;
	r = capture_device(id, &o, &bytes, &len, &derr, why, sizeof(why));
	if (r != 0)
		return benchctl_fail(g, benchctl_exit_for_device(r), "%s", why[0] ? why : idev_strerror(r));
	fields = device_fields(bytes, len, &snap);
	if (out) {
		if (util_write_file_atomic(out, bytes, len, 0644) != 0) {
			ec = benchctl_fail(g, BC_EXIT_FAIL, "cannot write %s: %s", out, strerror(errno));
			goto done;
		}
	} else if (g->json && snap != NULL) {
		/* One compact line (CONTRACTS 1); the same document. */
		benchctl_print_json(snap);
	} else if (fwrite(bytes, 1, len, stdout) != len || fflush(stdout) != 0) {
		ec = benchctl_fail(g, BC_EXIT_FAIL, "cannot write the snapshot to stdout: %s",
		                   strerror(errno));
		goto done;
	}
	if (derr != 0) {
		/* A snapshot was written: it says what could not be read (device.lockdown, errors). */
		json_object_set_new(fields, "out", out ? json_string(out) : json_null());
		if (out || !g->json)
			ec = benchctl_fail_with(g, benchctl_exit_for_device(derr), json_incref(fields), "%s",
			                        why[0] ? why : idev_strerror(derr));
		else {
			fprintf(stderr, "benchctl: %s\n", why[0] ? why : idev_strerror(derr));
			ec = benchctl_exit_for_device(derr);
		}
		goto done;
	}
	if (out && g->json) {
		json_t *o2 = json_pack("{s:b, s:s}", "ok", 1, "out", out);
		json_object_update(o2, fields);
		benchctl_print_json(o2);
		json_decref(o2);
	} else if (out) {
		fprintf(stderr, "benchctl: snapshot written to %s\n", out);
	}
	ec = BC_EXIT_OK;
done:
	json_decref(fields);
	json_decref(snap);
	free(bytes);
	return ec;
}
