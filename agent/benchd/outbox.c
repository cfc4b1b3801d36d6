/* outbox: see outbox.h. */
#include "outbox.h"

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
	char *name, *kind, *url, *token_file, *ca_file;
	int timeout_s, retry_min, retry_max;
	long long min_gap_ms;    /* 60000 / rate_per_minute, 0 for none */
	long long last_start_ms; /* when the last request began (monotonic) */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
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

/* What one delivery attempt gave, whatever the adapter (CONTRACTS.md 5's booking_result). */
struct delivery {
	enum upload_verdict verdict;
	int status;       /* the last HTTP status, 0 for none */
	long retry_after; /* seconds, -1 for none */
	int server_wide;  /* pause the whole target */
	char remote_id[128];
	char phase[128];
	char *answer; /* the server's answer (bounded) or our reason, malloc'd */
};

/* The id a generic receiver gives the case: "case_id" or "id" in a JSON answer. */
static void
remote_id_of(const char *answer, char *out, size_t outlen)
{
	json_t *a = answer ? json_loads(answer, 0, NULL) : NULL, *v;

	out[0] = '\0';
	v = json_object_get(a, "case_id");
	if (v == NULL)
		v = json_object_get(a, "id");
	if (json_is_string(v))
		snprintf(out, outlen, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, outlen, "%lld", (long long)json_integer_value(v));
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	json_decref(a);
}

/*
 * The generic adapter (DESIGN 4.7): POST {url}/cases. Returns 0 with d filled, or -1 with why
 * for a local problem (an unreadable token): nothing was sent.
 */
static int
deliver_generic(struct outbox *ob, const struct store_outbox_item *it, struct delivery *d, char *why,
                size_t whylen)
{
	struct upload_opts o = {
	    .url = ob->url,
	    .token_file = ob->token_file,
	    .ca_file = ob->ca_file,
	    .timeout_s = ob->timeout_s,
	    .cancel = &ob->stop,
	};
	struct upload_answer ans;

	if (upload_post(&o, it->report_id, it->body, it->bodylen, &ans, why, whylen) != UPLOAD_OK)
		return -1;
	clean_answer(ans.text);
	d->status = ans.status;
	d->retry_after = ans.retry_after;
	d->verdict = upload_classify(ans.status);
	d->server_wide = ans.status == 0 || ans.status == 429 || ans.status == 503;
	if (d->verdict == UPLOAD_DELIVERED)
		remote_id_of(ans.text, d->remote_id, sizeof(d->remote_id));
	d->answer = ans.text;
	ans.text = NULL;
	upload_answer_clear(&ans);
	return 0;
}

static void
record(struct outbox *ob, const struct store_outbox_item *it, const char *state, int status,
       const char *answer, int64_t next_try, const char *remote_id)
{
	struct store_outbox_answer a = {.state = state,
	                                .status = status,
	                                .answer = answer,
	                                .next_try_ms = next_try,
	                                .remote_id = remote_id && remote_id[0] ? remote_id : NULL};
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
	struct delivery d;
	char why[512], act[96];
	int attempts = it->attempts + 1;
	long long delay, now;

	/* The client-side rate limit: requests at least min_gap_ms apart. */
	now = util_now_ms();
	if (ob->min_gap_ms > 0 && ob->last_start_ms > 0 && now - ob->last_start_ms < ob->min_gap_ms) {
		wait_ms(ob, ob->min_gap_ms - (now - ob->last_start_ms));
		if (ob->stop)
			return;
	}
	ob->last_start_ms = util_now_ms();
	snprintf(act, sizeof(act), "uploading %s", it->report_id);
	set_activity(ob, act);
	if (store_outbox_attempt(ob->st, it->report_id, ob->name) != STORE_OK) {
		log_warnx("outbox: cannot count the attempt for %s; trying again later", it->report_id);
		wait_ms(ob, 1000);
		return;
	}
	memset(&d, 0, sizeof(d));
	if (deliver_generic(ob, it, &d, why, sizeof(why)) < 0) {
		/* A local problem (token): keep it pending, say what to fix. */
		delay = upload_backoff_ms(attempts, ob->retry_min, ob->retry_max, -1, rnd32());
		log_warnx("outbox: %s: not sent: %s; next try in %lld s", it->report_id, why, delay / 1000);
		record(ob, it, "pending", 0, why, store_now_ms() + delay, NULL);
		return;
	}
	if (ob->stop && d.status == 0) {
		/* Aborted by shutdown: still pending, due at once on the next start. */
		record(ob, it, "pending", 0, d.answer, store_now_ms(), NULL);
		free(d.answer);
		return;
	}
	switch (d.verdict) {
	case UPLOAD_DELIVERED:
		pthread_mutex_lock(&ob->mu);
		ob->pause_until = 0;
		pthread_mutex_unlock(&ob->mu);
		log_info("outbox: %s delivered%s%s (HTTP %d, attempt %d%s%s)", it->report_id,
		         strcmp(ob->name, STORE_TARGET_UPLOAD) ? " to " : "",
		         strcmp(ob->name, STORE_TARGET_UPLOAD) ? ob->name : "", d.status, attempts,
		         d.remote_id[0] ? ", the server's id " : "", d.remote_id);
		record(ob, it, "delivered", d.status, d.answer, store_now_ms(), d.remote_id);
		break;
	case UPLOAD_RETRY:
		delay = upload_backoff_ms(attempts, ob->retry_min, ob->retry_max, d.retry_after, rnd32());
		if (d.status)
			log_warnx("outbox: %s: HTTP %d, retrying in %.1f s (attempt %d%s)", it->report_id,
			          d.status, (double)delay / 1000, attempts,
			          d.retry_after >= 0 ? ", server's Retry-After" : "");
		else
			log_warnx("outbox: %s: %s, retrying in %.1f s (attempt %d)", it->report_id, d.answer,
			          (double)delay / 1000, attempts);
		record(ob, it, "pending", d.status, d.answer, store_now_ms() + delay, NULL);
		/* 429, 503 or no answer at all: the whole server is busy or away, so the other
		 * reports wait too (a 500 may be about this one report: only it waits). */
		if (d.server_wide) {
			pthread_mutex_lock(&ob->mu);
			ob->pause_until = store_now_ms() + delay;
			pthread_mutex_unlock(&ob->mu);
		}
		break;
	case UPLOAD_HELD:
		log_errorx(
		    "outbox: %s held: the server refused it with HTTP %d: %.200s (fix it, then `benchctl "
		    "outbox retry %s`)",
		    it->report_id, d.status, d.answer, it->report_id);
		record(ob, it, "held", d.status, d.answer, store_now_ms(), NULL);
		break;
	}
	free(d.answer);
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

int
outbox_start(const struct outbox_opts *o, struct outbox **out, char *why, size_t whylen)
{
	struct outbox *ob = xcalloc(1, sizeof(*ob));
	pthread_condattr_t ca;
	int e;

	ob->st = o->st;
	ob->ev = o->ev;
	ob->cfg = o->cfg;
	ob->name = dup_or_empty(o->target.name ? o->target.name : STORE_TARGET_UPLOAD);
	ob->kind = dup_or_empty(o->target.kind ? o->target.kind : "generic");
	ob->url = dup_or_empty(o->target.url);
	ob->token_file = dup_or_empty(o->target.token_file);
	ob->ca_file = dup_or_empty(o->target.ca_file);
	ob->timeout_s = o->target.timeout_s > 0 ? o->target.timeout_s : 30;
	ob->retry_min = o->target.retry_min_s > 0 ? o->target.retry_min_s : 5;
	ob->retry_max = o->target.retry_max_s > 0 ? o->target.retry_max_s : 900;
	ob->min_gap_ms = o->target.rate_per_minute > 0 ? 60000LL / o->target.rate_per_minute : 0;
	if (strcmp(ob->kind, "generic") != 0)
		/* The booking adapters (RepairShopr, RepairDesk) plug in here (CONTRACTS.md 5). */
		log_warnx("outbox %s: kind '%s' has no adapter in this benchd: delivering as generic "
		          "(DESIGN 4.7)",
		          ob->name, ob->kind);
	util_strlcpy(ob->activity, "idle", sizeof(ob->activity));
	pthread_mutex_init(&ob->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ob->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((e = pthread_create(&ob->thread, NULL, run, ob)) != 0) {
		snprintf(why, whylen, "cannot start the %s thread: %s", ob->name, strerror(e));
		pthread_cond_destroy(&ob->cv);
		pthread_mutex_destroy(&ob->mu);
		free(ob->name);
		free(ob->kind);
		free(ob->url);
		free(ob->token_file);
		free(ob->ca_file);
		free(ob);
		return -1;
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
	pthread_mutex_unlock(&ob->mu);
	pthread_join(ob->thread, NULL);
	pthread_cond_destroy(&ob->cv);
	pthread_mutex_destroy(&ob->mu);
	free(ob->name);
	free(ob->kind);
	free(ob->url);
	free(ob->token_file);
	free(ob->ca_file);
	free(ob);
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
