/*
 * booking_driver: the adapters (agent/booking) on their own, for the adapter-level tests. It
 * delivers signed report files to a booking system exactly as the outbox worker does (the 4.7
 * body built once, booking_case_parse, booking_deliver), and runs checks and polls.
 *
 *   booking_driver --kind K --url URL [--token-file F] [--ca-file F] [--rate N]
 *                  [--serial-field NAME] [--timeout S] [--threads N] [--repeat N]
 *                  deliver REPORT.jws.json... | check | poll
 *
 * deliver prints one JSON line per delivery {file, report_id, verdict, http_status,
 * retry_after, server_wide, remote_id, phase, answer, ms}; check prints {ok, message} and exits
 * 0 or 1; poll prints {ok, rows} or {ok: false, error}.
 */
#include "booking.h"
#include "upload.h"
#include "util.h"

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job {
	struct booking *b;
	char **files;
	int nfiles, repeat, next;
	pthread_mutex_t mu;
};

static void
deliver_one(struct job *j, const char *file)
{
	struct booking_case c;
	struct booking_result r;
	struct upload_meta meta;
	json_t *payload = NULL, *line;
	char why[512], *jws, *body, *s;
	size_t len, bodylen;
	long long t0;

	if (util_read_file(file, UPLOAD_JWS_MAX, &jws, &len) < 0) {
		fprintf(stderr, "booking_driver: cannot read %s\n", file);
		exit(1);
	}
	if (upload_build_body(jws, len, &body, &bodylen, &meta, why, sizeof(why)) != UPLOAD_OK ||
	    booking_case_parse(body, bodylen, &c, &payload, why, sizeof(why)) != BOOKING_OK) {
		fprintf(stderr, "booking_driver: %s: %s\n", file, why);
		exit(1);
	}
	free(jws);
	t0 = util_now_ms();
	booking_deliver(j->b, &c, &r);
	line = json_pack("{s:s, s:s, s:s, s:i, s:I, s:b, s:s, s:s, s:s, s:I}", "file", file, "report_id",
	                 c.report_id, "verdict", booking_verdict_name(r.verdict), "http_status",
	                 r.http_status, "retry_after", (json_int_t)r.retry_after_s, "server_wide",
	                 r.server_wide, "remote_id", r.remote_id, "phase", r.phase, "answer", r.answer, "ms",
	                 (json_int_t)(util_now_ms() - t0));
	s = json_dumps(line, JSON_COMPACT);
	pthread_mutex_lock(&j->mu);
	printf("%s\n", s);
	fflush(stdout);
	pthread_mutex_unlock(&j->mu);
	free(s);
	json_decref(line);
	booking_result_clear(&r);
	json_decref(payload);
	free(body);
}

static void *
worker(void *arg)
{
	struct job *j = arg;

	for (;;) {
		int k;
		pthread_mutex_lock(&j->mu);
		k = j->next++;
		pthread_mutex_unlock(&j->mu);
		if (k >= j->nfiles * j->repeat)
			return NULL;
		deliver_one(j, j->files[k % j->nfiles]);
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: booking_driver --kind K --url URL [--token-file F] [--ca-file F] [--rate N]\n"
	                "       [--serial-field NAME] [--timeout S] [--threads N] [--repeat N]\n"
	                "       deliver REPORT.jws.json... | check | poll\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"kind", required_argument, NULL, 'k'},       {"url", required_argument, NULL, 'u'},
	    {"token-file", required_argument, NULL, 't'}, {"ca-file", required_argument, NULL, 'c'},
	    {"rate", required_argument, NULL, 'r'},       {"serial-field", required_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, 'T'},    {"threads", required_argument, NULL, 'n'},
	    {"repeat", required_argument, NULL, 'R'},     {NULL, 0, NULL, 0},
	};
	struct booking_opts o;
	struct booking *b;
	struct job j;
	char why[1024];
	int ch, threads = 1, rc = 0;
	const char *cmd;

	memset(&o, 0, sizeof(o));
	memset(&j, 0, sizeof(j));
	j.repeat = 1;
	o.timeout_s = 10;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			o.kind = optarg;
			break;
		case 'u':
			o.url = optarg;
			break;
		case 't':
			o.token_file = optarg;
			break;
		case 'c':
			o.ca_file = optarg;
			break;
		case 'r':
			o.rate_per_minute = atoi(optarg);
			break;
		case 's':
			o.serial_field = optarg;
			break;
		case 'T':
			o.timeout_s = atoi(optarg);
			break;
		case 'n':
			threads = atoi(optarg);
			break;
		case 'R':
			j.repeat = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || threads < 1 || threads > 64 || j.repeat < 1)
		usage();
	cmd = argv[optind++];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (booking_new(&o, &b, why, sizeof(why)) != BOOKING_OK) {
		fprintf(stderr, "booking_driver: %s\n", why);
		return 1;
	}
	if (strcmp(cmd, "deliver") == 0) {
		pthread_t t[64];
		j.b = b;
		j.files = argv + optind;
		j.nfiles = argc - optind;
		pthread_mutex_init(&j.mu, NULL);
		for (int i = 0; i < threads; i++)
			pthread_create(&t[i], NULL, worker, &j);
		for (int i = 0; i < threads; i++)
			pthread_join(t[i], NULL);
		pthread_mutex_destroy(&j.mu);
	} else if (strcmp(cmd, "check") == 0) {
		char msg[1024];
		int ok = booking_check(b, msg, sizeof(msg)) == 0;
		json_t *line = json_pack("{s:b, s:s}", "ok", ok, "message", msg);
		char *s = json_dumps(line, JSON_COMPACT);
		printf("%s\n", s);
		free(s);
		json_decref(line);
		rc = ok ? 0 : 1;
	} else if (strcmp(cmd, "poll") == 0) {
		json_t *rows, *line;
		char *s;
		if (booking_poll(b, &rows, why, sizeof(why)) == BOOKING_OK) {
			line = json_pack("{s:b, s:o}", "ok", 1, "rows", rows);
		} else {
			line = json_pack("{s:b, s:s}", "ok", 0, "error", why);
			rc = 1;
		}
		s = json_dumps(line, JSON_COMPACT);
		printf("%s\n", s);
		free(s);
		json_decref(line);
	} else {
		usage();
	}
	booking_free(b);
	curl_global_cleanup();
	return rc;
}
