/*
 * The drill's stage: a vault in a temp folder with generated records, the
 * real binary run as a child for every command, the server on a free
 * loopback port, users' TOTP codes, cases, scope and the alerts file.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <liboath/oath.h>

#include "../auth/users.h"
#include "drill_internal.h"

extern char **environ;

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p) == 0 ? 0 : 0;
}

void
drill_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static cv_err
strv_add(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof **v);

	if (nv == NULL)
		return CV_ERR_NOMEM;
	*v = nv;
	if ((nv[*n] = strdup(s)) == NULL)
		return CV_ERR_NOMEM;
	(*n)++;
	return CV_OK;
}

/* posix_spawn of the binary; ENVP NULL: ours. */
static cv_err
spawn(struct drill_env *e, const char *const *argv, const char *in,
    const char *out, const char *err, char **envp, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	const char *av[40];
	size_t n = 0;
	cv_err r = CV_OK;
	int rc;

	av[n++] = e->exe;
	while (argv[n - 1] && n < 39) {
		av[n] = argv[n - 1];
		n++;
	}
	av[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, in ? in : "/dev/null",
	    O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out ? out : "/dev/null",
	    O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err ? err : "/dev/null",
	    O_WRONLY | O_CREAT | O_TRUNC, 0600);
	rc = posix_spawn(pid, e->exe, &fa, NULL, (char *const *)av,
	    envp ? envp : environ);
	if (rc != 0)
		r = cv_fail(CV_ERR_IO, "%s: %s", e->exe, strerror(rc));
	posix_spawn_file_actions_destroy(&fa);
	return r;
}

cv_err
drill_exec(struct drill_env *e, const char *const *argv, const char *in,
    const char *out_file, char **out, int *rc)
{
	char of[700], ef[700];
	size_t len;
	pid_t pid;
	int st;
	cv_err r;

	if (out)
		*out = NULL;
	*rc = -1;
	snprintf(of, sizeof of, "%s/exec.out", e->tmp);
	snprintf(ef, sizeof ef, "%s/exec.err", e->tmp);
	if ((r = spawn(e, argv, in, out_file ? out_file : of, ef, NULL,
	    &pid)) != CV_OK)
		return r;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return cv_fail(CV_ERR_IO, "waitpid: %s", strerror(errno));
	*rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (out && !out_file) {
		r = cv_file_read(of, 256u << 20, out, &len);
		if (r == CV_ERR_NOT_FOUND) {
			r = CV_OK;
			*out = strdup("");
		}
	}
	return r;
}

cv_err
drill_prog(const char *const *argv, int *rc)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, e;

	*rc = -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	e = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
	    environ);
	posix_spawn_file_actions_destroy(&fa);
	if (e != 0)
		return cv_fail(CV_ERR_IO, "%s: %s", argv[0], strerror(e));
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return cv_fail(CV_ERR_IO, "waitpid: %s", strerror(errno));
	*rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return CV_OK;
}

static cv_err
read_gen(struct drill_env *e)
{
	FILE *f = fopen(e->gen, "r");
	char *line = NULL;
	size_t cap = 0;
	cv_err r = CV_OK;
	size_t n2 = 0, n3 = 0;

	if (f == NULL)
		return cv_fail(CV_ERR_IO, "%s: cannot open", e->gen);
	while (r == CV_OK && getline(&line, &cap, f) > 0) {
		json_t *j = json_loads(line, 0, NULL);
		json_t *id = json_object_get(j, "identity");
		const char *s = json_string_value(json_object_get(j, "id"));
		const char *ssn = json_string_value(json_object_get(id, "ssn"));
		const char *last = json_string_value(json_object_get(
		    json_object_get(id, "name"), "last"));

		if (s == NULL || ssn == NULL || last == NULL)
			r = cv_fail(CV_ERR_FORMAT, "gen: unexpected record");
		else if ((r = strv_add(&e->ids, &e->nids, s)) == CV_OK &&
		    (r = strv_add(&e->ssns, &n2, ssn)) == CV_OK)
			r = strv_add(&e->lasts, &n3, last);
		json_decref(j);
	}
	free(line);
	fclose(f);
	return r;
}

/*
 * The drill's users are made a moment before the attack, but stand for
 * established accounts (a contractor's, a victim with weeks of history):
 * probation, which would give them a quarter of their budgets, is off,
 * so that the scores are those of the defences an established account
 * meets. The vault-wide ceiling keeps its defaults: no scenario reads
 * near 1,000 distinct records an hour.
 */
/* The scratch vault says what it is: its server may run on the drill's
 * simulated guard clock (a release build refuses that anywhere else). */
static cv_err
drill_marker(struct drill_env *e)
{
	static const char text[] = "made by clearvault drill: a scratch vault "
	    "whose server may take a simulated guard clock\n";
	char path[700];
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/drill-vault", e->dir)) !=
	    CV_OK)
		return r;
	return cv_file_create(path, text, sizeof text - 1, 0600);
}

cv_err
drill_conf_add(struct drill_env *e, const char *line)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof path, "%s/clearvault.conf", e->dir);
	if ((f = fopen(path, "a")) == NULL)
		return cv_fail(CV_ERR_IO, "%s: %s", path, strerror(errno));
	fprintf(f, "%s\n", line);
	return fclose(f) == 0 ? CV_OK : cv_fail(CV_ERR_IO, "%s: cannot write",
	    path);
}

static cv_err
established(struct drill_env *e)
{
	return drill_conf_add(e, "probation_days = 0");
}

cv_err
drill_env_new(const char *exe, size_t n, struct drill_env **out)
{
	struct drill_env *e;
	const char *td = getenv("TMPDIR");
	char count[32];
	cv_err r = CV_ERR_IO;
	int rc;

	*out = NULL;
	if ((e = calloc(1, sizeof *e)) == NULL)
		return CV_ERR_NOMEM;
	e->exe = exe;
	snprintf(e->tmp, sizeof e->tmp, "%s/cvdrill.XXXXXX",
	    td && *td ? td : "/tmp");
	if (mkdtemp(e->tmp) == NULL) {
		e->tmp[0] = '\0';
		r = cv_fail(CV_ERR_IO, "mkdtemp: %s", strerror(errno));
		goto out;
	}
	snprintf(e->dir, sizeof e->dir, "%s/vault", e->tmp);
	snprintf(e->keys, sizeof e->keys, "%s/keys", e->tmp);
	snprintf(e->ca, sizeof e->ca, "%s/ca.pem", e->tmp);
	snprintf(e->gen, sizeof e->gen, "%s/records.jsonl", e->tmp);
	snprintf(e->clock, sizeof e->clock, "%s/clock", e->tmp);
	snprintf(count, sizeof count, "%zu", n);
	if (mkdir(e->keys, 0700) != 0)
		goto out;
	{
		const char *a1[] = { "init", "--dir", e->dir, NULL };
		const char *a2[] = { "gen", "--count", count, "--seed", "7",
		    NULL };
		const char *a3[] = { "load", "--dir", e->dir, "--quiet",
		    e->gen, NULL };
		const char *a4[] = { "ca-cert", "--dir", e->dir, NULL };

		if ((r = drill_exec(e, a1, NULL, NULL, NULL, &rc)) ||
		    (rc && (r = cv_fail(CV_ERR_IO, "init failed"))) ||
		    (r = drill_exec(e, a2, NULL, e->gen, NULL, &rc)) ||
		    (rc && (r = cv_fail(CV_ERR_IO, "gen failed"))) ||
		    (r = drill_exec(e, a3, NULL, NULL, NULL, &rc)) ||
		    (rc && (r = cv_fail(CV_ERR_IO, "load failed"))) ||
		    (r = drill_exec(e, a4, NULL, e->ca, NULL, &rc)) ||
		    (rc && (r = cv_fail(CV_ERR_IO, "ca-cert failed"))) ||
		    (r = drill_marker(e)) ||
		    (r = established(e)))
			goto out;
	}
	if ((r = read_gen(e)) != CV_OK)
		goto out;
	*out = e;
	e = NULL;
out:
	drill_env_free(e);
	return r;
}

void
drill_env_free(struct drill_env *e)
{
	if (e == NULL)
		return;
	drill_stop(e, NULL);
	cv_http_free(e->adm);
	cv_http_free(e->so2);
	if (e->tmp[0])
		(void)nftw(e->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	drill_strv_free(e->ids, e->nids);
	drill_strv_free(e->ssns, e->nids);
	drill_strv_free(e->lasts, e->nids);
	free(e);
}

/* The operator's bootstrap: `user add` prints a code, `enrol --dir`. */
static cv_err
user_bootstrap(struct drill_env *e, const char *name, const char *role)
{
	const char *a[] = { "user", "add", "--dir", e->dir, name, "--role",
	    role, NULL };
	const char *b[] = { "enrol", "--dir", e->dir, "--name", name, "--code",
	    NULL, "--out", e->keys, NULL };
	char *out = NULL, *p, code[32];
	cv_err r;
	int rc;

	if ((r = drill_exec(e, a, NULL, NULL, &out, &rc)) != CV_OK)
		return r;
	p = out && rc == 0 ? strstr(out, "enrolment code ") : NULL;
	if (p == NULL || sscanf(p + 15, "%31[A-Z0-9-]", code) != 1) {
		free(out);
		return cv_fail(CV_ERR_IO, "user add %s failed", name);
	}
	free(out);
	b[6] = code;
	if ((r = drill_exec(e, b, NULL, NULL, NULL, &rc)) != CV_OK)
		return r;
	return rc ? cv_fail(CV_ERR_IO, "enrol %s failed", name) : CV_OK;
}

/* A string member of a JSON text, copied into OUT. */
static int
json_str(const char *text, const char *name, char *out, size_t size)
{
	json_t *j = json_loads(text ? text : "", 0, NULL);
	const char *s = json_string_value(json_object_get(j, name));
	int ok = s != NULL && strlen(s) < size;

	if (ok)
		memcpy(out, s, strlen(s) + 1);
	json_decref(j);
	return ok;
}

/* The sessions of drill-adm and so2 on the running server. */
static cv_err
boot_sessions(struct drill_env *e)
{
	cv_err r;

	if (e->boot_srv == e->srv && e->adm && e->so2)
		return CV_OK;
	cv_http_free(e->adm);
	cv_http_free(e->so2);
	e->adm = e->so2 = NULL;
	if ((r = drill_client(e, "drill-adm", &e->adm)) != CV_OK ||
	    (r = drill_client(e, "so2", &e->so2)) != CV_OK ||
	    (r = drill_login(e, e->adm, "drill-adm", e->adm_tok)) != CV_OK ||
	    (r = drill_login(e, e->so2, "so2", e->so2_tok)) != CV_OK)
		return r;
	e->boot_srv = e->srv;
	return CV_OK;
}

cv_err
drill_approve(struct drill_env *e, long long id, char **reply)
{
	char path[64];
	int status;
	cv_err r;

	*reply = NULL;
	if ((r = boot_sessions(e)) != CV_OK)
		return r;
	snprintf(path, sizeof path, "/v1/approvals/%lld/approve", id);
	if ((r = cv_http_req(e->so2, "POST", path, e->so2_tok, NULL, NULL,
	    &status, reply)) != CV_OK)
		return r;
	return status == 200 ? CV_OK : cv_fail(CV_ERR_IO, "approval %lld: "
	    "HTTP %d", id, status);
}

/* A proposal's id from its 202 reply. */
static long long
proposal_id(const char *reply)
{
	json_t *j = json_loads(reply ? reply : "", 0, NULL);
	long long id = (long long)json_integer_value(json_object_get(j,
	    "proposal"));

	json_decref(j);
	return id;
}

static cv_err
write_key(struct drill_env *e, const char *name, const char *ext,
    const void *p, size_t len)
{
	char path[700];
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/%s.%s", e->keys, name, ext)))
		return r;
	return cv_file_create(path, p, len, 0600);
}

/* Proposed, approved, enrolled: the way every reader is made. */
static cv_err
user_granted(struct drill_env *e, const char *name, const char *role)
{
	struct cv_client_cert cc;
	char body[160], code[64], otp[CV_OTPAUTH_MAX], *reply = NULL;
	char *req = NULL;
	json_t *j = NULL;
	int status;
	cv_err r;

	memset(&cc, 0, sizeof cc);
	if ((r = boot_sessions(e)) != CV_OK)
		return r;
	snprintf(body, sizeof body, "{\"name\":\"%s\",\"role\":\"%s\"}",
	    name, role);
	if ((r = cv_http_req(e->adm, "POST", "/v1/users", e->adm_tok, body,
	    NULL, &status, &reply)) != CV_OK)
		goto out;
	if (status != 202) {
		r = cv_fail(CV_ERR_IO, "proposing %s: HTTP %d", name, status);
		goto out;
	}
	if ((r = drill_approve(e, proposal_id(reply), &req)) != CV_OK)
		goto out;
	if (!json_str(req, "enrolment_code", code, sizeof code)) {
		r = cv_fail(CV_ERR_FORMAT, "approval of %s: no code", name);
		goto out;
	}
	free(req);
	req = NULL;
	if ((r = cv_ca_csr_new(name, &cc)) != CV_OK)
		goto out;
	j = json_pack("{s:s, s:s, s:s%}", "name", name, "code", code, "csr",
	    (const char *)cc.csr_pem.p, cc.csr_pem.len);
	if (j == NULL || (req = json_dumps(j, JSON_COMPACT)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	free(reply);
	reply = NULL;
	if ((r = cv_http_req(e->adm, "POST", "/v1/enrol", NULL, req, NULL,
	    &status, &reply)) != CV_OK)
		goto out;
	json_decref(j);
	j = json_loads(reply ? reply : "", 0, NULL);
	if (status != 201 || !json_str(reply, "otpauth", otp, sizeof otp) ||
	    !json_is_string(json_object_get(j, "certificate"))) {
		r = cv_fail(CV_ERR_IO, "enrolling %s: HTTP %d", name, status);
		goto out;
	}
	if ((r = write_key(e, name, "key", cc.key_pem.p, cc.key_pem.len)) ||
	    (r = write_key(e, name, "crt", json_string_value(json_object_get(j,
	    "certificate")), strlen(json_string_value(json_object_get(j,
	    "certificate"))))) ||
	    (r = write_key(e, name, "otpauth", otp, strlen(otp))))
		goto out;
 out:
	json_decref(j);
	free(req);
	free(reply);
	cv_client_cert_clear(&cc);
	return r;
}

cv_err
drill_user(struct drill_env *e, const char *name, const char *role)
{
	return e->srv ? user_granted(e, name, role) :
	    user_bootstrap(e, name, role);
}

cv_err
drill_serve(struct drill_env *e, int with_clock)
{
	const char *a[] = { "serve", "--dir", e->dir, "--listen",
	    "127.0.0.1:0", NULL };
	char of[700], ef[700], cl[700], **envp = NULL;
	size_t n = 0;
	cv_err r = CV_ERR_NOMEM;

	snprintf(of, sizeof of, "%s/serve.out", e->tmp);
	snprintf(ef, sizeof ef, "%s/serve.err", e->tmp);
	snprintf(cl, sizeof cl, "CLEARVAULT_GUARD_CLOCK=%s", e->clock);
	while (environ[n])
		n++;
	if ((envp = calloc(n + 2, sizeof *envp)) == NULL)
		goto out;
	n = 0;
	for (size_t i = 0; environ[i]; i++)
		if (strncmp(environ[i], "CLEARVAULT_GUARD_CLOCK=", 23))
			envp[n++] = environ[i];
	if (with_clock)
		envp[n++] = cl;
	if ((r = spawn(e, a, NULL, of, ef, envp, &e->srv)) != CV_OK) {
		e->srv = 0;
		goto out;
	}
	for (int i = 0; i < 600; i++) {
		char *text = NULL, *p;
		size_t len;

		if (cv_file_read(of, 1 << 20, &text, &len) == CV_OK &&
		    (p = strstr(text, "listening on https://127.0.0.1:"))) {
			e->port = (unsigned)atoi(p + 31);
			free(text);
			r = CV_OK;
			goto out;
		}
		free(text);
		if (waitpid(e->srv, NULL, WNOHANG) == e->srv) {
			e->srv = 0;
			break;
		}
		usleep(50000);
	}
	r = cv_fail(CV_ERR_IO, "the server did not start (see %s)", ef);
out:
	free(envp);
	return r;
}

void
drill_stop(struct drill_env *e, int *rc)
{
	int st = 0;

	if (rc)
		*rc = -1;
	if (e->srv <= 0)
		return;
	kill(e->srv, SIGTERM);
	while (waitpid(e->srv, &st, 0) < 0 && errno == EINTR)
		;
	if (rc)
		*rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	e->srv = 0;
}

cv_err
drill_totp(struct drill_env *e, const char *user, char code[8])
{
	char path[700], *text = NULL, *s, *secret = NULL;
	size_t len, slen, slot;
	int64_t now, step;
	struct timespec ts;
	cv_err r;

	for (slot = 0; slot < 16 && e->users[slot][0] &&
	    strcmp(e->users[slot], user); slot++)
		;
	if (slot == 16)
		return cv_fail(CV_ERR_LIMIT, "too many drill users");
	if (!e->users[slot][0]) {
		snprintf(e->users[slot], sizeof e->users[slot], "%s", user);
		e->step_used[slot] = -1;
	}
	if ((r = cv_path(path, sizeof path, "%s/%s.otpauth", e->keys, user)) ||
	    (r = cv_file_read(path, 4096, &text, &len)))
		return r;
	r = CV_ERR_FORMAT;
	if ((s = strstr(text, "secret=")) == NULL)
		goto out;
	s += 7;
	s[strcspn(s, "&\n")] = '\0';
	if (oath_init() != OATH_OK ||
	    oath_base32_decode(s, strlen(s), &secret, &slen) != OATH_OK)
		goto out;
	for (;;) {
		clock_gettime(CLOCK_REALTIME, &ts);
		now = ts.tv_sec / 30;
		step = ts.tv_sec % 30 < 20 ? now - 1 : now;
		if (step <= e->step_used[slot])
			step = e->step_used[slot] + 1;
		if (step <= now + 1)
			break;
		sleep((unsigned)(30 - ts.tv_sec % 30));
	}
	e->step_used[slot] = step;
	if (oath_totp_generate(secret, slen, (time_t)(step * 30), 30, 0, 6,
	    code) != OATH_OK)
		goto out;
	r = CV_OK;
out:
	free(secret);
	free(text);
	return r;
}

cv_err
drill_client(struct drill_env *e, const char *user, struct cv_http **out)
{
	char crt[700], key[700];

	snprintf(crt, sizeof crt, "%s/%s.crt", e->keys, user ? user : "");
	snprintf(key, sizeof key, "%s/%s.key", e->keys, user ? user : "");
	return cv_http_new(e->ca, user ? crt : NULL, user ? key : NULL,
	    "127.0.0.1", e->port, out);
}

cv_err
drill_login(struct drill_env *e, struct cv_http *h, const char *user,
    char tok[256])
{
	char code[8], body[64], *reply = NULL;
	int status;
	cv_err r;

	if ((r = drill_totp(e, user, code)) != CV_OK)
		return r;
	snprintf(body, sizeof body, "{\"totp\":\"%s\"}", code);
	if ((r = cv_http_req(h, "POST", "/v1/session", NULL, body, NULL,
	    &status, &reply)) != CV_OK)
		return r;
	if (status != 201 || !json_str(reply, "token", tok, 256))
		r = cv_fail(CV_ERR_IO, "login %s: HTTP %d", user, status);
	free(reply);
	return r;
}

cv_err
drill_case(struct drill_env *e, struct cv_http *h, const char *tok,
    const char *users, char *const *ids, size_t n, char case_id[128])
{
	struct cv_buf b = { 0 };
	long long id;
	char *reply = NULL, path[300];
	int status;
	cv_err r;

	if ((r = cv_http_req(h, "POST", "/v1/cases", tok,
	    "{\"title\":\"drill\"}", NULL, &status, &reply)) != CV_OK)
		goto out;
	if (status != 201 && status != 200) {
		r = cv_fail(CV_ERR_IO, "POST /v1/cases: HTTP %d", status);
		goto out;
	}
	if (!json_str(reply, "id", case_id, 128)) {
		r = cv_fail(CV_ERR_FORMAT, "POST /v1/cases: no id");
		goto out;
	}
	r = CV_ERR_NOMEM;
	if (cv_buf_add(&b, "{\"users\":", 9) || cv_buf_add(&b, users,
	    strlen(users)) || cv_buf_add(&b, ",\"records\":[", 12))
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((i && cv_buf_add(&b, ",", 1)) || cv_buf_add(&b, "\"", 1) ||
		    cv_buf_add(&b, ids[i], strlen(ids[i])) ||
		    cv_buf_add(&b, "\"", 1))
			goto out;
	if (cv_buf_add(&b, "]}", 3))
		goto out;
	snprintf(path, sizeof path, "/v1/cases/%s/members", case_id);
	free(reply);
	reply = NULL;
	if ((r = cv_http_req(h, "POST", path, tok, (const char *)b.p, NULL,
	    &status, &reply)) != CV_OK)
		goto out;
	if (status != 202) {
		r = cv_fail(CV_ERR_IO, "case members: HTTP %d", status);
		goto out;
	}
	/* A second officer approves: every grant takes two people. */
	id = proposal_id(reply);
	free(reply);
	reply = NULL;
	r = drill_approve(e, id, &reply);
out:
	free(reply);
	cv_buf_free(&b);
	return r;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

cv_err
drill_scope(struct drill_env *e, const char *opt, const char *subject,
    int64_t from_s, char ***ids, size_t *n, int *refused)
{
	char from[40], *out = NULL;
	const char *a[] = { "scope", "--dir", e->dir, opt, subject, "--format",
	    "json", "--no-notify", from_s ? "--from" : NULL, from, NULL };
	time_t t = (time_t)from_s;
	struct tm tm;
	json_t *j = NULL, *recs, *x;
	size_t i;
	cv_err r;
	int rc;

	*ids = NULL;
	*n = 0;
	*refused = 0;
	gmtime_r(&t, &tm);
	strftime(from, sizeof from, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if ((r = drill_exec(e, a, NULL, NULL, &out, &rc)) != CV_OK)
		goto out;
	if (rc != 0) {
		*refused = 1;
		goto out;
	}
	if ((j = json_loads(out, 0, NULL)) == NULL ||
	    !json_is_array(recs = json_object_get(j, "records"))) {
		r = cv_fail(CV_ERR_FORMAT, "scope: unexpected output");
		goto out;
	}
	json_array_foreach(recs, i, x) {
		const char *id = json_string_value(json_object_get(x, "id"));
		if (id && (r = strv_add(ids, n, id)) != CV_OK)
			goto out;
	}
	if (*n > 1)
		qsort(*ids, *n, sizeof **ids, cmp_str);
out:
	json_decref(j);
	free(out);
	return r;
}

/* "2026-11-25T10:00:00.123456Z" (or without the fraction) -> µs. */
static int64_t
parse_time(const char *s)
{
	struct tm tm = { 0 };
	unsigned us = 0;
	int n;

	if (s == NULL)
		return 0;
	n = sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%6u", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us);
	if (n < 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000000 + us;
}

cv_err
drill_alerts(struct drill_env *e, const char *user, size_t max,
    int64_t *t_us, char (*kind)[32], int *locked, int64_t *idx, size_t *n)
{
	char path[700], *text = NULL, *line, *save = NULL;
	size_t len;
	cv_err r;

	*n = 0;
	snprintf(path, sizeof path, "%s/alerts.jsonl", e->dir);
	r = cv_file_read(path, 64u << 20, &text, &len);
	if (r == CV_ERR_NOT_FOUND)
		return CV_OK;
	if (r != CV_OK)
		return r;
	for (line = strtok_r(text, "\n", &save); line && *n < max;
	    line = strtok_r(NULL, "\n", &save)) {
		/* Elastic Common Schema lines (keyd/alert.c). */
		json_t *j = json_loads(line, 0, NULL);
		json_t *cv = json_object_get(j, "clearvault");
		const char *u = json_string_value(json_object_get(
		    json_object_get(j, "user"), "name"));
		const char *k = json_string_value(json_object_get(
		    json_object_get(j, "event"), "action"));

		if (u && !strcmp(u, user)) {
			t_us[*n] = parse_time(json_string_value(
			    json_object_get(j, "@timestamp")));
			snprintf(kind[*n], 32, "%s", k ? k : "?");
			locked[*n] = json_is_true(json_object_get(cv,
			    "locked"));
			idx[*n] = json_integer_value(json_array_get(
			    json_object_get(cv, "audit_indices"), 0));
			(*n)++;
		}
		json_decref(j);
	}
	free(text);
	return CV_OK;
}

cv_err
drill_entry(struct drill_env *e, const char *user, int64_t index,
    int64_t from_us, int64_t *t_us, size_t *reads)
{
	const char *a[] = { "audit", "tail", "--dir", e->dir, "--json", "-n",
	    "100000000", NULL };
	char *out = NULL, *line, *save = NULL;
	cv_err r;
	int rc;

	*t_us = 0;
	*reads = 0;
	if ((r = drill_exec(e, a, NULL, NULL, &out, &rc)) != CV_OK)
		return r;
	for (line = strtok_r(out, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);
		int64_t i = json_integer_value(json_object_get(j, "index"));
		int64_t t = parse_time(json_string_value(json_object_get(j,
		    "time")));
		const char *u = json_string_value(json_object_get(j, "actor"));
		const char *ac = json_string_value(json_object_get(j,
		    "action"));

		if (i == index)
			*t_us = t;
		if (i < index && t >= from_us && u && !strcmp(u, user) && ac &&
		    !strcmp(ac, "records.get"))
			(*reads)++;
		json_decref(j);
	}
	free(out);
	return CV_OK;
}

cv_err
drill_stage(struct drill_ctx *c, const char *user, const char *role,
    size_t ncase, int with_clock, struct cv_http **so, char so_tok[256],
    char case_id[128])
{
	struct drill_env *e = c->env;
	char users[80];
	cv_err r;

	*so = NULL;
	if (ncase > e->nids)
		ncase = e->nids;
	/* The bootstrap (administrator first: two officers close it), then
	 * the user the scenario plays, granted as any reader is. */
	if ((r = drill_user(e, "drill-adm", "admin")) ||
	    (r = drill_user(e, "so", "security_officer")) ||
	    (r = drill_user(e, "so2", "security_officer")) ||
	    (r = drill_serve(e, with_clock)) ||
	    (r = drill_user(e, user, role)) ||
	    (r = drill_client(e, "so", so)) ||
	    (r = drill_login(e, *so, "so", so_tok)))
		return r;
	snprintf(users, sizeof users, "[\"%s\"]", user);
	if (!strcmp(role, "admin"))
		snprintf(users, sizeof users, "[]");
	return drill_case(e, *so, so_tok, users, e->ids, ncase, case_id);
}
