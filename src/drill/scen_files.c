/*
 * The scenarios played on the filesystem: a stolen database file and
 * backup, and an attacker editing, cutting and truncating the audit log.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill_internal.h"

static struct drill_env *scan_env;
static int *scan_hit;		/* per generated record: found in the files */
static size_t scan_files;

static int
cmp_idx(const void *a, const void *b)
{
	return strcmp(scan_env->ssns[*(const size_t *)a],
	    scan_env->ssns[*(const size_t *)b]);
}

static size_t *scan_order;	/* record indexes sorted by SSN */

/* Looks up an SSN-shaped string; marks its record. */
static void
ssn_hit(const char *s)
{
	size_t lo = 0, hi = scan_env->nids;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strncmp(s, scan_env->ssns[scan_order[mid]], 11);
		if (c == 0) {
			scan_hit[scan_order[mid]] = 1;
			return;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
}

static int
is_d(char c)
{
	return c >= '0' && c <= '9';
}

/* Every file of the stolen copy: SSNs (with or without dashes) and the
 * last names of the first 50 records, in the clear. */
static int
scan_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	char *text = NULL, s[12];
	size_t len;

	(void)sb;
	(void)ftw;
	if (flag != FTW_F || strstr(p, "/token/"))
		return 0;
	if (cv_file_read(p, 1u << 30, &text, &len) != CV_OK)
		return 0;
	scan_files++;
	for (size_t i = 0; i + 11 <= len; i++) {
		const char *t = text + i;
		if (is_d(t[0]) && is_d(t[1]) && is_d(t[2]) && t[3] == '-' &&
		    is_d(t[4]) && is_d(t[5]) && t[6] == '-')
			ssn_hit(t);
		else if (i + 9 <= len && t[0] == '9' && is_d(t[1]) &&
		    is_d(t[2]) && is_d(t[3]) && is_d(t[4]) && is_d(t[5]) &&
		    is_d(t[6]) && is_d(t[7]) && is_d(t[8])) {
			snprintf(s, sizeof s, "%.3s-%.2s-%.4s", t, t + 3, t + 5);
			ssn_hit(s);
		}
	}
	for (size_t k = 0; k < 50 && k < scan_env->nids; k++) {
		const char *n = scan_env->lasts[k];
		if (strlen(n) >= 5 && memmem(text, len, n, strlen(n)))
			scan_hit[k] = 1;
	}
	free(text);
	return 0;
}

/* 5. The database file (with its WAL) and a backup of the vault folder
 * without the HSM token are stolen. */
cv_err
drill_s5_files(struct drill_ctx *c)
{
	struct drill_env *e = c->env;
	char copy[700], tok[700], msg[300];
	const char *cp[] = { "cp", "-a", e->dir, copy, NULL };
	const char *rm[] = { "rm", "-rf", tok, NULL };
	const char *get[] = { "get", "--dir", copy, e->ids[0], NULL };
	const char *find[] = { "find", "--dir", copy, "--ssn", e->ssns[0],
	    NULL };
	int rc, rc_get = 0, rc_find = 0;
	size_t hits = 0;
	cv_err r;

	snprintf(copy, sizeof copy, "%s/stolen", e->tmp);
	snprintf(tok, sizeof tok, "%s/token", copy);
	drill_attack_begins(c);
	if ((r = drill_prog(cp, &rc)) || (rc && (r = cv_fail(CV_ERR_IO,
	    "cp failed"))) || (r = drill_prog(rm, &rc)))
		goto out;
	r = CV_ERR_NOMEM;
	scan_env = e;
	scan_files = 0;
	if ((scan_hit = calloc(e->nids, sizeof *scan_hit)) == NULL ||
	    (scan_order = calloc(e->nids, sizeof *scan_order)) == NULL)
		goto out;
	for (size_t i = 0; i < e->nids; i++)
		scan_order[i] = i;
	qsort(scan_order, e->nids, sizeof *scan_order, cmp_idx);
	(void)nftw(copy, scan_one, 16, FTW_PHYS);
	for (size_t i = 0; i < e->nids; i++) {
		if (scan_hit[i]) {
			hits++;
			if ((r = drill_expose(c, e->ids[i])))
				goto out;
		}
	}
	drill_mark(c, hits ? CV_DRILL_EV_READ : CV_DRILL_EV_REFUSED);
	/* The stolen copy through clearvault itself, without the token. */
	if ((r = drill_exec(e, get, NULL, NULL, NULL, &rc_get)) ||
	    (r = drill_exec(e, find, NULL, NULL, NULL, &rc_find)))
		goto out;
	drill_mark(c, rc_get ? CV_DRILL_EV_REFUSED : CV_DRILL_EV_READ);
	if (rc_get == 0 && (r = drill_expose(c, e->ids[0])))
		goto out;
	c->res->control = "encryption";
	if ((r = drill_conclude(c, "mallory", 0)))
		goto out;
	c->res->detection = "none (offline theft)";
	c->res->detected_after_ms = -1;
	c->res->goal_met = c->res->records_exposed == 0 && rc_get != 0 &&
	    rc_find != 0 && c->res->scope_exact;
	snprintf(msg, sizeof msg, "%zu files searched for %zu SSNs and 50 "
	    "names: %zu found; get and find on the copy without the token: "
	    "%s", scan_files, e->nids, hits, rc_get && rc_find ? "refused" :
	    "SUCCEEDED");
	snprintf(c->res->note, sizeof c->res->note, "%s", msg);
out:
	free(scan_hit);
	free(scan_order);
	scan_hit = NULL;
	scan_order = NULL;
	return r;
}

/* Writes LEN bytes of P as DIR/audit/entries. */
static cv_err
write_entries(const char *dir, const uint8_t *p, size_t len)
{
	char path[800];
	FILE *f;

	snprintf(path, sizeof path, "%s/audit/entries", dir);
	if ((f = fopen(path, "wb")) == NULL)
		return cv_fail(CV_ERR_IO, "%s: cannot write", path);
	if (len && fwrite(p, 1, len, f) != len) {
		fclose(f);
		return CV_ERR_IO;
	}
	return fclose(f) == 0 ? CV_OK : CV_ERR_IO;
}

/* 7. Someone with the files edits an entry, cuts one out and truncates
 * the log, each on its own copy of the vault. */
cv_err
drill_s7_audit(struct drill_ctx *c)
{
	static const char *what[3] = { "edited", "deleted", "truncated" };
	struct drill_env *e = c->env;
	char copy[700], path[800], *text = NULL, msg[400];
	const char *cp[] = { "cp", "-a", e->dir, copy, NULL };
	size_t len, off = 0, start = 0, elen = 0, k = 0, nent = 0;
	uint8_t *mod = NULL;
	int rc, caught = 0;
	int64_t worst = 0;
	cv_err r;

	/* Some history: reads on the command line. */
	for (size_t i = 0; i < 20 && i < e->nids; i++) {
		const char *get[] = { "get", "--dir", e->dir, e->ids[i], NULL };
		if ((r = drill_exec(e, get, NULL, NULL, NULL, &rc)))
			goto out;
	}
	{
		const char *ck[] = { "audit", "checkpoint", "--dir", e->dir,
		    NULL };
		if ((r = drill_exec(e, ck, NULL, NULL, NULL, &rc)))
			goto out;
	}
	snprintf(path, sizeof path, "%s/audit/entries", e->dir);
	if ((r = cv_file_read(path, 1u << 30, &text, &len)))
		goto out;
	while (off + 4 <= len) {
		uint32_t n = cv_get_u32be((const uint8_t *)text + off);
		if (nent == 10) {
			start = off;
			elen = 4 + n;
		}
		off += 4 + n;
		nent++;
	}
	if (nent < 12 || (mod = malloc(len)) == NULL) {
		r = cv_fail(CV_ERR_INTERNAL, "audit log too short");
		goto out;
	}
	msg[0] = '\0';
	drill_attack_begins(c);
	for (k = 0; k < 3; k++) {
		const char *verify[] = { "audit", "verify", "--dir", copy, NULL };
		size_t mlen = len;
		int64_t t;
		char *err = NULL, ef[700];
		size_t el;

		snprintf(copy, sizeof copy, "%s/copy%zu", e->tmp, k);
		if ((r = drill_prog(cp, &rc)) || (rc && (r = cv_fail(
		    CV_ERR_IO, "cp failed"))))
			goto out;
		memcpy(mod, text, len);
		if (k == 0) {
			mod[start + 4 + (elen - 4) / 2] ^= 0x01;
		} else if (k == 1) {
			memmove(mod + start, mod + start + elen,
			    len - start - elen);
			mlen = len - elen;
		} else {
			mlen = start;
		}
		if ((r = write_entries(copy, mod, mlen)))
			goto out;
		drill_mark(c, CV_DRILL_EV_REFUSED);
		t = cv_time_us();
		if ((r = drill_exec(e, verify, NULL, NULL, NULL, &rc)))
			goto out;
		t = cv_time_us() - t;
		if (rc != 0) {
			caught++;
			drill_mark(c, CV_DRILL_EV_ALERT);
			if (t / 1000 > worst)
				worst = t / 1000;
		}
		snprintf(ef, sizeof ef, "%s/exec.err", e->tmp);
		if (cv_file_read(ef, 4096, &err, &el) == CV_OK) {
			err[strcspn(err, "\n")] = '\0';
			snprintf(msg + strlen(msg), sizeof msg - strlen(msg),
			    "%s%s: %s", k ? "; " : "", what[k],
			    rc ? (strrchr(err, ':') ? strrchr(err, ':') + 2 :
			    err) : "NOT DETECTED");
		}
		free(err);
	}
	c->res->control = "audit.verify";
	if ((r = drill_conclude(c, "mallory", 0)))
		goto out;
	c->res->detection = "audit verify";
	c->res->detected_after_ms = caught == 3 ? worst : -1;
	c->res->goal_met = caught == 3 && c->res->records_exposed == 0 &&
	    c->res->scope_exact;
	snprintf(c->res->note, sizeof c->res->note, "%s", msg);
out:
	free(mod);
	free(text);
	return r;
}
