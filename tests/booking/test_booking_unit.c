/*
 * Unit tests of agent/booking's pure parts: the rate limiter, the comment text and its marker,
 * device ids from ticket fields, servers' error messages, stored bodies, the result rules.
 */
#include "booking_int.h"

#include "util.h"

#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void
test_rate_window(void **state)
{
	struct rate *r = rate_new(5, 300);
	long long t0 = util_now_ms(), t;
	long waited;
	int slot, held;

	(void)state;
	/* Five start at once; the sixth waits until the first has been done for a window. */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(rate_take(r, NULL, 0, NULL, &slot), RATE_OK);
		rate_done(r, slot);
	}
	assert_int_equal(rate_take(r, NULL, 50, &waited, &slot), RATE_E_BUSY);
	assert_true(waited > 50 && waited <= 300);
	assert_int_equal(rate_take(r, NULL, -1, NULL, &slot), RATE_OK);
	t = util_now_ms() - t0;
	assert_true(t >= 290);
	/* A slot held by a request in flight is not free, however long it takes. */
	held = slot;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(rate_take(r, NULL, -1, NULL, &slot), RATE_OK);
		rate_done(r, slot);
	}
	t0 = util_now_ms();
	assert_int_equal(rate_take(r, NULL, 100, &waited, &slot), RATE_E_BUSY);
	rate_done(r, held);
	assert_int_equal(rate_take(r, NULL, -1, NULL, &slot), RATE_OK);
	assert_true(util_now_ms() - t0 >= 290);
	rate_done(r, slot);
	/* A block stops every request until it passes, whatever the window says. */
	rate_block(r, 400);
	assert_true(rate_wait_ms(r) >= 350);
	t0 = util_now_ms();
	assert_int_equal(rate_take(r, NULL, -1, NULL, &slot), RATE_OK);
	assert_true(util_now_ms() - t0 >= 390);
	rate_free(r);
}

static volatile int cancel_flag;

static void
test_rate_cancel(void **state)
{
	struct rate *r = rate_new(1, 60000);
	int slot;

	(void)state;
	assert_int_equal(rate_take(r, NULL, 0, NULL, &slot), RATE_OK);
	rate_done(r, slot);
	cancel_flag = 1;
	assert_int_equal(rate_take(r, &cancel_flag, -1, NULL, &slot), RATE_E_CANCELLED);
	cancel_flag = 0;
	rate_free(r);
	/* No cap: never waits. */
	r = rate_new(0, 60000);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(rate_take(r, NULL, 0, NULL, &slot), RATE_OK);
		assert_int_equal(slot, -1);
		rate_done(r, slot);
	}
	rate_free(r);
}

struct counter {
	struct rate *r;
	pthread_mutex_t mu;
	long long starts[64];
	int n;
};

static void *
taker(void *arg)
{
	struct counter *c = arg;

	for (int i = 0; i < 8; i++) {
		int slot;
		assert_int_equal(rate_take(c->r, NULL, -1, NULL, &slot), RATE_OK);
		pthread_mutex_lock(&c->mu);
		c->starts[c->n++] = util_now_ms();
		pthread_mutex_unlock(&c->mu);
		rate_done(c->r, slot);
	}
	return NULL;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

static void
test_rate_threads(void **state)
{
	struct counter c;
	pthread_t t[4];

	(void)state;
	memset(&c, 0, sizeof(c));
	c.r = rate_new(10, 200);
	pthread_mutex_init(&c.mu, NULL);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, taker, &c);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(c.n, 32);
	qsort(c.starts, (size_t)c.n, sizeof(c.starts[0]), cmp_ll);
	/* No 200 ms window holds more than 10 starts (a little slack for the clock reads). */
	for (int i = 10; i < c.n; i++)
		assert_true(c.starts[i] - c.starts[i - 10] >= 195);
	pthread_mutex_destroy(&c.mu);
	rate_free(c.r);
}

static void
test_device_ids(void **state)
{
	char out[32];

	(void)state;
	assert_string_equal(booking_classify_device_id("35 654123 456789 0", out, sizeof(out)), "imei");
	assert_string_equal(out, "356541234567890");
	assert_string_equal(booking_classify_device_id(" f2lxk0aan72j ", out, sizeof(out)), "serial");
	assert_string_equal(out, "F2LXK0AAN72J");
	assert_null(booking_classify_device_id("12345", out, sizeof(out)));
	assert_null(booking_classify_device_id("3565412345678901234", out, sizeof(out))); /* 19 digits */
	assert_null(booking_classify_device_id("F2L?XK0AAN", out, sizeof(out)));
	assert_null(booking_classify_device_id("", out, sizeof(out)));
	assert_null(booking_classify_device_id("see notes", out, sizeof(out)));
}

static void
test_poll_rows(void **state)
{
	json_t *rows = json_array(), *seen = json_object();

	(void)state;
	booking_poll_add(rows, seen, "356541234567890 / F2LXK0AAN72J; rubbish", "4711", 88,
	                 "iPhone 11 battery", "RepairShopr");
	booking_poll_add(rows, seen, "F2LXK0AAN72J", "4712", 89, "", "RepairShopr"); /* booked already */
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "kind")), "imei");
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "value")),
	                    "F2LXK0AAN72J");
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "ticket")), "4711");
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "external_id")), "88");
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "note")),
	                    "RepairShopr ticket 4711: iPhone 11 battery");
	json_decref(rows);
	json_decref(seen);
}

static void
test_server_message(void **state)
{
	char *m;
	const char *a =
	    "{\"success\":false,\"message\":[\"Subject can't be blank\",\"Body can't be blank\"]}";
	const char *b = "{\"error\":\"Customer required field\"}";
	const char *c = "{\"errors\":{\"body\":[\"is too long\"]}}";
	const char *d = "<html>\r\nBad gateway</html>";

	(void)state;
	m = booking_server_message(a, strlen(a), 600);
	assert_string_equal(m, "Subject can't be blank; Body can't be blank");
	free(m);
	m = booking_server_message(b, strlen(b), 600);
	assert_string_equal(m, "Customer required field");
	free(m);
	m = booking_server_message(c, strlen(c), 600);
	assert_string_equal(m, "body is too long");
	free(m);
	m = booking_server_message(d, strlen(d), 10);
	assert_string_equal(m, "<html>  Ba");
	free(m);
}

static json_t *
fixture(void)
{
	const char *js =
	    "{\"report_id\":\"6f1c2a4e-9b3d-4c5e-8f7a-1b2c3d4e5f60\",\"created_at\":\"2026-11-22T10:00:00Z\","
	    "\"outcome\":\"fail\",\"bench\":{\"id\":\"bench-07\",\"key_id\":\"kPrK\"},"
	    "\"device\":{\"model_name\":\"iPhone "
	    "11\",\"serial\":\"F2LZK0TESTAB\",\"ios_version\":\"16.7.2\"},"
	    "\"readings\":{\"battery\":{\"health_pct\":76,\"cycle_count\":812}},"
	    "\"faults\":[{\"code\":\"BAT-001\",\"severity\":\"major\",\"part\":\"battery\",\"title\":"
	    "\"Battery "
	    "worn\\u001b[31m\"},{\"code\":\"SYS-009\",\"severity\":\"minor\",\"part\":null,\"part_note\":"
	    "\"ask the "
	    "customer\",\"title\":\"Unknown\"}],"
	    "\"case\":{\"case_id\":\"c0ffee00-0000-4000-8000-000000000001\",\"ticket\":\"4711\",\"revision\":"
	    "2,"
	    "\"supersedes\":\"11111111-2222-4333-8444-555555555555\"}}";
	return json_loads(js, 0, NULL);
}

static void
test_summary_text(void **state)
{
	json_t *rep = fixture();
	struct booking_case c = {.report_id = "6f1c2a4e-9b3d-4c5e-8f7a-1b2c3d4e5f60",
	                         .case_id = "c0ffee00-0000-4000-8000-000000000001",
	                         .ticket = "4711",
	                         .revision = 2,
	                         .supersedes = "11111111-2222-4333-8444-555555555555",
	                         .report = rep};
	char *t = booking_summary_text(&c);
	json_t *cm;

	(void)state;
	assert_non_null(strstr(t, "Bench diagnosis: FAIL (2 faults)\n"));
	assert_non_null(strstr(t, "iPhone 11, serial F2LZK0TESTAB, iOS 16.7.2"));
	assert_non_null(strstr(t, "1. BAT-001 (major): Battery worn [31m\n     part: battery\n"));
	assert_non_null(strstr(t, "2. SYS-009 (minor): Unknown\n     part: none (ask the customer)\n"));
	assert_non_null(strstr(t, "Battery: health 76 %, 812 charge cycles"));
	assert_non_null(strstr(t, "\nbenchd report 6f1c2a4e-9b3d-4c5e-8f7a-1b2c3d4e5f60\n"));
	assert_non_null(strstr(t,
	                       "Case c0ffee00-0000-4000-8000-000000000001, revision 2 (replaces the earlier "
	                       "diagnosis 11111111-2222-4333-8444-555555555555)"));
	assert_non_null(
	    strstr(t, "on the bench: benchctl report verify 6f1c2a4e-9b3d-4c5e-8f7a-1b2c3d4e5f60\n"));
	assert_non_null(strstr(t, "--key bench.jwk"));
	assert_null(strchr(t, '\x1b'));
	/* The marker names this report only: the superseded report's id is not a marker. */
	cm = json_pack("{s:i, s:s}", "id", 7, "body", t);
	assert_int_equal(booking_names_report(cm, c.report_id), 1);
	assert_int_equal(booking_names_report(cm, c.supersedes), 0);
	json_decref(cm);
	cm = json_pack("{s:i, s:s}", "id", 8, "note", t); /* any field name */
	assert_int_equal(booking_names_report(cm, c.report_id), 1);
	json_decref(cm);
	free(t);
	json_decref(rep);
}

static void
test_case_parse(void **state)
{
	json_t *rep = fixture(), *payload;
	char *p = json_dumps(rep, JSON_COMPACT), *b64, *body, why[256];
	struct booking_case c;
	size_t n = strlen(p);
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;

	(void)state;
	/* base64url without padding, by hand. */
	b64 = xmalloc(n * 2 + 4);
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)p[i] << 16 | (i + 1 < n ? (unsigned char)p[i + 1] << 8 : 0) |
		             (i + 2 < n ? (unsigned char)p[i + 2] : 0);
		b64[o++] = tbl[v >> 18 & 63];
		b64[o++] = tbl[v >> 12 & 63];
		if (i + 1 < n)
			b64[o++] = tbl[v >> 6 & 63];
		if (i + 2 < n)
			b64[o++] = tbl[v & 63];
	}
	b64[o] = '\0';
	body = xasprintf(
	    "{\"case\":{},\"report\":{\"protected\":\"x\",\"payload\":\"%s\",\"signature\":\"y\"}}", b64);
	assert_int_equal(booking_case_parse(body, strlen(body), &c, &payload, why, sizeof(why)), BOOKING_OK);
	assert_string_equal(c.report_id, "6f1c2a4e-9b3d-4c5e-8f7a-1b2c3d4e5f60");
	assert_string_equal(c.case_id, "c0ffee00-0000-4000-8000-000000000001");
	assert_string_equal(c.ticket, "4711");
	assert_int_equal(c.revision, 2);
	assert_string_equal(c.supersedes, "11111111-2222-4333-8444-555555555555");
	assert_ptr_equal(c.body, body);
	json_decref(payload);
	free(body);
	body = xstrdup("{\"case\":{},\"report\":{\"payload\":\"!!!\"}}");
	assert_int_equal(booking_case_parse(body, strlen(body), &c, &payload, why, sizeof(why)),
	                 BOOKING_E_MALFORMED);
	assert_null(payload);
	free(body);
	free(b64);
	free(p);
	json_decref(rep);
}

static void
test_fail_rules(void **state)
{
	struct booking_opts o = {.kind = "repairshopr", .url = "https://shop.repairshopr.com/api/v1/"};
	struct booking *b;
	struct booking_result r;
	struct bhttp_answer a;
	char why[256];

	(void)state;
	assert_int_equal(booking_new(&o, &b, why, sizeof(why)), BOOKING_OK);
	assert_string_equal(booking_system(b), "RepairShopr");
	memset(&r, 0, sizeof(r));
	memset(&a, 0, sizeof(a));
	a.retry_after = -1;
	a.status = 401;
	a.body = (char *)"{\"success\":false,\"message\":\"Unauthorized\"}";
	a.len = strlen(a.body);
	booking_fail(b, &r, BHTTP_OK, &a, "reading ticket 4711");
	assert_int_equal(r.verdict, BOOKING_HELD);
	assert_non_null(strstr(r.answer, "token refused by RepairShopr: check token_file"));
	assert_non_null(strstr(r.answer, "Unauthorized"));
	a.status = 422;
	a.body = (char *)"{\"success\":false,\"message\":[\"Ticket is locked\"]}";
	a.len = strlen(a.body);
	booking_fail(b, &r, BHTTP_OK, &a, "posting the comment on ticket 4711");
	assert_int_equal(r.verdict, BOOKING_HELD);
	assert_non_null(
	    strstr(r.answer, "HTTP 422 while posting the comment on ticket 4711): Ticket is locked"));
	a.status = 429;
	a.retry_after = 17;
	booking_fail(b, &r, BHTTP_OK, &a, "x");
	assert_int_equal(r.verdict, BOOKING_RETRY);
	assert_int_equal(r.server_wide, 1);
	assert_int_equal(r.retry_after_s, 17);
	booking_result_clear(&r);
	a.status = 500;
	a.retry_after = -1;
	booking_fail(b, &r, BHTTP_OK, &a, "x");
	assert_int_equal(r.verdict, BOOKING_RETRY);
	assert_int_equal(r.server_wide, 0);
	/* The answer is bounded whatever the server sends. */
	a.status = 400;
	a.body = xmalloc(100000);
	memset(a.body, 'x', 99999);
	a.body[99999] = '\0';
	a.len = 99999;
	booking_fail(b, &r, BHTTP_OK, &a, "x");
	assert_true(strlen(r.answer) <= BOOKING_ANSWER_MAX);
	free(a.body);
	booking_result_clear(&r);
	booking_free(b);
	/* Syncro is named as itself; unknown kinds and plain http off loopback are refused. */
	o.url = "https://shop.syncromsp.com/api/v1";
	assert_int_equal(booking_new(&o, &b, why, sizeof(why)), BOOKING_OK);
	assert_string_equal(booking_system(b), "Syncro");
	booking_free(b);
	o.kind = "gsx";
	assert_int_equal(booking_new(&o, &b, why, sizeof(why)), BOOKING_E_KIND);
	o.kind = "repairdesk";
	o.url = "http://api.repairdesk.co/api/web/v1";
	assert_int_equal(booking_new(&o, &b, why, sizeof(why)), BOOKING_E_URL);
}

static void
test_retry_after(void **state)
{
	long s = -5;
	time_t now = 1784800000; /* 2026-07-23T09:46:40Z */

	(void)state;
	assert_int_equal(bhttp_parse_retry_after("120", now, &s), 0);
	assert_int_equal(s, 120);
	assert_int_equal(bhttp_parse_retry_after(" 0\r\n", now, &s), 0);
	assert_int_equal(s, 0);
	/* IMF-fixdate 30 s ahead, then the obsolete forms RFC 9110 still requires us to read. */
	assert_int_equal(bhttp_parse_retry_after("Thu, 23 Jul 2026 09:47:10 GMT", now, &s), 0);
	assert_int_equal(s, 30);
	assert_int_equal(bhttp_parse_retry_after("Thursday, 23-Jul-26 09:47:40 GMT", now, &s), 0);
	assert_int_equal(s, 60);
	assert_int_equal(bhttp_parse_retry_after("Thu Jul 23 09:48:40 2026", now, &s), 0);
	assert_int_equal(s, 120);
	/* A date in the past: retry now. */
	assert_int_equal(bhttp_parse_retry_after("Thu, 01 Jan 2026 00:00:00 GMT", now, &s), 0);
	assert_int_equal(s, 0);
	/* Absurdly large: clamped (the caller caps it further). */
	assert_int_equal(bhttp_parse_retry_after("99999999999999999999999", now, &s), 0);
	assert_int_equal(s, 365L * 86400);
	s = 7;
	assert_int_equal(bhttp_parse_retry_after("", now, &s), -1);
	assert_int_equal(bhttp_parse_retry_after("-5", now, &s), -1);
	assert_int_equal(bhttp_parse_retry_after("12abc", now, &s), -1);
	assert_int_equal(bhttp_parse_retry_after("soon", now, &s), -1);
	assert_int_equal(bhttp_parse_retry_after("1.5", now, &s), -1);
	assert_int_equal(s, 7);
}

static void
test_generic_classify(void **state)
{
	static const struct {
		int status, verdict, wide;
	} t[] = {
	    {200, BOOKING_DELIVERED, 0}, {201, BOOKING_DELIVERED, 0}, {204, BOOKING_DELIVERED, 0},
	    {409, BOOKING_DELIVERED, 0}, {429, BOOKING_RETRY, 1},     {500, BOOKING_RETRY, 0},
	    {503, BOOKING_RETRY, 1},     {0, BOOKING_RETRY, 1},       {400, BOOKING_HELD, 0},
	    {401, BOOKING_HELD, 0},      {404, BOOKING_HELD, 0},      {422, BOOKING_HELD, 0},
	    {301, BOOKING_HELD, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int wide = -1;
		assert_int_equal(booking_generic_classify(t[i].status, &wide), t[i].verdict);
		assert_int_equal(wide, t[i].wide);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rate_window),      cmocka_unit_test(test_rate_cancel),
	    cmocka_unit_test(test_rate_threads),     cmocka_unit_test(test_device_ids),
	    cmocka_unit_test(test_poll_rows),        cmocka_unit_test(test_server_message),
	    cmocka_unit_test(test_summary_text),     cmocka_unit_test(test_case_parse),
	    cmocka_unit_test(test_fail_rules),       cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_generic_classify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
