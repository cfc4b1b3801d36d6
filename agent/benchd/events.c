/* events: see events.h. */
#include "events.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* One published event, shared by every queue that holds it (refs counted under the bus lock). */
struct node {
	uint64_t seq;
	char type[EVENTS_TYPE_MAX];
	char *json;
	size_t len;
	int refs;
};

struct events_sub {
	struct events *bus;
	struct events_sub *next;
	struct node *q[EVENTS_QUEUE_MAX + 1]; /* +1: room for the events.dropped notice */
	size_t head, n;
	int dropped; /* no more events are queued; the notice is (or was) the last */
	int fd;      /* eventfd: readable while n > 0 or closed */
};

struct events {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC: something was queued, or shutdown */
	uint64_t seq;
	int shut;
	struct events_sub *subs;
	struct node *keep[EVENTS_KEEP]; /* ring of the last EVENTS_KEEP events */
	size_t keep_head, keep_n;
};

#define QCAP (EVENTS_QUEUE_MAX + 1)

static void
unref(struct node *n)
{
	if (n != NULL && --n->refs == 0) {
		free(n->json);
		free(n);
	}
}

static void
sub_signal(struct events_sub *s)
{
	uint64_t one = 1;

	if (write(s->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("events: eventfd write: %s", strerror(errno));
}

static void
sub_unsignal(struct events_sub *s)
{
	uint64_t v;

	if (read(s->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("events: eventfd read: %s", strerror(errno));
}

/* Append to a subscriber's queue (bus lock held). */
static void
push(struct events_sub *s, struct node *n)
{
	n->refs++;
	s->q[(s->head + s->n) % QCAP] = n;
	s->n++;
	if (s->n == 1)
		sub_signal(s);
}

static struct node *
node_new(uint64_t seq, const char *type, json_t *obj)
{
	struct node *n = xcalloc(1, sizeof(*n));

	n->refs = 1; /* the creator's, given up with unref */
	n->seq = seq;
	util_strlcpy(n->type, type, sizeof(n->type));
	n->json = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (n->json == NULL)
		n->json = xasprintf("{\"type\":\"%s\",\"seq\":%llu,\"error\":\"cannot encode\"}", n->type,
		                    (unsigned long long)seq);
	n->len = strlen(n->json);
	return n;
}

/* Drop a subscriber that fell behind: empty its queue, leave one notice (bus lock held). */
static void
drop_sub(struct events_sub *s)
{
	struct node *notice;
	json_t *o;
	char at[32];

	while (s->n > 0) {
		unref(s->q[s->head]);
		s->head = (s->head + 1) % QCAP;
		s->n--;
	}
	s->dropped = 1;
	util_rfc3339(time(NULL), at, sizeof(at));
	o = json_pack("{s:s, s:s, s:I, s:s}", "type", EV_EVENTS_DROPPED, "at", at, "seq",
	              (json_int_t)s->bus->seq, "reason",
	              "this subscriber fell 1000 events behind and was dropped: subscribe again");
	notice = node_new(s->bus->seq, EV_EVENTS_DROPPED, o);
	json_decref(o);
	s->head = 0;
	push(s, notice); /* takes its own reference */
	unref(notice);
	log_warnx("events: a subscriber fell %d events behind: dropped", EVENTS_QUEUE_MAX);
}

struct events *
events_new(void)
{
	struct events *ev = xcalloc(1, sizeof(*ev));
	pthread_condattr_t ca;

	pthread_mutex_init(&ev->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ev->cv, &ca);
	pthread_condattr_destroy(&ca);
	return ev;
}

void
events_shutdown(struct events *ev)
{
	if (ev == NULL)
		return;
	pthread_mutex_lock(&ev->mu);
	ev->shut = 1;
	for (struct events_sub *s = ev->subs; s; s = s->next)
		sub_signal(s);
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
}

void
events_free(struct events *ev)
{
	if (ev == NULL)
		return;
	if (ev->subs != NULL)
		log_warnx("events: freed with subscribers still attached");
	for (size_t i = 0; i < ev->keep_n; i++)
		unref(ev->keep[(ev->keep_head + i) % EVENTS_KEEP]);
	pthread_cond_destroy(&ev->cv);
	pthread_mutex_destroy(&ev->mu);
	free(ev);
}

uint64_t
events_publish(struct events *ev, const char *type, json_t *data)
{
	json_t *o;
	struct node *n;
	const char *k;
	json_t *v;
	char at[32];
	uint64_t seq;

	if (ev == NULL || type == NULL || strlen(type) >= EVENTS_TYPE_MAX) {
		json_decref(data);
		return 0;
	}
	util_rfc3339(time(NULL), at, sizeof(at));
	pthread_mutex_lock(&ev->mu);
	if (ev->shut) {
		pthread_mutex_unlock(&ev->mu);
		json_decref(data);
		return 0;
	}
	seq = ++ev->seq;
	o = json_pack("{s:s, s:s, s:I}", "type", type, "at", at, "seq", (json_int_t)seq);
	if (json_is_object(data))
		json_object_foreach(data, k, v)
		{
			if (strcmp(k, "type") != 0 && strcmp(k, "at") != 0 && strcmp(k, "seq") != 0)
				json_object_set(o, k, v);
		}
	n = node_new(seq, type, o);
	json_decref(o);
	/* Keep it for catch-ups. */
	if (ev->keep_n == EVENTS_KEEP) {
		unref(ev->keep[ev->keep_head]);
		ev->keep_head = (ev->keep_head + 1) % EVENTS_KEEP;
		ev->keep_n--;
	}
	n->refs++;
	ev->keep[(ev->keep_head + ev->keep_n) % EVENTS_KEEP] = n;
	ev->keep_n++;
	for (struct events_sub *s = ev->subs; s; s = s->next) {
		if (s->dropped)
			continue;
		if (s->n >= EVENTS_QUEUE_MAX)
			drop_sub(s);
		else
			push(s, n);
	}
	unref(n);
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
	json_decref(data);
	return seq;
}

uint64_t
events_last_seq(struct events *ev)
{
	uint64_t s;

	pthread_mutex_lock(&ev->mu);
	s = ev->seq;
	pthread_mutex_unlock(&ev->mu);
	return s;
}

struct events_sub *
events_subscribe(struct events *ev, uint64_t since)
{
	struct events_sub *s;

	if (ev == NULL)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->bus = ev;
	s->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->fd < 0) {
		log_warn("events: eventfd");
		free(s);
		return NULL;
	}
	pthread_mutex_lock(&ev->mu);
	if (ev->shut) {
		pthread_mutex_unlock(&ev->mu);
		close(s->fd);
		free(s);
		return NULL;
	}
	if (since > 0)
		for (size_t i = 0; i < ev->keep_n; i++) {
			struct node *n = ev->keep[(ev->keep_head + i) % EVENTS_KEEP];
			if (n->seq > since)
				push(s, n);
		}
	s->next = ev->subs;
	ev->subs = s;
	pthread_mutex_unlock(&ev->mu);
	return s;
}

void
events_unsubscribe(struct events_sub *s)
{
	struct events *ev;

	if (s == NULL)
		return;
	ev = s->bus;
	pthread_mutex_lock(&ev->mu);
	for (struct events_sub **pp = &ev->subs; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	while (s->n > 0) {
		unref(s->q[s->head]);
		s->head = (s->head + 1) % QCAP;
		s->n--;
	}
	pthread_mutex_unlock(&ev->mu);
	close(s->fd);
	free(s);
}

int
events_sub_fd(const struct events_sub *s)
{
	return s->fd;
}

int
events_next(struct events_sub *s, int timeout_ms, struct events_msg *m)
{
	struct events *ev = s->bus;
	struct timespec ts;
	struct node *n;
	int r;

	memset(m, 0, sizeof(*m));
	if (timeout_ms > 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += timeout_ms / 1000;
		ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&ev->mu);
	while (s->n == 0 && !s->dropped && !ev->shut && timeout_ms != 0) {
		if (timeout_ms < 0)
			pthread_cond_wait(&ev->cv, &ev->mu);
		else if (pthread_cond_timedwait(&ev->cv, &ev->mu, &ts) == ETIMEDOUT)
			break;
	}
	if (s->n > 0) {
		n = s->q[s->head];
		s->head = (s->head + 1) % QCAP;
		s->n--;
		m->seq = n->seq;
		util_strlcpy(m->type, n->type, sizeof(m->type));
		m->json = xstrdup(n->json);
		m->len = n->len;
		unref(n);
		r = 1;
	} else {
		r = s->dropped || ev->shut ? -1 : 0;
	}
	/* The fd stays readable while something is left to take (or the subscriber is closed). */
	if (s->n == 0 && !(s->dropped || ev->shut))
		sub_unsignal(s);
	pthread_mutex_unlock(&ev->mu);
	return r;
}

void
events_msg_clear(struct events_msg *m)
{
	free(m->json);
	memset(m, 0, sizeof(*m));
}
