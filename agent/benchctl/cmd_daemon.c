/*
 * benchctl status | sessions | outbox [retry ID | retry --held]: clients of the running benchd's control
 * socket (agent/benchd/ctlclient.h). The socket is --socket PATH, else the [control] socket of
 * --config FILE, else <state-dir>/control.sock. Exit 7 when nothing answers there. benchctl_ask
 * (benchctl.h) is the one way every daemon command asks: a refusal's code gives the exit code
 * (2 bad request / not found, 1 otherwise), and with --json the answer is the output either way.
 */
#include "benchctl.h"

#include "config.h"
#include "ctlclient.h"
#include "util.h"

#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dopts {
	struct bc_conn conn;
	int limit;
	int held; /* outbox retry --held */
};

static int
parse_opts(struct ctl *g, const char *cmd, int argc, char **argv, struct dopts *o, int *first_arg)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'}, {"config", required_argument, NULL, 'c'},
	    {"limit", required_argument, NULL, 'n'},  {"held", no_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	/* Options anywhere (getopt moves the arguments after them): outbox retry ID --socket P. */
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o->conn.socket = optarg;
			break;
		case 'c':
			o->conn.config = optarg;
			break;
		case 'n': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (strcmp(cmd, "status") == 0)
				return benchctl_usage_error(g, cmd, "unknown option '--limit'");
			if (*optarg == '\0' || *end != '\0' || n < 1 || n > 1000)
				return benchctl_usage_error(g, cmd, "--limit takes 1 to 1000, not '%s'",
				                            optarg);
			o->limit = (int)n;
			break;
		}
		case 'H':
			if (strcmp(cmd, "outbox") != 0)
				return benchctl_usage_error(g, cmd, "unknown option '--held'");
			o->held = 1;
			break;
		case 'h':
			printf("usage: benchctl %s%s [--socket PATH | --config FILE]%s [--json]\n", cmd,
			       strcmp(cmd, "outbox") == 0 ? " [retry REPORT_ID | retry --held]" : "",
			       strcmp(cmd, "status") == 0 ? "" : " [--limit N]");
			return -1;
		default:
			return benchctl_bad_option(g, cmd, ch, argc, argv);
		}
	}
	*first_arg = optind;
	return BC_EXIT_OK;
}

char *
benchctl_socket_path(struct ctl *g, const struct bc_conn *o, int *rc)
{
	struct config *cfg;
	char err[512], *p;

	*rc = BC_EXIT_OK;
	if (o->socket)
		return xstrdup(o->socket);
	if (o->config) {
		if (config_load(o->config, &cfg, err, sizeof(err)) != CONFIG_OK) {
			benchctl_fail(g, BC_EXIT_FAIL, "%s", err);
			*rc = BC_EXIT_FAIL;
			return NULL;
		}
		p = config_control_socket(cfg, g->state_dir);
		config_free(cfg);
		return p;
	}
	return xasprintf("%s/control.sock", g->state_dir);
}

/* The exit code of a refusal: its code (commands.h) says whose fault it is. */
static int
exit_for_refusal(const json_t *resp)
{
	const char *code = json_string_value(json_object_get(resp, "code"));

	if (code && (strcmp(code, "bad_request") == 0 || strcmp(code, "not_found") == 0 ||
	             strcmp(code, "too_large") == 0))
		return BC_EXIT_USAGE;
	return BC_EXIT_FAIL;
}

int
benchctl_ask(struct ctl *g, const struct bc_conn *o, json_t *req, json_t **resp)
{
	char why[512], *path;
	int rc, r;

	*resp = NULL;
	path = benchctl_socket_path(g, o, &rc);
	if (path == NULL) {
		json_decref(req);
		return rc;
	}
	r = ctl_request(path, req, resp, CTL_TIMEOUT_MS, why, sizeof(why));
	json_decref(req);
	if (r == CTL_E_NO_DAEMON) {
		rc = benchctl_fail(
		    g, BC_EXIT_NO_DAEMON,
		    "benchd is not running (no answer on %s): start it with `benchd --state-dir %s` or "
		    "`systemctl start benchd`",
		    path, g->state_dir);
		free(path);
		return rc;
	}
	if (r == CTL_E_ACCESS) {
		rc = benchctl_fail(g, BC_EXIT_FAIL,
		                   "%s: permission denied: join the benchd group (or run as root)", path);
		free(path);
		return rc;
	}
	free(path);
	if (r != CTL_OK)
		return benchctl_fail(g, BC_EXIT_FAIL, "%s", why);
	if (!json_is_true(json_object_get(*resp, "ok"))) {
		const char *e = json_string_value(json_object_get(*resp, "error"));
		rc = exit_for_refusal(*resp);
		if (g->json)
			benchctl_print_json(*resp);
		fprintf(stderr, "benchctl: %s\n", e ? e : "benchd refused the request");
		json_decref(*resp);
		*resp = NULL;
		return rc;
	}
	return BC_EXIT_OK;
}

/*
 * Ask benchd for `cmd` (with --limit when given). With --json the answer is printed here and
 * *resp is NULL; otherwise *resp is the answer for the caller to print and free.
 */
static int
query(struct ctl *g, const struct dopts *o, const char *cmd, json_t **resp)
{
	json_t *req = json_pack("{s:s}", "cmd", cmd);
	int rc;

	if (o->limit)
		json_object_set_new(req, "limit", json_integer(o->limit));
	if ((rc = benchctl_ask(g, &o->conn, req, resp)) != BC_EXIT_OK)
		return rc;
	if (g->json) {
		benchctl_print_json(*resp);
		json_decref(*resp);
		*resp = NULL;
	}
	return BC_EXIT_OK;
}

static const char *
s_or(const json_t *o, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && s[0] ? s : def;
}

/* Where a target delivers: "https://x/cases" for the generic receiver, "RepairShopr at URL". */
static void
target_dest(const json_t *t, const char *url, char *out, size_t outlen)
{
	const char *kind = s_or(t, "kind", "generic");

	if (strcmp(kind, "generic") == 0)
		snprintf(out, outlen, "%s/cases", url);
	else
		snprintf(out, outlen, "%s at %s", s_or(t, "system", kind), url);
}

static json_int_t
i_of(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void
fmt_duration(json_int_t s, char *out, size_t outlen)
{
	if (s < 60)
		snprintf(out, outlen, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, outlen, "%lldm %llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(out, outlen, "%lldh %lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(out, outlen, "%lldd %lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

int
cmd_status(struct ctl *g, int argc, char **argv)
{
	struct dopts o;
	json_t *resp, *s, *ob, *t;
	char up[32];
	size_t i;
	int rc, first;

	if ((rc = parse_opts(g, "status", argc, argv, &o, &first)) != BC_EXIT_OK)
		return rc < 0 ? BC_EXIT_OK : rc;
	if (first < argc)
		return benchctl_usage_error(g, "status", "unexpected argument '%s'", argv[first]);
	if ((rc = query(g, &o, "status", &resp)) != BC_EXIT_OK || resp == NULL)
		return rc;
	s = json_object_get(resp, "sessions");
	ob = json_object_get(resp, "outbox");
	fmt_duration(i_of(resp, "uptime_s"), up, sizeof(up));
	printf("benchd %s running (pid %lld) since %s (up %s)\n", s_or(resp, "version", "?"),
	       (long long)i_of(resp, "pid"), s_or(resp, "started_at", "?"), up);
	printf("bench:     %s\n", s_or(resp, "bench_id", "?"));
	printf("state:     %s\n", s_or(resp, "state_dir", "?"));
	printf("control:   %s\n", s_or(resp, "control", "?"));
	{
		/* each watcher's real state: "usbmux off (no usbmuxd answers ...)" */
		const json_t *w = json_object_get(s, "watchers");
		const char *mw = s_or(w, "usbmux", "off"), *uw = s_or(w, "usb_hotplug", "off");
		char mux[300], usb[300];
		if (json_is_true(json_object_get(s, "usbmux")))
			snprintf(mux, sizeof(mux), "on");
		else
			snprintf(mux, sizeof(mux), "off (%s)", mw);
		if (json_is_true(json_object_get(s, "usb_hotplug")))
			snprintf(usb, sizeof(usb), "on");
		else
			snprintf(usb, sizeof(usb), "%s", uw);
		printf("sessions:  %lld running, %lld queued (max %lld); usbmux %s, USB hotplug %s\n",
		       (long long)i_of(s, "running"), (long long)i_of(s, "queued"), (long long)i_of(s, "max"),
		       mux, usb);
	}
	printf("devices:   %lld seen, %lld sessions, %lld reports stored\n", (long long)i_of(resp, "devices"),
	       (long long)i_of(resp, "sessions_total"), (long long)i_of(resp, "reports"));
	printf("cases:     %lld open\n", (long long)i_of(resp, "cases_open"));
	printf("waiting for the technician: %lld%s\n", (long long)i_of(resp, "waiting"),
	       i_of(resp, "waiting") > 0 ? " (benchctl outbox says why)" : "");
	if (json_array_size(json_object_get(resp, "targets")) == 0)
		printf("outbox:    off: no [upload] url, reports are kept locally\n");
	json_array_foreach(json_object_get(resp, "targets"), i, t)
	{
		char dest[512];
		target_dest(t, s_or(t, "url", ""), dest, sizeof(dest));
		printf("%-10s %lld pending, %lld held, %lld delivered -> %s (%s)\n",
		       strcmp(s_or(t, "target", ""), "upload") == 0 ? "outbox:" : "fleet:",
		       (long long)i_of(t, "pending"), (long long)i_of(t, "held"),
		       (long long)i_of(t, "delivered"), dest, s_or(t, "activity", "?"));
	}
	if (i_of(ob, "held") > 0)
		printf("           %lld held report%s need attention: benchctl outbox\n",
		       (long long)i_of(ob, "held"), i_of(ob, "held") == 1 ? "" : "s");
	json_decref(resp);
	return BC_EXIT_OK;
}

/* "iPhone 11" or the product type, or "-". */
static const char *
model_of(const json_t *v)
{
	return s_or(v, "model_name", s_or(v, "product_type", "-"));
}

int
cmd_sessions(struct ctl *g, int argc, char **argv)
{
	struct dopts o;
	json_t *resp, *live, *recent, *v;
	size_t i;
	int rc, first;

	if ((rc = parse_opts(g, "sessions", argc, argv, &o, &first)) != BC_EXIT_OK)
		return rc < 0 ? BC_EXIT_OK : rc;
	if (first < argc)
		return benchctl_usage_error(g, "sessions", "unexpected argument '%s'", argv[first]);
	if ((rc = query(g, &o, "sessions", &resp)) != BC_EXIT_OK || resp == NULL)
		return rc;
	live = json_object_get(resp, "live");
	recent = json_object_get(resp, "recent");
	printf("attached now: %zu\n", json_array_size(live));
	if (json_array_size(live) > 0) {
		printf("  %-40s %-26s %-9s %-10s %-12s %-20s %s\n", "DEVICE", "MODEL", "MODE", "STATE",
		       "TICKET", "SINCE", "STEP / RESULT");
		json_array_foreach(live, i, v)
		{
			int running = strcmp(s_or(v, "state", ""), "running") == 0;
			printf("  %-40s %-26s %-9s %-10s %-12s %-20s %s\n", s_or(v, "device", "?"),
			       model_of(v), s_or(v, "mode", "?"), s_or(v, "state", "?"),
			       s_or(v, "ticket", "-"), s_or(v, "since", "?"),
			       running ? s_or(v, "stage", "connecting") : s_or(v, "result", "-"));
		}
	}
	printf("recent sessions: %zu\n", json_array_size(recent));
	if (json_array_size(recent) > 0) {
		printf("  %-6s %-40s %-26s %-12s %-20s %-9s %s\n", "ID", "DEVICE", "MODEL", "TICKET",
		       "STARTED", "STATE", "RESULT");
		json_array_foreach(recent, i, v)
		{
			printf("  %-6lld %-40s %-26s %-12s %-20s %-9s %s%s%s\n", (long long)i_of(v, "id"),
			       s_or(v, "device", "?"), model_of(v), s_or(v, "ticket", "-"),
			       s_or(v, "started_at", "-"), s_or(v, "state", "?"), s_or(v, "reason", "-"),
			       s_or(v, "report_id", NULL) ? "; report " : "", s_or(v, "report_id", ""));
		}
	}
	json_decref(resp);
	return BC_EXIT_OK;
}

int
cmd_outbox(struct ctl *g, int argc, char **argv)
{
	struct dopts o;
	json_t *resp, *items, *counts, *v, *req, *waiting;
	size_t i;
	int rc, first;

	if ((rc = parse_opts(g, "outbox", argc, argv, &o, &first)) != BC_EXIT_OK)
		return rc < 0 ? BC_EXIT_OK : rc;
	if (first < argc && strcmp(argv[first], "retry") == 0) {
		int held = o.held;
		if (held && first + 1 < argc)
			return benchctl_usage_error(g, "outbox retry",
			                            "give a REPORT_ID or --held, not both");
		if (!held && first + 2 > argc)
			return benchctl_usage_error(g, "outbox retry",
			                            "give the REPORT_ID, or --held for every held report");
		if (!held && first + 2 < argc)
			return benchctl_usage_error(g, "outbox retry", "unexpected argument '%s'",
			                            argv[first + 2]);
		if (held)
			req = json_pack("{s:s, s:b}", "cmd", "retry", "held", 1);
		else
			req = json_pack("{s:s, s:s}", "cmd", "retry", "report_id", argv[first + 1]);
		if ((rc = benchctl_ask(g, &o.conn, req, &resp)) != BC_EXIT_OK)
			return rc;
		if (g->json)
			benchctl_print_json(resp);
		else if (held)
			printf("%lld held report%s queued for upload now\n",
			       (long long)i_of(resp, "requeued"), i_of(resp, "requeued") == 1 ? "" : "s");
		else
			printf("report %s queued for upload now\n", argv[first + 1]);
		json_decref(resp);
		return BC_EXIT_OK;
	}
	if (first < argc)
		return benchctl_usage_error(g, "outbox", "unknown subcommand '%s' (retry)", argv[first]);
	if (o.held)
		return benchctl_usage_error(g, "outbox",
		                            "--held goes with retry: benchctl outbox retry --held");
	if ((rc = query(g, &o, "outbox", &resp)) != BC_EXIT_OK || resp == NULL)
		return rc;
	items = json_object_get(resp, "items");
	counts = json_object_get(resp, "counts");
	waiting = json_object_get(resp, "waiting");
	if (json_array_size(json_object_get(resp, "targets")) == 0)
		printf("uploads are off (no [upload] url): reports are kept locally\n");
	else {
		char dest[512];
		target_dest(json_array_get(json_object_get(resp, "targets"), 0), s_or(resp, "url", ""), dest,
		            sizeof(dest));
		printf("outbox -> %s: %lld pending, %lld held, %lld delivered (%s)\n", dest,
		       (long long)i_of(counts, "pending"), (long long)i_of(counts, "held"),
		       (long long)i_of(counts, "delivered"), s_or(resp, "activity", "?"));
	}
	if (json_array_size(waiting) > 0) {
		printf("waiting for the technician: %zu (not uploaded until then)\n",
		       json_array_size(waiting));
		json_array_foreach(waiting, i, v)
		{
			printf("  %-36s %-18s rev %-3lld waiting: %s\n",
			       s_or(v, "case_id", s_or(v, "report_id", "?")),
			       s_or(v, "model_name", s_or(v, "serial", s_or(v, "device", "?"))),
			       (long long)i_of(v, "revision"), s_or(v, "why", "?"));
			if (strstr(s_or(v, "why", ""), "question"))
				printf("  %-36s answer: benchctl answer %s KEY=VALUE, or send it as it is: "
				       "benchctl finish %s\n",
				       "", s_or(v, "case_id", s_or(v, "report_id", "?")),
				       s_or(v, "case_id", s_or(v, "report_id", "?")));
			else
				printf(
				    "  %-36s link a ticket: benchctl link %s TICKET, or benchctl finish %s\n",
				    "", s_or(v, "case_id", s_or(v, "report_id", "?")),
				    s_or(v, "case_id", s_or(v, "report_id", "?")));
		}
	}
	if (json_array_size(items) > 0)
		printf("  %-36s %-6s %-4s %-9s %5s %6s  %s\n", "REPORT", "TARGET", "REV", "STATE", "TRIES",
		       "HTTP", "NEXT TRY / ANSWER");
	json_array_foreach(items, i, v)
	{
		char status[24], rev[8];
		const char *state = s_or(v, "state", "?");
		json_int_t st = i_of(v, "last_status");
		const char *ans = s_or(v, "last_answer", "");
		if (st > 0)
			snprintf(status, sizeof(status), "%lld", (long long)st);
		else
			util_strlcpy(status, i_of(v, "attempts") > 0 ? "none" : "-", sizeof(status));
		if (json_is_integer(json_object_get(v, "revision")))
			snprintf(rev, sizeof(rev), "%lld", (long long)i_of(v, "revision"));
		else
			util_strlcpy(rev, "-", sizeof(rev));
		if (strcmp(state, "pending") == 0) {
			printf("  %-36s %-6s %-4s %-9s %5lld %6s  next try %s%s%.100s\n",
			       s_or(v, "report_id", "?"), s_or(v, "target", "?"), rev, state,
			       (long long)i_of(v, "attempts"), status, s_or(v, "next_try", "-"),
			       ans[0] ? "; last: " : "", ans);
		} else if (strcmp(state, "held") == 0) {
			printf("  %-36s %-6s %-4s %-9s %5lld %6s  refused: %.300s\n",
			       s_or(v, "report_id", "?"), s_or(v, "target", "?"), rev, state,
			       (long long)i_of(v, "attempts"), status, ans);
			printf("  %-36s fix the cause, then: benchctl outbox retry %s\n", "",
			       s_or(v, "report_id", "?"));
		} else {
			/* What the server made of it: the adapter's phase ("comment 5123 on ticket
			 * 4711"), else the receiver's case id. */
			const char *phase = s_or(v, "phase", NULL), *rid = s_or(v, "remote_id", NULL);
			printf("  %-36s %-6s %-4s %-9s %5lld %6s  %s%s%s\n", s_or(v, "report_id", "?"),
			       s_or(v, "target", "?"), rev, state, (long long)i_of(v, "attempts"), status,
			       s_or(v, "updated_at", "-"),
			       phase ? "; "
			       : rid ? "; the server's case "
			             : "",
			       phase ? phase
			       : rid ? rid
			             : "");
		}
	}
	json_decref(resp);
	return BC_EXIT_OK;
}
