/* Unit tests of the bench page's safety rules (agent/web/guard.c), without a server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "guard.h"

static void
test_host(void **state)
{
	char *extra[] = {"bench7.local", "desk"};
	struct guard_hosts h = {.listen_host = "127.0.0.1", .port = 8470, .extra = extra, .nextra = 2};
	struct guard_hosts v6 = {.listen_host = "::1", .port = 8470};
	struct guard_hosts p80 = {.listen_host = "127.0.0.1", .port = 80};

	(void)state;
	assert_true(guard_host_allowed(&h, "127.0.0.1:8470"));
	assert_true(guard_host_allowed(&h, "localhost:8470"));
	assert_true(guard_host_allowed(&h, "LocalHost:8470"));
	assert_true(guard_host_allowed(&h, "[::1]:8470"));
	assert_true(guard_host_allowed(&h, "bench7.local:8470"));
	assert_true(guard_host_allowed(&h, "DESK:8470"));
	assert_true(guard_host_allowed(&v6, "[::1]:8470"));
	/* DNS rebinding: the attacker's name, at our port or without one. */
	assert_false(guard_host_allowed(&h, "evil.test:8470"));
	assert_false(guard_host_allowed(&h, "evil.test"));
	assert_false(guard_host_allowed(&h, "127.0.0.1"));
	assert_false(guard_host_allowed(&h, "127.0.0.1:8471"));
	assert_false(guard_host_allowed(&h, "127.0.0.1:84700"));
	assert_false(guard_host_allowed(&h, "127.0.0.1.evil.test:8470"));
	assert_false(guard_host_allowed(&h, "bench7.local.evil.test:8470"));
	assert_false(guard_host_allowed(&h, "x.bench7.local:8470"));
	assert_false(guard_host_allowed(&h, "127.0.0.2:8470"));
	assert_false(guard_host_allowed(&h, "::1:8470"));
	assert_false(guard_host_allowed(&h, "127.0.0.1:8470 "));
	assert_false(guard_host_allowed(&h, "127.0.0.1:8470\r\nX: y"));
	assert_false(guard_host_allowed(&h, ""));
	assert_false(guard_host_allowed(&h, NULL));
	/* Port 80: a browser leaves it out. */
	assert_true(guard_host_allowed(&p80, "localhost"));
	assert_true(guard_host_allowed(&p80, "127.0.0.1:80"));
}

static void
test_origin(void **state)
{
	(void)state;
	assert_true(guard_origin_same("http://127.0.0.1:8470", "127.0.0.1:8470"));
	assert_true(guard_origin_same("http://LOCALHOST:8470", "localhost:8470"));
	assert_false(guard_origin_same("http://localhost:8470", "127.0.0.1:8470"));
	assert_false(guard_origin_same("https://127.0.0.1:8470", "127.0.0.1:8470"));
	assert_false(guard_origin_same("http://127.0.0.1:8470/", "127.0.0.1:8470"));
	assert_false(guard_origin_same("http://evil.test", "127.0.0.1:8470"));
	assert_false(guard_origin_same("null", "127.0.0.1:8470"));
	assert_false(guard_origin_same(NULL, "127.0.0.1:8470"));
	assert_false(guard_origin_same("http://", ""));
}

static void
test_token(void **state)
{
	(void)state;
	assert_true(guard_equal("abc", "abc"));
	assert_false(guard_equal("abd", "abc"));
	assert_false(guard_equal("ab", "abc"));
	assert_false(guard_equal("abcd", "abc"));
	assert_false(guard_equal(NULL, "abc"));
	assert_true(guard_token_ok("Bearer s3cret", NULL, "s3cret"));
	assert_true(guard_token_ok("bearer  s3cret", NULL, "s3cret"));
	assert_false(guard_token_ok("Bearer s3cre", NULL, "s3cret"));
	assert_false(guard_token_ok("Basic s3cret", NULL, "s3cret"));
	assert_true(guard_token_ok(NULL, "a=1; benchd_token=s3cret; b=2", "s3cret"));
	assert_true(guard_token_ok(NULL, "benchd_token=s3cret", "s3cret"));
	assert_false(guard_token_ok(NULL, "xbenchd_token=s3cret", "s3cret"));
	assert_false(guard_token_ok(NULL, "benchd_token=s3cretX", "s3cret"));
	assert_false(guard_token_ok(NULL, "benchd_token=", "s3cret"));
	assert_false(guard_token_ok("Bearer ", "benchd_token=", ""));
	assert_false(guard_token_ok(NULL, NULL, "s3cret"));
}

static void
test_random_and_ident(void **state)
{
	char a[44], b[44];

	(void)state;
	assert_int_equal(guard_random_token(a), 0);
	assert_int_equal(guard_random_token(b), 0);
	assert_int_equal(strlen(a), 43);
	assert_string_not_equal(a, b);
	for (size_t i = 0; i < 43; i++)
		assert_non_null(
		    strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", a[i]));
	assert_true(guard_ident("00008030-001A35E21A05802E", 128));
	assert_true(guard_ident("F2LZK0ABN72J", 128));
	assert_false(guard_ident("..", 128));
	assert_false(guard_ident(".", 128));
	assert_false(guard_ident("a/b", 128));
	assert_false(guard_ident("a b", 128));
	assert_false(guard_ident("", 128));
	assert_false(guard_ident("abcdef", 5));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_host),
	    cmocka_unit_test(test_origin),
	    cmocka_unit_test(test_token),
	    cmocka_unit_test(test_random_and_ident),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
