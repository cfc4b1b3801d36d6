/* treetest: `benchctl trees test` (engine_test). */
#include "engine_int.h"

#include <stdio.h>

int
engine_test(const char *trees_dir, const char *tests_dir, json_t **results, char *why, size_t whylen)
{
	(void)trees_dir;
	(void)tests_dir;
	*results = NULL;
	snprintf(why, whylen, "not yet");
	return ENGINE_E_TREES;
}
