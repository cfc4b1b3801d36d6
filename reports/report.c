/*
 * report: building the benchd.report/1 object (DESIGN.md 4.6) from a snapshot and the engine's
 * result. The readings are copied from the snapshot's normalised fields (never its raw plists or
 * syslog lines: the exact snapshot is kept beside the report and pinned by snapshot_sha256),
 * then the trees' derived readings (reading(): battery_forecast, ...) under names the snapshot's
 * do not use. inputs.history records the battery history the trees read (DESIGN 4.9), so a
 * replay gives the same faults.
 */
#include "report.h"

#include "hash.h"
#include "util.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PANIC_SUMMARY_MAX 512

int
report_uuid4(char out[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
	         b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

/* Copy a member of src into dst when present. */
static void
copy_member(json_t *dst, const json_t *src, const char *key)
{
	json_t *v = json_object_get(src, key);

	if (v != NULL)
		json_object_set_new(dst, key, json_deep_copy(v));
}

/* Cut s to at most max bytes on a UTF-8 character boundary. */
static size_t
utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

static json_t *
crash_summary(const json_t *crashes)
{
	json_t *list = json_array(), *c;
	size_t i;
	int panics = 0, resets = 0;

	json_array_foreach(crashes, i, c)
	{
		json_t *o = json_object();
		const char *bt = json_string_value(json_object_get(c, "bug_type"));
		json_t *ps = json_object_get(c, "panic_string");
		copy_member(o, c, "name");
		copy_member(o, c, "bug_type");
		copy_member(o, c, "timestamp");
		copy_member(o, c, "product");
		if (json_is_string(ps)) {
			const char *s = json_string_value(ps);
			size_t n = json_string_length(ps), cut = utf8_cut(s, n, PANIC_SUMMARY_MAX);
			json_object_set_new(o, "panic_string", json_stringn(s, cut));
			if (cut < n || json_is_true(json_object_get(c, "truncated")))
				json_object_set_new(o, "truncated", json_true());
		}
		if (bt != NULL && strcmp(bt, "210") == 0)
			panics++;
		else if (bt != NULL && strcmp(bt, "151") == 0)
			resets++;
		json_array_append_new(list, o);
	}
	return json_pack("{s:I, s:I, s:I, s:o}", "count", (json_int_t)json_array_size(crashes), "panics",
	                 (json_int_t)panics, "force_resets", (json_int_t)resets, "reports", list);
}

static json_t *
readings_of(const json_t *snap)
{
	json_t *r = json_object(), *v;

	copy_member(r, snap, "captured_at");
	copy_member(r, snap, "probes");
	copy_member(r, snap, "battery");
	copy_member(r, snap, "storage");
	v = json_object_get(snap, "crashes");
	if (json_is_array(v))
		json_object_set_new(r, "crashes", crash_summary(v));
	v = json_object_get(snap, "syslog");
	if (json_is_object(v)) {
		json_t *s = json_object();
		copy_member(s, v, "seconds");
		copy_member(s, v, "lines");
		copy_member(s, v, "truncated");
		copy_member(s, v, "signatures");
		json_object_set_new(r, "syslog", s);
	}
	v = json_object_get(snap, "errors");
	json_object_set_new(r, "errors", json_is_array(v) ? json_deep_copy(v) : json_array());
	return r;
}

static json_t *
copy_or(const json_t *v, json_t *dflt)
{
	if (v == NULL)
		return dflt;
	json_decref(dflt);
	return json_deep_copy(v);
}

json_t *
report_build_at(const struct report_input *in, const struct bench_key *k, const char *report_id,
                time_t created_at)
{
	char ts[32], sha[65];
	json_t *r, *dev;
	const char *software = "benchd " BENCHD_VERSION;

	if (hash_sha256_hex(in->snapshot_bytes, in->snapshot_len, sha) < 0)
		return NULL;
	util_rfc3339(created_at, ts, sizeof(ts));
	dev = json_object_get(in->snapshot, "device");
	r = json_object();
	json_object_set_new(r, "schema", json_string(REPORT_SCHEMA));
	json_object_set_new(r, "report_id", json_string(report_id));
	json_object_set_new(r, "created_at", json_string(ts));
	json_object_set_new(r, "bench",
	                    json_pack("{s:s, s:s, s:s}", "id", in->bench_id ? in->bench_id : "bench-01",
	                              "key_id", bench_key_id(k), "software", software));
	json_object_set_new(r, "device", json_is_object(dev) ? json_deep_copy(dev) : json_object());
	{
		json_t *rd = readings_of(in->snapshot), *v;
		const char *name;
		json_object_foreach((json_t *)in->readings, name, v)
		{
			if (json_object_get(rd, name) == NULL)
				json_object_set_new(rd, name, json_deep_copy(v));
		}
		json_object_set_new(r, "readings", rd);
	}
	json_object_set_new(
	    r, "inputs",
	    json_pack("{s:o}", "history",
	              json_is_array(in->history) ? json_deep_copy(in->history) : json_array()));
	json_object_set_new(r, "faults", copy_or(in->faults, json_array()));
	json_object_set_new(r, "trace", copy_or(in->trace, json_array()));
	json_object_set_new(r, "trees", copy_or(in->trees, json_array()));
	json_object_set_new(r, "outcome", json_string(in->outcome ? in->outcome : "incomplete"));
	json_object_set_new(r, "questions", copy_or(in->questions, json_array()));
	json_object_set_new(r, "answers", copy_or(in->answers, json_object()));
	json_object_set_new(r, "errors", copy_or(in->engine_errors, json_array()));
	json_object_set_new(r, "incomplete", copy_or(in->incomplete, json_array()));
	json_object_set_new(r, "snapshot_sha256", json_string(sha));
	json_object_set_new(r, "case", report_case_object(in));
	return r;
}

static json_t *
str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

json_t *
report_case_object(const struct report_input *in)
{
	int has_case = in->case_id && in->case_id[0];

	return json_pack("{s:o, s:o, s:o, s:o, s:o}", "case_id", str_or_null(in->case_id), "ticket",
	                 str_or_null(in->ticket), "revision",
	                 has_case && in->revision > 0 ? json_integer(in->revision) : json_null(),
	                 "supersedes", str_or_null(has_case ? in->supersedes : NULL), "lang",
	                 str_or_null(in->lang));
}

json_t *
report_revise(const json_t *prev, const struct report_input *in, const struct bench_key *k,
              const char *report_id)
{
	char id[37], ts[32];
	json_t *r, *bench;

	if (!json_is_object(prev))
		return NULL;
	if (report_id == NULL) {
		if (report_uuid4(id) < 0)
			return NULL;
		report_id = id;
	}
	util_rfc3339(time(NULL), ts, sizeof(ts));
	r = json_deep_copy(prev);
	json_object_set_new(r, "report_id", json_string(report_id));
	json_object_set_new(r, "created_at", json_string(ts));
	bench = json_object_get(r, "bench");
	if (!json_is_object(bench)) {
		bench = json_object();
		json_object_set_new(r, "bench", bench);
	}
	if (in->bench_id)
		json_object_set_new(bench, "id", json_string(in->bench_id));
	json_object_set_new(bench, "key_id", json_string(bench_key_id(k)));
	json_object_set_new(bench, "software", json_string("benchd " BENCHD_VERSION));
	json_object_set_new(r, "case", report_case_object(in));
	return r;
}

json_t *
report_build(const struct report_input *in, const struct bench_key *k)
{
	char id[37];

	if (report_uuid4(id) < 0)
		return NULL;
	return report_build_at(in, k, id, time(NULL));
}
