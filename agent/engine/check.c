/* check: `benchctl trees check` (engine_check). */
#include "engine_int.h"

int
engine_check(const char *trees_dir, const char *data_dir, json_t **problems)
{
	(void)trees_dir;
	(void)data_dir;
	*problems = json_array();
	return 0;
}
