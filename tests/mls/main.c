/* build/tests/mls-vectors FILE...: runs mlswg test vectors
 * (tests/vectors/mls/, FORMATS-test-vectors.md) against proto/mls.
 *
 * The format comes from the file name. Each vector case is one test case;
 * cases of cipher suites we do not implement are skipped with the reason.
 * Prints "FILE: N passed, N failed, N skipped (reasons)" per file and the
 * total line at the end. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/mls/vectors.h"

static unsigned f_pass, f_fail, f_skip;
static char f_reasons[512];

void vcase_begin(const char *fmt, ...)
{
	char name[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	test_begin("%s", name);
}

void vcase_end(void)
{
	if (test_end())
		f_pass++;
	else
		f_fail++;
}

void vcase_skip(const char *name, const char *reason)
{
	test_skip(name, reason);
	f_skip++;
	if (!strstr(f_reasons, reason)) {
		size_t l = strlen(f_reasons);
		snprintf(f_reasons + l, sizeof(f_reasons) - l, "%s%s",
			 l ? "; " : "", reason);
	}
}

const struct mls_suite *vsuite(const struct json *c, const char *file,
			       size_t idx)
{
	static const char *const names[] = {
		[2] = "P-256", [4] = "X448/Ed448", [5] = "P-521",
		[6] = "X448/Ed448", [7] = "P-384",
	};
	uint64_t id;
	const struct mls_suite *s;
	char name[256], reason[128];

	snprintf(name, sizeof(name), "%s[%zu]", file, idx);
	if (json_get_u64(c, "cipher_suite", &id) != 0 || id > UINT16_MAX) {
		vcase_begin("%s: cipher_suite", name);
		test_fail(__FILE__, __LINE__,
			  "cipher_suite missing or not a uint16");
		vcase_end();
		return NULL;
	}
	s = mls_suite_get((uint16_t)id);
	if (!s) {
		snprintf(reason, sizeof(reason),
			 "cipher suite %u%s%s%s not implemented", (unsigned)id,
			 id < 8 && names[id] ? " (" : "",
			 id < 8 && names[id] ? names[id] : "",
			 id < 8 && names[id] ? ")" : "");
		vcase_skip(name, reason);
	}
	return s;
}

void vrun_suite_cases(const struct json *doc, const char *file,
		      void (*fn)(const struct mls_suite *s,
				 const struct json *c))
{
	for (size_t i = 0; i < doc->n; i++) {
		const struct json *c = doc->items[i];
		const struct mls_suite *s = vsuite(c, file, i);

		if (!s)
			continue;
		vcase_begin("%s[%zu] suite %u", file, i, s->id);
		fn(s, c);
		vcase_end();
	}
}

int vhex(const struct json *c, const char *key, struct test_bytes *b)
{
	b->p = NULL;
	b->len = 0;
	if (json_get_hex(c, key, b) != 0) {
		test_fail(__FILE__, __LINE__, "vector field %s missing or bad",
			  key);
		return -1;
	}
	return 0;
}

int64_t vitem_int(const struct json *arr, size_t i)
{
	const struct json *it;

	if (!arr || arr->type != JSON_ARRAY || i >= arr->n)
		return -2;
	it = arr->items[i];
	if (it->type == JSON_NULL)
		return -1;
	if (it->type != JSON_NUMBER)
		return -2;
	return strtoll(it->str, NULL, 10);
}

static const struct {
	const char *name;
	void (*run)(const struct json *, const char *);
} formats[] = {
	{ "crypto-basics.json", run_crypto_basics },
	{ "tree-math.json", run_tree_math },
	{ "key-schedule.json", run_key_schedule },
	{ "secret-tree.json", run_secret_tree },
	{ "psk_secret.json", run_psk_secret },
	{ "messages.json", run_messages },
	{ "deserialization.json", run_deserialization },
	{ "transcript-hashes.json", run_transcript_hashes },
	{ "tree-validation.json", run_tree_validation },
	{ "tree-operations.json", run_tree_operations },
	{ "treekem.json", run_treekem },
	{ "message-protection.json", run_message_protection },
	{ "welcome.json", run_welcome },
};

static void run_file(const char *path)
{
	const char *base = strrchr(path, '/');
	struct json *doc;
	size_t i;

	base = base ? base + 1 : path;
	f_pass = f_fail = f_skip = 0;
	f_reasons[0] = '\0';
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(base, formats[i].name) == 0)
			break;
	if (i == sizeof(formats) / sizeof(formats[0])) {
		vcase_begin("%s", path);
		test_fail(__FILE__, __LINE__,
			  "unknown test-vector format (file name %s)", base);
		vcase_end();
	} else if (!(doc = json_parse_file(path)) || doc->type != JSON_ARRAY) {
		vcase_begin("%s", path);
		test_fail(__FILE__, __LINE__, "cannot parse %s as a JSON array",
			  path);
		vcase_end();
		json_free(doc);
	} else {
		formats[i].run(doc, base);
		json_free(doc);
	}
	printf("%s: %u passed, %u failed, %u skipped%s%s%s\n", base, f_pass,
	       f_fail, f_skip, f_reasons[0] ? " (" : "", f_reasons,
	       f_reasons[0] ? ")" : "");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		run_file(argv[i]);
	return test_main_end("mls-vectors");
}
