/* Private to the store module. */
#ifndef CV_STORE_INTERNAL_H
#define CV_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

struct cv_store {
	sqlite3 *db;
	sqlite3_stmt *q[16];	/* store.c's prepared statements */
	int in_tx;
};

/* Users and their certificates (users.c). */
extern const char store_users_schema[];
/* Cases and their members (cases.c). */
extern const char store_cases_schema[];

#endif
