/*
 * buf: a growable byte buffer with a hard size cap (curl dynbuf style).
 *
 * Every buffer is created with the most bytes it may ever hold; an append past the cap fails
 * with BUF_E_TOO_BIG and frees nothing already held. The data is always NUL-terminated (the NUL
 * is not counted in len), so text can be used as a C string. buf_take hands the memory to the
 * caller and leaves the buffer empty. Untrusted lengths from devices go through here.
 */
#ifndef BENCHD_BUF_H
#define BENCHD_BUF_H

#include <stdarg.h>
#include <stddef.h>

enum buf_err {
	BUF_OK = 0,
	BUF_E_TOO_BIG = -1, /* the append would pass the cap */
	BUF_E_NOMEM = -2,
};

struct buf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t cap; /* allocated */
	size_t max; /* hard limit on len */
};

#define BUF_WARN __attribute__((warn_unused_result))

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, memory kept */
int buf_add(struct buf *b, const void *p, size_t n) BUF_WARN;
int buf_addstr(struct buf *b, const char *s) BUF_WARN;
int buf_printf(struct buf *b, const char *fmt, ...) BUF_WARN __attribute__((format(printf, 2, 3)));
/* The caller owns the returned NUL-terminated memory (never NULL on success); *len may be NULL. */
char *buf_take(struct buf *b, size_t *len);
const char *buf_strerror(int err);

#endif
