/* GroupContext, key schedule (RFC 9420 §8), welcome_secret (§8, for
 * Welcome messages), PSK secret (§8.4) and the exporter (§8.5). */
#include <string.h>

#include "proto/codec.h"
#include "proto/crypto.h"
#include "proto/mls.h"
#include "proto/mls_int.h"

static const uint8_t zeros[MLS_MAX_NH];

int mls_group_context_encode(struct codec_writer *w,
			     const struct mls_group_context *gc)
{
	if (!w || !gc)
		return EPOCH_ERR_INVALID_ARG;
	/* §8.1: version, cipher_suite, group_id<V>, epoch, tree_hash<V>,
	 * confirmed_transcript_hash<V>, extensions<V>. */
	codec_write_u16(w, MLS_PROTOCOL_VERSION_MLS10);
	codec_write_u16(w, gc->cipher_suite);
	codec_write_vec(w, gc->group_id, gc->group_id_len);
	codec_write_u64(w, gc->epoch);
	codec_write_vec(w, gc->tree_hash, gc->tree_hash_len);
	codec_write_vec(w, gc->confirmed_transcript_hash,
			gc->confirmed_transcript_hash_len);
	codec_write_vec(w, gc->extensions, gc->extensions_len);
	return codec_writer_error(w);
}

void mls_epoch_secrets_wipe(struct mls_epoch_secrets *es)
{
	if (es)
		crypto_wipe(es, sizeof(*es));
}

/* member_secret = Extract(salt = joiner_secret, ikm = psk_secret): the
 * intermediate of §8 that welcome_secret and epoch_secret come from. */
static int member_secret(const struct mls_suite *s,
			 const uint8_t *joiner_secret,
			 const uint8_t *psk_secret, uint8_t *out)
{
	return crypto_hkdf_extract(s->hash, joiner_secret, s->nh,
				   psk_secret ? psk_secret : zeros, s->nh,
				   out);
}

int mls_welcome_secret(const struct mls_suite *s,
		       const uint8_t *joiner_secret,
		       const uint8_t *psk_secret, uint8_t *out)
{
	uint8_t member[MLS_MAX_NH];
	int rc;

	if (!s || !joiner_secret || !out)
		return EPOCH_ERR_INVALID_ARG;
	GUARD_GOTO(rc, member_secret(s, joiner_secret, psk_secret, member),
		   out);
	/* welcome_secret = DeriveSecret(member_secret, "welcome") */
	rc = mls_derive_secret(s, member, s->nh, "welcome", out);
out:
	crypto_wipe(member, sizeof(member));
	return rc;
}

int mls_key_schedule_from_joiner(const struct mls_suite *s,
				 const uint8_t *joiner_secret,
				 const uint8_t *psk_secret,
				 const uint8_t *group_context,
				 size_t group_context_len,
				 struct mls_epoch_secrets *out)
{
	uint8_t member[MLS_MAX_NH], epoch[MLS_MAX_NH];
	size_t nh;
	int rc;

	if (!s || !joiner_secret || !out)
		return EPOCH_ERR_INVALID_ARG;
	nh = s->nh;
	if (out->joiner_secret != joiner_secret)
		memmove(out->joiner_secret, joiner_secret, nh);
	out->nh = nh;
	GUARD_GOTO(rc, member_secret(s, out->joiner_secret, psk_secret,
				     member),
		   out);
	/* welcome_secret = DeriveSecret(member_secret, "welcome") */
	GUARD_GOTO(rc, mls_derive_secret(s, member, nh, "welcome",
					 out->welcome_secret),
		   out);
	GUARD_GOTO(rc, mls_expand_with_label(s, member, nh, "epoch",
					     group_context, group_context_len,
					     epoch, nh),
		   out);
	/* §8 Table 4. */
	static const struct {
		const char *label;
		size_t off;
	} derived[] = {
		{ "sender data",
		  offsetof(struct mls_epoch_secrets, sender_data_secret) },
		{ "encryption",
		  offsetof(struct mls_epoch_secrets, encryption_secret) },
		{ "exporter",
		  offsetof(struct mls_epoch_secrets, exporter_secret) },
		{ "external",
		  offsetof(struct mls_epoch_secrets, external_secret) },
		{ "confirm",
		  offsetof(struct mls_epoch_secrets, confirmation_key) },
		{ "membership",
		  offsetof(struct mls_epoch_secrets, membership_key) },
		{ "resumption",
		  offsetof(struct mls_epoch_secrets, resumption_psk) },
		{ "authentication",
		  offsetof(struct mls_epoch_secrets, epoch_authenticator) },
		{ "init", offsetof(struct mls_epoch_secrets, init_secret) },
	};
	for (size_t i = 0; i < sizeof(derived) / sizeof(derived[0]); i++)
		GUARD_GOTO(rc, mls_derive_secret(s, epoch, nh,
						 derived[i].label,
						 (uint8_t *)out +
							 derived[i].off),
			   out);
#ifdef EPOCHD_TEST_SECRETS
	memcpy(out->test_epoch_secret, epoch, nh);
	memcpy(out->test_joiner_secret, out->joiner_secret, nh);
	memcpy(out->test_welcome_secret, out->welcome_secret, nh);
	memcpy(out->test_member_secret, member, nh);
#endif
out:
	crypto_wipe(member, sizeof(member));
	crypto_wipe(epoch, sizeof(epoch));
	if (rc != EPOCH_OK)
		mls_epoch_secrets_wipe(out);
	return rc;
}

int mls_key_schedule(const struct mls_suite *s, const uint8_t *init_secret,
		     const uint8_t *commit_secret, const uint8_t *psk_secret,
		     const uint8_t *group_context, size_t group_context_len,
		     struct mls_epoch_secrets *out)
{
	uint8_t prk[MLS_MAX_NH], joiner[MLS_MAX_NH];
	int rc;

	if (!s || !init_secret || !out)
		return EPOCH_ERR_INVALID_ARG;
	/* joiner_secret = ExpandWithLabel(Extract(salt = init_secret,
	 *   ikm = commit_secret), "joiner", GroupContext_[n], Nh) */
	GUARD_GOTO(rc, crypto_hkdf_extract(s->hash, init_secret, s->nh,
					   commit_secret ? commit_secret
							 : zeros,
					   s->nh, prk),
		   out);
	GUARD_GOTO(rc, mls_expand_with_label(s, prk, s->nh, "joiner",
					     group_context, group_context_len,
					     joiner, s->nh),
		   out);
	rc = mls_key_schedule_from_joiner(s, joiner, psk_secret, group_context,
					  group_context_len, out);
#ifdef EPOCHD_TEST_SECRETS
	if (rc == EPOCH_OK && commit_secret)
		memcpy(out->test_commit_secret, commit_secret, s->nh);
#endif
out:
	crypto_wipe(prk, sizeof(prk));
	crypto_wipe(joiner, sizeof(joiner));
	if (rc != EPOCH_OK)
		mls_epoch_secrets_wipe(out);
	return rc;
}

int mls_external_keypair(const struct mls_suite *s,
			 const uint8_t *external_secret,
			 struct hpke_keypair *kp)
{
	if (!s || !external_secret || !kp)
		return EPOCH_ERR_INVALID_ARG;
	/* The suite's KEM.DeriveKeyPair as MLS uses it (for X-Wing the
	 * unlabeled SHAKE256 seed, not hpke-pq's labeled derive). */
	return mls_derive_keypair(s, external_secret, s->nh, kp);
}

int mls_exporter(const struct mls_suite *s, const uint8_t *exporter_secret,
		 const uint8_t *label, size_t label_len, const uint8_t *ctx,
		 size_t ctx_len, uint8_t *out, size_t out_len)
{
	uint8_t derived[MLS_MAX_NH], hctx[MLS_MAX_NH];
	int rc;

	if (!s || !exporter_secret)
		return EPOCH_ERR_INVALID_ARG;
	/* DeriveSecret(exporter_secret, Label) with a byte-string label. */
	GUARD_GOTO(rc, mls_expand_with_label_bytes(s, exporter_secret, s->nh,
						   label, label_len, NULL, 0,
						   derived, s->nh),
		   out);
	GUARD_GOTO(rc, crypto_hash(s->hash, ctx, ctx_len, hctx), out);
	rc = mls_expand_with_label(s, derived, s->nh, "exported", hctx,
				   s->nh, out, out_len);
out:
	crypto_wipe(derived, sizeof(derived));
	return rc;
}

/* ---- PSKs (§8.4) ------------------------------------------------------------ */

int mls_psk_id_encode(struct codec_writer *w, const struct mls_psk *psk)
{
	if (!w || !psk)
		return EPOCH_ERR_INVALID_ARG;
	codec_write_u8(w, psk->psk_type);
	switch (psk->psk_type) {
	case MLS_PSK_TYPE_EXTERNAL:
		codec_write_vec(w, psk->psk_id, psk->psk_id_len);
		break;
	case MLS_PSK_TYPE_RESUMPTION:
		codec_write_u8(w, psk->usage);
		codec_write_vec(w, psk->group_id, psk->group_id_len);
		codec_write_u64(w, psk->epoch);
		break;
	default:
		return EPOCH_ERR_INVALID_ARG;
	}
	codec_write_vec(w, psk->psk_nonce, psk->psk_nonce_len);
	return codec_writer_error(w);
}

int mls_psk_secret(const struct mls_suite *s, const struct mls_psk *psks,
		   size_t n, uint8_t *out)
{
	uint8_t extracted[MLS_MAX_NH], input[MLS_MAX_NH], acc[MLS_MAX_NH];
	struct codec_writer w = { 0 };
	int rc = EPOCH_OK;

	if (!s || !out || (n && !psks) || n > UINT16_MAX)
		return EPOCH_ERR_INVALID_ARG;
	memset(acc, 0, sizeof(acc)); /* psk_secret_[0] = 0 */
	for (size_t i = 0; i < n; i++) {
		/* psk_extracted_[i] = Extract(salt = 0, ikm = psk_[i]) */
		GUARD_GOTO(rc, crypto_hkdf_extract(s->hash, zeros, s->nh,
						   psks[i].psk, psks[i].psk_len,
						   extracted),
			   out);
		/* PSKLabel { PreSharedKeyID id; uint16 index; uint16 count; } */
		codec_writer_init_dynamic(&w, MLS_LABELED_MAX);
		GUARD_GOTO(rc, mls_psk_id_encode(&w, &psks[i]), out);
		codec_write_u16(&w, (uint16_t)i);
		codec_write_u16(&w, (uint16_t)n);
		GUARD_GOTO(rc, codec_writer_error(&w), out);
		/* psk_input_[i] = ExpandWithLabel(psk_extracted_[i],
		 *   "derived psk", PSKLabel, Nh) */
		GUARD_GOTO(rc, mls_expand_with_label(s, extracted, s->nh,
						     "derived psk", w.buf,
						     w.len, input, s->nh),
			   out);
		codec_writer_free(&w);
		/* psk_secret_[i] = Extract(salt = psk_input_[i],
		 *   ikm = psk_secret_[i-1]) */
		GUARD_GOTO(rc, crypto_hkdf_extract(s->hash, input, s->nh, acc,
						   s->nh, extracted),
			   out);
		memcpy(acc, extracted, s->nh);
	}
	memcpy(out, acc, s->nh);
out:
	codec_writer_free(&w);
	crypto_wipe(extracted, sizeof(extracted));
	crypto_wipe(input, sizeof(input));
	crypto_wipe(acc, sizeof(acc));
	return rc;
}

int mls_sender_data_key_nonce(const struct mls_suite *s,
			      const uint8_t *sender_data_secret,
			      const uint8_t *ciphertext, size_t ct_len,
			      uint8_t *key, uint8_t *nonce)
{
	size_t sample;

	if (!s || !sender_data_secret || !key || !nonce)
		return EPOCH_ERR_INVALID_ARG;
	/* §6.3.2: ciphertext_sample = ciphertext[0..KDF.Nh-1] */
	sample = ct_len < s->nh ? ct_len : s->nh;
	GUARD(mls_expand_with_label(s, sender_data_secret, s->nh, "key",
				    ciphertext, sample, key, s->nk));
	return mls_expand_with_label(s, sender_data_secret, s->nh, "nonce",
				     ciphertext, sample, nonce, s->nn);
}
