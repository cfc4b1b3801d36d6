/*
 * benchctl key: the bench signing key (reports/report.h).
 *   key init [--force]   create <state-dir>/bench-key.pem (Ed25519, mode 0600)
 *   key export           print the public JWK (with its kid); never the private part
 */
#include "benchctl.h"

#include "report.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
key_usage(FILE *f)
{
	fprintf(f, "usage: benchctl key init [--force]\n"
	           "       benchctl key export\n\n"
	           "  init      create the bench signing key <state-dir>/" BENCH_KEY_FILE "\n"
	           "            (Ed25519, PKCS#8 PEM, mode 0600); refuses to replace an existing key\n"
	           "            unless --force is given (reports signed with the old key then need the\n"
	           "            old public key: verify them with --key)\n"
	           "  export    print the public key as a JWK with its key id (RFC 7638 thumbprint),\n"
	           "            for whoever verifies this bench's reports; the private key never leaves\n"
	           "            the bench\n");
}

static int
key_init(struct ctl *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char why[512];
	int c, force = 0, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = 1;
			break;
		case 'h':
			key_usage(stdout);
			return BC_EXIT_OK;
		default:
			return benchctl_bad_option(g, "key init", c, argc, argv);
		}
	}
	if (optind < argc)
		return benchctl_usage_error(g, "key init", "unexpected argument '%s'", argv[optind]);
	r = bench_key_init(g->state_dir, force, why, sizeof(why));
	if (r != REPORT_OK)
		return benchctl_fail(g, BC_EXIT_FAIL, "key init: %s", why);
	char *path = bench_key_path(g->state_dir);
	if (g->json) {
		json_t *o = json_pack("{s:b, s:s, s:s}", "ok", 1, "path", path, "kid", why);
		benchctl_print_json(o);
		json_decref(o);
	} else {
		printf("bench key created: %s\nkey id: %s\n", path, why);
	}
	free(path);
	return BC_EXIT_OK;
}

static int
key_export(struct ctl *g, int argc, char **argv)
{
	struct bench_key *k = NULL;
	char why[512];
	json_t *jwk;
	char *s;

	if (argc > 1) {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			key_usage(stdout);
			return BC_EXIT_OK;
		}
		return benchctl_usage_error(g, "key export", "%s '%s'",
		                            argv[1][0] == '-' ? "unknown option" : "unexpected argument",
		                            argv[1]);
	}
	if (bench_key_load(g->state_dir, &k, why, sizeof(why)) != REPORT_OK)
		return benchctl_fail(g, BC_EXIT_FAIL, "key export: %s", why);
	jwk = bench_key_public_jwk(k);
	json_object_set_new(jwk, "kid", json_string(bench_key_id(k)));
	json_object_set_new(jwk, "alg", json_string("EdDSA"));
	json_object_set_new(jwk, "use", json_string("sig"));
	s = json_dumps(jwk, JSON_COMPACT);
	printf("%s\n", s);
	free(s);
	fflush(stdout);
	json_decref(jwk);
	bench_key_free(k);
	return BC_EXIT_OK;
}

int
cmd_key(struct ctl *g, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		key_usage(stdout);
		return BC_EXIT_OK;
	}
	if (argc < 2)
		return benchctl_usage_error(g, "key", "say init or export");
	if (strcmp(argv[1], "init") == 0)
		return key_init(g, argc - 1, argv + 1);
	if (strcmp(argv[1], "export") == 0)
		return key_export(g, argc - 1, argv + 1);
	return benchctl_usage_error(g, "key", "unknown subcommand '%s' (init or export)", argv[1]);
}
