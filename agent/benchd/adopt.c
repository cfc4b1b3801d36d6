/* adopt: see adopt.h. */
#include "adopt.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define SCAN_MS_INOTIFY 10000 /* a scan behind inotify's back (events it dropped) */
#define SCAN_MS_POLLING 2000  /* without inotify: the scan is all there is */
#define IDLE_MS         60000 /* closing idle cases */

struct adopt {
	struct cases *c;
	char *dir;
	int ino, wake[2];
	pthread_t thread;
};

static int
is_report_name(const char *name, char *id, size_t idlen)
{
	static const char suffix[] = ".jws.json";
	size_t n = strlen(name), sl = sizeof(suffix) - 1;

	if (name[0] == '.' || n <= sl || n - sl >= idlen || strcmp(name + n - sl, suffix) != 0)
		return 0;
	memcpy(id, name, n - sl);
	id[n - sl] = '\0';
	return 1;
}

/* Take the inotify events that are waiting; adopt each new report file they name. */
static void
drain_inotify(struct adopt *a)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(a->ino, buf, sizeof(buf));
		if (n <= 0)
			return;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			char id[64];
			if (e->len > 0 && is_report_name(e->name, id, sizeof(id))) {
				char *path = xasprintf("%s/%s", a->dir, e->name);
				cases_adopt_file(a->c, path, id);
				free(path);
			}
			if (e->mask & IN_Q_OVERFLOW)
				cases_adopt_dir(a->c, 0);
			p += sizeof(*e) + e->len;
		}
	}
}

static void *
run(void *arg)
{
	struct adopt *a = arg;
	long long next_scan, next_idle, now;
	int scan_ms = a->ino >= 0 ? SCAN_MS_INOTIFY : SCAN_MS_POLLING;

	log_set_device(NULL);
	now = util_now_ms();
	next_scan = now + scan_ms;
	next_idle = now + IDLE_MS;
	for (;;) {
		struct pollfd p[2] = {{.fd = a->wake[0], .events = POLLIN}, {.fd = a->ino, .events = POLLIN}};
		long long wait;
		now = util_now_ms();
		wait = (next_scan < next_idle ? next_scan : next_idle) - now;
		if (poll(p, 2, wait < 0 ? 0 : (int)wait) < 0 && errno != EINTR) {
			log_warn("adopt: poll");
			break;
		}
		if (p[0].revents)
			break;
		if (p[1].revents)
			drain_inotify(a);
		now = util_now_ms();
		if (now >= next_scan) {
			cases_adopt_dir(a->c, 2);
			next_scan = now + scan_ms;
		}
		if (now >= next_idle) {
			cases_close_idle(a->c);
			next_idle = now + IDLE_MS;
		}
	}
	return NULL;
}

int
adopt_start(struct cases *c, const char *state_dir, struct adopt **out, char *why, size_t whylen)
{
	struct adopt *a = xcalloc(1, sizeof(*a));
	int e;

	a->c = c;
	a->dir = xasprintf("%s/reports", state_dir);
	a->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->ino >= 0 && inotify_add_watch(a->ino, a->dir, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		log_warn("adopt: cannot watch %s (new reports are found by a scan every %d s instead)",
		         a->dir, SCAN_MS_POLLING / 1000);
		close(a->ino);
		a->ino = -1;
	} else if (a->ino < 0) {
		log_warn("adopt: no inotify (new reports are found by a scan every %d s instead)",
		         SCAN_MS_POLLING / 1000);
	}
	if (pipe2(a->wake, O_CLOEXEC) < 0) {
		snprintf(why, whylen, "adopt: pipe: %s", strerror(errno));
		goto fail;
	}
	if ((e = pthread_create(&a->thread, NULL, run, a)) != 0) {
		snprintf(why, whylen, "cannot start the adoption thread: %s", strerror(e));
		close(a->wake[0]);
		close(a->wake[1]);
		goto fail;
	}
	*out = a;
	return 0;
fail:
	if (a->ino >= 0)
		close(a->ino);
	free(a->dir);
	free(a);
	return -1;
}

void
adopt_stop(struct adopt *a)
{
	if (a == NULL)
		return;
	if (write(a->wake[1], "x", 1) < 0)
		log_warn("adopt: wake");
	pthread_join(a->thread, NULL);
	close(a->wake[0]);
	close(a->wake[1]);
	if (a->ino >= 0)
		close(a->ino);
	free(a->dir);
	free(a);
}
