/* xfrm/ without the kernel: address parsing, key lengths, the netlink
 * requests xfrm.c builds (checked field by field against the structs of
 * <linux/xfrm.h>), the parsers of the kernel's answers and events, and the
 * error messages. Nothing here sends a request to the kernel (the unit
 * tests may run as root in the host's namespace): the calls on a context
 * all fail validation before anything is sent.
 */
#include "xfrm/xfrm_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/test.h"

static _Alignas(8) char buf[XFRM_REQ_BUF];

static void addr(struct xfrm_addr *a, const char *s)
{
	if (xfrm_addr_parse(a, s))
		test_fail(__FILE__, __LINE__, "parse %s", s);
}

static void v4(xfrm_address_t *k, const char *s, int *ok)
{
	struct in_addr a;
	xfrm_address_t want;

	memset(&want, 0, sizeof(want));
	inet_pton(AF_INET, s, &a);
	memcpy(&want.a4, &a, 4);
	*ok &= CHECK_MEM(k, &want, sizeof(want));
}

static void v6(xfrm_address_t *k, const char *s, int *ok)
{
	xfrm_address_t want;

	memset(&want, 0, sizeof(want));
	inet_pton(AF_INET6, s, &want.in6);
	*ok &= CHECK_MEM(k, &want, sizeof(want));
}

/* The attribute of type t in nlh after a payload of hdr bytes; NULL if
 * absent, and a failure if present twice. */
static const struct nlattr *attr(const struct nlmsghdr *nlh, size_t hdr,
				 uint16_t t)
{
	const struct nlattr *a, *found = NULL;

	mnl_attr_for_each(a, nlh, hdr) {
		if (mnl_attr_get_type(a) != t)
			continue;
		CHECK(found == NULL);
		found = a;
	}
	return found;
}

static int n_attrs(const struct nlmsghdr *nlh, size_t hdr)
{
	const struct nlattr *a;
	int n = 0;

	mnl_attr_for_each(a, nlh, hdr)
		n++;
	return n;
}

static void sa_init(struct xfrm_sa *sa, enum xfrm_aead a)
{
	size_t i;

	memset(sa, 0, sizeof(*sa));
	addr(&sa->src, "192.0.2.1");
	addr(&sa->dst, "192.0.2.2");
	sa->spi = 0x00001001;
	sa->reqid = 0x5e2e0007;
	sa->aead = a;
	sa->key_len = xfrm_aead_key_len(a);
	for (i = 0; i < sa->key_len; i++)
		sa->key[i] = (uint8_t)(i + 1);
	sa->replay_window = 32;
}

/* ---- addresses, algorithms ----------------------------------------------- */

static void test_addr_parse(void)
{
	struct xfrm_addr a;
	static const uint8_t v6want[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
					    0, 0, 0, 0, 0, 0, 0, 1 };
	static const char *const bad[] = {
		"", "192.0.2", "192.0.2.256", "192.0.2.1/24", " 192.0.2.1",
		"2001:db8::g", "2001:db8:::1", "localhost", "0x01020304",
	};
	char s[64];
	size_t i;

	CHECK_RC(xfrm_addr_parse(&a, "192.0.2.1"), 0);
	CHECK(a.family == AF_INET);
	CHECK_EQ_U64(ntohl(a.a.v4.s_addr), 0xc0000201);
	CHECK(strcmp(xfrm_addr_str(&a, s, sizeof(s)), "192.0.2.1") == 0);
	CHECK_RC(xfrm_addr_parse(&a, "2001:db8::1"), 0);
	CHECK(a.family == AF_INET6);
	CHECK_MEM(&a.a.v6, v6want, 16);
	CHECK(strcmp(xfrm_addr_str(&a, s, sizeof(s)), "2001:db8::1") == 0);
	CHECK_RC(xfrm_addr_parse(&a, "::ffff:192.0.2.1"), 0);
	CHECK(a.family == AF_INET6);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&a, 0x5a, sizeof(a));
		if (!CHECK_RC(xfrm_addr_parse(&a, bad[i]), -EINVAL))
			printf("  accepted \"%s\"\n", bad[i]);
		CHECK(a.family == 0);
	}
	CHECK_RC(xfrm_addr_parse(&a, NULL), -EINVAL);
	a.family = 0;
	CHECK(strcmp(xfrm_addr_str(&a, s, sizeof(s)), "(no address)") == 0);
}

static void test_algorithms(void)
{
	CHECK_EQ_U64(xfrm_aead_key_len(XFRM_AEAD_AES128_GCM), 20);
	CHECK_EQ_U64(xfrm_aead_key_len(XFRM_AEAD_AES256_GCM), 36);
	CHECK_EQ_U64(xfrm_aead_key_len(XFRM_AEAD_CHACHA20_POLY1305), 36);
	CHECK_EQ_U64(xfrm_aead_key_len((enum xfrm_aead)77), 0);
	CHECK(strcmp(xfrm_aead_name(XFRM_AEAD_AES128_GCM),
		     "rfc4106(gcm(aes))") == 0);
	CHECK(strcmp(xfrm_aead_name(XFRM_AEAD_AES256_GCM),
		     "rfc4106(gcm(aes))") == 0);
	CHECK(strcmp(xfrm_aead_name(XFRM_AEAD_CHACHA20_POLY1305),
		     "rfc7539esp(chacha20,poly1305)") == 0);
	CHECK(xfrm_aead_name((enum xfrm_aead)77) == NULL);
	CHECK_EQ_U64(xfrm_aead_icv_bits(XFRM_AEAD_AES128_GCM), 128);
	CHECK_EQ_U64(xfrm_aead_icv_bits(XFRM_AEAD_CHACHA20_POLY1305), 128);
	CHECK_EQ_U64(xfrm_aead_icv_bits((enum xfrm_aead)77), 0);
}

/* ---- SA requests --------------------------------------------------------- */

/* NEWSA, AES-256-GCM, no ESN, window 32, mark, if_id, lifetimes. */
static void test_build_newsa(void)
{
	struct xfrm_sa sa;
	struct nlmsghdr *nlh;
	struct xfrm_usersa_info *p;
	const struct nlattr *a;
	const struct xfrm_algo_aead *alg;
	const struct xfrm_mark *mk;
	int ok = 1;

	sa_init(&sa, XFRM_AEAD_AES256_GCM);
	sa.mark = 0x10;
	sa.mark_mask = 0xf0;
	sa.if_id = 42;
	sa.lft.soft_bytes = 1000;
	sa.lft.hard_packets = 77;
	sa.lft.soft_seconds = 50;
	sa.lft.hard_seconds = 60;
	nlh = xfrm_build_sa(buf, sizeof(buf), XFRM_MSG_NEWSA, &sa);
	if (!CHECK(nlh != NULL))
		return;
	CHECK((void *)nlh == (void *)buf);
	CHECK_EQ_U64(nlh->nlmsg_type, XFRM_MSG_NEWSA);
	CHECK_EQ_U64(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	CHECK_EQ_U64(nlh->nlmsg_seq, 0);
	/* header, payload, AEAD (68 + 36 key), mark, if_id */
	CHECK_EQ_U64(nlh->nlmsg_len,
		     NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*p)) +
		     NLA_ALIGN(NLA_HDRLEN + sizeof(*alg) + 36) +
		     NLA_ALIGN(NLA_HDRLEN + sizeof(*mk)) +
		     NLA_ALIGN(NLA_HDRLEN + 4));
	p = mnl_nlmsg_get_payload(nlh);
	/* selector: all zero = any inner family (AF_UNSPEC, kept by the
	 * kernel only with XFRM_STATE_AF_UNSPEC) */
	CHECK_EQ_U64(p->sel.family, AF_UNSPEC);
	CHECK(p->flags & XFRM_STATE_AF_UNSPEC);
	CHECK_EQ_U64(p->sel.prefixlen_s, 0);
	CHECK_EQ_U64(p->sel.prefixlen_d, 0);
	v4(&p->sel.saddr, "0.0.0.0", &ok);
	v4(&p->sel.daddr, "0.0.0.0", &ok);
	CHECK_EQ_U64(p->sel.proto, 0);
	CHECK_EQ_U64(p->sel.ifindex, 0);
	v4(&p->id.daddr, "192.0.2.2", &ok);
	CHECK_EQ_U64(p->id.spi, htonl(0x1001));
	CHECK_EQ_U64(p->id.proto, IPPROTO_ESP);
	v4(&p->saddr, "192.0.2.1", &ok);
	CHECK_EQ_U64(p->lft.soft_byte_limit, 1000);
	CHECK_EQ_U64(p->lft.hard_byte_limit, XFRM_INF);
	CHECK_EQ_U64(p->lft.soft_packet_limit, XFRM_INF);
	CHECK_EQ_U64(p->lft.hard_packet_limit, 77);
	CHECK_EQ_U64(p->lft.soft_add_expires_seconds, 50);
	CHECK_EQ_U64(p->lft.hard_add_expires_seconds, 60);
	CHECK_EQ_U64(p->lft.soft_use_expires_seconds, 0);
	CHECK_EQ_U64(p->lft.hard_use_expires_seconds, 0);
	CHECK_EQ_U64(p->curlft.bytes, 0);
	CHECK_EQ_U64(p->stats.replay, 0);
	CHECK_EQ_U64(p->seq, 0);
	CHECK_EQ_U64(p->reqid, 0x5e2e0007);
	CHECK_EQ_U64(p->family, AF_INET);
	CHECK_EQ_U64(p->mode, XFRM_MODE_TUNNEL);
	CHECK_EQ_U64(p->replay_window, 32);
	CHECK_EQ_U64(p->flags, XFRM_STATE_AF_UNSPEC);

	CHECK_EQ_U64(n_attrs(nlh, sizeof(*p)), 3);
	a = attr(nlh, sizeof(*p), XFRMA_ALG_AEAD);
	if (CHECK(a != NULL)) {
		uint8_t key[36];
		size_t i;

		CHECK_EQ_U64(mnl_attr_get_payload_len(a), sizeof(*alg) + 36);
		alg = mnl_attr_get_payload(a);
		CHECK(strcmp(alg->alg_name, "rfc4106(gcm(aes))") == 0);
		CHECK_EQ_U64(alg->alg_key_len, 288);
		CHECK_EQ_U64(alg->alg_icv_len, 128);
		for (i = 0; i < 36; i++)
			key[i] = (uint8_t)(i + 1);
		CHECK_MEM(alg->alg_key, key, 36);
	}
	CHECK(attr(nlh, sizeof(*p), XFRMA_REPLAY_ESN_VAL) == NULL);
	a = attr(nlh, sizeof(*p), XFRMA_MARK);
	if (CHECK(a != NULL)) {
		CHECK_EQ_U64(mnl_attr_get_payload_len(a), sizeof(*mk));
		mk = mnl_attr_get_payload(a);
		CHECK_EQ_U64(mk->v, 0x10);
		CHECK_EQ_U64(mk->m, 0xf0);
	}
	a = attr(nlh, sizeof(*p), XFRMA_IF_ID);
	if (CHECK(a != NULL))
		CHECK_EQ_U64(mnl_attr_get_u32(a), 42);
	CHECK(ok);
}

/* ESN: the flag, the u8 window 0, the window in XFRMA_REPLAY_ESN_VAL. */
static void test_build_sa_esn(void)
{
	struct xfrm_sa sa;
	struct nlmsghdr *nlh;
	struct xfrm_usersa_info *p;
	const struct nlattr *a;
	const struct xfrm_replay_state_esn *r;
	const struct xfrm_algo_aead *alg;
	static const uint32_t zero[4];

	sa_init(&sa, XFRM_AEAD_CHACHA20_POLY1305);
	sa.esn = true;
	sa.replay_window = 128;
	nlh = xfrm_build_sa(buf, sizeof(buf), XFRM_MSG_UPDSA, &sa);
	if (!CHECK(nlh != NULL))
		return;
	CHECK_EQ_U64(nlh->nlmsg_type, XFRM_MSG_UPDSA);
	p = mnl_nlmsg_get_payload(nlh);
	CHECK_EQ_U64(p->flags, XFRM_STATE_ESN | XFRM_STATE_AF_UNSPEC);
	CHECK_EQ_U64(p->replay_window, 0);
	CHECK_EQ_U64(n_attrs(nlh, sizeof(*p)), 2);
	a = attr(nlh, sizeof(*p), XFRMA_ALG_AEAD);
	if (CHECK(a != NULL)) {
		alg = mnl_attr_get_payload(a);
		CHECK(strcmp(alg->alg_name,
			     "rfc7539esp(chacha20,poly1305)") == 0);
		CHECK_EQ_U64(alg->alg_key_len, 288);
		CHECK_EQ_U64(alg->alg_icv_len, 128);
	}
	a = attr(nlh, sizeof(*p), XFRMA_REPLAY_ESN_VAL);
	if (CHECK(a != NULL)) {
		CHECK_EQ_U64(mnl_attr_get_payload_len(a), sizeof(*r) + 16);
		r = mnl_attr_get_payload(a);
		CHECK_EQ_U64(r->bmp_len, 4);
		CHECK_EQ_U64(r->replay_window, 128);
		CHECK_EQ_U64(r->oseq, 0);
		CHECK_EQ_U64(r->seq, 0);
		CHECK_EQ_U64(r->oseq_hi, 0);
		CHECK_EQ_U64(r->seq_hi, 0);
		CHECK_MEM(r->bmp, zero, 16);
	}
	CHECK(attr(nlh, sizeof(*p), XFRMA_MARK) == NULL);
	CHECK(attr(nlh, sizeof(*p), XFRMA_IF_ID) == NULL);

	/* Without ESN a window above the legacy 32 bits also goes in the
	 * ESN attribute (the kernel then keeps a plain bitmap); 33 rounds up
	 * to two words. */
	sa.esn = false;
	sa.replay_window = 33;
	nlh = xfrm_build_sa(buf, sizeof(buf), XFRM_MSG_NEWSA, &sa);
	if (!CHECK(nlh != NULL))
		return;
	p = mnl_nlmsg_get_payload(nlh);
	CHECK_EQ_U64(p->flags, XFRM_STATE_AF_UNSPEC);
	CHECK_EQ_U64(p->replay_window, 0);
	a = attr(nlh, sizeof(*p), XFRMA_REPLAY_ESN_VAL);
	if (CHECK(a != NULL)) {
		r = mnl_attr_get_payload(a);
		CHECK_EQ_U64(r->bmp_len, 2);
		CHECK_EQ_U64(r->replay_window, 33);
		CHECK_EQ_U64(mnl_attr_get_payload_len(a), sizeof(*r) + 8);
	}
	/* The kernel's largest window: 4096 bits. */
	sa.replay_window = 4096;
	nlh = xfrm_build_sa(buf, sizeof(buf), XFRM_MSG_NEWSA, &sa);
	if (CHECK(nlh != NULL)) {
		a = attr(nlh, sizeof(*p), XFRMA_REPLAY_ESN_VAL);
		if (CHECK(a != NULL)) {
			r = mnl_attr_get_payload(a);
			CHECK_EQ_U64(r->bmp_len, 128);
			CHECK_EQ_U64(r->bmp_len, XFRMA_REPLAY_ESN_MAX /
						 sizeof(r->bmp[0]) / 8);
		}
	}
	sa.replay_window = 4097;
	CHECK(xfrm_build_sa(buf, sizeof(buf), XFRM_MSG_NEWSA, &sa) == NULL);
}

/* IPv6 selector on an IPv4 SA: the selector's family and prefixes, and
 * XFRM_STATE_AF_UNSPEC. An IPv6 SA with an IPv6 selector has no flag. */
static void test_build_sa_selector(void)
{
	struct xfrm_sa sa;
	struct nlmsghdr *nlh;
	struct xfrm_usersa_info *p;
	int ok = 1;

	sa_init(&sa, XFRM_AEAD_AES128_GCM);
	addr(&sa.sel.src, "2001:db8:1::");
	addr(&sa.sel.dst, "2001:db8:2::");
	sa.sel.src_plen = 48;
	sa.sel.dst_plen = 64;
	nlh = xfrm_build_sa(buf, sizeof(buf), XFRM_MSG_NEWSA, &sa);
	if (!CHECK(nlh != NULL))
		return;
	p = mnl_nlmsg_get_payload(nlh);
	CHECK_EQ_U64(p->family, AF_INET);
	CHECK_EQ_U64(p->sel.family, AF_INET6);
	CHECK_EQ_U64(p->sel.prefixlen_s, 48);
	CHECK_EQ_U64(p->sel.prefixlen_d, 64);
	v6(&p->sel.saddr, "2001:db8:1::", &ok);
	v6(&p->sel.daddr, "2001:db8:2::", &ok);
	CHECK_EQ_U64(p->flags, XFRM_STATE_AF_UNSPEC);
	{
		const struct nlattr *a = attr(nlh, sizeof(*p),
					      XFRMA_ALG_AEAD);
		const struct xfrm_algo_aead *alg;

		if (CHECK(a != NULL)) {
			alg = mnl_attr_get_payload(a);
			CHECK_EQ_U64(alg->alg_key_len, 160);
			CHECK_EQ_U64(mnl_attr_get_payload_len(a),
				     sizeof(*alg) + 20);
		}
	}

	addr(&sa.src, "2001:db8::1");
	addr(&sa.dst, "2001:db8::2");
	nlh = xfrm_build_sa(buf, sizeof(buf), XFRM_MSG_NEWSA, &sa);
	if (!CHECK(nlh != NULL))
		return;
	p = mnl_nlmsg_get_payload(nlh);
	CHECK_EQ_U64(p->family, AF_INET6);
	CHECK_EQ_U64(p->sel.family, AF_INET6);
	CHECK_EQ_U64(p->flags, 0);
	v6(&p->id.daddr, "2001:db8::2", &ok);
	v6(&p->saddr, "2001:db8::1", &ok);
	CHECK(ok);
}

static void test_build_sa_invalid(void)
{
	struct xfrm_sa sa, b;

	sa_init(&sa, XFRM_AEAD_AES128_GCM);
	CHECK(xfrm_build_sa(buf, sizeof(buf), XFRM_MSG_NEWSA, &sa) != NULL);
	/* A buffer smaller than XFRM_REQ_BUF, or misaligned, is refused. */
	CHECK(xfrm_build_sa(buf, 100, XFRM_MSG_NEWSA, &sa) == NULL);
	{
		static _Alignas(8) char big[XFRM_REQ_BUF + 8];

		CHECK(xfrm_build_sa(big + 4, XFRM_REQ_BUF, XFRM_MSG_NEWSA,
				    &sa) == NULL);
	}
	b = sa;
	b.aead = (enum xfrm_aead)77;
	errno = 0;
	CHECK(xfrm_build_sa(buf, sizeof(buf), XFRM_MSG_NEWSA, &b) == NULL);
	CHECK(errno == EINVAL);
	b = sa;
	b.key_len = 36; /* AES-128-GCM needs 20 */
	CHECK(xfrm_build_sa(buf, sizeof(buf), XFRM_MSG_NEWSA, &b) == NULL);
	b = sa;
	addr(&b.dst, "2001:db8::2");
	CHECK(xfrm_build_sa(buf, sizeof(buf), XFRM_MSG_NEWSA, &b) == NULL);
	b = sa;
	b.spi = 0;
	CHECK(xfrm_build_sa(buf, sizeof(buf), XFRM_MSG_NEWSA, &b) == NULL);
	b = sa;
	memset(&b.src, 0, sizeof(b.src));
	CHECK(xfrm_build_sa(buf, sizeof(buf), XFRM_MSG_NEWSA, &b) == NULL);
	b = sa;
	addr(&b.sel.src, "198.51.100.0");
	addr(&b.sel.dst, "203.0.113.0");
	b.sel.src_plen = 33;
	CHECK(xfrm_build_sa(buf, sizeof(buf), XFRM_MSG_NEWSA, &b) == NULL);
	b.sel.src_plen = 24;
	CHECK(xfrm_build_sa(buf, sizeof(buf), XFRM_MSG_NEWSA, &b) != NULL);
	addr(&b.sel.dst, "2001:db8::");
	CHECK(xfrm_build_sa(buf, sizeof(buf), XFRM_MSG_NEWSA, &b) == NULL);
}

static void test_build_sa_id(void)
{
	struct xfrm_addr d;
	struct nlmsghdr *nlh;
	struct xfrm_usersa_id *id;
	const struct nlattr *a;
	const struct xfrm_mark *mk;
	int ok = 1;

	addr(&d, "2001:db8::2");
	nlh = xfrm_build_sa_id(buf, sizeof(buf), XFRM_MSG_DELSA, &d,
			       0xdeadbeef, 0, 0);
	if (!CHECK(nlh != NULL))
		return;
	CHECK_EQ_U64(nlh->nlmsg_type, XFRM_MSG_DELSA);
	CHECK_EQ_U64(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	CHECK_EQ_U64(nlh->nlmsg_len, NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*id)));
	id = mnl_nlmsg_get_payload(nlh);
	v6(&id->daddr, "2001:db8::2", &ok);
	CHECK_EQ_U64(id->spi, htonl(0xdeadbeef));
	CHECK_EQ_U64(id->family, AF_INET6);
	CHECK_EQ_U64(id->proto, IPPROTO_ESP);
	CHECK_EQ_U64(n_attrs(nlh, sizeof(*id)), 0);

	addr(&d, "192.0.2.2");
	nlh = xfrm_build_sa_id(buf, sizeof(buf), XFRM_MSG_GETSA, &d, 7, 3, 0xf);
	if (!CHECK(nlh != NULL))
		return;
	CHECK_EQ_U64(nlh->nlmsg_type, XFRM_MSG_GETSA);
	id = mnl_nlmsg_get_payload(nlh);
	v4(&id->daddr, "192.0.2.2", &ok);
	CHECK_EQ_U64(id->family, AF_INET);
	a = attr(nlh, sizeof(*id), XFRMA_MARK);
	if (CHECK(a != NULL)) {
		mk = mnl_attr_get_payload(a);
		CHECK_EQ_U64(mk->v, 3);
		CHECK_EQ_U64(mk->m, 0xf);
	}
	d.family = 0;
	CHECK(xfrm_build_sa_id(buf, sizeof(buf), XFRM_MSG_GETSA, &d, 7, 0,
			       0) == NULL);
	CHECK(ok);
}

static void test_build_allocspi(void)
{
	struct xfrm_addr s, d;
	struct nlmsghdr *nlh;
	struct xfrm_userspi_info *u;
	int ok = 1;

	addr(&s, "192.0.2.1");
	addr(&d, "192.0.2.2");
	nlh = xfrm_build_allocspi(buf, sizeof(buf), &s, &d, 0x5e2e0001,
				  0x1000, 0x1fff);
	if (!CHECK(nlh != NULL))
		return;
	CHECK_EQ_U64(nlh->nlmsg_type, XFRM_MSG_ALLOCSPI);
	CHECK_EQ_U64(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	CHECK_EQ_U64(nlh->nlmsg_len, NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*u)));
	u = mnl_nlmsg_get_payload(nlh);
	CHECK_EQ_U64(u->min, 0x1000);
	CHECK_EQ_U64(u->max, 0x1fff);
	v4(&u->info.id.daddr, "192.0.2.2", &ok);
	v4(&u->info.saddr, "192.0.2.1", &ok);
	CHECK_EQ_U64(u->info.id.spi, 0);
	CHECK_EQ_U64(u->info.id.proto, IPPROTO_ESP);
	CHECK_EQ_U64(u->info.reqid, 0x5e2e0001);
	CHECK_EQ_U64(u->info.family, AF_INET);
	CHECK_EQ_U64(u->info.mode, XFRM_MODE_TUNNEL);
	CHECK_EQ_U64(u->info.lft.hard_byte_limit, XFRM_INF);
	CHECK_EQ_U64(u->info.lft.soft_packet_limit, XFRM_INF);
	CHECK(ok);
	CHECK(xfrm_build_allocspi(buf, sizeof(buf), &s, &d, 1, 0x2000,
				  0x1fff) == NULL);
	CHECK(xfrm_build_allocspi(buf, sizeof(buf), &s, &d, 1, 0, 5) == NULL);
	addr(&d, "2001:db8::2");
	CHECK(xfrm_build_allocspi(buf, sizeof(buf), &s, &d, 1, 1, 5) == NULL);
}

/* ---- policy requests ----------------------------------------------------- */

static void pol_init(struct xfrm_policy *p, enum xfrm_dir dir, uint32_t spi)
{
	memset(p, 0, sizeof(*p));
	addr(&p->sel.src, "198.51.100.0");
	addr(&p->sel.dst, "203.0.113.0");
	p->sel.src_plen = 24;
	p->sel.dst_plen = 24;
	p->dir = dir;
	addr(&p->tmpl_src, "192.0.2.1");
	addr(&p->tmpl_dst, "192.0.2.2");
	p->reqid = 0x5e2e0009;
	p->spi = spi;
	p->priority = 1000;
}

static void test_build_policy(void)
{
	struct xfrm_policy pol;
	struct nlmsghdr *nlh;
	struct xfrm_userpolicy_info *u;
	const struct xfrm_user_tmpl *t;
	const struct nlattr *a;
	int ok = 1;

	pol_init(&pol, XFRM_DIR_OUT, 0x1002);
	nlh = xfrm_build_policy(buf, sizeof(buf), XFRM_MSG_NEWPOLICY, &pol);
	if (!CHECK(nlh != NULL))
		return;
	CHECK_EQ_U64(nlh->nlmsg_type, XFRM_MSG_NEWPOLICY);
	CHECK_EQ_U64(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	CHECK_EQ_U64(nlh->nlmsg_len,
		     NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*u)) +
		     NLA_ALIGN(NLA_HDRLEN + sizeof(*t)));
	u = mnl_nlmsg_get_payload(nlh);
	CHECK_EQ_U64(u->sel.family, AF_INET);
	v4(&u->sel.saddr, "198.51.100.0", &ok);
	v4(&u->sel.daddr, "203.0.113.0", &ok);
	CHECK_EQ_U64(u->sel.prefixlen_s, 24);
	CHECK_EQ_U64(u->sel.prefixlen_d, 24);
	CHECK_EQ_U64(u->sel.proto, 0);
	CHECK_EQ_U64(u->sel.sport_mask, 0);
	CHECK_EQ_U64(u->lft.soft_byte_limit, XFRM_INF);
	CHECK_EQ_U64(u->lft.hard_byte_limit, XFRM_INF);
	CHECK_EQ_U64(u->lft.soft_packet_limit, XFRM_INF);
	CHECK_EQ_U64(u->lft.hard_packet_limit, XFRM_INF);
	CHECK_EQ_U64(u->lft.hard_add_expires_seconds, 0);
	CHECK_EQ_U64(u->priority, 1000);
	CHECK_EQ_U64(u->index, 0);
	CHECK_EQ_U64(u->dir, XFRM_POLICY_OUT);
	CHECK_EQ_U64(u->action, XFRM_POLICY_ALLOW);
	CHECK_EQ_U64(u->flags, 0);
	CHECK_EQ_U64(u->share, XFRM_SHARE_ANY);
	CHECK_EQ_U64(n_attrs(nlh, sizeof(*u)), 1);
	a = attr(nlh, sizeof(*u), XFRMA_TMPL);
	if (CHECK(a != NULL)) {
		CHECK_EQ_U64(mnl_attr_get_payload_len(a), sizeof(*t));
		t = mnl_attr_get_payload(a);
		v4((xfrm_address_t *)&t->id.daddr, "192.0.2.2", &ok);
		v4((xfrm_address_t *)&t->saddr, "192.0.2.1", &ok);
		CHECK_EQ_U64(t->id.spi, htonl(0x1002));
		CHECK_EQ_U64(t->id.proto, IPPROTO_ESP);
		CHECK_EQ_U64(t->family, AF_INET);
		CHECK_EQ_U64(t->reqid, 0x5e2e0009);
		CHECK_EQ_U64(t->mode, XFRM_MODE_TUNNEL);
		CHECK_EQ_U64(t->share, XFRM_SHARE_ANY);
		CHECK_EQ_U64(t->optional, 0);
		CHECK_EQ_U64(t->aalgos, 0xffffffffu);
		CHECK_EQ_U64(t->ealgos, 0xffffffffu);
		CHECK_EQ_U64(t->calgos, 0xffffffffu);
	}

	/* fwd: no SPI in the template; mark and if_id; UPDPOLICY. */
	pol_init(&pol, XFRM_DIR_FWD, 0);
	pol.mark = 5;
	pol.mark_mask = 0xff;
	pol.if_id = 9;
	nlh = xfrm_build_policy(buf, sizeof(buf), XFRM_MSG_UPDPOLICY, &pol);
	if (!CHECK(nlh != NULL))
		return;
	CHECK_EQ_U64(nlh->nlmsg_type, XFRM_MSG_UPDPOLICY);
	u = mnl_nlmsg_get_payload(nlh);
	CHECK_EQ_U64(u->dir, XFRM_POLICY_FWD);
	CHECK_EQ_U64(n_attrs(nlh, sizeof(*u)), 3);
	a = attr(nlh, sizeof(*u), XFRMA_TMPL);
	if (CHECK(a != NULL)) {
		t = mnl_attr_get_payload(a);
		CHECK_EQ_U64(t->id.spi, 0);
	}
	a = attr(nlh, sizeof(*u), XFRMA_MARK);
	if (CHECK(a != NULL)) {
		const struct xfrm_mark *mk = mnl_attr_get_payload(a);

		CHECK_EQ_U64(mk->v, 5);
		CHECK_EQ_U64(mk->m, 0xff);
	}
	a = attr(nlh, sizeof(*u), XFRMA_IF_ID);
	if (CHECK(a != NULL))
		CHECK_EQ_U64(mnl_attr_get_u32(a), 9);

	/* IPv6 selector over an IPv4 tunnel; "any" selector. */
	pol_init(&pol, XFRM_DIR_IN, 0);
	addr(&pol.sel.src, "2001:db8:2::");
	addr(&pol.sel.dst, "2001:db8:1::");
	pol.sel.src_plen = 64;
	pol.sel.dst_plen = 64;
	nlh = xfrm_build_policy(buf, sizeof(buf), XFRM_MSG_NEWPOLICY, &pol);
	if (CHECK(nlh != NULL)) {
		u = mnl_nlmsg_get_payload(nlh);
		CHECK_EQ_U64(u->dir, XFRM_POLICY_IN);
		CHECK_EQ_U64(u->sel.family, AF_INET6);
		v6(&u->sel.saddr, "2001:db8:2::", &ok);
		a = attr(nlh, sizeof(*u), XFRMA_TMPL);
		if (CHECK(a != NULL)) {
			t = mnl_attr_get_payload(a);
			CHECK_EQ_U64(t->family, AF_INET);
		}
	}
	memset(&pol.sel, 0, sizeof(pol.sel));
	nlh = xfrm_build_policy(buf, sizeof(buf), XFRM_MSG_NEWPOLICY, &pol);
	if (CHECK(nlh != NULL)) {
		u = mnl_nlmsg_get_payload(nlh);
		CHECK_EQ_U64(u->sel.family, AF_INET);
		CHECK_EQ_U64(u->sel.prefixlen_s, 0);
	}

	/* An SPI in an in/fwd template, a bad direction: refused. */
	pol_init(&pol, XFRM_DIR_IN, 0x1002);
	CHECK(xfrm_build_policy(buf, sizeof(buf), XFRM_MSG_NEWPOLICY, &pol) ==
	      NULL);
	pol_init(&pol, XFRM_DIR_FWD, 0x1002);
	CHECK(xfrm_build_policy(buf, sizeof(buf), XFRM_MSG_NEWPOLICY, &pol) ==
	      NULL);
	pol_init(&pol, (enum xfrm_dir)3, 0);
	CHECK(xfrm_build_policy(buf, sizeof(buf), XFRM_MSG_NEWPOLICY, &pol) ==
	      NULL);
	pol_init(&pol, XFRM_DIR_OUT, 0);
	addr(&pol.tmpl_dst, "2001:db8::2");
	CHECK(xfrm_build_policy(buf, sizeof(buf), XFRM_MSG_NEWPOLICY, &pol) ==
	      NULL);
	CHECK(ok);
}

static void test_build_policy_del(void)
{
	struct xfrm_policy pol;
	struct nlmsghdr *nlh;
	struct xfrm_userpolicy_id *u;
	int ok = 1;

	pol_init(&pol, XFRM_DIR_OUT, 0x1002);
	nlh = xfrm_build_policy_del(buf, sizeof(buf), &pol);
	if (!CHECK(nlh != NULL))
		return;
	CHECK_EQ_U64(nlh->nlmsg_type, XFRM_MSG_DELPOLICY);
	CHECK_EQ_U64(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	CHECK_EQ_U64(nlh->nlmsg_len, NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*u)));
	u = mnl_nlmsg_get_payload(nlh);
	CHECK_EQ_U64(u->sel.family, AF_INET);
	v4(&u->sel.saddr, "198.51.100.0", &ok);
	v4(&u->sel.daddr, "203.0.113.0", &ok);
	CHECK_EQ_U64(u->sel.prefixlen_s, 24);
	CHECK_EQ_U64(u->sel.prefixlen_d, 24);
	CHECK_EQ_U64(u->index, 0);
	CHECK_EQ_U64(u->dir, XFRM_POLICY_OUT);
	CHECK(ok);

	pol.mark = 1;
	pol.mark_mask = 1;
	pol.if_id = 2;
	nlh = xfrm_build_policy_del(buf, sizeof(buf), &pol);
	if (CHECK(nlh != NULL))
		CHECK_EQ_U64(n_attrs(nlh, sizeof(*u)), 2);
}

static void test_build_dump(void)
{
	struct nlmsghdr *nlh = xfrm_build_dump(buf, sizeof(buf),
					       XFRM_MSG_GETPOLICY);

	if (!CHECK(nlh != NULL))
		return;
	CHECK_EQ_U64(nlh->nlmsg_type, XFRM_MSG_GETPOLICY);
	CHECK_EQ_U64(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	CHECK_EQ_U64(nlh->nlmsg_len, NLMSG_HDRLEN);
}

/* ---- parsers ------------------------------------------------------------- */

static void test_parse_stats(void)
{
	struct nlmsghdr *nlh;
	struct xfrm_usersa_info *p;
	struct xfrm_sa_stats st;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = XFRM_MSG_NEWSA;
	p = mnl_nlmsg_put_extra_header(nlh, sizeof(*p));
	p->curlft.bytes = 123456789012ull;
	p->curlft.packets = 4242;
	p->curlft.add_time = 1700000000;
	p->curlft.use_time = 1700000005;
	p->stats.replay = 7;
	p->stats.integrity_failed = 3;
	p->stats.replay_window = 99;
	CHECK_RC(xfrm_parse_sa_stats(nlh, &st), 0);
	CHECK_EQ_U64(st.bytes, 123456789012ull);
	CHECK_EQ_U64(st.packets, 4242);
	CHECK_EQ_U64(st.add_time, 1700000000);
	CHECK_EQ_U64(st.use_time, 1700000005);
	CHECK_EQ_U64(st.replay_errors, 7);
	CHECK_EQ_U64(st.integrity_failed, 3);
	nlh->nlmsg_len = NLMSG_HDRLEN + 8;
	CHECK_RC(xfrm_parse_sa_stats(nlh, &st), -EINVAL);
	nlh->nlmsg_len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*p));
	nlh->nlmsg_type = XFRM_MSG_NEWPOLICY;
	CHECK_RC(xfrm_parse_sa_stats(nlh, &st), -EINVAL);
}

static void test_parse_expire(void)
{
	struct nlmsghdr *nlh;
	struct xfrm_user_expire *e;
	struct xfrm_expire ev;
	struct xfrm_addr d;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = XFRM_MSG_EXPIRE;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	addr(&d, "2001:db8::2");
	memcpy(&e->state.id.daddr.in6, &d.a.v6, 16);
	e->state.id.spi = htonl(0x5e000101);
	e->state.id.proto = IPPROTO_ESP;
	e->state.family = AF_INET6;
	e->state.reqid = 0x5e2e0010;
	e->hard = 0;
	memset(&ev, 0x5a, sizeof(ev));
	CHECK_RC(xfrm_parse_expire(nlh, 0x5e2e0000, 0x5e2e00ff, &ev), 1);
	CHECK(ev.dst.family == AF_INET6);
	CHECK_MEM(&ev.dst.a.v6, &d.a.v6, 16);
	CHECK_EQ_U64(ev.spi, 0x5e000101);
	CHECK_EQ_U64(ev.reqid, 0x5e2e0010);
	CHECK(!ev.hard);
	e->hard = 1;
	CHECK_RC(xfrm_parse_expire(nlh, 0x5e2e0010, 0x5e2e0010, &ev), 1);
	CHECK(ev.hard);
	/* Another reqid, another message, a short one. */
	CHECK_RC(xfrm_parse_expire(nlh, 0x5e2e0011, 0x5e2e00ff, &ev), 0);
	CHECK_RC(xfrm_parse_expire(nlh, 0, 0x5e2e000f, &ev), 0);
	nlh->nlmsg_type = XFRM_MSG_POLEXPIRE;
	CHECK_RC(xfrm_parse_expire(nlh, 0, 0xffffffff, &ev), 0);
	nlh->nlmsg_type = XFRM_MSG_EXPIRE;
	nlh->nlmsg_len = NLMSG_HDRLEN + 16;
	CHECK_RC(xfrm_parse_expire(nlh, 0, 0xffffffff, &ev), -EINVAL);
	nlh->nlmsg_len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*e));
	e->state.family = 0;
	CHECK_RC(xfrm_parse_expire(nlh, 0, 0xffffffff, &ev), -EINVAL);
}

/* ---- error messages ------------------------------------------------------ */

static void test_error_format(void)
{
	char out[256];

	xfrm_format_error(out, sizeof(out), EEXIST, NULL,
			  "add SA spi 0x%08x dst %s", 0x1001u, "192.0.2.2");
	CHECK(strcmp(out, "add SA spi 0x00001001 dst 192.0.2.2: File exists "
			  "(EEXIST)") == 0);
	xfrm_format_error(out, sizeof(out), ENOSYS,
			  "algorithm rfc4106(gcm(aes)) not available",
			  "add SA spi 0x%08x dst %s", 0xdeadbeefu,
			  "2001:db8::2");
	CHECK(strcmp(out, "add SA spi 0xdeadbeef dst 2001:db8::2: Function "
			  "not implemented (ENOSYS); algorithm "
			  "rfc4106(gcm(aes)) not available") == 0);
	xfrm_format_error(out, 24, ENOENT, "", "delete SA spi 0x00000001");
	CHECK(strlen(out) == 23);
	CHECK(strcmp(xfrm_errno_name(ESRCH), "ESRCH") == 0);
	CHECK(strcmp(xfrm_errno_name(EPROTONOSUPPORT), "EPROTONOSUPPORT") ==
	      0);
	CHECK(strcmp(xfrm_errno_name(9999), "E9999") == 0);
}

/* Calls on a context that fail validation: the message names the object
 * and the errno; nothing is sent (see the top of the file). */
static void test_ctx_errors(void)
{
	struct xfrm_ctx *x = NULL;
	struct xfrm_sa sa, out;
	struct xfrm_policy pol;
	int rc;

	CHECK_RC(xfrm_open(&x, NULL, 10, 9), -EINVAL);
	CHECK(x == NULL);
	CHECK(strcmp(xfrm_error(NULL), "") == 0);
	rc = xfrm_open(&x, NULL, 0x5e2e0000, 0x5e2e00ff);
	if (rc) {
		/* A NETLINK_XFRM socket needs no privilege; a sandbox may
		 * still forbid netlink. */
		printf("  xfrm_open: %d (%s)\n", rc, strerror(-rc));
		CHECK_RC(rc, 0);
		return;
	}
	CHECK(strcmp(xfrm_error(x), "") == 0);

	sa_init(&sa, XFRM_AEAD_AES256_GCM);
	sa.aead = (enum xfrm_aead)77;
	CHECK_RC(xfrm_sa_add(x, &sa), -EINVAL);
	CHECK(strcmp(xfrm_error(x), "add SA spi 0x00001001 dst 192.0.2.2: "
				    "Invalid argument (EINVAL); unknown "
				    "algorithm 77") == 0);
	sa_init(&sa, XFRM_AEAD_AES256_GCM);
	sa.key_len = 20;
	CHECK_RC(xfrm_sa_add(x, &sa), -EINVAL);
	CHECK(strcmp(xfrm_error(x), "add SA spi 0x00001001 dst 192.0.2.2: "
				    "Invalid argument (EINVAL); key is 20 "
				    "bytes, rfc4106(gcm(aes)) needs 36") == 0);

	pol_init(&pol, XFRM_DIR_IN, 0x1002);
	CHECK_RC(xfrm_policy_add(x, &pol), -EINVAL);
	CHECK(strcmp(xfrm_error(x), "add policy in 198.51.100.0/24 -> "
				    "203.0.113.0/24 spi 0x00001002 reqid "
				    "1580072969: Invalid argument (EINVAL); "
				    "an SPI only in out policies") == 0);

	/* Rollover: a missing argument; a failure at step 1 is named. */
	pol_init(&pol, XFRM_DIR_OUT, 0x1001);
	CHECK_RC(xfrm_rollover(x, NULL, NULL, &pol, NULL), -EINVAL);
	CHECK(strstr(xfrm_error(x), "rollover: Invalid argument (EINVAL)") ==
	      xfrm_error(x));
	sa_init(&sa, XFRM_AEAD_CHACHA20_POLY1305);
	sa.key_len = 20;
	sa_init(&out, XFRM_AEAD_CHACHA20_POLY1305);
	CHECK_RC(xfrm_rollover(x, &sa, &out, &pol, NULL), -EINVAL);
	CHECK(strcmp(xfrm_error(x), "rollover step 1/4 (new inbound SA): add "
				    "SA spi 0x00001001 dst 192.0.2.2: Invalid "
				    "argument (EINVAL); key is 20 bytes, "
				    "rfc7539esp(chacha20,poly1305) needs 36") ==
	      0);
	/* An in policy cannot be the one switched. */
	pol.dir = XFRM_DIR_IN;
	CHECK_RC(xfrm_rollover(x, NULL, &out, &pol, NULL), -EINVAL);

	CHECK_RC(xfrm_socket_bypass(-1, AF_INET), -EBADF);
	CHECK_RC(xfrm_socket_bypass(0, AF_UNIX), -EAFNOSUPPORT);
	xfrm_close(x);
	xfrm_close(NULL);
}

int main(int argc, char **argv)
{
	(void)argc;
	test_run("xfrm_addr_parse", test_addr_parse);
	test_run("algorithms: names, key lengths, ICV", test_algorithms);
	test_run("NEWSA: usersa_info, AEAD, mark, if_id, lifetimes",
		 test_build_newsa);
	test_run("UPDSA with ESN; windows above 32 bits", test_build_sa_esn);
	test_run("SA selector: IPv6 over IPv4 (AF_UNSPEC), IPv6",
		 test_build_sa_selector);
	test_run("SA requests refused before the kernel",
		 test_build_sa_invalid);
	test_run("DELSA/GETSA usersa_id (+ mark)", test_build_sa_id);
	test_run("ALLOCSPI userspi_info", test_build_allocspi);
	test_run("NEWPOLICY/UPDPOLICY: userpolicy_info and one template",
		 test_build_policy);
	test_run("DELPOLICY userpolicy_id", test_build_policy_del);
	test_run("dump request", test_build_dump);
	test_run("GETSA answer -> counters", test_parse_stats);
	test_run("XFRM_MSG_EXPIRE -> event, reqid filter", test_parse_expire);
	test_run("error message format", test_error_format);
	test_run("context calls refused before the kernel, with messages",
		 test_ctx_errors);
	return test_main_end(argv[0]);
}
