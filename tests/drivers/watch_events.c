/* watch_events SECONDS: print usbmux attach/detach events (idev_watch_start) as lines, for
 * drivers_emu.py's "watch" case, then stop the watch cleanly. */
#include "idevice.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void
on_event(enum idev_event_kind k, const char *udid, void *ctx)
{
	(void)ctx;
	printf("%s %s\n", k == IDEV_EVENT_ADD ? "add" : k == IDEV_EVENT_REMOVE ? "remove" : "paired", udid);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 5;

	if (idev_watch_start(on_event, NULL) != IDEV_OK) {
		fprintf(stderr, "watch: %s\n", idev_strerror(IDEV_E_NO_USBMUXD));
		return 1;
	}
	printf("watching\n");
	fflush(stdout);
	sleep((unsigned)secs);
	idev_watch_stop();
	printf("stopped\n");
	return 0;
}
