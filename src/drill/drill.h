/*
 * Attack drills: each scenario starts a fresh vault and server on
 * loopback, loads synthetic records (with canaries), creates users and
 * cases, and plays an attacker through the real HTTPS API and the
 * filesystem. The result says how many records the attacker got, how
 * soon the attack was detected, which control stopped it and whether
 * `scope` named exactly the records that left.
 */
#ifndef CV_DRILL_H
#define CV_DRILL_H

#include <stdint.h>
#include <stdio.h>

#include "../base/base.h"

#define CV_DRILL_NSCENARIOS 11

struct cv_drill_opts {
	const char *exe;	/* the clearvault binary to run */
	size_t records;		/* records loaded per scenario */
	int verbose;		/* progress on stderr */
};

enum cv_drill_event_kind {
	CV_DRILL_EV_READ = 1,	/* a record's data reached the attacker */
	CV_DRILL_EV_REFUSED,	/* a request refused */
	CV_DRILL_EV_ALERT,	/* an alert naming the attacker */
	CV_DRILL_EV_LOCK,	/* the attacker locked */
};

struct cv_drill_event {
	int64_t t_ms;		/* since the scenario's start */
	enum cv_drill_event_kind kind;
};

struct cv_drill_result {
	int scenario;			/* 1..CV_DRILL_NSCENARIOS */
	const char *name;		/* static */
	const char *control;		/* static: the control that fired */
	long records_exposed;
	int64_t detected_after_ms;	/* -1: nothing detected */
	int detected_simulated;		/* detection in the guard's clock */
	const char *detection;		/* static: what "detected" means */
	int scope_exact;
	int goal_met;
	const char *goal;		/* static */
	char note[512];
	int64_t duration_ms;
	struct cv_drill_event *events;
	size_t nevents, capevents;
};

/* The scenario's short name (1..CV_DRILL_NSCENARIOS), or NULL. */
const char *cv_drill_name(int scenario);

/*
 * Runs scenario N (1..CV_DRILL_NSCENARIOS) and fills *OUT (free with cv_drill_result_free).
 * A failure of the drill's own machinery (not of the attack) is an error.
 */
cv_err cv_drill_run(const struct cv_drill_opts *o, int scenario,
    struct cv_drill_result *out) CV_MUST_CHECK;
void cv_drill_result_free(struct cv_drill_result *r);

/* The report of N results: an aligned table, Markdown, JSON, SVG. */
cv_err cv_drill_text(FILE *f, const struct cv_drill_result *r, size_t n)
    CV_MUST_CHECK;
cv_err cv_drill_markdown(FILE *f, const struct cv_drill_result *r, size_t n)
    CV_MUST_CHECK;
cv_err cv_drill_json(FILE *f, const struct cv_drill_result *r, size_t n,
    size_t records) CV_MUST_CHECK;
cv_err cv_drill_svg(FILE *f, const struct cv_drill_result *r, size_t n)
    CV_MUST_CHECK;

#endif
