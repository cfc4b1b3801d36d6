/* ingest: see ingest.h. */
#include "ingest.h"

#include "log.h"
#include "registry.h"
#include "report.h"
#include "util.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_FAULTS 512

/* What we store of one signed report. Strings point into the payload object. */
struct ingest_report {
	const char *report_id, *case_id, *supersedes, *ticket, *outcome;
	const char *product_type, *model;
	char created_at[32];
	char revision[16];
	char *faults; /* JSON [{code, severity, part}], malloc'd */
};

void
ingest_answer_clear(struct ingest_answer *ans)
{
	free(ans->json);
	ans->json = NULL;
	ans->status = 0;
}

void
ingest_error(struct ingest_answer *ans, int status, const char *msg)
{
	json_t *o = json_pack("{s:b, s:s}", "ok", 0, "error", msg);

	ans->status = status;
	ans->json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
}

/* A printable id: 1..63 of letters, digits, '-' (UUIDs). */
static int
valid_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 63)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-')
			return 0;
	return 1;
}

/* Short text shown to people (model names, parts, tickets): no control characters. */
static int
plain(const char *s, size_t max)
{
	if (strlen(s) > max)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* A string member, or NULL when absent or null; -1 when of another type or not plain. */
static int
opt_str(const json_t *o, const char *key, size_t max, const char **out)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !plain(json_string_value(v), max))
		return -1;
	*out = json_string_value(v);
	return 0;
}

/* The payload's fields, checked. Returns 0 or -1 with why. */
static int
extract(const json_t *rep, struct ingest_report *o, char *why, size_t whylen)
{
	const json_t *dev = json_object_get(rep, "device"), *c = json_object_get(rep, "case");
	const json_t *faults = json_object_get(rep, "faults"), *rev;
	const char *created;
	time_t t;
	json_t *out;

	memset(o, 0, sizeof(*o));
	o->report_id = json_string_value(json_object_get(rep, "report_id"));
	if (!valid_id(o->report_id)) {
		snprintf(why, whylen, "the report has no report_id (a UUID)");
		return -1;
	}
	created = json_string_value(json_object_get(rep, "created_at"));
	if (created == NULL || util_parse_rfc3339(created, &t) < 0) {
		snprintf(why, whylen, "the report's created_at is not an RFC 3339 time");
		return -1;
	}
	util_rfc3339(t, o->created_at, sizeof(o->created_at));
	o->outcome = json_string_value(json_object_get(rep, "outcome"));
	if (o->outcome == NULL ||
	    (strcmp(o->outcome, "pass") && strcmp(o->outcome, "fail") && strcmp(o->outcome, "incomplete"))) {
		snprintf(why, whylen, "the report's outcome is not pass, fail or incomplete");
		return -1;
	}
	if ((dev != NULL && !json_is_object(dev)) || opt_str(dev, "product_type", 64, &o->product_type) < 0 ||
	    opt_str(dev, "model_name", 64, &o->model) < 0) {
		snprintf(why, whylen,
		         "the report's device has a product_type or model_name that is not text");
		return -1;
	}
	if (o->product_type == NULL)
		o->product_type = "";
	if (o->model == NULL)
		o->model = "";

	/* case {case_id, ticket, revision, supersedes} (DESIGN 4.8); older reports: {ticket}, and the
	 * report is then a case of its own, revision 1. */
	if (c != NULL && !json_is_null(c) && !json_is_object(c)) {
		snprintf(why, whylen, "the report's case is not an object");
		return -1;
	}
	if (opt_str(c, "ticket", 128, &o->ticket) < 0) {
		snprintf(why, whylen, "the report's ticket is not text of at most 128 characters");
		return -1;
	}
	if (opt_str(c, "case_id", 63, &o->case_id) < 0 || (o->case_id && !valid_id(o->case_id))) {
		snprintf(why, whylen, "the report's case_id is not a UUID");
		return -1;
	}
	if (opt_str(c, "supersedes", 63, &o->supersedes) < 0 || (o->supersedes && !valid_id(o->supersedes))) {
		snprintf(why, whylen, "the report's case.supersedes is not a report id");
		return -1;
	}
	rev = json_object_get(c, "revision");
	if (o->case_id == NULL) {
		o->case_id = o->report_id;
		snprintf(o->revision, sizeof(o->revision), "1");
	} else if (rev == NULL || json_is_null(rev)) {
		snprintf(o->revision, sizeof(o->revision), "1");
	} else if (!json_is_integer(rev) || json_integer_value(rev) < 1 ||
	           json_integer_value(rev) > 1000000) {
		snprintf(why, whylen, "the report's case.revision is not a whole number from 1");
		return -1;
	} else {
		snprintf(o->revision, sizeof(o->revision), "%lld", (long long)json_integer_value(rev));
	}

	if (faults != NULL && !json_is_array(faults)) {
		snprintf(why, whylen, "the report's faults is not a list");
		return -1;
	}
	if (json_array_size(faults) > MAX_FAULTS) {
		snprintf(why, whylen, "the report lists more than %d faults", MAX_FAULTS);
		return -1;
	}
	out = json_array();
	for (size_t i = 0; i < json_array_size(faults); i++) {
		const json_t *f = json_array_get(faults, i);
		const char *code = json_string_value(json_object_get(f, "code")), *sev, *part;
		int ok = code != NULL && code[0] != '\0' && strlen(code) <= 32;
		for (const char *q = code; ok && *q; q++)
			ok = isalnum((unsigned char)*q) || *q == '-' || *q == '_' || *q == '.';
		if (!ok || opt_str(f, "severity", 16, &sev) < 0 || opt_str(f, "part", 128, &part) < 0) {
			snprintf(why, whylen,
			         "the report's fault %zu has no code, or a severity or part that is not text",
			         i + 1);
			json_decref(out);
			return -1;
		}
		json_array_append_new(out, json_pack("{s:s, s:o, s:o}", "code", code, "severity",
		                                     sev ? json_string(sev) : json_null(), "part",
		                                     part ? json_string(part) : json_null()));
	}
	o->faults = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	return 0;
}

/* The case of the latest revision wins: a higher revision, then the later report, then the id. */
#define NEWER                                                                                                \
	"(EXCLUDED.revision, EXCLUDED.latest_at, EXCLUDED.report_id) > "                                     \
	"(cases.revision, cases.latest_at, cases.report_id)"
#define PICK(col) col " = CASE WHEN " NEWER " THEN EXCLUDED." col " ELSE cases." col " END"

static const char SQL_REPORT[] =
    "INSERT INTO reports (report_id, bench_id, case_id, revision, supersedes, ticket, created_at,"
    " product_type, model, outcome, jws_sha256, jws)"
    " VALUES ($1, $2, $3, $4::integer, $5, $6, $7::timestamptz, $8, $9, $10, $11::bytea, $12)"
    " ON CONFLICT (report_id) DO NOTHING RETURNING 1";
static const char SQL_STORED[] = "SELECT bench_id, jws_sha256 = $2::bytea FROM reports WHERE report_id = $1";
static const char SQL_FAULTS[] = "INSERT INTO faults (report_id, n, code, severity, part)"
                                 " SELECT $1, t.n, t.f->>'code', t.f->>'severity', t.f->>'part'"
                                 " FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(f, n)";
static const char
    SQL_CASE[] =
        "INSERT INTO cases (bench_id, case_id, report_id, revision, latest_at, opened_at, product_type,"
        " model, outcome, codes)"
        " VALUES ($1, $2, $3, $4::integer, $5::timestamptz, $5::timestamptz, $6, $7, $8,"
        " ARRAY(SELECT DISTINCT e->>'code' FROM jsonb_array_elements($9::jsonb) e ORDER BY 1))"
        " ON CONFLICT (bench_id, case_id) DO UPDATE SET"
        " opened_at = LEAST(cases.opened_at, EXCLUDED.opened_at), " PICK("report_id") ", " PICK("revision") ", " PICK(
            "latest_at") ", " PICK("product_type") ", " PICK("model") ", " PICK("outcome") ", " PICK("codes");

/* Store one verified report. 201 stored, 200 a retry, 422 another report under its id, 503. */
static void
store(struct fleetdb *db, const struct fleet_bench *b, const struct ingest_report *r, const char *jws,
      struct ingest_answer *ans)
{
	char why[768], hash[68];
	PGresult *res = NULL;
	int rc;

	registry_sha256_bytea(jws, strlen(jws), hash);
	if ((rc = fleetdb_begin(db, why, sizeof(why))) != FLEETDB_OK)
		goto dberr;
	{
		const char *p[] = {r->report_id,  b->bench_id, r->case_id,    r->revision,
		                   r->supersedes, r->ticket,   r->created_at, r->product_type,
		                   r->model,      r->outcome,  hash,          jws};
		if ((rc = fleetdb_exec(db, SQL_REPORT, 12, p, &res, why, sizeof(why))) != FLEETDB_OK)
			goto dberr;
	}
	if (PQntuples(res) == 0) {
		/* Stored before (a retry, or a request racing this one that just committed). */
		const char *p[] = {r->report_id, hash};
		PQclear(res);
		res = NULL;
		if ((rc = fleetdb_exec(db, SQL_STORED, 2, p, &res, why, sizeof(why))) != FLEETDB_OK)
			goto dberr;
		fleetdb_rollback(db);
		if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), b->bench_id) == 0 &&
		    strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
			json_t *o = json_pack("{s:b, s:s, s:s, s:b}", "ok", 1, "report_id", r->report_id,
			                      "case_id", r->case_id, "stored", 0);
			ans->status = 200;
			ans->json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
			json_decref(o);
			log_info("bench %s: report %s again: already stored, nothing changed", b->bench_id,
			         r->report_id);
		} else {
			snprintf(why, sizeof(why),
			         "report %s is already stored with other contents%s%s: a report id names one "
			         "signed report",
			         r->report_id, PQntuples(res) == 1 ? " from bench " : "",
			         PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
			log_warnx("bench %s: refused (422): %s", b->bench_id, why);
			ingest_error(ans, 422, why);
		}
		PQclear(res);
		return;
	}
	PQclear(res);
	res = NULL;
	{
		const char *p[] = {r->report_id, r->faults};
		if ((rc = fleetdb_exec(db, SQL_FAULTS, 2, p, NULL, why, sizeof(why))) != FLEETDB_OK)
			goto dberr;
	}
	{
		const char *p[] = {b->bench_id,     r->case_id, r->report_id, r->revision, r->created_at,
		                   r->product_type, r->model,   r->outcome,   r->faults};
		if ((rc = fleetdb_exec(db, SQL_CASE, 9, p, NULL, why, sizeof(why))) != FLEETDB_OK)
			goto dberr;
	}
	if ((rc = fleetdb_commit(db, why, sizeof(why))) != FLEETDB_OK)
		goto dberr;
	{
		json_t *o =
		    json_pack("{s:b, s:s, s:s, s:I, s:b}", "ok", 1, "report_id", r->report_id, "case_id",
		              r->case_id, "revision", (json_int_t)atoll(r->revision), "stored", 1);
		ans->status = 201;
		ans->json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
	}
	log_info("bench %s: stored report %s (case %s revision %s, %s)", b->bench_id, r->report_id,
	         r->case_id, r->revision, r->outcome);
	return;
dberr:
	PQclear(res);
	fleetdb_rollback(db);
	if (rc == FLEETDB_E_UNAVAILABLE) {
		log_warnx("bench %s: report %s: database unavailable (503): %s", b->bench_id, r->report_id,
		          why);
		ingest_error(ans, 503, "the fleet database is unavailable: try again later");
	} else {
		log_errorx("bench %s: report %s: %s", b->bench_id, r->report_id, why);
		ingest_error(ans, 500,
		             "the fleet could not store the report (database error): try again later");
	}
}

/* "Bearer TOKEN" (scheme case-insensitive) -> TOKEN, or NULL. */
static const char *
bearer(const char *h)
{
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

void
ingest_request(struct fleetpool *pool, const char *authorization, const char *idempotency_key,
               const char *body, size_t bodylen, struct ingest_answer *ans)
{
	const char *token = bearer(authorization);
	struct fleet_bench b;
	struct ingest_report r;
	json_error_t jerr;
	json_t *doc = NULL, *jwsobj, *rep = NULL;
	struct fleetdb *db = NULL;
	char why[768], msg[1024];
	char *jws = NULL;
	int rc;

	memset(ans, 0, sizeof(*ans));
	memset(&b, 0, sizeof(b));
	memset(&r, 0, sizeof(r));
	if (token == NULL || strlen(token) > 256) {
		ingest_error(ans, 401,
		             "no bearer token: set the bench's token_file to the token benchfleet bench "
		             "add printed");
		return;
	}
	doc = json_loadb(body, bodylen, JSON_REJECT_DUPLICATES, &jerr);
	jwsobj = json_object_get(doc, "report");
	if (!json_is_object(doc) || !json_is_object(jwsobj) ||
	    !json_is_object(json_object_get(doc, "case"))) {
		snprintf(msg, sizeof(msg),
		         "the body is not {\"case\": {...}, \"report\": <signed report>}%s%s",
		         doc ? "" : ": ", doc ? "" : jerr.text);
		ingest_error(ans, 400, msg);
		goto out;
	}
	if (idempotency_key == NULL || idempotency_key[0] == '\0') {
		ingest_error(ans, 400, "no Idempotency-Key header: it must be the report's report_id");
		goto out;
	}
	if (fleetpool_get(pool, &db, why, sizeof(why)) != FLEETDB_OK) {
		log_warnx("database unavailable (503): %s", why);
		ingest_error(ans, 503, "the fleet database is unavailable: try again later");
		goto out;
	}
	rc = registry_lookup(db, token, &b, why, sizeof(why));
	if (rc == FLEETDB_E_NOT_FOUND || (rc == FLEETDB_OK && b.revoked)) {
		if (rc == FLEETDB_OK)
			snprintf(msg, sizeof(msg), "bench %s was revoked: its token is no longer accepted",
			         b.bench_id);
		else
			snprintf(msg, sizeof(msg),
			         "unknown token: register the bench with benchfleet bench add and put "
			         "the token it prints in the bench's token_file");
		log_warnx("refused (401): %s", msg);
		ingest_error(ans, 401, msg);
		goto out;
	}
	if (rc != FLEETDB_OK) {
		log_warnx("token lookup: %s", why);
		ingest_error(ans, rc == FLEETDB_E_UNAVAILABLE ? 503 : 500,
		             "the fleet database is unavailable: try again later");
		goto out;
	}
	/* The JWS members are strings: dumping the object again gives the bytes the bench signed
	 * over (protected "." payload) unchanged, and jws_parse refuses any extra member. */
	jws = json_dumps(jwsobj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (jws == NULL) {
		ingest_error(ans, 400, "the report cannot be encoded");
		goto out;
	}
	rc = report_verify(jws, strlen(jws), b.jwk, &rep, why, sizeof(why));
	if (rc != REPORT_OK) {
		char kid[64] = "";
		json_t *unverified = NULL;
		if (rc == REPORT_E_UNKNOWN_KEY &&
		    report_unverified_payload(jws, strlen(jws), &unverified, kid, why, sizeof(why)) ==
		        REPORT_OK)
			snprintf(msg, sizeof(msg),
			         "report refused: it is signed by key %s, but this token is bench %s's, "
			         "whose key is %s: "
			         "another bench's report, or a bench whose key changed (register it again)",
			         kid, b.bench_id, b.kid);
		else
			snprintf(msg, sizeof(msg), "report refused: %s", why);
		json_decref(unverified);
		log_warnx("bench %s: refused (422): %s", b.bench_id, msg);
		ingest_error(ans, 422, msg);
		goto out;
	}
	if (extract(rep, &r, why, sizeof(why)) < 0) {
		snprintf(msg, sizeof(msg), "report refused: not a benchd.report/1 we can store: %s", why);
		log_warnx("bench %s: refused (422): %s", b.bench_id, msg);
		ingest_error(ans, 422, msg);
		goto out;
	}
	if (strcmp(idempotency_key, r.report_id) != 0) {
		snprintf(msg, sizeof(msg),
		         "report refused: the Idempotency-Key %.64s is not the report's id %s",
		         idempotency_key, r.report_id);
		log_warnx("bench %s: refused (422): %s", b.bench_id, msg);
		ingest_error(ans, 422, msg);
		goto out;
	}
	store(db, &b, &r, jws, ans);
out:
	if (db)
		fleetpool_put(pool, db);
	free(r.faults);
	free(jws);
	json_decref(rep);
	json_decref(b.jwk);
	json_decref(doc);
}
