/*
 * pipeline: snapshot -> trees -> signed report -> files in the state directory. The one path
 * both `benchctl run` and every benchd session take, so a bench and a command line give the
 * same report for the same snapshot.
 *
 * Writes <state_dir>/reports/<report_id>.snapshot.json (the exact snapshot bytes) and then
 * <state_dir>/reports/<report_id>.jws.json (the exact signed bytes), each atomically, so a
 * report file on disk always has its snapshot beside it and `benchctl run --snapshot` on that
 * snapshot (with the report's inputs.history and answers) replays the diagnosis with the same
 * faults and readings. The bench key is created on first use
 * (<state_dir>/bench-key.pem) unless no_key_init is set.
 * Ownership: pipeline_result_free releases everything in the result.
 */
#ifndef BENCHD_PIPELINE_H
#define BENCHD_PIPELINE_H

#include <jansson.h>
#include <stddef.h>

#include "engine.h"

enum pipeline_err {
	PIPELINE_OK = 0,
	PIPELINE_E_SNAPSHOT = -1, /* not a benchd.snapshot/1 document, or too big */
	PIPELINE_E_KEY = -2,      /* no usable bench key (and none could be made) */
	PIPELINE_E_ENGINE = -3,   /* the trees could not run at all (directory, catalogue) */
	PIPELINE_E_SIGN = -4,     /* building or signing the report failed */
	PIPELINE_E_IO = -5,       /* the report or snapshot could not be written */
	/* Added by issue 12: */
	PIPELINE_E_ANSWER = -6,        /* strict_answers: an answer no tree asks for, or not a choice */
	PIPELINE_E_TREES_CHANGED = -7, /* expect_trees: the trees are not those of the last revision */
	PIPELINE_E_HISTORY = -8,       /* the battery history is not an array of readings (issue 16) */
};
const char *pipeline_strerror(int err);

struct pipeline_opts {
	const char *state_dir;
	const char *bench_id;
	const char *ticket;        /* may be NULL */
	struct engine_opts engine; /* trees, answers, lang */
	/* Added by issue 6 (zero keeps the defaults): */
	int no_key_init;       /* 1: fail when there is no bench key instead of creating one */
	const char *extra_out; /* also write the signed bytes here (benchctl run --out) */
	/* Added by issue 12 (cases, DESIGN 4.8; zero keeps the defaults): */
	const char *report_id;  /* the new report's id (a UUID v4); NULL: a new one */
	const char *case_id;    /* the case the report is a revision of (NULL: none) */
	int revision;           /* its revision number, 1, 2, ... */
	const char *supersedes; /* the case's previous report id (NULL for revision 1) */
	const char *case_lang;  /* the customer's language kept on the case, or NULL */
	/* 1: refuse (PIPELINE_E_ANSWER, nothing signed or written) an answer whose key no tree asks
	 * of this snapshot, or whose value is not one of the question's choices; why lists the
	 * valid keys or choices. */
	int strict_answers;
	/* Non-NULL: the trees [{name, version, sha256}] the previous revision ran; other trees now
	 * refuse the run (PIPELINE_E_TREES_CHANGED, nothing written), so a revision never mixes
	 * answers given to one set of trees with another. */
	const json_t *expect_trees;
	/* Added by issue 16: this bench's earlier readings of the same battery, oldest first
	 * (DESIGN 4.9); the trees read it as `history` and the report records it under
	 * inputs.history. NULL: none (recorded as []). Borrowed. engine.history is ignored. */
	const json_t *history;
};

struct pipeline_result {
	char report_id[40];
	char *report_path; /* .jws.json */
	char *snapshot_path;
	char *jws; /* the signed bytes */
	size_t jwslen;
	json_t *report; /* the report object (payload) */
	char outcome[16];
	/* Added by issue 6: */
	char kid[64];          /* the key id that signed it */
	int key_created;       /* 1: this run created the bench key */
	json_t *questions;     /* unanswered technician questions (borrowed from report) */
	json_t *engine_errors; /* tree errors (borrowed from report) */
};

/* snapshot_bytes: the exact bytes of a benchd.snapshot/1 document. */
int pipeline_run(const char *snapshot_bytes, size_t len, const struct pipeline_opts *opts,
                 struct pipeline_result **out, char *why, size_t whylen);
void pipeline_result_free(struct pipeline_result *r);

/*
 * A new revision of a signed report that changes only its case (a ticket linked): prev is the
 * previous revision's payload, snapshot_bytes its snapshot (they must match its
 * snapshot_sha256). Signs a copy with opts' report_id, case_id, revision, supersedes, ticket and
 * case_lang, and writes it beside its snapshot as pipeline_run does. The trees do not run: the
 * faults, trace and answers are the previous revision's.
 */
int pipeline_revise(const json_t *prev, const char *snapshot_bytes, size_t len,
                    const struct pipeline_opts *opts, struct pipeline_result **out, char *why, size_t whylen);

#endif
