/* libFuzzer: crash-report parser on any bytes, whole-file and head-only (as the driver streams). */
#include "normalize.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	json_t *c;

	c = norm_crash_parse("fuzz.ips", (const char *)data, size, size, why, sizeof(why));
	if (c) {
		char *s = json_dumps(c, 0); /* everything we produce must serialise */
		if (s == NULL)
			abort();
		free(s);
	}
	json_decref(c);
	/* only a head in memory: the file is "larger" than what we hold */
	c = norm_crash_parse("fuzz.ips", (const char *)data, size / 2, size + 1000, why, sizeof(why));
	json_decref(c);
	return 0;
}
