/*
 * muxwatch: the usbmux Listen connection behind idev_watch_start (idevice.h), owned here
 * instead of by libusbmuxd 2.0.2, whose listener leaked a socket on every usbmuxd reconnect
 * and reconnected without pause (a usbmuxd sending unparseable packets made it reconnect 1,009
 * times and abort at FD_SETSIZE). One thread: connect (USBMUXD_SOCKET_ADDRESS as libusbmuxd
 * reads it, PROTOCOL.md 2), send Listen, take Result then Attached/Detached/Paired events
 * (PROTOCOL.md 1). When the connection ends or breaks, the socket is closed, every device it
 * had announced is reported removed, and the thread reconnects after a pause that doubles from
 * 100 ms to 10 s (back to 100 ms once a connection has held for 5 s, to 1 s after one that
 * answered Listen and ended sooner).
 *
 * usbmuxd's bytes are bounded: a packet is 16..1 MiB, XML only, at most 64 arrays and dicts
 * before libplist sees it; a serial number that is not a plausible UDID is ignored.
 */
#include "idevice.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <plist/plist.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MUX_DEFAULT_SOCKET "/var/run/usbmuxd"
#define MUX_HEADER         16
#define MUX_MAX_PACKET     (1u << 20)
#define MUX_MAX_CONTAINERS 64
#define MUX_MAX_DEVICES    1024
#define MUX_CONNECT_MS     2000
#define MUX_REPLY_MS       5000
#define MUX_SLICE_MS       250
#define BACKOFF_MIN_MS     100
#define BACKOFF_MAX_MS     10000
#define HEALTHY_MS         5000
#define BACKOFF_SHORT_MS   1000

struct dev {
	uint32_t id;
	char udid[65];
};

static struct {
	pthread_mutex_t mu; /* guards state, why, fd */
	pthread_t thread;
	int running;
	volatile int stop;
	int fd;
	idev_event_cb cb;
	void *ctx;
	int state; /* 0 not yet connected, 1 connected, -1 lost or never reached */
	char why[256];
	char where[128];
	struct dev devs[MUX_MAX_DEVICES];
	size_t ndevs;
	uint32_t tag;
} W = {.mu = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

/* ---------------------------------------------------------------- connecting */

static int
wait_connect(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int err = 0;
	socklen_t el = sizeof(err);

	if (poll(&p, 1, ms) != 1)
		return ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
		return errno;
	return err;
}

/* Connect where libusbmuxd would (PROTOCOL.md 2). fd, or -1 with errno-ish reason in why. */
static int
mux_connect(char *why, size_t whylen)
{
	const char *addr = getenv("USBMUXD_SOCKET_ADDRESS");
	int fd = -1, e = 0;

	if (addr && strncmp(addr, "UNIX:", 5) == 0 && addr[5] != '\0') {
		addr += 5;
	} else if (addr && *addr && strrchr(addr, ':') != NULL) {
		char host[128], *colon;
		const char *port;
		struct addrinfo hints, *res = NULL, *ai;
		util_strlcpy(host, addr[0] == '[' ? addr + 1 : addr, sizeof(host));
		colon = strrchr(host, ':');
		*colon = '\0';
		port = colon + 1;
		if (colon > host && colon[-1] == ']')
			colon[-1] = '\0';
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICSERV;
		if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
			snprintf(why, whylen, "%s: %s", addr, gai_strerror(e));
			return -1;
		}
		for (ai = res; ai && fd < 0; ai = ai->ai_next) {
			fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
			if (fd < 0)
				continue;
			if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
			    (errno != EINPROGRESS || (e = wait_connect(fd, MUX_CONNECT_MS)) != 0)) {
				snprintf(why, whylen, "%s: %s", addr,
				         strerror(errno == EINPROGRESS ? e : errno));
				close(fd);
				fd = -1;
			}
		}
		freeaddrinfo(res);
		return fd;
	} else {
		addr = MUX_DEFAULT_SOCKET;
	}
	{
		struct sockaddr_un sa;
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		if (strlen(addr) >= sizeof(sa.sun_path)) {
			snprintf(why, whylen, "%s: path too long", addr);
			return -1;
		}
		util_strlcpy(sa.sun_path, addr, sizeof(sa.sun_path));
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			snprintf(why, whylen, "socket: %s", strerror(errno));
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 &&
		    (errno != EINPROGRESS || (e = wait_connect(fd, MUX_CONNECT_MS)) != 0)) {
			snprintf(why, whylen, "%s: %s", addr, strerror(errno == EINPROGRESS ? e : errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

static void
where(char *out, size_t outlen)
{
	const char *addr = getenv("USBMUXD_SOCKET_ADDRESS");

	if (addr && strncmp(addr, "UNIX:", 5) == 0 && addr[5])
		util_strlcpy(out, addr + 5, outlen);
	else if (addr && *addr && strrchr(addr, ':'))
		util_strlcpy(out, addr, outlen);
	else
		util_strlcpy(out, MUX_DEFAULT_SOCKET, outlen);
}

/* ---------------------------------------------------------------- packets */

static int
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		struct pollfd pf = {.fd = fd, .events = POLLOUT};
		ssize_t w;
		if (poll(&pf, 1, MUX_REPLY_MS) != 1)
			return -1;
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
send_listen(int fd)
{
	static const char body[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	                           "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
	                           "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
	                           "<plist version=\"1.0\"><dict>"
	                           "<key>ClientVersionString</key><string>benchd " BENCHD_VERSION "</string>"
	                           "<key>MessageType</key><string>Listen</string>"
	                           "<key>ProgName</key><string>benchd</string>"
	                           "<key>kLibUSBMuxVersion</key><integer>3</integer>"
	                           "</dict></plist>\n";
	char pkt[MUX_HEADER + sizeof(body)];
	uint32_t h[4];

	h[0] = (uint32_t)(MUX_HEADER + sizeof(body) - 1); /* little-endian host order (x86) */
	h[1] = 1;
	h[2] = 8; /* PLIST */
	h[3] = ++W.tag;
	memcpy(pkt, h, MUX_HEADER);
	memcpy(pkt + MUX_HEADER, body, sizeof(body) - 1);
	return send_all(fd, pkt, MUX_HEADER + sizeof(body) - 1);
}

/* Read exactly n bytes; 1 done, 0 EOF, -1 error, -2 stopping. idle: wait without limit. */
static int
read_full(int fd, char *p, size_t n, int idle)
{
	long long deadline = util_now_ms() + MUX_REPLY_MS;
	size_t got = 0;

	while (got < n) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		ssize_t r;
		int pr;
		if (W.stop)
			return -2;
		if (!(idle && got == 0) && util_now_ms() > deadline)
			return -1;
		pr = poll(&pf, 1, MUX_SLICE_MS);
		if (pr < 0 && errno != EINTR)
			return -1;
		if (pr <= 0)
			continue;
		r = recv(fd, p + got, n - got, 0);
		if (r == 0)
			return 0;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		if (got == 0)
			deadline = util_now_ms() + MUX_REPLY_MS; /* a packet, once begun, must come whole */
		got += (size_t)r;
	}
	return 1;
}

/* A usbmuxd payload -> plist dict, or NULL (not XML, too many containers, not a dict). */
static plist_t
parse_payload(const char *buf, size_t len)
{
	static const char *const tags[] = {"<dict", "<array"};
	size_t containers = 0;
	plist_t p = NULL;

	if (len < 6 || (memcmp(buf, "<?xml", 5) != 0 && memcmp(buf, "<plist", 6) != 0))
		return NULL;
	for (size_t t = 0; t < 2; t++)
		for (const char *q = buf;
		     (q = memmem(q, len - (size_t)(q - buf), tags[t], strlen(tags[t]))) != NULL;
		     q += strlen(tags[t]))
			if (++containers > MUX_MAX_CONTAINERS)
				return NULL;
	plist_from_xml(buf, (uint32_t)len, &p);
	if (p != NULL && plist_get_node_type(p) != PLIST_DICT) {
		plist_free(p);
		p = NULL;
	}
	return p;
}

/* -1 protocol error, 0 EOF, 1 a packet in *out, -2 stopping. */
static int
read_packet(int fd, plist_t *out, int idle, char *why, size_t whylen)
{
	uint32_t h[4];
	char *body;
	int r;

	*out = NULL;
	r = read_full(fd, (char *)h, MUX_HEADER, idle);
	if (r <= 0) { /* 0: closed, -1: failed, -2: stopping */
		if (r == -1)
			snprintf(why, whylen, "a read failed or timed out");
		return r;
	}
	if (h[0] < MUX_HEADER + 1 || h[0] > MUX_MAX_PACKET || h[1] != 1 || h[2] != 8) {
		snprintf(why, whylen, "a packet with header %u/%u/%u", h[0], h[1], h[2]);
		return -1;
	}
	body = xmalloc(h[0] - MUX_HEADER + 1);
	r = read_full(fd, body, h[0] - MUX_HEADER, 0);
	if (r == 1)
		*out = parse_payload(body, h[0] - MUX_HEADER);
	free(body);
	if (r != 1) {
		snprintf(why, whylen, "a packet cut short");
		return r == -2 ? -2 : -1;
	}
	if (*out == NULL) {
		snprintf(why, whylen, "a packet that is not an XML plist dictionary");
		return -1;
	}
	return 1;
}

static const char *
str_of(plist_t d, const char *key)
{
	plist_t n = plist_dict_get_item(d, key);
	return n && plist_get_node_type(n) == PLIST_STRING ? plist_get_string_ptr(n, NULL) : NULL;
}

static int
uint_of(plist_t d, const char *key, uint64_t *v)
{
	plist_t n = plist_dict_get_item(d, key);
	if (n == NULL || plist_get_node_type(n) != PLIST_UINT)
		return -1;
	plist_get_uint_val(n, v);
	return 0;
}

/* libusbmuxd's sanitize_udid: a 24-character serial gets its '-' after 8 (PROTOCOL.md 1). */
static int
udid_of(const char *serial, char *out, size_t outlen)
{
	size_t n = serial ? strlen(serial) : 0;

	if (n == 0 || n > 64)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!((serial[i] >= '0' && serial[i] <= '9') || (serial[i] >= 'A' && serial[i] <= 'Z') ||
		      (serial[i] >= 'a' && serial[i] <= 'z') || serial[i] == '-'))
			return -1;
	if (n == 24 && outlen > 25)
		snprintf(out, outlen, "%.8s-%s", serial, serial + 8);
	else
		util_strlcpy(out, serial, outlen);
	return 0;
}

static struct dev *
dev_find(uint32_t id)
{
	for (size_t i = 0; i < W.ndevs; i++)
		if (W.devs[i].id == id)
			return &W.devs[i];
	return NULL;
}

static void
on_message(plist_t p)
{
	const char *type = str_of(p, "MessageType");
	uint64_t id = 0;
	struct dev *d;

	if (type == NULL || uint_of(p, "DeviceID", &id) != 0 || id == 0 || id > UINT32_MAX)
		return; /* a Result to nothing we asked, or junk: ignored */
	if (strcmp(type, "Attached") == 0) {
		plist_t props = plist_dict_get_item(p, "Properties");
		const char *ct = props ? str_of(props, "ConnectionType") : NULL;
		char udid[65];
		if (props == NULL || ct == NULL || strcmp(ct, "USB") != 0 ||
		    udid_of(str_of(props, "SerialNumber"), udid, sizeof(udid)) != 0)
			return; /* network devices are not ours; a nonsense serial is nobody's */
		if ((d = dev_find((uint32_t)id)) == NULL) {
			if (W.ndevs == MUX_MAX_DEVICES)
				return;
			d = &W.devs[W.ndevs++];
			d->id = (uint32_t)id;
		}
		util_strlcpy(d->udid, udid, sizeof(d->udid));
		W.cb(IDEV_EVENT_ADD, d->udid, W.ctx);
	} else if (strcmp(type, "Detached") == 0) {
		if ((d = dev_find((uint32_t)id)) == NULL)
			return;
		W.cb(IDEV_EVENT_REMOVE, d->udid, W.ctx);
		*d = W.devs[--W.ndevs];
	} else if (strcmp(type, "Paired") == 0) {
		if ((d = dev_find((uint32_t)id)) != NULL)
			W.cb(IDEV_EVENT_PAIRED, d->udid, W.ctx);
	}
}

/* Every device the lost connection announced is gone (libusbmuxd does the same). */
static void
forget_all(void)
{
	while (W.ndevs > 0) {
		W.ndevs--;
		W.cb(IDEV_EVENT_REMOVE, W.devs[W.ndevs].udid, W.ctx);
	}
}

static void
set_state(int state, const char *why)
{
	pthread_mutex_lock(&W.mu);
	W.state = state;
	util_strlcpy(W.why, why ? why : "", sizeof(W.why));
	pthread_mutex_unlock(&W.mu);
}

/* Sleep ms in slices; returns non-zero when stopping. */
static int
pause_ms(int ms)
{
	for (int t = 0; t < ms && !W.stop; t += 50)
		usleep(50 * 1000);
	return W.stop;
}

static void *
watch_main(void *arg)
{
	int backoff = BACKOFF_MIN_MS, warned = 0, ever = 0;

	(void)arg;
	log_set_device(NULL);
	while (!W.stop) {
		char why[256] = "";
		long long up_at;
		plist_t p = NULL;
		int fd = mux_connect(why, sizeof(why)), r;

		if (fd < 0) {
			if (!warned)
				log_warnx(
				    "usbmux: no usbmuxd answers on %s (%s): iPhones in normal mode are not "
				    "seen until it does (start it: systemctl start usbmuxd); retrying",
				    W.where, why);
			warned = 1;
			set_state(-1, why);
			goto again;
		}
		pthread_mutex_lock(&W.mu);
		W.fd = fd;
		pthread_mutex_unlock(&W.mu);
		r = send_listen(fd) == 0 ? read_packet(fd, &p, 0, why, sizeof(why)) : -1;
		if (r == 1) {
			uint64_t num = 1;
			const char *type = str_of(p, "MessageType");
			if (type == NULL || strcmp(type, "Result") != 0 || uint_of(p, "Number", &num) != 0 ||
			    num != 0) {
				snprintf(why, sizeof(why), "Listen was answered %s %llu",
				         type ? type : "without a type", (unsigned long long)num);
				r = -1;
			}
			plist_free(p);
		} else if (r == 0) {
			snprintf(why, sizeof(why), "it closed the connection before answering Listen");
			r = -1;
		}
		if (r == 1) {
			up_at = util_now_ms();
			set_state(1, NULL);
			if (warned || ever)
				log_info("usbmux: usbmuxd answers on %s again: watching for devices",
				         W.where);
			else
				log_info("usbmux: watching %s for devices", W.where);
			warned = 0;
			ever = 1;
			while ((r = read_packet(fd, &p, 1, why, sizeof(why))) == 1) {
				on_message(p);
				plist_free(p);
			}
			/* A usbmuxd that answered Listen is a real one (restarted, most likely): look
			 * for it again soon; one that dropped us within 5 s pauses us from 1 s on. */
			backoff = util_now_ms() - up_at >= HEALTHY_MS ? BACKOFF_MIN_MS : BACKOFF_SHORT_MS;
			if (r == 0)
				snprintf(why, sizeof(why), "usbmuxd closed the connection");
		}
		pthread_mutex_lock(&W.mu);
		W.fd = -1;
		pthread_mutex_unlock(&W.mu);
		close(fd);
		if (W.stop) { /* benchd stops watching: its sessions drain, nothing was unplugged */
			W.ndevs = 0;
			break;
		}
		forget_all();
		set_state(-1, why);
		if (!warned)
			log_warnx("usbmux: lost the Listen connection to %s (%s): its devices are taken as "
			          "unplugged; reconnecting",
			          W.where, why);
		warned = 1;
	again:
		if (pause_ms(backoff))
			break;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}

int
idev_watch_start(idev_event_cb cb, void *ctx)
{
	if (W.running)
		return IDEV_OK;
	W.cb = cb;
	W.ctx = ctx;
	W.stop = 0;
	W.state = 0;
	W.ndevs = 0;
	where(W.where, sizeof(W.where));
	if (pthread_create(&W.thread, NULL, watch_main, NULL) != 0)
		return IDEV_E_NO_USBMUXD;
	W.running = 1;
	return IDEV_OK;
}

void
idev_watch_stop(void)
{
	if (!W.running)
		return;
	W.stop = 1;
	pthread_mutex_lock(&W.mu);
	if (W.fd >= 0)
		shutdown(W.fd, SHUT_RDWR);
	pthread_mutex_unlock(&W.mu);
	pthread_join(W.thread, NULL);
	W.running = 0;
	W.cb = NULL;
}

int
idev_watch_status(char *why, size_t whylen)
{
	int st;

	pthread_mutex_lock(&W.mu);
	st = W.running ? W.state : -1;
	if (why && whylen)
		snprintf(why, whylen, "%s",
		         !W.running     ? "not watching"
		         : W.state == 0 ? "connecting"
		                        : W.why);
	pthread_mutex_unlock(&W.mu);
	return st;
}
