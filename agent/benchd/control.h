/*
 * control: benchd's control socket (server side). A UNIX stream socket, mode 0660, served by
 * one thread with poll(2): up to CONTROL_MAX_CLIENTS connections, each sending JSON-lines
 * requests (ctlclient.h) of at most CTL_REQUEST_MAX bytes; the handler builds each answer
 * (benchd's handler is commands_call, commands.h).
 *
 * Streams: a handler that answers a request by opening an events subscription (subscribe,
 * `benchctl watch`) sets *stream; the connection then carries one event per line until the
 * client closes it (or the subscriber is dropped or benchd stops). A streaming connection is
 * written without blocking the control thread: events wait in the subscriber's bounded queue
 * while the client is slow, and a client too slow for that queue is dropped. Further request
 * lines on a streaming connection are read and ignored.
 *
 * Bounds (issue 11): a connection with no request in progress is closed after
 * CONTROL_IDLE_MS; a request line must be complete CONTROL_REQUEST_MS after its first byte;
 * past CONTROL_MAX_CLIENTS a new connection gets one refusal line
 * {"ok":false,"error":"...","code":"unavailable"} and is closed, so the cap never leaves a
 * client hanging in connect. A peer that is one of benchd's own reader processes (a child of
 * this benchd: the phone's code may run there) is refused at once.
 *
 * A streaming connection (subscribe) is exempt from both timeouts: it lives until the peer
 * closes it, its subscriber is dropped, or benchd stops.
 *
 * control_start refuses a path where another process answers (another benchd), removes a stale
 * socket file left by a crash, and never removes anything that is not a socket.
 * Ownership: control_start/control_stop (which unlinks the socket file it made).
 */
#ifndef BENCHD_CONTROL_H
#define BENCHD_CONTROL_H

#include <jansson.h>
#include <stddef.h>

#include "events.h"

#define CONTROL_MAX_CLIENTS 32
#define CONTROL_IDLE_MS     30000 /* no request in progress for this long: closed */
#define CONTROL_REQUEST_MS  10000 /* a request line must be complete this long after its start */

enum control_err {
	CONTROL_OK = 0,
	CONTROL_E_IN_USE = -1, /* another process answers on the path */
	CONTROL_E_PATH = -2,   /* the path exists and is not a socket, or is too long */
	CONTROL_E_SOCKET = -3, /* socket/bind/listen failed */
};

/* Called on the control thread for each request; returns a new answer object. A request that
 * opens a stream also sets *stream (NULL otherwise): the connection owns it from then on. */
typedef json_t *(*control_handler)(const json_t *req, void *ctx, struct events_sub **stream);

struct control;
int control_start(const char *path, control_handler fn, void *ctx, struct control **out, char *why,
                  size_t whylen);
void control_stop(struct control *c);

#endif
