/*
 * benchctl report: look at and check signed reports (reports/report.h).
 *   report verify FILE [--key JWK_FILE]
 *   report show FILE [--format text|html|json] [--key JWK_FILE] [--trees-dir DIR] [--out FILE]
 * A report is checked against the bench's own key (<state-dir>/bench-key.pem) unless --key
 * gives the signer's public JWK (or a JWK set {"keys": [...]}: the one whose thumbprint is the
 * report's kid is used).
 */
#include "benchctl.h"

#include "engine.h"
#include "report.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JWK_MAX_FILE (1u << 20)

static void
report_usage(FILE *f)
{
	fprintf(f, "usage: benchctl report verify FILE [--key JWK_FILE]     (FILE \"-\": standard input)\n"
	           "       benchctl report show FILE [--format text|html|json] [--key JWK_FILE]\n"
	           "                               [--trees-dir DIR] [--out FILE]\n\n"
	           "  verify   exit 0 only when FILE is a well-formed signed report (flattened JWS,\n"
	           "           EdDSA/Ed25519) whose signature verifies with this bench's key or with\n"
	           "           --key (a public JWK, or a JWK set); otherwise the reason on stderr and\n"
	           "           exit 6\n"
	           "  show     render the report: text for the terminal (default), a self-contained\n"
	           "           printable HTML page for the customer, or the signed payload as JSON;\n"
	           "           customer text comes from the fault catalogue in --lang (en, it, fr, zh).\n"
	           "           The signature is always checked: a report that does not verify is still\n"
	           "           shown, with a warning at the top of the output, and the command exits 6;\n"
	           "           a file that is not a signed report at all is refused (exit 6).\n"
	           "  --key JWK_FILE   verify with this public key instead of the bench's own\n"
	           "  --trees-dir DIR  where catalogue.json is (default: the installed diag-trees)\n"
	           "  --out FILE       write the rendering to FILE instead of standard output\n");
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
};

/*
 * Read and check FILE. Returns BC_EXIT_OK (verified), BC_EXIT_INVALID with why (c->report set
 * when the payload could still be read), or BC_EXIT_FAIL/USAGE for a file or key that cannot be
 * used at all.
 */
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

static int
check_file(struct ctl *g, const char *file, const char *keyfile, struct checked *c)
{
	json_t *keys = NULL;
	const json_t *jwk;
	struct stat st;
	int ec = BC_EXIT_INVALID, r;

	memset(c, 0, sizeof(*c));
	if (strcmp(file, "-") != 0 && stat(file, &st) < 0 && errno == ENOENT && is_report_id(file)) {
		/* A report id: the report in this bench's state directory. */
		char *p = xasprintf("%s/reports/%s.jws.json", g->state_dir, file);
		int rc = stat(p, &st) == 0 ? check_file(g, p, keyfile, c) : -1;
		free(p);
		if (rc >= 0)
			return rc;
		errno = ENOENT;
	}
	if (strcmp(file, "-") == 0) {
		if (read_stdin(&c->data, &c->len) < 0) {
			if (errno == EFBIG) {
				snprintf(c->why, sizeof(c->why),
				         "the input is bigger than %u bytes: not a report", REPORT_MAX_JWS);
				return BC_EXIT_INVALID;
			}
			snprintf(c->why, sizeof(c->why), "cannot read standard input: %s", strerror(errno));
			return BC_EXIT_FAIL;
		}
	} else if (stat(file, &st) == 0 && S_ISREG(st.st_mode) &&
	           (unsigned long long)st.st_size > REPORT_MAX_JWS) {
		snprintf(c->why, sizeof(c->why), "the file is bigger than %u bytes: not a report",
		         REPORT_MAX_JWS);
		return BC_EXIT_INVALID;
	}
	if (c->data == NULL && util_read_file(file, REPORT_MAX_JWS, &c->data, &c->len) < 0) {
		if (errno == EFBIG) {
			snprintf(c->why, sizeof(c->why), "the file is bigger than %u bytes: not a report",
			         REPORT_MAX_JWS);
			return BC_EXIT_INVALID;
		}
		snprintf(c->why, sizeof(c->why), "cannot read: %s", strerror(errno));
		return BC_EXIT_FAIL;
	}
	/* The structure first: a malformed file is refused whatever the key. */
	r = report_unverified_payload(c->data, c->len, &c->report, c->kid, c->why, sizeof(c->why));
	if (r != REPORT_OK)
		return BC_EXIT_INVALID;
	if (load_keys(g, keyfile, &keys, c->why, sizeof(c->why), &ec) < 0)
		return ec;
	jwk = pick_key(keys, c->kid);
	if (jwk == NULL) {
		snprintf(c->why, sizeof(c->why), "the key set in %s holds no keys", keyfile);
		json_decref(keys);
		return BC_EXIT_FAIL;
	}
	json_t *verified = NULL;
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
	json_decref(c->report);
}

static int
report_verify_cmd(struct ctl *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *keyfile = NULL, *file;
	struct checked c;
	int ch, ec;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			keyfile = optarg;
			break;
		case 'h':
			report_usage(stdout);
			return BC_EXIT_OK;
		default:
			report_usage(stderr);
			return BC_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "benchctl: report verify takes one FILE (see benchctl report --help)\n");
		return BC_EXIT_USAGE;
	}
	file = argv[optind];
	ec = check_file(g, file, keyfile, &c);
	if (g->json) {
		json_t *o = json_pack("{s:s, s:b}", "file", file, "valid", ec == BC_EXIT_OK);
		if (ec == BC_EXIT_OK) {
			json_object_set(o, "report_id", json_object_get(c.report, "report_id"));
			json_object_set(o, "outcome", json_object_get(c.report, "outcome"));
			json_object_set_new(o, "kid", json_string(c.kid));
		} else {
			json_object_set_new(o, "reason", json_string(c.why));
		}
		char *s = json_dumps(o, JSON_COMPACT);
		printf("%s\n", s);
		free(s);
		json_decref(o);
	}
	if (ec == BC_EXIT_OK) {
		if (!g->json)
			printf("%s: valid: report %s signed by key %s\n", file,
			       json_string_value(json_object_get(c.report, "report_id")), c.kid);
	} else {
		fprintf(stderr, "benchctl: %s: %s%s\n", file, ec == BC_EXIT_INVALID ? "invalid report: " : "",
		        c.why);
	}
	checked_free(&c);
	return ec;
}

static int
report_show_cmd(struct ctl *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"format", required_argument, NULL, 'f'},
	    {"trees-dir", required_argument, NULL, 't'},
	    {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *keyfile = NULL, *file, *treesdir = NULL, *outfile = NULL;
	enum report_format fmt = g->json ? REPORT_FMT_JSON : REPORT_FMT_TEXT;
	struct report_render_opts ro;
	struct checked c;
	char why[512], *out = NULL, *cat = NULL;
	size_t outlen = 0;
	int ch, ec;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "k:f:t:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			keyfile = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "text") == 0)
				fmt = REPORT_FMT_TEXT;
			else if (strcmp(optarg, "html") == 0)
				fmt = REPORT_FMT_HTML;
			else if (strcmp(optarg, "json") == 0)
				fmt = REPORT_FMT_JSON;
			else {
				fprintf(stderr, "benchctl: --format must be text, html or json, not '%s'\n",
				        optarg);
				return BC_EXIT_USAGE;
			}
			break;
		case 't':
			treesdir = optarg;
			break;
		case 'o':
			outfile = optarg;
			break;
		case 'h':
			report_usage(stdout);
			return BC_EXIT_OK;
		default:
			report_usage(stderr);
			return BC_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "benchctl: report show takes one FILE (see benchctl report --help)\n");
		return BC_EXIT_USAGE;
	}
	file = argv[optind];
	ec = check_file(g, file, keyfile, &c);
	if (c.report == NULL) {
		fprintf(stderr, "benchctl: %s: %s%s\n", file, ec == BC_EXIT_INVALID ? "invalid report: " : "",
		        c.why);
		checked_free(&c);
		return ec == BC_EXIT_OK ? BC_EXIT_FAIL : ec;
	}
	if (!c.verified)
		fprintf(stderr, "benchctl: %s: WARNING: the signature does not verify: %s\n", file, c.why);
	cat = xasprintf("%s/catalogue.json", treesdir != NULL ? treesdir : engine_default_trees_dir());
	memset(&ro, 0, sizeof(ro));
	ro.fmt = fmt;
	ro.lang = g->lang;
	ro.catalogue_path = cat;
	ro.verified = c.verified;
	ro.verify_reason = c.verified ? NULL : c.why;
	ro.kid = c.kid;
	ro.file = file;
	if (report_render_ex(c.report, &ro, &out, &outlen, why, sizeof(why)) != REPORT_OK) {
		fprintf(stderr, "benchctl: %s: cannot render: %s\n", file, why);
		ec = BC_EXIT_FAIL;
	} else if (outfile != NULL) {
		if (util_write_file_atomic(outfile, out, outlen, 0644) < 0) {
			fprintf(stderr, "benchctl: cannot write %s: %s\n", outfile, strerror(errno));
			ec = BC_EXIT_FAIL;
		}
	} else if (fwrite(out, 1, outlen, stdout) != outlen || fflush(stdout) != 0) {
		fprintf(stderr, "benchctl: cannot write the report to standard output: %s\n",
		        strerror(errno));
		ec = BC_EXIT_FAIL;
	}
	free(out);
	free(cat);
	checked_free(&c);
	return ec;
}

int
cmd_report(struct ctl *g, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		report_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? BC_EXIT_USAGE : BC_EXIT_OK;
	}
	if (strcmp(argv[1], "verify") == 0)
		return report_verify_cmd(g, argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return report_show_cmd(g, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return cmd_report_list(g, argc - 1, argv + 1);
	fprintf(stderr, "benchctl: report: unknown subcommand '%s' (show, verify or list)\n", argv[1]);
	return BC_EXIT_USAGE;
}
