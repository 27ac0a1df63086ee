/*
 * Private to the drill module: the HTTPS client the attacker uses, the
 * throw-away vault and server each scenario runs against, and the
 * scenarios themselves.
 */
#ifndef CV_DRILL_INTERNAL_H
#define CV_DRILL_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "../client/client.h"
#include "drill.h"

/* ---- env.c: a fresh vault and server ---------------------------------- */

struct drill_env {
	char tmp[512];		/* everything lives here; removed at the end */
	char dir[600];		/* the vault */
	char keys[600];		/* users' certificates, keys, otpauth */
	char ca[600];		/* the vault CA certificate */
	char gen[600];		/* the generated records (JSON Lines) */
	char clock[600];	/* CLEARVAULT_GUARD_CLOCK for the server */
	const char *exe;
	pid_t srv;
	unsigned port;
	char **ids, **ssns, **lasts;	/* of the generated records */
	size_t nids;
	int64_t step_used[16];	/* last TOTP step used per user slot */
	char users[16][32];
	/* Grants take two people: the drill's administrator proposes and
	 * its second officer approves, each logged in once per server. */
	struct cv_http *adm, *so2;
	char adm_tok[256], so2_tok[256];
	pid_t boot_srv;		/* the server those sessions belong to */
};

/* Creates the vault in a temp folder and loads N generated records. */
cv_err drill_env_new(const char *exe, size_t n, struct drill_env **out)
    CV_MUST_CHECK;
/* Stops the server if running and removes everything. */
void drill_env_free(struct drill_env *e);
/* Appends LINE to the vault's clearvault.conf (before the server starts). */
cv_err drill_conf_add(struct drill_env *e, const char *line) CV_MUST_CHECK;

/*
 * Runs the binary with ARGV (argv[0] excluded, NULL-terminated), stdin
 * from IN (or /dev/null), stdout into *OUT (may be NULL: discarded),
 * stderr into ERR_FILE or /dev/null. *RC: its exit status (-1 killed).
 */
cv_err drill_exec(struct drill_env *e, const char *const *argv,
    const char *in, const char *out_file, char **out, int *rc)
    CV_MUST_CHECK;

/* Runs another program (PATH search), output discarded; *RC its status. */
cv_err drill_prog(const char *const *argv, int *rc) CV_MUST_CHECK;

/*
 * User NAME with ROLE, its certificate, key and TOTP secret in e->keys.
 * Before the server runs, only the bootstrap (security officers and
 * administrators while fewer than two officers exist; see `user add`);
 * with the server running, proposed by drill-adm, approved by so2 and
 * enrolled over the API, as a real office would.
 */
cv_err drill_user(struct drill_env *e, const char *name, const char *role)
    CV_MUST_CHECK;
/* Approves proposal ID as the drill's second officer (so2). */
cv_err drill_approve(struct drill_env *e, long long id, char **reply)
    CV_MUST_CHECK;
/* Starts `serve`; WITH_CLOCK: with CLEARVAULT_GUARD_CLOCK = e->clock. */
cv_err drill_serve(struct drill_env *e, int with_clock) CV_MUST_CHECK;
/* SIGTERM, then waits; *RC the exit status (may be NULL). */
void drill_stop(struct drill_env *e, int *rc);

/* A TOTP code of USER not used before (waits for the next step if need). */
cv_err drill_totp(struct drill_env *e, const char *user, char code[8])
    CV_MUST_CHECK;
/* A client presenting USER's certificate (USER NULL: none). */
cv_err drill_client(struct drill_env *e, const char *user,
    struct cv_http **out) CV_MUST_CHECK;
/* POST /v1/session with a fresh code; TOK gets the bearer token. */
cv_err drill_login(struct drill_env *e, struct cv_http *h,
    const char *user, char tok[256]) CV_MUST_CHECK;
/* A case (by security officer H/TOK) holding USERS (JSON array text) and
 * records IDS[0..N); its id in CASE_ID. */
cv_err drill_case(struct drill_env *e, struct cv_http *h, const char *tok,
    const char *users, char *const *ids, size_t n,
    char case_id[128]) CV_MUST_CHECK;

/*
 * `scope` for one subject (OPT "--principal", "--address"...) from
 * FROM_S (UTC seconds, 0: all): the record ids it names, sorted, in
 * *IDS / *N (free with drill_strv_free). *REFUSED: scope exited non-zero.
 */
cv_err drill_scope(struct drill_env *e, const char *opt, const char *subject,
    int64_t from_s, char ***ids, size_t *n, int *refused) CV_MUST_CHECK;
void drill_strv_free(char **v, size_t n);

/* The alerts naming USER in DIR/alerts.jsonl, in order: time (µs, to the
 * second), kind, locked, first audit index; *N of them (at most MAX). */
cv_err drill_alerts(struct drill_env *e, const char *user, size_t max,
    int64_t *t_us, char (*kind)[32], int *locked, int64_t *idx, size_t *n)
    CV_MUST_CHECK;
/* Audit entry INDEX's time (µs) and how many records.get entries of USER
 * at or after FROM_US precede it. */
cv_err drill_entry(struct drill_env *e, const char *user, int64_t index,
    int64_t from_us, int64_t *t_us, size_t *reads) CV_MUST_CHECK;

/* ---- the scenarios (scen_api.c, scen_files.c, scen_more.c, scen_people.c) */

struct drill_ctx {
	const struct cv_drill_opts *o;
	struct cv_drill_result *res;
	struct drill_env *env;
	int64_t t0_us;		/* the scenario's start (real time) */
	int64_t first_us;	/* the attacker's first action, 0 before */
	/* distinct ids exposed */
	char **exposed;
	size_t nexposed, capexposed;
	int alerts_placed;	/* the scenario marked alerts itself */
	const char *scope_opt;	/* default --principal (the attacker) */
	const char *scope_subject;	/* default: the attacker */
};

/* Adds a timeline mark now. */
void drill_mark(struct drill_ctx *c, enum cv_drill_event_kind k);
/* Appends to the result's note, "; " between parts. */
void drill_note(struct drill_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The attacker is starting (sets first_us once). */
void drill_attack_begins(struct drill_ctx *c);
/* Records ID as exposed (once). */
cv_err drill_expose(struct drill_ctx *c, const char *id) CV_MUST_CHECK;
/* A GET of a record by the attacker, marking and counting what came back;
 * *STATUS and the reply body (BODY_OUT may be NULL). */
cv_err drill_read(struct drill_ctx *c, struct cv_http *h, const char *tok,
    const char *id, const char *purpose, int *status, char **body_out)
    CV_MUST_CHECK;
/* Fills detection, alert/lock marks and scope_exact from the vault. */
cv_err drill_conclude(struct drill_ctx *c, const char *user,
    int64_t scope_from_s) CV_MUST_CHECK;

cv_err drill_s1_password(struct drill_ctx *c) CV_MUST_CHECK;
cv_err drill_s2_fast(struct drill_ctx *c) CV_MUST_CHECK;
cv_err drill_s3_slow(struct drill_ctx *c) CV_MUST_CHECK;
cv_err drill_s4_insider(struct drill_ctx *c) CV_MUST_CHECK;
cv_err drill_s5_files(struct drill_ctx *c) CV_MUST_CHECK;
cv_err drill_s6_admin(struct drill_ctx *c) CV_MUST_CHECK;
cv_err drill_s7_audit(struct drill_ctx *c) CV_MUST_CHECK;
cv_err drill_s8_flood(struct drill_ctx *c) CV_MUST_CHECK;
cv_err drill_s9_rogue_admin(struct drill_ctx *c) CV_MUST_CHECK;
cv_err drill_s10_collusion(struct drill_ctx *c) CV_MUST_CHECK;
cv_err drill_s11_paced(struct drill_ctx *c) CV_MUST_CHECK;

/*
 * The server with a security officer logged in ("so": its client in *SO,
 * token in SO_TOK), USER (ROLE) added, and a case of the first NCASE
 * records holding USER (its id in CASE_ID); WITH_CLOCK: the guard on the
 * injectable clock.
 */
cv_err drill_stage(struct drill_ctx *c, const char *user, const char *role,
    size_t ncase, int with_clock, struct cv_http **so, char so_tok[256],
    char case_id[128]) CV_MUST_CHECK;

#endif
