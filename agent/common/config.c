/* config: see config.h. */
#include "config.h"

#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parse {
	struct config *cfg;
	int err;      /* first handler error */
	char key[64]; /* the key (or section) that failed, to match it to inih's line */
	char reason[256];
	char seen[32][40]; /* "section.key" already set, to refuse duplicates */
	int nseen;
};

struct config *
config_new(void)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));

	cfg->bench_id = xstrdup("bench-01");
	util_strlcpy(cfg->lang, "en", sizeof(cfg->lang));
	cfg->syslog_seconds = 5;
	cfg->max_sessions = 64;
	cfg->drain_seconds = 30;
	cfg->upload_timeout = 30;
	cfg->retry_min = 5;
	cfg->retry_max = 900;
	cfg->upload_url = xstrdup("");
	cfg->token_file = xstrdup("");
	cfg->ca_file = xstrdup("");
	cfg->control_socket = xstrdup("");
	return cfg;
}

static void
free_trees(struct config *cfg)
{
	for (size_t i = 0; i < cfg->ntrees; i++)
		free(cfg->trees[i]);
	free(cfg->trees);
	cfg->trees = NULL;
	cfg->ntrees = 0;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->bench_id);
	free_trees(cfg);
	free(cfg->upload_url);
	free(cfg->token_file);
	free(cfg->ca_file);
	free(cfg->control_socket);
	free(cfg);
}

__attribute__((format(printf, 4, 5))) static int
fail(struct parse *p, int err, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (p->err != CONFIG_OK)
		return 0; /* keep the first */
	p->err = err;
	util_strlcpy(p->key, key, sizeof(p->key));
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
	va_end(ap);
	return 0;
}

static int
parse_int(const char *v, long lo, long hi, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi)
		return -1;
	*out = (int)n;
	return 0;
}

static int
valid_name(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

static int
set_trees(struct parse *p, const char *name, const char *v)
{
	struct config *cfg = p->cfg;
	char *copy, *tok, *save = NULL;

	free_trees(cfg);
	if (strcmp(v, CONFIG_TREES_ALL) == 0 || v[0] == '\0')
		return 1;
	copy = xstrdup(v);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		char *e = tok + strlen(tok);
		while (e > tok && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (!valid_name(tok, 64)) {
			fail(p, CONFIG_E_VALUE, name,
			     "trees: '%s' is not a tree name (letters, digits, '-', '_')", tok);
			free(copy);
			return 0;
		}
		cfg->trees = xrealloc(cfg->trees, (cfg->ntrees + 1) * sizeof(char *));
		cfg->trees[cfg->ntrees++] = xstrdup(tok);
	}
	free(copy);
	return 1;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	struct config *cfg = p->cfg;
	char full[40];

	if (p->err != CONFIG_OK)
		return 1; /* already failed: report only the first problem */
	if (name == NULL) /* a bare [section] line (INI_CALL_HANDLER_ON_NEW_SECTION) */
		return 1;
	snprintf(full, sizeof(full), "%s.%s", section, name);
	for (int i = 0; i < p->nseen; i++)
		if (strcmp(p->seen[i], full) == 0)
			return fail(p, CONFIG_E_VALUE, name, "key '%s' set twice in [%s]", name, section);
	if (p->nseen < (int)(sizeof(p->seen) / sizeof(p->seen[0])))
		util_strlcpy(p->seen[p->nseen++], full, sizeof(p->seen[0]));

	if (strcmp(section, "bench") == 0) {
		if (strcmp(name, "id") == 0) {
			if (!valid_name(value, 64))
				return fail(p, CONFIG_E_VALUE, name,
				            "id must be 1-64 letters, digits, '-', '_' or '.', not '%s'",
				            value);
			set_str(&cfg->bench_id, value);
		} else if (strcmp(name, "trees") == 0) {
			return set_trees(p, name, value);
		} else if (strcmp(name, "lang") == 0) {
			if (strcmp(value, "en") && strcmp(value, "it") && strcmp(value, "fr") &&
			    strcmp(value, "zh"))
				return fail(p, CONFIG_E_VALUE, name,
				            "lang must be en, it, fr or zh, not '%s'", value);
			util_strlcpy(cfg->lang, value, sizeof(cfg->lang));
		} else if (strcmp(name, "syslog_seconds") == 0) {
			if (parse_int(value, 0, 600, &cfg->syslog_seconds) < 0)
				return fail(p, CONFIG_E_VALUE, name,
				            "syslog_seconds must be a whole number from 0 to 600, not '%s'",
				            value);
		} else if (strcmp(name, "max_sessions") == 0) {
			if (parse_int(value, 1, 256, &cfg->max_sessions) < 0)
				return fail(p, CONFIG_E_VALUE, name,
				            "max_sessions must be a whole number from 1 to 256, not '%s'",
				            value);
		} else if (strcmp(name, "drain_seconds") == 0) {
			if (parse_int(value, 0, 3600, &cfg->drain_seconds) < 0)
				return fail(p, CONFIG_E_VALUE, name,
				            "drain_seconds must be a whole number from 0 to 3600, not '%s'",
				            value);
		} else {
			return fail(p, CONFIG_E_UNKNOWN, name, "unknown key '%s' in [bench]", name);
		}
	} else if (strcmp(section, "upload") == 0) {
		if (strcmp(name, "url") == 0) {
			if (value[0] != '\0' && strncmp(value, "https://", 8) != 0 &&
			    strncmp(value, "http://", 7) != 0)
				return fail(p, CONFIG_E_VALUE, name,
				            "url must start with https:// or http://, not '%s'", value);
			set_str(&cfg->upload_url, value);
		} else if (strcmp(name, "token_file") == 0) {
			set_str(&cfg->token_file, value);
		} else if (strcmp(name, "ca_file") == 0) {
			set_str(&cfg->ca_file, value);
		} else if (strcmp(name, "timeout_seconds") == 0) {
			if (parse_int(value, 1, 600, &cfg->upload_timeout) < 0)
				return fail(p, CONFIG_E_VALUE, name,
				            "timeout_seconds must be a whole number from 1 to 600, not '%s'",
				            value);
		} else if (strcmp(name, "retry_min_seconds") == 0) {
			if (parse_int(value, 1, 86400, &cfg->retry_min) < 0)
				return fail(
				    p, CONFIG_E_VALUE, name,
				    "retry_min_seconds must be a whole number from 1 to 86400, not '%s'",
				    value);
		} else if (strcmp(name, "retry_max_seconds") == 0) {
			if (parse_int(value, 1, 86400, &cfg->retry_max) < 0)
				return fail(
				    p, CONFIG_E_VALUE, name,
				    "retry_max_seconds must be a whole number from 1 to 86400, not '%s'",
				    value);
		} else {
			return fail(p, CONFIG_E_UNKNOWN, name, "unknown key '%s' in [upload]", name);
		}
	} else if (strcmp(section, "control") == 0) {
		if (strcmp(name, "socket") == 0) {
			if (value[0] != '\0' && value[0] != '/')
				return fail(p, CONFIG_E_VALUE, name,
				            "socket must be an absolute path, not '%s'", value);
			if (strlen(value) >= 108)
				return fail(p, CONFIG_E_VALUE, name, "socket path is longer than 107 bytes");
			set_str(&cfg->control_socket, value);
		} else {
			return fail(p, CONFIG_E_UNKNOWN, name, "unknown key '%s' in [control]", name);
		}
	} else if (section[0] == '\0') {
		return fail(p, CONFIG_E_SYNTAX, name,
		            "key '%s' outside any section: put it under [bench], [upload] or [control]",
		            name);
	} else {
		return fail(p, CONFIG_E_UNKNOWN, name, "unknown section [%s] (known: bench, upload, control)",
		            section);
	}
	return 1;
}

/* Does the text of line `lineno` set key `key`? (inih does not pass line numbers to handlers.) */
static int
line_sets_key(const char *text, int lineno, const char *key)
{
	const char *s = text;
	size_t klen = strlen(key);

	for (int n = 1; n < lineno && s; n++) {
		s = strchr(s, '\n');
		if (s)
			s++;
	}
	if (s == NULL)
		return 0;
	while (*s == ' ' || *s == '\t')
		s++;
	if (strncmp(s, key, klen) != 0)
		return 0;
	s += klen;
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '=' || *s == ':';
}

int
config_load_string(const char *name, const char *text, struct config **out, char *err, size_t errlen)
{
	struct parse p;
	int line;

	memset(&p, 0, sizeof(p));
	p.cfg = config_new();
	line = ini_parse_string(text, handler, &p);
	if (line == 0 && p.err == CONFIG_OK && p.cfg->retry_min > p.cfg->retry_max) {
		snprintf(err, errlen, "%s: retry_min_seconds (%d) is larger than retry_max_seconds (%d)",
		         name, p.cfg->retry_min, p.cfg->retry_max);
		config_free(p.cfg);
		return CONFIG_E_VALUE;
	}
	if (line == 0 && p.err == CONFIG_OK) {
		*out = p.cfg;
		return CONFIG_OK;
	}
	if (line > 0 && (p.err == CONFIG_OK || !line_sets_key(text, line, p.key))) {
		snprintf(err, errlen,
		         "%s line %d: syntax error: expected '[section]', 'key = value' or a comment", name,
		         line);
		p.err = CONFIG_E_SYNTAX;
	} else if (line > 0) {
		snprintf(err, errlen, "%s line %d: %s", name, line, p.reason);
	} else {
		snprintf(err, errlen, "%s: %s", name, p.err != CONFIG_OK ? p.reason : "cannot parse");
		if (p.err == CONFIG_OK)
			p.err = CONFIG_E_SYNTAX;
	}
	config_free(p.cfg);
	return p.err;
}

int
config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int r;

	if (util_read_file(path, 1024 * 1024, &text, &len) < 0) {
		snprintf(err, errlen, "%s: cannot read the configuration: %s", path,
		         errno == EFBIG ? "larger than 1 MB" : strerror(errno));
		return CONFIG_E_OPEN;
	}
	if (strlen(text) != len) {
		snprintf(err, errlen, "%s: not a text file (it holds a NUL byte)", path);
		free(text);
		return CONFIG_E_SYNTAX;
	}
	r = config_load_string(path, text, out, err, errlen);
	free(text);
	return r;
}

char *
config_control_socket(const struct config *cfg, const char *state_dir)
{
	if (cfg->control_socket[0] != '\0')
		return xstrdup(cfg->control_socket);
	return xasprintf("%s/control.sock", state_dir);
}

const char *
config_strerror(int err)
{
	switch (err) {
	case CONFIG_OK:
		return "success";
	case CONFIG_E_OPEN:
		return "cannot open the configuration file";
	case CONFIG_E_SYNTAX:
		return "syntax error in the configuration";
	case CONFIG_E_UNKNOWN:
		return "unknown section or key in the configuration";
	case CONFIG_E_VALUE:
		return "bad value in the configuration";
	}
	return "unknown configuration error";
}
