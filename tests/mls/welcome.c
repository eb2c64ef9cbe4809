/* welcome.json: opening a Welcome (RFC 9420 §12.4.3.1): the entry for the
 * KeyPackage's ref, GroupSecrets under init_priv, the GroupInfo under
 * welcome_secret, its signature under signer_pub and its confirmation tag
 * from the joiner's key schedule. Then the same content sealed again by
 * mls_welcome_seal must open to the same values. */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "tests/mls/vectors.h"

/* MLSMessage header: version, wire_format. */
#define MSG_HDR 4

struct wc_state {
	struct mls_message *kp_msg, *w_msg;
	struct mls_welcome *w2;
	struct mls_group_secrets *gs, *gs2;
	struct mls_group_info *gi, *gi2;
	uint8_t *gs_buf, *gi_buf, *gs2_buf, *gi2_buf;
	struct codec_writer gc, gs_enc, gi_enc, sealed;
	struct hpke_keypair init;
	struct mls_epoch_secrets es;
};

/* Checks the GroupInfo's signature (and that a flipped bit breaks it) and
 * its confirmation tag via the key schedule from joiner_secret. */
static void check_group_info(const struct mls_suite *s, struct wc_state *st,
			     const struct mls_group_info *gi,
			     const struct test_bytes *signer,
			     const uint8_t *joiner, const uint8_t *welcome)
{
	struct mls_group_info bad;
	uint8_t sig[MLS_ED25519_SIG_LEN];
	const struct codec_slice *cth =
		&gi->group_context.confirmed_transcript_hash;

	CHECK_OK(mls_group_info_verify(s, gi, signer->p, signer->len));
	if (CHECK(gi->signature.len == sizeof(sig))) {
		memcpy(sig, gi->signature.p, sizeof(sig));
		sig[7] ^= 0x10;
		bad = *gi;
		bad.signature.p = sig;
		CHECK_RC(mls_group_info_verify(s, &bad, signer->p,
					       signer->len),
			 EPOCH_ERR_SIGNATURE);
		/* The signature covers the signer index too. */
		bad = *gi;
		bad.signer ^= 1;
		CHECK_RC(mls_group_info_verify(s, &bad, signer->p,
					       signer->len),
			 EPOCH_ERR_SIGNATURE);
	}
	st->gc.len = 0;
	if (!CHECK_OK(mls_wire_group_context_encode(&st->gc,
						    &gi->group_context)) ||
	    !CHECK_EQ_U64(cth->len, s->nh) ||
	    !CHECK_OK(mls_key_schedule_from_joiner(s, joiner, NULL,
						   st->gc.buf, st->gc.len,
						   &st->es)))
		return;
	/* The schedule's welcome_secret is the one that opened the
	 * GroupInfo. */
	CHECK_MEM(st->es.welcome_secret, welcome, s->nh);
	CHECK_OK(mls_confirmation_tag_verify(s, st->es.confirmation_key,
					     cth->p, gi->confirmation_tag.p,
					     gi->confirmation_tag.len));
	mls_epoch_secrets_wipe(&st->es);
}

static void wc_case(const struct mls_suite *s, const struct json *c,
		    struct wc_state *st)
{
	struct test_bytes init_priv = { 0 }, signer = { 0 }, kpb = { 0 },
			  wb = { 0 };
	const struct mls_key_package *kp;
	const struct mls_welcome *w;
	uint8_t ref[MLS_MAX_NH], welcome[MLS_MAX_NH], joiner[MLS_MAX_NH];
	size_t found = 0;

	if (vhex(c, "init_priv", &init_priv) ||
	    vhex(c, "signer_pub", &signer) || vhex(c, "key_package", &kpb) ||
	    vhex(c, "welcome", &wb))
		goto out;
	if (!CHECK_OK(mls_message_decode_all(kpb.p, kpb.len, st->kp_msg)) ||
	    !CHECK_EQ_U64(st->kp_msg->wire_format, MLS_WIRE_KEY_PACKAGE) ||
	    !CHECK_OK(mls_message_decode_all(wb.p, wb.len, st->w_msg)) ||
	    !CHECK_EQ_U64(st->w_msg->wire_format, MLS_WIRE_WELCOME) ||
	    !CHECK(init_priv.len <= HPKE_MAX_SK))
		goto out;
	kp = &st->kp_msg->u.key_package;
	w = &st->w_msg->u.welcome;
	CHECK_EQ_U64(w->cipher_suite, s->id);
	/* The generator's KeyPackage is validly signed. */
	CHECK_OK(mls_key_package_verify(s, kp));

	/* The Welcome has an entry for the KeyPackage's ref. */
	if (!CHECK_OK(mls_make_key_package_ref(s, kpb.p + MSG_HDR,
					       kpb.len - MSG_HDR, ref)))
		goto out;
	for (size_t i = 0; i < w->n_secrets; i++)
		if (w->secrets[i].new_member.len == s->nh &&
		    !memcmp(w->secrets[i].new_member.p, ref, s->nh))
			found++;
	CHECK_EQ_U64(found, 1);

	st->init.kem_id = s->hpke.kem_id;
	st->init.sk_len = init_priv.len;
	memcpy(st->init.sk, init_priv.p, init_priv.len);
	if (!CHECK_OK(mls_welcome_open_secrets(s, w, ref, s->nh, &st->init,
					       st->gs_buf, wb.len, st->gs)) ||
	    !CHECK_EQ_U64(st->gs->joiner_secret.len, s->nh))
		goto out;
	/* The vectors use no PSKs. */
	CHECK_EQ_U64(st->gs->n_psks, 0);
	memcpy(joiner, st->gs->joiner_secret.p, s->nh);
	if (!CHECK_OK(mls_welcome_secret(s, joiner, NULL, welcome)) ||
	    !CHECK_OK(mls_welcome_open_group_info(s, w, welcome, st->gi_buf,
						  wb.len, st->gi)))
		goto out;
	CHECK_EQ_U64(st->gi->group_context.cipher_suite, s->id);
	check_group_info(s, st, st->gi, &signer, joiner, welcome);

	/* Seal the same GroupSecrets and GroupInfo to the KeyPackage's
	 * init_key ourselves; opening that gives them back. */
	st->gs_enc.len = st->gi_enc.len = st->sealed.len = 0;
	if (!CHECK_OK(mls_group_secrets_encode(&st->gs_enc, st->gs)) ||
	    !CHECK_OK(mls_group_info_encode(&st->gi_enc, st->gi)) ||
	    !CHECK_OK(mls_welcome_seal(s, NULL, welcome, ref, s->nh,
				       kp->init_key.p, kp->init_key.len,
				       st->gs_enc.buf, st->gs_enc.len,
				       st->gi_enc.buf, st->gi_enc.len,
				       &st->sealed)) ||
	    !CHECK_OK(mls_welcome_decode_all(st->sealed.buf, st->sealed.len,
					     st->w2)))
		goto out;
	CHECK_EQ_U64(st->w2->cipher_suite, s->id);
	CHECK_EQ_U64(st->w2->n_secrets, 1);
	/* Same plaintext GroupInfo, same key and nonce: same ciphertext. */
	if (CHECK_EQ_U64(st->w2->encrypted_group_info.len,
			 w->encrypted_group_info.len))
		CHECK_MEM(st->w2->encrypted_group_info.p,
			  w->encrypted_group_info.p,
			  w->encrypted_group_info.len);
	if (CHECK_OK(mls_welcome_open_secrets(s, st->w2, ref, s->nh,
					      &st->init, st->gs2_buf,
					      st->sealed.len, st->gs2)) &&
	    CHECK_EQ_U64(st->gs2->joiner_secret.len, s->nh)) {
		CHECK_MEM(st->gs2->joiner_secret.p, joiner, s->nh);
		CHECK_EQ_U64(st->gs2->has_path_secret,
			     st->gs->has_path_secret);
		CHECK_EQ_U64(st->gs2->n_psks, st->gs->n_psks);
	}
	if (CHECK_OK(mls_welcome_open_group_info(s, st->w2, welcome,
						 st->gi2_buf, st->sealed.len,
						 st->gi2))) {
		st->gc.len = 0;
		if (CHECK_OK(mls_group_info_encode(&st->gc, st->gi2)) &&
		    CHECK_EQ_U64(st->gc.len, st->gi_enc.len))
			CHECK_MEM(st->gc.buf, st->gi_enc.buf, st->gi_enc.len);
		check_group_info(s, st, st->gi2, &signer, joiner, welcome);
	}
out:
	crypto_wipe(joiner, sizeof(joiner));
	crypto_wipe(welcome, sizeof(welcome));
	hpke_keypair_wipe(&st->init);
	test_bytes_free(&init_priv);
	test_bytes_free(&signer);
	test_bytes_free(&kpb);
	test_bytes_free(&wb);
}

void run_welcome(const struct json *doc, const char *file)
{
	struct wc_state st = { 0 };
	size_t cap = 0;

	/* Buffers sized for the largest welcome of the file. */
	for (size_t i = 0; i < doc->n; i++) {
		const struct json *v = json_get(doc->items[i], "welcome");

		if (v && v->type == JSON_STRING && strlen(v->str) > cap)
			cap = strlen(v->str);
	}
	cap = cap / 2 + 256;
	st.kp_msg = calloc(1, sizeof(*st.kp_msg));
	st.w_msg = calloc(1, sizeof(*st.w_msg));
	st.w2 = calloc(1, sizeof(*st.w2));
	st.gs = calloc(1, sizeof(*st.gs));
	st.gs2 = calloc(1, sizeof(*st.gs2));
	st.gi = calloc(1, sizeof(*st.gi));
	st.gi2 = calloc(1, sizeof(*st.gi2));
	st.gs_buf = malloc(cap);
	st.gi_buf = malloc(cap);
	st.gs2_buf = malloc(cap + HPKE_MAX_ENC);
	st.gi2_buf = malloc(cap + HPKE_MAX_ENC);
	codec_writer_init_dynamic(&st.gc, 1 << 20);
	codec_writer_init_dynamic(&st.gs_enc, 1 << 20);
	codec_writer_init_dynamic(&st.gi_enc, 1 << 20);
	codec_writer_init_dynamic(&st.sealed, 1 << 20);
	for (size_t i = 0; i < doc->n; i++) {
		const struct json *c = doc->items[i];
		const struct mls_suite *s = vsuite(c, file, i);

		if (!s)
			continue;
		vcase_begin("%s[%zu] suite %u", file, i, s->id);
		if (CHECK(st.kp_msg && st.w_msg && st.w2 && st.gs && st.gs2 &&
			  st.gi && st.gi2 && st.gs_buf && st.gi_buf &&
			  st.gs2_buf && st.gi2_buf))
			wc_case(s, c, &st);
		vcase_end();
	}
	codec_writer_free(&st.gc);
	codec_writer_free(&st.gs_enc);
	codec_writer_free(&st.gi_enc);
	codec_writer_free(&st.sealed);
	free(st.kp_msg);
	free(st.w_msg);
	free(st.w2);
	free(st.gs);
	free(st.gs2);
	free(st.gi);
	free(st.gi2);
	free(st.gs_buf);
	free(st.gi_buf);
	free(st.gs2_buf);
	free(st.gi2_buf);
}
