/* epochd's privilege separation (daemon/privsep.h, docs/privsep.md).
 *
 * The message format: every message is one SOCK_SEQPACKET record,
 *   u16 type, u16 version, u32 length (of the whole record), u32 seq,
 *   u32 reqid, then the type's fixed body;
 * integers big-endian, an address is u8 family + 16 bytes (IPv4 in the
 * first 4, the rest zero). A reply has type PSEP_REPLY | request type and
 * the request's seq; its body is i32 result, u32 spi, the SA counters,
 * u16 message length and the message (no NUL).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/errmsg.h"
#include "daemon/log.h"
#include "daemon/privsep.h"
#include "proto/crypto.h"

#define CALL_TIMEOUT_MS 30000

struct psep {
	int fd;
	pid_t parent;
	uid_t uid;
	gid_t gid;
	uint32_t seq;
};

struct psep_xfrm {
	struct psep *ps;     /* NULL: direct (x) */
	struct xfrm_ctx *x;
	uint32_t reqid;
	char err[PSEP_ERR_MAX + 1];
};

struct reply {
	int32_t rc;
	uint32_t spi;
	struct xfrm_sa_stats st;
	char msg[PSEP_ERR_MAX + 1];
};

/* ---- bounded writer and reader ---------------------------------------------- */

struct wr {
	uint8_t *p;
	size_t cap, len;
	bool bad;
};

static void put(struct wr *w, uint64_t v, size_t n)
{
	if (w->bad || w->cap - w->len < n) {
		w->bad = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		w->p[w->len + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	w->len += n;
}

static void put_bytes(struct wr *w, const void *b, size_t n)
{
	if (w->bad || w->cap - w->len < n) {
		w->bad = true;
		return;
	}
	memcpy(w->p + w->len, b, n);
	w->len += n;
}

static void put_addr(struct wr *w, const struct xfrm_addr *a)
{
	uint8_t b[16] = { 0 };

	if (a->family == AF_INET)
		memcpy(b, &a->a.v4, 4);
	else if (a->family == AF_INET6)
		memcpy(b, &a->a.v6, 16);
	else if (a->family != AF_UNSPEC)
		w->bad = true;
	put(w, a->family == AF_INET ? 4 : a->family == AF_INET6 ? 6 : 0, 1);
	put_bytes(w, b, 16);
}

static void put_sel(struct wr *w, const struct xfrm_selector *s)
{
	put_addr(w, &s->src);
	put_addr(w, &s->dst);
	put(w, s->src_plen, 1);
	put(w, s->dst_plen, 1);
}

struct rd {
	const uint8_t *p;
	size_t len, off;
	const char *bad; /* the first problem */
};

static uint64_t get(struct rd *r, size_t n)
{
	uint64_t v = 0;

	if (r->bad || r->len - r->off < n) {
		if (!r->bad)
			r->bad = "message too short";
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v = v << 8 | r->p[r->off + i];
	r->off += n;
	return v;
}

static void get_bytes(struct rd *r, void *out, size_t n)
{
	if (r->bad || r->len - r->off < n) {
		if (!r->bad)
			r->bad = "message too short";
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p + r->off, n);
	r->off += n;
}

static void fail_rd(struct rd *r, const char *why)
{
	if (!r->bad)
		r->bad = why;
}

/* unspec_ok: the all-zero "any" address of an SA's selector. */
static void get_addr(struct rd *r, struct xfrm_addr *a, bool unspec_ok)
{
	static const uint8_t zero[16];
	unsigned fam = (unsigned)get(r, 1);
	uint8_t b[16];

	get_bytes(r, b, 16);
	memset(a, 0, sizeof(*a));
	if (fam == 4) {
		a->family = AF_INET;
		memcpy(&a->a.v4, b, 4);
		if (memcmp(b + 4, zero, 12) != 0)
			fail_rd(r, "bytes after an IPv4 address");
	} else if (fam == 6) {
		a->family = AF_INET6;
		memcpy(&a->a.v6, b, 16);
	} else if (fam == 0 && unspec_ok) {
		a->family = AF_UNSPEC;
		if (memcmp(b, zero, 16) != 0)
			fail_rd(r, "bytes in an unspecified address");
	} else {
		fail_rd(r, "bad address family");
	}
}

static unsigned plen_max(const struct xfrm_addr *a)
{
	return a->family == AF_INET ? 32 : a->family == AF_INET6 ? 128 : 0;
}

static void get_sel(struct rd *r, struct xfrm_selector *s, bool unspec_ok)
{
	get_addr(r, &s->src, unspec_ok);
	get_addr(r, &s->dst, unspec_ok);
	s->src_plen = (uint8_t)get(r, 1);
	s->dst_plen = (uint8_t)get(r, 1);
	if (s->src_plen > plen_max(&s->src) || s->dst_plen > plen_max(&s->dst))
		fail_rd(r, "bad prefix length");
}

static void get_bool(struct rd *r, bool *b)
{
	uint64_t v = get(r, 1);

	if (v > 1)
		fail_rd(r, "bad boolean");
	*b = v == 1;
}

/* ---- requests ------------------------------------------------------------------ */

static void put_hdr(struct wr *w, unsigned type, uint32_t seq, uint32_t reqid)
{
	put(w, type, 2);
	put(w, PSEP_VERSION, 2);
	put(w, 0, 4); /* length, set at the end */
	put(w, seq, 4);
	put(w, reqid, 4);
}

static int finish(struct wr *w)
{
	if (w->bad)
		return -EINVAL;
	w->p[4] = (uint8_t)(w->len >> 24);
	w->p[5] = (uint8_t)(w->len >> 16);
	w->p[6] = (uint8_t)(w->len >> 8);
	w->p[7] = (uint8_t)w->len;
	return (int)w->len;
}

static void put_sa(struct wr *w, const struct xfrm_sa *sa)
{
	put_addr(w, &sa->src);
	put_addr(w, &sa->dst);
	put(w, sa->spi, 4);
	put(w, sa->reqid, 4);
	put(w, (unsigned)sa->aead, 1);
	if (sa->key_len > sizeof(sa->key))
		w->bad = true;
	put(w, sa->key_len, 1);
	put_bytes(w, sa->key, sizeof(sa->key));
	put(w, sa->esn, 1);
	put(w, sa->replay_window, 4);
	put(w, sa->mark, 4);
	put(w, sa->mark_mask, 4);
	put(w, sa->if_id, 4);
	put(w, sa->lft.soft_bytes, 8);
	put(w, sa->lft.hard_bytes, 8);
	put(w, sa->lft.soft_packets, 8);
	put(w, sa->lft.hard_packets, 8);
	put(w, sa->lft.soft_seconds, 8);
	put(w, sa->lft.hard_seconds, 8);
	put_sel(w, &sa->sel);
}

static void get_sa(struct rd *r, struct xfrm_sa *sa)
{
	uint64_t v;

	get_addr(r, &sa->src, false);
	get_addr(r, &sa->dst, false);
	sa->spi = (uint32_t)get(r, 4);
	sa->reqid = (uint32_t)get(r, 4);
	v = get(r, 1);
	if (v > XFRM_AEAD_CHACHA20_POLY1305)
		fail_rd(r, "unknown algorithm");
	sa->aead = (enum xfrm_aead)v;
	sa->key_len = (size_t)get(r, 1);
	if (sa->key_len > sizeof(sa->key))
		fail_rd(r, "key too long");
	get_bytes(r, sa->key, sizeof(sa->key));
	get_bool(r, &sa->esn);
	sa->replay_window = (uint32_t)get(r, 4);
	sa->mark = (uint32_t)get(r, 4);
	sa->mark_mask = (uint32_t)get(r, 4);
	sa->if_id = (uint32_t)get(r, 4);
	sa->lft.soft_bytes = get(r, 8);
	sa->lft.hard_bytes = get(r, 8);
	sa->lft.soft_packets = get(r, 8);
	sa->lft.hard_packets = get(r, 8);
	sa->lft.soft_seconds = get(r, 8);
	sa->lft.hard_seconds = get(r, 8);
	get_sel(r, &sa->sel, true);
}

static void put_pol(struct wr *w, const struct xfrm_policy *p)
{
	put_sel(w, &p->sel);
	put(w, (unsigned)p->dir, 1);
	put_addr(w, &p->tmpl_src);
	put_addr(w, &p->tmpl_dst);
	put(w, p->reqid, 4);
	put(w, p->spi, 4);
	put(w, p->priority, 4);
	put(w, p->mark, 4);
	put(w, p->mark_mask, 4);
	put(w, p->if_id, 4);
}

static void get_pol(struct rd *r, struct xfrm_policy *p)
{
	uint64_t v;

	get_sel(r, &p->sel, false);
	v = get(r, 1);
	if (v > XFRM_DIR_FWD)
		fail_rd(r, "bad direction");
	p->dir = (enum xfrm_dir)v;
	get_addr(r, &p->tmpl_src, false);
	get_addr(r, &p->tmpl_dst, false);
	p->reqid = (uint32_t)get(r, 4);
	p->spi = (uint32_t)get(r, 4);
	p->priority = (uint32_t)get(r, 4);
	p->mark = (uint32_t)get(r, 4);
	p->mark_mask = (uint32_t)get(r, 4);
	p->if_id = (uint32_t)get(r, 4);
}

int psep_encode(const struct psep_req *r, uint8_t *buf, size_t cap)
{
	struct wr w = { buf, cap, 0, false };

	if (r->type < PSEP_ALLOC_SPI || r->type > PSEP_TYPE_MAX)
		return -EINVAL;
	put_hdr(&w, r->type, r->seq, r->reqid);
	switch (r->type) {
	case PSEP_ALLOC_SPI:
		put_addr(&w, &r->src);
		put_addr(&w, &r->dst);
		put(&w, r->min, 4);
		put(&w, r->max, 4);
		break;
	case PSEP_SA_ADD:
		put_sa(&w, &r->sa);
		break;
	case PSEP_SA_DELETE:
	case PSEP_SA_STATS:
		put_addr(&w, &r->dst);
		put(&w, r->spi, 4);
		break;
	case PSEP_POLICY_ADD:
	case PSEP_POLICY_UPDATE:
	case PSEP_POLICY_DELETE:
		put_pol(&w, &r->pol);
		break;
	case PSEP_SA_PRUNE:
		if (r->n_keep > PSEP_KEEP_MAX)
			return -EINVAL;
		put(&w, r->n_keep, 1);
		for (size_t i = 0; i < r->n_keep; i++)
			put(&w, r->keep[i], 4);
		break;
	default: /* FLUSH, RELOAD: no body */
		break;
	}
	return finish(&w);
}

int psep_decode(const uint8_t *buf, size_t len, struct psep_req *r,
		char *why, size_t whylen)
{
	struct rd rd = { buf, len, 0, NULL };
	uint64_t type, version, mlen;

	memset(r, 0, sizeof(*r));
	type = get(&rd, 2);
	version = get(&rd, 2);
	mlen = get(&rd, 4);
	r->seq = (uint32_t)get(&rd, 4);
	r->reqid = (uint32_t)get(&rd, 4);
	if (rd.bad)
		goto bad;
	if (version != PSEP_VERSION) {
		errmsg_set(why, whylen, "version %u (want %u)",
			   (unsigned)version, PSEP_VERSION);
		goto out;
	}
	if (mlen != len) {
		errmsg_set(why, whylen, "length field %llu, message %zu bytes",
			   (unsigned long long)mlen, len);
		goto out;
	}
	if (type < PSEP_ALLOC_SPI || type > PSEP_TYPE_MAX) {
		errmsg_set(why, whylen, "unknown type %u", (unsigned)type);
		goto out;
	}
	r->type = (enum psep_type)type;
	switch (r->type) {
	case PSEP_ALLOC_SPI:
		get_addr(&rd, &r->src, false);
		get_addr(&rd, &r->dst, false);
		r->min = (uint32_t)get(&rd, 4);
		r->max = (uint32_t)get(&rd, 4);
		break;
	case PSEP_SA_ADD:
		get_sa(&rd, &r->sa);
		break;
	case PSEP_SA_DELETE:
	case PSEP_SA_STATS:
		get_addr(&rd, &r->dst, false);
		r->spi = (uint32_t)get(&rd, 4);
		break;
	case PSEP_POLICY_ADD:
	case PSEP_POLICY_UPDATE:
	case PSEP_POLICY_DELETE:
		get_pol(&rd, &r->pol);
		break;
	case PSEP_SA_PRUNE:
		r->n_keep = (size_t)get(&rd, 1);
		if (r->n_keep > PSEP_KEEP_MAX) {
			fail_rd(&rd, "too many SPIs to keep");
			break;
		}
		for (size_t i = 0; i < r->n_keep; i++)
			r->keep[i] = (uint32_t)get(&rd, 4);
		break;
	default:
		break;
	}
	if (!rd.bad && rd.off != len)
		rd.bad = "bytes after the message";
	if (!rd.bad)
		return 0;
bad:
	errmsg_set(why, whylen, "%s", rd.bad);
out:
	crypto_wipe(r, sizeof(*r));
	return -EPROTO;
}

/* ---- checks -------------------------------------------------------------------- */

static bool addr_eq(const struct xfrm_addr *a, const struct xfrm_addr *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->a.v4.s_addr == b->a.v4.s_addr;
	if (a->family == AF_INET6)
		return memcmp(&a->a.v6, &b->a.v6, 16) == 0;
	return a->family == AF_UNSPEC;
}

static bool pfx_eq(const struct xfrm_addr *a, uint8_t plen,
		   const struct config_prefix *p)
{
	return plen == p->plen && addr_eq(a, &p->addr);
}

static const struct config_tunnel *tunnel_of(const struct config *c,
					     uint32_t reqid)
{
	for (size_t i = 0; i < c->n_tunnels; i++)
		if (c->tunnels[i].reqid == reqid)
			return &c->tunnels[i];
	return NULL;
}

static int refuse(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EPERM;
}

/* What daemon.c's sa_template makes of the tunnel's settings. */
static int check_sa(const struct config_tunnel *t, const struct xfrm_sa *sa,
		    char *why, size_t whylen)
{
	static const struct xfrm_selector any;
	bool in = addr_eq(&sa->src, &t->remote) && addr_eq(&sa->dst, &t->local);
	bool out = addr_eq(&sa->src, &t->local) && addr_eq(&sa->dst, &t->remote);

	if (!in && !out)
		return refuse(why, whylen, "%s: SA addresses are not the "
			      "tunnel's", t->name);
	if (sa->reqid != t->reqid)
		return refuse(why, whylen, "%s: SA reqid differs", t->name);
	if (sa->spi < PSEP_SPI_MIN)
		return refuse(why, whylen, "%s: reserved SPI", t->name);
	if (sa->aead != t->esp)
		return refuse(why, whylen, "%s: not the tunnel's algorithm",
			      t->name);
	if (sa->key_len != xfrm_aead_key_len(t->esp))
		return refuse(why, whylen, "%s: wrong key length", t->name);
	if (!sa->esn || sa->replay_window != PSEP_REPLAY_WINDOW)
		return refuse(why, whylen, "%s: wrong ESN or replay window",
			      t->name);
	if (sa->mark != t->mark || sa->mark_mask != t->mark_mask ||
	    sa->if_id != t->if_id)
		return refuse(why, whylen, "%s: wrong mark or if_id", t->name);
	if (sa->lft.soft_bytes != t->rekey_bytes ||
	    sa->lft.hard_bytes != t->hard_bytes ||
	    sa->lft.soft_packets != t->rekey_packets ||
	    sa->lft.hard_packets != t->hard_packets ||
	    sa->lft.soft_seconds != 0 ||
	    sa->lft.hard_seconds != t->hard_time)
		return refuse(why, whylen, "%s: wrong lifetimes", t->name);
	if (memcmp(&sa->sel.src, &any.src, sizeof(any.src)) != 0 ||
	    memcmp(&sa->sel.dst, &any.dst, sizeof(any.dst)) != 0 ||
	    sa->sel.src_plen || sa->sel.dst_plen)
		return refuse(why, whylen, "%s: SA with a selector", t->name);
	return 0;
}

/* What daemon.c's policy_for makes: one of the tunnel's selector pairs,
 * its gateways as the template, no SPI but on an out policy. */
static int check_pol(const struct config_tunnel *t,
		     const struct xfrm_policy *p, char *why, size_t whylen)
{
	bool out = p->dir == XFRM_DIR_OUT, found = false;

	for (size_t i = 0; i < t->n_local_ts && !found; i++)
		for (size_t j = 0; j < t->n_remote_ts && !found; j++) {
			const struct config_prefix *l = &t->local_ts[i];
			const struct config_prefix *r = &t->remote_ts[j];

			found = out ? pfx_eq(&p->sel.src, p->sel.src_plen, l) &&
				      pfx_eq(&p->sel.dst, p->sel.dst_plen, r) :
				      pfx_eq(&p->sel.src, p->sel.src_plen, r) &&
				      pfx_eq(&p->sel.dst, p->sel.dst_plen, l);
		}
	if (!found)
		return refuse(why, whylen, "%s: selector is not the tunnel's",
			      t->name);
	if (!addr_eq(&p->tmpl_src, out ? &t->local : &t->remote) ||
	    !addr_eq(&p->tmpl_dst, out ? &t->remote : &t->local))
		return refuse(why, whylen, "%s: template addresses are not "
			      "the tunnel's", t->name);
	if (p->reqid != t->reqid)
		return refuse(why, whylen, "%s: policy reqid differs",
			      t->name);
	if (!out && p->spi)
		return refuse(why, whylen, "%s: SPI in an in/fwd policy",
			      t->name);
	if (p->priority != PSEP_POLICY_PRIORITY)
		return refuse(why, whylen, "%s: wrong priority", t->name);
	if (p->mark != t->mark || p->mark_mask != t->mark_mask ||
	    p->if_id != t->if_id)
		return refuse(why, whylen, "%s: wrong mark or if_id", t->name);
	return 0;
}

int psep_check(const struct config *c, const struct psep_req *r,
	       const uint32_t *extra, size_t n_extra, char *why,
	       size_t whylen)
{
	const struct config_tunnel *t;

	if (r->type == PSEP_RELOAD) {
		if (r->reqid)
			return refuse(why, whylen, "reload with a reqid");
		return 0;
	}
	t = tunnel_of(c, r->reqid);
	if (r->type == PSEP_SA_PRUNE) {
		/* Like a flush, within the tunnel's own reqid (the context
		 * is scoped to it); only a configured tunnel resumes. */
		if (!t)
			return refuse(why, whylen, "prune of reqid %u, no "
				      "tunnel's", r->reqid);
		return 0;
	}
	if (r->type == PSEP_FLUSH) {
		for (size_t i = 0; !t && i < n_extra; i++)
			if (extra[i] == r->reqid)
				return 0;
		if (!t)
			return refuse(why, whylen, "flush of reqid %u, no "
				      "tunnel's", r->reqid);
		return 0;
	}
	if (!t)
		return refuse(why, whylen, "reqid %u is no tunnel's", r->reqid);
	switch (r->type) {
	case PSEP_ALLOC_SPI:
		if (!addr_eq(&r->src, &t->remote) ||
		    !addr_eq(&r->dst, &t->local))
			return refuse(why, whylen, "%s: SPI for addresses not "
				      "the tunnel's", t->name);
		if (r->min < PSEP_SPI_MIN || r->min > r->max)
			return refuse(why, whylen, "%s: bad SPI range",
				      t->name);
		return 0;
	case PSEP_SA_ADD:
		return check_sa(t, &r->sa, why, whylen);
	case PSEP_SA_DELETE:
	case PSEP_SA_STATS:
		if (!addr_eq(&r->dst, &t->local) &&
		    !addr_eq(&r->dst, &t->remote))
			return refuse(why, whylen, "%s: SA address not the "
				      "tunnel's", t->name);
		return 0;
	case PSEP_POLICY_ADD:
	case PSEP_POLICY_UPDATE:
	case PSEP_POLICY_DELETE:
		return check_pol(t, &r->pol, why, whylen);
	default:
		return refuse(why, whylen, "unknown request");
	}
}

/* ---- replies ------------------------------------------------------------------- */

static int reply_encode(unsigned type, uint32_t seq, const struct reply *rp,
			uint8_t *buf, size_t cap)
{
	struct wr w = { buf, cap, 0, false };
	size_t n = strnlen(rp->msg, PSEP_ERR_MAX);

	put_hdr(&w, PSEP_REPLY | type, seq, 0);
	put(&w, (uint32_t)rp->rc, 4);
	put(&w, rp->spi, 4);
	put(&w, rp->st.bytes, 8);
	put(&w, rp->st.packets, 8);
	put(&w, rp->st.replay_errors, 4);
	put(&w, rp->st.integrity_failed, 4);
	put(&w, rp->st.add_time, 8);
	put(&w, rp->st.use_time, 8);
	put(&w, rp->st.reqid, 4);
	put(&w, n, 2);
	put_bytes(&w, rp->msg, n);
	return finish(&w);
}

static int reply_decode(const uint8_t *buf, size_t len, unsigned type,
			uint32_t seq, struct reply *rp)
{
	struct rd rd = { buf, len, 0, NULL };
	size_t n;

	memset(rp, 0, sizeof(*rp));
	if (get(&rd, 2) != (PSEP_REPLY | type) ||
	    get(&rd, 2) != PSEP_VERSION || get(&rd, 4) != len ||
	    get(&rd, 4) != seq || get(&rd, 4) != 0)
		return -EPROTO;
	rp->rc = (int32_t)(uint32_t)get(&rd, 4);
	rp->spi = (uint32_t)get(&rd, 4);
	rp->st.bytes = get(&rd, 8);
	rp->st.packets = get(&rd, 8);
	rp->st.replay_errors = (uint32_t)get(&rd, 4);
	rp->st.integrity_failed = (uint32_t)get(&rd, 4);
	rp->st.add_time = get(&rd, 8);
	rp->st.use_time = get(&rd, 8);
	rp->st.reqid = (uint32_t)get(&rd, 4);
	n = (size_t)get(&rd, 2);
	if (n > PSEP_ERR_MAX)
		return -EPROTO;
	get_bytes(&rd, rp->msg, n);
	rp->msg[n] = 0;
	if (rd.bad || rd.off != len || rp->rc > 0 || rp->rc < -4095)
		return -EPROTO;
	return 0;
}

/* ---- dropping privileges -------------------------------------------------------- */

static int capset_to(uint64_t caps)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = (uint32_t)caps;
	d[1].effective = d[1].permitted = (uint32_t)(caps >> 32);
	return (int)syscall(SYS_capset, &h, d);
}

static int capget_now(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	*prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	*inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

/* Becomes uid/gid with exactly the capabilities keep (0 or
 * 1 << CAP_NET_ADMIN) and no way to gain others. */
static int drop_to(uid_t uid, gid_t gid, uint64_t keep, char *err,
		   size_t errlen)
{
	uint64_t eff = 0, prm = 0, inh = 0;
	const char *step;

	if (geteuid() == 0) {
		step = "drop the bounding set";
		for (int cap = 0; cap < 64; cap++)
			if (!(keep >> cap & 1) &&
			    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
			    errno != EINVAL)
				goto fail;
		step = "keep capabilities";
		if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			goto fail;
		step = "setgroups";
		if (setgroups(1, &gid) < 0)
			goto fail;
		step = "setgid";
		if (setresgid(gid, gid, gid) < 0)
			goto fail;
		step = "setuid";
		if (setresuid(uid, uid, uid) < 0)
			goto fail;
		if (keep)
			prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	} else if (getuid() != uid || geteuid() != uid) {
		errmsg_set(err, errlen, "epochd runs as uid %u: start it as "
			   "root or as the configured user (uid %u)",
			   (unsigned)geteuid(), (unsigned)uid);
		return -1;
	}
	step = "set capabilities";
	if (capset_to(keep) < 0)
		goto fail;
	step = "clear ambient capabilities";
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		goto fail;
	step = "set no_new_privs";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		goto fail;
	/* Checked, not assumed. */
	if (capget_now(&eff, &prm, &inh) < 0 || eff != keep || prm != keep ||
	    inh != 0 || getuid() != uid || geteuid() != uid ||
	    getgid() != gid || getegid() != gid ||
	    (uid != 0 && setuid(0) == 0)) {
		errmsg_set(err, errlen, "privileges still held after "
			   "dropping them (CapEff %llx, CapPrm %llx)",
			   (unsigned long long)eff, (unsigned long long)prm);
		return -1;
	}
	return 0;
fail:
	errmsg_set(err, errlen, "cannot %s: %s", step, strerror(errno));
	return -1;
}

/* ---- the privileged process ----------------------------------------------------- */

struct parent {
	struct config cfg;
	char path[CONFIG_PATH_MAX];
	int fd, sfd;
	pid_t child;
	/* One context per reqid asked for, kept: xfrm_sa_add updates the
	 * larval SA of an SPI allocated on the same context. */
	struct {
		uint32_t reqid;
		struct xfrm_ctx *x;
	} *ctx;
	size_t n_ctx;
	uint32_t *reqids; /* of ctx, for psep_check's extra */
};

static struct xfrm_ctx *ctx_for(struct parent *p, uint32_t reqid, int *rc)
{
	void *v;

	for (size_t i = 0; i < p->n_ctx; i++)
		if (p->ctx[i].reqid == reqid)
			return p->ctx[i].x;
	v = realloc(p->ctx, (p->n_ctx + 1) * sizeof(p->ctx[0]));
	if (!v) {
		*rc = -ENOMEM;
		return NULL;
	}
	p->ctx = v;
	v = realloc(p->reqids, (p->n_ctx + 1) * sizeof(p->reqids[0]));
	if (!v) {
		*rc = -ENOMEM;
		return NULL;
	}
	p->reqids = v;
	*rc = xfrm_open(&p->ctx[p->n_ctx].x, NULL, reqid, reqid);
	if (*rc < 0)
		return NULL;
	p->ctx[p->n_ctx].reqid = reqid;
	p->reqids[p->n_ctx] = reqid;
	return p->ctx[p->n_ctx++].x;
}

static void ctx_drop(struct parent *p, uint32_t reqid)
{
	for (size_t i = 0; i < p->n_ctx; i++)
		if (p->ctx[i].reqid == reqid) {
			xfrm_close(p->ctx[i].x);
			p->ctx[i] = p->ctx[--p->n_ctx];
			p->reqids[i] = p->reqids[p->n_ctx];
			return;
		}
}

/* The kernel SA (dst, spi) exists and is the tunnel's (reqid): other
 * daemons' SAs are neither read nor deleted. */
static int sa_owned(struct xfrm_ctx *x, const struct psep_req *r,
		    struct xfrm_sa_stats *st)
{
	int rc = xfrm_sa_stats(x, &r->dst, r->spi, st);

	if (rc < 0)
		return rc;
	if (st->reqid != r->reqid) {
		memset(st, 0, sizeof(*st));
		return -EPERM;
	}
	return 0;
}

static void perform(struct parent *p, struct psep_req *r, struct reply *rp)
{
	struct xfrm_ctx *x;
	struct config nc;
	char err[PSEP_ERR_MAX + 1];
	int rc = 0;

	if (r->type == PSEP_RELOAD) {
		memset(&nc, 0, sizeof(nc));
		if (config_load_file(p->path, &nc, err, sizeof(err)) < 0) {
			rp->rc = -EINVAL;
			snprintf(rp->msg, sizeof(rp->msg), "%s", err);
			return;
		}
		config_free(&p->cfg);
		p->cfg = nc;
		log_msg(CONFIG_LOG_INFO, NULL, "privileged process: "
			"configuration reloaded (%zu tunnels)",
			p->cfg.n_tunnels);
		return;
	}
	x = ctx_for(p, r->reqid, &rc);
	if (!x) {
		rp->rc = rc;
		snprintf(rp->msg, sizeof(rp->msg), "cannot open XFRM netlink: "
			 "%s", strerror(-rc));
		return;
	}
	switch (r->type) {
	case PSEP_ALLOC_SPI:
		rc = xfrm_alloc_spi(x, &r->src, &r->dst, r->reqid, r->min,
				    r->max, &rp->spi);
		break;
	case PSEP_SA_ADD:
		rc = xfrm_sa_add(x, &r->sa);
		break;
	case PSEP_SA_DELETE:
		rc = sa_owned(x, r, &rp->st);
		if (rc == 0)
			rc = xfrm_sa_delete(x, &r->dst, r->spi);
		memset(&rp->st, 0, sizeof(rp->st));
		break;
	case PSEP_SA_STATS:
		rc = sa_owned(x, r, &rp->st);
		break;
	case PSEP_POLICY_ADD:
		rc = xfrm_policy_add(x, &r->pol);
		break;
	case PSEP_POLICY_UPDATE:
		rc = xfrm_policy_update(x, &r->pol);
		break;
	case PSEP_POLICY_DELETE:
		rc = xfrm_policy_delete(x, &r->pol);
		break;
	case PSEP_FLUSH:
		rc = xfrm_flush(x);
		break;
	case PSEP_SA_PRUNE:
		rc = xfrm_sa_prune(x, r->keep, r->n_keep);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	rp->rc = rc < 0 ? rc : 0;
	if ((r->type == PSEP_FLUSH || r->type == PSEP_SA_PRUNE) && rc >= 0)
		rp->spi = (uint32_t)rc; /* the count */
	if (rc == -EPERM)
		snprintf(rp->msg, sizeof(rp->msg), "SA 0x%08x is not the "
			 "tunnel's (reqid)", r->spi);
	else if (rc < 0)
		snprintf(rp->msg, sizeof(rp->msg), "%s", xfrm_error(x));
	if (r->type == PSEP_FLUSH && !tunnel_of(&p->cfg, r->reqid))
		ctx_drop(p, r->reqid);
}

static void serve_one(struct parent *p, const uint8_t *buf, size_t len)
{
	struct psep_req r;
	struct reply rp;
	uint8_t out[PSEP_MSG_MAX];
	char why[PSEP_ERR_MAX - 16];
	int n;

	memset(&rp, 0, sizeof(rp));
	if (psep_decode(buf, len, &r, why, sizeof(why)) < 0) {
		log_msg(CONFIG_LOG_ERROR, NULL, "privileged process: bad "
			"request refused: %s", why);
		rp.rc = -EPROTO;
		snprintf(rp.msg, sizeof(rp.msg), "bad request: %s", why);
		/* Answered under the type and seq it claims, if any. */
		r.type = len >= 2 ? (enum psep_type)(buf[1] & 0x7f) : 0;
		r.seq = len >= 12 ? (uint32_t)buf[8] << 24 | buf[9] << 16 |
				    buf[10] << 8 | buf[11] : 0;
	} else if (psep_check(&p->cfg, &r, p->reqids, p->n_ctx, why,
			      sizeof(why)) < 0) {
		log_msg(CONFIG_LOG_ERROR, NULL, "privileged process: request "
			"refused: %s", why);
		rp.rc = -EPERM;
		snprintf(rp.msg, sizeof(rp.msg), "refused: %s", why);
	} else {
		perform(p, &r, &rp);
	}
	crypto_wipe(&r.sa, sizeof(r.sa));
	n = reply_encode(r.type, r.seq, &rp, out, sizeof(out));
	if (n > 0)
		send(p->fd, out, (size_t)n, MSG_NOSIGNAL);
}

static int exit_status(pid_t child, int st)
{
	if (WIFEXITED(st)) {
		log_msg(WEXITSTATUS(st) ? CONFIG_LOG_ERROR : CONFIG_LOG_INFO,
			NULL, "privileged process: network process %d exited "
			"with status %d", (int)child, WEXITSTATUS(st));
		return WEXITSTATUS(st);
	}
	log_msg(CONFIG_LOG_ERROR, NULL, "privileged process: network process "
		"%d killed by signal %d", (int)child,
		WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return 1;
}

static void parent_exit(struct parent *p, int status)
{
	for (size_t i = 0; i < p->n_ctx; i++)
		xfrm_close(p->ctx[i].x);
	free(p->ctx);
	free(p->reqids);
	config_free(&p->cfg);
	close(p->fd);
	log_close();
	exit(status);
}

/* The network process is gone when the channel closes; its status is
 * ours. Signals to this process are passed on: TERM and INT stop it (it
 * removes its SAs through us), HUP reloads. */
static void parent_run(struct parent *p)
{
	uint8_t buf[PSEP_MSG_MAX + 1];

	for (;;) {
		struct pollfd pf[2] = { { p->fd, POLLIN, 0 },
					{ p->sfd, POLLIN, 0 } };
		int st;

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			kill(p->child, SIGKILL);
			break;
		}
		if (pf[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(p->sfd, &si, sizeof(si)) ==
			       (ssize_t)sizeof(si))
				if (si.ssi_signo != SIGCHLD)
					kill(p->child, (int)si.ssi_signo);
			if (waitpid(p->child, &st, WNOHANG) == p->child)
				parent_exit(p, exit_status(p->child, st));
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(p->fd, buf, sizeof(buf), MSG_TRUNC);

			if (n == 0 || (n < 0 && errno != EINTR &&
				       errno != EAGAIN))
				break;
			if (n > PSEP_MSG_MAX)
				serve_one(p, buf, 0); /* refused: too long */
			else if (n > 0)
				serve_one(p, buf, (size_t)n);
			crypto_wipe(buf, sizeof(buf));
		}
	}
	/* The channel closed: the network process is exiting. */
	for (;;) {
		int st;
		pid_t r = waitpid(p->child, &st, 0);

		if (r == p->child)
			parent_exit(p, exit_status(p->child, st));
		if (r < 0 && errno != EINTR)
			parent_exit(p, 1);
	}
}

static int config_copy(struct config *out, const struct config *c)
{
	*out = *c;
	out->tunnels = NULL;
	if (c->n_tunnels) {
		out->tunnels = calloc(c->n_tunnels, sizeof(c->tunnels[0]));
		if (!out->tunnels)
			return -1;
		memcpy(out->tunnels, c->tunnels,
		       c->n_tunnels * sizeof(c->tunnels[0]));
	}
	return 0;
}

int psep_start(struct psep **out, const struct config *c,
	       const char *config_path, char *err, size_t errlen)
{
	struct psep *ps;
	struct passwd *pw;
	struct parent p;
	sigset_t ss, old;
	int sv[2];
	pid_t parent = getpid(), child;

	*out = NULL;
	if (!c->global.user[0])
		return 0;
	errno = 0;
	pw = getpwnam(c->global.user);
	if (!pw) {
		errmsg_set(err, errlen, "user \"%s\" does not exist%s%s "
			   "(create it, e.g. useradd --system --no-create-home "
			   "--shell /usr/sbin/nologin %s; or set user = \"\" "
			   "to run without privilege separation)",
			   c->global.user, errno ? ": " : "",
			   errno ? strerror(errno) : "", c->global.user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		errmsg_set(err, errlen, "user \"%s\" is root: privilege "
			   "separation needs an unprivileged user",
			   c->global.user);
		return -1;
	}
	if (geteuid() != 0 && geteuid() != pw->pw_uid) {
		errmsg_set(err, errlen, "privilege separation: epochd runs as "
			   "uid %u, neither root nor user \"%s\" (or set "
			   "user = \"\")", (unsigned)geteuid(), c->global.user);
		return -1;
	}
	ps = calloc(1, sizeof(*ps));
	memset(&p, 0, sizeof(p));
	if (!ps || config_copy(&p.cfg, c) < 0) {
		free(ps);
		config_free(&p.cfg);
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	ps->uid = pw->pw_uid;
	ps->gid = pw->pw_gid;
	ps->parent = parent;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		errmsg_set(err, errlen, "socketpair: %s", strerror(errno));
		goto fail;
	}
	/* Blocked before the fork so no signal is lost in between. */
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigaddset(&ss, SIGCHLD);
	sigprocmask(SIG_BLOCK, &ss, &old);
	fflush(NULL);
	child = fork();
	if (child < 0) {
		errmsg_set(err, errlen, "fork: %s", strerror(errno));
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(sv[0]);
		close(sv[1]);
		goto fail;
	}
	if (child == 0) {
		/* The network process: daemon.c blocks the signals it
		 * reads with its signalfd itself. */
		sigprocmask(SIG_SETMASK, &old, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		close(sv[0]);
		config_free(&p.cfg);
		if (getppid() != parent)
			_exit(1);
		ps->fd = sv[1];
		*out = ps;
		return 0;
	}
	close(sv[1]);
	free(ps);
	p.fd = sv[0];
	p.child = child;
	snprintf(p.path, sizeof(p.path), "%s", config_path);
	p.sfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
	if (p.sfd < 0 ||
	    drop_to(pw->pw_uid, pw->pw_gid, 1ull << CAP_NET_ADMIN, err,
		    errlen) < 0) {
		if (p.sfd < 0)
			errmsg_set(err, errlen, "signalfd: %s",
				   strerror(errno));
		log_msg(CONFIG_LOG_ERROR, NULL, "privileged process: %s", err);
		kill(child, SIGKILL);
		close(p.fd);
		p.fd = -1;
		for (;;)
			if (waitpid(child, NULL, 0) == child || errno != EINTR)
				break;
		log_close();
		exit(1);
	}
	log_msg(CONFIG_LOG_INFO, NULL, "privileged process %d: user %s, "
		"CAP_NET_ADMIN only; network process %d", (int)getpid(),
		c->global.user, (int)child);
	parent_run(&p);
	exit(1); /* not reached */
fail:
	free(ps);
	config_free(&p.cfg);
	return -1;
}

/* state_dir is the user's: created 0700, or handed over when root's. A
 * symlink or a non-directory is refused. */
static int state_dir_own(const struct psep *ps, const char *dir, char *err,
			 size_t errlen)
{
	struct stat st;
	struct dirent *de;
	DIR *dp;
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		errmsg_set(err, errlen, "cannot create state_dir %s: %s", dir,
			   strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		errmsg_set(err, errlen, "state_dir %s is not a directory",
			   dir);
		return -1;
	}
	if (geteuid() != 0)
		return 0;
	if ((st.st_uid != ps->uid || st.st_gid != ps->gid) &&
	    chown(dir, ps->uid, ps->gid) < 0) {
		errmsg_set(err, errlen, "cannot hand state_dir %s to the "
			   "user: %s", dir, strerror(errno));
		return -1;
	}
	/* State files of a run without privilege separation are root's:
	 * handed over too (regular files only, no link followed), so the
	 * tunnels resume. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	dp = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dp) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(dp)))
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_uid != ps->uid &&
		    fchownat(fd, de->d_name, ps->uid, ps->gid,
			     AT_SYMLINK_NOFOLLOW) < 0)
			log_msg(CONFIG_LOG_WARNING, NULL, "cannot hand %s/%s "
				"to the user: %s", dir, de->d_name,
				strerror(errno));
	closedir(dp);
	return 0;
}

int psep_drop(struct psep *ps, const struct config *c, char *err,
	      size_t errlen)
{
	if (!ps)
		return 0;
	if (state_dir_own(ps, c->global.state_dir, err, errlen) < 0)
		return -1;
	if (drop_to(ps->uid, ps->gid, 0, err, errlen) < 0)
		return -1;
	if (access(c->global.state_dir, R_OK | W_OK | X_OK) < 0) {
		errmsg_set(err, errlen, "state_dir %s: %s for user %s (are its "
			   "parent directories searchable?)",
			   c->global.state_dir, strerror(errno),
			   c->global.user);
		return -1;
	}
	/* A uid change clears the parent death signal: set again. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != ps->parent) {
		errmsg_set(err, errlen, "the privileged process is gone");
		return -1;
	}
	log_msg(CONFIG_LOG_INFO, NULL, "network process %d: user %s, no "
		"capabilities", (int)getpid(), c->global.user);
	return 0;
}

void psep_free(struct psep *ps)
{
	if (!ps)
		return;
	close(ps->fd);
	free(ps);
}

/* ---- the network process's calls ---------------------------------------------- */

static int call(struct psep *ps, struct psep_req *r, struct reply *rp)
{
	uint8_t buf[PSEP_MSG_MAX + 1];
	struct pollfd pf = { ps->fd, POLLIN, 0 };
	ssize_t n;
	int len, rc;

	memset(rp, 0, sizeof(*rp));
	r->seq = ++ps->seq;
	len = psep_encode(r, buf, sizeof(buf));
	if (len < 0) {
		snprintf(rp->msg, sizeof(rp->msg), "request not encodable");
		return -EINVAL;
	}
	n = send(ps->fd, buf, (size_t)len, MSG_NOSIGNAL);
	crypto_wipe(buf, sizeof(buf));
	if (n != len)
		goto gone;
	do
		rc = poll(&pf, 1, CALL_TIMEOUT_MS);
	while (rc < 0 && errno == EINTR);
	if (rc <= 0)
		goto gone;
	n = recv(ps->fd, buf, sizeof(buf), MSG_TRUNC);
	if (n <= 0 || n > PSEP_MSG_MAX ||
	    reply_decode(buf, (size_t)n, r->type, r->seq, rp) < 0)
		goto gone;
	return rp->rc;
gone:
	memset(rp, 0, sizeof(*rp));
	snprintf(rp->msg, sizeof(rp->msg), "no answer from the privileged "
		 "process");
	return -EPIPE;
}

int psep_reload(struct psep *ps, char *err, size_t errlen)
{
	struct psep_req r;
	struct reply rp;

	if (!ps)
		return 0;
	memset(&r, 0, sizeof(r));
	r.type = PSEP_RELOAD;
	if (call(ps, &r, &rp) < 0) {
		errmsg_set(err, errlen, "%s", rp.msg);
		return -1;
	}
	return 0;
}

int psep_open(struct psep_xfrm **out, struct psep *ps, uint32_t reqid)
{
	struct psep_xfrm *h = calloc(1, sizeof(*h));
	int rc;

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->ps = ps;
	h->reqid = reqid;
	if (!ps) {
		rc = xfrm_open(&h->x, NULL, reqid, reqid);
		if (rc < 0) {
			free(h);
			return rc;
		}
	}
	*out = h;
	return 0;
}

void psep_close(struct psep_xfrm *h)
{
	if (!h)
		return;
	xfrm_close(h->x);
	free(h);
}

const char *psep_error(const struct psep_xfrm *h)
{
	return h->ps ? h->err : xfrm_error(h->x);
}

static int hcall(struct psep_xfrm *h, struct psep_req *r, struct reply *rp)
{
	int rc;

	r->reqid = h->reqid;
	rc = call(h->ps, r, rp);
	crypto_wipe(&r->sa, sizeof(r->sa));
	snprintf(h->err, sizeof(h->err), "%s", rp->msg);
	return rc;
}

int psep_alloc_spi(struct psep_xfrm *h, const struct xfrm_addr *src,
		   const struct xfrm_addr *dst, uint32_t reqid, uint32_t min,
		   uint32_t max, uint32_t *spi)
{
	struct psep_req r;
	struct reply rp;
	int rc;

	if (!h->ps)
		return xfrm_alloc_spi(h->x, src, dst, reqid, min, max, spi);
	if (reqid != h->reqid)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.type = PSEP_ALLOC_SPI;
	r.src = *src;
	r.dst = *dst;
	r.min = min;
	r.max = max;
	rc = hcall(h, &r, &rp);
	if (rc == 0)
		*spi = rp.spi;
	return rc;
}

int psep_sa_add(struct psep_xfrm *h, const struct xfrm_sa *sa)
{
	struct psep_req r;
	struct reply rp;

	if (!h->ps)
		return xfrm_sa_add(h->x, sa);
	memset(&r, 0, sizeof(r));
	r.type = PSEP_SA_ADD;
	r.sa = *sa;
	return hcall(h, &r, &rp);
}

static int by_id(struct psep_xfrm *h, enum psep_type type,
		 const struct xfrm_addr *dst, uint32_t spi,
		 struct xfrm_sa_stats *out)
{
	struct psep_req r;
	struct reply rp;
	int rc;

	memset(&r, 0, sizeof(r));
	r.type = type;
	r.dst = *dst;
	r.spi = spi;
	rc = hcall(h, &r, &rp);
	if (out)
		*out = rp.st;
	return rc;
}

int psep_sa_delete(struct psep_xfrm *h, const struct xfrm_addr *dst,
		   uint32_t spi)
{
	if (!h->ps)
		return xfrm_sa_delete(h->x, dst, spi);
	return by_id(h, PSEP_SA_DELETE, dst, spi, NULL);
}

int psep_sa_stats(struct psep_xfrm *h, const struct xfrm_addr *dst,
		  uint32_t spi, struct xfrm_sa_stats *out)
{
	if (!h->ps)
		return xfrm_sa_stats(h->x, dst, spi, out);
	return by_id(h, PSEP_SA_STATS, dst, spi, out);
}

static int pol(struct psep_xfrm *h, enum psep_type type,
	       const struct xfrm_policy *p)
{
	struct psep_req r;
	struct reply rp;

	memset(&r, 0, sizeof(r));
	r.type = type;
	r.pol = *p;
	return hcall(h, &r, &rp);
}

int psep_policy_add(struct psep_xfrm *h, const struct xfrm_policy *p)
{
	return h->ps ? pol(h, PSEP_POLICY_ADD, p) : xfrm_policy_add(h->x, p);
}

int psep_policy_update(struct psep_xfrm *h, const struct xfrm_policy *p)
{
	return h->ps ? pol(h, PSEP_POLICY_UPDATE, p) :
		       xfrm_policy_update(h->x, p);
}

int psep_policy_delete(struct psep_xfrm *h, const struct xfrm_policy *p)
{
	return h->ps ? pol(h, PSEP_POLICY_DELETE, p) :
		       xfrm_policy_delete(h->x, p);
}

int psep_sa_prune(struct psep_xfrm *h, const uint32_t *keep, size_t n_keep)
{
	struct psep_req r;
	struct reply rp;
	int rc;

	if (!h->ps)
		return xfrm_sa_prune(h->x, keep, n_keep);
	if (n_keep > PSEP_KEEP_MAX)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.type = PSEP_SA_PRUNE;
	memcpy(r.keep, keep, n_keep * sizeof(keep[0]));
	r.n_keep = n_keep;
	rc = hcall(h, &r, &rp);
	return rc < 0 ? rc : (int)rp.spi;
}

int psep_flush(struct psep_xfrm *h)
{
	struct psep_req r;
	struct reply rp;
	int rc;

	if (!h->ps)
		return xfrm_flush(h->x);
	memset(&r, 0, sizeof(r));
	r.type = PSEP_FLUSH;
	rc = hcall(h, &r, &rp);
	return rc < 0 ? rc : (int)rp.spi;
}
