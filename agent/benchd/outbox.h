/*
 * outbox: one delivery worker per target (CONTRACTS.md 4): "upload" ([upload]: the booking
 * system, or the generic repair-case receiver of DESIGN 4.7) and "fleet" ([fleet]: benchfleet,
 * DESIGN 4.12), each with its own rows in the store and its own pause state. A worker takes the
 * next due row of its target, counts the attempt, delivers the stored body through the target's
 * adapter (agent/booking: generic, repairshopr or repairdesk) and records the answer: delivered
 * (with the server's id for the case or comment, remote_id, and the adapter's phase), pending with the next
 * try (exponential backoff with jitter, or the server's Retry-After), or held with the server's answer. After
 * a 429, a 503 or no answer at all, that target pauses for that delay (the server is busy or away); a 500
 * only delays its own report. The adapter's rate limiter (rate_per_minute) keeps every request of the target
 * under the cap. A report the adapter cannot place (no ticket) is held with "waiting: no ticket". Nothing is
 * held locked while a request is in flight.
 *
 * With poll_seconds > 0 and a booking system (not generic), a second thread reads its open
 * tickets every poll_seconds and makes them the bookings of that source (store_bookings_sync),
 * publishing booking.changed when they change.
 *
 * Rows live in SQLite only, so a crash at any moment resumes with the same body under the same
 * Idempotency-Key (the report id). A delivery that completes a case closes it (store.h) and
 * publishes case.delivered and case.closed (events.h). outbox_kick wakes the worker (a new final
 * report, `benchctl outbox retry`).
 * Ownership: outbox_start/outbox_stop; the store and the events bus must outlive the outbox; the
 * target's strings are copied.
 */
#ifndef BENCHD_OUTBOX_H
#define BENCHD_OUTBOX_H

#include "config.h"
#include "events.h"
#include "store.h"

struct outbox;

struct outbox_target {
	const char *name;       /* STORE_TARGET_UPLOAD or STORE_TARGET_FLEET: the rows it delivers */
	const char *kind;       /* the adapter: "generic" (DESIGN 4.7), "repairshopr", "repairdesk" */
	const char *url;        /* base; POST {url}/cases for generic */
	const char *token_file; /* "" or NULL: no Authorization header */
	const char *ca_file;    /* "" or NULL: the system store */
	int timeout_s;          /* the most one request may take */
	int retry_min_s, retry_max_s;
	int rate_per_minute;      /* requests per minute at most (0: no limit) */
	const char *serial_field; /* the ticket field that holds an IMEI or serial (repairshopr) */
	int poll_seconds;         /* > 0: bookings from open tickets every poll_seconds */
};
/* The target `name` as the configuration describes it ([upload] or [fleet]); 0, or -1 when that
 * target is not configured (no url). The strings point into cfg. */
int outbox_target_from_config(const struct config *cfg, const char *name, struct outbox_target *t);

struct outbox_opts {
	struct store *st;
	struct events *ev; /* may be NULL */
	const struct config *cfg;
	struct outbox_target target;
};

int outbox_start(const struct outbox_opts *o, struct outbox **out, char *why, size_t whylen);
void outbox_kick(struct outbox *ob);
/* `benchctl outbox retry`: wake and forget a server-wide pause (after a 429/503/no answer). */
void outbox_retry_now(struct outbox *ob);
/* Stop: an upload in flight is aborted (it stays pending); joins the thread. NULL is fine. */
void outbox_stop(struct outbox *ob);
/* For status: "idle", "uploading <report_id>" or "waiting"; copied into out. NULL ob: "off". */
void outbox_activity(struct outbox *ob, char *out, size_t outlen);
/* The target's name and url (NULL ob: NULL). */
const char *outbox_name(const struct outbox *ob);
const char *outbox_url(const struct outbox *ob);
/* The target's adapter kind, and the adapter itself (`benchctl upload check`); NULL ob: NULL. */
const char *outbox_kind(const struct outbox *ob);
struct booking *outbox_booking(struct outbox *ob);

#endif
