/*
 * report: the benchd.report/1 model (DESIGN.md 4.6), its JSON, signing as a JWS (flattened
 * JSON, EdDSA/Ed25519, RFC 7515/8037), verification and rendering (text, HTML, JSON; the
 * technician's and the customer's view) in en/it/fr/zh from a fault catalogue the caller gives.
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
	/* Added by issue 16 (NULL: none). */
	const json_t *history;  /* the battery history the trees read: inputs.history ([] if NULL) */
	const json_t *readings; /* derived readings {name: value} merged into readings; a name
	                           the snapshot's readings already have is never overwritten */
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

/*
 * The two views of a report (DESIGN.md 4.8). JSON is the signed payload whatever the view.
 *   technician  everything: evidence, trace size, trees and their hashes, the case (ticket, case
 *               id, revision, what it supersedes), questions with their choices, why it is
 *               incomplete, readings, battery history and forecast, the signature and how to
 *               verify it.
 *   customer    one printed A4 page in plain words: the shop, one sentence first ("Your iPhone 11
 *               needs a new battery"), the parts to replace once, each finding in plain words
 *               under its part, the battery gauge and trend with the forecast sentence, local
 *               time, the ticket, the report id and a one-line note that it is signed. No
 *               evidence, hashes, tree names, command lines or sources.
 * REPORT_VIEW_DEFAULT is the technician view for text and the customer view for HTML.
 */
enum report_view { REPORT_VIEW_DEFAULT = 0, REPORT_VIEW_TECHNICIAN, REPORT_VIEW_CUSTOMER };

/*
 * Everything a renderer needs besides the report; the caller (benchctl, benchd's web page)
 * decides all of it. Every pointer is borrowed for the call; zero is a sane default for each.
 */
struct report_render_opts {
	enum report_format fmt;
	enum report_view view;      /* REPORT_VIEW_DEFAULT: see above */
	const char *lang;           /* en, it, fr, zh (NULL or unknown: en); every label, question,
	                               part, reason, outcome and severity is shown in it */
	const json_t *catalogue;    /* the fault catalogue (report_catalogue_load), or NULL */
	const char *catalogue_path; /* read when catalogue is NULL (an unreadable one fails the render);
	                               both NULL: no catalogue, the report's own English titles and parts */
	int verified;               /* 1: the signature was checked and is good; 0: both views warn */
	const char *verify_reason;  /* when !verified: why, for the technician view */
	const char *kid;            /* the key id that verified it (else the report's bench.key_id) */
	const char *file;           /* the report's file name, for "how to verify" (may be NULL) */
	const char *shop_name;      /* [shop] name: the customer page's header (NULL or "": none) */
	const char *shop_contact;   /* [shop] contact, under the name */
	int utc;                    /* 1: times in UTC; 0: the process's local time zone (TZ, else
	                               /etc/localtime), which is the bench's: the customer's time */
};
/* Render into *out (malloc'd, NUL-terminated, *outlen bytes). REPORT_E_IO or
 * REPORT_E_MALFORMED with why when catalogue_path cannot be used or the output is too big. */
int report_render_ex(const json_t *report, const struct report_render_opts *o, char **out, size_t *outlen,
                     char *why, size_t whylen);
/* The same with the default view, verified, no shop, local time. */
int report_render(const json_t *report, enum report_format fmt, const char *lang, const char *catalogue_path,
                  char **out, size_t *outlen, char *why, size_t whylen);
/* The view a render will use (REPORT_VIEW_DEFAULT resolved by the format). */
enum report_view report_view_of(const struct report_render_opts *o);
/* Load a fault catalogue (catalogue.json of a trees directory: the caller knows where it is). */
int report_catalogue_load(const char *path, json_t **catalogue, char *why, size_t whylen);

#endif
