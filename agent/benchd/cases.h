/*
 * cases: the bench workflow of DESIGN.md 4.8. A case is one visit of one device; every report
 * benchd signs for it is a revision (case {case_id, ticket, revision, supersedes} in the
 * signed report and in the upload body). This module makes and commits revisions, one way for
 * every cause:
 *
 *   a session        (cases_session_report) the device's open case, or a new one that takes a
 *                    matching booking's ticket and language; the trees run over the new
 *                    snapshot with the case's answers so far
 *   an answer        (cases_answer) the trees rerun over the case's latest stored snapshot with
 *                    every answer so far (same snapshot_sha256); an unknown key, a value outside
 *                    the choices or trees changed since are refused and nothing changes
 *   a ticket linked  (cases_link) a copy of the latest revision carrying the ticket (same
 *                    snapshot, answers and faults), unless it carries it already
 *   finish           (cases_finish) the latest revision becomes final as it is
 *   adoption         (cases_adopt_file) a signed report the store does not know (signed before
 *                    a crash, or written by `benchctl run`): kept only when it verifies with this
 *                    bench's key (else moved to reports/rejected/); a report with case fields
 *                    rejoins its case
 *
 * A revision is final when no question is open and, with [bench] require_ticket or a booking
 * system as [upload] kind (repairshopr, repairdesk), it has a ticket, or when the case was finished; only
 * final revisions are queued for the configured outbox targets (upload, fleet), with the 4.7 body built once
 * from the signed bytes. The report files are written (pipeline.h) before the store commit, so a crash in
 * between loses nothing: the next adoption commits the revision once. Revisions of one case are made one at a
 * time. Publishes report.signed, case.question, case.waiting, case.finished and case.closed (events.h).
 *
 * Threads: any. Ownership: cases_new/cases_free; the store, events, outboxes and config must
 * outlive it.
 */
#ifndef BENCHD_CASES_H
#define BENCHD_CASES_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"
#include "events.h"
#include "outbox.h"
#include "store.h"

enum cases_err {
	CASES_OK = 0,
	CASES_E_BAD = -1,       /* bad input: an unknown answer key or choice, a bad ticket */
	CASES_E_NOT_FOUND = -2, /* DEVICE names no case */
	CASES_E_AMBIGUOUS = -3, /* DEVICE names several open cases */
	CASES_E_CONFLICT = -4,  /* not now: trees changed, no report yet, a report without a case */
	CASES_E_STORE = -5,     /* the store failed (disk, database) */
	CASES_E_SIGN = -6,      /* the revision could not be made (trees, key, disk) */
};

struct cases_opts {
	const struct config *cfg;
	const char *state_dir;
	struct store *st;
	struct events *ev;     /* may be NULL */
	struct outbox *upload; /* NULL: no [upload] url */
	struct outbox *fleet;  /* NULL: no [fleet] url */
	/* The probes of the configured trees are not needed here: the trees run on snapshots. */
};

/* What a command made (or found, when unchanged). */
struct cases_revision {
	char report_id[STORE_ID_MAX];
	char case_id[STORE_ID_MAX];
	char device[80];
	int revision;
	char outcome[16];
	size_t nfaults;
	int final;
	char waiting[256]; /* why it is not final, "" when final */
	char ticket[STORE_TICKET_MAX + 1];
	int unchanged; /* 1: nothing new was needed (the same answers, ticket, already final) */
};

struct cases;
struct cases *cases_new(const struct cases_opts *o);
void cases_free(struct cases *c);

/* A ticket as a technician or a scanner typed it: surrounding spaces dropped, 1 to 64 bytes,
 * no control characters. Returns 0 with the ticket in out, or -1 with why. */
int cases_check_ticket(const char *in, char out[STORE_TICKET_MAX + 1], char *why, size_t whylen);

/*
 * A session's snapshot (the exact bytes) of device (its id: udid, or ECID) in mode: the next
 * revision of the device's case, signed, stored and queued when final. Returns CASES_OK with
 * out filled, or an error with why ("no report: ...").
 */
int cases_session_report(struct cases *c, const char *device, const char *mode, const char *snapshot,
                         size_t len, struct cases_revision *out, char *why, size_t whylen);

/* benchctl answer: answers is {"key": "value", ...} (strings). */
int cases_answer(struct cases *c, const char *device, const json_t *answers, struct cases_revision *out,
                 char *why, size_t whylen);
/* benchctl link: ticket as cases_check_ticket takes it. */
int cases_link(struct cases *c, const char *device, const char *ticket, struct cases_revision *out, char *why,
               size_t whylen);
/* benchctl finish. */
int cases_finish(struct cases *c, const char *device, struct cases_revision *out, char *why, size_t whylen);

/*
 * Adopt one signed report file <state>/reports/<id>.jws.json the store does not know. Returns 1
 * adopted, 0 nothing to do (known, being signed by this benchd right now), -1 refused (moved to
 * reports/rejected/, logged with why), -2 the store failed (left in place for the next try).
 */
int cases_adopt_file(struct cases *c, const char *path, const char *id);
/* Adopt every such file of reports/ at least min_age_s seconds old (0: all). Returns how many. */
int cases_adopt_dir(struct cases *c, int min_age_s);
/* Queue the final reports that have no outbox row for a configured target (reports kept
 * locally before that target was configured). Returns how many. */
int cases_queue_unqueued(struct cases *c);
/* Close the open cases idle for [bench] case_idle_hours; publishes case.closed. Returns how many. */
int cases_close_idle(struct cases *c);

#endif
