/*
 * The behaviour baseline of each user and the detectors that compare a
 * read against it.
 *
 * The baseline: records read per hour of the week (168 buckets of one
 * byte, halved every week, so a bucket holds one to two weeks' worth),
 * the usual cases and the usual source addresses (small LRU sets with
 * the number of days each was seen). It learns only from reads that
 * raised nothing, so a thief cannot teach it that reading all night is
 * normal; a slow change of habits (below every detector) is learnt.
 *
 * Detectors (points per signal, see the constants):
 *   enumeration  many ids not found / not allowed in a minute
 *   sweep        many blind-index searches in a minute
 *   step_up      a read past a soft limit or the session budget
 *                without a step-up
 *   off_hours    bulk reading at an hour of the week with no baseline
 *   volume       reading far above the baseline of this hour
 *   case         bulk reading under a case not used on earlier days
 *   address      bulk reading from an address not used on earlier days
 * The first three need no history; case and address need the user's
 * own (they start after the learning period).
 *
 * Volume and off_hours do not wait for it: a user not learnt yet is held
 * to their peer group's baseline (the caller names the group: the role),
 * and before any member of the group has learnt, to the role's default
 * rate at every hour. A peer group is a pseudo-user (its id hashed in
 * its own domain, saved and loaded as a user) whose histogram holds, per
 * hour of the week, the most any learnt member read in it: a colleague
 * reading at the office's hours and pace raises nothing, while bulk
 * reading at an hour when none of them ever reads is off_hours from the
 * first day, where it used to be silent for the learning period.
 */
#include <stdio.h>
#include <string.h>

#include "guard_internal.h"

/*
 * Learning period: at least a day (so that the same hour on another day
 * says something about this one) and 50 records (a working day at a slow
 * pace). Before it, only the history-free detectors run.
 */
#define LEARN_READS 50
#define LEARN_SPAN_S DAY_S

/* Points halve every hour: a score is about the last hour or two. */
#define SCORE_HALF_LIFE_S HOUR_S

/*
 * Enumeration: typing an id wrong or following a stale link happens a
 * few times a minute at most; the first ENUM_FREE misses in a minute are
 * free, then 8 points each: about 12 more misses alert, 18 lock.
 */
#define ENUM_FREE 5
#define ENUM_POINTS 8

/* Blind-index sweep: the same shape for searches (SSN / name guessing). */
#define SWEEP_FREE 5
#define SWEEP_POINTS 8

/*
 * A refused step-up: a user who has the second factor answers it once;
 * a thief without it keeps trying. Ten refusals lock.
 */
#define STEPUP_POINTS 10

/*
 * Volume against the hour-of-week baseline: the sliding hour's distinct
 * records above VOL_MIN and above VOL_FACTOR times the expected count
 * for this hour; 5 points per record beyond. At an hour with no
 * baseline (the night, for a day worker) a reader of 20 records an hour
 * alerts within about an hour and is locked within about two, after
 * some 40-60 records; a busy but normal hour (up to 4x usual) is quiet.
 */
#define VOL_MIN 10
#define VOL_FACTOR 4
#define VOL_POINTS 5
#define USUAL_MAX (1u << 24)	/* records an hour: no one reads more */

/*
 * Cases and addresses not seen on PLACE_USUAL_DAYS clean days: on their
 * own they are normal (new assignments, a new desk), so they count only
 * with bulk: more than MIN records in the hour and more than FACTOR
 * times the baseline.
 */
#define PLACE_USUAL_DAYS 2
#define CASE_MIN 20
#define CASE_FACTOR 2
#define CASE_POINTS 2
#define ADDR_MIN 20
#define ADDR_FACTOR 2
#define ADDR_POINTS 3

/* Monday 00:00 UTC is hour 0 of the week; 1970-01-01 was a Thursday. */
static unsigned
hour_of_week(uint32_t now)
{
	return (unsigned)((now / HOUR_S + 72) % WEEK_HOURS);
}

static uint16_t
week_of(uint32_t now)
{
	return (uint16_t)((now / HOUR_S + 72) / WEEK_HOURS);
}

bool
baseline_learned(const struct gu *u, uint32_t now)
{
	return u->nreads >= LEARN_READS && u->first_s != 0 &&
	    now >= u->first_s && now - u->first_s >= LEARN_SPAN_S;
}

void
baseline_decay(struct gu *u, uint32_t now)
{
	uint32_t dt, halvings;

	if (now <= u->score_s)
		return;
	dt = now - u->score_s;
	u->score_s = now;
	halvings = dt / SCORE_HALF_LIFE_S;
	if (halvings >= 32) {
		u->score = 0;
		return;
	}
	u->score >>= halvings;
	/* 2^-f ~ 1 - f/2 for the part of a half-life left (within 6%). */
	u->score -= (uint32_t)((uint64_t)u->score *
	    (dt % SCORE_HALF_LIFE_S) / (2 * SCORE_HALF_LIFE_S));
}

void
baseline_roll_minute(struct gu *u, uint32_t now)
{
	uint32_t m = now / MINUTE_S;

	if (m <= u->minute)
		return;		/* same minute, or the clock went back */
	if (m == u->minute + 1) {
		u->miss[1] = u->miss[0];
		u->srch[1] = u->srch[0];
	} else {
		u->miss[1] = u->srch[1] = 0;
	}
	u->miss[0] = u->srch[0] = 0;
	u->minute = m;
}

/* Events in the last 60 s: this minute plus the overlapping last one. */
static uint32_t
per_minute(const uint16_t c[2], uint32_t now)
{
	return c[0] + (uint32_t)c[1] * (MINUTE_S - now % MINUTE_S) / MINUTE_S;
}

static uint16_t
sat16(uint32_t a, uint32_t b)
{
	return (uint16_t)(a + b > UINT16_MAX ? UINT16_MAX : a + b);
}

void
baseline_count_attempt(struct gu *u, const struct signal *s)
{
	u->miss[0] = sat16(u->miss[0], s->misses);
	u->srch[0] = sat16(u->srch[0], s->search ? 1 : 0);
}

/*
 * A histogram bucket aged to NOW without changing the state, with ACC
 * folded in if it is an earlier hour of that bucket. The current hour's
 * own reads are never part of its baseline: a reader cannot raise the
 * bar while reading.
 */
static uint32_t
bucket(const struct gu *u, unsigned how, uint32_t now)
{
	uint32_t hour = now / HOUR_S, v = u->hist[how], age;

	if (u->acc && u->acc_hour < hour && hour_of_week(u->acc_hour *
	    HOUR_S) == how) {
		age = week_of(u->acc_hour * HOUR_S) > u->week ?
		    (uint32_t)(week_of(u->acc_hour * HOUR_S) - u->week) : 0;
		v = (age >= 8 ? 0 : v >> age) + u->acc;
		v = v > UINT8_MAX ? UINT8_MAX : v;
		age = week_of(now) > week_of(u->acc_hour * HOUR_S) ?
		    (uint32_t)(week_of(now) - week_of(u->acc_hour * HOUR_S)) : 0;
	} else {
		age = week_of(now) > u->week ?
		    (uint32_t)(week_of(now) - u->week) : 0;
	}
	return age >= 8 ? 0 : v >> age;
}

/*
 * Records expected in the hour of NOW: this hour-of-week's bucket, or
 * half the busiest bucket of the same hour on another day, whichever is
 * more (one day of history already says 10:00 is a working hour).
 */
static uint32_t
expected(const struct gu *u, uint32_t now)
{
	unsigned how = hour_of_week(now), hod = how % 24;
	uint32_t m = 0, b;

	for (unsigned day = 0; day < 7; day++) {
		if ((b = bucket(u, day * 24 + hod, now)) > m)
			m = b;
	}
	b = bucket(u, how, now);
	return b > m / 2 ? b : m / 2;
}

static bool
usual(const struct place *p, size_t n, uint32_t h)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i].h == h)
			return p[i].days >= PLACE_USUAL_DAYS;
	}
	return false;
}

static uint32_t
max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static struct finding *
finding(struct finding *f, size_t *n, const char *kind, uint64_t points)
{
	struct finding *x = &f[(*n)++];

	x->kind = kind;
	x->points = points > SCORE_MAX / SCORE_ONE ? SCORE_MAX :
	    (uint32_t)points * SCORE_ONE;
	x->late = false;
	x->detail[0] = '\0';
	return x;
}

size_t
baseline_detect(const struct gu *u, const struct gu *peer,
    const struct signal *s, struct finding *f)
{
	struct finding *x;
	uint32_t c, e, over;
	size_t n = 0, k;
	const char *whose;
	bool own;

	c = per_minute(u->miss, s->now) + s->misses;
	if (s->misses && c > ENUM_FREE) {
		over = c - ENUM_FREE < s->misses ? c - ENUM_FREE : s->misses;
		x = finding(f, &n, "enumeration", (uint64_t)over * ENUM_POINTS);
		snprintf(x->detail, sizeof x->detail, "%u ids not found or "
		    "not allowed in the last minute", c);
	}
	c = per_minute(u->srch, s->now) + 1;
	if (s->search && c > SWEEP_FREE) {
		x = finding(f, &n, "sweep", SWEEP_POINTS);
		snprintf(x->detail, sizeof x->detail, "%u blind-index "
		    "searches in the last minute", c);
	}
	if (s->step_up_refused) {
		x = finding(f, &n, "step_up", STEPUP_POINTS);
		snprintf(x->detail, sizeof x->detail, "read past a soft limit "
		    "or the session budget without a step-up");
	}
	if (!s->returned || s->new_hour == 0)
		return n;
	/* The user's own baseline, else the peers', else the role's. */
	if ((own = baseline_learned(u, s->now))) {
		e = expected(u, s->now);
		whose = "";
	} else if (peer && baseline_learned(peer, s->now)) {
		e = expected(peer, s->now);
		whose = " (peers'; none of their own yet)";
	} else if (s->usual) {
		/* Capped so that VOL_FACTOR times it cannot wrap. */
		e = s->usual < USUAL_MAX ? s->usual : USUAL_MAX;
		whose = " (role default; none of their own yet)";
	} else {
		return n;
	}
	/* From here on: what the records returned say, due once they
	 * leave (f[k].late). */
	k = n;
	if (s->hour_after > max_u32(VOL_MIN, VOL_FACTOR * e)) {
		x = finding(f, &n, e == 0 ? "off_hours" : "volume",
		    (uint64_t)VOL_POINTS * s->new_hour);
		snprintf(x->detail, sizeof x->detail, "%u distinct records "
		    "in the last hour; baseline for this hour of the week %u%s",
		    s->hour_after, e, whose);
	}
	if (!own)
		goto late;
	if (s->case_h && !usual(u->cases, NCASES, s->case_h) &&
	    s->hour_after > max_u32(CASE_MIN, CASE_FACTOR * e)) {
		x = finding(f, &n, "case", (uint64_t)CASE_POINTS * s->new_hour);
		snprintf(x->detail, sizeof x->detail, "%u distinct records "
		    "in the last hour, under a case not used on earlier days",
		    s->hour_after);
	}
	if (s->addr_h && !usual(u->addrs, NADDRS, s->addr_h) &&
	    s->hour_after > max_u32(ADDR_MIN, ADDR_FACTOR * e)) {
		x = finding(f, &n, "address", (uint64_t)ADDR_POINTS *
		    s->new_hour);
		snprintf(x->detail, sizeof x->detail, "%u distinct records "
		    "in the last hour, from a source address not used on "
		    "earlier days", s->hour_after);
	}
late:
	for (; k < n; k++)
		f[k].late = true;
	return n;
}

uint32_t
baseline_score_add(struct gu *u, const struct finding *f, size_t n)
{
	uint64_t sc = u->score;

	for (size_t i = 0; i < n; i++)
		sc += f[i].points;
	u->score = sc > SCORE_MAX ? SCORE_MAX : (uint32_t)sc;
	return u->score;
}

/* Seen today: one more day for a known place, or replace the stalest. */
static void
place_seen(struct place *p, size_t n, uint32_t h, uint16_t day)
{
	size_t v = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i].h == h) {
			if (p[i].day != day) {
				p[i].day = day;
				if (p[i].days < UINT8_MAX)
					p[i].days++;
			}
			return;
		}
		if (p[i].h == 0 || (p[v].h != 0 && (p[i].day < p[v].day ||
		    (p[i].day == p[v].day && p[i].days < p[v].days))))
			v = i;
	}
	p[v].h = h;
	p[v].day = day;
	p[v].days = 1;
}

/* Halves the histogram once per week passed up to week W. */
static void
age_to(struct gu *u, uint16_t w)
{
	uint32_t age;

	if (w <= u->week)
		return;
	age = (uint32_t)(w - u->week);
	for (unsigned i = 0; i < WEEK_HOURS; i++)
		u->hist[i] = age >= 8 ? 0 : (uint8_t)(u->hist[i] >> age);
	u->week = w;
}

/*
 * A learnt user's finished hour HOW of week W (its bucket now B) into
 * their peer group: the group's bucket is the most any member read.
 */
static void
peer_learn(struct gu *p, unsigned how, uint16_t w, uint8_t b, uint32_t now)
{
	age_to(p, w);
	if (b > p->hist[how])
		p->hist[how] = b;
	/* Counted as the group's reads, so that baseline_learned(P) says
	 * whether it has a day's worth of members' history. */
	if (p->first_s == 0)
		p->first_s = now;
	p->nreads = p->nreads > UINT32_MAX - b ? UINT32_MAX : p->nreads + b;
}

void
baseline_learn(struct gu *u, struct gu *peer, const struct signal *s)
{
	uint32_t hour = s->now / HOUR_S, v;
	uint16_t day = (uint16_t)(s->now / DAY_S);

	if (hour != u->acc_hour) {
		if (u->acc && u->acc_hour < hour) {
			unsigned how = hour_of_week(u->acc_hour * HOUR_S);
			age_to(u, week_of(u->acc_hour * HOUR_S));
			v = (uint32_t)u->hist[how] + u->acc;
			u->hist[how] = (uint8_t)(v > UINT8_MAX ? UINT8_MAX : v);
			if (peer && baseline_learned(u, s->now))
				peer_learn(peer, how, week_of(u->acc_hour *
				    HOUR_S), u->hist[how], s->now);
		}
		u->acc = 0;
		u->acc_hour = hour;
	}
	age_to(u, week_of(s->now));
	u->acc = sat16(u->acc, s->new_hour);
	if (s->case_h)
		place_seen(u->cases, NCASES, s->case_h, day);
	if (s->addr_h)
		place_seen(u->addrs, NADDRS, s->addr_h, day);
}
