/* guard: see guard.h. */
#include "guard.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* "name:port" or "[v6]:port" for our port. */
static int
host_is(const char *host, const char *name, int port)
{
	char want[300];
	int n;

	if (strchr(name, ':') != NULL)
		n = snprintf(want, sizeof(want), "[%s]:%d", name, port);
	else
		n = snprintf(want, sizeof(want), "%s:%d", name, port);
	if (n < 0 || (size_t)n >= sizeof(want))
		return 0;
	if (strcasecmp(host, want) == 0)
		return 1;
	/* A browser leaves the port out of Host when it is the scheme's default. */
	if (port == 80) {
		if (strchr(name, ':') != NULL)
			n = snprintf(want, sizeof(want), "[%s]", name);
		else
			n = snprintf(want, sizeof(want), "%s", name);
		return n > 0 && (size_t)n < sizeof(want) && strcasecmp(host, want) == 0;
	}
	return 0;
}

int
guard_host_allowed(const struct guard_hosts *h, const char *host)
{
	static const char *const loopback[] = {"localhost", "127.0.0.1", "::1"};

	if (host == NULL || host[0] == '\0' || strlen(host) > 280)
		return 0;
	for (const char *p = host; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 0;
	if (h->listen_host && h->listen_host[0] && host_is(host, h->listen_host, h->port))
		return 1;
	for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
		if (host_is(host, loopback[i], h->port))
			return 1;
	for (size_t i = 0; i < h->nextra; i++)
		if (h->extra[i] && host_is(host, h->extra[i], h->port))
			return 1;
	return 0;
}

int
guard_origin_same(const char *origin, const char *host)
{
	if (origin == NULL || host == NULL || host[0] == '\0')
		return 0;
	if (strncasecmp(origin, "http://", 7) != 0)
		return 0;
	return strcasecmp(origin + 7, host) == 0;
}

int
guard_equal(const char *got, const char *want)
{
	size_t n = strlen(want), gl;
	unsigned char d = 0;

	if (got == NULL)
		return 0;
	gl = strnlen(got, n + 1);
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(i < gl ? got[i] : 0) ^ (unsigned char)want[i];
	return d == 0 && gl == n;
}

/* The value of cookie `name` in a Cookie header ("a=1; b=2"), copied into out. */
static int
cookie_value(const char *cookies, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = cookies;

	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			size_t vl = len - nl - 1;
			if (vl >= outlen)
				return -1;
			memcpy(out, p + nl + 1, vl);
			out[vl] = '\0';
			return 0;
		}
		p = end;
	}
	return -1;
}

int
guard_token_ok(const char *authorization, const char *cookies, const char *token)
{
	char v[512];

	if (token == NULL || token[0] == '\0')
		return 0;
	if (authorization && strncasecmp(authorization, "Bearer ", 7) == 0) {
		const char *t = authorization + 7;
		while (*t == ' ')
			t++;
		if (guard_equal(t, token))
			return 1;
	}
	if (cookies && cookie_value(cookies, GUARD_COOKIE, v, sizeof(v)) == 0 && guard_equal(v, token))
		return 1;
	return 0;
}

int
guard_random_token(char out[44])
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char r[33];
	size_t got = 0;

	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	/* 43 characters of 6 random bits each (258 bits drawn, 256 used, as base64url would). */
	for (size_t i = 0; i < 43; i++) {
		size_t bit = i * 6;
		unsigned v = ((unsigned)r[bit / 8] << 8 | r[bit / 8 + 1]) >> (10 - bit % 8);
		out[i] = al[v & 63];
	}
	out[43] = '\0';
	return 0;
}

int
guard_ident(const char *s, size_t max)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > max || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != ':' && c != '-')
			return 0;
	}
	return 1;
}
