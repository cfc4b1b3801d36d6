/* Unit tests: capped file reads, atomic writes, mkdir -p, RFC 3339, state directory. */
#include "util.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[] = "/tmp/benchd-util-XXXXXX";

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	(void)state;
	int r = system(cmd);
	free(cmd);
	return r == 0 ? 0 : -1;
}

static void
test_write_read(void **state)
{
	char *p = xasprintf("%s/a/b/file", dir), *d = xasprintf("%s/a/b", dir);
	char *data;
	size_t len;
	struct stat st;

	(void)state;
	assert_int_equal(util_mkdir_p(d, 0700), 0);
	assert_int_equal(util_mkdir_p(d, 0700), 0); /* again: fine */
	assert_int_equal(util_write_file_atomic(p, "abc", 3, 0600), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(util_read_file(p, 3, &data, &len), 0);
	assert_int_equal(len, 3);
	assert_string_equal(data, "abc");
	free(data);
	errno = 0;
	assert_int_equal(util_read_file(p, 2, &data, &len), -1); /* over the cap */
	assert_int_equal(errno, EFBIG);
	assert_int_equal(util_read_file(d, 100, &data, &len), -1);
	assert_int_equal(errno, EISDIR);
	free(p);
	free(d);
}

static void
test_big_file_cap(void **state)
{
	char *p = xasprintf("%s/big", dir);
	char *block = xcalloc(1, 100000), *data;
	size_t len;

	(void)state;
	assert_int_equal(util_write_file_atomic(p, block, 100000, 0644), 0);
	assert_int_equal(util_read_file(p, 100000, &data, &len), 0);
	assert_int_equal(len, 100000);
	free(data);
	assert_int_equal(util_read_file(p, 99999, &data, &len), -1);
	free(block);
	free(p);
}

static void
test_rfc3339(void **state)
{
	char s[32];
	time_t t;

	(void)state;
	util_rfc3339(1795000000, s, sizeof(s));
	assert_string_equal(s, "2026-11-18T11:06:40Z");
	assert_int_equal(util_parse_rfc3339(s, &t), 0);
	assert_int_equal(t, 1795000000);
	assert_int_equal(util_parse_rfc3339("2026-11-18T12:06:40.123+01:00", &t), 0);
	assert_int_equal(t, 1795000000);
	assert_int_equal(util_parse_rfc3339("2026-11-18 09:26:40", &t), -1);
	assert_int_equal(util_parse_rfc3339("2026-11-18T09:26:40Zjunk", &t), -1);
	assert_int_equal(util_parse_rfc3339("", &t), -1);
}

static void
test_state_dir(void **state)
{
	char *s;

	(void)state;
	s = util_state_dir("/x");
	assert_string_equal(s, "/x");
	free(s);
	setenv("BENCHD_STATE_DIR", "/from/env", 1);
	s = util_state_dir(NULL);
	assert_string_equal(s, "/from/env");
	free(s);
	unsetenv("BENCHD_STATE_DIR");
	if (geteuid() != 0) {
		setenv("XDG_STATE_HOME", "/xdg", 1);
		s = util_state_dir(NULL);
		assert_string_equal(s, "/xdg/benchd");
		free(s);
	} else {
		s = util_state_dir(NULL);
		assert_string_equal(s, "/var/lib/benchd");
		free(s);
	}
}

static void
test_strlcpy(void **state)
{
	char small[4];

	(void)state;
	assert_int_equal(util_strlcpy(small, "abcdef", sizeof(small)), 6);
	assert_string_equal(small, "abc");
}

static void
test_strlcat(void **state)
{
	char buf[8] = "ab";

	(void)state;
	assert_int_equal(util_strlcat(buf, "cd", sizeof(buf)), 4);
	assert_string_equal(buf, "abcd");
	assert_int_equal(util_strlcat(buf, "efghij", sizeof(buf)), 10); /* what it would have been */
	assert_string_equal(buf, "abcdefg");                            /* what fits, terminated */
	assert_int_equal(util_strlcat(buf, "x", sizeof(buf)), 8);
	assert_string_equal(buf, "abcdefg");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_read), cmocka_unit_test(test_big_file_cap),
	    cmocka_unit_test(test_rfc3339),    cmocka_unit_test(test_state_dir),
	    cmocka_unit_test(test_strlcpy),    cmocka_unit_test(test_strlcat),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
