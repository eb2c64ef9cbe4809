/* ML-KEM-768 (FIPS 203, August 2024).
 *
 * Byte strings in the encodings of FIPS 203: ek is ByteEncode12(t̂) || rho,
 * dk is dk_PKE || ek || H(ek) || z (FIPS 203 Alg 16), ct is c1 || c2.
 * All functions run in time independent of secret data (d, z, m, dk, the
 * shared secret, and whether a ciphertext is valid). Every function returns
 * EPOCH_OK or an EPOCH_ERR_* code (result.h); on error the outputs hold no
 * secret (shared secrets are zeroed).
 */
#ifndef EPOCHD_MLKEM_H
#define EPOCHD_MLKEM_H

#include <stdint.h>

#include "proto/crypto.h"
#include "proto/result.h"

#define MLKEM_EK_LEN 1184
#define MLKEM_DK_LEN 2400
#define MLKEM_CT_LEN 1088
#define MLKEM_SS_LEN 32
#define MLKEM_SEED_LEN 32 /* d, z and m are 32 bytes each */

/* ML-KEM.KeyGen (FIPS 203 Alg 19): d and z from rng (NULL = system
 * CSPRNG). */
int mlkem_keygen(const struct crypto_rng *rng, uint8_t ek[MLKEM_EK_LEN],
		 uint8_t dk[MLKEM_DK_LEN]);
/* ML-KEM.KeyGen_internal (Alg 16), deterministic. */
int mlkem_keygen_internal(const uint8_t d[32], const uint8_t z[32],
			  uint8_t ek[MLKEM_EK_LEN], uint8_t dk[MLKEM_DK_LEN]);

/* ML-KEM.Encaps (Alg 20) with the encapsulation key check of §7.2:
 * EPOCH_ERR_INVALID_KEY if a coefficient of ek is not below q. */
int mlkem_encaps(const struct crypto_rng *rng, const uint8_t ek[MLKEM_EK_LEN],
		 uint8_t ct[MLKEM_CT_LEN], uint8_t ss[MLKEM_SS_LEN]);
/* ML-KEM.Encaps_internal (Alg 17), deterministic, no input check (ek is
 * decoded mod q, as ByteDecode12 does). */
int mlkem_encaps_internal(const uint8_t ek[MLKEM_EK_LEN], const uint8_t m[32],
			  uint8_t ct[MLKEM_CT_LEN], uint8_t ss[MLKEM_SS_LEN]);

/* ML-KEM.Decaps (Alg 21) with the decapsulation key check of §7.3:
 * EPOCH_ERR_INVALID_KEY if H(ek) stored in dk is not the hash of the ek
 * stored in dk. An invalid ciphertext is not an error: it yields the
 * implicit-rejection key J(z || ct). */
int mlkem_decaps(const uint8_t dk[MLKEM_DK_LEN], const uint8_t ct[MLKEM_CT_LEN],
		 uint8_t ss[MLKEM_SS_LEN]);
/* ML-KEM.Decaps_internal (Alg 18): no key check, for a dk the caller has
 * just generated or already checked (X-Wing expands its dk from a seed). */
int mlkem_decaps_internal(const uint8_t dk[MLKEM_DK_LEN],
			  const uint8_t ct[MLKEM_CT_LEN],
			  uint8_t ss[MLKEM_SS_LEN]);

/* The input checks alone: EPOCH_OK or EPOCH_ERR_INVALID_KEY. */
int mlkem_check_ek(const uint8_t ek[MLKEM_EK_LEN]); /* §7.2 modulus check */
int mlkem_check_dk(const uint8_t dk[MLKEM_DK_LEN]); /* §7.3 hash check */

#endif
