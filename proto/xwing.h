/* X-Wing hybrid KEM: ML-KEM-768 + X25519, combined with SHA3-256
 * (draft-connolly-cfrg-xwing-kem-05 to -10, which share the test vectors
 * in tests/vectors/xwing).
 *
 * sk is the 32-byte seed; it is expanded with SHAKE256 into ML-KEM's d and
 * z and the X25519 private key on every use. pk = ek_M || pk_X,
 * ct = ct_M || ct_X. Functions return EPOCH_OK or an EPOCH_ERR_* code; on
 * error ss is zeroed.
 */
#ifndef EPOCHD_XWING_H
#define EPOCHD_XWING_H

#include <stdint.h>

#include "proto/crypto.h"
#include "proto/result.h"

#define XWING_SK_LEN 32
#define XWING_PK_LEN 1216
#define XWING_CT_LEN 1120
#define XWING_SS_LEN 32
#define XWING_ESEED_LEN 64

/* GenerateKeyPair: seed from rng (NULL = system CSPRNG). */
int xwing_keygen(const struct crypto_rng *rng, uint8_t sk[XWING_SK_LEN],
		 uint8_t pk[XWING_PK_LEN]);
/* GenerateKeyPairDerand: sk = seed. */
int xwing_keygen_derand(const uint8_t seed[32], uint8_t sk[XWING_SK_LEN],
			uint8_t pk[XWING_PK_LEN]);

/* Encapsulate; EPOCH_ERR_INVALID_KEY if the ML-KEM part of pk fails the
 * FIPS 203 §7.2 check. */
int xwing_encaps(const struct crypto_rng *rng, const uint8_t pk[XWING_PK_LEN],
		 uint8_t ct[XWING_CT_LEN], uint8_t ss[XWING_SS_LEN]);
/* EncapsulateDerand: eseed = m (ML-KEM) || ek_X (X25519). */
int xwing_encaps_derand(const uint8_t pk[XWING_PK_LEN],
			const uint8_t eseed[XWING_ESEED_LEN],
			uint8_t ct[XWING_CT_LEN], uint8_t ss[XWING_SS_LEN]);

/* Decapsulate. Never fails on a well-sized ciphertext: ML-KEM rejects
 * implicitly, and X25519 is the plain RFC 7748 function (a small-order
 * ct_X gives an all-zero X25519 secret, as the draft specifies). */
int xwing_decaps(const uint8_t sk[XWING_SK_LEN], const uint8_t ct[XWING_CT_LEN],
		 uint8_t ss[XWING_SS_LEN]);

#endif
