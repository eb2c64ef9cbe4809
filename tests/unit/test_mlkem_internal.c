/* proto/mlkem internals, white-box: the file includes proto/mlkem.c to
 * reach its static arithmetic and checks it against the FIPS 203
 * definitions computed naively in 64-bit integers, exhaustively where the
 * domain is small and with worst-case (largest magnitude) inputs for the
 * NTTs, whose int16 bounds are argued in the comments of mlkem.c. A wrapped
 * int16 would be off by 2^16, which is not 0 mod q, so it shows up as a
 * wrong residue. */
#include "proto/mlkem.c"

#include <stdio.h>

#include "tests/lib/test.h"

static int64_t modq(int64_t x)
{
	x %= MLKEM_Q;
	return x < 0 ? x + MLKEM_Q : x;
}

static int64_t powq(int64_t b, unsigned e)
{
	int64_t r = 1;

	while (e--)
		r = r * b % MLKEM_Q;
	return r;
}

static unsigned bitrev7(unsigned i)
{
	unsigned r = 0, k;

	for (k = 0; k < 7; k++)
		if (i >> k & 1)
			r |= 1u << (6 - k);
	return r;
}

/* 2^-16 mod q (1665 = 2^-1 mod q). */
static int64_t rinv(void)
{
	return powq(1665, 16);
}

/* Compress_d, Decompress_d (§4.2.1) for every input, d = 1..11. */
static void test_compress(void)
{
	unsigned d, bad = 0;
	int x;

	for (d = 1; d <= 11; d++) {
		for (x = 0; x < MLKEM_Q; x++) {
			/* round(2^d x / q), halves up: floor((2^(d+1) x + q) / 2q) */
			int64_t want = ((((int64_t)x << (d + 1)) + MLKEM_Q) /
					(2 * MLKEM_Q)) & ((1 << d) - 1);

			bad += compress((int16_t)x, d) != want;
		}
		for (x = 0; x < (1 << d); x++) {
			int64_t want = ((int64_t)x * MLKEM_Q * 2 + (1 << d)) /
				       (2 << d);

			bad += decompress((uint16_t)x, d) != want;
		}
	}
	CHECK_EQ_U64(bad, 0);
}

/* Reductions over their whole input ranges. */
static void test_reduce(void)
{
	const int64_t ri = rinv();
	unsigned bad = 0, k;
	int32_t a;

	for (a = INT16_MIN; a <= INT16_MAX; a++) {
		int16_t r = barrett_reduce((int16_t)a), c = canon((int16_t)a);

		bad += modq(r - a) != 0 || r < -(MLKEM_Q - 1) / 2 ||
		       r > (MLKEM_Q - 1) / 2;
		bad += modq(c - a) != 0 || c < 0 || c >= MLKEM_Q;
		for (k = 0; k < 128; k++) {
			int16_t m = fqmul_pre((int16_t)a, zetas[k],
					      zetas_qinv[k]);

			bad += m != fqmul((int16_t)a, zetas[k]);
			bad += modq(m - modq((int64_t)a * zetas[k]) * ri) != 0;
		}
	}
	for (a = 0; a < 4096; a++) {
		int16_t c = csubq((int16_t)a);

		bad += modq(c - a) != 0 || c < 0 || c >= MLKEM_Q;
	}
	/* Montgomery reduction at the edges of |a| < 2^15 q. */
	for (a = -(1 << 15) * MLKEM_Q + 1; a < (1 << 15) * MLKEM_Q;
	     a += 9973) {
		int16_t m = mont_reduce(a);

		bad += modq(m - modq(a) * rinv()) != 0 || m <= -MLKEM_Q ||
		       m >= MLKEM_Q;
	}
	CHECK_EQ_U64(bad, 0);
}

static uint64_t xs = 0x9e3779b97f4a7c15u;

static uint64_t next(void)
{
	xs ^= xs << 13;
	xs ^= xs >> 7;
	xs ^= xs << 17;
	return xs;
}

/* Input patterns with the largest magnitudes the code accepts (|x| < q),
 * then random ones. */
static void fill(poly *p, unsigned mode)
{
	unsigned i;

	for (i = 0; i < MLKEM_N; i++) {
		int v;

		switch (mode % 6) {
		case 0: v = MLKEM_Q - 1; break;
		case 1: v = -(MLKEM_Q - 1); break;
		case 2: v = i & 1 ? MLKEM_Q - 1 : -(MLKEM_Q - 1); break;
		case 3: v = i & 2 ? MLKEM_Q - 1 : -(MLKEM_Q - 1); break;
		case 4: v = next() & 1 ? MLKEM_Q - 1 : -(MLKEM_Q - 1); break;
		default: v = (int)(next() % (2 * MLKEM_Q - 1)) - (MLKEM_Q - 1);
		}
		p->c[i] = (int16_t)v;
	}
}

/* NTT (Alg 9) against its definition: f̂[2i] = sum_j f[2j] zeta^((2
 * BitRev7(i) + 1) j), likewise for odd coefficients; the inverse against
 * NTT(invNTT(x)) = x R (invNTT removes the R^-1 a base-case product
 * carries). */
static void test_ntt(void)
{
	unsigned it, i, j, bad = 0;

	for (it = 0; it < 60; it++) {
		poly p, q;

		fill(&p, it);
		q = p;
		poly_ntt(&q);
		for (i = 0; i < 128; i++) {
			int64_t g = powq(17, 2 * bitrev7(i) + 1), gp = 1;
			int64_t e = 0, o = 0;

			for (j = 0; j < 128; j++) {
				e = modq(e + p.c[2 * j] * gp);
				o = modq(o + p.c[2 * j + 1] * gp);
				gp = gp * g % MLKEM_Q;
			}
			bad += modq(q.c[2 * i]) != e || modq(q.c[2 * i + 1]) != o;
			bad += q.c[2 * i] < -(MLKEM_Q - 1) / 2 ||
			       q.c[2 * i] > (MLKEM_Q - 1) / 2;
		}
		q = p;
		poly_invntt(&q);
		for (i = 0; i < MLKEM_N; i++)
			bad += q.c[i] <= -MLKEM_Q || q.c[i] >= MLKEM_Q;
		poly_ntt(&q);
		for (i = 0; i < MLKEM_N; i++)
			bad += modq(q.c[i]) != modq((int64_t)p.c[i] * 65536);
	}
	CHECK_EQ_U64(bad, 0);
}

/* MultiplyNTTs (Alg 11, 12) summed over a row, with extreme operands:
 * a in [0, q), b Barrett-reduced. */
static void test_basemul(void)
{
	unsigned it, i, j, bad = 0;

	for (it = 0; it < 200; it++) {
		poly a[MLKEM_K], b[MLKEM_K], r;
		poly_cache bc[MLKEM_K];

		for (j = 0; j < MLKEM_K; j++) {
			for (i = 0; i < MLKEM_N; i++) {
				a[j].c[i] = (int16_t)(it & 1 ? MLKEM_Q - 1
							     : next() % MLKEM_Q);
				b[j].c[i] = (int16_t)(it & 2 ? (next() & 1 ? 1664 : -1664)
							     : (int)(next() % MLKEM_Q) - 1664);
			}
			poly_make_cache(&bc[j], &b[j]);
		}
		poly_basemul_acc(&r, a, b, bc);
		for (i = 0; i < MLKEM_N / 2; i++) {
			int64_t g = powq(17, 2 * bitrev7(i) + 1), c0 = 0, c1 = 0;

			for (j = 0; j < MLKEM_K; j++) {
				int64_t a0 = a[j].c[2 * i], a1 = a[j].c[2 * i + 1];
				int64_t b0 = b[j].c[2 * i], b1 = b[j].c[2 * i + 1];

				c0 = modq(c0 + a0 * b0 + modq(a1 * b1) * g);
				c1 = modq(c1 + a0 * b1 + a1 * b0);
			}
			bad += modq(r.c[2 * i]) != modq(c0 * rinv());
			bad += modq(r.c[2 * i + 1]) != modq(c1 * rinv());
			bad += r.c[2 * i] <= -MLKEM_Q || r.c[2 * i] >= MLKEM_Q;
		}
	}
	CHECK_EQ_U64(bad, 0);
}

/* SamplePolyCBD_2 (Alg 8) bit by bit. */
static void test_cbd(void)
{
	uint8_t buf[PRF_LEN];
	unsigned it, i, bad = 0;
	poly p;

	for (it = 0; it < 100; it++) {
		for (i = 0; i < PRF_LEN; i++)
			buf[i] = (uint8_t)next();
		poly_cbd2(&p, buf);
		for (i = 0; i < MLKEM_N; i++) {
			unsigned b[4], k;

			for (k = 0; k < 4; k++)
				b[k] = buf[(4 * i + k) / 8] >> ((4 * i + k) % 8) & 1;
			bad += p.c[i] != (int)(b[0] + b[1]) - (int)(b[2] + b[3]);
		}
	}
	CHECK_EQ_U64(bad, 0);
}

/* ByteEncode/ByteDecode (Alg 5, 6) and the compressed forms round-trip. */
static void test_encodings(void)
{
	uint8_t b12[POLY_BYTES], b10[C1_POLY_BYTES], b4[C2_LEN], m[32];
	unsigned it, i, bad = 0;
	poly p, q;

	for (it = 0; it < 100; it++) {
		for (i = 0; i < MLKEM_N; i++)
			p.c[i] = (int16_t)(next() % MLKEM_Q);
		poly_encode12(b12, &p);
		poly_decode12(&q, b12);
		bad += memcmp(&p, &q, sizeof(p)) != 0;
		/* bit i*12+j of the encoding is bit j of coefficient i */
		for (i = 0; i < 12 * MLKEM_N; i += 37)
			bad += (b12[i / 8] >> (i % 8) & 1) !=
			       ((unsigned)p.c[i / 12] >> (i % 12) & 1);
		poly_compress10(b10, &p);
		poly_decompress10(&q, b10);
		for (i = 0; i < MLKEM_N; i++)
			bad += q.c[i] != decompress(compress(p.c[i], 10), 10);
		poly_compress4(b4, &p);
		poly_decompress4(&q, b4);
		for (i = 0; i < MLKEM_N; i++)
			bad += q.c[i] != decompress(compress(p.c[i], 4), 4);
		for (i = 0; i < 32; i++)
			m[i] = (uint8_t)next();
		memset(&q, 0, sizeof(q));
		poly_add_message(&q, m);
		poly_to_message(b12, &q);
		bad += memcmp(b12, m, 32) != 0;
	}
	CHECK_EQ_U64(bad, 0);
}

int main(int argc, char **argv)
{
	(void)argc;
	test_run("compress", test_compress);
	test_run("reduce", test_reduce);
	test_run("ntt", test_ntt);
	test_run("basemul", test_basemul);
	test_run("cbd", test_cbd);
	test_run("encodings", test_encodings);
	return test_main_end(argv[0]);
}
