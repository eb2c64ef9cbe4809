/* Every tests/fuzz/fuzz_<name>.c defines the libFuzzer entry point below.
 *
 * It is built twice (Makefile, "fuzzing" section): with clang and libFuzzer
 * into build/fuzz/fuzz_<name> for `make fuzz`, and with the project's
 * compiler and tests/fuzz/driver.c into build/tests/fuzz_<name>, a unit test
 * that replays tests/fuzz/corpus/<name>/ and seeded pseudo-random inputs.
 *
 * A target reports a broken invariant by calling abort() (FUZZ_REQUIRE), so
 * both builds fail on it. It must be deterministic and keep no state between
 * calls.
 */
#ifndef EPOCHD_FUZZ_H
#define EPOCHD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "proto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Optional: how many pseudo-random inputs the replay driver (driver.c)
 * feeds this target when FUZZ_DRIVER_RUNS is not set (default 4000); for
 * a target whose every input is slow. libFuzzer ignores it. */
extern const long fuzz_driver_runs;

/* Deterministic randomness for targets that build real groups: SHA-256 in
 * counter mode over a counter the target owns (reset it for independent
 * inputs). Good enough keys for a fuzz harness, never for anything else.
 * Use: static struct fuzz_stream st; const struct crypto_rng rng =
 * { fuzz_stream_fill, &st }; */
struct fuzz_stream {
	uint8_t ctr[8];
};

static inline int fuzz_stream_fill(void *ctx, uint8_t *out, size_t n)
{
	struct fuzz_stream *st = ctx;
	uint8_t block[32];

	while (n) {
		size_t k = n < sizeof(block) ? n : sizeof(block);
		int rc = crypto_hash(CRYPTO_SHA256, st->ctr, sizeof(st->ctr),
				     block);

		if (rc != EPOCH_OK)
			return rc;
		for (int i = 0; i < 8 && ++st->ctr[i] == 0; i++)
			;
		for (size_t i = 0; i < k; i++)
			out[i] = block[i];
		out += k;
		n -= k;
	}
	return EPOCH_OK;
}

#define FUZZ_REQUIRE(cond)                                                  \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",    \
				__FILE__, __LINE__, #cond);                 \
			abort();                                            \
		}                                                           \
	} while (0)

#endif
