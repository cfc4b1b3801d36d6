/*
 * benchd: the bench daemon (DESIGN.md 4.3b). Foreground; logs to stderr.
 *
 *   benchd [--config FILE] [--state-dir DIR] [--check-config] [--verbose]
 *
 * Start-up order: configuration, state directory (locked: one benchd per directory), control
 * socket check (refuse when another benchd answers), store (migrated), bench key (created when
 * missing), adoption of signed reports the store does not know, then the outbox, the device
 * sessions and the control socket. SIGTERM/SIGINT drain the running sessions (drain_seconds)
 * and stop; the outbox keeps what is not delivered for the next start.
 */
#include "adopt.h"
#include "booking.h"
#include "cases.h"
#include "commands.h"
#include "config.h"
#include "control.h"
#include "ctlclient.h"
#include "events.h"
#include "log.h"
#include "outbox.h"
#include "sessions.h"
#include "store.h"
#include "upload.h"
#include "util.h"
#include "web.h"

#include "engine.h"
#include "report.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct daemon {
	struct config *cfg;
	char *state_dir;
	char *sock;
	struct store *st;
	struct outbox *ob;    /* [upload] */
	struct outbox *fleet; /* [fleet] */
	struct cases *cases;
	struct adopt *adopt;
	struct sessions *sess;
	struct events *ev;
	struct commands *cmds;
	struct web *web;
	time_t started;
	int lockfd;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: benchd [--config FILE] [--state-dir DIR] [--check-config] [--verbose]\n"
	           "  --config FILE     INI configuration (default: built-in defaults)\n"
	           "  --state-dir DIR   state directory (env BENCHD_STATE_DIR; default /var/lib/benchd\n"
	           "                    for root, $XDG_STATE_HOME/benchd otherwise)\n"
	           "  --check-config    validate the configuration and exit (0 OK, 1 not)\n"
	           "  --verbose         debug logging\n");
}

/* A bad command line: one line naming the option as typed, and --help. Exit 2. */
static int
bad_option(int ch, int argc, char **argv)
{
	const char *arg = optind >= 1 && optind - 1 < argc ? argv[optind - 1] : "?";
	int n = (int)strcspn(arg, "=");

	if (strncmp(arg, "--", 2) != 0 && optopt != 0 && ch == ':')
		fprintf(stderr, "benchd: -%c needs a value: see benchd --help\n", optopt);
	else if (strncmp(arg, "--", 2) != 0 && optopt != 0)
		fprintf(stderr, "benchd: unknown option '-%c': see benchd --help\n", optopt);
	else if (ch == ':')
		fprintf(stderr, "benchd: %.*s needs a value: see benchd --help\n", n, arg);
	else if (optopt != 0 && arg[n] == '=')
		fprintf(stderr, "benchd: %.*s takes no value: see benchd --help\n", n, arg);
	else
		fprintf(stderr, "benchd: unknown option '%.*s': see benchd --help\n", n, arg);
	return 2;
}

/* Files the configuration names must be readable now, not at the first upload. */
static int
check_files(const struct config *cfg, char *why, size_t whylen)
{
	if (cfg->upload_url[0] && cfg->token_file[0]) {
		char *tok;
		if (booking_read_token(cfg->token_file, &tok, why, whylen) < 0)
			return -1;
		explicit_bzero(tok, strlen(tok));
		free(tok);
	}
	if (cfg->web_listen[0] && cfg->web_token_file[0]) {
		char *tok;
		size_t n;
		if (util_read_file(cfg->web_token_file, 4096, &tok, &n) < 0) {
			snprintf(why, whylen, "[web] token_file %s: %s", cfg->web_token_file,
			         errno == EFBIG ? "larger than 4 KiB" : strerror(errno));
			return -1;
		}
		int empty = tok[strspn(tok, " \t\r\n")] == '\0';
		explicit_bzero(tok, n);
		if (empty) {
			free(tok);
			snprintf(why, whylen, "[web] token_file %s is empty: put the page's token in it",
			         cfg->web_token_file);
			return -1;
		}
		free(tok);
	}
	if (cfg->ca_file[0] && access(cfg->ca_file, R_OK) < 0) {
		snprintf(why, whylen, "ca_file %s: %s", cfg->ca_file, strerror(errno));
		return -1;
	}
	if (cfg->fleet_url[0] && cfg->fleet_token_file[0]) {
		char *tok;
		if (booking_read_token(cfg->fleet_token_file, &tok, why, whylen) < 0)
			return -1;
		explicit_bzero(tok, strlen(tok));
		free(tok);
	}
	if (cfg->fleet_ca_file[0] && access(cfg->fleet_ca_file, R_OK) < 0) {
		snprintf(why, whylen, "[fleet] ca_file %s: %s", cfg->fleet_ca_file, strerror(errno));
		return -1;
	}
	if (cfg->ntrees > 0) {
		/* Every configured tree must exist and load, or every session would fail. */
		json_t *list, *t;
		size_t i;
		char lwhy[512];
		if (engine_list(NULL, &list, lwhy, sizeof(lwhy)) != ENGINE_OK) {
			snprintf(why, whylen, "trees: %s", lwhy);
			return -1;
		}
		for (size_t k = 0; k < cfg->ntrees; k++) {
			int found = 0;
			json_array_foreach(list, i, t)
			{
				const char *name = json_string_value(json_object_get(t, "name"));
				const char *file = json_string_value(json_object_get(t, "file"));
				size_t n = strlen(cfg->trees[k]);
				if ((name && strcmp(name, cfg->trees[k]) == 0) ||
				    (file && strncmp(file, cfg->trees[k], n) == 0 &&
				     strcmp(file + n, ".lua") == 0))
					found = json_object_get(t, "error") ? -1 : 1;
				if (found)
					break;
			}
			if (found != 1) {
				snprintf(why, whylen, "trees: '%s' %s in %s (see benchctl trees list)",
				         cfg->trees[k], found < 0 ? "does not load" : "is not a tree",
				         engine_default_trees_dir());
				json_decref(list);
				return -1;
			}
		}
		json_decref(list);
	}
	return 0;
}

/* systemd Type=notify without libsystemd: one datagram to $NOTIFY_SOCKET. */
/* One benchd per state directory: an flock on benchd.lock, holding our pid. */
static int
lock_state_dir(struct daemon *d, char *why, size_t whylen)
{
	char *path = xasprintf("%s/benchd.lock", d->state_dir), pid[32];
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0) {
		snprintf(why, whylen,
		         "the state directory %s is not writable (%s): make it writable by benchd",
		         d->state_dir, strerror(errno));
		free(path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		snprintf(why, whylen, "another benchd%s%s%s uses the state directory %s: stop it first",
		         pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "", d->state_dir);
		close(fd);
		free(path);
		return -1;
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0) {
		snprintf(why, whylen, "cannot write %s (%s): is the disk full?", path, strerror(errno));
		close(fd);
		free(path);
		return -1;
	}
	free(path);
	d->lockfd = fd;
	return 0;
}

/* The control socket's handler: every command is commands_call's (commands.h). */
static json_t *
handle(const json_t *req, void *ctx, struct events_sub **stream)
{
	struct daemon *d = ctx;
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	json_t *answer;

	if (cmd != NULL && strcmp(cmd, "subscribe") == 0) {
		*stream = commands_subscribe(d->cmds, req, &answer);
		return answer;
	}
	return commands_call(d->cmds, req);
}

/* Start the bench page ([web] listen; empty: off) and say where it is. A page that cannot
 * start (port taken, files missing) is logged and left off. */
static void
start_web(struct daemon *d, char *why, size_t whylen)
{
	struct web_opts wo;
	char *path;

	if (d->cfg->web_listen[0] == '\0') {
		log_info("web: the bench page is off ([web] listen is empty)");
		return;
	}
	memset(&wo, 0, sizeof(wo));
	wo.cfg = d->cfg;
	wo.state_dir = d->state_dir;
	wo.cmds = d->cmds;
	if (web_start(&wo, &d->web, why, whylen) != WEB_OK) {
		/* Diagnosis and uploads go on without the page; the log says why it is off. */
		log_errorx("web: %s: the bench page is off (benchd goes on without it)", why);
		return;
	}
	/* Where the page is, for scripts and tests (a configured port 0 is the kernel's pick). */
	path = xasprintf("%s/web.url", d->state_dir);
	{
		char *line = xasprintf("%s\n", web_url(d->web));
		if (util_write_file_atomic(path, line, strlen(line), 0640) < 0)
			log_warn("web: cannot write %s", path);
		free(line);
	}
	free(path);
	log_info("web: the bench page is on %s%s", web_url(d->web),
	         d->cfg->web_token_file[0] ? " (token required)" : "");
}

/* During the drain: has SIGTERM/SIGINT come again? (The signals stay blocked; take one.) */
static int
signalled_again(void *ctx)
{
	const sigset_t *sigs = ctx;
	struct timespec zero = {0, 0};
	int sig = sigtimedwait(sigs, NULL, &zero);

	return sig == SIGTERM || sig == SIGINT;
}

static int
ensure_key(struct daemon *d)
{
	struct bench_key *k = NULL;
	char why[512];
	char *path = xasprintf("%s/bench-key.pem", d->state_dir);
	struct stat sb;
	int r = 0;

	if (stat(path, &sb) < 0 && errno == ENOENT) {
		if (bench_key_init(d->state_dir, 0, why, sizeof(why)) != REPORT_OK) {
			log_errorx("cannot create the bench signing key %s: %s", path, why);
			free(path);
			return -1;
		}
		if (bench_key_load(d->state_dir, &k, why, sizeof(why)) == REPORT_OK) {
			log_info("created the bench signing key %s (key id %s): `benchctl key export` prints "
			         "its public "
			         "key for the booking system",
			         path, bench_key_id(k));
			bench_key_free(k);
		}
	} else if (bench_key_load(d->state_dir, &k, why, sizeof(why)) != REPORT_OK) {
		log_errorx("the bench signing key cannot be used: %s", why);
		r = -1;
	} else {
		log_info("bench key %s", bench_key_id(k));
		bench_key_free(k);
	}
	free(path);
	return r;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"state-dir", required_argument, NULL, 's'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct daemon d;
	const char *config_path = NULL, *state_opt = NULL;
	struct control *ctl = NULL;
	struct sessions_opts so;
	char why[1024], *p;
	sigset_t sigs;
	int ch, check = 0, sig, rc = 1, r;

	memset(&d, 0, sizeof(d));
	d.lockfd = -1;
	log_init("benchd", LOG_LEVEL_INFO);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:s:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 's':
			state_opt = optarg;
			break;
		case 'C':
			check = 1;
			break;
		case 'v':
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("benchd %s\n", BENCHD_VERSION);
			return 0;
		default:
			return bad_option(ch, argc, argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "benchd: unexpected argument '%s': see benchd --help\n", argv[optind]);
		return 2;
	}
	if (config_path) {
		if (config_load(config_path, &d.cfg, why, sizeof(why)) != CONFIG_OK) {
			fprintf(stderr, "benchd: %s\n", why);
			return 1;
		}
	} else {
		d.cfg = config_new();
	}
	if (check_files(d.cfg, why, sizeof(why)) < 0) {
		fprintf(stderr, "benchd: %s%s%s\n", config_path ? config_path : "", config_path ? ": " : "",
		        why);
		config_free(d.cfg);
		return 1;
	}
	if (check) {
		printf("configuration OK\n");
		config_free(d.cfg);
		return 0;
	}

	/* Signals are taken by sigwait in this thread only; every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_errorx("cannot initialise libcurl");
		config_free(d.cfg);
		return 1;
	}

	umask(0027); /* state files: benchd and its group only */
	d.started = time(NULL);
	d.ev = events_new();
	d.state_dir = util_state_dir(state_opt);
	d.sock = config_control_socket(d.cfg, d.state_dir);
	if (util_mkdir_p(d.state_dir, 0750) < 0) {
		log_error("cannot create the state directory %s", d.state_dir);
		goto out;
	}
	if (util_state_dir_check(d.state_dir, why, sizeof(why)) < 0) {
		log_errorx("%s", why);
		goto out;
	}
	if (lock_state_dir(&d, why, sizeof(why)) < 0) {
		log_errorx("%s", why);
		goto out;
	}
	r = ctl_probe(d.sock);
	if (r != 0) {
		log_errorx("%s on %s: refusing to start (stop it first; `benchctl status` asks it)",
		           r == 1 ? "another benchd answers" : "permission denied", d.sock);
		goto out;
	}
	p = xasprintf("%s/reports", d.state_dir);
	r = util_mkdir_p(p, 0750);
	free(p);
	if (r < 0) {
		log_error("cannot create %s/reports", d.state_dir);
		goto out;
	}
	p = xasprintf("%s/benchd.db", d.state_dir);
	r = store_open(p, &d.st, why, sizeof(why));
	free(p);
	if (r != STORE_OK) {
		log_errorx("%s", why);
		goto out;
	}
	if ((r = store_session_abandon_running(d.st, "benchd stopped before the session ended")) > 0)
		log_warnx("%d session%s were running when benchd last stopped: marked failed (replug those "
		          "devices)",
		          r, r == 1 ? "" : "s");
	if (ensure_key(&d) < 0)
		goto out;
	if (d.cfg->upload_url[0]) {
		if (strncmp(d.cfg->upload_url, "http://", 7) == 0 &&
		    strncmp(d.cfg->upload_url, "http://127.", 11) != 0 &&
		    strncmp(d.cfg->upload_url, "http://localhost", 16) != 0 &&
		    strncmp(d.cfg->upload_url, "http://[::1]", 12) != 0)
			log_warnx("upload url %s is plain http: the token and reports travel unencrypted",
			          d.cfg->upload_url);
		if (d.cfg->token_file[0] == '\0')
			log_warnx("no [upload] token_file: uploading without an Authorization header");
	}
	/* One outbox worker per configured target: [upload] and [fleet] (CONTRACTS 4). */
	{
		static const char *const names[] = {STORE_TARGET_UPLOAD, STORE_TARGET_FLEET};
		struct outbox **slots[] = {&d.ob, &d.fleet};
		for (size_t i = 0; i < 2; i++) {
			struct outbox_opts oo = {.st = d.st, .ev = d.ev, .cfg = d.cfg};
			if (outbox_target_from_config(d.cfg, names[i], &oo.target) < 0)
				continue;
			if (outbox_start(&oo, slots[i], why, sizeof(why)) < 0) {
				log_errorx("%s", why);
				goto out;
			}
		}
	}
	{
		struct cases_opts co = {
		    .cfg = d.cfg,
		    .state_dir = d.state_dir,
		    .st = d.st,
		    .ev = d.ev,
		    .upload = d.ob,
		    .fleet = d.fleet,
		};
		d.cases = cases_new(&co);
	}
	/*
	 * Every signed report in reports/ reaches the store (one signed just before a crash, or by
	 * `benchctl run` on this bench) when this bench's key verifies it; final reports kept locally
	 * before a target was configured are queued for it.
	 */
	if ((r = cases_adopt_dir(d.cases, 0)) > 0)
		log_info("adopted %d signed report%s the store did not know", r, r == 1 ? "" : "s");
	cases_queue_unqueued(d.cases);
	cases_close_idle(d.cases);
	{
		json_t *c;
		if (store_counts(d.st, &c) == STORE_OK) {
			json_t *o = json_object_get(c, "outbox");
			json_int_t np = json_integer_value(json_object_get(o, "pending"));
			json_int_t nh = json_integer_value(json_object_get(o, "held"));
			json_int_t nw = json_integer_value(json_object_get(c, "waiting"));
			if (np > 0 || nh > 0)
				log_info("outbox: %lld report%s to upload, %lld held (benchctl outbox)",
				         (long long)np, np == 1 ? "" : "s", (long long)nh);
			if (nw > 0)
				log_info("waiting for the technician: %lld case%s (benchctl outbox)",
				         (long long)nw, nw == 1 ? "" : "s");
		}
		json_decref(c);
	}
	memset(&so, 0, sizeof(so));
	so.cfg = d.cfg;
	so.state_dir = d.state_dir;
	so.st = d.st;
	so.ob = d.ob;
	so.cases = d.cases;
	so.ev = d.ev;
	if (sessions_start(&so, &d.sess, why, sizeof(why)) < 0) {
		log_errorx("%s", why);
		goto out;
	}
	{
		struct commands_opts co = {
		    .cfg = d.cfg,
		    .state_dir = d.state_dir,
		    .control_path = d.sock,
		    .started = d.started,
		    .st = d.st,
		    .ev = d.ev,
		    .sess = d.sess,
		    .upload = d.ob,
		    .fleet = d.fleet,
		    .cases = d.cases,
		};
		d.cmds = commands_new(&co);
	}
	if (control_start(d.sock, handle, &d, &ctl, why, sizeof(why)) != CONTROL_OK) {
		log_errorx("%s", why);
		goto out;
	}
	if (adopt_start(d.cases, d.state_dir, &d.adopt, why, sizeof(why)) < 0) {
		log_errorx("%s", why);
		goto out;
	}
	start_web(&d, why, sizeof(why));
	log_info("benchd %s ready: bench %s, state %s, control %s, upload %s, up to %d sessions",
	         BENCHD_VERSION, d.cfg->bench_id, d.state_dir, d.sock,
	         d.cfg->upload_url[0] ? d.cfg->upload_url : "off (reports kept locally)",
	         d.cfg->max_sessions);
	util_sd_notify("READY=1");

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP: nothing to reload; restart benchd to read the configuration again");
			continue;
		}
		break;
	}
	log_info("stopping (%s)", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	util_sd_notify("STOPPING=1");
	rc = 0;
out:
	/* Sessions drain first, while status/sessions still answer and the outbox still uploads. */
	if (d.sess && sessions_stop(d.sess, d.cfg->drain_seconds, signalled_again, &sigs) > 0) {
		/* Threads still inside a device read: leave like a crash would (the store is
		 * transactional, the outbox resumes at the next start). */
		_exit(1);
	}
	adopt_stop(d.adopt);
	events_shutdown(d.ev);
	if (d.web) {
		char *url_file = xasprintf("%s/web.url", d.state_dir);
		web_stop(d.web);
		unlink(url_file);
		free(url_file);
	}
	control_stop(ctl);
	outbox_stop(d.ob);
	outbox_stop(d.fleet);
	sessions_free(d.sess);
	commands_free(d.cmds);
	cases_free(d.cases);
	events_free(d.ev);
	store_close(d.st);
	if (d.lockfd >= 0)
		close(d.lockfd);
	if (rc == 0)
		log_info("stopped");
	free(d.sock);
	free(d.state_dir);
	config_free(d.cfg);
	curl_global_cleanup();
	return rc;
}
