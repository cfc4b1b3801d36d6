/* Unit tests: log prefixes, levels, errno preservation, one line per call. */
#include "log.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char out[4096];

static void
capture(void (*fn)(void))
{
	int p[2];
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	log_set_fd(p[1]);
	fn();
	log_set_fd(-1);
	close(p[1]);
	n = read(p[0], out, sizeof(out) - 1);
	close(p[0]);
	out[n < 0 ? 0 : n] = '\0';
}

static void
emit_info(void)
{
	log_info("plugged %d devices", 3);
}

static void
emit_device(void)
{
	log_set_device("00008030-001A35E21A05802E");
	log_warnx("battery gauge silent");
	log_set_device(NULL);
	log_info("after");
}

static void
emit_errno(void)
{
	errno = ENOENT;
	log_warn("open %s", "/nope");
	assert_int_equal(errno, ENOENT); /* preserved */
}

static void
emit_debug(void)
{
	log_debug("hidden");
	log_info("shown");
}

static void
test_prefix(void **state)
{
	(void)state;
	log_init("/usr/bin/benchd", LOG_LEVEL_INFO);
	capture(emit_info);
	assert_string_equal(out, "benchd: info: plugged 3 devices\n");
}

static void
test_device_tag(void **state)
{
	(void)state;
	log_init("benchd", LOG_LEVEL_INFO);
	capture(emit_device);
	assert_string_equal(out, "benchd[00008030-001A35E21A05802E]: warning: battery gauge silent\n"
	                         "benchd: info: after\n");
}

static void
test_errno(void **state)
{
	(void)state;
	log_init("benchctl", LOG_LEVEL_INFO);
	capture(emit_errno);
	assert_string_equal(out, "benchctl: warning: open /nope: No such file or directory\n");
}

static void
test_level(void **state)
{
	(void)state;
	log_init("benchd", LOG_LEVEL_INFO);
	capture(emit_debug);
	assert_string_equal(out, "benchd: info: shown\n");
}

static void
emit_long(void)
{
	char big[5000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("%s", big);
}

static void
test_long_line_truncated_one_line(void **state)
{
	(void)state;
	log_init("benchd", LOG_LEVEL_INFO);
	capture(emit_long);
	/* cut to the line buffer, still exactly one line ending in a newline */
	assert_int_equal(strlen(out), 2047);
	assert_ptr_equal(strchr(out, '\n'), out + 2046);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prefix),
	    cmocka_unit_test(test_device_tag),
	    cmocka_unit_test(test_errno),
	    cmocka_unit_test(test_level),
	    cmocka_unit_test(test_long_line_truncated_one_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
