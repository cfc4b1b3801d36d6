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
#include <strings.h>

struct parse {
	struct config *cfg;
	int err;      /* first handler error */
	char key[64]; /* the key (or section) that failed, to match it to inih's line */
	char reason[256];
	char seen[64][40]; /* "section.key" already set, to refuse duplicates */
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
	cfg->session_timeout = 120;
	cfg->require_ticket = 0;
	cfg->case_idle_hours = 12;
	cfg->shop_name = xstrdup("");
	cfg->shop_contact = xstrdup("");
	cfg->web_listen = xstrdup("127.0.0.1:8470");
	cfg->web_token_file = xstrdup("");
	util_strlcpy(cfg->upload_kind, "generic", sizeof(cfg->upload_kind));
	cfg->poll_seconds = 0;
	cfg->serial_field = xstrdup("IMEI or S/N");
	cfg->rate_per_minute = 0;
	cfg->fleet_url = xstrdup("");
	cfg->fleet_token_file = xstrdup("");
	cfg->fleet_ca_file = xstrdup("");
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
	free(cfg->shop_name);
	free(cfg->shop_contact);
	free(cfg->web_listen);
	free(cfg->web_token_file);
	for (size_t i = 0; i < cfg->nweb_hosts; i++)
		free(cfg->web_hosts[i]);
	free(cfg->web_hosts);
	free(cfg->serial_field);
	free(cfg->fleet_url);
	free(cfg->fleet_token_file);
	free(cfg->fleet_ca_file);
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
parse_yesno(const char *v, int *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "on") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0 ||
	         strcmp(v, "off") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

/* Free text shown to people (shop name, contact, serial field): no control characters. */
static int
plain_text(const char *v, size_t max)
{
	if (strlen(v) > max)
		return 0;
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 0;
	return 1;
}

int
config_host_is_loopback(const char *host)
{
	if (host == NULL)
		return 0;
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return 1;
	if (strncmp(host, "127.", 4) == 0) {
		unsigned a, b, c, d;
		char extra;
		return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) == 4 && a == 127 && b < 256 &&
		       c < 256 && d < 256;
	}
	return 0;
}

int
config_parse_listen(const char *listen, char *host, size_t hostlen, int *port)
{
	const char *colon, *h = listen, *hend;
	char *end;
	long n;

	if (listen == NULL || listen[0] == '\0')
		return -1;
	if (listen[0] == '[') {
		hend = strchr(listen, ']');
		if (hend == NULL || hend[1] != ':')
			return -1;
		h = listen + 1;
		colon = hend + 1;
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL || memchr(listen, ':', (size_t)(colon - listen)) != NULL)
			return -1;
		hend = colon;
	}
	if (hend == h || (size_t)(hend - h) >= hostlen)
		return -1;
	for (const char *q = h; q < hend; q++)
		if (!isalnum((unsigned char)*q) && *q != '.' && *q != '-' && *q != ':')
			return -1;
	errno = 0;
	n = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || n < 0 || n > 65535)
		return -1;
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = '\0';
	*port = (int)n;
	return 0;
}

int
config_check_url(const char *url, char *why, size_t whylen)
{
	char host[256];
	const char *h, *e;
	size_t n;

	if (strncmp(url, "https://", 8) == 0) {
		if (url[8] == '\0' || url[8] == '/') {
			snprintf(why, whylen, "'%s' has no host name", url);
			return -1;
		}
		return 0;
	}
	if (strncmp(url, "http://", 7) != 0) {
		snprintf(why, whylen, "must start with https://, not '%s'", url);
		return -1;
	}
	h = url + 7;
	if (*h == '[') {
		e = strchr(h, ']');
		if (e == NULL) {
			snprintf(why, whylen, "'%s' is not a URL", url);
			return -1;
		}
		h++;
	} else {
		e = h + strcspn(h, ":/?#");
	}
	n = (size_t)(e - h);
	if (n == 0 || n >= sizeof(host)) {
		snprintf(why, whylen, "'%s' has no host name", url);
		return -1;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	if (!config_host_is_loopback(host)) {
		snprintf(why, whylen,
		         "must be https:// ('%s' would send the token and reports unencrypted; plain "
		         "http:// is accepted only for 127.0.0.1, localhost or [::1])",
		         url);
		return -1;
	}
	return 0;
}

int
config_upload_rate(const struct config *cfg)
{
	if (cfg->rate_per_minute > 0)
		return cfg->rate_per_minute;
	if (strcmp(cfg->upload_kind, "repairshopr") == 0)
		return 150; /* RepairShopr: 180 requests a minute per IP (BOOKING.md): stay under */
	if (strcmp(cfg->upload_kind, "repairdesk") == 0)
		return 40; /* RepairDesk: 50 a minute (BOOKING.md) */
	return 0;
}

static int
set_hosts(struct parse *p, const char *name, const char *v)
{
	struct config *cfg = p->cfg;
	char *copy = xstrdup(v), *tok, *save = NULL;

	for (size_t i = 0; i < cfg->nweb_hosts; i++)
		free(cfg->web_hosts[i]);
	free(cfg->web_hosts);
	cfg->web_hosts = NULL;
	cfg->nweb_hosts = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		char *e = tok + strlen(tok);
		while (e > tok && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*tok == '\0')
			continue;
		if (!valid_name(tok, 253)) {
			fail(p, CONFIG_E_VALUE, name, "hosts: '%s' is not a host name", tok);
			free(copy);
			return 0;
		}
		cfg->web_hosts = xrealloc(cfg->web_hosts, (cfg->nweb_hosts + 1) * sizeof(char *));
		cfg->web_hosts[cfg->nweb_hosts++] = xstrdup(tok);
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
		} else if (strcmp(name, "session_timeout_seconds") == 0) {
			if (parse_int(value, 10, 3600, &cfg->session_timeout) < 0)
				return fail(p, CONFIG_E_VALUE, name,
				            "session_timeout_seconds must be a whole number from 10 to 3600, "
				            "not '%s'",
				            value);
		} else if (strcmp(name, "require_ticket") == 0) {
			if (parse_yesno(value, &cfg->require_ticket) < 0)
				return fail(p, CONFIG_E_VALUE, name,
				            "require_ticket must be yes or no, not '%s'", value);
		} else if (strcmp(name, "case_idle_hours") == 0) {
			if (parse_int(value, 1, 720, &cfg->case_idle_hours) < 0)
				return fail(p, CONFIG_E_VALUE, name,
				            "case_idle_hours must be a whole number from 1 to 720, not '%s'",
				            value);
		} else {
			return fail(p, CONFIG_E_UNKNOWN, name, "unknown key '%s' in [bench]", name);
		}
	} else if (strcmp(section, "upload") == 0) {
		if (strcmp(name, "url") == 0) {
			char uwhy[256];
			if (value[0] != '\0' && config_check_url(value, uwhy, sizeof(uwhy)) < 0)
				return fail(p, CONFIG_E_VALUE, name, "url %s", uwhy);
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
		} else if (strcmp(name, "kind") == 0) {
			if (strcmp(value, "generic") && strcmp(value, "repairshopr") &&
			    strcmp(value, "repairdesk"))
				return fail(p, CONFIG_E_VALUE, name,
				            "kind must be generic, repairshopr or repairdesk, not '%s'",
				            value);
			util_strlcpy(cfg->upload_kind, value, sizeof(cfg->upload_kind));
		} else if (strcmp(name, "poll_seconds") == 0) {
			if (parse_int(value, 0, 86400, &cfg->poll_seconds) < 0)
				return fail(p, CONFIG_E_VALUE, name,
				            "poll_seconds must be a whole number from 0 to 86400, not '%s'",
				            value);
		} else if (strcmp(name, "serial_field") == 0) {
			if (value[0] == '\0' || !plain_text(value, 128))
				return fail(p, CONFIG_E_VALUE, name,
				            "serial_field must be the name of a ticket field (1-128 "
				            "characters), not '%s'",
				            value);
			set_str(&cfg->serial_field, value);
		} else if (strcmp(name, "rate_per_minute") == 0) {
			if (parse_int(value, 0, 10000, &cfg->rate_per_minute) < 0)
				return fail(
				    p, CONFIG_E_VALUE, name,
				    "rate_per_minute must be a whole number from 0 to 10000, not '%s'",
				    value);
		} else {
			return fail(p, CONFIG_E_UNKNOWN, name, "unknown key '%s' in [upload]", name);
		}
	} else if (strcmp(section, "shop") == 0) {
		if (strcmp(name, "name") == 0) {
			if (!plain_text(value, 128))
				return fail(p, CONFIG_E_VALUE, name,
				            "name must be at most 128 characters without control characters");
			set_str(&cfg->shop_name, value);
		} else if (strcmp(name, "contact") == 0) {
			if (!plain_text(value, 256))
				return fail(
				    p, CONFIG_E_VALUE, name,
				    "contact must be at most 256 characters without control characters");
			set_str(&cfg->shop_contact, value);
		} else {
			return fail(p, CONFIG_E_UNKNOWN, name, "unknown key '%s' in [shop]", name);
		}
	} else if (strcmp(section, "web") == 0) {
		if (strcmp(name, "listen") == 0) {
			char host[256];
			int port;
			if (value[0] != '\0' && config_parse_listen(value, host, sizeof(host), &port) < 0)
				return fail(p, CONFIG_E_VALUE, name,
				            "listen must be HOST:PORT (e.g. 127.0.0.1:8470 or [::1]:8470) or "
				            "empty for no page, not '%s'",
				            value);
			set_str(&cfg->web_listen, value);
		} else if (strcmp(name, "token_file") == 0) {
			set_str(&cfg->web_token_file, value);
		} else if (strcmp(name, "hosts") == 0) {
			return set_hosts(p, name, value);
		} else {
			return fail(p, CONFIG_E_UNKNOWN, name, "unknown key '%s' in [web]", name);
		}
	} else if (strcmp(section, "fleet") == 0) {
		if (strcmp(name, "url") == 0) {
			char uwhy[256];
			if (value[0] != '\0' && config_check_url(value, uwhy, sizeof(uwhy)) < 0)
				return fail(p, CONFIG_E_VALUE, name, "url %s", uwhy);
			set_str(&cfg->fleet_url, value);
		} else if (strcmp(name, "token_file") == 0) {
			set_str(&cfg->fleet_token_file, value);
		} else if (strcmp(name, "ca_file") == 0) {
			set_str(&cfg->fleet_ca_file, value);
		} else {
			return fail(p, CONFIG_E_UNKNOWN, name, "unknown key '%s' in [fleet]", name);
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
		            "key '%s' outside any section: put it under [bench], [upload] or another section",
		            name);
	} else {
		return fail(p, CONFIG_E_UNKNOWN, name,
		            "unknown section [%s] (known: bench, shop, web, upload, fleet, control)",
		            section);
	}
	return 1;
}

int
config_line_sets_key(const char *text, int lineno, const char *key)
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
	if (line == 0 && p.err == CONFIG_OK && p.cfg->web_listen[0] != '\0' &&
	    p.cfg->web_token_file[0] == '\0') {
		char host[256];
		int port;
		if (config_parse_listen(p.cfg->web_listen, host, sizeof(host), &port) == 0 &&
		    !config_host_is_loopback(host)) {
			snprintf(err, errlen,
			         "%s: [web] listen %s is not a loopback address: set [web] token_file (the "
			         "page would be open to the whole network) or listen on 127.0.0.1",
			         name, p.cfg->web_listen);
			config_free(p.cfg);
			return CONFIG_E_VALUE;
		}
	}
	if (line == 0 && p.err == CONFIG_OK && p.cfg->fleet_url[0] != '\0' &&
	    p.cfg->fleet_token_file[0] == '\0') {
		snprintf(err, errlen,
		         "%s: [fleet] url is set but [fleet] token_file is not: benchfleet "
		         "refuses uploads without the bench's token (benchfleet bench add prints it)",
		         name);
		config_free(p.cfg);
		return CONFIG_E_VALUE;
	}
	if (line == 0 && p.err == CONFIG_OK) {
		*out = p.cfg;
		return CONFIG_OK;
	}
	if (line > 0 && (p.err == CONFIG_OK || !config_line_sets_key(text, line, p.key))) {
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
