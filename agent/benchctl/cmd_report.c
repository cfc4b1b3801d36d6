/*
 * benchctl report: look at and check signed reports (reports/report.h).
 *   report verify FILE|ID|- [--key JWK_FILE]
 *   report show FILE|ID|- [--view customer|technician] [--format text|html|json] [--key JWK_FILE]
 *                         [--trees-dir DIR] [--config FILE] [--out FILE]
 * A report is checked against the bench's own key (<state-dir>/bench-key.pem) unless --key
 * gives the signer's public JWK (or a JWK set {"keys": [...]}: the one whose thumbprint is the
 * report's kid is used). ID is a report id: <state-dir>/reports/<ID>.jws.json.
 * With --json a failure is one line on stdout, {"ok":false,"error":"..."} (CONTRACTS 1).
 */
#include "benchctl.h"

#include "config.h"
#include "engine.h"
#include "report.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JWK_MAX_FILE (1u << 20)

static void
report_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: benchctl report verify FILE|ID|- [--key JWK_FILE]\n"
	    "       benchctl report show FILE|ID|- [--view customer|technician] [--format text|html|json]\n"
	    "                         [--key JWK_FILE] [--trees-dir DIR] [--config FILE] [--out FILE]\n"
	    "       benchctl report list [--device DEVICE] [--since DATE] [--limit N] [--json]\n\n"
	    "FILE is a signed report (.jws.json), ID a report id (the report in <state-dir>/reports),\n"
	    "\"-\" standard input.\n"
	    "  verify   exit 0 only when it is a well-formed signed report (flattened JWS,\n"
	    "           EdDSA/Ed25519) whose signature verifies with this bench's key or with\n"
	    "           --key (a public JWK, or a JWK set); otherwise the reason and exit 6\n"
	    "  show     render it in --lang (en, it, fr, zh): as text (default), as a self-contained\n"
	    "           printable HTML page, or the signed payload as JSON. Two views:\n"
	    "             technician  everything: evidence, trees, the case, questions, how to verify\n"
	    "                         (the default for text)\n"
	    "             customer    one A4 page in plain words for the customer: the shop, what\n"
	    "                         is wrong and the part to replace, the battery and its trend\n"
	    "                         (the default for html)\n"
	    "           The signature is always checked: a report that does not verify is still\n"
	    "           shown, with a warning at the top, and the command exits 6; a file that is\n"
	    "           not a signed report at all is refused (exit 6).\n"
	    "  --key JWK_FILE   verify with this public key instead of the bench's own\n"
	    "  --trees-dir DIR  where catalogue.json is (default: the installed diag-trees)\n"
	    "  --config FILE    benchd's configuration: the shop's name and contact ([shop]) for the\n"
	    "                   customer page, and its language ([bench] lang) unless --lang is given\n"
	    "  --out FILE       write the rendering to FILE instead of standard output\n"
	    "Times are shown in the local time zone (TZ). With --json a failure is one line\n"
	    "{\"ok\":false,\"error\":...} on standard output.\n");
}

/* The key(s) to verify with: the given JWK file, else the bench key's public JWK. */
static int
load_keys(struct ctl *g, const char *keyfile, json_t **keys, char *why, size_t whylen, int *exit_code)
{
	if (keyfile != NULL) {
		char *data = NULL;
		size_t len = 0;
		json_error_t jerr;
		json_t *j;

		if (util_read_file(keyfile, JWK_MAX_FILE, &data, &len) < 0) {
			snprintf(why, whylen, "cannot read key file %s: %s", keyfile,
			         errno == EFBIG ? "too big for a key" : strerror(errno));
			*exit_code = BC_EXIT_FAIL;
			return -1;
		}
		j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
		free(data);
		if (!json_is_object(j)) {
			json_decref(j);
			snprintf(why, whylen, "key file %s is not a JWK (a JSON object)", keyfile);
			*exit_code = BC_EXIT_FAIL;
			return -1;
		}
		if (json_is_array(json_object_get(j, "keys"))) {
			*keys = json_incref(json_object_get(j, "keys"));
			json_decref(j);
		} else {
			*keys = json_pack("[o]", j);
		}
		return 0;
	}
	struct bench_key *k = NULL;
	char kwhy[400];
	int r = bench_key_load(g->state_dir, &k, kwhy, sizeof(kwhy));
	if (r != REPORT_OK) {
		snprintf(why, whylen,
		         "no key to verify with: %s (or give the signer's public key with --key JWK_FILE)",
		         kwhy);
		*exit_code = r == REPORT_E_NOKEY ? BC_EXIT_INVALID : BC_EXIT_FAIL;
		return -1;
	}
	*keys = json_pack("[o]", bench_key_public_jwk(k));
	bench_key_free(k);
	return 0;
}

/* Pick the key whose thumbprint is the report's kid; else the first (it then fails on kid). */
static const json_t *
pick_key(const json_t *keys, const char *kid)
{
	size_t i;
	json_t *k;
	char t[64], why[256];

	json_array_foreach(keys, i, k)
	{
		if (kid != NULL && report_jwk_thumbprint(k, t, why, sizeof(why)) == 0 && strcmp(t, kid) == 0)
			return k;
	}
	return json_array_get(keys, 0);
}

/* Standard input, at most REPORT_MAX_JWS bytes (EFBIG past that). */
static int
read_stdin(char **data, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *p = xmalloc(cap + 1);

	for (;;) {
		ssize_t r;
		if (n == cap) {
			if (cap > REPORT_MAX_JWS) {
				free(p);
				errno = EFBIG;
				return -1;
			}
			cap *= 2;
			p = xrealloc(p, cap + 1);
		}
		r = read(STDIN_FILENO, p + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(p);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > REPORT_MAX_JWS) {
		free(p);
		errno = EFBIG;
		return -1;
	}
	p[n] = '\0';
	*data = p;
	*len = n;
	return 0;
}

struct checked {
	char *data;
	size_t len;
	json_t *report; /* the payload: verified when verified = 1 */
	int verified;
	char kid[64];
	char why[600];
	char *path; /* the file read (a report id resolved to its file) */
};

/* A report id as written by benchd: a UUID (36 characters of hex and dashes). */
static int
is_report_id(const char *s)
{
	size_t n = strlen(s);

	if (n != 36)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return 0;
		}
	}
	return 1;
}

/* Read FILE, ID or "-" into c->data. Returns BC_EXIT_OK or an exit code with c->why. */
static int
read_report(struct ctl *g, const char *file, struct checked *c)
{
	struct stat st;

	if (strcmp(file, "-") == 0) {
		if (read_stdin(&c->data, &c->len) == 0)
			return BC_EXIT_OK;
		if (errno == EFBIG) {
			snprintf(c->why, sizeof(c->why), "the input is bigger than %u bytes: not a report",
			         REPORT_MAX_JWS);
			return BC_EXIT_INVALID;
		}
		snprintf(c->why, sizeof(c->why), "cannot read standard input: %s", strerror(errno));
		return BC_EXIT_FAIL;
	}
	c->path = xstrdup(file);
	if (stat(file, &st) < 0 && errno == ENOENT) {
		if (!is_report_id(file)) {
			snprintf(c->why, sizeof(c->why), "no such file");
			return BC_EXIT_FAIL;
		}
		/* A report id: the report in this bench's state directory. */
		free(c->path);
		c->path = xasprintf("%s/reports/%s.jws.json", g->state_dir, file);
		if (stat(c->path, &st) < 0 && errno == ENOENT) {
			snprintf(
			    c->why, sizeof(c->why),
			    "no report with this id in %s/reports (give the report's file, or the bench's "
			    "state directory with --state-dir)",
			    g->state_dir);
			return BC_EXIT_FAIL;
		}
	}
	if (stat(c->path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (unsigned long long)st.st_size > REPORT_MAX_JWS) {
		snprintf(c->why, sizeof(c->why), "the file is bigger than %u bytes: not a report",
		         REPORT_MAX_JWS);
		return BC_EXIT_INVALID;
	}
	if (util_read_file(c->path, REPORT_MAX_JWS, &c->data, &c->len) < 0) {
		if (errno == EFBIG) {
			snprintf(c->why, sizeof(c->why), "the file is bigger than %u bytes: not a report",
			         REPORT_MAX_JWS);
			return BC_EXIT_INVALID;
		}
		snprintf(c->why, sizeof(c->why), "cannot read %s: %s", c->path, strerror(errno));
		return BC_EXIT_FAIL;
	}
	return BC_EXIT_OK;
}

/*
 * Read and check FILE. Returns BC_EXIT_OK (verified), BC_EXIT_INVALID with why (c->report set
 * when the payload could still be read), or BC_EXIT_FAIL/USAGE for a file or key that cannot be
 * used at all.
 */
static int
check_file(struct ctl *g, const char *file, const char *keyfile, struct checked *c)
{
	json_t *keys = NULL, *verified = NULL;
	const json_t *jwk;
	int ec = BC_EXIT_INVALID, r;

	memset(c, 0, sizeof(*c));
	if ((ec = read_report(g, file, c)) != BC_EXIT_OK)
		return ec;
	/* The structure first: a malformed file is refused whatever the key. */
	r = report_unverified_payload(c->data, c->len, &c->report, c->kid, c->why, sizeof(c->why));
	if (r != REPORT_OK)
		return BC_EXIT_INVALID;
	ec = BC_EXIT_INVALID;
	if (load_keys(g, keyfile, &keys, c->why, sizeof(c->why), &ec) < 0)
		return ec;
	jwk = pick_key(keys, c->kid);
	if (jwk == NULL) {
		snprintf(c->why, sizeof(c->why), "the key set in %s holds no keys", keyfile);
		json_decref(keys);
		return BC_EXIT_FAIL;
	}
	r = report_verify(c->data, c->len, jwk, &verified, c->why, sizeof(c->why));
	json_decref(keys);
	if (r != REPORT_OK)
		return r == REPORT_E_KEY ? BC_EXIT_FAIL : BC_EXIT_INVALID;
	json_decref(c->report);
	c->report = verified;
	c->verified = 1;
	return BC_EXIT_OK;
}

static void
checked_free(struct checked *c)
{
	free(c->data);
	free(c->path);
	json_decref(c->report);
}

/* Why a report does not verify, without repeating "the signature does not verify". */
static const char *
not_verified_detail(const char *why)
{
	static const char prefix[] = "the signature does not verify: ";

	return strncmp(why, prefix, sizeof(prefix) - 1) == 0 ? why + sizeof(prefix) - 1 : why;
}

/* The options of report show and report verify: one parser, verify takes only --key. */
struct report_args {
	const char *file, *keyfile, *treesdir, *outfile, *config;
	enum report_format fmt;
	enum report_view view;
};

/* "--format" for the option whose val is ch. */
static const char *
option_name(const struct option *opts, int ch)
{
	static char name[64];

	for (; opts->name != NULL; opts++)
		if (opts->val == ch) {
			snprintf(name, sizeof(name), "--%s", opts->name);
			return name;
		}
	return "that option";
}

/* The index of arg among names (NULL-terminated), or -1. */
static int
pick(const char *arg, const char *const *names)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(arg, names[i]) == 0)
			return i;
	return -1;
}

static int
parse_args(struct ctl *g, int show, int argc, char **argv, struct report_args *a)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'},    {"format", required_argument, NULL, 'f'},
	    {"view", required_argument, NULL, 'v'},   {"trees-dir", required_argument, NULL, 't'},
	    {"config", required_argument, NULL, 'c'}, {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	/* In the order of enum report_format and enum report_view (REPORT_VIEW_DEFAULT is no name). */
	static const char *const formats[] = {"text", "html", "json", NULL};
	static const char *const views[] = {"-", "technician", "customer", NULL};
	int ch, i;

	memset(a, 0, sizeof(*a));
	a->fmt = g->json ? REPORT_FMT_JSON : REPORT_FMT_TEXT;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":k:f:v:t:c:o:h", opts, NULL)) != -1) {
		if (!show && ch != 'k' && ch != 'h' && ch != '?' && ch != ':')
			return benchctl_usage_error(g, "report verify",
			                            "%s is for report show; verify takes only --key",
			                            option_name(opts, ch));
		switch (ch) {
		case 'k':
			a->keyfile = optarg;
			break;
		case 'f':
			if ((i = pick(optarg, formats)) < 0)
				return benchctl_usage_error(g, "report show",
				                            "--format must be text, html or json, not '%s'",
				                            optarg);
			a->fmt = (enum report_format)i; /* the names are in the enum's order */
			break;
		case 'v':
			if ((i = pick(optarg, views)) <= 0)
				return benchctl_usage_error(g, "report show",
				                            "--view must be customer or technician, not '%s'",
				                            optarg);
			a->view = (enum report_view)i;
			break;
		case 't':
			a->treesdir = optarg;
			break;
		case 'c':
			a->config = optarg;
			break;
		case 'o':
			a->outfile = optarg;
			break;
		case 'h':
			report_usage(stdout);
			return -1;
		default:
			return benchctl_bad_option(g, show ? "report show" : "report verify", ch, argc, argv);
		}
	}
	if (optind != argc - 1)
		return benchctl_usage_error(g, show ? "report show" : "report verify",
		                            "give one FILE, report id or - (standard input)");
	a->file = argv[optind];
	return BC_EXIT_OK;
}

static int
report_verify_cmd(struct ctl *g, int argc, char **argv)
{
	struct report_args a;
	struct checked c;
	int ec;

	if ((ec = parse_args(g, 0, argc, argv, &a)) != BC_EXIT_OK)
		return ec < 0 ? BC_EXIT_OK : ec;
	ec = check_file(g, a.file, a.keyfile, &c);
	if (ec == BC_EXIT_OK) {
		const char *id = json_string_value(json_object_get(c.report, "report_id"));
		if (g->json) {
			json_t *o = json_pack("{s:b, s:s, s:b, s:O?, s:O?, s:s}", "ok", 1, "file", a.file,
			                      "valid", 1, "report_id", json_object_get(c.report, "report_id"),
			                      "outcome", json_object_get(c.report, "outcome"), "kid", c.kid);
			benchctl_print_json(o);
			json_decref(o);
		} else {
			printf("%s: valid: report %s signed by key %s\n", a.file, id != NULL ? id : "?",
			       c.kid);
		}
	} else {
		benchctl_fail_with(
		    g, ec, json_pack("{s:s, s:b, s:s}", "file", a.file, "valid", 0, "reason", c.why),
		    "%s: %s%s", a.file, ec == BC_EXIT_INVALID ? "invalid report: " : "", c.why);
	}
	checked_free(&c);
	return ec;
}

/* The catalogue the page's texts come from: --trees-dir's, else the installed trees'. An
 * explicit --trees-dir must hold one; without it a missing catalogue is a warning and the
 * report's own English texts are shown. */
static int
load_catalogue(struct ctl *g, const char *treesdir, json_t **cat)
{
	char *path = xasprintf("%s/catalogue.json", treesdir != NULL ? treesdir : engine_default_trees_dir());
	char why[600];
	int r = report_catalogue_load(path, cat, why, sizeof(why));

	free(path);
	if (r == REPORT_OK)
		return BC_EXIT_OK;
	if (treesdir != NULL)
		return benchctl_fail(g, BC_EXIT_USAGE,
		                     "%s (--trees-dir names the diagnostic trees directory)", why);
	fprintf(stderr, "benchctl: warning: %s: showing the report's own English texts\n", why);
	return BC_EXIT_OK;
}

static int
report_show_cmd(struct ctl *g, int argc, char **argv)
{
	struct report_args a;
	struct report_render_opts ro;
	struct config *cfg = NULL;
	struct checked c;
	json_t *cat = NULL;
	char why[600], *out = NULL;
	const char *lang = g->lang;
	size_t outlen = 0;
	int ec, rc;

	if ((ec = parse_args(g, 1, argc, argv, &a)) != BC_EXIT_OK)
		return ec < 0 ? BC_EXIT_OK : ec;
	if (a.config != NULL) {
		if (config_load(a.config, &cfg, why, sizeof(why)) != CONFIG_OK)
			return benchctl_fail(g, BC_EXIT_USAGE, "%s", why);
		if (!g->lang_given)
			lang = cfg->lang;
	}
	ec = check_file(g, a.file, a.keyfile, &c);
	if (c.report == NULL) {
		ec = benchctl_fail(g, ec == BC_EXIT_OK ? BC_EXIT_FAIL : ec, "%s: %s%s", a.file,
		                   ec == BC_EXIT_INVALID ? "invalid report: " : "", c.why);
		checked_free(&c);
		config_free(cfg);
		return ec;
	}
	if (!c.verified)
		fprintf(stderr, "benchctl: %s: WARNING: the signature does not verify: %s\n", a.file,
		        not_verified_detail(c.why));
	if (a.fmt == REPORT_FMT_JSON && g->json) {
		/* One compact line: the payload, or why it cannot be trusted beside it. */
		char msg[700];
		snprintf(msg, sizeof(msg), "the signature does not verify: %s", not_verified_detail(c.why));
		json_t *o = c.verified
		                ? json_incref(c.report)
		                : json_pack("{s:b, s:s, s:s, s:O}", "ok", 0, "error", msg, "code",
		                            benchctl_exit_code_name(BC_EXIT_INVALID), "report", c.report);
		out = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (out == NULL) {
			ec = benchctl_fail(g, BC_EXIT_FAIL, "%s: the report cannot be printed as JSON",
			                   a.file);
			goto done;
		}
		outlen = strlen(out);
		out = xrealloc(out, outlen + 2);
		out[outlen++] = '\n';
		out[outlen] = '\0';
	} else {
		if (a.fmt != REPORT_FMT_JSON && (rc = load_catalogue(g, a.treesdir, &cat)) != BC_EXIT_OK) {
			ec = rc;
			goto done;
		}
		memset(&ro, 0, sizeof(ro));
		ro.fmt = a.fmt;
		ro.view = a.view;
		ro.lang = lang;
		ro.catalogue = cat;
		ro.verified = c.verified;
		ro.verify_reason = c.verified ? NULL : not_verified_detail(c.why);
		ro.kid = c.kid;
		ro.file = a.file;
		ro.shop_name = cfg != NULL ? cfg->shop_name : NULL;
		ro.shop_contact = cfg != NULL ? cfg->shop_contact : NULL;
		if (report_render_ex(c.report, &ro, &out, &outlen, why, sizeof(why)) != REPORT_OK) {
			ec = benchctl_fail(g, BC_EXIT_FAIL, "%s: cannot render: %s", a.file, why);
			goto done;
		}
	}
	if (a.outfile != NULL) {
		if (util_write_file_atomic(a.outfile, out, outlen, 0644) < 0) {
			ec =
			    benchctl_fail(g, BC_EXIT_FAIL, "cannot write %s: %s", a.outfile, strerror(errno));
		} else if (g->json) {
			json_t *o = json_pack("{s:b, s:s, s:b}", "ok", c.verified, "out", a.outfile,
			                      "verified", c.verified);
			if (!c.verified) {
				json_object_set_new(o, "error", json_string(not_verified_detail(c.why)));
				json_object_set_new(o, "code",
				                    json_string(benchctl_exit_code_name(BC_EXIT_INVALID)));
			}
			benchctl_print_json(o);
			json_decref(o);
		}
	} else if (fwrite(out, 1, outlen, stdout) != outlen || fflush(stdout) != 0) {
		ec = benchctl_fail(g, BC_EXIT_FAIL, "cannot write the report to standard output: %s",
		                   strerror(errno));
	}
done:
	free(out);
	json_decref(cat);
	config_free(cfg);
	checked_free(&c);
	return ec;
}

int
cmd_report(struct ctl *g, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		report_usage(stdout);
		return BC_EXIT_OK;
	}
	if (argc < 2)
		return benchctl_usage_error(g, "report", "say show, verify or list");
	if (strcmp(argv[1], "verify") == 0)
		return report_verify_cmd(g, argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return report_show_cmd(g, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return cmd_report_list(g, argc - 1, argv + 1);
	return benchctl_usage_error(g, "report", "unknown subcommand '%s' (show, verify or list)", argv[1]);
}
