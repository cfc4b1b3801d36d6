/*
 * benchfleet: a chain's collector of every bench's repair cases (DESIGN.md 4.12).
 *
 *   benchfleet [--config FILE] serve                          receive cases (POST /cases)
 *   benchfleet [--config FILE] bench add ID --jwk FILE [--json]
 *   benchfleet [--config FILE] bench list [--json]
 *   benchfleet [--config FILE] bench revoke ID
 *   benchfleet [--config FILE] trends [--weeks N] [--model M] [--code C] [--at T] [--json]
 *   benchfleet [--config FILE] alerts [--at T] [--json]
 *   benchfleet [--config FILE] --check-config
 *
 * Options may come before or after the command words. Exit codes: 0 done, 1 a failure of ours
 * (the database, a file), 2 a bad command line or input refused (bad key, unknown bench).
 */
#include "analytics.h"
#include "fleetconf.h"
#include "fleetdb.h"
#include "log.h"
#include "registry.h"
#include "server.h"
#include "stats.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct opts {
	const char *config;
	const char *jwk;
	const char *model;
	const char *code;
	const char *at;
	int weeks;
	int json;
	int check_config;
	int verbose;
	char **args; /* the command words */
	int nargs;
};

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: benchfleet [--config FILE] COMMAND ...\n"
	        "  serve                                receive cases from benches (POST /cases) into\n"
	        "                                       PostgreSQL; GET /api/trends, GET /api/alerts\n"
	        "  bench add ID --jwk FILE [--json]     register a bench's public key (benchctl key export)\n"
	        "                                       and print its upload token (shown once)\n"
	        "  bench list [--json]                  the registered benches\n"
	        "  bench revoke ID                      refuse that bench's token from now on\n"
	        "  trends [--weeks N] [--model M] [--code C] [--at T] [--json]\n"
	        "                                       per model, fault code and ISO week: cases, cases\n"
	        "                                       with the code, rate (default the last 8 weeks)\n"
	        "  alerts [--at T] [--json]             a model's fault codes whose rate in the last 7 days\n"
	        "                                       is significantly above the 8 weeks before\n"
	        "options:\n"
	        "  --config FILE    INI configuration (env BENCHFLEET_CONFIG; default: built-in defaults,\n"
	        "                   PostgreSQL from libpq's environment)\n"
	        "  --check-config   validate the configuration and exit (0 OK, 1 not)\n"
	        "  --at T           analyse as of T (RFC 3339, or YYYY-MM-DD: the end of that day, UTC)\n"
	        "  --json           one JSON document on stdout\n"
	        "  --verbose        debug logging\n"
	        "exit codes: 0 done, 1 a failure (database, files), 2 bad command line or input refused\n");
}

/* A failure: the line on stderr, or {"ok":false,"error"} on stdout with --json. */
__attribute__((format(printf, 3, 4))) static int
die(const struct opts *o, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (o->json) {
		json_t *j = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
		char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		printf("%s\n", s);
		free(s);
		json_decref(j);
	} else {
		fprintf(stderr, "benchfleet: %s\n", msg);
	}
	return code;
}

static void
print_json(const json_t *doc)
{
	char *s = json_dumps(doc, ANALYTICS_DUMP_FLAGS);

	printf("%s\n", s);
	free(s);
}

/* systemd Type=notify without libsystemd: one datagram to $NOTIFY_SOCKET. */
static int
open_db(const struct opts *o, const struct fleetconf *cfg, int migrate, struct fleetdb **db)
{
	char why[1024];
	int rc = fleetdb_open(cfg->conninfo, migrate, 0, db, why, sizeof(why));

	if (rc != FLEETDB_OK)
		return die(o, 1, "%s", why);
	return 0;
}

static int
cmd_serve(const struct opts *o, const struct fleetconf *cfg)
{
	struct fleetdb *db = NULL;
	struct fleetpool *pool;
	struct server *srv = NULL;
	char why[1024];
	sigset_t set;
	int sig = 0, rc;

	if ((rc = open_db(o, cfg, 1, &db)) != 0)
		return rc;
	log_info("database schema version %d", fleetdb_version(db));
	fleetdb_close(db);

	/* Every thread started from here on (libmicrohttpd's) inherits the blocked signals; the main
	 * thread takes them with sigwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* One connection per request thread; a statement that takes over 30 s is cancelled. */
	pool = fleetpool_new(cfg->conninfo, cfg->threads, 30000);
	if (server_start(cfg, pool, &srv, why, sizeof(why)) < 0) {
		fleetpool_free(pool);
		return die(o, 1, "%s", why);
	}
	log_info("listening on %s://%s%s%s:%d (%d threads, at most %d connections)",
	         cfg->tls_cert[0] ? "https" : "http", strchr(cfg->host, ':') ? "[" : "", cfg->host,
	         strchr(cfg->host, ':') ? "]" : "", server_port(srv), cfg->threads, cfg->max_connections);
	util_sd_notify("READY=1");
	while (sigwait(&set, &sig) != 0)
		;
	log_info("signal %d: stopping", sig);
	util_sd_notify("STOPPING=1");
	server_stop(srv);
	fleetpool_free(pool);
	log_info("stopped");
	return 0;
}

static int
cmd_bench_add(const struct opts *o, const struct fleetconf *cfg, const char *id)
{
	char token[REGISTRY_TOKEN_LEN + 1], kid[64], why[1024];
	json_t *jwk, *canon = NULL;
	json_error_t jerr;
	struct fleetdb *db;
	int rc;

	if (!registry_valid_id(id))
		return die(o, 2,
		           "'%s' is not a bench id: 1-64 letters, digits, '.', '_' or '-' (use the bench's "
		           "[bench] id)",
		           id);
	if (o->jwk == NULL)
		return die(o, 2,
		           "bench add needs --jwk FILE: the bench's public key (benchctl key export > FILE "
		           "on the bench)");
	jwk = json_load_file(o->jwk, JSON_REJECT_DUPLICATES, &jerr);
	if (jwk == NULL)
		return die(o, 2, "%s: not a JWK: %s", o->jwk, jerr.text);
	if (registry_check_jwk(jwk, &canon, kid, why, sizeof(why)) < 0) {
		json_decref(jwk);
		return die(o, 2, "%s: %s", o->jwk, why);
	}
	json_decref(canon);
	if ((rc = open_db(o, cfg, 1, &db)) != 0) {
		json_decref(jwk);
		return rc;
	}
	rc = registry_add(db, id, jwk, token, why, sizeof(why));
	fleetdb_close(db);
	json_decref(jwk);
	if (rc == FLEETDB_E_EXISTS)
		return die(o, 2, "%s", why);
	if (rc != FLEETDB_OK)
		return die(o, 1, "%s", why);
	if (o->json) {
		json_t *j =
		    json_pack("{s:b, s:s, s:s, s:s}", "ok", 1, "bench_id", id, "kid", kid, "token", token);
		print_json(j);
		json_decref(j);
	} else {
		printf("bench %s registered (key id %s)\n"
		       "token: %s\n"
		       "Put the token in a file on the bench (mode 600) and name it in benchd.conf:\n"
		       "  [fleet]\n  url = https://THIS-HOST:PORT\n  token_file = /etc/benchd/fleet.token\n"
		       "It is shown only now: benchfleet keeps its hash. Lost? bench revoke %s, then add it "
		       "again.\n",
		       id, kid, token, id);
	}
	explicit_bzero(token, sizeof(token));
	return 0;
}

static int
cmd_bench_list(const struct opts *o, const struct fleetconf *cfg)
{
	struct fleetdb *db;
	json_t *list, *b;
	char why[1024];
	size_t i;
	int rc;

	if ((rc = open_db(o, cfg, 1, &db)) != 0)
		return rc;
	rc = registry_list(db, &list, why, sizeof(why));
	fleetdb_close(db);
	if (rc != FLEETDB_OK)
		return die(o, 1, "%s", why);
	if (o->json) {
		json_t *j = json_pack("{s:b, s:O}", "ok", 1, "benches", list);
		print_json(j);
		json_decref(j);
	} else if (json_array_size(list) == 0) {
		printf("no bench registered yet: benchfleet bench add ID --jwk FILE\n");
	} else {
		printf("%-24s %-8s %-44s %-20s %8s %8s  %s\n", "BENCH", "STATE", "KEY ID", "ADDED", "CASES",
		       "REPORTS", "LAST REPORT");
		json_array_foreach(list, i, b)
		{
			const char *last = json_string_value(json_object_get(b, "last_report_at"));
			printf("%-24s %-8s %-44s %-20s %8lld %8lld  %s\n",
			       json_string_value(json_object_get(b, "bench_id")),
			       json_is_null(json_object_get(b, "revoked_at")) ? "active" : "revoked",
			       json_string_value(json_object_get(b, "kid")),
			       json_string_value(json_object_get(b, "added_at")),
			       (long long)json_integer_value(json_object_get(b, "cases")),
			       (long long)json_integer_value(json_object_get(b, "reports")),
			       last ? last : "never");
		}
	}
	json_decref(list);
	return 0;
}

static int
cmd_bench_revoke(const struct opts *o, const struct fleetconf *cfg, const char *id)
{
	struct fleetdb *db;
	char why[1024];
	int rc;

	if ((rc = open_db(o, cfg, 1, &db)) != 0)
		return rc;
	rc = registry_revoke(db, id, why, sizeof(why));
	fleetdb_close(db);
	if (rc == FLEETDB_E_NOT_FOUND)
		return die(o, 2, "%s", why);
	if (rc != FLEETDB_OK)
		return die(o, 1, "%s", why);
	if (o->json) {
		json_t *j = json_pack("{s:b, s:s, s:b}", "ok", 1, "bench_id", id, "revoked", 1);
		print_json(j);
		json_decref(j);
	} else {
		printf("bench %s revoked: its token is refused from now on (its reports stay)\n", id);
	}
	return 0;
}

static const char *
model_label(const json_t *row, char *out, size_t outlen)
{
	const char *m = json_string_value(json_object_get(row, "model"));
	const char *pt = json_string_value(json_object_get(row, "product_type"));

	if (m && pt && pt[0])
		snprintf(out, outlen, "%s (%s)", m, pt);
	else
		snprintf(out, outlen, "%s", m ? m : pt && pt[0] ? pt : "unknown model");
	return out;
}

/* Human trends: per model, a column per week; a cases row, then a rate row per code. */
static void
print_trends(const json_t *doc)
{
	const json_t *rows = json_object_get(doc, "rows");
	size_t n = json_array_size(rows), i = 0;

	if (n == 0) {
		printf("no cases in the %lld week(s) up to %s\n",
		       (long long)json_integer_value(json_object_get(doc, "weeks")),
		       json_string_value(json_object_get(doc, "at")));
		return;
	}
	while (i < n) {
		char label[256], cur[256];
		const char *weeks[ANALYTICS_MAX_WEEKS];
		long long cases[ANALYTICS_MAX_WEEKS];
		size_t nw = 0, start = i, j, end;
		const char *firstcode = json_string_value(json_object_get(json_array_get(rows, i), "code"));

		model_label(json_array_get(rows, i), label, sizeof(label));
		/* The model's rows run until the label changes; its first code lists every week. */
		for (end = i;
		     end < n && strcmp(model_label(json_array_get(rows, end), cur, sizeof(cur)), label) == 0;
		     end++)
			;
		for (j = start; j < end && nw < ANALYTICS_MAX_WEEKS; j++) {
			const json_t *r = json_array_get(rows, j);
			if (strcmp(json_string_value(json_object_get(r, "code")), firstcode) != 0)
				break;
			weeks[nw] = json_string_value(json_object_get(r, "week"));
			cases[nw++] = json_integer_value(json_object_get(r, "cases"));
		}
		printf("%s\n  %-10s", label, "");
		for (size_t w = 0; w < nw; w++)
			printf(" %9s", weeks[w]);
		printf("\n  %-10s", "cases");
		for (size_t w = 0; w < nw; w++)
			printf(" %9lld", cases[w]);
		printf("\n");
		for (j = start; j < end;) {
			const char *code =
			    json_string_value(json_object_get(json_array_get(rows, j), "code"));
			printf("  %-10s", code);
			for (size_t w = 0; w < nw; w++) {
				const json_t *r = json_array_get(rows, j);
				if (j < end &&
				    strcmp(json_string_value(json_object_get(r, "code")), code) == 0 &&
				    strcmp(json_string_value(json_object_get(r, "week")), weeks[w]) == 0) {
					printf(" %8.1f%%",
					       100.0 * json_real_value(json_object_get(r, "rate")));
					j++;
				} else {
					printf(" %9s", "-");
				}
			}
			printf("\n");
			while (j < end &&
			       strcmp(json_string_value(json_object_get(json_array_get(rows, j), "code")),
			              code) == 0)
				j++;
		}
		i = end;
	}
}

static void
print_alerts(const json_t *doc)
{
	const json_t *rows = json_object_get(doc, "rows"), *r;
	size_t i;

	if (json_array_size(rows) == 0) {
		printf(
		    "no alerts as of %s: no model's fault rate in the last 7 days is significantly above its "
		    "8 weeks before\n",
		    json_string_value(json_object_get(doc, "at")));
		return;
	}
	json_array_foreach(rows, i, r)
	{
		char label[256];
		printf("%s %s: %lld of %lld cases in the last 7 days (%.1f %%) against %.1f %% (%lld of "
		       "%lld) in the 8 "
		       "weeks before, p = %.2g\n",
		       model_label(r, label, sizeof(label)), json_string_value(json_object_get(r, "code")),
		       (long long)json_integer_value(json_object_get(r, "recent_with_code")),
		       (long long)json_integer_value(json_object_get(r, "recent_cases")),
		       100.0 * json_real_value(json_object_get(r, "recent_rate")),
		       100.0 * json_real_value(json_object_get(r, "baseline_rate")),
		       (long long)json_integer_value(json_object_get(r, "baseline_with_code")),
		       (long long)json_integer_value(json_object_get(r, "baseline_cases")),
		       json_real_value(json_object_get(r, "p_value")));
	}
	printf("(one-sided Fisher exact test, p < %.2g, at least %d cases with the code)\n", STATS_ALERT_P,
	       STATS_ALERT_MIN_HIT);
}

static int
cmd_analytics(const struct opts *o, const struct fleetconf *cfg, int trends)
{
	struct trends_opts t = {.weeks = o->weeks ? o->weeks : ANALYTICS_DEFAULT_WEEKS,
	                        .model = o->model,
	                        .code = o->code,
	                        .at = time(NULL)};
	struct fleetdb *db;
	json_t *doc;
	char why[1024];
	int rc;

	if (o->at && analytics_parse_at(o->at, &t.at) < 0)
		return die(o, 2,
		           "--at %s: give an RFC 3339 time (2026-11-30T18:00:00Z) or a date (2026-11-30)",
		           o->at);
	if ((rc = open_db(o, cfg, 1, &db)) != 0)
		return rc;
	rc = trends ? analytics_trends(db, &t, &doc, why, sizeof(why))
	            : analytics_alerts(db, t.at, &doc, why, sizeof(why));
	fleetdb_close(db);
	if (rc != FLEETDB_OK)
		return die(o, 1, "%s", why);
	if (o->json)
		print_json(doc);
	else if (trends)
		print_trends(doc);
	else
		print_alerts(doc);
	json_decref(doc);
	return 0;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	enum { O_CONFIG = 256, O_JWK, O_WEEKS, O_MODEL, O_CODE, O_AT, O_JSON, O_CHECK, O_VERBOSE, O_HELP };
	static const struct option lo[] = {{"config", required_argument, NULL, O_CONFIG},
	                                   {"jwk", required_argument, NULL, O_JWK},
	                                   {"weeks", required_argument, NULL, O_WEEKS},
	                                   {"model", required_argument, NULL, O_MODEL},
	                                   {"code", required_argument, NULL, O_CODE},
	                                   {"at", required_argument, NULL, O_AT},
	                                   {"json", no_argument, NULL, O_JSON},
	                                   {"check-config", no_argument, NULL, O_CHECK},
	                                   {"verbose", no_argument, NULL, O_VERBOSE},
	                                   {"help", no_argument, NULL, O_HELP},
	                                   {NULL, 0, NULL, 0}};
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONFIG:
			o->config = optarg;
			break;
		case O_JWK:
			o->jwk = optarg;
			break;
		case O_WEEKS: {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (end == optarg || *end || n < 1 || n > ANALYTICS_MAX_WEEKS) {
				fprintf(stderr,
				        "benchfleet: --weeks must be a whole number from 1 to %d, not '%s'\n",
				        ANALYTICS_MAX_WEEKS, optarg);
				return 2;
			}
			o->weeks = (int)n;
			break;
		}
		case O_MODEL:
			o->model = optarg;
			break;
		case O_CODE:
			o->code = optarg;
			break;
		case O_AT:
			o->at = optarg;
			break;
		case O_JSON:
			o->json = 1;
			break;
		case O_CHECK:
			o->check_config = 1;
			break;
		case O_VERBOSE:
			o->verbose = 1;
			break;
		case 'h':
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	return 0;
}

/* Refuse options that the command does not take, so a typo is not silently ignored. */
static int
only(const struct opts *o, const char *cmd, int jwk, int trend_opts, int at)
{
	const char *bad = NULL;

	if (!jwk && o->jwk)
		bad = "--jwk";
	else if (!trend_opts && (o->weeks || o->model || o->code))
		bad = o->weeks ? "--weeks" : o->model ? "--model" : "--code";
	else if (!at && o->at)
		bad = "--at";
	if (bad) {
		fprintf(stderr, "benchfleet: %s does not take %s (see benchfleet --help)\n", cmd, bad);
		return 2;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct fleetconf *cfg = NULL;
	struct opts o;
	char err[1024];
	const char *path;
	int rc;

	log_init("benchfleet", LOG_LEVEL_INFO);
	if ((rc = parse_opts(argc, argv, &o)) != 0)
		return rc;
	if (o.verbose)
		log_set_level(LOG_LEVEL_DEBUG);
	path = o.config ? o.config : getenv("BENCHFLEET_CONFIG");
	if (path && path[0]) {
		if (fleetconf_load(path, &cfg, err, sizeof(err)) != FLEETCONF_OK) {
			if (o.check_config) {
				printf("%s\n", err);
				return 1;
			}
			return die(&o, o.check_config ? 1 : 2, "%s", err);
		}
	} else {
		cfg = fleetconf_new();
	}
	if (o.check_config) {
		const char *files[] = {cfg->tls_cert, cfg->tls_key, cfg->api_token_file};
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
			if (files[i][0] && access(files[i], R_OK) < 0) {
				printf("%s: %s\n", files[i], strerror(errno));
				fleetconf_free(cfg);
				return 1;
			}
		printf("configuration OK\n");
		fleetconf_free(cfg);
		return 0;
	}
	if (o.nargs == 0) {
		usage(stderr);
		fleetconf_free(cfg);
		return 2;
	}
	const char *cmd = o.args[0];
	if (strcmp(cmd, "serve") == 0 && o.nargs == 1) {
		rc = only(&o, "serve", 0, 0, 0) ?: cmd_serve(&o, cfg);
	} else if (strcmp(cmd, "bench") == 0) {
		const char *sub = o.nargs > 1 ? o.args[1] : "";
		if (strcmp(sub, "add") == 0 && o.nargs == 3)
			rc = only(&o, "bench add", 1, 0, 0) ?: cmd_bench_add(&o, cfg, o.args[2]);
		else if (strcmp(sub, "revoke") == 0 && o.nargs == 3)
			rc = only(&o, "bench revoke", 0, 0, 0) ?: cmd_bench_revoke(&o, cfg, o.args[2]);
		else if (strcmp(sub, "list") == 0 && o.nargs == 2)
			rc = only(&o, "bench list", 0, 0, 0) ?: cmd_bench_list(&o, cfg);
		else
			rc = die(&o, 2,
			         "usage: benchfleet bench add ID --jwk FILE | bench list | bench revoke ID");
	} else if (strcmp(cmd, "trends") == 0 && o.nargs == 1) {
		rc = only(&o, "trends", 0, 1, 1) ?: cmd_analytics(&o, cfg, 1);
	} else if (strcmp(cmd, "alerts") == 0 && o.nargs == 1) {
		rc = only(&o, "alerts", 0, 0, 1) ?: cmd_analytics(&o, cfg, 0);
	} else {
		rc = die(&o, 2, "unknown command '%s%s%s' (see benchfleet --help)", cmd,
		         o.nargs > 1 ? " " : "", o.nargs > 1 ? o.args[1] : "");
	}
	fleetconf_free(cfg);
	return rc;
}
