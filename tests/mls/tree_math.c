/* tree-math.json: RFC 9420 Appendix C over each n_leaves. */
#include "tests/mls/vectors.h"

static int64_t opt(uint32_t v)
{
	return v == MLS_NODE_NONE ? -1 : (int64_t)v;
}

void run_tree_math(const struct json *doc, const char *file)
{
	for (size_t i = 0; i < doc->n; i++) {
		const struct json *c = doc->items[i];
		const struct json *left = json_get(c, "left"),
				  *right = json_get(c, "right"),
				  *parent = json_get(c, "parent"),
				  *sibling = json_get(c, "sibling");
		uint64_t n_leaves = 0, n_nodes = 0, root = 0;

		vcase_begin("%s[%zu]", file, i);
		if (!CHECK(json_get_u64(c, "n_leaves", &n_leaves) == 0 &&
			   json_get_u64(c, "n_nodes", &n_nodes) == 0 &&
			   json_get_u64(c, "root", &root) == 0 &&
			   n_leaves <= UINT32_MAX / 2) ||
		    !CHECK(left && right && parent && sibling) ||
		    !CHECK(left->n == n_nodes && right->n == n_nodes &&
			   parent->n == n_nodes && sibling->n == n_nodes)) {
			vcase_end();
			continue;
		}
		uint32_t n = (uint32_t)n_leaves;
		CHECK_EQ_U64(mls_tree_width(n), n_nodes);
		CHECK_EQ_U64(mls_tree_root(n), root);
		for (uint32_t x = 0; x < n_nodes; x++) {
			int ok = CHECK_EQ_U64(opt(mls_tree_left(x)),
					      vitem_int(left, x)) &&
				 CHECK_EQ_U64(opt(mls_tree_right(x, n)),
					      vitem_int(right, x)) &&
				 CHECK_EQ_U64(opt(mls_tree_parent(x, n)),
					      vitem_int(parent, x)) &&
				 CHECK_EQ_U64(opt(mls_tree_sibling(x, n)),
					      vitem_int(sibling, x));
			if (!ok) {
				test_note("node %u of %u leaves", x, n);
				break;
			}
			/* The direct path ends at the root and the copath
			 * holds each step's sibling. */
			uint32_t dp[32], cp[32];
			size_t ndp = 0, ncp = 0;
			if (CHECK_OK(mls_tree_direct_path(x, n, dp, 32, &ndp)) &&
			    CHECK_OK(mls_tree_copath(x, n, cp, 32, &ncp)) &&
			    CHECK(ndp == ncp)) {
				uint32_t y = x;
				for (size_t k = 0; k < ndp; k++) {
					CHECK(cp[k] ==
					      mls_tree_sibling(y, n));
					y = mls_tree_parent(y, n);
					CHECK(dp[k] == y);
				}
				CHECK(y == root);
			}
		}
		vcase_end();
	}
}
