/* Cryptographic primitives: small wrappers over OpenSSL 3.
 *
 * This is the only module that includes OpenSSL headers. Every function takes
 * explicit lengths and returns EPOCH_OK or an EPOCH_ERR_* code (result.h).
 * Randomness always comes through a struct crypto_rng so that tests can make
 * it deterministic; NULL means the system CSPRNG.
 */
#ifndef EPOCHD_CRYPTO_H
#define EPOCHD_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "proto/result.h"

/* ---- memory hygiene ---------------------------------------------------- */

/* Overwrites n bytes with zeros in a way the compiler cannot elide. */
void crypto_wipe(void *p, size_t n);
/* 1 if the n bytes are equal, 0 if not; time independent of contents. */
int crypto_ct_equal(const void *a, const void *b, size_t n);

/* A heap buffer for secrets: wiped before it is freed. */
struct crypto_secret {
	uint8_t *p;
	size_t len;
};
int crypto_secret_alloc(struct crypto_secret *s, size_t len);
/* Allocates and copies len bytes from src. */
int crypto_secret_dup(struct crypto_secret *s, const uint8_t *src, size_t len);
/* Wipes and frees; safe on a zeroed or already freed struct. */
void crypto_secret_free(struct crypto_secret *s);

/* ---- randomness -------------------------------------------------------- */

struct crypto_rng {
	/* Fills out with n random bytes; returns EPOCH_OK or an error. */
	int (*fill)(void *ctx, uint8_t *out, size_t n);
	void *ctx;
};
/* Draws n bytes from rng, or from the OpenSSL CSPRNG when rng is NULL. */
int crypto_random(const struct crypto_rng *rng, uint8_t *out, size_t n);

/* ---- hashes, HMAC, HKDF ------------------------------------------------ */

enum crypto_hash {
	CRYPTO_SHA256 = 1,
	CRYPTO_SHA384 = 2,
	CRYPTO_SHA512 = 3,
};
#define CRYPTO_HASH_MAX 64

/* Output length in bytes, 0 for an unknown hash. */
size_t crypto_hash_len(enum crypto_hash h);
int crypto_hash(enum crypto_hash h, const uint8_t *in, size_t len,
		uint8_t *out);

/* Incremental hashing (transcripts): new, update*, copy, final, free. */
struct crypto_hash_ctx;
int crypto_hash_new(struct crypto_hash_ctx **ctx, enum crypto_hash h);
int crypto_hash_update(struct crypto_hash_ctx *ctx, const uint8_t *in,
		       size_t len);
/* Writes the digest of everything so far; ctx stays usable. */
int crypto_hash_peek(const struct crypto_hash_ctx *ctx, uint8_t *out);
int crypto_hash_copy(struct crypto_hash_ctx **dst,
		     const struct crypto_hash_ctx *src);
void crypto_hash_free(struct crypto_hash_ctx *ctx);

int crypto_hmac(enum crypto_hash h, const uint8_t *key, size_t keylen,
		const uint8_t *msg, size_t msglen, uint8_t *out);

/* RFC 5869. prk receives crypto_hash_len(h) bytes. */
int crypto_hkdf_extract(enum crypto_hash h, const uint8_t *salt,
			size_t saltlen, const uint8_t *ikm, size_t ikmlen,
			uint8_t *prk);
/* outlen at most 255 * crypto_hash_len(h). */
int crypto_hkdf_expand(enum crypto_hash h, const uint8_t *prk, size_t prklen,
		       const uint8_t *info, size_t infolen, uint8_t *out,
		       size_t outlen);

/* ---- AEAD -------------------------------------------------------------- */

enum crypto_aead {
	CRYPTO_AES128GCM = 1,
	CRYPTO_AES256GCM = 2,
	CRYPTO_CHACHA20POLY1305 = 3,
};
#define CRYPTO_AEAD_NONCE_LEN 12
#define CRYPTO_AEAD_TAG_LEN 16
#define CRYPTO_AEAD_KEY_MAX 32

/* Key length in bytes, 0 for an unknown AEAD. */
size_t crypto_aead_key_len(enum crypto_aead a);
/* out receives ptlen + CRYPTO_AEAD_TAG_LEN bytes (ciphertext || tag). out may
 * equal pt. */
int crypto_aead_seal(enum crypto_aead a, const uint8_t *key,
		     const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN],
		     const uint8_t *aad, size_t aadlen, const uint8_t *pt,
		     size_t ptlen, uint8_t *out);
/* ct is ciphertext || tag; out receives ctlen - CRYPTO_AEAD_TAG_LEN bytes.
 * EPOCH_ERR_AUTH on a bad tag (out is then wiped). out may equal ct. */
int crypto_aead_open(enum crypto_aead a, const uint8_t *key,
		     const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN],
		     const uint8_t *aad, size_t aadlen, const uint8_t *ct,
		     size_t ctlen, uint8_t *out);

/* ---- X25519 (RFC 7748) ------------------------------------------------- */

#define CRYPTO_X25519_LEN 32
int crypto_x25519_keygen(const struct crypto_rng *rng, uint8_t sk[32],
			 uint8_t pk[32]);
int crypto_x25519_public(const uint8_t sk[32], uint8_t pk[32]);
/* EPOCH_ERR_INVALID_KEY if the result is all zeros (small-order point). */
int crypto_x25519(const uint8_t sk[32], const uint8_t peer[32],
		  uint8_t shared[32]);

/* ---- Ed25519 (RFC 8032, pure) ------------------------------------------ */

#define CRYPTO_ED25519_SIG_LEN 64
int crypto_ed25519_keygen(const struct crypto_rng *rng, uint8_t sk[32],
			  uint8_t pk[32]);
int crypto_ed25519_public(const uint8_t sk[32], uint8_t pk[32]);
int crypto_ed25519_sign(const uint8_t sk[32], const uint8_t *msg, size_t len,
			uint8_t sig[64]);
/* The same with the public key given (it must be sk's): half the work,
 * as OpenSSL then does not derive it. A wrong pk gives a signature that
 * does not verify. */
int crypto_ed25519_sign_pk(const uint8_t sk[32], const uint8_t pk[32],
			   const uint8_t *msg, size_t len, uint8_t sig[64]);
/* EPOCH_OK or EPOCH_ERR_SIGNATURE. */
int crypto_ed25519_verify(const uint8_t pk[32], const uint8_t *msg,
			  size_t len, const uint8_t sig[64]);

/* ---- ECDSA P-256 with SHA-256 ------------------------------------------ */

/* Private key: 32-byte big-endian scalar. Public key: uncompressed point
 * (0x04 || X || Y). Signatures: DER Ecdsa-Sig-Value, at most 72 bytes. */
#define CRYPTO_P256_PUB_LEN 65
#define CRYPTO_P256_SIG_MAX 72
int crypto_p256_keygen(const struct crypto_rng *rng, uint8_t sk[32],
		       uint8_t pk[65]);
int crypto_p256_public(const uint8_t sk[32], uint8_t pk[65]);
/* Nonces come from OpenSSL's own generator (not from a crypto_rng). */
int crypto_p256_sign(const uint8_t sk[32], const uint8_t *msg, size_t len,
		     uint8_t *sig, size_t *siglen);
int crypto_p256_verify(const uint8_t pk[65], const uint8_t *msg, size_t len,
		       const uint8_t *sig, size_t siglen);

/* ---- SHA-3 and SHAKE (FIPS 202) ---------------------------------------- */

int crypto_sha3_256(const uint8_t *in, size_t len, uint8_t out[32]);
int crypto_sha3_512(const uint8_t *in, size_t len, uint8_t out[64]);
int crypto_shake128(const uint8_t *in, size_t len, uint8_t *out,
		    size_t outlen);
int crypto_shake256(const uint8_t *in, size_t len, uint8_t *out,
		    size_t outlen);

/* Incremental XOF: absorb any number of times, then squeeze any number of
 * times (no absorbing after the first squeeze). A plain struct so callers
 * can keep it on the stack; wipe it with crypto_xof_wipe(). */
enum crypto_xof_alg {
	CRYPTO_SHAKE128 = 1,
	CRYPTO_SHAKE256 = 2,
};
struct crypto_xof {
	uint64_t a[25];
	unsigned rate; /* bytes */
	unsigned pos;  /* byte offset in the current block */
	int squeezing;
};
int crypto_xof_init(struct crypto_xof *x, enum crypto_xof_alg alg);
int crypto_xof_absorb(struct crypto_xof *x, const uint8_t *in, size_t len);
int crypto_xof_squeeze(struct crypto_xof *x, uint8_t *out, size_t len);
void crypto_xof_wipe(struct crypto_xof *x);

#endif
