/*
 * analytics: fleet trends and early alerts over the latest revision of each case (the cases
 * table), the one implementation behind `benchfleet trends|alerts` and GET /api/trends|alerts.
 *
 *   trends  per (product_type, model), fault code and ISO week (of the case's first report,
 *           UTC): cases, cases with the code, rate. A model's codes are those seen in the
 *           window (or --code); weeks without cases of that model are left out.
 *   alerts  per (model, code): cases of the last 7 days against the 56 days before them; an
 *           alert when at least STATS_ALERT_MIN_HIT recent cases have the code, the recent rate
 *           is higher and the one-sided Fisher exact test gives p < STATS_ALERT_P (stats.h).
 *
 * Documents (one JSON object each, the same for the command line and the API):
 *   {"ok":true, "at", "weeks", "rows":[{product_type, model, code, week "YYYY-Www", cases,
 *    with_code, rate}]}
 *   {"ok":true, "at", "recent_days":7, "baseline_days":56, "test", "p_below", "min_with_code",
 *    "rows":[{product_type, model, code, recent_cases, recent_with_code, recent_rate,
 *    baseline_cases, baseline_with_code, baseline_rate, p_value}]}   (most significant first)
 * Ownership: *doc is the caller's.
 */
#ifndef BENCHFLEET_ANALYTICS_H
#define BENCHFLEET_ANALYTICS_H

#include "fleetdb.h"

#include <jansson.h>
#include <time.h>

#define ANALYTICS_MAX_WEEKS     520
#define ANALYTICS_DEFAULT_WEEKS 8
#define ANALYTICS_RECENT_DAYS   7
#define ANALYTICS_BASELINE_DAYS 56

struct trends_opts {
	int weeks;         /* 1..ANALYTICS_MAX_WEEKS: this ISO week and the weeks - 1 before it */
	const char *model; /* NULL, or a model name or product type */
	const char *code;  /* NULL, or one fault code */
	time_t at;         /* the end of the window (now, or a past moment) */
};

int analytics_trends(struct fleetdb *db, const struct trends_opts *o, json_t **doc, char *why, size_t whylen);
int analytics_alerts(struct fleetdb *db, time_t at, json_t **doc, char *why, size_t whylen);

/* --at / ?at=: an RFC 3339 time, or a date YYYY-MM-DD meaning the end of that day (UTC).
 * Returns 0 or -1. */
int analytics_parse_at(const char *s, time_t *out);

/* The flags documents are printed with: compact, in order, rates with 6 significant digits. */
#define ANALYTICS_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6))

#endif
