/* store: see store.h. */
#include "store.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

struct store {
	sqlite3 *db;
	pthread_mutex_t mu;
	char path[4096];
	int version;
};

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
	*out = st;
	return STORE_OK;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
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

/* Run one statement to completion (no rows wanted). Called with the mutex held. */
static int
run(struct store *st, const char *sql, char *why, size_t whylen, const char *types, ...)
{
	sqlite3_stmt *s;
	va_list ap;
	int rc, i = 1;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return fail(st, rc, "prepare", why, whylen);
	va_start(ap, types);
	for (const char *t = types; *t; t++, i++) {
		switch (*t) {
		case 's':
			bind_text(s, i, va_arg(ap, const char *));
			break;
		case 'i':
			sqlite3_bind_int64(s, i, va_arg(ap, int64_t));
			break;
		case 'b': {
			const char *p = va_arg(ap, const char *);
			size_t n = va_arg(ap, size_t);
			sqlite3_bind_blob64(s, i, p, n, SQLITE_TRANSIENT);
			break;
		}
		}
	}
	va_end(ap);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return fail(st, rc, sql, why, whylen);
	return STORE_OK;
}

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

int
store_report_add(struct store *st, const struct store_report *r, char *why, size_t whylen)
{
	int64_t now = store_now_ms();
	int rc, known;

	known = store_report_known(st, r->report_id);
	if (known < 0)
		return fail(st, SQLITE_ERROR, "looking up the report", why, whylen);
	if (known) {
		snprintf(why, whylen, "report %s is already stored", r->report_id);
		return STORE_E_EXISTS;
	}
	pthread_mutex_lock(&st->mu);
	if ((rc = exec_locked(st, "BEGIN IMMEDIATE", why, whylen)) != STORE_OK)
		goto out;
	if (r->device) {
		rc = run(st,
		         "INSERT INTO devices(id, first_seen, last_seen) VALUES (?1, ?2, ?2) ON CONFLICT(id) "
		         "DO NOTHING",
		         why, whylen, "si", r->device, now / 1000);
		if (rc != STORE_OK)
			goto rollback;
	}
	rc = run(st,
	         "INSERT INTO reports(report_id, device, outcome, path, created_at, stored_at) "
	         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	         why, whylen, "sssssi", r->report_id, r->device, r->outcome, r->path, r->created_at,
	         now / 1000);
	if (rc != STORE_OK)
		goto rollback;
	if (r->body) {
		rc = run(st,
		         "INSERT INTO outbox(report_id, body, next_try, state, created_at, updated_at) "
		         "VALUES (?1, ?2, ?3, 'pending', ?3, ?3)",
		         why, whylen, "sbi", r->report_id, r->body, r->bodylen, now);
		if (rc != STORE_OK)
			goto rollback;
	}
	if ((rc = exec_locked(st, "COMMIT", why, whylen)) != STORE_OK)
		goto rollback;
	pthread_mutex_unlock(&st->mu);
	return STORE_OK;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&st->mu);
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
store_reports_without_outbox(struct store *st, json_t **list)
{
	sqlite3_stmt *s;
	int rc;

	*list = json_array();
	pthread_mutex_lock(&st->mu);
	rc = sqlite3_prepare_v2(
	    st->db,
	    "SELECT r.report_id, r.path FROM reports r LEFT JOIN outbox o ON o.report_id = r.report_id "
	    "WHERE o.report_id IS NULL ORDER BY r.stored_at",
	    -1, &s, NULL);
	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(s)) == SQLITE_ROW)
			json_array_append_new(*list,
			                      json_pack("{s:s, s:s}", "report_id",
			                                (const char *)sqlite3_column_text(s, 0), "path",
			                                (const char *)sqlite3_column_text(s, 1)));
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	return rc == SQLITE_DONE ? STORE_OK : map_rc(rc);
}

int
store_outbox_add(struct store *st, const char *report_id, const char *body, size_t bodylen, char *why,
                 size_t whylen)
{
	int64_t now = store_now_ms();
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = run(st,
	         "INSERT INTO outbox(report_id, body, next_try, state, created_at, updated_at) "
	         "VALUES (?1, ?2, ?3, 'pending', ?3, ?3)",
	         why, whylen, "sbi", report_id, body, bodylen, now);
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
store_outbox_next(struct store *st, int64_t now_ms, struct store_outbox_item *item, int64_t *next_due_ms)
{
	sqlite3_stmt *s;
	int rc, r = STORE_E_NOT_FOUND;

	memset(item, 0, sizeof(*item));
	*next_due_ms = -1;
	pthread_mutex_lock(&st->mu);
	rc = sqlite3_prepare_v2(
	    st->db,
	    "SELECT report_id, body, attempts, next_try FROM outbox WHERE state = 'pending' "
	    "ORDER BY next_try, created_at LIMIT 1",
	    -1, &s, NULL);
	if (rc != SQLITE_OK) {
		r = map_rc(rc);
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		int64_t due = sqlite3_column_int64(s, 3);
		if (due <= now_ms) {
			const void *b = sqlite3_column_blob(s, 1);
			size_t n = (size_t)sqlite3_column_bytes(s, 1);
			util_strlcpy(item->report_id, (const char *)sqlite3_column_text(s, 0),
			             sizeof(item->report_id));
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
store_outbox_attempt(struct store *st, const char *report_id)
{
	char why[256];
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = run(st, "UPDATE outbox SET attempts = attempts + 1, updated_at = ?2 WHERE report_id = ?1", why,
	         sizeof(why), "si", report_id, store_now_ms());
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int
store_outbox_result(struct store *st, const char *report_id, const char *state, int status,
                    const char *answer, int64_t next_try_ms)
{
	char why[256];
	char *ans = NULL;
	int rc;

	if (answer) {
		/* Keep a bounded prefix, cut on a UTF-8 boundary. */
		size_t n = strnlen(answer, STORE_ANSWER_MAX);
		while (n > 0 && n < strlen(answer) && ((unsigned char)answer[n] & 0xc0) == 0x80)
			n--;
		ans = strndup(answer, n);
		if (ans == NULL)
			fatal("strndup");
	}
	pthread_mutex_lock(&st->mu);
	rc = run(st,
	         "UPDATE outbox SET state = ?2, last_status = ?3, last_answer = ?4, next_try = ?5, "
	         "updated_at = ?6 "
	         "WHERE report_id = ?1",
	         why, sizeof(why), "ssisii", report_id, state, (int64_t)status, ans, next_try_ms,
	         store_now_ms());
	pthread_mutex_unlock(&st->mu);
	if (rc != STORE_OK)
		log_warnx("outbox: cannot record the answer for %s: %s", report_id, why);
	free(ans);
	return rc;
}

int
store_outbox_retry(struct store *st, const char *report_id)
{
	sqlite3_stmt *s;
	int rc, r;
	char why[256];

	pthread_mutex_lock(&st->mu);
	rc = sqlite3_prepare_v2(st->db, "SELECT state FROM outbox WHERE report_id = ?1", -1, &s, NULL);
	if (rc != SQLITE_OK) {
		r = map_rc(rc);
		goto out;
	}
	bind_text(s, 1, report_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		r = STORE_E_NOT_FOUND;
	} else if (rc != SQLITE_ROW) {
		r = map_rc(rc);
	} else if (strcmp((const char *)sqlite3_column_text(s, 0), "delivered") == 0) {
		r = STORE_E_STATE;
	} else {
		r = STORE_OK;
	}
	sqlite3_finalize(s);
	if (r == STORE_OK)
		r = run(st,
		        "UPDATE outbox SET state = 'pending', next_try = ?2, updated_at = ?2 WHERE report_id "
		        "= ?1",
		        why, sizeof(why), "si", report_id, store_now_ms());
out:
	pthread_mutex_unlock(&st->mu);
	return r;
}

int
store_outbox_retry_held(struct store *st)
{
	char why[256];
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = run(st,
	         "UPDATE outbox SET state = 'pending', next_try = ?1, updated_at = ?1 WHERE state = 'held'",
	         why, sizeof(why), "i", store_now_ms());
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

int
store_counts(struct store *st, json_t **out)
{
	json_int_t pending = 0, held = 0, delivered = 0, reports = 0, sessions = 0, devices = 0;
	int rc;

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
	pthread_mutex_unlock(&st->mu);
	*out = json_pack("{s:{s:I, s:I, s:I}, s:I, s:I, s:I}", "outbox", "pending", pending, "held", held,
	                 "delivered", delivered, "reports", reports, "sessions_total", sessions, "devices",
	                 devices);
	return rc;
}

static json_t *
col_json(sqlite3_stmt *s, int i)
{
	switch (sqlite3_column_type(s, i)) {
	case SQLITE_NULL:
		return json_null();
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(s, i));
	default: {
		json_t *v =
		    json_stringn((const char *)sqlite3_column_text(s, i), (size_t)sqlite3_column_bytes(s, i));
		/* An answer that is not UTF-8 is still shown, hex-free but lossy. */
		return v ? v : json_string("(not UTF-8)");
	}
	}
}

static int
list(struct store *st, const char *sql, int limit, json_t **out)
{
	sqlite3_stmt *s;
	int rc;

	*out = json_array();
	pthread_mutex_lock(&st->mu);
	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int(s, 1, limit);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			json_t *row = json_object();
			for (int i = 0; i < sqlite3_column_count(s); i++)
				json_object_set_new(row, sqlite3_column_name(s, i), col_json(s, i));
			json_array_append_new(*out, row);
		}
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	return rc == SQLITE_DONE ? STORE_OK : map_rc(rc);
}

int
store_sessions_list(struct store *st, int limit, json_t **out)
{
	return list(
	    st,
	    "SELECT s.id, s.device, d.product_type, s.started_at, s.ended_at, s.state, s.reason, s.report_id "
	    "FROM sessions s JOIN devices d ON d.id = s.device ORDER BY s.id DESC LIMIT ?1",
	    limit, out);
}

int
store_outbox_list(struct store *st, int limit, json_t **out)
{
	return list(
	    st,
	    "SELECT o.report_id, r.device, o.state, o.attempts, o.next_try, o.last_status, o.last_answer, "
	    "o.created_at, o.updated_at FROM outbox o JOIN reports r ON r.report_id = o.report_id "
	    "ORDER BY CASE o.state WHEN 'held' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END, o.updated_at DESC "
	    "LIMIT ?1",
	    limit, out);
}
