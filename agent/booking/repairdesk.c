/*
 * repairdesk: RepairDesk (BOOKING.md). The store's api_key as a query parameter on every request;
 * answers are {"success", "message", "data"}, and success false is a refusal whatever the status.
 *
 *   deliver  "T-12353" -> the numeric id: the cache, else page GET /tickets (data.ticketData,
 *            data.pagination) until it is found, caching every row seen; the ticket
 *            (GET /tickets/{id}) and its notes; when none carries this report's marker,
 *            POST /ticket/addnote {id, note, type: 1 (diagnostic), is_flag: 0}
 *   check    GET /tickets (page 1): the key works, how many tickets there are
 *   poll     GET /tickets, every page: the imei and serial of every device on the ticket whose
 *            status is not closed
 */
#include "booking_int.h"

#include "log.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The number staff see, normalised: trimmed, upper case; bare digits get the "T-" prefix. */
static int
order_id(const char *ticket, char *out, size_t outlen)
{
	size_t n = 0, digits = 0;

	for (const char *p = ticket; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == ' ' || ch == '\t' || (ch == '#' && n == 0))
			continue;
		if (ch < 0x20 || n + 4 >= outlen)
			return -1;
		out[n++] = (char)toupper(ch);
		digits += isdigit(ch) != 0;
	}
	out[n] = '\0';
	if (n > 0 && digits == n) {
		memmove(out + 2, out, n + 1);
		memcpy(out, "T-", 2);
	}
	return n > 0 ? 0 : -1;
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

/*
 * The envelope: returns the parsed document (the caller's) when the request succeeded, HTTP 2xx
 * and success true, with *data its "data"; else NULL after filling r.
 */
static json_t *
envelope(struct booking *b, int rc, const struct bhttp_answer *a, const char *doing, struct booking_result *r,
         json_t **data)
{
	json_t *v = rc == BHTTP_OK && a->status >= 200 && a->status < 300 ? bhttp_json(a) : NULL;

	*data = NULL;
	if (v && json_is_true(json_object_get(v, "success"))) {
		*data = json_object_get(v, "data");
		return v;
	}
	if (v && json_is_false(json_object_get(v, "success"))) {
		char *m = booking_server_message(a->body, a->len, 600);
		booking_set(b, r, BOOKING_HELD, a, "%s refused it (while %s): %s", b->system, doing,
		            m[0] ? m : "no reason given");
		free(m);
	} else {
		booking_fail(b, r, rc, a, doing);
	}
	json_decref(v);
	return NULL;
}

static void
summary_key(const json_t *summary, char *out, size_t outlen)
{
	booking_json_text(json_object_get(summary, "order_id"), out, outlen);
	for (char *p = out; *p; p++)
		*p = (char)toupper((unsigned char)*p);
}

/* The next page from data.pagination, or 0 at the end. */
static int
next_page(const json_t *data, int page)
{
	const json_t *pg = json_object_get(data, "pagination");
	json_int_t next = json_integer_value(json_object_get(pg, "next_page"));
	json_int_t total = json_integer_value(json_object_get(pg, "total_pages"));
	const json_t *more = json_object_get(pg, "next_page_exist");

	if (!json_is_true(more) && !(json_is_integer(more) && json_integer_value(more) == 1))
		return 0;
	if (json_is_integer(json_object_get(pg, "total_pages")) && page >= total)
		return 0;
	/* A server that names the same page again would loop: go forward whatever it says. */
	return next > page ? (int)next : page + 1;
}

/*
 * Page through the ticket list until key is found, caching every row seen. Returns 1 (found,
 * *id), 0 (not in the list) or -1 (failed, r filled). With rows (poll, key NULL), every open
 * device's imei and serial are added to rows.
 */
static int
page_tickets(struct booking *b, const char *key, long long *id, struct booking_result *r, json_t *rows,
             json_t *seen)
{
	int found = 0, page = 1;

	for (int n = 0; n < BOOKING_MAX_PAGES && page > 0; n++) {
		struct bhttp_answer a;
		char query[32], doing[96];
		json_t *v, *data, *list, *t;
		size_t i;
		int rc;

		snprintf(query, sizeof(query), "page=%d", page);
		snprintf(doing, sizeof(doing), key ? "looking up ticket %s" : "reading the tickets%s",
		         key ? key : "");
		rc = get(b, "/tickets", query, -1, &a);
		v = envelope(b, rc, &a, doing, r, &data);
		list = json_object_get(data, "ticketData");
		if (v && !json_is_array(list)) {
			booking_set(b, r, BOOKING_HELD, &a,
			            "%s answered something benchd does not understand while %s", b->system,
			            doing);
			json_decref(v);
			v = NULL;
		}
		if (v == NULL) {
			bhttp_answer_clear(&a);
			return -1;
		}
		r->http_status = a.status;
		json_array_foreach(list, i, t)
		{
			const json_t *sm = json_object_get(t, "summary");
			long long tid = booking_json_id(json_object_get(sm, "id"));
			char k[64];
			summary_key(sm, k, sizeof(k));
			if (tid < 0 || k[0] == '\0')
				continue;
			booking_id_put(b, k, tid);
			if (key && strcmp(k, key) == 0) {
				*id = tid;
				found = 1;
			}
			if (rows) {
				const json_t *devs = json_object_get(t, "devices"), *d;
				size_t j;
				json_array_foreach(devs, j, d)
				{
					const char *st = json_string_value(
					    json_object_get(json_object_get(d, "status"), "name"));
					char name[200];
					if (st && (strcasecmp(st, "Closed") == 0 ||
					           strcasecmp(st, "Cancelled") == 0 ||
					           strcasecmp(st, "Canceled") == 0 ||
					           strcasecmp(st, "Collected") == 0 ||
					           strcasecmp(st, "Repaired & Collected") == 0))
						continue;
					booking_json_text(
					    json_object_get(json_object_get(d, "device"), "name"), name,
					    sizeof(name));
					for (char *p = name; *p; p++)
						if ((unsigned char)*p < 0x20)
							*p = ' ';
					if (json_is_string(json_object_get(d, "imei")))
						booking_poll_add(
						    rows, seen, json_string_value(json_object_get(d, "imei")),
						    k, tid, name, b->system);
					if (json_is_string(json_object_get(d, "serial")))
						booking_poll_add(
						    rows, seen,
						    json_string_value(json_object_get(d, "serial")), k, tid,
						    name, b->system);
				}
			}
		}
		page = found ? 0 : next_page(data, page);
		json_decref(v);
		bhttp_answer_clear(&a);
	}
	return found;
}

static int
rd_deliver(struct booking *b, const struct booking_case *c, struct booking_result *r)
{
	struct bhttp_answer a;
	struct bhttp_req q;
	char key[64], doing[160], path[64];
	json_t *v, *data, *notes, *body;
	const json_t *n;
	long long id = -1, nid;
	size_t i;
	char *text, *js;
	int rc, ready = 0;

	if (c->ticket == NULL || c->ticket[0] == '\0') {
		booking_set(
		    b, r, BOOKING_WAIT, NULL,
		    "waiting: no ticket: link the case to its %s ticket (benchctl link DEVICE TICKET)",
		    b->system);
		return 0;
	}
	if (order_id(c->ticket, key, sizeof(key)) < 0) {
		booking_set(b, r, BOOKING_HELD, NULL, "'%.60s' is not a %s ticket number (T-12353)",
		            c->ticket, b->system);
		return 0;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		int cached;
		id = booking_id_get(b, key);
		cached = id >= 0;
		if (!cached) {
			/* Refreshed on a miss: the ticket may be newer than the cache. */
			int found = page_tickets(b, key, &id, r, NULL, NULL);
			if (found < 0)
				return 0;
			if (found == 0) {
				booking_set(b, r, BOOKING_HELD, NULL,
				            "no ticket %s in %s: check the number and link the case again "
				            "(benchctl link "
				            "DEVICE TICKET)",
				            key, b->system);
				return 0;
			}
		}
		snprintf(r->phase, sizeof(r->phase), "ticket %s is id %lld", key, id);
		snprintf(path, sizeof(path), "/tickets/%lld", id);
		snprintf(doing, sizeof(doing), "reading ticket %s", key);
		rc = get(b, path, NULL, -1, &a);
		if (rc == BHTTP_OK && a.status == 404) {
			booking_id_drop(b, key);
			bhttp_answer_clear(&a);
			if (cached)
				continue;
			booking_set(b, r, BOOKING_HELD, NULL, "no ticket %s in %s (its id %lld is gone)", key,
			            b->system, id);
			return 0;
		}
		v = envelope(b, rc, &a, doing, r, &data);
		if (v == NULL) {
			bhttp_answer_clear(&a);
			return 0;
		}
		{
			char k[64];
			summary_key(json_object_get(data, "summary"), k, sizeof(k));
			if (strcmp(k, key) != 0) {
				booking_id_drop(b, key);
				json_decref(v);
				if (cached) {
					bhttp_answer_clear(&a);
					continue;
				}
				booking_set(b, r, BOOKING_HELD, &a, "%s gave ticket '%s' for %s", b->system,
				            k, key);
				bhttp_answer_clear(&a);
				return 0;
			}
		}
		r->http_status = a.status;
		bhttp_answer_clear(&a);
		/* Read before write: no idempotency key here either. */
		notes = json_object_get(data, "notes");
		if (!json_is_array(notes)) {
			booking_set(b, r, BOOKING_HELD, NULL,
			            "%s did not list the notes of ticket %s, so benchd cannot tell whether "
			            "this report "
			            "is already there; nothing posted",
			            b->system, key);
			json_decref(v);
			return 0;
		}
		json_array_foreach(notes, i, n)
		{
			if (booking_names_report(n, c->report_id)) {
				booking_json_text(json_object_get(n, "id"), r->remote_id,
				                  sizeof(r->remote_id));
				snprintf(r->phase, sizeof(r->phase), "note %.48s on ticket %.48s",
				         r->remote_id, key);
				booking_set(b, r, BOOKING_DELIVERED, NULL,
				            "already on ticket %s as note %s (an earlier answer was lost): "
				            "not posted again",
				            key, r->remote_id);
				json_decref(v);
				return 0;
			}
		}
		json_decref(v);
		ready = 1;
		break;
	}
	if (!ready) {
		booking_set(b, r, BOOKING_HELD, NULL, "no ticket %s in %s", key, b->system);
		return 0;
	}

	text = booking_summary_text(c);
	body = json_pack("{s:I, s:s, s:i, s:i}", "id", (json_int_t)id, "note", text, "type", 1, "is_flag", 0);
	free(text);
	js = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	if (js == NULL) {
		booking_set(b, r, BOOKING_HELD, NULL,
		            "cannot encode the note (the report's text is not UTF-8)");
		return 0;
	}
	snprintf(doing, sizeof(doing), "adding the note to ticket %s", key);
	memset(&q, 0, sizeof(q));
	q.method = "POST";
	q.path = "/ticket/addnote";
	q.body = js;
	q.bodylen = strlen(js);
	q.max_wait_ms = -1;
	rc = bhttp_request(b, &q, &a);
	free(js);
	if (rc == BHTTP_OK && a.status == 404) {
		booking_id_drop(b, key);
		booking_set(b, r, BOOKING_HELD, &a, "no ticket %s in %s (its id %lld is gone)", key,
		            b->system, id);
		bhttp_answer_clear(&a);
		return 0;
	}
	v = envelope(b, rc, &a, doing, r, &data);
	if (v) {
		nid = booking_json_id(json_object_get(data, "id"));
		if (nid < 0)
			nid = booking_json_id(json_object_get(data, "note_id"));
		r->http_status = a.status;
		if (nid >= 0) {
			snprintf(r->remote_id, sizeof(r->remote_id), "%lld", nid);
			snprintf(r->phase, sizeof(r->phase), "note %lld on ticket %s", nid, key);
			booking_set(b, r, BOOKING_DELIVERED, NULL, "diagnostic note %lld on ticket %s", nid,
			            key);
		} else {
			booking_set(b, r, BOOKING_DELIVERED, &a,
			            "diagnostic note on ticket %s (the answer names no note id)", key);
		}
		json_decref(v);
	}
	bhttp_answer_clear(&a);
	return 0;
}

static int
rd_check(struct booking *b, char *msg, size_t msglen)
{
	struct bhttp_answer a;
	int rc = get(b, "/tickets", "page=1", BOOKING_CHECK_WAIT_MS, &a), ok = -1;
	json_t *v = rc == BHTTP_OK ? bhttp_json(&a) : NULL;
	const json_t *data = json_object_get(v, "data");

	if (rc != BHTTP_OK)
		snprintf(msg, msglen, "%s at %s: %s", b->system, b->url, a.error);
	else if (a.status == 0)
		snprintf(msg, msglen, "%s at %s: no answer: %s", b->system, b->url, a.error);
	else if (a.status == 401 || a.status == 403)
		snprintf(msg, msglen, "%s at %s: api key refused (HTTP %d): check token_file", b->system,
		         b->url, a.status);
	else if (a.status == 429)
		snprintf(msg, msglen, "%s at %s: over its request limit (HTTP 429): try again in %ld s",
		         b->system, b->url, a.retry_after >= 0 ? a.retry_after : 60);
	else if (a.status == 200 && json_is_true(json_object_get(v, "success")) &&
	         json_is_array(json_object_get(data, "ticketData"))) {
		const json_t *pg = json_object_get(data, "pagination");
		json_int_t total = json_integer_value(json_object_get(pg, "total_records"));
		if (json_is_integer(json_object_get(pg, "total_records")))
			snprintf(msg, msglen, "%s at %s: api key accepted, %lld ticket%s", b->system, b->url,
			         (long long)total, total == 1 ? "" : "s");
		else
			snprintf(msg, msglen, "%s at %s: api key accepted", b->system, b->url);
		ok = 0;
	} else {
		char *m = booking_server_message(a.body, a.len, 300);
		if (a.status >= 300 && a.status < 400)
			snprintf(msg, msglen, "%s at %s: %s", b->system, b->url, a.error);
		else if (json_is_false(json_object_get(v, "success")))
			snprintf(msg, msglen, "%s at %s: refused (HTTP %d): %s", b->system, b->url, a.status,
			         m);
		else if (a.status == 200)
			snprintf(msg, msglen,
			         "%s at %s: the answer to GET /tickets is not a ticket list: is the url the "
			         "API base "
			         "(https://api.repairdesk.co/api/web/v1)?",
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
rd_poll(struct booking *b, json_t **out, char *why, size_t whylen)
{
	struct booking_result r;
	json_t *rows = json_array(), *seen = json_object();
	int rc;

	memset(&r, 0, sizeof(r));
	rc = page_tickets(b, NULL, NULL, &r, rows, seen);
	json_decref(seen);
	if (rc < 0) {
		snprintf(why, whylen, "%s", r.answer ? r.answer : "failed");
		booking_result_clear(&r);
		json_decref(rows);
		return BOOKING_E_FAILED;
	}
	booking_result_clear(&r);
	*out = rows;
	return BOOKING_OK;
}

const struct booking_ops booking_repairdesk_ops = {
    .kind = "repairdesk",
    .deliver = rd_deliver,
    .check = rd_check,
    .poll = rd_poll,
};
