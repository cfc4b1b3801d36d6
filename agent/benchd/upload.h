/*
 * upload: what every outbox row holds and how long it waits: the stored case body (DESIGN.md
 * 4.7) and the retry backoff. Sending it is the booking adapters' (agent/booking: the generic
 * adapter POSTs this body as it is; RepairShopr and RepairDesk read the report inside it).
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
 * outbox, so every retry sends the same bytes under the same key.
 * Ownership: every char* returned is malloc'd for the caller.
 */
#ifndef BENCHD_UPLOAD_H
#define BENCHD_UPLOAD_H

#include <stddef.h>
#include <time.h>

#define UPLOAD_JWS_MAX (8u << 20) /* the largest signed report we upload */

enum upload_err {
	UPLOAD_OK = 0,
	UPLOAD_E_MALFORMED = -1, /* the signed report is not a JWS over a benchd report */
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

/*
 * Delay before the next try after `attempts` failed tries (>= 1): min * 2^(attempts-1) capped
 * at max (seconds), with "equal jitter": half fixed, half random from rnd (any 32-bit value).
 * A Retry-After (>= 0, or -1 for none) replaces it, at least 1 s, capped at max. Milliseconds.
 */
long long upload_backoff_ms(int attempts, int min_s, int max_s, long retry_after_s, unsigned rnd);

#endif
