/* analytics: see analytics.h. */
#include "analytics.h"

#include "stats.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * One pass over the window: each case counts once with code NULL (the week's cases) and once per
 * code it has, so one GROUP BY gives both. Ordered the way analytics_trends merges them: a
 * model's week totals (code NULL) before its codes, weeks in order.
 */
static const char SQL_TRENDS[] =
    "SELECT product_type, model, code, to_char(week, 'IYYY-\"W\"IW'), count(*)"
    " FROM cases CROSS JOIN LATERAL unnest(array_append(codes, NULL::text)) AS code"
    " WHERE opened_at <= $1::timestamptz"
    "   AND opened_at >= (date_trunc('week', $1::timestamptz AT TIME ZONE 'UTC')"
    "                     - ($2::integer - 1) * interval '1 week') AT TIME ZONE 'UTC'"
    "   AND ($3::text IS NULL OR model = $3 OR product_type = $3)"
    "   AND ($4::text IS NULL OR code IS NULL OR code = $4)"
    " GROUP BY product_type, model, code, week"
    " ORDER BY 1, 2, 3 NULLS FIRST, week";

/* The same trick: per model, the totals (code NULL) first, then each code; recent = the last
 * $2 days, baseline = the $3 days before them. */
static const char SQL_ALERTS[] =
    "SELECT product_type, model, code, count(*) FILTER (WHERE recent), count(*) FILTER (WHERE NOT recent)"
    " FROM (SELECT product_type, model, codes,"
    "              opened_at > $1::timestamptz - $2::integer * interval '1 day' AS recent"
    "       FROM cases"
    "       WHERE opened_at > $1::timestamptz - ($2::integer + $3::integer) * interval '1 day'"
    "         AND opened_at <= $1::timestamptz) AS c"
    " CROSS JOIN LATERAL unnest(array_append(c.codes, NULL::text)) AS code"
    " GROUP BY 1, 2, 3"
    " HAVING code IS NULL OR count(*) FILTER (WHERE recent) >= $4::integer"
    " ORDER BY 1, 2, 3 NULLS FIRST";

static json_t *
model_or_null(const char *m)
{
	return m[0] ? json_string(m) : json_null();
}

/* One model's weeks (from the code-NULL rows) and their case counts. */
struct weeks {
	char (*week)[12];
	long long *n;
	size_t len;
};

static void
emit_code(json_t *rows, const char *pt, const char *model, const char *code, const struct weeks *w,
          const PGresult *r, int *i, int end)
{
	for (size_t j = 0; j < w->len; j++) {
		long long k = 0;
		if (*i < end && strcmp(PQgetvalue(r, *i, 3), w->week[j]) == 0)
			k = atoll(PQgetvalue(r, (*i)++, 4));
		json_array_append_new(rows, json_pack("{s:s, s:o, s:s, s:s, s:I, s:I, s:f}", "product_type",
		                                      pt, "model", model_or_null(model), "code", code, "week",
		                                      w->week[j], "cases", (json_int_t)w->n[j], "with_code",
		                                      (json_int_t)k, "rate",
		                                      w->n[j] > 0 ? (double)k / (double)w->n[j] : 0.0));
	}
}

int
analytics_trends(struct fleetdb *db, const struct trends_opts *o, json_t **doc, char *why, size_t whylen)
{
	char at[32], weeks[16];
	const char *p[4];
	PGresult *r;
	json_t *rows;
	int rc, i = 0, nt;

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
	nt = PQntuples(r);
	while (i < nt) {
		const char *pt = PQgetvalue(r, i, 0), *model = PQgetvalue(r, i, 1);
		struct weeks w = {NULL, NULL, 0};
		int end = i, any = 0;
		while (end < nt && strcmp(PQgetvalue(r, end, 0), pt) == 0 &&
		       strcmp(PQgetvalue(r, end, 1), model) == 0)
			end++;
		for (; i < end && PQgetisnull(r, i, 2); i++) {
			w.week = xrealloc(w.week, (w.len + 1) * sizeof(*w.week));
			w.n = xrealloc(w.n, (w.len + 1) * sizeof(*w.n));
			util_strlcpy(w.week[w.len], PQgetvalue(r, i, 3), sizeof(w.week[0]));
			w.n[w.len++] = atoll(PQgetvalue(r, i, 4));
		}
		while (i < end) {
			const char *code = PQgetvalue(r, i, 2);
			int start = i;
			while (i < end && strcmp(PQgetvalue(r, i, 2), code) == 0)
				i++;
			emit_code(rows, pt, model, code, &w, r, &start, i);
			any = 1;
		}
		if (!any && o->code) /* --code: the model's weeks even when none had it */
			emit_code(rows, pt, model, o->code, &w, r, &i, i);
		free(w.week);
		free(w.n);
		i = end;
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
	long tot_n = 0, tot_bn = 0;
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
		long n = 0, bn = 0, k, bk;
		double pv;
		if (PQgetisnull(r, i, 2)) {
			n = atol(PQgetvalue(r, i, 3));
			bn = atol(PQgetvalue(r, i, 4));
			tot_n = n;
			tot_bn = bn;
			continue;
		}
		/* Code rows follow their model's totals (ORDER BY ... NULLS FIRST). */
		k = atol(PQgetvalue(r, i, 3));
		bk = atol(PQgetvalue(r, i, 4));
		n = tot_n;
		bn = tot_bn;
		if (!stats_is_alert(k, n, bk, bn, &pv))
			continue;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
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
		qsort(found, nfound, sizeof(*found), by_p); /* NOLINT(bugprone-sizeof-expression) */
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
