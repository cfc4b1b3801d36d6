/* benchctl snapshot: placeholder until issue 4 lands; says so and exits 8. */
#include "benchctl.h"

int
cmd_snapshot(struct ctl *g, int argc, char **argv)
{
	(void)g;
	(void)argc;
	(void)argv;
	return benchctl_not_built("snapshot", "#4");
}
