/* analytics: see analytics.h. */
#include "analytics.h"

#include "stats.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_TRENDS[] =
    "WITH c AS ("
    "  SELECT product_type, model, date_trunc('week', opened_at AT TIME ZONE 'UTC') AS wk, codes"
    "  FROM cases"
    "  WHERE opened_at <= $1::timestamptz"
    "    AND opened_at >= (date_trunc('week', $1::timestamptz AT TIME ZONE 'UTC')"
    "                      - ($2::integer - 1) * interval '1 week') AT TIME ZONE 'UTC'"
    "    AND ($3::text IS NULL OR model = $3 OR product_type = $3)),"
    " tot AS (SELECT product_type, model, wk, count(*) AS n FROM c GROUP BY 1, 2, 3),"
    " hit AS (SELECT product_type, model, wk, code, count(*) AS k"
    "         FROM c CROSS JOIN LATERAL unnest(c.codes) AS code"
    "         WHERE $4::text IS NULL OR code = $4 GROUP BY 1, 2, 3, 4),"
    " mc AS (SELECT DISTINCT product_type, model, code FROM hit"
    "        UNION SELECT DISTINCT product_type, model, $4::text FROM tot WHERE $4::text IS NOT NULL)"
    " SELECT t.product_type, t.model, mc.code, to_char(t.wk, 'IYYY-\"W\"IW'), t.n, COALESCE(h.k, 0)"
    " FROM tot t JOIN mc ON mc.product_type = t.product_type AND mc.model = t.model"
    " LEFT JOIN hit h ON h.product_type = t.product_type AND h.model = t.model AND h.wk = t.wk"
    "  AND h.code = mc.code"
    " ORDER BY 1, 2, 3, t.wk";

static const char SQL_ALERTS[] =
    "WITH c AS ("
    "  SELECT product_type, model, codes,"
    "         opened_at > $1::timestamptz - $2::integer * interval '1 day' AS recent"
    "  FROM cases"
    "  WHERE opened_at > $1::timestamptz - ($2::integer + $3::integer) * interval '1 day'"
    "    AND opened_at <= $1::timestamptz),"
    " tot AS (SELECT product_type, model, count(*) FILTER (WHERE recent) AS n,"
    "         count(*) FILTER (WHERE NOT recent) AS bn FROM c GROUP BY 1, 2),"
    " hit AS (SELECT product_type, model, code, count(*) FILTER (WHERE recent) AS k,"
    "         count(*) FILTER (WHERE NOT recent) AS bk"
    "         FROM c CROSS JOIN LATERAL unnest(c.codes) AS code GROUP BY 1, 2, 3)"
    " SELECT h.product_type, h.model, h.code, t.n, h.k, t.bn, h.bk"
    " FROM hit h JOIN tot t ON t.product_type = h.product_type AND t.model = h.model"
    " WHERE h.k >= $4::integer";

static json_t *
model_or_null(const char *m)
{
	return m[0] ? json_string(m) : json_null();
}

int
analytics_trends(struct fleetdb *db, const struct trends_opts *o, json_t **doc, char *why, size_t whylen)
{
	char at[32], weeks[16];
	const char *p[4];
	PGresult *r;
	json_t *rows;
	int rc;

	*doc = NULL;
	util_rfc3339(o->at, at, sizeof(at));
	snprintf(weeks, sizeof(weeks), "%d", o->weeks);
	p[0] = at;
	p[1] = weeks;
	p[2] = o->model;
	p[3] = o->code;
	if ((rc = fleetdb_exec(db, SQL_TRENDS, 4, p, &r, why, whylen)) != FLEETDB_OK)
		return rc;
	rows = json_array();
	for (int i = 0; i < PQntuples(r); i++) {
		long long n = atoll(PQgetvalue(r, i, 4)), k = atoll(PQgetvalue(r, i, 5));
		json_array_append_new(
		    rows, json_pack("{s:s, s:o, s:s, s:s, s:I, s:I, s:f}", "product_type",
		                    PQgetvalue(r, i, 0), "model", model_or_null(PQgetvalue(r, i, 1)), "code",
		                    PQgetvalue(r, i, 2), "week", PQgetvalue(r, i, 3), "cases", (json_int_t)n,
		                    "with_code", (json_int_t)k, "rate", n > 0 ? (double)k / (double)n : 0.0));
	}
	PQclear(r);
	*doc = json_pack("{s:b, s:s, s:i, s:o}", "ok", 1, "at", at, "weeks", o->weeks, "rows", rows);
	return FLEETDB_OK;
}

static int
by_p(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	double px = json_real_value(json_object_get(x, "p_value"));
	double py = json_real_value(json_object_get(y, "p_value"));

	return px < py ? -1 : px > py;
}

int
analytics_alerts(struct fleetdb *db, time_t at, json_t **doc, char *why, size_t whylen)
{
	char ats[32], rd[16], bd[16], mh[16];
	const char *p[4] = {ats, rd, bd, mh};
	json_t **found = NULL, *rows;
	size_t nfound = 0;
	PGresult *r;
	int rc;

	*doc = NULL;
	util_rfc3339(at, ats, sizeof(ats));
	snprintf(rd, sizeof(rd), "%d", ANALYTICS_RECENT_DAYS);
	snprintf(bd, sizeof(bd), "%d", ANALYTICS_BASELINE_DAYS);
	snprintf(mh, sizeof(mh), "%d", STATS_ALERT_MIN_HIT);
	if ((rc = fleetdb_exec(db, SQL_ALERTS, 4, p, &r, why, whylen)) != FLEETDB_OK)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		long n = atol(PQgetvalue(r, i, 3)), k = atol(PQgetvalue(r, i, 4));
		long bn = atol(PQgetvalue(r, i, 5)), bk = atol(PQgetvalue(r, i, 6));
		double pv;
		if (!stats_is_alert(k, n, bk, bn, &pv))
			continue;
		found = xrealloc(found, (nfound + 1) * sizeof(*found));
		found[nfound++] = json_pack(
		    "{s:s, s:o, s:s, s:I, s:I, s:f, s:I, s:I, s:f, s:f}", "product_type", PQgetvalue(r, i, 0),
		    "model", model_or_null(PQgetvalue(r, i, 1)), "code", PQgetvalue(r, i, 2), "recent_cases",
		    (json_int_t)n, "recent_with_code", (json_int_t)k, "recent_rate", (double)k / (double)n,
		    "baseline_cases", (json_int_t)bn, "baseline_with_code", (json_int_t)bk, "baseline_rate",
		    (double)bk / (double)bn, "p_value", pv);
	}
	PQclear(r);
	if (nfound > 1)
		qsort(found, nfound, sizeof(*found), by_p);
	rows = json_array();
	for (size_t i = 0; i < nfound; i++)
		json_array_append_new(rows, found[i]);
	free(found);
	*doc = json_pack("{s:b, s:s, s:i, s:i, s:s, s:f, s:i, s:o}", "ok", 1, "at", ats, "recent_days",
	                 ANALYTICS_RECENT_DAYS, "baseline_days", ANALYTICS_BASELINE_DAYS, "test",
	                 "one-sided Fisher exact (recent rate greater than baseline)", "p_below",
	                 STATS_ALERT_P, "min_with_code", STATS_ALERT_MIN_HIT, "rows", rows);
	return FLEETDB_OK;
}

int
analytics_parse_at(const char *s, time_t *out)
{
	unsigned y, m, d;
	char extra, *iso;
	int r;

	if (s == NULL)
		return -1;
	if (strlen(s) == 10 && sscanf(s, "%4u-%2u-%2u%c", &y, &m, &d, &extra) == 3) {
		iso = xasprintf("%sT23:59:59Z", s);
		r = util_parse_rfc3339(iso, out);
		free(iso);
		return r;
	}
	return util_parse_rfc3339(s, out);
}
