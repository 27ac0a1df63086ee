/*
 * Locks (set by decisions in guard.c and by cv_guard_lock), the
 * two-person unlock, the per-user view and the memory count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard_internal.h"

void
guard_lock_user(struct cv_guard *g, struct gu *u, const char *reason,
    uint32_t now)
{
	if (u->flags & GU_LOCKED) {
		if (u->lock) {	/* locked again: approvals start over */
			u->lock->approved_at = 0;
			u->lock->approver = 0;
		}
		return;
	}
	u->flags |= GU_LOCKED;
	g->nlocks++;
	/* Without memory the lock holds; only its reason is lost. */
	if (u->lock == NULL)
		u->lock = calloc(1, sizeof *u->lock);
	if (u->lock) {
		memset(u->lock, 0, sizeof *u->lock);
		u->lock->at = now;
		snprintf(u->lock->reason, sizeof u->lock->reason, "%s",
		    reason ? reason : "");
	}
}

void
guard_lock_drop(struct gu *u)
{
	if (u->lock)
		free(u->lock->name);
	free(u->lock);
	u->lock = NULL;
	u->flags &= (uint8_t)~(GU_LOCKED | GU_UNSHARED);
}

cv_err
cv_guard_lock(struct cv_guard *g, const char *user, const char *reason,
    int64_t now_us)
{
	struct gu *u;
	uint64_t id;
	cv_err e = CV_OK;

	if (user == NULL || user[0] == '\0' || !guard_str_ok(user, false) ||
	    !guard_time_ok(now_us))
		return cv_fail(CV_ERR_INVALID, "guard: no user, or bad time");
	guard_lock_mu(g);
	id = guard_hash(g, DOM_USER, user);
	if ((u = guard_find(g, id)) == NULL &&
	    (e = guard_add_user(g, id, &u)) != CV_OK)
		goto out;
	guard_lock_user(g, u, reason, (uint32_t)(now_us / 1000000));
out:
	guard_unlock_mu(g);
	return e;
}

cv_err
cv_guard_lock_unshared(struct cv_guard *g, const char *user, bool unshared)
{
	struct gu *u;
	char *name = NULL;
	cv_err e = CV_OK;

	if (user == NULL || user[0] == '\0' || !guard_str_ok(user, false) ||
	    strlen(user) > CV_GUARD_MAX_NAME)
		return cv_fail(CV_ERR_INVALID, "guard: no user, or too long");
	/* Allocated outside the mutex; freed if not needed. */
	if (unshared && (name = strdup(user)) == NULL)
		return CV_ERR_NOMEM;
	guard_lock_mu(g);
	u = guard_find(g, guard_hash(g, DOM_USER, user));
	if (u == NULL || !(u->flags & GU_LOCKED)) {
		e = cv_fail(CV_ERR_NOT_FOUND, "guard: user is not locked");
		goto out;
	}
	if (u->lock == NULL) {
		/* A lock without its record (no memory when it was made):
		 * it holds, and cannot be kept by name. */
		e = unshared ? CV_ERR_NOMEM : CV_OK;
		goto out;
	}
	if (unshared && u->lock->name == NULL) {
		u->lock->name = name;
		name = NULL;
		u->flags |= GU_UNSHARED;
	} else if (!unshared) {
		free(u->lock->name);
		u->lock->name = NULL;
		u->flags &= (uint8_t)~GU_UNSHARED;
	}
out:
	guard_unlock_mu(g);
	free(name);
	return e;
}

cv_err
cv_guard_unshared_each(const struct cv_guard *g, cv_guard_name_fn *fn,
    void *ctx)
{
	char **v = NULL;
	size_t n = 0;
	cv_err e = CV_OK;

	/* Copied under the mutex, called outside it: FN may call back. */
	guard_lock_mu(g);
	for (size_t i = 0; i < g->nusers; i++)
		n += (guard_user_at(g, i)->flags & GU_UNSHARED) != 0;
	if (n && (v = calloc(n, sizeof *v)) == NULL)
		e = CV_ERR_NOMEM;
	for (size_t i = 0, k = 0; e == CV_OK && k < n && i < g->nusers;
	    i++) {
		const struct gu *u = guard_user_at(g, i);

		if (!(u->flags & GU_UNSHARED))
			continue;
		if ((v[k++] = strdup(u->lock->name)) == NULL)
			e = CV_ERR_NOMEM;
	}
	guard_unlock_mu(g);
	for (size_t i = 0; e == CV_OK && i < n; i++)
		fn(ctx, v[i]);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return e;
}

bool
cv_guard_locked(const struct cv_guard *g, const char *user)
{
	const struct gu *u;
	bool yes;

	if (user == NULL || !guard_str_ok(user, false))
		return false;
	guard_lock_mu(g);
	u = guard_find(g, guard_hash(g, DOM_USER, user));
	yes = u && (u->flags & GU_LOCKED);
	guard_unlock_mu(g);
	return yes;
}

size_t
cv_guard_nlocked(const struct cv_guard *g)
{
	size_t n;

	guard_lock_mu(g);
	n = g->nlocks;
	guard_unlock_mu(g);
	return n;
}

cv_err
cv_guard_unlock_lifted(struct cv_guard *g, const char *user, bool *unlocked)
{
	struct gu *u;

	*unlocked = false;
	if (user == NULL || user[0] == '\0' || !guard_str_ok(user, false))
		return cv_fail(CV_ERR_INVALID, "guard: no user");
	guard_lock_mu(g);
	u = guard_find(g, guard_hash(g, DOM_USER, user));
	if (u && (u->flags & GU_LOCKED)) {
		guard_lock_drop(u);
		u->score = 0;
		u->score_s = 0;
		g->nlocks--;
		*unlocked = true;
	}
	guard_unlock_mu(g);
	return CV_OK;
}

cv_err
cv_guard_unlock_approve(struct cv_guard *g, const char *user,
    const char *officer, int64_t now_us, bool *unlocked)
{
	struct gu *u, *o;
	uint64_t oid;
	uint32_t now;
	cv_err e = CV_OK;

	*unlocked = false;
	if (user == NULL || officer == NULL || user[0] == '\0' ||
	    officer[0] == '\0' || !guard_str_ok(user, false) ||
	    !guard_str_ok(officer, false) || !guard_time_ok(now_us))
		return cv_fail(CV_ERR_INVALID, "guard: no user or officer, or "
		    "bad time");
	now = (uint32_t)(now_us / 1000000);
	guard_lock_mu(g);
	oid = guard_hash(g, DOM_USER, officer);
	u = guard_find(g, guard_hash(g, DOM_USER, user));
	if (u == NULL || !(u->flags & GU_LOCKED)) {
		e = cv_fail(CV_ERR_NOT_FOUND, "guard: user is not locked");
		goto out;
	}
	if (oid == u->id) {
		e = cv_fail(CV_ERR_AUTH, "guard: a locked user cannot approve "
		    "their own unlock");
		goto out;
	}
	if ((o = guard_find(g, oid)) != NULL && (o->flags & GU_LOCKED)) {
		e = cv_fail(CV_ERR_AUTH, "guard: the officer is locked");
		goto out;
	}
	if (u->lock == NULL && (u->lock = calloc(1, sizeof *u->lock)) == NULL) {
		e = CV_ERR_NOMEM;
		goto out;
	}
	if (u->lock->approved_at && (now < u->lock->approved_at ||
	    now - u->lock->approved_at > CV_GUARD_APPROVAL_TTL_S)) {
		u->lock->approved_at = 0;	/* stale: start again */
		u->lock->approver = 0;
	}
	if (u->lock->approved_at == 0) {
		u->lock->approved_at = now;
		u->lock->approver = oid;
		goto out;
	}
	if (u->lock->approver == oid) {
		e = cv_fail(CV_ERR_EXISTS, "guard: the second approval must "
		    "come from another officer");
		goto out;
	}
	guard_lock_drop(u);
	u->score = 0;
	u->score_s = now;
	g->nlocks--;
	*unlocked = true;
out:
	guard_unlock_mu(g);
	return e;
}

void
cv_guard_user_info(const struct cv_guard *g, const char *user,
    int64_t now_us, struct cv_guard_user_info *info)
{
	const struct gu *u;
	uint32_t now = guard_time_ok(now_us) ? (uint32_t)(now_us / 1000000) : 0;
	struct gu tmp;

	memset(info, 0, sizeof *info);
	/* "" would name the vault pseudo-user (ceiling.c): not a user. */
	if (user == NULL || user[0] == '\0' || !guard_str_ok(user, false))
		return;
	guard_lock_mu(g);
	if ((u = guard_find(g, guard_hash(g, DOM_USER, user))) != NULL) {
		info->known = true;
		info->locked = u->flags & GU_LOCKED;
		info->learned = baseline_learned(u, now);
		info->pending_approval = u->lock && u->lock->approved_at;
		if (u->lock)
			snprintf(info->lock_reason, sizeof info->lock_reason,
			    "%s", u->lock->reason);
		guard_set_counts(u, now, info->counts);
		info->reads = u->nreads;
		tmp = *u;
		baseline_decay(&tmp, now);
		info->score = (double)tmp.score / SCORE_ONE;
	}
	guard_unlock_mu(g);
}

size_t
cv_guard_memory(const struct cv_guard *g)
{
	size_t m;

	guard_lock_mu(g);
	m = sizeof *g + g->icap * sizeof *g->index +
	    g->nchunks * (CHUNK * sizeof(struct gu) + sizeof *g->chunks) +
	    g->set_bytes + g->nlocks * sizeof(struct glock) +
	    g->ncanary * sizeof *g->canary + g->nscratch * sizeof *g->scratch +
	    g->sess.cap * sizeof *g->sess.t + g->sess.bytes;
	guard_unlock_mu(g);
	return m;
}
