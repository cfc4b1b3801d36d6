/*
 * engine: runs the diagnostic trees of a directory over one snapshot (engine.h).
 *
 * For each tree file (sorted by name) a fresh sandbox (sandbox.c) gets the tree API, written
 * here in C (tree, node, fault, ask, incomplete, reading, model, days_between, age_days,
 * probe_failed) and in a small Lua prelude (check, contains), plus read-only views of the
 * snapshot, of the battery's history and of the model table. The tree runs once under
 * lua_pcall; whatever it raised is kept, and an error or a limit becomes an entry in `errors`. Nothing here
 * reads a clock or a random source, and JSON leaves in a fixed order, so the same inputs give the same bytes.
 */
#include "engine.h"
#include "engine_int.h"

#include "sandbox.h"
#include "sigscan.h"
#include "hash.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_TREE_FILE (256 * 1024)
#define MAX_DATA_FILE (4 * 1024 * 1024)
#define MAX_TREES     128

static const char *const valid_probes[] = {"info",    "battery", "diagnostics", "syslog",
                                           "crashes", "usb",     NULL};

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
	case ENGINE_E_HISTORY:
		return "not a battery history (an array of readings)";
	}
	return "unknown engine error";
}

static int
is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char default_dir[PATH_MAX];
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void
find_default_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	util_strlcpy(default_dir, BENCHD_SOURCE_DIR "/diag-trees", sizeof(default_dir));
	if (n > 0) {
		size_t bl = strlen(BENCHD_BINARY_DIR);
		exe[n] = '\0';
		/* A program of this build tree uses the source tree's trees. */
		if ((size_t)n > bl && strncmp(exe, BENCHD_BINARY_DIR, bl) == 0 && exe[bl] == '/' &&
		    is_dir(BENCHD_SOURCE_DIR "/diag-trees"))
			return;
	}
	if (is_dir(BENCHD_TREES_INSTALL_DIR))
		util_strlcpy(default_dir, BENCHD_TREES_INSTALL_DIR, sizeof(default_dir));
}

const char *
engine_default_trees_dir(void)
{
	const char *env = getenv("BENCHD_TREES_DIR");

	if (env != NULL && *env != '\0')
		return env;
	pthread_once(&default_once, find_default_dir);
	return default_dir;
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
	if (sigscan_load(rules_path, &s, why, whylen) != SIGSCAN_OK)
		return ENGINE_E_TREES;
	r = sigscan_scan(s, lines, signatures);
	sigscan_free(s);
	if (r != SIGSCAN_OK) {
		snprintf(why, whylen, "%s", sigscan_strerror(r));
		return ENGINE_E_SNAPSHOT;
	}
	return ENGINE_OK;
}

/* ---- data files: catalogue.json and models.json ---- */

static json_t *
load_json(const char *path, char *why, size_t whylen)
{
	json_error_t je;
	char *data;
	size_t len;
	json_t *j;

	if (util_read_file(path, MAX_DATA_FILE, &data, &len) != 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	free(data);
	if (j == NULL)
		snprintf(why, whylen, "%s line %d: %s", path, je.line, je.text);
	return j;
}

int
engine_data_load(const char *dir, struct engine_data *d, char *why, size_t whylen)
{
	char *p;

	memset(d, 0, sizeof(*d));
	p = xasprintf("%s/catalogue.json", dir);
	d->catalogue_doc = load_json(p, why, whylen);
	free(p);
	if (d->catalogue_doc == NULL)
		return ENGINE_E_CATALOGUE;
	d->codes = json_object_get(d->catalogue_doc, "codes");
	if (!json_is_object(d->codes)) {
		snprintf(why, whylen, "%s/catalogue.json: no \"codes\" object", dir);
		engine_data_free(d);
		return ENGINE_E_CATALOGUE;
	}
	p = xasprintf("%s/models.json", dir);
	d->models_doc = load_json(p, why, whylen);
	free(p);
	if (d->models_doc == NULL) {
		engine_data_free(d);
		return ENGINE_E_CATALOGUE;
	}
	d->models = json_object_get(d->models_doc, "models");
	if (!json_is_object(d->models)) {
		snprintf(why, whylen, "%s/models.json: no \"models\" object", dir);
		engine_data_free(d);
		return ENGINE_E_CATALOGUE;
	}
	return ENGINE_OK;
}

void
engine_data_free(struct engine_data *d)
{
	json_decref(d->catalogue_doc);
	json_decref(d->models_doc);
	memset(d, 0, sizeof(*d));
}

/* ---- tree files ---- */

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
engine_valid_name(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '-' ||
		      s[n] == '_'))
			return 0;
	return n > 0 && n <= 64;
}

int
engine_tree_files(const char *dir, char ***files, size_t *n, char *why, size_t whylen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v;
	size_t k = 0;

	*files = NULL;
	*n = 0;
	if (d == NULL) {
		snprintf(why, whylen, "%s: %s", dir, strerror(errno));
		return ENGINE_E_TREES;
	}
	v = xcalloc(MAX_TREES + 1, sizeof(char *));
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l < 5 || strcmp(de->d_name + l - 4, ".lua") != 0 || de->d_name[0] == '.')
			continue;
		if (k == MAX_TREES) {
			snprintf(why, whylen, "%s: more than %d trees", dir, MAX_TREES);
			closedir(d);
			engine_free_list(v, k);
			return ENGINE_E_TREES;
		}
		v[k++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(v, k, sizeof(char *), cmp_strp);
	*files = v;
	*n = k;
	return ENGINE_OK;
}

void
engine_free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- time ---- */

/* RFC 3339, also "YYYY-MM-DD HH:MM:SS[.ff] [+-]hhmm" as in crash report headers. */
int
engine_parse_time(const char *s, time_t *out)
{
	char buf[64];
	size_t n = strlen(s), o = 0;

	if (n == 0 || n >= sizeof(buf) - 4)
		return -1;
	if (util_parse_rfc3339(s, out) == 0)
		return 0;
	/* Normalise the crash-report form to RFC 3339 and try again. */
	for (size_t i = 0; i < n && o < sizeof(buf) - 4; i++) {
		char c = s[i];
		if (i == 10 && c == ' ')
			c = 'T';
		if (c == ' ' && i > 10 && (s[i + 1] == '+' || s[i + 1] == '-'))
			continue;
		buf[o++] = c;
	}
	buf[o] = '\0';
	/* +hhmm -> +hh:mm */
	if (o >= 5 && (buf[o - 5] == '+' || buf[o - 5] == '-') && isdigit((unsigned char)buf[o - 1]) &&
	    isdigit((unsigned char)buf[o - 4])) {
		memmove(buf + o - 1, buf + o - 2, 3);
		buf[o - 2] = ':';
		buf[o + 1] = '\0';
	}
	return util_parse_rfc3339(buf, out);
}

/* ---- one tree run ---- */

struct engine_ctx {
	const json_t *snapshot;
	const json_t *history; /* opts->history, or empty_history */
	json_t *empty_history;
	json_t *reading_tree; /* {reading name: the tree that gave it} */
	const struct engine_data *data;
	const struct engine_opts *opts;
	const char *lang;
	time_t captured;
	int have_captured;
	struct engine_result *res;
};

struct run {
	struct engine_ctx *c;
	const char *file;
	char stem[80]; /* the file name without .lua: the tree's name until it declares one */
	int declare_only;
	json_t *decl;
	int decl_line;
	char node[128];
};

static char declared_sentinel;

static struct run *
run_of(lua_State *L)
{
	return lua_touserdata(L, lua_upvalueindex(1));
}

static const char *
tree_name(struct run *r)
{
	const char *n = r->decl ? json_string_value(json_object_get(r->decl, "name")) : NULL;
	return n ? n : r->stem;
}

static void
need_decl(lua_State *L, struct run *r)
{
	if (r->decl == NULL)
		luaL_error(L, "call tree{ name=..., version=..., probes={...} } first");
}

static int
api_tree(lua_State *L)
{
	struct run *r = run_of(L);
	const char *name, *version, *desc = NULL;
	json_t *probes;
	lua_Debug ar;

	luaL_checktype(L, 1, LUA_TTABLE);
	if (r->decl != NULL)
		return luaL_error(L, "tree{} is declared twice");
	lua_getfield(L, 1, "name");
	name = lua_tostring(L, -1);
	if (lua_type(L, -1) != LUA_TSTRING || !engine_valid_name(name))
		return luaL_error(L, "tree{}: name = \"...\" is required (a-z, 0-9, - and _)");
	lua_getfield(L, 1, "version");
	version = lua_tostring(L, -1);
	if (lua_type(L, -1) != LUA_TSTRING || *version == '\0' || strlen(version) > 32 ||
	    strspn(version, "0123456789.") != strlen(version))
		return luaL_error(L, "tree{}: version = \"1.0\" is required (digits and dots)");
	lua_getfield(L, 1, "description");
	if (!lua_isnil(L, -1)) {
		if (lua_type(L, -1) != LUA_TSTRING)
			return luaL_error(L, "tree{}: description must be a string");
		desc = lua_tostring(L, -1);
	}
	lua_getfield(L, 1, "probes");
	if (lua_type(L, -1) != LUA_TTABLE)
		return luaL_error(L, "tree{}: probes = {\"battery\", ...} is required (may be empty)");
	probes = json_array();
	for (lua_Integer i = 1;; i++) {
		const char *p;
		int ok = 0;
		if (lua_geti(L, -1, i) == LUA_TNIL) {
			lua_pop(L, 1);
			break;
		}
		p = lua_tostring(L, -1);
		for (int k = 0; p != NULL && lua_type(L, -1) == LUA_TSTRING && valid_probes[k]; k++)
			if (strcmp(p, valid_probes[k]) == 0)
				ok = 1;
		if (!ok) {
			json_decref(probes);
			return luaL_error(L,
			                  "tree{}: unknown probe '%s' (known: info, battery, diagnostics, "
			                  "syslog, crashes, usb)",
			                  p ? p : "?");
		}
		json_array_append_new(probes, json_string(p));
		lua_pop(L, 1);
	}
	r->decl = json_pack("{s:s, s:s, s:o}", "name", name, "version", version, "probes", probes);
	if (desc != NULL)
		json_object_set_new(r->decl, "description", sandbox_json_string(desc, strlen(desc), 1024));
	if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar))
		r->decl_line = ar.currentline;
	if (r->declare_only) {
		lua_pushlightuserdata(L, &declared_sentinel);
		return lua_error(L);
	}
	return 0;
}

static json_t *
arg_json(lua_State *L, int idx, const char *what)
{
	char why[160] = "";
	json_t *j;
	if (lua_isnoneornil(L, idx))
		return json_object();
	j = sandbox_to_json(L, idx, why, sizeof(why));
	if (j == NULL)
		luaL_error(L, "%s: %s", what, why);
	return j;
}

static void
trace_add(struct run *r, const char *node, json_t *result, json_t *values)
{
	json_array_append_new(r->c->res->trace,
	                      json_pack("{s:s, s:s, s:o, s:o}", "tree", tree_name(r), "node", node, "result",
	                                result, "values", values ? values : json_object()));
}

/* node(name, values, result): record a step of the diagnosis; returns result. */
static int
api_node(lua_State *L)
{
	struct run *r = run_of(L);
	const char *name = luaL_checkstring(L, 1);
	json_t *values, *result;

	need_decl(L, r);
	if (strlen(name) == 0 || strlen(name) >= sizeof(r->node))
		return luaL_error(L, "node(): the name must be 1-%d characters", (int)sizeof(r->node) - 1);
	if (!lua_isnoneornil(L, 2) && lua_type(L, 2) != LUA_TTABLE)
		return luaL_error(L, "node(name, values, result): values must be a table");
	values = arg_json(L, 2, "node() values");
	if (lua_isnoneornil(L, 3)) {
		result = json_string("done");
	} else {
		char why[160] = "";
		int t = lua_type(L, 3);
		if (t != LUA_TSTRING && t != LUA_TBOOLEAN && t != LUA_TNUMBER) {
			json_decref(values);
			return luaL_error(L, "node(): result must be a string, a boolean or a number");
		}
		result = sandbox_to_json(L, 3, why, sizeof(why));
	}
	util_strlcpy(r->node, name, sizeof(r->node));
	trace_add(r, name, result, values);
	lua_settop(L, 3);
	return 1;
}

static const char *
lang_text(const json_t *obj, const char *lang)
{
	const char *t = json_string_value(json_object_get(obj, lang));
	if (t == NULL || *t == '\0')
		t = json_string_value(json_object_get(obj, "en"));
	return t ? t : "";
}

/*
 * fault(code, evidence [, part])  or  fault{ code=..., evidence={...}, part=..., node=... }
 * Severity and title come from the catalogue; part defaults to the catalogue's; node defaults to
 * the last node() of the tree.
 */
static int
api_fault(lua_State *L)
{
	struct run *r = run_of(L);
	const char *code, *part, *node;
	const json_t *entry;
	json_t *evidence, *f;
	int ev_idx = 2, part_idx = 3, node_idx = 0;

	need_decl(L, r);
	if (lua_type(L, 1) == LUA_TTABLE) {
		lua_settop(L, 1);
		lua_getfield(L, 1, "code");     /* 2 */
		lua_getfield(L, 1, "evidence"); /* 3 */
		lua_getfield(L, 1, "part");     /* 4 */
		lua_getfield(L, 1, "node");     /* 5 */
		lua_remove(L, 1);
		node_idx = 4;
		ev_idx = 2;
		part_idx = 3;
		if (!lua_isnil(L, 4) && lua_type(L, 4) != LUA_TSTRING)
			return luaL_error(L, "fault{}: node must be a string");
	}
	if (lua_type(L, 1) != LUA_TSTRING)
		return luaL_error(L,
		                  "fault(): the first argument is the code, e.g. fault(\"BAT-001\", {...})");
	code = lua_tostring(L, 1);
	entry = json_object_get(r->c->data->codes, code);
	if (!json_is_object(entry))
		return luaL_error(L, "fault code '%s' is not in catalogue.json", code);
	if (!lua_isnoneornil(L, ev_idx) && lua_type(L, ev_idx) != LUA_TTABLE)
		return luaL_error(L, "fault(code, evidence, part): evidence must be a table");
	if (!lua_isnoneornil(L, part_idx) && lua_type(L, part_idx) != LUA_TSTRING)
		return luaL_error(L, "fault(code, evidence, part): part must be a string");
	part = lua_isnoneornil(L, part_idx) ? json_string_value(json_object_get(entry, "part"))
	                                    : lua_tostring(L, part_idx);
	node = node_idx && !lua_isnil(L, node_idx) ? lua_tostring(L, node_idx)
	                                           : (r->node[0] ? r->node : tree_name(r));
	evidence = arg_json(L, ev_idx, "fault() evidence");
	/* No part to replace (the catalogue's part is null): "part": null and the reason beside it
	 * in "part_note" (CONTRACTS 1), never a part named "none". */
	f = json_pack("{s:s, s:s?, s:o, s:s, s:o, s:s, s:s}", "code", code, "severity",
	              json_string_value(json_object_get(entry, "severity")), "part",
	              part ? sandbox_json_string(part, strlen(part), 512) : json_null(), "title",
	              lang_text(json_object_get(entry, "title"), r->c->lang), "evidence", evidence, "tree",
	              tree_name(r), "node", node);
	if (f == NULL || !json_is_string(json_object_get(f, "severity"))) {
		json_decref(f);
		return luaL_error(L, "fault %s: the catalogue entry lacks a severity", code);
	}
	if (part == NULL && json_is_string(json_object_get(entry, "part_note")))
		json_object_set(f, "part_note", json_object_get(entry, "part_note"));
	json_array_append_new(r->c->res->faults, f);
	return 0;
}

static int
valid_key(const char *k)
{
	size_t n = 0;
	for (; k[n]; n++)
		if (!(isalnum((unsigned char)k[n]) || k[n] == '_' || k[n] == '-' || k[n] == '.'))
			return 0;
	return n > 0 && n <= 64;
}

/* Check that a text table has en, it, fr and zh; returns the json object or raises. */
static json_t *
four_languages(lua_State *L, int idx, const char *what, const char *key)
{
	static const char *const langs[] = {"en", "it", "fr", "zh"};
	json_t *text = arg_json(L, idx, what);

	for (size_t i = 0; i < 4; i++) {
		const char *t = json_string_value(json_object_get(text, langs[i]));
		if (t == NULL || *t == '\0') {
			json_decref(text);
			luaL_error(L, "%s %s: text needs en, it, fr and zh (%s is missing)", what, key,
			           langs[i]);
			return NULL; /* not reached: luaL_error does not return */
		}
	}
	return text;
}

/* ask{key=..., text={en=..., it=..., fr=..., zh=...}, choices={...}} -> answer or nil */
static int
api_ask(lua_State *L)
{
	struct run *r = run_of(L);
	const struct engine_opts *o = r->c->opts;
	const char *key, *given = NULL, *chosen = NULL;
	json_t *text, *choices, *q;
	char node[128];

	need_decl(L, r);
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "key");
	key = lua_tostring(L, -1);
	if (lua_type(L, -1) != LUA_TSTRING || !valid_key(key))
		return luaL_error(L, "ask{}: key = \"...\" is required (letters, digits, - _ .)");
	lua_getfield(L, 1, "text");
	if (lua_type(L, -1) != LUA_TTABLE)
		return luaL_error(
		    L, "ask{}: text = {en=\"...\", it=\"...\", fr=\"...\", zh=\"...\"} is required");
	text = four_languages(L, lua_gettop(L), "ask{}", key);
	lua_getfield(L, 1, "choices");
	if (lua_isnil(L, -1)) {
		choices = json_pack("[s,s]", "yes", "no");
	} else {
		choices = lua_type(L, -1) == LUA_TTABLE ? arg_json(L, lua_gettop(L), "ask{} choices") : NULL;
		if (!json_is_array(choices) || json_array_size(choices) < 2) {
			json_decref(choices);
			json_decref(text);
			return luaL_error(L,
			                  "ask{}: choices = {\"a\", \"b\", ...} needs two or more strings");
		}
		for (size_t i = 0; i < json_array_size(choices); i++)
			if (!json_is_string(json_array_get(choices, i))) {
				json_decref(choices);
				json_decref(text);
				return luaL_error(L, "ask{}: every choice must be a string");
			}
	}
	for (size_t i = 0; o != NULL && i < o->nanswers; i++)
		if (o->answers[i].key && o->answers[i].value && strcmp(o->answers[i].key, key) == 0)
			given = o->answers[i].value; /* the last one wins */
	for (size_t i = 0; given != NULL && i < json_array_size(choices); i++) {
		const char *c = json_string_value(json_array_get(choices, i));
		if (strcasecmp(c, given) == 0)
			chosen = c;
	}
	snprintf(node, sizeof(node), "ask:%s", key);
	if (chosen != NULL) {
		trace_add(r, node, json_string(chosen),
		          json_pack("{s:s}", "question", json_string_value(json_object_get(text, "en"))));
		lua_pushstring(L, chosen);
		json_decref(text);
		json_decref(choices);
		return 1;
	}
	{
		size_t i;
		json_t *old;
		int dup = 0;
		json_array_foreach(r->c->res->questions, i, old)
		{
			if (strcmp(json_string_value(json_object_get(old, "key")), key) == 0)
				dup = 1; /* asked again (another panic, another tree): listed once */
		}
		if (!dup) {
			/* text in the run's language; texts in every language, so the report renders
			 * the question in any of them later (DESIGN 4.8) */
			q = json_pack("{s:s, s:s, s:s, s:O, s:O}", "key", key, "tree", tree_name(r), "text",
			              lang_text(text, r->c->lang), "texts", text, "choices", choices);
			if (given != NULL)
				json_object_set_new(q, "invalid_answer",
				                    sandbox_json_string(given, strlen(given), 256));
			json_array_append_new(r->c->res->questions, q);
		}
	}
	trace_add(r, node, json_string(given ? "invalid answer" : "unanswered"),
	          json_pack("{s:s}", "question", json_string_value(json_object_get(text, "en"))));
	json_decref(text);
	json_decref(choices);
	lua_pushnil(L);
	return 1;
}

/*
 * incomplete(reason) or incomplete{key=..., text={en=..., it=..., fr=..., zh=...}, detail=...}:
 * the diagnosis cannot be finished (device locked, probe failed, ...). The table form records
 * the reason in every language (texts) so a report renders it in any of them later; detail is
 * data shown as it is after the text (a driver's message, a mode name).
 */
static int
api_incomplete(lua_State *L)
{
	struct run *r = run_of(L);
	json_t *entry;
	size_t len;
	const char *why;

	need_decl(L, r);
	if (lua_type(L, 1) == LUA_TTABLE) {
		const char *key, *detail = NULL;
		size_t dlen = 0;
		json_t *text;
		lua_getfield(L, 1, "key");
		key = lua_tostring(L, -1);
		if (lua_type(L, -1) != LUA_TSTRING || !valid_key(key))
			return luaL_error(L,
			                  "incomplete{}: key = \"...\" is required (letters, digits, - _ .)");
		lua_getfield(L, 1, "text");
		if (lua_type(L, -1) != LUA_TTABLE)
			return luaL_error(L,
			                  "incomplete{} %s: text = {en=\"...\", it=\"...\", fr=\"...\", "
			                  "zh=\"...\"} is required",
			                  key);
		text = four_languages(L, lua_gettop(L), "incomplete{}", key);
		lua_getfield(L, 1, "detail");
		if (!lua_isnil(L, -1)) {
			if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
				json_decref(text);
				return luaL_error(L, "incomplete{} %s: detail must be a string", key);
			}
			detail = lua_tolstring(L, -1, &dlen);
		}
		why = json_string_value(json_object_get(text, "en"));
		entry = json_pack("{s:s, s:s, s:s, s:o}", "tree", tree_name(r), "key", key, "reason", why,
		                  "texts", text);
		if (detail != NULL) {
			json_t *d = sandbox_json_string(detail, dlen, 1024);
			json_object_set_new(entry, "detail", d);
			json_object_set_new(entry, "reason",
			                    json_sprintf("%s: %s", why, json_string_value(d)));
		}
		json_array_append_new(r->c->res->incomplete, entry);
		trace_add(r, r->node[0] ? r->node : tree_name(r), json_string("incomplete"),
		          json_pack("{s:s, s:O}", "key", key, "reason", json_object_get(entry, "reason")));
		return 0;
	}
	why = luaL_checklstring(L, 1, &len);
	json_array_append_new(r->c->res->incomplete, json_pack("{s:s, s:o}", "tree", tree_name(r), "reason",
	                                                       sandbox_json_string(why, len, 1024)));
	trace_add(r, r->node[0] ? r->node : tree_name(r), json_string("incomplete"),
	          json_pack("{s:o}", "reason", sandbox_json_string(why, len, 1024)));
	return 0;
}

/* The readings the report copies from the snapshot (reports/report.c readings_of). */
static const char *const snapshot_readings[] = {"captured_at", "probes", "battery", "storage",
                                                "crashes",     "syslog", "errors",  NULL};

int
engine_reading_reserved(const char *name)
{
	for (size_t i = 0; snapshot_readings[i]; i++)
		if (strcmp(name, snapshot_readings[i]) == 0)
			return 1;
	return 0;
}

static int
valid_reading_name(const char *s)
{
	size_t n = 0;
	if (!(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return 0;
	return n <= 64;
}

/*
 * reading(name, value): a derived reading (a forecast, a figure worked out from the snapshot and
 * the history) for the report's readings. The name is lower case, digits and _; never one of the
 * snapshot's readings (battery, storage, ...), and given once per run, whichever tree gives it.
 */
static int
api_reading(lua_State *L)
{
	struct run *r = run_of(L);
	const char *name;
	const char *owner;
	char why[160] = "";
	json_t *v;

	need_decl(L, r);
	if (lua_type(L, 1) != LUA_TSTRING || !valid_reading_name(lua_tostring(L, 1)))
		return luaL_error(L, "reading(name, value): name must be 1-64 of a-z, 0-9 and _, "
		                     "starting with a letter");
	name = lua_tostring(L, 1);
	if (engine_reading_reserved(name))
		return luaL_error(L,
		                  "reading(): '%s' is one of the snapshot's readings and is never "
		                  "overwritten: choose another name",
		                  name);
	owner = json_string_value(json_object_get(r->c->reading_tree, name));
	if (owner != NULL)
		return luaL_error(L, "reading(): '%s' was already given by the %s tree", name, owner);
	if (json_object_size(r->c->res->readings) >= ENGINE_MAX_READINGS)
		return luaL_error(L, "reading(): more than %d readings", ENGINE_MAX_READINGS);
	if (lua_isnoneornil(L, 2))
		return luaL_error(L, "reading(%s, value): the value is nil", name);
	v = sandbox_to_json(L, 2, why, sizeof(why));
	if (v == NULL)
		return luaL_error(L, "reading(%s, value): %s", name, why);
	json_object_set_new(r->c->res->readings, name, v);
	json_object_set_new(r->c->reading_tree, name, json_string(tree_name(r)));
	return 0;
}

static unsigned long
hexval(const char *s)
{
	if (s == NULL)
		return (unsigned long)-1;
	return strtoul(s, NULL, 16);
}

/* model() -> entry, product_type  (from device.product_type, else USB CPID/BDID) */
static int
api_model(lua_State *L)
{
	struct run *r = run_of(L);
	const json_t *dev = json_object_get(r->c->snapshot, "device"), *models = r->c->data->models, *m;
	const char *pt = json_string_value(json_object_get(dev, "product_type"));
	const json_t *usb = json_object_get(dev, "usb");
	const char *cpid = json_string_value(json_object_get(usb, "cpid"));
	const char *bdid = json_string_value(json_object_get(usb, "bdid"));
	const char *k;
	json_t *v;

	if (pt != NULL && (m = json_object_get(models, pt)) != NULL) {
		sandbox_push_json(L, m);
		lua_pushstring(L, pt);
		return 2;
	}
	if (cpid != NULL && bdid != NULL) {
		const char *best = NULL;
		json_object_foreach((json_t *)models, k, v)
		{
			if (hexval(json_string_value(json_object_get(v, "cpid"))) == hexval(cpid) &&
			    hexval(json_string_value(json_object_get(v, "bdid"))) == hexval(bdid) &&
			    (best == NULL || strcmp(k, best) < 0))
				best = k;
		}
		if (best != NULL) {
			sandbox_push_json(L, json_object_get(models, best));
			lua_pushstring(L, best);
			return 2;
		}
	}
	lua_pushnil(L);
	return 1;
}

static int
time_arg(lua_State *L, int idx, time_t *t)
{
	return lua_type(L, idx) == LUA_TSTRING && engine_parse_time(lua_tostring(L, idx), t) == 0;
}

/* days_between(a, b) = (b - a) in days, or nil when either is not a timestamp. */
static int
api_days_between(lua_State *L)
{
	time_t a, b;
	if (!time_arg(L, 1, &a) || !time_arg(L, 2, &b)) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushnumber(L, (double)(b - a) / 86400.0);
	return 1;
}

/* age_days(ts) = days from ts to snapshot.captured_at (positive: before), or nil. */
static int
api_age_days(lua_State *L)
{
	struct run *r = run_of(L);
	time_t t;
	if (!r->c->have_captured || !time_arg(L, 1, &t)) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushnumber(L, (double)(r->c->captured - t) / 86400.0);
	return 1;
}

/* probe_failed(name) -> the reason from snapshot.errors, or nil */
static int
api_probe_failed(lua_State *L)
{
	struct run *r = run_of(L);
	const char *name = luaL_checkstring(L, 1);
	const json_t *errs = json_object_get(r->c->snapshot, "errors"), *e;
	size_t i;

	json_array_foreach(errs, i, e)
	{
		const char *p = json_string_value(json_object_get(e, "probe"));
		if (p != NULL && strcmp(p, name) == 0) {
			const char *why = json_string_value(json_object_get(e, "reason"));
			lua_pushstring(L, why ? why : "failed");
			return 1;
		}
	}
	lua_pushnil(L);
	return 1;
}

/* Helpers written in Lua: they only use the API above and count against the tree's limits. */
static const char prelude[] =
    "local node, fault, type, error, pairs, tostring, mtype = node, fault, type, error, pairs, "
    "tostring, math.type\n"
    "local lower, find, fmt, floor, sub = string.lower, string.find, string.format, math.floor, string.sub\n"
    "local function num(x)\n"
    "  if mtype(x) == 'float' and x == floor(x) and x > -1e15 and x < 1e15 then return fmt('%d', x) end\n"
    "  return tostring(x)\n"
    "end\n"
    "function lines(text, max_lines, max_len)\n"
    "  local out = {}\n"
    "  if type(text) ~= 'string' then return out end\n"
    "  max_lines, max_len = max_lines or 400, max_len or 1024\n"
    "  local pos, n = 1, #text\n"
    "  while pos <= n and #out < max_lines do\n"
    "    local e = find(text, '\\n', pos, true)\n"
    "    local stop = e and e - 1 or n\n"
    "    if stop - pos + 1 > max_len then stop = pos + max_len - 1 end\n"
    "    out[#out + 1] = sub(text, pos, stop)\n"
    "    pos = (e or n) + 1\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "function contains(s, needle)\n"
    "  if type(s) ~= 'string' or type(needle) ~= 'string' then return false end\n"
    "  return find(lower(s), lower(needle), 1, true) ~= nil\n"
    "end\n"
    "function check(c)\n"
    "  if type(c) ~= 'table' then error('check{} takes a table: check{node=..., value=..., "
    "below=..., fault=...}', 2) end\n"
    "  if type(c.node) ~= 'string' then error('check{}: node = \"name\" is required', 2) end\n"
    "  local label, v, values, rule, hit = c.name or c.node, c.value, {}, nil, nil\n"
    "  if c.values ~= nil and type(c.values) ~= 'table' then error('check{}: values must be a table', 2) "
    "end\n"
    "  for k, x in pairs(c.values or {}) do values[k] = x end\n"
    "  local isnum = type(v) == 'number'\n"
    "  if c.below ~= nil then rule = label .. ' < ' .. num(c.below); hit = isnum and v < c.below\n"
    "  elseif c.above ~= nil then rule = label .. ' > ' .. num(c.above); hit = isnum and v > c.above\n"
    "  elseif c.at_least ~= nil then rule = label .. ' >= ' .. num(c.at_least); hit = isnum and v >= "
    "c.at_least\n"
    "  elseif c.at_most ~= nil then rule = label .. ' <= ' .. num(c.at_most); hit = isnum and v <= "
    "c.at_most\n"
    "  elseif c.outside ~= nil then\n"
    "    local lo, hi = c.outside[1], c.outside[2]\n"
    "    if type(lo) ~= 'number' or type(hi) ~= 'number' then error('check{}: outside = {low, high}', 2) "
    "end\n"
    "    rule = label .. ' outside ' .. num(lo) .. '..' .. num(hi); hit = isnum and (v < lo or v > hi)\n"
    "  elseif c.equals ~= nil then rule = label .. ' = ' .. tostring(c.equals); hit = v == c.equals\n"
    "  elseif c.is_true ~= nil then rule = c.is_true; hit = v == true\n"
    "  else error('check{}: give one of below, above, at_least, at_most, outside, equals, is_true', 2) end\n"
    "  if v ~= nil and c.equals == nil and c.is_true == nil and not isnum then\n"
    "    error('check{}: value of ' .. c.node .. ' is a ' .. type(v) .. ', not a number', 2) end\n"
    "  local threshold = c.below or c.above or c.at_least or c.at_most or c.outside\n"
    "  values[label] = v; values.rule = rule; values.threshold = threshold\n"
    "  if v == nil then node(c.node, values, 'unknown'); return nil end\n"
    "  node(c.node, values, hit and 'fault' or 'ok')\n"
    "  if hit and c.fault ~= nil then\n"
    "    local ev = {}\n"
    "    for k, x in pairs(c.evidence or {}) do ev[k] = x end\n"
    "    ev[label] = v; ev.rule = rule; ev.threshold = threshold\n"
    "    fault(c.fault, ev, c.part)\n"
    "  end\n"
    "  return hit\n"
    "end\n";

static void
reg(struct sandbox *sb, struct run *r, const char *name, lua_CFunction fn)
{
	lua_State *L = sandbox_state(sb);
	lua_pushlightuserdata(L, r);
	lua_pushcclosure(L, fn, 1);
	sandbox_setglobal(sb, name);
}

static void
tree_error(struct run *r, const char *reason)
{
	json_array_append_new(r->c->res->errors,
	                      json_pack("{s:s, s:o}", "tree", tree_name(r), "reason",
	                                sandbox_json_string(reason, strlen(reason), 1024)));
	trace_add(r, "error", json_string("error"),
	          json_pack("{s:o}", "reason", sandbox_json_string(reason, strlen(reason), 1024)));
}

static void
describe_error(struct sandbox *sb, int status, char *err, size_t errlen)
{
	lua_State *L = sandbox_state(sb);
	if (status == LUA_ERRMEM) {
		snprintf(err, errlen, "stopped: the tree used more than %zu MiB of memory",
		         sandbox_mem_limit(sb) / (1024 * 1024));
	} else if (lua_type(L, -1) == LUA_TSTRING) {
		snprintf(err, errlen, "%s", lua_tostring(L, -1));
	} else {
		snprintf(err, errlen, "the tree raised an error that is not a message (%s)",
		         lua_typename(L, lua_type(L, -1)));
	}
}

/*
 * Load and run one tree file. declare_only stops at tree{} (list, probes). Returns 0 when it ran
 * (or declared) cleanly, -1 with a reason in err; *decl gets the declaration when one was made.
 */
int
engine_run_file(struct engine_ctx *c, const char *dir, const char *file, int declare_only, json_t **decl,
                int *decl_line, char *sha, char *err, size_t errlen)
{
	struct run r = {.c = c, .file = file, .declare_only = declare_only};
	struct sandbox *sb;
	lua_State *L;
	char *path = xasprintf("%s/%s", dir, file), *text = NULL, chunk[300];
	size_t len;
	int status, ret = -1;

	if (decl)
		*decl = NULL;
	err[0] = '\0';
	snprintf(r.stem, sizeof(r.stem), "%.*s", (int)(strlen(file) > 4 ? strlen(file) - 4 : strlen(file)),
	         file);
	if (util_read_file(path, MAX_TREE_FILE, &text, &len) != 0) {
		snprintf(err, errlen, "%s: %s", path,
		         errno == EFBIG ? "larger than 256 KiB" : strerror(errno));
		free(path);
		return -1;
	}
	if (sha)
		if (hash_sha256_hex(text, len, sha) < 0)
			fatalx("engine: sha256 failed");
	sb = sandbox_new(c->opts ? c->opts->mem_limit : 0, c->opts ? c->opts->instr_limit : 0);
	if (sb == NULL)
		fatalx("engine: cannot create a Lua state");
	L = sandbox_state(sb);
	sandbox_push_json(L, c->snapshot);
	sandbox_setglobal(sb, "snapshot");
	sandbox_push_json(L, c->history);
	sandbox_setglobal(sb, "history");
	sandbox_push_json(L, c->data->models);
	sandbox_setglobal(sb, "models");
	reg(sb, &r, "tree", api_tree);
	reg(sb, &r, "node", api_node);
	reg(sb, &r, "fault", api_fault);
	reg(sb, &r, "ask", api_ask);
	reg(sb, &r, "incomplete", api_incomplete);
	reg(sb, &r, "reading", api_reading);
	reg(sb, &r, "model", api_model);
	reg(sb, &r, "days_between", api_days_between);
	reg(sb, &r, "age_days", api_age_days);
	reg(sb, &r, "probe_failed", api_probe_failed);
	if (luaL_loadbufferx(L, prelude, sizeof(prelude) - 1, "=engine", "t") != LUA_OK ||
	    lua_pcall(L, 0, 0, 0) != LUA_OK)
		fatalx("engine: prelude: %s", lua_tostring(L, -1));
	sandbox_lock_globals(sb);
	snprintf(chunk, sizeof(chunk), "@%s", file);
	status = luaL_loadbufferx(L, text, len, chunk, "t");
	if (status == LUA_OK)
		status = lua_pcall(L, 0, 0, 0);
	if (status == LUA_OK || (status == LUA_ERRRUN && lua_touserdata(L, -1) == &declared_sentinel)) {
		ret = 0;
		if (r.decl == NULL) {
			snprintf(err, errlen,
			         "%s: the tree never calls tree{ name=..., version=..., probes=... }", file);
			ret = -1;
		}
	} else {
		describe_error(sb, status, err, errlen);
	}
	if (ret == 0 && r.decl != NULL) {
		char stem[128];
		snprintf(stem, sizeof(stem), "%.*s", (int)(strlen(file) - 4), file);
		if (strcmp(stem, json_string_value(json_object_get(r.decl, "name"))) != 0) {
			snprintf(err, errlen, "%s:%d: tree{} name '%s' must match the file name '%s'", file,
			         r.decl_line, json_string_value(json_object_get(r.decl, "name")), stem);
			ret = -1;
		}
	}
	if (ret != 0 && !declare_only)
		tree_error(&r, err);
	if (decl_line)
		*decl_line = r.decl_line;
	if (decl)
		*decl = r.decl;
	else
		json_decref(r.decl);
	sandbox_free(sb);
	free(text);
	free(path);
	return ret;
}

struct engine_ctx *
engine_ctx_new(const json_t *snapshot, const struct engine_data *data, const struct engine_opts *opts,
               struct engine_result *res)
{
	struct engine_ctx *c = xcalloc(1, sizeof(*c));
	const char *cap = json_string_value(json_object_get(snapshot, "captured_at"));

	c->snapshot = snapshot;
	c->empty_history = json_array();
	c->history = opts && opts->history ? opts->history : c->empty_history;
	c->reading_tree = json_object();
	c->data = data;
	c->opts = opts;
	c->lang = opts && opts->lang ? opts->lang : "en";
	c->res = res;
	if (cap != NULL && engine_parse_time(cap, &c->captured) == 0)
		c->have_captured = 1;
	return c;
}

void
engine_ctx_free(struct engine_ctx *c)
{
	if (c == NULL)
		return;
	json_decref(c->empty_history);
	json_decref(c->reading_tree);
	free(c);
}

static struct engine_result *
result_new(void)
{
	struct engine_result *r = xcalloc(1, sizeof(*r));
	r->faults = json_array();
	r->trace = json_array();
	r->trees = json_array();
	r->questions = json_array();
	r->errors = json_array();
	r->incomplete = json_array();
	r->readings = json_object();
	util_strlcpy(r->outcome, "incomplete", sizeof(r->outcome));
	return r;
}

void
engine_result_free(struct engine_result *r)
{
	if (r == NULL)
		return;
	json_decref(r->faults);
	json_decref(r->trace);
	json_decref(r->trees);
	json_decref(r->questions);
	json_decref(r->errors);
	json_decref(r->incomplete);
	json_decref(r->readings);
	free(r);
}

static void
set_outcome(struct engine_result *r)
{
	size_t i;
	json_t *f;
	const char *o = "pass";

	json_array_foreach(r->faults, i, f)
	{
		const char *sev = json_string_value(json_object_get(f, "severity"));
		if (sev != NULL && strcmp(sev, "info") != 0)
			o = "fail";
	}
	if (json_array_size(r->questions) || json_array_size(r->errors) || json_array_size(r->incomplete))
		o = "incomplete";
	util_strlcpy(r->outcome, o, sizeof(r->outcome));
}

int
engine_check_snapshot(const json_t *snapshot, char *why, size_t whylen)
{
	const char *schema;
	if (!json_is_object(snapshot)) {
		snprintf(why, whylen, "the snapshot is not a JSON object");
		return ENGINE_E_SNAPSHOT;
	}
	schema = json_string_value(json_object_get(snapshot, "schema"));
	if (schema == NULL || strcmp(schema, "benchd.snapshot/1") != 0) {
		snprintf(why, whylen, "the snapshot's schema is %s%s%s, not \"benchd.snapshot/1\"",
		         schema ? "\"" : "", schema ? schema : "missing", schema ? "\"" : "");
		return ENGINE_E_SNAPSHOT;
	}
	return ENGINE_OK;
}

int
engine_check_history(const json_t *history, char *why, size_t whylen)
{
	size_t i;
	json_t *row;

	if (history == NULL)
		return ENGINE_OK;
	if (!json_is_array(history)) {
		snprintf(why, whylen, "the history is not a JSON array of readings");
		return ENGINE_E_HISTORY;
	}
	if (json_array_size(history) > ENGINE_MAX_HISTORY) {
		snprintf(why, whylen, "the history has %zu readings, more than the %d it may have",
		         json_array_size(history), ENGINE_MAX_HISTORY);
		return ENGINE_E_HISTORY;
	}
	json_array_foreach(history, i, row)
	{
		if (!json_is_object(row)) {
			snprintf(why, whylen,
			         "history reading %zu is not an object {at, battery_serial, cycle_count, "
			         "health_pct, ...}",
			         i + 1);
			return ENGINE_E_HISTORY;
		}
	}
	return ENGINE_OK;
}

/* The tree files to run: all, or the named ones (each must exist), sorted. */
static int
select_trees(const char *dir, const struct engine_opts *opts, char ***files, size_t *n, char *why,
             size_t whylen)
{
	char **all;
	size_t nall;
	int r;

	if ((r = engine_tree_files(dir, &all, &nall, why, whylen)) != ENGINE_OK)
		return r;
	if (nall == 0) {
		/* Never a "pass" from a directory that holds no trees at all. */
		snprintf(why, whylen, "no diagnostic trees (*.lua) in %s", dir);
		engine_free_list(all, nall);
		return ENGINE_E_TREES;
	}
	if (opts == NULL || opts->trees == NULL || opts->ntrees == 0) {
		*files = all;
		*n = nall;
		return ENGINE_OK;
	}
	{
		char **sel = xcalloc(nall + 1, sizeof(char *));
		size_t k = 0;
		for (size_t i = 0; i < opts->ntrees; i++) {
			char want[80];
			int found = 0;
			if (opts->trees[i] == NULL || !engine_valid_name(opts->trees[i])) {
				snprintf(why, whylen, "'%s' is not a tree name (see benchctl trees list)",
				         opts->trees[i] ? opts->trees[i] : "");
				engine_free_list(sel, k);
				engine_free_list(all, nall);
				return ENGINE_E_TREES;
			}
			snprintf(want, sizeof(want), "%s.lua", opts->trees[i]);
			for (size_t j = 0; j < nall; j++)
				if (strcmp(all[j], want) == 0)
					found = 1;
			if (!found) {
				snprintf(why, whylen, "no tree named '%s' in %s (see benchctl trees list)",
				         opts->trees[i], dir);
				engine_free_list(sel, k);
				engine_free_list(all, nall);
				return ENGINE_E_TREES;
			}
		}
		for (size_t j = 0; j < nall; j++) {
			for (size_t i = 0; i < opts->ntrees; i++) {
				char want[80];
				snprintf(want, sizeof(want), "%s.lua", opts->trees[i]);
				if (strcmp(all[j], want) == 0) {
					sel[k++] = xstrdup(all[j]);
					break;
				}
			}
		}
		engine_free_list(all, nall);
		*files = sel;
		*n = k;
	}
	return ENGINE_OK;
}

int
engine_run(const json_t *snapshot, const struct engine_opts *opts, struct engine_result **out, char *why,
           size_t whylen)
{
	const char *dir = opts && opts->trees_dir ? opts->trees_dir : engine_default_trees_dir();
	const char *ddir = opts && opts->data_dir ? opts->data_dir : dir;
	struct engine_data data;
	struct engine_result *res;
	struct engine_ctx *c;
	char **files;
	size_t nfiles;
	int r;

	*out = NULL;
	if ((r = engine_check_snapshot(snapshot, why, whylen)) != ENGINE_OK)
		return r;
	if ((r = engine_check_history(opts ? opts->history : NULL, why, whylen)) != ENGINE_OK)
		return r;
	if ((r = engine_data_load(ddir, &data, why, whylen)) != ENGINE_OK)
		return r;
	if ((r = select_trees(dir, opts, &files, &nfiles, why, whylen)) != ENGINE_OK) {
		engine_data_free(&data);
		return r;
	}
	res = result_new();
	c = engine_ctx_new(snapshot, &data, opts, res);
	for (size_t i = 0; i < nfiles; i++) {
		char err[1024], sha[65] = "";
		json_t *decl = NULL;
		char stem[128];

		engine_run_file(c, dir, files[i], 0, &decl, NULL, sha, err, sizeof(err));
		snprintf(stem, sizeof(stem), "%.*s", (int)(strlen(files[i]) - 4), files[i]);
		json_array_append_new(
		    res->trees,
		    json_pack("{s:s, s:s, s:s}", "name",
		              decl ? json_string_value(json_object_get(decl, "name")) : stem, "version",
		              decl ? json_string_value(json_object_get(decl, "version")) : "", "sha256",
		              sha));
		json_decref(decl);
	}
	engine_ctx_free(c);
	engine_free_list(files, nfiles);
	engine_data_free(&data);
	set_outcome(res);
	*out = res;
	return ENGINE_OK;
}

int
engine_list(const char *trees_dir, json_t **trees, char *why, size_t whylen)
{
	const char *dir = trees_dir ? trees_dir : engine_default_trees_dir();
	struct engine_data data = {0};
	struct engine_result *res;
	struct engine_ctx *c;
	json_t *empty, *out;
	char **files;
	size_t n;
	int r;

	*trees = NULL;
	if ((r = engine_tree_files(dir, &files, &n, why, whylen)) != ENGINE_OK)
		return r;
	/* Declarations need no catalogue; an empty one keeps list working while it is broken. */
	data.codes = json_object();
	data.models = json_object();
	empty = json_pack("{s:s}", "schema", "benchd.snapshot/1");
	res = result_new();
	c = engine_ctx_new(empty, &data, NULL, res);
	out = json_array();
	for (size_t i = 0; i < n; i++) {
		char err[1024], sha[65] = "";
		json_t *decl = NULL, *e;
		int line = 0;
		if (engine_run_file(c, dir, files[i], 1, &decl, &line, sha, err, sizeof(err)) == 0) {
			e = json_deep_copy(decl);
		} else {
			e = json_object();
			json_object_set_new(e, "error", json_string(err));
		}
		json_object_set_new(e, "file", json_string(files[i]));
		json_object_set_new(e, "sha256", json_string(sha));
		json_array_append_new(out, e);
		json_decref(decl);
	}
	engine_ctx_free(c);
	engine_result_free(res);
	json_decref(empty);
	json_decref(data.codes);
	json_decref(data.models);
	engine_free_list(files, n);
	*trees = out;
	return ENGINE_OK;
}

int
engine_probes(const struct engine_opts *opts, json_t **probes, char *why, size_t whylen)
{
	const char *dir = opts && opts->trees_dir ? opts->trees_dir : engine_default_trees_dir();
	json_t *list, *t, *out = json_array();
	char **names = xcalloc(32, sizeof(char *));
	size_t nn = 0, i;
	int r;

	*probes = NULL;
	if ((r = engine_list(dir, &list, why, whylen)) != ENGINE_OK) {
		free(names);
		json_decref(out);
		return r;
	}
	json_array_foreach(list, i, t)
	{
		const char *file = json_string_value(json_object_get(t, "file"));
		int wanted = opts == NULL || opts->trees == NULL || opts->ntrees == 0;
		size_t j;
		json_t *p;
		for (size_t k = 0; !wanted && k < opts->ntrees; k++)
			if (opts->trees[k] && strncmp(file, opts->trees[k], strlen(opts->trees[k])) == 0 &&
			    strcmp(file + strlen(opts->trees[k]), ".lua") == 0)
				wanted = 1;
		if (!wanted)
			continue;
		json_array_foreach(json_object_get(t, "probes"), j, p)
		{
			size_t m;
			for (m = 0; m < nn; m++)
				if (strcmp(names[m], json_string_value(p)) == 0)
					break;
			if (m == nn && nn < 31)
				names[nn++] = xstrdup(json_string_value(p));
		}
	}
	qsort(names, nn, sizeof(char *), cmp_strp);
	for (i = 0; i < nn; i++)
		json_array_append_new(out, json_string(names[i]));
	engine_free_list(names, nn);
	json_decref(list);
	*probes = out;
	return ENGINE_OK;
}

char *
engine_result_dump(const struct engine_result *r)
{
	json_t *o = json_pack("{s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "outcome", r->outcome, "faults",
	                      r->faults, "trace", r->trace, "trees", r->trees, "questions", r->questions,
	                      "errors", r->errors, "incomplete", r->incomplete, "readings", r->readings);
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(o);
	if (s == NULL)
		fatalx("engine: cannot serialise a result");
	return s;
}
