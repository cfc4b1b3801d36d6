/* http: the booking adapters' one HTTP helper on libcurl (booking_int.h). */
#include "booking_int.h"

#include "buf.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RETRY_AFTER_CAP_S 3600  /* the longest a 429 stops the limiter */
#define BLOCK_DEFAULT_MS  60000 /* a 429 without Retry-After: one whole window */

int
bhttp_parse_retry_after(const char *value, time_t now, long *seconds)
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
	/* An HTTP-date: the three RFC 9110 forms, which curl_getdate understands. */
	if (!isalpha((unsigned char)*s))
		return -1;
	t = curl_getdate(s, NULL);
	if (t == (time_t)-1)
		return -1;
	*seconds = t > now ? (long)(t - now) : 0;
	return 0;
}

int
bhttp_read_token(const char *path, char **token, char *why, size_t whylen)
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
			explicit_bzero(data, len);
			free(data);
			snprintf(why, whylen,
			         "token_file %s holds a space or control character inside the token", path);
			return -1;
		}
	*token = strndup(data + a, len - a);
	explicit_bzero(data, len);
	free(data);
	if (*token == NULL)
		fatal("strndup");
	return 0;
}

char *
bhttp_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = xmalloc(n * 3 + 1), *p = out;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

void
bhttp_answer_clear(struct bhttp_answer *a)
{
	free(a->body);
	memset(a, 0, sizeof(*a));
	a->retry_after = -1;
}

struct xfer {
	struct buf body;
	int keep_prefix;
	int too_big;
	long retry_after;
	const struct booking *b;
};

static size_t
on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;
	size_t total = size * n, room = x->body.max - x->body.len;

	if (x->keep_prefix) {
		/* Keep the first bytes; swallow the rest rather than failing. */
		if (room > 0 && buf_add(&x->body, p, total < room ? total : room) != BUF_OK)
			return 0;
		return total;
	}
	if (buf_add(&x->body, p, total) != BUF_OK) {
		x->too_big = 1;
		return 0; /* abort: an answer past the cap is not one we can use */
	}
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
		if (bhttp_parse_retry_after(v, time(NULL), &secs) == 0)
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
	return booking_stopping(x->b) ? 1 : 0;
}

/* Never let the token reach a message: every occurrence in s (of cap bytes) becomes "***". */
static void
scrub(char *s, size_t cap, const char *token)
{
	struct buf out;
	const char *p = s, *hit;
	size_t tl;
	char *t;

	if (token == NULL || (tl = strlen(token)) < 4 || strstr(s, token) == NULL)
		return;
	buf_init(&out, cap);
	while ((hit = strstr(p, token)) != NULL) {
		if (buf_add(&out, p, (size_t)(hit - p)) != BUF_OK || buf_addstr(&out, "***") != BUF_OK)
			break;
		p = hit + tl;
	}
	if (buf_addstr(&out, p) != BUF_OK) {
		/* Cannot be longer than the original: keep what fits. */
	}
	t = buf_take(&out, NULL);
	util_strlcpy(s, t ? t : "", cap);
	free(t);
}

int
bhttp_request(struct booking *b, const struct bhttp_req *q, struct bhttp_answer *a)
{
	const char *path = q->path, *query = q->query, *body = q->body, *method = q->method;
	size_t max_answer = q->max_answer ? q->max_answer : BHTTP_READ_MAX;
	struct curl_slist *h = NULL;
	struct xfer x;
	struct buf url;
	char *token = NULL, *hdr;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c;
	CURLcode rc;
	long status = 0, waited = 0;
	int r, slot = -1, timeout;

	memset(a, 0, sizeof(*a));
	a->retry_after = -1;
	if (b->token_file && b->token_file[0] &&
	    bhttp_read_token(b->token_file, &token, a->error, sizeof(a->error)) < 0) {
		a->body = xstrdup("");
		return BHTTP_E_TOKEN;
	}
	r = rate_take(b->rate, &b->cancelled, q->max_wait_ms, &waited, &slot);
	if (r == RATE_OK && booking_stopping(b)) {
		rate_done(b->rate, slot);
		r = RATE_E_CANCELLED;
	}
	if (r != RATE_OK) {
		if (token) {
			explicit_bzero(token, strlen(token));
			free(token);
		}
		a->body = xstrdup("");
		if (r == RATE_E_CANCELLED)
			snprintf(a->error, sizeof(a->error), "stopped: benchd is shutting down");
		else
			snprintf(a->error, sizeof(a->error),
			         "the client-side limit of requests to %s is used up for the next %ld s",
			         b->system, (waited + 999) / 1000);
		return r == RATE_E_CANCELLED ? BHTTP_E_CANCELLED : BHTTP_E_BUSY;
	}
	if (waited > 1000)
		log_debug("booking: waited %.1f s for the %s rate limit", (double)waited / 1000, b->system);

	buf_init(&url, 64 * 1024);
	if (buf_addstr(&url, b->url) || buf_addstr(&url, path) ||
	    (query && query[0] && (buf_addstr(&url, "?") || buf_addstr(&url, query)))) {
		buf_free(&url);
		fatal("booking: request URL too long");
	}
	if (token && b->auth == BHTTP_AUTH_API_KEY) {
		char *e = bhttp_escape(token);
		if (buf_addstr(&url, query && query[0] ? "&api_key=" : "?api_key=") || buf_addstr(&url, e))
			fatal("booking: request URL too long");
		explicit_bzero(e, strlen(e));
		free(e);
	}
	if (token && b->auth == BHTTP_AUTH_BEARER) {
		hdr = xasprintf("Authorization: Bearer %s", token);
		h = curl_slist_append(h, hdr);
		explicit_bzero(hdr, strlen(hdr));
		free(hdr);
	}
	h = curl_slist_append(h, "Accept: application/json");
	h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
	if (body)
		h = curl_slist_append(h, "Content-Type: application/json");
	for (size_t i = 0; q->headers && q->headers[i]; i++)
		h = curl_slist_append(h, q->headers[i]);
	if (h == NULL)
		fatal("curl_slist_append");

	c = curl_easy_init();
	if (c == NULL)
		fatal("curl_easy_init");
	memset(&x, 0, sizeof(x));
	buf_init(&x.body, max_answer);
	x.retry_after = -1;
	x.b = b;
	x.keep_prefix = q->keep_prefix;
	curl_easy_setopt(c, CURLOPT_URL, url.data);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->bodylen);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	if (strcmp(method, body ? "POST" : "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "benchd/" BENCHD_VERSION);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	timeout = q->timeout_s > 0 ? q->timeout_s : b->timeout_s;
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(timeout < 10 ? timeout : 10));
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (b->ca_file && b->ca_file[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, b->ca_file);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);

	rc = curl_easy_perform(c);
	rate_done(b->rate, slot); /* the server has counted it by now, if it ever will */
	r = BHTTP_OK;
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		a->status = (int)status;
		a->retry_after = x.retry_after;
		if (status >= 300 && status < 400) {
			char *loc = NULL;
			curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
			snprintf(a->error, sizeof(a->error),
			         "%s redirects to %s: set [upload] url to the final address", b->system,
			         loc ? loc : "another address");
		}
	} else if (x.too_big) {
		a->status = 0;
		snprintf(a->error, sizeof(a->error), "the answer from %s is larger than %zu bytes", b->system,
		         max_answer);
		r = BHTTP_E_TOO_BIG;
	} else {
		a->status = 0;
		snprintf(a->error, sizeof(a->error), "%s",
		         rc == CURLE_ABORTED_BY_CALLBACK ? "stopped: benchd is shutting down"
		         : errbuf[0]                     ? errbuf
		                                         : curl_easy_strerror(rc));
		a->error[strcspn(a->error, "\r\n")] = '\0';
		if (rc == CURLE_ABORTED_BY_CALLBACK)
			r = BHTTP_E_CANCELLED;
	}
	a->body = buf_take(&x.body, &a->len);
	if (a->body == NULL) {
		a->body = xstrdup("");
		a->len = 0;
	}
	scrub(a->error, sizeof(a->error), token);
	if (a->status == 429)
		rate_block(b->rate,
		           a->retry_after >= 0
		               ? (a->retry_after > RETRY_AFTER_CAP_S ? RETRY_AFTER_CAP_S : a->retry_after) *
		                         1000L +
		                     (a->retry_after < 1 ? 1000 : 0)
		               : BLOCK_DEFAULT_MS);
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	explicit_bzero(url.data, url.len);
	buf_free(&url);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return r;
}

json_t *
bhttp_json(const struct bhttp_answer *a)
{
	json_t *v;

	if (a->body == NULL || a->len == 0)
		return NULL;
	v = json_loadb(a->body, a->len, 0, NULL);
	if (!json_is_object(v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}
