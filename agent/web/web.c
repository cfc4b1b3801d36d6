/* web: see web.h. */
#include "web.h"

#include "buf.h"
#include "guard.h"
#include "log.h"
#include "sse.h"
#include "util.h"

#include "commands.h"
#include "engine.h"
#include "events.h"
#include "report.h"

#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE_FILE_MAX  (1u << 20) /* one file of the page */
#define REPORT_ID_MAX  64         /* report ids are UUIDs (36) */
#define DEVICE_ID_MAX  128        /* UDID, serial, ECID, case id or report id */
#define CATALOGUE_MAX  (8u << 20)
#define TOKEN_FILE_MAX 4096

/* Content-Security-Policy of the page and the API: nothing but our own files, no inline script
 * or style, never in a frame. */
#define CSP_PAGE                                                                                             \
	"default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "                  \
	"object-src 'none'"
/* The rendered reports are self-contained documents (printed, saved, mailed) with one inline
 * stylesheet and inline SVG: they get no script at all and load nothing. */
#define CSP_REPORT                                                                                           \
	"default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "                    \
	"form-action 'none'; frame-ancestors 'none'"

/* One TCP connection (libmicrohttpd's socket context): the reaper drops it when a request does
 * not arrive whole in time. */
struct conn {
	int fd;
	int busy;           /* a request is being answered (or streamed): no deadline */
	long long deadline; /* ms (util_now_ms) by which the next request must be in */
	int dropped;
	struct conn *prev, *next;
};

/* One request (libmicrohttpd's con_cls). */
struct req {
	struct buf body;
	int too_large;
	struct conn *conn;
};

struct web {
	const struct config *cfg;
	char *state_dir;
	char *page_dir;
	struct commands *cmds;

	struct MHD_Daemon *mhd;
	int lfd;
	char host[256]; /* the listen host, as configured */
	int port;       /* the port bound */
	char url[320];
	char csrf[44];
	struct guard_hosts hosts;
	json_t *catalogue;        /* /api/catalogue: codes and parts, or NULL */
	json_t *render_catalogue; /* the whole catalogue for the renderer, or NULL */
	long long host_logged;    /* when a refused Host was last logged (ms) */

	atomic_int stopping;
	pthread_mutex_t mu; /* conns and the reaper's wake */
	pthread_cond_t cv;
	struct conn *conns;
	pthread_t reaper;
	int reaper_started;
};

const char *
web_strerror(int err)
{
	switch (err) {
	case WEB_OK:
		return "ok";
	case WEB_E_LISTEN:
		return "cannot listen on the [web] listen address";
	case WEB_E_PAGE:
		return "the page files are missing";
	case WEB_E_START:
		return "the HTTP server would not start";
	case WEB_E_TOKEN:
		return "the [web] token_file cannot be used";
	}
	return "unknown web error";
}

/* ------------------------------------------------------------------------------------------ */
/* Where the page lives */

static char page_default[PATH_MAX];
static pthread_once_t page_once = PTHREAD_ONCE_INIT;

static int
is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void
find_page_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	util_strlcpy(page_default, BENCHD_SOURCE_DIR "/agent/web/page", sizeof(page_default));
	if (n > 0) {
		size_t bl = strlen(BENCHD_BINARY_DIR);
		exe[n] = '\0';
		/* A program of this build tree serves the source tree's page (edit, reload). */
		if ((size_t)n > bl && strncmp(exe, BENCHD_BINARY_DIR, bl) == 0 && exe[bl] == '/' &&
		    is_dir(BENCHD_SOURCE_DIR "/agent/web/page"))
			return;
	}
	if (is_dir(BENCHD_WEB_INSTALL_DIR))
		util_strlcpy(page_default, BENCHD_WEB_INSTALL_DIR, sizeof(page_default));
}

const char *
web_default_page_dir(void)
{
	const char *env = getenv("BENCHD_WEB_DIR");

	if (env != NULL && *env != '\0')
		return env;
	pthread_once(&page_once, find_page_dir);
	return page_default;
}

/* ------------------------------------------------------------------------------------------ */
/* Answers */

enum kind { K_PAGE, K_ASSET, K_API, K_REPORT };

static void
safety_headers(struct MHD_Response *r, enum kind k)
{
	MHD_add_response_header(r, "Content-Security-Policy", k == K_REPORT ? CSP_REPORT : CSP_PAGE);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(r, "Cache-Control", k == K_ASSET ? "no-cache" : "no-store");
}

static enum MHD_Result
send_bytes(struct MHD_Connection *c, unsigned status, const char *ctype, const void *data, size_t len,
           enum kind k)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	safety_headers(r, k);
	MHD_add_response_header(r, "Content-Type", ctype);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
send_json(struct MHD_Connection *c, unsigned status, const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	enum MHD_Result r;
	size_t n;

	if (s == NULL)
		s = xstrdup("{\"ok\":false,\"error\":\"cannot encode the answer\"}");
	n = strlen(s);
	s = xrealloc(s, n + 2);
	s[n++] = '\n';
	s[n] = '\0';
	r = send_bytes(c, status, "application/json", s, n, K_API);
	free(s);
	return r;
}

/* {"ok":false,"error":msg} with status. */
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result
send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *j;
	enum MHD_Result r;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	r = send_json(c, status, j);
	json_decref(j);
	return r;
}

static enum MHD_Result
send_redirect(struct MHD_Connection *c, const char *to)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	safety_headers(r, K_PAGE);
	MHD_add_response_header(r, "Location", to);
	ret = MHD_queue_response(c, MHD_HTTP_SEE_OTHER, r);
	MHD_destroy_response(r);
	return ret;
}

/* CONTRACTS 4: a refused command's code to its HTTP status (commands.h owns the table). */
static unsigned
status_of(const json_t *answer)
{
	return (unsigned)commands_http_status(answer);
}

/* Run one command and answer with what it said. Takes req. */
static enum MHD_Result
send_command(struct web *w, struct MHD_Connection *c, json_t *req)
{
	json_t *ans = commands_call(w->cmds, req);
	enum MHD_Result r;

	json_decref(req);
	if (ans == NULL)
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error: no answer");
	r = send_json(c, status_of(ans), ans);
	json_decref(ans);
	return r;
}

/* ------------------------------------------------------------------------------------------ */
/* The page's files */

static const char *
mime_of(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {".html", "text/html; charset=utf-8"},
	    {".css", "text/css; charset=utf-8"},
	    {".js", "text/javascript; charset=utf-8"},
	    {".json", "application/json"},
	    {".svg", "image/svg+xml"},
	    {".png", "image/png"},
	    {".ico", "image/x-icon"},
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

static int
read_page_file(struct web *w, const char *name, char **data, size_t *len)
{
	char *p = xasprintf("%s/%s", w->page_dir, name);
	int r = util_read_file(p, PAGE_FILE_MAX, data, len);

	free(p);
	return r;
}

/* Append s to b with HTML escaping. */
static int
add_escaped(struct buf *b, const char *s)
{
	for (; *s; s++) {
		const char *rep = NULL;
		switch (*s) {
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
		}
		if (rep ? buf_addstr(b, rep) < 0 : buf_add(b, s, 1) < 0)
			return -1;
	}
	return 0;
}

/* index.html and login.html with {{csrf}}, {{lang}} and {{bench}} filled in. */
static enum MHD_Result
send_template(struct web *w, struct MHD_Connection *c, const char *name)
{
	char *t, *p, *q;
	size_t len;
	struct buf b;
	enum MHD_Result r;

	if (read_page_file(w, name, &t, &len) < 0)
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "the page file %s/%s cannot be read",
		                  w->page_dir, name);
	buf_init(&b, PAGE_FILE_MAX * 2);
	for (p = t; (q = strstr(p, "{{")) != NULL; p = q) {
		int bad = buf_add(&b, p, (size_t)(q - p)) < 0;
		if (strncmp(q, "{{csrf}}", 8) == 0) {
			bad |= buf_addstr(&b, w->csrf) < 0;
			q += 8;
		} else if (strncmp(q, "{{lang}}", 8) == 0) {
			bad |= buf_addstr(&b, w->cfg->lang) < 0;
			q += 8;
		} else if (strncmp(q, "{{bench}}", 9) == 0) {
			bad |= add_escaped(&b, w->cfg->bench_id) < 0;
			q += 9;
		} else {
			bad |= buf_add(&b, q, 2) < 0;
			q += 2;
		}
		if (bad) {
			buf_free(&b);
			free(t);
			return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "the page is too large");
		}
	}
	if (buf_addstr(&b, p) < 0) {
		buf_free(&b);
		free(t);
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "the page is too large");
	}
	free(t);
	r = send_bytes(c, MHD_HTTP_OK, "text/html; charset=utf-8", b.data, b.len, K_PAGE);
	buf_free(&b);
	return r;
}

static enum MHD_Result
send_asset(struct web *w, struct MHD_Connection *c, const char *name)
{
	const char *type = mime_of(name);
	char *data;
	size_t len;
	enum MHD_Result r;

	if (!guard_ident(name, 64) || type == NULL || strstr(name, "..") != NULL ||
	    strcmp(name, "index.html") == 0 || strcmp(name, "login.html") == 0)
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such file");
	if (read_page_file(w, name, &data, &len) < 0)
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such file");
	r = send_bytes(c, MHD_HTTP_OK, type, data, len, K_ASSET);
	free(data);
	return r;
}

/* ------------------------------------------------------------------------------------------ */
/* The API */

static const char *
arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static const char *
header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static json_t *
call(struct web *w, json_t *req)
{
	json_t *ans = commands_call(w->cmds, req);
	json_decref(req);
	return ans;
}

/* GET /api/state: the bench as the commands see it now (cmd state), with the events' seq it is
 * at least as new as; the page adds the bench's name and language. */
static enum MHD_Result
send_state(struct web *w, struct MHD_Connection *c)
{
	json_t *st = call(w, json_pack("{s:s}", "cmd", "state"));
	enum MHD_Result r;

	if (st == NULL)
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error: no answer");
	if (json_is_true(json_object_get(st, "ok")))
		json_object_set_new(st, "bench",
		                    json_pack("{s:s, s:s}", "id", w->cfg->bench_id, "lang", w->cfg->lang));
	r = send_json(c, status_of(st), st);
	json_decref(st);
	return r;
}

static ssize_t
sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	ssize_t n = sse_stream_read(cls, buf, max);
	return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void
sse_free(void *cls)
{
	sse_stream_free(cls);
}

static enum MHD_Result
send_events(struct web *w, struct MHD_Connection *c)
{
	const char *last = header(c, "Last-Event-ID");
	unsigned long long since = 0;
	struct sse_stream *s;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (last != NULL) {
		char *end;
		since = strtoull(last, &end, 10);
		if (*end != '\0')
			since = 0;
	}
	s = sse_stream_new(w->cmds, since, &w->stopping, WEB_KEEPALIVE_SECONDS);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_reader, s, sse_free);
	if (r == NULL) {
		sse_stream_free(s);
		return MHD_NO;
	}
	safety_headers(r, K_API);
	MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* The request body as a JSON object; NULL with an answer already queued. */
static json_t *
body_object(struct MHD_Connection *c, struct req *q, enum MHD_Result *ret)
{
	json_error_t jerr;
	json_t *j;

	if (q->body.len == 0) {
		*ret = send_error(c, MHD_HTTP_BAD_REQUEST, "the body must be a JSON object");
		return NULL;
	}
	j = json_loadb(q->body.data, q->body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(j)) {
		*ret = j ? send_error(c, MHD_HTTP_BAD_REQUEST, "the body must be a JSON object")
		         : send_error(c, MHD_HTTP_BAD_REQUEST, "the body is not JSON: %s (line %d)",
		                      jerr.text, jerr.line);
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Copy only the named fields of body into req; refuse any other field. */
static int
take_fields(json_t *req, const json_t *body, const char *const *names, char *why, size_t whylen)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)body, k, v)
	{
		int known = 0;
		for (size_t i = 0; names[i]; i++)
			if (strcmp(k, names[i]) == 0)
				known = 1;
		if (!known) {
			snprintf(why, whylen, "unknown field '%.64s' in the body", k);
			return -1;
		}
		json_object_set(req, k, v);
	}
	return 0;
}

/* POST /api/cases/{device}/{ticket|answers|finish} */
static enum MHD_Result
case_action(struct web *w, struct MHD_Connection *c, struct req *q, const char *device, const char *action)
{
	static const char *const ticket_f[] = {"ticket", NULL};
	static const char *const answers_f[] = {"answers", NULL};
	static const char *const finish_f[] = {NULL};
	const char *const *fields;
	const char *cmd;
	enum MHD_Result ret;
	json_t *body, *req;
	char why[128];

	if (strcmp(action, "ticket") == 0) {
		cmd = "link";
		fields = ticket_f;
	} else if (strcmp(action, "answers") == 0) {
		cmd = "answer";
		fields = answers_f;
	} else if (strcmp(action, "finish") == 0) {
		cmd = "finish";
		fields = finish_f;
	} else {
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such action '%.32s' (ticket, answers, finish)",
		                  action);
	}
	if ((body = body_object(c, q, &ret)) == NULL)
		return ret;
	req = json_pack("{s:s, s:s}", "cmd", cmd, "device", device);
	if (take_fields(req, body, fields, why, sizeof(why)) < 0) {
		json_decref(body);
		json_decref(req);
		return send_error(c, MHD_HTTP_BAD_REQUEST, "%s", why);
	}
	json_decref(body);
	if (strcmp(cmd, "link") == 0 && !json_is_string(json_object_get(req, "ticket"))) {
		json_decref(req);
		return send_error(c, MHD_HTTP_BAD_REQUEST, "the body must be {\"ticket\": \"T-1001\"}");
	}
	if (strcmp(cmd, "answer") == 0 && !json_is_object(json_object_get(req, "answers"))) {
		json_decref(req);
		return send_error(c, MHD_HTTP_BAD_REQUEST,
		                  "the body must be {\"answers\": {\"key\": \"choice\"}}");
	}
	return send_command(w, c, req);
}

static enum MHD_Result
booking_add(struct web *w, struct MHD_Connection *c, struct req *q)
{
	static const char *const fields[] = {"serial", "imei", "udid", "ticket", "lang", "note", NULL};
	enum MHD_Result ret;
	json_t *body, *req;
	char why[128];

	if ((body = body_object(c, q, &ret)) == NULL)
		return ret;
	req = json_pack("{s:s}", "cmd", "booking_add");
	if (take_fields(req, body, fields, why, sizeof(why)) < 0) {
		json_decref(body);
		json_decref(req);
		return send_error(c, MHD_HTTP_BAD_REQUEST, "%s", why);
	}
	json_decref(body);
	return send_command(w, c, req);
}

static int
is_report_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > REPORT_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F') || s[i] == '-'))
			return 0;
	return 1;
}

/* GET /reports/{id}.jws.json: the file as it was signed. */
static enum MHD_Result
send_jws(struct web *w, struct MHD_Connection *c, const char *id)
{
	char *p, *data;
	size_t len;
	enum MHD_Result r;

	p = xasprintf("%s/reports/%s.jws.json", w->state_dir, id);
	if (util_read_file(p, REPORT_MAX_JWS, &data, &len) < 0) {
		free(p);
		return send_error(c, MHD_HTTP_NOT_FOUND, "no report %s on this bench", id);
	}
	free(p);
	r = send_bytes(c, MHD_HTTP_OK, "application/jose+json", data, len, K_API);
	free(data);
	return r;
}

/* GET /reports/{id}.html?view=customer|technician&lang=L: rendered by reports/. */
static enum MHD_Result
send_report_html(struct web *w, struct MHD_Connection *c, const char *id)
{
	const char *view = arg(c, "view"), *lang = arg(c, "lang");
	struct report_render_opts ro;
	json_t *ans, *report;
	char why[512], *html;
	size_t len;
	enum MHD_Result r;

	if (view == NULL || view[0] == '\0')
		view = "technician";
	if (strcmp(view, "customer") != 0 && strcmp(view, "technician") != 0)
		return send_error(c, MHD_HTTP_BAD_REQUEST, "view must be customer or technician");
	if (lang == NULL || lang[0] == '\0')
		lang = w->cfg->lang;
	if (strcmp(lang, "en") != 0 && strcmp(lang, "it") != 0 && strcmp(lang, "fr") != 0 &&
	    strcmp(lang, "zh") != 0)
		return send_error(c, MHD_HTTP_BAD_REQUEST, "lang must be en, it, fr or zh");
	ans = call(w, json_pack("{s:s, s:s}", "cmd", "report_get", "report_id", id));
	if (ans == NULL)
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error: no answer");
	report = json_object_get(ans, "report");
	if (!json_is_true(json_object_get(ans, "ok")) || !json_is_object(report)) {
		r = send_json(c, status_of(ans) == MHD_HTTP_OK ? 500 : status_of(ans), ans);
		json_decref(ans);
		return r;
	}
	memset(&ro, 0, sizeof(ro));
	ro.fmt = REPORT_FMT_HTML;
	ro.view = strcmp(view, "customer") == 0 ? REPORT_VIEW_CUSTOMER : REPORT_VIEW_TECHNICIAN;
	ro.lang = lang;
	ro.catalogue = w->render_catalogue;
	ro.verified = json_is_true(json_object_get(ans, "verified"));
	ro.verify_reason = json_string_value(json_object_get(ans, "reason"));
	ro.kid = json_string_value(json_object_get(ans, "kid"));
	ro.shop_name = w->cfg->shop_name;
	ro.shop_contact = w->cfg->shop_contact;
	if (report_render_ex(report, &ro, &html, &len, why, sizeof(why)) != REPORT_OK) {
		json_decref(ans);
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render report %s: %s", id, why);
	}
	json_decref(ans);
	r = send_bytes(c, MHD_HTTP_OK, "text/html; charset=utf-8", html, len, K_REPORT);
	free(html);
	return r;
}

/* Split "/a/b/c" after prefix into up to n segments (copied into seg, each < seglen). Returns the
 * number of segments, or -1 when there are more or one is too long. */
static int
split_path(const char *path, char seg[][DEVICE_ID_MAX + 1], int n)
{
	int k = 0;

	while (*path) {
		const char *e = strchr(path, '/');
		size_t len = e ? (size_t)(e - path) : strlen(path);
		if (k == n || len > DEVICE_ID_MAX)
			return -1;
		memcpy(seg[k], path, len);
		seg[k][len] = '\0';
		k++;
		if (e == NULL)
			break;
		path = e + 1;
		if (*path == '\0')
			return -1; /* a trailing slash */
	}
	return k;
}

static enum MHD_Result
route(struct web *w, struct MHD_Connection *c, struct req *q, const char *url, const char *method)
{
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	int post = strcmp(method, "POST") == 0;
	int del = strcmp(method, "DELETE") == 0;
	char seg[4][DEVICE_ID_MAX + 1];
	int n;

	if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0) {
		if (!get)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		return send_template(w, c, "index.html");
	}
	if (strcmp(url, "/login") == 0) {
		if (!get)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		if (w->cfg->web_token_file[0] == '\0')
			return send_redirect(c, "/");
		return send_template(w, c, "login.html");
	}
	if (strncmp(url, "/assets/", 8) == 0) {
		if (!get)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		return send_asset(w, c, url + 8);
	}
	if (strncmp(url, "/reports/", 9) == 0) {
		const char *name = url + 9;
		size_t nl = strlen(name);
		char id[REPORT_ID_MAX + 1];
		if (!get)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		if (nl > 5 && nl - 5 <= REPORT_ID_MAX && strcmp(name + nl - 5, ".html") == 0) {
			memcpy(id, name, nl - 5);
			id[nl - 5] = '\0';
			if (is_report_id(id))
				return send_report_html(w, c, id);
		} else if (nl > 9 && nl - 9 <= REPORT_ID_MAX && strcmp(name + nl - 9, ".jws.json") == 0) {
			memcpy(id, name, nl - 9);
			id[nl - 9] = '\0';
			if (is_report_id(id))
				return send_jws(w, c, id);
		}
		return send_error(c, MHD_HTTP_NOT_FOUND,
		                  "no such report file (reports/ID.html or ID.jws.json)");
	}
	if (strncmp(url, "/api/", 5) != 0)
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such page");
	n = split_path(url + 5, seg, 4);
	if (n <= 0)
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such API path");
	for (int i = 1; i < n; i++)
		if (!guard_ident(seg[i], DEVICE_ID_MAX))
			return send_error(c, MHD_HTTP_BAD_REQUEST,
			                  "'%.64s' is not a device, case or report id", seg[i]);
	if (n == 1 && strcmp(seg[0], "state") == 0) {
		if (!get)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		return send_state(w, c);
	}
	if (n == 1 && strcmp(seg[0], "events") == 0) {
		if (!get)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		return send_events(w, c);
	}
	if (n == 1 && strcmp(seg[0], "catalogue") == 0) {
		if (!get)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		if (w->catalogue == NULL)
			return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
			                  "the fault catalogue cannot be read");
		return send_json(c, MHD_HTTP_OK, w->catalogue);
	}
	if (strcmp(seg[0], "reports") == 0 && (n == 1 || n == 2)) {
		json_t *req;
		if (!get)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		if (n == 2)
			return send_command(
			    w, c, json_pack("{s:s, s:s}", "cmd", "report_get", "report_id", seg[1]));
		req = json_pack("{s:s}", "cmd", "reports");
		if (arg(c, "device"))
			json_object_set_new(req, "device", json_string(arg(c, "device")));
		if (arg(c, "since"))
			json_object_set_new(req, "since", json_string(arg(c, "since")));
		if (arg(c, "limit")) {
			char *end;
			long v = strtol(arg(c, "limit"), &end, 10);
			if (*end != '\0' || v < 1 || v > 100000) {
				json_decref(req);
				return send_error(c, MHD_HTTP_BAD_REQUEST,
				                  "limit must be a whole number from 1");
			}
			json_object_set_new(req, "limit", json_integer(v));
		}
		return send_command(w, c, req);
	}
	if (strcmp(seg[0], "history") == 0 && n == 2) {
		if (!get)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		return send_command(w, c, json_pack("{s:s, s:s}", "cmd", "history", "device", seg[1]));
	}
	if (strcmp(seg[0], "cases") == 0 && n == 3) {
		if (!post)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
		return case_action(w, c, q, seg[1], seg[2]);
	}
	if (strcmp(seg[0], "bookings") == 0 && n == 1) {
		if (get)
			return send_command(w, c, json_pack("{s:s}", "cmd", "booking_list"));
		if (post)
			return booking_add(w, c, q);
		return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET or POST");
	}
	if (strcmp(seg[0], "bookings") == 0 && n == 2) {
		char *end;
		long long id = strtoll(seg[1], &end, 10);
		if (!del)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use DELETE");
		if (*end != '\0' || id < 1)
			return send_error(c, MHD_HTTP_BAD_REQUEST, "a booking id is a whole number");
		return send_command(w, c,
		                    json_pack("{s:s, s:I}", "cmd", "booking_remove", "id", (json_int_t)id));
	}
	if (strcmp(seg[0], "login") == 0 && n == 1) {
		enum MHD_Result ret;
		json_t *body;
		if (!post)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
		if (w->cfg->web_token_file[0] == '\0')
			return send_error(c, MHD_HTTP_NOT_FOUND, "this bench page needs no token");
		if ((body = body_object(c, q, &ret)) == NULL)
			return ret;
		/* The token was checked by the guard (the cookie is only set for the right one). */
		{
			const char *tok = json_string_value(json_object_get(body, "token"));
			struct MHD_Response *r;
			char *cookie;
			if (tok == NULL || strlen(tok) > 256 || strpbrk(tok, ";, \t\r\n") != NULL) {
				json_decref(body);
				return send_error(c, MHD_HTTP_BAD_REQUEST,
				                  "the body must be {\"token\": \"...\"}");
			}
			r = MHD_create_response_from_buffer(12, (void *)"{\"ok\":true}\n",
			                                    MHD_RESPMEM_PERSISTENT);
			if (r == NULL) {
				json_decref(body);
				return MHD_NO;
			}
			safety_headers(r, K_API);
			MHD_add_response_header(r, "Content-Type", "application/json");
			cookie = xasprintf("%s=%s; Path=/; HttpOnly; SameSite=Strict", GUARD_COOKIE, tok);
			MHD_add_response_header(r, "Set-Cookie", cookie);
			free(cookie);
			json_decref(body);
			ret = MHD_queue_response(c, MHD_HTTP_OK, r);
			MHD_destroy_response(r);
			return ret;
		}
	}
	return send_error(c, MHD_HTTP_NOT_FOUND, "no such API path");
}

/* ------------------------------------------------------------------------------------------ */
/* The guard, before any body is read */

static int
read_token(const struct web *w, char *tok, size_t toklen)
{
	char *data;
	size_t len;

	if (util_read_file(w->cfg->web_token_file, TOKEN_FILE_MAX, &data, &len) < 0)
		return -1;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' ' ||
	                   data[len - 1] == '\t'))
		data[--len] = '\0';
	{
		const char *s = data;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || strlen(s) >= toklen) {
			explicit_bzero(data, len);
			free(data);
			return -1;
		}
		util_strlcpy(tok, s, toklen);
	}
	explicit_bzero(data, len);
	free(data);
	return 0;
}

/* The Host as a printable, short string for messages. */
static void
printable(const char *s, char *out, size_t outlen)
{
	size_t k = 0;

	for (; s && *s && k + 1 < outlen && k < 64; s++)
		out[k++] = ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) ? '?' : *s;
	out[k] = '\0';
}

/* 0 when the request may go on; else the answer is queued into *ret. */
static int
refused(struct web *w, struct MHD_Connection *c, const char *url, const char *method, enum MHD_Result *ret)
{
	const char *host = header(c, "Host");
	int write = strcmp(method, "POST") == 0 || strcmp(method, "DELETE") == 0;
	char shown[80];

	if (!guard_host_allowed(&w->hosts, host)) {
		printable(host ? host : "", shown, sizeof(shown));
		{
			/* Said at most once a minute: a rebinding page may retry in a loop. */
			long long now = util_now_ms();
			pthread_mutex_lock(&w->mu);
			int say = now - w->host_logged >= 60000;
			if (say)
				w->host_logged = now;
			pthread_mutex_unlock(&w->mu);
			if (say)
				log_info(
				    "web: refused a request for Host '%s' (DNS rebinding guard; [web] hosts "
				    "adds names; said once a minute)",
				    shown);
		}
		*ret =
		    send_error(c, MHD_HTTP_FORBIDDEN,
		               "this bench page answers as %s only, not as Host '%s' (add the name to [web] "
		               "hosts)",
		               w->url, shown);
		return 1;
	}
	if (!write && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		*ret = send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method %s is not served here",
		                  strlen(method) < 16 ? method : "?");
		return 1;
	}
	if (w->cfg->web_token_file[0] != '\0') {
		int open_path = strcmp(url, "/login") == 0 || strncmp(url, "/assets/", 8) == 0;
		int login = strcmp(url, "/api/login") == 0;
		char tok[TOKEN_FILE_MAX];
		if (read_token(w, tok, sizeof(tok)) < 0) {
			log_warnx(
			    "web: the token_file %s cannot be read or is empty: every request is refused",
			    w->cfg->web_token_file);
			*ret = send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
			                  "the bench's [web] token_file cannot be read: fix it on the bench");
			return 1;
		}
		if (login) {
			/* The login request proves the token in its body; check it here so the cookie
			 * is only ever set for the right one. Read below, after the body arrives. */
		} else if (!open_path &&
		           !guard_token_ok(header(c, "Authorization"), header(c, "Cookie"), tok)) {
			explicit_bzero(tok, sizeof(tok));
			if (strcmp(url, "/") == 0 && !write) {
				*ret = send_redirect(c, "/login");
				return 1;
			}
			*ret =
			    send_error(c, MHD_HTTP_UNAUTHORIZED,
			               "this bench page needs its token: open /login, or send Authorization: "
			               "Bearer <token>");
			return 1;
		}
		explicit_bzero(tok, sizeof(tok));
	}
	if (write) {
		const char *origin = header(c, "Origin"), *ctype = header(c, "Content-Type");
		if (!guard_origin_same(origin, host)) {
			printable(origin ? origin : "(none)", shown, sizeof(shown));
			*ret = send_error(
			    c, MHD_HTTP_FORBIDDEN,
			    "refused: the request comes from another site (Origin %s), not from this "
			    "bench page",
			    shown);
			return 1;
		}
		if (!guard_equal(header(c, "X-Benchd-CSRF"), w->csrf)) {
			*ret = send_error(
			    c, MHD_HTTP_FORBIDDEN,
			    "refused: missing or stale X-Benchd-CSRF header (benchd restarted? reload "
			    "the page)");
			return 1;
		}
		if (strcmp(method, "POST") == 0 &&
		    (ctype == NULL || strncasecmp(ctype, "application/json", 16) != 0 ||
		     (ctype[16] != '\0' && ctype[16] != ';'))) {
			*ret = send_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
			                  "send the body as Content-Type: application/json");
			return 1;
		}
	}
	return 0;
}

/* The login body: the right token or 401. 0 when it may go on. */
static int
login_refused(struct web *w, struct MHD_Connection *c, struct req *q, enum MHD_Result *ret)
{
	char tok[TOKEN_FILE_MAX];
	json_t *body;
	int ok;

	body = json_loadb(q->body.data ? q->body.data : "", q->body.len, 0, NULL);
	if (read_token(w, tok, sizeof(tok)) < 0) {
		json_decref(body);
		*ret = send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		                  "the bench's [web] token_file cannot be read: fix it on the bench");
		return 1;
	}
	ok = guard_equal(json_string_value(json_object_get(body, "token")), tok);
	explicit_bzero(tok, sizeof(tok));
	json_decref(body);
	if (!ok) {
		*ret = send_error(c, MHD_HTTP_UNAUTHORIZED, "wrong token");
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* libmicrohttpd callbacks */

static struct conn *
conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void
set_busy(struct web *w, struct conn *cn, int busy)
{
	if (cn == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	cn->busy = busy;
	cn->deadline = util_now_ms() + (long long)WEB_REQUEST_SECONDS * 1000;
	pthread_mutex_unlock(&w->mu);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
           const char *upload, size_t *upload_size, void **con_cls)
{
	struct web *w = cls;
	struct req *q = *con_cls;
	enum MHD_Result ret;

	(void)version;
	if (q == NULL) {
		/* The headers are in: the guard decides before a byte of the body is read. */
		const char *cl = header(c, "Content-Length");
		q = xcalloc(1, sizeof(*q));
		buf_init(&q->body, WEB_BODY_MAX);
		q->conn = conn_of(c);
		*con_cls = q;
		if (atomic_load(&w->stopping))
			return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "benchd is stopping");
		if (refused(w, c, url, method, &ret))
			return ret;
		if (cl != NULL) {
			char *end;
			errno = 0;
			unsigned long long n = strtoull(cl, &end, 10);
			if (errno != 0 || *end != '\0' || n > WEB_BODY_MAX)
				return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE,
				                  "the request body is larger than %u bytes", WEB_BODY_MAX);
		}
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!q->too_large && buf_add(&q->body, upload, *upload_size) < 0)
			q->too_large = 1; /* chunked past the cap: read and drop the rest, then 413 */
		*upload_size = 0;
		return MHD_YES;
	}
	set_busy(w, q->conn, 1);
	if (q->too_large)
		return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "the request body is larger than %u bytes",
		                  WEB_BODY_MAX);
	if (strcmp(url, "/api/login") == 0 && w->cfg->web_token_file[0] != '\0' &&
	    login_refused(w, c, q, &ret))
		return ret;
	return route(w, c, q, url, method);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct web *w = cls;
	struct req *q = *con_cls;

	(void)toe;
	if (q == NULL)
		return;
	set_busy(w, q->conn ? q->conn : conn_of(c), 0);
	buf_free(&q->body);
	free(q);
	*con_cls = NULL;
}

static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
              enum MHD_ConnectionNotificationCode code)
{
	struct web *w = cls;
	struct conn *cn;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		cn = xcalloc(1, sizeof(*cn));
		cn->fd = ci ? ci->connect_fd : -1;
		cn->deadline = util_now_ms() + (long long)WEB_REQUEST_SECONDS * 1000;
		pthread_mutex_lock(&w->mu);
		cn->next = w->conns;
		if (w->conns)
			w->conns->prev = cn;
		w->conns = cn;
		pthread_mutex_unlock(&w->mu);
		*socket_context = cn;
		return;
	}
	cn = *socket_context;
	if (cn == NULL)
		return;
	/* Closed: libmicrohttpd closes the socket after this, so the reaper (same mutex) never
	 * shuts down an fd number that was reused. */
	pthread_mutex_lock(&w->mu);
	if (cn->prev)
		cn->prev->next = cn->next;
	else
		w->conns = cn->next;
	if (cn->next)
		cn->next->prev = cn->prev;
	pthread_mutex_unlock(&w->mu);
	free(cn);
	*socket_context = NULL;
}

/* Slow clients: a connection whose request has not arrived whole by its deadline is shut down
 * (its thread then sees the end and closes it). */
static void *
reaper(void *arg)
{
	struct web *w = arg;

	log_set_device(NULL);
	pthread_mutex_lock(&w->mu);
	while (!atomic_load(&w->stopping)) {
		struct timespec ts;
		long long now = util_now_ms();
		for (struct conn *cn = w->conns; cn; cn = cn->next) {
			if (!cn->busy && !cn->dropped && cn->fd >= 0 && now > cn->deadline) {
				cn->dropped = 1;
				shutdown(cn->fd, SHUT_RDWR);
				log_debug("web: dropped a connection that sent no whole request within %d s",
				          WEB_REQUEST_SECONDS);
			}
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	log_debug("web: libmicrohttpd: %s", msg);
}

/* ------------------------------------------------------------------------------------------ */
/* Start and stop */

static int
open_listener(struct web *w, char *why, size_t whylen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[16];
	int e, fd = -1, family = AF_INET;
	const int one = 1;

	if (config_parse_listen(w->cfg->web_listen, w->host, sizeof(w->host), &w->port) < 0) {
		snprintf(why, whylen, "[web] listen '%s' is not HOST:PORT", w->cfg->web_listen);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	snprintf(port, sizeof(port), "%d", w->port);
	if ((e = getaddrinfo(w->host, port, &hints, &res)) != 0) {
		snprintf(why, whylen, "[web] listen %s: %s", w->cfg->web_listen, gai_strerror(e));
		return -1;
	}
	e = 0;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0) {
			family = ai->ai_family;
			break;
		}
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(why, whylen, "cannot listen on %s for the bench page: %s%s", w->cfg->web_listen,
		         strerror(e),
		         e == EADDRINUSE ? " (another program uses that port: set [web] listen to another, "
		                           "or empty for no page)"
		                         : "");
		return -1;
	}
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
			w->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
			                                         : ((struct sockaddr_in *)&ss)->sin_port);
	}
	w->lfd = fd;
	if (family == AF_INET6 || strchr(w->host, ':'))
		snprintf(w->url, sizeof(w->url), "http://[%s]:%d/", w->host, w->port);
	else
		snprintf(w->url, sizeof(w->url), "http://%s:%d/", w->host, w->port);
	return family;
}

/* The fault catalogue, once: the renderer's (ro.catalogue) and /api/catalogue's codes and parts. */
static void
load_catalogue(struct web *w)
{
	char *path = xasprintf("%s/catalogue.json", engine_default_trees_dir());
	char why[512];

	if (report_catalogue_load(path, &w->render_catalogue, why, sizeof(why)) != REPORT_OK) {
		log_warnx("web: %s: the page and its reports show the reports' own English titles", why);
		w->render_catalogue = NULL;
	} else {
		w->catalogue = json_pack("{s:b, s:O, s:O}", "ok", 1, "codes",
		                         json_object_get(w->render_catalogue, "codes"), "parts",
		                         json_object_get(w->render_catalogue, "parts"));
	}
	free(path);
}

int
web_start(const struct web_opts *o, struct web **out, char *why, size_t whylen)
{
	struct web *w;
	unsigned flags =
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	char *index;
	int family, e;

	*out = NULL;
	w = xcalloc(1, sizeof(*w));
	w->cfg = o->cfg;
	w->state_dir = xstrdup(o->state_dir);
	w->page_dir = xstrdup(o->page_dir ? o->page_dir : web_default_page_dir());
	w->cmds = o->cmds;
	w->lfd = -1;
	atomic_init(&w->stopping, 0);
	w->host_logged = -60000;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);

	index = xasprintf("%s/index.html", w->page_dir);
	e = access(index, R_OK);
	free(index);
	if (e < 0) {
		snprintf(why, whylen,
		         "the bench page's files are not in %s (index.html: %s): install them or set "
		         "BENCHD_WEB_DIR",
		         w->page_dir, strerror(errno));
		web_stop(w);
		return WEB_E_PAGE;
	}
	if (w->cfg->web_token_file[0] != '\0') {
		char tok[TOKEN_FILE_MAX];
		if (read_token(w, tok, sizeof(tok)) < 0) {
			snprintf(why, whylen, "[web] token_file %s cannot be read or is empty",
			         w->cfg->web_token_file);
			web_stop(w);
			return WEB_E_TOKEN;
		}
		explicit_bzero(tok, sizeof(tok));
	}
	if (guard_random_token(w->csrf) < 0) {
		snprintf(why, whylen, "cannot draw the page's CSRF token: %s", strerror(errno));
		web_stop(w);
		return WEB_E_START;
	}
	if ((family = open_listener(w, why, whylen)) < 0) {
		web_stop(w);
		return WEB_E_LISTEN;
	}
	w->hosts.listen_host = w->host;
	w->hosts.port = w->port;
	w->hosts.extra = w->cfg->web_hosts;
	w->hosts.nextra = w->cfg->nweb_hosts;
	load_catalogue(w);
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if ((e = pthread_create(&w->reaper, NULL, reaper, w)) != 0) {
		snprintf(why, whylen, "cannot start the web reaper thread: %s", strerror(e));
		web_stop(w);
		return WEB_E_START;
	}
	w->reaper_started = 1;
	w->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, w, MHD_OPTION_LISTEN_SOCKET, w->lfd,
	                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_MAX_CONNECTIONS,
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WEB_IDLE_SECONDS,
	                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, w, MHD_OPTION_NOTIFY_CONNECTION,
	                          on_connection, w, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, w,
	                          MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, MHD_OPTION_END);
	if (w->mhd == NULL) {
		snprintf(why, whylen, "libmicrohttpd would not start on %s", w->url);
		web_stop(w);
		return WEB_E_START;
	}
	w->lfd = -1; /* libmicrohttpd owns it now */
	*out = w;
	return WEB_OK;
}

const char *
web_url(const struct web *w)
{
	return w->url;
}

void
web_stop(struct web *w)
{
	if (w == NULL)
		return;
	/* Streams see the flag within a quarter second and end; then the daemon joins its threads. */
	atomic_store(&w->stopping, 1);
	pthread_mutex_lock(&w->mu);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (w->mhd)
		MHD_stop_daemon(w->mhd);
	if (w->reaper_started)
		pthread_join(w->reaper, NULL);
	if (w->lfd >= 0)
		close(w->lfd);
	json_decref(w->catalogue);
	json_decref(w->render_catalogue);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->state_dir);
	free(w->page_dir);
	free(w);
}
