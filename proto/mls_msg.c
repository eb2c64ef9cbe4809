/* MLS wire structures: decode/encode (see proto/mls_msg.h). */
#include <string.h>

#include "proto/mls.h"

#define VMAX CODEC_VARINT_MAX

/* ---- generic vector of T ------------------------------------------------ */

typedef int (*dec_fn)(struct codec_reader *, void *);
typedef int (*enc_fn)(struct codec_writer *, const void *);

/* T elems<V>: decodes into arr (max elements of size sz), count in *n. */
static int dec_vec(struct codec_reader *r, void *arr, size_t sz, size_t max,
		   size_t *n, dec_fn dec)
{
	struct codec_reader sub;

	*n = 0;
	GUARD(codec_read_sub(r, &sub, VMAX));
	while (codec_remaining(&sub)) {
		if (*n == max)
			return EPOCH_ERR_TOO_LONG;
		GUARD(dec(&sub, (uint8_t *)arr + *n * sz));
		(*n)++;
	}
	return EPOCH_OK;
}

static int enc_vec(struct codec_writer *w, const void *arr, size_t sz,
		   size_t max, size_t n, enc_fn enc)
{
	size_t mark;

	if (n > max)
		return EPOCH_ERR_INVALID_ARG;
	mark = codec_vec_begin(w);
	/* An element's selector error (EPOCH_ERR_INVALID_ARG) is not a
	 * writer error: it must stop the vector here. */
	for (size_t i = 0; i < n; i++)
		GUARD(enc(w, (const uint8_t *)arr + i * sz));
	return codec_vec_end(w, mark);
}

/* void * adapters for the vector helpers. */
#define ADAPT(name)                                                         \
	static int name##_dv(struct codec_reader *r, void *p)               \
	{                                                                   \
		return mls_##name##_decode(r, p);                           \
	}                                                                   \
	static int name##_ev(struct codec_writer *w, const void *p)         \
	{                                                                   \
		return mls_##name##_encode(w, p);                           \
	}

static int u16_dv(struct codec_reader *r, void *p)
{
	return codec_read_u16(r, p);
}

static int u16_ev(struct codec_writer *w, const void *p)
{
	return codec_write_u16(w, *(const uint16_t *)p);
}

static int u32_dv(struct codec_reader *r, void *p)
{
	return codec_read_u32(r, p);
}

static int u32_ev(struct codec_writer *w, const void *p)
{
	return codec_write_u32(w, *(const uint32_t *)p);
}

static int slice_dv(struct codec_reader *r, void *p)
{
	return codec_read_vec(r, p, VMAX);
}

static int slice_ev(struct codec_writer *w, const void *p)
{
	const struct codec_slice *s = p;

	return codec_write_vec(w, s->p, s->len);
}

static int rvec(struct codec_reader *r, struct codec_slice *s)
{
	return codec_read_vec(r, s, VMAX);
}

static void wvec(struct codec_writer *w, const struct codec_slice *s)
{
	codec_write_vec(w, s->p, s->len);
}

#define DEC_VEC(r, arr, n, fn)                                              \
	dec_vec((r), (arr), sizeof((arr)[0]),                               \
		sizeof(arr) / sizeof((arr)[0]), &(n), (fn))
#define ENC_VEC(w, arr, n, fn)                                              \
	enc_vec((w), (arr), sizeof((arr)[0]),                               \
		sizeof(arr) / sizeof((arr)[0]), (n), (fn))

/* ---- Extension, extension lists ---------------------------------------- */

int mls_extension_decode(struct codec_reader *r, struct mls_extension *out)
{
	GUARD(codec_read_u16(r, &out->type));
	return rvec(r, &out->data);
}

int mls_extension_encode(struct codec_writer *w, const struct mls_extension *in)
{
	codec_write_u16(w, in->type);
	wvec(w, &in->data);
	return codec_writer_error(w);
}
ADAPT(extension)

int mls_extensions_decode(struct codec_reader *r, struct mls_extensions *out)
{
	return DEC_VEC(r, out->v, out->n, extension_dv);
}

int mls_extensions_encode(struct codec_writer *w,
			  const struct mls_extensions *in)
{
	GUARD(ENC_VEC(w, in->v, in->n, extension_ev));
	return codec_writer_error(w);
}

/* ---- Credential, Capabilities, LeafNode, KeyPackage --------------------- */

/* Decoders clear the fields their selectors leave out, so a reused object
 * holds no stale views. */
static const struct codec_slice none;

int mls_credential_decode(struct codec_reader *r, struct mls_credential *out)
{
	out->identity = none;
	out->n_certs = 0;
	GUARD(codec_read_u16(r, &out->type));
	switch (out->type) {
	case MLS_CRED_BASIC:
		return rvec(r, &out->identity);
	case MLS_CRED_X509:
		return DEC_VEC(r, out->certs, out->n_certs, slice_dv);
	default:
		return EPOCH_ERR_MALFORMED;
	}
}

int mls_credential_encode(struct codec_writer *w,
			  const struct mls_credential *in)
{
	codec_write_u16(w, in->type);
	switch (in->type) {
	case MLS_CRED_BASIC:
		wvec(w, &in->identity);
		break;
	case MLS_CRED_X509:
		GUARD(ENC_VEC(w, in->certs, in->n_certs, slice_ev));
		break;
	default:
		return EPOCH_ERR_INVALID_ARG;
	}
	return codec_writer_error(w);
}

int mls_capabilities_decode(struct codec_reader *r,
			    struct mls_capabilities *out)
{
	struct mls_u16_list *l[] = { &out->versions, &out->cipher_suites,
				     &out->extensions, &out->proposals,
				     &out->credentials };

	for (size_t i = 0; i < 5; i++)
		GUARD(DEC_VEC(r, l[i]->v, l[i]->n, u16_dv));
	return EPOCH_OK;
}

int mls_capabilities_encode(struct codec_writer *w,
			    const struct mls_capabilities *in)
{
	const struct mls_u16_list *l[] = { &in->versions, &in->cipher_suites,
					   &in->extensions, &in->proposals,
					   &in->credentials };

	for (size_t i = 0; i < 5; i++)
		GUARD(ENC_VEC(w, l[i]->v, l[i]->n, u16_ev));
	return codec_writer_error(w);
}

int mls_leaf_node_decode(struct codec_reader *r, struct mls_leaf_node *out)
{
	GUARD(rvec(r, &out->encryption_key));
	GUARD(rvec(r, &out->signature_key));
	GUARD(mls_credential_decode(r, &out->credential));
	GUARD(mls_capabilities_decode(r, &out->capabilities));
	out->not_before = out->not_after = 0;
	out->parent_hash = none;
	GUARD(codec_read_u8(r, &out->source));
	switch (out->source) {
	case MLS_LEAF_SRC_KEY_PACKAGE:
		GUARD(codec_read_u64(r, &out->not_before));
		GUARD(codec_read_u64(r, &out->not_after));
		break;
	case MLS_LEAF_SRC_UPDATE:
		break;
	case MLS_LEAF_SRC_COMMIT:
		GUARD(rvec(r, &out->parent_hash));
		break;
	default:
		return EPOCH_ERR_MALFORMED;
	}
	GUARD(mls_extensions_decode(r, &out->extensions));
	return rvec(r, &out->signature);
}

int mls_leaf_node_encode(struct codec_writer *w,
			 const struct mls_leaf_node *in)
{
	wvec(w, &in->encryption_key);
	wvec(w, &in->signature_key);
	GUARD(mls_credential_encode(w, &in->credential));
	GUARD(mls_capabilities_encode(w, &in->capabilities));
	codec_write_u8(w, in->source);
	switch (in->source) {
	case MLS_LEAF_SRC_KEY_PACKAGE:
		codec_write_u64(w, in->not_before);
		codec_write_u64(w, in->not_after);
		break;
	case MLS_LEAF_SRC_UPDATE:
		break;
	case MLS_LEAF_SRC_COMMIT:
		wvec(w, &in->parent_hash);
		break;
	default:
		return EPOCH_ERR_INVALID_ARG;
	}
	GUARD(mls_extensions_encode(w, &in->extensions));
	wvec(w, &in->signature);
	return codec_writer_error(w);
}

int mls_key_package_decode(struct codec_reader *r,
			   struct mls_key_package *out)
{
	GUARD(codec_read_u16(r, &out->version));
	GUARD(codec_read_u16(r, &out->cipher_suite));
	GUARD(rvec(r, &out->init_key));
	GUARD(mls_leaf_node_decode(r, &out->leaf_node));
	GUARD(mls_extensions_decode(r, &out->extensions));
	return rvec(r, &out->signature);
}

int mls_key_package_encode(struct codec_writer *w,
			   const struct mls_key_package *in)
{
	codec_write_u16(w, in->version);
	codec_write_u16(w, in->cipher_suite);
	wvec(w, &in->init_key);
	GUARD(mls_leaf_node_encode(w, &in->leaf_node));
	GUARD(mls_extensions_encode(w, &in->extensions));
	wvec(w, &in->signature);
	return codec_writer_error(w);
}

/* ---- Proposals ----------------------------------------------------------- */

int mls_pre_shared_key_id_decode(struct codec_reader *r,
				 struct mls_pre_shared_key_id *out)
{
	out->psk_id = out->psk_group_id = none;
	out->usage = 0;
	out->psk_epoch = 0;
	GUARD(codec_read_u8(r, &out->type));
	switch (out->type) {
	case MLS_PSK_EXTERNAL:
		GUARD(rvec(r, &out->psk_id));
		break;
	case MLS_PSK_RESUMPTION:
		GUARD(codec_read_u8(r, &out->usage));
		GUARD(rvec(r, &out->psk_group_id));
		GUARD(codec_read_u64(r, &out->psk_epoch));
		break;
	default:
		return EPOCH_ERR_MALFORMED;
	}
	return rvec(r, &out->psk_nonce);
}

int mls_pre_shared_key_id_encode(struct codec_writer *w,
				 const struct mls_pre_shared_key_id *in)
{
	codec_write_u8(w, in->type);
	switch (in->type) {
	case MLS_PSK_EXTERNAL:
		wvec(w, &in->psk_id);
		break;
	case MLS_PSK_RESUMPTION:
		codec_write_u8(w, in->usage);
		wvec(w, &in->psk_group_id);
		codec_write_u64(w, in->psk_epoch);
		break;
	default:
		return EPOCH_ERR_INVALID_ARG;
	}
	wvec(w, &in->psk_nonce);
	return codec_writer_error(w);
}
ADAPT(pre_shared_key_id)

int mls_reinit_decode(struct codec_reader *r, struct mls_reinit *out)
{
	GUARD(rvec(r, &out->group_id));
	GUARD(codec_read_u16(r, &out->version));
	GUARD(codec_read_u16(r, &out->cipher_suite));
	return mls_extensions_decode(r, &out->extensions);
}

int mls_reinit_encode(struct codec_writer *w, const struct mls_reinit *in)
{
	wvec(w, &in->group_id);
	codec_write_u16(w, in->version);
	codec_write_u16(w, in->cipher_suite);
	return mls_extensions_encode(w, &in->extensions);
}

int mls_proposal_body_decode(struct codec_reader *r, uint16_t type,
			     struct mls_proposal *p)
{
	p->type = type;
	switch (type) {
	case MLS_PROP_ADD:
		return mls_key_package_decode(r, &p->u.add);
	case MLS_PROP_UPDATE:
		return mls_leaf_node_decode(r, &p->u.update);
	case MLS_PROP_REMOVE:
		return codec_read_u32(r, &p->u.remove);
	case MLS_PROP_PSK:
		return mls_pre_shared_key_id_decode(r, &p->u.psk);
	case MLS_PROP_REINIT:
		return mls_reinit_decode(r, &p->u.reinit);
	case MLS_PROP_EXTERNAL_INIT:
		return rvec(r, &p->u.external_init);
	case MLS_PROP_GROUP_CONTEXT_EXTENSIONS:
		return mls_extensions_decode(r, &p->u.gce);
	default:
		/* The body of an unknown proposal type has no length: it
		 * cannot be skipped. */
		return EPOCH_ERR_MALFORMED;
	}
}

int mls_proposal_body_encode(struct codec_writer *w,
			     const struct mls_proposal *p)
{
	switch (p->type) {
	case MLS_PROP_ADD:
		return mls_key_package_encode(w, &p->u.add);
	case MLS_PROP_UPDATE:
		return mls_leaf_node_encode(w, &p->u.update);
	case MLS_PROP_REMOVE:
		codec_write_u32(w, p->u.remove);
		return codec_writer_error(w);
	case MLS_PROP_PSK:
		return mls_pre_shared_key_id_encode(w, &p->u.psk);
	case MLS_PROP_REINIT:
		return mls_reinit_encode(w, &p->u.reinit);
	case MLS_PROP_EXTERNAL_INIT:
		wvec(w, &p->u.external_init);
		return codec_writer_error(w);
	case MLS_PROP_GROUP_CONTEXT_EXTENSIONS:
		return mls_extensions_encode(w, &p->u.gce);
	default:
		return EPOCH_ERR_INVALID_ARG;
	}
}

int mls_proposal_decode(struct codec_reader *r, struct mls_proposal *out)
{
	uint16_t type;

	GUARD(codec_read_u16(r, &type));
	return mls_proposal_body_decode(r, type, out);
}

int mls_proposal_encode(struct codec_writer *w, const struct mls_proposal *in)
{
	codec_write_u16(w, in->type);
	return mls_proposal_body_encode(w, in);
}

int mls_proposal_or_ref_decode(struct codec_reader *r,
			       struct mls_proposal_or_ref *out)
{
	out->reference = none;
	GUARD(codec_read_u8(r, &out->type));
	switch (out->type) {
	case MLS_POR_PROPOSAL:
		return mls_proposal_decode(r, &out->proposal);
	case MLS_POR_REFERENCE:
		return rvec(r, &out->reference);
	default:
		return EPOCH_ERR_MALFORMED;
	}
}

int mls_proposal_or_ref_encode(struct codec_writer *w,
			       const struct mls_proposal_or_ref *in)
{
	codec_write_u8(w, in->type);
	switch (in->type) {
	case MLS_POR_PROPOSAL:
		return mls_proposal_encode(w, &in->proposal);
	case MLS_POR_REFERENCE:
		wvec(w, &in->reference);
		return codec_writer_error(w);
	default:
		return EPOCH_ERR_INVALID_ARG;
	}
}
ADAPT(proposal_or_ref)

/* ---- Commit, UpdatePath -------------------------------------------------- */

int mls_hpke_ciphertext_decode(struct codec_reader *r,
			       struct mls_hpke_ciphertext *out)
{
	GUARD(rvec(r, &out->kem_output));
	return rvec(r, &out->ciphertext);
}

int mls_hpke_ciphertext_encode(struct codec_writer *w,
			       const struct mls_hpke_ciphertext *in)
{
	wvec(w, &in->kem_output);
	wvec(w, &in->ciphertext);
	return codec_writer_error(w);
}
ADAPT(hpke_ciphertext)

int mls_update_path_node_decode(struct codec_reader *r,
				struct mls_update_path_node *out)
{
	GUARD(rvec(r, &out->encryption_key));
	return DEC_VEC(r, out->secrets, out->n_secrets, hpke_ciphertext_dv);
}

int mls_update_path_node_encode(struct codec_writer *w,
				const struct mls_update_path_node *in)
{
	wvec(w, &in->encryption_key);
	GUARD(ENC_VEC(w, in->secrets, in->n_secrets, hpke_ciphertext_ev));
	return codec_writer_error(w);
}
ADAPT(update_path_node)

int mls_update_path_decode(struct codec_reader *r,
			   struct mls_update_path *out)
{
	GUARD(mls_leaf_node_decode(r, &out->leaf_node));
	return DEC_VEC(r, out->nodes, out->n_nodes, update_path_node_dv);
}

int mls_update_path_encode(struct codec_writer *w,
			   const struct mls_update_path *in)
{
	GUARD(mls_leaf_node_encode(w, &in->leaf_node));
	GUARD(ENC_VEC(w, in->nodes, in->n_nodes, update_path_node_ev));
	return codec_writer_error(w);
}

int mls_commit_decode(struct codec_reader *r, struct mls_commit *out)
{
	GUARD(DEC_VEC(r, out->proposals, out->n_proposals,
		      proposal_or_ref_dv));
	GUARD(codec_read_optional(r, &out->has_path));
	if (out->has_path)
		return mls_update_path_decode(r, &out->path);
	return EPOCH_OK;
}

int mls_commit_encode(struct codec_writer *w, const struct mls_commit *in)
{
	GUARD(ENC_VEC(w, in->proposals, in->n_proposals,
		      proposal_or_ref_ev));
	codec_write_optional(w, in->has_path);
	if (in->has_path)
		return mls_update_path_encode(w, &in->path);
	return codec_writer_error(w);
}

/* ---- FramedContent, PublicMessage, PrivateMessage ------------------------ */

int mls_sender_decode(struct codec_reader *r, struct mls_sender *out)
{
	out->index = 0;
	GUARD(codec_read_u8(r, &out->type));
	switch (out->type) {
	case MLS_SENDER_MEMBER:
	case MLS_SENDER_EXTERNAL:
		return codec_read_u32(r, &out->index);
	case MLS_SENDER_NEW_MEMBER_PROPOSAL:
	case MLS_SENDER_NEW_MEMBER_COMMIT:
		return EPOCH_OK;
	default:
		return EPOCH_ERR_MALFORMED;
	}
}

int mls_sender_encode(struct codec_writer *w, const struct mls_sender *in)
{
	codec_write_u8(w, in->type);
	switch (in->type) {
	case MLS_SENDER_MEMBER:
	case MLS_SENDER_EXTERNAL:
		codec_write_u32(w, in->index);
		break;
	case MLS_SENDER_NEW_MEMBER_PROPOSAL:
	case MLS_SENDER_NEW_MEMBER_COMMIT:
		break;
	default:
		return EPOCH_ERR_INVALID_ARG;
	}
	return codec_writer_error(w);
}

int mls_framed_content_decode(struct codec_reader *r,
			      struct mls_framed_content *out)
{
	GUARD(rvec(r, &out->group_id));
	GUARD(codec_read_u64(r, &out->epoch));
	GUARD(mls_sender_decode(r, &out->sender));
	GUARD(rvec(r, &out->authenticated_data));
	out->application_data = none;
	GUARD(codec_read_u8(r, &out->content_type));
	switch (out->content_type) {
	case MLS_CONTENT_APPLICATION:
		return rvec(r, &out->application_data);
	case MLS_CONTENT_PROPOSAL:
		return mls_proposal_decode(r, &out->proposal);
	case MLS_CONTENT_COMMIT:
		return mls_commit_decode(r, &out->commit);
	default:
		return EPOCH_ERR_MALFORMED;
	}
}

int mls_framed_content_encode(struct codec_writer *w,
			      const struct mls_framed_content *in)
{
	wvec(w, &in->group_id);
	codec_write_u64(w, in->epoch);
	GUARD(mls_sender_encode(w, &in->sender));
	wvec(w, &in->authenticated_data);
	codec_write_u8(w, in->content_type);
	switch (in->content_type) {
	case MLS_CONTENT_APPLICATION:
		wvec(w, &in->application_data);
		return codec_writer_error(w);
	case MLS_CONTENT_PROPOSAL:
		return mls_proposal_encode(w, &in->proposal);
	case MLS_CONTENT_COMMIT:
		return mls_commit_encode(w, &in->commit);
	default:
		return EPOCH_ERR_INVALID_ARG;
	}
}

int mls_public_message_decode(struct codec_reader *r,
			      struct mls_public_message *out)
{
	GUARD(mls_framed_content_decode(r, &out->content));
	GUARD(rvec(r, &out->signature));
	out->confirmation_tag = out->membership_tag = none;
	if (out->content.content_type == MLS_CONTENT_COMMIT)
		GUARD(rvec(r, &out->confirmation_tag));
	if (out->content.sender.type == MLS_SENDER_MEMBER)
		GUARD(rvec(r, &out->membership_tag));
	return EPOCH_OK;
}

int mls_public_message_encode(struct codec_writer *w,
			      const struct mls_public_message *in)
{
	GUARD(mls_framed_content_encode(w, &in->content));
	wvec(w, &in->signature);
	if (in->content.content_type == MLS_CONTENT_COMMIT)
		wvec(w, &in->confirmation_tag);
	if (in->content.sender.type == MLS_SENDER_MEMBER)
		wvec(w, &in->membership_tag);
	return codec_writer_error(w);
}

int mls_authenticated_content_decode(struct codec_reader *r,
				     struct mls_authenticated_content *out)
{
	GUARD(codec_read_u16(r, &out->wire_format));
	GUARD(mls_framed_content_decode(r, &out->content));
	GUARD(rvec(r, &out->signature));
	out->confirmation_tag = none;
	if (out->content.content_type == MLS_CONTENT_COMMIT)
		GUARD(rvec(r, &out->confirmation_tag));
	return EPOCH_OK;
}

int mls_authenticated_content_encode(
	struct codec_writer *w, const struct mls_authenticated_content *in)
{
	codec_write_u16(w, in->wire_format);
	GUARD(mls_framed_content_encode(w, &in->content));
	wvec(w, &in->signature);
	if (in->content.content_type == MLS_CONTENT_COMMIT)
		wvec(w, &in->confirmation_tag);
	return codec_writer_error(w);
}

int mls_private_message_decode(struct codec_reader *r,
			       struct mls_private_message *out)
{
	GUARD(rvec(r, &out->group_id));
	GUARD(codec_read_u64(r, &out->epoch));
	GUARD(codec_read_u8(r, &out->content_type));
	if (out->content_type < MLS_CONTENT_APPLICATION ||
	    out->content_type > MLS_CONTENT_COMMIT)
		return EPOCH_ERR_MALFORMED;
	GUARD(rvec(r, &out->authenticated_data));
	GUARD(rvec(r, &out->encrypted_sender_data));
	return rvec(r, &out->ciphertext);
}

int mls_private_message_encode(struct codec_writer *w,
			       const struct mls_private_message *in)
{
	wvec(w, &in->group_id);
	codec_write_u64(w, in->epoch);
	codec_write_u8(w, in->content_type);
	wvec(w, &in->authenticated_data);
	wvec(w, &in->encrypted_sender_data);
	wvec(w, &in->ciphertext);
	return codec_writer_error(w);
}

/* ---- Welcome, GroupInfo, GroupSecrets ------------------------------------ */

int mls_encrypted_group_secrets_decode(struct codec_reader *r,
				       struct mls_encrypted_group_secrets *out)
{
	GUARD(rvec(r, &out->new_member));
	return mls_hpke_ciphertext_decode(r, &out->encrypted_group_secrets);
}

int mls_encrypted_group_secrets_encode(
	struct codec_writer *w, const struct mls_encrypted_group_secrets *in)
{
	wvec(w, &in->new_member);
	return mls_hpke_ciphertext_encode(w, &in->encrypted_group_secrets);
}
ADAPT(encrypted_group_secrets)

int mls_welcome_decode(struct codec_reader *r, struct mls_welcome *out)
{
	GUARD(codec_read_u16(r, &out->cipher_suite));
	GUARD(DEC_VEC(r, out->secrets, out->n_secrets,
		      encrypted_group_secrets_dv));
	return rvec(r, &out->encrypted_group_info);
}

int mls_welcome_encode(struct codec_writer *w, const struct mls_welcome *in)
{
	codec_write_u16(w, in->cipher_suite);
	GUARD(ENC_VEC(w, in->secrets, in->n_secrets,
		      encrypted_group_secrets_ev));
	wvec(w, &in->encrypted_group_info);
	return codec_writer_error(w);
}

int mls_wire_group_context_decode(struct codec_reader *r,
			     struct mls_wire_group_context *out)
{
	GUARD(codec_read_u16(r, &out->version));
	GUARD(codec_read_u16(r, &out->cipher_suite));
	GUARD(rvec(r, &out->group_id));
	GUARD(codec_read_u64(r, &out->epoch));
	GUARD(rvec(r, &out->tree_hash));
	GUARD(rvec(r, &out->confirmed_transcript_hash));
	return mls_extensions_decode(r, &out->extensions);
}

int mls_wire_group_context_encode(struct codec_writer *w,
			     const struct mls_wire_group_context *in)
{
	codec_write_u16(w, in->version);
	codec_write_u16(w, in->cipher_suite);
	wvec(w, &in->group_id);
	codec_write_u64(w, in->epoch);
	wvec(w, &in->tree_hash);
	wvec(w, &in->confirmed_transcript_hash);
	return mls_extensions_encode(w, &in->extensions);
}

int mls_group_info_decode(struct codec_reader *r, struct mls_group_info *out)
{
	GUARD(mls_wire_group_context_decode(r, &out->group_context));
	GUARD(mls_extensions_decode(r, &out->extensions));
	GUARD(rvec(r, &out->confirmation_tag));
	GUARD(codec_read_u32(r, &out->signer));
	return rvec(r, &out->signature);
}

int mls_group_info_encode(struct codec_writer *w,
			  const struct mls_group_info *in)
{
	GUARD(mls_wire_group_context_encode(w, &in->group_context));
	GUARD(mls_extensions_encode(w, &in->extensions));
	wvec(w, &in->confirmation_tag);
	codec_write_u32(w, in->signer);
	wvec(w, &in->signature);
	return codec_writer_error(w);
}

int mls_group_secrets_decode(struct codec_reader *r,
			     struct mls_group_secrets *out)
{
	GUARD(rvec(r, &out->joiner_secret));
	out->path_secret = none;
	GUARD(codec_read_optional(r, &out->has_path_secret));
	if (out->has_path_secret)
		GUARD(rvec(r, &out->path_secret));
	return DEC_VEC(r, out->psks, out->n_psks, pre_shared_key_id_dv);
}

int mls_group_secrets_encode(struct codec_writer *w,
			     const struct mls_group_secrets *in)
{
	wvec(w, &in->joiner_secret);
	codec_write_optional(w, in->has_path_secret);
	if (in->has_path_secret)
		wvec(w, &in->path_secret);
	GUARD(ENC_VEC(w, in->psks, in->n_psks, pre_shared_key_id_ev));
	return codec_writer_error(w);
}

/* ---- Ratchet tree -------------------------------------------------------- */

int mls_parent_node_decode(struct codec_reader *r,
			   struct mls_parent_node *out)
{
	GUARD(rvec(r, &out->encryption_key));
	GUARD(rvec(r, &out->parent_hash));
	return DEC_VEC(r, out->unmerged_leaves, out->n_unmerged, u32_dv);
}

int mls_parent_node_encode(struct codec_writer *w,
			   const struct mls_parent_node *in)
{
	wvec(w, &in->encryption_key);
	wvec(w, &in->parent_hash);
	GUARD(ENC_VEC(w, in->unmerged_leaves, in->n_unmerged, u32_ev));
	return codec_writer_error(w);
}

/* optional<Node>. */
int mls_node_decode(struct codec_reader *r, struct mls_node *out)
{
	GUARD(codec_read_optional(r, &out->present));
	if (!out->present)
		return EPOCH_OK;
	GUARD(codec_read_u8(r, &out->type));
	switch (out->type) {
	case MLS_NODE_LEAF:
		return mls_leaf_node_decode(r, &out->leaf);
	case MLS_NODE_PARENT:
		return mls_parent_node_decode(r, &out->parent);
	default:
		return EPOCH_ERR_MALFORMED;
	}
}

int mls_node_encode(struct codec_writer *w, const struct mls_node *in)
{
	codec_write_optional(w, in->present);
	if (!in->present)
		return codec_writer_error(w);
	codec_write_u8(w, in->type);
	switch (in->type) {
	case MLS_NODE_LEAF:
		return mls_leaf_node_encode(w, &in->leaf);
	case MLS_NODE_PARENT:
		return mls_parent_node_encode(w, &in->parent);
	default:
		return EPOCH_ERR_INVALID_ARG;
	}
}
ADAPT(node)

int mls_ratchet_tree_decode(struct codec_reader *r,
			    struct mls_ratchet_tree *out)
{
	GUARD(DEC_VEC(r, out->nodes, out->n, node_dv));
	/* ratchet_tree<1..2^32-1>: at least one node; trailing blank nodes
	 * are truncated, so the last one is present (§12.4.3.3); in the
	 * array layout (Appendix C) leaves sit at even and parents at odd
	 * indices. */
	if (!out->n || !out->nodes[out->n - 1].present)
		return EPOCH_ERR_MALFORMED;
	for (size_t i = 0; i < out->n; i++)
		if (out->nodes[i].present &&
		    out->nodes[i].type !=
			    (i % 2 ? MLS_NODE_PARENT : MLS_NODE_LEAF))
			return EPOCH_ERR_MALFORMED;
	return EPOCH_OK;
}

int mls_ratchet_tree_encode(struct codec_writer *w,
			    const struct mls_ratchet_tree *in)
{
	GUARD(ENC_VEC(w, in->nodes, in->n, node_ev));
	return codec_writer_error(w);
}

/* ---- MLSMessage ---------------------------------------------------------- */

int mls_message_decode(struct codec_reader *r, struct mls_message *out)
{
	GUARD(codec_read_u16(r, &out->version));
	GUARD(codec_read_u16(r, &out->wire_format));
	switch (out->wire_format) {
	case MLS_WIRE_PUBLIC_MESSAGE:
		return mls_public_message_decode(r, &out->u.public_message);
	case MLS_WIRE_PRIVATE_MESSAGE:
		return mls_private_message_decode(r, &out->u.private_message);
	case MLS_WIRE_WELCOME:
		return mls_welcome_decode(r, &out->u.welcome);
	case MLS_WIRE_GROUP_INFO:
		return mls_group_info_decode(r, &out->u.group_info);
	case MLS_WIRE_KEY_PACKAGE:
		return mls_key_package_decode(r, &out->u.key_package);
	default:
		return EPOCH_ERR_MALFORMED;
	}
}

int mls_message_encode(struct codec_writer *w, const struct mls_message *in)
{
	codec_write_u16(w, in->version);
	codec_write_u16(w, in->wire_format);
	switch (in->wire_format) {
	case MLS_WIRE_PUBLIC_MESSAGE:
		return mls_public_message_encode(w, &in->u.public_message);
	case MLS_WIRE_PRIVATE_MESSAGE:
		return mls_private_message_encode(w, &in->u.private_message);
	case MLS_WIRE_WELCOME:
		return mls_welcome_encode(w, &in->u.welcome);
	case MLS_WIRE_GROUP_INFO:
		return mls_group_info_encode(w, &in->u.group_info);
	case MLS_WIRE_KEY_PACKAGE:
		return mls_key_package_encode(w, &in->u.key_package);
	default:
		return EPOCH_ERR_INVALID_ARG;
	}
}

/* ---- whole-buffer decoders ---------------------------------------------- */

#define DECODE_ALL(name)                                                    \
	int mls_##name##_decode_all(const uint8_t *buf, size_t len,         \
				    struct mls_##name *out)                 \
	{                                                                   \
		struct codec_reader r;                                      \
                                                                            \
		codec_reader_init(&r, buf, len);                            \
		GUARD(mls_##name##_decode(&r, out));                        \
		return codec_reader_done(&r);                               \
	}

DECODE_ALL(extension)
DECODE_ALL(extensions)
DECODE_ALL(credential)
DECODE_ALL(capabilities)
DECODE_ALL(leaf_node)
DECODE_ALL(key_package)
DECODE_ALL(pre_shared_key_id)
DECODE_ALL(reinit)
DECODE_ALL(proposal)
DECODE_ALL(proposal_or_ref)
DECODE_ALL(hpke_ciphertext)
DECODE_ALL(update_path_node)
DECODE_ALL(update_path)
DECODE_ALL(commit)
DECODE_ALL(sender)
DECODE_ALL(framed_content)
DECODE_ALL(public_message)
DECODE_ALL(authenticated_content)
DECODE_ALL(private_message)
DECODE_ALL(encrypted_group_secrets)
DECODE_ALL(welcome)
DECODE_ALL(wire_group_context)
DECODE_ALL(group_info)
DECODE_ALL(group_secrets)
DECODE_ALL(parent_node)
DECODE_ALL(node)
DECODE_ALL(ratchet_tree)
DECODE_ALL(message)
