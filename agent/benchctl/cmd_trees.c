/*
 * benchctl trees: the tree author's commands (engine).
 *
 *   trees list  [--trees-dir DIR]            name, version, probes, file of every tree
 *   trees check [--trees-dir DIR]            load every tree, check declarations, codes,
 *                                            catalogue, models and syslog rules; exit 1 on any
 *                                            problem, each printed as file:line: reason
 *   trees test  [--trees-dir DIR] [--tests-dir DIR]
 *                                            run every case of diag-trees/tests; "N passed, M
 *                                            failed"; exit 1 on any failure
 *   trees run   [--trees-dir DIR] --snapshot FILE [--history FILE] [--tree NAME]...
 *               [--answer K=V]... [--trace]  run the trees over a snapshot (and the battery's
 *                                            history) and print faults, questions, derived
 *                                            readings and the outcome (no report, no signing)
 * --json (global) prints JSON instead of text.
 */
#include "benchctl.h"

#include "engine.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SNAPSHOT (64 * 1024 * 1024)

static void
trees_usage(FILE *f)
{
	fprintf(f, "usage: benchctl trees list  [--trees-dir DIR]\n"
	           "       benchctl trees check [--trees-dir DIR]\n"
	           "       benchctl trees test  [--trees-dir DIR] [--tests-dir DIR]\n"
	           "       benchctl trees run   [--trees-dir DIR] --snapshot FILE [--history FILE]\n"
	           "                            [--tree NAME]... [--answer KEY=VALUE]... [--trace]\n");
}

static void
print_json(const json_t *j)
{
	benchctl_print_json(j); /* one compact line (CONTRACTS 1) */
}

static int
do_list(struct ctl *g, const char *dir)
{
	char why[512] = "";
	json_t *trees, *t;
	size_t i;
	int bad = 0;

	if (engine_list(dir, &trees, why, sizeof(why)) != ENGINE_OK)
		return benchctl_fail(g, BC_EXIT_FAIL, "trees list: %s", why);
	if (g->json) {
		size_t nbad = 0;
		json_array_foreach(trees, i, t) nbad += json_object_get(t, "error") != NULL;
		json_t *o = json_pack("{s:b, s:s, s:O}", "ok", nbad == 0, "trees_dir", dir, "trees", trees);
		if (nbad > 0) {
			char msg[256];
			snprintf(msg, sizeof(msg),
			         "%zu tree file%s in %s cannot be loaded: see benchctl trees check", nbad,
			         nbad == 1 ? "" : "s", dir);
			json_object_set_new(o, "error", json_string(msg));
			bad = 1;
		}
		print_json(o);
		json_decref(o);
	} else {
		printf("%-12s %-8s %-32s %s\n", "NAME", "VERSION", "PROBES", "FILE");
		json_array_foreach(trees, i, t)
		{
			char probes[256] = "";
			size_t j;
			json_t *p;
			if (json_object_get(t, "error")) {
				printf("%-12s %-8s %-32s %s  (%s)\n", "?", "?", "?",
				       json_string_value(json_object_get(t, "file")),
				       json_string_value(json_object_get(t, "error")));
				bad = 1;
				continue;
			}
			json_array_foreach(json_object_get(t, "probes"), j, p)
			{
				if (j)
					strncat(probes, ",", sizeof(probes) - strlen(probes) - 1);
				strncat(probes, json_string_value(p), sizeof(probes) - strlen(probes) - 1);
			}
			printf("%-12s %-8s %-32s %s/%s\n", json_string_value(json_object_get(t, "name")),
			       json_string_value(json_object_get(t, "version")), probes[0] ? probes : "-",
			       dir, json_string_value(json_object_get(t, "file")));
		}
	}
	json_decref(trees);
	return bad ? BC_EXIT_FAIL : BC_EXIT_OK;
}

static int
do_check(struct ctl *g, const char *dir)
{
	json_t *problems, *p;
	size_t i;
	int n = engine_check(dir, NULL, &problems);

	if (g->json) {
		json_t *o =
		    json_pack("{s:b, s:s, s:O}", "ok", n == 0, "trees_dir", dir, "problems", problems);
		if (n != 0) {
			char msg[128];
			snprintf(msg, sizeof(msg), "trees check: %d problem%s", n, n == 1 ? "" : "s");
			json_object_set_new(o, "error", json_string(msg));
		}
		print_json(o);
		json_decref(o);
	} else {
		json_array_foreach(problems, i, p)
		{
			const char *file = json_string_value(json_object_get(p, "file"));
			json_int_t line = json_integer_value(json_object_get(p, "line"));
			const char *why = json_string_value(json_object_get(p, "reason"));
			if (line > 0)
				fprintf(stderr, "%s/%s:%lld: %s\n", dir, file, (long long)line, why);
			else
				fprintf(stderr, "%s/%s: %s\n", dir, file, why);
		}
		if (n == 0)
			printf(
			    "trees check: %s: all trees, the catalogue, the models and the syslog rules are "
			    "good\n",
			    dir);
		else
			fprintf(stderr, "trees check: %d problem%s\n", n, n == 1 ? "" : "s");
	}
	json_decref(problems);
	return n == 0 ? BC_EXIT_OK : BC_EXIT_FAIL;
}

static int
do_test(struct ctl *g, const char *dir, const char *tests_dir)
{
	char why[512] = "";
	json_t *results, *r;
	size_t i, pass = 0, fail = 0;
	int n = engine_test(dir, tests_dir, &results, why, sizeof(why));

	if (n < 0)
		return benchctl_fail(g, BC_EXIT_FAIL, "trees test: %s", why);
	json_array_foreach(results, i, r)
	{
		if (json_is_true(json_object_get(r, "ok")))
			pass++;
		else
			fail++;
	}
	if (g->json) {
		json_t *o = json_pack("{s:b, s:I, s:I, s:O}", "ok", fail == 0, "passed", (json_int_t)pass,
		                      "failed", (json_int_t)fail, "tests", results);
		if (fail != 0) {
			char msg[128];
			snprintf(msg, sizeof(msg), "trees test: %zu of %zu failed", fail, pass + fail);
			json_object_set_new(o, "error", json_string(msg));
		}
		print_json(o);
		json_decref(o);
	} else {
		json_array_foreach(results, i, r)
		{
			size_t j;
			json_t *why_j;
			int ok = json_is_true(json_object_get(r, "ok"));
			printf("%s %s\n", ok ? "pass" : "FAIL",
			       json_string_value(json_object_get(r, "name")));
			json_array_foreach(json_object_get(r, "reasons"), j, why_j)
			    printf("     %s\n", json_string_value(why_j));
		}
		printf("%zu passed, %zu failed\n", pass, fail);
	}
	json_decref(results);
	return fail == 0 ? BC_EXIT_OK : BC_EXIT_FAIL;
}

static void
print_trace(const json_t *trace)
{
	size_t i;
	json_t *t;
	json_array_foreach(trace, i, t)
	{
		char *v = json_dumps(json_object_get(t, "values"), JSON_COMPACT | JSON_REAL_PRECISION(15));
		char *res = json_dumps(json_object_get(t, "result"), JSON_COMPACT | JSON_ENCODE_ANY);
		printf("  %-8s %-28s -> %-24s %s\n", json_string_value(json_object_get(t, "tree")),
		       json_string_value(json_object_get(t, "node")), res ? res : "?", v ? v : "");
		free(v);
		free(res);
	}
}

static int
do_run(struct ctl *g, const char *dir, const char *snap_path, const json_t *history, const char **trees,
       size_t ntrees, struct engine_answer *answers, size_t nanswers, int trace)
{
	struct engine_opts o = {.trees_dir = dir,
	                        .trees = trees,
	                        .ntrees = ntrees,
	                        .answers = answers,
	                        .nanswers = nanswers,
	                        .lang = g->lang,
	                        .history = history};
	struct engine_result *res = NULL;
	json_error_t je;
	char why[512] = "", *data;
	size_t len, i;
	json_t *snap, *f;
	int r;

	if (util_read_file(snap_path, MAX_SNAPSHOT, &data, &len) != 0)
		return benchctl_fail(g, BC_EXIT_FAIL, "trees run: cannot read the snapshot %s: %s", snap_path,
		                     errno == EFBIG ? "bigger than 64 MiB" : strerror(errno));
	snap = json_loadb(data, len, 0, &je);
	free(data);
	if (snap == NULL)
		return benchctl_fail(g, BC_EXIT_FAIL, "trees run: %s line %d: %s", snap_path, je.line,
		                     je.text);
	r = engine_run(snap, &o, &res, why, sizeof(why));
	if (r != ENGINE_OK) {
		json_decref(snap);
		return benchctl_fail(g, BC_EXIT_FAIL, "trees run: %s: %s", snap_path, why);
	}
	if (g->json) {
		char *s = engine_result_dump(res);
		json_t *j = json_loads(s, 0, NULL);
		print_json(j);
		json_decref(j);
		free(s);
	} else {
		if (trace) {
			printf("trace:\n");
			print_trace(res->trace);
		}
		json_array_foreach(res->faults, i, f)
		{
			printf("%-8s %-8s %s\n         part: %s  (tree %s, node %s)\n",
			       json_string_value(json_object_get(f, "code")),
			       json_string_value(json_object_get(f, "severity")),
			       json_string_value(json_object_get(f, "title")),
			       json_string_value(json_object_get(f, "part")),
			       json_string_value(json_object_get(f, "tree")),
			       json_string_value(json_object_get(f, "node")));
		}
		json_array_foreach(res->questions, i, f)
		{
			size_t j;
			json_t *c;
			printf("question %s (%s): %s [", json_string_value(json_object_get(f, "key")),
			       json_string_value(json_object_get(f, "tree")),
			       json_string_value(json_object_get(f, "text")));
			json_array_foreach(json_object_get(f, "choices"), j, c)
			    printf("%s%s", j ? "|" : "", json_string_value(c));
			printf("]  answer with --answer %s=...\n",
			       json_string_value(json_object_get(f, "key")));
		}
		json_array_foreach(res->errors, i, f)
		    printf("error    %s: %s\n", json_string_value(json_object_get(f, "tree")),
		           json_string_value(json_object_get(f, "reason")));
		json_array_foreach(res->incomplete, i, f)
		    printf("incomplete %s: %s\n", json_string_value(json_object_get(f, "tree")),
		           json_string_value(json_object_get(f, "reason")));
		{
			const char *k;
			json_object_foreach(res->readings, k, f)
			{
				char *v = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY |
				                            JSON_REAL_PRECISION(15));
				printf("reading  %s: %s\n", k, v ? v : "?");
				free(v);
			}
		}
		printf("outcome: %s (report not written: use benchctl run for a signed report)\n",
		       res->outcome);
	}
	engine_result_free(res);
	json_decref(snap);
	return BC_EXIT_OK;
}

int
cmd_trees(struct ctl *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"trees-dir", required_argument, NULL, 'd'},
	    {"tests-dir", required_argument, NULL, 't'},
	    {"snapshot", required_argument, NULL, 's'},
	    {"tree", required_argument, NULL, 'T'},
	    {"answer", required_argument, NULL, 'a'},
	    {"trace", no_argument, NULL, 'x'},
	    {"history", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *tests_dir = NULL, *snap = NULL, *sub, *histfile = NULL;
	json_t *history = NULL;
	const char **trees = xcalloc((size_t)argc + 1, sizeof(char *));
	struct engine_answer *answers = xcalloc((size_t)argc + 1, sizeof(*answers));
	size_t ntrees = 0, nanswers = 0;
	int c, r = BC_EXIT_USAGE, trace = 0;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		trees_usage(stdout);
		r = BC_EXIT_OK;
		goto out;
	}
	if (argc < 2) {
		r = benchctl_usage_error(g, "trees", "say list, check, test or run");
		goto out;
	}
	sub = argv[1];
	if (strcmp(sub, "list") && strcmp(sub, "check") && strcmp(sub, "test") && strcmp(sub, "run")) {
		r = benchctl_usage_error(g, "trees", "unknown subcommand '%s' (list, check, test or run)",
		                         sub);
		goto out;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 't':
			tests_dir = optarg;
			break;
		case 's':
			snap = optarg;
			break;
		case 'T':
			trees[ntrees++] = optarg;
			break;
		case 'a': {
			char *eq = strchr(optarg, '=');
			if (eq == NULL || eq == optarg) {
				r = benchctl_usage_error(g, "trees", "--answer takes KEY=VALUE, not '%s'",
				                         optarg);
				goto out;
			}
			*eq = '\0';
			answers[nanswers].key = optarg;
			answers[nanswers].value = eq + 1;
			nanswers++;
			break;
		}
		case 'x':
			trace = 1;
			break;
		case 'H':
			histfile = optarg;
			break;
		case 'h':
			trees_usage(stdout);
			r = BC_EXIT_OK;
			goto out;
		default:
			r = benchctl_bad_option(g, "trees", c, argc - 1, argv + 1);
			goto out;
		}
	}
	if (optind < argc - 1) {
		r = benchctl_usage_error(g, "trees", "unexpected argument '%s'", argv[optind + 1]);
		goto out;
	}
	if ((snap != NULL || ntrees || nanswers || trace || histfile) && strcmp(sub, "run") != 0) {
		r = benchctl_usage_error(g, "trees",
		                         "trees %s takes only --trees-dir%s; --snapshot, --tree, --answer, "
		                         "--history and --trace are for trees run",
		                         sub, strcmp(sub, "test") == 0 ? " and --tests-dir" : "");
		goto out;
	}
	if (tests_dir != NULL && strcmp(sub, "test") != 0) {
		r = benchctl_usage_error(g, "trees", "--tests-dir is for trees test");
		goto out;
	}
	if (dir == NULL)
		dir = engine_default_trees_dir();
	if (strcmp(sub, "list") == 0) {
		r = do_list(g, dir);
	} else if (strcmp(sub, "check") == 0) {
		r = do_check(g, dir);
	} else if (strcmp(sub, "test") == 0) {
		r = do_test(g, dir, tests_dir);
	} else if (strcmp(sub, "run") == 0) {
		if (snap == NULL) {
			r = benchctl_usage_error(g, "trees", "trees run needs --snapshot FILE");
			goto out;
		}
		if (histfile != NULL) {
			char why[600];
			r = benchctl_load_history(histfile, &history, why, sizeof(why));
			if (r != BC_EXIT_OK) {
				r = benchctl_fail(g, r, "trees run: %s", why);
				goto out;
			}
		}
		r = do_run(g, dir, snap, history, trees, ntrees, answers, nanswers, trace);
	}
out:
	json_decref(history);
	free(trees);
	free(answers);
	return r;
}
