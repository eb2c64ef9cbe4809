/* TreeKEM (RFC 9420 §7.4-7.6, §12.4.1-12.4.2): creating and processing an
 * UpdatePath. See proto/mls_tree.h. Both directions work on a copy of the
 * tree and swap it in on success, so a failed call leaves t as it was. */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/crypto.h"
#include "proto/mls.h"
#include "proto/mls_int.h"
#include "proto/mls_tree_int.h"

#define WMAX (1u << 22)
#define MAX_PATH 32

/* The filtered direct path of `from` with the copath child of each node. */
struct fpath {
	size_t n;
	uint32_t node[MAX_PATH];
	uint32_t copath[MAX_PATH];
};

static int fpath_get(const struct mls_tree *t, uint32_t from,
		     struct fpath *fp)
{
	GUARD(mls_tree_filtered_direct_path(t, from, fp->node, MAX_PATH,
					    &fp->n));
	for (size_t k = 0; k < fp->n; k++) {
		uint32_t l = mls_tree_left(fp->node[k]);

		fp->copath[k] = mls_tree_in_subtree(l, from)
					? mls_tree_right(fp->node[k],
							 t->n_leaves)
					: l;
	}
	return EPOCH_OK;
}

/* Resolution of x without the nodes of the leaves in ex. */
static int res_excl(const struct mls_tree *t, uint32_t x, const uint32_t *ex,
		    size_t nex, uint32_t *out, size_t *n)
{
	size_t m = 0;

	GUARD(mls_tree_resolution(t, x, out, MLS_TREE_MAX_NODES, n));
	for (size_t i = 0; i < *n; i++) {
		bool drop = false;

		for (size_t j = 0; j < nex; j++)
			if (out[i] == 2 * ex[j])
				drop = true;
		if (!drop)
			out[m++] = out[i];
	}
	*n = m;
	return EPOCH_OK;
}

/* Swaps the contents of a and b (same suite). */
static void tree_swap(struct mls_tree *a, struct mls_tree *b)
{
	struct mls_tree *tmp = malloc(sizeof(*tmp));

	if (tmp) {
		*tmp = *a;
		*a = *b;
		*b = *tmp;
		free(tmp);
	} else {
		/* Byte-wise swap without a temporary copy. */
		uint8_t *pa = (uint8_t *)a, *pb = (uint8_t *)b;

		for (size_t i = 0; i < sizeof(*a); i++) {
			uint8_t c = pa[i];

			pa[i] = pb[i];
			pb[i] = c;
		}
	}
}

/* Blanks the direct path of `from`, then sets the filtered-path nodes from
 * the public keys (top down, each with the parent hash of the one above)
 * and returns in ph the parent hash the leaf must carry (Nh bytes, or
 * *ph_len 0 for an empty path). */
static int merge_path(struct mls_tree *t, uint32_t from,
		      const struct fpath *fp, const struct codec_slice *keys,
		      uint8_t *ph, size_t *ph_len)
{
	struct mls_parent_node *p = calloc(1, sizeof(*p));
	uint8_t cur[MLS_MAX_NH];
	uint32_t x = 2 * from, root = mls_tree_root(t->n_leaves);
	int rc = EPOCH_OK;

	if (!p)
		return EPOCH_ERR_NOMEM;
	while (x != root) {
		x = mls_tree_parent(x, t->n_leaves);
		mls_tree_blank(t, x);
	}
	*ph_len = 0;
	for (size_t k = fp->n; k-- > 0;) {
		p->encryption_key = keys[k];
		p->parent_hash.p = cur;
		p->parent_hash.len = *ph_len;
		p->n_unmerged = 0;
		GUARD_GOTO(rc, mls_tree_set_parent(t, fp->node[k], p), out);
		GUARD_GOTO(rc, mls_tree_parent_hash(t, fp->node[k],
						    fp->copath[k], cur),
			   out);
		*ph_len = t->s->nh;
	}
	memcpy(ph, cur, *ph_len);
out:
	free(p);
	return rc;
}

static int gc_hash_encode(const struct mls_tree *t,
			  struct mls_group_context *gc, struct codec_writer *w)
{
	GUARD(mls_tree_root_hash(t, (uint8_t *)gc->tree_hash));
	gc->tree_hash_len = t->s->nh;
	return mls_group_context_encode(w, gc);
}

int mls_treekem_encap(struct mls_tree *t, uint32_t from,
		      const struct crypto_rng *rng,
		      const uint8_t *path_secret_in,
		      const struct mls_leaf_node *leaf_template,
		      const uint8_t *sig_sk, size_t sig_sk_len,
		      struct mls_group_context *gc, const uint32_t *exclude,
		      size_t n_exclude, struct codec_writer *path_out,
		      struct mls_treekem_out *out)
{
	struct {
		struct fpath fp;
		uint8_t ps[MAX_PATH][MLS_MAX_NH];
		uint8_t secret[MLS_MAX_NH], ns[MLS_MAX_NH];
		struct hpke_keypair kp[MAX_PATH], leaf_kp;
		struct codec_slice keys[MAX_PATH];
		uint8_t ph[MLS_MAX_NH];
		uint8_t sig[MLS_ED25519_SIG_LEN];
		uint32_t res[MLS_TREE_MAX_NODES];
		uint8_t kem[HPKE_MAX_ENC], ct[MLS_MAX_NH + 16];
		struct mls_leaf_node leaf;
	} *v = NULL;
	struct mls_tree *c = NULL;
	struct codec_writer gcw, lw;
	size_t nh, ph_len, nres, kl, cl, mark;
	int rc;

	if (!t || !leaf_template || !sig_sk || !gc || !gc->tree_hash ||
	    !path_out || !out || (n_exclude && !exclude) || n_exclude > 4 ||
	    from >= t->n_leaves || !t->nodes[2 * from].type)
		return EPOCH_ERR_INVALID_ARG;
	nh = t->s->nh;
	codec_writer_init_dynamic(&gcw, WMAX);
	codec_writer_init_dynamic(&lw, WMAX);
	v = calloc(1, sizeof(*v));
	if (!v) {
		rc = EPOCH_ERR_NOMEM;
		goto out;
	}
	GUARD_GOTO(rc, mls_tree_clone(t, &c), out);
	GUARD_GOTO(rc, fpath_get(c, from, &v->fp), out);

	/* Path secrets up the filtered direct path and their key pairs. */
	if (path_secret_in)
		memcpy(v->secret, path_secret_in, nh);
	else
		GUARD_GOTO(rc, crypto_random(rng, v->secret, nh), out);
	for (size_t k = 0; k < v->fp.n; k++) {
		memcpy(v->ps[k], v->secret, nh);
		GUARD_GOTO(rc, mls_derive_secret(c->s, v->ps[k], nh, "node",
						 v->ns),
			   out);
		GUARD_GOTO(rc, mls_derive_keypair(c->s, v->ns, nh, &v->kp[k]),
			   out);
		v->keys[k].p = v->kp[k].pk;
		v->keys[k].len = v->kp[k].pk_len;
		GUARD_GOTO(rc, mls_derive_secret(c->s, v->ps[k], nh, "path",
						 v->secret),
			   out);
	}
	if (!v->fp.n)
		GUARD_GOTO(rc, mls_derive_secret(c->s, v->secret, nh, "path",
						 v->secret),
			   out);
	memcpy(out->commit_secret, v->secret, nh);

	/* A fresh leaf key. */
	GUARD_GOTO(rc, crypto_random(rng, v->ns, nh), out);
	GUARD_GOTO(rc, mls_derive_keypair(c->s, v->ns, nh, &v->leaf_kp), out);

	/* The new nodes, their parent hashes and the private keys. */
	GUARD_GOTO(rc, merge_path(c, from, &v->fp, v->keys, v->ph, &ph_len),
		   out);
	for (size_t k = 0; k < v->fp.n; k++)
		GUARD_GOTO(rc, mls_tree_store_private(c, v->fp.node[k],
						      &v->kp[k]),
			   out);

	/* The new LeafNode, source commit, signed over group_id and from. */
	v->leaf = *leaf_template;
	v->leaf.encryption_key.p = v->leaf_kp.pk;
	v->leaf.encryption_key.len = v->leaf_kp.pk_len;
	v->leaf.source = MLS_LEAF_SRC_COMMIT;
	v->leaf.parent_hash.p = v->ph;
	v->leaf.parent_hash.len = ph_len;
	v->leaf.not_before = v->leaf.not_after = 0;
	GUARD_GOTO(rc, mls_leaf_node_sign(c->s, &v->leaf, sig_sk, sig_sk_len,
					  gc->group_id, gc->group_id_len, from,
					  v->sig, sizeof(v->sig)),
		   out);
	GUARD_GOTO(rc, mls_leaf_node_encode(&lw, &v->leaf), out);
	GUARD_GOTO(rc, mls_tree_set_node(c, 2 * from, MLS_NODE_LEAF, lw.buf,
					 lw.len),
		   out);
	GUARD_GOTO(rc, mls_tree_store_private(c, 2 * from, &v->leaf_kp), out);

	/* Provisional GroupContext with the new tree hash. */
	GUARD_GOTO(rc, gc_hash_encode(c, gc, &gcw), out);

	/* UpdatePath { leaf_node, nodes<V> }. */
	codec_write_bytes(path_out, lw.buf, lw.len);
	mark = codec_vec_begin(path_out);
	for (size_t k = 0; k < v->fp.n; k++) {
		size_t m2;

		codec_write_vec(path_out, v->kp[k].pk, v->kp[k].pk_len);
		GUARD_GOTO(rc, res_excl(c, v->fp.copath[k], exclude, n_exclude,
					v->res, &nres),
			   out);
		m2 = codec_vec_begin(path_out);
		for (size_t j = 0; j < nres; j++) {
			const struct codec_slice *pk =
				c->nodes[v->res[j]].type == MLS_NODE_LEAF
					? &c->nodes[v->res[j]]
						   .leaf->encryption_key
					: &c->nodes[v->res[j]]
						   .parent->encryption_key;

			GUARD_GOTO(rc, mls_encrypt_with_label(
					       c->s, rng, pk->p, pk->len,
					       "UpdatePathNode", gcw.buf,
					       gcw.len, v->ps[k], nh, v->kem,
					       sizeof(v->kem), &kl, v->ct,
					       sizeof(v->ct), &cl),
				   out);
			codec_write_vec(path_out, v->kem, kl);
			codec_write_vec(path_out, v->ct, cl);
		}
		GUARD_GOTO(rc, codec_vec_end(path_out, m2), out);
	}
	GUARD_GOTO(rc, codec_vec_end(path_out, mark), out);

	/* Each joiner's path secret: that of the lowest filtered-path node
	 * whose copath subtree holds it. */
	for (size_t j = 0; j < n_exclude; j++) {
		out->joiner_has_path_secret[j] = false;
		out->joiner_path_node[j] = MLS_NODE_NONE;
		for (size_t k = 0; k < v->fp.n; k++)
			if (mls_tree_in_subtree(v->fp.copath[k], exclude[j])) {
				memcpy(out->joiner_path_secrets[j], v->ps[k],
				       nh);
				out->joiner_path_node[j] = v->fp.node[k];
				out->joiner_has_path_secret[j] = true;
				break;
			}
	}
	tree_swap(t, c);
out:
	if (rc != EPOCH_OK)
		crypto_wipe(out, sizeof(*out));
	if (v) {
		for (size_t k = 0; k < MAX_PATH; k++)
			hpke_keypair_wipe(&v->kp[k]);
		crypto_wipe(v, sizeof(*v));
		free(v);
	}
	mls_tree_free(c);
	codec_writer_free(&gcw);
	codec_writer_free(&lw);
	return rc;
}

int mls_treekem_decap(struct mls_tree *t, uint32_t me, uint32_t from,
		      const struct mls_update_path *path,
		      struct mls_group_context *gc, const uint32_t *exclude,
		      size_t n_exclude, uint8_t *commit_secret)
{
	struct {
		struct fpath fp;
		struct codec_slice keys[MAX_PATH];
		uint32_t res[MLS_TREE_MAX_NODES];
		uint8_t ph[MLS_MAX_NH];
		uint8_t ps[MLS_MAX_NH], ns[MLS_MAX_NH];
		struct hpke_keypair kp;
	} *v = NULL;
	const struct mls_leaf_node *leaf;
	const struct hpke_keypair *sk = NULL;
	struct hpke_lens lens;
	struct mls_tree *c = NULL;
	struct codec_writer gcw, lw;
	size_t nh, nres, ph_len, kme = 0, jme = 0, pt_len;
	int rc;

	if (!t || !path || !gc || !gc->tree_hash || !commit_secret ||
	    (n_exclude && !exclude) || me == from || me >= t->n_leaves ||
	    from >= t->n_leaves || !t->nodes[2 * me].type)
		return EPOCH_ERR_INVALID_ARG;
	nh = t->s->nh;
	leaf = &path->leaf_node;
	if (leaf->source != MLS_LEAF_SRC_COMMIT)
		return EPOCH_ERR_LEAF_SOURCE;
	GUARD(mls_leaf_node_verify(t->s, leaf, gc->group_id, gc->group_id_len,
				   from));
	if (mls_tree_has_encryption_key(t, leaf->encryption_key.p,
					leaf->encryption_key.len,
					MLS_NODE_NONE))
		return EPOCH_ERR_DUPLICATE_KEY;
	/* Every public key of the path has the KEM's length. */
	GUARD(hpke_suite_lens(&t->s->hpke, &lens));
	if (leaf->encryption_key.len != lens.npk)
		return EPOCH_ERR_INVALID_KEY;
	for (size_t k = 0; k < path->n_nodes; k++)
		if (path->nodes[k].encryption_key.len != lens.npk)
			return EPOCH_ERR_INVALID_KEY;

	codec_writer_init_dynamic(&gcw, WMAX);
	codec_writer_init_dynamic(&lw, WMAX);
	v = calloc(1, sizeof(*v));
	if (!v) {
		rc = EPOCH_ERR_NOMEM;
		goto out;
	}
	GUARD_GOTO(rc, fpath_get(t, from, &v->fp), out);
	/* One path node per filtered-direct-path node, one ciphertext per
	 * resolution entry (joiners excluded). */
	if (path->n_nodes != v->fp.n) {
		rc = EPOCH_ERR_TREE;
		goto out;
	}
	for (size_t k = 0; k < v->fp.n; k++) {
		GUARD_GOTO(rc, res_excl(t, v->fp.copath[k], exclude, n_exclude,
					v->res, &nres),
			   out);
		if (path->nodes[k].n_secrets != nres) {
			rc = EPOCH_ERR_TREE;
			goto out;
		}
		v->keys[k] = path->nodes[k].encryption_key;
		if (!mls_tree_in_subtree(v->fp.copath[k], me))
			continue;
		/* me is below this copath child: the entry of its
		 * resolution whose private key we hold. */
		kme = k;
		for (jme = 0; jme < nres; jme++) {
			const struct mls_tree_node *nd = &t->nodes[v->res[jme]];

			if (nd->priv && mls_tree_in_subtree(v->res[jme], me)) {
				sk = nd->priv;
				break;
			}
		}
	}
	if (!sk) {
		rc = EPOCH_ERR_STATE;
		goto out;
	}

	/* Merge the path into a copy; the leaf must carry the parent hash
	 * that chains to the new nodes. */
	GUARD_GOTO(rc, mls_tree_clone(t, &c), out);
	GUARD_GOTO(rc, merge_path(c, from, &v->fp, v->keys, v->ph, &ph_len),
		   out);
	if (leaf->parent_hash.len != ph_len ||
	    (ph_len && memcmp(leaf->parent_hash.p, v->ph, ph_len))) {
		rc = EPOCH_ERR_PARENT_HASH;
		goto out;
	}
	GUARD_GOTO(rc, mls_leaf_node_encode(&lw, leaf), out);
	GUARD_GOTO(rc, mls_tree_set_node(c, 2 * from, MLS_NODE_LEAF, lw.buf,
					 lw.len),
		   out);
	GUARD_GOTO(rc, gc_hash_encode(c, gc, &gcw), out);

	/* Our path secret, then the keys from there to the root. */
	rc = mls_decrypt_with_label(
		t->s, sk->sk, sk->sk_len, "UpdatePathNode", gcw.buf, gcw.len,
		path->nodes[kme].secrets[jme].kem_output.p,
		path->nodes[kme].secrets[jme].kem_output.len,
		path->nodes[kme].secrets[jme].ciphertext.p,
		path->nodes[kme].secrets[jme].ciphertext.len, v->ps,
		sizeof(v->ps), &pt_len);
	if (rc != EPOCH_OK)
		goto out;
	if (pt_len != nh) {
		rc = EPOCH_ERR_MALFORMED;
		goto out;
	}
	for (size_t k = kme; k < v->fp.n; k++) {
		GUARD_GOTO(rc, mls_derive_secret(t->s, v->ps, nh, "node",
						 v->ns),
			   out);
		GUARD_GOTO(rc, mls_derive_keypair(t->s, v->ns, nh, &v->kp),
			   out);
		GUARD_GOTO(rc, mls_tree_set_private(c, v->fp.node[k], &v->kp),
			   out);
		GUARD_GOTO(rc, mls_derive_secret(t->s, v->ps, nh, "path",
						 v->ns),
			   out);
		memcpy(v->ps, v->ns, nh);
	}
	memcpy(commit_secret, v->ps, nh);
	tree_swap(t, c);
out:
	if (v) {
		hpke_keypair_wipe(&v->kp);
		crypto_wipe(v, sizeof(*v));
		free(v);
	}
	mls_tree_free(c);
	codec_writer_free(&gcw);
	codec_writer_free(&lw);
	return rc;
}
