/* MLS (RFC 9420) engine, two-member groups.
 *
 * This first slice holds the cipher-suite table, the labeled crypto of
 * RFC 9420 §5.1-5.2, tree math (§4.1, Appendix C), the key schedule (§8),
 * the PSK secret (§8.4), the exporter (§8.5) and the secret tree (§9). Later
 * slices add the group API on top.
 *
 * Conventions as elsewhere: EPOCH_OK or a negative EPOCH_ERR_* (result.h);
 * every byte string comes with its length; randomness only through a
 * struct crypto_rng (NULL: the system CSPRNG); secrets live in buffers that
 * are wiped (the *_wipe / *_free functions).
 */
#ifndef EPOCHD_MLS_H
#define EPOCHD_MLS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/crypto.h"
#include "proto/hpke.h"
#include "proto/result.h"

/* ---- cipher suites (RFC 9420 §17.1) -------------------------------------- */

#define MLS_SUITE_X25519_AES128GCM_SHA256_ED25519 0x0001
#define MLS_SUITE_X25519_CHACHA20_SHA256_ED25519 0x0003
/* The post-quantum suite: X-Wing + AES-256-GCM + SHA-512 + Ed25519, the
 * default. No IETF number exists; we use 0xF00D from RFC 9420's private-use
 * range (as ts-mls 2.x does), and accept 0x0053, ts-mls 1.6.x's number for
 * the same parameters, as a second table row. docs/mls-suites.md records the
 * decision. Change the numbers only here. */
#define MLS_SUITE_XWING_AES256GCM_SHA512_ED25519 0xF00D
#define MLS_SUITE_XWING_AES256GCM_SHA512_ED25519_TSMLS16 0x0053

/* RFC 9420 §17.3 SignatureScheme. */
#define MLS_SIG_ED25519 0x0807

#define MLS_PROTOCOL_VERSION_MLS10 0x0001

/* Largest Nh, Nk, Nn over the suites in the table. */
#define MLS_MAX_NH 64
#define MLS_MAX_NK 32
#define MLS_MAX_NN 12
#define MLS_ED25519_SIG_LEN 64

struct mls_suite {
	uint16_t id;
	const char *name;
	enum crypto_hash hash;
	size_t nh; /* KDF.Nh = hash output length */
	enum crypto_aead aead;
	size_t nk, nn;
	struct hpke_suite hpke;
	uint16_t sig_scheme;
};

/* The table entry for a suite id, or NULL if we do not implement it. */
const struct mls_suite *mls_suite_get(uint16_t id);

/* ---- labeled crypto (RFC 9420 §5.1-5.2, §8) ------------------------------ */

/* Labels are C strings without the "MLS 1.0 " prefix, which the functions
 * add. Secrets are read as secret_len bytes (normally Nh). */

/* ExpandWithLabel(Secret, Label, Context, Length): HKDF-Expand with info
 * KDFLabel { uint16 length; opaque label<V> = "MLS 1.0 " + Label;
 * opaque context<V>; }. */
int mls_expand_with_label(const struct mls_suite *s, const uint8_t *secret,
			  size_t secret_len, const char *label,
			  const uint8_t *ctx, size_t ctx_len, uint8_t *out,
			  size_t out_len);
/* The same with a label given as bytes (the exporter's labels). */
int mls_expand_with_label_bytes(const struct mls_suite *s,
				const uint8_t *secret, size_t secret_len,
				const uint8_t *label, size_t label_len,
				const uint8_t *ctx, size_t ctx_len,
				uint8_t *out, size_t out_len);
/* DeriveSecret(Secret, Label) = ExpandWithLabel(Secret, Label, "", Nh);
 * out receives Nh bytes. */
int mls_derive_secret(const struct mls_suite *s, const uint8_t *secret,
		      size_t secret_len, const char *label, uint8_t *out);
/* DeriveTreeSecret(Secret, Label, Generation, Length): the context is the
 * uint32 generation (§9). */
int mls_derive_tree_secret(const struct mls_suite *s, const uint8_t *secret,
			   size_t secret_len, const char *label,
			   uint32_t generation, uint8_t *out, size_t out_len);
/* RefHash(label, value) = Hash(RefHashInput { opaque label<V>;
 * opaque value<V>; }) (§5.2): the label is used as given, with no prefix.
 * out receives Nh bytes. */
int mls_ref_hash(const struct mls_suite *s, const char *label,
		 const uint8_t *value, size_t value_len, uint8_t *out);
/* MakeKeyPackageRef / MakeProposalRef (§5.2). */
int mls_make_key_package_ref(const struct mls_suite *s, const uint8_t *kp,
			     size_t kp_len, uint8_t *out);
int mls_make_proposal_ref(const struct mls_suite *s, const uint8_t *prop,
			  size_t prop_len, uint8_t *out);

/* SignWithLabel / VerifyWithLabel (§5.1.2) over SignContent { opaque
 * label<V> = "MLS 1.0 " + Label; opaque content<V>; }. Ed25519 keys: the
 * 32-byte seed (or 64 bytes: seed || public key, which halves the cost of
 * signing) and the 32-byte public key. sig receives
 * MLS_ED25519_SIG_LEN bytes. Verify returns EPOCH_ERR_SIGNATURE on a bad
 * signature. */
int mls_sign_with_label(const struct mls_suite *s, const uint8_t *sk,
			size_t sk_len, const char *label,
			const uint8_t *content, size_t content_len,
			uint8_t *sig, size_t sig_cap, size_t *sig_len);
int mls_verify_with_label(const struct mls_suite *s, const uint8_t *pk,
			  size_t pk_len, const char *label,
			  const uint8_t *content, size_t content_len,
			  const uint8_t *sig, size_t sig_len);

/* EncryptWithLabel / DecryptWithLabel (§5.1.3): HPKE base mode single-shot
 * with info EncryptContext { opaque label<V> = "MLS 1.0 " + Label;
 * opaque context<V>; } and empty aad. Buffers as in hpke_seal/hpke_open. */
int mls_encrypt_with_label(const struct mls_suite *s,
			   const struct crypto_rng *rng, const uint8_t *pk,
			   size_t pk_len, const char *label,
			   const uint8_t *ctx, size_t ctx_len,
			   const uint8_t *pt, size_t pt_len, uint8_t *kem_out,
			   size_t kem_cap, size_t *kem_len, uint8_t *ct,
			   size_t ct_cap, size_t *ct_len);
int mls_decrypt_with_label(const struct mls_suite *s, const uint8_t *sk,
			   size_t sk_len, const char *label,
			   const uint8_t *ctx, size_t ctx_len,
			   const uint8_t *kem_out, size_t kem_len,
			   const uint8_t *ct, size_t ct_len, uint8_t *pt,
			   size_t pt_cap, size_t *pt_len);

/* ---- tree math (RFC 9420 §4.1, Appendix C) ------------------------------- */

/* Node indices of a left-balanced binary tree with n_leaves leaves (leaf i
 * is node 2i). Functions taking n_leaves work for any n_leaves >= 1 (RFC
 * 9420 trees are full, but the arithmetic does not need that). Invalid
 * queries (left of a leaf, parent of the root, a node outside the tree)
 * return MLS_NODE_NONE. */
#define MLS_NODE_NONE UINT32_MAX
uint32_t mls_tree_width(uint32_t n_leaves); /* number of nodes */
uint32_t mls_tree_level(uint32_t x);
uint32_t mls_tree_root(uint32_t n_leaves);
uint32_t mls_tree_left(uint32_t x);
uint32_t mls_tree_right(uint32_t x, uint32_t n_leaves);
uint32_t mls_tree_parent(uint32_t x, uint32_t n_leaves);
uint32_t mls_tree_sibling(uint32_t x, uint32_t n_leaves);
/* Direct path (parent up to and including the root) and copath (the
 * siblings of x and of its direct-path nodes below the root) of node x;
 * out has room for cap entries (32 is always enough); *n the count. */
int mls_tree_direct_path(uint32_t x, uint32_t n_leaves, uint32_t *out,
			 size_t cap, size_t *n);
int mls_tree_copath(uint32_t x, uint32_t n_leaves, uint32_t *out, size_t cap,
		    size_t *n);

/* ---- group context and key schedule (§8) --------------------------------- */

/* GroupContext fields (§8.1); extensions is the encoded content of the
 * extensions vector (without its length prefix; empty for none). */
struct mls_group_context {
	uint16_t cipher_suite;
	const uint8_t *group_id;
	size_t group_id_len;
	uint64_t epoch;
	const uint8_t *tree_hash;
	size_t tree_hash_len;
	const uint8_t *confirmed_transcript_hash;
	size_t confirmed_transcript_hash_len;
	const uint8_t *extensions;
	size_t extensions_len;
};

struct codec_writer;
struct codec_reader;
/* Appends the GroupContext encoding (version mls10 first) to w. */
int mls_group_context_encode(struct codec_writer *w,
			     const struct mls_group_context *gc);

/* Every secret of an epoch (Nh bytes each). Holds secrets: wipe with
 * mls_epoch_secrets_wipe(). */
struct mls_epoch_secrets {
	size_t nh;
	uint8_t joiner_secret[MLS_MAX_NH];
	uint8_t welcome_secret[MLS_MAX_NH];
	uint8_t sender_data_secret[MLS_MAX_NH];
	uint8_t encryption_secret[MLS_MAX_NH];
	uint8_t exporter_secret[MLS_MAX_NH];
	uint8_t external_secret[MLS_MAX_NH];
	uint8_t confirmation_key[MLS_MAX_NH];
	uint8_t membership_key[MLS_MAX_NH];
	uint8_t resumption_psk[MLS_MAX_NH];
	uint8_t epoch_authenticator[MLS_MAX_NH];
	uint8_t init_secret[MLS_MAX_NH]; /* of the next epoch */
#ifdef EPOCHD_TEST_SECRETS
	/* Test build only (the key erasure test, tests/e2e/
	 * test_daemon_erasure.c): copies of the secrets the schedule wipes
	 * at once or soon, kept with the epoch so the test can record them
	 * (commit_secret: all zero for a joiner and an empty commit). */
	uint8_t test_epoch_secret[MLS_MAX_NH];
	uint8_t test_encryption_secret[MLS_MAX_NH];
	uint8_t test_joiner_secret[MLS_MAX_NH];
	uint8_t test_welcome_secret[MLS_MAX_NH];
	uint8_t test_commit_secret[MLS_MAX_NH];
	uint8_t test_member_secret[MLS_MAX_NH];
#endif
};

/* The full schedule of §8 from the previous epoch's init_secret.
 * commit_secret and psk_secret are Nh bytes, or NULL for the all-zero
 * vector; group_context is the encoded GroupContext of the new epoch. */
int mls_key_schedule(const struct mls_suite *s, const uint8_t *init_secret,
		     const uint8_t *commit_secret, const uint8_t *psk_secret,
		     const uint8_t *group_context, size_t group_context_len,
		     struct mls_epoch_secrets *out);
/* The part after joiner_secret (what a joiner runs from a Welcome);
 * out->joiner_secret is set from joiner_secret. */
int mls_key_schedule_from_joiner(const struct mls_suite *s,
				 const uint8_t *joiner_secret,
				 const uint8_t *psk_secret,
				 const uint8_t *group_context,
				 size_t group_context_len,
				 struct mls_epoch_secrets *out);
void mls_epoch_secrets_wipe(struct mls_epoch_secrets *es);

/* external_pub: KEM.DeriveKeyPair(external_secret) (§8). */
int mls_external_keypair(const struct mls_suite *s,
			 const uint8_t *external_secret,
			 struct hpke_keypair *kp);

/* MLS-Exporter(Label, Context, Length) (§8.5) =
 * ExpandWithLabel(DeriveSecret(exporter_secret, Label), "exported",
 *                 Hash(Context), Length). */
int mls_exporter(const struct mls_suite *s, const uint8_t *exporter_secret,
		 const uint8_t *label, size_t label_len, const uint8_t *ctx,
		 size_t ctx_len, uint8_t *out, size_t out_len);

/* ---- pre-shared keys (§8.4) ----------------------------------------------- */

#define MLS_PSK_TYPE_EXTERNAL 1
#define MLS_PSK_TYPE_RESUMPTION 2
#define MLS_RESUMPTION_USAGE_APPLICATION 1
#define MLS_RESUMPTION_USAGE_REINIT 2
#define MLS_RESUMPTION_USAGE_BRANCH 3

/* A PreSharedKeyID with its key. External: psk_id; resumption: usage,
 * group_id, epoch. */
struct mls_psk {
	uint8_t psk_type;
	const uint8_t *psk_id;
	size_t psk_id_len;
	uint8_t usage;
	const uint8_t *group_id;
	size_t group_id_len;
	uint64_t epoch;
	const uint8_t *psk_nonce;
	size_t psk_nonce_len;
	const uint8_t *psk; /* the key itself */
	size_t psk_len;
};

/* Appends the PreSharedKeyID encoding to w. */
int mls_psk_id_encode(struct codec_writer *w, const struct mls_psk *psk);
/* psk_secret over n PSKs (n = 0 gives the all-zero vector); out receives
 * Nh bytes. */
int mls_psk_secret(const struct mls_suite *s, const struct mls_psk *psks,
		   size_t n, uint8_t *out);

/* ---- secret tree (§9) ----------------------------------------------------- */

enum mls_ratchet_type {
	MLS_RATCHET_HANDSHAKE = 0,
	MLS_RATCHET_APPLICATION = 1,
};

/* A key and nonce of one generation of a ratchet. Holds secrets: wipe it
 * with crypto_wipe() after use. */
struct mls_ratchet_key {
	uint32_t generation;
	size_t key_len, nonce_len;
	uint8_t key[MLS_MAX_NK];
	uint8_t nonce[MLS_MAX_NN];
};

struct mls_secret_tree;

/* A secret tree of n_leaves leaves rooted at encryption_secret (Nh
 * bytes). Node secrets are derived on demand; a parent's secret is wiped
 * once its children are derived, a leaf's once its ratchets start. */
int mls_secret_tree_new(struct mls_secret_tree **t, const struct mls_suite *s,
			const uint8_t *encryption_secret, uint32_t n_leaves);
void mls_secret_tree_free(struct mls_secret_tree *t);
/* The number of leaves the tree was made for (0 for NULL). */
uint32_t mls_secret_tree_n_leaves(const struct mls_secret_tree *t);

/* Each ratchet hands out every generation at most once (§9.2). Moving
 * forward over skipped generations keeps the keys of the last
 * MLS_RATCHET_WINDOW of them, so that a message that arrives late still
 * decrypts; when the window is full the oldest key is dropped and wiped.
 * A generation already handed out, or skipped and no longer in the window,
 * is EPOCH_ERR_GENERATION; so is a jump of more than
 * MLS_MAX_GENERATION_JUMP generations past the ratchet's next one. A leaf
 * outside the tree is EPOCH_ERR_INVALID_ARG. */
#define MLS_MAX_GENERATION_JUMP 1024u
#define MLS_RATCHET_WINDOW 32u

/* The key and nonce of `generation` for leaf `leaf` (a receiver), which is
 * then consumed: from the window if the generation is behind the
 * ratchet, else the ratchet moves forward to generation + 1, wiping every
 * ratchet secret it passes. */
int mls_secret_tree_key(struct mls_secret_tree *t, uint32_t leaf,
			enum mls_ratchet_type type, uint32_t generation,
			struct mls_ratchet_key *out);
/* The same without consuming anything: what mls_secret_tree_key would
 * return now (a receiver first authenticates a message with it, then
 * consumes the generation with mls_secret_tree_consume). */
int mls_secret_tree_peek(struct mls_secret_tree *t, uint32_t leaf,
			 enum mls_ratchet_type type, uint32_t generation,
			 struct mls_ratchet_key *out);
/* Consumes `generation` as mls_secret_tree_key does, without deriving its
 * key. */
int mls_secret_tree_consume(struct mls_secret_tree *t, uint32_t leaf,
			    enum mls_ratchet_type type, uint32_t generation);
/* The sender's side: the key and nonce of the ratchet's next unused
 * generation (out->generation), which is consumed. */
int mls_secret_tree_next_key(struct mls_secret_tree *t, uint32_t leaf,
			     enum mls_ratchet_type type,
			     struct mls_ratchet_key *out);

/* The tree's whole state (node secrets not yet used, every ratchet's
 * position, secret and window) appended to w, and a tree rebuilt from it
 * for a suite and leaf count (EPOCH_ERR_MALFORMED if the bytes do not
 * fit). For saving a group across a restart: the bytes are secret. */
int mls_secret_tree_save(const struct mls_secret_tree *t,
			 struct codec_writer *w);
int mls_secret_tree_load(struct mls_secret_tree **t, const struct mls_suite *s,
			 uint32_t n_leaves, struct codec_reader *r);

/* sender_data_key / sender_data_nonce (§6.3.2): ExpandWithLabel over the
 * first Nh bytes of the ciphertext (all of it if shorter). key receives
 * Nk, nonce Nn bytes. */
int mls_sender_data_key_nonce(const struct mls_suite *s,
			      const uint8_t *sender_data_secret,
			      const uint8_t *ciphertext, size_t ct_len,
			      uint8_t *key, uint8_t *nonce);

/* Wire structures (decode/encode): proto/mls_msg.h. */
#include "proto/mls_msg.h"

/* ---- transcript hashes and confirmation tag (§8.2, §6.1) ---------------- */

/* confirmed_transcript_hash = Hash(interim_transcript_hash_before ||
 * ConfirmedTranscriptHashInput), the input being wire_format, content and
 * signature of ac (content_type must be commit, else
 * EPOCH_ERR_INVALID_ARG). interim is empty (len 0) for epoch 0. out
 * receives Nh bytes. */
int mls_confirmed_transcript_hash(const struct mls_suite *s,
				  const uint8_t *interim, size_t interim_len,
				  const struct mls_authenticated_content *ac,
				  uint8_t *out);
/* interim_transcript_hash = Hash(confirmed_transcript_hash ||
 * InterimTranscriptHashInput), the input being the confirmation tag as
 * MAC<V>. confirmed is Nh bytes; out receives Nh bytes. */
int mls_interim_transcript_hash(const struct mls_suite *s,
				const uint8_t *confirmed, const uint8_t *tag,
				size_t tag_len, uint8_t *out);
/* confirmation_tag = MAC(confirmation_key, confirmed_transcript_hash),
 * HMAC with the suite hash; key and confirmed are Nh bytes, tag receives
 * Nh bytes. */
int mls_confirmation_tag(const struct mls_suite *s,
			 const uint8_t *confirmation_key,
			 const uint8_t *confirmed, uint8_t *tag);
/* EPOCH_OK if tag (tag_len bytes) is the confirmation tag, compared in
 * constant time; EPOCH_ERR_CONFIRMATION if not (also for a wrong length). */
int mls_confirmation_tag_verify(const struct mls_suite *s,
				const uint8_t *confirmation_key,
				const uint8_t *confirmed, const uint8_t *tag,
				size_t tag_len);

/* Ratchet tree and TreeKEM; framing, KeyPackage, GroupInfo, Welcome. */
#include "proto/mls_tree.h"
#include "proto/mls_framing.h"
#include "proto/mls_group.h"

#endif
