/* Tree math for left-balanced binary trees (RFC 9420 §4.1, Appendix C).
 *
 * Leaf i is node 2i; a node's level is its number of trailing one bits.
 * RFC 9420 trees always have a power-of-two number of leaves; the right
 * child and parent functions also handle other sizes by stepping past
 * nodes outside the tree, as the drafts did. */
#include "proto/mls.h"

static uint32_t log2_floor(uint32_t x)
{
	uint32_t k = 0;

	while ((x >> (k + 1)) > 0)
		k++;
	return k;
}

uint32_t mls_tree_width(uint32_t n_leaves)
{
	if (n_leaves == 0 || n_leaves > (UINT32_MAX >> 1))
		return 0;
	return 2 * (n_leaves - 1) + 1;
}

uint32_t mls_tree_level(uint32_t x)
{
	uint32_t k = 0;

	while (k < 32 && ((x >> k) & 1) == 1)
		k++;
	return k;
}

uint32_t mls_tree_root(uint32_t n_leaves)
{
	uint32_t w = mls_tree_width(n_leaves);

	if (w == 0)
		return MLS_NODE_NONE;
	return (1u << log2_floor(w)) - 1;
}

uint32_t mls_tree_left(uint32_t x)
{
	uint32_t k = mls_tree_level(x);

	if (k == 0 || k >= 31)
		return MLS_NODE_NONE;
	return x ^ (1u << (k - 1));
}

uint32_t mls_tree_right(uint32_t x, uint32_t n_leaves)
{
	uint32_t k = mls_tree_level(x), w = mls_tree_width(n_leaves), r;

	if (k == 0 || k >= 31 || x >= w)
		return MLS_NODE_NONE;
	r = x ^ (3u << (k - 1));
	while (r >= w)
		r = mls_tree_left(r);
	return r;
}

/* The parent in the infinite tree. */
static uint32_t parent_step(uint32_t x)
{
	uint32_t k = mls_tree_level(x), b;

	if (k >= 30)
		return MLS_NODE_NONE;
	b = (x >> (k + 1)) & 1;
	return (x | (1u << k)) ^ (b << (k + 1));
}

uint32_t mls_tree_parent(uint32_t x, uint32_t n_leaves)
{
	uint32_t w = mls_tree_width(n_leaves), p;

	if (x >= w || x == mls_tree_root(n_leaves))
		return MLS_NODE_NONE;
	p = parent_step(x);
	while (p != MLS_NODE_NONE && p >= w)
		p = parent_step(p);
	return p;
}

uint32_t mls_tree_sibling(uint32_t x, uint32_t n_leaves)
{
	uint32_t p = mls_tree_parent(x, n_leaves);

	if (p == MLS_NODE_NONE)
		return MLS_NODE_NONE;
	if (x < p)
		return mls_tree_right(p, n_leaves);
	return mls_tree_left(p);
}

int mls_tree_direct_path(uint32_t x, uint32_t n_leaves, uint32_t *out,
			 size_t cap, size_t *n)
{
	uint32_t root = mls_tree_root(n_leaves);

	if (!n || x >= mls_tree_width(n_leaves))
		return EPOCH_ERR_INVALID_ARG;
	*n = 0;
	while (x != root) {
		x = mls_tree_parent(x, n_leaves);
		if (*n >= cap)
			return EPOCH_ERR_NO_SPACE;
		out[(*n)++] = x;
	}
	return EPOCH_OK;
}

int mls_tree_copath(uint32_t x, uint32_t n_leaves, uint32_t *out, size_t cap,
		    size_t *n)
{
	uint32_t root = mls_tree_root(n_leaves);

	if (!n || x >= mls_tree_width(n_leaves))
		return EPOCH_ERR_INVALID_ARG;
	*n = 0;
	/* The siblings of x and of each direct-path node below the root. */
	while (x != root) {
		if (*n >= cap)
			return EPOCH_ERR_NO_SPACE;
		out[(*n)++] = mls_tree_sibling(x, n_leaves);
		x = mls_tree_parent(x, n_leaves);
	}
	return EPOCH_OK;
}
