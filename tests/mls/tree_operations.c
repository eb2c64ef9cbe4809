/* tree-operations.json: Add, Update and Remove applied to a ratchet tree
 * (RFC 9420 §12.1.1-12.1.3, §7.7, §7.8). */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "tests/mls/vectors.h"

static void to_case(const struct mls_suite *s, const struct json *c)
{
	struct test_bytes before = { 0 }, prop = { 0 }, after = { 0 },
			  hb = { 0 }, ha = { 0 };
	struct mls_proposal *p = calloc(1, sizeof(*p));
	struct mls_tree *t = NULL;
	struct codec_writer w, lw;
	uint8_t h[MLS_MAX_NH];
	uint64_t sender;
	uint32_t idx;

	codec_writer_init_dynamic(&w, 1 << 22);
	codec_writer_init_dynamic(&lw, 1 << 20);
	if (!CHECK(p != NULL) || vhex(c, "tree_before", &before) ||
	    vhex(c, "proposal", &prop) || vhex(c, "tree_after", &after) ||
	    vhex(c, "tree_hash_before", &hb) ||
	    vhex(c, "tree_hash_after", &ha) ||
	    !CHECK(json_get_u64(c, "proposal_sender", &sender) == 0) ||
	    !CHECK(hb.len == s->nh && ha.len == s->nh) ||
	    !CHECK_OK(mls_tree_decode(&t, s, before.p, before.len)) ||
	    !CHECK_OK(mls_proposal_decode_all(prop.p, prop.len, p)))
		goto out;
	if (CHECK_OK(mls_tree_root_hash(t, h)))
		CHECK_MEM(h, hb.p, s->nh);
	switch (p->type) {
	case MLS_PROP_ADD:
		if (!CHECK_OK(mls_leaf_node_encode(&lw,
						   &p->u.add.leaf_node)) ||
		    !CHECK_OK(mls_tree_add_leaf(t, lw.buf, lw.len, &idx)))
			goto out;
		CHECK(mls_tree_leaf(t, idx) != NULL);
		break;
	case MLS_PROP_UPDATE:
		if (!CHECK_OK(mls_leaf_node_encode(&lw, &p->u.update)) ||
		    !CHECK_OK(mls_tree_update_leaf(t, (uint32_t)sender,
						   lw.buf, lw.len)))
			goto out;
		break;
	case MLS_PROP_REMOVE:
		if (!CHECK_OK(mls_tree_remove_leaf(t, p->u.remove)))
			goto out;
		break;
	default:
		test_fail(__FILE__, __LINE__, "proposal type %u not expected",
			  p->type);
		goto out;
	}
	if (CHECK_OK(mls_tree_encode(t, &w)) && CHECK(w.len == after.len))
		CHECK_MEM(w.buf, after.p, after.len);
	if (CHECK_OK(mls_tree_root_hash(t, h)))
		CHECK_MEM(h, ha.p, s->nh);
out:
	codec_writer_free(&w);
	codec_writer_free(&lw);
	mls_tree_free(t);
	free(p);
	test_bytes_free(&before);
	test_bytes_free(&prop);
	test_bytes_free(&after);
	test_bytes_free(&hb);
	test_bytes_free(&ha);
}

void run_tree_operations(const struct json *doc, const char *file)
{
	vrun_suite_cases(doc, file, to_case);
}
