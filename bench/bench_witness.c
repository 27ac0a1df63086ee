/*
 * The witness's add-checkpoint rate over loopback: `clearvault witness
 * serve --threads 1` (one core) cosigning a log that grows by one entry a
 * request, each request one signed checkpoint and its consistency proof
 * from the last, sent one after another on one keep-alive connection.
 * Every request is one log signature check, one proof check, one durable
 * state write (pwrite + fdatasync into the state file's other slot,
 * src/witness/state.c) and one signature.
 *
 * The baseline, measured first in the same run and folder: an Ed25519
 * verify, an Ed25519 sign and a pwrite + fdatasync of a checkpoint-sized
 * block, with nothing around them: what any witness that persists before
 * it answers must pay.
 *
 * usage: bench_witness CLEARVAULT WORKDIR [N]
 * prints: "witness N REQ_S BASE_S ERRORS" (seconds for N each)
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/merkle.h"
#include "audit/note.h"
#include "witness/witness.h"

static uint8_t log_sk[64], log_pk[32];

/* The tree's complete subtrees, level by level, as leaves arrive. */
static uint8_t (*lv[40])[32];
static uint64_t nleaves;

static cv_err
node(void *ctx, unsigned level, uint64_t index, uint8_t out[static 32])
{
	(void)ctx;
	memcpy(out, lv[level][index], 32);
	return CV_OK;
}

static void
append(uint64_t cap)
{
	uint64_t i = nleaves++;
	char leaf[32];
	unsigned l;

	snprintf(leaf, sizeof leaf, "entry %llu", (unsigned long long)i);
	cv_merkle_leaf_hash(leaf, strlen(leaf), lv[0][i]);
	for (l = 1; (i & 1) == 1; l++, i >>= 1) {
		if (lv[l] == NULL && (lv[l] = calloc((cap >> l) + 1, 32)) ==
		    NULL)
			abort();
		cv_merkle_node_hash(lv[l - 1][i - 1], lv[l - 1][i],
		    lv[l][i >> 1]);
	}
}

static cv_err
sign(void *ctx, const uint8_t *m, size_t len, uint8_t sig[static 64])
{
	(void)ctx;
	crypto_sign_detached(sig, NULL, m, len, log_sk);
	return CV_OK;
}

/* The request that takes the witness from size N - 1 to N. */
static void
request(uint64_t n, struct cv_buf *b)
{
	uint8_t proof[CV_MERKLE_MAX_PROOF][32];
	struct cv_checkpoint c = { .size = n };
	struct cv_buf t = { 0 }, body = { 0 };
	char line[128];
	size_t np = 0;
	int k;

	snprintf(c.origin, sizeof c.origin, "bench.example/log");
	if (cv_merkle_root(node, NULL, n, c.root) != CV_OK ||
	    (n > 1 && cv_merkle_prove_consistency(node, NULL, n - 1, n,
	    proof, &np) != CV_OK))
		abort();
	k = snprintf(line, sizeof line, "old %llu\n",
	    (unsigned long long)(n - 1));
	if (cv_buf_add(&body, line, (size_t)k) != CV_OK)
		abort();
	for (size_t i = 0; i < np; i++) {
		sodium_bin2base64(line, sizeof line, proof[i], 32,
		    sodium_base64_VARIANT_ORIGINAL);
		if (cv_buf_add(&body, line, strlen(line)) != CV_OK ||
		    cv_buf_add(&body, "\n", 1) != CV_OK)
			abort();
	}
	if (cv_buf_add(&body, "\n", 1) != CV_OK ||
	    cv_checkpoint_format(&c, &t) != CV_OK ||
	    cv_note_sign((const char *)t.p, t.len, "bench.example/log",
	    log_pk, sign, NULL, &body) != CV_OK)
		abort();
	k = snprintf(line, sizeof line, "POST /add-checkpoint HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nContent-Length: %zu\r\n\r\n", body.len);
	if (cv_buf_add(b, line, (size_t)k) != CV_OK ||
	    cv_buf_add(b, body.p, body.len) != CV_OK)
		abort();
	cv_buf_free(&t);
	cv_buf_free(&body);
}

/* One reply on FD: its status, its body skipped. -1 on a broken
 * connection. */
static int
reply(int fd)
{
	static char buf[8192];
	static size_t have;
	char *end, *cl;
	size_t need;
	ssize_t r;
	int status;

	for (;;) {
		buf[have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if (have >= sizeof buf - 1 ||
		    (r = read(fd, buf + have, sizeof buf - 1 - have)) <= 0)
			return -1;
		have += (size_t)r;
	}
	status = atoi(buf + 9);
	cl = strcasestr(buf, "content-length:");
	need = (size_t)(end + 4 - buf) + (cl && cl < end ?
	    (size_t)atol(cl + 15) : 0);
	while (have < need) {
		if (need >= sizeof buf ||
		    (r = read(fd, buf + have, sizeof buf - 1 - have)) <= 0)
			return -1;
		have += (size_t)r;
	}
	memmove(buf, buf + need, have - need);
	have -= need;
	return status;
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static double
baseline(const char *dir, int n)
{
	char path[4096], msg[300];
	uint8_t sig[64], sk[64], pk[32];
	double t0;
	int fd;

	snprintf(path, sizeof path, "%s/baseline", dir);
	memset(msg, 'x', sizeof msg);
	crypto_sign_keypair(pk, sk);
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600)) < 0 ||
	    ftruncate(fd, 40960) != 0 || fsync(fd) != 0)
		abort();
	t0 = cv_now();
	for (int i = 0; i < n; i++) {
		crypto_sign_detached(sig, NULL, (uint8_t *)msg, sizeof msg, sk);
		if (crypto_sign_verify_detached(sig, (uint8_t *)msg,
		    sizeof msg, pk) != 0)
			abort();
		msg[0] = (char)i;
		if (pwrite(fd, msg, sizeof msg, (i % 2) * 20480) !=
		    (ssize_t)sizeof msg || fdatasync(fd) != 0)
			abort();
	}
	t0 = cv_now() - t0;
	close(fd);
	return t0;
}

int
main(int argc, char **argv)
{
	char wdir[4096], vk[256], key[CV_WITNESS_VKEY_MAX], line[256];
	struct cv_buf *reqs;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	unsigned port = 0;
	int n = argc > 3 ? atoi(argv[3]) : 5000, fd, one = 1, errors = 0;
	int pipefd[2];
	double base_s, t0, req_s;
	pid_t pid;
	FILE *out;

	if (argc < 3 || n < 1 || sodium_init() < 0) {
		fprintf(stderr, "usage: bench_witness CLEARVAULT WORKDIR [N]\n");
		return 2;
	}
	base_s = baseline(argv[2], n);

	/* The witness, set up through the library, served by the binary. */
	crypto_sign_keypair(log_pk, log_sk);
	snprintf(wdir, sizeof wdir, "%s/witness", argv[2]);
	if (cv_note_vkey_format("bench.example/log", log_pk, vk,
	    sizeof vk) != CV_OK ||
	    cv_witness_init(wdir, "bench.example/witness", key, sizeof key) !=
	    CV_OK || cv_witness_add_log(wdir, "bench.example/log", vk) != CV_OK) {
		fprintf(stderr, "bench_witness: %s\n", cv_err_detail());
		return 1;
	}
	/* All requests made before the clock starts. */
	if ((lv[0] = calloc((size_t)n + 1, 32)) == NULL ||
	    (reqs = calloc((size_t)n, sizeof *reqs)) == NULL)
		return 1;
	for (int i = 0; i < n; i++) {
		append((uint64_t)n);
		request(nleaves, &reqs[i]);
	}

	if (pipe(pipefd) != 0 || (pid = fork()) < 0)
		return 1;
	if (pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		execl(argv[1], argv[1], "witness", "serve", "--dir", wdir,
		    "--listen", "127.0.0.1:0", "--threads", "1", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	out = fdopen(pipefd[0], "r");
	if (out == NULL || fgets(line, sizeof line, out) == NULL ||
	    sscanf(line, "clearvault witness: listening on http://127.0.0.1:%u",
	    &port) != 1) {
		fprintf(stderr, "bench_witness: the witness did not start\n");
		kill(pid, SIGTERM);
		return 1;
	}
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		return 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

	t0 = cv_now();
	for (int i = 0; i < n; i++) {
		if (write_all(fd, reqs[i].p, reqs[i].len) != 0) {
			errors += n - i;
			break;
		}
		int st = reply(fd);
		if (st != 200) {
			if (st < 0) {
				errors += n - i;
				break;
			}
			errors++;
		}
	}
	req_s = cv_now() - t0;
	close(fd);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	printf("witness %d %.6f %.6f %d\n", n, req_s, base_s, errors);
	sodium_memzero(log_sk, sizeof log_sk);
	return errors ? 1 : 0;
}
