/* store: see store.h. */
#include "store.h"

#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/statvfs.h>
#include <time.h>

struct store {
	sqlite3 *db;
	pthread_mutex_t mu;
	char path[4096];
	int version;
	/*
	 * A second, read-only connection for the lists and counts that status, outbox, sessions,
	 * history and the page read. WAL lets it read while the writer commits: a reader never
	 * queues behind 64 sessions' fsyncs on the writer's mutex (benchctl outbox timed out after
	 * 10 s during a 64-phone plug on a loaded machine). NULL when it could not be opened: the
	 * lists then use the writer's connection.
	 */
	struct store *reader;
};

/* The connection a read-only list uses. */
static struct store *
reading(struct store *st)
{
	return st->reader != NULL ? st->reader : st;
}

/*
 * Migrations: migrations[i] takes user_version i to i + 1, in one transaction. Append only:
 * never edit a migration that has shipped.
 */
static const char *const migrations[] = {
    /* 0 -> 1: the tables. */
    "CREATE TABLE devices ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  mode TEXT,"
    "  product_type TEXT,"
    "  first_seen INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL);"
    "CREATE TABLE reports ("
    "  report_id TEXT PRIMARY KEY NOT NULL CHECK (length(report_id) BETWEEN 1 AND 63),"
    "  device TEXT REFERENCES devices(id),"
    "  outcome TEXT NOT NULL CHECK (outcome IN ('pass','fail','incomplete')),"
    "  path TEXT NOT NULL,"
    "  created_at TEXT NOT NULL,"
    "  stored_at INTEGER NOT NULL);"
    "CREATE TABLE sessions ("
    "  id INTEGER PRIMARY KEY,"
    "  device TEXT NOT NULL REFERENCES devices(id),"
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER,"
    "  state TEXT NOT NULL CHECK (state IN ('running','done','failed','unplugged','cancelled')),"
    "  reason TEXT,"
    "  report_id TEXT REFERENCES reports(report_id));"
    "CREATE TABLE outbox ("
    "  report_id TEXT PRIMARY KEY NOT NULL REFERENCES reports(report_id),"
    "  body BLOB NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),"
    "  next_try INTEGER NOT NULL,"
    "  last_status INTEGER,"
    "  last_answer TEXT,"
    "  state TEXT NOT NULL CHECK (state IN ('pending','delivered','held')),"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);",
    /* 1 -> 2: indexes for the outbox scheduler and the newest-first listings. */
    "CREATE INDEX outbox_due ON outbox(state, next_try);"
    "CREATE INDEX sessions_started ON sessions(started_at);"
    "CREATE INDEX reports_device ON reports(device);",
    /* 2 -> 3: cases (DESIGN 4.8): devices keep serial, ECID and model; reports keep their case,
     * revision, finality and battery readings; bookings; the outbox keyed by (report, target). */
    "ALTER TABLE devices ADD COLUMN serial TEXT;"
    "ALTER TABLE devices ADD COLUMN ecid TEXT;"
    "ALTER TABLE devices ADD COLUMN model_name TEXT;"
    "CREATE INDEX devices_serial ON devices(serial COLLATE NOCASE);"
    "CREATE TABLE cases ("
    "  case_id TEXT PRIMARY KEY NOT NULL CHECK (length(case_id) BETWEEN 1 AND 39),"
    "  device TEXT NOT NULL REFERENCES devices(id),"
    "  serial TEXT, udid TEXT, ecid TEXT,"
    "  ticket TEXT CHECK (ticket IS NULL OR length(ticket) BETWEEN 1 AND 64),"
    "  lang TEXT,"
    "  booking_id INTEGER REFERENCES bookings(id),"
    "  state TEXT NOT NULL CHECK (state IN ('open','closed')),"
    "  opened_at INTEGER NOT NULL,"
    "  closed_at INTEGER,"
    "  closed_why TEXT,"
    "  last_session_at INTEGER NOT NULL,"
    "  answers TEXT NOT NULL DEFAULT '{}',"
    "  final_report_id TEXT,"
    "  finished INTEGER NOT NULL DEFAULT 0 CHECK (finished IN (0,1)),"
    "  latest_report_id TEXT,"
    "  latest_revision INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX cases_state ON cases(state, last_session_at);"
    "CREATE INDEX cases_device ON cases(device COLLATE NOCASE);"
    "CREATE INDEX cases_serial ON cases(serial COLLATE NOCASE);"
    "CREATE INDEX cases_udid ON cases(udid COLLATE NOCASE);"
    "CREATE TABLE bookings ("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL CHECK (kind IN ('serial','imei','udid')),"
    "  value TEXT NOT NULL CHECK (length(value) BETWEEN 1 AND 64),"
    "  ticket TEXT NOT NULL CHECK (length(ticket) BETWEEN 1 AND 64),"
    "  lang TEXT CHECK (lang IS NULL OR lang IN ('en','it','fr','zh')),"
    "  note TEXT CHECK (note IS NULL OR length(note) <= 512),"
    "  source TEXT NOT NULL DEFAULT 'manual' CHECK (source IN ('manual','repairshopr','repairdesk')),"
    "  external_id TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  used_by TEXT REFERENCES cases(case_id),"
    "  used_at INTEGER);"
    "CREATE UNIQUE INDEX bookings_unused ON bookings(kind, value) WHERE used_by IS NULL;"
    "ALTER TABLE reports ADD COLUMN case_id TEXT REFERENCES cases(case_id);"
    "ALTER TABLE reports ADD COLUMN revision INTEGER;"
    "ALTER TABLE reports ADD COLUMN supersedes TEXT;"
    "ALTER TABLE reports ADD COLUMN final INTEGER NOT NULL DEFAULT 0 CHECK (final IN (0,1));"
    "ALTER TABLE reports ADD COLUMN waiting TEXT;"
    "ALTER TABLE reports ADD COLUMN ticket TEXT;"
    "ALTER TABLE reports ADD COLUMN faults TEXT;"
    "ALTER TABLE reports ADD COLUMN serial TEXT;"
    "ALTER TABLE reports ADD COLUMN udid TEXT;"
    "ALTER TABLE reports ADD COLUMN ecid TEXT;"
    "ALTER TABLE reports ADD COLUMN product_type TEXT;"
    "ALTER TABLE reports ADD COLUMN model_name TEXT;"
    "ALTER TABLE reports ADD COLUMN captured_at TEXT;"
    "ALTER TABLE reports ADD COLUMN snapshot_sha256 TEXT;"
    "ALTER TABLE reports ADD COLUMN battery_serial TEXT;"
    "ALTER TABLE reports ADD COLUMN cycle_count NUMERIC;"
    "ALTER TABLE reports ADD COLUMN health_pct NUMERIC;"
    "ALTER TABLE reports ADD COLUMN nominal_capacity_mah NUMERIC;"
    "ALTER TABLE reports ADD COLUMN design_capacity_mah NUMERIC;"
    /* Before cases every report was final: it was queued as soon as it was made. */
    "UPDATE reports SET final = 1, udid = device;"
    "CREATE UNIQUE INDEX reports_revision ON reports(case_id, revision) WHERE case_id IS NOT NULL;"
    "CREATE INDEX reports_serial ON reports(serial COLLATE NOCASE);"
    "CREATE INDEX reports_udid ON reports(udid COLLATE NOCASE);"
    "CREATE INDEX reports_battery ON reports(battery_serial);"
    "CREATE INDEX reports_created ON reports(created_at);"
    "CREATE TABLE outbox3 ("
    "  report_id TEXT NOT NULL REFERENCES reports(report_id),"
    "  target TEXT NOT NULL CHECK (target IN ('upload','fleet')),"
    "  body BLOB NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),"
    "  next_try INTEGER NOT NULL,"
    "  last_status INTEGER,"
    "  last_answer TEXT,"
    "  state TEXT NOT NULL CHECK (state IN ('pending','delivered','held')),"
    "  remote_id TEXT,"
    "  phase TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (report_id, target));"
    "INSERT INTO outbox3(report_id, target, body, attempts, next_try, last_status, last_answer, state,"
    "  created_at, updated_at) SELECT report_id, 'upload', body, attempts, next_try, last_status,"
    "  last_answer, state, created_at, updated_at FROM outbox;"
    "DROP INDEX outbox_due;"
    "DROP TABLE outbox;"
    "ALTER TABLE outbox3 RENAME TO outbox;"
    "CREATE INDEX outbox_due ON outbox(target, state, next_try);",
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(NMIGRATIONS == STORE_SCHEMA_VERSION, "one migration per schema version");

int64_t
store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return STORE_OK;
	case SQLITE_FULL:
		return STORE_E_FULL;
	case SQLITE_READONLY:
		return STORE_E_READONLY;
	case SQLITE_IOERR:
		return STORE_E_IO;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return STORE_E_CORRUPT;
	case SQLITE_CANTOPEN:
		return STORE_E_OPEN;
	case SQLITE_CONSTRAINT:
		return STORE_E_EXISTS;
	}
	return STORE_E_SQL;
}

/* Less than 64 KiB free where the database lives? */
static int
disk_nearly_full(const char *dbpath)
{
	char dir[4096];
	char *slash;
	struct statvfs sv;

	util_strlcpy(dir, dbpath, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	if (statvfs(slash ? dir : ".", &sv) < 0)
		return 0;
	return (unsigned long long)sv.f_bavail * sv.f_frsize < 64 * 1024;
}

/* A one-line reason for a failed SQLite call, saying what to do where we can. */
static int
fail(struct store *st, int rc, const char *what, char *why, size_t whylen)
{
	int err = map_rc(rc);
	const char *msg = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
	const char *hint = "";
	int sys = st->db ? sqlite3_system_errno(st->db) : 0;
	char sysmsg[128] = "";

	if (sys != 0 &&
	    (err == STORE_E_IO || err == STORE_E_FULL || err == STORE_E_OPEN || err == STORE_E_READONLY))
		snprintf(sysmsg, sizeof(sysmsg), " (%s)", strerror(sys));
	if (sys == ENOSPC || sys == EDQUOT || sys == EFBIG)
		err = STORE_E_FULL;
	else if (sys == EROFS)
		err = STORE_E_READONLY;
	else if (err == STORE_E_IO && disk_nearly_full(st->path))
		err = STORE_E_FULL; /* e.g. the shared-memory file could not grow */

	if (err == STORE_E_FULL)
		hint = ": the disk is full: free space in the state directory";
	else if (err == STORE_E_READONLY)
		hint = ": the state directory is read-only: make it writable by benchd";
	else if (err == STORE_E_CORRUPT)
		hint = ": the database is damaged: move it aside and restart benchd";
	if (why && whylen)
		snprintf(why, whylen, "%s: %s: %s%s%s", st->path, what, msg, sysmsg, hint);
	return err;
}

const char *
store_strerror(int err)
{
	switch (err) {
	case STORE_OK:
		return "success";
	case STORE_E_OPEN:
		return "cannot open the state database";
	case STORE_E_NEWER:
		return "the state database is newer than this benchd";
	case STORE_E_FULL:
		return "the disk is full";
	case STORE_E_READONLY:
		return "the state directory is read-only";
	case STORE_E_IO:
		return "disk I/O error";
	case STORE_E_CORRUPT:
		return "the state database is damaged";
	case STORE_E_NOT_FOUND:
		return "not found";
	case STORE_E_EXISTS:
		return "already stored";
	case STORE_E_STATE:
		return "not allowed in this state";
	case STORE_E_SQL:
		return "database error";
	}
	return "unknown store error";
}

static int
exec_locked(struct store *st, const char *sql, char *why, size_t whylen)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return fail(st, rc, sql, why, whylen);
	return STORE_OK;
}

static int
get_version(struct store *st, int *v)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int(s, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

static int
migrate(struct store *st, char *why, size_t whylen)
{
	int v = 0, rc;

	/* BEGIN IMMEDIATE: two processes opening the same fresh database migrate one at a time. */
	if ((rc = exec_locked(st, "BEGIN IMMEDIATE", why, whylen)) != STORE_OK)
		return rc;
	if ((rc = get_version(st, &v)) != SQLITE_OK) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return fail(st, rc, "reading the schema version", why, whylen);
	}
	if (v > NMIGRATIONS) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		snprintf(why, whylen,
		         "%s: schema version %d is newer than this benchd knows (%d): run a newer benchd "
		         "or move the database aside",
		         st->path, v, NMIGRATIONS);
		return STORE_E_NEWER;
	}
	for (; v < NMIGRATIONS; v++) {
		char setv[64];
		if ((rc = exec_locked(st, migrations[v], why, whylen)) != STORE_OK)
			goto rollback;
		snprintf(setv, sizeof(setv), "PRAGMA user_version = %d", v + 1);
		if ((rc = exec_locked(st, setv, why, whylen)) != STORE_OK)
			goto rollback;
		log_debug("store: migrated %s to schema version %d", st->path, v + 1);
	}
	if ((rc = exec_locked(st, "COMMIT", why, whylen)) != STORE_OK)
		goto rollback;
	st->version = v;
	return STORE_OK;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int
store_open(const char *path, struct store **out, char *why, size_t whylen)
{
	struct store *st = xcalloc(1, sizeof(*st));
	int rc;

	*out = NULL;
	pthread_mutex_init(&st->mu, NULL);
	util_strlcpy(st->path, path, sizeof(st->path));
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		rc = fail(st, rc, "cannot open", why, whylen);
		store_close(st);
		return rc == STORE_OK ? STORE_E_OPEN : rc;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, 5000);
	/* Check it is a database we can write before changing anything. */
	if ((rc = exec_locked(st, "PRAGMA journal_mode = WAL", why, whylen)) != STORE_OK ||
	    (rc = exec_locked(st, "PRAGMA synchronous = FULL", why, whylen)) != STORE_OK ||
	    (rc = exec_locked(st, "PRAGMA foreign_keys = ON", why, whylen)) != STORE_OK ||
	    (rc = migrate(st, why, whylen)) != STORE_OK) {
		store_close(st);
		return rc;
	}
	/* journal_mode can silently stay "delete" (e.g. on a file system without shared memory). */
	{
		sqlite3_stmt *s;
		if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode", -1, &s, NULL) == SQLITE_OK) {
			if (sqlite3_step(s) == SQLITE_ROW &&
			    strcmp((const char *)sqlite3_column_text(s, 0), "wal") != 0)
				log_warnx("store: %s is not in WAL mode (%s)", path,
				          sqlite3_column_text(s, 0));
			sqlite3_finalize(s);
		}
	}
	{
		struct store *r = xcalloc(1, sizeof(*r));
		pthread_mutex_init(&r->mu, NULL);
		util_strlcpy(r->path, path, sizeof(r->path));
		if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) ==
		    SQLITE_OK) {
			sqlite3_extended_result_codes(r->db, 1);
			sqlite3_busy_timeout(r->db, 5000);
			st->reader = r;
		} else {
			log_warnx("store: %s: no second connection for reading (%s): lists wait for writes",
			          path, sqlite3_errmsg(r->db));
			store_close(r);
		}
	}
	*out = st;
	return STORE_OK;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	store_close(st->reader);
	if (st->db)
		sqlite3_close(st->db);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

int
store_schema_version(struct store *st)
{
	int v = -1;

	pthread_mutex_lock(&st->mu);
	if (get_version(st, &v) != SQLITE_OK)
		v = -1;
	pthread_mutex_unlock(&st->mu);
	return v;
}

/* Bind helpers: NULL strings bind as SQL NULL. */
static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

/* Prepare and bind (the types of run()); *out is the statement. Called with the mutex held. */
static int
vprep(struct store *st, sqlite3_stmt **out, const char *sql, const char *types, va_list ap)
{
	sqlite3_stmt *s;
	int rc, i = 1;

	*out = NULL;
	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		log_warnx("store: cannot prepare a statement: %s", sqlite3_errmsg(st->db));
		return map_rc(rc);
	}
	for (const char *t = types; *t; t++, i++) {
		switch (*t) {
		case 's':
			bind_text(s, i, va_arg(ap, const char *));
			break;
		case 'i':
			sqlite3_bind_int64(s, i, va_arg(ap, int64_t));
			break;
		case 'n': { /* an id: 0 binds as NULL */
			int64_t v = va_arg(ap, int64_t);
			if (v)
				sqlite3_bind_int64(s, i, v);
			else
				sqlite3_bind_null(s, i);
			break;
		}
		case 'd': {
			double d = va_arg(ap, double);
			if (d < 0)
				sqlite3_bind_null(s, i);
			else if (d == (double)(int64_t)d)
				sqlite3_bind_int64(s, i, (int64_t)d);
			else
				sqlite3_bind_double(s, i, d);
			break;
		}
		case 'b': {
			const char *p = va_arg(ap, const char *);
			size_t n = va_arg(ap, size_t);
			sqlite3_bind_blob64(s, i, p, n, SQLITE_TRANSIENT);
			break;
		}
		}
	}
	*out = s;
	return STORE_OK;
}

/* Run one statement to completion (no rows wanted). Called with the mutex held. Types: s text
 * (NULL binds NULL), i int64, n int64 id (0 binds NULL), d double (< 0 binds NULL), b blob
 * (pointer, size_t). */
static int
run(struct store *st, const char *sql, char *why, size_t whylen, const char *types, ...)
{
	sqlite3_stmt *s;
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = vprep(st, &s, sql, types, ap);
	va_end(ap);
	if (rc != STORE_OK) {
		if (why && whylen)
			snprintf(why, whylen, "%s: prepare: %s", st->path, sqlite3_errmsg(st->db));
		return rc;
	}
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return fail(st, rc, sql, why, whylen);
	return STORE_OK;
}

static int
prep(struct store *st, sqlite3_stmt **out, const char *sql, const char *types, ...)
{
	va_list ap;
	int r;

	va_start(ap, types);
	r = vprep(st, out, sql, types, ap);
	va_end(ap);
	return r;
}

static const char *
col_text(sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	return t ? t : "";
}

static void
copy_col(sqlite3_stmt *s, int i, char *dst, size_t dstlen)
{
	util_strlcpy(dst, col_text(s, i), dstlen);
}

static int
begin(struct store *st, char *why, size_t whylen)
{
	return exec_locked(st, "BEGIN IMMEDIATE", why, whylen);
}

static int
commit(struct store *st, char *why, size_t whylen)
{
	int rc = exec_locked(st, "COMMIT", why, whylen);
	if (rc != STORE_OK)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static void
rollback(struct store *st)
{
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* A random UUID v4 for a new case. */
static void
uuid4(char out[STORE_ID_MAX])
{
	unsigned char b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0 && errno != EINTR)
			fatal("getrandom");
		if (n > 0)
			got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, STORE_ID_MAX, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
	         b[14], b[15]);
}

static json_t *
col_json(sqlite3_stmt *s, int i)
{
	switch (sqlite3_column_type(s, i)) {
	case SQLITE_NULL:
		return json_null();
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(s, i));
	case SQLITE_FLOAT:
		return json_real(sqlite3_column_double(s, i));
	default: {
		json_t *v =
		    json_stringn((const char *)sqlite3_column_text(s, i), (size_t)sqlite3_column_bytes(s, i));
		/* An answer that is not UTF-8 is still shown, hex-free but lossy. */
		return v ? v : json_string("(not UTF-8)");
	}
	}
}

/* The columns of a row as an object; columns named *_json hold JSON text, given as JSON (name
 * without the suffix), and final/finished/open as booleans. */
static json_t *
row_object(sqlite3_stmt *s)
{
	json_t *row = json_object();

	for (int i = 0; i < sqlite3_column_count(s); i++) {
		const char *name = sqlite3_column_name(s, i);
		size_t n = strlen(name);
		if (n > 5 && strcmp(name + n - 5, "_json") == 0) {
			char key[64];
			json_t *v = NULL;
			snprintf(key, sizeof(key), "%.*s", (int)(n - 5), name);
			if (sqlite3_column_type(s, i) == SQLITE_TEXT)
				v = json_loads(col_text(s, i), 0, NULL);
			json_object_set_new(row, key, v ? v : json_null());
		} else if (strcmp(name, "final") == 0 || strcmp(name, "finished") == 0) {
			json_object_set_new(row, name, json_boolean(sqlite3_column_int(s, i)));
		} else {
			json_object_set_new(row, name, col_json(s, i));
		}
	}
	return row;
}

/* Every row of a prepared statement into *out (the statement is finalized). Mutex held. */
static int
rows(sqlite3_stmt *s, json_t *out)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(out, row_object(s));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? STORE_OK : map_rc(rc);
}

/* SELECT into a new array, with bound parameters. */
static int
select_rows(struct store *st, json_t **out, const char *sql, const char *types, ...)
{
	sqlite3_stmt *s;
	va_list ap;
	int r;

	*out = json_array();
	st = reading(st);
	pthread_mutex_lock(&st->mu);
	va_start(ap, types);
	r = vprep(st, &s, sql, types, ap);
	va_end(ap);
	if (r == STORE_OK)
		r = rows(s, *out);
	pthread_mutex_unlock(&st->mu);
	return r;
}

#define RFC3339(col)    "strftime('%Y-%m-%dT%H:%M:%SZ', " col ", 'unixepoch')"
#define RFC3339_MS(col) "strftime('%Y-%m-%dT%H:%M:%SZ', " col " / 1000, 'unixepoch')"

/* ---- devices and sessions ----------------------------------------------------------------- */

int
store_device_seen(struct store *st, const char *id, const char *mode, const char *product_type, char *why,
                  size_t whylen)
{
	int64_t now = (int64_t)time(NULL);
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = run(
	    st,
	    "INSERT INTO devices(id, mode, product_type, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4) "
	    "ON CONFLICT(id) DO UPDATE SET last_seen = ?4, mode = coalesce(?2, mode), "
	    "product_type = coalesce(?3, product_type)",
	    why, whylen, "sssi", id, mode, product_type, now);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int
store_device_update(struct store *st, const struct store_device *d, char *why, size_t whylen)
{
	int64_t now = (int64_t)time(NULL);
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = run(
	    st,
	    "INSERT INTO devices(id, mode, product_type, serial, ecid, model_name, first_seen, last_seen) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT(id) DO UPDATE SET last_seen = ?7, "
	    "mode = coalesce(?2, mode), product_type = coalesce(?3, product_type), "
	    "serial = coalesce(?4, serial), ecid = coalesce(?5, ecid), "
	    "model_name = coalesce(?6, model_name)",
	    why, whylen, "ssssssi", d->id, d->mode, d->product_type, d->serial, d->ecid, d->model_name, now);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int
store_session_begin(struct store *st, const char *device, int64_t *id, char *why, size_t whylen)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = run(st, "INSERT INTO sessions(device, started_at, state) VALUES (?1, ?2, 'running')", why,
	         whylen, "si", device, (int64_t)time(NULL));
	if (rc == STORE_OK)
		*id = sqlite3_last_insert_rowid(st->db);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int
store_session_end(struct store *st, int64_t id, const char *state, const char *reason, const char *report_id,
                  char *why, size_t whylen)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = run(st,
	         "UPDATE sessions SET ended_at = ?2, state = ?3, reason = ?4, report_id = ?5 WHERE id = ?1",
	         why, whylen, "iisss", id, (int64_t)time(NULL), state, reason, report_id);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int
store_session_abandon_running(struct store *st, const char *reason)
{
	char why[512];
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = run(st,
	         "UPDATE sessions SET ended_at = ?1, state = 'failed', reason = ?2 WHERE state = 'running'",
	         why, sizeof(why), "is", (int64_t)time(NULL), reason);
	if (rc == STORE_OK)
		rc = sqlite3_changes(st->db);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- cases -------------------------------------------------------------------------------- */

void
store_case_clear(struct store_case *c)
{
	json_decref(c->answers);
	memset(c, 0, sizeof(*c));
}

#define CASE_COLUMNS                                                                                         \
	"case_id, device, serial, udid, ecid, ticket, lang, booking_id, state, finished, opened_at, "        \
	"closed_at, last_session_at, answers, latest_report_id, latest_revision, final_report_id"

static void
case_from_row(sqlite3_stmt *s, struct store_case *c)
{
	memset(c, 0, sizeof(*c));
	copy_col(s, 0, c->case_id, sizeof(c->case_id));
	copy_col(s, 1, c->device, sizeof(c->device));
	copy_col(s, 2, c->serial, sizeof(c->serial));
	copy_col(s, 3, c->udid, sizeof(c->udid));
	copy_col(s, 4, c->ecid, sizeof(c->ecid));
	copy_col(s, 5, c->ticket, sizeof(c->ticket));
	copy_col(s, 6, c->lang, sizeof(c->lang));
	c->booking_id = sqlite3_column_int64(s, 7);
	c->open = strcmp(col_text(s, 8), "open") == 0;
	c->finished = sqlite3_column_int(s, 9);
	c->opened_at = sqlite3_column_int64(s, 10);
	c->closed_at = sqlite3_column_int64(s, 11);
	c->last_session_at = sqlite3_column_int64(s, 12);
	c->answers = json_loads(col_text(s, 13), 0, NULL);
	if (!json_is_object(c->answers)) {
		json_decref(c->answers);
		c->answers = json_object();
	}
	copy_col(s, 14, c->latest_report_id, sizeof(c->latest_report_id));
	c->latest_revision = sqlite3_column_int(s, 15);
	copy_col(s, 16, c->final_report_id, sizeof(c->final_report_id));
}

/* Load a case by id (mutex held). */
static int
case_load(struct store *st, const char *case_id, struct store_case *out)
{
	sqlite3_stmt *s;
	int r = prep(st, &s, "SELECT " CASE_COLUMNS " FROM cases WHERE case_id = ?1", "s", case_id), rc;

	if (r != STORE_OK)
		return r;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		case_from_row(s, out);
		r = STORE_OK;
	} else {
		r = rc == SQLITE_DONE ? STORE_E_NOT_FOUND : map_rc(rc);
	}
	sqlite3_finalize(s);
	return r;
}

int
store_case_get(struct store *st, const char *case_id, struct store_case *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&st->mu);
	r = case_load(st, case_id, out);
	pthread_mutex_unlock(&st->mu);
	return r;
}

static int
close_case(struct store *st, const char *case_id, const char *why_closed)
{
	char why[256];

	return run(st,
	           "UPDATE cases SET state = 'closed', closed_at = ?2, closed_why = ?3 WHERE case_id = ?1 "
	           "AND state = 'open'",
	           why, sizeof(why), "sis", case_id, (int64_t)time(NULL), why_closed);
}

/* Upper case, no spaces; a booking's value and the device fields it is compared with. */
int
store_booking_normalise(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	if (in == NULL || outlen == 0)
		return -1;
	for (const char *p = in; *p; p++) {
		if (isspace((unsigned char)*p))
			continue;
		if (n + 1 >= outlen || n >= 64)
			return -1;
		out[n++] = (char)toupper((unsigned char)*p);
	}
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

int
store_case_for_session(struct store *st, const struct store_case_key *k, int64_t idle_s,
                       struct store_case *out, int *created, char *why, size_t whylen)
{
	int64_t now = (int64_t)time(NULL), booking = 0;
	char case_id[STORE_ID_MAX] = "", nserial[72] = "", nudid[88] = "", nimei[72] = "";
	char ticket[STORE_TICKET_MAX + 1] = "", lang[8] = "";
	sqlite3_stmt *s;
	int rc, r;

	memset(out, 0, sizeof(*out));
	*created = 0;
	if (k->serial && store_booking_normalise(k->serial, nserial, sizeof(nserial)) < 0)
		nserial[0] = '\0';
	if (k->udid && store_booking_normalise(k->udid, nudid, sizeof(nudid)) < 0)
		nudid[0] = '\0';
	if (k->imei && store_booking_normalise(k->imei, nimei, sizeof(nimei)) < 0)
		nimei[0] = '\0';
	pthread_mutex_lock(&st->mu);
	if ((r = begin(st, why, whylen)) != STORE_OK)
		goto out;
	/* The device's open case: same udid, else serial, else ecid, else the same device id; never
	 * a case that one identifier known on both sides says is another phone (a UDID, serial or
	 * ECID that differs). */
	r = prep(st, &s,
	         "SELECT case_id, last_session_at FROM cases WHERE state = 'open' AND ("
	         " (?1 IS NOT NULL AND udid = ?1 COLLATE NOCASE) OR (?2 IS NOT NULL AND serial = ?2 COLLATE "
	         "NOCASE) OR (?3 IS NOT NULL AND ecid = ?3 COLLATE NOCASE) OR device = ?4 COLLATE NOCASE) "
	         "AND (udid IS NULL OR ?1 IS NULL OR udid = ?1 COLLATE NOCASE) "
	         "AND (serial IS NULL OR ?2 IS NULL OR serial = ?2 COLLATE NOCASE) "
	         "AND (ecid IS NULL OR ?3 IS NULL OR ecid = ?3 COLLATE NOCASE) "
	         "ORDER BY (udid = ?1 COLLATE NOCASE) DESC, (serial = ?2 COLLATE NOCASE) DESC, "
	         "last_session_at DESC LIMIT 1",
	         "ssss", k->udid, nserial[0] ? nserial : NULL, k->ecid, k->device);
	if (r != STORE_OK)
		goto rollback;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		copy_col(s, 0, case_id, sizeof(case_id));
		if (now - sqlite3_column_int64(s, 1) > idle_s) {
			log_info("case %s: no session for %lld h: closed; this session opens a new case",
			         case_id, (long long)((now - sqlite3_column_int64(s, 1)) / 3600));
			sqlite3_finalize(s);
			if ((r = close_case(st, case_id, "idle")) != STORE_OK)
				goto rollback;
			case_id[0] = '\0';
			s = NULL;
		}
	} else if (rc != SQLITE_DONE) {
		r = fail(st, rc, "looking up the device's case", why, whylen);
		sqlite3_finalize(s);
		goto rollback;
	}
	sqlite3_finalize(s);
	if (case_id[0]) {
		r = run(st,
		        "UPDATE cases SET last_session_at = ?2, serial = coalesce(serial, ?3), udid = "
		        "coalesce(udid, ?4), ecid = coalesce(ecid, ?5) WHERE case_id = ?1",
		        why, whylen, "sisss", case_id, now, nserial[0] ? nserial : NULL, k->udid, k->ecid);
		if (r != STORE_OK)
			goto rollback;
	} else {
		/* A new visit: a booking for this device gives it its ticket and language. */
		r = prep(st, &s,
		         "SELECT id, ticket, lang FROM bookings WHERE used_by IS NULL AND ("
		         " (kind = 'serial' AND value = ?1) OR (kind = 'udid' AND value = ?2) OR"
		         " (kind = 'imei' AND value = ?3)) ORDER BY created_at, id LIMIT 1",
		         "sss", nserial[0] ? nserial : NULL, nudid[0] ? nudid : NULL,
		         nimei[0] ? nimei : NULL);
		if (r != STORE_OK)
			goto rollback;
		if (sqlite3_step(s) == SQLITE_ROW) {
			booking = sqlite3_column_int64(s, 0);
			copy_col(s, 1, ticket, sizeof(ticket));
			copy_col(s, 2, lang, sizeof(lang));
		}
		sqlite3_finalize(s);
		uuid4(case_id);
		r = run(
		    st,
		    "INSERT INTO cases(case_id, device, serial, udid, ecid, ticket, lang, booking_id, state, "
		    "opened_at, last_session_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'open', ?9, ?9)",
		    why, whylen, "sssssssni", case_id, k->device, nserial[0] ? nserial : NULL, k->udid,
		    k->ecid, ticket[0] ? ticket : NULL, lang[0] ? lang : NULL, booking, now);
		if (r == STORE_OK && booking != 0)
			r = run(st, "UPDATE bookings SET used_by = ?2, used_at = ?3 WHERE id = ?1", why,
			        whylen, "isi", booking, case_id, now);
		if (r != STORE_OK)
			goto rollback;
		*created = 1;
	}
	if ((r = commit(st, why, whylen)) != STORE_OK)
		goto out;
	r = case_load(st, case_id, out);
	goto out;
rollback:
	rollback(st);
out:
	pthread_mutex_unlock(&st->mu);
	return r;
}

int
store_case_resolve(struct store *st, const char *device, char case_id[STORE_ID_MAX], char *why, size_t whylen)
{
	sqlite3_stmt *s;
	int r, rc, nopen = 0, n = 0;
	char first[STORE_ID_MAX] = "", firstopen[STORE_ID_MAX] = "", list[512] = "";

	case_id[0] = '\0';
	pthread_mutex_lock(&st->mu);
	/* A case id, or a report id (its case). */
	r = prep(st, &s,
	         "SELECT case_id, 1 FROM cases WHERE case_id = ?1 COLLATE NOCASE UNION ALL "
	         "SELECT coalesce(case_id, ''), 0 FROM reports WHERE report_id = ?1 COLLATE NOCASE",
	         "s", device);
	if (r != STORE_OK)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (col_text(s, 0)[0] == '\0') {
			snprintf(
			    why, whylen,
			    "report %.40s belongs to no case (benchctl run made it, or benchd before cases): "
			    "name the device instead",
			    device);
			r = STORE_E_STATE;
		} else {
			util_strlcpy(case_id, col_text(s, 0), STORE_ID_MAX);
			r = STORE_OK;
		}
		sqlite3_finalize(s);
		goto out;
	}
	sqlite3_finalize(s);
	/* A device: UDID, serial number, ECID (with or without 0x). */
	r = prep(st, &s,
	         "SELECT case_id, state FROM cases WHERE udid = ?1 COLLATE NOCASE OR serial = ?1 COLLATE "
	         "NOCASE OR ecid = ?1 COLLATE NOCASE OR ecid = '0x' || ?1 COLLATE NOCASE OR device = ?1 "
	         "COLLATE NOCASE ORDER BY opened_at DESC, rowid DESC",
	         "s", device);
	if (r != STORE_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int open = strcmp(col_text(s, 1), "open") == 0;
		if (n++ == 0)
			util_strlcpy(first, col_text(s, 0), sizeof(first));
		if (open) {
			if (nopen++ == 0)
				util_strlcpy(firstopen, col_text(s, 0), sizeof(firstopen));
			util_strlcat(list, nopen > 1 ? ", " : "", sizeof(list));
			util_strlcat(list, col_text(s, 0), sizeof(list));
		}
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		r = map_rc(rc);
		goto out;
	}
	if (nopen > 1) {
		snprintf(why, whylen, "%.64s names %d open cases (%s): give the case id", device, nopen,
		         list);
		r = STORE_E_EXISTS;
	} else if (nopen == 1 || n > 0) {
		util_strlcpy(case_id, nopen ? firstopen : first, STORE_ID_MAX);
		r = STORE_OK;
	} else {
		snprintf(why, whylen, "no open case for %.64s: plug it in or give a report id", device);
		r = STORE_E_NOT_FOUND;
	}
out:
	pthread_mutex_unlock(&st->mu);
	return r;
}

int
store_case_touch(struct store *st, const char *case_id)
{
	char why[256];
	int r;

	pthread_mutex_lock(&st->mu);
	r = run(st, "UPDATE cases SET last_session_at = ?2 WHERE case_id = ?1", why, sizeof(why), "si",
	        case_id, (int64_t)time(NULL));
	pthread_mutex_unlock(&st->mu);
	return r;
}

int
store_cases_close_idle(struct store *st, int64_t idle_s, json_t **closed)
{
	int64_t cutoff = (int64_t)time(NULL) - idle_s;
	json_t *list = json_array();
	sqlite3_stmt *s;
	char why[256];
	int r;

	pthread_mutex_lock(&st->mu);
	if ((r = begin(st, why, sizeof(why))) != STORE_OK)
		goto out;
	r = prep(st, &s, "SELECT case_id, device FROM cases WHERE state = 'open' AND last_session_at < ?1",
	         "i", cutoff);
	if (r == STORE_OK)
		r = rows(s, list);
	if (r == STORE_OK)
		r = run(
		    st,
		    "UPDATE cases SET state = 'closed', closed_at = ?2, closed_why = 'idle' WHERE state = "
		    "'open' AND last_session_at < ?1",
		    why, sizeof(why), "ii", cutoff, (int64_t)time(NULL));
	if (r == STORE_OK)
		r = commit(st, why, sizeof(why));
	else
		rollback(st);
out:
	pthread_mutex_unlock(&st->mu);
	if (r != STORE_OK) {
		json_decref(list);
		if (closed)
			*closed = NULL;
		return r;
	}
	r = (int)json_array_size(list);
	if (closed)
		*closed = list;
	else
		json_decref(list);
	return r;
}

int
store_cases_list(struct store *st, int open_only, int limit, json_t **out)
{
	return select_rows(
	    st, out,
	    "SELECT c.case_id, c.device, c.serial, c.udid, c.ecid, c.ticket, c.lang, c.booking_id, c.state, "
	    " c.finished, " RFC3339("c.opened_at") " AS opened_at, " RFC3339(
	        "c.closed_at") " AS closed_at, "
	                       " c.closed_why, " RFC3339(
	                           "c.last_session_at") " AS last_session_at, c.answers AS answers_json, "
	                                                " c.latest_report_id, c.latest_revision, "
	                                                "c.final_report_id, r.outcome AS latest_outcome, "
	                                                " r.final AS latest_final, r.waiting AS "
	                                                "latest_waiting, r.model_name, r.product_type "
	                                                "FROM cases c LEFT JOIN reports r ON r.report_id = "
	                                                "c.latest_report_id "
	                                                "WHERE (?1 = 0 OR c.state = 'open') ORDER BY "
	                                                "c.opened_at DESC, c.rowid DESC LIMIT ?2",
	    "ii", (int64_t)open_only, (int64_t)limit);
}

/* Outbox rows for a report, one per target (mutex held, inside a transaction). */
static int
add_outbox_rows(struct store *st, const char *report_id, const char *body, size_t bodylen,
                const char *const *targets, size_t ntargets, char *why, size_t whylen)
{
	static const char *const dflt[] = {STORE_TARGET_UPLOAD};
	int64_t now = store_now_ms();
	int r = STORE_OK;

	if (targets == NULL || ntargets == 0) {
		targets = dflt;
		ntargets = 1;
	}
	for (size_t i = 0; i < ntargets && r == STORE_OK; i++)
		r = run(
		    st,
		    "INSERT INTO outbox(report_id, target, body, next_try, state, created_at, updated_at) "
		    "VALUES (?1, ?2, ?3, ?4, 'pending', ?4, ?4)",
		    why, whylen, "ssbi", report_id, targets[i], body, bodylen, now);
	return r;
}

int
store_case_finish(struct store *st, const char *case_id, const char *report_id, const char *body,
                  size_t bodylen, const char *const *targets, size_t ntargets, char *why, size_t whylen)
{
	struct store_case c;
	sqlite3_stmt *s;
	int r, final = 0;

	memset(&c, 0, sizeof(c));
	pthread_mutex_lock(&st->mu);
	if ((r = begin(st, why, whylen)) != STORE_OK)
		goto out;
	if ((r = case_load(st, case_id, &c)) != STORE_OK) {
		snprintf(why, whylen, "no case %.40s", case_id);
		goto rollback;
	}
	if (strcmp(c.latest_report_id, report_id) != 0) {
		snprintf(why, whylen, "report %.40s is not the latest of case %.40s (%s is)", report_id,
		         case_id, c.latest_report_id);
		store_case_clear(&c);
		r = STORE_E_NOT_FOUND;
		goto rollback;
	}
	store_case_clear(&c);
	if ((r = prep(st, &s, "SELECT final FROM reports WHERE report_id = ?1", "s", report_id)) != STORE_OK)
		goto rollback;
	if (sqlite3_step(s) == SQLITE_ROW)
		final = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (final) {
		snprintf(why, whylen, "report %.40s is final already", report_id);
		r = STORE_E_STATE;
		goto rollback;
	}
	r = run(st, "UPDATE reports SET final = 1, waiting = NULL WHERE report_id = ?1", why, whylen, "s",
	        report_id);
	if (r == STORE_OK)
		r = run(st, "UPDATE cases SET finished = 1, final_report_id = ?2 WHERE case_id = ?1", why,
		        whylen, "ss", case_id, report_id);
	if (r == STORE_OK && body != NULL)
		r = add_outbox_rows(st, report_id, body, bodylen, targets, ntargets, why, whylen);
	if (r != STORE_OK)
		goto rollback;
	r = commit(st, why, whylen);
	goto out;
rollback:
	rollback(st);
out:
	pthread_mutex_unlock(&st->mu);
	return r;
}

/* ---- reports ------------------------------------------------------------------------------ */

void
store_report_init(struct store_report *r)
{
	memset(r, 0, sizeof(*r));
	r->cycle_count = r->health_pct = r->nominal_capacity_mah = r->design_capacity_mah = -1;
}

int
store_report_add(struct store *st, const struct store_report *r, char *why, size_t whylen)
{
	int64_t now = store_now_ms();
	int rc, known;
	char *answers = NULL;

	known = store_report_known(st, r->report_id);
	if (known < 0)
		return fail(st, SQLITE_ERROR, "looking up the report", why, whylen);
	if (known) {
		snprintf(why, whylen, "report %s is already stored", r->report_id);
		return STORE_E_EXISTS;
	}
	if (r->case_answers)
		answers = json_dumps(r->case_answers, JSON_COMPACT | JSON_SORT_KEYS);
	pthread_mutex_lock(&st->mu);
	if ((rc = begin(st, why, whylen)) != STORE_OK)
		goto out;
	if (r->device) {
		rc = run(
		    st,
		    "INSERT INTO devices(id, serial, ecid, product_type, model_name, first_seen, last_seen) "
		    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT(id) DO UPDATE SET "
		    "serial = coalesce(serial, ?2), ecid = coalesce(ecid, ?3), "
		    "product_type = coalesce(product_type, ?4), model_name = coalesce(model_name, ?5)",
		    why, whylen, "sssssi", r->device, r->serial, r->ecid, r->product_type, r->model_name,
		    now / 1000);
		if (rc != STORE_OK)
			goto rollback;
	}
	if (r->case_id) {
		struct store_case c;
		memset(&c, 0, sizeof(c));
		rc = case_load(st, r->case_id, &c);
		if (rc == STORE_E_NOT_FOUND && r->case_create && r->device) {
			/* A report whose case the store lost (adopted after the database was moved
			 * aside): the case comes back from what the report says. */
			rc =
			    run(st,
			        "INSERT INTO cases(case_id, device, serial, udid, ecid, ticket, lang, state, "
			        "opened_at, last_session_at, answers) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
			        "'open', "
			        "?8, ?8, coalesce(?9, '{}'))",
			        why, whylen, "sssssssis", r->case_id, r->device, r->serial, r->udid, r->ecid,
			        r->ticket, r->case_lang, now / 1000, answers);
			if (rc == STORE_OK)
				rc = case_load(st, r->case_id, &c);
		} else if (rc == STORE_E_NOT_FOUND) {
			snprintf(why, whylen, "report %s: no case %s in the store", r->report_id, r->case_id);
		}
		if (rc != STORE_OK)
			goto rollback;
		if (r->revision > c.latest_revision) {
			rc = run(st,
			         "UPDATE cases SET latest_report_id = ?2, latest_revision = ?3, ticket = "
			         "coalesce(?4, "
			         "ticket), answers = coalesce(?5, answers), final_report_id = CASE WHEN ?6 "
			         "THEN ?2 "
			         "ELSE final_report_id END WHERE case_id = ?1",
			         why, whylen, "ssissi", r->case_id, r->report_id, (int64_t)r->revision,
			         r->ticket, answers, (int64_t)(r->final != 0));
			if (rc != STORE_OK) {
				store_case_clear(&c);
				goto rollback;
			}
		}
		store_case_clear(&c);
	}
	rc =
	    run(st,
	        "INSERT INTO reports(report_id, device, outcome, path, created_at, stored_at, case_id, "
	        "revision, supersedes, final, waiting, ticket, faults, serial, udid, ecid, product_type, "
	        "model_name, captured_at, battery_serial, cycle_count, health_pct, nominal_capacity_mah, "
	        "design_capacity_mah, snapshot_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
	        "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
	        why, whylen, "sssssisisissssssssssdddds", r->report_id, r->device, r->outcome, r->path,
	        r->created_at, (int64_t)(now / 1000), r->case_id,
	        r->case_id ? (int64_t)r->revision : (int64_t)0, r->supersedes, (int64_t)(r->final != 0),
	        r->final ? NULL : r->waiting, r->ticket, r->faults, r->serial, r->udid, r->ecid,
	        r->product_type, r->model_name, r->captured_at, r->battery_serial, r->cycle_count,
	        r->health_pct, r->nominal_capacity_mah, r->design_capacity_mah, r->snapshot_sha256);
	if (rc != STORE_OK)
		goto rollback;
	if (r->case_id == NULL)
		rc = run(st, "UPDATE reports SET revision = NULL WHERE report_id = ?1", why, whylen, "s",
		         r->report_id);
	if (rc == STORE_OK && r->body)
		rc = add_outbox_rows(st, r->report_id, r->body, r->bodylen, r->targets, r->ntargets, why,
		                     whylen);
	if (rc != STORE_OK)
		goto rollback;
	rc = commit(st, why, whylen);
	goto out;
rollback:
	rollback(st);
out:
	pthread_mutex_unlock(&st->mu);
	free(answers);
	return rc;
}

int
store_report_known(struct store *st, const char *report_id)
{
	sqlite3_stmt *s;
	int rc, known = -1;

	pthread_mutex_lock(&st->mu);
	rc = sqlite3_prepare_v2(st->db, "SELECT 1 FROM reports WHERE report_id = ?1", -1, &s, NULL);
	if (rc == SQLITE_OK) {
		bind_text(s, 1, report_id);
		rc = sqlite3_step(s);
		known = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	return known;
}

int
store_reports_without_outbox(struct store *st, const char *target, json_t **list)
{
	return select_rows(st, list,
	                   "SELECT r.report_id, r.path FROM reports r WHERE r.final = 1 AND NOT EXISTS "
	                   "(SELECT 1 FROM outbox o WHERE o.report_id = r.report_id AND o.target = ?1) "
	                   "ORDER BY r.stored_at, r.rowid",
	                   "s", target ? target : STORE_TARGET_UPLOAD);
}

int
store_report_path(struct store *st, const char *report_id, char *path, size_t pathlen)
{
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&st->mu);
	r = prep(st, &s, "SELECT path FROM reports WHERE report_id = ?1 COLLATE NOCASE", "s", report_id);
	if (r == STORE_OK) {
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			copy_col(s, 0, path, pathlen);
		r = rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_E_NOT_FOUND : map_rc(rc);
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	return r;
}

/*
 * The reports of the device DEVICE names (?1): every serial, UDID and ECID that DEVICE is or
 * that a case or report it names carries; then every report with one of them.
 */
#define DEVICE_REPORTS                                                                                       \
	"WITH ident(serial, udid, ecid) AS ("                                                                \
	" SELECT serial, udid, ecid FROM reports WHERE report_id = ?1 COLLATE NOCASE OR case_id = ?1 "       \
	"  COLLATE NOCASE OR serial = ?1 COLLATE NOCASE OR udid = ?1 COLLATE NOCASE OR ecid = ?1 COLLATE "   \
	"  NOCASE OR ecid = '0x' || ?1 COLLATE NOCASE OR device = ?1 COLLATE NOCASE"                         \
	" UNION SELECT serial, udid, ecid FROM cases WHERE case_id = ?1 COLLATE NOCASE OR serial = ?1 "      \
	"  COLLATE NOCASE OR udid = ?1 COLLATE NOCASE OR ecid = ?1 COLLATE NOCASE OR device = ?1 COLLATE "   \
	"  NOCASE"                                                                                           \
	" UNION SELECT serial, CASE WHEN coalesce(mode, 'normal') = 'normal' THEN id END, ecid FROM "        \
	"  devices WHERE id = ?1 COLLATE NOCASE OR serial = ?1 COLLATE NOCASE OR ecid = ?1 COLLATE NOCASE)"  \
	", dev AS (SELECT r.* FROM reports r WHERE"                                                          \
	" r.serial COLLATE NOCASE IN (SELECT serial FROM ident WHERE serial IS NOT NULL)"                    \
	" OR r.udid COLLATE NOCASE IN (SELECT udid FROM ident WHERE udid IS NOT NULL)"                       \
	" OR r.ecid COLLATE NOCASE IN (SELECT ecid FROM ident WHERE ecid IS NOT NULL)"                       \
	" OR r.device COLLATE NOCASE IN (SELECT udid FROM ident WHERE udid IS NOT NULL UNION SELECT ecid "   \
	"  FROM ident WHERE ecid IS NOT NULL)"                                                               \
	" OR r.report_id = ?1 COLLATE NOCASE) "

int
store_reports_list(struct store *st, const char *device, const char *since, int limit, json_t **out)
{
	static const char cols[] = "SELECT report_id, created_at, case_id, revision, supersedes, ticket, "
	                           "outcome, faults AS faults_json, "
	                           "final, waiting, device, serial, product_type, model_name FROM ";

	if (device == NULL) {
		char *sql = xasprintf("%sreports WHERE (?1 IS NULL OR created_at >= ?1) "
		                      "ORDER BY created_at DESC, rowid DESC LIMIT ?2",
		                      cols);
		int r = select_rows(st, out, sql, "si", since, (int64_t)limit);
		free(sql);
		return r;
	}
	{
		char *sql = xasprintf(DEVICE_REPORTS "%sdev WHERE (?2 IS NULL OR created_at >= ?2) "
		                                     "ORDER BY created_at DESC, revision DESC LIMIT ?3",
		                      cols);
		int r = select_rows(st, out, sql, "ssi", device, since, (int64_t)limit);
		free(sql);
		return r;
	}
}

int
store_history(struct store *st, const char *device, json_t **out, char *why, size_t whylen)
{
	json_t *list, *last, *dev;
	int r;

	*out = NULL;
	r = select_rows(
	    st, &list,
	    DEVICE_REPORTS
	    "SELECT created_at, report_id, case_id, revision, ticket, outcome, faults AS faults_json, "
	    "health_pct, cycle_count, battery_serial, final, serial, udid, ecid, product_type, "
	    "model_name FROM dev ORDER BY created_at, coalesce(revision, 0), stored_at",
	    "s", device);
	if (r != STORE_OK) {
		json_decref(list);
		snprintf(why, whylen, "cannot read the store: %s", store_strerror(r));
		return r;
	}
	if (json_array_size(list) == 0) {
		json_decref(list);
		snprintf(why, whylen,
		         "no report of %.64s on this bench: plug it in, or give a serial number, UDID, "
		         "ECID, case id or report id",
		         device);
		return STORE_E_NOT_FOUND;
	}
	/* The device as its latest report knows it; the rows keep the history fields only. */
	last = json_array_get(list, json_array_size(list) - 1);
	dev = json_object();
	{
		static const char *const keys[] = {"serial", "udid", "ecid", "product_type", "model_name"};
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			json_t *v = NULL;
			size_t j;
			json_t *row;
			/* the newest non-null value */
			for (j = json_array_size(list); j-- > 0;) {
				row = json_array_get(list, j);
				if (!json_is_null(json_object_get(row, keys[i]))) {
					v = json_object_get(row, keys[i]);
					break;
				}
			}
			json_object_set(dev, keys[i], v ? v : json_null());
		}
		(void)last;
		size_t j;
		json_t *row;
		json_array_foreach(list, j, row)
		{
			for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
				json_object_del(row, keys[i]);
		}
	}
	*out = json_pack("{s:o, s:o}", "device", dev, "reports", list);
	return STORE_OK;
}

int
store_battery_history(struct store *st, const char *serial, const char *udid, const char *battery_serial,
                      json_t **out)
{
	static const char head[] =
	    "SELECT min(coalesce(captured_at, created_at)) AS at, battery_serial, cycle_count, health_pct, "
	    "nominal_capacity_mah, design_capacity_mah FROM reports WHERE (health_pct IS NOT NULL OR "
	    "cycle_count IS NOT NULL) AND ";
	static const char tail[] = " GROUP BY coalesce(snapshot_sha256, captured_at, report_id) ORDER BY at";
	char *sql;
	int r;

	if (battery_serial && battery_serial[0]) {
		sql = xasprintf("%sbattery_serial = ?1%s", head, tail);
		r = select_rows(st, out, sql, "s", battery_serial);
	} else if (serial && serial[0]) {
		sql = xasprintf("%sserial = ?1 COLLATE NOCASE%s", head, tail);
		r = select_rows(st, out, sql, "s", serial);
	} else if (udid && udid[0]) {
		sql = xasprintf("%s(udid = ?1 COLLATE NOCASE OR device = ?1 COLLATE NOCASE)%s", head, tail);
		r = select_rows(st, out, sql, "s", udid);
	} else {
		*out = json_array();
		return STORE_OK;
	}
	free(sql);
	return r;
}

/* ---- bookings ----------------------------------------------------------------------------- */

#define BOOKING_COLUMNS                                                                                      \
	"id, kind, value, ticket, lang, note, source, external_id, " RFC3339(                                \
	    "created_at") " AS created_at, "                                                                 \
	                  "used_by, " RFC3339("used_at") " AS used_at"

static int
booking_insert(struct store *st, const struct store_booking *b, int64_t *id, char *why, size_t whylen)
{
	char value[72];
	int r;

	if (store_booking_normalise(b->value, value, sizeof(value)) < 0) {
		snprintf(why, whylen, "a booked %s must be 1 to 64 characters", b->kind ? b->kind : "value");
		return STORE_E_STATE;
	}
	r = run(st,
	        "INSERT INTO bookings(kind, value, ticket, lang, note, source, external_id, created_at) "
	        "VALUES (?1, ?2, ?3, ?4, ?5, coalesce(?6, 'manual'), ?7, ?8)",
	        why, whylen, "sssssssi", b->kind, value, b->ticket, b->lang, b->note, b->source,
	        b->external_id, (int64_t)time(NULL));
	if (r == STORE_OK && id)
		*id = sqlite3_last_insert_rowid(st->db);
	return r;
}

int
store_booking_add(struct store *st, const struct store_booking *b, int64_t *id, char *why, size_t whylen)
{
	char value[72];
	sqlite3_stmt *s;
	int r;

	if (store_booking_normalise(b->value, value, sizeof(value)) < 0) {
		snprintf(why, whylen, "a booked %s must be 1 to 64 characters", b->kind ? b->kind : "value");
		return STORE_E_STATE;
	}
	pthread_mutex_lock(&st->mu);
	r = prep(st, &s, "SELECT id, ticket FROM bookings WHERE kind = ?1 AND value = ?2 AND used_by IS NULL",
	         "ss", b->kind, value);
	if (r == STORE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW) {
			snprintf(
			    why, whylen,
			    "%s %s is already booked (booking %lld, ticket %s): remove that booking first "
			    "(benchctl booking remove %lld)",
			    b->kind, value, (long long)sqlite3_column_int64(s, 0), col_text(s, 1),
			    (long long)sqlite3_column_int64(s, 0));
			r = STORE_E_EXISTS;
		}
		sqlite3_finalize(s);
	}
	if (r == STORE_OK)
		r = booking_insert(st, b, id, why, whylen);
	pthread_mutex_unlock(&st->mu);
	return r;
}

int
store_bookings_list(struct store *st, json_t **out)
{
	return select_rows(st, out,
	                   "SELECT " BOOKING_COLUMNS " FROM bookings ORDER BY (used_by IS NOT NULL), "
	                   "bookings.created_at DESC, id DESC",
	                   "");
}

int
store_booking_get(struct store *st, int64_t id, json_t **out)
{
	json_t *a;
	int r = select_rows(st, &a, "SELECT " BOOKING_COLUMNS " FROM bookings WHERE id = ?1", "i", id);

	*out = NULL;
	if (r == STORE_OK && json_array_size(a) == 0)
		r = STORE_E_NOT_FOUND;
	if (r == STORE_OK)
		*out = json_incref(json_array_get(a, 0));
	json_decref(a);
	return r;
}

int
store_booking_remove(struct store *st, int64_t id, char *why, size_t whylen)
{
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&st->mu);
	r = prep(st, &s, "SELECT used_by FROM bookings WHERE id = ?1", "i", id);
	if (r == STORE_OK) {
		int rc = sqlite3_step(s);
		if (rc == SQLITE_DONE) {
			snprintf(why, whylen, "no booking %lld: `benchctl booking list` shows them",
			         (long long)id);
			r = STORE_E_NOT_FOUND;
		} else if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
			snprintf(why, whylen, "booking %lld served case %s: it stays as that case's record",
			         (long long)id, col_text(s, 0));
			r = STORE_E_STATE;
		} else if (rc != SQLITE_ROW) {
			r = map_rc(rc);
		}
		sqlite3_finalize(s);
	}
	if (r == STORE_OK)
		r = run(st, "DELETE FROM bookings WHERE id = ?1 AND used_by IS NULL", why, whylen, "i", id);
	pthread_mutex_unlock(&st->mu);
	return r;
}

int
store_bookings_sync(struct store *st, const char *source, const json_t *rows_in, int *skipped, char *why,
                    size_t whylen)
{
	size_t i;
	json_t *row;
	int r, skip = 0;

	if (skipped)
		*skipped = 0;
	if (!json_is_array(rows_in)) {
		snprintf(why, whylen, "bookings sync: rows must be an array");
		return STORE_E_STATE;
	}
	pthread_mutex_lock(&st->mu);
	if ((r = begin(st, why, whylen)) != STORE_OK)
		goto out;
	r = run(st, "DELETE FROM bookings WHERE source = ?1 AND used_by IS NULL", why, whylen, "s", source);
	if (r != STORE_OK)
		goto rollback;
	json_array_foreach(rows_in, i, row)
	{
		struct store_booking b = {
		    .kind = json_string_value(json_object_get(row, "kind")),
		    .value = json_string_value(json_object_get(row, "value")),
		    .ticket = json_string_value(json_object_get(row, "ticket")),
		    .lang = json_string_value(json_object_get(row, "lang")),
		    .note = json_string_value(json_object_get(row, "note")),
		    .source = source,
		    .external_id = json_string_value(json_object_get(row, "external_id")),
		};
		char value[72], rwhy[256];
		sqlite3_stmt *s;
		int served = 0;
		if (b.kind == NULL || b.ticket == NULL ||
		    store_booking_normalise(b.value, value, sizeof(value)) < 0) {
			skip++;
			continue;
		}
		/* A ticket that already served a visit of this device is not booked again. */
		if (prep(st, &s,
		         "SELECT 1 FROM bookings WHERE source = ?1 AND kind = ?2 AND value = ?3 AND ticket = "
		         "?4 "
		         "AND used_by IS NOT NULL",
		         "ssss", source, b.kind, value, b.ticket) == STORE_OK) {
			served = sqlite3_step(s) == SQLITE_ROW;
			sqlite3_finalize(s);
		}
		if (served)
			continue;
		if (sqlite3_exec(st->db, "SAVEPOINT row", NULL, NULL, NULL) != SQLITE_OK ||
		    booking_insert(st, &b, NULL, rwhy, sizeof(rwhy)) != STORE_OK) {
			sqlite3_exec(st->db, "ROLLBACK TO row", NULL, NULL, NULL);
			skip++;
		}
		sqlite3_exec(st->db, "RELEASE row", NULL, NULL, NULL);
	}
	if ((r = commit(st, why, whylen)) != STORE_OK)
		goto out;
	if (skipped)
		*skipped = skip;
	goto out;
rollback:
	rollback(st);
out:
	pthread_mutex_unlock(&st->mu);
	return r;
}

/* ---- the outbox --------------------------------------------------------------------------- */

int
store_outbox_add(struct store *st, const char *report_id, const char *target, const char *body,
                 size_t bodylen, char *why, size_t whylen)
{
	const char *t[] = {target ? target : STORE_TARGET_UPLOAD};
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = add_outbox_rows(st, report_id, body, bodylen, t, 1, why, whylen);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

void
store_outbox_item_clear(struct store_outbox_item *item)
{
	free(item->body);
	memset(item, 0, sizeof(*item));
}

int
store_outbox_next(struct store *st, const char *target, int64_t now_ms, struct store_outbox_item *item,
                  int64_t *next_due_ms)
{
	sqlite3_stmt *s;
	int rc, r = STORE_E_NOT_FOUND;

	memset(item, 0, sizeof(*item));
	*next_due_ms = -1;
	pthread_mutex_lock(&st->mu);
	r = prep(
	    st, &s,
	    "SELECT o.report_id, o.body, o.attempts, o.next_try, o.target, r.case_id, r.revision, r.ticket "
	    "FROM outbox o JOIN reports r ON r.report_id = o.report_id WHERE o.target = ?1 AND "
	    "o.state = 'pending' ORDER BY o.next_try, o.created_at, r.revision LIMIT 1",
	    "s", target ? target : STORE_TARGET_UPLOAD);
	if (r != STORE_OK)
		goto out;
	r = STORE_E_NOT_FOUND;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		int64_t due = sqlite3_column_int64(s, 3);
		if (due <= now_ms) {
			const void *b = sqlite3_column_blob(s, 1);
			size_t n = (size_t)sqlite3_column_bytes(s, 1);
			copy_col(s, 0, item->report_id, sizeof(item->report_id));
			copy_col(s, 4, item->target, sizeof(item->target));
			copy_col(s, 5, item->case_id, sizeof(item->case_id));
			item->revision = sqlite3_column_int(s, 6);
			copy_col(s, 7, item->ticket, sizeof(item->ticket));
			item->body = xmalloc(n + 1);
			if (n)
				memcpy(item->body, b, n);
			item->body[n] = '\0';
			item->bodylen = n;
			item->attempts = sqlite3_column_int(s, 2);
			r = STORE_OK;
		} else {
			*next_due_ms = due;
		}
	} else if (rc != SQLITE_DONE) {
		r = map_rc(rc);
	}
	sqlite3_finalize(s);
out:
	pthread_mutex_unlock(&st->mu);
	return r;
}

int
store_outbox_attempt(struct store *st, const char *report_id, const char *target)
{
	char why[256];
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = run(
	    st,
	    "UPDATE outbox SET attempts = attempts + 1, updated_at = ?3 WHERE report_id = ?1 AND target = "
	    "?2",
	    why, sizeof(why), "ssi", report_id, target, store_now_ms());
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int
store_outbox_result(struct store *st, const char *report_id, const char *target,
                    const struct store_outbox_answer *a, char closed_case[STORE_ID_MAX])
{
	char why[256], case_id[STORE_ID_MAX] = "";
	char *ans = NULL;
	sqlite3_stmt *s;
	int rc;

	if (closed_case)
		closed_case[0] = '\0';
	if (a->answer) {
		/* Keep a bounded prefix, cut on a UTF-8 boundary. */
		size_t n = strnlen(a->answer, STORE_ANSWER_MAX);
		while (n > 0 && n < strlen(a->answer) && ((unsigned char)a->answer[n] & 0xc0) == 0x80)
			n--;
		ans = strndup(a->answer, n);
		if (ans == NULL)
			fatal("strndup");
	}
	pthread_mutex_lock(&st->mu);
	if ((rc = begin(st, why, sizeof(why))) != STORE_OK)
		goto out;
	rc = run(st,
	         "UPDATE outbox SET state = ?3, last_status = ?4, last_answer = ?5, next_try = ?6, "
	         "updated_at = ?7, remote_id = coalesce(?8, remote_id), phase = coalesce(?9, phase) "
	         "WHERE report_id = ?1 AND target = ?2",
	         why, sizeof(why), "sssisiiss", report_id, target, a->state, (int64_t)a->status, ans,
	         a->next_try_ms, store_now_ms(), a->remote_id, a->phase);
	if (rc == STORE_OK && strcmp(a->state, "delivered") == 0) {
		/* The case closes once its latest report, final, is delivered to every target. */
		rc =
		    prep(st, &s,
		         "SELECT c.case_id FROM reports r JOIN cases c ON c.case_id = r.case_id WHERE "
		         "r.report_id = ?1 AND r.final = 1 AND c.state = 'open' AND c.latest_report_id = "
		         "r.report_id AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.report_id = r.report_id "
		         "AND o.state != 'delivered')",
		         "s", report_id);
		if (rc == STORE_OK) {
			if (sqlite3_step(s) == SQLITE_ROW)
				copy_col(s, 0, case_id, sizeof(case_id));
			sqlite3_finalize(s);
		}
		if (rc == STORE_OK && case_id[0])
			rc = close_case(st, case_id, "delivered");
	}
	if (rc == STORE_OK)
		rc = commit(st, why, sizeof(why));
	else
		rollback(st);
	if (rc == STORE_OK && closed_case)
		util_strlcpy(closed_case, case_id, STORE_ID_MAX);
out:
	pthread_mutex_unlock(&st->mu);
	if (rc != STORE_OK)
		log_warnx("outbox: cannot record the answer for %s (%s): %s", report_id, target, why);
	free(ans);
	return rc;
}

int
store_outbox_retry(struct store *st, const char *report_id, const char *target)
{
	sqlite3_stmt *s;
	int rc, r, n = 0, delivered = 0;
	char why[256];

	pthread_mutex_lock(&st->mu);
	r = prep(st, &s, "SELECT state FROM outbox WHERE report_id = ?1 AND (?2 IS NULL OR target = ?2)",
	         "ss", report_id, target);
	if (r != STORE_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		n++;
		delivered += strcmp(col_text(s, 0), "delivered") == 0;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		r = map_rc(rc);
	else if (n == 0)
		r = STORE_E_NOT_FOUND;
	else if (delivered == n)
		r = STORE_E_STATE;
	if (r == STORE_OK)
		r = run(st,
		        "UPDATE outbox SET state = 'pending', next_try = ?3, updated_at = ?3 WHERE report_id "
		        "= ?1 "
		        "AND (?2 IS NULL OR target = ?2) AND state != 'delivered'",
		        why, sizeof(why), "ssi", report_id, target, store_now_ms());
out:
	pthread_mutex_unlock(&st->mu);
	return r;
}

int
store_outbox_retry_held(struct store *st, const char *target)
{
	char why[256];
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = run(
	    st,
	    "UPDATE outbox SET state = 'pending', next_try = ?1, updated_at = ?1 WHERE state = 'held' AND "
	    "(?2 IS NULL OR target = ?2)",
	    why, sizeof(why), "is", store_now_ms(), target);
	if (rc == STORE_OK)
		rc = sqlite3_changes(st->db);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static int
count(struct store *st, const char *sql, json_int_t *n)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return map_rc(rc);
	rc = sqlite3_step(s);
	*n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? STORE_OK : map_rc(rc);
}

/* Not final, and what the technician still has to look at: the latest of an open case, or a
 * report without a case. */
#define WAITING_WHERE                                                                                        \
	"r.final = 0 AND (r.case_id IS NULL OR EXISTS (SELECT 1 FROM cases c WHERE c.case_id = r.case_id "   \
	"AND c.state = 'open' AND c.latest_report_id = r.report_id))"

int
store_counts(struct store *st, json_t **out)
{
	json_int_t pending = 0, held = 0, delivered = 0, reports = 0, sessions = 0, devices = 0, open = 0,
	           waiting = 0;
	json_t *targets = json_object();
	sqlite3_stmt *s;
	int rc;

	st = reading(st);
	pthread_mutex_lock(&st->mu);
	rc = count(st, "SELECT count(*) FROM outbox WHERE state = 'pending'", &pending);
	if (rc == STORE_OK)
		rc = count(st, "SELECT count(*) FROM outbox WHERE state = 'held'", &held);
	if (rc == STORE_OK)
		rc = count(st, "SELECT count(*) FROM outbox WHERE state = 'delivered'", &delivered);
	if (rc == STORE_OK)
		rc = count(st, "SELECT count(*) FROM reports", &reports);
	if (rc == STORE_OK)
		rc = count(st, "SELECT count(*) FROM sessions", &sessions);
	if (rc == STORE_OK)
		rc = count(st, "SELECT count(*) FROM devices", &devices);
	if (rc == STORE_OK)
		rc = count(st, "SELECT count(*) FROM cases WHERE state = 'open'", &open);
	if (rc == STORE_OK)
		rc = count(st, "SELECT count(*) FROM reports r WHERE " WAITING_WHERE, &waiting);
	if (rc == STORE_OK &&
	    (rc = prep(st, &s,
	               "SELECT target, sum(state = 'pending'), sum(state = 'held'), sum(state = 'delivered') "
	               "FROM outbox GROUP BY target",
	               "")) == STORE_OK) {
		while (sqlite3_step(s) == SQLITE_ROW)
			json_object_set_new(targets, col_text(s, 0),
			                    json_pack("{s:I, s:I, s:I}", "pending",
			                              (json_int_t)sqlite3_column_int64(s, 1), "held",
			                              (json_int_t)sqlite3_column_int64(s, 2), "delivered",
			                              (json_int_t)sqlite3_column_int64(s, 3)));
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	*out =
	    json_pack("{s:{s:I, s:I, s:I}, s:o, s:I, s:I, s:I, s:I, s:I}", "outbox", "pending", pending,
	              "held", held, "delivered", delivered, "targets", targets, "reports", reports,
	              "sessions_total", sessions, "devices", devices, "cases_open", open, "waiting", waiting);
	return rc;
}

int
store_sessions_list(struct store *st, int limit, json_t **out)
{
	return select_rows(
	    st, out,
	    "SELECT s.id, s.device, d.product_type, d.model_name, d.serial, " RFC3339(
	        "s.started_at") " AS started_at, " RFC3339("s.ended_at") " AS ended_at, s.state, s.reason, "
	                                                                 "s.report_id, r.case_id, "
	                                                                 "r.revision, r.ticket, r.outcome, "
	                                                                 "r.faults AS faults_json FROM "
	                                                                 "sessions "
	                                                                 "s JOIN devices d ON d.id = "
	                                                                 "s.device LEFT JOIN reports r ON "
	                                                                 "r.report_id = s.report_id ORDER BY "
	                                                                 "s.id DESC LIMIT ?1",
	    "i", (int64_t)limit);
}

int
store_outbox_list(struct store *st, int limit, json_t **out)
{
	return select_rows(
	    st, out,
	    "SELECT o.report_id, o.target, r.device, r.case_id, r.revision, r.ticket, o.state, o.attempts, "
	    "CASE WHEN o.state = 'pending' THEN " RFC3339_MS(
	        "o.next_try") " END AS next_try, o.last_status, "
	                      "o.last_answer, o.remote_id, o.phase, " RFC3339_MS(
	                          "o.created_at") " AS created_at, " RFC3339_MS("o.updated_at") " AS "
	                                                                                        "updated_at "
	                                                                                        "FROM outbox "
	                                                                                        "o JOIN "
	                                                                                        "reports r "
	                                                                                        "ON "
	                                                                                        "r.report_id "
	                                                                                        "= "
	                                                                                        "o.report_id "
	                                                                                        "ORDER BY "
	                                                                                        "CASE "
	                                                                                        "o.state "
	                                                                                        "WHEN 'held' "
	                                                                                        "THEN 0 WHEN "
	                                                                                        "'pending' "
	                                                                                        "THEN 1 ELSE "
	                                                                                        "2 END, "
	                                                                                        "o.updated_"
	                                                                                        "at DESC "
	                                                                                        "LIMIT ?1",
	    "i", (int64_t)limit);
}

int
store_waiting_list(struct store *st, int limit, json_t **out)
{
	return select_rows(
	    st, out,
	    "SELECT r.report_id, r.case_id, r.device, r.serial, r.model_name, r.revision, r.ticket, "
	    "r.waiting AS why, r.created_at FROM reports r WHERE " WAITING_WHERE
	    " ORDER BY r.created_at, r.rowid LIMIT ?1",
	    "i", (int64_t)limit);
}
