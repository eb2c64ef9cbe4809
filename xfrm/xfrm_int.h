/* xfrm internals exposed to tests/unit/test_xfrm.c: the builders of the
 * netlink requests xfrm.c sends, the parsers of what the kernel answers,
 * and the error formatting. Not for other modules.
 *
 * Builders write one complete request (struct nlmsghdr with
 * NLM_F_REQUEST | NLM_F_ACK, sequence 0, then the XFRM payload and its
 * attributes) into buf and return it, or NULL (errno EINVAL) when the
 * input is invalid (unknown algorithm, wrong key length, mixed address
 * families, ...), or buf is not 8-byte aligned (the structs hold u64) or
 * smaller than XFRM_REQ_BUF.
 */
#ifndef EPOCHD_XFRM_INT_H
#define EPOCHD_XFRM_INT_H

#include <linux/netlink.h>
#include <stdarg.h>

/* <linux/xfrm.h> and xfrm/xfrm.h both define struct xfrm_selector: the
 * kernel's is renamed struct xfrm_kselector here (same layout, other
 * name). A file that needs both headers includes this one. */
#define xfrm_selector xfrm_kselector
#include <linux/xfrm.h>
#undef xfrm_selector

#include "xfrm/xfrm.h"

/* A buffer that holds any request built here. */
#define XFRM_REQ_BUF 2048

/* The kernel's name and ICV length (bits) of an algorithm; NULL/0 for a
 * value outside enum xfrm_aead. */
const char *xfrm_aead_name(enum xfrm_aead a);
unsigned xfrm_aead_icv_bits(enum xfrm_aead a);

/* NEWSA or UPDSA (type) for sa. */
struct nlmsghdr *xfrm_build_sa(void *buf, size_t cap, uint16_t type,
			       const struct xfrm_sa *sa);
/* DELSA or GETSA (type) for (dst, spi, ESP), with XFRMA_MARK when
 * mark_mask is non-zero. */
struct nlmsghdr *xfrm_build_sa_id(void *buf, size_t cap, uint16_t type,
				  const struct xfrm_addr *dst, uint32_t spi,
				  uint32_t mark, uint32_t mark_mask);
/* ALLOCSPI. */
struct nlmsghdr *xfrm_build_allocspi(void *buf, size_t cap,
				     const struct xfrm_addr *src,
				     const struct xfrm_addr *dst,
				     uint32_t reqid, uint32_t min,
				     uint32_t max);
/* NEWPOLICY or UPDPOLICY (type) for p. */
struct nlmsghdr *xfrm_build_policy(void *buf, size_t cap, uint16_t type,
				   const struct xfrm_policy *p);
/* DELPOLICY for p's selector and direction (and mark, if_id). */
struct nlmsghdr *xfrm_build_policy_del(void *buf, size_t cap,
				       const struct xfrm_policy *p);
/* A dump request (GETSA or GETPOLICY with NLM_F_DUMP). */
struct nlmsghdr *xfrm_build_dump(void *buf, size_t cap, uint16_t type);

/* Reads the counters of a NEWSA message (a GETSA answer); 0 or -EINVAL. */
int xfrm_parse_sa_stats(const struct nlmsghdr *nlh, struct xfrm_sa_stats *st);
/* Reads an XFRM_MSG_EXPIRE message: 1 if it is one for a reqid in
 * [lo, hi] (filled into ev), 0 if it is another message or outside the
 * range, -EINVAL if malformed. */
int xfrm_parse_expire(const struct nlmsghdr *nlh, uint32_t lo, uint32_t hi,
		      struct xfrm_expire *ev);

/* "ENOENT", "EEXIST", ... ("E<number>" for one glibc does not name). */
const char *xfrm_errno_name(int err);
/* Writes "<what>: <strerror> (<NAME>)" into out, then "; <hint>" when hint
 * is non-empty. what is formatted from fmt. err is positive. */
void xfrm_format_error(char *out, size_t cap, int err, const char *hint,
		       const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Text of an address (for messages). */
const char *xfrm_addr_str(const struct xfrm_addr *a, char *buf, size_t cap);

#endif
