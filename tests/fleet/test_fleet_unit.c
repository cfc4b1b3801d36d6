/* Unit tests of benchfleet's pure parts: the configuration's values and one-line errors, the
 * alert test's p-values (against exact values computed with integer binomials), --at. */
#include "analytics.h"
#include "fleetconf.h"
#include "stats.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void
expect_error(const char *text, int code, const char *msg)
{
	struct fleetconf *c = NULL;
	char err[512];

	assert_int_equal(fleetconf_load_string("fleet.conf", text, &c, err, sizeof(err)), code);
	assert_null(c);
	assert_string_equal(err, msg);
}

static void
test_config(void **state)
{
	struct fleetconf *c = NULL;
	char err[512];

	(void)state;
	assert_int_equal(fleetconf_load_string("fleet.conf", "", &c, err, sizeof(err)), FLEETCONF_OK);
	assert_string_equal(c->listen, "127.0.0.1:8471");
	assert_string_equal(c->host, "127.0.0.1");
	assert_int_equal(c->port, 8471);
	assert_string_equal(c->conninfo, "");
	assert_int_equal(c->max_connections, 256);
	assert_int_equal(c->timeout_s, 30);
	assert_int_equal(c->threads, 16);
	fleetconf_free(c);

	assert_int_equal(
	    fleetconf_load_string("fleet.conf",
	                          "[db]\nconninfo = host=/run/postgresql dbname=benchfleet\n"
	                          "[http]\nlisten = [::]:0\ntls_cert = /c.pem\ntls_key = /k.pem\n"
	                          "threads = 8\ntimeout_seconds = 5\nmax_connections = 20\n",
	                          &c, err, sizeof(err)),
	    FLEETCONF_OK);
	assert_string_equal(c->conninfo, "host=/run/postgresql dbname=benchfleet");
	assert_string_equal(c->host, "::");
	assert_int_equal(c->port, 0);
	assert_int_equal(c->threads, 8);
	assert_int_equal(c->timeout_s, 5);
	assert_int_equal(c->max_connections, 20);
	fleetconf_free(c);

	expect_error("[db]\nconninfo = x\n[http]\nlistn = 1\n", FLEETCONF_E_UNKNOWN,
	             "fleet.conf line 4: unknown key 'listn' in [http] (known: listen, tls_cert, tls_key, "
	             "api_token_file, max_connections, timeout_seconds, threads)");
	expect_error("[web]\nlisten = 1\n", FLEETCONF_E_UNKNOWN,
	             "fleet.conf line 2: unknown section [web] (known: db, http)");
	expect_error(
	    "[http]\nlisten = 127.0.0.1\n", FLEETCONF_E_VALUE,
	    "fleet.conf line 2: listen must be HOST:PORT (e.g. 127.0.0.1:8471, 0.0.0.0:8471 or [::]:8471), "
	    "not '127.0.0.1'");
	expect_error("[http]\nthreads = 0\n", FLEETCONF_E_VALUE,
	             "fleet.conf line 2: threads must be a whole number from 1 to 64, not '0'");
	expect_error("[http]\ntls_cert = /c.pem\n", FLEETCONF_E_VALUE,
	             "fleet.conf: [http] tls_cert and tls_key go together: set both for HTTPS, or neither");
	expect_error(
	    "[http]\nlisten = 0.0.0.0:8471\n", FLEETCONF_E_VALUE,
	    "fleet.conf: [http] listen 0.0.0.0:8471 is not a loopback address: set tls_cert and tls_key "
	    "(bench tokens and reports would cross the network unencrypted)");
	expect_error("[db]\nconninfo = a\nconninfo = b\n", FLEETCONF_E_VALUE,
	             "fleet.conf line 3: key 'conninfo' set twice in [db]");
	expect_error("conninfo = a\n", FLEETCONF_E_SYNTAX,
	             "fleet.conf line 1: key 'conninfo' outside any section: put it under [db] or [http]");
	expect_error("[db]\nwhat\n", FLEETCONF_E_SYNTAX,
	             "fleet.conf line 2: syntax error: expected '[section]', 'key = value' or a comment");
}

static void
close_to(double got, double want)
{
	if (fabs(got - want) > 1e-9 * want + 1e-300) {
		fprintf(stderr, "p = %.17g, want %.17g\n", got, want);
		fail();
	}
}

static void
test_fisher(void **state)
{
	double p;

	(void)state;
	/* Exact values: sum of C(m,x) C(N-m,n-x) / C(N,n) over x >= k, in integers (Python math.comb). */
	close_to(stats_fisher_greater(10, 30, 2, 30), 0.01057262317176715);
	close_to(stats_fisher_greater(5, 40, 16, 320), 0.06970777477478585);
	close_to(stats_fisher_greater(9, 40, 12, 320), 0.0001164577954581757);
	close_to(stats_fisher_greater(5, 10, 0, 500), 8.938643979254089e-10);
	close_to(stats_fisher_greater(30, 1000, 150, 8000), 0.014837137238606492);
	close_to(stats_fisher_greater(40, 200, 100, 1600), 2.050326673435018e-09);
	assert_true(stats_fisher_greater(0, 10, 3, 50) == 1.0);
	assert_true(stats_fisher_greater(3, 0, 3, 50) == 1.0);
	assert_true(stats_fisher_greater(3, 10, 3, 0) == 1.0);

	/* The alert rule: p < 0.01, at least 5 recent cases with the code, and a higher rate. */
	assert_true(stats_is_alert(9, 40, 12, 320, &p));
	assert_false(stats_is_alert(5, 40, 16, 320, &p)); /* p = 0.07 */
	assert_false(stats_is_alert(4, 4, 0, 500, &p));   /* 4 < 5 cases, however unlikely */
	assert_true(p < 0.01);
	assert_true(stats_is_alert(5, 10, 0, 500, &p));
	assert_false(stats_is_alert(20, 100, 200, 800, &p)); /* 20 % against 25 %: not above */
	assert_false(stats_is_alert(9, 40, 12, 0, &p));      /* no baseline */

	/* The binomial comparison test: P(X >= 2), X ~ Bin(3, 0.5) = 0.5. */
	close_to(stats_binom_greater(2, 3, 0.5), 0.5);
	close_to(stats_binom_greater(5, 40, 12.0 / 320), 0.01636965504769319);
}

static void
test_at(void **state)
{
	time_t t;

	(void)state;
	assert_int_equal(analytics_parse_at("2026-11-30", &t), 0);
	assert_int_equal((long long)t, 1796083199LL); /* 2026-11-30T23:59:59Z */
	assert_int_equal(analytics_parse_at("2026-11-30T18:00:00Z", &t), 0);
	assert_int_equal((long long)t, 1796061600LL);
	assert_int_equal(analytics_parse_at("2026-11-30T19:00:00+01:00", &t), 0);
	assert_int_equal((long long)t, 1796061600LL);
	assert_int_equal(analytics_parse_at("30/11/2026", &t), -1);
	assert_int_equal(analytics_parse_at("2026-11-30x", &t), -1);
	assert_int_equal(analytics_parse_at("", &t), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config),
	    cmocka_unit_test(test_fisher),
	    cmocka_unit_test(test_at),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
