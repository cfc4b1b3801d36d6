/*
 * engine_int: what the engine's own files (engine.c, check.c, treetest.c) share. Not for use
 * outside agent/engine.
 */
#ifndef BENCHD_ENGINE_INT_H
#define BENCHD_ENGINE_INT_H

#include "engine.h"

#include <jansson.h>
#include <stddef.h>
#include <time.h>

struct engine_data {
	json_t *catalogue_doc; /* catalogue.json */
	json_t *codes;         /* its "codes" object (borrowed) */
	json_t *models_doc;    /* models.json */
	json_t *models;        /* its "models" object (borrowed) */
};

int engine_data_load(const char *dir, struct engine_data *d, char *why, size_t whylen);
void engine_data_free(struct engine_data *d);

/* *.lua files of dir, sorted (engine_free_list frees them). */
int engine_tree_files(const char *dir, char ***files, size_t *n, char *why, size_t whylen);
void engine_free_list(char **v, size_t n);
int engine_valid_name(const char *s);
int engine_parse_time(const char *s, time_t *out);
int engine_check_snapshot(const json_t *snapshot, char *why, size_t whylen);
/* 1 when name is a reading the report copies from the snapshot (reports/report.c readings_of):
 * a tree's reading() may not use it. */
int engine_reading_reserved(const char *name);

struct engine_ctx;
struct engine_ctx *engine_ctx_new(const json_t *snapshot, const struct engine_data *data,
                                  const struct engine_opts *opts, struct engine_result *res);
void engine_ctx_free(struct engine_ctx *c);
int engine_run_file(struct engine_ctx *c, const char *dir, const char *file, int declare_only, json_t **decl,
                    int *decl_line, char *sha, char *err, size_t errlen);

#endif
