/*
 * fleetconf: benchfleet's INI configuration (DESIGN.md 4.12), parsed with Debian's libinih like
 * benchd's (agent/common/config.c), with the same one-line errors naming file, line and reason.
 *
 *   [db]    conninfo          a libpq connection string ("dbname=benchfleet"); empty: libpq's
 *                             environment (PGHOST, PGDATABASE, ...)
 *   [http]  listen            HOST:PORT, default 127.0.0.1:8471; port 0 takes any free port
 *                             (the chosen one is logged)
 *           tls_cert, tls_key PEM files: serve HTTPS (both or neither)
 *           api_token_file    bearer token for GET /api/...; empty: the API answers loopback
 *                             clients only
 *           max_connections   1..10000, default 256: connections held at once
 *           timeout_seconds   1..600, default 30: idle connections and whole requests
 *           threads           1..64, default 16: request threads (each with its own database
 *                             connection)
 *
 * Owns: every string in struct fleetconf; fleetconf_free releases them.
 */
#ifndef BENCHFLEET_FLEETCONF_H
#define BENCHFLEET_FLEETCONF_H

#include <stddef.h>

enum fleetconf_err {
	FLEETCONF_OK = 0,
	FLEETCONF_E_OPEN = -1,    /* the file could not be opened */
	FLEETCONF_E_SYNTAX = -2,  /* a line is neither [section], key = value nor a comment */
	FLEETCONF_E_UNKNOWN = -3, /* unknown section or key */
	FLEETCONF_E_VALUE = -4,   /* a value out of range or of the wrong form */
};

#define FLEETCONF_DEFAULT_LISTEN "127.0.0.1:8471"

struct fleetconf {
	char *conninfo;       /* [db] conninfo, "" for libpq's environment */
	char *listen;         /* [http] listen */
	char host[256];       /* parsed from listen (no brackets) */
	int port;             /* parsed from listen, 0..65535 */
	char *tls_cert;       /* [http] tls_cert, "" for plain HTTP */
	char *tls_key;        /* [http] tls_key */
	char *api_token_file; /* [http] api_token_file, "" for loopback-only API */
	int max_connections;  /* [http] max_connections */
	int timeout_s;        /* [http] timeout_seconds */
	int threads;          /* [http] threads */
};

/* Every default. Never NULL. */
struct fleetconf *fleetconf_new(void);
void fleetconf_free(struct fleetconf *c);
/* Load path over the defaults: *out on success; else a fleetconf_err and one line in err. */
int fleetconf_load(const char *path, struct fleetconf **out, char *err, size_t errlen);
/* The same from a string; name stands for the file in messages. */
int fleetconf_load_string(const char *name, const char *text, struct fleetconf **out, char *err,
                          size_t errlen);
const char *fleetconf_strerror(int err);

#endif
