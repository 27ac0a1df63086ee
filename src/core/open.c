/*
 * Putting a vault's parts together for a process. The log gets a signer
 * for checkpoints and nothing else of the keyring.
 */
#include "../vault/vault_keys.h"
#include "core.h"

static cv_err
sign_checkpoint(void *ctx, const uint8_t *msg, size_t len,
    uint8_t sig[static CV_ED25519_SIG])
{
	return cv_keys_audit_sign(ctx, msg, len, sig);
}

cv_err
cv_core_audit_open(struct cv_vault *v, int readonly, struct cv_audit **out)
{
	struct cv_audit_signer s = { .sign = NULL };
	struct cv_keys *k = cv_vault_keys(v);

	if (k != NULL) {
		cv_keys_audit_pubkey(k, s.pk);
		s.sign = sign_checkpoint;
		s.ctx = k;
	}
	return cv_audit_open(cv_vault_dir(v), cv_vault_db(v), cv_vault_id(v),
	    &s, readonly, out);
}
