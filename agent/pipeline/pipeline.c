/* pipeline: snapshot -> engine -> report -> JWS -> state directory; see pipeline.h. */
#include "pipeline.h"

#include "log.h"
#include "report.h"
#include "util.h"

#include <errno.h>
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

int
pipeline_run(const char *snapshot_bytes, size_t len, const struct pipeline_opts *opts,
             struct pipeline_result **out, char *why, size_t whylen)
{
	struct pipeline_result *res = NULL;
	struct engine_result *er = NULL;
	struct bench_key *k = NULL;
	json_t *snap = NULL, *answers = NULL, *report = NULL;
	json_error_t jerr;
	const char *schema, *id;
	char *dir = NULL, *jws = NULL;
	size_t jwslen = 0;
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
	    .history = opts->history,
	    .readings = er->readings,
	};
	report = report_build(&in, k);
	if (report == NULL) {
		snprintf(why, whylen, "the report could not be built (random source or SHA-256 failed)");
		r = PIPELINE_E_SIGN;
		goto out;
	}
	if (report_sign(report, k, &jws, &jwslen, why, whylen) != REPORT_OK) {
		r = PIPELINE_E_SIGN;
		goto out;
	}
	id = json_string_value(json_object_get(report, "report_id"));
	res = xcalloc(1, sizeof(*res));
	util_strlcpy(res->report_id, id, sizeof(res->report_id));
	util_strlcpy(res->outcome, er->outcome, sizeof(res->outcome));
	util_strlcpy(res->kid, bench_key_id(k), sizeof(res->kid));
	res->key_created = created;
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
	res->report = report;
	report = NULL;
	res->questions = json_object_get(res->report, "questions");
	res->engine_errors = json_object_get(res->report, "errors");
	*out = res;
	res = NULL;
	r = PIPELINE_OK;
out:
	pipeline_result_free(res);
	engine_result_free(er);
	bench_key_free(k);
	json_decref(snap);
	json_decref(answers);
	json_decref(report);
	free(jws);
	free(dir);
	return r;
}
