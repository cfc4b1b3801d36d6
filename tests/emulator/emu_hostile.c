/*
 * emu_hostile: see emu_hostile.h. The hostile device: every function here is reached only when a
 * profile's Behaviour asks for it.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "emu_core.h"
#include "log.h"
#include "svc.h"
#include "util.h"

#define NEST_MAX       1000000u
#define HUGE_LOCKDOWN  0x7ffffff0u /* 2 GiB announced */
#define HUGE_AFC       ((uint64_t)1 << 32)
#define OVERFLOW_BYTES 65536u
#define BOMB_MARK      "@@benchd-emu-bomb@@"
#define TLS_IO_MS      30000

static const char *const stages_trickle[] = {"lockdown", "tls", "diagnostics", "syslog",
                                             "mover",    "afc", NULL};
static const char *const stages_huge[] = {"lockdown", "diagnostics", "afc", NULL};

int
emu_hostile_known_key(const char *key)
{
	static const char *const keys[] = {"AfcReadOverflow", "DiagnosticsNest", "GetValueNest",  "Trickle",
	                                   "TrickleMs",       "HugeLength",      "TlsHalfRecord", NULL};

	for (int i = 0; keys[i]; i++)
		if (strcmp(key, keys[i]) == 0)
			return 1;
	return 0;
}

static int
get_uint(plist_t beh, const char *key, uint64_t lo, uint64_t hi, uint64_t *out)
{
	plist_t n = plist_dict_get_item(beh, key);

	if (n == NULL)
		return 0;
	if (plist_get_node_type(n) != PLIST_UINT)
		return -1;
	plist_get_uint_val(n, out);
	return *out < lo || *out > hi ? -1 : 0;
}

static int
get_stage(plist_t beh, const char *key, const char *const *stages, char *out, size_t outlen)
{
	plist_t n = plist_dict_get_item(beh, key);
	const char *s;

	if (n == NULL)
		return 0;
	s = plist_get_node_type(n) == PLIST_STRING ? plist_get_string_ptr(n, NULL) : NULL;
	for (int i = 0; s && stages[i]; i++)
		if (strcmp(s, stages[i]) == 0) {
			util_strlcpy(out, s, outlen);
			return 0;
		}
	return -1;
}

static int
get_flag(plist_t beh, const char *key, int *out)
{
	plist_t n = plist_dict_get_item(beh, key);
	uint8_t b = 0;

	if (n == NULL)
		return 0;
	if (plist_get_node_type(n) != PLIST_BOOLEAN)
		return -1;
	plist_get_bool_val(n, &b);
	*out = b != 0;
	return 0;
}

int
emu_hostile_check(plist_t beh, struct emu_hostile *h, char *why, size_t whylen)
{
	uint64_t v = 0;

	memset(h, 0, sizeof(*h));
	h->trickle_ms = 1000;
	if (get_flag(beh, "AfcReadOverflow", &h->afc_read_overflow) != 0) {
		snprintf(why, whylen, "Behaviour/AfcReadOverflow must be a boolean");
		return -1;
	}
	if (get_flag(beh, "TlsHalfRecord", &h->tls_half_record) != 0) {
		snprintf(why, whylen, "Behaviour/TlsHalfRecord must be a boolean");
		return -1;
	}
	if (get_uint(beh, "DiagnosticsNest", 1, NEST_MAX, &v) != 0) {
		snprintf(why, whylen, "Behaviour/DiagnosticsNest must be an integer 1..%u", NEST_MAX);
		return -1;
	}
	h->diag_nest = (unsigned)v;
	v = 0;
	if (get_uint(beh, "GetValueNest", 1, NEST_MAX, &v) != 0) {
		snprintf(why, whylen, "Behaviour/GetValueNest must be an integer 1..%u", NEST_MAX);
		return -1;
	}
	h->getvalue_nest = (unsigned)v;
	v = 1000;
	if (get_uint(beh, "TrickleMs", 1, 60000, &v) != 0) {
		snprintf(why, whylen, "Behaviour/TrickleMs must be an integer 1..60000");
		return -1;
	}
	h->trickle_ms = (int)v;
	if (get_stage(beh, "Trickle", stages_trickle, h->trickle, sizeof(h->trickle)) != 0) {
		snprintf(why, whylen,
		         "Behaviour/Trickle must be one of lockdown, tls, diagnostics, syslog, mover, afc");
		return -1;
	}
	if (get_stage(beh, "HugeLength", stages_huge, h->huge_length, sizeof(h->huge_length)) != 0) {
		snprintf(why, whylen, "Behaviour/HugeLength must be one of lockdown, diagnostics, afc");
		return -1;
	}
	return 0;
}

int
emu_hostile_at(const struct emu_device *d, const char *stage)
{
	return d != NULL &&
	       (strcmp(d->hostile.trickle, stage) == 0 || strcmp(d->hostile.huge_length, stage) == 0);
}

/* Sleep ms, in slices; 0, or -1 when the device was detached or the emulator stops. */
static int
nap(const struct emu_device *d, int ms)
{
	long long end = util_now_ms() + ms;

	for (;;) {
		long long left = end - util_now_ms();
		struct timespec ts;

		if (atomic_load(&d->detached) || atomic_load(&emu_core.stopping))
			return -1;
		if (left <= 0)
			return 0;
		if (left > 200)
			left = 200;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
}

/* One byte every TrickleMs. */
static int
trickle(int fd, const unsigned char *p, size_t n, const struct emu_device *d)
{
	for (size_t i = 0; i < n; i++) {
		if (nap(d, d->hostile.trickle_ms) != 0 || emu_write_all(fd, p + i, 1) != 0)
			return -1;
	}
	return 0;
}

int
emu_hostile_send(int fd, const void *buf, size_t n, const struct emu_device *d, const char *stage)
{
	if (strcmp(d->hostile.trickle, stage) == 0) {
		log_debug("hostile: trickling %zu bytes (%s)", n, stage);
		return trickle(fd, buf, n, d);
	}
	if (strcmp(d->hostile.huge_length, stage) == 0) {
		unsigned char *m = xmalloc(n);
		int rc;

		memcpy(m, buf, n);
		if (strcmp(stage, "afc") != 0 && n >= 4) {
			uint32_t be = htonl(HUGE_LOCKDOWN);
			memcpy(m, &be, 4);
		}
		log_debug("hostile: a reply announcing a huge length (%s), then silence", stage);
		rc = emu_write_all(fd, m, n);
		free(m);
		if (rc == 0)
			svc_idle(fd, d, -1);
		return -1;
	}
	return emu_write_all(fd, buf, n);
}

/* "<array>" * depth + "</array>" * depth */
static char *
nest(unsigned depth, size_t *len)
{
	static const char open[] = "<array>", close[] = "</array>";
	size_t n = (size_t)depth * (sizeof(open) - 1 + sizeof(close) - 1), o = 0;
	char *s = xmalloc(n + 1);

	for (unsigned i = 0; i < depth; i++, o += sizeof(open) - 1)
		memcpy(s + o, open, sizeof(open) - 1);
	for (unsigned i = 0; i < depth; i++, o += sizeof(close) - 1)
		memcpy(s + o, close, sizeof(close) - 1);
	s[o] = '\0';
	*len = o;
	return s;
}

/* xml with the first "<string>MARK</string>" replaced by depth nested arrays; malloc'd. */
static char *
splice_bomb(const char *xml, size_t xlen, unsigned depth, size_t *outlen)
{
	static const char mark[] = "<string>" BOMB_MARK "</string>";
	const char *at = memmem(xml, xlen, mark, sizeof(mark) - 1);
	size_t blen, pre, post;
	char *bomb, *out;

	if (at == NULL)
		return NULL;
	bomb = nest(depth, &blen);
	pre = (size_t)(at - xml);
	post = xlen - pre - (sizeof(mark) - 1);
	out = xmalloc(pre + blen + post + 1);
	memcpy(out, xml, pre);
	memcpy(out + pre, bomb, blen);
	memcpy(out + pre + blen, at + sizeof(mark) - 1, post);
	out[pre + blen + post] = '\0';
	free(bomb);
	*outlen = pre + blen + post;
	return out;
}

/* Lockdown framing around body: the 4-byte big-endian length first. */
static int
send_framed(int fd, const char *body, size_t blen, const struct emu_device *d, const char *stage)
{
	unsigned char *msg = xmalloc(blen + 4);
	uint32_t be = htonl((uint32_t)blen);
	int rc;

	memcpy(msg, &be, 4);
	memcpy(msg + 4, body, blen);
	rc = emu_hostile_send(fd, msg, blen + 4, d, stage);
	free(msg);
	return rc;
}

int
emu_hostile_plist_send(int fd, plist_t p, const struct emu_device *d, const char *stage)
{
	char *xml = NULL, *bombed = NULL;
	uint32_t xlen = 0;
	size_t blen = 0;
	int rc;

	if (!emu_hostile_at(d, stage) && !(d->hostile.diag_nest && strcmp(stage, "diagnostics") == 0))
		return emu_plist_send(fd, p);
	if (d->hostile.diag_nest && strcmp(stage, "diagnostics") == 0) {
		plist_t diag = plist_dict_get_item(p, "Diagnostics");
		if (diag == NULL) {
			diag = plist_new_dict();
			plist_dict_set_item(p, "Diagnostics", diag);
		}
		if (plist_get_node_type(diag) == PLIST_DICT)
			plist_dict_set_item(diag, "Bomb", plist_new_string(BOMB_MARK));
	}
	plist_to_xml(p, &xml, &xlen);
	if (xml == NULL)
		return -1;
	if (d->hostile.diag_nest && strcmp(stage, "diagnostics") == 0) {
		bombed = splice_bomb(xml, xlen, d->hostile.diag_nest, &blen);
		log_debug("hostile: a diagnostics reply nested %u arrays deep (%zu bytes)",
		          d->hostile.diag_nest, blen);
	}
	rc = bombed ? send_framed(fd, bombed, blen, d, stage) : send_framed(fd, xml, xlen, d, stage);
	free(bombed);
	plist_to_xml_free(xml);
	return rc;
}

char *
emu_hostile_getvalue_xml(const struct emu_device *d, const char *domain, size_t *len)
{
	plist_t p = plist_new_dict();
	char *xml = NULL, *out;
	uint32_t xlen = 0;

	plist_dict_set_item(p, "Request", plist_new_string("GetValue"));
	if (domain)
		plist_dict_set_item(p, "Domain", plist_new_string(domain));
	plist_dict_set_item(p, "Value", plist_new_string(BOMB_MARK));
	plist_to_xml(p, &xml, &xlen);
	plist_free(p);
	if (xml == NULL)
		return NULL;
	out = splice_bomb(xml, xlen, d->hostile.getvalue_nest, len);
	plist_to_xml_free(xml);
	log_debug("hostile: a GetValue reply nested %u arrays deep (%zu bytes)", d->hostile.getvalue_nest,
	          *len);
	return out;
}

int
emu_hostile_afc_overflow(int fd, uint64_t packet_num, const struct emu_device *d)
{
	size_t total = 40 + OVERFLOW_BYTES;
	unsigned char *p = xcalloc(1, total);
	uint64_t v;
	int rc;

	memcpy(p, "CFA6LPAA", 8);
	v = htole64(40 + 16); /* entire_length: the client allocates 16 bytes... */
	memcpy(p + 8, &v, 8);
	v = htole64(40 + OVERFLOW_BYTES); /* ...and receives this_length - 40 into them */
	memcpy(p + 16, &v, 8);
	v = htole64(packet_num);
	memcpy(p + 24, &v, 8);
	v = htole64(2); /* AFC_OP_DATA */
	memcpy(p + 32, &v, 8);
	memset(p + 40, 0x41, OVERFLOW_BYTES);
	log_debug("hostile: an AFC FileRead reply with this_length %u > entire_length 56",
	          40 + OVERFLOW_BYTES);
	emu_delay(d);
	rc = emu_write_all(fd, p, total);
	free(p);
	return rc;
}

void
emu_hostile_afc_huge(unsigned char *pkt, size_t n, const struct emu_device *d)
{
	uint64_t v = htole64(HUGE_AFC + 40);

	if (strcmp(d->hostile.huge_length, "afc") == 0 && n >= 16)
		memcpy(pkt + 8, &v, 8);
}

/* Write what the TLS engine wrote into its memory BIO, trickled. 0 or -1. */
static int
flush_trickled(BIO *wbio, int fd, const struct emu_device *d)
{
	unsigned char buf[4096];
	int n;

	while ((n = BIO_read(wbio, buf, sizeof(buf))) > 0)
		if (trickle(fd, buf, (size_t)n, d) != 0)
			return -1;
	return 0;
}

int
emu_hostile_tls_accept(SSL *ssl, int fd, const struct emu_device *d)
{
	BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
	int r;

	if (rbio == NULL || wbio == NULL) {
		BIO_free(rbio);
		BIO_free(wbio);
		return 0;
	}
	BIO_set_mem_eof_return(rbio, -1); /* empty: "retry", not EOF */
	SSL_set_bio(ssl, rbio, wbio);
	log_debug("hostile: trickling the TLS handshake");
	for (;;) {
		int e;
		r = SSL_accept(ssl);
		if (flush_trickled(wbio, fd, d) != 0)
			return 0;
		if (r == 1)
			break;
		e = SSL_get_error(ssl, r);
		ERR_clear_error();
		if (e == SSL_ERROR_WANT_READ) {
			unsigned char buf[4096];
			struct pollfd p = {.fd = fd, .events = POLLIN};
			ssize_t n;
			if (poll(&p, 1, TLS_IO_MS) != 1 || (n = read(fd, buf, sizeof(buf))) <= 0)
				return 0;
			BIO_write(rbio, buf, (int)n);
			continue;
		}
		return 0;
	}
	/* done (it would take the client half an hour): talk over the socket from now on */
	SSL_set_fd(ssl, fd);
	return 1;
}

int
emu_hostile_tls_half(SSL *ssl, int fd, const void *msg, size_t n, const struct emu_device *d)
{
	BIO *mem = BIO_new(BIO_s_mem());
	unsigned char *rec;
	int len;

	if (mem == NULL)
		return -1;
	SSL_set0_wbio(ssl, mem); /* the socket BIO keeps its read reference */
	if (SSL_write(ssl, msg, (int)n) != (int)n) {
		ERR_clear_error();
		return -1;
	}
	len = (int)BIO_pending(mem);
	rec = xmalloc(len > 0 ? (size_t)len : 1);
	len = BIO_read(mem, rec, len);
	log_debug("hostile: half of a %d-byte TLS record, then silence", len);
	if (len > 1 && emu_write_all(fd, rec, (size_t)len / 2) == 0)
		svc_idle(fd, d, -1);
	free(rec);
	return -1;
}
