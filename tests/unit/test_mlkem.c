/* proto/mlkem: ML-KEM-768 against the C2SP CCTV vectors (accumulated,
 * modulus, strcmp; see tests/vectors/README.md) and the FIPS 203 input
 * checks and implicit rejection.
 *
 * Usage: test_mlkem [--accumulated=N]   (or MLKEM_ACCUMULATED=N)
 * N defaults to 10000; the expected hashes are known for 10000 and
 * 1000000 (make check-long).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/crypto.h"
#include "proto/mlkem.h"
#include "tests/lib/test.h"

#define VEC_DIR "tests/vectors/mlkem/"

static unsigned long accumulated_n = 10000;

/* FIPS 203 final, ML-KEM-768 (tests/vectors/README.md). */
static const char acc_10k[] =
	"f959d18d3d1180121433bf0e05f11e7908cf9d03edc150b2b07cb90bef5bc1c1";
static const char acc_1m[] =
	"3b108396a277f2952ff3243a985c9709bcb95788c39b7b36a2c4e19d1a41e51e";
/* The same procedure on the FIPS 203 draft (no k byte in G(d || k)). */
static const char acc_10k_draft[] =
	"f7db260e1137a742e05fe0db9525012812b004d29040a5b606aad3d134b548d3";

/* Offsets in dk = dk_PKE || ek || H(ek) || z. */
#define DK_EK 1152
#define DK_H (DK_EK + MLKEM_EK_LEN)
#define DK_Z (DK_H + 32)

static void test_accumulated(void)
{
	static uint8_t ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN], ct[MLKEM_CT_LEN],
		ct_rand[MLKEM_CT_LEN];
	uint8_t d[32], z[32], m[32], k[32], k2[32], k3[32], got[32], want[32];
	struct crypto_xof rng, acc;
	unsigned long i, bad = 0;
	const char *expect = NULL;

	CHECK_OK(crypto_xof_init(&rng, CRYPTO_SHAKE128));
	CHECK_OK(crypto_xof_init(&acc, CRYPTO_SHAKE128));
	for (i = 0; i < accumulated_n; i++) {
		int ok = 1;

		ok &= crypto_xof_squeeze(&rng, d, 32) == EPOCH_OK;
		ok &= crypto_xof_squeeze(&rng, z, 32) == EPOCH_OK;
		ok &= crypto_xof_squeeze(&rng, m, 32) == EPOCH_OK;
		ok &= crypto_xof_squeeze(&rng, ct_rand, sizeof(ct_rand)) ==
		      EPOCH_OK;
		ok &= mlkem_keygen_internal(d, z, ek, dk) == EPOCH_OK;
		ok &= mlkem_encaps_internal(ek, m, ct, k) == EPOCH_OK;
		ok &= mlkem_decaps(dk, ct, k2) == EPOCH_OK;
		ok &= memcmp(k, k2, 32) == 0;
		ok &= mlkem_decaps(dk, ct_rand, k3) == EPOCH_OK;
		ok &= crypto_xof_absorb(&acc, ek, sizeof(ek)) == EPOCH_OK;
		ok &= crypto_xof_absorb(&acc, dk, sizeof(dk)) == EPOCH_OK;
		ok &= crypto_xof_absorb(&acc, ct, sizeof(ct)) == EPOCH_OK;
		ok &= crypto_xof_absorb(&acc, k, 32) == EPOCH_OK;
		ok &= crypto_xof_absorb(&acc, k3, 32) == EPOCH_OK;
		if (!ok && bad++ < 5)
			test_fail(__FILE__, __LINE__,
				  "case %lu: an operation failed or Decaps(dk, "
				  "ct) != K",
				  i);
	}
	CHECK_EQ_U64(bad, 0);
	CHECK_OK(crypto_xof_squeeze(&acc, got, 32));
	printf("accumulated: %lu cases, hash %s\n", accumulated_n,
	       test_tohex(got, 32));
	if (accumulated_n == 10000)
		expect = acc_10k;
	else if (accumulated_n == 1000000)
		expect = acc_1m;
	if (expect == NULL) {
		printf("accumulated: no expected hash for %lu cases (only "
		       "round trips checked)\n",
		       accumulated_n);
		return;
	}
	if (accumulated_n == 10000 && test_hex_fixed(acc_10k_draft, want, 32) ==
						  0 &&
	    memcmp(got, want, 32) == 0)
		printf("accumulated: this is the FIPS 203 *draft* value\n");
	CHECK(test_hex_fixed(expect, want, 32) == 0);
	CHECK_MEM(got, want, 32);
}

/* Keys with one coefficient >= q (FIPS 203 §7.2): every one rejected. */
static void test_cctv_modulus(void)
{
	char *text = test_read_file(VEC_DIR "cctv-modulus/ML-KEM-768.txt", NULL);
	uint8_t ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN], ct[MLKEM_CT_LEN], ss[32];
	uint8_t zero[32] = { 0 };
	struct test_rng r;
	unsigned n = 0, rejected = 0;
	char *line, *save = NULL;

	if (!CHECK(text != NULL))
		return;
	test_rng_init(&r, "mlkem modulus");
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '\0')
			continue;
		n++;
		if (!CHECK(test_hex_fixed(line, ek, sizeof(ek)) == 0))
			continue;
		memset(ss, 0xaa, sizeof(ss));
		if (CHECK_RC(mlkem_check_ek(ek), EPOCH_ERR_INVALID_KEY) &&
		    CHECK_RC(mlkem_encaps(&r.rng, ek, ct, ss),
			     EPOCH_ERR_INVALID_KEY) &&
		    CHECK_MEM(ss, zero, 32))
			rejected++;
	}
	printf("cctv-modulus: %u keys, %u rejected\n", n, rejected);
	CHECK_EQ_U64(n, 780);
	CHECK_EQ_U64(rejected, 780);
	free(text);

	/* A valid key passes both. */
	CHECK_OK(mlkem_keygen(&r.rng, ek, dk));
	CHECK_OK(mlkem_check_ek(ek));
	CHECK_OK(mlkem_encaps(&r.rng, ek, ct, ss));
	/* The largest valid coefficient (q - 1 = 0xd00) passes, q fails. */
	ek[0] = 0x00;
	ek[1] = (uint8_t)((ek[1] & 0xf0) | 0x0d);
	CHECK_OK(mlkem_check_ek(ek));
	ek[0] = 0x01;
	CHECK_RC(mlkem_check_ek(ek), EPOCH_ERR_INVALID_KEY);
	/* Same in the high 12 bits of the last group. */
	CHECK_OK(mlkem_keygen(&r.rng, ek, dk));
	ek[1150] = (uint8_t)((ek[1150] & 0x0f) | 0x00);
	ek[1151] = 0xd0;
	CHECK_OK(mlkem_check_ek(ek));
	ek[1150] = (uint8_t)((ek[1150] & 0x0f) | 0x10);
	CHECK_RC(mlkem_check_ek(ek), EPOCH_ERR_INVALID_KEY);
	CHECK_RC(mlkem_encaps(&r.rng, ek, ct, ss), EPOCH_ERR_INVALID_KEY);
}

/* Lines "dk = ", "c = ", "K = ": Decaps(dk, c) = K. */
static void test_cctv_strcmp(void)
{
	char *text = test_read_file(VEC_DIR "cctv-strcmp/ML-KEM-768.txt", NULL);
	struct test_bytes dk = { 0 }, c = { 0 }, k = { 0 };
	uint8_t ss[32];
	unsigned n = 0;
	char *line, *save = NULL;

	if (!CHECK(text != NULL))
		return;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "dk = ", 5) == 0)
			CHECK(test_hex(line + 5, &dk) == 0);
		else if (strncmp(line, "c = ", 4) == 0)
			CHECK(test_hex(line + 4, &c) == 0);
		else if (strncmp(line, "K = ", 4) == 0)
			CHECK(test_hex(line + 4, &k) == 0);
		if (dk.p && c.p && k.p) {
			n++;
			if (CHECK_EQ_U64(dk.len, MLKEM_DK_LEN) &&
			    CHECK_EQ_U64(c.len, MLKEM_CT_LEN) &&
			    CHECK_EQ_U64(k.len, 32)) {
				CHECK_OK(mlkem_check_dk(dk.p));
				CHECK_OK(mlkem_decaps(dk.p, c.p, ss));
				CHECK_MEM(ss, k.p, 32);
			}
			test_bytes_free(&dk);
			test_bytes_free(&c);
			test_bytes_free(&k);
		}
	}
	printf("cctv-strcmp: %u vectors\n", n);
	CHECK_EQ_U64(n, 1);
	test_bytes_free(&dk);
	test_bytes_free(&c);
	test_bytes_free(&k);
	free(text);
}

static void keypair(const char *seed, uint8_t ek[MLKEM_EK_LEN],
		    uint8_t dk[MLKEM_DK_LEN])
{
	struct test_rng r;

	test_rng_init(&r, seed);
	CHECK_OK(mlkem_keygen(&r.rng, ek, dk));
}

/* §7.3: a dk whose embedded ek or H(ek) was altered is rejected; the check
 * covers exactly those bytes. */
static void test_dk_hash_check(void)
{
	static const size_t flips[] = { DK_EK, DK_EK + 600, DK_H - 1, DK_H,
					DK_H + 31 };
	uint8_t ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN], bad[MLKEM_DK_LEN];
	uint8_t ct[MLKEM_CT_LEN], k[32], ss[32], zero[32] = { 0 };
	struct test_rng r;
	size_t i;

	keypair("mlkem dk check", ek, dk);
	CHECK_OK(mlkem_check_dk(dk));
	CHECK_MEM(dk + DK_EK, ek, MLKEM_EK_LEN);
	test_rng_init(&r, "mlkem dk check encaps");
	CHECK_OK(mlkem_encaps(&r.rng, ek, ct, k));
	for (i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		memcpy(bad, dk, sizeof(bad));
		bad[flips[i]] ^= 0x04;
		CHECK_RC(mlkem_check_dk(bad), EPOCH_ERR_INVALID_KEY);
		memset(ss, 0xaa, sizeof(ss));
		CHECK_RC(mlkem_decaps(bad, ct, ss), EPOCH_ERR_INVALID_KEY);
		CHECK_MEM(ss, zero, 32);
	}
	/* Outside ek || H(ek) (in dk_PKE or z) the hash check passes. */
	memcpy(bad, dk, sizeof(bad));
	bad[0] ^= 1;
	bad[DK_Z] ^= 1;
	CHECK_OK(mlkem_check_dk(bad));
	/* The untouched key still decapsulates. */
	CHECK_OK(mlkem_decaps(dk, ct, ss));
	CHECK_MEM(ss, k, 32);
}

/* Alg 18: a tampered ciphertext gives K̄ = J(z || c) = SHAKE256(z || c, 32),
 * computed here independently, and never the real key. */
static void test_implicit_rejection(void)
{
	static const size_t flips[] = { 0, 500, 959, 960, 1087 };
	uint8_t ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN], ct[MLKEM_CT_LEN];
	uint8_t zc[32 + MLKEM_CT_LEN], k[32], ss[32], kbar[32];
	struct test_rng r;
	size_t i;

	keypair("mlkem implicit rejection", ek, dk);
	test_rng_init(&r, "mlkem implicit rejection encaps");
	CHECK_OK(mlkem_encaps(&r.rng, ek, ct, k));
	CHECK_OK(mlkem_decaps(dk, ct, ss));
	CHECK_MEM(ss, k, 32);
	for (i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		uint8_t *c = zc + 32;

		memcpy(zc, dk + DK_Z, 32);
		memcpy(c, ct, MLKEM_CT_LEN);
		c[flips[i]] ^= 0x01;
		CHECK_OK(crypto_shake256(zc, sizeof(zc), kbar, 32));
		CHECK_OK(mlkem_decaps(dk, c, ss));
		CHECK_MEM(ss, kbar, 32);
		CHECK(memcmp(ss, k, 32) != 0);
	}
	/* Changing z changes the rejection key and nothing else. */
	dk[DK_Z] ^= 0x80;
	memcpy(zc, dk + DK_Z, 32);
	CHECK_OK(crypto_shake256(zc, sizeof(zc), kbar, 32));
	CHECK_OK(mlkem_decaps(dk, zc + 32, ss));
	CHECK_MEM(ss, kbar, 32);
	CHECK_OK(mlkem_decaps(dk, ct, ss));
	CHECK_MEM(ss, k, 32);
}

/* The randomized API draws d then z (keygen) and m (encaps) from the rng
 * and is otherwise the internal algorithm; random round trips agree. */
static void test_randomized_api(void)
{
	uint8_t ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN], ek2[MLKEM_EK_LEN],
		dk2[MLKEM_DK_LEN], ct[MLKEM_CT_LEN], ct2[MLKEM_CT_LEN];
	uint8_t dzm[96], k[32], k2[32];
	struct test_rng r, r2;
	int i;

	test_rng_init(&r, "mlkem api");
	test_rng_init(&r2, "mlkem api");
	CHECK_OK(mlkem_keygen(&r.rng, ek, dk));
	CHECK_OK(mlkem_encaps(&r.rng, ek, ct, k));
	CHECK_OK(crypto_random(&r2.rng, dzm, sizeof(dzm)));
	CHECK_OK(mlkem_keygen_internal(dzm, dzm + 32, ek2, dk2));
	CHECK_OK(mlkem_encaps_internal(ek2, dzm + 64, ct2, k2));
	CHECK_MEM(ek, ek2, sizeof(ek));
	CHECK_MEM(dk, dk2, sizeof(dk));
	CHECK_MEM(ct, ct2, sizeof(ct));
	CHECK_MEM(k, k2, 32);
	CHECK_MEM(dk + DK_Z, dzm + 32, 32);
	CHECK_OK(mlkem_decaps_internal(dk, ct, k2));
	CHECK_MEM(k, k2, 32);

	/* System CSPRNG. */
	for (i = 0; i < 20; i++) {
		CHECK_OK(mlkem_keygen(NULL, ek, dk));
		CHECK_OK(mlkem_check_ek(ek));
		CHECK_OK(mlkem_check_dk(dk));
		CHECK_OK(mlkem_encaps(NULL, ek, ct, k));
		CHECK_OK(mlkem_decaps(dk, ct, k2));
		CHECK_MEM(k, k2, 32);
	}
}

static int failing_fill(void *ctx, uint8_t *out, size_t n)
{
	(void)ctx;
	memset(out, 0x55, n);
	return EPOCH_ERR_RNG;
}

/* An RNG failure is reported and leaves no key material behind. */
static void test_rng_failure(void)
{
	const struct crypto_rng bad = { failing_fill, NULL };
	uint8_t ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN], ct[MLKEM_CT_LEN], ss[32];
	uint8_t zero[32] = { 0 };

	CHECK_RC(mlkem_keygen(&bad, ek, dk), EPOCH_ERR_RNG);
	keypair("mlkem rng failure", ek, dk);
	memset(ss, 0xaa, sizeof(ss));
	CHECK_RC(mlkem_encaps(&bad, ek, ct, ss), EPOCH_ERR_RNG);
	CHECK_MEM(ss, zero, 32);
}

static void parse_args(int argc, char **argv)
{
	const char *s = getenv("MLKEM_ACCUMULATED");
	int i;

	for (i = 1; i < argc; i++)
		if (strncmp(argv[i], "--accumulated=", 14) == 0)
			s = argv[i] + 14;
	if (s != NULL) {
		char *end;
		unsigned long n = strtoul(s, &end, 10);

		if (*s != '\0' && *end == '\0' && n > 0)
			accumulated_n = n;
		else
			fprintf(stderr, "bad accumulated count '%s', using %lu\n",
				s, accumulated_n);
	}
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	test_run("accumulated", test_accumulated);
	test_run("cctv_modulus", test_cctv_modulus);
	test_run("cctv_strcmp", test_cctv_strcmp);
	test_run("dk_hash_check", test_dk_hash_check);
	test_run("implicit_rejection", test_implicit_rejection);
	test_run("randomized_api", test_randomized_api);
	test_run("rng_failure", test_rng_failure);
	return test_main_end(argv[0]);
}
