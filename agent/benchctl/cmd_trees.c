/* benchctl trees: placeholder until issue 5 lands; says so and exits 8. */
#include "benchctl.h"

int
cmd_trees(struct ctl *g, int argc, char **argv)
{
	(void)g;
	(void)argc;
	(void)argv;
	return benchctl_not_built("trees", "#5");
}
