/* Test access to proto/mls_group.c: commits and Welcomes that break one
 * RFC 9420 rule each, built with the group's real keys, so that the
 * negative tests can show each check catches exactly its rule. Not part
 * of the API; nothing outside tests/ includes this. */
#ifndef EPOCHD_MLS_GROUP_INT_H
#define EPOCHD_MLS_GROUP_INT_H

#include "proto/mls.h"

enum mls_forge {
	/* the commit */
	MLS_FORGE_SIGNATURE = 1u << 0,       /* FramedContent signature */
	MLS_FORGE_CONFIRMATION = 1u << 1,    /* confirmation tag */
	MLS_FORGE_MEMBERSHIP = 1u << 2,      /* membership tag (public) */
	MLS_FORGE_EPOCH = 1u << 3,           /* signed for epoch + 1 */
	MLS_FORGE_GROUP_ID = 1u << 4,        /* signed for another group */
	MLS_FORGE_NO_PATH = 1u << 5,         /* empty commit, no path */
	MLS_FORGE_PROPOSAL = 1u << 6,        /* an extra Remove proposal */
	MLS_FORGE_IDENTITY = 1u << 7,        /* new leaf, other identity */
	MLS_FORGE_SENDER = 1u << 8,          /* sender index of the peer */
	/* the Welcome */
	MLS_FORGE_GI_SIGNATURE = 1u << 16,   /* GroupInfo signature */
	MLS_FORGE_GI_TREE_HASH = 1u << 17,   /* GroupContext tree hash */
	MLS_FORGE_GI_CONFIRMATION = 1u << 18, /* GroupInfo confirmation tag */
	MLS_FORGE_GI_NO_TREE = 1u << 19,     /* no ratchet_tree extension */
	MLS_FORGE_GI_SIGNER = 1u << 20,      /* signer index outside tree */
	MLS_FORGE_GS_PSK = 1u << 21,         /* a PSK in GroupSecrets */
	MLS_FORGE_GI_SUITE = 1u << 22,       /* GroupContext suite */
};

/* mls_group_add (kp non-NULL) or mls_group_commit with the forgeries in
 * `forge` (a set of enum mls_forge). The result is staged like a real
 * commit; tests discard it. */
int mls_group_commit_forged(struct mls_group *g,
			    const struct mls_commit_opts *o, unsigned forge,
			    const uint8_t *kp, size_t kp_len,
			    const struct mls_policy *pol,
			    struct codec_writer *commit_out,
			    struct codec_writer *welcome_out);

#ifdef EPOCHD_TEST_SECRETS
/* Test build only (make keyscan; the key erasure test): calls fn with each
 * secret of g's current epoch, by name ("epoch_secret", "exporter_secret",
 * ..., "leaf_hpke_sk", "parent_hpke_sk"; an all-zero one is left out).
 * The bytes are the group's own (a tree key is a copy, wiped after the
 * call). */
typedef void (*mls_test_secret_fn)(void *ctx, const char *name,
				   const uint8_t *p, size_t n);
void mls_group_test_secrets(const struct mls_group *g,
			    mls_test_secret_fn fn, void *ctx);
#endif

#endif
