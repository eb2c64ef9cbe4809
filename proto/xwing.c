/* X-Wing (draft-connolly-cfrg-xwing-kem-10); see xwing.h. */
#include "proto/xwing.h"

#include <string.h>

#include "proto/ct.h"
#include "proto/mlkem.h"

#define X_LEN CRYPTO_X25519_LEN

/* "\./" "/^\" (draft §5.3). */
static const uint8_t xwing_label[6] = { 0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c };

/* expandDecapsulationKey: SHAKE256(sk, 96 bytes) = d || z || sk_X. */
struct xwing_expanded {
	uint8_t ek_m[MLKEM_EK_LEN];
	uint8_t dk_m[MLKEM_DK_LEN];
	uint8_t sk_x[X_LEN];
	uint8_t pk_x[X_LEN];
};

static int expand(const uint8_t sk[XWING_SK_LEN], struct xwing_expanded *x)
{
	uint8_t seed[96];
	int rc;

	GUARD_GOTO(rc, crypto_shake256(sk, XWING_SK_LEN, seed, sizeof(seed)),
		   out);
	GUARD_GOTO(rc, mlkem_keygen_internal(seed, seed + 32, x->ek_m, x->dk_m),
		   out);
	memcpy(x->sk_x, seed + 64, X_LEN);
	rc = crypto_x25519_public(x->sk_x, x->pk_x);
out:
	crypto_wipe(seed, sizeof(seed));
	return rc;
}

/* The u-coordinates (bit 255 ignored, as X25519 does) of the points of
 * order dividing 8 on the curve or 4 on its twist, including the
 * non-canonical encodings p and p + 1: exactly the inputs for which
 * X25519 with a clamped scalar yields zero. */
static const uint8_t small_order[7][X_LEN] = {
	{ 0 },                                                     /* 0 */
	{ 1 },                                                     /* 1 */
	{ 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
	  0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
	  0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00 }, /* order 8 */
	{ 0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
	  0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
	  0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57 }, /* order 8 */
	{ 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, /* p - 1 */
	{ 0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, /* p */
	{ 0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, /* p + 1 */
};

static int is_small_order(const uint8_t u[X_LEN])
{
	unsigned i;

	for (i = 0; i < 7; i++)
		if (memcmp(u, small_order[i], X_LEN - 1) == 0 &&
		    (u[X_LEN - 1] & 0x7f) == small_order[i][X_LEN - 1])
			return 1;
	return 0;
}

/* RFC 7748 X25519 as X-Wing uses it: total, no all-zero check. OpenSSL
 * refuses an all-zero result, so the points that produce it are recognised
 * first. u is public (a public key or ciphertext), so branching on it
 * leaks nothing. */
static int x25519_total(const uint8_t k[X_LEN], const uint8_t u[X_LEN],
			uint8_t out[X_LEN])
{
	int rc;

	if (is_small_order(u)) {
		memset(out, 0, X_LEN);
		return EPOCH_OK;
	}
	rc = crypto_x25519(k, u, out);
	/* crypto_x25519 computes its result code from the shared secret (an
	 * all-zero check), but that outcome depends on u only: public. */
	ct_declassify(&rc, sizeof(rc));
	return rc;
}

/* Combiner (draft §5.3): SHA3-256(ss_M || ss_X || ct_X || pk_X || label). */
static int combiner(const uint8_t ss_m[32], const uint8_t ss_x[X_LEN],
		    const uint8_t ct_x[X_LEN], const uint8_t pk_x[X_LEN],
		    uint8_t ss[XWING_SS_LEN])
{
	uint8_t in[32 + 3 * X_LEN + sizeof(xwing_label)];
	int rc;

	memcpy(in, ss_m, 32);
	memcpy(in + 32, ss_x, X_LEN);
	memcpy(in + 64, ct_x, X_LEN);
	memcpy(in + 96, pk_x, X_LEN);
	memcpy(in + 128, xwing_label, sizeof(xwing_label));
	rc = crypto_sha3_256(in, sizeof(in), ss);
	crypto_wipe(in, sizeof(in));
	return rc;
}

int xwing_keygen_derand(const uint8_t seed[32], uint8_t sk[XWING_SK_LEN],
			uint8_t pk[XWING_PK_LEN])
{
	struct xwing_expanded x;
	int rc;

	GUARD_GOTO(rc, expand(seed, &x), out);
	memcpy(pk, x.ek_m, MLKEM_EK_LEN);
	memcpy(pk + MLKEM_EK_LEN, x.pk_x, X_LEN);
	memmove(sk, seed, XWING_SK_LEN);
out:
	crypto_wipe(&x, sizeof(x));
	return rc;
}

int xwing_keygen(const struct crypto_rng *rng, uint8_t sk[XWING_SK_LEN],
		 uint8_t pk[XWING_PK_LEN])
{
	uint8_t seed[XWING_SK_LEN];
	int rc;

	GUARD_GOTO(rc, crypto_random(rng, seed, sizeof(seed)), out);
	rc = xwing_keygen_derand(seed, sk, pk);
out:
	crypto_wipe(seed, sizeof(seed));
	if (rc != EPOCH_OK)
		crypto_wipe(sk, XWING_SK_LEN);
	return rc;
}

int xwing_encaps_derand(const uint8_t pk[XWING_PK_LEN],
			const uint8_t eseed[XWING_ESEED_LEN],
			uint8_t ct[XWING_CT_LEN], uint8_t ss[XWING_SS_LEN])
{
	const uint8_t *pk_x = pk + MLKEM_EK_LEN, *ek_x = eseed + 32;
	uint8_t ss_m[MLKEM_SS_LEN], ss_x[X_LEN];
	int rc;

	memset(ss, 0, XWING_SS_LEN);
	/* Mandatory ML-KEM encapsulation key check (draft §4, FIPS 203 §7.2). */
	GUARD(mlkem_check_ek(pk));
	GUARD_GOTO(rc, crypto_x25519_public(ek_x, ct + MLKEM_CT_LEN), out);
	GUARD_GOTO(rc, x25519_total(ek_x, pk_x, ss_x), out);
	GUARD_GOTO(rc, mlkem_encaps_internal(pk, eseed, ct, ss_m), out);
	rc = combiner(ss_m, ss_x, ct + MLKEM_CT_LEN, pk_x, ss);
out:
	if (rc != EPOCH_OK)
		memset(ss, 0, XWING_SS_LEN);
	crypto_wipe(ss_m, sizeof(ss_m));
	crypto_wipe(ss_x, sizeof(ss_x));
	return rc;
}

int xwing_encaps(const struct crypto_rng *rng, const uint8_t pk[XWING_PK_LEN],
		 uint8_t ct[XWING_CT_LEN], uint8_t ss[XWING_SS_LEN])
{
	uint8_t eseed[XWING_ESEED_LEN];
	int rc;

	memset(ss, 0, XWING_SS_LEN);
	GUARD_GOTO(rc, crypto_random(rng, eseed, sizeof(eseed)), out);
	rc = xwing_encaps_derand(pk, eseed, ct, ss);
out:
	crypto_wipe(eseed, sizeof(eseed));
	return rc;
}

int xwing_decaps(const uint8_t sk[XWING_SK_LEN], const uint8_t ct[XWING_CT_LEN],
		 uint8_t ss[XWING_SS_LEN])
{
	const uint8_t *ct_x = ct + MLKEM_CT_LEN;
	struct xwing_expanded x;
	uint8_t ss_m[MLKEM_SS_LEN], ss_x[X_LEN];
	int rc;

	GUARD_GOTO(rc, expand(sk, &x), out);
	/* dk_M was just derived from the seed: the §7.3 hash check cannot
	 * fail (the draft notes it is not required). */
	GUARD_GOTO(rc, mlkem_decaps_internal(x.dk_m, ct, ss_m), out);
	GUARD_GOTO(rc, x25519_total(x.sk_x, ct_x, ss_x), out);
	rc = combiner(ss_m, ss_x, ct_x, x.pk_x, ss);
out:
	if (rc != EPOCH_OK)
		memset(ss, 0, XWING_SS_LEN);
	crypto_wipe(&x, sizeof(x));
	crypto_wipe(ss_m, sizeof(ss_m));
	crypto_wipe(ss_x, sizeof(ss_x));
	return rc;
}
