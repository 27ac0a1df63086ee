/*
 * The HTTP layer end to end: a byte stream, as a client sends it once its
 * TLS handshake is done, into the real server (libmicrohttpd's parser and
 * src/api's handler, keyd behind it) over a loopback TCP connection (TCP,
 * not a socketpair: the library sets TCP options on every connection and
 * logs each that fails). Made once, in LLVMFuzzerInitialize: a scratch
 * vault with a few records and a case, one enrolled user per role, keyd
 * in process (as `serve --one-process` runs it) and the server in its
 * fuzzing mode (CV_FUZZ builds only, src/api/api.h: cv_server_fuzz_connect
 * hands it the connection and names the client certificate a handshake
 * would have proved; cv_server_fuzz_run runs its event loop on this
 * thread, so that an input is over, its connection closed and cleaned up,
 * when the next begins).
 *
 * An input is one byte choosing the client certificate (i, j, s, t, u, a,
 * m: the investigator, adjudicator, two security officers, auditor,
 * administrator, metrics account; anything else: none), then the bytes
 * the client sends. Each "@T" in them becomes a live bearer token of that
 * user: a fuzzer cannot type a TOTP code, so sessions are made here, in
 * the store, as a login makes them, and again when an input ended them.
 * The client sends everything (pipelined requests are answered in order),
 * shuts its side once the server is idle, and reads until it closes.
 * What an administrator's or officer's input changed for good (accounts
 * disabled or revoked, roles, the case's members) is put back after it.
 *
 * Besides the sanitizers: the server must answer or close within
 * REPLY_TIMEOUT_S, and a stored record's SSN (one no client has sent)
 * must never reach a client without a session or of a role that may not
 * read the identity section.
 *
 * The guard is off, as with `serve --no-guard`: its locks outlive an
 * input (some twenty ids not found in a minute lock an account for good),
 * so with it every input after the first seconds would meet a locked
 * account. The vault lives in a folder made in $FUZZ_HTTP_DIR, else in
 * /dev/shm (the audit log fsyncs every entry: on a disk, an input takes
 * ten times as long), else $TMPDIR; removed at exit, not after a crash
 * (the scripts give a folder of their own). FUZZ_HTTP_SHOW=1 prints
 * every reply.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <jansson.h>
#include <nettle/sha2.h>
#include <sodium.h>

#include "api/api.h"
#include "auth/session.h"
#include "core/core.h"
#include "gen/gen.h"
#include "keyd/keyd.h"
#include "policy/policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLY_TIMEOUT_S 30
#define INPUT_MAX 65536		/* bytes of an input used */
#define SEND_MAX (1u << 20)	/* after the tokens went in */
#define NRECORDS 3
#define CASE_ID "CASE-00000000f022"
#define SESSION_RENEW_US (10LL * 60 * 1000000)	/* idle limit: 15 min */
#define RESET_ENTRIES 1000

static struct user {
	char key;
	const char *name;
	enum cv_role role;
	char fp[CV_FINGERPRINT_HEX + 1];
	char token[CV_TOKEN_CHARS + 1];
	int64_t made_us;
	unsigned made;
} users[] = {
	{ .key = 'i', .name = "inv", .role = CV_ROLE_INVESTIGATOR },
	{ .key = 'j', .name = "adj", .role = CV_ROLE_ADJUDICATOR },
	{ .key = 's', .name = "so1", .role = CV_ROLE_SECURITY_OFFICER },
	{ .key = 't', .name = "so2", .role = CV_ROLE_SECURITY_OFFICER },
	{ .key = 'u', .name = "aud", .role = CV_ROLE_AUDITOR },
	{ .key = 'a', .name = "adm", .role = CV_ROLE_ADMIN },
	{ .key = 'm', .name = "met", .role = CV_ROLE_METRICS },
};
#define NUSERS (sizeof users / sizeof users[0])

static char tmp[512];
static int lfd = -1;			/* where the connections come from */
static struct sockaddr_in laddr;
static struct cv_vault *v, *va, *hv;	/* keyd's, the server's, ours */
static struct cv_audit *a;
static struct cv_keyd *k;
static struct cv_keyd_client *kd;
/* One thread runs every server of the process, one after another. */
static pthread_t server_thread;
static int server_thread_up;
static pthread_mutex_t state_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t state_cv = PTHREAD_COND_INITIALIZER;
static enum state { IDLE, WANTED, SERVING, QUIT } state;
static char ssn[NRECORDS][16];	/* of the records stored */
static int ssn_sent[NRECORDS];	/* by a client, since they were */
static char rid[NRECORDS][CV_RECORD_ID_MAX + 1];

static void
die(const char *what, cv_err r)
{
	fprintf(stderr, "fuzz_http: %s: %s: %s\n", what, cv_strerror(r),
	    cv_err_detail());
	exit(1);
}

static void
set_state(enum state to)
{
	pthread_mutex_lock(&state_mu);
	state = to;
	pthread_cond_broadcast(&state_cv);
	pthread_mutex_unlock(&state_mu);
}

/* Waits until the state is not FROM; the new one. */
static enum state
wait_state(enum state from)
{
	enum state now;

	pthread_mutex_lock(&state_mu);
	while (state == from)
		pthread_cond_wait(&state_cv, &state_mu);
	now = state;
	pthread_mutex_unlock(&state_mu);
	return now;
}

static void
ready(void *ctx, unsigned port)
{
	(void)ctx;
	(void)port;
	set_state(SERVING);
}

static void *
serve(void *arg)
{
	const struct cv_server_opts o = { .listen = "127.0.0.1:0",
	    .threads = 1, .no_guard = 1, .ready = ready, .fuzz = 1 };
	cv_err r;

	(void)arg;
	while (wait_state(IDLE) == WANTED) {
		if ((r = cv_server_run(va, a, kd, &o)) != CV_OK)
			fprintf(stderr, "fuzz_http: server: %s: %s\n",
			    cv_strerror(r), cv_err_detail());
		set_state(IDLE);
	}
	return NULL;
}

#define WAKE_SIGNAL (SIGRTMIN + 5)

static void
woken(int sig)
{
	(void)sig;
}

/* Removes PATH and everything under it (nftw's callback). */
static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

/* The server, keyd and the vault of setup() stopped, closed, removed. */
static void
teardown(void)
{
	char dir[600];
	int serving;

	pthread_mutex_lock(&state_mu);
	serving = state == SERVING;
	pthread_mutex_unlock(&state_mu);
	if (serving) {
		cv_server_fuzz_stop();
		/* Its main loop sleeps a second at a time: woken now. */
		pthread_kill(server_thread, WAKE_SIGNAL);
		wait_state(SERVING);
	}
	cv_vault_close(hv);
	cv_vault_close(va);
	cv_keyd_client_free(kd);
	cv_keyd_free(k);
	cv_audit_close(a);
	cv_vault_close(v);
	hv = va = v = NULL;
	kd = NULL;
	k = NULL;
	a = NULL;
	snprintf(dir, sizeof dir, "%s/v", tmp);
	if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 &&
	    errno != ENOENT)
		fprintf(stderr, "fuzz_http: cannot remove %s\n", dir);
}

static void
cleanup(void)
{
	teardown();
	if (server_thread_up) {
		set_state(QUIT);
		pthread_join(server_thread, NULL);
	}
	if (lfd >= 0)
		close(lfd);
	if (tmp[0] && rmdir(tmp) != 0)
		fprintf(stderr, "fuzz_http: cannot remove %s\n", tmp);
}

/* NAME enrolled with ROLE as `clearvault enrol` would: its fingerprint. */
static void
enrol(struct user *u)
{
	struct cv_store *db = cv_vault_store(hv);
	char code[CV_ENROL_CODE_CHARS + 1];
	struct cv_client_cert cc;
	struct cv_buf issued = { 0 };
	json_t *j;
	const char *fp;
	cv_err r;

	memset(&cc, 0, sizeof cc);
	if ((r = cv_auth_user_create(db, u->name, u->role, cv_time_us(),
	    code)) != CV_OK)
		die("user", r);
	if ((r = cv_ca_csr_new(u->name, &cc)) != CV_OK ||
	    (r = cv_keyd_enrol(kd, u->name, code, (const char *)cc.csr_pem.p,
	    cc.csr_pem.len, &issued)) != CV_OK)
		die("enrol", r);
	j = json_loadb((const char *)issued.p, issued.len, 0, NULL);
	if (j == NULL || (fp = json_string_value(json_object_get(j,
	    "fingerprint"))) == NULL || strlen(fp) != CV_FINGERPRINT_HEX)
		die("enrol: no fingerprint", CV_ERR_FORMAT);
	memcpy(u->fp, fp, sizeof u->fp);
	json_decref(j);
	sodium_memzero(issued.p, issued.len);
	cv_buf_free(&issued);
	cv_client_cert_clear(&cc);
}

/* NRECORDS generated records, stored through keyd, in case CASE_ID with
 * the investigator and the adjudicator. */
static void
records(void)
{
	struct cv_store *db = cv_vault_store(hv);
	char id[CV_RECORD_ID_MAX + 1], line[1024];
	struct cv_buf b = { 0 };
	static int said;
	const char *s;
	uint32_t ver;
	int changed;
	json_t *j;
	cv_err r;
	size_t at;

	if ((r = cv_store_case_add(db, CASE_ID, "fuzzing", "so1",
	    cv_time_us())) != CV_OK)
		die("case", r);
	at = (size_t)snprintf(line, sizeof line, "fuzz_http: vault %s; %s:",
	    tmp, CASE_ID);
	for (uint64_t i = 0; i < NRECORDS; i++) {
		b.len = 0;
		if ((r = cv_gen_record(16, i, &b)) != CV_OK ||
		    (r = cv_keyd_put(kd, NULL, 0, (const char *)b.p, b.len - 1,
		    id, &ver)) != CV_OK ||
		    (r = cv_store_case_member(db, CASE_ID, 1, id, 1,
		    &changed)) != CV_OK)
			die("record", r);
		memcpy(rid[i], id, sizeof rid[i]);
		j = json_loadb((const char *)b.p, b.len, 0, NULL);
		s = json_string_value(json_object_get(json_object_get(j,
		    "identity"), "ssn"));
		if (s == NULL || strlen(s) != 11)
			die("record: no SSN", CV_ERR_FORMAT);
		memcpy(ssn[i], s, 12);
		json_decref(j);
		if (at < sizeof line)
			at += (size_t)snprintf(line + at, sizeof line - at,
			    " %s", id);
	}
	cv_buf_free(&b);
	if ((r = cv_store_case_member(db, CASE_ID, 0, "inv", 1,
	    &changed)) != CV_OK ||
	    (r = cv_store_case_member(db, CASE_ID, 0, "adj", 1,
	    &changed)) != CV_OK)
		die("case members", r);
	if (!said++)	/* the same every time */
		fprintf(stderr, "%s\n", line);
}

/*
 * A vault in TMP/v with the users, records and case, keyd and the server
 * on it, serving. Again from scratch every RESET_ENTRIES audit entries:
 * an input's work must not grow with the inputs before it (a breach
 * scope verifies the whole log), and a finding is to replay on a young
 * vault.
 */
static void
setup(void)
{
	struct cv_vault_init_opts io = { .canaries = 0 };
	char dir[600];
	cv_err r;

	snprintf(dir, sizeof dir, "%s/v", tmp);
	if ((r = cv_vault_init(dir, &io)) != CV_OK ||
	    (r = cv_audit_create(dir, NULL)) != CV_OK ||
	    (r = cv_vault_open(dir, &v)) != CV_OK ||
	    (r = cv_core_audit_open(v, 0, &a)) != CV_OK ||
	    (r = cv_keyd_new(v, a, &k)) != CV_OK ||
	    (r = cv_keyd_ca_ensure(k)) != CV_OK ||
	    (r = cv_keyd_client_local(k, &kd)) != CV_OK ||
	    (r = cv_vault_dup(v, &va)) != CV_OK ||
	    (r = cv_vault_dup(v, &hv)) != CV_OK)
		die("vault", r);
	for (size_t i = 0; i < NUSERS; i++) {
		users[i].token[0] = '\0';
		enrol(&users[i]);
	}
	records();
	memset(ssn_sent, 0, sizeof ssn_sent);
	if (!server_thread_up) {
		if (pthread_create(&server_thread, NULL, serve, NULL) != 0)
			die("thread", CV_ERR_INTERNAL);
		server_thread_up = 1;
	}
	set_state(WANTED);
	if (wait_state(WANTED) != SERVING)
		die("server", CV_ERR_INTERNAL);
}

/*
 * libFuzzer's check for a leak after an input that allocated more than
 * it freed, off unless -detect_leaks is given: it reported, twice in 20
 * minutes, memory that only a thread a reset had just started held (the
 * server's whole state; the audit committer's queue) as leaked, its stack
 * unscanned. LeakSanitizer's check at exit stays: by then every server
 * and vault is torn down and freed, so whatever any input leaked is
 * reported. libFuzzer reads its flags after LLVMFuzzerInitialize.
 */
static void
no_leak_check_per_input(int *argc, char ***argv)
{
	static char flag[] = "-detect_leaks=0";
	static char **args;

	for (int i = 1; i < *argc; i++)
		if (strncmp((*argv)[i], "-detect_leaks=", 14) == 0)
			return;
	if ((args = calloc((size_t)*argc + 2, sizeof *args)) == NULL)
		return;
	memcpy(args, *argv, (size_t)*argc * sizeof *args);
	args[(*argc)++] = flag;
	*argv = args;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *t = getenv("FUZZ_HTTP_DIR");
	struct sigaction wake = { .sa_handler = woken };
	socklen_t al = sizeof laddr;

	no_leak_check_per_input(argc, argv);
	if ((t == NULL || *t == '\0') && access("/dev/shm", W_OK) == 0)
		t = "/dev/shm";
	if (t == NULL || *t == '\0')
		t = getenv("TMPDIR");
	if (t == NULL || *t == '\0')
		t = "/tmp";
	snprintf(tmp, sizeof tmp, "%s/cvfuzzh.XXXXXX", t);
	if (mkdtemp(tmp) == NULL) {
		tmp[0] = '\0';
		die("mkdtemp", CV_ERR_IO);
	}
	atexit(cleanup);
	signal(SIGPIPE, SIG_IGN);
	/* Interrupts a sleep, and nothing else (libFuzzer's own handlers
	 * are SIGINT's, SIGTERM's, SIGUSR1's and SIGUSR2's). */
	sigaction(WAKE_SIGNAL, &wake, NULL);
	/* Waits of 50 us (cv_server_fuzz_run) are not to take 100. */
	prctl(PR_SET_TIMERSLACK, 1000UL);
	laddr.sin_family = AF_INET;
	laddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&laddr, sizeof laddr) != 0 ||
	    listen(lfd, 16) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&laddr, &al) != 0)
		die("listen", CV_ERR_IO);
	setup();
	return 0;
}

/*
 * U's session, made in the store as cv_sessions_login makes one, with a
 * token that depends only on U and how many U had before (inputs replay
 * alike), unless the one it has still lives.
 */
static void
session(struct user *u)
{
	struct cv_store *db = cv_vault_store(hv);
	struct cv_store_session row;
	struct sha256_ctx c;
	uint8_t h[32];
	char seed[64];
	int64_t now = cv_time_us();
	cv_err r;

	if (u->token[0]) {
		sha256_init(&c);
		sha256_update(&c, strlen(u->token), (const uint8_t *)u->token);
		sha256_digest(&c, sizeof h, h);
		if (now - u->made_us < SESSION_RENEW_US &&
		    cv_store_session_get(db, h, &row) == CV_OK)
			return;
	}
	snprintf(seed, sizeof seed, "fuzz_http %s %u", u->name, u->made++);
	sha256_init(&c);
	sha256_update(&c, strlen(seed), (const uint8_t *)seed);
	sha256_digest(&c, sizeof h, h);
	sodium_bin2base64(u->token, sizeof u->token, h, sizeof h,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	memset(&row, 0, sizeof row);
	sha256_init(&c);
	sha256_update(&c, strlen(u->token), (const uint8_t *)u->token);
	sha256_digest(&c, sizeof row.hash, row.hash);
	snprintf(row.id, sizeof row.id, "%02x%014x", (unsigned)u->key,
	    u->made);
	snprintf(row.user, sizeof row.user, "%s", u->name);
	snprintf(row.role, sizeof row.role, "%s", cv_role_names[u->role]);
	snprintf(row.cert, sizeof row.cert, "%s", u->fp);
	row.created_us = row.used_us = now;
	row.expires_us = now + (int64_t)CV_SESSION_MAX_S * 1000000;
	if ((r = cv_store_session_put(db, &row, now)) != CV_OK)
		die("session", r);
	u->made_us = now;
}

/*
 * What an administrator's or officer's input may have changed for good
 * (an account disabled, its role changed, its certificate revoked, the
 * case emptied), put back, so that later inputs meet the same vault.
 */
static void
repair(void)
{
	struct cv_store *db = cv_vault_store(hv);
	struct cv_store_user su;
	struct cv_store_cert c;
	int changed;
	cv_err r = CV_OK;

	for (size_t i = 0; i < NUSERS && r == CV_OK; i++) {
		struct user *u = &users[i];

		if ((r = cv_store_user_get(db, u->name, &su)) != CV_OK)
			break;
		if (su.disabled)
			r = cv_store_user_disable(db, u->name, 0);
		if (r == CV_OK && strcmp(su.role, cv_role_names[u->role]))
			r = cv_store_user_set_role(db, u->name,
			    cv_role_names[u->role]);
		if (r == CV_OK && (cv_store_cert_get(db, u->fp, &c) != CV_OK ||
		    c.revoked)) {
			enrol(u);	/* a new certificate, a new session */
			u->token[0] = '\0';
		}
		sodium_memzero(&su, sizeof su);
	}
	for (size_t i = 0; i < NRECORDS && r == CV_OK; i++)
		r = cv_store_case_member(db, CASE_ID, 1, rid[i], 1, &changed);
	if (r == CV_OK)
		r = cv_store_case_member(db, CASE_ID, 0, "inv", 1, &changed);
	if (r == CV_OK)
		r = cv_store_case_member(db, CASE_ID, 0, "adj", 1, &changed);
	if (r != CV_OK)
		die("repair", r);
}

/* DATA with each "@T" replaced by TOKEN ("" if none), at most SEND_MAX. */
static void
expand(const uint8_t *data, size_t size, const char *token,
    struct cv_buf *out)
{
	size_t tl = strlen(token);

	for (size_t i = 0; i < size && out->len < SEND_MAX; i++) {
		if (data[i] == '@' && i + 1 < size && data[i + 1] == 'T') {
			if (cv_buf_add(out, token, tl) != CV_OK)
				abort();
			i++;
		} else if (cv_buf_add(out, &data[i], 1) != CV_OK)
			abort();
	}
}

/*
 * Whether the reply REP holds a stored record's SSN that the client may
 * not see. One that a client sent since the vault was made is not the
 * record's to give away any more: the server may log what it was sent (a
 * path), and its log is for auditors to read.
 */
static int
leaked(const struct cv_buf *rep, const struct cv_buf *sent,
    const struct user *u)
{
	const unsigned identity = 1u << 0;	/* cv_record_sections[0] */
	int may;

	if (sent->len == 0)
		return 0;
	for (size_t i = 0; i < NRECORDS; i++)
		if (memmem(sent->p, sent->len, ssn[i], 11))
			ssn_sent[i] = 1;
	may = u && (cv_policy_sections(u->role) & identity) &&
	    memmem(sent->p, sent->len, u->token, strlen(u->token));
	for (size_t i = 0; i < NRECORDS && !may && rep->len; i++)
		if (!ssn_sent[i] && memmem(rep->p, rep->len, ssn[i], 11))
			return 1;
	return 0;
}

/*
 * The rest of IN (SENT bytes of it are in the socket already) from the
 * client end FD, the replies into REP, until the server closes:
 * the daemon's event loop runs here (cv_server_fuzz_run), and the client
 * ends its side only once the server is idle (everything read, nothing
 * parked, nothing written for a few rounds), as libmicrohttpd drops a
 * request whose client has shut down its side before the reply.
 */
static void
exchange(int fd, int server_fd, const struct cv_buf *in, size_t sent,
    struct cv_buf *rep)
{
	uint8_t chunk[16384];
	int64_t start = cv_time_us();
	int closed_w = 0, quiet = 0, parked, unread, queued, progress;
	ssize_t n;

	for (;;) {
		if ((parked = cv_server_fuzz_run(100)) < 0)
			die("event loop", CV_ERR_INTERNAL);
		progress = 0;
		while ((n = recv(fd, chunk, sizeof chunk, MSG_DONTWAIT)) > 0) {
			progress = 1;
			if (rep->len < SEND_MAX &&
			    cv_buf_add(rep, chunk, (size_t)n) != CV_OK)
				abort();
		}
		/* Closed (a reset too: the server closed with input left). */
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return;
		if (!closed_w && sent < in->len) {
			n = send(fd, in->p + sent, in->len - sent,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				sent += (size_t)n;
				progress = 1;
			} else if (n < 0 && errno != EAGAIN)
				closed_w = 1;	/* it reads no more */
		}
		/* What the server has not read yet, or not been given (its
		 * end is open: it closes it only in cv_server_fuzz_run, and
		 * we would have read the end of the stream above). */
		if (ioctl(server_fd, SIOCINQ, &unread) != 0 ||
		    ioctl(fd, SIOCOUTQ, &queued) != 0)
			unread = queued = 0;
		if (progress || parked || unread || queued || (!closed_w &&
		    sent < in->len))
			quiet = 0;
		else if (++quiet == 3 && !closed_w) {
			shutdown(fd, SHUT_WR);
			closed_w = 1;
		}
		if (cv_time_us() - start > REPLY_TIMEOUT_S * 1000000LL) {
			fprintf(stderr, "fuzz_http: the server neither "
			    "answered nor closed within %d s\n",
			    REPLY_TIMEOUT_S);
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct user *u = NULL;
	struct cv_buf in = { 0 }, rep = { 0 };
	size_t sent = 0;
	int sv[2], one = 1;
	uint64_t entries;
	ssize_t n;
	cv_err r;

	if (size == 0)
		return 0;
	if (size > INPUT_MAX)
		size = INPUT_MAX;
	for (size_t i = 0; i < NUSERS; i++)
		if (users[i].key == (char)data[0])
			u = &users[i];
	if (u)
		session(u);
	expand(data + 1, size - 1, u ? u->token : "", &in);
	if ((sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(sv[1], IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof one) != 0 ||
	    connect(sv[1], (struct sockaddr *)&laddr, sizeof laddr) != 0 ||
	    (sv[0] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		die("loopback connection", CV_ERR_IO);
	/* As much as the socket takes before the server sees any of it:
	 * what it reads then does not depend on timing. */
	while (sent < in.len && (n = send(sv[1], in.p + sent, in.len - sent,
	    MSG_NOSIGNAL | MSG_DONTWAIT)) > 0)
		sent += (size_t)n;
	if ((r = cv_server_fuzz_connect(sv[0], u ? u->fp : NULL)) != CV_OK)
		die("connect", r);
	exchange(sv[1], sv[0], &in, sent, &rep);
	close(sv[1]);
	if (u && (u->role == CV_ROLE_ADMIN ||
	    u->role == CV_ROLE_SECURITY_OFFICER))
		repair();
	/* For writing seeds and reading a reproducer's run. */
	if (getenv("FUZZ_HTTP_SHOW"))
		fprintf(stderr, "--- %s sent %zu bytes, got %zu:\n%.*s\n",
		    u ? u->name : "no certificate", in.len, rep.len,
		    (int)rep.len, (const char *)rep.p);
	if (rep.len && (rep.len < 7 || memcmp(rep.p, "HTTP/1.", 7) != 0)) {
		fprintf(stderr, "fuzz_http: a reply that is not HTTP\n");
		abort();
	}
	if (leaked(&rep, &in, u)) {
		fprintf(stderr, "fuzz_http: a record's SSN sent to %s\n",
		    u ? u->name : "a client without a certificate");
		abort();
	}
	cv_buf_free(&in);
	cv_buf_free(&rep);
	if (cv_audit_size(a, &entries) != CV_OK || entries > RESET_ENTRIES) {
		teardown();
		setup();
	}
	return 0;
}
