/* KeyPackage and GroupInfo signatures (RFC 9420 §10, §12.4.3) and Welcome
 * sealing and opening (§12.4.3.1). welcome_secret itself comes from the key
 * schedule (proto/mls_keysched.c). */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/crypto.h"
#include "proto/mls.h"
#include "proto/mls_int.h"

static int write_slice(struct codec_writer *w, const struct codec_slice *v)
{
	return codec_write_vec(w, v->p, v->len);
}

/* Writes the to-be-signed form of a structure. */
typedef int (*tbs_writer)(struct codec_writer *w, const void *obj);

/* SignWithLabel over tbs(obj); *sig is set to sig_buf. */
static int sign_tbs(const struct mls_suite *s, tbs_writer tbs, const void *obj,
		    const char *label, const uint8_t *sk, size_t sk_len,
		    uint8_t *sig_buf, struct codec_slice *sig)
{
	struct codec_writer w;
	size_t sig_len = 0;
	int rc;

	codec_writer_init_dynamic(&w, MLS_LABELED_MAX);
	GUARD_GOTO(rc, tbs(&w, obj), out);
	GUARD_GOTO(rc, mls_sign_with_label(s, sk, sk_len, label, w.buf, w.len,
					   sig_buf, MLS_ED25519_SIG_LEN,
					   &sig_len), out);
	sig->p = sig_buf;
	sig->len = sig_len;
out:
	codec_writer_free(&w);
	return rc;
}

/* VerifyWithLabel of sig over tbs(obj). */
static int verify_tbs(const struct mls_suite *s, tbs_writer tbs,
		      const void *obj, const char *label, const uint8_t *pk,
		      size_t pk_len, const struct codec_slice *sig)
{
	struct codec_writer w;
	int rc;

	codec_writer_init_dynamic(&w, MLS_LABELED_MAX);
	GUARD_GOTO(rc, tbs(&w, obj), out);
	rc = mls_verify_with_label(s, pk, pk_len, label, w.buf, w.len, sig->p,
				   sig->len);
out:
	codec_writer_free(&w);
	return rc;
}

/* ---- KeyPackage (§10) -------------------------------------------------- */

/* KeyPackageTBS: version, cipher_suite, init_key<V>, leaf_node,
 * extensions<V> (the KeyPackage without its signature). */
static int key_package_tbs(struct codec_writer *w, const void *obj)
{
	const struct mls_key_package *kp = obj;

	codec_write_u16(w, kp->version);
	codec_write_u16(w, kp->cipher_suite);
	write_slice(w, &kp->init_key);
	GUARD(mls_leaf_node_encode(w, &kp->leaf_node));
	GUARD(mls_extensions_encode(w, &kp->extensions));
	return codec_writer_error(w);
}

int mls_key_package_sign(const struct mls_suite *s,
			 struct mls_key_package *kp, const uint8_t *sk,
			 size_t sk_len, uint8_t *sig_buf)
{
	if (!s || !kp || !sk || !sig_buf)
		return EPOCH_ERR_INVALID_ARG;
	return sign_tbs(s, key_package_tbs, kp, "KeyPackageTBS", sk, sk_len,
			sig_buf, &kp->signature);
}

int mls_key_package_verify(const struct mls_suite *s,
			   const struct mls_key_package *kp)
{
	if (!s || !kp)
		return EPOCH_ERR_INVALID_ARG;
	/* §10.1: the KeyPackage is for this version and cipher suite. */
	if (kp->version != MLS_PROTOCOL_VERSION_MLS10 ||
	    kp->cipher_suite != s->id)
		return EPOCH_ERR_SUITE;
	return verify_tbs(s, key_package_tbs, kp, "KeyPackageTBS",
			  kp->leaf_node.signature_key.p,
			  kp->leaf_node.signature_key.len, &kp->signature);
}

/* ---- GroupInfo (§12.4.3) ----------------------------------------------- */

/* GroupInfoTBS: group_context, extensions<V>, confirmation_tag<V>,
 * signer (the GroupInfo without its signature). */
static int group_info_tbs(struct codec_writer *w, const void *obj)
{
	const struct mls_group_info *gi = obj;

	GUARD(mls_wire_group_context_encode(w, &gi->group_context));
	GUARD(mls_extensions_encode(w, &gi->extensions));
	write_slice(w, &gi->confirmation_tag);
	codec_write_u32(w, gi->signer);
	return codec_writer_error(w);
}

int mls_group_info_sign(const struct mls_suite *s,
			struct mls_group_info *gi, const uint8_t *sk,
			size_t sk_len, uint8_t *sig_buf)
{
	if (!s || !gi || !sk || !sig_buf)
		return EPOCH_ERR_INVALID_ARG;
	return sign_tbs(s, group_info_tbs, gi, "GroupInfoTBS", sk, sk_len,
			sig_buf, &gi->signature);
}

int mls_group_info_verify(const struct mls_suite *s,
			  const struct mls_group_info *gi,
			  const uint8_t *pk, size_t pk_len)
{
	if (!s || !gi || !pk)
		return EPOCH_ERR_INVALID_ARG;
	return verify_tbs(s, group_info_tbs, gi, "GroupInfoTBS", pk, pk_len,
			  &gi->signature);
}

/* ---- Welcome (§12.4.3.1) ----------------------------------------------- */

int mls_welcome_key_nonce(const struct mls_suite *s,
			  const uint8_t *welcome_secret, uint8_t *key,
			  uint8_t *nonce)
{
	if (!s || !welcome_secret || !key || !nonce)
		return EPOCH_ERR_INVALID_ARG;
	/* welcome_nonce = ExpandWithLabel(welcome_secret, "nonce", "", Nn)
	 * welcome_key = ExpandWithLabel(welcome_secret, "key", "", Nk) */
	GUARD(mls_expand_with_label(s, welcome_secret, s->nh, "key", NULL, 0,
				    key, s->nk));
	return mls_expand_with_label(s, welcome_secret, s->nh, "nonce", NULL,
				     0, nonce, s->nn);
}

/* The AEAD of the GroupInfo: in place (out may equal in), empty aad. */
static int group_info_aead(const struct mls_suite *s,
			   const uint8_t *welcome_secret, int seal,
			   const uint8_t *in, size_t in_len, uint8_t *out)
{
	uint8_t key[MLS_MAX_NK], nonce[MLS_MAX_NN];
	int rc;

	if (s->nn != CRYPTO_AEAD_NONCE_LEN)
		return EPOCH_ERR_UNSUPPORTED;
	GUARD_GOTO(rc, mls_welcome_key_nonce(s, welcome_secret, key, nonce),
		   out);
	if (seal)
		rc = crypto_aead_seal(s->aead, key, nonce, NULL, 0, in, in_len,
				      out);
	else
		rc = crypto_aead_open(s->aead, key, nonce, NULL, 0, in, in_len,
				      out);
out:
	crypto_wipe(key, sizeof(key));
	crypto_wipe(nonce, sizeof(nonce));
	return rc;
}

int mls_welcome_seal(const struct mls_suite *s, const struct crypto_rng *rng,
		     const uint8_t *welcome_secret, const uint8_t *kp_ref,
		     size_t kp_ref_len, const uint8_t *init_pk,
		     size_t init_pk_len, const uint8_t *group_secrets,
		     size_t gs_len, const uint8_t *group_info, size_t gi_len,
		     struct codec_writer *out)
{
	struct mls_welcome *w = NULL;
	uint8_t *egi = NULL, *egs = NULL, *kem = NULL;
	size_t egi_len, egs_len = 0, kem_len = 0;
	int rc;

	if (!s || !welcome_secret || !kp_ref || !init_pk ||
	    (gs_len && !group_secrets) || (gi_len && !group_info) || !out)
		return EPOCH_ERR_INVALID_ARG;
	if (gi_len > CODEC_VARINT_MAX - CRYPTO_AEAD_TAG_LEN ||
	    gs_len > CODEC_VARINT_MAX - CRYPTO_AEAD_TAG_LEN)
		return EPOCH_ERR_TOO_LONG;
	egi_len = gi_len + CRYPTO_AEAD_TAG_LEN;
	w = calloc(1, sizeof(*w));
	egi = malloc(egi_len);
	egs = malloc(gs_len + CRYPTO_AEAD_TAG_LEN);
	kem = malloc(HPKE_MAX_ENC);
	if (!w || !egi || !egs || !kem) {
		rc = EPOCH_ERR_NOMEM;
		goto out;
	}
	/* encrypted_group_info = AEAD.Seal(welcome_key, welcome_nonce, "",
	 *   GroupInfo) */
	GUARD_GOTO(rc, group_info_aead(s, welcome_secret, 1, group_info,
				       gi_len, egi),
		   out);
	/* encrypted_group_secrets = EncryptWithLabel(init_key, "Welcome",
	 *   encrypted_group_info, group_secrets) */
	GUARD_GOTO(rc, mls_encrypt_with_label(s, rng, init_pk, init_pk_len,
					      "Welcome", egi, egi_len,
					      group_secrets, gs_len, kem,
					      HPKE_MAX_ENC, &kem_len, egs,
					      gs_len + CRYPTO_AEAD_TAG_LEN,
					      &egs_len),
		   out);
	w->cipher_suite = s->id;
	w->n_secrets = 1;
	w->secrets[0].new_member.p = kp_ref;
	w->secrets[0].new_member.len = kp_ref_len;
	w->secrets[0].encrypted_group_secrets.kem_output.p = kem;
	w->secrets[0].encrypted_group_secrets.kem_output.len = kem_len;
	w->secrets[0].encrypted_group_secrets.ciphertext.p = egs;
	w->secrets[0].encrypted_group_secrets.ciphertext.len = egs_len;
	w->encrypted_group_info.p = egi;
	w->encrypted_group_info.len = egi_len;
	rc = mls_welcome_encode(out, w);
out:
	free(w);
	free(egi);
	free(egs);
	free(kem);
	return rc;
}

int mls_welcome_open_secrets(const struct mls_suite *s,
			     const struct mls_welcome *w,
			     const uint8_t *kp_ref, size_t kp_ref_len,
			     const struct hpke_keypair *init,
			     uint8_t *gs_buf, size_t gs_cap,
			     struct mls_group_secrets *gs)
{
	const struct mls_hpke_ciphertext *ct = NULL;
	size_t pt_len = 0;
	int rc;

	if (!s || !w || !kp_ref || !init || !gs_buf || !gs)
		return EPOCH_ERR_INVALID_ARG;
	if (w->cipher_suite != s->id)
		return EPOCH_ERR_SUITE;
	for (size_t i = 0; i < w->n_secrets && i < MLS_MAX_WELCOME_SECRETS;
	     i++) {
		const struct codec_slice *ref = &w->secrets[i].new_member;

		if (ref->len == kp_ref_len &&
		    (!kp_ref_len || !memcmp(ref->p, kp_ref, kp_ref_len))) {
			ct = &w->secrets[i].encrypted_group_secrets;
			break;
		}
	}
	if (!ct)
		return EPOCH_ERR_INVALID_ARG;
	GUARD_GOTO(rc, mls_decrypt_with_label(s, init->sk, init->sk_len,
					      "Welcome",
					      w->encrypted_group_info.p,
					      w->encrypted_group_info.len,
					      ct->kem_output.p,
					      ct->kem_output.len,
					      ct->ciphertext.p,
					      ct->ciphertext.len, gs_buf,
					      gs_cap, &pt_len),
		   out);
	GUARD_GOTO(rc, mls_group_secrets_decode_all(gs_buf, pt_len, gs), out);
	/* joiner_secret and path_secret are Nh-byte secrets (§8, §7.4). */
	if (gs->joiner_secret.len != s->nh ||
	    (gs->has_path_secret && gs->path_secret.len != s->nh))
		rc = EPOCH_ERR_MALFORMED;
out:
	if (rc != EPOCH_OK) {
		crypto_wipe(gs_buf, pt_len);
		memset(gs, 0, sizeof(*gs));
	}
	return rc;
}

int mls_welcome_open_group_info(const struct mls_suite *s,
				const struct mls_welcome *w,
				const uint8_t *welcome_secret,
				uint8_t *gi_buf, size_t gi_cap,
				struct mls_group_info *gi)
{
	const struct codec_slice *egi;
	size_t len;
	int rc;

	if (!s || !w || !welcome_secret || !gi_buf || !gi)
		return EPOCH_ERR_INVALID_ARG;
	if (w->cipher_suite != s->id)
		return EPOCH_ERR_SUITE;
	egi = &w->encrypted_group_info;
	if (egi->len < CRYPTO_AEAD_TAG_LEN)
		return EPOCH_ERR_AUTH;
	len = egi->len - CRYPTO_AEAD_TAG_LEN;
	if (gi_cap < len)
		return EPOCH_ERR_NO_SPACE;
	GUARD_GOTO(rc, group_info_aead(s, welcome_secret, 0, egi->p,
				       egi->len, gi_buf),
		   out);
	GUARD_GOTO(rc, mls_group_info_decode_all(gi_buf, len, gi), out);
	/* The GroupInfo is for the Welcome's version and cipher suite. */
	if (gi->group_context.version != MLS_PROTOCOL_VERSION_MLS10 ||
	    gi->group_context.cipher_suite != w->cipher_suite)
		rc = EPOCH_ERR_SUITE;
out:
	if (rc != EPOCH_OK)
		memset(gi, 0, sizeof(*gi));
	return rc;
}
