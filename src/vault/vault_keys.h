/*
 * The keyring of an open vault. Private: only the key process (src/keyd,
 * whose constructor takes it once) and the core's composition of a
 * command's parts (src/core) include this; everything else asks keyd
 * through its typed requests. tests/structure/test_privsep.sh fails on
 * any other includer, so that whether a function can reach the keyring
 * shows in what it includes, not in what a vault handle happens to carry.
 */
#ifndef CV_VAULT_KEYS_H
#define CV_VAULT_KEYS_H

#include "../keys/keys.h"
#include "vault.h"

/* V's keys, borrowed (valid while V is); NULL on a handle opened without
 * them (cv_vault_open_store). */
struct cv_keys *cv_vault_keys(struct cv_vault *v);

#endif
