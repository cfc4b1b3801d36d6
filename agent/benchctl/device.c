/* benchctl: what the device commands (snapshot, run --udid) share; see benchctl.h. */
#include "benchctl.h"

#include "idevice.h"

#include <stdio.h>

int
benchctl_exit_for_device(int err)
{
	switch (err) {
	case IDEV_OK:
		return BC_EXIT_OK;
	case IDEV_E_NOT_FOUND:
	case IDEV_E_UNPLUGGED:
	case IDEV_E_NO_USBMUXD:
		return BC_EXIT_NO_DEVICE;
	case IDEV_E_LOCKED:
		return BC_EXIT_LOCKED;
	case IDEV_E_UNTRUSTED:
	case IDEV_E_PAIRING_PENDING:
		return BC_EXIT_UNTRUSTED;
	default:
		return BC_EXIT_FAIL;
	}
}

void
benchctl_progress(const char *what, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "benchctl: %s\n", what);
}
