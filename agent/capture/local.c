/* capture_local: see local.h. The reading itself, as the reader process runs it. */
#include "local.h"

#include "engine.h"
#include "idevice.h"
#include "log.h"
#include "models.h"
#include "usbdev.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static void
setwhy(char *why, size_t whylen, const char *s)
{
	if (why && whylen)
		util_strlcpy(why, s, whylen);
}

/* The exact bytes: sorted keys, 2-space indent, reals shortest-exact to 15 digits, "\n". */
static int
dump(json_t *snap, char **bytes, size_t *len)
{
	char *s = json_dumps(snap, JSON_SORT_KEYS | JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	size_t n;

	if (s == NULL)
		return -1;
	n = strlen(s);
	*bytes = xmalloc(n + 2);
	memcpy(*bytes, s, n);
	(*bytes)[n] = '\n';
	(*bytes)[n + 1] = '\0';
	*len = n + 1;
	free(s);
	return 0;
}

/* Upper-case hex digits of an ECID-ish id, without "0x" and leading zeros. */
static int
norm_hex(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	if (strncasecmp(in, "0x", 2) == 0)
		in += 2;
	while (*in == '0' && in[1] != '\0')
		in++;
	for (; *in; in++) {
		if (!isxdigit((unsigned char)*in) || o + 1 >= outlen)
			return -1;
		out[o++] = (char)toupper((unsigned char)*in);
	}
	out[o] = '\0';
	return o > 0 ? 0 : -1;
}

/* Does id name this USB-level device: its ECID (hex, 0x optional), its UDID
 * (CPID-ECID form "00008030-001A35E21A05802E") or the serial number it reports? */
static int
usb_matches(const struct usbdev_info *u, const char *id)
{
	char a[40], b[40];
	const char *dash = strchr(id, '-');

	if (u->ecid[0] && norm_hex(u->ecid, a, sizeof(a)) == 0) {
		if (norm_hex(id, b, sizeof(b)) == 0 && strcmp(a, b) == 0)
			return 1;
		if (dash && norm_hex(dash + 1, b, sizeof(b)) == 0 && strcmp(a, b) == 0)
			return 1;
	}
	if (u->iboot.srnm[0] && strcasecmp(u->iboot.srnm, id) == 0)
		return 1;
	return 0;
}

void
local_rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			char *p;
			struct stat st;
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			p = xasprintf("%s/%s", path, de->d_name);
			if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
				local_rm_tree(p);
			else
				unlink(p);
			free(p);
		}
		closedir(d);
	}
	rmdir(path);
}

/* Fill syslog.signatures with the engine's scanner (trees stay pure functions of the snapshot). */
static void
fill_signatures(json_t *snap, const char *trees_dir)
{
	json_t *sl = json_object_get(snap, "syslog"), *sigs = NULL;
	char *rules, why[256] = "";

	if (!json_is_object(sl) || !json_is_array(json_object_get(sl, "log")))
		return;
	rules = xasprintf("%s/syslog-rules.txt", trees_dir);
	if (engine_scan_syslog(rules, json_object_get(sl, "log"), &sigs, why, sizeof(why)) == ENGINE_OK &&
	    json_is_array(sigs)) {
		json_object_set_new(sl, "signatures", sigs);
	} else {
		json_t *e = json_object();
		json_decref(sigs);
		log_warnx("syslog signatures not scanned: %s", why);
		json_object_set_new(e, "probe", json_string("syslog"));
		json_object_set_new(e, "reason",
		                    json_string("syslog signatures could not be scanned (rules file)"));
		json_array_append_new(json_object_get(snap, "errors"), e);
	}
	free(rules);
}

int
capture_local(const char *id, const struct capture_opts *opts, char **bytes, size_t *len, int *device_err,
              char *why, size_t whylen)
{
	struct capture_opts none = {0};
	struct idev_info *mux = NULL;
	struct usbdev_info *usb = NULL;
	size_t nmux = 0, nusb = 0;
	int mr, ur, r = 0, in_mux = 0;
	const char *tdir;
	char *models, *tmpdir = NULL, udid_buf[65];
	json_t *snap = NULL;

	*bytes = NULL;
	*len = 0;
	if (device_err)
		*device_err = 0;
	if (opts == NULL)
		opts = &none;
	if (id == NULL || *id == '\0') {
		setwhy(why, whylen, "no device id given");
		return IDEV_E_NOT_FOUND;
	}
	tdir = capture_trees_dir(opts);
	models = xasprintf("%s/models.json", tdir);

	mr = idev_list(&mux, &nmux);
	for (size_t i = 0; mr == IDEV_OK && i < nmux && !in_mux; i++)
		if (strcmp(mux[i].udid, id) == 0)
			in_mux = 1;
	/* an ECID names a normal-mode device too: its UDID is CPID-ECID (iPhone XS and later) */
	for (size_t i = 0; mr == IDEV_OK && i < nmux && !in_mux; i++) {
		char a[40], b[40];
		const char *dash = strchr(mux[i].udid, '-');
		if (dash && strchr(id, '-') == NULL && norm_hex(dash + 1, a, sizeof(a)) == 0 &&
		    norm_hex(id, b, sizeof(b)) == 0 && strcmp(a, b) == 0) {
			util_strlcpy(udid_buf, mux[i].udid, sizeof(udid_buf));
			id = udid_buf;
			in_mux = 1;
		}
	}
	free(mux);

	if (in_mux) {
		struct idev_opts io = {0};
		struct idev_session *s = NULL;
		const char *tmpd = getenv("TMPDIR");
		char *crash_tmpl = xasprintf("%s/benchd-crash-XXXXXX", tmpd && *tmpd ? tmpd : "/tmp");
		int err;

		io.probes = opts->probes;
		io.nprobes = opts->nprobes;
		io.syslog_seconds = opts->syslog_seconds;
		io.crash_dir = opts->crash_dir;
		io.models_path = models;
		io.label = "benchd";
		io.progress = opts->progress;
		io.progress_ctx = opts->progress_ctx;
		io.event = opts->event;
		io.event_ctx = opts->event_ctx;
		io.budget_s = opts->deadline_s;
		io.cancel = opts->cancel;
		if (io.crash_dir == NULL) {
			tmpdir = mkdtemp(crash_tmpl) ? xstrdup(crash_tmpl) : NULL; /* 0700 */
			io.crash_dir = tmpdir;
		} else if (util_mkdir_p(io.crash_dir, 0700) != 0) {
			char m[512];
			snprintf(m, sizeof(m), "crash folder %s: %s", io.crash_dir, strerror(errno));
			setwhy(why, whylen, m);
			free(models);
			free(crash_tmpl);
			return IDEV_E_IO;
		}
		err = idev_session_new(id, &io, &s, why, whylen);
		if (err == IDEV_E_LOCKED || err == IDEV_E_UNTRUSTED || err == IDEV_E_PAIRING_PENDING) {
			char pt[64];
			snap = idev_snapshot_unreadable(id, err, why);
			/* lockdown still says what the device is without a session: the report can
			 * name the model even when nothing else could be read */
			if (idev_peek(id, pt, sizeof(pt), NULL, 0) == IDEV_OK && pt[0]) {
				struct models *m = models_load(models, NULL, 0);
				json_t *d = json_object_get(snap, "device");
				json_object_set_new(d, "product_type", json_string(pt));
				if (models_name(m, pt))
					json_object_set_new(d, "model_name", json_string(models_name(m, pt)));
				models_free(m);
			}
			if (device_err)
				*device_err = err;
		} else if (err != IDEV_OK) {
			r = err;
		} else {
			if (idev_session_snapshot(s, &snap, why, whylen) != IDEV_OK) {
				r = IDEV_E_PROTOCOL;
			} else {
				int de = idev_session_device_err(s, why, whylen);
				if (device_err)
					*device_err = de;
				fill_signatures(snap, tdir);
			}
			idev_session_free(s);
		}
		if (tmpdir) {
			local_rm_tree(tmpdir);
			free(tmpdir);
		}
		free(crash_tmpl);
	} else {
		/* not on usbmux: a recovery/DFU/WTF/Port DFU device at the USB level? */
		ur = usbdev_list(&usb, &nusb, models);
		for (size_t i = 0; ur == USBDEV_OK && i < nusb && snap == NULL; i++)
			if (usb[i].mode != USBDEV_MODE_NORMAL && usb_matches(&usb[i], id))
				snap = usbdev_snapshot(&usb[i]);
		free(usb);
		if (snap == NULL) {
			char m[512];
			if (mr == IDEV_E_NO_USBMUXD) {
				snprintf(m, sizeof(m),
				         "no device %s in recovery/DFU mode, and usbmuxd is not running "
				         "(start it: systemctl start usbmuxd)",
				         id);
				r = IDEV_E_NO_USBMUXD;
			} else {
				snprintf(m, sizeof(m),
				         "no device %s: check the cable and that the phone is switched on",
				         id);
				r = IDEV_E_NOT_FOUND;
			}
			setwhy(why, whylen, m);
		}
	}
	free(models);
	if (r != 0) {
		json_decref(snap);
		return r;
	}
	if (dump(snap, bytes, len) != 0) {
		json_decref(snap);
		setwhy(why, whylen, "the snapshot could not be written as JSON");
		return IDEV_E_PROTOCOL;
	}
	json_decref(snap);
	return 0;
}
