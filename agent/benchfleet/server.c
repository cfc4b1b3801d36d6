/* server: see server.h. */
#include "server.h"

#include "analytics.h"
#include "buf.h"
#include "ingest.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct server {
	struct MHD_Daemon *d;
	const struct fleetconf *cfg;
	struct fleetpool *pool;
	char *tls_cert, *tls_key; /* PEM bytes, kept while the daemon runs */
	int fd;
	int port;
};

enum route { ROUTE_NONE, ROUTE_CASES, ROUTE_TRENDS, ROUTE_ALERTS };

/* One request in progress. */
struct req {
	enum route route;
	struct buf body;
	long long started_ms;
	int too_big;
};

static enum MHD_Result
reply(struct MHD_Connection *c, int status, const char *json, const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *line = xasprintf("%s\n", json ? json : "{\"ok\":false,\"error\":\"internal error\"}");

	r = MHD_create_response_from_buffer(strlen(line), line, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(line);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (allow)
		MHD_add_response_header(r, "Allow", allow);
	if (status == 503)
		MHD_add_response_header(r, "Retry-After", "5");
	ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
reply_error(struct MHD_Connection *c, int status, const char *msg, const char *allow)
{
	struct ingest_answer a;
	enum MHD_Result ret;

	ingest_error(&a, status, msg);
	ret = reply(c, status, a.json, allow);
	ingest_answer_clear(&a);
	return ret;
}

static int
is_loopback(const struct sockaddr *sa)
{
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return 1;
		if (IN6_IS_ADDR_V4MAPPED(a))
			return a->s6_addr[12] == 127;
	}
	return 0;
}

/* GET /api/...: the bearer token of [http] api_token_file, or a loopback client when none is set. */
static int
api_allowed(struct server *s, struct MHD_Connection *c, char *why, size_t whylen)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	char *tok = NULL;
	size_t len = 0;
	int ok;

	if (s->cfg->api_token_file[0] == '\0') {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci && is_loopback(ci->client_addr))
			return 1;
		snprintf(why, whylen,
		         "the API answers loopback clients only: set [http] api_token_file to "
		         "reach it from elsewhere");
		return 0;
	}
	if (util_read_file(s->cfg->api_token_file, 4096, &tok, &len) < 0) {
		log_warn("api_token_file %s", s->cfg->api_token_file);
		snprintf(why, whylen, "the API token cannot be read on the server");
		return 0;
	}
	while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r' || tok[len - 1] == ' '))
		tok[--len] = '\0';
	ok = len > 0 && auth && strncmp(auth, "Bearer ", 7) == 0 && strlen(auth + 7) == len &&
	     CRYPTO_memcmp(auth + 7, tok, len) == 0;
	explicit_bzero(tok, len);
	free(tok);
	if (!ok)
		snprintf(why, whylen,
		         "the API needs Authorization: Bearer <the token in [http] api_token_file>");
	return ok;
}

static enum MHD_Result
handle_api(struct server *s, struct MHD_Connection *c, enum route route)
{
	const char *v;
	struct trends_opts o = {.weeks = ANALYTICS_DEFAULT_WEEKS, .at = time(NULL)};
	struct fleetdb *db;
	json_t *doc = NULL;
	char why[768], *js;
	enum MHD_Result ret;
	int rc;

	if (!api_allowed(s, c, why, sizeof(why)))
		return reply_error(c, s->cfg->api_token_file[0] ? 401 : 403, why, NULL);
	if ((v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "at")) &&
	    analytics_parse_at(v, &o.at) < 0)
		return reply_error(c, 400, "at must be an RFC 3339 time or a date YYYY-MM-DD", NULL);
	if (route == ROUTE_TRENDS) {
		if ((v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "weeks"))) {
			char *end;
			long n = strtol(v, &end, 10);
			if (end == v || *end || n < 1 || n > ANALYTICS_MAX_WEEKS)
				return reply_error(c, 400, "weeks must be a whole number from 1 to 520",
				                   NULL);
			o.weeks = (int)n;
		}
		o.model = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "model");
		o.code = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "code");
		if (o.model && !o.model[0])
			o.model = NULL;
		if (o.code && !o.code[0])
			o.code = NULL;
	}
	if (fleetpool_get(s->pool, &db, why, sizeof(why)) != FLEETDB_OK) {
		log_warnx("api: %s", why);
		return reply_error(c, 503, "the fleet database is unavailable: try again later", NULL);
	}
	rc = route == ROUTE_TRENDS ? analytics_trends(db, &o, &doc, why, sizeof(why))
	                           : analytics_alerts(db, o.at, &doc, why, sizeof(why));
	fleetpool_put(s->pool, db);
	if (rc != FLEETDB_OK) {
		log_warnx("api: %s", why);
		return reply_error(c, rc == FLEETDB_E_UNAVAILABLE ? 503 : 500,
		                   rc == FLEETDB_E_UNAVAILABLE
		                       ? "the fleet database is unavailable: try again later"
		                       : "the query failed on the server (see its log)",
		                   NULL);
	}
	js = json_dumps(doc, ANALYTICS_DUMP_FLAGS);
	json_decref(doc);
	ret = reply(c, 200, js, NULL);
	free(js);
	return ret;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
       const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct server *s = cls;
	struct req *rq = *con_cls;
	(void)version;

	if (rq == NULL) {
		const char *want = NULL;
		rq = xcalloc(1, sizeof(*rq));
		rq->started_ms = util_now_ms();
		buf_init(&rq->body, INGEST_BODY_MAX);
		*con_cls = rq;
		if (strcmp(url, "/cases") == 0) {
			rq->route = ROUTE_CASES;
			want = "POST";
		} else if (strcmp(url, "/api/trends") == 0) {
			rq->route = ROUTE_TRENDS;
			want = "GET";
		} else if (strcmp(url, "/api/alerts") == 0) {
			rq->route = ROUTE_ALERTS;
			want = "GET";
		} else {
			return reply_error(c, 404,
			                   "no such path: benchfleet serves POST /cases, GET /api/trends and "
			                   "GET /api/alerts",
			                   NULL);
		}
		if (strcmp(method, want) != 0 && !(strcmp(want, "GET") == 0 && strcmp(method, "HEAD") == 0)) {
			rq->route = ROUTE_NONE;
			return reply_error(c, 405, strcmp(want, "POST") == 0 ? "use POST" : "use GET", want);
		}
		if (rq->route == ROUTE_CASES) {
			const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
			if (cl && strtoull(cl, NULL, 10) > INGEST_BODY_MAX) {
				rq->route = ROUTE_NONE;
				return reply_error(
				    c, 413, "the body is larger than the 9 MiB a bench may send", NULL);
			}
		}
		return MHD_YES;
	}
	if (rq->route == ROUTE_NONE) { /* answered already: drop what else arrives */
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->route != ROUTE_CASES)
		return handle_api(s, c, rq->route);

	if (*upload_size > 0) {
		if (util_now_ms() - rq->started_ms > (long long)s->cfg->timeout_s * 1000) {
			log_warnx("a client took longer than %d s to send its request: connection closed",
			          s->cfg->timeout_s);
			return MHD_NO;
		}
		if (!rq->too_big && buf_add(&rq->body, upload_data, *upload_size) != BUF_OK) {
			rq->too_big = 1;
			buf_free(&rq->body);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->too_big)
		return reply_error(c, 413, "the body is larger than the 9 MiB a bench may send", NULL);
	{
		struct ingest_answer a;
		enum MHD_Result ret;
		ingest_request(s->pool, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
		               MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key"),
		               rq->body.data ? rq->body.data : "", rq->body.len, &a);
		ret = reply(c, a.status, a.json, NULL);
		ingest_answer_clear(&a);
		return ret;
	}
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;
	(void)cls;
	(void)c;
	(void)toe;

	if (rq == NULL)
		return;
	buf_free(&rq->body);
	free(rq);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;
	(void)cls;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_warnx("http: %s", line);
}

static int
listen_socket(const struct fleetconf *cfg, int *family, int *port, char *why, size_t whylen)
{
	struct addrinfo hints, *res = NULL;
	char ps[16];
	int fd, one = 1, rc;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(&hints, 0, sizeof(hints));
	memset(&ss, 0, sizeof(ss));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(ps, sizeof(ps), "%d", cfg->port);
	if ((rc = getaddrinfo(cfg->host, ps, &hints, &res)) != 0) {
		snprintf(why, whylen, "[http] listen %s: %s", cfg->listen, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 256) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(why, whylen, "[http] listen %s: %s%s", cfg->listen, strerror(errno),
		         errno == EADDRINUSE
		             ? " (another program listens there: stop it or choose another port)"
		             : "");
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	*family = res->ai_family;
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                       : ((struct sockaddr_in *)&ss)->sin_port);
	freeaddrinfo(res);
	return fd;
}

int
server_start(const struct fleetconf *cfg, struct fleetpool *pool, struct server **out, char *why,
             size_t whylen)
{
	struct server *s = xcalloc(1, sizeof(*s));
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	size_t len;
	int family = AF_INET;

	*out = NULL;
	s->cfg = cfg;
	s->pool = pool;
	if (cfg->tls_cert[0]) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			snprintf(why, whylen,
			         "this libmicrohttpd was built without TLS: tls_cert cannot be used");
			free(s);
			return -1;
		}
		if (util_read_file(cfg->tls_cert, 1 << 20, &s->tls_cert, &len) < 0 ||
		    util_read_file(cfg->tls_key, 1 << 20, &s->tls_key, &len) < 0) {
			snprintf(why, whylen, "[http] %s %s: %s", s->tls_cert ? "tls_key" : "tls_cert",
			         s->tls_cert ? cfg->tls_key : cfg->tls_cert, strerror(errno));
			free(s->tls_cert);
			free(s);
			return -1;
		}
		flags |= MHD_USE_TLS;
	}
	s->fd = listen_socket(cfg, &family, &s->port, why, whylen);
	if (s->fd < 0) {
		free(s->tls_cert);
		free(s->tls_key);
		free(s);
		return -1;
	}
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The logger first (libmicrohttpd logs the options after it through it); a pool only for
	 * more than one thread (it warns otherwise). */
	if (cfg->tls_cert[0])
		s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
		                        s, MHD_OPTION_LISTEN_SOCKET, s->fd, MHD_OPTION_THREAD_POOL_SIZE,
		                        (unsigned)(cfg->threads > 1 ? cfg->threads : 0),
		                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
		                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout_s,
		                        MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_HTTPS_MEM_CERT,
		                        s->tls_cert, MHD_OPTION_HTTPS_MEM_KEY, s->tls_key, MHD_OPTION_END);
	else
		s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
		                        s, MHD_OPTION_LISTEN_SOCKET, s->fd, MHD_OPTION_THREAD_POOL_SIZE,
		                        (unsigned)(cfg->threads > 1 ? cfg->threads : 0),
		                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
		                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout_s,
		                        MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
	if (s->d == NULL) {
		snprintf(why, whylen, "cannot start the HTTP server on %s%s", cfg->listen,
		         cfg->tls_cert[0] ? " (is tls_cert/tls_key a PEM certificate and its key?)" : "");
		/* The socket is MHD's once given, even when it fails to start (we exit anyway). */
		free(s->tls_cert);
		free(s->tls_key);
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int
server_port(const struct server *s)
{
	return s->port;
}

void
server_stop(struct server *s)
{
	if (s == NULL)
		return;
	MHD_stop_daemon(s->d); /* closes the listening socket too */
	if (s->tls_key)
		explicit_bzero(s->tls_key, strlen(s->tls_key));
	free(s->tls_cert);
	free(s->tls_key);
	free(s);
}
