/* A child process spoken to one line at a time: the C end of the interop
 * peers (tests/interop/tsmls_peer.mjs) for the interop tests and the
 * benchmarks.
 *
 * The child gets a pipe as stdin and one as stdout (stderr is inherited, so
 * its diagnostics land in the test log). peer_cmd() writes one command line
 * and reads exactly one reply line. There is no timeout: the reader blocks
 * until a whole line, end of file (the child died: the call fails and
 * says how it died) or an I/O error. SIGPIPE is ignored process-wide once
 * a peer is started, so a dead child is an error return, not a signal.
 *
 * A failure of the transport (or of starting the peer) marks the peer
 * dead, so later calls fail at once, and keeps its first reason in
 * p->err ("peer NAME: ..."): the caller reports it (a test turns it into
 * a failure). Nothing here prints or counts test results.
 */
#ifndef EPOCHD_INTEROP_PEER_H
#define EPOCHD_INTEROP_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tests/lib/test.h"

struct peer {
	char name[32];
	pid_t pid;          /* 0: not running (never started or reaped) */
	int in_fd;          /* the child's stdin (we write) */
	int out_fd;         /* the child's stdout (we read) */
	bool dead;          /* transport failed; every call fails */
	char *buf;          /* read buffer: last reply line + bytes after it */
	size_t len, cap;    /* bytes in buf, allocated size */
	size_t used;        /* bytes of buf taken by the last reply + NUL */
	int status;         /* wait status once reaped */
	char err[512];      /* why the transport failed ("" if it did not) */
};

/* Starts argv[0] (searched in PATH) with argv. Returns 0, or -1 after
 * printing why (e.g. the program is not installed). */
int peer_spawn(struct peer *p, const char *name, char *const argv[]);

/* Starts the ts-mls peer: $EPOCHD_NODE (default "node") running
 * $EPOCHD_TSMLS_PEER (default tests/interop/tsmls_peer.mjs, relative to
 * the tree root where the tests run). Checks first that the script and
 * its node_modules/ts-mls are there, and that the child answers. Returns 0
 * or -1 with a clear message ("make deps-npm"). */
int peer_spawn_tsmls(struct peer *p, const char *name);

/* Sends one command line (printf format; the result must not contain a
 * newline) and returns the reply line without its newline. The reply is
 * owned by p and valid until the next call. NULL if the transport failed
 * (the child exited, a write or read failed). An "error ..." reply is a
 * reply, not a failure: see peer_is_error(). */
const char *peer_cmd(struct peer *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "CMD HEX(b)" (empty b is sent as "-"), then as peer_cmd. */
const char *peer_cmd_hex(struct peer *p, const char *cmd, const uint8_t *b,
			 size_t n);

/* Whether a reply is the peer's "error ..." (NULL counts as an error). */
bool peer_is_error(const char *reply);

/* Decodes a hex reply ("-" is empty) into out. 0, or -1 on bad hex. */
int peer_unhex(const char *hex, struct test_bytes *out);

/* Lower-case hex of n bytes, "-" if n == 0; malloc'd (NULL if out of
 * memory). */
char *peer_hex(const uint8_t *b, size_t n);

/* Ends the child: "quit" (expects "bye") unless dead, closes the pipes,
 * waits for it (after about two seconds it is killed, SIGKILL) and frees
 * the buffers. Returns 0 if the child exited with status 0, else -1.
 * Safe on a peer that never started. */
int peer_close(struct peer *p);

#endif
