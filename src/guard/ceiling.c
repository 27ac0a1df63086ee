/*
 * The vault-wide read ceiling: distinct records returned per sliding
 * window over all users together.
 *
 * It is kept as one more user of the guard's table, the vault
 * pseudo-user, whose record set and windows are exactly those of a real
 * user (guard.c) and are saved, loaded and replayed with them
 * (snapshot.c, cv_guard_observe). Its id is the keyed hash of the empty
 * name, which no caller can pass (every entry point refuses an empty
 * user), so no real user can read into, lock or unlock it. Its flags
 * remember which ceiling alerts were raised, so that one crossing raises
 * one alert, across restarts too.
 */
#include <string.h>

#include "guard_internal.h"

uint64_t
guard_vault_id(const struct cv_guard *g)
{
	return guard_hash(g, DOM_USER, "");
}

cv_err
guard_vault_user(struct cv_guard *g, struct gu **out)
{
	uint64_t id = guard_vault_id(g);

	if ((*out = guard_find(g, id)) != NULL)
		return CV_OK;
	return guard_add_user(g, id, out);
}

/* C is at most 90% of LEVEL (a level of UINT32_MAX: no ceiling). */
static bool
well_below(uint32_t c, uint32_t level)
{
	return (uint64_t)c * 10 <= (uint64_t)level * 9;
}

/*
 * Re-arms the ceiling alerts once every window of the vault's counts C
 * has fallen to 90% of its level: a vault held at the ceiling, where one
 * record leaving a window lets one more in, is one crossing, not one per
 * record.
 */
void
guard_ceiling_rearm(struct gu *v, const uint32_t c[CV_GUARD__WINDOWS],
    const struct cv_guard_limits *cl)
{
	bool soft = true, hard = true;

	for (int w = 0; w < CV_GUARD__WINDOWS; w++) {
		soft &= well_below(c[w], cl->soft[w]);
		hard &= well_below(c[w], cl->hard[w]);
	}
	if (soft)
		v->flags &= (uint8_t)~GU_CEIL_SOFT;
	if (hard)
		v->flags &= (uint8_t)~GU_CEIL_HARD;
}

/*
 * The ceiling alert of a read that takes window W to COUNT, past the hard
 * (HARD) or soft level: raised into D unless this crossing already
 * raised it.
 */
void
guard_ceiling_alert(struct cv_guard_decision *d, struct gu *v,
    const struct cv_guard_limits *cl, uint32_t count, int w, bool hard)
{
	uint8_t flag = hard ? GU_CEIL_HARD : GU_CEIL_SOFT;

	if (v->flags & flag)
		return;
	v->flags |= flag;
	if (hard)
		guard_alert(d, CV_GUARD_CRITICAL, "ceiling", "vault-wide: %u "
		    "distinct records in the last %s, hard ceiling %u; every "
		    "read refused", count, guard_window_name[w], cl->hard[w]);
	else
		guard_alert(d, CV_GUARD_WARNING, "ceiling", "vault-wide: %u "
		    "distinct records in the last %s, soft ceiling %u; every "
		    "reader must step up", count, guard_window_name[w],
		    cl->soft[w]);
}

void
cv_guard_ceiling_counts(const struct cv_guard *g, int64_t now_us,
    uint32_t counts[CV_GUARD__WINDOWS])
{
	uint32_t now = guard_time_ok(now_us) ? (uint32_t)(now_us / 1000000) : 0;
	const struct gu *v;

	memset(counts, 0, CV_GUARD__WINDOWS * sizeof *counts);
	guard_lock_mu(g);
	if ((v = guard_find(g, guard_vault_id(g))) != NULL)
		guard_set_counts(v, now, counts);
	guard_unlock_mu(g);
}
