/*
 * The audit log as a C2SP tlog-tiles log (c2sp.org/tlog-tiles), for
 * auditors and the witnesses and monitors that hold auditor accounts:
 *
 *   GET /checkpoint                    the latest signed checkpoint
 *   GET /tile/<L>/<N>[.p/<W>]          hash tiles
 *   GET /tile/entries/<N>[.p/<W>]      entry bundles
 *
 * Only the auditor role (CV_PERM_READ_AUDIT), with a session like any
 * route: entries say who read whose file. Hash tiles reveal no entry, but
 * they give away how busy the vault is and when, and a witness needs no
 * more than an auditor account; so they are not opened to another role.
 *
 * A tile is served only when the latest stored checkpoint covers every
 * leaf under it: the spec asks for partial tiles at checkpointed sizes,
 * and nothing unsigned should look published. Full tiles, and partial
 * ones too, are then immutable: their hashes depend only on the leaves
 * they cover, which never change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../policy/policy.h"
#include "../keyd/keyd.h"
#include "api_internal.h"

/* Hash tiles only: entry bundles are personal data, kept out of every
 * cache (the spec's long-lived caching is a SHOULD). */
#define TILE_CACHE "private, max-age=31536000, immutable"
/* 6 groups of 3 digits: above any tile index of a 64-bit log (2^56). */
#define MAX_GROUPS 6

/* A decimal of 1 to MAXLEN digits without leading zeroes at *P, up to a
 * byte in END (or the string's end); 1 with *V and *P past it. */
static int
decimal(const char **p, size_t maxlen, const char *end, unsigned *v)
{
	const char *s = *p;
	size_t n = 0;

	*v = 0;
	while (s[n] >= '0' && s[n] <= '9' && n <= maxlen)
		*v = *v * 10 + (unsigned)(s[n++] - '0');
	if (n == 0 || n > maxlen || (n > 1 && s[0] == '0') ||
	    (s[n] != '\0' && strchr(end, s[n]) == NULL))
		return 0;
	*p = s + n;
	return 1;
}

unsigned
api_tile_parse(const char *path, struct api_tile *t)
{
	const char *p = path;
	unsigned v, groups = 0, none = 0;

	memset(t, 0, sizeof *t);
	t->width = CV_AUDIT_TILE_WIDTH;
	if (!strncmp(p, "entries/", 8)) {
		t->entries = 1;
		p += 8;
	} else {
		if (!decimal(&p, 2, "/", &v) || v > 63 || *p != '/')
			return 400;
		t->level = v;
		p++;
	}
	/* N: "x" and 3 digits per group, then 3 digits; each exactly 3. */
	for (;;) {
		int x = *p == 'x';
		const char *d = p + x;

		for (int i = 0; i < 3; i++)
			if (d[i] < '0' || d[i] > '9')
				return 400;
		v = (unsigned)((d[0] - '0') * 100 + (d[1] - '0') * 10 +
		    (d[2] - '0'));
		/* Well-formed, but no tile of ours: said once the whole
		 * path is known to be well-formed. */
		if (++groups > MAX_GROUPS || (groups == 1 && x && v == 0))
			none = 1;
		else
			t->index = t->index * 1000 + v;
		p = d + 3;
		if (x) {
			if (*p != '/')
				return 400;
			p++;
			continue;
		}
		break;
	}
	if (*p != '\0') {
		/* .p/W: W 1 to 255, no leading zeroes */
		if (strncmp(p, ".p/", 3) != 0)
			return 400;
		p += 3;
		if (!decimal(&p, 3, "", &v) || v == 0 || v > 255 ||
		    *p != '\0')
			return 400;
		t->width = v;
	}
	return none ? 404 : 0;
}

/* 1 if the checkpoint of SIZE leaves covers every leaf under T. */
static int
covered(const struct api_tile *t, uint64_t size)
{
	unsigned shift = t->entries ? 0 : CV_AUDIT_TILE_HEIGHT * t->level;
	uint64_t units;

	if (shift >= 64)
		return 0;
	/* hashes of tree level SHIFT that the checkpoint covers */
	units = size >> shift;
	return t->index <= units / CV_AUDIT_TILE_WIDTH &&
	    t->index * CV_AUDIT_TILE_WIDTH + t->width <= units;
}

static enum MHD_Result
failed(struct req *r, cv_err e)
{
	if (e == CV_ERR_NOT_FOUND)
		return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
		    "no such tile");
	if (e == CV_ERR_LIMIT) {
		/* The format's limit, not the vault's: say where the entry
		 * can be had. The log gets the entry's index and size. */
		snprintf(r->reason, sizeof r->reason, "%s", cv_err_detail());
		return api_problem(r, 500, CV_AUDIT_ERROR, "internal error",
		    "an entry of this bundle is longer than the 65535 bytes "
		    "an entry bundle can carry; GET /v1/audit/entries "
		    "serves it");
	}
	return api_internal(r, e);
}

static enum MHD_Result
tile(struct req *r, const char *path)
{
	struct cv_checkpoint c;
	struct cv_buf out = { 0 };
	struct api_tile t;
	unsigned bad;
	cv_err e;

	if ((bad = api_tile_parse(path, &t)) != 0) {
		snprintf(r->reason, sizeof r->reason, "tile path refused");
		return api_problem(r, bad, CV_AUDIT_DENIED, bad == 400 ?
		    "bad request" : "not found", bad == 400 ? "not a tile "
		    "path: tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>], "
		    "N in 3-digit groups (x001/x234/067)" : "no such tile");
	}
	r->action = t.entries ? "tlog.entries" : "tlog.tile";
	if ((e = cv_audit_latest(r->srv->a, &c)) != CV_OK)
		return failed(r, e);
	if (!covered(&t, c.size))
		return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
		    "no such tile: the latest checkpoint does not cover it");
	e = t.entries ? cv_audit_bundle(r->srv->a, t.index *
	    CV_AUDIT_TILE_WIDTH, t.width, &out) : cv_audit_hashes(r->srv->a,
	    CV_AUDIT_TILE_HEIGHT * t.level, t.index * CV_AUDIT_TILE_WIDTH,
	    t.width, &out);
	if (e != CV_OK) {
		cv_buf_free(&out);
		return failed(r, e);
	}
	if (!t.entries) {
		snprintf(r->reason, sizeof r->reason, "level %u index %llu "
		    "width %u", t.level, (unsigned long long)t.index, t.width);
		r->cache = TILE_CACHE;
	} else
		snprintf(r->reason, sizeof r->reason, "entries index %llu "
		    "width %u", (unsigned long long)t.index, t.width);
	return api_reply(r, 200, CV_AUDIT_ALLOWED, "application/octet-stream",
	    &out);
}

static enum MHD_Result
checkpoint(struct req *r)
{
	struct cv_buf note = { 0 };
	cv_err e;

	/* As GET /v1/audit/checkpoint: made on demand if the log grew. The
	 * spec wants it cached for seconds at most: no-store does. */
	if ((e = cv_keyd_checkpoint(r->srv->kd, &note)) != CV_OK)
		return failed(r, e);
	return api_reply(r, 200, CV_AUDIT_ALLOWED, "text/plain; charset=utf-8",
	    &note);
}

enum MHD_Result
api_tlog(struct req *r)
{
	int ck = !strcmp(r->url, "/checkpoint");

	r->action = ck ? "tlog.checkpoint" :
	    !strncmp(r->url, "/tile/entries/", 14) ? "tlog.entries" :
	    "tlog.tile";
	if (strcmp(r->method, "GET") != 0)
		return api_problem(r, 405, CV_AUDIT_DENIED,
		    "method not allowed", "GET only");
	if (!cv_policy_allows(r->who.role, CV_PERM_READ_AUDIT))
		return api_problem(r, 403, CV_AUDIT_DENIED, "forbidden",
		    "only auditors read the audit log's tiles");
	if (ck)
		return checkpoint(r);
	return tile(r, r->url + 6);
}
