/* MLS message framing and the signed structures around a group (RFC 9420
 * §6, §10, §12.4.3): PublicMessage signature and membership tag,
 * PrivateMessage encryption, KeyPackage and GroupInfo signatures, Welcome
 * sealing and opening. Included from proto/mls.h.
 *
 * "gc" arguments are the encoded GroupContext of the epoch the message
 * belongs to (mls_group_context_encode). Ed25519 keys: 32-byte seed and
 * 32-byte public key.
 */
#ifndef EPOCHD_MLS_FRAMING_H
#define EPOCHD_MLS_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"
#include "proto/hpke.h"
#include "proto/result.h"

struct mls_suite;
struct mls_framed_content;
struct mls_authenticated_content;
struct mls_private_message;
struct mls_key_package;
struct mls_group_info;
struct mls_welcome;
struct mls_group_secrets;
struct mls_secret_tree;
struct mls_psk;

/* ---- signatures over content (§6.1) -------------------------------------- */

/* SignWithLabel(sk, "FramedContentTBS", FramedContentTBS) where the TBS is
 * version, wire_format, content and (sender member or new_member_commit)
 * the GroupContext. sig receives MLS_ED25519_SIG_LEN bytes. */
int mls_framed_content_sign(const struct mls_suite *s, uint16_t wire_format,
			    const struct mls_framed_content *fc,
			    const uint8_t *gc, size_t gc_len,
			    const uint8_t *sk, size_t sk_len, uint8_t *sig);
/* EPOCH_ERR_SIGNATURE on mismatch. */
int mls_framed_content_verify(const struct mls_suite *s,
			      uint16_t wire_format,
			      const struct mls_framed_content *fc,
			      const uint8_t *gc, size_t gc_len,
			      const uint8_t *pk, size_t pk_len,
			      const uint8_t *sig, size_t sig_len);

/* ---- PublicMessage (§6.2) ------------------------------------------------- */

/* membership_tag = MAC(membership_key, AuthenticatedContentTBM) for a
 * member sender; ac->wire_format is public; tag receives Nh bytes. */
int mls_membership_tag(const struct mls_suite *s,
		       const uint8_t *membership_key,
		       const struct mls_authenticated_content *ac,
		       const uint8_t *gc, size_t gc_len, uint8_t *tag);
/* EPOCH_ERR_MEMBERSHIP on mismatch (constant-time compare). */
int mls_membership_tag_verify(const struct mls_suite *s,
			      const uint8_t *membership_key,
			      const struct mls_authenticated_content *ac,
			      const uint8_t *gc, size_t gc_len,
			      const uint8_t *tag, size_t tag_len);

/* ---- PrivateMessage (§6.3) ------------------------------------------------ */

/* Encrypts ac (wire_format private; signature and, for commits, the
 * confirmation tag already set; sender a member) into a PrivateMessage
 * appended to out (the PrivateMessage body, without the MLSMessage
 * version/wire_format). Uses the next unused generation of the sender's
 * handshake or application ratchet in st (mls_secret_tree_next_key), a random reuse_guard from rng,
 * and pads the content with zeros so that the PrivateMessageContent is a
 * multiple of pad_to bytes (0: no padding). */
int mls_private_message_encrypt(const struct mls_suite *s,
				struct mls_secret_tree *st,
				const uint8_t *sender_data_secret,
				const struct mls_authenticated_content *ac,
				size_t pad_to,
				const struct crypto_rng *rng,
				struct codec_writer *out);
/* Decrypts pm: sender data (leaf index, generation, reuse guard), then the
 * content with that generation's key from st. The plaintext goes to buf
 * (cap bytes; pm->ciphertext.len is always enough) and `out` borrows from
 * it and from pm. Does not verify the signature (the caller knows the
 * sender's key). Errors: EPOCH_ERR_AUTH (AEAD), EPOCH_ERR_GENERATION (a
 * generation already consumed or too far ahead), EPOCH_ERR_SENDER (leaf
 * index outside the tree), EPOCH_ERR_MALFORMED (non-zero padding, bad
 * content encoding). */
int mls_private_message_decrypt(const struct mls_suite *s,
				struct mls_secret_tree *st,
				const uint8_t *sender_data_secret,
				const struct mls_private_message *pm,
				uint8_t *buf, size_t cap,
				struct mls_authenticated_content *out);
/* The same without consuming the generation: *generation receives it, and
 * the caller consumes it (mls_secret_tree_consume on the sender's
 * handshake or application ratchet) once the message has passed its own
 * checks too (sender, signature, commit), so that a message refused later
 * changes nothing. */
int mls_private_message_open(const struct mls_suite *s,
			     struct mls_secret_tree *st,
			     const uint8_t *sender_data_secret,
			     const struct mls_private_message *pm,
			     uint8_t *buf, size_t cap,
			     struct mls_authenticated_content *out,
			     uint32_t *generation);

/* ---- KeyPackage (§10) ------------------------------------------------------ */

/* SignWithLabel(sk, "KeyPackageTBS", KeyPackageTBS); sets kp->signature to
 * point at sig_buf (MLS_ED25519_SIG_LEN bytes). */
int mls_key_package_sign(const struct mls_suite *s,
			 struct mls_key_package *kp, const uint8_t *sk,
			 size_t sk_len, uint8_t *sig_buf);
/* Verifies the KeyPackage signature with its leaf's signature key. */
int mls_key_package_verify(const struct mls_suite *s,
			   const struct mls_key_package *kp);

/* ---- GroupInfo (§12.4.3) ---------------------------------------------------- */

int mls_group_info_sign(const struct mls_suite *s,
			struct mls_group_info *gi, const uint8_t *sk,
			size_t sk_len, uint8_t *sig_buf);
int mls_group_info_verify(const struct mls_suite *s,
			  const struct mls_group_info *gi,
			  const uint8_t *pk, size_t pk_len);

/* ---- Welcome (§12.4.3.1) ---------------------------------------------------- */

/* welcome_key and welcome_nonce from welcome_secret (Nh bytes). */
int mls_welcome_key_nonce(const struct mls_suite *s,
			  const uint8_t *welcome_secret, uint8_t *key,
			  uint8_t *nonce);
/* Seals one EncryptedGroupSecrets: EncryptWithLabel(init_key, "Welcome",
 * encrypted_group_info, group_secrets) for the KeyPackage whose ref is
 * kp_ref, and the encrypted GroupInfo, into an encoded Welcome appended to
 * out (the Welcome body, no MLSMessage header). group_secrets and
 * group_info are encodings. */
int mls_welcome_seal(const struct mls_suite *s, const struct crypto_rng *rng,
		     const uint8_t *welcome_secret, const uint8_t *kp_ref,
		     size_t kp_ref_len, const uint8_t *init_pk,
		     size_t init_pk_len, const uint8_t *group_secrets,
		     size_t gs_len, const uint8_t *group_info, size_t gi_len,
		     struct codec_writer *out);
/* Opening, step 1: finds the entry for kp_ref (EPOCH_ERR_INVALID_ARG if
 * none), decrypts it with init_sk into gs_buf and decodes it into gs
 * (borrowing gs_buf). */
int mls_welcome_open_secrets(const struct mls_suite *s,
			     const struct mls_welcome *w,
			     const uint8_t *kp_ref, size_t kp_ref_len,
			     const struct hpke_keypair *init,
			     uint8_t *gs_buf, size_t gs_cap,
			     struct mls_group_secrets *gs);
/* Step 2: with welcome_secret (from joiner_secret and the PSK secret,
 * §8), decrypts the GroupInfo into gi_buf and decodes it into gi
 * (borrowing gi_buf); does not verify its signature. */
int mls_welcome_open_group_info(const struct mls_suite *s,
				const struct mls_welcome *w,
				const uint8_t *welcome_secret,
				uint8_t *gi_buf, size_t gi_cap,
				struct mls_group_info *gi);
/* welcome_secret = DeriveSecret(Extract(joiner_secret, psk_secret),
 * "welcome"); psk_secret NULL for the zero vector. */
int mls_welcome_secret(const struct mls_suite *s,
		       const uint8_t *joiner_secret,
		       const uint8_t *psk_secret, uint8_t *out);

#endif
