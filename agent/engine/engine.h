/*
 * engine: runs diagnostic trees (Lua 5.4, diag-trees/<name>.lua) over a snapshot in a sandbox.
 *
 * Trees are pure: the result is a function of (snapshot, answers, the battery's earlier readings
 * from this bench (history), tree files) only, so the same inputs give byte-identical faults,
 * trace and derived readings. Each tree runs in its own lua_State with
 * only base/string/table/math/utf8, strict globals, an instruction limit and a memory limit;
 * a tree that errs, loops or allocates without end becomes an entry in `errors`, never a crash.
 *
 * Ownership: engine_run hands back a result the caller frees with engine_result_free; the json
 * members belong to the result (json_incref to keep one).
 *
 * engine_run refuses (no result) only when the snapshot is not benchd.snapshot/1
 * (ENGINE_E_SNAPSHOT), the history is not an array of at most ENGINE_MAX_HISTORY objects
 * (ENGINE_E_HISTORY), a named tree does not exist or the directory cannot be read
 * (ENGINE_E_TREES), or catalogue.json / models.json cannot be read (ENGINE_E_CATALOGUE). Trees
 * run in file-name order; outcome: "incomplete" if a question is open, a tree errored or a tree
 * called incomplete() (SYS-003), else "fail" if any fault is not severity info, else "pass".
 * Reentrant: sessions may call it from several threads at once (no shared state).
 * The tree language is documented in diag-trees/README.md.
 */
#ifndef BENCHD_ENGINE_H
#define BENCHD_ENGINE_H

#include <jansson.h>
#include <stddef.h>

enum engine_err {
	ENGINE_OK = 0,
	ENGINE_E_TREES = -1,     /* the trees directory or a named tree cannot be read */
	ENGINE_E_SNAPSHOT = -2,  /* the snapshot is not a benchd.snapshot/1 document */
	ENGINE_E_CATALOGUE = -3, /* the fault catalogue cannot be read */
	ENGINE_E_NOMEM = -4,
	ENGINE_E_HISTORY = -5, /* the history is not an array of reading objects (issue 16) */
};
const char *engine_strerror(int err);

struct engine_answer {
	const char *key;
	const char *value;
};

struct engine_opts {
	const char *trees_dir;    /* NULL: the installed/default diag-trees directory */
	const char *const *trees; /* tree names to run; NULL/0: all */
	size_t ntrees;
	const struct engine_answer *answers;
	size_t nanswers;
	const char *lang; /* question and title language, default "en" */
	/* Added by issue 5 (zero/NULL keeps the defaults): */
	const char *data_dir;  /* catalogue.json and models.json; NULL: trees_dir */
	size_t mem_limit;      /* per tree, bytes; 0: 16 MiB */
	long long instr_limit; /* per tree, Lua VM instructions; 0: 20 million */
	/* Added by issue 16: this bench's earlier readings of the same battery, oldest first,
	 * [{at, battery_serial, cycle_count, health_pct, nominal_capacity_mah,
	 * design_capacity_mah}] (DESIGN 4.9). Trees read it as the read-only global `history`.
	 * NULL: none (an empty array). Borrowed; must outlive engine_run. */
	const json_t *history;
};

/* The most rows a history may have (a battery seen on this many visits is plenty). */
#define ENGINE_MAX_HISTORY  1000
/* The most derived readings one run may give (reading(name, value)). */
#define ENGINE_MAX_READINGS 64

struct engine_result {
	json_t *faults;     /* [{code, severity, part, title, evidence, tree, node}] */
	json_t *trace;      /* [{tree, node, result, values{}}] every node visited, in order; a tree
	                       error adds {node "error", result "error", values {reason}} */
	json_t *trees;      /* [{name, version, sha256}] */
	json_t *questions;  /* unanswered: [{key, tree, text (in opts->lang), choices,
	                       invalid_answer? (given but not a choice)}], each key once */
	json_t *errors;     /* engine errors: [{tree, reason}] */
	char outcome[16];   /* "pass", "fail" or "incomplete" */
	json_t *incomplete; /* other reasons the outcome is incomplete: [{tree, reason}] (SYS-003, ...) */
	/* Added by issue 16: derived readings the trees gave with reading(name, value), {name:
	 * value}; a name is given once per run and is never one the snapshot's readings use. */
	json_t *readings;
};

/* NULL or an array of at most ENGINE_MAX_HISTORY objects: ENGINE_OK; else ENGINE_E_HISTORY
 * with a reason. The rows' fields are the trees' to judge (a tree survives any value). */
int engine_check_history(const json_t *history, char *why, size_t whylen);

int engine_run(const json_t *snapshot, const struct engine_opts *opts, struct engine_result **out, char *why,
               size_t whylen);
void engine_result_free(struct engine_result *r);

/* The probes the named trees need (union, sorted): a json array of strings. */
int engine_probes(const struct engine_opts *opts, json_t **probes, char *why, size_t whylen);

/* The default trees directory: $BENCHD_TREES_DIR, else the source tree's diag-trees when run
 * from a build tree, else the installed one. Static string. */
const char *engine_default_trees_dir(void);

/*
 * Syslog signature scanner (PCRE2): match `lines` (json array of strings) against the rules
 * file and return [{id, count, first_line}] (sorted by id). Used by whoever produces a
 * snapshot to fill syslog.signatures.
 */
int engine_scan_syslog(const char *rules_path, const json_t *lines, json_t **signatures, char *why,
                       size_t whylen);

/*
 * Added by issue 5.
 *
 * engine_list: every tree of the directory, by file name: [{name, version, probes, description?,
 * file, sha256}] or [{file, sha256, error}] for a tree that does not load or declare itself.
 */
int engine_list(const char *trees_dir, json_t **trees, char *why, size_t whylen);

/* The result as compact JSON {outcome, faults, trace, trees, questions, errors, incomplete,
 * readings}, the
 * same bytes for the same inputs (malloc'd). */
char *engine_result_dump(const struct engine_result *r);

/*
 * engine_check: load every tree in the sandbox and check the declarations, the fault codes
 * used, the catalogue (every DESIGN 4.5 code, four languages), the model table and the syslog
 * rules. *problems = [{file, line, reason}] (line 0 when none applies); returns how many.
 * data_dir NULL: trees_dir.
 */
int engine_check(const char *trees_dir, const char *data_dir, json_t **problems);

/*
 * engine_test: run every test case (*.json) of tests_dir (NULL: <trees_dir>/tests) and compare
 * with its expectations. *results = [{name, file, ok, reasons[], outcome}] in file order;
 * returns the number of failures, or a negative engine_err with a reason.
 */
int engine_test(const char *trees_dir, const char *tests_dir, json_t **results, char *why, size_t whylen);

#endif
