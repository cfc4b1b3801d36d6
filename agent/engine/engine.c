/*
 * engine: entry points of engine.h. The tree runner lands in the next commit; this file
 * already holds the syslog scanner front and the trees-directory lookup.
 */
#include "engine.h"

#include "sigscan.h"
#include "util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *
engine_strerror(int err)
{
	switch (err) {
	case ENGINE_OK:
		return "ok";
	case ENGINE_E_TREES:
		return "the diagnostic trees cannot be read";
	case ENGINE_E_SNAPSHOT:
		return "not a benchd.snapshot/1 document";
	case ENGINE_E_CATALOGUE:
		return "the fault catalogue cannot be read";
	case ENGINE_E_NOMEM:
		return "out of memory";
	}
	return "unknown engine error";
}

static int
is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *
engine_default_trees_dir(void)
{
	static char exe[PATH_MAX];
	const char *env = getenv("BENCHD_TREES_DIR");
	ssize_t n;

	if (env != NULL && *env != '\0')
		return env;
	/* A program of this build tree uses the source tree's trees. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		size_t bl = strlen(BENCHD_BINARY_DIR);
		exe[n] = '\0';
		if ((size_t)n > bl && strncmp(exe, BENCHD_BINARY_DIR, bl) == 0 && exe[bl] == '/' &&
		    is_dir(BENCHD_SOURCE_DIR "/diag-trees"))
			return BENCHD_SOURCE_DIR "/diag-trees";
	}
	if (is_dir(BENCHD_TREES_INSTALL_DIR))
		return BENCHD_TREES_INSTALL_DIR;
	return BENCHD_SOURCE_DIR "/diag-trees";
}

int
engine_scan_syslog(const char *rules_path, const json_t *lines, json_t **signatures, char *why, size_t whylen)
{
	struct sigscan *s;
	int r;

	*signatures = NULL;
	if (rules_path == NULL) {
		snprintf(why, whylen, "no syslog rules file given");
		return ENGINE_E_TREES;
	}
	if ((r = sigscan_load(rules_path, &s, why, whylen)) != SIGSCAN_OK)
		return ENGINE_E_TREES;
	r = sigscan_scan(s, lines, signatures);
	sigscan_free(s);
	if (r != SIGSCAN_OK) {
		snprintf(why, whylen, "%s", sigscan_strerror(r));
		return ENGINE_E_SNAPSHOT;
	}
	return ENGINE_OK;
}

int
engine_run(const json_t *snapshot, const struct engine_opts *opts, struct engine_result **out, char *why,
           size_t whylen)
{
	(void)snapshot;
	(void)opts;
	*out = NULL;
	snprintf(why, whylen, "the tree runner is not built yet (issue 5)");
	return ENGINE_E_TREES;
}

void
engine_result_free(struct engine_result *r)
{
	free(r);
}

int
engine_probes(const struct engine_opts *opts, json_t **probes, char *why, size_t whylen)
{
	(void)opts;
	*probes = NULL;
	snprintf(why, whylen, "the tree runner is not built yet (issue 5)");
	return ENGINE_E_TREES;
}
