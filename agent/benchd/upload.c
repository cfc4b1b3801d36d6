/* upload: see upload.h. */
#include "upload.h"

#include "buf.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* base64url without padding (RFC 7515 2); returns malloc'd bytes or NULL on a bad character. */
static unsigned char *
b64url_decode(const char *s, size_t len, size_t *outlen)
{
	unsigned char *out = xmalloc(len * 3 / 4 + 3);
	unsigned acc = 0;
	int bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i], v;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '-')
			v = 62;
		else if (c == '_')
			v = 63;
		else {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (bits >= 6) { /* a lone trailing character cannot encode a byte */
		free(out);
		return NULL;
	}
	out[n] = '\0';
	*outlen = n;
	return out;
}

static const char *
str_or(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_t *
str_or_null(const json_t *o, const char *key)
{
	const char *s = str_or(o, key);
	return s ? json_string(s) : json_null();
}

int
upload_build_body(const char *jws, size_t jwslen, char **body, size_t *bodylen, struct upload_meta *meta,
                  char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *obj = NULL, *report = NULL, *c = NULL, *dev, *faults, *rdev, *rfaults;
	unsigned char *payload = NULL;
	size_t plen, start = 0, end = jwslen;
	const char *p, *id, *outcome;
	char *cs = NULL;
	struct buf b;
	int r = UPLOAD_E_MALFORMED;

	memset(meta, 0, sizeof(*meta));
	*body = NULL;
	if (jwslen > UPLOAD_JWS_MAX) {
		snprintf(why, whylen, "the signed report is larger than %u bytes", UPLOAD_JWS_MAX);
		return r;
	}
	obj = json_loadb(jws, jwslen, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(obj)) {
		snprintf(why, whylen, "not a JSON object: %s", jerr.text);
		goto out;
	}
	p = str_or(obj, "payload");
	if (p == NULL || !json_is_string(json_object_get(obj, "signature")) ||
	    !json_is_string(json_object_get(obj, "protected"))) {
		snprintf(why, whylen, "not a flattened JWS (protected, payload, signature)");
		goto out;
	}
	payload = b64url_decode(p, strlen(p), &plen);
	if (payload == NULL) {
		snprintf(why, whylen, "the JWS payload is not base64url");
		goto out;
	}
	report = json_loadb((const char *)payload, plen, 0, &jerr);
	if (!json_is_object(report)) {
		snprintf(why, whylen, "the JWS payload is not a JSON object: %s", jerr.text);
		goto out;
	}
	id = str_or(report, "report_id");
	outcome = str_or(report, "outcome");
	if (id == NULL || id[0] == '\0' || strlen(id) >= sizeof(meta->report_id) || outcome == NULL ||
	    strlen(outcome) >= sizeof(meta->outcome)) {
		snprintf(why, whylen, "the report has no report_id or outcome");
		goto out;
	}
	for (const char *q = id; *q; q++)
		if (!isalnum((unsigned char)*q) && *q != '-') {
			snprintf(why, whylen, "the report_id '%.40s' is not a UUID", id);
			goto out;
		}
	util_strlcpy(meta->report_id, id, sizeof(meta->report_id));
	util_strlcpy(meta->outcome, outcome, sizeof(meta->outcome));
	util_strlcpy(meta->created_at, str_or(report, "created_at") ? str_or(report, "created_at") : "",
	             sizeof(meta->created_at));

	rdev = json_object_get(report, "device");
	dev = json_object();
	json_object_set_new(dev, "udid", str_or_null(rdev, "udid"));
	json_object_set_new(dev, "serial", str_or_null(rdev, "serial"));
	json_object_set_new(dev, "product_type", str_or_null(rdev, "product_type"));
	json_object_set_new(dev, "model_name", str_or_null(rdev, "model_name"));
	if (str_or(rdev, "udid"))
		util_strlcpy(meta->device, str_or(rdev, "udid"), sizeof(meta->device));
	else if (str_or(rdev, "ecid"))
		util_strlcpy(meta->device, str_or(rdev, "ecid"), sizeof(meta->device));

	faults = json_array();
	rfaults = json_object_get(report, "faults");
	for (size_t i = 0; json_is_array(rfaults) && i < json_array_size(rfaults); i++) {
		const json_t *f = json_array_get(rfaults, i);
		json_array_append_new(faults,
		                      json_pack("{s:o, s:o, s:o}", "code", str_or_null(f, "code"), "severity",
		                                str_or_null(f, "severity"), "part", str_or_null(f, "part")));
	}
	c = json_object();
	json_object_set_new(c, "ticket", str_or_null(json_object_get(report, "case"), "ticket"));
	json_object_set_new(c, "bench_id", str_or_null(json_object_get(report, "bench"), "id"));
	json_object_set_new(c, "device", dev);
	json_object_set_new(c, "outcome", json_string(outcome));
	json_object_set_new(c, "faults", faults);
	/* DESIGN 4.8: the case the report is a revision of (null for a report made outside a case). */
	{
		const json_t *rc = json_object_get(report, "case"), *rev = json_object_get(rc, "revision");
		json_object_set_new(c, "case_id", str_or_null(rc, "case_id"));
		json_object_set_new(c, "revision",
		                    json_is_integer(rev) ? json_integer(json_integer_value(rev))
		                                         : json_null());
		json_object_set_new(c, "supersedes", str_or_null(rc, "supersedes"));
	}
	cs = json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	if (cs == NULL) {
		snprintf(why, whylen, "cannot encode the case");
		goto out;
	}
	/* The report goes in as the exact signed bytes, without surrounding whitespace. */
	while (start < end && isspace((unsigned char)jws[start]))
		start++;
	while (end > start && isspace((unsigned char)jws[end - 1]))
		end--;
	buf_init(&b, UPLOAD_JWS_MAX + 1024 * 1024);
	if (buf_addstr(&b, "{\"case\":") || buf_addstr(&b, cs) || buf_addstr(&b, ",\"report\":") ||
	    buf_add(&b, jws + start, end - start) || buf_addstr(&b, "}")) {
		buf_free(&b);
		snprintf(why, whylen, "the case body is too large");
		goto out;
	}
	*body = buf_take(&b, bodylen);
	r = UPLOAD_OK;
out:
	free(cs);
	json_decref(c);
	json_decref(report);
	json_decref(obj);
	free(payload);
	return r;
}

long long
upload_backoff_ms(int attempts, int min_s, int max_s, long retry_after_s, unsigned rnd)
{
	long long base, maxms = (long long)max_s * 1000;

	if (retry_after_s >= 0) {
		/* "Retry-After: 0" must not become a busy loop: at least a second. */
		long long ra = retry_after_s < 1 ? 1000 : (long long)retry_after_s * 1000;
		return ra > maxms ? maxms : ra;
	}
	if (attempts < 1)
		attempts = 1;
	base = (long long)min_s * 1000;
	for (int i = 1; i < attempts && base < maxms; i++)
		base *= 2;
	if (base > maxms)
		base = maxms;
	/* Equal jitter: never less than half the backoff, so a server is not hammered. */
	return base / 2 + (long long)(rnd % (unsigned)(base / 2 + 1));
}
