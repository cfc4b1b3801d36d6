/* benchctl report: placeholder until issue 6 lands; says so and exits 8. */
#include "benchctl.h"

int
cmd_report(struct ctl *g, int argc, char **argv)
{
	(void)g;
	(void)argc;
	(void)argv;
	return benchctl_not_built("report", "#6");
}
