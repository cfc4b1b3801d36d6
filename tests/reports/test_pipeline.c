/*
 * pipeline_run as benchd uses it: many sessions at once on a fresh state directory. Every run
 * must give a signed report and its snapshot, exactly one bench key must be created (the others
 * use it), and every report must verify with that key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pipeline.h"
#include "report.h"
#include "util.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NTHREADS 8

struct job {
	const char *state, *snap;
	size_t len;
	struct pipeline_result *res;
	int rc;
	char why[512];
};

static void *
worker(void *arg)
{
	struct job *j = arg;
	struct pipeline_opts o;

	memset(&o, 0, sizeof(o));
	o.state_dir = j->state;
	o.bench_id = "bench-par";
	o.engine.trees_dir = BENCHD_SOURCE_DIR "/diag-trees";
	j->rc = pipeline_run(j->snap, j->len, &o, &j->res, j->why, sizeof(j->why));
	return NULL;
}

static void
test_parallel_sessions(void **state)
{
	(void)state;
	char dir[] = "/tmp/benchd-pipeline-XXXXXX", *snap, *sd, *cmd;
	size_t len;
	pthread_t th[NTHREADS];
	struct job jobs[NTHREADS];
	struct bench_key *k;
	int created = 0;
	json_t *jwk;

	assert_non_null(mkdtemp(dir));
	sd = xasprintf("%s/state", dir);
	assert_int_equal(util_read_file(FIXTURES_DIR "/snapshot.json", 1 << 20, &snap, &len), 0);
	for (int i = 0; i < NTHREADS; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].state = sd;
		jobs[i].snap = snap;
		jobs[i].len = len;
		assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	char why[256];
	assert_int_equal(bench_key_load(sd, &k, why, sizeof(why)), 0);
	jwk = bench_key_public_jwk(k);
	for (int i = 0; i < NTHREADS; i++) {
		struct job *j = &jobs[i];
		json_t *rep = NULL;
		char *on_disk, *snap_disk;
		size_t dl, sl;
		if (j->rc != 0)
			fail_msg("session %d: %s", i, j->why);
		created += j->res->key_created;
		assert_string_equal(j->res->kid, bench_key_id(k));
		assert_int_equal(util_read_file(j->res->report_path, 1 << 24, &on_disk, &dl), 0);
		assert_int_equal(dl, j->res->jwslen);
		assert_memory_equal(on_disk, j->res->jws, dl);
		assert_int_equal(report_verify(on_disk, dl, jwk, &rep, why, sizeof(why)), 0);
		assert_string_equal(json_string_value(json_object_get(rep, "report_id")), j->res->report_id);
		assert_int_equal(util_read_file(j->res->snapshot_path, 1 << 24, &snap_disk, &sl), 0);
		assert_int_equal(sl, len);
		assert_memory_equal(snap_disk, snap, len);
		for (int m = 0; m < i; m++)
			assert_string_not_equal(jobs[m].res->report_id, j->res->report_id);
		json_decref(rep);
		free(on_disk);
		free(snap_disk);
	}
	assert_int_equal(created, 1);
	/* Nothing but the reports, their snapshots and the key: no temporary files left. */
	char *rdir = xasprintf("%s/reports", sd);
	DIR *d = opendir(rdir);
	struct dirent *e;
	int files = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		files++;
		assert_true(strstr(e->d_name, ".jws.json") != NULL ||
		            strstr(e->d_name, ".snapshot.json") != NULL);
		assert_null(strstr(e->d_name, ".tmp"));
	}
	closedir(d);
	assert_int_equal(files, 2 * NTHREADS);
	d = opendir(sd);
	while ((e = readdir(d)) != NULL)
		assert_null(strstr(e->d_name, ".new."));
	closedir(d);
	for (int i = 0; i < NTHREADS; i++)
		pipeline_result_free(jobs[i].res);
	json_decref(jwk);
	bench_key_free(k);
	free(rdir);
	free(snap);
	free(sd);
	cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void
test_bad_snapshots(void **state)
{
	(void)state;
	char dir[] = "/tmp/benchd-pipeline-XXXXXX", why[512];
	struct pipeline_result *res = NULL;
	struct pipeline_opts o;

	assert_non_null(mkdtemp(dir));
	memset(&o, 0, sizeof(o));
	o.state_dir = dir;
	o.engine.trees_dir = BENCHD_SOURCE_DIR "/diag-trees";
	const char *bad[] = {"",    "{", "[]", "{\"schema\":\"benchd.snapshot/2\"}", "{\"a\":1,\"a\":2}",
	                     "null"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pipeline_run(bad[i], strlen(bad[i]), &o, &res, why, sizeof(why)),
		                 PIPELINE_E_SNAPSHOT);
		assert_null(res);
	}
	/* Nothing was written, not even a key. */
	struct stat st;
	char *kp = bench_key_path(dir), *rd = xasprintf("%s/reports", dir);
	assert_int_equal(stat(kp, &st), -1);
	assert_int_equal(stat(rd, &st), -1);
	free(kp);
	free(rd);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parallel_sessions),
	    cmocka_unit_test(test_bad_snapshots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
