/*
 * repairshopr: RepairShopr and Syncro (the same API, BOOKING.md). Authorization: Bearer.
 *
 *   deliver  ticket number -> id (GET /tickets?number=N, every page; cached), the ticket
 *            (GET /tickets/{id}) and its comments; when none carries this report's marker,
 *            POST /tickets/{id}/comment {subject, body, tech, hidden: true, do_not_email: true}
 *   check    GET /tickets?status=Not Closed (page 1): the token works, how many are open
 *   poll     GET /tickets?status=Not Closed, every page: the IMEI or serial in the ticket's
 *            serial_field property (properties{...}) of every ticket not resolved
 */
#include "booking_int.h"

#include "log.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OPEN_QUERY "status=Not%20Closed"

/* The number staff see, from the case's ticket: trimmed, a leading '#' dropped. */
static int
ticket_number(const char *ticket, char *out, size_t outlen)
{
	size_t n;

	while (*ticket == ' ' || *ticket == '\t')
		ticket++;
	if (*ticket == '#')
		ticket++;
	util_strlcpy(out, ticket, outlen);
	n = strlen(out);
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
		out[--n] = '\0';
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20)
			return -1;
	return n > 0 && n < 64 ? 0 : -1;
}

static int
get(struct booking *b, const char *path, const char *query, long max_wait_ms, struct bhttp_answer *a)
{
	/* A check waits less, for the limiter and for its one request. */
	struct bhttp_req q = {.method = "GET",
	                      .path = path,
	                      .query = query,
	                      .max_wait_ms = max_wait_ms,
	                      .timeout_s = max_wait_ms >= 0 ? BOOKING_CHECK_TIMEOUT_S : 0};

	return bhttp_request(b, &q, a);
}

/* Resolved tickets are closed; RepairShopr's "Not Closed" filter leaves them out, and so do we
 * should a server answer with them anyway. */
static int
is_closed(const json_t *ticket)
{
	const char *s = json_string_value(json_object_get(ticket, "status"));

	return s && (strcasecmp(s, "Resolved") == 0 || strcasecmp(s, "Closed") == 0);
}

/*
 * Ticket number -> id, following every page. Returns 1 (found, *id), 0 (no such ticket) or -1
 * (failed, r filled).
 */
static int
lookup(struct booking *b, const char *number, long long *id, struct booking_result *r)
{
	char *esc = bhttp_escape(number), doing[128];
	int found = 0;

	snprintf(doing, sizeof(doing), "looking up ticket %s", number);
	for (int page = 1; page <= BOOKING_MAX_PAGES && !found; page++) {
		struct bhttp_answer a;
		char *query = xasprintf("number=%s&page=%d", esc, page);
		int rc = get(b, "/tickets", query, -1, &a), total;
		json_t *v = NULL, *tickets, *t;
		size_t i, ntickets;

		free(query);
		if (rc == BHTTP_OK && a.status == 200)
			v = bhttp_json(&a);
		tickets = json_object_get(v, "tickets");
		if (!json_is_array(tickets)) {
			booking_fail(b, r, rc, &a, doing);
			json_decref(v);
			bhttp_answer_clear(&a);
			free(esc);
			return -1;
		}
		r->http_status = a.status;
		json_array_foreach(tickets, i, t)
		{
			char tn[64];
			booking_json_text(json_object_get(t, "number"), tn, sizeof(tn));
			if (strcasecmp(tn, number) == 0 && booking_json_id(json_object_get(t, "id")) >= 0) {
				*id = booking_json_id(json_object_get(t, "id"));
				found = 1;
				break;
			}
		}
		total = (int)json_integer_value(json_object_get(json_object_get(v, "meta"), "total_pages"));
		ntickets = json_array_size(tickets);
		json_decref(v);
		bhttp_answer_clear(&a);
		if (ntickets == 0 || page >= total)
			break;
	}
	free(esc);
	return found;
}

static int
rs_deliver(struct booking *b, const struct booking_case *c, struct booking_result *r)
{
	struct bhttp_answer a;
	struct bhttp_req q;
	char number[64], doing[160], path[64], tech[160];
	const json_t *comments = NULL, *cm;
	json_t *ticket = NULL, *body, *v;
	const char *bench = json_string_value(json_object_get(json_object_get(c->report, "bench"), "id"));
	char *text, *subject, *js;
	long long id = -1, cid;
	size_t i;
	int rc;

	if (c->ticket == NULL || c->ticket[0] == '\0') {
		booking_set(
		    b, r, BOOKING_WAIT, NULL,
		    "waiting: no ticket: link the case to its %s ticket (benchctl link DEVICE TICKET)",
		    b->system);
		return 0;
	}
	if (ticket_number(c->ticket, number, sizeof(number)) < 0) {
		booking_set(b, r, BOOKING_HELD, NULL,
		            "'%.60s' is not a %s ticket number: link the case to the ticket's number",
		            c->ticket, b->system);
		return 0;
	}
	/* The cached id first; a cached id that no longer fits is looked up once more. */
	for (int attempt = 0; attempt < 2 && ticket == NULL; attempt++) {
		int cached;
		id = booking_id_get(b, number);
		cached = id >= 0;
		if (!cached) {
			int found = lookup(b, number, &id, r);
			if (found < 0)
				return 0;
			if (found == 0) {
				booking_set(b, r, BOOKING_HELD, NULL,
				            "no ticket %s in %s: check the number and link the case again "
				            "(benchctl link "
				            "DEVICE TICKET)",
				            number, b->system);
				return 0;
			}
			booking_id_put(b, number, id);
		}
		snprintf(r->phase, sizeof(r->phase), "ticket %s is id %lld", number, id);
		snprintf(path, sizeof(path), "/tickets/%lld", id);
		snprintf(doing, sizeof(doing), "reading ticket %s", number);
		rc = get(b, path, NULL, -1, &a);
		if (rc == BHTTP_OK && a.status == 404) {
			booking_id_drop(b, number);
			if (cached) {
				bhttp_answer_clear(&a);
				continue;
			}
			booking_set(b, r, BOOKING_HELD, &a, "no ticket %s in %s (its id %lld is gone)",
			            number, b->system, id);
			bhttp_answer_clear(&a);
			return 0;
		}
		v = rc == BHTTP_OK && a.status == 200 ? bhttp_json(&a) : NULL;
		if (!json_is_object(json_object_get(v, "ticket"))) {
			booking_fail(b, r, rc, &a, doing);
			json_decref(v);
			bhttp_answer_clear(&a);
			return 0;
		}
		ticket = json_incref(json_object_get(v, "ticket"));
		json_decref(v);
		{
			char tn[64];
			booking_json_text(json_object_get(ticket, "number"), tn, sizeof(tn));
			if (strcasecmp(tn, number) != 0) {
				/* The cache named another ticket: forget it and look the number up again. */
				booking_id_drop(b, number);
				json_decref(ticket);
				ticket = NULL;
				if (attempt == 0) {
					bhttp_answer_clear(&a);
					continue;
				}
				booking_set(b, r, BOOKING_HELD, &a, "%s gave ticket '%s' for number %s",
				            b->system, tn, number);
				bhttp_answer_clear(&a);
				return 0;
			}
		}
		r->http_status = a.status;
		bhttp_answer_clear(&a);
	}
	if (ticket == NULL) {
		booking_set(b, r, BOOKING_HELD, NULL, "no ticket %s in %s", number, b->system);
		return 0;
	}

	/* Read before write: these systems have no idempotency key. */
	comments = json_object_get(ticket, "comments");
	if (!json_is_array(comments)) {
		booking_set(b, r, BOOKING_HELD, NULL,
		            "%s did not list the comments of ticket %s, so benchd cannot tell whether this "
		            "report is already there; nothing posted",
		            b->system, number);
		json_decref(ticket);
		return 0;
	}
	json_array_foreach(comments, i, cm)
	{
		if (booking_names_report(cm, c->report_id)) {
			booking_json_text(json_object_get(cm, "id"), r->remote_id, sizeof(r->remote_id));
			r->verdict = BOOKING_DELIVERED;
			snprintf(r->phase, sizeof(r->phase), "comment %.48s on ticket %.48s", r->remote_id,
			         number);
			booking_set(b, r, BOOKING_DELIVERED, NULL,
			            "already on ticket %s as comment %s (an earlier answer was lost): not "
			            "posted again",
			            number, r->remote_id);
			json_decref(ticket);
			return 0;
		}
	}
	json_decref(ticket);

	text = booking_summary_text(c);
	subject = strndup(text, strcspn(text, "\n"));
	if (subject == NULL)
		fatal("strndup");
	snprintf(tech, sizeof(tech), "benchd %s", bench ? bench : "bench");
	body = json_pack("{s:s, s:s, s:s, s:b, s:b}", "subject", subject, "body", text, "tech", tech,
	                 "hidden", 1, "do_not_email", 1);
	free(subject);
	free(text);
	js = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	if (js == NULL) {
		booking_set(b, r, BOOKING_HELD, NULL,
		            "cannot encode the comment (the report's text is not UTF-8)");
		return 0;
	}
	snprintf(path, sizeof(path), "/tickets/%lld/comment", id);
	snprintf(doing, sizeof(doing), "posting the comment on ticket %s", number);
	memset(&q, 0, sizeof(q));
	q.method = "POST";
	q.path = path;
	q.body = js;
	q.bodylen = strlen(js);
	q.max_wait_ms = -1;
	rc = bhttp_request(b, &q, &a);
	free(js);
	if (rc == BHTTP_OK && a.status >= 200 && a.status < 300) {
		v = bhttp_json(&a);
		cid = booking_json_id(json_object_get(json_object_get(v, "comment"), "id"));
		json_decref(v);
		if (cid >= 0) {
			snprintf(r->remote_id, sizeof(r->remote_id), "%lld", cid);
			snprintf(r->phase, sizeof(r->phase), "comment %lld on ticket %s", cid, number);
			booking_set(b, r, BOOKING_DELIVERED, NULL,
			            "comment %lld on ticket %s (hidden, not emailed)", cid, number);
		} else {
			booking_set(b, r, BOOKING_DELIVERED, &a,
			            "posted on ticket %s, but the answer names no comment id", number);
		}
		r->http_status = a.status;
	} else if (rc == BHTTP_OK && a.status == 404) {
		booking_id_drop(b, number);
		booking_set(b, r, BOOKING_HELD, &a, "no ticket %s in %s (its id %lld is gone)", number,
		            b->system, id);
	} else {
		booking_fail(b, r, rc, &a, doing);
	}
	bhttp_answer_clear(&a);
	return 0;
}

/* Count the open tickets from one page's meta: total_entries when given, else an estimate. */
static void
open_count(const json_t *v, char *out, size_t outlen)
{
	const json_t *meta = json_object_get(v, "meta");
	json_int_t entries = json_integer_value(json_object_get(meta, "total_entries"));
	json_int_t pages = json_integer_value(json_object_get(meta, "total_pages"));
	size_t here = json_array_size(json_object_get(v, "tickets"));

	if (json_is_integer(json_object_get(meta, "total_entries")))
		snprintf(out, outlen, "%lld open ticket%s", (long long)entries, entries == 1 ? "" : "s");
	else if (pages <= 1)
		snprintf(out, outlen, "%zu open ticket%s", here, here == 1 ? "" : "s");
	else
		snprintf(out, outlen, "%lld pages of open tickets", (long long)pages);
}

static int
rs_check(struct booking *b, char *msg, size_t msglen)
{
	struct bhttp_answer a;
	int rc = get(b, "/tickets", OPEN_QUERY, BOOKING_CHECK_WAIT_MS, &a), ok = -1;
	json_t *v = rc == BHTTP_OK && a.status == 200 ? bhttp_json(&a) : NULL;

	if (rc != BHTTP_OK)
		snprintf(msg, msglen, "%s at %s: %s", b->system, b->url, a.error);
	else if (a.status == 0)
		snprintf(msg, msglen, "%s at %s: no answer: %s", b->system, b->url, a.error);
	else if (a.status == 401 || a.status == 403)
		snprintf(msg, msglen, "%s at %s: token refused (HTTP %d): check token_file", b->system,
		         b->url, a.status);
	else if (a.status == 429)
		snprintf(msg, msglen, "%s at %s: over its request limit (HTTP 429): try again in %ld s",
		         b->system, b->url, a.retry_after >= 0 ? a.retry_after : 60);
	else if (json_is_array(json_object_get(v, "tickets"))) {
		char count[64];
		open_count(v, count, sizeof(count));
		snprintf(msg, msglen, "%s at %s: token accepted, %s", b->system, b->url, count);
		ok = 0;
	} else {
		char *m = booking_server_message(a.body, a.len, 300);
		if (a.status >= 300 && a.status < 400)
			snprintf(msg, msglen, "%s at %s: %s", b->system, b->url, a.error);
		else if (a.status == 200)
			snprintf(msg, msglen,
			         "%s at %s: the answer to GET /tickets is not a ticket list: is the url the "
			         "API base (https://SHOP.repairshopr.com/api/v1)?",
			         b->system, b->url);
		else
			snprintf(msg, msglen, "%s at %s: HTTP %d to GET /tickets%s%s", b->system, b->url,
			         a.status, m[0] ? ": " : "", m);
		free(m);
	}
	json_decref(v);
	bhttp_answer_clear(&a);
	return ok;
}

static int
rs_poll(struct booking *b, json_t **out, char *why, size_t whylen)
{
	json_t *rows = json_array(), *seen = json_object();

	for (int page = 1; page <= BOOKING_MAX_PAGES; page++) {
		struct bhttp_answer a;
		char *query = xasprintf("%s&page=%d", OPEN_QUERY, page);
		int rc = get(b, "/tickets", query, -1, &a), total;
		json_t *v = rc == BHTTP_OK && a.status == 200 ? bhttp_json(&a) : NULL, *tickets, *t;
		size_t i, ntickets;

		free(query);
		tickets = json_object_get(v, "tickets");
		if (!json_is_array(tickets)) {
			struct booking_result r;
			memset(&r, 0, sizeof(r));
			booking_fail(b, &r, rc, &a, "reading the open tickets");
			snprintf(why, whylen, "%s", r.answer ? r.answer : "failed");
			booking_result_clear(&r);
			json_decref(v);
			bhttp_answer_clear(&a);
			json_decref(rows);
			json_decref(seen);
			return BOOKING_E_FAILED;
		}
		json_array_foreach(tickets, i, t)
		{
			char number[64], subject[256], value[512];
			long long id = booking_json_id(json_object_get(t, "id"));
			booking_json_text(json_object_get(t, "number"), number, sizeof(number));
			booking_json_text(json_object_get(t, "subject"), subject, sizeof(subject));
			for (char *p = subject; *p; p++)
				if ((unsigned char)*p < 0x20)
					*p = ' ';
			if (id < 0 || number[0] == '\0' || is_closed(t))
				continue;
			booking_id_put(b, number, id);
			booking_json_text(json_object_get(json_object_get(t, "properties"), b->serial_field),
			                  value, sizeof(value));
			if (value[0])
				booking_poll_add(rows, seen, value, number, id, subject, b->system);
		}
		total = (int)json_integer_value(json_object_get(json_object_get(v, "meta"), "total_pages"));
		ntickets = json_array_size(tickets);
		json_decref(v);
		bhttp_answer_clear(&a);
		if (ntickets == 0 || page >= total)
			break;
	}
	json_decref(seen);
	*out = rows;
	return BOOKING_OK;
}

const struct booking_ops booking_repairshopr_ops = {
    .kind = "repairshopr",
    .deliver = rs_deliver,
    .check = rs_check,
    .poll = rs_poll,
};
