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
	const struct config *cfg;
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

static void
send_one(struct outbox *ob, struct store_outbox_item *it)
{
	const struct config *cfg = ob->cfg;
	struct upload_opts o = {
	    .url = cfg->upload_url,
	    .token_file = cfg->token_file,
	    .ca_file = cfg->ca_file,
	    .timeout_s = cfg->upload_timeout,
	    .cancel = &ob->stop,
	};
	struct upload_answer ans;
	enum upload_verdict v;
	char why[512], act[96];
	int attempts = it->attempts + 1;
	long long delay;

	snprintf(act, sizeof(act), "uploading %s", it->report_id);
	set_activity(ob, act);
	if (store_outbox_attempt(ob->st, it->report_id) != STORE_OK) {
		log_warnx("outbox: cannot count the attempt for %s; trying again later", it->report_id);
		wait_ms(ob, 1000);
		return;
	}
	if (upload_post(&o, it->report_id, it->body, it->bodylen, &ans, why, sizeof(why)) != UPLOAD_OK) {
		/* A local problem (token): keep it pending, say what to fix. */
		delay = upload_backoff_ms(attempts, cfg->retry_min, cfg->retry_max, -1, rnd32());
		log_warnx("outbox: %s: not sent: %s; next try in %lld s", it->report_id, why, delay / 1000);
		store_outbox_result(ob->st, it->report_id, "pending", 0, why, store_now_ms() + delay);
		return;
	}
	if (ob->stop && ans.status == 0) {
		/* Aborted by shutdown: still pending, due at once on the next start. */
		store_outbox_result(ob->st, it->report_id, "pending", 0, ans.text, store_now_ms());
		upload_answer_clear(&ans);
		return;
	}
	clean_answer(ans.text);
	v = upload_classify(ans.status);
	switch (v) {
	case UPLOAD_DELIVERED:
		pthread_mutex_lock(&ob->mu);
		ob->pause_until = 0;
		pthread_mutex_unlock(&ob->mu);
		log_info("outbox: %s delivered (HTTP %d, attempt %d)", it->report_id, ans.status, attempts);
		store_outbox_result(ob->st, it->report_id, "delivered", ans.status, ans.text, store_now_ms());
		break;
	case UPLOAD_RETRY:
		delay = upload_backoff_ms(attempts, cfg->retry_min, cfg->retry_max, ans.retry_after, rnd32());
		if (ans.status)
			log_warnx("outbox: %s: HTTP %d, retrying in %.1f s (attempt %d%s)", it->report_id,
			          ans.status, (double)delay / 1000, attempts,
			          ans.retry_after >= 0 ? ", server's Retry-After" : "");
		else
			log_warnx("outbox: %s: %s, retrying in %.1f s (attempt %d)", it->report_id, ans.text,
			          (double)delay / 1000, attempts);
		store_outbox_result(ob->st, it->report_id, "pending", ans.status, ans.text,
		                    store_now_ms() + delay);
		/* 429, 503 or no answer at all: the whole server is busy or away, so the other
		 * reports wait too (a 500 may be about this one report: only it waits). */
		if (ans.status == 0 || ans.status == 429 || ans.status == 503) {
			pthread_mutex_lock(&ob->mu);
			ob->pause_until = store_now_ms() + delay;
			pthread_mutex_unlock(&ob->mu);
		}
		break;
	case UPLOAD_HELD:
		log_errorx(
		    "outbox: %s held: the server refused it with HTTP %d: %.200s (fix it, then `benchctl "
		    "outbox retry %s`)",
		    it->report_id, ans.status, ans.text, it->report_id);
		store_outbox_result(ob->st, it->report_id, "held", ans.status, ans.text, store_now_ms());
		break;
	}
	upload_answer_clear(&ans);
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
		r = store_outbox_next(ob->st, now, &it, &next_due);

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
outbox_start(struct store *st, const struct config *cfg, struct outbox **out, char *why, size_t whylen)
{
	struct outbox *ob = xcalloc(1, sizeof(*ob));
	pthread_condattr_t ca;
	int e;

	ob->st = st;
	ob->cfg = cfg;
	util_strlcpy(ob->activity, "idle", sizeof(ob->activity));
	pthread_mutex_init(&ob->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ob->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((e = pthread_create(&ob->thread, NULL, run, ob)) != 0) {
		snprintf(why, whylen, "cannot start the upload thread: %s", strerror(e));
		pthread_cond_destroy(&ob->cv);
		pthread_mutex_destroy(&ob->mu);
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
