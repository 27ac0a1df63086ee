/*
 * Synthetic SF-86-style personnel records (docs/schema.md), for demos,
 * tests, benchmarks and drills. Realistic in shape and variety, but every
 * SSN is from the never-issued area range 900-999 and every name is drawn
 * from invented combinations. Deterministic: the same seed and index give
 * the same record on every machine. Ids and SSNs are keyed permutations
 * of the index under a key made from the seed: without the seed, neither
 * says which set a record is of, nor where in it.
 */
#ifndef CV_GEN_H
#define CV_GEN_H

#include <stdio.h>

#include "../base/base.h"

/*
 * Appends record INDEX of the set named by SEED to OUT as one JSON line
 * ending in '\n'. Ids and SSNs are unique within a seed for the first
 * 98,990,100 indexes.
 */
cv_err cv_gen_record(uint64_t seed, uint64_t index,
    struct cv_buf *out) CV_MUST_CHECK;

/*
 * Writes records FIRST .. FIRST+COUNT-1 to F in order, generating on
 * THREADS threads (0: one per processor). CV_ERR_IO if F fails (a closed
 * pipe included).
 */
cv_err cv_gen_write(FILE *f, uint64_t seed, uint64_t first, uint64_t count,
    unsigned threads) CV_MUST_CHECK;

#endif
