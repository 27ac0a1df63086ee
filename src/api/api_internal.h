/* Private to the api module. */
#ifndef CV_API_INTERNAL_H
#define CV_API_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>

#include <jansson.h>
#include <microhttpd.h>

#include "../auth/session.h"
#include "../guard/guard.h"
#include "../core/core.h"
#include "../keyd/keyd.h"
#include "api.h"

#define API_MAX_BODY 65536
#define API_MAX_THREADS 64
#define API_LIB_STATUSES 4	/* 400, 414, 505, other */

struct server {
	struct cv_vault *v;	/* the main handle; threads dup it */
	struct cv_store *store;	/* v's, for the main thread's ticks */
	int64_t started_us;	/* sessions proved before: uncounted (watch.c) */
	struct cv_audit *a;	/* read-only: keyd writes the log */
	struct cv_keyd_client *kd;	/* everything that needs a key */
	struct cv_sessions *sessions;
	gnutls_pcert_st pcert;
	gnutls_privkey_t tls_key;
	gnutls_x509_trust_list_t trust;
	char *ca_pem;
	uint64_t requests, refused;	/* atomics, for /metrics */
	int syslog_counts_fd;	/* > 0: cv_server_opts' */
	/* Connections suspended until their entry is durable (atomic);
	 * once draining is set, replies wait on the calling thread, so the
	 * count only falls and the daemon can stop. */
	int suspended, draining;
	/* the exfiltration guard (watch.c); NULL with --no-guard */
	struct cv_guard *guard;
	pthread_mutex_t save_mu;	/* one snapshot writer at a time */
	int alerts_fd;			/* DIR/alerts.jsonl, appended */
	int alerts_rfd;			/* the same, read (GET /v1/alerts) */
	int clock_fd;			/* CLEARVAULT_GUARD_CLOCK, or -1 */
	uint64_t alerts;		/* atomic, for /metrics */
	uint64_t guard_replayed;	/* entries replayed at start */
	int64_t canaries_stamp;		/* of the canary list, as last loaded */
	pthread_mutex_t clock_mu;	/* the test clock, see api_guard_now */
	int64_t clock_start, clock_step, clock_n, clock_mtime;
	/* from clearvault.conf at start: the vault-wide ceiling (no minute
	 * ceiling: UINT32_MAX) and the probation of new accounts */
	struct cv_guard_limits ceiling;
	uint32_t probation_days;
	uint32_t session_records;	/* the session budget (watch.c) */
	/* sessions stopped at a step-up (watch.c); NULL with the guard off */
	struct guard_watch *watch;
	/* locks not on the log yet (locks.c); NULL with the guard off */
	struct lock_queue *locks;
	/* the shared guard's grants to this node (grants.c); NULL with the
	 * guard off or on a SQLite vault */
	struct api_grants *grants;
	pthread_mutex_t mu;
	struct cv_vault *handles[API_MAX_THREADS];
	/* The database's epoch for store and every handle (NULL on
	 * SQLite): a request's certificate check asks nothing. */
	struct cv_store_follow *follow;
	size_t nhandles;
	int hsm_lost;		/* atomic: keyd's HSM is gone (hsm_tick) */
	struct api_metrics *metrics;	/* metrics.c */
	int pooled;		/* handles opened before the sandbox: */
	size_t given;		/* how many threads took theirs */
	/* Request rate per certificate: a token bucket each. */
	unsigned rate;	/* requests per second; 0: no limit */
	struct bucket {
		char cert[CV_FINGERPRINT_HEX + 1];
		double tokens, at;
	} *buckets;
	size_t nbuckets;
	/* the connection policy (conn.c), and the HTTP library's own
	 * refusals since the last aggregate entry, by status (refusals.c;
	 * atomics) */
	struct conns *conns;
	unsigned lib_refused[API_LIB_STATUSES];
#ifdef CV_FUZZ
	/* cv_server_fuzz_connect: plain HTTP; the connection handed over
	 * last (its socket, under mu) has certificate fuzz_cert instead of
	 * a handshake's, any other none */
	int fuzz;
	struct MHD_Daemon *daemon;
	int fuzz_fd, fuzz_parked;
	unsigned fuzz_conns;
	char fuzz_cert[CV_FINGERPRINT_HEX + 1];
#endif
};

/* 1 if CERT may make another request now (under srv->mu). */
int api_rate_ok(struct server *srv, const char *cert);

/* One request as it arrives. */
struct req {
	struct server *srv;
	struct MHD_Connection *conn;
	const char *method, *url;
	struct cv_buf body;
	int too_big;
	/* who is asking */
	char cert[CV_FINGERPRINT_HEX + 1];
	char source[64];
	struct cv_principal who;
	/* what the audit entry will say */
	const char *action;
	char reason[256];
	const char *const *records;	/* borrowed until the reply */
	size_t nrecords;
	const char *one[1];
	unsigned sections;
	const char *purpose;
	char case_id[24];	/* a case made by this request (purpose) */
	struct cv_store *txn;	/* an open read transaction (GET requests) */
	/* the reply, held back while the connection is suspended until the
	 * committer has made its entry durable */
	int waiting;
	cv_err audited;
	/* a record read: keyd writes the entry and releases the text */
	int reading;
	struct cv_core_pass *pass;	/* admitted, not yet read */
	enum MHD_Result gate_ret;	/* the guard's refusal, as a reply */
	/* the entry was written and made durable by api_audit_now */
	int preaudited;
	uint64_t preaudit_index;
	struct cv_guard_decision gd;	/* alerts go out once logged */
	struct cv_guard_hold *hold;	/* records allowed, not yet out */
	int64_t step_up_refused_us;	/* refused "step-up required" at */
	unsigned status;
	const char *type;
	const char *cache;	/* Cache-Control of a 2xx reply; NULL: no-store */
	struct cv_buf out;
	gnutls_session_t corked;	/* see cork() in server.c */
	int corked_fd;
	/* refusals.c: the handler has been called (started), a reply of
	 * ours queued (replied); the request target's length and path */
	int started, replied;
	int64_t begin_us, submit_us;	/* for /metrics */
	size_t uri_len;
	char path[184];
};

/*
 * conn.c: the connection policy. Each accepted connection must have sent
 * a whole request within handshake_timeout (clearvault.conf) of its accept
 * and each later one within idle_timeout of the previous reply; the main
 * loop's api_conns_reap shuts down the socket of one past its deadline
 * (the library then ends it on its own thread). New reads DIR's
 * clearvault.conf; CV_ERR_CONFIG if it is bad.
 */
struct conns;
cv_err api_conns_new(const char *dir, struct conns **out) CV_MUST_CHECK;
/* After the daemon has stopped; NULL is a no-op. */
void api_conns_free(struct conns *t);
/* idle_timeout, for the library's own idle timer (MHD_OPTION_
 * CONNECTION_TIMEOUT): a reply that makes no progress. */
unsigned api_conns_idle_s(const struct conns *t);
/* MHD_OPTION_NOTIFY_CONNECTION, its closure the struct conns. */
void api_conns_notify(void *cls, struct MHD_Connection *c, void **ctx,
    enum MHD_ConnectionNotificationCode code);
/* C's request is wholly received: no deadline while the server answers. */
void api_conn_received(struct conns *t, struct MHD_Connection *c);

/* The calling thread (a network worker, which polls between rounds)
 * holds its async requests to keyd until its next poll(): poll.c. */
void api_worker_defers(void);
/* C's request ended (any way): the next is due within idle_timeout. 1 if
 * C was cut off at its deadline. */
int api_conn_done(struct conns *t, struct MHD_Connection *c);
/* Shuts down every connection past its deadline; how many. Any thread. */
unsigned api_conns_reap(struct conns *t);
/* From the library's log, on the thread whose TLS handshake just failed:
 * sends that connection the fatal alert the library does not (conn.c). */
void api_conn_handshake_failed(void);
/* 1 with the fingerprint of C's client certificate if it chains to the
 * vault CA (checked once per connection); 0 with WHY. */
int api_client_cert(struct server *srv, struct MHD_Connection *c,
    char fp[CV_FINGERPRINT_HEX + 1], char *why, size_t wsize);
/* C's peer address, or "?". */
void api_source_address(struct MHD_Connection *c, char *out, size_t size);

/*
 * refusals.c. MHD_OPTION_URI_LOG_CALLBACK (CLS: the server): the struct
 * req of a request whose request line the library has parsed (NULL
 * without memory).
 */
void *api_req_begin(void *cls, const char *uri, struct MHD_Connection *c);
/* On R's first call (its headers in; VERSION its HTTP version): the size
 * limits, Host and the RFC 9112 6.3 framing; 1 to go on, 0 with the
 * audited refusal queued in *RET. */
int api_req_framing(struct req *r, const char *version,
    enum MHD_Result *ret);
/* R ended without a reply of ours (the library refused it, it was cut off
 * at its deadline: REAPED, or abandoned): its entry, not waited for. */
void api_req_unanswered(struct req *r, enum MHD_RequestTerminationCode toe,
    int reaped);
/* MHD_OPTION_EXTERNAL_LOGGER (CLS: the server): the library's log on
 * stderr, its own refusals counted. */
void api_http_log(void *cls, const char *fm, va_list ap);
/* Once a second from the main loop: one entry for the refusals counted. */
void api_http_refusals_tick(struct server *srv);

/*
 * The vault handle of the calling thread (a dup of srv->v), for reads
 * through the core; and its store, for the users, cases, proposals and
 * sessions the handlers read and write. NULL when no handle could be had.
 */
struct cv_vault *api_vault(struct server *srv);
struct cv_store *api_store(struct server *srv);

/* Ends USER's sessions here and, through DB, on every node; a store that
 * fails leaves them ended here only, and says so on stderr. */
void api_end_sessions(struct server *srv, struct cv_store *db,
    const char *user);
/* On a PostgreSQL vault, USER's lock as a row every node obeys (reads
 * and logins), through DB, known to SRV's unlocks (locks.c) by the row's
 * time; a store that fails leaves it on this node only until a guard
 * tick writes it, and says so on stderr. Nothing on a SQLite vault. */
void api_share_lock(struct server *srv, struct cv_store *db,
    const char *user, const char *why);
/* A lock whose row or sessions' end could not be written is written
 * again at every guard tick until it is (api_unlocks_tick); this queues
 * the sessions' end of USER, if SRV's guard holds USER locked on a
 * PostgreSQL vault (api_end_sessions calls it when it fails). */
void api_end_sessions_later(struct server *srv, const char *user);
/* Ends R's read snapshot, if it has one: before waiting, and before a
 * write that other threads and nodes must see at once. */
void api_read_end(struct req *r);
/* 1 if the vault's guard counts are the database's (PostgreSQL). */
int api_shared(struct server *srv);

/*
 * Audits R with OUTCOME, then sends STATUS with BODY (taken over). If the
 * entry cannot be made durable, a 503 problem goes out instead and BODY
 * is wiped: no data leaves without its entry.
 */
enum MHD_Result api_reply(struct req *r, unsigned status,
    enum cv_audit_outcome outcome, const char *type, struct cv_buf *body);
/*
 * The reply to a record read (R's records, action, purpose and sections
 * set): its allowed entry goes to keyd, which makes it durable and only
 * then decrypts those sections of that record; the text goes out as the
 * reply. Nothing else in the server obtains record plaintext.
 */
enum MHD_Result api_reply_read(struct req *r);
/*
 * Writes R's entry now, on this thread, and waits until it is durable (for
 * steps that must be on the log before they are committed: proposals,
 * approvals, break-glass). The reply that follows is not logged again,
 * unless it is a refusal or an error. *INDEX is the entry's index.
 */
cv_err api_audit_now(struct req *r, enum cv_audit_outcome outcome,
    uint64_t *index) CV_MUST_CHECK;
/* A problem+json error, audited. */
enum MHD_Result api_problem(struct req *r, unsigned status,
    enum cv_audit_outcome outcome, const char *slug, const char *detail);

enum MHD_Result api_route(struct req *r);
/* 403, audited as denied; 500 for E, audited as an error with its cause. */
enum MHD_Result api_forbidden(struct req *r, const char *detail);
enum MHD_Result api_internal(struct req *r, cv_err e);

/*
 * Body parsers (bodies.c): 1 with the values, 0 to refuse. Strict: the
 * exact keys, the right types, no duplicates, sizes bounded.
 */
int api_body_login(const struct cv_buf *b, char code[static 7]);
int api_body_case(const struct cv_buf *b, char title[static 201]);
/* USERS and RECORDS (either may be NULL) live until *HOLD is released. */
int api_body_members(const struct cv_buf *b, json_t **users,
    json_t **records, json_t **hold);
int api_body_user(const struct cv_buf *b,
    char name[static CV_USER_NAME_MAX + 1], int *role);
/* {"role": R} */
int api_body_role(const struct cv_buf *b, int *role);
/* {"budget": [6 numbers] | null}: the object itself in *ARGS (to free). */
int api_body_budget(const struct cv_buf *b, json_t **args);
/* {"name", "code", "csr"}: CSR lives until *HOLD is released. */
#define CV_ENROL_CODE_MAX 40
int api_body_enrol(const struct cv_buf *b,
    char name[static CV_USER_NAME_MAX + 1],
    char code[static CV_ENROL_CODE_MAX + 1], const char **csr,
    json_t **hold);

/* A JSON reply (J taken over), audited as allowed. */
enum MHD_Result api_json(struct req *r, unsigned status, json_t *j);

/* records.c */
enum MHD_Result api_record_get(struct req *r, const char *id);
enum MHD_Result api_case_create(struct req *r);
enum MHD_Result api_record_search(struct req *r);
/* POST /v1/records (PATH_ID NULL) or PUT /v1/records/{id}. */
enum MHD_Result api_record_put(struct req *r, const char *path_id);
enum MHD_Result api_case_members(struct req *r, const char *id, int add);
/* admin.c: /v1/users..., /metrics, /v1/openapi.json */
enum MHD_Result api_users(struct req *r, const char *rest);
enum MHD_Result api_metrics(struct req *r);

/*
 * metrics.c: what /metrics reports, counted as requests end. api_metrics_
 * request: one request of ROUTE (its audit action) answered with STATUS
 * after US microseconds; _commit: an entry durable US after it was handed
 * to keyd; _guard, _alert: a decision, an alert. Any thread; M may be
 * NULL (nothing counted). _render: the text for a scrape into *OUT, with
 * the gauges G read by the caller. CV_ERR_NOMEM.
 */
struct api_metrics;
struct api_gauges {
	const char *vault_id;
	size_t locked, sessions;
	uint64_t requests, refused, audit_entries;
	int hsm_up;
	/* the supervisor's RFC 5424 counts, if it has a collector */
	int syslog;
	uint64_t syslog_sent, syslog_unsent, syslog_refused;
};
cv_err api_metrics_new(struct api_metrics **out) CV_MUST_CHECK;
void api_metrics_free(struct api_metrics *m);
void api_metrics_request(struct api_metrics *m, const char *route,
    unsigned status, int64_t us);
void api_metrics_commit(struct api_metrics *m, int64_t us);
void api_metrics_guard(struct api_metrics *m, enum cv_guard_verdict v);
void api_metrics_alert(struct api_metrics *m, enum cv_guard_severity s);
cv_err api_metrics_render(struct api_metrics *m, const struct api_gauges *g,
    struct cv_buf *out) CV_MUST_CHECK;
enum MHD_Result api_openapi(struct req *r);
/* views.c: what the web console shows (GET /v1/cases[/{id}], /v1/locks,
 * /v1/scope, /v1/reads, /v1/drills/latest); console.c: its files. */
enum MHD_Result api_cases_list(struct req *r);
enum MHD_Result api_case_get(struct req *r, const char *id);
enum MHD_Result api_locks(struct req *r);
enum MHD_Result api_scope(struct req *r);
enum MHD_Result api_reads(struct req *r);
enum MHD_Result api_drill_latest(struct req *r);
/* 1 if PATH is one of the console's files (GET without a session). */
int api_console_path(const char *path);
enum MHD_Result api_console(struct req *r);
/*
 * watch.c: the guard. Start loads the sealed snapshot and replays the log
 * after it; stop saves and frees.
 */
cv_err api_guard_start(struct server *srv) CV_MUST_CHECK;
void api_guard_stop(struct server *srv);
/*
 * Once a second from the main thread: canaries added meanwhile; sessions
 * refused with "step-up required" that have not stepped up within
 * CV_STEP_UP_WAIT_S raise a "stopped_at_step_up" alert (once each).
 */
void api_guard_tick(struct server *srv);
/*
 * grants.c: what the shared guard lets this node decide alone. use: for
 * T (user, session, proof, stepped_up, rids, now), USED when a grant this
 * node holds covers it (counted down; nothing to ask), ASK when this read
 * is to ask the database, giving the grant back (T's node, settle, chunk
 * and lease filled in: call api_grants_done after the take whatever it
 * returned: OK, whether it was answered, and the new grant or 0; one that
 * failed keeps what the grant let out, to be given back by the next
 * question or the tick), EXACT when another read of the user
 * is asking (ask without grants). tick: gives back the grants whose lease
 * is over, from the main thread.
 */
struct api_grants;
enum api_grant_use { API_GRANT_EXACT, API_GRANT_ASK, API_GRANT_USED };
cv_err api_grants_new(struct api_grants **out) CV_MUST_CHECK;
void api_grants_free(struct api_grants *g);
enum api_grant_use api_grants_use(struct api_grants *g,
    struct cv_store_take *t);
void api_grants_done(struct api_grants *g, struct cv_store_take *t, int ok,
    unsigned grant);
/* Gives back the grants whose lease is over (ALL: every one, when the
 * node stops taking requests: nothing more leaves under them); once a
 * minute, cv_store_guard_expire at GUARD_NOW, the guard's clock (the
 * users' counts are on it). */
void api_grants_tick(struct api_grants *g, struct cv_store *db, int all,
    int64_t guard_now);
/*
 * A PostgreSQL vault's nodes share one count: once this node's guard
 * allowed RD (with the user's limits LIM), the store decides it again for
 * every node at once (under a grant this node holds, or by asking), and a
 * refusal there takes this node's hold back and answers as the guard
 * would (r->gd). CV_OK on a SQLite vault; an error: fail closed.
 */
cv_err api_shared_take(struct req *r, const struct cv_guard_read *rd,
    const struct cv_guard_limits *lim) CV_MUST_CHECK;
cv_err api_guard_save(struct server *srv) CV_MUST_CHECK;
int64_t api_guard_now(struct server *srv);
/*
 * The guard's verdict on R returning the records RIDS (after need-to-know,
 * before anything is read): 1 to go on, 0 when the refusal has been
 * queued in *RET. A lock ends the user's sessions and is logged. On 1
 * the records are held in the user's budget (r->hold) until R's entry is
 * logged: durable, they count as returned; failed (503), they do not.
 * A reply that returns them not (404, 500, ...) must call
 * api_guard_settle(r, 0) first.
 */
int api_guard_read(struct req *r, const char *const *rids, size_t n,
    int search, enum MHD_Result *ret);
/* R's held records LEFT (1) or did not (0); nothing held is fine. */
void api_guard_settle(struct req *r, int left);
/* A record asked for but not there or not allowed (enumeration). */
void api_guard_miss(struct req *r);
int api_guard_locked(struct server *srv, const char *user);
/*
 * Called for every request once its entry is logged (DURABLE: INDEX is
 * its index; 0: the entry failed): R's held records are settled (they
 * leave only if it is durable), R's alerts go out (those of a lock not
 * yet logged wait for its entry, locks.c), and a session that was
 * refused with "step-up required", or has stepped up since, is noted for
 * the stopped-session check.
 */
void api_guard_emit(struct req *r, uint64_t index, int durable);
/*
 * Writes one alert AL: a line of DIR/alerts.jsonl, syslog (LOG_AUTHPRIV)
 * and the /metrics count; the one writer of alerts. USER, SESSION, SOURCE
 * say who raised it (NULL: empty); LOCKED: it locked the user; INDICES:
 * the N audit entries that raised it (N 0: none could be made durable).
 * Any thread; failures to write are reported on stderr, nothing returned.
 */
void api_guard_alert(struct server *srv, const char *user,
    const char *session, const char *source, const struct cv_guard_alert *al,
    int locked, const uint64_t *indices, size_t n);
enum MHD_Result api_alerts(struct req *r);
enum MHD_Result api_unlock(struct req *r, const char *user);

/*
 * approvals.c: two-person control. api_propose takes ARGS over and
 * answers 202 with the proposal; /v1/approvals[/{id}/(approve|reject)];
 * POST /v1/enrol (no client certificate: that is what it issues). The
 * tick locks readers whose break-glass reads were not reviewed in time.
 */
enum MHD_Result api_propose(struct req *r, const char *kind,
    const char *subject, json_t *args);
enum MHD_Result api_approvals(struct req *r, const char *rest);
enum MHD_Result api_enrol(struct req *r);
void api_approvals_tick(struct server *srv);
/* Locks USER (the guard's lock; without a guard, disables the account),
 * ends their sessions, logs it and raises a critical alert. */
void api_lock_user(struct server *srv, const char *user, const char *why);

/*
 * locks.c: a lock the guard decided on R (WHY: its reason) ends the
 * user's sessions at once and holds in memory; it is kept (guard.state)
 * and announced only with its "guard.lock" entry. If the log cannot take
 * the entry now, the lock waits in a queue, api_guard_save writes
 * nothing meanwhile, R's alerts wait with it (api_locks_defer_alerts: 1
 * if they do), and api_locks_tick retries it (once a second, from
 * api_guard_tick), then announces and saves. Start/stop: with the guard.
 */
cv_err api_locks_start(struct server *srv) CV_MUST_CHECK;
void api_locks_stop(struct server *srv);
void api_lock_decided(struct req *r, const char *why);
int api_locks_unlogged(struct server *srv);
int api_locks_defer_alerts(struct req *r);
void api_locks_tick(struct server *srv);
/* Once a second, from api_guard_tick, on a PostgreSQL vault: the locks
 * two officers lifted through any node (src/store/unlocks.c) dropped from
 * this node's guard, unless locked again since; saved if any was. */
void api_unlocks_tick(struct server *srv);
/*
 * The approval of the two-person unlock that a "users.unlock" entry by
 * ACTOR at T with REASON records, applied to the guard again (replay at
 * start); entries that record none, or an approval the guard's state
 * already holds, change nothing. CV_ERR_NOMEM only.
 */
cv_err api_unlock_replay(struct server *srv, const char *actor,
    const char *reason, int64_t t) CV_MUST_CHECK;


/* audit_routes.c: /v1/audit/{checkpoint,entries,proof,consistency} */
enum MHD_Result api_audit(struct req *r, const char *what);
/* tiles.c: GET /checkpoint, /tile/... (C2SP tlog-tiles), auditors only. */
enum MHD_Result api_tlog(struct req *r);
/* A tile path, parsed (outside input: tests/fuzz/fuzz_tile_path.c). */
struct api_tile {
	int entries;	/* an entry bundle, not a hash tile */
	unsigned level;	/* hash tiles: 0 to 63 */
	uint64_t index;	/* below 10^18 */
	unsigned width;	/* 1 to 256; 256: a full tile */
};
/*
 * PATH is what follows "/tile/": 0 with *T filled in; 400 for what is
 * not a tile path of the spec's grammar; 404 for one that is but can
 * name no tile of this log (more groups than a 64-bit index needs, or a
 * first group x000 that only a non-canonical encoding has: one tile, one
 * path). A level past 7 parses: no checkpoint covers it.
 */
unsigned api_tile_parse(const char *path, struct api_tile *t);

#endif
