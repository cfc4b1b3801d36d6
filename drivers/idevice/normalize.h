/*
 * normalize: device bytes -> snapshot fields (docs/snapshot.md). Pure functions, no I/O, so
 * every rule is unit-tested and fuzzed without a device: plist -> JSON (bounded), device and
 * storage fields from lockdown domains, battery maths and flags, ProductType -> model name,
 * crash-report parsing (.ips JSON/JSON, .ips JSON/text, legacy plist), syslog stream framing.
 *
 * Every input is untrusted: lengths are capped, strings are made valid UTF-8, and a value that
 * makes no sense is left out of the normalised fields (the raw value stays under "raw") with a
 * flag saying why. Ownership: every json_t returned is a new reference for the caller.
 */
#ifndef BENCHD_NORMALIZE_H
#define BENCHD_NORMALIZE_H

#include <jansson.h>
#include <plist/plist.h>
#include <stddef.h>

struct models;

#define NORM_MAX_DEPTH        32            /* plist nesting */
#define NORM_MAX_NODES        200000        /* plist nodes per conversion */
#define NORM_MAX_STRING       (1024 * 1024) /* one plist string */
#define NORM_MAX_DATA         (256 * 1024)  /* one plist data blob (base64 in JSON) */
#define NORM_PANIC_MAX        (64 * 1024)   /* crashes[].panic_string */
#define NORM_SYSLOG_MAX_LINES 20000
#define NORM_SYSLOG_MAX_BYTES (2 * 1024 * 1024)
#define NORM_SYSLOG_MAX_LINE  (16 * 1024)

/* A JSON string from untrusted bytes: at most max bytes kept, invalid UTF-8 and NULs become
 * U+FFFD / dropped. *cut (may be NULL) is set when bytes were dropped for length. */
json_t *norm_string(const char *s, size_t len, size_t max, int *cut);

/* plist -> JSON: dict -> object, array -> array, integers signed (libplist 2.2 hands
 * negatives back as two's complement), reals (non-finite -> null), dates -> RFC 3339 strings,
 * data -> base64 strings. Bounded by the NORM_MAX_* limits (deeper/larger parts -> null). */
json_t *norm_plist_to_json(plist_t p);
/* Is p nested (arrays and dicts) deeper than max levels? Iterative: safe on any depth, where
 * libplist's own writers and copy recurse once per level. p itself is level 1. */
int norm_plist_too_deep(plist_t p, unsigned max);
/* Bytes (XML or binary plist) -> JSON; NULL when not a plist. */
json_t *norm_plist_bytes_to_json(const char *data, size_t len);

/* Fill device fields (udid, serial, product_type, model_name, ios_version, build_version,
 * ecid) from the lockdown Root domain (as JSON). */
void norm_device(json_t *device, const json_t *root, const struct models *m);
/* storage {total_bytes, available_bytes} from com.apple.disk_usage; NULL when nothing sane. */
json_t *norm_storage(const json_t *disk_usage);
/*
 * The battery object from an IORegistry entry (JSON) named source, plus the lockdown
 * com.apple.mobile.battery domain (may be NULL). entry NULL or empty -> flags gauge_missing.
 */
json_t *norm_battery(const json_t *entry, const char *source, const json_t *battery_domain);

/* "2026-11-20 10:10:10.00 +0100" / RFC 3339 -> "2026-11-20T09:10:10Z". 0 or -1. */
int norm_timestamp(const char *s, char *out, size_t outlen);

/*
 * Parse a crash report. data/len is the file (or its first len bytes when file_size > len).
 * Returns the crashes[] entry {name, bug_type, timestamp, product, panic_string, size,
 * truncated, format}, or NULL with a reason in why when the bytes are not a crash report.
 */
json_t *norm_crash_parse(const char *name, const char *data, size_t len, size_t file_size, char *why,
                         size_t whylen);
/* Names the crashes probe copies (.ips, .panic, .plist, .crash; case-insensitive). */
int norm_crash_name_ok(const char *name);

/*
 * syslog_relay framing: records are "text\n" followed by NUL (a capture starts with a NUL).
 * Feed bytes as they come; lines land in `lines` up to the caps (then truncated is set and
 * further lines are only counted).
 */
struct norm_syslog {
	json_t *lines; /* array of strings, owned */
	size_t seen;   /* lines seen, kept or not */
	size_t bytes;  /* bytes kept */
	int truncated;
	char *cur; /* the line being assembled, NORM_SYSLOG_MAX_LINE + 1 bytes */
	size_t curlen;
	int curcut;
	int prev_nl;
};
void norm_syslog_init(struct norm_syslog *s);
void norm_syslog_feed(struct norm_syslog *s, const char *data, size_t len);
/* Flush a last line without its terminator. */
void norm_syslog_finish(struct norm_syslog *s);
void norm_syslog_free(struct norm_syslog *s);

#endif
