/* base64url without padding, strict decoding: see internal.h. */
#include "internal.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
b64url_encode(const void *p, size_t n)
{
	const unsigned char *s = p;
	char *out = xmalloc(n / 3 * 4 + 5);
	size_t i, o = 0;

	for (i = 0; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)s[i] << 16;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
	} else if (n - i == 2) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
	}
	out[o] = '\0';
	return out;
}

static int
val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int
b64url_decode(const char *s, size_t slen, unsigned char **out, size_t *outlen)
{
	unsigned char *o;
	size_t i, n = 0, rem = slen % 4;

	if (rem == 1)
		return -1;
	o = xmalloc(slen / 4 * 3 + 3);
	for (i = 0; i + 4 <= slen; i += 4) {
		int a = val(s[i]), b = val(s[i + 1]), c = val(s[i + 2]), d = val(s[i + 3]);
		if (a < 0 || b < 0 || c < 0 || d < 0)
			goto bad;
		unsigned v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)c << 6 | (unsigned)d;
		o[n++] = (unsigned char)(v >> 16);
		o[n++] = (unsigned char)(v >> 8);
		o[n++] = (unsigned char)v;
	}
	if (rem == 2) {
		int a = val(s[i]), b = val(s[i + 1]);
		if (a < 0 || b < 0 || (b & 15) != 0)
			goto bad;
		o[n++] = (unsigned char)(a << 2 | b >> 4);
	} else if (rem == 3) {
		int a = val(s[i]), b = val(s[i + 1]), c = val(s[i + 2]);
		if (a < 0 || b < 0 || c < 0 || (c & 3) != 0)
			goto bad;
		unsigned v = (unsigned)a << 12 | (unsigned)b << 6 | (unsigned)c;
		o[n++] = (unsigned char)(v >> 10);
		o[n++] = (unsigned char)(v >> 2);
	}
	o[n] = '\0';
	*out = o;
	*outlen = n;
	return 0;
bad:
	free(o);
	return -1;
}
