/* proto/mls_welcome: KeyPackage and GroupInfo signatures and Welcome
 * sealing and opening (RFC 9420 §10, §12.4.3), for suite 1 and the X-Wing
 * suite 0xF00D (welcome.json covers suite 1 and 3 against the mlswg
 * generator). */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/mls.h"
#include "tests/lib/test.h"

static const uint16_t suite_ids[] = {
	MLS_SUITE_X25519_AES128GCM_SHA256_ED25519,
	MLS_SUITE_XWING_AES256GCM_SHA512_ED25519,
};
#define N_SUITES (sizeof(suite_ids) / sizeof(suite_ids[0]))

static struct test_rng trng;

/* A KeyPackage for s with fresh keys; the leaf's own signature is a
 * placeholder (it is not checked by mls_key_package_verify). */
struct kp_fixture {
	struct mls_key_package kp;
	struct hpke_keypair init, leaf_enc;
	uint8_t sig_sk[32], sig_pk[32];
	uint8_t leaf_sig[MLS_ED25519_SIG_LEN];
	uint8_t sig[MLS_ED25519_SIG_LEN];
};

static int kp_fixture_init(const struct mls_suite *s, struct kp_fixture *f)
{
	struct mls_key_package *kp = &f->kp;
	struct mls_leaf_node *ln = &kp->leaf_node;

	memset(f, 0, sizeof(*f));
	if (!CHECK_OK(hpke_generate_keypair(s->hpke.kem_id, &trng.rng,
					    &f->init)) ||
	    !CHECK_OK(hpke_generate_keypair(s->hpke.kem_id, &trng.rng,
					    &f->leaf_enc)) ||
	    !CHECK_OK(crypto_ed25519_keygen(&trng.rng, f->sig_sk, f->sig_pk)))
		return -1;
	kp->version = MLS_PROTOCOL_VERSION_MLS10;
	kp->cipher_suite = s->id;
	kp->init_key.p = f->init.pk;
	kp->init_key.len = f->init.pk_len;
	ln->encryption_key.p = f->leaf_enc.pk;
	ln->encryption_key.len = f->leaf_enc.pk_len;
	ln->signature_key.p = f->sig_pk;
	ln->signature_key.len = sizeof(f->sig_pk);
	ln->credential.type = MLS_CRED_BASIC;
	ln->credential.identity.p = (const uint8_t *)"alice";
	ln->credential.identity.len = 5;
	ln->capabilities.versions.n = 1;
	ln->capabilities.versions.v[0] = MLS_PROTOCOL_VERSION_MLS10;
	ln->capabilities.cipher_suites.n = 1;
	ln->capabilities.cipher_suites.v[0] = s->id;
	ln->capabilities.credentials.n = 1;
	ln->capabilities.credentials.v[0] = MLS_CRED_BASIC;
	ln->source = MLS_LEAF_SRC_KEY_PACKAGE;
	ln->not_before = 0;
	ln->not_after = UINT64_MAX;
	memset(f->leaf_sig, 0xa5, sizeof(f->leaf_sig));
	ln->signature.p = f->leaf_sig;
	ln->signature.len = sizeof(f->leaf_sig);
	return 0;
}

static void kp_fixture_wipe(struct kp_fixture *f)
{
	hpke_keypair_wipe(&f->init);
	hpke_keypair_wipe(&f->leaf_enc);
	crypto_wipe(f->sig_sk, sizeof(f->sig_sk));
}

static void test_key_package(void)
{
	struct kp_fixture *f = calloc(1, sizeof(*f));
	struct mls_key_package *kp2 = calloc(1, sizeof(*kp2));
	struct mls_key_package *bad = calloc(1, sizeof(*bad));
	uint8_t sig[MLS_ED25519_SIG_LEN], init_key[HPKE_MAX_PK];
	struct codec_writer w;

	codec_writer_init_dynamic(&w, 1 << 16);
	if (!CHECK(f && kp2 && bad))
		goto out;
	for (size_t i = 0; i < N_SUITES; i++) {
		const struct mls_suite *s = mls_suite_get(suite_ids[i]);

		if (!CHECK(s != NULL) || kp_fixture_init(s, f))
			continue;
		if (!CHECK_OK(mls_key_package_sign(s, &f->kp, f->sig_sk, 32,
						   f->sig)))
			continue;
		CHECK(f->kp.signature.p == f->sig);
		CHECK_EQ_U64(f->kp.signature.len, MLS_ED25519_SIG_LEN);
		CHECK_OK(mls_key_package_verify(s, &f->kp));

		/* The signature holds over the wire encoding. */
		w.len = 0;
		if (CHECK_OK(mls_key_package_encode(&w, &f->kp)) &&
		    CHECK_OK(mls_key_package_decode_all(w.buf, w.len, kp2)))
			CHECK_OK(mls_key_package_verify(s, kp2));

		/* A flipped signature bit. */
		*bad = f->kp;
		memcpy(sig, f->sig, sizeof(sig));
		sig[0] ^= 0x01;
		bad->signature.p = sig;
		CHECK_RC(mls_key_package_verify(s, bad), EPOCH_ERR_SIGNATURE);
		/* A truncated signature. */
		bad->signature.p = f->sig;
		bad->signature.len = MLS_ED25519_SIG_LEN - 1;
		CHECK_RC(mls_key_package_verify(s, bad), EPOCH_ERR_SIGNATURE);
		/* A changed init_key (covered by the TBS). */
		*bad = f->kp;
		memcpy(init_key, f->init.pk, f->init.pk_len);
		init_key[3] ^= 0x80;
		bad->init_key.p = init_key;
		CHECK_RC(mls_key_package_verify(s, bad), EPOCH_ERR_SIGNATURE);
		/* A changed leaf node field and extension list. */
		*bad = f->kp;
		bad->leaf_node.not_after--;
		CHECK_RC(mls_key_package_verify(s, bad), EPOCH_ERR_SIGNATURE);
		*bad = f->kp;
		bad->extensions.n = 1;
		bad->extensions.v[0].type = 0x0a0a;
		CHECK_RC(mls_key_package_verify(s, bad), EPOCH_ERR_SIGNATURE);
		/* Signed by another key than the leaf's signature key. */
		*bad = f->kp;
		{
			uint8_t osk[32], opk[32];

			if (CHECK_OK(crypto_ed25519_keygen(&trng.rng, osk,
							   opk)) &&
			    CHECK_OK(mls_key_package_sign(s, bad, osk, 32,
							  sig)))
				CHECK_RC(mls_key_package_verify(s, bad),
					 EPOCH_ERR_SIGNATURE);
			crypto_wipe(osk, sizeof(osk));
		}
		/* Version and cipher suite must be ours. */
		*bad = f->kp;
		bad->version = 2;
		CHECK_RC(mls_key_package_verify(s, bad), EPOCH_ERR_SUITE);
		*bad = f->kp;
		CHECK_RC(mls_key_package_verify(
				 mls_suite_get(suite_ids[(i + 1) % N_SUITES]),
				 bad),
			 EPOCH_ERR_SUITE);
		/* A signing key of the wrong size. */
		CHECK_RC(mls_key_package_sign(s, bad, f->sig_sk, 31, sig),
			 EPOCH_ERR_INVALID_KEY);
		kp_fixture_wipe(f);
	}
	CHECK_RC(mls_key_package_verify(NULL, kp2), EPOCH_ERR_INVALID_ARG);
out:
	codec_writer_free(&w);
	free(f);
	free(kp2);
	free(bad);
}

/* A GroupInfo for s (epoch 3, signer 1) with fixed hashes and tag. */
static void group_info_fixture(const struct mls_suite *s,
			       struct mls_group_info *gi, const uint8_t *fill)
{
	memset(gi, 0, sizeof(*gi));
	gi->group_context.version = MLS_PROTOCOL_VERSION_MLS10;
	gi->group_context.cipher_suite = s->id;
	gi->group_context.group_id.p = (const uint8_t *)"group-id";
	gi->group_context.group_id.len = 8;
	gi->group_context.epoch = 3;
	gi->group_context.tree_hash.p = fill;
	gi->group_context.tree_hash.len = s->nh;
	gi->group_context.confirmed_transcript_hash.p = fill + 1;
	gi->group_context.confirmed_transcript_hash.len = s->nh;
	gi->extensions.n = 1;
	gi->extensions.v[0].type = 0x0002; /* ratchet_tree, content opaque */
	gi->extensions.v[0].data.p = fill + 2;
	gi->extensions.v[0].data.len = 7;
	gi->confirmation_tag.p = fill + 3;
	gi->confirmation_tag.len = s->nh;
	gi->signer = 1;
}

static const uint8_t fill[] = "0123456789abcdef0123456789abcdef"
			      "0123456789abcdef0123456789abcdef"
			      "0123456789";

static void test_group_info(void)
{
	struct mls_group_info *gi = calloc(1, sizeof(*gi));
	struct mls_group_info *gi2 = calloc(1, sizeof(*gi2));
	struct mls_group_info *bad = calloc(1, sizeof(*bad));
	uint8_t sk[32], pk[32], osk[32], opk[32], sig[MLS_ED25519_SIG_LEN],
		bsig[MLS_ED25519_SIG_LEN];
	struct codec_writer w;

	codec_writer_init_dynamic(&w, 1 << 16);
	if (!CHECK(gi && gi2 && bad) ||
	    !CHECK_OK(crypto_ed25519_keygen(&trng.rng, sk, pk)) ||
	    !CHECK_OK(crypto_ed25519_keygen(&trng.rng, osk, opk)))
		goto out;
	for (size_t i = 0; i < N_SUITES; i++) {
		const struct mls_suite *s = mls_suite_get(suite_ids[i]);

		if (!CHECK(s != NULL))
			continue;
		group_info_fixture(s, gi, fill);
		if (!CHECK_OK(mls_group_info_sign(s, gi, sk, 32, sig)))
			continue;
		CHECK(gi->signature.p == sig);
		CHECK_EQ_U64(gi->signature.len, MLS_ED25519_SIG_LEN);
		CHECK_OK(mls_group_info_verify(s, gi, pk, 32));
		w.len = 0;
		if (CHECK_OK(mls_group_info_encode(&w, gi)) &&
		    CHECK_OK(mls_group_info_decode_all(w.buf, w.len, gi2)))
			CHECK_OK(mls_group_info_verify(s, gi2, pk, 32));

		/* Another key, a flipped bit, changed fields. */
		CHECK_RC(mls_group_info_verify(s, gi, opk, 32),
			 EPOCH_ERR_SIGNATURE);
		*bad = *gi;
		memcpy(bsig, sig, sizeof(bsig));
		bsig[63] ^= 0x40;
		bad->signature.p = bsig;
		CHECK_RC(mls_group_info_verify(s, bad, pk, 32),
			 EPOCH_ERR_SIGNATURE);
		*bad = *gi;
		bad->signature.len = 0;
		CHECK_RC(mls_group_info_verify(s, bad, pk, 32),
			 EPOCH_ERR_SIGNATURE);
		*bad = *gi;
		bad->group_context.epoch = 4;
		CHECK_RC(mls_group_info_verify(s, bad, pk, 32),
			 EPOCH_ERR_SIGNATURE);
		*bad = *gi;
		bad->signer = 0;
		CHECK_RC(mls_group_info_verify(s, bad, pk, 32),
			 EPOCH_ERR_SIGNATURE);
		*bad = *gi;
		bad->confirmation_tag.p = fill + 4;
		CHECK_RC(mls_group_info_verify(s, bad, pk, 32),
			 EPOCH_ERR_SIGNATURE);
		*bad = *gi;
		bad->extensions.n = 0;
		CHECK_RC(mls_group_info_verify(s, bad, pk, 32),
			 EPOCH_ERR_SIGNATURE);
		CHECK_RC(mls_group_info_verify(s, gi, pk, 31),
			 EPOCH_ERR_INVALID_KEY);
	}
out:
	crypto_wipe(sk, sizeof(sk));
	crypto_wipe(osk, sizeof(osk));
	codec_writer_free(&w);
	free(gi);
	free(gi2);
	free(bad);
}

/* welcome_secret agrees with the key schedule, with and without a PSK
 * secret; key and nonce are ExpandWithLabel(welcome_secret, "key" /
 * "nonce", "", Nk / Nn). */
static void test_welcome_secret(void)
{
	struct mls_epoch_secrets *es = calloc(1, sizeof(*es));
	uint8_t joiner[MLS_MAX_NH], psk[MLS_MAX_NH], ws[MLS_MAX_NH],
		ws_psk[MLS_MAX_NH], key[MLS_MAX_NK], nonce[MLS_MAX_NN],
		want[MLS_MAX_NH];

	if (!CHECK(es != NULL))
		return;
	for (size_t i = 0; i < N_SUITES; i++) {
		const struct mls_suite *s = mls_suite_get(suite_ids[i]);

		CHECK_OK(crypto_random(&trng.rng, joiner, sizeof(joiner)));
		CHECK_OK(crypto_random(&trng.rng, psk, sizeof(psk)));
		if (!CHECK_OK(mls_welcome_secret(s, joiner, NULL, ws)) ||
		    !CHECK_OK(mls_welcome_secret(s, joiner, psk, ws_psk)))
			continue;
		CHECK(memcmp(ws, ws_psk, s->nh) != 0);
		if (CHECK_OK(mls_key_schedule_from_joiner(
			    s, joiner, NULL, (const uint8_t *)"gc", 2, es)))
			CHECK_MEM(es->welcome_secret, ws, s->nh);
		if (CHECK_OK(mls_key_schedule_from_joiner(
			    s, joiner, psk, (const uint8_t *)"gc", 2, es)))
			CHECK_MEM(es->welcome_secret, ws_psk, s->nh);
		if (!CHECK_OK(mls_welcome_key_nonce(s, ws, key, nonce)))
			continue;
		if (CHECK_OK(mls_expand_with_label(s, ws, s->nh, "key", NULL,
						   0, want, s->nk)))
			CHECK_MEM(key, want, s->nk);
		if (CHECK_OK(mls_expand_with_label(s, ws, s->nh, "nonce", NULL,
						   0, want, s->nn)))
			CHECK_MEM(nonce, want, s->nn);
		mls_epoch_secrets_wipe(es);
	}
	CHECK_RC(mls_welcome_secret(NULL, joiner, NULL, ws),
		 EPOCH_ERR_INVALID_ARG);
	crypto_wipe(joiner, sizeof(joiner));
	crypto_wipe(ws, sizeof(ws));
	free(es);
}

/* Everything one Welcome round trip needs, on the heap. */
struct wf {
	struct kp_fixture kp, other;
	struct mls_group_info gi, gi_out;
	struct mls_group_secrets gs_out;
	struct mls_welcome w, w2;
	uint8_t gi_sig[MLS_ED25519_SIG_LEN], signer_sk[32], signer_pk[32];
	uint8_t ref[MLS_MAX_NH], other_ref[MLS_MAX_NH];
	uint8_t joiner[MLS_MAX_NH], path[MLS_MAX_NH], ws[MLS_MAX_NH];
	uint8_t gs_buf[4096], gi_buf[4096];
	struct codec_writer gs_enc, gi_enc, kp_enc, sealed, sealed2, tmp;
};

/* GroupSecrets { joiner_secret<V>; optional<path_secret<V>>; psks<V> }
 * with a joiner secret of joiner_len bytes and a path secret. */
static int encode_group_secrets(struct codec_writer *w, const uint8_t *joiner,
				size_t joiner_len, const uint8_t *path,
				size_t path_len)
{
	struct mls_group_secrets gs;

	memset(&gs, 0, sizeof(gs));
	gs.joiner_secret.p = joiner;
	gs.joiner_secret.len = joiner_len;
	gs.has_path_secret = path != NULL;
	gs.path_secret.p = path;
	gs.path_secret.len = path_len;
	w->len = 0;
	return mls_group_secrets_encode(w, &gs);
}

static int make_ref(const struct mls_suite *s, struct wf *f,
		    struct kp_fixture *k, uint8_t *ref)
{
	if (!CHECK_OK(mls_key_package_sign(s, &k->kp, k->sig_sk, 32, k->sig)))
		return -1;
	f->kp_enc.len = 0;
	if (!CHECK_OK(mls_key_package_encode(&f->kp_enc, &k->kp)) ||
	    !CHECK_OK(mls_make_key_package_ref(s, f->kp_enc.buf,
					       f->kp_enc.len, ref)))
		return -1;
	return 0;
}

/* Flips one bit of the byte at p, which points into a writer's buffer
 * (a decoded Welcome borrows its input). */
static void flip(struct codec_writer *buf, const uint8_t *p)
{
	size_t off = (size_t)(p - buf->buf);

	buf->buf[off] ^= 0x04;
}

static int seal(const struct mls_suite *s, struct wf *f,
		struct kp_fixture *k, const uint8_t *ref,
		struct codec_writer *out)
{
	out->len = 0;
	return mls_welcome_seal(s, &trng.rng, f->ws, ref, s->nh, k->init.pk,
				k->init.pk_len, f->gs_enc.buf, f->gs_enc.len,
				f->gi_enc.buf, f->gi_enc.len, out);
}

static void welcome_suite(const struct mls_suite *s, struct wf *f)
{
	uint8_t wrong[MLS_MAX_NH];

	if (kp_fixture_init(s, &f->kp) || kp_fixture_init(s, &f->other) ||
	    make_ref(s, f, &f->kp, f->ref) ||
	    make_ref(s, f, &f->other, f->other_ref) ||
	    !CHECK_OK(crypto_ed25519_keygen(&trng.rng, f->signer_sk,
					    f->signer_pk)) ||
	    !CHECK_OK(crypto_random(&trng.rng, f->joiner, s->nh)) ||
	    !CHECK_OK(crypto_random(&trng.rng, f->path, s->nh)) ||
	    !CHECK_OK(mls_welcome_secret(s, f->joiner, NULL, f->ws)))
		return;
	group_info_fixture(s, &f->gi, fill);
	f->gi_enc.len = 0;
	if (!CHECK_OK(mls_group_info_sign(s, &f->gi, f->signer_sk, 32,
					  f->gi_sig)) ||
	    !CHECK_OK(mls_group_info_encode(&f->gi_enc, &f->gi)) ||
	    !CHECK_OK(encode_group_secrets(&f->gs_enc, f->joiner, s->nh,
					   f->path, s->nh)))
		return;

	/* Round trip. */
	if (!CHECK_OK(seal(s, f, &f->kp, f->ref, &f->sealed)) ||
	    !CHECK_OK(mls_welcome_decode_all(f->sealed.buf, f->sealed.len,
					     &f->w)))
		return;
	CHECK_EQ_U64(f->w.cipher_suite, s->id);
	CHECK_EQ_U64(f->w.n_secrets, 1);
	CHECK_EQ_U64(f->w.secrets[0].new_member.len, s->nh);
	CHECK_MEM(f->w.secrets[0].new_member.p, f->ref, s->nh);
	CHECK_EQ_U64(f->w.encrypted_group_info.len,
		     f->gi_enc.len + CRYPTO_AEAD_TAG_LEN);
	if (CHECK_OK(mls_welcome_open_secrets(s, &f->w, f->ref, s->nh,
					      &f->kp.init, f->gs_buf,
					      sizeof(f->gs_buf),
					      &f->gs_out)) &&
	    CHECK_EQ_U64(f->gs_out.joiner_secret.len, s->nh) &&
	    CHECK(f->gs_out.has_path_secret) &&
	    CHECK_EQ_U64(f->gs_out.path_secret.len, s->nh)) {
		CHECK_MEM(f->gs_out.joiner_secret.p, f->joiner, s->nh);
		CHECK_MEM(f->gs_out.path_secret.p, f->path, s->nh);
		CHECK_EQ_U64(f->gs_out.n_psks, 0);
	}
	if (CHECK_OK(mls_welcome_open_group_info(s, &f->w, f->ws, f->gi_buf,
						 sizeof(f->gi_buf),
						 &f->gi_out))) {
		f->tmp.len = 0;
		if (CHECK_OK(mls_group_info_encode(&f->tmp, &f->gi_out)) &&
		    CHECK_EQ_U64(f->tmp.len, f->gi_enc.len))
			CHECK_MEM(f->tmp.buf, f->gi_enc.buf, f->gi_enc.len);
		CHECK_OK(mls_group_info_verify(s, &f->gi_out, f->signer_pk,
					       32));
	}
	/* The plaintext buffer may be exactly the plaintext size. */
	CHECK_OK(mls_welcome_open_group_info(s, &f->w, f->ws, f->gi_buf,
					     f->gi_enc.len, &f->gi_out));
	CHECK_RC(mls_welcome_open_group_info(s, &f->w, f->ws, f->gi_buf,
					     f->gi_enc.len - 1, &f->gi_out),
		 EPOCH_ERR_NO_SPACE);
	CHECK_RC(mls_welcome_open_secrets(s, &f->w, f->ref, s->nh,
					  &f->kp.init, f->gs_buf,
					  f->gs_enc.len - 1, &f->gs_out),
		 EPOCH_ERR_NO_SPACE);

	/* No entry for our ref: another ref, a prefix of ours. */
	CHECK_RC(mls_welcome_open_secrets(s, &f->w, f->other_ref, s->nh,
					  &f->other.init, f->gs_buf,
					  sizeof(f->gs_buf), &f->gs_out),
		 EPOCH_ERR_INVALID_ARG);
	CHECK_RC(mls_welcome_open_secrets(s, &f->w, f->ref, s->nh - 1,
					  &f->kp.init, f->gs_buf,
					  sizeof(f->gs_buf), &f->gs_out),
		 EPOCH_ERR_INVALID_ARG);
	/* Our entry, but the wrong init key. */
	CHECK_RC(mls_welcome_open_secrets(s, &f->w, f->ref, s->nh,
					  &f->other.init, f->gs_buf,
					  sizeof(f->gs_buf), &f->gs_out),
		 EPOCH_ERR_AUTH);
	/* The wrong welcome_secret. */
	memcpy(wrong, f->ws, s->nh);
	wrong[0] ^= 1;
	CHECK_RC(mls_welcome_open_group_info(s, &f->w, wrong, f->gi_buf,
					     sizeof(f->gi_buf), &f->gi_out),
		 EPOCH_ERR_AUTH);
	/* Another suite's Welcome. */
	f->w.cipher_suite ^= 0x0100;
	CHECK_RC(mls_welcome_open_secrets(s, &f->w, f->ref, s->nh,
					  &f->kp.init, f->gs_buf,
					  sizeof(f->gs_buf), &f->gs_out),
		 EPOCH_ERR_SUITE);
	CHECK_RC(mls_welcome_open_group_info(s, &f->w, f->ws, f->gi_buf,
					     sizeof(f->gi_buf), &f->gi_out),
		 EPOCH_ERR_SUITE);
	f->w.cipher_suite ^= 0x0100;
	/* A GroupInfo shorter than the AEAD tag. */
	f->w2 = f->w;
	f->w2.encrypted_group_info.len = CRYPTO_AEAD_TAG_LEN - 1;
	CHECK_RC(mls_welcome_open_group_info(s, &f->w2, f->ws, f->gi_buf,
					     sizeof(f->gi_buf), &f->gi_out),
		 EPOCH_ERR_AUTH);

	/* Tampered ciphertext of the group secrets, its KEM output, and the
	 * encrypted GroupInfo (which is also the HPKE context of the group
	 * secrets). Each flip is undone after its check. */
	flip(&f->sealed, f->w.secrets[0].encrypted_group_secrets.ciphertext.p);
	CHECK_RC(mls_welcome_open_secrets(s, &f->w, f->ref, s->nh,
					  &f->kp.init, f->gs_buf,
					  sizeof(f->gs_buf), &f->gs_out),
		 EPOCH_ERR_AUTH);
	flip(&f->sealed, f->w.secrets[0].encrypted_group_secrets.ciphertext.p);
	flip(&f->sealed, f->w.secrets[0].encrypted_group_secrets.kem_output.p +
				 5);
	CHECK_RC(mls_welcome_open_secrets(s, &f->w, f->ref, s->nh,
					  &f->kp.init, f->gs_buf,
					  sizeof(f->gs_buf), &f->gs_out),
		 EPOCH_ERR_AUTH);
	flip(&f->sealed, f->w.secrets[0].encrypted_group_secrets.kem_output.p +
				 5);
	flip(&f->sealed, f->w.encrypted_group_info.p + 2);
	CHECK_RC(mls_welcome_open_group_info(s, &f->w, f->ws, f->gi_buf,
					     sizeof(f->gi_buf), &f->gi_out),
		 EPOCH_ERR_AUTH);
	CHECK_RC(mls_welcome_open_secrets(s, &f->w, f->ref, s->nh,
					  &f->kp.init, f->gs_buf,
					  sizeof(f->gs_buf), &f->gs_out),
		 EPOCH_ERR_AUTH);
	flip(&f->sealed, f->w.encrypted_group_info.p + 2);
	/* Undone: opens again. */
	CHECK_OK(mls_welcome_open_secrets(s, &f->w, f->ref, s->nh,
					  &f->kp.init, f->gs_buf,
					  sizeof(f->gs_buf), &f->gs_out));
	CHECK_OK(mls_welcome_open_group_info(s, &f->w, f->ws, f->gi_buf,
					     sizeof(f->gi_buf), &f->gi_out));

	/* Two entries: each member finds its own. The GroupInfo encryption
	 * is deterministic, so both seals share encrypted_group_info. */
	if (CHECK_OK(seal(s, f, &f->other, f->other_ref, &f->sealed2)) &&
	    CHECK_OK(mls_welcome_decode_all(f->sealed2.buf, f->sealed2.len,
					    &f->w2)) &&
	    CHECK_EQ_U64(f->w2.encrypted_group_info.len,
			 f->w.encrypted_group_info.len)) {
		CHECK_MEM(f->w2.encrypted_group_info.p,
			  f->w.encrypted_group_info.p,
			  f->w.encrypted_group_info.len);
		f->w2.n_secrets = 2;
		f->w2.secrets[1] = f->w2.secrets[0];
		f->w2.secrets[0] = f->w.secrets[0];
		if (CHECK_OK(mls_welcome_open_secrets(
			    s, &f->w2, f->other_ref, s->nh, &f->other.init,
			    f->gs_buf, sizeof(f->gs_buf), &f->gs_out)))
			CHECK_MEM(f->gs_out.joiner_secret.p, f->joiner, s->nh);
		if (CHECK_OK(mls_welcome_open_secrets(
			    s, &f->w2, f->ref, s->nh, &f->kp.init, f->gs_buf,
			    sizeof(f->gs_buf), &f->gs_out)))
			CHECK_MEM(f->gs_out.joiner_secret.p, f->joiner, s->nh);
		/* The other member's entry does not open with our key. */
		f->w2.secrets[0].new_member.p = f->ref;
		f->w2.secrets[1].new_member.p = f->ref;
		CHECK_OK(mls_welcome_open_secrets(s, &f->w2, f->ref, s->nh,
						  &f->kp.init, f->gs_buf,
						  sizeof(f->gs_buf),
						  &f->gs_out));
		f->w2.secrets[0] = f->w2.secrets[1];
		CHECK_RC(mls_welcome_open_secrets(s, &f->w2, f->ref, s->nh,
						  &f->kp.init, f->gs_buf,
						  sizeof(f->gs_buf),
						  &f->gs_out),
			 EPOCH_ERR_AUTH);
	}

	/* GroupSecrets that decrypt but are not valid: a joiner secret of
	 * the wrong length, a path secret of the wrong length, trailing
	 * bytes. */
	if (CHECK_OK(encode_group_secrets(&f->gs_enc, f->joiner, s->nh - 1,
					  NULL, 0)) &&
	    CHECK_OK(seal(s, f, &f->kp, f->ref, &f->sealed2)) &&
	    CHECK_OK(mls_welcome_decode_all(f->sealed2.buf, f->sealed2.len,
					    &f->w2)))
		CHECK_RC(mls_welcome_open_secrets(s, &f->w2, f->ref, s->nh,
						  &f->kp.init, f->gs_buf,
						  sizeof(f->gs_buf),
						  &f->gs_out),
			 EPOCH_ERR_MALFORMED);
	if (CHECK_OK(encode_group_secrets(&f->gs_enc, f->joiner, s->nh,
					  f->path, 1)) &&
	    CHECK_OK(seal(s, f, &f->kp, f->ref, &f->sealed2)) &&
	    CHECK_OK(mls_welcome_decode_all(f->sealed2.buf, f->sealed2.len,
					    &f->w2)))
		CHECK_RC(mls_welcome_open_secrets(s, &f->w2, f->ref, s->nh,
						  &f->kp.init, f->gs_buf,
						  sizeof(f->gs_buf),
						  &f->gs_out),
			 EPOCH_ERR_MALFORMED);
	if (CHECK_OK(encode_group_secrets(&f->gs_enc, f->joiner, s->nh, NULL,
					  0)) &&
	    CHECK_OK(codec_write_u8(&f->gs_enc, 0)) &&
	    CHECK_OK(seal(s, f, &f->kp, f->ref, &f->sealed2)) &&
	    CHECK_OK(mls_welcome_decode_all(f->sealed2.buf, f->sealed2.len,
					    &f->w2)))
		CHECK_RC(mls_welcome_open_secrets(s, &f->w2, f->ref, s->nh,
						  &f->kp.init, f->gs_buf,
						  sizeof(f->gs_buf),
						  &f->gs_out),
			 EPOCH_ERR_TRAILING);

	/* A GroupInfo of another cipher suite inside the Welcome. */
	f->gi.group_context.cipher_suite ^= 0x0100;
	f->gi_enc.len = 0;
	if (CHECK_OK(mls_group_info_encode(&f->gi_enc, &f->gi)) &&
	    CHECK_OK(seal(s, f, &f->kp, f->ref, &f->sealed2)) &&
	    CHECK_OK(mls_welcome_decode_all(f->sealed2.buf, f->sealed2.len,
					    &f->w2)))
		CHECK_RC(mls_welcome_open_group_info(s, &f->w2, f->ws,
						     f->gi_buf,
						     sizeof(f->gi_buf),
						     &f->gi_out),
			 EPOCH_ERR_SUITE);
	/* A GroupInfo with trailing bytes. */
	f->gi.group_context.cipher_suite ^= 0x0100;
	f->gi_enc.len = 0;
	if (CHECK_OK(mls_group_info_encode(&f->gi_enc, &f->gi)) &&
	    CHECK_OK(codec_write_u8(&f->gi_enc, 0)) &&
	    CHECK_OK(seal(s, f, &f->kp, f->ref, &f->sealed2)) &&
	    CHECK_OK(mls_welcome_decode_all(f->sealed2.buf, f->sealed2.len,
					    &f->w2)))
		CHECK_RC(mls_welcome_open_group_info(s, &f->w2, f->ws,
						     f->gi_buf,
						     sizeof(f->gi_buf),
						     &f->gi_out),
			 EPOCH_ERR_TRAILING);
	/* Sealing to a malformed init key. */
	f->sealed2.len = 0;
	CHECK(mls_welcome_seal(s, &trng.rng, f->ws, f->ref, s->nh,
			       f->kp.init.pk, f->kp.init.pk_len - 1,
			       f->gs_enc.buf, f->gs_enc.len, f->gi_enc.buf,
			       f->gi_enc.len, &f->sealed2) < 0);
	CHECK_EQ_U64(f->sealed2.len, 0);
}

static void test_welcome(void)
{
	struct wf *f = calloc(1, sizeof(*f));

	if (!CHECK(f != NULL))
		return;
	for (size_t i = 0; i < N_SUITES; i++) {
		const struct mls_suite *s = mls_suite_get(suite_ids[i]);

		if (!CHECK(s != NULL))
			continue;
		codec_writer_init_dynamic(&f->gs_enc, 1 << 16);
		codec_writer_init_dynamic(&f->gi_enc, 1 << 16);
		codec_writer_init_dynamic(&f->kp_enc, 1 << 16);
		codec_writer_init_dynamic(&f->sealed, 1 << 16);
		codec_writer_init_dynamic(&f->sealed2, 1 << 16);
		codec_writer_init_dynamic(&f->tmp, 1 << 16);
		welcome_suite(s, f);
		codec_writer_free(&f->gs_enc);
		codec_writer_free(&f->gi_enc);
		codec_writer_free(&f->kp_enc);
		codec_writer_free(&f->sealed);
		codec_writer_free(&f->sealed2);
		codec_writer_free(&f->tmp);
		kp_fixture_wipe(&f->kp);
		kp_fixture_wipe(&f->other);
		crypto_wipe(f, sizeof(*f));
	}
	free(f);
}

int main(int argc, char **argv)
{
	(void)argc;
	test_rng_init(&trng, "test_mls_welcome");
	test_run("key_package", test_key_package);
	test_run("group_info", test_group_info);
	test_run("welcome_secret", test_welcome_secret);
	test_run("welcome", test_welcome);
	crypto_xof_wipe(&trng.xof);
	return test_main_end(argv[0]);
}
