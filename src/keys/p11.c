/*
 * PKCS#11 glue: the one file that speaks to the HSM. Only token-resident,
 * non-extractable AES keys are used; the token seals and unseals keyring
 * keys with AES-GCM and never hands its own keys out.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys_internal.h"

/*
 * A PKCS#11 module is initialised once per process; every vault opened in
 * this process shares it. SoftHSM2 reads SOFTHSM2_CONF at C_Initialize,
 * so one process serves one SoftHSM2 configuration.
 */
static struct {
	pthread_mutex_t mu;
	void *dl;
	CK_FUNCTION_LIST *f;
	char module[1024], conf[1024];
	int refs;
} g = { .mu = PTHREAD_MUTEX_INITIALIZER };

cv_err
ck_fail(cv_err r, const char *what, CK_RV rv)
{
	return cv_fail(r, "PKCS#11 %s failed (CKR 0x%lx)", what,
	    (unsigned long)rv);
}

cv_err
p11_load(struct p11 *p, const char *module, const char *softhsm_conf)
{
	CK_C_GetFunctionList get;
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;
	cv_err r = CV_ERR_HSM;

	memset(p, 0, sizeof *p);
	pthread_mutex_lock(&g.mu);
	if (g.refs > 0) {
		if (strcmp(g.module, module) != 0 ||
		    strcmp(g.conf, softhsm_conf ? softhsm_conf : "") != 0) {
			r = cv_fail(CV_ERR_HSM, "this process already uses "
			    "another PKCS#11 module or SoftHSM2 config");
			goto out;
		}
		g.refs++;
		goto done;
	}
	if (strlen(module) >= sizeof g.module || (softhsm_conf &&
	    strlen(softhsm_conf) >= sizeof g.conf)) {
		r = cv_fail(CV_ERR_CONFIG, "module path too long");
		goto out;
	}
	if (softhsm_conf && *softhsm_conf &&
	    setenv("SOFTHSM2_CONF", softhsm_conf, 1) != 0)
		goto out;
	if ((g.dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		r = cv_fail(CV_ERR_HSM, "cannot load PKCS#11 module %s",
		    module);
		goto out;
	}
	get = (CK_C_GetFunctionList)(uintptr_t)dlsym(g.dl,
	    "C_GetFunctionList");
	if (get == NULL || get(&g.f) != CKR_OK || g.f == NULL) {
		r = cv_fail(CV_ERR_HSM, "%s is not a PKCS#11 module", module);
		goto fail;
	}
	g.f = p11_fault_list(g.f);
	memset(&args, 0, sizeof args);
	args.flags = CKF_OS_LOCKING_OK;
	rv = g.f->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		r = ck_fail(CV_ERR_HSM, "C_Initialize", rv);
		goto fail;
	}
	strcpy(g.module, module);
	strcpy(g.conf, softhsm_conf ? softhsm_conf : "");
	g.refs = 1;
 done:
	p->f = g.f;
	p->loaded = 1;
	r = CV_OK;
	goto out;
 fail:
	dlclose(g.dl);
	g.dl = NULL;
	g.f = NULL;
 out:
	pthread_mutex_unlock(&g.mu);
	return r;
}

static cv_err find_first(struct p11 *, CK_OBJECT_CLASS, const char *,
    CK_OBJECT_HANDLE *, CK_ULONG *);

static void
pad_label(unsigned char out[32], const char *label)
{
	size_t n = strlen(label);

	memset(out, ' ', 32);
	memcpy(out, label, n > 32 ? 32 : n);
}

static cv_err
find_slot(struct p11 *p, const char *label, int initialized, CK_SLOT_ID *out)
{
	CK_SLOT_ID *slots = NULL;
	CK_TOKEN_INFO ti;
	CK_ULONG n = 0, i;
	unsigned char want[32];
	CK_RV rv;
	cv_err r = CV_ERR_HSM;

	if ((rv = p->f->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_GetSlotList", rv);
	if (n == 0)
		return cv_fail(CV_ERR_HSM_TOKEN, "the PKCS#11 module has no "
		    "token");
	if ((slots = calloc(n, sizeof *slots)) == NULL)
		return CV_ERR_NOMEM;
	if ((rv = p->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
		r = ck_fail(CV_ERR_HSM, "C_GetSlotList", rv);
		goto out;
	}
	pad_label(want, label ? label : "");
	for (i = 0; i < n; i++) {
		if (p->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (!initialized && !(ti.flags & CKF_TOKEN_INITIALIZED))
			break;
		if (initialized && (ti.flags & CKF_TOKEN_INITIALIZED) &&
		    memcmp(ti.label, want, 32) == 0)
			break;
	}
	if (i == n) {
		r = initialized ? cv_fail(CV_ERR_HSM_TOKEN, "no token "
		    "labelled '%s'", label) : cv_fail(CV_ERR_HSM_TOKEN,
		    "no free token slot");
		goto out;
	}
	*out = slots[i];
	r = CV_OK;
 out:
	free(slots);
	return r;
}

static cv_err
open_session(struct p11 *p)
{
	CK_RV rv;

	rv = p->f->C_OpenSession(p->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
	    NULL, NULL, &p->sess);
	if (rv != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_OpenSession", rv);
	p->have_sess = 1;
	return CV_OK;
}

static cv_err
login(struct p11 *p, CK_USER_TYPE who, const char *pin)
{
	CK_RV rv;

	rv = p->f->C_Login(p->sess, who, (CK_UTF8CHAR_PTR)(uintptr_t)pin,
	    strlen(pin));
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE ||
	    rv == CKR_PIN_INVALID || rv == CKR_PIN_LOCKED)
		return cv_fail(CV_ERR_HSM_PIN, "the token refused the PIN "
		    "(CKR 0x%lx)", (unsigned long)rv);
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return ck_fail(CV_ERR_HSM, "C_Login", rv);
	p->logged_in = who == CKU_USER;
	return CV_OK;
}

cv_err
p11_init_token(struct p11 *p, const char *label, const char *so_pin,
    const char *user_pin)
{
	unsigned char plabel[32];
	CK_RV rv;
	cv_err r;

	if ((r = find_slot(p, NULL, 0, &p->slot)) != CV_OK)
		return r;
	pad_label(plabel, label);
	rv = p->f->C_InitToken(p->slot, (CK_UTF8CHAR_PTR)(uintptr_t)so_pin,
	    strlen(so_pin), plabel);
	if (rv != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_InitToken", rv);
	/* SoftHSM2 may move an initialised token to another slot id. */
	if ((r = find_slot(p, label, 1, &p->slot)) != CV_OK ||
	    (r = open_session(p)) != CV_OK ||
	    (r = login(p, CKU_SO, so_pin)) != CV_OK)
		return r;
	rv = p->f->C_InitPIN(p->sess, (CK_UTF8CHAR_PTR)(uintptr_t)user_pin,
	    strlen(user_pin));
	if (rv != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_InitPIN", rv);
	(void)p->f->C_Logout(p->sess);
	return login(p, CKU_USER, user_pin);
}

cv_err
p11_login(struct p11 *p, const char *label, const char *pin)
{
	cv_err r;

	if ((r = find_slot(p, label, 1, &p->slot)) != CV_OK ||
	    (r = open_session(p)) != CV_OK)
		return r;
	return login(p, CKU_USER, pin);
}

cv_err
p11_find_key(struct p11 *p, const char *label, CK_OBJECT_HANDLE *h)
{
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 2;
	cv_err r;

	if ((r = find_first(p, CKO_SECRET_KEY, label, found, &n)) != CV_OK)
		return r;
	if (n == 0)
		return cv_fail(CV_ERR_HSM_KEY, "no key '%s' in the token",
		    label);
	if (n > 1)
		return cv_fail(CV_ERR_HSM_KEY, "more than one key '%s' in "
		    "the token", label);
	*h = found[0];
	return CV_OK;
}

cv_err
p11_gen_key(struct p11 *p, const char *label, CK_OBJECT_HANDLE *h)
{
	CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ULONG len = 32;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_KEY_TYPE, &kt, sizeof kt },
		{ CKA_VALUE_LEN, &len, sizeof len },
		{ CKA_TOKEN, &yes, sizeof yes },
		{ CKA_PRIVATE, &yes, sizeof yes },
		{ CKA_SENSITIVE, &yes, sizeof yes },
		{ CKA_EXTRACTABLE, &no, sizeof no },
		{ CKA_ENCRYPT, &yes, sizeof yes },
		{ CKA_DECRYPT, &yes, sizeof yes },
		{ CKA_WRAP, &no, sizeof no },
		{ CKA_UNWRAP, &no, sizeof no },
		{ CKA_LABEL, (void *)(uintptr_t)label, strlen(label) },
	};
	CK_RV rv;

	rv = p->f->C_GenerateKey(p->sess, &mech, tmpl,
	    sizeof tmpl / sizeof tmpl[0], h);
	if (rv != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_GenerateKey", rv);
	return CV_OK;
}

static cv_err
find_first(struct p11 *p, CK_OBJECT_CLASS cls, const char *label,
    CK_OBJECT_HANDLE *h, CK_ULONG *n)
{
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_LABEL, (void *)(uintptr_t)label, strlen(label) },
	};
	CK_RV rv;

	if ((rv = p->f->C_FindObjectsInit(p->sess, tmpl, 2)) != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_FindObjectsInit", rv);
	rv = p->f->C_FindObjects(p->sess, h, *n, n);
	(void)p->f->C_FindObjectsFinal(p->sess);
	if (rv != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_FindObjects", rv);
	return CV_OK;
}

static cv_err
destroy_class(struct p11 *p, CK_OBJECT_CLASS cls, const char *label)
{
	CK_OBJECT_HANDLE h;
	CK_ULONG n;
	CK_RV rv;
	cv_err r;

	/* Bounded: a token holds few objects with one label. */
	for (int i = 0; i < 64; i++) {
		n = 1;
		if ((r = find_first(p, cls, label, &h, &n)) != CV_OK)
			return r;
		if (n == 0)
			return CV_OK;
		if ((rv = p->f->C_DestroyObject(p->sess, h)) != CKR_OK)
			return ck_fail(CV_ERR_HSM, "C_DestroyObject", rv);
	}
	return cv_fail(CV_ERR_HSM, "too many objects labelled %s", label);
}

cv_err
p11_destroy(struct p11 *p, const char *label)
{
	return destroy_class(p, CKO_SECRET_KEY, label);
}

#define P11_APP "clearvault"

cv_err
p11_data_get(struct p11 *p, const char *label, uint8_t *buf, size_t *len)
{
	CK_OBJECT_HANDLE h[2];
	CK_ULONG n = 2;
	CK_ATTRIBUTE a = { CKA_VALUE, buf, *len };
	CK_RV rv;
	cv_err r;

	if ((r = find_first(p, CKO_DATA, label, h, &n)) != CV_OK)
		return r;
	if (n == 0)
		return CV_ERR_NOT_FOUND;
	if (n > 1)
		return cv_fail(CV_ERR_HSM_KEY, "more than one object '%s' in "
		    "the token", label);
	if ((rv = p->f->C_GetAttributeValue(p->sess, h[0], &a, 1)) != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_GetAttributeValue", rv);
	*len = a.ulValueLen;
	return CV_OK;
}

cv_err
p11_data_put(struct p11 *p, const char *label, const uint8_t *buf,
    size_t len)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_TOKEN, &yes, sizeof yes },
		{ CKA_PRIVATE, &yes, sizeof yes },
		{ CKA_APPLICATION, (void *)(uintptr_t)P11_APP,
		    sizeof P11_APP - 1 },
		{ CKA_LABEL, (void *)(uintptr_t)label, strlen(label) },
		{ CKA_VALUE, (void *)(uintptr_t)buf, len },
	};
	CK_OBJECT_HANDLE h;
	CK_RV rv;
	cv_err r;

	/* Replaced, not edited: not every module lets CKA_VALUE change. A
	 * crash in between leaves none, which the next open writes again. */
	if ((r = destroy_class(p, CKO_DATA, label)) != CV_OK)
		return r;
	rv = p->f->C_CreateObject(p->sess, tmpl, sizeof tmpl / sizeof tmpl[0],
	    &h);
	if (rv != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_CreateObject", rv);
	return CV_OK;
}

cv_err
p11_data_drop(struct p11 *p, const char *label)
{
	return destroy_class(p, CKO_DATA, label);
}

cv_err
p11_data_each(struct p11 *p, int (*fn)(void *ctx, const uint8_t *buf,
    size_t len), void *ctx)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_APPLICATION, (void *)(uintptr_t)P11_APP,
		    sizeof P11_APP - 1 },
	};
	CK_OBJECT_HANDLE h[32];
	CK_ULONG n = 0;
	uint8_t buf[P11_DATA_MAX];
	CK_RV rv;

	if ((rv = p->f->C_FindObjectsInit(p->sess, tmpl, 2)) != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_FindObjectsInit", rv);
	rv = p->f->C_FindObjects(p->sess, h, 32, &n);
	(void)p->f->C_FindObjectsFinal(p->sess);
	if (rv != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_FindObjects", rv);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_ATTRIBUTE a = { CKA_VALUE, buf, sizeof buf };
		if (p->f->C_GetAttributeValue(p->sess, h[i], &a, 1) != CKR_OK)
			continue;
		if (fn(ctx, buf, a.ulValueLen))
			break;
	}
	return CV_OK;
}

cv_err
p11_token_info(struct p11 *p, char serial[static 17])
{
	CK_TOKEN_INFO ti;
	CK_RV rv;
	size_t n = sizeof ti.serialNumber;

	if ((rv = p->f->C_GetTokenInfo(p->slot, &ti)) != CKR_OK)
		return ck_fail(CV_ERR_HSM_TOKEN, "C_GetTokenInfo", rv);
	memcpy(serial, ti.serialNumber, n);
	while (n > 0 && serial[n - 1] == ' ')
		n--;
	serial[n] = '\0';
	return CV_OK;
}

/*
 * Starts the module over: SoftHSM2, for one, never finds a token again
 * once its folder has gone, until it is initialised anew. Only for the
 * module's one user in the process (its sessions all end).
 */
static cv_err
reinit(struct p11 *p)
{
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;
	cv_err r = CV_OK;

	pthread_mutex_lock(&g.mu);
	if (g.refs != 1 || g.f != p->f) {
		r = cv_fail(CV_ERR_HSM, "the PKCS#11 module has other users in "
		    "this process; not restarted");
		goto out;
	}
	p->have_sess = p->logged_in = 0;
	(void)g.f->C_Finalize(NULL);
	memset(&args, 0, sizeof args);
	args.flags = CKF_OS_LOCKING_OK;
	rv = g.f->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		r = ck_fail(CV_ERR_HSM, "C_Initialize", rv);
 out:
	pthread_mutex_unlock(&g.mu);
	return r;
}

cv_err
p11_relogin(struct p11 *p, const char *label, const char *pin)
{
	char detail[512];
	cv_err r;

	/*
	 * Logging out first is what makes the token check the PIN again
	 * (C_Login of a logged-in application succeeds without looking at
	 * it). A session on a token that went away may be dead for good:
	 * then the module is started over and asked again.
	 */
	if (p->have_sess) {
		if (p->logged_in)
			(void)p->f->C_Logout(p->sess);
		(void)p->f->C_CloseSession(p->sess);
	}
	p->have_sess = p->logged_in = 0;
	if ((r = p11_login(p, label, pin)) == CV_OK || r == CV_ERR_HSM_PIN)
		return r;
	snprintf(detail, sizeof detail, "%s", cv_err_detail());
	if (reinit(p) != CV_OK)
		return cv_fail(r, "%s", detail);
	return p11_login(p, label, pin);
}

static void
gcm_params(CK_GCM_PARAMS *gp, CK_MECHANISM *m, uint8_t *iv,
    const uint8_t *aad, size_t aadlen)
{
	memset(gp, 0, sizeof *gp);
	gp->pIv = iv;
	gp->ulIvLen = 12;
	gp->ulIvBits = 96;
	gp->pAAD = (CK_BYTE_PTR)(uintptr_t)aad;
	gp->ulAADLen = aadlen;
	gp->ulTagBits = 128;
	m->mechanism = CKM_AES_GCM;
	m->pParameter = gp;
	m->ulParameterLen = sizeof *gp;
}

cv_err
p11_seal(struct p11 *p, CK_OBJECT_HANDLE key, const uint8_t *aad,
    size_t aadlen, const uint8_t *pt, size_t ptlen, uint8_t *out)
{
	CK_GCM_PARAMS gp;
	CK_MECHANISM m;
	CK_ULONG outlen = ptlen + 16;
	CK_RV rv;

	randombytes_buf(out, 12);
	gcm_params(&gp, &m, out, aad, aadlen);
	if ((rv = p->f->C_EncryptInit(p->sess, &m, key)) != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_EncryptInit (AES-GCM)", rv);
	rv = p->f->C_Encrypt(p->sess, (CK_BYTE_PTR)(uintptr_t)pt, ptlen,
	    out + 12, &outlen);
	if (rv != CKR_OK || outlen != ptlen + 16)
		return ck_fail(CV_ERR_HSM, "C_Encrypt", rv);
	return CV_OK;
}

cv_err
p11_unseal(struct p11 *p, CK_OBJECT_HANDLE key, const uint8_t *aad,
    size_t aadlen, const uint8_t *in, size_t inlen, uint8_t *pt)
{
	CK_GCM_PARAMS gp;
	CK_MECHANISM m;
	uint8_t iv[12];
	uint8_t tmp[KR_KEY_BYTES + 16];
	CK_ULONG outlen = sizeof tmp;
	CK_RV rv;
	cv_err r = CV_ERR_AUTH;

	if (inlen < P11_SEAL_OVERHEAD || inlen - 12 > sizeof tmp)
		return cv_fail(CV_ERR_FORMAT, "sealed key has a bad length");
	memcpy(iv, in, 12);
	gcm_params(&gp, &m, iv, aad, aadlen);
	if ((rv = p->f->C_DecryptInit(p->sess, &m, key)) != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_DecryptInit (AES-GCM)", rv);
	/* Some modules write the plaintext before checking the tag, so it
	 * lands in a scratch buffer that is wiped on every path. */
	rv = p->f->C_Decrypt(p->sess, (CK_BYTE_PTR)(uintptr_t)in + 12,
	    inlen - 12, tmp, &outlen);
	if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_DATA_INVALID ||
	    rv == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED) {
		r = cv_fail(CV_ERR_AUTH, "a keyring key failed to unseal "
		    "(keyring file altered, or another vault's token)");
		goto out;
	}
	if (rv != CKR_OK || outlen != inlen - P11_SEAL_OVERHEAD) {
		r = ck_fail(CV_ERR_HSM, "C_Decrypt", rv);
		goto out;
	}
	memcpy(pt, tmp, outlen);
	r = CV_OK;
 out:
	sodium_memzero(tmp, sizeof tmp);
	return r;
}

void
p11_close(struct p11 *p)
{
	if (p == NULL || !p->loaded)
		return;
	if (p->logged_in)
		(void)p->f->C_Logout(p->sess);
	if (p->have_sess)
		(void)p->f->C_CloseSession(p->sess);
	pthread_mutex_lock(&g.mu);
	if (--g.refs == 0) {
		(void)g.f->C_Finalize(NULL);
		/* SoftHSM2 keeps static state alive past C_Finalize; unloading
		 * it is what some modules crash on, so leave it mapped. */
		g.f = NULL;
	}
	pthread_mutex_unlock(&g.mu);
	memset(p, 0, sizeof *p);
}
