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
		/* A db is a URI the store sends to PostgreSQL, nothing else
		 * (a path would silently be a SQLite file). */
		if (c.db[0] && strncmp(c.db, "postgresql://", 13) != 0 &&
		    strncmp(c.db, "postgres://", 11) != 0)
			abort();
		/* The guard's numbers are in their documented ranges. */
		if (c.ceiling_hour[0] < 1 || c.ceiling_hour[0] >
		    c.ceiling_hour[1] || c.ceiling_hour[1] > CV_CEILING_MAX ||
		    c.ceiling_day[0] < 1 || c.ceiling_day[0] >
		    c.ceiling_day[1] || c.ceiling_day[1] > CV_CEILING_MAX ||
		    c.probation_days > CV_PROBATION_DAYS_MAX)
			abort();
		/* The server's deadlines too: never 0 (no deadline). */
		if (c.handshake_timeout < 1 || c.handshake_timeout >
		    CV_HANDSHAKE_TIMEOUT_MAX || c.idle_timeout < 1 ||
		    c.idle_timeout > CV_IDLE_TIMEOUT_MAX)
			abort();
	}
	return 0;
}
