/*
 * bench_parse: the cost of the two parsers a session runs over device bytes.
 *
 *   bench_parse [--smoke] SOURCE_DIR
 *
 * (a) norm_crash_parse (drivers/idevice/normalize.c) on every bundled crash report of
 *     tests/profiles/STAR/crashes/ and on a synthetic 2 MiB .ips panic (whole file, and its first
 *     512 KiB as the crashes probe keeps it: CRASH_HEAD in idevice.c);
 * (b) engine_scan_syslog (agent/engine) with the full diag-trees/syslog-rules.txt over 1 MiB of
 *     log lines made from the bundled profiles' syslog.txt (rules loaded on every call, as
 *     capture does), reported per MiB.
 *
 * Prints a small table on stderr and one JSON object on stdout. --smoke: few iterations (checks
 * the program works, says nothing about speed). Exit 0 ok, 1 when a parser failed.
 */
#include "engine.h"
#include "normalize.h"

#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define HEAD_BYTES (512u * 1024)
#define BIG_PANIC  (2u * 1024 * 1024)
#define SYSLOG_MB  (1024u * 1024)

struct file {
	char name[256];
	char *data;
	size_t len;
};

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	struct stat st;

	if (f == NULL)
		return NULL;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return NULL;
	}
	for (;;) {
		if (n + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap + 1);
			if (buf == NULL)
				abort();
		}
		r = fread(buf + n, 1, cap - n, f);
		if (r == 0)
			break;
		n += r;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Every file under SOURCE/tests/profiles/STAR/SUB. */
static size_t
load_profile_files(const char *src, const char *sub, struct file *out, size_t max)
{
	char path[4096];
	DIR *top, *d;
	struct dirent *e, *f;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/tests/profiles", src);
	top = opendir(path);
	if (top == NULL)
		return 0;
	while ((e = readdir(top)) != NULL && n < max) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/tests/profiles/%s/%s", src, e->d_name, sub);
		if (strchr(sub, '.')) { /* a file */
			out[n].data = slurp(path, &out[n].len);
			if (out[n].data) {
				snprintf(out[n].name, sizeof(out[n].name), "%s", e->d_name);
				n++;
			}
			continue;
		}
		d = opendir(path);
		if (d == NULL)
			continue;
		while ((f = readdir(d)) != NULL && n < max) {
			char fp[8192];
			if (f->d_name[0] == '.')
				continue;
			snprintf(fp, sizeof(fp), "%s/%s", path, f->d_name);
			out[n].data = slurp(fp, &out[n].len);
			if (out[n].data) {
				snprintf(out[n].name, sizeof(out[n].name), "%s", f->d_name);
				n++;
			}
		}
		closedir(d);
	}
	closedir(top);
	return n;
}

/* A 2 MiB .ips panic: the JSON header line, then a body whose panicString is a long backtrace. */
static char *
make_big_panic(size_t *len)
{
	static const char head[] =
	    "{\"bug_type\":\"210\",\"timestamp\":\"2026-11-21 08:33:40.00 +0100\",\"os_version\":\"iPhone "
	    "OS 17.1.2 (21B101)\",\"incident_id\":\"A01C2E3F-5B6D-4E7F-8091-A2B3C4D5E6F0\"}\n"
	    "{\"build\":\"iPhone OS 17.1.2 (21B101)\",\"product\":\"iPhone13,2\",\"date\":\"2026-11-21 "
	    "08:33:40.41 +0100\",\"panicString\":\"panic(cpu 4 caller 0xfffffff02a3bc8e4): userspace "
	    "watchdog timeout: no successful checkins from thermalmonitord in 180 seconds\\nMissing "
	    "sensor(s): prs0 @userspace_watchdog.c:43\\n";
	static const char tail[] = "\",\"otherString\":\"end\"}\n";
	char *b = malloc(BIG_PANIC + 1);
	size_t n = 0, i = 0;

	if (b == NULL)
		abort();
	memcpy(b, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	while (n + 80 + sizeof(tail) < BIG_PANIC) {
		n += (size_t)snprintf(b + n, 80, "  lr: 0xfffffff02a%06zx  fp: 0xffffffe8%08zx\\n",
		                      i * 7919 % 0xffffff, i * 104729);
		i++;
	}
	memcpy(b + n, tail, sizeof(tail) - 1);
	n += sizeof(tail) - 1;
	memset(b + n, ' ', BIG_PANIC - n);
	b[BIG_PANIC - 1] = '\n';
	b[BIG_PANIC] = '\0';
	*len = BIG_PANIC;
	return b;
}

/* Mean seconds per call of norm_crash_parse over `iters` calls; -1 when it refused the input. */
static double
time_crash(const char *name, const char *data, size_t len, size_t file_size, int iters)
{
	char why[256];
	double t0 = now_s();

	for (int i = 0; i < iters; i++) {
		json_t *c = norm_crash_parse(name, data, len, file_size, why, sizeof(why));
		if (c == NULL) {
			fprintf(stderr, "bench_parse: %s: %s\n", name, why);
			return -1;
		}
		json_decref(c);
	}
	return (now_s() - t0) / iters;
}

int
main(int argc, char **argv)
{
	static struct file crashes[64], logs[16];
	const char *src;
	int smoke = 0, argi = 1, iters;
	size_t ncrash, nlog, bytes_total = 0, biglen, nlines = 0, logbytes = 0;
	double t, per_small, per_big, per_head, per_mb, t_sum = 0;
	char rules[4096], why[512];
	char *big;
	json_t *lines, *sigs = NULL, *out;

	if (argc > 1 && strcmp(argv[1], "--smoke") == 0) {
		smoke = 1;
		argi++;
	}
	if (argi != argc - 1) {
		fprintf(stderr, "usage: bench_parse [--smoke] SOURCE_DIR\n");
		return 2;
	}
	src = argv[argi];
	ncrash = load_profile_files(src, "crashes", crashes, 64);
	nlog = load_profile_files(src, "syslog.txt", logs, 16);
	if (ncrash == 0 || nlog == 0) {
		fprintf(stderr,
		        "bench_parse: no bundled crash reports or syslog.txt under %s/tests/profiles\n", src);
		return 1;
	}

	/* (a) bundled reports: mean per report over many passes */
	iters = smoke ? 2 : 2000;
	for (size_t k = 0; k < ncrash; k++) {
		t = time_crash(crashes[k].name, crashes[k].data, crashes[k].len, crashes[k].len, iters);
		if (t < 0)
			return 1;
		t_sum += t;
		bytes_total += crashes[k].len;
	}
	per_small = t_sum / (double)ncrash;
	big = make_big_panic(&biglen);
	per_big = time_crash("panic-full-2026-11-21-083340.000.ips", big, biglen, biglen, smoke ? 1 : 20);
	per_head =
	    time_crash("panic-full-2026-11-21-083340.000.ips", big, HEAD_BYTES, biglen, smoke ? 1 : 50);
	if (per_big < 0 || per_head < 0)
		return 1;

	/* (b) 1 MiB of syslog lines from the bundled logs, scanned with the full rule set */
	lines = json_array();
	for (size_t k = 0; logbytes < SYSLOG_MB; k = (k + 1) % nlog) {
		const char *p = logs[k].data, *end = p + logs[k].len;
		while (p < end && logbytes < SYSLOG_MB) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t l = (size_t)((nl ? nl : end) - p);
			json_array_append_new(lines, json_stringn(p, l));
			logbytes += l + 1;
			nlines++;
			p = nl ? nl + 1 : end;
		}
	}
	snprintf(rules, sizeof(rules), "%s/diag-trees/syslog-rules.txt", src);
	iters = smoke ? 1 : 20;
	t = now_s();
	for (int i = 0; i < iters; i++) {
		json_decref(sigs);
		sigs = NULL;
		if (engine_scan_syslog(rules, lines, &sigs, why, sizeof(why)) != 0) {
			fprintf(stderr, "bench_parse: engine_scan_syslog: %s\n", why);
			return 1;
		}
	}
	per_mb = (now_s() - t) / iters / ((double)logbytes / (1024.0 * 1024.0));

	fprintf(stderr,
	        "%-44s %12s\n"
	        "%-44s %9.1f us   (%zu files, %zu bytes)\n"
	        "%-44s %9.2f ms\n"
	        "%-44s %9.2f ms\n"
	        "%-44s %9.2f ms   (%zu lines, %zu signatures found)\n",
	        "parser", "cost", "crash report, bundled .ips/.plist (mean)", per_small * 1e6, ncrash,
	        bytes_total, "crash report, 2 MiB .ips panic (whole file)", per_big * 1e3,
	        "crash report, 2 MiB panic, 512 KiB head", per_head * 1e3,
	        "syslog scan, full signature set, per MiB", per_mb * 1e3, nlines, json_array_size(sigs));
	out = json_pack("{s:s, s:b, s:i, s:f, s:f, s:f, s:f, s:i, s:i}", "bench", "parse", "smoke", smoke,
	                "crash_files", (int)ncrash, "crash_us_per_report", per_small * 1e6,
	                "crash_ms_2mib_panic", per_big * 1e3, "crash_ms_2mib_panic_head", per_head * 1e3,
	                "syslog_ms_per_mib", per_mb * 1e3, "syslog_lines_per_mib",
	                (int)((double)nlines * SYSLOG_MB / (double)logbytes), "signatures",
	                (int)json_array_size(sigs));
	{
		char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
		printf("%s\n", s);
		free(s);
	}
	json_decref(out);
	json_decref(sigs);
	json_decref(lines);
	free(big);
	for (size_t k = 0; k < ncrash; k++)
		free(crashes[k].data);
	for (size_t k = 0; k < nlog; k++)
		free(logs[k].data);
	return 0;
}
