/* The mls-vectors driver: one runner per mlswg test-vector format. */
#ifndef EPOCHD_TESTS_MLS_VECTORS_H
#define EPOCHD_TESTS_MLS_VECTORS_H

#include <stdint.h>

#include "proto/mls.h"
#include "tests/lib/json.h"
#include "tests/lib/test.h"

/* Per-file tallies, printed by main. */
void vcase_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vcase_end(void);
void vcase_skip(const char *name, const char *reason);

/* The suite of a vector case, or NULL after a skip (reason given). */
const struct mls_suite *vsuite(const struct json *c, const char *file,
			       size_t idx);
/* Runs fn on every case of doc whose suite we implement, one test case
 * each ("FILE[i] suite N"). */
void vrun_suite_cases(const struct json *doc, const char *file,
		      void (*fn)(const struct mls_suite *s,
				 const struct json *c));

/* Helpers: a hex member into b (a CHECK failure if absent). */
int vhex(const struct json *c, const char *key, struct test_bytes *b);
/* An integer array item; -1 for null. */
int64_t vitem_int(const struct json *arr, size_t i);

void run_crypto_basics(const struct json *doc, const char *file);
void run_tree_math(const struct json *doc, const char *file);
void run_key_schedule(const struct json *doc, const char *file);
void run_secret_tree(const struct json *doc, const char *file);
void run_psk_secret(const struct json *doc, const char *file);
void run_messages(const struct json *doc, const char *file);
void run_deserialization(const struct json *doc, const char *file);
void run_transcript_hashes(const struct json *doc, const char *file);
void run_tree_validation(const struct json *doc, const char *file);
void run_tree_operations(const struct json *doc, const char *file);
void run_treekem(const struct json *doc, const char *file);
void run_message_protection(const struct json *doc, const char *file);
void run_welcome(const struct json *doc, const char *file);

#endif
