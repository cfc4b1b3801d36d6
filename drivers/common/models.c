/* models: see models.h. */
#include "models.h"

#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODELS_MAX_BYTES (1024 * 1024)

struct models {
	json_t *root;   /* the whole document */
	json_t *models; /* root.models, borrowed */
};

const char *
models_default_path(void)
{
	static char path[4096];
	const char *dir = getenv("BENCHD_TREES_DIR");

	if (dir == NULL || *dir == '\0')
		dir = BENCHD_SOURCE_DIR "/diag-trees";
	snprintf(path, sizeof(path), "%s/models.json", dir);
	return path;
}

struct models *
models_load(const char *path, char *why, size_t whylen)
{
	struct models *m;
	json_error_t jerr;
	json_t *root, *models;
	char *data = NULL;
	size_t len = 0;

	if (path == NULL)
		path = models_default_path();
	if (util_read_file(path, MODELS_MAX_BYTES, &data, &len) != 0) {
		if (why)
			snprintf(why, whylen, "model table %s: %s", path, strerror(errno));
		return NULL;
	}
	root = json_loadb(data, len, 0, &jerr);
	free(data);
	if (root == NULL) {
		if (why)
			snprintf(why, whylen, "model table %s line %d: %s", path, jerr.line, jerr.text);
		return NULL;
	}
	models = json_object_get(root, "models");
	if (!json_is_object(models)) {
		if (why)
			snprintf(why, whylen, "model table %s: no \"models\" object", path);
		json_decref(root);
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	m->root = root;
	m->models = models;
	return m;
}

void
models_free(struct models *m)
{
	if (m == NULL)
		return;
	json_decref(m->root);
	free(m);
}

const char *
models_name(const struct models *m, const char *product_type)
{
	json_t *e;

	if (m == NULL || product_type == NULL)
		return NULL;
	e = json_object_get(m->models, product_type);
	return json_string_value(json_object_get(e, "name"));
}

/* "0x8030" or "8030" (hex) -> value; -1 when not hex. */
static long
hexval(const char *s)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 16);
	if (errno != 0 || *end != '\0' || v > 0xffffffffUL)
		return -1;
	return (long)v;
}

const char *
models_by_chip(const struct models *m, unsigned cpid, unsigned bdid)
{
	const char *key;
	json_t *e;

	if (m == NULL)
		return NULL;
	json_object_foreach(m->models, key, e)
	{
		long c = hexval(json_string_value(json_object_get(e, "cpid")));
		long b = hexval(json_string_value(json_object_get(e, "bdid")));
		if (c == (long)cpid && b == (long)bdid)
			return key;
	}
	return NULL;
}
