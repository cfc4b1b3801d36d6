/* Unit tests of drivers/idevice/normalize.c and drivers/common/models.c (cmocka). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "models.h"
#include "normalize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *
battery_from(const char *json_entry, const char *source)
{
	json_error_t e;
	json_t *entry = json_loads(json_entry, 0, &e), *b;

	assert_non_null(entry);
	b = norm_battery(entry, source, NULL);
	json_decref(entry);
	return b;
}

static int
has_flag(const json_t *b, const char *f)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(b, "flags"), i, v)
	{
		if (strcmp(json_string_value(v), f) == 0)
			return 1;
	}
	return 0;
}

static void
test_battery_normal(void **st)
{
	json_t *b = battery_from("{\"DesignCapacity\":3110,\"NominalChargeCapacity\":2900,"
	                         "\"AppleRawMaxCapacity\":2950,\"CycleCount\":312,\"Temperature\":3010,"
	                         "\"Voltage\":4123,\"InstantAmperage\":-211,\"IsCharging\":false,"
	                         "\"Serial\":\"F5D123\"}",
	                         "AppleSmartBattery");
	(void)st;
	assert_int_equal(json_integer_value(json_object_get(b, "design_capacity_mah")), 3110);
	assert_int_equal(json_integer_value(json_object_get(b, "nominal_capacity_mah")), 2900);
	assert_int_equal(json_integer_value(json_object_get(b, "raw_max_capacity_mah")), 2950);
	/* 2900/3110 = 93.25 % -> ceil -> 94 (Apple's figure) */
	assert_int_equal(json_integer_value(json_object_get(b, "health_pct")), 94);
	assert_int_equal(json_integer_value(json_object_get(b, "cycle_count")), 312);
	assert_true(json_real_value(json_object_get(b, "temperature_c")) > 30.09 &&
	            json_real_value(json_object_get(b, "temperature_c")) < 30.11);
	assert_int_equal(json_integer_value(json_object_get(b, "voltage_mv")), 4123);
	assert_int_equal(json_integer_value(json_object_get(b, "amperage_ma")), -211);
	assert_true(json_is_false(json_object_get(b, "is_charging")));
	assert_string_equal(json_string_value(json_object_get(b, "serial")), "F5D123");
	assert_string_equal(json_string_value(json_object_get(b, "source")), "AppleSmartBattery");
	assert_int_equal(json_array_size(json_object_get(b, "flags")), 0);
	json_decref(b);
}

static void
test_battery_health_exact(void **st)
{
	/* exactly 80 % must stay 80 (no float rounding up to 81) */
	json_t *b = battery_from("{\"DesignCapacity\":2500,\"NominalChargeCapacity\":2000}", NULL);
	(void)st;
	assert_int_equal(json_integer_value(json_object_get(b, "health_pct")), 80);
	json_decref(b);
	b = battery_from("{\"DesignCapacity\":3110,\"NominalChargeCapacity\":2380}", NULL);
	assert_int_equal(json_integer_value(json_object_get(b, "health_pct")), 77); /* 76.53 -> 77 */
	json_decref(b);
}

static void
test_battery_nonsense(void **st)
{
	json_t *b = battery_from("{\"DesignCapacity\":0,\"NominalChargeCapacity\":2900,\"CycleCount\":-5,"
	                         "\"Temperature\":25000,\"Voltage\":0}",
	                         "AppleSmartBattery");
	(void)st;
	assert_null(json_object_get(b, "design_capacity_mah"));
	assert_null(json_object_get(b, "health_pct"));
	assert_null(json_object_get(b, "cycle_count"));
	assert_null(json_object_get(b, "temperature_c"));
	assert_null(json_object_get(b, "voltage_mv"));
	assert_true(has_flag(b, "design_capacity_invalid"));
	assert_true(has_flag(b, "cycle_count_invalid"));
	assert_true(has_flag(b, "temperature_invalid"));
	assert_true(has_flag(b, "voltage_invalid"));
	assert_false(has_flag(b, "gauge_missing"));
	json_decref(b);

	/* nominal three times the design: not a health anyone can trust */
	b = battery_from("{\"DesignCapacity\":1000,\"NominalChargeCapacity\":3000}", NULL);
	assert_null(json_object_get(b, "health_pct"));
	assert_null(json_object_get(b, "nominal_capacity_mah"));
	assert_true(has_flag(b, "nominal_capacity_invalid"));
	json_decref(b);

	/* strings where numbers belong */
	b = battery_from("{\"DesignCapacity\":\"3110\",\"CycleCount\":1.5,\"Temperature\":-4500}", NULL);
	assert_true(has_flag(b, "design_capacity_invalid"));
	assert_true(has_flag(b, "cycle_count_invalid"));
	assert_true(has_flag(b, "temperature_invalid"));
	json_decref(b);
}

static void
test_battery_missing(void **st)
{
	json_t *b = norm_battery(NULL, "AppleSmartBattery", NULL), *e;
	json_error_t je;
	(void)st;
	assert_true(has_flag(b, "gauge_missing"));
	assert_null(json_object_get(b, "health_pct"));
	json_decref(b);
	e = json_object();
	b = norm_battery(e, "AppleSmartBattery", NULL);
	assert_true(has_flag(b, "gauge_missing"));
	json_decref(b);
	json_decref(e);
	/* only noise keys */
	e = json_loads("{\"AdapterDetails\":{}}", 0, &je);
	b = norm_battery(e, "IOPMPowerSource", NULL);
	assert_true(has_flag(b, "gauge_missing"));
	json_decref(b);
	json_decref(e);
}

static void
test_battery_armpmu(void **st)
{
	/* old gauges: MaxCapacity in mAh when NominalChargeCapacity is absent */
	json_t *b = battery_from("{\"DesignCapacity\":1960,\"MaxCapacity\":1700,\"CycleCount\":800}",
	                         "AppleARMPMUCharger");
	(void)st;
	assert_int_equal(json_integer_value(json_object_get(b, "nominal_capacity_mah")), 1700);
	assert_int_equal(json_integer_value(json_object_get(b, "health_pct")), 87); /* 86.7 -> 87 */
	assert_string_equal(json_string_value(json_object_get(b, "source")), "AppleARMPMUCharger");
	json_decref(b);
	/* but a MaxCapacity of 100 (a percentage) is never a capacity */
	b = battery_from("{\"DesignCapacity\":1960,\"MaxCapacity\":100}", "AppleARMPMUCharger");
	assert_null(json_object_get(b, "health_pct"));
	json_decref(b);
}

static void
test_plist_signed(void **st)
{
	/* libplist 2.2 stores -211 as an unsigned two's complement; we must read -211 */
	plist_t d = plist_new_dict();
	json_t *j;
	(void)st;
	plist_dict_set_item(d, "InstantAmperage", plist_new_uint((uint64_t)-211));
	plist_dict_set_item(d, "Temperature", plist_new_uint(3010));
	plist_dict_set_item(d, "Blob", plist_new_data("\x00\x01\x02", 3));
	plist_dict_set_item(d, "When", plist_new_date(0, 0));
	plist_dict_set_item(d, "Bad", plist_new_string("caf\xc3\xa9 \xff\xfe"));
	j = norm_plist_to_json(d);
	plist_free(d);
	assert_int_equal(json_integer_value(json_object_get(j, "InstantAmperage")), -211);
	assert_int_equal(json_integer_value(json_object_get(j, "Temperature")), 3010);
	assert_string_equal(json_string_value(json_object_get(j, "Blob")), "AAEC");
	assert_string_equal(json_string_value(json_object_get(j, "When")), "2001-01-01T00:00:00Z");
	/* invalid UTF-8 replaced, valid kept */
	assert_non_null(strstr(json_string_value(json_object_get(j, "Bad")), "caf\xc3\xa9"));
	assert_non_null(strstr(json_string_value(json_object_get(j, "Bad")), "\xef\xbf\xbd"));
	json_decref(j);
}

static void
test_plist_bytes_garbage(void **st)
{
	static const char *bad[] = {"", "bplist00", "bplist00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
	                            "<?xml version=\"1.0\"?><plist><dict><key>a</key>",
	                            "<plist><array><integer>1"};
	char deep[4096];
	json_t *j;
	size_t o = 0;
	/* found by fuzz_plist: a raw NUL inside an XML <string> (or <key>) made libplist's
	 * plist_get_string_val / plist_get_key_val abort the program */
	static const char nul[] = "<?xml version=\"1.0\"?><plist><dict><key>k</key><string>a\0\0b</string>"
	                          "</dict></plist>";
	(void)st;
	static const char nulkey[] = "<?xml version=\"1.0\"?><plist><dict><key>k\0x</key><string>v</string>"
	                             "</dict></plist>";
	j = norm_plist_bytes_to_json(nulkey, sizeof(nulkey) - 1);
	assert_non_null(j);
	json_decref(j);
	j = norm_plist_bytes_to_json(nul, sizeof(nul) - 1);
	assert_non_null(j);
	assert_true(strncmp(json_string_value(json_object_get(j, "k")), "a", 1) == 0);
	json_decref(j);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = norm_plist_bytes_to_json(bad[i], strlen(bad[i]));
		json_decref(j); /* any result, never a crash */
	}
	/* nesting deeper than the cap becomes null instead of recursing without end */
	o += (size_t)snprintf(deep + o, sizeof(deep) - o, "<?xml version=\"1.0\"?><plist>");
	for (int i = 0; i < 100; i++)
		o += (size_t)snprintf(deep + o, sizeof(deep) - o, "<array>");
	for (int i = 0; i < 100; i++)
		o += (size_t)snprintf(deep + o, sizeof(deep) - o, "</array>");
	snprintf(deep + o, sizeof(deep) - o, "</plist>");
	j = norm_plist_bytes_to_json(deep, strlen(deep));
	if (j) {
		json_t *x = j;
		int depth = 0;
		while (json_is_array(x) && json_array_size(x) > 0) {
			x = json_array_get(x, 0);
			depth++;
		}
		assert_true(depth <= NORM_MAX_DEPTH + 1);
	}
	json_decref(j);
}

/* Every input that once crashed a fuzzer is replayed here, under ctest. */
static void
test_fuzz_regressions(void **st)
{
	static const char *files[] = {
	    "fuzz_plist/regress-nul-in-string", "fuzz_plist/regress-nul-in-binary-key",
	    "fuzz_crash/regress-nul-in-plist-string", "fuzz_crash/regress-short-plist-prefix",
	    "fuzz_crash/regress-all-whitespace"};
	(void)st;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[512], why[256], *d = malloc(1 << 20);
		FILE *f;
		size_t n;
		json_t *j;

		snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/%s", BENCHD_SOURCE_DIR, files[i]);
		f = fopen(path, "rb");
		assert_non_null(f);
		n = fread(d, 1, 1 << 20, f);
		fclose(f);
		j = norm_plist_bytes_to_json(d, n);
		json_decref(j);
		j = norm_crash_parse("x", d, n, n, why, sizeof(why));
		json_decref(j);
		free(d);
	}
}

static void
test_device_storage_models(void **st)
{
	char why[256];
	struct models *m = models_load(BENCHD_SOURCE_DIR "/diag-trees/models.json", why, sizeof(why));
	json_error_t e;
	json_t *root = json_loads("{\"UniqueDeviceID\":\"00008030-001A35E21A05802E\",\"SerialNumber\":"
	                          "\"F2LX\",\"ProductType\":\"iPhone12,1\",\"ProductVersion\":\"16.7.2\","
	                          "\"BuildVersion\":\"20H115\",\"UniqueChipID\":7377594609926190}",
	                          0, &e),
	       *dev = json_object(), *du, *s;
	(void)st;
	assert_non_null(m);
	norm_device(dev, root, m);
	assert_string_equal(json_string_value(json_object_get(dev, "model_name")), "iPhone 11");
	assert_string_equal(json_string_value(json_object_get(dev, "ios_version")), "16.7.2");
	assert_string_equal(json_string_value(json_object_get(dev, "ecid")), "0x1A35E21A05802E");
	assert_string_equal(models_by_chip(m, 0x8030, 0x04), "iPhone12,1");
	assert_string_equal(models_by_chip(m, 0x8130, 0x04), "iPhone16,1");
	assert_null(models_by_chip(m, 0x8030, 0x99));
	assert_null(models_name(m, "iPhone99,9"));
	json_decref(root);
	json_decref(dev);
	models_free(m);
	assert_null(models_load("/nonexistent/models.json", why, sizeof(why)));
	assert_non_null(strstr(why, "/nonexistent/models.json"));

	du = json_loads("{\"TotalDiskCapacity\":128000000000,\"TotalDataAvailable\":5000000000}", 0, &e);
	s = norm_storage(du);
	assert_int_equal(json_integer_value(json_object_get(s, "total_bytes")), 128000000000LL);
	assert_int_equal(json_integer_value(json_object_get(s, "available_bytes")), 5000000000LL);
	json_decref(s);
	json_decref(du);
	/* more free than the disk: the free figure is dropped */
	du = json_loads("{\"TotalDiskCapacity\":100,\"TotalDataAvailable\":500}", 0, &e);
	s = norm_storage(du);
	assert_null(json_object_get(s, "available_bytes"));
	json_decref(s);
	json_decref(du);
}

static void
test_timestamp(void **st)
{
	char out[40];
	(void)st;
	assert_int_equal(norm_timestamp("2026-11-20 10:10:10.00 +0100", out, sizeof(out)), 0);
	assert_string_equal(out, "2026-11-20T09:10:10Z");
	assert_int_equal(norm_timestamp("2021-07-19 06:34:05.63 -0700", out, sizeof(out)), 0);
	assert_string_equal(out, "2021-07-19T13:34:05Z");
	assert_int_equal(norm_timestamp("2026-11-20T10:10:10Z", out, sizeof(out)), 0);
	assert_string_equal(out, "2026-11-20T10:10:10Z");
	assert_int_equal(norm_timestamp("2026-11-20T10:10:10+05:30", out, sizeof(out)), 0);
	assert_string_equal(out, "2026-11-20T04:40:10Z");
	assert_int_equal(norm_timestamp("2026-11-20 10:10:10", out, sizeof(out)), -1); /* no zone */
	assert_int_equal(norm_timestamp("2026-13-20 10:10:10 +0000", out, sizeof(out)), -1);
	assert_int_equal(norm_timestamp("yesterday", out, sizeof(out)), -1);
	assert_int_equal(norm_timestamp("", out, sizeof(out)), -1);
	assert_int_equal(norm_timestamp("2026-11-20 10:10:10 +0100 trailing", out, sizeof(out)), -1);
}

static json_t *
crash(const char *name, const char *data, size_t file_size, char *why)
{
	return norm_crash_parse(name, data, strlen(data), file_size ? file_size : strlen(data), why, 256);
}

static void
test_crash_ips_json(void **st)
{
	char why[256];
	json_t *c = crash(
	    "panic-full-2026-11-20-101010.000.ips",
	    "{\"bug_type\":\"210\",\"timestamp\":\"2026-11-20 10:10:10.00 +0100\",\"os_version\":\"iPhone OS "
	    "16.7.2 (20H115)\"}\n{\"build\":\"iPhone OS 16.7.2\",\"product\":\"iPhone12,1\",\"panicString\":"
	    "\"panic(cpu 1 caller 0x1): userspace watchdog timeout\\nMissing sensor(s): prs0\"}",
	    0, why);
	(void)st;
	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "bug_type")), "210");
	assert_string_equal(json_string_value(json_object_get(c, "timestamp")), "2026-11-20T09:10:10Z");
	assert_string_equal(json_string_value(json_object_get(c, "product")), "iPhone12,1");
	assert_string_equal(json_string_value(json_object_get(c, "format")), "ips");
	assert_string_equal(json_string_value(json_object_get(c, "panic_string")),
	                    "panic(cpu 1 caller 0x1): userspace watchdog timeout\nMissing sensor(s): prs0");
	assert_true(json_is_false(json_object_get(c, "truncated")));
	json_decref(c);
}

static void
test_crash_force_reset(void **st)
{
	char why[256];
	/* force-reset reports keep their text under "string" (and it wins over panicString) */
	json_t *c = crash(
	    "ForceReset-full.ips",
	    "{\"bug_type\":151,\"timestamp\":\"2026-11-12 08:30:15.00 +0100\"}\n{\"product\":\"iPhone16,1\","
	    "\"string\":\"panic(cpu 1 caller 0x2): btn_rst\",\"panicString\":\"other\"}",
	    0, why);
	(void)st;
	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "bug_type")), "151");
	assert_string_equal(json_string_value(json_object_get(c, "panic_string")),
	                    "panic(cpu 1 caller 0x2): btn_rst");
	json_decref(c);
}

static void
test_crash_ips_text(void **st)
{
	char why[256];
	json_t *c = crash("panic-full.ips",
	                  "{\"bug_type\":\"210\",\"timestamp\":\"2019-01-01 00:00:00.00 +0000\"}\npanic(cpu "
	                  "0 caller 0x3): i2c0 error\n",
	                  0, why);
	(void)st;
	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "format")), "ips-text");
	assert_non_null(strstr(json_string_value(json_object_get(c, "panic_string")), "i2c0 error"));
	json_decref(c);
}

static void
test_crash_plist(void **st)
{
	char why[256];
	json_t *c =
	    crash("panic-base.plist",
	          "<?xml version=\"1.0\" encoding=\"UTF-8\"?><plist version=\"1.0\"><dict><key>bug_type</key>"
	          "<string>110</string><key>timestamp</key><string>2026-11-17 22:41:09.00 +0100</string>"
	          "<key>description</key><string>SMC PANIC - ASSERT FAILED</string></dict></plist>",
	          0, why);
	(void)st;
	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "format")), "plist");
	assert_string_equal(json_string_value(json_object_get(c, "bug_type")), "110");
	assert_string_equal(json_string_value(json_object_get(c, "timestamp")), "2026-11-17T21:41:09Z");
	assert_string_equal(json_string_value(json_object_get(c, "panic_string")),
	                    "SMC PANIC - ASSERT FAILED");
	json_decref(c);
}

static void
test_crash_junk(void **st)
{
	static const char *junk[] = {"hello world",
	                             "{not json\n{}",
	                             "[1,2]\n{}",
	                             "\x00\x01\x02\x03",
	                             "bplist00garbagegarbage",
	                             "<?xml version=\"1.0\"?><plist><array/></plist>",
	                             "   "};
	char why[256];
	(void)st;
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		why[0] = '\0';
		json_t *c = norm_crash_parse("junk.ips", junk[i],
		                             strlen(junk[i]) + (i == 3 ? 4 : 0) - (i == 3 ? 4 : 0),
		                             strlen(junk[i]), why, sizeof(why));
		assert_null(c);
		assert_true(strlen(why) > 0);
	}
	assert_null(norm_crash_parse("empty.ips", "", 0, 0, why, sizeof(why)));
	assert_string_equal(why, "empty file");
	assert_true(norm_crash_name_ok("panic-full-2026.ips"));
	assert_true(norm_crash_name_ok("x.PANIC"));
	assert_true(norm_crash_name_ok("a.plist"));
	assert_false(norm_crash_name_ok(".DS_Store"));
	assert_false(norm_crash_name_ok("ips"));
	assert_false(norm_crash_name_ok("notes.txt"));
}

static void
test_crash_huge_panic(void **st)
{
	/* a 2 MB panic string: cut to 64 KiB and flagged, whether we hold the whole file or its head */
	size_t big = 2 * 1024 * 1024, n;
	char *d = malloc(big + 512), why[256];
	json_t *c;
	(void)st;
	n = (size_t)sprintf(d, "{\"bug_type\":\"210\",\"timestamp\":\"2026-11-20 10:10:10.00 +0000\"}\n"
	                       "{\"product\":\"iPhone12,1\",\"panicString\":\"panic(cpu 0 caller 0x4): ");
	memset(d + n, 'A', big);
	n += big;
	n += (size_t)sprintf(d + n, "\"}");
	c = norm_crash_parse("big.ips", d, n, n, why, sizeof(why));
	assert_non_null(c);
	assert_true(json_is_true(json_object_get(c, "truncated")));
	assert_true(json_string_length(json_object_get(c, "panic_string")) <= NORM_PANIC_MAX);
	assert_int_equal(json_integer_value(json_object_get(c, "size")), (json_int_t)n);
	json_decref(c);
	/* only the first 512 KiB in memory (as the driver streams): the scanner finds the fields */
	c = norm_crash_parse("big.ips", d, 512 * 1024, n, why, sizeof(why));
	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "product")), "iPhone12,1");
	assert_true(json_is_true(json_object_get(c, "truncated")));
	assert_true(strncmp(json_string_value(json_object_get(c, "panic_string")), "panic(cpu 0", 11) == 0);
	assert_int_equal(json_string_length(json_object_get(c, "panic_string")), NORM_PANIC_MAX);
	json_decref(c);
	free(d);
}

static void
test_syslog_framing(void **st)
{
	struct norm_syslog s;
	/* a real capture starts with a NUL; records end "\n\0" */
	static const char cap[] = "\0Nov 22 10:00:01 iPhone kernel[0] <Notice>: one\n\0"
	                          "Nov 22 10:00:02 iPhone powerd[5] <Error>: two\nsecond line\n\0"
	                          "Nov 22 10:00:03 iPhone x[1] <Notice>: par";
	(void)st;
	norm_syslog_init(&s);
	/* fed byte by byte: framing must not depend on chunk boundaries */
	for (size_t i = 0; i < sizeof(cap) - 1; i++)
		norm_syslog_feed(&s, cap + i, 1);
	assert_int_equal(json_array_size(s.lines), 2);
	norm_syslog_feed(&s, "tial\n", 5);
	norm_syslog_finish(&s);
	assert_int_equal(json_array_size(s.lines), 3);
	assert_string_equal(json_string_value(json_array_get(s.lines, 0)),
	                    "Nov 22 10:00:01 iPhone kernel[0] <Notice>: one");
	assert_string_equal(json_string_value(json_array_get(s.lines, 1)),
	                    "Nov 22 10:00:02 iPhone powerd[5] <Error>: two\nsecond line");
	assert_string_equal(json_string_value(json_array_get(s.lines, 2)),
	                    "Nov 22 10:00:03 iPhone x[1] <Notice>: partial");
	assert_int_equal(s.seen, 3);
	assert_false(s.truncated);
	norm_syslog_free(&s);
}

static void
test_syslog_caps(void **st)
{
	struct norm_syslog s;
	char *junk = malloc(100000);
	(void)st;
	norm_syslog_init(&s);
	/* garbage without framing: cut at the line cap, never one unbounded line */
	memset(junk, 'x', 100000);
	junk[500] = '\xff';
	norm_syslog_feed(&s, junk, 100000);
	norm_syslog_finish(&s);
	assert_true(json_array_size(s.lines) >= 6);
	for (size_t i = 0; i < json_array_size(s.lines); i++)
		assert_true(json_string_length(json_array_get(s.lines, i)) <= NORM_SYSLOG_MAX_LINE + 3);
	norm_syslog_free(&s);

	/* 25,000 lines: 20,000 kept, all counted, truncated */
	norm_syslog_init(&s);
	for (int i = 0; i < 25000; i++) {
		char l[64];
		int n = snprintf(l, sizeof(l), "line %d\n", i);
		norm_syslog_feed(&s, l, (size_t)n + 1); /* with its NUL */
	}
	norm_syslog_finish(&s);
	assert_int_equal(json_array_size(s.lines), NORM_SYSLOG_MAX_LINES);
	assert_int_equal(s.seen, 25000);
	assert_true(s.truncated);
	norm_syslog_free(&s);
	free(junk);
}

static void
test_string_sanitize(void **st)
{
	int cut = 0;
	json_t *j = norm_string("ab\0c\xc3", 5, 100, &cut);
	(void)st;
	assert_string_equal(json_string_value(j), "abc\xef\xbf\xbd");
	assert_false(cut);
	json_decref(j);
	j = norm_string("abcdef", 6, 3, &cut);
	assert_string_equal(json_string_value(j), "abc");
	assert_true(cut);
	json_decref(j);
	/* a UTF-8 sequence cut by the cap is replaced, never left half */
	j = norm_string("a\xc3\xa9", 3, 2, &cut);
	assert_string_equal(json_string_value(j), "a\xef\xbf\xbd");
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_battery_normal),
	    cmocka_unit_test(test_battery_health_exact),
	    cmocka_unit_test(test_battery_nonsense),
	    cmocka_unit_test(test_battery_missing),
	    cmocka_unit_test(test_battery_armpmu),
	    cmocka_unit_test(test_plist_signed),
	    cmocka_unit_test(test_plist_bytes_garbage),
	    cmocka_unit_test(test_fuzz_regressions),
	    cmocka_unit_test(test_device_storage_models),
	    cmocka_unit_test(test_timestamp),
	    cmocka_unit_test(test_crash_ips_json),
	    cmocka_unit_test(test_crash_force_reset),
	    cmocka_unit_test(test_crash_ips_text),
	    cmocka_unit_test(test_crash_plist),
	    cmocka_unit_test(test_crash_junk),
	    cmocka_unit_test(test_crash_huge_panic),
	    cmocka_unit_test(test_syslog_framing),
	    cmocka_unit_test(test_syslog_caps),
	    cmocka_unit_test(test_string_sanitize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
