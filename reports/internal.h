/*
 * reports internals: base64url (RFC 4648 section 5, no padding, strict). SHA-256 in hex is
 * agent/common/hash.h. Not for use outside reports/.
 */
#ifndef BENCHD_REPORTS_INTERNAL_H
#define BENCHD_REPORTS_INTERNAL_H

#include <stddef.h>

/* Encode n bytes; returns a malloc'd NUL-terminated string (never NULL). */
char *b64url_encode(const void *p, size_t n);
/*
 * Decode strictly: only A-Z a-z 0-9 - _, no padding, no whitespace, a length that is not
 * 1 mod 4, and zero unused trailing bits (so every byte string has exactly one encoding).
 * Returns 0 and a malloc'd buffer (NUL-terminated, not counted) or -1.
 */
int b64url_decode(const char *s, size_t slen, unsigned char **out, size_t *outlen);

#endif
