/*
 * guard: the bench page's safety rules as pure functions (DESIGN.md 4.10), so each can be unit
 * tested without a server. A local web UI is attacked through the technician's own browser:
 *
 *   - DNS rebinding: a page on evil.test resolves its name to 127.0.0.1 and reads our API as
 *     "same origin". The Host header then says evil.test: guard_host_allowed refuses every
 *     Host but the listen address, localhost, 127.0.0.1 and [::1] at our port, and the names
 *     in [web] hosts.
 *   - Cross-site requests: a foreign page can POST to 127.0.0.1 blind. Every POST and DELETE
 *     needs the per-start CSRF token in the X-Benchd-CSRF header (a custom header: the browser
 *     will not send it cross-origin without a CORS preflight, which we never answer) and an
 *     Origin equal to http://<the Host we accepted> (guard_origin_same).
 *   - Off loopback ([web] token_file): the token as "Authorization: Bearer T" or the cookie
 *     benchd_token=T (guard_token_ok), compared in constant time.
 *
 * Owns nothing; every function only reads its arguments.
 */
#ifndef BENCHD_WEB_GUARD_H
#define BENCHD_WEB_GUARD_H

#include <stddef.h>

#define GUARD_COOKIE "benchd_token"

struct guard_hosts {
	const char *listen_host; /* as config_parse_listen gives it (no brackets) */
	int port;                /* the port actually listened on */
	char *const *extra;      /* [web] hosts (names, no port) */
	size_t nextra;
};

/* 1 when `host` (the Host header, "name:port" or "[v6]:port") names this server. */
int guard_host_allowed(const struct guard_hosts *h, const char *host);
/* 1 when `origin` is exactly "http://" + host (case-insensitive): the request comes from a page
 * this server served under that Host. NULL, "null" or anything else: 0. */
int guard_origin_same(const char *origin, const char *host);
/* Constant-time string equality (lengths may differ; the time depends only on want's length). */
int guard_equal(const char *got, const char *want);
/* 1 when the request carries the token: "Authorization: Bearer <token>" or a cookie
 * benchd_token=<token> among `cookies` (the Cookie header). token must be non-empty. */
int guard_token_ok(const char *authorization, const char *cookies, const char *token);
/* A random token of 32 bytes as 43 base64url characters into out[44]. Returns 0 or -1. */
int guard_random_token(char out[44]);
/* 1 when s is a safe path identifier: 1..max bytes of [A-Za-z0-9._:-], not "." or "..". */
int guard_ident(const char *s, size_t max);

#endif
