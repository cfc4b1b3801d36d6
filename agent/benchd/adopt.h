/*
 * adopt: benchd keeps its reports/ directory and its store in step while it runs. A signed
 * report that appears in reports/ without a row in the store (written by `benchctl run` on this
 * bench, or left by a crash between signing and the store commit) is adopted within seconds:
 * inotify tells of each new file, and a scan every few seconds catches whatever inotify missed
 * (or all of it where inotify is not available). Each file goes through cases_adopt_file (only a
 * report this bench's key verifies is kept; others go to reports/rejected/). The same thread
 * closes cases idle for [bench] case_idle_hours, once a minute.
 *
 * Ownership: adopt_start/adopt_stop (joins the thread); the cases module must outlive it.
 */
#ifndef BENCHD_ADOPT_H
#define BENCHD_ADOPT_H

#include <stddef.h>

#include "cases.h"

struct adopt;

int adopt_start(struct cases *c, const char *state_dir, struct adopt **out, char *why, size_t whylen);
void adopt_stop(struct adopt *a);

#endif
