/*
 * witness_no_quorum = refuse-reads (issue 15): the supervisor's witness
 * pusher says in a memfd whether the quorum of cosignatures has been
 * missing past witness_alert_after, and keyd, which alone decrypts,
 * reads it before every decrypt. The api worker cannot route around it:
 * it never sees a key, and the descriptor keyd reads is read-only and
 * not the worker's.
 *
 * The state is CV_KEYD_QUORUM_BYTES: u64be version (1), u64be missing
 * (0 or 1), u64be since (missing: cv_now_us of the first round without a
 * quorum; met: of the round that last confirmed it;
 * CLOCK_MONOTONIC, one clock for the whole host), u64be check (the XOR
 * of the three, so that a torn read, which Linux does not rule out for a
 * pread racing a pwrite, is seen and read again). Anything else is
 * "cannot read": under refuse-reads, reads are refused (fail closed).
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "keyd_internal.h"

#define QUORUM_VERSION 1
#define QUORUM_TRIES 4

void
cv_keyd_quorum_put(uint8_t b[static CV_KEYD_QUORUM_BYTES], int missing,
    int64_t since_us)
{
	uint64_t v[3] = { QUORUM_VERSION, missing ? 1 : 0,
		(uint64_t)since_us };

	for (int i = 0; i < 3; i++)
		cv_put_u64be(b + 8 * i, v[i]);
	cv_put_u64be(b + 24, v[0] ^ v[1] ^ v[2]);
}

void
cv_keyd_refuse_reads(struct cv_keyd *k, int fd, int64_t max_age_us)
{
	k->quorum_fd = fd;
	k->quorum_max_age_us = max_age_us;
	k->refuse_reads = 1;
}

/* 1 and *MISSING, *SINCE_US when FD holds a whole, current state. */
static int
quorum_get(int fd, int *missing, int64_t *since_us)
{
	uint8_t b[CV_KEYD_QUORUM_BYTES];
	uint64_t v[4];

	for (int t = 0; t < QUORUM_TRIES; t++) {
		ssize_t n = pread(fd, b, sizeof b, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof b)
			return 0;
		for (int i = 0; i < 4; i++)
			v[i] = cv_get_u64be(b + 8 * i);
		if (v[0] != QUORUM_VERSION || v[1] > 1 ||
		    (v[0] ^ v[1] ^ v[2]) != v[3])
			continue;	/* torn: once more */
		*missing = (int)v[1];
		*since_us = (int64_t)v[2];
		return 1;
	}
	return 0;
}

cv_err
keyd_quorum_gate(struct cv_keyd *k)
{
	int missing = 1;
	int64_t since = 0, s;

	if (!k->refuse_reads)
		return CV_OK;
	if (k->quorum_fd < 0 || !quorum_get(k->quorum_fd, &missing, &since))
		return cv_fail(CV_ERR_QUORUM, "the witness quorum's state "
		    "cannot be read: reads refused by policy");
	if (!missing) {
		/* Met, as of SINCE: unless the pusher stopped saying so. */
		if (k->quorum_max_age_us <= 0 ||
		    cv_now_us() - since <= k->quorum_max_age_us)
			return CV_OK;
		return cv_fail(CV_ERR_QUORUM, "the witness quorum was last "
		    "confirmed %lld s ago: reads refused by policy",
		    (long long)((cv_now_us() - since) / 1000000));
	}
	s = (cv_now_us() - since) / 1000000;
	return cv_fail(CV_ERR_QUORUM, "no witness quorum for %lld s: reads "
	    "refused by policy", (long long)(s > 0 ? s : 0));
}
