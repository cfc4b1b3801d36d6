/*
 * trend: the battery's health over time (DESIGN.md 4.9). The points are the report's
 * inputs.history rows of this battery (same battery serial when both are known) plus this
 * report's own reading; the forecast is readings.battery_forecast, {months_to_80: [low, high],
 * basis} or {status}. Both come from a signed report, yet are bounded and checked like any
 * input: a row without a time or a health is left out, a nonsense interval is not drawn.
 * Also the battery gauge. Both pictures are inline SVG (no script, no external asset).
 */
#include "render_int.h"

#include "i18n.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TREND_MAX_POINTS 200
#define MONTH_S          (30.44 * 86400.0)
#define FUTURE_MAX_M     36.0 /* the chart shows at most three years ahead */

static int
health_ok(double h)
{
	return h >= 0 && h <= 150;
}

void
trend_build(const json_t *r, struct trend *t)
{
	const json_t *rd = json_object_get(r, "readings"), *bat = json_object_get(rd, "battery");
	const json_t *hist = json_object_get(json_object_get(r, "inputs"), "history"), *row;
	const json_t *fc = json_object_get(rd, "battery_forecast");
	const char *serial = rx_str(bat, "serial"), *status;
	size_t i, first;
	double h;

	memset(t, 0, sizeof(*t));
	t->visits = t->cycles = t->days = -1;
	t->history_rows = json_array_size(hist);
	if (util_parse_rfc3339(rx_str(rd, "captured_at") ? rx_str(rd, "captured_at") : "", &t->now) < 0 &&
	    util_parse_rfc3339(rx_str(r, "created_at") ? rx_str(r, "created_at") : "", &t->now) < 0)
		t->now = 0;
	t->pts = xcalloc(TREND_MAX_POINTS + 1, sizeof(*t->pts));
	/* The newest rows when there are more than the chart can hold. */
	first = t->history_rows > TREND_MAX_POINTS ? t->history_rows - TREND_MAX_POINTS : 0;
	for (i = first; i < t->history_rows; i++) {
		struct trend_point p = {.cycles = -1};
		const char *bs;
		row = json_array_get(hist, i);
		bs = rx_str(row, "battery_serial");
		if (util_parse_rfc3339(rx_str(row, "at") ? rx_str(row, "at") : "", &p.at) < 0 ||
		    !rx_num(row, "health_pct", &p.health) || !health_ok(p.health))
			continue;
		if (serial != NULL && bs != NULL && strcmp(serial, bs) != 0)
			continue; /* another battery: a new battery starts a new series */
		if (t->now != 0 && p.at > t->now)
			continue;
		if (!rx_num(row, "cycle_count", &p.cycles))
			p.cycles = -1;
		p.battery_serial = bs;
		/* Insertion keeps them in time order whatever order the rows came in. */
		size_t k = t->n;
		while (k > 0 && t->pts[k - 1].at > p.at) {
			t->pts[k] = t->pts[k - 1];
			k--;
		}
		t->pts[k] = p;
		t->n++;
	}
	if (t->now != 0 && rx_num(bat, "health_pct", &h) && health_ok(h)) {
		struct trend_point p = {.at = t->now, .health = h, .cycles = -1, .battery_serial = serial};
		if (!rx_num(bat, "cycle_count", &p.cycles))
			p.cycles = -1;
		t->pts[t->n++] = p;
		t->have_now = 1;
	}

	status = rx_str(fc, "status");
	const json_t *m = json_object_get(fc, "months_to_80");
	if (json_array_size(m) == 2 && json_is_number(json_array_get(m, 0)) &&
	    json_is_number(json_array_get(m, 1))) {
		double lo = json_number_value(json_array_get(m, 0)),
		       hi = json_number_value(json_array_get(m, 1));
		if (isfinite(lo) && isfinite(hi) && lo >= 0 && lo <= hi && hi <= 1200) {
			t->fc = FC_RANGE;
			t->lo = lo;
			t->hi = hi;
			t->open_ended = json_is_true(json_object_get(fc, "open_ended"));
		}
	} else if (status != NULL) {
		t->fc = strcmp(status, "too early") == 0     ? FC_TOO_EARLY
		        : strcmp(status, "below 80") == 0    ? FC_BELOW_80
		        : strcmp(status, "new battery") == 0 ? FC_NEW_BATTERY
		                                             : FC_NONE;
	}
	const json_t *basis = json_object_get(fc, "basis");
	if (!rx_num(basis, "visits", &t->visits))
		t->visits = -1;
	if (!rx_num(basis, "cycles", &t->cycles))
		t->cycles = -1;
	if (!rx_num(basis, "days", &t->days))
		t->days = -1;
}

void
trend_free(struct trend *t)
{
	free(t->pts);
	memset(t, 0, sizeof(*t));
}

/* Whole months of the interval as the sentence says them: at least 1, low <= high. */
static void
months(const struct trend *t, int *lo, int *hi)
{
	*lo = (int)lround(t->lo);
	*hi = (int)lround(t->hi);
	if (*lo < 1)
		*lo = 1;
	if (*hi < *lo)
		*hi = *lo;
}

char *
trend_sentence(const struct trend *t, const char *lang)
{
	char a[16], b[16];
	int lo, hi;

	switch (t->fc) {
	case FC_RANGE:
		months(t, &lo, &hi);
		if (t->hi < 1.5)
			return xstrdup(i18n_label(lang, "fc_soon"));
		if (t->open_ended) {
			/* the high end is only the tree's horizon (5 years): never say it as a bound */
			if (lo >= 60)
				return xstrdup(i18n_label(lang, "fc_beyond"));
			snprintf(a, sizeof(a), "%d", lo);
			return rx_fill(i18n_label(lang, "fc_open"), a, NULL, NULL);
		}
		if (lo >= 24) {
			int ly = (int)lround(lo / 12.0), hy = (int)lround(hi / 12.0);
			if (hy < ly)
				hy = ly;
			snprintf(a, sizeof(a), "%d", ly);
			snprintf(b, sizeof(b), "%d", hy);
			return rx_fill(i18n_label(lang, ly == hy ? "fc_about_years" : "fc_range_years"), a, b,
			               NULL);
		}
		snprintf(a, sizeof(a), "%d", lo);
		snprintf(b, sizeof(b), "%d", hi);
		return rx_fill(i18n_label(lang, lo == hi ? "fc_about" : "fc_range"), a, b, NULL);
	case FC_TOO_EARLY:
		return xstrdup(i18n_label(lang, "fc_too_early"));
	case FC_BELOW_80:
		return xstrdup(i18n_label(lang, "fc_below_80"));
	case FC_NEW_BATTERY:
		return xstrdup(i18n_label(lang, "fc_new_battery"));
	case FC_NONE:
		break;
	}
	return NULL;
}

char *
trend_forecast_text(const struct trend *t, const char *lang)
{
	char *s = trend_sentence(t, lang), *basis, *r;
	char v[24], c[24], d[24];

	if (s == NULL || t->visits < 0 || t->cycles < 0 || t->days < 0)
		return s;
	snprintf(v, sizeof(v), "%.0f", t->visits);
	snprintf(c, sizeof(c), "%.0f", t->cycles);
	snprintf(d, sizeof(d), "%.0f", t->days);
	basis = rx_fill(i18n_label(lang, "forecast_basis"), v, c, d);
	r = xasprintf("%s (%s)", s, basis);
	free(s);
	free(basis);
	return r;
}

/* ---- the chart ---- */

struct frame {
	double x0, x1, y0, y1; /* the plot area */
	double tmin, tmax, hmin, hmax;
};

static double
fx(const struct frame *f, double t)
{
	return f->x0 + (t - f->tmin) / (f->tmax - f->tmin) * (f->x1 - f->x0);
}

static double
fy(const struct frame *f, double h)
{
	if (h < f->hmin)
		h = f->hmin;
	if (h > f->hmax)
		h = f->hmax;
	return f->y1 - (h - f->hmin) / (f->hmax - f->hmin) * (f->y1 - f->y0);
}

static void
axis_label(struct out *o, const struct rctx *x, double px, double py, const char *anchor, time_t t,
           const char *text)
{
	char buf[64];
	struct tm tm;

	if (text == NULL) {
		if (rx_localtime(x, t, &tm) < 0)
			return;
		i18n_month_year(x->lang, &tm, buf, sizeof(buf));
		text = buf;
	}
	out_putf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"10\" fill=\"#6e6e73\">", px,
	         py, anchor);
	out_esc(o, text);
	out_put(o, "</text>");
}

int
trend_svg(struct out *o, const struct trend *t, const struct rctx *x)
{
	struct frame f = {.x0 = 44, .x1 = 448, .y0 = 10, .y1 = 138};
	const struct trend_point *now = t->have_now ? &t->pts[t->n - 1] : NULL;
	int range = t->fc == FC_RANGE && now != NULL && now->health > 80;
	double lo_t = 0, hi_t = 0, hmin = 100, hmax = 100;
	char *sentence, *aria;
	size_t i;

	if (t->pts == NULL || t->n == 0 || (t->n < 2 && !range))
		return 0;
	for (i = 0; i < t->n; i++) {
		if (t->pts[i].health < hmin)
			hmin = t->pts[i].health;
		if (t->pts[i].health > hmax)
			hmax = t->pts[i].health;
	}
	f.hmin = floor((fmin(hmin, 80) - 4) / 10.0) * 10.0;
	if (f.hmin < 0)
		f.hmin = 0;
	f.hmax = ceil(hmax / 10.0) * 10.0;
	f.tmin = (double)t->pts[0].at;
	f.tmax = (double)t->pts[t->n - 1].at;
	if (range) {
		lo_t = (double)now->at + fmin(t->lo, FUTURE_MAX_M) * MONTH_S;
		hi_t = (double)now->at + fmin(t->hi, FUTURE_MAX_M) * MONTH_S;
		if (hi_t > f.tmax)
			f.tmax = hi_t;
		if (t->n < 2)
			f.tmin = f.tmax - (hi_t - (double)now->at) * 1.3;
	}
	if (f.tmax - f.tmin < 30 * 86400.0)
		f.tmin = f.tmax - 30 * 86400.0;

	sentence = trend_sentence(t, x->lang);
	aria = sentence != NULL ? xasprintf("%s. %s", rx_label(x, "trend_label"), sentence)
	                        : xstrdup(rx_label(x, "trend_label"));
	out_put(o, "<svg class=\"trend\" xmlns=\"http://www.w3.org/2000/svg\" width=\"460\" height=\"160\" "
	           "viewBox=\"0 0 460 160\" role=\"img\" aria-label=\"");
	out_esc(o, aria);
	out_put(o, "\">");
	free(aria);
	free(sentence);
	/* The grid: every 10 %, the 80 % line in red. */
	for (int tens = (int)(f.hmin / 10); tens <= (int)(f.hmax / 10); tens++) {
		double h = tens * 10.0;
		int eighty = tens == 8;
		out_putf(o,
		         "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
		         "stroke-width=\"%s\"%s/>",
		         f.x0, fy(&f, h), f.x1, fy(&f, h), eighty ? "#d70015" : "#e5e5ea",
		         eighty ? "1.5" : "1", eighty ? " stroke-dasharray=\"5 3\"" : "");
		out_putf(o,
		         "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\" "
		         "fill=\"%s\"%s>%.0f %%</text>",
		         f.x0 - 6, fy(&f, h) + 3.5, eighty ? "#d70015" : "#6e6e73",
		         eighty ? " font-weight=\"700\"" : "", h);
	}
	if (range) {
		/* The interval: where the line from today's reading meets 80 %, at the soonest and latest. */
		out_putf(o,
		         "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"#ff9500\" "
		         "fill-opacity=\"0.18\"/>",
		         fx(&f, (double)now->at), fy(&f, now->health), fx(&f, lo_t), fy(&f, 80), fx(&f, hi_t),
		         fy(&f, 80));
		for (int k = 0; k < 2; k++)
			out_putf(o,
			         "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ff9500\" "
			         "stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>",
			         fx(&f, (double)now->at), fy(&f, now->health), fx(&f, k ? hi_t : lo_t),
			         fy(&f, 80));
		out_putf(o,
		         "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ff9500\" "
		         "stroke-width=\"6\" "
		         "stroke-linecap=\"round\"/>",
		         fx(&f, lo_t), fy(&f, 80), fx(&f, hi_t), fy(&f, 80));
	}
	if (t->n >= 2) {
		out_put(o, "<polyline fill=\"none\" stroke=\"#0071e3\" stroke-width=\"2\" points=\"");
		for (i = 0; i < t->n; i++)
			out_putf(o, "%s%.1f,%.1f", i ? " " : "", fx(&f, (double)t->pts[i].at),
			         fy(&f, t->pts[i].health));
		out_put(o, "\"/>");
	}
	for (i = 0; i < t->n; i++) {
		int last = now != NULL && i == t->n - 1;
		out_putf(o,
		         "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\" stroke=\"#fff\" "
		         "stroke-width=\"1.5\"/>",
		         fx(&f, (double)t->pts[i].at), fy(&f, t->pts[i].health), last ? "5" : "3.5",
		         last ? "#1d1d1f" : "#0071e3");
	}
	/* The time axis: the first visit, today, and the end of the interval; a label that would
	 * overlap today's is left out. */
	{
		double ly = f.y1 + 16, xnow = now != NULL ? fx(&f, (double)now->at) : -1000;
		if (xnow - f.x0 > 70 || now == NULL)
			axis_label(o, x, f.x0, ly, "start", t->pts[0].at, NULL);
		if (now != NULL)
			axis_label(o, x, xnow, ly,
			           f.x1 - xnow < 30   ? "end"
			           : xnow - f.x0 < 30 ? "start"
			                              : "middle",
			           0, rx_label(x, "today"));
		if (range && fx(&f, hi_t) - xnow > 80)
			axis_label(o, x, f.x1, ly, "end", (time_t)hi_t, NULL);
	}
	out_put(o, "</svg>");
	return 1;
}

/* ---- the gauge ---- */

void
gauge_svg(struct out *o, const json_t *bat, const struct rctx *x)
{
	double pct;
	int have = rx_num(bat, "health_pct", &pct);
	char val[16], *aria;
	const char *color = "#8e8e93";

	if (have) {
		if (pct < 0)
			pct = 0;
		if (pct > 100)
			pct = 100;
		snprintf(val, sizeof(val), "%.0f%%", pct);
		color = pct >= 80 ? "#34c759" : pct >= 70 ? "#ff9500" : "#ff3b30";
	} else {
		snprintf(val, sizeof(val), "—");
	}
	aria = rx_fill(rx_label(x, "gauge_label"), have ? val : rx_label(x, "no_reading"), NULL, NULL);
	out_put(o, "<svg class=\"gauge\" xmlns=\"http://www.w3.org/2000/svg\" width=\"180\" height=\"110\" "
	           "viewBox=\"0 0 180 110\" role=\"img\" aria-label=\"");
	out_esc(o, aria);
	free(aria);
	out_put(o, "\">");
	out_put(
	    o,
	    "<path d=\"M 20 90 A 70 70 0 0 1 160 90\" fill=\"none\" stroke=\"#e5e5ea\" stroke-width=\"16\" "
	    "stroke-linecap=\"round\"/>");
	if (have && pct > 0) {
		double th = M_PI * (1.0 - pct / 100.0);
		out_putf(o,
		         "<path d=\"M 20 90 A 70 70 0 0 1 %.2f %.2f\" fill=\"none\" stroke=\"%s\" "
		         "stroke-width=\"16\" stroke-linecap=\"round\"/>",
		         90.0 + 70.0 * cos(th), 90.0 - 70.0 * sin(th), color);
	}
	/* The 80 % mark Apple uses for "service". */
	{
		double th = M_PI * 0.2;
		out_putf(o,
		         "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#1d1d1f\" "
		         "stroke-width=\"2\"/>",
		         90.0 + 58.0 * cos(th), 90.0 - 58.0 * sin(th), 90.0 + 82.0 * cos(th),
		         90.0 - 82.0 * sin(th));
	}
	out_put(o, "<text x=\"90\" y=\"84\" text-anchor=\"middle\" font-size=\"28\" font-weight=\"700\" "
	           "fill=\"#1d1d1f\">");
	out_esc(o, val);
	out_put(o,
	        "</text><text x=\"90\" y=\"104\" text-anchor=\"middle\" font-size=\"11\" fill=\"#6e6e73\">");
	out_esc(o, rx_label(x, "battery"));
	out_put(o, "</text></svg>");
}
