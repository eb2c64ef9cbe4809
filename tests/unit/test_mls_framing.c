/* proto/mls_framing.c (message protection, RFC 9420 §6) and the secret
 * tree's generation window: what message-protection.json
 * (tests/mls/message_protection.c) does not reach: the post-quantum suite,
 * every refusal with its error code, padding, replays and late messages.
 * PrivateMessages with hand-chosen sender data or padding are built here
 * by hand from the §6.3 structures. Each test runs for suite 1 and
 * 0xF00D. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/mls.h"
#include "tests/lib/test.h"

static const struct mls_suite *cur;

/* Everything a member needs to protect messages in one epoch. */
struct fx {
	const struct mls_suite *s;
	uint8_t sk[32], pk[32];
	uint8_t enc[MLS_MAX_NH], sds[MLS_MAX_NH], mk[MLS_MAX_NH];
	uint8_t gid[16], th[MLS_MAX_NH], cth[MLS_MAX_NH];
	uint8_t gc[512];
	size_t gc_len;
	struct mls_secret_tree *tx, *rx; /* sender's and receiver's trees */
	struct test_rng rng;
};

static int fx_init(struct fx *f, const char *seed)
{
	struct mls_group_context gc = { 0 };
	struct codec_writer w;

	memset(f, 0, sizeof(*f));
	f->s = cur;
	test_rng_init(&f->rng, seed);
	if (!CHECK_OK(crypto_ed25519_keygen(&f->rng.rng, f->sk, f->pk)) ||
	    !CHECK_OK(crypto_random(&f->rng.rng, f->enc, sizeof(f->enc))) ||
	    !CHECK_OK(crypto_random(&f->rng.rng, f->sds, sizeof(f->sds))) ||
	    !CHECK_OK(crypto_random(&f->rng.rng, f->mk, sizeof(f->mk))) ||
	    !CHECK_OK(crypto_random(&f->rng.rng, f->gid, sizeof(f->gid))))
		return 0;
	memset(f->th, 0x11, sizeof(f->th));
	memset(f->cth, 0x22, sizeof(f->cth));
	gc.cipher_suite = f->s->id;
	gc.group_id = f->gid;
	gc.group_id_len = sizeof(f->gid);
	gc.epoch = 7;
	gc.tree_hash = f->th;
	gc.tree_hash_len = f->s->nh;
	gc.confirmed_transcript_hash = f->cth;
	gc.confirmed_transcript_hash_len = f->s->nh;
	codec_writer_init(&w, f->gc, sizeof(f->gc));
	if (!CHECK_OK(mls_group_context_encode(&w, &gc)))
		return 0;
	f->gc_len = w.len;
	return CHECK_OK(mls_secret_tree_new(&f->tx, f->s, f->enc, 3)) &&
	       CHECK_OK(mls_secret_tree_new(&f->rx, f->s, f->enc, 3));
}

static void fx_free(struct fx *f)
{
	mls_secret_tree_free(f->tx);
	mls_secret_tree_free(f->rx);
	crypto_wipe(f, sizeof(*f));
}

/* Content from leaf 1 of the fixture's group: application data, a Remove
 * proposal, or a commit with that proposal. */
static void content(const struct fx *f, struct mls_authenticated_content *ac,
		    uint16_t wire_format, uint8_t type, const char *app)
{
	memset(ac, 0, sizeof(*ac));
	ac->wire_format = wire_format;
	ac->content.group_id.p = f->gid;
	ac->content.group_id.len = sizeof(f->gid);
	ac->content.epoch = 7;
	ac->content.sender.type = MLS_SENDER_MEMBER;
	ac->content.sender.index = 1;
	ac->content.authenticated_data.p = (const uint8_t *)"aad";
	ac->content.authenticated_data.len = 3;
	ac->content.content_type = type;
	switch (type) {
	case MLS_CONTENT_APPLICATION:
		ac->content.application_data.p = (const uint8_t *)app;
		ac->content.application_data.len = strlen(app);
		break;
	case MLS_CONTENT_PROPOSAL:
		ac->content.proposal.type = MLS_PROP_REMOVE;
		ac->content.proposal.u.remove = 2;
		break;
	default:
		ac->content.commit.n_proposals = 1;
		ac->content.commit.proposals[0].type = MLS_POR_PROPOSAL;
		ac->content.commit.proposals[0].proposal.type = MLS_PROP_REMOVE;
		ac->content.commit.proposals[0].proposal.u.remove = 2;
		break;
	}
}

/* Signs ac into sig and, for a commit, sets a confirmation tag. */
static int sign(const struct fx *f, struct mls_authenticated_content *ac,
		uint8_t *sig, uint8_t *ctag)
{
	if (!CHECK_OK(mls_framed_content_sign(f->s, ac->wire_format,
					      &ac->content, f->gc, f->gc_len,
					      f->sk, 32, sig)))
		return 0;
	ac->signature.p = sig;
	ac->signature.len = MLS_ED25519_SIG_LEN;
	if (ac->content.content_type == MLS_CONTENT_COMMIT) {
		memset(ctag, 0xab, f->s->nh);
		ac->confirmation_tag.p = ctag;
		ac->confirmation_tag.len = f->s->nh;
	}
	return 1;
}

/* The same encoding for both? */
static int same_content(const struct mls_authenticated_content *a,
			const struct mls_authenticated_content *b)
{
	struct codec_writer wa, wb;
	int ok = 0;

	codec_writer_init_dynamic(&wa, 1 << 16);
	codec_writer_init_dynamic(&wb, 1 << 16);
	if (CHECK_OK(mls_authenticated_content_encode(&wa, a)) &&
	    CHECK_OK(mls_authenticated_content_encode(&wb, b)) &&
	    CHECK(wa.len == wb.len))
		ok = CHECK_MEM(wa.buf, wb.buf, wa.len);
	codec_writer_free(&wa);
	codec_writer_free(&wb);
	return ok;
}

/* ---- PublicMessage ------------------------------------------------------- */

static void test_public(void)
{
	struct mls_authenticated_content *ac = calloc(1, sizeof(*ac));
	uint8_t sig[64], ctag[MLS_MAX_NH], tag[MLS_MAX_NH], bad[MLS_MAX_NH];
	uint8_t badsig[64], gc2[512];
	struct fx f;

	if (!CHECK(ac != NULL) || !fx_init(&f, "public"))
		goto out;
	for (uint8_t type = MLS_CONTENT_PROPOSAL; type <= MLS_CONTENT_COMMIT;
	     type++) {
		content(&f, ac, MLS_WIRE_PUBLIC_MESSAGE, type, NULL);
		if (!sign(&f, ac, sig, ctag) ||
		    !CHECK_OK(mls_membership_tag(f.s, f.mk, ac, f.gc, f.gc_len,
						 tag)))
			continue;
		CHECK_OK(mls_framed_content_verify(f.s, MLS_WIRE_PUBLIC_MESSAGE,
						   &ac->content, f.gc,
						   f.gc_len, f.pk, 32, sig,
						   64));
		CHECK_OK(mls_membership_tag_verify(f.s, f.mk, ac, f.gc,
						   f.gc_len, tag, f.s->nh));
		/* Signature: a flipped bit, another GroupContext, another
		 * wire format, a short signature. */
		memcpy(badsig, sig, 64);
		badsig[5] ^= 0x10;
		CHECK_RC(mls_framed_content_verify(f.s,
						   MLS_WIRE_PUBLIC_MESSAGE,
						   &ac->content, f.gc,
						   f.gc_len, f.pk, 32, badsig,
						   64),
			 EPOCH_ERR_SIGNATURE);
		memcpy(gc2, f.gc, f.gc_len);
		gc2[f.gc_len - 3] ^= 1;
		CHECK_RC(mls_framed_content_verify(f.s,
						   MLS_WIRE_PUBLIC_MESSAGE,
						   &ac->content, gc2, f.gc_len,
						   f.pk, 32, sig, 64),
			 EPOCH_ERR_SIGNATURE);
		CHECK_RC(mls_framed_content_verify(f.s,
						   MLS_WIRE_PRIVATE_MESSAGE,
						   &ac->content, f.gc,
						   f.gc_len, f.pk, 32, sig,
						   64),
			 EPOCH_ERR_SIGNATURE);
		CHECK_RC(mls_framed_content_verify(f.s,
						   MLS_WIRE_PUBLIC_MESSAGE,
						   &ac->content, f.gc,
						   f.gc_len, f.pk, 32, sig,
						   63),
			 EPOCH_ERR_SIGNATURE);
		/* Membership tag: a flipped bit, a short tag, another key,
		 * another GroupContext, an altered signature. */
		memcpy(bad, tag, f.s->nh);
		bad[0] ^= 0x80;
		CHECK_RC(mls_membership_tag_verify(f.s, f.mk, ac, f.gc,
						   f.gc_len, bad, f.s->nh),
			 EPOCH_ERR_MEMBERSHIP);
		CHECK_RC(mls_membership_tag_verify(f.s, f.mk, ac, f.gc,
						   f.gc_len, tag, f.s->nh - 1),
			 EPOCH_ERR_MEMBERSHIP);
		CHECK_RC(mls_membership_tag_verify(f.s, f.sds, ac, f.gc,
						   f.gc_len, tag, f.s->nh),
			 EPOCH_ERR_MEMBERSHIP);
		CHECK_RC(mls_membership_tag_verify(f.s, f.mk, ac, gc2,
						   f.gc_len, tag, f.s->nh),
			 EPOCH_ERR_MEMBERSHIP);
		ac->signature.p = badsig;
		CHECK_RC(mls_membership_tag_verify(f.s, f.mk, ac, f.gc,
						   f.gc_len, tag, f.s->nh),
			 EPOCH_ERR_MEMBERSHIP);
		ac->signature.p = sig;
		if (type == MLS_CONTENT_COMMIT) {
			/* The confirmation tag is covered too. */
			ctag[0] ^= 1;
			CHECK_RC(mls_membership_tag_verify(f.s, f.mk, ac, f.gc,
							   f.gc_len, tag,
							   f.s->nh),
				 EPOCH_ERR_MEMBERSHIP);
			ctag[0] ^= 1;
		}
		CHECK_OK(mls_membership_tag_verify(f.s, f.mk, ac, f.gc,
						   f.gc_len, tag, f.s->nh));
	}
	/* No membership tag for application data, a non-member sender or a
	 * private wire format. */
	content(&f, ac, MLS_WIRE_PUBLIC_MESSAGE, MLS_CONTENT_APPLICATION, "x");
	ac->signature.p = sig;
	ac->signature.len = 64;
	CHECK_RC(mls_membership_tag(f.s, f.mk, ac, f.gc, f.gc_len, tag),
		 EPOCH_ERR_INVALID_ARG);
	content(&f, ac, MLS_WIRE_PUBLIC_MESSAGE, MLS_CONTENT_PROPOSAL, NULL);
	ac->content.sender.type = MLS_SENDER_EXTERNAL;
	CHECK_RC(mls_membership_tag(f.s, f.mk, ac, f.gc, f.gc_len, tag),
		 EPOCH_ERR_INVALID_ARG);
	/* An external sender signs without the GroupContext; a member
	 * cannot. */
	CHECK_OK(mls_framed_content_sign(f.s, MLS_WIRE_PUBLIC_MESSAGE,
					 &ac->content, NULL, 0, f.sk, 32, sig));
	CHECK_OK(mls_framed_content_verify(f.s, MLS_WIRE_PUBLIC_MESSAGE,
					   &ac->content, NULL, 0, f.pk, 32,
					   sig, 64));
	content(&f, ac, MLS_WIRE_PRIVATE_MESSAGE, MLS_CONTENT_PROPOSAL, NULL);
	CHECK_RC(mls_membership_tag(f.s, f.mk, ac, f.gc, f.gc_len, tag),
		 EPOCH_ERR_INVALID_ARG);
	CHECK_RC(mls_framed_content_sign(f.s, MLS_WIRE_PUBLIC_MESSAGE,
					 &ac->content, NULL, 0, f.sk, 32, sig),
		 EPOCH_ERR_INVALID_ARG);
out:
	fx_free(&f);
	free(ac);
}

/* ---- PrivateMessage round trips ----------------------------------------- */

/* Encrypts ac with f->tx into w (reset first) and decodes it into pm. */
static int encrypt(struct fx *f, const struct mls_authenticated_content *ac,
		   size_t pad_to, struct codec_writer *w,
		   struct mls_private_message *pm)
{
	w->len = 0;
	return CHECK_OK(mls_private_message_encrypt(f->s, f->tx, f->sds, ac,
						    pad_to, &f->rng.rng, w)) &&
	       CHECK_OK(mls_private_message_decode_all(w->buf, w->len, pm));
}

static void test_private_round_trip(void)
{
	static const size_t pads[] = { 0, 1, 16, 64, 1000 };
	struct mls_authenticated_content *ac = calloc(1, sizeof(*ac));
	struct mls_authenticated_content *got = calloc(1, sizeof(*got));
	uint8_t sig[64], ctag[MLS_MAX_NH], buf[4096];
	struct mls_private_message pm;
	struct codec_writer w;
	struct fx f;

	codec_writer_init_dynamic(&w, 1 << 16);
	if (!CHECK(ac && got) || !fx_init(&f, "private"))
		goto out;
	for (uint8_t type = MLS_CONTENT_APPLICATION;
	     type <= MLS_CONTENT_COMMIT; type++) {
		for (size_t i = 0; i < sizeof(pads) / sizeof(pads[0]); i++) {
			content(&f, ac, MLS_WIRE_PRIVATE_MESSAGE, type,
				"hello, group");
			if (!sign(&f, ac, sig, ctag) ||
			    !encrypt(&f, ac, pads[i], &w, &pm))
				continue;
			CHECK(pm.content_type == type && pm.epoch == 7 &&
			      pm.authenticated_data.len == 3);
			if (pads[i] > 1)
				CHECK((pm.ciphertext.len -
				       CRYPTO_AEAD_TAG_LEN) % pads[i] == 0);
			/* Nothing in the clear. */
			CHECK(pm.encrypted_sender_data.len == 12 + 16);
			if (!CHECK_OK(mls_private_message_decrypt(
				    f.s, f.rx, f.sds, &pm, buf, sizeof(buf),
				    got)))
				continue;
			same_content(ac, got);
			CHECK_OK(mls_framed_content_verify(
				f.s, MLS_WIRE_PRIVATE_MESSAGE, &got->content,
				f.gc, f.gc_len, f.pk, 32, got->signature.p,
				got->signature.len));
		}
	}
	/* pm.ciphertext.len bytes of buffer are enough; fewer are not. */
	content(&f, ac, MLS_WIRE_PRIVATE_MESSAGE, MLS_CONTENT_APPLICATION,
		"cap");
	if (sign(&f, ac, sig, ctag) && encrypt(&f, ac, 0, &w, &pm)) {
		CHECK_RC(mls_private_message_decrypt(f.s, f.rx, f.sds, &pm,
						     buf,
						     pm.ciphertext.len - 17,
						     got),
			 EPOCH_ERR_NO_SPACE);
		CHECK_OK(mls_private_message_decrypt(f.s, f.rx, f.sds, &pm,
						     buf, pm.ciphertext.len,
						     got));
	}
	/* Encryption preconditions: a private wire format, a member sender
	 * inside the tree. */
	ac->wire_format = MLS_WIRE_PUBLIC_MESSAGE;
	CHECK_RC(mls_private_message_encrypt(f.s, f.tx, f.sds, ac, 0,
					     &f.rng.rng, &w),
		 EPOCH_ERR_INVALID_ARG);
	ac->wire_format = MLS_WIRE_PRIVATE_MESSAGE;
	ac->content.sender.index = 3;
	CHECK_RC(mls_private_message_encrypt(f.s, f.tx, f.sds, ac, 0,
					     &f.rng.rng, &w),
		 EPOCH_ERR_INVALID_ARG);
	ac->content.sender.index = 1;
	ac->content.sender.type = MLS_SENDER_EXTERNAL;
	CHECK_RC(mls_private_message_encrypt(f.s, f.tx, f.sds, ac, 0,
					     &f.rng.rng, &w),
		 EPOCH_ERR_INVALID_ARG);
out:
	codec_writer_free(&w);
	fx_free(&f);
	free(ac);
	free(got);
}

/* Tampering, replay, the generation window. */
static void test_private_attacks(void)
{
	struct mls_authenticated_content *ac = calloc(1, sizeof(*ac));
	struct mls_authenticated_content *got = calloc(1, sizeof(*got));
	uint8_t sig[64], ctag[MLS_MAX_NH], buf[4096], copy[4096];
	struct mls_private_message pm, t;
	struct codec_writer w;
	struct fx f;

	codec_writer_init_dynamic(&w, 1 << 16);
	if (!CHECK(ac && got) || !fx_init(&f, "attacks"))
		goto out;
	content(&f, ac, MLS_WIRE_PRIVATE_MESSAGE, MLS_CONTENT_APPLICATION,
		"tamper with me");
	if (!sign(&f, ac, sig, ctag) || !encrypt(&f, ac, 0, &w, &pm) ||
	    !CHECK(pm.ciphertext.len <= sizeof(copy)))
		goto out;

	/* The last ciphertext byte: the sender data still opens (its key
	 * samples only the first Nh bytes) but the content does not. */
	t = pm;
	memcpy(copy, pm.ciphertext.p, pm.ciphertext.len);
	copy[pm.ciphertext.len - 1] ^= 1;
	t.ciphertext.p = copy;
	CHECK_RC(mls_private_message_decrypt(f.s, f.rx, f.sds, &t, buf,
					     sizeof(buf), got),
		 EPOCH_ERR_AUTH);
	/* The first byte: the sender data key changes. */
	copy[pm.ciphertext.len - 1] ^= 1;
	copy[0] ^= 1;
	CHECK_RC(mls_private_message_decrypt(f.s, f.rx, f.sds, &t, buf,
					     sizeof(buf), got),
		 EPOCH_ERR_AUTH);
	/* The sender data itself. */
	t = pm;
	memcpy(copy, pm.encrypted_sender_data.p, pm.encrypted_sender_data.len);
	copy[3] ^= 4;
	t.encrypted_sender_data.p = copy;
	CHECK_RC(mls_private_message_decrypt(f.s, f.rx, f.sds, &t, buf,
					     sizeof(buf), got),
		 EPOCH_ERR_AUTH);
	t.encrypted_sender_data.len--;
	CHECK_RC(mls_private_message_decrypt(f.s, f.rx, f.sds, &t, buf,
					     sizeof(buf), got),
		 EPOCH_ERR_MALFORMED);
	/* The clear fields are authenticated: authenticated_data (content
	 * AAD), epoch and content type (both AADs), the sender data
	 * secret. */
	t = pm;
	t.authenticated_data.p = (const uint8_t *)"AAD";
	CHECK_RC(mls_private_message_decrypt(f.s, f.rx, f.sds, &t, buf,
					     sizeof(buf), got),
		 EPOCH_ERR_AUTH);
	t = pm;
	t.epoch = 8;
	CHECK_RC(mls_private_message_decrypt(f.s, f.rx, f.sds, &t, buf,
					     sizeof(buf), got),
		 EPOCH_ERR_AUTH);
	t = pm;
	t.content_type = MLS_CONTENT_PROPOSAL;
	CHECK_RC(mls_private_message_decrypt(f.s, f.rx, f.sds, &t, buf,
					     sizeof(buf), got),
		 EPOCH_ERR_AUTH);
	CHECK_RC(mls_private_message_decrypt(f.s, f.rx, f.mk, &pm, buf,
					     sizeof(buf), got),
		 EPOCH_ERR_AUTH);
	/* None of that used up the generation: the genuine message opens,
	 * once. */
	if (CHECK_OK(mls_private_message_decrypt(f.s, f.rx, f.sds, &pm, buf,
						 sizeof(buf), got)))
		same_content(ac, got);
	CHECK_RC(mls_private_message_decrypt(f.s, f.rx, f.sds, &pm, buf,
					     sizeof(buf), got),
		 EPOCH_ERR_GENERATION);
out:
	codec_writer_free(&w);
	fx_free(&f);
	free(ac);
	free(got);
}

/* Out of order: messages 0..N-1 of one ratchet delivered last first. */
static void test_private_window(void)
{
	enum { N = MLS_RATCHET_WINDOW + 4 };
	struct mls_authenticated_content *ac = calloc(1, sizeof(*ac));
	struct mls_authenticated_content *got = calloc(1, sizeof(*got));
	struct codec_writer *w = calloc(N, sizeof(*w));
	uint8_t sig[64], ctag[MLS_MAX_NH], buf[4096];
	struct mls_private_message pm[N];
	char text[32];
	struct fx f;

	if (!CHECK(ac && got && w) || !fx_init(&f, "window"))
		goto out;
	for (int i = 0; i < N; i++)
		codec_writer_init_dynamic(&w[i], 1 << 16);
	for (int i = 0; i < N; i++) {
		snprintf(text, sizeof(text), "message %d", i);
		content(&f, ac, MLS_WIRE_PRIVATE_MESSAGE,
			MLS_CONTENT_APPLICATION, text);
		if (!sign(&f, ac, sig, ctag) ||
		    !encrypt(&f, ac, 0, &w[i], &pm[i]))
			goto out;
	}
	/* The newest first: every older one is skipped, the last
	 * MLS_RATCHET_WINDOW of them kept. */
	CHECK_OK(mls_private_message_decrypt(f.s, f.rx, f.sds, &pm[N - 1],
					     buf, sizeof(buf), got));
	/* Late, inside the window: opens once. */
	if (CHECK_OK(mls_private_message_decrypt(f.s, f.rx, f.sds, &pm[N - 3],
						 buf, sizeof(buf), got))) {
		snprintf(text, sizeof(text), "message %d", N - 3);
		CHECK(got->content.application_data.len == strlen(text) &&
		      memcmp(got->content.application_data.p, text,
			     strlen(text)) == 0);
	}
	CHECK_RC(mls_private_message_decrypt(f.s, f.rx, f.sds, &pm[N - 3],
					     buf, sizeof(buf), got),
		 EPOCH_ERR_GENERATION);
	/* The oldest kept is N-1-WINDOW; the ones before were dropped. */
	CHECK_OK(mls_private_message_decrypt(f.s, f.rx, f.sds,
					     &pm[N - 1 - MLS_RATCHET_WINDOW],
					     buf, sizeof(buf), got));
	for (int i = 0; i < N - 1 - (int)MLS_RATCHET_WINDOW; i++)
		CHECK_RC(mls_private_message_decrypt(f.s, f.rx, f.sds, &pm[i],
						     buf, sizeof(buf), got),
			 EPOCH_ERR_GENERATION);
	/* The handshake ratchet is separate: its generation 0 is fresh. */
	content(&f, ac, MLS_WIRE_PRIVATE_MESSAGE, MLS_CONTENT_PROPOSAL, NULL);
	if (sign(&f, ac, sig, ctag) && encrypt(&f, ac, 0, &w[0], &pm[0]))
		CHECK_OK(mls_private_message_decrypt(f.s, f.rx, f.sds, &pm[0],
						     buf, sizeof(buf), got));
out:
	if (w)
		for (int i = 0; i < N; i++)
			codec_writer_free(&w[i]);
	free(w);
	fx_free(&f);
	free(ac);
	free(got);
}

/* ---- hand-built PrivateMessages ------------------------------------------ */

/* Encrypts plaintext pt as an application PrivateMessage of the fixture's
 * group with the key of `key_leaf`'s next application generation, and
 * sender data naming `claimed_leaf`, into w: the §6.3 structures written
 * out field by field. */
static int hand_encrypt(struct fx *f, uint32_t key_leaf,
			uint32_t claimed_leaf, const uint8_t *pt,
			size_t pt_len, struct codec_writer *w)
{
	struct mls_ratchet_key rk;
	struct codec_writer aad;
	uint8_t aadbuf[256], ct[512], sd[12], esd[28], nonce[12];
	uint8_t sdk[MLS_MAX_NK], sdn[MLS_MAX_NN];
	static const uint8_t guard[4] = { 0xde, 0xad, 0xbe, 0xef };
	int ok = 0;

	if (!CHECK(pt_len + 16 <= sizeof(ct)) ||
	    !CHECK_OK(mls_secret_tree_next_key(f->tx, key_leaf,
					       MLS_RATCHET_APPLICATION, &rk)))
		return 0;
	/* PrivateContentAAD */
	codec_writer_init(&aad, aadbuf, sizeof(aadbuf));
	codec_write_vec(&aad, f->gid, sizeof(f->gid));
	codec_write_u64(&aad, 7);
	codec_write_u8(&aad, MLS_CONTENT_APPLICATION);
	codec_write_vec(&aad, NULL, 0);
	memcpy(nonce, rk.nonce, 12);
	for (int i = 0; i < 4; i++)
		nonce[i] ^= guard[i];
	if (!CHECK_OK(codec_writer_error(&aad)) ||
	    !CHECK_OK(crypto_aead_seal(f->s->aead, rk.key, nonce, aadbuf,
				       aad.len, pt, pt_len, ct)))
		goto out;
	/* SenderData under SenderDataAAD */
	codec_writer_init(&aad, sd, sizeof(sd));
	codec_write_u32(&aad, claimed_leaf);
	codec_write_u32(&aad, rk.generation);
	codec_write_bytes(&aad, guard, 4);
	if (!CHECK_OK(codec_writer_error(&aad)) ||
	    !CHECK_OK(mls_sender_data_key_nonce(f->s, f->sds, ct, pt_len + 16,
						sdk, sdn)))
		goto out;
	codec_writer_init(&aad, aadbuf, sizeof(aadbuf));
	codec_write_vec(&aad, f->gid, sizeof(f->gid));
	codec_write_u64(&aad, 7);
	codec_write_u8(&aad, MLS_CONTENT_APPLICATION);
	if (!CHECK_OK(codec_writer_error(&aad)) ||
	    !CHECK_OK(crypto_aead_seal(f->s->aead, sdk, sdn, aadbuf, aad.len,
				       sd, sizeof(sd), esd)))
		goto out;
	/* PrivateMessage */
	w->len = 0;
	codec_write_vec(w, f->gid, sizeof(f->gid));
	codec_write_u64(w, 7);
	codec_write_u8(w, MLS_CONTENT_APPLICATION);
	codec_write_vec(w, NULL, 0);
	codec_write_vec(w, esd, sizeof(esd));
	codec_write_vec(w, ct, pt_len + 16);
	ok = CHECK_OK(codec_writer_error(w));
out:
	crypto_wipe(&rk, sizeof(rk));
	crypto_wipe(sdk, sizeof(sdk));
	return ok;
}

/* Decrypts the PrivateMessage in w with f->rx. */
static int hand_decrypt(struct fx *f, const struct codec_writer *w,
			struct mls_authenticated_content *got, uint8_t *buf,
			size_t cap)
{
	struct mls_private_message pm;

	if (!CHECK_OK(mls_private_message_decode_all(w->buf, w->len, &pm)))
		return EPOCH_ERR_MALFORMED;
	return mls_private_message_decrypt(f->s, f->rx, f->sds, &pm, buf, cap,
					   got);
}

/* PrivateMessageContent of application data `app`: application_data<V>,
 * signature<V> (64 bytes of 0x55), then the padding given. */
static size_t app_content(uint8_t *out, const char *app, const uint8_t *pad,
			  size_t pad_len)
{
	size_t n = 0, l = strlen(app);

	out[n++] = (uint8_t)l; /* one-byte varints: l < 64 */
	memcpy(out + n, app, l);
	n += l;
	out[n++] = 0x40; /* 64 as a two-byte varint */
	out[n++] = 64;
	memset(out + n, 0x55, 64);
	n += 64;
	memcpy(out + n, pad, pad_len);
	return n + pad_len;
}

static void test_private_by_hand(void)
{
	static const uint8_t zeros[8], nonzero[8] = { 0, 0, 0, 0, 0, 1, 0, 0 };
	struct mls_authenticated_content *got = calloc(1, sizeof(*got));
	uint8_t pt[256], buf[512];
	struct codec_writer w;
	size_t n;
	struct fx f;

	codec_writer_init_dynamic(&w, 1 << 16);
	if (!CHECK(got != NULL) || !fx_init(&f, "by hand"))
		goto out;
	/* Well-formed, zero padding: opens to exactly these fields. */
	n = app_content(pt, "hi", zeros, 8);
	if (hand_encrypt(&f, 1, 1, pt, n, &w) &&
	    CHECK_OK(hand_decrypt(&f, &w, got, buf, sizeof(buf)))) {
		CHECK(got->wire_format == MLS_WIRE_PRIVATE_MESSAGE);
		CHECK(got->content.sender.type == MLS_SENDER_MEMBER &&
		      got->content.sender.index == 1);
		CHECK(got->content.content_type == MLS_CONTENT_APPLICATION);
		CHECK(got->content.epoch == 7);
		CHECK(got->content.application_data.len == 2 &&
		      memcmp(got->content.application_data.p, "hi", 2) == 0);
		CHECK(got->signature.len == 64 && got->signature.p[63] == 0x55);
		CHECK(got->confirmation_tag.len == 0);
	}
	/* A non-zero padding byte. */
	n = app_content(pt, "hi", nonzero, 8);
	if (hand_encrypt(&f, 1, 1, pt, n, &w))
		CHECK_RC(hand_decrypt(&f, &w, got, buf, sizeof(buf)),
			 EPOCH_ERR_MALFORMED);
	/* Content cut short: the signature vector runs past the end. */
	n = app_content(pt, "hi", zeros, 0);
	if (hand_encrypt(&f, 1, 1, pt, n - 10, &w))
		CHECK_RC(hand_decrypt(&f, &w, got, buf, sizeof(buf)),
			 EPOCH_ERR_MALFORMED);
	/* Sender data naming a leaf outside the three-leaf tree. */
	n = app_content(pt, "hi", zeros, 0);
	if (hand_encrypt(&f, 1, 3, pt, n, &w))
		CHECK_RC(hand_decrypt(&f, &w, got, buf, sizeof(buf)),
			 EPOCH_ERR_SENDER);
	if (hand_encrypt(&f, 1, UINT32_MAX, pt, n, &w))
		CHECK_RC(hand_decrypt(&f, &w, got, buf, sizeof(buf)),
			 EPOCH_ERR_SENDER);
	/* Naming leaf 0 while encrypted with leaf 1's key. */
	if (hand_encrypt(&f, 1, 0, pt, n, &w))
		CHECK_RC(hand_decrypt(&f, &w, got, buf, sizeof(buf)),
			 EPOCH_ERR_AUTH);
	/* Leaf 2's own ratchet works. */
	if (hand_encrypt(&f, 2, 2, pt, n, &w) &&
	    CHECK_OK(hand_decrypt(&f, &w, got, buf, sizeof(buf))))
		CHECK(got->content.sender.index == 2);
out:
	codec_writer_free(&w);
	fx_free(&f);
	free(got);
}

/* ---- secret tree: next_key, peek, consume, the window ------------------- */

static void test_secret_tree_window(void)
{
	enum { N = 41 };
	struct mls_ratchet_key *sent = calloc(N, sizeof(*sent));
	struct mls_ratchet_key k, k2;
	struct mls_secret_tree *a = NULL, *b = NULL;
	uint8_t enc[MLS_MAX_NH];
	const enum mls_ratchet_type app = MLS_RATCHET_APPLICATION;

	memset(enc, 0x42, sizeof(enc));
	if (!CHECK(sent != NULL) ||
	    !CHECK_OK(mls_secret_tree_new(&a, cur, enc, 2)) ||
	    !CHECK_OK(mls_secret_tree_new(&b, cur, enc, 2)))
		goto out;
	CHECK(mls_secret_tree_n_leaves(a) == 2 &&
	      mls_secret_tree_n_leaves(NULL) == 0);
	/* The sender's generations come in order. */
	for (uint32_t g = 0; g < N; g++)
		if (CHECK_OK(mls_secret_tree_next_key(a, 0, app, &sent[g])))
			CHECK(sent[g].generation == g &&
			      sent[g].key_len == cur->nk &&
			      sent[g].nonce_len == cur->nn);
	/* A receiver jumping to the last one gets the same key. */
	if (CHECK_OK(mls_secret_tree_key(b, 0, app, N - 1, &k)))
		CHECK(CHECK_MEM(k.key, sent[N - 1].key, cur->nk) &&
		      CHECK_MEM(k.nonce, sent[N - 1].nonce, cur->nn));
	/* Peek does not consume, in the window or ahead. */
	for (int i = 0; i < 2; i++)
		if (CHECK_OK(mls_secret_tree_peek(b, 0, app, N - 2, &k)))
			CHECK_MEM(k.key, sent[N - 2].key, cur->nk);
	if (CHECK_OK(mls_secret_tree_peek(b, 0, app, N + 5, &k)))
		CHECK(k.generation == N + 5);
	CHECK_RC(mls_secret_tree_peek(b, 0, app, N - 1, &k),
		 EPOCH_ERR_GENERATION);
	if (CHECK_OK(mls_secret_tree_key(b, 0, app, N - 2, &k)))
		CHECK(CHECK_MEM(k.key, sent[N - 2].key, cur->nk) &&
		      CHECK_MEM(k.nonce, sent[N - 2].nonce, cur->nn));
	CHECK_RC(mls_secret_tree_key(b, 0, app, N - 2, &k),
		 EPOCH_ERR_GENERATION);
	CHECK_RC(mls_secret_tree_peek(b, 0, app, N - 2, &k),
		 EPOCH_ERR_GENERATION);
	/* Consume without the key. */
	CHECK_OK(mls_secret_tree_consume(b, 0, app, N - 3));
	CHECK_RC(mls_secret_tree_key(b, 0, app, N - 3, &k),
		 EPOCH_ERR_GENERATION);
	CHECK_RC(mls_secret_tree_consume(b, 0, app, N - 3),
		 EPOCH_ERR_GENERATION);
	/* The window held the last MLS_RATCHET_WINDOW skipped: N-1-W is the
	 * oldest left, the ones before it are gone. */
	if (CHECK_OK(mls_secret_tree_key(b, 0, app, N - 1 - MLS_RATCHET_WINDOW,
					 &k)))
		CHECK_MEM(k.key, sent[N - 1 - MLS_RATCHET_WINDOW].key,
			  cur->nk);
	for (uint32_t g = 0; g < N - 1 - MLS_RATCHET_WINDOW; g++)
		CHECK_RC(mls_secret_tree_key(b, 0, app, g, &k),
			 EPOCH_ERR_GENERATION);
	/* Generations skipped later push out the oldest kept ones. */
	if (CHECK_OK(mls_secret_tree_key(b, 0, app, N + MLS_RATCHET_WINDOW,
					 &k)))
		CHECK(k.generation == N + MLS_RATCHET_WINDOW);
	CHECK_RC(mls_secret_tree_key(b, 0, app, N - 4, &k),
		 EPOCH_ERR_GENERATION);
	CHECK_OK(mls_secret_tree_key(b, 0, app, N, &k));
	/* Jumps: exactly MLS_MAX_GENERATION_JUMP past the next generation
	 * is allowed, one more is not. */
	CHECK_RC(mls_secret_tree_key(b, 0, app,
				     N + MLS_RATCHET_WINDOW + 2 +
					     MLS_MAX_GENERATION_JUMP,
				     &k),
		 EPOCH_ERR_GENERATION);
	CHECK_RC(mls_secret_tree_peek(b, 0, app,
				      N + MLS_RATCHET_WINDOW + 2 +
					      MLS_MAX_GENERATION_JUMP,
				      &k),
		 EPOCH_ERR_GENERATION);
	CHECK_OK(mls_secret_tree_key(b, 0, app,
				     N + MLS_RATCHET_WINDOW + 1 +
					     MLS_MAX_GENERATION_JUMP,
				     &k));
	/* next_key continues after whatever was consumed. */
	if (CHECK_OK(mls_secret_tree_next_key(b, 0, app, &k2)))
		CHECK(k2.generation ==
		      N + MLS_RATCHET_WINDOW + 2 + MLS_MAX_GENERATION_JUMP);
	/* The other ratchet and leaf are untouched. */
	if (CHECK_OK(mls_secret_tree_next_key(b, 1, app, &k2)))
		CHECK(k2.generation == 0);
	if (CHECK_OK(mls_secret_tree_next_key(b, 0, MLS_RATCHET_HANDSHAKE,
					      &k2)))
		CHECK(k2.generation == 0);
	CHECK_RC(mls_secret_tree_next_key(b, 2, app, &k2),
		 EPOCH_ERR_INVALID_ARG);
	CHECK_RC(mls_secret_tree_peek(b, 2, app, 0, &k2),
		 EPOCH_ERR_INVALID_ARG);
	CHECK_RC(mls_secret_tree_consume(b, 2, app, 0), EPOCH_ERR_INVALID_ARG);
	crypto_wipe(&k, sizeof(k));
	crypto_wipe(&k2, sizeof(k2));
out:
	if (sent) {
		crypto_wipe(sent, N * sizeof(*sent));
		free(sent);
	}
	mls_secret_tree_free(a);
	mls_secret_tree_free(b);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "public", test_public },
	{ "private_round_trip", test_private_round_trip },
	{ "private_attacks", test_private_attacks },
	{ "private_window", test_private_window },
	{ "private_by_hand", test_private_by_hand },
	{ "secret_tree_window", test_secret_tree_window },
};

int main(int argc, char **argv)
{
	static const uint16_t suites[] = {
		MLS_SUITE_X25519_AES128GCM_SHA256_ED25519,
		MLS_SUITE_XWING_AES256GCM_SHA512_ED25519,
	};
	char name[64];

	(void)argc;
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		cur = mls_suite_get(suites[i]);
		for (size_t j = 0; j < sizeof(tests) / sizeof(tests[0]); j++) {
			snprintf(name, sizeof(name), "%s/0x%04x", tests[j].name,
				 suites[i]);
			if (!cur) {
				test_skip(name, "suite not in the table");
				continue;
			}
			test_run(name, tests[j].fn);
		}
	}
	return test_main_end(argv[0]);
}
