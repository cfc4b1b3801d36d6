/*
 * util: the small helpers every program needs.
 *
 * x* allocators call fatal() on out of memory (OpenBSD policy: callers carry no OOM paths).
 * util_read_file reads at most max bytes and fails past that, so no file can balloon memory.
 * util_write_file_atomic writes a temp file in the same directory, fsyncs it and renames it,
 * so a reader or a crash sees the old bytes or the new, never a half-written file.
 */
#ifndef BENCHD_UTIL_H
#define BENCHD_UTIL_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copy like strlcpy: always NUL-terminates when size > 0; returns strlen(src). */
size_t util_strlcpy(char *dst, const char *src, size_t size);
/* Append like strlcat: dst (NUL-terminated within size) keeps what fits; returns the length it
 * would have had. */
size_t util_strlcat(char *dst, const char *src, size_t size);

/*
 * Read a whole file, at most max bytes. Returns 0 and a NUL-terminated malloc'd *data, or -1
 * with errno set (EFBIG when the file is larger than max).
 */
int util_read_file(const char *path, size_t max, char **data, size_t *len);
/* Write atomically (temp + fsync + rename), file mode `mode`. Returns 0 or -1 with errno. */
int util_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* mkdir -p with mode for the directories it creates. Returns 0 or -1 with errno. */
int util_mkdir_p(const char *path, mode_t mode);

/* RFC 3339 UTC timestamp "2026-11-22T10:00:00Z" into out (at least 21 bytes). */
void util_rfc3339(time_t t, char *out, size_t outlen);
/* Parse RFC 3339 (Z or +hh:mm offsets, optional fraction). Returns 0 or -1. */
int util_parse_rfc3339(const char *s, time_t *out);
/* Monotonic milliseconds. */
long long util_now_ms(void);

/*
 * The state directory: `opt` when given, else $BENCHD_STATE_DIR, else /var/lib/benchd for root,
 * else $XDG_STATE_HOME/benchd (default ~/.local/state/benchd). Returns a malloc'd path.
 */
char *util_state_dir(const char *opt);
/*
 * Refuse a state directory others may write to (group or world write bit): anyone who can
 * could replace reports or the bench key. 0 when it is fine or does not exist yet; -1 with
 * the one-line reason and the chmod that fixes it in why.
 */
int util_state_dir_check(const char *dir, char *why, size_t whylen);

/* Tell systemd (sd_notify's datagram to $NOTIFY_SOCKET, when set) "READY=1", "STOPPING=1", ...;
 * silent when there is no such socket. Used by benchd and benchfleet. */
void util_sd_notify(const char *msg);

#endif
