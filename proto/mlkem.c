/* ML-KEM-768 (FIPS 203); see mlkem.h.
 *
 * Polynomials hold int16_t coefficients. Products use Montgomery reduction
 * with R = 2^16, sums Barrett reduction; the NTT works in the normal domain
 * (its twiddle factors are stored times R). No secret value ever reaches a
 * branch, a table index or a division: Compress uses multiply-and-shift
 * (KyberSlash), the implicit-rejection choice a mask. Rejection sampling
 * (SampleNTT) branches only on bytes derived from the public rho.
 * tests/ctgrind.sh checks this under valgrind; ct_declassify() marks the
 * few values that are public by definition.
 */
#include "proto/mlkem.h"

#include <string.h>

#include "proto/ct.h"

#define MLKEM_N 256
#define MLKEM_Q 3329
#define MLKEM_K 3
#define MLKEM_DU 10
#define MLKEM_DV 4
#define POLY_BYTES 384                              /* ByteEncode12 */
#define PKE_DK_LEN (MLKEM_K * POLY_BYTES)           /* 1152 */
#define PKE_EK_LEN (MLKEM_K * POLY_BYTES + 32)      /* 1184 */
#define C1_POLY_BYTES (MLKEM_DU * MLKEM_N / 8)      /* 320 */
#define C1_LEN (MLKEM_K * C1_POLY_BYTES)            /* 960 */
#define C2_LEN (MLKEM_DV * MLKEM_N / 8)             /* 128 */
#define PRF_LEN (64 * 2)                            /* eta1 = eta2 = 2 */
#define XOF_BLOCK 168                               /* SHAKE128 rate */
#define XOF_FIRST (3 * XOF_BLOCK)

/* Offsets in dk (FIPS 203 Alg 16): dk_PKE || ek || H(ek) || z. */
#define DK_EK_OFF PKE_DK_LEN
#define DK_H_OFF (DK_EK_OFF + MLKEM_EK_LEN)
#define DK_Z_OFF (DK_H_OFF + 32)

#if MLKEM_DK_LEN != DK_Z_OFF + 32 || MLKEM_EK_LEN != PKE_EK_LEN ||          \
	MLKEM_CT_LEN != C1_LEN + C2_LEN
#error "ML-KEM-768 sizes do not add up"
#endif

typedef struct {
	int16_t c[MLKEM_N];
} poly;

/* b[2i+1] * gamma_i for each pair of an NTT-domain polynomial: precomputed
 * once for a vector that multiplies several rows. */
typedef struct {
	int16_t c[MLKEM_N / 2];
} poly_cache;

/* ---- modular arithmetic ------------------------------------------------ */

#define QINV (-3327)     /* q^-1 mod 2^16, as a signed 16-bit value */
#define BARRETT_V 20159  /* round(2^26 / q) */
#define MONT_R2 1353     /* 2^32 mod q: multiplying by it converts to R */
#define INVNTT_F 1441    /* 2^32 / 128 mod q: 1/128 and one factor R */
#define COMPRESS_M 161271 /* ceil(2^29 / q) */
#define COMPRESS_S 29

/* a * 2^-16 mod q, in (-q, q) for |a| < 2^15 q. */
static inline int16_t mont_reduce(int32_t a)
{
	int16_t t = (int16_t)((int16_t)a * QINV);

	return (int16_t)((a - (int32_t)t * MLKEM_Q) >> 16);
}

static inline int16_t fqmul(int16_t a, int16_t b)
{
	return mont_reduce((int32_t)a * b);
}

/* The representative of a mod q in [-(q-1)/2, (q-1)/2], for any int16. */
static inline int16_t barrett_reduce(int16_t a)
{
	int16_t t = (int16_t)(((int32_t)BARRETT_V * a + (1 << 25)) >> 26);

	return (int16_t)(a - t * MLKEM_Q);
}

/* The representative in [0, q). */
static inline int16_t canon(int16_t a)
{
	a = barrett_reduce(a);
	return (int16_t)(a + ((a >> 15) & MLKEM_Q));
}

/* [0, 2q) to [0, q). */
static inline int16_t csubq(int16_t a)
{
	a = (int16_t)(a - MLKEM_Q);
	return (int16_t)(a + ((a >> 15) & MLKEM_Q));
}

/* Compress_d (FIPS 203 §4.2.1) of x in [0, q): round(2^d x / q) mod 2^d,
 * as floor((2^d x + (q-1)/2) / q) with the division by q done as a
 * multiplication by ceil(2^29 / q) and a shift, exact for every x < q and
 * d <= 11 (tests/unit/test_mlkem_internal.c checks every input). */
static inline uint16_t compress(int16_t x, unsigned d)
{
	uint64_t t = ((uint64_t)(uint16_t)x << d) + (MLKEM_Q - 1) / 2;

	return (uint16_t)(((t * COMPRESS_M) >> COMPRESS_S) & ((1u << d) - 1));
}

/* Decompress_d: round(q y / 2^d). */
static inline int16_t decompress(uint16_t y, unsigned d)
{
	return (int16_t)(((uint32_t)y * MLKEM_Q + (1u << (d - 1))) >> d);
}

/* ---- NTT (FIPS 203 §4.3) ----------------------------------------------- */

/* zeta^BitRev7(i) * R mod q, centred, zeta = 17. Entry 0 is unused by the
 * NTT; entries 64..127 are also the base-case gammas up to sign. */
static const int16_t zetas[128] = {
	-1044, -758,  -359,  -1517, 1493,  1422,  287,   202,  -171,  622,
	1577,  182,   962,   -1202, -1474, 1468,  573,   -1325, 264,   383,
	-829,  1458,  -1602, -130,  -681,  1017,  732,   608,   -1542, 411,
	-205,  -1571, 1223,  652,   -552,  1015,  -1293, 1491,  -282,  -1544,
	516,   -8,    -320,  -666,  -1618, -1162, 126,   1469,  -853,  -90,
	-271,  830,   107,   -1421, -247,  -951,  -398,  961,   -1508, -725,
	448,   -1065, 677,   -1275, -1103, 430,   555,   843,   -1251, 871,
	1550,  105,   422,   587,   177,   -235,  -291,  -460,  1574,  1653,
	-246,  778,   1159,  -147,  -777,  1483,  -602,  1119,  -1590, 644,
	-872,  349,   418,   329,   -156,  -75,   817,   1097,  603,   610,
	1322,  -1285, -1465, 384,   -1215, -136,  1218,  -1335, -874,  220,
	-1187, -1659, -1185, -1530, -1278, 794,   -1510, -854,  -870,  478,
	-108,  -308,  996,   991,   958,   -1460, 1522,  1628,
};

/* zetas[i] * q^-1 mod 2^16: with it a product by a twiddle factor needs
 * only high and low halves of 16x16-bit products (see fqmul_pre). */
static const int16_t zetas_qinv[128] = {
	-20,    31498,  14745,  787,    13525,  -12402, 28191,  -16694, -20907,
	27758,  -3799,  -15690, 10690,  1358,   -11202, 31164,  -5827,  17363,
	-26360, -29057, 5571,   -1102,  21438,  -26242, -28073, 24313,  -10532,
	8800,   18426,  8859,   26675,  -16163, -5689,  -6516,  1496,   30967,
	-23565, 20179,  20710,  25080,  -12796, 26616,  16064,  -12442, 9134,
	-650,   -25986, 27837,  19883,  -28250, -15887, -8898,  -28309, 9075,
	-30199, 18249,  13426,  14017,  -29156, -12757, 16832,  4311,   -24155,
	-17915, -335,   11182,  -11477, 13387,  -32227, -14233, 20494,  -21655,
	-27738, 13131,  945,    -4587,  -14883, 23092,  6182,   5493,   32010,
	-32502, 10631,  30317,  29175,  -18741, -28762, 12639,  -18486, 20100,
	17560,  18525,  -14430, 19529,  -5276,  -12619, -31183, 20297,  25435,
	2146,   -7382,  15355,  24391,  -32384, -20927, -6280,  10946,  -14903,
	24214,  -11044, 16989,  14469,  10335,  -21498, -7934,  -20198, -22502,
	23210,  10906,  -17442, 31636,  -23860, 28644,  -20257, 23998,  7756,
	-17422, 23132,
};
#define INVNTT_F_QINV (-10079) /* INVNTT_F * q^-1 mod 2^16 */

static inline int16_t mulhi(int16_t a, int16_t b)
{
	return (int16_t)(((int32_t)a * b) >> 16);
}

/* a * b * 2^-16 mod q, bq = b * q^-1 mod 2^16: Montgomery reduction split
 * into high halves, (ab - tq) / 2^16 = hi(ab) - hi(tq) since ab and tq
 * agree in their low 16 bits. Same range as mont_reduce; written so that
 * compilers map it to 16-bit SIMD multiplies. */
static inline int16_t fqmul_pre(int16_t a, int16_t b, int16_t bq)
{
	int16_t t = (int16_t)(a * bq);

	return (int16_t)(mulhi(a, b) - mulhi(t, MLKEM_Q));
}

#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* One Cooley-Tukey layer; called with constant len so that the inner
 * loop has a fixed trip count and vectorizes. Twiddles k = 128/len ... */
static ALWAYS_INLINE void ntt_layer(int16_t c[MLKEM_N], unsigned len)
{
	unsigned start, j, k = 128 / len;

	for (start = 0; start < MLKEM_N; start += 2 * len, k++) {
		int16_t z = zetas[k], zq = zetas_qinv[k];

		for (j = start; j < start + len; j++) {
			int16_t t = fqmul_pre(c[j + len], z, zq);

			c[j + len] = (int16_t)(c[j] - t);
			c[j] = (int16_t)(c[j] + t);
		}
	}
}

/* Alg 9. Input coefficients of magnitude at most q; output Barrett-reduced
 * (each layer adds at most q in magnitude, 8q < 2^15). */
static void poly_ntt(poly *p)
{
	unsigned j;

	ntt_layer(p->c, 128);
	ntt_layer(p->c, 64);
	ntt_layer(p->c, 32);
	ntt_layer(p->c, 16);
	ntt_layer(p->c, 8);
	ntt_layer(p->c, 4);
	ntt_layer(p->c, 2);
	for (j = 0; j < MLKEM_N; j++)
		p->c[j] = barrett_reduce(p->c[j]);
}

/* One Gentleman-Sande layer (Alg 10 lines 5-10), twiddles from
 * 256/len - 1 down; reduce: Barrett-reduce the sums. */
static ALWAYS_INLINE void invntt_layer(int16_t c[MLKEM_N], unsigned len,
				       int reduce)
{
	unsigned start, j, k = MLKEM_N / len - 1;

	for (start = 0; start < MLKEM_N; start += 2 * len, k--) {
		int16_t z = zetas[k], zq = zetas_qinv[k];

		for (j = start; j < start + len; j++) {
			int16_t t = c[j];
			int16_t s = (int16_t)(t + c[j + len]);

			c[j] = reduce ? barrett_reduce(s) : s;
			c[j + len] = fqmul_pre((int16_t)(c[j + len] - t), z, zq);
		}
	}
}

/* Alg 10, times R^-1 * R = 1 on top of the 1/128: the input is a base-case
 * product carrying a factor R^-1 (see poly_basemul_acc), which the final
 * multiplication by INVNTT_F removes. Input below q in magnitude; sums
 * double per layer (a difference is at most 8q < 2^15 before it is
 * multiplied), so they are reduced after layers 3 and 6. Output in
 * (-q, q). */
static void poly_invntt(poly *p)
{
	unsigned j;

	invntt_layer(p->c, 2, 0);
	invntt_layer(p->c, 4, 0);
	invntt_layer(p->c, 8, 1);
	invntt_layer(p->c, 16, 0);
	invntt_layer(p->c, 32, 0);
	invntt_layer(p->c, 64, 1);
	invntt_layer(p->c, 128, 0);
	for (j = 0; j < MLKEM_N; j++)
		p->c[j] = fqmul_pre(p->c[j], INVNTT_F, INVNTT_F_QINV);
}

/* gamma_i = zeta^(2 BitRev7(i) + 1) = +-zetas[64 + i/2] (times R). */
static void poly_make_cache(poly_cache *pc, const poly *b)
{
	unsigned i;

	for (i = 0; i < MLKEM_N / 4; i++) {
		pc->c[2 * i] = fqmul(b->c[4 * i + 1], zetas[64 + i]);
		pc->c[2 * i + 1] = fqmul(b->c[4 * i + 3], (int16_t)-zetas[64 + i]);
	}
}

/* r = (sum_j a[j] o b[j]) * R^-1 (Alg 11 and 12 for a row of the matrix
 * product), with a[j] in [0, q), b[j] Barrett-reduced and bc[j] its cache.
 * Sums of K products stay below 2^15 q, so each output coefficient costs
 * a single Montgomery reduction. */
static void poly_basemul_acc(poly *r, const poly a[MLKEM_K],
			     const poly b[MLKEM_K],
			     const poly_cache bc[MLKEM_K])
{
	unsigned i, j;

	for (i = 0; i < MLKEM_N / 2; i++) {
		int32_t c0 = 0, c1 = 0;

		for (j = 0; j < MLKEM_K; j++) {
			int32_t a0 = a[j].c[2 * i], a1 = a[j].c[2 * i + 1];
			int32_t b0 = b[j].c[2 * i], b1 = b[j].c[2 * i + 1];

			c0 += a0 * b0 + a1 * bc[j].c[i];
			c1 += a0 * b1 + a1 * b0;
		}
		r->c[2 * i] = mont_reduce(c0);
		r->c[2 * i + 1] = mont_reduce(c1);
	}
}

/* ---- sampling (FIPS 203 §4.2.2) ---------------------------------------- */

/* Alg 7, inner loop: appends coefficients below q from 3-byte groups.
 * Branches on the XOF output, which derives from the public rho only. */
static unsigned parse_uniform(int16_t *c, unsigned n, const uint8_t *buf,
			      size_t len)
{
	size_t i;

	for (i = 0; i + 3 <= len && n < MLKEM_N; i += 3) {
		uint16_t d1 = (uint16_t)(buf[i] | (buf[i + 1] & 0x0f) << 8);
		uint16_t d2 = (uint16_t)(buf[i + 1] >> 4 | buf[i + 2] << 4);

		if (d1 < MLKEM_Q)
			c[n++] = (int16_t)d1;
		if (d2 < MLKEM_Q && n < MLKEM_N)
			c[n++] = (int16_t)d2;
	}
	return n;
}

/* Alg 7: SampleNTT(rho || x || y). Three SHAKE128 blocks (336 candidates
 * for 256 coefficients) suffice about 99% of the time and come from
 * OpenSSL's one-shot SHAKE; otherwise the same stream continues block by
 * block through our incremental sponge. */
static int sample_ntt(poly *a, const uint8_t rho[32], uint8_t x, uint8_t y)
{
	uint8_t seed[34], buf[XOF_FIRST];
	struct crypto_xof xof;
	unsigned n;
	int rc;

	memcpy(seed, rho, 32);
	seed[32] = x;
	seed[33] = y;
	GUARD(crypto_shake128(seed, sizeof(seed), buf, sizeof(buf)));
	n = parse_uniform(a->c, 0, buf, sizeof(buf));
	if (n == MLKEM_N)
		return EPOCH_OK;
	GUARD(crypto_xof_init(&xof, CRYPTO_SHAKE128));
	GUARD_GOTO(rc, crypto_xof_absorb(&xof, seed, sizeof(seed)), out);
	GUARD_GOTO(rc, crypto_xof_squeeze(&xof, buf, XOF_FIRST), out);
	while (n < MLKEM_N) {
		GUARD_GOTO(rc, crypto_xof_squeeze(&xof, buf, XOF_BLOCK), out);
		n = parse_uniform(a->c, n, buf, XOF_BLOCK);
	}
out:
	crypto_xof_wipe(&xof);
	return rc;
}

/* Row i of Â (entries SampleNTT(rho || j || i), Alg 13 line 5), or of its
 * transpose (SampleNTT(rho || i || j), for Alg 14 line 6). */
static int sample_row(poly row[MLKEM_K], const uint8_t rho[32], unsigned i,
		      int transposed)
{
	unsigned j;

	for (j = 0; j < MLKEM_K; j++) {
		if (transposed)
			GUARD(sample_ntt(&row[j], rho, (uint8_t)i, (uint8_t)j));
		else
			GUARD(sample_ntt(&row[j], rho, (uint8_t)j, (uint8_t)i));
	}
	return EPOCH_OK;
}

/* Alg 8 for eta = 2: coefficient i is b[4i] + b[4i+1] - b[4i+2] - b[4i+3]
 * over the little-endian bits of buf. */
static void poly_cbd2(poly *p, const uint8_t buf[PRF_LEN])
{
	unsigned i, j;

	for (i = 0; i < MLKEM_N / 8; i++) {
		uint32_t w = (uint32_t)buf[4 * i] |
			     (uint32_t)buf[4 * i + 1] << 8 |
			     (uint32_t)buf[4 * i + 2] << 16 |
			     (uint32_t)buf[4 * i + 3] << 24;
		uint32_t s = (w & 0x55555555u) + ((w >> 1) & 0x55555555u);

		for (j = 0; j < 8; j++) {
			int16_t a = (int16_t)((s >> (4 * j)) & 3);
			int16_t b = (int16_t)((s >> (4 * j + 2)) & 3);

			p->c[8 * i + j] = (int16_t)(a - b);
		}
	}
}

/* SamplePolyCBD_2(PRF_2(seed, nonce)), PRF = SHAKE256(seed || nonce, 128)
 * (§4.1). */
static int sample_cbd(poly *p, const uint8_t seed[32], uint8_t nonce)
{
	uint8_t in[33], buf[PRF_LEN];
	int rc;

	memcpy(in, seed, 32);
	in[32] = nonce;
	rc = crypto_shake256(in, sizeof(in), buf, sizeof(buf));
	if (rc == EPOCH_OK)
		poly_cbd2(p, buf);
	crypto_wipe(in, sizeof(in));
	crypto_wipe(buf, sizeof(buf));
	return rc;
}

/* ---- encodings (FIPS 203 §4.2.1) --------------------------------------- */

/* ByteEncode12 of a polynomial with coefficients in [0, q). */
static void poly_encode12(uint8_t out[POLY_BYTES], const poly *p)
{
	unsigned i;

	for (i = 0; i < MLKEM_N / 2; i++) {
		uint16_t a = (uint16_t)p->c[2 * i], b = (uint16_t)p->c[2 * i + 1];

		out[3 * i] = (uint8_t)a;
		out[3 * i + 1] = (uint8_t)(a >> 8 | b << 4);
		out[3 * i + 2] = (uint8_t)(b >> 4);
	}
}

/* ByteDecode12, which reduces mod q (Alg 6): output in [0, q). */
static void poly_decode12(poly *p, const uint8_t in[POLY_BYTES])
{
	unsigned i;

	for (i = 0; i < MLKEM_N / 2; i++) {
		uint16_t a = (uint16_t)(in[3 * i] | (in[3 * i + 1] & 0x0f) << 8);
		uint16_t b = (uint16_t)(in[3 * i + 1] >> 4 | in[3 * i + 2] << 4);

		p->c[2 * i] = csubq((int16_t)a);
		p->c[2 * i + 1] = csubq((int16_t)b);
	}
}

/* ByteEncode10(Compress10(p)), coefficients in [0, q). */
static void poly_compress10(uint8_t out[C1_POLY_BYTES], const poly *p)
{
	unsigned i;

	for (i = 0; i < MLKEM_N / 4; i++) {
		uint16_t t0 = compress(p->c[4 * i], 10);
		uint16_t t1 = compress(p->c[4 * i + 1], 10);
		uint16_t t2 = compress(p->c[4 * i + 2], 10);
		uint16_t t3 = compress(p->c[4 * i + 3], 10);

		out[5 * i] = (uint8_t)t0;
		out[5 * i + 1] = (uint8_t)(t0 >> 8 | t1 << 2);
		out[5 * i + 2] = (uint8_t)(t1 >> 6 | t2 << 4);
		out[5 * i + 3] = (uint8_t)(t2 >> 4 | t3 << 6);
		out[5 * i + 4] = (uint8_t)(t3 >> 2);
	}
}

static void poly_decompress10(poly *p, const uint8_t in[C1_POLY_BYTES])
{
	unsigned i;

	for (i = 0; i < MLKEM_N / 4; i++) {
		const uint8_t *b = in + 5 * i;

		p->c[4 * i] = decompress((uint16_t)((b[0] | b[1] << 8) & 0x3ff), 10);
		p->c[4 * i + 1] =
			decompress((uint16_t)((b[1] >> 2 | b[2] << 6) & 0x3ff), 10);
		p->c[4 * i + 2] =
			decompress((uint16_t)((b[2] >> 4 | b[3] << 4) & 0x3ff), 10);
		p->c[4 * i + 3] =
			decompress((uint16_t)((b[3] >> 6 | b[4] << 2) & 0x3ff), 10);
	}
}

/* ByteEncode4(Compress4(p)), coefficients in [0, q). */
static void poly_compress4(uint8_t out[C2_LEN], const poly *p)
{
	unsigned i;

	for (i = 0; i < MLKEM_N / 2; i++)
		out[i] = (uint8_t)(compress(p->c[2 * i], 4) |
				   compress(p->c[2 * i + 1], 4) << 4);
}

static void poly_decompress4(poly *p, const uint8_t in[C2_LEN])
{
	unsigned i;

	for (i = 0; i < MLKEM_N / 2; i++) {
		p->c[2 * i] = decompress(in[i] & 0x0f, 4);
		p->c[2 * i + 1] = decompress(in[i] >> 4, 4);
	}
}

/* p += Decompress1(ByteDecode1(m)): adds (q+1)/2 where a bit is set. */
static void poly_add_message(poly *p, const uint8_t m[32])
{
	unsigned i;

	for (i = 0; i < MLKEM_N; i++) {
		int16_t bit = (int16_t)((m[i / 8] >> (i % 8)) & 1);

		p->c[i] = (int16_t)(p->c[i] + (-bit & ((MLKEM_Q + 1) / 2)));
	}
}

/* ByteEncode1(Compress1(p)), coefficients in [0, q). */
static void poly_to_message(uint8_t m[32], const poly *p)
{
	unsigned i, j;

	for (i = 0; i < 32; i++) {
		uint8_t byte = 0;

		for (j = 0; j < 8; j++)
			byte |= (uint8_t)(compress(p->c[8 * i + j], 1) << j);
		m[i] = byte;
	}
}

/* ---- constant-time selection ------------------------------------------- */

/* Keeps the compiler from turning mask arithmetic back into a branch. */
static inline uint8_t value_barrier(uint8_t x)
{
#if defined(__GNUC__)
	__asm__("" : "+r"(x));
#endif
	return x;
}

/* 0xff if the n bytes differ, 0x00 if equal. */
static uint8_t ct_neq_mask(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= (uint8_t)(a[i] ^ b[i]);
	return (uint8_t)((0u - (uint32_t)value_barrier(acc)) >> 24);
}

/* r = mask ? x : r, mask 0x00 or 0xff. */
static void ct_cmov(uint8_t *r, const uint8_t *x, size_t n, uint8_t mask)
{
	size_t i;

	mask = value_barrier(mask);
	for (i = 0; i < n; i++)
		r[i] ^= (uint8_t)(mask & (r[i] ^ x[i]));
}

/* ---- K-PKE (FIPS 203 §5) ----------------------------------------------- */

/* Alg 13: ek_PKE into ek (1184 bytes), dk_PKE into dk (1152 bytes). */
static int pke_keygen(const uint8_t d[32], uint8_t ek[PKE_EK_LEN],
		      uint8_t dk[PKE_DK_LEN])
{
	uint8_t in[33], rs[64]; /* d || k, then rho || sigma */
	poly s[MLKEM_K], e, t, a[MLKEM_K];
	poly_cache sc[MLKEM_K];
	const uint8_t *rho = rs, *sigma = rs + 32;
	unsigned i, j;
	int rc;

	memcpy(in, d, 32);
	in[32] = MLKEM_K; /* domain separation added in the final FIPS 203 */
	GUARD_GOTO(rc, crypto_sha3_512(in, sizeof(in), rs), out);
	/* rho is public: it is the last 32 bytes of ek. */
	ct_declassify(rho, 32);

	for (i = 0; i < MLKEM_K; i++) {
		GUARD_GOTO(rc, sample_cbd(&s[i], sigma, (uint8_t)i), out);
		poly_ntt(&s[i]);
		poly_make_cache(&sc[i], &s[i]);
	}
	for (i = 0; i < MLKEM_K; i++) {
		GUARD_GOTO(rc, sample_cbd(&e, sigma, (uint8_t)(MLKEM_K + i)),
			   out);
		poly_ntt(&e);
		GUARD_GOTO(rc, sample_row(a, rho, i, 0), out);
		poly_basemul_acc(&t, a, s, sc);
		for (j = 0; j < MLKEM_N; j++) {
			/* t carries R^-1; times R^2 then R^-1 is exact. */
			int16_t x = fqmul(t.c[j], MONT_R2);

			t.c[j] = canon((int16_t)(x + e.c[j]));
		}
		poly_encode12(ek + i * POLY_BYTES, &t);
	}
	memcpy(ek + PKE_DK_LEN, rho, 32);
	for (i = 0; i < MLKEM_K; i++) {
		for (j = 0; j < MLKEM_N; j++)
			s[i].c[j] = canon(s[i].c[j]);
		poly_encode12(dk + i * POLY_BYTES, &s[i]);
	}
	rc = EPOCH_OK;
out:
	crypto_wipe(in, sizeof(in));
	crypto_wipe(rs, sizeof(rs));
	crypto_wipe(s, sizeof(s));
	crypto_wipe(sc, sizeof(sc));
	crypto_wipe(&e, sizeof(e));
	crypto_wipe(&t, sizeof(t));
	return rc;
}

/* Alg 14: encrypts m under ek_PKE with randomness r into ct. */
static int pke_encrypt(const uint8_t ek[PKE_EK_LEN], const uint8_t m[32],
		       const uint8_t r[32], uint8_t ct[MLKEM_CT_LEN])
{
	uint8_t rho[32];
	poly y[MLKEM_K], a[MLKEM_K], u, e;
	poly_cache yc[MLKEM_K];
	unsigned i, j;
	int rc;

	memcpy(rho, ek + PKE_DK_LEN, 32);
	/* rho is public (part of ek); under ctgrind it may come from a
	 * poisoned dk in decapsulation. SampleNTT branches on it. */
	ct_declassify(rho, sizeof(rho));

	for (i = 0; i < MLKEM_K; i++) {
		GUARD_GOTO(rc, sample_cbd(&y[i], r, (uint8_t)i), out);
		poly_ntt(&y[i]);
		poly_make_cache(&yc[i], &y[i]);
	}
	/* u = NTT^-1(Â^T o ŷ) + e1, row by row. */
	for (i = 0; i < MLKEM_K; i++) {
		GUARD_GOTO(rc, sample_row(a, rho, i, 1), out);
		poly_basemul_acc(&u, a, y, yc);
		poly_invntt(&u);
		GUARD_GOTO(rc, sample_cbd(&e, r, (uint8_t)(MLKEM_K + i)), out);
		for (j = 0; j < MLKEM_N; j++)
			u.c[j] = canon((int16_t)(u.c[j] + e.c[j]));
		poly_compress10(ct + i * C1_POLY_BYTES, &u);
	}
	/* v = NTT^-1(t̂^T o ŷ) + e2 + Decompress1(m). */
	for (i = 0; i < MLKEM_K; i++)
		poly_decode12(&a[i], ek + i * POLY_BYTES);
	poly_basemul_acc(&u, a, y, yc);
	poly_invntt(&u);
	GUARD_GOTO(rc, sample_cbd(&e, r, (uint8_t)(2 * MLKEM_K)), out);
	for (j = 0; j < MLKEM_N; j++)
		u.c[j] = (int16_t)(u.c[j] + e.c[j]);
	poly_add_message(&u, m);
	for (j = 0; j < MLKEM_N; j++)
		u.c[j] = canon(u.c[j]);
	poly_compress4(ct + C1_LEN, &u);
	rc = EPOCH_OK;
out:
	crypto_wipe(y, sizeof(y));
	crypto_wipe(yc, sizeof(yc));
	crypto_wipe(&u, sizeof(u));
	crypto_wipe(&e, sizeof(e));
	return rc;
}

/* Alg 15: m = Decrypt(dk_PKE, ct). */
static void pke_decrypt(const uint8_t dk[PKE_DK_LEN],
			const uint8_t ct[MLKEM_CT_LEN], uint8_t m[32])
{
	poly u[MLKEM_K], s[MLKEM_K], w, v;
	poly_cache uc[MLKEM_K];
	unsigned i, j;

	for (i = 0; i < MLKEM_K; i++) {
		poly_decompress10(&u[i], ct + i * C1_POLY_BYTES);
		poly_ntt(&u[i]);
		poly_make_cache(&uc[i], &u[i]);
		poly_decode12(&s[i], dk + i * POLY_BYTES);
	}
	poly_basemul_acc(&w, s, u, uc);
	poly_invntt(&w);
	poly_decompress4(&v, ct + C1_LEN);
	for (j = 0; j < MLKEM_N; j++)
		w.c[j] = canon((int16_t)(v.c[j] - w.c[j]));
	poly_to_message(m, &w);

	crypto_wipe(u, sizeof(u));
	crypto_wipe(uc, sizeof(uc));
	crypto_wipe(s, sizeof(s));
	crypto_wipe(&w, sizeof(w));
	crypto_wipe(&v, sizeof(v));
}

/* ---- ML-KEM (FIPS 203 §6, §7) ------------------------------------------ */

int mlkem_keygen_internal(const uint8_t d[32], const uint8_t z[32],
			  uint8_t ek[MLKEM_EK_LEN], uint8_t dk[MLKEM_DK_LEN])
{
	int rc;

	GUARD_GOTO(rc, pke_keygen(d, ek, dk), fail);
	/* ek is the public key. */
	ct_declassify(ek, MLKEM_EK_LEN);
	memcpy(dk + DK_EK_OFF, ek, MLKEM_EK_LEN);
	GUARD_GOTO(rc, crypto_sha3_256(ek, MLKEM_EK_LEN, dk + DK_H_OFF), fail);
	memcpy(dk + DK_Z_OFF, z, 32);
	return EPOCH_OK;
fail:
	crypto_wipe(dk, MLKEM_DK_LEN);
	return rc;
}

int mlkem_keygen(const struct crypto_rng *rng, uint8_t ek[MLKEM_EK_LEN],
		 uint8_t dk[MLKEM_DK_LEN])
{
	uint8_t dz[64];
	int rc;

	GUARD_GOTO(rc, crypto_random(rng, dz, sizeof(dz)), out);
	rc = mlkem_keygen_internal(dz, dz + 32, ek, dk);
out:
	crypto_wipe(dz, sizeof(dz));
	return rc;
}

int mlkem_encaps_internal(const uint8_t ek[MLKEM_EK_LEN], const uint8_t m[32],
			  uint8_t ct[MLKEM_CT_LEN], uint8_t ss[MLKEM_SS_LEN])
{
	uint8_t in[64], kr[64]; /* m || H(ek), then K || r */
	int rc;

	memcpy(in, m, 32);
	GUARD_GOTO(rc, crypto_sha3_256(ek, MLKEM_EK_LEN, in + 32), out);
	GUARD_GOTO(rc, crypto_sha3_512(in, sizeof(in), kr), out);
	GUARD_GOTO(rc, pke_encrypt(ek, m, kr + 32, ct), out);
	memcpy(ss, kr, MLKEM_SS_LEN);
	/* The ciphertext is public. */
	ct_declassify(ct, MLKEM_CT_LEN);
out:
	if (rc != EPOCH_OK)
		memset(ss, 0, MLKEM_SS_LEN);
	crypto_wipe(in, sizeof(in));
	crypto_wipe(kr, sizeof(kr));
	return rc;
}

int mlkem_check_ek(const uint8_t ek[MLKEM_EK_LEN])
{
	uint32_t bad = 0;
	unsigned i;

	/* ByteEncode12(ByteDecode12(ek)) == ek iff every 12-bit value is
	 * below q. ek is public: a plain loop. */
	for (i = 0; i < PKE_DK_LEN / 3; i++) {
		const uint8_t *b = ek + 3 * i;
		uint32_t x0 = (uint32_t)(b[0] | (b[1] & 0x0f) << 8);
		uint32_t x1 = (uint32_t)(b[1] >> 4 | b[2] << 4);

		bad |= (MLKEM_Q - 1 - x0) >> 31;
		bad |= (MLKEM_Q - 1 - x1) >> 31;
	}
	return bad ? EPOCH_ERR_INVALID_KEY : EPOCH_OK;
}

int mlkem_encaps(const struct crypto_rng *rng, const uint8_t ek[MLKEM_EK_LEN],
		 uint8_t ct[MLKEM_CT_LEN], uint8_t ss[MLKEM_SS_LEN])
{
	uint8_t m[32];
	int rc;

	memset(ss, 0, MLKEM_SS_LEN);
	GUARD(mlkem_check_ek(ek));
	GUARD_GOTO(rc, crypto_random(rng, m, sizeof(m)), out);
	rc = mlkem_encaps_internal(ek, m, ct, ss);
out:
	crypto_wipe(m, sizeof(m));
	return rc;
}

int mlkem_check_dk(const uint8_t dk[MLKEM_DK_LEN])
{
	uint8_t h[32];
	int ok;

	GUARD(crypto_sha3_256(dk + DK_EK_OFF, MLKEM_EK_LEN, h));
	ok = crypto_ct_equal(h, dk + DK_H_OFF, 32);
	/* Whether the key is well-formed is public: the caller is told. */
	ct_declassify(&ok, sizeof(ok));
	crypto_wipe(h, sizeof(h));
	return ok ? EPOCH_OK : EPOCH_ERR_INVALID_KEY;
}

int mlkem_decaps_internal(const uint8_t dk[MLKEM_DK_LEN],
			  const uint8_t ct[MLKEM_CT_LEN],
			  uint8_t ss[MLKEM_SS_LEN])
{
	uint8_t in[64], kr[64];          /* m' || h, then K' || r' */
	uint8_t zc[32 + MLKEM_CT_LEN];   /* z || c for J */
	uint8_t kbar[32], ct2[MLKEM_CT_LEN];
	int rc;

	pke_decrypt(dk, ct, in);
	memcpy(in + 32, dk + DK_H_OFF, 32);
	GUARD_GOTO(rc, crypto_sha3_512(in, sizeof(in), kr), out);
	memcpy(zc, dk + DK_Z_OFF, 32);
	memcpy(zc + 32, ct, MLKEM_CT_LEN);
	GUARD_GOTO(rc, crypto_shake256(zc, sizeof(zc), kbar, sizeof(kbar)),
		   out);
	GUARD_GOTO(rc, pke_encrypt(dk + DK_EK_OFF, in, kr + 32, ct2), out);
	/* Implicit rejection (Alg 18 lines 9-11) without a branch. */
	ct_cmov(kr, kbar, 32, ct_neq_mask(ct, ct2, MLKEM_CT_LEN));
	memcpy(ss, kr, MLKEM_SS_LEN);
out:
	if (rc != EPOCH_OK)
		memset(ss, 0, MLKEM_SS_LEN);
	crypto_wipe(in, sizeof(in));
	crypto_wipe(kr, sizeof(kr));
	crypto_wipe(zc, 32);
	crypto_wipe(kbar, sizeof(kbar));
	crypto_wipe(ct2, sizeof(ct2));
	return rc;
}

int mlkem_decaps(const uint8_t dk[MLKEM_DK_LEN], const uint8_t ct[MLKEM_CT_LEN],
		 uint8_t ss[MLKEM_SS_LEN])
{
	int rc = mlkem_check_dk(dk);

	if (rc != EPOCH_OK) {
		memset(ss, 0, MLKEM_SS_LEN);
		return rc;
	}
	return mlkem_decaps_internal(dk, ct, ss);
}
