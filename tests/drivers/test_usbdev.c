/* Unit tests of drivers/usb/usbdev.c without a bus: iBoot strings, modes, the USB snapshot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "usbdev.h"

#include <stdlib.h>
#include <string.h>

static void
test_iboot_recovery(void **st)
{
	struct iboot_info b;
	const char *s = "SDOM:01 CPID:8015 CPRV:11 CPFM:03 SCEP:01 BDID:0E ECID:001A35E21A05802E IBFL:3D "
	                "SRNM:[F2LXK0AAN72J] IMEI:[356541234567890] NONC:ABCD";
	(void)st;
	assert_int_equal(usbdev_parse_iboot(s, strlen(s), &b), USBDEV_OK);
	assert_true(b.has_cpid && b.has_bdid && b.has_ecid);
	assert_int_equal(b.cpid, 0x8015);
	assert_int_equal(b.cprv, 0x11);
	assert_int_equal(b.cpfm, 0x03);
	assert_int_equal(b.scep, 0x01);
	assert_int_equal(b.bdid, 0x0e);
	assert_int_equal(b.ibfl, 0x3d);
	assert_true(b.ecid == 0x001A35E21A05802EULL);
	assert_string_equal(b.srnm, "F2LXK0AAN72J");
	assert_string_equal(b.imei, "356541234567890");
	assert_string_equal(b.srtg, "");
}

static void
test_iboot_dfu(void **st)
{
	struct iboot_info b;
	const char *s = "CPID:8130 CPRV:11 CPFM:03 SCEP:01 BDID:04 ECID:000A1C2E3B4D801E IBFL:3C "
	                "SRTG:[iBoot-10151.0.0.1.1]";
	(void)st;
	assert_int_equal(usbdev_parse_iboot(s, strlen(s), &b), USBDEV_OK);
	assert_int_equal(b.cpid, 0x8130);
	assert_int_equal(b.bdid, 0x04);
	assert_string_equal(b.srtg, "iBoot-10151.0.0.1.1");
	assert_string_equal(b.srnm, "");
}

static void
test_iboot_garbage(void **st)
{
	static const char *bad[] = {"",
	                            "hello",
	                            "CPID:",
	                            "CPID:ZZZZ BDID:04",
	                            "ECID:0123456789ABCDEF01",
	                            "CPID:123456789",
	                            ":::: [[[[ ]]]]",
	                            "BDID:100"};
	struct iboot_info b;
	char big[4096];
	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(usbdev_parse_iboot(bad[i], strlen(bad[i]), &b), USBDEV_E_PARSE);
	assert_int_equal(usbdev_parse_iboot(NULL, 10, &b), USBDEV_E_PARSE);
	/* unterminated bracket and an over-long serial: bounded copy, no overrun */
	memset(big, 'Q', sizeof(big));
	memcpy(big, "CPID:8030 SRNM:[", 16);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(usbdev_parse_iboot(big, sizeof(big), &b), USBDEV_OK);
	assert_int_equal(b.cpid, 0x8030);
	assert_int_equal(strlen(b.srnm), sizeof(b.srnm) - 1);
	/* length bound respected: the parser must not read past len */
	assert_int_equal(usbdev_parse_iboot("CPID:8030 BDID:04", 9, &b), USBDEV_OK);
	assert_false(b.has_bdid);
	/* non-printable bytes never reach the fields */
	assert_int_equal(usbdev_parse_iboot("SRNM:[ab\x01\x7f]", 12, &b), USBDEV_OK);
	assert_string_equal(b.srnm, "ab??");
}

static void
test_modes(void **st)
{
	(void)st;
	assert_int_equal(usbdev_mode_from_pid(0x12a8), USBDEV_MODE_NORMAL);
	assert_int_equal(usbdev_mode_from_pid(0x1290), USBDEV_MODE_NORMAL);
	assert_int_equal(usbdev_mode_from_pid(0x12af), USBDEV_MODE_NORMAL);
	for (unsigned p = 0x1280; p <= 0x1283; p++)
		assert_int_equal(usbdev_mode_from_pid(p), USBDEV_MODE_RECOVERY);
	assert_int_equal(usbdev_mode_from_pid(0x1227), USBDEV_MODE_DFU);
	assert_int_equal(usbdev_mode_from_pid(0x1222), USBDEV_MODE_WTF); /* WTF, not DFU */
	assert_int_equal(usbdev_mode_from_pid(0xf014), USBDEV_MODE_PORT_DFU);
	assert_int_equal(usbdev_mode_from_pid(0x1284), USBDEV_MODE_UNKNOWN);
	assert_int_equal(usbdev_mode_from_pid(0x8600), USBDEV_MODE_UNKNOWN);
	assert_string_equal(usbdev_mode_name(USBDEV_MODE_PORT_DFU), "port-dfu");
	assert_string_equal(usbdev_mode_name(USBDEV_MODE_DFU), "dfu");
	assert_string_equal(usbdev_mode_name(USBDEV_MODE_RECOVERY), "recovery");
	assert_string_equal(usbdev_mode_name(USBDEV_MODE_WTF), "wtf");
	assert_non_null(strstr(usbdev_strerror(USBDEV_E_ACCESS), "benchd group"));
}

static void
test_snapshot(void **st)
{
	struct usbdev_info u;
	json_t *s, *d, *usb;
	const char *str = "CPID:8030 CPRV:11 BDID:04 ECID:001A35E21A05802E SRNM:[F2LXK0AAN72J]";
	(void)st;
	memset(&u, 0, sizeof(u));
	u.vendor_id = 0x05ac;
	u.product_id = 0x1281;
	u.mode = USBDEV_MODE_RECOVERY;
	snprintf(u.serial, sizeof(u.serial), "%s", str);
	assert_int_equal(usbdev_parse_iboot(str, strlen(str), &u.iboot), USBDEV_OK);
	strcpy(u.ecid, "0x1A35E21A05802E");
	strcpy(u.product_type, "iPhone12,1");
	strcpy(u.model_name, "iPhone 11");
	s = usbdev_snapshot(&u);
	assert_string_equal(json_string_value(json_object_get(s, "schema")), "benchd.snapshot/1");
	d = json_object_get(s, "device");
	assert_string_equal(json_string_value(json_object_get(d, "mode")), "recovery");
	assert_string_equal(json_string_value(json_object_get(d, "lockdown")), "unavailable");
	assert_string_equal(json_string_value(json_object_get(d, "ecid")), "0x1A35E21A05802E");
	assert_string_equal(json_string_value(json_object_get(d, "serial")), "F2LXK0AAN72J");
	assert_string_equal(json_string_value(json_object_get(d, "model_name")), "iPhone 11");
	usb = json_object_get(d, "usb");
	assert_int_equal(json_integer_value(json_object_get(usb, "product_id")), 0x1281);
	assert_string_equal(json_string_value(json_object_get(usb, "cpid")), "0x8030");
	assert_string_equal(json_string_value(json_object_get(usb, "bdid")), "0x04");
	assert_null(json_object_get(s, "battery"));
	assert_int_equal(json_array_size(json_object_get(s, "probes")), 0);
	json_decref(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_iboot_recovery), cmocka_unit_test(test_iboot_dfu),
	    cmocka_unit_test(test_iboot_garbage),  cmocka_unit_test(test_modes),
	    cmocka_unit_test(test_snapshot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
