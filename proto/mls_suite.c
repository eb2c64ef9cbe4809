/* MLS cipher suites (RFC 9420 §17.1) and labeled crypto (§5.1-5.2). */
#include <string.h>

#include "proto/codec.h"
#include "proto/crypto.h"
#include "proto/hpke.h"
#include "proto/mls.h"
#include "proto/mls_int.h"

/* The one table of suites. Every suite signs with Ed25519. */
static const struct mls_suite suites[] = {
	{
		.id = MLS_SUITE_X25519_AES128GCM_SHA256_ED25519,
		.name = "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519",
		.hash = CRYPTO_SHA256, .nh = 32,
		.aead = CRYPTO_AES128GCM, .nk = 16, .nn = 12,
		.hpke = { HPKE_KEM_X25519_SHA256, HPKE_KDF_HKDF_SHA256,
			  HPKE_AEAD_AES128GCM },
		.sig_scheme = MLS_SIG_ED25519,
	},
	{
		.id = MLS_SUITE_X25519_CHACHA20_SHA256_ED25519,
		.name = "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519",
		.hash = CRYPTO_SHA256, .nh = 32,
		.aead = CRYPTO_CHACHA20POLY1305, .nk = 32, .nn = 12,
		.hpke = { HPKE_KEM_X25519_SHA256, HPKE_KDF_HKDF_SHA256,
			  HPKE_AEAD_CHACHA20POLY1305 },
		.sig_scheme = MLS_SIG_ED25519,
	},
	/* Number and hash: see MLS_SUITE_XWING_... in mls.h and
	 * docs/mls-suites.md. Two numbers, one set of parameters. */
#define XWING_SUITE(ident, label)                                           \
	{                                                                   \
		.id = (ident), .name = (label),                             \
		.hash = CRYPTO_SHA512, .nh = 64,                            \
		.aead = CRYPTO_AES256GCM, .nk = 32, .nn = 12,               \
		.hpke = { HPKE_KEM_XWING, HPKE_KDF_HKDF_SHA512,             \
			  HPKE_AEAD_AES256GCM },                            \
		.sig_scheme = MLS_SIG_ED25519,                              \
	}
	XWING_SUITE(MLS_SUITE_XWING_AES256GCM_SHA512_ED25519,
		    "MLS_256_XWING_AES256GCM_SHA512_Ed25519"),
	XWING_SUITE(MLS_SUITE_XWING_AES256GCM_SHA512_ED25519_TSMLS16,
		    "MLS_256_XWING_AES256GCM_SHA512_Ed25519 (ts-mls 1.6 number)"),
#undef XWING_SUITE
};

const struct mls_suite *mls_suite_get(uint16_t id)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (suites[i].id == id)
			return &suites[i];
	return NULL;
}

int mls_write_label(struct codec_writer *w, const uint8_t *label,
		    size_t label_len)
{
	size_t plen = sizeof(MLS_LABEL_PREFIX) - 1;

	if (label_len > CODEC_VARINT_MAX - plen)
		return EPOCH_ERR_TOO_LONG;
	codec_write_varint(w, (uint32_t)(plen + label_len));
	codec_write_bytes(w, (const uint8_t *)MLS_LABEL_PREFIX, plen);
	codec_write_bytes(w, label, label_len);
	return codec_writer_error(w);
}

/* ---- ExpandWithLabel and friends (§8) ------------------------------------- */

int mls_expand_with_label_bytes(const struct mls_suite *s,
				const uint8_t *secret, size_t secret_len,
				const uint8_t *label, size_t label_len,
				const uint8_t *ctx, size_t ctx_len,
				uint8_t *out, size_t out_len)
{
	struct codec_writer w;
	int rc;

	if (!s || out_len > UINT16_MAX)
		return EPOCH_ERR_INVALID_ARG;
	/* KDFLabel { uint16 length; opaque label<V>; opaque context<V>; } */
	codec_writer_init_dynamic(&w, MLS_LABELED_MAX);
	codec_write_u16(&w, (uint16_t)out_len);
	mls_write_label(&w, label, label_len);
	codec_write_vec(&w, ctx, ctx_len);
	GUARD_GOTO(rc, codec_writer_error(&w), out);
	rc = crypto_hkdf_expand(s->hash, secret, secret_len, w.buf, w.len, out,
				out_len);
out:
	codec_writer_free(&w);
	return rc;
}

int mls_expand_with_label(const struct mls_suite *s, const uint8_t *secret,
			  size_t secret_len, const char *label,
			  const uint8_t *ctx, size_t ctx_len, uint8_t *out,
			  size_t out_len)
{
	if (!label)
		return EPOCH_ERR_INVALID_ARG;
	return mls_expand_with_label_bytes(s, secret, secret_len,
					   (const uint8_t *)label,
					   strlen(label), ctx, ctx_len, out,
					   out_len);
}

int mls_derive_secret(const struct mls_suite *s, const uint8_t *secret,
		      size_t secret_len, const char *label, uint8_t *out)
{
	if (!s)
		return EPOCH_ERR_INVALID_ARG;
	return mls_expand_with_label(s, secret, secret_len, label, NULL, 0,
				     out, s->nh);
}

int mls_derive_tree_secret(const struct mls_suite *s, const uint8_t *secret,
			   size_t secret_len, const char *label,
			   uint32_t generation, uint8_t *out, size_t out_len)
{
	uint8_t gen[4] = { (uint8_t)(generation >> 24),
			   (uint8_t)(generation >> 16),
			   (uint8_t)(generation >> 8), (uint8_t)generation };

	return mls_expand_with_label(s, secret, secret_len, label, gen,
				     sizeof(gen), out, out_len);
}

/* ---- RefHash (§5.2) ------------------------------------------------------- */

int mls_ref_hash(const struct mls_suite *s, const char *label,
		 const uint8_t *value, size_t value_len, uint8_t *out)
{
	struct codec_writer w;
	int rc;

	if (!s || !label)
		return EPOCH_ERR_INVALID_ARG;
	codec_writer_init_dynamic(&w, MLS_LABELED_MAX);
	codec_write_vec(&w, (const uint8_t *)label, strlen(label));
	codec_write_vec(&w, value, value_len);
	GUARD_GOTO(rc, codec_writer_error(&w), out);
	rc = crypto_hash(s->hash, w.buf, w.len, out);
out:
	codec_writer_free(&w);
	return rc;
}

int mls_make_key_package_ref(const struct mls_suite *s, const uint8_t *kp,
			     size_t kp_len, uint8_t *out)
{
	return mls_ref_hash(s, "MLS 1.0 KeyPackage Reference", kp, kp_len,
			    out);
}

int mls_make_proposal_ref(const struct mls_suite *s, const uint8_t *prop,
			  size_t prop_len, uint8_t *out)
{
	return mls_ref_hash(s, "MLS 1.0 Proposal Reference", prop, prop_len,
			    out);
}

/* ---- SignWithLabel / VerifyWithLabel (§5.1.2) ---------------------------- */

/* SignContent and EncryptContext share a shape: label<V>, then data<V>. */
static int labeled_pair(struct codec_writer *w, const char *label,
			const uint8_t *data, size_t data_len)
{
	if (!label)
		return EPOCH_ERR_INVALID_ARG;
	codec_writer_init_dynamic(w, MLS_LABELED_MAX);
	mls_write_label(w, (const uint8_t *)label, strlen(label));
	codec_write_vec(w, data, data_len);
	return codec_writer_error(w);
}

int mls_sign_with_label(const struct mls_suite *s, const uint8_t *sk,
			size_t sk_len, const char *label,
			const uint8_t *content, size_t content_len,
			uint8_t *sig, size_t sig_cap, size_t *sig_len)
{
	struct codec_writer w = { 0 };
	int rc;

	if (!s || !sig_len)
		return EPOCH_ERR_INVALID_ARG;
	if (s->sig_scheme != MLS_SIG_ED25519)
		return EPOCH_ERR_UNSUPPORTED;
	if (sk_len != 32 && sk_len != 64)
		return EPOCH_ERR_INVALID_KEY;
	if (sig_cap < MLS_ED25519_SIG_LEN)
		return EPOCH_ERR_NO_SPACE;
	GUARD_GOTO(rc, labeled_pair(&w, label, content, content_len), out);
	if (sk_len == 64)
		rc = crypto_ed25519_sign_pk(sk, sk + 32, w.buf, w.len, sig);
	else
		rc = crypto_ed25519_sign(sk, w.buf, w.len, sig);
	if (rc != EPOCH_OK)
		goto out;
	*sig_len = MLS_ED25519_SIG_LEN;
out:
	codec_writer_free(&w);
	return rc;
}

int mls_verify_with_label(const struct mls_suite *s, const uint8_t *pk,
			  size_t pk_len, const char *label,
			  const uint8_t *content, size_t content_len,
			  const uint8_t *sig, size_t sig_len)
{
	struct codec_writer w = { 0 };
	int rc;

	if (!s)
		return EPOCH_ERR_INVALID_ARG;
	if (s->sig_scheme != MLS_SIG_ED25519)
		return EPOCH_ERR_UNSUPPORTED;
	if (pk_len != 32)
		return EPOCH_ERR_INVALID_KEY;
	if (sig_len != MLS_ED25519_SIG_LEN)
		return EPOCH_ERR_SIGNATURE;
	GUARD_GOTO(rc, labeled_pair(&w, label, content, content_len), out);
	rc = crypto_ed25519_verify(pk, w.buf, w.len, sig);
out:
	codec_writer_free(&w);
	return rc;
}

/* ---- EncryptWithLabel / DecryptWithLabel (§5.1.3) ------------------------ */

int mls_encrypt_with_label(const struct mls_suite *s,
			   const struct crypto_rng *rng, const uint8_t *pk,
			   size_t pk_len, const char *label,
			   const uint8_t *ctx, size_t ctx_len,
			   const uint8_t *pt, size_t pt_len, uint8_t *kem_out,
			   size_t kem_cap, size_t *kem_len, uint8_t *ct,
			   size_t ct_cap, size_t *ct_len)
{
	struct codec_writer w = { 0 };
	int rc;

	if (!s)
		return EPOCH_ERR_INVALID_ARG;
	GUARD_GOTO(rc, labeled_pair(&w, label, ctx, ctx_len), out);
	rc = hpke_seal(&s->hpke, rng, pk, pk_len, w.buf, w.len, NULL, 0, pt,
		       pt_len, kem_out, kem_cap, kem_len, ct, ct_cap, ct_len);
out:
	codec_writer_free(&w);
	return rc;
}

int mls_decrypt_with_label(const struct mls_suite *s, const uint8_t *sk,
			   size_t sk_len, const char *label,
			   const uint8_t *ctx, size_t ctx_len,
			   const uint8_t *kem_out, size_t kem_len,
			   const uint8_t *ct, size_t ct_len, uint8_t *pt,
			   size_t pt_cap, size_t *pt_len)
{
	struct codec_writer w = { 0 };
	int rc;

	if (!s)
		return EPOCH_ERR_INVALID_ARG;
	GUARD_GOTO(rc, labeled_pair(&w, label, ctx, ctx_len), out);
	rc = hpke_open(&s->hpke, sk, sk_len, kem_out, kem_len, w.buf, w.len,
		       NULL, 0, ct, ct_len, pt, pt_cap, pt_len);
out:
	codec_writer_free(&w);
	return rc;
}
