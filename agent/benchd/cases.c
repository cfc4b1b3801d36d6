/* cases: see cases.h. */
#include "cases.h"

#include "log.h"
#include "upload.h"
#include "util.h"

#include "engine.h"
#include "pipeline.h"
#include "report.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_ANSWERS 128

/* An id in a small set (case ids being revised, report ids being signed). */
struct idset {
	char (*ids)[STORE_ID_MAX];
	size_t n, cap;
};

struct cases {
	struct cases_opts o;
	const char *targets[2];
	size_t ntargets;
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* a case lock was released */
	struct idset locked;      /* cases a revision is being made for */
	struct idset signing;     /* reports signed but not yet committed by this benchd */
	pthread_mutex_t adopt_mu; /* one adoption pass at a time */
};

static int
idset_has(const struct idset *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->ids[i], id) == 0)
			return 1;
	return 0;
}

static void
idset_add(struct idset *s, const char *id)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->ids = xrealloc(s->ids, s->cap * sizeof(*s->ids));
	}
	util_strlcpy(s->ids[s->n++], id, STORE_ID_MAX);
}

static void
idset_del(struct idset *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->ids[i], id) == 0) {
			memmove(s->ids[i], s->ids[s->n - 1], STORE_ID_MAX);
			s->n--;
			return;
		}
}

static void
lock_case(struct cases *c, const char *case_id)
{
	pthread_mutex_lock(&c->mu);
	while (idset_has(&c->locked, case_id))
		pthread_cond_wait(&c->cv, &c->mu);
	idset_add(&c->locked, case_id);
	pthread_mutex_unlock(&c->mu);
}

static void
unlock_case(struct cases *c, const char *case_id)
{
	pthread_mutex_lock(&c->mu);
	idset_del(&c->locked, case_id);
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void
signing(struct cases *c, const char *report_id, int on)
{
	pthread_mutex_lock(&c->mu);
	if (on)
		idset_add(&c->signing, report_id);
	else
		idset_del(&c->signing, report_id);
	pthread_mutex_unlock(&c->mu);
}

static int
is_signing(struct cases *c, const char *report_id)
{
	int r;

	pthread_mutex_lock(&c->mu);
	r = idset_has(&c->signing, report_id);
	pthread_mutex_unlock(&c->mu);
	return r;
}

struct cases *
cases_new(const struct cases_opts *o)
{
	struct cases *c = xcalloc(1, sizeof(*c));

	c->o = *o;
	if (o->upload)
		c->targets[c->ntargets++] = STORE_TARGET_UPLOAD;
	if (o->fleet)
		c->targets[c->ntargets++] = STORE_TARGET_FLEET;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	pthread_mutex_init(&c->adopt_mu, NULL);
	return c;
}

void
cases_free(struct cases *c)
{
	if (c == NULL)
		return;
	free(c->locked.ids);
	free(c->signing.ids);
	pthread_mutex_destroy(&c->adopt_mu);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int
cases_check_ticket(const char *in, char out[STORE_TICKET_MAX + 1], char *why, size_t whylen)
{
	size_t a = 0, n;

	if (in == NULL) {
		snprintf(why, whylen, "no ticket given");
		return -1;
	}
	n = strlen(in);
	while (a < n && (in[a] == ' ' || in[a] == '\t'))
		a++;
	while (n > a && (in[n - 1] == ' ' || in[n - 1] == '\t' || in[n - 1] == '\r' || in[n - 1] == '\n'))
		n--;
	if (n == a) {
		snprintf(why, whylen, "the ticket is empty: give the booking system's ticket number");
		return -1;
	}
	if (n - a > STORE_TICKET_MAX) {
		snprintf(why, whylen, "the ticket is %zu bytes long: a ticket has at most %d", n - a,
		         STORE_TICKET_MAX);
		return -1;
	}
	for (size_t i = a; i < n; i++)
		if ((unsigned char)in[i] < 0x20 || in[i] == 0x7f) {
			snprintf(why, whylen,
			         "the ticket holds a control character (byte %zu): type the ticket number "
			         "only",
			         i - a + 1);
			return -1;
		}
	{
		json_t *probe = json_stringn(in + a, n - a); /* UTF-8 only */
		if (probe == NULL) {
			snprintf(why, whylen, "the ticket is not UTF-8 text");
			return -1;
		}
		json_decref(probe);
	}
	memcpy(out, in + a, n - a);
	out[n - a] = '\0';
	return 0;
}

/* ---- what a report says ------------------------------------------------------------------- */

static const char *
str_at(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

static double
num_at(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_number(v) && json_number_value(v) >= 0 ? json_number_value(v) : -1;
}

/* A booking system (RepairShopr, RepairDesk) files a report only on its ticket, and the adapters
 * never create tickets (DESIGN 4.11): a case without one waits as require_ticket would make it. */
static int
ticket_required(const struct config *cfg)
{
	return cfg->require_ticket ||
	       (cfg->upload_url[0] && cfg->upload_kind[0] && strcmp(cfg->upload_kind, "generic") != 0);
}

/* Why a revision is not final ("" when it is). */
static void
waiting_why(const struct cases *c, const json_t *payload, int finished, char *out, size_t outlen)
{
	const json_t *qs = json_object_get(payload, "questions"), *q;
	const char *ticket = str_at(json_object_get(payload, "case"), "ticket");
	size_t i, n = json_array_size(qs);

	out[0] = '\0';
	if (finished)
		return;
	if (n > 0) {
		snprintf(out, outlen, "question%s open (", n == 1 ? "" : "s");
		json_array_foreach(qs, i, q)
		{
			const char *k = str_at(q, "key");
			util_strlcat(out, i ? ", " : "", outlen);
			util_strlcat(out, k ? k : "?", outlen);
		}
		util_strlcat(out, ")", outlen);
	}
	if (ticket_required(c->o.cfg) && ticket == NULL) {
		if (out[0])
			util_strlcat(out, "; ", outlen);
		util_strlcat(out, "no ticket", outlen);
	}
}

static json_t *
faults_brief(const json_t *payload)
{
	json_t *out = json_array(), *f;
	size_t i;

	json_array_foreach(json_object_get(payload, "faults"), i, f)
	{
		json_t *x = json_object();
		static const char *const keys[] = {"code", "severity", "part", "title"};
		for (size_t k = 0; k < 4; k++) {
			json_t *v = json_object_get(f, keys[k]);
			json_object_set(x, keys[k], v ? v : json_null());
		}
		json_array_append_new(out, x);
	}
	return out;
}

/* A test hook: BENCHD_TEST_STALL_AFTER_SIGN=FILE makes benchd write the report id to FILE and
 * wait, after a revision is signed and written and before the store knows it, so a test can
 * kill it there (tests/agent/test_cases.py: the crash test). Unset in production. */
static void
test_stall_after_sign(const char *report_id)
{
	const char *f = getenv("BENCHD_TEST_STALL_AFTER_SIGN");

	if (f == NULL || f[0] == '\0')
		return;
	if (util_write_file_atomic(f, report_id, strlen(report_id), 0644) == 0) {
		log_warnx("test hook: report %s signed; stalling before the store commit", report_id);
		sleep(60);
	}
}

/*
 * Commit a signed report (payload, jws bytes at path) to the store: its row with the case
 * fields, the case's new state, and the outbox rows when final; then publish. The shared end of
 * every way a revision is made (and of adoption). finished: the case was finished. Returns
 * CASES_OK, CASES_E_STORE (why), or STORE_E_EXISTS as CASES_OK with *dup = 1.
 */
static int
commit_report(struct cases *c, const json_t *payload, const char *jws, size_t jwslen, const char *path,
              const char *device, int finished, const json_t *case_answers, int case_create,
              struct cases_revision *out, char *why, size_t whylen)
{
	const json_t *dev = json_object_get(payload, "device"), *cs = json_object_get(payload, "case");
	const json_t *rd = json_object_get(payload, "readings"), *bat = json_object_get(rd, "battery");
	struct store_report sr;
	struct upload_meta meta;
	char waiting[256], *body = NULL, *faults, bwhy[256];
	size_t bodylen = 0, i;
	json_t *codes = json_array(), *f;
	int r, final;

	waiting_why(c, payload, finished, waiting, sizeof(waiting));
	final = waiting[0] == '\0';
	if (final && c->ntargets > 0 &&
	    upload_build_body(jws, jwslen, &body, &bodylen, &meta, bwhy, sizeof(bwhy)) != UPLOAD_OK) {
		snprintf(why, whylen, "the signed report cannot be read back: %s", bwhy);
		json_decref(codes);
		return CASES_E_STORE;
	}
	json_array_foreach(json_object_get(payload, "faults"), i, f)
	{
		if (json_is_string(json_object_get(f, "code")))
			json_array_append(codes, json_object_get(f, "code"));
	}
	faults = json_dumps(codes, JSON_COMPACT);
	json_decref(codes);
	store_report_init(&sr);
	sr.report_id = str_at(payload, "report_id");
	sr.device = device ? device : (str_at(dev, "udid") ? str_at(dev, "udid") : str_at(dev, "ecid"));
	sr.outcome = str_at(payload, "outcome");
	sr.path = path;
	sr.created_at = str_at(payload, "created_at") ? str_at(payload, "created_at") : "unknown";
	sr.body = body;
	sr.bodylen = bodylen;
	sr.targets = c->targets;
	sr.ntargets = c->ntargets;
	sr.case_id = str_at(cs, "case_id");
	sr.revision = (int)json_integer_value(json_object_get(cs, "revision"));
	sr.supersedes = str_at(cs, "supersedes");
	sr.ticket = str_at(cs, "ticket");
	sr.final = final;
	sr.waiting = final ? NULL : waiting;
	sr.faults = faults;
	sr.serial = str_at(dev, "serial");
	sr.udid = str_at(dev, "udid");
	sr.ecid = str_at(dev, "ecid");
	sr.product_type = str_at(dev, "product_type");
	sr.model_name = str_at(dev, "model_name");
	sr.captured_at = str_at(rd, "captured_at");
	sr.snapshot_sha256 = str_at(payload, "snapshot_sha256");
	sr.battery_serial = str_at(bat, "serial");
	sr.cycle_count = num_at(bat, "cycle_count");
	sr.health_pct = num_at(bat, "health_pct");
	sr.nominal_capacity_mah = num_at(bat, "nominal_capacity_mah");
	sr.design_capacity_mah = num_at(bat, "design_capacity_mah");
	sr.case_answers = case_answers;
	sr.case_lang = str_at(cs, "lang");
	sr.case_create = case_create;
	if (sr.outcome == NULL || sr.report_id == NULL) {
		snprintf(why, whylen, "the report has no report_id or outcome");
		free(body);
		free(faults);
		return CASES_E_STORE;
	}
	if (sr.case_id == NULL)
		sr.revision = 0;
	r = store_report_add(c->o.st, &sr, why, whylen);
	free(body);
	free(faults);
	if (r != STORE_OK)
		return r == STORE_E_EXISTS ? CASES_E_CONFLICT : CASES_E_STORE;
	if (out) {
		memset(out, 0, sizeof(*out));
		util_strlcpy(out->report_id, sr.report_id, sizeof(out->report_id));
		util_strlcpy(out->case_id, sr.case_id ? sr.case_id : "", sizeof(out->case_id));
		util_strlcpy(out->device, sr.device ? sr.device : "", sizeof(out->device));
		out->revision = sr.revision;
		util_strlcpy(out->outcome, sr.outcome, sizeof(out->outcome));
		out->nfaults = json_array_size(json_object_get(payload, "faults"));
		out->final = final;
		util_strlcpy(out->waiting, waiting, sizeof(out->waiting));
		util_strlcpy(out->ticket, sr.ticket ? sr.ticket : "", sizeof(out->ticket));
	}
	/* What the bench page and benchctl watch see. */
	{
		json_t *e = json_pack("{s:s?, s:s, s:s?, s:o, s:s, s:o, s:b}", "device", sr.device,
		                      "report_id", sr.report_id, "case_id", sr.case_id, "revision",
		                      sr.case_id ? json_integer(sr.revision) : json_null(), "outcome",
		                      sr.outcome, "faults", faults_brief(payload), "final", final);
		json_object_set_new(e, "ticket", sr.ticket ? json_string(sr.ticket) : json_null());
		events_publish(c->o.ev, EV_REPORT_SIGNED, e);
		if (json_array_size(json_object_get(payload, "questions")) > 0 && !final)
			events_publish(c->o.ev, EV_CASE_QUESTION,
			               json_pack("{s:s?, s:s?, s:s, s:O}", "device", sr.device, "case_id",
			                         sr.case_id, "report_id", sr.report_id, "questions",
			                         json_object_get(payload, "questions")));
		if (!final)
			events_publish(c->o.ev, EV_CASE_WAITING,
			               json_pack("{s:s?, s:s?, s:s, s:s}", "device", sr.device, "case_id",
			                         sr.case_id, "report_id", sr.report_id, "why", waiting));
	}
	if (final) {
		outbox_kick(c->o.upload);
		outbox_kick(c->o.fleet);
	}
	return CASES_OK;
}

/* The case's answers as engine answers (pointing into the json, which must outlive them). */
static size_t
engine_answers(const json_t *answers, struct engine_answer *out, size_t max)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	json_object_foreach((json_t *)answers, k, v)
	{
		if (n < max && json_is_string(v)) {
			out[n].key = k;
			out[n].value = json_string_value(v);
			n++;
		}
	}
	return n;
}

static void
base_opts(const struct cases *c, struct pipeline_opts *po)
{
	memset(po, 0, sizeof(*po));
	po->state_dir = c->o.state_dir;
	po->bench_id = c->o.cfg->bench_id;
	po->engine.trees = (const char *const *)c->o.cfg->trees;
	po->engine.ntrees = c->o.cfg->ntrees;
	po->engine.lang = c->o.cfg->lang;
}

static int
map_pipeline(int r)
{
	switch (r) {
	case PIPELINE_E_ANSWER:
		return CASES_E_BAD;
	case PIPELINE_E_TREES_CHANGED:
		return CASES_E_CONFLICT;
	default:
		return CASES_E_SIGN;
	}
}

/*
 * Sign with po (report id chosen here), commit, unlock nothing. The report id is marked as
 * being signed, so adoption leaves its files alone until the store has it.
 */
static int
sign_commit(struct cases *c, struct pipeline_opts *po, const json_t *prev, const char *snap, size_t len,
            const char *device, int finished, const json_t *case_answers, struct cases_revision *out,
            char *why, size_t whylen)
{
	struct pipeline_result *res = NULL;
	char id[37];
	int r;

	if (report_uuid4(id) < 0) {
		snprintf(why, whylen, "no random source for a report id");
		return CASES_E_SIGN;
	}
	po->report_id = id;
	signing(c, id, 1);
	if (prev)
		r = pipeline_revise(prev, snap, len, po, &res, why, whylen);
	else
		r = pipeline_run(snap, len, po, &res, why, whylen);
	po->report_id = NULL; /* id is ours, and ends here */
	if (r != PIPELINE_OK) {
		signing(c, id, 0);
		return map_pipeline(r);
	}
	test_stall_after_sign(id);
	r = commit_report(c, res->report, res->jws, res->jwslen, res->report_path, device, finished,
	                  case_answers, 0, out, why, whylen);
	if (r != CASES_OK) {
		char w[512];
		snprintf(w, sizeof(w),
		         "report %s signed but not stored: %s (benchd adopts it at the next start)", id, why);
		util_strlcpy(why, w, whylen);
	}
	signing(c, id, 0);
	pipeline_result_free(res);
	return r;
}

static int
resolve(struct cases *c, const char *device, char case_id[STORE_ID_MAX], char *why, size_t whylen)
{
	int r;

	if (device == NULL || device[0] == '\0' || strlen(device) > 128) {
		snprintf(why, whylen, "name the device: a UDID, serial number, ECID, case id or report id");
		return CASES_E_BAD;
	}
	r = store_case_resolve(c->o.st, device, case_id, why, whylen);
	switch (r) {
	case STORE_OK:
		return CASES_OK;
	case STORE_E_NOT_FOUND:
		return CASES_E_NOT_FOUND;
	case STORE_E_EXISTS:
		return CASES_E_AMBIGUOUS;
	case STORE_E_STATE:
		return CASES_E_CONFLICT;
	default:
		snprintf(why, whylen, "cannot read the store: %s", store_strerror(r));
		return CASES_E_STORE;
	}
}

/* The latest revision's payload and snapshot bytes, for a locked case. */
static int
load_latest(struct cases *c, const struct store_case *cs, json_t **payload, char **snap, size_t *snaplen,
            char *why, size_t whylen)
{
	char *path, *jws = NULL, kid[64];
	size_t len;
	int r;

	*payload = NULL;
	if (snap)
		*snap = NULL;
	if (cs->latest_report_id[0] == '\0') {
		snprintf(why, whylen, "case %s has no report yet: wait for its session to end", cs->case_id);
		return CASES_E_CONFLICT;
	}
	path = xasprintf("%s/reports/%s.jws.json", c->o.state_dir, cs->latest_report_id);
	r = util_read_file(path, REPORT_MAX_JWS, &jws, &len);
	free(path);
	if (r < 0) {
		snprintf(why, whylen, "cannot read report %s: %s", cs->latest_report_id, strerror(errno));
		return CASES_E_STORE;
	}
	r = report_unverified_payload(jws, len, payload, kid, why, whylen);
	free(jws);
	if (r != REPORT_OK)
		return CASES_E_STORE;
	if (snap == NULL)
		return CASES_OK;
	path = xasprintf("%s/reports/%s.snapshot.json", c->o.state_dir, cs->latest_report_id);
	r = util_read_file(path, REPORT_MAX_SNAPSHOT, snap, snaplen);
	free(path);
	if (r < 0) {
		snprintf(why, whylen, "cannot read the snapshot of report %s: %s", cs->latest_report_id,
		         strerror(errno));
		json_decref(*payload);
		*payload = NULL;
		return CASES_E_STORE;
	}
	return CASES_OK;
}

static void
fill_unchanged(const struct store_case *cs, const json_t *payload, struct cases_revision *out,
               const char *why, int final)
{
	memset(out, 0, sizeof(*out));
	util_strlcpy(out->report_id, cs->latest_report_id, sizeof(out->report_id));
	util_strlcpy(out->case_id, cs->case_id, sizeof(out->case_id));
	util_strlcpy(out->device, cs->device, sizeof(out->device));
	out->revision = cs->latest_revision;
	util_strlcpy(out->outcome, str_at(payload, "outcome") ? str_at(payload, "outcome") : "",
	             sizeof(out->outcome));
	out->nfaults = json_array_size(json_object_get(payload, "faults"));
	out->final = final;
	util_strlcpy(out->waiting, why, sizeof(out->waiting));
	{
		const char *t = str_at(json_object_get(payload, "case"), "ticket");
		util_strlcpy(out->ticket, t ? t : "", sizeof(out->ticket));
	}
	out->unchanged = 1;
}

/* ---- sessions ----------------------------------------------------------------------------- */

/* The device's IMEI when the snapshot has one (lockdown Root, or the iBoot string). */
static const char *
imei_of(const json_t *snap)
{
	const char *v = str_at(json_object_get(snap, "device"), "imei");

	if (v == NULL)
		v = str_at(json_object_get(json_object_get(json_object_get(snap, "raw"), "lockdown"), "Root"),
		           "InternationalMobileEquipmentIdentity");
	if (v == NULL)
		v = str_at(json_object_get(json_object_get(snap, "device"), "usb"), "imei");
	return v;
}

int
cases_session_report(struct cases *c, const char *device, const char *mode, const char *snapshot, size_t len,
                     struct cases_revision *out, char *why, size_t whylen)
{
	struct engine_answer answers[MAX_ANSWERS];
	struct pipeline_opts po;
	struct store_case cs;
	json_t *snap, *dev, *history = NULL;
	int created = 0, r;

	snap = json_loadb(snapshot, len, 0, NULL);
	dev = json_object_get(snap, "device");
	/* DESIGN 4.9: this bench's earlier readings of the same battery, for the forecast. This
	 * session's report is not stored yet, so every row is from before it. */
	if (store_battery_history(c->o.st, str_at(dev, "serial"),
	                          str_at(dev, "udid") ? str_at(dev, "udid") : device,
	                          str_at(json_object_get(snap, "battery"), "serial"), &history) != STORE_OK) {
		log_warnx("cannot read the battery's history: the report is made without it");
		history = NULL;
	} else if (json_array_size(history) > ENGINE_MAX_HISTORY) {
		/* The newest rows: a battery seen more often than that is forecast from its latest. */
		while (json_array_size(history) > ENGINE_MAX_HISTORY)
			json_array_remove(history, 0);
	}
	{
		struct store_device d = {
		    .id = device,
		    .mode = mode,
		    .serial = str_at(dev, "serial"),
		    .ecid = str_at(dev, "ecid"),
		    .product_type = str_at(dev, "product_type"),
		    .model_name = str_at(dev, "model_name"),
		};
		if (store_device_update(c->o.st, &d, why, whylen) != STORE_OK)
			log_warnx("cannot record the device's serial and model: %s", why);
	}
	{
		struct store_case_key k = {
		    .device = device,
		    .udid = str_at(dev, "udid"),
		    .serial = str_at(dev, "serial"),
		    .ecid = str_at(dev, "ecid"),
		    .imei = imei_of(snap),
		};
		r = store_case_for_session(c->o.st, &k, (int64_t)c->o.cfg->case_idle_hours * 3600, &cs,
		                           &created, why, whylen);
	}
	json_decref(snap);
	if (r != STORE_OK) {
		json_decref(history);
		return CASES_E_STORE;
	}
	if (created) {
		if (cs.booking_id)
			log_info("case %s opened with ticket %s from booking %lld%s%s", cs.case_id, cs.ticket,
			         (long long)cs.booking_id, cs.lang[0] ? ", the customer's language " : "",
			         cs.lang);
		else
			log_info("case %s opened", cs.case_id);
	}
	lock_case(c, cs.case_id);
	/* The latest revision as it is now that no other revision of this case is being made. */
	{
		char id[STORE_ID_MAX];
		util_strlcpy(id, cs.case_id, sizeof(id));
		store_case_clear(&cs);
		if (store_case_get(c->o.st, id, &cs) != STORE_OK) {
			snprintf(why, whylen, "case %s vanished from the store", id);
			unlock_case(c, id);
			json_decref(history);
			return CASES_E_STORE;
		}
	}
	base_opts(c, &po);
	po.case_id = cs.case_id;
	po.revision = cs.latest_revision + 1;
	po.supersedes = cs.latest_report_id[0] ? cs.latest_report_id : NULL;
	po.ticket = cs.ticket[0] ? cs.ticket : NULL;
	po.case_lang = cs.lang[0] ? cs.lang : NULL;
	po.engine.answers = answers;
	po.engine.nanswers = engine_answers(cs.answers, answers, MAX_ANSWERS);
	po.history = history;
	r = sign_commit(c, &po, NULL, snapshot, len, device, cs.finished, NULL, out, why, whylen);
	unlock_case(c, cs.case_id);
	store_case_clear(&cs);
	json_decref(history);
	return r;
}

/* ---- commands ----------------------------------------------------------------------------- */

int
cases_answer(struct cases *c, const char *device, const json_t *answers, struct cases_revision *out,
             char *why, size_t whylen)
{
	struct engine_answer ea[MAX_ANSWERS];
	struct pipeline_opts po;
	struct store_case cs;
	char case_id[STORE_ID_MAX], *snap = NULL, wait[256];
	json_t *payload = NULL, *merged = NULL;
	const char *k;
	json_t *v;
	size_t snaplen = 0;
	int r;

	if (!json_is_object(answers) || json_object_size(answers) == 0) {
		snprintf(why, whylen, "give one answer or more, as KEY=VALUE");
		return CASES_E_BAD;
	}
	if (json_object_size(answers) > MAX_ANSWERS) {
		snprintf(why, whylen, "at most %d answers at once", MAX_ANSWERS);
		return CASES_E_BAD;
	}
	json_object_foreach((json_t *)answers, k, v)
	{
		if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 128 ||
		    strlen(k) > 64 || k[0] == '\0') {
			snprintf(why, whylen,
			         "answer '%.64s': give KEY=VALUE with a value of 1 to 128 characters", k);
			return CASES_E_BAD;
		}
	}
	if ((r = resolve(c, device, case_id, why, whylen)) != CASES_OK)
		return r;
	lock_case(c, case_id);
	if (store_case_get(c->o.st, case_id, &cs) != STORE_OK) {
		snprintf(why, whylen, "cannot read case %s", case_id);
		unlock_case(c, case_id);
		return CASES_E_STORE;
	}
	if ((r = load_latest(c, &cs, &payload, &snap, &snaplen, why, whylen)) != CASES_OK)
		goto out;
	merged = json_deep_copy(cs.answers);
	json_object_update(merged, (json_t *)answers);
	base_opts(c, &po);
	po.case_id = cs.case_id;
	po.revision = cs.latest_revision + 1;
	po.supersedes = cs.latest_report_id;
	po.ticket = cs.ticket[0] ? cs.ticket : NULL;
	po.case_lang = cs.lang[0] ? cs.lang : NULL;
	po.engine.answers = ea;
	po.engine.nanswers = engine_answers(merged, ea, MAX_ANSWERS);
	po.strict_answers = 1;
	po.expect_trees = json_object_get(payload, "trees");
	/* The previous revision's inputs.history: a revision over the same snapshot sees the same
	 * history (trees stay pure), not one that has grown since. */
	po.history = json_object_get(json_object_get(payload, "inputs"), "history");
	if (json_equal(merged, cs.answers) && json_equal(json_object_get(payload, "answers"), merged)) {
		/* Nothing new: the latest revision already has every one of these answers. */
		waiting_why(c, payload, cs.finished, wait, sizeof(wait));
		fill_unchanged(&cs, payload, out, wait, wait[0] == '\0');
		r = CASES_OK;
		goto out;
	}
	r = sign_commit(c, &po, NULL, snap, snaplen, cs.device, cs.finished, merged, out, why, whylen);
	if (r == CASES_OK)
		log_info("case %s: answers %s: revision %d (%s)", cs.case_id, "given", out->revision,
		         out->report_id);
out:
	unlock_case(c, case_id);
	store_case_clear(&cs);
	json_decref(payload);
	json_decref(merged);
	free(snap);
	return r;
}

int
cases_link(struct cases *c, const char *device, const char *ticket_in, struct cases_revision *out, char *why,
           size_t whylen)
{
	char ticket[STORE_TICKET_MAX + 1], case_id[STORE_ID_MAX], *snap = NULL, wait[256];
	const char *had;
	struct pipeline_opts po;
	struct store_case cs;
	json_t *payload = NULL;
	size_t snaplen = 0;
	int r;

	if (cases_check_ticket(ticket_in, ticket, why, whylen) < 0)
		return CASES_E_BAD;
	if ((r = resolve(c, device, case_id, why, whylen)) != CASES_OK)
		return r;
	lock_case(c, case_id);
	if (store_case_get(c->o.st, case_id, &cs) != STORE_OK) {
		snprintf(why, whylen, "cannot read case %s", case_id);
		unlock_case(c, case_id);
		return CASES_E_STORE;
	}
	if ((r = load_latest(c, &cs, &payload, &snap, &snaplen, why, whylen)) != CASES_OK)
		goto out;
	had = str_at(json_object_get(payload, "case"), "ticket");
	if (had != NULL && strcmp(had, ticket) == 0) {
		waiting_why(c, payload, cs.finished, wait, sizeof(wait));
		fill_unchanged(&cs, payload, out, wait, wait[0] == '\0');
		r = CASES_OK;
		goto out;
	}
	base_opts(c, &po);
	po.case_id = cs.case_id;
	po.revision = cs.latest_revision + 1;
	po.supersedes = cs.latest_report_id;
	po.ticket = ticket;
	po.case_lang = cs.lang[0] ? cs.lang : NULL;
	r = sign_commit(c, &po, payload, snap, snaplen, cs.device, cs.finished, NULL, out, why, whylen);
	if (r == CASES_OK)
		log_info("case %s: ticket %s linked: revision %d (%s)", cs.case_id, ticket, out->revision,
		         out->report_id);
out:
	unlock_case(c, case_id);
	store_case_clear(&cs);
	json_decref(payload);
	free(snap);
	return r;
}

int
cases_finish(struct cases *c, const char *device, struct cases_revision *out, char *why, size_t whylen)
{
	char case_id[STORE_ID_MAX], *jws = NULL, *path, *body = NULL, bwhy[256];
	struct upload_meta meta;
	struct store_case cs;
	json_t *payload = NULL;
	size_t len = 0, bodylen = 0;
	int r, sr;

	if ((r = resolve(c, device, case_id, why, whylen)) != CASES_OK)
		return r;
	lock_case(c, case_id);
	if (store_case_get(c->o.st, case_id, &cs) != STORE_OK) {
		snprintf(why, whylen, "cannot read case %s", case_id);
		unlock_case(c, case_id);
		return CASES_E_STORE;
	}
	if ((r = load_latest(c, &cs, &payload, NULL, NULL, why, whylen)) != CASES_OK)
		goto out;
	path = xasprintf("%s/reports/%s.jws.json", c->o.state_dir, cs.latest_report_id);
	if (util_read_file(path, REPORT_MAX_JWS, &jws, &len) < 0) {
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
		free(path);
		r = CASES_E_STORE;
		goto out;
	}
	free(path);
	if (c->ntargets > 0 &&
	    upload_build_body(jws, len, &body, &bodylen, &meta, bwhy, sizeof(bwhy)) != UPLOAD_OK) {
		snprintf(why, whylen, "report %s cannot be read back: %s", cs.latest_report_id, bwhy);
		r = CASES_E_STORE;
		goto out;
	}
	sr = store_case_finish(c->o.st, cs.case_id, cs.latest_report_id, body, bodylen, c->targets,
	                       c->ntargets, why, whylen);
	if (sr == STORE_E_STATE) {
		fill_unchanged(&cs, payload, out, "", 1);
		r = CASES_OK;
		goto out;
	}
	if (sr != STORE_OK) {
		r = CASES_E_STORE;
		goto out;
	}
	fill_unchanged(&cs, payload, out, "", 1);
	out->unchanged = 0;
	log_info("case %s: finished: report %s (revision %d) is final as it is%s", cs.case_id,
	         cs.latest_report_id, cs.latest_revision, c->ntargets ? " and queued" : "");
	events_publish(c->o.ev, EV_CASE_FINISHED,
	               json_pack("{s:s, s:s, s:s, s:i}", "device", cs.device, "case_id", cs.case_id,
	                         "report_id", cs.latest_report_id, "revision", cs.latest_revision));
	outbox_kick(c->o.upload);
	outbox_kick(c->o.fleet);
	r = CASES_OK;
out:
	unlock_case(c, case_id);
	store_case_clear(&cs);
	json_decref(payload);
	free(jws);
	free(body);
	return r;
}

/* ---- adoption ----------------------------------------------------------------------------- */

/* Move a refused report (and its snapshot) to reports/rejected/. */
static void
reject(struct cases *c, const char *path, const char *id, const char *reason)
{
	char *dir = xasprintf("%s/reports/rejected", c->o.state_dir), *to, *snap, *snapto;

	if (util_mkdir_p(dir, 0750) < 0) {
		log_warn("adopt: cannot create %s; %s stays where it is", dir, path);
		free(dir);
		return;
	}
	to = xasprintf("%s/%s.jws.json", dir, id);
	snap = xasprintf("%s/reports/%s.snapshot.json", c->o.state_dir, id);
	snapto = xasprintf("%s/%s.snapshot.json", dir, id);
	if (rename(path, to) < 0)
		log_warn("adopt: cannot move %s to %s", path, to);
	else
		log_warnx("adopt: %s refused: %s: moved to %s", path, reason, to);
	if (rename(snap, snapto) < 0 && errno != ENOENT)
		log_warn("adopt: cannot move %s", snap);
	free(dir);
	free(to);
	free(snap);
	free(snapto);
}

int
cases_adopt_file(struct cases *c, const char *path, const char *id)
{
	struct bench_key *k = NULL;
	json_t *jwk, *payload = NULL;
	const char *rid, *case_id;
	char why[600], *jws = NULL;
	size_t len;
	int r, finished = 0;

	if (is_signing(c, id) || store_report_known(c->o.st, id) != 0)
		return 0;
	if (util_read_file(path, REPORT_MAX_JWS, &jws, &len) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, sizeof(why), "%s",
		         errno == EFBIG ? "larger than a report may be" : strerror(errno));
		if (errno == EFBIG)
			reject(c, path, id, why);
		else
			log_warnx("adopt: cannot read %s: %s", path, why);
		return errno == EFBIG ? -1 : -2;
	}
	if (bench_key_load(c->o.state_dir, &k, why, sizeof(why)) != REPORT_OK) {
		log_warnx("adopt: no bench key to check %s with: %s", path, why);
		free(jws);
		return -2;
	}
	jwk = bench_key_public_jwk(k);
	bench_key_free(k);
	r = report_verify(jws, len, jwk, &payload, why, sizeof(why));
	json_decref(jwk);
	if (r != REPORT_OK) {
		char reason[700];
		snprintf(reason, sizeof(reason), "it does not verify with this bench's key (%s)", why);
		free(jws);
		reject(c, path, id, reason);
		return -1;
	}
	rid = str_at(payload, "report_id");
	if (rid == NULL || strcmp(rid, id) != 0) {
		char reason[200];
		snprintf(reason, sizeof(reason), "the file holds report %.40s, not %.40s",
		         rid ? rid : "(none)", id);
		free(jws);
		json_decref(payload);
		reject(c, path, id, reason);
		return -1;
	}
	case_id = str_at(json_object_get(payload, "case"), "case_id");
	if (case_id) {
		struct store_case cs;
		if (store_case_get(c->o.st, case_id, &cs) == STORE_OK) {
			finished = cs.finished;
			store_case_clear(&cs);
		}
		lock_case(c, case_id);
	}
	r = commit_report(
	    c, payload, jws, len, path, NULL, finished,
	    json_is_object(json_object_get(payload, "answers")) ? json_object_get(payload, "answers") : NULL,
	    1, NULL, why, sizeof(why));
	if (case_id)
		unlock_case(c, case_id);
	free(jws);
	if (r == CASES_E_CONFLICT) { /* stored meanwhile, or its revision number is taken */
		if (store_report_known(c->o.st, id) == 1) {
			json_decref(payload);
			return 0;
		}
		json_decref(payload);
		reject(c, path, id, why);
		return -1;
	}
	if (r != CASES_OK) {
		log_warnx("adopt: %s: %s", path, why);
		json_decref(payload);
		return -2;
	}
	log_info("adopted report %s from %s%s%s%s", id, path, case_id ? " (case " : "",
	         case_id ? case_id : "", case_id ? ")" : "");
	json_decref(payload);
	return 1;
}

int
cases_adopt_dir(struct cases *c, int min_age_s)
{
	static const char suffix[] = ".jws.json";
	char *dir = xasprintf("%s/reports", c->o.state_dir);
	struct dirent *e;
	time_t now = time(NULL);
	DIR *dp;
	int n = 0;

	pthread_mutex_lock(&c->adopt_mu);
	if ((dp = opendir(dir)) == NULL) {
		log_warn("adopt: cannot read %s", dir);
		pthread_mutex_unlock(&c->adopt_mu);
		free(dir);
		return 0;
	}
	while ((e = readdir(dp)) != NULL) {
		size_t nl = strlen(e->d_name), sl = sizeof(suffix) - 1;
		char id[64], *path;
		struct stat sb;
		if (nl <= sl || nl - sl >= sizeof(id) || strcmp(e->d_name + nl - sl, suffix) != 0 ||
		    e->d_name[0] == '.')
			continue;
		memcpy(id, e->d_name, nl - sl);
		id[nl - sl] = '\0';
		if (store_report_known(c->o.st, id) != 0 || is_signing(c, id))
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		/* A file still being copied in by hand: the next pass takes it. */
		if (min_age_s > 0 && stat(path, &sb) == 0 && now - sb.st_mtime < min_age_s) {
			free(path);
			continue;
		}
		if (cases_adopt_file(c, path, id) == 1)
			n++;
		free(path);
	}
	closedir(dp);
	pthread_mutex_unlock(&c->adopt_mu);
	free(dir);
	return n;
}

int
cases_queue_unqueued(struct cases *c)
{
	int n = 0;

	for (size_t t = 0; t < c->ntargets; t++) {
		json_t *list, *o;
		size_t i;
		if (store_reports_without_outbox(c->o.st, c->targets[t], &list) != STORE_OK) {
			json_decref(list);
			continue;
		}
		json_array_foreach(list, i, o)
		{
			const char *id = json_string_value(json_object_get(o, "report_id"));
			const char *path = json_string_value(json_object_get(o, "path"));
			struct upload_meta meta;
			char why[512], *jws, *body;
			size_t len, bodylen;
			if (util_read_file(path, UPLOAD_JWS_MAX, &jws, &len) < 0) {
				log_warn("outbox: report %s: cannot read %s", id, path);
				continue;
			}
			if (upload_build_body(jws, len, &body, &bodylen, &meta, why, sizeof(why)) ==
			    UPLOAD_OK) {
				if (store_outbox_add(c->o.st, id, c->targets[t], body, bodylen, why,
				                     sizeof(why)) == STORE_OK) {
					log_info("outbox: queued stored report %s for %s", id, c->targets[t]);
					n++;
				} else {
					log_warnx("outbox: %s", why);
				}
				free(body);
			} else {
				log_warnx("outbox: report %s (%s): %s", id, path, why);
			}
			free(jws);
		}
		json_decref(list);
	}
	if (n > 0) {
		outbox_kick(c->o.upload);
		outbox_kick(c->o.fleet);
	}
	return n;
}

int
cases_close_idle(struct cases *c)
{
	json_t *closed = NULL, *o;
	size_t i;
	int n = store_cases_close_idle(c->o.st, (int64_t)c->o.cfg->case_idle_hours * 3600, &closed);

	json_array_foreach(closed, i, o)
	{
		log_info("case %s (%s): no session for %d h: closed",
		         json_string_value(json_object_get(o, "case_id")),
		         json_string_value(json_object_get(o, "device")), c->o.cfg->case_idle_hours);
		events_publish(
		    c->o.ev, EV_CASE_CLOSED,
		    json_pack("{s:O, s:s}", "case_id", json_object_get(o, "case_id"), "why", "idle"));
	}
	json_decref(closed);
	return n;
}
