/*
 * Checkpoint-to-quorum latency with two local witnesses (issue 15): from
 * the moment a new checkpoint is stored in the log to the moment
 * DIR/witness/checkpoint holds that note with both witnesses' verified
 * cosignatures, as `audit checkpoint` and the API serve it.
 *
 * Measured: the server's pusher (serve/witness_push.c) on its own thread,
 * as in `clearvault serve`: it polls the log every 100 ms, so its latency
 * is the wait for its next round plus the exchange. Each checkpoint is
 * made after a random pause (0-250 ms) so that rounds and checkpoints
 * meet at every phase, as they do in a server.
 *
 * Baseline, in the same run, same log, same two witnesses (`clearvault
 * witness serve`, one thread each, over loopback): the bare exchange done
 * synchronously right after the checkpoint is stored: the consistency
 * proof, two add-checkpoint POSTs one after the other, both cosignatures
 * verified, the cosigned note written with cv_file_replace. What any
 * pusher must pay; the difference is the polling.
 *
 * usage: bench_witness_push CLEARVAULT WORKDIR [N]
 * prints: "witness_push N P50 P99 BASE_P50 BASE_P99" (milliseconds)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/audit.h"
#include "config/config.h"
#include "serve/witness_push.h"
#include "witness/witness.h"

#define VAULT_ID "0123456789abcdef"
#define ORIGIN "clearvault/" VAULT_ID

static uint8_t log_sk[64];

static cv_err
sign(void *ctx, const uint8_t *m, size_t len, uint8_t sig[static 64])
{
	(void)ctx;
	crypto_sign_detached(sig, NULL, m, len, log_sk);
	return CV_OK;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_witness_push: %s: %s\n", what, cv_err_detail());
	exit(1);
}

/* `clearvault witness serve` on DIR, port 0: its port in *PORT. */
static pid_t
serve(const char *cv, const char *dir, unsigned *port)
{
	char line[256];
	int fds[2];
	pid_t pid;
	FILE *out;

	if (pipe(fds) != 0 || (pid = fork()) < 0)
		exit(1);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execl(cv, cv, "witness", "serve", "--dir", dir, "--listen",
		    "127.0.0.1:0", "--threads", "1", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	/* The first line is "witnessing ORIGIN", then the address. */
	if ((out = fdopen(fds[0], "r")) == NULL)
		exit(1);
	while (fgets(line, sizeof line, out))
		if (sscanf(line, "clearvault witness: listening on "
		    "http://127.0.0.1:%u", port) == 1)
			return pid;
	fprintf(stderr, "bench_witness_push: a witness did not start\n");
	exit(1);
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof *v, cmp);
	return v[(int)((n - 1) * p + 0.5)];
}

/* A new entry and its checkpoint, stored: the note in NOTE. */
static void
grow(struct cv_audit *a, struct cv_buf *note, struct cv_checkpoint *c)
{
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
	    .action = "bench", .actor = "bench" };

	note->len = 0;
	if (cv_audit_append(a, &e, NULL) != CV_OK ||
	    cv_audit_checkpoint(a, note) != CV_OK ||
	    cv_checkpoint_parse((const char *)note->p, note->len, c) != CV_OK)
		die("append");
}

/* 1 when DIR/witness/checkpoint is NOTE with two cosignatures. */
static int
cosigned(const char *dir, const struct cv_buf *note, const char *const *keys)
{
	char *f = NULL;
	size_t len, valid = 0;
	char why[200];
	int ok;

	if (cv_witness_cosigned_load(dir, &f, &len) != CV_OK)
		return 0;
	ok = len > note->len && memcmp(f, note->p, note->len) == 0 &&
	    cv_witness_quorum(f, len, keys, 2, &valid, why, sizeof why) ==
	    CV_OK && valid == 2;
	free(f);
	return ok;
}

int
main(int argc, char **argv)
{
	struct cv_audit_signer s = { .sign = sign };
	struct cv_audit *a = NULL;
	struct cv_config cfg;
	struct cv_witness_pusher *p = NULL;
	struct cv_buf note = { 0 }, body = { 0 }, reply = { 0 }, all = { 0 };
	struct cv_checkpoint c;
	struct cv_audit_proof pr;
	char wdir[2][4096], keys[2][CV_WITNESS_VKEY_MAX], vk[256], conf[2048];
	const char *kp[2] = { keys[0], keys[1] };
	unsigned port[2];
	uint64_t sent[2] = { 0, 0 }, ts;
	pid_t pid[2];
	int n = argc > 3 ? atoi(argv[3]) : 200, k, st;
	double *lat, *base, t0;
	char portstr[2][8];

	if (argc < 3 || n < 2 || sodium_init() < 0) {
		fprintf(stderr, "usage: bench_witness_push CLEARVAULT WORKDIR "
		    "[N]\n");
		return 2;
	}
	if ((lat = calloc((size_t)n, sizeof *lat)) == NULL ||
	    (base = calloc((size_t)n, sizeof *base)) == NULL)
		return 1;
	/* A log of our own (no vault, no HSM): the audit module alone. */
	crypto_sign_keypair(s.pk, log_sk);
	if (cv_audit_create(argv[2], NULL) != CV_OK ||
	    cv_audit_open(argv[2], NULL, VAULT_ID, &s, 0, &a) != CV_OK)
		die("log");
	if (cv_note_vkey_format(ORIGIN, s.pk, vk, sizeof vk) != CV_OK)
		die("vkey");
	for (int i = 0; i < 2; i++) {
		snprintf(wdir[i], sizeof wdir[i], "%s/w%d", argv[2], i + 1);
		char name[64];
		snprintf(name, sizeof name, "bench.example/w%d", i + 1);
		if (cv_witness_init(wdir[i], name, keys[i], sizeof keys[i]) !=
		    CV_OK || cv_witness_add_log(wdir[i], ORIGIN, vk) != CV_OK)
			die("witness");
		pid[i] = serve(argv[1], wdir[i], &port[i]);
		snprintf(portstr[i], sizeof portstr[i], "%u", port[i]);
	}

	/* Baseline: the exchange itself, synchronous. */
	for (k = 0; k < n; k++) {
		grow(a, &note, &c);
		t0 = cv_now();
		all.len = 0;
		if (cv_buf_add(&all, note.p, note.len) != CV_OK)
			die("memory");
		for (int i = 0; i < 2; i++) {
			body.len = reply.len = 0;
			pr.n = 0;
			if ((sent[i] > 0 && cv_audit_consistency(a, sent[i],
			    c.size, &pr) != CV_OK) ||
			    cv_witness_req_format(sent[i],
			    (const uint8_t (*)[32])pr.hash, pr.n,
			    (const char *)note.p, note.len, &body) != CV_OK ||
			    cv_witness_post("127.0.0.1", portstr[i],
			    "/add-checkpoint", body.p, body.len, 5000, &st,
			    &reply) != CV_OK || st != 200 ||
			    cv_buf_add(&all, reply.p, reply.len) != CV_OK)
				die("baseline push");
			sent[i] = c.size;
		}
		if (cv_witness_cosig_verify(keys[0], (const char *)all.p,
		    all.len, &ts) != CV_OK ||
		    cv_witness_cosig_verify(keys[1], (const char *)all.p,
		    all.len, &ts) != CV_OK ||
		    cv_witness_cosigned_save(argv[2], (const char *)all.p,
		    all.len) != CV_OK)
			die("baseline verify");
		base[k] = (cv_now() - t0) * 1000;
	}

	/* The pusher, as the supervisor runs it, from where the baseline
	 * left the witnesses. */
	for (int i = 0; i < 2; i++)
		if (cv_witness_sent_save(argv[2], keys[i], sent[i]) != CV_OK)
			die("state");
	snprintf(conf, sizeof conf, "vault_id = %s\npkcs11_module = x\n"
	    "token_label = x\npin_file = x\nwitness = http://127.0.0.1:%u "
	    "%s\nwitness = http://127.0.0.1:%u %s\n", VAULT_ID, port[0],
	    keys[0], port[1], keys[1]);
	if (cv_config_parse(conf, strlen(conf), &cfg) != CV_OK ||
	    cv_witness_pusher_start(argv[2], &cfg, -1, -1, NULL, NULL,
	    &p) != CV_OK)
		die("pusher");
	for (k = 0; k < n; k++) {
		usleep((useconds_t)randombytes_uniform(250000));
		grow(a, &note, &c);
		t0 = cv_now();
		while (!cosigned(argv[2], &note, kp)) {
			if (cv_now() - t0 > 10) {
				fprintf(stderr, "bench_witness_push: checkpoint "
				    "%llu never got its quorum\n",
				    (unsigned long long)c.size);
				return 1;
			}
			usleep(500);
		}
		lat[k] = (cv_now() - t0) * 1000;
	}
	cv_witness_pusher_stop(p);
	cv_audit_close(a);
	for (int i = 0; i < 2; i++) {
		kill(pid[i], SIGTERM);
		waitpid(pid[i], NULL, 0);
	}
	printf("witness_push %d %.3f %.3f %.3f %.3f\n", n, pct(lat, n, 0.5),
	    pct(lat, n, 0.99), pct(base, n, 0.5), pct(base, n, 0.99));
	sodium_memzero(log_sk, sizeof log_sk);
	return 0;
}
