/* sse: see sse.h. */
#include "sse.h"

#include "commands.h"
#include "events.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define SSE_OUT_MAX (1u << 20)   /* framed bytes kept for one read: events are far smaller */
#define SSE_BATCH   (16u * 1024) /* events taken at once while more are waiting */
#define SSE_WAIT_MS 250          /* how often the stop flag is looked at */

struct sse_stream {
	struct events_sub *sub; /* NULL: keepalives only */
	const atomic_int *stopping;
	int keepalive_s;
	uint64_t seq;   /* the bus's seq when we subscribed, said in the first comment */
	struct buf out; /* framed bytes not yet handed to libmicrohttpd */
	size_t off;
	int ended; /* the last bytes are queued; then end */
	int hello;
};

int
sse_format(uint64_t seq, const char *json, size_t len, struct buf *out)
{
	if (memchr(json, '\n', len) != NULL || memchr(json, '\r', len) != NULL)
		return -1;
	if (buf_printf(out, "id: %llu\ndata: ", (unsigned long long)seq) < 0 || buf_add(out, json, len) < 0 ||
	    buf_addstr(out, "\n\n") < 0)
		return -1;
	return 0;
}

struct sse_stream *
sse_stream_new(struct commands *cmds, uint64_t since, const atomic_int *stopping, int keepalive_s)
{
	struct sse_stream *s = xcalloc(1, sizeof(*s));

	s->stopping = stopping;
	s->keepalive_s = keepalive_s > 0 ? keepalive_s : 10;
	buf_init(&s->out, SSE_OUT_MAX);
	if (cmds != NULL) {
		json_t *req = json_pack("{s:s}", "cmd", "subscribe"), *answer = NULL;
		if (since > 0)
			json_object_set_new(req, "since", json_integer((json_int_t)since));
		s->sub = commands_subscribe(cmds, req, &answer);
		s->seq = (uint64_t)json_integer_value(json_object_get(answer, "seq"));
		if (s->sub == NULL)
			log_warnx("web: the events stream was refused: %s",
			          json_string_value(json_object_get(answer, "error")));
		json_decref(answer);
		json_decref(req);
	}
	return s;
}

/* One event into out; 1 when it was the subscriber's last (events.dropped). */
static int
put_event(struct sse_stream *s, struct events_msg *m)
{
	int last = strcmp(m->type, EV_EVENTS_DROPPED) == 0;

	if (sse_format(m->seq, m->json, m->len, &s->out) < 0)
		log_warnx("web: event %llu (%s) not streamed: too large or not one line",
		          (unsigned long long)m->seq, m->type);
	events_msg_clear(m);
	return last;
}

/* Wait for the next thing to say: events, a keepalive, or the end. Fills s->out. */
static void
next(struct sse_stream *s)
{
	long long until = util_now_ms() + (long long)s->keepalive_s * 1000;
	struct events_msg m;

	buf_reset(&s->out);
	s->off = 0;
	if (!s->hello) {
		/* The reconnect delay the browser uses, and a first line so it sees the stream open. */
		s->hello = 1;
		if (buf_printf(&s->out, "retry: 1000\n: benchd events from seq %llu\n\n",
		               (unsigned long long)s->seq) < 0)
			s->ended = 1;
		return;
	}
	while (!atomic_load(s->stopping)) {
		long long left = until - util_now_ms();
		int r;
		if (left <= 0)
			break;
		if (s->sub == NULL) {
			struct timespec ts = {0, (left > SSE_WAIT_MS ? SSE_WAIT_MS : left) * 1000000L};
			nanosleep(&ts, NULL);
			continue;
		}
		r = events_next(s->sub, left > SSE_WAIT_MS ? SSE_WAIT_MS : (int)left, &m);
		if (r < 0) {
			s->ended = 1; /* shut down, or dropped after its last event */
			return;
		}
		if (r == 0)
			continue;
		if (put_event(s, &m)) {
			s->ended = 1;
			return;
		}
		/* Whatever else is waiting goes in the same write. */
		while (s->out.len < SSE_BATCH && events_next(s->sub, 0, &m) == 1) {
			if (put_event(s, &m)) {
				s->ended = 1;
				return;
			}
		}
		if (s->out.len > 0)
			return;
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
	if (s->sub)
		events_unsubscribe(s->sub);
	buf_free(&s->out);
	free(s);
}
