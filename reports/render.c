/*
 * render: a report as text, HTML or pretty JSON, in the technician's or the customer's view
 * (render_int.h says which file holds what). This file holds what both views share: the output
 * buffer and its escaping, the table of rows and its two formatters, the lookups in the report
 * and the catalogue, and report_render_ex itself. The catalogue is handed in by the caller.
 */
#include "render_int.h"

#include "i18n.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RENDER_MAX    (64u << 20)
#define CATALOGUE_MAX (8u << 20)

/* ---- output ------------------------------------------------------------------------------ */

void
out_put(struct out *o, const char *s)
{
	if (buf_addstr(&o->b, s) < 0)
		o->failed = 1;
}

void
out_putf(struct out *o, const char *fmt, ...)
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
	out_put(o, s);
	free(s);
}

void
out_esc(struct out *o, const char *s)
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
			out_put(o, tmp);
			s++;
			continue;
		}
		if (rep != NULL) {
			out_put(o, rep);
		} else if (buf_add(&o->b, s, 1) < 0) {
			o->failed = 1;
		}
	}
}

void
out_el(struct out *o, const char *open, const char *s, const char *close)
{
	out_put(o, open);
	out_esc(o, s);
	out_put(o, close);
}

/* ---- lookups ----------------------------------------------------------------------------- */

const char *
rx_label(const struct rctx *x, const char *key)
{
	return i18n_label(x->lang, key);
}

char *
rx_fill(const char *fmt, const char *a, const char *b, const char *c)
{
	struct buf x;
	const char *p = fmt, *q;
	const char *args[3] = {a, b, c};
	int i = 0, bad = 0;

	buf_init(&x, 1u << 20);
	while ((q = strstr(p, "%s")) != NULL) {
		bad |= buf_add(&x, p, (size_t)(q - p)) < 0;
		bad |= buf_addstr(&x, i < 3 && args[i] != NULL ? args[i] : "") < 0;
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

const char *
rx_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

int
rx_num(const json_t *obj, const char *key, double *out)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_number(v) || !isfinite(json_number_value(v)))
		return 0;
	*out = json_number_value(v);
	return 1;
}

const char *
rx_loc(const json_t *v, const char *lang)
{
	const char *s;

	if (json_is_string(v))
		return json_string_value(v);
	if (!json_is_object(v))
		return NULL;
	s = rx_str(v, lang);
	return s != NULL ? s : rx_str(v, "en");
}

void
rx_cap_first(char *s)
{
	unsigned char *u = (unsigned char *)s;

	if (u[0] >= 'a' && u[0] <= 'z')
		u[0] = (unsigned char)(u[0] - 'a' + 'A');
	else if (u[0] == 0xC3 && u[1] >= 0xA0 && u[1] <= 0xBE && u[1] != 0xB7)
		u[1] = (unsigned char)(u[1] - 0x20); /* à..þ to À..Þ, not ÷ */
}

char *
rx_value_text(const json_t *v)
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

const char *
rx_outcome(const json_t *r)
{
	const char *s = rx_str(r, "outcome");

	if (s != NULL && (strcmp(s, "pass") == 0 || strcmp(s, "fail") == 0))
		return s;
	return "incomplete";
}

const char *
rx_outcome_label(const struct rctx *x)
{
	const char *s = rx_outcome(x->r);

	return rx_label(x, strcmp(s, "pass") == 0   ? "outcome_pass"
	                   : strcmp(s, "fail") == 0 ? "outcome_fail"
	                                            : "outcome_incomplete");
}

const char *
rx_device_name(const struct rctx *x)
{
	const json_t *dev = json_object_get(x->r, "device");
	const char *n = rx_str(dev, "model_name");

	if (n == NULL || *n == '\0')
		n = rx_str(dev, "product_type");
	return n != NULL && *n != '\0' ? n : NULL;
}

int
rx_localtime(const struct rctx *x, time_t t, struct tm *tm)
{
	if (x->op->utc)
		return gmtime_r(&t, tm) != NULL ? 0 : -1;
	return localtime_r(&t, tm) != NULL ? 0 : -1;
}

void
rx_time(const struct rctx *x, const char *rfc3339, char *out, size_t outlen)
{
	time_t t;
	struct tm tm;

	if (rfc3339 == NULL) {
		util_strlcpy(out, "", outlen);
		return;
	}
	if (util_parse_rfc3339(rfc3339, &t) < 0 || rx_localtime(x, t, &tm) < 0) {
		util_strlcpy(out, rfc3339, outlen);
		return;
	}
	i18n_datetime(x->lang, &tm, x->op->utc ? "UTC" : tm.tm_zone, out, outlen);
}

/* ---- faults ------------------------------------------------------------------------------ */

int
rx_sev_rank(const char *sev)
{
	static const char *const order[] = {"critical", "major", "minor", "info"};

	for (int i = 0; i < 4; i++)
		if (sev != NULL && strcmp(sev, order[i]) == 0)
			return i;
	return 4;
}

const json_t **
rx_sorted_faults(const json_t *r, size_t *n)
{
	const json_t *faults = json_object_get(r, "faults");
	size_t cnt = json_array_size(faults), k = 0;
	const json_t **v =
	    xcalloc(cnt + 1, sizeof(*v)); /* NOLINT(bugprone-sizeof-expression): an array of pointers */

	for (int rank = 0; rank <= 4; rank++) {
		size_t i;
		json_t *f;
		json_array_foreach(faults, i, f)
		{
			const char *sev = rx_str(f, "severity");
			if (json_is_object(f) && rx_sev_rank(sev) == rank)
				v[k++] = f;
		}
	}
	*n = k;
	return v;
}

static int
in_list(const json_t *list, const char *s)
{
	size_t i;
	const json_t *v;

	if (s == NULL)
		return 0;
	json_array_foreach(list, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	}
	return 0;
}

/* One part name in the view's words: the customer's plain name, else the glossary's, else NULL. */
static const char *
part_name(const struct rctx *x, const char *key, int customer)
{
	const char *s = NULL;

	if (customer)
		s = rx_loc(
		    json_object_get(json_object_get(json_object_get(x->cat, "customer_parts"), "names"), key),
		    x->lang);
	if (s == NULL)
		s = rx_loc(json_object_get(json_object_get(x->cat, "parts"), key), x->lang);
	return s;
}

static void
append(char *dst, size_t dstlen, const char *s)
{
	size_t n = strlen(dst);

	if (n < dstlen)
		util_strlcpy(dst + n, s, dstlen - n);
}

/* The part in the chosen language. A composite name the glossary does not hold ("battery or
 * charge-port flex (...)", made by a tree) is translated piece by piece. */
static void
part_display(const struct rctx *x, const char *key, int customer, char *out, size_t outlen)
{
	const char *n = part_name(x, key, customer), *p, *q;

	out[0] = '\0';
	if (n != NULL || strstr(key, " or ") == NULL) {
		util_strlcpy(out, n != NULL ? n : key, outlen);
		return;
	}
	for (p = key;; p = q + 4) {
		char piece[512];
		q = strstr(p, " or ");
		snprintf(piece, sizeof(piece), "%.*s", q != NULL ? (int)(q - p) : (int)strlen(p), p);
		n = part_name(x, piece, customer);
		if (p != key)
			append(out, outlen, rx_label(x, "or"));
		append(out, outlen, n != NULL ? n : piece);
		if (q == NULL)
			break;
	}
}

void
rx_fault_text(const struct rctx *x, const json_t *f, int customer, struct fault_text *t)
{
	const json_t *codes = json_object_get(x->cat, "codes"), *e, *fp, *cp;
	const json_t *cparts = json_object_get(x->cat, "customer_parts");
	const char *note = rx_str(f, "part_note");

	memset(t, 0, sizeof(*t));
	t->code = rx_str(f, "code");
	e = t->code != NULL ? json_object_get(codes, t->code) : NULL;
	t->sev = rx_str(f, "severity");
	if (t->sev == NULL)
		t->sev = rx_str(e, "severity");
	t->title = rx_loc(json_object_get(e, "title"), x->lang);
	if (t->title == NULL)
		t->title = rx_loc(json_object_get(f, "title"), x->lang);
	t->action = rx_loc(json_object_get(e, "action"), x->lang);
	t->customer = rx_loc(json_object_get(e, "customer"), x->lang);

	/* The fault's own part (a tree may name a per-model one), else the catalogue's; faults
	 * and uploads keep the English string, the page shows it in its language. */
	fp = json_object_get(f, "part");
	cp = json_object_get(e, "part");
	if (json_is_null(fp) || (fp == NULL && note != NULL)) {
		/* "part": null with "part_note": no part to replace, and why. */
		char key[300];
		t->kind = PART_NONE;
		if (note != NULL) {
			snprintf(key, sizeof(key), "none (%s)", note);
			const char *n = part_name(x, key, customer);
			util_strlcpy(t->part, n != NULL ? n : note, sizeof(t->part));
		}
		return;
	}
	t->part_key = json_is_string(fp) ? json_string_value(fp) : rx_loc(fp, "en");
	if (t->part_key == NULL)
		t->part_key = json_is_string(cp) ? json_string_value(cp) : rx_loc(cp, "en");
	if (t->part_key == NULL || *t->part_key == '\0') {
		t->part_key = NULL;
		t->kind = PART_NONE;
		return;
	}
	if (json_is_object(fp) && rx_str(fp, x->lang) != NULL)
		util_strlcpy(t->part, rx_str(fp, x->lang), sizeof(t->part));
	else
		part_display(x, t->part_key, customer, t->part, sizeof(t->part));
	if (strncmp(t->part_key, "none", 4) == 0 || in_list(json_object_get(cparts, "no_part"), t->part_key))
		t->kind = PART_NONE;
	else if (in_list(json_object_get(cparts, "to_check_codes"), t->code) ||
	         in_list(json_object_get(cparts, "to_check_parts"), t->part_key))
		t->kind = PART_CHECK;
	/* A placeholder names no part at all ("see the model table"): never shown as a cause. */
	t->vague = in_list(json_object_get(cparts, "to_check_parts"), t->part_key);
}

/* ---- the table of rows ------------------------------------------------------------------- */

void
tbl_add(struct table *t, const char *label, unsigned flags, const char *value)
{
	if (value == NULL)
		return;
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 8;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->n].label = xstrdup(label);
	t->v[t->n].value = xstrdup(value);
	t->v[t->n].flags = flags;
	t->n++;
}

void
tbl_addf(struct table *t, const char *label, unsigned flags, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	tbl_add(t, label, flags, s);
	free(s);
}

void
tbl_free(struct table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].label);
		free(t->v[i].value);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* The lines of a ROW_LINES value, escaped, with before, between and after them. */
static void
each_line(struct out *o, const char *v, const char *before, const char *between, const char *after)
{
	const char *p = v, *q;
	int first = 1;

	for (;;) {
		q = strchr(p, '\n');
		char *line = xasprintf("%.*s", q != NULL ? (int)(q - p) : (int)strlen(p), p);
		out_put(o, first ? before : between);
		out_esc(o, line);
		free(line);
		first = 0;
		if (q == NULL)
			break;
		p = q + 1;
	}
	out_put(o, after);
}

void
tbl_write(struct out *o, const struct table *t, int indent)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct row *r = &t->v[i];
		if (r->flags & ROW_ITEM) {
			out_put(o, o->html ? "<tr><td colspan=\"2\">" : "");
			if (!o->html)
				out_putf(o, "%*s- ", indent, "");
			out_esc(o, r->label);
			if (*r->value != '\0') {
				if (o->html)
					out_put(o, " <code>");
				else
					out_putf(o, "\n%*s", indent + 2, "");
				out_esc(o, r->value);
				out_put(o, o->html ? "</code>" : "");
			}
			out_put(o, o->html ? "</td></tr>" : "\n");
			continue;
		}
		if (o->html) {
			out_el(o, "<tr><th>", r->label,
			       (r->flags & ROW_TECH) ? "</th><td class=\"tech\">" : "</th><td>");
			if (r->flags & ROW_LINES)
				each_line(o, r->value, "", "<br/>", "");
			else
				out_esc(o, r->value);
			out_put(o, "</td></tr>");
			continue;
		}
		out_putf(o, "%*s", indent, "");
		out_esc(o, r->label);
		if (r->flags & ROW_LINES) {
			char *before =
			    xasprintf("%s\n%*s- ", o->colon_eol != NULL ? o->colon_eol : ":", indent + 2, "");
			char *between = xasprintf("\n%*s- ", indent + 2, "");
			each_line(o, r->value, before, between, "\n");
			free(before);
			free(between);
		} else {
			out_el(o, o->colon != NULL ? o->colon : ": ", r->value, "\n");
		}
	}
	if (o->html)
		out_put(o, "\n");
}

void
rx_readings_table(const struct rctx *x, struct table *t)
{
	const json_t *rd = json_object_get(x->r, "readings");
	const json_t *bat = json_object_get(rd, "battery"), *sto = json_object_get(rd, "storage");
	const json_t *cr = json_object_get(rd, "crashes"), *sl = json_object_get(rd, "syslog");
	const json_t *errs = json_object_get(rd, "errors"), *v;
	double a, b, c;
	size_t i;

	if (json_is_object(bat)) {
		if (!rx_num(bat, "health_pct", &a))
			tbl_add(t, rx_label(x, "health"), 0, rx_label(x, "no_reading"));
		else if (rx_num(bat, "nominal_capacity_mah", &b) && rx_num(bat, "design_capacity_mah", &c))
			tbl_addf(t, rx_label(x, "health"), 0, "%.0f %% (%.0f / %.0f mAh %s)", a, b, c,
			         rx_label(x, "design"));
		else
			tbl_addf(t, rx_label(x, "health"), 0, "%.0f %%", a);
		if (rx_num(bat, "cycle_count", &a))
			tbl_addf(t, rx_label(x, "cycles"), 0, "%.0f", a);
		if (rx_num(bat, "temperature_c", &a))
			tbl_addf(t, rx_label(x, "temperature"), 0, "%.1f °C", a);
	}
	if (rx_num(sto, "total_bytes", &a) && rx_num(sto, "available_bytes", &b) && a > 0) {
		char *f = xasprintf("%.1f GB (%.0f %%)", b / 1e9, b / a * 100.0),
		     *tot = xasprintf("%.1f GB", a / 1e9);
		char *s = rx_fill(rx_label(x, "storage_fmt"), f, tot, NULL);
		tbl_add(t, rx_label(x, "storage"), 0, s);
		free(f);
		free(tot);
		free(s);
	}
	if (rx_num(cr, "count", &a)) {
		b = c = 0;
		rx_num(cr, "panics", &b);
		rx_num(cr, "force_resets", &c);
		tbl_addf(t, rx_label(x, "crashes"), 0, "%.0f (%.0f %s, %.0f %s)", a, b, rx_label(x, "panics"),
		         c, rx_label(x, "resets"));
	}
	if (json_array_size(json_object_get(sl, "signatures")) > 0) {
		struct buf s;
		buf_init(&s, 1u << 20);
		json_array_foreach(json_object_get(sl, "signatures"), i, v)
		{
			int bad = buf_addstr(&s, i ? ", " : "") < 0 ||
			          buf_addstr(&s, rx_str(v, "id") ? rx_str(v, "id") : "?") < 0;
			if (!bad && rx_num(v, "count", &a))
				bad = buf_printf(&s, " ×%.0f", a) < 0;
			(void)bad; /* capped: the row is cut, never overrun */
		}
		tbl_add(t, rx_label(x, "signatures"), ROW_TECH, s.data);
		buf_free(&s);
	}
	if (json_array_size(errs) > 0) {
		struct buf s;
		buf_init(&s, 1u << 20);
		json_array_foreach(errs, i, v)
		{
			if (buf_printf(&s, "%s%s: %s", i ? "\n" : "",
			               rx_str(v, "probe") ? rx_str(v, "probe") : "?",
			               rx_str(v, "reason") ? rx_str(v, "reason") : "?") < 0)
				break;
		}
		tbl_add(t, rx_label(x, "probe_errors"), ROW_LINES, s.data);
		buf_free(&s);
	}
}

/* ---- HTML ---------------------------------------------------------------------------------- */

void
rx_html_head(const struct rctx *x, const char *css, const char *title)
{
	struct out *o = x->o;
	const char *name = rx_device_name(x);

	out_put(o, "<!DOCTYPE html>\n<html lang=\"");
	out_esc(o, x->lang);
	out_put(o, "\">\n<head>\n<meta charset=\"utf-8\"/>\n"
	           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
	           "<meta name=\"generator\" content=\"benchd\"/>\n<title>");
	out_esc(o, title);
	out_el(o, " – ", name != NULL ? name : rx_label(x, "unknown_device"), "</title>\n<style>");
	out_put(o, css);
	out_put(o, "</style>\n</head>\n<body>\n<main>\n");
}

/* ---- the entry points -------------------------------------------------------------------- */

int
report_catalogue_load(const char *path, json_t **out, char *why, size_t whylen)
{
	char *data = NULL;
	size_t len = 0;
	json_error_t jerr;
	json_t *root;

	*out = NULL;
	if (util_read_file(path, CATALOGUE_MAX, &data, &len) < 0) {
		snprintf(why, whylen, "cannot read the fault catalogue %s: %s", path,
		         errno == EFBIG ? "too big" : strerror(errno));
		return REPORT_E_IO;
	}
	root = json_loadb(data, len, 0, &jerr);
	free(data);
	if (!json_is_object(root) || !json_is_object(json_object_get(root, "codes"))) {
		snprintf(why, whylen, "the fault catalogue %s is not a catalogue (%s)", path,
		         root == NULL ? jerr.text : "no \"codes\" object");
		json_decref(root);
		return REPORT_E_MALFORMED;
	}
	*out = root;
	return REPORT_OK;
}

int
report_render_ex(const json_t *report, const struct report_render_opts *op, char **out, size_t *outlen,
                 char *why, size_t whylen)
{
	struct out o;
	struct rctx x;
	json_t *owned = NULL;
	int r;

	if (!json_is_object(report)) {
		snprintf(why, whylen, "the report is not a JSON object");
		return REPORT_E_MALFORMED;
	}
	memset(&o, 0, sizeof(o));
	memset(&x, 0, sizeof(x));
	buf_init(&o.b, RENDER_MAX);
	if (op->fmt == REPORT_FMT_JSON) {
		char *s = json_dumps(report, JSON_INDENT(2));
		if (s == NULL) {
			snprintf(why, whylen, "the report cannot be printed as JSON");
			buf_free(&o.b);
			return REPORT_E_MALFORMED;
		}
		out_put(&o, s);
		out_put(&o, "\n");
		free(s);
	} else {
		x.cat = op->catalogue;
		if (x.cat == NULL && op->catalogue_path != NULL) {
			if ((r = report_catalogue_load(op->catalogue_path, &owned, why, whylen)) !=
			    REPORT_OK) {
				buf_free(&o.b);
				return r;
			}
			x.cat = owned;
		}
		x.o = &o;
		x.r = report;
		x.op = op;
		x.lang = op->lang != NULL && i18n_known_lang(op->lang) ? op->lang : "en";
		if (!op->utc)
			tzset();
		o.html = op->fmt == REPORT_FMT_HTML;
		o.colon = i18n_label(x.lang, "colon");
		o.colon_eol = i18n_label(x.lang, "colon_eol");
		if (report_view_of(op) == REPORT_VIEW_CUSTOMER)
			render_cust(&x);
		else
			render_tech(&x);
		json_decref(owned);
	}
	if (o.failed) {
		buf_free(&o.b);
		snprintf(why, whylen, "the rendered report is too big");
		return REPORT_E_MALFORMED;
	}
	*out = buf_take(&o.b, outlen);
	return REPORT_OK;
}

enum report_view
report_view_of(const struct report_render_opts *op)
{
	if (op->view != REPORT_VIEW_DEFAULT)
		return op->view;
	return op->fmt == REPORT_FMT_HTML ? REPORT_VIEW_CUSTOMER : REPORT_VIEW_TECHNICIAN;
}

int
report_render(const json_t *report, enum report_format fmt, const char *lang, const char *catalogue_path,
              char **out, size_t *outlen, char *why, size_t whylen)
{
	struct report_render_opts o = {
	    .fmt = fmt, .lang = lang, .catalogue_path = catalogue_path, .verified = 1};

	return report_render_ex(report, &o, out, outlen, why, whylen);
}
