/*
 * benchd-reader: one capture in a process of its own (reader.h has the protocol, sandbox.h
 * the limits). benchd and benchctl start it through capture_device; it is not meant to be run
 * by hand.
 */
#include "reader.h"

#include "capture.h"
#include "local.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_PROBES 16

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static void
usage(FILE *f)
{
	fprintf(f, "usage: " READER_NAME " --id ID --crash-dir DIR --trees-dir DIR [--syslog-seconds N]\n"
	           "                     [--probe NAME]... [--deadline SECONDS] [--parent PID]\n"
	           "Reads one device for benchd or benchctl, which start it (capture_device): the\n"
	           "snapshot goes to descriptor 3, progress as JSON lines to descriptor 4. It runs\n"
	           "under resource limits and a seccomp filter and is not meant to be run by hand.\n");
}

/* Write all of buf to fd; 0 or -1 (the parent went away). */
static int
put(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One JSON line on the events descriptor (from any thread). */
static void
put_event(const json_t *ev)
{
	char *s = json_dumps(ev, JSON_COMPACT);
	size_t n;

	if (s == NULL)
		return;
	n = strlen(s);
	if (n + 1 < CAPTURE_MAX_LINE) {
		s = xrealloc(s, n + 2);
		s[n] = '\n';
		pthread_mutex_lock(&out_mu);
		(void)put(READER_FD_EVENTS, s, n + 1);
		pthread_mutex_unlock(&out_mu);
	}
	free(s);
}

static void
on_event(const json_t *ev, void *ctx)
{
	(void)ctx;
	put_event(ev);
}

/* The test hook of reader.h: try a call the filter must refuse. */
static void
try_syscall(const char *name)
{
	if (strcmp(name, "execve") == 0) {
		char *argv[] = {(char *)"/bin/true", NULL};
		execve("/bin/true", argv, NULL);
	} else if (strcmp(name, "fork") == 0) {
		if (fork() == 0)
			_exit(0);
	} else if (strcmp(name, "ptrace") == 0) {
		syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, getppid(), 0, 0);
	} else if (strcmp(name, "socket-packet") == 0) {
		socket(AF_PACKET, SOCK_RAW, 0);
	} else if (strcmp(name, "kill-parent") == 0) {
		kill(getppid(), SIGTERM);
	}
	log_warnx("the %s attempt returned: the filter did not stop it", name);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"id", required_argument, NULL, 'i'},
	    {"crash-dir", required_argument, NULL, 'c'},
	    {"trees-dir", required_argument, NULL, 't'},
	    {"syslog-seconds", required_argument, NULL, 's'},
	    {"probe", required_argument, NULL, 'p'},
	    {"deadline", required_argument, NULL, 'd'},
	    {"parent", required_argument, NULL, 'P'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *id = NULL, *crash_dir = NULL, *trees_dir = NULL, *probes[MAX_PROBES], *try;
	struct capture_opts co;
	size_t nprobes = 0, len = 0;
	long parent = 0;
	char why[1024] = "", *bytes = NULL;
	int c, r, derr = 0;
	json_t *res;

	memset(&co, 0, sizeof(co));
	log_init("reader", LOG_LEVEL_WARN);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			id = optarg;
			break;
		case 'c':
			crash_dir = optarg;
			break;
		case 't':
			trees_dir = optarg;
			break;
		case 's':
			co.syslog_seconds = atoi(optarg);
			break;
		case 'p':
			if (nprobes < MAX_PROBES)
				probes[nprobes++] = optarg;
			break;
		case 'd':
			co.deadline_s = atoi(optarg);
			break;
		case 'P':
			parent = atol(optarg);
			break;
		case 'v':
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (id == NULL || crash_dir == NULL || trees_dir == NULL || optind < argc ||
	    fcntl(READER_FD_SNAPSHOT, F_GETFD) < 0 || fcntl(READER_FD_EVENTS, F_GETFD) < 0) {
		usage(stderr);
		return 2;
	}
	/* Die with the program that started us (benchd's session thread, or benchctl). */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (parent > 0 && getppid() != (pid_t)parent)
		return 3;
	/* Nothing of the parent's but our five descriptors: no database, no key, no socket. */
	close_range(READER_FD_EVENTS + 1, ~0U, 0);
	signal(SIGPIPE, SIG_IGN);
	if (sandbox_apply(co.deadline_s > 0 ? co.deadline_s + 30 : 0, READER_FD_EVENTS, why, sizeof(why)) !=
	    0) {
		log_errorx("%s", why);
		return 4;
	}
	if ((try = getenv("BENCHD_READER_TRY_SYSCALL")) != NULL && *try)
		try_syscall(try);

	co.crash_dir = crash_dir;
	co.trees_dir = trees_dir;
	co.probes = nprobes ? probes : NULL;
	co.nprobes = nprobes;
	co.event = on_event;
	r = capture_local(id, &co, &bytes, &len, &derr, why, sizeof(why));
	if (r == 0 && bytes != NULL && put(READER_FD_SNAPSHOT, bytes, len) != 0)
		return 5; /* the parent went away */
	free(bytes);
	close(READER_FD_SNAPSHOT);
	res = json_pack("{s:s, s:i, s:i, s:s}", "type", "result", "err", r, "device_err", derr, "why", why);
	if (res == NULL) { /* a reason that is not UTF-8 (a device string in it): plain ASCII */
		for (char *q = why; *q; q++)
			if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
				*q = '?';
		res = json_pack("{s:s, s:i, s:i, s:s}", "type", "result", "err", r, "device_err", derr, "why",
		                why);
	}
	put_event(res);
	json_decref(res);
	return 0;
}
