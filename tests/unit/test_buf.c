/* Unit tests: the bounded buffer never passes its cap and keeps what it had. */
#include "buf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void
test_append_and_take(void **state)
{
	struct buf b;
	char *s;
	size_t n;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_addstr(&b, "hello"), BUF_OK);
	assert_int_equal(buf_printf(&b, " %d", 42), BUF_OK);
	assert_string_equal(b.data, "hello 42");
	s = buf_take(&b, &n);
	assert_int_equal(n, 8);
	assert_string_equal(s, "hello 42");
	assert_null(b.data);
	free(s);
}

static void
test_cap(void **state)
{
	struct buf b;
	char big[100];

	(void)state;
	memset(big, 'a', sizeof(big));
	buf_init(&b, 10);
	assert_int_equal(buf_add(&b, big, 10), BUF_OK);
	assert_int_equal(buf_add(&b, big, 1), BUF_E_TOO_BIG);
	assert_int_equal(b.len, 10); /* kept */
	assert_int_equal(buf_printf(&b, "%s", "x"), BUF_E_TOO_BIG);
	assert_int_equal(buf_add(&b, big, (size_t)-1), BUF_E_TOO_BIG); /* no overflow */
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_add(&b, big, 5), BUF_OK);
	buf_free(&b);
	assert_string_equal(buf_strerror(BUF_E_TOO_BIG), "data larger than its limit");
}

static void
test_take_empty(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b, 10);
	s = buf_take(&b, NULL);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_append_and_take),
	    cmocka_unit_test(test_cap),
	    cmocka_unit_test(test_take_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
