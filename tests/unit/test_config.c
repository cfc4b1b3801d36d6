/* Unit tests: the INI loader's defaults, values, and one-line errors naming file and line. */
#include "config.h"

#include "util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void
expect_error(const char *text, int code, const char *msg)
{
	struct config *cfg = NULL;
	char err[512];

	assert_int_equal(config_load_string("bench.conf", text, &cfg, err, sizeof(err)), code);
	assert_null(cfg);
	assert_string_equal(err, msg);
	assert_null(strchr(err, '\n'));
}

static void
test_defaults(void **state)
{
	struct config *cfg = config_new();
	char *sock;

	(void)state;
	assert_string_equal(cfg->bench_id, "bench-01");
	assert_null(cfg->trees);
	assert_string_equal(cfg->lang, "en");
	assert_int_equal(cfg->syslog_seconds, 5);
	assert_int_equal(cfg->max_sessions, 64);
	assert_string_equal(cfg->upload_url, "");
	assert_int_equal(cfg->drain_seconds, 30);
	assert_int_equal(cfg->upload_timeout, 30);
	assert_int_equal(cfg->retry_min, 5);
	assert_int_equal(cfg->retry_max, 900);
	sock = config_control_socket(cfg, "/var/lib/benchd");
	assert_string_equal(sock, "/var/lib/benchd/control.sock");
	free(sock);
	config_free(cfg);
}

static void
test_full(void **state)
{
	const char *text = "; a bench\n"
	                   "[bench]\n"
	                   "id = desk-7\n"
	                   "trees = battery, panics ,storage\n"
	                   "lang = it\n"
	                   "syslog_seconds = 0\n"
	                   "max_sessions = 16\n"
	                   "\n"
	                   "[upload]\n"
	                   "url = https://cases.example.test/api\n"
	                   "token_file = /etc/benchd/token\n"
	                   "ca_file = /etc/benchd/ca.pem\n"
	                   "[control]\n"
	                   "socket = /run/benchd/control.sock\n";
	struct config *cfg = NULL;
	char err[256];

	(void)state;
	assert_int_equal(config_load_string("x", text, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_string_equal(cfg->bench_id, "desk-7");
	assert_int_equal(cfg->ntrees, 3);
	assert_string_equal(cfg->trees[0], "battery");
	assert_string_equal(cfg->trees[1], "panics");
	assert_string_equal(cfg->trees[2], "storage");
	assert_string_equal(cfg->lang, "it");
	assert_int_equal(cfg->syslog_seconds, 0);
	assert_int_equal(cfg->max_sessions, 16);
	assert_string_equal(cfg->upload_url, "https://cases.example.test/api");
	assert_string_equal(cfg->token_file, "/etc/benchd/token");
	assert_string_equal(cfg->ca_file, "/etc/benchd/ca.pem");
	assert_string_equal(cfg->control_socket, "/run/benchd/control.sock");
	config_free(cfg);

	assert_int_equal(config_load_string("x", "[bench]\ntrees = (all)\n", &cfg, err, sizeof(err)),
	                 CONFIG_OK);
	assert_null(cfg->trees);
	config_free(cfg);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_error("[bench]\nid = a\n\n\n\n[upload]\nurll = https://x\n", CONFIG_E_UNKNOWN,
	             "bench.conf line 7: unknown key 'urll' in [upload]");
	expect_error("[bench]\nmax_sessions = 0\n", CONFIG_E_VALUE,
	             "bench.conf line 2: max_sessions must be a whole number from 1 to 256, not '0'");
	expect_error("[bench]\nsyslog_seconds = 5s\n", CONFIG_E_VALUE,
	             "bench.conf line 2: syslog_seconds must be a whole number from 0 to 600, not '5s'");
	expect_error("[bench]\nlang = de\n", CONFIG_E_VALUE,
	             "bench.conf line 2: lang must be en, it, fr or zh, not 'de'");
	expect_error("[upload]\nurl = ftp://x\n", CONFIG_E_VALUE,
	             "bench.conf line 2: url must start with https://, not 'ftp://x'");
	expect_error(
	    "[benches]\nid = x\n", CONFIG_E_UNKNOWN,
	    "bench.conf line 2: unknown section [benches] (known: bench, shop, web, upload, fleet, control)");
	expect_error("[bench]\nthis line has no equals sign\n", CONFIG_E_SYNTAX,
	             "bench.conf line 2: syntax error: expected '[section]', 'key = value' or a comment");
	/* A syntax error before a bad key: the first problem is the one reported. */
	expect_error("[bench]\ngarbage\nmax_sessions = 999\n", CONFIG_E_SYNTAX,
	             "bench.conf line 2: syntax error: expected '[section]', 'key = value' or a comment");
	expect_error("[bench]\nid = a\nid = b\n", CONFIG_E_VALUE,
	             "bench.conf line 3: key 'id' set twice in [bench]");
	expect_error("id = a\n", CONFIG_E_SYNTAX,
	             "bench.conf line 1: key 'id' outside any section: put it under [bench], [upload] or "
	             "another section");
	expect_error("[bench]\ntrees = battery, b@d\n", CONFIG_E_VALUE,
	             "bench.conf line 2: trees: 'b@d' is not a tree name (letters, digits, '-', '_')");
	expect_error("[control]\nsocket = relative.sock\n", CONFIG_E_VALUE,
	             "bench.conf line 2: socket must be an absolute path, not 'relative.sock'");
}

static void
test_upload_keys(void **state)
{
	struct config *cfg = NULL;
	char err[256];

	(void)state;
	assert_int_equal(
	    config_load_string(
	        "x",
	        "[bench]\ndrain_seconds = 0\n[upload]\ntimeout_seconds = 7\nretry_min_seconds = 1\n"
	        "retry_max_seconds = 60\n",
	        &cfg, err, sizeof(err)),
	    CONFIG_OK);
	assert_int_equal(cfg->drain_seconds, 0);
	assert_int_equal(cfg->upload_timeout, 7);
	assert_int_equal(cfg->retry_min, 1);
	assert_int_equal(cfg->retry_max, 60);
	config_free(cfg);
	expect_error("[upload]\ntimeout_seconds = 0\n", CONFIG_E_VALUE,
	             "bench.conf line 2: timeout_seconds must be a whole number from 1 to 600, not '0'");
	expect_error("[upload]\nretry_max_seconds = -1\n", CONFIG_E_VALUE,
	             "bench.conf line 2: retry_max_seconds must be a whole number from 1 to 86400, not '-1'");
	expect_error("[bench]\ndrain_seconds = x\n", CONFIG_E_VALUE,
	             "bench.conf line 2: drain_seconds must be a whole number from 0 to 3600, not 'x'");
	expect_error("[upload]\nretry_min_seconds = 100\nretry_max_seconds = 10\n", CONFIG_E_VALUE,
	             "bench.conf: retry_min_seconds (100) is larger than retry_max_seconds (10)");
}

/* The keys of the cases, the page, the adapters and the fleet (DESIGN 4.3b, 4.8-4.12). */
static void
test_new_keys(void **state)
{
	struct config *cfg = config_new();
	char err[512];

	(void)state;
	assert_int_equal(cfg->session_timeout, 120);
	assert_int_equal(cfg->require_ticket, 0);
	assert_int_equal(cfg->case_idle_hours, 12);
	assert_string_equal(cfg->web_listen, "127.0.0.1:8470");
	assert_string_equal(cfg->upload_kind, "generic");
	assert_string_equal(cfg->serial_field, "IMEI or S/N");
	assert_int_equal(cfg->poll_seconds, 0);
	assert_int_equal(config_upload_rate(cfg), 0);
	assert_string_equal(cfg->fleet_url, "");
	config_free(cfg);

	assert_int_equal(
	    config_load_string("x",
	                       "[bench]\nsession_timeout_seconds = 30\nrequire_ticket = yes\n"
	                       "case_idle_hours = 2\n[shop]\nname = Riparazioni Rossi\n"
	                       "contact = via Roma 1, 010 555 1234\n[web]\nlisten = \n"
	                       "[upload]\nkind = repairshopr\nurl = https://x.repairshopr.com/api/v1\n"
	                       "poll_seconds = 60\nserial_field = IMEI\n"
	                       "[fleet]\nurl = http://127.0.0.1:8471\ntoken_file = /t\n",
	                       &cfg, err, sizeof(err)),
	    CONFIG_OK);
	assert_int_equal(cfg->session_timeout, 30);
	assert_int_equal(cfg->require_ticket, 1);
	assert_int_equal(cfg->case_idle_hours, 2);
	assert_string_equal(cfg->shop_name, "Riparazioni Rossi");
	assert_string_equal(cfg->web_listen, "");
	assert_string_equal(cfg->upload_kind, "repairshopr");
	assert_int_equal(config_upload_rate(cfg), 150);
	assert_int_equal(cfg->poll_seconds, 60);
	assert_string_equal(cfg->serial_field, "IMEI");
	assert_string_equal(cfg->fleet_url, "http://127.0.0.1:8471");
	config_free(cfg);

	assert_int_equal(
	    config_load_string(
	        "x",
	        "[web]\nlisten = 0.0.0.0:8470\ntoken_file = /etc/benchd/web\nhosts = bench7.local, desk\n",
	        &cfg, err, sizeof(err)),
	    CONFIG_OK);
	assert_int_equal(cfg->nweb_hosts, 2);
	assert_string_equal(cfg->web_hosts[1], "desk");
	config_free(cfg);

	expect_error("[web]\nlisten = 0.0.0.0:8470\n", CONFIG_E_VALUE,
	             "bench.conf: [web] listen 0.0.0.0:8470 is not a loopback address: set [web] token_file "
	             "(the page would be open to the whole network) or listen on 127.0.0.1");
	expect_error("[web]\nlisten = 8470\n", CONFIG_E_VALUE,
	             "bench.conf line 2: listen must be HOST:PORT (e.g. 127.0.0.1:8470 or [::1]:8470) or "
	             "empty for no page, not '8470'");
	expect_error("[upload]\nurl = http://cases.example.test/api\n", CONFIG_E_VALUE,
	             "bench.conf line 2: url must be https:// ('http://cases.example.test/api' would send "
	             "the token and reports unencrypted; plain http:// is accepted only for 127.0.0.1, "
	             "localhost or [::1])");
	expect_error("[upload]\nkind = gsx\n", CONFIG_E_VALUE,
	             "bench.conf line 2: kind must be generic, repairshopr or repairdesk, not 'gsx'");
	expect_error("[bench]\nrequire_ticket = maybe\n", CONFIG_E_VALUE,
	             "bench.conf line 2: require_ticket must be yes or no, not 'maybe'");
	expect_error(
	    "[bench]\nsession_timeout_seconds = 5\n", CONFIG_E_VALUE,
	    "bench.conf line 2: session_timeout_seconds must be a whole number from 10 to 3600, not '5'");
	expect_error("[fleet]\nurl = https://fleet.example.test\n", CONFIG_E_VALUE,
	             "bench.conf: [fleet] url is set but [fleet] token_file is not: benchfleet refuses "
	             "uploads without the bench's token (benchfleet bench add prints it)");
	expect_error("[shop]\nphone = 1\n", CONFIG_E_UNKNOWN,
	             "bench.conf line 2: unknown key 'phone' in [shop]");

	{
		char host[64], why[256];
		int port;
		assert_int_equal(config_parse_listen("[::1]:8470", host, sizeof(host), &port), 0);
		assert_string_equal(host, "::1");
		assert_int_equal(port, 8470);
		assert_true(config_host_is_loopback(host));
		/* Port 0: the kernel picks a free one (tests never use fixed ports). */
		assert_int_equal(config_parse_listen("127.0.0.1:0", host, sizeof(host), &port), 0);
		assert_int_equal(port, 0);
		assert_int_equal(config_parse_listen("127.0.0.1:65536", host, sizeof(host), &port), -1);
		assert_int_equal(config_parse_listen("127.0.0.1:-1", host, sizeof(host), &port), -1);
		assert_false(config_host_is_loopback("10.0.0.1"));
		assert_false(config_host_is_loopback("127.0.0.1.evil.test"));
		assert_int_equal(config_check_url("http://[::1]:9/x", why, sizeof(why)), 0);
		assert_int_equal(config_check_url("http://localhost/x", why, sizeof(why)), 0);
		assert_int_equal(config_check_url("http://127.0.0.1.evil.test/", why, sizeof(why)), -1);
	}
}

static void
test_file(void **state)
{
	char path[] = "/tmp/benchd-conf-XXXXXX";
	struct config *cfg = NULL;
	char err[512];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[bench]\nid = ok\n[upload]\nurll = x\n", 34), 34);
	close(fd);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), CONFIG_E_UNKNOWN);
	char *want = xasprintf("%s line 4: unknown key 'urll' in [upload]", path);
	assert_string_equal(err, want);
	free(want);
	unlink(path);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), CONFIG_E_OPEN);
	assert_non_null(strstr(err, "No such file or directory"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),    cmocka_unit_test(test_full), cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_upload_keys), cmocka_unit_test(test_file), cmocka_unit_test(test_new_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
