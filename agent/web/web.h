/*
 * web: benchd's bench page and its HTTP API (DESIGN.md 4.10), served with libmicrohttpd.
 *
 * The page is a view: every action is a POST that web turns into the same request the control
 * socket takes (CONTRACTS 4) and hands to the one command implementation, commands_call; every
 * answer it shows comes from a command or from the events bus (commands_subscribe), which it
 * streams to the page as Server-Sent Events on /api/events (one stream per page). web holds no
 * bench logic of its own.
 *
 *   GET  /                                 the page (index.html from the page directory, with
 *                                          the per-start CSRF token and the bench language)
 *   GET  /assets/NAME                      the page's CSS, JavaScript and label files
 *   GET  /api/state                        {ok, seq, bench, devices, cases, waiting, outbox}
 *   GET  /api/events                       text/event-stream of the events bus
 *   GET  /api/catalogue                    fault titles, actions and part names in 4 languages
 *   GET  /api/reports?device=&since=&limit=   report summaries (cmd reports)
 *   GET  /api/reports/ID                   {report, verified, reason} (cmd report_get)
 *   GET  /reports/ID.html?view=&lang=      the report rendered by reports/ (report_render_ex)
 *   GET  /reports/ID.jws.json              the exact signed bytes
 *   GET  /api/history/DEVICE               (cmd history)
 *   POST /api/cases/DEVICE/ticket|answers|finish   (cmd link, answer, finish)
 *   GET|POST /api/bookings, DELETE /api/bookings/ID (cmd booking_list, booking_add, booking_remove)
 *   POST /api/login                        {"token": T}: sets the cookie (only with token_file)
 *
 * Safety (guard.h): Host allowlist, CSRF header and same Origin on every POST/DELETE, no CORS
 * headers, CSP default-src 'self', nosniff, no-referrer, bodies at most WEB_BODY_MAX (413),
 * at most WEB_MAX_CONNECTIONS connections (more wait in the kernel's listen backlog until one
 * ends), a request must arrive whole within WEB_REQUEST_SECONDS and an idle connection ends
 * after WEB_IDLE_SECONDS (slow clients are dropped, so a slot frees within seconds), the token
 * when [web] token_file is set.
 *
 * Threads: libmicrohttpd runs one thread per connection (an SSE stream blocks in its own
 * thread waiting for events); commands_call is called from those threads concurrently.
 * Ownership: web_start/web_stop. web keeps pointers to cfg and cmds: they must outlive
 * web_stop, and the events bus must be shut down (events_shutdown) before web_stop so that
 * every stream ends.
 */
#ifndef BENCHD_WEB_H
#define BENCHD_WEB_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"

#define WEB_BODY_MAX          (64u * 1024) /* a bigger request body: 413 */
#define WEB_MAX_CONNECTIONS   32           /* more wait in the listen backlog */
#define WEB_REQUEST_SECONDS   10           /* headers and body must arrive within this */
#define WEB_IDLE_SECONDS      10           /* an idle keep-alive connection is closed */
#define WEB_KEEPALIVE_SECONDS 10           /* an SSE stream says something this often */

enum web_err {
	WEB_OK = 0,
	WEB_E_LISTEN = -1, /* the listen address cannot be parsed, resolved or bound */
	WEB_E_PAGE = -2,   /* the page directory has no index.html */
	WEB_E_START = -3,  /* libmicrohttpd would not start */
	WEB_E_TOKEN = -4,  /* token_file cannot be read or is empty */
};
const char *web_strerror(int err);

struct commands;

struct web_opts {
	const struct config *cfg; /* web_listen, web_token_file, web_hosts, lang, bench_id */
	const char *state_dir;    /* reports/<id>.jws.json live there */
	const char *page_dir;     /* NULL: web_default_page_dir() */
	struct commands *cmds;    /* every answer, and the events (commands_subscribe) */
};

struct web;
/* Listen and serve. cfg->web_listen must be non-empty. */
int web_start(const struct web_opts *o, struct web **out, char *why, size_t whylen);
/* "http://127.0.0.1:8470/" (the port actually bound, also when the configured one was 0). */
const char *web_url(const struct web *w);
/* Stop listening, end every stream and connection, free. NULL is fine. */
void web_stop(struct web *w);

/* Where the page's files are: $BENCHD_WEB_DIR, else the source tree's agent/web/page for a
 * program of this build tree, else <datadir>/benchd/web. */
const char *web_default_page_dir(void);

#endif
