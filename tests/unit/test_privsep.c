/* daemon/privsep: the privileged process's message decoder (psep_decode)
 * and its checks against the configuration (psep_check), row by row. The
 * valid requests are built the way daemon/daemon.c builds them
 * (sa_template, policy_for); each refusal row changes one thing. No
 * kernel: performing requests is covered by tests/e2e (docs/privsep.md).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/privsep.h"
#include "tests/lib/test.h"

/* Two tunnels: t4 over IPv4 with two selectors each side and a rekey
 * volume, t6 over IPv6 with a fixed reqid, a mark, an if_id and
 * ChaCha20-Poly1305. */
static const char conf_text[] =
	"global = { private_key = \"/k\"; };\n"
	"tunnels = (\n"
	" { name = \"t4\"; local = \"192.0.2.1\"; remote = \"192.0.2.2\";\n"
	"   peer_key = \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\";\n"
	"   local_ts = [ \"198.51.100.0/24\", \"198.51.100.128/25\" ];\n"
	"   remote_ts = [ \"203.0.113.0/24\", \"203.0.113.7/32\" ];\n"
	"   rekey_bytes = 1000000L; },\n"
	" { name = \"t6\"; local = \"2001:db8::1\"; remote = \"2001:db8::2\";\n"
	"   peer_key = \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\";\n"
	"   local_ts = [ \"2001:db8:1::/48\" ];\n"
	"   remote_ts = [ \"2001:db8:2::/48\" ];\n"
	"   esp = \"chacha20poly1305\"; reqid = 100; mark = 0x10;\n"
	"   mark_mask = 0xf0; if_id = 7; }\n"
	");\n";

static struct config cfg;
/* PSEP_SEEDS_OUT=dir: the valid messages are written there (the seeds of
 * tests/fuzz/corpus/privsep/). */
static const char *seeds_out;
static unsigned seeds_n;
static const struct config_tunnel *t4, *t6;

static void sa_of(const struct config_tunnel *c, bool in, uint32_t spi,
		  struct psep_req *r)
{
	struct xfrm_sa *sa = &r->sa;

	memset(r, 0, sizeof(*r));
	r->type = PSEP_SA_ADD;
	r->reqid = c->reqid;
	sa->src = in ? c->remote : c->local;
	sa->dst = in ? c->local : c->remote;
	sa->spi = spi;
	sa->reqid = c->reqid;
	sa->aead = c->esp;
	sa->key_len = xfrm_aead_key_len(c->esp);
	memset(sa->key, 0xa5, sa->key_len);
	sa->esn = true;
	sa->replay_window = PSEP_REPLAY_WINDOW;
	sa->mark = c->mark;
	sa->mark_mask = c->mark_mask;
	sa->if_id = c->if_id;
	sa->lft.soft_bytes = c->rekey_bytes;
	sa->lft.hard_bytes = c->hard_bytes;
	sa->lft.soft_packets = c->rekey_packets;
	sa->lft.hard_packets = c->hard_packets;
	sa->lft.hard_seconds = c->hard_time;
}

static void pol_of(const struct config_tunnel *c, size_t i, size_t j,
		   enum xfrm_dir dir, uint32_t spi, enum psep_type type,
		   struct psep_req *r)
{
	struct xfrm_policy *p = &r->pol;
	bool out = dir == XFRM_DIR_OUT;

	memset(r, 0, sizeof(*r));
	r->type = type;
	r->reqid = c->reqid;
	p->sel.src = out ? c->local_ts[i].addr : c->remote_ts[j].addr;
	p->sel.src_plen = out ? c->local_ts[i].plen : c->remote_ts[j].plen;
	p->sel.dst = out ? c->remote_ts[j].addr : c->local_ts[i].addr;
	p->sel.dst_plen = out ? c->remote_ts[j].plen : c->local_ts[i].plen;
	p->dir = dir;
	p->tmpl_src = out ? c->local : c->remote;
	p->tmpl_dst = out ? c->remote : c->local;
	p->reqid = c->reqid;
	p->spi = out ? spi : 0;
	p->priority = PSEP_POLICY_PRIORITY;
	p->mark = c->mark;
	p->mark_mask = c->mark_mask;
	p->if_id = c->if_id;
}

static void addr(struct xfrm_addr *a, const char *s)
{
	CHECK(xfrm_addr_parse(a, s) == 0);
}

/* r passes the decoder's round trip; then psep_check gives want (and,
 * when refused, a reason containing why). */
static void expect(const struct psep_req *r, int want, const char *why_part)
{
	uint8_t buf[PSEP_MSG_MAX];
	struct psep_req back;
	uint8_t again[PSEP_MSG_MAX];
	char why[200] = "";
	int n, m, rc;

	n = psep_encode(r, buf, sizeof(buf));
	if (!CHECK(n > 0))
		return;
	if (!CHECK(psep_decode(buf, (size_t)n, &back, why, sizeof(why)) ==
		   0)) {
		test_note("decode: %s", why);
		return;
	}
	m = psep_encode(&back, again, sizeof(again));
	CHECK(m == n);
	if (m == n)
		CHECK_MEM(again, buf, (size_t)n);
	if (seeds_out && want == 0) {
		char path[512];
		FILE *f;

		snprintf(path, sizeof(path), "%s/type%d-%02u.bin", seeds_out,
			 (int)r->type, ++seeds_n);
		f = fopen(path, "wb");
		if (CHECK(f != NULL)) {
			CHECK(fwrite(buf, 1, (size_t)n, f) == (size_t)n);
			fclose(f);
		}
	}
	rc = psep_check(&cfg, &back, NULL, 0, why, sizeof(why));
	if (!CHECK(rc == want))
		test_note("type %d: want %d, got %d (%s)", r->type, want, rc,
			  why);
	if (want && why_part && !CHECK(strstr(why, why_part) != NULL))
		test_note("reason '%s' lacks '%s'", why, why_part);
}

static void test_valid(void)
{
	static const enum psep_type pt[] = { PSEP_POLICY_ADD,
					     PSEP_POLICY_UPDATE,
					     PSEP_POLICY_DELETE };
	const struct config_tunnel *ts[2] = { t4, t6 };
	struct psep_req r;

	for (int k = 0; k < 2; k++) {
		const struct config_tunnel *c = ts[k];

		memset(&r, 0, sizeof(r));
		r.type = PSEP_ALLOC_SPI;
		r.reqid = c->reqid;
		r.src = c->remote;
		r.dst = c->local;
		r.min = 0x100;
		r.max = 0xfffffffe;
		expect(&r, 0, NULL);
		sa_of(c, true, 0x1234, &r);
		expect(&r, 0, NULL);
		sa_of(c, false, 0xfffffffe, &r);
		expect(&r, 0, NULL);
		memset(&r, 0, sizeof(r));
		r.type = PSEP_SA_DELETE;
		r.reqid = c->reqid;
		r.dst = c->remote;
		r.spi = 0x1234;
		expect(&r, 0, NULL);
		r.type = PSEP_SA_STATS;
		r.dst = c->local;
		expect(&r, 0, NULL);
		for (size_t i = 0; i < c->n_local_ts; i++)
			for (size_t j = 0; j < c->n_remote_ts; j++)
				for (int d = 0; d < 3; d++)
					for (int t = 0; t < 3; t++) {
						pol_of(c, i, j, (enum xfrm_dir)d,
						       0x4321, pt[t], &r);
						expect(&r, 0, NULL);
					}
		memset(&r, 0, sizeof(r));
		r.type = PSEP_FLUSH;
		r.reqid = c->reqid;
		expect(&r, 0, NULL);
		r.type = PSEP_SA_PRUNE;
		expect(&r, 0, NULL); /* keep nothing */
		r.n_keep = 3;
		r.keep[0] = 0x1234;
		r.keep[1] = 0x5678;
		r.keep[2] = 0x9abc;
		expect(&r, 0, NULL);
		r.n_keep = PSEP_KEEP_MAX;
		expect(&r, 0, NULL);
	}
	memset(&r, 0, sizeof(r));
	r.type = PSEP_RELOAD;
	expect(&r, 0, NULL);
}

static void test_refused_reqid(void)
{
	struct psep_req r;
	char why[200];
	uint32_t extra[2] = { 5, 77 };

	sa_of(t4, true, 0x1234, &r);
	r.reqid = 99; /* no tunnel's */
	r.sa.reqid = 99;
	expect(&r, -EPERM, "reqid 99 is no tunnel's");
	sa_of(t4, true, 0x1234, &r);
	r.reqid = t6->reqid; /* t4's SA under t6's reqid */
	expect(&r, -EPERM, "t6: SA addresses");
	sa_of(t4, true, 0x1234, &r);
	r.sa.reqid = t6->reqid; /* the SA itself names another reqid */
	expect(&r, -EPERM, "t4: SA reqid differs");
	memset(&r, 0, sizeof(r));
	r.type = PSEP_FLUSH;
	r.reqid = 77;
	expect(&r, -EPERM, "flush of reqid 77");
	/* ... unless the reqid has objects from before a reload. */
	CHECK(psep_check(&cfg, &r, extra, 2, why, sizeof(why)) == 0);
	r.reqid = 0;
	expect(&r, -EPERM, "flush");
	r.type = PSEP_RELOAD;
	r.reqid = 1;
	expect(&r, -EPERM, "reload with a reqid");
	memset(&r, 0, sizeof(r));
	r.type = PSEP_SA_PRUNE;
	r.reqid = 77; /* pruning is for configured tunnels only */
	r.n_keep = 1;
	r.keep[0] = 0x1234;
	expect(&r, -EPERM, "prune of reqid 77");
	CHECK(psep_check(&cfg, &r, extra, 2, why, sizeof(why)) == -EPERM);
	pol_of(t4, 0, 0, XFRM_DIR_OUT, 0, PSEP_POLICY_UPDATE, &r);
	r.pol.reqid = t6->reqid;
	expect(&r, -EPERM, "policy reqid differs");
}

static void test_refused_addresses(void)
{
	struct psep_req r;

	memset(&r, 0, sizeof(r));
	r.type = PSEP_ALLOC_SPI;
	r.reqid = t4->reqid;
	r.src = t4->local; /* reversed: the daemon allocates inbound SPIs */
	r.dst = t4->remote;
	r.min = 0x100;
	r.max = 0x200;
	expect(&r, -EPERM, "SPI for addresses");
	r.src = t4->remote;
	r.dst = t4->local;
	r.min = 0x10; /* reserved SPIs */
	expect(&r, -EPERM, "bad SPI range");
	r.min = 0x300;
	expect(&r, -EPERM, "bad SPI range");

	sa_of(t4, true, 0x1234, &r);
	addr(&r.sa.src, "192.0.2.99"); /* a foreign peer */
	expect(&r, -EPERM, "SA addresses are not the tunnel's");
	sa_of(t4, false, 0x1234, &r);
	addr(&r.sa.dst, "192.0.2.1"); /* local -> local */
	expect(&r, -EPERM, "SA addresses are not the tunnel's");
	sa_of(t6, true, 0x1234, &r);
	addr(&r.sa.dst, "2001:db8::3");
	expect(&r, -EPERM, "SA addresses are not the tunnel's");

	memset(&r, 0, sizeof(r));
	r.type = PSEP_SA_DELETE;
	r.reqid = t4->reqid;
	addr(&r.dst, "192.0.2.3");
	r.spi = 0x1234;
	expect(&r, -EPERM, "SA address not the tunnel's");
	r.type = PSEP_SA_STATS;
	addr(&r.dst, "2001:db8::1"); /* t6's, not t4's */
	expect(&r, -EPERM, "SA address not the tunnel's");
}

static void test_refused_sa(void)
{
	struct psep_req r;

	sa_of(t4, true, 0x1234, &r);
	r.sa.aead = XFRM_AEAD_AES128_GCM; /* t4 has the default AES-256 */
	r.sa.key_len = xfrm_aead_key_len(XFRM_AEAD_AES128_GCM);
	expect(&r, -EPERM, "not the tunnel's algorithm");
	sa_of(t6, true, 0x1234, &r);
	r.sa.aead = XFRM_AEAD_AES256_GCM; /* same key length as ChaCha */
	expect(&r, -EPERM, "not the tunnel's algorithm");
	sa_of(t4, true, 0x1234, &r);
	r.sa.key_len = 20;
	expect(&r, -EPERM, "wrong key length");
	r.sa.key_len = 0;
	expect(&r, -EPERM, "wrong key length");
	sa_of(t4, true, 0x1234, &r);
	r.sa.esn = false;
	expect(&r, -EPERM, "ESN or replay window");
	sa_of(t4, true, 0x1234, &r);
	r.sa.replay_window = 0;
	expect(&r, -EPERM, "ESN or replay window");
	sa_of(t4, true, 0xff, &r);
	expect(&r, -EPERM, "reserved SPI");
	sa_of(t6, false, 0x1234, &r);
	r.sa.mark = 0;
	expect(&r, -EPERM, "wrong mark or if_id");
	sa_of(t6, false, 0x1234, &r);
	r.sa.if_id = 8;
	expect(&r, -EPERM, "wrong mark or if_id");
	sa_of(t4, false, 0x1234, &r);
	r.sa.lft.hard_bytes = 0; /* an SA that would never expire */
	expect(&r, -EPERM, "wrong lifetimes");
	sa_of(t4, false, 0x1234, &r);
	r.sa.lft.hard_seconds += 1;
	expect(&r, -EPERM, "wrong lifetimes");
	sa_of(t4, false, 0x1234, &r);
	r.sa.lft.soft_seconds = 5;
	expect(&r, -EPERM, "wrong lifetimes");
	sa_of(t4, false, 0x1234, &r);
	addr(&r.sa.sel.src, "10.0.0.0");
	r.sa.sel.src_plen = 8;
	expect(&r, -EPERM, "SA with a selector");
}

static void test_refused_policy(void)
{
	struct psep_req r;

	pol_of(t4, 0, 0, XFRM_DIR_OUT, 0x1234, PSEP_POLICY_UPDATE, &r);
	r.pol.sel.dst_plen = 16; /* wider than the tunnel's */
	expect(&r, -EPERM, "selector is not the tunnel's");
	pol_of(t4, 0, 0, XFRM_DIR_OUT, 0x1234, PSEP_POLICY_UPDATE, &r);
	addr(&r.pol.sel.dst, "0.0.0.0"); /* everything */
	r.pol.sel.dst_plen = 0;
	expect(&r, -EPERM, "selector is not the tunnel's");
	pol_of(t4, 1, 1, XFRM_DIR_IN, 0, PSEP_POLICY_ADD, &r);
	/* An in policy with the out policy's selector. */
	r.pol.sel.src = t4->local_ts[1].addr;
	r.pol.sel.src_plen = t4->local_ts[1].plen;
	r.pol.sel.dst = t4->remote_ts[1].addr;
	r.pol.sel.dst_plen = t4->remote_ts[1].plen;
	expect(&r, -EPERM, "selector is not the tunnel's");
	pol_of(t6, 0, 0, XFRM_DIR_FWD, 0, PSEP_POLICY_DELETE, &r);
	addr(&r.pol.sel.src, "2001:db8:3::");
	expect(&r, -EPERM, "selector is not the tunnel's");
	pol_of(t4, 0, 1, XFRM_DIR_OUT, 0x1234, PSEP_POLICY_UPDATE, &r);
	addr(&r.pol.tmpl_dst, "192.0.2.99"); /* traffic to someone else */
	expect(&r, -EPERM, "template addresses");
	pol_of(t4, 0, 1, XFRM_DIR_IN, 0, PSEP_POLICY_UPDATE, &r);
	r.pol.spi = 0x1234;
	expect(&r, -EPERM, "SPI in an in/fwd policy");
	pol_of(t4, 0, 1, XFRM_DIR_OUT, 0, PSEP_POLICY_UPDATE, &r);
	r.pol.priority = 1; /* would win over other policies */
	expect(&r, -EPERM, "wrong priority");
	pol_of(t6, 0, 0, XFRM_DIR_OUT, 0, PSEP_POLICY_UPDATE, &r);
	r.pol.mark_mask = 0;
	expect(&r, -EPERM, "wrong mark or if_id");
}

/* A valid SA_ADD message, changed in place: each row must fail to
 * decode. */
static void expect_bad(const uint8_t *msg, size_t n, const char *why_part)
{
	struct psep_req r;
	char why[200] = "";

	memset(&r, 0x5a, sizeof(r));
	if (!CHECK(psep_decode(msg, n, &r, why, sizeof(why)) == -EPROTO))
		return;
	CHECK(why[0] != '\0');
	if (why_part && !CHECK(strstr(why, why_part) != NULL))
		test_note("reason '%s' lacks '%s'", why, why_part);
	/* Nothing of a refused message is left (the key in particular). */
	for (size_t i = 0; i < sizeof(r.sa.key); i++)
		if (!CHECK(r.sa.key[i] == 0))
			break;
}

static void set_len(uint8_t *m, size_t n)
{
	m[4] = (uint8_t)(n >> 24);
	m[5] = (uint8_t)(n >> 16);
	m[6] = (uint8_t)(n >> 8);
	m[7] = (uint8_t)n;
}

static void test_decode_refusals(void)
{
	struct psep_req r;
	uint8_t m[PSEP_MSG_MAX + 8], c[PSEP_MSG_MAX + 8];
	int n;
	/* Offsets in an SA_ADD message: header 16, src 16..32, dst 33..49,
	 * spi 50, reqid 54, aead 58, key_len 59, key 60..95, esn 96,
	 * ..., sel at the end (2 addresses + 2 prefix lengths). */
	const size_t o_src = 16, o_aead = 58, o_klen = 59, o_esn = 96;

	sa_of(t4, true, 0x1234, &r);
	n = psep_encode(&r, m, sizeof(m));
	if (!CHECK(n > 0))
		return;
	/* Every truncation, with the length field telling the truth. */
	for (int k = 0; k < n; k++) {
		memcpy(c, m, (size_t)n);
		set_len(c, (size_t)k);
		expect_bad(c, (size_t)k, NULL);
	}
	memcpy(c, m, (size_t)n);
	c[n] = 0;
	set_len(c, (size_t)n + 1);
	expect_bad(c, (size_t)n + 1, "bytes after the message");
	memcpy(c, m, (size_t)n);
	expect_bad(c, (size_t)n - 1, "length field");
	memcpy(c, m, (size_t)n);
	c[3] = 2;
	expect_bad(c, (size_t)n, "version 2");
	memcpy(c, m, (size_t)n);
	c[1] = 0;
	expect_bad(c, (size_t)n, "unknown type 0");
	c[1] = PSEP_TYPE_MAX + 1;
	expect_bad(c, (size_t)n, "unknown type");
	c[1] = PSEP_REPLY | PSEP_SA_ADD; /* a reply is no request */
	expect_bad(c, (size_t)n, "unknown type");
	memcpy(c, m, (size_t)n);
	c[o_src] = 5;
	expect_bad(c, (size_t)n, "bad address family");
	memcpy(c, m, (size_t)n);
	c[o_src] = 0; /* unspecified outer address */
	memset(c + o_src + 1, 0, 16);
	expect_bad(c, (size_t)n, "bad address family");
	memcpy(c, m, (size_t)n);
	c[o_src + 1 + 4] = 1; /* byte after an IPv4 address */
	expect_bad(c, (size_t)n, "bytes after an IPv4 address");
	memcpy(c, m, (size_t)n);
	c[o_aead] = 3;
	expect_bad(c, (size_t)n, "unknown algorithm");
	memcpy(c, m, (size_t)n);
	c[o_klen] = 37;
	expect_bad(c, (size_t)n, "key too long");
	memcpy(c, m, (size_t)n);
	c[o_esn] = 2;
	expect_bad(c, (size_t)n, "bad boolean");
	memcpy(c, m, (size_t)n);
	c[n - 2] = 33; /* selector prefix length of an unspec address */
	expect_bad(c, (size_t)n, "bad prefix length");
	memcpy(c, m, (size_t)n);
	c[n - 3] = 1; /* a byte in the unspecified selector address */
	expect_bad(c, (size_t)n, "unspecified address");

	/* Policies: direction and prefix lengths. */
	pol_of(t4, 0, 0, XFRM_DIR_OUT, 0, PSEP_POLICY_UPDATE, &r);
	n = psep_encode(&r, m, sizeof(m));
	if (!CHECK(n > 0))
		return;
	memcpy(c, m, (size_t)n);
	c[16 + 34] = 33; /* src_plen of an IPv4 selector */
	expect_bad(c, (size_t)n, "bad prefix length");
	memcpy(c, m, (size_t)n);
	c[16 + 36] = 3; /* dir */
	expect_bad(c, (size_t)n, "bad direction");

	/* Bodiless requests take no body. */
	memset(&r, 0, sizeof(r));
	r.type = PSEP_FLUSH;
	n = psep_encode(&r, m, sizeof(m));
	CHECK(n == 16);
	memcpy(c, m, (size_t)n);
	c[n] = 0;
	set_len(c, (size_t)n + 1);
	expect_bad(c, (size_t)n + 1, "bytes after the message");
	expect_bad(c, 0, "too short");
	/* SA_PRUNE: the count decides the length; at most PSEP_KEEP_MAX. */
	memset(&r, 0, sizeof(r));
	r.type = PSEP_SA_PRUNE;
	r.n_keep = 2;
	n = psep_encode(&r, m, sizeof(m));
	CHECK(n == 16 + 1 + 2 * 4);
	memcpy(c, m, (size_t)n);
	c[16] = 3; /* says 3, carries 2 */
	expect_bad(c, (size_t)n, "too short");
	c[16] = 1; /* says 1, carries 2 */
	expect_bad(c, (size_t)n, "bytes after the message");
	c[16] = PSEP_KEEP_MAX + 1;
	memset(c + n, 0, sizeof(c) - (size_t)n);
	set_len(c, 16 + 1 + 4 * (PSEP_KEEP_MAX + 1));
	expect_bad(c, 16 + 1 + 4 * (PSEP_KEEP_MAX + 1), "too many SPIs");
	r.n_keep = PSEP_KEEP_MAX + 1;
	CHECK(psep_encode(&r, m, sizeof(m)) == -EINVAL);
	/* What the format cannot carry is not encoded. */
	sa_of(t4, true, 0x1234, &r);
	r.sa.key_len = 37;
	CHECK(psep_encode(&r, m, sizeof(m)) == -EINVAL);
	r.type = (enum psep_type)0;
	CHECK(psep_encode(&r, m, sizeof(m)) == -EINVAL);
	sa_of(t4, true, 0x1234, &r);
	CHECK(psep_encode(&r, m, 100) == -EINVAL); /* too small a buffer */
}

/* The message sizes: fixed per type, all within PSEP_MSG_MAX. */
static void test_sizes(void)
{
	struct psep_req r;
	uint8_t m[PSEP_MSG_MAX];

	sa_of(t6, true, 0x1234, &r);
	CHECK(psep_encode(&r, m, sizeof(m)) == 16 + 2 * 17 + 4 + 4 + 2 +
							36 + 1 + 4 * 4 +
							6 * 8 + 2 * 17 + 2);
	pol_of(t6, 0, 0, XFRM_DIR_OUT, 1, PSEP_POLICY_ADD, &r);
	CHECK(psep_encode(&r, m, sizeof(m)) == 16 + 36 + 1 + 2 * 17 + 6 * 4);
	memset(&r, 0, sizeof(r));
	r.type = PSEP_SA_STATS;
	r.dst = t6->local;
	CHECK(psep_encode(&r, m, sizeof(m)) == 16 + 17 + 4);
	r.type = PSEP_ALLOC_SPI;
	r.src = t6->remote;
	CHECK(psep_encode(&r, m, sizeof(m)) == 16 + 2 * 17 + 8);
}

int main(void)
{
	char err[512];

	if (config_load_string(conf_text, strlen(conf_text), "test.conf", &cfg,
			       err, sizeof(err)) < 0) {
		printf("FAIL test config: %s\n", err);
		return 1;
	}
	seeds_out = getenv("PSEP_SEEDS_OUT");
	t4 = config_tunnel_find(&cfg, "t4");
	t6 = config_tunnel_find(&cfg, "t6");
	test_run("valid", test_valid);
	test_run("refused_reqid", test_refused_reqid);
	test_run("refused_addresses", test_refused_addresses);
	test_run("refused_sa", test_refused_sa);
	test_run("refused_policy", test_refused_policy);
	test_run("decode_refusals", test_decode_refusals);
	test_run("sizes", test_sizes);
	config_free(&cfg);
	return test_main_end("test_privsep");
}
