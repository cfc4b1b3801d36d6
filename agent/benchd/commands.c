/* commands: see commands.h. */
#include "commands.h"

#include "booking.h"
#include "cases.h"
#include "log.h"
#include "outbox.h"
#include "sessions.h"
#include "store.h"
#include "util.h"

#include "report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct commands {
	struct commands_opts o;
};

static const struct {
	int code;
	const char *name;
	int http;
	int exit;
} codes[] = {
    {COMMANDS_OK, "ok", 200, 0},
    {COMMANDS_E_BAD_REQUEST, "bad_request", 400, 2},
    {COMMANDS_E_NOT_FOUND, "not_found", 404, 2},
    {COMMANDS_E_CONFLICT, "conflict", 409, 1},
    {COMMANDS_E_TOO_LARGE, "too_large", 413, 2},
    {COMMANDS_E_UNAVAILABLE, "unavailable", 503, 1},
    {COMMANDS_E_INTERNAL, "internal", 500, 1},
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

const char *
commands_code_name(int code)
{
	for (size_t i = 0; i < NCODES; i++)
		if (codes[i].code == code)
			return codes[i].name;
	return "internal";
}

int
commands_answer_code(const json_t *answer)
{
	const char *name;

	if (json_is_true(json_object_get(answer, "ok")))
		return COMMANDS_OK;
	name = json_string_value(json_object_get(answer, "code"));
	for (size_t i = 0; name && i < NCODES; i++)
		if (strcmp(codes[i].name, name) == 0)
			return codes[i].code;
	return COMMANDS_E_INTERNAL;
}

int
commands_http_status(const json_t *answer)
{
	int c = commands_answer_code(answer);

	for (size_t i = 0; i < NCODES; i++)
		if (codes[i].code == c)
			return codes[i].http;
	return 500;
}

int
commands_exit_code(const json_t *answer)
{
	int c = commands_answer_code(answer);

	for (size_t i = 0; i < NCODES; i++)
		if (codes[i].code == c)
			return codes[i].exit;
	return 1;
}

json_t *
commands_error(int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", msg, "code", commands_code_name(code));
}

static json_t *
store_failed(int r)
{
	return commands_error(COMMANDS_E_INTERNAL, "cannot read the store: %s", store_strerror(r));
}

static int
clamp_limit(const json_t *req, int def)
{
	json_int_t n = json_integer_value(json_object_get(req, "limit"));

	if (n <= 0)
		return def;
	return n > 1000 ? 1000 : (int)n;
}

/* ---- status, sessions, outbox, retry ------------------------------------------------------ */

/* The configured outbox targets with their counts: [{target, kind, system, url, activity,
 * pending, held, delivered}]. */
static json_t *
targets_of(struct commands *c, const json_t *counts)
{
	struct outbox *obs[2] = {c->o.upload, c->o.fleet};
	json_t *a = json_array();

	for (size_t i = 0; i < 2; i++) {
		const json_t *n;
		char act[128];
		if (obs[i] == NULL)
			continue;
		n = json_object_get(counts, outbox_name(obs[i]));
		outbox_activity(obs[i], act, sizeof(act));
		json_array_append_new(a,
		                      json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "target",
		                                outbox_name(obs[i]), "kind", outbox_kind(obs[i]), "system",
		                                booking_system(outbox_booking(obs[i])), "url",
		                                outbox_url(obs[i]), "activity", act, "pending",
		                                json_integer_value(json_object_get(n, "pending")), "held",
		                                json_integer_value(json_object_get(n, "held")), "delivered",
		                                json_integer_value(json_object_get(n, "delivered"))));
	}
	return a;
}

static json_t *
cmd_status(struct commands *c, const json_t *req)
{
	const struct config *cfg = c->o.cfg;
	json_t *resp, *v;
	char started[32], act[128];
	int r;

	(void)req;
	util_rfc3339(c->o.started, started, sizeof(started));
	outbox_activity(c->o.upload, act, sizeof(act));
	if ((r = store_counts(c->o.st, &v)) != STORE_OK) {
		json_decref(v);
		return store_failed(r);
	}
	resp = json_pack("{s:b, s:s, s:I, s:s, s:s, s:s, s:I, s:s}", "ok", 1, "version", BENCHD_VERSION,
	                 "pid", (json_int_t)getpid(), "bench_id", cfg->bench_id, "state_dir", c->o.state_dir,
	                 "started_at", started, "uptime_s", (json_int_t)(time(NULL) - c->o.started),
	                 "control", c->o.control_path ? c->o.control_path : "");
	json_object_set_new(resp, "sessions",
	                    c->o.sess ? sessions_counts(c->o.sess)
	                              : json_pack("{s:i, s:i, s:i, s:b, s:b}", "running", 0, "queued", 0,
	                                          "max", cfg->max_sessions, "usbmux", 0, "usb_hotplug", 0));
	json_object_set_new(json_object_get(v, "outbox"), "activity", json_string(act));
	json_object_set_new(json_object_get(v, "outbox"), "url", json_string(cfg->upload_url));
	json_object_set_new(resp, "targets", targets_of(c, json_object_get(v, "targets")));
	json_object_del(v, "targets");
	json_object_update(resp, v);
	json_decref(v);
	return resp;
}

static json_t *
cmd_sessions(struct commands *c, const json_t *req)
{
	json_t *recent;
	int r;

	if ((r = store_sessions_list(c->o.st, clamp_limit(req, 50), &recent)) != STORE_OK) {
		json_decref(recent);
		return store_failed(r);
	}
	return json_pack("{s:b, s:o, s:o, s:o}", "ok", 1, "counts",
	                 c->o.sess ? sessions_counts(c->o.sess) : json_object(), "live",
	                 c->o.sess ? sessions_live(c->o.sess) : json_array(), "recent", recent);
}

static json_t *
cmd_outbox(struct commands *c, const json_t *req)
{
	json_t *items = NULL, *counts = NULL, *waiting = NULL, *resp;
	char act[128];
	int r;

	if ((r = store_outbox_list(c->o.st, clamp_limit(req, 200), &items)) != STORE_OK ||
	    (r = store_waiting_list(c->o.st, clamp_limit(req, 200), &waiting)) != STORE_OK ||
	    (r = store_counts(c->o.st, &counts)) != STORE_OK) {
		json_decref(items);
		json_decref(waiting);
		json_decref(counts);
		return store_failed(r);
	}
	outbox_activity(c->o.upload, act, sizeof(act));
	resp =
	    json_pack("{s:b, s:s, s:s, s:O, s:o, s:o, s:o}", "ok", 1, "url", c->o.cfg->upload_url, "activity",
	              act, "counts", json_object_get(counts, "outbox"), "targets",
	              targets_of(c, json_object_get(counts, "targets")), "items", items, "waiting", waiting);
	json_decref(counts);
	return resp;
}

static json_t *
cmd_retry(struct commands *c, const json_t *req)
{
	const char *id = json_string_value(json_object_get(req, "report_id"));
	const char *target = json_string_value(json_object_get(req, "target"));
	int r;

	if (c->o.upload == NULL && c->o.fleet == NULL)
		return commands_error(
		    COMMANDS_E_UNAVAILABLE,
		    "uploads are off: set [upload] url in the configuration and restart benchd");
	if (target && strcmp(target, STORE_TARGET_UPLOAD) != 0 && strcmp(target, STORE_TARGET_FLEET) != 0)
		return commands_error(COMMANDS_E_BAD_REQUEST, "target must be upload or fleet, not '%.20s'",
		                      target);
	if (json_is_true(json_object_get(req, "held"))) {
		r = store_outbox_retry_held(c->o.st, target);
		if (r < 0)
			return commands_error(COMMANDS_E_INTERNAL, "%s", store_strerror(r));
		log_info("outbox: %d held report%s queued for upload now (benchctl outbox retry --held)", r,
		         r == 1 ? "" : "s");
		outbox_retry_now(c->o.upload);
		outbox_retry_now(c->o.fleet);
		return json_pack("{s:b, s:i}", "ok", 1, "requeued", r);
	}
	if (id == NULL || id[0] == '\0')
		return commands_error(COMMANDS_E_BAD_REQUEST, "retry needs a report_id (or \"held\": true)");
	r = store_outbox_retry(c->o.st, id, target);
	if (r == STORE_E_NOT_FOUND)
		return commands_error(COMMANDS_E_NOT_FOUND,
		                      "no report %.64s in the outbox: `benchctl outbox` lists what it holds",
		                      id);
	if (r == STORE_E_STATE)
		return commands_error(COMMANDS_E_CONFLICT, "report %.64s was already delivered", id);
	if (r != STORE_OK)
		return commands_error(COMMANDS_E_INTERNAL, "%s", store_strerror(r));
	log_info("outbox: %s queued for upload now (benchctl outbox retry)", id);
	outbox_retry_now(c->o.upload);
	outbox_retry_now(c->o.fleet);
	return json_pack("{s:b, s:s, s:s, s:i}", "ok", 1, "report_id", id, "state", "pending", "requeued", 1);
}

/* ---- cases: answer, link, finish, cases, state -------------------------------------------- */

static json_t *
cases_refused(int r, const char *why)
{
	switch (r) {
	case CASES_E_BAD:
	case CASES_E_AMBIGUOUS:
		return commands_error(COMMANDS_E_BAD_REQUEST, "%s", why);
	case CASES_E_NOT_FOUND:
		return commands_error(COMMANDS_E_NOT_FOUND, "%s", why);
	case CASES_E_CONFLICT:
		return commands_error(COMMANDS_E_CONFLICT, "%s", why);
	default:
		return commands_error(COMMANDS_E_INTERNAL, "%s", why);
	}
}

static json_t *
revision_answer(const struct commands *c, const struct cases_revision *rv)
{
	json_t *a = json_pack("{s:b, s:s, s:s, s:s, s:i, s:s, s:b, s:b}", "ok", 1, "report_id", rv->report_id,
	                      "case_id", rv->case_id, "device", rv->device, "revision", rv->revision,
	                      "outcome", rv->outcome, "final", rv->final, "unchanged", rv->unchanged);
	json_object_set_new(a, "waiting", rv->waiting[0] ? json_string(rv->waiting) : json_null());
	json_object_set_new(a, "ticket", rv->ticket[0] ? json_string(rv->ticket) : json_null());
	json_object_set_new(a, "queued", json_boolean(rv->final && (c->o.upload || c->o.fleet)));
	return a;
}

static const char *
device_of(const json_t *req)
{
	return json_string_value(json_object_get(req, "device"));
}

static json_t *
need_cases(struct commands *c)
{
	return c->o.cases ? NULL
	                  : commands_error(COMMANDS_E_UNAVAILABLE,
	                                   "this benchd does not keep cases (no store for them)");
}

static json_t *
cmd_answer(struct commands *c, const json_t *req)
{
	struct cases_revision rv;
	char why[1024];
	json_t *e = need_cases(c);
	int r;

	if (e)
		return e;
	if (!json_is_object(json_object_get(req, "answers")))
		return commands_error(COMMANDS_E_BAD_REQUEST,
		                      "answer needs \"answers\": {\"KEY\": \"VALUE\", ...}");
	r = cases_answer(c->o.cases, device_of(req), json_object_get(req, "answers"), &rv, why, sizeof(why));
	return r == CASES_OK ? revision_answer(c, &rv) : cases_refused(r, why);
}

static json_t *
cmd_link(struct commands *c, const json_t *req)
{
	struct cases_revision rv;
	char why[1024];
	json_t *e = need_cases(c);
	int r;

	if (e)
		return e;
	if (!json_is_string(json_object_get(req, "ticket")))
		return commands_error(COMMANDS_E_BAD_REQUEST, "link needs \"ticket\": \"T-1001\"");
	r = cases_link(c->o.cases, device_of(req), json_string_value(json_object_get(req, "ticket")), &rv,
	               why, sizeof(why));
	return r == CASES_OK ? revision_answer(c, &rv) : cases_refused(r, why);
}

static json_t *
cmd_finish(struct commands *c, const json_t *req)
{
	struct cases_revision rv;
	char why[1024];
	json_t *e = need_cases(c);
	int r;

	if (e)
		return e;
	r = cases_finish(c->o.cases, device_of(req), &rv, why, sizeof(why));
	return r == CASES_OK ? revision_answer(c, &rv) : cases_refused(r, why);
}

/* The cases rows as the API gives them: the latest revision as an object. */
static json_t *
shape_cases(json_t *rows)
{
	size_t i;
	json_t *row;

	json_array_foreach(rows, i, row)
	{
		json_t *latest = json_object();
		static const char *const from[] = {"latest_report_id", "latest_revision", "latest_outcome",
		                                   "latest_final", "latest_waiting"};
		static const char *const to[] = {"report_id", "revision", "outcome", "final", "waiting"};
		for (size_t k = 0; k < 5; k++) {
			json_t *v = json_object_get(row, from[k]);
			json_object_set(latest, to[k], v ? v : json_null());
			json_object_del(row, from[k]);
		}
		if (json_is_integer(json_object_get(latest, "final")))
			json_object_set_new(
			    latest, "final",
			    json_boolean(json_integer_value(json_object_get(latest, "final"))));
		json_object_set_new(row, "latest", latest);
	}
	return rows;
}

static json_t *
cmd_cases(struct commands *c, const json_t *req)
{
	const char *state = json_string_value(json_object_get(req, "state"));
	json_t *rows;
	int r;

	if (state && strcmp(state, "open") != 0 && strcmp(state, "all") != 0)
		return commands_error(COMMANDS_E_BAD_REQUEST, "state must be open or all, not '%.20s'",
		                      state);
	if ((r = store_cases_list(c->o.st, state == NULL || strcmp(state, "open") == 0, clamp_limit(req, 100),
	                          &rows)) != STORE_OK) {
		json_decref(rows);
		return store_failed(r);
	}
	return json_pack("{s:b, s:o}", "ok", 1, "cases", shape_cases(rows));
}

static json_t *
cmd_state(struct commands *c, const json_t *req)
{
	json_t *st = cmd_status(c, req), *cases = NULL, *waiting = NULL;
	int r;

	if (!json_is_true(json_object_get(st, "ok")))
		return st;
	if ((r = store_cases_list(c->o.st, 1, 200, &cases)) != STORE_OK ||
	    (r = store_waiting_list(c->o.st, 200, &waiting)) != STORE_OK) {
		json_decref(st);
		json_decref(cases);
		json_decref(waiting);
		return store_failed(r);
	}
	json_object_set_new(st, "live", c->o.sess ? sessions_live(c->o.sess) : json_array());
	json_object_set_new(st, "cases", shape_cases(cases));
	json_object_set_new(st, "waiting_cases", waiting);
	json_object_set_new(st, "seq", json_integer((json_int_t)events_last_seq(c->o.ev)));
	return st;
}

/* ---- bookings ----------------------------------------------------------------------------- */

static int
valid_lang(const char *l)
{
	return l &&
	       (strcmp(l, "en") == 0 || strcmp(l, "it") == 0 || strcmp(l, "fr") == 0 || strcmp(l, "zh") == 0);
}

static json_t *
cmd_booking_add(struct commands *c, const json_t *req)
{
	static const char *const kinds[] = {"serial", "imei", "udid"};
	const char *kind = NULL, *value = NULL, *lang = json_string_value(json_object_get(req, "lang"));
	const char *note = json_string_value(json_object_get(req, "note"));
	char ticket[STORE_TICKET_MAX + 1], why[512], norm[80];
	struct store_booking b;
	json_t *row;
	int64_t id = 0;
	int r, n = 0;

	for (size_t i = 0; i < 3; i++)
		if (json_object_get(req, kinds[i]) != NULL) {
			kind = kinds[i];
			value = json_string_value(json_object_get(req, kinds[i]));
			n++;
		}
	if (n != 1)
		return commands_error(COMMANDS_E_BAD_REQUEST,
		                      "a booking names the device by one of serial, imei or udid");
	if (value == NULL || store_booking_normalise(value, norm, sizeof(norm)) < 0)
		return commands_error(COMMANDS_E_BAD_REQUEST, "the %s must be 1 to 64 characters", kind);
	for (const char *p = norm; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || *p == '-'))
			return commands_error(
			    COMMANDS_E_BAD_REQUEST,
			    "the %s '%.64s' has a character a %s cannot have (letters, digits and "
			    "'-' only)",
			    kind, value, kind);
	if (cases_check_ticket(json_string_value(json_object_get(req, "ticket")), ticket, why, sizeof(why)) <
	    0)
		return commands_error(COMMANDS_E_BAD_REQUEST, "%s", why);
	if (json_object_get(req, "lang") && !valid_lang(lang))
		return commands_error(COMMANDS_E_BAD_REQUEST, "lang must be en, it, fr or zh");
	if (json_object_get(req, "note") && note == NULL)
		return commands_error(COMMANDS_E_BAD_REQUEST, "note must be text");
	if (note && strlen(note) > STORE_NOTE_MAX)
		return commands_error(COMMANDS_E_TOO_LARGE, "the note is %zu bytes: at most %d", strlen(note),
		                      STORE_NOTE_MAX);
	for (const char *p = note; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return commands_error(COMMANDS_E_BAD_REQUEST,
			                      "the note holds a control character: one line of text");
	memset(&b, 0, sizeof(b));
	b.kind = kind;
	b.value = norm;
	b.ticket = ticket;
	b.lang = lang;
	b.note = note && note[0] ? note : NULL;
	b.source = "manual";
	r = store_booking_add(c->o.st, &b, &id, why, sizeof(why));
	if (r == STORE_E_EXISTS)
		return commands_error(COMMANDS_E_CONFLICT, "%s", why);
	if (r != STORE_OK)
		return commands_error(COMMANDS_E_INTERNAL, "cannot store the booking: %s", why);
	log_info("booking %lld: %s %s -> ticket %s%s%s", (long long)id, kind, norm, ticket,
	         lang ? ", language " : "", lang ? lang : "");
	events_publish(c->o.ev, EV_BOOKING_CHANGED, NULL);
	if (store_booking_get(c->o.st, id, &row) != STORE_OK)
		return commands_error(COMMANDS_E_INTERNAL, "the booking was stored but cannot be read back");
	return json_pack("{s:b, s:o}", "ok", 1, "booking", row);
}

static json_t *
cmd_booking_list(struct commands *c, const json_t *req)
{
	json_t *rows;
	int r;

	(void)req;
	if ((r = store_bookings_list(c->o.st, &rows)) != STORE_OK) {
		json_decref(rows);
		return store_failed(r);
	}
	return json_pack("{s:b, s:o}", "ok", 1, "bookings", rows);
}

static json_t *
cmd_booking_remove(struct commands *c, const json_t *req)
{
	const json_t *v = json_object_get(req, "id");
	json_int_t id = -1;
	char why[512];
	int r;

	if (json_is_integer(v))
		id = json_integer_value(v);
	else if (json_is_string(v)) {
		char *end;
		errno = 0;
		id = strtoll(json_string_value(v), &end, 10);
		if (errno || *end || end == json_string_value(v))
			id = -1;
	}
	if (id <= 0)
		return commands_error(COMMANDS_E_BAD_REQUEST,
		                      "booking_remove needs the booking's id (a number; see booking list)");
	r = store_booking_remove(c->o.st, id, why, sizeof(why));
	if (r == STORE_E_NOT_FOUND)
		return commands_error(COMMANDS_E_NOT_FOUND, "%s", why);
	if (r == STORE_E_STATE)
		return commands_error(COMMANDS_E_CONFLICT, "%s", why);
	if (r != STORE_OK)
		return commands_error(COMMANDS_E_INTERNAL, "cannot remove the booking: %s", why);
	log_info("booking %lld removed", (long long)id);
	events_publish(c->o.ev, EV_BOOKING_CHANGED, NULL);
	return json_pack("{s:b, s:I}", "ok", 1, "removed", id);
}

/* ---- history, reports, report_get --------------------------------------------------------- */

/* readings.battery_forecast of a stored report (new), or NULL when it has none. */
static json_t *
report_forecast(struct commands *c, const char *report_id)
{
	char path[4096], kid[64], why[256];
	json_t *payload = NULL, *fc = NULL;
	char *jws = NULL;
	size_t len;

	if (report_id == NULL || store_report_path(c->o.st, report_id, path, sizeof(path)) != STORE_OK ||
	    util_read_file(path, REPORT_MAX_JWS, &jws, &len) < 0)
		return NULL;
	/* Only reports this bench's key verified are in the store (adoption checks them). */
	if (report_unverified_payload(jws, len, &payload, kid, why, sizeof(why)) == REPORT_OK)
		fc = json_incref(json_object_get(json_object_get(payload, "readings"), "battery_forecast"));
	json_decref(payload);
	free(jws);
	return fc;
}

static json_t *
cmd_history(struct commands *c, const json_t *req)
{
	const char *d = device_of(req);
	char why[512];
	json_t *h;
	int r;

	if (d == NULL || d[0] == '\0' || strlen(d) > 128)
		return commands_error(
		    COMMANDS_E_BAD_REQUEST,
		    "history needs \"device\": a serial number, UDID, ECID, case id or report id");
	r = store_history(c->o.st, d, &h, why, sizeof(why));
	if (r == STORE_E_NOT_FOUND)
		return commands_error(COMMANDS_E_NOT_FOUND, "%s", why);
	if (r != STORE_OK)
		return commands_error(COMMANDS_E_INTERNAL, "%s", why);
	{
		json_t *a = json_pack("{s:b}", "ok", 1), *reports = json_object_get(h, "reports");
		const json_t *last = json_array_get(reports, json_array_size(reports) - 1);
		const char *rid = json_string_value(json_object_get(last, "report_id"));
		json_t *fc = json_array_size(reports) ? report_forecast(c, rid) : NULL;
		json_object_update(a, h);
		json_decref(h);
		/* The latest report's battery forecast (DESIGN 4.9), and which report said it. */
		json_object_set_new(a, "battery_forecast", fc ? fc : json_null());
		json_object_set_new(a, "battery_forecast_report_id",
		                    fc && rid ? json_string(rid) : json_null());
		return a;
	}
}

static json_t *
cmd_reports(struct commands *c, const json_t *req)
{
	const char *d = device_of(req), *since = json_string_value(json_object_get(req, "since"));
	char norm[32];
	json_t *rows;
	int r;

	if (json_object_get(req, "since")) {
		time_t t;
		if (since == NULL || util_parse_rfc3339(since, &t) < 0)
			return commands_error(COMMANDS_E_BAD_REQUEST,
			                      "since must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z");
		util_rfc3339(t, norm, sizeof(norm));
		since = norm;
	}
	if (d && (d[0] == '\0' || strlen(d) > 128))
		return commands_error(COMMANDS_E_BAD_REQUEST,
		                      "device must be a serial number, UDID, ECID, case id or report id");
	if ((r = store_reports_list(c->o.st, d, since, clamp_limit(req, 100), &rows)) != STORE_OK) {
		json_decref(rows);
		return store_failed(r);
	}
	return json_pack("{s:b, s:o}", "ok", 1, "reports", rows);
}

static json_t *
cmd_report_get(struct commands *c, const json_t *req)
{
	const char *id = json_string_value(json_object_get(req, "report_id"));
	char path[4096], why[600], kid[64];
	struct bench_key *k = NULL;
	json_t *payload = NULL, *jwk, *a;
	char *jws;
	size_t len;
	int r;

	if (id == NULL || id[0] == '\0' || strlen(id) > 64)
		return commands_error(COMMANDS_E_BAD_REQUEST, "report_get needs \"report_id\"");
	r = store_report_path(c->o.st, id, path, sizeof(path));
	if (r == STORE_E_NOT_FOUND)
		return commands_error(COMMANDS_E_NOT_FOUND,
		                      "no report %.64s on this bench: benchctl report list shows them", id);
	if (r != STORE_OK)
		return store_failed(r);
	if (util_read_file(path, REPORT_MAX_JWS, &jws, &len) < 0)
		return commands_error(COMMANDS_E_INTERNAL, "cannot read %s: %s", path, strerror(errno));
	if (bench_key_load(c->o.state_dir, &k, why, sizeof(why)) == REPORT_OK) {
		jwk = bench_key_public_jwk(k);
		bench_key_free(k);
		r = report_verify(jws, len, jwk, &payload, why, sizeof(why));
		json_decref(jwk);
	} else {
		r = REPORT_E_KEY;
	}
	if (r != REPORT_OK && payload == NULL) {
		char w2[256];
		if (report_unverified_payload(jws, len, &payload, kid, w2, sizeof(w2)) != REPORT_OK) {
			free(jws);
			return commands_error(COMMANDS_E_INTERNAL, "report %.64s is not readable: %s", id,
			                      w2);
		}
	}
	free(jws);
	a = json_pack("{s:b, s:o, s:b, s:s}", "ok", 1, "report", payload, "verified", r == REPORT_OK, "path",
	              path);
	if (r != REPORT_OK)
		json_object_set_new(a, "reason", json_string(why));
	{
		const char *case_id =
		    json_string_value(json_object_get(json_object_get(payload, "case"), "case_id"));
		struct store_case cs;
		if (case_id && store_case_get(c->o.st, case_id, &cs) == STORE_OK) {
			json_object_set_new(a, "case",
			                    json_pack("{s:s, s:s, s:o, s:o, s:i, s:s}", "case_id", cs.case_id,
			                              "state", cs.open ? "open" : "closed", "ticket",
			                              cs.ticket[0] ? json_string(cs.ticket) : json_null(),
			                              "lang", cs.lang[0] ? json_string(cs.lang) : json_null(),
			                              "latest_revision", cs.latest_revision,
			                              "latest_report_id", cs.latest_report_id));
			store_case_clear(&cs);
		}
	}
	return a;
}

/* One authenticated read of the [upload] target (booking.h): what was found, or why not. The
 * adapter bounds it (a few seconds for the rate limiter, 10 s for the request). */
static json_t *
cmd_upload_check(struct commands *c, const json_t *req)
{
	struct booking *b = outbox_booking(c->o.upload);
	char msg[1024];

	(void)req;
	if (b == NULL)
		return commands_error(COMMANDS_E_UNAVAILABLE,
		                      "uploads are off: set [upload] url in the configuration");
	if (booking_check(b, msg, sizeof(msg)) != 0)
		return commands_error(COMMANDS_E_UNAVAILABLE, "%s", msg);
	return json_pack("{s:b, s:s, s:s, s:s, s:s}", "ok", 1, "kind", booking_kind(b), "system",
	                 booking_system(b), "url", outbox_url(c->o.upload), "message", msg);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

typedef json_t *(*command_fn)(struct commands *c, const json_t *req);

static const struct {
	const char *name;
	command_fn fn;
} table[] = {
    {"status", cmd_status},
    {"sessions", cmd_sessions},
    {"outbox", cmd_outbox},
    {"retry", cmd_retry},
    {"answer", cmd_answer},
    {"link", cmd_link},
    {"finish", cmd_finish},
    {"cases", cmd_cases},
    {"state", cmd_state},
    {"booking_add", cmd_booking_add},
    {"booking_list", cmd_booking_list},
    {"booking_remove", cmd_booking_remove},
    {"history", cmd_history},
    {"reports", cmd_reports},
    {"report_get", cmd_report_get},
    {"upload_check", cmd_upload_check},
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

struct commands *
commands_new(const struct commands_opts *o)
{
	struct commands *c = xcalloc(1, sizeof(*c));

	c->o = *o;
	return c;
}

void
commands_free(struct commands *c)
{
	free(c);
}

json_t *
commands_call(struct commands *c, const json_t *req)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	char known[512] = "";
	json_t *a;

	if (!json_is_object(req) || cmd == NULL)
		return commands_error(COMMANDS_E_BAD_REQUEST,
		                      "a request is a JSON object with \"cmd\", e.g. {\"cmd\":\"status\"}");
	if (strcmp(cmd, "subscribe") == 0)
		return commands_error(COMMANDS_E_BAD_REQUEST,
		                      "subscribe opens a stream: send it on a connection of its own");
	for (size_t i = 0; i < NTABLE; i++)
		if (strcmp(cmd, table[i].name) == 0) {
			a = table[i].fn(c, req);
			return a ? a : commands_error(COMMANDS_E_INTERNAL, "%s gave no answer", cmd);
		}
	for (size_t i = 0; i < NTABLE; i++) {
		strncat(known, table[i].name, sizeof(known) - strlen(known) - 1);
		strncat(known, ", ", sizeof(known) - strlen(known) - 1);
	}
	strncat(known, "subscribe", sizeof(known) - strlen(known) - 1);
	return commands_error(COMMANDS_E_BAD_REQUEST, "unknown cmd '%.40s' (known: %s)", cmd, known);
}

struct events_sub *
commands_subscribe(struct commands *c, const json_t *req, json_t **answer)
{
	json_int_t since = json_integer_value(json_object_get(req, "since"));
	struct events_sub *s;

	if (since < 0) {
		*answer = commands_error(COMMANDS_E_BAD_REQUEST, "since must be an event seq (0 or more)");
		return NULL;
	}
	s = events_subscribe(c->o.ev, (uint64_t)since);
	if (s == NULL) {
		*answer = commands_error(COMMANDS_E_UNAVAILABLE, "benchd is stopping: no new subscribers");
		return NULL;
	}
	*answer = json_pack("{s:b, s:I}", "ok", 1, "seq", (json_int_t)events_last_seq(c->o.ev));
	return s;
}
