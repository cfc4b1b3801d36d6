/*
 * fuzz_jws: libFuzzer target for the report verifier. Any bytes must give a clean error or a
 * verified payload, never a crash, leak or read out of bounds; the unverified parser and the
 * renderers run on whatever payload parses, as `benchctl report show` would, and on the input
 * itself when it is a JSON object (a report as the renderers see it).
 */
#include "report.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const json_t *jwk;
	static json_t *jwk_owned;
	json_t *report = NULL;
	char why[512], kid[64], *out = NULL;
	size_t outlen;

	if (jwk == NULL) {
		/* RFC 8037 A.2 public key: the corpus seeds are signed with its private half. */
		jwk_owned = json_pack("{s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x",
		                      "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
		jwk = jwk_owned;
	}
	if (report_verify((const char *)data, size, jwk, &report, why, sizeof(why)) == REPORT_OK) {
		json_decref(report);
		report = NULL;
	}
	if (report_unverified_payload((const char *)data, size, &report, kid, why, sizeof(why)) ==
	    REPORT_OK) {
		struct report_render_opts o = {.fmt = REPORT_FMT_HTML,
		                               .lang = "zh",
		                               .catalogue_path = "/nonexistent",
		                               .verified = 0,
		                               .verify_reason = "fuzz",
		                               .kid = kid};
		if (report_render_ex(report, &o, &out, &outlen, why, sizeof(why)) == REPORT_OK)
			free(out);
		o.fmt = REPORT_FMT_TEXT;
		if (report_render_ex(report, &o, &out, &outlen, why, sizeof(why)) == REPORT_OK)
			free(out);
		json_decref(report);
	}
	/* The renderers on any JSON object too: a report whose signature failed is still shown. */
	report = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(report)) {
		struct report_render_opts o = {.fmt = REPORT_FMT_HTML,
		                               .lang = "fr",
		                               .catalogue_path = "/nonexistent",
		                               .verified = 1,
		                               .kid = "k"};
		if (report_render_ex(report, &o, &out, &outlen, why, sizeof(why)) == REPORT_OK)
			free(out);
		o.fmt = REPORT_FMT_TEXT;
		if (report_render_ex(report, &o, &out, &outlen, why, sizeof(why)) == REPORT_OK)
			free(out);
	}
	json_decref(report);
	return 0;
}
