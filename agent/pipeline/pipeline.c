/* pipeline: snapshot -> engine -> report -> JWS -> state directory; see pipeline.h. */
#include "pipeline.h"

#include "log.h"
#include "report.h"
#include "util.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
pipeline_strerror(int err)
{
	switch (err) {
	case PIPELINE_OK:
		return "ok";
	case PIPELINE_E_SNAPSHOT:
		return "not a usable snapshot";
	case PIPELINE_E_KEY:
		return "no usable bench key";
	case PIPELINE_E_ENGINE:
		return "the diagnostic trees could not run";
	case PIPELINE_E_SIGN:
		return "the report could not be signed";
	case PIPELINE_E_IO:
		return "the report could not be written";
	case PIPELINE_E_ANSWER:
		return "an answer was refused";
	case PIPELINE_E_TREES_CHANGED:
		return "the diagnostic trees changed";
	case PIPELINE_E_HISTORY:
		return "not a battery history";
	}
	return "unknown pipeline error";
}

void
pipeline_result_free(struct pipeline_result *r)
{
	if (r == NULL)
		return;
	free(r->report_path);
	free(r->snapshot_path);
	free(r->jws);
	json_decref(r->report);
	free(r);
}

/* Load the bench key, creating it on first use unless told not to. */
static int
get_key(const struct pipeline_opts *opts, struct bench_key **k, int *created, char *why, size_t whylen)
{
	int r = bench_key_load(opts->state_dir, k, why, whylen);

	if (r == REPORT_E_NOKEY && !opts->no_key_init) {
		r = bench_key_init(opts->state_dir, 0, why, whylen);
		if (r == REPORT_OK) {
			*created = 1;
			log_info("created the bench signing key %s/%s (key id %s)", opts->state_dir,
			         BENCH_KEY_FILE, why);
		} else if (r != REPORT_E_EXISTS) { /* another session made it meanwhile: use that one */
			return PIPELINE_E_KEY;
		}
		r = bench_key_load(opts->state_dir, k, why, whylen);
	}
	return r == REPORT_OK ? PIPELINE_OK : PIPELINE_E_KEY;
}

static json_t *
answers_object(const struct engine_opts *e)
{
	json_t *o = json_object();

	for (size_t i = 0; i < e->nanswers; i++) {
		if (e->answers[i].key == NULL || e->answers[i].value == NULL)
			continue;
		json_t *v = json_string(e->answers[i].value);
		if (v != NULL)
			json_object_set_new(o, e->answers[i].key, v);
	}
	return o;
}

/* Does the trace show that a tree asked `key` (a node "ask:KEY")? */
static int
asked(const json_t *trace, const char *key)
{
	size_t i;
	json_t *t;

	json_array_foreach(trace, i, t)
	{
		const char *node = json_string_value(json_object_get(t, "node"));
		if (node && strncmp(node, "ask:", 4) == 0 && strcmp(node + 4, key) == 0)
			return 1;
	}
	return 0;
}

/* The keys the trees asked, "a, b" (each once), into out. */
static void
asked_keys(const json_t *trace, char *out, size_t outlen)
{
	size_t i;
	json_t *t;

	out[0] = '\0';
	json_array_foreach(trace, i, t)
	{
		const char *node = json_string_value(json_object_get(t, "node"));
		char item[160];
		if (node == NULL || strncmp(node, "ask:", 4) != 0)
			continue;
		snprintf(item, sizeof(item), "%s%s", out[0] ? ", " : "", node + 4);
		if (strstr(out, node + 4) == NULL && strlen(out) + strlen(item) + 1 < outlen)
			util_strlcat(out, item, outlen);
	}
}

/*
 * strict_answers: every answer must name a question a tree asked of this snapshot, with one of
 * its choices. Returns 0, or -1 with the reason (listing the valid keys or choices) in why.
 */
static int
check_answers(const struct engine_opts *e, const struct engine_result *er, char *why, size_t whylen)
{
	char keys[512];

	for (size_t i = 0; i < e->nanswers; i++) {
		const char *k = e->answers[i].key;
		size_t j;
		json_t *q;
		if (k == NULL)
			continue;
		if (!asked(er->trace, k)) {
			asked_keys(er->trace, keys, sizeof(keys));
			if (keys[0])
				snprintf(why, whylen,
				         "no tree asks '%.64s' of this device (the trees ask: %s)", k, keys);
			else
				snprintf(why, whylen,
				         "no tree asks '%.64s' of this device (the trees ask nothing of it)",
				         k);
			return -1;
		}
		json_array_foreach(er->questions, j, q)
		{
			const char *qk = json_string_value(json_object_get(q, "key"));
			const json_t *bad = json_object_get(q, "invalid_answer"),
			             *ch = json_object_get(q, "choices");
			char choices[512] = "";
			size_t n;
			json_t *c;
			if (qk == NULL || strcmp(qk, k) != 0 || !json_is_string(bad))
				continue;
			json_array_foreach(ch, n, c)
			{
				if (json_is_string(c) &&
				    strlen(choices) + json_string_length(c) + 3 < sizeof(choices)) {
					util_strlcat(choices, n ? ", " : "", sizeof(choices));
					util_strlcat(choices, json_string_value(c), sizeof(choices));
				}
			}
			snprintf(why, whylen, "%s: '%.64s' is not one of the choices: %s", k,
			         json_string_value(bad), choices);
			return -1;
		}
	}
	return 0;
}

/* expect_trees: the same trees (name, version, sha256) as before? Else -1 with why. */
static int
check_trees(const json_t *expect, const json_t *now, char *why, size_t whylen)
{
	size_t i, j;
	json_t *a, *b;

	if (json_equal(expect, now))
		return 0;
	json_array_foreach(expect, i, a)
	{
		const char *name = json_string_value(json_object_get(a, "name"));
		int found = 0;
		json_array_foreach(now, j, b)
		{
			if (name && json_equal(json_object_get(b, "name"), json_object_get(a, "name"))) {
				found = 1;
				if (!json_equal(a, b)) {
					snprintf(why, whylen,
					         "the diagnostic trees changed since that report (%s %s is "
					         "now %s %s): "
					         "plug the device in again for a new diagnosis",
					         name, json_string_value(json_object_get(a, "version")), name,
					         json_string_value(json_object_get(b, "version")));
					return -1;
				}
			}
		}
		if (!found) {
			snprintf(
			    why, whylen,
			    "the diagnostic trees changed since that report (%s is gone): plug the device in "
			    "again for a new diagnosis",
			    name ? name : "a tree");
			return -1;
		}
	}
	snprintf(why, whylen,
	         "the diagnostic trees changed since that report (a tree was added): plug the device in "
	         "again for a new diagnosis");
	return -1;
}

/* Sign `report`, then write the snapshot and the signed bytes into the state directory and fill
 * a result (which takes the report). */
static int
sign_and_write(json_t *report, const struct bench_key *k, int created, const char *snapshot_bytes, size_t len,
               const struct pipeline_opts *opts, struct pipeline_result **out, char *why, size_t whylen)
{
	struct pipeline_result *res = NULL;
	const char *id, *outcome;
	char *dir = NULL, *jws = NULL;
	size_t jwslen = 0;
	int r;

	if (report_sign(report, k, &jws, &jwslen, why, whylen) != REPORT_OK) {
		json_decref(report);
		return PIPELINE_E_SIGN;
	}
	id = json_string_value(json_object_get(report, "report_id"));
	outcome = json_string_value(json_object_get(report, "outcome"));
	res = xcalloc(1, sizeof(*res));
	util_strlcpy(res->report_id, id, sizeof(res->report_id));
	util_strlcpy(res->outcome, outcome ? outcome : "incomplete", sizeof(res->outcome));
	util_strlcpy(res->kid, bench_key_id(k), sizeof(res->kid));
	res->key_created = created;
	res->report = report;
	dir = xasprintf("%s/reports", opts->state_dir);
	res->snapshot_path = xasprintf("%s/%s.snapshot.json", dir, id);
	res->report_path = xasprintf("%s/%s.jws.json", dir, id);
	if (util_mkdir_p(dir, 0700) < 0) {
		snprintf(why, whylen, "cannot create %s: %s", dir, strerror(errno));
		r = PIPELINE_E_IO;
		goto out;
	}
	/* The snapshot first: a report on disk always has its snapshot beside it. */
	if (util_write_file_atomic(res->snapshot_path, snapshot_bytes, len, 0640) < 0) {
		snprintf(why, whylen, "cannot write %s: %s", res->snapshot_path, strerror(errno));
		r = PIPELINE_E_IO;
		goto out;
	}
	if (util_write_file_atomic(res->report_path, jws, jwslen, 0640) < 0) {
		snprintf(why, whylen, "cannot write %s: %s", res->report_path, strerror(errno));
		r = PIPELINE_E_IO;
		goto out;
	}
	if (opts->extra_out != NULL && util_write_file_atomic(opts->extra_out, jws, jwslen, 0644) < 0) {
		snprintf(why, whylen, "the report is saved as %s, but %s could not be written: %s",
		         res->report_path, opts->extra_out, strerror(errno));
		r = PIPELINE_E_IO;
		goto out;
	}
	res->jws = jws;
	res->jwslen = jwslen;
	jws = NULL;
	res->questions = json_object_get(res->report, "questions");
	res->engine_errors = json_object_get(res->report, "errors");
	*out = res;
	res = NULL;
	r = PIPELINE_OK;
out:
	pipeline_result_free(res);
	free(jws);
	free(dir);
	return r;
}

int
pipeline_run(const char *snapshot_bytes, size_t len, const struct pipeline_opts *opts,
             struct pipeline_result **out, char *why, size_t whylen)
{
	struct engine_result *er = NULL;
	struct bench_key *k = NULL;
	json_t *snap = NULL, *answers = NULL, *report = NULL;
	json_error_t jerr;
	const char *schema;
	int created = 0, r;

	*out = NULL;
	if (opts == NULL || opts->state_dir == NULL) {
		snprintf(why, whylen, "no state directory given");
		return PIPELINE_E_IO;
	}
	if (len > REPORT_MAX_SNAPSHOT) {
		snprintf(why, whylen, "the snapshot is %zu bytes, more than the %u a snapshot may have", len,
		         REPORT_MAX_SNAPSHOT);
		return PIPELINE_E_SNAPSHOT;
	}
	snap = json_loadb(snapshot_bytes, len, JSON_REJECT_DUPLICATES, &jerr);
	if (snap == NULL) {
		snprintf(why, whylen, "the snapshot is not JSON: %s at line %d column %d", jerr.text,
		         jerr.line, jerr.column);
		return PIPELINE_E_SNAPSHOT;
	}
	schema = json_string_value(json_object_get(snap, "schema"));
	if (!json_is_object(snap) || schema == NULL || strcmp(schema, "benchd.snapshot/1") != 0) {
		snprintf(why, whylen, "not a benchd.snapshot/1 document (schema %s)",
		         schema ? schema : "missing");
		json_decref(snap);
		return PIPELINE_E_SNAPSHOT;
	}
	{
		struct engine_opts eo = opts->engine;
		eo.history = opts->history;
		r = engine_run(snap, &eo, &er, why, whylen);
	}
	if (r != ENGINE_OK) {
		r = r == ENGINE_E_SNAPSHOT  ? PIPELINE_E_SNAPSHOT
		    : r == ENGINE_E_HISTORY ? PIPELINE_E_HISTORY
		                            : PIPELINE_E_ENGINE;
		goto out;
	}
	if (opts->strict_answers && check_answers(&opts->engine, er, why, whylen) < 0) {
		r = PIPELINE_E_ANSWER;
		goto out;
	}
	if (opts->expect_trees != NULL && check_trees(opts->expect_trees, er->trees, why, whylen) < 0) {
		r = PIPELINE_E_TREES_CHANGED;
		goto out;
	}
	/* The key after the trees: a run that cannot diagnose leaves no trace behind. */
	if ((r = get_key(opts, &k, &created, why, whylen)) != PIPELINE_OK)
		goto out;
	answers = answers_object(&opts->engine);
	struct report_input in = {
	    .snapshot_bytes = snapshot_bytes,
	    .snapshot_len = len,
	    .snapshot = snap,
	    .faults = er->faults,
	    .trace = er->trace,
	    .trees = er->trees,
	    .outcome = er->outcome,
	    .bench_id = opts->bench_id,
	    .ticket = opts->ticket,
	    .questions = er->questions,
	    .engine_errors = er->errors,
	    .answers = answers,
	    .incomplete = er->incomplete,
	    .case_id = opts->case_id,
	    .revision = opts->revision,
	    .supersedes = opts->supersedes,
	    .lang = opts->case_lang,
	    .history = opts->history,
	    .readings = er->readings,
	};
	report =
	    opts->report_id ? report_build_at(&in, k, opts->report_id, time(NULL)) : report_build(&in, k);
	if (report == NULL) {
		snprintf(why, whylen, "the report could not be built (random source or SHA-256 failed)");
		r = PIPELINE_E_SIGN;
		goto out;
	}
	r = sign_and_write(report, k, created, snapshot_bytes, len, opts, out, why, whylen);
	report = NULL;
out:
	engine_result_free(er);
	bench_key_free(k);
	json_decref(snap);
	json_decref(answers);
	json_decref(report);
	return r;
}

/* SHA-256 of bytes as lower-case hex (the report's snapshot_sha256). */
static int
sha256_of(const char *p, size_t n, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -1;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int
pipeline_revise(const json_t *prev, const char *snapshot_bytes, size_t len, const struct pipeline_opts *opts,
                struct pipeline_result **out, char *why, size_t whylen)
{
	struct bench_key *k = NULL;
	json_t *report;
	const char *want = json_string_value(json_object_get(prev, "snapshot_sha256"));
	char sha[65];
	int created = 0, r;

	*out = NULL;
	if (opts == NULL || opts->state_dir == NULL) {
		snprintf(why, whylen, "no state directory given");
		return PIPELINE_E_IO;
	}
	if (sha256_of(snapshot_bytes, len, sha) < 0 || want == NULL || strcmp(sha, want) != 0) {
		snprintf(why, whylen, "the stored snapshot does not match the report's snapshot_sha256");
		return PIPELINE_E_SNAPSHOT;
	}
	if ((r = get_key(opts, &k, &created, why, whylen)) != PIPELINE_OK)
		return r;
	struct report_input in = {
	    .bench_id = opts->bench_id,
	    .ticket = opts->ticket,
	    .case_id = opts->case_id,
	    .revision = opts->revision,
	    .supersedes = opts->supersedes,
	    .lang = opts->case_lang,
	};
	report = report_revise(prev, &in, k, opts->report_id);
	if (report == NULL) {
		snprintf(why, whylen, "the revision could not be built (random source failed)");
		bench_key_free(k);
		return PIPELINE_E_SIGN;
	}
	r = sign_and_write(report, k, created, snapshot_bytes, len, opts, out, why, whylen);
	bench_key_free(k);
	return r;
}
