/*
 * render_tech: the technician's view of a report (report.h): everything it holds, as text for
 * the terminal and as an HTML page. The content is built once as tables of rows (the header and
 * case, the device, each fault, questions, reasons, readings, battery history, technical
 * details); the text and HTML formatters only lay them out.
 */
#include "render_int.h"

#include "i18n.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S_QUESTIONS, S_ANSWERS, S_INCOMPLETE, S_READINGS, S_HISTORY, S_TECHNICAL, S_COUNT };

struct tech {
	struct table meta, device;
	struct table sec[S_COUNT];
	const char *sec_title[S_COUNT];
	struct trend trend;
};

static void
meta_table(const struct rctx *x, struct table *t)
{
	const json_t *r = x->r, *c = json_object_get(r, "case"), *bench = json_object_get(r, "bench");
	char when[128];
	double rev;

	tbl_add(t, rx_label(x, "report_id"), ROW_TECH, rx_str(r, "report_id"));
	rx_time(x, rx_str(r, "created_at"), when, sizeof(when));
	if (rx_str(r, "created_at") != NULL && strcmp(when, rx_str(r, "created_at")) != 0)
		tbl_addf(t, rx_label(x, "created"), 0, "%s (%s)", when, rx_str(r, "created_at"));
	else
		tbl_add(t, rx_label(x, "created"), 0, rx_str(r, "created_at"));
	tbl_add(t, rx_label(x, "bench"), 0, rx_str(bench, "id"));
	tbl_add(t, rx_label(x, "ticket"), 0, rx_str(c, "ticket"));
	tbl_add(t, rx_label(x, "case_id"), ROW_TECH, rx_str(c, "case_id"));
	if (rx_num(c, "revision", &rev))
		tbl_addf(t, rx_label(x, "revision"), 0, "%.0f", rev);
	tbl_add(t, rx_label(x, "supersedes"), ROW_TECH, rx_str(c, "supersedes"));
	tbl_addf(t, rx_label(x, "signature"), 0, "%s · Ed25519 · %s %s",
	         rx_label(x, x->op->verified ? "verified" : "not_verified"), rx_label(x, "key_id"),
	         x->op->kid != NULL        ? x->op->kid
	         : rx_str(bench, "key_id") ? rx_str(bench, "key_id")
	                                   : "?");
}

static void
device_table(const struct rctx *x, struct table *t)
{
	const json_t *dev = json_object_get(x->r, "device");
	const char *s, *name = rx_device_name(x);
	char when[128];

	tbl_add(t, rx_label(x, "model"), 0, name != NULL ? name : rx_label(x, "unknown_device"));
	if (rx_str(dev, "model_name") != NULL)
		tbl_add(t, rx_label(x, "product_type"), 0, rx_str(dev, "product_type"));
	tbl_add(t, rx_label(x, "serial"), 0, rx_str(dev, "serial"));
	if ((s = rx_str(dev, "ios_version")) != NULL) {
		if (rx_str(dev, "build_version") != NULL)
			tbl_addf(t, rx_label(x, "ios"), 0, "%s (%s)", s, rx_str(dev, "build_version"));
		else
			tbl_add(t, rx_label(x, "ios"), 0, s);
	}
	if ((s = rx_str(dev, "udid")) != NULL || (s = rx_str(dev, "ecid")) != NULL)
		tbl_add(t, "UDID/ECID", ROW_TECH, s);
	if ((s = rx_str(dev, "mode")) != NULL && strcmp(s, "normal") != 0)
		tbl_add(t, rx_label(x, "mode"), 0, s);
	if ((s = rx_str(json_object_get(x->r, "readings"), "captured_at")) != NULL) {
		rx_time(x, s, when, sizeof(when));
		tbl_add(t, rx_label(x, "captured"), 0, when);
	}
}

/* Evidence as recorded: key=value, in the report's (sorted) order. */
static char *
evidence_text(const json_t *ev)
{
	struct buf b;
	const char *k;
	json_t *v;
	int first = 1;

	if (!json_is_object(ev))
		return rx_value_text(ev);
	buf_init(&b, 1u << 20);
	json_object_foreach((json_t *)ev, k, v)
	{
		char *s = rx_value_text(v);
		int bad = buf_printf(&b, "%s%s=%s", first ? "" : ", ", k, s) < 0;
		free(s);
		first = 0;
		if (bad)
			break;
	}
	return b.data != NULL ? buf_take(&b, NULL) : xstrdup("");
}

static void
fault_table(const struct rctx *x, const json_t *f, const struct fault_text *ft, struct table *t)
{
	const json_t *ev = json_object_get(f, "evidence");

	if (*ft->part != '\0')
		tbl_add(t, rx_label(x, "part"), 0, ft->part);
	tbl_add(t, rx_label(x, "action"), 0, ft->action);
	if (ev != NULL) {
		char *s = evidence_text(ev);
		tbl_add(t, rx_label(x, "evidence"), ROW_TECH, s);
		free(s);
	}
	if (rx_str(f, "tree") != NULL)
		tbl_addf(t, rx_label(x, "found_by"), ROW_TECH, "%s/%s", rx_str(f, "tree"),
		         rx_str(f, "node") ? rx_str(f, "node") : "?");
}

/* A question in the chosen language (texts), else as the bench wrote it. */
static void
questions_table(const struct rctx *x, struct table *t)
{
	size_t i, j;
	const json_t *q, *cv;

	json_array_foreach(json_object_get(x->r, "questions"), i, q)
	{
		const char *text = rx_loc(json_object_get(q, "texts"), x->lang);
		struct buf b;
		if (text == NULL)
			text = rx_loc(json_object_get(q, "text"), x->lang);
		buf_init(&b, 1u << 16);
		int bad = buf_printf(&b, "%s --answer %s=", rx_label(x, "answer_with"),
		                     rx_str(q, "key") ? rx_str(q, "key") : "?") < 0;
		json_array_foreach(json_object_get(q, "choices"), j, cv)
		{
			char *c = rx_value_text(json_is_object(cv) ? json_object_get(cv, "value") : cv);
			bad |= buf_printf(&b, "%s%s", j ? "|" : "", c) < 0;
			free(c);
		}
		if (json_array_size(json_object_get(q, "choices")) == 0)
			bad |= buf_addstr(&b, "VALUE") < 0;
		(void)bad; /* capped: cut, never overrun */
		tbl_add(t, text != NULL ? text : "?", ROW_ITEM, b.data);
		buf_free(&b);
	}
}

static void
answers_table(const struct rctx *x, struct table *t)
{
	const char *k;
	json_t *v;

	json_object_foreach(json_object_get(x->r, "answers"), k, v)
	{
		char *s = rx_value_text(v);
		tbl_add(t, k, ROW_TECH, s);
		free(s);
	}
}

/* Why the outcome is incomplete: each tree's reason in the chosen language (texts), with its
 * detail as recorded; an older report without texts gives its English reason. */
static void
incomplete_table(const struct rctx *x, struct table *t)
{
	size_t i;
	const json_t *q;

	json_array_foreach(json_object_get(x->r, "incomplete"), i, q)
	{
		const char *text = rx_loc(json_object_get(q, "texts"), x->lang), *tree = rx_str(q, "tree");
		if (text == NULL)
			text = rx_str(q, "reason");
		char *label = xasprintf("%s%s%s", tree ? tree : "", tree ? ": " : "", text ? text : "?");
		tbl_add(t, label, ROW_ITEM, rx_str(q, "detail") ? rx_str(q, "detail") : "");
		free(label);
	}
}

/* Every row of inputs.history as recorded (all batteries: the trend draws only this one's), then
 * the forecast. */
static void
history_table(const struct rctx *x, const struct trend *tr, struct table *t)
{
	char *fc = trend_forecast_text(tr, x->lang);
	const json_t *row;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(x->r, "inputs"), "history"), i, row)
	{
		char date[64], h[16] = "?", c[16] = "?";
		double v;
		time_t at;
		struct tm tm;
		const char *serial = rx_str(row, "battery_serial");
		if (util_parse_rfc3339(rx_str(row, "at") ? rx_str(row, "at") : "", &at) == 0 &&
		    rx_localtime(x, at, &tm) == 0)
			i18n_date(x->lang, &tm, date, sizeof(date));
		else
			util_strlcpy(date, rx_str(row, "at") ? rx_str(row, "at") : "?", sizeof(date));
		if (rx_num(row, "health_pct", &v))
			snprintf(h, sizeof(h), "%.0f", v);
		if (rx_num(row, "cycle_count", &v))
			snprintf(c, sizeof(c), "%.0f", v);
		char *text = rx_fill(rx_label(x, "history_row"), h, c, NULL);
		if (serial != NULL)
			tbl_addf(t, date, 0, "%s (%s %s)", text, rx_label(x, "battery_serial"), serial);
		else
			tbl_add(t, date, 0, text);
		free(text);
	}
	tbl_add(t, rx_label(x, "forecast"), 0, fc);
	free(fc);
}

static void
technical_table(const struct rctx *x, struct table *t)
{
	const json_t *r = x->r, *e;
	struct buf b;
	size_t i;

	buf_init(&b, 1u << 20);
	json_array_foreach(json_object_get(r, "errors"), i, e)
	{
		if (buf_printf(&b, "%s%s: %s", i ? "\n" : "", rx_str(e, "tree") ? rx_str(e, "tree") : "?",
		               rx_str(e, "reason") ? rx_str(e, "reason") : "?") < 0)
			break;
	}
	if (b.data != NULL)
		tbl_add(t, rx_label(x, "tree_errors"), ROW_TECH | ROW_LINES, b.data);
	buf_reset(&b);
	json_array_foreach(json_object_get(r, "trees"), i, e)
	{
		char *ver = rx_value_text(json_object_get(e, "version"));
		int bad = buf_printf(&b, "%s%s %s sha256 %s", i ? "\n" : "",
		                     rx_str(e, "name") ? rx_str(e, "name") : "?", ver,
		                     rx_str(e, "sha256") ? rx_str(e, "sha256") : "?") < 0;
		free(ver);
		if (bad)
			break;
	}
	tbl_add(t, rx_label(x, "trees"), ROW_TECH | ROW_LINES, b.data != NULL ? b.data : rx_label(x, "none"));
	buf_free(&b);
	tbl_addf(t, rx_label(x, "nodes"), 0, "%zu", json_array_size(json_object_get(r, "trace")));
	tbl_add(t, rx_label(x, "snapshot"), ROW_TECH, rx_str(r, "snapshot_sha256"));
}

static void
tech_build(const struct rctx *x, struct tech *t)
{
	memset(t, 0, sizeof(*t));
	meta_table(x, &t->meta);
	device_table(x, &t->device);
	t->sec_title[S_QUESTIONS] = rx_label(x, "questions");
	questions_table(x, &t->sec[S_QUESTIONS]);
	t->sec_title[S_ANSWERS] = rx_label(x, "answers");
	answers_table(x, &t->sec[S_ANSWERS]);
	t->sec_title[S_INCOMPLETE] = rx_label(x, "incomplete_why");
	incomplete_table(x, &t->sec[S_INCOMPLETE]);
	t->sec_title[S_READINGS] = rx_label(x, "readings");
	rx_readings_table(x, &t->sec[S_READINGS]);
	trend_build(x->r, &t->trend);
	t->sec_title[S_HISTORY] = rx_label(x, "history");
	if (t->trend.history_rows > 0 || t->trend.fc != FC_NONE)
		history_table(x, &t->trend, &t->sec[S_HISTORY]);
	t->sec_title[S_TECHNICAL] = rx_label(x, "technical");
	technical_table(x, &t->sec[S_TECHNICAL]);
}

static void
tech_free(struct tech *t)
{
	tbl_free(&t->meta);
	tbl_free(&t->device);
	for (int i = 0; i < S_COUNT; i++)
		tbl_free(&t->sec[i]);
	trend_free(&t->trend);
}

static const char *
sev_label(const struct rctx *x, const char *sev)
{
	char key[32];

	if (rx_sev_rank(sev) == 4)
		return sev != NULL ? sev : "?";
	snprintf(key, sizeof(key), "sev_%s", sev);
	return rx_label(x, key);
}

/* The report file's name, not the bench's path to it: whoever verifies has their own copy. */
static const char *
file_name(const char *file)
{
	if (file == NULL)
		return "REPORT.jws.json";
	return strrchr(file, '/') != NULL ? strrchr(file, '/') + 1 : file;
}

/* ---- text ---- */

static void
tech_text(const struct rctx *x, struct tech *t)
{
	struct out *o = x->o;
	const json_t **faults;
	size_t nf;

	if (!x->op->verified) {
		out_put(o, "!! ");
		out_put(o, rx_label(x, "warning"));
		if (x->op->verify_reason != NULL) {
			out_el(o, " (", x->op->verify_reason, ")");
		}
		out_put(o, "\n\n");
	}
	out_putf(o, "%s\n", rx_label(x, "title"));
	tbl_write(o, &t->meta, 2);
	out_putf(o, "\n%s\n", rx_label(x, "device"));
	tbl_write(o, &t->device, 2);
	out_putf(o, "%s%s%s\n", rx_label(x, "result"), o->colon, rx_outcome_label(x));

	faults = rx_sorted_faults(x->r, &nf);
	out_putf(o, "\n%s (%zu)\n", rx_label(x, "faults"), nf);
	if (nf == 0)
		out_putf(o, "  %s\n", rx_label(x, "no_faults"));
	for (size_t i = 0; i < nf; i++) {
		struct fault_text ft;
		struct table ftab = {0};
		rx_fault_text(x, faults[i], 0, &ft);
		out_putf(o, "  %zu. [%s] ", i + 1, sev_label(x, ft.sev));
		out_esc(o, ft.code);
		out_el(o, " ", ft.title, "\n");
		fault_table(x, faults[i], &ft, &ftab);
		tbl_write(o, &ftab, 5);
		tbl_free(&ftab);
	}
	free(faults);
	for (int s = 0; s < S_COUNT; s++) {
		if (t->sec[s].n == 0)
			continue;
		out_putf(o, "\n%s\n", t->sec_title[s]);
		tbl_write(o, &t->sec[s], 2);
	}
	out_putf(o, "\n%s%sbenchctl report verify ", rx_label(x, "how_verify_cmd"), o->colon);
	out_esc(o, file_name(x->op->file));
	out_put(o, "\n");
}

/* ---- HTML ---- */

static const char tech_css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans','Noto Sans CJK SC',sans-serif;"
    "color:#1d1d1f;background:#f5f5f7;margin:0;padding:24px;line-height:1.45}"
    "main{max-width:860px;margin:0 auto;background:#fff;border-radius:12px;padding:28px 32px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.08)}"
    "h1{font-size:1.6em;margin:0 0 8px}h2{font-size:1.15em;margin:26px 0 8px;border-bottom:1px solid #ddd;"
    "padding-bottom:4px}"
    ".warn{background:#ffe5e5;border:2px solid #d70015;color:#a0000f;padding:12px 16px;border-radius:8px;"
    "font-weight:600;margin-bottom:18px}"
    ".outcome{display:inline-block;padding:6px 14px;border-radius:999px;font-weight:600;margin-top:10px}"
    ".outcome.pass{background:#e3f6e8;color:#0a6b2c}.outcome.fail{background:#ffe8e5;color:#a3190a}"
    ".outcome.incomplete{background:#fff4d6;color:#7a5400}"
    ".device{display:flex;gap:24px;align-items:center}.device>div:first-child{flex:1}"
    ".fault{border:1px solid #e0e0e3;border-left:6px solid #8e8e93;border-radius:8px;padding:10px 14px;"
    "margin:10px 0;break-inside:avoid}"
    ".fault.critical{border-left-color:#d70015}.fault.major{border-left-color:#f56300}"
    ".fault.minor{border-left-color:#c9a000}.fault.info{border-left-color:#0071e3}"
    ".fault h3{margin:0 0 4px;font-size:1.05em}.fault p{margin:0 0 6px}"
    ".code{font-family:ui-monospace,monospace;color:#6e6e73;font-weight:400;margin-left:6px}"
    ".sev{font-size:.8em;text-transform:uppercase;letter-spacing:.04em;color:#6e6e73}"
    ".tech{font-family:ui-monospace,monospace;font-size:.82em;color:#424245;word-break:break-all}"
    "table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:3px 8px;border-bottom:1px "
    "solid #eee;vertical-align:top}th{color:#6e6e73;font-weight:400;width:30%}"
    "code{font-family:ui-monospace,monospace;background:#f0f0f2;padding:1px 5px;border-radius:4px;"
    "word-break:break-all}"
    "footer{margin-top:24px;font-size:.85em;color:#6e6e73}"
    "@media print{body{background:#fff;padding:0}main{box-shadow:none;max-width:none;padding:0}"
    ".fault,.device,tr{break-inside:avoid}h2{break-after:avoid}}"
    "@page{size:A4;margin:14mm}";

static void
tech_html(const struct rctx *x, struct tech *t)
{
	struct out *o = x->o;
	const json_t **faults;
	size_t nf;

	rx_html_head(x, tech_css, rx_label(x, "title"));
	if (!x->op->verified) {
		out_put(o, "<div class=\"warn\" role=\"alert\">");
		out_esc(o, rx_label(x, "warning"));
		if (x->op->verify_reason != NULL) {
			out_el(o, "<br/><span class=\"tech\">", x->op->verify_reason, "</span>");
		}
		out_put(o, "</div>\n");
	}
	out_el(o, "<header>\n<h1>", rx_label(x, "title"), "</h1>\n<table class=\"meta\">");
	tbl_write(o, &t->meta, 0);
	out_el(o, "</table>\n</header>\n<section class=\"device\">\n<div>\n<h2>", rx_label(x, "device"),
	       "</h2>\n<table>");
	tbl_write(o, &t->device, 0);
	out_putf(o, "</table>\n<p><span class=\"outcome %s\">", rx_outcome(x->r));
	out_esc(o, rx_label(x, "result"));
	out_esc(o, o->colon);
	out_esc(o, rx_outcome_label(x));
	out_put(o, "</span></p>\n</div>\n<div>");
	gauge_svg(o, json_object_get(json_object_get(x->r, "readings"), "battery"), x);
	out_put(o, "</div>\n</section>\n");

	faults = rx_sorted_faults(x->r, &nf);
	out_put(o, "<section>\n<h2>");
	out_esc(o, rx_label(x, "faults"));
	out_putf(o, " (%zu)</h2>\n", nf);
	if (nf == 0) {
		out_el(o, "<p>", rx_label(x, "no_faults"), "</p>\n");
	}
	for (size_t i = 0; i < nf; i++) {
		struct fault_text ft;
		struct table ftab = {0};
		rx_fault_text(x, faults[i], 0, &ft);
		out_putf(o, "<article class=\"fault %s\">\n<div class=\"sev\">",
		         rx_sev_rank(ft.sev) < 4 ? ft.sev : "info");
		out_esc(o, sev_label(x, ft.sev));
		out_el(o, "</div>\n<h3>", ft.title != NULL ? ft.title : ft.code, "<span class=\"code\">");
		out_esc(o, ft.code);
		out_put(o, "</span></h3>\n");
		if (ft.customer != NULL) {
			out_el(o, "<p>", ft.customer, "</p>\n");
		}
		fault_table(x, faults[i], &ft, &ftab);
		out_put(o, "<table>");
		tbl_write(o, &ftab, 0);
		out_put(o, "</table>\n</article>\n");
		tbl_free(&ftab);
	}
	free(faults);
	out_put(o, "</section>\n");
	for (int s = 0; s < S_COUNT; s++) {
		if (t->sec[s].n == 0)
			continue;
		out_el(o, "<section>\n<h2>", t->sec_title[s], "</h2>\n");
		if (s == S_HISTORY)
			trend_svg(o, &t->trend, x);
		out_put(o, "<table>");
		tbl_write(o, &t->sec[s], 0);
		out_put(o, "</table>\n</section>\n");
	}
	out_el(o, "<footer>\n<h2>", rx_label(x, "how_verify"), "</h2>\n<p>");
	out_esc(o, rx_label(x, "verify_text"));
	out_el(o, "</p>\n<p><code>benchctl report verify ", file_name(x->op->file), "</code></p>\n<p>");
	out_esc(o, rx_str(json_object_get(x->r, "bench"), "software"));
	out_put(o, "</p>\n</footer>\n</main>\n</body>\n</html>\n");
}

void
render_tech(const struct rctx *x)
{
	struct tech t;

	tech_build(x, &t);
	if (x->o->html)
		tech_html(x, &t);
	else
		tech_text(x, &t);
	tech_free(&t);
}
