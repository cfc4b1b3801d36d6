/*
 * treetest: `benchctl trees test` (engine_test). Each *.json file of the tests directory is one
 * case:
 *   {
 *     "description": "700 cycles on an iPhone 11 is past the 500-cycle rating",
 *     "snapshot": { "schema": "benchd.snapshot/1", ... }   (or "snapshot_file": "x.json",
 *                                                           relative to the case file)
 *     "history": [{"at": ..., "battery_serial": ..., "cycle_count": ..., "health_pct": ...}],
 *                                            optional (or "history_file", relative to the case
 *                                            file): the battery's earlier readings (DESIGN 4.9)
 *     "trees": ["battery"],                  optional: only these trees
 *     "answers": {"key": "value"},           optional: technician answers
 *     "lang": "en",                          optional
 *     "expect": {
 *       "outcome": "fail",
 *       "faults": [{"code": "BAT-002", "part": "battery", "evidence": {"rating": 500}}],
 *       "questions": ["key"],                optional; default: none may be left
 *       "errors": ["substring"],             optional; default: no tree may err
 *       "incomplete": ["substring"],         optional; default: not checked
 *       "readings": {"battery_forecast": {"status": "too early"}}
 *                                            optional: each named derived reading must match
 *                                            (objects by the keys given, recursively; arrays and
 *                                            values exactly; null: the reading must be absent)
 *     }
 *   }
 * The faults must be exactly those listed (as a multiset of codes; part and evidence keys are
 * compared where given, part_note too). Every case also runs twice and must give the same bytes.
 *
 * Subfolders of the tests directory are read too (one level: tests/real/x.json is the case
 * "real/x"). A JSON file there that is a snapshot ("schema" and no "expect") is data for another
 * case's snapshot_file and is skipped; anything else must be a case. Cases under real/ are logs
 * quoted from a public source and must say which: "source": {"url", "model", "concluded"}.
 */
#include "engine_int.h"

#include "util.h"

#include <dirent.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CASE  (16 * 1024 * 1024)
#define MAX_CASES 1000

static void reason(json_t *reasons, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
reason(json_t *reasons, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(reasons, json_string(buf));
}

static char *
compact(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	return s ? s : xstrdup("?");
}

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Does actual fault f satisfy expected e (code, and part / evidence keys where given)? */
static int
fault_matches(const json_t *e, const json_t *f)
{
	const char *k;
	json_t *v;
	if (!json_equal(json_object_get(e, "code"), json_object_get(f, "code")))
		return 0;
	if (json_object_get(e, "part") && !json_equal(json_object_get(e, "part"), json_object_get(f, "part")))
		return 0;
	if (json_object_get(e, "part_note") &&
	    !json_equal(json_object_get(e, "part_note"), json_object_get(f, "part_note")))
		return 0;
	json_object_foreach(json_object_get(e, "evidence"), k, v)
	{
		if (!json_equal(v, json_object_get(json_object_get(f, "evidence"), k)))
			return 0;
	}
	return 1;
}

static void
compare_faults(const json_t *want, const json_t *got, json_t *reasons)
{
	size_t nw = json_array_size(want), ng = json_array_size(got);
	char *used = xcalloc(ng + 1, 1);
	size_t i;
	json_t *e;

	json_array_foreach(want, i, e)
	{
		size_t j;
		for (j = 0; j < ng; j++)
			if (!used[j] && fault_matches(e, json_array_get(got, j)))
				break;
		if (j == ng) {
			char *s = compact(e);
			reason(reasons, "expected fault %s was not raised", s);
			free(s);
		} else {
			used[j] = 1;
		}
	}
	for (size_t j = 0; j < ng; j++) {
		if (!used[j]) {
			const json_t *f = json_array_get(got, j);
			reason(reasons, "unexpected fault %s (part \"%s\", tree %s, node %s)",
			       json_string_value(json_object_get(f, "code")),
			       json_string_value(json_object_get(f, "part")),
			       json_string_value(json_object_get(f, "tree")),
			       json_string_value(json_object_get(f, "node")));
		}
	}
	(void)nw;
	free(used);
}

/* Does got match want? Objects: every key of want matches (null: absent); else equal. */
static int
reading_matches(const json_t *want, const json_t *got)
{
	const char *k;
	json_t *v;
	if (json_is_null(want))
		return got == NULL || json_is_null(got);
	if (!json_is_object(want))
		return got != NULL && json_equal(want, got);
	if (!json_is_object(got))
		return 0;
	json_object_foreach((json_t *)want, k, v)
	{
		if (!reading_matches(v, json_object_get(got, k)))
			return 0;
	}
	return 1;
}

static void
compare_readings(const json_t *want, const json_t *got, json_t *reasons)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)want, k, v)
	{
		const json_t *g = json_object_get(got, k);
		if (!reading_matches(v, g)) {
			char *ws = compact(v), *gs = g ? compact(g) : xstrdup("absent");
			reason(reasons, "reading %s is %s, expected %s", k, gs, ws);
			free(ws);
			free(gs);
		}
	}
}

static json_t *
load_history(const json_t *tc, const char *tests_dir, json_t *reasons)
{
	json_t *h = json_object_get(tc, "history");
	const char *hf = json_string_value(json_object_get(tc, "history_file"));
	json_error_t je;

	if (h != NULL)
		return json_incref(h);
	if (hf != NULL) {
		char *hp = xasprintf("%s/%s", tests_dir, hf);
		h = json_load_file(hp, JSON_REJECT_DUPLICATES, &je);
		if (h == NULL)
			reason(reasons, "%s line %d: %s", hp, je.line, je.text);
		free(hp);
	}
	return h;
}

static void
compare_substrings(const char *what, const json_t *want, const json_t *got, json_t *reasons)
{
	size_t i;
	json_t *w;
	if (json_array_size(want) != json_array_size(got)) {
		char *s = compact(got);
		reason(reasons, "expected %zu %s, got %zu: %s", json_array_size(want), what,
		       json_array_size(got), s);
		free(s);
		return;
	}
	json_array_foreach(want, i, w)
	{
		const char *r = json_string_value(json_object_get(json_array_get(got, i), "reason"));
		if (!json_is_string(w) || r == NULL || strstr(r, json_string_value(w)) == NULL)
			reason(reasons, "%s %zu: expected it to mention \"%s\", got \"%s\"", what, i + 1,
			       json_string_value(w) ? json_string_value(w) : "?", r ? r : "?");
	}
}

/* A case under real/ quotes a public log: its source must be named (SOURCES.md lists them). */
static void
check_source(const char *file, const json_t *tc, json_t *reasons)
{
	static const char *const keys[] = {"url", "model", "concluded"};
	const json_t *src = json_object_get(tc, "source");

	if (strncmp(file, "real/", 5) != 0)
		return;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const json_t *v = json_object_get(src, keys[i]);
		if (!json_is_string(v) || json_string_length(v) == 0)
			reason(reasons,
			       "%s: a real-log case needs \"source\": {\"%s\": ...} (url, model, concluded)",
			       file, keys[i]);
	}
}

static json_t *
run_case(const char *trees_dir, const char *tests_dir, const char *file)
{
	char *path = xasprintf("%s/%s", tests_dir, file), *data = NULL, why[1024] = "";
	json_t *out, *reasons = json_array(), *tc = NULL, *snap = NULL, *expect, *history = NULL;
	struct engine_answer *answers = NULL;
	const char **trees = NULL;
	struct engine_result *res = NULL, *res2 = NULL;
	size_t len, nans = 0, ntrees = 0;
	json_error_t je;
	char name[256];

	snprintf(name, sizeof(name), "%.*s", (int)(strlen(file) - 5), file);
	out = json_pack("{s:s, s:s}", "name", name, "file", file);
	if (util_read_file(path, MAX_CASE, &data, &len) != 0) {
		reason(reasons, "%s: %s", path, strerror(errno));
		goto done;
	}
	tc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(tc)) {
		reason(reasons, "%s line %d: %s", file, je.line, tc ? "not a JSON object" : je.text);
		goto done;
	}
	if (json_is_string(json_object_get(tc, "description")))
		json_object_set(out, "description", json_object_get(tc, "description"));
	check_source(file, tc, reasons);
	snap = json_incref(json_object_get(tc, "snapshot"));
	if (snap == NULL && json_is_string(json_object_get(tc, "snapshot_file"))) {
		char *sp =
		    xasprintf("%s/%s", tests_dir, json_string_value(json_object_get(tc, "snapshot_file")));
		snap = json_load_file(sp, 0, &je);
		if (snap == NULL)
			reason(reasons, "%s line %d: %s", sp, je.line, je.text);
		free(sp);
		if (snap == NULL)
			goto done;
	}
	if (snap == NULL) {
		reason(reasons, "%s: no \"snapshot\" or \"snapshot_file\"", file);
		goto done;
	}
	history = load_history(tc, tests_dir, reasons);
	if (history == NULL && json_array_size(reasons) > 0)
		goto done;
	expect = json_object_get(tc, "expect");
	if (!json_is_object(expect) || !json_is_string(json_object_get(expect, "outcome"))) {
		reason(reasons, "%s: \"expect\" needs at least an \"outcome\"", file);
		goto done;
	}
	{
		const char *k;
		json_t *v;
		size_t i;
		answers = xcalloc(json_object_size(json_object_get(tc, "answers")) + 1, sizeof(*answers));
		json_object_foreach(json_object_get(tc, "answers"), k, v)
		{
			answers[nans].key = k;
			answers[nans].value = json_string_value(v) ? json_string_value(v) : "";
			nans++;
		}
		trees = xcalloc(json_array_size(json_object_get(tc, "trees")) + 1, sizeof(char *));
		json_array_foreach(json_object_get(tc, "trees"), i, v) trees[ntrees++] =
		    json_string_value(v) ? json_string_value(v) : "";
	}
	{
		struct engine_opts o = {.trees_dir = trees_dir,
		                        .trees = trees,
		                        .ntrees = ntrees,
		                        .answers = answers,
		                        .nanswers = nans,
		                        .lang = json_string_value(json_object_get(tc, "lang")),
		                        .history = history};
		char *d1, *d2;
		int r = engine_run(snap, &o, &res, why, sizeof(why));
		if (r != ENGINE_OK) {
			/* A case may expect the run to be refused (e.g. not a snapshot). */
			const char *want = json_string_value(json_object_get(expect, "outcome"));
			if (strcmp(want, "refused") != 0)
				reason(reasons, "engine_run refused the case: %s", why);
			goto done;
		}
		if (engine_run(snap, &o, &res2, why, sizeof(why)) == ENGINE_OK) {
			d1 = engine_result_dump(res);
			d2 = engine_result_dump(res2);
			if (strcmp(d1, d2) != 0)
				reason(reasons,
				       "two runs gave different bytes (a tree is not deterministic)");
			free(d1);
			free(d2);
		}
	}
	json_object_set_new(out, "outcome", json_string(res->outcome));
	if (strcmp(res->outcome, json_string_value(json_object_get(expect, "outcome"))) != 0)
		reason(reasons, "outcome %s, expected %s", res->outcome,
		       json_string_value(json_object_get(expect, "outcome")));
	compare_faults(json_object_get(expect, "faults"), res->faults, reasons);
	{
		json_t *wq = json_object_get(expect, "questions");
		size_t i;
		json_t *q;
		char *gotq = NULL;
		json_t *keys = json_array(), *none = json_array();
		json_array_foreach(res->questions, i, q) json_array_append(keys, json_object_get(q, "key"));
		if (!json_equal(keys, wq ? wq : none)) {
			json_t *empty = json_array();
			char *ws = compact(wq ? wq : empty);
			gotq = compact(keys);
			reason(reasons, "questions left %s, expected %s", gotq, ws);
			free(ws);
			free(gotq);
			json_decref(empty);
		}
		json_decref(keys);
		json_decref(none);
	}
	{
		json_t *empty = json_array();
		json_t *we = json_object_get(expect, "errors");
		compare_substrings("tree errors", we ? we : empty, res->errors, reasons);
		if (json_object_get(expect, "incomplete"))
			compare_substrings("incomplete reasons", json_object_get(expect, "incomplete"),
			                   res->incomplete, reasons);
		json_decref(empty);
	}
	if (json_is_object(json_object_get(expect, "readings")))
		compare_readings(json_object_get(expect, "readings"), res->readings, reasons);
done:
	json_object_set_new(out, "ok", json_boolean(json_array_size(reasons) == 0));
	json_object_set_new(out, "reasons", reasons);
	engine_result_free(res);
	engine_result_free(res2);
	free(answers);
	free(trees);
	json_decref(snap);
	json_decref(history);
	json_decref(tc);
	free(data);
	free(path);
	return out;
}

/* Is this file of a subfolder a snapshot kept for snapshot_file rather than a case? */
static int
is_snapshot_data(const char *path)
{
	char *data = NULL;
	size_t len;
	json_t *j;
	int r = 0;

	if (util_read_file(path, MAX_CASE, &data, &len) != 0)
		return 0;
	j = json_loadb(data, len, 0, NULL);
	r = json_is_object(j) && json_object_get(j, "schema") != NULL && json_object_get(j, "expect") == NULL;
	json_decref(j);
	free(data);
	return r;
}

/* Add the cases of tdir/sub (one level, no deeper) as "sub/name.json". */
static size_t
add_subdir(const char *tdir, const char *sub, char **files, size_t n)
{
	char *path = xasprintf("%s/%s", tdir, sub);
	struct dirent *de;
	DIR *d = opendir(path);

	if (d != NULL) {
		while ((de = readdir(d)) != NULL && n < MAX_CASES) {
			size_t l = strlen(de->d_name);
			char *fp;
			if (de->d_name[0] == '.' || l <= 5 || strcmp(de->d_name + l - 5, ".json") != 0)
				continue;
			fp = xasprintf("%s/%s", path, de->d_name);
			if (!is_snapshot_data(fp))
				files[n++] = xasprintf("%s/%s", sub, de->d_name);
			free(fp);
		}
		closedir(d);
	}
	free(path);
	return n;
}

int
engine_test(const char *trees_dir, const char *tests_dir, json_t **results, char *why, size_t whylen)
{
	const char *dir = trees_dir ? trees_dir : engine_default_trees_dir();
	char *tdir = tests_dir ? xstrdup(tests_dir) : xasprintf("%s/tests", dir);
	char **files = xcalloc(MAX_CASES + 1, sizeof(char *));
	size_t n = 0;
	int failed = 0;
	struct dirent *de;
	DIR *d;
	json_t *out;

	*results = NULL;
	d = opendir(tdir);
	if (d == NULL) {
		snprintf(why, whylen, "%s: %s", tdir, strerror(errno));
		free(tdir);
		free(files);
		return ENGINE_E_TREES;
	}
	while ((de = readdir(d)) != NULL && n < MAX_CASES) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.')
			continue;
		if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0) {
			files[n++] = xstrdup(de->d_name);
		} else {
			char *sub = xasprintf("%s/%s", tdir, de->d_name);
			struct stat st;
			if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
				n = add_subdir(tdir, de->d_name, files, n);
			free(sub);
		}
	}
	closedir(d);
	qsort(files, n, sizeof(char *), cmp_strp);
	if (n == 0) {
		snprintf(why, whylen, "%s: no test cases (*.json)", tdir);
		engine_free_list(files, n);
		free(tdir);
		return ENGINE_E_TREES;
	}
	out = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *r = run_case(dir, tdir, files[i]);
		if (!json_is_true(json_object_get(r, "ok")))
			failed++;
		json_array_append_new(out, r);
	}
	engine_free_list(files, n);
	free(tdir);
	*results = out;
	return failed;
}
