/*
 * commands: every command benchd answers, implemented once (CONTRACTS.md 4). The control
 * socket (control.c, `benchctl`) and the HTTP API (the bench page, issue 14) both hand each
 * request object to commands_call and send back the answer object it returns; nothing else
 * implements a command.
 *
 * A request is {"cmd": NAME, ...}; an answer is {"ok": true, ...fields} or, when refused,
 *   {"ok": false, "error": "one line saying what happened and what to do", "code": C}
 * with C one of the codes below (HTTP status / benchctl exit code beside each).
 *
 * Requests (the HTTP API maps onto them 1:1). DEVICE is a UDID, a serial number, an ECID, a
 * case id or a report id: whichever names exactly one case (its open one, else its latest).
 * Times are RFC 3339 UTC strings everywhere.
 *
 *   {"cmd":"status"}                       pid, version, bench_id, state_dir, started_at,
 *                                          uptime_s, control, sessions{running,queued,max,
 *                                          usbmux,usb_hotplug}, reports, sessions_total,
 *                                          devices, waiting (cases waiting for the technician),
 *                                          outbox{pending,held,delivered,url,activity},
 *                                          targets[{target,kind,system,url,activity,pending,held,
 *                                          delivered}]
 *   {"cmd":"sessions","limit":N?}          counts, live[{device,mode,state,stage,result,since,
 *                                          product_type,model_name,serial,case_id,ticket}],
 *                                          recent[{id,device,product_type,model_name,started_at,
 *                                          ended_at,state,reason,report_id,case_id,ticket}]
 *   {"cmd":"outbox","limit":N?}            url, activity, counts, items[{report_id,target,
 *                                          device,case_id,revision,ticket,state,attempts,
 *                                          next_try,last_status,last_answer,remote_id,phase,
 *                                          created_at,updated_at}], waiting[{case_id,report_id,
 *                                          device,revision,ticket,why}]
 *   {"cmd":"retry","report_id":R,"target":T?}   a held/pending upload goes now
 *   {"cmd":"retry","held":true}            every held upload goes now
 *   {"cmd":"answer","device":D,"answers":{"k":"v"}}   reruns the trees over the case's latest
 *                                          snapshot with every answer so far: a new revision
 *   {"cmd":"link","device":D,"ticket":T}   the case's ticket; a new revision when the latest
 *                                          report does not carry it
 *   {"cmd":"finish","device":D}            the case's latest report becomes final as it is
 *       answer/link/finish answer {report_id, case_id, device, revision, outcome, final,
 *       waiting (why, or null), ticket, unchanged (true when no new revision was needed),
 *       queued (final and an outbox target is configured)}
 *   {"cmd":"cases","state":"open"|"all"?,"limit":N?}   cases[{case_id, device, serial, ticket,
 *                                          lang, state, opened_at, closed_at, last_session_at,
 *                                          answers, latest{report_id,revision,outcome,final,
 *                                          waiting}, booking_id}]
 *   {"cmd":"state"}                        what the bench page shows first: status fields, live
 *                                          devices, open cases, waiting, outbox counts, seq
 *   {"cmd":"booking_add","serial"|"imei"|"udid":X,"ticket":T,"lang":L?,"note":N?}
 *                                          -> {booking{id,kind,value,ticket,lang,note,source,
 *                                          created_at,used_by}}
 *   {"cmd":"booking_list"}                 -> {bookings[...]} (unused first, then used)
 *   {"cmd":"booking_remove","id":N}        -> {removed: N}
 *   {"cmd":"history","device":D}           every report of that device on this bench, oldest
 *                                          first: {device{serial,udid,ecid,product_type,
 *                                          model_name}, reports[{created_at, report_id, case_id,
 *                                          revision, ticket, outcome, faults[codes], health_pct,
 *                                          cycle_count, battery_serial, final}]}
 *   {"cmd":"reports","device":D?,"since":T?,"limit":N?}   report summaries, newest first
 *   {"cmd":"report_get","report_id":R}     {report (the payload), verified, reason?, path (the
 *                                          exact signed bytes), case? {case_id, state, ticket,
 *                                          lang (the customer's), latest_revision, ...}}
 *   {"cmd":"upload_check"}                 one authenticated read of the booking system:
 *                                          {kind, system, url, message ("RepairShopr at URL:
 *                                          token accepted, 37 open tickets")}; refused as
 *                                          unavailable with why it failed
 *   {"cmd":"subscribe","since":SEQ?}       through commands_subscribe only: the answer
 *                                          {"ok":true,"seq":N} then one event per line
 *                                          (events.h) until the connection closes
 *
 * Threads: commands_call may be called from several threads at once (the control thread, the
 * HTTP server's threads); revisions of one case are made one at a time.
 * Ownership: commands_new/commands_free; every answer is a new json_t for the caller.
 */
#ifndef BENCHD_COMMANDS_H
#define BENCHD_COMMANDS_H

#include <jansson.h>
#include <time.h>

#include "config.h"
#include "events.h"

struct store;
struct sessions;
struct outbox;
struct cases;

enum commands_code {
	COMMANDS_OK = 0,
	COMMANDS_E_BAD_REQUEST = -1, /* "bad_request": HTTP 400, benchctl exit 2 */
	COMMANDS_E_NOT_FOUND = -2,   /* "not_found":   HTTP 404, exit 2 */
	COMMANDS_E_CONFLICT = -3,    /* "conflict":    HTTP 409, exit 1 */
	COMMANDS_E_TOO_LARGE = -4,   /* "too_large":   HTTP 413, exit 2 */
	COMMANDS_E_UNAVAILABLE = -5, /* "unavailable": HTTP 503, exit 1 */
	COMMANDS_E_INTERNAL = -6,    /* "internal":    HTTP 500, exit 1 */
};
/* The code's name as it appears in "code" ("bad_request", ...); "ok" for COMMANDS_OK. */
const char *commands_code_name(int code);
/* The code of an answer (COMMANDS_OK when "ok" is true; COMMANDS_E_INTERNAL when unknown). */
int commands_answer_code(const json_t *answer);
/* HTTP status for an answer: 200, 400, 404, 409, 413, 503 or 500. */
int commands_http_status(const json_t *answer);
/* benchctl exit code for an answer: 0, 2 (bad request, not found, too large) or 1. */
int commands_exit_code(const json_t *answer);
/* A refusal: {"ok":false,"error":<formatted>,"code":<name>}. */
json_t *commands_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct commands_opts {
	const struct config *cfg;
	const char *state_dir;
	const char *control_path; /* shown by status */
	time_t started;
	struct store *st;
	struct events *ev;
	struct sessions *sess; /* NULL: no device sessions (tests) */
	struct outbox *upload; /* NULL: no [upload] url */
	struct outbox *fleet;  /* NULL: no [fleet] url */
	struct cases *cases;   /* revisions: answer, link, finish (NULL: refused as unavailable) */
};

struct commands;
struct commands *commands_new(const struct commands_opts *o);
void commands_free(struct commands *c);

/* Answer one request (never NULL). */
json_t *commands_call(struct commands *c, const json_t *req);

/*
 * The subscribe request: a new subscriber on the events bus (NULL when refused) and, in
 * *answer, the first line to send ({"ok":true,"seq":N}, or the refusal). The caller then sends
 * every event it takes from the subscriber, one per line, and unsubscribes when the client
 * goes. req may carry "since" (a seq): catch up on the events the bus still keeps.
 */
struct events_sub *commands_subscribe(struct commands *c, const json_t *req, json_t **answer);

#endif
