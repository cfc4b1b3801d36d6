/*
 * benchctl upload check: ask the running benchd to make one authenticated read of its booking
 * system ([upload] kind and url, DESIGN 4.11) and say what it found or why it failed. Exit 0 when
 * the system answered and took the token, 1 when not, 7 when benchd is not running.
 */
#include "benchctl.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char usage[] = "usage: benchctl upload check [--socket PATH | --config FILE] [--json]\n";

int
cmd_upload(struct ctl *g, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct bc_conn conn;
	json_t *resp;
	int ch, rc;

	memset(&conn, 0, sizeof(conn));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			conn.socket = optarg;
			break;
		case 'c':
			conn.config = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			printf(
			    "  one authenticated read of the booking system benchd uploads to: whether it\n"
			    "  answers, takes the token, and what it holds (open tickets)\n");
			return BC_EXIT_OK;
		default:
			return benchctl_bad_option(g, "upload", ch, argc, argv);
		}
	}
	if (optind >= argc)
		return benchctl_usage_error(g, "upload", "say check");
	if (strcmp(argv[optind], "check") != 0)
		return benchctl_usage_error(g, "upload", "unknown subcommand '%s' (check)", argv[optind]);
	if (optind + 1 != argc)
		return benchctl_usage_error(g, "upload", "unexpected argument '%s'", argv[optind + 1]);
	rc = benchctl_ask(g, &conn, json_pack("{s:s}", "cmd", "upload_check"), &resp);
	if (rc != BC_EXIT_OK)
		return rc;
	if (g->json)
		benchctl_print_json(resp);
	else
		printf("%s\n", json_string_value(json_object_get(resp, "message")));
	json_decref(resp);
	return BC_EXIT_OK;
}
