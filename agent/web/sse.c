/* sse: see sse.h. */
#include "sse.h"

#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SSE_EVENT_MAX (256u * 1024) /* one event bigger than this is not sent (said instead) */

struct sse_stream {
	struct events *bus;
	const atomic_int *stopping;
	int keepalive_s;
	struct buf out; /* framed bytes not yet handed to libmicrohttpd */
	size_t off;
	int ended; /* the last bytes are queued; then end */
	int hello;
};

int
sse_format(const json_t *ev, struct buf *out)
{
	json_t *seq = json_object_get(ev, "seq");
	char *s;
	int r = 0;

	if (!json_is_object(ev))
		return -1;
	s = json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (s == NULL)
		return -1;
	/* JSON_COMPACT never writes a newline (strings escape theirs), so one data line holds it. */
	if (json_is_integer(seq))
		r = buf_printf(out, "id: %lld\n", (long long)json_integer_value(seq));
	if (r == 0)
		r = buf_printf(out, "data: %s\n\n", s);
	free(s);
	return r == 0 ? 0 : -1;
}

struct sse_stream *
sse_stream_new(struct events *bus, const atomic_int *stopping, int keepalive_s)
{
	struct sse_stream *s = xcalloc(1, sizeof(*s));

	s->bus = bus;
	s->stopping = stopping;
	s->keepalive_s = keepalive_s > 0 ? keepalive_s : 10;
	buf_init(&s->out, SSE_EVENT_MAX + 4096);
	return s;
}

/* Wait for the next thing to say: an event, a keepalive, or the end. Fills s->out. */
static void
next(struct sse_stream *s)
{
	long long until = util_now_ms() + (long long)s->keepalive_s * 1000;

	buf_reset(&s->out);
	s->off = 0;
	if (!s->hello) {
		/* The reconnect delay the browser uses, and a first byte so it sees the stream open. */
		s->hello = 1;
		if (buf_addstr(&s->out, "retry: 1000\n: benchd events\n\n") < 0)
			s->ended = 1;
		return;
	}
	while (!atomic_load(s->stopping)) {
		long long now = util_now_ms();
		if (now >= until)
			break;
		long long wait = until - now > 250 ? 250 : until - now;
		struct timespec ts = {0, (long)wait * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (atomic_load(s->stopping)) {
		s->ended = 1;
		return;
	}
	if (buf_addstr(&s->out, ": keepalive\n\n") < 0)
		s->ended = 1;
}

ssize_t
sse_stream_read(struct sse_stream *s, char *buf, size_t max)
{
	size_t n;

	while (s->off >= s->out.len) {
		if (s->ended || atomic_load(s->stopping))
			return -1;
		next(s);
	}
	n = s->out.len - s->off;
	if (n > max)
		n = max;
	memcpy(buf, s->out.data + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

void
sse_stream_free(struct sse_stream *s)
{
	if (s == NULL)
		return;
	buf_free(&s->out);
	free(s);
}
