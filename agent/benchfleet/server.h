/*
 * server: benchfleet's HTTP(S) endpoint with libmicrohttpd.
 *
 *   POST /cases         a bench's repair case (ingest.h)
 *   GET  /api/trends    ?weeks=N&model=M&code=C&at=T    (analytics.h)
 *   GET  /api/alerts    ?at=T
 *
 * Bounded: bodies at most INGEST_BODY_MAX (413 past it, refused on Content-Length before a byte
 * is read), at most [http] max_connections at once, a connection idle for timeout_seconds is
 * closed and so is a request still arriving after timeout_seconds (a slow client). Requests
 * run on [http] threads threads, each with its own PostgreSQL connection from the pool. With
 * tls_cert/tls_key it speaks only HTTPS. The API needs a bearer token when [http]
 * api_token_file is set, else answers loopback clients only.
 * Ownership: server_start/server_stop; cfg and pool must outlive the server.
 */
#ifndef BENCHFLEET_SERVER_H
#define BENCHFLEET_SERVER_H

#include "fleetconf.h"
#include "fleetdb.h"

#include <stddef.h>

struct server;

int server_start(const struct fleetconf *cfg, struct fleetpool *pool, struct server **out, char *why,
                 size_t whylen);
/* The port listened on (the kernel's choice when [http] listen asked for port 0). */
int server_port(const struct server *s);
/* Close the listening socket and every connection; waits for requests in progress. NULL ok. */
void server_stop(struct server *s);

#endif
