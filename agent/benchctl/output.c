/*
 * benchctl: how every command says what it did and what went wrong (CONTRACTS 1, README "benchctl
 * exit codes"). One compact JSON document per line with --json; a failure is one line on stderr
 * and, with --json, {"ok":false,"error":...,"code":...} on stdout; a bad command line is one line
 * that names the problem and the command's --help. See benchctl.h.
 */
#include "benchctl.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
benchctl_exit_code_name(int code)
{
	switch (code) {
	case BC_EXIT_USAGE:
		return "bad_request";
	case BC_EXIT_NO_DEVICE:
		return "no_device";
	case BC_EXIT_LOCKED:
		return "device_locked";
	case BC_EXIT_UNTRUSTED:
		return "device_untrusted";
	case BC_EXIT_INVALID:
		return "invalid_report";
	case BC_EXIT_NO_DAEMON:
		return "not_running";
	default:
		return "failed";
	}
}

static int vfail(struct ctl *g, int code, json_t *extra, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static int
vfail(struct ctl *g, int code, json_t *extra, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One line, whatever the message carried. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (g->json) {
		json_t *o = json_pack("{s:b, s:s, s:s}", "ok", 0, "error", msg, "code",
		                      benchctl_exit_code_name(code));
		if (extra != NULL)
			json_object_update_missing(o, extra);
		benchctl_print_json(o);
		json_decref(o);
	}
	json_decref(extra);
	fprintf(stderr, "benchctl: %s\n", msg);
	return code;
}

int
benchctl_fail(struct ctl *g, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(g, code, NULL, fmt, ap);
	va_end(ap);
	return r;
}

int
benchctl_fail_with(struct ctl *g, int code, json_t *extra, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(g, code, extra, fmt, ap);
	va_end(ap);
	return r;
}

int
benchctl_usage_error(struct ctl *g, const char *cmd, const char *fmt, ...)
{
	char what[768];
	size_t word = strcspn(cmd, " ");
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* "booking add: ...: see benchctl booking --help": a subcommand is helped by its command. */
	return benchctl_fail(g, BC_EXIT_USAGE, "%s: %s: see benchctl %.*s --help", cmd, what, (int)word, cmd);
}

int
benchctl_bad_option(struct ctl *g, const char *cmd, int ch, int argc, char **argv)
{
	const char *arg = optind >= 1 && optind - 1 < argc ? argv[optind - 1] : "?";
	char name[128];

	if (strncmp(arg, "--", 2) == 0) {
		/* "--udid" or "--udid=x" as typed. */
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
		if (ch == '?' && optopt != 0 && strchr(arg, '=') != NULL)
			return benchctl_usage_error(g, cmd, "%s takes no value", name);
	} else if (optopt != 0) {
		snprintf(name, sizeof(name), "-%c", optopt);
	} else {
		snprintf(name, sizeof(name), "%s", arg);
	}
	if (ch == ':')
		return benchctl_usage_error(g, cmd, "%s needs a value", name);
	return benchctl_usage_error(g, cmd, "unknown option '%s'", name);
}

void
benchctl_print_json(const json_t *v)
{
	char *s =
	    json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));

	if (s != NULL)
		printf("%s\n", s);
	free(s);
	fflush(stdout);
}
