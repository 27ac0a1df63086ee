/*
 * The vault's configuration file, DIR/clearvault.conf: which PKCS#11 module
 * and token hold the root keys, and where the PIN is. Plain "key = value"
 * lines; '#' starts a comment.
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

struct cv_config {
	char vault_id[CV_VAULT_ID_LEN + 1];
	char pkcs11_module[CV_CONFIG_PATH_MAX];
	char token_label[CV_TOKEN_LABEL_MAX + 1];
	char pin_file[CV_CONFIG_PATH_MAX];
	/* Empty unless the vault owns a private SoftHSM2 token. */
	char softhsm2_conf[CV_CONFIG_PATH_MAX];
	/* The fewest canary records the vault keeps (decimal, at most 7
	 * digits); empty: the default. */
	char canaries[8];
};

/*
 * Parses configuration TEXT (LEN bytes, need not be NUL-terminated) into
 * *out. Relative paths are kept as written. CV_ERR_CONFIG with a detail
 * naming the line on any unknown key, duplicate, overlong value, control
 * character or missing required key; *out is then zeroed.
 */
cv_err cv_config_parse(const char *text, size_t len,
    struct cv_config *out) CV_MUST_CHECK;

/*
 * Reads DIR/clearvault.conf and resolves relative paths against DIR.
 * CV_ERR_CONFIG when the file is missing (no vault there) or bad.
 */
cv_err cv_config_load(const char *dir, struct cv_config *out) CV_MUST_CHECK;

/* Writes C as a new DIR/clearvault.conf (0600). CV_ERR_EXISTS if present. */
cv_err cv_config_save(const char *dir,
    const struct cv_config *c) CV_MUST_CHECK;

#endif
