/* clearvault user: the people who may use the server. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "../access/access.h"
#include "../auth/users.h"
#include "../policy/policy.h"
#include "cli.h"

static const char use[] =
    "clearvault user (add NAME --role ROLE | role NAME --role ROLE | list | "
    "proposals [--all] | disable NAME | enable NAME | revoke-cert NAME | "
    "budget NAME (--minute S/H --hour S/H --day S/H | --clear)) --dir DIR";

static const char help[] =
    "usage: clearvault user SUBCOMMAND --dir DIR ...\n\n"
    "Whatever gives someone power to read (a new account, a role, a bigger\n"
    "budget, enabling an account) is a proposal here: it takes effect when a\n"
    "security officer approves it over the API (POST /v1/approvals/ID/\n"
    "approve). No private key or TOTP secret is ever made here: the new\n"
    "user makes its own key with `clearvault enrol`.\n\n"
    "  add NAME --role ROLE\n"
    "        proposes a new account. While the vault has fewer than two\n"
    "        security officers (the bootstrap), security officers and\n"
    "        administrators are created at once instead, and their one-time\n"
    "        enrolment code is printed: hand it to the person, who runs\n"
    "        `clearvault enrol`. Roles: investigator adjudicator\n"
    "        security_officer auditor admin metrics (a monitoring\n"
    "        system's account: GET /metrics with its certificate, nothing\n"
    "        else)\n"
    "  role NAME --role ROLE      proposes a new role for NAME\n"
    "  budget NAME --minute S/H --hour S/H --day S/H\n"
    "        proposes NAME's own read budgets instead of the role's: distinct\n"
    "        records per minute, hour and day, soft (a fresh TOTP to go on)\n"
    "        and hard (refused and locked), e.g. --minute 20/40; --clear\n"
    "        proposes going back to the role's\n"
    "  enable NAME                proposes enabling a disabled user\n"
    "  list                       users, roles, state (active, enrolling,\n"
    "                             locked by the guard, disabled), live\n"
    "                             certificates\n"
    "  proposals [--all]          pending proposals (--all: decided too)\n"
    "  disable NAME               NAME may not log in (at once)\n"
    "  revoke-cert NAME           revokes every certificate of NAME (at once)\n";

struct listing {
	struct cv_vault *v;
	/* the guard's locks, as a server started now would hold them */
	const struct cv_access_review *locks;
};

static int
print_user(void *ctx, const struct cv_store_user *u)
{
	struct listing *l = ctx;
	const struct cv_access_user *au = cv_access_user(l->locks, u->name);
	int live = 0, all = 0;
	time_t t = (time_t)(u->created_us / 1000000);
	char when[32];

	if (cv_store_cert_count(cv_vault_store(l->v), u->name, &live, &all) !=
	    CV_OK)
		return 1;
	strftime(when, sizeof when, "%Y-%m-%d", gmtime(&t));
	printf("%-24s %-17s %-9s %d/%d certs  created %s\n", u->name, u->role,
	    u->disabled ? "disabled" : au && au->locked ? "locked" :
	    cv_auth_enrolled(u) ? "active" : "enrolling", live, all, when);
	return 0;
}

/*
 * Every user with its state. A lock lives in the guard's sealed state
 * (DIR/guard.state, written by the server) and on the audit log after it,
 * and is read as `access review` reads it: a state that does not open is
 * refused here as the server and the review refuse it.
 */
static cv_err
list_users(struct cv_vault *v, struct cv_audit *a)
{
	struct cv_access_query q = { .now_us = cv_time_us(),
	    .window_days = 1, .unused_days = 1, .all_roles = true,
	    .locks_only = true };
	struct cv_access_review *locks = NULL;
	struct listing l = { .v = v };
	cv_err r;

	if ((r = cli_access_review(v, a, &q, &locks)) != CV_OK)
		return r;
	l.locks = locks;
	r = cv_store_user_list(cv_vault_store(v), print_user, &l);
	cv_access_review_free(locks);
	return r;
}

static int
print_proposal(void *ctx, const struct cv_store_proposal *p)
{
	time_t t = (time_t)(p->expires_us / 1000000);
	char when[32];

	(void)ctx;
	strftime(when, sizeof when, "%Y-%m-%d %H:%M", gmtime(&t));
	printf("%-6lld %-9s %-13s %-24s by %-20s expires %s UTC  %s%s%s\n",
	    (long long)p->id, p->state, p->kind, p->subject, p->proposer,
	    when, p->args, p->approver[0] ? "  decided by " : "",
	    p->approver);
	return 0;
}

/* Writes the proposal's entry; see cv_policy_audit_fn. */
struct rec {
	struct cv_audit *a;
	const char *action;
};

static cv_err
record(void *ctx, const char *reason, uint64_t *index)
{
	struct rec *c = ctx;

	return cli_record_at(c->a, c->action, reason, index);
}

/*
 * The bootstrap: a vault with fewer than two security officers can approve
 * nothing, so its first officers and administrators come from the
 * operator, who holds the HSM anyway. Once two officers exist, this path
 * is closed for good and every account is a proposal.
 */
static int
bootstrap_open(struct cv_vault *v, int role, int *open)
{
	int n = 0;

	*open = 0;
	if (cv_store_user_count_role(cv_vault_store(v),
	    cv_role_names[CV_ROLE_SECURITY_OFFICER], 0, &n) != CV_OK)
		return cli_fail("user add", CV_ERR_STORE);
	*open = n < 2 && (role == CV_ROLE_SECURITY_OFFICER ||
	    role == CV_ROLE_ADMIN);
	return CLI_OK;
}

int
cli_user_bootstrap(struct cv_vault *v, struct cv_audit *a, const char *name,
    int role)
{
	struct cv_store *s = cv_vault_store(v);
	char code[CV_ENROL_CODE_CHARS + 1], reason[160];
	uint64_t index;
	cv_err r;

	if ((r = cv_store_begin(s)) != CV_OK)
		return cli_fail("user add", r);
	snprintf(reason, sizeof reason, "bootstrap: user %s, role %s, awaiting "
	    "enrolment", name, cv_role_names[role]);
	if ((r = cv_auth_user_create(s, name, (enum cv_role)role,
	    cv_time_us(), code)) != CV_OK ||
	    (r = cli_record_at(a, "user.add", reason, &index)) != CV_OK ||
	    (r = cv_store_commit(s)) != CV_OK) {
		cv_store_rollback(s);
		sodium_memzero(code, sizeof code);
		return cli_fail("user add", r);
	}
	printf("user %s (%s): enrolment code %s\n"
	    "  good once, for %d hours; hand it to %s, who runs:\n"
	    "  clearvault enrol --name %s --server https://HOST:PORT --ca "
	    "ca.pem --out FOLDER\n", name, cv_role_names[role], code,
	    CV_ENROL_TTL_S / 3600, name, name);
	sodium_memzero(code, sizeof code);
	return CLI_OK;
}

static int
propose(struct cv_vault *v, struct cv_audit *a, const char *kind,
    const char *name, json_t *args)
{
	struct cv_actor by;
	struct rec c = { a, kind };
	char actor[80];
	int64_t id;
	uint64_t index;
	cv_err r;

	cli_actor(actor, sizeof actor, 1);
	by.name = actor;
	by.role = CV_ROLE_ADMIN;	/* the operator acts as administrator */
	r = cv_policy_propose(cv_vault_store(v), v, &by, kind, name, args,
	    cv_time_us(), record, &c, &id, &index);
	json_decref(args);
	if (r != CV_OK)
		return cli_fail("user", r);
	printf("proposal %lld: %s %s (audit index %llu) waits for a security "
	    "officer's approval:\n  POST /v1/approvals/%lld/approve, within "
	    "%d hours\n", (long long)id, kind, name, (unsigned long long)index,
	    (long long)id, CV_PROPOSAL_TTL_S / 3600);
	return CLI_OK;
}

int
cmd_user(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "role", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "minute", required_argument, NULL, 'm' },
		{ "hour", required_argument, NULL, 'H' },
		{ "day", required_argument, NULL, 'D' },
		{ "clear", no_argument, NULL, 'C' },
		{ "all", no_argument, NULL, 'a' },
		{ 0, 0, 0, 0 }
	};
	static const char *const subs[] = { "add", "role", "list", "proposals",
	    "disable", "enable", "revoke-cert", "budget", NULL };
	json_int_t budget[CV_STORE_BUDGET_N];
	int nb = 0, clear = 0, all = 0, known = 0, open = 0;
	const char *dir = NULL, *role = NULL, *sub, *name = NULL;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	char action[32], reason[128] = "";
	int c, rc = CLI_FAIL, n = 0, ro = -1, listing;
	cv_err r = CV_OK, ar;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return argc < 2 ? cli_usage("user", use, "which subcommand?") :
		    cli_help(help);
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'r': role = optarg; break;
		case 'o':
			return cli_usage("user", use, "--out is gone: the server "
			    "no longer makes users' keys; the user runs "
			    "`clearvault enrol` with the enrolment code");
		case 'm': case 'H': case 'D': {
			int w = c == 'm' ? 0 : c == 'H' ? 1 : 2;
			unsigned long long so, ha;
			char extra;
			if (sscanf(optarg, "%llu/%llu%c", &so, &ha, &extra) != 2 ||
			    so > ha || ha > 100000000)
				return cli_usage("user", use, "budgets are SOFT/HARD "
				    "with SOFT <= HARD, e.g. 20/40");
			budget[w] = (json_int_t)so;
			budget[w + 3] = (json_int_t)ha;
			nb |= 1 << w;
			break;
		}
		case 'C': clear = 1; break;
		case 'a': all = 1; break;
		case 'h': return cli_help(help);
		default: return cli_usage("user", use, "bad option");
		}
	}
	for (int i = 0; subs[i]; i++)
		known |= !strcmp(sub, subs[i]);
	if (!known)
		return cli_usage("user", use, "unknown subcommand '%s'", sub);
	listing = !strcmp(sub, "list") || !strcmp(sub, "proposals");
	if (!listing) {
		if (argc - optind != 1)
			return cli_usage("user", use, "give one user name");
		name = argv[optind];
		if (!cv_auth_valid_name(name))
			return cli_usage("user", use, "user names are 1-64 of "
			    "a-z 0-9 . _ -");
	} else if (optind != argc)
		return cli_usage("user", use, "unexpected argument");
	if (!strcmp(sub, "budget") && (clear ? nb != 0 : nb != 7))
		return cli_usage("user", use, "budget wants --minute, --hour and "
		    "--day, or --clear");
	if ((!strcmp(sub, "add") || !strcmp(sub, "role")) &&
	    (role == NULL || (ro = cv_role_parse(role)) < 0))
		return cli_usage("user", use, "--role must be one of "
		    "investigator adjudicator security_officer auditor admin "
		    "metrics");
	if ((dir = cli_dir("user", dir)) == NULL)
		return CLI_USAGE;
	if (cli_open("user", dir, &v, &a) != CLI_OK)
		goto out;
	snprintf(action, sizeof action, "user.%s", sub);
	/* Proposals and the bootstrap record themselves. */
	if (!strcmp(sub, "add")) {
		if (bootstrap_open(v, ro, &open) != CLI_OK)
			goto out;
		rc = open ? cli_user_bootstrap(v, a, name, ro) : propose(v, a,
		    "user.create", name, json_pack("{s:s}", "role", role));
		goto out;
	}
	if (!strcmp(sub, "role")) {
		rc = propose(v, a, "user.role", name, json_pack("{s:s}", "role",
		    role));
		goto out;
	}
	if (!strcmp(sub, "enable")) {
		rc = propose(v, a, "user.enable", name, json_object());
		goto out;
	}
	if (!strcmp(sub, "budget")) {
		rc = propose(v, a, "user.budget", name, clear ?
		    json_pack("{s:n}", "budget") : json_pack("{s:[IIIIII]}",
		    "budget", budget[0], budget[1], budget[2], budget[3],
		    budget[4], budget[5]));
		goto out;
	}
	if (!strcmp(sub, "disable")) {
		r = cv_auth_user_disable(cv_vault_store(v), name, 1);
		snprintf(reason, sizeof reason, "user %s", name);
	} else if (!strcmp(sub, "revoke-cert")) {
		r = cv_auth_user_revoke(cv_vault_store(v), name, &n);
		snprintf(reason, sizeof reason, "user %s, %d certificates "
		    "revoked", name, n);
	}
	/* User management is audited like everything else. */
	if ((ar = cli_record(a, action, r, reason[0] ? reason : NULL, NULL, 0,
	    0)) != CV_OK || r != CV_OK) {
		cli_fail("user", r != CV_OK ? r : ar);
		goto out;
	}
	if (!strcmp(sub, "list"))
		r = list_users(v, a);
	else if (!strcmp(sub, "proposals"))
		r = cv_store_proposal_list(cv_vault_store(v), !all,
		    print_proposal, NULL);
	else
		fprintf(stderr, "clearvault user: %s\n", sub[0] == 'r' ?
		    reason : "disabled");
	if (r != CV_OK) {
		cli_fail("user", r);
		goto out;
	}
	rc = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
 out:
	cli_close(v, a);
	return rc;
}
