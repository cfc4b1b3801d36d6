/*
 * fuzz_jws: libFuzzer target for the report verifier. Any bytes must give a clean error or a
 * verified payload, never a crash, leak or read out of bounds; the unverified parser and the
 * renderers (both views, text and HTML) run on whatever payload parses, as `benchctl report show`
 * would, and on the input itself when it is a JSON object (a report as the renderers see it).
 */
#include "report.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Both views, as text and as HTML, with the real catalogue (its lookups run on fuzzed codes and
 * parts) and a shop. */
static void
render_all(const json_t *report, const char *lang, int verified, const char *kid)
{
	static json_t *cat;
	static int loaded;
	char why[512], *out = NULL;
	size_t outlen;

	if (!loaded) {
		loaded = 1;
		if (report_catalogue_load(BENCHD_SOURCE_DIR "/diag-trees/catalogue.json", &cat, why,
		                          sizeof(why)) != 0)
			cat = NULL;
	}
	for (int v = REPORT_VIEW_TECHNICIAN; v <= REPORT_VIEW_CUSTOMER; v++)
		for (int f = REPORT_FMT_TEXT; f <= REPORT_FMT_HTML; f++) {
			struct report_render_opts o = {.fmt = (enum report_format)f,
			                               .view = (enum report_view)v,
			                               .lang = lang,
			                               .catalogue = cat,
			                               .verified = verified,
			                               .verify_reason = verified ? NULL : "fuzz",
			                               .kid = kid,
			                               .shop_name = "Shop <&>",
			                               .shop_contact = "contact"};
			if (report_render_ex(report, &o, &out, &outlen, why, sizeof(why)) == REPORT_OK)
				free(out);
		}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const json_t *jwk;
	static json_t *jwk_owned;
	json_t *report = NULL;
	char why[512], kid[64];

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
		render_all(report, "zh", 0, kid);
		json_decref(report);
	}
	/* The renderers on any JSON object too: a report whose signature failed is still shown. */
	report = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(report))
		render_all(report, "fr", 1, "k");
	json_decref(report);
	return 0;
}
