/*
 * emu_profile: load and check one profile directory (DESIGN.md 4.2) into a core_dev.
 *
 * Every problem is one line naming the file and what is wrong, e.g.
 *   "p/device.plist: Behaviour/LatencyMs must be an integer 0..60000".
 * Owns: the device.plist tree (freed by core_dev_free).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "emu_core.h"
#include "util.h"

#define PROFILE_MAX        (16u * 1024 * 1024)
#define DEFAULT_PRODUCT_ID 0x12a8

static const char *const disconnect_stages[] = {"handshake", "diagnostics", "syslog", "afc", NULL};

static int
get_bool(plist_t dict, const char *key, int def, int *out)
{
	plist_t n = plist_dict_get_item(dict, key);
	uint8_t b = 0;

	if (n == NULL) {
		*out = def;
		return 0;
	}
	if (plist_get_node_type(n) != PLIST_BOOLEAN)
		return -1;
	plist_get_bool_val(n, &b);
	*out = b != 0;
	return 0;
}

static int
check_behaviour(plist_t beh, struct emu_device *d, char *why, size_t whylen)
{
	plist_dict_iter it = NULL;
	char *key = NULL;
	plist_t val = NULL;
	plist_t n;

	plist_dict_new_iter(beh, &it);
	for (;;) {
		key = NULL;
		plist_dict_next_item(beh, it, &key, &val);
		if (key == NULL)
			break;
		if (strcmp(key, "Paired") && strcmp(key, "PasscodeLocked") && strcmp(key, "TrustPending") &&
		    strcmp(key, "LatencyMs") && strcmp(key, "DisconnectAfter") &&
		    strcmp(key, "ServicePortZero")) {
			snprintf(why, whylen,
			         "unknown Behaviour key '%s' (known: Paired, PasscodeLocked, TrustPending, "
			         "LatencyMs, "
			         "DisconnectAfter, ServicePortZero)",
			         key);
			free(key);
			free(it);
			return -1;
		}
		free(key);
	}
	free(it);
	if (get_bool(beh, "Paired", 1, &d->paired)) {
		snprintf(why, whylen, "Behaviour/Paired must be a boolean");
		return -1;
	}
	if (get_bool(beh, "PasscodeLocked", 0, &d->passcode_locked)) {
		snprintf(why, whylen, "Behaviour/PasscodeLocked must be a boolean");
		return -1;
	}
	if (get_bool(beh, "TrustPending", 0, &d->trust_pending)) {
		snprintf(why, whylen, "Behaviour/TrustPending must be a boolean");
		return -1;
	}
	if (get_bool(beh, "ServicePortZero", 0, &d->service_port_zero)) {
		snprintf(why, whylen, "Behaviour/ServicePortZero must be a boolean");
		return -1;
	}
	n = plist_dict_get_item(beh, "LatencyMs");
	if (n != NULL) {
		uint64_t v = 0;
		if (plist_get_node_type(n) == PLIST_UINT)
			plist_get_uint_val(n, &v);
		if (plist_get_node_type(n) != PLIST_UINT || v > 60000) {
			snprintf(why, whylen, "Behaviour/LatencyMs must be an integer 0..60000");
			return -1;
		}
		d->latency_ms = (int)v;
	}
	n = plist_dict_get_item(beh, "DisconnectAfter");
	if (n != NULL) {
		const char *s = plist_get_node_type(n) == PLIST_STRING ? plist_get_string_ptr(n, NULL) : NULL;
		int ok = 0;
		for (int i = 0; s != NULL && disconnect_stages[i] != NULL; i++)
			if (strcmp(s, disconnect_stages[i]) == 0)
				ok = 1;
		if (!ok) {
			snprintf(
			    why, whylen,
			    "Behaviour/DisconnectAfter must be one of handshake, diagnostics, syslog, afc");
			return -1;
		}
		util_strlcpy(d->disconnect_after, s, sizeof(d->disconnect_after));
	}
	return 0;
}

static int
check_udid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return -1;
	return 0;
}

/* The whole check; fills d from root. */
static int
check_profile(plist_t root, struct emu_device *d, char *why, size_t whylen)
{
	plist_t lockdown, rootdom, udid, n;
	plist_dict_iter it = NULL;
	char *key = NULL;
	plist_t val = NULL;
	const char *s;

	if (plist_get_node_type(root) != PLIST_DICT) {
		snprintf(why, whylen, "the top level is not a dictionary");
		return -1;
	}
	lockdown = plist_dict_get_item(root, "Lockdown");
	if (lockdown == NULL || plist_get_node_type(lockdown) != PLIST_DICT) {
		snprintf(why, whylen, "missing Lockdown dictionary");
		return -1;
	}
	plist_dict_new_iter(lockdown, &it);
	for (;;) {
		key = NULL;
		plist_dict_next_item(lockdown, it, &key, &val);
		if (key == NULL)
			break;
		if (plist_get_node_type(val) != PLIST_DICT) {
			snprintf(why, whylen, "Lockdown/%s is not a dictionary", key);
			free(key);
			free(it);
			return -1;
		}
		free(key);
	}
	free(it);
	rootdom = plist_dict_get_item(lockdown, "Root");
	if (rootdom == NULL) {
		snprintf(why, whylen, "missing Lockdown/Root dictionary");
		return -1;
	}
	udid = plist_dict_get_item(rootdom, "UniqueDeviceID");
	s = udid != NULL && plist_get_node_type(udid) == PLIST_STRING ? plist_get_string_ptr(udid, NULL)
	                                                              : NULL;
	if (s == NULL || check_udid(s) != 0) {
		snprintf(why, whylen,
		         "Lockdown/Root/UniqueDeviceID must be a string of 1..64 letters, digits or '-'");
		return -1;
	}
	util_strlcpy(d->udid, s, sizeof(d->udid));
	n = plist_dict_get_item(root, "IORegistry");
	if (n != NULL && plist_get_node_type(n) != PLIST_DICT) {
		snprintf(why, whylen, "IORegistry is not a dictionary");
		return -1;
	}
	n = plist_dict_get_item(root, "MobileGestalt");
	if (n != NULL && plist_get_node_type(n) != PLIST_DICT && plist_get_node_type(n) != PLIST_STRING) {
		snprintf(why, whylen, "MobileGestalt must be a dictionary or the string \"Deprecated\"");
		return -1;
	}
	n = plist_dict_get_item(root, "Diagnostics");
	if (n != NULL && plist_get_node_type(n) != PLIST_DICT) {
		snprintf(why, whylen, "Diagnostics is not a dictionary");
		return -1;
	}
	d->product_id = DEFAULT_PRODUCT_ID;
	n = plist_dict_get_item(root, "ProductID");
	if (n != NULL) {
		uint64_t v = 0;
		if (plist_get_node_type(n) == PLIST_UINT)
			plist_get_uint_val(n, &v);
		if (plist_get_node_type(n) != PLIST_UINT || v == 0 || v > 0xffff) {
			snprintf(why, whylen, "ProductID must be an integer 1..65535");
			return -1;
		}
		d->product_id = (unsigned)v;
	}
	if (core_clock_load(root, d, why, whylen) != 0)
		return -1;
	d->paired = 1;
	n = plist_dict_get_item(root, "Behaviour");
	if (n != NULL) {
		if (plist_get_node_type(n) != PLIST_DICT) {
			snprintf(why, whylen, "Behaviour is not a dictionary");
			return -1;
		}
		if (check_behaviour(n, d, why, whylen) != 0)
			return -1;
	}
	return 0;
}

int
core_profile_load(const char *dir, struct core_dev **out, char *err, size_t errlen)
{
	char *path = xasprintf("%s/device.plist", dir);
	char *data = NULL;
	size_t len = 0;
	plist_t root = NULL;
	struct core_dev *cd;
	char why[256];
	char real[PATH_MAX];
	struct stat st;

	*out = NULL;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a profile directory: %s", dir,
		         stat(dir, &st) != 0 ? strerror(errno) : "not a directory");
		free(path);
		return -1;
	}
	if (util_read_file(path, PROFILE_MAX, &data, &len) != 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path,
		         errno == EFBIG ? "larger than 16 MiB" : strerror(errno));
		free(path);
		return -1;
	}
	if (len >= 8 && memcmp(data, "bplist00", 8) == 0)
		plist_from_bin(data, (uint32_t)len, &root);
	else
		plist_from_xml(data, (uint32_t)len, &root);
	free(data);
	if (root == NULL) {
		snprintf(err, errlen, "%s: not a valid XML property list", path);
		free(path);
		return -1;
	}
	cd = xcalloc(1, sizeof(*cd));
	if (check_profile(root, &cd->d, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		plist_free(root);
		free(cd);
		free(path);
		return -1;
	}
	free(path);
	cd->d.plist = root;
	if (realpath(dir, real) == NULL)
		util_strlcpy(real, dir, sizeof(real));
	util_strlcpy(cd->d.dir, real, sizeof(cd->d.dir));
	core_udid_key(cd->d.udid, cd->mux_serial, sizeof(cd->mux_serial));
	/* libusbmuxd re-inserts the '-' only for the 8+16 form; other UDIDs travel as they are */
	if (!(strlen(cd->d.udid) == 25 && cd->d.udid[8] == '-'))
		util_strlcpy(cd->mux_serial, cd->d.udid, sizeof(cd->mux_serial));
	cd->next_port = 49152;
	atomic_init(&cd->d.detached, 0);
	*out = cd;
	return 0;
}

void
core_dev_free(struct core_dev *cd)
{
	if (cd == NULL)
		return;
	plist_free(cd->d.plist);
	free(cd);
}
