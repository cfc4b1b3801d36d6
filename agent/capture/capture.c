/*
 * capture: see capture.h. The parent's half of the reader protocol (reader.h): spawn, watch
 * the deadline and the cancel flag, read three pipes, judge how the reader ended.
 */
#include "capture.h"

#include "buf.h"
#include "engine.h"
#include "idevice.h"
#include "local.h"
#include "log.h"
#include "reader.h"
#include "sandbox.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef BENCHD_READER_INSTALLED
#define BENCHD_READER_INSTALLED "/usr/libexec/benchd/benchd-reader"
#endif

#define POLL_MS       100
#define STDERR_TAIL   8192
#define STDERR_LINES  200 /* forwarded to the log per capture; the rest is dropped */
#define STEP_MAX      160
#define AFTER_KILL_MS 5000

extern char **environ;

const char *
capture_strerror(int err)
{
	switch (err) {
	case CAPTURE_E_CRASHED:
		return "the phone sent data that crashed the reader: unplug it, the bench goes on";
	case CAPTURE_E_DEADLINE:
		return "the phone did not finish in time: unplug it, the bench goes on";
	case CAPTURE_E_READER:
		return "the reader process could not be started (is benchd-reader installed?)";
	case CAPTURE_E_CANCELLED:
		return "the read was cancelled";
	default:
		return "capture error";
	}
}

static void
setwhy(char *why, size_t whylen, const char *s)
{
	if (why && whylen)
		util_strlcpy(why, s, whylen);
}

const char *
capture_trees_dir(const struct capture_opts *o)
{
	const char *env;

	if (o && o->trees_dir)
		return o->trees_dir;
	env = getenv("BENCHD_TREES_DIR");
	if (env && *env)
		return env;
	return engine_default_trees_dir();
}

/* ---------------------------------------------------------------- finding the reader */

static int
executable(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* $BENCHD_READER, beside the program, ../libexec/benchd/ from it, the configured path. */
static char *
reader_path(void)
{
	const char *env = getenv("BENCHD_READER");
	char self[PATH_MAX], *slash, *p;
	ssize_t n;

	if (env && *env)
		return xstrdup(env);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			p = xasprintf("%s/%s", self, READER_NAME);
			if (executable(p))
				return p;
			free(p);
			p = xasprintf("%s/../libexec/benchd/%s", self, READER_NAME);
			if (executable(p))
				return p;
			free(p);
		}
	}
	return xstrdup(BENCHD_READER_INSTALLED);
}

/* ---------------------------------------------------------------- temp crash folder */

/* ---------------------------------------------------------------- spawning */

/* A copy of fd at 10 or above, close-on-exec: the file actions below never clobber it. */
static int
high_fd(int fd)
{
	int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	close(fd);
	return h;
}

/* Our environment minus what belongs to us alone (systemd's notify socket). */
static char **
reader_env(void)
{
	size_t n = 0, k = 0;
	char **e;

	while (environ && environ[n])
		n++;
	e = xcalloc(n + 1, sizeof(*e));
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "NOTIFY_SOCKET=", 14) != 0 &&
		    strncmp(environ[i], "LISTEN_FDS=", 11) != 0 &&
		    strncmp(environ[i], "LISTEN_PID=", 11) != 0)
			e[k++] = environ[i];
	e[k] = NULL;
	return e;
}

struct child {
	pid_t pid;
	int snap, events, err; /* our ends, non-blocking */
};

static int
spawn(const char *path, char *const argv[], struct child *ch, char *why, size_t whylen)
{
	int sp[2], ev[2], er[2], e;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	char **envp;

	if (pipe2(sp, O_CLOEXEC) != 0) {
		snprintf(why, whylen, "cannot start the reader: pipe: %s", strerror(errno));
		return -1;
	}
	if (pipe2(ev, O_CLOEXEC) != 0) {
		e = errno;
		close(sp[0]);
		close(sp[1]);
		snprintf(why, whylen, "cannot start the reader: pipe: %s", strerror(e));
		return -1;
	}
	if (pipe2(er, O_CLOEXEC) != 0) {
		e = errno;
		close(sp[0]);
		close(sp[1]);
		close(ev[0]);
		close(ev[1]);
		snprintf(why, whylen, "cannot start the reader: pipe: %s", strerror(e));
		return -1;
	}
	sp[1] = high_fd(sp[1]);
	ev[1] = high_fd(ev[1]);
	er[1] = high_fd(er[1]);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, er[1], 2);
	posix_spawn_file_actions_adddup2(&fa, sp[1], READER_FD_SNAPSHOT);
	posix_spawn_file_actions_adddup2(&fa, ev[1], READER_FD_EVENTS);
	posix_spawn_file_actions_addclosefrom_np(&fa, READER_FD_EVENTS + 1);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);   /* benchd blocks SIGTERM & co. in every thread */
	posix_spawnattr_setsigdefault(&at, &all); /* and ignores SIGPIPE */
	posix_spawnattr_setpgroup(&at, 0);        /* a terminal's Ctrl-C is benchd's to handle */
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	envp = reader_env();
	e = posix_spawn(&ch->pid, path, &fa, &at, argv, envp);
	free(envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(sp[1]);
	close(ev[1]);
	close(er[1]);
	if (e != 0) {
		close(sp[0]);
		close(ev[0]);
		close(er[0]);
		snprintf(why, whylen,
		         "cannot start the reader %s: %s (set BENCHD_READER, or reinstall benchd)", path,
		         strerror(e));
		return -1;
	}
	ch->snap = sp[0];
	ch->events = ev[0];
	ch->err = er[0];
	fcntl(ch->snap, F_SETFL, O_NONBLOCK);
	fcntl(ch->events, F_SETFL, O_NONBLOCK);
	fcntl(ch->err, F_SETFL, O_NONBLOCK);
	return 0;
}

/* ---------------------------------------------------------------- what comes back */

struct sup {
	const struct capture_opts *o;
	struct buf snap;
	struct buf evline, errline;
	int evline_over, errline_over;
	char step[STEP_MAX + 32]; /* the last step, as text */
	int refused;              /* syscall number from a "refused" line, or -1 */
	int have_result, result_err, result_derr;
	char result_why[1024];
	char tail[STDERR_TAIL]; /* the end of the reader's stderr */
	size_t taillen;
	int nlogged;
};

/* Printable, bounded text from an untrusted string. */
static void
clean(char *dst, const char *src, size_t dstlen)
{
	size_t o = 0;

	for (; src && *src && o + 1 < dstlen; src++)
		dst[o++] = (unsigned char)*src < 0x20 || *src == 0x7f ? '?' : *src;
	dst[o] = '\0';
}

static void
on_line(struct sup *su, const char *line, size_t n)
{
	json_error_t jerr;
	json_t *j = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr), *ev = NULL;
	const char *type = json_string_value(json_object_get(j, "type"));

	if (!json_is_object(j) || type == NULL) {
		json_decref(j);
		return;
	}
	if (strcmp(type, "step") == 0 && json_is_string(json_object_get(j, "step"))) {
		char step[STEP_MAX];
		json_int_t done = json_integer_value(json_object_get(j, "done"));
		json_int_t total = json_integer_value(json_object_get(j, "total"));
		clean(step, json_string_value(json_object_get(j, "step")), sizeof(step));
		ev = json_pack("{s:s, s:s}", "type", "step", "step", step);
		if (ev != NULL && total > 0 && total <= 1000000 && done >= 0 && done <= total) {
			json_object_set_new(ev, "done", json_integer(done));
			json_object_set_new(ev, "total", json_integer(total));
			snprintf(su->step, sizeof(su->step), "%s %lld/%lld", step, (long long)done,
			         (long long)total);
		} else {
			util_strlcpy(su->step, step, sizeof(su->step));
		}
		if (ev != NULL && su->o->progress)
			su->o->progress(su->step, su->o->progress_ctx);
	} else if (strcmp(type, "reading") == 0) {
		const char *name = json_string_value(json_object_get(j, "name"));
		json_t *v = json_object_get(j, "value");
		if (name && (strcmp(name, "battery") == 0 || strcmp(name, "crashes") == 0) &&
		    json_is_object(v))
			ev = json_pack("{s:s, s:s, s:O}", "type", "reading", "name", name, "value", v);
	} else if (strcmp(type, "refused") == 0) {
		json_int_t nr = json_integer_value(json_object_get(j, "syscall"));
		if (nr >= 0 && nr < 100000) {
			char sc[64];
			su->refused = (int)nr;
			sandbox_syscall_name(su->refused, sc, sizeof(sc));
			log_warnx("reader: its seccomp filter refused the system call %s (%d)", sc,
			          su->refused);
		}
	} else if (strcmp(type, "result") == 0) {
		json_int_t e = json_integer_value(json_object_get(j, "err"));
		json_int_t d = json_integer_value(json_object_get(j, "device_err"));
		su->have_result = 1;
		su->result_err = e <= 0 && e >= -1000 ? (int)e : -256;
		su->result_derr = d <= 0 && d >= -1000 ? (int)d : -256;
		clean(su->result_why, json_string_value(json_object_get(j, "why")), sizeof(su->result_why));
	}
	if (ev != NULL && su->o->event)
		su->o->event(ev, su->o->event_ctx);
	json_decref(ev);
	json_decref(j);
}

/* One line of the reader's stderr: to our log, and to the tail we judge a crash by. */
static void
on_err_line(struct sup *su, const char *line, size_t n)
{
	char text[512];
	size_t k = n < sizeof(text) - 1 ? n : sizeof(text) - 1;
	const char *msg = text;
	int warn = 1;

	memcpy(text, line, k);
	text[k] = '\0';
	for (char *q = text; *q; q++)
		if ((unsigned char)*q < 0x20)
			*q = ' ';
	if (su->taillen + k + 1 > sizeof(su->tail)) { /* keep the last STDERR_TAIL bytes */
		size_t drop = su->taillen + k + 1 - sizeof(su->tail);
		if (drop > su->taillen)
			drop = su->taillen;
		memmove(su->tail, su->tail + drop, su->taillen - drop);
		su->taillen -= drop;
	}
	if (k + 1 < sizeof(su->tail)) {
		memcpy(su->tail + su->taillen, text, k);
		su->tail[su->taillen + k] = '\n';
		su->taillen += k + 1;
	}
	/* the reader's own log lines ("reader: warn: ...") keep their level */
	if (strncmp(text, "reader: ", 8) == 0) {
		if (strncmp(text + 8, "info: ", 6) == 0 || strncmp(text + 8, "debug: ", 7) == 0)
			warn = 0;
		msg = strchr(text + 8, ':') ? strchr(text + 8, ':') + 2 : text + 8;
	}
	if (su->nlogged < STDERR_LINES) {
		if (warn)
			log_warnx("reader: %s", msg);
		else
			log_debug("reader: %s", msg);
	} else if (su->nlogged == STDERR_LINES) {
		log_warnx("reader: (more output not shown)");
	}
	su->nlogged++;
}

/* Split what arrived into lines. over: the current line passed max and is being skipped. */
static void
lines(struct sup *su, struct buf *b, int *over, const char *data, size_t n, size_t max, int is_err)
{
	for (size_t i = 0; i < n; i++) {
		if (data[i] == '\n') {
			if (!*over) {
				if (is_err)
					on_err_line(su, b->data ? b->data : "", b->len);
				else
					on_line(su, b->data ? b->data : "", b->len);
			}
			b->len = 0;
			*over = 0;
			continue;
		}
		if (*over)
			continue;
		if (b->len + 1 >= max || buf_add(b, data + i, 1) != BUF_OK) {
			*over = 1;
			b->len = 0;
		}
	}
}

/* ---------------------------------------------------------------- judging the end */

static void
sanitizer_kind(const struct sup *su, char *out, size_t outlen)
{
	static const char *const marks[] = {"ERROR: AddressSanitizer: ", "ERROR: LeakSanitizer: ",
	                                    "ERROR: UndefinedBehaviorSanitizer: ", NULL};
	char tail[STDERR_TAIL + 1];
	const char *p;

	out[0] = '\0';
	memcpy(tail, su->tail, su->taillen);
	tail[su->taillen] = '\0';
	for (int i = 0; marks[i]; i++) {
		if ((p = strstr(tail, marks[i])) != NULL) {
			/* the kind, up to its address: "heap-buffer-overflow", "attempting double-free",
			 * "SEGV", "stack-overflow" */
			const char *k = p + strlen(marks[i]), *on = strstr(k, " on ");
			size_t n = strcspn(k, ":\n(");
			char what[64];
			if (on != NULL && (size_t)(on - k) < n)
				n = (size_t)(on - k);
			snprintf(what, sizeof(what), "%.*s", (int)(n < 60 ? n : 60), p + strlen(marks[i]));
			snprintf(out, outlen, "%.*s %s", (int)(strchr(marks[i] + 7, ':') - (marks[i] + 7)),
			         marks[i] + 7, what);
			return;
		}
	}
	if (strstr(tail, "runtime error:") != NULL)
		snprintf(out, outlen, "UndefinedBehaviorSanitizer runtime error");
	else if (strstr(tail, "out of memory") != NULL)
		snprintf(out, outlen, "out of memory");
}

static void
stage_words(const struct sup *su, char *out, size_t outlen)
{
	if (su->step[0])
		snprintf(out, outlen, "while %s", su->step);
	else
		snprintf(out, outlen, "while connecting");
}

static void
signal_words(int sig, const struct sup *su, char *out, size_t outlen)
{
	const char *ab = sigabbrev_np(sig);
	char name[32];

	snprintf(name, sizeof(name), "SIG%s", ab ? ab : "?");
	if (sig == SIGSYS && su->refused >= 0) {
		char sc[64];
		sandbox_syscall_name(su->refused, sc, sizeof(sc));
		snprintf(out, outlen, "SIGSYS (its filter refused the system call %s)", sc);
	} else if (sig == SIGXCPU) {
		snprintf(out, outlen, "SIGXCPU (its CPU time limit)");
	} else if (sig == SIGXFSZ) {
		snprintf(out, outlen, "SIGXFSZ (its file size limit)");
	} else {
		util_strlcpy(out, name, outlen);
	}
}

/* ---------------------------------------------------------------- capture_device */

int
capture_device(const char *id, const struct capture_opts *opts, char **bytes, size_t *len, int *device_err,
               char *why, size_t whylen)
{
	struct capture_opts none = {0};
	struct sup su;
	struct child ch = {.pid = -1, .snap = -1, .events = -1, .err = -1};
	char *path = NULL, *tmpdir = NULL, *argv[64], num[2][24], parent[24], msg[1200], stage[200];
	const char *crash_dir;
	long long start = util_now_ms(), killed_at = 0;
	int argc = 0, st = 0, r, late = 0, cancelled = 0, overflow = 0;
	size_t np;

	*bytes = NULL;
	*len = 0;
	if (device_err)
		*device_err = 0;
	if (opts == NULL)
		opts = &none;
	if (id == NULL || *id == '\0') {
		setwhy(why, whylen, "no device id given");
		return IDEV_E_NOT_FOUND;
	}
	memset(&su, 0, sizeof(su));
	su.o = opts;
	su.refused = -1;
	buf_init(&su.snap, CAPTURE_MAX_SNAPSHOT);
	buf_init(&su.evline, CAPTURE_MAX_LINE);
	buf_init(&su.errline, 4096);

	crash_dir = opts->crash_dir;
	if (crash_dir == NULL) {
		const char *t = getenv("TMPDIR");
		char *tmpl = xasprintf("%s/benchd-crash-XXXXXX", t && *t ? t : "/tmp");
		if (mkdtemp(tmpl) == NULL) { /* 0700 */
			snprintf(msg, sizeof(msg), "cannot make a temporary crash folder in %s: %s",
			         t && *t ? t : "/tmp", strerror(errno));
			setwhy(why, whylen, msg);
			free(tmpl);
			r = IDEV_E_IO;
			goto out;
		}
		tmpdir = tmpl;
		crash_dir = tmpdir;
	} else if (util_mkdir_p(crash_dir, 0700) != 0) {
		snprintf(msg, sizeof(msg), "crash folder %s: %s", crash_dir, strerror(errno));
		setwhy(why, whylen, msg);
		r = IDEV_E_IO;
		goto out;
	}

	path = reader_path();
	argv[argc++] = (char *)READER_NAME;
	argv[argc++] = (char *)"--id";
	argv[argc++] = (char *)id;
	argv[argc++] = (char *)"--crash-dir";
	argv[argc++] = (char *)crash_dir;
	argv[argc++] = (char *)"--trees-dir";
	argv[argc++] = (char *)capture_trees_dir(opts);
	snprintf(num[0], sizeof(num[0]), "%d", opts->syslog_seconds);
	argv[argc++] = (char *)"--syslog-seconds";
	argv[argc++] = num[0];
	snprintf(num[1], sizeof(num[1]), "%d", opts->deadline_s > 0 ? opts->deadline_s : 0);
	argv[argc++] = (char *)"--deadline";
	argv[argc++] = num[1];
	snprintf(parent, sizeof(parent), "%ld", (long)getpid());
	argv[argc++] = (char *)"--parent";
	argv[argc++] = parent;
	if (log_get_level() >= LOG_LEVEL_DEBUG)
		argv[argc++] = (char *)"--verbose";
	for (np = 0; opts->probes && np < opts->nprobes && argc + 3 < (int)(sizeof(argv) / sizeof(argv[0]));
	     np++) {
		if (opts->probes[np] == NULL)
			continue;
		argv[argc++] = (char *)"--probe";
		argv[argc++] = (char *)opts->probes[np];
	}
	argv[argc] = NULL;
	if (spawn(path, argv, &ch, msg, sizeof(msg)) != 0) {
		setwhy(why, whylen, msg);
		r = CAPTURE_E_READER;
		goto out;
	}

	/* Read the three pipes until the reader closes them (it exits, or we killed it). */
	while (ch.snap >= 0 || ch.events >= 0 || ch.err >= 0) {
		struct pollfd p[3];
		int n = 0, idx[3], timeout = POLL_MS;
		long long now = util_now_ms();

		if (killed_at == 0 && opts->cancel && *opts->cancel) {
			cancelled = 1;
			killpg(ch.pid, SIGKILL);
			killed_at = now;
		}
		if (killed_at == 0 && opts->deadline_s > 0 &&
		    now - start >= (long long)opts->deadline_s * 1000) {
			late = 1;
			killpg(ch.pid, SIGKILL);
			killed_at = now;
		}
		if (killed_at && now - killed_at > AFTER_KILL_MS)
			break; /* something else holds the pipes: stop listening */
		if (ch.snap >= 0) {
			p[n] = (struct pollfd){.fd = ch.snap, .events = POLLIN};
			idx[n++] = 0;
		}
		if (ch.events >= 0) {
			p[n] = (struct pollfd){.fd = ch.events, .events = POLLIN};
			idx[n++] = 1;
		}
		if (ch.err >= 0) {
			p[n] = (struct pollfd){.fd = ch.err, .events = POLLIN};
			idx[n++] = 2;
		}
		if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			char chunk[65536];
			ssize_t got;
			int *fdp = idx[i] == 0 ? &ch.snap : idx[i] == 1 ? &ch.events : &ch.err;

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = read(*fdp, chunk, sizeof(chunk));
			if (got < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (got <= 0) {
				close(*fdp);
				*fdp = -1;
				continue;
			}
			if (idx[i] == 0) {
				if (buf_add(&su.snap, chunk, (size_t)got) != BUF_OK && !overflow) {
					overflow = 1; /* a reader sending more than any snapshot can be */
					killpg(ch.pid, SIGKILL);
					killed_at = util_now_ms();
				}
			} else if (idx[i] == 1) {
				lines(&su, &su.evline, &su.evline_over, chunk, (size_t)got, CAPTURE_MAX_LINE,
				      0);
			} else {
				lines(&su, &su.errline, &su.errline_over, chunk, (size_t)got, 4096, 1);
			}
		}
	}
	if (su.errline.len > 0 && !su.errline_over)
		on_err_line(&su, su.errline.data, su.errline.len);
	while (waitpid(ch.pid, &st, 0) < 0 && errno == EINTR)
		;

	stage_words(&su, stage, sizeof(stage));
	if (cancelled) {
		snprintf(msg, sizeof(msg), "the read was cancelled %s", stage);
		setwhy(why, whylen, msg);
		r = CAPTURE_E_CANCELLED;
	} else if (late) {
		snprintf(msg, sizeof(msg),
		         "the phone did not finish within %d s: stopped %s; unplug it, the bench goes on",
		         opts->deadline_s, stage);
		setwhy(why, whylen, msg);
		r = CAPTURE_E_DEADLINE;
	} else if (overflow) {
		snprintf(
		    msg, sizeof(msg),
		    "the reader sent more than %u MiB of snapshot %s: stopped; unplug it, the bench goes on",
		    CAPTURE_MAX_SNAPSHOT >> 20, stage);
		setwhy(why, whylen, msg);
		r = CAPTURE_E_READER;
	} else if (su.have_result && (WIFEXITED(st) || su.result_err != 0 || su.snap.len > 0)) {
		/* the reader finished its work (a sanitizer's leak report at exit is in the log) */
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			log_warnx("reader: ended with %s %d after its snapshot",
			          WIFEXITED(st) ? "exit status" : "signal",
			          WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		r = su.result_err;
		if (device_err)
			*device_err = su.result_derr;
		setwhy(why, whylen, su.result_why);
		if (r == 0 && su.snap.len == 0) {
			setwhy(why, whylen, "the reader finished without a snapshot");
			r = CAPTURE_E_READER;
		}
	} else if (WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) == 1)) {
		char what[160] = "", san[96];
		sanitizer_kind(&su, san, sizeof(san));
		if (WIFSIGNALED(st))
			signal_words(WTERMSIG(st), &su, what, sizeof(what));
		if (san[0] && strcmp(san, "out of memory") == 0)
			snprintf(what + strlen(what), sizeof(what) - strlen(what),
			         "%sout of memory (its limit)", what[0] ? ", " : "");
		else if (san[0])
			snprintf(what + strlen(what), sizeof(what) - strlen(what), "%s%s",
			         what[0] ? ", " : "", san);
		if (!what[0])
			snprintf(what, sizeof(what), "exit status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		snprintf(msg, sizeof(msg),
		         "the phone sent data that crashed the reader: %s %s; unplug it, the bench goes on",
		         what, stage);
		setwhy(why, whylen, msg);
		r = CAPTURE_E_CRASHED;
	} else {
		char last[200] = "";
		const char *nl;
		/* the reader refused to start (usage, sandbox): its last line says why */
		if (su.taillen > 1) {
			size_t e = su.taillen - 1, b;
			for (b = e; b > 0 && su.tail[b - 1] != '\n'; b--)
				;
			snprintf(last, sizeof(last), "%.*s", (int)(e - b), su.tail + b);
			if ((nl = strstr(last, "error: ")) != NULL)
				memmove(last, nl + 7, strlen(nl + 7) + 1);
		}
		snprintf(msg, sizeof(msg), "the reader stopped before reading (exit status %d)%s%s",
		         WIFEXITED(st) ? WEXITSTATUS(st) : -1, last[0] ? ": " : "", last);
		setwhy(why, whylen, msg);
		r = CAPTURE_E_READER;
	}
	if (r == 0) {
		*bytes = xmalloc(su.snap.len + 1);
		memcpy(*bytes, su.snap.data, su.snap.len);
		(*bytes)[su.snap.len] = '\0';
		*len = su.snap.len;
	}
out:
	if (ch.snap >= 0)
		close(ch.snap);
	if (ch.events >= 0)
		close(ch.events);
	if (ch.err >= 0)
		close(ch.err);
	buf_free(&su.snap);
	buf_free(&su.evline);
	buf_free(&su.errline);
	if (tmpdir) {
		local_rm_tree(tmpdir);
		free(tmpdir);
	}
	free(path);
	return r;
}
