/*
 * emu-core-check: a client for the idevice-emu core tests, built on the real libimobiledevice
 * 1.3.0 / libusbmuxd 2.0.2 (never on emulator code), for what the stock tools cannot show:
 *
 *   control SOCK LINE             send one control line, print the answer; exit 0 on "ok"
 *   start-service UDID NAME       handshake + StartService; print "ok PORT" or the lockdown error
 *   detach-ends UDID CTLSOCK      open a lockdown session, detach the device through the control
 *                                 socket, and require the session's next request to fail fast
 *   events UDID CTLSOCK PROFILE   Listen: require Attached for UDID, then Detached after
 *                                 "detach", then Attached after "attach PROFILE"
 *   garbage MUXSOCK               throw malformed usbmux and lockdown traffic at the emulator,
 *                                 hold 200 idle connections, and require ListDevices to answer
 *   bad-host UDID                 StartSession with a HostID the device never paired with:
 *                                 require InvalidHostID
 *   record UDID                   ReadPairRecord: require every key real usbmuxd keeps, PEM
 *                                 certificates and keys, and SystemBUID equal to ReadBUID
 *   hold UDID                     keep a Listen subscription and a lockdown session open, print
 *                                 "ready", exit 0 when the emulator goes away within 60 s
 * USBMUXD_SOCKET_ADDRESS must point at the emulator. Exit 0 = pass, 1 = fail (reason on stderr).
 */
#include <errno.h>
#include <libimobiledevice/libimobiledevice.h>
#include <libimobiledevice/lockdown.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <usbmuxd.h>

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One control line; the answer (without newline) into out. 0 when it starts with "ok". */
static int
control(const char *sock, const char *line, char *out, size_t outlen)
{
	int fd = unix_connect(sock);
	size_t n = 0;
	char c;

	out[0] = '\0';
	if (fd < 0) {
		snprintf(out, outlen, "cannot connect to %s: %s", sock, strerror(errno));
		return -1;
	}
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line) || write(fd, "\n", 1) != 1) {
		close(fd);
		return -1;
	}
	while (n + 1 < outlen) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 20000) != 1 || read(fd, &c, 1) != 1 || c == '\n')
			break;
		out[n++] = c;
	}
	out[n] = '\0';
	close(fd);
	return strncmp(out, "ok", 2) == 0 ? 0 : -1;
}

static int
open_lockdown(const char *udid, idevice_t *dev, lockdownd_client_t *ld)
{
	lockdownd_error_t le;

	if (idevice_new(dev, udid) != IDEVICE_E_SUCCESS) {
		fprintf(stderr, "no device %s\n", udid);
		return -1;
	}
	le = lockdownd_client_new_with_handshake(*dev, ld, "emu-core-check");
	if (le != LOCKDOWN_E_SUCCESS) {
		fprintf(stderr, "lockdown handshake with %s failed: %d\n", udid, le);
		idevice_free(*dev);
		return -1;
	}
	return 0;
}

static int
cmd_start_service(const char *udid, const char *name)
{
	idevice_t dev = NULL;
	lockdownd_client_t ld = NULL;
	lockdownd_service_descriptor_t svc = NULL;
	lockdownd_error_t le;

	if (open_lockdown(udid, &dev, &ld) != 0)
		return 1;
	le = lockdownd_start_service(ld, name, &svc);
	if (le == LOCKDOWN_E_SUCCESS)
		printf("ok %u\n", svc->port);
	else if (le == LOCKDOWN_E_PASSWORD_PROTECTED)
		printf("error PasswordProtected\n");
	else if (le == LOCKDOWN_E_INVALID_SERVICE)
		printf("error InvalidService\n");
	else
		printf("error %d\n", le);
	lockdownd_service_descriptor_free(svc);
	lockdownd_client_free(ld);
	idevice_free(dev);
	return le == LOCKDOWN_E_SUCCESS ? 0 : 1;
}

static int
cmd_detach_ends(const char *udid, const char *ctl)
{
	idevice_t dev = NULL;
	lockdownd_client_t ld = NULL;
	plist_t v = NULL;
	char ans[256];
	long long t0;
	lockdownd_error_t le;
	int rc = 1;

	if (open_lockdown(udid, &dev, &ld) != 0)
		return 1;
	if (lockdownd_get_value(ld, NULL, "ProductVersion", &v) != LOCKDOWN_E_SUCCESS) {
		fprintf(stderr, "GetValue before detach failed\n");
		goto out;
	}
	plist_free(v);
	v = NULL;
	if (control(ctl, "detach", ans, sizeof(ans)) == 0 || control(ctl, udid, ans, sizeof(ans)) == 0) {
		fprintf(stderr, "malformed control lines were accepted: %s\n", ans);
		goto out;
	}
	{
		char line[128];
		snprintf(line, sizeof(line), "detach %s", udid);
		if (control(ctl, line, ans, sizeof(ans)) != 0) {
			fprintf(stderr, "detach refused: %s\n", ans);
			goto out;
		}
	}
	t0 = now_ms();
	le = lockdownd_get_value(ld, NULL, "ProductVersion", &v);
	if (le == LOCKDOWN_E_SUCCESS) {
		fprintf(stderr, "GetValue still answered after detach\n");
		goto out;
	}
	if (now_ms() - t0 > 5000) {
		fprintf(stderr, "GetValue took %lld ms to fail after detach\n", now_ms() - t0);
		goto out;
	}
	lockdownd_client_free(ld);
	ld = NULL;
	idevice_free(dev);
	dev = NULL;
	if (idevice_new(&dev, udid) == IDEVICE_E_SUCCESS) {
		fprintf(stderr, "device %s is still listed after detach\n", udid);
		goto out;
	}
	printf("ok: connection ended %lld ms after detach\n", now_ms() - t0);
	rc = 0;
out:
	plist_free(v);
	if (ld != NULL)
		lockdownd_client_free(ld);
	if (dev != NULL)
		idevice_free(dev);
	return rc;
}

/* ---- events ---- */

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;
static int ev_added, ev_removed;
static const char *ev_udid;

static void
on_event(const usbmuxd_event_t *e, void *user)
{
	(void)user;
	if (strcmp(e->device.udid, ev_udid) != 0)
		return;
	pthread_mutex_lock(&ev_lock);
	if (e->event == UE_DEVICE_ADD)
		ev_added++;
	else if (e->event == UE_DEVICE_REMOVE)
		ev_removed++;
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_lock);
}

static int
wait_events(int added, int removed)
{
	long long end = now_ms() + 5000;
	int ok;

	pthread_mutex_lock(&ev_lock);
	while (!(ev_added >= added && ev_removed >= removed) && now_ms() < end) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&ev_cond, &ev_lock, &ts);
	}
	ok = ev_added == added && ev_removed == removed;
	if (!ok)
		fprintf(stderr, "events: expected %d added %d removed, got %d added %d removed\n", added,
		        removed, ev_added, ev_removed);
	pthread_mutex_unlock(&ev_lock);
	return ok ? 0 : -1;
}

static int
cmd_events(const char *udid, const char *ctl, const char *profile)
{
	usbmuxd_subscription_context_t ctx = NULL;
	char line[4200], ans[256];
	int rc = 1;

	ev_udid = udid;
	if (usbmuxd_events_subscribe(&ctx, on_event, NULL) != 0) {
		fprintf(stderr, "cannot subscribe to usbmux events\n");
		return 1;
	}
	if (wait_events(1, 0) != 0)
		goto out;
	snprintf(line, sizeof(line), "detach %s", udid);
	if (control(ctl, line, ans, sizeof(ans)) != 0) {
		fprintf(stderr, "detach refused: %s\n", ans);
		goto out;
	}
	if (wait_events(1, 1) != 0)
		goto out;
	snprintf(line, sizeof(line), "attach %s", profile);
	if (control(ctl, line, ans, sizeof(ans)) != 0) {
		fprintf(stderr, "attach refused: %s\n", ans);
		goto out;
	}
	if (wait_events(2, 1) != 0)
		goto out;
	printf("ok: Attached, Detached, Attached\n");
	rc = 0;
out:
	usbmuxd_events_unsubscribe(ctx);
	return rc;
}

/* ---- garbage ---- */

static int
send_raw(const char *sock, const void *buf, size_t n, int wait_close)
{
	int fd = unix_connect(sock);
	char c;

	if (fd < 0)
		return -1;
	if (n > 0 && send(fd, buf, n, MSG_NOSIGNAL) < 0) {
		close(fd);
		return 0; /* the emulator may already have closed: fine */
	}
	if (wait_close) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		/* the emulator must close (or answer) rather than hang forever: allow 10 s */
		while (poll(&p, 1, 10000) == 1 && read(fd, &c, 1) == 1)
			;
	}
	close(fd);
	return 0;
}

static void
mux_hdr(unsigned char *b, uint32_t len, uint32_t version, uint32_t msg, uint32_t tag)
{
	uint32_t h[4] = {len, version, msg, tag}; /* host order = little-endian here */

	memcpy(b, h, 16);
}

/* A Connect to lockdown on device `id`; returns the fd after Result 0, or -1. */
static int
mux_connect_lockdown(const char *sock, unsigned id)
{
	char xml[1024];
	unsigned char buf[1100];
	int fd = unix_connect(sock);
	int n =
	    snprintf(xml, sizeof(xml),
	             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict>"
	             "<key>MessageType</key><string>Connect</string><key>DeviceID</key><integer>%u</integer>"
	             "<key>PortNumber</key><integer>32498</integer></dict></plist>",
	             id);
	unsigned char reply[512];
	ssize_t r;

	if (fd < 0)
		return -1;
	mux_hdr(buf, (uint32_t)(16 + n), 1, 8, 1);
	memcpy(buf + 16, xml, (size_t)n);
	if (send(fd, buf, (size_t)(16 + n), MSG_NOSIGNAL) != 16 + n) {
		close(fd);
		return -1;
	}
	r = recv(fd, reply, sizeof(reply), 0);
	if (r <= 16 || memmem(reply, (size_t)r, "<integer>0</integer>", 20) == NULL) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
cmd_garbage(const char *sock)
{
	unsigned char b[4096];
	usbmuxd_device_info_t *list = NULL;
	int n, fd;

	srand(42);
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)rand();
	send_raw(sock, b, sizeof(b), 1);  /* random bytes */
	send_raw(sock, b, 7, 0);          /* a short header, then gone */
	mux_hdr(b, 0xffffffffu, 1, 8, 1); /* a 4 GiB length */
	send_raw(sock, b, 16, 1);
	mux_hdr(b, 8, 1, 8, 1); /* a length shorter than the header */
	send_raw(sock, b, 16, 1);
	mux_hdr(b, 16 + 20, 0, 3, 1); /* the old binary protocol */
	send_raw(sock, b, 36, 1);
	mux_hdr(b, 16 + 100, 1, 8, 1); /* a payload that is not XML */
	send_raw(sock, b, 116, 1);
	mux_hdr(b, 16 + 64, 1, 8, 1); /* a payload that never fully arrives */
	send_raw(sock, b, 40, 0);
	{
		const char *x = "<?xml version=\"1.0\"?><plist><array><integer>1</integer></array></plist>";
		mux_hdr(b, (uint32_t)(16 + strlen(x)), 1, 8, 1); /* XML, but not a dict */
		memcpy(b + 16, x, strlen(x));
		send_raw(sock, b, 16 + strlen(x), 1);
	}
	{
		const char *x = "<?xml version=\"1.0\"?><plist><dict><key>MessageType</key><string>Connect"
		                "</string><key>DeviceID</key><string>x</string></dict></plist>";
		mux_hdr(b, (uint32_t)(16 + strlen(x)), 1, 8, 1); /* Connect with a bad DeviceID */
		memcpy(b + 16, x, strlen(x));
		send_raw(sock, b, 16 + strlen(x), 1);
	}
	/* lockdown garbage on device 1: a huge length, then a non-plist, then an unknown request */
	if ((fd = mux_connect_lockdown(sock, 1)) >= 0) {
		unsigned char l[4] = {0xff, 0xff, 0xff, 0xff};
		send(fd, l, 4, MSG_NOSIGNAL);
		close(fd);
	} else {
		fprintf(stderr, "Connect to lockdown on device 1 failed\n");
		return 1;
	}
	if ((fd = mux_connect_lockdown(sock, 1)) >= 0) {
		unsigned char l[4 + 32] = {0, 0, 0, 32};
		memset(l + 4, 'A', 32);
		send(fd, l, sizeof(l), MSG_NOSIGNAL);
		close(fd);
	}
	if ((fd = mux_connect_lockdown(sock, 1)) >= 0) {
		/* StartSession is not sent; a TLS ClientHello-looking blob arrives in plaintext */
		unsigned char l[5] = {0x16, 0x03, 0x01, 0x02, 0x00};
		send(fd, l, sizeof(l), MSG_NOSIGNAL);
		close(fd);
	}

	/* deep nesting: libplist recurses per level, a naive parse overflows the stack */
	{
		const char *head = "<?xml version=\"1.0\"?><plist>";
		size_t body = 1000u * 1000u, hl = strlen(head);
		unsigned char *big = malloc(4 + 16 + body);
		if (big == NULL)
			return 1;
		memcpy(big + 16, head, hl);
		for (size_t i = 16 + hl; i + 7 <= 16 + body; i += 7)
			memcpy(big + i, "<array>", 7);
		mux_hdr(big, (uint32_t)(16 + body), 1, 8, 1);
		send_raw(sock, big, 16 + body, 1);
		free(big);

		body = 4000u * 1000u;
		big = malloc(4 + body);
		if (big == NULL)
			return 1;
		memcpy(big + 4, head, hl);
		for (size_t i = 4 + hl; i + 7 <= 4 + body; i += 7)
			memcpy(big + i, "<array>", 7);
		big[0] = (unsigned char)(body >> 24);
		big[1] = (unsigned char)(body >> 16);
		big[2] = (unsigned char)(body >> 8);
		big[3] = (unsigned char)body;
		if ((fd = mux_connect_lockdown(sock, 1)) >= 0) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			char c;
			(void)send(fd, big, 4 + body, MSG_NOSIGNAL);
			while (poll(&p, 1, 10000) == 1 && read(fd, &c, 1) == 1)
				;
			close(fd);
		}
		free(big);
	}

	/* hundreds of connections that say nothing must not block anyone else */
	{
		int idle[200];
		long long t0 = now_ms();
		for (int i = 0; i < 200; i++)
			idle[i] = unix_connect(sock);
		n = usbmuxd_get_device_list(&list);
		for (int i = 0; i < 200; i++)
			if (idle[i] >= 0)
				close(idle[i]);
		if (n < 1 || now_ms() - t0 > 5000) {
			fprintf(stderr, "ListDevices with 200 idle connections: %d after %lld ms\n", n,
			        now_ms() - t0);
			usbmuxd_device_list_free(&list);
			return 1;
		}
		usbmuxd_device_list_free(&list);
	}
	n = usbmuxd_get_device_list(&list);
	if (n < 1) {
		fprintf(stderr, "ListDevices after garbage returned %d\n", n);
		return 1;
	}
	usbmuxd_device_list_free(&list);
	printf("ok: still serving %d device(s) after garbage\n", n);
	return 0;
}

static int
cmd_bad_host(const char *udid)
{
	idevice_t dev = NULL;
	lockdownd_client_t ld = NULL;
	char *sid = NULL;
	int ssl = 0;
	lockdownd_error_t le;

	if (idevice_new(&dev, udid) != IDEVICE_E_SUCCESS) {
		fprintf(stderr, "no device %s\n", udid);
		return 1;
	}
	if (lockdownd_client_new(dev, &ld, "emu-core-check") != LOCKDOWN_E_SUCCESS) {
		fprintf(stderr, "cannot reach lockdown on %s\n", udid);
		idevice_free(dev);
		return 1;
	}
	le = lockdownd_start_session(ld, "00000000-1111-2222-3333-444444444444", &sid, &ssl);
	free(sid);
	lockdownd_client_free(ld);
	idevice_free(dev);
	if (le != LOCKDOWN_E_INVALID_HOST_ID) {
		fprintf(stderr, "StartSession with an unknown HostID gave %d, not InvalidHostID\n", le);
		return 1;
	}
	printf("ok: InvalidHostID\n");
	return 0;
}

static int
cmd_record(const char *udid)
{
	static const char *const pem_keys[] = {"HostCertificate", "HostPrivateKey",    "RootCertificate",
	                                       "RootPrivateKey",  "DeviceCertificate", NULL};
	char *data = NULL, *buid = NULL;
	uint32_t len = 0;
	plist_t rec = NULL, n;
	const char *s;
	int rc = 1;

	if (usbmuxd_read_pair_record(udid, &data, &len) != 0 || data == NULL) {
		fprintf(stderr, "no pair record for %s\n", udid);
		return 1;
	}
	plist_from_memory(data, len, &rec);
	if (rec == NULL || plist_get_node_type(rec) != PLIST_DICT) {
		fprintf(stderr, "the pair record is not a plist dictionary\n");
		goto out;
	}
	for (int i = 0; pem_keys[i] != NULL; i++) {
		uint64_t l = 0;
		n = plist_dict_get_item(rec, pem_keys[i]);
		s = n != NULL && plist_get_node_type(n) == PLIST_DATA ? plist_get_data_ptr(n, &l) : NULL;
		if (s == NULL || l < 30 || memcmp(s, "-----BEGIN ", 11) != 0) {
			fprintf(stderr, "%s is missing or not PEM data\n", pem_keys[i]);
			goto out;
		}
	}
	n = plist_dict_get_item(rec, "HostID");
	if (n == NULL || plist_get_node_type(n) != PLIST_STRING ||
	    strlen(plist_get_string_ptr(n, NULL)) != 36) {
		fprintf(stderr, "HostID is missing or not a UUID\n");
		goto out;
	}
	n = plist_dict_get_item(rec, "WiFiMACAddress");
	if (n == NULL || plist_get_node_type(n) != PLIST_STRING) {
		fprintf(stderr, "WiFiMACAddress is missing\n");
		goto out;
	}
	n = plist_dict_get_item(rec, "SystemBUID");
	if (usbmuxd_read_buid(&buid) != 0 || n == NULL || plist_get_node_type(n) != PLIST_STRING ||
	    strcmp(plist_get_string_ptr(n, NULL), buid) != 0) {
		fprintf(stderr, "SystemBUID does not match ReadBUID\n");
		goto out;
	}
	printf("ok: complete pair record, HostID %s\n",
	       plist_get_string_ptr(plist_dict_get_item(rec, "HostID"), NULL));
	rc = 0;
out:
	free(buid);
	free(data);
	plist_free(rec);
	return rc;
}

static void
on_event_quiet(const usbmuxd_event_t *e, void *user)
{
	(void)e;
	(void)user;
}

static int
cmd_hold(const char *udid)
{
	usbmuxd_subscription_context_t ctx = NULL;
	idevice_t dev = NULL;
	lockdownd_client_t ld = NULL;
	plist_t v = NULL;
	long long end = now_ms() + 60000;
	int rc = 1;

	if (usbmuxd_events_subscribe(&ctx, on_event_quiet, NULL) != 0)
		return 1;
	if (open_lockdown(udid, &dev, &ld) != 0)
		goto out;
	printf("ready\n");
	fflush(stdout);
	/* GetValue fails once the emulator has shut the connection */
	while (now_ms() < end) {
		if (lockdownd_get_value(ld, NULL, "ProductVersion", &v) != LOCKDOWN_E_SUCCESS) {
			rc = 0;
			break;
		}
		plist_free(v);
		v = NULL;
		usleep(100000);
	}
	lockdownd_client_free(ld);
	idevice_free(dev);
out:
	usbmuxd_events_unsubscribe(ctx);
	return rc;
}

int
main(int argc, char **argv)
{
	char ans[4096];

	signal(SIGPIPE, SIG_IGN); /* a detached device's socket is closed under us */
	if (argc == 4 && strcmp(argv[1], "control") == 0) {
		int rc = control(argv[2], argv[3], ans, sizeof(ans));
		printf("%s\n", ans);
		return rc == 0 ? 0 : 1;
	}
	if (argc == 4 && strcmp(argv[1], "start-service") == 0)
		return cmd_start_service(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "detach-ends") == 0)
		return cmd_detach_ends(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "events") == 0)
		return cmd_events(argv[2], argv[3], argv[4]);
	if (argc == 3 && strcmp(argv[1], "garbage") == 0)
		return cmd_garbage(argv[2]);
	if (argc == 3 && strcmp(argv[1], "bad-host") == 0)
		return cmd_bad_host(argv[2]);
	if (argc == 3 && strcmp(argv[1], "record") == 0)
		return cmd_record(argv[2]);
	if (argc == 3 && strcmp(argv[1], "hold") == 0)
		return cmd_hold(argv[2]);
	fprintf(stderr,
	        "usage: emu-core-check control SOCK LINE | start-service UDID NAME | "
	        "detach-ends UDID CTLSOCK | events UDID CTLSOCK PROFILE | garbage MUXSOCK | bad-host UDID | "
	        "record UDID | hold UDID\n");
	return 2;
}
