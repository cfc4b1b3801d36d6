/* benchctl status/sessions/outbox: placeholders until issue 7 lands; they say so and exit 8. */
#include "benchctl.h"

int
cmd_status(struct ctl *g, int argc, char **argv)
{
	(void)g;
	(void)argc;
	(void)argv;
	return benchctl_not_built("status", "#7");
}

int
cmd_sessions(struct ctl *g, int argc, char **argv)
{
	(void)g;
	(void)argc;
	(void)argv;
	return benchctl_not_built("sessions", "#7");
}

int
cmd_outbox(struct ctl *g, int argc, char **argv)
{
	(void)g;
	(void)argc;
	(void)argv;
	return benchctl_not_built("outbox", "#7");
}
