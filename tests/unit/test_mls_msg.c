/* proto/mls_msg: what the messages.json vectors (tests/mls/messages.c) do
 * not reach: truncation and trailing bytes, values that select a layout,
 * optional<T> octets, GREASE in lists, vector bounds on decode and encode. */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/mls.h"
#include "tests/lib/test.h"

/* messages.json[0].mls_key_package (an MLSMessage). */
static const char kp_hex[] =
	"000100050001000120c749ea08b3d33784ecf799c150ed8a43580e1cc12a1a89"
	"3822547ba3c021ac76201e44ee2a27540d5c65a3f1e07bcb2ba558959ad22168"
	"d4de7f180201a9b666222038a5e7481e20afe7e500cb3065a67ebe9c2c3ecd53"
	"7d4479309159fe2215c4b5000105416c696365020001060001000200030200"
	"010c00010002000300040005000702000101000000006408842400000000647"
	"750340040404cdfef1fdc8d04758353f3f07c2fe7282fa0215ddc72441a3312"
	"4ef5106df858f86f57aefe08f255450df1243b630b8dd3912cbf2d94af7612fa"
	"4a07420cb70d004040136da188e3b773e12e76c9be654f7b51fc94bb8f7d5305"
	"9e7ce2421d9226e8d1637209d3d65ed1ab0a198e1e63e2052dfdae85609f7d06"
	"951cf62ef66a12b300";

static struct mls_message *msg;

static int hex(const char *h, struct test_bytes *b)
{
	return test_hex(h, b);
}

static void test_key_package(void)
{
	struct test_bytes b;
	struct codec_writer w;
	const struct mls_key_package *kp = &msg->u.key_package;

	if (!CHECK(hex(kp_hex, &b) == 0))
		return;
	if (CHECK_OK(mls_message_decode_all(b.p, b.len, msg))) {
		CHECK_EQ_U64(msg->wire_format, MLS_WIRE_KEY_PACKAGE);
		CHECK_EQ_U64(kp->version, 1);
		CHECK_EQ_U64(kp->cipher_suite, 1);
		CHECK_EQ_U64(kp->init_key.len, 32);
		CHECK_EQ_U64(kp->leaf_node.credential.type, MLS_CRED_BASIC);
		CHECK(kp->leaf_node.credential.identity.len == 5 &&
		      memcmp(kp->leaf_node.credential.identity.p, "Alice",
			     5) == 0);
		CHECK_EQ_U64(kp->leaf_node.source, MLS_LEAF_SRC_KEY_PACKAGE);
		CHECK_EQ_U64(kp->leaf_node.capabilities.cipher_suites.n, 3);
		/* Zero-copy: slices point into the input. */
		CHECK(kp->init_key.p >= b.p && kp->init_key.p < b.p + b.len);
		codec_writer_init_dynamic(&w, 4096);
		if (CHECK_OK(mls_message_encode(&w, msg)) &&
		    CHECK_EQ_U64(w.len, b.len))
			CHECK_MEM(w.buf, b.p, b.len);
		codec_writer_free(&w);
	}
	test_bytes_free(&b);
}

/* Every strict prefix fails cleanly; an extra byte is TRAILING. */
static void test_truncation_and_trailing(void)
{
	struct test_bytes b;
	uint8_t *c;

	if (!CHECK(hex(kp_hex, &b) == 0))
		return;
	for (size_t n = 0; n < b.len; n++) {
		/* A fresh heap copy of exactly n bytes so ASan sees any
		 * over-read. */
		c = malloc(n ? n : 1);
		if (!CHECK(c))
			break;
		memcpy(c, b.p, n);
		int rc = mls_message_decode_all(c, n, msg);
		free(c);
		if (!CHECK(rc == EPOCH_ERR_TRUNCATED)) {
			test_note("prefix %zu: %s", n, result_name(rc));
			break;
		}
	}
	c = malloc(b.len + 1);
	if (CHECK(c)) {
		memcpy(c, b.p, b.len);
		c[b.len] = 0;
		CHECK_RC(mls_message_decode_all(c, b.len + 1, msg),
			 EPOCH_ERR_TRAILING);
		free(c);
	}
	test_bytes_free(&b);
}

static int dec_hex(const char *h, int (*fn)(const uint8_t *, size_t, void *),
		   void *out)
{
	struct test_bytes b;
	int rc;

	if (hex(h, &b) != 0)
		return -100;
	rc = fn(b.p, b.len, out);
	test_bytes_free(&b);
	return rc;
}

static int msg_all(const uint8_t *p, size_t n, void *o)
{
	return mls_message_decode_all(p, n, o);
}

static int commit_all(const uint8_t *p, size_t n, void *o)
{
	return mls_commit_decode_all(p, n, o);
}

static int tree_all(const uint8_t *p, size_t n, void *o)
{
	return mls_ratchet_tree_decode_all(p, n, o);
}

static int caps_all(const uint8_t *p, size_t n, void *o)
{
	return mls_capabilities_decode_all(p, n, o);
}

static int ext_all(const uint8_t *p, size_t n, void *o)
{
	return mls_extensions_decode_all(p, n, o);
}

static int cred_all(const uint8_t *p, size_t n, void *o)
{
	return mls_credential_decode_all(p, n, o);
}

static int prop_all(const uint8_t *p, size_t n, void *o)
{
	return mls_proposal_decode_all(p, n, o);
}

static void test_selectors(void)
{
	/* Wire formats 0 and 6 are unknown. */
	CHECK_RC(dec_hex("00010000", msg_all, msg), EPOCH_ERR_MALFORMED);
	CHECK_RC(dec_hex("00010006", msg_all, msg), EPOCH_ERR_MALFORMED);
	/* PrivateMessage with content type 4. */
	CHECK_RC(dec_hex("00010002" "00" "0000000000000000" "04" "000000", msg_all,
			 msg),
		 EPOCH_ERR_MALFORMED);
	/* PublicMessage, sender type 5. */
	CHECK_RC(dec_hex("0001000100000000000000000005", msg_all, msg),
		 EPOCH_ERR_MALFORMED);
	/* Application PublicMessage from an external sender: no
	 * membership_tag; round-trips. */
	{
		struct test_bytes b;
		struct codec_writer w;

		if (CHECK(hex("00010001" "0167" "0000000000000007"
			      "0200000003" "00" "01" "01aa" "01bb",
			      &b) == 0)) {
			if (CHECK_OK(mls_message_decode_all(b.p, b.len,
							    msg))) {
				CHECK_EQ_U64(msg->u.public_message.content
						     .sender.index,
					     3);
				codec_writer_init_dynamic(&w, 256);
				if (CHECK_OK(mls_message_encode(&w, msg)) &&
				    CHECK_EQ_U64(w.len, b.len))
					CHECK_MEM(w.buf, b.p, b.len);
				codec_writer_free(&w);
			}
			test_bytes_free(&b);
		}
	}
	/* Unknown proposal type: its body cannot be skipped. */
	CHECK_RC(dec_hex("0a0a00", prop_all, msg), EPOCH_ERR_MALFORMED);
	CHECK_OK(dec_hex("000300000007", prop_all, msg));
	/* Unknown credential type. */
	CHECK_RC(dec_hex("0a0a00", cred_all, msg), EPOCH_ERR_MALFORMED);
	/* X.509 chain of two certificates. */
	CHECK_OK(dec_hex("00020401aa01bb", cred_all, msg));
}

/* [blank, parent with two unmerged leaves, the key package's leaf] built,
 * encoded and decoded back. */
static void test_tree_round_trip(struct mls_ratchet_tree *t)
{
	struct test_bytes b;
	struct codec_writer w, w2;
	static const uint8_t ek[2] = { 0xaa, 0xbb };

	if (!CHECK(hex(kp_hex, &b) == 0))
		return;
	if (CHECK_OK(mls_message_decode_all(b.p, b.len, msg))) {
		memset(t, 0, sizeof(*t));
		t->n = 3;
		t->nodes[1].present = true;
		t->nodes[1].type = MLS_NODE_PARENT;
		t->nodes[1].parent.encryption_key =
			(struct codec_slice){ ek, 2 };
		t->nodes[1].parent.n_unmerged = 2;
		t->nodes[1].parent.unmerged_leaves[0] = 1;
		t->nodes[1].parent.unmerged_leaves[1] = 2;
		t->nodes[2].present = true;
		t->nodes[2].type = MLS_NODE_LEAF;
		t->nodes[2].leaf = msg->u.key_package.leaf_node;
		codec_writer_init_dynamic(&w, 4096);
		if (CHECK_OK(mls_ratchet_tree_encode(&w, t)) &&
		    CHECK_OK(mls_ratchet_tree_decode_all(w.buf, w.len, t)))
			CHECK(t->n == 3 && !t->nodes[0].present &&
			      t->nodes[1].parent.n_unmerged == 2 &&
			      t->nodes[1].parent.unmerged_leaves[1] == 2 &&
			      t->nodes[1].parent.parent_hash.len == 0 &&
			      t->nodes[2].leaf.credential.identity.len == 5);
		/* An unknown node type is refused by the encoder. */
		t->nodes[1].type = 3;
		codec_writer_init_dynamic(&w2, 4096);
		CHECK_RC(mls_ratchet_tree_encode(&w2, t),
			 EPOCH_ERR_INVALID_ARG);
		codec_writer_free(&w2);
		t->nodes[1].type = MLS_NODE_PARENT;
		/* A blank appended at the end is refused. t borrows w's
		 * buffer now, so w stays alive until t is re-encoded. */
		t->n = 4;
		t->nodes[3].present = false;
		codec_writer_init_dynamic(&w2, 4096);
		if (CHECK_OK(mls_ratchet_tree_encode(&w2, t)))
			CHECK_RC(mls_ratchet_tree_decode_all(w2.buf, w2.len, t),
				 EPOCH_ERR_MALFORMED);
		codec_writer_free(&w2);
		codec_writer_free(&w);
	}
	test_bytes_free(&b);
}

static void test_optional_and_tree(void)
{
	struct mls_commit *c = &msg->u.public_message.content.commit;
	struct mls_ratchet_tree *t = malloc(sizeof(*t));

	/* Commit: no proposals, path optional octet. */
	CHECK_OK(dec_hex("0000", commit_all, c));
	CHECK(!c->has_path && c->n_proposals == 0);
	CHECK_RC(dec_hex("0002", commit_all, c), EPOCH_ERR_MALFORMED);
	/* ProposalOrRef type 3. */
	CHECK_RC(dec_hex("01030000", commit_all, c), EPOCH_ERR_MALFORMED);
	/* Reference proposal. */
	CHECK_OK(dec_hex("0402020a0b00", commit_all, c));
	CHECK(c->n_proposals == 1 &&
	      c->proposals[0].type == MLS_POR_REFERENCE &&
	      c->proposals[0].reference.len == 2);
	if (!CHECK(t))
		return;
	/* Tree: bad optional octet, bad node type, empty, trailing blank,
	 * parent at a leaf index. */
	CHECK_RC(dec_hex("0102", tree_all, t), EPOCH_ERR_MALFORMED);
	CHECK_RC(dec_hex("020103", tree_all, t), EPOCH_ERR_MALFORMED);
	CHECK_RC(dec_hex("00", tree_all, t), EPOCH_ERR_MALFORMED);
	CHECK_RC(dec_hex("0100", tree_all, t), EPOCH_ERR_MALFORMED);
	CHECK_RC(dec_hex("07010201aa01bb00", tree_all, t),
		 EPOCH_ERR_MALFORMED);
	test_tree_round_trip(t);
	free(t);
}

static void test_grease_and_bounds(void)
{
	struct mls_capabilities caps;
	struct mls_extensions *ext = &msg->u.group_info.extensions;
	struct codec_writer w;
	uint8_t buf[512];
	char h[4 + (MLS_MAX_EXTENSIONS + 1) * 6 + 1];

	/* GREASE values (§13.5) in every capabilities list. */
	CHECK_OK(dec_hex("020a0a020a0a040a1a0a2a020a0a020a0a", caps_all,
			 &caps));
	CHECK(caps.cipher_suites.n == 1 && caps.cipher_suites.v[0] == 0x0a0a &&
	      caps.extensions.n == 2 && caps.extensions.v[1] == 0x0a2a);
	/* Unknown (GREASE) extension type in an extension list. */
	CHECK_OK(dec_hex("040a0a0100", ext_all, ext));
	CHECK(ext->n == 1 && ext->v[0].type == 0x0a0a &&
	      ext->v[0].data.len == 1);
	/* MLS_MAX_EXTENSIONS + 1 empty extensions: TOO_LONG. */
	strcpy(h, "4063");
	for (int i = 0; i < MLS_MAX_EXTENSIONS + 1; i++)
		strcat(h, "0a0a00");
	CHECK_RC(dec_hex(h, ext_all, ext), EPOCH_ERR_TOO_LONG);
	/* The encoder refuses counts above the bound. */
	ext->n = MLS_MAX_EXTENSIONS + 1;
	codec_writer_init(&w, buf, sizeof(buf));
	CHECK_RC(mls_extensions_encode(&w, ext), EPOCH_ERR_INVALID_ARG);
	/* Non-minimal vector length. */
	CHECK_RC(dec_hex("400000", ext_all, ext), EPOCH_ERR_VARINT);
}

int main(int argc, char **argv)
{
	(void)argc;
	msg = calloc(1, sizeof(*msg));
	if (!msg)
		return 1;
	test_run("key_package", test_key_package);
	test_run("truncation_and_trailing", test_truncation_and_trailing);
	test_run("selectors", test_selectors);
	test_run("optional_and_tree", test_optional_and_tree);
	test_run("grease_and_bounds", test_grease_and_bounds);
	free(msg);
	return test_main_end(argv[0]);
}
