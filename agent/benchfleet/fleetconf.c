/* fleetconf: see fleetconf.h. */
#include "fleetconf.h"

#include "config.h"
#include "util.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parse {
	struct fleetconf *c;
	int err;
	char key[64];
	char reason[300];
	char seen[32][40];
	int nseen;
};

struct fleetconf *
fleetconf_new(void)
{
	struct fleetconf *c = xcalloc(1, sizeof(*c));

	c->conninfo = xstrdup("");
	c->listen = xstrdup(FLEETCONF_DEFAULT_LISTEN);
	util_strlcpy(c->host, "127.0.0.1", sizeof(c->host));
	c->port = 8471;
	c->tls_cert = xstrdup("");
	c->tls_key = xstrdup("");
	c->api_token_file = xstrdup("");
	c->max_connections = 256;
	c->timeout_s = 30;
	c->threads = 16;
	return c;
}

void
fleetconf_free(struct fleetconf *c)
{
	if (c == NULL)
		return;
	free(c->conninfo);
	free(c->listen);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->api_token_file);
	free(c);
}

const char *
fleetconf_strerror(int err)
{
	switch (err) {
	case FLEETCONF_OK:
		return "success";
	case FLEETCONF_E_OPEN:
		return "cannot open the configuration";
	case FLEETCONF_E_SYNTAX:
		return "syntax error";
	case FLEETCONF_E_UNKNOWN:
		return "unknown section or key";
	case FLEETCONF_E_VALUE:
		return "bad value";
	}
	return "unknown configuration error";
}

__attribute__((format(printf, 4, 5))) static int
fail(struct parse *p, int err, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (p->err != FLEETCONF_OK)
		return 0;
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

/* HOST:PORT like benchd's [web] listen, and port 0 (any free port) as well. */
static int
parse_listen(const char *v, char *host, size_t hostlen, int *port)
{
	size_t n = strlen(v);

	if (n >= 2 && strcmp(v + n - 2, ":0") == 0) {
		/* config_parse_listen wants 1..65535: check the host part with a stand-in port. */
		char *tmp = xasprintf("%.*s:1", (int)(n - 2), v);
		int r = config_parse_listen(tmp, host, hostlen, port);
		free(tmp);
		*port = 0;
		return r;
	}
	return config_parse_listen(v, host, hostlen, port);
}

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	struct fleetconf *c = p->c;
	char full[40];

	if (p->err != FLEETCONF_OK || name == NULL)
		return 1;
	snprintf(full, sizeof(full), "%s.%s", section, name);
	for (int i = 0; i < p->nseen; i++)
		if (strcmp(p->seen[i], full) == 0)
			return fail(p, FLEETCONF_E_VALUE, name, "key '%s' set twice in [%s]", name, section);
	if (p->nseen < (int)(sizeof(p->seen) / sizeof(p->seen[0])))
		util_strlcpy(p->seen[p->nseen++], full, sizeof(p->seen[0]));

	if (strcmp(section, "db") == 0) {
		if (strcmp(name, "conninfo") == 0)
			set_str(&c->conninfo, value);
		else
			return fail(p, FLEETCONF_E_UNKNOWN, name,
			            "unknown key '%s' in [db] (known: conninfo)", name);
	} else if (strcmp(section, "http") == 0) {
		if (strcmp(name, "listen") == 0) {
			if (parse_listen(value, c->host, sizeof(c->host), &c->port) < 0)
				return fail(p, FLEETCONF_E_VALUE, name,
				            "listen must be HOST:PORT (e.g. 127.0.0.1:8471, 0.0.0.0:8471 or "
				            "[::]:8471), not '%s'",
				            value);
			set_str(&c->listen, value);
		} else if (strcmp(name, "tls_cert") == 0) {
			set_str(&c->tls_cert, value);
		} else if (strcmp(name, "tls_key") == 0) {
			set_str(&c->tls_key, value);
		} else if (strcmp(name, "api_token_file") == 0) {
			set_str(&c->api_token_file, value);
		} else if (strcmp(name, "max_connections") == 0) {
			if (parse_int(value, 1, 10000, &c->max_connections) < 0)
				return fail(
				    p, FLEETCONF_E_VALUE, name,
				    "max_connections must be a whole number from 1 to 10000, not '%s'",
				    value);
		} else if (strcmp(name, "timeout_seconds") == 0) {
			if (parse_int(value, 1, 600, &c->timeout_s) < 0)
				return fail(p, FLEETCONF_E_VALUE, name,
				            "timeout_seconds must be a whole number from 1 to 600, not '%s'",
				            value);
		} else if (strcmp(name, "threads") == 0) {
			if (parse_int(value, 1, 64, &c->threads) < 0)
				return fail(p, FLEETCONF_E_VALUE, name,
				            "threads must be a whole number from 1 to 64, not '%s'", value);
		} else {
			return fail(p, FLEETCONF_E_UNKNOWN, name,
			            "unknown key '%s' in [http] (known: listen, tls_cert, tls_key, "
			            "api_token_file, max_connections, timeout_seconds, threads)",
			            name);
		}
	} else if (section[0] == '\0') {
		return fail(p, FLEETCONF_E_SYNTAX, name,
		            "key '%s' outside any section: put it under [db] or [http]", name);
	} else {
		return fail(p, FLEETCONF_E_UNKNOWN, name, "unknown section [%s] (known: db, http)", section);
	}
	return 1;
}

int
fleetconf_load_string(const char *name, const char *text, struct fleetconf **out, char *err, size_t errlen)
{
	struct parse p;
	int line;

	memset(&p, 0, sizeof(p));
	p.c = fleetconf_new();
	line = ini_parse_string(text, handler, &p);
	if (line == 0 && p.err == FLEETCONF_OK) {
		if ((p.c->tls_cert[0] == '\0') != (p.c->tls_key[0] == '\0')) {
			snprintf(err, errlen,
			         "%s: [http] tls_cert and tls_key go together: set both for HTTPS, "
			         "or neither",
			         name);
			fleetconf_free(p.c);
			return FLEETCONF_E_VALUE;
		}
		if (p.c->tls_cert[0] == '\0' && !config_host_is_loopback(p.c->host)) {
			snprintf(err, errlen,
			         "%s: [http] listen %s is not a loopback address: set tls_cert and tls_key "
			         "(bench tokens and reports would cross the network unencrypted)",
			         name, p.c->listen);
			fleetconf_free(p.c);
			return FLEETCONF_E_VALUE;
		}
		*out = p.c;
		return FLEETCONF_OK;
	}
	if (line > 0 && (p.err == FLEETCONF_OK || !config_line_sets_key(text, line, p.key))) {
		snprintf(err, errlen,
		         "%s line %d: syntax error: expected '[section]', 'key = value' or a comment", name,
		         line);
		p.err = FLEETCONF_E_SYNTAX;
	} else if (line > 0) {
		snprintf(err, errlen, "%s line %d: %s", name, line, p.reason);
	} else {
		snprintf(err, errlen, "%s: %s", name, p.reason);
	}
	fleetconf_free(p.c);
	return p.err;
}

int
fleetconf_load(const char *path, struct fleetconf **out, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int r;

	if (util_read_file(path, 1 << 20, &text, &len) < 0) {
		snprintf(err, errlen, "%s: %s", path,
		         errno == EFBIG ? "larger than 1 MiB: not a configuration file" : strerror(errno));
		return FLEETCONF_E_OPEN;
	}
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: contains a NUL byte: not a configuration file", path);
		free(text);
		return FLEETCONF_E_SYNTAX;
	}
	r = fleetconf_load_string(path, text, out, err, errlen);
	free(text);
	return r;
}
