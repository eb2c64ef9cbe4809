/* struct mls_tree and helpers shared by proto/mls_tree.c and
 * proto/mls_treekem.c; not part of the API. */
#ifndef EPOCHD_MLS_TREE_INT_H
#define EPOCHD_MLS_TREE_INT_H

#include "proto/mls.h"

#define MLS_TREE_MAX_NODES (2 * MLS_TREE_MAX_LEAVES - 1)

/* One node: type 0 is blank. enc is the node's own copy of the LeafNode
 * or ParentNode encoding; leaf / parent point into it. */
struct mls_tree_node {
	uint8_t type;
	uint8_t *enc;
	size_t enc_len;
	struct mls_leaf_node *leaf;
	struct mls_parent_node *parent;
	struct hpke_keypair *priv;
};

struct mls_tree {
	const struct mls_suite *s;
	uint32_t n_leaves;
	struct mls_tree_node nodes[MLS_TREE_MAX_NODES];
};

/* Blanks node x (its private key wiped). */
void mls_tree_blank(struct mls_tree *t, uint32_t x);
/* Node x becomes the given encoding (type MLS_NODE_LEAF / _PARENT); its
 * private key is dropped. */
int mls_tree_set_node(struct mls_tree *t, uint32_t x, uint8_t type,
		      const uint8_t *enc, size_t len);
/* Node x becomes the parent node p (encoded and stored). */
int mls_tree_set_parent(struct mls_tree *t, uint32_t x,
			const struct mls_parent_node *p);
/* Stores a copy of kp as the private key of x, no check. */
int mls_tree_store_private(struct mls_tree *t, uint32_t x,
			   const struct hpke_keypair *kp);
/* ParentHash(P) as the child on the other side of `sibling` stores it:
 * Hash(ParentHashInput { P.encryption_key, P.parent_hash,
 * TreeHash(sibling) with P's unmerged leaves blanked }). */
int mls_tree_parent_hash(const struct mls_tree *t, uint32_t p,
			 uint32_t sibling, uint8_t *out);
/* True if the leaf's LeafNode or any other node has this encryption key
 * (node `skip` is not looked at). */
bool mls_tree_has_encryption_key(const struct mls_tree *t, const uint8_t *key,
				 size_t len, uint32_t skip);
/* Is leaf l below node x? */
bool mls_tree_in_subtree(uint32_t x, uint32_t l);

#endif
