/*
 * upload: one repair-case upload over HTTP(S) with libcurl (DESIGN.md 4.7), and the pure parts
 * of the policy: the case body, answer classification, backoff, Retry-After.
 *
 *   POST {url}/cases
 *   Authorization: Bearer <token_file, trimmed>
 *   Idempotency-Key: <report_id>
 *   Content-Type: application/json
 *   {"case": {ticket, bench_id, device {udid, serial, product_type, model_name}, outcome,
 *             faults [{code, severity, part}], case_id, revision, supersedes},
 *    "report": <the JWS object, its exact bytes>}
 * case_id, revision and supersedes (DESIGN 4.8) are the report's case fields, null for a report
 * made outside a case (benchctl run).
 *
 * The body is built once from the stored signed bytes (upload_build_body) and kept in the
 * outbox, so every retry sends the same bytes under the same key. 2xx or 409: delivered;
 * 429, 5xx, connection errors and timeouts: retried; any other answer: held.
 * Ownership: every char* returned is malloc'd for the caller.
 */
#ifndef BENCHD_UPLOAD_H
#define BENCHD_UPLOAD_H

#include <stddef.h>
#include <time.h>

#define UPLOAD_ANSWER_MAX 2048       /* bytes of a server's answer we keep */
#define UPLOAD_JWS_MAX    (8u << 20) /* the largest signed report we upload */

enum upload_err {
	UPLOAD_OK = 0,
	UPLOAD_E_MALFORMED = -1, /* the signed report is not a JWS over a benchd report */
	UPLOAD_E_TOKEN = -2,     /* token_file unreadable or empty */
};

/* What upload_build_body learned from the signed report. */
struct upload_meta {
	char report_id[64];
	char outcome[16];
	char created_at[40];
	char device[80]; /* udid, or ECID when there is no udid; "" if neither */
};

/* Build the body from the exact JWS bytes. Returns UPLOAD_OK or UPLOAD_E_MALFORMED (why set). */
int upload_build_body(const char *jws, size_t jwslen, char **body, size_t *bodylen, struct upload_meta *meta,
                      char *why, size_t whylen);

enum upload_verdict {
	UPLOAD_DELIVERED = 0,
	UPLOAD_RETRY = 1,
	UPLOAD_HELD = 2,
};
/* status 0 means no HTTP answer (connection error, timeout). */
enum upload_verdict upload_classify(int status);
const char *upload_verdict_name(enum upload_verdict v); /* "delivered", "pending", "held" */

/*
 * Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date. Returns 0 and *seconds (>= 0;
 * a date in the past gives 0), or -1 when the value is neither.
 */
int upload_parse_retry_after(const char *value, time_t now, long *seconds);

/*
 * Delay before the next try after `attempts` failed tries (>= 1): min * 2^(attempts-1) capped
 * at max (seconds), with "equal jitter": half fixed, half random from rnd (any 32-bit value).
 * A Retry-After (>= 0, or -1 for none) replaces it, at least 1 s, capped at max. Milliseconds.
 */
long long upload_backoff_ms(int attempts, int min_s, int max_s, long retry_after_s, unsigned rnd);

struct upload_opts {
	const char *url;        /* base; "/cases" is appended */
	const char *token_file; /* "" or NULL: no Authorization header */
	const char *ca_file;    /* "" or NULL: the system store */
	int timeout_s;
	volatile int *cancel; /* non-zero aborts a transfer (shutdown) */
};

struct upload_answer {
	int status;       /* HTTP status, 0 for none */
	long retry_after; /* seconds, -1 when absent */
	char *text;       /* the body (bounded), or the curl error; malloc'd, never NULL */
};
/* POST one body. Returns UPLOAD_OK when an answer (or a transport error) was recorded in ans;
 * UPLOAD_E_TOKEN with why when the token cannot be read. */
int upload_post(const struct upload_opts *o, const char *report_id, const char *body, size_t bodylen,
                struct upload_answer *ans, char *why, size_t whylen);
void upload_answer_clear(struct upload_answer *ans);

/* Read and trim the token file (at most 4 KiB). Returns 0 or -1 with why. */
int upload_read_token(const char *path, char **token, char *why, size_t whylen);

#endif
