/* Message protection (RFC 9420 §6): the FramedContent signature, the
 * PublicMessage membership tag and PrivateMessage encryption with sender
 * data. The KeyPackage / GroupInfo / Welcome half of mls_framing.h lives in
 * mls_welcome.c.
 *
 * Preconditions the functions enforce (EPOCH_ERR_INVALID_ARG): the
 * membership tag is for a member sender, wire format public and a content
 * type other than application (§6.2: application data is only ever sent
 * as a PrivateMessage); encryption is for a member sender and wire format
 * private.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/crypto.h"
#include "proto/mls.h"
#include "proto/mls_int.h"

/* SenderData (§6.3.2): uint32 leaf_index, uint32 generation,
 * opaque reuse_guard[4]. */
#define REUSE_GUARD_LEN 4
#define SENDER_DATA_LEN (4 + 4 + REUSE_GUARD_LEN)

/* Upper bound on any structure we build here (a commit with a full update
 * path stays far below it). */
#define FRAMING_MAX MLS_LABELED_MAX

/* ---- FramedContentTBS (§6.1) --------------------------------------------- */

static bool sender_needs_context(const struct mls_framed_content *fc)
{
	return fc->sender.type == MLS_SENDER_MEMBER ||
	       fc->sender.type == MLS_SENDER_NEW_MEMBER_COMMIT;
}

/* version, wire_format, content, and the GroupContext for a member or
 * new_member_commit sender. */
static int write_tbs(struct codec_writer *w, uint16_t wire_format,
		     const struct mls_framed_content *fc, const uint8_t *gc,
		     size_t gc_len)
{
	codec_write_u16(w, MLS_PROTOCOL_VERSION_MLS10);
	codec_write_u16(w, wire_format);
	GUARD(mls_framed_content_encode(w, fc));
	if (sender_needs_context(fc)) {
		if (!gc || gc_len == 0)
			return EPOCH_ERR_INVALID_ARG;
		codec_write_bytes(w, gc, gc_len);
	}
	return codec_writer_error(w);
}

int mls_framed_content_sign(const struct mls_suite *s, uint16_t wire_format,
			    const struct mls_framed_content *fc,
			    const uint8_t *gc, size_t gc_len,
			    const uint8_t *sk, size_t sk_len, uint8_t *sig)
{
	struct codec_writer w;
	size_t sig_len;
	int rc;

	if (!s || !fc || !sk || !sig)
		return EPOCH_ERR_INVALID_ARG;
	codec_writer_init_dynamic(&w, FRAMING_MAX);
	GUARD_GOTO(rc, write_tbs(&w, wire_format, fc, gc, gc_len), out);
	rc = mls_sign_with_label(s, sk, sk_len, "FramedContentTBS", w.buf,
				 w.len, sig, MLS_ED25519_SIG_LEN, &sig_len);
out:
	codec_writer_free(&w);
	return rc;
}

int mls_framed_content_verify(const struct mls_suite *s,
			      uint16_t wire_format,
			      const struct mls_framed_content *fc,
			      const uint8_t *gc, size_t gc_len,
			      const uint8_t *pk, size_t pk_len,
			      const uint8_t *sig, size_t sig_len)
{
	struct codec_writer w;
	int rc;

	if (!s || !fc || !pk || (sig_len && !sig))
		return EPOCH_ERR_INVALID_ARG;
	codec_writer_init_dynamic(&w, FRAMING_MAX);
	GUARD_GOTO(rc, write_tbs(&w, wire_format, fc, gc, gc_len), out);
	rc = mls_verify_with_label(s, pk, pk_len, "FramedContentTBS", w.buf,
				   w.len, sig, sig_len);
out:
	codec_writer_free(&w);
	return rc;
}

/* ---- membership tag (§6.2) ---------------------------------------------- */

/* FramedContentAuthData: signature<V>, and confirmation_tag<V> for a
 * commit. */
static void write_auth(struct codec_writer *w,
		       const struct mls_authenticated_content *ac)
{
	codec_write_vec(w, ac->signature.p, ac->signature.len);
	if (ac->content.content_type == MLS_CONTENT_COMMIT)
		codec_write_vec(w, ac->confirmation_tag.p,
				ac->confirmation_tag.len);
}

/* MAC(membership_key, AuthenticatedContentTBM) into tag (Nh bytes). */
static int tbm_mac(const struct mls_suite *s, const uint8_t *membership_key,
		   const struct mls_authenticated_content *ac,
		   const uint8_t *gc, size_t gc_len, uint8_t *tag)
{
	struct codec_writer w;
	int rc;

	if (!s || !membership_key || !ac || !tag ||
	    ac->wire_format != MLS_WIRE_PUBLIC_MESSAGE ||
	    ac->content.sender.type != MLS_SENDER_MEMBER ||
	    ac->content.content_type == MLS_CONTENT_APPLICATION)
		return EPOCH_ERR_INVALID_ARG;
	codec_writer_init_dynamic(&w, FRAMING_MAX);
	GUARD_GOTO(rc, write_tbs(&w, ac->wire_format, &ac->content, gc,
				 gc_len),
		   out);
	write_auth(&w, ac);
	GUARD_GOTO(rc, codec_writer_error(&w), out);
	rc = crypto_hmac(s->hash, membership_key, s->nh, w.buf, w.len, tag);
out:
	codec_writer_free(&w);
	return rc;
}

int mls_membership_tag(const struct mls_suite *s,
		       const uint8_t *membership_key,
		       const struct mls_authenticated_content *ac,
		       const uint8_t *gc, size_t gc_len, uint8_t *tag)
{
	return tbm_mac(s, membership_key, ac, gc, gc_len, tag);
}

int mls_membership_tag_verify(const struct mls_suite *s,
			      const uint8_t *membership_key,
			      const struct mls_authenticated_content *ac,
			      const uint8_t *gc, size_t gc_len,
			      const uint8_t *tag, size_t tag_len)
{
	uint8_t want[MLS_MAX_NH];
	int rc;

	if (tag_len && !tag)
		return EPOCH_ERR_INVALID_ARG;
	rc = tbm_mac(s, membership_key, ac, gc, gc_len, want);
	if (rc == EPOCH_OK &&
	    (tag_len != s->nh || !crypto_ct_equal(want, tag, s->nh)))
		rc = EPOCH_ERR_MEMBERSHIP;
	crypto_wipe(want, sizeof(want));
	return rc;
}

/* ---- PrivateMessage (§6.3) ---------------------------------------------- */

/* PrivateContentAAD: group_id<V>, epoch, content_type,
 * authenticated_data<V>. SenderDataAAD is its first three fields. */
static void write_aad(struct codec_writer *w, const struct codec_slice *gid,
		      uint64_t epoch, uint8_t content_type,
		      const struct codec_slice *authenticated_data)
{
	codec_write_vec(w, gid->p, gid->len);
	codec_write_u64(w, epoch);
	codec_write_u8(w, content_type);
	if (authenticated_data)
		codec_write_vec(w, authenticated_data->p,
				authenticated_data->len);
}

static enum mls_ratchet_type ratchet_for(uint8_t content_type)
{
	return content_type == MLS_CONTENT_APPLICATION ?
		       MLS_RATCHET_APPLICATION :
		       MLS_RATCHET_HANDSHAKE;
}

static bool content_type_ok(uint8_t ct)
{
	return ct >= MLS_CONTENT_APPLICATION && ct <= MLS_CONTENT_COMMIT;
}

/* The content nonce: the ratchet's nonce with its first four bytes XORed
 * with the reuse guard (§6.3.1). */
static void guarded_nonce(const struct mls_ratchet_key *rk,
			  const uint8_t *guard, uint8_t *nonce)
{
	memcpy(nonce, rk->nonce, rk->nonce_len);
	for (size_t i = 0; i < REUSE_GUARD_LEN; i++)
		nonce[i] ^= guard[i];
}

/* PrivateMessageContent: the content body, FramedContentAuthData and
 * pad zeros up to a multiple of pad_to. */
static int write_private_content(struct codec_writer *w,
				 const struct mls_authenticated_content *ac,
				 size_t pad_to)
{
	const struct mls_framed_content *fc = &ac->content;

	switch (fc->content_type) {
	case MLS_CONTENT_APPLICATION:
		codec_write_vec(w, fc->application_data.p,
				fc->application_data.len);
		break;
	case MLS_CONTENT_PROPOSAL:
		GUARD(mls_proposal_encode(w, &fc->proposal));
		break;
	case MLS_CONTENT_COMMIT:
		GUARD(mls_commit_encode(w, &fc->commit));
		break;
	default:
		return EPOCH_ERR_INVALID_ARG;
	}
	write_auth(w, ac);
	GUARD(codec_writer_error(w));
	if (pad_to > 1 && w->len % pad_to) {
		size_t pad = pad_to - w->len % pad_to;

		while (pad-- > 0)
			codec_write_u8(w, 0);
	}
	return codec_writer_error(w);
}

int mls_private_message_encrypt(const struct mls_suite *s,
				struct mls_secret_tree *st,
				const uint8_t *sender_data_secret,
				const struct mls_authenticated_content *ac,
				size_t pad_to,
				const struct crypto_rng *rng,
				struct codec_writer *out)
{
	const struct mls_framed_content *fc;
	struct codec_writer pt, aad;
	struct mls_ratchet_key rk;
	struct mls_private_message pm;
	uint8_t guard[REUSE_GUARD_LEN], nonce[MLS_MAX_NN];
	uint8_t sd_key[MLS_MAX_NK], sd_nonce[MLS_MAX_NN];
	uint8_t sd[SENDER_DATA_LEN], esd[SENDER_DATA_LEN + CRYPTO_AEAD_TAG_LEN];
	uint8_t *ct = NULL;
	size_t ct_len = 0;
	int rc;

	if (!s || !st || !sender_data_secret || !ac || !out)
		return EPOCH_ERR_INVALID_ARG;
	fc = &ac->content;
	if (ac->wire_format != MLS_WIRE_PRIVATE_MESSAGE ||
	    fc->sender.type != MLS_SENDER_MEMBER ||
	    !content_type_ok(fc->content_type) ||
	    fc->sender.index >= mls_secret_tree_n_leaves(st) ||
	    s->nn != CRYPTO_AEAD_NONCE_LEN)
		return EPOCH_ERR_INVALID_ARG;
	memset(&rk, 0, sizeof(rk));
	codec_writer_init_dynamic(&pt, FRAMING_MAX);
	codec_writer_init_dynamic(&aad, FRAMING_MAX);

	GUARD_GOTO(rc, write_private_content(&pt, ac, pad_to), done);
	write_aad(&aad, &fc->group_id, fc->epoch, fc->content_type,
		  &fc->authenticated_data);
	GUARD_GOTO(rc, codec_writer_error(&aad), done);
	ct_len = pt.len + CRYPTO_AEAD_TAG_LEN;
	ct = malloc(ct_len);
	if (!ct) {
		rc = EPOCH_ERR_NOMEM;
		goto done;
	}
	GUARD_GOTO(rc, crypto_random(rng, guard, sizeof(guard)), done);
	GUARD_GOTO(rc, mls_secret_tree_next_key(st, fc->sender.index,
						ratchet_for(fc->content_type),
						&rk),
		   done);
	guarded_nonce(&rk, guard, nonce);
	GUARD_GOTO(rc, crypto_aead_seal(s->aead, rk.key, nonce, aad.buf,
					aad.len, pt.buf, pt.len, ct),
		   done);

	/* Sender data, keyed by a sample of the content ciphertext. */
	sd[0] = (uint8_t)(fc->sender.index >> 24);
	sd[1] = (uint8_t)(fc->sender.index >> 16);
	sd[2] = (uint8_t)(fc->sender.index >> 8);
	sd[3] = (uint8_t)fc->sender.index;
	sd[4] = (uint8_t)(rk.generation >> 24);
	sd[5] = (uint8_t)(rk.generation >> 16);
	sd[6] = (uint8_t)(rk.generation >> 8);
	sd[7] = (uint8_t)rk.generation;
	memcpy(sd + 8, guard, REUSE_GUARD_LEN);
	GUARD_GOTO(rc, mls_sender_data_key_nonce(s, sender_data_secret, ct,
						 ct_len, sd_key, sd_nonce),
		   done);
	aad.len = 0;
	write_aad(&aad, &fc->group_id, fc->epoch, fc->content_type, NULL);
	GUARD_GOTO(rc, codec_writer_error(&aad), done);
	GUARD_GOTO(rc, crypto_aead_seal(s->aead, sd_key, sd_nonce, aad.buf,
					aad.len, sd, sizeof(sd), esd),
		   done);

	memset(&pm, 0, sizeof(pm));
	pm.group_id = fc->group_id;
	pm.epoch = fc->epoch;
	pm.content_type = fc->content_type;
	pm.authenticated_data = fc->authenticated_data;
	pm.encrypted_sender_data.p = esd;
	pm.encrypted_sender_data.len = sizeof(esd);
	pm.ciphertext.p = ct;
	pm.ciphertext.len = ct_len;
	rc = mls_private_message_encode(out, &pm);
done:
	codec_writer_free(&pt);
	codec_writer_free(&aad);
	free(ct);
	crypto_wipe(&rk, sizeof(rk));
	crypto_wipe(nonce, sizeof(nonce));
	crypto_wipe(sd_key, sizeof(sd_key));
	crypto_wipe(sd_nonce, sizeof(sd_nonce));
	crypto_wipe(sd, sizeof(sd));
	return rc;
}

/* Decoding errors inside an authenticated plaintext are the sender's
 * malformed content. */
static int malformed(int rc)
{
	return rc == EPOCH_ERR_TRUNCATED || rc == EPOCH_ERR_VARINT ?
		       EPOCH_ERR_MALFORMED :
		       rc;
}

/* Reads PrivateMessageContent (pt_len bytes of buf) into out->content's
 * body and out's auth data, then checks the padding is all zeros. */
static int read_private_content(const uint8_t *buf, size_t pt_len,
				struct mls_authenticated_content *out)
{
	struct mls_framed_content *fc = &out->content;
	struct codec_reader r;

	codec_reader_init(&r, buf, pt_len);
	switch (fc->content_type) {
	case MLS_CONTENT_APPLICATION:
		GUARD(malformed(codec_read_vec(&r, &fc->application_data,
					       CODEC_VARINT_MAX)));
		break;
	case MLS_CONTENT_PROPOSAL:
		GUARD(malformed(mls_proposal_decode(&r, &fc->proposal)));
		break;
	case MLS_CONTENT_COMMIT:
		GUARD(malformed(mls_commit_decode(&r, &fc->commit)));
		break;
	default:
		return EPOCH_ERR_MALFORMED;
	}
	GUARD(malformed(codec_read_vec(&r, &out->signature,
				       CODEC_VARINT_MAX)));
	if (fc->content_type == MLS_CONTENT_COMMIT)
		GUARD(malformed(codec_read_vec(&r, &out->confirmation_tag,
					       CODEC_VARINT_MAX)));
	/* §6.3.1: the padding must be all zero bytes. */
	for (size_t i = r.pos; i < pt_len; i++)
		if (buf[i] != 0)
			return EPOCH_ERR_MALFORMED;
	return EPOCH_OK;
}

int mls_private_message_open(const struct mls_suite *s,
			     struct mls_secret_tree *st,
			     const uint8_t *sender_data_secret,
			     const struct mls_private_message *pm,
			     uint8_t *buf, size_t cap,
			     struct mls_authenticated_content *out,
			     uint32_t *generation_out)
{
	struct codec_writer aad;
	struct mls_ratchet_key rk;
	uint8_t sd_key[MLS_MAX_NK], sd_nonce[MLS_MAX_NN], nonce[MLS_MAX_NN];
	uint8_t sd[SENDER_DATA_LEN];
	uint32_t leaf, generation;
	enum mls_ratchet_type type;
	size_t pt_len = 0;
	int rc;

	if (!s || !st || !sender_data_secret || !pm || !out ||
	    !generation_out || (cap && !buf) || s->nn != CRYPTO_AEAD_NONCE_LEN)
		return EPOCH_ERR_INVALID_ARG;
	if (!content_type_ok(pm->content_type))
		return EPOCH_ERR_MALFORMED;
	if (pm->encrypted_sender_data.len !=
	    SENDER_DATA_LEN + CRYPTO_AEAD_TAG_LEN)
		return EPOCH_ERR_MALFORMED;
	if (pm->ciphertext.len < CRYPTO_AEAD_TAG_LEN)
		return EPOCH_ERR_AUTH;
	pt_len = pm->ciphertext.len - CRYPTO_AEAD_TAG_LEN;
	if (cap < pt_len)
		return EPOCH_ERR_NO_SPACE;
	memset(&rk, 0, sizeof(rk));
	codec_writer_init_dynamic(&aad, FRAMING_MAX);

	/* Sender data (§6.3.2). */
	GUARD_GOTO(rc, mls_sender_data_key_nonce(s, sender_data_secret,
						 pm->ciphertext.p,
						 pm->ciphertext.len, sd_key,
						 sd_nonce),
		   done);
	write_aad(&aad, &pm->group_id, pm->epoch, pm->content_type, NULL);
	GUARD_GOTO(rc, codec_writer_error(&aad), done);
	GUARD_GOTO(rc, crypto_aead_open(s->aead, sd_key, sd_nonce, aad.buf,
					aad.len, pm->encrypted_sender_data.p,
					pm->encrypted_sender_data.len, sd),
		   done);
	leaf = (uint32_t)sd[0] << 24 | (uint32_t)sd[1] << 16 |
	       (uint32_t)sd[2] << 8 | sd[3];
	generation = (uint32_t)sd[4] << 24 | (uint32_t)sd[5] << 16 |
		     (uint32_t)sd[6] << 8 | sd[7];
	if (leaf >= mls_secret_tree_n_leaves(st)) {
		rc = EPOCH_ERR_SENDER;
		goto done;
	}

	/* The content, with that generation's key, peeked: the caller
	 * consumes the generation once the message has passed every check,
	 * so an altered copy does not burn the genuine message's. */
	type = ratchet_for(pm->content_type);
	GUARD_GOTO(rc, mls_secret_tree_peek(st, leaf, type, generation, &rk),
		   done);
	guarded_nonce(&rk, sd + 8, nonce);
	aad.len = 0;
	write_aad(&aad, &pm->group_id, pm->epoch, pm->content_type,
		  &pm->authenticated_data);
	GUARD_GOTO(rc, codec_writer_error(&aad), done);
	GUARD_GOTO(rc, crypto_aead_open(s->aead, rk.key, nonce, aad.buf,
					aad.len, pm->ciphertext.p,
					pm->ciphertext.len, buf),
		   done);
	*generation_out = generation;
	out->wire_format = MLS_WIRE_PRIVATE_MESSAGE;
	out->content.group_id = pm->group_id;
	out->content.epoch = pm->epoch;
	out->content.sender.type = MLS_SENDER_MEMBER;
	out->content.sender.index = leaf;
	out->content.authenticated_data = pm->authenticated_data;
	out->content.content_type = pm->content_type;
	out->content.application_data.p = NULL;
	out->content.application_data.len = 0;
	out->signature.p = out->confirmation_tag.p = NULL;
	out->signature.len = out->confirmation_tag.len = 0;
	rc = read_private_content(buf, pt_len, out);
	if (rc != EPOCH_OK)
		crypto_wipe(buf, pt_len);
done:
	codec_writer_free(&aad);
	crypto_wipe(&rk, sizeof(rk));
	crypto_wipe(nonce, sizeof(nonce));
	crypto_wipe(sd_key, sizeof(sd_key));
	crypto_wipe(sd_nonce, sizeof(sd_nonce));
	crypto_wipe(sd, sizeof(sd));
	return rc;
}

int mls_private_message_decrypt(const struct mls_suite *s,
				struct mls_secret_tree *st,
				const uint8_t *sender_data_secret,
				const struct mls_private_message *pm,
				uint8_t *buf, size_t cap,
				struct mls_authenticated_content *out)
{
	uint32_t generation;
	int rc;

	GUARD(mls_private_message_open(s, st, sender_data_secret, pm, buf, cap,
				       out, &generation));
	rc = mls_secret_tree_consume(st, out->content.sender.index,
				     ratchet_for(pm->content_type), generation);
	if (rc != EPOCH_OK)
		crypto_wipe(buf, pm->ciphertext.len - CRYPTO_AEAD_TAG_LEN);
	return rc;
}
