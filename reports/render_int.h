/*
 * render internals (reports/ only), shared by the two views of a report:
 *   render.c        the entry point, the output buffer and its escaping, the table of labelled
 *                   rows with its two formatters (text, HTML), and the lookups both views make
 *                   in the report and the catalogue (fault texts, part names, local times);
 *   render_tech.c   the technician view: everything, as text and as HTML;
 *   render_cust.c   the customer view: one printed A4 page in plain words, as text and as HTML;
 *   trend.c         the battery trend (inputs.history + readings.battery_forecast): its data,
 *                   its sentence, and the inline SVG of it and of the battery gauge.
 * Every string that comes from the report goes out through out_esc (HTML-escaped, or with
 * control characters made visible on a terminal).
 */
#ifndef BENCHD_REPORTS_RENDER_INT_H
#define BENCHD_REPORTS_RENDER_INT_H

#include "buf.h"
#include "report.h"

#include <jansson.h>
#include <stddef.h>
#include <time.h>

/* ---- output ---- */
struct out {
	struct buf b;
	int html;
	int failed;            /* an append failed (the cap): the render as a whole fails */
	const char *colon;     /* between a label and its value on a terminal: ": ", " : " in French */
	const char *colon_eol; /* the same at the end of a line */
};
void out_put(struct out *o, const char *s); /* trusted markup */
void out_putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void out_esc(struct out *o, const char *s); /* a string from the report, escaped for the medium */
/* Markup, an escaped string, markup: out_el(o, "<p>", text, "</p>"). */
void out_el(struct out *o, const char *open, const char *s, const char *close);

/* ---- one render ---- */
struct rctx {
	struct out *o;
	const json_t *r; /* the report */
	const struct report_render_opts *op;
	const char *lang;  /* a known language */
	const json_t *cat; /* the catalogue's root object, or NULL */
};
const char *rx_label(const struct rctx *x, const char *key);
/* Fill the %s of a label with up to three strings (NULL: ""). Returns malloc'd text. */
char *rx_fill(const char *fmt, const char *a, const char *b, const char *c);
const char *rx_str(const json_t *obj, const char *key);
int rx_num(const json_t *obj, const char *key, double *out); /* finite numbers only */
/* A localised value: an object {en, it, fr, zh} (lang, else en) or a plain string. */
const char *rx_loc(const json_t *v, const char *lang);
/* Upper-case the first letter (ASCII and Latin-1) in place, for a heading made of a name. */
void rx_cap_first(char *s);
/* Scalars as text, objects and arrays as compact JSON (malloc'd). */
char *rx_value_text(const json_t *v);
/* "pass", "fail" or "incomplete" (anything else reads as incomplete). */
const char *rx_outcome(const json_t *r);
const char *rx_outcome_label(const struct rctx *x);
const char *rx_device_name(const struct rctx *x); /* model name, else product type, else NULL */
/* An RFC 3339 time of the report in the reader's time zone ("22 November 2026, 11:00 CET");
 * the string as it is when it does not parse. */
void rx_time(const struct rctx *x, const char *rfc3339, char *out, size_t outlen);
int rx_localtime(const struct rctx *x, time_t t, struct tm *tm); /* 0 or -1 */

/* ---- faults ---- */
int rx_sev_rank(const char *sev); /* critical 0 .. info 3, anything else 4 */
/* The report's faults, most severe first, stable. A new array of borrowed items. */
const json_t **rx_sorted_faults(const json_t *r, size_t *n);

enum part_kind {
	PART_REPLACE = 0, /* a part to replace */
	PART_CHECK = 1,   /* the technician must look further (triage, a low-confidence bus) */
	PART_NONE = 2,    /* no part: advice, software, the customer's data */
};
struct fault_text {
	const char *code, *sev, *title, *action, *customer;
	const char *part_key; /* the English part as the report has it (NULL: none) */
	enum part_kind kind;
	int vague;      /* PART_CHECK with a placeholder for a part ("see the model table") */
	char part[512]; /* the part in the chosen language and view ("" none) */
};
/* Everything the views say about one fault, from the catalogue in the chosen language. The
 * customer view names parts in plain words (catalogue "customer_parts"). */
void rx_fault_text(const struct rctx *x, const json_t *f, int customer, struct fault_text *t);

/* ---- a table of labelled rows, built once, written by either formatter ---- */
enum {
	ROW_TECH = 1,  /* a technical value: monospace in HTML */
	ROW_LINES = 2, /* the value's lines are a list */
	ROW_ITEM = 4,  /* a list item: the label is the text, the value a technical note under it */
};
struct row {
	char *label;
	char *value;
	unsigned flags;
};
struct table {
	struct row *v;
	size_t n, cap;
};
/* Add a row (label and value are copied; a NULL value adds nothing). */
void tbl_add(struct table *t, const char *label, unsigned flags, const char *value);
void tbl_addf(struct table *t, const char *label, unsigned flags, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void tbl_free(struct table *t);
/* Text: "<indent>label: value" lines (ROW_LINES: "label:" then "<indent>  - line"; ROW_ITEM:
 * "<indent>- label" then the value under it); HTML: <tr><th>label</th><td>value</td></tr> rows
 * (lines joined by <br/>; an item spans both columns, its value in <code>). */
void tbl_write(struct out *o, const struct table *t, int indent);
/* The readings (battery, storage, crashes, log signatures, probe errors) as rows. */
void rx_readings_table(const struct rctx *x, struct table *t);

/* ---- the battery trend (trend.c) ---- */
enum trend_forecast { FC_NONE, FC_RANGE, FC_TOO_EARLY, FC_BELOW_80, FC_NEW_BATTERY };
struct trend_point {
	time_t at;
	double health, cycles;      /* cycles < 0: unknown */
	const char *battery_serial; /* borrowed from the report, may be NULL */
};
struct trend {
	struct trend_point *pts; /* this battery's history, oldest first, then this report's reading */
	size_t n;
	int have_now; /* the last point is this report's reading */
	time_t now;   /* when this report's reading was taken */
	enum trend_forecast fc;
	double lo, hi;               /* months to 80 %, FC_RANGE */
	int open_ended;              /* the high end is the forecast's horizon, not a bound */
	double visits, cycles, days; /* the forecast's basis (< 0: not given) */
	size_t history_rows;         /* inputs.history rows in the report (all batteries) */
};
void trend_build(const json_t *r, struct trend *t);
void trend_free(struct trend *t);
/* The one sentence of the forecast in lang (malloc'd), or NULL when there is none. */
char *trend_sentence(const struct trend *t, const char *lang);
/* The forecast as the technician reads it ("6 to 10 months (based on ...)"), or NULL. */
char *trend_forecast_text(const struct trend *t, const char *lang);
/* An inline SVG of health over time with the 80 % line and the forecast interval; nothing when
 * there are fewer than two points and no interval. Returns 1 when it drew. */
int trend_svg(struct out *o, const struct trend *t, const struct rctx *x);
/* The battery gauge (inline SVG) of readings.battery.health_pct. */
void gauge_svg(struct out *o, const json_t *battery, const struct rctx *x);

/* The start of an HTML page, up to and including <main>: language, title, the view's CSS. */
void rx_html_head(const struct rctx *x, const char *css, const char *title);

/* ---- the views ---- */
void render_tech(const struct rctx *x);
void render_cust(const struct rctx *x);

#endif
