/* proto/mls (first slice): what the mlswg vectors (tests/mls/, run by
 * tests/mls-vectors.sh) do not reach: the suite table, the post-quantum
 * suite (no public vectors), labeled crypto against a hand-built KDFLabel,
 * tree math for sizes that are not powers of two, PSK encodings, and the
 * secret tree's refusals. */
#include <string.h>

#include "proto/codec.h"
#include "proto/mls.h"
#include "tests/lib/test.h"

static const struct mls_suite *pq(void)
{
	return mls_suite_get(MLS_SUITE_XWING_AES256GCM_SHA512_ED25519);
}

static void test_suites(void)
{
	const struct mls_suite *s1 = mls_suite_get(1), *s3 = mls_suite_get(3);
	const struct mls_suite *p = pq();

	if (!CHECK(s1 && s3 && p))
		return;
	CHECK(s1->nh == 32 && s1->nk == 16 && s1->nn == 12);
	CHECK(s1->hpke.kem_id == HPKE_KEM_X25519_SHA256 &&
	      s1->hpke.aead_id == HPKE_AEAD_AES128GCM);
	CHECK(s3->nk == 32 && s3->hpke.aead_id == HPKE_AEAD_CHACHA20POLY1305);
	CHECK(p->id == 0xF00D && p->nh == 64 && p->nk == 32 &&
	      p->hash == CRYPTO_SHA512 && p->hpke.kem_id == HPKE_KEM_XWING &&
	      p->hpke.kdf_id == HPKE_KDF_HKDF_SHA512 &&
	      p->hpke.aead_id == HPKE_AEAD_AES256GCM);
	/* ts-mls 1.6's number names the same parameters. */
	const struct mls_suite *alias = mls_suite_get(0x0053);
	if (CHECK(alias != NULL))
		CHECK(alias->id == 0x0053 && alias->hash == p->hash &&
		      alias->aead == p->aead && alias->nh == p->nh &&
		      alias->hpke.kem_id == p->hpke.kem_id &&
		      alias->hpke.kdf_id == p->hpke.kdf_id &&
		      alias->hpke.aead_id == p->hpke.aead_id &&
		      alias->sig_scheme == p->sig_scheme);
	CHECK(mls_suite_get(0x0002) == NULL);
	/* Each entry's HPKE suite is one HPKE implements, with matching
	 * lengths. */
	const struct mls_suite *all[] = { s1, s3, p };
	for (size_t i = 0; i < 3; i++) {
		struct hpke_lens l;
		if (CHECK_OK(hpke_suite_lens(&all[i]->hpke, &l)))
			CHECK(l.nh == all[i]->nh && l.nk == all[i]->nk &&
			      l.nn == all[i]->nn);
		CHECK(crypto_hash_len(all[i]->hash) == all[i]->nh);
		CHECK(crypto_aead_key_len(all[i]->aead) == all[i]->nk);
	}
	CHECK(mls_suite_get(0) == NULL);
	CHECK(mls_suite_get(2) == NULL);
	CHECK(mls_suite_get(0xffff) == NULL);
}

/* ExpandWithLabel against the KDFLabel written out by hand (§8). */
static void test_expand_by_hand(void)
{
	const struct mls_suite *s = mls_suite_get(1);
	uint8_t secret[32], got[40], want[40];
	static const uint8_t info[] = {
		0x00, 0x28, 14, 'M', 'L', 'S', ' ', '1', '.', '0', ' ',
		'j', 'o', 'i', 'n', 'e', 'r', 2, 'a', 'b',
	};

	memset(secret, 0x5a, sizeof(secret));
	CHECK_OK(crypto_hkdf_expand(CRYPTO_SHA256, secret, 32, info,
				    sizeof(info), want, 40));
	CHECK_OK(mls_expand_with_label(s, secret, 32, "joiner",
				       (const uint8_t *)"ab", 2, got, 40));
	CHECK_MEM(got, want, 40);
	CHECK_RC(mls_expand_with_label(s, secret, 32, "x", NULL, 0, got,
				       70000),
		 EPOCH_ERR_INVALID_ARG);
	CHECK_RC(mls_expand_with_label(NULL, secret, 32, "x", NULL, 0, got,
				       1),
		 EPOCH_ERR_INVALID_ARG);
}

static void test_tree_math(void)
{
	/* n = 5: nodes 0..8, the rightmost subtree is a single leaf. */
	CHECK_EQ_U64(mls_tree_width(5), 9);
	CHECK_EQ_U64(mls_tree_root(5), 7);
	CHECK_EQ_U64(mls_tree_right(7, 5), 8);
	CHECK_EQ_U64(mls_tree_parent(8, 5), 7);
	CHECK_EQ_U64(mls_tree_sibling(8, 5), 3);
	CHECK_EQ_U64(mls_tree_sibling(3, 5), 8);
	/* Refusals. */
	CHECK_EQ_U64(mls_tree_left(4), MLS_NODE_NONE);
	CHECK_EQ_U64(mls_tree_right(4, 8), MLS_NODE_NONE);
	CHECK_EQ_U64(mls_tree_parent(7, 8), MLS_NODE_NONE);
	CHECK_EQ_U64(mls_tree_sibling(7, 8), MLS_NODE_NONE);
	CHECK_EQ_U64(mls_tree_parent(15, 8), MLS_NODE_NONE);
	CHECK_EQ_U64(mls_tree_root(0), MLS_NODE_NONE);
	CHECK_EQ_U64(mls_tree_root(1), 0);
	/* Direct path of leaf 2 (node 4) in 4 leaves: 5, 3; copath 6, 1. */
	uint32_t p[32];
	size_t n = 0;
	if (CHECK_OK(mls_tree_direct_path(4, 4, p, 32, &n)) && CHECK(n == 2))
		CHECK(p[0] == 5 && p[1] == 3);
	if (CHECK_OK(mls_tree_copath(4, 4, p, 32, &n)) && CHECK(n == 2))
		CHECK(p[0] == 6 && p[1] == 1);
	CHECK_OK(mls_tree_direct_path(0, 1, p, 32, &n));
	CHECK(n == 0);
	CHECK_RC(mls_tree_direct_path(4, 4, p, 1, &n), EPOCH_ERR_NO_SPACE);
	CHECK_RC(mls_tree_direct_path(7, 4, p, 32, &n), EPOCH_ERR_INVALID_ARG);
}

static void test_sign_encrypt(void)
{
	const struct mls_suite *suites[] = { mls_suite_get(1), pq() };
	struct test_rng trng;
	uint8_t sk[32], pk[32], sig[64], enc[HPKE_MAX_ENC], ct[64], pt[64];
	size_t sig_len = 0, enc_len = 0, ct_len = 0, pt_len = 0;
	struct hpke_keypair kp;

	test_rng_init(&trng, "test_mls sign_encrypt");
	for (size_t i = 0; i < 2; i++) {
		const struct mls_suite *s = suites[i];
		CHECK_OK(crypto_ed25519_keygen(&trng.rng, sk, pk));
		CHECK_OK(mls_sign_with_label(s, sk, 32, "LeafNodeTBS",
					     (const uint8_t *)"abc", 3, sig,
					     sizeof(sig), &sig_len));
		CHECK_OK(mls_verify_with_label(s, pk, 32, "LeafNodeTBS",
					       (const uint8_t *)"abc", 3, sig,
					       sig_len));
		sig[5] ^= 1;
		CHECK_RC(mls_verify_with_label(s, pk, 32, "LeafNodeTBS",
					       (const uint8_t *)"abc", 3, sig,
					       sig_len),
			 EPOCH_ERR_SIGNATURE);
		CHECK_RC(mls_verify_with_label(s, pk, 32, "LeafNodeTBS",
					       (const uint8_t *)"abc", 3, sig,
					       63),
			 EPOCH_ERR_SIGNATURE);
		CHECK_RC(mls_sign_with_label(s, sk, 32, "x", NULL, 0, sig, 63,
					     &sig_len),
			 EPOCH_ERR_NO_SPACE);

		if (!CHECK_OK(hpke_generate_keypair(s->hpke.kem_id, &trng.rng,
						    &kp)))
			continue;
		if (CHECK_OK(mls_encrypt_with_label(
			    s, &trng.rng, kp.pk, kp.pk_len, "UpdatePathNode",
			    (const uint8_t *)"ctx", 3, (const uint8_t *)"hi",
			    2, enc, sizeof(enc), &enc_len, ct, sizeof(ct),
			    &ct_len))) {
			if (CHECK_OK(mls_decrypt_with_label(
				    s, kp.sk, kp.sk_len, "UpdatePathNode",
				    (const uint8_t *)"ctx", 3, enc, enc_len,
				    ct, ct_len, pt, sizeof(pt), &pt_len)))
				CHECK(pt_len == 2 && memcmp(pt, "hi", 2) == 0);
			CHECK_RC(mls_decrypt_with_label(
					 s, kp.sk, kp.sk_len, "UpdatePathNode",
					 (const uint8_t *)"ctX", 3, enc,
					 enc_len, ct, ct_len, pt, sizeof(pt),
					 &pt_len),
				 EPOCH_ERR_AUTH);
		}
		hpke_keypair_wipe(&kp);
	}
	crypto_wipe(sk, sizeof(sk));
	crypto_xof_wipe(&trng.xof);
}

/* The PQ suite through the key schedule: 64-byte secrets, X-Wing
 * external key pair, and joiners agreeing with members. */
static void test_pq_schedule(void)
{
	const struct mls_suite *s = pq();
	uint8_t init[64], commit[64], gcb[256], out[48];
	struct mls_epoch_secrets a, b;
	struct hpke_keypair kp;
	struct codec_writer w;
	struct mls_group_context gc = {
		.cipher_suite = s->id,
		.group_id = (const uint8_t *)"g",
		.group_id_len = 1,
		.epoch = 1,
	};

	memset(init, 1, sizeof(init));
	memset(commit, 2, sizeof(commit));
	codec_writer_init(&w, gcb, sizeof(gcb));
	if (!CHECK_OK(mls_group_context_encode(&w, &gc)))
		return;
	CHECK(w.len == 2 + 2 + 2 + 8 + 1 + 1 + 1);
	if (!CHECK_OK(mls_key_schedule(s, init, commit, NULL, w.buf, w.len,
				       &a)))
		return;
	CHECK(a.nh == 64);
	CHECK_OK(mls_key_schedule_from_joiner(s, a.joiner_secret, NULL, w.buf,
					      w.len, &b));
	CHECK_MEM(b.epoch_authenticator, a.epoch_authenticator, 64);
	CHECK_MEM(b.init_secret, a.init_secret, 64);
	CHECK(memcmp(a.init_secret, a.exporter_secret, 64) != 0);
	if (CHECK_OK(mls_external_keypair(s, a.external_secret, &kp)))
		CHECK(kp.kem_id == HPKE_KEM_XWING && kp.pk_len == 1216);
	hpke_keypair_wipe(&kp);
	CHECK_OK(mls_exporter(s, a.exporter_secret, (const uint8_t *)"IPsec",
			      5, NULL, 0, out, sizeof(out)));
	mls_epoch_secrets_wipe(&a);
	mls_epoch_secrets_wipe(&b);
	for (size_t i = 0; i < sizeof(a); i++)
		if (!CHECK(((uint8_t *)&a)[i] == 0))
			break;
}

static void test_psk(void)
{
	const struct mls_suite *s = mls_suite_get(1);
	uint8_t out[32], zero[32] = { 0 }, buf[64];
	struct codec_writer w;
	struct mls_psk r = {
		.psk_type = MLS_PSK_TYPE_RESUMPTION,
		.usage = MLS_RESUMPTION_USAGE_APPLICATION,
		.group_id = (const uint8_t *)"G",
		.group_id_len = 1,
		.epoch = 0x0102,
		.psk_nonce = (const uint8_t *)"nn",
		.psk_nonce_len = 2,
	};
	static const uint8_t want[] = { 2, 1, 1, 'G', 0, 0, 0, 0, 0, 0, 1, 2,
					2, 'n', 'n' };

	CHECK_OK(mls_psk_secret(s, NULL, 0, out));
	CHECK_MEM(out, zero, 32);
	codec_writer_init(&w, buf, sizeof(buf));
	if (CHECK_OK(mls_psk_id_encode(&w, &r)) && CHECK(w.len == sizeof(want)))
		CHECK_MEM(buf, want, sizeof(want));
	r.psk_type = 3;
	codec_writer_init(&w, buf, sizeof(buf));
	CHECK_RC(mls_psk_id_encode(&w, &r), EPOCH_ERR_INVALID_ARG);
}

static void test_secret_tree(void)
{
	const struct mls_suite *s = pq();
	uint8_t enc[64];
	struct mls_secret_tree *t = NULL;
	struct mls_ratchet_key a, b;

	memset(enc, 7, sizeof(enc));
	CHECK_RC(mls_secret_tree_new(&t, s, enc, 0), EPOCH_ERR_INVALID_ARG);
	if (!CHECK_OK(mls_secret_tree_new(&t, s, enc, 2)))
		return;
	if (CHECK_OK(mls_secret_tree_key(t, 1, MLS_RATCHET_APPLICATION, 3,
					 &a)))
		CHECK(a.key_len == 32 && a.nonce_len == 12 &&
		      a.generation == 3);
	CHECK_RC(mls_secret_tree_key(t, 1, MLS_RATCHET_APPLICATION, 3, &b),
		 EPOCH_ERR_GENERATION);
	/* Skipped generation 2 is kept for a late message, once. */
	CHECK_OK(mls_secret_tree_key(t, 1, MLS_RATCHET_APPLICATION, 2, &b));
	CHECK_RC(mls_secret_tree_key(t, 1, MLS_RATCHET_APPLICATION, 2, &b),
		 EPOCH_ERR_GENERATION);
	CHECK_RC(mls_secret_tree_key(t, 1, MLS_RATCHET_APPLICATION,
				     4 + MLS_MAX_GENERATION_JUMP + 1, &b),
		 EPOCH_ERR_GENERATION);
	CHECK_RC(mls_secret_tree_key(t, 2, MLS_RATCHET_HANDSHAKE, 0, &b),
		 EPOCH_ERR_INVALID_ARG);
	/* Handshake and application ratchets and the two leaves differ. */
	if (CHECK_OK(mls_secret_tree_key(t, 1, MLS_RATCHET_HANDSHAKE, 3, &b)))
		CHECK(memcmp(a.key, b.key, 32) != 0);
	if (CHECK_OK(mls_secret_tree_key(t, 0, MLS_RATCHET_APPLICATION, 3,
					 &b)))
		CHECK(memcmp(a.key, b.key, 32) != 0);
	/* The next generation after a jump still works. */
	CHECK_OK(mls_secret_tree_key(t, 1, MLS_RATCHET_APPLICATION, 4, &b));
	crypto_wipe(&a, sizeof(a));
	crypto_wipe(&b, sizeof(b));
	mls_secret_tree_free(t);
}

/* A peek leaves no trace, not even the splitting of tree nodes, and
 * gives what consuming gives, for leaves not started yet in trees of
 * several shapes. */
static void test_secret_tree_peek(void)
{
	const struct mls_suite *s = mls_suite_get(1);
	uint8_t root[32];
	static const uint32_t sizes[] = { 1, 2, 3, 5, 8 };

	for (size_t i = 0; i < 32; i++)
		root[i] = (uint8_t)(7 * i + 1);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint32_t n = sizes[k];

		for (uint32_t leaf = 0; leaf < n; leaf++) {
			for (int type = 0; type < 2; type++) {
				struct mls_secret_tree *a = NULL, *b = NULL;
				struct mls_ratchet_key pk, ck;
				struct codec_writer w1, w2;

				codec_writer_init_dynamic(&w1, 1 << 16);
				codec_writer_init_dynamic(&w2, 1 << 16);
				if (CHECK_OK(mls_secret_tree_new(&a, s, root,
								 n)) &&
				    CHECK_OK(mls_secret_tree_new(&b, s, root,
								 n)) &&
				    /* start another leaf first: a split tree */
				    (n == 1 ||
				     CHECK_OK(mls_secret_tree_consume(
					     a, (leaf + 1) % n,
					     MLS_RATCHET_HANDSHAKE, 0))) &&
				    CHECK_OK(mls_secret_tree_save(a, &w1)) &&
				    CHECK_OK(mls_secret_tree_peek(
					    a, leaf, type, 3, &pk)) &&
				    CHECK_OK(mls_secret_tree_save(a, &w2)) &&
				    CHECK_OK(mls_secret_tree_key(b, leaf, type,
								 3, &ck))) {
					CHECK(w1.len == w2.len &&
					      CHECK_MEM(w1.buf, w2.buf,
							w1.len));
					CHECK(pk.generation == 3 &&
					      CHECK_MEM(pk.key, ck.key, 16) &&
					      CHECK_MEM(pk.nonce, ck.nonce, 12));
				}
				codec_writer_free(&w1);
				codec_writer_free(&w2);
				mls_secret_tree_free(a);
				mls_secret_tree_free(b);
			}
		}
	}
}

int main(int argc, char **argv)
{
	(void)argc;
	test_run("suites", test_suites);
	test_run("expand_by_hand", test_expand_by_hand);
	test_run("tree_math", test_tree_math);
	test_run("sign_encrypt", test_sign_encrypt);
	test_run("pq_schedule", test_pq_schedule);
	test_run("psk", test_psk);
	test_run("secret_tree", test_secret_tree);
	test_run("secret_tree_peek", test_secret_tree_peek);
	return test_main_end(argv[0]);
}
