/* tree-validation.json: resolutions, tree hashes, parent hashes and leaf
 * signatures of ratchet trees (RFC 9420 §4.1.1, §7.8, §7.9.2, §7.2), and
 * the full joiner check of §12.4.3.1 (mls_tree_validate). */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "tests/mls/vectors.h"

static void tv_case(const struct mls_suite *s, const struct json *c)
{
	struct test_bytes tree = { 0 }, gid = { 0 };
	const struct json *res = json_get(c, "resolutions");
	const struct json *hashes = json_get(c, "tree_hashes");
	struct mls_tree *t = NULL;
	struct codec_writer w;
	uint32_t wd, got[256];
	uint8_t h[MLS_MAX_NH];
	size_t n;

	codec_writer_init_dynamic(&w, 1 << 22);
	if (vhex(c, "tree", &tree) || vhex(c, "group_id", &gid) ||
	    !CHECK(res && res->type == JSON_ARRAY) ||
	    !CHECK(hashes && hashes->type == JSON_ARRAY) ||
	    !CHECK_OK(mls_tree_decode(&t, s, tree.p, tree.len)))
		goto out;
	wd = mls_tree_width(mls_tree_n_leaves(t));
	/* The vectors list every node of the full tree. */
	if (!CHECK(res->n == wd && hashes->n == wd))
		goto out;
	for (uint32_t x = 0; x < wd; x++) {
		const struct json *r = res->items[x];
		struct test_bytes want = { 0 };

		if (!CHECK(r->type == JSON_ARRAY) ||
		    !CHECK_OK(mls_tree_resolution(t, x, got, 256, &n)) ||
		    !CHECK(n == r->n))
			continue;
		for (size_t k = 0; k < n; k++)
			CHECK(vitem_int(r, k) == (int64_t)got[k]);
		if (CHECK(test_hex(json_str(hashes->items[x]), &want) == 0) &&
		    CHECK(want.len == s->nh) &&
		    CHECK_OK(mls_tree_node_hash(t, x, h)))
			CHECK_MEM(h, want.p, s->nh);
		test_bytes_free(&want);
	}
	CHECK_OK(mls_tree_verify_parent_hashes(t));
	for (uint32_t i = 0; i < mls_tree_n_leaves(t); i++) {
		const struct mls_leaf_node *l = mls_tree_leaf(t, i);

		if (l)
			CHECK_OK(mls_leaf_node_verify(s, l, gid.p, gid.len, i));
	}
	CHECK_OK(mls_tree_validate(t, gid.p, gid.len));
	/* The tree re-encodes to the same bytes. */
	if (CHECK_OK(mls_tree_encode(t, &w)) && CHECK(w.len == tree.len))
		CHECK_MEM(w.buf, tree.p, tree.len);
out:
	codec_writer_free(&w);
	mls_tree_free(t);
	test_bytes_free(&tree);
	test_bytes_free(&gid);
}

void run_tree_validation(const struct json *doc, const char *file)
{
	vrun_suite_cases(doc, file, tv_case);
}
