/* fleetdb: see fleetdb.h. */
#include "fleetdb.h"

#include "log.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fleetdb {
	PGconn *conn;
	int version;
	int broken; /* the connection failed: remake it before the next use */
	char *conninfo;
	int statement_timeout_ms;
};

/*
 * Migrations: migrations[i] takes the schema from version i to i + 1, in one transaction.
 * Append only: never edit one that has shipped.
 *
 * reports   one row per signed report received (the JWS kept byte for byte as evidence);
 *           jws_sha256 tells a retry (the same signed report) from another report under a
 *           stored report_id.
 * faults    the report's faults, in order.
 * cases     the latest revision of each case (a bench's visit of one device), what the
 *           analytics count: opened_at is the case's earliest report, week the Monday of its
 *           ISO week (UTC), the rest comes from the latest revision; codes are its distinct
 *           fault codes.
 */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE benches ("
    "  bench_id text PRIMARY KEY CHECK (bench_id ~ '^[A-Za-z0-9._-]{1,64}$'),"
    "  kid text NOT NULL,"
    "  jwk jsonb NOT NULL,"
    "  token_sha256 bytea NOT NULL UNIQUE,"
    "  added_at timestamptz NOT NULL DEFAULT now(),"
    "  revoked_at timestamptz);"
    "CREATE TABLE reports ("
    "  report_id text PRIMARY KEY CHECK (length(report_id) BETWEEN 1 AND 63),"
    "  bench_id text NOT NULL REFERENCES benches(bench_id),"
    "  case_id text NOT NULL,"
    "  revision integer NOT NULL CHECK (revision >= 1),"
    "  supersedes text,"
    "  ticket text,"
    "  created_at timestamptz NOT NULL,"
    "  received_at timestamptz NOT NULL DEFAULT now(),"
    "  product_type text NOT NULL,"
    "  model text NOT NULL,"
    "  outcome text NOT NULL CHECK (outcome IN ('pass','fail','incomplete')),"
    "  jws_sha256 bytea NOT NULL,"
    "  jws text NOT NULL);"
    "CREATE TABLE faults ("
    "  report_id text NOT NULL REFERENCES reports(report_id) ON DELETE CASCADE,"
    "  n integer NOT NULL,"
    "  code text NOT NULL,"
    "  severity text,"
    "  part text,"
    "  PRIMARY KEY (report_id, n));"
    "CREATE TABLE cases ("
    "  bench_id text NOT NULL REFERENCES benches(bench_id),"
    "  case_id text NOT NULL,"
    "  report_id text NOT NULL REFERENCES reports(report_id),"
    "  revision integer NOT NULL,"
    "  latest_at timestamptz NOT NULL,"
    "  opened_at timestamptz NOT NULL,"
    "  product_type text NOT NULL,"
    "  model text NOT NULL,"
    "  outcome text NOT NULL,"
    "  codes text[] NOT NULL,"
    "  week date NOT NULL GENERATED ALWAYS AS"
    "    ((date_trunc('week', opened_at AT TIME ZONE 'UTC'))::date) STORED,"
    "  PRIMARY KEY (bench_id, case_id));"
    "CREATE INDEX cases_opened ON cases (opened_at);"
    "CREATE INDEX reports_case ON reports (bench_id, case_id);",
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(NMIGRATIONS == FLEETDB_SCHEMA_VERSION, "one migration per schema version");

/* Any constant: serialises migrations of concurrent benchfleet processes. */
#define MIGRATION_LOCK 0x62666c74 /* "bflt" */

const char *
fleetdb_strerror(int err)
{
	switch (err) {
	case FLEETDB_OK:
		return "success";
	case FLEETDB_E_UNAVAILABLE:
		return "the database is unreachable";
	case FLEETDB_E_NEWER:
		return "the database schema is newer than this benchfleet";
	case FLEETDB_E_SQL:
		return "database error";
	case FLEETDB_E_EXISTS:
		return "already exists";
	case FLEETDB_E_NOT_FOUND:
		return "not found";
	}
	return "unknown database error";
}

/* libpq messages end with a newline and may span lines: keep one line. */
static void
one_line(char *s)
{
	size_t n;

	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	n = strlen(s);
	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
}

/* Server notices (e.g. "terminating connection due to administrator command") go to our log
 * as one line, not to stderr raw. */
static void
notice(void *arg, const char *message)
{
	char msg[512];
	(void)arg;

	util_strlcpy(msg, message, sizeof(msg));
	one_line(msg);
	log_warnx("PostgreSQL says: %s", msg);
}

static int
do_connect(struct fleetdb *db, char *why, size_t whylen)
{
	/* Later keywords win: conninfo (expanded from dbname) may override the defaults before it. */
	const char *keys[] = {"connect_timeout", "application_name", "client_encoding", "dbname", NULL};
	const char *vals[] = {"10", "benchfleet", "UTF8", db->conninfo[0] ? db->conninfo : NULL, NULL};
	char msg[512];

	if (db->conn)
		PQfinish(db->conn);
	db->conn = PQconnectdbParams(keys, vals, 1);
	db->broken = 0;
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		util_strlcpy(msg, db->conn ? PQerrorMessage(db->conn) : "out of memory", sizeof(msg));
		one_line(msg);
		snprintf(why, whylen,
		         "cannot reach PostgreSQL: %s (check [db] conninfo and that the server runs)", msg);
		db->broken = 1;
		return FLEETDB_E_UNAVAILABLE;
	}
	PQsetNoticeProcessor(db->conn, notice, NULL);
	/* Our queries are short scans: compiling them (JIT) took longer than running them at 10^6
	 * cases (tests/bench/fleet_bench.py). */
	{
		PGresult *r = PQexec(db->conn, "SET jit = off");
		PQclear(r);
	}
	if (db->statement_timeout_ms > 0) {
		char set[64];
		PGresult *r;
		snprintf(set, sizeof(set), "SET statement_timeout = %d", db->statement_timeout_ms);
		r = PQexec(db->conn, set);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			util_strlcpy(msg, PQerrorMessage(db->conn), sizeof(msg));
			one_line(msg);
			snprintf(why, whylen, "PostgreSQL refused SET statement_timeout: %s", msg);
			PQclear(r);
			db->broken = 1;
			return FLEETDB_E_UNAVAILABLE;
		}
		PQclear(r);
	}
	return FLEETDB_OK;
}

/*
 * What a failed statement means for the caller: PostgreSQL away, shutting down, starting, out
 * of connections or disk (SQLSTATE classes 08, 53, 57P0x, and a broken connection) is
 * "unavailable" (HTTP 503: the bench retries); serialization failures and deadlocks (40xxx)
 * too; anything else is an SQL error.
 */
static int
classify(struct fleetdb *db, const PGresult *r, const char *what, char *why, size_t whylen)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char msg[512];
	int err = FLEETDB_E_SQL;

	util_strlcpy(msg,
	             r && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : PQerrorMessage(db->conn),
	             sizeof(msg));
	one_line(msg);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		db->broken = 1;
		err = FLEETDB_E_UNAVAILABLE;
	} else if (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
	                     strncmp(state, "57P0", 4) == 0 || strncmp(state, "40", 2) == 0)) {
		err = FLEETDB_E_UNAVAILABLE;
		if (strncmp(state, "40", 2) != 0)
			db->broken = 1;
	} else if (state && strcmp(state, "23505") == 0) {
		err = FLEETDB_E_EXISTS;
	}
	snprintf(why, whylen, "%s: %s%s%s%s", what, msg, state ? " (SQLSTATE " : "", state ? state : "",
	         state ? ")" : "");
	return err;
}

int
fleetdb_exec(struct fleetdb *db, const char *sql, int nparams, const char *const *params, PGresult **res,
             char *why, size_t whylen)
{
	PGresult *r;
	ExecStatusType st;

	if (res)
		*res = NULL;
	/* PQexec takes several statements at once (migrations); parameters need PQexecParams. */
	r = nparams == 0 ? PQexec(db->conn, sql)
	                 : PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		int err = classify(db, r, "PostgreSQL", why, whylen);
		PQclear(r);
		return err;
	}
	if (res)
		*res = r;
	else
		PQclear(r);
	return FLEETDB_OK;
}

int
fleetdb_begin(struct fleetdb *db, char *why, size_t whylen)
{
	return fleetdb_exec(db, "BEGIN", 0, NULL, NULL, why, whylen);
}

int
fleetdb_commit(struct fleetdb *db, char *why, size_t whylen)
{
	return fleetdb_exec(db, "COMMIT", 0, NULL, NULL, why, whylen);
}

void
fleetdb_rollback(struct fleetdb *db)
{
	PGresult *r;

	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return;
	r = PQexec(db->conn, "ROLLBACK");
	PQclear(r);
}

int
fleetdb_ok(const struct fleetdb *db)
{
	return db && db->conn && !db->broken && PQstatus(db->conn) == CONNECTION_OK;
}

static int
migrate(struct fleetdb *db, int apply, char *why, size_t whylen)
{
	PGresult *r = NULL;
	char lock[80], setv[80];
	int v, rc;

	snprintf(lock, sizeof(lock), "SELECT pg_advisory_xact_lock(%d)", MIGRATION_LOCK);
	if ((rc = fleetdb_begin(db, why, whylen)) != FLEETDB_OK)
		return rc;
	if ((rc = fleetdb_exec(db, lock, 0, NULL, NULL, why, whylen)) != FLEETDB_OK)
		goto fail;
	/* No benchfleet_schema table yet: version 0. */
	if ((rc = fleetdb_exec(db, "SELECT to_regclass('benchfleet_schema') IS NOT NULL", 0, NULL, &r, why,
	                       whylen)) != FLEETDB_OK)
		goto fail;
	v = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	r = NULL;
	if (v && (rc = fleetdb_exec(db, "SELECT max(version) FROM benchfleet_schema", 0, NULL, &r, why,
	                            whylen)) != FLEETDB_OK)
		goto fail;
	v = r && PQntuples(r) > 0 ? atoi(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	if (v > NMIGRATIONS) {
		snprintf(why, whylen,
		         "the database's schema version %d is newer than this benchfleet knows (%d): run a "
		         "newer benchfleet, or point [db] conninfo at another database",
		         v, NMIGRATIONS);
		rc = FLEETDB_E_NEWER;
		goto fail;
	}
	if (v < NMIGRATIONS && !apply) {
		snprintf(why, whylen,
		         "the database's schema version %d is older than this benchfleet's (%d): run "
		         "benchfleet serve once to migrate it",
		         v, NMIGRATIONS);
		rc = FLEETDB_E_SQL;
		goto fail;
	}
	if (v == 0 &&
	    (rc = fleetdb_exec(db,
	                       "CREATE TABLE IF NOT EXISTS benchfleet_schema (version integer NOT NULL);"
	                       "DELETE FROM benchfleet_schema; INSERT INTO benchfleet_schema VALUES (0)",
	                       0, NULL, NULL, why, whylen)) != FLEETDB_OK)
		goto fail;
	for (int from = v; from < NMIGRATIONS; from++) {
		if ((rc = fleetdb_exec(db, migrations[from], 0, NULL, NULL, why, whylen)) != FLEETDB_OK)
			goto fail;
		snprintf(setv, sizeof(setv), "UPDATE benchfleet_schema SET version = %d", from + 1);
		if ((rc = fleetdb_exec(db, setv, 0, NULL, NULL, why, whylen)) != FLEETDB_OK)
			goto fail;
		log_info("database migrated to schema version %d", from + 1);
	}
	if ((rc = fleetdb_commit(db, why, whylen)) != FLEETDB_OK)
		goto fail;
	db->version = v < NMIGRATIONS ? NMIGRATIONS : v;
	return FLEETDB_OK;
fail:
	fleetdb_rollback(db);
	return rc;
}

int
fleetdb_open(const char *conninfo, int apply, int statement_timeout_ms, struct fleetdb **out, char *why,
             size_t whylen)
{
	struct fleetdb *db = xcalloc(1, sizeof(*db));
	int rc;

	*out = NULL;
	db->conninfo = xstrdup(conninfo ? conninfo : "");
	db->statement_timeout_ms = statement_timeout_ms;
	if ((rc = do_connect(db, why, whylen)) != FLEETDB_OK ||
	    (rc = migrate(db, apply, why, whylen)) != FLEETDB_OK) {
		fleetdb_close(db);
		return rc;
	}
	*out = db;
	return FLEETDB_OK;
}

void
fleetdb_close(struct fleetdb *db)
{
	if (db == NULL)
		return;
	if (db->conn)
		PQfinish(db->conn);
	free(db->conninfo);
	free(db);
}

PGconn *
fleetdb_conn(struct fleetdb *db)
{
	return db->conn;
}

int
fleetdb_version(const struct fleetdb *db)
{
	return db->version;
}

/* ---- the pool ---- */

struct fleetpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fleetdb **slot; /* NULL: never connected */
	int *busy;
	int size;
	char *conninfo;
	int statement_timeout_ms;
};

struct fleetpool *
fleetpool_new(const char *conninfo, int size, int statement_timeout_ms)
{
	struct fleetpool *p = xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->size = size > 0 ? size : 1;
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	p->slot = xcalloc((size_t)p->size, sizeof(*p->slot));
	p->busy = xcalloc((size_t)p->size, sizeof(*p->busy));
	p->conninfo = xstrdup(conninfo ? conninfo : "");
	p->statement_timeout_ms = statement_timeout_ms;
	return p;
}

void
fleetpool_free(struct fleetpool *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->size; i++)
		fleetdb_close(p->slot[i]);
	free(p->slot);
	free(p->busy);
	free(p->conninfo);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int
fleetpool_get(struct fleetpool *p, struct fleetdb **out, char *why, size_t whylen)
{
	struct fleetdb *db;
	int i, rc;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		for (i = 0; i < p->size && p->busy[i]; i++)
			;
		if (i < p->size)
			break;
		pthread_cond_wait(&p->cv, &p->mu);
	}
	p->busy[i] = 1;
	if (p->slot[i] == NULL) {
		p->slot[i] = xcalloc(1, sizeof(*p->slot[i]));
		p->slot[i]->conninfo = xstrdup(p->conninfo);
		p->slot[i]->statement_timeout_ms = p->statement_timeout_ms;
		p->slot[i]->broken = 1;
	}
	db = p->slot[i];
	pthread_mutex_unlock(&p->mu);

	/* A server that restarted closed our idle connection: reading what it sent notices that
	 * now rather than failing this request's first statement. */
	if (db->conn && !db->broken && PQconsumeInput(db->conn) == 0)
		db->broken = 1;
	/* Connect outside the lock: connecting to a server that is away takes time. */
	if (!fleetdb_ok(db) && (rc = do_connect(db, why, whylen)) != FLEETDB_OK) {
		fleetpool_put(p, db);
		return rc;
	}
	*out = db;
	return FLEETDB_OK;
}

void
fleetpool_put(struct fleetpool *p, struct fleetdb *db)
{
	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->size; i++)
		if (p->slot[i] == db)
			p->busy[i] = 0;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}
