/* A two-member MLS group (RFC 9420) as an epochd tunnel uses it
 * (DESIGN.md §3-4): KeyPackages, creating a group and adding the peer,
 * joining from a Welcome, path commits that are staged until the caller
 * applies or discards them, processing the peer's messages, application
 * messages, the exporter, and saving/loading the whole state.
 *
 * Every input and output message is a full MLSMessage encoding. Outputs
 * are appended to a codec_writer (normally a dynamic one). On any error the
 * group is unchanged. struct mls_group holds secrets: mls_group_free()
 * wipes them, as mls_kp_secret_free() does for a KeyPackage's keys.
 * Included from proto/mls.h.
 */
#ifndef EPOCHD_MLS_GROUP_H
#define EPOCHD_MLS_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"
#include "proto/crypto.h"
#include "proto/result.h"

struct mls_credential;

/* Who we are in a group: suite, BasicCredential identity, Ed25519 key pair
 * (32-byte seed, 32-byte public key), the lifetime of our KeyPackages
 * (seconds since the epoch, inclusive) and the randomness source (NULL:
 * system CSPRNG). The pointed-to bytes must outlive the calls that take
 * the config; groups and KeyPackages copy what they keep. */
struct mls_member_config {
	uint16_t suite;
	const uint8_t *identity;
	size_t identity_len;
	const uint8_t *sig_sk;
	const uint8_t *sig_pk;
	uint64_t not_before, not_after;
	const struct crypto_rng *rng;
};

/* How we judge what the peer sends. now: current time (seconds) for
 * KeyPackage lifetimes. accept_credential: NULL accepts any credential;
 * otherwise it returns EPOCH_OK to accept the peer's credential and
 * signature key (epochd pins the key), anything else is reported as
 * EPOCH_ERR_CREDENTIAL. */
struct mls_policy {
	uint64_t now;
	int (*accept_credential)(void *ctx, const struct mls_credential *cred,
				 const uint8_t *sig_pk, size_t sig_pk_len);
	void *ctx;
};

/* The GroupContext extension epochd keeps the negotiated tunnel
 * parameters in (RFC 9420 private-use range). Our leaves list it in their
 * capabilities; a GroupContext extension outside a member's capabilities
 * is EPOCH_ERR_CAPABILITIES (§7.2). */
#define MLS_EXT_EPOCHD_TUNNEL 0xF0E0

/* ---- KeyPackages (§10) ----------------------------------------------------- */

struct mls_kp_secret;

/* A fresh KeyPackage with its init and leaf encryption private keys. */
int mls_kp_create(struct mls_kp_secret **out,
		  const struct mls_member_config *cfg);
/* The KeyPackage as an MLSMessage (borrowed). */
const uint8_t *mls_kp_bytes(const struct mls_kp_secret *kp, size_t *len);
void mls_kp_secret_free(struct mls_kp_secret *kp);

/* ---- groups ------------------------------------------------------------------ */

struct mls_group;

/* Options of a commit. authenticated_data is signed with the commit and
 * reaches the peer in mls_received.authenticated_data (epochd carries the
 * committer's inbound SPI there). public_message sends the commit as a
 * PublicMessage instead of a PrivateMessage. */
struct mls_commit_opts {
	const uint8_t *authenticated_data;
	size_t ad_len;
	bool public_message;
};

/* A new group with us as its only member, epoch 0. gc_extensions: the
 * encoded content of the GroupContext extensions vector (without length
 * prefix; epochd puts the negotiated tunnel parameters there), may be
 * empty. */
int mls_group_create(struct mls_group **g, const struct mls_member_config *cfg,
		     const uint8_t *group_id, size_t group_id_len,
		     const uint8_t *gc_extensions, size_t gc_ext_len);

/* Validates the peer's KeyPackage (MLSMessage) under pol (§10.1: version,
 * suite, signature, leaf node, lifetime, capabilities, credential) and
 * stages a commit that adds it, with an UpdatePath. Appends the commit
 * (MLSMessage) to commit_out and the Welcome (MLSMessage, with the
 * ratchet_tree extension in its GroupInfo) to welcome_out. */
int mls_group_add(struct mls_group *g, const uint8_t *kp, size_t kp_len,
		  const struct mls_policy *pol, const struct mls_commit_opts *o,
		  struct codec_writer *commit_out,
		  struct codec_writer *welcome_out);

/* Stages a commit with no proposals and an UpdatePath (a rekey). */
int mls_group_commit(struct mls_group *g, const struct mls_commit_opts *o,
		     struct codec_writer *out);

/* Whether a commit is staged; apply moves the group to the staged epoch,
 * discard drops it (and wipes its secrets). EPOCH_ERR_STATE if nothing is
 * staged. */
bool mls_group_has_staged(const struct mls_group *g);
int mls_group_apply(struct mls_group *g);
int mls_group_discard(struct mls_group *g);

/* Joins from a Welcome (MLSMessage) with the KeyPackage it was made for:
 * verifies the GroupInfo signature, the tree (mls_tree_validate) and its
 * hash, the peer's credential under pol, and the confirmation tag. On
 * success the KeyPackage's private keys are wiped (it is single-use); on
 * failure kp is untouched, so a forged Welcome does not burn it. */
int mls_group_join(struct mls_group **g, const struct mls_member_config *cfg,
		   struct mls_kp_secret *kp, const uint8_t *welcome,
		   size_t welcome_len, const struct mls_policy *pol);

/* What mls_group_process found. Slices borrow from the group's receive
 * buffer and are valid until the next call on the group. */
struct mls_received {
	uint8_t content_type;   /* MLS_CONTENT_APPLICATION or _COMMIT */
	uint32_t sender;        /* leaf index */
	uint64_t epoch;         /* the epoch the message was sent in */
	const uint8_t *authenticated_data;
	size_t ad_len;
	const uint8_t *application_data;
	size_t app_len;
};

/* Processes a message from the peer (MLSMessage: PublicMessage or
 * PrivateMessage). An application message is decrypted; a commit is
 * validated and applied (the group moves to the next epoch). With a
 * commit of ours staged a peer's commit for the current epoch is
 * EPOCH_ERR_STATE: the caller decides which commit wins and discards ours
 * first. A message of the staged epoch (the peer's acknowledgement,
 * DESIGN.md §4) is authenticated with the staged epoch's keys and, once
 * it is, the staged commit is applied as by mls_group_apply before the
 * message's content is handled; if it does not authenticate, nothing
 * changes. */
int mls_group_process(struct mls_group *g, const uint8_t *msg, size_t len,
		      struct mls_received *out);

/* Encrypts an application message (PrivateMessage) in the current epoch. */
int mls_group_encrypt(struct mls_group *g, const uint8_t *ad, size_t ad_len,
		      const uint8_t *pt, size_t pt_len,
		      struct codec_writer *out);

/* MLS-Exporter(label, ctx, out_len) of the current epoch, or (staged) of
 * the staged commit's epoch (EPOCH_ERR_STATE if none). */
int mls_group_export(const struct mls_group *g, bool staged,
		     const uint8_t *label, size_t label_len,
		     const uint8_t *ctx, size_t ctx_len, uint8_t *out,
		     size_t out_len);

uint64_t mls_group_epoch(const struct mls_group *g);
uint16_t mls_group_suite(const struct mls_group *g);
uint32_t mls_group_my_index(const struct mls_group *g);
/* epoch_authenticator of the current epoch (Nh bytes to out). */
int mls_group_epoch_authenticator(const struct mls_group *g, uint8_t *out,
				  size_t cap, size_t *len);
/* The GroupContext extensions (encoded content, borrowed). */
const uint8_t *mls_group_context_extensions(const struct mls_group *g,
					    size_t *len);
/* The other member's credential identity and signature key (borrowed);
 * EPOCH_ERR_STATE while alone. */
int mls_group_peer(const struct mls_group *g, const uint8_t **identity,
		   size_t *identity_len, const uint8_t **sig_pk,
		   size_t *sig_pk_len);

/* The whole state (current epoch, secrets, tree with private keys) as
 * bytes, and back. mls_group_save leaves a staged commit out (the copy is
 * the group as it was before the commit); mls_group_save_ex with
 * with_staged keeps it too, so that a restarted member can still apply it
 * when the peer acknowledges (epochd's state files, DESIGN.md §5). The
 * bytes are secret: the caller stores them 0600 and wipes its copies.
 * Load checks the format and version (EPOCH_ERR_MALFORMED) but the bytes
 * are trusted. */
int mls_group_save(const struct mls_group *g, struct codec_writer *out);
int mls_group_save_ex(const struct mls_group *g, bool with_staged,
		      struct codec_writer *out);
int mls_group_load(struct mls_group **g, const uint8_t *buf, size_t len,
		   const struct crypto_rng *rng);

void mls_group_free(struct mls_group *g);

#endif
