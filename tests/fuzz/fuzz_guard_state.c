/* Guard snapshots (sealed by the caller, but still checked as hostile). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard/guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cv_guard *g;
	struct cv_buf a = { 0 }, b = { 0 };
	uint64_t idx = 0, idx2 = 0;
	struct cv_guard_decision d;
	const char *rid = "CV-0000000000000001";
	struct cv_guard_read r = { .user = "fuzz", .addr = "127.0.0.1",
	    .case_id = "C-1", .rids = &rid, .nrids = 1, .stepped_up = true,
	    .now_us = 1900000000LL * 1000000,
	    .limits = &cv_guard_limits_default };

	if (g == NULL && cv_guard_new(&g) != CV_OK)
		abort();
	if (cv_guard_save(g, 1, &a) != CV_OK)
		abort();
	if (cv_guard_load(g, data, size, &idx) != CV_OK) {
		/* Refused: the state is exactly what it was. */
		if (cv_guard_save(g, 1, &b) != CV_OK || a.len != b.len ||
		    memcmp(a.p, b.p, a.len) != 0)
			abort();
	} else {
		/* Accepted: it saves back to the same bytes and works. */
		if (cv_guard_save(g, idx, &b) != CV_OK || b.len != size ||
		    memcmp(b.p, data, size) != 0)
			abort();
		if (cv_guard_check(g, &r, &d) != CV_OK)
			abort();
		b.len = 0;
		if (cv_guard_save(g, idx, &b) != CV_OK ||
		    cv_guard_load(g, b.p, b.len, &idx2) != CV_OK || idx2 != idx)
			abort();
	}
	cv_buf_free(&a);
	cv_buf_free(&b);
	return 0;
}
