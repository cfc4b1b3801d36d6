/*
 * report: the benchd.report/1 model (DESIGN.md 4.6), its JSON, signing as a JWS (flattened
 * JSON, EdDSA/Ed25519, RFC 7515/8037), verification and rendering (text, HTML, JSON) in
 * en/it/fr/zh from the fault catalogue.
 *
 * Ownership: every json_t and char* returned is the caller's.
 */
#ifndef BENCHD_REPORT_H
#define BENCHD_REPORT_H

#include <jansson.h>
#include <stddef.h>

enum report_err {
	REPORT_OK = 0,
	REPORT_E_KEY = -1,        /* no bench key, unreadable, or wrong permissions */
	REPORT_E_MALFORMED = -2,  /* not JSON, not a flattened JWS, bad base64url, truncated */
	REPORT_E_ALG = -3,        /* alg is not EdDSA */
	REPORT_E_SIGNATURE = -4,  /* the signature does not verify: altered, or another key */
	REPORT_E_UNKNOWN_KEY = -5,/* kid matches no known key */
	REPORT_E_IO = -6,
	REPORT_E_EXISTS = -7,     /* key init without --force over an existing key */
	REPORT_E_CRYPTO = -8,
};
const char *report_strerror(int err);

/* The bench key: <state_dir>/bench-key.pem (mode 0600). */
struct bench_key;
int bench_key_init(const char *state_dir, int force, char *why, size_t whylen);
int bench_key_load(const char *state_dir, struct bench_key **out, char *why, size_t whylen);
void bench_key_free(struct bench_key *k);
json_t *bench_key_public_jwk(const struct bench_key *k); /* {kty:"OKP",crv:"Ed25519",x} */
const char *bench_key_id(const struct bench_key *k);      /* RFC 7638 thumbprint */

struct report_input {
	const char *snapshot_bytes; /* the exact snapshot bytes (for snapshot_sha256) */
	size_t snapshot_len;
	const json_t *snapshot;     /* parsed */
	const json_t *faults, *trace, *trees; /* from engine_result */
	const char *outcome;
	const char *bench_id;
	const char *ticket;         /* may be NULL */
};
/* Build the report object (new report_id and created_at). */
json_t *report_build(const struct report_input *in, const struct bench_key *k);
/* Sign: the flattened JWS object {protected, payload, signature} as compact-printed bytes. */
int report_sign(const json_t *report, const struct bench_key *k, char **jws, size_t *jwslen,
    char *why, size_t whylen);
/* Verify JWS bytes against a public JWK; on success *report is the payload object. */
int report_verify(const char *jws, size_t len, const json_t *jwk, json_t **report, char *why,
    size_t whylen);

enum report_format { REPORT_FMT_TEXT, REPORT_FMT_HTML, REPORT_FMT_JSON };
/* Render a (verified or not) report; catalogue_path NULL = default diag-trees/catalogue.json. */
int report_render(const json_t *report, enum report_format fmt, const char *lang,
    const char *catalogue_path, char **out, size_t *outlen, char *why, size_t whylen);

#endif
