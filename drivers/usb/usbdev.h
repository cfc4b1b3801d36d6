/*
 * usbdev: Apple devices at the USB level (libusb), in every mode: normal (0x1290-0x12af),
 * recovery (0x1280-0x1283), DFU (0x1227), WTF (0x1222), Port DFU (0xf014). Parses the iBoot
 * serial string (CPID, BDID, ECID, SRNM, IMEI, SRTG, ...) and resolves CPID+BDID to a model
 * through diag-trees/models.json. Only drivers/ includes libusb headers; this one does not.
 * Ownership: usbdev_list's array is the caller's (free); usbdev_watch_* own their thread.
 */
#ifndef BENCHD_USBDEV_H
#define BENCHD_USBDEV_H

#include <jansson.h>
#include <stddef.h>

enum usbdev_err {
	USBDEV_OK = 0,
	USBDEV_E_INIT = -1,   /* libusb could not start (no /dev/bus/usb?) */
	USBDEV_E_ACCESS = -2, /* permission denied: add the user to the benchd group (udev/) */
	USBDEV_E_PARSE = -3,  /* an iBoot string that makes no sense */
	USBDEV_E_UNKNOWN = -256,
};
const char *usbdev_strerror(int err);

enum usbdev_mode {
	USBDEV_MODE_UNKNOWN = 0,
	USBDEV_MODE_NORMAL,
	USBDEV_MODE_RECOVERY,
	USBDEV_MODE_DFU,
	USBDEV_MODE_WTF,
	USBDEV_MODE_PORT_DFU,
};
/* "normal", "recovery", "dfu", "wtf", "port-dfu", "unknown" (snapshot device.mode). */
const char *usbdev_mode_name(enum usbdev_mode mode);
enum usbdev_mode usbdev_mode_from_pid(unsigned product_id);

/* Fields of an iBoot serial string; absent fields are 0 / "". */
struct iboot_info {
	unsigned cpid, cprv, cpfm, scep, bdid, ibfl;
	unsigned long long ecid;
	char srnm[64], imei[32], srtg[96];
	int has_cpid, has_bdid, has_ecid;
};
/* Parse "CPID:8030 CPRV:11 ... SRNM:[F2L...]". Bounded; survives garbage. */
int usbdev_parse_iboot(const char *s, size_t len, struct iboot_info *out);

struct usbdev_info {
	unsigned vendor_id, product_id, busnum, devaddr;
	enum usbdev_mode mode;
	char serial[256]; /* iSerialNumber as read (the iBoot string outside normal mode) */
	struct iboot_info iboot;
	char ecid[24];         /* "0x..." when known */
	char product_type[32]; /* resolved from CPID+BDID, "" when unknown */
	char model_name[64];
};
/* Enumerate Apple devices. *out malloc'd; caller frees. */
int usbdev_list(struct usbdev_info **out, size_t *n, const char *models_path);

enum usbdev_event_kind { USBDEV_EVENT_ADD = 1, USBDEV_EVENT_REMOVE = 2 };
typedef void (*usbdev_event_cb)(enum usbdev_event_kind kind, const struct usbdev_info *dev, void *ctx);
/* Hotplug on a thread of its own; callbacks on that thread. */
int usbdev_watch_start(usbdev_event_cb cb, void *ctx, const char *models_path);
void usbdev_watch_stop(void);

/* A snapshot for a recovery/DFU/WTF/Port DFU device: device fields from USB, lockdown
 * "unavailable", no probes. The caller owns the result. */
json_t *usbdev_snapshot(const struct usbdev_info *dev);

#endif
