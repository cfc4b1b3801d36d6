/*
 * emu_lockdown: lockdownd on port 62078 (PROTOCOL.md 3 and 4).
 *
 * Plaintext until StartSession; then this side is the TLS server (any TLS 1.0..1.3, security
 * level 0, no client certificate) until StopSession, after which the client's close_notify is
 * consumed and the stream is plaintext again. Replies echo Request, errors use the names
 * libimobiledevice maps (InvalidHostID, PasswordProtected, InvalidService, MissingValue,
 * PairingDialogResponsePending). Behaviour: LatencyMs before every reply; DisconnectAfter
 * "handshake" drops the connection at StartSession without an answer.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "emu_core.h"
#include "log.h"
#include "util.h"

#define TLS_TIMEOUT_S 30

struct ld {
	int fd;
	SSL *ssl;
	struct core_dev *cd;
	char session[37];
};

enum { LD_OK = 0, LD_EOF = -1, LD_CLOSE_NOTIFY = -2 };

static int
ssl_read_full(SSL *ssl, void *buf, size_t n)
{
	char *p = buf;

	while (n > 0) {
		int r = SSL_read(ssl, p, n > INT_MAX ? INT_MAX : (int)n);
		if (r <= 0) {
			int e = SSL_get_error(ssl, r);
			ERR_clear_error();
			return e == SSL_ERROR_ZERO_RETURN ? LD_CLOSE_NOTIFY : LD_EOF;
		}
		p += r;
		n -= (size_t)r;
	}
	return LD_OK;
}

static int
ld_recv(struct ld *l, plist_t *out)
{
	uint32_t be, len;
	char *body;
	plist_t p = NULL;
	int rc;

	*out = NULL;
	if (l->ssl == NULL)
		return emu_plist_recv(l->fd, out, EMU_READ_TIMEOUT_MS, &l->cd->d) == 0 ? LD_OK : LD_EOF;
	if ((rc = ssl_read_full(l->ssl, &be, 4)) != LD_OK)
		return rc;
	len = ntohl(be);
	if (len == 0 || len > EMU_MAX_PLIST)
		return LD_EOF;
	body = xmalloc(len);
	rc = ssl_read_full(l->ssl, body, len);
	if (rc == LD_OK) {
		int binary = 0;
		p = core_plist_parse(body, len, &binary);
		if (p != NULL)
			core_plist_set_reply_binary(binary);
	}
	free(body);
	if (rc != LD_OK)
		return LD_EOF;
	if (p == NULL)
		return LD_EOF;
	*out = p;
	return LD_OK;
}

static int
ld_send(struct ld *l, plist_t p)
{
	char *xml = NULL;
	uint32_t len = 0, be;
	char *msg;
	int rc, binary;

	if (l->ssl == NULL)
		return emu_plist_send(l->fd, p);
	binary = core_plist_reply_binary();
	if (core_plist_serialize(p, binary, &xml, &len) != 0)
		return -1;
	msg = xmalloc((size_t)len + 4);
	be = htonl(len);
	memcpy(msg, &be, 4);
	memcpy(msg + 4, xml, len);
	core_plist_serialize_free(xml, binary);
	rc = SSL_write(l->ssl, msg, (int)len + 4) == (int)len + 4 ? 0 : -1;
	if (rc != 0)
		ERR_clear_error();
	free(msg);
	return rc;
}

/* Send after the device's latency; frees reply. */
static int
ld_reply(struct ld *l, plist_t reply)
{
	int rc;

	emu_delay(&l->cd->d);
	rc = ld_send(l, reply);
	plist_free(reply);
	return rc;
}

static plist_t
ld_new(const char *request)
{
	plist_t p = plist_new_dict();

	plist_dict_set_item(p, "Request", plist_new_string(request));
	return p;
}

static int
ld_error(struct ld *l, const char *request, const char *error)
{
	plist_t p = ld_new(request);

	plist_dict_set_item(p, "Error", plist_new_string(error));
	log_debug("lockdown: %s -> %s", request, error);
	return ld_reply(l, p);
}

static const char *
dict_str(plist_t dict, const char *key)
{
	plist_t n = dict != NULL ? plist_dict_get_item(dict, key) : NULL;

	if (n == NULL || plist_get_node_type(n) != PLIST_STRING)
		return NULL;
	return plist_get_string_ptr(n, NULL);
}

static int
host_known(struct core_dev *cd, const char *host_id)
{
	int found = 0;

	if (host_id == NULL)
		return 0;
	pthread_mutex_lock(&emu_core.lock);
	for (int i = 0; i < cd->nhosts; i++)
		if (strcasecmp(cd->hosts[i], host_id) == 0)
			found = 1;
	pthread_mutex_unlock(&emu_core.lock);
	return found;
}

static void
host_add(struct core_dev *cd, const char *host_id)
{
	pthread_mutex_lock(&emu_core.lock);
	for (int i = 0; i < cd->nhosts; i++)
		if (strcasecmp(cd->hosts[i], host_id) == 0) {
			pthread_mutex_unlock(&emu_core.lock);
			return;
		}
	if (cd->nhosts == EMU_MAX_HOSTS) {
		memmove(cd->hosts[0], cd->hosts[1], sizeof(cd->hosts[0]) * (EMU_MAX_HOSTS - 1));
		cd->nhosts--;
	}
	util_strlcpy(cd->hosts[cd->nhosts++], host_id, sizeof(cd->hosts[0]));
	pthread_mutex_unlock(&emu_core.lock);
}

static void
host_remove(struct core_dev *cd, const char *host_id)
{
	pthread_mutex_lock(&emu_core.lock);
	for (int i = 0; i < cd->nhosts; i++)
		if (strcasecmp(cd->hosts[i], host_id) == 0) {
			memmove(cd->hosts[i], cd->hosts[i + 1],
			        sizeof(cd->hosts[0]) * (size_t)(cd->nhosts - i - 1));
			cd->nhosts--;
			break;
		}
	pthread_mutex_unlock(&emu_core.lock);
}

static int
do_get_value(struct ld *l, plist_t req)
{
	const char *domain = dict_str(req, "Domain");
	const char *key = dict_str(req, "Key");
	plist_t dom = emu_profile_get(&l->cd->d, "Lockdown", domain ? domain : "Root", NULL);
	plist_t val = NULL, reply;

	if (key != NULL) {
		val = dom != NULL ? plist_copy(plist_dict_get_item(dom, key)) : NULL;
		if (val == NULL && domain == NULL && strcmp(key, "DevicePublicKey") == 0) {
			size_t len;
			const char *pem = emu_pki_device_pubkey(&len);
			if (pem != NULL)
				val = plist_new_data(pem, len);
		}
	} else if (dom != NULL) {
		val = plist_copy(dom);
	}
	reply = ld_new("GetValue");
	if (domain != NULL)
		plist_dict_set_item(reply, "Domain", plist_new_string(domain));
	if (key != NULL)
		plist_dict_set_item(reply, "Key", plist_new_string(key));
	if (val == NULL) {
		plist_dict_set_item(reply, "Error", plist_new_string("MissingValue"));
		log_debug("lockdown: GetValue %s/%s -> MissingValue", domain ? domain : "Root",
		          key ? key : "");
	} else {
		plist_dict_set_item(reply, "Value", val);
	}
	return ld_reply(l, reply);
}

static int
do_pair(struct ld *l, plist_t req)
{
	plist_t rec = plist_dict_get_item(req, "PairRecord");
	const char *host = dict_str(rec, "HostID");
	unsigned char escrow[32];
	plist_t reply;

	if (rec == NULL || plist_get_node_type(rec) != PLIST_DICT || host == NULL || host[0] == '\0' ||
	    strlen(host) >= sizeof(l->cd->hosts[0]))
		return ld_error(l, "Pair", "InvalidPairRecord");
	if (plist_dict_get_item(rec, "DeviceCertificate") == NULL ||
	    plist_dict_get_item(rec, "HostCertificate") == NULL ||
	    plist_dict_get_item(rec, "RootCertificate") == NULL)
		return ld_error(l, "Pair", "InvalidPairRecord");
	if (l->cd->d.passcode_locked)
		return ld_error(l, "Pair", "PasswordProtected");
	if (core_dev_trust_pending(l->cd)) /* until the control socket says "trust" */
		return ld_error(l, "Pair", "PairingDialogResponsePending");
	host_add(l->cd, host);
	log_info("paired with host %s", host);
	if (RAND_bytes(escrow, sizeof(escrow)) != 1)
		fatalx("RAND_bytes failed");
	reply = ld_new("Pair");
	plist_dict_set_item(reply, "EscrowBag", plist_new_data((const char *)escrow, sizeof(escrow)));
	return ld_reply(l, reply);
}

static int
do_start_session(struct ld *l, plist_t req)
{
	const char *host = dict_str(req, "HostID");
	struct timeval tv = {.tv_sec = TLS_TIMEOUT_S};
	plist_t reply;
	int r;

	if (emu_should_disconnect(&l->cd->d, "handshake")) {
		log_info("Behaviour/DisconnectAfter=handshake: dropping the lockdown connection");
		return -1;
	}
	if (l->ssl != NULL)
		return ld_error(l, "StartSession", "SessionActive");
	if (!host_known(l->cd, host))
		return ld_error(l, "StartSession", "InvalidHostID");
	emu_random_uuid(l->session);
	reply = ld_new("StartSession");
	plist_dict_set_item(reply, "EnableSessionSSL", plist_new_bool(1));
	plist_dict_set_item(reply, "SessionID", plist_new_string(l->session));
	if (ld_reply(l, reply) != 0)
		return -1;

	setsockopt(l->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	l->ssl = SSL_new(emu_core.tls);
	if (l->ssl == NULL || SSL_set_fd(l->ssl, l->fd) != 1) {
		log_warnx("lockdown: cannot set up TLS");
		return -1;
	}
	/*
	 * The server's handshake flight is a reply too: it leaves LatencyMs after the ClientHello
	 * arrives, as from a phone behind a USB link. (Without this the emulator sometimes answers
	 * before the client's first read; libimobiledevice's handshake loop then skips its 100 ms
	 * sleep, which it never skips against a real device, and timings turn bimodal.)
	 */
	{
		struct pollfd pfd = {.fd = l->fd, .events = POLLIN};
		if (poll(&pfd, 1, TLS_TIMEOUT_S * 1000) == 1)
			emu_delay(&l->cd->d);
	}
	r = SSL_accept(l->ssl);
	if (r != 1) {
		unsigned long e = ERR_peek_error();
		char buf[256] = "peer closed";
		if (e != 0)
			ERR_error_string_n(e, buf, sizeof(buf));
		log_info("lockdown: TLS handshake failed: %s", buf);
		ERR_clear_error();
		SSL_free(l->ssl);
		l->ssl = NULL;
		return -1;
	}
	log_debug("lockdown: session %s, %s %s", l->session, SSL_get_version(l->ssl),
	          SSL_get_cipher_name(l->ssl));
	return 0;
}

static int
do_stop_session(struct ld *l)
{
	char c;
	int had_ssl = l->ssl != NULL;

	if (ld_reply(l, ld_new("StopSession")) != 0)
		return -1;
	l->session[0] = '\0';
	if (!had_ssl)
		return 0;
	/* the client sends close_notify and goes back to plaintext without waiting for ours */
	if (SSL_read(l->ssl, &c, 1) > 0)
		log_debug("lockdown: data after StopSession instead of close_notify");
	ERR_clear_error();
	SSL_set_quiet_shutdown(l->ssl, 1);
	SSL_free(l->ssl);
	l->ssl = NULL;
	return 0;
}

static int
do_start_service(struct ld *l, plist_t req)
{
	const char *name = dict_str(req, "Service");
	plist_t reply;
	int idx = -1;
	uint16_t port;

	if (name == NULL)
		return ld_error(l, "StartService", "MissingService");
	for (int i = 0; emu_services[i].name != NULL; i++)
		if (strcmp(emu_services[i].name, name) == 0)
			idx = i;
	if (idx < 0) {
		reply = ld_new("StartService");
		plist_dict_set_item(reply, "Service", plist_new_string(name));
		plist_dict_set_item(reply, "Error", plist_new_string("InvalidService"));
		log_debug("lockdown: StartService %s -> InvalidService", name);
		return ld_reply(l, reply);
	}
	if (l->cd->d.passcode_locked) {
		reply = ld_new("StartService");
		plist_dict_set_item(reply, "Service", plist_new_string(name));
		plist_dict_set_item(reply, "Error", plist_new_string("PasswordProtected"));
		log_debug("lockdown: StartService %s -> PasswordProtected", name);
		return ld_reply(l, reply);
	}
	pthread_mutex_lock(&emu_core.lock);
	port = l->cd->next_port;
	l->cd->next_port = port == 65535 ? 49152 : (uint16_t)(port + 1);
	/* ports count up, so (port - 49152) % EMU_MAX_PORTS is a ring of the latest ones */
	l->cd->ports[(port - 49152) % EMU_MAX_PORTS] = (struct emu_port){.port = port, .svc = idx};
	if (l->cd->nports < EMU_MAX_PORTS)
		l->cd->nports++;
	pthread_mutex_unlock(&emu_core.lock);
	reply = ld_new("StartService");
	plist_dict_set_item(reply, "EnableServiceSSL", plist_new_bool(0));
	/* A hostile device may claim success and give no usable port. */
	plist_dict_set_item(reply, "Port", plist_new_uint(l->cd->d.service_port_zero ? 0 : port));
	plist_dict_set_item(reply, "Service", plist_new_string(name));
	log_debug("lockdown: StartService %s -> port %u", name, port);
	return ld_reply(l, reply);
}

void
emu_lockdown_serve(int fd, struct core_dev *cd)
{
	struct ld l = {.fd = fd, .cd = cd};

	for (;;) {
		plist_t req = NULL;
		const char *request;
		int rc;

		if (ld_recv(&l, &req) != LD_OK)
			break;
		request = plist_get_node_type(req) == PLIST_DICT ? dict_str(req, "Request") : NULL;
		if (request == NULL) {
			log_debug("lockdown: a message without Request, closing");
			plist_free(req);
			break;
		}
		log_debug("lockdown: %s", request);
		if (strcmp(request, "QueryType") == 0) {
			plist_t reply = ld_new("QueryType");
			plist_dict_set_item(reply, "Type", plist_new_string("com.apple.mobile.lockdown"));
			rc = ld_reply(&l, reply);
		} else if (strcmp(request, "GetValue") == 0) {
			rc = do_get_value(&l, req);
		} else if (strcmp(request, "Pair") == 0) {
			rc = do_pair(&l, req);
		} else if (strcmp(request, "ValidatePair") == 0) {
			rc = host_known(cd, dict_str(plist_dict_get_item(req, "PairRecord"), "HostID"))
			         ? ld_reply(&l, ld_new("ValidatePair"))
			         : ld_error(&l, "ValidatePair", "InvalidHostID");
		} else if (strcmp(request, "Unpair") == 0) {
			const char *host = dict_str(plist_dict_get_item(req, "PairRecord"), "HostID");
			if (host != NULL)
				host_remove(cd, host);
			rc = ld_reply(&l, ld_new("Unpair"));
		} else if (strcmp(request, "StartSession") == 0) {
			rc = do_start_session(&l, req);
		} else if (strcmp(request, "StopSession") == 0) {
			rc = do_stop_session(&l);
		} else if (strcmp(request, "StartService") == 0) {
			rc = do_start_service(&l, req);
		} else if (strcmp(request, "Goodbye") == 0) {
			plist_t reply = ld_new("Goodbye");
			plist_dict_set_item(reply, "Result", plist_new_string("Success"));
			(void)ld_reply(&l, reply);
			rc = -1;
		} else {
			char req_copy[64];
			util_strlcpy(req_copy, request, sizeof(req_copy));
			rc = ld_error(&l, req_copy, "InvalidRequest");
		}
		plist_free(req);
		if (rc != 0)
			break;
	}
	if (l.ssl != NULL) {
		/* 1.3.0 treats an EOF without close_notify as an error: always say goodbye */
		(void)SSL_shutdown(l.ssl);
		ERR_clear_error();
		SSL_free(l.ssl);
	}
}
