/*
 * com.apple.mobile.diagnostics_relay: lockdown-framed XML plists, one reply per request, shaped
 * like a real device's ({Status, Diagnostics}). Answers come from the profile's IORegistry,
 * MobileGestalt and Diagnostics dicts (DESIGN.md 4.2, PROTOCOL.md 5). Owns nothing beyond the
 * connection it serves; the profile plist is only read and copied.
 */
#include "svc.h"

#include <string.h>

#define DIAG_MAX_GESTALT_KEYS 256

/* EntryClass queries that a real registry answers with a subclass (AppleSmartBattery is an
 * IOPMPowerSource: pymobiledevice3 asks for the class). */
static const struct {
	const char *cls;
	const char *entries[3];
} diag_subclasses[] = {
    {"IOPMPowerSource", {"AppleSmartBattery", "AppleARMPMUCharger", NULL}},
};

static const char *
diag_str(plist_t dict, const char *key)
{
	plist_t n = dict ? plist_dict_get_item(dict, key) : NULL;

	if (!n || plist_get_node_type(n) != PLIST_STRING)
		return NULL;
	return plist_get_string_ptr(n, NULL);
}

static plist_t
diag_reply(const char *status, plist_t diagnostics)
{
	plist_t r = plist_new_dict();

	plist_dict_set_item(r, "Status", plist_new_string(status));
	if (diagnostics)
		plist_dict_set_item(r, "Diagnostics", diagnostics);
	return r;
}

static plist_t
diag_ioreg_lookup(const struct emu_device *d, const char *name)
{
	plist_t reg = emu_profile_get(d, "IORegistry", NULL);
	plist_t e;
	size_t i, j;

	if (!reg || plist_get_node_type(reg) != PLIST_DICT || !name || !*name)
		return NULL;
	e = plist_dict_get_item(reg, name);
	if (e && plist_get_node_type(e) == PLIST_DICT)
		return e;
	for (i = 0; i < sizeof(diag_subclasses) / sizeof(diag_subclasses[0]); i++) {
		if (strcmp(diag_subclasses[i].cls, name) != 0)
			continue;
		for (j = 0; diag_subclasses[i].entries[j]; j++) {
			e = plist_dict_get_item(reg, diag_subclasses[i].entries[j]);
			if (e && plist_get_node_type(e) == PLIST_DICT)
				return e;
		}
	}
	return NULL;
}

/* {Request:"IORegistry", EntryName?, EntryClass?, CurrentPlane?}: "" counts as absent (the
 * 1.3.0 tool sends EntryClass ""); nothing matching is an empty dict, as real devices answer. */
static plist_t
diag_ioregistry(const struct emu_device *d, plist_t req)
{
	const char *name = diag_str(req, "EntryName");
	const char *cls = diag_str(req, "EntryClass");
	plist_t e = NULL, wrap = plist_new_dict();

	if (name && *name)
		e = diag_ioreg_lookup(d, name);
	if (!e && cls && *cls)
		e = diag_ioreg_lookup(d, cls);
	/* Planes stopped answering in iOS 9.1: an empty registry, like a real device. */
	plist_dict_set_item(wrap, "IORegistry", e ? plist_copy(e) : plist_new_dict());
	return diag_reply("Success", wrap);
}

/* {Request:"MobileGestalt", MobileGestaltKeys:[...]}: the asked keys the profile knows, plus
 * Status; from iOS 17.4 every query answers Status "MobileGestaltDeprecated" inside a
 * successful reply. */
static plist_t
diag_gestalt(const struct emu_device *d, plist_t req)
{
	plist_t mg = emu_profile_get(d, "MobileGestalt", NULL);
	plist_t keys = plist_dict_get_item(req, "MobileGestaltKeys");
	plist_t out, wrap;
	uint32_t i, n;

	if (!keys || plist_get_node_type(keys) != PLIST_ARRAY)
		return diag_reply("Failure", NULL);
	n = plist_array_get_size(keys);
	if (n > DIAG_MAX_GESTALT_KEYS)
		return diag_reply("Failure", NULL);
	out = plist_new_dict();
	if (mg && plist_get_node_type(mg) == PLIST_STRING) {
		const char *s = plist_get_string_ptr(mg, NULL);

		if (s && strcmp(s, "Deprecated") == 0) {
			plist_dict_set_item(out, "Status", plist_new_string("MobileGestaltDeprecated"));
			goto done;
		}
	}
	for (i = 0; i < n; i++) {
		plist_t k = plist_array_get_item(keys, i), v;
		const char *key;

		if (!k || plist_get_node_type(k) != PLIST_STRING)
			continue;
		key = plist_get_string_ptr(k, NULL);
		if (!key || !mg || plist_get_node_type(mg) != PLIST_DICT)
			continue;
		v = plist_dict_get_item(mg, key);
		if (v)
			plist_dict_set_item(out, key, plist_copy(v));
	}
	plist_dict_set_item(out, "Status", plist_new_string("Success"));
done:
	wrap = plist_new_dict();
	plist_dict_set_item(wrap, "MobileGestalt", out);
	return diag_reply("Success", wrap);
}

/* The Diagnostics value for one type: the profile's Diagnostics/<type> verbatim when it is
 * already wrapped ({GasGauge:{...}}), wrapped when it is the inner dict. */
static plist_t
diag_one(const struct emu_device *d, const char *type)
{
	plist_t v = emu_profile_get(d, "Diagnostics", type, NULL), w;

	if (!v || plist_get_node_type(v) != PLIST_DICT) {
		/* only in "All" (HDMI in the bundled profiles): answer that part */
		v = emu_profile_get(d, "Diagnostics", "All", type, NULL);
		if (!v || plist_get_node_type(v) != PLIST_DICT)
			return NULL;
	}
	if (plist_dict_get_item(v, type))
		return plist_copy(v);
	w = plist_new_dict();
	plist_dict_set_item(w, type, plist_copy(v));
	return w;
}

static plist_t
diag_diagnostics(const struct emu_device *d, const char *type)
{
	static const char *const parts[] = {"GasGauge", "HDMI", "NAND", "WiFi"};
	plist_t all, v;
	size_t i;

	if (strcmp(type, "All") != 0) {
		v = diag_one(d, type);
		return v ? diag_reply("Success", v) : diag_reply("Failure", NULL);
	}
	v = emu_profile_get(d, "Diagnostics", "All", NULL);
	if (v && plist_get_node_type(v) == PLIST_DICT)
		return diag_reply("Success", plist_copy(v));
	/* No "All" in the profile: put it together from the parts it has. */
	all = plist_new_dict();
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		plist_t one = diag_one(d, parts[i]);

		if (one) {
			plist_t inner = plist_dict_get_item(one, parts[i]);

			plist_dict_set_item(all, parts[i], plist_copy(inner));
			plist_free(one);
		}
	}
	return diag_reply("Success", all);
}

/* One request -> one reply (never NULL); *done is set when the client said Goodbye. */
static plist_t
diag_handle(const struct emu_device *d, plist_t req, int *done)
{
	const char *r = diag_str(req, "Request");

	if (!r)
		return diag_reply("UnknownRequest", NULL);
	if (strcmp(r, "Goodbye") == 0) {
		*done = 1;
		return diag_reply("Success", NULL);
	}
	if (strcmp(r, "IORegistry") == 0)
		return diag_ioregistry(d, req);
	if (strcmp(r, "MobileGestalt") == 0)
		return diag_gestalt(d, req);
	if (strcmp(r, "All") == 0 || strcmp(r, "GasGauge") == 0 || strcmp(r, "NAND") == 0 ||
	    strcmp(r, "WiFi") == 0 || strcmp(r, "HDMI") == 0)
		return diag_diagnostics(d, r);
	/* The device would go away after these; the emulated one stays (the tool only checks
	 * the Status). */
	if (strcmp(r, "Restart") == 0 || strcmp(r, "Shutdown") == 0 || strcmp(r, "Sleep") == 0)
		return diag_reply("Success", NULL);
	return diag_reply("UnknownRequest", NULL);
}

void
svc_diagnostics_serve(int fd, struct emu_device *d)
{
	int done = 0;

	while (!done && !atomic_load(&d->detached)) {
		plist_t req = NULL, rep;
		int rc;

		if (emu_plist_recv(fd, &req, EMU_READ_TIMEOUT_MS, d) != 0)
			return;
		if (emu_should_disconnect(d, "diagnostics")) {
			plist_free(req);
			return;
		}
		if (plist_get_node_type(req) == PLIST_DICT)
			rep = diag_handle(d, req, &done);
		else
			rep = diag_reply("UnknownRequest", NULL);
		plist_free(req);
		emu_delay(d);
		rc = emu_hostile_plist_send(fd, rep, d, "diagnostics");
		plist_free(rep);
		if (rc != 0)
			return;
	}
}
