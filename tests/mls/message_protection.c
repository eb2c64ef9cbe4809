/* message-protection.json: PublicMessage signature and membership tag,
 * PrivateMessage encryption (RFC 9420 §6). For each of the proposal,
 * commit and application: the vector's messages unprotect to the raw
 * value, and what we protect ourselves unprotects again. The sender is
 * leaf 1 of a two-leaf secret tree. */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "tests/mls/vectors.h"

struct mp {
	const struct mls_suite *s;
	struct test_bytes gid, th, cth, sk, pk, enc, sds, mk;
	uint64_t epoch;
	struct codec_writer gc;
};

static const char *const kinds[] = { NULL, "application", "proposal",
				     "commit" };

/* Does the content body of fc equal the raw vector value? */
static int body_matches(const struct mls_framed_content *fc, uint8_t type,
			const struct test_bytes *raw)
{
	struct codec_writer w;
	int ok = 0;

	if (!CHECK(fc->content_type == type))
		return 0;
	if (type == MLS_CONTENT_APPLICATION)
		return CHECK(fc->application_data.len == raw->len) &&
		       CHECK_MEM(fc->application_data.p, raw->p, raw->len);
	codec_writer_init_dynamic(&w, 1 << 20);
	if (CHECK_OK(type == MLS_CONTENT_PROPOSAL ?
			     mls_proposal_encode(&w, &fc->proposal) :
			     mls_commit_encode(&w, &fc->commit)) &&
	    CHECK(w.len == raw->len))
		ok = CHECK_MEM(w.buf, raw->p, raw->len);
	codec_writer_free(&w);
	return ok;
}

/* A FramedContent from leaf 1 carrying the raw value (borrowed). */
static int build_content(const struct mp *m, uint8_t type,
			 const struct test_bytes *raw,
			 struct mls_framed_content *fc)
{
	fc->group_id.p = m->gid.p;
	fc->group_id.len = m->gid.len;
	fc->epoch = m->epoch;
	fc->sender.type = MLS_SENDER_MEMBER;
	fc->sender.index = 1;
	fc->authenticated_data.p = NULL;
	fc->authenticated_data.len = 0;
	fc->content_type = type;
	fc->application_data.p = NULL;
	fc->application_data.len = 0;
	switch (type) {
	case MLS_CONTENT_APPLICATION:
		fc->application_data.p = raw->p;
		fc->application_data.len = raw->len;
		return 1;
	case MLS_CONTENT_PROPOSAL:
		return CHECK_OK(mls_proposal_decode_all(raw->p, raw->len,
							&fc->proposal));
	default:
		return CHECK_OK(mls_commit_decode_all(raw->p, raw->len,
						      &fc->commit));
	}
}

/* Checks a decoded PublicMessage as a receiver: membership tag, signature,
 * sender, content. */
static void check_public(const struct mp *m, uint8_t type,
			 const struct test_bytes *raw,
			 const struct mls_public_message *pub,
			 struct mls_authenticated_content *ac)
{
	ac->wire_format = MLS_WIRE_PUBLIC_MESSAGE;
	ac->content = pub->content;
	ac->signature = pub->signature;
	ac->confirmation_tag = pub->confirmation_tag;
	CHECK(ac->content.sender.type == MLS_SENDER_MEMBER &&
	      ac->content.sender.index == 1);
	CHECK_OK(mls_membership_tag_verify(m->s, m->mk.p, ac, m->gc.buf,
					   m->gc.len, pub->membership_tag.p,
					   pub->membership_tag.len));
	CHECK_OK(mls_framed_content_verify(m->s, MLS_WIRE_PUBLIC_MESSAGE,
					   &ac->content, m->gc.buf, m->gc.len,
					   m->pk.p, m->pk.len,
					   ac->signature.p,
					   ac->signature.len));
	body_matches(&ac->content, type, raw);
}

static void do_public(const struct mp *m, uint8_t type,
		      const struct test_bytes *raw,
		      const struct test_bytes *wire)
{
	struct mls_message *msg = calloc(1, sizeof(*msg));
	struct mls_message *mine = calloc(1, sizeof(*mine));
	struct mls_authenticated_content *ac = calloc(1, sizeof(*ac));
	uint8_t sig[MLS_ED25519_SIG_LEN], tag[MLS_MAX_NH], ctag[MLS_MAX_NH];
	struct codec_writer w;

	codec_writer_init_dynamic(&w, 1 << 20);
	if (!CHECK(msg && mine && ac))
		goto out;
	/* The vector's message (none for application data). */
	if (type != MLS_CONTENT_APPLICATION &&
	    CHECK_OK(mls_message_decode_all(wire->p, wire->len, msg)) &&
	    CHECK(msg->version == MLS_PROTOCOL_VERSION_MLS10 &&
		  msg->wire_format == MLS_WIRE_PUBLIC_MESSAGE))
		check_public(m, type, raw, &msg->u.public_message, ac);

	/* Ours. */
	memset(ac, 0, sizeof(*ac));
	ac->wire_format = MLS_WIRE_PUBLIC_MESSAGE;
	if (!build_content(m, type, raw, &ac->content) ||
	    !CHECK_OK(mls_framed_content_sign(m->s, MLS_WIRE_PUBLIC_MESSAGE,
					      &ac->content, m->gc.buf,
					      m->gc.len, m->sk.p, m->sk.len,
					      sig)))
		goto out;
	ac->signature.p = sig;
	ac->signature.len = sizeof(sig);
	if (type == MLS_CONTENT_COMMIT) {
		memset(ctag, 0xc7, sizeof(ctag));
		ac->confirmation_tag.p = ctag;
		ac->confirmation_tag.len = m->s->nh;
	}
	if (type == MLS_CONTENT_APPLICATION) {
		/* Application data is never a PublicMessage. */
		CHECK_RC(mls_membership_tag(m->s, m->mk.p, ac, m->gc.buf,
					    m->gc.len, tag),
			 EPOCH_ERR_INVALID_ARG);
		goto out;
	}
	if (!CHECK_OK(mls_membership_tag(m->s, m->mk.p, ac, m->gc.buf,
					 m->gc.len, tag)))
		goto out;
	mine->version = MLS_PROTOCOL_VERSION_MLS10;
	mine->wire_format = MLS_WIRE_PUBLIC_MESSAGE;
	mine->u.public_message.content = ac->content;
	mine->u.public_message.signature = ac->signature;
	mine->u.public_message.confirmation_tag = ac->confirmation_tag;
	mine->u.public_message.membership_tag.p = tag;
	mine->u.public_message.membership_tag.len = m->s->nh;
	if (!CHECK_OK(mls_message_encode(&w, mine)))
		goto out;
	memset(msg, 0, sizeof(*msg));
	if (CHECK_OK(mls_message_decode_all(w.buf, w.len, msg)) &&
	    CHECK(msg->wire_format == MLS_WIRE_PUBLIC_MESSAGE))
		check_public(m, type, raw, &msg->u.public_message, ac);
out:
	codec_writer_free(&w);
	free(msg);
	free(mine);
	free(ac);
}

/* Decrypts pm with a fresh two-leaf tree and checks it as a receiver. */
static void check_private(const struct mp *m, uint8_t type,
			  const struct test_bytes *raw,
			  const struct mls_private_message *pm)
{
	struct mls_authenticated_content *ac = calloc(1, sizeof(*ac));
	struct mls_secret_tree *t = NULL;
	uint8_t *buf = malloc(pm->ciphertext.len + 1);

	if (!CHECK(ac && buf) ||
	    !CHECK_OK(mls_secret_tree_new(&t, m->s, m->enc.p, 2)))
		goto out;
	CHECK(pm->content_type == type);
	if (!CHECK_OK(mls_private_message_decrypt(m->s, t, m->sds.p, pm, buf,
						  pm->ciphertext.len, ac)))
		goto out;
	CHECK(ac->wire_format == MLS_WIRE_PRIVATE_MESSAGE);
	CHECK(ac->content.sender.type == MLS_SENDER_MEMBER &&
	      ac->content.sender.index == 1);
	CHECK(ac->content.epoch == m->epoch &&
	      ac->content.group_id.len == m->gid.len &&
	      memcmp(ac->content.group_id.p, m->gid.p, m->gid.len) == 0);
	CHECK_OK(mls_framed_content_verify(m->s, MLS_WIRE_PRIVATE_MESSAGE,
					   &ac->content, m->gc.buf, m->gc.len,
					   m->pk.p, m->pk.len,
					   ac->signature.p,
					   ac->signature.len));
	if (type == MLS_CONTENT_COMMIT)
		CHECK(ac->confirmation_tag.len == m->s->nh);
	body_matches(&ac->content, type, raw);
	/* The generation is used up. */
	CHECK_RC(mls_private_message_decrypt(m->s, t, m->sds.p, pm, buf,
					     pm->ciphertext.len, ac),
		 EPOCH_ERR_GENERATION);
out:
	mls_secret_tree_free(t);
	free(buf);
	free(ac);
}

static void do_private(const struct mp *m, uint8_t type,
		       const struct test_bytes *raw,
		       const struct test_bytes *wire)
{
	struct mls_message *msg = calloc(1, sizeof(*msg));
	struct mls_authenticated_content *ac = calloc(1, sizeof(*ac));
	struct mls_private_message pm;
	uint8_t sig[MLS_ED25519_SIG_LEN], ctag[MLS_MAX_NH];
	struct mls_secret_tree *t = NULL;
	struct test_rng rng;
	struct codec_writer w;

	codec_writer_init_dynamic(&w, 1 << 20);
	if (!CHECK(msg && ac))
		goto out;
	if (CHECK_OK(mls_message_decode_all(wire->p, wire->len, msg)) &&
	    CHECK(msg->version == MLS_PROTOCOL_VERSION_MLS10 &&
		  msg->wire_format == MLS_WIRE_PRIVATE_MESSAGE))
		check_private(m, type, raw, &msg->u.private_message);

	/* Ours, padded to a multiple of 32 bytes. */
	ac->wire_format = MLS_WIRE_PRIVATE_MESSAGE;
	if (!build_content(m, type, raw, &ac->content) ||
	    !CHECK_OK(mls_framed_content_sign(m->s, MLS_WIRE_PRIVATE_MESSAGE,
					      &ac->content, m->gc.buf,
					      m->gc.len, m->sk.p, m->sk.len,
					      sig)))
		goto out;
	ac->signature.p = sig;
	ac->signature.len = sizeof(sig);
	if (type == MLS_CONTENT_COMMIT) {
		memset(ctag, 0x3c, sizeof(ctag));
		ac->confirmation_tag.p = ctag;
		ac->confirmation_tag.len = m->s->nh;
	}
	test_rng_init(&rng, kinds[type]);
	if (!CHECK_OK(mls_secret_tree_new(&t, m->s, m->enc.p, 2)) ||
	    !CHECK_OK(mls_private_message_encrypt(m->s, t, m->sds.p, ac, 32,
						  &rng.rng, &w)) ||
	    !CHECK_OK(mls_private_message_decode_all(w.buf, w.len, &pm)))
		goto out;
	/* Padded: PrivateMessageContent plus the AEAD tag. */
	CHECK((pm.ciphertext.len - CRYPTO_AEAD_TAG_LEN) % 32 == 0);
	check_private(m, type, raw, &pm);
out:
	mls_secret_tree_free(t);
	codec_writer_free(&w);
	free(msg);
	free(ac);
}

static void mp_case(struct mp *m, const struct json *c)
{
	static const char *const fields[][3] = {
		{ "application", NULL, "application_priv" },
		{ "proposal", "proposal_pub", "proposal_priv" },
		{ "commit", "commit_pub", "commit_priv" },
	};
	struct mls_group_context gc = { 0 };

	if (vhex(c, "group_id", &m->gid) || vhex(c, "tree_hash", &m->th) ||
	    vhex(c, "confirmed_transcript_hash", &m->cth) ||
	    vhex(c, "signature_priv", &m->sk) ||
	    vhex(c, "signature_pub", &m->pk) ||
	    vhex(c, "encryption_secret", &m->enc) ||
	    vhex(c, "sender_data_secret", &m->sds) ||
	    vhex(c, "membership_key", &m->mk) ||
	    !CHECK(json_get_u64(c, "epoch", &m->epoch) == 0) ||
	    !CHECK(m->enc.len == m->s->nh && m->sds.len == m->s->nh &&
		   m->mk.len == m->s->nh))
		return;
	gc.cipher_suite = m->s->id;
	gc.group_id = m->gid.p;
	gc.group_id_len = m->gid.len;
	gc.epoch = m->epoch;
	gc.tree_hash = m->th.p;
	gc.tree_hash_len = m->th.len;
	gc.confirmed_transcript_hash = m->cth.p;
	gc.confirmed_transcript_hash_len = m->cth.len;
	if (!CHECK_OK(mls_group_context_encode(&m->gc, &gc)))
		return;
	for (uint8_t type = MLS_CONTENT_APPLICATION;
	     type <= MLS_CONTENT_COMMIT; type++) {
		const char *const *f = fields[type - 1];
		struct test_bytes raw = { 0 }, pub = { 0 }, priv = { 0 };

		if (!vhex(c, f[0], &raw) && !vhex(c, f[2], &priv) &&
		    (!f[1] || !vhex(c, f[1], &pub))) {
			do_public(m, type, &raw, &pub);
			do_private(m, type, &raw, &priv);
		}
		test_bytes_free(&raw);
		test_bytes_free(&pub);
		test_bytes_free(&priv);
	}
}

void run_message_protection(const struct json *doc, const char *file)
{
	for (size_t i = 0; i < doc->n; i++) {
		const struct json *c = doc->items[i];
		struct mp m;

		memset(&m, 0, sizeof(m));
		m.s = vsuite(c, file, i);
		if (!m.s)
			continue;
		vcase_begin("%s[%zu] suite %u", file, i, m.s->id);
		codec_writer_init_dynamic(&m.gc, 4096);
		mp_case(&m, c);
		codec_writer_free(&m.gc);
		test_bytes_free(&m.gid);
		test_bytes_free(&m.th);
		test_bytes_free(&m.cth);
		test_bytes_free(&m.sk);
		test_bytes_free(&m.pk);
		test_bytes_free(&m.enc);
		test_bytes_free(&m.sds);
		test_bytes_free(&m.mk);
		vcase_end();
	}
}
