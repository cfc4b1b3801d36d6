/*
 * com.apple.crashreportcopymobile: AFC over the profile's crashes/ folder, read-only on disk.
 *
 * Packets (PROTOCOL.md 5): a 40-byte little-endian header "CFA6LPAA", entire_length,
 * this_length, packet_num, operation; replies echo packet_num, carry DATA in the payload part
 * (this_length 40) and STATUS as a 48-byte packet, each in one write.
 *
 * RemovePath never touches the profile: removed paths go into a per-run set (keyed by UDID,
 * kept until the emulator exits) and disappear from that device's listing, as on a phone.
 * Owns: the connection's open-file table; the removed set is process-wide under a mutex.
 */
#include "svc.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "util.h"

#define AFC_HDR         40
#define AFC_MAX_REQUEST ((size_t)64 * 1024)   /* no writes are accepted: requests are small */
#define AFC_MAX_READ    ((size_t)1024 * 1024) /* FileRead replies are capped at this */
#define AFC_MAX_LISTING ((size_t)1024 * 1024)
#define AFC_MAX_PATH    1024
#define AFC_MAX_HANDLES 16
#define AFC_MAX_SEEK    ((int64_t)1 << 40) /* no crash report is a terabyte */
#define AFC_IDLE_MS     (4 * EMU_READ_TIMEOUT_MS)

static const unsigned char afc_magic[8] = {'C', 'F', 'A', '6', 'L', 'P', 'A', 'A'};

enum afc_op {
	AFC_OP_STATUS = 0x01,
	AFC_OP_DATA = 0x02,
	AFC_OP_READ_DIR = 0x03,
	AFC_OP_REMOVE_PATH = 0x08,
	AFC_OP_GET_FILE_INFO = 0x0a,
	AFC_OP_GET_DEVINFO = 0x0b,
	AFC_OP_FILE_OPEN = 0x0d,
	AFC_OP_FILE_OPEN_RES = 0x0e,
	AFC_OP_FILE_READ = 0x0f,
	AFC_OP_FILE_SEEK = 0x11,
	AFC_OP_FILE_TELL = 0x12,
	AFC_OP_FILE_TELL_RES = 0x13,
	AFC_OP_FILE_CLOSE = 0x14,
	AFC_OP_REMOVE_PATH_AND_CONTENTS = 0x22,
};

enum afc_status {
	AFC_S_OK = 0,
	AFC_S_UNKNOWN = 1,
	AFC_S_NO_RESOURCES = 3,
	AFC_S_READ_ERROR = 4,
	AFC_S_INVALID_ARG = 7,
	AFC_S_NOT_FOUND = 8,
	AFC_S_IS_DIR = 9,
	AFC_S_PERM_DENIED = 10,
	AFC_S_NOT_SUPPORTED = 15,
	AFC_S_DIR_NOT_EMPTY = 33,
};

struct afc_file {
	uint64_t handle; /* 0: free slot */
	int fd;
	off_t pos;
	char *mem; /* the report with its dates moved (Clock/CrashDatesAsOf), or NULL: read fd */
	size_t memlen;
};

struct afc_conn {
	int fd;
	struct emu_device *d;
	char root[4200]; /* <profile>/crashes */
	uint64_t packet_num;
	uint64_t next_handle;
	int reads; /* FileRead requests seen (DisconnectAfter "afc") */
	struct afc_file files[AFC_MAX_HANDLES];
};

/* ---- the removed set: "udid\0relpath" entries for the whole run ---- */

static pthread_mutex_t afc_removed_mu = PTHREAD_MUTEX_INITIALIZER;
static struct afc_removed {
	char *udid;
	char *path;
} * afc_removed;
static size_t afc_nremoved;

static int
afc_is_removed_locked(const char *udid, const char *rel)
{
	size_t i, n;

	for (i = 0; i < afc_nremoved; i++) {
		if (strcmp(afc_removed[i].udid, udid) != 0)
			continue;
		n = strlen(afc_removed[i].path);
		/* the path itself or anything under a removed directory */
		if (strncmp(rel, afc_removed[i].path, n) == 0 && (rel[n] == '\0' || rel[n] == '/'))
			return 1;
	}
	return 0;
}

static int
afc_is_removed(const char *udid, const char *rel)
{
	int r;

	pthread_mutex_lock(&afc_removed_mu);
	r = afc_is_removed_locked(udid, rel);
	pthread_mutex_unlock(&afc_removed_mu);
	return r;
}

static void
afc_mark_removed(const char *udid, const char *rel)
{
	pthread_mutex_lock(&afc_removed_mu);
	if (!afc_is_removed_locked(udid, rel)) {
		afc_removed = xrealloc(afc_removed, (afc_nremoved + 1) * sizeof(*afc_removed));
		afc_removed[afc_nremoved].udid = xstrdup(udid);
		afc_removed[afc_nremoved].path = xstrdup(rel);
		afc_nremoved++;
	}
	pthread_mutex_unlock(&afc_removed_mu);
}

static void __attribute__((destructor)) afc_removed_free(void)
{
	size_t i;

	for (i = 0; i < afc_nremoved; i++) {
		free(afc_removed[i].udid);
		free(afc_removed[i].path);
	}
	free(afc_removed);
	afc_removed = NULL;
	afc_nremoved = 0;
}

/* ---- relative dates (Clock/CrashDatesAsOf, emu_clock.c) ---- */

#define AFC_MAX_SHIFTED ((size_t)16 * 1024 * 1024) /* larger reports are served as they are */

/* A name or path as the phone shows it (dir +1: disk -> phone) or back (-1). */
static void
afc_dates_path(const struct afc_conn *c, const char *in, char *out, size_t outlen, int dir)
{
	util_strlcpy(out, in, outlen);
	emu_dates_shift(c->d, out, strlen(out), dir);
}

/* Read the whole report into f->mem with its dates moved; the sizes do not change. */
static void
afc_load_shifted(const struct afc_conn *c, struct afc_file *f)
{
	struct stat st;
	size_t got = 0;

	if (!emu_dates_active(c->d) || fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > AFC_MAX_SHIFTED)
		return;
	f->mem = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(f->fd, f->mem + got, (size_t)st.st_size - got, (off_t)got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	f->memlen = got;
	emu_dates_shift(c->d, f->mem, f->memlen, +1);
}

/* ---- paths ---- */

/*
 * Normalise a device path ("./x", "/x/", "x//y") into a path relative to crashes/ ("" is the
 * root). Refuses "..", over-long paths and NULs inside the given length. 0 or -1.
 */
static int
afc_norm(const char *in, size_t inlen, char *out, size_t outlen)
{
	size_t o = 0, i = 0;

	if (inlen > AFC_MAX_PATH || outlen == 0)
		return -1;
	while (i < inlen && in[i] != '\0') {
		size_t s, n;

		while (i < inlen && in[i] == '/')
			i++;
		s = i;
		while (i < inlen && in[i] != '/' && in[i] != '\0')
			i++;
		n = i - s;
		if (n == 0 || (n == 1 && in[s] == '.'))
			continue;
		if (n == 2 && in[s] == '.' && in[s + 1] == '.')
			return -1;
		if (o + (o ? 1 : 0) + n + 1 > outlen)
			return -1;
		if (o)
			out[o++] = '/';
		memcpy(out + o, in + s, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

/* The on-disk path for rel, unless it was removed: 0, or an AFC status. */
static int
afc_resolve(const struct afc_conn *c, const char *rel, char *out, size_t outlen, struct stat *st)
{
	char disk[AFC_MAX_PATH + 1];
	int n;

	if (*rel && afc_is_removed(c->d->udid, rel))
		return AFC_S_NOT_FOUND;
	afc_dates_path(c, rel, disk, sizeof(disk), -1); /* the file on disk has the profile's dates */
	n = snprintf(out, outlen, "%s%s%s", c->root, *disk ? "/" : "", disk);
	if (n < 0 || (size_t)n >= outlen)
		return AFC_S_INVALID_ARG;
	if (lstat(out, st) != 0) {
		if (!*rel && errno == ENOENT) {
			/* a profile without crashes/: a phone with nothing to report */
			memset(st, 0, sizeof(*st));
			st->st_mode = S_IFDIR | 0755;
			st->st_nlink = 2;
			return AFC_S_OK;
		}
		return errno == EACCES ? AFC_S_PERM_DENIED : AFC_S_NOT_FOUND;
	}
	return AFC_S_OK;
}

/* ---- packets ---- */

static int
afc_send(struct afc_conn *c, uint64_t op, const void *hdata, size_t hlen, const void *payload, size_t plen)
{
	size_t total = AFC_HDR + hlen + plen;
	unsigned char *p = xmalloc(total);
	uint64_t v;
	int rc;

	memcpy(p, afc_magic, sizeof(afc_magic));
	v = htole64(total);
	memcpy(p + 8, &v, 8);
	v = htole64(AFC_HDR + hlen);
	memcpy(p + 16, &v, 8);
	v = htole64(c->packet_num);
	memcpy(p + 24, &v, 8);
	v = htole64(op);
	memcpy(p + 32, &v, 8);
	if (hlen)
		memcpy(p + AFC_HDR, hdata, hlen);
	if (plen)
		memcpy(p + AFC_HDR + hlen, payload, plen);
	emu_delay(c->d);
	rc = emu_write_all(c->fd, p, total);
	free(p);
	return rc;
}

static int
afc_status(struct afc_conn *c, uint64_t code)
{
	uint64_t v = htole64(code);

	return afc_send(c, AFC_OP_STATUS, &v, 8, NULL, 0);
}

static int
afc_data(struct afc_conn *c, const void *p, size_t n)
{
	return afc_send(c, AFC_OP_DATA, NULL, 0, p, n);
}

static int
afc_u64(const unsigned char *p, size_t len, size_t off, uint64_t *out)
{
	uint64_t v;

	if (len < off + 8)
		return -1;
	memcpy(&v, p + off, 8);
	*out = le64toh(v);
	return 0;
}

/* ---- operations ---- */

static int
afc_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
afc_read_dir(struct afc_conn *c, const char *rel)
{
	char path[4400];
	struct stat st;
	struct dirent *de;
	struct buf b;
	char **names = NULL;
	size_t n = 0, i;
	DIR *dir;
	int s, rc = 0;

	if ((s = afc_resolve(c, rel, path, sizeof(path), &st)) != AFC_S_OK)
		return afc_status(c, s);
	if (!S_ISDIR(st.st_mode))
		return afc_status(c, AFC_S_INVALID_ARG);
	if (!(dir = opendir(path)) && !(errno == ENOENT && !*rel))
		return afc_status(c, AFC_S_PERM_DENIED);
	while (dir && (de = readdir(dir))) {
		char *child, view[AFC_MAX_PATH + 1];

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		afc_dates_path(c, de->d_name, view, sizeof(view), +1);
		child = *rel ? xasprintf("%s/%s", rel, view) : xstrdup(view);
		if (!afc_is_removed(c->d->udid, child)) {
			names = xrealloc(names, (n + 1) * sizeof(*names));
			names[n++] = xstrdup(view);
		}
		free(child);
	}
	if (dir)
		closedir(dir);
	if (n > 1)
		qsort(names, n, sizeof(*names), afc_cmp);
	buf_init(&b, AFC_MAX_LISTING);
	s = buf_add(&b, ".", 2);
	if (s == BUF_OK)
		s = buf_add(&b, "..", 3);
	for (i = 0; i < n; i++) {
		if (s == BUF_OK)
			s = buf_add(&b, names[i], strlen(names[i]) + 1);
		free(names[i]);
	}
	free(names);
	rc = s == BUF_OK ? afc_data(c, b.data, b.len) : afc_status(c, AFC_S_NO_RESOURCES);
	buf_free(&b);
	return rc;
}

/* A directory with anything left that this device still shows. */
static int
afc_dir_has_visible(const struct afc_conn *c, const char *path, const char *rel)
{
	struct dirent *de;
	DIR *dir = opendir(path);
	int found = 0;

	if (!dir)
		return 0;
	while (!found && (de = readdir(dir))) {
		char *child, view[AFC_MAX_PATH + 1];

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		afc_dates_path(c, de->d_name, view, sizeof(view), +1);
		child = xasprintf("%s/%s", rel, view);
		found = !afc_is_removed(c->d->udid, child);
		free(child);
	}
	closedir(dir);
	return found;
}

/*
 * A report's time as the phone knows it: the "-YYYY-MM-DD-HHMMSS" its name carries, in the
 * device's local time (Root/TimeZoneOffsetFromUTC), so listings do not depend on when the
 * profile was checked out. 0 when the name has no date.
 */
static long long
afc_name_time_ns(const struct afc_conn *c, const char *rel)
{
	const char *base = strrchr(rel, '/'), *p;
	plist_t off = emu_profile_get(c->d, "Lockdown", "Root", "TimeZoneOffsetFromUTC", NULL);
	double tz = 0;
	struct tm tm;

	base = base ? base + 1 : rel;
	for (p = base; (p = strchr(p, '-')) != NULL; p++) {
		int y, mo, d, h, mi, sec, n = 0;

		if (sscanf(p, "-%4d-%2d-%2d-%2d%2d%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 18)
			continue;
		if (y < 2000 || y > 2100 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
		    sec > 60)
			continue;
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = sec;
		if (off && plist_get_node_type(off) == PLIST_REAL)
			plist_get_real_val(off, &tz);
		if (tz < -86400 || tz > 86400)
			tz = 0;
		return ((long long)timegm(&tm) - (long long)tz) * 1000000000LL;
	}
	return 0;
}

static int
afc_file_info(struct afc_conn *c, const char *rel)
{
	char path[4400], target[AFC_MAX_PATH + 1];
	struct stat st;
	struct buf b;
	const char *fmt;
	long long mtime, birth;
	int s, rc;

	if ((s = afc_resolve(c, rel, path, sizeof(path), &st)) != AFC_S_OK)
		return afc_status(c, s);
	fmt = S_ISDIR(st.st_mode) ? "S_IFDIR" : S_ISLNK(st.st_mode) ? "S_IFLNK" : "S_IFREG";
	buf_init(&b, 8192);
	s = buf_printf(&b, "st_size%c%lld%cst_blocks%c%lld%cst_nlink%c%lu%cst_ifmt%c%s%c", 0,
	               (long long)st.st_size, 0, 0, (long long)st.st_blocks, 0, 0, (unsigned long)st.st_nlink,
	               0, 0, fmt, 0);
	mtime = afc_name_time_ns(c, rel);
	birth = mtime;
	if (!mtime) {
		mtime = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
		birth = (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
	}
	/* buf_printf appends the whole formatted length, NULs included */
	if (s == BUF_OK)
		s = buf_printf(&b, "st_mtime%c%lld%cst_birthtime%c%lld%c", 0, mtime, 0, 0, birth, 0);
	if (s == BUF_OK && S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(path, target, sizeof(target) - 1);

		if (n >= 0) {
			target[n] = '\0';
			s = buf_add(&b, "LinkTarget", 11);
			if (s == BUF_OK)
				s = buf_add(&b, target, (size_t)n + 1);
		}
	}
	rc = s == BUF_OK ? afc_data(c, b.data, b.len) : afc_status(c, AFC_S_NO_RESOURCES);
	buf_free(&b);
	return rc;
}

static int
afc_remove(struct afc_conn *c, const char *rel, int recursive)
{
	char path[4400];
	struct stat st;
	int s;

	if (!*rel)
		return afc_status(c, AFC_S_PERM_DENIED);
	if ((s = afc_resolve(c, rel, path, sizeof(path), &st)) != AFC_S_OK)
		return afc_status(c, s);
	if (S_ISDIR(st.st_mode) && !recursive && afc_dir_has_visible(c, path, rel))
		return afc_status(c, AFC_S_DIR_NOT_EMPTY);
	afc_mark_removed(c->d->udid, rel);
	return afc_status(c, AFC_S_OK);
}

static struct afc_file *
afc_find(struct afc_conn *c, uint64_t h)
{
	size_t i;

	if (h == 0)
		return NULL;
	for (i = 0; i < AFC_MAX_HANDLES; i++)
		if (c->files[i].handle == h)
			return &c->files[i];
	return NULL;
}

static int
afc_open(struct afc_conn *c, uint64_t mode, const char *rel)
{
	char path[4400];
	struct stat st;
	struct afc_file *f = NULL;
	uint64_t h;
	size_t i;
	int s, ffd;

	if (mode != 1) /* read-only: nothing is ever written to a customer's phone */
		return afc_status(c, AFC_S_PERM_DENIED);
	if ((s = afc_resolve(c, rel, path, sizeof(path), &st)) != AFC_S_OK)
		return afc_status(c, s);
	if (S_ISDIR(st.st_mode))
		return afc_status(c, AFC_S_IS_DIR);
	if (!S_ISREG(st.st_mode))
		return afc_status(c, AFC_S_PERM_DENIED);
	for (i = 0; i < AFC_MAX_HANDLES && !f; i++)
		if (c->files[i].handle == 0)
			f = &c->files[i];
	if (!f)
		return afc_status(c, AFC_S_NO_RESOURCES);
	if ((ffd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return afc_status(c, errno == ENOENT ? AFC_S_NOT_FOUND : AFC_S_PERM_DENIED);
	f->handle = c->next_handle++;
	f->fd = ffd;
	f->pos = 0;
	f->mem = NULL;
	f->memlen = 0;
	afc_load_shifted(c, f);
	h = htole64(f->handle);
	return afc_send(c, AFC_OP_FILE_OPEN_RES, &h, 8, NULL, 0);
}

/* 0 sent, -1 connection over, 1 dropped on purpose (DisconnectAfter "afc"). */
static int
afc_read(struct afc_conn *c, uint64_t h, uint64_t want)
{
	struct afc_file *f = afc_find(c, h);
	unsigned char *data;
	ssize_t n;
	int rc;

	if (c->reads++ == 0 && emu_should_disconnect(c->d, "afc"))
		return 1;
	if (!f)
		return afc_status(c, AFC_S_INVALID_ARG);
	if (want > AFC_MAX_READ)
		want = AFC_MAX_READ;
	data = xmalloc(want ? want : 1);
	if (f->mem != NULL) {
		size_t at = (size_t)f->pos < f->memlen ? (size_t)f->pos : f->memlen;
		n = (ssize_t)(want < f->memlen - at ? want : f->memlen - at);
		memcpy(data, f->mem + at, (size_t)n);
	} else {
		n = pread(f->fd, data, want, f->pos);
	}
	if (n < 0) {
		free(data);
		return afc_status(c, AFC_S_READ_ERROR);
	}
	f->pos += n;
	rc = afc_data(c, data, (size_t)n);
	free(data);
	return rc;
}

static int
afc_seek(struct afc_conn *c, uint64_t h, uint64_t whence, int64_t off)
{
	struct afc_file *f = afc_find(c, h);
	struct stat st;
	off_t base;

	if (!f || fstat(f->fd, &st) != 0)
		return afc_status(c, AFC_S_INVALID_ARG);
	base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? f->pos : st.st_size;
	if (whence > SEEK_END || off > AFC_MAX_SEEK || off < -AFC_MAX_SEEK || base + off < 0)
		return afc_status(c, AFC_S_INVALID_ARG);
	f->pos = base + off;
	return afc_status(c, AFC_S_OK);
}

static void
afc_close_file(struct afc_file *f)
{
	close(f->fd);
	free(f->mem);
	f->mem = NULL;
	f->memlen = 0;
	f->handle = 0;
	f->fd = -1;
}

static int
afc_dev_info(struct afc_conn *c)
{
	plist_t pt = emu_profile_get(c->d, "Lockdown", "Root", "ProductType", NULL);
	plist_t tot = emu_profile_get(c->d, "Lockdown", "com.apple.disk_usage", "TotalDataCapacity", NULL);
	plist_t fre = emu_profile_get(c->d, "Lockdown", "com.apple.disk_usage", "AmountDataAvailable", NULL);
	uint64_t total = 0, avail = 0;
	const char *model = "iPhone";
	struct buf b;
	int s, rc;

	if (pt && plist_get_node_type(pt) == PLIST_STRING)
		model = plist_get_string_ptr(pt, NULL);
	if (tot && plist_get_node_type(tot) == PLIST_UINT)
		plist_get_uint_val(tot, &total);
	if (fre && plist_get_node_type(fre) == PLIST_UINT)
		plist_get_uint_val(fre, &avail);
	buf_init(&b, 4096);
	s = buf_printf(&b, "Model%c%s%cFSTotalBytes%c%llu%cFSFreeBytes%c%llu%cFSBlockSize%c4096%c", 0, model,
	               0, 0, (unsigned long long)total, 0, 0, (unsigned long long)avail, 0, 0, 0);
	rc = s == BUF_OK ? afc_data(c, b.data, b.len) : afc_status(c, AFC_S_NO_RESOURCES);
	buf_free(&b);
	return rc;
}

/* One request. 0 to go on, -1 to end the connection. */
static int
afc_dispatch(struct afc_conn *c, uint64_t op, const unsigned char *body, size_t len)
{
	char rel[AFC_MAX_PATH + 1];
	uint64_t a, b2, w;
	int rc;

	switch (op) {
	case AFC_OP_READ_DIR:
	case AFC_OP_GET_FILE_INFO:
	case AFC_OP_REMOVE_PATH:
	case AFC_OP_REMOVE_PATH_AND_CONTENTS:
		if (afc_norm((const char *)body, len, rel, sizeof(rel)) != 0)
			return afc_status(c, AFC_S_PERM_DENIED);
		if (op == AFC_OP_READ_DIR)
			return afc_read_dir(c, rel);
		if (op == AFC_OP_GET_FILE_INFO)
			return afc_file_info(c, rel);
		return afc_remove(c, rel, op == AFC_OP_REMOVE_PATH_AND_CONTENTS);
	case AFC_OP_FILE_OPEN:
		if (afc_u64(body, len, 0, &a) != 0)
			return afc_status(c, AFC_S_INVALID_ARG);
		if (afc_norm((const char *)body + 8, len - 8, rel, sizeof(rel)) != 0)
			return afc_status(c, AFC_S_PERM_DENIED);
		return afc_open(c, a, rel);
	case AFC_OP_FILE_READ:
		if (afc_u64(body, len, 0, &a) != 0 || afc_u64(body, len, 8, &b2) != 0)
			return afc_status(c, AFC_S_INVALID_ARG);
		rc = afc_read(c, a, b2);
		return rc == 1 ? -1 : rc;
	case AFC_OP_FILE_SEEK:
		if (afc_u64(body, len, 0, &a) != 0 || afc_u64(body, len, 8, &w) != 0 ||
		    afc_u64(body, len, 16, &b2) != 0)
			return afc_status(c, AFC_S_INVALID_ARG);
		return afc_seek(c, a, w, (int64_t)b2);
	case AFC_OP_FILE_TELL: {
		struct afc_file *f;

		if (afc_u64(body, len, 0, &a) != 0 || !(f = afc_find(c, a)))
			return afc_status(c, AFC_S_INVALID_ARG);
		w = htole64((uint64_t)f->pos);
		return afc_send(c, AFC_OP_FILE_TELL_RES, &w, 8, NULL, 0);
	}
	case AFC_OP_FILE_CLOSE: {
		struct afc_file *f;

		if (afc_u64(body, len, 0, &a) != 0 || !(f = afc_find(c, a)))
			return afc_status(c, AFC_S_INVALID_ARG);
		afc_close_file(f);
		return afc_status(c, AFC_S_OK);
	}
	case AFC_OP_GET_DEVINFO:
		return afc_dev_info(c);
	default:
		return afc_status(c, AFC_S_NOT_SUPPORTED);
	}
}

void
svc_afc_serve(int fd, struct emu_device *d)
{
	struct afc_conn *c = xcalloc(1, sizeof(*c));
	unsigned char hdr[AFC_HDR], *body = NULL;
	size_t i;

	c->fd = fd;
	c->d = d;
	c->next_handle = 1;
	snprintf(c->root, sizeof(c->root), "%s/crashes", d->dir);
	for (i = 0; i < AFC_MAX_HANDLES; i++)
		c->files[i].fd = -1;
	for (;;) {
		uint64_t entire, this_len, op;
		size_t blen;

		if (emu_read_full(fd, hdr, AFC_HDR, AFC_IDLE_MS, d) != 0)
			break;
		if (memcmp(hdr, afc_magic, sizeof(afc_magic)) != 0) {
			log_warnx("afc: bad magic from host, closing");
			break;
		}
		afc_u64(hdr, AFC_HDR, 8, &entire);
		afc_u64(hdr, AFC_HDR, 16, &this_len);
		afc_u64(hdr, AFC_HDR, 24, &c->packet_num);
		afc_u64(hdr, AFC_HDR, 32, &op);
		if (this_len < AFC_HDR || entire < this_len || entire - AFC_HDR > AFC_MAX_REQUEST) {
			log_warnx("afc: bad packet lengths (%llu/%llu), closing", (unsigned long long)entire,
			          (unsigned long long)this_len);
			break;
		}
		blen = (size_t)(entire - AFC_HDR);
		body = xmalloc(blen + 1);
		if (blen && emu_read_full(fd, body, blen, EMU_READ_TIMEOUT_MS, d) != 0)
			break;
		body[blen] = '\0';
		/* Requests carry their arguments in the header-data part; a payload (writes) is
		 * never needed here. */
		if (afc_dispatch(c, op, body, (size_t)(this_len - AFC_HDR)) != 0)
			break;
		free(body);
		body = NULL;
	}
	free(body);
	for (i = 0; i < AFC_MAX_HANDLES; i++)
		if (c->files[i].handle)
			afc_close_file(&c->files[i]);
	free(c);
}
