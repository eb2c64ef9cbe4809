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
	X(EPOCH_ERR_CONFIRMATION, -16, "confirmation tag mismatch")         \
	X(EPOCH_ERR_MEMBERSHIP, -17, "membership tag mismatch")             \
	X(EPOCH_ERR_TREE_HASH, -18, "tree hash mismatch")                   \
	X(EPOCH_ERR_PARENT_HASH, -19, "parent hash mismatch")               \
	X(EPOCH_ERR_EPOCH, -20, "message for another epoch or group")       \
	X(EPOCH_ERR_GENERATION, -21, "key generation already used or too far") \
	X(EPOCH_ERR_LIFETIME, -22, "key package or leaf outside its lifetime") \
	X(EPOCH_ERR_CAPABILITIES, -23, "capabilities do not cover what is used") \
	X(EPOCH_ERR_CREDENTIAL, -24, "credential or signature key not accepted") \
	X(EPOCH_ERR_LEAF_SOURCE, -25, "leaf node source wrong for its use")  \
	X(EPOCH_ERR_DUPLICATE_KEY, -26, "key already used in the tree")      \
	X(EPOCH_ERR_SENDER, -27, "sender not allowed for this message")      \
	X(EPOCH_ERR_PROPOSAL, -28, "proposal or commit content not allowed") \
	X(EPOCH_ERR_TREE, -29, "ratchet tree invalid")                       \
	X(EPOCH_ERR_SUITE, -30, "cipher suite or version mismatch")

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
