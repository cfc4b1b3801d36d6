/* usbdev: see usbdev.h. */
#include "usbdev.h"

#include "log.h"
#include "models.h"
#include "util.h"

#include <libusb.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define APPLE_VID 0x05ac
#define IBOOT_MAX 1024 /* longer iBoot strings are cut before parsing */

const char *
usbdev_strerror(int err)
{
	switch (err) {
	case USBDEV_OK:
		return "ok";
	case USBDEV_E_INIT:
		return "USB cannot be read (libusb could not start: is /dev/bus/usb there?)";
	case USBDEV_E_ACCESS:
		return "permission denied on the USB device: add this user to the benchd group (see udev/)";
	case USBDEV_E_PARSE:
		return "the device's iBoot string makes no sense";
	default:
		return "unknown USB error";
	}
}

const char *
usbdev_mode_name(enum usbdev_mode mode)
{
	switch (mode) {
	case USBDEV_MODE_NORMAL:
		return "normal";
	case USBDEV_MODE_RECOVERY:
		return "recovery";
	case USBDEV_MODE_DFU:
		return "dfu";
	case USBDEV_MODE_WTF:
		return "wtf";
	case USBDEV_MODE_PORT_DFU:
		return "port-dfu";
	default:
		return "unknown";
	}
}

enum usbdev_mode
usbdev_mode_from_pid(unsigned pid)
{
	if (pid >= 0x1290 && pid <= 0x12af)
		return USBDEV_MODE_NORMAL;
	if (pid >= 0x1280 && pid <= 0x1283)
		return USBDEV_MODE_RECOVERY;
	if (pid == 0x1227)
		return USBDEV_MODE_DFU;
	if (pid == 0x1222)
		return USBDEV_MODE_WTF;
	if (pid == 0xf014)
		return USBDEV_MODE_PORT_DFU;
	return USBDEV_MODE_UNKNOWN;
}

/* ---------------------------------------------------------------- iBoot string */

static int
parse_hex(const char *v, size_t n, unsigned long long max, unsigned long long *out)
{
	unsigned long long x = 0;

	if (n == 0 || n > 16)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int d;
		if (v[i] >= '0' && v[i] <= '9')
			d = v[i] - '0';
		else if (v[i] >= 'a' && v[i] <= 'f')
			d = v[i] - 'a' + 10;
		else if (v[i] >= 'A' && v[i] <= 'F')
			d = v[i] - 'A' + 10;
		else
			return -1;
		x = (x << 4) | (unsigned)d;
	}
	if (x > max)
		return -1;
	*out = x;
	return 0;
}

/* Copy a value of n bytes into dst (printable ASCII only; other bytes -> '?'). */
static void
copy_field(char *dst, size_t dstlen, const char *v, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < dstlen; i++)
		dst[o++] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
	dst[o] = '\0';
}

int
usbdev_parse_iboot(const char *s, size_t len, struct iboot_info *out)
{
	const char *p, *e;
	int known = 0, bad = 0;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return USBDEV_E_PARSE;
	len = strnlen(s, len);
	if (len > IBOOT_MAX)
		len = IBOOT_MAX;
	p = s;
	e = s + len;
	while (p < e) {
		const char *k, *colon, *v, *ve;
		size_t klen, vlen;
		unsigned long long x;

		while (p < e && *p == ' ')
			p++;
		if (p >= e)
			break;
		k = p;
		colon = memchr(k, ':', (size_t)(e - k));
		if (colon == NULL)
			break;
		klen = (size_t)(colon - k);
		v = colon + 1;
		if (v < e && *v == '[') {
			v++;
			ve = memchr(v, ']', (size_t)(e - v));
			if (ve == NULL)
				ve = e; /* unterminated: take the rest */
			p = ve < e ? ve + 1 : e;
		} else {
			ve = memchr(v, ' ', (size_t)(e - v));
			if (ve == NULL)
				ve = e;
			p = ve;
		}
		vlen = (size_t)(ve - v);
		if (memchr(k, ' ', klen) != NULL) {
			/* "garbage KEY:v": the key is the last word */
			const char *sp = k + klen;
			while (sp > k && sp[-1] != ' ')
				sp--;
			klen = (size_t)(k + klen - sp);
			k = sp;
		}
#define KEY(name) (klen == sizeof(name) - 1 && memcmp(k, name, klen) == 0)
		if (KEY("CPID")) {
			if (parse_hex(v, vlen, 0xffff, &x) == 0) {
				out->cpid = (unsigned)x;
				out->has_cpid = 1;
				known++;
			} else {
				bad++;
			}
		} else if (KEY("BDID")) {
			if (parse_hex(v, vlen, 0xff, &x) == 0) {
				out->bdid = (unsigned)x;
				out->has_bdid = 1;
				known++;
			} else {
				bad++;
			}
		} else if (KEY("ECID")) {
			if (parse_hex(v, vlen, ~0ULL, &x) == 0) {
				out->ecid = x;
				out->has_ecid = 1;
				known++;
			} else {
				bad++;
			}
		} else if (KEY("CPRV")) {
			if (parse_hex(v, vlen, 0xff, &x) == 0)
				out->cprv = (unsigned)x;
		} else if (KEY("CPFM")) {
			if (parse_hex(v, vlen, 0xff, &x) == 0)
				out->cpfm = (unsigned)x;
		} else if (KEY("SCEP")) {
			if (parse_hex(v, vlen, 0xff, &x) == 0)
				out->scep = (unsigned)x;
		} else if (KEY("IBFL")) {
			if (parse_hex(v, vlen, 0xff, &x) == 0)
				out->ibfl = (unsigned)x;
		} else if (KEY("SRNM")) {
			copy_field(out->srnm, sizeof(out->srnm), v, vlen);
			known++;
		} else if (KEY("IMEI")) {
			copy_field(out->imei, sizeof(out->imei), v, vlen);
		} else if (KEY("SRTG")) {
			copy_field(out->srtg, sizeof(out->srtg), v, vlen);
		}
#undef KEY
	}
	if (known == 0 || bad > 0)
		return USBDEV_E_PARSE;
	return USBDEV_OK;
}

/* ---------------------------------------------------------------- enumeration */

static int
read_sysfs_attr(const char *dir, const char *name, char *out, size_t outlen)
{
	char path[512];
	FILE *f;
	size_t n;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -1; /* a sysfs path this long is not one we made */
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	n = fread(out, 1, outlen - 1, f);
	fclose(f);
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	return 0;
}

/* The serial string from sysfs: the kernel read it at enumeration (no device access needed). */
static int
sysfs_serial(unsigned busnum, unsigned devaddr, char *out, size_t outlen)
{
	const char *base = "/sys/bus/usb/devices";
	DIR *d = opendir(base);
	struct dirent *de;
	int found = -1;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL && found != 0) {
		char dir[512], v[32];
		if (de->d_name[0] == '.' || strchr(de->d_name, ':') != NULL)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", base, de->d_name);
		if (read_sysfs_attr(dir, "busnum", v, sizeof(v)) != 0 || (unsigned)atoi(v) != busnum)
			continue;
		if (read_sysfs_attr(dir, "devnum", v, sizeof(v)) != 0 || (unsigned)atoi(v) != devaddr)
			continue;
		if (read_sysfs_attr(dir, "serial", out, outlen) == 0)
			found = 0;
	}
	closedir(d);
	return found;
}

static void
fill_info(struct usbdev_info *u, const struct models *m)
{
	u->mode = usbdev_mode_from_pid(u->product_id);
	if (u->mode != USBDEV_MODE_NORMAL && u->serial[0] &&
	    usbdev_parse_iboot(u->serial, strlen(u->serial), &u->iboot) == USBDEV_OK) {
		if (u->iboot.has_ecid)
			snprintf(u->ecid, sizeof(u->ecid), "0x%llX", u->iboot.ecid);
		if (u->iboot.has_cpid && u->iboot.has_bdid) {
			const char *pt = models_by_chip(m, u->iboot.cpid, u->iboot.bdid);
			if (pt) {
				util_strlcpy(u->product_type, pt, sizeof(u->product_type));
				if (models_name(m, pt))
					util_strlcpy(u->model_name, models_name(m, pt),
					             sizeof(u->model_name));
			}
		}
	}
}

static int
list_ctx(libusb_context *ctx, struct usbdev_info **out, size_t *n, const struct models *m)
{
	libusb_device **devs = NULL;
	ssize_t cnt;
	struct usbdev_info *v = NULL;
	size_t nv = 0;

	cnt = libusb_get_device_list(ctx, &devs);
	if (cnt < 0)
		return cnt == LIBUSB_ERROR_ACCESS ? USBDEV_E_ACCESS : USBDEV_E_INIT;
	for (ssize_t i = 0; i < cnt; i++) {
		struct libusb_device_descriptor dd;
		struct usbdev_info *u;

		if (libusb_get_device_descriptor(devs[i], &dd) != 0 || dd.idVendor != APPLE_VID)
			continue;
		if (usbdev_mode_from_pid(dd.idProduct) == USBDEV_MODE_UNKNOWN)
			continue;
		v = xrealloc(v, (nv + 1) * sizeof(*v));
		u = &v[nv++];
		memset(u, 0, sizeof(*u));
		u->vendor_id = dd.idVendor;
		u->product_id = dd.idProduct;
		u->busnum = libusb_get_bus_number(devs[i]);
		u->devaddr = libusb_get_device_address(devs[i]);
		if (sysfs_serial(u->busnum, u->devaddr, u->serial, sizeof(u->serial)) != 0 &&
		    dd.iSerialNumber != 0) {
			libusb_device_handle *h = NULL;
			if (libusb_open(devs[i], &h) == 0) {
				unsigned char s[256];
				int r = libusb_get_string_descriptor_ascii(h, dd.iSerialNumber, s, sizeof(s));
				if (r > 0)
					copy_field(u->serial, sizeof(u->serial), (const char *)s, (size_t)r);
				libusb_close(h);
			}
		}
		fill_info(u, m);
	}
	libusb_free_device_list(devs, 1);
	*out = v;
	*n = nv;
	return USBDEV_OK;
}

int
usbdev_list(struct usbdev_info **out, size_t *n, const char *models_path)
{
	libusb_context *ctx = NULL;
	struct models *m;
	int r;

	*out = NULL;
	*n = 0;
	if (libusb_init(&ctx) != 0)
		return USBDEV_E_INIT;
	m = models_load(models_path, NULL, 0);
	r = list_ctx(ctx, out, n, m);
	models_free(m);
	libusb_exit(ctx);
	return r;
}

/* ---------------------------------------------------------------- hotplug */

/*
 * libusb hotplug when the platform has it, else (or with BENCHD_USB_POLL=1) a poll of the device
 * list every 500 ms. Both paths diff the list of Apple devices, so callbacks carry the parsed
 * iBoot fields, and both run on the watch thread.
 */
static struct {
	pthread_mutex_t lock;
	pthread_t thread;
	int running;
	atomic_int stop; /* written by usbdev_watch_stop, read by the watch thread */
	usbdev_event_cb cb;
	void *ctx;
	struct models *models;
	libusb_context *usb;
	libusb_hotplug_callback_handle handle;
	int use_hotplug;
	atomic_int dirty;
	struct usbdev_info *known;
	size_t nknown;
} W = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int
same_dev(const struct usbdev_info *a, const struct usbdev_info *b)
{
	return a->busnum == b->busnum && a->devaddr == b->devaddr && a->product_id == b->product_id;
}

static void
watch_diff(void)
{
	struct usbdev_info *now = NULL;
	size_t nnow = 0;

	if (list_ctx(W.usb, &now, &nnow, W.models) != USBDEV_OK)
		return;
	for (size_t i = 0; i < W.nknown; i++) {
		int still = 0;
		for (size_t j = 0; j < nnow && !still; j++)
			still = same_dev(&W.known[i], &now[j]);
		if (!still)
			W.cb(USBDEV_EVENT_REMOVE, &W.known[i], W.ctx);
	}
	for (size_t j = 0; j < nnow; j++) {
		int old = 0;
		for (size_t i = 0; i < W.nknown && !old; i++)
			old = same_dev(&W.known[i], &now[j]);
		if (!old)
			W.cb(USBDEV_EVENT_ADD, &now[j], W.ctx);
	}
	free(W.known);
	W.known = now;
	W.nknown = nnow;
}

static int LIBUSB_CALL
hotplug_cb(libusb_context *c, libusb_device *d, libusb_hotplug_event ev, void *ud)
{
	(void)c;
	(void)d;
	(void)ev;
	(void)ud;
	W.dirty = 1;
	return 0;
}

static void *
watch_main(void *arg)
{
	(void)arg;
	watch_diff();
	while (!W.stop) {
		if (W.use_hotplug) {
			struct timeval tv = {0, 200000};
			libusb_handle_events_timeout_completed(W.usb, &tv, NULL);
			if (W.dirty) {
				W.dirty = 0;
				watch_diff();
			}
		} else {
			usleep(500000);
			if (!W.stop)
				watch_diff();
		}
	}
	return NULL;
}

int
usbdev_watch_start(usbdev_event_cb cb, void *ctx, const char *models_path)
{
	const char *poll = getenv("BENCHD_USB_POLL");

	pthread_mutex_lock(&W.lock);
	if (W.running) {
		pthread_mutex_unlock(&W.lock);
		return USBDEV_OK;
	}
	/* libusb starts without usbfs too, and would then never see a device: say so (issue
	 * 18.3). umockdev's testbed provides a /dev/bus/usb of its own. */
	if (access("/dev/bus/usb", F_OK) != 0 || libusb_init(&W.usb) != 0) {
		pthread_mutex_unlock(&W.lock);
		return USBDEV_E_INIT;
	}
	W.cb = cb;
	W.ctx = ctx;
	W.stop = 0;
	W.dirty = 0;
	W.models = models_load(models_path, NULL, 0);
	W.use_hotplug = 0;
	if (!(poll && strcmp(poll, "1") == 0) && libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG) &&
	    libusb_hotplug_register_callback(
	        W.usb, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0, APPLE_VID,
	        LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, hotplug_cb, NULL,
	        &W.handle) == LIBUSB_SUCCESS)
		W.use_hotplug = 1;
	if (pthread_create(&W.thread, NULL, watch_main, NULL) != 0) {
		if (W.use_hotplug)
			libusb_hotplug_deregister_callback(W.usb, W.handle);
		libusb_exit(W.usb);
		models_free(W.models);
		W.models = NULL;
		pthread_mutex_unlock(&W.lock);
		return USBDEV_E_INIT;
	}
	W.running = 1;
	pthread_mutex_unlock(&W.lock);
	return USBDEV_OK;
}

void
usbdev_watch_stop(void)
{
	pthread_mutex_lock(&W.lock);
	if (!W.running) {
		pthread_mutex_unlock(&W.lock);
		return;
	}
	W.stop = 1;
	if (W.use_hotplug)
		libusb_hotplug_deregister_callback(W.usb, W.handle); /* wakes the event loop */
	pthread_join(W.thread, NULL);
	libusb_exit(W.usb);
	W.usb = NULL;
	models_free(W.models);
	W.models = NULL;
	free(W.known);
	W.known = NULL;
	W.nknown = 0;
	W.running = 0;
	pthread_mutex_unlock(&W.lock);
}

/* ---------------------------------------------------------------- snapshot */

json_t *
usbdev_snapshot(const struct usbdev_info *u)
{
	json_t *s = json_object(), *d = json_object(), *usb = json_object();
	char ts[40], hex[24];

	util_rfc3339(time(NULL), ts, sizeof(ts));
	json_object_set_new(s, "schema", json_string("benchd.snapshot/1"));
	json_object_set_new(s, "captured_at", json_string(ts));
	json_object_set_new(s, "software", json_string("benchd " BENCHD_VERSION));
	json_object_set_new(s, "probes", json_array());
	json_object_set_new(d, "mode", json_string(usbdev_mode_name(u->mode)));
	json_object_set_new(d, "lockdown", json_string(u->mode == USBDEV_MODE_NORMAL ? "ok" : "unavailable"));
	if (u->ecid[0])
		json_object_set_new(d, "ecid", json_string(u->ecid));
	if (u->iboot.srnm[0])
		json_object_set_new(d, "serial", json_string(u->iboot.srnm));
	if (u->product_type[0])
		json_object_set_new(d, "product_type", json_string(u->product_type));
	if (u->model_name[0])
		json_object_set_new(d, "model_name", json_string(u->model_name));
	json_object_set_new(usb, "vendor_id", json_integer(u->vendor_id));
	json_object_set_new(usb, "product_id", json_integer(u->product_id));
	if (u->iboot.has_cpid) {
		snprintf(hex, sizeof(hex), "0x%04X", u->iboot.cpid);
		json_object_set_new(usb, "cpid", json_string(hex));
	}
	if (u->iboot.has_bdid) {
		snprintf(hex, sizeof(hex), "0x%02x", u->iboot.bdid);
		json_object_set_new(usb, "bdid", json_string(hex));
	}
	if (u->iboot.srtg[0])
		json_object_set_new(usb, "srtg", json_string(u->iboot.srtg));
	if (u->iboot.imei[0])
		json_object_set_new(usb, "imei", json_string(u->iboot.imei));
	if (u->serial[0]) {
		char clean[256];
		copy_field(clean, sizeof(clean), u->serial, strlen(u->serial));
		json_object_set_new(usb, "iboot", json_string(clean));
	}
	json_object_set_new(d, "usb", usb);
	json_object_set_new(s, "device", d);
	json_object_set_new(s, "raw", json_object());
	json_object_set_new(s, "errors", json_array());
	return s;
}
