/* booking: see booking.h. The adapter table, the shared result rules, the ticket-id cache. */
#include "booking_int.h"

#include "buf.h"
#include "config.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *
booking_strerror(int err)
{
	switch (err) {
	case BOOKING_OK:
		return "success";
	case BOOKING_E_KIND:
		return "unknown booking system kind";
	case BOOKING_E_URL:
		return "the booking system's url is not acceptable";
	case BOOKING_E_UNSUPPORTED:
		return "this booking system kind cannot do that";
	case BOOKING_E_FAILED:
		return "the booking system could not be asked or refused";
	case BOOKING_E_MALFORMED:
		return "not a stored case with a signed report";
	}
	return "unknown booking error";
}

const char *
booking_verdict_name(int verdict)
{
	switch (verdict) {
	case BOOKING_DELIVERED:
		return "delivered";
	case BOOKING_RETRY:
		return "retry";
	case BOOKING_HELD:
		return "held";
	case BOOKING_WAIT:
		return "waiting";
	}
	return "held";
}

void
booking_result_clear(struct booking_result *r)
{
	free(r->answer);
	memset(r, 0, sizeof(*r));
	r->retry_after_s = -1;
}

int
booking_new(const struct booking_opts *o, struct booking **out, char *why, size_t whylen)
{
	const struct booking_ops *ops;
	const char *kind = o->kind && o->kind[0] ? o->kind : "generic";
	struct booking *b;
	size_t n;

	*out = NULL;
	if (strcmp(kind, "generic") == 0)
		ops = &booking_generic_ops;
	else if (strcmp(kind, "repairshopr") == 0)
		ops = &booking_repairshopr_ops;
	else if (strcmp(kind, "repairdesk") == 0)
		ops = &booking_repairdesk_ops;
	else {
		snprintf(why, whylen, "unknown [upload] kind '%.40s' (generic, repairshopr or repairdesk)",
		         kind);
		return BOOKING_E_KIND;
	}
	if (o->url == NULL || config_check_url(o->url, why, whylen) < 0) {
		if (o->url == NULL)
			snprintf(why, whylen, "no url for the %s booking system", kind);
		return BOOKING_E_URL;
	}
	b = xcalloc(1, sizeof(*b));
	b->ops = ops;
	b->url = xstrdup(o->url);
	n = strlen(b->url);
	while (n > 0 && b->url[n - 1] == '/')
		b->url[--n] = '\0';
	b->token_file = xstrdup(o->token_file ? o->token_file : "");
	b->ca_file = xstrdup(o->ca_file ? o->ca_file : "");
	b->serial_field = xstrdup(o->serial_field && o->serial_field[0] ? o->serial_field : "IMEI or S/N");
	b->timeout_s = o->timeout_s > 0 ? o->timeout_s : 30;
	b->rate = rate_new(o->rate_per_minute, 60000);
	b->auth = ops == &booking_repairdesk_ops ? BHTTP_AUTH_API_KEY : BHTTP_AUTH_BEARER;
	pthread_mutex_init(&b->mu, NULL);
	b->ids = json_object();
	if (ops == &booking_repairshopr_ops)
		util_strlcpy(b->system, strstr(b->url, ".syncromsp.com") ? "Syncro" : "RepairShopr",
		             sizeof(b->system));
	else if (ops == &booking_repairdesk_ops)
		util_strlcpy(b->system, "RepairDesk", sizeof(b->system));
	else
		util_strlcpy(b->system, "the case receiver", sizeof(b->system));
	*out = b;
	return BOOKING_OK;
}

void
booking_free(struct booking *b)
{
	if (b == NULL)
		return;
	rate_free(b->rate);
	pthread_mutex_destroy(&b->mu);
	json_decref(b->ids);
	free(b->url);
	free(b->token_file);
	free(b->ca_file);
	free(b->serial_field);
	free(b);
}

const char *
booking_kind(const struct booking *b)
{
	return b->ops->kind;
}

void
booking_cancel(struct booking *b)
{
	b->cancelled = 1;
}

int
booking_stopping(const struct booking *b)
{
	return b->cancelled != 0;
}

int
booking_read_token(const char *path, char **token, char *why, size_t whylen)
{
	return bhttp_read_token(path, token, why, whylen);
}

const char *
booking_system(const struct booking *b)
{
	return b->system;
}

int
booking_deliver(struct booking *b, const struct booking_case *c, struct booking_result *r)
{
	memset(r, 0, sizeof(*r));
	r->retry_after_s = -1;
	b->ops->deliver(b, c, r);
	if (r->answer == NULL)
		r->answer = xstrdup(booking_verdict_name(r->verdict));
	return BOOKING_OK;
}

int
booking_check(struct booking *b, char *msg, size_t msglen)
{
	return b->ops->check(b, msg, msglen);
}

int
booking_poll(struct booking *b, json_t **rows, char *why, size_t whylen)
{
	*rows = NULL;
	if (b->ops->poll == NULL) {
		snprintf(why, whylen,
		         "%s has no tickets to poll: [upload] poll_seconds needs kind "
		         "repairshopr or repairdesk",
		         b->system);
		return BOOKING_E_UNSUPPORTED;
	}
	return b->ops->poll(b, rows, why, whylen);
}

/* ------------------------------------------------------------------------------------------ */
/* Results */

/* Cut s to at most max bytes on a UTF-8 boundary. */
static void
cut_utf8(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	s[n] = '\0';
}

/* Append what fits; a capped buffer keeps what it holds (messages are cut, never lost). */
static void
add(struct buf *b, const char *p, size_t n)
{
	if (buf_add(b, p, n) != BUF_OK)
		return;
}

/* One line: control characters become spaces. */
static void
one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

char *
booking_server_message(const char *body, size_t len, size_t maxlen)
{
	json_t *v = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	struct buf out;
	const json_t *m = NULL;
	char *s;

	buf_init(&out, maxlen + 8);
	if (json_is_object(v)) {
		static const char *const keys[] = {"message", "error", "errors", "msg"};
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]) && m == NULL; k++) {
			const json_t *x = json_object_get(v, keys[k]);
			if (json_is_string(x) && json_string_length(x) > 0)
				m = x;
			else if ((json_is_array(x) && json_array_size(x) > 0) ||
			         (json_is_object(x) && json_object_size(x) > 0))
				m = x;
		}
	}
	if (json_is_string(m)) {
		add(&out, json_string_value(m), json_string_length(m));
	} else if (json_is_array(m)) {
		size_t i;
		const json_t *e;
		json_array_foreach(m, i, e)
		{
			char t[512];
			booking_json_text(e, t, sizeof(t));
			if (t[0] && (buf_addstr(&out, out.len ? "; " : "") || buf_addstr(&out, t)))
				break;
		}
	} else if (json_is_object(m)) {
		/* Rails style {"field": ["can't be blank"]}. */
		const char *k;
		const json_t *e;
		json_object_foreach((json_t *)m, k, e)
		{
			char t[512];
			if (json_is_array(e))
				booking_json_text(json_array_get(e, 0), t, sizeof(t));
			else
				booking_json_text(e, t, sizeof(t));
			if (buf_printf(&out, "%s%s %s", out.len ? "; " : "", k, t))
				break;
		}
	}
	json_decref(v);
	if (out.len == 0 && body)
		add(&out, body, len < maxlen ? len : maxlen);
	s = buf_take(&out, NULL);
	if (s == NULL)
		s = xstrdup("");
	one_line(s);
	cut_utf8(s, maxlen);
	return s;
}

void
booking_set(struct booking *b, struct booking_result *r, int verdict, const struct bhttp_answer *a,
            const char *fmt, ...)
{
	char reason[1024];
	va_list ap;
	struct buf out;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	r->verdict = verdict;
	if (a) {
		r->http_status = a->status;
		if (a->retry_after >= 0)
			r->retry_after_s = a->retry_after;
	}
	buf_init(&out, BOOKING_ANSWER_MAX * 2);
	add(&out, reason, strlen(reason));
	if (a && a->len > 0) {
		size_t room = BOOKING_ANSWER_MAX > out.len + 64 ? BOOKING_ANSWER_MAX - out.len - 64 : 0;
		if (room > 0 && buf_printf(&out, "; %s answered HTTP %d: ", b->system, a->status) == BUF_OK)
			add(&out, a->body, a->len < room ? a->len : room);
	}
	free(r->answer);
	r->answer = buf_take(&out, NULL);
	if (r->answer == NULL)
		r->answer = xstrdup(reason);
	one_line(r->answer);
	cut_utf8(r->answer, BOOKING_ANSWER_MAX);
}

void
booking_fail(struct booking *b, struct booking_result *r, int rc, const struct bhttp_answer *a,
             const char *doing)
{
	char *m;
	int s = a->status;

	if (rc == BHTTP_E_TOKEN) {
		/* Ours to fix: keep it pending and say what to do. */
		booking_set(b, r, BOOKING_RETRY, NULL, "not sent: %s", a->error);
		return;
	}
	if (rc == BHTTP_E_CANCELLED || rc == BHTTP_E_BUSY) {
		booking_set(b, r, BOOKING_RETRY, NULL, "%s", a->error);
		if (rc == BHTTP_E_BUSY) {
			r->retry_after_s = (rate_wait_ms(b->rate) + 999) / 1000;
			r->server_wide = 1;
		}
		return;
	}
	if (rc == BHTTP_E_TOO_BIG) {
		booking_set(b, r, BOOKING_RETRY, NULL, "%s while %s", a->error, doing);
		return;
	}
	if (s == 0) {
		booking_set(b, r, BOOKING_RETRY, NULL, "no answer from %s while %s: %s", b->system, doing,
		            a->error);
		r->server_wide = 1;
		return;
	}
	if (s == 429 || s == 503) {
		booking_set(b, r, BOOKING_RETRY, a, "%s is %s (HTTP %d while %s)%s", b->system,
		            s == 429 ? "over its request limit" : "unavailable", s, doing,
		            a->retry_after >= 0 ? ": waiting as its Retry-After says" : "");
		r->server_wide = 1;
		return;
	}
	if (s >= 500) {
		booking_set(b, r, BOOKING_RETRY, a, "%s failed (HTTP %d) while %s", b->system, s, doing);
		return;
	}
	if (s == 401 || s == 403) {
		booking_set(b, r, BOOKING_HELD, a, "token refused by %s: check token_file (HTTP %d while %s)",
		            b->system, s, doing);
		return;
	}
	if (s >= 300 && s < 400) {
		booking_set(b, r, BOOKING_HELD, NULL, "%s (HTTP %d while %s)", a->error, s, doing);
		r->http_status = s;
		return;
	}
	m = booking_server_message(a->body, a->len, 600);
	if (s == 422)
		booking_set(b, r, BOOKING_HELD, a, "%s refused it (HTTP 422 while %s): %s", b->system, doing,
		            m[0] ? m : "no reason given");
	else if (s >= 200 && s < 300)
		booking_set(b, r, BOOKING_HELD, a,
		            "%s answered something benchd does not understand while %s: %s", b->system, doing,
		            m[0] ? m : "an empty answer");
	else
		booking_set(b, r, BOOKING_HELD, a, "%s refused it (HTTP %d while %s)%s%s", b->system, s,
		            doing, m[0] ? ": " : "", m);
	free(m);
}

/* ------------------------------------------------------------------------------------------ */
/* The ticket-id cache */

long long
booking_id_get(struct booking *b, const char *number)
{
	long long id;

	pthread_mutex_lock(&b->mu);
	id = json_is_integer(json_object_get(b->ids, number))
	         ? (long long)json_integer_value(json_object_get(b->ids, number))
	         : -1;
	pthread_mutex_unlock(&b->mu);
	return id;
}

void
booking_id_put(struct booking *b, const char *number, long long id)
{
	pthread_mutex_lock(&b->mu);
	if (json_object_size(b->ids) < 200000)
		json_object_set_new(b->ids, number, json_integer(id));
	pthread_mutex_unlock(&b->mu);
}

void
booking_id_drop(struct booking *b, const char *number)
{
	pthread_mutex_lock(&b->mu);
	json_object_del(b->ids, number);
	pthread_mutex_unlock(&b->mu);
}

long long
booking_json_id(const json_t *v)
{
	if (json_is_integer(v))
		return json_integer_value(v) >= 0 ? (long long)json_integer_value(v) : -1;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		long long n;
		if (!isdigit((unsigned char)s[0]) || strlen(s) > 18)
			return -1;
		n = strtoll(s, &end, 10);
		return *end == '\0' ? n : -1;
	}
	return -1;
}

void
booking_json_text(const json_t *v, char *out, size_t outlen)
{
	if (json_is_string(v))
		util_strlcpy(out, json_string_value(v), outlen);
	else if (json_is_integer(v))
		snprintf(out, outlen, "%lld", (long long)json_integer_value(v));
	else if (outlen)
		out[0] = '\0';
}

/* ------------------------------------------------------------------------------------------ */
/* Stored bodies, markers, device ids */

/* base64url without padding, through OpenSSL's decoder. Returns malloc'd bytes or NULL. */
static unsigned char *
b64url_decode(const char *s, size_t len, size_t *outlen)
{
	size_t padded = (len + 3) / 4 * 4;
	char *std;
	unsigned char *out;
	int n;

	if (len > (64u << 20) || len % 4 == 1)
		return NULL;
	std = xmalloc(padded + 1);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!isalnum((unsigned char)c)) {
			free(std);
			return NULL;
		}
		std[i] = c;
	}
	for (size_t i = len; i < padded; i++)
		std[i] = '=';
	std[padded] = '\0';
	out = xmalloc(padded / 4 * 3 + 1);
	n = padded ? EVP_DecodeBlock(out, (const unsigned char *)std, (int)padded) : 0;
	free(std);
	if (n < 0) {
		free(out);
		return NULL;
	}
	*outlen = (size_t)n - (padded - len); /* EVP_DecodeBlock counts the padding as zero bytes */
	out[*outlen] = '\0';
	return out;
}

int
booking_case_parse(const char *body, size_t bodylen, struct booking_case *c, json_t **payload, char *why,
                   size_t whylen)
{
	json_t *doc, *rep, *cs;
	const char *p;
	unsigned char *raw;
	size_t rawlen;

	memset(c, 0, sizeof(*c));
	*payload = NULL;
	doc = json_loadb(body, bodylen, 0, NULL);
	rep = json_object_get(doc, "report");
	p = json_string_value(json_object_get(rep, "payload"));
	if (!json_is_object(doc) || p == NULL) {
		snprintf(why, whylen, "the stored body is not {\"case\", \"report\": <JWS>}");
		json_decref(doc);
		return BOOKING_E_MALFORMED;
	}
	raw = b64url_decode(p, strlen(p), &rawlen);
	json_decref(doc);
	if (raw == NULL) {
		snprintf(why, whylen, "the stored report's payload is not base64url");
		return BOOKING_E_MALFORMED;
	}
	*payload = json_loadb((const char *)raw, rawlen, 0, NULL);
	free(raw);
	if (!json_is_object(*payload) || !json_is_string(json_object_get(*payload, "report_id"))) {
		snprintf(why, whylen, "the stored report's payload is not a benchd report");
		json_decref(*payload);
		*payload = NULL;
		return BOOKING_E_MALFORMED;
	}
	cs = json_object_get(*payload, "case");
	c->report_id = json_string_value(json_object_get(*payload, "report_id"));
	c->case_id = json_string_value(json_object_get(cs, "case_id"));
	c->ticket = json_string_value(json_object_get(cs, "ticket"));
	c->supersedes = json_string_value(json_object_get(cs, "supersedes"));
	c->revision = json_is_integer(json_object_get(cs, "revision"))
	                  ? (int)json_integer_value(json_object_get(cs, "revision"))
	                  : 0;
	c->body = body;
	c->bodylen = bodylen;
	c->report = *payload;
	return BOOKING_OK;
}

/* Does any string inside v (an object or array, bounded depth) hold needle? */
static int
holds(const json_t *v, const char *needle, int depth)
{
	size_t i;
	const char *k;
	json_t *e;

	if (depth > 4)
		return 0;
	if (json_is_string(v))
		return strstr(json_string_value(v), needle) != NULL;
	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
		{
			if (holds(e, needle, depth + 1))
				return 1;
		}
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, e)
		{
			if (holds(e, needle, depth + 1))
				return 1;
		}
	}
	return 0;
}

int
booking_names_report(const json_t *comment, const char *report_id)
{
	char marker[128];

	if (report_id == NULL || report_id[0] == '\0')
		return 0;
	snprintf(marker, sizeof(marker), "benchd report %s", report_id);
	/* The text field's name differs between systems (body, note, msg): look in every one. */
	return holds(comment, marker, 0);
}

const char *
booking_classify_device_id(const char *raw, char *out, size_t outlen)
{
	size_t n = 0, digits = 0, letters = 0;

	if (outlen == 0)
		return NULL;
	out[0] = '\0';
	for (const char *p = raw; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == ' ' || ch == '\t' || ch == '-')
			continue;
		if (!isalnum(ch) || n + 1 >= outlen || n >= 20)
			return NULL;
		out[n++] = (char)toupper(ch);
		if (isdigit(ch))
			digits++;
		else
			letters++;
	}
	out[n] = '\0';
	if (n == 15 && letters == 0)
		return "imei";
	if (n >= 8 && n <= 20 && letters > 0 && digits > 0)
		return "serial";
	out[0] = '\0';
	return NULL;
}

void
booking_poll_add(json_t *rows, json_t *seen, const char *value, const char *number, long long id,
                 const char *subject, const char *system)
{
	char part[128], norm[32];
	const char *p = value;

	while (*p) {
		size_t n = strcspn(p, ",;/|\n");
		const char *kind;
		if (n < sizeof(part)) {
			memcpy(part, p, n);
			part[n] = '\0';
			kind = booking_classify_device_id(part, norm, sizeof(norm));
			if (kind && json_object_get(seen, norm) == NULL) {
				char ext[32], note[256];
				snprintf(ext, sizeof(ext), "%lld", id);
				snprintf(note, sizeof(note), "%s ticket %s%s%.200s", system, number,
				         subject[0] ? ": " : "", subject);
				json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind",
				                                      kind, "value", norm, "ticket", number,
				                                      "external_id", ext, "note", note));
				json_object_set_new(seen, norm, json_true());
			}
		}
		p += n;
		if (*p)
			p++;
	}
}
