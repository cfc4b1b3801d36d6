/*
 * emu_mux: the usbmuxd side of idevice-emu (PROTOCOL.md 1).
 *
 * One connection = one thread. Requests are 16-byte little-endian headers (version 1, message 8)
 * plus a plist, XML or binary (emu_bplist.c checks the binary ones); every reply is one write, in
 * the request's format (libusbmuxd reads XML only, and sends XML). Connect turns the connection into the
 * device stream: port 62078 goes to lockdownd, a port handed out by StartService goes to that service. Listen
 * clients stay registered and receive Attached/Detached/Paired events (tag 0). The pair-record store
 * (ReadPairRecord/SavePairRecord/DeletePairRecord) lives here, keyed by the UDID without '-', guarded by
 * emu_core.lock. Never answers BADVERSION.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "emu_core.h"
#include "log.h"
#include "util.h"

#define MUX_HDR       16
#define MUX_VERSION   1
#define MUX_MSG_PLIST 8
#define MUX_PAIR_MAX  (256u * 1024) /* largest PairRecordData we keep */

enum {
	RES_OK = 0,
	RES_BADCOMMAND = 1,
	RES_BADDEV = 2,
	RES_CONNREFUSED = 3,
};

/* One message in one send, XML or binary (binary: the client wrote binary plists). flags:
 * MSG_DONTWAIT for events sent under the lock. */
static int
mux_send_fmt(int fd, uint32_t tag, plist_t p, int flags, int binary)
{
	char *xml = NULL;
	uint32_t len = 0;
	uint32_t hdr[4];
	char *msg;
	size_t total, off = 0;
	int rc = 0;

	if (core_plist_serialize(p, binary, &xml, &len) != 0)
		return -1;
	total = (size_t)len + MUX_HDR;
	hdr[0] = htole32((uint32_t)total);
	hdr[1] = htole32(MUX_VERSION);
	hdr[2] = htole32(MUX_MSG_PLIST);
	hdr[3] = htole32(tag);
	msg = xmalloc(total);
	memcpy(msg, hdr, MUX_HDR);
	memcpy(msg + MUX_HDR, xml, len);
	core_plist_serialize_free(xml, binary);
	if (flags == 0) {
		rc = emu_write_all(fd, msg, total);
	} else {
		while (off < total) {
			ssize_t w = send(fd, msg + off, total - off, MSG_NOSIGNAL | flags);
			if (w <= 0) {
				rc = -1;
				break;
			}
			off += (size_t)w;
		}
	}
	free(msg);
	return rc;
}

/* A reply on this connection's thread: in the format of the request just read. */
static int
mux_send(int fd, uint32_t tag, plist_t p, int flags)
{
	return mux_send_fmt(fd, tag, p, flags, core_plist_reply_binary());
}

static int
mux_result(int fd, uint32_t tag, uint64_t code)
{
	plist_t p = plist_new_dict();
	int rc;

	plist_dict_set_item(p, "MessageType", plist_new_string("Result"));
	plist_dict_set_item(p, "Number", plist_new_uint(code));
	rc = mux_send(fd, tag, p, 0);
	plist_free(p);
	return rc;
}

/* A request: 0 and a dict, or -1 (EOF, timeout, bad header, not an XML dict). */
static int
mux_recv(int fd, plist_t *out, uint32_t *tag)
{
	uint32_t hdr[4];
	uint32_t len, version, message;
	char *body;
	plist_t p = NULL;
	int binary = 0;

	*out = NULL;
	if (emu_read_full(fd, hdr, sizeof(hdr), EMU_READ_TIMEOUT_MS, NULL) != 0)
		return -1;
	len = le32toh(hdr[0]);
	version = le32toh(hdr[1]);
	message = le32toh(hdr[2]);
	*tag = le32toh(hdr[3]);
	if (len <= MUX_HDR || len - MUX_HDR > EMU_MUX_MAX) {
		log_debug("mux: bad length %u, closing", len);
		return -1;
	}
	if (version != MUX_VERSION || message != MUX_MSG_PLIST) {
		log_debug("mux: unsupported version %u message %u, closing", version, message);
		return -1;
	}
	body = xmalloc(len - MUX_HDR);
	if (emu_read_full(fd, body, len - MUX_HDR, EMU_READ_TIMEOUT_MS, NULL) != 0) {
		free(body);
		return -1;
	}
	p = core_plist_parse(body, len - MUX_HDR, &binary);
	free(body);
	if (p == NULL || plist_get_node_type(p) != PLIST_DICT) {
		log_debug("mux: payload is not a plist dictionary (XML or binary), closing");
		plist_free(p);
		return -1;
	}
	core_plist_set_reply_binary(binary);
	*out = p;
	return 0;
}

static const char *
dict_str(plist_t dict, const char *key)
{
	plist_t n = plist_dict_get_item(dict, key);

	if (n == NULL || plist_get_node_type(n) != PLIST_STRING)
		return NULL;
	return plist_get_string_ptr(n, NULL);
}

static int
dict_uint(plist_t dict, const char *key, uint64_t *v)
{
	plist_t n = plist_dict_get_item(dict, key);

	if (n == NULL || plist_get_node_type(n) != PLIST_UINT)
		return -1;
	plist_get_uint_val(n, v);
	return 0;
}

static plist_t
device_props(const struct core_dev *cd)
{
	plist_t p = plist_new_dict();

	plist_dict_set_item(p, "ConnectionSpeed", plist_new_uint(480000000));
	plist_dict_set_item(p, "ConnectionType", plist_new_string("USB"));
	plist_dict_set_item(p, "DeviceID", plist_new_uint(cd->d.device_id));
	plist_dict_set_item(p, "LocationID", plist_new_uint(0x14100000u + cd->d.device_id));
	plist_dict_set_item(p, "ProductID", plist_new_uint(cd->d.product_id));
	plist_dict_set_item(p, "SerialNumber", plist_new_string(cd->mux_serial));
	return p;
}

static plist_t
attached_msg(const struct core_dev *cd)
{
	plist_t p = plist_new_dict();

	plist_dict_set_item(p, "DeviceID", plist_new_uint(cd->d.device_id));
	plist_dict_set_item(p, "MessageType", plist_new_string("Attached"));
	plist_dict_set_item(p, "Properties", device_props(cd));
	return p;
}

void
emu_mux_event_locked(const struct core_dev *cd, const char *type)
{
	plist_t p;

	if (strcmp(type, "Attached") == 0) {
		p = attached_msg(cd);
	} else {
		p = plist_new_dict();
		plist_dict_set_item(p, "DeviceID", plist_new_uint(cd->d.device_id));
		plist_dict_set_item(p, "MessageType", plist_new_string(type));
	}
	for (struct core_conn *c = emu_core.conns; c != NULL; c = c->next)
		if (c->listener && mux_send_fmt(c->fd, 0, p, MSG_DONTWAIT, c->binary) != 0)
			shutdown(c->fd, SHUT_RDWR); /* a stalled listener: it reconnects */
	plist_free(p);
}

/* ---- pair records ---- */

static struct pair_entry *
store_find_locked(const char *udid)
{
	char key[65];

	core_udid_key(udid, key, sizeof(key));
	for (struct pair_entry *e = emu_core.records; e != NULL; e = e->next)
		if (strcasecmp(e->key, key) == 0)
			return e;
	return NULL;
}

void
emu_mux_store_locked(const char *udid, const char *data, size_t len)
{
	struct pair_entry *e = store_find_locked(udid);

	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		core_udid_key(udid, e->key, sizeof(e->key));
		e->next = emu_core.records;
		emu_core.records = e;
	}
	free(e->data);
	e->data = xmalloc(len ? len : 1);
	memcpy(e->data, data, len);
	e->len = len;
}

static void
store_delete_locked(const char *udid)
{
	char key[65];

	core_udid_key(udid, key, sizeof(key));
	for (struct pair_entry **pp = &emu_core.records; *pp != NULL; pp = &(*pp)->next)
		if (strcasecmp((*pp)->key, key) == 0) {
			struct pair_entry *e = *pp;
			*pp = e->next;
			free(e->data);
			free(e);
			return;
		}
}

void
emu_mux_store_free(void)
{
	while (emu_core.records != NULL) {
		struct pair_entry *e = emu_core.records;
		emu_core.records = e->next;
		free(e->data);
		free(e);
	}
}

/* ---- requests ---- */

static int
do_list(int fd, uint32_t tag)
{
	plist_t reply = plist_new_dict();
	plist_t list = plist_new_array();
	int rc;

	pthread_mutex_lock(&emu_core.lock);
	for (struct core_dev *cd = emu_core.devs; cd != NULL; cd = cd->next)
		plist_array_append_item(list, attached_msg(cd));
	pthread_mutex_unlock(&emu_core.lock);
	plist_dict_set_item(reply, "DeviceList", list);
	rc = mux_send(fd, tag, reply, 0);
	plist_free(reply);
	return rc;
}

static void
do_listen(struct core_conn *c, uint32_t tag)
{
	char byte;
	int ok;

	/* under the lock so no event is lost or doubled; never blocking, so the lock is never held
	 * by a client that does not read (an empty socket buffer takes these few KiB at once) */
	pthread_mutex_lock(&emu_core.lock);
	c->binary = core_plist_reply_binary(); /* later events go out as the Listen request came */
	{
		plist_t p = plist_new_dict();
		plist_dict_set_item(p, "MessageType", plist_new_string("Result"));
		plist_dict_set_item(p, "Number", plist_new_uint(RES_OK));
		ok = mux_send(c->fd, tag, p, MSG_DONTWAIT) == 0;
		plist_free(p);
	}
	for (struct core_dev *cd = emu_core.devs; ok && cd != NULL; cd = cd->next) {
		plist_t p = attached_msg(cd);
		ok = mux_send(c->fd, 0, p, MSG_DONTWAIT) == 0;
		plist_free(p);
	}
	c->listener = ok;
	pthread_mutex_unlock(&emu_core.lock);
	/* the client sends nothing more; anything it sends ends the connection */
	if (ok)
		(void)emu_read_full(c->fd, &byte, 1, -1, NULL);
	pthread_mutex_lock(&emu_core.lock);
	c->listener = 0;
	pthread_mutex_unlock(&emu_core.lock);
}

static int
find_port(struct core_dev *cd, uint16_t port)
{
	int svc = -1;

	pthread_mutex_lock(&emu_core.lock);
	for (unsigned i = 0; i < cd->nports && i < EMU_MAX_PORTS; i++)
		if (cd->ports[i].port == port)
			svc = cd->ports[i].svc;
	pthread_mutex_unlock(&emu_core.lock);
	return svc;
}

static void
do_connect(struct core_conn *c, uint32_t tag, plist_t req)
{
	uint64_t id = 0, pn = 0;
	struct core_dev *cd;
	uint16_t port;
	int svc = -1;

	if (dict_uint(req, "DeviceID", &id) != 0 || dict_uint(req, "PortNumber", &pn) != 0 || id == 0 ||
	    id > UINT32_MAX || pn > 0xffff) {
		(void)mux_result(c->fd, tag, RES_BADCOMMAND);
		return;
	}
	port = ntohs((uint16_t)pn);
	cd = core_dev_find((uint32_t)id);
	if (cd == NULL) {
		(void)mux_result(c->fd, tag, RES_BADDEV);
		return;
	}
	if (port != EMU_LOCKDOWN_PORT && (svc = find_port(cd, port)) < 0) {
		log_debug("mux: connect to closed port %u on %s", port, cd->d.udid);
		(void)mux_result(c->fd, tag, RES_CONNREFUSED);
		core_dev_unref(cd);
		return;
	}
	if (core_conn_set_dev(c, cd) != 0) {
		(void)mux_result(c->fd, tag, RES_BADDEV);
		core_dev_unref(cd);
		return;
	}
	core_dev_unref(cd); /* the connection holds its own reference now */
	if (mux_result(c->fd, tag, RES_OK) != 0)
		return;
	log_set_device(cd->d.udid);
	if (port == EMU_LOCKDOWN_PORT) {
		emu_lockdown_serve(c->fd, cd);
	} else {
		log_debug("serving %s on port %u", emu_services[svc].name, port);
		emu_services[svc].serve(c->fd, &cd->d);
	}
	log_set_device(NULL);
}

static int
do_read_pair(int fd, uint32_t tag, plist_t req)
{
	const char *id = dict_str(req, "PairRecordID");
	struct pair_entry *e;
	plist_t reply;
	int rc;

	if (id == NULL)
		return mux_result(fd, tag, RES_BADCOMMAND);
	pthread_mutex_lock(&emu_core.lock);
	e = store_find_locked(id);
	if (e == NULL) {
		pthread_mutex_unlock(&emu_core.lock);
		return mux_result(fd, tag, RES_BADDEV); /* 2: ENOENT, as usbmuxd answers */
	}
	reply = plist_new_dict();
	plist_dict_set_item(reply, "PairRecordData", plist_new_data(e->data, e->len));
	pthread_mutex_unlock(&emu_core.lock);
	rc = mux_send(fd, tag, reply, 0);
	plist_free(reply);
	return rc;
}

static int
do_save_pair(int fd, uint32_t tag, plist_t req)
{
	const char *id = dict_str(req, "PairRecordID");
	plist_t data = plist_dict_get_item(req, "PairRecordData");
	const char *p;
	uint64_t len = 0, devid = 0;

	if (id == NULL || data == NULL || plist_get_node_type(data) != PLIST_DATA)
		return mux_result(fd, tag, RES_BADCOMMAND);
	p = plist_get_data_ptr(data, &len);
	if (p == NULL || len == 0 || len > MUX_PAIR_MAX)
		return mux_result(fd, tag, RES_BADCOMMAND);
	pthread_mutex_lock(&emu_core.lock);
	emu_mux_store_locked(id, p, (size_t)len);
	if (dict_uint(req, "DeviceID", &devid) == 0)
		for (struct core_dev *cd = emu_core.devs; cd != NULL; cd = cd->next)
			if (cd->d.device_id == devid)
				emu_mux_event_locked(cd, "Paired");
	pthread_mutex_unlock(&emu_core.lock);
	return mux_result(fd, tag, RES_OK);
}

static int
do_delete_pair(int fd, uint32_t tag, plist_t req)
{
	const char *id = dict_str(req, "PairRecordID");

	if (id == NULL)
		return mux_result(fd, tag, RES_BADCOMMAND);
	pthread_mutex_lock(&emu_core.lock);
	store_delete_locked(id);
	pthread_mutex_unlock(&emu_core.lock);
	return mux_result(fd, tag, RES_OK);
}

void
emu_mux_serve(struct core_conn *c)
{
	for (;;) {
		plist_t req = NULL;
		uint32_t tag = 0;
		const char *type;
		int rc;

		if (mux_recv(c->fd, &req, &tag) != 0)
			return;
		type = dict_str(req, "MessageType");
		if (type == NULL) {
			rc = mux_result(c->fd, tag, RES_BADCOMMAND);
		} else if (strcmp(type, "ListDevices") == 0) {
			rc = do_list(c->fd, tag);
		} else if (strcmp(type, "Listen") == 0) {
			plist_free(req);
			do_listen(c, tag);
			return;
		} else if (strcmp(type, "Connect") == 0) {
			do_connect(c, tag, req);
			plist_free(req);
			return;
		} else if (strcmp(type, "ReadBUID") == 0) {
			plist_t reply = plist_new_dict();
			plist_dict_set_item(reply, "BUID", plist_new_string(emu_core.buid));
			rc = mux_send(c->fd, tag, reply, 0);
			plist_free(reply);
		} else if (strcmp(type, "ReadPairRecord") == 0) {
			rc = do_read_pair(c->fd, tag, req);
		} else if (strcmp(type, "SavePairRecord") == 0) {
			rc = do_save_pair(c->fd, tag, req);
		} else if (strcmp(type, "DeletePairRecord") == 0) {
			rc = do_delete_pair(c->fd, tag, req);
		} else {
			log_debug("mux: unknown MessageType '%s'", type);
			rc = mux_result(c->fd, tag, RES_BADCOMMAND);
		}
		plist_free(req);
		if (rc != 0)
			return;
	}
}
