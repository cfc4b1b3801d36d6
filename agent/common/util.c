/* util: see util.h. */
#include "util.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("malloc %zu bytes", n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t n)
{
	void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);

	if (p == NULL)
		fatal("calloc %zu x %zu bytes", nmemb, n);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		fatal("realloc %zu bytes", n);
	return q;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal("strdup");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (r < 0)
		fatal("asprintf");
	return p;
}

size_t
util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

size_t
util_strlcat(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(dst, size);

	if (n == size)
		return n + strlen(src);
	return n + util_strlcpy(dst + n, src, size - n);
}

int
util_read_file(const char *path, size_t max, char **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *p = NULL;
	size_t have = 0, cap = 0;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		errno = EISDIR;
		return -1;
	}
	for (;;) {
		ssize_t r;
		if (cap - have < 4096) {
			size_t ncap = cap ? cap * 2 : 8192;
			if (ncap > max + 2)
				ncap = max + 2; /* one byte past max proves the file is too big */
			if (ncap <= have + 1) {
				free(p);
				close(fd);
				errno = EFBIG;
				return -1;
			}
			p = xrealloc(p, ncap);
			cap = ncap;
		}
		r = read(fd, p + have, cap - have - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(p);
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		have += (size_t)r;
		if (have > max) {
			free(p);
			close(fd);
			errno = EFBIG;
			return -1;
		}
	}
	close(fd);
	if (p == NULL)
		p = xmalloc(1);
	p[have] = '\0';
	*data = p;
	if (len)
		*len = have;
	return 0;
}

int
util_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	const char *p = data;
	int fd, e;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		goto fail;
	if (fchmod(fd, mode) < 0)
		goto fail_fd;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail_fd;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail_fd;
	if (close(fd) < 0)
		goto fail_unlink;
	if (rename(tmp, path) < 0)
		goto fail_unlink;
	free(tmp);
	return 0;
fail_fd:
	e = errno;
	close(fd);
	errno = e;
fail_unlink:
	e = errno;
	unlink(tmp);
	errno = e;
fail:
	e = errno;
	free(tmp);
	errno = e;
	return -1;
}

int
util_mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	char *s;
	int e;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			goto fail;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		goto fail;
	free(p);
	return 0;
fail:
	e = errno;
	free(p);
	errno = e;
	return -1;
}

void
util_rfc3339(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
util_parse_rfc3339(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	long off = 0;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
	           p[3] == ':' && p[4] >= '0' && p[4] <= '9' && p[5] >= '0' && p[5] <= '9') {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600L + ((p[4] - '0') * 10 + (p[5] - '0')) * 60L;
		if (*p == '+')
			off = -off;
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	*out = timegm(&tm) + off;
	return 0;
}

long long
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *
util_state_dir(const char *opt)
{
	const char *env;

	if (opt != NULL && opt[0] != '\0')
		return xstrdup(opt);
	env = getenv("BENCHD_STATE_DIR");
	if (env != NULL && env[0] != '\0')
		return xstrdup(env);
	if (geteuid() == 0)
		return xstrdup("/var/lib/benchd");
	env = getenv("XDG_STATE_HOME");
	if (env != NULL && env[0] == '/')
		return xasprintf("%s/benchd", env);
	env = getenv("HOME");
	return xasprintf("%s/.local/state/benchd", env && env[0] ? env : "/tmp");
}

int
util_state_dir_check(const char *dir, char *why, size_t whylen)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return 0; /* made later, with a safe mode */
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, whylen,
		         "the state directory %s is %s-writable (mode %04o): whoever can write there could "
		         "replace reports or the bench key; fix it with: chmod go-w %s",
		         dir, (st.st_mode & S_IWOTH) ? "world" : "group", (unsigned)(st.st_mode & 07777),
		         dir);
		return -1;
	}
	return 0;
}

void
util_sd_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t salen;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
		log_debug("notify: %s", strerror(errno));
	close(fd);
}
