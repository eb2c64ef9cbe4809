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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Optional: how many pseudo-random inputs the replay driver (driver.c)
 * feeds this target when FUZZ_DRIVER_RUNS is not set (default 4000); for
 * a target whose every input is slow. libFuzzer ignores it. */
extern const long fuzz_driver_runs;

#define FUZZ_REQUIRE(cond)                                                  \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",    \
				__FILE__, __LINE__, #cond);                 \
			abort();                                            \
		}                                                           \
	} while (0)

#endif
