/* control: see control.h. */
#include "control.h"

#include "ctlclient.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define STREAM_OUT_MAX  (256u * 1024) /* bytes of events waiting for a slow streaming client */
#define STREAM_OUT_FILL (64u * 1024)  /* take more events from the bus below this */

struct client {
	int fd;
	char in[CTL_REQUEST_MAX + 1];
	size_t len;
	/* A streaming connection (subscribe): its subscriber and what is not sent yet. */
	struct events_sub *sub;
	char *out;
	size_t outlen, outcap;
	int closing;           /* the subscriber closed: flush, then drop */
	long long idle_since;  /* util_now_ms() of the last answer (or the accept) */
	long long req_started; /* the first byte of the request in `in`, when len > 0 */
};

struct control {
	char path[108];
	int lfd;
	int wake[2]; /* a pipe: control_stop writes to end the poll */
	control_handler fn;
	void *ctx;
	pthread_t thread;
	struct client clients[CONTROL_MAX_CLIENTS];
	int nclients;
};

/* Write the whole answer line; a client that does not read for 2 s is dropped. */
static int
send_line(int fd, json_t *resp)
{
	char *s = json_dumps(resp, JSON_COMPACT);
	size_t len, off = 0;
	int r = 0;

	if (s == NULL)
		s = xstrdup("{\"ok\":false,\"error\":\"cannot encode the answer\"}");
	len = strlen(s);
	if (len + 1 > CTL_LINE_MAX) {
		free(s);
		s = xstrdup("{\"ok\":false,\"error\":\"the answer is too long\"}");
		len = strlen(s);
	}
	s = xrealloc(s, len + 2);
	s[len++] = '\n';
	while (off < len) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		ssize_t n;
		if (poll(&p, 1, 2000) <= 0) {
			r = -1;
			break;
		}
		n = send(fd, s + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			r = -1;
			break;
		}
		if (n > 0)
			off += (size_t)n;
	}
	free(s);
	return r;
}

static json_t *
error_answer(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static void
drop(struct control *c, int i)
{
	struct client *cl = &c->clients[i];

	close(cl->fd);
	events_unsubscribe(cl->sub);
	free(cl->out);
	c->clients[i] = c->clients[--c->nclients];
}

/* Queue bytes for a streaming client; -1 when it is too far behind. */
static int
stream_add(struct client *cl, const char *p, size_t n)
{
	if (cl->outlen + n > STREAM_OUT_MAX)
		return -1;
	if (cl->outlen + n > cl->outcap) {
		cl->outcap = cl->outlen + n > cl->outcap * 2 ? cl->outlen + n : cl->outcap * 2;
		cl->out = xrealloc(cl->out, cl->outcap);
	}
	memcpy(cl->out + cl->outlen, p, n);
	cl->outlen += n;
	return 0;
}

/* Move events from the bus into the client's output; -1 to drop the client. */
static int
stream_fill(struct client *cl)
{
	struct events_msg m;
	int r;

	while (cl->outlen < STREAM_OUT_FILL && !cl->closing) {
		r = events_next(cl->sub, 0, &m);
		if (r == 0)
			break;
		if (r < 0) {
			cl->closing = 1;
			break;
		}
		r = stream_add(cl, m.json, m.len);
		if (r == 0)
			r = stream_add(cl, "\n", 1);
		events_msg_clear(&m);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* Send what the socket takes now; -1 on a broken connection. */
static int
stream_flush(struct client *cl)
{
	while (cl->outlen > 0) {
		ssize_t n = send(cl->fd, cl->out, cl->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		if (n <= 0)
			return -1;
		memmove(cl->out, cl->out + n, cl->outlen - (size_t)n);
		cl->outlen -= (size_t)n;
	}
	return 0;
}

/* Handle every complete line in client i; returns -1 when the client must be dropped. */
static int
serve_lines(struct control *c, int i)
{
	struct client *cl = &c->clients[i];
	char *nl;

	while ((nl = memchr(cl->in, '\n', cl->len)) != NULL) {
		size_t n = (size_t)(nl - cl->in);
		json_error_t jerr;
		json_t *req = json_loadb(cl->in, n, JSON_REJECT_DUPLICATES, &jerr), *resp;

		struct events_sub *sub = NULL;

		if (cl->sub != NULL) { /* a streaming connection: input is ignored */
			json_decref(req);
			memmove(cl->in, nl + 1, cl->len - n - 1);
			cl->len -= n + 1;
			continue;
		}
		if (!json_is_object(req))
			resp = error_answer(
			    "a request is one JSON object on one line, e.g. {\"cmd\":\"status\"}");
		else
			resp = c->fn(req, c->ctx, &sub);
		json_decref(req);
		if (resp == NULL)
			resp = error_answer("internal error");
		if (send_line(cl->fd, resp) < 0) {
			json_decref(resp);
			events_unsubscribe(sub);
			return -1;
		}
		json_decref(resp);
		memmove(cl->in, nl + 1, cl->len - n - 1);
		cl->len -= n + 1;
		cl->idle_since = cl->req_started = util_now_ms();
		if (sub != NULL) {
			cl->sub = sub;
			cl->len = 0; /* whatever followed the subscribe line is ignored */
			return 0;
		}
	}
	if (cl->len >= CTL_REQUEST_MAX && cl->sub != NULL) {
		cl->len = 0;
	} else if (cl->len >= CTL_REQUEST_MAX) {
		json_t *resp = error_answer("request line too long");
		send_line(cl->fd, resp);
		json_decref(resp);
		return -1;
	}
	return 0;
}

/* When client cl must be closed for want of a request (util_now_ms), or -1: never (a stream). */
static long long
client_deadline(const struct client *cl)
{
	if (cl->sub != NULL)
		return -1;
	if (cl->len > 0)
		return cl->req_started + CONTROL_REQUEST_MS;
	return cl->idle_since + CONTROL_IDLE_MS;
}

/* Is the peer one of our own reader processes (a child of this benchd)? */
static int
peer_is_child(int fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	char path[64], buf[512], *rp;
	int sfd;
	ssize_t n;
	long ppid = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0 || uc.pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)uc.pid);
	if ((sfd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(sfd, buf, sizeof(buf) - 1);
	close(sfd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, so read after the last ')' */
	if ((rp = strrchr(buf, ')')) == NULL || sscanf(rp + 1, " %*c %ld", &ppid) != 1)
		return 0;
	return ppid == (long)getpid();
}

/* Accept one connection: served, or told why not and closed. */
static void
accept_one(struct control *c)
{
	int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	json_t *no = NULL;

	if (fd < 0)
		return;
	if (peer_is_child(fd)) {
		log_warnx("control: refused a connection from one of benchd's reader processes");
		no = json_pack("{s:b, s:s, s:s}", "ok", 0, "error",
		               "a reader process may not use the control socket", "code", "bad_request");
	} else if (c->nclients >= CONTROL_MAX_CLIENTS) {
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "benchd has %d control connections open, its limit: try again in a moment (idle "
		         "ones close after %d s)",
		         CONTROL_MAX_CLIENTS, CONTROL_IDLE_MS / 1000);
		no = json_pack("{s:b, s:s, s:s}", "ok", 0, "error", msg, "code", "unavailable");
	}
	if (no != NULL) {
		(void)send_line(fd, no);
		json_decref(no);
		close(fd);
		return;
	}
	memset(&c->clients[c->nclients], 0, sizeof(c->clients[c->nclients]));
	c->clients[c->nclients].fd = fd;
	c->clients[c->nclients].idle_since = util_now_ms();
	c->nclients++;
}

static void *
run(void *arg)
{
	struct control *c = arg;
	/* wake, listener, then two per client: its socket and its subscriber (or -1) */
	struct pollfd p[2 + 2 * CONTROL_MAX_CLIENTS];

	log_set_device(NULL);
	for (;;) {
		int n = 0, timeout = -1;
		long long now = util_now_ms();

		/* Close what waited too long for a request; the earliest deadline bounds the poll. */
		for (int i = c->nclients - 1; i >= 0; i--) {
			long long dl = client_deadline(&c->clients[i]);
			if (dl >= 0 && dl <= now) {
				if (c->clients[i].len > 0) {
					json_t *e = error_answer("the request line did not end in time");
					(void)send_line(c->clients[i].fd, e);
					json_decref(e);
				}
				drop(c, i);
			}
		}
		for (int i = 0; i < c->nclients; i++) {
			long long dl = client_deadline(&c->clients[i]);
			if (dl >= 0 && (timeout < 0 || dl - now < timeout))
				timeout = dl - now < 1 ? 1 : (int)(dl - now);
		}
		p[n++] = (struct pollfd){.fd = c->wake[0], .events = POLLIN};
		p[n++] = (struct pollfd){.fd = c->lfd, .events = POLLIN}; /* over the cap: refused */
		for (int i = 0; i < c->nclients; i++) {
			struct client *cl = &c->clients[i];
			p[n++] = (struct pollfd){.fd = cl->fd,
			                         .events = (short)(POLLIN | (cl->outlen > 0 ? POLLOUT : 0))};
			p[n++] = (struct pollfd){.fd = cl->sub && !cl->closing && cl->outlen < STREAM_OUT_FILL
			                                   ? events_sub_fd(cl->sub)
			                                   : -1,
			                         .events = POLLIN};
		}
		if (poll(p, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("control: poll");
			break;
		}
		if (p[0].revents)
			break;
		/* Clients first (indexes shift when one is dropped: walk backwards). */
		for (int i = c->nclients - 1; i >= 0; i--) {
			struct client *cl = &c->clients[i];
			struct pollfd *ps = &p[2 + 2 * i], *pe = &p[3 + 2 * i];
			ssize_t r;
			if (cl->sub != NULL) {
				if ((pe->revents && stream_fill(cl) < 0) ||
				    ((ps->revents & POLLOUT) && stream_flush(cl) < 0) ||
				    (ps->revents & (POLLERR | POLLHUP))) {
					drop(c, i);
					continue;
				}
				if (pe->revents && stream_flush(cl) < 0) {
					drop(c, i);
					continue;
				}
				if (cl->closing && cl->outlen == 0) {
					drop(c, i);
					continue;
				}
				if (!(ps->revents & POLLIN))
					continue;
			} else if (!ps->revents) {
				continue;
			}
			r = recv(cl->fd, cl->in + cl->len, CTL_REQUEST_MAX - cl->len, 0);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) {
				drop(c, i);
				continue;
			}
			if (cl->len == 0)
				cl->req_started = util_now_ms();
			cl->len += (size_t)r;
			if (serve_lines(c, i) < 0)
				drop(c, i);
		}
		if (p[1].revents & POLLIN)
			accept_one(c);
	}
	while (c->nclients > 0)
		drop(c, c->nclients - 1);
	return NULL;
}

int
control_start(const char *path, control_handler fn, void *ctx, struct control **out, char *why, size_t whylen)
{
	struct sockaddr_un sa;
	struct stat st;
	struct control *c;
	int r, e;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, whylen, "control socket path %s is longer than %zu bytes", path,
		         sizeof(sa.sun_path) - 1);
		return CONTROL_E_PATH;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(why, whylen,
			         "%s exists and is not a socket: move it away or set [control] socket", path);
			return CONTROL_E_PATH;
		}
		r = ctl_probe(path);
		if (r == 1) {
			snprintf(why, whylen,
			         "another benchd answers on %s: stop it first (benchctl status shows it)",
			         path);
			return CONTROL_E_IN_USE;
		}
		if (r == CTL_E_ACCESS) {
			snprintf(why, whylen, "%s: permission denied: another user's benchd may be running",
			         path);
			return CONTROL_E_IN_USE;
		}
		log_info("control: removing the stale socket %s (nothing answers on it)", path);
		if (unlink(path) < 0 && errno != ENOENT) {
			snprintf(why, whylen, "cannot remove the stale socket %s: %s", path, strerror(errno));
			return CONTROL_E_PATH;
		}
	}
	c = xcalloc(1, sizeof(*c));
	util_strlcpy(c->path, path, sizeof(c->path));
	c->fn = fn;
	c->ctx = ctx;
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->lfd < 0 || pipe2(c->wake, O_CLOEXEC) < 0) {
		snprintf(why, whylen, "control socket: %s", strerror(errno));
		goto fail;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	util_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	{
		/* Bind with a umask that gives 0660 from the start: no window where others connect. */
		mode_t old = umask(0117);
		r = bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa));
		e = errno;
		umask(old);
	}
	if (r < 0) {
		snprintf(why, whylen, "cannot create the control socket %s: %s", path, strerror(e));
		goto fail;
	}
	if (chmod(path, 0660) < 0 || listen(c->lfd, 16) < 0) {
		snprintf(why, whylen, "control socket %s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	if ((e = pthread_create(&c->thread, NULL, run, c)) != 0) {
		snprintf(why, whylen, "cannot start the control thread: %s", strerror(e));
		unlink(path);
		goto fail;
	}
	*out = c;
	return CONTROL_OK;
fail:
	if (c->lfd >= 0)
		close(c->lfd);
	if (c->wake[0] > 0) {
		close(c->wake[0]);
		close(c->wake[1]);
	}
	free(c);
	return CONTROL_E_SOCKET;
}

void
control_stop(struct control *c)
{
	if (c == NULL)
		return;
	if (write(c->wake[1], "x", 1) < 0)
		log_warn("control: wake");
	pthread_join(c->thread, NULL);
	close(c->lfd);
	close(c->wake[0]);
	close(c->wake[1]);
	unlink(c->path);
	free(c);
}
