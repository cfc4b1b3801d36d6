/*
 * emu_clock: crash-report dates relative to the emulator's start (issue 13, issue 18 item 1).
 *
 * A profile's crash reports carry dates (in their names, "panic-full-2026-11-18-074213.000.ips",
 * and inside: "timestamp":"2026-11-18 07:42:13.00 +0100", "Date/Time: ..."). Written once, they
 * age: a week later every panic is "outside the 7-day window" and the demo's panic phones show no
 * panic fault. With
 *
 *   Clock = { CrashDatesAsOf = "2026-11-22T10:00:00Z" }
 *
 * in device.plist, the reports were written as of that moment, and the emulator serves every date
 * of crashes/ moved by (emulator start - CrashDatesAsOf): a report dated 4 days before
 * CrashDatesAsOf is 4 days old whenever the emulator runs (under faketime too: the start is the
 * emulator's own clock). The files on disk never change. Shifting keeps every length (a 4-digit
 * year stays 4 digits), so sizes, offsets and AFC's st_size stay true.
 *
 * Owns: the start moment (fixed at the first call) and the date rewriting; svc_afc.c calls
 * emu_dates_shift() on names and contents.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu_core.h"

static pthread_once_t start_once = PTHREAD_ONCE_INIT;
static time_t start_time;

static void
start_init(void)
{
	start_time = time(NULL);
}

time_t
emu_clock_start(void)
{
	pthread_once(&start_once, start_init);
	return start_time;
}

/* "2026-11-22T10:00:00Z" (or with a space, or "+00:00") -> seconds; -1 when not that shape. */
static long long
parse_utc(const char *s)
{
	int y, mo, d, h, mi, se, n = 0;
	struct tm tm;

	if (s == NULL || sscanf(s, "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6)
		return -1;
	if (strcmp(s + n, "Z") != 0 && strcmp(s + n, "+00:00") != 0)
		return -1;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	return (long long)timegm(&tm);
}

int
core_clock_load(plist_t root, struct emu_device *d, char *why, size_t whylen)
{
	plist_t clock = plist_dict_get_item(root, "Clock"), v;
	plist_dict_iter it = NULL;
	char *key = NULL;
	const char *s;
	long long asof;

	d->crash_shift = 0;
	if (clock == NULL)
		return 0;
	if (plist_get_node_type(clock) != PLIST_DICT) {
		snprintf(why, whylen, "Clock is not a dictionary");
		return -1;
	}
	plist_dict_new_iter(clock, &it);
	for (;;) {
		key = NULL;
		plist_dict_next_item(clock, it, &key, &v);
		if (key == NULL)
			break;
		if (strcmp(key, "CrashDatesAsOf") != 0) {
			snprintf(why, whylen, "unknown Clock key '%s' (known: CrashDatesAsOf)", key);
			free(key);
			free(it);
			return -1;
		}
		free(key);
	}
	free(it);
	v = plist_dict_get_item(clock, "CrashDatesAsOf");
	s = v != NULL && plist_get_node_type(v) == PLIST_STRING ? plist_get_string_ptr(v, NULL) : NULL;
	asof = parse_utc(s);
	if (asof < 0) {
		snprintf(why, whylen,
		         "Clock/CrashDatesAsOf must be a UTC time like \"2026-11-22T10:00:00Z\"");
		return -1;
	}
	d->crash_shift = (long long)emu_clock_start() - asof;
	return 0;
}

int
emu_dates_active(const struct emu_device *d)
{
	return d != NULL && d->crash_shift != 0;
}

static int
digits(const char *p, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char)p[i]))
			return 0;
	return 1;
}

static int
num(const char *p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (p[i] - '0');
	return v;
}

/*
 * One date at p (len bytes available): "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DDTHH:MM:SS" (19 bytes)
 * or the file-name form "YYYY-MM-DD-HHMMSS" (17 bytes), not inside a longer run of digits.
 * Rewritten in place moved by shift seconds; returns the bytes it covers, or 0.
 */
static size_t
shift_one(char *p, size_t len, int digit_before, long long shift)
{
	int compact, y, mo, d, h, mi, s;
	size_t n;
	struct tm tm;
	time_t t;
	char out[64];

	if (digit_before || len < 17 || !digits(p, 4) || p[4] != '-' || !digits(p + 5, 2) || p[7] != '-' ||
	    !digits(p + 8, 2))
		return 0;
	if (len >= 19 && (p[10] == ' ' || p[10] == 'T') && digits(p + 11, 2) && p[13] == ':' &&
	    digits(p + 14, 2) && p[16] == ':' && digits(p + 17, 2)) {
		compact = 0;
		n = 19;
	} else if (p[10] == '-' && digits(p + 11, 6)) {
		compact = 1;
		n = 17;
	} else {
		return 0;
	}
	if (n < len && isdigit((unsigned char)p[n]))
		return 0;
	y = num(p, 4);
	mo = num(p + 5, 2);
	d = num(p + 8, 2);
	h = num(p + 11, 2);
	mi = num(p + (compact ? 13 : 14), 2);
	s = num(p + (compact ? 15 : 17), 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	/* the wall-clock fields move by shift; the zone written after them stays what it was */
	t = timegm(&tm) + (time_t)shift;
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 1000 || tm.tm_year + 1900 > 9999)
		return 0;
	if (compact)
		snprintf(out, sizeof(out), "%04d-%02d-%02d-%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	else
		snprintf(out, sizeof(out), "%04d-%02d-%02d%c%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		         tm.tm_mday, p[10], tm.tm_hour, tm.tm_min, tm.tm_sec);
	memcpy(p, out, n);
	return n;
}

void
emu_dates_shift(const struct emu_device *d, char *buf, size_t len, int direction)
{
	long long shift;

	if (!emu_dates_active(d) || buf == NULL)
		return;
	shift = direction >= 0 ? d->crash_shift : -d->crash_shift;
	for (size_t i = 0; i + 17 <= len;) {
		size_t n = shift_one(buf + i, len - i, i > 0 && isdigit((unsigned char)buf[i - 1]), shift);
		i += n ? n : 1;
	}
}
