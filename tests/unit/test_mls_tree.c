/* proto/mls_tree: what the mlswg vectors (tree-validation, tree-operations,
 * treekem) do not reach: the X-Wing suite (no public vectors), a two-member
 * TreeKEM round trip in both directions, and a negative test for each rule
 * the tree and TreeKEM code enforce. */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/mls.h"
#include "proto/xwing.h"
#include "tests/lib/test.h"

static const uint8_t gid[] = "tree test group";
#define GID_LEN (sizeof(gid) - 1)

/* A member: signature key, HPKE key and its encoded LeafNode (source
 * key_package). */
struct member {
	uint8_t sig_sk[32], sig_pk[32];
	struct hpke_keypair kp;
	uint8_t sig[MLS_ED25519_SIG_LEN];
	uint8_t enc[4096];
	size_t enc_len;
};

struct leaf_opts {
	uint16_t suite_cap;     /* 0: the tree's suite */
	uint16_t cred_cap;      /* 0: basic */
	const uint8_t *sig_sk;  /* reuse another member's signature key */
	const struct hpke_keypair *kp; /* reuse another member's HPKE key */
};

static int make_member(const struct mls_suite *s, struct test_rng *rng,
		       const char *name, const struct leaf_opts *o,
		       struct member *m)
{
	struct mls_leaf_node *l = calloc(1, sizeof(*l));
	uint8_t ikm[64];
	struct codec_writer w;
	int rc;

	if (!l)
		return EPOCH_ERR_NOMEM;
	memset(m, 0, sizeof(*m));
	if (o && o->sig_sk) {
		memcpy(m->sig_sk, o->sig_sk, 32);
		rc = crypto_ed25519_public(m->sig_sk, m->sig_pk);
	} else {
		rc = crypto_ed25519_keygen(&rng->rng, m->sig_sk, m->sig_pk);
	}
	if (rc)
		goto out;
	if (o && o->kp) {
		m->kp = *o->kp;
	} else {
		crypto_random(&rng->rng, ikm, s->nh);
		if ((rc = mls_derive_keypair(s, ikm, s->nh, &m->kp)))
			goto out;
	}
	l->encryption_key.p = m->kp.pk;
	l->encryption_key.len = m->kp.pk_len;
	l->signature_key.p = m->sig_pk;
	l->signature_key.len = 32;
	l->credential.type = MLS_CRED_BASIC;
	l->credential.identity.p = (const uint8_t *)name;
	l->credential.identity.len = strlen(name);
	l->capabilities.versions.n = 1;
	l->capabilities.versions.v[0] = MLS_PROTOCOL_VERSION_MLS10;
	l->capabilities.cipher_suites.n = 1;
	l->capabilities.cipher_suites.v[0] =
		o && o->suite_cap ? o->suite_cap : s->id;
	l->capabilities.credentials.n = 1;
	l->capabilities.credentials.v[0] =
		o && o->cred_cap ? o->cred_cap : MLS_CRED_BASIC;
	l->source = MLS_LEAF_SRC_KEY_PACKAGE;
	l->not_before = 0;
	l->not_after = UINT64_MAX;
	if ((rc = mls_leaf_node_sign(s, l, m->sig_sk, 32, NULL, 0, 0, m->sig,
				     sizeof(m->sig))))
		goto out;
	codec_writer_init(&w, m->enc, sizeof(m->enc));
	rc = mls_leaf_node_encode(&w, l);
	m->enc_len = w.len;
out:
	free(l);
	return rc;
}

/* A tree from members' leaves, in order. */
static struct mls_tree *tree_of(const struct mls_suite *s, struct member *m,
				size_t n)
{
	struct mls_tree *t = NULL;
	uint32_t idx;

	if (!CHECK_OK(mls_tree_new(&t, s)))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!CHECK_OK(mls_tree_add_leaf(t, m[i].enc, m[i].enc_len,
						&idx)) ||
		    !CHECK(idx == i)) {
			mls_tree_free(t);
			return NULL;
		}
	return t;
}

static void gc_init(struct mls_group_context *gc, const struct mls_suite *s,
		    uint8_t *th)
{
	memset(gc, 0, sizeof(*gc));
	gc->cipher_suite = s->id;
	gc->group_id = gid;
	gc->group_id_len = GID_LEN;
	gc->epoch = 1;
	gc->tree_hash = th;
	gc->tree_hash_len = s->nh;
}

/* ---- mls_derive_keypair -------------------------------------------------- */

static void test_derive_keypair(void)
{
	const struct mls_suite *pq = mls_suite_get(0xF00D);
	const struct mls_suite *s1 = mls_suite_get(1);
	uint8_t ikm[64], seed[32], sk[XWING_SK_LEN], pk[XWING_PK_LEN];
	struct hpke_keypair kp, kp2;

	if (!CHECK(pq && s1))
		return;
	for (size_t i = 0; i < sizeof(ikm); i++)
		ikm[i] = (uint8_t)i;
	/* X-Wing: seed = SHAKE256(ikm, 32), keys from the seed. */
	if (CHECK_OK(mls_derive_keypair(pq, ikm, 64, &kp)) &&
	    CHECK_OK(crypto_shake256(ikm, 64, seed, 32)) &&
	    CHECK_OK(xwing_keygen_derand(seed, sk, pk))) {
		CHECK(kp.kem_id == HPKE_KEM_XWING && kp.sk_len == 32 &&
		      kp.pk_len == XWING_PK_LEN);
		CHECK_MEM(kp.sk, sk, 32);
		CHECK_MEM(kp.pk, pk, XWING_PK_LEN);
	}
	/* Not hpke-pq's labeled derive. */
	if (CHECK_OK(hpke_derive_keypair(HPKE_KEM_XWING, ikm, 64, &kp2)))
		CHECK(memcmp(kp.sk, kp2.sk, 32) != 0);
	/* The external key pair uses the same derivation. */
	if (CHECK_OK(mls_external_keypair(pq, ikm, &kp2)))
		CHECK_MEM(kp2.pk, kp.pk, XWING_PK_LEN);
	/* DHKEM: RFC 9180 DeriveKeyPair. */
	if (CHECK_OK(mls_derive_keypair(s1, ikm, 32, &kp)) &&
	    CHECK_OK(hpke_derive_keypair(HPKE_KEM_X25519_SHA256, ikm, 32,
					 &kp2)))
		CHECK_MEM(kp.pk, kp2.pk, 32);
	hpke_keypair_wipe(&kp);
	hpke_keypair_wipe(&kp2);
}

/* ---- two-member TreeKEM round trip --------------------------------------- */

/* `from` (tree tf) commits with a fresh path; `to` (tree tt) processes it:
 * same commit secret, same tree hash, both trees valid. */
static void commit_once(const struct mls_suite *s, struct test_rng *rng,
			struct mls_tree *tf, struct mls_tree *tt,
			uint32_t from, uint32_t to, const struct member *mf)
{
	struct mls_update_path *up = calloc(1, sizeof(*up));
	struct mls_treekem_out *o = calloc(1, sizeof(*o));
	uint8_t th1[MLS_MAX_NH], th2[MLS_MAX_NH], h1[MLS_MAX_NH],
		h2[MLS_MAX_NH], cs[MLS_MAX_NH];
	struct mls_group_context g1, g2;
	struct codec_writer w;

	codec_writer_init_dynamic(&w, 1 << 20);
	gc_init(&g1, s, th1);
	gc_init(&g2, s, th2);
	if (!CHECK(up && o) ||
	    !CHECK_OK(mls_treekem_encap(tf, from, &rng->rng, NULL,
					mls_tree_leaf(tf, from), mf->sig_sk,
					32, &g1, NULL, 0, &w, o)) ||
	    !CHECK_OK(mls_update_path_decode_all(w.buf, w.len, up)) ||
	    !CHECK(up->n_nodes == 1 && up->nodes[0].n_secrets == 1) ||
	    !CHECK_OK(mls_treekem_decap(tt, to, from, up, &g2, NULL, 0, cs)))
		goto out;
	CHECK_MEM(cs, o->commit_secret, s->nh);
	CHECK_MEM(th1, th2, s->nh);
	if (CHECK_OK(mls_tree_root_hash(tf, h1)) &&
	    CHECK_OK(mls_tree_root_hash(tt, h2))) {
		CHECK_MEM(h1, h2, s->nh);
		CHECK_MEM(h1, th1, s->nh);
	}
	CHECK(mls_tree_has_private(tf, 1) && mls_tree_has_private(tt, 1));
	CHECK(mls_tree_has_private(tf, 2 * from));
	CHECK(!mls_tree_has_private(tt, 2 * from));
	CHECK_OK(mls_tree_validate(tf, gid, GID_LEN));
	CHECK_OK(mls_tree_validate(tt, gid, GID_LEN));
	if (mls_tree_leaf(tf, from))
		CHECK(mls_tree_leaf(tf, from)->source == MLS_LEAF_SRC_COMMIT);
out:
	codec_writer_free(&w);
	free(up);
	free(o);
}

static void round_trip(uint16_t id)
{
	const struct mls_suite *s = mls_suite_get(id);
	struct member *m = calloc(2, sizeof(*m));
	struct mls_tree *ta = NULL, *tb = NULL;
	struct test_rng rng;

	test_rng_init(&rng, "tree round trip");
	if (!CHECK(s && m) ||
	    !CHECK_OK(make_member(s, &rng, "alice", NULL, &m[0])) ||
	    !CHECK_OK(make_member(s, &rng, "bob", NULL, &m[1])) ||
	    !(ta = tree_of(s, m, 2)) || !CHECK_OK(mls_tree_clone(ta, &tb)) ||
	    !CHECK_OK(mls_tree_set_private(ta, 0, &m[0].kp)) ||
	    !CHECK_OK(mls_tree_set_private(tb, 2, &m[1].kp)))
		goto out;
	CHECK_OK(mls_tree_validate(ta, gid, GID_LEN));
	/* Alice commits, Bob processes; then the other way round, which
	 * needs the keys each side derived in the first round. */
	commit_once(s, &rng, ta, tb, 0, 1, &m[0]);
	commit_once(s, &rng, tb, ta, 1, 0, &m[1]);
	commit_once(s, &rng, ta, tb, 0, 1, &m[0]);
out:
	mls_tree_free(ta);
	mls_tree_free(tb);
	free(m);
}

static void test_round_trip_suite1(void)
{
	round_trip(MLS_SUITE_X25519_AES128GCM_SHA256_ED25519);
}

static void test_round_trip_xwing(void)
{
	round_trip(MLS_SUITE_XWING_AES256GCM_SHA512_ED25519);
}

/* ---- validation ---------------------------------------------------------- */

/* Rewrites t through the ratchet_tree structures: fn edits them. */
static int mutate(const struct mls_suite *s, const struct mls_tree *t,
		  void (*fn)(struct mls_ratchet_tree *, void *), void *arg,
		  struct mls_tree **out)
{
	struct mls_ratchet_tree *rt = calloc(1, sizeof(*rt));
	struct codec_writer w, w2;
	int rc = EPOCH_ERR_NOMEM;

	*out = NULL;
	codec_writer_init_dynamic(&w, 1 << 20);
	codec_writer_init_dynamic(&w2, 1 << 20);
	if (!rt)
		goto out;
	if ((rc = mls_tree_encode(t, &w)) ||
	    (rc = mls_ratchet_tree_decode_all(w.buf, w.len, rt)))
		goto out;
	fn(rt, arg);
	if ((rc = mls_ratchet_tree_encode(&w2, rt)))
		goto out;
	rc = mls_tree_decode(out, s, w2.buf, w2.len);
out:
	codec_writer_free(&w);
	codec_writer_free(&w2);
	free(rt);
	return rc;
}

static void flip_leaf_sig(struct mls_ratchet_tree *rt, void *arg)
{
	static uint8_t sig[MLS_ED25519_SIG_LEN];
	struct mls_leaf_node *l = &rt->nodes[*(uint32_t *)arg].leaf;

	memcpy(sig, l->signature.p, sizeof(sig));
	sig[0] ^= 1;
	l->signature.p = sig;
}

static void set_root_key(struct mls_ratchet_tree *rt, void *arg)
{
	rt->nodes[1].parent.encryption_key = *(struct codec_slice *)arg;
}

/* Edits of the unmerged leaves: node, count, entries; drop the last leaf
 * (node 6) if drop6. */
struct unm {
	uint32_t node, n, v[3];
	bool drop6;
};

static void set_unmerged(struct mls_ratchet_tree *rt, void *arg)
{
	const struct unm *u = arg;

	rt->nodes[u->node].parent.n_unmerged = u->n;
	memcpy(rt->nodes[u->node].parent.unmerged_leaves, u->v,
	       u->n * sizeof(uint32_t));
	if (u->drop6)
		rt->n = 5; /* without node 5 (blank) and leaf 3 */
}

static void test_validate_negative(void)
{
	const struct mls_suite *s = mls_suite_get(1);
	struct member *m = calloc(4, sizeof(*m)), *x = calloc(1, sizeof(*x));
	struct mls_update_path *up = calloc(1, sizeof(*up));
	struct mls_treekem_out *o = calloc(1, sizeof(*o));
	struct mls_tree *t = NULL, *t2 = NULL, *bad = NULL;
	struct mls_group_context gc;
	struct leaf_opts opt;
	struct test_rng rng;
	struct codec_writer w;
	uint8_t th[MLS_MAX_NH], other_key[32] = { 9 };
	uint32_t idx, n;

	test_rng_init(&rng, "tree negative");
	codec_writer_init_dynamic(&w, 1 << 20);
	if (!CHECK(s && m && x && up && o) ||
	    !CHECK_OK(make_member(s, &rng, "a", NULL, &m[0])) ||
	    !CHECK_OK(make_member(s, &rng, "b", NULL, &m[1])) ||
	    !CHECK_OK(make_member(s, &rng, "c", NULL, &m[2])) ||
	    !CHECK_OK(make_member(s, &rng, "d", NULL, &m[3])) ||
	    !(t = tree_of(s, m, 3)))
		goto out;
	CHECK_OK(mls_tree_validate(t, gid, GID_LEN));

	/* A bad leaf signature. */
	n = 2;
	if (CHECK_OK(mutate(s, t, flip_leaf_sig, &n, &bad)))
		CHECK_RC(mls_tree_validate(bad, gid, GID_LEN),
			 EPOCH_ERR_SIGNATURE);
	mls_tree_free(bad);
	bad = NULL;

	/* Duplicate encryption key; duplicate signature key. */
	memset(&opt, 0, sizeof(opt));
	opt.kp = &m[0].kp;
	if (CHECK_OK(make_member(s, &rng, "dup-enc", &opt, x)) &&
	    CHECK_OK(mls_tree_clone(t, &t2)) &&
	    CHECK_OK(mls_tree_add_leaf(t2, x->enc, x->enc_len, &idx)))
		CHECK_RC(mls_tree_validate(t2, gid, GID_LEN),
			 EPOCH_ERR_DUPLICATE_KEY);
	mls_tree_free(t2);
	t2 = NULL;
	memset(&opt, 0, sizeof(opt));
	opt.sig_sk = m[1].sig_sk;
	if (CHECK_OK(make_member(s, &rng, "dup-sig", &opt, x)) &&
	    CHECK_OK(mls_tree_clone(t, &t2)) &&
	    CHECK_OK(mls_tree_add_leaf(t2, x->enc, x->enc_len, &idx)))
		CHECK_RC(mls_tree_validate(t2, gid, GID_LEN),
			 EPOCH_ERR_DUPLICATE_KEY);
	mls_tree_free(t2);
	t2 = NULL;

	/* The group's suite, or a credential type in use, not in a leaf's
	 * capabilities. */
	memset(&opt, 0, sizeof(opt));
	opt.suite_cap = 3;
	if (CHECK_OK(make_member(s, &rng, "no-suite", &opt, x)) &&
	    CHECK_OK(mls_tree_clone(t, &t2)) &&
	    CHECK_OK(mls_tree_add_leaf(t2, x->enc, x->enc_len, &idx)))
		CHECK_RC(mls_tree_validate(t2, gid, GID_LEN),
			 EPOCH_ERR_CAPABILITIES);
	mls_tree_free(t2);
	t2 = NULL;
	memset(&opt, 0, sizeof(opt));
	opt.cred_cap = MLS_CRED_X509;
	if (CHECK_OK(make_member(s, &rng, "no-basic", &opt, x)) &&
	    CHECK_OK(mls_tree_clone(t, &t2)) &&
	    CHECK_OK(mls_tree_add_leaf(t2, x->enc, x->enc_len, &idx)))
		CHECK_RC(mls_tree_validate(t2, gid, GID_LEN),
			 EPOCH_ERR_CAPABILITIES);
	mls_tree_free(t2);
	t2 = NULL;

	/* After a commit by a, the root carries a parent hash chain; a
	 * changed root key breaks it. */
	gc_init(&gc, s, th);
	if (!CHECK_OK(mls_treekem_encap(t, 0, &rng.rng, NULL,
					mls_tree_leaf(t, 0), m[0].sig_sk, 32,
					&gc, NULL, 0, &w, o)))
		goto out;
	CHECK_OK(mls_tree_validate(t, gid, GID_LEN));
	CHECK(mls_tree_parent_node(t, 1) != NULL);
	{
		struct codec_slice k = { other_key, sizeof(other_key) };

		if (CHECK_OK(mutate(s, t, set_root_key, &k, &bad))) {
			CHECK_RC(mls_tree_verify_parent_hashes(bad),
				 EPOCH_ERR_PARENT_HASH);
			CHECK_RC(mls_tree_validate(bad, gid, GID_LEN),
				 EPOCH_ERR_PARENT_HASH);
		}
		mls_tree_free(bad);
		bad = NULL;
		/* A parent key of the wrong size. */
		k.len = 31;
		if (CHECK_OK(mutate(s, t, set_root_key, &k, &bad)))
			CHECK_RC(mls_tree_validate(bad, gid, GID_LEN),
				 EPOCH_ERR_INVALID_KEY);
		mls_tree_free(bad);
		bad = NULL;
	}

	/* Adding d (leaf 3): unmerged at node 3, the root. */
	if (!CHECK_OK(mls_tree_add_leaf(t, m[3].enc, m[3].enc_len, &idx)) ||
	    !CHECK(idx == 3 && mls_tree_n_leaves(t) == 4))
		goto out;
	if (CHECK(mls_tree_parent_node(t, 3) != NULL))
		CHECK(mls_tree_parent_node(t, 3)->n_unmerged == 1 &&
		      mls_tree_parent_node(t, 3)->unmerged_leaves[0] == 3);
	CHECK(mls_tree_parent_node(t, 5) == NULL);
	CHECK_OK(mls_tree_validate(t, gid, GID_LEN));
	{
		static const struct unm cases[] = {
			/* a blank leaf */
			{ .node = 3, .n = 1, .v = { 3 }, .drop6 = true },
			/* out of range */
			{ .node = 3, .n = 1, .v = { 9 } },
			/* listed twice */
			{ .node = 3, .n = 2, .v = { 3, 3 } },
			/* leaf 0 not listed at node 1 between */
			{ .node = 3, .n = 2, .v = { 0, 3 } },
			/* leaf 2 not below node 1 */
			{ .node = 1, .n = 1, .v = { 2 } },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]);
		     i++) {
			if (CHECK_OK(mutate(s, t, set_unmerged,
					    (void *)&cases[i], &bad)))
				CHECK_RC(mls_tree_validate(bad, gid, GID_LEN),
					 EPOCH_ERR_TREE);
			mls_tree_free(bad);
			bad = NULL;
		}
	}
out:
	codec_writer_free(&w);
	mls_tree_free(t);
	mls_tree_free(t2);
	mls_tree_free(bad);
	free(m);
	free(x);
	free(up);
	free(o);
}

static void test_decode_structure(void)
{
	const struct mls_suite *s = mls_suite_get(1);
	struct member m;
	struct test_rng rng;
	struct mls_tree *t = NULL;
	struct codec_writer w;
	size_t mark;
	/* A parent node (type 2) at index 0. */
	static const uint8_t parent_at_0[] = { 0x06, 0x01, 0x02, 0x01,
					       0xaa, 0x00, 0x00 };
	/* A leaf type at an odd index: [blank, leaf]. */

	test_rng_init(&rng, "tree structure");
	CHECK_RC(mls_tree_decode(&t, s, parent_at_0, sizeof(parent_at_0)),
		 EPOCH_ERR_TREE);
	if (!CHECK_OK(make_member(s, &rng, "a", NULL, &m)))
		return;
	/* Last node blank. */
	codec_writer_init_dynamic(&w, 1 << 16);
	mark = codec_vec_begin(&w);
	codec_write_optional(&w, true);
	codec_write_u8(&w, MLS_NODE_LEAF);
	codec_write_bytes(&w, m.enc, m.enc_len);
	codec_write_optional(&w, false);
	codec_vec_end(&w, mark);
	CHECK_RC(mls_tree_decode(&t, s, w.buf, w.len), EPOCH_ERR_TREE);
	codec_writer_free(&w);
	/* A leaf at index 1. */
	codec_writer_init_dynamic(&w, 1 << 16);
	mark = codec_vec_begin(&w);
	codec_write_optional(&w, false);
	codec_write_optional(&w, true);
	codec_write_u8(&w, MLS_NODE_LEAF);
	codec_write_bytes(&w, m.enc, m.enc_len);
	codec_vec_end(&w, mark);
	CHECK_RC(mls_tree_decode(&t, s, w.buf, w.len), EPOCH_ERR_TREE);
	codec_writer_free(&w);
	/* The one-leaf tree decodes and re-encodes. */
	codec_writer_init_dynamic(&w, 1 << 16);
	mark = codec_vec_begin(&w);
	codec_write_optional(&w, true);
	codec_write_u8(&w, MLS_NODE_LEAF);
	codec_write_bytes(&w, m.enc, m.enc_len);
	codec_vec_end(&w, mark);
	if (CHECK_OK(mls_tree_decode(&t, s, w.buf, w.len))) {
		struct codec_writer w2;

		CHECK(mls_tree_n_leaves(t) == 1);
		codec_writer_init_dynamic(&w2, 1 << 16);
		if (CHECK_OK(mls_tree_encode(t, &w2)) && CHECK(w2.len == w.len))
			CHECK_MEM(w2.buf, w.buf, w.len);
		codec_writer_free(&w2);
		/* A wrong private key for the leaf. */
		struct hpke_keypair kp = m.kp;

		kp.pk[0] ^= 1;
		CHECK_RC(mls_tree_set_private(t, 0, &kp),
			 EPOCH_ERR_INVALID_KEY);
		CHECK(!mls_tree_has_private(t, 0));
		CHECK_OK(mls_tree_set_private(t, 0, &m.kp));
		CHECK(mls_tree_has_private(t, 0));
		hpke_keypair_wipe(&kp);
	}
	codec_writer_free(&w);
	mls_tree_free(t);
}

/* ---- TreeKEM refusals ---------------------------------------------------- */

struct pair {
	const struct mls_suite *s;
	struct test_rng rng;
	struct member m[2];
	struct mls_tree *ta, *tb;
	struct mls_update_path up;
	struct mls_treekem_out o;
	struct codec_writer w;
	uint8_t th[MLS_MAX_NH];
	uint8_t ps[MLS_MAX_NH];
};

/* Alice (leaf 0) makes a path from a known path secret; Bob (tb) has not
 * processed it. */
static struct pair *pair_new(void)
{
	struct pair *p = calloc(1, sizeof(*p));
	struct mls_group_context gc;

	if (!CHECK(p != NULL))
		return NULL;
	p->s = mls_suite_get(1);
	test_rng_init(&p->rng, "treekem negative");
	codec_writer_init_dynamic(&p->w, 1 << 20);
	memset(p->ps, 0x5a, sizeof(p->ps));
	gc_init(&gc, p->s, p->th);
	if (!CHECK_OK(make_member(p->s, &p->rng, "alice", NULL, &p->m[0])) ||
	    !CHECK_OK(make_member(p->s, &p->rng, "bob", NULL, &p->m[1])) ||
	    !(p->ta = tree_of(p->s, p->m, 2)) ||
	    !CHECK_OK(mls_tree_clone(p->ta, &p->tb)) ||
	    !CHECK_OK(mls_tree_set_private(p->tb, 2, &p->m[1].kp)) ||
	    !CHECK_OK(mls_treekem_encap(p->ta, 0, &p->rng.rng, p->ps,
					mls_tree_leaf(p->ta, 0),
					p->m[0].sig_sk, 32, &gc, NULL, 0,
					&p->w, &p->o)) ||
	    !CHECK_OK(mls_update_path_decode_all(p->w.buf, p->w.len,
						 &p->up))) {
		mls_tree_free(p->ta);
		mls_tree_free(p->tb);
		codec_writer_free(&p->w);
		free(p);
		return NULL;
	}
	return p;
}

static void pair_free(struct pair *p)
{
	if (!p)
		return;
	mls_tree_free(p->ta);
	mls_tree_free(p->tb);
	codec_writer_free(&p->w);
	free(p);
}

static int bob_decap(struct pair *p, const struct mls_update_path *up)
{
	struct mls_group_context gc;
	uint8_t th[MLS_MAX_NH], cs[MLS_MAX_NH];
	uint8_t before[MLS_MAX_NH], after[MLS_MAX_NH];
	int rc;

	gc_init(&gc, p->s, th);
	mls_tree_root_hash(p->tb, before);
	rc = mls_treekem_decap(p->tb, 1, 0, up, &gc, NULL, 0, cs);
	/* A refused path leaves the tree as it was. */
	if (rc != EPOCH_OK && CHECK_OK(mls_tree_root_hash(p->tb, after)))
		CHECK_MEM(after, before, p->s->nh);
	return rc;
}

static void test_treekem_negative(void)
{
	struct pair *p = pair_new();
	struct mls_update_path *up = calloc(1, sizeof(*up));
	uint8_t sig[MLS_ED25519_SIG_LEN];

	if (!p || !CHECK(up != NULL))
		goto out;
	/* Wrong leaf source. */
	*up = p->up;
	up->leaf_node.source = MLS_LEAF_SRC_UPDATE;
	CHECK_RC(bob_decap(p, up), EPOCH_ERR_LEAF_SOURCE);
	/* Bad signature. */
	*up = p->up;
	memcpy(sig, up->leaf_node.signature.p, sizeof(sig));
	sig[5] ^= 0x10;
	up->leaf_node.signature.p = sig;
	CHECK_RC(bob_decap(p, up), EPOCH_ERR_SIGNATURE);
	/* Wrong number of path nodes, of ciphertexts. */
	*up = p->up;
	up->n_nodes = 0;
	CHECK_RC(bob_decap(p, up), EPOCH_ERR_TREE);
	*up = p->up;
	up->n_nodes = 2;
	up->nodes[1] = up->nodes[0];
	CHECK_RC(bob_decap(p, up), EPOCH_ERR_TREE);
	*up = p->up;
	up->nodes[0].n_secrets = 2;
	up->nodes[0].secrets[1] = up->nodes[0].secrets[0];
	CHECK_RC(bob_decap(p, up), EPOCH_ERR_TREE);
	/* A path key of the wrong length. */
	*up = p->up;
	up->nodes[0].encryption_key.len--;
	CHECK_RC(bob_decap(p, up), EPOCH_ERR_INVALID_KEY);
	/* A path key the leaf's parent hash does not cover. */
	*up = p->up;
	up->nodes[0].encryption_key.p = p->m[1].kp.pk;
	CHECK_RC(bob_decap(p, up), EPOCH_ERR_PARENT_HASH);
	/* The new leaf reusing a key already in the tree. */
	{
		struct mls_leaf_node *l = &up->leaf_node;

		*up = p->up;
		l->encryption_key.p = p->m[1].kp.pk;
		l->encryption_key.len = p->m[1].kp.pk_len;
		if (CHECK_OK(mls_leaf_node_sign(p->s, l, p->m[0].sig_sk, 32,
						gid, GID_LEN, 0, sig,
						sizeof(sig))))
			CHECK_RC(bob_decap(p, up), EPOCH_ERR_DUPLICATE_KEY);
	}
	/* The real path still works afterwards. */
	CHECK_OK(bob_decap(p, &p->up));
out:
	free(up);
	pair_free(p);
}

/* A path whose node key does not match the path secret it delivers: a
 * correct parent hash and signature for that key, the secret encrypted
 * under the GroupContext of that tree, so only the key check catches it. */
static void test_treekem_wrong_key(void)
{
	struct pair *p = pair_new();
	struct mls_update_path *up = calloc(1, sizeof(*up));
	struct mls_tree *t = NULL;
	struct hpke_keypair rogue;
	struct mls_group_context gc;
	struct codec_writer w, gw;
	uint8_t sibling[MLS_MAX_NH], ph[MLS_MAX_NH], th[MLS_MAX_NH],
		sig[MLS_ED25519_SIG_LEN], ikm[32] = { 7 };
	uint8_t kem[HPKE_MAX_ENC], ct[MLS_MAX_NH + 16], cs[MLS_MAX_NH];
	size_t kl, cl;
	uint32_t idx;

	codec_writer_init_dynamic(&w, 1 << 20);
	codec_writer_init_dynamic(&gw, 1 << 20);
	if (!p || !CHECK(up != NULL) ||
	    !CHECK_OK(mls_derive_keypair(p->s, ikm, sizeof(ikm), &rogue)))
		goto out;
	*up = p->up;
	up->nodes[0].encryption_key.p = rogue.pk;
	up->nodes[0].encryption_key.len = rogue.pk_len;
	/* ParentHash(root) over the rogue key, empty parent_hash and Bob's
	 * leaf (node 2) as the original sibling. */
	if (!CHECK_OK(mls_tree_node_hash(p->tb, 2, sibling)))
		goto out;
	codec_write_vec(&w, rogue.pk, rogue.pk_len);
	codec_write_vec(&w, NULL, 0);
	codec_write_vec(&w, sibling, p->s->nh);
	if (!CHECK_OK(codec_writer_error(&w)) ||
	    !CHECK_OK(crypto_hash(p->s->hash, w.buf, w.len, ph)))
		goto out;
	up->leaf_node.parent_hash.p = ph;
	up->leaf_node.parent_hash.len = p->s->nh;
	if (!CHECK_OK(mls_leaf_node_sign(p->s, &up->leaf_node, p->m[0].sig_sk,
					 32, gid, GID_LEN, 0, sig,
					 sizeof(sig))))
		goto out;
	/* The tree Bob will build: Alice's new leaf, the rogue root. */
	codec_writer_free(&w);
	codec_writer_init_dynamic(&w, 1 << 20);
	if (!CHECK_OK(mls_tree_new(&t, p->s)) ||
	    !CHECK_OK(mls_leaf_node_encode(&w, &up->leaf_node)) ||
	    !CHECK_OK(mls_tree_add_leaf(t, w.buf, w.len, &idx)) ||
	    !CHECK_OK(mls_tree_add_leaf(t, p->m[1].enc, p->m[1].enc_len,
					&idx)))
		goto out;
	/* Put the rogue root in through the encoding. */
	{
		struct mls_tree *t2 = NULL;
		struct codec_slice k = { rogue.pk, rogue.pk_len };
		struct mls_ratchet_tree *rt = calloc(1, sizeof(*rt));
		struct codec_writer e1, e2;

		codec_writer_init_dynamic(&e1, 1 << 20);
		codec_writer_init_dynamic(&e2, 1 << 20);
		if (CHECK(rt != NULL) && CHECK_OK(mls_tree_encode(t, &e1)) &&
		    CHECK_OK(mls_ratchet_tree_decode_all(e1.buf, e1.len, rt))) {
			rt->nodes[1].present = true;
			rt->nodes[1].type = MLS_NODE_PARENT;
			memset(&rt->nodes[1].parent, 0,
			       sizeof(rt->nodes[1].parent));
			rt->nodes[1].parent.encryption_key = k;
			if (CHECK_OK(mls_ratchet_tree_encode(&e2, rt)))
				CHECK_OK(mls_tree_decode(&t2, p->s, e2.buf,
							 e2.len));
		}
		codec_writer_free(&e1);
		codec_writer_free(&e2);
		free(rt);
		mls_tree_free(t);
		t = t2;
	}
	if (!CHECK(t != NULL) || !CHECK_OK(mls_tree_verify_parent_hashes(t)) ||
	    !CHECK_OK(mls_tree_root_hash(t, th)))
		goto out;
	gc_init(&gc, p->s, th);
	if (!CHECK_OK(mls_group_context_encode(&gw, &gc)) ||
	    !CHECK_OK(mls_encrypt_with_label(p->s, &p->rng.rng, p->m[1].kp.pk,
					     p->m[1].kp.pk_len,
					     "UpdatePathNode", gw.buf, gw.len,
					     p->ps, p->s->nh, kem, sizeof(kem),
					     &kl, ct, sizeof(ct), &cl)))
		goto out;
	up->nodes[0].secrets[0].kem_output.p = kem;
	up->nodes[0].secrets[0].kem_output.len = kl;
	up->nodes[0].secrets[0].ciphertext.p = ct;
	up->nodes[0].secrets[0].ciphertext.len = cl;
	/* Bob decrypts Alice's path secret, whose key is not the rogue. */
	gc_init(&gc, p->s, th);
	CHECK_RC(mls_treekem_decap(p->tb, 1, 0, up, &gc, NULL, 0, cs),
		 EPOCH_ERR_INVALID_KEY);
	/* install_path_secret refuses a secret that does not match. */
	CHECK_RC(mls_tree_install_path_secret(t, 1, 1, p->ps),
		 EPOCH_ERR_INVALID_KEY);
out:
	hpke_keypair_wipe(&rogue);
	codec_writer_free(&w);
	codec_writer_free(&gw);
	mls_tree_free(t);
	free(up);
	pair_free(p);
}

/* Tree operations the vectors do not cover: remove with truncation,
 * add into a blank, joiners' path secrets. */
static void test_ops(void)
{
	const struct mls_suite *s = mls_suite_get(1);
	struct member *m = calloc(3, sizeof(*m));
	struct mls_treekem_out *o = calloc(1, sizeof(*o));
	struct mls_update_path *up = calloc(1, sizeof(*up));
	struct mls_tree *t = NULL, *tc = NULL, *tb = NULL;
	struct mls_group_context gc;
	struct test_rng rng;
	struct codec_writer w;
	uint8_t th[MLS_MAX_NH];
	uint32_t idx, ex = 2, fdp[8];
	size_t n;

	test_rng_init(&rng, "tree ops");
	codec_writer_init_dynamic(&w, 1 << 20);
	if (!CHECK(m && o) ||
	    !CHECK_OK(make_member(s, &rng, "a", NULL, &m[0])) ||
	    !CHECK_OK(make_member(s, &rng, "b", NULL, &m[1])) ||
	    !CHECK_OK(make_member(s, &rng, "c", NULL, &m[2])) ||
	    !(t = tree_of(s, m, 3)))
		goto out;
	CHECK(mls_tree_n_leaves(t) == 4);
	CHECK(mls_tree_find_signature_key(t, m[2].sig_pk, 32) == 2);
	CHECK(mls_tree_find_signature_key(t, m[0].sig_pk, 31) ==
	      MLS_NODE_NONE);
	/* Remove c: truncated to 2 leaves; then add c back into leaf 2. */
	CHECK_OK(mls_tree_remove_leaf(t, 2));
	CHECK(mls_tree_n_leaves(t) == 2);
	CHECK_RC(mls_tree_remove_leaf(t, 3), EPOCH_ERR_INVALID_ARG);
	/* Remove b: leaf 0 alone; its commit has an empty path. */
	if (CHECK_OK(mls_tree_clone(t, &tc))) {
		CHECK_OK(mls_tree_remove_leaf(tc, 1));
		CHECK(mls_tree_n_leaves(tc) == 1);
		gc_init(&gc, s, th);
		if (CHECK_OK(mls_treekem_encap(tc, 0, &rng.rng, NULL,
					       mls_tree_leaf(tc, 0),
					       m[0].sig_sk, 32, &gc, NULL, 0,
					       &w, o)) &&
		    CHECK(up != NULL) &&
		    CHECK_OK(mls_update_path_decode_all(w.buf, w.len, up)))
			CHECK(up->n_nodes == 0 &&
			      up->leaf_node.parent_hash.len == 0);
		CHECK_OK(mls_tree_validate(tc, gid, GID_LEN));
		mls_tree_free(tc);
		tc = NULL;
		codec_writer_free(&w);
		codec_writer_init_dynamic(&w, 1 << 20);
	}
	/* Commit by a adding c (c excluded from the path's recipients):
	 * c's path secret is the root's. */
	if (!CHECK_OK(mls_tree_add_leaf(t, m[2].enc, m[2].enc_len, &idx)) ||
	    !CHECK(idx == 2))
		goto out;
	if (!CHECK_OK(mls_tree_clone(t, &tb)) ||
	    !CHECK_OK(mls_tree_set_private(tb, 2, &m[1].kp)))
		goto out;
	gc_init(&gc, s, th);
	if (!CHECK_OK(mls_treekem_encap(t, 0, &rng.rng, NULL,
					mls_tree_leaf(t, 0), m[0].sig_sk, 32,
					&gc, &ex, 1, &w, o)))
		goto out;
	CHECK(o->joiner_has_path_secret[0] && o->joiner_path_node[0] == 3);
	/* b processes it with c excluded (node 3 has no ciphertext: c was
	 * its copath child's whole resolution); without the exclusion the
	 * count is wrong. */
	if (CHECK(up != NULL) &&
	    CHECK_OK(mls_update_path_decode_all(w.buf, w.len, up)) &&
	    CHECK(up->n_nodes == 2 && up->nodes[0].n_secrets == 1 &&
		  up->nodes[1].n_secrets == 0)) {
		uint8_t cs[MLS_MAX_NH], th2[MLS_MAX_NH], h1[MLS_MAX_NH],
			h2[MLS_MAX_NH];

		gc_init(&gc, s, th2);
		CHECK_RC(mls_treekem_decap(tb, 1, 0, up, &gc, NULL, 0, cs),
			 EPOCH_ERR_TREE);
		if (CHECK_OK(mls_treekem_decap(tb, 1, 0, up, &gc, &ex, 1,
					       cs)))
			CHECK_MEM(cs, o->commit_secret, s->nh);
		if (CHECK_OK(mls_tree_root_hash(t, h1)) &&
		    CHECK_OK(mls_tree_root_hash(tb, h2)))
			CHECK_MEM(h1, h2, s->nh);
		CHECK_MEM(th2, th, s->nh);
	}
	CHECK(mls_tree_parent_node(t, 3) &&
	      mls_tree_parent_node(t, 3)->n_unmerged == 0);
	CHECK_OK(mls_tree_validate(t, gid, GID_LEN));
	/* c installs it: keys of node 3 match. */
	if (CHECK_OK(mls_tree_clone(t, &tc))) {
		CHECK_OK(mls_tree_filtered_direct_path(tc, 2, fdp, 8, &n));
		CHECK(n == 1 && fdp[0] == 3);
		CHECK_OK(mls_tree_install_path_secret(
			tc, 2, o->joiner_path_node[0],
			o->joiner_path_secrets[0]));
		CHECK(mls_tree_has_private(tc, 3));
	}
out:
	codec_writer_free(&w);
	mls_tree_free(t);
	mls_tree_free(tc);
	mls_tree_free(tb);
	free(m);
	free(o);
	free(up);
}

int main(int argc, char **argv)
{
	(void)argc;
	test_run("derive_keypair", test_derive_keypair);
	test_run("round_trip_suite1", test_round_trip_suite1);
	test_run("round_trip_xwing", test_round_trip_xwing);
	test_run("validate_negative", test_validate_negative);
	test_run("decode_structure", test_decode_structure);
	test_run("treekem_negative", test_treekem_negative);
	test_run("treekem_wrong_key", test_treekem_wrong_key);
	test_run("ops", test_ops);
	return test_main_end(argv[0]);
}
