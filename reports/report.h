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
#include <time.h>

enum report_err {
	REPORT_OK = 0,
	REPORT_E_KEY = -1,         /* no bench key, unreadable, or wrong permissions */
	REPORT_E_MALFORMED = -2,   /* not JSON, not a flattened JWS, bad base64url, truncated */
	REPORT_E_ALG = -3,         /* alg is not EdDSA */
	REPORT_E_SIGNATURE = -4,   /* the signature does not verify: altered, or another key */
	REPORT_E_UNKNOWN_KEY = -5, /* kid matches no known key */
	REPORT_E_IO = -6,
	REPORT_E_EXISTS = -7, /* key init without --force over an existing key */
	REPORT_E_CRYPTO = -8,
	REPORT_E_NOKEY = -9, /* no bench key file in the state directory */
};
const char *report_strerror(int err);

#define REPORT_SCHEMA       "benchd.report/1"
#define REPORT_JWS_TYP      "benchd-report+json"
#define REPORT_MAX_JWS      (16u << 20) /* bigger JWS files are refused unread */
#define REPORT_MAX_SNAPSHOT (64u << 20) /* bigger snapshots are refused */
#define BENCH_KEY_FILE      "bench-key.pem"

/* The bench key: <state_dir>/bench-key.pem (PKCS#8 PEM, mode 0600, directories 0700). */
struct bench_key;
/* Create a new Ed25519 key; REPORT_E_EXISTS (with the path and kid in why) unless force.
 * On success why holds the new key id. */
int bench_key_init(const char *state_dir, int force, char *why, size_t whylen);
/* REPORT_E_NOKEY when there is no key file; REPORT_E_KEY when it is unusable or group/other
 * can read it. */
int bench_key_load(const char *state_dir, struct bench_key **out, char *why, size_t whylen);
/* Load a PEM private key from any path (same checks as bench_key_load). */
int bench_key_load_file(const char *path, struct bench_key **out, char *why, size_t whylen);
/* A key from a raw 32-byte Ed25519 private key (test vectors). */
int bench_key_from_raw(const unsigned char seed[32], struct bench_key **out);
void bench_key_free(struct bench_key *k);
json_t *bench_key_public_jwk(const struct bench_key *k); /* {kty:"OKP",crv:"Ed25519",x} */
const char *bench_key_id(const struct bench_key *k);     /* RFC 7638 thumbprint */
/* The key file path for a state directory (malloc'd). */
char *bench_key_path(const char *state_dir);

/*
 * Check a public JWK (kty OKP, crv Ed25519, x = 32 bytes base64url) and write its RFC 7638
 * thumbprint (43 characters) into kid[64]. Returns 0 or REPORT_E_KEY with why.
 */
int report_jwk_thumbprint(const json_t *jwk, char kid[64], char *why, size_t whylen);

struct report_input {
	const char *snapshot_bytes; /* the exact snapshot bytes (for snapshot_sha256) */
	size_t snapshot_len;
	const json_t *snapshot;               /* parsed */
	const json_t *faults, *trace, *trees; /* from engine_result */
	const char *outcome;
	const char *bench_id;
	const char *ticket; /* may be NULL */
	/* Added by issue 6, all optional (NULL: left out or empty). */
	const json_t *questions;     /* unanswered technician questions [{key, tree, text, choices}] */
	const json_t *engine_errors; /* [{tree, reason}] */
	const json_t *answers;       /* {key: value} the technician's answers, for replay */
	const json_t *incomplete;    /* [{tree, reason}] other reasons the outcome is incomplete */
	/* Added by issue 12 (cases, DESIGN 4.8), all optional: case_id NULL gives
	 * case {case_id: null, ticket, revision: null, supersedes: null, lang: null}. */
	const char *case_id;    /* the case (a UUID) this report is a revision of */
	int revision;           /* 1, 2, ... */
	const char *supersedes; /* the case's previous report id, NULL for the first */
	const char *lang;       /* the customer's language kept on the case (a booking's), or NULL */
};
/* Build the report object (new report_id and created_at). */
json_t *report_build(const struct report_input *in, const struct bench_key *k);
/* The same with a given report_id and created_at (tests, golden files). */
json_t *report_build_at(const struct report_input *in, const struct bench_key *k, const char *report_id,
                        time_t created_at);
/*
 * A new revision of a signed report with nothing but its case changed (benchctl link): the
 * payload of prev copied, with a new report_id and created_at (now), this bench's key id and
 * software, and case {case_id, ticket, revision, supersedes, lang} from in (only those members
 * of in are used). The faults, trace, answers and snapshot_sha256 stay as they were.
 */
json_t *report_revise(const json_t *prev, const struct report_input *in, const struct bench_key *k,
                      const char *report_id);
/* The case object a report carries for in (see report_input). */
json_t *report_case_object(const struct report_input *in);

/* A random UUID v4 (OpenSSL RAND) into out[37]. Returns 0 or -1. */
int report_uuid4(char out[37]);

/* Sign: the flattened JWS object {protected, payload, signature} as compact-printed bytes. */
int report_sign(const json_t *report, const struct bench_key *k, char **jws, size_t *jwslen, char *why,
                size_t whylen);
/* Sign given protected-header bytes and payload bytes as they are (RFC 8037 test vectors). */
int report_sign_raw(const char *protected_hdr, size_t hlen, const void *payload, size_t plen,
                    const struct bench_key *k, char **jws, size_t *jwslen, char *why, size_t whylen);
/* Verify JWS bytes against a public JWK; on success *report is the payload object. */
int report_verify(const char *jws, size_t len, const json_t *jwk, json_t **report, char *why, size_t whylen);
/*
 * Parse a JWS without checking the signature: the payload object (for rendering a report whose
 * signature failed, with a warning) and the kid in its header. Fails on a malformed file.
 */
int report_unverified_payload(const char *jws, size_t len, json_t **report, char kid[64], char *why,
                              size_t whylen);

enum report_format { REPORT_FMT_TEXT, REPORT_FMT_HTML, REPORT_FMT_JSON };
/* Render a (verified or not) report; catalogue_path NULL = default diag-trees/catalogue.json. */
int report_render(const json_t *report, enum report_format fmt, const char *lang, const char *catalogue_path,
                  char **out, size_t *outlen, char *why, size_t whylen);

/* What the renderers say about the signature. */
struct report_render_opts {
	enum report_format fmt;
	const char *lang;           /* en, it, fr, zh (NULL: en) */
	const char *catalogue_path; /* NULL: the default catalogue */
	int verified;               /* 1: signature checked and good; 0: say it does not verify */
	const char *verify_reason;  /* when !verified: why (shown in the warning) */
	const char *kid;            /* the key id that verified it (or the header's) */
	const char *file;           /* the report file name, for "how to verify" (may be NULL) */
};
int report_render_ex(const json_t *report, const struct report_render_opts *o, char **out, size_t *outlen,
                     char *why, size_t whylen);

/* The default catalogue: catalogue.json in engine_default_trees_dir(). Thread-local static. */
const char *report_default_catalogue(void);

#endif
