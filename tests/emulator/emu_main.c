/*
 * idevice-emu: an emulated iPhone behind a usbmuxd-compatible UNIX socket (DESIGN.md 4.2).
 *
 *   idevice-emu --socket PATH [--control PATH] [-v] PROFILE_DIR...
 *
 * The main thread accepts on the mux and control sockets and starts one thread per connection;
 * SIGINT/SIGTERM end the run: the sockets are closed and unlinked, every connection is shut
 * down, the threads are waited for, and everything is freed. This file also owns the device
 * list and the connection registry (emu_core.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "emu_core.h"
#include "log.h"
#include "util.h"

#define SHUTDOWN_WAIT_MS 10000
#define SEND_TIMEOUT_S   30

struct emu_core emu_core = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .idle = PTHREAD_COND_INITIALIZER,
    .next_id = 1,
};

static int sig_pipe[2] = {-1, -1};

void
core_udid_key(const char *udid, char *out, size_t outlen)
{
	size_t j = 0;

	for (size_t i = 0; udid[i] != '\0' && j + 1 < outlen; i++)
		if (udid[i] != '-')
			out[j++] = udid[i];
	out[j] = '\0';
}

/* ---- devices ---- */

void
core_dev_unref_locked(struct core_dev *cd)
{
	if (--cd->refs == 0)
		core_dev_free(cd);
}

void
core_dev_unref(struct core_dev *cd)
{
	pthread_mutex_lock(&emu_core.lock);
	core_dev_unref_locked(cd);
	pthread_mutex_unlock(&emu_core.lock);
}

struct core_dev *
core_dev_find(uint32_t device_id)
{
	struct core_dev *cd;

	pthread_mutex_lock(&emu_core.lock);
	for (cd = emu_core.devs; cd != NULL; cd = cd->next)
		if (cd->d.device_id == device_id && !atomic_load(&cd->d.detached))
			break;
	if (cd != NULL)
		cd->refs++;
	pthread_mutex_unlock(&emu_core.lock);
	return cd;
}

static struct core_dev *
find_udid_locked(const char *udid)
{
	char key[65], k2[65];

	core_udid_key(udid, key, sizeof(key));
	for (struct core_dev *cd = emu_core.devs; cd != NULL; cd = cd->next) {
		core_udid_key(cd->d.udid, k2, sizeof(k2));
		if (strcasecmp(key, k2) == 0)
			return cd;
	}
	return NULL;
}

/* The device trusts this run's host, and "usbmuxd" holds the matching pair record. */
static void
trust_host_locked(struct core_dev *cd)
{
	plist_t wifi = plist_dict_get_item(
	    plist_dict_get_item(plist_dict_get_item(cd->d.plist, "Lockdown"), "Root"), "WiFiAddress");
	plist_t rec = emu_pki_pair_record(wifi != NULL && plist_get_node_type(wifi) == PLIST_STRING
	                                      ? plist_get_string_ptr(wifi, NULL)
	                                      : NULL);
	char *bin = NULL;
	uint32_t len = 0;
	int known = 0;

	for (int i = 0; i < cd->nhosts; i++)
		if (strcasecmp(cd->hosts[i], emu_core.host_id) == 0)
			known = 1;
	if (!known && cd->nhosts < EMU_MAX_HOSTS)
		util_strlcpy(cd->hosts[cd->nhosts++], emu_core.host_id, sizeof(cd->hosts[0]));
	plist_to_bin(rec, &bin, &len);
	plist_free(rec);
	if (bin != NULL)
		emu_mux_store_locked(cd->d.udid, bin, len);
	plist_to_bin_free(bin);
}

/*
 * The control socket's "trust UDID": the user tapped Trust. What real usbmuxd's preflight does
 * once the dialog is accepted happens here: the device trusts the host, the pair record is saved
 * and Listen clients get Paired (benchd diagnoses a device again on Paired). 0, or -1 when no
 * such device is attached.
 */
int
core_dev_trust(const char *udid)
{
	struct core_dev *cd;
	char name[65];

	pthread_mutex_lock(&emu_core.lock);
	cd = find_udid_locked(udid);
	if (cd == NULL) {
		pthread_mutex_unlock(&emu_core.lock);
		return -1;
	}
	cd->d.trust_pending = 0;
	cd->d.paired = 1;
	trust_host_locked(cd);
	emu_mux_event_locked(cd, "Paired");
	util_strlcpy(name, cd->d.udid, sizeof(name));
	pthread_mutex_unlock(&emu_core.lock);
	log_info("%s: trusted this computer (control socket)", name);
	return 0;
}

int
core_dev_trust_pending(struct core_dev *cd)
{
	int v;

	pthread_mutex_lock(&emu_core.lock);
	v = cd->d.trust_pending;
	pthread_mutex_unlock(&emu_core.lock);
	return v;
}

int
core_dev_attach(struct core_dev *cd, char *err, size_t errlen)
{
	struct core_dev **pp;

	pthread_mutex_lock(&emu_core.lock);
	if (find_udid_locked(cd->d.udid) != NULL) {
		pthread_mutex_unlock(&emu_core.lock);
		snprintf(err, errlen, "%s: a device with UDID %s is already attached", cd->d.dir, cd->d.udid);
		core_dev_free(cd);
		return -1;
	}
	if (!cd->d.paired && emu_profile_get(&cd->d, "Lockdown", "Root", "DevicePublicKey", NULL) == NULL)
		emu_pki_want_rsa(); /* the host will ask for it to Pair: have it ready */
	cd->d.device_id = emu_core.next_id++;
	cd->refs = 1;
	cd->listed = 1;
	if (cd->d.paired)
		trust_host_locked(cd);
	for (pp = &emu_core.devs; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = cd;
	emu_mux_event_locked(cd, "Attached");
	pthread_mutex_unlock(&emu_core.lock);
	log_info("attached %s (DeviceID %u) from %s", cd->d.udid, cd->d.device_id, cd->d.dir);
	return 0;
}

static void
detach_locked(struct core_dev *cd)
{
	struct core_dev **pp;

	for (pp = &emu_core.devs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cd) {
			*pp = cd->next;
			break;
		}
	cd->next = NULL;
	cd->listed = 0;
	atomic_store(&cd->d.detached, 1);
	for (struct core_conn *c = emu_core.conns; c != NULL; c = c->next)
		if (c->dev == cd)
			shutdown(c->fd, SHUT_RDWR);
	emu_mux_event_locked(cd, "Detached");
	core_dev_unref_locked(cd);
}

int
core_dev_detach(const char *udid)
{
	struct core_dev *cd;
	char name[65];

	pthread_mutex_lock(&emu_core.lock);
	cd = find_udid_locked(udid);
	if (cd == NULL) {
		pthread_mutex_unlock(&emu_core.lock);
		return -1;
	}
	util_strlcpy(name, cd->d.udid, sizeof(name));
	detach_locked(cd);
	pthread_mutex_unlock(&emu_core.lock);
	log_info("detached %s", name);
	return 0;
}

char *
core_dev_list(void)
{
	struct buf b;
	int n = 0;
	char *s;

	buf_init(&b, 1u << 20);
	pthread_mutex_lock(&emu_core.lock);
	for (struct core_dev *cd = emu_core.devs; cd != NULL; cd = cd->next)
		n++;
	if (buf_printf(&b, "%d", n) != 0)
		fatalx("out of memory");
	for (struct core_dev *cd = emu_core.devs; cd != NULL; cd = cd->next)
		if (buf_printf(&b, " %s", cd->d.udid) != 0)
			fatalx("out of memory");
	pthread_mutex_unlock(&emu_core.lock);
	s = buf_take(&b, NULL);
	buf_free(&b);
	return s;
}

/* ---- connections ---- */

struct core_conn *
core_conn_add(int fd)
{
	struct core_conn *c = xcalloc(1, sizeof(*c));

	c->fd = fd;
	pthread_mutex_lock(&emu_core.lock);
	c->next = emu_core.conns;
	emu_core.conns = c;
	if (atomic_load(&emu_core.stopping))
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&emu_core.lock);
	return c;
}

void
core_conn_remove(struct core_conn *c)
{
	pthread_mutex_lock(&emu_core.lock);
	for (struct core_conn **pp = &emu_core.conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->dev != NULL)
		core_dev_unref_locked(c->dev);
	pthread_mutex_unlock(&emu_core.lock);
	free(c);
}

int
core_conn_set_dev(struct core_conn *c, struct core_dev *cd)
{
	int rc = 0;

	pthread_mutex_lock(&emu_core.lock);
	if (atomic_load(&cd->d.detached) || c->dev != NULL) {
		rc = -1;
	} else {
		cd->refs++;
		c->dev = cd;
	}
	pthread_mutex_unlock(&emu_core.lock);
	return rc;
}

/* ---- threads ---- */

struct job {
	int fd;
	int control;
};

static void *
conn_thread(void *arg)
{
	struct job *j = arg;

	if (j->control) {
		struct core_conn *c = core_conn_add(j->fd);
		emu_control_serve(j->fd);
		core_conn_remove(c);
	} else {
		struct core_conn *c = core_conn_add(j->fd);
		emu_mux_serve(c);
		core_conn_remove(c);
	}
	close(j->fd);
	free(j);
	ERR_clear_error();
	OPENSSL_thread_stop();
	pthread_mutex_lock(&emu_core.lock);
	if (--emu_core.nthreads == 0)
		pthread_cond_broadcast(&emu_core.idle);
	pthread_mutex_unlock(&emu_core.lock);
	return NULL;
}

static void
spawn(int fd, int control)
{
	struct job *j = xmalloc(sizeof(*j));
	struct timeval tv = {.tv_sec = SEND_TIMEOUT_S};
	pthread_attr_t attr;
	sigset_t block, old;
	pthread_t t;
	int rc;

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	j->fd = fd;
	j->control = control;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&emu_core.lock);
	emu_core.nthreads++;
	pthread_mutex_unlock(&emu_core.lock);
	/* SIGINT/SIGTERM belong to the main thread: connection threads start with them blocked */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&t, &attr, conn_thread, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		log_warnx("cannot start a connection thread: %s", strerror(rc));
		close(fd);
		free(j);
		pthread_mutex_lock(&emu_core.lock);
		emu_core.nthreads--;
		pthread_mutex_unlock(&emu_core.lock);
	}
}

/* ---- sockets and main ---- */

static int
listen_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long (max %zu bytes)", path,
		         sizeof(sa.sun_path) - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		int probe;
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen,
			         "%s: exists and is not a socket; remove it or pick another path", path);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			snprintf(err, errlen, "%s: another server is listening there", path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 512) != 0) {
		snprintf(err, errlen, "%s: cannot listen: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void
on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (write(sig_pipe[1], &c, 1) < 0) {
		/* nothing to do: the pipe is full, a stop is already pending */
	}
	errno = saved;
}

static void
usage(void)
{
	fprintf(stderr, "usage: idevice-emu --socket PATH [--control PATH] [-v] PROFILE_DIR...\n");
	exit(2);
}

static void
shutdown_all(void)
{
	struct timespec ts;
	int rc = 0;

	pthread_mutex_lock(&emu_core.lock);
	atomic_store(&emu_core.stopping, 1);
	for (struct core_dev *cd = emu_core.devs; cd != NULL; cd = cd->next)
		atomic_store(&cd->d.detached, 1); /* services polling the flag stop too */
	for (struct core_conn *c = emu_core.conns; c != NULL; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += SHUTDOWN_WAIT_MS / 1000;
	while (emu_core.nthreads > 0 && rc == 0)
		rc = pthread_cond_timedwait(&emu_core.idle, &emu_core.lock, &ts);
	if (emu_core.nthreads > 0)
		log_warnx("%d connections did not end in time", emu_core.nthreads);
	while (emu_core.devs != NULL) {
		struct core_dev *cd = emu_core.devs;
		emu_core.devs = cd->next;
		atomic_store(&cd->d.detached, 1);
		core_dev_unref_locked(cd);
	}
	emu_mux_store_free();
	pthread_mutex_unlock(&emu_core.lock);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"control", required_argument, NULL, 'c'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock_path = NULL, *ctl_path = NULL;
	char err[1024];
	int mux_fd = -1, ctl_fd = -1;
	struct sigaction sa;
	int ch, status = 1;
	struct core_dev **loaded = NULL;
	int nloaded = 0;

	log_init("idevice-emu", LOG_LEVEL_INFO);
	(void)emu_clock_start(); /* the moment Clock/CrashDatesAsOf dates are relative to */
	while ((ch = getopt_long(argc, argv, "s:c:vh", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			sock_path = optarg;
			break;
		case 'c':
			ctl_path = optarg;
			break;
		case 'v':
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		default:
			usage();
		}
	}
	if (sock_path == NULL || (optind == argc && ctl_path == NULL))
		usage();

	/* check every profile before the (slower) key generation, so a typo fails at once */
	loaded = xcalloc((size_t)(argc - optind) + 1,
	                 sizeof(*loaded)); /* NOLINT(bugprone-sizeof-expression): an array of pointers */
	for (int i = optind; i < argc; i++) {
		if (core_profile_load(argv[i], &loaded[nloaded], err, sizeof(err)) != 0) {
			log_errorx("%s", err);
			goto out;
		}
		for (int j = 0; j < nloaded; j++) {
			char a[65], b[65];
			core_udid_key(loaded[j]->d.udid, a, sizeof(a));
			core_udid_key(loaded[nloaded]->d.udid, b, sizeof(b));
			if (strcasecmp(a, b) == 0) {
				log_errorx("%s: a device with UDID %s is already attached (from %s)",
				           loaded[nloaded]->d.dir, loaded[nloaded]->d.udid, loaded[j]->d.dir);
				nloaded++;
				goto out;
			}
		}
		nloaded++;
	}
	if (emu_pki_init(err, sizeof(err)) != 0) {
		log_errorx("%s", err);
		goto out;
	}
	for (int i = 0; i < nloaded; i++) {
		struct core_dev *cd = loaded[i];
		loaded[i] = NULL;
		if (core_dev_attach(cd, err, sizeof(err)) != 0) {
			log_errorx("%s", err);
			goto out;
		}
	}

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		fatal("pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* the control socket first: the mux socket appearing means fully ready */
	if (ctl_path != NULL && (ctl_fd = listen_unix(ctl_path, err, sizeof(err))) < 0) {
		log_errorx("%s", err);
		goto out;
	}
	if ((mux_fd = listen_unix(sock_path, err, sizeof(err))) < 0) {
		log_errorx("%s", err);
		goto out;
	}
	log_info("ready: %d device(s) on %s%s%s", argc - optind, sock_path, ctl_path ? ", control on " : "",
	         ctl_path ? ctl_path : "");

	for (;;) {
		struct pollfd pfd[3] = {
		    {.fd = sig_pipe[0], .events = POLLIN},
		    {.fd = mux_fd, .events = POLLIN},
		    {.fd = ctl_fd, .events = POLLIN},
		};
		int n = poll(pfd, ctl_fd >= 0 ? 3 : 2, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll");
			break;
		}
		if (pfd[0].revents) {
			log_info("stopping");
			status = 0;
			break;
		}
		for (int i = 1; i < 3; i++) {
			int fd;
			if (i == 2 && ctl_fd < 0)
				break;
			if (!(pfd[i].revents & POLLIN))
				continue;
			fd = accept4(pfd[i].fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0) {
				if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
					log_warn("accept");
				if (errno == EMFILE || errno == ENFILE)
					usleep(100000);
				continue;
			}
			spawn(fd, i == 2);
		}
	}

out:
	if (mux_fd >= 0) {
		close(mux_fd);
		unlink(sock_path);
	}
	if (ctl_fd >= 0) {
		close(ctl_fd);
		unlink(ctl_path);
	}
	shutdown_all();
	for (int i = 0; i < nloaded; i++)
		core_dev_free(loaded[i]);
	free(loaded);
	emu_pki_free();
	if (sig_pipe[0] >= 0) {
		close(sig_pipe[0]);
		close(sig_pipe[1]);
	}
	return status;
}
