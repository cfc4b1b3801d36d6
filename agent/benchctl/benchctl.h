/*
 * benchctl: the command-line tool. main.c parses the global options and dispatches to one
 * cmd_*.c file per command group; each command file owns its options, help and output.
 *
 * Exit codes are a contract for scripts (README "Exit codes"): keep them stable.
 */
#ifndef BENCHD_BENCHCTL_H
#define BENCHD_BENCHCTL_H

#include <jansson.h>
#include <stddef.h>

enum benchctl_exit {
	BC_EXIT_OK = 0,        /* done (run: a signed report was written, whatever it found) */
	BC_EXIT_FAIL = 1,      /* the command failed; stderr says why */
	BC_EXIT_USAGE = 2,     /* bad command line */
	BC_EXIT_NO_DEVICE = 3, /* no such device, or it was unplugged during the read */
	BC_EXIT_LOCKED = 4,    /* device is passcode locked */
	BC_EXIT_UNTRUSTED = 5, /* device does not trust this computer, or pairing is pending */
	BC_EXIT_INVALID = 6,   /* report verify: bad signature, wrong key, malformed file */
	BC_EXIT_NO_DAEMON = 7, /* benchd is not running (no answer on the control socket) */
};

/* Global options, valid anywhere on the command line before "--". */
struct ctl {
	const char *prog;
	char *state_dir;  /* resolved: --state-dir, $BENCHD_STATE_DIR, or the default (util.h) */
	int json;         /* --json */
	const char *lang; /* --lang en|it|fr|zh, default "en" */
	int lang_given;   /* --lang was on the command line: it wins over a configuration's, and
	                   * booking add keeps it as the customer's language */
};

/* Every command: argv[0] is the command name; options after it are the command's own. */
typedef int (*benchctl_cmd_fn)(struct ctl *g, int argc, char **argv);

int cmd_devices(struct ctl *g, int argc, char **argv);  /* cmd_devices.c  (drivers) */
int cmd_snapshot(struct ctl *g, int argc, char **argv); /* cmd_snapshot.c (drivers) */
int cmd_run(struct ctl *g, int argc, char **argv);      /* cmd_run.c      (reports/pipeline) */
int cmd_report(struct ctl *g, int argc, char **argv);   /* cmd_report.c   (reports) */
int cmd_key(struct ctl *g, int argc, char **argv);      /* cmd_key.c      (reports) */
int cmd_trees(struct ctl *g, int argc, char **argv);    /* cmd_trees.c    (engine) */
int cmd_status(struct ctl *g, int argc, char **argv);   /* cmd_daemon.c   (benchd) */
int cmd_sessions(struct ctl *g, int argc, char **argv); /* cmd_daemon.c   (benchd) */
int cmd_outbox(struct ctl *g, int argc, char **argv);   /* cmd_daemon.c   (benchd) */

/* Cases, tickets, bookings, history, watch (DESIGN 4.8): cmd_cases.c (benchd's control socket) */
int cmd_answer(struct ctl *g, int argc, char **argv);
int cmd_link(struct ctl *g, int argc, char **argv);
int cmd_finish(struct ctl *g, int argc, char **argv);
int cmd_booking(struct ctl *g, int argc, char **argv);
int cmd_history(struct ctl *g, int argc, char **argv);
int cmd_watch(struct ctl *g, int argc, char **argv);
int cmd_report_list(struct ctl *g, int argc, char **argv); /* benchctl report list */
int cmd_upload(struct ctl *g, int argc, char **argv);      /* cmd_upload.c: upload check */

/* The control socket: --socket PATH, else the [control] socket of --config FILE, else
 * <state-dir>/control.sock. cmd_daemon.c */
struct bc_conn {
	const char *socket;
	const char *config;
};
#define CTL_TIMEOUT_MS 10000
char *benchctl_socket_path(struct ctl *g, const struct bc_conn *o, int *rc);
/*
 * Send req (stolen) to benchd. Returns BC_EXIT_OK with *resp an {"ok":true} answer, or an exit
 * code: 7 no benchd, 2 a refusal for bad input (bad_request, not_found, too_large), 1 any other
 * failure; then the reason is on stderr and, with --json, the refusal is on stdout.
 */
int benchctl_ask(struct ctl *g, const struct bc_conn *o, json_t *req, json_t **resp);
/*
 * Output (output.c, CONTRACTS 1). A failure: the line "benchctl: MESSAGE" on stderr and, with
 * --json, {"ok":false,"error":MESSAGE,"code":NAME} on stdout, NAME the exit code's name
 * (benchctl_exit_code_name). Each returns code. _with adds the fields of extra (stolen) to the
 * JSON line.
 */
int benchctl_fail(struct ctl *g, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int benchctl_fail_with(struct ctl *g, int code, json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "bad_request" for 2, "no_device" 3, "device_locked" 4, "device_untrusted" 5, "invalid_report"
 * 6, "not_running" 7, "failed" otherwise. */
const char *benchctl_exit_code_name(int code);
/*
 * A bad command line: "benchctl CMD: WHAT: see benchctl CMD --help", one line, exit 2.
 * benchctl_bad_option says it for what getopt_long (opterr = 0, optstring starting with ':' after
 * any '+' or '-') returned as ch ('?' or ':'), naming the option as it was typed.
 */
int benchctl_usage_error(struct ctl *g, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int benchctl_bad_option(struct ctl *g, const char *cmd, int ch, int argc, char **argv);
/* One compact JSON line on stdout (CONTRACTS 1), flushed. */
void benchctl_print_json(const json_t *v);
/*
 * Read a battery history file (DESIGN 4.9: a JSON array of {at, battery_serial, cycle_count,
 * health_pct, nominal_capacity_mah, design_capacity_mah}, oldest first). *out is new. On error
 * a one-line reason in why and the exit code (1 unreadable, 2 not a history). cmd_run.c
 */
int benchctl_load_history(const char *path, json_t **out, char *why, size_t whylen);
/* readings.battery_forecast as one English line ("80 % in 8 to 20 months (from 3 visits, ...)",
 * "too early (...)"); -1 when fc is not a forecast. cmd_run.c */
int benchctl_forecast_text(const json_t *fc, char *out, size_t outlen);

/* The exit code for a device error (idev_err; 0 is BC_EXIT_OK). device.c */
int benchctl_exit_for_device(int err);
/* Progress callback for long device work: one "benchctl: ..." line on stderr. device.c */
void benchctl_progress(const char *what, void *ctx);

#endif
