/*
 * sse: the /api/events stream (Server-Sent Events, HTML Living Standard 9.2) of the events bus.
 *
 * Each event of the bus ({"type", "at", "seq", ...}) goes out as
 *
 *     id: <seq>\n
 *     data: <the event, compact JSON on one line>\n
 *     \n
 *
 * so the browser's EventSource keeps the last seq and sends it back as Last-Event-ID when it
 * reconnects; the page re-reads /api/state after every (re)connect and drops events it already
 * has (seq not above the state's). A comment line (": keepalive") goes out when nothing happened
 * for WEB_KEEPALIVE_SECONDS, so a dead peer is noticed and proxies keep the stream open; a
 * subscriber the bus dropped for falling behind gets {"type":"stream.reset"} and the stream
 * ends (the browser reconnects and re-reads the state).
 *
 * A stream lives in its connection's own thread (libmicrohttpd thread per connection): read
 * blocks until an event, a keepalive or the stop flag. Ownership: sse_stream_new/free.
 */
#ifndef BENCHD_WEB_SSE_H
#define BENCHD_WEB_SSE_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

#include <stdint.h>

struct commands;
struct sse_stream;

/* Append one event (its compact one-line JSON, as the bus serialised it) in SSE framing to out:
 * "id: <seq>\ndata: <json>\n\n". Returns 0, or -1 when it does not fit or json holds a line
 * break (which would end the event early). */
int sse_format(uint64_t seq, const char *json, size_t len, struct buf *out);

/* A stream of the bench's events: a subscriber through commands_subscribe, catching up from
 * `since` (the browser's Last-Event-ID; 0 for none). NULL cmds: keepalives only. `stopping` is
 * polled: non-zero ends the stream. */
struct sse_stream *sse_stream_new(struct commands *cmds, uint64_t since, const atomic_int *stopping,
                                  int keepalive_s);
/* Fill buf with up to max bytes of the stream, blocking until there is something. Returns the
 * byte count, or -1 when the stream has ended (stop, or the bus dropped us and that was said). */
ssize_t sse_stream_read(struct sse_stream *s, char *buf, size_t max);
void sse_stream_free(struct sse_stream *s);

#endif
