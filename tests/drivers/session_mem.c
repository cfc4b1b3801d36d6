/*
 * session_mem UDID [CRASH_DIR]: how much resident memory one device session costs.
 * A first, info-only session loads and touches the libraries (OpenSSL, the TLS handshake,
 * libimobiledevice, jansson) and its heap is trimmed; then the peak RSS is reset
 * (/proc/self/clear_refs) and a full session (every probe, 2 s of syslog, crash reports streamed
 * to CRASH_DIR) is measured as VmHWM - VmRSS before it. Prints KiB.
 * The drivers' bar (issue 4): under 4 MiB beyond the crash files streamed to disk.
 */
#include "idevice.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long
status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = strtol(line + strlen(key) + 1, NULL, 10);
	fclose(f);
	return v;
}

static int
one(const char *udid, const char *crash_dir, int info_only)
{
	static const char *const info[] = {IDEV_PROBE_INFO};
	struct idev_opts o = {0};
	struct idev_session *s = NULL;
	json_t *snap = NULL;
	char why[256];

	o.syslog_seconds = info_only ? 0 : 2;
	o.probes = info_only ? info : NULL;
	o.nprobes = info_only ? 1 : 0;
	o.crash_dir = crash_dir;
	o.models_path = BENCHD_SOURCE_DIR "/diag-trees/models.json";
	if (idev_session_new(udid, &o, &s, why, sizeof(why)) != IDEV_OK) {
		fprintf(stderr, "session: %s\n", why);
		return -1;
	}
	if (idev_session_snapshot(s, &snap, why, sizeof(why)) != IDEV_OK) {
		fprintf(stderr, "snapshot: %s\n", why);
		idev_session_free(s);
		return -1;
	}
	json_decref(snap);
	idev_session_free(s);
	return 0;
}

int
main(int argc, char **argv)
{
	FILE *f;
	long base, peak;

	if (argc < 2) {
		fprintf(stderr, "usage: session_mem UDID [CRASH_DIR]\n");
		return 2;
	}
	if (one(argv[1], NULL, 1) != 0)
		return 1;
	malloc_trim(0);
	f = fopen("/proc/self/clear_refs", "w");
	if (f == NULL || fputs("5", f) == EOF) {
		fprintf(stderr, "cannot reset the peak RSS\n");
		return 1;
	}
	fclose(f);
	base = status_kb("VmRSS:");
	if (one(argv[1], argc > 2 ? argv[2] : NULL, 0) != 0)
		return 1;
	peak = status_kb("VmHWM:");
	printf("session peak %ld KiB above %ld KiB resident before it\n", peak - base, base);
	return 0;
}
