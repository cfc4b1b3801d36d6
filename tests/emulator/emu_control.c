/*
 * emu_control: the control socket's line protocol. One command per line, one answer per line:
 *
 *   attach PROFILE_DIR   -> "ok UDID DEVICEID"     | "error <reason>"
 *   detach UDID          -> "ok"                   | "error no attached device UDID"
 *   list                 -> "ok N UDID UDID ..."   (N attached devices, in DeviceID order)
 *   trust UDID           -> "ok UDID trusted"      | "error no attached device UDID"
 *                           (the user tapped Trust: pairing succeeds, Listen clients get Paired)
 *
 * A bad profile given to attach is refused with its one-line reason; the emulator carries on.
 * Lines are at most 4 KiB; an idle client is dropped after 10 minutes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_core.h"
#include "log.h"
#include "util.h"

#define LINE_MAX_LEN 4096
#define IDLE_MS      (10 * 60 * 1000)

static int reply(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
reply(int fd, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n, rc;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("out of memory");
	rc = emu_write_all(fd, s, (size_t)n);
	free(s);
	return rc;
}

/* "trust UDID": a trust-pending phone's user taps Trust (issue 13). */
static int
run_trust(int fd, const char *udid)
{
	if (core_dev_trust(udid) != 0)
		return reply(fd, "error no attached device %s\n", udid);
	return reply(fd, "ok %s trusted\n", udid);
}

static int
run(int fd, char *line)
{
	char err[1024];
	char *arg;

	while (*line == ' ' || *line == '\t')
		line++;
	arg = strpbrk(line, " \t");
	if (arg != NULL) {
		*arg++ = '\0';
		while (*arg == ' ' || *arg == '\t')
			arg++;
		for (char *e = arg + strlen(arg); e > arg && (e[-1] == ' ' || e[-1] == '\t'); e--)
			e[-1] = '\0';
	}
	if (strcmp(line, "attach") == 0 && arg != NULL && *arg != '\0') {
		struct core_dev *cd;
		char udid[65];
		uint32_t id;
		if (core_profile_load(arg, &cd, err, sizeof(err)) != 0) {
			log_warnx("attach refused: %s", err);
			return reply(fd, "error %s\n", err);
		}
		util_strlcpy(udid, cd->d.udid, sizeof(udid));
		if (core_dev_attach(cd, err, sizeof(err)) != 0) {
			log_warnx("attach refused: %s", err);
			return reply(fd, "error %s\n", err);
		}
		id = 0;
		pthread_mutex_lock(&emu_core.lock);
		for (struct core_dev *p = emu_core.devs; p != NULL; p = p->next)
			if (strcmp(p->d.udid, udid) == 0)
				id = p->d.device_id;
		pthread_mutex_unlock(&emu_core.lock);
		return reply(fd, "ok %s %u\n", udid, id);
	}
	if (strcmp(line, "detach") == 0 && arg != NULL && *arg != '\0') {
		if (core_dev_detach(arg) != 0)
			return reply(fd, "error no attached device %s\n", arg);
		return reply(fd, "ok\n");
	}
	if (strcmp(line, "trust") == 0 && arg != NULL && *arg != '\0')
		return run_trust(fd, arg);
	if (strcmp(line, "list") == 0 && (arg == NULL || *arg == '\0')) {
		char *s = core_dev_list();
		int rc = reply(fd, "ok %s\n", s);
		free(s);
		return rc;
	}
	if (*line == '\0')
		return reply(
		    fd, "error empty command: use attach PROFILE_DIR, detach UDID, trust UDID or list\n");
	return reply(
	    fd, "error unknown command '%.64s': use attach PROFILE_DIR, detach UDID, trust UDID or list\n",
	    line);
}

void
emu_control_serve(int fd)
{
	char line[LINE_MAX_LEN + 1];
	size_t len = 0;

	for (;;) {
		char c;
		if (emu_read_full(fd, &c, 1, IDLE_MS, NULL) != 0)
			return;
		if (c == '\n') {
			line[len] = '\0';
			if (len > 0 && line[len - 1] == '\r')
				line[len - 1] = '\0';
			if (run(fd, line) != 0)
				return;
			len = 0;
			continue;
		}
		if (len == LINE_MAX_LEN) {
			(void)reply(fd, "error line longer than %d bytes\n", LINE_MAX_LEN);
			return;
		}
		line[len++] = c;
	}
}
