/* MLS wire structures (RFC 9420 §5.3, §6, §7, §10, §12) with decoders and
 * encoders over proto/codec.
 *
 * Lifetime: decoding is zero-copy. Every struct codec_slice in a decoded
 * object points into the input buffer, so the object borrows that buffer
 * and must not outlive it. Vectors of structures are held in fixed arrays
 * bounded by the MLS_MAX_* constants below; a longer vector is
 * EPOCH_ERR_TOO_LONG. The objects are large (an MLSMessage with a Commit is
 * tens of kilobytes): allocate them, do not put them on small stacks.
 *
 * Each structure has mls_<name>_decode(reader, out), which reads one value
 * and leaves the reader after it, and mls_<name>_encode(writer, in), which
 * returns the writer's sticky error. The top-level entry points
 * (mls_message_decode_all, mls_*_decode_all) also require the whole input
 * to be consumed (EPOCH_ERR_TRAILING).
 *
 * Unknown extension, credential, proposal or cipher-suite values inside
 * lists (capabilities, extension lists) are accepted (GREASE, §13.5).
 * Values that select the layout of what follows (wire format, content
 * type, sender type, proposal type, credential type, node type, PSK type,
 * leaf-node source, ProposalOrRef type) must be known: otherwise
 * EPOCH_ERR_MALFORMED.
 */
#ifndef EPOCHD_MLS_MSG_H
#define EPOCHD_MLS_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/codec.h"

#define MLS_MAX_EXTENSIONS 32      /* per extension list */
#define MLS_MAX_CAPS 32            /* per capabilities list */
#define MLS_MAX_CERTS 8            /* X.509 chain length */
#define MLS_MAX_PROPOSALS 32       /* per Commit */
#define MLS_MAX_PATH_NODES 32      /* UpdatePath nodes */
#define MLS_MAX_PATH_CTS 32        /* HPKE ciphertexts per path node */
#define MLS_MAX_UNMERGED 32        /* unmerged leaves per parent */
#define MLS_MAX_TREE_NODES 256     /* ratchet tree nodes */
#define MLS_MAX_WELCOME_SECRETS 64 /* EncryptedGroupSecrets per Welcome */
#define MLS_MAX_PSKS 32            /* PSK ids per GroupSecrets */

enum {
	MLS_WIRE_PUBLIC_MESSAGE = 1,
	MLS_WIRE_PRIVATE_MESSAGE = 2,
	MLS_WIRE_WELCOME = 3,
	MLS_WIRE_GROUP_INFO = 4,
	MLS_WIRE_KEY_PACKAGE = 5,
};

enum {
	MLS_CONTENT_APPLICATION = 1,
	MLS_CONTENT_PROPOSAL = 2,
	MLS_CONTENT_COMMIT = 3,
};

enum {
	MLS_SENDER_MEMBER = 1,
	MLS_SENDER_EXTERNAL = 2,
	MLS_SENDER_NEW_MEMBER_PROPOSAL = 3,
	MLS_SENDER_NEW_MEMBER_COMMIT = 4,
};

enum {
	MLS_CRED_BASIC = 1,
	MLS_CRED_X509 = 2,
};

enum {
	MLS_LEAF_SRC_KEY_PACKAGE = 1,
	MLS_LEAF_SRC_UPDATE = 2,
	MLS_LEAF_SRC_COMMIT = 3,
};

enum {
	MLS_PROP_ADD = 1,
	MLS_PROP_UPDATE = 2,
	MLS_PROP_REMOVE = 3,
	MLS_PROP_PSK = 4,
	MLS_PROP_REINIT = 5,
	MLS_PROP_EXTERNAL_INIT = 6,
	MLS_PROP_GROUP_CONTEXT_EXTENSIONS = 7,
};

enum { MLS_POR_PROPOSAL = 1, MLS_POR_REFERENCE = 2 };
enum { MLS_PSK_EXTERNAL = 1, MLS_PSK_RESUMPTION = 2 };
enum { MLS_NODE_LEAF = 1, MLS_NODE_PARENT = 2 };

struct mls_extension {
	uint16_t type;
	struct codec_slice data;
};

struct mls_extensions {
	size_t n;
	struct mls_extension v[MLS_MAX_EXTENSIONS];
};

struct mls_u16_list {
	size_t n;
	uint16_t v[MLS_MAX_CAPS];
};

struct mls_credential {
	uint16_t type;
	struct codec_slice identity;          /* basic */
	size_t n_certs;                       /* x509 */
	struct codec_slice certs[MLS_MAX_CERTS];
};

struct mls_capabilities {
	struct mls_u16_list versions, cipher_suites, extensions, proposals,
		credentials;
};

struct mls_leaf_node {
	struct codec_slice encryption_key;
	struct codec_slice signature_key;
	struct mls_credential credential;
	struct mls_capabilities capabilities;
	uint8_t source;
	uint64_t not_before, not_after;   /* source key_package */
	struct codec_slice parent_hash;   /* source commit */
	struct mls_extensions extensions;
	struct codec_slice signature;
};

struct mls_key_package {
	uint16_t version;
	uint16_t cipher_suite;
	struct codec_slice init_key;
	struct mls_leaf_node leaf_node;
	struct mls_extensions extensions;
	struct codec_slice signature;
};

struct mls_pre_shared_key_id {
	uint8_t type;
	struct codec_slice psk_id;        /* external */
	uint8_t usage;                    /* resumption */
	struct codec_slice psk_group_id;
	uint64_t psk_epoch;
	struct codec_slice psk_nonce;
};

struct mls_reinit {
	struct codec_slice group_id;
	uint16_t version;
	uint16_t cipher_suite;
	struct mls_extensions extensions;
};

struct mls_proposal {
	uint16_t type;
	union {
		struct mls_key_package add;          /* Add.key_package */
		struct mls_leaf_node update;         /* Update.leaf_node */
		uint32_t remove;                     /* Remove.removed */
		struct mls_pre_shared_key_id psk;               /* PreSharedKey.psk */
		struct mls_reinit reinit;
		struct codec_slice external_init;    /* kem_output */
		struct mls_extensions gce;           /* extensions */
	} u;
};

struct mls_proposal_or_ref {
	uint8_t type;
	struct mls_proposal proposal;
	struct codec_slice reference;
};

struct mls_hpke_ciphertext {
	struct codec_slice kem_output;
	struct codec_slice ciphertext;
};

struct mls_update_path_node {
	struct codec_slice encryption_key;
	size_t n_secrets;
	struct mls_hpke_ciphertext secrets[MLS_MAX_PATH_CTS];
};

struct mls_update_path {
	struct mls_leaf_node leaf_node;
	size_t n_nodes;
	struct mls_update_path_node nodes[MLS_MAX_PATH_NODES];
};

struct mls_commit {
	size_t n_proposals;
	struct mls_proposal_or_ref proposals[MLS_MAX_PROPOSALS];
	bool has_path;
	struct mls_update_path path;
};

struct mls_sender {
	uint8_t type;
	uint32_t index;   /* leaf_index (member) or sender_index (external) */
};

struct mls_framed_content {
	struct codec_slice group_id;
	uint64_t epoch;
	struct mls_sender sender;
	struct codec_slice authenticated_data;
	uint8_t content_type;
	struct codec_slice application_data;
	struct mls_proposal proposal;
	struct mls_commit commit;
};

struct mls_public_message {
	struct mls_framed_content content;
	struct codec_slice signature;
	struct codec_slice confirmation_tag;   /* content_type commit */
	struct codec_slice membership_tag;     /* sender member */
};

/* RFC 9420 §6.1 AuthenticatedContent: wire_format, FramedContent and
 * FramedContentAuthData (confirmation_tag only for content_type commit). */
struct mls_authenticated_content {
	uint16_t wire_format;
	struct mls_framed_content content;
	struct codec_slice signature;
	struct codec_slice confirmation_tag;   /* content_type commit */
};

struct mls_private_message {
	struct codec_slice group_id;
	uint64_t epoch;
	uint8_t content_type;
	struct codec_slice authenticated_data;
	struct codec_slice encrypted_sender_data;
	struct codec_slice ciphertext;
};

struct mls_encrypted_group_secrets {
	struct codec_slice new_member;   /* KeyPackageRef */
	struct mls_hpke_ciphertext encrypted_group_secrets;
};

struct mls_welcome {
	uint16_t cipher_suite;
	size_t n_secrets;
	struct mls_encrypted_group_secrets secrets[MLS_MAX_WELCOME_SECRETS];
	struct codec_slice encrypted_group_info;
};

struct mls_wire_group_context {
	uint16_t version;
	uint16_t cipher_suite;
	struct codec_slice group_id;
	uint64_t epoch;
	struct codec_slice tree_hash;
	struct codec_slice confirmed_transcript_hash;
	struct mls_extensions extensions;
};

struct mls_group_info {
	struct mls_wire_group_context group_context;
	struct mls_extensions extensions;
	struct codec_slice confirmation_tag;
	uint32_t signer;
	struct codec_slice signature;
};

struct mls_group_secrets {
	struct codec_slice joiner_secret;
	bool has_path_secret;
	struct codec_slice path_secret;
	size_t n_psks;
	struct mls_pre_shared_key_id psks[MLS_MAX_PSKS];
};

struct mls_parent_node {
	struct codec_slice encryption_key;
	struct codec_slice parent_hash;
	size_t n_unmerged;
	uint32_t unmerged_leaves[MLS_MAX_UNMERGED];
};

struct mls_node {
	bool present;      /* optional<Node> */
	uint8_t type;
	struct mls_leaf_node leaf;
	struct mls_parent_node parent;
};

struct mls_ratchet_tree {
	size_t n;
	struct mls_node nodes[MLS_MAX_TREE_NODES];
};

struct mls_message {
	uint16_t version;
	uint16_t wire_format;
	union {
		struct mls_public_message public_message;
		struct mls_private_message private_message;
		struct mls_welcome welcome;
		struct mls_group_info group_info;
		struct mls_key_package key_package;
	} u;
};

#define MLS_MSG_DECL(name)                                                  \
	int mls_##name##_decode(struct codec_reader *r,                     \
				struct mls_##name *out);                    \
	int mls_##name##_encode(struct codec_writer *w,                     \
				const struct mls_##name *in);               \
	int mls_##name##_decode_all(const uint8_t *buf, size_t len,         \
				    struct mls_##name *out);

MLS_MSG_DECL(extension)
MLS_MSG_DECL(extensions)
MLS_MSG_DECL(credential)
MLS_MSG_DECL(capabilities)
MLS_MSG_DECL(leaf_node)
MLS_MSG_DECL(key_package)
MLS_MSG_DECL(pre_shared_key_id)
MLS_MSG_DECL(reinit)
MLS_MSG_DECL(proposal)
MLS_MSG_DECL(proposal_or_ref)
MLS_MSG_DECL(hpke_ciphertext)
MLS_MSG_DECL(update_path_node)
MLS_MSG_DECL(update_path)
MLS_MSG_DECL(commit)
MLS_MSG_DECL(sender)
MLS_MSG_DECL(framed_content)
MLS_MSG_DECL(public_message)
MLS_MSG_DECL(authenticated_content)
MLS_MSG_DECL(private_message)
MLS_MSG_DECL(encrypted_group_secrets)
MLS_MSG_DECL(welcome)
MLS_MSG_DECL(wire_group_context)
MLS_MSG_DECL(group_info)
MLS_MSG_DECL(group_secrets)
MLS_MSG_DECL(parent_node)
MLS_MSG_DECL(node)
MLS_MSG_DECL(ratchet_tree)
MLS_MSG_DECL(message)

/* The proposal bodies as messages.json carries them (the struct without
 * its ProposalType): mls_proposal_body_decode reads the body of a proposal
 * of the given type into p (p->type set to type). */
int mls_proposal_body_decode(struct codec_reader *r, uint16_t type,
			     struct mls_proposal *p);
int mls_proposal_body_encode(struct codec_writer *w,
			     const struct mls_proposal *p);

#endif
