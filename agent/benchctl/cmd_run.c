/* benchctl run: placeholder until issue 5/6 lands; says so and exits 8. */
#include "benchctl.h"

int
cmd_run(struct ctl *g, int argc, char **argv)
{
	(void)g;
	(void)argc;
	(void)argv;
	return benchctl_not_built("run", "#5/6");
}
