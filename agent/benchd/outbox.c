/* outbox: see outbox.h. */
#include "outbox.h"

#include "booking.h"
#include "log.h"
#include "upload.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

struct outbox {
	struct store *st;
	struct events *ev;
	const struct config *cfg;
	/* the target, copied */
	char *name, *kind, *url;
	int retry_min, retry_max;
	struct booking *bk; /* the target's adapter, its rate limiter and ticket cache */
	int poll_seconds;   /* > 0: a poller thread turns open tickets into bookings */
	json_t *polled;     /* the poller's last rows (to tell a change) */
	pthread_t thread, poller;
	int polling;
	pthread_mutex_t mu;
	pthread_cond_t cv;  /* CLOCK_MONOTONIC */
	pthread_cond_t pcv; /* the poller's sleep (CLOCK_MONOTONIC) */
	int kicked;
	volatile int stop;
	int64_t pause_until; /* the server said it is busy or down: nothing is sent before (ms) */
	char activity[96];
};

static unsigned
rnd32(void)
{
	unsigned r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (unsigned)util_now_ms() * 2654435761u;
	return r;
}

static void
set_activity(struct outbox *ob, const char *what)
{
	pthread_mutex_lock(&ob->mu);
	util_strlcpy(ob->activity, what, sizeof(ob->activity));
	pthread_mutex_unlock(&ob->mu);
}

/*
 * A server's answer is shown on one log line and in `benchctl outbox`: control characters
 * become spaces, and text that is not UTF-8 keeps only its ASCII.
 */
static void
clean_answer(char *t)
{
	json_t *probe;
	size_t n;

	if (t == NULL)
		return;
	n = strlen(t);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			t[i] = ' ';
	probe = json_stringn(t, n);
	if (probe == NULL)
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)t[i] >= 0x80)
				t[i] = '?';
	json_decref(probe);
}

/* Sleep until `ms` from now, a kick or stop. */
static void
wait_ms(struct outbox *ob, long long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ob->mu);
	while (!ob->kicked && !ob->stop)
		if (pthread_cond_timedwait(&ob->cv, &ob->mu, &ts) == ETIMEDOUT)
			break;
	ob->kicked = 0;
	pthread_mutex_unlock(&ob->mu);
}

static void
record(struct outbox *ob, const struct store_outbox_item *it, const char *state, int status,
       const char *answer, int64_t next_try, const char *remote_id, const char *phase)
{
	struct store_outbox_answer a = {.state = state,
	                                .status = status,
	                                .answer = answer,
	                                .next_try_ms = next_try,
	                                .remote_id = remote_id && remote_id[0] ? remote_id : NULL,
	                                .phase = phase && phase[0] ? phase : NULL};
	char closed[STORE_ID_MAX];

	if (store_outbox_result(ob->st, it->report_id, ob->name, &a, closed) != STORE_OK)
		return;
	if (strcmp(state, "delivered") != 0)
		return;
	if (it->case_id[0]) {
		json_t *e = json_pack("{s:s, s:s, s:s}", "case_id", it->case_id, "report_id", it->report_id,
		                      "target", ob->name);
		if (remote_id && remote_id[0])
			json_object_set_new(e, "remote_id", json_string(remote_id));
		events_publish(ob->ev, EV_CASE_DELIVERED, e);
	}
	if (closed[0]) {
		log_info("case %s: its final report %s is delivered: case closed", closed, it->report_id);
		events_publish(ob->ev, EV_CASE_CLOSED,
		               json_pack("{s:s, s:s}", "case_id", closed, "why", "delivered"));
	}
}

static void
send_one(struct outbox *ob, struct store_outbox_item *it)
{
	struct booking_case bc;
	struct booking_result d;
	json_t *payload = NULL;
	char why[512], act[96];
	int attempts = it->attempts + 1;
	long long delay;

	snprintf(act, sizeof(act), "uploading %s", it->report_id);
	set_activity(ob, act);
	if (store_outbox_attempt(ob->st, it->report_id, ob->name) != STORE_OK) {
		log_warnx("outbox: cannot count the attempt for %s; trying again later", it->report_id);
		wait_ms(ob, 1000);
		return;
	}
	if (booking_case_parse(it->body, it->bodylen, &bc, &payload, why, sizeof(why)) != BOOKING_OK) {
		/* Never sendable: a person must look at it (the signed report is still in reports/). */
		log_errorx("outbox: %s held: %s", it->report_id, why);
		record(ob, it, "held", 0, why, store_now_ms(), NULL, NULL);
		return;
	}
	/* The adapter: generic (DESIGN 4.7), RepairShopr/Syncro or RepairDesk (4.11). Its rate
	 * limiter spaces the requests; it waits there, not here. */
	booking_deliver(ob->bk, &bc, &d);
	json_decref(payload);
	clean_answer(d.answer);
	if (ob->stop && d.verdict == BOOKING_RETRY && d.http_status == 0) {
		/* Aborted by shutdown: still pending, due at once on the next start. */
		record(ob, it, "pending", 0, d.answer, store_now_ms(), NULL, d.phase);
		booking_result_clear(&d);
		return;
	}
	switch (d.verdict) {
	case BOOKING_DELIVERED:
		pthread_mutex_lock(&ob->mu);
		ob->pause_until = 0;
		pthread_mutex_unlock(&ob->mu);
		log_info("outbox: %s delivered%s%s (HTTP %d, attempt %d%s%s)", it->report_id,
		         strcmp(ob->name, STORE_TARGET_UPLOAD) ? " to " : "",
		         strcmp(ob->name, STORE_TARGET_UPLOAD) ? ob->name : "", d.http_status, attempts,
		         d.phase[0] ? ": " : "", d.phase);
		record(ob, it, "delivered", d.http_status, d.answer, store_now_ms(), d.remote_id, d.phase);
		break;
	case BOOKING_RETRY:
		delay = upload_backoff_ms(attempts, ob->retry_min, ob->retry_max, d.retry_after_s, rnd32());
		if (d.http_status)
			log_warnx("outbox: %s: HTTP %d, retrying in %.1f s (attempt %d%s)", it->report_id,
			          d.http_status, (double)delay / 1000, attempts,
			          d.retry_after_s >= 0 ? ", server's Retry-After" : "");
		else
			log_warnx("outbox: %s: %s, retrying in %.1f s (attempt %d)", it->report_id, d.answer,
			          (double)delay / 1000, attempts);
		record(ob, it, "pending", d.http_status, d.answer, store_now_ms() + delay, NULL, d.phase);
		/* 429, 503 or no answer at all: the whole server is busy or away, so the other
		 * reports wait too (a 500 may be about this one report: only it waits). */
		if (d.server_wide) {
			pthread_mutex_lock(&ob->mu);
			ob->pause_until = store_now_ms() + delay;
			pthread_mutex_unlock(&ob->mu);
		}
		break;
	case BOOKING_WAIT:
		/* No ticket to put it on (the adapters never create one): linking the case makes a
		 * new revision, which is queued by itself. */
		log_warnx("outbox: %s: %s", it->report_id, d.answer);
		record(ob, it, "held", 0, d.answer, store_now_ms(), NULL, d.phase);
		break;
	case BOOKING_HELD:
	default:
		/* The answer says why (and the server's status, when it refused). */
		log_errorx("outbox: %s held: %.300s (fix it, then `benchctl outbox retry %s`)", it->report_id,
		           d.answer, it->report_id);
		record(ob, it, "held", d.http_status, d.answer, store_now_ms(), NULL, d.phase);
		break;
	}
	booking_result_clear(&d);
}

/* The poller: open tickets of the booking system become bookings (DESIGN 4.11). */
static void *
poll_run(void *arg)
{
	struct outbox *ob = arg;

	log_set_device(NULL);
	while (!ob->stop) {
		json_t *rows = NULL;
		char why[1024];
		struct timespec ts;
		int skipped = 0;

		if (booking_poll(ob->bk, &rows, why, sizeof(why)) == BOOKING_OK) {
			if (store_bookings_sync(ob->st, ob->kind, rows, &skipped, why, sizeof(why)) !=
			    STORE_OK) {
				log_warnx("bookings: cannot store the open tickets of %s: %s",
				          booking_system(ob->bk), why);
			} else if (ob->polled == NULL || !json_equal(ob->polled, rows)) {
				log_info("bookings: %zu device%s on open %s tickets%s", json_array_size(rows),
				         json_array_size(rows) == 1 ? "" : "s", booking_system(ob->bk),
				         skipped ? " (some already booked by hand: kept as they are)" : "");
				json_decref(ob->polled);
				ob->polled = json_incref(rows);
				events_publish(ob->ev, EV_BOOKING_CHANGED,
				               json_pack("{s:s, s:I}", "source", ob->kind, "bookings",
				                         (json_int_t)json_array_size(rows)));
			}
			json_decref(rows);
		} else if (!ob->stop) {
			log_warnx("bookings: cannot read the open tickets: %s; next try in %d s", why,
			          ob->poll_seconds);
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += ob->poll_seconds;
		pthread_mutex_lock(&ob->mu);
		while (!ob->stop)
			if (pthread_cond_timedwait(&ob->pcv, &ob->mu, &ts) == ETIMEDOUT)
				break;
		pthread_mutex_unlock(&ob->mu);
	}
	return NULL;
}

static void *
run(void *arg)
{
	struct outbox *ob = arg;

	log_set_device(NULL);
	while (!ob->stop) {
		struct store_outbox_item it;
		int64_t next_due, now = store_now_ms(), pause;
		int r;

		pthread_mutex_lock(&ob->mu);
		pause = ob->pause_until;
		pthread_mutex_unlock(&ob->mu);
		if (pause > now) {
			char act[96], when[32];
			util_rfc3339((time_t)(pause / 1000), when, sizeof(when));
			snprintf(act, sizeof(act), "paused until %s: the server is busy or unreachable",
			         when);
			set_activity(ob, act);
			wait_ms(ob, pause - now > 60000 ? 60000 : pause - now);
			continue;
		}
		r = store_outbox_next(ob->st, ob->name, now, &it, &next_due);

		if (r == STORE_OK) {
			send_one(ob, &it);
			store_outbox_item_clear(&it);
			continue;
		}
		set_activity(ob, next_due >= 0 ? "waiting" : "idle");
		if (r != STORE_E_NOT_FOUND) {
			log_warnx("outbox: cannot read the outbox: %s; trying again in 5 s",
			          store_strerror(r));
			wait_ms(ob, 5000);
			continue;
		}
		/* Nothing due: sleep until the next one is, at most a minute (clock changes). */
		wait_ms(ob, next_due < 0 ? 60000 : (next_due - now > 60000 ? 60000 : next_due - now + 1));
	}
	return NULL;
}

int
outbox_target_from_config(const struct config *cfg, const char *name, struct outbox_target *t)
{
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->timeout_s = cfg->upload_timeout;
	t->retry_min_s = cfg->retry_min;
	t->retry_max_s = cfg->retry_max;
	if (strcmp(name, STORE_TARGET_UPLOAD) == 0) {
		t->kind = cfg->upload_kind[0] ? cfg->upload_kind : "generic";
		t->url = cfg->upload_url;
		t->token_file = cfg->token_file;
		t->ca_file = cfg->ca_file;
		t->rate_per_minute = config_upload_rate(cfg);
		t->serial_field = cfg->serial_field;
		t->poll_seconds = cfg->poll_seconds;
	} else if (strcmp(name, STORE_TARGET_FLEET) == 0) {
		t->kind = "generic"; /* benchfleet speaks DESIGN 4.7 */
		t->url = cfg->fleet_url;
		t->token_file = cfg->fleet_token_file;
		t->ca_file = cfg->fleet_ca_file;
	} else {
		return -1;
	}
	return t->url && t->url[0] ? 0 : -1;
}

static char *
dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

static void
outbox_free(struct outbox *ob)
{
	pthread_cond_destroy(&ob->cv);
	pthread_cond_destroy(&ob->pcv);
	pthread_mutex_destroy(&ob->mu);
	booking_free(ob->bk);
	json_decref(ob->polled);
	free(ob->name);
	free(ob->kind);
	free(ob->url);
	free(ob);
}

int
outbox_start(const struct outbox_opts *o, struct outbox **out, char *why, size_t whylen)
{
	struct outbox *ob = xcalloc(1, sizeof(*ob));
	struct booking_opts bo;
	pthread_condattr_t ca;
	int e;

	ob->st = o->st;
	ob->ev = o->ev;
	ob->cfg = o->cfg;
	ob->name = dup_or_empty(o->target.name ? o->target.name : STORE_TARGET_UPLOAD);
	ob->kind = dup_or_empty(o->target.kind && o->target.kind[0] ? o->target.kind : "generic");
	ob->url = dup_or_empty(o->target.url);
	ob->retry_min = o->target.retry_min_s > 0 ? o->target.retry_min_s : 5;
	ob->retry_max = o->target.retry_max_s > 0 ? o->target.retry_max_s : 900;
	util_strlcpy(ob->activity, "idle", sizeof(ob->activity));
	pthread_mutex_init(&ob->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ob->cv, &ca);
	pthread_cond_init(&ob->pcv, &ca);
	pthread_condattr_destroy(&ca);
	memset(&bo, 0, sizeof(bo));
	bo.kind = ob->kind;
	bo.url = ob->url;
	bo.token_file = o->target.token_file;
	bo.ca_file = o->target.ca_file;
	bo.timeout_s = o->target.timeout_s > 0 ? o->target.timeout_s : 30;
	bo.rate_per_minute = o->target.rate_per_minute;
	bo.serial_field = o->target.serial_field;
	if (booking_new(&bo, &ob->bk, why, whylen) != BOOKING_OK) {
		outbox_free(ob);
		return -1;
	}
	if ((e = pthread_create(&ob->thread, NULL, run, ob)) != 0) {
		snprintf(why, whylen, "cannot start the %s thread: %s", ob->name, strerror(e));
		outbox_free(ob);
		return -1;
	}
	if (o->target.poll_seconds > 0 && strcmp(ob->kind, "generic") != 0) {
		ob->poll_seconds = o->target.poll_seconds;
		if (ob->poll_seconds < 30)
			log_warnx("bookings: polling %s every %d s spends much of the %d requests a minute "
			          "benchd allows itself there; 60 s or more is plenty for a shop",
			          booking_system(ob->bk), ob->poll_seconds, o->target.rate_per_minute);
		if ((e = pthread_create(&ob->poller, NULL, poll_run, ob)) != 0)
			log_warnx("bookings: cannot start the poller (%s): no bookings from %s tickets",
			          strerror(e), booking_system(ob->bk));
		else
			ob->polling = 1;
	} else if (o->target.poll_seconds > 0) {
		log_warnx("[upload] poll_seconds is set, but kind generic has no tickets to poll: set kind = "
		          "repairshopr or repairdesk");
	}
	*out = ob;
	return 0;
}

void
outbox_kick(struct outbox *ob)
{
	if (ob == NULL)
		return;
	pthread_mutex_lock(&ob->mu);
	ob->kicked = 1;
	pthread_cond_signal(&ob->cv);
	pthread_mutex_unlock(&ob->mu);
}

void
outbox_retry_now(struct outbox *ob)
{
	if (ob == NULL)
		return;
	pthread_mutex_lock(&ob->mu);
	ob->pause_until = 0;
	ob->kicked = 1;
	pthread_cond_signal(&ob->cv);
	pthread_mutex_unlock(&ob->mu);
}

void
outbox_stop(struct outbox *ob)
{
	if (ob == NULL)
		return;
	pthread_mutex_lock(&ob->mu);
	ob->stop = 1;
	pthread_cond_signal(&ob->cv);
	pthread_cond_signal(&ob->pcv);
	pthread_mutex_unlock(&ob->mu);
	booking_cancel(ob->bk); /* a request in flight (or waiting for the limiter) ends now */
	pthread_join(ob->thread, NULL);
	if (ob->polling)
		pthread_join(ob->poller, NULL);
	outbox_free(ob);
}

void
outbox_activity(struct outbox *ob, char *out, size_t outlen)
{
	if (ob == NULL) {
		util_strlcpy(out, "off (no [upload] url)", outlen);
		return;
	}
	pthread_mutex_lock(&ob->mu);
	util_strlcpy(out, ob->activity, outlen);
	pthread_mutex_unlock(&ob->mu);
}

const char *
outbox_name(const struct outbox *ob)
{
	return ob ? ob->name : NULL;
}

const char *
outbox_url(const struct outbox *ob)
{
	return ob ? ob->url : NULL;
}

const char *
outbox_kind(const struct outbox *ob)
{
	return ob ? ob->kind : NULL;
}

struct booking *
outbox_booking(struct outbox *ob)
{
	return ob ? ob->bk : NULL;
}
