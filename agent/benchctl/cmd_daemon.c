/*
 * benchctl status | sessions | outbox [retry ID | retry --held]: clients of the running benchd's control
 * socket (agent/benchd/ctlclient.h). The socket is --socket PATH, else the [control] socket of
 * --config FILE, else <state-dir>/control.sock. Exit 7 when nothing answers there.
 */
#include "benchctl.h"

#include "config.h"
#include "ctlclient.h"
#include "util.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CTL_TIMEOUT_MS 10000

struct dopts {
	const char *socket;
	const char *config;
	int limit;
};

static int
parse_opts(const char *cmd, int argc, char **argv, struct dopts *o, int *first_arg)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"limit", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o->socket = optarg;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'n':
			o->limit = atoi(optarg);
			if (o->limit <= 0 || o->limit > 1000) {
				fprintf(stderr, "benchctl %s: --limit must be 1..1000\n", cmd);
				return BC_EXIT_USAGE;
			}
			break;
		case 'h':
			printf("usage: benchctl %s%s [--socket PATH | --config FILE]%s [--json]\n", cmd,
			       strcmp(cmd, "outbox") == 0 ? " [retry REPORT_ID | retry --held]" : "",
			       strcmp(cmd, "status") == 0 ? "" : " [--limit N]");
			return -1;
		default:
			fprintf(stderr, "benchctl %s: unknown option '%s' (see benchctl %s --help)\n", cmd,
			        argv[optind - 1], cmd);
			return BC_EXIT_USAGE;
		}
	}
	*first_arg = optind;
	return BC_EXIT_OK;
}

static char *
socket_path(struct ctl *g, const struct dopts *o, int *rc)
{
	struct config *cfg;
	char err[512], *p;

	*rc = BC_EXIT_OK;
	if (o->socket)
		return xstrdup(o->socket);
	if (o->config) {
		if (config_load(o->config, &cfg, err, sizeof(err)) != CONFIG_OK) {
			fprintf(stderr, "benchctl: %s\n", err);
			*rc = BC_EXIT_FAIL;
			return NULL;
		}
		p = config_control_socket(cfg, g->state_dir);
		config_free(cfg);
		return p;
	}
	return xasprintf("%s/control.sock", g->state_dir);
}

/* Ask benchd; on success *resp is an {"ok":true,...} answer. Returns an exit code. */
static int
ask(struct ctl *g, const struct dopts *o, json_t *req, json_t **resp)
{
	char why[512], *path;
	int rc, r;

	*resp = NULL;
	path = socket_path(g, o, &rc);
	if (path == NULL) {
		json_decref(req);
		return rc;
	}
	r = ctl_request(path, req, resp, CTL_TIMEOUT_MS, why, sizeof(why));
	json_decref(req);
	if (r == CTL_E_NO_DAEMON) {
		fprintf(stderr,
		        "benchctl: benchd is not running (no answer on %s): start it with `benchd "
		        "--state-dir %s` "
		        "or `systemctl start benchd`\n",
		        path, g->state_dir);
		free(path);
		return BC_EXIT_NO_DAEMON;
	}
	if (r == CTL_E_ACCESS) {
		fprintf(stderr, "benchctl: %s: permission denied: join the benchd group (or run as root)\n",
		        path);
		free(path);
		return BC_EXIT_FAIL;
	}
	if (r != CTL_OK) {
		fprintf(stderr, "benchctl: %s\n", why);
		free(path);
		return BC_EXIT_FAIL;
	}
	free(path);
	if (!json_is_true(json_object_get(*resp, "ok"))) {
		const char *e = json_string_value(json_object_get(*resp, "error"));
		fprintf(stderr, "benchctl: benchd says: %s\n", e ? e : "request failed");
		json_decref(*resp);
		*resp = NULL;
		return BC_EXIT_FAIL;
	}
	return BC_EXIT_OK;
}

static void
print_json(const json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
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
	if ((rc = ask(g, o, req, resp)) != BC_EXIT_OK)
		return rc;
	if (g->json) {
		print_json(*resp);
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

static void
fmt_time(json_int_t t, char *out, size_t outlen)
{
	if (t <= 0)
		util_strlcpy(out, "-", outlen);
	else
		util_rfc3339((time_t)t, out, outlen);
}

int
cmd_status(struct ctl *g, int argc, char **argv)
{
	struct dopts o;
	json_t *resp, *s, *ob;
	char up[32];
	int rc, first;

	if ((rc = parse_opts("status", argc, argv, &o, &first)) != BC_EXIT_OK)
		return rc < 0 ? BC_EXIT_OK : rc;
	if (first < argc) {
		fprintf(stderr, "benchctl status: unexpected argument '%s'\n", argv[first]);
		return BC_EXIT_USAGE;
	}
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
	if (s_or(ob, "url", NULL))
		printf("outbox:    %lld pending, %lld held, %lld delivered -> %s/cases (%s)\n",
		       (long long)i_of(ob, "pending"), (long long)i_of(ob, "held"),
		       (long long)i_of(ob, "delivered"), s_or(ob, "url", ""), s_or(ob, "activity", "?"));
	else
		printf("outbox:    off: no [upload] url, reports are kept locally\n");
	if (i_of(ob, "held") > 0)
		printf("           %lld held report%s need attention: benchctl outbox\n",
		       (long long)i_of(ob, "held"), i_of(ob, "held") == 1 ? "" : "s");
	json_decref(resp);
	return BC_EXIT_OK;
}

int
cmd_sessions(struct ctl *g, int argc, char **argv)
{
	struct dopts o;
	json_t *resp, *live, *recent, *v;
	size_t i;
	int rc, first;

	if ((rc = parse_opts("sessions", argc, argv, &o, &first)) != BC_EXIT_OK)
		return rc < 0 ? BC_EXIT_OK : rc;
	if (first < argc) {
		fprintf(stderr, "benchctl sessions: unexpected argument '%s'\n", argv[first]);
		return BC_EXIT_USAGE;
	}
	if ((rc = query(g, &o, "sessions", &resp)) != BC_EXIT_OK || resp == NULL)
		return rc;
	live = json_object_get(resp, "live");
	recent = json_object_get(resp, "recent");
	printf("attached now: %zu\n", json_array_size(live));
	if (json_array_size(live) > 0) {
		printf("  %-40s %-9s %-10s %-20s %s\n", "DEVICE", "MODE", "STATE", "SINCE", "STEP / RESULT");
		json_array_foreach(live, i, v)
		{
			int running = strcmp(s_or(v, "state", ""), "running") == 0;
			printf("  %-40s %-9s %-10s %-20s %s\n", s_or(v, "device", "?"), s_or(v, "mode", "?"),
			       s_or(v, "state", "?"), s_or(v, "since", "?"),
			       running ? s_or(v, "stage", "connecting") : s_or(v, "result", "-"));
		}
	}
	printf("recent sessions: %zu\n", json_array_size(recent));
	if (json_array_size(recent) > 0) {
		printf("  %-6s %-40s %-20s %-9s %s\n", "ID", "DEVICE", "STARTED", "STATE", "RESULT");
		json_array_foreach(recent, i, v)
		{
			char started[32];
			fmt_time(i_of(v, "started_at"), started, sizeof(started));
			printf("  %-6lld %-40s %-20s %-9s %s%s%s\n", (long long)i_of(v, "id"),
			       s_or(v, "device", "?"), started, s_or(v, "state", "?"), s_or(v, "reason", "-"),
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
	json_t *resp, *items, *counts, *v, *req;
	size_t i;
	int rc, first;

	if ((rc = parse_opts("outbox", argc, argv, &o, &first)) != BC_EXIT_OK)
		return rc < 0 ? BC_EXIT_OK : rc;
	if (first < argc && strcmp(argv[first], "retry") == 0) {
		int held = first + 2 == argc && strcmp(argv[first + 1], "--held") == 0;
		if (first + 2 != argc) {
			fprintf(stderr,
			        "usage: benchctl outbox retry REPORT_ID | benchctl outbox retry --held\n");
			return BC_EXIT_USAGE;
		}
		if (held)
			req = json_pack("{s:s, s:b}", "cmd", "retry", "held", 1);
		else
			req = json_pack("{s:s, s:s}", "cmd", "retry", "report_id", argv[first + 1]);
		if ((rc = ask(g, &o, req, &resp)) != BC_EXIT_OK)
			return rc;
		if (g->json)
			print_json(resp);
		else if (held)
			printf("%lld held report%s queued for upload now\n",
			       (long long)i_of(resp, "requeued"), i_of(resp, "requeued") == 1 ? "" : "s");
		else
			printf("report %s queued for upload now\n", argv[first + 1]);
		json_decref(resp);
		return BC_EXIT_OK;
	}
	if (first < argc) {
		fprintf(stderr,
		        "benchctl outbox: unknown argument '%s' (benchctl outbox [retry REPORT_ID])\n",
		        argv[first]);
		return BC_EXIT_USAGE;
	}
	if ((rc = query(g, &o, "outbox", &resp)) != BC_EXIT_OK || resp == NULL)
		return rc;
	items = json_object_get(resp, "items");
	counts = json_object_get(resp, "counts");
	if (s_or(resp, "url", NULL) == NULL)
		printf("uploads are off (no [upload] url): reports are kept locally\n");
	else
		printf("outbox -> %s/cases: %lld pending, %lld held, %lld delivered (%s)\n",
		       s_or(resp, "url", ""), (long long)i_of(counts, "pending"),
		       (long long)i_of(counts, "held"), (long long)i_of(counts, "delivered"),
		       s_or(resp, "activity", "?"));
	if (json_array_size(items) > 0)
		printf("  %-36s %-9s %5s %6s  %s\n", "REPORT", "STATE", "TRIES", "HTTP", "NEXT TRY / ANSWER");
	json_array_foreach(items, i, v)
	{
		char when[32], status[24];
		const char *state = s_or(v, "state", "?");
		json_int_t st = i_of(v, "last_status");
		const char *ans = s_or(v, "last_answer", "");
		if (st > 0)
			snprintf(status, sizeof(status), "%lld", (long long)st);
		else
			util_strlcpy(status, i_of(v, "attempts") > 0 ? "none" : "-", sizeof(status));
		if (strcmp(state, "pending") == 0) {
			fmt_time(i_of(v, "next_try") / 1000, when, sizeof(when));
			printf("  %-36s %-9s %5lld %6s  next try %s%s%.100s\n", s_or(v, "report_id", "?"),
			       state, (long long)i_of(v, "attempts"), status, when, ans[0] ? "; last: " : "",
			       ans);
		} else if (strcmp(state, "held") == 0) {
			printf("  %-36s %-9s %5lld %6s  refused: %.300s\n", s_or(v, "report_id", "?"), state,
			       (long long)i_of(v, "attempts"), status, ans);
			printf("  %-36s fix the cause, then: benchctl outbox retry %s\n", "",
			       s_or(v, "report_id", "?"));
		} else {
			fmt_time(i_of(v, "updated_at") / 1000, when, sizeof(when));
			printf("  %-36s %-9s %5lld %6s  %s\n", s_or(v, "report_id", "?"), state,
			       (long long)i_of(v, "attempts"), status, when);
		}
	}
	json_decref(resp);
	return BC_EXIT_OK;
}
