/* A small JSON reader for test-vector files (tests only, trusted input,
 * but still bounds-checked). */
#ifndef EPOCHD_TEST_JSON_H
#define EPOCHD_TEST_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "tests/lib/test.h"

enum json_type {
	JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT
};

struct json {
	enum json_type type;
	int boolean;
	double number;
	char *str;            /* JSON_STRING: unescaped, NUL-terminated;
			       * JSON_NUMBER: the literal text */
	size_t n;             /* number of items / members */
	struct json **items;  /* array items or object values */
	char **keys;          /* object keys */
};

/* Parses a whole document; NULL (and a message on stderr) on error. */
struct json *json_parse(const char *text, size_t len);
struct json *json_parse_file(const char *path);
void json_free(struct json *j);

/* Object member by key, NULL if absent or j is not an object. */
const struct json *json_get(const struct json *j, const char *key);
/* String value, NULL if j is NULL or not a string. */
const char *json_str(const struct json *j);
const char *json_get_str(const struct json *j, const char *key);
/* Unsigned integer value; 0 on success, -1 if absent or not an integer. */
int json_get_u64(const struct json *j, const char *key, uint64_t *out);
/* Hex string member decoded; 0 on success, -1 if absent or bad hex. */
int json_get_hex(const struct json *j, const char *key,
		 struct test_bytes *out);

#endif
