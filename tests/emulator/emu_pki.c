/*
 * emu_pki: the run's pairing and TLS identity, made once at startup with OpenSSL 3.
 *
 * Readiness must be quick even on a loaded machine, so the three signing identities are
 * ECDSA P-256 (microseconds to make): a root that signs a host and a device certificate. The
 * device key and certificate are the TLS server identity of every emulated device (any
 * certificate works: libimobiledevice does not verify it), and the pair records served for
 * Behaviour/Paired profiles hold these PEMs plus the run's HostID and SystemBUID, with every key
 * a real usbmuxd record has. The one RSA-2048 key, the fallback DevicePublicKey for profiles that
 * carry none (libimobiledevice's Pair reads a PKCS#1 "RSA PUBLIC KEY"), is made on a background
 * thread, started when such a profile is attached unpaired (or on first use) and waited for.
 * Owns: every key, certificate and PEM here until emu_pki_free.
 */
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_core.h"
#include "log.h"
#include "util.h"

struct pem {
	char *s;
	size_t len;
};

static struct {
	EVP_PKEY *root_key, *host_key, *dev_key;
	X509 *root_cert, *host_cert, *dev_cert;
	struct pem root_cert_pem, root_key_pem, host_cert_pem, host_key_pem, dev_cert_pem;
	/* the RSA DevicePublicKey, made by rsa_thread */
	pthread_t rsa_thread;
	int rsa_started;
	pthread_mutex_t rsa_lock;
	pthread_cond_t rsa_cond;
	int rsa_done; /* 1 made, -1 failed */
	struct pem dev_pub_pem;
} pki = {.rsa_lock = PTHREAD_MUTEX_INITIALIZER, .rsa_cond = PTHREAD_COND_INITIALIZER};

void
emu_random_uuid(char out[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		fatalx("RAND_bytes failed");
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", b[0], b[1],
	         b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static int
bio_to_pem(BIO *bio, struct pem *out)
{
	char *p;
	long n = BIO_get_mem_data(bio, &p);

	if (n <= 0)
		return -1;
	out->s = xmalloc((size_t)n + 1);
	memcpy(out->s, p, (size_t)n);
	out->s[n] = '\0';
	out->len = (size_t)n;
	return 0;
}

static int
cert_pem(X509 *x, struct pem *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int rc = -1;

	if (bio != NULL && PEM_write_bio_X509(bio, x) == 1)
		rc = bio_to_pem(bio, out);
	BIO_free(bio);
	return rc;
}

static int
key_pem(EVP_PKEY *k, struct pem *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int rc = -1;

	if (bio != NULL && PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) == 1)
		rc = bio_to_pem(bio, out);
	BIO_free(bio);
	return rc;
}

/* The public key as PKCS#1 PEM ("-----BEGIN RSA PUBLIC KEY-----"). */
static int
rsa_pub_pem(EVP_PKEY *k, struct pem *out)
{
	OSSL_ENCODER_CTX *ctx;
	BIO *bio = BIO_new(BIO_s_mem());
	int rc = -1;

	ctx = OSSL_ENCODER_CTX_new_for_pkey(k, EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", NULL);
	if (bio != NULL && ctx != NULL && OSSL_ENCODER_CTX_get_num_encoders(ctx) > 0 &&
	    OSSL_ENCODER_to_bio(ctx, bio) == 1)
		rc = bio_to_pem(bio, out);
	OSSL_ENCODER_CTX_free(ctx);
	BIO_free(bio);
	if (rc == 0 && strstr(out->s, "BEGIN RSA PUBLIC KEY") == NULL) {
		free(out->s);
		out->s = NULL;
		rc = -1;
	}
	return rc;
}

static X509 *
make_cert(EVP_PKEY *key, EVP_PKEY *issuer_key, const char *cn, const char *issuer_cn, int ca, long serial)
{
	X509 *x = X509_new();
	X509_NAME *name = NULL, *iname = NULL;
	X509_EXTENSION *ext = NULL;

	if (x == NULL)
		return NULL;
	if (X509_set_version(x, 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(x), serial) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 60L * 60 * 24 * 365 * 10) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto fail;
	name = X509_NAME_new();
	iname = X509_NAME_new();
	if (name == NULL || iname == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(iname, "CN", MBSTRING_ASC, (const unsigned char *)issuer_cn, -1, -1,
	                               0) != 1 ||
	    X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, iname) != 1)
		goto fail;
	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints,
	                          ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	if (ext == NULL || X509_add_ext(x, ext, -1) != 1)
		goto fail;
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
		goto fail;
	X509_EXTENSION_free(ext);
	X509_NAME_free(name);
	X509_NAME_free(iname);
	return x;
fail:
	X509_EXTENSION_free(ext);
	X509_NAME_free(name);
	X509_NAME_free(iname);
	X509_free(x);
	return NULL;
}

static void
ssl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "unknown OpenSSL error";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, buf);
	ERR_clear_error();
}

static void *
rsa_main(void *arg)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	struct pem pem = {NULL, 0};
	int ok;

	(void)arg;
	ok = k != NULL && rsa_pub_pem(k, &pem) == 0;
	EVP_PKEY_free(k);
	ERR_clear_error();
	pthread_mutex_lock(&pki.rsa_lock);
	pki.dev_pub_pem = pem;
	pki.rsa_done = ok ? 1 : -1;
	pthread_cond_broadcast(&pki.rsa_cond);
	pthread_mutex_unlock(&pki.rsa_lock);
	OPENSSL_thread_stop();
	return NULL;
}

void
emu_pki_want_rsa(void)
{
	pthread_mutex_lock(&pki.rsa_lock);
	if (!pki.rsa_started) {
		if (pthread_create(&pki.rsa_thread, NULL, rsa_main, NULL) == 0) {
			pki.rsa_started = 1;
		} else {
			log_warnx("cannot start the RSA key thread: no DevicePublicKey to offer");
			pki.rsa_done = -1;
		}
	}
	pthread_mutex_unlock(&pki.rsa_lock);
}

int
emu_pki_init(char *err, size_t errlen)
{
	SSL_CTX *ctx;

	emu_random_uuid(emu_core.buid);
	emu_random_uuid(emu_core.host_id);
	pki.root_key = EVP_EC_gen("P-256");
	pki.host_key = EVP_EC_gen("P-256");
	pki.dev_key = EVP_EC_gen("P-256");
	if (pki.root_key == NULL || pki.host_key == NULL || pki.dev_key == NULL) {
		ssl_err(err, errlen, "cannot generate keys");
		return -1;
	}
	pki.root_cert = make_cert(pki.root_key, pki.root_key, "Root Certification Authority",
	                          "Root Certification Authority", 1, 0);
	pki.host_cert = pki.root_cert == NULL ? NULL
	                                      : make_cert(pki.host_key, pki.root_key, "Host",
	                                                  "Root Certification Authority", 0, 1);
	pki.dev_cert = pki.root_cert == NULL ? NULL
	                                     : make_cert(pki.dev_key, pki.root_key, "Device",
	                                                 "Root Certification Authority", 0, 2);
	if (pki.host_cert == NULL || pki.dev_cert == NULL) {
		ssl_err(err, errlen, "cannot make certificates");
		return -1;
	}
	if (cert_pem(pki.root_cert, &pki.root_cert_pem) || key_pem(pki.root_key, &pki.root_key_pem) ||
	    cert_pem(pki.host_cert, &pki.host_cert_pem) || key_pem(pki.host_key, &pki.host_key_pem) ||
	    cert_pem(pki.dev_cert, &pki.dev_cert_pem)) {
		ssl_err(err, errlen, "cannot encode PEM");
		return -1;
	}

	/*
	 * libimobiledevice 1.3.0 caps itself at TLS 1.0 when it believes the device runs iOS < 10
	 * and sets security level 0: accept everything from TLS 1.0 up, ask for no client cert.
	 */
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		ssl_err(err, errlen, "cannot create TLS context");
		return -1;
	}
	emu_core.tls = ctx;
	SSL_CTX_set_security_level(ctx, 0);
	if (SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0") != 1 ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION) != 1 ||
	    SSL_CTX_use_certificate(ctx, pki.dev_cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, pki.dev_key) != 1) {
		ssl_err(err, errlen, "cannot configure TLS");
		return -1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	return 0;
}

static void
pem_free(struct pem *p)
{
	free(p->s);
	p->s = NULL;
}

void
emu_pki_free(void)
{
	if (pki.rsa_started)
		pthread_join(pki.rsa_thread, NULL);
	pki.rsa_done = 0;
	SSL_CTX_free(emu_core.tls);
	emu_core.tls = NULL;
	X509_free(pki.root_cert);
	X509_free(pki.host_cert);
	X509_free(pki.dev_cert);
	EVP_PKEY_free(pki.root_key);
	EVP_PKEY_free(pki.host_key);
	EVP_PKEY_free(pki.dev_key);
	pem_free(&pki.root_cert_pem);
	pem_free(&pki.root_key_pem);
	pem_free(&pki.host_cert_pem);
	pem_free(&pki.host_key_pem);
	pem_free(&pki.dev_cert_pem);
	pem_free(&pki.dev_pub_pem);
	pki.root_cert = pki.host_cert = pki.dev_cert = NULL;
	pki.root_key = pki.host_key = pki.dev_key = NULL;
	pki.rsa_started = 0;
}

const char *
emu_pki_device_pubkey(size_t *len)
{
	const char *s = NULL;

	emu_pki_want_rsa();
	pthread_mutex_lock(&pki.rsa_lock);
	while (pki.rsa_done == 0)
		pthread_cond_wait(&pki.rsa_cond, &pki.rsa_lock);
	if (pki.rsa_done > 0)
		s = pki.dev_pub_pem.s;
	*len = s != NULL ? pki.dev_pub_pem.len : 0;
	pthread_mutex_unlock(&pki.rsa_lock);
	return s;
}

static void
dict_pem(plist_t dict, const char *key, const struct pem *p)
{
	plist_dict_set_item(dict, key, plist_new_data(p->s, p->len));
}

plist_t
emu_pki_pair_record(const char *wifi_mac)
{
	plist_t rec = plist_new_dict();
	unsigned char escrow[32];

	dict_pem(rec, "DeviceCertificate", &pki.dev_cert_pem);
	if (RAND_bytes(escrow, sizeof(escrow)) != 1)
		fatalx("RAND_bytes failed");
	plist_dict_set_item(rec, "EscrowBag", plist_new_data((const char *)escrow, sizeof(escrow)));
	dict_pem(rec, "HostCertificate", &pki.host_cert_pem);
	plist_dict_set_item(rec, "HostID", plist_new_string(emu_core.host_id));
	dict_pem(rec, "HostPrivateKey", &pki.host_key_pem);
	dict_pem(rec, "RootCertificate", &pki.root_cert_pem);
	dict_pem(rec, "RootPrivateKey", &pki.root_key_pem);
	plist_dict_set_item(rec, "SystemBUID", plist_new_string(emu_core.buid));
	plist_dict_set_item(rec, "WiFiMACAddress",
	                    plist_new_string(wifi_mac ? wifi_mac : "00:00:00:00:00:00"));
	return rec;
}
