/*
 * config: benchd's INI configuration (DESIGN.md 4.3b), parsed with Debian's libinih.
 *
 *   [bench]    id, trees, lang, syslog_seconds, max_sessions, drain_seconds,
 *              session_timeout_seconds, require_ticket, case_idle_hours
 *   [shop]     name, contact                       (the customer page's header, DESIGN 4.8)
 *   [web]      listen, token_file, hosts           (the bench page, DESIGN 4.10)
 *   [upload]   url, token_file, ca_file, timeout_seconds, retry_min_seconds, retry_max_seconds,
 *              kind, poll_seconds, serial_field, rate_per_minute   (DESIGN 4.7, 4.11)
 *   [fleet]    url, token_file, ca_file            (benchfleet, DESIGN 4.12)
 *   [control]  socket
 *
 * URLs ([upload] url, [fleet] url) must be https://, or http:// to a loopback address only
 * (127.0.0.0/8, localhost, [::1]: tests and a local bridge). A [web] listen address that is not
 * loopback needs [web] token_file.
 *
 * Every key has a default (config_new). config_load reads a file on top of the defaults and, on
 * the first problem, fails with one line naming file, line and reason, e.g.
 *   "/etc/benchd.conf line 7: unknown key 'urll' in [upload]".
 * Owns: every string in struct config; config_free releases them.
 */
#ifndef BENCHD_CONFIG_H
#define BENCHD_CONFIG_H

#include <stddef.h>

enum config_err {
	CONFIG_OK = 0,
	CONFIG_E_OPEN = -1,    /* the file could not be opened */
	CONFIG_E_SYNTAX = -2,  /* a line is neither [section], key = value nor a comment */
	CONFIG_E_UNKNOWN = -3, /* unknown section or key */
	CONFIG_E_VALUE = -4,   /* a value out of range or of the wrong form */
};

#define CONFIG_TREES_ALL "(all)"

struct config {
	char *bench_id; /* [bench] id, default "bench-01" */
	char **trees;   /* [bench] trees: NULL means all trees; else ntrees names */
	size_t ntrees;
	char lang[3];         /* [bench] lang: en, it, fr or zh */
	int syslog_seconds;   /* [bench] syslog_seconds, 0..600, default 5 */
	int max_sessions;     /* [bench] max_sessions, 1..256, default 64 */
	int drain_seconds;    /* [bench] drain_seconds, 0..3600, default 30: SIGTERM waits this
	                       * long for running sessions before cancelling them */
	char *upload_url;     /* [upload] url, "" keeps reports locally */
	char *token_file;     /* [upload] token_file, "" for none */
	char *ca_file;        /* [upload] ca_file, "" for the system store */
	int upload_timeout;   /* [upload] timeout_seconds, 1..600, default 30 (whole request) */
	int retry_min;        /* [upload] retry_min_seconds, 1..86400, default 5 (first backoff) */
	int retry_max;        /* [upload] retry_max_seconds, 1..86400, default 900 (backoff cap,
	                       * also the most a Retry-After may make us wait) */
	char *control_socket; /* [control] socket, "" means <state-dir>/control.sock */

	/* Added for the cases, the bench page, the adapters and the fleet (issues 11-17). */
	int session_timeout;  /* [bench] session_timeout_seconds, 10..3600, default 120: the
	                       * reader is killed after this (plus syslog_seconds) */
	int require_ticket;   /* [bench] require_ticket, yes|no (default no): a case is final only
	                       * with a ticket */
	int case_idle_hours;  /* [bench] case_idle_hours, 1..720, default 12: an open case with no
	                       * session for this long closes */
	char *shop_name;      /* [shop] name, "" for none (at most 128 bytes) */
	char *shop_contact;   /* [shop] contact, "" for none (at most 256 bytes) */
	char *web_listen;     /* [web] listen, default "127.0.0.1:8470", "" turns the page off */
	char *web_token_file; /* [web] token_file, "" for none (required off loopback) */
	char **web_hosts;     /* [web] hosts: more Host names the page answers to (comma list) */
	size_t nweb_hosts;
	char upload_kind[16];   /* [upload] kind: generic (default), repairshopr or repairdesk */
	int poll_seconds;       /* [upload] poll_seconds, 0..86400, default 0 (off): bookings from
	                         * the booking system's open tickets */
	char *serial_field;     /* [upload] serial_field, default "IMEI or S/N": the ticket field
	                         * that holds a device's IMEI or serial */
	int rate_per_minute;    /* [upload] rate_per_minute, 0..10000, default 0: the kind's own cap
	                         * (repairshopr 150, repairdesk 40, generic none) */
	char *fleet_url;        /* [fleet] url, "" for none (POST {url}/cases, DESIGN 4.12) */
	char *fleet_token_file; /* [fleet] token_file */
	char *fleet_ca_file;    /* [fleet] ca_file, "" for the system store */
};

/* A configuration holding every default. Never NULL. */
struct config *config_new(void);
void config_free(struct config *cfg);
/*
 * Load `path` over the defaults. On success *out is a new config (caller frees). On failure
 * returns a config_err and writes a one-line reason to err (naming file and line).
 */
int config_load(const char *path, struct config **out, char *err, size_t errlen);
/* The same, from a string; `name` stands for the file in messages. */
int config_load_string(const char *name, const char *text, struct config **out, char *err, size_t errlen);
/* The control socket path: the configured one, else <state_dir>/control.sock (malloc'd). */
char *config_control_socket(const struct config *cfg, const char *state_dir);
const char *config_strerror(int err);

/*
 * Is url acceptable as an upload target? https://HOST..., or http:// to 127.0.0.0/8,
 * localhost or [::1]. Returns 0, or -1 with a one-line reason in why.
 */
int config_check_url(const char *url, char *why, size_t whylen);
/*
 * Does line `lineno` of an INI text set `key` (blanks, then key, then '=' or ':')? inih passes
 * no line numbers to handlers: a loader matches the line inih reports to the key that failed,
 * to tell a syntax error from a bad value. Shared by benchd's and benchfleet's loaders.
 */
int config_line_sets_key(const char *text, int lineno, const char *key);
/* Split a [web] listen value "HOST:PORT" / "[V6]:PORT" into host (no brackets) and port
 * (0..65535; 0 lets the kernel pick a free port, for tests: benchd logs the one it got).
 * Returns 0, or -1 when it is not of that form. */
int config_parse_listen(const char *listen, char *host, size_t hostlen, int *port);
/* 1 when host (as config_parse_listen gives it) is a loopback address or "localhost". */
int config_host_is_loopback(const char *host);
/* The client-side request cap per minute for the configured kind (rate_per_minute, else the
 * kind's default; 0: none). */
int config_upload_rate(const struct config *cfg);

#endif
