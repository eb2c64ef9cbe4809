/* messages.json: every field decodes with its structure (proto/mls_msg.h)
 * and re-encodes to the same bytes. */
#include <stdlib.h>

#include "tests/mls/vectors.h"

union any_msg {
	struct mls_message message;
	struct mls_ratchet_tree tree;
	struct mls_group_secrets group_secrets;
	struct mls_proposal proposal;
	struct mls_commit commit;
};

typedef int (*field_dec)(struct codec_reader *, union any_msg *);
typedef int (*field_enc)(struct codec_writer *, const union any_msg *);

static int msg_d(struct codec_reader *r, union any_msg *u)
{
	return mls_message_decode(r, &u->message);
}

static int msg_e(struct codec_writer *w, const union any_msg *u)
{
	return mls_message_encode(w, &u->message);
}

static int tree_d(struct codec_reader *r, union any_msg *u)
{
	return mls_ratchet_tree_decode(r, &u->tree);
}

static int tree_e(struct codec_writer *w, const union any_msg *u)
{
	return mls_ratchet_tree_encode(w, &u->tree);
}

static int gs_d(struct codec_reader *r, union any_msg *u)
{
	return mls_group_secrets_decode(r, &u->group_secrets);
}

static int gs_e(struct codec_writer *w, const union any_msg *u)
{
	return mls_group_secrets_encode(w, &u->group_secrets);
}

static int commit_d(struct codec_reader *r, union any_msg *u)
{
	return mls_commit_decode(r, &u->commit);
}

static int commit_e(struct codec_writer *w, const union any_msg *u)
{
	return mls_commit_encode(w, &u->commit);
}

static int body_e(struct codec_writer *w, const union any_msg *u)
{
	return mls_proposal_body_encode(w, &u->proposal);
}

#define BODY(name, type)                                                    \
	static int name##_d(struct codec_reader *r, union any_msg *u)       \
	{                                                                   \
		return mls_proposal_body_decode(r, (type), &u->proposal);   \
	}
BODY(add, MLS_PROP_ADD)
BODY(update, MLS_PROP_UPDATE)
BODY(remove, MLS_PROP_REMOVE)
BODY(psk, MLS_PROP_PSK)
BODY(reinit, MLS_PROP_REINIT)
BODY(extinit, MLS_PROP_EXTERNAL_INIT)
BODY(gce, MLS_PROP_GROUP_CONTEXT_EXTENSIONS)

static const struct {
	const char *key;
	int wire_format;   /* expected MLSMessage wire format, 0 if none */
	int content_type;  /* expected PublicMessage content type */
	field_dec dec;
	field_enc enc;
} fields[] = {
	{ "mls_welcome", MLS_WIRE_WELCOME, 0, msg_d, msg_e },
	{ "mls_group_info", MLS_WIRE_GROUP_INFO, 0, msg_d, msg_e },
	{ "mls_key_package", MLS_WIRE_KEY_PACKAGE, 0, msg_d, msg_e },
	{ "ratchet_tree", 0, 0, tree_d, tree_e },
	{ "group_secrets", 0, 0, gs_d, gs_e },
	{ "add_proposal", 0, 0, add_d, body_e },
	{ "update_proposal", 0, 0, update_d, body_e },
	{ "remove_proposal", 0, 0, remove_d, body_e },
	{ "pre_shared_key_proposal", 0, 0, psk_d, body_e },
	{ "re_init_proposal", 0, 0, reinit_d, body_e },
	{ "external_init_proposal", 0, 0, extinit_d, body_e },
	{ "group_context_extensions_proposal", 0, 0, gce_d, body_e },
	{ "commit", 0, 0, commit_d, commit_e },
	{ "public_message_application", MLS_WIRE_PUBLIC_MESSAGE,
	  MLS_CONTENT_APPLICATION, msg_d, msg_e },
	{ "public_message_proposal", MLS_WIRE_PUBLIC_MESSAGE,
	  MLS_CONTENT_PROPOSAL, msg_d, msg_e },
	{ "public_message_commit", MLS_WIRE_PUBLIC_MESSAGE,
	  MLS_CONTENT_COMMIT, msg_d, msg_e },
	{ "private_message", MLS_WIRE_PRIVATE_MESSAGE, 0, msg_d, msg_e },
};

static void check_field(const struct json *c, size_t k, union any_msg *u)
{
	struct test_bytes in;
	struct codec_reader r;
	struct codec_writer w;
	int rc;

	if (vhex(c, fields[k].key, &in) != 0)
		return;
	codec_reader_init(&r, in.p, in.len);
	rc = fields[k].dec(&r, u);
	if (rc == EPOCH_OK)
		rc = codec_reader_done(&r);
	if (!CHECK_OK(rc)) {
		test_note("field %s", fields[k].key);
		test_bytes_free(&in);
		return;
	}
	if (fields[k].wire_format) {
		CHECK_EQ_U64(u->message.version, 1);
		CHECK_EQ_U64(u->message.wire_format, fields[k].wire_format);
	}
	if (fields[k].content_type)
		CHECK_EQ_U64(u->message.u.public_message.content.content_type,
			     fields[k].content_type);
	codec_writer_init_dynamic(&w, 1u << 24);
	if (CHECK_OK(fields[k].enc(&w, u)) && CHECK_EQ_U64(w.len, in.len))
		CHECK_MEM(w.buf, in.p, in.len);
	else
		test_note("field %s", fields[k].key);
	codec_writer_free(&w);
	test_bytes_free(&in);
}

void run_messages(const struct json *doc, const char *file)
{
	union any_msg *u = malloc(sizeof(*u));

	for (size_t i = 0; i < doc->n; i++) {
		vcase_begin("%s[%zu]", file, i);
		if (CHECK(u != NULL))
			for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]);
			     k++)
				check_field(doc->items[i], k, u);
		vcase_end();
	}
	free(u);
}
