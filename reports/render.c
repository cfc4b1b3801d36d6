/*
 * render: a report as text (the technician's terminal), HTML (the customer's printable page,
 * self-contained: inline CSS and SVG, no external asset) or pretty JSON. Labels come from i18n.c,
 * fault titles, actions and customer text from the catalogue in the chosen language; technical
 * evidence is shown as recorded. Every string from the report is escaped for its medium: HTML
 * escaping in the page, control characters made visible on the terminal.
 */
#include "report.h"

#include "buf.h"
#include "engine.h"
#include "i18n.h"
#include "util.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RENDER_MAX    (64u << 20)
#define CATALOGUE_MAX (8u << 20)

struct out {
	struct buf b;
	int html;
	int failed;
};

static void
put(struct out *o, const char *s)
{
	if (buf_addstr(&o->b, s) < 0)
		o->failed = 1;
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
putf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->failed = 1;
		return;
	}
	put(o, s);
	free(s);
}

/* A string from the report: HTML-escaped, or with control characters made visible. */
static void
esc(struct out *o, const char *s)
{
	char tmp[16];

	if (s == NULL)
		return;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *rep = NULL;
		if (o->html) {
			switch (c) {
			case '&':
				rep = "&amp;";
				break;
			case '<':
				rep = "&lt;";
				break;
			case '>':
				rep = "&gt;";
				break;
			case '"':
				rep = "&quot;";
				break;
			case '\'':
				rep = "&#39;";
				break;
			default:
				/* Control characters are not allowed in a well-formed page. */
				if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
					rep = "\xEF\xBF\xBD";
			}
		} else if ((c < 0x20 && c != '\n') || c == 0x7f) {
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
			rep = tmp;
		} else if (c == 0xC2 && (unsigned char)s[1] >= 0x80 && (unsigned char)s[1] <= 0x9F) {
			/* C1 controls (U+0080..U+009F, e.g. CSI) act as escapes on some terminals. */
			snprintf(tmp, sizeof(tmp), "\\u%04x", (unsigned char)s[1]);
			put(o, tmp);
			s++;
			continue;
		}
		if (rep != NULL) {
			put(o, rep);
		} else if (buf_add(&o->b, s, 1) < 0) {
			o->failed = 1;
		}
	}
}

static const char *
str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* A localised string from the catalogue: an object {en,it,fr,zh} or a plain string. */
static const char *
loc(const json_t *v, const char *lang)
{
	const char *s;

	if (json_is_string(v))
		return json_string_value(v);
	if (!json_is_object(v))
		return NULL;
	s = str(v, lang);
	return s != NULL ? s : str(v, "en");
}

/* Replace the two %s of a label with a and b (labels are data, not format strings). */
static char *
fill2(const char *fmt, const char *a, const char *b)
{
	struct buf x;
	const char *p = fmt, *q;
	const char *args[2] = {a, b};
	int i = 0, bad = 0;

	buf_init(&x, 4096);
	while ((q = strstr(p, "%s")) != NULL) {
		bad |= buf_add(&x, p, (size_t)(q - p)) < 0;
		bad |= buf_addstr(&x, i < 2 ? args[i] : "") < 0;
		i++;
		p = q + 2;
	}
	bad |= buf_addstr(&x, p) < 0;
	if (bad) {
		buf_free(&x);
		return xstrdup(fmt);
	}
	return buf_take(&x, NULL);
}

static const char *
lbl(const char *lang, const char *key)
{
	return i18n_label(lang, key);
}

static int
sev_rank(const char *sev)
{
	static const char *const order[] = {"critical", "major", "minor", "info"};

	for (int i = 0; i < 4; i++)
		if (sev != NULL && strcmp(sev, order[i]) == 0)
			return i;
	return 4;
}

static const char *
sev_label(const char *lang, const char *sev)
{
	char key[32];
	int r = sev_rank(sev);

	if (r == 4)
		return sev != NULL ? sev : "?";
	snprintf(key, sizeof(key), "sev_%s", sev);
	return lbl(lang, key);
}

/* Faults sorted by severity (critical first), stable. Returns a new array of borrowed items. */
static const json_t **
sorted_faults(const json_t *faults, size_t *n)
{
	size_t cnt = json_array_size(faults), k = 0;
	const json_t **v = xcalloc(cnt + 1, sizeof(*v));

	for (int rank = 0; rank <= 4; rank++) {
		size_t i;
		json_t *f;
		json_array_foreach(faults, i, f)
		{
			if (sev_rank(str(f, "severity")) == rank)
				v[k++] = f;
		}
	}
	*n = k;
	return v;
}

/* Scalars as text; objects and arrays as compact JSON. */
static char *
value_text(const json_t *v)
{
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v))
		return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	if (json_is_real(v))
		return xasprintf("%.6g", json_real_value(v));
	if (json_is_true(v))
		return xstrdup("true");
	if (json_is_false(v))
		return xstrdup("false");
	if (json_is_null(v))
		return xstrdup("null");
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	char *r = xstrdup(s ? s : "?");
	free(s);
	return r;
}

static void
evidence(struct out *o, const json_t *ev)
{
	const char *k;
	json_t *v;
	int first = 1;

	if (!json_is_object(ev)) {
		char *s = value_text(ev);
		esc(o, s);
		free(s);
		return;
	}
	json_object_foreach((json_t *)ev, k, v)
	{
		char *s = value_text(v);
		if (!first)
			put(o, ", ");
		esc(o, k);
		put(o, "=");
		esc(o, s);
		free(s);
		first = 0;
	}
}

static const char *
outcome_label(const char *lang, const char *outcome)
{
	if (outcome != NULL && strcmp(outcome, "pass") == 0)
		return lbl(lang, "outcome_pass");
	if (outcome != NULL && strcmp(outcome, "fail") == 0)
		return lbl(lang, "outcome_fail");
	return lbl(lang, "outcome_incomplete");
}

static int
num(const json_t *obj, const char *key, double *out)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_number(v))
		return 0;
	*out = json_number_value(v);
	return 1;
}

static char *
gb(double bytes)
{
	return xasprintf("%.1f GB", bytes / 1e9);
}

/* Catalogue entries for the report's faults. */
struct cat {
	json_t *root;
	const json_t *codes;
};

static void
cat_load(struct cat *c, const char *path)
{
	char *data = NULL;
	size_t len = 0;

	memset(c, 0, sizeof(*c));
	if (path == NULL || util_read_file(path, CATALOGUE_MAX, &data, &len) < 0)
		return;
	c->root = json_loadb(data, len, 0, NULL);
	free(data);
	c->codes = json_object_get(c->root, "codes");
}

struct fault_text {
	const char *code, *sev, *title, *part, *action, *customer;
};

static void
fault_text(const struct cat *c, const json_t *f, const char *lang, struct fault_text *t)
{
	const json_t *e;

	t->code = str(f, "code");
	e = t->code != NULL ? json_object_get(c->codes, t->code) : NULL;
	t->sev = str(f, "severity");
	t->title = loc(json_object_get(e, "title"), lang);
	if (t->title == NULL)
		t->title = loc(json_object_get(f, "title"), lang);
	t->part = loc(json_object_get(e, "part"), lang);
	if (t->part == NULL)
		t->part = loc(json_object_get(f, "part"), lang);
	t->action = loc(json_object_get(e, "action"), lang);
	t->customer = loc(json_object_get(e, "customer"), lang);
	if (t->sev == NULL)
		t->sev = str(e, "severity");
}

static const char *
device_name(const json_t *dev, const char *lang)
{
	const char *n = str(dev, "model_name");

	if (n == NULL)
		n = str(dev, "product_type");
	return n != NULL ? n : lbl(lang, "unknown_device");
}

/* ---- text ---------------------------------------------------------------------------------- */

static void
text_readings(struct out *o, const json_t *rd, const char *lang)
{
	const json_t *bat = json_object_get(rd, "battery"), *sto = json_object_get(rd, "storage");
	const json_t *cr = json_object_get(rd, "crashes"), *sl = json_object_get(rd, "syslog");
	const json_t *errs = json_object_get(rd, "errors"), *v;
	double a, b;
	size_t i;

	putf(o, "\n%s\n", lbl(lang, "readings"));
	if (json_is_object(bat)) {
		if (num(bat, "health_pct", &a)) {
			putf(o, "  %s: %.0f %%", lbl(lang, "health"), a);
			if (num(bat, "nominal_capacity_mah", &a) && num(bat, "design_capacity_mah", &b))
				putf(o, " (%.0f / %.0f mAh %s)", a, b, lbl(lang, "design"));
			put(o, "\n");
		} else {
			putf(o, "  %s: %s\n", lbl(lang, "health"), lbl(lang, "no_reading"));
		}
		if (num(bat, "cycle_count", &a))
			putf(o, "  %s: %.0f\n", lbl(lang, "cycles"), a);
		if (num(bat, "temperature_c", &a))
			putf(o, "  %s: %.1f °C\n", lbl(lang, "temperature"), a);
	}
	if (json_is_object(sto) && num(sto, "total_bytes", &a) && num(sto, "available_bytes", &b) && a > 0) {
		char *f = xasprintf("%.1f GB (%.0f %%)", b / 1e9, b / a * 100.0), *t = gb(a);
		char *s = fill2(lbl(lang, "storage_fmt"), f, t);
		putf(o, "  %s: %s\n", lbl(lang, "storage"), s);
		free(f);
		free(t);
		free(s);
	}
	if (json_is_object(cr) && num(cr, "count", &a)) {
		double c = 0;
		b = 0;
		num(cr, "panics", &b);
		num(cr, "force_resets", &c);
		putf(o, "  %s: %.0f (%.0f %s, %.0f %s)\n", lbl(lang, "crashes"), a, b, lbl(lang, "panics"), c,
		     lbl(lang, "resets"));
	}
	if (json_is_object(sl) && json_array_size(json_object_get(sl, "signatures")) > 0) {
		putf(o, "  %s:", lbl(lang, "signatures"));
		json_array_foreach(json_object_get(sl, "signatures"), i, v)
		{
			put(o, i ? ", " : " ");
			esc(o, str(v, "id"));
			if (num(v, "count", &a))
				putf(o, " ×%.0f", a);
		}
		put(o, "\n");
	}
	if (json_array_size(errs) > 0) {
		putf(o, "  %s:\n", lbl(lang, "probe_errors"));
		json_array_foreach(errs, i, v)
		{
			put(o, "    - ");
			esc(o, str(v, "probe"));
			put(o, ": ");
			esc(o, str(v, "reason"));
			put(o, "\n");
		}
	}
}

static void
render_text(struct out *o, const json_t *r, const struct report_render_opts *op, const struct cat *c)
{
	const char *lang = op->lang;
	const json_t *dev = json_object_get(r, "device"), *bench = json_object_get(r, "bench"), *v;
	const json_t **faults;
	size_t nf, i;
	const char *s;

	if (!op->verified) {
		put(o, "!! ");
		put(o, lbl(lang, "warning"));
		if (op->verify_reason != NULL) {
			put(o, " (");
			esc(o, op->verify_reason);
			put(o, ")");
		}
		put(o, "\n\n");
	}
	putf(o, "%s ", lbl(lang, "title"));
	esc(o, str(r, "report_id"));
	put(o, "\n");
	putf(o, "  %s: ", lbl(lang, "created"));
	esc(o, str(r, "created_at"));
	putf(o, "  %s: ", lbl(lang, "bench"));
	esc(o, str(bench, "id"));
	if ((s = str(json_object_get(r, "case"), "ticket")) != NULL) {
		putf(o, "  %s: ", lbl(lang, "ticket"));
		esc(o, s);
	}
	put(o, "\n");
	putf(o, "  %s: %s (%s ", lbl(lang, "signature"),
	     op->verified ? lbl(lang, "verified") : lbl(lang, "not_verified"), lbl(lang, "key_id"));
	esc(o, op->kid != NULL ? op->kid : str(bench, "key_id"));
	put(o, ")\n\n");

	putf(o, "%s: ", lbl(lang, "device"));
	esc(o, device_name(dev, lang));
	if ((s = str(dev, "product_type")) != NULL && str(dev, "model_name") != NULL) {
		put(o, " (");
		esc(o, s);
		put(o, ")");
	}
	put(o, "\n");
	if ((s = str(dev, "serial")) != NULL) {
		putf(o, "  %s: ", lbl(lang, "serial"));
		esc(o, s);
		put(o, "\n");
	}
	if ((s = str(dev, "ios_version")) != NULL) {
		putf(o, "  %s: ", lbl(lang, "ios"));
		esc(o, s);
		if ((s = str(dev, "build_version")) != NULL) {
			put(o, " (");
			esc(o, s);
			put(o, ")");
		}
		put(o, "\n");
	}
	if ((s = str(dev, "udid")) != NULL || (s = str(dev, "ecid")) != NULL) {
		put(o, "  UDID/ECID: ");
		esc(o, s);
		put(o, "\n");
	}
	if ((s = str(dev, "mode")) != NULL && strcmp(s, "normal") != 0) {
		putf(o, "  %s: ", lbl(lang, "mode"));
		esc(o, s);
		put(o, "\n");
	}
	s = str(r, "outcome");
	putf(o, "%s: ", lbl(lang, "result"));
	esc(o, s != NULL ? s : "incomplete");
	putf(o, " (%s)\n", outcome_label(lang, s));

	faults = sorted_faults(json_object_get(r, "faults"), &nf);
	putf(o, "\n%s (%zu)\n", lbl(lang, "faults"), nf);
	if (nf == 0)
		putf(o, "  %s\n", lbl(lang, "no_faults"));
	for (i = 0; i < nf; i++) {
		struct fault_text t;
		fault_text(c, faults[i], lang, &t);
		putf(o, "  %zu. [%s] ", i + 1, sev_label(lang, t.sev));
		esc(o, t.code);
		put(o, " ");
		esc(o, t.title);
		put(o, "\n");
		if (t.part != NULL) {
			putf(o, "     %s: ", lbl(lang, "part"));
			esc(o, t.part);
			put(o, "\n");
		}
		if (t.action != NULL) {
			putf(o, "     %s: ", lbl(lang, "action"));
			esc(o, t.action);
			put(o, "\n");
		}
		if ((v = json_object_get(faults[i], "evidence")) != NULL) {
			putf(o, "     %s: ", lbl(lang, "evidence"));
			evidence(o, v);
			put(o, "\n");
		}
		if (str(faults[i], "tree") != NULL) {
			putf(o, "     (%s ", lbl(lang, "found_by"));
			esc(o, str(faults[i], "tree"));
			put(o, "/");
			esc(o, str(faults[i], "node"));
			put(o, ")\n");
		}
	}
	free(faults);

	v = json_object_get(r, "questions");
	if (json_array_size(v) > 0) {
		const json_t *q;
		putf(o, "\n%s\n", lbl(lang, "questions"));
		json_array_foreach(v, i, q)
		{
			put(o, "  - ");
			esc(o, loc(json_object_get(q, "text"), lang));
			putf(o, "\n    %s --answer ", lbl(lang, "answer_with"));
			esc(o, str(q, "key"));
			put(o, "=");
			const json_t *ch = json_object_get(q, "choices");
			if (json_array_size(ch) > 0) {
				size_t j;
				const json_t *cv;
				json_array_foreach(ch, j, cv)
				{
					char *t = value_text(json_is_object(cv) ? json_object_get(cv, "value")
					                                        : cv);
					if (j)
						put(o, "|");
					esc(o, t);
					free(t);
				}
			} else {
				put(o, "VALUE");
			}
			put(o, "\n");
		}
	}
	v = json_object_get(r, "answers");
	if (json_object_size(v) > 0) {
		const char *ak;
		json_t *av;
		int first = 1;
		putf(o, "\n%s:", lbl(lang, "answers"));
		json_object_foreach((json_t *)v, ak, av)
		{
			put(o, first ? " " : ", ");
			esc(o, ak);
			put(o, "=");
			esc(o, json_string_value(av));
			first = 0;
		}
		put(o, "\n");
	}
	v = json_object_get(r, "incomplete");
	if (json_array_size(v) > 0) {
		const json_t *q;
		putf(o, "\n%s\n", lbl(lang, "incomplete_why"));
		json_array_foreach(v, i, q)
		{
			put(o, "  - ");
			esc(o, str(q, "tree"));
			put(o, ": ");
			esc(o, str(q, "reason"));
			put(o, "\n");
		}
	}
	text_readings(o, json_object_get(r, "readings"), lang);

	v = json_object_get(r, "errors");
	if (json_array_size(v) > 0) {
		const json_t *e;
		putf(o, "\n%s\n", lbl(lang, "tree_errors"));
		json_array_foreach(v, i, e)
		{
			put(o, "  - ");
			esc(o, str(e, "tree"));
			put(o, ": ");
			esc(o, str(e, "reason"));
			put(o, "\n");
		}
	}
	putf(o, "\n%s:", lbl(lang, "trees"));
	v = json_object_get(r, "trees");
	if (json_array_size(v) == 0)
		putf(o, " %s", lbl(lang, "none"));
	{
		const json_t *t;
		json_array_foreach(v, i, t)
		{
			char *ver = value_text(json_object_get(t, "version"));
			const char *sha = str(t, "sha256");
			put(o, i ? ", " : " ");
			esc(o, str(t, "name"));
			put(o, " ");
			esc(o, ver);
			if (sha != NULL) {
				put(o, " (sha256 ");
				char short_sha[13];
				util_strlcpy(short_sha, sha, sizeof(short_sha));
				esc(o, short_sha);
				put(o, "…)");
			}
			free(ver);
		}
	}
	putf(o, "; %zu %s\n", json_array_size(json_object_get(r, "trace")), lbl(lang, "nodes"));
	putf(o, "%s: ", lbl(lang, "snapshot"));
	esc(o, str(r, "snapshot_sha256"));
	put(o, "\n");
}

/* ---- HTML ---------------------------------------------------------------------------------- */

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans','Noto Sans CJK SC',sans-serif;"
    "color:#1d1d1f;background:#f5f5f7;margin:0;padding:24px;line-height:1.45}"
    "main{max-width:820px;margin:0 auto;background:#fff;border-radius:12px;padding:28px 32px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.08)}"
    "h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.15em;margin:28px 0 10px;border-bottom:1px solid #ddd;"
    "padding-bottom:4px}"
    ".meta{color:#6e6e73;font-size:.9em}.meta span{margin-right:14px;display:inline-block}"
    ".warn{background:#ffe5e5;border:2px solid #d70015;color:#a0000f;padding:12px 16px;border-radius:8px;"
    "font-weight:600;margin-bottom:18px}"
    ".outcome{display:inline-block;padding:6px 14px;border-radius:999px;font-weight:600;margin-top:6px}"
    ".outcome.pass{background:#e3f6e8;color:#0a6b2c}.outcome.fail{background:#ffe8e5;color:#a3190a}"
    ".outcome.incomplete{background:#fff4d6;color:#7a5400}"
    ".device{display:flex;gap:24px;align-items:center;flex-wrap:wrap}"
    "dl{margin:0;display:grid;grid-template-columns:max-content auto;gap:2px 14px}"
    "dt{color:#6e6e73}dd{margin:0}"
    ".fault{border:1px solid #e0e0e3;border-left:6px solid #8e8e93;border-radius:8px;padding:12px 16px;"
    "margin:10px 0;break-inside:avoid}"
    ".fault.critical{border-left-color:#d70015}.fault.major{border-left-color:#f56300}"
    ".fault.minor{border-left-color:#c9a000}.fault.info{border-left-color:#0071e3}"
    ".fault h3{margin:0 0 6px;font-size:1.05em}.code{font-family:ui-monospace,monospace;color:#6e6e73;"
    "font-weight:400;margin-left:6px}"
    ".sev{font-size:.8em;text-transform:uppercase;letter-spacing:.04em;color:#6e6e73}"
    ".tech{font-family:ui-monospace,monospace;font-size:.82em;color:#424245;word-break:break-all}"
    "table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:4px 8px;border-bottom:1px "
    "solid #eee;vertical-align:top}"
    "code{font-family:ui-monospace,monospace;background:#f0f0f2;padding:1px 5px;border-radius:4px;"
    "word-break:break-all}"
    "footer{margin-top:28px;font-size:.85em;color:#6e6e73}"
    "@media print{body{background:#fff;padding:0}main{box-shadow:none;max-width:none;padding:0}"
    ".fault,.device,table{break-inside:avoid}a{color:inherit;text-decoration:none}"
    "h2{break-after:avoid}}"
    "@page{size:A4;margin:16mm}";

static void
gauge(struct out *o, const json_t *bat, const char *lang)
{
	double pct;
	int have = num(bat, "health_pct", &pct);
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
	aria = fill2(lbl(lang, "gauge_label"), have ? val : lbl(lang, "no_reading"), "");
	put(o, "<svg class=\"gauge\" xmlns=\"http://www.w3.org/2000/svg\" width=\"180\" height=\"110\" "
	       "viewBox=\"0 0 180 110\" role=\"img\" aria-label=\"");
	esc(o, aria);
	free(aria);
	put(o, "\">");
	put(o,
	    "<path d=\"M 20 90 A 70 70 0 0 1 160 90\" fill=\"none\" stroke=\"#e5e5ea\" stroke-width=\"16\" "
	    "stroke-linecap=\"round\"/>");
	if (have && pct > 0) {
		double th = M_PI * (1.0 - pct / 100.0);
		double x = 90.0 + 70.0 * cos(th), y = 90.0 - 70.0 * sin(th);
		putf(o,
		     "<path d=\"M 20 90 A 70 70 0 0 1 %.2f %.2f\" fill=\"none\" stroke=\"%s\" "
		     "stroke-width=\"16\" stroke-linecap=\"round\"/>",
		     x, y, color);
	}
	/* The 80 % line Apple uses for "service". */
	{
		double th = M_PI * 0.2;
		putf(o,
		     "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#1d1d1f\" "
		     "stroke-width=\"2\"/>",
		     90.0 + 58.0 * cos(th), 90.0 - 58.0 * sin(th), 90.0 + 82.0 * cos(th),
		     90.0 - 82.0 * sin(th));
	}
	put(o, "<text x=\"90\" y=\"84\" text-anchor=\"middle\" font-size=\"28\" font-weight=\"700\" "
	       "fill=\"#1d1d1f\">");
	esc(o, val);
	put(o, "</text><text x=\"90\" y=\"104\" text-anchor=\"middle\" font-size=\"11\" fill=\"#6e6e73\">");
	esc(o, lbl(lang, "battery"));
	put(o, "</text></svg>");
}

static void
dl_row(struct out *o, const char *label, const char *value)
{
	if (value == NULL)
		return;
	put(o, "<dt>");
	esc(o, label);
	put(o, "</dt><dd>");
	esc(o, value);
	put(o, "</dd>");
}

static void
html_readings(struct out *o, const json_t *rd, const char *lang)
{
	const json_t *bat = json_object_get(rd, "battery"), *sto = json_object_get(rd, "storage");
	const json_t *cr = json_object_get(rd, "crashes"), *sl = json_object_get(rd, "syslog");
	const json_t *errs = json_object_get(rd, "errors"), *v;
	double a, b;
	size_t i;

	putf(o, "<h2>%s</h2><table>", lbl(lang, "readings"));
	if (json_is_object(bat)) {
		putf(o, "<tr><th>%s</th><td>", lbl(lang, "health"));
		if (num(bat, "health_pct", &a)) {
			putf(o, "%.0f %%", a);
			if (num(bat, "nominal_capacity_mah", &a) && num(bat, "design_capacity_mah", &b))
				putf(o, " (%.0f / %.0f mAh %s)", a, b, lbl(lang, "design"));
		} else {
			put(o, lbl(lang, "no_reading"));
		}
		put(o, "</td></tr>");
		if (num(bat, "cycle_count", &a))
			putf(o, "<tr><th>%s</th><td>%.0f</td></tr>", lbl(lang, "cycles"), a);
		if (num(bat, "temperature_c", &a))
			putf(o, "<tr><th>%s</th><td>%.1f °C</td></tr>", lbl(lang, "temperature"), a);
	}
	if (json_is_object(sto) && num(sto, "total_bytes", &a) && num(sto, "available_bytes", &b) && a > 0) {
		char *f = xasprintf("%.1f GB (%.0f %%)", b / 1e9, b / a * 100.0), *t = gb(a);
		char *s = fill2(lbl(lang, "storage_fmt"), f, t);
		putf(o, "<tr><th>%s</th><td>", lbl(lang, "storage"));
		esc(o, s);
		put(o, "</td></tr>");
		free(f);
		free(t);
		free(s);
	}
	if (json_is_object(cr) && num(cr, "count", &a)) {
		double c = 0;
		b = 0;
		num(cr, "panics", &b);
		num(cr, "force_resets", &c);
		putf(o, "<tr><th>%s</th><td>%.0f (%.0f %s, %.0f %s)</td></tr>", lbl(lang, "crashes"), a, b,
		     lbl(lang, "panics"), c, lbl(lang, "resets"));
	}
	if (json_is_object(sl) && json_array_size(json_object_get(sl, "signatures")) > 0) {
		putf(o, "<tr><th>%s</th><td class=\"tech\">", lbl(lang, "signatures"));
		json_array_foreach(json_object_get(sl, "signatures"), i, v)
		{
			if (i)
				put(o, ", ");
			esc(o, str(v, "id"));
			if (num(v, "count", &a))
				putf(o, " ×%.0f", a);
		}
		put(o, "</td></tr>");
	}
	if (json_array_size(errs) > 0) {
		putf(o, "<tr><th>%s</th><td>", lbl(lang, "probe_errors"));
		json_array_foreach(errs, i, v)
		{
			if (i)
				put(o, "<br/>");
			esc(o, str(v, "probe"));
			put(o, ": ");
			esc(o, str(v, "reason"));
		}
		put(o, "</td></tr>");
	}
	put(o, "</table>");
}

static void
render_html(struct out *o, const json_t *r, const struct report_render_opts *op, const struct cat *c)
{
	const char *lang = op->lang;
	const json_t *dev = json_object_get(r, "device"), *bench = json_object_get(r, "bench"), *v;
	const json_t **faults;
	const char *s, *outcome = str(r, "outcome");
	size_t nf, i;

	if (outcome == NULL || (strcmp(outcome, "pass") && strcmp(outcome, "fail")))
		outcome = "incomplete";
	put(o, "<!DOCTYPE html>\n<html lang=\"");
	esc(o, lang);
	put(o, "\">\n<head>\n<meta charset=\"utf-8\"/>\n"
	       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
	       "<meta name=\"generator\" content=\"benchd\"/>\n<title>");
	esc(o, lbl(lang, "title"));
	put(o, " – ");
	esc(o, device_name(dev, lang));
	put(o, "</title>\n<style>");
	put(o, css);
	put(o, "</style>\n</head>\n<body>\n<main>\n");
	if (!op->verified) {
		put(o, "<div class=\"warn\" role=\"alert\">");
		esc(o, lbl(lang, "warning"));
		if (op->verify_reason != NULL) {
			put(o, "<br/><span class=\"tech\">");
			esc(o, op->verify_reason);
			put(o, "</span>");
		}
		put(o, "</div>\n");
	}
	put(o, "<header>\n<h1>");
	esc(o, lbl(lang, "title"));
	put(o, "</h1>\n<div class=\"meta\"><span>");
	esc(o, lbl(lang, "report_id"));
	put(o, ": <code>");
	esc(o, str(r, "report_id"));
	put(o, "</code></span><span>");
	esc(o, lbl(lang, "created"));
	put(o, ": ");
	esc(o, str(r, "created_at"));
	put(o, "</span><span>");
	esc(o, lbl(lang, "bench"));
	put(o, ": ");
	esc(o, str(bench, "id"));
	put(o, "</span>");
	if ((s = str(json_object_get(r, "case"), "ticket")) != NULL) {
		put(o, "<span>");
		esc(o, lbl(lang, "ticket"));
		put(o, ": ");
		esc(o, s);
		put(o, "</span>");
	}
	put(o, "</div>\n</header>\n");

	put(o, "<section class=\"device\">\n<div>\n<h2>");
	esc(o, lbl(lang, "device"));
	put(o, "</h2>\n<dl>");
	dl_row(o, lbl(lang, "model"), device_name(dev, lang));
	dl_row(o, lbl(lang, "product_type"), str(dev, "product_type"));
	dl_row(o, lbl(lang, "serial"), str(dev, "serial"));
	if ((s = str(dev, "ios_version")) != NULL) {
		char *iv = str(dev, "build_version") ? xasprintf("%s (%s)", s, str(dev, "build_version"))
		                                     : xstrdup(s);
		dl_row(o, lbl(lang, "ios"), iv);
		free(iv);
	}
	if ((s = str(dev, "mode")) != NULL && strcmp(s, "normal") != 0)
		dl_row(o, lbl(lang, "mode"), s);
	dl_row(o, lbl(lang, "captured"), str(json_object_get(r, "readings"), "captured_at"));
	put(o, "</dl>\n<p><span class=\"outcome ");
	put(o, outcome);
	put(o, "\">");
	esc(o, lbl(lang, "result"));
	put(o, ": ");
	esc(o, outcome_label(lang, outcome));
	put(o, "</span></p>\n</div>\n<div>");
	gauge(o, json_object_get(json_object_get(r, "readings"), "battery"), lang);
	put(o, "</div>\n</section>\n");

	faults = sorted_faults(json_object_get(r, "faults"), &nf);
	put(o, "<section>\n<h2>");
	esc(o, lbl(lang, "faults"));
	putf(o, " (%zu)</h2>\n", nf);
	if (nf == 0) {
		put(o, "<p>");
		esc(o, lbl(lang, "no_faults"));
		put(o, "</p>\n");
	}
	for (i = 0; i < nf; i++) {
		struct fault_text t;
		fault_text(c, faults[i], lang, &t);
		put(o, "<article class=\"fault ");
		put(o, sev_rank(t.sev) < 4 ? t.sev : "info");
		put(o, "\">\n<div class=\"sev\">");
		esc(o, sev_label(lang, t.sev));
		put(o, "</div>\n<h3>");
		esc(o, t.title != NULL ? t.title : t.code);
		put(o, "<span class=\"code\">");
		esc(o, t.code);
		put(o, "</span></h3>\n");
		if (t.customer != NULL) {
			put(o, "<p>");
			esc(o, t.customer);
			put(o, "</p>\n");
		}
		put(o, "<dl>");
		dl_row(o, lbl(lang, "part"), t.part);
		dl_row(o, lbl(lang, "action"), t.action);
		if ((v = json_object_get(faults[i], "evidence")) != NULL) {
			put(o, "<dt>");
			esc(o, lbl(lang, "evidence"));
			put(o, "</dt><dd class=\"tech\">");
			evidence(o, v);
			put(o, "</dd>");
		}
		put(o, "</dl>\n</article>\n");
	}
	free(faults);
	put(o, "</section>\n");

	v = json_object_get(r, "questions");
	if (json_array_size(v) > 0) {
		const json_t *q;
		put(o, "<section>\n<h2>");
		esc(o, lbl(lang, "questions"));
		put(o, "</h2>\n<ul>");
		json_array_foreach(v, i, q)
		{
			put(o, "<li>");
			esc(o, loc(json_object_get(q, "text"), lang));
			put(o, " <code>--answer ");
			esc(o, str(q, "key"));
			put(o, "=…</code></li>");
		}
		put(o, "</ul>\n</section>\n");
	}
	v = json_object_get(r, "incomplete");
	if (json_array_size(v) > 0) {
		const json_t *q;
		put(o, "<section>\n<h2>");
		esc(o, lbl(lang, "incomplete_why"));
		put(o, "</h2>\n<ul>");
		json_array_foreach(v, i, q)
		{
			put(o, "<li>");
			esc(o, str(q, "reason"));
			put(o, "</li>");
		}
		put(o, "</ul>\n</section>\n");
	}
	put(o, "<section>\n");
	html_readings(o, json_object_get(r, "readings"), lang);
	put(o, "</section>\n");

	put(o, "<section>\n<h2>");
	esc(o, lbl(lang, "technical"));
	put(o, "</h2>\n<table>");
	v = json_object_get(r, "errors");
	if (json_array_size(v) > 0) {
		const json_t *e;
		put(o, "<tr><th>");
		esc(o, lbl(lang, "tree_errors"));
		put(o, "</th><td class=\"tech\">");
		json_array_foreach(v, i, e)
		{
			if (i)
				put(o, "<br/>");
			esc(o, str(e, "tree"));
			put(o, ": ");
			esc(o, str(e, "reason"));
		}
		put(o, "</td></tr>");
	}
	if (json_object_size(json_object_get(r, "answers")) > 0) {
		const char *ak;
		json_t *av;
		int first = 1;
		put(o, "<tr><th>");
		esc(o, lbl(lang, "answers"));
		put(o, "</th><td class=\"tech\">");
		json_object_foreach(json_object_get(r, "answers"), ak, av)
		{
			if (!first)
				put(o, "<br/>");
			esc(o, ak);
			put(o, "=");
			esc(o, json_string_value(av));
			first = 0;
		}
		put(o, "</td></tr>");
	}
	put(o, "<tr><th>");
	esc(o, lbl(lang, "trees"));
	put(o, "</th><td class=\"tech\">");
	{
		const json_t *t;
		json_array_foreach(json_object_get(r, "trees"), i, t)
		{
			char *ver = value_text(json_object_get(t, "version"));
			if (i)
				put(o, "<br/>");
			esc(o, str(t, "name"));
			put(o, " ");
			esc(o, ver);
			put(o, " sha256 ");
			esc(o, str(t, "sha256"));
			free(ver);
		}
		if (json_array_size(json_object_get(r, "trees")) == 0)
			esc(o, lbl(lang, "none"));
		putf(o, "<br/>%zu ", json_array_size(json_object_get(r, "trace")));
		esc(o, lbl(lang, "nodes"));
	}
	put(o, "</td></tr><tr><th>");
	esc(o, lbl(lang, "snapshot"));
	put(o, "</th><td class=\"tech\">");
	esc(o, str(r, "snapshot_sha256"));
	put(o, "</td></tr><tr><th>");
	esc(o, lbl(lang, "signature"));
	put(o, "</th><td>");
	esc(o, op->verified ? lbl(lang, "verified") : lbl(lang, "not_verified"));
	put(o, " · Ed25519 · ");
	esc(o, lbl(lang, "key_id"));
	put(o, " <code>");
	esc(o, op->kid != NULL ? op->kid : str(bench, "key_id"));
	put(o, "</code></td></tr></table>\n</section>\n");

	put(o, "<footer>\n<h2>");
	esc(o, lbl(lang, "how_verify"));
	put(o, "</h2>\n<p>");
	esc(o, lbl(lang, "verify_text"));
	put(o, "</p>\n<p><code>benchctl report verify ");
	esc(o, op->file != NULL ? op->file : "REPORT.jws.json");
	put(o, "</code></p>\n<p>");
	esc(o, str(bench, "software"));
	put(o, "</p>\n</footer>\n</main>\n</body>\n</html>\n");
}

const char *
report_default_catalogue(void)
{
	static __thread char path[PATH_MAX];

	/* The same directory the engine reads its trees and catalogue from. */
	snprintf(path, sizeof(path), "%s/catalogue.json", engine_default_trees_dir());
	return path;
}

int
report_render_ex(const json_t *report, const struct report_render_opts *op, char **out, size_t *outlen,
                 char *why, size_t whylen)
{
	struct report_render_opts o2 = *op;
	struct out o;
	struct cat c;

	if (!json_is_object(report)) {
		snprintf(why, whylen, "the report is not a JSON object");
		return REPORT_E_MALFORMED;
	}
	if (o2.lang == NULL || !i18n_known_lang(o2.lang))
		o2.lang = "en";
	memset(&o, 0, sizeof(o));
	buf_init(&o.b, RENDER_MAX);
	if (op->fmt == REPORT_FMT_JSON) {
		char *s = json_dumps(report, JSON_INDENT(2));
		if (s == NULL) {
			snprintf(why, whylen, "the report cannot be printed as JSON");
			buf_free(&o.b);
			return REPORT_E_MALFORMED;
		}
		put(&o, s);
		put(&o, "\n");
		free(s);
	} else {
		cat_load(&c, o2.catalogue_path != NULL ? o2.catalogue_path : report_default_catalogue());
		o.html = op->fmt == REPORT_FMT_HTML;
		if (o.html)
			render_html(&o, report, &o2, &c);
		else
			render_text(&o, report, &o2, &c);
		json_decref(c.root);
	}
	if (o.failed) {
		buf_free(&o.b);
		snprintf(why, whylen, "the rendered report is too big");
		return REPORT_E_MALFORMED;
	}
	*out = buf_take(&o.b, outlen);
	return REPORT_OK;
}

int
report_render(const json_t *report, enum report_format fmt, const char *lang, const char *catalogue_path,
              char **out, size_t *outlen, char *why, size_t whylen)
{
	struct report_render_opts o = {
	    .fmt = fmt, .lang = lang, .catalogue_path = catalogue_path, .verified = 1, .kid = NULL};

	return report_render_ex(report, &o, out, outlen, why, whylen);
}
