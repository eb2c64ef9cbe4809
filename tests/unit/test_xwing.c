/* proto/xwing: X-Wing against the draft's test vectors
 * (tests/vectors/xwing/test-vectors.json, draft-connolly-cfrg-xwing-kem
 * -05 to -10), round trips, tampered ciphertexts (checked against an
 * independent recomputation from the draft's formulas) and small-order
 * X25519 inputs. */
#include <string.h>

#include "proto/crypto.h"
#include "proto/mlkem.h"
#include "proto/xwing.h"
#include "tests/lib/json.h"
#include "tests/lib/test.h"

static const uint8_t label[6] = { '\\', '.', '/', '/', '^', '\\' };

/* The draft's Combiner, written out from §5.3. */
static void combine(const uint8_t ss_m[32], const uint8_t ss_x[32],
		    const uint8_t ct_x[32], const uint8_t pk_x[32],
		    uint8_t out[32])
{
	uint8_t in[134];

	memcpy(in, ss_m, 32);
	memcpy(in + 32, ss_x, 32);
	memcpy(in + 64, ct_x, 32);
	memcpy(in + 96, pk_x, 32);
	memcpy(in + 128, label, 6);
	CHECK_OK(crypto_sha3_256(in, sizeof(in), out));
}

/* expandDecapsulationKey from the draft: ML-KEM dk and X25519 sk. */
static void expand(const uint8_t sk[32], uint8_t dk_m[MLKEM_DK_LEN],
		   uint8_t sk_x[32])
{
	uint8_t e[96], ek_m[MLKEM_EK_LEN];

	CHECK_OK(crypto_shake256(sk, 32, e, sizeof(e)));
	CHECK_OK(mlkem_keygen_internal(e, e + 32, ek_m, dk_m));
	memcpy(sk_x, e + 64, 32);
}

static void test_vectors(void)
{
	struct json *doc = json_parse_file("tests/vectors/xwing/test-vectors.json");
	size_t i;

	if (!CHECK(doc != NULL && doc->type == JSON_ARRAY))
		goto out;
	CHECK_EQ_U64(doc->n, 3);
	for (i = 0; i < doc->n; i++) {
		const struct json *v = doc->items[i];
		struct test_bytes seed, eseed, sk, pk, ct, ss;
		uint8_t gsk[XWING_SK_LEN], gpk[XWING_PK_LEN], gct[XWING_CT_LEN],
			gss[XWING_SS_LEN], dss[XWING_SS_LEN];

		test_begin("xwing vector %zu", i);
		if (CHECK(json_get_hex(v, "seed", &seed) == 0 &&
			  json_get_hex(v, "eseed", &eseed) == 0 &&
			  json_get_hex(v, "sk", &sk) == 0 &&
			  json_get_hex(v, "pk", &pk) == 0 &&
			  json_get_hex(v, "ct", &ct) == 0 &&
			  json_get_hex(v, "ss", &ss) == 0) &&
		    CHECK(seed.len == 32 && eseed.len == XWING_ESEED_LEN &&
			  sk.len == XWING_SK_LEN && pk.len == XWING_PK_LEN &&
			  ct.len == XWING_CT_LEN && ss.len == XWING_SS_LEN)) {
			CHECK_OK(xwing_keygen_derand(seed.p, gsk, gpk));
			CHECK_MEM(gsk, sk.p, XWING_SK_LEN);
			CHECK_MEM(gpk, pk.p, XWING_PK_LEN);
			CHECK_OK(xwing_encaps_derand(pk.p, eseed.p, gct, gss));
			CHECK_MEM(gct, ct.p, XWING_CT_LEN);
			CHECK_MEM(gss, ss.p, XWING_SS_LEN);
			CHECK_OK(xwing_decaps(sk.p, ct.p, dss));
			CHECK_MEM(dss, ss.p, XWING_SS_LEN);
		}
		test_bytes_free(&seed);
		test_bytes_free(&eseed);
		test_bytes_free(&sk);
		test_bytes_free(&pk);
		test_bytes_free(&ct);
		test_bytes_free(&ss);
		test_end();
	}
out:
	json_free(doc);
}

static void test_round_trips(void)
{
	uint8_t sk[XWING_SK_LEN], pk[XWING_PK_LEN], ct[XWING_CT_LEN],
		ss[XWING_SS_LEN], ss2[XWING_SS_LEN], sk2[XWING_SK_LEN],
		pk2[XWING_PK_LEN], eseed[XWING_ESEED_LEN], ct2[XWING_CT_LEN];
	struct test_rng r, r2;
	int i;

	/* The randomized functions are the derandomized ones over rng output:
	 * seed for keygen, eseed (64 bytes) for encaps. */
	test_rng_init(&r, "xwing api");
	test_rng_init(&r2, "xwing api");
	CHECK_OK(xwing_keygen(&r.rng, sk, pk));
	CHECK_OK(xwing_encaps(&r.rng, pk, ct, ss));
	CHECK_OK(crypto_random(&r2.rng, sk2, sizeof(sk2)));
	CHECK_OK(xwing_keygen_derand(sk2, sk2, pk2)); /* sk may alias seed */
	CHECK_MEM(sk, sk2, sizeof(sk));
	CHECK_MEM(pk, pk2, sizeof(pk));
	CHECK_OK(crypto_random(&r2.rng, eseed, sizeof(eseed)));
	CHECK_OK(xwing_encaps_derand(pk, eseed, ct2, ss2));
	CHECK_MEM(ct, ct2, sizeof(ct));
	CHECK_MEM(ss, ss2, sizeof(ss));

	for (i = 0; i < 20; i++) {
		CHECK_OK(xwing_keygen(NULL, sk, pk));
		CHECK_OK(xwing_encaps(NULL, pk, ct, ss));
		CHECK_OK(xwing_decaps(sk, ct, ss2));
		CHECK_MEM(ss, ss2, sizeof(ss));
	}
}

/* Tampering with either half changes the secret to exactly what the
 * draft's formulas give: ML-KEM's implicit-rejection key J(z || ct_M) for
 * ct_M, X25519 with the altered ct_X for ct_X. */
static void test_tampered(void)
{
	uint8_t sk[XWING_SK_LEN], pk[XWING_PK_LEN], ct[XWING_CT_LEN],
		bad[XWING_CT_LEN], ss[XWING_SS_LEN], got[XWING_SS_LEN],
		want[XWING_SS_LEN], dk_m[MLKEM_DK_LEN], sk_x[32], ss_m[32],
		ss_x[32], zc[32 + MLKEM_CT_LEN];
	const uint8_t *pk_x = pk + MLKEM_EK_LEN;
	struct test_rng r;

	test_rng_init(&r, "xwing tampered");
	CHECK_OK(xwing_keygen(&r.rng, sk, pk));
	CHECK_OK(xwing_encaps(&r.rng, pk, ct, ss));
	expand(sk, dk_m, sk_x);

	/* ML-KEM part. */
	memcpy(bad, ct, sizeof(bad));
	bad[100] ^= 0x10;
	CHECK_OK(xwing_decaps(sk, bad, got));
	CHECK(memcmp(got, ss, 32) != 0);
	memcpy(zc, dk_m + MLKEM_DK_LEN - 32, 32);
	memcpy(zc + 32, bad, MLKEM_CT_LEN);
	CHECK_OK(crypto_shake256(zc, sizeof(zc), ss_m, 32));
	CHECK_OK(crypto_x25519(sk_x, bad + MLKEM_CT_LEN, ss_x));
	combine(ss_m, ss_x, bad + MLKEM_CT_LEN, pk_x, want);
	CHECK_MEM(got, want, 32);

	/* X25519 part. */
	memcpy(bad, ct, sizeof(bad));
	bad[MLKEM_CT_LEN + 5] ^= 0x01;
	CHECK_OK(xwing_decaps(sk, bad, got));
	CHECK(memcmp(got, ss, 32) != 0);
	CHECK_OK(mlkem_decaps(dk_m, bad, ss_m));
	CHECK_OK(crypto_x25519(sk_x, bad + MLKEM_CT_LEN, ss_x));
	combine(ss_m, ss_x, bad + MLKEM_CT_LEN, pk_x, want);
	CHECK_MEM(got, want, 32);
	/* ... and with the untouched ciphertext the same recomputation gives
	 * the encapsulated secret. */
	CHECK_OK(mlkem_decaps(dk_m, ct, ss_m));
	CHECK_OK(crypto_x25519(sk_x, ct + MLKEM_CT_LEN, ss_x));
	combine(ss_m, ss_x, ct + MLKEM_CT_LEN, pk_x, want);
	CHECK_MEM(ss, want, 32);
}

/* u-coordinates of small order (plus the non-canonical p and p + 1): the
 * X25519 result is zero for them; X-Wing uses it as is. */
static const char *const small_order[] = {
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

static void test_small_order(void)
{
	uint8_t sk[XWING_SK_LEN], pk[XWING_PK_LEN], ct[XWING_CT_LEN],
		ss[XWING_SS_LEN], got[XWING_SS_LEN], want[XWING_SS_LEN],
		dk_m[MLKEM_DK_LEN], sk_x[32], ss_m[32], ss_x[32],
		zero[32] = { 0 }, eseed[XWING_ESEED_LEN];
	struct test_rng r;
	unsigned i, top, n = 0;

	test_rng_init(&r, "xwing small order");
	CHECK_OK(xwing_keygen(&r.rng, sk, pk));
	CHECK_OK(xwing_encaps(&r.rng, pk, ct, ss));
	expand(sk, dk_m, sk_x);
	CHECK_OK(mlkem_decaps(dk_m, ct, ss_m));
	for (i = 0; i < sizeof(small_order) / sizeof(small_order[0]); i++) {
		for (top = 0; top < 2; top++) {
			uint8_t *u = ct + MLKEM_CT_LEN;

			CHECK(test_hex_fixed(small_order[i], u, 32) == 0);
			u[31] |= (uint8_t)(top << 7);
			/* OpenSSL's X25519 agrees the result is zero. */
			CHECK_RC(crypto_x25519(sk_x, u, ss_x),
				 EPOCH_ERR_INVALID_KEY);
			CHECK_OK(xwing_decaps(sk, ct, got));
			combine(ss_m, zero, u, pk + MLKEM_EK_LEN, want);
			CHECK_MEM(got, want, 32);
			/* Encapsulating to a small-order pk_X works too and
			 * gives ss_X = 0 (u is overwritten: it is ct_X). */
			memcpy(pk + MLKEM_EK_LEN, u, 32);
			CHECK_OK(crypto_random(&r.rng, eseed, sizeof(eseed)));
			CHECK_OK(xwing_encaps_derand(pk, eseed, ct, got));
			CHECK_OK(mlkem_encaps_internal(pk, eseed, ct, ss_m));
			combine(ss_m, zero, ct + MLKEM_CT_LEN,
				pk + MLKEM_EK_LEN, want);
			CHECK_MEM(got, want, 32);
			n++;
			/* restore for the next round */
			CHECK_OK(xwing_keygen_derand(sk, sk, pk));
			CHECK_OK(mlkem_decaps(dk_m, ct, ss_m));
		}
	}
	CHECK_EQ_U64(n, 14);
}

/* pk with an ML-KEM coefficient >= q: encapsulation refused (§7.2). */
static void test_invalid_pk(void)
{
	uint8_t sk[XWING_SK_LEN], pk[XWING_PK_LEN], ct[XWING_CT_LEN],
		ss[XWING_SS_LEN], zero[32] = { 0 };
	struct test_rng r;

	test_rng_init(&r, "xwing invalid pk");
	CHECK_OK(xwing_keygen(&r.rng, sk, pk));
	pk[0] = 0xff;
	pk[1] |= 0x0f;
	memset(ss, 0xaa, sizeof(ss));
	CHECK_RC(xwing_encaps(&r.rng, pk, ct, ss), EPOCH_ERR_INVALID_KEY);
	CHECK_MEM(ss, zero, 32);
}

int main(int argc, char **argv)
{
	(void)argc;
	test_vectors();
	test_run("round_trips", test_round_trips);
	test_run("tampered", test_tampered);
	test_run("small_order", test_small_order);
	test_run("invalid_pk", test_invalid_pk);
	return test_main_end(argv[0]);
}
