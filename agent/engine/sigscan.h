/*
 * sigscan: the syslog signature scanner (PCRE2), compiled once from a rules file and used to
 * match captured syslog lines. engine_scan_syslog (engine.h) is the one-call form.
 *
 * Rules file (diag-trees/syslog-rules.txt): one rule per line, `id <TAB> pattern`; the id is
 * [a-z0-9-]{1,48}, one or more tabs separate it from a PCRE2 pattern; blank lines and lines
 * starting with '#' are ignored. Bounds: at most SIGSCAN_MAX_RULES rules, patterns of at most
 * SIGSCAN_MAX_PATTERN bytes; every match runs under a match limit, a depth limit and a heap
 * limit, and only the first SIGSCAN_MAX_LINE bytes of a line are looked at, so no device line
 * can make a scan slow. A line that hits a limit counts as "no match" for that rule.
 *
 * Ownership: sigscan_load/sigscan_parse hand back a set the caller frees with sigscan_free;
 * sigscan_scan hands back a new json array (the caller owns the reference).
 */
#ifndef BENCHD_SIGSCAN_H
#define BENCHD_SIGSCAN_H

#include <jansson.h>
#include <stddef.h>

#define SIGSCAN_MAX_RULES      256
#define SIGSCAN_MAX_PATTERN    1024
#define SIGSCAN_MAX_ID         48
#define SIGSCAN_MAX_LINE       4096   /* bytes of a syslog line that are matched */
#define SIGSCAN_MAX_LINES      100000 /* lines looked at per scan */
#define SIGSCAN_MAX_FIRST_LINE 512    /* bytes of first_line kept (cut on a UTF-8 boundary) */
#define SIGSCAN_MAX_FILE       (1024 * 1024)
#define SIGSCAN_MATCH_LIMIT    100000
#define SIGSCAN_DEPTH_LIMIT    1000
#define SIGSCAN_HEAP_LIMIT_KB  1024

enum sigscan_err {
	SIGSCAN_OK = 0,
	SIGSCAN_E_OPEN = -1,   /* the rules file cannot be read */
	SIGSCAN_E_SYNTAX = -2, /* a rule line is malformed (reason names file and line) */
	SIGSCAN_E_REGEX = -3,  /* a pattern does not compile (reason names file, line, offset) */
	SIGSCAN_E_INPUT = -4,  /* lines is not an array */
};

struct sigscan;

int sigscan_load(const char *path, struct sigscan **out, char *why, size_t whylen);
/* The same from text; `name` stands for the file in messages. */
int sigscan_parse(const char *name, const char *text, size_t len, struct sigscan **out, char *why,
                  size_t whylen);
void sigscan_free(struct sigscan *s);
size_t sigscan_count(const struct sigscan *s);
const char *sigscan_id(const struct sigscan *s, size_t i);
int sigscan_lineno(const struct sigscan *s, size_t i);
/* Match each string of `lines` (non-strings are skipped) -> [{id, count, first_line}] by id. */
int sigscan_scan(const struct sigscan *s, const json_t *lines, json_t **signatures);
/* Match one line; returns the number of rules it matched and calls fn for each (may be NULL). */
size_t sigscan_line(const struct sigscan *s, const char *line, size_t len, void (*fn)(void *arg, size_t rule),
                    void *arg);
const char *sigscan_strerror(int err);

#endif
