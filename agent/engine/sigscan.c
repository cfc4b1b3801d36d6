/*
 * sigscan: syslog signature rules compiled with PCRE2 and matched under hard limits.
 * See sigscan.h for the rules format and the bounds.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "sigscan.h"

#include "log.h"
#include "sandbox.h"
#include "util.h"

#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rule {
	pcre2_code *code;
	size_t sig; /* index into sigs[] (several rules may share one id) */
	int lineno;
};

struct sigscan {
	struct rule *rules;
	size_t nrules;
	char **sigs; /* distinct ids, sorted */
	size_t nsigs;
	size_t *rule_order; /* rule indices in file order for sigscan_id/lineno */
};

const char *
sigscan_strerror(int err)
{
	switch (err) {
	case SIGSCAN_OK:
		return "ok";
	case SIGSCAN_E_OPEN:
		return "cannot read the syslog rules file";
	case SIGSCAN_E_SYNTAX:
		return "malformed syslog rule";
	case SIGSCAN_E_REGEX:
		return "syslog rule pattern does not compile";
	case SIGSCAN_E_INPUT:
		return "syslog lines are not a list of strings";
	}
	return "unknown sigscan error";
}

void
sigscan_free(struct sigscan *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nrules; i++)
		pcre2_code_free(s->rules[i].code);
	for (size_t i = 0; i < s->nsigs; i++)
		free(s->sigs[i]);
	free(s->rules);
	free(s->sigs);
	free(s->rule_order);
	free(s);
}

static int
valid_id(const char *p, size_t n)
{
	if (n == 0 || n > SIGSCAN_MAX_ID)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t
sigscan_count(const struct sigscan *s)
{
	return s ? s->nrules : 0;
}

const char *
sigscan_id(const struct sigscan *s, size_t i)
{
	if (s == NULL || i >= s->nrules)
		return NULL;
	return s->sigs[s->rules[i].sig];
}

int
sigscan_lineno(const struct sigscan *s, size_t i)
{
	if (s == NULL || i >= s->nrules)
		return 0;
	return s->rules[i].lineno;
}

int
sigscan_parse(const char *name, const char *text, size_t len, struct sigscan **out, char *why, size_t whylen)
{
	struct sigscan *s = xcalloc(1, sizeof(*s));
	char **ids = xcalloc(SIGSCAN_MAX_RULES, sizeof(char *));
	const char *p = text, *end = text + len;
	int lineno = 0, err = SIGSCAN_OK;

	*out = NULL;
	s->rules = xcalloc(SIGSCAN_MAX_RULES, sizeof(struct rule));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end, *q, *pat;
		size_t idlen, patlen;
		int errcode;
		PCRE2_SIZE erroff;
		pcre2_code *code;

		lineno++;
		if (le > p && le[-1] == '\r')
			le--;
		q = p;
		p = eol ? eol + 1 : end;
		if (q == le || *q == '#')
			continue;
		if (memchr(q, '\0', (size_t)(le - q)) != NULL) {
			snprintf(why, whylen, "%s line %d: NUL byte in rule", name, lineno);
			err = SIGSCAN_E_SYNTAX;
			goto fail;
		}
		{
			const char *t = q;
			while (t < le && (*t == ' ' || *t == '\t'))
				t++;
			if (t == le)
				continue; /* blank */
		}
		for (idlen = 0; q + idlen < le && q[idlen] != '\t'; idlen++)
			;
		if (!valid_id(q, idlen)) {
			snprintf(why, whylen,
			         "%s line %d: a rule starts with an id of 1-%d characters a-z 0-9 - _ . then "
			         "a tab",
			         name, lineno, SIGSCAN_MAX_ID);
			err = SIGSCAN_E_SYNTAX;
			goto fail;
		}
		pat = q + idlen;
		while (pat < le && *pat == '\t')
			pat++;
		patlen = (size_t)(le - pat);
		if (patlen == 0) {
			snprintf(why, whylen, "%s line %d: rule '%.*s' has no pattern after the tab", name,
			         lineno, (int)idlen, q);
			err = SIGSCAN_E_SYNTAX;
			goto fail;
		}
		if (patlen > SIGSCAN_MAX_PATTERN) {
			snprintf(why, whylen, "%s line %d: pattern longer than %d bytes", name, lineno,
			         SIGSCAN_MAX_PATTERN);
			err = SIGSCAN_E_SYNTAX;
			goto fail;
		}
		if (s->nrules == SIGSCAN_MAX_RULES) {
			snprintf(why, whylen, "%s line %d: more than %d rules", name, lineno,
			         SIGSCAN_MAX_RULES);
			err = SIGSCAN_E_SYNTAX;
			goto fail;
		}
		code =
		    pcre2_compile((PCRE2_SPTR)pat, patlen, PCRE2_NEVER_BACKSLASH_C, &errcode, &erroff, NULL);
		if (code == NULL) {
			PCRE2_UCHAR msg[160];
			pcre2_get_error_message(errcode, msg, sizeof(msg));
			snprintf(why, whylen, "%s line %d: pattern of '%.*s' at offset %zu: %s", name, lineno,
			         (int)idlen, q, (size_t)erroff, (const char *)msg);
			err = SIGSCAN_E_REGEX;
			goto fail;
		}
		(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* interpreter if no JIT */
		s->rules[s->nrules].code = code;
		s->rules[s->nrules].lineno = lineno;
		ids[s->nrules] = xasprintf("%.*s", (int)idlen, q);
		s->nrules++;
	}
	/* Distinct ids, sorted, and each rule's index into them. */
	s->sigs = xcalloc(s->nrules ? s->nrules : 1, sizeof(char *));
	for (size_t i = 0; i < s->nrules; i++) {
		size_t j;
		for (j = 0; j < s->nsigs; j++)
			if (strcmp(s->sigs[j], ids[i]) == 0)
				break;
		if (j == s->nsigs)
			s->sigs[s->nsigs++] = xstrdup(ids[i]);
	}
	qsort(s->sigs, s->nsigs, sizeof(char *), cmp_str);
	for (size_t i = 0; i < s->nrules; i++) {
		char **hit = bsearch(&ids[i], s->sigs, s->nsigs, sizeof(char *), cmp_str);
		s->rules[i].sig = (size_t)(hit - s->sigs);
	}
	for (size_t i = 0; i < s->nrules; i++)
		free(ids[i]);
	free(ids);
	*out = s;
	return SIGSCAN_OK;
fail:
	for (size_t i = 0; i < s->nrules; i++)
		free(ids[i]);
	free(ids);
	sigscan_free(s);
	return err;
}

int
sigscan_load(const char *path, struct sigscan **out, char *why, size_t whylen)
{
	char *data;
	size_t len;
	int r;

	*out = NULL;
	if (util_read_file(path, SIGSCAN_MAX_FILE, &data, &len) != 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return SIGSCAN_E_OPEN;
	}
	r = sigscan_parse(path, data, len, out, why, whylen);
	free(data);
	return r;
}

struct matcher {
	pcre2_match_context *mctx;
	pcre2_match_data *md;
};

static int
matcher_init(struct matcher *m)
{
	m->mctx = pcre2_match_context_create(NULL);
	m->md = pcre2_match_data_create(1, NULL);
	if (m->mctx == NULL || m->md == NULL)
		return -1;
	pcre2_set_match_limit(m->mctx, SIGSCAN_MATCH_LIMIT);
	pcre2_set_depth_limit(m->mctx, SIGSCAN_DEPTH_LIMIT);
	pcre2_set_heap_limit(m->mctx, SIGSCAN_HEAP_LIMIT_KB);
	return 0;
}

static void
matcher_done(struct matcher *m)
{
	pcre2_match_data_free(m->md);
	pcre2_match_context_free(m->mctx);
}

/* Matches one line (already cut to SIGSCAN_MAX_LINE) against every rule; marks hit[sig]. */
static size_t
match_line(const struct sigscan *s, struct matcher *m, const char *line, size_t len, unsigned char *hit,
           void (*fn)(void *arg, size_t rule), void *arg)
{
	size_t n = 0;

	if (len > SIGSCAN_MAX_LINE)
		len = SIGSCAN_MAX_LINE;
	for (size_t i = 0; i < s->nrules; i++) {
		int rc = pcre2_match(s->rules[i].code, (PCRE2_SPTR)line, len, 0, 0, m->md, m->mctx);
		if (rc < 0)
			continue; /* no match, or a limit hit: counts as no match */
		if (hit)
			hit[s->rules[i].sig] = 1;
		if (fn)
			fn(arg, i);
		n++;
	}
	return n;
}

size_t
sigscan_line(const struct sigscan *s, const char *line, size_t len, void (*fn)(void *arg, size_t rule),
             void *arg)
{
	struct matcher m;
	size_t n = 0;

	if (s == NULL || line == NULL)
		return 0;
	if (matcher_init(&m) == 0)
		n = match_line(s, &m, line, len, NULL, fn, arg);
	matcher_done(&m);
	return n;
}

int
sigscan_scan(const struct sigscan *s, const json_t *lines, json_t **signatures)
{
	struct matcher m;
	size_t *count, *first, nlines;
	unsigned char *hit;
	json_t *arr;

	*signatures = NULL;
	if (s == NULL || !json_is_array(lines))
		return SIGSCAN_E_INPUT;
	if (matcher_init(&m) != 0)
		fatalx("sigscan: out of memory");
	count = xcalloc(s->nsigs + 1, sizeof(size_t));
	first = xcalloc(s->nsigs + 1, sizeof(size_t));
	hit = xcalloc(s->nsigs + 1, 1);
	nlines = json_array_size(lines);
	if (nlines > SIGSCAN_MAX_LINES)
		nlines = SIGSCAN_MAX_LINES;
	for (size_t li = 0; li < nlines; li++) {
		const json_t *l = json_array_get(lines, li);
		if (!json_is_string(l))
			continue;
		memset(hit, 0, s->nsigs);
		if (match_line(s, &m, json_string_value(l), json_string_length(l), hit, NULL, NULL) == 0)
			continue;
		for (size_t k = 0; k < s->nsigs; k++) {
			if (!hit[k])
				continue;
			if (count[k]++ == 0)
				first[k] = li;
		}
	}
	matcher_done(&m);
	arr = json_array();
	for (size_t k = 0; k < s->nsigs; k++) {
		const json_t *l;
		json_t *o;
		if (count[k] == 0)
			continue;
		l = json_array_get(lines, first[k]);
		/* The line may hold any bytes: first_line is cut and made valid UTF-8. */
		o = json_pack(
		    "{s:s, s:I, s:o}", "id", s->sigs[k], "count", (json_int_t)count[k], "first_line",
		    sandbox_json_string(json_string_value(l), json_string_length(l), SIGSCAN_MAX_FIRST_LINE));
		if (o == NULL)
			fatalx("sigscan: out of memory");
		json_array_append_new(arr, o);
	}
	free(count);
	free(first);
	free(hit);
	*signatures = arr;
	return SIGSCAN_OK;
}
