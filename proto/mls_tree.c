/* Ratchet tree (RFC 9420 §4, §7.1-7.9, §12.1, §12.4.3.1): see
 * proto/mls_tree.h. */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/crypto.h"
#include "proto/mls.h"
#include "proto/mls_int.h"
#include "proto/mls_tree_int.h"
#include "proto/xwing.h"

#define WMAX (1u << 20) /* cap on the dynamic writers here */

/* ---- KEM.DeriveKeyPair --------------------------------------------------- */

int mls_derive_keypair(const struct mls_suite *s, const uint8_t *ikm,
		       size_t ikm_len, struct hpke_keypair *kp)
{
	uint8_t seed[32];
	int rc;

	if (!s || (!ikm && ikm_len) || !kp)
		return EPOCH_ERR_INVALID_ARG;
	if (s->hpke.kem_id != HPKE_KEM_XWING)
		return hpke_derive_keypair(s->hpke.kem_id, ikm, ikm_len, kp);
	/* X-Wing draft: seed = SHAKE256(ikm, 32), then GenerateKeyPairDerand
	 * (docs/mls-suites.md §3). */
	memset(kp, 0, sizeof(*kp));
	GUARD_GOTO(rc, crypto_shake256(ikm, ikm_len, seed, sizeof(seed)), out);
	GUARD_GOTO(rc, xwing_keygen_derand(seed, kp->sk, kp->pk), out);
	kp->kem_id = HPKE_KEM_XWING;
	kp->sk_len = XWING_SK_LEN;
	kp->pk_len = XWING_PK_LEN;
out:
	crypto_wipe(seed, sizeof(seed));
	if (rc != EPOCH_OK)
		hpke_keypair_wipe(kp);
	return rc;
}

/* ---- nodes --------------------------------------------------------------- */

static uint32_t width(const struct mls_tree *t)
{
	return t->n_leaves ? mls_tree_width(t->n_leaves) : 0;
}

static void node_clear(struct mls_tree_node *nd)
{
	if (nd->priv) {
		hpke_keypair_wipe(nd->priv);
		free(nd->priv);
	}
	free(nd->enc);
	free(nd->leaf);
	free(nd->parent);
	memset(nd, 0, sizeof(*nd));
}

void mls_tree_blank(struct mls_tree *t, uint32_t x)
{
	if (x < MLS_TREE_MAX_NODES)
		node_clear(&t->nodes[x]);
}

static int node_load(struct mls_tree_node *nd, uint8_t type,
		     const uint8_t *p, size_t len)
{
	struct mls_tree_node n = { .type = type };
	int rc;

	if (type != MLS_NODE_LEAF && type != MLS_NODE_PARENT)
		return EPOCH_ERR_INVALID_ARG;
	n.enc = malloc(len ? len : 1);
	if (!n.enc)
		return EPOCH_ERR_NOMEM;
	if (len)
		memcpy(n.enc, p, len);
	n.enc_len = len;
	if (type == MLS_NODE_LEAF) {
		n.leaf = calloc(1, sizeof(*n.leaf));
		rc = n.leaf ? mls_leaf_node_decode_all(n.enc, len, n.leaf)
			    : EPOCH_ERR_NOMEM;
	} else {
		n.parent = calloc(1, sizeof(*n.parent));
		rc = n.parent ? mls_parent_node_decode_all(n.enc, len,
							   n.parent)
			      : EPOCH_ERR_NOMEM;
	}
	if (rc != EPOCH_OK) {
		node_clear(&n);
		return rc;
	}
	node_clear(nd);
	*nd = n;
	return EPOCH_OK;
}

int mls_tree_set_node(struct mls_tree *t, uint32_t x, uint8_t type,
		      const uint8_t *enc, size_t len)
{
	if (!t || x >= width(t))
		return EPOCH_ERR_INVALID_ARG;
	if (type != ((x & 1) ? MLS_NODE_PARENT : MLS_NODE_LEAF))
		return EPOCH_ERR_TREE;
	return node_load(&t->nodes[x], type, enc, len);
}

int mls_tree_set_parent(struct mls_tree *t, uint32_t x,
			const struct mls_parent_node *p)
{
	struct codec_writer w;
	int rc;

	codec_writer_init_dynamic(&w, WMAX);
	rc = mls_parent_node_encode(&w, p);
	if (rc == EPOCH_OK)
		rc = mls_tree_set_node(t, x, MLS_NODE_PARENT, w.buf, w.len);
	codec_writer_free(&w);
	return rc;
}

int mls_tree_store_private(struct mls_tree *t, uint32_t x,
			   const struct hpke_keypair *kp)
{
	struct mls_tree_node *nd;

	if (!t || !kp || x >= width(t))
		return EPOCH_ERR_INVALID_ARG;
	nd = &t->nodes[x];
	if (!nd->priv) {
		nd->priv = malloc(sizeof(*nd->priv));
		if (!nd->priv)
			return EPOCH_ERR_NOMEM;
	}
	*nd->priv = *kp;
	return EPOCH_OK;
}

static const struct codec_slice *node_enc_key(const struct mls_tree_node *nd)
{
	if (nd->type == MLS_NODE_LEAF)
		return &nd->leaf->encryption_key;
	if (nd->type == MLS_NODE_PARENT)
		return &nd->parent->encryption_key;
	return NULL;
}

bool mls_tree_in_subtree(uint32_t x, uint32_t l)
{
	uint32_t lvl = mls_tree_level(x), half = (1u << lvl) - 1;
	uint32_t n = 2 * l;

	return n + half >= x && n <= x + half;
}

/* ---- life cycle ---------------------------------------------------------- */

int mls_tree_new(struct mls_tree **t, const struct mls_suite *s)
{
	if (!t || !s)
		return EPOCH_ERR_INVALID_ARG;
	*t = calloc(1, sizeof(**t));
	if (!*t)
		return EPOCH_ERR_NOMEM;
	(*t)->s = s;
	return EPOCH_OK;
}

void mls_tree_free(struct mls_tree *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < MLS_TREE_MAX_NODES; i++)
		node_clear(&t->nodes[i]);
	free(t);
}

/* The length of the LeafNode / ParentNode at the reader's position. */
static int body_len(struct codec_reader *r, uint8_t type, size_t *len)
{
	size_t start = r->pos;
	int rc;

	if (type == MLS_NODE_LEAF) {
		struct mls_leaf_node *l = malloc(sizeof(*l));

		if (!l)
			return EPOCH_ERR_NOMEM;
		rc = mls_leaf_node_decode(r, l);
		free(l);
	} else {
		struct mls_parent_node *p = malloc(sizeof(*p));

		if (!p)
			return EPOCH_ERR_NOMEM;
		rc = mls_parent_node_decode(r, p);
		free(p);
	}
	*len = r->pos - start;
	return rc;
}

int mls_tree_decode(struct mls_tree **out, const struct mls_suite *s,
		    const uint8_t *buf, size_t len)
{
	struct codec_reader r, sub;
	struct mls_tree *t;
	uint32_t n = 0, nl = 1;
	bool last_present = false;
	int rc;

	if (!out || !s || (!buf && len))
		return EPOCH_ERR_INVALID_ARG;
	*out = NULL;
	GUARD(mls_tree_new(&t, s));
	/* Room for every node while reading; n_leaves set at the end. */
	t->n_leaves = MLS_TREE_MAX_LEAVES;
	codec_reader_init(&r, buf, len);
	GUARD_GOTO(rc, codec_read_sub(&r, &sub, CODEC_VARINT_MAX), fail);
	GUARD_GOTO(rc, codec_reader_done(&r), fail);
	while (codec_remaining(&sub)) {
		bool present;
		uint8_t type;
		size_t start, blen;

		if (n == MLS_TREE_MAX_NODES) {
			rc = EPOCH_ERR_TREE;
			goto fail;
		}
		GUARD_GOTO(rc, codec_read_optional(&sub, &present), fail);
		last_present = present;
		if (present) {
			GUARD_GOTO(rc, codec_read_u8(&sub, &type), fail);
			if (type != MLS_NODE_LEAF && type != MLS_NODE_PARENT) {
				rc = EPOCH_ERR_MALFORMED;
				goto fail;
			}
			start = sub.pos;
			GUARD_GOTO(rc, body_len(&sub, type, &blen), fail);
			GUARD_GOTO(rc, mls_tree_set_node(t, n, type,
							 sub.buf + start, blen),
				   fail);
		}
		n++;
	}
	if (!n || !last_present) {
		rc = EPOCH_ERR_TREE;
		goto fail;
	}
	while (2 * nl - 1 < n)
		nl *= 2;
	if (nl > MLS_TREE_MAX_LEAVES) {
		rc = EPOCH_ERR_TREE;
		goto fail;
	}
	t->n_leaves = nl;
	*out = t;
	return EPOCH_OK;
fail:
	mls_tree_free(t);
	return rc;
}

int mls_tree_encode(const struct mls_tree *t, struct codec_writer *w)
{
	uint32_t wd, last, i;
	size_t mark;

	if (!t || !w)
		return EPOCH_ERR_INVALID_ARG;
	wd = width(t);
	last = wd;
	for (i = 0; i < wd; i++)
		if (t->nodes[i].type)
			last = i;
	mark = codec_vec_begin(w);
	if (last != wd)
		for (i = 0; i <= last; i++) {
			const struct mls_tree_node *nd = &t->nodes[i];

			codec_write_optional(w, nd->type != 0);
			if (!nd->type)
				continue;
			codec_write_u8(w, nd->type);
			codec_write_bytes(w, nd->enc, nd->enc_len);
		}
	return codec_vec_end(w, mark);
}

int mls_tree_clone(const struct mls_tree *t, struct mls_tree **out)
{
	struct mls_tree *c;
	int rc = EPOCH_OK;

	if (!t || !out)
		return EPOCH_ERR_INVALID_ARG;
	*out = NULL;
	GUARD(mls_tree_new(&c, t->s));
	c->n_leaves = t->n_leaves;
	for (uint32_t i = 0; i < width(t); i++) {
		const struct mls_tree_node *nd = &t->nodes[i];

		if (nd->type)
			GUARD_GOTO(rc, node_load(&c->nodes[i], nd->type,
						 nd->enc, nd->enc_len),
				   fail);
		if (nd->priv)
			GUARD_GOTO(rc, mls_tree_store_private(c, i, nd->priv),
				   fail);
	}
	*out = c;
	return EPOCH_OK;
fail:
	mls_tree_free(c);
	return rc;
}

/* ---- queries ------------------------------------------------------------- */

uint32_t mls_tree_n_leaves(const struct mls_tree *t)
{
	return t ? t->n_leaves : 0;
}

const struct mls_leaf_node *mls_tree_leaf(const struct mls_tree *t,
					  uint32_t i)
{
	if (!t || i >= t->n_leaves)
		return NULL;
	return t->nodes[2 * i].leaf;
}

int mls_tree_leaf_bytes(const struct mls_tree *t, uint32_t i,
			const uint8_t **p, size_t *len)
{
	if (!t || !p || !len || i >= t->n_leaves || !t->nodes[2 * i].type)
		return EPOCH_ERR_INVALID_ARG;
	*p = t->nodes[2 * i].enc;
	*len = t->nodes[2 * i].enc_len;
	return EPOCH_OK;
}

const struct mls_parent_node *mls_tree_parent_node(const struct mls_tree *t,
						   uint32_t x)
{
	if (!t || x >= width(t) || !(x & 1))
		return NULL;
	return t->nodes[x].parent;
}

static int push(uint32_t *out, size_t cap, size_t *n, uint32_t v)
{
	if (*n >= cap)
		return EPOCH_ERR_NO_SPACE;
	out[(*n)++] = v;
	return EPOCH_OK;
}

static int resolve(const struct mls_tree *t, uint32_t x, uint32_t *out,
		   size_t cap, size_t *n)
{
	const struct mls_tree_node *nd = &t->nodes[x];

	if (nd->type) {
		GUARD(push(out, cap, n, x));
		if (nd->parent)
			for (size_t i = 0; i < nd->parent->n_unmerged; i++)
				GUARD(push(out, cap, n,
					   2 * nd->parent->unmerged_leaves[i]));
		return EPOCH_OK;
	}
	if (!(x & 1))
		return EPOCH_OK;
	GUARD(resolve(t, mls_tree_left(x), out, cap, n));
	return resolve(t, mls_tree_right(x, t->n_leaves), out, cap, n);
}

int mls_tree_resolution(const struct mls_tree *t, uint32_t x, uint32_t *out,
			size_t cap, size_t *n)
{
	if (!t || !n || (!out && cap) || x >= width(t))
		return EPOCH_ERR_INVALID_ARG;
	*n = 0;
	return resolve(t, x, out, cap, n);
}

int mls_tree_filtered_direct_path(const struct mls_tree *t, uint32_t i,
				  uint32_t *out, size_t cap, size_t *n)
{
	uint32_t dp[32], cp[32], res[MLS_TREE_MAX_NODES];
	size_t ndp, ncp, nres;

	if (!t || !n || i >= t->n_leaves)
		return EPOCH_ERR_INVALID_ARG;
	*n = 0;
	GUARD(mls_tree_direct_path(2 * i, t->n_leaves, dp, 32, &ndp));
	GUARD(mls_tree_copath(2 * i, t->n_leaves, cp, 32, &ncp));
	if (ncp != ndp)
		return EPOCH_ERR_STATE;
	for (size_t k = 0; k < ndp; k++) {
		GUARD(mls_tree_resolution(t, cp[k], res, MLS_TREE_MAX_NODES,
					  &nres));
		if (nres)
			GUARD(push(out, cap, n, dp[k]));
	}
	return EPOCH_OK;
}

uint32_t mls_tree_find_signature_key(const struct mls_tree *t,
				     const uint8_t *key, size_t key_len)
{
	if (!t || !key)
		return MLS_NODE_NONE;
	for (uint32_t i = 0; i < t->n_leaves; i++) {
		const struct mls_leaf_node *l = t->nodes[2 * i].leaf;

		if (l && l->signature_key.len == key_len &&
		    memcmp(l->signature_key.p, key, key_len) == 0)
			return i;
	}
	return MLS_NODE_NONE;
}

bool mls_tree_has_encryption_key(const struct mls_tree *t, const uint8_t *key,
				 size_t len, uint32_t skip)
{
	for (uint32_t x = 0; x < width(t); x++) {
		const struct codec_slice *k = node_enc_key(&t->nodes[x]);

		if (x != skip && k && k->len == len &&
		    memcmp(k->p, key, len) == 0)
			return true;
	}
	return false;
}

/* ---- hashes -------------------------------------------------------------- */

static bool listed(const uint32_t *v, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* TreeHash(x) with the leaves in ex (leaf indices) blanked and removed
 * from unmerged_leaves (§7.8, §7.9's original sibling tree hash). */
static int tree_hash(const struct mls_tree *t, uint32_t x, const uint32_t *ex,
		     size_t nex, uint8_t *out)
{
	const struct mls_tree_node *nd = &t->nodes[x];
	uint8_t lh[MLS_MAX_NH], rh[MLS_MAX_NH];
	struct codec_writer w;
	int rc;

	codec_writer_init_dynamic(&w, WMAX);
	if (!(x & 1)) {
		bool present = nd->type && !listed(ex, nex, x / 2);

		/* TreeHashInput { leaf(1), LeafNodeHashInput { leaf_index,
		 * optional<LeafNode> } } */
		codec_write_u8(&w, MLS_NODE_LEAF);
		codec_write_u32(&w, x / 2);
		codec_write_optional(&w, present);
		if (present)
			codec_write_bytes(&w, nd->enc, nd->enc_len);
	} else {
		GUARD_GOTO(rc, tree_hash(t, mls_tree_left(x), ex, nex, lh),
			   out);
		GUARD_GOTO(rc, tree_hash(t, mls_tree_right(x, t->n_leaves), ex,
					 nex, rh),
			   out);
		/* ParentNodeHashInput { optional<ParentNode>, left_hash<V>,
		 * right_hash<V> } */
		codec_write_u8(&w, MLS_NODE_PARENT);
		codec_write_optional(&w, nd->type != 0);
		if (nd->type) {
			bool filter = false;

			for (size_t i = 0; i < nd->parent->n_unmerged; i++)
				if (listed(ex, nex,
					   nd->parent->unmerged_leaves[i]))
					filter = true;
			if (!filter) {
				codec_write_bytes(&w, nd->enc, nd->enc_len);
			} else {
				struct mls_parent_node *p =
					malloc(sizeof(*p));

				if (!p) {
					rc = EPOCH_ERR_NOMEM;
					goto out;
				}
				*p = *nd->parent;
				p->n_unmerged = 0;
				for (size_t i = 0; i < nd->parent->n_unmerged;
				     i++) {
					uint32_t l =
						nd->parent->unmerged_leaves[i];

					if (!listed(ex, nex, l))
						p->unmerged_leaves
							[p->n_unmerged++] = l;
				}
				rc = mls_parent_node_encode(&w, p);
				free(p);
				if (rc != EPOCH_OK)
					goto out;
			}
		}
		codec_write_vec(&w, lh, t->s->nh);
		codec_write_vec(&w, rh, t->s->nh);
	}
	GUARD_GOTO(rc, codec_writer_error(&w), out);
	rc = crypto_hash(t->s->hash, w.buf, w.len, out);
out:
	codec_writer_free(&w);
	return rc;
}

int mls_tree_node_hash(const struct mls_tree *t, uint32_t x, uint8_t *out)
{
	if (!t || !out || x >= width(t))
		return EPOCH_ERR_INVALID_ARG;
	return tree_hash(t, x, NULL, 0, out);
}

int mls_tree_root_hash(const struct mls_tree *t, uint8_t *out)
{
	if (!t || !out || !t->n_leaves)
		return EPOCH_ERR_INVALID_ARG;
	return tree_hash(t, mls_tree_root(t->n_leaves), NULL, 0, out);
}

int mls_tree_parent_hash(const struct mls_tree *t, uint32_t p,
			 uint32_t sibling, uint8_t *out)
{
	const struct mls_parent_node *pn;
	uint8_t sh[MLS_MAX_NH];
	struct codec_writer w;
	int rc;

	if (!t || p >= width(t) || sibling >= width(t) ||
	    !(pn = t->nodes[p].parent))
		return EPOCH_ERR_INVALID_ARG;
	GUARD(tree_hash(t, sibling, pn->unmerged_leaves, pn->n_unmerged, sh));
	/* ParentHashInput { encryption_key<V>, parent_hash<V>,
	 * original_sibling_tree_hash<V> } */
	codec_writer_init_dynamic(&w, WMAX);
	codec_write_vec(&w, pn->encryption_key.p, pn->encryption_key.len);
	codec_write_vec(&w, pn->parent_hash.p, pn->parent_hash.len);
	codec_write_vec(&w, sh, t->s->nh);
	rc = codec_writer_error(&w);
	if (rc == EPOCH_OK)
		rc = crypto_hash(t->s->hash, w.buf, w.len, out);
	codec_writer_free(&w);
	return rc;
}

/* The parent_hash a node carries (a leaf only with source commit). */
static const struct codec_slice *
node_parent_hash(const struct mls_tree_node *nd)
{
	if (nd->type == MLS_NODE_PARENT)
		return &nd->parent->parent_hash;
	if (nd->type == MLS_NODE_LEAF &&
	    nd->leaf->source == MLS_LEAF_SRC_COMMIT)
		return &nd->leaf->parent_hash;
	return NULL;
}

/* §7.9.2: P is parent-hash valid relative to child c (sibling s) if a node
 * D of c's resolution carries ParentHash(P, s) and P's unmerged leaves
 * below c are exactly c's resolution without D. */
static int valid_via(const struct mls_tree *t, uint32_t p, uint32_t c,
		     uint32_t s, bool *ok)
{
	const struct mls_parent_node *pn = t->nodes[p].parent;
	uint32_t res[MLS_TREE_MAX_NODES];
	uint8_t ph[MLS_MAX_NH];
	size_t nres;

	*ok = false;
	GUARD(mls_tree_parent_hash(t, p, s, ph));
	GUARD(mls_tree_resolution(t, c, res, MLS_TREE_MAX_NODES, &nres));
	for (size_t d = 0; d < nres; d++) {
		const struct codec_slice *h =
			node_parent_hash(&t->nodes[res[d]]);
		size_t below = 0;
		bool match = true;

		if (!h || h->len != t->s->nh || memcmp(h->p, ph, t->s->nh))
			continue;
		for (size_t i = 0; i < pn->n_unmerged; i++) {
			uint32_t l = pn->unmerged_leaves[i];

			if (!mls_tree_in_subtree(c, l))
				continue;
			below++;
			if (!listed(res, nres, 2 * l) || 2 * l == res[d])
				match = false;
		}
		if (match && below == nres - 1) {
			*ok = true;
			return EPOCH_OK;
		}
	}
	return EPOCH_OK;
}

int mls_tree_verify_parent_hashes(const struct mls_tree *t)
{
	if (!t)
		return EPOCH_ERR_INVALID_ARG;
	for (uint32_t x = 1; x < width(t); x += 2) {
		uint32_t l, r;
		bool ok;

		if (!t->nodes[x].type)
			continue;
		l = mls_tree_left(x);
		r = mls_tree_right(x, t->n_leaves);
		GUARD(valid_via(t, x, l, r, &ok));
		if (!ok)
			GUARD(valid_via(t, x, r, l, &ok));
		if (!ok)
			return EPOCH_ERR_PARENT_HASH;
	}
	return EPOCH_OK;
}

/* ---- LeafNode signatures (§7.2) ------------------------------------------ */

static int leaf_tbs(const struct mls_leaf_node *leaf, const uint8_t *gid,
		    size_t gid_len, uint32_t idx, struct codec_writer *w)
{
	struct mls_leaf_node *c = malloc(sizeof(*c));
	int rc;

	if (!c)
		return EPOCH_ERR_NOMEM;
	/* LeafNodeTBS is the LeafNode without its signature<V>: encode with
	 * an empty signature and drop that vector's one length byte. */
	*c = *leaf;
	c->signature.p = NULL;
	c->signature.len = 0;
	rc = mls_leaf_node_encode(w, c);
	free(c);
	GUARD(rc);
	w->len--;
	if (leaf->source == MLS_LEAF_SRC_UPDATE ||
	    leaf->source == MLS_LEAF_SRC_COMMIT) {
		codec_write_vec(w, gid, gid_len);
		codec_write_u32(w, idx);
	}
	return codec_writer_error(w);
}

int mls_leaf_node_sign(const struct mls_suite *s,
		       struct mls_leaf_node *leaf, const uint8_t *sk,
		       size_t sk_len, const uint8_t *group_id,
		       size_t group_id_len, uint32_t leaf_index,
		       uint8_t *sig_buf, size_t sig_cap)
{
	struct codec_writer w;
	size_t sig_len;
	int rc;

	if (!s || !leaf || !sk || !sig_buf || (!group_id && group_id_len))
		return EPOCH_ERR_INVALID_ARG;
	codec_writer_init_dynamic(&w, WMAX);
	GUARD_GOTO(rc, leaf_tbs(leaf, group_id, group_id_len, leaf_index, &w),
		   out);
	GUARD_GOTO(rc, mls_sign_with_label(s, sk, sk_len, "LeafNodeTBS",
					   w.buf, w.len, sig_buf, sig_cap,
					   &sig_len),
		   out);
	leaf->signature.p = sig_buf;
	leaf->signature.len = sig_len;
out:
	codec_writer_free(&w);
	return rc;
}

int mls_leaf_node_verify(const struct mls_suite *s,
			 const struct mls_leaf_node *leaf,
			 const uint8_t *group_id, size_t group_id_len,
			 uint32_t leaf_index)
{
	struct codec_writer w;
	int rc;

	if (!s || !leaf || (!group_id && group_id_len))
		return EPOCH_ERR_INVALID_ARG;
	codec_writer_init_dynamic(&w, WMAX);
	GUARD_GOTO(rc, leaf_tbs(leaf, group_id, group_id_len, leaf_index, &w),
		   out);
	rc = mls_verify_with_label(s, leaf->signature_key.p,
				   leaf->signature_key.len, "LeafNodeTBS",
				   w.buf, w.len, leaf->signature.p,
				   leaf->signature.len);
	if (rc != EPOCH_OK && rc != EPOCH_ERR_NOMEM)
		rc = EPOCH_ERR_SIGNATURE;
out:
	codec_writer_free(&w);
	return rc;
}

/* ---- validation ---------------------------------------------------------- */

static bool u16_listed(const struct mls_u16_list *l, uint16_t v)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == v)
			return true;
	return false;
}

static bool slice_eq(const struct codec_slice *a, const struct codec_slice *b)
{
	return a->len == b->len && (!a->len || !memcmp(a->p, b->p, a->len));
}

/* Unmerged leaves: each a non-blank leaf below the node, listed once, and
 * listed at every non-blank node between it and the node. */
static int check_unmerged(const struct mls_tree *t)
{
	for (uint32_t x = 1; x < width(t); x += 2) {
		const struct mls_parent_node *p = t->nodes[x].parent;

		if (!p)
			continue;
		for (size_t i = 0; i < p->n_unmerged; i++) {
			uint32_t l = p->unmerged_leaves[i], y;

			if (l >= t->n_leaves || !t->nodes[2 * l].type ||
			    !mls_tree_in_subtree(x, l) ||
			    listed(p->unmerged_leaves, i, l))
				return EPOCH_ERR_TREE;
			for (y = mls_tree_parent(2 * l, t->n_leaves); y != x;
			     y = mls_tree_parent(y, t->n_leaves)) {
				const struct mls_parent_node *q =
					t->nodes[y].parent;

				if (q && !listed(q->unmerged_leaves,
						 q->n_unmerged, l))
					return EPOCH_ERR_TREE;
			}
		}
	}
	return EPOCH_OK;
}

int mls_tree_validate(const struct mls_tree *t, const uint8_t *group_id,
		      size_t group_id_len)
{
	struct hpke_lens lens;
	uint32_t wd;

	if (!t || (!group_id && group_id_len))
		return EPOCH_ERR_INVALID_ARG;
	wd = width(t);
	if (!wd)
		return EPOCH_ERR_TREE;
	GUARD(check_unmerged(t));
	for (uint32_t i = 0; i < t->n_leaves; i++) {
		const struct mls_leaf_node *l = t->nodes[2 * i].leaf;

		if (!l)
			continue;
		GUARD(mls_leaf_node_verify(t->s, l, group_id, group_id_len,
					   i));
		if (!u16_listed(&l->capabilities.cipher_suites, t->s->id))
			return EPOCH_ERR_CAPABILITIES;
		/* Every member supports every credential type in use. */
		for (uint32_t j = 0; j < t->n_leaves; j++) {
			const struct mls_leaf_node *m = t->nodes[2 * j].leaf;

			if (m && !u16_listed(&m->capabilities.credentials,
					     l->credential.type))
				return EPOCH_ERR_CAPABILITIES;
		}
	}
	GUARD(hpke_suite_lens(&t->s->hpke, &lens));
	for (uint32_t x = 0; x < wd; x++) {
		const struct codec_slice *k = node_enc_key(&t->nodes[x]);
		const struct mls_leaf_node *l = t->nodes[x].leaf;

		/* A key of the wrong size could not be encrypted to. */
		if (k && k->len != lens.npk)
			return EPOCH_ERR_INVALID_KEY;
		if (k && mls_tree_has_encryption_key(t, k->p, k->len, x))
			return EPOCH_ERR_DUPLICATE_KEY;
		if (!l)
			continue;
		for (uint32_t y = x + 2; y < wd; y += 2)
			if (t->nodes[y].leaf &&
			    slice_eq(&l->signature_key,
				     &t->nodes[y].leaf->signature_key))
				return EPOCH_ERR_DUPLICATE_KEY;
	}
	return mls_tree_verify_parent_hashes(t);
}

/* ---- proposal application (§12.1) ---------------------------------------- */

int mls_tree_add_leaf(struct mls_tree *t, const uint8_t *leaf_enc,
		      size_t leaf_len, uint32_t *index)
{
	uint32_t i, old = 0, x;
	struct mls_parent_node *p;
	bool grown = false;
	int rc;

	if (!t || !leaf_enc || !index)
		return EPOCH_ERR_INVALID_ARG;
	for (i = 0; i < t->n_leaves; i++)
		if (!t->nodes[2 * i].type)
			break;
	if (i == t->n_leaves) {
		old = t->n_leaves;
		if (old >= MLS_TREE_MAX_LEAVES)
			return EPOCH_ERR_TREE;
		t->n_leaves = old ? 2 * old : 1;
		grown = true;
	}
	rc = mls_tree_set_node(t, 2 * i, MLS_NODE_LEAF, leaf_enc, leaf_len);
	if (rc != EPOCH_OK)
		goto fail;
	p = malloc(sizeof(*p));
	if (!p) {
		rc = EPOCH_ERR_NOMEM;
		goto fail;
	}
	/* The new leaf is unmerged at each non-blank node above it; the
	 * lists are kept in increasing order. */
	for (x = 2 * i; x != mls_tree_root(t->n_leaves);) {
		x = mls_tree_parent(x, t->n_leaves);
		if (!t->nodes[x].parent)
			continue;
		*p = *t->nodes[x].parent;
		if (p->n_unmerged >= MLS_MAX_UNMERGED) {
			rc = EPOCH_ERR_TREE;
			break;
		}
		size_t k = p->n_unmerged;
		while (k && p->unmerged_leaves[k - 1] > i) {
			p->unmerged_leaves[k] = p->unmerged_leaves[k - 1];
			k--;
		}
		p->unmerged_leaves[k] = i;
		p->n_unmerged++;
		rc = mls_tree_set_parent(t, x, p);
		if (rc != EPOCH_OK)
			break;
	}
	free(p);
	if (rc != EPOCH_OK)
		goto fail;
	*index = i;
	return EPOCH_OK;
fail:
	mls_tree_blank(t, 2 * i);
	if (grown)
		t->n_leaves = old;
	return rc;
}

static void blank_direct_path(struct mls_tree *t, uint32_t i)
{
	uint32_t x = 2 * i, root = mls_tree_root(t->n_leaves);

	while (x != root) {
		x = mls_tree_parent(x, t->n_leaves);
		mls_tree_blank(t, x);
	}
}

int mls_tree_update_leaf(struct mls_tree *t, uint32_t i,
			 const uint8_t *leaf_enc, size_t leaf_len)
{
	if (!t || !leaf_enc || i >= t->n_leaves || !t->nodes[2 * i].type)
		return EPOCH_ERR_INVALID_ARG;
	GUARD(mls_tree_set_node(t, 2 * i, MLS_NODE_LEAF, leaf_enc, leaf_len));
	blank_direct_path(t, i);
	return EPOCH_OK;
}

int mls_tree_remove_leaf(struct mls_tree *t, uint32_t i)
{
	uint32_t last = 0, nl;

	if (!t || i >= t->n_leaves || !t->nodes[2 * i].type)
		return EPOCH_ERR_INVALID_ARG;
	mls_tree_blank(t, 2 * i);
	blank_direct_path(t, i);
	/* Truncate: 2^d leaves for the smallest d with 2^d > the rightmost
	 * non-blank leaf. */
	for (uint32_t j = 0; j < t->n_leaves; j++)
		if (t->nodes[2 * j].type)
			last = j;
	nl = 1;
	while (nl <= last)
		nl *= 2;
	for (uint32_t x = mls_tree_width(nl); x < width(t); x++)
		mls_tree_blank(t, x);
	t->n_leaves = nl;
	return EPOCH_OK;
}

/* ---- private keys -------------------------------------------------------- */

int mls_tree_set_private(struct mls_tree *t, uint32_t x,
			 const struct hpke_keypair *kp)
{
	const struct codec_slice *k;

	if (!t || !kp || x >= width(t))
		return EPOCH_ERR_INVALID_ARG;
	k = node_enc_key(&t->nodes[x]);
	if (!k || k->len != kp->pk_len || memcmp(k->p, kp->pk, k->len))
		return EPOCH_ERR_INVALID_KEY;
	return mls_tree_store_private(t, x, kp);
}

bool mls_tree_has_private(const struct mls_tree *t, uint32_t x)
{
	return t && x < width(t) && t->nodes[x].priv;
}

int mls_tree_get_private(const struct mls_tree *t, uint32_t x,
			 struct hpke_keypair *out)
{
	if (!out || !mls_tree_has_private(t, x))
		return EPOCH_ERR_INVALID_ARG;
	*out = *t->nodes[x].priv;
	return EPOCH_OK;
}

int mls_tree_install_path_secret(struct mls_tree *t, uint32_t me, uint32_t x,
				 const uint8_t *path_secret)
{
	uint32_t fdp[32];
	uint8_t ps[MLS_MAX_NH], ns[MLS_MAX_NH];
	struct hpke_keypair kp;
	size_t n, k;
	size_t nh;
	int rc;

	if (!t || !path_secret || me >= t->n_leaves)
		return EPOCH_ERR_INVALID_ARG;
	nh = t->s->nh;
	GUARD(mls_tree_filtered_direct_path(t, me, fdp, 32, &n));
	for (k = 0; k < n && fdp[k] != x; k++)
		;
	if (k == n)
		return EPOCH_ERR_INVALID_ARG;
	memcpy(ps, path_secret, nh);
	for (rc = EPOCH_OK; k < n; k++) {
		GUARD_GOTO(rc, mls_derive_secret(t->s, ps, nh, "node", ns),
			   out);
		GUARD_GOTO(rc, mls_derive_keypair(t->s, ns, nh, &kp), out);
		rc = mls_tree_set_private(t, fdp[k], &kp);
		hpke_keypair_wipe(&kp);
		if (rc != EPOCH_OK)
			goto out;
		GUARD_GOTO(rc, mls_derive_secret(t->s, ps, nh, "path", ns),
			   out);
		memcpy(ps, ns, nh);
	}
out:
	crypto_wipe(ps, sizeof(ps));
	crypto_wipe(ns, sizeof(ns));
	return rc;
}
