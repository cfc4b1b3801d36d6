/*
 * ctlclient: the client side of benchd's control socket, used by benchctl (status, sessions,
 * outbox) and by benchd itself to see whether another benchd already answers on a path.
 *
 * Protocol: JSON lines over a UNIX stream socket. Each request is one JSON object on one line
 * ({"cmd":"status"}, {"cmd":"sessions"}, {"cmd":"outbox"}, {"cmd":"retry","report_id":ID});
 * each answer is one JSON object on one line: {"ok":true,...} or {"ok":false,"error":"..."}.
 * A request line is at most CTL_REQUEST_MAX bytes, an answer line at most CTL_LINE_MAX.
 * Ownership: *resp belongs to the caller (json_decref).
 */
#ifndef BENCHD_CTLCLIENT_H
#define BENCHD_CTLCLIENT_H

#include <jansson.h>
#include <stddef.h>

#define CTL_LINE_MAX    (8u << 20) /* an answer line, bytes: 1000 outbox rows with full answers fit */
#define CTL_REQUEST_MAX 4096       /* a request line the daemon accepts */

enum ctl_err {
	CTL_OK = 0,
	CTL_E_NO_DAEMON = -1, /* nothing answers on the path (no file, refused, not a socket) */
	CTL_E_IO = -2,        /* the connection broke or timed out */
	CTL_E_PROTOCOL = -3,  /* an answer that is not one JSON object line */
	CTL_E_ACCESS = -4,    /* permission denied on the socket */
};

/* One request, one answer. timeout_ms bounds the whole exchange. */
int ctl_request(const char *path, const json_t *req, json_t **resp, int timeout_ms, char *why, size_t whylen);
/* 1 when something accepts connections on path, 0 when not, CTL_E_ACCESS when we may not try. */
int ctl_probe(const char *path);

/*
 * A stream (subscribe): send req, read the first answer line into *resp (within timeout_ms) and
 * leave the connection open for the event lines that follow. On CTL_OK, *st is the open stream
 * (even when *resp says "ok": false; close it then).
 */
struct ctl_stream;
int ctl_stream_open(const char *path, const json_t *req, struct ctl_stream **st, json_t **resp,
                    int timeout_ms, char *why, size_t whylen);
/* The next line (malloc'd, without its newline) within timeout_ms (-1: for ever). Returns CTL_OK
 * with *line, 1 when the time ran out, CTL_E_IO when benchd closed the stream. */
int ctl_stream_next(struct ctl_stream *st, char **line, int timeout_ms);
/* The file descriptor to poll, e.g. beside a signal pipe. */
int ctl_stream_fd(const struct ctl_stream *st);
void ctl_stream_close(struct ctl_stream *st);

#endif
