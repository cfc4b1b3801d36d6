/* ctlclient: see ctlclient.h. */
#include "ctlclient.h"

#include "buf.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * Connect without blocking past deadline: a UNIX socket whose listen backlog is full answers
 * EAGAIN at once (a blocking connect would wait for room without limit), so retry until then.
 */
static int
connect_unix(const char *path, int *fd, long long deadline, char *why, size_t whylen)
{
	struct sockaddr_un sa;
	int s;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, whylen, "%s: socket path too long", path);
		return CTL_E_NO_DAEMON;
	}
	util_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return CTL_E_IO;
	}
	for (;;) {
		int e;
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		e = errno;
		if (e == EINTR)
			continue;
		if (e == EINPROGRESS) {
			struct pollfd p = {.fd = s, .events = POLLOUT};
			socklen_t el = sizeof(e);
			long long left = deadline - util_now_ms();
			if (poll(&p, 1, left > 0 ? (int)left : 0) == 1 &&
			    getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0)
				break;
			if (e == EINPROGRESS)
				e = ETIMEDOUT;
		}
		if (e == EAGAIN && util_now_ms() < deadline) {
			usleep(20 * 1000);
			continue;
		}
		close(s);
		if (e == EAGAIN || e == ETIMEDOUT) {
			snprintf(why, whylen,
			         "%s: benchd did not accept the connection in time (too many clients?)",
			         path);
			return CTL_E_IO;
		}
		snprintf(why, whylen, "%s: %s", path, strerror(e));
		if (e == EACCES || e == EPERM)
			return CTL_E_ACCESS;
		return CTL_E_NO_DAEMON;
	}
	*fd = s;
	return CTL_OK;
}

int
ctl_probe(const char *path)
{
	char why[256];
	int fd, r = connect_unix(path, &fd, util_now_ms() + 1000, why, sizeof(why));

	if (r == CTL_OK) {
		close(fd);
		return 1;
	}
	if (r == CTL_E_IO) /* it listens, only too busy to take us */
		return 1;
	return r == CTL_E_ACCESS ? CTL_E_ACCESS : 0;
}

static int
remaining(long long deadline)
{
	long long left = deadline - util_now_ms();
	return left < 0 ? 0 : (int)left;
}

int
ctl_request(const char *path, const json_t *req, json_t **resp, int timeout_ms, char *why, size_t whylen)
{
	long long deadline = util_now_ms() + timeout_ms;
	char *line = NULL, *nl;
	struct buf in;
	size_t len, off = 0;
	int fd, r;
	json_error_t jerr;

	*resp = NULL;
	if ((r = connect_unix(path, &fd, deadline, why, whylen)) != CTL_OK)
		return r;
	line = json_dumps(req, JSON_COMPACT);
	if (line == NULL) {
		close(fd);
		snprintf(why, whylen, "cannot encode the request");
		return CTL_E_PROTOCOL;
	}
	len = strlen(line);
	line = xrealloc(line, len + 2);
	line[len++] = '\n';
	line[len] = '\0';
	while (off < len) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		ssize_t n;
		if (poll(&p, 1, remaining(deadline)) <= 0) {
			snprintf(why, whylen, "%s: benchd did not take the request in time", path);
			r = CTL_E_IO;
			goto out;
		}
		n = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			break; /* benchd said no and closed (too many clients): its line says why */
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			snprintf(why, whylen, "%s: %s", path, strerror(errno));
			r = CTL_E_IO;
			goto out;
		}
		if (n > 0)
			off += (size_t)n;
	}
	buf_init(&in, CTL_LINE_MAX);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char chunk[8192];
		ssize_t n;
		if (poll(&p, 1, remaining(deadline)) <= 0) {
			snprintf(why, whylen, "%s: benchd did not answer in %d ms", path, timeout_ms);
			r = CTL_E_IO;
			break;
		}
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			snprintf(why, whylen, "%s: benchd closed the connection without an answer", path);
			r = CTL_E_IO;
			break;
		}
		if (buf_add(&in, chunk, (size_t)n) != BUF_OK) {
			snprintf(why, whylen, "%s: the answer is longer than %u bytes", path, CTL_LINE_MAX);
			r = CTL_E_PROTOCOL;
			break;
		}
		if ((nl = memchr(in.data, '\n', in.len)) != NULL) {
			*resp = json_loadb(in.data, (size_t)(nl - in.data), 0, &jerr);
			if (!json_is_object(*resp)) {
				json_decref(*resp);
				*resp = NULL;
				snprintf(why, whylen, "%s: the answer is not a JSON object: %s", path,
				         jerr.text);
				r = CTL_E_PROTOCOL;
			} else {
				r = CTL_OK;
			}
			break;
		}
	}
	buf_free(&in);
out:
	free(line);
	close(fd);
	return r;
}

struct ctl_stream {
	int fd;
	struct buf in;
};

int
ctl_stream_fd(const struct ctl_stream *st)
{
	return st->fd;
}

void
ctl_stream_close(struct ctl_stream *st)
{
	if (st == NULL)
		return;
	close(st->fd);
	buf_free(&st->in);
	free(st);
}

int
ctl_stream_next(struct ctl_stream *st, char **line, int timeout_ms)
{
	long long deadline = timeout_ms < 0 ? -1 : util_now_ms() + timeout_ms;

	*line = NULL;
	for (;;) {
		char *nl = st->in.len ? memchr(st->in.data, '\n', st->in.len) : NULL;
		struct pollfd p = {.fd = st->fd, .events = POLLIN};
		char chunk[8192];
		ssize_t n;
		int pr;
		if (nl != NULL) {
			size_t l = (size_t)(nl - st->in.data);
			*line = xmalloc(l + 1);
			memcpy(*line, st->in.data, l);
			(*line)[l] = '\0';
			memmove(st->in.data, nl + 1, st->in.len - l - 1);
			st->in.len -= l + 1;
			st->in.data[st->in.len] = '\0';
			return CTL_OK;
		}
		pr = poll(&p, 1, deadline < 0 ? -1 : remaining(deadline));
		if (pr < 0 && errno == EINTR)
			return 1;
		if (pr == 0)
			return 1;
		n = recv(st->fd, chunk, sizeof(chunk), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return CTL_E_IO;
		if (buf_add(&st->in, chunk, (size_t)n) != BUF_OK)
			return CTL_E_PROTOCOL;
	}
}

int
ctl_stream_open(const char *path, const json_t *req, struct ctl_stream **out, json_t **resp, int timeout_ms,
                char *why, size_t whylen)
{
	struct ctl_stream *st;
	char *line = NULL;
	size_t len;
	int fd, r;
	json_error_t jerr;

	*out = NULL;
	*resp = NULL;
	if ((r = connect_unix(path, &fd, util_now_ms() + (timeout_ms > 0 ? timeout_ms : 5000), why,
	                      whylen)) != CTL_OK)
		return r;
	line = json_dumps(req, JSON_COMPACT);
	if (line == NULL) {
		close(fd);
		snprintf(why, whylen, "cannot encode the request");
		return CTL_E_PROTOCOL;
	}
	len = strlen(line);
	line = xrealloc(line, len + 2);
	line[len++] = '\n';
	if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		free(line);
		close(fd);
		return CTL_E_IO;
	}
	free(line);
	st = xcalloc(1, sizeof(*st));
	st->fd = fd;
	buf_init(&st->in, CTL_LINE_MAX);
	r = ctl_stream_next(st, &line, timeout_ms);
	if (r != CTL_OK) {
		snprintf(why, whylen, "%s: benchd %s", path,
		         r == 1 ? "did not answer in time" : "closed the connection");
		ctl_stream_close(st);
		return CTL_E_IO;
	}
	*resp = json_loads(line, 0, &jerr);
	free(line);
	if (!json_is_object(*resp)) {
		json_decref(*resp);
		*resp = NULL;
		snprintf(why, whylen, "%s: the answer is not a JSON object: %s", path, jerr.text);
		ctl_stream_close(st);
		return CTL_E_PROTOCOL;
	}
	*out = st;
	return CTL_OK;
}
