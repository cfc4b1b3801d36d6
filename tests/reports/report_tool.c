/*
 * report-tool: test helper for the reports area. Signs with the fixed RFC 8037 Appendix A key
 * so fixtures and golden files are reproducible (Ed25519 signatures are deterministic).
 *   report-tool sign-fixed REPORT.json         print the JWS of REPORT.json's exact bytes
 *   report-tool sign-state STATE REPORT.json   sign with <STATE>/bench-key.pem (report_sign)
 *   report-tool jwk-fixed                      print that key's public JWK
 *   report-tool build SNAPSHOT ENGINE.json ID TIME   a report with a fixed id and created_at
 *       (ENGINE.json: {faults, trace, trees, outcome, questions, errors}; TIME is RFC 3339)
 *   report-tool rfc8037                        sign "Example of Ed25519 signing" with
 *                                              protected {"alg":"EdDSA"} (RFC 8037 A.4)
 */
#include "report.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char rfc8037_d[32] = {
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
};

static struct bench_key *
fixed_key(void)
{
	struct bench_key *k = NULL;

	if (bench_key_from_raw(rfc8037_d, &k) != REPORT_OK) {
		fprintf(stderr, "report-tool: cannot make the RFC 8037 key\n");
		exit(1);
	}
	return k;
}

static char *
slurp(const char *path, size_t *len)
{
	char *d = NULL;

	if (util_read_file(path, 64u << 20, &d, len) < 0) {
		perror(path);
		exit(1);
	}
	return d;
}

int
main(int argc, char **argv)
{
	struct bench_key *k;
	char why[512], *jws = NULL;
	size_t len = 0, jwslen = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: report-tool sign-fixed FILE | jwk-fixed | rfc8037 | build ...\n");
		return 2;
	}
	k = fixed_key();
	if (strcmp(argv[1], "jwk-fixed") == 0) {
		json_t *j = bench_key_public_jwk(k);
		char *s = json_dumps(j, JSON_COMPACT);
		printf("%s\n", s);
		free(s);
		json_decref(j);
	} else if (strcmp(argv[1], "rfc8037") == 0) {
		const char *h = "{\"alg\":\"EdDSA\"}", *p = "Example of Ed25519 signing";
		if (report_sign_raw(h, strlen(h), p, strlen(p), k, &jws, &jwslen, why, sizeof(why)) != 0)
			goto fail;
		printf("%s\n", jws);
	} else if (strcmp(argv[1], "sign-fixed") == 0 && argc == 3) {
		char *d = slurp(argv[2], &len);
		/* Sign the exact bytes, minus a final newline, with the report's protected header. */
		while (len > 0 && d[len - 1] == '\n')
			len--;
		char hdr[200];
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"kid\":\"%s\",\"typ\":\"%s\"}",
		         bench_key_id(k), REPORT_JWS_TYP);
		if (report_sign_raw(hdr, strlen(hdr), d, len, k, &jws, &jwslen, why, sizeof(why)) != 0) {
			free(d);
			goto fail;
		}
		free(d);
		printf("%s\n", jws);
	} else if (strcmp(argv[1], "sign-state") == 0 && argc == 4) {
		struct bench_key *sk = NULL;
		char *d = slurp(argv[3], &len);
		json_t *rep = json_loadb(d, len, 0, NULL);
		free(d);
		if (rep == NULL || bench_key_load(argv[2], &sk, why, sizeof(why)) != 0 ||
		    report_sign(rep, sk, &jws, &jwslen, why, sizeof(why)) != 0) {
			json_decref(rep);
			bench_key_free(sk);
			goto fail;
		}
		json_decref(rep);
		bench_key_free(sk);
		printf("%s\n", jws);
	} else if (strcmp(argv[1], "build") == 0 && argc == 6) {
		size_t elen = 0;
		char *snap = slurp(argv[2], &len), *eng = slurp(argv[3], &elen);
		json_t *s = json_loadb(snap, len, 0, NULL), *e = json_loadb(eng, elen, 0, NULL), *r;
		time_t t;
		if (s == NULL || e == NULL || util_parse_rfc3339(argv[5], &t) < 0) {
			fprintf(stderr, "report-tool: bad snapshot, engine JSON or time\n");
			return 1;
		}
		struct report_input in = {
		    .snapshot_bytes = snap,
		    .snapshot_len = len,
		    .snapshot = s,
		    .faults = json_object_get(e, "faults"),
		    .trace = json_object_get(e, "trace"),
		    .trees = json_object_get(e, "trees"),
		    .outcome = json_string_value(json_object_get(e, "outcome")),
		    .questions = json_object_get(e, "questions"),
		    .engine_errors = json_object_get(e, "errors"),
		    .answers = json_object_get(e, "answers"),
		    .bench_id = "bench-test",
		    .ticket = "T-1001",
		};
		r = report_build_at(&in, k, argv[4], t);
		char *out = json_dumps(r, JSON_INDENT(2));
		printf("%s\n", out);
		free(out);
		json_decref(r);
		json_decref(s);
		json_decref(e);
		free(snap);
		free(eng);
	} else {
		fprintf(stderr, "report-tool: unknown command\n");
		bench_key_free(k);
		return 2;
	}
	free(jws);
	bench_key_free(k);
	return 0;
fail:
	fprintf(stderr, "report-tool: %s\n", why);
	bench_key_free(k);
	return 1;
}
