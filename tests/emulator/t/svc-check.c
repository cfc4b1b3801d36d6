/*
 * emu-svc-check: what the stock tools never exercise in idevice-emu's services, driven through
 * the real libimobiledevice 1.3.0 clients: AFC corners of com.apple.crashreportcopymobile (and
 * raw bytes on the service connection for malformed packets), and diagnostics_relay requests
 * idevicediagnostics cannot send (EntryClass lookups, unknown requests).
 *
 * Environment: USBMUXD_SOCKET_ADDRESS (the emulator), SVC_UDID (a paired profile whose crashes/
 * holds ForceReset-full-2026-11-12-083015.000.ips and Retired/JetsamEvent-2026-11-19-141502.ips:
 * healthy-15pro), SVC_PROFILE (that profile's directory on disk).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <endian.h>
#include <libimobiledevice/afc.h>
#include <libimobiledevice/diagnostics_relay.h>
#include <libimobiledevice/libimobiledevice.h>
#include <libimobiledevice/lockdown.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REPORT  "ForceReset-full-2026-11-12-083015.000.ips"
#define RETIRED "Retired/JetsamEvent-2026-11-19-141502.ips"

static idevice_t dev;
static const char *profile;

/* A fresh AFC client on its own service connection (lockdown closed again). */
static afc_client_t
afc_open_client(uint16_t *port_out)
{
	lockdownd_client_t ld = NULL;
	lockdownd_service_descriptor_t svc = NULL;
	afc_client_t afc = NULL;

	assert_int_equal(lockdownd_client_new_with_handshake(dev, &ld, "svc-check"), LOCKDOWN_E_SUCCESS);
	assert_int_equal(lockdownd_start_service(ld, "com.apple.crashreportcopymobile", &svc),
	                 LOCKDOWN_E_SUCCESS);
	lockdownd_client_free(ld);
	if (port_out) {
		*port_out = svc->port;
	} else {
		assert_int_equal(afc_client_new(dev, svc, &afc), AFC_E_SUCCESS);
	}
	lockdownd_service_descriptor_free(svc);
	return afc;
}

static const char *
info_get(char **info, const char *key)
{
	for (int i = 0; info && info[i] && info[i + 1]; i += 2)
		if (strcmp(info[i], key) == 0)
			return info[i + 1];
	return NULL;
}

static int
list_has(char **list, const char *name)
{
	for (int i = 0; list && list[i]; i++)
		if (strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

static void
test_escape_refused(void **state)
{
	afc_client_t afc = afc_open_client(NULL);
	char **info = NULL, **list = NULL;
	uint64_t h = 0;

	(void)state;
	assert_int_not_equal(afc_get_file_info(afc, "../device.plist", &info), AFC_E_SUCCESS);
	assert_null(info);
	assert_int_not_equal(afc_get_file_info(afc, "./Retired/../../syslog.txt", &info), AFC_E_SUCCESS);
	assert_int_not_equal(afc_read_directory(afc, "..", &list), AFC_E_SUCCESS);
	assert_null(list);
	assert_int_not_equal(afc_file_open(afc, "/../device.plist", AFC_FOPEN_RDONLY, &h), AFC_E_SUCCESS);
	assert_int_equal(h, 0);
	afc_client_free(afc);
}

static void
test_listing_and_info(void **state)
{
	afc_client_t afc = afc_open_client(NULL);
	char **list = NULL, **info = NULL, path[4200];
	struct stat st;
	const char *v;

	(void)state;
	assert_int_equal(afc_read_directory(afc, ".", &list), AFC_E_SUCCESS);
	assert_true(list_has(list, "."));
	assert_true(list_has(list, ".."));
	assert_true(list_has(list, REPORT));
	assert_true(list_has(list, "Retired"));
	afc_dictionary_free(list);

	/* "./x", "/x" and "x" name the same file */
	snprintf(path, sizeof(path), "%s/crashes/%s", profile, REPORT);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(afc_get_file_info(afc, "./" REPORT, &info), AFC_E_SUCCESS);
	assert_non_null(v = info_get(info, "st_ifmt"));
	assert_string_equal(v, "S_IFREG");
	assert_non_null(v = info_get(info, "st_size"));
	assert_int_equal(strtoll(v, NULL, 10), st.st_size);
	assert_non_null(info_get(info, "st_blocks"));
	assert_non_null(info_get(info, "st_nlink"));
	/* nanoseconds; the report's own date (2026-11-12 08:30:15 at UTC+1), not the checkout's */
	assert_non_null(v = info_get(info, "st_mtime"));
	assert_int_equal(strtoll(v, NULL, 10), 1794468615LL * 1000000000LL);
	assert_non_null(info_get(info, "st_birthtime"));
	afc_dictionary_free(info);
	info = NULL;
	assert_int_equal(afc_get_file_info(afc, "/Retired/", &info), AFC_E_SUCCESS);
	assert_string_equal(info_get(info, "st_ifmt"), "S_IFDIR");
	assert_non_null(v = info_get(info, "st_mtime")); /* no date in the name: the folder's */
	assert_true(strtoll(v, NULL, 10) > 1000000000LL * 1000000000LL);
	afc_dictionary_free(info);
	info = NULL;
	assert_int_equal(afc_get_file_info(afc, "no-such-report.ips", &info), AFC_E_OBJECT_NOT_FOUND);
	afc_client_free(afc);
}

static void
test_open_rules(void **state)
{
	afc_client_t afc = afc_open_client(NULL);
	uint64_t h[17] = {0}, bad = 0;
	uint32_t n = 0;
	char buf[64];
	int i, j;

	(void)state;
	assert_int_equal(afc_file_open(afc, REPORT, AFC_FOPEN_RW, &bad), AFC_E_PERM_DENIED);
	assert_int_equal(afc_file_open(afc, REPORT, AFC_FOPEN_WRONLY, &bad), AFC_E_PERM_DENIED);
	assert_int_equal(afc_file_open(afc, "nope.ips", AFC_FOPEN_RDONLY, &bad), AFC_E_OBJECT_NOT_FOUND);
	assert_int_equal(afc_file_open(afc, "Retired", AFC_FOPEN_RDONLY, &bad), AFC_E_OBJECT_IS_DIR);
	/* a bounded table of non-zero, distinct handles */
	for (i = 0; i < 16; i++) {
		assert_int_equal(afc_file_open(afc, REPORT, AFC_FOPEN_RDONLY, &h[i]), AFC_E_SUCCESS);
		assert_int_not_equal(h[i], 0);
		for (j = 0; j < i; j++)
			assert_int_not_equal(h[i], h[j]);
	}
	assert_int_equal(afc_file_open(afc, REPORT, AFC_FOPEN_RDONLY, &h[16]), AFC_E_NO_RESOURCES);
	for (i = 0; i < 16; i++)
		assert_int_equal(afc_file_close(afc, h[i]), AFC_E_SUCCESS);
	assert_int_not_equal(afc_file_close(afc, h[0]), AFC_E_SUCCESS);              /* already closed */
	assert_int_not_equal(afc_file_read(afc, 0x7777, buf, 8, &n), AFC_E_SUCCESS); /* unknown */
	afc_client_free(afc);
}

static void
test_read_seek_tell(void **state)
{
	afc_client_t afc = afc_open_client(NULL);
	char path[4200], *want = NULL, buf[16];
	uint64_t h = 0, pos = 0;
	uint32_t n = 0, total = 0;
	FILE *f;
	long size;
	char *got;

	(void)state;
	snprintf(path, sizeof(path), "%s/crashes/%s", profile, REPORT);
	assert_non_null(f = fopen(path, "rb"));
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	want = malloc((size_t)size);
	assert_int_equal(fread(want, 1, (size_t)size, f), (size_t)size);
	fclose(f);

	assert_int_equal(afc_file_open(afc, REPORT, AFC_FOPEN_RDONLY, &h), AFC_E_SUCCESS);
	assert_int_equal(afc_file_seek(afc, h, 10, SEEK_SET), AFC_E_SUCCESS);
	assert_int_equal(afc_file_tell(afc, h, &pos), AFC_E_SUCCESS);
	assert_int_equal(pos, 10);
	/* nonsense offsets are refused and leave the position alone */
	assert_int_not_equal(afc_file_seek(afc, h, INT64_MIN, SEEK_CUR), AFC_E_SUCCESS);
	assert_int_not_equal(afc_file_seek(afc, h, -11, SEEK_CUR), AFC_E_SUCCESS);
	assert_int_not_equal(afc_file_seek(afc, h, INT64_MAX, SEEK_END), AFC_E_SUCCESS);
	assert_int_equal(afc_file_tell(afc, h, &pos), AFC_E_SUCCESS);
	assert_int_equal(pos, 10);
	assert_int_equal(afc_file_read(afc, h, buf, 5, &n), AFC_E_SUCCESS);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, want + 10, 5);
	/* one big read returns the rest, then an empty read is EOF */
	got = malloc((size_t)size);
	assert_int_equal(afc_file_seek(afc, h, 0, SEEK_SET), AFC_E_SUCCESS);
	assert_int_equal(afc_file_read(afc, h, got, (uint32_t)size + 100000, &total), AFC_E_SUCCESS);
	assert_int_equal(total, size);
	assert_memory_equal(got, want, (size_t)size);
	assert_int_equal(afc_file_read(afc, h, buf, sizeof(buf), &n), AFC_E_SUCCESS);
	assert_int_equal(n, 0);
	assert_int_equal(afc_file_close(afc, h), AFC_E_SUCCESS);
	free(got);
	free(want);
	afc_client_free(afc);
}

static void
test_remove_is_virtual(void **state)
{
	afc_client_t afc = afc_open_client(NULL);
	char **list = NULL, **info = NULL, path[4200];

	(void)state;
	assert_int_equal(afc_remove_path(afc, "./Retired"), AFC_E_DIR_NOT_EMPTY);
	assert_int_equal(afc_remove_path(afc, "./" RETIRED), AFC_E_SUCCESS);
	assert_int_equal(afc_remove_path(afc, "./" RETIRED), AFC_E_OBJECT_NOT_FOUND);
	assert_int_equal(afc_remove_path(afc, "./Retired"), AFC_E_SUCCESS);
	assert_int_equal(afc_get_file_info(afc, "./Retired", &info), AFC_E_OBJECT_NOT_FOUND);
	assert_int_not_equal(afc_remove_path(afc, "."), AFC_E_SUCCESS); /* never the root */
	afc_client_free(afc);

	/* gone for this device on a new connection too, but still on disk */
	afc = afc_open_client(NULL);
	assert_int_equal(afc_read_directory(afc, ".", &list), AFC_E_SUCCESS);
	assert_false(list_has(list, "Retired"));
	assert_true(list_has(list, REPORT));
	afc_dictionary_free(list);
	afc_client_free(afc);
	snprintf(path, sizeof(path), "%s/crashes/%s", profile, RETIRED);
	assert_int_equal(access(path, R_OK), 0);
}

/* Raw bytes on the AFC connection: the emulator drops the connection, and stays up. */
static void
garbage_once(const void *bytes, size_t len)
{
	idevice_connection_t conn = NULL;
	uint16_t port = 0;
	uint32_t sent = 0, got = 0;
	char buf[64];
	idevice_error_t e;

	afc_open_client(&port);
	assert_int_equal(idevice_connect(dev, port, &conn), IDEVICE_E_SUCCESS);
	assert_int_equal(idevice_connection_send(conn, bytes, (uint32_t)len, &sent), IDEVICE_E_SUCCESS);
	e = idevice_connection_receive_timeout(conn, buf, sizeof(buf), &got, 5000);
	/* closed without a reply (a timeout would mean the emulator still waits on us) */
	assert_int_not_equal(e, IDEVICE_E_TIMEOUT);
	assert_int_equal(got, 0);
	idevice_disconnect(conn);
}

static void
test_garbage(void **state)
{
	static const unsigned char magic[8] = {'C', 'F', 'A', '6', 'L', 'P', 'A', 'A'};
	unsigned char pkt[40];
	uint64_t v;
	afc_client_t afc;
	char **list = NULL;

	(void)state;
	memset(pkt, 'A', sizeof(pkt));
	pkt[0] = 'G', pkt[1] = 'E', pkt[2] = 'T', pkt[3] = ' ', pkt[4] = '/';
	garbage_once(pkt, sizeof(pkt));
	/* a valid magic with a 1 TiB length */
	memcpy(pkt, magic, sizeof(magic));
	v = htole64(1ULL << 40);
	memcpy(pkt + 8, &v, 8);
	memcpy(pkt + 16, &v, 8);
	v = htole64(1);
	memcpy(pkt + 24, &v, 8);
	v = htole64(3);
	memcpy(pkt + 32, &v, 8);
	garbage_once(pkt, sizeof(pkt));
	/* this_length larger than entire_length */
	v = htole64(48);
	memcpy(pkt + 8, &v, 8);
	v = htole64(4096);
	memcpy(pkt + 16, &v, 8);
	garbage_once(pkt, sizeof(pkt));
	/* and the service still works */
	afc = afc_open_client(NULL);
	assert_int_equal(afc_read_directory(afc, ".", &list), AFC_E_SUCCESS);
	assert_true(list_has(list, REPORT));
	afc_dictionary_free(list);
	afc_client_free(afc);
}

static diagnostics_relay_client_t
diag_open(void)
{
	lockdownd_client_t ld = NULL;
	lockdownd_service_descriptor_t svc = NULL;
	diagnostics_relay_client_t c = NULL;

	assert_int_equal(lockdownd_client_new_with_handshake(dev, &ld, "svc-check"), LOCKDOWN_E_SUCCESS);
	assert_int_equal(lockdownd_start_service(ld, "com.apple.mobile.diagnostics_relay", &svc),
	                 LOCKDOWN_E_SUCCESS);
	lockdownd_client_free(ld);
	assert_int_equal(diagnostics_relay_client_new(dev, svc, &c), DIAGNOSTICS_RELAY_E_SUCCESS);
	lockdownd_service_descriptor_free(svc);
	return c;
}

static void
test_diag_requests(void **state)
{
	diagnostics_relay_client_t c = diag_open();
	plist_t node = NULL, reg, v;
	uint64_t u = 0;
	uint8_t b = 1;

	(void)state;
	/* pymobiledevice3 asks by class: AppleSmartBattery is an IOPMPowerSource */
	assert_int_equal(diagnostics_relay_query_ioregistry_entry(c, NULL, "IOPMPowerSource", &node),
	                 DIAGNOSTICS_RELAY_E_SUCCESS);
	assert_non_null(reg = plist_dict_get_item(node, "IORegistry"));
	assert_non_null(v = plist_dict_get_item(reg, "InstantAmperage"));
	plist_get_uint_val(v, &u);
	assert_int_equal((int64_t)u, -312); /* libplist 2.2: two's complement in a uint */
	assert_non_null(v = plist_dict_get_item(reg, "IsCharging"));
	plist_get_bool_val(v, &b);
	assert_int_equal(b, 0);
	plist_free(node);
	node = NULL;
	/* by name, with EntryClass "" as the 1.3.0 tool sends it */
	assert_int_equal(diagnostics_relay_query_ioregistry_entry(c, "AppleSmartBattery", "", &node),
	                 DIAGNOSTICS_RELAY_E_SUCCESS);
	assert_non_null(reg = plist_dict_get_item(node, "IORegistry"));
	assert_non_null(v = plist_dict_get_item(reg, "CycleCount"));
	plist_get_uint_val(v, &u);
	assert_int_equal(u, 180);
	plist_free(node);
	node = NULL;
	/* HDMI is only in the profile's "All": answered from there */
	assert_int_equal(diagnostics_relay_request_diagnostics(c, "HDMI", &node),
	                 DIAGNOSTICS_RELAY_E_SUCCESS);
	assert_non_null(plist_dict_get_item(node, "HDMI"));
	plist_free(node);
	node = NULL;
	assert_int_equal(diagnostics_relay_request_diagnostics(c, "Bogus", &node),
	                 DIAGNOSTICS_RELAY_E_UNKNOWN_REQUEST);
	assert_null(node);
	assert_int_equal(diagnostics_relay_restart(c, DIAGNOSTICS_RELAY_ACTION_FLAG_WAIT_FOR_DISCONNECT),
	                 DIAGNOSTICS_RELAY_E_SUCCESS);
	/* still answering after Restart (the emulated phone stays) */
	assert_int_equal(diagnostics_relay_request_diagnostics(c, "GasGauge", &node),
	                 DIAGNOSTICS_RELAY_E_SUCCESS);
	plist_free(node);
	assert_int_equal(diagnostics_relay_goodbye(c), DIAGNOSTICS_RELAY_E_SUCCESS);
	diagnostics_relay_client_free(c);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Behaviour/LatencyMs: every service reply waits that long (SVC_LATENCY_MS, else skipped). */
static void
test_latency(void **state)
{
	const char *env = getenv("SVC_LATENCY_MS");
	diagnostics_relay_client_t c;
	afc_client_t afc;
	plist_t node = NULL;
	char **list = NULL;
	long long t0, lat;

	(void)state;
	if (!env) {
		skip();
		return; /* skip() does not return; said for the analyser */
	}
	lat = strtoll(env, NULL, 10);
	c = diag_open();
	t0 = now_ms();
	assert_int_equal(diagnostics_relay_request_diagnostics(c, "GasGauge", &node),
	                 DIAGNOSTICS_RELAY_E_SUCCESS);
	assert_true(now_ms() - t0 >= lat);
	plist_free(node);
	diagnostics_relay_goodbye(c);
	diagnostics_relay_client_free(c);
	afc = afc_open_client(NULL);
	t0 = now_ms();
	assert_int_equal(afc_read_directory(afc, ".", &list), AFC_E_SUCCESS);
	assert_true(now_ms() - t0 >= lat);
	afc_dictionary_free(list);
	afc_client_free(afc);
}

int
main(int argc, char **argv)
{
	const char *udid = getenv("SVC_UDID");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_latency),
	    cmocka_unit_test(test_diag_requests),
	    cmocka_unit_test(test_escape_refused),
	    cmocka_unit_test(test_listing_and_info),
	    cmocka_unit_test(test_open_rules),
	    cmocka_unit_test(test_read_seek_tell),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_remove_is_virtual), /* last: it hides Retired/ for this run */
	};
	int rc;

	profile = getenv("SVC_PROFILE");
	if (!udid || !profile) {
		fprintf(stderr, "set SVC_UDID and SVC_PROFILE\n");
		return 2;
	}
	if (idevice_new_with_options(&dev, udid, IDEVICE_LOOKUP_USBMUX) != IDEVICE_E_SUCCESS) {
		fprintf(stderr, "device %s not found\n", udid);
		return 1;
	}
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	idevice_free(dev);
	return rc;
}
