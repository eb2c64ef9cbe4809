/* Result codes shared by every epochd module.
 *
 * Functions return EPOCH_OK (0) or a negative EPOCH_ERR_* code; callers
 * propagate with GUARD() (or GUARD_GOTO() where secrets must be wiped on the
 * way out). Each code has a stable name that tests assert on.
 */
#ifndef EPOCHD_RESULT_H
#define EPOCHD_RESULT_H

#define EPOCH_RESULTS(X)                                                    \
	X(EPOCH_OK, 0, "success")                                           \
	X(EPOCH_ERR_TRUNCATED, -1, "input ends before the value")           \
	X(EPOCH_ERR_VARINT, -2, "invalid or non-minimal variable-length integer") \
	X(EPOCH_ERR_TOO_LONG, -3, "vector longer than allowed")             \
	X(EPOCH_ERR_NO_SPACE, -4, "output buffer too small")                \
	X(EPOCH_ERR_TRAILING, -5, "trailing bytes after the value")         \
	X(EPOCH_ERR_MALFORMED, -6, "malformed encoding")                    \
	X(EPOCH_ERR_INVALID_ARG, -7, "invalid argument")                    \
	X(EPOCH_ERR_NOMEM, -8, "out of memory")                             \
	X(EPOCH_ERR_CRYPTO, -9, "cryptographic library failure")            \
	X(EPOCH_ERR_AUTH, -10, "authentication tag mismatch")               \
	X(EPOCH_ERR_SIGNATURE, -11, "signature verification failed")        \
	X(EPOCH_ERR_INVALID_KEY, -12, "invalid key")                        \
	X(EPOCH_ERR_RNG, -13, "random number generator failure")            \
	X(EPOCH_ERR_UNSUPPORTED, -14, "unsupported algorithm or parameter") \
	X(EPOCH_ERR_STATE, -15, "operation not allowed in this state")      \
	X(EPOCH_ERR_CONFIRMATION, -16, "confirmation tag mismatch")

enum epoch_result {
#define EPOCH_RESULT_ENUM(name, value, text) name = value,
	EPOCH_RESULTS(EPOCH_RESULT_ENUM)
#undef EPOCH_RESULT_ENUM
};

/* "EPOCH_ERR_TRUNCATED" for a code, "EPOCH_ERR_UNKNOWN" if not a code. */
const char *result_name(int rc);
/* Human-readable text for a code. */
const char *result_text(int rc);

#define GUARD(expr)                                                         \
	do {                                                                \
		int guard_rc_ = (expr);                                     \
		if (guard_rc_ != EPOCH_OK)                                  \
			return guard_rc_;                                   \
	} while (0)

/* Sets rc and jumps to label on error: for paths that must clean up. */
#define GUARD_GOTO(rc, expr, label)                                         \
	do {                                                                \
		(rc) = (expr);                                              \
		if ((rc) != EPOCH_OK)                                       \
			goto label;                                         \
	} while (0)

#endif
