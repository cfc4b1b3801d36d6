/*
 * booking_int: what the adapters share inside agent/booking (not for other modules): the booking
 * object, the adapter table, the HTTP helper on libcurl (bhttp_*) and the result helpers.
 */
#ifndef BENCHD_BOOKING_INT_H
#define BENCHD_BOOKING_INT_H

#include "booking.h"
#include "rate.h"

#include <pthread.h>
#include <stdarg.h>
#include <time.h>

#define BHTTP_READ_MAX          (8u << 20) /* the largest answer an adapter reads (a page of tickets) */
#define BOOKING_MAX_PAGES       2000       /* pagination is followed to the end, but not forever */
#define BOOKING_CHECK_WAIT_MS   3000       /* `upload check` waits at most this long for the limiter */
#define BOOKING_CHECK_TIMEOUT_S 6          /* and its one request at most this long (benchctl waits 10 s) */

struct booking_ops {
	const char *kind;
	int (*deliver)(struct booking *b, const struct booking_case *c, struct booking_result *r);
	int (*check)(struct booking *b, char *msg, size_t msglen);
	int (*poll)(struct booking *b, json_t **open_tickets, char *why, size_t whylen); /* or NULL */
};
extern const struct booking_ops booking_generic_ops, booking_repairshopr_ops, booking_repairdesk_ops;

enum bhttp_auth {
	BHTTP_AUTH_BEARER = 0, /* Authorization: Bearer <token> */
	BHTTP_AUTH_API_KEY,    /* ?api_key=<token> on every request */
};

struct booking {
	const struct booking_ops *ops;
	char *url; /* without a trailing slash */
	char *token_file, *ca_file, *serial_field;
	char system[32];
	int timeout_s;
	int auth;               /* enum bhttp_auth */
	volatile int cancelled; /* booking_cancel: abort what is in flight, start nothing */
	struct rate *rate;
	pthread_mutex_t mu; /* guards ids */
	json_t *ids;        /* ticket number staff see -> the API's id (integer) */
};

enum bhttp_err {
	BHTTP_OK = 0,           /* an answer, or a transport error (status 0, error set) */
	BHTTP_E_TOKEN = -1,     /* token_file unreadable or empty (error says which) */
	BHTTP_E_CANCELLED = -2, /* shutting down */
	BHTTP_E_BUSY = -3,      /* the rate limiter would wait longer than allowed */
	BHTTP_E_TOO_BIG = -4,   /* the answer is larger than the caller's max */
};

struct bhttp_answer {
	int status;       /* HTTP status, 0 for none */
	long retry_after; /* seconds, -1 when absent */
	char *body;       /* NUL-terminated, never NULL after bhttp_request */
	size_t len;
	char error[384]; /* transport or local error, "" otherwise */
};

struct bhttp_req {
	const char *method;         /* "GET" or "POST" */
	const char *path;           /* after b->url, starting with '/' */
	const char *query;          /* already escaped ("number=4711&page=2"), or NULL */
	const char *const *headers; /* extra headers, NULL-terminated, or NULL */
	const char *body;           /* POST body (JSON), or NULL */
	size_t bodylen;
	size_t max_answer; /* 0: BHTTP_READ_MAX */
	int keep_prefix;   /* 1: keep the first max_answer bytes, swallow the rest;
	                    * 0: a longer answer is BHTTP_E_TOO_BIG */
	long max_wait_ms;  /* for the rate limiter; < 0: as long as needed */
	int timeout_s;     /* 0: the booking's timeout_s */
};
/*
 * One request. Takes a slot from the rate limiter first; a 429 blocks the limiter for its
 * Retry-After (a whole window without one). Adds the token as b->auth says, re-read from
 * token_file every time. Returns BHTTP_OK with the answer (or a transport error: status 0,
 * error set), or a negative bhttp_err with a->error; a->body is never NULL afterwards.
 */
int bhttp_request(struct booking *b, const struct bhttp_req *q, struct bhttp_answer *a);
void bhttp_answer_clear(struct bhttp_answer *a);
/* URL-encode one query value (malloc'd). */
char *bhttp_escape(const char *s);
/* Read and trim the token file (at most 4 KiB). Returns 0 or -1 with why. */
int bhttp_read_token(const char *path, char **token, char *why, size_t whylen);
/* Retry-After: delay-seconds or an HTTP-date. Returns 0 and *seconds, or -1. */
int bhttp_parse_retry_after(const char *value, time_t now, long *seconds);

/* 1 once booking_cancel was called. */
int booking_stopping(const struct booking *b);
/* The generic receiver's rules (DESIGN 4.7): 2xx/409 delivered; 0, 429, 503 retried for the
 * whole outbox (*server_wide = 1); other 5xx retried; anything else held. */
int booking_generic_classify(int status, int *server_wide);

/* Parse an answer as a JSON object; NULL when it is not one. */
json_t *bhttp_json(const struct bhttp_answer *a);
/* The server's own words from an error body: "message" (string or list), "error", "errors";
 * else the body itself; at most maxlen bytes, one line (malloc'd). */
char *booking_server_message(const char *body, size_t len, size_t maxlen);

/* Set r->verdict and r->answer = the formatted reason, then, when a is given and has a body,
 * "; <system> answered HTTP N: <body>" up to BOOKING_ANSWER_MAX bytes. */
void booking_set(struct booking *b, struct booking_result *r, int verdict, const struct bhttp_answer *a,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/*
 * A request that did not give what the step needed: fill r by the HTTP rules every adapter
 * follows (no answer/429/503: retry, server-wide; other 5xx: retry; 401/403: held, token
 * refused; 422: held with the server's message; anything else held). rc is bhttp_request's.
 * doing says what the request was for ("reading ticket 4711").
 */
void booking_fail(struct booking *b, struct booking_result *r, int rc, const struct bhttp_answer *a,
                  const char *doing);

/* The ticket-id cache (thread-safe). Returns the id or -1. */
long long booking_id_get(struct booking *b, const char *number);
void booking_id_put(struct booking *b, const char *number, long long id);
void booking_id_drop(struct booking *b, const char *number);

/*
 * Poll rows from one ticket field value ("356... / F2L..." or one of them): each IMEI or serial
 * in it not yet in seen becomes {kind, value, ticket: number, external_id: id, note}.
 */
void booking_poll_add(json_t *rows, json_t *seen, const char *value, const char *number, long long id,
                      const char *subject, const char *system);

/* A JSON integer or a string of digits as a long long; -1 otherwise. */
long long booking_json_id(const json_t *v);
/* A JSON string, or a number printed, into out ("" when neither). */
void booking_json_text(const json_t *v, char *out, size_t outlen);

#endif
