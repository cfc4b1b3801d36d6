/* Unit tests of the upload policy: backoff with jitter and the case body (Retry-After and the
 * generic verdicts are agent/booking's: tests/booking/test_booking_unit.c). */
#include "upload.h"

#include "util.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void
test_backoff(void **state)
{
	(void)state;
	/* Grows by doubling from min with jitter in [base/2, base], capped at max. */
	for (unsigned rnd = 0; rnd < 5000; rnd += 97) {
		long long d1 = upload_backoff_ms(1, 5, 900, -1, rnd);
		long long d3 = upload_backoff_ms(3, 5, 900, -1, rnd);
		long long d20 = upload_backoff_ms(20, 5, 900, -1, rnd);
		assert_true(d1 >= 2500 && d1 <= 5000);
		assert_true(d3 >= 10000 && d3 <= 20000);
		assert_true(d20 >= 450000 && d20 <= 900000);
	}
	/* Jitter: different random input, different delays. */
	assert_true(upload_backoff_ms(4, 5, 900, -1, 1) != upload_backoff_ms(4, 5, 900, -1, 12345));
	/* Retry-After replaces the backoff, capped at max. */
	assert_int_equal(upload_backoff_ms(1, 5, 900, 30, 77), 30000);
	assert_int_equal(upload_backoff_ms(9, 5, 900, 0, 77), 1000); /* never a busy loop */
	assert_int_equal(upload_backoff_ms(1, 5, 900, 86400, 77), 900000);
	/* Huge attempt counts never overflow. */
	assert_true(upload_backoff_ms(1000000, 1, 86400, -1, 0xffffffffu) <= 86400000LL);
}

static char *
b64u(const char *s)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(s), o = 0;
	char *out = xmalloc(n * 4 / 3 + 4);
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
		             (i + 2 < n ? p[i + 2] : 0);
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = tab[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = tab[v & 63];
	}
	out[o] = '\0';
	return out;
}

static void
test_body(void **state)
{
	const char *report =
	    "{\"schema\":\"benchd.report/1\",\"report_id\":\"6f1c2a44-0b7e-4f4e-9a51-2f0d1c3b9e10\","
	    "\"created_at\":\"2026-11-22T10:00:00Z\",\"bench\":{\"id\":\"desk-7\",\"key_id\":\"k\"},"
	    "\"device\":{\"udid\":\"00008030-001A\",\"serial\":\"F2L\",\"product_type\":\"iPhone12,1\","
	    "\"model_name\":\"iPhone 11\",\"ios_version\":\"17.1\"},\"faults\":[{\"code\":\"BAT-001\","
	    "\"severity\":\"major\",\"part\":\"battery\",\"title\":\"Worn\",\"evidence\":\"71\"}],"
	    "\"outcome\":\"fail\",\"case\":{\"ticket\":\"T-1\"}}";
	char *payload = b64u(report);
	char *jws = xasprintf(
	    "{\"protected\":\"eyJhbGciOiJFZERTQSJ9\",\"payload\":\"%s\",\"signature\":\"c2ln\"}\n", payload);
	char *body, why[256];
	size_t len;
	struct upload_meta m;
	json_t *b, *c;

	(void)state;
	assert_int_equal(upload_build_body(jws, strlen(jws), &body, &len, &m, why, sizeof(why)), UPLOAD_OK);
	assert_string_equal(m.report_id, "6f1c2a44-0b7e-4f4e-9a51-2f0d1c3b9e10");
	assert_string_equal(m.outcome, "fail");
	assert_string_equal(m.device, "00008030-001A");
	assert_string_equal(m.created_at, "2026-11-22T10:00:00Z");
	assert_int_equal(strlen(body), len);
	/* The JWS is embedded byte for byte (without the trailing newline). */
	{
		char *want = xasprintf(",\"report\":%.*s}", (int)strlen(jws) - 1, jws);
		assert_non_null(strstr(body, want));
		assert_string_equal(body + len - strlen(want), want);
		free(want);
	}
	b = json_loads(body, 0, NULL);
	assert_non_null(b);
	c = json_object_get(b, "case");
	assert_string_equal(json_string_value(json_object_get(c, "ticket")), "T-1");
	assert_string_equal(json_string_value(json_object_get(c, "bench_id")), "desk-7");
	assert_string_equal(json_string_value(json_object_get(c, "outcome")), "fail");
	assert_string_equal(json_string_value(json_object_get(json_object_get(c, "device"), "model_name")),
	                    "iPhone 11");
	assert_null(json_object_get(json_object_get(c, "device"), "ios_version"));
	assert_int_equal(json_object_size(json_array_get(json_object_get(c, "faults"), 0)), 3);
	json_decref(b);
	/* Built twice: the same bytes (a retry sends what the first try sent). */
	{
		char *again;
		size_t len2;
		assert_int_equal(upload_build_body(jws, strlen(jws), &again, &len2, &m, why, sizeof(why)),
		                 UPLOAD_OK);
		assert_int_equal(len, len2);
		assert_memory_equal(body, again, len);
		free(again);
	}
	free(body);
	free(jws);
	free(payload);
}

static void
test_body_malformed(void **state)
{
	char *body = (char *)1, why[256];
	size_t len;
	struct upload_meta m;
	static const char *bad[] = {
	    "",
	    "not json",
	    "[]",
	    "{\"payload\":\"e30\"}",
	    "{\"protected\":\"x\",\"payload\":\"!!!\",\"signature\":\"s\"}",
	    "{\"protected\":\"x\",\"payload\":\"e30\",\"signature\":\"s\"}",         /* {} */
	    "{\"protected\":\"x\",\"payload\":\"bm90IGpzb24\",\"signature\":\"s\"}", /* not json */
	    "{\"protected\":\"x\",\"payload\":\"A\",\"signature\":\"s\"}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(upload_build_body(bad[i], strlen(bad[i]), &body, &len, &m, why, sizeof(why)),
		                 UPLOAD_E_MALFORMED);
		assert_null(body);
		assert_true(strlen(why) > 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_body),
	    cmocka_unit_test(test_body_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
