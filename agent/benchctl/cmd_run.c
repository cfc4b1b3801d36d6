/*
 * benchctl run: one diagnosis, from a device or a recorded snapshot, to a signed report in the
 * state directory (agent/pipeline/pipeline.h). Exit 0 when a signed report was written,
 * whatever it found; otherwise a one-line reason and a benchctl.h exit code.
 */
#include "benchctl.h"

#include "capture.h"
#include "config.h"
#include "engine.h"
#include "idevice.h"
#include "pipeline.h"
#include "report.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TREES_OPT 64
#define MAX_ANSWERS   128

static void
run_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: benchctl run (--udid UDID | --snapshot FILE) [--tree NAME]... [--answer KEY=VALUE]...\n"
	    "                    [--ticket ID] [--out FILE] [--syslog-seconds N] [--trees-dir DIR]\n"
	    "                    [--bench-id ID] [--no-key-init] [--config FILE]\n\n"
	    "Runs the diagnostic trees over a device (--udid) or a recorded snapshot (--snapshot) and\n"
	    "writes the signed report to <state-dir>/reports/<report_id>.jws.json, with the exact\n"
	    "snapshot beside it as <report_id>.snapshot.json: `benchctl run --snapshot` on that file\n"
	    "replays the diagnosis offline and finds the same faults.\n\n"
	    "  --tree NAME          run only this tree (repeatable; default: every tree)\n"
	    "  --answer KEY=VALUE   answer a technician question a tree asks (repeatable); an\n"
	    "                       unanswered question leaves the outcome incomplete and is listed;\n"
	    "                       a key no tree asks of this device, or a value that is not one of\n"
	    "                       the question's choices, is refused (exit 2, nothing written)\n"
	    "  --ticket ID          the repair ticket the report belongs to (case.ticket)\n"
	    "  --out FILE           also write the signed report to FILE\n"
	    "  --syslog-seconds N   with --udid: capture the device log for N seconds (default 5)\n"
	    "  --trees-dir DIR      the diagnostic trees and catalogue (default: the installed ones)\n"
	    "  --bench-id ID        the bench id written in the report (default bench-01)\n"
	    "  --config FILE        take bench id, trees and syslog_seconds from benchd's\n"
	    "                       configuration file (options given here win)\n"
	    "  --no-key-init        fail when there is no bench key; by default the first run\n"
	    "                       creates <state-dir>/bench-key.pem (mode 0600) and says so on stderr\n\n"
	    "Prints a short summary; --json: one line {ok, report_id, outcome, fault_count, faults\n"
	    "[{code, severity, part, part_note, title}], device_state (ok, locked, untrusted,\n"
	    "pairing-pending, unavailable), device_mode, questions, incomplete, errors, report_path,\n"
	    "snapshot_path, kid, key_created}, or {ok: false, error, code} when no report was written.\n"
	    "Exit 0 when a signed report was written,\n"
	    "whatever it found (a locked or untrusted device gives a report whose outcome is\n"
	    "incomplete); 1 with the reason when none could be (unreadable snapshot, no trees, no key,\n"
	    "disk); 2 bad command line or a refused --answer; 3 no such device, or it was unplugged during "
	    "the read.\n");
}

static int
parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/*
 * What the device let us read, from the snapshot (docs/snapshot.md): device.lockdown ("ok",
 * "locked", "untrusted", "pairing-pending", "unavailable" in recovery/DFU) and device.mode; ""
 * when the snapshot does not say.
 */
static void
device_state(const char *bytes, size_t len, char *state, size_t statelen, char *mode, size_t modelen)
{
	json_t *s = json_loadb(bytes, len, 0, NULL);
	const json_t *d = json_object_get(s, "device");
	const char *v;

	v = json_string_value(json_object_get(d, "lockdown"));
	util_strlcpy(state, v ? v : "", statelen);
	v = json_string_value(json_object_get(d, "mode"));
	util_strlcpy(mode, v ? v : "", modelen);
	json_decref(s);
}

static void
print_summary(struct ctl *g, const struct pipeline_result *res, const char *state, const char *mode)
{
	const json_t *faults = json_object_get(res->report, "faults"), *f, *q;
	size_t i;

	if (g->json) {
		json_t *o = json_pack("{s:b, s:s, s:s, s:I, s:s, s:s, s:s, s:b}", "ok", 1, "report_id",
		                      res->report_id, "outcome", res->outcome, "fault_count",
		                      (json_int_t)json_array_size(faults), "report_path", res->report_path,
		                      "snapshot_path", res->snapshot_path, "kid", res->kid, "key_created",
		                      res->key_created);
		json_t *fl = json_array();
		/* What the phone let us read: a locked or untrusted one gives SYS-003 and says so here. */
		json_object_set_new(o, "device_state", state[0] ? json_string(state) : json_null());
		json_object_set_new(o, "device_mode", mode[0] ? json_string(mode) : json_null());
		json_array_foreach(faults, i, f)
		{
			json_t *x = json_object();
			const char *keys[] = {"code", "severity", "part", "part_note", "title"};
			for (size_t j = 0; j < 5; j++) {
				json_t *v = json_object_get(f, keys[j]);
				if (v != NULL)
					json_object_set(x, keys[j], v);
			}
			json_array_append_new(fl, x);
		}
		json_object_set_new(o, "faults", fl);
		json_object_set(o, "questions", res->questions ? res->questions : json_array());
		json_object_set(o, "errors", res->engine_errors ? res->engine_errors : json_array());
		json_object_set(o, "incomplete", json_object_get(res->report, "incomplete"));
		benchctl_print_json(o);
		json_decref(o);
		return;
	}
	printf("report %s: %s, %zu fault%s (signed, key id %s)\n", res->report_id, res->outcome,
	       json_array_size(faults), json_array_size(faults) == 1 ? "" : "s", res->kid);
	json_array_foreach(faults, i, f)
	{
		const char *part = json_string_value(json_object_get(f, "part"));
		const char *note = json_string_value(json_object_get(f, "part_note"));
		printf("  [%s] %s %s%s%s%s%s\n", json_string_value(json_object_get(f, "severity")),
		       json_string_value(json_object_get(f, "code")),
		       json_string_value(json_object_get(f, "title")), part ? " - part: " : "",
		       part ? part : "", !part && note ? " - no part to replace: " : "",
		       !part && note ? note : "");
	}
	if (json_array_size(res->questions) > 0) {
		printf("unanswered questions (the outcome stays incomplete until they are answered):\n");
		json_array_foreach(res->questions, i, q)
		{
			const json_t *ch = json_object_get(q, "choices"), *c;
			size_t j;
			printf("  %s: %s\n    answer with: --answer %s=",
			       json_string_value(json_object_get(q, "key")),
			       json_string_value(json_object_get(q, "text"))
			           ? json_string_value(json_object_get(q, "text"))
			           : "(no text)",
			       json_string_value(json_object_get(q, "key")));
			if (json_array_size(ch) == 0)
				printf("VALUE");
			json_array_foreach(ch, j, c)
			{
				const json_t *v = json_is_object(c) ? json_object_get(c, "value") : c;
				printf("%s%s", j ? "|" : "", json_is_string(v) ? json_string_value(v) : "?");
			}
			printf("\n");
			if (json_is_string(json_object_get(q, "invalid_answer")))
				printf("    (the answer '%s' given is not one of these)\n",
				       json_string_value(json_object_get(q, "invalid_answer")));
		}
	}
	json_array_foreach(json_object_get(res->report, "incomplete"), i, q)
	{
		printf("incomplete: %s: %s\n", json_string_value(json_object_get(q, "tree")),
		       json_string_value(json_object_get(q, "reason")));
	}
	json_array_foreach(res->engine_errors, i, q)
	{
		printf("tree error: %s: %s\n", json_string_value(json_object_get(q, "tree")),
		       json_string_value(json_object_get(q, "reason")));
	}
	printf("report:   %s\nsnapshot: %s\nshow it:  benchctl report show %s --format html\n",
	       res->report_path, res->snapshot_path, res->report_path);
}

/*
 * Read the device (only the probes the chosen trees need) into snapshot bytes. A device that is
 * locked or untrusted still gives a snapshot that says so: the trees then write SYS-003 and the
 * report is written with outcome incomplete (exit 0, with a note on stderr).
 */
static int
capture(struct ctl *g, const struct pipeline_opts *po, const char *udid, int syslog_seconds, char **bytes,
        size_t *len)
{
	struct capture_opts co;
	json_t *probes = NULL;
	const char *plist[16];
	char why[1024] = "";
	int derr = 0, r;
	size_t n = 0;

	memset(&co, 0, sizeof(co));
	if (engine_probes(&po->engine, &probes, why, sizeof(why)) != ENGINE_OK)
		return benchctl_fail(g, BC_EXIT_FAIL, "run: %s", why);
	for (size_t i = 0; i < json_array_size(probes) && n < 16; i++)
		if (json_is_string(json_array_get(probes, i)))
			plist[n++] = json_string_value(json_array_get(probes, i));
	co.syslog_seconds = syslog_seconds;
	co.trees_dir = po->engine.trees_dir;
	co.probes = n ? plist : NULL;
	co.nprobes = n;
	if (isatty(STDERR_FILENO)) {
		co.progress = benchctl_progress;
	}
	r = capture_device(udid, &co, bytes, len, &derr, why, sizeof(why));
	json_decref(probes);
	if (r != 0)
		return benchctl_fail(g, benchctl_exit_for_device(r), "run: %s: %s", udid,
		                     why[0] ? why : idev_strerror(r));
	if (derr != 0)
		fprintf(stderr,
		        "benchctl: run: %s: %s (a report is still written: its outcome is incomplete)\n",
		        udid, why[0] ? why : idev_strerror(derr));
	return BC_EXIT_OK;
}

int
cmd_run(struct ctl *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"udid", required_argument, NULL, 'u'},
	    {"snapshot", required_argument, NULL, 's'},
	    {"tree", required_argument, NULL, 't'},
	    {"answer", required_argument, NULL, 'a'},
	    {"ticket", required_argument, NULL, 'T'},
	    {"out", required_argument, NULL, 'o'},
	    {"syslog-seconds", required_argument, NULL, 'S'},
	    {"trees-dir", required_argument, NULL, 'd'},
	    {"bench-id", required_argument, NULL, 'b'},
	    {"no-key-init", no_argument, NULL, 'N'},
	    {"config", required_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *udid = NULL, *snapfile = NULL, *trees[MAX_TREES_OPT];
	struct engine_answer answers[MAX_ANSWERS];
	struct pipeline_opts po;
	struct pipeline_result *res = NULL;
	size_t ntrees = 0, nanswers = 0;
	char *bytes = NULL, *keys[MAX_ANSWERS], why[1024];
	size_t len = 0;
	int c, syslog_seconds = -1, ec = BC_EXIT_USAGE, r;
	const char *cfgpath = NULL, *bench_id = NULL;
	struct config *cfg = NULL;

	memset(&po, 0, sizeof(po));
	po.bench_id = "bench-01";
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			udid = optarg;
			break;
		case 's':
			snapfile = optarg;
			break;
		case 't':
			if (ntrees == MAX_TREES_OPT) {
				ec = benchctl_usage_error(g, "run", "at most %d --tree options",
				                          MAX_TREES_OPT);
				goto out;
			}
			trees[ntrees++] = optarg;
			break;
		case 'a': {
			const char *eq = strchr(optarg, '=');
			if (eq == NULL || eq == optarg) {
				ec = benchctl_usage_error(g, "run", "--answer takes KEY=VALUE, not '%s'",
				                          optarg);
				goto out;
			}
			if (nanswers == MAX_ANSWERS) {
				ec = benchctl_usage_error(g, "run", "at most %d --answer options",
				                          MAX_ANSWERS);
				goto out;
			}
			keys[nanswers] = strndup(optarg, (size_t)(eq - optarg));
			if (keys[nanswers] == NULL) {
				ec = benchctl_fail(g, BC_EXIT_FAIL, "run: out of memory");
				goto out;
			}
			answers[nanswers].key = keys[nanswers];
			answers[nanswers].value = eq + 1;
			nanswers++;
			break;
		}
		case 'T':
			po.ticket = optarg;
			break;
		case 'o':
			po.extra_out = optarg;
			break;
		case 'S':
			if (parse_int(optarg, 0, 600, &syslog_seconds) < 0) {
				ec = benchctl_usage_error(
				    g, "run", "--syslog-seconds takes 0 to 600, not '%s'", optarg);
				goto out;
			}
			break;
		case 'd':
			po.engine.trees_dir = optarg;
			break;
		case 'b':
			bench_id = optarg;
			break;
		case 'N':
			po.no_key_init = 1;
			break;
		case 'C':
			cfgpath = optarg;
			break;
		case 'h':
			run_usage(stdout);
			ec = BC_EXIT_OK;
			goto out;
		default:
			ec = benchctl_bad_option(g, "run", c, argc, argv);
			goto out;
		}
	}
	if (optind < argc) {
		ec = benchctl_usage_error(g, "run", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if ((udid == NULL) == (snapfile == NULL)) {
		ec = benchctl_usage_error(g, "run", "give exactly one of --udid UDID or --snapshot FILE");
		goto out;
	}
	if (cfgpath != NULL) {
		/* The bench's own settings, so a command-line run signs like the daemon does. */
		if (config_load(cfgpath, &cfg, why, sizeof(why)) != CONFIG_OK) {
			ec = benchctl_fail(g, BC_EXIT_FAIL, "run: %s", why);
			goto out;
		}
		po.bench_id = cfg->bench_id;
		if (ntrees == 0 && cfg->trees != NULL) {
			for (size_t i = 0; i < cfg->ntrees && ntrees < MAX_TREES_OPT; i++)
				trees[ntrees++] = cfg->trees[i];
		}
		if (syslog_seconds < 0)
			syslog_seconds = cfg->syslog_seconds;
	}
	if (bench_id != NULL)
		po.bench_id = bench_id;
	if (syslog_seconds < 0)
		syslog_seconds = 5;
	po.engine.trees = ntrees ? trees : NULL;
	po.engine.ntrees = ntrees;
	po.engine.answers = nanswers ? answers : NULL;
	po.engine.nanswers = nanswers;
	po.engine.lang = g->lang;
	if (udid != NULL) {
		ec = capture(g, &po, udid, syslog_seconds, &bytes, &len);
		if (ec != BC_EXIT_OK)
			goto out;
	} else if (util_read_file(snapfile, REPORT_MAX_SNAPSHOT, &bytes, &len) < 0) {
		ec = benchctl_fail(g, BC_EXIT_FAIL, "run: cannot read snapshot %s: %s", snapfile,
		                   errno == EFBIG ? "bigger than a snapshot may be" : strerror(errno));
		goto out;
	}
	po.state_dir = g->state_dir;
	po.strict_answers = 1;
	r = pipeline_run(bytes, len, &po, &res, why, sizeof(why));
	if (r == PIPELINE_E_ANSWER) {
		ec = benchctl_fail(g, BC_EXIT_USAGE, "run: --answer refused: %s (nothing was written)", why);
		goto out;
	}
	if (r != PIPELINE_OK) {
		const char *src = snapfile != NULL ? snapfile : udid;
		ec = benchctl_fail(g, BC_EXIT_FAIL, "run: %s%s%s", r == PIPELINE_E_SNAPSHOT ? src : "",
		                   r == PIPELINE_E_SNAPSHOT ? ": " : "", why);
		goto out;
	}
	if (res->key_created)
		fprintf(stderr,
		        "benchctl: created the bench signing key %s/%s (key id %s); share its public key "
		        "with benchctl key export\n",
		        g->state_dir, BENCH_KEY_FILE, res->kid);
	{
		char state[32], mode[32];
		device_state(bytes, len, state, sizeof(state), mode, sizeof(mode));
		print_summary(g, res, state, mode);
	}
	ec = BC_EXIT_OK;
out:
	for (size_t i = 0; i < nanswers; i++)
		free(keys[i]);
	free(bytes);
	pipeline_result_free(res);
	config_free(cfg);
	return ec;
}
