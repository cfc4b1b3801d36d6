/*
 * generic: the repair-case receiver of DESIGN.md 4.7. POST {url}/cases with the stored body under
 * Idempotency-Key: <report_id>; 2xx or 409 delivered (the receiver's "case_id" kept as the remote
 * id); 429, 503, no answer: retried, the whole outbox pauses; other 5xx retried; the rest held
 * with the receiver's answer. The receiver honours the key, so no read before the write.
 */
#include "booking_int.h"

#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The receiver's case id from its answer: "case_id", else "id" (string or number). */
static void
take_case_id(const struct bhttp_answer *a, struct booking_result *r)
{
	json_t *v = bhttp_json(a);
	const json_t *id;

	if (v == NULL)
		return;
	id = json_object_get(v, "case_id");
	if (!json_is_string(id) && !json_is_integer(id))
		id = json_object_get(v, "id");
	booking_json_text(id, r->remote_id, sizeof(r->remote_id));
	for (char *p = r->remote_id; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	json_decref(v);
}

/* The receiver's own answer, as the outbox has always kept it (2 KiB). */
static void
keep_answer(struct booking_result *r, const struct bhttp_answer *a)
{
	size_t n = a->len < BOOKING_ANSWER_MAX ? a->len : BOOKING_ANSWER_MAX;

	free(r->answer);
	if (a->status >= 300 && a->status < 400)
		r->answer = xstrdup(a->error);
	else if (a->status == 0)
		r->answer = xstrdup(a->error);
	else
		r->answer = strndup(a->body, n);
	if (r->answer == NULL)
		fatal("strndup");
}

static int
generic_deliver(struct booking *b, const struct booking_case *c, struct booking_result *r)
{
	struct bhttp_answer a;
	char key[160];
	const char *hdrs[2] = {key, NULL};
	struct bhttp_req q = {.method = "POST",
	                      .path = "/cases",
	                      .headers = hdrs,
	                      .body = c->body,
	                      .bodylen = c->bodylen,
	                      .max_answer = BOOKING_ANSWER_MAX,
	                      .keep_prefix = 1,
	                      .max_wait_ms = -1};
	int rc, s;

	snprintf(key, sizeof(key), "Idempotency-Key: %s", c->report_id);
	rc = bhttp_request(b, &q, &a);
	if (rc != BHTTP_OK) {
		booking_fail(b, r, rc, &a, "uploading the case");
		bhttp_answer_clear(&a);
		return 0;
	}
	s = a.status;
	r->http_status = s;
	r->retry_after_s = a.retry_after;
	r->verdict = booking_generic_classify(s, &r->server_wide);
	if (r->verdict == BOOKING_DELIVERED) {
		/* the receiver's case id: benchctl outbox shows it as "the server's case ..." */
		take_case_id(&a, r);
	}
	keep_answer(r, &a);
	bhttp_answer_clear(&a);
	return 0;
}

static int
generic_check(struct booking *b, char *msg, size_t msglen)
{
	struct bhttp_answer a;
	struct bhttp_req q = {.method = "GET",
	                      .path = "/cases",
	                      .max_answer = BOOKING_ANSWER_MAX,
	                      .keep_prefix = 1,
	                      .max_wait_ms = BOOKING_CHECK_WAIT_MS,
	                      .timeout_s = BOOKING_CHECK_TIMEOUT_S};
	int rc = bhttp_request(b, &q, &a);
	int s = a.status, ok = -1;

	if (rc != BHTTP_OK)
		snprintf(msg, msglen, "%s at %s: %s", b->system, b->url, a.error);
	else if (s == 0)
		snprintf(msg, msglen, "%s at %s: no answer: %s", b->system, b->url, a.error);
	else if (s == 401 || s == 403)
		snprintf(msg, msglen, "%s at %s: token refused (HTTP %d): check token_file", b->system,
		         b->url, s);
	else if (s >= 200 && s < 300) {
		snprintf(msg, msglen, "%s at %s: token accepted (GET /cases: HTTP %d)", b->system, b->url, s);
		ok = 0;
	} else if (s == 404 || s == 405) {
		snprintf(msg, msglen,
		         "%s at %s answers (GET /cases: HTTP %d); it checks the token at the first upload",
		         b->system, b->url, s);
		ok = 0;
	} else if (s >= 300 && s < 400)
		snprintf(msg, msglen, "%s at %s: %s", b->system, b->url, a.error);
	else
		snprintf(msg, msglen, "%s at %s: HTTP %d to GET /cases", b->system, b->url, s);
	bhttp_answer_clear(&a);
	return ok;
}

int
booking_generic_classify(int status, int *server_wide)
{
	*server_wide = status == 0 || status == 429 || status == 503;
	if ((status >= 200 && status < 300) || status == 409)
		return BOOKING_DELIVERED;
	if (*server_wide || (status >= 500 && status < 600))
		return BOOKING_RETRY;
	return BOOKING_HELD;
}

const struct booking_ops booking_generic_ops = {
    .kind = "generic",
    .deliver = generic_deliver,
    .check = generic_check,
    .poll = NULL,
};
