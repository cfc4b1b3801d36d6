/*
 * USB level under umockdev (run under umockdev-wrapper): enumerate the recovery and DFU devices
 * of tests/drivers/usb (.umockdev files), then plug and unplug one at run time and expect the watch
 * (libusb hotplug, or polling with BENCHD_USB_POLL=1) to report ADD and REMOVE with the parsed
 * ECID and model. Exit 0 on success; every failure says what was expected.
 */
#include "usbdev.h"

#include <umockdev.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int adds, removes;
static char last_add_ecid[32], last_add_model[64], last_remove_ecid[32];

static void
on_event(enum usbdev_event_kind k, const struct usbdev_info *d, void *ctx)
{
	(void)ctx;
	pthread_mutex_lock(&mu);
	if (k == USBDEV_EVENT_ADD) {
		adds++;
		snprintf(last_add_ecid, sizeof(last_add_ecid), "%s", d->ecid);
		snprintf(last_add_model, sizeof(last_add_model), "%s", d->model_name);
	} else {
		removes++;
		snprintf(last_remove_ecid, sizeof(last_remove_ecid), "%s", d->ecid);
	}
	pthread_mutex_unlock(&mu);
}

static int
wait_for(const int *counter, int want, int ms)
{
	for (int t = 0; t < ms; t += 20) {
		int v;
		pthread_mutex_lock(&mu);
		v = *counter;
		pthread_mutex_unlock(&mu);
		if (v >= want)
			return 0;
		usleep(20000);
	}
	return -1;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *b = calloc(1, 65536);
	if (f == NULL || b == NULL) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	fread(b, 1, 65535, f);
	fclose(f);
	return b;
}

#define FAIL(...)                                                                                            \
	do {                                                                                                 \
		fprintf(stderr, "FAIL: " __VA_ARGS__);                                                       \
		fputc('\n', stderr);                                                                         \
		return 1;                                                                                    \
	} while (0)

int
main(int argc, char **argv)
{
	UMockdevTestbed *tb;
	GError *err = NULL;
	char *rec, *dfu;
	struct usbdev_info *v = NULL;
	size_t n = 0;
	const char *recpath = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1";
	int found_rec = 0, found_dfu = 0;

	if (argc != 3) {
		fprintf(stderr,
		        "usage: usb_hotplug RECOVERY.umockdev DFU.umockdev (under umockdev-wrapper)\n");
		return 2;
	}
	const char *preload = getenv("LD_PRELOAD");
	if (preload == NULL || strstr(preload, "umockdev") == NULL)
		FAIL("not under umockdev-wrapper");
	tb = umockdev_testbed_new();
	rec = slurp(argv[1]);
	dfu = slurp(argv[2]);
	if (!umockdev_testbed_add_from_string(tb, dfu, &err))
		FAIL("umockdev: %s", err->message);

	/* enumeration: the DFU device is there from the start */
	if (usbdev_list(&v, &n, BENCHD_SOURCE_DIR "/diag-trees/models.json") != USBDEV_OK)
		FAIL("usbdev_list failed");
	for (size_t i = 0; i < n; i++)
		if (v[i].mode == USBDEV_MODE_DFU && strcmp(v[i].ecid, "0xA1C2E3B4D801E") == 0 &&
		    strcmp(v[i].model_name, "iPhone 15 Pro") == 0)
			found_dfu = 1;
	free(v);
	if (!found_dfu)
		FAIL("DFU iPhone 15 Pro (ECID 0xA1C2E3B4D801E) not enumerated");

	if (usbdev_watch_start(on_event, NULL, BENCHD_SOURCE_DIR "/diag-trees/models.json") != USBDEV_OK)
		FAIL("usbdev_watch_start failed");
	if (wait_for(&adds, 1, 3000) != 0)
		FAIL("no ADD for the device present at start");

	/* plug the recovery-mode iPhone 11 in */
	if (!umockdev_testbed_add_from_string(tb, rec, &err))
		FAIL("umockdev: %s", err->message);
	umockdev_testbed_uevent(tb, recpath, "add");
	if (wait_for(&adds, 2, 5000) != 0)
		FAIL("no ADD event after plugging the recovery device");
	pthread_mutex_lock(&mu);
	if (strcmp(last_add_ecid, "0x1A35E21A05802E") != 0 || strcmp(last_add_model, "iPhone 11") != 0)
		found_rec = -1;
	pthread_mutex_unlock(&mu);
	if (found_rec < 0)
		FAIL("ADD carried ecid '%s' model '%s', want 0x1A35E21A05802E / iPhone 11", last_add_ecid,
		     last_add_model);

	/* and pull it out */
	umockdev_testbed_uevent(tb, recpath, "remove");
	umockdev_testbed_remove_device(tb, recpath);
	if (wait_for(&removes, 1, 5000) != 0)
		FAIL("no REMOVE event after unplugging the recovery device");
	if (strcmp(last_remove_ecid, "0x1A35E21A05802E") != 0)
		FAIL("REMOVE named %s", last_remove_ecid);
	usbdev_watch_stop();
	if (adds != 2 || removes != 1)
		FAIL("events: %d adds, %d removes (want 2, 1)", adds, removes);
	printf("ok: enumeration, hotplug add and remove (%s)\n",
	       getenv("BENCHD_USB_POLL") ? "polling" : "libusb hotplug or polling");
	free(rec);
	free(dfu);
	g_object_unref(tb);
	return 0;
}
