/*
 * fleetdb: benchfleet's PostgreSQL database through libpq: connections, the schema and its
 * migrations, a small connection pool for the HTTP threads, and the error classes the server
 * turns into HTTP answers.
 *
 * Schema (versioned like benchd's store: migrations[i] takes version i to i + 1 in one
 * transaction under an advisory lock; append only; a database newer than this benchfleet is
 * refused): benches (registered keys, token hashes), reports (one row per signed report, the
 * JWS kept as evidence), faults (the report's fault codes), cases (the latest revision of each
 * case, what the analytics read). See fleetdb.c.
 *
 * Ownership: fleetdb_open/fleetdb_close; fleetpool_new/fleetpool_free. A struct fleetdb is one
 * connection and is used by one thread at a time.
 */
#ifndef BENCHFLEET_FLEETDB_H
#define BENCHFLEET_FLEETDB_H

#include <libpq-fe.h>
#include <stddef.h>

enum fleetdb_err {
	FLEETDB_OK = 0,
	FLEETDB_E_UNAVAILABLE = -1, /* cannot reach PostgreSQL, or it is shutting down / full */
	FLEETDB_E_NEWER = -2,       /* the schema is newer than this benchfleet */
	FLEETDB_E_SQL = -3,         /* a statement failed (a bug, or a constraint) */
	FLEETDB_E_EXISTS = -4,      /* already there (bench add) */
	FLEETDB_E_NOT_FOUND = -5,
};
const char *fleetdb_strerror(int err);

#define FLEETDB_SCHEMA_VERSION 1

struct fleetdb;

/*
 * Connect with conninfo (a libpq connection string; "" uses libpq's environment), at most
 * 10 s (unless conninfo sets connect_timeout). migrate: bring the schema up to date (else only
 * check it is not newer). statement_timeout_ms: 0 for none.
 */
int fleetdb_open(const char *conninfo, int migrate, int statement_timeout_ms, struct fleetdb **out, char *why,
                 size_t whylen);
void fleetdb_close(struct fleetdb *db);
PGconn *fleetdb_conn(struct fleetdb *db);
/* The schema version found (after migrating). */
int fleetdb_version(const struct fleetdb *db);

/*
 * Run sql with text parameters (NULL for SQL NULL). On success *res is the result (caller
 * PQclear()s it; may be NULL when res is NULL). On failure a fleetdb_err with why; the
 * connection is marked for reconnection when it broke.
 */
int fleetdb_exec(struct fleetdb *db, const char *sql, int nparams, const char *const *params, PGresult **res,
                 char *why, size_t whylen);
/* BEGIN / COMMIT / ROLLBACK (ROLLBACK never fails loudly). */
int fleetdb_begin(struct fleetdb *db, char *why, size_t whylen);
int fleetdb_commit(struct fleetdb *db, char *why, size_t whylen);
void fleetdb_rollback(struct fleetdb *db);
/* Is the connection usable? (Not after PostgreSQL went away.) */
int fleetdb_ok(const struct fleetdb *db);

/* A fixed number of connections for the HTTP threads, each made on first use and remade after
 * PostgreSQL went away. */
struct fleetpool;
struct fleetpool *fleetpool_new(const char *conninfo, int size, int statement_timeout_ms);
void fleetpool_free(struct fleetpool *p);
/* Take a connected slot (waits while all are busy). FLEETDB_E_UNAVAILABLE with why when
 * PostgreSQL cannot be reached now; the slot is given back already. */
int fleetpool_get(struct fleetpool *p, struct fleetdb **db, char *why, size_t whylen);
void fleetpool_put(struct fleetpool *p, struct fleetdb *db);

#endif
