/*
 * ingest: one POST /cases (DESIGN.md 4.7 and 4.12), from the request's headers and body to the
 * HTTP answer. Verification at the door, then one transaction:
 *
 *   no or unknown bearer token, revoked bench             401
 *   body not JSON {"case": {...}, "report": {...}}        400
 *   no Idempotency-Key                                    400
 *   the JWS does not verify with the token's bench key    422  (altered, another bench's key,
 *     (kid equal to the key's thumbprint), is not a            wrong kid, alg, typ, ...)
 *     benchd.report/1, lacks a field we store, or the
 *     Idempotency-Key is not its report_id
 *   another signed report under a stored report_id        422
 *   the same signed report again (a retry)                200, nothing stored
 *   stored                                                201
 *   PostgreSQL unreachable, shutting down, full           503  (the bench retries)
 *
 * What is stored comes from the signed payload only; the body's "case" member (derived by the
 * bench from the same report, unsigned) is checked to be an object and otherwise ignored.
 * Answers are one line of JSON: {"ok":true,"report_id",...} or {"ok":false,"error":"..."}.
 */
#ifndef BENCHFLEET_INGEST_H
#define BENCHFLEET_INGEST_H

#include "fleetdb.h"

#include <stddef.h>

/* The largest body accepted: the bench's JWS cap (UPLOAD_JWS_MAX, 8 MiB) plus the 1 MiB it
 * allows for the case around it (agent/benchd/upload.c). Larger: 413. */
#define INGEST_BODY_MAX ((8u << 20) + (1u << 20))

struct ingest_answer {
	int status;
	char *json; /* one line, malloc'd */
};

/* authorization and idempotency_key are the header values (NULL when absent). */
void ingest_request(struct fleetpool *pool, const char *authorization, const char *idempotency_key,
                    const char *body, size_t bodylen, struct ingest_answer *ans);
void ingest_answer_clear(struct ingest_answer *ans);

/* A one-line {"ok":false,"error":msg} answer with status (malloc'd json). */
void ingest_error(struct ingest_answer *ans, int status, const char *msg);

#endif
