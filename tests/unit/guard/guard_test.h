/*
 * Shared by the guard's unit tests: the units of the injected clock, the
 * time they start at, and record ids.
 */
#ifndef CV_TEST_GUARD_TEST_H
#define CV_TEST_GUARD_TEST_H

#include <stdint.h>
#include <stdio.h>

#define S 1000000LL
#define MIN (60 * S)
#define HOUR (3600 * S)
#define DAY (24 * HOUR)
#define WEEK (7 * DAY)

/* Monday 2030-01-07 00:00 UTC. */
static const int64_t T0 = 1893974400LL * S;

/* Record id number I, spread over the id space. */
static inline const char *
rid(char buf[32], unsigned i)
{
	snprintf(buf, 32, "CV-%016X", i * 2654435761u);
	return buf;
}

#endif
