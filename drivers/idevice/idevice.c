/* idevice: see idevice.h. One lockdown session per device session; the probes. */
#include "idevice.h"

#include "log.h"
#include "models.h"
#include "normalize.h"
#include "util.h"

#include <libimobiledevice/afc.h>
#include <libimobiledevice/libimobiledevice.h>
#include <libimobiledevice/lockdown.h>
#include <libimobiledevice/property_list_service.h>
#include <plist/plist.h>
#include <usbmuxd.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 10000
#define CRASH_MAX_FILES    1000                   /* reports copied per session */
#define CRASH_MAX_FILE     (32u * 1024 * 1024)    /* one report */
#define CRASH_MAX_TOTAL    (512ull * 1024 * 1024) /* all reports */
#define CRASH_MAX_DEPTH    8
#define CRASH_HEAD         (512u * 1024) /* bytes of each report kept in memory to parse */
#define CRASH_CHUNK        (64u * 1024)
#define CRASH_DEADLINE_MS  90000 /* the whole crashes probe */
#define CRASH_MARGIN_MS    3000  /* left of opts.budget_s after the copy */
#define CRASH_WORKERS      4     /* AFC connections copying reports at once */
#define SYSLOG_CHUNK       16384

const char *
idev_strerror(int err)
{
	switch (err) {
	case IDEV_OK:
		return "ok";
	case IDEV_E_NOT_FOUND:
		return "no such device: check the cable and that the phone is switched on";
	case IDEV_E_LOCKED:
		return "device is locked: unlock it and try again";
	case IDEV_E_UNTRUSTED:
		return "device does not trust this computer: unlock it, tap Trust on the device and try "
		       "again";
	case IDEV_E_PAIRING_PENDING:
		return "the Trust dialog is waiting on the device: tap Trust on the device and try again";
	case IDEV_E_UNPLUGGED:
		return "device was unplugged during the read: plug it back in and try again";
	case IDEV_E_TIMEOUT:
		return "device did not answer in time: unplug it, plug it back in and try again";
	case IDEV_E_PROTOCOL:
		return "device sent something we cannot read";
	case IDEV_E_NO_USBMUXD:
		return "usbmuxd is not running: start it (systemctl start usbmuxd) and try again";
	case IDEV_E_IO:
		return "local I/O error (crash folder or disk)";
	default:
		return "unknown device error";
	}
}

static void setwhy(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void
setwhy(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- listing, events */

int
idev_list(struct idev_info **out, size_t *n)
{
	usbmuxd_device_info_t *list = NULL;
	int cnt;
	struct idev_info *v;

	*out = NULL;
	*n = 0;
	cnt = usbmuxd_get_device_list(&list);
	if (cnt < 0)
		return IDEV_E_NO_USBMUXD;
	v = xcalloc((size_t)cnt + 1, sizeof(*v));
	for (int i = 0; i < cnt; i++) {
		util_strlcpy(v[i].udid, list[i].udid, sizeof(v[i].udid));
		v[i].product_id = list[i].product_id;
		v[i].conn_usb = list[i].conn_type == CONNECTION_TYPE_USB;
	}
	usbmuxd_device_list_free(&list);
	*out = v;
	*n = (size_t)cnt;
	return IDEV_OK;
}

/* 1 listed, 0 not listed, -1 usbmuxd does not answer. */
static int
still_attached(const char *udid, unsigned *product_id)
{
	struct idev_info *v;
	size_t n;
	int found = 0;

	if (idev_list(&v, &n) != IDEV_OK)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].udid, udid) == 0) {
			found = 1;
			if (product_id)
				*product_id = v[i].product_id;
		}
	}
	free(v);
	return found;
}

/* ---------------------------------------------------------------- session */

struct idev_session {
	idevice_t dev;
	lockdownd_client_t lck;
	char udid[65];
	unsigned product_id;
	struct idev_opts o;
	struct models *models;
	int timeout_ms;
	long long started_ms; /* idev_session_new, for opts.budget_s */
	/* mu guards device_err and serialises progress and event callbacks: the crash copy runs
	 * workers and the syslog capture a thread of its own. */
	pthread_mutex_t mu;
	int device_err; /* IDEV_E_LOCKED when services were refused, IDEV_E_UNPLUGGED when gone */
	char device_why[256];
	/* the snapshot being built */
	json_t *snap, *errors, *raw;
};

static int
map_lockdown(lockdownd_error_t e)
{
	switch (e) {
	case LOCKDOWN_E_SUCCESS:
		return IDEV_OK;
	case LOCKDOWN_E_PASSWORD_PROTECTED:
		return IDEV_E_LOCKED;
	case LOCKDOWN_E_PAIRING_DIALOG_RESPONSE_PENDING:
		return IDEV_E_PAIRING_PENDING;
	case LOCKDOWN_E_USER_DENIED_PAIRING:
	case LOCKDOWN_E_PAIRING_FAILED:
	case LOCKDOWN_E_INVALID_HOST_ID:
	case LOCKDOWN_E_MISSING_HOST_ID:
	case LOCKDOWN_E_INVALID_CONF:
	case LOCKDOWN_E_MISSING_PAIR_RECORD:
	case LOCKDOWN_E_INVALID_PAIR_RECORD:
	case LOCKDOWN_E_PAIRING_PROHIBITED_OVER_THIS_CONNECTION:
		return IDEV_E_UNTRUSTED;
	case LOCKDOWN_E_RECEIVE_TIMEOUT:
		return IDEV_E_TIMEOUT;
	case LOCKDOWN_E_MUX_ERROR:
	case LOCKDOWN_E_SSL_ERROR:
		return IDEV_E_UNPLUGGED;
	case LOCKDOWN_E_PLIST_ERROR:
	case LOCKDOWN_E_INVALID_RESPONSE:
	case LOCKDOWN_E_DICT_ERROR:
		return IDEV_E_PROTOCOL;
	default:
		return IDEV_E_UNKNOWN;
	}
}

/*
 * After a failed read: was the device unplugged (gone from usbmux), did it drop the
 * connection, or did it just not answer? Returns the idev_err and writes the reason.
 */
static int
why_failed(struct idev_session *s, const char *during, int looked_like_timeout, char *why, size_t whylen)
{
	int a = still_attached(s->udid, NULL);

	if (a == 0) {
		pthread_mutex_lock(&s->mu);
		s->device_err = IDEV_E_UNPLUGGED;
		pthread_mutex_unlock(&s->mu);
		setwhy(why, whylen, "device unplugged during %s", during);
		return IDEV_E_UNPLUGGED;
	}
	if (looked_like_timeout) {
		setwhy(why, whylen, "device did not answer in time during %s", during);
		return IDEV_E_TIMEOUT;
	}
	setwhy(why, whylen, "device dropped the connection during %s", during);
	return IDEV_E_UNPLUGGED;
}

/*
 * A device that goes away while we write would raise SIGPIPE and kill the whole program (the
 * daemon with every other session): ignore it when nobody has chosen a handler, so a write
 * fails with EPIPE and the probe records the unplug.
 */
static void
ignore_sigpipe(void)
{
	struct sigaction sa;

	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
}

int
idev_session_new(const char *udid, const struct idev_opts *opts, struct idev_session **out, char *why,
                 size_t whylen)
{
	struct idev_session *s;
	lockdownd_error_t le;
	int a, r;

	*out = NULL;
	ignore_sigpipe();
	if (udid == NULL || *udid == '\0' || strlen(udid) >= sizeof(s->udid)) {
		setwhy(why, whylen, "%s", idev_strerror(IDEV_E_NOT_FOUND));
		return IDEV_E_NOT_FOUND;
	}
	s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	util_strlcpy(s->udid, udid, sizeof(s->udid));
	if (opts)
		s->o = *opts;
	s->timeout_ms = s->o.timeout_ms > 0 ? s->o.timeout_ms : DEFAULT_TIMEOUT_MS;
	s->started_ms = util_now_ms();
	a = still_attached(udid, &s->product_id);
	if (a < 0) {
		setwhy(why, whylen, "%s", idev_strerror(IDEV_E_NO_USBMUXD));
		free(s);
		return IDEV_E_NO_USBMUXD;
	}
	if (a == 0 || idevice_new_with_options(&s->dev, udid, IDEVICE_LOOKUP_USBMUX) != IDEVICE_E_SUCCESS) {
		setwhy(why, whylen, "no device %s: check the cable and that the phone is switched on", udid);
		free(s);
		return IDEV_E_NOT_FOUND;
	}
	le = lockdownd_client_new_with_handshake(s->dev, &s->lck, s->o.label ? s->o.label : "benchd");
	if (le != LOCKDOWN_E_SUCCESS) {
		r = map_lockdown(le);
		if (r != IDEV_E_LOCKED && r != IDEV_E_UNTRUSTED && r != IDEV_E_PAIRING_PENDING) {
			/* anything else here is a connection that broke or a device talking nonsense */
			if (still_attached(udid, NULL) == 0)
				setwhy(why, whylen, "device unplugged during the lockdown handshake");
			else if (r == IDEV_E_TIMEOUT)
				setwhy(why, whylen,
				       "device did not answer the lockdown handshake in time: "
				       "unplug it, plug it back in and try again");
			else
				setwhy(why, whylen,
				       "device dropped the connection during the lockdown handshake "
				       "(lockdown error "
				       "%d): unplug it, plug it back in and try again",
				       (int)le);
			if (r != IDEV_E_TIMEOUT)
				r = IDEV_E_UNPLUGGED;
		} else {
			setwhy(why, whylen, "%s", idev_strerror(r));
		}
		idevice_free(s->dev);
		free(s);
		return r;
	}
	s->models = models_load(s->o.models_path, NULL, 0);
	*out = s;
	return IDEV_OK;
}

void
idev_session_free(struct idev_session *s)
{
	if (s == NULL)
		return;
	if (s->lck)
		lockdownd_client_free(s->lck); /* sends StopSession, closes TLS */
	if (s->dev)
		idevice_free(s->dev);
	models_free(s->models);
	json_decref(s->snap);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int
idev_session_device_err(const struct idev_session *s, char *why, size_t whylen)
{
	if (s->device_err != IDEV_OK)
		setwhy(why, whylen, "%s", s->device_why[0] ? s->device_why : idev_strerror(s->device_err));
	return s->device_err;
}

/* An event to the caller, serialised with every other callback. Takes ev. */
static void
emit(struct idev_session *s, json_t *ev)
{
	if (s->o.event != NULL) {
		pthread_mutex_lock(&s->mu);
		s->o.event(ev, s->o.event_ctx);
		pthread_mutex_unlock(&s->mu);
	}
	json_decref(ev);
}

/* A step: "step" or, with total > 0, "step done/total"; both as text and as an event. */
static void
progress_n(struct idev_session *s, const char *step, size_t done, size_t total)
{
	char msg[256];

	if (s->o.progress != NULL) {
		if (total > 0)
			snprintf(msg, sizeof(msg), "%s %zu/%zu", step, done, total);
		else
			util_strlcpy(msg, step, sizeof(msg));
		pthread_mutex_lock(&s->mu); /* callers see one callback at a time */
		s->o.progress(msg, s->o.progress_ctx);
		pthread_mutex_unlock(&s->mu);
	}
	if (s->o.event != NULL) {
		json_t *ev = json_pack("{s:s, s:s}", "type", "step", "step", step);
		if (total > 0) {
			json_object_set_new(ev, "done", json_integer((json_int_t)done));
			json_object_set_new(ev, "total", json_integer((json_int_t)total));
		}
		emit(s, ev);
	}
}

static void progress(struct idev_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
progress(struct idev_session *s, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	progress_n(s, msg, 0, 0);
}

/* {"type":"reading","name":name,"value":value} (value borrowed). */
static void
reading(struct idev_session *s, const char *name, json_t *value)
{
	if (s->o.event != NULL && value != NULL)
		emit(s, json_pack("{s:s, s:s, s:O}", "type", "reading", "name", name, "value", value));
}

static int
cancelled(const struct idev_session *s)
{
	return s->o.cancel != NULL && *s->o.cancel != 0;
}

static void
add_error(struct idev_session *s, const char *probe, const char *reason)
{
	json_t *e = json_object();

	json_object_set_new(e, "probe", json_string(probe));
	json_object_set_new(e, "reason", norm_string(reason, strlen(reason), 512, NULL));
	json_array_append_new(s->errors, e);
}

static json_t *
raw_section(struct idev_session *s, const char *name)
{
	json_t *o = json_object_get(s->raw, name);

	if (o == NULL) {
		o = json_object();
		json_object_set_new(s->raw, name, o);
	}
	return o;
}

/* Start a lockdown service in our one session. */
static int
start_service(struct idev_session *s, const char *name, lockdownd_service_descriptor_t *svc, char *why,
              size_t whylen)
{
	lockdownd_error_t le;
	int r;

	*svc = NULL;
	le = lockdownd_start_service(s->lck, name, svc);
	if (le == LOCKDOWN_E_SUCCESS && *svc != NULL && (*svc)->port != 0)
		return IDEV_OK;
	if (*svc) {
		lockdownd_service_descriptor_free(*svc);
		*svc = NULL;
	}
	if (le == LOCKDOWN_E_SUCCESS) { /* "started", but no port to connect to */
		setwhy(why, whylen, "the device started %s but gave no port for it", name);
		return IDEV_E_PROTOCOL;
	}
	r = map_lockdown(le);
	if (r == IDEV_E_LOCKED) {
		s->device_err = IDEV_E_LOCKED;
		setwhy(why, whylen, "%s", idev_strerror(IDEV_E_LOCKED));
		util_strlcpy(s->device_why, why, sizeof(s->device_why));
		return r;
	}
	if (le == LOCKDOWN_E_INVALID_SERVICE || le == LOCKDOWN_E_MISSING_SERVICE ||
	    le == LOCKDOWN_E_SERVICE_PROHIBITED) {
		setwhy(why, whylen, "the device does not offer %s", name);
		return IDEV_E_PROTOCOL;
	}
	if (r == IDEV_E_UNPLUGGED || r == IDEV_E_TIMEOUT || r == IDEV_E_UNKNOWN) {
		char during[128];
		snprintf(during, sizeof(during), "the start of %s", name);
		return why_failed(s, during, r == IDEV_E_TIMEOUT, why, whylen);
	}
	setwhy(why, whylen, "could not start %s (lockdown error %d)", name, (int)le);
	return r;
}

/* ---------------------------------------------------------------- info */

/* get_domain's answer for a reply nested deeper than IDEV_MAX_NESTING (not a lockdown code) */
#define LE_TOO_DEEP ((lockdownd_error_t)-10000)

static json_t *
get_domain(struct idev_session *s, const char *domain, lockdownd_error_t *le)
{
	plist_t p = NULL;
	json_t *j;

	*le = lockdownd_get_value(s->lck, domain, NULL, &p);
	if (*le != LOCKDOWN_E_SUCCESS || p == NULL) {
		if (p)
			plist_free(p);
		return NULL;
	}
	if (norm_plist_too_deep(p, IDEV_MAX_NESTING)) {
		plist_free(p);
		*le = LE_TOO_DEEP;
		return NULL;
	}
	j = norm_plist_to_json(p);
	plist_free(p);
	if (!json_is_object(j)) {
		json_decref(j);
		*le = LOCKDOWN_E_INVALID_RESPONSE;
		return NULL;
	}
	return j;
}

static json_t *
probe_info(struct idev_session *s, json_t *device, json_t **battery_domain)
{
	json_t *lock = raw_section(s, "lockdown"), *root, *bat, *du, *st;
	lockdownd_error_t le;
	char why[256];

	*battery_domain = NULL;
	progress(s, "reading device information");
	root = get_domain(s, NULL, &le);
	if (root == NULL) {
		if (le == LOCKDOWN_E_MUX_ERROR || le == LOCKDOWN_E_RECEIVE_TIMEOUT ||
		    le == LOCKDOWN_E_SSL_ERROR)
			why_failed(s, "the device information read", le == LOCKDOWN_E_RECEIVE_TIMEOUT, why,
			           sizeof(why));
		else if (le == LE_TOO_DEEP)
			snprintf(why, sizeof(why),
			         "the device sent its information nested deeper than %d levels",
			         IDEV_MAX_NESTING);
		else
			snprintf(why, sizeof(why), "the device refused its information (lockdown error %d)",
			         (int)le);
		add_error(s, IDEV_PROBE_INFO, why);
		return NULL;
	}
	json_object_set_new(lock, "Root", root);
	norm_device(device, root, s->models);

	bat = get_domain(s, "com.apple.mobile.battery", &le);
	if (bat) {
		json_object_set_new(lock, "com.apple.mobile.battery", bat);
		*battery_domain = bat;
	}
	du = get_domain(s, "com.apple.disk_usage", &le);
	if (du) {
		json_object_set_new(lock, "com.apple.disk_usage", du);
		st = norm_storage(du);
		if (st)
			json_object_set_new(s->snap, "storage", st);
	} else {
		snprintf(why, sizeof(why), "the device did not give its storage figures (lockdown error %d)",
		         (int)le);
		add_error(s, IDEV_PROBE_INFO, why);
	}
	return root;
}

/* ---------------------------------------------------------------- diagnostics relay */

struct diag {
	property_list_service_client_t c;
	int dead;
	char why[256]; /* why the connection was lost, repeated for later requests */
};

static int
diag_open(struct idev_session *s, struct diag *d, char *why, size_t whylen)
{
	lockdownd_service_descriptor_t svc = NULL;
	int r;

	memset(d, 0, sizeof(*d));
	r = start_service(s, "com.apple.mobile.diagnostics_relay", &svc, why, whylen);
	if (r == IDEV_E_PROTOCOL) {
		/* Older iOS names it differently; when that fails too, the first reason is the one
		 * that says what is wrong with this device. */
		char why2[256];
		r = start_service(s, "com.apple.iosdiagnostics.relay", &svc, why2, sizeof(why2));
		if (r == IDEV_E_PROTOCOL)
			return r;
		if (r != IDEV_OK) { /* unplugged, timed out...: that is news */
			util_strlcpy(why, why2, whylen);
			return r;
		}
	}
	if (r != IDEV_OK)
		return r;
	if (property_list_service_client_new(s->dev, svc, &d->c) != PROPERTY_LIST_SERVICE_E_SUCCESS) {
		lockdownd_service_descriptor_free(svc);
		return why_failed(s, "the connection to the diagnostics service", 0, why, whylen);
	}
	lockdownd_service_descriptor_free(svc);
	return IDEV_OK;
}

static void
diag_close(struct diag *d)
{
	if (d->c == NULL)
		return;
	if (!d->dead) {
		plist_t g = plist_new_dict();
		plist_t reply = NULL;
		plist_dict_set_item(g, "Request", plist_new_string("Goodbye"));
		if (property_list_service_send_xml_plist(d->c, g) == PROPERTY_LIST_SERVICE_E_SUCCESS)
			property_list_service_receive_plist_with_timeout(d->c, &reply, 1000);
		plist_free(g);
		if (reply)
			plist_free(reply);
	}
	property_list_service_client_free(d->c);
	d->c = NULL;
}

/* diag_request's answer when the device said no (a Status other than Success): for the battery
 * gauge that means "no such entry, ask the next"; every other IDEV_E_PROTOCOL is bytes we
 * refused (unreadable, not a dictionary, nested too deep), which must never read as "no gauge". */
#define DIAG_REFUSED 1

/*
 * One request -> the reply's Diagnostics dict as JSON (*out), or an error with a reason:
 * DIAG_REFUSED or an idev_err. key_in_reply: the sub-dictionary to unwrap when present (e.g.
 * "IORegistry", "GasGauge").
 */
static int
diag_request(struct idev_session *s, struct diag *d, plist_t req, const char *key_in_reply,
             const char *during, json_t **out, char *why, size_t whylen)
{
	plist_t reply = NULL, diagd, status;
	property_list_service_error_t pe;
	long long t0;
	const char *st = NULL;
	json_t *j, *inner;
	int r;

	*out = NULL;
	if (d->dead) {
		setwhy(why, whylen, "%s", d->why);
		return IDEV_E_UNPLUGGED;
	}
	t0 = util_now_ms();
	pe = property_list_service_send_xml_plist(d->c, req);
	if (pe == PROPERTY_LIST_SERVICE_E_SUCCESS)
		pe = property_list_service_receive_plist_with_timeout(d->c, &reply, (unsigned)s->timeout_ms);
	if (pe != PROPERTY_LIST_SERVICE_E_SUCCESS || reply == NULL) {
		int slow = pe == PROPERTY_LIST_SERVICE_E_RECEIVE_TIMEOUT &&
		           util_now_ms() - t0 >= s->timeout_ms - 100;
		if (reply)
			plist_free(reply);
		if (pe == PROPERTY_LIST_SERVICE_E_PLIST_ERROR) {
			setwhy(why, whylen, "device sent an unreadable reply during %s", during);
			return IDEV_E_PROTOCOL;
		}
		d->dead = 1;
		r = why_failed(s, during, slow, why, whylen);
		util_strlcpy(d->why, why ? why : "", sizeof(d->why));
		return r;
	}
	if (plist_get_node_type(reply) != PLIST_DICT) {
		plist_free(reply);
		setwhy(why, whylen, "device sent a reply that is not a dictionary during %s", during);
		return IDEV_E_PROTOCOL;
	}
	status = plist_dict_get_item(reply, "Status");
	if (status && plist_get_node_type(status) == PLIST_STRING)
		st = plist_get_string_ptr(status, NULL);
	if (st == NULL || strcmp(st, "Success") != 0) {
		char shown[64];
		util_strlcpy(shown, st ? st : "without a status", sizeof(shown));
		for (char *c = shown; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
				*c = '?';
		setwhy(why, whylen, "device answered %s during %s", shown, during);
		plist_free(reply);
		return DIAG_REFUSED;
	}
	diagd = plist_dict_get_item(reply, "Diagnostics");
	if (diagd == NULL || plist_get_node_type(diagd) != PLIST_DICT) {
		plist_free(reply);
		setwhy(why, whylen, "device sent no diagnostics during %s", during);
		return IDEV_E_PROTOCOL;
	}
	if (norm_plist_too_deep(reply, IDEV_MAX_NESTING)) {
		plist_free(reply);
		setwhy(why, whylen, "device sent a reply nested deeper than %d levels during %s",
		       IDEV_MAX_NESTING, during);
		return IDEV_E_PROTOCOL;
	}
	j = norm_plist_to_json(diagd);
	plist_free(reply);
	inner = key_in_reply ? json_object_get(j, key_in_reply) : NULL;
	if (json_is_object(inner)) {
		json_incref(inner);
		json_decref(j);
		j = inner;
	}
	*out = j;
	return IDEV_OK;
}

static plist_t
req_new(const char *request, const char *entry_class)
{
	plist_t p = plist_new_dict();

	plist_dict_set_item(p, "Request", plist_new_string(request));
	if (entry_class)
		plist_dict_set_item(p, "EntryClass", plist_new_string(entry_class));
	return p;
}

static void
probe_battery(struct idev_session *s, struct diag *d, const json_t *battery_domain)
{
	static const char *sources[] = {"AppleSmartBattery", "AppleARMPMUCharger", "IOPMPowerSource"};
	json_t *ioreg = raw_section(s, "ioregistry"), *entry = NULL;
	const char *used = sources[0];
	char why[256] = "";
	int r = IDEV_OK;

	progress(s, "reading the battery gauge");
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		plist_t req = req_new("IORegistry", sources[i]);
		json_t *j = NULL;
		r = diag_request(s, d, req, "IORegistry", "the battery read", &j, why, sizeof(why));
		plist_free(req);
		if (r != IDEV_OK && r != DIAG_REFUSED)
			break; /* connection gone, or bytes refused: no fallback can be trusted */
		if (r == IDEV_OK) {
			json_object_set(ioreg, sources[i], j);
			if (json_object_size(j) > 0) {
				entry = j;
				used = sources[i];
				break;
			}
			json_decref(j);
		}
	}
	if (entry == NULL && r != IDEV_OK && r != DIAG_REFUSED) {
		add_error(s, IDEV_PROBE_BATTERY, why);
		return;
	}
	json_object_set_new(s->snap, "battery", norm_battery(entry, used, battery_domain));
	json_decref(entry);
	/* at once: the bench shows the battery's health while syslog and crashes are still read */
	reading(s, "battery", json_object_get(s->snap, "battery"));
}

static void
probe_diagnostics(struct idev_session *s, struct diag *d)
{
	static const char *reqs[] = {"GasGauge", "NAND", "WiFi"};
	json_t *raw = raw_section(s, "diagnostics");
	char why[256], first[256] = "";
	int nerr = 0;

	progress(s, "reading diagnostics (gas gauge, NAND, Wi-Fi)");
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		plist_t req = req_new(reqs[i], NULL);
		json_t *j = NULL;
		char during[64];
		int r;

		snprintf(during, sizeof(during), "the %s diagnostics read", reqs[i]);
		r = diag_request(s, d, req, reqs[i], during, &j, why, sizeof(why));
		plist_free(req);
		if (r == IDEV_OK) {
			json_object_set_new(raw, reqs[i], j);
		} else if (nerr++ == 0) {
			util_strlcpy(first, why, sizeof(first));
		}
	}
	if (nerr)
		add_error(s, IDEV_PROBE_DIAGNOSTICS, first);
}

/* ---------------------------------------------------------------- syslog */

/* EOF on a plain connection shows as a quick "timeout" in libimobiledevice 1.3.0: peek. */
static int
conn_eof(idevice_connection_t c)
{
	int fd = -1;
	char ch;
	ssize_t n;

	if (idevice_connection_get_fd(c, &fd) != IDEVICE_E_SUCCESS || fd < 0)
		return 0;
	n = recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/*
 * The syslog capture runs beside the crash copy: syslog_begin starts the service and connects
 * (lockdown is used from the session's thread only), a thread streams for syslog_seconds into
 * its own norm_syslog, and syslog_end joins it and puts what came into the snapshot. The
 * thread touches nothing of the session but its connection, progress and why_failed.
 */
struct syslog_job {
	struct idev_session *s;
	idevice_connection_t conn;
	int ssl, lost, active, threaded;
	struct norm_syslog sl;
	pthread_t tid;
	long long end;
};

static void *
syslog_stream(void *arg)
{
	struct syslog_job *j = arg;
	char *chunk = xmalloc(SYSLOG_CHUNK);
	long long now;

	while ((now = util_now_ms()) < j->end && !cancelled(j->s)) {
		uint32_t got = 0;
		unsigned slice = (unsigned)(j->end - now < 250 ? j->end - now : 250);
		idevice_error_t ie =
		    idevice_connection_receive_timeout(j->conn, chunk, SYSLOG_CHUNK, &got, slice);

		if (got > 0)
			norm_syslog_feed(&j->sl, chunk, got);
		if (ie == IDEVICE_E_SUCCESS || got > 0)
			continue;
		if (ie == IDEVICE_E_TIMEOUT && (j->ssl || !conn_eof(j->conn)))
			continue; /* quiet device */
		j->lost = 1;
		break;
	}
	norm_syslog_finish(&j->sl);
	free(chunk);
	idevice_disconnect(j->conn);
	j->conn = NULL;
	return NULL;
}

static void
syslog_begin(struct idev_session *s, struct syslog_job *j)
{
	lockdownd_service_descriptor_t svc = NULL;
	char why[256];
	int r;

	memset(j, 0, sizeof(*j));
	j->s = s;
	if (s->o.syslog_seconds <= 0)
		return;
	progress(s, "capturing the device log for %d s", s->o.syslog_seconds);
	r = start_service(s, "com.apple.syslog_relay", &svc, why, sizeof(why));
	if (r != IDEV_OK) {
		add_error(s, IDEV_PROBE_SYSLOG, why);
		return;
	}
	if (idevice_connect(s->dev, svc->port, &j->conn) != IDEVICE_E_SUCCESS) {
		lockdownd_service_descriptor_free(svc);
		j->conn = NULL;
		why_failed(s, "the connection to the log service", 0, why, sizeof(why));
		add_error(s, IDEV_PROBE_SYSLOG, why);
		return;
	}
	if (svc->ssl_enabled) {
		j->ssl = 1;
		idevice_connection_enable_ssl(j->conn);
	}
	lockdownd_service_descriptor_free(svc);
	norm_syslog_init(&j->sl);
	j->end = util_now_ms() + (long long)s->o.syslog_seconds * 1000;
	j->active = 1;
	j->threaded = pthread_create(&j->tid, NULL, syslog_stream, j) == 0;
}

static void
syslog_end(struct idev_session *s, struct syslog_job *j)
{
	char why[256];
	json_t *o;

	if (!j->active)
		return;
	if (j->threaded) {
		if (util_now_ms() < j->end && !cancelled(s))
			progress(s, "capturing the device log for %d s", s->o.syslog_seconds);
		pthread_join(j->tid, NULL);
	} else {
		syslog_stream(j); /* no thread to be had: capture now, after the crash copy */
	}
	o = json_object();
	json_object_set_new(o, "seconds", json_integer(s->o.syslog_seconds));
	json_object_set_new(o, "lines", json_integer((json_int_t)j->sl.seen));
	json_object_set_new(o, "truncated", json_boolean(j->sl.truncated));
	json_object_set_new(o, "signatures", json_array());
	json_object_set(o, "log", j->sl.lines);
	json_object_set_new(s->snap, "syslog", o);
	norm_syslog_free(&j->sl);
	if (j->lost) {
		why_failed(s, "syslog capture", 0, why, sizeof(why));
		add_error(s, IDEV_PROBE_SYSLOG, why);
	} else if (cancelled(s)) {
		add_error(s, IDEV_PROBE_SYSLOG, "syslog capture stopped early (session cancelled)");
	}
	j->active = 0;
}

/* ---------------------------------------------------------------- crashes */

struct crash_file {
	char *path; /* on the device, relative to the crash root */
	unsigned long long size;
};

struct crash_walk {
	struct crash_file *files;
	size_t n;
	json_t *skipped; /* [{name, reason}] */
	int lost;
	long long deadline; /* the whole crashes probe, util_now_ms() */
	int late;
	char why[256];
};

/* The crashes probe as a whole has a deadline too: a device that answers, but slowly, on
 * every AFC request must not hold the session for minutes. */
static int
crash_late(struct crash_walk *w)
{
	if (!w->late && util_now_ms() > w->deadline)
		w->late = 1;
	return w->late;
}

static void
skip_note(struct crash_walk *w, const char *name, const char *reason)
{
	json_t *e;

	if (json_array_size(w->skipped) >= 200)
		return;
	e = json_object();
	json_object_set_new(e, "name", norm_string(name, strlen(name), 512, NULL));
	json_object_set_new(e, "reason", json_string(reason));
	json_array_append_new(w->skipped, e);
}

/* A safe single path component from an AFC entry ("./x", "d/x" -> "x"); NULL for . / .. / junk. */
static const char *
entry_base(const char *e)
{
	const char *b = strrchr(e, '/');

	b = b ? b + 1 : e;
	if (*b == '\0' || strcmp(b, ".") == 0 || strcmp(b, "..") == 0 || strlen(b) > 255)
		return NULL;
	for (const char *p = b; *p; p++)
		if ((unsigned char)*p < 0x20)
			return NULL;
	return b;
}

static int
afc_lost(afc_error_t e)
{
	return e == AFC_E_MUX_ERROR || e == AFC_E_SERVICE_NOT_CONNECTED || e == AFC_E_OP_TIMEOUT ||
	       e == AFC_E_NOT_ENOUGH_DATA || e == AFC_E_OP_HEADER_INVALID || e == AFC_E_UNKNOWN_ERROR;
}

static void
crash_walk_dir(struct idev_session *s, afc_client_t afc, const char *dir, int depth, struct crash_walk *w)
{
	char **list = NULL;
	afc_error_t e;

	if (w->lost || cancelled(s) || crash_late(w))
		return;
	e = afc_read_directory(afc, dir, &list);
	if (e == AFC_E_SUCCESS && list == NULL) {
		/* a real listing holds "." and ".." at least: libimobiledevice 1.3.0 says success
		 * with no list when a reply's lengths were lies (a 4 GiB entire_length) */
		if (depth == 0) {
			w->lost = 1;
			snprintf(w->why, sizeof(w->why),
			         "crash reports: the device sent a listing that cannot be read (its "
			         "lengths are wrong); none were read");
		} else {
			skip_note(w, dir, "folder listing cannot be read");
		}
		return;
	}
	if (e != AFC_E_SUCCESS) {
		if (afc_lost(e)) {
			w->lost = 1;
			why_failed(s, "the crash report listing", e == AFC_E_OP_TIMEOUT, w->why,
			           sizeof(w->why));
		} else if (depth == 0) {
			/* the top folder unreadable is no crash report read, not "no crash reports" */
			w->lost = 1;
			snprintf(w->why, sizeof(w->why),
			         "crash reports: the device refused to list them (AFC error %d)", (int)e);
		} else {
			skip_note(w, dir, "folder could not be listed");
		}
		return;
	}
	for (size_t i = 0; list && list[i] && !w->lost; i++) {
		const char *b = entry_base(list[i]);
		char *path, **info = NULL;
		unsigned long long size = 0;
		const char *fmt = NULL;

		/* the budget holds per entry: 30,000 slow entries in one folder once took 188 s */
		if (cancelled(s) || crash_late(w))
			break;
		if (b == NULL) {
			/* "." and "..": nothing to say; any other refused name is noted, cleaned (a
			 * control character never reaches the snapshot), so nothing vanishes unsaid */
			const char *raw = strrchr(list[i], '/');
			raw = raw ? raw + 1 : list[i];
			if (*raw != '\0' && strcmp(raw, ".") != 0 && strcmp(raw, "..") != 0) {
				char clean[256];
				size_t n = 0;
				for (const char *q = raw; *q && n + 1 < sizeof(clean); q++)
					clean[n++] = (unsigned char)*q < 0x20 ? '?' : *q;
				clean[n] = '\0';
				skip_note(w, clean,
				          strlen(raw) > 255 ? "a name over 255 bytes: not copied"
				                            : "a name with a control character: not copied");
			}
			continue;
		}
		path = strcmp(dir, ".") == 0 ? xstrdup(b) : xasprintf("%s/%s", dir, b);
		e = afc_get_file_info(afc, path, &info);
		if (e != AFC_E_SUCCESS) {
			if (afc_lost(e)) {
				w->lost = 1;
				why_failed(s, "the crash report listing", e == AFC_E_OP_TIMEOUT, w->why,
				           sizeof(w->why));
			} else {
				skip_note(w, path, "no file information");
			}
			free(path);
			continue;
		}
		for (size_t k = 0; info && info[k] && info[k + 1]; k += 2) {
			if (strcmp(info[k], "st_ifmt") == 0)
				fmt = info[k + 1];
			else if (strcmp(info[k], "st_size") == 0)
				size = strtoull(info[k + 1], NULL, 10);
		}
		if (fmt && strcmp(fmt, "S_IFDIR") == 0) {
			if (depth + 1 > CRASH_MAX_DEPTH)
				skip_note(w, path, "folder nested too deep");
			else
				crash_walk_dir(s, afc, path, depth + 1, w);
		} else if (fmt == NULL || strcmp(fmt, "S_IFREG") != 0) {
			skip_note(w, path, "not a regular file");
		} else if (!norm_crash_name_ok(b)) {
			skip_note(w, path, "not a crash report (name)");
		} else if (size > CRASH_MAX_FILE) {
			skip_note(w, path, "larger than 32 MiB: not copied");
		} else if (w->n >= CRASH_MAX_FILES) {
			skip_note(w, path, "more than 1000 reports: not copied");
		} else {
			w->files = xrealloc(w->files, (w->n + 1) * sizeof(*w->files));
			w->files[w->n].path = path;
			w->files[w->n].size = size;
			w->n++;
			path = NULL;
		}
		free(path);
		if (info)
			afc_dictionary_free(info);
	}
	if (list)
		afc_dictionary_free(list);
}

/* Open crash_dir/<rel> for writing, creating folders; -1 on error. */
static int
open_local(const char *crash_dir, const char *rel)
{
	char *p = xasprintf("%s/%s", crash_dir, rel), *slash;
	int fd;

	slash = strrchr(p, '/');
	if (slash) {
		*slash = '\0';
		util_mkdir_p(p, 0700);
		*slash = '/';
	}
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(p);
	return fd;
}

static int
cmp_crash(const void *a, const void *b)
{
	return strcmp(((const struct crash_file *)a)->path, ((const struct crash_file *)b)->path);
}

/* Copy one report (never removing it): stream to disk, keep the head to parse. */
static int
crash_copy(struct idev_session *s, afc_client_t afc, const struct crash_file *f, struct crash_walk *w,
           json_t *crashes, unsigned long long *total)
{
	uint64_t h = 0;
	afc_error_t e;
	char *head, *chunk, why[256];
	size_t hlen = 0;
	unsigned long long got = 0;
	int fd = -1, werr = 0;
	json_t *c;

	e = afc_file_open(afc, f->path, AFC_FOPEN_RDONLY, &h);
	if (e != AFC_E_SUCCESS) {
		if (afc_lost(e)) {
			w->lost = 1;
			why_failed(s, "the crash report copy", e == AFC_E_OP_TIMEOUT, w->why, sizeof(w->why));
			return -1;
		}
		skip_note(w, f->path, "could not be opened");
		return 0;
	}
	if (s->o.crash_dir && (fd = open_local(s->o.crash_dir, f->path)) < 0)
		werr = errno;
	head = xmalloc(CRASH_HEAD);
	chunk = xmalloc(CRASH_CHUNK);
	for (;;) {
		uint32_t n = 0;
		if (cancelled(s) || crash_late(w))
			break;
		e = afc_file_read(afc, h, chunk, CRASH_CHUNK, &n);
		if (e != AFC_E_SUCCESS) {
			if (afc_lost(e)) {
				w->lost = 1;
				why_failed(s, "the crash report copy", e == AFC_E_OP_TIMEOUT, w->why,
				           sizeof(w->why));
			}
			break;
		}
		if (n == 0)
			break;
		if (got + n > CRASH_MAX_FILE || *total + n > CRASH_MAX_TOTAL) {
			werr = werr ? werr : EFBIG;
			break; /* the device sends more than it said: stop at the cap */
		}
		if (hlen < CRASH_HEAD) {
			size_t k = n < CRASH_HEAD - hlen ? n : CRASH_HEAD - hlen;
			memcpy(head + hlen, chunk, k);
			hlen += k;
		}
		if (fd >= 0 && !werr) {
			size_t off = 0;
			while (off < n) {
				ssize_t wr = write(fd, chunk + off, n - off);
				if (wr < 0) {
					if (errno == EINTR)
						continue;
					werr = errno;
					break;
				}
				off += (size_t)wr;
			}
		}
		got += n;
		*total += n;
		/* All the bytes the listing announced are here: no extra round trip to read EOF. */
		if (f->size > 0 && got >= f->size)
			break;
	}
	if (!w->lost)
		afc_file_close(afc, h);
	if (fd >= 0)
		close(fd);
	free(chunk);
	if (w->lost) {
		free(head);
		return -1;
	}
	c = norm_crash_parse(f->path, head, hlen, (size_t)got, why, sizeof(why));
	free(head);
	if (c == NULL) {
		skip_note(w, f->path, why);
	} else {
		if (got != f->size)
			json_object_set_new(c, "size_mismatch", json_true());
		json_array_append_new(crashes, c);
	}
	if (werr == EFBIG)
		skip_note(w, f->path, "copy stopped at the size cap");
	else if (werr)
		skip_note(w, f->path, "could not be written to the crash folder");
	return 0;
}

/*
 * Copying in parallel: every report costs open, read and close round trips, and a phone answers
 * each after its own latency, so a few AFC connections (one crashreportcopymobile service each)
 * copy a few reports at once. Worker k copies files k, k + K, ...; each has its own crash_walk
 * (skip notes, lost, late) and its own share of the total cap, and one result array per file so
 * the snapshot lists reports in the same (sorted) order as a sequential copy.
 */
struct crash_worker {
	struct idev_session *s;
	afc_client_t afc;
	struct crash_walk *files; /* the listing (read only) */
	size_t k, nworkers;
	json_t **results; /* per file, shared array; a worker writes only its own slots */
	struct crash_walk w;
	unsigned long long total;
	pthread_t tid;
	int started;
};

static void *
crash_worker_main(void *arg)
{
	struct crash_worker *cw = arg;
	struct crash_walk *all = cw->files;

	for (size_t i = cw->k; i < all->n && !cw->w.lost && !cancelled(cw->s) && !crash_late(&cw->w);
	     i += cw->nworkers) {
		progress_n(cw->s, "reading crash reports", i + 1, all->n);
		crash_copy(cw->s, cw->afc, &all->files[i], &cw->w, cw->results[i], &cw->total);
	}
	return NULL;
}

/* Copy every listed report with up to CRASH_WORKERS connections; afc is the listing's client. */
static void
crash_copy_all(struct idev_session *s, afc_client_t afc, struct crash_walk *w, json_t *crashes)
{
	struct crash_worker cw[CRASH_WORKERS];
	json_t **results;
	size_t nw = w->n < CRASH_WORKERS ? w->n : CRASH_WORKERS, i;

	if (w->n == 0)
		return;
	results =
	    xcalloc(w->n, sizeof(*results)); /* NOLINT(bugprone-sizeof-expression): an array of pointers */
	for (i = 0; i < w->n; i++)
		results[i] = json_array();
	memset(cw, 0, sizeof(cw));
	cw[0].afc = afc;
	/* extra connections: StartService on the (single-threaded) lockdown client, here */
	for (i = 1; i < nw; i++) {
		lockdownd_service_descriptor_t svc = NULL;
		char why[256];
		if (cancelled(s) ||
		    start_service(s, "com.apple.crashreportcopymobile", &svc, why, sizeof(why)) != IDEV_OK)
			break;
		if (afc_client_new(s->dev, svc, &cw[i].afc) != AFC_E_SUCCESS)
			cw[i].afc = NULL;
		lockdownd_service_descriptor_free(svc);
		if (cw[i].afc == NULL)
			break;
	}
	nw = i;
	for (i = 0; i < nw; i++) {
		cw[i].s = s;
		cw[i].files = w;
		cw[i].k = i;
		cw[i].nworkers = nw;
		cw[i].results = results;
		cw[i].w.skipped = json_array();
		cw[i].w.deadline = w->deadline;
		/* each worker may copy its share of CRASH_MAX_TOTAL */
		cw[i].total = CRASH_MAX_TOTAL - CRASH_MAX_TOTAL / nw;
		if (i > 0)
			cw[i].started = pthread_create(&cw[i].tid, NULL, crash_worker_main, &cw[i]) == 0;
	}
	/* a worker that could not start leaves its files to this thread */
	for (i = 1; i < nw; i++)
		if (!cw[i].started)
			crash_worker_main(&cw[i]);
	crash_worker_main(&cw[0]);
	for (i = 1; i < nw; i++)
		if (cw[i].started)
			pthread_join(cw[i].tid, NULL);
	for (i = 0; i < w->n; i++) {
		json_array_extend(crashes, results[i]);
		json_decref(results[i]);
	}
	free(results);
	for (i = 0; i < nw; i++) {
		const json_t *e;
		size_t k;
		json_array_foreach(cw[i].w.skipped, k, e)
		{
			if (json_array_size(w->skipped) < 200)
				json_array_append(w->skipped, (json_t *)e);
		}
		json_decref(cw[i].w.skipped);
		if (cw[i].w.lost && !w->lost) {
			w->lost = 1;
			util_strlcpy(w->why, cw[i].w.why, sizeof(w->why));
		}
		if (cw[i].w.late)
			w->late = 1;
		if (i > 0)
			afc_client_free(cw[i].afc);
	}
}

static void
probe_crashes(struct idev_session *s)
{
	lockdownd_service_descriptor_t svc = NULL;
	idevice_connection_t conn = NULL;
	afc_client_t afc = NULL;
	struct crash_walk w;
	char why[256];
	json_t *crashes;
	long long budget_ms;
	int r;

	progress(s, "asking the device to gather its crash reports");
	/* 1. crashreportmover: moves pending reports into place, then says "ping" */
	r = start_service(s, "com.apple.crashreportmover", &svc, why, sizeof(why));
	if (r != IDEV_OK) {
		add_error(s, IDEV_PROBE_CRASHES, why);
		return;
	}
	if (idevice_connect(s->dev, svc->port, &conn) == IDEVICE_E_SUCCESS) {
		char ping[8];
		size_t have = 0;
		long long end = util_now_ms() + 5000;
		while (have < 4 && util_now_ms() < end && !cancelled(s)) {
			uint32_t got = 0;
			idevice_error_t ie = idevice_connection_receive_timeout(
			    conn, ping + have, (uint32_t)(sizeof(ping) - have), &got, 500);
			have += got;
			if (ie != IDEVICE_E_SUCCESS && ie != IDEVICE_E_TIMEOUT)
				break;
			if (ie == IDEVICE_E_TIMEOUT && got == 0 && conn_eof(conn))
				break;
		}
		idevice_disconnect(conn);
	}
	lockdownd_service_descriptor_free(svc);
	svc = NULL;

	/* 2. crashreportcopymobile: AFC, read-only use */
	r = start_service(s, "com.apple.crashreportcopymobile", &svc, why, sizeof(why));
	if (r != IDEV_OK) {
		add_error(s, IDEV_PROBE_CRASHES, why);
		return;
	}
	if (afc_client_new(s->dev, svc, &afc) != AFC_E_SUCCESS) {
		lockdownd_service_descriptor_free(svc);
		why_failed(s, "the connection to the crash report service", 0, why, sizeof(why));
		add_error(s, IDEV_PROBE_CRASHES, why);
		return;
	}
	lockdownd_service_descriptor_free(svc);
	memset(&w, 0, sizeof(w));
	w.skipped = json_array();
	w.deadline = util_now_ms() + CRASH_DEADLINE_MS;
	if (s->o.budget_s > 0) {
		/* leave the rest of the session (snapshot, signatures) room before its deadline */
		long long end = s->started_ms + (long long)s->o.budget_s * 1000 - CRASH_MARGIN_MS;
		if (end < w.deadline)
			w.deadline = end;
	}
	budget_ms = w.deadline - util_now_ms();
	progress(s, "listing crash reports");
	crash_walk_dir(s, afc, ".", 0, &w);
	crashes = json_array();
	if (w.n > 1)
		qsort(w.files, w.n, sizeof(*w.files), cmp_crash);
	if (!w.lost && !cancelled(s) && !crash_late(&w))
		crash_copy_all(s, afc, &w, crashes);
	for (size_t i = 0; i < w.n; i++)
		free(w.files[i].path);
	free(w.files);
	afc_client_free(afc);
	json_object_set_new(s->snap, "crashes", crashes);
	if (json_array_size(w.skipped) > 0)
		json_object_set(s->raw, "crashes_skipped", w.skipped);
	json_decref(w.skipped);
	if (w.lost) {
		add_error(s, IDEV_PROBE_CRASHES, w.why);
	} else if (w.late) {
		snprintf(
		    why, sizeof(why),
		    "crash reports: the device was too slow, copying stopped after %lld s (%zu reports read)",
		    budget_ms > 0 ? (budget_ms + 500) / 1000 : 0, json_array_size(crashes));
		add_error(s, IDEV_PROBE_CRASHES, why);
	} else if (cancelled(s))
		add_error(s, IDEV_PROBE_CRASHES, "crash report copy stopped early (session cancelled)");
	if (!w.lost && !cancelled(s)) {
		size_t panics = 0, k;
		json_t *c, *v;
		json_array_foreach(crashes, k, c)
		{
			const char *bt = json_string_value(json_object_get(c, "bug_type"));
			if (bt && strcmp(bt, "210") == 0)
				panics++;
		}
		v = json_pack("{s:I, s:I}", "panics", (json_int_t)panics, "reports",
		              (json_int_t)json_array_size(crashes));
		if (w.late)
			json_object_set_new(v, "complete", json_false());
		reading(s, "crashes", v);
		json_decref(v);
	}
}

/* ---------------------------------------------------------------- snapshot */

static int
wanted(const struct idev_session *s, const char *probe)
{
	if (s->o.probes == NULL || s->o.nprobes == 0)
		return 1;
	for (size_t i = 0; i < s->o.nprobes; i++)
		if (s->o.probes[i] && strcmp(s->o.probes[i], probe) == 0)
			return 1;
	return 0;
}

static json_t *
snapshot_skeleton(void)
{
	json_t *s = json_object();
	char ts[40];

	util_rfc3339(time(NULL), ts, sizeof(ts));
	json_object_set_new(s, "schema", json_string("benchd.snapshot/1"));
	json_object_set_new(s, "captured_at", json_string(ts));
	json_object_set_new(s, "software", json_string("benchd " BENCHD_VERSION));
	json_object_set_new(s, "probes", json_array());
	json_object_set_new(s, "device", json_object());
	json_object_set_new(s, "raw", json_object());
	json_object_set_new(s, "errors", json_array());
	return s;
}

static const char *
lockdown_word(int err)
{
	switch (err) {
	case IDEV_E_LOCKED:
		return "locked";
	case IDEV_E_UNTRUSTED:
		return "untrusted";
	case IDEV_E_PAIRING_PENDING:
		return "pairing-pending";
	default:
		return "ok";
	}
}

int
idev_session_snapshot(struct idev_session *s, json_t **snapshot,
                      char *why, /* NOLINT(readability-non-const-parameter): the API out-parameter */
                      size_t whylen)
{
	json_t *device, *usb, *probes, *bdom = NULL;
	struct syslog_job sj = {0};
	struct diag d;
	int r, need_diag;
	const char *order[] = {IDEV_PROBE_INFO, IDEV_PROBE_BATTERY, IDEV_PROBE_DIAGNOSTICS, IDEV_PROBE_SYSLOG,
	                       IDEV_PROBE_CRASHES};

	*snapshot = NULL;
	json_decref(s->snap);
	s->snap = snapshot_skeleton();
	s->errors = json_object_get(s->snap, "errors");
	s->raw = json_object_get(s->snap, "raw");
	device = json_object_get(s->snap, "device");
	probes = json_object_get(s->snap, "probes");
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (i == 0 || wanted(s, order[i]))
			if (!(strcmp(order[i], IDEV_PROBE_SYSLOG) == 0 && s->o.syslog_seconds <= 0))
				json_array_append_new(probes, json_string(order[i]));

	json_object_set_new(device, "udid", json_string(s->udid));
	/* info is always read: every other probe needs to know the device */
	probe_info(s, device, &bdom);
	json_object_set_new(device, "udid", json_string(s->udid)); /* the usbmux id wins */
	json_object_set_new(device, "mode", json_string("normal"));
	usb = json_object();
	json_object_set_new(usb, "vendor_id", json_integer(0x05ac));
	if (s->product_id)
		json_object_set_new(usb, "product_id", json_integer(s->product_id));
	json_object_set_new(device, "usb", usb);

	need_diag = wanted(s, IDEV_PROBE_BATTERY) || wanted(s, IDEV_PROBE_DIAGNOSTICS);
	if (need_diag && !cancelled(s) && s->device_err != IDEV_E_UNPLUGGED) {
		char dwhy[256];
		r = diag_open(s, &d, dwhy, sizeof(dwhy));
		if (r == IDEV_OK) {
			if (wanted(s, IDEV_PROBE_BATTERY))
				probe_battery(s, &d, bdom);
			if (wanted(s, IDEV_PROBE_DIAGNOSTICS) && !cancelled(s))
				probe_diagnostics(s, &d);
			diag_close(&d);
		} else {
			if (wanted(s, IDEV_PROBE_BATTERY))
				add_error(s, IDEV_PROBE_BATTERY, dwhy);
			if (wanted(s, IDEV_PROBE_DIAGNOSTICS))
				add_error(s, IDEV_PROBE_DIAGNOSTICS, dwhy);
		}
	}
	if (wanted(s, IDEV_PROBE_SYSLOG) && s->o.syslog_seconds > 0) {
		if (s->device_err == IDEV_E_LOCKED || s->device_err == IDEV_E_UNPLUGGED || cancelled(s))
			add_error(s, IDEV_PROBE_SYSLOG,
			          cancelled(s) ? "not read (session cancelled)"
			                       : idev_strerror(s->device_err));
		else
			syslog_begin(s, &sj); /* streams on its own thread while the crashes are copied */
	}
	if (wanted(s, IDEV_PROBE_CRASHES)) {
		if (s->device_err == IDEV_E_LOCKED || s->device_err == IDEV_E_UNPLUGGED || cancelled(s))
			add_error(s, IDEV_PROBE_CRASHES,
			          cancelled(s) ? "not read (session cancelled)"
			                       : idev_strerror(s->device_err));
		else
			probe_crashes(s);
	}
	syslog_end(s, &sj);
	json_object_set_new(device, "lockdown", json_string(lockdown_word(s->device_err)));
	if (s->device_err == IDEV_E_UNPLUGGED)
		setwhy(s->device_why, sizeof(s->device_why), "device was unplugged during the read");
	(void)why;
	(void)whylen;
	*snapshot = s->snap;
	s->snap = NULL;
	return IDEV_OK;
}

json_t *
idev_snapshot_unreadable(const char *udid, int err, const char *why)
{
	json_t *s = snapshot_skeleton(), *d = json_object_get(s, "device"), *e = json_object(), *usb;
	unsigned pid = 0;

	if (udid) {
		json_object_set_new(d, "udid", norm_string(udid, strlen(udid), 64, NULL));
		still_attached(udid, &pid);
	}
	json_object_set_new(d, "mode", json_string("normal"));
	json_object_set_new(d, "lockdown", json_string(lockdown_word(err)));
	usb = json_object();
	json_object_set_new(usb, "vendor_id", json_integer(0x05ac));
	if (pid)
		json_object_set_new(usb, "product_id", json_integer(pid));
	json_object_set_new(d, "usb", usb);
	json_object_set_new(e, "probe", json_string(IDEV_PROBE_INFO));
	json_object_set_new(e, "reason", json_string(why && *why ? why : idev_strerror(err)));
	json_array_append_new(json_object_get(s, "errors"), e);
	return s;
}

/* Device strings for a terminal: printable bytes only (UTF-8 kept), bounded. */
static void
printable(char *dst, const char *src, size_t dstlen)
{
	size_t o = 0;

	for (; *src && o + 1 < dstlen; src++)
		dst[o++] = ((unsigned char)*src < 0x20 || *src == 0x7f) ? '?' : *src;
	dst[o] = '\0';
}

int
idev_peek(const char *udid, char *product_type, size_t ptlen, char *name, size_t namelen)
{
	idevice_t dev = NULL;
	lockdownd_client_t c = NULL;
	plist_t v = NULL;
	const char *str = NULL;

	if (product_type && ptlen)
		product_type[0] = '\0';
	if (name && namelen)
		name[0] = '\0';
	if (idevice_new_with_options(&dev, udid, IDEVICE_LOOKUP_USBMUX) != IDEVICE_E_SUCCESS)
		return IDEV_E_NOT_FOUND;
	/* no handshake: ProductType and DeviceName are answered before a session, like ideviceinfo -s */
	if (lockdownd_client_new(dev, &c, "benchd") != LOCKDOWN_E_SUCCESS) {
		idevice_free(dev);
		return IDEV_E_PROTOCOL;
	}
	if (product_type && lockdownd_get_value(c, NULL, "ProductType", &v) == LOCKDOWN_E_SUCCESS && v) {
		if (plist_get_node_type(v) == PLIST_STRING && (str = plist_get_string_ptr(v, NULL)) != NULL)
			printable(product_type, str, ptlen);
		plist_free(v);
		v = NULL;
	}
	if (name && lockdownd_get_value(c, NULL, "DeviceName", &v) == LOCKDOWN_E_SUCCESS && v) {
		if (plist_get_node_type(v) == PLIST_STRING && (str = plist_get_string_ptr(v, NULL)) != NULL)
			printable(name, str, namelen);
		plist_free(v);
	}
	lockdownd_client_free(c);
	idevice_free(dev);
	return IDEV_OK;
}

/* A string value of the Root domain, printable, into out ("" when absent or not a string). */
static void
get_root_string(lockdownd_client_t c, const char *key, char *out, size_t outlen)
{
	plist_t v = NULL;
	const char *str;

	out[0] = '\0';
	if (lockdownd_get_value(c, NULL, key, &v) == LOCKDOWN_E_SUCCESS && v != NULL &&
	    plist_get_node_type(v) == PLIST_STRING && (str = plist_get_string_ptr(v, NULL)) != NULL)
		printable(out, str, outlen);
	plist_free(v);
}

int
idev_peek_serial(const char *udid, char *serial, size_t seriallen)
{
	idevice_t dev = NULL;
	lockdownd_client_t c = NULL;
	char *rec = NULL;
	uint32_t reclen = 0;

	if (seriallen == 0)
		return IDEV_E_PROTOCOL;
	serial[0] = '\0';
	if (idevice_new_with_options(&dev, udid, IDEVICE_LOOKUP_USBMUX) != IDEVICE_E_SUCCESS)
		return IDEV_E_NOT_FOUND;
	if (lockdownd_client_new(dev, &c, "benchd") == LOCKDOWN_E_SUCCESS) {
		get_root_string(c, "SerialNumber", serial, seriallen);
		lockdownd_client_free(c);
		c = NULL;
	}
	/* Only with a pair record: lockdownd_client_new_with_handshake pairs when there is none. */
	if (serial[0] == '\0' && usbmuxd_read_pair_record(udid, &rec, &reclen) == 0) {
		free(rec);
		if (lockdownd_client_new_with_handshake(dev, &c, "benchd") == LOCKDOWN_E_SUCCESS) {
			get_root_string(c, "SerialNumber", serial, seriallen);
			lockdownd_client_free(c);
		}
	}
	idevice_free(dev);
	return serial[0] ? IDEV_OK : IDEV_E_PROTOCOL;
}
