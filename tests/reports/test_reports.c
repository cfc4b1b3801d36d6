/*
 * Unit tests of reports/: base64url strictness, the RFC 8037 Appendix A vectors, sign/verify
 * round trips, every single-byte change and every truncation of a signed report, wrong keys,
 * foreign algorithms, key file permissions and refusal to overwrite, the report model, and
 * escaping in the renderers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "i18n.h"
#include "internal.h"
#include "report.h"
#include "util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const unsigned char rfc_d[32] = {
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
};

static char *
tmpdir(void)
{
	char *t = xstrdup("/tmp/benchd-reports-XXXXXX");

	assert_non_null(mkdtemp(t));
	return t;
}

static void
rmtree(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void
test_b64url(void **state)
{
	(void)state;
	unsigned char in[64], *out;
	size_t outlen;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(in); n++) {
		char *e = b64url_encode(in, n);
		assert_null(strpbrk(e, "+/="));
		assert_int_equal(b64url_decode(e, strlen(e), &out, &outlen), 0);
		assert_int_equal(outlen, n);
		assert_memory_equal(out, in, n);
		free(out);
		free(e);
	}
	/* RFC 4648 vectors, without padding. */
	char *e = b64url_encode("foobar", 6);
	assert_string_equal(e, "Zm9vYmFy");
	free(e);
	e = b64url_encode("\xfb\xff", 2);
	assert_string_equal(e, "-_8");
	free(e);
	/* Strict: padding, the standard alphabet, whitespace, impossible lengths, stray bits. */
	const char *bad[] = {"Zm8=", "Zm9v+mFy", "Zm9v/mFy", "Zm9v YmFy", "Zm9vY", "QR", "Zm9=", "Zm\n9v"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(b64url_decode(bad[i], strlen(bad[i]), &out, &outlen), -1);
	assert_int_equal(b64url_decode("QQ", 2, &out, &outlen), 0);
	assert_int_equal(outlen, 1);
	assert_int_equal(out[0], 'A');
	free(out);
}

/* RFC 8037 Appendix A: the key (A.1, A.2), its thumbprint (A.3) and the signature (A.4). */
static void
test_rfc8037(void **state)
{
	(void)state;
	struct bench_key *k = NULL;
	char why[256], *jws = NULL, kid[64];
	size_t len;
	const char *h = "{\"alg\":\"EdDSA\"}", *p = "Example of Ed25519 signing";
	json_t *jwk;

	assert_int_equal(bench_key_from_raw(rfc_d, &k), REPORT_OK);
	jwk = bench_key_public_jwk(k);
	assert_string_equal(json_string_value(json_object_get(jwk, "x")),
	                    "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
	assert_string_equal(bench_key_id(k), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
	assert_int_equal(report_jwk_thumbprint(jwk, kid, why, sizeof(why)), 0);
	assert_string_equal(kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
	assert_int_equal(report_sign_raw(h, strlen(h), p, strlen(p), k, &jws, &len, why, sizeof(why)), 0);
	assert_string_equal(jws, "{\"protected\":\"eyJhbGciOiJFZERTQSJ9\","
	                         "\"payload\":\"RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc\","
	                         "\"signature\":\"hgyY0il_MGCjP0JzlnLWG1PPOt7-"
	                         "09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg\"}");
	free(jws);
	json_decref(jwk);
	bench_key_free(k);
}

struct fx {
	char *snap;
	size_t snaplen;
	json_t *snapshot, *engine;
};

static void
fx_load(struct fx *f)
{
	char *e;
	size_t elen;

	assert_int_equal(util_read_file(FIXTURES_DIR "/snapshot.json", 1 << 20, &f->snap, &f->snaplen), 0);
	assert_int_equal(util_read_file(FIXTURES_DIR "/engine.json", 1 << 20, &e, &elen), 0);
	f->snapshot = json_loadb(f->snap, f->snaplen, 0, NULL);
	f->engine = json_loadb(e, elen, 0, NULL);
	free(e);
	assert_non_null(f->snapshot);
	assert_non_null(f->engine);
}

static void
fx_free(struct fx *f)
{
	free(f->snap);
	json_decref(f->snapshot);
	json_decref(f->engine);
}

static json_t *
fx_report(struct fx *f, const struct bench_key *k)
{
	struct report_input in = {
	    .snapshot_bytes = f->snap,
	    .snapshot_len = f->snaplen,
	    .snapshot = f->snapshot,
	    .faults = json_object_get(f->engine, "faults"),
	    .trace = json_object_get(f->engine, "trace"),
	    .trees = json_object_get(f->engine, "trees"),
	    .outcome = "fail",
	    .bench_id = "bench-07",
	    .ticket = "T-42",
	};
	return report_build(&in, k);
}

static void
test_report_model(void **state)
{
	(void)state;
	struct fx f;
	struct bench_key *k;
	json_t *r, *r2, *rd;
	char sha[65];
	time_t t;

	fx_load(&f);
	assert_int_equal(bench_key_from_raw(rfc_d, &k), 0);
	r = fx_report(&f, k);
	r2 = fx_report(&f, k);
	assert_string_equal(json_string_value(json_object_get(r, "schema")), "benchd.report/1");
	const char *id = json_string_value(json_object_get(r, "report_id"));
	assert_int_equal(strlen(id), 36);
	assert_int_equal(id[14], '4');           /* version 4 */
	assert_non_null(strchr("89ab", id[19])); /* RFC 4122 variant */
	assert_string_not_equal(id, json_string_value(json_object_get(r2, "report_id")));
	assert_int_equal(util_parse_rfc3339(json_string_value(json_object_get(r, "created_at")), &t), 0);
	assert_true(labs((long)(time(NULL) - t)) < 60);
	json_t *bench = json_object_get(r, "bench");
	assert_string_equal(json_string_value(json_object_get(bench, "id")), "bench-07");
	assert_string_equal(json_string_value(json_object_get(bench, "key_id")), bench_key_id(k));
	assert_non_null(strstr(json_string_value(json_object_get(bench, "software")), "benchd"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "device"), "serial")),
	                    "F2LZK0TESTAB");
	rd = json_object_get(r, "readings");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(rd, "battery"), "health_pct")),
	                 76);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(rd, "crashes"), "panics")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(rd, "crashes"), "force_resets")),
	                 1);
	assert_int_equal(json_array_size(json_object_get(json_object_get(rd, "syslog"), "signatures")), 1);
	assert_null(json_object_get(json_object_get(rd, "syslog"), "log")); /* lines stay in the snapshot */
	assert_int_equal(json_array_size(json_object_get(rd, "errors")), 1);
	assert_int_equal(json_array_size(json_object_get(r, "faults")), 3);
	assert_int_equal(json_array_size(json_object_get(r, "trace")), 4);
	assert_int_equal(json_array_size(json_object_get(r, "trees")), 2);
	assert_string_equal(json_string_value(json_object_get(r, "outcome")), "fail");
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "case"), "ticket")), "T-42");
	/* snapshot_sha256 is over the exact bytes: checked against OpenSSL's one-shot SHA-256. */
	unsigned char md[32];
	unsigned int mdlen;
	assert_int_equal(EVP_Digest(f.snap, f.snaplen, md, &mdlen, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 32; i++)
		snprintf(sha + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(json_string_value(json_object_get(r, "snapshot_sha256")), sha);
	/* A known answer too: SHA-256("abc"). */
	struct report_input in = {.snapshot_bytes = "abc", .snapshot_len = 3, .snapshot = f.snapshot};
	json_t *r3 = report_build(&in, k);
	assert_string_equal(json_string_value(json_object_get(r3, "snapshot_sha256")),
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(json_is_null(json_object_get(json_object_get(r3, "case"), "ticket")));
	assert_string_equal(json_string_value(json_object_get(r3, "outcome")), "incomplete");
	json_decref(r3);
	json_decref(r);
	json_decref(r2);
	bench_key_free(k);
	fx_free(&f);
}

static void
test_sign_verify_tamper(void **state)
{
	(void)state;
	struct fx f;
	struct bench_key *k, *other;
	char *dir = tmpdir(), why[512], *jws, *jws2;
	size_t len, len2;
	json_t *r, *got = NULL, *jwk, *ojwk;

	fx_load(&f);
	assert_int_equal(bench_key_init(dir, 0, why, sizeof(why)), 0);
	assert_int_equal(bench_key_load(dir, &k, why, sizeof(why)), 0);
	assert_int_equal(bench_key_from_raw(rfc_d, &other), 0);
	jwk = bench_key_public_jwk(k);
	ojwk = bench_key_public_jwk(other);
	r = fx_report(&f, k);
	assert_int_equal(report_sign(r, k, &jws, &len, why, sizeof(why)), 0);
	assert_int_equal(report_verify(jws, len, jwk, &got, why, sizeof(why)), 0);
	assert_true(json_equal(got, r));
	json_decref(got);
	got = NULL;
	/* Deterministic: the same report and key give the same bytes. */
	assert_int_equal(report_sign(r, k, &jws2, &len2, why, sizeof(why)), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(jws, jws2, len);
	free(jws2);

	/* Another bench's key: the kid says so. */
	assert_int_equal(report_verify(jws, len, ojwk, &got, why, sizeof(why)), REPORT_E_UNKNOWN_KEY);
	assert_non_null(strstr(why, "not by the key used to verify"));

	/* Every single-byte change is refused: every byte outside the payload, and every 5th byte of
	 * the payload (plus its first and last 8), to keep the test fast under the sanitizers. */
	char *t = xmalloc(len + 1);
	const char *pl = strstr(jws, "\"payload\":\"") + 11, *ple = strchr(pl, '"');
	size_t p0 = (size_t)(pl - jws), p1 = (size_t)(ple - jws);
	for (size_t i = 0; i < len; i++) {
		if (i > p0 + 8 && i + 8 < p1 && (i - p0) % 5 != 0)
			continue;
		memcpy(t, jws, len + 1);
		t[i] = t[i] == 'A' ? 'B' : (t[i] == '"' ? '\'' : 'A');
		int rc = report_verify(t, len, jwk, &got, why, sizeof(why));
		if (rc == 0)
			fail_msg("changing byte %zu (%c) still verifies", i, jws[i]);
		assert_null(got);
	}
	/* Every truncation is refused as malformed. */
	for (size_t n = 0; n < len; n++) {
		int rc = report_verify(jws, n, jwk, &got, why, sizeof(why));
		assert_int_equal(rc, REPORT_E_MALFORMED);
	}
	free(t);

	/* A signature by another key under this bench's kid: the signature fails. */
	{
		json_t *o = json_loads(jws, 0, NULL), *o2;
		char *forged;
		size_t flen;
		assert_int_equal(report_sign(r, other, &forged, &flen, why, sizeof(why)), 0);
		o2 = json_loads(forged, 0, NULL);
		json_object_set(o, "signature", json_object_get(o2, "signature"));
		char *s = json_dumps(o, JSON_COMPACT);
		assert_int_equal(report_verify(s, strlen(s), jwk, &got, why, sizeof(why)),
		                 REPORT_E_SIGNATURE);
		assert_non_null(strstr(why, "does not verify"));
		free(s);
		free(forged);
		json_decref(o);
		json_decref(o2);
	}
	/* Foreign algorithms. */
	const char *algs[] = {"none", "HS256", "ES256", "RS256", "Ed25519"};
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		json_t *o = json_loads(jws, 0, NULL);
		char *hdr = xasprintf("{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"benchd-report+json\"}",
		                      algs[i], bench_key_id(k));
		char *b = b64url_encode(hdr, strlen(hdr));
		json_object_set_new(o, "protected", json_string(b));
		char *s = json_dumps(o, JSON_COMPACT);
		assert_int_equal(report_verify(s, strlen(s), jwk, &got, why, sizeof(why)), REPORT_E_ALG);
		assert_non_null(strstr(why, algs[i]));
		free(s);
		free(b);
		free(hdr);
		json_decref(o);
	}
	free(jws);
	json_decref(r);
	json_decref(jwk);
	json_decref(ojwk);
	bench_key_free(k);
	bench_key_free(other);
	fx_free(&f);
	rmtree(dir);
	free(dir);
}

static void
test_key_files(void **state)
{
	(void)state;
	char *dir = tmpdir(), *sd = xasprintf("%s/a/b/state", dir), *path = bench_key_path(sd), why[512];
	char kid1[64];
	struct stat st;
	struct bench_key *k;
	mode_t old = umask(0);

	/* umask 0 and umask 0277 both give exactly 0600 (and 0700 directories). */
	assert_int_equal(bench_key_init(sd, 0, why, sizeof(why)), 0);
	umask(old);
	util_strlcpy(kid1, why, sizeof(kid1));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(sd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* The file is PKCS#8 PEM. */
	char *pem;
	size_t pemlen;
	assert_int_equal(util_read_file(path, 65536, &pem, &pemlen), 0);
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
	free(pem);
	/* Refuses to overwrite; the key is unchanged. */
	assert_int_equal(bench_key_init(sd, 0, why, sizeof(why)), REPORT_E_EXISTS);
	assert_non_null(strstr(why, "--force"));
	assert_non_null(strstr(why, kid1));
	assert_int_equal(bench_key_load(sd, &k, why, sizeof(why)), 0);
	assert_string_equal(bench_key_id(k), kid1);
	bench_key_free(k);
	/* --force replaces it, still 0600, under a permissive umask too. */
	old = umask(0277);
	assert_int_equal(bench_key_init(sd, 1, why, sizeof(why)), 0);
	umask(old);
	assert_string_not_equal(why, kid1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* A key others can read is refused with the fix. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(bench_key_load(sd, &k, why, sizeof(why)), REPORT_E_KEY);
	assert_non_null(strstr(why, "chmod 600"));
	/* No key at all. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(bench_key_load(sd, &k, why, sizeof(why)), REPORT_E_NOKEY);
	assert_non_null(strstr(why, "benchctl key init"));
	/* Garbage in the key file. */
	assert_int_equal(util_write_file_atomic(path, "not a key\n", 10, 0600), 0);
	assert_int_equal(bench_key_load(sd, &k, why, sizeof(why)), REPORT_E_KEY);
	free(path);
	free(sd);
	rmtree(dir);
	free(dir);
}

static void
test_render_escaping(void **state)
{
	(void)state;
	json_t *r = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}, s:[{s:s, s:s, s:s, s:{s:s}}], s:{}}",
	                      "schema", "benchd.report/1", "report_id", "<id>", "device", "model_name",
	                      "<script>alert(1)</script>", "serial",
	                      "a\x1b[31mred\xc2\x9b"
	                      "2J",
	                      "bench", "id", "b&b", "faults", "code", "XYZ-999", "severity", "major", "title",
	                      "\"quoted\" 'single'", "evidence", "k", "<v>\x01", "readings");
	char *out, why[256];
	size_t len;

	/* The customer page (HTML's default view) escapes what it shows of the report too. */
	assert_int_equal(report_render(r, REPORT_FMT_HTML, "en", NULL, &out, &len, why, sizeof(why)), 0);
	assert_null(strstr(out, "<script>"));
	assert_null(strchr(out, '\x1b'));
	assert_non_null(strstr(out, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(out, "&quot;quoted&quot; &#39;single&#39;")); /* no catalogue: the title */
	free(out);
	struct report_render_opts tech = {
	    .fmt = REPORT_FMT_HTML, .view = REPORT_VIEW_TECHNICIAN, .lang = "en", .verified = 1};
	assert_int_equal(report_render_ex(r, &tech, &out, &len, why, sizeof(why)), 0);
	assert_null(strstr(out, "<script>"));
	assert_null(strstr(out, "<v>"));
	assert_null(strchr(out, '\x01'));
	assert_null(strchr(out, '\x1b'));
	assert_non_null(strstr(out, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(out, "b&amp;b"));
	assert_non_null(strstr(out, "&quot;quoted&quot; &#39;single&#39;"));
	free(out);
	assert_int_equal(report_render(r, REPORT_FMT_TEXT, "zh", NULL, &out, &len, why, sizeof(why)), 0);
	assert_null(strchr(out, '\x1b'));
	assert_non_null(strstr(out, "a\\x1b[31mred\\u009b2J"));
	assert_null(strstr(out, "\xc2\x9b"));
	assert_non_null(strstr(out, "诊断报告"));
	free(out);
	json_decref(r);
	/* Partial readings: a crash count without the panic split reads as zero panics. */
	r = json_pack("{s:s, s:{s:{s:i}}}", "schema", "benchd.report/1", "readings", "crashes", "count", 3);
	assert_int_equal(report_render(r, REPORT_FMT_TEXT, "en", NULL, &out, &len, why, sizeof(why)), 0);
	assert_non_null(strstr(out, "Crash reports: 3 (0 kernel panics, 0 forced restarts)"));
	assert_non_null(strstr(out, "Model: Unknown device"));
	free(out);
	tech.lang = "it";
	assert_int_equal(report_render_ex(r, &tech, &out, &len, why, sizeof(why)), 0);
	assert_non_null(strstr(out, "<td>3 (0 panic del kernel, 0 riavvii forzati)</td>"));
	free(out);
	/* The customer view of almost nothing: the phone, a sentence, no crash. */
	assert_int_equal(report_render(r, REPORT_FMT_TEXT, "fr", NULL, &out, &len, why, sizeof(why)), 0);
	tech.view = REPORT_VIEW_CUSTOMER;
	free(out);
	assert_int_equal(report_render_ex(r, &tech, &out, &len, why, sizeof(why)), 0);
	assert_non_null(strstr(out, "Non abbiamo potuto completare il controllo del tuo telefono."));
	free(out);
	json_decref(r);
}

/* The renderer takes the catalogue from its caller; a path it cannot read fails the render. */
static void
test_render_catalogue_and_views(void **state)
{
	(void)state;
	json_t *r =
	    json_pack("{s:s, s:s, s:[{s:s, s:s, s:n, s:s}], s:{s:{s:f}}}", "schema", "benchd.report/1",
	              "outcome", "fail", "faults", "code", "STO-001", "severity", "minor", "part",
	              "part_note", "customer data", "readings", "battery", "health_pct", 91.0);
	char *out = NULL, why[256];
	size_t len;
	struct report_render_opts o = {.fmt = REPORT_FMT_HTML,
	                               .lang = "it",
	                               .verified = 1,
	                               .catalogue_path = "/nonexistent/catalogue.json"};

	assert_int_equal(report_render_ex(r, &o, &out, &len, why, sizeof(why)), REPORT_E_IO);
	assert_non_null(strstr(why, "/nonexistent/catalogue.json"));
	assert_null(out);
	/* A catalogue handed in, loaded: the customer view by default for HTML. */
	json_t *cat = json_pack("{s:{s:{s:s, s:{s:s, s:s}}}, s:{s:{s:s, s:s}}}", "codes", "STO-001",
	                        "severity", "minor", "customer", "en", "Your phone is almost full.", "it",
	                        "Il telefono è quasi pieno.", "parts", "none (customer data)", "en",
	                        "none (customer data)", "it", "nessuna (dati del cliente)");
	o.catalogue_path = NULL;
	o.catalogue = cat;
	assert_int_equal(report_view_of(&o), REPORT_VIEW_CUSTOMER);
	assert_int_equal(report_render_ex(r, &o, &out, &len, why, sizeof(why)), REPORT_OK);
	assert_non_null(strstr(out, "Il telefono è quasi pieno."));
	/* A null part with its note: no part to replace, advice. */
	assert_null(strstr(out, "class=\"replace\""));
	assert_non_null(strstr(out, "Da sapere"));
	free(out);
	o.view = REPORT_VIEW_TECHNICIAN;
	o.fmt = REPORT_FMT_TEXT;
	assert_int_equal(report_render_ex(r, &o, &out, &len, why, sizeof(why)), REPORT_OK);
	assert_non_null(strstr(out, "Parte da sostituire: nessuna (dati del cliente)"));
	free(out);
	o.fmt = REPORT_FMT_HTML;
	assert_int_equal(report_view_of(&o), REPORT_VIEW_TECHNICIAN);
	json_decref(cat);
	json_decref(r);
	/* Every label has all four languages. */
	assert_null(i18n_incomplete_label());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_b64url),
	    cmocka_unit_test(test_rfc8037),
	    cmocka_unit_test(test_report_model),
	    cmocka_unit_test(test_sign_verify_tamper),
	    cmocka_unit_test(test_key_files),
	    cmocka_unit_test(test_render_escaping),
	    cmocka_unit_test(test_render_catalogue_and_views),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
