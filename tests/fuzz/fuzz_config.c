/* The vault configuration parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cv_config c;

	if (cv_config_parse((const char *)data, size, &c) == CV_OK) {
		/* Accepted values are NUL-terminated and free of controls. */
		if (strlen(c.vault_id) != CV_VAULT_ID_LEN ||
		    strchr(c.pkcs11_module, '\n') || strchr(c.pin_file, '\n'))
			abort();
	}
	return 0;
}
