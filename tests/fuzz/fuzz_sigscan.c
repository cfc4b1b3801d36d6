/*
 * libFuzzer target: the syslog signature scanner (agent/engine/sigscan.c).
 *
 * The input is log text from a device: it is split into lines (any bytes, not only UTF-8) and
 * matched against the real diag-trees/syslog-rules.txt. An input that starts with "#rules\n"
 * carries its own rules text up to the first blank line, so the rules parser and odd patterns
 * are exercised too. The scan must finish within the bounds (match limits, line cap) and every
 * first_line it returns must be valid UTF-8 of at most SIGSCAN_MAX_FIRST_LINE bytes.
 */
#include "sigscan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sigscan *real_rules;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct sigscan *own = NULL, *rules;
	json_t *lines, *sigs = NULL;
	char why[256];

	if (real_rules == NULL && sigscan_load(BENCHD_SOURCE_DIR "/diag-trees/syslog-rules.txt", &real_rules,
	                                       why, sizeof(why)) != 0)
		abort();
	rules = real_rules;
	if (size > 7 && memcmp(p, "#rules\n", 7) == 0) {
		const char *blank = memmem(p + 7, size - 7, "\n\n", 2);
		const char *rend = blank ? blank : end;
		if (sigscan_parse("fuzz", p + 7, (size_t)(rend - (p + 7)), &own, why, sizeof(why)) !=
		    SIGSCAN_OK)
			return 0;
		rules = own;
		p = blank ? blank + 2 : end;
	}
	lines = json_array();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		json_array_append_new(lines, json_stringn_nocheck(p, (size_t)(le - p)));
		p = nl ? nl + 1 : end;
	}
	if (sigscan_scan(rules, lines, &sigs) != SIGSCAN_OK)
		abort();
	for (size_t i = 0; i < json_array_size(sigs); i++) {
		const json_t *s = json_array_get(sigs, i);
		const char *fl = json_string_value(json_object_get(s, "first_line"));
		if (fl == NULL ||
		    json_string_length(json_object_get(s, "first_line")) > SIGSCAN_MAX_FIRST_LINE ||
		    json_integer_value(json_object_get(s, "count")) < 1)
			abort();
	}
	json_decref(sigs);
	json_decref(lines);
	sigscan_free(own);
	return 0;
}
