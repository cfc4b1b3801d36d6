/* benchctl key: placeholder until issue 6 lands; says so and exits 8. */
#include "benchctl.h"

int
cmd_key(struct ctl *g, int argc, char **argv)
{
	(void)g;
	(void)argc;
	(void)argv;
	return benchctl_not_built("key", "#6");
}
