/* Unit tests of the store: migrations, WAL, constraints, the outbox life cycle, many threads. */
#include "store.h"

#include "util.h"

#include <pthread.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64];
static char path[128];

static int
setup(void **state)
{
	(void)state;
	util_strlcpy(dir, "/tmp/benchd-store-XXXXXX", sizeof(dir));
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/benchd.db", dir);
	return 0;
}

static int
teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	(void)state;
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return 0;
}

static void
sql(const char *p, const char *stmt)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, stmt, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static long long
sql_int(const char *p, const char *stmt)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	long long v;
	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, stmt, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static const char *
sql_text(const char *p, const char *stmt, char *out, size_t outlen)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, stmt, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	util_strlcpy(out, (const char *)sqlite3_column_text(s, 0), outlen);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return out;
}

static void
add_report(struct store *st, const char *id, const char *body)
{
	struct store_report r;
	char why[512];

	store_report_init(&r);
	r.report_id = id;
	r.device = "UDID-1";
	r.outcome = "fail";
	r.path = "/x.jws.json";
	r.created_at = "2026-11-22T10:00:00Z";
	r.body = body;
	r.bodylen = body ? strlen(body) : 0;
	r.final = 1;
	assert_int_equal(store_report_add(st, &r, why, sizeof(why)), STORE_OK);
}

/* The outbox's answer for the upload target (the fields a delivery records). */
static int
result(struct store *st, const char *id, const char *state, int status, const char *answer, int64_t next)
{
	struct store_outbox_answer a = {
	    .state = state, .status = status, .answer = answer, .next_try_ms = next};
	return store_outbox_result(st, id, "upload", &a, NULL);
}

static void
test_fresh_wal_fk(void **state)
{
	struct store *st;
	char why[512], mode[16];

	(void)state;
	assert_int_equal(store_open(path, &st, why, sizeof(why)), STORE_OK);
	assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);
	store_close(st);
	assert_string_equal(sql_text(path, "PRAGMA journal_mode", mode, sizeof(mode)), "wal");
	assert_int_equal(sql_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'outbox_due'"), 1);
}

/* A database at schema 1 (as the first release wrote it) keeps its rows through the upgrade. */
static void
test_migrate_from_v1(void **state)
{
	struct store *st;
	char why[512];

	(void)state;
	sql(path,
	    "CREATE TABLE devices (id TEXT PRIMARY KEY NOT NULL, mode TEXT, product_type TEXT,"
	    " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL);"
	    "CREATE TABLE reports (report_id TEXT PRIMARY KEY NOT NULL CHECK (length(report_id) BETWEEN 1 "
	    "AND 63),"
	    " device TEXT REFERENCES devices(id), outcome TEXT NOT NULL CHECK (outcome IN "
	    "('pass','fail','incomplete')), path TEXT NOT NULL, created_at TEXT NOT NULL, stored_at INTEGER "
	    "NOT NULL);"
	    "CREATE TABLE sessions (id INTEGER PRIMARY KEY, device TEXT NOT NULL REFERENCES devices(id),"
	    " started_at INTEGER NOT NULL, ended_at INTEGER, state TEXT NOT NULL CHECK (state IN "
	    "('running','done','failed','unplugged','cancelled')), reason TEXT,"
	    " report_id TEXT REFERENCES reports(report_id));"
	    "CREATE TABLE outbox (report_id TEXT PRIMARY KEY NOT NULL REFERENCES reports(report_id),"
	    " body BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),"
	    " next_try INTEGER NOT NULL, last_status INTEGER, last_answer TEXT, state TEXT NOT NULL CHECK"
	    " (state IN ('pending','delivered','held')), created_at INTEGER NOT NULL, updated_at INTEGER NOT "
	    "NULL);"
	    "INSERT INTO devices VALUES ('U1', 'normal', 'iPhone12,1', 1, 1);"
	    "INSERT INTO reports VALUES ('R1', 'U1', 'pass', '/r1', '2026-01-01T00:00:00Z', 1);"
	    "INSERT INTO outbox VALUES ('R1', 'body', 2, 0, 503, 'busy', 'pending', 1, 1);"
	    "PRAGMA user_version = 1;");
	assert_int_equal(store_open(path, &st, why, sizeof(why)), STORE_OK);
	assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);
	assert_int_equal(store_report_known(st, "R1"), 1);
	{
		struct store_outbox_item it;
		int64_t next;
		assert_int_equal(store_outbox_next(st, "upload", store_now_ms(), &it, &next), STORE_OK);
		assert_string_equal(it.report_id, "R1");
		assert_string_equal(it.body, "body");
		assert_int_equal(it.attempts, 2);
		store_outbox_item_clear(&it);
	}
	store_close(st);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'sessions_started'"),
	                 1);
	/* Schema 3: the old row is the upload target's; the old report was final (it was queued). */
	{
		char t[32];
		assert_string_equal(sql_text(path, "SELECT target FROM outbox", t, sizeof(t)), "upload");
		assert_int_equal(sql_int(path, "SELECT final FROM reports WHERE report_id = 'R1'"), 1);
		assert_string_equal(
		    sql_text(path, "SELECT udid FROM reports WHERE report_id = 'R1'", t, sizeof(t)), "U1");
		assert_int_equal(sql_int(path, "SELECT count(*) FROM cases"), 0);
	}
}

static void
test_newer_refused(void **state)
{
	struct store *st = (void *)1;
	char why[512];

	(void)state;
	sql(path, "CREATE TABLE x(y); PRAGMA user_version = 99;");
	assert_int_equal(store_open(path, &st, why, sizeof(why)), STORE_E_NEWER);
	assert_null(st);
	assert_non_null(strstr(why, "schema version 99 is newer than this benchd knows (3)"));
	/* Untouched. */
	assert_int_equal(sql_int(path, "PRAGMA user_version"), 99);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'outbox'"), 0);
}

static void
test_not_a_database(void **state)
{
	struct store *st;
	char why[512];
	FILE *f = fopen(path, "w");

	(void)state;
	fputs("this is not an SQLite database, just some text that is long enough to matter...\n", f);
	fclose(f);
	assert_int_equal(store_open(path, &st, why, sizeof(why)), STORE_E_CORRUPT);
	assert_non_null(strstr(why, "move it aside"));
}

static void
test_constraints(void **state)
{
	struct store *st;
	char why[512];
	struct store_report bad = {.report_id = "R2", .outcome = "maybe", .path = "/p", .created_at = "t"};

	(void)state;
	assert_int_equal(store_open(path, &st, why, sizeof(why)), STORE_OK);
	add_report(st, "R1", "{}");
	/* The same report twice: refused, the first kept. */
	{
		struct store_report r = {.report_id = "R1",
		                         .outcome = "pass",
		                         .path = "/other",
		                         .created_at = "t",
		                         .body = "x",
		                         .bodylen = 1};
		assert_int_equal(store_report_add(st, &r, why, sizeof(why)), STORE_E_EXISTS);
	}
	/* An outcome outside pass|fail|incomplete. */
	assert_int_not_equal(store_report_add(st, &bad, why, sizeof(why)), STORE_OK);
	assert_int_equal(store_report_known(st, "R2"), 0);
	/* Foreign keys: no outbox row for a report that is not stored. */
	assert_int_not_equal(store_outbox_add(st, "NOPE", "upload", "b", 1, why, sizeof(why)), STORE_OK);
	/* No second outbox row for a report. */
	assert_int_not_equal(store_outbox_add(st, "R1", "upload", "b", 1, why, sizeof(why)), STORE_OK);
	/* A session needs a known device... which session_begin callers record first. */
	{
		int64_t id;
		assert_int_not_equal(store_session_begin(st, "UNKNOWN", &id, why, sizeof(why)), STORE_OK);
		assert_int_equal(store_device_seen(st, "UNKNOWN", "dfu", NULL, why, sizeof(why)), STORE_OK);
		assert_int_equal(store_session_begin(st, "UNKNOWN", &id, why, sizeof(why)), STORE_OK);
		assert_int_equal(store_session_abandon_running(st, "crashed"), 1);
	}
	store_close(st);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM outbox"), 1);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sessions WHERE state = 'failed'"), 1);
}

static void
test_outbox_cycle(void **state)
{
	struct store *st;
	struct store_outbox_item it;
	char why[512];
	int64_t next, now = store_now_ms();
	json_t *list, *row;

	(void)state;
	assert_int_equal(store_open(path, &st, why, sizeof(why)), STORE_OK);
	add_report(st, "A", "{\"a\":1}");
	add_report(st, "B", "{\"b\":2}");
	add_report(st, "LOCAL", NULL); /* no upload configured when it was made */
	assert_int_equal(store_outbox_next(st, "upload", now + 1000, &it, &next), STORE_OK);
	assert_string_equal(it.report_id, "A");
	assert_int_equal(store_outbox_attempt(st, "A", "upload"), STORE_OK);
	assert_int_equal(result(st, "A", "pending", 503, "busy", now + 60000), STORE_OK);
	store_outbox_item_clear(&it);
	/* A is not due; B is. */
	assert_int_equal(store_outbox_next(st, "upload", now + 1000, &it, &next), STORE_OK);
	assert_string_equal(it.report_id, "B");
	assert_int_equal(result(st, "B", "held", 400, "bad ticket", now), STORE_OK);
	store_outbox_item_clear(&it);
	assert_int_equal(store_outbox_next(st, "upload", now + 1000, &it, &next), STORE_E_NOT_FOUND);
	assert_true(next == now + 60000);
	/* Retry: held -> pending and due now; delivered cannot be retried. */
	assert_int_equal(store_outbox_retry(st, "B", NULL), STORE_OK);
	assert_int_equal(store_outbox_next(st, "upload", store_now_ms(), &it, &next), STORE_OK);
	assert_string_equal(it.report_id, "B");
	assert_string_equal(it.body, "{\"b\":2}");
	store_outbox_item_clear(&it);
	assert_int_equal(result(st, "B", "delivered", 201, "{}", now), STORE_OK);
	assert_int_equal(store_outbox_retry(st, "B", NULL), STORE_E_STATE);
	assert_int_equal(store_outbox_retry(st, "ZZZ", NULL), STORE_E_NOT_FOUND);
	/* The answer is bounded. */
	{
		char *big = xmalloc(10000);
		memset(big, 'x', 9999);
		big[9999] = '\0';
		assert_int_equal(result(st, "A", "held", 400, big, now), STORE_OK);
		free(big);
	}
	assert_int_equal(store_outbox_list(st, 10, &list), STORE_OK);
	assert_int_equal(json_array_size(list), 2);
	row = json_array_get(list, 0); /* held first */
	assert_string_equal(json_string_value(json_object_get(row, "state")), "held");
	assert_int_equal(strlen(json_string_value(json_object_get(row, "last_answer"))), STORE_ANSWER_MAX);
	assert_int_equal(json_integer_value(json_object_get(row, "attempts")), 1);
	json_decref(list);
	assert_int_equal(store_reports_without_outbox(st, "upload", &list), STORE_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "report_id")),
	                    "LOCAL");
	json_decref(list);
	store_close(st);
}

static void *
blocked_writer(void *arg)
{
	struct store *st = arg;
	char why[512];
	/* Waits (busy timeout) on the other process's write lock while it holds the store's mutex. */
	(void)store_device_seen(st, "D-BLOCKED", "normal", "iPhone12,1", why, sizeof(why));
	return NULL;
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Lists read on their own connection: with a writer stuck behind another process's write lock
 * (as 64 sessions' fsyncs queue on a loaded disk), status and outbox still answer at once.
 */
static void
test_lists_do_not_wait_for_writes(void **state)
{
	struct store *st;
	char why[512];
	sqlite3 *other;
	pthread_t t;
	json_t *j;
	double t0, took;

	(void)state;
	assert_int_equal(store_open(path, &st, why, sizeof(why)), STORE_OK);
	struct store_report r = {.report_id = "R-LIST",
	                         .device = "D",
	                         .outcome = "pass",
	                         .path = "/p",
	                         .created_at = "t",
	                         .body = "{}",
	                         .bodylen = 2};
	assert_int_equal(store_report_add(st, &r, why, sizeof(why)), STORE_OK);
	assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(pthread_create(&t, NULL, blocked_writer, st), 0);
	usleep(300 * 1000); /* the writer is inside its busy wait now */
	t0 = now_s();
	assert_int_equal(store_counts(st, &j), STORE_OK);
	assert_int_equal(json_integer_value(json_object_get(j, "reports")), 1);
	json_decref(j);
	assert_int_equal(store_outbox_list(st, 10, &j), STORE_OK);
	json_decref(j);
	assert_int_equal(store_sessions_list(st, 10, &j), STORE_OK);
	json_decref(j);
	took = now_s() - t0;
	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	pthread_join(t, NULL);
	store_close(st);
	if (took > 1.0)
		fail_msg("the lists waited %.2f s for a blocked write", took);
}

#define NTHREADS   8
#define PER_THREAD 40

static void *
writer(void *arg)
{
	struct store *st = arg;
	char id[64], why[512];
	static int counter;

	for (int i = 0; i < PER_THREAD; i++) {
		int n = __atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST);
		snprintf(id, sizeof(id), "R%05d", n);
		struct store_report r = {.report_id = id,
		                         .device = "D",
		                         .outcome = "pass",
		                         .path = "/p",
		                         .created_at = "t",
		                         .body = "{}",
		                         .bodylen = 2};
		if (store_report_add(st, &r, why, sizeof(why)) != STORE_OK)
			return (void *)1;
		json_t *c;
		if (store_counts(st, &c) != STORE_OK)
			return (void *)1;
		json_decref(c);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct store *st;
	pthread_t t[NTHREADS];
	char why[512];
	json_t *c;

	(void)state;
	assert_int_equal(store_open(path, &st, why, sizeof(why)), STORE_OK);
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, st), 0);
	for (int i = 0; i < NTHREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		assert_null(r);
	}
	assert_int_equal(store_counts(st, &c), STORE_OK);
	assert_int_equal(json_integer_value(json_object_get(c, "reports")), NTHREADS * PER_THREAD);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "outbox"), "pending")),
	                 NTHREADS * PER_THREAD);
	json_decref(c);
	store_close(st);
}

/* ---- cases (schema 3) --------------------------------------------------------------------- */

static void
case_for(struct store *st, const char *udid, const char *serial, int64_t idle, struct store_case *c,
         int *created)
{
	struct store_case_key k = {
	    .device = udid, .udid = udid, .serial = serial, .ecid = "0x1A35E21A05802E"};
	char why[512];

	assert_int_equal(store_device_seen(st, udid, "normal", NULL, why, sizeof(why)), STORE_OK);
	assert_int_equal(store_case_for_session(st, &k, idle, c, created, why, sizeof(why)), STORE_OK);
}

/* A revision of case_id: final with a body queued for upload and fleet, or waiting. */
static int
add_revision(struct store *st, const char *id, const char *case_id, int rev, const char *supersedes,
             int final, const char *ticket, const char *serial, const char *battery, double health,
             double cycles, const char *created, const char *sha)
{
	static const char *const targets[] = {STORE_TARGET_UPLOAD, STORE_TARGET_FLEET};
	struct store_report r;
	char why[512];

	store_report_init(&r);
	r.report_id = id;
	r.device = "U1";
	r.outcome = final ? "fail" : "incomplete";
	r.path = "/r.jws.json";
	r.created_at = created;
	r.case_id = case_id;
	r.revision = rev;
	r.supersedes = supersedes;
	r.final = final;
	r.waiting = final ? NULL : "question open (tg0b_new_battery)";
	r.ticket = ticket;
	r.faults = "[\"BAT-001\"]";
	r.serial = serial;
	r.udid = "U1";
	r.battery_serial = battery;
	r.health_pct = health;
	r.cycle_count = cycles;
	r.nominal_capacity_mah = health > 0 ? health * 31 : -1;
	r.design_capacity_mah = 3100;
	r.captured_at = created;
	r.snapshot_sha256 = sha;
	r.body = final ? "{\"case\":{}}" : NULL;
	r.bodylen = final ? 11 : 0;
	r.targets = targets;
	r.ntargets = 2;
	return store_report_add(st, &r, why, sizeof(why));
}

static void
test_cases_open_continue_resolve(void **state)
{
	struct store *st;
	struct store_case c1, c2, c3;
	char why[512], id[STORE_ID_MAX];
	int created;

	(void)state;
	assert_int_equal(store_open(path, &st, why, sizeof(why)), STORE_OK);
	case_for(st, "U1", "f17zd1qrn72j", 3600, &c1, &created);
	assert_int_equal(created, 1);
	assert_int_equal(strlen(c1.case_id), 36);
	assert_true(c1.open);
	assert_string_equal(c1.serial, "F17ZD1QRN72J"); /* kept normalised */
	assert_int_equal(c1.latest_revision, 0);
	/* A re-plug continues the open case. */
	case_for(st, "U1", "F17ZD1QRN72J", 3600, &c2, &created);
	assert_int_equal(created, 0);
	assert_string_equal(c2.case_id, c1.case_id);
	/* DEVICE: serial (any case), UDID, ECID with or without 0x, case id, report id. */
	assert_int_equal(add_revision(st, "R1", c1.case_id, 1, NULL, 0, NULL, "F17ZD1QRN72J", "B1", 77, 700,
	                              "2026-12-01T10:00:00Z", "S1"),
	                 STORE_OK);
	{
		const char *names[] = {"F17ZD1QRN72J",   "f17zd1qrn72j", "U1",      "0x1A35E21A05802E",
		                       "1A35E21A05802E", "R1",           c1.case_id};
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			assert_int_equal(store_case_resolve(st, names[i], id, why, sizeof(why)), STORE_OK);
			assert_string_equal(id, c1.case_id);
		}
	}
	assert_int_equal(store_case_resolve(st, "F2LZK0ABN72J", id, why, sizeof(why)), STORE_E_NOT_FOUND);
	assert_string_equal(why, "no open case for F2LZK0ABN72J: plug it in or give a report id");
	/* A report without a case names none. */
	add_report(st, "LOOSE", NULL);
	assert_int_equal(store_case_resolve(st, "LOOSE", id, why, sizeof(why)), STORE_E_STATE);
	assert_non_null(strstr(why, "belongs to no case"));
	/* Idle past the limit (idle_s < 0: always): closed, and the session opens a new case. */
	case_for(st, "U1", "F17ZD1QRN72J", -1, &c3, &created);
	assert_int_equal(created, 1);
	assert_string_not_equal(c3.case_id, c1.case_id);
	store_case_clear(&c1);
	assert_int_equal(store_case_get(st, c2.case_id, &c1), STORE_OK);
	assert_false(c1.open);
	/* Only one open: the serial names the new one; a closed case is still named by its id. */
	assert_int_equal(store_case_resolve(st, "F17ZD1QRN72J", id, why, sizeof(why)), STORE_OK);
	assert_string_equal(id, c3.case_id);
	assert_int_equal(store_case_resolve(st, "R1", id, why, sizeof(why)), STORE_OK);
	assert_string_equal(id, c1.case_id);
	/* Two open cases for one serial (a UDID and an ECID session of the same phone): ambiguous. */
	{
		struct store_case c4;
		struct store_case_key k = {.device = "0xDEAD", .ecid = "0xDEAD", .serial = "F17ZD1QRN72J"};
		sql(path, "UPDATE cases SET serial = NULL WHERE state = 'open'");
		assert_int_equal(store_device_seen(st, "0xDEAD", "recovery", NULL, why, sizeof(why)),
		                 STORE_OK);
		assert_int_equal(store_case_for_session(st, &k, 3600, &c4, &created, why, sizeof(why)),
		                 STORE_OK);
		assert_int_equal(created, 1);
		sql(path, "UPDATE cases SET serial = 'F17ZD1QRN72J'");
		assert_int_equal(store_case_resolve(st, "F17ZD1QRN72J", id, why, sizeof(why)),
		                 STORE_E_EXISTS);
		assert_non_null(strstr(why, "names 2 open cases"));
		assert_non_null(strstr(why, c4.case_id));
		store_case_clear(&c4);
	}
	store_case_clear(&c1);
	store_case_clear(&c2);
	store_case_clear(&c3);
	store_close(st);
}

/* Another phone that only shares an ECID with an open case (cloned test profiles, a misread
 * iBoot string) gets its own case: a UDID or serial known on both sides that differs wins. */
static void
test_case_not_joined_by_a_conflicting_id(void **state)
{
	struct store *st;
	struct store_case a, b, a2;
	char why[512];
	int created;

	(void)state;
	assert_int_equal(store_open(path, &st, why, sizeof(why)), STORE_OK);
	case_for(st, "U-ONE", "F17ZD1QRN72J", 3600, &a, &created);
	assert_int_equal(created, 1);
	case_for(st, "U-TWO", "DNPXK0ZZKXKN", 3600, &b, &created); /* same ECID, other phone */
	assert_int_equal(created, 1);
	assert_string_not_equal(a.case_id, b.case_id);
	case_for(st, "U-ONE", "F17ZD1QRN72J", 3600, &a2, &created); /* the first phone again */
	assert_int_equal(created, 0);
	assert_string_equal(a.case_id, a2.case_id);
	store_case_clear(&a);
	store_case_clear(&b);
	store_case_clear(&a2);
	store_close(st);
}

static void
test_revisions_waiting_delivery(void **state)
{
	struct store *st;
	struct store_case c;
	struct store_outbox_item it;
	char why[512], closed[STORE_ID_MAX];
	json_t *counts, *list;
	int64_t next;
	int created;

	(void)state;
	assert_int_equal(store_open(path, &st, why, sizeof(why)), STORE_OK);
	case_for(st, "U1", "SER1", 3600, &c, &created);
	/* Revision 1 waits: no outbox row, counted and listed as waiting with why. */
	assert_int_equal(add_revision(st, "R1", c.case_id, 1, NULL, 0, NULL, "SER1", NULL, -1, -1,
	                              "2026-12-01T10:00:00Z", "S1"),
	                 STORE_OK);
	assert_int_equal(store_counts(st, &counts), STORE_OK);
	assert_int_equal(json_integer_value(json_object_get(counts, "waiting")), 1);
	assert_int_equal(json_integer_value(json_object_get(counts, "cases_open")), 1);
	json_decref(counts);
	assert_int_equal(store_waiting_list(st, 10, &list), STORE_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "why")),
	                    "question open (tg0b_new_battery)");
	json_decref(list);
	assert_int_equal(store_outbox_next(st, "upload", store_now_ms(), &it, &next), STORE_E_NOT_FOUND);
	/* The same revision number twice is refused, the first kept. */
	assert_int_equal(add_revision(st, "R1b", c.case_id, 1, NULL, 1, NULL, "SER1", NULL, -1, -1,
	                              "2026-12-01T10:00:01Z", "S1"),
	                 STORE_E_EXISTS);
	assert_int_equal(store_report_known(st, "R1b"), 0);
	/* Revision 2, final with a ticket: queued for both targets; the case takes its ticket. */
	assert_int_equal(add_revision(st, "R2", c.case_id, 2, "R1", 1, "T-1", "SER1", NULL, -1, -1,
	                              "2026-12-01T10:00:02Z", "S1"),
	                 STORE_OK);
	store_case_clear(&c);
	assert_int_equal(store_case_resolve(st, "SER1", closed, why, sizeof(why)), STORE_OK);
	assert_int_equal(store_case_get(st, closed, &c), STORE_OK);
	assert_string_equal(c.latest_report_id, "R2");
	assert_int_equal(c.latest_revision, 2);
	assert_string_equal(c.final_report_id, "R2");
	assert_string_equal(c.ticket, "T-1");
	assert_int_equal(store_counts(st, &counts), STORE_OK);
	assert_int_equal(json_integer_value(json_object_get(counts, "waiting")), 0);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(json_object_get(counts, "targets"), "fleet"), "pending")),
	                 1);
	json_decref(counts);
	assert_int_equal(store_outbox_next(st, "fleet", store_now_ms(), &it, &next), STORE_OK);
	assert_string_equal(it.report_id, "R2");
	assert_string_equal(it.case_id, c.case_id);
	assert_int_equal(it.revision, 2);
	assert_string_equal(it.ticket, "T-1");
	store_outbox_item_clear(&it);
	/* Delivered to one target: still open. To both: closed, in the same transaction. */
	{
		struct store_outbox_answer a = {.state = "delivered",
		                                .status = 201,
		                                .answer = "{}",
		                                .next_try_ms = 0,
		                                .remote_id = "C-1"};
		assert_int_equal(store_outbox_result(st, "R2", "upload", &a, closed), STORE_OK);
		assert_string_equal(closed, "");
		assert_int_equal(store_outbox_result(st, "R2", "fleet", &a, closed), STORE_OK);
		assert_string_equal(closed, c.case_id);
	}
	assert_int_equal(store_outbox_list(st, 10, &list), STORE_OK);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "remote_id")), "C-1");
	assert_true(json_is_null(json_object_get(json_array_get(list, 0), "next_try")));
	assert_int_equal(strlen(json_string_value(json_object_get(json_array_get(list, 0), "updated_at"))),
	                 20);
	json_decref(list);
	assert_int_equal(store_outbox_retry(st, "R2", NULL), STORE_E_STATE);
	store_case_clear(&c);
	assert_int_equal(store_case_get(st, closed, &c), STORE_OK);
	assert_false(c.open);
	store_case_clear(&c);
	store_close(st);
	assert_string_equal(sql_text(path, "SELECT closed_why FROM cases", why, sizeof(why)), "delivered");
}

static void
test_finish(void **state)
{
	struct store *st;
	struct store_case c;
	char why[512];
	const char *t[] = {STORE_TARGET_UPLOAD};
	int created;

	(void)state;
	assert_int_equal(store_open(path, &st, why, sizeof(why)), STORE_OK);
	case_for(st, "U1", "SER1", 3600, &c, &created);
	assert_int_equal(add_revision(st, "R1", c.case_id, 1, NULL, 0, NULL, "SER1", NULL, -1, -1,
	                              "2026-12-01T10:00:00Z", "S1"),
	                 STORE_OK);
	assert_int_equal(store_case_finish(st, c.case_id, "NOT-LATEST", "b", 1, t, 1, why, sizeof(why)),
	                 STORE_E_NOT_FOUND);
	assert_int_equal(store_case_finish(st, c.case_id, "R1", "b", 1, t, 1, why, sizeof(why)), STORE_OK);
	assert_int_equal(store_case_finish(st, c.case_id, "R1", "b", 1, t, 1, why, sizeof(why)),
	                 STORE_E_STATE);
	store_case_clear(&c);
	store_close(st);
	assert_int_equal(sql_int(path, "SELECT final FROM reports WHERE report_id = 'R1'"), 1);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM reports WHERE waiting IS NOT NULL"), 0);
	assert_int_equal(sql_int(path, "SELECT finished FROM cases"), 1);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM outbox WHERE report_id = 'R1'"), 1);
}

static void
test_bookings(void **state)
{
	struct store *st;
	struct store_case c;
	struct store_booking b = {
	    .kind = "serial", .value = " f17z d1qr n72j ", .ticket = "T-9", .lang = "it", .note = "cracked"};
	char why[512];
	int64_t id, id2;
	json_t *list;
	int created, skipped;

	(void)state;
	assert_int_equal(store_open(path, &st, why, sizeof(why)), STORE_OK);
	assert_int_equal(store_booking_add(st, &b, &id, why, sizeof(why)), STORE_OK);
	assert_int_equal(store_booking_add(st, &b, &id2, why, sizeof(why)), STORE_E_EXISTS);
	assert_non_null(strstr(why, "serial F17ZD1QRN72J is already booked"));
	assert_non_null(strstr(why, "ticket T-9"));
	/* The device arrives: its new case takes the ticket and the language; the booking is used. */
	case_for(st, "U1", "F17ZD1QRN72J", 3600, &c, &created);
	assert_int_equal(created, 1);
	assert_string_equal(c.ticket, "T-9");
	assert_string_equal(c.lang, "it");
	assert_int_equal(c.booking_id, id);
	assert_int_equal(store_booking_remove(st, id, why, sizeof(why)), STORE_E_STATE);
	assert_int_equal(store_booking_remove(st, 999, why, sizeof(why)), STORE_E_NOT_FOUND);
	/* Used, the value can be booked again (the next visit). */
	assert_int_equal(store_booking_add(st, &b, &id2, why, sizeof(why)), STORE_OK);
	assert_int_equal(store_booking_remove(st, id2, why, sizeof(why)), STORE_OK);
	/* The adapters' polling: a source's unused bookings become the rows; used ones, other
	 * sources' values and tickets already served are left alone. */
	{
		json_t *rows = json_loads(
		    "[{\"kind\":\"imei\",\"value\":\"35 3918 05\",\"ticket\":\"T-1\",\"external_id\":\"8\"},"
		    "{\"kind\":\"serial\",\"value\":\"F17ZD1QRN72J\",\"ticket\":\"T-9\"},"
		    "{\"kind\":\"udid\",\"value\":\"\",\"ticket\":\"T-3\"},"
		    "{\"kind\":\"serial\",\"value\":\"MANUAL1\",\"ticket\":\"T-4\"}]",
		    0, NULL);
		struct store_booking m = {.kind = "serial", .value = "MANUAL1", .ticket = "T-M"};
		sql(path, "UPDATE bookings SET source = 'repairshopr'"); /* the used one came from it */
		assert_int_equal(store_booking_add(st, &m, &id2, why, sizeof(why)), STORE_OK);
		assert_int_equal(store_bookings_sync(st, "repairshopr", rows, &skipped, why, sizeof(why)),
		                 STORE_OK);
		assert_int_equal(skipped, 2); /* the empty value, the manual one's value */
		assert_int_equal(store_bookings_sync(st, "repairshopr", rows, &skipped, why, sizeof(why)),
		                 STORE_OK);
		json_decref(rows);
		rows = json_array();
		assert_int_equal(store_bookings_list(st, &list), STORE_OK);
		assert_int_equal(json_array_size(list), 3); /* imei (unused), manual (unused), the used one */
		assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "used_by")),
		                    c.case_id);
		json_decref(list);
		assert_int_equal(store_bookings_sync(st, "repairshopr", rows, &skipped, why, sizeof(why)),
		                 STORE_OK);
		json_decref(rows);
	}
	assert_int_equal(store_bookings_list(st, &list), STORE_OK);
	assert_int_equal(json_array_size(list), 2); /* the manual one and the used one */
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "value")), "MANUAL1");
	json_decref(list);
	store_case_clear(&c);
	store_close(st);
}

static void
test_history_and_battery(void **state)
{
	struct store *st;
	struct store_case c1, c2;
	char why[512];
	json_t *h, *rows;
	int created;

	(void)state;
	assert_int_equal(store_open(path, &st, why, sizeof(why)), STORE_OK);
	case_for(st, "U1", "SER1", 3600, &c1, &created);
	assert_int_equal(add_revision(st, "A1", c1.case_id, 1, NULL, 0, NULL, "SER1", "BAT-A", 90, 300,
	                              "2026-10-01T10:00:00Z", "SA"),
	                 STORE_OK);
	/* An answer: the same snapshot, counted once in the battery history. */
	assert_int_equal(add_revision(st, "A2", c1.case_id, 2, "A1", 1, "T-1", "SER1", "BAT-A", 90, 300,
	                              "2026-10-01T10:05:00Z", "SA"),
	                 STORE_OK);
	case_for(st, "U1", "SER1", -1, &c2, &created); /* the second visit */
	assert_int_equal(add_revision(st, "B1", c2.case_id, 1, NULL, 1, NULL, "SER1", "BAT-A", 86, 420,
	                              "2026-11-20T10:00:00Z", "SB"),
	                 STORE_OK);
	/* A new battery at the third visit starts a new series. */
	assert_int_equal(add_revision(st, "B2", c2.case_id, 2, "B1", 1, NULL, "SER1", "BAT-NEW", 100, 2,
	                              "2026-11-21T10:00:00Z", "SC"),
	                 STORE_OK);
	assert_int_equal(store_history(st, "ser1", &h, why, sizeof(why)), STORE_OK);
	rows = json_object_get(h, "reports");
	assert_int_equal(json_array_size(rows), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "report_id")), "A1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 3), "report_id")), "B2");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 2), "health_pct")), 86);
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(json_array_get(rows, 0), "faults"), 0)),
	    "BAT-001");
	assert_true(json_is_false(json_object_get(json_array_get(rows, 0), "final")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(h, "device"), "serial")),
	                    "SER1");
	json_decref(h);
	assert_int_equal(store_history(st, "NOBODY", &h, why, sizeof(why)), STORE_E_NOT_FOUND);
	/* Battery history: by battery serial first, one row per snapshot, oldest first. */
	assert_int_equal(store_battery_history(st, "SER1", "U1", "BAT-A", &rows), STORE_OK);
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "at")),
	                    "2026-10-01T10:00:00Z");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 1), "cycle_count")), 420);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 1), "design_capacity_mah")),
	                 3100);
	json_decref(rows);
	assert_int_equal(store_battery_history(st, "SER1", NULL, NULL, &rows), STORE_OK);
	assert_int_equal(json_array_size(rows), 3); /* by the device serial: every battery */
	json_decref(rows);
	assert_int_equal(store_battery_history(st, NULL, "U1", NULL, &rows), STORE_OK);
	assert_int_equal(json_array_size(rows), 3);
	json_decref(rows);
	/* report list: newest first, since a time, for a device. */
	assert_int_equal(store_reports_list(st, "SER1", "2026-11-01T00:00:00Z", 10, &rows), STORE_OK);
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "report_id")), "B2");
	json_decref(rows);
	assert_int_equal(store_reports_list(st, NULL, NULL, 2, &rows), STORE_OK);
	assert_int_equal(json_array_size(rows), 2);
	json_decref(rows);
	/* Idle cases close. */
	assert_int_equal(store_cases_close_idle(st, -1, &rows), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "case_id")),
	                    c2.case_id);
	json_decref(rows);
	store_case_clear(&c1);
	store_case_clear(&c2);
	store_close(st);
}

static void
test_device_update(void **state)
{
	struct store *st;
	struct store_device d = {.id = "U9",
	                         .mode = "normal",
	                         .serial = "S9",
	                         .ecid = "0x9",
	                         .product_type = "iPhone12,1",
	                         .model_name = "iPhone 11"};
	char why[512], t[64];
	json_t *list;
	int64_t sid;

	(void)state;
	assert_int_equal(store_open(path, &st, why, sizeof(why)), STORE_OK);
	assert_int_equal(store_device_update(st, &d, why, sizeof(why)), STORE_OK);
	d.serial = NULL; /* NULL leaves a column alone */
	d.model_name = NULL;
	assert_int_equal(store_device_update(st, &d, why, sizeof(why)), STORE_OK);
	assert_int_equal(store_session_begin(st, "U9", &sid, why, sizeof(why)), STORE_OK);
	assert_int_equal(store_sessions_list(st, 5, &list), STORE_OK);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "product_type")),
	                    "iPhone12,1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "model_name")),
	                    "iPhone 11");
	assert_int_equal(strlen(json_string_value(json_object_get(json_array_get(list, 0), "started_at"))),
	                 20);
	json_decref(list);
	store_close(st);
	assert_string_equal(sql_text(path, "SELECT serial FROM devices", t, sizeof(t)), "S9");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_fresh_wal_fk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_constraints, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_outbox_cycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lists_do_not_wait_for_writes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cases_open_continue_resolve, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_case_not_joined_by_a_conflicting_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revisions_waiting_delivery, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_finish, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bookings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history_and_battery, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_device_update, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
