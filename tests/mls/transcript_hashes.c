/* transcript-hashes.json: confirmed / interim transcript hashes and the
 * confirmation tag (RFC 9420 §8.2, §6.1). */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "tests/mls/vectors.h"

static void th_case(const struct mls_suite *s, const struct json *c)
{
	struct test_bytes key = { 0 }, acb = { 0 }, before = { 0 },
			  confirmed = { 0 }, interim = { 0 };
	struct mls_authenticated_content *ac = calloc(1, sizeof(*ac));
	uint8_t out[MLS_MAX_NH], tag[MLS_MAX_NH], bad[MLS_MAX_NH];
	struct codec_writer w;

	codec_writer_init_dynamic(&w, 1 << 20);

	if (!CHECK(ac != NULL) || vhex(c, "confirmation_key", &key) ||
	    vhex(c, "authenticated_content", &acb) ||
	    vhex(c, "interim_transcript_hash_before", &before) ||
	    vhex(c, "confirmed_transcript_hash_after", &confirmed) ||
	    vhex(c, "interim_transcript_hash_after", &interim) ||
	    !CHECK(key.len == s->nh && confirmed.len == s->nh &&
		   interim.len == s->nh) ||
	    !CHECK_OK(mls_authenticated_content_decode_all(acb.p, acb.len,
							   ac)) ||
	    !CHECK(ac->content.content_type == MLS_CONTENT_COMMIT))
		goto out;
	/* The AuthenticatedContent re-encodes byte-identically. */
	if (CHECK_OK(mls_authenticated_content_encode(&w, ac)) &&
	    CHECK(w.len == acb.len))
		CHECK_MEM(w.buf, acb.p, acb.len);
	/* The tag in the content is MAC(confirmation_key, confirmed_after). */
	if (CHECK_OK(mls_confirmation_tag(s, key.p, confirmed.p, tag)) &&
	    CHECK(ac->confirmation_tag.len == s->nh))
		CHECK_MEM(ac->confirmation_tag.p, tag, s->nh);
	CHECK_OK(mls_confirmation_tag_verify(s, key.p, confirmed.p,
					     ac->confirmation_tag.p,
					     ac->confirmation_tag.len));
	if (ac->confirmation_tag.len == s->nh) {
		memcpy(bad, ac->confirmation_tag.p, s->nh);
		bad[s->nh - 1] ^= 0x01;
		CHECK_RC(mls_confirmation_tag_verify(s, key.p, confirmed.p, bad,
						     s->nh),
			 EPOCH_ERR_CONFIRMATION);
		CHECK_RC(mls_confirmation_tag_verify(s, key.p, confirmed.p, bad,
						     s->nh - 1),
			 EPOCH_ERR_CONFIRMATION);
	}
	/* confirmed_after from interim_before and the content. */
	if (CHECK_OK(mls_confirmed_transcript_hash(s, before.p, before.len, ac,
						   out)))
		CHECK_MEM(out, confirmed.p, s->nh);
	/* interim_after from confirmed_after and the tag. */
	if (CHECK_OK(mls_interim_transcript_hash(s, confirmed.p,
						 ac->confirmation_tag.p,
						 ac->confirmation_tag.len,
						 out)))
		CHECK_MEM(out, interim.p, s->nh);
	/* A non-commit content has no confirmed transcript hash. */
	ac->content.content_type = MLS_CONTENT_APPLICATION;
	CHECK_RC(mls_confirmed_transcript_hash(s, before.p, before.len, ac,
					       out),
		 EPOCH_ERR_INVALID_ARG);
out:
	codec_writer_free(&w);
	free(ac);
	test_bytes_free(&key);
	test_bytes_free(&acb);
	test_bytes_free(&before);
	test_bytes_free(&confirmed);
	test_bytes_free(&interim);
}

void run_transcript_hashes(const struct json *doc, const char *file)
{
	vrun_suite_cases(doc, file, th_case);
}
