/* xfrm: SAs, policies and expiry events over XFRM netlink with libmnl.
 * See xfrm.h for the contract, xfrm_int.h for the builders the unit test
 * checks field by field.
 */
#include "xfrm/xfrm_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RBUF_SIZE 65536  /* a dump datagram is at most 32 KiB */
#define ALLOC_MAX 64     /* SPIs allocated and not yet filled */
/* The largest replay window (bits) the kernel takes: 4096. */
#define REPLAY_MAX (XFRMA_REPLAY_ESN_MAX / 4 / 8 * 32)

struct alloc_ent {
	struct xfrm_addr dst;
	uint32_t spi;
};

struct xfrm_ctx {
	struct mnl_socket *nl;
	unsigned portid;
	uint32_t seq;
	uint32_t lo, hi;
	char *rbuf;
	char err[512];
	struct alloc_ent alloc[ALLOC_MAX];
	size_t n_alloc;
};

struct xfrm_listener {
	struct mnl_socket *nl;
	uint32_t lo, hi;
	char *rbuf;
};

/* ---- small helpers ------------------------------------------------------- */

const char *xfrm_errno_name(int err)
{
	static __thread char buf[16];
	const char *s = strerrorname_np(err);

	if (s)
		return s;
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

void xfrm_format_error(char *out, size_t cap, int err, const char *hint,
		       const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (!cap)
		return;
	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	n = strlen(out);
	snprintf(out + n, cap - n, ": %s (%s)%s%s", strerror(err),
		 xfrm_errno_name(err), hint && *hint ? "; " : "",
		 hint && *hint ? hint : "");
}

const char *xfrm_addr_str(const struct xfrm_addr *a, char *buf, size_t cap)
{
	if (!a || (a->family != AF_INET && a->family != AF_INET6) ||
	    !inet_ntop(a->family, &a->a, buf, (socklen_t)cap))
		snprintf(buf, cap, "(no address)");
	return buf;
}

int xfrm_addr_parse(struct xfrm_addr *out, const char *s)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &out->a.v4) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &out->a.v6) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

size_t xfrm_aead_key_len(enum xfrm_aead a)
{
	switch (a) {
	case XFRM_AEAD_AES128_GCM:
		return 16 + 4;
	case XFRM_AEAD_AES256_GCM:
	case XFRM_AEAD_CHACHA20_POLY1305:
		return 32 + 4;
	}
	return 0;
}

const char *xfrm_aead_name(enum xfrm_aead a)
{
	switch (a) {
	case XFRM_AEAD_AES128_GCM:
	case XFRM_AEAD_AES256_GCM:
		return "rfc4106(gcm(aes))";
	case XFRM_AEAD_CHACHA20_POLY1305:
		return "rfc7539esp(chacha20,poly1305)";
	}
	return NULL;
}

unsigned xfrm_aead_icv_bits(enum xfrm_aead a)
{
	return xfrm_aead_name(a) ? 128 : 0;
}

static int addr_ok(const struct xfrm_addr *a)
{
	return a->family == AF_INET || a->family == AF_INET6;
}

static int addr_eq(const struct xfrm_addr *a, const struct xfrm_addr *b)
{
	if (a->family != b->family)
		return 0;
	return a->family == AF_INET ? !memcmp(&a->a.v4, &b->a.v4, 4) :
				      !memcmp(&a->a.v6, &b->a.v6, 16);
}

static void addr_to_k(xfrm_address_t *k, const struct xfrm_addr *a)
{
	memset(k, 0, sizeof(*k));
	if (a->family == AF_INET)
		memcpy(&k->a4, &a->a.v4, 4);
	else if (a->family == AF_INET6)
		memcpy(&k->in6, &a->a.v6, 16);
}

static void addr_from_k(struct xfrm_addr *a, const xfrm_address_t *k,
			int family)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	if (family == AF_INET)
		memcpy(&a->a.v4, &k->a4, 4);
	else
		memcpy(&a->a.v6, &k->in6, 16);
}

static int sel_is_any(const struct xfrm_selector *s)
{
	static const struct xfrm_selector zero;

	return !memcmp(s, &zero, sizeof(zero));
}

/* The kernel selector for s; all zero: any traffic of family dflt. */
static int sel_to_k(struct xfrm_kselector *k, const struct xfrm_selector *s,
		    int dflt)
{
	unsigned max;

	memset(k, 0, sizeof(*k));
	if (sel_is_any(s)) {
		k->family = (uint16_t)dflt;
		return 0;
	}
	if (!addr_ok(&s->src) || s->src.family != s->dst.family)
		return -EINVAL;
	max = s->src.family == AF_INET ? 32 : 128;
	if (s->src_plen > max || s->dst_plen > max)
		return -EINVAL;
	k->family = (uint16_t)s->src.family;
	addr_to_k(&k->saddr, &s->src);
	addr_to_k(&k->daddr, &s->dst);
	k->prefixlen_s = s->src_plen;
	k->prefixlen_d = s->dst_plen;
	return 0;
}

static uint64_t lim(uint64_t v)
{
	return v ? v : XFRM_INF;
}

static void lft_inf(struct xfrm_lifetime_cfg *l)
{
	l->soft_byte_limit = XFRM_INF;
	l->hard_byte_limit = XFRM_INF;
	l->soft_packet_limit = XFRM_INF;
	l->hard_packet_limit = XFRM_INF;
}

static struct nlmsghdr *req_header(void *buf, size_t cap, uint16_t type,
				   uint16_t flags, size_t extra)
{
	struct nlmsghdr *nlh;

	if (cap < XFRM_REQ_BUF || MNL_ALIGN(extra) + 64 > cap ||
	    ((uintptr_t)buf & 7)) {
		errno = EINVAL;
		return NULL;
	}
	memset(buf, 0, XFRM_REQ_BUF);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	if (extra)
		mnl_nlmsg_put_extra_header(nlh, extra);
	return nlh;
}

static struct nlmsghdr *bad(void)
{
	errno = EINVAL;
	return NULL;
}

static int put_mark(struct nlmsghdr *nlh, size_t cap, uint32_t v,
		    uint32_t m)
{
	struct xfrm_mark mk = { .v = v, .m = m };

	if (!m)
		return 1;
	return mnl_attr_put_check(nlh, cap, XFRMA_MARK, sizeof(mk), &mk);
}

static int put_if_id(struct nlmsghdr *nlh, size_t cap, uint32_t if_id)
{
	if (!if_id)
		return 1;
	return mnl_attr_put_u32_check(nlh, cap, XFRMA_IF_ID, if_id);
}

/* Why sa cannot be sent as it is; NULL if it can. */
static const char *sa_invalid(const struct xfrm_sa *sa, char *buf,
			      size_t cap)
{
	const char *name = xfrm_aead_name(sa->aead);

	if (!name) {
		snprintf(buf, cap, "unknown algorithm %d", (int)sa->aead);
		return buf;
	}
	if (sa->key_len != xfrm_aead_key_len(sa->aead)) {
		snprintf(buf, cap, "key is %zu bytes, %s needs %zu",
			 sa->key_len, name, xfrm_aead_key_len(sa->aead));
		return buf;
	}
	if (!addr_ok(&sa->src) || !addr_ok(&sa->dst))
		return "missing src or dst address";
	if (sa->src.family != sa->dst.family)
		return "src and dst are of different families";
	if (sa->spi == 0)
		return "SPI 0 is reserved";
	if (sa->replay_window > REPLAY_MAX) {
		snprintf(buf, cap, "replay window %u > %u", sa->replay_window,
			 (unsigned)REPLAY_MAX);
		return buf;
	}
	if (!sel_is_any(&sa->sel)) {
		struct xfrm_kselector k;

		if (sel_to_k(&k, &sa->sel, sa->src.family))
			return "invalid selector";
	}
	return NULL;
}

/* ---- builders ------------------------------------------------------------ */

struct nlmsghdr *xfrm_build_sa(void *buf, size_t cap, uint16_t type,
			       const struct xfrm_sa *sa)
{
	struct nlmsghdr *nlh;
	struct xfrm_usersa_info *p;
	char why[96];
	bool put;
	union {
		struct xfrm_algo_aead a;
		char b[sizeof(struct xfrm_algo_aead) + sizeof(sa->key)];
	} alg;
	union {
		struct xfrm_replay_state_esn r;
		uint32_t w[sizeof(struct xfrm_replay_state_esn) / 4 +
			   REPLAY_MAX / 32];
	} esn;

	if (sa_invalid(sa, why, sizeof(why)))
		return bad();
	nlh = req_header(buf, cap, type, NLM_F_REQUEST | NLM_F_ACK,
			 sizeof(*p));
	if (!nlh)
		return NULL;
	p = mnl_nlmsg_get_payload(nlh);
	/* An SA with no selector carries both inner families (AF_UNSPEC:
	 * the kernel sets up both inner modes of a tunnel-mode SA), so one
	 * SA serves a tunnel whose selectors mix IPv4 and IPv6. */
	if (sel_to_k(&p->sel, &sa->sel, AF_UNSPEC))
		return bad();
	addr_to_k(&p->id.daddr, &sa->dst);
	p->id.spi = htonl(sa->spi);
	p->id.proto = IPPROTO_ESP;
	addr_to_k(&p->saddr, &sa->src);
	p->lft.soft_byte_limit = lim(sa->lft.soft_bytes);
	p->lft.hard_byte_limit = lim(sa->lft.hard_bytes);
	p->lft.soft_packet_limit = lim(sa->lft.soft_packets);
	p->lft.hard_packet_limit = lim(sa->lft.hard_packets);
	p->lft.soft_add_expires_seconds = sa->lft.soft_seconds;
	p->lft.hard_add_expires_seconds = sa->lft.hard_seconds;
	p->reqid = sa->reqid;
	p->family = (uint16_t)sa->src.family;
	p->mode = XFRM_MODE_TUNNEL;
	if (p->sel.family != p->family)
		p->flags |= XFRM_STATE_AF_UNSPEC;

	memset(&alg, 0, sizeof(alg));
	snprintf(alg.a.alg_name, sizeof(alg.a.alg_name), "%s",
		 xfrm_aead_name(sa->aead));
	alg.a.alg_key_len = (unsigned)(sa->key_len * 8);
	alg.a.alg_icv_len = xfrm_aead_icv_bits(sa->aead);
	memcpy(alg.a.alg_key, sa->key, sa->key_len);
	put = mnl_attr_put_check(nlh, cap, XFRMA_ALG_AEAD,
				 sizeof(alg.a) + sa->key_len, &alg);
	explicit_bzero(&alg, sizeof(alg)); /* the key: only in buf now */
	if (!put)
		return bad();

	/* The legacy replay field is a u8 the kernel caps at 32; ESN and
	 * larger windows go in XFRMA_REPLAY_ESN_VAL (the u8 must then be 0;
	 * without XFRM_STATE_ESN the kernel keeps a plain bitmap). */
	if (sa->esn || sa->replay_window > 32) {
		size_t words = (sa->replay_window + 31) / 32;

		memset(&esn, 0, sizeof(esn));
		esn.r.bmp_len = (unsigned)words;
		esn.r.replay_window = sa->replay_window;
		if (sa->esn)
			p->flags |= XFRM_STATE_ESN;
		if (!mnl_attr_put_check(nlh, cap, XFRMA_REPLAY_ESN_VAL,
					sizeof(esn.r) + words * 4, &esn))
			return bad();
	} else {
		p->replay_window = (uint8_t)sa->replay_window;
	}
	if (!put_mark(nlh, cap, sa->mark, sa->mark_mask) ||
	    !put_if_id(nlh, cap, sa->if_id))
		return bad();
	return nlh;
}

struct nlmsghdr *xfrm_build_sa_id(void *buf, size_t cap, uint16_t type,
				  const struct xfrm_addr *dst, uint32_t spi,
				  uint32_t mark, uint32_t mark_mask)
{
	struct nlmsghdr *nlh;
	struct xfrm_usersa_id *id;

	if (!addr_ok(dst))
		return bad();
	nlh = req_header(buf, cap, type, NLM_F_REQUEST | NLM_F_ACK,
			 sizeof(*id));
	if (!nlh)
		return NULL;
	id = mnl_nlmsg_get_payload(nlh);
	addr_to_k(&id->daddr, dst);
	id->spi = htonl(spi);
	id->family = (uint16_t)dst->family;
	id->proto = IPPROTO_ESP;
	if (!put_mark(nlh, cap, mark, mark_mask))
		return bad();
	return nlh;
}

struct nlmsghdr *xfrm_build_allocspi(void *buf, size_t cap,
				     const struct xfrm_addr *src,
				     const struct xfrm_addr *dst,
				     uint32_t reqid, uint32_t min,
				     uint32_t max)
{
	struct nlmsghdr *nlh;
	struct xfrm_userspi_info *u;

	if (!addr_ok(src) || src->family != dst->family || !min || min > max)
		return bad();
	nlh = req_header(buf, cap, XFRM_MSG_ALLOCSPI,
			 NLM_F_REQUEST | NLM_F_ACK, sizeof(*u));
	if (!nlh)
		return NULL;
	u = mnl_nlmsg_get_payload(nlh);
	u->info.sel.family = (uint16_t)src->family;
	addr_to_k(&u->info.id.daddr, dst);
	u->info.id.proto = IPPROTO_ESP;
	addr_to_k(&u->info.saddr, src);
	lft_inf(&u->info.lft);
	u->info.reqid = reqid;
	u->info.family = (uint16_t)src->family;
	u->info.mode = XFRM_MODE_TUNNEL;
	u->min = min;
	u->max = max;
	return nlh;
}

static int policy_invalid(const struct xfrm_policy *p)
{
	struct xfrm_kselector k;

	if (p->dir != XFRM_DIR_IN && p->dir != XFRM_DIR_OUT &&
	    p->dir != XFRM_DIR_FWD)
		return 1;
	if (!addr_ok(&p->tmpl_src) || p->tmpl_src.family != p->tmpl_dst.family)
		return 1;
	if (p->spi && p->dir != XFRM_DIR_OUT)
		return 1;
	return sel_to_k(&k, &p->sel, p->tmpl_src.family) != 0;
}

struct nlmsghdr *xfrm_build_policy(void *buf, size_t cap, uint16_t type,
				   const struct xfrm_policy *p)
{
	struct nlmsghdr *nlh;
	struct xfrm_userpolicy_info *u;
	struct xfrm_user_tmpl t;

	if (policy_invalid(p))
		return bad();
	nlh = req_header(buf, cap, type, NLM_F_REQUEST | NLM_F_ACK,
			 sizeof(*u));
	if (!nlh)
		return NULL;
	u = mnl_nlmsg_get_payload(nlh);
	sel_to_k(&u->sel, &p->sel, p->tmpl_src.family);
	lft_inf(&u->lft);
	u->priority = p->priority;
	u->dir = (uint8_t)p->dir;
	u->action = XFRM_POLICY_ALLOW;
	u->share = XFRM_SHARE_ANY;

	memset(&t, 0, sizeof(t));
	addr_to_k(&t.id.daddr, &p->tmpl_dst);
	t.id.spi = p->dir == XFRM_DIR_OUT ? htonl(p->spi) : 0;
	t.id.proto = IPPROTO_ESP;
	t.family = (uint16_t)p->tmpl_src.family;
	addr_to_k(&t.saddr, &p->tmpl_src);
	t.reqid = p->reqid;
	t.mode = XFRM_MODE_TUNNEL;
	t.share = XFRM_SHARE_ANY;
	t.aalgos = ~0u;
	t.ealgos = ~0u;
	t.calgos = ~0u;
	if (!mnl_attr_put_check(nlh, cap, XFRMA_TMPL, sizeof(t), &t) ||
	    !put_mark(nlh, cap, p->mark, p->mark_mask) ||
	    !put_if_id(nlh, cap, p->if_id))
		return bad();
	return nlh;
}

struct nlmsghdr *xfrm_build_policy_del(void *buf, size_t cap,
				       const struct xfrm_policy *p)
{
	struct nlmsghdr *nlh;
	struct xfrm_userpolicy_id *u;

	if (policy_invalid(p))
		return bad();
	nlh = req_header(buf, cap, XFRM_MSG_DELPOLICY,
			 NLM_F_REQUEST | NLM_F_ACK, sizeof(*u));
	if (!nlh)
		return NULL;
	u = mnl_nlmsg_get_payload(nlh);
	sel_to_k(&u->sel, &p->sel, p->tmpl_src.family);
	u->dir = (uint8_t)p->dir;
	if (!put_mark(nlh, cap, p->mark, p->mark_mask) ||
	    !put_if_id(nlh, cap, p->if_id))
		return bad();
	return nlh;
}

struct nlmsghdr *xfrm_build_dump(void *buf, size_t cap, uint16_t type)
{
	return req_header(buf, cap, type, NLM_F_REQUEST | NLM_F_DUMP, 0);
}

/* ---- parsers ------------------------------------------------------------- */

int xfrm_parse_sa_stats(const struct nlmsghdr *nlh, struct xfrm_sa_stats *st)
{
	struct xfrm_usersa_info p;

	if (nlh->nlmsg_type != XFRM_MSG_NEWSA ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(p)))
		return -EINVAL;
	/* Copied: a message in a datagram is only 4-byte aligned. */
	memcpy(&p, mnl_nlmsg_get_payload(nlh), sizeof(p));
	st->bytes = p.curlft.bytes;
	st->packets = p.curlft.packets;
	st->add_time = p.curlft.add_time;
	st->use_time = p.curlft.use_time;
	st->replay_errors = p.stats.replay;
	st->integrity_failed = p.stats.integrity_failed;
	st->reqid = p.reqid;
	return 0;
}

int xfrm_parse_expire(const struct nlmsghdr *nlh, uint32_t lo, uint32_t hi,
		      struct xfrm_expire *ev)
{
	struct xfrm_user_expire e;

	if (nlh->nlmsg_type != XFRM_MSG_EXPIRE)
		return 0;
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(e)))
		return -EINVAL;
	memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof(e));
	if (e.state.family != AF_INET && e.state.family != AF_INET6)
		return -EINVAL;
	if (e.state.reqid < lo || e.state.reqid > hi)
		return 0;
	addr_from_k(&ev->dst, &e.state.id.daddr, e.state.family);
	ev->spi = ntohl(e.state.id.spi);
	ev->reqid = e.state.reqid;
	ev->hard = e.hard != 0;
	return 1;
}

/* ---- namespaces and sockets ---------------------------------------------- */

/* Enters /run/netns/NAME (if name); *saved gets the caller's namespace to
 * return to with netns_leave, -1 when nothing was changed. */
static int netns_enter(const char *name, int *saved)
{
	char path[4096];
	int fd, rc;

	*saved = -1;
	if (!name)
		return 0;
	if (!*name || strchr(name, '/'))
		return -EINVAL;
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	*saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0)
		return -errno;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		close(*saved);
		*saved = -1;
		return rc;
	}
	rc = setns(fd, CLONE_NEWNET) ? -errno : 0;
	close(fd);
	if (rc) {
		close(*saved);
		*saved = -1;
	}
	return rc;
}

static int netns_leave(int saved)
{
	int rc;

	if (saved < 0)
		return 0;
	rc = setns(saved, CLONE_NEWNET) ? -errno : 0;
	close(saved);
	return rc;
}

/* A NETLINK_XFRM socket in netns bound to groups; 0 or -errno. */
static int nl_open(struct mnl_socket **out, const char *netns,
		   unsigned groups, int flags)
{
	struct mnl_socket *nl = NULL;
	int saved, rc, rc2;

	*out = NULL;
	rc = netns_enter(netns, &saved);
	if (rc)
		return rc;
	nl = mnl_socket_open2(NETLINK_XFRM, SOCK_CLOEXEC | flags);
	if (!nl)
		rc = errno ? -errno : -ENOMEM;
	else if (mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0)
		rc = -errno;
	rc2 = netns_leave(saved);
	if (!rc)
		rc = rc2;
	if (rc) {
		if (nl)
			mnl_socket_close(nl);
		return rc;
	}
	*out = nl;
	return 0;
}

int xfrm_open(struct xfrm_ctx **out, const char *netns, uint32_t reqid_lo,
	      uint32_t reqid_hi)
{
	struct xfrm_ctx *x;
	int one = 1, rc;

	*out = NULL;
	if (reqid_lo > reqid_hi)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->rbuf = malloc(RBUF_SIZE);
	if (!x->rbuf) {
		free(x);
		return -ENOMEM;
	}
	rc = nl_open(&x->nl, netns, 0, 0);
	if (rc) {
		free(x->rbuf);
		free(x);
		return rc;
	}
	/* The kernel's own words in errors ("Requested AEAD algorithm not
	 * found"), and acks without a copy of the request. */
	mnl_socket_setsockopt(x->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(x->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	x->portid = mnl_socket_get_portid(x->nl);
	x->seq = (uint32_t)getpid() << 8;
	x->lo = reqid_lo;
	x->hi = reqid_hi;
	*out = x;
	return 0;
}

void xfrm_close(struct xfrm_ctx *x)
{
	if (!x)
		return;
	mnl_socket_close(x->nl);
	free(x->rbuf);
	free(x);
}

const char *xfrm_error(const struct xfrm_ctx *x)
{
	return x ? x->err : "";
}

/* ---- request / answer ---------------------------------------------------- */

typedef int (*msg_cb)(const struct nlmsghdr *nlh, void *data);

static int extack_cb(const struct nlattr *a, void *data)
{
	char *msg = data;

	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		snprintf(msg, 160, "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

/* One received datagram of talk(): 1 with *rc set when it ends the
 * exchange (ACK, error, end of dump), else 0. */
static int talk_answer(struct xfrm_ctx *x, int len, uint32_t seq, msg_cb cb,
		       void *data, int *cb_rc, char *ext, int *rc)
{
	const struct nlmsghdr *m = (const void *)x->rbuf;

	for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
		const struct nlmsgerr *e;
		unsigned off;

		/* A stale answer to an earlier request: skip. */
		if (m->nlmsg_seq != seq || !mnl_nlmsg_portid_ok(m, x->portid))
			continue;
		if (m->nlmsg_type == NLMSG_DONE) {
			*rc = *cb_rc;
			return 1;
		}
		if (m->nlmsg_type != NLMSG_ERROR) {
			if (cb && !*cb_rc && m->nlmsg_type >= 0x10)
				*cb_rc = cb(m, data);
			continue;
		}
		if (m->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
			*rc = -EBADMSG;
			return 1;
		}
		e = mnl_nlmsg_get_payload(m);
		if (e->error == 0) {
			*rc = *cb_rc;
			return 1;
		}
		if (m->nlmsg_flags & NLM_F_ACK_TLVS) {
			off = sizeof(*e);
			if (!(m->nlmsg_flags & NLM_F_CAPPED))
				off += e->msg.nlmsg_len -
				       sizeof(struct nlmsghdr);
			if (mnl_nlmsg_size(off) <= m->nlmsg_len)
				mnl_attr_parse(m, off, extack_cb, ext);
		}
		*rc = e->error < 0 ? e->error : -EPROTO;
		return 1;
	}
	return 0;
}

/* Sends nlh and reads until the kernel's ACK, error or end of dump, giving
 * every other answer to cb. Returns 0, cb's first non-zero return, or the
 * kernel's -errno; ext (160 bytes) gets the kernel's message if any.
 * Every answer is wiped from the receive buffer once read: an SA's answer
 * (GETSA for its counters, a dump) carries its key. */
static int talk(struct xfrm_ctx *x, struct nlmsghdr *nlh, msg_cb cb,
		void *data, char *ext)
{
	uint32_t seq;
	int cb_rc = 0, rc = 0;

	ext[0] = 0;
	if (++x->seq == 0)
		x->seq = 1;
	seq = nlh->nlmsg_seq = x->seq;
	if (mnl_socket_sendto(x->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(x->nl, x->rbuf, RBUF_SIZE);
		int done;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done = talk_answer(x, (int)n, seq, cb, data, &cb_rc, ext,
				   &rc);
		explicit_bzero(x->rbuf, (size_t)n);
		if (done)
			return rc;
	}
}

/* Records a failure of rc (negative) on "what", with a hint and the
 * kernel's message; returns rc. */
static int fail(struct xfrm_ctx *x, int rc, const char *hint,
		const char *ext, const char *what)
{
	char h[320];

	if (ext && *ext && hint && *hint)
		snprintf(h, sizeof(h), "%s (kernel: %s)", hint, ext);
	else if (ext && *ext)
		snprintf(h, sizeof(h), "kernel: %s", ext);
	else
		snprintf(h, sizeof(h), "%s", hint ? hint : "");
	xfrm_format_error(x->err, sizeof(x->err), -rc, h, "%s", what);
	return rc;
}

static void describe_sa(char *buf, size_t cap, const char *verb,
			const struct xfrm_addr *dst, uint32_t spi)
{
	char a[INET6_ADDRSTRLEN + 16];

	snprintf(buf, cap, "%s SA spi 0x%08x dst %s", verb, spi,
		 xfrm_addr_str(dst, a, sizeof(a)));
}

/* ---- SAs ----------------------------------------------------------------- */

static int alloc_find(const struct xfrm_ctx *x, const struct xfrm_addr *dst,
		      uint32_t spi)
{
	size_t i;

	for (i = 0; i < x->n_alloc; i++)
		if (x->alloc[i].spi == spi && addr_eq(&x->alloc[i].dst, dst))
			return (int)i;
	return -1;
}

static void alloc_drop(struct xfrm_ctx *x, const struct xfrm_addr *dst,
		       uint32_t spi)
{
	int i = alloc_find(x, dst, spi);

	if (i < 0)
		return;
	memmove(&x->alloc[i], &x->alloc[i + 1],
		(x->n_alloc - (size_t)i - 1) * sizeof(x->alloc[0]));
	x->n_alloc--;
}

static int allocspi_cb(const struct nlmsghdr *nlh, void *data)
{
	struct xfrm_usersa_info p;

	if (nlh->nlmsg_type != XFRM_MSG_NEWSA ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(p)))
		return -EBADMSG;
	memcpy(&p, mnl_nlmsg_get_payload(nlh), sizeof(p));
	*(uint32_t *)data = ntohl(p.id.spi);
	return 0;
}

int xfrm_alloc_spi(struct xfrm_ctx *x, const struct xfrm_addr *src,
		   const struct xfrm_addr *dst, uint32_t reqid, uint32_t min,
		   uint32_t max, uint32_t *spi)
{
	_Alignas(8) char buf[XFRM_REQ_BUF];
	char what[160], a[INET6_ADDRSTRLEN + 16], ext[160];
	struct nlmsghdr *nlh;
	uint32_t got = 0;
	int rc;

	x->err[0] = 0;
	snprintf(what, sizeof(what), "allocate SPI 0x%08x-0x%08x dst %s", min,
		 max, xfrm_addr_str(dst, a, sizeof(a)));
	nlh = xfrm_build_allocspi(buf, sizeof(buf), src, dst, reqid, min, max);
	if (!nlh)
		return fail(x, -EINVAL, "bad addresses or range", NULL, what);
	rc = talk(x, nlh, allocspi_cb, &got, ext);
	if (!rc && !got)
		rc = -EBADMSG;
	if (rc)
		return fail(x, rc, NULL, ext, what);
	if (x->n_alloc == ALLOC_MAX) /* forget the oldest */
		memmove(&x->alloc[0], &x->alloc[1],
			(ALLOC_MAX - 1) * sizeof(x->alloc[0]));
	else
		x->n_alloc++;
	x->alloc[x->n_alloc - 1].dst = *dst;
	x->alloc[x->n_alloc - 1].spi = got;
	*spi = got;
	return 0;
}

static const char *sa_hint(int rc, const struct xfrm_sa *sa, char *buf,
			   size_t cap)
{
	switch (-rc) {
	case ENOSYS:
		snprintf(buf, cap, "algorithm %s not available in this kernel",
			 xfrm_aead_name(sa->aead));
		return buf;
	case EPROTONOSUPPORT:
		return "ESP not available in this kernel";
	case EEXIST:
		return "an SA with this SPI and dst exists";
	case ESRCH:
	case ENOENT:
		return "no such SA";
	}
	return NULL;
}

int xfrm_sa_add(struct xfrm_ctx *x, const struct xfrm_sa *sa)
{
	_Alignas(8) char buf[XFRM_REQ_BUF];
	char what[160], why[96], ext[160];
	struct nlmsghdr *nlh;
	const char *invalid;
	bool upd = alloc_find(x, &sa->dst, sa->spi) >= 0;
	int rc;

	x->err[0] = 0;
	describe_sa(what, sizeof(what), upd ? "update" : "add", &sa->dst,
		    sa->spi);
	invalid = sa_invalid(sa, why, sizeof(why));
	if (invalid)
		return fail(x, -EINVAL, invalid, NULL, what);
	nlh = xfrm_build_sa(buf, sizeof(buf),
			    upd ? XFRM_MSG_UPDSA : XFRM_MSG_NEWSA, sa);
	if (!nlh) {
		explicit_bzero(buf, sizeof(buf));
		return fail(x, -EINVAL, "request does not fit", NULL, what);
	}
	rc = talk(x, nlh, NULL, NULL, ext);
	/* The request carried the key. */
	explicit_bzero(buf, sizeof(buf));
	if (rc)
		return fail(x, rc, sa_hint(rc, sa, why, sizeof(why)), ext,
			    what);
	if (upd)
		alloc_drop(x, &sa->dst, sa->spi);
	return 0;
}

/* What a dump of the SAs tells about one. */
struct sa_ent {
	struct xfrm_addr dst;
	uint32_t spi, reqid;
	uint8_t proto;
	uint32_t mark, mark_mask;
};

struct sa_list {
	struct sa_ent *v;
	size_t n, cap;
};

static int sa_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct sa_list *l = data;
	struct xfrm_usersa_info info, *p = &info;
	const struct nlattr *a;
	struct sa_ent *e;

	if (nlh->nlmsg_type != XFRM_MSG_NEWSA ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*p)))
		return 0;
	memcpy(p, mnl_nlmsg_get_payload(nlh), sizeof(*p));
	if (p->family != AF_INET && p->family != AF_INET6)
		return 0;
	if (l->n == l->cap) {
		size_t c = l->cap ? l->cap * 2 : 32;
		struct sa_ent *v = realloc(l->v, c * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = c;
	}
	e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	addr_from_k(&e->dst, &p->id.daddr, p->family);
	e->spi = ntohl(p->id.spi);
	e->reqid = p->reqid;
	e->proto = p->id.proto;
	mnl_attr_for_each(a, nlh, sizeof(*p)) {
		if (mnl_attr_get_type(a) == XFRMA_MARK &&
		    mnl_attr_get_payload_len(a) >= sizeof(struct xfrm_mark)) {
			const struct xfrm_mark *mk = mnl_attr_get_payload(a);

			e->mark = mk->v;
			e->mark_mask = mk->m;
		}
	}
	return 0;
}

static int sa_dump(struct xfrm_ctx *x, struct sa_list *l, char *ext)
{
	_Alignas(8) char buf[XFRM_REQ_BUF];
	struct nlmsghdr *nlh = xfrm_build_dump(buf, sizeof(buf),
					       XFRM_MSG_GETSA);

	memset(l, 0, sizeof(*l));
	return nlh ? talk(x, nlh, sa_dump_cb, l, ext) : -EINVAL;
}

/* The mark an SA (dst, spi, ESP) carries, found by a dump: 1 if found
 * with a mark, 0 if not found or without a mark, -errno. */
static int sa_find_mark(struct xfrm_ctx *x, const struct xfrm_addr *dst,
			uint32_t spi, uint32_t *mark, uint32_t *mask)
{
	struct sa_list l;
	char ext[160];
	size_t i;
	int rc = sa_dump(x, &l, ext);

	for (i = 0; !rc && i < l.n; i++)
		if (l.v[i].spi == spi && l.v[i].proto == IPPROTO_ESP &&
		    addr_eq(&l.v[i].dst, dst) && l.v[i].mark_mask) {
			*mark = l.v[i].mark;
			*mask = l.v[i].mark_mask;
			rc = 1;
		}
	free(l.v);
	return rc;
}

/* DELSA or GETSA for (dst, spi); an SA with a mark is found by a dump
 * when the first try without one does not find it. The kernel says
 * ESRCH for an SA it does not have; that is reported as -ENOENT. */
static int sa_by_id(struct xfrm_ctx *x, uint16_t type,
		    const struct xfrm_addr *dst, uint32_t spi, msg_cb cb,
		    void *data, char *ext)
{
	_Alignas(8) char buf[XFRM_REQ_BUF];
	struct nlmsghdr *nlh;
	uint32_t mark = 0, mask = 0;
	int rc;

	nlh = xfrm_build_sa_id(buf, sizeof(buf), type, dst, spi, 0, 0);
	if (!nlh)
		return -EINVAL;
	rc = talk(x, nlh, cb, data, ext);
	if (rc == -ESRCH && sa_find_mark(x, dst, spi, &mark, &mask) == 1) {
		nlh = xfrm_build_sa_id(buf, sizeof(buf), type, dst, spi, mark,
				       mask);
		rc = nlh ? talk(x, nlh, cb, data, ext) : -EINVAL;
	}
	return rc == -ESRCH ? -ENOENT : rc;
}

int xfrm_sa_delete(struct xfrm_ctx *x, const struct xfrm_addr *dst,
		   uint32_t spi)
{
	char what[160], ext[160];
	int rc;

	x->err[0] = 0;
	describe_sa(what, sizeof(what), "delete", dst, spi);
	if (!addr_ok(dst))
		return fail(x, -EINVAL, "no dst address", NULL, what);
	rc = sa_by_id(x, XFRM_MSG_DELSA, dst, spi, NULL, NULL, ext);
	if (rc)
		return fail(x, rc, rc == -ENOENT ? "no such SA" : NULL, ext,
			    what);
	alloc_drop(x, dst, spi);
	return 0;
}

static int stats_cb(const struct nlmsghdr *nlh, void *data)
{
	return xfrm_parse_sa_stats(nlh, data) ? -EBADMSG : 0;
}

int xfrm_sa_stats(struct xfrm_ctx *x, const struct xfrm_addr *dst,
		  uint32_t spi, struct xfrm_sa_stats *out)
{
	char what[160], ext[160];
	int rc;

	x->err[0] = 0;
	memset(out, 0, sizeof(*out));
	describe_sa(what, sizeof(what), "read", dst, spi);
	if (!addr_ok(dst))
		return fail(x, -EINVAL, "no dst address", NULL, what);
	rc = sa_by_id(x, XFRM_MSG_GETSA, dst, spi, stats_cb, out, ext);
	if (rc)
		return fail(x, rc, rc == -ENOENT ? "no such SA" : NULL, ext,
			    what);
	return 0;
}

/* ---- policies ------------------------------------------------------------ */

static const char *dir_name(enum xfrm_dir d)
{
	return d == XFRM_DIR_IN ? "in" : d == XFRM_DIR_OUT ? "out" :
	       d == XFRM_DIR_FWD ? "fwd" : "(bad dir)";
}

static void describe_policy(char *buf, size_t cap, const char *verb,
			    const struct xfrm_policy *p)
{
	char s[INET6_ADDRSTRLEN + 16], d[INET6_ADDRSTRLEN + 16];
	char spi[24] = "";

	if (p->spi)
		snprintf(spi, sizeof(spi), " spi 0x%08x", p->spi);
	if (sel_is_any(&p->sel))
		snprintf(buf, cap, "%s policy %s any%s reqid %u", verb,
			 dir_name(p->dir), spi, p->reqid);
	else
		snprintf(buf, cap, "%s policy %s %s/%u -> %s/%u%s reqid %u",
			 verb, dir_name(p->dir),
			 xfrm_addr_str(&p->sel.src, s, sizeof(s)),
			 p->sel.src_plen,
			 xfrm_addr_str(&p->sel.dst, d, sizeof(d)),
			 p->sel.dst_plen, spi, p->reqid);
}

static const char *policy_hint(int rc)
{
	switch (-rc) {
	case EEXIST:
		return "a policy with this selector and direction exists";
	case ENOENT:
	case ESRCH:
		return "no such policy";
	}
	return NULL;
}

static int policy_req(struct xfrm_ctx *x, const struct xfrm_policy *p,
		      uint16_t type, const char *verb)
{
	_Alignas(8) char buf[XFRM_REQ_BUF];
	char what[200], ext[160];
	struct nlmsghdr *nlh;
	int rc;

	x->err[0] = 0;
	describe_policy(what, sizeof(what), verb, p);
	if (policy_invalid(p))
		return fail(x, -EINVAL,
			    p->spi && p->dir != XFRM_DIR_OUT ?
			    "an SPI only in out policies" :
			    "bad direction, addresses or selector",
			    NULL, what);
	nlh = type == XFRM_MSG_DELPOLICY ?
	      xfrm_build_policy_del(buf, sizeof(buf), p) :
	      xfrm_build_policy(buf, sizeof(buf), type, p);
	if (!nlh)
		return fail(x, -EINVAL, "request does not fit", NULL, what);
	rc = talk(x, nlh, NULL, NULL, ext);
	if (rc)
		return fail(x, rc, policy_hint(rc), ext, what);
	return 0;
}

int xfrm_policy_add(struct xfrm_ctx *x, const struct xfrm_policy *p)
{
	return policy_req(x, p, XFRM_MSG_NEWPOLICY, "add");
}

int xfrm_policy_update(struct xfrm_ctx *x, const struct xfrm_policy *p)
{
	return policy_req(x, p, XFRM_MSG_UPDPOLICY, "update");
}

int xfrm_policy_delete(struct xfrm_ctx *x, const struct xfrm_policy *p)
{
	return policy_req(x, p, XFRM_MSG_DELPOLICY, "delete");
}

int xfrm_socket_bypass(int fd, int family)
{
	struct xfrm_userpolicy_info pol;
	int level, opt;
	uint8_t dirs[2] = { XFRM_POLICY_IN, XFRM_POLICY_OUT };
	size_t i;

	if (family == AF_INET) {
		level = IPPROTO_IP;
		opt = IP_XFRM_POLICY;
	} else if (family == AF_INET6) {
		level = IPPROTO_IPV6;
		opt = IPV6_XFRM_POLICY;
	} else {
		return -EAFNOSUPPORT;
	}
	for (i = 0; i < 2; i++) {
		memset(&pol, 0, sizeof(pol));
		pol.sel.family = (uint16_t)family;
		lft_inf(&pol.lft);
		pol.dir = dirs[i];
		pol.action = XFRM_POLICY_ALLOW;
		pol.share = XFRM_SHARE_ANY;
		if (setsockopt(fd, level, opt, &pol, sizeof(pol)) < 0)
			return -errno;
	}
	return 0;
}

/* ---- rollover ------------------------------------------------------------ */

static int step_fail(struct xfrm_ctx *x, int rc, int step, const char *what)
{
	char inner[sizeof(x->err)];

	snprintf(inner, sizeof(inner), "%s", x->err);
	snprintf(x->err, sizeof(x->err), "rollover step %d/4 (%s): %.440s",
		 step, what, inner);
	return rc;
}

int xfrm_rollover(struct xfrm_ctx *x, const struct xfrm_sa *new_in,
		  const struct xfrm_sa *new_out,
		  const struct xfrm_policy *out_policy,
		  const struct xfrm_sa *old_out)
{
	struct xfrm_policy p;
	int rc;

	x->err[0] = 0;
	if (!new_out || !out_policy || out_policy->dir != XFRM_DIR_OUT) {
		xfrm_format_error(x->err, sizeof(x->err), EINVAL,
				  "needs new_out and an out policy",
				  "rollover");
		return -EINVAL;
	}
	if (new_in && (rc = xfrm_sa_add(x, new_in)))
		return step_fail(x, rc, 1, "new inbound SA");
	rc = xfrm_sa_add(x, new_out);
	if (rc)
		return step_fail(x, rc, 2, "new outbound SA");
	p = *out_policy;
	p.spi = new_out->spi;
	rc = xfrm_policy_update(x, &p);
	if (rc)
		return step_fail(x, rc, 3, "switch out policy");
	if (old_out && (rc = xfrm_sa_delete(x, &old_out->dst, old_out->spi)))
		return step_fail(x, rc, 4, "delete old outbound SA");
	return 0;
}

/* ---- flush --------------------------------------------------------------- */

struct pol_ent {
	struct xfrm_userpolicy_id id;
	uint32_t mark, mark_mask, if_id;
};

struct pol_list {
	struct pol_ent *v;
	size_t n, cap;
	uint32_t lo, hi;
};

/* Keeps the policies of the main type whose templates (one at least) all
 * carry a reqid in range. */
static int pol_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct pol_list *l = data;
	struct xfrm_userpolicy_info info, *p = &info;
	const struct nlattr *a;
	struct pol_ent e;
	int ntmpl = 0, ours = 1;

	if (nlh->nlmsg_type != XFRM_MSG_NEWPOLICY ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*p)))
		return 0;
	memcpy(p, mnl_nlmsg_get_payload(nlh), sizeof(*p));
	memset(&e, 0, sizeof(e));
	mnl_attr_for_each(a, nlh, sizeof(*p)) {
		const void *v = mnl_attr_get_payload(a);
		size_t len = mnl_attr_get_payload_len(a), i;

		switch (mnl_attr_get_type(a)) {
		case XFRMA_TMPL:
			for (i = 0; i + sizeof(struct xfrm_user_tmpl) <= len;
			     i += sizeof(struct xfrm_user_tmpl)) {
				struct xfrm_user_tmpl t;

				memcpy(&t, (const char *)v + i, sizeof(t));
				ntmpl++;
				if (t.reqid < l->lo || t.reqid > l->hi)
					ours = 0;
			}
			break;
		case XFRMA_MARK:
			if (len >= sizeof(struct xfrm_mark)) {
				const struct xfrm_mark *mk = v;

				e.mark = mk->v;
				e.mark_mask = mk->m;
			}
			break;
		case XFRMA_IF_ID:
			if (len >= 4)
				e.if_id = mnl_attr_get_u32(a);
			break;
		case XFRMA_POLICY_TYPE:
			if (len >= 1 && *(const uint8_t *)v !=
					XFRM_POLICY_TYPE_MAIN)
				ours = 0;
			break;
		}
	}
	if (!ntmpl || !ours)
		return 0;
	if (l->n == l->cap) {
		size_t c = l->cap ? l->cap * 2 : 32;
		struct pol_ent *v = realloc(l->v, c * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = c;
	}
	e.id.sel = p->sel;
	e.id.index = p->index;
	e.id.dir = p->dir;
	l->v[l->n++] = e;
	return 0;
}

static int sa_delete_except(struct xfrm_ctx *x, const uint32_t *keep,
			    size_t n_keep, const char *op);

int xfrm_flush(struct xfrm_ctx *x)
{
	_Alignas(8) char buf[XFRM_REQ_BUF];
	char what[200], ext[160];
	struct pol_list pl = { .lo = x->lo, .hi = x->hi };
	struct nlmsghdr *nlh;
	int count = 0, first = 0, rc;
	size_t i;

	x->err[0] = 0;
	nlh = xfrm_build_dump(buf, sizeof(buf), XFRM_MSG_GETPOLICY);
	rc = nlh ? talk(x, nlh, pol_dump_cb, &pl, ext) : -EINVAL;
	if (rc) {
		free(pl.v);
		return fail(x, rc, NULL, ext, "flush: dump policies");
	}
	for (i = 0; i < pl.n; i++) {
		struct pol_ent *e = &pl.v[i];
		struct xfrm_userpolicy_id *u;

		nlh = req_header(buf, sizeof(buf), XFRM_MSG_DELPOLICY,
				 NLM_F_REQUEST | NLM_F_ACK, sizeof(*u));
		u = mnl_nlmsg_get_payload(nlh);
		*u = e->id;
		put_mark(nlh, sizeof(buf), e->mark, e->mark_mask);
		put_if_id(nlh, sizeof(buf), e->if_id);
		rc = talk(x, nlh, NULL, NULL, ext);
		if (!rc) {
			count++;
		} else if (rc != -ENOENT && !first) {
			snprintf(what, sizeof(what),
				 "flush: delete policy index %u dir %u",
				 e->id.index, e->id.dir);
			first = fail(x, rc, NULL, ext, what);
		}
	}
	free(pl.v);

	if (first) {
		/* The policy failure stays the one reported. */
		char msg[sizeof(x->err)];

		memcpy(msg, x->err, sizeof(msg));
		sa_delete_except(x, NULL, 0, "flush");
		memcpy(x->err, msg, sizeof(msg));
		return first;
	}
	rc = sa_delete_except(x, NULL, 0, "flush");
	return rc < 0 ? rc : count + rc;
}

/* Deletes the SAs of the context's reqid range whose SPI is not in keep:
 * the number deleted, or the first failure (the rest still attempted). */
static int sa_delete_except(struct xfrm_ctx *x, const uint32_t *keep,
			    size_t n_keep, const char *op)
{
	_Alignas(8) char buf[XFRM_REQ_BUF];
	char what[200], ext[160];
	struct sa_list sl;
	struct nlmsghdr *nlh;
	int count = 0, first = 0, rc;

	rc = sa_dump(x, &sl, ext);
	if (rc) {
		free(sl.v);
		snprintf(what, sizeof(what), "%s: dump SAs", op);
		return fail(x, rc, NULL, ext, what);
	}
	for (size_t i = 0; i < sl.n; i++) {
		struct sa_ent *e = &sl.v[i];
		struct xfrm_usersa_id *id;
		bool kept = false;

		/* SPI 0: a larval SA of a failed ALLOCSPI; DELSA finds ESP
		 * SAs by SPI only, so it stays until it expires. */
		if (e->reqid < x->lo || e->reqid > x->hi || !e->spi)
			continue;
		for (size_t k = 0; k < n_keep && !kept; k++)
			kept = keep[k] == e->spi;
		if (kept)
			continue;
		nlh = xfrm_build_sa_id(buf, sizeof(buf), XFRM_MSG_DELSA,
				       &e->dst, e->spi, e->mark, e->mark_mask);
		if (!nlh)
			continue;
		id = mnl_nlmsg_get_payload(nlh);
		id->proto = e->proto;
		rc = talk(x, nlh, NULL, NULL, ext);
		if (!rc) {
			count++;
			alloc_drop(x, &e->dst, e->spi);
		} else if (rc != -ESRCH && !first) {
			char verb[32];

			snprintf(verb, sizeof(verb), "%s: delete", op);
			describe_sa(what, sizeof(what), verb, &e->dst, e->spi);
			first = fail(x, rc, NULL, ext, what);
		}
	}
	free(sl.v);
	return first ? first : count;
}

int xfrm_sa_prune(struct xfrm_ctx *x, const uint32_t *keep, size_t n_keep)
{
	x->err[0] = 0;
	return sa_delete_except(x, keep, n_keep, "prune");
}

/* ---- expiry listener ----------------------------------------------------- */

int xfrm_listener_open(struct xfrm_listener **out, const char *netns,
		       uint32_t reqid_lo, uint32_t reqid_hi)
{
	struct xfrm_listener *l;
	int rc;

	*out = NULL;
	if (reqid_lo > reqid_hi)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->rbuf = malloc(RBUF_SIZE);
	if (!l->rbuf) {
		free(l);
		return -ENOMEM;
	}
	rc = nl_open(&l->nl, netns, 1u << (XFRMNLGRP_EXPIRE - 1),
		     SOCK_NONBLOCK);
	if (rc) {
		free(l->rbuf);
		free(l);
		return rc;
	}
	l->lo = reqid_lo;
	l->hi = reqid_hi;
	*out = l;
	return 0;
}

int xfrm_listener_fd(const struct xfrm_listener *l)
{
	return mnl_socket_get_fd(l->nl);
}

int xfrm_listener_read(struct xfrm_listener *l, struct xfrm_expire *ev,
		       size_t cap, size_t *n)
{
	int overrun = 0;

	*n = 0;
	/* The kernel sends one event per datagram, so stopping at cap
	 * datagrams loses nothing: the rest stays queued. */
	while (*n < cap) {
		struct sockaddr_nl from;
		socklen_t flen = sizeof(from);
		ssize_t r = recvfrom(mnl_socket_get_fd(l->nl), l->rbuf,
				     RBUF_SIZE, MSG_DONTWAIT,
				     (struct sockaddr *)&from, &flen);
		const struct nlmsghdr *m = (const void *)l->rbuf;
		int len;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ENOBUFS) {
				overrun = 1;
				continue;
			}
			return -errno;
		}
		/* Only the kernel's: a privileged process could also send
		 * to the group. */
		if (flen < sizeof(from) || from.nl_pid != 0)
			continue;
		len = (int)r;
		for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
			if (*n < cap &&
			    xfrm_parse_expire(m, l->lo, l->hi, &ev[*n]) == 1)
				(*n)++;
		}
	}
	return overrun ? -ENOBUFS : 0;
}

void xfrm_listener_close(struct xfrm_listener *l)
{
	if (!l)
		return;
	mnl_socket_close(l->nl);
	free(l->rbuf);
	free(l);
}
