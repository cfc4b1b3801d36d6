/* normalize: see normalize.h. */
#include "normalize.h"

#include "buf.h"
#include "models.h"
#include "util.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define APPLE_EPOCH    978307200 /* 2001-01-01T00:00:00Z, the plist date origin */
#define NORM_MAX_FIELD 256       /* device fields, serials */

/* ---------------------------------------------------------------- strings */

/* Length of the valid UTF-8 sequence at s (max n bytes), 0 when invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t need;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return need;
}

json_t *
norm_string(const char *s, size_t len, size_t max, int *cut)
{
	const unsigned char *u = (const unsigned char *)s;
	char *out;
	size_t o = 0, i = 0;
	json_t *j;

	if (cut)
		*cut = 0;
	if (s == NULL)
		len = 0;
	if (len > max) {
		len = max;
		if (cut)
			*cut = 1;
	}
	out = xmalloc(len * 3 + 1);
	while (i < len) {
		size_t k = utf8_seq(u + i, len - i);
		if (k == 0) {
			/* invalid (or a sequence cut by the length cap): U+FFFD */
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else if (k == 1 && u[i] == 0) {
			i++; /* jansson strings may not hold NUL */
		} else {
			memcpy(out + o, u + i, k);
			o += k;
			i += k;
		}
	}
	out[o] = '\0';
	j = json_stringn(out, o);
	free(out);
	return j ? j : json_string("");
}

static json_t *
norm_cstr(const char *s, size_t max)
{
	return norm_string(s, s ? strlen(s) : 0, max, NULL);
}

/* ---------------------------------------------------------------- plist -> JSON */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static json_t *
base64_json(const unsigned char *p, size_t n)
{
	size_t olen = 4 * ((n + 2) / 3), o = 0;
	char *out = xmalloc(olen + 1);
	json_t *j;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64chars[v & 63] : '=';
	}
	out[o] = '\0';
	j = json_stringn(out, o);
	free(out);
	return j;
}

static json_t *
plist_conv(plist_t p, int depth, size_t *nodes)
{
	json_t *j = NULL;

	if (p == NULL || depth > NORM_MAX_DEPTH || ++*nodes > NORM_MAX_NODES)
		return json_null();
	switch (plist_get_node_type(p)) {
	case PLIST_BOOLEAN: {
		uint8_t b = 0;
		plist_get_bool_val(p, &b);
		return json_boolean(b);
	}
	case PLIST_UINT: {
		uint64_t v = 0;
		plist_get_uint_val(p, &v);
		return json_integer((json_int_t)(int64_t)v);
	}
	case PLIST_UID: {
		uint64_t v = 0;
		plist_get_uid_val(p, &v);
		return json_integer((json_int_t)(int64_t)v);
	}
	case PLIST_REAL: {
		double d = 0;
		plist_get_real_val(p, &d);
		return isfinite(d) ? json_real(d) : json_null();
	}
	case PLIST_STRING: {
		/* plist_get_string_val asserts (aborts) on a string with a NUL inside, which an XML
		 * plist from a device can carry: read the pointer and its length instead */
		uint64_t n = 0;
		const char *sp = plist_get_string_ptr(p, &n);
		return norm_string(sp, sp ? (size_t)n : 0, NORM_MAX_STRING, NULL);
	}
	case PLIST_KEY: {
		char *s = NULL;
		plist_get_key_val(p, &s);
		j = norm_cstr(s, NORM_MAX_STRING);
		free(s);
		return j;
	}
	case PLIST_DATA: {
		uint64_t n = 0;
		const char *d = plist_get_data_ptr(p, &n);
		if (n > NORM_MAX_DATA)
			j = json_string("(data too large)");
		else
			j = base64_json((const unsigned char *)d, d ? (size_t)n : 0);
		return j;
	}
	case PLIST_DATE: {
		int32_t sec = 0, usec = 0;
		char ts[32];
		plist_get_date_val(p, &sec, &usec);
		util_rfc3339((time_t)APPLE_EPOCH + sec, ts, sizeof(ts));
		return json_string(ts);
	}
	case PLIST_ARRAY: {
		uint32_t n = plist_array_get_size(p);
		j = json_array();
		for (uint32_t i = 0; i < n && *nodes <= NORM_MAX_NODES; i++)
			json_array_append_new(j, plist_conv(plist_array_get_item(p, i), depth + 1, nodes));
		return j;
	}
	case PLIST_DICT: {
		plist_dict_iter it = NULL;
		char *key = NULL;
		plist_t val = NULL;
		j = json_object();
		plist_dict_new_iter(p, &it);
		if (it == NULL)
			return j;
		for (;;) {
			key = NULL;
			val = NULL;
			plist_dict_next_item(p, it, &key, &val);
			if (val == NULL) {
				free(key);
				break;
			}
			if (key != NULL && *nodes <= NORM_MAX_NODES) {
				json_t *k = norm_cstr(key, 1024);
				json_object_set_new(j, json_string_value(k),
				                    plist_conv(val, depth + 1, nodes));
				json_decref(k);
			}
			free(key);
		}
		free(it);
		return j;
	}
	default:
		return json_null();
	}
}

int
norm_plist_too_deep(plist_t p, unsigned max)
{
	struct level {
		plist_t node;
		uint32_t next; /* arrays: the next index */
		plist_dict_iter it;
	} * st;
	unsigned top = 0;
	int deep = 0;

	if (p == NULL || (plist_get_node_type(p) != PLIST_ARRAY && plist_get_node_type(p) != PLIST_DICT))
		return 0;
	if (max == 0)
		return 1;
	st = xcalloc(max, sizeof(*st));
	st[0].node = p;
	if (plist_get_node_type(p) == PLIST_DICT)
		plist_dict_new_iter(p, &st[0].it);
	for (;;) {
		struct level *l = &st[top];
		plist_t child = NULL;
		plist_type t;

		if (plist_get_node_type(l->node) == PLIST_ARRAY) {
			if (l->next < plist_array_get_size(l->node))
				child = plist_array_get_item(l->node, l->next++);
		} else if (l->it != NULL) {
			/* no key asked for: libplist asserts on a key holding a NUL */
			plist_dict_next_item(l->node, l->it, NULL, &child);
		}
		if (child == NULL) { /* this level is done */
			free(l->it);
			l->it = NULL;
			if (top == 0)
				break;
			top--;
			continue;
		}
		t = plist_get_node_type(child);
		if (t != PLIST_ARRAY && t != PLIST_DICT)
			continue;
		if (top + 1 >= max) {
			deep = 1;
			break;
		}
		top++;
		st[top].node = child;
		st[top].next = 0;
		st[top].it = NULL;
		if (t == PLIST_DICT)
			plist_dict_new_iter(child, &st[top].it);
	}
	for (unsigned i = 0; i <= top && i < max; i++)
		free(st[i].it);
	free(st);
	return deep;
}

json_t *
norm_plist_to_json(plist_t p)
{
	size_t nodes = 0;
	char *bin = NULL;
	uint32_t blen = 0;
	plist_t q = NULL;
	json_t *j;

	/*
	 * libplist 2.2 asserts (aborts the program) when a dict key read through its API holds a
	 * NUL, which a plist from a device can carry (binary or XML). A round trip through the
	 * XML form gives keys that are safe to read (the XML reader stops a key at the NUL);
	 * strings are read by pointer and length below.
	 */
	if (p == NULL)
		return json_null();
	/* plist_to_xml recurses once per level: a device's 5,000-deep reply overflowed a
	 * session thread's stack there. Deeper than anything real: refused, not walked. */
	if (norm_plist_too_deep(p, 256))
		return json_null();
	plist_to_xml(p, &bin, &blen);
	if (bin != NULL && blen > 0)
		plist_from_xml(bin, blen, &q);
	free(bin);
	if (q == NULL)
		return json_null();
	j = plist_conv(q, 0, &nodes);
	plist_free(q);
	return j;
}

json_t *
norm_plist_bytes_to_json(const char *data, size_t len)
{
	plist_t p = NULL;
	json_t *j;

	if (data == NULL || len < 8 || len > UINT32_MAX)
		return NULL;
	if (memcmp(data, "bplist00", 8) == 0)
		plist_from_bin(data, (uint32_t)len, &p);
	else
		plist_from_xml(data, (uint32_t)len, &p);
	if (p == NULL)
		return NULL;
	j = norm_plist_to_json(p);
	plist_free(p);
	return j;
}

/* ---------------------------------------------------------------- device, storage */

static void
copy_str(json_t *dst, const char *dkey, const json_t *src, const char *skey)
{
	json_t *v = json_object_get(src, skey);

	if (json_is_string(v) && json_string_length(v) > 0)
		json_object_set_new(
		    dst, dkey,
		    norm_string(json_string_value(v), json_string_length(v), NORM_MAX_FIELD, NULL));
}

static int
get_int(const json_t *o, const char *key, json_int_t *v)
{
	json_t *j = json_object_get(o, key);

	if (json_is_integer(j)) {
		*v = json_integer_value(j);
		return 1;
	}
	return 0;
}

void
norm_device(json_t *device, const json_t *root, const struct models *m)
{
	const char *pt;
	json_int_t ecid;

	if (!json_is_object(device) || !json_is_object(root))
		return;
	copy_str(device, "udid", root, "UniqueDeviceID");
	copy_str(device, "serial", root, "SerialNumber");
	copy_str(device, "product_type", root, "ProductType");
	copy_str(device, "ios_version", root, "ProductVersion");
	copy_str(device, "build_version", root, "BuildVersion");
	pt = json_string_value(json_object_get(device, "product_type"));
	if (pt && models_name(m, pt))
		json_object_set_new(device, "model_name", json_string(models_name(m, pt)));
	if (get_int(root, "UniqueChipID", &ecid) && ecid != 0) {
		char s[24];
		snprintf(s, sizeof(s), "0x%" PRIX64, (uint64_t)ecid);
		json_object_set_new(device, "ecid", json_string(s));
	}
}

json_t *
norm_storage(const json_t *du)
{
	json_int_t total = -1, avail = -1, v;
	json_t *o;

	if (!json_is_object(du))
		return NULL;
	if (get_int(du, "TotalDiskCapacity", &v) && v > 0)
		total = v;
	else if (get_int(du, "TotalDataCapacity", &v) && v > 0)
		total = v;
	if (get_int(du, "TotalDataAvailable", &v) && v >= 0)
		avail = v;
	else if (get_int(du, "AmountDataAvailable", &v) && v >= 0)
		avail = v;
	if (total > 0 && avail > total)
		avail = -1; /* more free than the disk holds: not a number to trust */
	if (total < 0 && avail < 0)
		return NULL;
	o = json_object();
	if (total > 0)
		json_object_set_new(o, "total_bytes", json_integer(total));
	if (avail >= 0)
		json_object_set_new(o, "available_bytes", json_integer(avail));
	return o;
}

/* ---------------------------------------------------------------- battery */

#define MAX_MAH 20000 /* no phone battery holds more */

static void
flag(json_t *flags, const char *f)
{
	size_t i;
	json_t *v;

	json_array_foreach(flags, i, v)
	{
		if (strcmp(json_string_value(v), f) == 0)
			return;
	}
	json_array_append_new(flags, json_string(f));
}

/* An integer key in range: 1 taken, 0 absent, -1 present but nonsense. */
static int
ranged(const json_t *o, const char *key, json_int_t lo, json_int_t hi, json_int_t *out)
{
	json_t *j = json_object_get(o, key);

	if (j == NULL)
		return 0;
	if (!json_is_integer(j))
		return -1;
	*out = json_integer_value(j);
	return (*out >= lo && *out <= hi) ? 1 : -1;
}

json_t *
norm_battery(const json_t *e, const char *source, const json_t *dom)
{
	json_t *b = json_object(), *flags = json_array(), *v;
	json_int_t design = 0, nominal = 0, x;
	int rd, rn, r;

	json_object_set_new(b, "source", json_string(source ? source : "AppleSmartBattery"));
	json_object_set_new(b, "flags", flags);
	if (!json_is_object(e) || json_object_size(e) == 0 ||
	    (!json_object_get(e, "DesignCapacity") && !json_object_get(e, "NominalChargeCapacity") &&
	     !json_object_get(e, "CycleCount") && !json_object_get(e, "Temperature") &&
	     !json_object_get(e, "Voltage") && !json_object_get(e, "MaxCapacity"))) {
		flag(flags, "gauge_missing");
		v = json_object_get(dom, "BatteryIsCharging");
		if (json_is_boolean(v))
			json_object_set_new(b, "is_charging", json_boolean(json_is_true(v)));
		return b;
	}

	rd = ranged(e, "DesignCapacity", 1, MAX_MAH, &design);
	if (rd > 0)
		json_object_set_new(b, "design_capacity_mah", json_integer(design));
	else if (rd < 0)
		flag(flags, "design_capacity_invalid");

	rn = ranged(e, "NominalChargeCapacity", 1, MAX_MAH, &nominal);
	if (rn == 0 && source && strcmp(source, "AppleARMPMUCharger") == 0) {
		/* older gauges: MaxCapacity in mAh (a value over 150 cannot be a percentage) */
		r = ranged(e, "MaxCapacity", 151, MAX_MAH, &nominal);
		rn = r > 0 ? 1 : 0;
	}
	if (rn > 0 && rd > 0) {
		long long h = (nominal * 100 + design - 1) / design; /* ceil */
		if (h > 150) {
			rn = -1; /* Apple's valid range is 1-150 */
		} else {
			json_object_set_new(b, "health_pct", json_integer(h));
		}
	}
	if (rn > 0)
		json_object_set_new(b, "nominal_capacity_mah", json_integer(nominal));
	else if (rn < 0)
		flag(flags, "nominal_capacity_invalid");

	if (ranged(e, "AppleRawMaxCapacity", 1, MAX_MAH, &x) > 0)
		json_object_set_new(b, "raw_max_capacity_mah", json_integer(x));

	r = ranged(e, "CycleCount", 0, 100000, &x);
	if (r > 0)
		json_object_set_new(b, "cycle_count", json_integer(x));
	else if (r < 0)
		flag(flags, "cycle_count_invalid");

	r = ranged(e, "Temperature", -4000, 10000, &x);
	if (r > 0)
		json_object_set_new(b, "temperature_c", json_real((double)x / 100.0));
	else if (r < 0)
		flag(flags, "temperature_invalid");

	r = ranged(e, "Voltage", 1000, 6000, &x);
	if (r > 0)
		json_object_set_new(b, "voltage_mv", json_integer(x));
	else if (r < 0)
		flag(flags, "voltage_invalid");

	r = ranged(e, "InstantAmperage", -20000, 20000, &x);
	if (r == 0)
		r = ranged(e, "Amperage", -20000, 20000, &x);
	if (r > 0)
		json_object_set_new(b, "amperage_ma", json_integer(x));

	v = json_object_get(e, "IsCharging");
	if (!json_is_boolean(v))
		v = json_object_get(dom, "BatteryIsCharging");
	if (json_is_boolean(v))
		json_object_set_new(b, "is_charging", json_boolean(json_is_true(v)));

	copy_str(b, "serial", e, "Serial");
	return b;
}

/* ---------------------------------------------------------------- time */

int
norm_timestamp(const char *s, char *out, size_t outlen)
{
	int Y, M, D, h, m, sec, n = 0, tzsign = 0, tzh = 0, tzm = 0;
	const char *p;
	struct tm tm;
	time_t t;

	if (s == NULL || strlen(s) > 64)
		return -1;
	if (sscanf(s, "%4d-%2d-%2d%*1[ T]%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &n) != 6 || n == 0)
		return -1;
	if (Y < 1970 || Y > 2200 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60 ||
	    h < 0 || m < 0 || sec < 0)
		return -1;
	p = s + n;
	if (*p == '.' || *p == ',') {
		p++;
		while (isdigit((unsigned char)*p))
			p++;
	}
	while (*p == ' ')
		p++;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		tzsign = *p == '-' ? -1 : 1;
		p++;
		if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
			return -1;
		tzh = (p[0] - '0') * 10 + (p[1] - '0');
		p += 2;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1])) {
			tzm = (p[0] - '0') * 10 + (p[1] - '0');
			p += 2;
		}
		if (tzh > 14 || tzm > 59)
			return -1;
	} else {
		return -1; /* no zone: the instant is unknown, say nothing */
	}
	if (*p != '\0')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	t -= (time_t)tzsign * (tzh * 3600 + tzm * 60);
	util_rfc3339(t, out, outlen);
	return 0;
}

/* ---------------------------------------------------------------- crash reports */

int
norm_crash_name_ok(const char *name)
{
	static const char *exts[] = {".ips", ".panic", ".plist", ".crash"};
	size_t n;

	if (name == NULL)
		return 0;
	n = strlen(name);
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t e = strlen(exts[i]);
		if (n > e && strcasecmp(name + n - e, exts[i]) == 0)
			return 1;
	}
	return 0;
}

/* bug_type may be a string or an integer: always a short string out. */
static json_t *
bug_type_of(const json_t *v)
{
	char s[32];

	if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < 16)
		return norm_string(json_string_value(v), json_string_length(v), 16, NULL);
	if (json_is_integer(v)) {
		snprintf(s, sizeof(s), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return json_string(s);
	}
	return NULL;
}

static void
set_timestamp(json_t *c, const json_t *v)
{
	char ts[40];

	if (json_object_get(c, "timestamp") || !json_is_string(v))
		return;
	if (norm_timestamp(json_string_value(v), ts, sizeof(ts)) == 0)
		json_object_set_new(c, "timestamp", json_string(ts));
}

static void
set_panic(json_t *c, const char *s, size_t len, int cut)
{
	int cut2 = 0;

	json_object_set_new(c, "panic_string", norm_string(s, len, NORM_PANIC_MAX, &cut2));
	if (cut || cut2)
		json_object_set_new(c, "truncated", json_true());
}

/* Decode a JSON string starting after its opening quote; *end set when the closing quote was
 * found. Output capped at max bytes (then *cut). */
static void
json_str_decode(const char *p, const char *e, size_t max, struct buf *out, int *closed, int *cut)
{
	*closed = 0;
	*cut = 0;
	while (p < e) {
		char ch = *p++;
		char tmp[4];
		size_t tn = 1;

		if (ch == '"') {
			*closed = 1;
			return;
		}
		if (ch == '\\') {
			if (p >= e)
				return;
			ch = *p++;
			switch (ch) {
			case 'n':
				tmp[0] = '\n';
				break;
			case 't':
				tmp[0] = '\t';
				break;
			case 'r':
				tmp[0] = '\r';
				break;
			case 'b':
				tmp[0] = '\b';
				break;
			case 'f':
				tmp[0] = '\f';
				break;
			case 'u': {
				unsigned cp = 0;
				if (e - p < 4)
					return;
				for (int i = 0; i < 4; i++) {
					char hch = p[i];
					cp <<= 4;
					if (hch >= '0' && hch <= '9')
						cp |= (unsigned)(hch - '0');
					else if (hch >= 'a' && hch <= 'f')
						cp |= (unsigned)(hch - 'a' + 10);
					else if (hch >= 'A' && hch <= 'F')
						cp |= (unsigned)(hch - 'A' + 10);
					else
						cp = 0xfffd;
				}
				p += 4;
				if (cp >= 0xd800 && cp <= 0xdfff)
					cp = 0xfffd; /* surrogates: not worth pairing here */
				if (cp < 0x80) {
					tmp[0] = (char)cp;
				} else if (cp < 0x800) {
					tmp[0] = (char)(0xc0 | (cp >> 6));
					tmp[1] = (char)(0x80 | (cp & 0x3f));
					tn = 2;
				} else {
					tmp[0] = (char)(0xe0 | (cp >> 12));
					tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
					tmp[2] = (char)(0x80 | (cp & 0x3f));
					tn = 3;
				}
				break;
			}
			default:
				tmp[0] = ch;
				break;
			}
		} else {
			tmp[0] = ch;
		}
		if (out->len + tn > max) {
			*cut = 1;
			return;
		}
		if (buf_add(out, tmp, tn) != BUF_OK) {
			*cut = 1;
			return;
		}
	}
}

/* Find "key" : "..." in a JSON text we could not (or would not) parse whole. */
static int
scan_json_string(const char *body, size_t len, const char *key, size_t max, struct buf *out, int *cut)
{
	size_t klen = strlen(key);
	const char *p = body, *e = body + len;

	while (p < e) {
		const char *q = memmem(p, (size_t)(e - p), key, klen);
		const char *r;
		int closed;

		if (q == NULL)
			return 0;
		r = q + klen;
		p = q + 1;
		if (q == body || q[-1] != '"' || r >= e || *r != '"' || (q - body >= 2 && q[-2] == '\\'))
			continue;
		r++;
		while (r < e && isspace((unsigned char)*r))
			r++;
		if (r >= e || *r != ':')
			continue;
		r++;
		while (r < e && isspace((unsigned char)*r))
			r++;
		if (r >= e || *r != '"')
			continue;
		buf_reset(out);
		json_str_decode(r + 1, e, max, out, &closed, cut);
		if (!closed)
			*cut = 1;
		return 1;
	}
	return 0;
}

static json_t *
crash_plist(json_t *c, const char *data, size_t len, size_t file_size, char *why, size_t whylen)
{
	json_t *p, *bt, *d;

	if (len < file_size) {
		snprintf(why, whylen, "legacy plist report larger than we read (%zu bytes)", file_size);
		return NULL;
	}
	p = norm_plist_bytes_to_json(data, len);
	if (!json_is_object(p)) {
		json_decref(p);
		snprintf(why, whylen, "not a crash report (unreadable plist)");
		return NULL;
	}
	json_object_set_new(c, "format", json_string("plist"));
	bt = bug_type_of(json_object_get(p, "bug_type"));
	if (bt)
		json_object_set_new(c, "bug_type", bt);
	set_timestamp(c, json_object_get(p, "timestamp"));
	set_timestamp(c, json_object_get(p, "date"));
	copy_str(c, "product", p, "product");
	d = json_object_get(p, "description");
	if (json_is_string(d))
		set_panic(c, json_string_value(d), json_string_length(d), 0);
	json_decref(p);
	if (!json_object_get(c, "bug_type") && !json_object_get(c, "panic_string")) {
		snprintf(why, whylen, "not a crash report (plist without bug_type or description)");
		return NULL;
	}
	return c;
}

json_t *
norm_crash_parse(const char *name, const char *data, size_t len, size_t file_size, char *why, size_t whylen)
{
	json_t *c, *hdr, *body, *bt, *v;
	const char *nl, *b, *e;
	size_t i = 0;
	json_error_t jerr;
	char dummy[8];

	if (why == NULL) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	if (file_size < len)
		file_size = len;
	c = json_object();
	json_object_set_new(c, "name", norm_cstr(name ? name : "", 1024));
	json_object_set_new(c, "size", json_integer((json_int_t)file_size));
	json_object_set_new(c, "truncated", json_false());
	if (data == NULL || len == 0) {
		snprintf(why, whylen, "empty file");
		json_decref(c);
		return NULL;
	}
	/* skip a UTF-8 BOM and leading white space */
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && isspace((unsigned char)data[i]))
		i++;
	if ((len - i >= 8 && memcmp(data + i, "bplist00", 8) == 0) ||
	    (len - i >= 5 && memcmp(data + i, "<?xml", 5) == 0) ||
	    (len - i >= 6 && memcmp(data + i, "<plist", 6) == 0)) {
		if (crash_plist(c, data + i, len - i, file_size - i, why, whylen) == NULL) {
			json_decref(c);
			return NULL;
		}
		return c;
	}
	if (i >= len || data[i] != '{') {
		snprintf(why, whylen, "not a crash report (no JSON header line)");
		json_decref(c);
		return NULL;
	}
	nl = memchr(data + i, '\n', len - i);
	e = nl ? nl : data + len;
	if ((size_t)(e - (data + i)) > 64 * 1024 ||
	    (hdr = json_loadb(data + i, (size_t)(e - (data + i)), JSON_DISABLE_EOF_CHECK, &jerr)) == NULL) {
		snprintf(why, whylen, "not a crash report (header line is not JSON)");
		json_decref(c);
		return NULL;
	}
	if (!json_is_object(hdr)) {
		json_decref(hdr);
		json_decref(c);
		snprintf(why, whylen, "not a crash report (header line is not a JSON object)");
		return NULL;
	}
	bt = bug_type_of(json_object_get(hdr, "bug_type"));
	if (bt)
		json_object_set_new(c, "bug_type", bt);
	set_timestamp(c, json_object_get(hdr, "timestamp"));
	copy_str(c, "product", hdr, "product");
	json_decref(hdr);

	/* the body */
	b = nl ? nl + 1 : data + len;
	while (b < data + len && isspace((unsigned char)*b))
		b++;
	json_object_set_new(c, "format", json_string("ips"));
	if (b >= data + len)
		return c;
	if (*b != '{') {
		/* header + text body (older panics): the text is the panic string */
		json_object_set_new(c, "format", json_string("ips-text"));
		set_panic(c, b, (size_t)(data + len - b), len < file_size);
		return c;
	}
	body = NULL;
	if (len >= file_size)
		body = json_loadb(b, (size_t)(data + len - b), 0, &jerr);
	if (json_is_object(body)) {
		if (!json_object_get(c, "product"))
			copy_str(c, "product", body, "product");
		set_timestamp(c, json_object_get(body, "timestamp"));
		set_timestamp(c, json_object_get(body, "date"));
		if (!json_object_get(c, "bug_type") && (v = bug_type_of(json_object_get(body, "bug_type"))))
			json_object_set_new(c, "bug_type", v);
		v = json_object_get(body, "string"); /* force-reset reports first, as pycrashreport */
		if (!json_is_string(v))
			v = json_object_get(body, "panicString");
		if (json_is_string(v))
			set_panic(c, json_string_value(v), json_string_length(v), 0);
	} else {
		/* too big to parse whole, or broken JSON: pick out the fields we need */
		struct buf out;
		int cut = 0;

		buf_init(&out, NORM_PANIC_MAX + 8);
		if (!json_object_get(c, "product") &&
		    scan_json_string(b, (size_t)(data + len - b), "product", 64, &out, &cut) && out.len)
			json_object_set_new(c, "product", norm_string(out.data, out.len, 64, NULL));
		if (!json_object_get(c, "timestamp") &&
		    scan_json_string(b, (size_t)(data + len - b), "date", 64, &out, &cut) && out.len) {
			json_t *t = json_stringn(out.data, out.len);
			set_timestamp(c, t);
			json_decref(t);
		}
		if (scan_json_string(b, (size_t)(data + len - b), "string", NORM_PANIC_MAX, &out, &cut) ||
		    scan_json_string(b, (size_t)(data + len - b), "panicString", NORM_PANIC_MAX, &out, &cut))
			set_panic(c, out.data ? out.data : "", out.len, cut);
		else if (len < file_size)
			json_object_set_new(c, "truncated", json_true());
		buf_free(&out);
	}
	json_decref(body);
	return c;
}

/* ---------------------------------------------------------------- syslog */

void
norm_syslog_init(struct norm_syslog *s)
{
	memset(s, 0, sizeof(*s));
	s->lines = json_array();
	s->cur = xmalloc(NORM_SYSLOG_MAX_LINE + 1);
}

void
norm_syslog_free(struct norm_syslog *s)
{
	json_decref(s->lines);
	free(s->cur);
	memset(s, 0, sizeof(*s));
}

static void
syslog_emit(struct norm_syslog *s)
{
	size_t n = s->curlen;

	if (n > 0 && s->cur[n - 1] == '\n')
		n--;
	s->curlen = 0;
	s->curcut = 0;
	if (n == 0)
		return;
	s->seen++;
	if (s->truncated)
		return;
	if (json_array_size(s->lines) >= NORM_SYSLOG_MAX_LINES || s->bytes + n > NORM_SYSLOG_MAX_BYTES) {
		s->truncated = 1;
		return;
	}
	json_array_append_new(s->lines, norm_string(s->cur, n, NORM_SYSLOG_MAX_LINE, NULL));
	s->bytes += n;
}

void
norm_syslog_feed(struct norm_syslog *s, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char ch = data[i];

		if (ch == '\0') {
			/* the record terminator is "\n\0"; a NUL elsewhere (the capture's first
			 * byte, or garbage) ends nothing */
			if (s->prev_nl)
				syslog_emit(s);
			s->prev_nl = 0;
			continue;
		}
		/* a newline inside a record (multi-line message) stays in the line */
		s->prev_nl = ch == '\n';
		s->cur[s->curlen++] = ch;
		if (s->curlen >= NORM_SYSLOG_MAX_LINE) {
			/* over-long record, or garbage with no framing: cut it here */
			syslog_emit(s);
			s->prev_nl = 0;
		}
	}
}

void
norm_syslog_finish(struct norm_syslog *s)
{
	syslog_emit(s);
	s->prev_nl = 0;
}
