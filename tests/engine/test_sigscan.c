/* Unit tests of the syslog signature scanner (agent/engine/sigscan.c, engine_scan_syslog). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine.h"
#include "sigscan.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RULES BENCHD_SOURCE_DIR "/diag-trees/syslog-rules.txt"

static json_t *
sig_by_id(json_t *sigs, const char *id)
{
	size_t i;
	json_t *s;
	json_array_foreach(sigs, i, s)
	{
		if (strcmp(json_string_value(json_object_get(s, "id")), id) == 0)
			return s;
	}
	return NULL;
}

static void
test_real_rules(void **state)
{
	char why[256] = "";
	json_t *lines = json_pack(
	    "[s,s,s,s,i,s,s,s]",
	    "Nov 22 10:00:01 iPhone kernel[0] <Notice>: AppleBasebandManager: Baseband crashed, resetting",
	    "Nov 22 10:00:02 iPhone CommCenter[88] <Error>: Radio on gated: baseband radio on sequence "
	    "failed",
	    "Nov 22 10:00:03 iPhone kernel[0] <Notice>: wifi: all fine",
	    "Nov 22 10:00:04 iPhone kernel[0] <Error>: ANS2 Recoverable Panic - assert failed", 42,
	    "Nov 22 10:00:05 iPhone kernel[0] <Error>: i2c0::_checkInterrupts error interrupt; last read "
	    "status 10810100",
	    "Nov 22 10:00:06 iPhone SpringBoard[55] <Notice>: Liquid Detected in Lightning Connector",
	    "Nov 22 10:00:07 iPhone kernel[0] <Notice>: BASEBAND reset requested by CommCenter");
	json_t *sigs = NULL, *s;
	(void)state;

	assert_int_equal(engine_scan_syslog(RULES, lines, &sigs, why, sizeof(why)), ENGINE_OK);
	assert_non_null(sigs);
	assert_int_equal(json_array_size(sigs), 4);
	/* Sorted by id. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(sigs, 0), "id")),
	                    "baseband-crash");
	assert_string_equal(json_string_value(json_object_get(json_array_get(sigs, 1), "id")), "i2c-error");
	assert_string_equal(json_string_value(json_object_get(json_array_get(sigs, 2), "id")),
	                    "liquid-detected");
	assert_string_equal(json_string_value(json_object_get(json_array_get(sigs, 3), "id")), "nand-error");
	s = sig_by_id(sigs, "baseband-crash");
	/* Two rules share the id; three lines match, each counted once. */
	assert_int_equal(json_integer_value(json_object_get(s, "count")), 3);
	assert_string_equal(json_string_value(json_object_get(s, "first_line")),
	                    json_string_value(json_array_get(lines, 0)));
	assert_int_equal(json_integer_value(json_object_get(sig_by_id(sigs, "nand-error"), "count")), 1);
	json_decref(sigs);
	json_decref(lines);
}

static void
test_no_match_and_empty(void **state)
{
	char why[256] = "";
	json_t *lines = json_array(), *sigs = NULL;
	(void)state;
	assert_int_equal(engine_scan_syslog(RULES, lines, &sigs, why, sizeof(why)), ENGINE_OK);
	assert_int_equal(json_array_size(sigs), 0);
	json_decref(sigs);
	json_array_append_new(lines, json_string("Nov 22 nothing to see"));
	assert_int_equal(engine_scan_syslog(RULES, lines, &sigs, why, sizeof(why)), ENGINE_OK);
	assert_int_equal(json_array_size(sigs), 0);
	json_decref(sigs);
	/* Not an array: refused with a reason, no result. */
	sigs = NULL;
	{
		json_t *notarr = json_string("not lines");
		assert_int_equal(engine_scan_syslog(RULES, notarr, &sigs, why, sizeof(why)),
		                 ENGINE_E_SNAPSHOT);
		json_decref(notarr);
	}
	assert_null(sigs);
	json_decref(lines);
}

static void
test_missing_file(void **state)
{
	char why[256] = "";
	json_t *lines = json_array(), *sigs = NULL;
	(void)state;
	assert_int_equal(engine_scan_syslog("/nonexistent/rules.txt", lines, &sigs, why, sizeof(why)),
	                 ENGINE_E_TREES);
	assert_null(sigs);
	assert_non_null(strstr(why, "/nonexistent/rules.txt"));
	json_decref(lines);
}

static void
test_syntax_errors_name_the_line(void **state)
{
	char why[256] = "";
	struct sigscan *s = NULL;
	const char *bad_id = "# c\n\nok\tfoo\nBad Id\tbar\n";
	const char *no_pat = "a\tfoo\nb\t\t\n";
	const char *bad_re = "a\tfoo\nb\tfoo(\n";
	(void)state;
	assert_int_equal(sigscan_parse("r.txt", bad_id, strlen(bad_id), &s, why, sizeof(why)),
	                 SIGSCAN_E_SYNTAX);
	assert_null(s);
	assert_non_null(strstr(why, "r.txt line 4"));
	assert_int_equal(sigscan_parse("r.txt", no_pat, strlen(no_pat), &s, why, sizeof(why)),
	                 SIGSCAN_E_SYNTAX);
	assert_non_null(strstr(why, "r.txt line 2"));
	assert_int_equal(sigscan_parse("r.txt", bad_re, strlen(bad_re), &s, why, sizeof(why)),
	                 SIGSCAN_E_REGEX);
	assert_non_null(strstr(why, "r.txt line 2"));
	assert_null(s);
}

static void
test_catastrophic_pattern_is_bounded(void **state)
{
	char why[256] = "";
	struct sigscan *s = NULL;
	const char *rules = "evil\t^(a|aa)+$\nplain\taaa\n";
	char *line = xmalloc(3001);
	json_t *lines, *sigs;
	long long t0;
	(void)state;

	memset(line, 'a', 3000);
	line[2999] = 'b'; /* exponential backtracking without a match limit */
	line[3000] = '\0';
	lines = json_pack("[s]", line);
	assert_int_equal(sigscan_parse("r", rules, strlen(rules), &s, why, sizeof(why)), SIGSCAN_OK);
	assert_int_equal(sigscan_count(s), 2);
	t0 = util_now_ms();
	assert_int_equal(sigscan_scan(s, lines, &sigs), SIGSCAN_OK);
	assert_true(util_now_ms() - t0 < 2000);
	/* The evil rule gives up (limit: counts as no match); the plain one still matches. */
	assert_int_equal(json_array_size(sigs), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(sigs, 0), "id")), "plain");
	json_decref(sigs);
	json_decref(lines);
	sigscan_free(s);
	free(line);
}

static void
test_long_utf8_first_line_is_cut_on_a_character(void **state)
{
	char why[256] = "";
	struct sigscan *s = NULL;
	const char *rules = "hot\tBaseband\n";
	char *line = xmalloc(3 * 400 + 64);
	size_t n = 0;
	json_t *lines, *sigs;
	const char *fl;
	(void)state;

	n += (size_t)sprintf(line, "Baseband ");
	for (int i = 0; i < 400; i++) {
		memcpy(line + n, "\xe4\xb8\xad", 3); /* U+4E2D */
		n += 3;
	}
	line[n] = '\0';
	lines = json_pack("[s]", line);
	assert_int_equal(sigscan_parse("r", rules, strlen(rules), &s, why, sizeof(why)), SIGSCAN_OK);
	assert_int_equal(sigscan_scan(s, lines, &sigs), SIGSCAN_OK);
	fl = json_string_value(json_object_get(json_array_get(sigs, 0), "first_line"));
	assert_non_null(fl);
	assert_true(strlen(fl) <= SIGSCAN_MAX_FIRST_LINE);
	assert_true(strlen(fl) > SIGSCAN_MAX_FIRST_LINE - 3);
	assert_int_equal((strlen(fl) - 9) % 3, 0); /* whole characters only */
	json_decref(sigs);
	json_decref(lines);
	sigscan_free(s);
	free(line);
}

static void
test_match_only_first_bytes_of_long_line(void **state)
{
	char why[256] = "";
	struct sigscan *s = NULL;
	const char *rules = "tail\tNEEDLE\n";
	char *line = xmalloc(SIGSCAN_MAX_LINE + 16);
	json_t *lines, *sigs;
	(void)state;
	memset(line, 'x', SIGSCAN_MAX_LINE + 16);
	memcpy(line + SIGSCAN_MAX_LINE + 2, "NEEDLE", 6);
	line[SIGSCAN_MAX_LINE + 15] = '\0';
	lines = json_pack("[s]", line);
	assert_int_equal(sigscan_parse("r", rules, strlen(rules), &s, why, sizeof(why)), SIGSCAN_OK);
	assert_int_equal(sigscan_scan(s, lines, &sigs), SIGSCAN_OK);
	assert_int_equal(json_array_size(sigs), 0);
	json_decref(sigs);
	json_decref(lines);
	sigscan_free(s);
	free(line);
}

static void
test_invalid_utf8_line_gives_valid_first_line(void **state)
{
	char why[256] = "";
	struct sigscan *s = NULL;
	const char *rules = "bb\t(?i)baseband\n";
	const char raw[] = "\xff\xfe baseband \xc3\x28 crash\x00tail";
	json_t *lines = json_array(), *sigs = NULL, *fl;
	(void)state;
	json_array_append_new(lines, json_stringn_nocheck(raw, sizeof(raw) - 1));
	assert_int_equal(sigscan_parse("r", rules, strlen(rules), &s, why, sizeof(why)), SIGSCAN_OK);
	assert_int_equal(sigscan_scan(s, lines, &sigs), SIGSCAN_OK);
	assert_int_equal(json_array_size(sigs), 1);
	fl = json_object_get(json_array_get(sigs, 0), "first_line");
	/* jansson accepts it back: valid UTF-8, invalid bytes replaced by U+FFFD, NUL too. */
	{
		json_t *again = json_stringn(json_string_value(fl), json_string_length(fl));
		assert_non_null(again);
		json_decref(again);
	}
	assert_non_null(strstr(json_string_value(fl), " baseband "));
	assert_null(memchr(json_string_value(fl), '\0', json_string_length(fl)));
	json_decref(sigs);
	json_decref(lines);
	sigscan_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_rules),
	    cmocka_unit_test(test_no_match_and_empty),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_syntax_errors_name_the_line),
	    cmocka_unit_test(test_catastrophic_pattern_is_bounded),
	    cmocka_unit_test(test_long_utf8_first_line_is_cut_on_a_character),
	    cmocka_unit_test(test_match_only_first_bytes_of_long_line),
	    cmocka_unit_test(test_invalid_utf8_line_gives_valid_first_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
