/* commands: see commands.h. */
#include "commands.h"

#include "log.h"
#include "outbox.h"
#include "sessions.h"
#include "store.h"
#include "util.h"

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
	json_t *items, *counts, *resp;
	char act[128];
	int r;

	if ((r = store_outbox_list(c->o.st, clamp_limit(req, 200), &items)) != STORE_OK ||
	    (r = store_counts(c->o.st, &counts)) != STORE_OK) {
		json_decref(items);
		return store_failed(r);
	}
	outbox_activity(c->o.upload, act, sizeof(act));
	resp = json_pack("{s:b, s:s, s:s, s:O, s:o}", "ok", 1, "url", c->o.cfg->upload_url, "activity", act,
	                 "counts", json_object_get(counts, "outbox"), "items", items);
	json_decref(counts);
	return resp;
}

static json_t *
cmd_retry(struct commands *c, const json_t *req)
{
	const char *id = json_string_value(json_object_get(req, "report_id"));
	int r;

	if (c->o.upload == NULL)
		return commands_error(
		    COMMANDS_E_UNAVAILABLE,
		    "uploads are off: set [upload] url in the configuration and restart benchd");
	if (json_is_true(json_object_get(req, "held"))) {
		r = store_outbox_retry_held(c->o.st);
		if (r < 0)
			return commands_error(COMMANDS_E_INTERNAL, "%s", store_strerror(r));
		log_info("outbox: %d held report%s queued for upload now (benchctl outbox retry --held)", r,
		         r == 1 ? "" : "s");
		outbox_retry_now(c->o.upload);
		return json_pack("{s:b, s:i}", "ok", 1, "requeued", r);
	}
	if (id == NULL || id[0] == '\0')
		return commands_error(COMMANDS_E_BAD_REQUEST, "retry needs a report_id (or \"held\": true)");
	r = store_outbox_retry(c->o.st, id);
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
	return json_pack("{s:b, s:s, s:s, s:i}", "ok", 1, "report_id", id, "state", "pending", "requeued", 1);
}

static json_t *
cmd_not_yet(struct commands *c, const json_t *req)
{
	(void)c;
	return commands_error(COMMANDS_E_UNAVAILABLE, "%s is not implemented in this benchd yet",
	                      json_string_value(json_object_get(req, "cmd")));
}

/* ---- dispatch ------------------------------------------------------------------------------ */

typedef json_t *(*command_fn)(struct commands *c, const json_t *req);

static const struct {
	const char *name;
	command_fn fn;
} table[] = {
    {"status", cmd_status},        {"sessions", cmd_sessions},    {"outbox", cmd_outbox},
    {"retry", cmd_retry},          {"answer", cmd_not_yet},       {"link", cmd_not_yet},
    {"finish", cmd_not_yet},       {"cases", cmd_not_yet},        {"state", cmd_not_yet},
    {"booking_add", cmd_not_yet},  {"booking_list", cmd_not_yet}, {"booking_remove", cmd_not_yet},
    {"history", cmd_not_yet},      {"reports", cmd_not_yet},      {"report_get", cmd_not_yet},
    {"upload_check", cmd_not_yet},
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
