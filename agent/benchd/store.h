/*
 * store: benchd's state in SQLite (<state-dir>/benchd.db): devices, sessions, cases, reports,
 * bookings and the outbox (DESIGN.md 4.3b, 4.7, 4.8; CONTRACTS.md 4).
 *
 * Schema (version 3):
 *   devices  (id PK: udid or ECID, mode, product_type, serial, ecid, model_name, first_seen,
 *             last_seen)
 *   sessions (id, device, started_at, ended_at, state, reason, report_id)
 *   cases    (case_id PK, device, serial, udid, ecid, ticket, lang, booking_id, state open|closed,
 *             opened_at, closed_at, closed_why, last_session_at, answers JSON, final_report_id,
 *             finished, latest_report_id, latest_revision): one visit of one device
 *   reports  (report_id PK, device, outcome, path, created_at, stored_at, case_id, revision,
 *             supersedes, final 0/1, waiting (why, or NULL), ticket, faults (JSON codes),
 *             serial, udid, ecid, product_type, model_name, captured_at, battery_serial,
 *             cycle_count, health_pct, nominal_capacity_mah, design_capacity_mah)
 *   bookings (id PK, kind serial|imei|udid, value (upper case, no spaces), ticket, lang, note,
 *             source manual|repairshopr|repairdesk, external_id, created_at, used_by case_id,
 *             used_at); a value is booked once while unused
 *   outbox   ((report_id, target) PK, target upload|fleet, body, attempts, next_try,
 *             last_status, last_answer, state pending|delivered|held, remote_id, phase,
 *             created_at, updated_at): only final reports get rows
 * Times in the store are Unix seconds (outbox: milliseconds); every list this module returns
 * gives them as RFC 3339 UTC strings.
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

#define STORE_SCHEMA_VERSION 3
#define STORE_ANSWER_MAX     2048 /* bytes of a server's answer kept in the outbox */
#define STORE_TICKET_MAX     64   /* bytes of a ticket */
#define STORE_ID_MAX         40   /* a case or report id (a UUID: 36) with its NUL */
#define STORE_NOTE_MAX       512  /* bytes of a booking's note */

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
/* What a session learned of a device (from its snapshot); NULL fields leave a column alone. */
struct store_device {
	const char *id; /* udid, or ECID for a USB-level device */
	const char *mode, *serial, *ecid, *product_type, *model_name;
};
int store_device_update(struct store *st, const struct store_device *d, char *why, size_t whylen);

/* Sessions: begin returns the new id; end sets state (done|failed|unplugged|cancelled). */
int store_session_begin(struct store *st, const char *device, int64_t *id, char *why, size_t whylen);
int store_session_end(struct store *st, int64_t id, const char *state, const char *reason,
                      const char *report_id, char *why, size_t whylen);
/* Sessions still marked running (a crash): mark them failed with reason. Returns how many. */
int store_session_abandon_running(struct store *st, const char *reason);

/* ---- cases ------------------------------------------------------------------------------ */

struct store_case {
	char case_id[STORE_ID_MAX];
	char device[80];                     /* the device id of the session that opened it */
	char serial[64], udid[80], ecid[40]; /* "" when unknown */
	char ticket[STORE_TICKET_MAX + 1];   /* "" for none */
	char lang[8];                        /* the customer's language (a booking's), "" for none */
	int64_t booking_id;                  /* 0 for none */
	int open;                            /* 1 open, 0 closed */
	int finished;                        /* benchctl finish was given */
	int64_t opened_at, closed_at, last_session_at; /* Unix seconds; closed_at 0 while open */
	json_t *answers;                               /* {key: value} every answer given so far (owned) */
	char latest_report_id[STORE_ID_MAX];           /* "" before the first report */
	int latest_revision;                           /* 0 before the first report */
	char final_report_id[STORE_ID_MAX];            /* the latest final revision, "" for none */
};
void store_case_clear(struct store_case *c);

/* A device as a session read it: any field NULL when unknown (device is required). */
struct store_case_key {
	const char *device, *udid, *serial, *ecid, *imei;
};
/*
 * A session's case: the device's open case (matched by udid, then serial, then ecid, then the
 * device id), continued (last_session_at = now); an open case idle for more than idle_s seconds
 * is closed first ("idle") and a new one opened. A new case takes the ticket and language of
 * the oldest unused booking that matches (serial, udid or imei), and that booking is marked
 * used by it, in the same transaction. *created is 1 for a new case.
 */
int store_case_for_session(struct store *st, const struct store_case_key *k, int64_t idle_s,
                           struct store_case *out, int *created, char *why, size_t whylen);
/* One case by id (STORE_E_NOT_FOUND). */
int store_case_get(struct store *st, const char *case_id, struct store_case *out);
/*
 * DEVICE (a case id, a report id, a UDID, a serial number or an ECID; letter case ignored) to
 * the one case it names: its open case, else its latest. STORE_E_NOT_FOUND when it names none
 * (why: "no open case for D: plug it in or give a report id"), STORE_E_EXISTS when it names
 * several open ones (why lists them), STORE_E_STATE for a report that belongs to no case.
 */
int store_case_resolve(struct store *st, const char *device, char case_id[STORE_ID_MAX], char *why,
                       size_t whylen);
/* A session of the case ended: last_session_at = now. */
int store_case_touch(struct store *st, const char *case_id);
/* Close every open case whose last session is more than idle_s seconds old ("idle"); *closed =
 * [{case_id, device}] (may be NULL). Returns how many, or a negative store_err. */
int store_cases_close_idle(struct store *st, int64_t idle_s, json_t **closed);
/* Cases, newest first: open ones only (open_only) or all; see commands.h "cases" for the rows. */
int store_cases_list(struct store *st, int open_only, int limit, json_t **out);
/*
 * benchctl finish: the case is finished and its report report_id (the latest) final now, with
 * outbox rows for targets when body is set. STORE_E_STATE when the report is final already
 * (nothing changes); STORE_E_NOT_FOUND when it is not the case's latest report.
 */
int store_case_finish(struct store *st, const char *case_id, const char *report_id, const char *body,
                      size_t bodylen, const char *const *targets, size_t ntargets, char *why, size_t whylen);

/* ---- reports ------------------------------------------------------------------------------ */

struct store_report {
	const char *report_id;
	const char *device; /* may be NULL */
	const char *outcome;
	const char *path;       /* the exact signed bytes */
	const char *created_at; /* RFC 3339 from the report */
	const char *body;       /* the upload body: the report is final and queued; NULL: not queued */
	size_t bodylen;
	/* The outbox targets a body is queued for; NULL/0 with a body: {"upload"}. */
	const char *const *targets;
	size_t ntargets;
	/* Cases (issue 12); all optional (NULL / 0 / -1: none). */
	const char *case_id;    /* the case it is a revision of (must exist unless case_create) */
	int revision;           /* 1, 2, ... (0: no case) */
	const char *supersedes; /* the case's previous report id */
	const char *ticket;     /* the report's case.ticket */
	int final;              /* 1: final (no question open, ticket if required, or finished) */
	const char *waiting;    /* why it is not final ("question open (k)", "no ticket") */
	const char *faults;     /* JSON array of the fault codes, e.g. ["BAT-001"] */
	const char *serial, *udid, *ecid, *product_type, *model_name, *captured_at;
	const char *snapshot_sha256;
	const char *battery_serial;
	double cycle_count, health_pct, nominal_capacity_mah, design_capacity_mah; /* -1: none */
	/* How the case changes with this revision (when it is the case's newest): */
	const json_t *case_answers; /* every answer so far; NULL: unchanged */
	const char *case_lang;      /* for case_create */
	int case_create;            /* adoption: create the case (open) when the store lacks it */
};
/* Fill the optional numbers with -1 (none). */
void store_report_init(struct store_report *r);
/*
 * Commit the report, its case's changes (latest revision, ticket, answers, final report) and its
 * outbox rows in one transaction. A report already known gives STORE_E_EXISTS and changes
 * nothing; a revision number the case already has gives STORE_E_EXISTS too.
 */
int store_report_add(struct store *st, const struct store_report *r, char *why, size_t whylen);
/* 1 if known, 0 if not, negative on error. */
int store_report_known(struct store *st, const char *report_id);
/* Final reports that have no outbox row for target (kept locally before that target was
 * configured): [{report_id, path}]. */
int store_reports_without_outbox(struct store *st, const char *target, json_t **list);
/* The signed file of a report (STORE_E_NOT_FOUND). */
int store_report_path(struct store *st, const char *report_id, char *path, size_t pathlen);
/* Report summaries, newest first: device (DEVICE as store_case_resolve takes it, or NULL for
 * all), since (RFC 3339, or NULL). Rows: {report_id, created_at, case_id, revision, supersedes,
 * ticket, outcome, faults, final, waiting, device, serial, product_type, model_name}. */
int store_reports_list(struct store *st, const char *device, const char *since, int limit, json_t **out);
/*
 * Every report of a device on this bench, all cases, oldest first. The device (DEVICE as
 * store_case_resolve takes it) is matched by serial number, then UDID, then ECID: *out =
 * {device{serial, udid, ecid, product_type, model_name}, reports[{created_at, report_id,
 * case_id, revision, ticket, outcome, faults, health_pct, cycle_count, battery_serial, final}]}.
 * STORE_E_NOT_FOUND when nothing on this bench matches.
 */
int store_history(struct store *st, const char *device, json_t **out, char *why, size_t whylen);
/*
 * DESIGN 4.9: this bench's earlier readings of a battery, oldest first: the reports with that
 * battery serial when it is known, else those of the device serial, else of the udid (any may be
 * NULL). One row per case (its latest revision carrying battery readings): [{at (the
 * snapshot's captured_at, else created_at), battery_serial, cycle_count, health_pct,
 * nominal_capacity_mah, design_capacity_mah}] (absent numbers are null).
 */
int store_battery_history(struct store *st, const char *serial, const char *udid, const char *battery_serial,
                          json_t **out);

/* ---- bookings ----------------------------------------------------------------------------- */

struct store_booking {
	const char *kind;  /* "serial", "imei" or "udid" */
	const char *value; /* normalised here: upper case, no spaces */
	const char *ticket;
	const char *lang;        /* NULL: none */
	const char *note;        /* NULL: none */
	const char *source;      /* NULL: "manual" */
	const char *external_id; /* the booking system's id, NULL for none */
};
/* Normalise a booked value: spaces dropped, upper case. Returns 0, or -1 when nothing is left
 * or it is longer than 64 bytes. */
int store_booking_normalise(const char *in, char *out, size_t outlen);
/* Add a booking; *id its id. STORE_E_EXISTS when that value is already booked and unused (why
 * names the booking and its ticket). */
int store_booking_add(struct store *st, const struct store_booking *b, int64_t *id, char *why, size_t whylen);
/* Every booking, unused first then used, newest first: [{id, kind, value, ticket, lang, note,
 * source, external_id, created_at, used_by, used_at}]. */
int store_bookings_list(struct store *st, json_t **out);
/* One booking as a row of store_bookings_list (STORE_E_NOT_FOUND). */
int store_booking_get(struct store *st, int64_t id, json_t **out);
/* Remove an unused booking. STORE_E_NOT_FOUND; STORE_E_STATE when it served a case already
 * (it stays, as the record of that case). */
int store_booking_remove(struct store *st, int64_t id, char *why, size_t whylen);
/*
 * The booking adapters' polling: the unused bookings of `source` become exactly `rows`
 * ([{kind, value, ticket, lang?, note?, external_id?}]), in one transaction. A row whose value
 * another source has booked, or that is malformed, is skipped (counted in *skipped, may be
 * NULL). Used bookings are never touched. Returns STORE_OK.
 */
int store_bookings_sync(struct store *st, const char *source, const json_t *rows, int *skipped, char *why,
                        size_t whylen);

/* ---- the outbox (one row per final report and target) ------------------------------------ */

#define STORE_TARGET_UPLOAD "upload"
#define STORE_TARGET_FLEET  "fleet"

/* Add an outbox row for a stored report. */
int store_outbox_add(struct store *st, const char *report_id, const char *target, const char *body,
                     size_t bodylen, char *why, size_t whylen);

/* The next pending item of target due at or before now_ms. Returns STORE_OK with the item
 * filled, STORE_E_NOT_FOUND when none is due (then *next_due_ms is the earliest pending
 * next_try, or -1 when nothing is pending). body is malloc'd. */
struct store_outbox_item {
	char report_id[64];
	char target[16];
	char *body;
	size_t bodylen;
	int attempts;
	char case_id[STORE_ID_MAX]; /* "" for a report without a case */
	int revision;
	char ticket[STORE_TICKET_MAX + 1];
};
int store_outbox_next(struct store *st, const char *target, int64_t now_ms, struct store_outbox_item *item,
                      int64_t *next_due_ms);
void store_outbox_item_clear(struct store_outbox_item *item);
/* Count an attempt before it is made (attempts + 1), so a crash mid-send is still counted. */
int store_outbox_attempt(struct store *st, const char *report_id, const char *target);
/* What a delivery attempt found. */
struct store_outbox_answer {
	const char *state;  /* "pending" (next_try set), "delivered" or "held" */
	int status;         /* HTTP status, 0 for no answer */
	const char *answer; /* cut to STORE_ANSWER_MAX bytes */
	int64_t next_try_ms;
	const char *remote_id; /* what the server calls it; NULL: unchanged */
	const char *phase;     /* adapter progress; NULL: unchanged */
};
/*
 * Record an answer. A delivery that completes the case (every row of the case's latest report
 * delivered, the report final) closes the case ("delivered") in the same transaction: then
 * closed_case (may be NULL) holds its id, else "".
 */
int store_outbox_result(struct store *st, const char *report_id, const char *target,
                        const struct store_outbox_answer *a, char closed_case[STORE_ID_MAX]);
/* benchctl outbox retry: a held or pending item (of target, or of every target when NULL)
 * becomes due now. STORE_E_NOT_FOUND, or STORE_E_STATE when it was already delivered. */
int store_outbox_retry(struct store *st, const char *report_id, const char *target);
/* Every held item (of target, or of all when NULL) becomes pending and due now. Returns how
 * many, or a negative store_err. */
int store_outbox_retry_held(struct store *st, const char *target);

/* Counts for status: {"outbox":{pending,held,delivered}, "targets":{T:{pending,held,delivered}},
 * "reports", "sessions_total", "devices", "cases_open", "waiting"}. */
int store_counts(struct store *st, json_t **out);
/* The newest `limit` rows, as arrays of objects for the control socket (times RFC 3339). */
int store_sessions_list(struct store *st, int limit, json_t **out);
int store_outbox_list(struct store *st, int limit, json_t **out);
/* Reports waiting for the technician: the latest report of each open case (and each report
 * without a case) that is not final: [{report_id, case_id, device, serial, model_name,
 * revision, ticket, why, created_at}], oldest first. */
int store_waiting_list(struct store *st, int limit, json_t **out);

#endif
