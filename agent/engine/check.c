/*
 * check: `benchctl trees check` (engine_check). Everything a tree author can get wrong before a
 * device is ever plugged in, each problem as {file, line, reason}:
 *   - a tree that does not load, does not declare itself first, or errs on a bare snapshot or
 *     on a hostile battery history (rows of the wrong types, from the future, absurd values);
 *   - a reading("name", ...) whose name is one of the snapshot's readings, or that two trees
 *     give;
 *   - a fault code written in a tree that the catalogue does not hold;
 *   - a catalogue without every DESIGN.md 4.5 code, or an entry without severity, part, or
 *     title / action / customer text in en, it, fr and zh;
 *   - a model table row without name, generation, cycle rating, or with a malformed
 *     sensor-array value;
 *   - a syslog rule that does not compile, or whose id no tree maps to a fault.
 */
#include "engine_int.h"

#include "sandbox.h"
#include "sigscan.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const required_codes[] = {"BAT-001", "BAT-002", "BAT-003", "BAT-004", "PAN-001",
                                             "PAN-010", "PAN-011", "PAN-012", "PAN-013", "PAN-020",
                                             "PAN-030", "PAN-040", "PAN-041", "PAN-042", "STO-001",
                                             "SYS-001", "SYS-002", "SYS-003", NULL};
static const char *const langs[] = {"en", "it", "fr", "zh", NULL};
static const char *const fields[] = {"title", "action", "customer", NULL};

static void problem(json_t *out, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
problem(json_t *out, const char *file, int line, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	size_t i;
	json_t *p;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_foreach(out, i, p)
	{
		if (strcmp(json_string_value(json_object_get(p, "file")), file) == 0 &&
		    json_integer_value(json_object_get(p, "line")) == line &&
		    strcmp(json_string_value(json_object_get(p, "reason")), buf) == 0)
			return; /* said once is enough */
	}
	json_array_append_new(out, json_pack("{s:s, s:i, s:o}", "file", file, "line", line, "reason",
	                                     sandbox_json_string(buf, strlen(buf), 1024)));
}

/* "battery.lua:12: message" -> line 12 and the message after it. */
static void
lua_problem(json_t *out, const char *file, const char *msg, const char *context)
{
	size_t fl = strlen(file);
	int line = 0;
	const char *rest = msg;

	if (strncmp(msg, file, fl) == 0 && msg[fl] == ':' && isdigit((unsigned char)msg[fl + 1])) {
		line = atoi(msg + fl + 1);
		rest = strchr(msg + fl + 1, ':');
		rest = rest ? rest + 1 : msg;
		while (*rest == ' ')
			rest++;
	}
	problem(out, file, line, "%s%s", context, rest);
}

/* The line of the first occurrence of needle in text (1-based), 0 if absent. (noinline: GCC 12's
 * -Wdangling-pointer misreads it once inlined into engine_check.) */
static __attribute__((noinline)) int
line_of(const char *text, const char *needle)
{
	const char *p = text ? strstr(text, needle) : NULL;
	int line = 1;
	if (p == NULL)
		return 0;
	for (const char *q = text; q < p; q++)
		if (*q == '\n')
			line++;
	return line;
}

static int
is_code(const char *p)
{
	return isupper((unsigned char)p[0]) && isupper((unsigned char)p[1]) && isupper((unsigned char)p[2]) &&
	       p[3] == '-' && isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5]) &&
	       isdigit((unsigned char)p[6]);
}

/*
 * reading("name", ...) in a tree's source: the name may not be one of the snapshot's readings,
 * and two trees may not give the same one (names: {name: file} of the trees seen so far).
 */
static void
check_readings_in_source(json_t *out, const char *file, const char *text, json_t *names)
{
	int line = 1;
	for (const char *p = text; *p; p++) {
		char name[80];
		size_t n = 0;
		const char *q;
		if (*p == '\n')
			line++;
		if (strncmp(p, "reading(", 8) != 0 ||
		    (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_')))
			continue;
		q = p + 8;
		while (*q == ' ')
			q++;
		if (*q != '"' && *q != '\'')
			continue;
		for (const char *e = q + 1; *e && *e != *q && n < sizeof(name) - 1; e++)
			name[n++] = *e;
		name[n] = '\0';
		if (engine_reading_reserved(name)) {
			problem(out, file, line,
			        "reading \"%s\" is one of the snapshot's readings: choose another name",
			        name);
		} else {
			const char *other = json_string_value(json_object_get(names, name));
			if (other != NULL && strcmp(other, file) != 0)
				problem(out, file, line,
				        "reading \"%s\" is also given by %s: one tree per reading", name,
				        other);
			else if (other == NULL && n > 0)
				json_object_set_new(names, name, json_string(file));
		}
	}
}

/* Every quoted "ABC-123" in a tree's source must be a catalogue code. */
static void
check_codes_in_source(json_t *out, const char *file, const char *text, const json_t *codes)
{
	int line = 1;
	for (const char *p = text; *p; p++) {
		if (*p == '\n')
			line++;
		if ((*p == '"' || *p == '\'') && strlen(p) >= 9 && is_code(p + 1) && p[8] == *p) {
			char code[8];
			memcpy(code, p + 1, 7);
			code[7] = '\0';
			if (json_object_get(codes, code) == NULL)
				problem(out, file, line, "fault code %s is not in catalogue.json", code);
		}
	}
}

static void
check_catalogue(json_t *out, const struct engine_data *d, const char *text)
{
	const char *code;
	json_t *e;

	for (int i = 0; required_codes[i]; i++)
		if (json_object_get(d->codes, required_codes[i]) == NULL)
			problem(out, "catalogue.json", 0, "%s (DESIGN.md 4.5) is missing", required_codes[i]);
	json_object_foreach(d->codes, code, e)
	{
		char quoted[32];
		int line;
		const char *sev, *part;
		snprintf(quoted, sizeof(quoted), "\"%s\"", code);
		line = line_of(text, quoted);
		if (strlen(code) != 7 || !is_code(code))
			problem(out, "catalogue.json", line, "'%s' is not a code like ABC-123", code);
		if (!json_is_object(e)) {
			problem(out, "catalogue.json", line, "%s is not an object", code);
			continue;
		}
		sev = json_string_value(json_object_get(e, "severity"));
		if (sev == NULL || (strcmp(sev, "critical") != 0 && strcmp(sev, "major") != 0 &&
		                    strcmp(sev, "minor") != 0 && strcmp(sev, "info") != 0))
			problem(out, "catalogue.json", line,
			        "%s: severity must be critical, major, minor or info", code);
		part = json_string_value(json_object_get(e, "part"));
		if (json_is_null(json_object_get(e, "part"))) {
			/* No part to replace: the reason must be there instead. */
			const char *note = json_string_value(json_object_get(e, "part_note"));
			if (note == NULL || *note == '\0')
				problem(out, "catalogue.json", line,
				        "%s: part is null but part_note (why there is no part to replace) is "
				        "missing",
				        code);
		} else if (part == NULL || *part == '\0') {
			problem(out, "catalogue.json", line,
			        "%s: part is missing (a part name, or null with part_note)", code);
		} else if (strncmp(part, "none", 4) == 0) {
			problem(out, "catalogue.json", line,
			        "%s: part '%s' names no part: write \"part\": null and the reason in "
			        "part_note",
			        code, part);
		}
		for (const char *const *f = fields; *f; f++) {
			const json_t *t = json_object_get(e, *f);
			for (int l = 0; langs[l]; l++) {
				const char *s = json_string_value(json_object_get(t, langs[l]));
				if (s == NULL || *s == '\0')
					problem(out, "catalogue.json", line, "%s: %s has no %s text", code,
					        *f, langs[l]);
			}
		}
	}
}

static int
hex_ok(const char *s)
{
	if (s == NULL || strncmp(s, "0x", 2) != 0 || s[2] == '\0' || strlen(s) > 18)
		return 0;
	for (const char *p = s + 2; *p; p++)
		if (!isxdigit((unsigned char)*p))
			return 0;
	return 1;
}

static void
check_models(json_t *out, const struct engine_data *d, const char *text)
{
	const char *pt;
	json_t *m;

	json_object_foreach(d->models, pt, m)
	{
		char quoted[80];
		int line;
		size_t i;
		json_t *e;
		snprintf(quoted, sizeof(quoted), "\"%s\"", pt);
		line = line_of(text, quoted);
		if (!json_is_string(json_object_get(m, "name")))
			problem(out, "models.json", line, "%s: name is missing", pt);
		if (!json_is_integer(json_object_get(m, "generation")))
			problem(out, "models.json", line, "%s: generation must be a number", pt);
		if (json_integer_value(json_object_get(m, "battery_cycle_rating")) <= 0)
			problem(out, "models.json", line,
			        "%s: battery_cycle_rating must be a positive number", pt);
		if (!hex_ok(json_string_value(json_object_get(m, "cpid"))) ||
		    !hex_ok(json_string_value(json_object_get(m, "bdid"))))
			problem(out, "models.json", line,
			        "%s: cpid and bdid must be hex strings like \"0x8030\"", pt);
		/* every row says where its facts come from (issue 13): a model table nobody can
		 * trace is a table nobody can correct */
		if (!json_is_string(json_object_get(m, "source")) ||
		    json_string_length(json_object_get(m, "source")) == 0)
			problem(out, "models.json", line,
			        "%s: source is missing (name where the row's facts come from)", pt);
		json_array_foreach(json_object_get(m, "smc_sensor_array"), i, e)
		{
			if (!hex_ok(json_string_value(json_object_get(e, "value"))) ||
			    !json_is_string(json_object_get(e, "part")))
				problem(out, "models.json", line,
				        "%s: smc_sensor_array entry %zu needs value \"0x...\" and part", pt,
				        i + 1);
		}
	}
}

static char *
read_text(const char *dir, const char *file)
{
	char *p = xasprintf("%s/%s", dir, file), *data = NULL;
	size_t len;
	if (util_read_file(p, 4 * 1024 * 1024, &data, &len) != 0)
		data = NULL;
	free(p);
	return data;
}

int
engine_check(const char *trees_dir, const char *data_dir, json_t **problems)
{
	const char *dir = trees_dir ? trees_dir : engine_default_trees_dir();
	const char *ddir = data_dir ? data_dir : dir;
	json_t *out = json_array();
	struct engine_data data;
	char why[1024] = "", **files = NULL;
	char **sources;
	size_t nfiles = 0;
	int have_data;
	json_t *reading_names = json_object();
	/* A history no bench would store: every tree must survive it (DESIGN 4.9 rows). */
	json_t *hostile =
	    json_loads("[{}, 7, {\"at\":\"yesterday\",\"cycle_count\":-5,\"health_pct\":\"x\"},"
	               "{\"at\":\"2025-06-01T00:00:00Z\",\"battery_serial\":7,\"cycle_count\":1e300,"
	               "\"health_pct\":1000,\"nominal_capacity_mah\":null},"
	               "{\"at\":\"2025-07-01T00:00:00Z\",\"battery_serial\":\"B1\",\"cycle_count\":100,"
	               "\"health_pct\":99},"
	               "{\"at\":\"2025-09-01T00:00:00Z\",\"battery_serial\":\"B1\",\"cycle_count\":150,"
	               "\"health_pct\":97.5},"
	               "{\"at\":\"2025-10-01T00:00:00Z\",\"battery_serial\":\"B1\",\"cycle_count\":140,"
	               "\"health_pct\":99},"
	               "{\"at\":\"2025-12-01T00:00:00Z\",\"battery_serial\":\"B1\",\"cycle_count\":200,"
	               "\"health_pct\":150},"
	               "{\"at\":\"2027-01-01T00:00:00Z\",\"battery_serial\":\"B1\",\"cycle_count\":900,"
	               "\"health_pct\":60}]",
	               0, NULL);
	struct engine_opts hostile_opts = {.history = hostile};

	*problems = out;
	have_data = engine_data_load(ddir, &data, why, sizeof(why)) == ENGINE_OK;
	if (!have_data) {
		problem(out, strstr(why, "models.json") ? "models.json" : "catalogue.json", 0, "%s", why);
		data.codes = json_object();
		data.models = json_object();
		data.catalogue_doc = data.models_doc = NULL;
	} else {
		char *t = read_text(ddir, "catalogue.json");
		check_catalogue(out, &data, t);
		free(t);
		t = read_text(ddir, "models.json");
		check_models(out, &data, t);
		free(t);
	}
	if (engine_tree_files(dir, &files, &nfiles, why, sizeof(why)) != ENGINE_OK) {
		problem(out, ".", 0, "%s", why);
		goto done;
	}
	if (nfiles == 0)
		problem(out, ".", 0, "no trees (*.lua) in %s", dir);
	sources = xcalloc(nfiles + 1, sizeof(char *));
	for (size_t i = 0; i < nfiles; i++) {
		/* Declaration, then a run over bare snapshots: no tree may err on missing data. */
		static const char *const bare[] = {
		    "{\"schema\":\"benchd.snapshot/1\"}",
		    ("{\"schema\":\"benchd.snapshot/1\",\"captured_at\":\"2026-01-01T00:00:00Z\","
		     "\"device\":{\"mode\":\"normal\",\"lockdown\":\"ok\"},\"battery\":{},\"storage\":{},"
		     "\"crashes\":[{}],\"syslog\":{\"signatures\":[{}]}}"),
		    ("{\"schema\":\"benchd.snapshot/1\","
		     "\"device\":{\"mode\":\"dfu\",\"lockdown\":\"unavailable\"}}"),
		    ("{\"schema\":\"benchd.snapshot/1\",\"captured_at\":\"2026-01-01T00:00:00Z\","
		     "\"device\":{\"mode\":\"normal\",\"lockdown\":\"ok\"},\"battery\":{\"serial\":\"B1\","
		     "\"health_pct\":95,\"cycle_count\":250}}"),
		};
		struct engine_result *res = xcalloc(1, sizeof(*res));
		struct engine_ctx *c;
		json_t *decl = NULL, *snap;
		int line = 0;

		sources[i] = read_text(dir, files[i]);
		res->faults = json_array();
		res->trace = json_array();
		res->trees = json_array();
		res->questions = json_array();
		res->errors = json_array();
		res->incomplete = json_array();
		res->readings = json_object();
		snap = json_loads(bare[0], 0, NULL);
		c = engine_ctx_new(snap, &data, NULL, res);
		if (engine_run_file(c, dir, files[i], 1, &decl, &line, NULL, why, sizeof(why)) != 0) {
			lua_problem(out, files[i], why, "");
			engine_ctx_free(c);
			json_decref(snap);
			engine_result_free(res);
			json_decref(decl);
			continue;
		}
		json_decref(decl);
		engine_ctx_free(c);
		json_decref(snap);
		if (sources[i] != NULL) {
			check_codes_in_source(out, files[i], sources[i], data.codes);
			check_readings_in_source(out, files[i], sources[i], reading_names);
		}
		for (size_t b = 0; have_data && b < sizeof(bare) / sizeof(bare[0]); b++) {
			snap = json_loads(bare[b], 0, NULL);
			c = engine_ctx_new(snap, &data, NULL, res);
			if (engine_run_file(c, dir, files[i], 0, NULL, NULL, NULL, why, sizeof(why)) != 0)
				lua_problem(out, files[i], why, "fails on a snapshot with no readings: ");
			engine_ctx_free(c);
			c = engine_ctx_new(snap, &data, &hostile_opts, res);
			if (engine_run_file(c, dir, files[i], 0, NULL, NULL, NULL, why, sizeof(why)) != 0)
				lua_problem(out, files[i], why, "fails on a hostile battery history: ");
			engine_ctx_free(c);
			json_decref(snap);
		}
		engine_result_free(res);
	}
	/* Syslog rules: they compile, and every id is mapped by some tree. */
	{
		char *rp = xasprintf("%s/syslog-rules.txt", ddir);
		struct sigscan *s = NULL;
		if (sigscan_load(rp, &s, why, sizeof(why)) != SIGSCAN_OK) {
			const char *l = strstr(why, " line ");
			const char *msg = l ? strchr(l + 6, ':') : NULL;
			problem(out, "syslog-rules.txt", l ? atoi(l + 6) : 0, "%s", msg ? msg + 2 : why);
		} else {
			for (size_t k = 0; k < sigscan_count(s); k++) {
				char quoted[80];
				int mapped = 0;
				snprintf(quoted, sizeof(quoted), "\"%s\"", sigscan_id(s, k));
				for (size_t i = 0; i < nfiles && !mapped; i++)
					if (sources[i] && strstr(sources[i], quoted))
						mapped = 1;
				if (!mapped)
					problem(out, "syslog-rules.txt", sigscan_lineno(s, k),
					        "signature '%s' is not mapped to a fault by any tree "
					        "(syslog.lua MAP)",
					        sigscan_id(s, k));
			}
		}
		sigscan_free(s);
		free(rp);
	}
	engine_free_list(sources, nfiles);
done:
	json_decref(reading_names);
	json_decref(hostile);
	engine_free_list(files, nfiles);
	if (have_data) {
		engine_data_free(&data);
	} else {
		json_decref(data.codes);
		json_decref(data.models);
	}
	return (int)json_array_size(out);
}
