/*
 * sessions: the device manager. Device events (usbmux attach/detach, USB-level hotplug for
 * recovery/DFU/WTF/Port DFU) arrive on the drivers' threads; each new device gets one session
 * thread, up to max_sessions at once (the others queue in arrival order). A session reads the
 * device (capture_device) and hands the snapshot to cases_session_report, which makes the next
 * revision of the device's case (signed, committed with its outbox rows when final).
 * Every change is published on the events bus: device.attached/detached, session.step,
 * session.reading, session.ended (the revision's own events come from cases.h).
 *
 * Unplugging a device cancels only its own session, which ends with a reason naming the stage
 * ("unplugged while reading crash reports 3/12"). A device that stays attached after its session is not
 * read again; unplugged and plugged back it gets a new session, and so does a device that could
 * not be read for want of trust once it is paired (usbmux Paired event).
 *
 * Locking: one mutex guards the device table; it is never held across device I/O, signing or
 * SQLite. Ownership: sessions_start/sessions_stop.
 */
#ifndef BENCHD_SESSIONS_H
#define BENCHD_SESSIONS_H

#include <jansson.h>
#include <stddef.h>

#include "cases.h"
#include "config.h"
#include "events.h"
#include "outbox.h"
#include "store.h"

struct sessions;

struct sessions_opts {
	const struct config *cfg;
	const char *state_dir;
	struct store *st;
	struct outbox *ob;   /* NULL: no upload configured */
	struct cases *cases; /* where each snapshot becomes a revision */
	struct events *ev;   /* may be NULL */
};

/* Start watching devices. Returns 0, or -1 with why when no watcher could start at all. */
int sessions_start(const struct sessions_opts *o, struct sessions **out, char *why, size_t whylen);
/* Stop watching, drop queued devices, wait up to drain_s for running sessions, then cancel them
 * and wait a little more; interrupted (polled, may be NULL) returning non-zero cancels at once.
 * Returns the number of sessions still running when it gave up. The
 * counts and live table still answer until sessions_free. */
int sessions_stop(struct sessions *s, int drain_s, int (*interrupted)(void *), void *ictx);
/* Free after sessions_stop returned 0 (does nothing while a session still runs). */
void sessions_free(struct sessions *s);
/* {"running":n,"queued":n,"max":n,"usbmux":b,"usb_hotplug":b} and the live table [{device, mode,
 * state, stage, result, since, product_type, model_name, serial, case_id, ticket, report_id}]
 * (the last six null until a session has read or diagnosed the device). */
json_t *sessions_counts(struct sessions *s);
json_t *sessions_live(struct sessions *s);

#endif
