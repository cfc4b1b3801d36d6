/*
 * Engine tests (cmocka): the sandbox stops endless loops and endless allocation, refuses what a
 * tree may not touch, turns tree errors into recorded errors, gives the same bytes twice, and
 * refuses what is not a snapshot. The bad trees live in tests/engine/trees/<group>/; the
 * catalogue and the model table come from diag-trees/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#define TREES      ENGINE_TEST_TREES
#define DIAG_TREES BENCHD_SOURCE_DIR "/diag-trees"

static json_t *
snapshot_fixture(void)
{
	json_t *s = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:{s:i, s:i, s:i, s:f, s:[]}}", "schema",
	                      "benchd.snapshot/1", "captured_at", "2026-11-22T10:00:00Z", "device",
	                      "product_type", "iPhone12,1", "model_name", "iPhone 11", "mode", "normal",
	                      "lockdown", "ok", "battery", "health_pct", 71, "cycle_count", 120,
	                      "design_capacity_mah", 3110, "temperature_c", 30.5, "flags");
	assert_non_null(s);
	return s;
}

static struct engine_result *
run(const char *group, const char *const *trees, size_t ntrees, const json_t *snap, struct engine_opts *extra)
{
	char dir[512], why[512] = "";
	struct engine_opts o = {0};
	struct engine_result *r = NULL;
	if (extra)
		o = *extra;
	snprintf(dir, sizeof(dir), "%s/%s", TREES, group);
	o.trees_dir = dir;
	o.data_dir = DIAG_TREES;
	o.trees = trees;
	o.ntrees = ntrees;
	assert_int_equal(engine_run(snap, &o, &r, why, sizeof(why)), ENGINE_OK);
	assert_non_null(r);
	return r;
}

static const char *
error_of(const struct engine_result *r, const char *tree)
{
	size_t i;
	json_t *e;
	json_array_foreach(r->errors, i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "tree")), tree) == 0)
			return json_string_value(json_object_get(e, "reason"));
	}
	return NULL;
}

static void
assert_contains(const char *hay, const char *needle)
{
	if (hay == NULL || strstr(hay, needle) == NULL)
		fail_msg("expected \"%s\" to contain \"%s\"", hay ? hay : "(null)", needle);
}

static void
test_endless_loop_is_stopped(void **state)
{
	const char *t[] = {"loop"};
	json_t *snap = snapshot_fixture();
	long long t0 = util_now_ms();
	struct engine_result *r;
	(void)state;

	r = run("limits", t, 1, snap, NULL);
	assert_true(util_now_ms() - t0 < 20000);
	assert_string_equal(r->outcome, "incomplete");
	assert_int_equal(json_array_size(r->errors), 1);
	assert_contains(error_of(r, "loop"), "loop.lua:4:");
	assert_contains(error_of(r, "loop"), "more than 20000000 instructions");
	/* The node before the loop is still in the trace, then the error. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(r->trace, 0), "node")), "start");
	assert_string_equal(json_string_value(json_object_get(json_array_get(r->trace, 1), "node")), "error");
	engine_result_free(r);

	/* A smaller limit from the options is honoured. */
	{
		struct engine_opts o = {.instr_limit = 100000};
		r = run("limits", t, 1, snap, &o);
		assert_contains(error_of(r, "loop"), "more than 100000 instructions");
		engine_result_free(r);
	}
	json_decref(snap);
}

static void
test_endless_allocation_is_stopped(void **state)
{
	const char *t[] = {"alloc", "bigrep"};
	json_t *snap = snapshot_fixture();
	struct engine_result *r;
	(void)state;

	r = run("limits", t, 2, snap, NULL);
	assert_string_equal(r->outcome, "incomplete");
	assert_contains(error_of(r, "alloc"), "more than 16 MiB of memory");
	assert_contains(error_of(r, "bigrep"), "more than 16 MiB of memory");
	engine_result_free(r);
	{
		struct engine_opts o = {.mem_limit = 2 * 1024 * 1024};
		r = run("limits", t, 1, snap, &o);
		assert_contains(error_of(r, "alloc"), "more than 2 MiB of memory");
		engine_result_free(r);
	}
	json_decref(snap);
}

static void
test_gc_metamethod_is_refused(void **state)
{
	const char *t[] = {"gcloop"};
	json_t *snap = snapshot_fixture();
	struct engine_result *r;
	(void)state;
	r = run("limits", t, 1, snap, NULL);
	assert_contains(error_of(r, "gcloop"), "__gc is not allowed");
	engine_result_free(r);
	json_decref(snap);
}

static void
test_deep_recursion_is_stopped(void **state)
{
	const char *t[] = {"recurse", "cstack", "sortbomb"};
	json_t *snap = snapshot_fixture();
	struct engine_result *r;
	(void)state;
	r = run("limits", t, 3, snap, NULL);
	assert_int_equal(json_array_size(r->errors), 3);
	assert_non_null(error_of(r, "recurse")); /* stack overflow or the memory cap, either stops it */
	assert_contains(error_of(r, "cstack"), "stack overflow");
	assert_contains(error_of(r, "sortbomb"), "instructions");
	assert_string_equal(r->outcome, "incomplete");
	engine_result_free(r);
	json_decref(snap);
}

static void
test_forbidden_names_are_refused(void **state)
{
	static const struct {
		const char *tree, *why;
	} want[] = {
	    {"io", "'io' is not defined"},
	    {"os", "'os' is not defined"},
	    {"require", "'require' is not defined"},
	    {"debug", "'debug' is not defined"},
	    {"dofile", "'dofile' is not defined"},
	    {"loadfile", "'loadfile' is not defined"},
	    {"load", "'load' is not defined"},
	    {"pcall", "'pcall' is not defined"},
	    {"rawset", "'rawset' is not defined"},
	    {"print", "print is not available in a tree"},
	    {"random", "attempt to call a nil value (field 'random')"},
	    {"collect", "'undefined_name' is not defined"},
	    {"setglobal", "may not set the global 'health'"},
	    {"overwrite", "may not set the global 'fault'"},
	    {"snapshot_write", "read-only"},
	};
	json_t *snap = snapshot_fixture();
	struct engine_result *r;
	(void)state;

	r = run("forbidden", NULL, 0, snap, NULL);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char line[64];
		assert_contains(error_of(r, want[i].tree), want[i].why);
		snprintf(line, sizeof(line), "%s.lua:2:", want[i].tree);
		assert_contains(error_of(r, want[i].tree), line);
	}
	assert_int_equal(json_array_size(r->errors), sizeof(want) / sizeof(want[0]));
	/* The good tree beside them ran and raised its fault. */
	assert_null(error_of(r, "good"));
	assert_int_equal(json_array_size(r->faults), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(r->faults, 0), "code")),
	                    "BAT-001");
	assert_string_equal(json_string_value(json_object_get(json_array_get(r->faults, 0), "tree")), "good");
	assert_string_equal(r->outcome, "incomplete");
	/* Every tree is listed, with the version it declared and the hash of its file. */
	assert_int_equal(json_array_size(r->trees), 16);
	assert_int_equal(strlen(json_string_value(json_object_get(json_array_get(r->trees, 0), "sha256"))),
	                 64);
	engine_result_free(r);
	json_decref(snap);
}

static void
test_tree_errors_are_recorded(void **state)
{
	json_t *snap = snapshot_fixture();
	struct engine_result *r;
	(void)state;

	r = run("errors", NULL, 0, snap, NULL);
	assert_contains(error_of(r, "err"), "err.lua:2: boom: the tree gave up");
	assert_contains(error_of(r, "errtable"), "not a message");
	assert_contains(error_of(r, "nodecl"), "never calls tree{");
	assert_contains(error_of(r, "othername"), "must match the file name 'badname'");
	assert_contains(error_of(r, "syntax"), "syntax.lua:2:");
	assert_contains(error_of(r, "badcode"), "fault code 'XYZ-999' is not in catalogue.json");
	assert_contains(error_of(r, "beforedecl"), "beforedecl.lua:1: call tree{");
	assert_int_equal(json_array_size(r->faults), 0);
	assert_string_equal(r->outcome, "incomplete");
	engine_result_free(r);
	json_decref(snap);
}

static void
test_same_inputs_same_bytes(void **state)
{
	json_t *snap = snapshot_fixture(), *tc, *d;
	struct engine_result *a, *b;
	struct engine_opts o = {.trees_dir = DIAG_TREES};
	char why[256], *da, *db;
	json_error_t je;
	(void)state;

	a = run("determinism", NULL, 0, snap, NULL);
	b = run("determinism", NULL, 0, snap, NULL);
	da = engine_result_dump(a);
	db = engine_result_dump(b);
	assert_string_equal(da, db);
	/* Sorted iteration, no addresses, stable numbers. */
	assert_contains(da, "\"first\":\"k109\",\"last\":\"k987\",\"n\":200");
	assert_contains(da, "\"keys\":[\"lockdown\",\"mode\",\"model_name\",\"product_type\"]");
	assert_contains(da, "\"f\":\"function\",\"s\":\"table 1.5\",\"t\":\"table\"");
	assert_contains(da, "\"whole\":3");
	assert_contains(da, "\"ratio\":0.666666666666667");
	assert_null(strstr(da, "0x"));
	free(da);
	free(db);
	engine_result_free(a);
	engine_result_free(b);
	json_decref(snap);

	/* The real trees over the richest test case, twice. */
	tc = json_load_file(DIAG_TREES "/tests/everything-at-once-13.json", 0, &je);
	assert_non_null(tc);
	d = json_object_get(tc, "snapshot");
	assert_int_equal(engine_run(d, &o, &a, why, sizeof(why)), ENGINE_OK);
	assert_int_equal(engine_run(d, &o, &b, why, sizeof(why)), ENGINE_OK);
	da = engine_result_dump(a);
	db = engine_result_dump(b);
	assert_string_equal(da, db);
	assert_string_equal(a->outcome, "fail");
	assert_true(json_array_size(a->faults) >= 8);
	free(da);
	free(db);
	engine_result_free(a);
	engine_result_free(b);
	json_decref(tc);
}

static void
test_not_a_snapshot_is_refused(void **state)
{
	struct engine_opts o = {.trees_dir = DIAG_TREES};
	struct engine_result *r = (struct engine_result *)&o; /* must be reset to NULL */
	char why[256] = "";
	json_t *bad[] = {json_pack("{s:s}", "schema", "benchd.snapshot/2"), json_pack("{s:{}}", "device"),
	                 json_pack("[]"), json_string("benchd.snapshot/1")};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = (struct engine_result *)&o;
		assert_int_equal(engine_run(bad[i], &o, &r, why, sizeof(why)), ENGINE_E_SNAPSHOT);
		assert_null(r);
		assert_true(strlen(why) > 0);
		json_decref(bad[i]);
	}
	assert_contains(engine_strerror(ENGINE_E_SNAPSHOT), "benchd.snapshot/1");
}

static void
test_unknown_tree_and_missing_catalogue(void **state)
{
	json_t *snap = snapshot_fixture();
	const char *nope[] = {"nosuchtree"}, *evil[] = {"../limits/loop"};
	struct engine_opts o = {.trees_dir = DIAG_TREES, .trees = nope, .ntrees = 1};
	struct engine_result *r = NULL;
	char why[512] = "", tmp[] = "/tmp/engine-test-XXXXXX";
	(void)state;

	assert_int_equal(engine_run(snap, &o, &r, why, sizeof(why)), ENGINE_E_TREES);
	assert_contains(why, "no tree named 'nosuchtree'");
	o.trees = evil;
	assert_int_equal(engine_run(snap, &o, &r, why, sizeof(why)), ENGINE_E_TREES);
	assert_contains(why, "not a tree name");
	assert_null(r);
	assert_non_null(mkdtemp(tmp));
	o.trees = NULL;
	o.ntrees = 0;
	/* An empty trees directory is refused, never a pass. */
	o.trees_dir = tmp;
	o.data_dir = DIAG_TREES;
	assert_int_equal(engine_run(snap, &o, &r, why, sizeof(why)), ENGINE_E_TREES);
	assert_contains(why, "no diagnostic trees");
	assert_null(r);
	o.trees_dir = DIAG_TREES;
	o.data_dir = tmp;
	assert_int_equal(engine_run(snap, &o, &r, why, sizeof(why)), ENGINE_E_CATALOGUE);
	assert_contains(why, "catalogue.json");
	rmdir(tmp);
	json_decref(snap);
}

static void
test_probes_and_list(void **state)
{
	const char *one[] = {"battery"};
	struct engine_opts o = {.trees_dir = DIAG_TREES};
	json_t *p = NULL, *l = NULL;
	char why[256], *s;
	(void)state;

	assert_int_equal(engine_probes(&o, &p, why, sizeof(why)), ENGINE_OK);
	s = json_dumps(p, JSON_COMPACT);
	assert_string_equal(s, "[\"battery\",\"crashes\",\"info\",\"syslog\",\"usb\"]");
	free(s);
	json_decref(p);
	o.trees = one;
	o.ntrees = 1;
	assert_int_equal(engine_probes(&o, &p, why, sizeof(why)), ENGINE_OK);
	s = json_dumps(p, JSON_COMPACT);
	assert_string_equal(s, "[\"battery\",\"info\"]");
	free(s);
	json_decref(p);
	assert_int_equal(engine_list(DIAG_TREES, &l, why, sizeof(why)), ENGINE_OK);
	assert_int_equal(json_array_size(l), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "name")), "battery");
	assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "version")), "1.1");
	json_decref(l);
}

/* history reaches every tree read-only; reading() gives derived readings under its rules. */
static void
test_history_and_readings(void **state)
{
	json_t *snap = snapshot_fixture(), *hist, *seen;
	struct engine_opts o = {0};
	struct engine_result *r;
	char why[256] = "", dir[512];
	(void)state;

	hist =
	    json_pack("[{s:s, s:i, s:i}, {s:s, s:i, s:i}]", "at", "2026-05-01T00:00:00Z", "cycle_count", 10,
	              "health_pct", 99, "at", "2026-08-01T00:00:00Z", "cycle_count", 90, "health_pct", 97);
	o.history = hist;
	r = run("readings", NULL, 0, snap, &o);
	seen = json_object_get(r->readings, "history_seen");
	assert_int_equal(json_integer_value(json_object_get(seen, "rows")), 2);
	assert_string_equal(json_string_value(json_object_get(seen, "last_at")), "2026-08-01T00:00:00Z");
	assert_contains(error_of(r, "reserved"), "'battery' is one of the snapshot's readings");
	assert_contains(error_of(r, "twice"), "'history_seen' was already given by the give tree");
	assert_contains(error_of(r, "writehist"), "the history and the model table are read-only");
	assert_true(json_is_true(json_object_get(r->readings, "before_write")));
	assert_contains(error_of(r, "badname"), "name must be 1-64 of a-z");
	assert_contains(error_of(r, "nilvalue"), "the value is nil");
	assert_null(json_object_get(r->readings, "battery"));
	assert_string_equal(r->outcome, "incomplete");
	engine_result_free(r);

	/* No history: an empty array. */
	r = run("readings", NULL, 0, snap, NULL);
	seen = json_object_get(r->readings, "history_seen");
	assert_int_equal(json_integer_value(json_object_get(seen, "rows")), 0);
	assert_string_equal(json_string_value(json_object_get(seen, "last_at")), "none");
	engine_result_free(r);

	/* A history that is not an array of objects is refused, with a reason. */
	snprintf(dir, sizeof(dir), "%s/readings", TREES);
	json_decref(hist);
	hist = json_pack("[{}, i]", 3);
	o.trees_dir = dir;
	o.data_dir = DIAG_TREES;
	o.history = hist;
	r = NULL;
	assert_int_equal(engine_run(snap, &o, &r, why, sizeof(why)), ENGINE_E_HISTORY);
	assert_null(r);
	assert_contains(why, "history reading 2 is not an object");
	json_decref(hist);
	hist = json_object();
	o.history = hist;
	assert_int_equal(engine_run(snap, &o, &r, why, sizeof(why)), ENGINE_E_HISTORY);
	assert_contains(why, "not a JSON array");
	json_decref(hist);

	/* trees check finds the same mistakes without a phone. */
	{
		json_t *problems = NULL, *p;
		size_t i;
		int reserved = 0, twice = 0;
		assert_true(engine_check(dir, DIAG_TREES, &problems) > 0);
		json_array_foreach(problems, i, p)
		{
			const char *f = json_string_value(json_object_get(p, "file"));
			const char *why2 = json_string_value(json_object_get(p, "reason"));
			if (strcmp(f, "reserved.lua") == 0 &&
			    json_integer_value(json_object_get(p, "line")) == 2 &&
			    strstr(why2, "\"battery\" is one of the snapshot's readings"))
				reserved = 1;
			if (strcmp(f, "twice.lua") == 0 && strstr(why2, "also given by give.lua"))
				twice = 1;
		}
		assert_true(reserved);
		assert_true(twice);
		json_decref(problems);
	}
	json_decref(snap);
}

static void
test_language_of_titles_and_questions(void **state)
{
	json_error_t je;
	json_t *tc = json_load_file(DIAG_TREES "/tests/panics-tg0b-11pro-unanswered.json", 0, &je);
	struct engine_opts o = {.trees_dir = DIAG_TREES, .lang = "it"};
	struct engine_result *r = NULL;
	char why[256];
	(void)state;

	assert_non_null(tc);
	assert_int_equal(engine_run(json_object_get(tc, "snapshot"), &o, &r, why, sizeof(why)), ENGINE_OK);
	assert_string_equal(r->outcome, "incomplete");
	assert_int_equal(json_array_size(r->questions), 1);
	assert_contains(json_string_value(json_object_get(json_array_get(r->questions, 0), "text")),
	                "I riavvii continuano?");
	assert_contains(json_string_value(json_object_get(json_array_get(r->faults, 0), "title")), "Riavvii");
	/* every language is kept, so a report renders the question in any of them later */
	{
		json_t *texts = json_object_get(json_array_get(r->questions, 0), "texts");
		assert_contains(json_string_value(json_object_get(texts, "fr")), "?");
		assert_non_null(json_string_value(json_object_get(texts, "zh")));
		assert_contains(json_string_value(json_object_get(texts, "it")), "I riavvii continuano?");
	}
	engine_result_free(r);
	json_decref(tc);
}

/* A locked phone: the reason is kept with its key and in every language (DESIGN 4.8). */
static void
test_incomplete_reason_in_every_language(void **state)
{
	json_t *snap = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:[]}", "schema", "benchd.snapshot/1",
	                         "captured_at", "2026-11-22T10:00:00Z", "device", "product_type",
	                         "iPhone14,5", "mode", "normal", "lockdown", "locked", "errors");
	const char *const trees[] = {"system"};
	struct engine_opts o = {.trees_dir = DIAG_TREES, .trees = trees, .ntrees = 1};
	struct engine_result *r = NULL;
	char why[256];
	json_t *e;
	(void)state;

	assert_int_equal(engine_run(snap, &o, &r, why, sizeof(why)), ENGINE_OK);
	assert_string_equal(r->outcome, "incomplete");
	assert_int_equal(json_array_size(r->incomplete), 1);
	e = json_array_get(r->incomplete, 0);
	assert_string_equal(json_string_value(json_object_get(e, "key")), "locked");
	assert_contains(json_string_value(json_object_get(e, "reason")), "locked with a passcode");
	assert_contains(json_string_value(json_object_get(json_object_get(e, "texts"), "it")), "bloccato");
	assert_contains(json_string_value(json_object_get(json_object_get(e, "texts"), "zh")), "密码");
	engine_result_free(r);
	json_decref(snap);
}

static char *
repeat(const char *head, const char *unit, size_t total)
{
	size_t hl = strlen(head), ul = strlen(unit), n = hl;
	char *s = xmalloc(total + 1);
	memcpy(s, head, hl);
	while (n + ul <= total) {
		memcpy(s + n, unit, ul);
		n += ul;
	}
	s[n] = '\0';
	return s;
}

static void
test_hostile_panic_strings_stay_fast(void **state)
{
	/* 64 KiB panic strings built to make naive pattern searches quadratic (each search runs
	 * inside one Lua step, where the instruction limit cannot see it). Before the trees read
	 * panics line by line, this snapshot took 29 s in a Release build. */
	static const char *const heads[] = {
	    "", "", "smc panic ", "aop panic ", "missing sensor(s): ", "panic("};
	static const char *const units[] = {"i2c1", "sensor array ", "sensor array ", "x", "mic1 ", "a"};
	json_t *snap = snapshot_fixture(), *crashes = json_array();
	struct engine_opts o = {.trees_dir = DIAG_TREES};
	struct engine_result *r = NULL;
	char why[256];
	long long t0;
	(void)state;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		char *p = repeat(heads[i], units[i], 64 * 1024 - 1), name[32];
		snprintf(name, sizeof(name), "hostile-%zu.ips", i);
		json_array_append_new(crashes,
		                      json_pack("{s:s, s:s, s:s, s:s}", "name", name, "bug_type", "210",
		                                "timestamp", "2026-11-21T10:00:00Z", "panic_string", p));
		free(p);
	}
	json_object_set_new(snap, "crashes", crashes);
	t0 = util_now_ms();
	assert_int_equal(engine_run(snap, &o, &r, why, sizeof(why)), ENGINE_OK);
	assert_true(util_now_ms() - t0 < 5000);
	assert_int_equal(json_array_size(r->errors), 0);
	assert_string_equal(r->outcome, "fail"); /* six panics in the window: PAN-001, and more */
	engine_result_free(r);
	json_decref(snap);
}

struct par {
	const json_t *snap;
	char *dump;
	int rc;
};

static void *
par_run(void *arg)
{
	struct par *p = arg;
	struct engine_opts o = {.trees_dir = DIAG_TREES};
	char why[256];
	for (int i = 0; i < 3; i++) {
		struct engine_result *r = NULL;
		p->rc = engine_run(p->snap, &o, &r, why, sizeof(why));
		if (p->rc != ENGINE_OK)
			return NULL;
		free(p->dump);
		p->dump = engine_result_dump(r);
		engine_result_free(r);
	}
	return NULL;
}

static void
test_parallel_sessions_agree(void **state)
{
	/* benchd runs the engine from one thread per device: no shared state may leak between them. */
	json_error_t je;
	json_t *snap = json_load_file(DIAG_TREES "/tests/recorded/smc-14.json", 0, &je);
	struct par p[4] = {{0}};
	pthread_t th[4];
	(void)state;

	assert_non_null(snap);
	for (int i = 0; i < 4; i++) {
		p[i].snap = snap;
		assert_int_equal(pthread_create(&th[i], NULL, par_run, &p[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(p[i].rc, ENGINE_OK);
		assert_string_equal(p[i].dump, p[0].dump);
	}
	assert_contains(p[0].dump, "\"code\":\"PAN-020\"");
	for (int i = 0; i < 4; i++)
		free(p[i].dump);
	json_decref(snap);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_endless_loop_is_stopped),
	    cmocka_unit_test(test_endless_allocation_is_stopped),
	    cmocka_unit_test(test_gc_metamethod_is_refused),
	    cmocka_unit_test(test_deep_recursion_is_stopped),
	    cmocka_unit_test(test_forbidden_names_are_refused),
	    cmocka_unit_test(test_tree_errors_are_recorded),
	    cmocka_unit_test(test_same_inputs_same_bytes),
	    cmocka_unit_test(test_not_a_snapshot_is_refused),
	    cmocka_unit_test(test_unknown_tree_and_missing_catalogue),
	    cmocka_unit_test(test_probes_and_list),
	    cmocka_unit_test(test_history_and_readings),
	    cmocka_unit_test(test_language_of_titles_and_questions),
	    cmocka_unit_test(test_incomplete_reason_in_every_language),
	    cmocka_unit_test(test_parallel_sessions_agree),
	    cmocka_unit_test(test_hostile_panic_strings_stay_fast),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
