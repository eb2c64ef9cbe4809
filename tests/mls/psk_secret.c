/* psk_secret.json: psk_secret over external PSKs (RFC 9420 §8.4). */
#include <stdlib.h>

#include "tests/mls/vectors.h"

void run_psk_secret(const struct json *doc, const char *file)
{
	for (size_t i = 0; i < doc->n; i++) {
		const struct json *c = doc->items[i];
		const struct mls_suite *s = vsuite(c, file, i);
		const struct json *arr = json_get(c, "psks");
		struct test_bytes want = { 0 };
		struct test_bytes *b = NULL;
		struct mls_psk *psks = NULL;
		uint8_t out[MLS_MAX_NH];
		size_t n = 0;

		if (!s)
			continue;
		vcase_begin("%s[%zu] suite %u", file, i, s->id);
		if (!CHECK(arr && arr->type == JSON_ARRAY) ||
		    vhex(c, "psk_secret", &want) || !CHECK(want.len == s->nh))
			goto next;
		n = arr->n;
		b = calloc(3 * n + 1, sizeof(*b));
		psks = calloc(n + 1, sizeof(*psks));
		if (!CHECK(b && psks))
			goto next;
		for (size_t k = 0; k < n; k++) {
			const struct json *p = arr->items[k];

			if (vhex(p, "psk_id", &b[3 * k]) ||
			    vhex(p, "psk", &b[3 * k + 1]) ||
			    vhex(p, "psk_nonce", &b[3 * k + 2]))
				goto next;
			psks[k] = (struct mls_psk){
				.psk_type = MLS_PSK_TYPE_EXTERNAL,
				.psk_id = b[3 * k].p,
				.psk_id_len = b[3 * k].len,
				.psk = b[3 * k + 1].p,
				.psk_len = b[3 * k + 1].len,
				.psk_nonce = b[3 * k + 2].p,
				.psk_nonce_len = b[3 * k + 2].len,
			};
		}
		if (CHECK_OK(mls_psk_secret(s, psks, n, out)))
			CHECK_MEM(out, want.p, want.len);
next:
		if (b)
			for (size_t k = 0; k < 3 * n; k++)
				test_bytes_free(&b[k]);
		free(b);
		free(psks);
		test_bytes_free(&want);
		vcase_end();
	}
}
