/* libFuzzer: syslog_relay framing, fed in chunks whose sizes come from the input itself. */
#include "normalize.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct norm_syslog s;
	size_t i = 0;
	char *d;

	norm_syslog_init(&s);
	while (i < size) {
		size_t n = 1 + (data[i] % 64);
		if (n > size - i)
			n = size - i;
		norm_syslog_feed(&s, (const char *)data + i, n);
		i += n;
	}
	norm_syslog_finish(&s);
	if (json_array_size(s.lines) > NORM_SYSLOG_MAX_LINES || s.bytes > NORM_SYSLOG_MAX_BYTES)
		abort();
	d = json_dumps(s.lines, 0);
	if (d == NULL)
		abort();
	free(d);
	norm_syslog_free(&s);
	return 0;
}
