/*
 * outbox: the upload worker. One thread takes the next due item from the store's outbox, counts
 * the attempt, POSTs the stored body (upload.h) and records the answer: delivered, pending with
 * the next try (exponential backoff with jitter, or the server's Retry-After), or held with the
 * server's answer. After a 429, a 503 or no answer at all, the whole outbox pauses for that
 * delay (the server is busy or away); a 500 only delays its own report. Nothing is held locked
 * while a request is in flight.
 *
 * Items live in SQLite only, so a crash at any moment resumes with the same body under the
 * same Idempotency-Key. outbox_kick wakes the worker (a new report, `benchctl outbox retry`).
 * Ownership: outbox_start/outbox_stop; the store and config must outlive the outbox.
 */
#ifndef BENCHD_OUTBOX_H
#define BENCHD_OUTBOX_H

#include "config.h"
#include "store.h"

struct outbox;

int outbox_start(struct store *st, const struct config *cfg, struct outbox **out, char *why, size_t whylen);
void outbox_kick(struct outbox *ob);
/* `benchctl outbox retry`: wake and forget a server-wide pause (after a 429/503/no answer). */
void outbox_retry_now(struct outbox *ob);
/* Stop: an upload in flight is aborted (it stays pending); joins the thread. NULL is fine. */
void outbox_stop(struct outbox *ob);
/* For status: "idle", "uploading <report_id>" or "waiting"; copied into out. */
void outbox_activity(struct outbox *ob, char *out, size_t outlen);

#endif
