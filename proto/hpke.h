/* HPKE: Hybrid Public Key Encryption (RFC 9180), base and psk modes.
 *
 * KEMs: DHKEM(X25519, HKDF-SHA256) and X-Wing (MLKEM768-X25519, as HPKE KEM
 * per draft-ietf-hpke-pq). KDFs: HKDF-SHA256/384/512. AEADs: AES-128-GCM,
 * AES-256-GCM, ChaCha20Poly1305 and export-only. Any other identifier is
 * EPOCH_ERR_UNSUPPORTED. The auth modes are not implemented (X-Wing has no
 * AuthEncap, and MLS uses base mode only).
 *
 * Conventions: every byte string comes with its length. Outputs of a fixed
 * size for the suite (enc, ciphertexts, plaintexts) are written to a buffer
 * of capacity *_cap and their length returned in *_len; a buffer too small is
 * EPOCH_ERR_NO_SPACE. Randomness comes through a struct crypto_rng (NULL:
 * the system CSPRNG). Everything secret is wiped before return; contexts and
 * key pairs hold secrets until hpke_ctx_wipe() / hpke_keypair_wipe().
 */
#ifndef EPOCHD_HPKE_H
#define EPOCHD_HPKE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/crypto.h"
#include "proto/result.h"

/* ---- identifiers (RFC 9180 §7, draft-ietf-hpke-pq §8) ------------------ */

#define HPKE_KEM_X25519_SHA256 0x0020
#define HPKE_KEM_XWING 0x647a /* MLKEM768-X25519 */

#define HPKE_KDF_HKDF_SHA256 0x0001
#define HPKE_KDF_HKDF_SHA384 0x0002
#define HPKE_KDF_HKDF_SHA512 0x0003

#define HPKE_AEAD_AES128GCM 0x0001
#define HPKE_AEAD_AES256GCM 0x0002
#define HPKE_AEAD_CHACHA20POLY1305 0x0003
#define HPKE_AEAD_EXPORT_ONLY 0xffff

#define HPKE_MODE_BASE 0x00
#define HPKE_MODE_PSK 0x01

/* Largest sizes over the supported algorithms (X-Wing for enc/pk). */
#define HPKE_MAX_ENC 1120
#define HPKE_MAX_PK 1216
#define HPKE_MAX_SK 32
#define HPKE_MAX_SECRET 32 /* Nsecret */
#define HPKE_MAX_NH 64     /* HKDF-SHA512 */
#define HPKE_MAX_KEY 32    /* Nk */
#define HPKE_NONCE_LEN 12  /* Nn of every supported AEAD */
#define HPKE_TAG_LEN 16    /* Nt of every supported AEAD */

/* Input limits. RFC 9180 §7.2.1 allows ~2^61 bytes; we refuse more than
 * 64 KiB - 1 (what draft-ietf-hpke-hpke allows for one-stage KDFs) with
 * EPOCH_ERR_TOO_LONG. exporter_context is lower because it ends up in an
 * HKDF-Expand info, which OpenSSL 3.0 caps at 32 KiB. */
#define HPKE_MAX_INPUT 65535u
#define HPKE_MAX_EXPORTER_CONTEXT 16384u

struct hpke_suite {
	uint16_t kem_id;
	uint16_t kdf_id;
	uint16_t aead_id;
};

/* The RFC 9180 constants of a suite. nk and nn are 0 for export-only. */
struct hpke_lens {
	size_t nsecret, nenc, npk, nsk; /* KEM */
	size_t nh;                      /* KDF */
	size_t nk, nn, nt;              /* AEAD */
};

/* EPOCH_ERR_UNSUPPORTED if any of the three ids is unknown. */
int hpke_suite_lens(const struct hpke_suite *suite, struct hpke_lens *out);

/* ---- key pairs ---------------------------------------------------------- */

/* Serialized private and public key (SerializePrivateKey/PublicKey). */
struct hpke_keypair {
	uint16_t kem_id;
	size_t sk_len, pk_len;
	uint8_t sk[HPKE_MAX_SK];
	uint8_t pk[HPKE_MAX_PK];
};

/* DeriveKeyPair(ikm): RFC 9180 §7.1.3 for DHKEM(X25519); for X-Wing
 * draft-ietf-hpke-pq §4 (SHAKE256 LabeledDerive to a 32-byte seed, then
 * X-Wing key generation from the seed). ikm should have at least Nsk bytes
 * of entropy. */
int hpke_derive_keypair(uint16_t kem_id, const uint8_t *ikm, size_t ikm_len,
			struct hpke_keypair *kp);
/* GenerateKeyPair(): DeriveKeyPair(random(Nsk)). */
int hpke_generate_keypair(uint16_t kem_id, const struct crypto_rng *rng,
			  struct hpke_keypair *kp);
void hpke_keypair_wipe(struct hpke_keypair *kp);

/* ---- KEM ---------------------------------------------------------------- */

/* Encap(pkR) with its randomness given: for DHKEM the ephemeral key pair is
 * DeriveKeyPair(ikmE) (any length, as in the RFC 9180 vectors); for X-Wing
 * ikmE is the 64-byte encapsulation seed (eseed) of EncapsulateDerand. The
 * randomized hpke_kem_encap draws Nsk (DHKEM) or 64 (X-Wing) random bytes
 * and does the same. ss receives Nsecret bytes. */
int hpke_kem_encap(uint16_t kem_id, const struct crypto_rng *rng,
		   const uint8_t *pkR, size_t pkR_len, uint8_t *enc,
		   size_t enc_cap, size_t *enc_len,
		   uint8_t ss[HPKE_MAX_SECRET], size_t *ss_len);
int hpke_kem_encap_derand(uint16_t kem_id, const uint8_t *ikmE,
			  size_t ikmE_len, const uint8_t *pkR, size_t pkR_len,
			  uint8_t *enc, size_t enc_cap, size_t *enc_len,
			  uint8_t ss[HPKE_MAX_SECRET], size_t *ss_len);
/* Decap(enc, skR). An enc of the wrong length is EPOCH_ERR_MALFORMED, a
 * private key of the wrong length EPOCH_ERR_INVALID_KEY; for DHKEM an
 * all-zero X25519 result (small-order point, RFC 9180 §7.1.4) is
 * EPOCH_ERR_INVALID_KEY too. X-Wing Decap never fails on a well-sized enc
 * (ML-KEM rejects implicitly), so a forged enc shows up as EPOCH_ERR_AUTH
 * at Open. Encap: a pkR of the wrong length, an X25519 pkR giving an
 * all-zero DH, or an X-Wing pkR failing the ML-KEM modulus check
 * (FIPS 203 §7.2) is EPOCH_ERR_INVALID_KEY. */
int hpke_kem_decap(uint16_t kem_id, const uint8_t *enc, size_t enc_len,
		   const uint8_t *skR, size_t skR_len,
		   uint8_t ss[HPKE_MAX_SECRET], size_t *ss_len);

/* ---- contexts (RFC 9180 §5) --------------------------------------------- */

enum hpke_role {
	HPKE_ROLE_SENDER = 1,   /* ContextS: Seal and Export */
	HPKE_ROLE_RECEIVER = 2, /* ContextR: Open and Export */
};

/* Fields are private: use the functions below. A plain struct so that it
 * can live on the stack; wipe it with hpke_ctx_wipe(). */
struct hpke_ctx {
	struct hpke_suite suite;
	enum hpke_role role;
	size_t key_len, nonce_len, exporter_len;
	uint8_t key[HPKE_MAX_KEY];
	uint8_t base_nonce[HPKE_NONCE_LEN];
	uint8_t exporter_secret[HPKE_MAX_NH];
	uint64_t seq;
};

/* Pre-shared key for mode_psk; a NULL struct hpke_psk * means mode_base.
 * RFC 9180 §5.1.2: the psk must hold at least 32 bytes of entropy, so a
 * shorter psk, or an empty psk or psk_id, is EPOCH_ERR_INVALID_ARG. */
struct hpke_psk {
	const uint8_t *psk;
	size_t psk_len;
	const uint8_t *id;
	size_t id_len;
};

/* Intermediate values of the key schedule, for tests. Holds a secret:
 * crypto_wipe() it after use. */
struct hpke_ks_trace {
	uint8_t key_schedule_context[1 + 2 * HPKE_MAX_NH];
	size_t key_schedule_context_len;
	uint8_t secret[HPKE_MAX_NH];
	size_t secret_len;
};

/* KeyScheduleS/R (RFC 9180 §5.1) from a KEM shared secret. trace may be
 * NULL. */
int hpke_key_schedule(struct hpke_ctx *ctx, const struct hpke_suite *suite,
		      enum hpke_role role, const uint8_t *ss, size_t ss_len,
		      const uint8_t *info, size_t info_len,
		      const struct hpke_psk *psk, struct hpke_ks_trace *trace);

/* SetupBaseS / SetupPSKS (RFC 9180 §5.1.1, §5.1.2): Encap to pkR, then the
 * key schedule. enc receives Nenc bytes. */
int hpke_setup_s(struct hpke_ctx *ctx, const struct hpke_suite *suite,
		 const struct crypto_rng *rng, const uint8_t *pkR,
		 size_t pkR_len, const uint8_t *info, size_t info_len,
		 const struct hpke_psk *psk, uint8_t *enc, size_t enc_cap,
		 size_t *enc_len);
/* The same with the KEM randomness given (see hpke_kem_encap_derand): for
 * test vectors only; reusing ikmE breaks confidentiality. */
int hpke_setup_s_derand(struct hpke_ctx *ctx, const struct hpke_suite *suite,
			const uint8_t *ikmE, size_t ikmE_len,
			const uint8_t *pkR, size_t pkR_len,
			const uint8_t *info, size_t info_len,
			const struct hpke_psk *psk, uint8_t *enc,
			size_t enc_cap, size_t *enc_len);
/* SetupBaseR / SetupPSKR. */
int hpke_setup_r(struct hpke_ctx *ctx, const struct hpke_suite *suite,
		 const uint8_t *enc, size_t enc_len, const uint8_t *skR,
		 size_t skR_len, const uint8_t *info, size_t info_len,
		 const struct hpke_psk *psk);

/* Context.Seal (sender only): ct = AEAD(key, base_nonce XOR seq, aad, pt),
 * pt_len + Nt bytes; then seq += 1. EPOCH_ERR_STATE on a receiver context
 * or once the sequence number would overflow (the counter is 64 bits, below
 * RFC 9180's 2^96 - 1 limit); EPOCH_ERR_UNSUPPORTED for export-only. */
int hpke_ctx_seal(struct hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
		  const uint8_t *pt, size_t pt_len, uint8_t *ct, size_t ct_cap,
		  size_t *ct_len);
/* Context.Open (receiver only): EPOCH_ERR_AUTH if the tag does not verify
 * (seq is then unchanged and pt wiped). Other errors as for seal. */
int hpke_ctx_open(struct hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
		  const uint8_t *ct, size_t ct_len, uint8_t *pt, size_t pt_cap,
		  size_t *pt_len);
/* Context.Export: LabeledExpand(exporter_secret, "sec", exporter_context, L),
 * L at most 255 * Nh. */
int hpke_ctx_export(const struct hpke_ctx *ctx, const uint8_t *exp_ctx,
		    size_t exp_ctx_len, uint8_t *out, size_t L);
void hpke_ctx_wipe(struct hpke_ctx *ctx);

/* ---- single-shot base mode (RFC 9180 §6.1) ------------------------------ */

/* SealBase: enc receives Nenc bytes, ct pt_len + Nt bytes. */
int hpke_seal(const struct hpke_suite *suite, const struct crypto_rng *rng,
	      const uint8_t *pkR, size_t pkR_len, const uint8_t *info,
	      size_t info_len, const uint8_t *aad, size_t aad_len,
	      const uint8_t *pt, size_t pt_len, uint8_t *enc, size_t enc_cap,
	      size_t *enc_len, uint8_t *ct, size_t ct_cap, size_t *ct_len);
/* OpenBase. */
int hpke_open(const struct hpke_suite *suite, const uint8_t *skR,
	      size_t skR_len, const uint8_t *enc, size_t enc_len,
	      const uint8_t *info, size_t info_len, const uint8_t *aad,
	      size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *pt,
	      size_t pt_cap, size_t *pt_len);

#endif
