/*
 * registry: the benches benchfleet accepts reports from. Each has an id, its public JWK (what
 * `benchctl key export` prints; the kid is the key's RFC 7638 thumbprint) and an upload token,
 * of which only the SHA-256 is stored: the token is shown once, by `bench add`.
 * Ownership: json_t results are the caller's.
 */
#ifndef BENCHFLEET_REGISTRY_H
#define BENCHFLEET_REGISTRY_H

#include "fleetdb.h"

#include <jansson.h>

#define REGISTRY_TOKEN_LEN 64 /* hex characters of a 32-byte random token */

struct fleet_bench {
	char bench_id[72];
	char kid[64];
	json_t *jwk; /* {kty, crv, x}; the caller json_decref()s it */
	int revoked;
};

/* Is id a bench id (1-64 letters, digits, '.', '_', '-', like benchd's [bench] id)? */
int registry_valid_id(const char *id);
/* Check a JWK file's object: an Ed25519 public key, with a "kid" (if any) equal to its
 * thumbprint. On success *canon is {crv, kty, x} and kid[64] its thumbprint. */
int registry_check_jwk(const json_t *jwk, json_t **canon, char kid[64], char *why, size_t whylen);
/* Register id (a revoked id may be registered again, with a new key and token). Writes the
 * token (REGISTRY_TOKEN_LEN hex characters + NUL). FLEETDB_E_EXISTS when id is registered. */
int registry_add(struct fleetdb *db, const char *id, const json_t *jwk, char token[REGISTRY_TOKEN_LEN + 1],
                 char *why, size_t whylen);
/* [{bench_id, kid, added_at, revoked_at|null, cases, reports, last_report_at|null}] by id. */
int registry_list(struct fleetdb *db, json_t **benches, char *why, size_t whylen);
/* FLEETDB_E_NOT_FOUND when id is not registered (or already revoked: why says which). */
int registry_revoke(struct fleetdb *db, const char *id, char *why, size_t whylen);
/* The bench a bearer token names: FLEETDB_E_NOT_FOUND when none; out->revoked when revoked. */
int registry_lookup(struct fleetdb *db, const char *token, struct fleet_bench *out, char *why, size_t whylen);
/* SHA-256 of s as "\\x<hex>" (a bytea literal for a text parameter) into out[68]. */
void registry_sha256_bytea(const void *p, size_t n, char out[68]);

#endif
