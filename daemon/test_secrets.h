/* The key erasure test's hook (tests/e2e/test_daemon_erasure.c): in a
 * build with -DEPOCHD_TEST_SECRETS (make keyscan, its own tree
 * BUILD/keyscan; never the normal build), every epoch a tunnel reaches is
 * appended to the file named by the environment variable
 * EPOCHD_TEST_SECRETS_FILE, one line per secret of that epoch:
 *
 *   TUNNEL EPOCH NAME HEX
 *
 * NAME: epoch_secret, encryption_secret, joiner_secret, welcome_secret,
 * member_secret, commit_secret (when not all zero), sender_data_secret,
 * exporter_secret, external_secret, confirmation_key, membership_key,
 * resumption_psk, epoch_authenticator, init_secret, leaf_hpke_sk,
 * parent_hpke_sk (mls_group_test_secrets). The test then looks for the old
 * epochs' secrets in core dumps of the daemon. In the normal build
 * test_secrets_record is nothing at all. */
#ifndef EPOCHD_TEST_SECRETS_H
#define EPOCHD_TEST_SECRETS_H

#include <stdint.h>

#include "daemon/tunnel.h"

#ifdef EPOCHD_TEST_SECRETS
#define TEST_SECRETS_ENV "EPOCHD_TEST_SECRETS_FILE"
/* Appends the current epoch of t (tunnel `name`) to the file if the
 * variable is set; errors go to the log. */
void test_secrets_record(const char *name, const struct tunnel *t);
#else
#define test_secrets_record(name, t) ((void)(name), (void)(t))
#endif

#endif
