/* xfrm: the Linux kernel's IPsec SAs and policies over XFRM netlink
 * (libmnl), as epochd uses them (DESIGN.md §4, §7). Knows nothing about
 * MLS: it takes keys, SPIs and selectors.
 *
 * Every request is sent with NLM_F_ACK and waits for the kernel's answer.
 * A failure returns a negative errno (-EEXIST, -ENOENT, -ENOSYS for an
 * algorithm the kernel lacks, ...) and leaves a one-line message naming the
 * object and the errno in xfrm_error(x), e.g.
 *   "add SA spi 0x00001001 dst 192.0.2.2: File exists (EEXIST)".
 *
 * Only objects carrying a reqid in the context's range are ever deleted or
 * flushed by xfrm_flush(): epochd never touches SAs or policies it did not
 * make.
 *
 * The kernel's <linux/xfrm.h> also defines struct xfrm_selector: a file
 * that needs both includes xfrm/xfrm_int.h, which renames the kernel's.
 * Measured behaviour and the tests: docs/xfrm.md.
 */
#ifndef EPOCHD_XFRM_H
#define EPOCHD_XFRM_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xfrm_ctx;

/* Opens a NETLINK_XFRM socket in the current network namespace, or (netns
 * non-NULL) in the named one (/run/netns/NAME), returning to the caller's
 * namespace afterwards. reqid_lo..reqid_hi is the range this context owns.
 * Returns 0 or a negative errno. */
int xfrm_open(struct xfrm_ctx **x, const char *netns, uint32_t reqid_lo,
	      uint32_t reqid_hi);
void xfrm_close(struct xfrm_ctx *x);
/* The message of the last failure ("" if none). */
const char *xfrm_error(const struct xfrm_ctx *x);

struct xfrm_addr {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} a;
};

/* Parses "192.0.2.1" or "2001:db8::1"; 0 or -EINVAL. */
int xfrm_addr_parse(struct xfrm_addr *out, const char *s);

/* A traffic selector: source and destination subnets (any protocol). */
struct xfrm_selector {
	struct xfrm_addr src, dst;
	uint8_t src_plen, dst_plen;
};

enum xfrm_aead {
	XFRM_AEAD_AES128_GCM,      /* rfc4106(gcm(aes)), 16+4 key bytes */
	XFRM_AEAD_AES256_GCM,      /* rfc4106(gcm(aes)), 32+4 */
	XFRM_AEAD_CHACHA20_POLY1305, /* rfc7539esp(chacha20,poly1305), 32+4 */
};
/* Key bytes (key || 4-byte salt) an algorithm needs. */
size_t xfrm_aead_key_len(enum xfrm_aead a);

/* Lifetimes; 0 means no limit. */
struct xfrm_lifetime {
	uint64_t soft_bytes, hard_bytes;
	uint64_t soft_packets, hard_packets;
	uint64_t soft_seconds, hard_seconds;
};

/* A tunnel-mode ESP SA. src/dst are the outer (gateway) addresses. */
struct xfrm_sa {
	struct xfrm_addr src, dst;
	uint32_t spi; /* host byte order */
	uint32_t reqid;
	enum xfrm_aead aead;
	uint8_t key[36];
	size_t key_len;
	bool esn;                /* extended sequence numbers */
	uint32_t replay_window;  /* packets; with esn the ESN replay state */
	uint32_t mark, mark_mask; /* mark_mask 0: no mark */
	uint32_t if_id;          /* 0: none */
	struct xfrm_lifetime lft;
	/* Inner traffic the SA may carry; all zero: any, IPv4 and IPv6
	 * (selector family AF_UNSPEC). An inner family other than the outer one (IPv6 over IPv4)
	 * is allowed. */
	struct xfrm_selector sel;
};

/* XFRM_MSG_ALLOCSPI: a free SPI in [min, max] for SAs src -> dst; the
 * kernel keeps a larval SA until xfrm_sa_add fills it (UPDSA). */
int xfrm_alloc_spi(struct xfrm_ctx *x, const struct xfrm_addr *src,
		   const struct xfrm_addr *dst, uint32_t reqid, uint32_t min,
		   uint32_t max, uint32_t *spi);
/* Installs sa: NEWSA, or UPDSA when its SPI was allocated by
 * xfrm_alloc_spi on this context. */
int xfrm_sa_add(struct xfrm_ctx *x, const struct xfrm_sa *sa);
/* -ENOENT if there is no such SA (the kernel says ESRCH). An SA with a
 * mark is found too (its mark is looked up by a dump). */
int xfrm_sa_delete(struct xfrm_ctx *x, const struct xfrm_addr *dst,
		   uint32_t spi);

struct xfrm_sa_stats {
	uint64_t bytes, packets;
	uint32_t replay_errors;     /* stats.replay */
	uint32_t integrity_failed;  /* stats.integrity_failed */
	uint64_t add_time, use_time; /* seconds; use_time 0: never used */
	uint32_t reqid;             /* the SA's (daemon/privsep.c checks it) */
};
int xfrm_sa_stats(struct xfrm_ctx *x, const struct xfrm_addr *dst,
		  uint32_t spi, struct xfrm_sa_stats *out);

enum xfrm_dir { XFRM_DIR_IN = 0, XFRM_DIR_OUT = 1, XFRM_DIR_FWD = 2 };

/* A policy for the selector in one direction, with one ESP tunnel
 * template tmpl_src -> tmpl_dst. spi: only for XFRM_DIR_OUT (pins the SA
 * the kernel sends on, so switching is an explicit update); must be 0 for
 * in/fwd (an SPI there drops the next SA's packets: esp-in-vm.md §9). */
struct xfrm_policy {
	struct xfrm_selector sel;
	enum xfrm_dir dir;
	struct xfrm_addr tmpl_src, tmpl_dst;
	uint32_t reqid;
	uint32_t spi;
	uint32_t priority;
	uint32_t mark, mark_mask;
	uint32_t if_id;
};
int xfrm_policy_add(struct xfrm_ctx *x, const struct xfrm_policy *p);
/* UPDPOLICY: same selector and direction, new template (the switch). */
int xfrm_policy_update(struct xfrm_ctx *x, const struct xfrm_policy *p);
int xfrm_policy_delete(struct xfrm_ctx *x, const struct xfrm_policy *p);

/* Per-socket bypass policies (both directions) for the daemon's own UDP
 * socket, so its packets never go into a tunnel. */
int xfrm_socket_bypass(int fd, int family);

/* Make-before-break on one gateway (DESIGN.md §4): installs new_in (if
 * non-NULL; the caller may have installed it earlier, as a committer
 * does), then new_out, switches the out policy's template to new_out's
 * SPI (xfrm_policy_update of *out_policy with spi = new_out->spi), then
 * deletes old_out (if non-NULL). The old inbound SA stays until
 * xfrm_sa_delete after a grace period. Stops at the first failure; what
 * was done before it stays done and the message says which step. */
int xfrm_rollover(struct xfrm_ctx *x, const struct xfrm_sa *new_in,
		  const struct xfrm_sa *new_out,
		  const struct xfrm_policy *out_policy,
		  const struct xfrm_sa *old_out);

/* Deletes every SA and policy whose reqid is in the context's range (and
 * nothing else; a policy is ours when all its templates' reqids are).
 * Returns the number deleted or a negative errno (the first failure; the
 * rest is still attempted). A larval SA with SPI 0 (left by a failed
 * ALLOCSPI) cannot be named by any request and expires by itself. */
int xfrm_flush(struct xfrm_ctx *x);
/* Deletes the SAs of the context's reqid range whose SPI is not one of
 * keep[0..n_keep) (policies stay): what a restarted daemon does not adopt.
 * Returns the number deleted or a negative errno, as xfrm_flush. */
int xfrm_sa_prune(struct xfrm_ctx *x, const uint32_t *keep, size_t n_keep);

/* ---- expiry events (XFRMNLGRP_EXPIRE) ------------------------------------ */

struct xfrm_listener;

struct xfrm_expire {
	struct xfrm_addr dst;
	uint32_t spi;
	uint32_t reqid;
	bool hard;
};

/* A non-blocking socket subscribed to expiry events (in netns, as for
 * xfrm_open); only events for the reqid range are reported. */
int xfrm_listener_open(struct xfrm_listener **l, const char *netns,
		       uint32_t reqid_lo, uint32_t reqid_hi);
int xfrm_listener_fd(const struct xfrm_listener *l); /* for epoll */
/* Reads what is queued: up to cap events into ev, *n the count (0 when
 * nothing is pending). -ENOBUFS (with *n still valid) when the socket
 * overflowed and events were lost. */
int xfrm_listener_read(struct xfrm_listener *l, struct xfrm_expire *ev,
		       size_t cap, size_t *n);
void xfrm_listener_close(struct xfrm_listener *l);

#endif
