/*
 * emu_io: the emu.h helpers every connection uses: bounded, timed, detach-aware reads, one-write
 * sends, lockdown-style plist framing, profile lookups and the Behaviour knobs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "emu_core.h"
#include "util.h"

#define POLL_SLICE_MS 250 /* how often a blocked read re-checks detach and shutdown */

void
emu_delay(const struct emu_device *d)
{
	long long end;

	if (d == NULL || d->latency_ms <= 0)
		return;
	/* in slices, so a detach or shutdown is not held up by a slow profile */
	end = util_now_ms() + d->latency_ms;
	for (;;) {
		long long left = end - util_now_ms();
		struct timespec ts;

		if (left <= 0 || atomic_load(&d->detached) || atomic_load(&emu_core.stopping))
			return;
		if (left > POLL_SLICE_MS)
			left = POLL_SLICE_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
}

int
emu_should_disconnect(const struct emu_device *d, const char *stage)
{
	return d != NULL && stage != NULL && d->disconnect_after[0] != '\0' &&
	       strcmp(d->disconnect_after, stage) == 0;
}

int
emu_read_full(int fd, void *buf, size_t n, int timeout_ms, const struct emu_device *d)
{
	char *p = buf;
	size_t got = 0;
	long long deadline = timeout_ms >= 0 ? util_now_ms() + timeout_ms : -1;

	while (got < n) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int slice = POLL_SLICE_MS;
		ssize_t r;
		int pr;

		if ((d != NULL && atomic_load(&d->detached)) || atomic_load(&emu_core.stopping))
			return -1;
		if (deadline >= 0) {
			long long left = deadline - util_now_ms();
			if (left <= 0)
				return -1;
			if (left < slice)
				slice = (int)left;
		}
		pr = poll(&pfd, 1, slice);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pr == 0)
			continue;
		r = recv(fd, p + got, n - got, 0);
		if (r == 0)
			return -1;
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int
emu_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
emu_plist_recv(int fd, plist_t *out, int timeout_ms, const struct emu_device *d)
{
	uint32_t be;
	uint32_t len;
	char *body;
	plist_t p = NULL;
	int binary = 0;

	*out = NULL;
	if (emu_read_full(fd, &be, sizeof(be), timeout_ms, d) != 0)
		return -1;
	len = ntohl(be);
	if (len == 0 || len > EMU_MAX_PLIST)
		return -1;
	body = xmalloc(len);
	if (emu_read_full(fd, body, len, timeout_ms, d) != 0) {
		free(body);
		return -1;
	}
	p = core_plist_parse(body, len, &binary);
	free(body);
	if (p == NULL)
		return -1;
	core_plist_set_reply_binary(binary);
	*out = p;
	return 0;
}

static __thread int reply_binary;

void
core_plist_set_reply_binary(int binary)
{
	reply_binary = binary;
}

int
core_plist_reply_binary(void)
{
	return reply_binary;
}

plist_t
core_plist_from_xml(const char *buf, size_t len)
{
	static const char *const open_tags[] = {"<array", "<dict"};
	size_t containers = 0;
	plist_t p = NULL;

	/* hosts send XML (PROTOCOL.md 3); libplist parses recursively, so bound the containers
	 * (and with them the depth) before it sees the bytes: nothing can hide an opening tag */
	if (len < 5 || len > UINT32_MAX || (memcmp(buf, "<?xml", 5) != 0 && memcmp(buf, "<plist", 6) != 0))
		return NULL;
	for (size_t t = 0; t < 2; t++) {
		size_t n = strlen(open_tags[t]);
		for (const char *q = buf; (q = memmem(q, len - (size_t)(q - buf), open_tags[t], n)) != NULL;
		     q += n)
			if (++containers > EMU_MAX_CONTAINERS)
				return NULL;
	}
	plist_from_xml(buf, (uint32_t)len, &p);
	return p;
}

int
emu_plist_send(int fd, plist_t p)
{
	char *xml = NULL;
	uint32_t len = 0;
	uint32_t be;
	char *msg;
	int rc, binary = core_plist_reply_binary();

	if (core_plist_serialize(p, binary, &xml, &len) != 0)
		return -1;
	msg = xmalloc((size_t)len + 4);
	be = htonl(len);
	memcpy(msg, &be, 4);
	memcpy(msg + 4, xml, len);
	core_plist_serialize_free(xml, binary);
	rc = emu_write_all(fd, msg, (size_t)len + 4);
	free(msg);
	return rc;
}

plist_t
emu_profile_get(const struct emu_device *d, ...)
{
	va_list ap;
	const char *key;
	plist_t node;

	if (d == NULL || d->plist == NULL)
		return NULL;
	node = d->plist;
	va_start(ap, d);
	while ((key = va_arg(ap, const char *)) != NULL) {
		if (node == NULL || plist_get_node_type(node) != PLIST_DICT) {
			node = NULL;
			break;
		}
		node = plist_dict_get_item(node, key);
	}
	va_end(ap);
	return node;
}
