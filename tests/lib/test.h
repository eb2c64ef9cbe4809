/* Minimal test harness shared by every test program.
 *
 * A program runs cases (test_run, or test_begin/test_end around a vector
 * case); a case passes when no CHECK inside it failed. test_main_end()
 * prints "PROG: N passed, N failed[, N skipped]" and returns the exit code.
 * Failures print "FAIL case: file:line: what" so the runner can show them.
 */
#ifndef EPOCHD_TEST_H
#define EPOCHD_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "proto/crypto.h"

void test_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Ends the case begun last; returns 1 if it passed. */
int test_end(void);
void test_run(const char *name, void (*fn)(void));
void test_skip(const char *name, const char *reason);
/* Prints the summary line; returns 0 if nothing failed, else 1. */
int test_main_end(const char *prog);
/* Failures counted so far in the current case (0 outside a case). */
unsigned test_case_failures(void);
/* Counts and prints a failure in the current case (used by the macros). */
void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prints a line only when TEST_VERBOSE is set. */
void test_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define CHECK(cond)                                                         \
	((cond) ? 1 : (test_fail(__FILE__, __LINE__, "%s", #cond), 0))

#define CHECK_RC(expr, want)                                                \
	test_check_rc((expr), (want), #expr, __FILE__, __LINE__)

#define CHECK_OK(expr) CHECK_RC(expr, EPOCH_OK)

#define CHECK_MEM(got, want, n)                                             \
	test_check_mem((got), (want), (n), #got, __FILE__, __LINE__)

#define CHECK_EQ_U64(got, want)                                             \
	test_check_u64((uint64_t)(got), (uint64_t)(want), #got, __FILE__,   \
		       __LINE__)

int test_check_rc(int got, int want, const char *expr, const char *file,
		  int line);
int test_check_mem(const void *got, const void *want, size_t n,
		   const char *expr, const char *file, int line);
int test_check_u64(uint64_t got, uint64_t want, const char *expr,
		   const char *file, int line);

/* ---- data helpers ------------------------------------------------------ */

/* A heap byte string; free with test_bytes_free. */
struct test_bytes {
	uint8_t *p;
	size_t len;
};
/* Decodes hex (whitespace and a leading 0x are not allowed); returns 0 on
 * success, -1 on bad hex. */
int test_hex(const char *hex, struct test_bytes *out);
/* Decodes hex of exactly want bytes into out; returns 0 or -1. */
int test_hex_fixed(const char *hex, uint8_t *out, size_t want);
void test_bytes_free(struct test_bytes *b);
/* Reads a whole file (NUL-terminated for convenience); NULL on error. */
char *test_read_file(const char *path, size_t *len);
/* Lower-case hex of n bytes into a static buffer (for messages). */
const char *test_tohex(const uint8_t *p, size_t n);

/* Deterministic RNG: a SHAKE-128 stream over a seed string. */
struct test_rng {
	struct crypto_xof xof;
	struct crypto_rng rng;
};
void test_rng_init(struct test_rng *t, const char *seed);

#endif
