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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
