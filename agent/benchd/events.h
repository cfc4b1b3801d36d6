/*
 * events: benchd's one event bus (CONTRACTS.md 4). Whatever changes on the bench is published
 * here once; `benchctl watch` (the control socket's subscribe request) and the bench page's
 * Server-Sent-Events stream (/api/events) are two views of the same bus.
 *
 * Every event is one JSON object, serialised once at publication (compact, one line):
 *
 *   {"type": T, "at": "2026-12-01T21:03:24Z", "seq": N, ...data}
 *
 * seq increases by one per event from 1 at each benchd start. The types and their data:
 *
 *   device.attached  {device, mode, product_type?, model_name?, ecid?}
 *   device.detached  {device}
 *   session.step     {device, step, done?, total?}          "reading crash reports", 3, 12
 *   session.reading  {device, name, value}                   battery, crashes (capture events)
 *   session.ended    {device, state, reason, report_id?}     done|failed|unplugged|cancelled
 *   report.signed    {device, report_id, case_id, revision, outcome, faults[{code, severity,
 *                    part, title}], final, ticket}
 *   case.question    {device, case_id, report_id, questions[]}
 *   case.waiting     {device, case_id, report_id, why}       "question open (tg0b_new_battery)"
 *   case.finished    {device, case_id, report_id, revision}  benchctl finish: final as it is
 *   case.delivered   {case_id, report_id, target, remote_id?}
 *   case.closed      {case_id, why}                          "delivered" | "idle"
 *   booking.changed  {}
 *   events.dropped   {reason}    only to one subscriber: the last thing it gets (see below)
 *
 * Subscribers: each has its own bounded queue. Publishing never blocks and never waits for a
 * subscriber: one that falls EVENTS_QUEUE_MAX events behind is dropped, its queue is emptied and
 * it gets one last event, {"type":"events.dropped","reason":"..."}, after which events_next says
 * it is closed (the client reconnects, with `since` to catch up on what the bus still keeps).
 * The bus keeps the last EVENTS_KEEP events for such a catch-up.
 *
 * Threads: every function may be called from any thread. Ownership: events_new/events_free
 * (after every subscriber has unsubscribed); events_subscribe/events_unsubscribe; the json of
 * an events_msg is malloc'd for the caller (events_msg_clear).
 */
#ifndef BENCHD_EVENTS_H
#define BENCHD_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTS_QUEUE_MAX 1000 /* events a subscriber may fall behind before it is dropped */
#define EVENTS_KEEP      256  /* recent events kept for a reconnecting subscriber (since) */
#define EVENTS_TYPE_MAX  32   /* bytes of a type name, with its NUL */

/* The event types (the strings above), for publishers and consumers alike. */
#define EV_DEVICE_ATTACHED "device.attached"
#define EV_DEVICE_DETACHED "device.detached"
#define EV_SESSION_STEP    "session.step"
#define EV_SESSION_READING "session.reading"
#define EV_SESSION_ENDED   "session.ended"
#define EV_REPORT_SIGNED   "report.signed"
#define EV_CASE_QUESTION   "case.question"
#define EV_CASE_WAITING    "case.waiting"
#define EV_CASE_FINISHED   "case.finished"
#define EV_CASE_DELIVERED  "case.delivered"
#define EV_CASE_CLOSED     "case.closed"
#define EV_BOOKING_CHANGED "booking.changed"
#define EV_EVENTS_DROPPED  "events.dropped"

struct events;
struct events_sub;

struct events *events_new(void);
/* Wake every waiting subscriber and make events_next answer -1 once its queue is empty (benchd
 * is stopping). Publishing after this does nothing. */
void events_shutdown(struct events *ev);
/* Free the bus. Every subscriber must have unsubscribed. NULL is fine. */
void events_free(struct events *ev);

/*
 * Publish one event of `type` (at most EVENTS_TYPE_MAX - 1 bytes). The members of `data` (an
 * object, or NULL for none) follow type, at and seq; a member named type, at or seq in data is
 * ignored. The reference to data is stolen. ev NULL: data is freed, nothing is published.
 * Returns the event's seq (0 when nothing was published).
 */
uint64_t events_publish(struct events *ev, const char *type, json_t *data);
/* The seq of the last event published, 0 before the first. */
uint64_t events_last_seq(struct events *ev);

/*
 * A new subscriber. since == 0: the events published from now on. since > 0: first the kept
 * events whose seq is greater than since (at most EVENTS_KEEP; older ones are gone), then the
 * new ones. NULL when the bus is shut down.
 */
struct events_sub *events_subscribe(struct events *ev, uint64_t since);
void events_unsubscribe(struct events_sub *s);

/* A file descriptor that polls readable (POLLIN) while an event waits for this subscriber, or
 * once it is closed; for poll(2) loops (the control socket). Owned by the subscriber. */
int events_sub_fd(const struct events_sub *s);

struct events_msg {
	uint64_t seq;
	char type[EVENTS_TYPE_MAX];
	char *json; /* the event, compact JSON without a newline, NUL-terminated, malloc'd */
	size_t len; /* strlen(json) */
};
/*
 * Take the next event. timeout_ms: 0 does not wait, -1 waits for ever. Returns 1 with the event
 * in *m (events_msg_clear it), 0 when none came in time, -1 when the subscriber is closed
 * (dropped after its events.dropped event, or the bus was shut down) and nothing is left.
 */
int events_next(struct events_sub *s, int timeout_ms, struct events_msg *m);
void events_msg_clear(struct events_msg *m);

#endif
