/* Secret tree and hash ratchets (RFC 9420 §9). */
#include <stdlib.h>
#include <string.h>

#include "proto/crypto.h"
#include "proto/mls.h"
#include "proto/mls_int.h"

/* Far more than a two-member group needs; keeps the arrays small. */
#define MLS_SECRET_TREE_MAX_LEAVES (1u << 16)

/* The key and nonce of a generation skipped over, kept for a late
 * message. */
struct skipped {
	uint32_t generation;
	uint8_t key[MLS_MAX_NK];
	uint8_t nonce[MLS_MAX_NN];
};

struct ratchet {
	uint8_t secret[MLS_MAX_NH]; /* ratchet_secret_[i]_[next] */
	uint32_t next;              /* generation of secret */
	int started;
	int exhausted;              /* next would overflow uint32 */
	/* MLS_RATCHET_WINDOW slots, allocated at the first skip; the first
	 * n_win hold skipped generations in increasing order. */
	struct skipped *win;
	uint32_t n_win;
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
	if (t->r) {
		for (size_t i = 0; i < (size_t)t->n_leaves * 2; i++) {
			if (!t->r[i].win)
				continue;
			crypto_wipe(t->r[i].win, MLS_RATCHET_WINDOW *
							 sizeof(struct skipped));
			free(t->r[i].win);
		}
		crypto_wipe(t->r, (size_t)t->n_leaves * 2 * sizeof(*t->r));
	}
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

uint32_t mls_secret_tree_n_leaves(const struct mls_secret_tree *t)
{
	return t ? t->n_leaves : 0;
}

/* key and nonce of generation g from ratchet_secret_[i]_[g]. */
static int derive_key_nonce(const struct mls_suite *s, const uint8_t *secret,
			    uint32_t g, uint8_t *key, uint8_t *nonce)
{
	GUARD(mls_derive_tree_secret(s, secret, s->nh, "key", g, key, s->nk));
	return mls_derive_tree_secret(s, secret, s->nh, "nonce", g, nonce,
				      s->nn);
}

static void set_out(const struct mls_suite *s, struct mls_ratchet_key *out,
		    uint32_t g, const uint8_t *key, const uint8_t *nonce)
{
	memset(out, 0, sizeof(*out));
	out->generation = g;
	out->key_len = s->nk;
	out->nonce_len = s->nn;
	memcpy(out->key, key, s->nk);
	memcpy(out->nonce, nonce, s->nn);
}

/* Removes window entry i, wiping the slot that frees up. */
static void win_remove(struct ratchet *r, uint32_t i)
{
	memmove(&r->win[i], &r->win[i + 1],
		(size_t)(r->n_win - i - 1) * sizeof(r->win[0]));
	r->n_win--;
	crypto_wipe(&r->win[r->n_win], sizeof(r->win[0]));
}

/* Keeps the key of generation r->next (about to be skipped), dropping
 * the oldest kept key if the window is full. */
static int win_keep(const struct mls_suite *s, struct ratchet *r)
{
	struct skipped *e;
	int rc;

	if (r->n_win == MLS_RATCHET_WINDOW)
		win_remove(r, 0);
	e = &r->win[r->n_win];
	e->generation = r->next;
	rc = derive_key_nonce(s, r->secret, r->next, e->key, e->nonce);
	if (rc != EPOCH_OK) {
		crypto_wipe(e, sizeof(*e));
		return rc;
	}
	r->n_win++;
	return EPOCH_OK;
}

enum fetch_mode { FETCH_PEEK, FETCH_CONSUME };

/* The ratchet of (leaf, type), started if need be. */
static int ratchet_of(struct mls_secret_tree *t, uint32_t leaf,
		      enum mls_ratchet_type type, struct ratchet **r)
{
	if (!t || leaf >= t->n_leaves ||
	    (type != MLS_RATCHET_HANDSHAKE && type != MLS_RATCHET_APPLICATION))
		return EPOCH_ERR_INVALID_ARG;
	*r = &t->r[2 * leaf + (type == MLS_RATCHET_APPLICATION)];
	if (!(*r)->started)
		GUARD(start_leaf(t, leaf));
	return EPOCH_OK;
}

/* Generation g of ratchet r: its key into out (if out is not NULL), and in
 * FETCH_CONSUME mode the generation is used up. */
static int fetch(const struct mls_suite *s, struct ratchet *r, uint32_t g,
		 enum fetch_mode mode, struct mls_ratchet_key *out)
{
	uint8_t key[MLS_MAX_NK], nonce[MLS_MAX_NN];
	struct ratchet tmp;
	int rc = EPOCH_OK;

	if (r->exhausted || g < r->next) {
		/* Behind the ratchet: only a kept skipped key will do. */
		for (uint32_t i = 0; i < r->n_win; i++) {
			if (r->win[i].generation != g)
				continue;
			if (out)
				set_out(s, out, g, r->win[i].key,
					r->win[i].nonce);
			if (mode == FETCH_CONSUME)
				win_remove(r, i);
			return EPOCH_OK;
		}
		return EPOCH_ERR_GENERATION;
	}
	if (g - r->next > MLS_MAX_GENERATION_JUMP)
		return EPOCH_ERR_GENERATION;
	if (mode == FETCH_PEEK) {
		/* Ratchet a copy forward; r itself does not move. */
		memset(&tmp, 0, sizeof(tmp));
		memcpy(tmp.secret, r->secret, s->nh);
		tmp.next = r->next;
		while (rc == EPOCH_OK && tmp.next < g)
			rc = step(s, &tmp);
		if (rc == EPOCH_OK && out)
			rc = derive_key_nonce(s, tmp.secret, g, key, nonce);
		if (rc == EPOCH_OK && out)
			set_out(s, out, g, key, nonce);
		goto done;
	}
	if (g > r->next && !r->win) {
		r->win = calloc(MLS_RATCHET_WINDOW, sizeof(*r->win));
		if (!r->win)
			return EPOCH_ERR_NOMEM;
	}
	while (r->next < g) {
		/* Only the last MLS_RATCHET_WINDOW skipped keys would stay
		 * in the window: derive just those. */
		if (g - r->next <= MLS_RATCHET_WINDOW)
			GUARD_GOTO(rc, win_keep(s, r), done);
		GUARD_GOTO(rc, step(s, r), done);
	}
	if (out) {
		GUARD_GOTO(rc, derive_key_nonce(s, r->secret, g, key, nonce),
			   done);
		set_out(s, out, g, key, nonce);
	}
	/* The key is handed out once: move past this generation. */
	rc = step(s, r);
	if (rc != EPOCH_OK && out)
		crypto_wipe(out, sizeof(*out));
done:
	crypto_wipe(&tmp, sizeof(tmp));
	crypto_wipe(key, sizeof(key));
	crypto_wipe(nonce, sizeof(nonce));
	return rc;
}

int mls_secret_tree_key(struct mls_secret_tree *t, uint32_t leaf,
			enum mls_ratchet_type type, uint32_t generation,
			struct mls_ratchet_key *out)
{
	struct ratchet *r;

	if (!out)
		return EPOCH_ERR_INVALID_ARG;
	GUARD(ratchet_of(t, leaf, type, &r));
	return fetch(t->s, r, generation, FETCH_CONSUME, out);
}

/* The first secret of a ratchet of a leaf not started yet, derived from
 * the nearest node that still holds a secret without changing the tree
 * (a peek must leave no trace, not even a split). */
static int unstarted_secret(const struct mls_secret_tree *t, uint32_t leaf,
			    enum mls_ratchet_type type, uint8_t *out)
{
	uint32_t x = 2 * leaf, path[32];
	uint8_t cur[MLS_MAX_NH], next[MLS_MAX_NH];
	size_t n = 0, k, nh = t->s->nh;
	int rc = EPOCH_OK;

	if (t->have[x]) {
		memcpy(cur, t->node[x], nh);
	} else {
		GUARD(mls_tree_direct_path(x, t->n_leaves, path, 32, &n));
		for (k = 0; k < n && !t->have[path[k]]; k++)
			;
		if (k == n)
			return EPOCH_ERR_STATE;
		memcpy(cur, t->node[path[k]], nh);
		/* Down from path[k] to the leaf: path[j - 1] (x below
		 * path[0]) is the child of path[j]. */
		for (size_t j = k + 1; rc == EPOCH_OK && j-- > 0;) {
			uint32_t child = j ? path[j - 1] : x;
			bool left = child == mls_tree_left(path[j]);

			rc = mls_expand_with_label(
				t->s, cur, nh, "tree",
				(const uint8_t *)(left ? "left" : "right"),
				left ? 4 : 5, next, nh);
			memcpy(cur, next, nh);
		}
	}
	if (rc == EPOCH_OK)
		rc = mls_expand_with_label(
			t->s, cur, nh,
			type == MLS_RATCHET_HANDSHAKE ? "handshake" :
							"application",
			NULL, 0, out, nh);
	crypto_wipe(cur, sizeof(cur));
	crypto_wipe(next, sizeof(next));
	return rc;
}

int mls_secret_tree_peek(struct mls_secret_tree *t, uint32_t leaf,
			 enum mls_ratchet_type type, uint32_t generation,
			 struct mls_ratchet_key *out)
{
	struct ratchet *r, tmp;
	int rc;

	if (!out || !t || leaf >= t->n_leaves ||
	    (type != MLS_RATCHET_HANDSHAKE && type != MLS_RATCHET_APPLICATION))
		return EPOCH_ERR_INVALID_ARG;
	r = &t->r[2 * leaf + (type == MLS_RATCHET_APPLICATION)];
	if (r->started)
		return fetch(t->s, r, generation, FETCH_PEEK, out);
	memset(&tmp, 0, sizeof(tmp));
	rc = unstarted_secret(t, leaf, type, tmp.secret);
	if (rc == EPOCH_OK) {
		tmp.started = 1;
		rc = fetch(t->s, &tmp, generation, FETCH_PEEK, out);
	}
	crypto_wipe(&tmp, sizeof(tmp));
	return rc;
}

int mls_secret_tree_consume(struct mls_secret_tree *t, uint32_t leaf,
			    enum mls_ratchet_type type, uint32_t generation)
{
	struct ratchet *r;

	GUARD(ratchet_of(t, leaf, type, &r));
	return fetch(t->s, r, generation, FETCH_CONSUME, NULL);
}

int mls_secret_tree_next_key(struct mls_secret_tree *t, uint32_t leaf,
			     enum mls_ratchet_type type,
			     struct mls_ratchet_key *out)
{
	struct ratchet *r;

	if (!out)
		return EPOCH_ERR_INVALID_ARG;
	GUARD(ratchet_of(t, leaf, type, &r));
	if (r->exhausted)
		return EPOCH_ERR_GENERATION;
	return fetch(t->s, r, r->next, FETCH_CONSUME, out);
}

/* ---- saving and loading ---------------------------------------------------- */

int mls_secret_tree_save(const struct mls_secret_tree *t,
			 struct codec_writer *w)
{
	size_t nh, nk, nn;

	if (!t || !w)
		return EPOCH_ERR_INVALID_ARG;
	nh = t->s->nh;
	nk = t->s->nk;
	nn = t->s->nn;
	codec_write_u32(w, t->n_leaves);
	for (uint32_t x = 0; x < t->width; x++) {
		codec_write_u8(w, t->have[x]);
		if (t->have[x])
			codec_write_bytes(w, t->node[x], nh);
	}
	for (size_t i = 0; i < (size_t)t->n_leaves * 2; i++) {
		const struct ratchet *r = &t->r[i];

		codec_write_u8(w, (uint8_t)((r->started ? 1 : 0) |
					  (r->exhausted ? 2 : 0)));
		codec_write_u32(w, r->next);
		if (r->started)
			codec_write_bytes(w, r->secret, nh);
		codec_write_u32(w, r->n_win);
		for (uint32_t k = 0; k < r->n_win; k++) {
			codec_write_u32(w, r->win[k].generation);
			codec_write_bytes(w, r->win[k].key, nk);
			codec_write_bytes(w, r->win[k].nonce, nn);
		}
	}
	return codec_writer_error(w);
}

static int load_ratchet(struct mls_secret_tree *t, struct ratchet *r,
			struct codec_reader *rd)
{
	uint8_t flags;

	GUARD(codec_read_u8(rd, &flags));
	if (flags > 3)
		return EPOCH_ERR_MALFORMED;
	r->started = flags & 1;
	r->exhausted = flags >> 1;
	GUARD(codec_read_u32(rd, &r->next));
	if (r->started)
		GUARD(codec_read_bytes(rd, r->secret, t->s->nh));
	GUARD(codec_read_u32(rd, &r->n_win));
	if (r->n_win > MLS_RATCHET_WINDOW)
		return EPOCH_ERR_MALFORMED;
	if (!r->n_win)
		return EPOCH_OK;
	r->win = calloc(MLS_RATCHET_WINDOW, sizeof(*r->win));
	if (!r->win)
		return EPOCH_ERR_NOMEM;
	for (uint32_t k = 0; k < r->n_win; k++) {
		GUARD(codec_read_u32(rd, &r->win[k].generation));
		GUARD(codec_read_bytes(rd, r->win[k].key, t->s->nk));
		GUARD(codec_read_bytes(rd, r->win[k].nonce, t->s->nn));
		if (r->win[k].generation >= r->next ||
		    (k && r->win[k].generation <= r->win[k - 1].generation))
			return EPOCH_ERR_MALFORMED;
	}
	return EPOCH_OK;
}

int mls_secret_tree_load(struct mls_secret_tree **out,
			 const struct mls_suite *s, uint32_t n_leaves,
			 struct codec_reader *rd)
{
	static const uint8_t zero[MLS_MAX_NH];
	struct mls_secret_tree *t;
	uint32_t n;
	int rc;

	if (!out || !rd)
		return EPOCH_ERR_INVALID_ARG;
	*out = NULL;
	GUARD(codec_read_u32(rd, &n));
	if (n != n_leaves)
		return EPOCH_ERR_MALFORMED;
	/* A fresh tree of the right shape, then its state overwritten. */
	GUARD(mls_secret_tree_new(&t, s, zero, n_leaves));
	for (uint32_t x = 0; x < t->width; x++) {
		GUARD_GOTO(rc, codec_read_u8(rd, &t->have[x]), fail);
		if (t->have[x] > 1) {
			rc = EPOCH_ERR_MALFORMED;
			goto fail;
		}
		crypto_wipe(t->node[x], sizeof(t->node[x]));
		if (t->have[x])
			GUARD_GOTO(rc, codec_read_bytes(rd, t->node[x], s->nh),
				   fail);
	}
	for (size_t i = 0; i < (size_t)n_leaves * 2; i++)
		GUARD_GOTO(rc, load_ratchet(t, &t->r[i], rd), fail);
	*out = t;
	return EPOCH_OK;
fail:
	mls_secret_tree_free(t);
	return rc == EPOCH_ERR_NOMEM ? rc : EPOCH_ERR_MALFORMED;
}
