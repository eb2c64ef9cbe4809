/* The two-member MLS group (proto/mls_group.h): RFC 9420 §10-12 as an
 * epochd tunnel uses it. */
#include <stdlib.h>
#include <string.h>

#include "proto/crypto.h"
#include "proto/mls.h"
#include "proto/mls_group_int.h"
#include "proto/mls_int.h"

#define ED25519_KEY_LEN 32
#define EXT_RATCHET_TREE 2
/* Upper bound of any message we build or accept (X-Wing commits and
 * Welcomes are a few kilobytes). */
#define MSG_MAX (1u << 20)
/* Application messages are padded to a multiple of this. */
#define APP_PAD 32

/* What a group knows about one epoch. */
struct epoch {
	uint64_t epoch;
	struct mls_tree *tree;
	uint8_t tree_hash[MLS_MAX_NH];
	uint8_t cth[MLS_MAX_NH]; /* confirmed transcript hash */
	size_t cth_len;
	uint8_t ith[MLS_MAX_NH]; /* interim transcript hash */
	size_t ith_len;
	struct mls_epoch_secrets sec;
	struct mls_secret_tree *st;
	uint8_t *gc; /* encoded GroupContext */
	size_t gc_len;
};

struct mls_group {
	const struct mls_suite *s;
	uint16_t suite_id;
	uint8_t *group_id;
	size_t group_id_len;
	uint8_t *identity;
	size_t identity_len;
	/* Ed25519 seed || public key: the signing form that spares OpenSSL
	 * deriving the public key each time (mls_sign_with_label). */
	uint8_t sig_sk[2 * ED25519_KEY_LEN];
	uint8_t sig_pk[ED25519_KEY_LEN];
	uint8_t *gc_ext; /* GroupContext extensions, content only */
	size_t gc_ext_len;
	uint32_t me;
	const struct crypto_rng *rng;
	struct epoch cur;
	bool staged;
	struct epoch next;
	uint8_t *rx; /* the last processed message and its plaintext */
	uint8_t *pt;
	size_t pt_cap;
};

struct mls_kp_secret {
	uint16_t suite;
	uint8_t *msg; /* MLSMessage(KeyPackage) */
	size_t msg_len;
	struct hpke_keypair init;
	struct hpke_keypair leaf;
};

/* ---- small helpers --------------------------------------------------------- */

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);

	if (d && n)
		memcpy(d, p, n);
	return d;
}

static bool slice_eq(struct codec_slice a, const uint8_t *p, size_t n)
{
	return a.len == n && (n == 0 || memcmp(a.p, p, n) == 0);
}

static size_t kem_pk_len(const struct mls_suite *s)
{
	struct hpke_lens l;

	if (hpke_suite_lens(&s->hpke, &l) != EPOCH_OK)
		return 0;
	return l.npk;
}

static void epoch_clear(struct epoch *e)
{
	mls_tree_free(e->tree);
	mls_secret_tree_free(e->st);
	mls_epoch_secrets_wipe(&e->sec);
	free(e->gc);
	crypto_wipe(e, sizeof(*e));
}

/* The MLSMessage header. */
static int write_header(struct codec_writer *w, uint16_t wire_format)
{
	codec_write_u16(w, MLS_PROTOCOL_VERSION_MLS10);
	return codec_write_u16(w, wire_format);
}

/* Lowest common ancestor of leaves a and b (node indices). */
static uint32_t leaves_lca(uint32_t a, uint32_t b, uint32_t n_leaves)
{
	uint32_t x = 2 * a, y = 2 * b;

	while (x != MLS_NODE_NONE) {
		uint32_t half = (1u << mls_tree_level(x)) - 1;

		if (y + half >= x && y <= x + half)
			return x;
		x = mls_tree_parent(x, n_leaves);
	}
	return MLS_NODE_NONE;
}

/* GroupContext of epoch `epoch` with the given hashes. */
static void gc_fill(const struct mls_group *g, struct mls_group_context *gc,
		    uint64_t epoch, const uint8_t *tree_hash,
		    const uint8_t *cth, size_t cth_len)
{
	memset(gc, 0, sizeof(*gc));
	gc->cipher_suite = g->suite_id;
	gc->group_id = g->group_id;
	gc->group_id_len = g->group_id_len;
	gc->epoch = epoch;
	gc->tree_hash = tree_hash;
	gc->tree_hash_len = g->s->nh;
	gc->confirmed_transcript_hash = cth;
	gc->confirmed_transcript_hash_len = cth_len;
	gc->extensions = g->gc_ext;
	gc->extensions_len = g->gc_ext_len;
}

/* Encodes e's GroupContext into e->gc. */
static int epoch_encode_gc(const struct mls_group *g, struct epoch *e)
{
	struct mls_group_context gc;
	struct codec_writer w;
	int rc;

	gc_fill(g, &gc, e->epoch, e->tree_hash, e->cth, e->cth_len);
	codec_writer_init_dynamic(&w, MSG_MAX);
	mls_group_context_encode(&w, &gc);
	rc = codec_writer_error(&w);
	if (rc != EPOCH_OK) {
		codec_writer_free(&w);
		return rc;
	}
	free(e->gc);
	e->gc = w.buf; /* not secret: no wipe needed */
	e->gc_len = w.len;
	return EPOCH_OK;
}

/* Encodes e's GroupContext into e->gc and runs the key schedule (from
 * init_secret and commit_secret, or from joiner_secret when init_secret is
 * NULL), then builds the secret tree and wipes the secrets the group does
 * not keep. */
static int epoch_schedule(const struct mls_group *g, struct epoch *e,
			  const uint8_t *init_secret,
			  const uint8_t *commit_secret,
			  const uint8_t *joiner_secret)
{
	int rc;

	GUARD(epoch_encode_gc(g, e));
	if (init_secret)
		rc = mls_key_schedule(g->s, init_secret, commit_secret, NULL,
				      e->gc, e->gc_len, &e->sec);
	else
		rc = mls_key_schedule_from_joiner(g->s, joiner_secret, NULL,
						  e->gc, e->gc_len, &e->sec);
	if (rc != EPOCH_OK)
		return rc;
	mls_secret_tree_free(e->st);
	e->st = NULL;
	rc = mls_secret_tree_new(&e->st, g->s, e->sec.encryption_secret,
				 mls_tree_n_leaves(e->tree));
#ifdef EPOCHD_TEST_SECRETS
	memcpy(e->sec.test_encryption_secret, e->sec.encryption_secret,
	       g->s->nh);
#endif
	/* The secret tree now holds what encryption_secret gave. */
	crypto_wipe(e->sec.encryption_secret,
		    sizeof(e->sec.encryption_secret));
	return rc;
}

/* Wipes the secrets only needed while the epoch was being set up. */
static void epoch_settle(struct epoch *e)
{
	crypto_wipe(e->sec.joiner_secret, sizeof(e->sec.joiner_secret));
	crypto_wipe(e->sec.welcome_secret, sizeof(e->sec.welcome_secret));
}

/* Our LeafNode contents, without encryption key and signature. */
static void leaf_fill(const uint8_t *identity, size_t identity_len,
		      const uint8_t *sig_pk, uint16_t suite_id,
		      struct mls_leaf_node *leaf, uint8_t source)
{
	memset(leaf, 0, sizeof(*leaf));
	leaf->signature_key.p = sig_pk;
	leaf->signature_key.len = ED25519_KEY_LEN;
	leaf->credential.type = MLS_CRED_BASIC;
	leaf->credential.identity.p = identity;
	leaf->credential.identity.len = identity_len;
	leaf->capabilities.versions.n = 1;
	leaf->capabilities.versions.v[0] = MLS_PROTOCOL_VERSION_MLS10;
	leaf->capabilities.cipher_suites.n = 1;
	leaf->capabilities.cipher_suites.v[0] = suite_id;
	leaf->capabilities.credentials.n = 1;
	leaf->capabilities.credentials.v[0] = MLS_CRED_BASIC;
	leaf->capabilities.extensions.n = 1;
	leaf->capabilities.extensions.v[0] = MLS_EXT_EPOCHD_TUNNEL;
	leaf->source = source;
}

static int encode_alloc_leaf(const struct mls_leaf_node *leaf, uint8_t **out,
			     size_t *len)
{
	struct codec_writer w;
	int rc;

	codec_writer_init_dynamic(&w, MSG_MAX);
	mls_leaf_node_encode(&w, leaf);
	rc = codec_writer_error(&w);
	if (rc != EPOCH_OK) {
		codec_writer_free(&w);
		return rc;
	}
	*out = w.buf;
	*len = w.len;
	return EPOCH_OK;
}

/* ---- KeyPackages ------------------------------------------------------------ */

void mls_kp_secret_free(struct mls_kp_secret *kp)
{
	if (!kp)
		return;
	hpke_keypair_wipe(&kp->init);
	hpke_keypair_wipe(&kp->leaf);
	free(kp->msg);
	crypto_wipe(kp, sizeof(*kp));
	free(kp);
}

const uint8_t *mls_kp_bytes(const struct mls_kp_secret *kp, size_t *len)
{
	if (!kp) {
		*len = 0;
		return NULL;
	}
	*len = kp->msg_len;
	return kp->msg;
}

static int config_check(const struct mls_member_config *cfg,
			const struct mls_suite **s)
{
	uint8_t pk[ED25519_KEY_LEN];

	if (!cfg || !cfg->sig_sk || !cfg->sig_pk ||
	    (!cfg->identity && cfg->identity_len))
		return EPOCH_ERR_INVALID_ARG;
	*s = mls_suite_get(cfg->suite);
	if (!*s)
		return EPOCH_ERR_UNSUPPORTED;
	/* Signing takes seed || public key as they are (mls_sign_with_label):
	 * a public key that is not the seed's would sign under a wrong key
	 * and, used with the right one too, could leak the seed. */
	GUARD(crypto_ed25519_public(cfg->sig_sk, pk));
	return crypto_ct_equal(pk, cfg->sig_pk, sizeof(pk)) ?
		       EPOCH_OK : EPOCH_ERR_INVALID_KEY;
}

int mls_kp_create(struct mls_kp_secret **out,
		  const struct mls_member_config *cfg)
{
	const struct mls_suite *s;
	struct mls_kp_secret *kp = NULL;
	struct mls_key_package *pkg = NULL;
	uint8_t leaf_sig[MLS_ED25519_SIG_LEN], kp_sig[MLS_ED25519_SIG_LEN];
	uint8_t skpk[2 * ED25519_KEY_LEN];
	struct codec_writer w;
	int rc;

	if (!out)
		return EPOCH_ERR_INVALID_ARG;
	*out = NULL;
	GUARD(config_check(cfg, &s));
	kp = calloc(1, sizeof(*kp));
	pkg = calloc(1, sizeof(*pkg));
	if (!kp || !pkg) {
		rc = EPOCH_ERR_NOMEM;
		goto out;
	}
	kp->suite = cfg->suite;
	GUARD_GOTO(rc, hpke_generate_keypair(s->hpke.kem_id, cfg->rng,
					     &kp->init), out);
	GUARD_GOTO(rc, hpke_generate_keypair(s->hpke.kem_id, cfg->rng,
					     &kp->leaf), out);
	pkg->version = MLS_PROTOCOL_VERSION_MLS10;
	pkg->cipher_suite = cfg->suite;
	pkg->init_key.p = kp->init.pk;
	pkg->init_key.len = kp->init.pk_len;
	leaf_fill(cfg->identity, cfg->identity_len, cfg->sig_pk,
		  cfg->suite, &pkg->leaf_node, MLS_LEAF_SRC_KEY_PACKAGE);
	pkg->leaf_node.encryption_key.p = kp->leaf.pk;
	pkg->leaf_node.encryption_key.len = kp->leaf.pk_len;
	pkg->leaf_node.not_before = cfg->not_before;
	pkg->leaf_node.not_after = cfg->not_after;
	memcpy(skpk, cfg->sig_sk, ED25519_KEY_LEN);
	memcpy(skpk + ED25519_KEY_LEN, cfg->sig_pk, ED25519_KEY_LEN);
	GUARD_GOTO(rc, mls_leaf_node_sign(s, &pkg->leaf_node, skpk,
					  sizeof(skpk), NULL, 0, 0,
					  leaf_sig, sizeof(leaf_sig)), out);
	GUARD_GOTO(rc, mls_key_package_sign(s, pkg, skpk, sizeof(skpk),
					    kp_sig), out);
	codec_writer_init_dynamic(&w, MSG_MAX);
	write_header(&w, MLS_WIRE_KEY_PACKAGE);
	mls_key_package_encode(&w, pkg);
	rc = codec_writer_error(&w);
	if (rc != EPOCH_OK) {
		codec_writer_free(&w);
		goto out;
	}
	kp->msg = w.buf;
	kp->msg_len = w.len;
	*out = kp;
	kp = NULL;
out:
	crypto_wipe(skpk, sizeof(skpk));
	free(pkg);
	mls_kp_secret_free(kp);
	return rc;
}

/* ---- creating a group ------------------------------------------------------ */

static int group_alloc(struct mls_group **out,
		       const struct mls_member_config *cfg,
		       const struct mls_suite *s, const uint8_t *group_id,
		       size_t group_id_len)
{
	struct mls_group *g = calloc(1, sizeof(*g));

	if (!g)
		return EPOCH_ERR_NOMEM;
	g->s = s;
	g->suite_id = cfg->suite;
	g->rng = cfg->rng;
	g->group_id = dup_bytes(group_id, group_id_len);
	g->group_id_len = group_id_len;
	g->identity = dup_bytes(cfg->identity, cfg->identity_len);
	g->identity_len = cfg->identity_len;
	memcpy(g->sig_sk, cfg->sig_sk, ED25519_KEY_LEN);
	memcpy(g->sig_sk + ED25519_KEY_LEN, cfg->sig_pk, ED25519_KEY_LEN);
	memcpy(g->sig_pk, cfg->sig_pk, ED25519_KEY_LEN);
	*out = g;
	if (!g->group_id || !g->identity)
		return EPOCH_ERR_NOMEM;
	return EPOCH_OK;
}

int mls_group_create(struct mls_group **out,
		     const struct mls_member_config *cfg,
		     const uint8_t *group_id, size_t group_id_len,
		     const uint8_t *gc_extensions, size_t gc_ext_len)
{
	const struct mls_suite *s;
	struct mls_group *g = NULL;
	struct mls_leaf_node *leaf = NULL;
	struct hpke_keypair enc;
	uint8_t sig[MLS_ED25519_SIG_LEN], init_secret[MLS_MAX_NH];
	uint8_t *leaf_enc = NULL;
	size_t leaf_len = 0;
	uint32_t idx;
	int rc;

	memset(&enc, 0, sizeof(enc));
	if (!out || (!group_id && group_id_len) ||
	    (!gc_extensions && gc_ext_len))
		return EPOCH_ERR_INVALID_ARG;
	*out = NULL;
	GUARD(config_check(cfg, &s));
	GUARD_GOTO(rc, group_alloc(&g, cfg, s, group_id, group_id_len), out);
	g->gc_ext = dup_bytes(gc_extensions, gc_ext_len);
	g->gc_ext_len = gc_ext_len;
	leaf = calloc(1, sizeof(*leaf));
	if (!g->gc_ext || !leaf) {
		rc = EPOCH_ERR_NOMEM;
		goto out;
	}
	GUARD_GOTO(rc, hpke_generate_keypair(s->hpke.kem_id, cfg->rng, &enc),
		   out);
	leaf_fill(g->identity, g->identity_len, g->sig_pk, g->suite_id,
		  leaf, MLS_LEAF_SRC_KEY_PACKAGE);
	leaf->encryption_key.p = enc.pk;
	leaf->encryption_key.len = enc.pk_len;
	leaf->not_before = cfg->not_before;
	leaf->not_after = cfg->not_after;
	GUARD_GOTO(rc, mls_leaf_node_sign(s, leaf, g->sig_sk, sizeof(g->sig_sk),
					  NULL, 0, 0, sig, sizeof(sig)), out);
	GUARD_GOTO(rc, encode_alloc_leaf(leaf, &leaf_enc, &leaf_len), out);
	GUARD_GOTO(rc, mls_tree_new(&g->cur.tree, s), out);
	GUARD_GOTO(rc, mls_tree_add_leaf(g->cur.tree, leaf_enc, leaf_len,
					 &idx), out);
	g->me = idx;
	GUARD_GOTO(rc, mls_tree_set_private(g->cur.tree, 2 * idx, &enc), out);
	GUARD_GOTO(rc, mls_tree_root_hash(g->cur.tree, g->cur.tree_hash),
		   out);
	/* §11: epoch 0 from a fresh init secret; both transcript hashes
	 * empty. */
	g->cur.epoch = 0;
	GUARD_GOTO(rc, crypto_random(cfg->rng, init_secret, s->nh), out);
	GUARD_GOTO(rc, epoch_schedule(g, &g->cur, init_secret, NULL, NULL),
		   out);
	epoch_settle(&g->cur);
	*out = g;
	g = NULL;
out:
	crypto_wipe(init_secret, sizeof(init_secret));
	hpke_keypair_wipe(&enc);
	free(leaf_enc);
	free(leaf);
	mls_group_free(g);
	return rc;
}

/* ---- KeyPackage validation (§10.1, §7.3) ------------------------------------ */

static bool u16_in(const struct mls_u16_list *l, uint16_t v)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == v)
			return true;
	return false;
}

/* The checks on a leaf a member brings into the group (KeyPackage or
 * commit): capabilities, credential type and the policy. */
static int leaf_policy_check(const struct mls_group *g,
			     const struct mls_leaf_node *leaf,
			     const struct mls_policy *pol)
{
	struct codec_reader r;
	struct mls_extension x;

	if (!u16_in(&leaf->capabilities.versions, MLS_PROTOCOL_VERSION_MLS10) ||
	    !u16_in(&leaf->capabilities.cipher_suites, g->suite_id) ||
	    !u16_in(&leaf->capabilities.credentials, leaf->credential.type))
		return EPOCH_ERR_CAPABILITIES;
	/* §7.3: the leaf's own extensions are in its capabilities. */
	for (size_t i = 0; i < leaf->extensions.n; i++)
		if (leaf->extensions.v[i].type > 5 &&
		    !u16_in(&leaf->capabilities.extensions,
			    leaf->extensions.v[i].type))
			return EPOCH_ERR_CAPABILITIES;
	/* §7.2, §11.1: every member supports the GroupContext's
	 * extensions (the default ones 1-5 need no mention). */
	codec_reader_init(&r, g->gc_ext, g->gc_ext_len);
	while (codec_remaining(&r)) {
		GUARD(mls_extension_decode(&r, &x));
		if (x.type > 5 && !u16_in(&leaf->capabilities.extensions,
					  x.type))
			return EPOCH_ERR_CAPABILITIES;
	}
	if (leaf->credential.type != MLS_CRED_BASIC)
		return EPOCH_ERR_CREDENTIAL;
	if (leaf->signature_key.len != ED25519_KEY_LEN)
		return EPOCH_ERR_INVALID_KEY;
	if (pol && pol->accept_credential &&
	    pol->accept_credential(pol->ctx, &leaf->credential,
				   leaf->signature_key.p,
				   leaf->signature_key.len) != EPOCH_OK)
		return EPOCH_ERR_CREDENTIAL;
	return EPOCH_OK;
}

/* Validates a KeyPackage (MLSMessage in msg) for our group; *kp borrows
 * from msg, *kp_body points at the KeyPackage encoding inside msg. */
static int kp_validate(const struct mls_group *g, const uint8_t *msg,
		       size_t len, const struct mls_policy *pol,
		       struct mls_message *m, const uint8_t **kp_body,
		       size_t *kp_body_len)
{
	const struct mls_key_package *kp;
	const struct mls_leaf_node *leaf;

	GUARD(mls_message_decode_all(msg, len, m));
	if (m->version != MLS_PROTOCOL_VERSION_MLS10)
		return EPOCH_ERR_SUITE;
	if (m->wire_format != MLS_WIRE_KEY_PACKAGE)
		return EPOCH_ERR_MALFORMED;
	kp = &m->u.key_package;
	leaf = &kp->leaf_node;
	if (kp->version != MLS_PROTOCOL_VERSION_MLS10 ||
	    kp->cipher_suite != g->suite_id)
		return EPOCH_ERR_SUITE;
	if (kp->init_key.len != kem_pk_len(g->s) ||
	    leaf->encryption_key.len != kem_pk_len(g->s))
		return EPOCH_ERR_INVALID_KEY;
	GUARD(mls_key_package_verify(g->s, kp));
	if (leaf->source != MLS_LEAF_SRC_KEY_PACKAGE)
		return EPOCH_ERR_LEAF_SOURCE;
	GUARD(mls_leaf_node_verify(g->s, leaf, NULL, 0, 0));
	if (pol && (pol->now < leaf->not_before || pol->now > leaf->not_after))
		return EPOCH_ERR_LIFETIME;
	if (slice_eq(kp->init_key, leaf->encryption_key.p,
		     leaf->encryption_key.len))
		return EPOCH_ERR_DUPLICATE_KEY;
	GUARD(leaf_policy_check(g, leaf, pol));
	*kp_body = msg + 4;
	*kp_body_len = len - 4;
	return EPOCH_OK;
}

/* ---- commits ------------------------------------------------------------------ */

/* Everything commit_create builds, on the heap (the structures are big). */
struct commit_work {
	struct mls_authenticated_content ac;
	struct mls_public_message pm;
	struct mls_leaf_node tmpl;
	struct mls_group_info gi;
	struct mls_group_secrets gs;
	struct mls_treekem_out tko;
};

static int write_welcome(struct mls_group *g, struct commit_work *cw,
			 unsigned forge, const struct mls_key_package *kp,
			 const uint8_t *kp_body, size_t kp_body_len,
			 struct codec_writer *out)
{
	const struct mls_suite *s = g->s;
	struct epoch *n = &g->next;
	struct codec_writer tw, giw, gsw;
	struct codec_reader r;
	uint8_t ref[MLS_MAX_NH], gi_sig[MLS_ED25519_SIG_LEN];
	uint8_t bad_tag[MLS_MAX_NH], bad_th[MLS_MAX_NH];
	int rc;

	codec_writer_init_dynamic(&tw, MSG_MAX);
	codec_writer_init_dynamic(&giw, MSG_MAX);
	codec_writer_init_dynamic(&gsw, MSG_MAX);
	GUARD_GOTO(rc, mls_tree_encode(n->tree, &tw), out);
	GUARD_GOTO(rc, codec_writer_error(&tw), out);

	cw->gi.group_context.version = MLS_PROTOCOL_VERSION_MLS10;
	cw->gi.group_context.cipher_suite = g->suite_id;
	cw->gi.group_context.group_id.p = g->group_id;
	cw->gi.group_context.group_id.len = g->group_id_len;
	cw->gi.group_context.epoch = n->epoch;
	cw->gi.group_context.tree_hash.p = n->tree_hash;
	if (forge & MLS_FORGE_GI_SUITE)
		cw->gi.group_context.cipher_suite ^= 0x0002;
	cw->gi.group_context.tree_hash.len = s->nh;
	cw->gi.group_context.confirmed_transcript_hash.p = n->cth;
	cw->gi.group_context.confirmed_transcript_hash.len = n->cth_len;
	/* The GroupContext extensions, decoded from their content. */
	codec_reader_init(&r, g->gc_ext, g->gc_ext_len);
	while (codec_remaining(&r)) {
		struct mls_extensions *x = &cw->gi.group_context.extensions;

		if (x->n == MLS_MAX_EXTENSIONS) {
			rc = EPOCH_ERR_TOO_LONG;
			goto out;
		}
		GUARD_GOTO(rc, mls_extension_decode(&r, &x->v[x->n]), out);
		x->n++;
	}
	cw->gi.extensions.n = !(forge & MLS_FORGE_GI_NO_TREE);
	cw->gi.extensions.v[0].type = EXT_RATCHET_TREE;
	cw->gi.extensions.v[0].data.p = tw.buf;
	cw->gi.extensions.v[0].data.len = tw.len;
	cw->gi.confirmation_tag = cw->ac.confirmation_tag;
	if (forge & MLS_FORGE_GI_CONFIRMATION) {
		memcpy(bad_tag, cw->ac.confirmation_tag.p, s->nh);
		bad_tag[0] ^= 1;
		cw->gi.confirmation_tag.p = bad_tag;
	}
	if (forge & MLS_FORGE_GI_TREE_HASH) {
		memcpy(bad_th, n->tree_hash, s->nh);
		bad_th[0] ^= 1;
		cw->gi.group_context.tree_hash.p = bad_th;
	}
	cw->gi.signer = (forge & MLS_FORGE_GI_SIGNER) ? 7 : g->me;
	GUARD_GOTO(rc, mls_group_info_sign(s, &cw->gi, g->sig_sk,
					   sizeof(g->sig_sk), gi_sig), out);
	gi_sig[0] ^= !!(forge & MLS_FORGE_GI_SIGNATURE);
	mls_group_info_encode(&giw, &cw->gi);
	GUARD_GOTO(rc, codec_writer_error(&giw), out);

	cw->gs.joiner_secret.p = n->sec.joiner_secret;
	cw->gs.joiner_secret.len = s->nh;
	if (cw->tko.joiner_has_path_secret[0]) {
		cw->gs.has_path_secret = true;
		cw->gs.path_secret.p = cw->tko.joiner_path_secrets[0];
		cw->gs.path_secret.len = s->nh;
	}
	if (forge & MLS_FORGE_GS_PSK) {
		cw->gs.n_psks = 1;
		cw->gs.psks[0].type = MLS_PSK_EXTERNAL;
		cw->gs.psks[0].psk_id.p = g->group_id;
		cw->gs.psks[0].psk_id.len = g->group_id_len;
		cw->gs.psks[0].psk_nonce.p = n->tree_hash;
		cw->gs.psks[0].psk_nonce.len = s->nh;
	}
	mls_group_secrets_encode(&gsw, &cw->gs);
	GUARD_GOTO(rc, codec_writer_error(&gsw), out);

	GUARD_GOTO(rc, mls_make_key_package_ref(s, kp_body, kp_body_len, ref),
		   out);
	write_header(out, MLS_WIRE_WELCOME);
	GUARD_GOTO(rc, mls_welcome_seal(s, g->rng, n->sec.welcome_secret, ref,
					s->nh, kp->init_key.p,
					kp->init_key.len, gsw.buf, gsw.len,
					giw.buf, giw.len, out), out);
	rc = codec_writer_error(out);
out:
	codec_writer_free(&tw);
	codec_writer_free(&giw);
	codec_writer_free(&gsw);
	return rc;
}

/* Builds, signs and frames a commit from us with an UpdatePath; with kp
 * it adds that KeyPackage and writes the Welcome too. The result is
 * staged in g->next. */
static int commit_create(struct mls_group *g, const struct mls_commit_opts *o,
			 unsigned forge, const struct mls_key_package *kp,
			 const uint8_t *kp_body, size_t kp_body_len,
			 struct codec_writer *commit_out,
			 struct codec_writer *welcome_out)
{
	static const struct mls_commit_opts no_opts;
	const struct mls_suite *s = g->s;
	struct epoch *cur = &g->cur, *n = &g->next;
	struct commit_work *cw;
	struct mls_group_context gcp;
	struct mls_framed_content *fc;
	struct codec_writer pw;
	uint8_t *leaf_enc = NULL, sig[MLS_ED25519_SIG_LEN];
	uint8_t tag[MLS_MAX_NH], mtag[MLS_MAX_NH];
	size_t leaf_len = 0, cmark, wmark = 0;
	uint32_t added = MLS_NODE_NONE;
	int rc;

	if (!o)
		o = &no_opts;
	if (g->staged)
		return EPOCH_ERR_STATE;
	if ((!o->authenticated_data && o->ad_len) || !commit_out)
		return EPOCH_ERR_INVALID_ARG;
	cw = calloc(1, sizeof(*cw));
	if (!cw)
		return EPOCH_ERR_NOMEM;
	codec_writer_init_dynamic(&pw, MSG_MAX);
	cmark = commit_out->len;
	if (welcome_out)
		wmark = welcome_out->len;
	memset(n, 0, sizeof(*n));
	fc = &cw->ac.content;

	/* The provisional tree: proposals, then our new path. */
	GUARD_GOTO(rc, mls_tree_clone(cur->tree, &n->tree), fail);
	if (kp) {
		GUARD_GOTO(rc, encode_alloc_leaf(&kp->leaf_node, &leaf_enc,
						 &leaf_len), fail);
		GUARD_GOTO(rc, mls_tree_add_leaf(n->tree, leaf_enc, leaf_len,
						 &added), fail);
	}
	leaf_fill(g->identity, g->identity_len, g->sig_pk, g->suite_id,
		  &cw->tmpl, MLS_LEAF_SRC_COMMIT);
	if (forge & MLS_FORGE_IDENTITY)
		cw->tmpl.credential.identity.len = 0;
	n->epoch = cur->epoch + 1;
	gc_fill(g, &gcp, n->epoch, n->tree_hash, cur->cth, cur->cth_len);
	if (forge & MLS_FORGE_NO_PATH) {
		GUARD_GOTO(rc, mls_tree_root_hash(n->tree, n->tree_hash), fail);
	} else {
		GUARD_GOTO(rc, mls_treekem_encap(n->tree, g->me, g->rng, NULL,
						 &cw->tmpl, g->sig_sk,
						 sizeof(g->sig_sk), &gcp,
						 kp ? &added : NULL, kp ? 1 : 0,
						 &pw, &cw->tko), fail);
		GUARD_GOTO(rc, codec_writer_error(&pw), fail);
	}

	/* FramedContent, signed in the current epoch. */
	fc->group_id.p = g->group_id;
	fc->group_id.len = g->group_id_len;
	if (forge & MLS_FORGE_GROUP_ID)
		fc->group_id.len--;
	fc->epoch = cur->epoch + !!(forge & MLS_FORGE_EPOCH);
	fc->sender.type = MLS_SENDER_MEMBER;
	fc->sender.index = g->me ^ !!(forge & MLS_FORGE_SENDER);
	fc->authenticated_data.p = o->authenticated_data;
	fc->authenticated_data.len = o->ad_len;
	fc->content_type = MLS_CONTENT_COMMIT;
	if (kp) {
		fc->commit.n_proposals = 1;
		fc->commit.proposals[0].type = MLS_POR_PROPOSAL;
		fc->commit.proposals[0].proposal.type = MLS_PROP_ADD;
		fc->commit.proposals[0].proposal.u.add = *kp;
	}
	if (forge & MLS_FORGE_PROPOSAL) {
		struct mls_proposal_or_ref *por =
			&fc->commit.proposals[fc->commit.n_proposals++];

		por->type = MLS_POR_PROPOSAL;
		por->proposal.type = MLS_PROP_REMOVE;
		por->proposal.u.remove = g->me ^ 1;
	}
	fc->commit.has_path = !(forge & MLS_FORGE_NO_PATH);
	if (fc->commit.has_path)
		GUARD_GOTO(rc, mls_update_path_decode_all(pw.buf, pw.len,
							  &fc->commit.path),
			   fail);
	cw->ac.wire_format = o->public_message ? MLS_WIRE_PUBLIC_MESSAGE :
						 MLS_WIRE_PRIVATE_MESSAGE;
	GUARD_GOTO(rc, mls_framed_content_sign(s, cw->ac.wire_format, fc,
					       cur->gc, cur->gc_len, g->sig_sk,
					       sizeof(g->sig_sk), sig), fail);
	sig[0] ^= !!(forge & MLS_FORGE_SIGNATURE);
	cw->ac.signature.p = sig;
	cw->ac.signature.len = sizeof(sig);

	/* The new epoch: transcript, key schedule, confirmation tag. */
	GUARD_GOTO(rc, mls_confirmed_transcript_hash(s, cur->ith, cur->ith_len,
						     &cw->ac, n->cth), fail);
	n->cth_len = s->nh;
	GUARD_GOTO(rc, epoch_schedule(g, n, cur->sec.init_secret,
				      cw->tko.commit_secret, NULL), fail);
	GUARD_GOTO(rc, mls_confirmation_tag(s, n->sec.confirmation_key, n->cth,
					    tag), fail);
	tag[0] ^= !!(forge & MLS_FORGE_CONFIRMATION);
	cw->ac.confirmation_tag.p = tag;
	cw->ac.confirmation_tag.len = s->nh;
	GUARD_GOTO(rc, mls_interim_transcript_hash(s, n->cth, tag, s->nh,
						   n->ith), fail);
	n->ith_len = s->nh;

	/* The Welcome first: the commit's encryption below uses up a
	 * generation of our handshake ratchet, the last thing that may
	 * fail. */
	if (kp)
		GUARD_GOTO(rc, write_welcome(g, cw, forge, kp, kp_body,
					     kp_body_len, welcome_out), fail);
	/* The message, framed in the current epoch. */
	write_header(commit_out, cw->ac.wire_format);
	if (o->public_message) {
		GUARD_GOTO(rc, mls_membership_tag(s, cur->sec.membership_key,
						  &cw->ac, cur->gc,
						  cur->gc_len, mtag), fail);
		mtag[0] ^= !!(forge & MLS_FORGE_MEMBERSHIP);
		cw->pm.content = *fc;
		cw->pm.signature = cw->ac.signature;
		cw->pm.confirmation_tag = cw->ac.confirmation_tag;
		cw->pm.membership_tag.p = mtag;
		cw->pm.membership_tag.len = s->nh;
		mls_public_message_encode(commit_out, &cw->pm);
	} else {
		GUARD_GOTO(rc, mls_private_message_encrypt(
				       s, cur->st, cur->sec.sender_data_secret,
				       &cw->ac, 0, g->rng, commit_out), fail);
	}
	GUARD_GOTO(rc, codec_writer_error(commit_out), fail);
	epoch_settle(n);
	g->staged = true;
	rc = EPOCH_OK;
	goto out;
fail:
	epoch_clear(n);
	if (!codec_writer_error(commit_out))
		commit_out->len = cmark;
	if (welcome_out && !codec_writer_error(welcome_out))
		welcome_out->len = wmark;
out:
	crypto_wipe(cw, sizeof(*cw));
	free(cw);
	codec_writer_free(&pw);
	free(leaf_enc);
	return rc;
}

static int group_add(struct mls_group *g, const uint8_t *kp, size_t kp_len,
		     const struct mls_policy *pol,
		     const struct mls_commit_opts *o, unsigned forge,
		     struct codec_writer *commit_out,
		     struct codec_writer *welcome_out)
{
	struct mls_message *m;
	const uint8_t *body = NULL;
	size_t body_len = 0;
	int rc;

	if (!g || !kp || !commit_out || !welcome_out)
		return EPOCH_ERR_INVALID_ARG;
	if (g->staged)
		return EPOCH_ERR_STATE;
	/* Two members: we add the peer to a group of one. */
	if (mls_tree_n_leaves(g->cur.tree) != 1)
		return EPOCH_ERR_STATE;
	m = calloc(1, sizeof(*m));
	if (!m)
		return EPOCH_ERR_NOMEM;
	rc = kp_validate(g, kp, kp_len, pol, m, &body, &body_len);
	/* §7.3: signature and encryption keys unique in the tree (ours is
	 * its only leaf). */
	if (rc == EPOCH_OK) {
		const struct mls_leaf_node *kl = &m->u.key_package.leaf_node;
		const struct mls_leaf_node *mine =
			mls_tree_leaf(g->cur.tree, g->me);

		if (mls_tree_find_signature_key(g->cur.tree,
						kl->signature_key.p,
						kl->signature_key.len) !=
			    MLS_NODE_NONE ||
		    slice_eq(kl->encryption_key, mine->encryption_key.p,
			     mine->encryption_key.len))
			rc = EPOCH_ERR_DUPLICATE_KEY;
	}
	if (rc == EPOCH_OK)
		rc = commit_create(g, o, forge, &m->u.key_package, body,
				   body_len, commit_out, welcome_out);
	free(m);
	return rc;
}

int mls_group_add(struct mls_group *g, const uint8_t *kp, size_t kp_len,
		  const struct mls_policy *pol, const struct mls_commit_opts *o,
		  struct codec_writer *commit_out,
		  struct codec_writer *welcome_out)
{
	return group_add(g, kp, kp_len, pol, o, 0, commit_out, welcome_out);
}

int mls_group_commit_forged(struct mls_group *g,
			    const struct mls_commit_opts *o, unsigned forge,
			    const uint8_t *kp, size_t kp_len,
			    const struct mls_policy *pol,
			    struct codec_writer *commit_out,
			    struct codec_writer *welcome_out)
{
	if (!g || !commit_out)
		return EPOCH_ERR_INVALID_ARG;
	if (kp)
		return group_add(g, kp, kp_len, pol, o, forge, commit_out,
				 welcome_out);
	return commit_create(g, o, forge, NULL, NULL, 0, commit_out, NULL);
}

int mls_group_commit(struct mls_group *g, const struct mls_commit_opts *o,
		     struct codec_writer *out)
{
	if (!g || !out)
		return EPOCH_ERR_INVALID_ARG;
	return commit_create(g, o, 0, NULL, NULL, 0, out, NULL);
}

bool mls_group_has_staged(const struct mls_group *g)
{
	return g && g->staged;
}

int mls_group_apply(struct mls_group *g)
{
	if (!g)
		return EPOCH_ERR_INVALID_ARG;
	if (!g->staged)
		return EPOCH_ERR_STATE;
	epoch_clear(&g->cur);
	g->cur = g->next;
	memset(&g->next, 0, sizeof(g->next));
	g->staged = false;
	return EPOCH_OK;
}

int mls_group_discard(struct mls_group *g)
{
	if (!g)
		return EPOCH_ERR_INVALID_ARG;
	if (!g->staged)
		return EPOCH_ERR_STATE;
	epoch_clear(&g->next);
	g->staged = false;
	return EPOCH_OK;
}

/* ---- joining (§12.4.3.1) ------------------------------------------------------ */

struct join_work {
	struct mls_message m;
	struct mls_group_secrets gs;
	struct mls_group_info gi;
	uint8_t welcome_secret[MLS_MAX_NH];
};

static const struct mls_extension *
find_extension(const struct mls_extensions *x, uint16_t type)
{
	for (size_t i = 0; i < x->n; i++)
		if (x->v[i].type == type)
			return &x->v[i];
	return NULL;
}

/* The content of an extensions vector (without its length prefix). */
static int extensions_content(const struct mls_extensions *x, uint8_t **out,
			      size_t *len)
{
	struct codec_writer w;
	int rc;

	codec_writer_init_dynamic(&w, MSG_MAX);
	for (size_t i = 0; i < x->n; i++)
		mls_extension_encode(&w, &x->v[i]);
	rc = codec_writer_error(&w);
	if (rc != EPOCH_OK) {
		codec_writer_free(&w);
		return rc;
	}
	*out = w.len ? w.buf : malloc(1);
	*len = w.len;
	return *out ? EPOCH_OK : EPOCH_ERR_NOMEM;
}

static int join_tree(struct mls_group *g, struct join_work *jw,
		     const struct mls_kp_secret *kp,
		     const struct mls_policy *pol)
{
	const struct mls_wire_group_context *gc = &jw->gi.group_context;
	const struct mls_extension *rt;
	const struct mls_leaf_node *signer, *mine;
	struct mls_message *kpm;
	struct codec_writer lw;
	uint32_t n, x;
	int rc;

	rt = find_extension(&jw->gi.extensions, EXT_RATCHET_TREE);
	if (!rt)
		return EPOCH_ERR_TREE; /* no out-of-band trees here */
	GUARD(mls_tree_decode(&g->cur.tree, g->s, rt->data.p, rt->data.len));
	n = mls_tree_n_leaves(g->cur.tree);
	signer = mls_tree_leaf(g->cur.tree, jw->gi.signer);
	if (!signer)
		return EPOCH_ERR_SENDER;
	GUARD(mls_group_info_verify(g->s, &jw->gi, signer->signature_key.p,
				    signer->signature_key.len));
	GUARD(mls_tree_validate(g->cur.tree, g->group_id, g->group_id_len));
	GUARD(mls_tree_root_hash(g->cur.tree, g->cur.tree_hash));
	if (!slice_eq(gc->tree_hash, g->cur.tree_hash, g->s->nh))
		return EPOCH_ERR_TREE_HASH;
	/* Two members: the signer and us. */
	if (n != 2 || !mls_tree_leaf(g->cur.tree, 0) ||
	    !mls_tree_leaf(g->cur.tree, 1))
		return EPOCH_ERR_TREE;
	/* Our leaf is the one of the KeyPackage. */
	kpm = calloc(1, sizeof(*kpm));
	if (!kpm)
		return EPOCH_ERR_NOMEM;
	codec_writer_init_dynamic(&lw, MSG_MAX);
	rc = mls_message_decode_all(kp->msg, kp->msg_len, kpm);
	if (rc == EPOCH_OK) {
		mls_leaf_node_encode(&lw, &kpm->u.key_package.leaf_node);
		rc = codec_writer_error(&lw);
	}
	free(kpm);
	g->me = MLS_NODE_NONE;
	for (uint32_t i = 0; rc == EPOCH_OK && i < n; i++) {
		const uint8_t *p;
		size_t len;

		if (mls_tree_leaf_bytes(g->cur.tree, i, &p, &len) == EPOCH_OK &&
		    len == lw.len && memcmp(p, lw.buf, len) == 0)
			g->me = i;
	}
	codec_writer_free(&lw);
	GUARD(rc);
	if (g->me == MLS_NODE_NONE || g->me == jw->gi.signer)
		return EPOCH_ERR_TREE;
	mine = mls_tree_leaf(g->cur.tree, g->me);
	if (!slice_eq(mine->signature_key, g->sig_pk, ED25519_KEY_LEN))
		return EPOCH_ERR_CREDENTIAL;
	GUARD(leaf_policy_check(g, signer, pol));
	/* We must support the GroupContext's extensions ourselves, or our
	 * own commits would be refused later. */
	GUARD(leaf_policy_check(g, mine, NULL));
	GUARD(mls_tree_set_private(g->cur.tree, 2 * g->me, &kp->leaf));
	if (jw->gs.has_path_secret) {
		if (jw->gs.path_secret.len != g->s->nh)
			return EPOCH_ERR_MALFORMED;
		x = leaves_lca(g->me, jw->gi.signer, n);
		GUARD(mls_tree_install_path_secret(g->cur.tree, g->me, x,
						   jw->gs.path_secret.p));
	}
	return EPOCH_OK;
}

int mls_group_join(struct mls_group **out, const struct mls_member_config *cfg,
		   struct mls_kp_secret *kp, const uint8_t *welcome,
		   size_t welcome_len, const struct mls_policy *pol)
{
	const struct mls_suite *s;
	struct mls_group *g = NULL;
	struct join_work *jw = NULL;
	const struct mls_wire_group_context *gc;
	uint8_t ref[MLS_MAX_NH], *gs_buf = NULL, *gi_buf = NULL;
	size_t cap;
	int rc;

	if (!out || !kp || !welcome)
		return EPOCH_ERR_INVALID_ARG;
	*out = NULL;
	if (welcome_len > MSG_MAX)
		return EPOCH_ERR_TOO_LONG;
	GUARD(config_check(cfg, &s));
	if (cfg->suite != kp->suite)
		return EPOCH_ERR_SUITE;
	jw = calloc(1, sizeof(*jw));
	gs_buf = malloc(welcome_len ? welcome_len : 1);
	gi_buf = malloc(welcome_len ? welcome_len : 1);
	if (!jw || !gs_buf || !gi_buf) {
		rc = EPOCH_ERR_NOMEM;
		goto out;
	}
	cap = welcome_len;
	GUARD_GOTO(rc, mls_message_decode_all(welcome, welcome_len, &jw->m),
		   out);
	if (jw->m.version != MLS_PROTOCOL_VERSION_MLS10) {
		rc = EPOCH_ERR_SUITE;
		goto out;
	}
	if (jw->m.wire_format != MLS_WIRE_WELCOME) {
		rc = EPOCH_ERR_MALFORMED;
		goto out;
	}
	if (jw->m.u.welcome.cipher_suite != kp->suite) {
		rc = EPOCH_ERR_SUITE;
		goto out;
	}
	GUARD_GOTO(rc, mls_make_key_package_ref(s, kp->msg + 4,
						kp->msg_len - 4, ref), out);
	GUARD_GOTO(rc, mls_welcome_open_secrets(s, &jw->m.u.welcome, ref, s->nh,
						&kp->init, gs_buf, cap,
						&jw->gs), out);
	if (jw->gs.n_psks) {
		rc = EPOCH_ERR_UNSUPPORTED;
		goto out;
	}
	if (jw->gs.joiner_secret.len != s->nh) {
		rc = EPOCH_ERR_MALFORMED;
		goto out;
	}
	GUARD_GOTO(rc, mls_welcome_secret(s, jw->gs.joiner_secret.p, NULL,
					  jw->welcome_secret), out);
	GUARD_GOTO(rc, mls_welcome_open_group_info(s, &jw->m.u.welcome,
						   jw->welcome_secret, gi_buf,
						   cap, &jw->gi), out);
	gc = &jw->gi.group_context;
	if (gc->version != MLS_PROTOCOL_VERSION_MLS10 ||
	    gc->cipher_suite != kp->suite) {
		rc = EPOCH_ERR_SUITE;
		goto out;
	}
	if (gc->confirmed_transcript_hash.len != s->nh ||
	    gc->tree_hash.len != s->nh) {
		rc = EPOCH_ERR_MALFORMED;
		goto out;
	}
	GUARD_GOTO(rc, group_alloc(&g, cfg, s, gc->group_id.p,
				   gc->group_id.len), out);
	GUARD_GOTO(rc, extensions_content(&gc->extensions, &g->gc_ext,
					  &g->gc_ext_len), out);
	GUARD_GOTO(rc, join_tree(g, jw, kp, pol), out);
	g->cur.epoch = gc->epoch;
	memcpy(g->cur.cth, gc->confirmed_transcript_hash.p, s->nh);
	g->cur.cth_len = s->nh;
	GUARD_GOTO(rc, epoch_schedule(g, &g->cur, NULL, NULL,
				      jw->gs.joiner_secret.p), out);
	GUARD_GOTO(rc, mls_confirmation_tag_verify(
			       s, g->cur.sec.confirmation_key, g->cur.cth,
			       jw->gi.confirmation_tag.p,
			       jw->gi.confirmation_tag.len), out);
	GUARD_GOTO(rc, mls_interim_transcript_hash(s, g->cur.cth,
						   jw->gi.confirmation_tag.p,
						   jw->gi.confirmation_tag.len,
						   g->cur.ith), out);
	g->cur.ith_len = s->nh;
	epoch_settle(&g->cur);
	*out = g;
	g = NULL;
out:
	/* The KeyPackage is single-use: its private keys go once it is
	 * used. A Welcome that fails leaves them (a forged Welcome must not
	 * burn the KeyPackage). */
	if (rc == EPOCH_OK) {
		hpke_keypair_wipe(&kp->init);
		hpke_keypair_wipe(&kp->leaf);
	}
	if (gs_buf)
		crypto_wipe(gs_buf, welcome_len);
	free(gs_buf);
	free(gi_buf);
	if (jw)
		crypto_wipe(jw, sizeof(*jw));
	free(jw);
	mls_group_free(g);
	return rc;
}

/* ---- processing the peer's messages (§6, §12.4.2) --------------------------- */

struct process_work {
	struct mls_message m;
	struct mls_authenticated_content ac;
	uint32_t generation; /* of a PrivateMessage, consumed on accept */
};

/* Unprotects the message in g->rx into pw->ac with the keys of epoch cur
 * (the current or the staged one); the signature is verified against the
 * sender's leaf of that epoch. */
static int unprotect(struct mls_group *g, struct epoch *cur,
		     struct process_work *pw, size_t len)
{
	const struct mls_suite *s = g->s;
	struct mls_authenticated_content *ac = &pw->ac;
	const struct mls_leaf_node *leaf;
	struct codec_slice gid;
	uint64_t epoch;

	GUARD(mls_message_decode_all(g->rx, len, &pw->m));
	if (pw->m.version != MLS_PROTOCOL_VERSION_MLS10)
		return EPOCH_ERR_SUITE;
	if (pw->m.wire_format == MLS_WIRE_PUBLIC_MESSAGE) {
		const struct mls_public_message *pm =
			&pw->m.u.public_message;

		gid = pm->content.group_id;
		epoch = pm->content.epoch;
	} else if (pw->m.wire_format == MLS_WIRE_PRIVATE_MESSAGE) {
		gid = pw->m.u.private_message.group_id;
		epoch = pw->m.u.private_message.epoch;
	} else {
		return EPOCH_ERR_MALFORMED;
	}
	if (!slice_eq(gid, g->group_id, g->group_id_len) ||
	    epoch != cur->epoch)
		return EPOCH_ERR_EPOCH;

	if (pw->m.wire_format == MLS_WIRE_PUBLIC_MESSAGE) {
		const struct mls_public_message *pm =
			&pw->m.u.public_message;

		if (pm->content.sender.type != MLS_SENDER_MEMBER)
			return EPOCH_ERR_SENDER;
		/* §6.2: application data is never sent in public. */
		if (pm->content.content_type == MLS_CONTENT_APPLICATION)
			return EPOCH_ERR_PROPOSAL;
		ac->wire_format = MLS_WIRE_PUBLIC_MESSAGE;
		ac->content = pm->content;
		ac->signature = pm->signature;
		ac->confirmation_tag = pm->confirmation_tag;
		if (!mls_tree_leaf(cur->tree, pm->content.sender.index) ||
		    pm->content.sender.index == g->me)
			return EPOCH_ERR_SENDER;
		GUARD(mls_membership_tag_verify(s, cur->sec.membership_key, ac,
						cur->gc, cur->gc_len,
						pm->membership_tag.p,
						pm->membership_tag.len));
	} else {
		GUARD(mls_private_message_open(
			s, cur->st, cur->sec.sender_data_secret,
			&pw->m.u.private_message, g->pt, len, ac,
			&pw->generation));
		if (ac->content.sender.type != MLS_SENDER_MEMBER)
			return EPOCH_ERR_SENDER;
	}
	leaf = mls_tree_leaf(cur->tree, ac->content.sender.index);
	if (!leaf || ac->content.sender.index == g->me)
		return EPOCH_ERR_SENDER;
	return mls_framed_content_verify(s, ac->wire_format, &ac->content,
					 cur->gc, cur->gc_len,
					 leaf->signature_key.p,
					 leaf->signature_key.len,
					 ac->signature.p, ac->signature.len);
}

/* Validates and applies the peer's commit in pw->ac. */
static int process_commit(struct mls_group *g, struct process_work *pw)
{
	const struct mls_suite *s = g->s;
	struct epoch *cur = &g->cur;
	struct epoch n;
	const struct mls_authenticated_content *ac = &pw->ac;
	const struct mls_commit *c = &ac->content.commit;
	const struct mls_leaf_node *before, *after;
	struct mls_group_context gcp;
	uint8_t commit_secret[MLS_MAX_NH];
	uint32_t from = ac->content.sender.index;
	int rc;

	/* The two-member profile: a commit is a rekey, nothing else. */
	if (c->n_proposals != 0)
		return EPOCH_ERR_PROPOSAL;
	/* §12.4: a commit without proposals must carry a path. */
	if (!c->has_path)
		return EPOCH_ERR_PROPOSAL;
	if (ac->confirmation_tag.len != s->nh)
		return EPOCH_ERR_CONFIRMATION;
	memset(&n, 0, sizeof(n));
	GUARD_GOTO(rc, mls_tree_clone(cur->tree, &n.tree), fail);
	n.epoch = cur->epoch + 1;
	gc_fill(g, &gcp, n.epoch, n.tree_hash, cur->cth, cur->cth_len);
	GUARD_GOTO(rc, mls_treekem_decap(n.tree, g->me, from, &c->path, &gcp,
					 NULL, 0, commit_secret), fail);
	/* The committer stays who it was: same identity, same key. */
	before = mls_tree_leaf(cur->tree, from);
	after = mls_tree_leaf(n.tree, from);
	if (!after ||
	    !slice_eq(after->signature_key, before->signature_key.p,
		      before->signature_key.len) ||
	    after->credential.type != before->credential.type ||
	    !slice_eq(after->credential.identity,
		      before->credential.identity.p,
		      before->credential.identity.len)) {
		rc = EPOCH_ERR_CREDENTIAL;
		goto fail;
	}
	GUARD_GOTO(rc, leaf_policy_check(g, after, NULL), fail);
	GUARD_GOTO(rc, mls_confirmed_transcript_hash(s, cur->ith, cur->ith_len,
						     ac, n.cth), fail);
	n.cth_len = s->nh;
	GUARD_GOTO(rc, epoch_schedule(g, &n, cur->sec.init_secret,
				      commit_secret, NULL), fail);
	GUARD_GOTO(rc, mls_confirmation_tag_verify(s, n.sec.confirmation_key,
						   n.cth,
						   ac->confirmation_tag.p,
						   ac->confirmation_tag.len),
		   fail);
	GUARD_GOTO(rc, mls_interim_transcript_hash(s, n.cth,
						   ac->confirmation_tag.p,
						   s->nh, n.ith), fail);
	n.ith_len = s->nh;
	epoch_settle(&n);
	/* The old epoch's tree goes with it, so its handshake generation
	 * needs no consuming. */
	epoch_clear(cur);
	*cur = n;
	crypto_wipe(&n, sizeof(n));
	crypto_wipe(commit_secret, sizeof(commit_secret));
	return EPOCH_OK;
fail:
	crypto_wipe(commit_secret, sizeof(commit_secret));
	epoch_clear(&n);
	return rc;
}

/* The epoch and content type an MLSMessage claims, from its clear parts
 * (the PrivateMessage header, the PublicMessage's FramedContent); false if
 * they cannot be read. */
static bool peek_header(const uint8_t *msg, size_t len, uint64_t *epoch,
			uint8_t *ct)
{
	struct codec_reader r;
	struct codec_slice sl;
	struct mls_sender snd;
	uint16_t version, wf;

	codec_reader_init(&r, msg, len);
	if (codec_read_u16(&r, &version) || codec_read_u16(&r, &wf) ||
	    codec_read_vec(&r, &sl, MSG_MAX) || codec_read_u64(&r, epoch))
		return false;
	if (wf == MLS_WIRE_PUBLIC_MESSAGE &&
	    (mls_sender_decode(&r, &snd) || codec_read_vec(&r, &sl, MSG_MAX)))
		return false;
	if (wf != MLS_WIRE_PUBLIC_MESSAGE && wf != MLS_WIRE_PRIVATE_MESSAGE)
		return false;
	return codec_read_u8(&r, ct) == EPOCH_OK;
}

int mls_group_process(struct mls_group *g, const uint8_t *msg, size_t len,
		      struct mls_received *out)
{
	struct process_work *pw;
	struct epoch *e;
	uint64_t epoch = 0;
	uint8_t ct = 0;
	bool peeked;
	int rc;

	if (!g || !msg || !out)
		return EPOCH_ERR_INVALID_ARG;
	memset(out, 0, sizeof(*out));
	if (len > MSG_MAX)
		return EPOCH_ERR_TOO_LONG;
	free(g->rx);
	if (g->pt)
		crypto_wipe(g->pt, g->pt_cap);
	free(g->pt);
	g->rx = dup_bytes(msg, len);
	g->pt = malloc(len ? len : 1);
	g->pt_cap = g->pt ? len : 0;
	pw = calloc(1, sizeof(*pw));
	if (!g->rx || !g->pt || !pw) {
		free(pw);
		return EPOCH_ERR_NOMEM;
	}
	peeked = peek_header(msg, len, &epoch, &ct);
	/* A message of our staged epoch (the peer's EPOCH_ACK) is
	 * authenticated with the staged keys, and then the staged commit is
	 * applied: the peer has shown it has that epoch. */
	e = peeked && g->staged && epoch == g->next.epoch ? &g->next : &g->cur;
	/* A peer commit for the current epoch while ours is staged is
	 * refused before it is decrypted, so that its generation stays
	 * unused for the retry. */
	if (g->staged && e == &g->cur && peeked && ct == MLS_CONTENT_COMMIT) {
		rc = EPOCH_ERR_STATE;
		goto out;
	}
	epoch = e->epoch;
	rc = unprotect(g, e, pw, len);
	if (rc != EPOCH_OK)
		goto out;
	if (e == &g->next)
		mls_group_apply(g);
	switch (pw->ac.content.content_type) {
	case MLS_CONTENT_APPLICATION:
		/* Accepted: only now is its generation used up. */
		rc = mls_secret_tree_consume(g->cur.st,
					     pw->ac.content.sender.index,
					     MLS_RATCHET_APPLICATION,
					     pw->generation);
		if (rc != EPOCH_OK)
			goto out;
		out->application_data = pw->ac.content.application_data.p;
		out->app_len = pw->ac.content.application_data.len;
		break;
	case MLS_CONTENT_COMMIT:
		if (g->staged) {
			rc = EPOCH_ERR_STATE;
			goto out;
		}
		rc = process_commit(g, pw);
		if (rc != EPOCH_OK)
			goto out;
		break;
	default:
		/* Standalone proposals have no place in a two-member
		 * tunnel. */
		rc = EPOCH_ERR_PROPOSAL;
		goto out;
	}
	out->content_type = pw->ac.content.content_type;
	out->sender = pw->ac.content.sender.index;
	out->epoch = epoch;
	out->authenticated_data = pw->ac.content.authenticated_data.p;
	out->ad_len = pw->ac.content.authenticated_data.len;
out:
	free(pw);
	return rc;
}

/* ---- application messages, exporter, accessors ---------------------------- */

int mls_group_encrypt(struct mls_group *g, const uint8_t *ad, size_t ad_len,
		      const uint8_t *pt, size_t pt_len,
		      struct codec_writer *out)
{
	struct mls_authenticated_content *ac;
	uint8_t sig[MLS_ED25519_SIG_LEN];
	size_t mark;
	int rc;

	if (!g || !out || (!ad && ad_len) || (!pt && pt_len))
		return EPOCH_ERR_INVALID_ARG;
	ac = calloc(1, sizeof(*ac));
	if (!ac)
		return EPOCH_ERR_NOMEM;
	mark = out->len;
	ac->wire_format = MLS_WIRE_PRIVATE_MESSAGE;
	ac->content.group_id.p = g->group_id;
	ac->content.group_id.len = g->group_id_len;
	ac->content.epoch = g->cur.epoch;
	ac->content.sender.type = MLS_SENDER_MEMBER;
	ac->content.sender.index = g->me;
	ac->content.authenticated_data.p = ad;
	ac->content.authenticated_data.len = ad_len;
	ac->content.content_type = MLS_CONTENT_APPLICATION;
	ac->content.application_data.p = pt;
	ac->content.application_data.len = pt_len;
	GUARD_GOTO(rc, mls_framed_content_sign(g->s, ac->wire_format,
					       &ac->content, g->cur.gc,
					       g->cur.gc_len, g->sig_sk,
					       sizeof(g->sig_sk), sig), out);
	ac->signature.p = sig;
	ac->signature.len = sizeof(sig);
	write_header(out, MLS_WIRE_PRIVATE_MESSAGE);
	GUARD_GOTO(rc, mls_private_message_encrypt(
			       g->s, g->cur.st, g->cur.sec.sender_data_secret,
			       ac, APP_PAD, g->rng, out), out);
	rc = codec_writer_error(out);
out:
	if (rc != EPOCH_OK && !codec_writer_error(out))
		out->len = mark;
	free(ac);
	return rc;
}

int mls_group_export(const struct mls_group *g, bool staged,
		     const uint8_t *label, size_t label_len,
		     const uint8_t *ctx, size_t ctx_len, uint8_t *out,
		     size_t out_len)
{
	const struct epoch *e;

	if (!g || !out || (!label && label_len) || (!ctx && ctx_len))
		return EPOCH_ERR_INVALID_ARG;
	if (staged && !g->staged)
		return EPOCH_ERR_STATE;
	e = staged ? &g->next : &g->cur;
	return mls_exporter(g->s, e->sec.exporter_secret, label, label_len,
			    ctx, ctx_len, out, out_len);
}

uint64_t mls_group_epoch(const struct mls_group *g)
{
	return g ? g->cur.epoch : 0;
}

uint16_t mls_group_suite(const struct mls_group *g)
{
	return g ? g->suite_id : 0;
}

uint32_t mls_group_my_index(const struct mls_group *g)
{
	return g ? g->me : MLS_NODE_NONE;
}

int mls_group_epoch_authenticator(const struct mls_group *g, uint8_t *out,
				  size_t cap, size_t *len)
{
	if (!g || !out || !len)
		return EPOCH_ERR_INVALID_ARG;
	if (cap < g->s->nh)
		return EPOCH_ERR_NO_SPACE;
	memcpy(out, g->cur.sec.epoch_authenticator, g->s->nh);
	*len = g->s->nh;
	return EPOCH_OK;
}

const uint8_t *mls_group_context_extensions(const struct mls_group *g,
					    size_t *len)
{
	*len = g ? g->gc_ext_len : 0;
	return g ? g->gc_ext : NULL;
}

int mls_group_peer(const struct mls_group *g, const uint8_t **identity,
		   size_t *identity_len, const uint8_t **sig_pk,
		   size_t *sig_pk_len)
{
	const struct mls_leaf_node *leaf;

	if (!g || !identity || !identity_len || !sig_pk || !sig_pk_len)
		return EPOCH_ERR_INVALID_ARG;
	leaf = mls_tree_leaf(g->cur.tree, g->me == 0 ? 1 : 0);
	if (!leaf)
		return EPOCH_ERR_STATE;
	*identity = leaf->credential.identity.p;
	*identity_len = leaf->credential.identity.len;
	*sig_pk = leaf->signature_key.p;
	*sig_pk_len = leaf->signature_key.len;
	return EPOCH_OK;
}

/* ---- saving and loading ---------------------------------------------------- */

static const uint8_t save_magic[6] = { 'E', 'P', 'M', 'L', 'S', 1 };

/* The epoch secrets a saved group keeps, in save order. */
static uint8_t *saved_secret(struct mls_epoch_secrets *sec, int i)
{
	uint8_t *const v[] = {
		sec->sender_data_secret, sec->exporter_secret,
		sec->external_secret,    sec->confirmation_key,
		sec->membership_key,     sec->resumption_psk,
		sec->epoch_authenticator, sec->init_secret,
	};

	return i < (int)(sizeof(v) / sizeof(v[0])) ? v[i] : NULL;
}

/* One epoch's part of the saved state: number, tree with our private
 * keys, transcript hashes, secrets, secret tree. */
static int save_epoch(const struct mls_group *g, const struct epoch *e,
		      struct codec_writer *w)
{
	struct mls_epoch_secrets *sec = (struct mls_epoch_secrets *)&e->sec;
	uint32_t width = mls_tree_width(mls_tree_n_leaves(e->tree));
	struct hpke_keypair kp;
	uint32_t n_priv = 0;

	codec_write_u64(w, e->epoch);
	GUARD(mls_tree_encode(e->tree, w));
	for (uint32_t x = 0; x < width; x++)
		n_priv += mls_tree_has_private(e->tree, x);
	codec_write_u32(w, n_priv);
	for (uint32_t x = 0; x < width; x++) {
		if (!mls_tree_has_private(e->tree, x))
			continue;
		GUARD(mls_tree_get_private(e->tree, x, &kp));
		codec_write_u32(w, x);
		codec_write_vec(w, kp.sk, kp.sk_len);
		codec_write_vec(w, kp.pk, kp.pk_len);
		hpke_keypair_wipe(&kp);
	}
	codec_write_vec(w, e->cth, e->cth_len);
	codec_write_vec(w, e->ith, e->ith_len);
	for (int i = 0; saved_secret(sec, i); i++)
		codec_write_bytes(w, saved_secret(sec, i), g->s->nh);
	return mls_secret_tree_save(e->st, w);
}

int mls_group_save_ex(const struct mls_group *g, bool with_staged,
		      struct codec_writer *w)
{
	if (!g || !w)
		return EPOCH_ERR_INVALID_ARG;
	codec_write_bytes(w, save_magic, sizeof(save_magic));
	codec_write_u16(w, g->suite_id);
	codec_write_vec(w, g->group_id, g->group_id_len);
	codec_write_vec(w, g->identity, g->identity_len);
	codec_write_bytes(w, g->sig_sk, sizeof(g->sig_sk));
	codec_write_bytes(w, g->sig_pk, ED25519_KEY_LEN);
	codec_write_vec(w, g->gc_ext, g->gc_ext_len);
	codec_write_u32(w, g->me);
	GUARD(save_epoch(g, &g->cur, w));
	if (with_staged && g->staged) {
		/* A marker, then the staged commit's epoch; without it the
		 * bytes end here (the format of a group without one). */
		codec_write_u8(w, 1);
		GUARD(save_epoch(g, &g->next, w));
	}
	return codec_writer_error(w);
}

int mls_group_save(const struct mls_group *g, struct codec_writer *w)
{
	return mls_group_save_ex(g, false, w);
}

static int read_dup(struct codec_reader *r, uint8_t **out, size_t *len)
{
	struct codec_slice sl;

	GUARD(codec_read_vec(r, &sl, MSG_MAX));
	*out = dup_bytes(sl.p, sl.len);
	*len = sl.len;
	return *out ? EPOCH_OK : EPOCH_ERR_NOMEM;
}

static int load_epoch(struct mls_group *g, struct epoch *e,
		      struct codec_reader *r)
{
	struct codec_reader sub;
	struct codec_slice sl, sk, pk;
	struct hpke_keypair kp;
	uint32_t n_priv, x;
	size_t start;
	int rc;

	GUARD(codec_read_u64(r, &e->epoch));
	/* The tree: decode it from where it starts. */
	start = r->pos;
	GUARD(codec_read_sub(r, &sub, MSG_MAX));
	GUARD(mls_tree_decode(&e->tree, g->s, r->buf + start,
			      r->pos - start));
	if (!mls_tree_leaf(e->tree, g->me))
		return EPOCH_ERR_MALFORMED;
	GUARD(codec_read_u32(r, &n_priv));
	for (uint32_t i = 0; i < n_priv; i++) {
		GUARD(codec_read_u32(r, &x));
		GUARD(codec_read_vec(r, &sk, HPKE_MAX_SK));
		GUARD(codec_read_vec(r, &pk, HPKE_MAX_PK));
		memset(&kp, 0, sizeof(kp));
		kp.kem_id = g->s->hpke.kem_id;
		memcpy(kp.sk, sk.p, sk.len);
		kp.sk_len = sk.len;
		memcpy(kp.pk, pk.p, pk.len);
		kp.pk_len = pk.len;
		rc = mls_tree_set_private(e->tree, x, &kp);
		hpke_keypair_wipe(&kp);
		GUARD(rc);
	}
	/* Transcript hashes: Nh bytes, or empty in epoch 0 (§8.2). */
	GUARD(codec_read_vec(r, &sl, MLS_MAX_NH));
	if (sl.len != (e->epoch ? g->s->nh : 0))
		return EPOCH_ERR_MALFORMED;
	memcpy(e->cth, sl.p, sl.len);
	e->cth_len = sl.len;
	GUARD(codec_read_vec(r, &sl, MLS_MAX_NH));
	if (sl.len != (e->epoch ? g->s->nh : 0))
		return EPOCH_ERR_MALFORMED;
	memcpy(e->ith, sl.p, sl.len);
	e->ith_len = sl.len;
	e->sec.nh = g->s->nh;
	for (int i = 0; saved_secret(&e->sec, i); i++)
		GUARD(codec_read_bytes(r, saved_secret(&e->sec, i), g->s->nh));
	GUARD(mls_secret_tree_load(&e->st, g->s, mls_tree_n_leaves(e->tree),
				   r));
	GUARD(mls_tree_root_hash(e->tree, e->tree_hash));
	return epoch_encode_gc(g, e);
}

static int load_body(struct mls_group *g, struct codec_reader *r)
{
	uint8_t sig_pk[ED25519_KEY_LEN], marker;

	GUARD(read_dup(r, &g->group_id, &g->group_id_len));
	GUARD(read_dup(r, &g->identity, &g->identity_len));
	GUARD(codec_read_bytes(r, g->sig_sk, sizeof(g->sig_sk)));
	GUARD(codec_read_bytes(r, g->sig_pk, ED25519_KEY_LEN));
	GUARD(crypto_ed25519_public(g->sig_sk, sig_pk));
	if (!crypto_ct_equal(sig_pk, g->sig_pk, ED25519_KEY_LEN) ||
	    !crypto_ct_equal(sig_pk, g->sig_sk + ED25519_KEY_LEN,
			     ED25519_KEY_LEN))
		return EPOCH_ERR_MALFORMED;
	GUARD(read_dup(r, &g->gc_ext, &g->gc_ext_len));
	GUARD(codec_read_u32(r, &g->me));
	GUARD(load_epoch(g, &g->cur, r));
	if (codec_reader_done(r) == EPOCH_OK)
		return EPOCH_OK;
	/* A staged commit's epoch follows: exactly the next one. */
	GUARD(codec_read_u8(r, &marker));
	if (marker != 1)
		return EPOCH_ERR_MALFORMED;
	GUARD(load_epoch(g, &g->next, r));
	if (g->next.epoch != g->cur.epoch + 1)
		return EPOCH_ERR_MALFORMED;
	g->staged = true;
	return codec_reader_done(r);
}

int mls_group_load(struct mls_group **out, const uint8_t *buf, size_t len,
		   const struct crypto_rng *rng)
{
	struct mls_group *g;
	struct codec_reader r;
	uint8_t magic[sizeof(save_magic)];
	uint16_t suite;
	int rc;

	if (!out || !buf)
		return EPOCH_ERR_INVALID_ARG;
	*out = NULL;
	codec_reader_init(&r, buf, len);
	if (codec_read_bytes(&r, magic, sizeof(magic)) != EPOCH_OK ||
	    memcmp(magic, save_magic, sizeof(magic)) != 0 ||
	    codec_read_u16(&r, &suite) != EPOCH_OK)
		return EPOCH_ERR_MALFORMED;
	g = calloc(1, sizeof(*g));
	if (!g)
		return EPOCH_ERR_NOMEM;
	g->suite_id = suite;
	g->s = mls_suite_get(suite);
	g->rng = rng;
	rc = g->s ? load_body(g, &r) : EPOCH_ERR_UNSUPPORTED;
	if (rc != EPOCH_OK) {
		mls_group_free(g);
		/* Whatever broke, the bytes are not a group we saved. */
		return rc == EPOCH_ERR_NOMEM ? rc : EPOCH_ERR_MALFORMED;
	}
	*out = g;
	return EPOCH_OK;
}

#ifdef EPOCHD_TEST_SECRETS
void mls_group_test_secrets(const struct mls_group *g,
			    mls_test_secret_fn fn, void *ctx)
{
	const struct epoch *e = &g->cur;
	const struct mls_epoch_secrets *sec = &e->sec;
	const struct {
		const char *name;
		const uint8_t *p;
	} v[] = {
		{ "epoch_secret", sec->test_epoch_secret },
		{ "encryption_secret", sec->test_encryption_secret },
		{ "joiner_secret", sec->test_joiner_secret },
		{ "welcome_secret", sec->test_welcome_secret },
		{ "member_secret", sec->test_member_secret },
		{ "commit_secret", sec->test_commit_secret },
		{ "sender_data_secret", sec->sender_data_secret },
		{ "exporter_secret", sec->exporter_secret },
		{ "external_secret", sec->external_secret },
		{ "confirmation_key", sec->confirmation_key },
		{ "membership_key", sec->membership_key },
		{ "resumption_psk", sec->resumption_psk },
		{ "epoch_authenticator", sec->epoch_authenticator },
		{ "init_secret", sec->init_secret },
	};
	uint32_t width = mls_tree_width(mls_tree_n_leaves(e->tree));
	struct hpke_keypair kp;

	static const uint8_t zero[MLS_MAX_NH];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (memcmp(v[i].p, zero, g->s->nh)) /* not an unset one */
			fn(ctx, v[i].name, v[i].p, g->s->nh);
	for (uint32_t x = 0; x < width; x++) {
		if (!mls_tree_has_private(e->tree, x) ||
		    mls_tree_get_private(e->tree, x, &kp) != EPOCH_OK)
			continue;
		fn(ctx, x % 2 ? "parent_hpke_sk" : "leaf_hpke_sk", kp.sk,
		   kp.sk_len);
		hpke_keypair_wipe(&kp);
	}
}
#endif

void mls_group_free(struct mls_group *g)
{
	if (!g)
		return;
	epoch_clear(&g->cur);
	epoch_clear(&g->next);
	free(g->group_id);
	free(g->identity);
	free(g->gc_ext);
	free(g->rx);
	if (g->pt)
		crypto_wipe(g->pt, g->pt_cap);
	free(g->pt);
	crypto_wipe(g, sizeof(*g));
	free(g);
}
