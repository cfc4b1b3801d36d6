/*
 * capture_local: the capture itself, in the calling process: a device id -> the exact bytes of
 * a benchd.snapshot/1 document (what capture.h describes). Only the reader process
 * (reader.c) calls it: it parses device bytes, through libraries a device can crash, so it
 * must never run inside benchd or benchctl. Same arguments and results as capture_device;
 * opts->deadline_s is a budget the crash copy keeps to, nothing here kills anything.
 */
#ifndef BENCHD_CAPTURE_LOCAL_H
#define BENCHD_CAPTURE_LOCAL_H

#include "capture.h"

int capture_local(const char *id, const struct capture_opts *opts, char **bytes, size_t *len, int *device_err,
                  char *why, size_t whylen);
/* The trees directory capture uses: opts->trees_dir, $BENCHD_TREES_DIR, else the default
 * (capture.c). */
const char *capture_trees_dir(const struct capture_opts *opts);

/* Remove a temp crash folder we made (only the files and folders we wrote in it). */
void local_rm_tree(const char *path);

#endif
