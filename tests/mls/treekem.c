/* treekem.json: UpdatePath processing and creation (RFC 9420 §7.4-7.6,
 * §12.4.1-12.4.2). Every non-blank leaf processes every vector path
 * (commit secret, its path secret, tree hash after), then each sender
 * makes a fresh path that every other leaf must process to the same
 * commit secret and tree hash. */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "tests/mls/vectors.h"

static bool below(uint32_t x, uint32_t leaf)
{
	uint32_t half = (1u << mls_tree_level(x)) - 1;

	return 2 * leaf + half >= x && 2 * leaf <= x + half;
}

/* leaf_private[index]: the tree with that leaf's private keys. */
static struct mls_tree *private_state(const struct mls_suite *s,
				      const struct mls_tree *t0,
				      const struct json *lp,
				      struct test_bytes *sig)
{
	const struct json *pss = json_get(lp, "path_secrets");
	struct test_bytes enc = { 0 };
	struct hpke_keypair kp;
	struct mls_tree *t = NULL;
	uint8_t ns[MLS_MAX_NH];
	uint64_t idx;

	if (!CHECK(json_get_u64(lp, "index", &idx) == 0) ||
	    vhex(lp, "encryption_priv", &enc) ||
	    vhex(lp, "signature_priv", sig) || !CHECK(enc.len == 32) ||
	    !CHECK(pss && pss->type == JSON_ARRAY) ||
	    !CHECK_OK(mls_tree_clone(t0, &t)))
		goto fail;
	memset(&kp, 0, sizeof(kp));
	kp.kem_id = s->hpke.kem_id;
	kp.sk_len = kp.pk_len = 32;
	memcpy(kp.sk, enc.p, 32);
	if (!CHECK(s->hpke.kem_id == HPKE_KEM_X25519_SHA256) ||
	    !CHECK_OK(crypto_x25519_public(kp.sk, kp.pk)) ||
	    !CHECK_OK(mls_tree_set_private(t, 2 * (uint32_t)idx, &kp)))
		goto fail;
	for (size_t k = 0; k < pss->n; k++) {
		struct test_bytes ps = { 0 };
		uint64_t node;
		bool ok = CHECK(json_get_u64(pss->items[k], "node", &node) ==
				0) &&
			  !vhex(pss->items[k], "path_secret", &ps) &&
			  CHECK(ps.len == s->nh) &&
			  CHECK_OK(mls_derive_secret(s, ps.p, s->nh, "node",
						     ns)) &&
			  CHECK_OK(mls_derive_keypair(s, ns, s->nh, &kp)) &&
			  CHECK_OK(mls_tree_set_private(t, (uint32_t)node,
							&kp));

		test_bytes_free(&ps);
		if (!ok)
			goto fail;
	}
	hpke_keypair_wipe(&kp);
	test_bytes_free(&enc);
	return t;
fail:
	hpke_keypair_wipe(&kp);
	test_bytes_free(&enc);
	mls_tree_free(t);
	return NULL;
}

struct tk {
	const struct mls_suite *s;
	struct mls_tree *t0;
	struct mls_tree *priv[MLS_TREE_MAX_LEAVES];
	struct test_bytes sig[MLS_TREE_MAX_LEAVES];
	struct test_bytes gid, cth;
	uint64_t epoch;
	uint8_t th[MLS_MAX_NH];
};

static void gc_init(struct tk *k, struct mls_group_context *gc)
{
	memset(gc, 0, sizeof(*gc));
	gc->cipher_suite = k->s->id;
	gc->group_id = k->gid.p;
	gc->group_id_len = k->gid.len;
	gc->epoch = k->epoch;
	gc->tree_hash = k->th;
	gc->tree_hash_len = k->s->nh;
	gc->confirmed_transcript_hash = k->cth.p;
	gc->confirmed_transcript_hash_len = k->cth.len;
}

/* Leaf j processes path (from i): commit secret, optional path secret,
 * tree hash after. */
static void process(struct tk *k, uint32_t j, uint32_t i,
		    const struct mls_update_path *path, const uint8_t *want_cs,
		    const uint8_t *want_ps, const uint8_t *want_th)
{
	const struct mls_suite *s = k->s;
	struct mls_group_context gc;
	struct mls_tree *t = NULL;
	uint8_t cs[MLS_MAX_NH], h[MLS_MAX_NH];
	uint32_t fdp[32];
	size_t n;

	if (!CHECK(k->priv[j] != NULL) ||
	    !CHECK_OK(mls_tree_clone(k->priv[j], &t)))
		return;
	gc_init(k, &gc);
	if (!CHECK_OK(mls_treekem_decap(t, j, i, path, &gc, NULL, 0, cs)))
		goto out;
	CHECK_MEM(cs, want_cs, s->nh);
	if (CHECK_OK(mls_tree_root_hash(t, h))) {
		CHECK_MEM(h, want_th, s->nh);
		CHECK_MEM(gc.tree_hash, h, s->nh);
	}
	if (want_ps &&
	    CHECK_OK(mls_tree_filtered_direct_path(k->t0, i, fdp, 32, &n))) {
		size_t m;

		for (m = 0; m < n && !below(fdp[m], j); m++)
			;
		/* The path secret of the common ancestor gives the keys
		 * that the path put there. */
		if (CHECK(m < n))
			CHECK_OK(mls_tree_install_path_secret(t, j, fdp[m],
							      want_ps));
	}
out:
	mls_tree_free(t);
}

static void one_path(struct tk *k, const struct json *u)
{
	const struct mls_suite *s = k->s;
	const struct json *pss = json_get(u, "path_secrets");
	struct test_bytes upb = { 0 }, cs = { 0 }, tha = { 0 };
	struct mls_update_path *up = calloc(1, sizeof(*up));
	uint64_t sender;
	uint32_t i, nl = mls_tree_n_leaves(k->t0);

	if (!CHECK(up != NULL) ||
	    !CHECK(json_get_u64(u, "sender", &sender) == 0) ||
	    !CHECK(sender < nl) || vhex(u, "update_path", &upb) ||
	    vhex(u, "commit_secret", &cs) || vhex(u, "tree_hash_after", &tha) ||
	    !CHECK(cs.len == s->nh && tha.len == s->nh) ||
	    !CHECK(pss && pss->type == JSON_ARRAY && pss->n == nl) ||
	    !CHECK_OK(mls_update_path_decode_all(upb.p, upb.len, up)))
		goto out;
	i = (uint32_t)sender;
	for (uint32_t j = 0; j < nl; j++) {
		struct test_bytes ps = { 0 };
		const char *hx = json_str(pss->items[j]);

		if (j == i || !mls_tree_leaf(k->t0, j))
			continue;
		if (!CHECK(hx && test_hex(hx, &ps) == 0 && ps.len == s->nh))
			continue;
		process(k, j, i, up, cs.p, ps.p, tha.p);
		test_bytes_free(&ps);
	}
out:
	free(up);
	test_bytes_free(&upb);
	test_bytes_free(&cs);
	test_bytes_free(&tha);
}

/* Sender i makes a fresh path; everyone else processes it. */
static void fresh_path(struct tk *k, uint32_t i)
{
	const struct mls_suite *s = k->s;
	struct mls_update_path *up = calloc(1, sizeof(*up));
	struct mls_treekem_out *o = calloc(1, sizeof(*o));
	struct mls_group_context gc;
	struct mls_tree *t = NULL;
	struct codec_writer w;
	uint8_t h[MLS_MAX_NH];

	codec_writer_init_dynamic(&w, 1 << 22);
	gc_init(k, &gc);
	if (!CHECK(up && o) || !CHECK(k->priv[i] != NULL) ||
	    !CHECK_OK(mls_tree_clone(k->priv[i], &t)) ||
	    !CHECK_OK(mls_treekem_encap(t, i, NULL, NULL,
					mls_tree_leaf(k->t0, i),
					k->sig[i].p, k->sig[i].len, &gc, NULL,
					0, &w, o)) ||
	    !CHECK_OK(mls_update_path_decode_all(w.buf, w.len, up)) ||
	    !CHECK_OK(mls_tree_root_hash(t, h)))
		goto out;
	CHECK_MEM(gc.tree_hash, h, s->nh);
	CHECK_OK(mls_tree_verify_parent_hashes(t));
	CHECK_OK(mls_tree_validate(t, k->gid.p, k->gid.len));
	for (uint32_t j = 0; j < mls_tree_n_leaves(k->t0); j++)
		if (j != i && mls_tree_leaf(k->t0, j))
			process(k, j, i, up, o->commit_secret, NULL, h);
out:
	codec_writer_free(&w);
	mls_tree_free(t);
	free(up);
	free(o);
}

static void tk_case(const struct mls_suite *s, const struct json *c)
{
	const struct json *lps = json_get(c, "leaves_private");
	const struct json *ups = json_get(c, "update_paths");
	struct test_bytes tree = { 0 };
	struct tk *k = calloc(1, sizeof(*k));

	if (!CHECK(k != NULL))
		return;
	k->s = s;
	if (vhex(c, "ratchet_tree", &tree) || vhex(c, "group_id", &k->gid) ||
	    vhex(c, "confirmed_transcript_hash", &k->cth) ||
	    !CHECK(json_get_u64(c, "epoch", &k->epoch) == 0) ||
	    !CHECK(lps && lps->type == JSON_ARRAY) ||
	    !CHECK(ups && ups->type == JSON_ARRAY) ||
	    !CHECK_OK(mls_tree_decode(&k->t0, s, tree.p, tree.len)))
		goto out;
	for (size_t n = 0; n < lps->n; n++) {
		uint64_t idx;
		struct test_bytes sig = { 0 };
		struct mls_tree *t;

		if (!CHECK(json_get_u64(lps->items[n], "index", &idx) == 0) ||
		    !CHECK(idx < mls_tree_n_leaves(k->t0)) ||
		    !CHECK(k->priv[idx] == NULL))
			goto out;
		t = private_state(s, k->t0, lps->items[n], &sig);
		if (!t) {
			test_bytes_free(&sig);
			goto out;
		}
		k->priv[idx] = t;
		k->sig[idx] = sig;
	}
	for (size_t n = 0; n < ups->n; n++)
		one_path(k, ups->items[n]);
	for (uint32_t i = 0; i < mls_tree_n_leaves(k->t0); i++)
		if (mls_tree_leaf(k->t0, i))
			fresh_path(k, i);
out:
	for (uint32_t i = 0; i < MLS_TREE_MAX_LEAVES; i++) {
		mls_tree_free(k->priv[i]);
		test_bytes_free(&k->sig[i]);
	}
	mls_tree_free(k->t0);
	test_bytes_free(&k->gid);
	test_bytes_free(&k->cth);
	test_bytes_free(&tree);
	free(k);
}

void run_treekem(const struct json *doc, const char *file)
{
	vrun_suite_cases(doc, file, tk_case);
}
