/*
 * log: the one logging module (OpenBSD log.c style).
 *
 * Lines go to stderr as "<prog>[<device>]: <level>: <message>\n", written with one
 * write(2) so lines from concurrent sessions never interleave. The device tag is per thread
 * (log_set_device), so a session thread tags its own lines. errno is preserved by every call.
 * Owns: nothing the caller passes; strings are copied.
 */
#ifndef BENCHD_LOG_H
#define BENCHD_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

#define LOG_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Program name for the prefix; copied. Level defaults to INFO. */
void log_init(const char *prog, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Tag this thread's lines with a device (udid or ECID); NULL clears it. Copied. */
void log_set_device(const char *device);
/* Redirect output to fd (tests); -1 restores stderr. */
void log_set_fd(int fd);

/* log_warn/log_error append ": strerror(errno)"; the x variants do not. */
void log_error(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_errorx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
/* A broken invariant or out of memory: log and exit(1). */
void fatal(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

void log_vlog(enum log_level level, int with_errno, const char *fmt, va_list ap) LOG_PRINTF(3, 0);

#endif
