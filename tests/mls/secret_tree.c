/* secret-tree.json: sender-data keys (RFC 9420 §6.3.2) and the secret
 * tree's ratchets (§9). */
#include "tests/mls/vectors.h"

static void sender_data(const struct mls_suite *s, const struct json *o)
{
	struct test_bytes sec = { 0 }, ct = { 0 }, key = { 0 }, nonce = { 0 };
	uint8_t k[MLS_MAX_NK], n[MLS_MAX_NN];

	if (CHECK(o != NULL) && !vhex(o, "sender_data_secret", &sec) &&
	    !vhex(o, "ciphertext", &ct) && !vhex(o, "key", &key) &&
	    !vhex(o, "nonce", &nonce) && CHECK(sec.len == s->nh) &&
	    CHECK(key.len == s->nk && nonce.len == s->nn) &&
	    CHECK_OK(mls_sender_data_key_nonce(s, sec.p, ct.p, ct.len, k, n))) {
		CHECK_MEM(k, key.p, key.len);
		CHECK_MEM(n, nonce.p, nonce.len);
	}
	test_bytes_free(&sec);
	test_bytes_free(&ct);
	test_bytes_free(&key);
	test_bytes_free(&nonce);
}

static void one_gen(struct mls_secret_tree *t, const struct mls_suite *s,
		    uint32_t leaf, const struct json *g)
{
	static const struct {
		enum mls_ratchet_type type;
		const char *key, *nonce;
	} kinds[] = {
		{ MLS_RATCHET_HANDSHAKE, "handshake_key", "handshake_nonce" },
		{ MLS_RATCHET_APPLICATION, "application_key",
		  "application_nonce" },
	};
	uint64_t gen;

	if (!CHECK(json_get_u64(g, "generation", &gen) == 0 &&
		   gen <= UINT32_MAX))
		return;
	for (size_t k = 0; k < 2; k++) {
		struct test_bytes key = { 0 }, nonce = { 0 };
		struct mls_ratchet_key rk;

		if (!vhex(g, kinds[k].key, &key) &&
		    !vhex(g, kinds[k].nonce, &nonce) &&
		    CHECK(key.len == s->nk && nonce.len == s->nn) &&
		    CHECK_OK(mls_secret_tree_key(t, leaf, kinds[k].type,
						 (uint32_t)gen, &rk))) {
			if (!CHECK_MEM(rk.key, key.p, key.len) ||
			    !CHECK_MEM(rk.nonce, nonce.p, nonce.len))
				test_note("leaf %u %s generation %u", leaf,
					  kinds[k].key, (unsigned)gen);
			/* A consumed generation is gone. */
			CHECK_RC(mls_secret_tree_key(t, leaf, kinds[k].type,
						     (uint32_t)gen, &rk),
				 EPOCH_ERR_GENERATION);
			crypto_wipe(&rk, sizeof(rk));
		}
		test_bytes_free(&key);
		test_bytes_free(&nonce);
	}
}

void run_secret_tree(const struct json *doc, const char *file)
{
	for (size_t i = 0; i < doc->n; i++) {
		const struct json *c = doc->items[i];
		const struct mls_suite *s = vsuite(c, file, i);
		const struct json *leaves = json_get(c, "leaves");
		struct test_bytes enc = { 0 };
		struct mls_secret_tree *t = NULL;

		if (!s)
			continue;
		vcase_begin("%s[%zu] suite %u", file, i, s->id);
		sender_data(s, json_get(c, "sender_data"));
		if (CHECK(leaves && leaves->type == JSON_ARRAY &&
			  leaves->n > 0 && leaves->n <= UINT32_MAX) &&
		    !vhex(c, "encryption_secret", &enc) &&
		    CHECK(enc.len == s->nh) &&
		    CHECK_OK(mls_secret_tree_new(&t, s, enc.p,
						 (uint32_t)leaves->n))) {
			for (uint32_t l = 0; l < leaves->n; l++) {
				const struct json *gens = leaves->items[l];

				if (!CHECK(gens->type == JSON_ARRAY))
					continue;
				for (size_t g = 0; g < gens->n; g++)
					one_gen(t, s, l, gens->items[g]);
			}
			CHECK_RC(mls_secret_tree_key(t, (uint32_t)leaves->n,
						     MLS_RATCHET_HANDSHAKE, 0,
						     &(struct mls_ratchet_key){
							     0 }),
				 EPOCH_ERR_INVALID_ARG);
		}
		mls_secret_tree_free(t);
		test_bytes_free(&enc);
		vcase_end();
	}
}
