/* rate: see rate.h. */
#include "rate.h"

#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct slot {
	long long done; /* when its last request ended (monotonic ms); 0: never used */
	int busy;       /* a request holds it now */
};

struct rate {
	pthread_mutex_t mu;
	int cap; /* per window, 0: none */
	long window_ms;
	struct slot *slots;
	long long blocked_until;
};

struct rate *
rate_new(int per_window, long window_ms)
{
	struct rate *r = xcalloc(1, sizeof(*r));

	pthread_mutex_init(&r->mu, NULL);
	r->cap = per_window > 0 ? per_window : 0;
	r->window_ms = window_ms > 0 ? window_ms : 60000;
	if (r->cap)
		r->slots = xcalloc((size_t)r->cap, sizeof(*r->slots));
	return r;
}

void
rate_free(struct rate *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->mu);
	free(r->slots);
	free(r);
}

/*
 * With the lock held: how long from now until a request may start, and the slot it would take
 * (-1 when there is no cap). A wait of 100 ms stands for "when a busy slot ends".
 */
static long long
due_in(const struct rate *r, long long now, int *slot)
{
	long long wait = r->blocked_until > now ? r->blocked_until - now : 0, best = -1;

	*slot = -1;
	if (r->cap == 0)
		return wait;
	for (int i = 0; i < r->cap; i++) {
		long long free_at;
		if (r->slots[i].busy)
			continue;
		free_at = r->slots[i].done ? r->slots[i].done + r->window_ms : 0;
		if (best < 0 || free_at < best) {
			best = free_at;
			*slot = i;
		}
	}
	if (*slot < 0)
		return wait > 100 ? wait : 100;
	return best - now > wait ? best - now : wait;
}

int
rate_take(struct rate *r, const volatile int *cancel, long max_wait_ms, long *wait_ms, int *slot)
{
	long long start = util_now_ms();

	*slot = -1;
	for (;;) {
		long long now = util_now_ms(), wait;
		struct timespec ts;
		int s;

		if (cancel && *cancel)
			return RATE_E_CANCELLED;
		pthread_mutex_lock(&r->mu);
		wait = due_in(r, now, &s);
		if (wait <= 0) {
			if (s >= 0)
				r->slots[s].busy = 1;
			pthread_mutex_unlock(&r->mu);
			*slot = s;
			if (wait_ms)
				*wait_ms = (long)(now - start);
			return RATE_OK;
		}
		pthread_mutex_unlock(&r->mu);
		if (max_wait_ms >= 0 && now + wait - start > max_wait_ms) {
			if (wait_ms)
				*wait_ms = (long)(now + wait - start);
			return RATE_E_BUSY;
		}
		/* Sleep in short steps so a shutdown is noticed at once. */
		if (wait > 100)
			wait = 100;
		ts.tv_sec = (time_t)(wait / 1000);
		ts.tv_nsec = (long)(wait % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
}

void
rate_done(struct rate *r, int slot)
{
	if (slot < 0 || slot >= r->cap)
		return;
	pthread_mutex_lock(&r->mu);
	r->slots[slot].done = util_now_ms();
	r->slots[slot].busy = 0;
	pthread_mutex_unlock(&r->mu);
}

void
rate_block(struct rate *r, long ms)
{
	long long until = util_now_ms() + (ms > 0 ? ms : 0);

	pthread_mutex_lock(&r->mu);
	if (until > r->blocked_until)
		r->blocked_until = until;
	pthread_mutex_unlock(&r->mu);
}

long
rate_wait_ms(struct rate *r)
{
	long long w;
	int s;

	pthread_mutex_lock(&r->mu);
	w = due_in(r, util_now_ms(), &s);
	pthread_mutex_unlock(&r->mu);
	return w > 0 ? (long)w : 0;
}
