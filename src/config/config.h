/*
 * The vault's configuration file, DIR/clearvault.conf: which PKCS#11 module
 * and token hold the root keys, and where the PIN is; the guard's
 * vault-wide read ceilings, the probation of new accounts and the
 * session budget; the database, when it is not DIR/vault.db. Plain
 * "key = value" lines; '#' starts a comment.
 *
 * struct cv_config is a plain value (no owned pointers), so it is not
 * opaque: callers fill it for `init` and read it after a load.
 */
#ifndef CV_CONFIG_H
#define CV_CONFIG_H

#include "../base/base.h"

#define CV_CONFIG_FILE "clearvault.conf"
#define CV_CONFIG_MAX_BYTES 16384
#define CV_CONFIG_PATH_MAX 1024
#define CV_TOKEN_LABEL_MAX 32	/* PKCS#11 token labels are 32 bytes */

#define CV_VAULT_ID_LEN 16	/* hex; names this vault's keys in the token */

/*
 * Vault-wide read ceilings: distinct records returned per sliding hour and
 * day over all users together, soft (every reader must step up) / hard
 * (every read refused). A personnel-security office of 10-20 readers
 * reads a few hundred to about 2,000 distinct files a day (each reader's
 * own day budget is 400 soft); the soft day ceiling is ten readers at
 * their soft budget, the hour ceiling a quarter of that in one hour. A
 * thief holding many identities, each under its own budget, is held to
 * 8,000 records a day (21.5 million records: seven years) instead of
 * 800 per identity. A bigger office raises them in clearvault.conf.
 */
#define CV_CEILING_HOUR_SOFT 1000
#define CV_CEILING_HOUR_HARD 2000
#define CV_CEILING_DAY_SOFT 4000
#define CV_CEILING_DAY_HARD 8000
#define CV_CEILING_MAX 100000000u	/* as `user budget` */

/* Accounts younger than this many days read on a quarter of their budgets:
 * a freshly made (or fraudulently enrolled) account has no history to
 * vouch for it. 0 turns probation off. */
#define CV_PROBATION_DAYS 14
#define CV_PROBATION_DAYS_MAX 3650

/* Distinct records a session may return since its last TOTP proof (login
 * or step-up), at any pace: what a stolen session without the TOTP secret
 * gets out. 1 .. the max; there is no "off". */
#define CV_SESSION_RECORDS 20
#define CV_SESSION_RECORDS_MAX 1000000
/*
 * The server's connection deadlines, in seconds: a connection must have
 * sent a whole request within handshake_timeout of its accept (the TLS
 * handshake included), and each later one within idle_timeout of the
 * previous reply; idle_timeout also bounds a reply that makes no progress.
 * Deadlines, not idle timers: a client that trickles a byte at a time is
 * cut off all the same.
 */
#define CV_HANDSHAKE_TIMEOUT_S 10
#define CV_HANDSHAKE_TIMEOUT_MAX 300
#define CV_IDLE_TIMEOUT_S 30
#define CV_IDLE_TIMEOUT_MAX 3600

/*
 * Where alerts also go as RFC 5424 syslog: "udp:HOST:PORT" (RFC 5426) or
 * "tcp:HOST:PORT" (RFC 6587 octet counting). HOST is a DNS name (looked
 * up again on every reconnection, so a collector that moved is found),
 * an IPv4 address or an IPv6 one in brackets.
 */
#define CV_SYSLOG_TARGET_MAX 300
struct cv_syslog_target {
	int tcp;		/* 0: UDP */
	char host[256];		/* without the brackets */
	char port[6];		/* 1 .. 65535, decimal */
};

/* Parses TEXT into *out. CV_ERR_CONFIG with a detail saying the form. */
cv_err cv_config_syslog_target(const char *text,
    struct cv_syslog_target *out) CV_MUST_CHECK;

/*
 * Witnesses of the audit log (c2sp.org/tlog-witness), one "witness = URL
 * VKEY" line each: URL is http://HOST:PORT (HOST as for syslog_5424; a
 * trailing '/' is allowed), VKEY the witness's cosignature verifier key
 * (NAME+KEYID+base64, type 0x04), whose NAME names the witness. The
 * supervisor pushes each new checkpoint to them (serve/witness_push.c).
 * witness_quorum: how many must cosign a checkpoint (1 .. the number of
 * witnesses; default all of them); witness_alert_after: seconds without
 * a cosigned quorum before the alert witness_quorum_missing.
 * witness_no_quorum: what else happens then, "alert" (nothing else: the
 * default) or "refuse-reads" (keyd releases no record data until a
 * quorum is back; needs witness lines).
 */
#define CV_CONFIG_WITNESS_MAX 8
#define CV_CONFIG_WITNESS_URL_MAX 300
#define CV_CONFIG_WITNESS_VKEY_MAX 200	/* CV_WITNESS_VKEY_MAX */
#define CV_WITNESS_ALERT_AFTER_S 300
#define CV_WITNESS_ALERT_AFTER_MAX 604800
enum cv_config_no_quorum {
	CV_CONFIG_NO_QUORUM_ALERT = 0,		/* the default */
	CV_CONFIG_NO_QUORUM_REFUSE_READS = 1,
};
struct cv_config_witness {
	char url[CV_CONFIG_WITNESS_URL_MAX];	/* as written */
	char vkey[CV_CONFIG_WITNESS_VKEY_MAX];
	char name[129];				/* from the vkey */
	char host[256];				/* without the brackets */
	char port[6];
};

struct cv_config {
	char vault_id[CV_VAULT_ID_LEN + 1];
	/* Names the vault's objects in its token (root keys, binding). The
	 * vault id unless the file gives key_id: a restored vault keeps its
	 * vault id (its audit log's name) but gets keys of its own, so that
	 * it can never touch those of the vault it was restored from. */
	char key_id[CV_VAULT_ID_LEN + 1];
	char pkcs11_module[CV_CONFIG_PATH_MAX];
	char token_label[CV_TOKEN_LABEL_MAX + 1];
	char pin_file[CV_CONFIG_PATH_MAX];
	/* Empty unless the vault owns a private SoftHSM2 token. */
	char softhsm2_conf[CV_CONFIG_PATH_MAX];
	/* Where the records are: empty for DIR/vault.db (SQLite), or a
	 * PostgreSQL database's postgresql:// (or postgres://) URI. */
	char db[CV_CONFIG_PATH_MAX];
	/* The fewest canary records the vault keeps (decimal, at most 7
	 * digits); empty: the default. */
	char canaries[8];
	/* ceiling_hour, ceiling_day = SOFT/HARD (1 <= SOFT <= HARD <=
	 * CV_CEILING_MAX) and probation_days (0 .. CV_PROBATION_DAYS_MAX):
	 * parsed, the defaults above where the file does not give them.
	 * GIVEN has bit CV_CONFIG_GIVEN_* for each key the file gave. */
	uint32_t ceiling_hour[2], ceiling_day[2];	/* [0] soft, [1] hard */
	uint32_t probation_days;
	uint32_t session_records;	/* 1 .. CV_SESSION_RECORDS_MAX */
	/* handshake_timeout (1 .. CV_HANDSHAKE_TIMEOUT_MAX), idle_timeout
	 * (1 .. CV_IDLE_TIMEOUT_MAX): seconds, the defaults above */
	uint32_t handshake_timeout, idle_timeout;
	/* syslog_5424: a collector that gets every alert also as an RFC
	 * 5424 message (cv_config_syslog_target's form); empty: none. */
	char syslog_5424[CV_SYSLOG_TARGET_MAX];
	struct cv_config_witness witness[CV_CONFIG_WITNESS_MAX];
	unsigned nwitness;
	uint32_t witness_quorum;	/* 1 .. nwitness; nwitness if not given */
	uint32_t witness_alert_after;	/* seconds */
	enum cv_config_no_quorum witness_no_quorum;
	unsigned given;
};

#define CV_CONFIG_GIVEN_CEILING_HOUR 1u
#define CV_CONFIG_GIVEN_CEILING_DAY 2u
#define CV_CONFIG_GIVEN_PROBATION 4u
#define CV_CONFIG_GIVEN_SESSION_RECORDS 8u
#define CV_CONFIG_GIVEN_HANDSHAKE 16u
#define CV_CONFIG_GIVEN_IDLE 32u
#define CV_CONFIG_GIVEN_WITNESS_QUORUM 64u
#define CV_CONFIG_GIVEN_WITNESS_ALERT 128u
#define CV_CONFIG_GIVEN_WITNESS_NO_QUORUM 256u

/*
 * Parses configuration TEXT (LEN bytes, need not be NUL-terminated) into
 * *out. Relative paths are kept as written. CV_ERR_CONFIG with a detail
 * naming the line on any unknown key, duplicate, overlong or malformed
 * value, control character or missing required key; *out is then zeroed.
 */
cv_err cv_config_parse(const char *text, size_t len,
    struct cv_config *out) CV_MUST_CHECK;

/*
 * Reads DIR/clearvault.conf and resolves relative paths against DIR.
 * CV_ERR_CONFIG when the file is missing (no vault there) or bad.
 */
cv_err cv_config_load(const char *dir, struct cv_config *out) CV_MUST_CHECK;

/* Writes C as a new DIR/clearvault.conf (0600); the ceilings, probation,
 * session budget and timeouts only where C->given says so. CV_ERR_EXISTS
 * if present. */
cv_err cv_config_save(const char *dir,
    const struct cv_config *c) CV_MUST_CHECK;
/* The same, replacing DIR/clearvault.conf atomically (a restore's new
 * key id). Paths in C are written as they are: give them unresolved. */
cv_err cv_config_replace(const char *dir,
    const struct cv_config *c) CV_MUST_CHECK;

#endif
