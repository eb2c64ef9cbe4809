/* treekem.json (stub until TreeKEM lands). */
#include "tests/mls/vectors.h"

void run_treekem(const struct json *doc, const char *file)
{
	(void)doc;
	vcase_skip(file, "TreeKEM runner not written yet");
}
