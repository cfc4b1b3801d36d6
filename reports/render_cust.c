/*
 * render_cust: the customer's view of a report (report.h, DESIGN.md 4.8): one printed A4 page
 * in plain words, as HTML (the page the shop prints or shows) and as text. What it says is built
 * once (struct cust): one sentence first, the parts to replace once, the findings grouped under
 * their part, the battery and its trend, the report id and a note that the report is signed.
 * It never shows evidence, hashes, tree names, sources or command lines: only the catalogue's
 * customer texts and part names, the device, the readings a customer sees in Settings, dates.
 */
#include "render_int.h"

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct finding {
	const char *sev;  /* critical, major, minor, info */
	const char *text; /* the catalogue's customer text (else the title, else the code) */
	const char *code;
	char *note; /* "possible cause: ..." for a finding still to check, or NULL */
};

struct group {
	enum part_kind kind;
	const char *key; /* the English part (PART_REPLACE) */
	char part[512];  /* in the page's language and words */
	size_t order;    /* first seen (faults come most severe first) */
	struct finding *f;
	size_t n;
};

struct cust {
	char *headline;
	const char *headline_class; /* pass, fail, incomplete */
	char *why;                  /* why it is incomplete, when no finding says so */
	struct group *g;
	size_t ng, nreplace;
	char *parts; /* the parts to replace, listed once */
	char when[128];
	struct trend trend;
	char *forecast; /* the trend's sentence */
	double health, cycles;
	int have_health, have_cycles;
};

static struct group *
group_for(struct cust *c, enum part_kind kind, const char *key, const char *part)
{
	for (size_t i = 0; i < c->ng; i++)
		if (c->g[i].kind == kind && (kind != PART_REPLACE || strcmp(c->g[i].key, key) == 0))
			return &c->g[i];
	c->g = xrealloc(c->g, (c->ng + 1) * sizeof(*c->g));
	struct group *g = &c->g[c->ng++];
	memset(g, 0, sizeof(*g));
	g->kind = kind;
	g->key = key;
	g->order = c->ng - 1;
	util_strlcpy(g->part, part, sizeof(g->part));
	return g;
}

static void
add_finding(const struct rctx *x, struct cust *c, const struct fault_text *ft)
{
	const char *text = ft->customer != NULL ? ft->customer : ft->title != NULL ? ft->title : ft->code;
	struct group *g;

	if (text == NULL)
		return; /* a fault without even a code says nothing to a customer */
	g = group_for(c, ft->kind, ft->part_key != NULL ? ft->part_key : "", ft->part);
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->f[i].text, text) == 0)
			return; /* the same finding twice (two panics naming one part): said once */
	g->f = xrealloc(g->f, (g->n + 1) * sizeof(*g->f));
	g->f[g->n].sev = ft->sev;
	g->f[g->n].text = text;
	g->f[g->n].code = ft->code;
	g->f[g->n].note = ft->kind == PART_CHECK && !ft->vague && *ft->part != '\0'
	                      ? rx_fill(rx_label(x, "possible_cause"), ft->part, NULL, NULL)
	                      : NULL;
	g->n++;
}

/* Groups in the page's order: parts to replace (the most severe finding first, then the one
 * with the most findings), then what is still to be checked, then advice. */
static int
group_cmp(const void *a, const void *b)
{
	const struct group *ga = a, *gb = b;
	int ra = rx_sev_rank(ga->f[0].sev), rb = rx_sev_rank(gb->f[0].sev);

	if (ga->kind != gb->kind)
		return (int)ga->kind - (int)gb->kind;
	if (ra != rb)
		return ra - rb;
	if (ga->n != gb->n)
		return ga->n > gb->n ? -1 : 1;
	return (ga->order > gb->order) - (ga->order < gb->order);
}

static char *
join_parts(const struct rctx *x, const struct cust *c)
{
	struct buf b;
	int first = 1;

	buf_init(&b, 1u << 16);
	for (size_t i = 0; i < c->ng; i++) {
		if (c->g[i].kind != PART_REPLACE)
			continue;
		int bad = buf_addstr(&b, first ? "" : rx_label(x, "list_sep")) < 0 ||
		          buf_addstr(&b, c->g[i].part) < 0;
		(void)bad; /* capped: cut, never overrun */
		first = 0;
	}
	return b.data != NULL ? buf_take(&b, NULL) : NULL;
}

static char *
headline(const struct rctx *x, const struct cust *c)
{
	const char *outcome = rx_outcome(x->r), *name = rx_device_name(x);
	const char *dev = name != NULL ? name : rx_label(x, "your_phone");
	char n[24];

	if (strcmp(outcome, "incomplete") == 0) {
		int waiting = json_array_size(json_object_get(x->r, "questions")) > 0 &&
		              json_array_size(json_object_get(x->r, "incomplete")) == 0 &&
		              json_array_size(json_object_get(x->r, "errors")) == 0;
		return rx_fill(rx_label(x, waiting ? "head_waiting" : "head_incomplete"), dev, NULL, NULL);
	}
	if (strcmp(outcome, "pass") == 0)
		return rx_fill(rx_label(x, "head_pass"), dev, NULL, NULL);
	if (c->nreplace == 1) {
		for (size_t i = 0; i < c->ng; i++)
			if (c->g[i].kind == PART_REPLACE)
				return strcmp(c->g[i].key, "battery") == 0
				           ? rx_fill(rx_label(x, "head_battery"), dev, NULL, NULL)
				           : rx_fill(rx_label(x, "head_one_part"), dev, c->g[i].part, NULL);
	}
	if (c->nreplace > 1) {
		snprintf(n, sizeof(n), "%zu", c->nreplace);
		return rx_fill(rx_label(x, "head_parts"), dev, n, NULL);
	}
	for (size_t i = 0; i < c->ng; i++)
		if (c->g[i].kind == PART_CHECK)
			return rx_fill(rx_label(x, "head_check"), dev, NULL, NULL);
	return rx_fill(rx_label(x, "head_attention"), dev, NULL, NULL);
}

/* Whether a finding with no part came from tree: its customer text then already says why the
 * tree could not finish (SYS-003: the phone is locked). */
static int
explained_by_finding(const struct rctx *x, const char *tree)
{
	size_t i;
	const json_t *f;

	json_array_foreach(json_object_get(x->r, "faults"), i, f)
	{
		struct fault_text ft;
		if (tree == NULL || rx_str(f, "tree") == NULL || strcmp(rx_str(f, "tree"), tree) != 0)
			continue;
		rx_fault_text(x, f, 1, &ft);
		if (ft.kind == PART_NONE)
			return 1;
	}
	return 0;
}

/* The reasons a check could not finish, in the page's language (an older report without texts
 * gives its English reason), but for those a finding already explains. */
static char *
why_incomplete(const struct rctx *x)
{
	struct buf b;
	size_t i;
	const json_t *q;

	buf_init(&b, 1u << 16);
	json_array_foreach(json_object_get(x->r, "incomplete"), i, q)
	{
		const char *t = rx_loc(json_object_get(q, "texts"), x->lang);
		if (explained_by_finding(x, rx_str(q, "tree")))
			continue;
		if (t == NULL)
			t = rx_str(q, "reason");
		if (t != NULL && (buf_addstr(&b, b.len ? "; " : "") < 0 || buf_addstr(&b, t) < 0))
			break;
	}
	return b.data != NULL ? buf_take(&b, NULL) : NULL;
}

static void
cust_build(const struct rctx *x, struct cust *c)
{
	const json_t *bat = json_object_get(json_object_get(x->r, "readings"), "battery");
	const json_t **faults;
	size_t nf;

	memset(c, 0, sizeof(*c));
	faults = rx_sorted_faults(x->r, &nf);
	for (size_t i = 0; i < nf; i++) {
		struct fault_text ft;
		rx_fault_text(x, faults[i], 1, &ft);
		add_finding(x, c, &ft);
	}
	free(faults);
	if (c->ng > 1)
		qsort(c->g, c->ng, sizeof(*c->g), group_cmp);
	for (size_t i = 0; i < c->ng; i++)
		c->nreplace += c->g[i].kind == PART_REPLACE;
	c->parts = join_parts(x, c);
	c->headline = headline(x, c);
	c->headline_class = rx_outcome(x->r);
	if (strcmp(c->headline_class, "incomplete") == 0)
		c->why = why_incomplete(x);
	rx_time(x, rx_str(x->r, "created_at"), c->when, sizeof(c->when));
	trend_build(x->r, &c->trend);
	c->forecast = trend_sentence(&c->trend, x->lang);
	c->have_health = rx_num(bat, "health_pct", &c->health);
	c->have_cycles = rx_num(bat, "cycle_count", &c->cycles);
}

static void
cust_free(struct cust *c)
{
	for (size_t i = 0; i < c->ng; i++) {
		for (size_t j = 0; j < c->g[i].n; j++)
			free(c->g[i].f[j].note);
		free(c->g[i].f);
	}
	free(c->g);
	free(c->headline);
	free(c->why);
	free(c->parts);
	free(c->forecast);
	trend_free(&c->trend);
}

static const char *
group_title(const struct rctx *x, const struct group *g)
{
	return g->kind == PART_REPLACE ? g->part
	                               : rx_label(x, g->kind == PART_CHECK ? "group_check" : "group_advice");
}

/* A name as a heading or a label: its first letter in upper case. */
static void
put_cap(struct out *o, const char *s)
{
	char *c = xstrdup(s);

	rx_cap_first(c);
	out_esc(o, c);
	free(c);
}

static const char *
sev_word(const struct rctx *x, const char *sev)
{
	static const char *const keys[] = {"cust_sev_critical", "cust_sev_major", "cust_sev_minor",
	                                   "cust_sev_info", "cust_sev_info"};

	return rx_label(x, keys[rx_sev_rank(sev)]);
}

/* ---- text ---- */

static void
cust_text(const struct rctx *x, const struct cust *c)
{
	struct out *o = x->o;
	const json_t *r = x->r;
	const char *s, *name = rx_device_name(x);

	if (!x->op->verified)
		out_putf(o, "!! %s\n\n", rx_label(x, "warning"));
	if (x->op->shop_name != NULL && *x->op->shop_name) {
		out_esc(o, x->op->shop_name);
		out_put(o, "\n");
	}
	if (x->op->shop_contact != NULL && *x->op->shop_contact) {
		out_esc(o, x->op->shop_contact);
		out_put(o, "\n");
	}
	if ((x->op->shop_name != NULL && *x->op->shop_name) ||
	    (x->op->shop_contact != NULL && *x->op->shop_contact))
		out_put(o, "\n");
	{
		char *checked = rx_fill(rx_label(x, "checked_on"), c->when, NULL, NULL);
		out_putf(o, "%s · ", rx_label(x, "cust_title"));
		out_esc(o, checked);
		free(checked);
	}
	if ((s = rx_str(json_object_get(r, "case"), "ticket")) != NULL) {
		out_putf(o, " · %s%s", rx_label(x, "ticket"), o->colon);
		out_esc(o, s);
	}
	out_put(o, "\n");
	out_esc(o, name != NULL ? name : rx_label(x, "unknown_device"));
	if ((s = rx_str(json_object_get(r, "device"), "serial")) != NULL) {
		out_putf(o, " · %s%s", rx_label(x, "serial"), o->colon);
		out_esc(o, s);
	}
	out_el(o, "\n\n", c->headline, "\n");
	if (c->why != NULL) {
		out_putf(o, "%s%s", rx_label(x, "why"), o->colon);
		out_esc(o, c->why);
		out_put(o, "\n");
	}
	if (c->parts != NULL) {
		out_putf(o, "\n%s%s", rx_label(x, c->nreplace > 1 ? "parts" : "part"), o->colon);
		out_esc(o, c->parts);
		out_put(o, "\n");
	}
	out_putf(o, "\n%s\n", rx_label(x, "found"));
	if (c->ng == 0)
		out_putf(o, "  %s\n", rx_label(x, "nothing_found"));
	for (size_t i = 0; i < c->ng; i++) {
		out_put(o, "  ");
		put_cap(o, group_title(x, &c->g[i]));
		out_put(o, "\n");
		for (size_t j = 0; j < c->g[i].n; j++) {
			const struct finding *f = &c->g[i].f[j];
			out_put(o, "    - ");
			if (c->g[i].kind != PART_CHECK)
				out_putf(o, "[%s] ", sev_word(x, f->sev));
			out_esc(o, f->text);
			if (f->note != NULL) {
				out_el(o, " (", f->note, ")");
			}
			out_put(o, "\n");
		}
	}
	if (c->have_health || c->forecast != NULL) {
		out_putf(o, "\n%s\n", rx_label(x, "battery"));
		if (c->have_health)
			out_putf(o, "  %s%s%.0f %%\n", rx_label(x, "battery_health"), o->colon, c->health);
		if (c->have_cycles)
			out_putf(o, "  %s%s%.0f\n", rx_label(x, "cycles"), o->colon, c->cycles);
		if (c->forecast != NULL) {
			out_el(o, "  ", c->forecast, "\n");
		}
	}
	out_putf(o, "\n%s ", rx_label(x, "report_id"));
	out_esc(o, rx_str(r, "report_id"));
	out_putf(o, "\n%s\n", rx_label(x, "signed_note"));
}

/* ---- HTML ---- */

static const char cust_css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans','Noto Sans CJK SC',sans-serif;"
    "color:#1d1d1f;background:#f5f5f7;margin:0;padding:24px;line-height:1.4}"
    "main{max-width:760px;margin:0 auto;background:#fff;border-radius:12px;padding:26px 30px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.08)}"
    ".warn{background:#ffe5e5;border:2px solid #d70015;color:#a0000f;padding:10px 14px;border-radius:8px;"
    "font-weight:600;margin-bottom:14px}"
    ".shop{display:flex;justify-content:space-between;align-items:flex-start;gap:16px;"
    "border-bottom:2px solid #1d1d1f;padding-bottom:10px}"
    ".shopname{font-size:1.35em;font-weight:700}.contact{color:#6e6e73;font-size:.9em}"
    ".doc{text-align:right;font-size:.9em;color:#424245;white-space:nowrap}.doctitle{font-weight:700;color:#"
    "1d1d1f}"
    "h1{font-size:1.5em;line-height:1.25;margin:16px 0 4px}h1.pass{color:#0a6b2c}h1.fail{color:#a3190a}"
    "h1.incomplete{color:#7a5400}"
    ".devline{color:#6e6e73;margin:0 0 10px}.why{margin:6px 0 10px}"
    ".replace{background:#f5f5f7;border-radius:8px;padding:8px 12px;margin:10px 0 12px}"
    ".replace .k{font-weight:600;margin-right:6px}"
    ".replace .part{display:inline-block;background:#1d1d1f;color:#fff;border-radius:999px;padding:1px 10px;"
    "margin:2px 4px 2px 0;font-weight:600}"
    ".battery{display:flex;gap:16px;align-items:center;border:1px solid #e5e5ea;border-radius:10px;"
    "padding:8px 12px;margin:6px 0 12px;break-inside:avoid}"
    ".battery .facts{font-size:.92em;color:#424245}.battery .trend-box{flex:1;min-width:0}"
    ".battery svg.trend{width:100%;height:auto;max-width:460px}"
    ".forecast{margin:2px 0 0;font-weight:600}"
    "h2{font-size:1.1em;margin:12px 0 6px}"
    ".group{margin:0 0 8px;break-inside:avoid}.group h3{font-size:1em;margin:0 0 2px}"
    ".group ul{margin:0;padding:0;list-style:none}"
    ".group li{padding:3px 0 3px 10px;border-left:4px solid #8e8e93;margin:4px 0}"
    "li.critical{border-left-color:#d70015}li.major{border-left-color:#f56300}"
    "li.minor{border-left-color:#c9a000}li.info{border-left-color:#0071e3}"
    ".sev{font-size:.75em;text-transform:uppercase;letter-spacing:.04em;color:#6e6e73;font-weight:700;"
    "margin-right:6px}.note{color:#6e6e73}"
    "footer{margin-top:12px;border-top:1px solid #e5e5ea;padding-top:8px;font-size:.82em;color:#6e6e73}"
    ".rid{font-family:ui-monospace,monospace}"
    "@media print{body{background:#fff;padding:0;font-size:10pt;line-height:1.35}"
    "main{box-shadow:none;max-width:none;padding:0;border-radius:0}h1{margin-top:12px}"
    ".group li{margin:2px 0}.battery svg.gauge{width:150px;height:92px}}"
    "@page{size:A4;margin:12mm 14mm}";

static void
cust_html(const struct rctx *x, const struct cust *c)
{
	struct out *o = x->o;
	const json_t *r = x->r, *bat = json_object_get(json_object_get(r, "readings"), "battery");
	const char *s, *name = rx_device_name(x);
	const char *shop = x->op->shop_name, *contact = x->op->shop_contact;

	rx_html_head(x, cust_css, rx_label(x, "cust_title"));
	if (!x->op->verified) {
		out_el(o, "<div class=\"warn\" role=\"alert\">", rx_label(x, "warning"), "</div>\n");
	}
	out_put(o, "<header class=\"shop\">\n<div>");
	if (shop != NULL && *shop) {
		out_el(o, "<div class=\"shopname\">", shop, "</div>");
	}
	if (contact != NULL && *contact) {
		out_el(o, "<div class=\"contact\">", contact, "</div>");
	}
	out_el(o, "</div>\n<div class=\"doc\"><div class=\"doctitle\">", rx_label(x, "cust_title"),
	       "</div><div>");
	{
		char *checked = rx_fill(rx_label(x, "checked_on"), c->when, NULL, NULL);
		out_esc(o, checked);
		free(checked);
	}
	out_put(o, "</div>");
	if ((s = rx_str(json_object_get(r, "case"), "ticket")) != NULL) {
		out_put(o, "<div>");
		out_esc(o, rx_label(x, "ticket"));
		out_esc(o, o->colon);
		out_el(o, "<b>", s, "</b></div>");
	}
	out_put(o, "</div>\n</header>\n");

	out_putf(o, "<h1 class=\"%s\">", c->headline_class);
	out_esc(o, c->headline);
	out_put(o, "</h1>\n<p class=\"devline\">");
	out_esc(o, name != NULL ? name : rx_label(x, "unknown_device"));
	if ((s = rx_str(json_object_get(r, "device"), "serial")) != NULL) {
		out_el(o, " · ", rx_label(x, "serial"), " ");
		out_esc(o, s);
	}
	out_put(o, "</p>\n");
	if (c->why != NULL) {
		out_put(o, "<p class=\"why\"><b>");
		out_esc(o, rx_label(x, "why"));
		out_esc(o, rx_label(x, "colon_eol"));
		out_el(o, "</b> ", c->why, "</p>\n");
	}
	if (c->parts != NULL) {
		out_el(o, "<div class=\"replace\"><span class=\"k\">",
		       rx_label(x, c->nreplace > 1 ? "parts" : "part"), "</span>");
		for (size_t i = 0; i < c->ng; i++) {
			if (c->g[i].kind != PART_REPLACE)
				continue;
			out_put(o, "<span class=\"part\">");
			put_cap(o, c->g[i].part);
			out_put(o, "</span>");
		}
		out_put(o, "</div>\n");
	}
	if (c->have_health || c->forecast != NULL || c->trend.n >= 2) {
		out_put(o, "<section class=\"battery\">\n<div>");
		gauge_svg(o, bat, x);
		if (c->have_cycles) {
			out_put(o, "<div class=\"facts\">");
			out_esc(o, rx_label(x, "cycles"));
			out_esc(o, o->colon);
			out_putf(o, "%.0f</div>", c->cycles);
		}
		out_put(o, "</div>\n<div class=\"trend-box\">");
		trend_svg(o, &c->trend, x);
		if (c->forecast != NULL) {
			out_el(o, "<p class=\"forecast\">", c->forecast, "</p>");
		}
		out_put(o, "</div>\n</section>\n");
	}
	out_el(o, "<section class=\"found\">\n<h2>", rx_label(x, "found"), "</h2>\n");
	if (c->ng == 0) {
		out_el(o, "<p>", rx_label(x, "nothing_found"), "</p>\n");
	}
	for (size_t i = 0; i < c->ng; i++) {
		out_put(o, "<div class=\"group\"><h3>");
		put_cap(o, group_title(x, &c->g[i]));
		out_put(o, "</h3><ul>");
		for (size_t j = 0; j < c->g[i].n; j++) {
			const struct finding *f = &c->g[i].f[j];
			out_putf(o, "<li class=\"%s\">", rx_sev_rank(f->sev) < 4 ? f->sev : "info");
			if (c->g[i].kind != PART_CHECK) {
				out_el(o, "<span class=\"sev\">", sev_word(x, f->sev), "</span>");
			}
			out_esc(o, f->text);
			if (f->note != NULL) {
				out_el(o, " <span class=\"note\">(", f->note, ")</span>");
			}
			out_put(o, "</li>");
		}
		out_put(o, "</ul></div>\n");
	}
	out_el(o, "</section>\n<footer>", rx_label(x, "report_id"), " <span class=\"rid\">");
	out_esc(o, rx_str(r, "report_id"));
	out_el(o, "</span> · ", rx_label(x, "signed_note"), "</footer>\n</main>\n</body>\n</html>\n");
}

void
render_cust(const struct rctx *x)
{
	struct cust c;

	cust_build(x, &c);
	if (x->o->html)
		cust_html(x, &c);
	else
		cust_text(x, &c);
	cust_free(&c);
}
