/* Secret tree and hash ratchets (RFC 9420 §9). */
#include <stdlib.h>
#include <string.h>

#include "proto/crypto.h"
#include "proto/mls.h"
#include "proto/mls_int.h"

/* Far more than a two-member group needs; keeps the arrays small. */
#define MLS_SECRET_TREE_MAX_LEAVES (1u << 16)

struct ratchet {
	uint8_t secret[MLS_MAX_NH]; /* ratchet_secret_[i]_[next] */
	uint32_t next;              /* generation of secret */
	int started;
	int exhausted;              /* next would overflow uint32 */
};

struct mls_secret_tree {
	const struct mls_suite *s;
	uint32_t n_leaves, width;
	uint8_t (*node)[MLS_MAX_NH];
	uint8_t *have;               /* node[x] holds a secret */
	struct ratchet *r;           /* 2 per leaf: handshake, application */
};

void mls_secret_tree_free(struct mls_secret_tree *t)
{
	if (!t)
		return;
	if (t->node)
		crypto_wipe(t->node, (size_t)t->width * sizeof(*t->node));
	if (t->r)
		crypto_wipe(t->r, (size_t)t->n_leaves * 2 * sizeof(*t->r));
	free(t->node);
	free(t->have);
	free(t->r);
	crypto_wipe(t, sizeof(*t));
	free(t);
}

int mls_secret_tree_new(struct mls_secret_tree **out, const struct mls_suite *s,
			const uint8_t *encryption_secret, uint32_t n_leaves)
{
	struct mls_secret_tree *t;

	if (!out || !s || !encryption_secret || n_leaves == 0 ||
	    n_leaves > MLS_SECRET_TREE_MAX_LEAVES)
		return EPOCH_ERR_INVALID_ARG;
	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return EPOCH_ERR_NOMEM;
	t->s = s;
	t->n_leaves = n_leaves;
	t->width = mls_tree_width(n_leaves);
	t->node = calloc(t->width, sizeof(*t->node));
	t->have = calloc(t->width, 1);
	t->r = calloc((size_t)n_leaves * 2, sizeof(*t->r));
	if (!t->node || !t->have || !t->r) {
		mls_secret_tree_free(t);
		return EPOCH_ERR_NOMEM;
	}
	/* tree_node_[root]_secret = encryption_secret */
	uint32_t root = mls_tree_root(n_leaves);
	memcpy(t->node[root], encryption_secret, s->nh);
	t->have[root] = 1;
	*out = t;
	return EPOCH_OK;
}

/* Derives both children of p from its secret, then wipes p's (§9: a node
 * secret is deleted once its children's are derived). */
static int split(struct mls_secret_tree *t, uint32_t p)
{
	uint32_t l = mls_tree_left(p), r = mls_tree_right(p, t->n_leaves);
	size_t nh = t->s->nh;

	if (l == MLS_NODE_NONE || r == MLS_NODE_NONE)
		return EPOCH_ERR_STATE;
	GUARD(mls_expand_with_label(t->s, t->node[p], nh, "tree",
				    (const uint8_t *)"left", 4, t->node[l],
				    nh));
	GUARD(mls_expand_with_label(t->s, t->node[p], nh, "tree",
				    (const uint8_t *)"right", 5, t->node[r],
				    nh));
	t->have[l] = t->have[r] = 1;
	crypto_wipe(t->node[p], sizeof(t->node[p]));
	t->have[p] = 0;
	return EPOCH_OK;
}

/* Starts both ratchets of a leaf from its node secret, which is wiped. */
static int start_leaf(struct mls_secret_tree *t, uint32_t leaf)
{
	uint32_t x = 2 * leaf, path[32];
	size_t n = 0, nh = t->s->nh;
	struct ratchet *hs = &t->r[2 * leaf], *app = &t->r[2 * leaf + 1];

	if (!t->have[x]) {
		/* Walk down from the root, splitting every node that still
		 * holds a secret. */
		GUARD(mls_tree_direct_path(x, t->n_leaves, path, 32, &n));
		while (n-- > 0)
			if (t->have[path[n]])
				GUARD(split(t, path[n]));
		if (!t->have[x])
			return EPOCH_ERR_STATE;
	}
	GUARD(mls_expand_with_label(t->s, t->node[x], nh, "handshake", NULL,
				    0, hs->secret, nh));
	GUARD(mls_expand_with_label(t->s, t->node[x], nh, "application", NULL,
				    0, app->secret, nh));
	hs->started = app->started = 1;
	crypto_wipe(t->node[x], sizeof(t->node[x]));
	t->have[x] = 0;
	return EPOCH_OK;
}

/* ratchet_secret_[j+1] = DeriveTreeSecret(ratchet_secret_[j], "secret",
 * j, Nh), replacing and so wiping secret j. */
static int step(const struct mls_suite *s, struct ratchet *r)
{
	uint8_t next[MLS_MAX_NH];
	int rc;

	if (r->exhausted)
		return EPOCH_ERR_STATE;
	rc = mls_derive_tree_secret(s, r->secret, s->nh, "secret", r->next,
				    next, s->nh);
	if (rc == EPOCH_OK) {
		memcpy(r->secret, next, s->nh);
		if (r->next == UINT32_MAX)
			r->exhausted = 1;
		else
			r->next++;
	}
	crypto_wipe(next, sizeof(next));
	return rc;
}

int mls_secret_tree_key(struct mls_secret_tree *t, uint32_t leaf,
			enum mls_ratchet_type type, uint32_t generation,
			struct mls_ratchet_key *out)
{
	const struct mls_suite *s;
	struct ratchet *r;
	int rc;

	if (!t || !out || leaf >= t->n_leaves ||
	    (type != MLS_RATCHET_HANDSHAKE && type != MLS_RATCHET_APPLICATION))
		return EPOCH_ERR_INVALID_ARG;
	s = t->s;
	r = &t->r[2 * leaf + (type == MLS_RATCHET_APPLICATION)];
	if (!r->started)
		GUARD(start_leaf(t, leaf));
	if (r->exhausted || generation < r->next)
		return EPOCH_ERR_STATE;
	if (generation - r->next > MLS_MAX_GENERATION_JUMP)
		return EPOCH_ERR_INVALID_ARG;
	while (r->next < generation)
		GUARD(step(s, r));
	memset(out, 0, sizeof(*out));
	out->generation = generation;
	out->key_len = s->nk;
	out->nonce_len = s->nn;
	GUARD_GOTO(rc, mls_derive_tree_secret(s, r->secret, s->nh, "key",
					      generation, out->key, s->nk),
		   fail);
	GUARD_GOTO(rc, mls_derive_tree_secret(s, r->secret, s->nh, "nonce",
					      generation, out->nonce, s->nn),
		   fail);
	/* The key is handed out once: move past this generation. */
	GUARD_GOTO(rc, step(s, r), fail);
	return EPOCH_OK;
fail:
	crypto_wipe(out, sizeof(*out));
	return rc;
}
