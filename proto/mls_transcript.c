/* Transcript hashes and the confirmation tag (RFC 9420 §8.2, §6.1). */
#include <string.h>

#include "proto/codec.h"
#include "proto/crypto.h"
#include "proto/mls.h"

/* Largest transcript input we hash in one piece: a commit with a full
 * update path stays far below this. */
#define TRANSCRIPT_MAX (1u << 20)

int mls_confirmed_transcript_hash(const struct mls_suite *s,
				  const uint8_t *interim, size_t interim_len,
				  const struct mls_authenticated_content *ac,
				  uint8_t *out)
{
	struct codec_writer w;
	int rc;

	if (!s || !ac || !out || (interim_len && !interim) ||
	    ac->content.content_type != MLS_CONTENT_COMMIT)
		return EPOCH_ERR_INVALID_ARG;
	codec_writer_init_dynamic(&w, TRANSCRIPT_MAX);
	if (interim_len)
		codec_write_bytes(&w, interim, interim_len);
	/* ConfirmedTranscriptHashInput: wire_format, content, signature. */
	codec_write_u16(&w, ac->wire_format);
	rc = mls_framed_content_encode(&w, &ac->content);
	if (rc == EPOCH_OK) {
		codec_write_vec(&w, ac->signature.p, ac->signature.len);
		rc = codec_writer_error(&w);
	}
	if (rc == EPOCH_OK)
		rc = crypto_hash(s->hash, w.buf, w.len, out);
	codec_writer_free(&w);
	return rc;
}

int mls_interim_transcript_hash(const struct mls_suite *s,
				const uint8_t *confirmed, const uint8_t *tag,
				size_t tag_len, uint8_t *out)
{
	uint8_t buf[MLS_MAX_NH + 8 + MLS_MAX_NH];
	struct codec_writer w;
	int rc;

	if (!s || !confirmed || !out || (tag_len && !tag) ||
	    tag_len > MLS_MAX_NH)
		return EPOCH_ERR_INVALID_ARG;
	codec_writer_init(&w, buf, sizeof(buf));
	codec_write_bytes(&w, confirmed, s->nh);
	/* InterimTranscriptHashInput: MAC confirmation_tag (opaque<V>). */
	codec_write_vec(&w, tag, tag_len);
	rc = codec_writer_error(&w);
	if (rc == EPOCH_OK)
		rc = crypto_hash(s->hash, buf, w.len, out);
	return rc;
}

int mls_confirmation_tag(const struct mls_suite *s,
			 const uint8_t *confirmation_key,
			 const uint8_t *confirmed, uint8_t *tag)
{
	if (!s || !confirmation_key || !confirmed || !tag)
		return EPOCH_ERR_INVALID_ARG;
	return crypto_hmac(s->hash, confirmation_key, s->nh, confirmed, s->nh,
			   tag);
}

int mls_confirmation_tag_verify(const struct mls_suite *s,
				const uint8_t *confirmation_key,
				const uint8_t *confirmed, const uint8_t *tag,
				size_t tag_len)
{
	uint8_t want[MLS_MAX_NH];
	int rc;

	if (!s || (tag_len && !tag))
		return EPOCH_ERR_INVALID_ARG;
	rc = mls_confirmation_tag(s, confirmation_key, confirmed, want);
	if (rc == EPOCH_OK && (tag_len != s->nh ||
			       !crypto_ct_equal(want, tag, s->nh)))
		rc = EPOCH_ERR_CONFIRMATION;
	crypto_wipe(want, sizeof(want));
	return rc;
}
