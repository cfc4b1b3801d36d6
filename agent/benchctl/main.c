/* benchctl: global options and the command table; see benchctl.h. */
#include "benchctl.h"

#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
	const char *name;
	benchctl_cmd_fn fn;
	const char *usage;
};

static const struct command commands[] = {
    {"devices", cmd_devices, "devices                      devices seen now (usbmux and recovery/DFU)"},
    {"snapshot", cmd_snapshot,
     "snapshot --udid ID [--out FILE] [--syslog-seconds N] [--crash-dir DIR] [--probe P]...\n"
     "                               read every probe, write the snapshot JSON"},
    {"run", cmd_run,
     "run (--udid UDID | --snapshot FILE) [--tree NAME]... [--answer K=V]...\n"
     "    [--ticket ID] [--out FILE] [--syslog-seconds N] [--trees-dir DIR] [--config FILE]\n"
     "                               run trees, write a signed report"},
    {"report", cmd_report,
     "report show FILE|ID [--view customer|technician] [--format text|html|json] [--config FILE]\n"
     "    [--out FILE] | report verify FILE|ID|- [--key JWK]\n"
     "                               a signed report: the customer's page or everything; check it\n"
     "  report list [--device DEVICE] [--since DATE] [--limit N]   reports benchd stored, newest first"},
    {"key", cmd_key, "key init [--force] | key export      the bench signing key"},
    {"trees", cmd_trees, "trees list | check | test | run --snapshot FILE   the diagnostic trees"},
    {"status", cmd_status, "status [--socket PATH | --config FILE]  ask the running benchd"},
    {"sessions", cmd_sessions, "sessions [--limit N]         device sessions of the running benchd"},
    {"outbox", cmd_outbox,
     "outbox [retry ID | retry --held] [--limit N]\n"
     "                               the upload outbox of the running benchd, and the cases waiting\n"
     "                               for the technician with why"},
    {"upload", cmd_upload,
     "upload check                 one authenticated read of the booking system benchd uploads to"},
    {"watch", cmd_watch,
     "watch                        follow the bench live, one line per change (Ctrl-C stops)"},
    {"answer", cmd_answer,
     "answer DEVICE KEY=VALUE...   answer a tree's question: a new revision of the case's report"},
    {"link", cmd_link, "link DEVICE TICKET           put the case on a ticket (a new revision carries it)"},
    {"finish", cmd_finish,
     "finish DEVICE                send the case's latest report as it is (question open)"},
    {"history", cmd_history,
     "history DEVICE               every report of that device on this bench, oldest first"},
    {"booking", cmd_booking,
     "booking add (--serial S | --imei I | --udid U) --ticket T [--lang L] [--note TEXT]\n"
     "  | booking list | booking remove ID   tickets waiting for their device"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *f)
{
	fprintf(f, "usage: benchctl [--state-dir DIR] [--json] [--lang en|it|fr|zh] COMMAND [ARGS]\n\n"
	           "commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(
	    f,
	    "\nglobal options (anywhere before \"--\"):\n"
	    "  --state-dir DIR   state directory (env BENCHD_STATE_DIR; default /var/lib/benchd\n"
	    "                    for root, $XDG_STATE_HOME/benchd otherwise)\n"
	    "  --json            machine-readable output\n"
	    "  --lang LANG       language of reports and customer text: en, it, fr or zh\n"
	    "  --version, --help\n"
	    "\nDEVICE (answer, link, finish, history, report list --device) is a UDID, a serial number, an\n"
	    "ECID, a case id or a report id: whichever names exactly one case (its open one, else its\n"
	    "latest). The commands from status on ask the running benchd (--socket PATH or --config\n"
	    "FILE when its control socket is not <state-dir>/control.sock).\n"
	    "\nworking a bench:\n"
	    "  benchctl watch                          plug a phone in; follow its session and report\n"
	    "  benchctl answer F2LZK0ABN72J tg0b_new_battery=yes    answer what a tree asks\n"
	    "  benchctl link F2LZK0ABN72J T-1001       put the case on its repair ticket\n"
	    "  benchctl finish F2LZK0ABN72J            send it as it is (a question left open)\n"
	    "  benchctl outbox                         what is uploaded, and what waits and why\n"
	    "  benchctl history F2LZK0ABN72J           its earlier visits, battery included\n"
	    "  benchctl booking add --serial F2LZK0ABN72J --ticket T-1001 --lang it   before it comes\n"
	    "\nexit codes: 0 ok, 1 failed, 2 usage or input refused (no such case, bad ticket, unknown\n"
	    "            answer), 3 no device/unplugged, 4 locked, 5 not trusted/pairing pending,\n"
	    "            6 invalid report, 7 benchd not running\n");
}

int
main(int argc, char **argv)
{
	struct ctl g = {.prog = "benchctl", .lang = "en"};
	const char *state_opt = NULL;
	char **rest = xcalloc((size_t)argc + 1, sizeof(char *));
	int nrest = 0, r, dashdash = 0;

	log_init("benchctl", LOG_LEVEL_WARN);
	/* Pull the global options out wherever they stand, keep the rest in order. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!dashdash && strcmp(a, "--") == 0) {
			dashdash = 1;
			rest[nrest++] = argv[i];
		} else if (!dashdash && strcmp(a, "--json") == 0) {
			g.json = 1;
		} else if (!dashdash && (strcmp(a, "--state-dir") == 0 || strcmp(a, "--lang") == 0)) {
			if (i + 1 >= argc) {
				/* --json may come later on the line: look for it before saying so. */
				for (int j = i + 1; j < argc && strcmp(argv[j], "--") != 0; j++)
					g.json |= strcmp(argv[j], "--json") == 0;
				benchctl_fail(&g, BC_EXIT_USAGE, "%s needs a value: see benchctl --help", a);
				free(rest);
				return BC_EXIT_USAGE;
			}
			if (a[2] == 's') {
				state_opt = argv[++i];
			} else {
				g.lang = argv[++i];
				g.lang_given = 1;
			}
		} else if (!dashdash && strncmp(a, "--state-dir=", 12) == 0) {
			state_opt = a + 12;
		} else if (!dashdash && strncmp(a, "--lang=", 7) == 0) {
			g.lang = a + 7;
			g.lang_given = 1;
		} else if (!dashdash && nrest == 0 && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
			usage(stdout);
			free(rest);
			return BC_EXIT_OK;
		} else if (!dashdash && nrest == 0 && strcmp(a, "--version") == 0) {
			printf("benchctl %s\n", BENCHD_VERSION);
			free(rest);
			return BC_EXIT_OK;
		} else {
			rest[nrest++] = argv[i];
		}
	}
	if (strcmp(g.lang, "en") && strcmp(g.lang, "it") && strcmp(g.lang, "fr") && strcmp(g.lang, "zh")) {
		benchctl_fail(&g, BC_EXIT_USAGE,
		              "--lang must be en, it, fr or zh, not '%s': see benchctl --help", g.lang);
		free(rest);
		return BC_EXIT_USAGE;
	}
	if (nrest == 0) {
		benchctl_fail(&g, BC_EXIT_USAGE,
		              "give a command, e.g. benchctl devices: see benchctl --help");
		free(rest);
		return BC_EXIT_USAGE;
	}
	g.state_dir = util_state_dir(state_opt);
	if (strcmp(rest[0], "run") == 0 || strcmp(rest[0], "key") == 0 || strcmp(rest[0], "report") == 0) {
		/* the commands that write reports or use the bench key there */
		char why[1024];
		if (util_state_dir_check(g.state_dir, why, sizeof(why)) < 0) {
			fprintf(stderr, "benchctl: %s\n", why);
			free(g.state_dir);
			free(rest);
			return BC_EXIT_FAIL;
		}
	}
	r = -1;
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(rest[0], commands[i].name) == 0) {
			r = commands[i].fn(&g, nrest, rest);
			break;
		}
	}
	if (r == -1)
		r = benchctl_fail(&g, BC_EXIT_USAGE, "unknown %s '%s': see benchctl --help",
		                  rest[0][0] == '-' ? "option" : "command", rest[0]);
	free(g.state_dir);
	free(rest);
	return r;
}
