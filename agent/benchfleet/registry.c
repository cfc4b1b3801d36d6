/* registry: see registry.h. */
#include "registry.h"

#include "report.h"
#include "util.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
registry_valid_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 64)
		return 0;
	for (; *id; id++)
		if (!isalnum((unsigned char)*id) && *id != '-' && *id != '_' && *id != '.')
			return 0;
	return 1;
}

void
registry_sha256_bytea(const void *p, size_t n, char out[68])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	static const char hex[] = "0123456789abcdef";

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		memset(md, 0, sizeof(md)); /* cannot happen with OpenSSL's SHA-256 */
	out[0] = '\\';
	out[1] = 'x';
	for (int i = 0; i < 32; i++) {
		out[2 + 2 * i] = hex[md[i] >> 4];
		out[3 + 2 * i] = hex[md[i] & 15];
	}
	out[66] = '\0';
}

int
registry_check_jwk(const json_t *jwk, json_t **canon, char kid[64], char *why, size_t whylen)
{
	const json_t *given;

	*canon = NULL;
	if (report_jwk_thumbprint(jwk, kid, why, whylen) != REPORT_OK)
		return -1;
	given = json_object_get(jwk, "kid");
	if (given && (!json_is_string(given) || strcmp(json_string_value(given), kid) != 0)) {
		snprintf(why, whylen,
		         "the JWK's kid is not its RFC 7638 thumbprint (%s): export it again "
		         "with benchctl key export",
		         kid);
		return -1;
	}
	*canon = json_pack("{s:s, s:s, s:s}", "crv", "Ed25519", "kty", "OKP", "x",
	                   json_string_value(json_object_get(jwk, "x")));
	return 0;
}

int
registry_add(struct fleetdb *db, const char *id, const json_t *jwk, char token[REGISTRY_TOKEN_LEN + 1],
             char *why, size_t whylen)
{
	unsigned char raw[REGISTRY_TOKEN_LEN / 2];
	static const char hex[] = "0123456789abcdef";
	char kid[64], hash[68];
	json_t *canon = NULL;
	char *jwks = NULL;
	PGresult *r = NULL;
	int rc;

	if (!registry_valid_id(id)) {
		snprintf(why, whylen, "'%.80s' is not a bench id: 1-64 letters, digits, '.', '_' or '-'", id);
		return FLEETDB_E_SQL;
	}
	if (registry_check_jwk(jwk, &canon, kid, why, whylen) < 0)
		return FLEETDB_E_SQL;
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		json_decref(canon);
		snprintf(why, whylen, "cannot make a random token (OpenSSL RAND_bytes failed)");
		return FLEETDB_E_SQL;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		token[2 * i] = hex[raw[i] >> 4];
		token[2 * i + 1] = hex[raw[i] & 15];
	}
	token[REGISTRY_TOKEN_LEN] = '\0';
	registry_sha256_bytea(token, REGISTRY_TOKEN_LEN, hash);
	jwks = json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS);
	{
		const char *p[] = {id, kid, jwks, hash};
		/* A revoked bench may come back with a new key and token; an active one may not. */
		rc = fleetdb_exec(
		    db,
		    "INSERT INTO benches (bench_id, kid, jwk, token_sha256) VALUES ($1, $2, $3, $4)"
		    " ON CONFLICT (bench_id) DO UPDATE SET kid = EXCLUDED.kid, jwk = EXCLUDED.jwk,"
		    " token_sha256 = EXCLUDED.token_sha256, added_at = now(), revoked_at = NULL"
		    " WHERE benches.revoked_at IS NOT NULL RETURNING bench_id",
		    4, p, &r, why, whylen);
	}
	if (rc == FLEETDB_OK && PQntuples(r) == 0) {
		snprintf(
		    why, whylen,
		    "bench '%s' is already registered: benchfleet bench revoke %s first to give it a new "
		    "key and token",
		    id, id);
		rc = FLEETDB_E_EXISTS;
	}
	PQclear(r);
	free(jwks);
	json_decref(canon);
	if (rc != FLEETDB_OK)
		explicit_bzero(token, REGISTRY_TOKEN_LEN);
	explicit_bzero(raw, sizeof(raw));
	return rc;
}

static json_t *
text_or_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

int
registry_list(struct fleetdb *db, json_t **benches, char *why, size_t whylen)
{
	PGresult *r;
	int rc;

	*benches = NULL;
	rc = fleetdb_exec(db,
	                  "SELECT b.bench_id, b.kid,"
	                  " to_char(b.added_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	                  " to_char(b.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	                  " (SELECT count(*) FROM cases c WHERE c.bench_id = b.bench_id),"
	                  " (SELECT count(*) FROM reports r WHERE r.bench_id = b.bench_id),"
	                  " (SELECT to_char(max(r.received_at) AT TIME ZONE 'UTC',"
	                  "   'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM reports r WHERE r.bench_id = b.bench_id)"
	                  " FROM benches b ORDER BY b.bench_id",
	                  0, NULL, &r, why, whylen);
	if (rc != FLEETDB_OK)
		return rc;
	*benches = json_array();
	for (int i = 0; i < PQntuples(r); i++)
		json_array_append_new(*benches,
		                      json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:o}", "bench_id",
		                                PQgetvalue(r, i, 0), "kid", PQgetvalue(r, i, 1), "added_at",
		                                text_or_null(r, i, 2), "revoked_at", text_or_null(r, i, 3),
		                                "cases", (json_int_t)atoll(PQgetvalue(r, i, 4)), "reports",
		                                (json_int_t)atoll(PQgetvalue(r, i, 5)), "last_report_at",
		                                text_or_null(r, i, 6)));
	PQclear(r);
	return FLEETDB_OK;
}

int
registry_revoke(struct fleetdb *db, const char *id, char *why, size_t whylen)
{
	const char *p[] = {id};
	PGresult *r;
	int rc;

	rc = fleetdb_exec(db,
	                  "UPDATE benches SET revoked_at = now() WHERE bench_id = $1 AND revoked_at IS NULL"
	                  " RETURNING bench_id",
	                  1, p, &r, why, whylen);
	if (rc != FLEETDB_OK)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		rc = fleetdb_exec(db, "SELECT 1 FROM benches WHERE bench_id = $1", 1, p, &r, why, whylen);
		if (rc != FLEETDB_OK)
			return rc;
		if (PQntuples(r) > 0)
			snprintf(why, whylen, "bench '%.80s' is already revoked", id);
		else
			snprintf(why, whylen, "no bench '%.80s' (benchfleet bench list shows them)", id);
		PQclear(r);
		return FLEETDB_E_NOT_FOUND;
	}
	PQclear(r);
	return FLEETDB_OK;
}

int
registry_lookup(struct fleetdb *db, const char *token, struct fleet_bench *out, char *why, size_t whylen)
{
	char hash[68];
	const char *p[] = {hash};
	json_error_t jerr;
	PGresult *r;
	int rc;

	memset(out, 0, sizeof(*out));
	registry_sha256_bytea(token, strlen(token), hash);
	rc = fleetdb_exec(db,
	                  "SELECT bench_id, kid, jwk::text, revoked_at IS NOT NULL FROM benches"
	                  " WHERE token_sha256 = $1",
	                  1, p, &r, why, whylen);
	if (rc != FLEETDB_OK)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		snprintf(why, whylen, "unknown token");
		return FLEETDB_E_NOT_FOUND;
	}
	util_strlcpy(out->bench_id, PQgetvalue(r, 0, 0), sizeof(out->bench_id));
	util_strlcpy(out->kid, PQgetvalue(r, 0, 1), sizeof(out->kid));
	out->jwk = json_loads(PQgetvalue(r, 0, 2), 0, &jerr);
	out->revoked = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
	PQclear(r);
	if (out->jwk == NULL) {
		snprintf(why, whylen, "bench %s: the stored key is not JSON: %s", out->bench_id, jerr.text);
		return FLEETDB_E_SQL;
	}
	return FLEETDB_OK;
}
