/* log: see log.h. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char log_prog[32] = "benchd";
static enum log_level log_level = LOG_LEVEL_INFO;
static int log_fd = STDERR_FILENO;
static _Thread_local char log_device[64];

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void
log_init(const char *prog, enum log_level level)
{
	if (prog != NULL) {
		const char *slash = strrchr(prog, '/');
		snprintf(log_prog, sizeof(log_prog), "%s", slash ? slash + 1 : prog);
	}
	log_level = level;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

void
log_set_device(const char *device)
{
	snprintf(log_device, sizeof(log_device), "%s", device ? device : "");
}

void
log_set_fd(int fd)
{
	log_fd = fd < 0 ? STDERR_FILENO : fd;
}

void
log_vlog(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	int saved = errno;
	char line[2048];
	size_t n;
	int r;

	if (level > log_level) {
		errno = saved;
		return;
	}
	if (log_device[0] != '\0')
		r = snprintf(line, sizeof(line), "%s[%s]: %s: ", log_prog, log_device, level_names[level]);
	else
		r = snprintf(line, sizeof(line), "%s: %s: ", log_prog, level_names[level]);
	n = r < 0 ? 0 : (size_t)r;
	if (n < sizeof(line)) {
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		n += r < 0 ? 0 : (size_t)r;
	}
	if (with_errno && n < sizeof(line)) {
		r = snprintf(line + n, sizeof(line) - n, ": %s", strerror(saved));
		n += r < 0 ? 0 : (size_t)r;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2; /* truncated: keep room for the newline */
	line[n++] = '\n';
	/* One write per line: concurrent threads never interleave inside a line. */
	if (write(log_fd, line, n) < 0) {
		/* nowhere left to report it */
	}
	errno = saved;
}

#define LOG_BODY(level, with_errno)                                                                          \
	do {                                                                                                 \
		va_list ap;                                                                                  \
		va_start(ap, fmt);                                                                           \
		log_vlog(level, with_errno, fmt, ap);                                                        \
		va_end(ap);                                                                                  \
	} while (0)

void
log_error(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 1);
}

void
log_errorx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 0);
}

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, 1);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, 0);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, 0);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, 0);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 1);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 0);
	exit(1);
}
