/* Test access to daemon/tunnel.c: the tunnel's current MLS group, so that
 * an end-to-end test acting as a peer can build hostile commits with the
 * group's real keys (proto/mls_group_int.h), and the key-erasure test
 * build records each epoch's secrets (daemon/test_secrets.c). Not part of
 * the API; only tests and the test build include this. */
#ifndef EPOCHD_TUNNEL_INT_H
#define EPOCHD_TUNNEL_INT_H

#include "daemon/tunnel.h"

struct mls_group;

/* The current group (NULL before the handshake). */
struct mls_group *tunnel_group_int(const struct tunnel *t);

#endif
