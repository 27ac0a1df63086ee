/* clearvault versions: a record's kept earlier versions, and restoring one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../store/store.h"
#include "../vault/vault.h"
#include "cli.h"

static const char use[] =
    "clearvault versions --dir DIR ID [--restore VERSION]";

static const char help[] =
    "usage: clearvault versions --dir DIR ID [--restore VERSION]\n\n"
    "Every update of a record (PUT over the API, a load of an id that\n"
    "exists) keeps the version it replaces, encrypted under its own data\n"
    "key; no read returns it and no search finds it. This lists record\n"
    "ID's current version and the kept ones (number, when it was replaced,\n"
    "size of its ciphertext), decrypting nothing. --restore VERSION makes\n"
    "that version the record's content again, as a new version (the one\n"
    "it replaces is kept in turn); its text never leaves the vault.\n"
    "Shredding a record destroys every version's key.\n\n"
    "options:\n"
    "  -d, --dir DIR          the vault folder (or $CLEARVAULT_DIR)\n"
    "      --restore VERSION  make kept VERSION current again\n"
    "  -h, --help             this text\n";

struct listing {
	struct cv_buf out;
	int n;
	cv_err err;
};

static int
add_kept(void *ctx, const struct cv_store_kept *k)
{
	struct listing *l = ctx;
	time_t t = (time_t)(k->replaced_us / 1000000);
	char when[32], line[128];
	int n;

	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	n = snprintf(line, sizeof line, "version %u  kept, replaced %s  "
	    "%zu bytes\n", k->version, when, k->body_len);
	if ((l->err = cv_buf_add(&l->out, line, (size_t)n)) != CV_OK)
		return 1;
	l->n++;
	return 0;
}

/* The listing of ID into L (printed once its entry is durable). */
static cv_err
list(struct cv_vault *v, const char *id, struct listing *l, char *reason,
    size_t size)
{
	char line[128];
	uint32_t current = 0;
	int n;
	cv_err r;

	r = cv_store_state(cv_vault_store(v), id, &current);
	if (r == CV_ERR_NOT_FOUND)
		return cv_fail(r, "no record '%.64s'", id);
	if (r != CV_OK && r != CV_ERR_SHREDDED)
		return r;
	n = snprintf(line, sizeof line, "version %u  current%s\n", current,
	    r == CV_ERR_SHREDDED ? ", shredded" : "");
	if ((r = cv_buf_add(&l->out, line, (size_t)n)) != CV_OK ||
	    (r = cv_store_kept_list(cv_vault_store(v), id, add_kept, l)) !=
	    CV_OK)
		return r;
	if (l->err != CV_OK)
		return l->err;
	snprintf(reason, size, "current version %u, %d kept", current, l->n);
	return CV_OK;
}

int
cmd_versions(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "restore", required_argument, NULL, 'r' },
		{ 0, 0, 0, 0 }
	};
	const char *dir = NULL, *id, *restore = NULL;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	struct listing l = { .err = CV_OK };
	unsigned long ver = 0;
	uint32_t now = 0;
	char reason[160] = "", *end;
	int c, rc = CLI_FAIL;
	cv_err r, ar;

	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'r': restore = optarg; break;
		case 'h': return cli_help(help);
		default: return cli_usage("versions", use, "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage("versions", use, "give exactly one record id");
	if (restore) {
		errno = 0;
		ver = strtoul(restore, &end, 10);
		if (errno || *end || end == restore || ver < 1 ||
		    ver > UINT32_MAX || restore[0] == '-' || restore[0] == '+')
			return cli_usage("versions", use, "--restore wants a "
			    "version number");
	}
	if ((dir = cli_dir("versions", dir)) == NULL)
		return CLI_USAGE;
	id = argv[optind];
	if (cli_open("versions", dir, &v, &a) != CLI_OK)
		goto out;
	if (restore) {
		r = cv_vault_version_restore(v, id, (uint32_t)ver, &now);
		if (r == CV_OK)
			snprintf(reason, sizeof reason, "version %lu restored as "
			    "version %u", ver, now);
	} else
		r = list(v, id, &l, reason, sizeof reason);
	if (r != CV_OK)
		snprintf(reason, sizeof reason, "%s", cv_err_detail());
	/* On the log before anything is printed. */
	if ((ar = cli_record(a, restore ? "versions.restore" : "versions", r,
	    reason, &id, 1, 0)) != CV_OK) {
		cli_fail("versions", ar);
		goto out;
	}
	if (r != CV_OK) {
		cv_err_set("%s", reason);
		cli_fail("versions", r);
		goto out;
	}
	if (restore)
		fprintf(stderr, "clearvault versions: %s: %s\n", id, reason);
	else if (fwrite(l.out.p, 1, l.out.len, stdout) != l.out.len)
		goto out;
	rc = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
 out:
	cv_buf_free(&l.out);
	cli_close(v, a);
	return rc;
}
