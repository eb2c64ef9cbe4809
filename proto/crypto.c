/* OpenSSL 3 wrappers; see crypto.h. */
#include "proto/crypto.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/rand.h>

/* ---- memory hygiene ---------------------------------------------------- */

void crypto_wipe(void *p, size_t n)
{
	if (p != NULL && n != 0)
		OPENSSL_cleanse(p, n);
}

int crypto_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

int crypto_secret_alloc(struct crypto_secret *s, size_t len)
{
	s->p = NULL;
	s->len = 0;
	/* calloc(0) may return NULL; keep a valid pointer for empty secrets. */
	s->p = calloc(1, len ? len : 1);
	if (s->p == NULL)
		return EPOCH_ERR_NOMEM;
	s->len = len;
	return EPOCH_OK;
}

int crypto_secret_dup(struct crypto_secret *s, const uint8_t *src, size_t len)
{
	GUARD(crypto_secret_alloc(s, len));
	if (len != 0)
		memcpy(s->p, src, len);
	return EPOCH_OK;
}

void crypto_secret_free(struct crypto_secret *s)
{
	if (s->p != NULL) {
		crypto_wipe(s->p, s->len);
		free(s->p);
	}
	s->p = NULL;
	s->len = 0;
}

/* ---- algorithm objects, fetched once ----------------------------------- */

/* Explicit fetches avoid OpenSSL's implicit per-call lookup (which costs a
 * lock and a hash-table probe on every EVP_DigestInit). */
static EVP_MD *md_sha256, *md_sha384, *md_sha512, *md_sha3_256, *md_sha3_512,
	*md_shake128, *md_shake256;
static EVP_CIPHER *ci_aes128gcm, *ci_aes256gcm, *ci_chacha;
static EVP_KDF *kdf_hkdf;
static int fetch_ok;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_all(void)
{
	md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	md_sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
	md_sha512 = EVP_MD_fetch(NULL, "SHA512", NULL);
	md_sha3_256 = EVP_MD_fetch(NULL, "SHA3-256", NULL);
	md_sha3_512 = EVP_MD_fetch(NULL, "SHA3-512", NULL);
	md_shake128 = EVP_MD_fetch(NULL, "SHAKE128", NULL);
	md_shake256 = EVP_MD_fetch(NULL, "SHAKE256", NULL);
	ci_aes128gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	ci_aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	ci_chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	kdf_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	fetch_ok = md_sha256 && md_sha384 && md_sha512 && md_sha3_256 &&
		   md_sha3_512 && md_shake128 && md_shake256 && ci_aes128gcm &&
		   ci_aes256gcm && ci_chacha && kdf_hkdf;
}

static int fetched(void)
{
	if (pthread_once(&fetch_once, fetch_all) != 0)
		return 0;
	return fetch_ok;
}

static const EVP_MD *hash_md(enum crypto_hash h)
{
	if (!fetched())
		return NULL;
	switch (h) {
	case CRYPTO_SHA256: return md_sha256;
	case CRYPTO_SHA384: return md_sha384;
	case CRYPTO_SHA512: return md_sha512;
	}
	return NULL;
}

static const char *hash_name(enum crypto_hash h)
{
	switch (h) {
	case CRYPTO_SHA256: return "SHA256";
	case CRYPTO_SHA384: return "SHA384";
	case CRYPTO_SHA512: return "SHA512";
	}
	return NULL;
}

/* ---- randomness -------------------------------------------------------- */

int crypto_random(const struct crypto_rng *rng, uint8_t *out, size_t n)
{
	if (rng != NULL)
		return rng->fill(rng->ctx, out, n);
	while (n > 0) {
		int chunk = n > INT_MAX ? INT_MAX : (int)n;

		if (RAND_priv_bytes(out, chunk) != 1)
			return EPOCH_ERR_RNG;
		out += chunk;
		n -= (size_t)chunk;
	}
	return EPOCH_OK;
}

/* ---- hashes ------------------------------------------------------------ */

size_t crypto_hash_len(enum crypto_hash h)
{
	switch (h) {
	case CRYPTO_SHA256: return 32;
	case CRYPTO_SHA384: return 48;
	case CRYPTO_SHA512: return 64;
	}
	return 0;
}

static int digest_oneshot(const EVP_MD *md, const uint8_t *in, size_t len,
			  uint8_t *out, size_t outlen, int xof)
{
	EVP_MD_CTX *ctx;
	int ok;

	if (md == NULL)
		return EPOCH_ERR_UNSUPPORTED;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return EPOCH_ERR_NOMEM;
	ok = EVP_DigestInit_ex2(ctx, md, NULL) == 1 &&
	     EVP_DigestUpdate(ctx, in, len) == 1 &&
	     (xof ? EVP_DigestFinalXOF(ctx, out, outlen) == 1
		  : EVP_DigestFinal_ex(ctx, out, NULL) == 1);
	EVP_MD_CTX_free(ctx);
	return ok ? EPOCH_OK : EPOCH_ERR_CRYPTO;
}

int crypto_hash(enum crypto_hash h, const uint8_t *in, size_t len,
		uint8_t *out)
{
	return digest_oneshot(hash_md(h), in, len, out, 0, 0);
}

struct crypto_hash_ctx {
	EVP_MD_CTX *md;
};

int crypto_hash_new(struct crypto_hash_ctx **out, enum crypto_hash h)
{
	const EVP_MD *md = hash_md(h);
	struct crypto_hash_ctx *ctx;

	*out = NULL;
	if (md == NULL)
		return EPOCH_ERR_UNSUPPORTED;
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return EPOCH_ERR_NOMEM;
	ctx->md = EVP_MD_CTX_new();
	if (ctx->md == NULL || EVP_DigestInit_ex2(ctx->md, md, NULL) != 1) {
		crypto_hash_free(ctx);
		return EPOCH_ERR_CRYPTO;
	}
	*out = ctx;
	return EPOCH_OK;
}

int crypto_hash_update(struct crypto_hash_ctx *ctx, const uint8_t *in,
		       size_t len)
{
	return EVP_DigestUpdate(ctx->md, in, len) == 1 ? EPOCH_OK
						       : EPOCH_ERR_CRYPTO;
}

int crypto_hash_peek(const struct crypto_hash_ctx *ctx, uint8_t *out)
{
	EVP_MD_CTX *tmp = EVP_MD_CTX_new();
	int ok;

	if (tmp == NULL)
		return EPOCH_ERR_NOMEM;
	ok = EVP_MD_CTX_copy_ex(tmp, ctx->md) == 1 &&
	     EVP_DigestFinal_ex(tmp, out, NULL) == 1;
	EVP_MD_CTX_free(tmp);
	return ok ? EPOCH_OK : EPOCH_ERR_CRYPTO;
}

int crypto_hash_copy(struct crypto_hash_ctx **dst,
		     const struct crypto_hash_ctx *src)
{
	struct crypto_hash_ctx *ctx = calloc(1, sizeof(*ctx));

	*dst = NULL;
	if (ctx == NULL)
		return EPOCH_ERR_NOMEM;
	ctx->md = EVP_MD_CTX_new();
	if (ctx->md == NULL || EVP_MD_CTX_copy_ex(ctx->md, src->md) != 1) {
		crypto_hash_free(ctx);
		return EPOCH_ERR_CRYPTO;
	}
	*dst = ctx;
	return EPOCH_OK;
}

void crypto_hash_free(struct crypto_hash_ctx *ctx)
{
	if (ctx == NULL)
		return;
	EVP_MD_CTX_free(ctx->md);
	free(ctx);
}

/* ---- HMAC and HKDF ----------------------------------------------------- */

int crypto_hmac(enum crypto_hash h, const uint8_t *key, size_t keylen,
		const uint8_t *msg, size_t msglen, uint8_t *out)
{
	const EVP_MD *md = hash_md(h);
	static const uint8_t empty[1];
	unsigned int outlen = 0;

	if (md == NULL || keylen > INT_MAX)
		return EPOCH_ERR_UNSUPPORTED;
	/* HMAC() treats a NULL key as "reuse the previous key": never pass one. */
	if (HMAC(md, key != NULL ? key : empty, (int)keylen,
		 msg != NULL ? msg : empty, msglen, out, &outlen) == NULL)
		return EPOCH_ERR_CRYPTO;
	return outlen == crypto_hash_len(h) ? EPOCH_OK : EPOCH_ERR_CRYPTO;
}

static int hkdf_run(enum crypto_hash h, int mode, const uint8_t *salt,
		    size_t saltlen, const uint8_t *key, size_t keylen,
		    const uint8_t *info, size_t infolen, uint8_t *out,
		    size_t outlen)
{
	static uint8_t empty[1];
	const char *name = hash_name(h);
	OSSL_PARAM params[6], *p = params;
	EVP_KDF_CTX *kctx;
	int ok;

	if (name == NULL || !fetched())
		return EPOCH_ERR_UNSUPPORTED;
	kctx = EVP_KDF_CTX_new(kdf_hkdf);
	if (kctx == NULL)
		return EPOCH_ERR_NOMEM;
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)name, 0);
	/* OpenSSL rejects a zero-length key; RFC 5869 allows empty IKM, and an
	 * empty salt means HashLen zeros, which is what HMAC does with an empty
	 * key anyway. */
	*p++ = OSSL_PARAM_construct_octet_string(
		OSSL_KDF_PARAM_KEY, keylen ? (void *)key : empty, keylen);
	if (saltlen != 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
							 (void *)salt, saltlen);
	if (infolen != 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
							 (void *)info, infolen);
	*p = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, outlen, params) == 1;
	EVP_KDF_CTX_free(kctx);
	return ok ? EPOCH_OK : EPOCH_ERR_CRYPTO;
}

int crypto_hkdf_extract(enum crypto_hash h, const uint8_t *salt,
			size_t saltlen, const uint8_t *ikm, size_t ikmlen,
			uint8_t *prk)
{
	size_t hl = crypto_hash_len(h);
	uint8_t zeros[CRYPTO_HASH_MAX] = { 0 };

	if (hl == 0)
		return EPOCH_ERR_UNSUPPORTED;
	/* OpenSSL's HKDF refuses an empty key (the IKM); HMAC with an empty
	 * key equals HMAC keyed with zeros, so extract directly. */
	if (saltlen == 0) {
		salt = zeros;
		saltlen = hl;
	}
	return crypto_hmac(h, salt, saltlen, ikm, ikmlen, prk);
}

int crypto_hkdf_expand(enum crypto_hash h, const uint8_t *prk, size_t prklen,
		       const uint8_t *info, size_t infolen, uint8_t *out,
		       size_t outlen)
{
	size_t hl = crypto_hash_len(h);

	if (hl == 0)
		return EPOCH_ERR_UNSUPPORTED;
	if (outlen > 255 * hl || prklen < hl)
		return EPOCH_ERR_INVALID_ARG;
	if (outlen == 0)
		return EPOCH_OK;
	return hkdf_run(h, EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, prk, prklen,
			info, infolen, out, outlen);
}

/* ---- AEAD -------------------------------------------------------------- */

size_t crypto_aead_key_len(enum crypto_aead a)
{
	switch (a) {
	case CRYPTO_AES128GCM: return 16;
	case CRYPTO_AES256GCM: return 32;
	case CRYPTO_CHACHA20POLY1305: return 32;
	}
	return 0;
}

static const EVP_CIPHER *aead_cipher(enum crypto_aead a)
{
	if (!fetched())
		return NULL;
	switch (a) {
	case CRYPTO_AES128GCM: return ci_aes128gcm;
	case CRYPTO_AES256GCM: return ci_aes256gcm;
	case CRYPTO_CHACHA20POLY1305: return ci_chacha;
	}
	return NULL;
}

/* One pass of seal (enc = 1) or open (enc = 0). len is the plaintext
 * length; tag is written (seal) or checked (open). */
static int aead_run(enum crypto_aead a, int enc, const uint8_t *key,
		    const uint8_t *nonce, const uint8_t *aad, size_t aadlen,
		    const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	const EVP_CIPHER *ci = aead_cipher(a);
	uint8_t none[1];
	EVP_CIPHER_CTX *ctx;
	int n, ok = 0, rc = EPOCH_ERR_CRYPTO;

	if (ci == NULL)
		return EPOCH_ERR_UNSUPPORTED;
	if (len > INT_MAX || aadlen > INT_MAX)
		return EPOCH_ERR_INVALID_ARG;
	/* An empty message may come with a NULL buffer; never offset NULL. */
	if (out == NULL)
		out = none;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return EPOCH_ERR_NOMEM;
	if (EVP_CipherInit_ex2(ctx, ci, key, nonce, enc, NULL) != 1)
		goto out;
	if (aadlen != 0 &&
	    EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	if (len != 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG,
					CRYPTO_AEAD_TAG_LEN, tag) != 1)
		goto out;
	ok = EVP_CipherFinal_ex(ctx, out + len, &n) == 1;
	if (!ok) {
		rc = enc ? EPOCH_ERR_CRYPTO : EPOCH_ERR_AUTH;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG,
				       CRYPTO_AEAD_TAG_LEN, tag) != 1)
		goto out;
	rc = EPOCH_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int crypto_aead_seal(enum crypto_aead a, const uint8_t *key,
		     const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN],
		     const uint8_t *aad, size_t aadlen, const uint8_t *pt,
		     size_t ptlen, uint8_t *out)
{
	return aead_run(a, 1, key, nonce, aad, aadlen, pt, ptlen, out,
			out + ptlen);
}

int crypto_aead_open(enum crypto_aead a, const uint8_t *key,
		     const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN],
		     const uint8_t *aad, size_t aadlen, const uint8_t *ct,
		     size_t ctlen, uint8_t *out)
{
	uint8_t tag[CRYPTO_AEAD_TAG_LEN];
	size_t len;
	int rc;

	if (ctlen < CRYPTO_AEAD_TAG_LEN)
		return EPOCH_ERR_AUTH;
	len = ctlen - CRYPTO_AEAD_TAG_LEN;
	/* Copy the tag first: out may overlap ct. */
	memcpy(tag, ct + len, sizeof(tag));
	rc = aead_run(a, 0, key, nonce, aad, aadlen, ct, len, out, tag);
	if (rc != EPOCH_OK)
		crypto_wipe(out, len);
	return rc;
}

/* ---- raw EVP_PKEY helpers (X25519, Ed25519) ---------------------------- */

static EVP_PKEY *raw_private(int type, const uint8_t sk[32])
{
	return EVP_PKEY_new_raw_private_key(type, NULL, sk, 32);
}

/* A key from its private and public halves. OpenSSL 3.0 derives the public
 * key (a full scalar multiplication) when it imports a private key alone,
 * which doubles the cost of a signature or a Diffie-Hellman; given both,
 * it takes them as they are. */
static EVP_PKEY *raw_keypair(int type, const uint8_t sk[32],
			     const uint8_t pk[32])
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *key = NULL;

	ctx = EVP_PKEY_CTX_new_id(type, NULL);
	if (ctx == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_octet_string(
		OSSL_PKEY_PARAM_PRIV_KEY, (void *)sk, 32);
	params[1] = OSSL_PARAM_construct_octet_string(
		OSSL_PKEY_PARAM_PUB_KEY, (void *)pk, 32);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) != 1)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static int raw_public_of(int type, const uint8_t sk[32], uint8_t pk[32])
{
	EVP_PKEY *key = raw_private(type, sk);
	size_t len = 32;
	int ok;

	if (key == NULL)
		return EPOCH_ERR_INVALID_KEY;
	ok = EVP_PKEY_get_raw_public_key(key, pk, &len) == 1 && len == 32;
	EVP_PKEY_free(key);
	return ok ? EPOCH_OK : EPOCH_ERR_CRYPTO;
}

/* A random 32-byte private key and its public key. */
static int raw_keygen(int type, const struct crypto_rng *rng, uint8_t sk[32],
		      uint8_t pk[32])
{
	int rc;

	GUARD(crypto_random(rng, sk, 32));
	rc = raw_public_of(type, sk, pk);
	if (rc != EPOCH_OK)
		crypto_wipe(sk, 32);
	return rc;
}

int crypto_x25519_keygen(const struct crypto_rng *rng, uint8_t sk[32],
			 uint8_t pk[32])
{
	return raw_keygen(EVP_PKEY_X25519, rng, sk, pk);
}

int crypto_x25519_public(const uint8_t sk[32], uint8_t pk[32])
{
	return raw_public_of(EVP_PKEY_X25519, sk, pk);
}

int crypto_x25519(const uint8_t sk[32], const uint8_t peer[32],
		  uint8_t shared[32])
{
	static const uint8_t zero[32];
	/* X25519 derives from the private key alone; the public half only
	 * spares OpenSSL computing it (raw_keypair). */
	EVP_PKEY *priv = raw_keypair(EVP_PKEY_X25519, sk, peer);
	EVP_PKEY *pub =
		EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, 32);
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = 32;
	int rc = EPOCH_ERR_CRYPTO;

	if (priv == NULL || pub == NULL) {
		rc = EPOCH_ERR_INVALID_KEY;
		goto out;
	}
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer_ex(ctx, pub, 0) != 1)
		goto out;
	/* OpenSSL itself fails the derive on an all-zero result. */
	if (EVP_PKEY_derive(ctx, shared, &len) != 1 || len != 32) {
		crypto_wipe(shared, 32);
		rc = EPOCH_ERR_INVALID_KEY;
		goto out;
	}
	rc = crypto_ct_equal(shared, zero, 32) ? EPOCH_ERR_INVALID_KEY
					       : EPOCH_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
	return rc;
}

int crypto_ed25519_keygen(const struct crypto_rng *rng, uint8_t sk[32],
			  uint8_t pk[32])
{
	return raw_keygen(EVP_PKEY_ED25519, rng, sk, pk);
}

int crypto_ed25519_public(const uint8_t sk[32], uint8_t pk[32])
{
	return raw_public_of(EVP_PKEY_ED25519, sk, pk);
}

static int ed25519_sign_key(EVP_PKEY *key, const uint8_t *msg, size_t len,
			    uint8_t sig[64]);

int crypto_ed25519_sign(const uint8_t sk[32], const uint8_t *msg, size_t len,
			uint8_t sig[64])
{
	return ed25519_sign_key(raw_private(EVP_PKEY_ED25519, sk), msg, len,
				sig);
}

int crypto_ed25519_sign_pk(const uint8_t sk[32], const uint8_t pk[32],
			   const uint8_t *msg, size_t len, uint8_t sig[64])
{
	return ed25519_sign_key(raw_keypair(EVP_PKEY_ED25519, sk, pk), msg,
				len, sig);
}

/* Signs with key and frees it. */
static int ed25519_sign_key(EVP_PKEY *key, const uint8_t *msg, size_t len,
			    uint8_t sig[64])
{
	EVP_MD_CTX *ctx = NULL;
	size_t siglen = 64;
	int ok = 0;

	if (key == NULL)
		return EPOCH_ERR_INVALID_KEY;
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL &&
	     EVP_DigestSignInit_ex(ctx, NULL, NULL, NULL, NULL, key, NULL) == 1 &&
	     EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 && siglen == 64;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	return ok ? EPOCH_OK : EPOCH_ERR_CRYPTO;
}

static int verify_with(EVP_PKEY *key, const char *mdname, const uint8_t *msg,
		       size_t len, const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = EPOCH_ERR_CRYPTO;

	if (ctx == NULL)
		return EPOCH_ERR_NOMEM;
	if (EVP_DigestVerifyInit_ex(ctx, NULL, mdname, NULL, NULL, key,
				    NULL) == 1)
		rc = EVP_DigestVerify(ctx, sig, siglen, msg, len) == 1
			     ? EPOCH_OK
			     : EPOCH_ERR_SIGNATURE;
	EVP_MD_CTX_free(ctx);
	return rc;
}

int crypto_ed25519_verify(const uint8_t pk[32], const uint8_t *msg,
			  size_t len, const uint8_t sig[64])
{
	EVP_PKEY *key =
		EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, 32);
	int rc;

	if (key == NULL)
		return EPOCH_ERR_INVALID_KEY;
	rc = verify_with(key, NULL, msg, len, sig, 64);
	EVP_PKEY_free(key);
	return rc;
}

/* ---- ECDSA P-256 ------------------------------------------------------- */

/* Builds a P-256 key from a private scalar and/or a public point. */
static EVP_PKEY *p256_key(const uint8_t *sk, const uint8_t *pk)
{
	OSSL_PARAM params[4], *p = params;
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *key = NULL;
	BIGNUM *priv = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *built = NULL;

	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1)
		goto out;
	if (sk != NULL) {
		/* The private scalar goes in as a BIGNUM param. */
		priv = BN_secure_new();
		bld = OSSL_PARAM_BLD_new();
		if (priv == NULL || bld == NULL ||
		    BN_bin2bn(sk, 32, priv) == NULL ||
		    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
						    "prime256v1", 0) != 1 ||
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY,
					   priv) != 1 ||
		    (pk != NULL &&
		     OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
						      pk, 65) != 1))
			goto out;
		built = OSSL_PARAM_BLD_to_param(bld);
		if (built == NULL ||
		    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, built) != 1)
			key = NULL;
		goto out;
	}
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						(char *)"prime256v1", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
						 (void *)pk, 65);
	*p = OSSL_PARAM_construct_end();
	if (EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
out:
	OSSL_PARAM_free(built);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(priv);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

int crypto_p256_public(const uint8_t sk[32], uint8_t pk[65])
{
	static const uint8_t n[32] = {
		0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
		0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
	};
	static const uint8_t zero[32];
	EC_POINT *pt = NULL;
	EC_GROUP *grp = NULL;
	BIGNUM *d = NULL;
	int rc = EPOCH_ERR_CRYPTO;

	/* 1 <= sk < n (public data about a key's validity; memcmp is fine). */
	if (memcmp(sk, zero, 32) == 0 || memcmp(sk, n, 32) >= 0)
		return EPOCH_ERR_INVALID_KEY;
	grp = EC_GROUP_new_by_curve_name_ex(NULL, NULL, NID_X9_62_prime256v1);
	d = BN_secure_new();
	if (grp == NULL || d == NULL || BN_bin2bn(sk, 32, d) == NULL)
		goto out;
	BN_set_flags(d, BN_FLG_CONSTTIME);
	pt = EC_POINT_new(grp);
	if (pt == NULL || EC_POINT_mul(grp, pt, d, NULL, NULL, NULL) != 1 ||
	    EC_POINT_point2oct(grp, pt, POINT_CONVERSION_UNCOMPRESSED, pk, 65,
			       NULL) != 65)
		goto out;
	rc = EPOCH_OK;
out:
	EC_POINT_free(pt);
	EC_GROUP_free(grp);
	BN_clear_free(d);
	return rc;
}

int crypto_p256_keygen(const struct crypto_rng *rng, uint8_t sk[32],
		       uint8_t pk[65])
{
	int rc;

	/* Rejection sampling: P(sk >= n) is about 2^-32. */
	do {
		GUARD(crypto_random(rng, sk, 32));
		rc = crypto_p256_public(sk, pk);
	} while (rc == EPOCH_ERR_INVALID_KEY);
	if (rc != EPOCH_OK)
		crypto_wipe(sk, 32);
	return rc;
}

int crypto_p256_sign(const uint8_t sk[32], const uint8_t *msg, size_t len,
		     uint8_t *sig, size_t *siglen)
{
	uint8_t pk[65];
	EVP_PKEY *key;
	EVP_MD_CTX *ctx;
	size_t cap = *siglen;
	int ok;

	if (cap < CRYPTO_P256_SIG_MAX)
		return EPOCH_ERR_NO_SPACE;
	GUARD(crypto_p256_public(sk, pk));
	key = p256_key(sk, pk);
	if (key == NULL)
		return EPOCH_ERR_INVALID_KEY;
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL &&
	     EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, key,
				   NULL) == 1 &&
	     EVP_DigestSign(ctx, sig, siglen, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	return ok ? EPOCH_OK : EPOCH_ERR_CRYPTO;
}

int crypto_p256_verify(const uint8_t pk[65], const uint8_t *msg, size_t len,
		       const uint8_t *sig, size_t siglen)
{
	EVP_PKEY *key;
	int rc;

	if (pk[0] != 0x04)
		return EPOCH_ERR_INVALID_KEY;
	key = p256_key(NULL, pk);
	if (key == NULL)
		return EPOCH_ERR_INVALID_KEY;
	rc = verify_with(key, "SHA256", msg, len, sig, siglen);
	EVP_PKEY_free(key);
	return rc;
}

/* ---- SHA-3 / SHAKE, one shot through OpenSSL --------------------------- */

int crypto_sha3_256(const uint8_t *in, size_t len, uint8_t out[32])
{
	return digest_oneshot(fetched() ? md_sha3_256 : NULL, in, len, out, 0,
			      0);
}

int crypto_sha3_512(const uint8_t *in, size_t len, uint8_t out[64])
{
	return digest_oneshot(fetched() ? md_sha3_512 : NULL, in, len, out, 0,
			      0);
}

int crypto_shake128(const uint8_t *in, size_t len, uint8_t *out,
		    size_t outlen)
{
	return digest_oneshot(fetched() ? md_shake128 : NULL, in, len, out,
			      outlen, 1);
}

int crypto_shake256(const uint8_t *in, size_t len, uint8_t *out,
		    size_t outlen)
{
	return digest_oneshot(fetched() ? md_shake256 : NULL, in, len, out,
			      outlen, 1);
}

/* ---- incremental SHAKE -------------------------------------------------
 * OpenSSL 3.0 (Debian 12) can squeeze a SHAKE only once
 * (EVP_DigestSqueeze arrived in 3.3), and ML-KEM's rejection sampling and
 * the deterministic test RNGs need an open-ended stream. So the sponge for
 * the streaming API is ours: the Keccak-f[1600] permutation of FIPS 202
 * §3, in portable constant-time C. tests/unit/test_crypto.c checks it
 * against OpenSSL's one-shot SHAKE for many lengths and split points. */

static const uint64_t keccak_rc[24] = {
	0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL,
	0x8000000080008000ULL, 0x000000000000808bULL, 0x0000000080000001ULL,
	0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL,
	0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
	0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
	0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL,
	0x000000000000800aULL, 0x800000008000000aULL, 0x8000000080008081ULL,
	0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* rho offsets and pi lane order, walked as one cycle starting at lane 1. */
static const uint8_t keccak_rho[24] = {
	1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
	27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44,
};
static const uint8_t keccak_pi[24] = {
	10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
	15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1,
};

static inline uint64_t rotl64(uint64_t x, unsigned n)
{
	return (x << n) | (x >> ((64 - n) & 63));
}

static void keccak_f1600(uint64_t a[25])
{
	uint64_t c[5], t;
	int round, i, j;

	for (round = 0; round < 24; round++) {
		/* theta */
		for (i = 0; i < 5; i++)
			c[i] = a[i] ^ a[i + 5] ^ a[i + 10] ^ a[i + 15] ^
			       a[i + 20];
		for (i = 0; i < 5; i++) {
			t = c[(i + 4) % 5] ^ rotl64(c[(i + 1) % 5], 1);
			for (j = 0; j < 25; j += 5)
				a[j + i] ^= t;
		}
		/* rho and pi */
		t = a[1];
		for (i = 0; i < 24; i++) {
			uint64_t next = a[keccak_pi[i]];

			a[keccak_pi[i]] = rotl64(t, keccak_rho[i]);
			t = next;
		}
		/* chi */
		for (j = 0; j < 25; j += 5) {
			for (i = 0; i < 5; i++)
				c[i] = a[j + i];
			for (i = 0; i < 5; i++)
				a[j + i] ^= ~c[(i + 1) % 5] & c[(i + 2) % 5];
		}
		/* iota */
		a[0] ^= keccak_rc[round];
	}
}

static inline void xof_xor_byte(struct crypto_xof *x, unsigned i, uint8_t b)
{
	x->a[i / 8] ^= (uint64_t)b << (8 * (i % 8));
}

int crypto_xof_init(struct crypto_xof *x, enum crypto_xof_alg alg)
{
	memset(x, 0, sizeof(*x));
	switch (alg) {
	case CRYPTO_SHAKE128: x->rate = 168; return EPOCH_OK;
	case CRYPTO_SHAKE256: x->rate = 136; return EPOCH_OK;
	}
	return EPOCH_ERR_UNSUPPORTED;
}

int crypto_xof_absorb(struct crypto_xof *x, const uint8_t *in, size_t len)
{
	if (x->squeezing || x->rate == 0)
		return EPOCH_ERR_STATE;
	while (len > 0) {
		/* Whole aligned lanes at a time when possible. */
		if (x->pos % 8 == 0 && len >= 8 && x->pos + 8 <= x->rate) {
			uint64_t lane = 0;

			for (unsigned k = 0; k < 8; k++)
				lane |= (uint64_t)in[k] << (8 * k);
			x->a[x->pos / 8] ^= lane;
			x->pos += 8;
			in += 8;
			len -= 8;
		} else {
			xof_xor_byte(x, x->pos++, *in++);
			len--;
		}
		if (x->pos == x->rate) {
			keccak_f1600(x->a);
			x->pos = 0;
		}
	}
	return EPOCH_OK;
}

int crypto_xof_squeeze(struct crypto_xof *x, uint8_t *out, size_t len)
{
	if (x->rate == 0)
		return EPOCH_ERR_STATE;
	if (!x->squeezing) {
		/* SHAKE domain bits 1111 then pad10*1 (FIPS 202 §6.2, B.2). */
		xof_xor_byte(x, x->pos, 0x1f);
		xof_xor_byte(x, x->rate - 1, 0x80);
		keccak_f1600(x->a);
		x->pos = 0;
		x->squeezing = 1;
	}
	while (len > 0) {
		if (x->pos == x->rate) {
			keccak_f1600(x->a);
			x->pos = 0;
		}
		if (x->pos % 8 == 0 && len >= 8 && x->pos + 8 <= x->rate) {
			uint64_t lane = x->a[x->pos / 8];

			for (unsigned k = 0; k < 8; k++)
				out[k] = (uint8_t)(lane >> (8 * k));
			out += 8;
			x->pos += 8;
			len -= 8;
			continue;
		}
		*out++ = (uint8_t)(x->a[x->pos / 8] >> (8 * (x->pos % 8)));
		x->pos++;
		len--;
	}
	return EPOCH_OK;
}

void crypto_xof_wipe(struct crypto_xof *x)
{
	crypto_wipe(x, sizeof(*x));
}
