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
	struct timespec ts;

	if (d == NULL || d->latency_ms <= 0)
		return;
	ts.tv_sec = d->latency_ms / 1000;
	ts.tv_nsec = (long)(d->latency_ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
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
	plist_from_memory(body, len, &p);
	free(body);
	if (p == NULL)
		return -1;
	*out = p;
	return 0;
}

int
emu_plist_send(int fd, plist_t p)
{
	char *xml = NULL;
	uint32_t len = 0;
	uint32_t be;
	char *msg;
	int rc;

	plist_to_xml(p, &xml, &len);
	if (xml == NULL)
		return -1;
	msg = xmalloc((size_t)len + 4);
	be = htonl(len);
	memcpy(msg, &be, 4);
	memcpy(msg + 4, xml, len);
	plist_to_xml_free(xml);
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
