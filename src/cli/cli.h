/* Private to the command line: the subcommands and what they share. */
#ifndef CV_CLI_H
#define CV_CLI_H

#include <getopt.h>

#include "../audit/audit.h"
#include "../audit/note.h"
#include "../access/access.h"
#include "../base/base.h"
#include "../core/core.h"
#include "../keyd/keyd.h"
#include "../vault/vault.h"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

int cmd_init(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_find(int argc, char **argv);
int cmd_rotate(int argc, char **argv);
int cmd_shred(int argc, char **argv);
int cmd_versions(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_ca_cert(int argc, char **argv);
int cmd_canaries(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_scope(int argc, char **argv);
int cmd_evidence(int argc, char **argv);
int cmd_drill(int argc, char **argv);
int cmd_enrol(int argc, char **argv);
int cmd_access(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_rebind(int argc, char **argv);
int cmd_witness(int argc, char **argv);
#ifdef CV_TEST_HOOKS
int cmd_test_secrets(int argc, char **argv);
#endif

/*
 * Opens the vault in DIR and its audit log; on failure prints why and
 * returns CLI_FAIL with both NULL. Close with cli_close.
 */
int cli_open(const char *cmd, const char *dir, struct cv_vault **v,
    struct cv_audit **a);
void cli_close(struct cv_vault *v, struct cv_audit *a);

/*
 * The key side of V and A in this process, and a client of it: the
 * command line reads record data through the same typed requests and
 * ticket checks as the server's api worker. Free with cli_keyd_close.
 */
int cli_keyd(const char *cmd, struct cv_vault *v, struct cv_audit *a,
    struct cv_keyd **k, struct cv_keyd_client **c);
void cli_keyd_close(struct cv_keyd *k, struct cv_keyd_client *c);

/*
 * An access review (cv_access_review) whose guard state is unsealed by an
 * in-process keyd, as the server's is: keyd is the one place that
 * unseals. Q's guard_state is filled in here.
 */
cv_err cli_access_review(struct cv_vault *v, struct cv_audit *a,
    struct cv_access_query *q, struct cv_access_review **out) CV_MUST_CHECK;

/*
 * Appends this command's audit entry (actor: the OS user) and waits until
 * it is durable. RESULT is the operation's outcome. The caller prints
 * data only after this returned CV_OK.
 */
cv_err cli_record(struct cv_audit *a, const char *action, cv_err result,
    const char *reason, const char *const *records, size_t n,
    unsigned sections) CV_MUST_CHECK;

/*
 * An entry for a step that must be on the log before it is committed
 * (proposals): allowed, REASON, durable on return; its index in *INDEX.
 */
cv_err cli_record_at(struct cv_audit *a, const char *action,
    const char *reason, uint64_t *index) CV_MUST_CHECK;

/*
 * The audit entries of loads (cv_load_audit_fn; CTX: the struct
 * cv_audit): load.begin before a load commits, load.settle for a load
 * whose process died before its outcome was recorded.
 */
cv_err cli_load_audit(void *ctx, enum cv_load_event ev,
    const struct cv_load_info *li) CV_MUST_CHECK;

/* The operator's name as the log records it ("root"), or with PREFIXED as
 * a proposer ("cli:root"), never to be mistaken for a server user. */
void cli_actor(char *out, size_t size, int prefixed);

/*
 * Creates account NAME with ROLE at once and prints its enrolment code:
 * the bootstrap of the first officers (see cmd_user.c). CLI_OK/CLI_FAIL.
 */
int cli_user_bootstrap(struct cv_vault *v, struct cv_audit *a,
    const char *name, int role);

/*
 * The QR code of TEXT (an otpauth:// URI) on stdout if it is a terminal,
 * in explicit black and white (right on light and dark themes alike) with
 * the standard's quiet zone of four modules (cli_qr.c).
 */
void cli_print_qr(const char *text);
/*
 * The same QR code as a PNG image at PATH (made 0600: it is the TOTP
 * secret), 8 pixels a module, the quiet zone included. Refuses to replace
 * a file. CV_ERR_EXISTS, CV_ERR_IO, CV_ERR_INVALID (TEXT too long).
 */
cv_err cli_qr_png(const char *text, const char *path) CV_MUST_CHECK;

/*
 * The vault folder: --dir's value, else $CLEARVAULT_DIR. NULL (with a
 * message) when neither is set.
 */
const char *cli_dir(const char *cmd, const char *opt);

/*
 * The options of a command that takes --dir and --help and nothing else:
 * -1 with *DIR set to go on, else the exit code (help shown, or a usage
 * error reported).
 */
int cli_dir_only(const char *cmd, int argc, char **argv, const char *use,
    const char *help, const char **dir);

/* "clearvault CMD: WHAT: detail" on stderr; returns CLI_FAIL. */
int cli_fail(const char *cmd, cv_err r);
int cli_usage(const char *cmd, const char *usage, const char *fmt, ...)
    CV_PRINTF(3, 4);

/* Prints HELP (usage and options) to stdout; returns CLI_OK. */
int cli_help(const char *help);

/* Parses a non-negative decimal; 0 on garbage with *ok = 0. */
unsigned long long cli_number(const char *s, int *ok);

/* Long options every command takes, terminated by zeroes. */
#define CLI_OPT_DIR { "dir", required_argument, NULL, 'd' }
#define CLI_OPT_HELP { "help", no_argument, NULL, 'h' }
/* The subject and window of scope and evidence: 'P', 'C', 'S', 'A' name
 * the subject (cli_subject_kind), 'f' and 't' the window. */
#define CLI_OPT_SUBJECT \
	{ "principal", required_argument, NULL, 'P' }, \
	{ "cert", required_argument, NULL, 'C' }, \
	{ "session", required_argument, NULL, 'S' }, \
	{ "address", required_argument, NULL, 'A' }, \
	{ "from", required_argument, NULL, 'f' }, \
	{ "to", required_argument, NULL, 't' }

/* The enum cv_scope_kind of subject option C ('P', 'C', 'S' or 'A'). */
int cli_subject_kind(int c);

#endif
