/*
 * com.apple.syslog_relay and com.apple.crashreportmover: raw streams, the host sends nothing.
 *
 * syslog_relay sends the profile's syslog.txt in the real framing (a leading "\0", then each
 * record as "line\n" followed by "\0"), then idles until the client closes or the device is
 * detached. crashreportmover sends "ping\0" (iOS has moved the reports) and waits for the
 * client to close.
 */
#include "svc.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define SYSLOG_MAX_FILE   ((size_t)4 * 1024 * 1024)
#define SYSLOG_MAX_LINE   8192
#define SYSLOG_DROP_AFTER 3 /* DisconnectAfter "syslog": lines sent before the drop */
#define MOVER_WAIT_MS     5000

void
svc_idle(int fd, const struct emu_device *d, int max_ms)
{
	long long start = util_now_ms();
	char sink[512];

	while (!atomic_load(&d->detached)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int rc;

		if (max_ms >= 0 && util_now_ms() - start >= max_ms)
			return;
		rc = poll(&p, 1, 200);
		if (rc < 0)
			return;
		if (rc == 0)
			continue;
		if (p.revents & (POLLERR | POLLNVAL))
			return;
		if (read(fd, sink, sizeof(sink)) <= 0)
			return;
	}
}

/* Send one record: the line, "\n", "\0", in one write. */
static int
syslog_send_line(int fd, const char *line, size_t len, const struct emu_device *d)
{
	char rec[SYSLOG_MAX_LINE + 2];

	if (len > SYSLOG_MAX_LINE)
		len = SYSLOG_MAX_LINE;
	memcpy(rec, line, len);
	rec[len] = '\n';
	rec[len + 1] = '\0';
	return emu_hostile_send(fd, rec, len + 2, d, "syslog");
}

void
svc_syslog_serve(int fd, struct emu_device *d)
{
	char *path = xasprintf("%s/syslog.txt", d->dir), *data = NULL, *p, *end;
	size_t len = 0;
	int sent = 0, drop = emu_should_disconnect(d, "syslog");

	if (util_read_file(path, SYSLOG_MAX_FILE, &data, &len) != 0) {
		log_warn("%s: no syslog to stream", path);
		data = NULL;
		len = 0;
	}
	free(path);
	emu_delay(d);
	if (emu_hostile_send(fd, "", 1, d, "syslog") != 0)
		goto out;
	for (p = data, end = data ? data + len : NULL; p && p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0) {
			if (drop && sent >= SYSLOG_DROP_AFTER)
				goto out; /* the device went away mid-stream */
			if (syslog_send_line(fd, p, n, d) != 0)
				goto out;
			sent++;
		}
		p = nl ? nl + 1 : end;
		if (atomic_load(&d->detached))
			goto out;
	}
	if (!drop)
		svc_idle(fd, d, -1);
out:
	free(data);
}

void
svc_crashmover_serve(int fd, struct emu_device *d)
{
	emu_delay(d);
	if (emu_hostile_send(fd, "ping", 5, d, "mover") != 0)
		return;
	svc_idle(fd, d, MOVER_WAIT_MS);
}
