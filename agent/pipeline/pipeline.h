/*
 * pipeline: snapshot -> trees -> signed report -> files in the state directory. The one path
 * both `benchctl run` and every benchd session take, so a bench and a command line give the
 * same report for the same snapshot.
 *
 * Writes <state_dir>/reports/<report_id>.jws.json (the exact signed bytes) and
 * <state_dir>/reports/<report_id>.snapshot.json (the exact snapshot bytes), atomically.
 * Ownership: pipeline_result_free releases everything in the result.
 */
#ifndef BENCHD_PIPELINE_H
#define BENCHD_PIPELINE_H

#include <jansson.h>
#include <stddef.h>

#include "engine.h"

struct pipeline_opts {
	const char *state_dir;
	const char *bench_id;
	const char *ticket;           /* may be NULL */
	struct engine_opts engine;    /* trees, answers, lang */
};

struct pipeline_result {
	char report_id[40];
	char *report_path;            /* .jws.json */
	char *snapshot_path;
	char *jws;                    /* the signed bytes */
	size_t jwslen;
	json_t *report;               /* the report object (payload) */
	char outcome[16];
};

/* snapshot_bytes: the exact bytes of a benchd.snapshot/1 document. */
int pipeline_run(const char *snapshot_bytes, size_t len, const struct pipeline_opts *opts,
    struct pipeline_result **out, char *why, size_t whylen);
void pipeline_result_free(struct pipeline_result *r);

#endif
