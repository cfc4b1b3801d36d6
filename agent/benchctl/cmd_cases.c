/*
 * benchctl answer | link | finish | booking | history | watch | report list: the technician's
 * side of a bench (DESIGN.md 4.8), each one request to the running benchd's control socket
 * (agent/benchd/commands.h holds the one implementation of each). DEVICE is a UDID, a serial
 * number, an ECID, a case id or a report id. Every command takes --socket PATH or --config FILE
 * (as status does) and --json (one compact JSON line; a refusal is {"ok":false,"error","code"}).
 * Exit 0 done, 2 bad input or no such case, 1 refused for another reason or failed, 7 no benchd.
 */
#include "benchctl.h"

#include "ctlclient.h"
#include "util.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
	OPT_SOCKET = 1000,
	OPT_CONFIG,
	OPT_SERIAL,
	OPT_IMEI,
	OPT_UDID,
	OPT_TICKET,
	OPT_LANG,
	OPT_NOTE,
	OPT_DEVICE,
	OPT_SINCE,
	OPT_LIMIT
};

struct copts {
	struct bc_conn conn;
	const char *serial, *imei, *udid, *ticket, *lang, *note, *device, *since;
	int limit;
	int nargs;
	char **args; /* the positional arguments, in order */
};

static const struct option longopts[] = {
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"serial", required_argument, NULL, OPT_SERIAL},
    {"imei", required_argument, NULL, OPT_IMEI},
    {"udid", required_argument, NULL, OPT_UDID},
    {"ticket", required_argument, NULL, OPT_TICKET},
    {"lang", required_argument, NULL, OPT_LANG},
    {"note", required_argument, NULL, OPT_NOTE},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"since", required_argument, NULL, OPT_SINCE},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The options each command takes (beside --socket, --config, --help). */
static int
allowed(const char *cmd, int opt)
{
	if (opt == OPT_SOCKET || opt == OPT_CONFIG)
		return 1;
	if (strcmp(cmd, "booking add") == 0)
		return opt == OPT_SERIAL || opt == OPT_IMEI || opt == OPT_UDID || opt == OPT_TICKET ||
		       opt == OPT_LANG || opt == OPT_NOTE;
	if (strcmp(cmd, "report list") == 0)
		return opt == OPT_DEVICE || opt == OPT_SINCE || opt == OPT_LIMIT;
	return 0;
}

/* Parse argv (argv[0] is the command's last word); -1 after --help, else an exit code. */
static int
parse(struct ctl *g, const char *cmd, const char *usage, int argc, char **argv, struct copts *o)
{

	int ch;

	memset(o, 0, sizeof(*o));
	o->args = xcalloc((size_t)argc + 1, sizeof(char *));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "-:h", longopts, NULL)) != -1) {
		if (ch == 1) {
			o->args[o->nargs++] = optarg;
			continue;
		}
		if (ch == 'h') {
			printf("usage: benchctl %s\n", usage);
			return -1;
		}
		if (ch == '?' || ch == ':')
			return benchctl_bad_option(g, cmd, ch, argc, argv);
		if (!allowed(cmd, ch))
			return benchctl_usage_error(g, cmd, "unknown option '%s'", argv[optind - 1]);
		switch (ch) {
		case OPT_SOCKET:
			o->conn.socket = optarg;
			break;
		case OPT_CONFIG:
			o->conn.config = optarg;
			break;
		case OPT_SERIAL:
			o->serial = optarg;
			break;
		case OPT_IMEI:
			o->imei = optarg;
			break;
		case OPT_UDID:
			o->udid = optarg;
			break;
		case OPT_TICKET:
			o->ticket = optarg;
			break;
		case OPT_LANG:
			o->lang = optarg;
			break;
		case OPT_NOTE:
			o->note = optarg;
			break;
		case OPT_DEVICE:
			o->device = optarg;
			break;
		case OPT_SINCE:
			o->since = optarg;
			break;
		case OPT_LIMIT: {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || n < 1 || n > 1000)
				return benchctl_usage_error(g, cmd, "--limit takes 1 to 1000, not '%s'",
				                            optarg);
			o->limit = (int)n;
			break;
		}
		}
	}
	return BC_EXIT_OK;
}

static int
finish_parse(struct copts *o, int rc)
{
	free(o->args);
	o->args = NULL;
	return rc < 0 ? BC_EXIT_OK : rc;
}

static const char *
s_or(const json_t *o, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && s[0] ? s : def;
}

/* Ask, print the answer with --json; *resp for the caller's text when not --json. */
static int
ask(struct ctl *g, struct copts *o, json_t *req, json_t **resp)
{
	int rc = benchctl_ask(g, &o->conn, req, resp);

	if (rc == BC_EXIT_OK && g->json) {
		benchctl_print_json(*resp);
		json_decref(*resp);
		*resp = NULL;
	}
	return rc;
}

/* What answer, link and finish made. */
static void
print_revision(const json_t *r, const char *what)
{
	const char *waiting = s_or(r, "waiting", NULL);

	if (json_is_true(json_object_get(r, "unchanged")))
		printf("case %s: nothing new: revision %lld (report %s) %s\n", s_or(r, "case_id", "?"),
		       (long long)json_integer_value(json_object_get(r, "revision")),
		       s_or(r, "report_id", "?"), what);
	else
		printf("case %s: revision %lld signed (report %s): %s\n", s_or(r, "case_id", "?"),
		       (long long)json_integer_value(json_object_get(r, "revision")),
		       s_or(r, "report_id", "?"), s_or(r, "outcome", "?"));
	if (s_or(r, "ticket", NULL))
		printf("  ticket %s\n", s_or(r, "ticket", ""));
	if (json_is_true(json_object_get(r, "final")))
		printf("  final: %s\n", json_is_true(json_object_get(r, "queued"))
		                            ? "queued for upload (benchctl outbox)"
		                            : "kept on this bench (no [upload] url)");
	else
		printf("  waiting: %s\n", waiting ? waiting : "?");
}

int
cmd_answer(struct ctl *g, int argc, char **argv)
{
	static const char usage[] = "answer DEVICE KEY=VALUE... [--socket PATH | --config FILE] [--json]";
	struct copts o;
	json_t *answers, *resp;
	int rc = parse(g, "answer", usage, argc, argv, &o);

	if (rc != BC_EXIT_OK)
		return finish_parse(&o, rc);
	if (o.nargs < 2)
		return finish_parse(&o, benchctl_usage_error(g, "answer",
		                                             "give the device and one answer or more, "
		                                             "e.g. benchctl answer F2LZK0ABN72J KEY=VALUE"));
	answers = json_object();
	for (int i = 1; i < o.nargs; i++) {
		const char *eq = strchr(o.args[i], '=');
		if (eq == NULL || eq == o.args[i] || eq[1] == '\0') {
			json_decref(answers);
			rc = benchctl_usage_error(
			    g, "answer", "'%s' is not KEY=VALUE (e.g. tg0b_new_battery=yes)", o.args[i]);
			return finish_parse(&o, rc);
		}
		{
			char key[128];
			snprintf(key, sizeof(key), "%.*s", (int)(eq - o.args[i]), o.args[i]);
			json_object_set_new(answers, key, json_string(eq + 1));
		}
	}
	rc =
	    ask(g, &o, json_pack("{s:s, s:s, s:o}", "cmd", "answer", "device", o.args[0], "answers", answers),
	        &resp);
	if (rc == BC_EXIT_OK && resp) {
		print_revision(resp, "already has these answers");
		json_decref(resp);
	}
	return finish_parse(&o, rc);
}

int
cmd_link(struct ctl *g, int argc, char **argv)
{
	static const char usage[] = "link DEVICE TICKET [--socket PATH | --config FILE] [--json]";
	struct copts o;
	json_t *resp;
	int rc = parse(g, "link", usage, argc, argv, &o);

	if (rc != BC_EXIT_OK)
		return finish_parse(&o, rc);
	if (o.nargs < 2)
		return finish_parse(&o, benchctl_usage_error(g, "link", "give the device and the ticket"));
	if (o.nargs > 2)
		return finish_parse(&o,
		                    benchctl_usage_error(g, "link", "unexpected argument '%s'", o.args[2]));
	rc = ask(g, &o, json_pack("{s:s, s:s, s:s}", "cmd", "link", "device", o.args[0], "ticket", o.args[1]),
	         &resp);
	if (rc == BC_EXIT_OK && resp) {
		print_revision(resp, "carries that ticket already");
		json_decref(resp);
	}
	return finish_parse(&o, rc);
}

int
cmd_finish(struct ctl *g, int argc, char **argv)
{
	static const char usage[] = "finish DEVICE [--socket PATH | --config FILE] [--json]";
	struct copts o;
	json_t *resp;
	int rc = parse(g, "finish", usage, argc, argv, &o);

	if (rc != BC_EXIT_OK)
		return finish_parse(&o, rc);
	if (o.nargs != 1)
		return finish_parse(
		    &o, o.nargs == 0
		            ? benchctl_usage_error(g, "finish", "give the device")
		            : benchctl_usage_error(g, "finish", "unexpected argument '%s'", o.args[1]));
	rc = ask(g, &o, json_pack("{s:s, s:s}", "cmd", "finish", "device", o.args[0]), &resp);
	if (rc == BC_EXIT_OK && resp) {
		if (json_is_true(json_object_get(resp, "unchanged")))
			printf("case %s: report %s (revision %lld) was final already\n",
			       s_or(resp, "case_id", "?"), s_or(resp, "report_id", "?"),
			       (long long)json_integer_value(json_object_get(resp, "revision")));
		else
			printf("case %s: report %s (revision %lld) is final as it is: %s\n",
			       s_or(resp, "case_id", "?"), s_or(resp, "report_id", "?"),
			       (long long)json_integer_value(json_object_get(resp, "revision")),
			       json_is_true(json_object_get(resp, "queued"))
			           ? "queued for upload (benchctl outbox)"
			           : "kept on this bench (no [upload] url)");
		json_decref(resp);
	}
	return finish_parse(&o, rc);
}

/* ---- bookings ----------------------------------------------------------------------------- */

static void
print_booking(const json_t *b)
{
	printf("  %-5lld %-6s %-26s %-14s %-4s %-20s %s%s\n",
	       (long long)json_integer_value(json_object_get(b, "id")), s_or(b, "kind", "?"),
	       s_or(b, "value", "?"), s_or(b, "ticket", "?"), s_or(b, "lang", "-"),
	       s_or(b, "created_at", "-"), s_or(b, "used_by", NULL) ? "used by case " : "unused",
	       s_or(b, "used_by", ""));
	if (s_or(b, "note", NULL))
		printf("        note: %s\n", s_or(b, "note", ""));
}

int
cmd_booking(struct ctl *g, int argc, char **argv)
{
	static const char usage[] =
	    "booking add (--serial S | --imei I | --udid U) --ticket T [--lang en|it|fr|zh] [--note TEXT]\n"
	    "       benchctl booking list\n"
	    "       benchctl booking remove ID\n"
	    "  (each with [--socket PATH | --config FILE] [--json])";
	struct copts o;
	json_t *resp, *req, *v;
	size_t i;
	int rc;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: benchctl %s\n", usage);
		return BC_EXIT_OK;
	}
	if (argc < 2)
		return benchctl_usage_error(g, "booking", "say add, list or remove");
	if (strcmp(argv[1], "add") == 0) {
		int n;
		if ((rc = parse(g, "booking add", usage, argc - 1, argv + 1, &o)) != BC_EXIT_OK)
			return finish_parse(&o, rc);
		n = (o.serial != NULL) + (o.imei != NULL) + (o.udid != NULL);
		if (o.nargs != 0)
			return finish_parse(&o, benchctl_usage_error(g, "booking add",
			                                             "unexpected argument '%s'", o.args[0]));
		if (n != 1 || o.ticket == NULL)
			return finish_parse(&o, benchctl_usage_error(g, "booking add",
			                                             "name the device with one of "
			                                             "--serial, --imei or --udid, and give "
			                                             "--ticket"));
		req = json_pack("{s:s, s:s}", "cmd", "booking_add", "ticket", o.ticket);
		json_object_set_new(req,
		                    o.serial ? "serial"
		                    : o.imei ? "imei"
		                             : "udid",
		                    json_string(o.serial ? o.serial
		                                : o.imei ? o.imei
		                                         : o.udid));
		/* --lang is benchctl's global option: here it is the customer's language. */
		if (o.lang || g->lang_given)
			json_object_set_new(req, "lang", json_string(o.lang ? o.lang : g->lang));
		if (o.note)
			json_object_set_new(req, "note", json_string(o.note));
		rc = ask(g, &o, req, &resp);
		if (rc == BC_EXIT_OK && resp) {
			v = json_object_get(resp, "booking");
			printf("booking %lld: %s %s -> ticket %s%s%s: the first report of that device will "
			       "carry it\n",
			       (long long)json_integer_value(json_object_get(v, "id")), s_or(v, "kind", "?"),
			       s_or(v, "value", "?"), s_or(v, "ticket", "?"),
			       s_or(v, "lang", NULL) ? ", language " : "", s_or(v, "lang", ""));
			json_decref(resp);
		}
		return finish_parse(&o, rc);
	}
	if (strcmp(argv[1], "list") == 0) {
		if ((rc = parse(g, "booking list", usage, argc - 1, argv + 1, &o)) != BC_EXIT_OK)
			return finish_parse(&o, rc);
		if (o.nargs != 0)
			return finish_parse(&o, benchctl_usage_error(g, "booking list",
			                                             "unexpected argument '%s'", o.args[0]));
		rc = ask(g, &o, json_pack("{s:s}", "cmd", "booking_list"), &resp);
		if (rc == BC_EXIT_OK && resp) {
			json_t *list = json_object_get(resp, "bookings");
			printf("bookings: %zu\n", json_array_size(list));
			if (json_array_size(list) > 0)
				printf("  %-5s %-6s %-26s %-14s %-4s %-20s %s\n", "ID", "KIND", "VALUE",
				       "TICKET", "LANG", "CREATED", "STATE");
			json_array_foreach(list, i, v)
			{
				print_booking(v);
			}
			json_decref(resp);
		}
		return finish_parse(&o, rc);
	}
	if (strcmp(argv[1], "remove") == 0) {
		char *end;
		long long id;
		if ((rc = parse(g, "booking remove", usage, argc - 1, argv + 1, &o)) != BC_EXIT_OK)
			return finish_parse(&o, rc);
		if (o.nargs != 1 || (id = strtoll(o.args[0], &end, 10)) <= 0 || *end)
			return finish_parse(&o,
			                    benchctl_usage_error(g, "booking remove",
			                                         "give the booking's id, a "
			                                         "number that benchctl booking list shows"));
		rc =
		    ask(g, &o, json_pack("{s:s, s:I}", "cmd", "booking_remove", "id", (json_int_t)id), &resp);
		if (rc == BC_EXIT_OK && resp) {
			printf("booking %lld removed\n", id);
			json_decref(resp);
		}
		return finish_parse(&o, rc);
	}
	return benchctl_usage_error(g, "booking", "unknown subcommand '%s' (add, list or remove)", argv[1]);
}

/* ---- history and report list -------------------------------------------------------------- */

static void
codes(const json_t *faults, char *out, size_t outlen)
{
	size_t i;
	json_t *f;

	out[0] = '\0';
	json_array_foreach(faults, i, f)
	{
		if (json_is_string(f) && strlen(out) + json_string_length(f) + 2 < outlen) {
			util_strlcat(out, i ? "," : "", outlen);
			util_strlcat(out, json_string_value(f), outlen);
		}
	}
	if (out[0] == '\0')
		util_strlcpy(out, "-", outlen);
}

static void
num(const json_t *o, const char *k, const char *suffix, char *out, size_t outlen)
{
	const json_t *v = json_object_get(o, k);

	if (json_is_number(v))
		snprintf(out, outlen, "%g%s", json_number_value(v), suffix);
	else
		util_strlcpy(out, "-", outlen);
}

int
cmd_history(struct ctl *g, int argc, char **argv)
{
	static const char usage[] = "history DEVICE [--socket PATH | --config FILE] [--json]";
	struct copts o;
	json_t *resp, *dev, *v;
	size_t i;
	int rc = parse(g, "history", usage, argc, argv, &o);

	if (rc != BC_EXIT_OK)
		return finish_parse(&o, rc);
	if (o.nargs != 1)
		return finish_parse(
		    &o, o.nargs == 0
		            ? benchctl_usage_error(g, "history",
		                                   "give the device: a serial number, UDID, "
		                                   "ECID, case id or report id")
		            : benchctl_usage_error(g, "history", "unexpected argument '%s'", o.args[1]));
	rc = ask(g, &o, json_pack("{s:s, s:s}", "cmd", "history", "device", o.args[0]), &resp);
	if (rc != BC_EXIT_OK || resp == NULL)
		return finish_parse(&o, rc);
	dev = json_object_get(resp, "device");
	printf("%s, serial %s, UDID %s: %zu report%s on this bench\n",
	       s_or(dev, "model_name", s_or(dev, "product_type", "?")), s_or(dev, "serial", "?"),
	       s_or(dev, "udid", "-"), json_array_size(json_object_get(resp, "reports")),
	       json_array_size(json_object_get(resp, "reports")) == 1 ? "" : "s");
	printf("  %-20s %-36s %-3s %-12s %-10s %-6s %-6s %-16s %s\n", "CREATED", "CASE", "REV", "TICKET",
	       "OUTCOME", "HEALTH", "CYCLES", "BATTERY", "FAULTS");
	json_array_foreach(json_object_get(resp, "reports"), i, v)
	{
		char f[256], h[24], cy[24], rev[24];
		codes(json_object_get(v, "faults"), f, sizeof(f));
		num(v, "health_pct", " %", h, sizeof(h));
		num(v, "cycle_count", "", cy, sizeof(cy));
		num(v, "revision", "", rev, sizeof(rev));
		printf("  %-20s %-36s %-3s %-12s %-10s %-6s %-6s %-16s %s\n", s_or(v, "created_at", "?"),
		       s_or(v, "case_id", "-"), rev, s_or(v, "ticket", "-"), s_or(v, "outcome", "?"), h, cy,
		       s_or(v, "battery_serial", "-"), f);
	}
	{
		char line[256];
		if (benchctl_forecast_text(json_object_get(resp, "battery_forecast"), line, sizeof(line)) ==
		    0)
			printf("battery forecast: %s; report %s\n", line,
			       s_or(resp, "battery_forecast_report_id", "?"));
	}
	json_decref(resp);
	return finish_parse(&o, BC_EXIT_OK);
}

int
cmd_report_list(struct ctl *g, int argc, char **argv)
{
	static const char usage[] =
	    "report list [--device DEVICE] [--since DATE] [--limit N] [--socket PATH | --config FILE] "
	    "[--json]\n"
	    "  DATE: 2026-12-01 (midnight UTC) or an RFC 3339 time; newest first, at most 100 (--limit)";
	struct copts o;
	json_t *resp, *req, *v;
	char since[40];
	size_t i;
	int rc = parse(g, "report list", usage, argc, argv, &o);

	if (rc != BC_EXIT_OK)
		return finish_parse(&o, rc);
	if (o.nargs != 0)
		return finish_parse(
		    &o, benchctl_usage_error(g, "report list", "unexpected argument '%s'", o.args[0]));
	req = json_pack("{s:s}", "cmd", "reports");
	if (o.device)
		json_object_set_new(req, "device", json_string(o.device));
	if (o.since) {
		int y, m, d;
		char tail;
		if (sscanf(o.since, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3)
			snprintf(since, sizeof(since), "%04d-%02d-%02dT00:00:00Z", y, m, d);
		else
			util_strlcpy(since, o.since, sizeof(since));
		json_object_set_new(req, "since", json_string(since));
	}
	if (o.limit)
		json_object_set_new(req, "limit", json_integer(o.limit));
	rc = ask(g, &o, req, &resp);
	if (rc != BC_EXIT_OK || resp == NULL)
		return finish_parse(&o, rc);
	printf("reports: %zu\n", json_array_size(json_object_get(resp, "reports")));
	if (json_array_size(json_object_get(resp, "reports")) > 0)
		printf("  %-36s %-20s %-26s %-3s %-12s %-10s %-8s %s\n", "REPORT", "CREATED", "MODEL", "REV",
		       "TICKET", "OUTCOME", "FINAL", "FAULTS");
	json_array_foreach(json_object_get(resp, "reports"), i, v)
	{
		char f[256], rev[24];
		codes(json_object_get(v, "faults"), f, sizeof(f));
		num(v, "revision", "", rev, sizeof(rev));
		printf("  %-36s %-20s %-26s %-3s %-12s %-10s %-8s %s\n", s_or(v, "report_id", "?"),
		       s_or(v, "created_at", "?"), s_or(v, "model_name", s_or(v, "product_type", "-")), rev,
		       s_or(v, "ticket", "-"), s_or(v, "outcome", "?"),
		       json_is_true(json_object_get(v, "final")) ? "yes" : "waiting", f);
	}
	json_decref(resp);
	return finish_parse(&o, BC_EXIT_OK);
}

/* ---- watch -------------------------------------------------------------------------------- */

/* One event as a line for people: local time, device, what happened. */
static void
print_event(const json_t *e)
{
	const char *type = s_or(e, "type", "?"), *dev = s_or(e, "device", s_or(e, "case_id", "")), *at;
	char when[16] = "";
	time_t t;

	at = s_or(e, "at", NULL);
	if (at && util_parse_rfc3339(at, &t) == 0) {
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
	}
	printf("%s  %-26.40s ", when, dev);
	if (strcmp(type, "device.attached") == 0)
		printf("plugged in (%s)\n", s_or(e, "mode", "?"));
	else if (strcmp(type, "device.detached") == 0)
		printf("unplugged\n");
	else if (strcmp(type, "session.step") == 0) {
		if (json_is_integer(json_object_get(e, "total")))
			printf("%s %lld/%lld\n", s_or(e, "step", "?"),
			       (long long)json_integer_value(json_object_get(e, "done")),
			       (long long)json_integer_value(json_object_get(e, "total")));
		else
			printf("%s\n", s_or(e, "step", "?"));
	} else if (strcmp(type, "session.reading") == 0) {
		const json_t *v = json_object_get(e, "value");
		if (strcmp(s_or(e, "name", ""), "battery") == 0) {
			char h[24], c[24];
			num(v, "health_pct", " %", h, sizeof(h));
			num(v, "cycle_count", "", c, sizeof(c));
			printf("battery: health %s, %s cycles\n", h, c);
		} else if (strcmp(s_or(e, "name", ""), "crashes") == 0) {
			printf("crash reports: %lld, %lld of them panics\n",
			       (long long)json_integer_value(json_object_get(v, "reports")),
			       (long long)json_integer_value(json_object_get(v, "panics")));
		} else {
			char *s = json_dumps(v, JSON_COMPACT);
			printf("%s: %.200s\n", s_or(e, "name", "?"), s ? s : "?");
			free(s);
		}
	} else if (strcmp(type, "session.ended") == 0)
		printf("session %s: %s\n", s_or(e, "state", "?"), s_or(e, "reason", ""));
	else if (strcmp(type, "report.signed") == 0) {
		char f[256] = "";
		size_t i;
		json_t *x;
		json_array_foreach(json_object_get(e, "faults"), i, x)
		{
			if (strlen(f) + 40 < sizeof(f)) {
				util_strlcat(f, i ? ", " : ": ", sizeof(f));
				util_strlcat(f, s_or(x, "code", "?"), sizeof(f));
			}
		}
		printf("report %s signed (case %s revision %lld): %s, %zu fault%s%s%s\n",
		       s_or(e, "report_id", "?"), s_or(e, "case_id", "-"),
		       (long long)json_integer_value(json_object_get(e, "revision")), s_or(e, "outcome", "?"),
		       json_array_size(json_object_get(e, "faults")),
		       json_array_size(json_object_get(e, "faults")) == 1 ? "" : "s", f,
		       json_is_true(json_object_get(e, "final")) ? "; final" : "");
	} else if (strcmp(type, "case.question") == 0) {
		size_t i, j;
		json_t *q, *ch;
		json_array_foreach(json_object_get(e, "questions"), i, q)
		{
			char choices[256] = "";
			json_array_foreach(json_object_get(q, "choices"), j, ch)
			{
				if (json_is_string(ch) &&
				    strlen(choices) + json_string_length(ch) + 2 < sizeof(choices)) {
					util_strlcat(choices, j ? "|" : "", sizeof(choices));
					util_strlcat(choices, json_string_value(ch), sizeof(choices));
				}
			}
			printf("%squestion: %s\n", i ? "                                     " : "",
			       s_or(q, "text", s_or(q, "key", "?")));
			printf("                                     answer: benchctl answer %s %s=%s\n",
			       s_or(e, "case_id", dev), s_or(q, "key", "?"), choices);
		}
	} else if (strcmp(type, "case.waiting") == 0)
		printf("waiting: %s\n", s_or(e, "why", "?"));
	else if (strcmp(type, "case.finished") == 0)
		printf("case %s finished: report %s is final as it is\n", s_or(e, "case_id", "?"),
		       s_or(e, "report_id", "?"));
	else if (strcmp(type, "case.delivered") == 0)
		printf("report %s delivered (%s)%s%s\n", s_or(e, "report_id", "?"), s_or(e, "target", "?"),
		       s_or(e, "remote_id", NULL) ? ": the server's case " : "", s_or(e, "remote_id", ""));
	else if (strcmp(type, "case.closed") == 0)
		printf("case closed (%s)\n", s_or(e, "why", "?"));
	else if (strcmp(type, "booking.changed") == 0)
		printf("bookings changed (benchctl booking list)\n");
	else if (strcmp(type, "events.dropped") == 0)
		printf("%s\n", s_or(e, "reason", "dropped"));
	else
		printf("%s\n", type);
	fflush(stdout);
}

int
cmd_watch(struct ctl *g, int argc, char **argv)
{
	static const char usage[] = "watch [--socket PATH | --config FILE] [--json]   (until Ctrl-C)";
	struct copts o;
	struct ctl_stream *st = NULL;
	json_t *resp = NULL;
	char why[512], *path, *line;
	int rc = parse(g, "watch", usage, argc, argv, &o), r;

	if (rc != BC_EXIT_OK)
		return finish_parse(&o, rc);
	if (o.nargs != 0)
		return finish_parse(&o,
		                    benchctl_usage_error(g, "watch", "unexpected argument '%s'", o.args[0]));
	if ((path = benchctl_socket_path(g, &o.conn, &rc)) == NULL)
		return finish_parse(&o, rc);
	{
		json_t *req = json_pack("{s:s}", "cmd", "subscribe");
		r = ctl_stream_open(path, req, &st, &resp, CTL_TIMEOUT_MS, why, sizeof(why));
		json_decref(req);
	}
	if (r == CTL_E_NO_DAEMON) {
		rc = benchctl_fail(
		    g, BC_EXIT_NO_DAEMON,
		    "benchd is not running (no answer on %s): start it with `benchd --state-dir %s` or "
		    "`systemctl start benchd`",
		    path, g->state_dir);
		free(path);
		return finish_parse(&o, rc);
	}
	free(path);
	if (r != CTL_OK) {
		rc = benchctl_fail(g, BC_EXIT_FAIL, "%s", why);
		return finish_parse(&o, rc);
	}
	if (!json_is_true(json_object_get(resp, "ok"))) {
		rc = benchctl_fail(g, BC_EXIT_FAIL, "%s",
		                   s_or(resp, "error", "benchd refused to stream events"));
		json_decref(resp);
		ctl_stream_close(st);
		return finish_parse(&o, rc);
	}
	json_decref(resp);
	if (!g->json) {
		printf("watching the bench (Ctrl-C to stop)\n");
		fflush(stdout);
	}
	for (;;) {
		json_t *e;
		r = ctl_stream_next(st, &line, -1);
		if (r == 1)
			continue;
		if (r != CTL_OK)
			break;
		if (g->json) {
			printf("%s\n", line);
			fflush(stdout);
		}
		e = json_loads(line, 0, NULL);
		free(line);
		if (!g->json && e)
			print_event(e);
		if (e && strcmp(s_or(e, "type", ""), "events.dropped") == 0) {
			json_decref(e);
			ctl_stream_close(st);
			return finish_parse(
			    &o, benchctl_fail(
			            g, BC_EXIT_FAIL,
			            "watch fell behind and benchd dropped it: run benchctl watch again"));
		}
		json_decref(e);
	}
	ctl_stream_close(st);
	return finish_parse(&o, benchctl_fail(g, BC_EXIT_FAIL, "benchd closed the stream (it stopped)"));
}
