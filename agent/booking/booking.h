/*
 * booking: one final report into the shop's booking system (DESIGN.md 4.11). One small adapter
 * per system behind one interface; the outbox (store, retry, hold, exactly once) stays shared and
 * calls booking_deliver for each item it owns.
 *
 *   generic      POST {url}/cases with the stored 4.7 body (Idempotency-Key: report id)
 *   repairshopr  RepairShopr and Syncro: Bearer token; ticket number -> id; a hidden,
 *                do-not-email comment on the ticket, unless one already names the report
 *   repairdesk   api_key query parameter; "T-12353" -> numeric id (paged, cached); a
 *                diagnostic note (type 1) on the ticket, unless one already names the report
 *
 * The booking systems have no idempotency key: the adapters read the ticket's comments or notes
 * before they write and post nothing when one carries this report's marker line
 * ("benchd report <report_id>"), so a crash between the server's answer and the outbox's commit
 * never makes a second comment. They never create tickets: a case without one waits.
 *
 * Every request of one booking object passes one client-side rate limiter (rate_per_minute in
 * any 60 s window; a 429 with Retry-After stops every request of the object until then), so
 * deliveries, polls and checks together stay under the system's published limit.
 *
 * Threads: one booking object may be used from several threads at once (the outbox worker,
 * the poller, `benchctl upload check`). Ownership: booking_new/booking_free; every json_t and
 * char* handed out belongs to the caller.
 */
#ifndef BENCHD_BOOKING_H
#define BENCHD_BOOKING_H

#include <jansson.h>
#include <stddef.h>

#define BOOKING_ANSWER_MAX 2048 /* bytes of a server's answer (or our reason) kept */

enum booking_err {
	BOOKING_OK = 0,
	BOOKING_E_KIND = -1,        /* not generic, repairshopr or repairdesk */
	BOOKING_E_URL = -2,         /* the url is not https:// (or http:// to loopback) */
	BOOKING_E_UNSUPPORTED = -3, /* this kind cannot do that (generic has no tickets to poll) */
	BOOKING_E_FAILED = -4,      /* the booking system could not be asked, or refused (why) */
	BOOKING_E_MALFORMED = -5,   /* a stored body that is not a case with a signed report */
};
const char *booking_strerror(int err);

enum booking_verdict {
	BOOKING_DELIVERED = 0, /* on the ticket (or accepted by the receiver) */
	BOOKING_RETRY = 1,     /* try again later (429, 5xx, no answer, shutting down) */
	BOOKING_HELD = 2,      /* refused: a person must fix the cause (answer says what) */
	BOOKING_WAIT = 3,      /* cannot be delivered yet: no ticket on the case */
};
const char *booking_verdict_name(int verdict); /* delivered, retry, held, waiting */

/* What booking_new needs of one target ([upload] or [fleet]). Strings are copied. */
struct booking_opts {
	const char *kind;         /* "generic" (also for NULL or ""), "repairshopr", "repairdesk" */
	const char *url;          /* the API base, e.g. https://shop.repairshopr.com/api/v1 */
	const char *token_file;   /* re-read for every request; "" or NULL: none */
	const char *ca_file;      /* "" or NULL: the system store */
	int timeout_s;            /* the most one request may take (default 30) */
	int rate_per_minute;      /* client-side cap in any 60 s window; 0: none */
	const char *serial_field; /* RepairShopr's ticket field holding an IMEI or serial */
};

/* What the adapter needs of one final report. */
struct booking_case {
	const char *report_id, *case_id, *ticket; /* case_id, ticket may be NULL */
	int revision;                             /* 1, 2, ...; 0 when the report has none */
	const char *supersedes;                   /* the previous report of the case, or NULL */
	const char *body;                         /* the stored 4.7 upload body (case + JWS) */
	size_t bodylen;
	const json_t *report; /* the signed payload, parsed (read-only) */
};

struct booking_result {
	int verdict;         /* enum booking_verdict */
	int http_status;     /* the last HTTP status seen, 0 for none */
	long retry_after_s;  /* the server's Retry-After, -1 none */
	int server_wide;     /* 1: the whole outbox should pause (429, 503, no answer) */
	char remote_id[128]; /* the receiver's case id, the comment or note id */
	char phase[128];     /* adapter progress to keep ("ticket T-12353 is id 88") */
	char *answer;        /* at most BOOKING_ANSWER_MAX bytes: what happened (malloc'd) */
};
void booking_result_clear(struct booking_result *r);

struct booking;

/* Returns BOOKING_OK, BOOKING_E_KIND or BOOKING_E_URL with a one-line reason in why. */
int booking_new(const struct booking_opts *o, struct booking **out, char *why, size_t whylen);
void booking_free(struct booking *b); /* NULL is fine */
const char *booking_kind(const struct booking *b);
/* Abort every request in flight and refuse new ones (shutdown); from any thread. */
void booking_cancel(struct booking *b);
/* How messages name the system: "RepairShopr", "Syncro", "RepairDesk", "the case receiver". */
const char *booking_system(const struct booking *b);

/* Deliver one final report. Always fills r (r->answer set); returns BOOKING_OK. */
int booking_deliver(struct booking *b, const struct booking_case *c, struct booking_result *r);

/*
 * `benchctl upload check`: one authenticated read. Returns 0 with what was found in msg
 * ("RepairShopr at https://...: token accepted, 37 open tickets") or -1 with why it failed.
 */
int booking_check(struct booking *b, char *msg, size_t msglen);

/*
 * Bookings from open tickets. On success *rows is an array of
 *   {"kind": "imei"|"serial", "value": normalised, "ticket": the number staff see,
 *    "external_id": the system's ticket id, "note": "RepairShopr ticket 4711: <subject>"}
 * one per IMEI or serial found on an open ticket (closed tickets never). Returns BOOKING_OK,
 * BOOKING_E_UNSUPPORTED (generic) or BOOKING_E_FAILED with why.
 */
int booking_poll(struct booking *b, json_t **rows, char *why, size_t whylen);

/*
 * The case fields of a stored upload body ({"case": {...}, "report": <JWS>}): decodes the JWS
 * payload into *payload (the caller's, to json_decref after c is no longer used) and points
 * c's strings into it. Returns BOOKING_OK or BOOKING_E_MALFORMED with why.
 */
int booking_case_parse(const char *body, size_t bodylen, struct booking_case *c, json_t **payload, char *why,
                       size_t whylen);

/*
 * The plain-text summary a person reads in the ticket (malloc'd): outcome, each fault with its
 * part, battery health and cycles, the report and case ids, how to verify the signature. It
 * holds the marker line "benchd report <report_id>" that read-before-write looks for.
 */
char *booking_summary_text(const struct booking_case *c);
/* 1 when the comment or note object names report_id in its marker line, else 0. */
int booking_names_report(const json_t *comment, const char *report_id);

/* Read and trim a token file (at most 4 KiB, no inner spaces). Returns 0 or -1 with why. */
int booking_read_token(const char *path, char **token, char *why, size_t whylen);

/*
 * An IMEI or serial from a ticket field, normalised (upper case, no spaces or dashes): returns
 * "imei" (15 digits), "serial" (8-20 letters and digits, at least one of each) or NULL.
 */
const char *booking_classify_device_id(const char *raw, char *out, size_t outlen);

#endif
