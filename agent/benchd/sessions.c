/* sessions: see sessions.h. */
#include "sessions.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "engine.h"
#include "idevice.h"
#include "usbdev.h"

enum sess_state { SESS_QUEUED, SESS_RUNNING, SESS_FINISHED };

struct sess {
	struct sess *next;
	char id[80];   /* udid, or ECID for a USB-level device */
	char mode[16]; /* "normal" (usbmux), "recovery", "dfu", ... */
	enum sess_state state;
	volatile int cancel;
	int unplugged;   /* detached while running: the thread frees the entry */
	int replugged;   /* attached again while the unplugged session still ends: the thread
	                    queues a new session instead of freeing the entry (issue 11) */
	int again;       /* a Paired event came while running */
	int needs_trust; /* the last session could not read it: untrusted or pairing pending */
	char stage[96];  /* the last progress step */
	/* how the last session ended ("fail: 2 faults", "failed: the phone did not finish within 14 s:
	 * stopped while connecting; unplug it, the bench goes on"): room for a whole reason */
	char result[400];
	/* What the last session learned (for the live table): "" until then. */
	char product_type[32], model_name[64], serial[64], case_id[40], ticket[72], report_id[40];
	/* The last report's outcome ("" before one) and fault count, the fields beside result. */
	char outcome[16];
	int nfaults;
	time_t since;
	struct sessions *mgr;
};

struct sessions {
	struct sessions_opts o;
	pthread_mutex_t mu;
	pthread_cond_t ended;
	struct sess *list;
	int running, queued;
	int stopping;
	int idev_on, usb_on;
	char **probes; /* what the configured trees need (engine_probes); NULL: every probe */
	size_t nprobes;
};

static const char *const state_names[] = {"queued", "running", "finished"};

static struct sess *
find(struct sessions *m, const char *id)
{
	for (struct sess *s = m->list; s; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

static void
unlink_sess(struct sessions *m, struct sess *x)
{
	for (struct sess **pp = &m->list; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			return;
		}
}

static void *session_main(void *arg);

/* Start queued sessions (oldest first) while there is room. Called with mu held. */
static void
start_queued(struct sessions *m)
{
	while (!m->stopping && m->running < m->o.cfg->max_sessions && m->queued > 0) {
		struct sess *oldest = NULL;
		pthread_attr_t a;
		pthread_t t;
		int e;

		for (struct sess *s = m->list; s; s = s->next)
			if (s->state == SESS_QUEUED && (oldest == NULL || s->since <= oldest->since))
				oldest = s;
		if (oldest == NULL)
			break;
		oldest->state = SESS_RUNNING;
		oldest->cancel = 0;
		oldest->stage[0] = '\0';
		oldest->since = time(NULL);
		m->queued--;
		m->running++;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&a, 1024 * 1024);
		e = pthread_create(&t, &a, session_main, oldest);
		pthread_attr_destroy(&a);
		if (e != 0) {
			log_warnx(
			    "sessions: cannot start a session thread for %s: %s; it waits for a free slot",
			    oldest->id, strerror(e));
			oldest->state = SESS_QUEUED;
			m->queued++;
			m->running--;
			break;
		}
	}
}

/* A device appeared (or was newly trusted: again = 1). extra: what the attach already tells of
 * it (a USB-level device's ECID, product type, model), merged into device.attached; stolen. */
static void
device_added(struct sessions *m, const char *id, const char *mode, int again, json_t *extra)
{
	struct sess *s;

	pthread_mutex_lock(&m->mu);
	if (m->stopping) {
		pthread_mutex_unlock(&m->mu);
		json_decref(extra);
		return;
	}
	s = find(m, id);
	if (s != NULL) {
		if (again && s->state == SESS_FINISHED && s->needs_trust) {
			s->needs_trust = 0;
			s->state = SESS_QUEUED;
			s->since = time(NULL);
			m->queued++;
			log_info("%s: trusted now: diagnosing it again", id);
		} else if (again && s->state == SESS_RUNNING) {
			s->again = 1;
		} else if (!again && s->state == SESS_RUNNING && s->unplugged) {
			/* Unplugged and plugged straight back while its session still ends: that
			 * session's read is lost, so the device needs a new one. The ending thread
			 * sees replugged and queues it (it would otherwise free the entry). */
			s->replugged = 1;
			util_strlcpy(s->mode, mode, sizeof(s->mode));
			{
				json_t *e = json_pack("{s:s, s:s}", "device", id, "mode", mode);
				if (json_is_object(extra))
					json_object_update(e, extra);
				events_publish(m->o.ev, EV_DEVICE_ATTACHED, e);
			}
			log_info(
			    "%s: plugged back in (%s) while its last session ends: a new session follows", id,
			    mode);
		}
		/* Otherwise a repeated attach of a device we know: nothing to do. */
	} else {
		s = xcalloc(1, sizeof(*s));
		util_strlcpy(s->id, id, sizeof(s->id));
		util_strlcpy(s->mode, mode, sizeof(s->mode));
		s->state = SESS_QUEUED;
		s->since = time(NULL);
		s->mgr = m;
		s->next = m->list;
		m->list = s;
		m->queued++;
		{
			json_t *e = json_pack("{s:s, s:s}", "device", id, "mode", mode);
			if (json_is_object(extra))
				json_object_update(e, extra);
			events_publish(m->o.ev, EV_DEVICE_ATTACHED, e);
		}
		if (m->running >= m->o.cfg->max_sessions)
			log_info("%s: plugged in (%s); queued: %d sessions already running (max_sessions)",
			         id, mode, m->running);
		else
			log_info("%s: plugged in (%s)", id, mode);
	}
	start_queued(m);
	pthread_mutex_unlock(&m->mu);
	json_decref(extra);
}

static void
device_removed(struct sessions *m, const char *id)
{
	struct sess *s;

	pthread_mutex_lock(&m->mu);
	s = find(m, id);
	if (s == NULL) {
		pthread_mutex_unlock(&m->mu);
		return;
	}
	events_publish(m->o.ev, EV_DEVICE_DETACHED, json_pack("{s:s}", "device", id));
	switch (s->state) {
	case SESS_QUEUED:
		log_info("%s: unplugged before its session started", id);
		m->queued--;
		unlink_sess(m, s);
		free(s);
		break;
	case SESS_RUNNING:
		/* Only this session is told; its thread ends it with the reason and frees it. */
		s->unplugged = 1;
		s->replugged = 0; /* plugged back, then out again: the last event wins */
		s->cancel = 1;
		s->again = 0;
		break;
	case SESS_FINISHED:
		log_info("%s: unplugged", id);
		unlink_sess(m, s);
		free(s);
		break;
	}
	pthread_mutex_unlock(&m->mu);
}

/* The step as text, for `benchctl sessions` and for reasons ("while reading crash reports 3/12").
 * Its event is published by on_event, from the reader's structured step. */
static void
on_progress(const char *what, void *ctx)
{
	struct sess *s = ctx;

	pthread_mutex_lock(&s->mgr->mu);
	util_strlcpy(s->stage, what, sizeof(s->stage));
	pthread_mutex_unlock(&s->mgr->mu);
	log_debug("%s", what);
}

/*
 * capture_opts.event (CONTRACTS 3), live while the reader reads: each step is a session.step,
 * each early reading a session.reading (the battery as soon as its probe is done, well before
 * the syslog capture and the crash copy end). capture.c has already bounded and rebuilt ev from
 * the reader's line; only the fields of the contract are passed on.
 */
static void
on_event(const json_t *ev, void *ctx)
{
	struct sess *s = ctx;
	const char *type = json_string_value(json_object_get(ev, "type"));

	if (type == NULL)
		return;
	if (strcmp(type, "step") == 0) {
		const char *step = json_string_value(json_object_get(ev, "step"));
		json_t *e, *done = json_object_get(ev, "done"), *total = json_object_get(ev, "total");
		if (step == NULL)
			return;
		e = json_pack("{s:s, s:s}", "device", s->id, "step", step);
		if (json_is_integer(done) && json_is_integer(total)) {
			json_object_set(e, "done", done);
			json_object_set(e, "total", total);
		}
		events_publish(s->mgr->o.ev, EV_SESSION_STEP, e);
	} else if (strcmp(type, "reading") == 0) {
		const char *name = json_string_value(json_object_get(ev, "name"));
		json_t *v = json_object_get(ev, "value");
		if (name != NULL && v != NULL)
			events_publish(
			    s->mgr->o.ev, EV_SESSION_READING,
			    json_pack("{s:s, s:s, s:O}", "device", s->id, "name", name, "value", v));
	}
}

/* What the finished snapshot says the device is, for the live table (the readings themselves
 * went out live: on_event). */
static void
note_device(struct sess *s, const char *bytes, size_t len)
{
	json_t *snap = json_loadb(bytes, len, 0, NULL);

	if (snap == NULL)
		return;
	{
		json_t *d = json_object_get(snap, "device");
		pthread_mutex_lock(&s->mgr->mu);
		if (json_is_string(json_object_get(d, "product_type")))
			util_strlcpy(s->product_type, json_string_value(json_object_get(d, "product_type")),
			             sizeof(s->product_type));
		if (json_is_string(json_object_get(d, "model_name")))
			util_strlcpy(s->model_name, json_string_value(json_object_get(d, "model_name")),
			             sizeof(s->model_name));
		if (json_is_string(json_object_get(d, "serial")))
			util_strlcpy(s->serial, json_string_value(json_object_get(d, "serial")),
			             sizeof(s->serial));
		pthread_mutex_unlock(&s->mgr->mu);
	}
	json_decref(snap);
}

/* The stage a session was in, for reasons: "while reading crash reports 3/12". */
static void
stage_of(struct sess *s, char *out, size_t outlen)
{
	pthread_mutex_lock(&s->mgr->mu);
	if (s->stage[0])
		snprintf(out, outlen, "while %s", s->stage);
	else
		snprintf(out, outlen, "while connecting");
	pthread_mutex_unlock(&s->mgr->mu);
}

static int
was_unplugged(struct sess *s)
{
	int u;

	pthread_mutex_lock(&s->mgr->mu);
	u = s->unplugged;
	pthread_mutex_unlock(&s->mgr->mu);
	return u;
}

/*
 * One session: read, diagnose, sign, commit, enqueue. Returns the session state for the store
 * and writes the reason; *report_id is set when a report was committed.
 */
static const char *
run_session(struct sess *s, char *reason, size_t reasonlen, char *report_id, size_t ridlen)
{
	struct sessions *m = s->mgr;
	const struct config *cfg = m->o.cfg;
	struct capture_opts co = {
	    .syslog_seconds = cfg->syslog_seconds,
	    .probes = (const char *const *)m->probes,
	    .nprobes = m->nprobes,
	    .progress = on_progress,
	    .progress_ctx = s,
	    .event = on_event,
	    .event_ctx = s,
	    .cancel = &s->cancel,
	    /* the hard deadline: benchd kills the reader after it (DESIGN.md 2) */
	    .deadline_s = cfg->session_timeout + cfg->syslog_seconds,
	};
	struct cases_revision rev;
	char why[768], stage[128], *bytes = NULL;
	size_t len = 0;
	int r, device_err = 0;

	r = capture_device(s->id, &co, &bytes, &len, &device_err, why, sizeof(why));
	stage_of(s, stage, sizeof(stage));
	/*
	 * The drivers say IDEV_E_UNPLUGGED for any dropped connection; a device that drops the
	 * lockdown handshake is still plugged in. Only the watcher's Detached event (which follows
	 * a real unplug within milliseconds) makes it "unplugged"; otherwise the reason is the
	 * drivers' own ("device dropped the connection during the lockdown handshake ...").
	 */
	if (!was_unplugged(s) && (r == IDEV_E_UNPLUGGED || (r == 0 && device_err == IDEV_E_UNPLUGGED)))
		for (int i = 0; i < 20 && !was_unplugged(s) && !s->cancel; i++)
			usleep(50 * 1000);
	/* Unplugged (or cancelled) mid-read: what was read is partial, so no report is made. */
	if (was_unplugged(s)) {
		free(bytes);
		snprintf(reason, reasonlen, "unplugged %s", stage);
		return "unplugged";
	}
	if (s->cancel) {
		free(bytes);
		snprintf(reason, reasonlen, "cancelled %s: benchd is stopping", stage);
		return "cancelled";
	}
	if (r == CAPTURE_E_CRASHED || r == CAPTURE_E_DEADLINE) {
		/* the reader crashed or ran out of time: its reason names the stage and what to do */
		snprintf(reason, reasonlen, "%s", why);
		return "failed";
	}
	if (r != 0) {
		snprintf(reason, reasonlen, "cannot read the device: %.700s", why);
		return "failed";
	}
	if (device_err == IDEV_E_UNTRUSTED || device_err == IDEV_E_PAIRING_PENDING) {
		pthread_mutex_lock(&m->mu);
		s->needs_trust = 1; /* a Paired event later diagnoses it again */
		pthread_mutex_unlock(&m->mu);
	}
	if (device_err != 0)
		log_warnx("device only partly readable: %s (the report says so)", why);
	note_device(s, bytes, len);
	r = cases_session_report(m->o.cases, s->id, s->mode, bytes, len, &rev, why, sizeof(why));
	free(bytes);
	if (r != CASES_OK) {
		snprintf(reason, reasonlen, "no report: %.700s", why);
		return "failed";
	}
	util_strlcpy(report_id, rev.report_id, ridlen);
	pthread_mutex_lock(&m->mu);
	util_strlcpy(s->case_id, rev.case_id, sizeof(s->case_id));
	util_strlcpy(s->ticket, rev.ticket, sizeof(s->ticket));
	util_strlcpy(s->report_id, rev.report_id, sizeof(s->report_id));
	util_strlcpy(s->outcome, rev.outcome, sizeof(s->outcome));
	s->nfaults = (int)rev.nfaults;
	pthread_mutex_unlock(&m->mu);
	snprintf(reason, reasonlen, "%s: %zu fault%s%s%s", rev.outcome, rev.nfaults,
	         rev.nfaults == 1 ? "" : "s", rev.final ? "" : "; waiting: ", rev.waiting);
	log_info("report %s: case %s revision %d: %s", rev.report_id, rev.case_id, rev.revision, reason);
	return "done";
}

static void *
session_main(void *arg)
{
	struct sess *s = arg;
	struct sessions *m = s->mgr;
	char reason[768] = "", report_id[64] = "", why[512];
	const char *state = "failed";
	int64_t sid = 0;
	int have_row;

	log_set_device(s->id);
	have_row = store_device_seen(m->o.st, s->id, s->mode, NULL, why, sizeof(why)) == STORE_OK &&
	           store_session_begin(m->o.st, s->id, &sid, why, sizeof(why)) == STORE_OK;
	if (!have_row)
		log_warnx("cannot record the session: %s (diagnosing anyway)", why);
	log_info("session started");
	state = run_session(s, reason, sizeof(reason), report_id, sizeof(report_id));
	if (strcmp(state, "done") == 0)
		log_info("session done: %s", reason);
	else
		log_warnx("session %s: %s", state, reason);
	if (have_row && store_session_end(m->o.st, sid, state, reason, report_id[0] ? report_id : NULL, why,
	                                  sizeof(why)) != STORE_OK)
		log_warnx("cannot record the end of the session: %s", why);
	{
		json_t *e = json_pack("{s:s, s:s, s:s}", "device", s->id, "state", state, "reason", reason);
		if (report_id[0])
			json_object_set_new(e, "report_id", json_string(report_id));
		events_publish(m->o.ev, EV_SESSION_ENDED, e);
	}

	pthread_mutex_lock(&m->mu);
	m->running--;
	snprintf(s->result, sizeof(s->result), "%s%s%.380s", strcmp(state, "done") == 0 ? "" : state,
	         strcmp(state, "done") == 0 ? "" : ": ", reason);
	if (s->unplugged && s->replugged && !m->stopping) {
		/* plugged back while this session ended (device_added): a new session */
		s->unplugged = 0;
		s->replugged = 0;
		s->again = 0;
		s->state = SESS_QUEUED;
		s->since = time(NULL);
		m->queued++;
	} else if (s->unplugged) {
		unlink_sess(m, s);
		free(s);
	} else if (s->again && s->needs_trust && !m->stopping) {
		log_info("trusted now: diagnosing it again");
		s->again = 0;
		s->needs_trust = 0;
		s->state = SESS_QUEUED;
		s->since = time(NULL);
		m->queued++;
	} else {
		s->again = 0;
		s->state = SESS_FINISHED;
	}
	start_queued(m);
	pthread_cond_broadcast(&m->ended);
	pthread_mutex_unlock(&m->mu);
	log_set_device(NULL);
	return NULL;
}

static void
on_idev(enum idev_event_kind kind, const char *udid, void *ctx)
{
	struct sessions *m = ctx;

	if (udid == NULL || udid[0] == '\0' || strlen(udid) >= sizeof(((struct sess *)0)->id))
		return;
	if (kind == IDEV_EVENT_ADD)
		device_added(m, udid, "normal", 0, NULL);
	else if (kind == IDEV_EVENT_PAIRED)
		device_added(m, udid, "normal", 1, NULL);
	else if (kind == IDEV_EVENT_REMOVE)
		device_removed(m, udid);
}

static void
on_usb(enum usbdev_event_kind kind, const struct usbdev_info *dev, void *ctx)
{
	struct sessions *m = ctx;
	char id[80];

	/* Normal-mode devices are diagnosed over usbmux; only the restore modes are ours here. */
	if (dev == NULL || dev->mode == USBDEV_MODE_NORMAL || dev->mode == USBDEV_MODE_UNKNOWN)
		return;
	if (dev->ecid[0])
		util_strlcpy(id, dev->ecid, sizeof(id));
	else
		snprintf(id, sizeof(id), "usb-%u-%u", dev->busnum, dev->devaddr);
	if (kind == USBDEV_EVENT_ADD) {
		json_t *x = json_object();
		if (dev->ecid[0])
			json_object_set_new(x, "ecid", json_string(dev->ecid));
		if (dev->product_type[0])
			json_object_set_new(x, "product_type", json_string(dev->product_type));
		if (dev->model_name[0])
			json_object_set_new(x, "model_name", json_string(dev->model_name));
		device_added(m, id, usbdev_mode_name(dev->mode), 0, x);
	} else if (kind == USBDEV_EVENT_REMOVE)
		device_removed(m, id);
}

int
sessions_start(const struct sessions_opts *o, struct sessions **out, char *why, size_t whylen)
{
	struct sessions *m = xcalloc(1, sizeof(*m));

	m->o = *o;
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->ended, NULL);
	*out = m;
	{
		struct engine_opts eo = {.trees = (const char *const *)o->cfg->trees,
		                         .ntrees = o->cfg->ntrees};
		json_t *probes = NULL;
		char pwhy[256];
		/* Read only what the configured trees use (DESIGN 2: each probe once per session). */
		if (engine_probes(&eo, &probes, pwhy, sizeof(pwhy)) == ENGINE_OK &&
		    json_array_size(probes) > 0) {
			m->probes = xcalloc(json_array_size(probes), sizeof(char *));
			for (size_t i = 0; i < json_array_size(probes); i++)
				if (json_is_string(json_array_get(probes, i)))
					m->probes[m->nprobes++] =
					    xstrdup(json_string_value(json_array_get(probes, i)));
			log_info("probes read from each device: %zu (%s%s)", m->nprobes, m->probes[0],
			         m->nprobes > 1 ? ", ..." : "");
		} else if (probes == NULL) {
			log_warnx("cannot tell which probes the trees need (%s): reading every probe", pwhy);
		}
		json_decref(probes);
	}
	{
		/* The usbmux watcher keeps trying while usbmuxd is away and says so once (muxwatch.c);
		 * status shows whether it is connected now (sessions_counts). */
		int r = idev_watch_start(on_idev, m);
		if (r != 0)
			log_warnx("usbmux: cannot start the device watcher: %s", idev_strerror(r));
		else
			m->idev_on = 1;
		r = usbdev_watch_start(on_usb, m, NULL);
		if (r != 0)
			log_warnx(
			    "usb: no USB hotplug (%s): devices in recovery/DFU mode are not seen; going on "
			    "with usbmux only",
			    usbdev_strerror(r));
		else
			m->usb_on = 1;
		if (!m->idev_on && !m->usb_on) {
			snprintf(why, whylen,
			         "neither usbmux nor USB hotplug could start: no device can be seen");
			return -1;
		}
	}
	return 0;
}

int
sessions_stop(struct sessions *m, int drain_s, int (*interrupted)(void *), void *ictx)
{
	struct timespec ts;
	long long end;
	int left, forced = 0;

	if (m == NULL)
		return 0;
	if (m->idev_on)
		idev_watch_stop();
	if (m->usb_on)
		usbdev_watch_stop();
	pthread_mutex_lock(&m->mu);
	m->stopping = 1;
	/* Queued devices never started: forget them. */
	for (struct sess **pp = &m->list; *pp;) {
		struct sess *s = *pp;
		if (s->state == SESS_QUEUED) {
			*pp = s->next;
			free(s);
			m->queued--;
		} else {
			pp = &s->next;
		}
	}
	if (m->running > 0)
		log_info(
		    "stopping: waiting up to %d s for %d running session%s (signal again to cancel them now)",
		    drain_s, m->running, m->running == 1 ? "" : "s");
	/* Wait in short slices so a second SIGTERM/SIGINT cancels at once. */
	end = util_now_ms() + (long long)drain_s * 1000;
	while (m->running > 0 && util_now_ms() < end) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&m->ended, &m->mu, &ts);
		if (m->running > 0 && interrupted && interrupted(ictx)) {
			forced = 1;
			break;
		}
	}
	if (m->running > 0) {
		if (forced)
			log_warnx("stopping: signalled again: cancelling %d running session%s", m->running,
			          m->running == 1 ? "" : "s");
		else
			log_warnx("stopping: %d session%s still running after %d s: cancelling", m->running,
			          m->running == 1 ? "" : "s", drain_s);
		for (struct sess *s = m->list; s; s = s->next)
			if (s->state == SESS_RUNNING)
				s->cancel = 1;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 10;
		while (m->running > 0)
			if (pthread_cond_timedwait(&m->ended, &m->mu, &ts) == ETIMEDOUT)
				break;
	}
	left = m->running;
	pthread_mutex_unlock(&m->mu);
	if (left > 0)
		log_errorx(
		    "stopping: %d session%s did not end: exiting anyway (their devices can be replugged)",
		    left, left == 1 ? "" : "s");
	return left;
}

void
sessions_free(struct sessions *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	if (m->running > 0) { /* never free what a session thread still uses */
		pthread_mutex_unlock(&m->mu);
		return;
	}
	while (m->list) {
		struct sess *s = m->list;
		m->list = s->next;
		free(s);
	}
	pthread_mutex_unlock(&m->mu);
	for (size_t i = 0; i < m->nprobes; i++)
		free(m->probes[i]);
	free(m->probes);
	pthread_cond_destroy(&m->ended);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

json_t *
sessions_counts(struct sessions *m)
{
	json_t *o;

	pthread_mutex_lock(&m->mu);
	o = json_pack("{s:i, s:i, s:i}", "running", m->running, "queued", m->queued, "max",
	              m->o.cfg->max_sessions);
	pthread_mutex_unlock(&m->mu);
	{
		/* each watcher's real state, not whether it was started (issue 18.3) */
		char why[256] = "";
		int mux = m->idev_on ? idev_watch_status(why, sizeof(why)) : -1;
		json_object_set_new(o, "usbmux", json_boolean(mux == 1));
		json_object_set_new(o, "usb_hotplug", json_boolean(m->usb_on));
		json_object_set_new(o, "watchers",
		                    json_pack("{s:s, s:s}", "usbmux",
		                              mux == 1   ? "on"
		                              : mux == 0 ? "connecting"
		                              : why[0]   ? why
		                                         : "off",
		                              "usb_hotplug", m->usb_on ? "on" : "off (no /dev/bus/usb)"));
	}
	return o;
}

json_t *
sessions_live(struct sessions *m)
{
	json_t *a = json_array();
	char since[32];

	pthread_mutex_lock(&m->mu);
	for (struct sess *s = m->list; s; s = s->next) {
		util_rfc3339(s->since, since, sizeof(since));
		json_t *o =
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "device", s->id, "mode", s->mode, "state",
		              s->unplugged ? "unplugging" : state_names[s->state], "stage",
		              s->state == SESS_RUNNING ? s->stage : "", "result", s->result, "since", since);
		json_object_set_new(o, "product_type",
		                    s->product_type[0] ? json_string(s->product_type) : json_null());
		json_object_set_new(o, "model_name",
		                    s->model_name[0] ? json_string(s->model_name) : json_null());
		json_object_set_new(o, "serial", s->serial[0] ? json_string(s->serial) : json_null());
		json_object_set_new(o, "case_id", s->case_id[0] ? json_string(s->case_id) : json_null());
		json_object_set_new(o, "ticket", s->ticket[0] ? json_string(s->ticket) : json_null());
		json_object_set_new(o, "report_id",
		                    s->report_id[0] ? json_string(s->report_id) : json_null());
		/* result is for people ("fail: 2 faults"); these are the same as fields. */
		json_object_set_new(o, "outcome", s->outcome[0] ? json_string(s->outcome) : json_null());
		json_object_set_new(o, "fault_count", s->outcome[0] ? json_integer(s->nfaults) : json_null());
		json_array_append_new(a, o);
	}
	pthread_mutex_unlock(&m->mu);
	return a;
}
