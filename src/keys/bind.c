/*
 * Which vault a token's keys belong to, and whether the token is still
 * there.
 *
 * A vault's root keys are named after its key id ("cv-KEYID-root-N"). A
 * copy of a vault folder carries the same key id, so before the binding a
 * copy on the same token (a shared HSM, or a private SoftHSM2 token whose
 * config named the original's object folder) rotated and destroyed the
 * original's root keys. Now the token holds, beside the keys, a record of
 * the vault they serve: its vault id, key id, machine and folder. Opening
 * a vault checks it; a copy of a vault that is still there, a vault moved
 * from elsewhere, or another vault's token is refused, naming both.
 *
 * A private token lives inside its vault's folder (DIR/token) and goes
 * wherever the folder goes, so its record simply follows the folder: a
 * copy of such a vault has a copy of the token, which nothing done to the
 * copy can make touch the original's.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keys_internal.h"

#define BIND_MAGIC "CVTB"
#define BIND_VERSION 2
#define BIND_FIXED (4 + 2 + 2 * CV_VAULT_ID_LEN)

static cv_err
bind_label(const char *key_id, char *out, size_t size)
{
	return cv_path(out, size, "cv-%s-vault", key_id);
}

/* This machine: /etc/machine-id, or the host name where there is none. */
static void
machine(char out[static BIND_MACHINE_MAX + 1])
{
	char *text = NULL;
	size_t len = 0;

	if (cv_file_read("/etc/machine-id", 64, &text, &len) == CV_OK) {
		while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
			len--;
		if (len > 0 && len <= BIND_MACHINE_MAX &&
		    strspn(text, "0123456789abcdef") == len) {
			memcpy(out, text, len);
			out[len] = '\0';
			free(text);
			return;
		}
	}
	free(text);
	if (gethostname(out, BIND_MACHINE_MAX) != 0)
		strcpy(out, "?");
	out[BIND_MACHINE_MAX] = '\0';
}

static int
printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	}
	return 1;
}

static int
hex_id(const uint8_t *p)
{
	for (size_t i = 0; i < CV_VAULT_ID_LEN; i++) {
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' &&
		    p[i] <= 'f')))
			return 0;
	}
	return 1;
}

cv_err
bind_parse(const uint8_t *buf, size_t len, struct bind_rec *out)
{
	size_t off = BIND_FIXED, n;

	memset(out, 0, sizeof *out);
	if (len < BIND_FIXED || memcmp(buf, BIND_MAGIC, 4) != 0 ||
	    buf[4] < 1 || buf[4] > BIND_VERSION || buf[5] != 0)
		return cv_fail(CV_ERR_FORMAT, "token binding: not a binding "
		    "of version 1 to %d", BIND_VERSION);
	if (!hex_id(buf + 6) || !hex_id(buf + 6 + CV_VAULT_ID_LEN))
		return cv_fail(CV_ERR_FORMAT, "token binding: bad vault id");
	memcpy(out->vault_id, buf + 6, CV_VAULT_ID_LEN);
	memcpy(out->key_id, buf + 6 + CV_VAULT_ID_LEN, CV_VAULT_ID_LEN);
	for (int f = 0; f < (buf[4] == 1 ? 2 : 3); f++) {
		char *dst = f == 0 ? out->machine : f == 1 ? out->dir :
		    out->records;
		size_t room = f == 0 ? sizeof out->machine : f == 1 ?
		    sizeof out->dir : sizeof out->records;

		if (len - off < 2)
			goto bad;
		n = cv_get_u16be(buf + off);
		off += 2;
		/* Only the records may be empty (a vault of one folder). */
		if ((n == 0 && f < 2) || n >= room || len - off < n ||
		    !printable(buf + off, n))
			goto bad;
		memcpy(dst, buf + off, n);
		off += n;
	}
	if (off != len)
		goto bad;
	return CV_OK;
 bad:
	memset(out, 0, sizeof *out);
	return cv_fail(CV_ERR_FORMAT, "token binding: malformed");
}

cv_err
bind_format(const struct bind_rec *b, uint8_t *out, size_t size,
    size_t *len)
{
	size_t lm = strlen(b->machine), ld = strlen(b->dir),
	    lr = strlen(b->records);

	if (lm == 0 || lm > BIND_MACHINE_MAX || ld == 0 ||
	    ld >= CV_CONFIG_PATH_MAX || lr > CV_KEYS_RECORDS_MAX ||
	    BIND_FIXED + 6 + lm + ld + lr > size)
		return cv_fail(CV_ERR_INVALID, "token binding: too long");
	memcpy(out, BIND_MAGIC, 4);
	out[4] = BIND_VERSION;
	out[5] = 0;
	memcpy(out + 6, b->vault_id, CV_VAULT_ID_LEN);
	memcpy(out + 6 + CV_VAULT_ID_LEN, b->key_id, CV_VAULT_ID_LEN);
	*len = BIND_FIXED;
	cv_put_u16be(out + *len, (uint16_t)lm);
	memcpy(out + *len + 2, b->machine, lm);
	*len += 2 + lm;
	cv_put_u16be(out + *len, (uint16_t)ld);
	memcpy(out + *len + 2, b->dir, ld);
	*len += 2 + ld;
	cv_put_u16be(out + *len, (uint16_t)lr);
	memcpy(out + *len + 2, b->records, lr);
	*len += 2 + lr;
	return CV_OK;
}

cv_err
bind_write(struct cv_keys *k)
{
	struct bind_rec b;
	uint8_t buf[P11_DATA_MAX];
	char label[64];
	size_t len;
	cv_err r;

	memset(&b, 0, sizeof b);
	memcpy(b.vault_id, k->vault_id, sizeof b.vault_id);
	memcpy(b.key_id, k->key_id, sizeof b.key_id);
	machine(b.machine);
	memcpy(b.dir, k->dir, sizeof b.dir);
	memcpy(b.records, k->records, sizeof b.records);
	if ((r = bind_format(&b, buf, sizeof buf, &len)) != CV_OK ||
	    (r = bind_label(k->key_id, label, sizeof label)) != CV_OK)
		return r;
	return p11_data_put(&k->p11, label, buf, len);
}

/* "machine:" before a folder on another machine, "" on this one. */
static const char *
where(const struct bind_rec *b, const char *here, char *out, size_t size)
{
	if (strcmp(b->machine, here) == 0)
		return "";
	snprintf(out, size, "machine %.12s: ", b->machine);
	return out;
}

struct foreign {
	struct bind_rec rec;
	int found;
};

static int
first_binding(void *ctx, const uint8_t *buf, size_t len)
{
	struct foreign *f = ctx;

	if (bind_parse(buf, len, &f->rec) != CV_OK)
		return 0;
	f->found = 1;
	return 1;
}

/*
 * The token holds no keys of this vault. If it serves another vault, the
 * refusal names it; otherwise the plain "no root key" of an empty token.
 */
static cv_err
refuse_foreign(struct cv_keys *k, cv_err plain, const char *plain_detail)
{
	struct foreign f = { .found = 0 };
	char here[BIND_MACHINE_MAX + 1], m[40], serial[17] = "?";

	if (p11_data_each(&k->p11, first_binding, &f) != CV_OK || !f.found)
		return cv_fail(plain, "%s", plain_detail);
	(void)p11_token_info(&k->p11, serial);
	machine(here);
	return cv_fail(CV_ERR_HSM_BOUND, "HSM token '%s' (serial %s) belongs "
	    "to vault %s (at %s%s); this vault is %s (at %s): a vault may "
	    "use only its own token", k->label, serial, f.rec.vault_id,
	    where(&f.rec, here, m, sizeof m), f.rec.dir, k->vault_id,
	    k->dir);
}

/* DIR holds a vault whose keys are named KEY_ID. */
static int
vault_at(const char *dir, const char *key_id)
{
	char path[CV_CONFIG_PATH_MAX + 32];
	struct cv_config c;

	if (cv_path(path, sizeof path, "%s/%s", dir, CV_CONFIG_FILE) != CV_OK)
		return 0;
	if (access(path, F_OK) != 0)
		return 0;
	/* Unreadable or damaged: assume it is there. Refusing a move that
	 * was one costs a rebind; allowing a copy costs the other's keys. */
	if (cv_config_load(dir, &c) != CV_OK)
		return 1;
	return strcmp(c.key_id, key_id) == 0;
}

static int
same_dir(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* What the token's binding REC says of this vault at K->dir. */
static cv_err
judge(struct cv_keys *k, const struct bind_rec *rec, int *rebind)
{
	char here[BIND_MACHINE_MAX + 1], m[40];
	const char *at;

	*rebind = 0;
	machine(here);
	at = where(rec, here, m, sizeof m);
	if (strcmp(rec->vault_id, k->vault_id) != 0)
		return cv_fail(CV_ERR_HSM_BOUND, "the keys '%s' in HSM token "
		    "'%s' belong to vault %s (at %s%s); this vault is %s (at "
		    "%s)", k->key_id, k->label, rec->vault_id, at, rec->dir,
		    k->vault_id, k->dir);
	if (!*at && (strcmp(rec->dir, k->dir) == 0 ||
	    same_dir(rec->dir, k->dir))) {
		/* Its own: it learns where the records are (they were
		 * made after the keys, or moved to a promoted standby). */
		*rebind = strcmp(rec->records, k->records) != 0;
		return CV_OK;
	}
	/* Another node of the vault: the same records, one database for
	 * all (a rotation there is this vault's). */
	if (k->records[0] && strcmp(rec->records, k->records) == 0)
		return CV_OK;
	if (k->private_token) {
		/* Moved or copied with the token inside it: its own. */
		*rebind = 1;
		return CV_OK;
	}
	if (rec->records[0] && k->records[0])
		return cv_fail(CV_ERR_HSM_BOUND, "the keys of vault %s in HSM "
		    "token '%s' belong to the vault whose records are in "
		    "database %s (at %s%s); this vault's are in %s: a copy of "
		    "a vault with records of its own must not use its keys "
		    "(a rotation here would destroy them)", k->vault_id,
		    k->label, rec->records, at, rec->dir, k->records);
	if (!*at && vault_at(rec->dir, k->key_id))
		return cv_fail(CV_ERR_HSM_BOUND, "the keys of vault %s in HSM "
		    "token '%s' belong to the vault at %s, which is still "
		    "there; this vault at %s is a copy of it and must not use "
		    "them (a rotation here would destroy that vault's keys). "
		    "Copy a vault with clearvault backup and restore",
		    k->vault_id, k->label, rec->dir, k->dir);
	return cv_fail(CV_ERR_HSM_BOUND, "the keys of vault %s in HSM token "
	    "'%s' belong to the vault at %s%s; this vault is at %s. If it was "
	    "moved here from there, run: clearvault rebind --dir %s",
	    k->vault_id, k->label, at, rec->dir, k->dir, k->dir);
}

/* The binding of K's keys in *REC; *FOUND 0 when the token has none. */
static cv_err
read_binding(struct cv_keys *k, struct bind_rec *rec, int *found)
{
	uint8_t buf[P11_DATA_MAX];
	size_t len = sizeof buf;
	char label[64];
	cv_err r;

	*found = 0;
	if ((r = bind_label(k->key_id, label, sizeof label)) != CV_OK)
		return r;
	r = p11_data_get(&k->p11, label, buf, &len);
	if (r == CV_ERR_NOT_FOUND)
		return CV_OK;
	if (r != CV_OK)
		return r;
	if ((r = bind_parse(buf, len, rec)) != CV_OK)
		return cv_fail(r, "the binding '%s' in HSM token '%s' is "
		    "damaged", label, k->label);
	*found = 1;
	return CV_OK;
}

/* No binding: this vault's keys made before there was one (bound now),
 * or no keys of this vault at all. */
static cv_err
unbound(struct cv_keys *k)
{
	CK_OBJECT_HANDLE h;
	char label[64], detail[512];
	cv_err r;

	if ((r = keys_root_label(k, 0, label, sizeof label)) != CV_OK)
		return r;
	if ((r = p11_find_key(&k->p11, label, &h)) == CV_OK)
		return bind_write(k);
	snprintf(detail, sizeof detail, "%s", cv_err_detail());
	return refuse_foreign(k, r, detail);
}

cv_err
bind_check(struct cv_keys *k)
{
	struct bind_rec rec;
	int found, rebind;
	cv_err r;

	if ((r = read_binding(k, &rec, &found)) != CV_OK)
		return r;
	if (!found)
		return unbound(k);
	if ((r = judge(k, &rec, &rebind)) != CV_OK)
		return r;
	return rebind ? bind_write(k) : CV_OK;
}

cv_err
cv_keys_rebind(const struct cv_config *cfg, const char *dir, char *was,
    size_t size)
{
	struct cv_keys *k = NULL;
	struct bind_rec rec;
	char here[BIND_MACHINE_MAX + 1], m[40];
	int found;
	cv_err r;

	snprintf(was, size, "(none)");
	if ((r = keys_open_bare(cfg, dir, &k)) != CV_OK ||
	    (r = read_binding(k, &rec, &found)) != CV_OK)
		goto out;
	if (!found) {
		r = unbound(k);
		goto out;
	}
	machine(here);
	snprintf(was, size, "%s%s", where(&rec, here, m, sizeof m), rec.dir);
	if (strcmp(rec.vault_id, k->vault_id) != 0) {
		int dummy;
		r = judge(k, &rec, &dummy);
		goto out;
	}
	if (strcmp(rec.machine, here) == 0 && !same_dir(rec.dir, k->dir) &&
	    vault_at(rec.dir, k->key_id)) {
		r = cv_fail(CV_ERR_HSM_BOUND, "the vault at %s still uses "
		    "these keys: this one is a copy, not a move; restore a "
		    "backup instead (clearvault restore gives it keys of its "
		    "own)", rec.dir);
		goto out;
	}
	r = bind_write(k);
 out:
	cv_keys_free(k);
	return r;
}

int
cv_keys_lost(struct cv_keys *k)
{
	return __atomic_load_n(&k->lost, __ATOMIC_ACQUIRE);
}

cv_err
cv_keys_check(struct cv_keys *k)
{
	CK_OBJECT_HANDLE h;
	char pin[128], label[64];
	uint8_t digest[16];
	int locked = 0;
	cv_err r;

	if ((r = keys_read_pin(k->pin_file, pin, sizeof pin)) != CV_OK)
		goto out;
	/* The CA's signer uses the same session. */
	pthread_mutex_lock(&k->p11_mu);
	locked = 1;
	crypto_generichash(digest, sizeof digest, (uint8_t *)pin, strlen(pin),
	    NULL, 0);
	/* Never the same refused PIN twice: an HSM locks after a few. */
	if (k->have_refused_pin && sodium_memcmp(digest, k->refused_pin,
	    sizeof digest) == 0) {
		r = cv_fail(CV_ERR_HSM_PIN, "the token refused the PIN in %s; "
		    "not tried again until the file changes", k->pin_file);
		goto out;
	}
	if ((r = p11_relogin(&k->p11, k->label, pin)) != CV_OK) {
		if (r == CV_ERR_HSM_PIN) {
			memcpy(k->refused_pin, digest, sizeof digest);
			k->have_refused_pin = 1;
		}
		goto out;
	}
	k->have_refused_pin = 0;
	/* The keys themselves: a token wiped or re-made under the label. */
	if ((r = keys_root_label(k, 0, label, sizeof label)) != CV_OK ||
	    (r = p11_find_key(&k->p11, label, &h)) != CV_OK ||
	    (r = keys_root_label(k, k->cur->gen, label, sizeof label)) !=
	    CV_OK ||
	    (r = p11_find_key(&k->p11, label, &h)) != CV_OK ||
	    (r = keys_ec_refind(k)) != CV_OK)
		goto out;
 out:
	sodium_memzero(pin, sizeof pin);
	__atomic_store_n(&k->lost, r != CV_OK, __ATOMIC_RELEASE);
	if (locked)
		pthread_mutex_unlock(&k->p11_mu);
	return r;
}

/*
 * A new key id for a restored vault: new root keys named after it, every
 * keyring key sealed again under them (their values do not change, so
 * records, the log and certificates stay as they were), the binding
 * written for DIR. With DROP_OLD (a private token copied for this vault
 * alone) the old key id's roots and binding are destroyed in it.
 */
cv_err
cv_keys_rekey(const struct cv_config *cfg, const char *dir,
    const char *new_key_id, int drop_old)
{
	struct cv_keys *k = NULL;
	CK_OBJECT_HANDLE root;
	char label[64], oldec[64], old[CV_VAULT_ID_LEN + 1];
	uint32_t gens[KR_MAX_ENTRIES];
	size_t ngens = 0, i, j;
	cv_err r;

	if (strlen(new_key_id) != CV_VAULT_ID_LEN)
		return cv_fail(CV_ERR_INVALID, "bad key id");
	if ((r = keys_open_bare(cfg, dir, &k)) != CV_OK ||
	    (r = keys_load_keyring(k)) != CV_OK)
		goto out;
	memcpy(old, k->key_id, sizeof old);
	for (i = 0; i < k->kr.n; i++) {
		for (j = 0; j < ngens && gens[j] != k->kr.e[i].gen; j++)
			;
		if (j == ngens)
			gens[ngens++] = k->kr.e[i].gen;
	}
	memcpy(k->key_id, new_key_id, sizeof k->key_id);
	for (j = 0; j < ngens; j++) {
		/* A leftover of an earlier, failed restore is ours. */
		if ((r = keys_root_label(k, gens[j], label, sizeof label)) !=
		    CV_OK || (r = p11_destroy(&k->p11, label)) != CV_OK ||
		    (r = p11_gen_key(&k->p11, label, &root)) != CV_OK)
			goto undo;
		for (i = 0; i < k->kr.n; i++) {
			if (k->kr.e[i].gen == gens[j] &&
			    (r = keys_entry_seal(k, &k->kr.e[i], root)) !=
			    CV_OK)
				goto undo;
		}
	}
	/* The CA key cannot leave the token: the restored vault gets a
	 * copy in it, so its certificates stay valid. */
	if ((r = keys_ec_label(new_key_id, label, sizeof label)) != CV_OK ||
	    (r = keys_ec_label(old, oldec, sizeof oldec)) != CV_OK ||
	    (r = p11_ec_destroy(&k->p11, label)) != CV_OK ||
	    (r = p11_ec_copy(&k->p11, oldec, label)) != CV_OK)
		goto undo;
	if ((r = bind_write(k)) != CV_OK ||
	    (r = keys_keyring_save(k, 0)) != CV_OK)
		goto undo;
	if (drop_old) {
		memcpy(k->key_id, old, sizeof k->key_id);
		for (j = 0; j < ngens && r == CV_OK; j++) {
			if ((r = keys_root_label(k, gens[j], label,
			    sizeof label)) == CV_OK)
				r = p11_destroy(&k->p11, label);
		}
		if (r == CV_OK && (r = bind_label(old, label,
		    sizeof label)) == CV_OK)
			r = p11_data_drop(&k->p11, label);
		if (r == CV_OK)
			r = p11_ec_destroy(&k->p11, oldec);
	}
	goto out;
 undo:
	/* The keyring on disk still names the old roots: only ours go. */
	for (j = 0; j < ngens; j++) {
		if (keys_root_label(k, gens[j], label, sizeof label) == CV_OK)
			(void)p11_destroy(&k->p11, label);
	}
	if (bind_label(new_key_id, label, sizeof label) == CV_OK)
		(void)p11_data_drop(&k->p11, label);
	if (keys_ec_label(new_key_id, label, sizeof label) == CV_OK)
		(void)p11_ec_destroy(&k->p11, label);
 out:
	cv_keys_free(k);
	return r;
}

#define TOKENDIR "directories.tokendir"
#define DEFAULT_CONF "objectstore.backend = file\nlog.level = ERROR\n" \
	"slots.removable = false\n"

cv_err
softhsm_conf_fix(const char *conf)
{
	char dir[PATH_MAX], want[PATH_MAX + 16], *text = NULL, *slash;
	const char *p, *nl, *v, *ve;
	struct cv_buf out = { 0 };
	size_t len;
	int found = 0, right = 0;
	struct stat st;
	cv_err r;

	if (strlen(conf) >= sizeof dir)
		return cv_fail(CV_ERR_CONFIG, "path too long: %s", conf);
	strcpy(dir, conf);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else
		strcpy(dir, ".");
	if (realpath(dir, want) == NULL)
		return cv_fail(CV_ERR_HSM_TOKEN, "the vault's token folder %s "
		    "is missing (the private SoftHSM2 token is the root key: "
		    "restore it from its own backup)", dir);
	strcat(want, "/objects");
	if (stat(want, &st) != 0)
		return cv_fail(CV_ERR_HSM_TOKEN, "the token's objects folder %s "
		    "is missing (the private SoftHSM2 token is the root key: "
		    "restore it from its own backup)", want);
	/* Missing (a token backed up as objects/ and pin only): made anew
	 * with the settings init writes. */
	r = cv_file_read(conf, CV_CONFIG_MAX_BYTES, &text, &len);
	if (r == CV_ERR_NOT_FOUND && (text = strdup(DEFAULT_CONF)) != NULL) {
		len = strlen(text);
		r = CV_OK;
	}
	if (r != CV_OK)
		return r == CV_ERR_NOT_FOUND ? CV_ERR_NOMEM : r;
	/* Every line kept but the object folder's, which names the folder
	 * beside this file. */
	for (p = text; p < text + len; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(text + len - p))) == NULL)
			nl = text + len;
		for (v = p; v < nl && (*v == ' ' || *v == '\t'); v++)
			;
		if ((size_t)(nl - v) > sizeof TOKENDIR - 1 &&
		    memcmp(v, TOKENDIR, sizeof TOKENDIR - 1) == 0 &&
		    (v[sizeof TOKENDIR - 1] == ' ' ||
		    v[sizeof TOKENDIR - 1] == '=')) {
			found = 1;
			if ((v = memchr(v, '=', (size_t)(nl - v))) == NULL)
				continue;
			for (v++; v < nl && (*v == ' ' || *v == '\t'); v++)
				;
			for (ve = nl; ve > v && (ve[-1] == ' ' ||
			    ve[-1] == '\t' || ve[-1] == '\r'); ve--)
				;
			right = (size_t)(ve - v) == strlen(want) &&
			    memcmp(v, want, strlen(want)) == 0;
			continue;
		}
		if ((r = cv_buf_add(&out, p, (size_t)(nl - p))) != CV_OK ||
		    (r = cv_buf_add(&out, "\n", 1)) != CV_OK)
			goto out;
	}
	r = CV_OK;
	if (found && right)
		goto out;
	{
		char line[PATH_MAX + 64];
		int n = snprintf(line, sizeof line, "%s = %s\n", TOKENDIR,
		    want);
		struct cv_buf full = { 0 };

		if (n < 0 || (size_t)n >= sizeof line) {
			r = CV_ERR_INVALID;
			goto out;
		}
		if ((r = cv_buf_add(&full, line, (size_t)n)) == CV_OK &&
		    (r = cv_buf_add(&full, out.p, out.len)) == CV_OK)
			r = cv_file_replace(conf, full.p, full.len, 0600);
		cv_buf_free(&full);
	}
 out:
	cv_buf_free(&out);
	free(text);
	return r;
}
