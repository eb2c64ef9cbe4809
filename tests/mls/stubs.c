/* Formats not implemented yet (not listed in tests/mls-vectors.sh). */
#include "tests/mls/vectors.h"

static void not_yet(const char *file)
{
	vcase_begin("%s", file);
	test_fail(__FILE__, __LINE__, "format not implemented yet");
	vcase_end();
}


void run_secret_tree(const struct json *doc, const char *file)
{
	not_yet(file);
}

