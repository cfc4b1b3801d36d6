/*
 * emu_bplist: client plists in either format, with bounds (issue 13).
 *
 * Real devices accept binary plists ("bplist00") from hosts as well as XML, and clients in
 * other languages send them (Python's plistlib FMT_BINARY, for the usbmux protocol and the
 * lockdown services). libplist 2.2 parses a binary plist recursively and follows object
 * references without a depth limit or a visit limit (a reference cycle recurses forever, shared
 * sub-objects are parsed again for every reference), so this file walks the whole structure
 * first with an explicit stack: trailer, offset table, every object's extent, every reference,
 * nesting depth and the total number of objects visited. Only a plist that passes is handed to
 * plist_from_bin.
 *
 * core_plist_parse() is the one entry point the core uses for a client's message; it says which
 * format came in, so the reply can go out in the same one (libimobiledevice sends XML and keeps
 * getting XML).
 */
#include <stdint.h>
#include <string.h>

#include "emu_core.h"

#define BP_MAGIC       "bplist00"
#define BP_TRAILER     32
#define BP_MAX_OBJECTS 65536u /* objects in one client message */
#define BP_MAX_DEPTH   32u    /* nesting of arrays and dicts */
#define BP_MAX_VISITS  16384u /* objects reached, counting every reference (shared ones too) */

struct bp {
	const unsigned char *buf;
	size_t len;
	size_t objs_end; /* objects lie in [8, objs_end): the offset table starts there */
	unsigned off_size, ref_size;
	uint64_t nobjects;
};

static uint64_t
be_uint(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* The offset of object i, or 0 when it is outside the objects' area. */
static size_t
bp_offset(const struct bp *b, uint64_t i)
{
	size_t table = b->objs_end;
	uint64_t off;

	if (i >= b->nobjects)
		return 0;
	off = be_uint(b->buf + table + (size_t)i * b->off_size, b->off_size);
	if (off < 8 || off >= b->objs_end)
		return 0;
	return (size_t)off;
}

/*
 * The object at off: its marker, the count (length) it announces and where its payload starts.
 * A count of 0xF is followed by an integer object holding the real count. -1 when anything is
 * out of bounds.
 */
static int
bp_header(const struct bp *b, size_t off, unsigned *type, uint64_t *count, size_t *payload)
{
	unsigned marker = b->buf[off];
	size_t p = off + 1;

	*type = marker >> 4;
	*count = marker & 0x0f;
	if (*count == 0x0f &&
	    (*type == 0x4 || *type == 0x5 || *type == 0x6 || *type == 0xa || *type == 0xd)) {
		unsigned im, n;
		if (p >= b->objs_end)
			return -1;
		im = b->buf[p];
		if ((im >> 4) != 0x1 || (im & 0x0f) > 3)
			return -1;
		n = 1u << (im & 0x0f);
		if (p + 1 + n > b->objs_end)
			return -1;
		*count = be_uint(b->buf + p + 1, n);
		p += 1 + n;
	}
	*payload = p;
	return 0;
}

/* Bytes the object's payload takes, or -1 for a type libplist would not parse here. */
static int
bp_payload_size(const struct bp *b, unsigned type, uint64_t count, uint64_t *size)
{
	switch (type) {
	case 0x0: /* null, false, true, fill */
		*size = 0;
		return count == 0x0 || count == 0x8 || count == 0x9 || count == 0xf ? 0 : -1;
	case 0x1: /* int of 2^count bytes */
		if (count > 4)
			return -1;
		*size = 1u << count;
		return 0;
	case 0x2: /* real: float32 or float64 */
		if (count < 2 || count > 3)
			return -1;
		*size = 1u << count;
		return 0;
	case 0x3: /* date: a float64 */
		*size = 8;
		return count == 3 ? 0 : -1;
	case 0x4: /* data */
	case 0x5: /* ASCII string */
		*size = count;
		return 0;
	case 0x6: /* UTF-16 string */
		if (count > UINT64_MAX / 2)
			return -1;
		*size = count * 2;
		return 0;
	case 0x8: /* UID */
		*size = count + 1;
		return 0;
	case 0xa: /* array: count refs */
		if (count > UINT64_MAX / b->ref_size)
			return -1;
		*size = count * b->ref_size;
		return 0;
	case 0xd: /* dict: count key refs, count value refs */
		if (count > UINT64_MAX / 2 / b->ref_size)
			return -1;
		*size = count * 2 * b->ref_size;
		return 0;
	default: /* sets and anything unknown: not a host's message */
		return -1;
	}
}

struct frame {
	size_t refs;   /* where the container's refs start */
	uint64_t left; /* refs still to visit */
	int dict_keys; /* dict: the first half of the refs are keys, which must be strings */
	uint64_t keys_left;
};

/* 0 when every object reachable from the top is well formed and the limits hold. */
static int
bp_walk(const struct bp *b, uint64_t top)
{
	struct frame stack[BP_MAX_DEPTH + 1];
	unsigned depth = 0;
	unsigned long visits = 0;
	uint64_t next = top;
	int need_string = 0;

	for (;;) {
		size_t off = bp_offset(b, next), payload;
		unsigned type;
		uint64_t count, size;

		if (off == 0 || ++visits > BP_MAX_VISITS)
			return -1;
		if (bp_header(b, off, &type, &count, &payload) != 0 ||
		    bp_payload_size(b, type, count, &size) != 0 || size > b->objs_end - payload)
			return -1;
		if (need_string && type != 0x5 && type != 0x6)
			return -1; /* dictionary keys are strings */
		if (type == 0xa || type == 0xd) {
			if (depth == BP_MAX_DEPTH)
				return -1;
			stack[depth].refs = payload;
			stack[depth].left = type == 0xd ? count * 2 : count;
			stack[depth].dict_keys = type == 0xd;
			stack[depth].keys_left = type == 0xd ? count : 0;
			depth++;
		}
		/* the next reference to follow: pop finished containers first */
		for (;;) {
			struct frame *f;
			if (depth == 0)
				return 0;
			f = &stack[depth - 1];
			if (f->left == 0) {
				depth--;
				continue;
			}
			next = be_uint(b->buf + f->refs, b->ref_size);
			f->refs += b->ref_size;
			f->left--;
			need_string = f->dict_keys && f->keys_left > 0;
			if (f->keys_left > 0)
				f->keys_left--;
			break;
		}
	}
}

/* Check a binary plist's structure; 0 when libplist may parse it. */
static int
bp_check(const unsigned char *buf, size_t len)
{
	struct bp b = {.buf = buf, .len = len};
	const unsigned char *t;
	uint64_t top, table;

	if (len < 8 + 1 + BP_TRAILER || memcmp(buf, BP_MAGIC, 8) != 0)
		return -1;
	t = buf + len - BP_TRAILER;
	b.off_size = t[6];
	b.ref_size = t[7];
	b.nobjects = be_uint(t + 8, 8);
	top = be_uint(t + 16, 8);
	table = be_uint(t + 24, 8);
	if (b.off_size < 1 || b.off_size > 8 || b.ref_size < 1 || b.ref_size > 8)
		return -1;
	if (b.nobjects == 0 || b.nobjects > BP_MAX_OBJECTS || top >= b.nobjects)
		return -1;
	if (table < 9 || table > len - BP_TRAILER || b.nobjects * b.off_size > len - BP_TRAILER - table)
		return -1;
	b.objs_end = (size_t)table;
	return bp_walk(&b, top);
}

plist_t
core_plist_parse(const char *buf, size_t len, int *binary)
{
	plist_t p = NULL;

	if (binary != NULL)
		*binary = 0;
	if (len >= 8 && memcmp(buf, BP_MAGIC, 8) == 0) {
		if (len > UINT32_MAX || bp_check((const unsigned char *)buf, len) != 0)
			return NULL;
		plist_from_bin(buf, (uint32_t)len, &p);
		if (p != NULL && binary != NULL)
			*binary = 1;
		return p;
	}
	return core_plist_from_xml(buf, len);
}

int
core_plist_serialize(plist_t p, int binary, char **out, uint32_t *len)
{
	*out = NULL;
	*len = 0;
	if (binary)
		plist_to_bin(p, out, len);
	else
		plist_to_xml(p, out, len);
	return *out != NULL ? 0 : -1;
}

void
core_plist_serialize_free(char *buf, int binary)
{
	if (binary)
		plist_to_bin_free(buf);
	else
		plist_to_xml_free(buf);
}
