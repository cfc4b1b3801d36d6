/*
 * rate: a client-side request cap shared by every request to one booking system.
 *
 * At most `per_window` requests in any window of `window_ms`, as the server counts them: each
 * request holds one of per_window slots from rate_take until rate_done, and the slot is free
 * again only `window_ms` after rate_done. A request reaches the server between the two, so no
 * window the server may count (sliding or by the minute) sees more than per_window arrivals,
 * however long the requests take. rate_block stops every request until a time (a 429's
 * Retry-After). Thread-safe; rate_take sleeps without the lock and gives up when *cancel is set.
 * Ownership: rate_new/rate_free.
 */
#ifndef BENCHD_RATE_H
#define BENCHD_RATE_H

enum rate_err {
	RATE_OK = 0,
	RATE_E_CANCELLED = -1, /* *cancel became non-zero while waiting */
	RATE_E_BUSY = -2,      /* the wait would be longer than max_wait_ms */
};

struct rate;

/* per_window 0: no cap (rate_block still applies). */
struct rate *rate_new(int per_window, long window_ms);
void rate_free(struct rate *r);
/*
 * Wait for a slot and take it. max_wait_ms < 0: wait as long as needed. Returns RATE_OK with
 * *slot to hand to rate_done, RATE_E_CANCELLED, or RATE_E_BUSY with *wait_ms (may be NULL) how
 * long it would have waited.
 */
int rate_take(struct rate *r, const volatile int *cancel, long max_wait_ms, long *wait_ms, int *slot);
/* The request of slot has ended (answered or failed): its window starts now. */
void rate_done(struct rate *r, int slot);
/* No request starts for the next ms milliseconds (a later block never shortens an earlier one). */
void rate_block(struct rate *r, long ms);
/* Milliseconds until the next request may start (0: now). */
long rate_wait_ms(struct rate *r);

#endif
