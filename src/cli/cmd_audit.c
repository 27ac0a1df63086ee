/* clearvault audit: the log's checkpoints, entries, proofs and checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../witness/witness.h"
#include "cli.h"

static const char help[] =
    "usage: clearvault audit SUBCOMMAND [OPTIONS]\n\n"
    "The tamper-evident audit log: every operation on the vault is an\n"
    "entry, durable before any data is returned, in an RFC 9162 Merkle tree\n"
    "whose roots are signed checkpoints (C2SP signed notes, Ed25519).\n\n"
    "subcommands:\n"
    "  checkpoint --dir DIR [--size N | --cosigned]\n"
    "                                    the latest signed checkpoint (a new\n"
    "                                    one if the log grew), or the stored\n"
    "                                    one of N entries; with the\n"
    "                                    witnesses' cosignatures when the\n"
    "                                    server stored them for it;\n"
    "                                    --cosigned: the newest one the\n"
    "                                    witnesses cosigned\n"
    "  pubkey --dir DIR                  the verifier key, name+keyid+key\n"
    "  tail --dir DIR [-n N] [--json]    the last N entries (default 10)\n"
    "  prove --dir DIR --index I [--size N]\n"
    "                                    inclusion proof of entry I in the\n"
    "                                    tree of N entries (default: the\n"
    "                                    latest stored checkpoint's; fetch\n"
    "                                    it with checkpoint --size N)\n"
    "  consistency --dir DIR --from FILE consistency proof from the\n"
    "                                    checkpoint in FILE to the latest\n"
    "                                    (checkpoint --size SIZE2 prints it)\n"
    "  verify --dir DIR [--checkpoint FILE]...\n"
    "                                    recompute the tree, check every\n"
    "                                    stored checkpoint and each given\n"
    "                                    older one; names what was tampered\n"
    "  check --pubkey KEY --checkpoint FILE --proof FILE [--leaf FILE]\n"
    "                                    the outsider's check: no vault,\n"
    "                                    public material only\n\n"
    "verify and check also take --witness VKEY (repeated: witnesses'\n"
    "cosignature keys) and --quorum N (default: all of them): the\n"
    "checkpoint must carry N valid cosignatures by distinct witnesses\n"
    "(check: the one in FILE; verify: the latest stored one, as the\n"
    "server's pusher stored it with its cosignatures). A vault rolled back\n"
    "or forked has checkpoints no witness cosigned, and fails.\n";

static const char use[] = "clearvault audit SUBCOMMAND --dir DIR ...";

struct opts {
	const char *dir, *pubkey, *from, *proof, *leaf;
	const char *checkpoint[32];
	size_t ncheckpoint;
	const char *witness[CV_WITNESS_QUORUM_KEYS];
	size_t nwitness;
	unsigned long long n, index, size, quorum;
	int json, have_index, have_size, have_quorum, cosigned;
};

static int
parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "json", no_argument, NULL, 'J' },
		{ "index", required_argument, NULL, 'i' },
		{ "size", required_argument, NULL, 's' },
		{ "from", required_argument, NULL, 'f' },
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "pubkey", required_argument, NULL, 'p' },
		{ "proof", required_argument, NULL, 'P' },
		{ "leaf", required_argument, NULL, 'l' },
		{ "witness", required_argument, NULL, 'W' },
		{ "quorum", required_argument, NULL, 'Q' },
		{ "cosigned", no_argument, NULL, 'C' },
		{ 0, 0, 0, 0 }
	};
	int c, ok = 1;

	memset(o, 0, sizeof *o);
	o->n = 10;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:n:h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o->dir = optarg; break;
		case 'n': o->n = cli_number(optarg, &ok); break;
		case 'J': o->json = 1; break;
		case 'i': o->index = cli_number(optarg, &ok);
			o->have_index = 1; break;
		case 's': o->size = cli_number(optarg, &ok);
			o->have_size = 1; break;
		case 'f': o->from = optarg; break;
		case 'c':
			if (o->ncheckpoint == 32)
				return cli_usage("audit", use, "too many "
				    "--checkpoint");
			o->checkpoint[o->ncheckpoint++] = optarg;
			break;
		case 'p': o->pubkey = optarg; break;
		case 'P': o->proof = optarg; break;
		case 'l': o->leaf = optarg; break;
		case 'W':
			if (o->nwitness == CV_WITNESS_QUORUM_KEYS)
				return cli_usage("audit", use, "too many "
				    "--witness");
			o->witness[o->nwitness++] = optarg;
			break;
		case 'Q': o->quorum = cli_number(optarg, &ok);
			o->have_quorum = 1; break;
		case 'C': o->cosigned = 1; break;
		case 'h': cli_help(help); return -1;
		default: return cli_usage("audit", use, "bad option");
		}
		if (!ok)
			return cli_usage("audit", use, "'%s' is not a number",
			    optarg);
	}
	if (optind != argc)
		return cli_usage("audit", use, "unexpected argument '%s'",
		    argv[optind]);
	if (o->have_quorum && o->nwitness == 0)
		return cli_usage("audit", use, "--quorum needs --witness");
	if (o->have_quorum && (o->quorum == 0 || o->quorum > o->nwitness))
		return cli_usage("audit", use, "--quorum must be 1 to the "
		    "number of --witness keys (%zu)", o->nwitness);
	if (o->nwitness && !o->have_quorum)
		o->quorum = o->nwitness;
	return CLI_OK;
}

/*
 * The witnesses' quorum on NOTE (WHAT names it in the message): 0 when
 * O asks for none or it is there, else says which are missing.
 */
static int
quorum_ok(const struct opts *o, const char *cmd, const char *what,
    const char *note, size_t len)
{
	char why[600];
	size_t valid;
	cv_err r;

	if (o->nwitness == 0)
		return 1;
	if ((r = cv_witness_quorum(note, len, o->witness, o->nwitness, &valid,
	    why, sizeof why)) != CV_OK) {
		cli_fail(cmd, r);
		return 0;
	}
	if (valid >= o->quorum)
		return 1;
	fprintf(stderr, "clearvault %s: FAILED: no witness quorum: %s has "
	    "%zu of the %llu valid cosignatures required (%s); a vault rolled "
	    "back or forked has checkpoints its witnesses never cosigned, as "
	    "has one whose witnesses are not reached\n", cmd, what, valid,
	    o->quorum, why);
	return 0;
}

static int
read_file(const char *what, const char *path, size_t max, char **out,
    size_t *len)
{
	cv_err r;

	if ((r = cv_file_read(path, max, out, len)) != CV_OK) {
		fprintf(stderr, "clearvault audit: %s: %s: %s\n", what,
		    cv_strerror(r), cv_err_detail());
		return CLI_FAIL;
	}
	return CLI_OK;
}

static int
print_json(json_t *j)
{
	int rc = json_dumpf(j, stdout, JSON_COMPACT) == 0 &&
	    fputc('\n', stdout) != EOF && fflush(stdout) == 0;

	json_decref(j);
	return rc ? CLI_OK : CLI_FAIL;
}

static int
do_check(const struct opts *o)
{
	struct cv_audit_proof p;
	char *note = NULL, *proof = NULL, *leaf = NULL, what[300];
	size_t nlen, plen, llen = 0;
	int rc = CLI_FAIL;
	cv_err r;

	if (!o->pubkey || !o->checkpoint[0] || !o->proof)
		return cli_usage("audit check", use, "--pubkey, --checkpoint "
		    "and --proof are required");
	if (read_file("checkpoint", o->checkpoint[0], CV_NOTE_MAX_BYTES, &note,
	    &nlen) != CLI_OK || read_file("proof", o->proof, 65536, &proof,
	    &plen) != CLI_OK || (o->leaf && read_file("leaf", o->leaf,
	    CV_AUDIT_MAX_LEAF, &leaf, &llen) != CLI_OK))
		goto out;
	if ((r = cv_audit_proof_parse(proof, plen, &p)) != CV_OK ||
	    (r = cv_audit_check(o->pubkey, note, nlen, &p,
	    (const uint8_t *)leaf, llen, what, sizeof what)) != CV_OK) {
		cli_fail("audit check", r);
		goto out;
	}
	if (!quorum_ok(o, "audit check", o->checkpoint[0], note, nlen))
		goto out;
	if (o->nwitness)
		printf("OK: %s; cosigned by a quorum of %llu witnesses\n",
		    what, o->quorum);
	else
		printf("OK: %s\n", what);
	rc = CLI_OK;
 out:
	free(note);
	free(proof);
	free(leaf);
	return rc;
}

static int
do_tail(struct cv_audit *a, const struct opts *o)
{
	struct cv_buf leaf = { 0 };
	uint64_t size, i;
	uint8_t h[CV_HASH_BYTES];
	char *b64 = NULL;
	json_t *e;
	int rc = CLI_FAIL;
	cv_err r;

	if ((r = cv_audit_size(a, &size)) != CV_OK)
		return cli_fail("audit tail", r);
	for (i = size > o->n ? size - o->n : 0; i < size; i++) {
		leaf.len = 0;
		if ((r = cv_audit_leaf(a, i, &leaf)) != CV_OK ||
		    (r = cv_audit_decode(leaf.p, leaf.len, &e)) != CV_OK) {
			cli_fail("audit tail", r);
			goto out;
		}
		if (o->json) {
			size_t bl = sodium_base64_ENCODED_LEN(leaf.len,
			    sodium_base64_VARIANT_ORIGINAL);
			if ((b64 = realloc(b64, bl)) == NULL)
				goto out;
			sodium_bin2base64(b64, bl, leaf.p, leaf.len,
			    sodium_base64_VARIANT_ORIGINAL);
			cv_merkle_leaf_hash(leaf.p, leaf.len, h);
			json_object_set_new(e, "index", json_integer(
			    (json_int_t)i));
			json_object_set_new(e, "leaf", json_string(b64));
			json_object_set_new(e, "leaf_hash",
			    cv_audit_hash_json(h));
			if (print_json(e) != CLI_OK)
				goto out;
			continue;
		}
		printf("%llu %s %s %s actor=%s", (unsigned long long)i,
		    json_string_value(json_object_get(e, "time")),
		    json_string_value(json_object_get(e, "outcome")),
		    json_string_value(json_object_get(e, "action")),
		    json_string_value(json_object_get(e, "actor")));
		if (json_array_size(json_object_get(e, "records"))) {
			size_t k;
			json_t *it;
			printf(" records=");
			json_array_foreach(json_object_get(e, "records"), k,
			    it) {
				if (k == 5) {
					printf("...(%zu)", json_array_size(
					    json_object_get(e, "records")));
					break;
				}
				printf("%s%s", k ? "," : "",
				    json_string_value(it));
			}
		}
		if (*json_string_value(json_object_get(e, "reason")))
			printf(" reason=\"%s\"", json_string_value(
			    json_object_get(e, "reason")));
		putchar('\n');
		json_decref(e);
	}
	rc = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
 out:
	free(b64);
	cv_buf_free(&leaf);
	return rc;
}

static int
do_consistency(struct cv_audit *a, const struct opts *o, const char *action)
{
	struct cv_audit_proof p;
	struct cv_checkpoint c, latest;
	struct cv_buf note = { 0 };
	char *old = NULL, vkey[256], name[CV_NOTE_NAME_MAX + 1];
	uint8_t pk[32];
	size_t len, tl;
	json_t *j = NULL;
	int rc = CLI_FAIL;
	cv_err r;

	if (o->from == NULL)
		return cli_usage("audit consistency", use, "--from FILE is "
		    "required");
	if (read_file("--from", o->from, CV_NOTE_MAX_BYTES, &old, &len) !=
	    CLI_OK)
		goto out;
	if ((r = cv_audit_vkey(a, vkey, sizeof vkey)) != CV_OK ||
	    (r = cv_note_vkey_parse(vkey, name, pk)) != CV_OK ||
	    (r = cv_note_verify(old, len, name, pk, &tl)) != CV_OK ||
	    (r = cv_checkpoint_parse(old, tl, &c)) != CV_OK ||
	    (r = cv_audit_checkpoint(a, &note)) != CV_OK ||
	    (r = cv_checkpoint_parse((char *)note.p, note.len, &latest)) !=
	    CV_OK)
		goto fail;
	if (c.size > latest.size) {
		fprintf(stderr, "clearvault audit consistency: rolled back: "
		    "the checkpoint in %s covers %llu entries, the log has "
		    "only %llu\n", o->from, (unsigned long long)c.size,
		    (unsigned long long)latest.size);
		goto out;
	}
	if ((r = cv_audit_consistency(a, c.size, latest.size, &p)) != CV_OK) {
 fail:
		cli_fail("audit consistency", r);
		goto out;
	}
	/* Verified before it is printed: the old root must be ours. */
	if (memcmp(p.root1, c.root, CV_HASH_BYTES) != 0 ||
	    (r = cv_merkle_verify_consistency(p.size1, p.size, p.root1,
	    p.root2, (const uint8_t (*)[CV_HASH_BYTES])p.hash, p.n)) != CV_OK) {
		fprintf(stderr, "clearvault audit consistency: the log is not "
		    "an extension of the checkpoint in %s (rewritten or "
		    "rolled back)\n", o->from);
		goto out;
	}
	if ((r = cv_audit_proof_json(&p, &j)) != CV_OK ||
	    (r = cli_record(a, action, CV_OK, NULL, NULL, 0, 0)) != CV_OK) {
		json_decref(j);
		cli_fail("audit consistency", r);
		goto out;
	}
	rc = print_json(j);
 out:
	free(old);
	cv_buf_free(&note);
	return rc;
}

/*
 * verify --witness: the latest stored checkpoint (the one the tree was
 * just checked against) must carry the quorum, as the server's pusher
 * stored it (DIR/witness/checkpoint, attached only when it is that very
 * note). A rolled-back copy's latest checkpoint is one no witness saw.
 */
static int
witnessed(struct cv_vault *v, struct cv_audit *a, const struct opts *o,
    uint64_t entries)
{
	struct cv_buf note = { 0 };
	struct cv_checkpoint c;
	char what[80];
	int rc = CLI_FAIL;
	cv_err r;

	if ((r = cv_audit_latest_note(a, &note, &c)) != CV_OK ||
	    (r = cv_witness_attach(cv_vault_dir(v), &note)) != CV_OK) {
		cli_fail("audit verify", r);
		goto out;
	}
	if (note.len == 0) {
		fprintf(stderr, "clearvault audit verify: FAILED: no witness "
		    "quorum: the log has no checkpoint yet\n");
		goto out;
	}
	snprintf(what, sizeof what, "the latest checkpoint (%llu entries)",
	    (unsigned long long)c.size);
	if (!quorum_ok(o, "audit verify", what, (const char *)note.p,
	    note.len))
		goto out;
	printf("latest checkpoint (%llu entries) cosigned by a quorum of "
	    "%llu witnesses\n", (unsigned long long)c.size, o->quorum);
	/* What the witnesses vouch for ends there: a tail past it is the
	 * log's word alone (and a copy restored with its cosigned file is
	 * witnessed only as of that checkpoint's cosignatures). */
	if (entries > c.size)
		fprintf(stderr, "clearvault audit verify: note: %llu entries "
		    "after the witnessed checkpoint are not covered by the "
		    "witnesses yet\n", (unsigned long long)(entries - c.size));
	rc = CLI_OK;
 out:
	cv_buf_free(&note);
	return rc;
}

static int
do_verify(struct cv_vault *v, const struct opts *o)
{
	struct cv_audit *a = NULL;
	struct cv_audit_report rep;
	char *g[32] = { 0 };
	size_t glen[32];
	int rc = CLI_FAIL;
	cv_err r;

	for (size_t i = 0; i < o->ncheckpoint; i++) {
		if (read_file("--checkpoint", o->checkpoint[i],
		    CV_NOTE_MAX_BYTES, &g[i], &glen[i]) != CLI_OK)
			goto out;
	}
	/* PostgreSQL: a read-write open first moves what nodes staged into
	 * the log (cv_audit_settle: appends, not a repair), so that what is
	 * verified holds every entry durable before the verify began, as
	 * for scope. Best effort: if it cannot, the log as it is. */
	if (cv_vault_db(v)) {
		if ((r = cv_core_audit_open(v, 0, &a)) != CV_OK) {
			fprintf(stderr, "clearvault audit verify: note: staged "
			    "entries not moved first (%s); verifying the log "
			    "as it is\n", cv_err_detail());
			cv_err_clear();
		}
		cv_audit_close(a);
		a = NULL;
	}
	/* Read-only: the log is examined as it is, never repaired first. */
	if ((r = cv_core_audit_open(v, 1, &a)) != CV_OK) {
		cli_fail("audit verify", r);
		goto out;
	}
	r = cv_audit_verify(a, (const char *const *)g, glen, o->ncheckpoint,
	    &rep);
	if (r == CV_ERR_AUTH) {
		fprintf(stderr, "clearvault audit verify: FAILED at entry "
		    "%llu: %s\n", (unsigned long long)rep.bad_index, rep.what);
		goto out;
	}
	if (r != CV_OK) {
		cli_fail("audit verify", r);
		goto out;
	}
	if (rep.note[0])
		fprintf(stderr, "clearvault audit verify: note: %s\n",
		    rep.note);
	if (o->nwitness && witnessed(v, a, o, rep.entries) != CLI_OK)
		goto out;
	printf("verified %llu entries, %llu stored and %llu given "
	    "checkpoints in %.3f s (%.0f entries/s)\n",
	    (unsigned long long)rep.entries,
	    (unsigned long long)rep.checkpoints,
	    (unsigned long long)rep.given, rep.seconds,
	    rep.seconds > 0 ? (double)rep.entries / rep.seconds : 0.0);
	rc = CLI_OK;
 out:
	for (size_t i = 0; i < 32; i++)
		free(g[i]);
	cv_audit_close(a);
	return rc;
}

int
cmd_audit(int argc, char **argv)
{
	struct opts o;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	struct cv_audit_proof p;
	struct cv_checkpoint c;
	struct cv_buf note = { 0 };
	const char *sub, *dir;
	char vkey[256], action[32];
	json_t *j;
	int rc;
	cv_err r;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return argc < 2 ? cli_usage("audit", use, "which subcommand?") :
		    cli_help(help);
	sub = argv[1];
	if ((rc = parse(argc - 1, argv + 1, &o)) != CLI_OK)
		return rc < 0 ? CLI_OK : rc;
	if (o.nwitness && strcmp(sub, "check") && strcmp(sub, "verify"))
		return cli_usage("audit", use, "--witness is for verify and "
		    "check");
	if (!strcmp(sub, "check"))
		return do_check(&o);
	if (strcmp(sub, "checkpoint") && strcmp(sub, "pubkey") &&
	    strcmp(sub, "tail") && strcmp(sub, "prove") &&
	    strcmp(sub, "consistency") && strcmp(sub, "verify"))
		return cli_usage("audit", use, "unknown subcommand '%s'", sub);
	if (o.cosigned && (strcmp(sub, "checkpoint") || o.have_size))
		return cli_usage("audit", use, "--cosigned is for checkpoint, "
		    "without --size");
	if (!strcmp(sub, "prove") && !o.have_index)
		return cli_usage("audit prove", use, "--index is required");
	if ((dir = cli_dir("audit", o.dir)) == NULL)
		return CLI_USAGE;
	if (!strcmp(sub, "verify")) {
		if ((r = cv_vault_open(dir, &v)) != CV_OK)
			return cli_fail("audit verify", r);
		rc = do_verify(v, &o);
		cv_vault_close(v);
		return rc;
	}
	if (cli_open("audit", dir, &v, &a) != CLI_OK)
		return CLI_FAIL;
	rc = CLI_FAIL;
	/*
	 * Reading the log is an operation too. Its entry is appended before
	 * anything is printed, but after the checkpoint or proof it prints
	 * was made: otherwise that very entry would always make a newer tree
	 * than the one just handed out.
	 */
	snprintf(action, sizeof action, "audit.%s", sub);
	if (!strcmp(sub, "checkpoint")) {
		r = o.cosigned ? cv_witness_cosigned_get(dir, a, &note) :
		    o.have_size ? cv_audit_stored_checkpoint(a, o.size, &note) :
		    cv_audit_checkpoint(a, &note);
		/* One signed note, the log's signature and the witnesses'. */
		if (r == CV_OK && !o.cosigned)
			r = cv_witness_attach(dir, &note);
		if (r == CV_OK)
			r = cli_record(a, action, CV_OK, NULL, NULL, 0, 0);
		if (r != CV_OK) {
			cli_fail("audit checkpoint", r);
			goto out;
		}
		rc = fwrite(note.p, 1, note.len, stdout) == note.len &&
		    fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
	} else if (!strcmp(sub, "pubkey")) {
		if ((r = cv_audit_vkey(a, vkey, sizeof vkey)) != CV_OK ||
		    (r = cli_record(a, action, CV_OK, NULL, NULL, 0, 0)) !=
		    CV_OK) {
			cli_fail("audit pubkey", r);
			goto out;
		}
		rc = printf("%s\n", vkey) > 0 ? CLI_OK : CLI_FAIL;
	} else if (!strcmp(sub, "tail")) {
		if ((r = cli_record(a, action, CV_OK, NULL, NULL, 0, 0)) !=
		    CV_OK) {
			cli_fail("audit tail", r);
			goto out;
		}
		rc = do_tail(a, &o);
	} else if (!strcmp(sub, "prove")) {
		if (!o.have_size) {
			if ((r = cv_audit_latest(a, &c)) != CV_OK) {
				cli_fail("audit prove", r);
				goto out;
			}
			o.size = c.size;
		}
		if ((r = cv_audit_prove(a, o.index, o.size, &p)) != CV_OK ||
		    (r = cv_audit_proof_json(&p, &j)) != CV_OK ||
		    (r = cli_record(a, action, CV_OK, NULL, NULL, 0, 0)) !=
		    CV_OK) {
			cli_fail("audit prove", r);
			goto out;
		}
		rc = print_json(j);
	} else
		rc = do_consistency(a, &o, action);
 out:
	cv_buf_free(&note);
	cli_close(v, a);
	return rc;
}
