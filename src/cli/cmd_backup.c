/*
 * clearvault backup, restore and rebind: copies of a vault that are safe
 * to keep, to bring back, and to move.
 *
 * A backup holds what the vault folder holds but its HSM token: sealed
 * keyring keys, wrapped data keys, ciphertext, the audit log up to a
 * signed checkpoint. Without the token it yields nothing. A restore
 * gives the restored vault keys of its own in the token, so that it can
 * sit beside the original, on the same HSM even, and never touch the
 * original's keys.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../config/config.h"
#include "cli.h"

static const char use_backup[] = "clearvault backup --dir DIR --out FOLDER "
    "[--token-out FOLDER] [--quiet]";
static const char help_backup[] =
    "usage: clearvault backup --dir DIR --out FOLDER [--token-out FOLDER] "
    "[--quiet]\n\n"
    "Writes a consistent copy of the vault into FOLDER (new, or empty),\n"
    "while a server may be running on it: the database as one moment\n"
    "(SQLite's online backup), the audit log up to a signed checkpoint\n"
    "made for the backup (whose own entry it holds), the sealed keyring,\n"
    "canary list and guard state, the certificates and the configuration,\n"
    "and SHA256SUMS (`sha256sum -c SHA256SUMS` checks it).\n\n"
    "A backup holds no usable key and no plaintext: every key in it is\n"
    "sealed by root keys that live only in the HSM token, which is not in\n"
    "it. A backup without its token is unreadable, by design. With the\n"
    "private SoftHSM2 token (the default) the token files ARE the root\n"
    "keys: --token-out copies DIR/token to a second FOLDER, to be kept\n"
    "apart from the backup (another medium, another custodian). With a\n"
    "real HSM, back its keys up with the HSM's own tools.\n\n"
    "A rotation destroys the old root keys in the token: backups made\n"
    "before it can no longer be read (that is how rotate and shred reach\n"
    "into backups). Make a new backup after each rotation.\n\n"
    "options:\n"
    "  -d, --dir DIR           the vault folder (or $CLEARVAULT_DIR)\n"
    "  -o, --out FOLDER        where the backup goes (new or empty)\n"
    "  -t, --token-out FOLDER  also copy the private token there (new or\n"
    "                          empty, not inside the backup)\n"
    "  -q, --quiet             no progress and no summary\n"
    "  -h, --help              this text\n";

static const char use_restore[] = "clearvault restore --from BACKUP --dir "
    "DIR [--token FOLDER] [--quiet]";
static const char help_restore[] =
    "usage: clearvault restore --from BACKUP --dir DIR [--token FOLDER] "
    "[--quiet]\n\n"
    "Restores the backup in BACKUP as a new vault in DIR, which must not\n"
    "exist or be empty: a vault is never overwritten. Every file is\n"
    "checked against SHA256SUMS first.\n\n"
    "The restored vault keeps its vault id (the name of its audit log, which\n"
    "goes on from the backup's checkpoint) but gets keys of its own: new HSM\n"
    "root keys under a new key id seal the same keyring keys, and the token\n"
    "is bound to DIR. It can run beside the vault it came from, even on the\n"
    "same HSM token, and a rotation of either never touches the other's\n"
    "keys.\n\n"
    "A vault whose keys were in a private SoftHSM2 token needs --token: the\n"
    "copy of DIR/token made with `backup --token-out` (or the original's\n"
    "token folder). It is copied into DIR/token, and the original's key\n"
    "names are removed from that copy. With a real HSM the token named in\n"
    "the backup's clearvault.conf is used.\n\n"
    "options:\n"
    "  -f, --from BACKUP   the backup folder\n"
    "  -d, --dir DIR       the new vault folder (or $CLEARVAULT_DIR)\n"
    "  -t, --token FOLDER  the private token's copy\n"
    "  -q, --quiet         no progress and no summary\n"
    "  -h, --help          this text\n";

static const char use_rebind[] = "clearvault rebind --dir DIR";
static const char help_rebind[] =
    "usage: clearvault rebind --dir DIR\n\n"
    "The vault in DIR was moved there (another folder or machine) and its\n"
    "keys are in a shared HSM token, which still names the old place: a\n"
    "vault refuses keys bound to another place, so that a copy can never\n"
    "use, rotate or destroy its original's keys. Rebinding names DIR from\n"
    "now on. Refused when the old place, on this machine, still holds the\n"
    "vault (then DIR is a copy: restore it from a backup instead, which\n"
    "gives it keys of its own). A vault with a private token (DIR/token)\n"
    "needs no rebinding: its token moves with it. Audited (vault.rebind).\n\n"
    "options:\n"
    "  -d, --dir DIR   the vault folder (or $CLEARVAULT_DIR)\n"
    "  -h, --help      this text\n";

/* What a backup holds beside the database and the log, in this order:
 * the guard's snapshot before the log, so that the log covers whatever
 * the snapshot does not (it is replayed from the snapshot on). */
static const char *const small_files[] = {
	"guard.state", "clearvault.conf", "canaries", "ca.pem", "server.pem",
	"alerts.jsonl", "ca-ed25519.pem",
};

struct progress {
	const char *what;
	int on;
	double last;
};

static void
show(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	double now = cv_now();

	if (!p->on || (now - p->last < 0.25 && done < total))
		return;
	p->last = now;
	fprintf(stderr, "\r%s: %3.0f%%  ", p->what,
	    total ? 100.0 * (double)done / (double)total : 100.0);
	if (done >= total)
		fputc('\n', stderr);
	fflush(stderr);
}

/* "DIR does not exist or is an empty folder": made if absent. *MADE
 * says whether it was made here (then a failure removes it). */
static int
fresh_folder(const char *cmd, const char *dir, const char *what, int *made)
{
	struct stat st;
	char probe[PATH_MAX];

	*made = 0;
	if (mkdir(dir, 0700) == 0) {
		*made = 1;
		return CLI_OK;
	}
	if (errno != EEXIST || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "clearvault %s: cannot create %s: %s\n", cmd,
		    dir, strerror(errno));
		return CLI_FAIL;
	}
	if (cv_path(probe, sizeof probe, "%s/%s", dir, CV_CONFIG_FILE) ==
	    CV_OK && access(probe, F_OK) == 0) {
		fprintf(stderr, "clearvault %s: %s holds a vault; refusing to "
		    "overwrite it\n", cmd, dir);
		return CLI_FAIL;
	}
	if (rmdir(dir) != 0) {
		fprintf(stderr, "clearvault %s: %s (the %s) exists and is not "
		    "empty; refusing to touch it\n", cmd, dir, what);
		return CLI_FAIL;
	}
	if (mkdir(dir, 0700) != 0) {
		fprintf(stderr, "clearvault %s: cannot create %s: %s\n", cmd,
		    dir, strerror(errno));
		return CLI_FAIL;
	}
	*made = 1;
	return CLI_OK;
}

/* Whether path A is B or lies inside it (both resolved as far as they
 * exist: a folder about to be made is judged by its parent). */
static int
inside(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX], tmp[PATH_MAX], *slash;
	size_t n;

	if (realpath(b, rb) == NULL)
		return 0;
	if (realpath(a, ra) == NULL) {
		snprintf(tmp, sizeof tmp, "%s", a);
		if ((slash = strrchr(tmp, '/')) == NULL)
			snprintf(tmp, sizeof tmp, ".");
		else
			*slash = '\0';
		if (realpath(tmp[0] ? tmp : "/", ra) == NULL)
			return 0;
	}
	n = strlen(rb);
	return strncmp(ra, rb, n) == 0 && (ra[n] == '\0' || ra[n] == '/');
}

/* SHA256SUMS: one "hex  path" line per file copied so far. */
static cv_err
sums_add(struct cv_buf *sums, const char *path, const uint8_t sha[32])
{
	char hex[65];
	cv_err r;

	sodium_bin2hex(hex, sizeof hex, sha, 32);
	if ((r = cv_buf_add(sums, hex, 64)) != CV_OK ||
	    (r = cv_buf_add(sums, "  ", 2)) != CV_OK ||
	    (r = cv_buf_add(sums, path, strlen(path))) != CV_OK)
		return r;
	return cv_buf_add(sums, "\n", 1);
}

/* Checksums of what cv_audit_copy wrote into OUT/audit. */
static cv_err
sums_audit(struct cv_buf *sums, const char *out)
{
	char path[PATH_MAX], rel[64];
	uint8_t sha[32];
	cv_err r;

	for (int i = -4; i < 64; i++) {
		static const char *const fixed[] = { "entries", "offsets",
			"checkpoints", "lock" };
		if (i < 0)
			snprintf(rel, sizeof rel, "audit/%s", fixed[i + 4]);
		else
			snprintf(rel, sizeof rel, "audit/tree/%d", i);
		if ((r = cv_path(path, sizeof path, "%s/%s", out, rel)) !=
		    CV_OK)
			return r;
		if (i >= 0 && access(path, F_OK) != 0)
			break;
		if ((r = cv_vault_copy_file(path, NULL, sha, NULL)) != CV_OK ||
		    (r = sums_add(sums, rel, sha)) != CV_OK)
			return r;
	}
	return CV_OK;
}

/* The database, with the keyring as it was around it: a rotation that
 * moved on meanwhile (a new key, or old ones gone) would leave data keys
 * the copied keyring cannot open, so then the copy is made again. */
static cv_err
copy_db_and_keyring(struct cv_vault *v, const char *dir, const char *out,
    struct cv_buf *sums, struct progress *pg)
{
	char kr[PATH_MAX], db[PATH_MAX], *k1 = NULL, *k2 = NULL;
	size_t l1 = 0, l2 = 0;
	uint8_t sha[32];
	cv_err r = CV_ERR_INTERNAL;

	if ((r = cv_path(kr, sizeof kr, "%s/keyring", dir)) != CV_OK ||
	    (r = cv_path(db, sizeof db, "%s/vault.db", out)) != CV_OK)
		return r;
	for (int attempt = 0; attempt < 3; attempt++) {
		free(k1);
		free(k2);
		k1 = k2 = NULL;
		(void)unlink(db);
		pg->what = "database";
		if ((r = cv_file_read(kr, 4096, &k1, &l1)) != CV_OK ||
		    (r = cv_vault_backup_db(v, db, show, pg)) != CV_OK ||
		    (r = cv_file_read(kr, 4096, &k2, &l2)) != CV_OK)
			goto out;
		if (l1 == l2 && memcmp(k1, k2, l1) == 0)
			break;
		r = cv_fail(CV_ERR_INTERRUPTED, "a key rotation ran during the "
		    "backup; run it again once the rotation is done");
	}
	if (r != CV_OK)
		goto out;
	if ((r = cv_path(kr, sizeof kr, "%s/keyring", out)) != CV_OK ||
	    (r = cv_file_create(kr, k2, l2, 0600)) != CV_OK)
		goto out;
	crypto_hash_sha256(sha, (const uint8_t *)k2, l2);
	if ((r = sums_add(sums, "keyring", sha)) != CV_OK)
		goto out;
	if ((r = cv_vault_copy_file(db, NULL, sha, NULL)) == CV_OK)
		r = sums_add(sums, "vault.db", sha);
 out:
	free(k1);
	free(k2);
	return r;
}

static cv_err
copy_small(const char *dir, const char *out, size_t from, size_t to,
    struct cv_buf *sums)
{
	char s[PATH_MAX], t[PATH_MAX];
	uint8_t sha[32];
	cv_err r;

	for (size_t i = from; i < to; i++) {
		if ((r = cv_path(s, sizeof s, "%s/%s", dir, small_files[i])) !=
		    CV_OK ||
		    (r = cv_path(t, sizeof t, "%s/%s", out, small_files[i])) !=
		    CV_OK)
			return r;
		r = cv_vault_copy_file(s, t, sha, NULL);
		if (r == CV_ERR_NOT_FOUND)
			continue;	/* not every vault has every file */
		if (r != CV_OK || (r = sums_add(sums, small_files[i], sha)) !=
		    CV_OK)
			return r;
	}
	return CV_OK;
}

static cv_err
write_info(struct cv_vault *v, const char *out, uint64_t entries,
    const struct cv_config *c, struct cv_buf *sums)
{
	char text[1024], path[PATH_MAX], when[32];
	time_t now = time(NULL);
	struct tm tm;
	uint8_t sha[32];
	int n;
	cv_err r;

	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(text, sizeof text, "# clearvault backup\n"
	    "format = 1\ncreated = %s\nvault_id = %s\nkey_id = %s\n"
	    "audit_entries = %llu\ntoken = %s\n", when, cv_vault_id(v),
	    cv_vault_key_id(v), (unsigned long long)entries,
	    c->softhsm2_conf[0] ? "not included: the private SoftHSM2 token "
	    "(DIR/token) is the root key; keep its copy apart" :
	    "not included: the keys are in the HSM named in clearvault.conf");
	if (n < 0 || (size_t)n >= sizeof text)
		return CV_ERR_INTERNAL;
	if ((r = cv_path(path, sizeof path, "%s/backup.info", out)) != CV_OK ||
	    (r = cv_file_create(path, text, (size_t)n, 0600)) != CV_OK)
		return r;
	crypto_hash_sha256(sha, (const uint8_t *)text, (unsigned long long)n);
	if ((r = sums_add(sums, "backup.info", sha)) != CV_OK ||
	    (r = cv_path(path, sizeof path, "%s/SHA256SUMS", out)) != CV_OK)
		return r;
	return cv_file_create(path, sums->p, sums->len, 0600);
}

static cv_err
do_backup(struct cv_vault *v, struct cv_audit *a, const char *dir,
    const char *out, const char *token_out, struct progress *pg,
    uint64_t *entries)
{
	struct cv_buf sums = { 0 };
	struct cv_config c;
	char path[PATH_MAX];
	cv_err r;

	if ((r = cv_config_load(dir, &c)) != CV_OK)
		return r;
	if (token_out && !c.softhsm2_conf[0])
		return cv_fail(CV_ERR_INVALID, "--token-out: this vault's keys "
		    "are in an external HSM; back it up with the HSM's tools");
	if ((r = copy_small(dir, out, 0, 1, &sums)) != CV_OK ||
	    (r = copy_db_and_keyring(v, dir, out, &sums, pg)) != CV_OK ||
	    (r = cv_path(path, sizeof path, "%s/audit", out)) != CV_OK)
		goto out;
	pg->what = "audit log";
	if ((r = cv_audit_copy(a, path, show, pg, entries)) != CV_OK ||
	    (r = sums_audit(&sums, out)) != CV_OK ||
	    (r = copy_small(dir, out, 1, sizeof small_files /
	    sizeof small_files[0], &sums)) != CV_OK ||
	    (r = write_info(v, out, *entries, &c, &sums)) != CV_OK)
		goto out;
	if (token_out) {
		if ((r = cv_path(path, sizeof path, "%s/token", dir)) != CV_OK ||
		    (r = cv_vault_copy_tree(path, token_out)) != CV_OK)
			goto out;
	}
 out:
	cv_buf_free(&sums);
	return r;
}

int
cmd_backup(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "out", required_argument, NULL, 'o' },
		{ "token-out", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ 0, 0, 0, 0 }
	};
	const char *dir = NULL, *out = NULL, *tok = NULL;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	struct progress pg = { .what = "" };
	char reason[PATH_MAX * 2 + 64];
	int c, quiet = 0, made = 0, made_tok = 0, rc = CLI_FAIL;
	uint64_t entries = 0;
	double t0 = cv_now();
	cv_err r;

	while ((c = getopt_long(argc, argv, "d:o:t:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'o': out = optarg; break;
		case 't': tok = optarg; break;
		case 'q': quiet = 1; break;
		case 'h': return cli_help(help_backup);
		default: return cli_usage("backup", use_backup, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage("backup", use_backup, "unexpected argument "
		    "'%s'", argv[optind]);
	if (out == NULL)
		return cli_usage("backup", use_backup, "--out FOLDER is "
		    "required");
	if ((dir = cli_dir("backup", dir)) == NULL)
		return CLI_USAGE;
	if (inside(out, dir) || (tok && (inside(tok, dir) ||
	    inside(tok, out) || inside(out, tok))))
		return cli_usage("backup", use_backup, "the backup, the token's "
		    "copy and the vault must be three separate folders");
	pg.on = !quiet && isatty(STDERR_FILENO);
	if (cli_open("backup", dir, &v, &a) != CLI_OK)
		return CLI_FAIL;
	if (fresh_folder("backup", out, "backup folder", &made) != CLI_OK ||
	    (tok && fresh_folder("backup", tok, "token's copy", &made_tok) !=
	    CLI_OK))
		goto out;
	/* Logged first, so that the backup holds its own entry. */
	snprintf(reason, sizeof reason, "to %s%s%s", out, tok ?
	    "; private token copied to " : "; token not included",
	    tok ? tok : "");
	if ((r = cli_record(a, "backup", CV_OK, reason, NULL, 0, 0)) !=
	    CV_OK) {
		cli_fail("backup", r);
		goto out;
	}
	if ((r = do_backup(v, a, dir, out, tok, &pg, &entries)) != CV_OK) {
		char detail[512];

		snprintf(detail, sizeof detail, "%s", cv_err_detail());
		if (cli_record(a, "backup", r, detail, NULL, 0, 0) != CV_OK)
			fprintf(stderr, "clearvault backup: the failure could "
			    "not be logged either\n");
		cv_err_set("%s", detail);
		cli_fail("backup", r);
		goto out;
	}
	if (!quiet)
		fprintf(stderr, "clearvault backup: %s: vault %s, %llu audit "
		    "entries, in %.1f s. It holds no usable key: keep the %s "
		    "apart from it.\n", out, cv_vault_id(v),
		    (unsigned long long)entries, cv_now() - t0, tok ?
		    "token's copy" : "HSM token");
	rc = CLI_OK;
 out:
	if (rc != CLI_OK) {
		if (made)
			cv_vault_remove_tree(out);
		if (made_tok)
			cv_vault_remove_tree(tok);
	}
	cli_close(v, a);
	return rc;
}

/* Copies the files SHA256SUMS names from FROM into DIR, each checked. */
static cv_err
restore_files(const char *from, const char *dir, struct progress *pg)
{
	struct cv_backup_file *f = NULL;
	struct cv_copy_progress cp = { .fn = show, .ctx = pg };
	char path[PATH_MAX], target[PATH_MAX], *text = NULL;
	size_t len, n = 0;
	uint8_t sha[32];
	struct stat st;
	int have_conf = 0;
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/SHA256SUMS", from)) != CV_OK ||
	    (r = cv_file_read(path, 1u << 20, &text, &len)) != CV_OK) {
		if (r == CV_ERR_NOT_FOUND)
			r = cv_fail(CV_ERR_INVALID, "%s is not a clearvault "
			    "backup (no SHA256SUMS)", from);
		goto out;
	}
	if ((r = cv_vault_sums_parse(text, len, &f, &n)) != CV_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (cv_path(path, sizeof path, "%s/%s", from, f[i].path) ==
		    CV_OK && stat(path, &st) == 0)
			cp.total += (uint64_t)st.st_size;
		have_conf |= strcmp(f[i].path, CV_CONFIG_FILE) == 0;
	}
	if (!have_conf) {
		r = cv_fail(CV_ERR_INVALID, "%s: SHA256SUMS names no %s",
		    from, CV_CONFIG_FILE);
		goto out;
	}
	pg->what = "restoring files";
	for (size_t i = 0; i < n; i++) {
		char *slash;

		if ((r = cv_path(path, sizeof path, "%s/%s", from,
		    f[i].path)) != CV_OK ||
		    (r = cv_path(target, sizeof target, "%s/%s", dir,
		    f[i].path)) != CV_OK)
			goto out;
		/* The folders of the path (audit/, audit/tree/). */
		for (slash = strchr(target + strlen(dir) + 1, '/'); slash;
		    slash = strchr(slash + 1, '/')) {
			*slash = '\0';
			if (mkdir(target, 0700) != 0 && errno != EEXIST) {
				r = cv_fail(CV_ERR_IO, "cannot create %s",
				    target);
				goto out;
			}
			*slash = '/';
		}
		/* backup.info describes the backup, not the vault: checked,
		 * not copied. */
		if ((r = cv_vault_copy_file(path, strcmp(f[i].path,
		    "backup.info") ? target : NULL, sha, &cp)) != CV_OK)
			goto out;
		if (sodium_memcmp(sha, f[i].sha256, sizeof sha) != 0) {
			r = cv_fail(CV_ERR_AUTH, "%s does not match its "
			    "checksum in SHA256SUMS: the backup is damaged or "
			    "was altered", path);
			goto out;
		}
	}
 out:
	free(f);
	free(text);
	return r;
}

static cv_err
do_restore(const char *from, const char *dir, const char *tok,
    struct progress *pg, char key_id[static CV_VAULT_ID_LEN + 1],
    char *old_key, size_t old_size)
{
	struct cv_config c;
	char path[PATH_MAX];
	cv_err r;

	if ((r = restore_files(from, dir, pg)) != CV_OK ||
	    (r = cv_config_load(dir, &c)) != CV_OK)
		return r;
	snprintf(old_key, old_size, "%s", c.key_id);
	if (c.softhsm2_conf[0] && tok == NULL)
		return cv_fail(CV_ERR_INVALID, "this vault's keys were in a "
		    "private SoftHSM2 token, which a backup never holds: give "
		    "--token FOLDER, the copy made by backup --token-out (or "
		    "the original vault's token folder)");
	if (!c.softhsm2_conf[0] && tok)
		return cv_fail(CV_ERR_INVALID, "--token: this vault's keys are "
		    "in the HSM token '%s' named in its clearvault.conf",
		    c.token_label);
	if (tok) {
		if ((r = cv_path(path, sizeof path, "%s/objects", tok)) !=
		    CV_OK)
			return r;
		if (access(path, F_OK) != 0)
			return cv_fail(CV_ERR_INVALID, "--token %s: not a "
			    "token folder (no objects/ in it)", tok);
		if ((r = cv_path(path, sizeof path, "%s/token", dir)) !=
		    CV_OK || (r = cv_vault_copy_tree(tok, path)) != CV_OK)
			return r;
	}
	if ((r = cv_vault_restore_keys(dir, key_id)) == CV_ERR_HSM_KEY) {
		char detail[400];

		snprintf(detail, sizeof detail, "%s", cv_err_detail());
		return cv_fail(r, "%s: the token lacks a root key the backup's "
		    "keyring is sealed under (a rotation after the backup "
		    "destroyed it, by design; or the token is another "
		    "vault's)", detail);
	}
	return r;
}

int
cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "from", required_argument, NULL, 'f' },
		{ "token", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ 0, 0, 0, 0 }
	};
	const char *dir = NULL, *from = NULL, *tok = NULL;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	struct cv_audit_report rep;
	struct progress pg = { .what = "" };
	char key_id[CV_VAULT_ID_LEN + 1] = "", old[CV_VAULT_ID_LEN + 1] = "";
	char reason[PATH_MAX * 2 + 160];
	int c, quiet = 0, made = 0, rc = CLI_FAIL;
	double t0 = cv_now();
	cv_err r;

	while ((c = getopt_long(argc, argv, "d:f:t:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'f': from = optarg; break;
		case 't': tok = optarg; break;
		case 'q': quiet = 1; break;
		case 'h': return cli_help(help_restore);
		default: return cli_usage("restore", use_restore,
		    "bad option");
		}
	}
	if (optind != argc)
		return cli_usage("restore", use_restore, "unexpected argument "
		    "'%s'", argv[optind]);
	if (from == NULL)
		return cli_usage("restore", use_restore, "--from BACKUP is "
		    "required");
	if ((dir = cli_dir("restore", dir)) == NULL)
		return CLI_USAGE;
	if (inside(dir, from) || inside(from, dir))
		return cli_usage("restore", use_restore, "the backup and the "
		    "new vault must be separate folders");
	pg.on = !quiet && isatty(STDERR_FILENO);
	if (fresh_folder("restore", dir, "vault folder", &made) != CLI_OK)
		return CLI_FAIL;
	if ((r = do_restore(from, dir, tok, &pg, key_id, old,
	    sizeof old)) != CV_OK) {
		cli_fail("restore", r);
		goto out;
	}
	if (cli_open("restore", dir, &v, &a) != CLI_OK)
		goto out;
	if ((r = cv_audit_verify(a, NULL, NULL, 0, &rep)) != CV_OK) {
		cv_err_set("the restored audit log does not verify: %s",
		    rep.what);
		cli_fail("restore", r);
		goto out;
	}
	snprintf(reason, sizeof reason, "from %s (log of %llu entries); "
	    "keys %s -> %s%s%s", from, (unsigned long long)rep.entries, old,
	    key_id, tok ? "; private token copied from " : "",
	    tok ? tok : "");
	if ((r = cli_record(a, "restore", CV_OK, reason, NULL, 0, 0)) !=
	    CV_OK) {
		cli_fail("restore", r);
		goto out;
	}
	if (!quiet)
		fprintf(stderr, "clearvault restore: %s: vault %s restored "
		    "with keys of its own (key id %s; the backup's were %s), "
		    "%llu audit entries verified, in %.1f s\n", dir,
		    cv_vault_id(v), key_id, old,
		    (unsigned long long)rep.entries, cv_now() - t0);
	rc = CLI_OK;
 out:
	cli_close(v, a);
	if (rc != CLI_OK && made)
		cv_vault_remove_tree(dir);
	return rc;
}

int
cmd_rebind(int argc, char **argv)
{
	const char *dir = NULL;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	char was[CV_CONFIG_PATH_MAX + 64], reason[CV_CONFIG_PATH_MAX * 2 + 64];
	int rc;
	cv_err r;

	if ((rc = cli_dir_only("rebind", argc, argv, use_rebind, help_rebind,
	    &dir)) != -1)
		return rc;
	if ((r = cv_vault_rebind(dir, was, sizeof was)) != CV_OK)
		return cli_fail("rebind", r);
	if (cli_open("rebind", dir, &v, &a) != CLI_OK)
		return CLI_FAIL;
	snprintf(reason, sizeof reason, "keys bound to %s (were bound to %s)",
	    dir, was);
	if ((r = cli_record(a, "vault.rebind", CV_OK, reason, NULL, 0, 0)) !=
	    CV_OK) {
		cli_close(v, a);
		return cli_fail("rebind", r);
	}
	cli_close(v, a);
	fprintf(stderr, "clearvault rebind: the keys of vault in %s are bound "
	    "to it (they were bound to %s)\n", dir, was);
	return CLI_OK;
}
