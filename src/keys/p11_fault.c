/*
 * The token's calls through fault injection, in test builds: the link
 * step cannot wrap calls made through the module's function list, so
 * p11_load hands out a copy whose entries we use fail first when
 * CLEARVAULT_FAULT says so (base/fault.c: class "p11", site the PKCS#11
 * name). CKR_DEVICE_ERROR is what a token that stops answering returns.
 * The clean-up calls whose results nobody reads (C_Finalize, C_Logout,
 * C_CloseSession, C_FindObjectsFinal) stay the module's own.
 */
#include "keys_internal.h"

#ifndef CV_TEST_HOOKS

CK_FUNCTION_LIST *
p11_fault_list(CK_FUNCTION_LIST *real)
{
	return real;
}

#else

static CK_FUNCTION_LIST *real, shim;

#define SHIM(fn, params, args) \
	static CK_RV s_##fn params \
	{ \
		if (cv_fault_at("p11", #fn)) \
			return CKR_DEVICE_ERROR; \
		return real->fn args; \
	}

SHIM(C_Initialize, (CK_VOID_PTR a), (a))
SHIM(C_GetSlotList, (CK_BBOOL t, CK_SLOT_ID_PTR l, CK_ULONG_PTR n),
    (t, l, n))
SHIM(C_GetTokenInfo, (CK_SLOT_ID s, CK_TOKEN_INFO_PTR i), (s, i))
SHIM(C_InitToken, (CK_SLOT_ID s, CK_UTF8CHAR_PTR pin, CK_ULONG n,
    CK_UTF8CHAR_PTR label), (s, pin, n, label))
SHIM(C_InitPIN, (CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG n),
    (h, pin, n))
SHIM(C_OpenSession, (CK_SLOT_ID s, CK_FLAGS f, CK_VOID_PTR app,
    CK_NOTIFY cb, CK_SESSION_HANDLE_PTR h), (s, f, app, cb, h))
SHIM(C_Login, (CK_SESSION_HANDLE h, CK_USER_TYPE u, CK_UTF8CHAR_PTR pin,
    CK_ULONG n), (h, u, pin, n))
SHIM(C_CreateObject, (CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n,
    CK_OBJECT_HANDLE_PTR o), (h, t, n, o))
SHIM(C_CopyObject, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
    CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR c), (h, o, t, n, c))
SHIM(C_DestroyObject, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o), (h, o))
SHIM(C_GetAttributeValue, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
    CK_ATTRIBUTE_PTR t, CK_ULONG n), (h, o, t, n))
SHIM(C_FindObjectsInit, (CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t,
    CK_ULONG n), (h, t, n))
SHIM(C_FindObjects, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR o,
    CK_ULONG max, CK_ULONG_PTR n), (h, o, max, n))
SHIM(C_EncryptInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
    CK_OBJECT_HANDLE k), (h, m, k))
SHIM(C_Encrypt, (CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG n,
    CK_BYTE_PTR out, CK_ULONG_PTR outn), (h, in, n, out, outn))
SHIM(C_DecryptInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
    CK_OBJECT_HANDLE k), (h, m, k))
SHIM(C_Decrypt, (CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG n,
    CK_BYTE_PTR out, CK_ULONG_PTR outn), (h, in, n, out, outn))
SHIM(C_SignInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
    CK_OBJECT_HANDLE k), (h, m, k))
SHIM(C_Sign, (CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG n,
    CK_BYTE_PTR out, CK_ULONG_PTR outn), (h, in, n, out, outn))
SHIM(C_GenerateKey, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
    CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR k), (h, m, t, n, k))
SHIM(C_GenerateKeyPair, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
    CK_ATTRIBUTE_PTR pt, CK_ULONG pn, CK_ATTRIBUTE_PTR vt, CK_ULONG vn,
    CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv),
    (h, m, pt, pn, vt, vn, pub, priv))

CK_FUNCTION_LIST *
p11_fault_list(CK_FUNCTION_LIST *list)
{
	/* Loaded once per process under p11_load's lock (keys/p11.c). */
	real = list;
	shim = *list;
	shim.C_Initialize = s_C_Initialize;
	shim.C_GetSlotList = s_C_GetSlotList;
	shim.C_GetTokenInfo = s_C_GetTokenInfo;
	shim.C_InitToken = s_C_InitToken;
	shim.C_InitPIN = s_C_InitPIN;
	shim.C_OpenSession = s_C_OpenSession;
	shim.C_Login = s_C_Login;
	shim.C_CreateObject = s_C_CreateObject;
	shim.C_CopyObject = s_C_CopyObject;
	shim.C_DestroyObject = s_C_DestroyObject;
	shim.C_GetAttributeValue = s_C_GetAttributeValue;
	shim.C_FindObjectsInit = s_C_FindObjectsInit;
	shim.C_FindObjects = s_C_FindObjects;
	shim.C_EncryptInit = s_C_EncryptInit;
	shim.C_Encrypt = s_C_Encrypt;
	shim.C_DecryptInit = s_C_DecryptInit;
	shim.C_Decrypt = s_C_Decrypt;
	shim.C_SignInit = s_C_SignInit;
	shim.C_Sign = s_C_Sign;
	shim.C_GenerateKey = s_C_GenerateKey;
	shim.C_GenerateKeyPair = s_C_GenerateKeyPair;
	return &shim;
}

#endif
