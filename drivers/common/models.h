/*
 * models: the model table (diag-trees/models.json, owned by the engine area) as the drivers
 * read it: ProductType -> marketing name, and CPID+BDID -> ProductType for devices in
 * recovery/DFU mode. Read-only; the file is loaded once per models_load and bounded in size.
 * Ownership: models_load returns a table the caller frees with models_free.
 */
#ifndef BENCHD_MODELS_H
#define BENCHD_MODELS_H

#include <jansson.h>
#include <stddef.h>

struct models;

/* Load models.json from path (NULL: the default trees directory's models.json). NULL when the
 * file cannot be read or is not a models table; the reason (if why) says which. */
struct models *models_load(const char *path, char *why, size_t whylen);
void models_free(struct models *m);
/* The default path: $BENCHD_TREES_DIR/models.json, else <source>/diag-trees/models.json. */
const char *models_default_path(void);

/* Marketing name of a ProductType ("iPhone12,1" -> "iPhone 11"), NULL when unknown. */
const char *models_name(const struct models *m, const char *product_type);
/* ProductType whose cpid/bdid match, NULL when none. */
const char *models_by_chip(const struct models *m, unsigned cpid, unsigned bdid);

#endif
