/* crypto-basics.json: labeled crypto (RFC 9420 §5.1-5.2, §8). */
#include <string.h>

#include "tests/mls/vectors.h"

static const char *label_of(const struct json *o)
{
	const char *l = json_get_str(o, "label");

	if (!l)
		test_fail(__FILE__, __LINE__, "label missing");
	return l;
}

static void ref_hash(const struct mls_suite *s, const struct json *o)
{
	struct test_bytes value, want;
	uint8_t out[MLS_MAX_NH];
	const char *label = label_of(o);

	if (label && !vhex(o, "value", &value) && !vhex(o, "out", &want) &&
	    CHECK(want.len == s->nh) &&
	    CHECK_OK(mls_ref_hash(s, label, value.p, value.len, out)))
		CHECK_MEM(out, want.p, want.len);
	test_bytes_free(&value);
	test_bytes_free(&want);
}

static void expand_with_label(const struct mls_suite *s, const struct json *o)
{
	struct test_bytes secret, ctx, want;
	uint8_t out[1024];
	uint64_t len;
	const char *label = label_of(o);

	if (label && !vhex(o, "secret", &secret) && !vhex(o, "context", &ctx) &&
	    !vhex(o, "out", &want) &&
	    CHECK(json_get_u64(o, "length", &len) == 0 && len == want.len &&
		  len <= sizeof(out)) &&
	    CHECK_OK(mls_expand_with_label(s, secret.p, secret.len, label,
					   ctx.p, ctx.len, out, len)))
		CHECK_MEM(out, want.p, want.len);
	test_bytes_free(&secret);
	test_bytes_free(&ctx);
	test_bytes_free(&want);
}

static void derive_secret(const struct mls_suite *s, const struct json *o)
{
	struct test_bytes secret, want;
	uint8_t out[MLS_MAX_NH];
	const char *label = label_of(o);

	if (label && !vhex(o, "secret", &secret) && !vhex(o, "out", &want) &&
	    CHECK(want.len == s->nh) &&
	    CHECK_OK(mls_derive_secret(s, secret.p, secret.len, label, out)))
		CHECK_MEM(out, want.p, want.len);
	test_bytes_free(&secret);
	test_bytes_free(&want);
}

static void derive_tree_secret(const struct mls_suite *s,
			       const struct json *o)
{
	struct test_bytes secret, want;
	uint8_t out[1024];
	uint64_t len, gen;
	const char *label = label_of(o);

	if (label && !vhex(o, "secret", &secret) && !vhex(o, "out", &want) &&
	    CHECK(json_get_u64(o, "length", &len) == 0 && len == want.len &&
		  len <= sizeof(out)) &&
	    CHECK(json_get_u64(o, "generation", &gen) == 0 &&
		  gen <= UINT32_MAX) &&
	    CHECK_OK(mls_derive_tree_secret(s, secret.p, secret.len, label,
					    (uint32_t)gen, out, len)))
		CHECK_MEM(out, want.p, want.len);
	test_bytes_free(&secret);
	test_bytes_free(&want);
}

static void sign_with_label(const struct mls_suite *s, const struct json *o)
{
	struct test_bytes priv, pub, content, sig;
	uint8_t out[MLS_ED25519_SIG_LEN];
	size_t out_len = 0;
	const char *label = label_of(o);

	if (label && !vhex(o, "priv", &priv) && !vhex(o, "pub", &pub) &&
	    !vhex(o, "content", &content) && !vhex(o, "signature", &sig)) {
		CHECK_OK(mls_verify_with_label(s, pub.p, pub.len, label,
					       content.p, content.len, sig.p,
					       sig.len));
		/* Ed25519 is deterministic: our signature must match. */
		if (CHECK_OK(mls_sign_with_label(s, priv.p, priv.len, label,
						 content.p, content.len, out,
						 sizeof(out), &out_len)) &&
		    CHECK(out_len == sig.len))
			CHECK_MEM(out, sig.p, sig.len);
		/* Another label must not verify. */
		CHECK_RC(mls_verify_with_label(s, pub.p, pub.len, "other",
					       content.p, content.len, sig.p,
					       sig.len),
			 EPOCH_ERR_SIGNATURE);
	}
	test_bytes_free(&priv);
	test_bytes_free(&pub);
	test_bytes_free(&content);
	test_bytes_free(&sig);
}

static void encrypt_with_label(const struct mls_suite *s,
			       const struct json *o)
{
	struct test_bytes priv, pub, ctx, pt, kem, ct;
	uint8_t out[1024], enc[HPKE_MAX_ENC], ct2[1024 + HPKE_TAG_LEN];
	size_t out_len = 0, enc_len = 0, ct2_len = 0;
	const char *label = label_of(o);

	if (label && !vhex(o, "priv", &priv) && !vhex(o, "pub", &pub) &&
	    !vhex(o, "context", &ctx) && !vhex(o, "plaintext", &pt) &&
	    !vhex(o, "kem_output", &kem) && !vhex(o, "ciphertext", &ct) &&
	    CHECK(pt.len <= sizeof(out))) {
		if (CHECK_OK(mls_decrypt_with_label(
			    s, priv.p, priv.len, label, ctx.p, ctx.len, kem.p,
			    kem.len, ct.p, ct.len, out, sizeof(out),
			    &out_len)) &&
		    CHECK(out_len == pt.len))
			CHECK_MEM(out, pt.p, pt.len);
		/* Our own encryption round-trips; another label fails. */
		if (CHECK_OK(mls_encrypt_with_label(
			    s, NULL, pub.p, pub.len, label, ctx.p, ctx.len,
			    pt.p, pt.len, enc, sizeof(enc), &enc_len, ct2,
			    sizeof(ct2), &ct2_len))) {
			if (CHECK_OK(mls_decrypt_with_label(
				    s, priv.p, priv.len, label, ctx.p,
				    ctx.len, enc, enc_len, ct2, ct2_len, out,
				    sizeof(out), &out_len)) &&
			    CHECK(out_len == pt.len))
				CHECK_MEM(out, pt.p, pt.len);
			CHECK_RC(mls_decrypt_with_label(
					 s, priv.p, priv.len, "other", ctx.p,
					 ctx.len, enc, enc_len, ct2, ct2_len,
					 out, sizeof(out), &out_len),
				 EPOCH_ERR_AUTH);
		}
	}
	test_bytes_free(&priv);
	test_bytes_free(&pub);
	test_bytes_free(&ctx);
	test_bytes_free(&pt);
	test_bytes_free(&kem);
	test_bytes_free(&ct);
}

void run_crypto_basics(const struct json *doc, const char *file)
{
	static const struct {
		const char *key;
		void (*fn)(const struct mls_suite *, const struct json *);
	} parts[] = {
		{ "ref_hash", ref_hash },
		{ "expand_with_label", expand_with_label },
		{ "derive_secret", derive_secret },
		{ "derive_tree_secret", derive_tree_secret },
		{ "sign_with_label", sign_with_label },
		{ "encrypt_with_label", encrypt_with_label },
	};

	for (size_t i = 0; i < doc->n; i++) {
		const struct json *c = doc->items[i];
		const struct mls_suite *s = vsuite(c, file, i);

		if (!s)
			continue;
		vcase_begin("%s[%zu] suite %u", file, i, s->id);
		for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++) {
			const struct json *o = json_get(c, parts[k].key);

			if (CHECK(o != NULL && o->type == JSON_OBJECT))
				parts[k].fn(s, o);
		}
		vcase_end();
	}
}
