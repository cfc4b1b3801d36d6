/* libFuzzer: iBoot serial-string parser, then the USB-level snapshot built from it. */
#include "usbdev.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct usbdev_info u;
	json_t *s;
	char *d;

	memset(&u, 0, sizeof(u));
	usbdev_parse_iboot((const char *)data, size, &u.iboot);
	u.mode = usbdev_mode_from_pid(size & 0xffff);
	memcpy(u.serial, data, size < sizeof(u.serial) - 1 ? size : sizeof(u.serial) - 1);
	s = usbdev_snapshot(&u);
	d = json_dumps(s, 0);
	if (d == NULL)
		abort();
	free(d);
	json_decref(s);
	return 0;
}
