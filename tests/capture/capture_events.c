/*
 * capture_events: capture_device as benchd calls it, printing what the caller sees, for
 * test_reader.py: one line per event "event MS JSON" (MS since the call), one per progress
 * step "progress MS TEXT", then "result R DEVICE_ERR BYTES WHY" and, with an output path, the
 * snapshot written there.
 *
 *   capture_events ID SYSLOG_SECONDS DEADLINE_S [SNAPSHOT_OUT]
 */
#include "capture.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long long t0;

static void
on_event(const json_t *ev, void *ctx)
{
	char *s = json_dumps(ev, JSON_COMPACT);

	(void)ctx;
	printf("event %lld %s\n", util_now_ms() - t0, s ? s : "null");
	fflush(stdout);
	free(s);
}

static void
on_progress(const char *what, void *ctx)
{
	(void)ctx;
	printf("progress %lld %s\n", util_now_ms() - t0, what);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct capture_opts o;
	char *bytes = NULL, why[1024] = "";
	size_t len = 0;
	int r, derr = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: capture_events ID SYSLOG_SECONDS DEADLINE_S [SNAPSHOT_OUT]\n");
		return 2;
	}
	log_init("capture_events", LOG_LEVEL_WARN);
	memset(&o, 0, sizeof(o));
	o.syslog_seconds = atoi(argv[2]);
	o.deadline_s = atoi(argv[3]);
	o.event = on_event;
	o.progress = on_progress;
	t0 = util_now_ms();
	r = capture_device(argv[1], &o, &bytes, &len, &derr, why, sizeof(why));
	printf("result %d %d %zu %lld %s\n", r, derr, len, util_now_ms() - t0, why);
	if (argc > 4 && bytes && util_write_file_atomic(argv[4], bytes, len, 0600) != 0)
		return 1;
	free(bytes);
	return 0;
}
