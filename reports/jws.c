/*
 * jws: signing and verifying reports as JWS in flattened JSON serialisation (RFC 7515 7.2.2)
 * with EdDSA/Ed25519 (RFC 8037). The protected header is exactly
 * {"alg":"EdDSA","kid":<kid>,"typ":"benchd-report+json"}; the payload is the report bytes.
 * Verification is strict: it accepts only what report_sign produces, so every altered, truncated
 * or foreign file gets its own reason.
 */
#include "report.h"

#include "internal.h"
#include "util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

EVP_PKEY *bench_key_pkey(const struct bench_key *k);

const char *
report_strerror(int err)
{
	switch (err) {
	case REPORT_OK:
		return "ok";
	case REPORT_E_KEY:
		return "bench key unusable";
	case REPORT_E_MALFORMED:
		return "malformed report file";
	case REPORT_E_ALG:
		return "signature algorithm is not EdDSA";
	case REPORT_E_SIGNATURE:
		return "signature does not verify";
	case REPORT_E_UNKNOWN_KEY:
		return "signed by an unknown key";
	case REPORT_E_IO:
		return "input/output error";
	case REPORT_E_EXISTS:
		return "bench key already exists";
	case REPORT_E_CRYPTO:
		return "cryptography failed";
	case REPORT_E_NOKEY:
		return "no bench key";
	}
	return "unknown error";
}

int
report_sign_raw(const char *protected_hdr, size_t hlen, const void *payload, size_t plen,
                const struct bench_key *k, char **jws, size_t *jwslen, char *why, size_t whylen)
{
	char *ph = b64url_encode(protected_hdr, hlen), *pl = b64url_encode(payload, plen);
	char *input = xasprintf("%s.%s", ph, pl), *sig = NULL;
	unsigned char raw[64];
	size_t rawlen = sizeof(raw);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int r = REPORT_E_CRYPTO;

	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, NULL, NULL, bench_key_pkey(k)) != 1 ||
	    EVP_DigestSign(ctx, raw, &rawlen, (const unsigned char *)input, strlen(input)) != 1 ||
	    rawlen != 64) {
		snprintf(why, whylen, "Ed25519 signing failed (OpenSSL)");
		goto out;
	}
	sig = b64url_encode(raw, rawlen);
	*jws = xasprintf("{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}", ph, pl, sig);
	*jwslen = strlen(*jws);
	r = REPORT_OK;
out:
	EVP_MD_CTX_free(ctx);
	free(ph);
	free(pl);
	free(input);
	free(sig);
	return r;
}

int
report_sign(const json_t *report, const struct bench_key *k, char **jws, size_t *jwslen, char *why,
            size_t whylen)
{
	char hdr[256];
	char *payload;
	int n, r;

	n = snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"kid\":\"%s\",\"typ\":\"%s\"}", bench_key_id(k),
	             REPORT_JWS_TYP);
	if (n < 0 || (size_t)n >= sizeof(hdr)) {
		snprintf(why, whylen, "protected header too long");
		return REPORT_E_CRYPTO;
	}
	payload = json_dumps(report, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (payload == NULL) {
		snprintf(why, whylen, "the report cannot be serialised as JSON");
		return REPORT_E_MALFORMED;
	}
	r = report_sign_raw(hdr, (size_t)n, payload, strlen(payload), k, jws, jwslen, why, whylen);
	free(payload);
	return r;
}

/* The parsed parts of a flattened JWS. */
struct jws_parts {
	json_t *root;
	const char *protected_b64, *payload_b64, *signature_b64;
	json_t *header;
	unsigned char *payload, *sig;
	size_t payloadlen, siglen;
	const char *kid;
};

static void
parts_free(struct jws_parts *p)
{
	json_decref(p->root);
	json_decref(p->header);
	free(p->payload);
	free(p->sig);
	memset(p, 0, sizeof(*p));
}

static int
b64_member(const json_t *root, const char *name, const char **out, char *why, size_t whylen)
{
	json_t *v = json_object_get(root, name);

	if (v == NULL) {
		snprintf(why, whylen, "not a flattened JWS: the \"%s\" member is missing", name);
		return REPORT_E_MALFORMED;
	}
	if (!json_is_string(v)) {
		snprintf(why, whylen, "not a flattened JWS: \"%s\" is not a string", name);
		return REPORT_E_MALFORMED;
	}
	*out = json_string_value(v);
	return REPORT_OK;
}

/* Parse and check everything but the signature itself. */
static int
jws_parse(const char *jws, size_t len, struct jws_parts *p, char *why, size_t whylen)
{
	json_error_t jerr;
	unsigned char *hdr = NULL;
	size_t hdrlen = 0;
	const char *key, *alg, *typ;
	json_t *v;

	memset(p, 0, sizeof(*p));
	if (len == 0) {
		snprintf(why, whylen, "the file is empty");
		return REPORT_E_MALFORMED;
	}
	if (len > REPORT_MAX_JWS) {
		snprintf(why, whylen, "the file is too big for a report (%zu bytes, at most %u)", len,
		         REPORT_MAX_JWS);
		return REPORT_E_MALFORMED;
	}
	p->root = json_loadb(jws, len, JSON_REJECT_DUPLICATES, &jerr);
	if (p->root == NULL) {
		/* Truncated only when it starts as a report does and the JSON ends before it closes;
		 * any other bytes are not JSON, however short. */
		size_t lead = 0;
		while (lead < len &&
		       (jws[lead] == ' ' || jws[lead] == '\t' || jws[lead] == '\n' || jws[lead] == '\r'))
			lead++;
		if (lead < len && jws[lead] == '{' &&
		    (jerr.position >= (int)len || strstr(jerr.text, "end of file") != NULL ||
		     strstr(jerr.text, "premature") != NULL))
			snprintf(why, whylen, "truncated: the JSON ends early (%s)", jerr.text);
		else
			snprintf(why, whylen, "not JSON: %s at line %d column %d", jerr.text, jerr.line,
			         jerr.column);
		return REPORT_E_MALFORMED;
	}
	if (!json_is_object(p->root)) {
		snprintf(why, whylen, "not a flattened JWS: the top level is not a JSON object");
		goto bad;
	}
	if (b64_member(p->root, "protected", &p->protected_b64, why, whylen) < 0 ||
	    b64_member(p->root, "payload", &p->payload_b64, why, whylen) < 0 ||
	    b64_member(p->root, "signature", &p->signature_b64, why, whylen) < 0)
		goto bad;
	json_object_foreach(p->root, key, v)
	{
		if (strcmp(key, "protected") && strcmp(key, "payload") && strcmp(key, "signature")) {
			snprintf(
			    why, whylen,
			    "unexpected member \"%.40s\" in the JWS (only protected, payload, signature)",
			    key);
			goto bad;
		}
	}
	if (b64url_decode(p->protected_b64, strlen(p->protected_b64), &hdr, &hdrlen) < 0) {
		snprintf(why, whylen, "bad base64url in \"protected\"");
		goto bad;
	}
	p->header = json_loadb((const char *)hdr, hdrlen, JSON_REJECT_DUPLICATES, &jerr);
	free(hdr);
	if (!json_is_object(p->header)) {
		snprintf(why, whylen, "the protected header is not a JSON object");
		goto bad;
	}
	v = json_object_get(p->header, "alg");
	alg = json_string_value(v);
	if (alg == NULL) {
		snprintf(why, whylen, "the protected header has no \"alg\"");
		goto bad;
	}
	if (strcmp(alg, "EdDSA") != 0) {
		snprintf(why, whylen,
		         "algorithm \"%.32s\" is refused: only EdDSA (Ed25519) reports are accepted", alg);
		parts_free(p);
		return REPORT_E_ALG;
	}
	json_object_foreach(p->header, key, v)
	{
		if (strcmp(key, "alg") && strcmp(key, "kid") && strcmp(key, "typ")) {
			snprintf(why, whylen,
			         "unexpected protected header member \"%.40s\" (only alg, kid, typ)", key);
			goto bad;
		}
	}
	p->kid = json_string_value(json_object_get(p->header, "kid"));
	if (p->kid == NULL || strlen(p->kid) == 0 || strlen(p->kid) > 63) {
		snprintf(why, whylen, "the protected header has no usable \"kid\"");
		goto bad;
	}
	typ = json_string_value(json_object_get(p->header, "typ"));
	if (typ == NULL || strcmp(typ, REPORT_JWS_TYP) != 0) {
		snprintf(why, whylen, "the protected header's \"typ\" is not \"%s\": not a benchd report",
		         REPORT_JWS_TYP);
		goto bad;
	}
	if (b64url_decode(p->payload_b64, strlen(p->payload_b64), &p->payload, &p->payloadlen) < 0) {
		snprintf(why, whylen, "bad base64url in \"payload\"");
		goto bad;
	}
	if (b64url_decode(p->signature_b64, strlen(p->signature_b64), &p->sig, &p->siglen) < 0) {
		snprintf(why, whylen, "bad base64url in \"signature\"");
		goto bad;
	}
	if (p->siglen != 64) {
		snprintf(why, whylen, "the signature is %zu bytes, an Ed25519 signature is 64", p->siglen);
		goto bad;
	}
	return REPORT_OK;
bad:
	parts_free(p);
	return REPORT_E_MALFORMED;
}

static int
payload_object(const struct jws_parts *p, json_t **report, char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *o = json_loadb((const char *)p->payload, p->payloadlen, JSON_REJECT_DUPLICATES, &jerr);
	const char *schema;

	if (!json_is_object(o)) {
		json_decref(o);
		snprintf(why, whylen, "the payload is not a JSON object");
		return REPORT_E_MALFORMED;
	}
	schema = json_string_value(json_object_get(o, "schema"));
	if (schema == NULL || strcmp(schema, REPORT_SCHEMA) != 0) {
		json_decref(o);
		snprintf(why, whylen, "the payload is not a %s document", REPORT_SCHEMA);
		return REPORT_E_MALFORMED;
	}
	*report = o;
	return REPORT_OK;
}

int
report_verify(const char *jws, size_t len, const json_t *jwk, json_t **report, char *why, size_t whylen)
{
	struct jws_parts p;
	char kid[64];
	unsigned char *x = NULL;
	size_t xlen = 0;
	EVP_PKEY *pub = NULL;
	EVP_MD_CTX *ctx = NULL;
	char *input = NULL;
	int r;

	if ((r = report_jwk_thumbprint(jwk, kid, why, whylen)) < 0)
		return r;
	if ((r = jws_parse(jws, len, &p, why, whylen)) < 0)
		return r;
	if (strcmp(p.kid, kid) != 0) {
		snprintf(why, whylen, "signed by key %.63s, not by the key used to verify (%s)", p.kid, kid);
		r = REPORT_E_UNKNOWN_KEY;
		goto out;
	}
	const char *xs = json_string_value(json_object_get(jwk, "x"));
	if (b64url_decode(xs, strlen(xs), &x, &xlen) < 0 || xlen != 32 ||
	    (pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xlen)) == NULL ||
	    (ctx = EVP_MD_CTX_new()) == NULL || EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) != 1) {
		snprintf(why, whylen, "cannot use the public key (OpenSSL)");
		r = REPORT_E_CRYPTO;
		goto out;
	}
	input = xasprintf("%s.%s", p.protected_b64, p.payload_b64);
	if (EVP_DigestVerify(ctx, p.sig, p.siglen, (const unsigned char *)input, strlen(input)) != 1) {
		snprintf(why, whylen,
		         "the signature does not verify: the report was altered after signing, "
		         "or signed with another key");
		r = REPORT_E_SIGNATURE;
		goto out;
	}
	r = payload_object(&p, report, why, whylen);
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pub);
	free(x);
	free(input);
	parts_free(&p);
	return r;
}

int
report_unverified_payload(const char *jws, size_t len, json_t **report, char kid[64], char *why,
                          size_t whylen)
{
	struct jws_parts p;
	int r;

	if ((r = jws_parse(jws, len, &p, why, whylen)) < 0)
		return r;
	util_strlcpy(kid, p.kid, 64);
	r = payload_object(&p, report, why, whylen);
	parts_free(&p);
	return r;
}
