/*
 * store: benchd's state in SQLite (<state-dir>/benchd.db): devices, sessions, reports and the
 * upload outbox (DESIGN.md 4.3b, 4.7).
 *
 * WAL journal, foreign keys on, busy_timeout, synchronous=FULL (a committed report survives a
 * power cut). The schema is versioned with PRAGMA user_version and upgraded by the migrations in
 * store.c, each in one transaction; a database newer than this benchd is refused, not touched.
 *
 * Threads: one connection behind a mutex held only for the length of a statement or a short
 * transaction, never across device I/O or HTTP. Every function may be called from any thread.
 * Ownership: store_open/store_close; json_t results belong to the caller.
 */
#ifndef BENCHD_STORE_H
#define BENCHD_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 2
#define STORE_ANSWER_MAX     2048 /* bytes of a server's answer kept in the outbox */

enum store_err {
	STORE_OK = 0,
	STORE_E_OPEN = -1,      /* cannot open or create the database */
	STORE_E_NEWER = -2,     /* the schema is newer than this benchd */
	STORE_E_FULL = -3,      /* disk full (or file size limit) */
	STORE_E_READONLY = -4,  /* read-only file or file system */
	STORE_E_IO = -5,        /* other disk I/O error */
	STORE_E_CORRUPT = -6,   /* the database is damaged */
	STORE_E_NOT_FOUND = -7, /* no such row */
	STORE_E_EXISTS = -8,    /* already there (unique key) */
	STORE_E_STATE = -9,     /* the row is not in a state that allows this */
	STORE_E_SQL = -10,      /* any other SQLite error */
};
const char *store_strerror(int err);

struct store;

/* Open (creating and migrating) the database at path. On failure a one-line reason in why. */
int store_open(const char *path, struct store **out, char *why, size_t whylen);
void store_close(struct store *st);
/* The schema version found on disk after opening (== STORE_SCHEMA_VERSION). */
int store_schema_version(struct store *st);

/* Wall-clock milliseconds since the epoch (outbox times survive restarts). */
int64_t store_now_ms(void);

/* A device seen (insert or update last_seen). mode/product_type may be NULL. */
int store_device_seen(struct store *st, const char *id, const char *mode, const char *product_type, char *why,
                      size_t whylen);

/* Sessions: begin returns the new id; end sets state (done|failed|unplugged|cancelled). */
int store_session_begin(struct store *st, const char *device, int64_t *id, char *why, size_t whylen);
int store_session_end(struct store *st, int64_t id, const char *state, const char *reason,
                      const char *report_id, char *why, size_t whylen);
/* Sessions still marked running (a crash): mark them failed with reason. Returns how many. */
int store_session_abandon_running(struct store *st, const char *reason);

struct store_report {
	const char *report_id;
	const char *device; /* may be NULL */
	const char *outcome;
	const char *path;       /* the exact signed bytes */
	const char *created_at; /* RFC 3339 from the report */
	const char *body;       /* the upload body, NULL: no upload configured */
	size_t bodylen;
};
/* Commit the report (and its outbox row when body is set) in one transaction. A report already
 * known gives STORE_E_EXISTS and changes nothing. */
int store_report_add(struct store *st, const struct store_report *r, char *why, size_t whylen);
/* 1 if known, 0 if not, negative on error. */
int store_report_known(struct store *st, const char *report_id);
/* Reports that have no outbox row (kept locally before an upload url was set): ids, paths. */
int store_reports_without_outbox(struct store *st, json_t **list);
/* Add an outbox row for a stored report. */
int store_outbox_add(struct store *st, const char *report_id, const char *body, size_t bodylen, char *why,
                     size_t whylen);

/* The next pending item due at or before now_ms. Returns STORE_OK with the item filled,
 * STORE_E_NOT_FOUND when none is due (then *next_due_ms is the earliest pending next_try, or
 * -1 when nothing is pending). body is malloc'd. */
struct store_outbox_item {
	char report_id[64];
	char *body;
	size_t bodylen;
	int attempts;
};
int store_outbox_next(struct store *st, int64_t now_ms, struct store_outbox_item *item, int64_t *next_due_ms);
void store_outbox_item_clear(struct store_outbox_item *item);
/* Count an attempt before it is made (attempts + 1), so a crash mid-send is still counted. */
int store_outbox_attempt(struct store *st, const char *report_id);
/* Record an answer: state "pending" (next_try set), "delivered" or "held". status 0 for no
 * HTTP answer (connection error); answer is truncated to STORE_ANSWER_MAX bytes. */
int store_outbox_result(struct store *st, const char *report_id, const char *state, int status,
                        const char *answer, int64_t next_try_ms);
/* benchctl outbox retry: a held or pending item becomes due now. STORE_E_NOT_FOUND, or
 * STORE_E_STATE when it was already delivered. */
int store_outbox_retry(struct store *st, const char *report_id);
/* Every held item becomes pending and due now. Returns how many, or a negative store_err. */
int store_outbox_retry_held(struct store *st);

/* Counts for status: {"pending":n,"held":n,"delivered":n}, {"reports":n,"sessions":n}. */
int store_counts(struct store *st, json_t **out);
/* The newest `limit` rows, as arrays of objects for the control socket. */
int store_sessions_list(struct store *st, int limit, json_t **out);
int store_outbox_list(struct store *st, int limit, json_t **out);

#endif
