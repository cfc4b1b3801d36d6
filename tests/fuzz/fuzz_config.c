/* Fuzz target: benchd's INI configuration loader on arbitrary text. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	char err[512];
	char *text;

	if (size > 64 * 1024)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (config_load_string("fuzz.conf", text, &cfg, err, sizeof(err)) == CONFIG_OK)
		config_free(cfg);
	else if (strchr(err, '\n') != NULL)
		abort(); /* an error is always one line */
	free(text);
	return 0;
}
