/*
 * benchctl devices [--json]: devices seen now. usbmux devices (normal mode, with their model
 * and serial number from a session-less lockdown look, idev_peek) and USB-level Apple devices in recovery,
 * DFU, WTF or Port DFU mode (ECID and model from the iBoot string). With no usbmuxd the USB-level ones are
 * still listed, with a warning on stderr.
 */
#include "benchctl.h"

#include "idevice.h"
#include "models.h"
#include "usbdev.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void
devices_usage(FILE *f)
{
	fprintf(f,
	        "usage: benchctl devices [--json]\n"
	        "  lists usbmux devices (udid) and USB-level devices in recovery/DFU/WTF/Port DFU mode "
	        "(ECID)\n"
	        "  --json: one line, an array of {id, udid|ecid, mode, connection, product_type,\n"
	        "  model_name, name, serial, product_id}, each field absent when the device did not say\n");
}

/* Normal-mode USB serial is the UDID without its dash. */
static int
same_device(const char *udid, const char *usb_serial)
{
	char a[80];
	size_t o = 0;

	for (const char *p = udid; *p && o + 1 < sizeof(a); p++)
		if (*p != '-')
			a[o++] = *p;
	a[o] = '\0';
	return strcasecmp(a, usb_serial) == 0;
}

int
cmd_devices(struct ctl *g, int argc, char **argv)
{
	struct idev_info *mux = NULL;
	struct usbdev_info *usb = NULL;
	size_t nmux = 0, nusb = 0;
	struct models *m;
	int mr, ur, json = g->json;
	json_t *arr = json_array();

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			devices_usage(stdout);
			json_decref(arr);
			return BC_EXIT_OK;
		} else {
			json_decref(arr);
			return benchctl_usage_error(
			    g, "devices", "%s '%s'",
			    argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i]);
		}
	}
	m = models_load(NULL, NULL, 0);
	mr = idev_list(&mux, &nmux);
	if (mr != IDEV_OK)
		fprintf(stderr, "benchctl: warning: %s; listing only USB-level (recovery/DFU) devices\n",
		        idev_strerror(mr));
	ur = usbdev_list(&usb, &nusb, NULL);
	if (ur != USBDEV_OK && ur != USBDEV_E_INIT)
		fprintf(stderr, "benchctl: warning: %s\n", usbdev_strerror(ur));

	for (size_t i = 0; i < nmux; i++) {
		char pt[64], name[128], serial[64];
		json_t *d = json_object();
		const char *mn;

		idev_peek(mux[i].udid, pt, sizeof(pt), name, sizeof(name));
		idev_peek_serial(mux[i].udid, serial, sizeof(serial));
		mn = models_name(m, pt);
		json_object_set_new(d, "id", json_string(mux[i].udid));
		json_object_set_new(d, "udid", json_string(mux[i].udid));
		json_object_set_new(d, "mode", json_string("normal"));
		json_object_set_new(d, "connection", json_string(mux[i].conn_usb ? "usb" : "network"));
		if (pt[0])
			json_object_set_new(d, "product_type", json_string(pt));
		if (mn)
			json_object_set_new(d, "model_name", json_string(mn));
		if (name[0])
			json_object_set_new(d, "name", json_string(name));
		if (serial[0])
			json_object_set_new(d, "serial", json_string(serial));
		json_array_append_new(arr, d);
	}
	for (size_t i = 0; i < nusb; i++) {
		json_t *d;
		int dup = 0;

		if (usb[i].mode == USBDEV_MODE_NORMAL) {
			for (size_t k = 0; k < nmux && !dup; k++)
				dup = same_device(mux[k].udid, usb[i].serial);
			if (dup || mr == IDEV_OK)
				continue; /* usbmux already lists it (or will, once it has paired) */
		}
		d = json_object();
		json_object_set_new(d, "id", json_string(usb[i].ecid[0] ? usb[i].ecid : usb[i].serial));
		if (usb[i].ecid[0])
			json_object_set_new(d, "ecid", json_string(usb[i].ecid));
		json_object_set_new(d, "mode", json_string(usbdev_mode_name(usb[i].mode)));
		json_object_set_new(d, "connection", json_string("usb"));
		if (usb[i].product_type[0])
			json_object_set_new(d, "product_type", json_string(usb[i].product_type));
		if (usb[i].model_name[0])
			json_object_set_new(d, "model_name", json_string(usb[i].model_name));
		if (usb[i].iboot.srnm[0])
			json_object_set_new(d, "serial", json_string(usb[i].iboot.srnm));
		json_object_set_new(d, "product_id", json_integer(usb[i].product_id));
		json_array_append_new(arr, d);
	}
	free(mux);
	free(usb);
	models_free(m);

	if (json) {
		benchctl_print_json(arr);
	} else if (json_array_size(arr) == 0) {
		printf("no devices\n");
	} else {
		size_t i;
		json_t *d;
		printf("%-28s %-10s %-14s %s\n", "ID (UDID or ECID)", "MODE", "PRODUCT", "MODEL");
		json_array_foreach(arr, i, d)
		{
			const char *mn = json_string_value(json_object_get(d, "model_name"));
			const char *pt = json_string_value(json_object_get(d, "product_type"));
			printf("%-28s %-10s %-14s %s\n", json_string_value(json_object_get(d, "id")),
			       json_string_value(json_object_get(d, "mode")), pt ? pt : "-",
			       mn ? mn : "unknown model");
		}
	}
	json_decref(arr);
	return BC_EXIT_OK;
}
