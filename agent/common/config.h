/*
 * config: benchd's INI configuration (DESIGN.md 4.3b), parsed with Debian's libinih.
 *
 *   [bench]    id, trees, lang, syslog_seconds, max_sessions, drain_seconds
 *   [upload]   url, token_file, ca_file, timeout_seconds, retry_min_seconds, retry_max_seconds
 *   [control]  socket
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

#endif
