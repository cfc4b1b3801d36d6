/*
 * benchctl run: one diagnosis, from a device, a recorded snapshot (with a battery history) or
 * a stored report (replayed with its own snapshot, answers and history), to a signed report in
 * the state directory (agent/pipeline/pipeline.h). Exit 0 when a signed report was written,
 * whatever it found; otherwise a one-line reason and a benchctl.h exit code.
 */
#include "benchctl.h"

#include "capture.h"
#include "config.h"
#include "engine.h"
#include "hash.h"
#include "idevice.h"
#include "pipeline.h"
#include "report.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TREES_OPT    64
#define MAX_ANSWERS      128
#define MAX_HISTORY_FILE (4u << 20)

static void
run_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: benchctl run (--udid UDID | --snapshot FILE [--history FILE] | --replay REPORT)\n"
	    "                    [--tree NAME]... [--answer KEY=VALUE]... [--ticket ID] [--out FILE]\n"
	    "                    [--syslog-seconds N] [--trees-dir DIR] [--bench-id ID] [--no-key-init]\n"
	    "                    [--config FILE] [--timeout S]\n\n"
	    "Runs the diagnostic trees over a device (--udid) or a recorded snapshot (--snapshot) and\n"
	    "writes the signed report to <state-dir>/reports/<report_id>.jws.json, with the exact\n"
	    "snapshot beside it as <report_id>.snapshot.json: `benchctl run --snapshot` on that file\n"
	    "replays the diagnosis offline and finds the same faults.\n\n"
	    "  --history FILE       the battery's earlier readings on this bench, a JSON array of\n"
	    "                       {at, battery_serial, cycle_count, health_pct, nominal_capacity_mah,\n"
	    "                       design_capacity_mah}, oldest first (the report keeps it under\n"
	    "                       inputs.history; the battery tree forecasts from it)\n"
	    "  --replay REPORT      run again what a stored report ran: REPORT is a report id (in\n"
	    "                       <state-dir>/reports) or a .jws.json file; the snapshot beside it,\n"
	    "                       its trees, answers, ticket and inputs.history. Prints whether the\n"
	    "                       outcome, faults and readings (the forecast) are the same. The old\n"
	    "                       report's signature is not checked here: benchctl report verify\n"
	    "  --tree NAME          run only this tree (repeatable; default: every tree)\n"
	    "  --answer KEY=VALUE   answer a technician question a tree asks (repeatable); an\n"
	    "                       unanswered question leaves the outcome incomplete and is listed;\n"
	    "                       a key no tree asks of this device, or a value that is not one of\n"
	    "                       the question's choices, is refused (exit 2, nothing written)\n"
	    "  --ticket ID          the repair ticket the report belongs to (case.ticket)\n"
	    "  --out FILE           also write the signed report to FILE\n"
	    "  --syslog-seconds N   with --udid: capture the device log for N seconds (default 5)\n"
	    "  --timeout S          with --udid: stop reading a device that has not finished in S\n"
	    "                       seconds plus the syslog time (default 120, or the configuration's\n"
	    "                       session_timeout_seconds; 0: no limit). The device is read by a\n"
	    "                       separate, sandboxed reader process (benchd-reader): a phone whose\n"
	    "                       data crashes it only ends this run, with the reason (exit 1)\n"
	    "  --trees-dir DIR      the diagnostic trees and catalogue (default: the installed ones)\n"
	    "  --bench-id ID        the bench id written in the report (default bench-01)\n"
	    "  --config FILE        take bench id, trees and syslog_seconds from benchd's\n"
	    "                       configuration file (options given here win)\n"
	    "  --no-key-init        fail when there is no bench key; by default the first run\n"
	    "                       creates <state-dir>/bench-key.pem (mode 0600) and says so on stderr\n\n"
	    "Prints a short summary; --json: one line {ok, report_id, outcome, fault_count, faults\n"
	    "[{code, severity, part, part_note, title}], device_state (ok, locked, untrusted,\n"
	    "pairing-pending, unavailable), device_mode, questions, incomplete, errors, report_path,\n"
	    "snapshot_path, kid, key_created, battery_forecast?, replay?}, or {ok: false, error, code}\n"
	    "when no report was written. Exit 0 when a signed report was written,\n"
	    "whatever it found (a replay that differs too: it says how; a locked or untrusted device\n"
	    "gives a report whose outcome is incomplete); 1 with the reason when none could be\n"
	    "(unreadable snapshot, no trees, no key, disk, a device that crashed the reader or ran out\n"
	    "of time); 2 bad command line, a refused --answer, or a history or report to replay that is\n"
	    "not one; 3 no such device, or it was unplugged during the read.\n");
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

int
benchctl_load_history(const char *path, json_t **out, char *why, size_t whylen)
{
	json_error_t je;
	char *data = NULL;
	size_t len = 0;
	json_t *h;

	*out = NULL;
	if (util_read_file(path, MAX_HISTORY_FILE, &data, &len) < 0) {
		snprintf(why, whylen, "cannot read the history %s: %s", path,
		         errno == EFBIG ? "bigger than 4 MiB" : strerror(errno));
		return BC_EXIT_FAIL;
	}
	h = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	free(data);
	if (h == NULL) {
		snprintf(why, whylen, "the history %s is not JSON: %s at line %d column %d", path, je.text,
		         je.line, je.column);
		return BC_EXIT_USAGE;
	}
	if (engine_check_history(h, why, whylen) != ENGINE_OK) {
		char *r = xstrdup(why);
		snprintf(why, whylen, "%s: %s", path, r);
		free(r);
		json_decref(h);
		return BC_EXIT_USAGE;
	}
	*out = h;
	return BC_EXIT_OK;
}

int
benchctl_forecast_text(const json_t *fc, char *out, size_t outlen)
{
	const json_t *m = json_object_get(fc, "months_to_80"), *b = json_object_get(fc, "basis");
	const char *st = json_string_value(json_object_get(fc, "status"));
	char basis[96];

	snprintf(basis, sizeof(basis), "from %lld visits, %lld cycles, %lld days",
	         json_integer_value(json_object_get(b, "visits")),
	         json_integer_value(json_object_get(b, "cycles")),
	         json_integer_value(json_object_get(b, "days")));
	if (json_array_size(m) == 2) {
		long long lo = json_integer_value(json_array_get(m, 0)),
		          hi = json_integer_value(json_array_get(m, 1));
		if (!json_is_true(json_object_get(fc, "open_ended")))
			snprintf(out, outlen, "80 %% in %lld to %lld months (%s)", lo, hi, basis);
		else if (lo < hi)
			snprintf(out, outlen,
			         "80 %% in %lld months to about 5 years, the forecast's horizon (%s)", lo,
			         basis);
		else
			snprintf(
			    out, outlen,
			    "80 %% not within 5 years of use at this rate: its age will matter more (%s)",
			    basis);
		return 0;
	}
	if (st == NULL)
		return -1;
	snprintf(out, outlen, "%s%s", st,
	         strcmp(st, "too early") == 0     ? " (too few readings of this battery yet)"
	         : strcmp(st, "new battery") == 0 ? " (a new battery: a forecast after more visits)"
	         : strcmp(st, "below 80") == 0    ? " (health is at or under 80 %: nothing to forecast)"
	                                          : "");
	return 0;
}

/* What a replay takes from a stored report (all borrowed from report, or owned as noted). */
struct replay {
	json_t *report; /* the stored report's payload (owned) */
	const char *id;
	char *snapshot; /* the snapshot bytes beside it (owned) */
	size_t snapshot_len;
	const json_t *history;
	const char *trees[MAX_TREES_OPT];
	size_t ntrees;
	struct engine_answer answers[MAX_ANSWERS];
	size_t nanswers;
	const char *ticket;
};

static int
is_uuid(const char *s)
{
	if (strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return 0;
		}
	}
	return 1;
}

/* Load what --replay needs; the exit code and a one-line reason on failure. */
static int
replay_load(struct ctl *g, const char *what, struct replay *rp, char *why, size_t whylen)
{
	struct stat st;
	char *path, *data = NULL, *snap_path, *slash, kid[64], sha[65], *dir;
	const char *want_sha;
	size_t len = 0, i;
	const char *k;
	json_t *v;

	memset(rp, 0, sizeof(*rp));
	if (stat(what, &st) < 0 && is_uuid(what))
		path = xasprintf("%s/reports/%s.jws.json", g->state_dir, what);
	else
		path = xstrdup(what);
	if (util_read_file(path, REPORT_MAX_JWS, &data, &len) < 0) {
		int e = errno;
		snprintf(why, whylen, "cannot read the report %s: %s", path,
		         e == EFBIG ? "bigger than a report may be" : strerror(e));
		free(path);
		return e == ENOENT ? BC_EXIT_USAGE : BC_EXIT_FAIL;
	}
	if (report_unverified_payload(data, len, &rp->report, kid, why, whylen) != REPORT_OK) {
		char *r = xstrdup(why);
		snprintf(why, whylen, "%s is not a signed report: %s", path, r);
		free(r);
		free(data);
		free(path);
		return BC_EXIT_USAGE;
	}
	free(data);
	rp->id = json_string_value(json_object_get(rp->report, "report_id"));
	if (rp->id == NULL || !is_uuid(rp->id)) {
		snprintf(why, whylen, "%s has no report_id", path);
		free(path);
		return BC_EXIT_USAGE;
	}
	slash = strrchr(path, '/');
	dir = slash ? xasprintf("%.*s", (int)(slash - path), path) : xstrdup(".");
	snap_path = xasprintf("%s/%s.snapshot.json", dir, rp->id);
	free(dir);
	free(path);
	if (util_read_file(snap_path, REPORT_MAX_SNAPSHOT, &rp->snapshot, &rp->snapshot_len) < 0) {
		snprintf(why, whylen,
		         "cannot read the report's snapshot %s: %s (it is kept beside the report)", snap_path,
		         strerror(errno));
		free(snap_path);
		return BC_EXIT_FAIL;
	}
	want_sha = json_string_value(json_object_get(rp->report, "snapshot_sha256"));
	if (hash_sha256_hex(rp->snapshot, rp->snapshot_len, sha) < 0 || want_sha == NULL ||
	    strcmp(sha, want_sha) != 0) {
		snprintf(why, whylen,
		         "%s is not the snapshot report %s was made from (its SHA-256 differs): nothing "
		         "to replay",
		         snap_path, rp->id);
		free(snap_path);
		return BC_EXIT_USAGE;
	}
	free(snap_path);
	rp->history = json_object_get(json_object_get(rp->report, "inputs"), "history");
	if (rp->history != NULL && engine_check_history(rp->history, why, whylen) != ENGINE_OK)
		return BC_EXIT_USAGE;
	json_array_foreach(json_object_get(rp->report, "trees"), i, v)
	{
		const char *n = json_string_value(json_object_get(v, "name"));
		if (n != NULL && rp->ntrees < MAX_TREES_OPT)
			rp->trees[rp->ntrees++] = n;
	}
	json_object_foreach(json_object_get(rp->report, "answers"), k, v)
	{
		if (json_is_string(v) && rp->nanswers < MAX_ANSWERS) {
			rp->answers[rp->nanswers].key = k;
			rp->answers[rp->nanswers].value = json_string_value(v);
			rp->nanswers++;
		}
	}
	rp->ticket = json_string_value(json_object_get(json_object_get(rp->report, "case"), "ticket"));
	return BC_EXIT_OK;
}

/* One fault as a replay compares it: everything but the title (which is in the run's language). */
static json_t *
faults_key(const json_t *faults)
{
	json_t *out = json_array(), *f;
	size_t i;
	json_array_foreach(faults, i, f)
	{
		json_t *c = json_deep_copy(f);
		json_object_del(c, "title");
		json_array_append_new(out, c);
	}
	return out;
}

static char *
brief(const json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	if (s != NULL && strlen(s) > 300) {
		size_t n = 296;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) /* a whole UTF-8 character */
			n--;
		memcpy(s + n, "...", 4);
	}
	return s ? s : xstrdup("absent");
}

/* How the new report differs from the replayed one: [strings]; empty when the same. */
static json_t *
replay_differences(const json_t *old, const json_t *now)
{
	json_t *d = json_array(), *fo = faults_key(json_object_get(old, "faults")),
	       *fn = faults_key(json_object_get(now, "faults"));
	const json_t *ro = json_object_get(old, "readings"), *rn = json_object_get(now, "readings");
	const json_t *to = json_object_get(old, "trees"), *tn = json_object_get(now, "trees");
	const char *k;
	json_t *v;
	size_t i;

	if (!json_equal(json_object_get(old, "outcome"), json_object_get(now, "outcome")))
		json_array_append_new(d, json_sprintf("outcome: %s then, %s now",
		                                      json_string_value(json_object_get(old, "outcome")),
		                                      json_string_value(json_object_get(now, "outcome"))));
	if (!json_equal(fo, fn)) {
		char *a = brief(fo), *b = brief(fn);
		json_array_append_new(d, json_sprintf("faults: %s then, %s now", a, b));
		free(a);
		free(b);
	}
	json_object_foreach((json_t *)ro, k, v)
	{
		if (!json_equal(v, json_object_get(rn, k))) {
			char *a = brief(v), *b = brief(json_object_get(rn, k));
			json_array_append_new(d, json_sprintf("readings.%s: %s then, %s now", k, a, b));
			free(a);
			free(b);
		}
	}
	json_object_foreach((json_t *)rn, k, v)
	{
		if (json_object_get(ro, k) == NULL) {
			char *b = brief(v);
			json_array_append_new(d, json_sprintf("readings.%s: absent then, %s now", k, b));
			free(b);
		}
	}
	/* Not a difference of the result, but the likely reason for one. */
	json_array_foreach((json_t *)to, i, v)
	{
		const json_t *t = json_array_get(tn, i);
		if (t != NULL && !json_equal(json_object_get(v, "sha256"), json_object_get(t, "sha256")))
			json_array_append_new(d,
			                      json_sprintf("tree %s changed since (version %s then, %s now)",
			                                   json_string_value(json_object_get(v, "name")),
			                                   json_string_value(json_object_get(v, "version")),
			                                   json_string_value(json_object_get(t, "version"))));
	}
	json_decref(fo);
	json_decref(fn);
	return d;
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
print_summary(struct ctl *g, const struct pipeline_result *res, const char *state, const char *mode,
              const char *replay_of, const json_t *diffs)
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
		if (json_object_get(json_object_get(res->report, "readings"), "battery_forecast"))
			json_object_set(
			    o, "battery_forecast",
			    json_object_get(json_object_get(res->report, "readings"), "battery_forecast"));
		if (replay_of != NULL)
			json_object_set_new(o, "replay",
			                    json_pack("{s:s, s:b, s:O}", "of", replay_of, "same",
			                              json_array_size(diffs) == 0, "differences", diffs));
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
	{
		char line[256];
		if (benchctl_forecast_text(
		        json_object_get(json_object_get(res->report, "readings"), "battery_forecast"), line,
		        sizeof(line)) == 0)
			printf("battery forecast: %s\n", line);
	}
	if (replay_of != NULL) {
		if (json_array_size(diffs) == 0) {
			printf("replay of %s: the same outcome, faults and readings (forecast)\n", replay_of);
		} else {
			printf("replay of %s differs:\n", replay_of);
			json_array_foreach(diffs, i, q) printf("  %s\n", json_string_value(q));
		}
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
capture(struct ctl *g, const struct pipeline_opts *po, const char *udid, int syslog_seconds, int timeout_s,
        char **bytes, size_t *len)
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
	co.deadline_s = timeout_s > 0 ? timeout_s + syslog_seconds : 0;
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
	    {"timeout", required_argument, NULL, 'D'},
	    {"history", required_argument, NULL, 'H'},
	    {"replay", required_argument, NULL, 'R'},
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
	int c, syslog_seconds = -1, timeout_s = -1, ec = BC_EXIT_USAGE, r;
	const char *cfgpath = NULL, *bench_id = NULL, *histfile = NULL, *replay_what = NULL;
	struct config *cfg = NULL;
	json_t *history = NULL, *diffs = NULL;
	struct replay *rp = NULL;

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
		case 'D':
			if (parse_int(optarg, 0, 3600, &timeout_s) < 0) {
				fprintf(stderr,
				        "benchctl: run: --timeout takes 0 to 3600 seconds, not '%s'\n",
				        optarg);
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
		case 'H':
			histfile = optarg;
			break;
		case 'R':
			replay_what = optarg;
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
	if ((udid != NULL) + (snapfile != NULL) + (replay_what != NULL) != 1) {
		ec = benchctl_usage_error(
		    g, "run", "give exactly one of --udid UDID or --snapshot FILE (or --replay REPORT)");
		goto out;
	}
	if (replay_what != NULL && (ntrees || nanswers || histfile || po.ticket)) {
		ec = benchctl_usage_error(
		    g, "run",
		    "--replay takes the trees, answers, ticket and history of the report "
		    "it replays: drop --tree, --answer, --ticket and --history");
		goto out;
	}
	if (histfile != NULL) {
		ec = benchctl_load_history(histfile, &history, why, sizeof(why));
		if (ec != BC_EXIT_OK) {
			ec = benchctl_fail(g, ec, "run: %s", why);
			goto out;
		}
	}
	if (replay_what != NULL) {
		rp = xcalloc(1, sizeof(*rp));
		ec = replay_load(g, replay_what, rp, why, sizeof(why));
		if (ec != BC_EXIT_OK) {
			ec = benchctl_fail(g, ec, "run --replay: %s", why);
			goto out;
		}
		for (size_t i = 0; i < rp->ntrees; i++)
			trees[ntrees++] = rp->trees[i];
		po.ticket = rp->ticket;
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
		if (timeout_s < 0)
			timeout_s = cfg->session_timeout;
	}
	if (bench_id != NULL)
		po.bench_id = bench_id;
	if (syslog_seconds < 0)
		syslog_seconds = 5;
	if (timeout_s < 0)
		timeout_s = 120; /* benchd's default session_timeout_seconds */
	po.engine.trees = ntrees ? trees : NULL;
	po.engine.ntrees = ntrees;
	po.engine.answers = nanswers ? answers : NULL;
	po.engine.nanswers = nanswers;
	po.engine.lang = g->lang;
	po.history = history;
	if (rp != NULL) {
		po.engine.answers = rp->nanswers ? rp->answers : NULL;
		po.engine.nanswers = rp->nanswers;
		po.history = rp->history;
		bytes = rp->snapshot;
		len = rp->snapshot_len;
		rp->snapshot = NULL;
	} else if (udid != NULL) {
		ec = capture(g, &po, udid, syslog_seconds, timeout_s, &bytes, &len);
		if (ec != BC_EXIT_OK)
			goto out;
	} else if (util_read_file(snapfile, REPORT_MAX_SNAPSHOT, &bytes, &len) < 0) {
		ec = benchctl_fail(g, BC_EXIT_FAIL, "run: cannot read snapshot %s: %s", snapfile,
		                   errno == EFBIG ? "bigger than a snapshot may be" : strerror(errno));
		goto out;
	}
	po.state_dir = g->state_dir;
	po.strict_answers = rp == NULL; /* a replay runs the answers it recorded, whatever the trees */
	r = pipeline_run(bytes, len, &po, &res, why, sizeof(why));
	if (r == PIPELINE_E_ANSWER) {
		ec = benchctl_fail(g, BC_EXIT_USAGE, "run: --answer refused: %s (nothing was written)", why);
		goto out;
	}
	if (r != PIPELINE_OK) {
		const char *src = snapfile != NULL ? snapfile : udid != NULL ? udid : replay_what;
		ec = benchctl_fail(g, BC_EXIT_FAIL, "run: %s%s%s", r == PIPELINE_E_SNAPSHOT ? src : "",
		                   r == PIPELINE_E_SNAPSHOT ? ": " : "", why);
		goto out;
	}
	if (res->key_created)
		fprintf(stderr,
		        "benchctl: created the bench signing key %s/%s (key id %s); share its public key "
		        "with benchctl key export\n",
		        g->state_dir, BENCH_KEY_FILE, res->kid);
	if (rp != NULL)
		diffs = replay_differences(rp->report, res->report);
	{
		char state[32], mode[32];
		device_state(bytes, len, state, sizeof(state), mode, sizeof(mode));
		print_summary(g, res, state, mode, rp ? rp->id : NULL, diffs);
	}
	ec = BC_EXIT_OK;
out:
	for (size_t i = 0; i < nanswers; i++)
		free(keys[i]);
	json_decref(history);
	json_decref(diffs);
	if (rp != NULL) {
		free(rp->snapshot);
		json_decref(rp->report);
		free(rp);
	}
	free(bytes);
	pipeline_result_free(res);
	config_free(cfg);
	return ec;
}
