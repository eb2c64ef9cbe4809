/* Constant-time check of ML-KEM-768 and X-Wing ("ctgrind"): run one
 * operation with its secret inputs marked undefined for valgrind's
 * memcheck (proto/ct.h). Any branch or memory index that depends on a
 * secret is then reported. tests/ctgrind.sh runs each operation as its own
 * valgrind invocation.
 *
 * Usage: ct_mlkem OPERATION   (ct_mlkem without argument lists them)
 * Exit status 0 if the operation ran and gave the right result, 1 if not;
 * valgrind's own --error-exitcode reports leaks of secret data.
 */
#include <stdio.h>
#include <string.h>

#include "proto/crypto.h"
#include "proto/ct.h"
#include "proto/mlkem.h"
#include "proto/xwing.h"
#include "tests/lib/test.h"

#define DK_Z (MLKEM_DK_LEN - 32)

static uint8_t ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN], ct[MLKEM_CT_LEN];
static uint8_t k[32], ss[32];

/* Deterministic, unpoisoned key and ciphertext for the later steps. */
static int setup(const char *seed)
{
	struct test_rng r;
	uint8_t m[32], dz[64];

	test_rng_init(&r, seed);
	if (crypto_random(&r.rng, dz, sizeof(dz)) != EPOCH_OK ||
	    crypto_random(&r.rng, m, sizeof(m)) != EPOCH_OK ||
	    mlkem_keygen_internal(dz, dz + 32, ek, dk) != EPOCH_OK ||
	    mlkem_encaps_internal(ek, m, ct, k) != EPOCH_OK)
		return 0;
	return 1;
}

static int op_keygen(void)
{
	struct test_rng r;
	uint8_t dz[64], ek2[MLKEM_EK_LEN], dk2[MLKEM_DK_LEN];

	test_rng_init(&r, "ct keygen");
	crypto_random(&r.rng, dz, sizeof(dz));
	ct_poison(dz, sizeof(dz));
	if (mlkem_keygen_internal(dz, dz + 32, ek2, dk2) != EPOCH_OK)
		return 0;
	/* Check the result outside the measured part. */
	ct_declassify(dk2, sizeof(dk2));
	ct_declassify(dz, sizeof(dz));
	if (!setup("ct keygen"))
		return 0;
	return memcmp(ek, ek2, sizeof(ek)) == 0 &&
	       memcmp(dk, dk2, sizeof(dk)) == 0;
}

static int op_encaps(void)
{
	struct test_rng r;
	uint8_t m[32], ct2[MLKEM_CT_LEN];

	if (!setup("ct encaps"))
		return 0;
	test_rng_init(&r, "ct encaps m");
	crypto_random(&r.rng, m, sizeof(m));
	ct_poison(m, sizeof(m));
	if (mlkem_encaps_internal(ek, m, ct2, ss) != EPOCH_OK)
		return 0;
	ct_declassify(ss, sizeof(ss));
	if (mlkem_decaps(dk, ct2, k) != EPOCH_OK)
		return 0;
	return memcmp(k, ss, 32) == 0;
}

/* Decapsulation with dk and ct secret: the time must not depend on the key
 * nor on whether the ciphertext is valid (implicit rejection). */
static int op_decaps(int valid)
{
	uint8_t zc[32 + MLKEM_CT_LEN], want[32];

	if (!setup(valid ? "ct decaps valid" : "ct decaps invalid"))
		return 0;
	if (!valid)
		ct[77] ^= 0x20;
	memcpy(zc, dk + DK_Z, 32);
	memcpy(zc + 32, ct, MLKEM_CT_LEN);
	if (crypto_shake256(zc, sizeof(zc), want, 32) != EPOCH_OK)
		return 0;
	if (valid)
		memcpy(want, k, 32);
	ct_poison(dk, sizeof(dk));
	ct_poison(ct, sizeof(ct));
	if (mlkem_decaps(dk, ct, ss) != EPOCH_OK)
		return 0;
	ct_declassify(ss, sizeof(ss));
	return memcmp(ss, want, 32) == 0;
}

static int op_xwing_keygen(void)
{
	uint8_t seed[32] = { 1, 2, 3 }, sk[32], pk[XWING_PK_LEN];

	ct_poison(seed, sizeof(seed));
	return xwing_keygen_derand(seed, sk, pk) == EPOCH_OK;
}

static int op_xwing_encaps(void)
{
	uint8_t seed[32] = { 4 }, sk[32], pk[XWING_PK_LEN], eseed[64] = { 5 };
	uint8_t xct[XWING_CT_LEN], xss[32], xss2[32];

	if (xwing_keygen_derand(seed, sk, pk) != EPOCH_OK)
		return 0;
	ct_poison(eseed, sizeof(eseed));
	if (xwing_encaps_derand(pk, eseed, xct, xss) != EPOCH_OK)
		return 0;
	ct_declassify(xct, sizeof(xct));
	ct_declassify(xss, sizeof(xss));
	return xwing_decaps(sk, xct, xss2) == EPOCH_OK &&
	       memcmp(xss, xss2, 32) == 0;
}

/* sk and the ML-KEM ciphertext secret; ct_X is public and X-Wing compares
 * it with the small-order points. */
static int op_xwing_decaps(int valid)
{
	uint8_t seed[32] = { 6 }, sk[32], pk[XWING_PK_LEN], eseed[64] = { 7 };
	uint8_t xct[XWING_CT_LEN], xss[32], xss2[32];

	if (xwing_keygen_derand(seed, sk, pk) != EPOCH_OK ||
	    xwing_encaps_derand(pk, eseed, xct, xss) != EPOCH_OK)
		return 0;
	if (!valid)
		xct[1000] ^= 1;
	ct_poison(sk, sizeof(sk));
	ct_poison(xct, MLKEM_CT_LEN);
	if (xwing_decaps(sk, xct, xss2) != EPOCH_OK)
		return 0;
	ct_declassify(xss2, sizeof(xss2));
	return (memcmp(xss, xss2, 32) == 0) == valid;
}

/* Negative control: an early-exit comparison on secret data, which
 * valgrind must flag. If it does not, the check is not working. */
__attribute__((noinline)) static int leaky_equal(const uint8_t *a,
						 const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

static int op_negative_control(void)
{
	uint8_t secret[32], guess[32];
	volatile int sink;

	memset(secret, 0x11, sizeof(secret));
	memset(guess, 0x11, sizeof(guess));
	guess[31] = 0x12;
	ct_poison(secret, sizeof(secret));
	sink = leaky_equal(secret, guess, sizeof(secret));
	(void)sink;
	return 1;
}

static int op_keygen_wrap(void) { return op_keygen(); }
static int op_encaps_wrap(void) { return op_encaps(); }
static int op_decaps_valid(void) { return op_decaps(1); }
static int op_decaps_invalid(void) { return op_decaps(0); }
static int op_xwing_decaps_valid(void) { return op_xwing_decaps(1); }
static int op_xwing_decaps_invalid(void) { return op_xwing_decaps(0); }

static const struct {
	const char *name;
	int (*run)(void);
} ops[] = {
	{ "mlkem-keygen", op_keygen_wrap },
	{ "mlkem-encaps", op_encaps_wrap },
	{ "mlkem-decaps-valid", op_decaps_valid },
	{ "mlkem-decaps-invalid", op_decaps_invalid },
	{ "xwing-keygen", op_xwing_keygen },
	{ "xwing-encaps", op_xwing_encaps },
	{ "xwing-decaps-valid", op_xwing_decaps_valid },
	{ "xwing-decaps-invalid", op_xwing_decaps_invalid },
	{ "negative-control", op_negative_control },
};

int main(int argc, char **argv)
{
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (argc < 2) {
			printf("%s\n", ops[i].name);
			continue;
		}
		if (strcmp(argv[1], ops[i].name) == 0) {
			int ok = ops[i].run();

			printf("%s: %s\n", ops[i].name,
			       ok ? "ran, result correct" : "WRONG RESULT");
			return ok ? 0 : 1;
		}
	}
	if (argc < 2)
		return 0;
	fprintf(stderr, "ct_mlkem: unknown operation %s\n", argv[1]);
	return 2;
}
