/* Ratchet tree (RFC 9420 §4, §7) and TreeKEM: the tree a group holds, its
 * hashes, validation, proposal application and UpdatePath creation and
 * processing. Included from proto/mls.h; not a module of its own.
 *
 * struct mls_tree owns everything it holds: each non-blank node keeps its
 * own copy of its encoding (LeafNode or ParentNode) and the decoded form
 * pointing into that copy, plus the HPKE private key where this member knows
 * it. mls_tree_free() wipes private keys. Trees are sized for whatever the
 * test vectors use (up to MLS_TREE_MAX_LEAVES leaves); the run-time groups
 * have two leaves.
 */
#ifndef EPOCHD_MLS_TREE_H
#define EPOCHD_MLS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"
#include "proto/hpke.h"
#include "proto/result.h"

#define MLS_TREE_MAX_LEAVES 128 /* MLS_MAX_TREE_NODES / 2 */

struct mls_suite;
struct mls_leaf_node;
struct mls_parent_node;
struct mls_update_path;
struct mls_group_context;

struct mls_tree;

/* KEM.DeriveKeyPair as MLS uses it for this suite (node keys, external
 * key). For DHKEM(X25519) this is RFC 9180 DeriveKeyPair; for the X-Wing
 * suite it is the X-Wing draft's seed = SHAKE256(ikm, 32), what ts-mls and
 * @hpke/hybridkem-x-wing do (docs/mls-suites.md §3), not hpke-pq's labeled
 * derive. */
int mls_derive_keypair(const struct mls_suite *s, const uint8_t *ikm,
		       size_t ikm_len, struct hpke_keypair *kp);

/* ---- life cycle ----------------------------------------------------------- */

/* An empty tree (zero leaves). */
int mls_tree_new(struct mls_tree **t, const struct mls_suite *s);
/* A tree from the ratchet_tree extension's data (optional<Node> nodes<V>,
 * with its length prefix) as in a GroupInfo or the test vectors. Checks the
 * structure only: leaves at even, parents at odd indices, the last node
 * non-blank, at most MLS_TREE_MAX_LEAVES leaves; EPOCH_ERR_TREE or a decode
 * error otherwise. */
int mls_tree_decode(struct mls_tree **t, const struct mls_suite *s,
		    const uint8_t *buf, size_t len);
/* Appends the ratchet_tree encoding (with length prefix, trailing blank
 * nodes stripped) to w. */
int mls_tree_encode(const struct mls_tree *t, struct codec_writer *w);
/* A deep copy, private keys included. */
int mls_tree_clone(const struct mls_tree *t, struct mls_tree **out);
void mls_tree_free(struct mls_tree *t);

/* ---- queries -------------------------------------------------------------- */

uint32_t mls_tree_n_leaves(const struct mls_tree *t);
/* The decoded leaf at leaf index i, borrowed from the tree (valid until
 * the tree changes); NULL if blank or out of range. */
const struct mls_leaf_node *mls_tree_leaf(const struct mls_tree *t,
					  uint32_t i);
/* The encoded LeafNode at leaf index i (borrowed); EPOCH_ERR_INVALID_ARG
 * if blank or out of range. */
int mls_tree_leaf_bytes(const struct mls_tree *t, uint32_t i,
			const uint8_t **p, size_t *len);
/* The decoded parent node at node index x (odd), or NULL if blank. */
const struct mls_parent_node *mls_tree_parent_node(const struct mls_tree *t,
						   uint32_t x);
/* Resolution of node x (§4.1.1): node indices in order, *n the count. */
int mls_tree_resolution(const struct mls_tree *t, uint32_t x, uint32_t *out,
			size_t cap, size_t *n);
/* Filtered direct path of leaf i (§4.1.2): node indices, leaf side up. */
int mls_tree_filtered_direct_path(const struct mls_tree *t, uint32_t i,
				  uint32_t *out, size_t cap, size_t *n);
/* The leaf index whose leaf has this signature key, or MLS_NODE_NONE. */
uint32_t mls_tree_find_signature_key(const struct mls_tree *t,
				     const uint8_t *key, size_t key_len);

/* ---- hashes --------------------------------------------------------------- */

/* TreeHash of node x (§7.8); out receives Nh bytes. */
int mls_tree_node_hash(const struct mls_tree *t, uint32_t x, uint8_t *out);
/* TreeHash of the root (the GroupContext's tree_hash). */
int mls_tree_root_hash(const struct mls_tree *t, uint8_t *out);
/* EPOCH_OK if every non-blank parent node is parent-hash valid (§7.9.2),
 * EPOCH_ERR_PARENT_HASH if not. */
int mls_tree_verify_parent_hashes(const struct mls_tree *t);

/* ---- validation (§7.3, §12.4.3.1) ---------------------------------------- */

/* LeafNodeTBS signing and verification (§7.2). group_id and leaf_index are
 * used for sources update and commit only. sk: Ed25519 seed (32 bytes). */
int mls_leaf_node_sign(const struct mls_suite *s,
		       struct mls_leaf_node *leaf, const uint8_t *sk,
		       size_t sk_len, const uint8_t *group_id,
		       size_t group_id_len, uint32_t leaf_index,
		       uint8_t *sig_buf, size_t sig_cap);
int mls_leaf_node_verify(const struct mls_suite *s,
			 const struct mls_leaf_node *leaf,
			 const uint8_t *group_id, size_t group_id_len,
			 uint32_t leaf_index);

/* Everything a joiner checks on a tree it receives (§12.4.3.1): each leaf's
 * signature and leaf-node validity (suite and credential type covered by
 * its capabilities), parent hashes, unmerged leaves (each a non-blank leaf
 * below the node, and listed at every intermediate node), encryption and
 * signature keys unique across the tree. The tree hash is compared by the
 * caller against the GroupContext. Specific errors: EPOCH_ERR_SIGNATURE,
 * EPOCH_ERR_PARENT_HASH, EPOCH_ERR_DUPLICATE_KEY, EPOCH_ERR_CAPABILITIES,
 * EPOCH_ERR_TREE, and EPOCH_ERR_INVALID_KEY for an encryption key that is
 * not the KEM's public-key size. Lifetimes and extension support are not
 * checked here. */
int mls_tree_validate(const struct mls_tree *t, const uint8_t *group_id,
		      size_t group_id_len);

/* ---- proposal application (§12.1) ---------------------------------------- */

/* Adds the KeyPackage's leaf (leaf_enc: the encoded LeafNode) at the
 * leftmost blank leaf or a new one at the right, and adds it to the
 * unmerged leaves of its non-blank direct-path nodes. *index receives the
 * leaf index. */
int mls_tree_add_leaf(struct mls_tree *t, const uint8_t *leaf_enc,
		      size_t leaf_len, uint32_t *index);
/* Replaces leaf i and blanks its direct path (Update). */
int mls_tree_update_leaf(struct mls_tree *t, uint32_t i,
			 const uint8_t *leaf_enc, size_t leaf_len);
/* Blanks leaf i and its direct path and truncates trailing blank leaves
 * (Remove). */
int mls_tree_remove_leaf(struct mls_tree *t, uint32_t i);

/* ---- private keys ---------------------------------------------------------- */

/* Sets the HPKE private key of node x (leaf: 2*i). The public key must
 * match the node's encryption key: EPOCH_ERR_INVALID_KEY if not. */
int mls_tree_set_private(struct mls_tree *t, uint32_t x,
			 const struct hpke_keypair *kp);
bool mls_tree_has_private(const struct mls_tree *t, uint32_t x);
/* A copy of node x's key pair (for saving a group); the caller wipes it.
 * EPOCH_ERR_INVALID_ARG if the tree holds none for x. */
int mls_tree_get_private(const struct mls_tree *t, uint32_t x,
			 struct hpke_keypair *out);

/* A joiner's GroupSecrets.path_secret (§12.4.3.1): path_secret is the
 * secret of node x (the lowest common ancestor of the joiner and the
 * committer); derives the key pairs of x and of every non-blank node above
 * it on the joiner's filtered direct path, checks each public key against
 * the tree (EPOCH_ERR_INVALID_KEY) and stores the private keys. */
int mls_tree_install_path_secret(struct mls_tree *t, uint32_t me, uint32_t x,
				 const uint8_t *path_secret);

/* ---- TreeKEM (§7.4-7.6, §12.4.1-12.4.2) --------------------------------- */

/* Creating a path for leaf `from`. The caller has applied the commit's
 * proposals to t. This: draws leaf_secret (or uses path_secret_in when
 * non-NULL, for tests), derives path secrets up the filtered direct path,
 * sets the new public/private keys of those nodes (clearing unmerged
 * leaves), computes parent hashes, builds the new LeafNode (source commit)
 * from `leaf_template` (its encryption key and parent hash replaced, signed
 * with sig_sk over group_id and `from`), puts it in the tree, then fills
 * gc->tree_hash with the new root hash (gc is the provisional GroupContext
 * of §12.4.2: epoch already +1; its tree_hash must point at a buffer of Nh
 * bytes the caller owns) and encrypts each path secret to the resolution of
 * the copath child minus the leaves in `exclude` (the leaves added by this
 * commit), with EncryptWithLabel("UpdatePathNode", GroupContext).
 *
 * Outputs: the encoded UpdatePath appended to `path_out`; commit_secret
 * (Nh bytes); for each leaf in `exclude` the path secret of the lowest
 * common ancestor with `from` (for its GroupSecrets), in
 * joiner_path_secrets[k] (Nh bytes each, same order as exclude), with
 * joiner_has_path_secret[k] false if that ancestor is not on the filtered
 * direct path. */
struct mls_treekem_out {
	uint8_t commit_secret[64];
	uint8_t joiner_path_secrets[4][64];
	uint32_t joiner_path_node[4]; /* the node x of each joiner's secret */
	bool joiner_has_path_secret[4];
};
int mls_treekem_encap(struct mls_tree *t, uint32_t from,
		      const struct crypto_rng *rng,
		      const uint8_t *path_secret_in,
		      const struct mls_leaf_node *leaf_template,
		      const uint8_t *sig_sk, size_t sig_sk_len,
		      struct mls_group_context *gc, const uint32_t *exclude,
		      size_t n_exclude, struct codec_writer *path_out,
		      struct mls_treekem_out *out);

/* Processing a member's UpdatePath as member `me` (§12.4.2): checks the
 * LeafNode (source commit, signature over group_id and `from`, encryption
 * key unique), that the path has one node per filtered-direct-path node of
 * `from` and one ciphertext per resolution entry minus `exclude`, merges the
 * public keys and the new leaf into t, verifies the parent hashes along the
 * path (EPOCH_ERR_PARENT_HASH), fills gc->tree_hash as encap does, decrypts
 * the path secret meant for `me` with the private key of the right node of
 * its resolution, derives the private keys of the common ancestors and
 * their parents and checks each against the public keys in the path
 * (EPOCH_ERR_INVALID_KEY), and returns commit_secret (Nh bytes).
 * Errors: EPOCH_ERR_LEAF_SOURCE, EPOCH_ERR_SIGNATURE,
 * EPOCH_ERR_DUPLICATE_KEY (leaf key already in the tree),
 * EPOCH_ERR_INVALID_KEY (a key of the wrong size or not matching its
 * secret), EPOCH_ERR_TREE (node or ciphertext count), EPOCH_ERR_PARENT_HASH,
 * EPOCH_ERR_STATE (no private key to decrypt with), HPKE errors. Both
 * encap and decap work on a copy and leave t unchanged on error. */
int mls_treekem_decap(struct mls_tree *t, uint32_t me, uint32_t from,
		      const struct mls_update_path *path,
		      struct mls_group_context *gc, const uint32_t *exclude,
		      size_t n_exclude, uint8_t *commit_secret);

#endif
