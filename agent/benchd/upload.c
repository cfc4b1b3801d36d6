/* upload: see upload.h. */
#include "upload.h"

#include "buf.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <curl/curl.h>
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

enum upload_verdict
upload_classify(int status)
{
	if ((status >= 200 && status < 300) || status == 409)
		return UPLOAD_DELIVERED;
	if (status == 0 || status == 429 || (status >= 500 && status < 600))
		return UPLOAD_RETRY;
	return UPLOAD_HELD;
}

const char *
upload_verdict_name(enum upload_verdict v)
{
	switch (v) {
	case UPLOAD_DELIVERED:
		return "delivered";
	case UPLOAD_RETRY:
		return "pending";
	case UPLOAD_HELD:
		return "held";
	}
	return "held";
}

int
upload_parse_retry_after(const char *value, time_t now, long *seconds)
{
	const char *s = value;
	time_t t;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return -1;
	if (isdigit((unsigned char)*s)) {
		char *end;
		unsigned long long n;
		errno = 0;
		n = strtoull(s, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end != '\0')
			return -1;
		if (errno == ERANGE || n > 365ULL * 86400)
			n = 365ULL * 86400;
		*seconds = (long)n;
		return 0;
	}
	/* An HTTP-date: only the three RFC 9110 forms, which curl_getdate understands. */
	if (!isalpha((unsigned char)*s))
		return -1;
	t = curl_getdate(s, NULL);
	if (t == (time_t)-1)
		return -1;
	*seconds = t > now ? (long)(t - now) : 0;
	return 0;
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

int
upload_read_token(const char *path, char **token, char *why, size_t whylen)
{
	char *data;
	size_t len, a = 0;

	*token = NULL;
	if (util_read_file(path, 4096, &data, &len) < 0) {
		snprintf(why, whylen, "token_file %s: %s", path,
		         errno == EFBIG ? "larger than 4 KiB" : strerror(errno));
		return -1;
	}
	while (a < len && isspace((unsigned char)data[a]))
		a++;
	while (len > a && isspace((unsigned char)data[len - 1]))
		len--;
	if (len == a) {
		free(data);
		snprintf(why, whylen, "token_file %s is empty: put the booking system's API token in it",
		         path);
		return -1;
	}
	for (size_t i = a; i < len; i++)
		if ((unsigned char)data[i] < 0x21 || (unsigned char)data[i] > 0x7e) {
			free(data);
			snprintf(why, whylen,
			         "token_file %s holds a space or control character inside the token", path);
			return -1;
		}
	*token = strndup(data + a, len - a);
	free(data);
	if (*token == NULL)
		fatal("strndup");
	return 0;
}

struct xfer {
	struct buf answer;
	long retry_after;
	volatile int *cancel;
};

static size_t
on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;
	size_t total = size * n, room = x->answer.max - x->answer.len;

	/* Keep the first UPLOAD_ANSWER_MAX bytes; swallow the rest rather than failing. */
	if (room > 0 && buf_add(&x->answer, p, total < room ? total : room) != BUF_OK)
		return 0;
	return total;
}

static size_t
on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;
	size_t total = size * n;
	static const char name[] = "retry-after:";

	if (total > sizeof(name) && total < 512 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
		char v[512];
		long secs;
		memcpy(v, p + sizeof(name) - 1, total - (sizeof(name) - 1));
		v[total - (sizeof(name) - 1)] = '\0';
		if (upload_parse_retry_after(v, time(NULL), &secs) == 0)
			x->retry_after = secs;
	} else if (total >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		x->retry_after = -1; /* a new response (after 100 Continue): forget the old headers */
	}
	return total;
}

static int
on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct xfer *x = ctx;

	(void)dt, (void)dn, (void)ut, (void)un;
	return x->cancel && *x->cancel ? 1 : 0;
}

int
upload_post(const struct upload_opts *o, const char *report_id, const char *body, size_t bodylen,
            struct upload_answer *ans, char *why, size_t whylen)
{
	struct curl_slist *h = NULL;
	struct xfer x;
	char *token = NULL, *url, *hdr;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c;
	CURLcode rc;
	long status = 0;

	memset(ans, 0, sizeof(*ans));
	ans->retry_after = -1;
	if (o->token_file && o->token_file[0] && upload_read_token(o->token_file, &token, why, whylen) < 0)
		return UPLOAD_E_TOKEN;
	c = curl_easy_init();
	if (c == NULL)
		fatal("curl_easy_init");
	memset(&x, 0, sizeof(x));
	buf_init(&x.answer, UPLOAD_ANSWER_MAX);
	x.retry_after = -1;
	x.cancel = o->cancel;

	url = xasprintf("%s%scases", o->url, o->url[0] && o->url[strlen(o->url) - 1] == '/' ? "" : "/");
	if (token) {
		hdr = xasprintf("Authorization: Bearer %s", token);
		h = curl_slist_append(h, hdr);
		explicit_bzero(hdr, strlen(hdr));
		free(hdr);
		explicit_bzero(token, strlen(token));
		free(token);
	}
	hdr = xasprintf("Idempotency-Key: %s", report_id);
	h = curl_slist_append(h, hdr);
	free(hdr);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Accept: application/json");
	h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
	if (h == NULL)
		fatal("curl_slist_append");

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bodylen);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "benchd/" BENCHD_VERSION);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)o->timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(o->timeout_s < 10 ? o->timeout_s : 10));
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (o->ca_file && o->ca_file[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);

	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		ans->status = (int)status;
		ans->retry_after = x.retry_after;
		ans->text = buf_take(&x.answer, NULL);
		if (status >= 300 && status < 400) {
			char *loc = NULL;
			curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
			free(ans->text);
			ans->text =
			    xasprintf("the server redirects to %s: set [upload] url to the final address",
			              loc ? loc : "another address");
		}
	} else {
		ans->status = 0;
		ans->text =
		    xasprintf("%s", rc == CURLE_ABORTED_BY_CALLBACK ? "stopped: benchd is shutting down"
		                    : errbuf[0]                     ? errbuf
		                                                    : curl_easy_strerror(rc));
		buf_free(&x.answer);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(url);
	return UPLOAD_OK;
}

void
upload_answer_clear(struct upload_answer *ans)
{
	free(ans->text);
	memset(ans, 0, sizeof(*ans));
	ans->retry_after = -1;
}
