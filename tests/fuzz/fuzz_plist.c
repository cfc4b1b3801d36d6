/* libFuzzer: a device plist (XML or binary) -> JSON -> the lockdown/IORegistry normalisers. */
#include "models.h"
#include "normalize.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct models *m;
	json_t *j, *dev, *st, *b;
	char *s;

	if (m == NULL)
		m = models_load(NULL, NULL, 0);
	j = norm_plist_bytes_to_json((const char *)data, size);
	if (j == NULL)
		return 0;
	dev = json_object();
	norm_device(dev, j, m);
	st = norm_storage(j);
	b = norm_battery(j, "AppleSmartBattery", j);
	json_object_set_new(dev, "storage", st ? st : json_null());
	json_object_set_new(dev, "battery", b);
	json_object_set(dev, "raw", j);
	s = json_dumps(dev, JSON_SORT_KEYS);
	if (s == NULL)
		abort();
	free(s);
	json_decref(dev);
	json_decref(j);
	return 0;
}
