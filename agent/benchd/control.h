/*
 * control: benchd's control socket (server side). A UNIX stream socket, mode 0660, served by
 * one thread with poll(2): up to CONTROL_MAX_CLIENTS connections, each sending JSON-lines
 * requests (ctlclient.h) of at most CTL_REQUEST_MAX bytes; the handler builds each answer.
 *
 * Bounds (issue 11): a connection with no request in progress is closed after
 * CONTROL_IDLE_MS; a request line must be complete CONTROL_REQUEST_MS after its first byte;
 * past CONTROL_MAX_CLIENTS a new connection gets one refusal line
 * {"ok":false,"error":"...","code":"unavailable"} and is closed, so the cap never leaves a
 * client hanging in connect. A peer that is one of benchd's own reader processes (a child of
 * this benchd: the phone's code may run there) is refused at once.
 *
 * Long-lived streams: a handler that turns its connection into a stream (e.g. "subscribe")
 * calls control_mark_streaming() while it runs; that connection is then exempt from the idle
 * and request timeouts (it still ends when the peer closes, or at control_stop).
 *
 * control_start refuses a path where another process answers (another benchd), removes a stale
 * socket file left by a crash, and never removes anything that is not a socket.
 * Ownership: control_start/control_stop (which unlinks the socket file it made).
 */
#ifndef BENCHD_CONTROL_H
#define BENCHD_CONTROL_H

#include <jansson.h>
#include <stddef.h>

#define CONTROL_MAX_CLIENTS 32
#define CONTROL_IDLE_MS     30000 /* no request in progress for this long: closed */
#define CONTROL_REQUEST_MS  10000 /* a request line must be complete this long after its start */

enum control_err {
	CONTROL_OK = 0,
	CONTROL_E_IN_USE = -1, /* another process answers on the path */
	CONTROL_E_PATH = -2,   /* the path exists and is not a socket, or is too long */
	CONTROL_E_SOCKET = -3, /* socket/bind/listen failed */
};

/* Called on the control thread for each request; returns a new answer object. */
typedef json_t *(*control_handler)(const json_t *req, void *ctx);

struct control;
int control_start(const char *path, control_handler fn, void *ctx, struct control **out, char *why,
                  size_t whylen);
void control_stop(struct control *c);
/*
 * From inside a control_handler only: mark the connection whose request is being handled as a
 * stream, exempt from CONTROL_IDLE_MS and CONTROL_REQUEST_MS. Returns the connection's fd (owned
 * by control: never close it), or -1 when called outside a handler.
 */
int control_mark_streaming(void);

#endif
