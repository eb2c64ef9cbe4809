/* Fuzz target for proto/mls_msg: byte 0 picks the structure (MLSMessage,
 * ratchet tree, GroupSecrets, Commit, or one of the proposal bodies as
 * messages.json carries them), the rest is decoded as a whole buffer.
 *
 * Invariants:
 *  - decoding returns EPOCH_OK or a negative EPOCH_ERR_* code, and never
 *    reads outside the input (ASan/UBSan in both builds);
 *  - whatever decodes re-encodes to exactly the input bytes (the encoding
 *    is canonical: minimal varints, optional octets 0/1, known selectors),
 *    and the re-encoding decodes again.
 */
#include <string.h>

#include "proto/codec.h"
#include "proto/mls.h"
#include "tests/fuzz/fuzz.h"

union any_msg {
	struct mls_message message;
	struct mls_ratchet_tree tree;
	struct mls_group_secrets group_secrets;
	struct mls_proposal proposal;
	struct mls_commit commit;
};

enum { K_MESSAGE, K_TREE, K_GROUP_SECRETS, K_COMMIT, K_PROPOSAL,
       K_BODY_FIRST };
/* K_BODY_FIRST + t - 1 for proposal type t in 1..7. */
#define K_COUNT (K_BODY_FIRST + 7)

static int decode(unsigned k, const uint8_t *p, size_t n, union any_msg *u)
{
	struct codec_reader r;
	int rc;

	codec_reader_init(&r, p, n);
	switch (k) {
	case K_MESSAGE:
		rc = mls_message_decode(&r, &u->message);
		break;
	case K_TREE:
		rc = mls_ratchet_tree_decode(&r, &u->tree);
		break;
	case K_GROUP_SECRETS:
		rc = mls_group_secrets_decode(&r, &u->group_secrets);
		break;
	case K_COMMIT:
		rc = mls_commit_decode(&r, &u->commit);
		break;
	case K_PROPOSAL:
		rc = mls_proposal_decode(&r, &u->proposal);
		break;
	default:
		rc = mls_proposal_body_decode(
			&r, (uint16_t)(k - K_BODY_FIRST + 1), &u->proposal);
		break;
	}
	if (rc == EPOCH_OK)
		rc = codec_reader_done(&r);
	return rc;
}

static int encode(unsigned k, struct codec_writer *w, const union any_msg *u)
{
	switch (k) {
	case K_MESSAGE:
		return mls_message_encode(w, &u->message);
	case K_TREE:
		return mls_ratchet_tree_encode(w, &u->tree);
	case K_GROUP_SECRETS:
		return mls_group_secrets_encode(w, &u->group_secrets);
	case K_COMMIT:
		return mls_commit_encode(w, &u->commit);
	case K_PROPOSAL:
		return mls_proposal_encode(w, &u->proposal);
	default:
		return mls_proposal_body_encode(w, &u->proposal);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	union any_msg *u, *u2;
	struct codec_writer w;
	unsigned k;
	int rc;

	if (size < 1)
		return 0;
	k = data[0] % K_COUNT;
	u = calloc(1, sizeof(*u));
	u2 = calloc(1, sizeof(*u2));
	FUZZ_REQUIRE(u && u2);
	rc = decode(k, data + 1, size - 1, u);
	FUZZ_REQUIRE(rc <= 0);
	if (rc == EPOCH_OK) {
		codec_writer_init_dynamic(&w, size + 16);
		FUZZ_REQUIRE(encode(k, &w, u) == EPOCH_OK);
		FUZZ_REQUIRE(w.len == size - 1);
		FUZZ_REQUIRE(memcmp(w.buf, data + 1, size - 1) == 0);
		FUZZ_REQUIRE(decode(k, w.buf, w.len, u2) == EPOCH_OK);
		codec_writer_free(&w);
	}
	free(u);
	free(u2);
	return 0;
}
