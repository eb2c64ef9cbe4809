/* privsep: epochd's privilege separation (docs/privsep.md).
 *
 * With global.user set (default "epochd"), epochd forks right after
 * loading its configuration:
 *  - the PARENT (the privileged process) switches to the user, keeps only
 *    CAP_NET_ADMIN, and does nothing but answer XFRM requests of its child
 *    over a SOCK_SEQPACKET socketpair, each decoded strictly
 *    (psep_decode) and checked against its own copy of the configuration
 *    (psep_check) before the xfrm/ library performs it;
 *  - the CHILD (the network process) does the rest of the start-up as
 *    root (key file, sockets, expire listener, control socket), then drops
 *    to the user with no capabilities at all (psep_drop) and runs the
 *    event loop, calling psep_* where it called xfrm_* before.
 * With user "" the psep_* calls are the xfrm_* calls (no second process).
 *
 * The functions below mirror xfrm/xfrm.h's, one tunnel handle
 * (struct psep_xfrm, scoped to the tunnel's reqid) in place of an
 * xfrm_ctx. Errors are negative errnos as there; -EPERM when the
 * privileged process refused the request (the reason is in
 * psep_error()), -EPIPE when it is gone.
 */
#ifndef EPOCHD_PRIVSEP_H
#define EPOCHD_PRIVSEP_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"
#include "xfrm/xfrm.h"

/* What the daemon puts into every SA and policy; the privileged process
 * accepts nothing else. */
#define PSEP_REPLAY_WINDOW 256
#define PSEP_POLICY_PRIORITY 1000
#define PSEP_SPI_MIN 0x00000100u /* 1-255: reserved (RFC 4303 §2.1) */

#define PSEP_VERSION 1
#define PSEP_MSG_MAX 256 /* bytes of a request or reply, header included */
#define PSEP_ERR_MAX 160 /* bytes of a reply's message */
#define PSEP_KEEP_MAX 32 /* SPIs an SA_PRUNE may keep */

struct psep;
struct psep_xfrm;

/* Forks the privileged process (see above) unless c->global.user is ""
 * (then *ps is NULL and nothing happens). Returns in the network process
 * only, still root: 0, or -1 with a message (no such user, not root,
 * fork). The privileged process never returns from here: it exits when
 * the network process exits, with its status. config_path is re-read by
 * the privileged process on psep_reload. */
int psep_start(struct psep **ps, const struct config *c,
	       const char *config_path, char *err, size_t errlen);
/* In the network process after its privileged set-up: state_dir created
 * (0700) or handed to the user, then setgroups/setgid/setuid to the user,
 * no capabilities (bounding set, permitted, effective, ambient), no new
 * privileges, killed with its parent. Checked afterwards. No-op for NULL.
 * 0, or -1 with a message. */
int psep_drop(struct psep *ps, const struct config *c, char *err,
	      size_t errlen);
/* Closes the channel (the privileged process then exits). */
void psep_free(struct psep *ps);
/* The privileged process re-reads the configuration (its new checks) for
 * a reload. No-op for NULL. 0, or -1 with its message. */
int psep_reload(struct psep *ps, char *err, size_t errlen);

/* ---- the xfrm/ calls -------------------------------------------------------- */

int psep_open(struct psep_xfrm **h, struct psep *ps, uint32_t reqid);
void psep_close(struct psep_xfrm *h);
const char *psep_error(const struct psep_xfrm *h);
int psep_alloc_spi(struct psep_xfrm *h, const struct xfrm_addr *src,
		   const struct xfrm_addr *dst, uint32_t reqid, uint32_t min,
		   uint32_t max, uint32_t *spi);
int psep_sa_add(struct psep_xfrm *h, const struct xfrm_sa *sa);
int psep_sa_delete(struct psep_xfrm *h, const struct xfrm_addr *dst,
		   uint32_t spi);
int psep_sa_stats(struct psep_xfrm *h, const struct xfrm_addr *dst,
		  uint32_t spi, struct xfrm_sa_stats *out);
int psep_policy_add(struct psep_xfrm *h, const struct xfrm_policy *p);
int psep_policy_update(struct psep_xfrm *h, const struct xfrm_policy *p);
int psep_policy_delete(struct psep_xfrm *h, const struct xfrm_policy *p);
int psep_flush(struct psep_xfrm *h);
/* xfrm_sa_prune: n_keep <= PSEP_KEEP_MAX (-EINVAL otherwise). */
int psep_sa_prune(struct psep_xfrm *h, const uint32_t *keep, size_t n_keep);

/* ---- the messages (exposed for tests/unit/test_privsep.c and
 * tests/fuzz/fuzz_privsep.c) ------------------------------------------------- */

enum psep_type {
	PSEP_ALLOC_SPI = 1,
	PSEP_SA_ADD,
	PSEP_SA_DELETE,
	PSEP_SA_STATS,
	PSEP_POLICY_ADD,
	PSEP_POLICY_UPDATE,
	PSEP_POLICY_DELETE,
	PSEP_FLUSH,
	PSEP_RELOAD,
	PSEP_SA_PRUNE,
	PSEP_TYPE_MAX = PSEP_SA_PRUNE,
	PSEP_REPLY = 0x80,
};

/* A decoded request. Which members count depends on type: ALLOC_SPI
 * src, dst, min, max; SA_ADD sa; SA_DELETE and SA_STATS dst, spi;
 * POLICY_* pol; SA_PRUNE keep, n_keep; FLUSH and RELOAD none (RELOAD:
 * reqid 0). */
struct psep_req {
	enum psep_type type;
	uint32_t seq;
	uint32_t reqid;
	struct xfrm_addr src, dst;
	uint32_t spi, min, max;
	struct xfrm_sa sa;
	struct xfrm_policy pol;
	uint32_t keep[PSEP_KEEP_MAX];
	size_t n_keep;
};

/* r as a message into buf (cap >= PSEP_MSG_MAX): its length, or -EINVAL
 * (a member the format cannot carry). */
int psep_encode(const struct psep_req *r, uint8_t *buf, size_t cap);
/* Parses one message (len bytes, exactly one request): header (type,
 * version, length equal to len), then the type's fixed layout, each
 * field in range (families, prefix lengths, algorithm, key length,
 * booleans, directions), nothing left over. 0, or -EPROTO with the reason
 * in why. */
int psep_decode(const uint8_t *buf, size_t len, struct psep_req *r,
		char *why, size_t whylen);
/* Whether the privileged process may do r for configuration c: the reqid
 * is a tunnel's, and every address, selector, algorithm, key length,
 * lifetime, mark and priority is what that tunnel's configuration makes
 * daemon/daemon.c ask for. A FLUSH may also name one of extra (reqids with
 * objects from before a reload). 0, or -EPERM with the reason in why. */
int psep_check(const struct config *c, const struct psep_req *r,
	       const uint32_t *extra, size_t n_extra, char *why,
	       size_t whylen);

#endif
