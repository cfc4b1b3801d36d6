/*
 * key: the bench's Ed25519 signing key (<state_dir>/bench-key.pem, PKCS#8 PEM, mode 0600) and
 * public JWKs with their RFC 7638 thumbprints. The private key never leaves this module except
 * into the PEM file.
 */
#include "report.h"

#include "internal.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct bench_key {
	EVP_PKEY *pkey;
	char x[64];   /* base64url public key */
	char kid[64]; /* RFC 7638 thumbprint */
};

#define KEY_MAX_FILE 16384

/* Exposed to jws.c. */
EVP_PKEY *bench_key_pkey(const struct bench_key *k);
EVP_PKEY *
bench_key_pkey(const struct bench_key *k)
{
	return k->pkey;
}

static int
thumbprint_of_x(const char *x, char kid[64])
{
	/* RFC 7638: the required members in lexicographic order, no whitespace. */
	char canon[128];
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *b;
	int n = snprintf(canon, sizeof(canon), "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", x);

	if (n < 0 || (size_t)n >= sizeof(canon))
		return -1;
	if (EVP_Digest(canon, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -1;
	b = b64url_encode(md, 32);
	util_strlcpy(kid, b, 64);
	free(b);
	return 0;
}

static int
key_wrap(EVP_PKEY *pkey, struct bench_key **out)
{
	unsigned char pub[32];
	size_t publen = sizeof(pub);
	struct bench_key *k;
	char *x;

	if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(pkey, pub, &publen) != 1 || publen != 32)
		return -1;
	k = xcalloc(1, sizeof(*k));
	x = b64url_encode(pub, 32);
	util_strlcpy(k->x, x, sizeof(k->x));
	free(x);
	if (thumbprint_of_x(k->x, k->kid) < 0) {
		free(k);
		return -1;
	}
	k->pkey = pkey;
	*out = k;
	return 0;
}

int
bench_key_from_raw(const unsigned char seed[32], struct bench_key **out)
{
	EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);

	if (pkey == NULL)
		return REPORT_E_CRYPTO;
	if (key_wrap(pkey, out) < 0) {
		EVP_PKEY_free(pkey);
		return REPORT_E_CRYPTO;
	}
	return REPORT_OK;
}

void
bench_key_free(struct bench_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

const char *
bench_key_id(const struct bench_key *k)
{
	return k->kid;
}

json_t *
bench_key_public_jwk(const struct bench_key *k)
{
	return json_pack("{s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x", k->x);
}

char *
bench_key_path(const char *state_dir)
{
	return xasprintf("%s/%s", state_dir, BENCH_KEY_FILE);
}

int
report_jwk_thumbprint(const json_t *jwk, char kid[64], char *why, size_t whylen)
{
	const char *kty, *crv, *x;
	unsigned char *raw = NULL;
	size_t rawlen = 0;

	if (!json_is_object(jwk)) {
		snprintf(why, whylen, "the key is not a JWK (a JSON object)");
		return REPORT_E_KEY;
	}
	kty = json_string_value(json_object_get(jwk, "kty"));
	crv = json_string_value(json_object_get(jwk, "crv"));
	x = json_string_value(json_object_get(jwk, "x"));
	if (kty == NULL || strcmp(kty, "OKP") != 0 || crv == NULL || strcmp(crv, "Ed25519") != 0) {
		snprintf(why, whylen, "the key is not an Ed25519 JWK (need kty \"OKP\", crv \"Ed25519\")");
		return REPORT_E_KEY;
	}
	if (x == NULL || b64url_decode(x, strlen(x), &raw, &rawlen) < 0 || rawlen != 32) {
		free(raw);
		snprintf(why, whylen, "the key's \"x\" is not 32 bytes of base64url");
		return REPORT_E_KEY;
	}
	free(raw);
	if (thumbprint_of_x(x, kid) < 0) {
		snprintf(why, whylen, "cannot compute the key id (SHA-256 failed)");
		return REPORT_E_CRYPTO;
	}
	return REPORT_OK;
}

int
bench_key_load_file(const char *path, struct bench_key **out, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	char *pem = NULL;
	ssize_t n;
	BIO *bio;
	EVP_PKEY *pkey;

	if (fd < 0) {
		if (errno == ENOENT) {
			snprintf(why, whylen, "no bench key at %s: run benchctl key init", path);
			return REPORT_E_NOKEY;
		}
		snprintf(why, whylen, "cannot open bench key %s: %s", path, strerror(errno));
		return REPORT_E_KEY;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "bench key %s is not a regular file", path);
		close(fd);
		return REPORT_E_KEY;
	}
	if (st.st_mode & 077) {
		snprintf(why, whylen,
		         "bench key %s can be read by others (mode %04o): run chmod 600 %s, or key init "
		         "--force for a new key",
		         path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return REPORT_E_KEY;
	}
	if (st.st_size > KEY_MAX_FILE) {
		snprintf(why, whylen, "bench key %s is too big to be a key (%lld bytes)", path,
		         (long long)st.st_size);
		close(fd);
		return REPORT_E_KEY;
	}
	pem = xmalloc(KEY_MAX_FILE + 1);
	n = read(fd, pem, KEY_MAX_FILE);
	close(fd);
	if (n <= 0) {
		snprintf(why, whylen, "cannot read bench key %s: %s", path,
		         n < 0 ? strerror(errno) : "empty file");
		free(pem);
		return REPORT_E_KEY;
	}
	bio = BIO_new_mem_buf(pem, (int)n);
	pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	OPENSSL_cleanse(pem, KEY_MAX_FILE + 1);
	free(pem);
	if (pkey == NULL) {
		snprintf(why, whylen, "bench key %s is not a PEM private key", path);
		return REPORT_E_KEY;
	}
	if (key_wrap(pkey, out) < 0) {
		EVP_PKEY_free(pkey);
		snprintf(why, whylen, "bench key %s is not an Ed25519 key", path);
		return REPORT_E_KEY;
	}
	return REPORT_OK;
}

int
bench_key_load(const char *state_dir, struct bench_key **out, char *why, size_t whylen)
{
	char *path = bench_key_path(state_dir);
	int r = bench_key_load_file(path, out, why, whylen);

	free(path);
	return r;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
bench_key_init(const char *state_dir, int force, char *why, size_t whylen)
{
	char *path = bench_key_path(state_dir), *tmp = NULL, *pem = NULL;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	struct bench_key *old = NULL, *k = NULL;
	char owhy[256];
	long pemlen = 0;
	int fd = -1, r = REPORT_E_IO, e;

	if (!force) {
		struct stat st;
		if (lstat(path, &st) == 0) {
			if (bench_key_load_file(path, &old, owhy, sizeof(owhy)) == REPORT_OK)
				snprintf(
				    why, whylen,
				    "a bench key already exists at %s (key id %s): use --force to replace it "
				    "(reports signed with it will then need its public key to verify)",
				    path, bench_key_id(old));
			else
				snprintf(why, whylen, "%s already exists: use --force to replace it", path);
			bench_key_free(old);
			free(path);
			return REPORT_E_EXISTS;
		}
	}
	if (util_mkdir_p(state_dir, 0700) < 0) {
		snprintf(why, whylen, "cannot create state directory %s: %s", state_dir, strerror(errno));
		goto out;
	}
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	bio = BIO_new(BIO_s_mem());
	if (pkey == NULL || bio == NULL ||
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		snprintf(why, whylen, "cannot generate an Ed25519 key (OpenSSL failed)");
		r = REPORT_E_CRYPTO;
		goto out;
	}
	pemlen = BIO_get_mem_data(bio, &pem);
	/* A unique temporary name (mkstemp: O_EXCL, mode 0600), safe with concurrent sessions. */
	tmp = xasprintf("%s.new.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "cannot create a file in %s: %s", state_dir, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (fchmod(fd, 0600) < 0 || write_all(fd, pem, (size_t)pemlen) < 0 || fsync(fd) < 0) {
		e = errno;
		snprintf(why, whylen, "cannot write %s: %s", tmp, strerror(e));
		goto out_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		snprintf(why, whylen, "cannot write %s: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	fd = -1;
	if (force) {
		if (rename(tmp, path) < 0) {
			snprintf(why, whylen, "cannot install %s: %s", path, strerror(errno));
			goto out_unlink;
		}
	} else {
		/* link() fails if a key appeared meanwhile: never overwrite without --force. */
		if (link(tmp, path) < 0) {
			if (errno == EEXIST) {
				snprintf(why, whylen, "%s already exists: use --force to replace it", path);
				r = REPORT_E_EXISTS;
			} else {
				snprintf(why, whylen, "cannot install %s: %s", path, strerror(errno));
			}
			goto out_unlink;
		}
		(void)unlink(tmp);
	}
	/* Make the new name durable. */
	fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
		fd = -1;
	}
	if (key_wrap(pkey, &k) == 0) {
		pkey = NULL;
		snprintf(why, whylen, "%s", k->kid);
		bench_key_free(k);
	}
	r = REPORT_OK;
	goto out;
out_unlink:
	if (fd >= 0)
		close(fd);
	fd = -1;
	if (tmp)
		(void)unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	if (pem != NULL && pemlen > 0)
		OPENSSL_cleanse(pem, (size_t)pemlen);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	free(tmp);
	free(path);
	return r;
}
