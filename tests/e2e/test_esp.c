/* End-to-end ESP through xfrm/: tunnels between the gateways of
 * netns/topology.sh, real traffic between the sites, the kernel's own
 * counters and the wire as proof.
 *
 * usage: test_esp SITE1 GW1 GW2 SITE2   (namespace names; as root, on a
 * kernel that can do ESP; tests/e2e/run.sh runs it)
 *
 * Each tunnel case installs with libxfrm, in both gateways, an SA pair with
 * fixed keys and the policies (out on the sender with the SPI pinned, in
 * and fwd on the receiver), then sends from site1 to site2: 3 pings and
 * N_ECHO UDP datagrams that site2 echoes back. It asserts every echo came
 * back, that each of the four SAs counted exactly the packets and the inner
 * bytes sent through it (the kernel counts inner IP packet bytes), that a
 * packet socket on gw1's link to gw2 saw exactly that many outgoing ESP
 * packets with the right SPI and no plaintext, and that xfrm_flush removes
 * the 2 SAs and 3 policies of each gateway and nothing else.
 * Further cases: soft and hard expiry by packet count on the listener,
 * the error paths (unknown algorithm, bad key length, duplicate SPI,
 * duplicate policy, deleting a missing SA) leaving the kernel's SA and
 * policy set unchanged, and xfrm_flush sparing an SA and a policy outside
 * the context's reqid range.
 */
#include "xfrm/xfrm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/test.h"

#define REQID_LO 0x5e2e0000u
#define REQID_HI 0x5e2e00ffu
#define FOREIGN_REQID 0x00e2e001u /* outside the range: never ours */
#define N_PING 3
#define N_ECHO 20
#define ECHO_PAYLOAD 100
#define ECHO_PORT 50007
#define WAIT_MS 10000 /* per datagram; generous under emulation */

static const char *ns_site1, *ns_gw1, *ns_gw2, *ns_site2;
static struct xfrm_ctx *x1, *x2; /* gw1, gw2 */

/* ---- namespaces and sockets ---------------------------------------------- */

/* Runs socket(2) in namespace ns (sockets stay in the namespace they were
 * made in); with ifname also returns that interface's index there. */
static int socket_in(const char *ns, int domain, int type, int proto,
		     const char *ifname, unsigned *ifindex)
{
	char path[256];
	int self, fd, s = -1, e;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
		e = errno;
		printf("setns %s: %s\n", ns, strerror(e));
		goto out;
	}
	s = socket(domain, type | SOCK_CLOEXEC, proto);
	if (s >= 0 && ifname) {
		*ifindex = if_nametoindex(ifname);
		if (*ifindex == 0) {
			close(s);
			s = -1;
		}
	}
	if (setns(self, CLONE_NEWNET) != 0) {
		/* Staying in the wrong namespace would poison every later
		 * case. */
		perror("setns back");
		exit(2);
	}
out:
	if (fd >= 0)
		close(fd);
	if (self >= 0)
		close(self);
	return s;
}

struct sa_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

static void sockaddr_of(struct sa_addr *o, const char *ip, uint16_t port)
{
	memset(o, 0, sizeof(*o));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&o->ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
		o->len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&o->ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, ip, &s4->sin_addr);
		o->len = sizeof(*s4);
	}
}

static int wait_in(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* Sends n datagrams from site1 (ip1) to site2 (ip2), which echoes each
 * back; returns how many came back intact (stops at the first that does
 * not within wait_ms). */
static int udp_echo_wait(const char *ip1, const char *ip2, int n, int wait_ms)
{
	struct sa_addr a1, a2, from;
	int fam = strchr(ip1, ':') ? AF_INET6 : AF_INET;
	int s1, s2, ok = 0, i;
	char buf[ECHO_PAYLOAD], got[ECHO_PAYLOAD + 1];

	sockaddr_of(&a1, ip1, 0);
	sockaddr_of(&a2, ip2, ECHO_PORT);
	s1 = socket_in(ns_site1, fam, SOCK_DGRAM, 0, NULL, NULL);
	s2 = socket_in(ns_site2, fam, SOCK_DGRAM, 0, NULL, NULL);
	if (s1 < 0 || s2 < 0 ||
	    bind(s1, (struct sockaddr *)&a1.ss, a1.len) != 0 ||
	    bind(s2, (struct sockaddr *)&a2.ss, a2.len) != 0) {
		printf("udp_echo: sockets: %s\n", strerror(errno));
		goto out;
	}
	for (i = 0; i < n; i++) {
		ssize_t r;

		memset(buf, 'a' + i % 26, sizeof(buf));
		snprintf(buf, 16, "e2e %d", i);
		if (sendto(s1, buf, sizeof(buf), 0, (struct sockaddr *)&a2.ss,
			   a2.len) != (ssize_t)sizeof(buf)) {
			printf("udp_echo %d: send: %s\n", i, strerror(errno));
			break;
		}
		if (!wait_in(s2, wait_ms)) {
			printf("udp_echo %d: site2 received nothing\n", i);
			break;
		}
		from.len = sizeof(from.ss);
		r = recvfrom(s2, got, sizeof(got), 0,
			     (struct sockaddr *)&from.ss, &from.len);
		if (r != (ssize_t)sizeof(buf) || memcmp(got, buf, r) != 0) {
			printf("udp_echo %d: site2 got a wrong datagram\n", i);
			break;
		}
		if (sendto(s2, got, r, 0, (struct sockaddr *)&from.ss,
			   from.len) != r) {
			printf("udp_echo %d: echo: %s\n", i, strerror(errno));
			break;
		}
		if (!wait_in(s1, wait_ms)) {
			printf("udp_echo %d: no echo at site1\n", i);
			break;
		}
		r = recv(s1, got, sizeof(got), 0);
		if (r != (ssize_t)sizeof(buf) || memcmp(got, buf, r) != 0) {
			printf("udp_echo %d: site1 got a wrong echo\n", i);
			break;
		}
		ok++;
	}
out:
	if (s1 >= 0)
		close(s1);
	if (s2 >= 0)
		close(s2);
	return ok;
}

static int udp_echo(const char *ip1, const char *ip2, int n)
{
	return udp_echo_wait(ip1, ip2, n, WAIT_MS);
}

/* Runs "ip netns exec SITE1 ping -c N_PING ... ip2"; returns the number of
 * replies ping reports (-1 if it could not run). */
static int ping(const char *ip2)
{
	char cmd[256], line[256];
	int tx = -1, rx = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "ip netns exec %s ping %s -n -c %d -i 0.2 -W 10 %s 2>&1",
		 ns_site1, strchr(ip2, ':') ? "-6" : "-4", N_PING, ip2);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%d packets transmitted, %d received", &tx,
			   &rx) == 2)
			break;
	}
	while (fgets(line, sizeof(line), f))
		;
	pclose(f);
	if (tx != N_PING)
		printf("ping %s: %d transmitted, %d received\n", ip2, tx, rx);
	return tx == N_PING ? rx : -1;
}

/* The kernel's SA and policy set in ns as iproute2 prints it (independent
 * of libxfrm), into buf. */
static void kernel_set(const char *ns, char *buf, size_t cap)
{
	char cmd[256];
	size_t n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "ip -n %s xfrm state list 2>&1; "
		 "ip -n %s xfrm policy list 2>&1",
		 ns, ns);
	buf[0] = 0;
	f = popen(cmd, "r");
	if (!f)
		return;
	while (n + 1 < cap) {
		size_t r = fread(buf + n, 1, cap - 1 - n, f);

		if (r == 0)
			break;
		n += r;
	}
	buf[n] = 0;
	pclose(f);
}

static int run_ip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_ip(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		printf("command failed (%d): %s\n", rc, cmd);
	return rc;
}

/* ---- the wire: outgoing packets on gw1's link to gw2 --------------------- */

struct wire {
	int fd;
	/* outgoing: ESP with the SPI, ESP with another SPI, not ESP with a
	 * site address (plaintext that should have been in the tunnel), not
	 * ESP otherwise (the gateways' own packets) */
	unsigned esp, esp_other_spi, plain, other;
};

static int wire_open(struct wire *w)
{
	struct sockaddr_ll ll;
	unsigned ifi = 0;

	memset(w, 0, sizeof(*w));
	w->fd = socket_in(ns_gw1, AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK,
			  htons(ETH_P_ALL), "g1", &ifi);
	if (w->fd < 0)
		return -1;
	memset(&ll, 0, sizeof(ll));
	ll.sll_family = AF_PACKET;
	ll.sll_protocol = htons(ETH_P_ALL);
	ll.sll_ifindex = (int)ifi;
	if (bind(w->fd, (struct sockaddr *)&ll, sizeof(ll)) != 0) {
		close(w->fd);
		w->fd = -1;
		return -1;
	}
	return 0;
}

/* Is the packet's source or destination in a site's subnet? */
static int site_addr(const unsigned char *p, int v6)
{
	static const unsigned char s1[4] = { 198, 51, 100 },
				   s2[4] = { 203, 0, 113 },
				   n6[6] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1 },
				   m6[6] = { 0x20, 0x01, 0x0d, 0xb8, 0, 2 };
	int i;

	for (i = 0; i < 2; i++) {
		const unsigned char *a = v6 ? p + 8 + 16 * i : p + 12 + 4 * i;

		if (v6 ? (!memcmp(a, n6, 6) || !memcmp(a, m6, 6)) &&
				 !memcmp(a + 6, "\0\0", 2) :
			 !memcmp(a, s1, 3) || !memcmp(a, s2, 3))
			return 1;
	}
	return 0;
}

/* Counts the outgoing IP packets queued on the packet socket (see struct
 * wire). The gateways' own packets are IPv6 MLD reports (sent from ::
 * since the topology has no link-local addresses) and nothing else; ARP
 * is not IP. Incoming packets are not looked at: decapsulated tunnel
 * packets are re-injected on the same device and would look like
 * plaintext. */
static void wire_count(struct wire *w, uint32_t spi)
{
	unsigned char p[2048];
	struct sockaddr_ll from;
	socklen_t fl;
	ssize_t r;

	for (;;) {
		unsigned proto = 256, off = 0;
		uint32_t got;
		int v6;

		fl = sizeof(from);
		r = recvfrom(w->fd, p, sizeof(p), 0, (struct sockaddr *)&from,
			     &fl);
		if (r < 0)
			break;
		if (from.sll_pkttype != PACKET_OUTGOING)
			continue;
		if (ntohs(from.sll_protocol) == ETH_P_IP && r >= 20) {
			proto = p[9];
			off = (p[0] & 15u) * 4;
			v6 = 0;
		} else if (ntohs(from.sll_protocol) == ETH_P_IPV6 && r >= 40) {
			proto = p[6];
			off = 40;
			v6 = 1;
		} else {
			continue; /* ARP */
		}
		if (proto != IPPROTO_ESP) {
			char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
			int f = v6 ? AF_INET6 : AF_INET;

			inet_ntop(f, p + (v6 ? 8 : 12), a, sizeof(a));
			inet_ntop(f, p + (v6 ? 24 : 16), b, sizeof(b));
			printf("  wire: not ESP: proto %u %s -> %s\n", proto, a,
			       b);
			if (site_addr(p, v6))
				w->plain++;
			else
				w->other++;
			continue;
		}
		if (r < (ssize_t)off + 8)
			continue;
		memcpy(&got, p + off, 4);
		if (ntohl(got) == spi)
			w->esp++;
		else
			w->esp_other_spi++;
	}
}

/* ---- tunnels ------------------------------------------------------------- */

struct tunnel {
	const char *name;
	enum xfrm_aead aead;
	bool esn;
	uint32_t replay_window;
	int outer, inner; /* AF_INET / AF_INET6 */
	uint32_t spi12, spi21, reqid;
	struct xfrm_lifetime lft;
	/* filled by tunnel_setup */
	struct xfrm_sa sa12, sa21; /* site1->site2 (gw1 out, gw2 in) and back */
	struct xfrm_policy pol[6]; /* gw1 out, in, fwd; gw2 out, in, fwd */
};

static const char *outer_ip(int fam, int gw)
{
	if (fam == AF_INET)
		return gw == 1 ? "192.0.2.1" : "192.0.2.2";
	return gw == 1 ? "2001:db8::1" : "2001:db8::2";
}

static const char *site_ip(int fam, int site)
{
	if (fam == AF_INET)
		return site == 1 ? "198.51.100.2" : "203.0.113.2";
	return site == 1 ? "2001:db8:1::2" : "2001:db8:2::2";
}

static void site_net(struct xfrm_addr *a, uint8_t *plen, int fam, int site)
{
	if (fam == AF_INET) {
		xfrm_addr_parse(a, site == 1 ? "198.51.100.0" : "203.0.113.0");
		*plen = 24;
	} else {
		xfrm_addr_parse(a, site == 1 ? "2001:db8:1::" : "2001:db8:2::");
		*plen = 64;
	}
}

/* Inner bytes of one packet as the kernel counts them (the inner IP
 * packet): a default ping and one echo datagram. */
static uint64_t ping_bytes(int fam)
{
	return (fam == AF_INET ? 20 : 40) + 8 + 56;
}

static uint64_t echo_bytes(int fam)
{
	return (fam == AF_INET ? 20 : 40) + 8 + ECHO_PAYLOAD;
}

static void fill_key(uint8_t *key, size_t len, uint8_t base)
{
	for (size_t i = 0; i < len; i++)
		key[i] = (uint8_t)(base + i);
}

static void tunnel_setup(struct tunnel *t)
{
	struct xfrm_selector s12, s21;
	struct xfrm_sa *sa;
	int i;

	memset(&s12, 0, sizeof(s12));
	site_net(&s12.src, &s12.src_plen, t->inner, 1);
	site_net(&s12.dst, &s12.dst_plen, t->inner, 2);
	s21.src = s12.dst;
	s21.src_plen = s12.dst_plen;
	s21.dst = s12.src;
	s21.dst_plen = s12.src_plen;

	for (i = 0; i < 2; i++) {
		sa = i == 0 ? &t->sa12 : &t->sa21;
		memset(sa, 0, sizeof(*sa));
		xfrm_addr_parse(&sa->src, outer_ip(t->outer, i == 0 ? 1 : 2));
		xfrm_addr_parse(&sa->dst, outer_ip(t->outer, i == 0 ? 2 : 1));
		sa->spi = i == 0 ? t->spi12 : t->spi21;
		sa->reqid = t->reqid;
		sa->aead = t->aead;
		sa->key_len = xfrm_aead_key_len(t->aead);
		/* Fixed keys, different per direction. */
		fill_key(sa->key, sa->key_len, i == 0 ? 0x10 : 0x80);
		sa->esn = t->esn;
		sa->replay_window = t->replay_window;
		sa->lft = t->lft;
		sa->sel = i == 0 ? s12 : s21;
	}
	/* gw1: out site1->site2 on sa12; in + fwd site2->site1 from sa21.
	 * gw2: the mirror image. Only out templates carry the SPI. */
	for (i = 0; i < 6; i++) {
		struct xfrm_policy *p = &t->pol[i];
		int gw = i < 3 ? 1 : 2;
		int d = i % 3; /* 0 out, 1 in, 2 fwd */
		/* The SA this policy's template refers to. */
		const struct xfrm_sa *ts = (gw == 1) == (d == 0) ? &t->sa12 :
								    &t->sa21;

		memset(p, 0, sizeof(*p));
		p->sel = ts == &t->sa12 ? s12 : s21;
		p->dir = d == 0 ? XFRM_DIR_OUT :
			 d == 1 ? XFRM_DIR_IN : XFRM_DIR_FWD;
		p->tmpl_src = ts->src;
		p->tmpl_dst = ts->dst;
		p->reqid = t->reqid;
		p->spi = d == 0 ? ts->spi : 0;
		p->priority = 1000;
	}
}

/* Installs the tunnel in both gateways; 1 on success. */
static int tunnel_install(struct tunnel *t)
{
	int ok = 1, i;

	tunnel_setup(t);
	ok &= CHECK_RC(xfrm_sa_add(x1, &t->sa12), 0);
	ok &= CHECK_RC(xfrm_sa_add(x1, &t->sa21), 0);
	ok &= CHECK_RC(xfrm_sa_add(x2, &t->sa12), 0);
	ok &= CHECK_RC(xfrm_sa_add(x2, &t->sa21), 0);
	for (i = 0; i < 6; i++)
		ok &= CHECK_RC(xfrm_policy_add(i < 3 ? x1 : x2, &t->pol[i]), 0);
	if (!ok)
		printf("  gw1: %s\n  gw2: %s\n", xfrm_error(x1),
		       xfrm_error(x2));
	return ok;
}

/* Removes the tunnel with xfrm_flush: 2 SAs + 3 policies per gateway,
 * then the SAs are gone for libxfrm and the kernel's set is empty. */
static void tunnel_flush_n(struct tunnel *t, int n1, int n2)
{
	struct xfrm_sa_stats st;
	char set[4096];

	CHECK_RC(xfrm_flush(x1), n1);
	CHECK_RC(xfrm_flush(x2), n2);
	CHECK_RC(xfrm_sa_stats(x1, &t->sa12.dst, t->spi12, &st), -ENOENT);
	CHECK_RC(xfrm_sa_stats(x2, &t->sa21.dst, t->spi21, &st), -ENOENT);
	kernel_set(ns_gw1, set, sizeof(set));
	if (!CHECK(set[0] == 0))
		printf("  left in %s:\n%s", ns_gw1, set);
	kernel_set(ns_gw2, set, sizeof(set));
	if (!CHECK(set[0] == 0))
		printf("  left in %s:\n%s", ns_gw2, set);
}

static void tunnel_flush(struct tunnel *t)
{
	tunnel_flush_n(t, 5, 5);
}

static void check_sa(struct xfrm_ctx *x, const char *gw, const char *what,
		     const struct xfrm_sa *sa, uint64_t packets, uint64_t bytes)
{
	struct xfrm_sa_stats st;

	memset(&st, 0, sizeof(st));
	if (!CHECK_RC(xfrm_sa_stats(x, &sa->dst, sa->spi, &st), 0)) {
		printf("  %s\n", xfrm_error(x));
		return;
	}
	printf("  %s %s SA spi 0x%08x: %llu packets, %llu bytes, replay %u, "
	       "integrity %u\n", gw, what, sa->spi,
	       (unsigned long long)st.packets, (unsigned long long)st.bytes,
	       st.replay_errors, st.integrity_failed);
	CHECK_EQ_U64(st.packets, packets);
	CHECK_EQ_U64(st.bytes, bytes);
	CHECK_EQ_U64(st.replay_errors, 0);
	CHECK_EQ_U64(st.integrity_failed, 0);
	CHECK(st.add_time > 0);
	CHECK(st.use_time >= st.add_time);
}

static void run_tunnel(struct tunnel *t)
{
	const char *ip1 = site_ip(t->inner, 1), *ip2 = site_ip(t->inner, 2);
	uint64_t pk = N_PING + N_ECHO;
	uint64_t by = N_PING * ping_bytes(t->inner) +
		      N_ECHO * echo_bytes(t->inner);
	struct wire w;
	int have_wire;

	test_begin("%s", t->name);
	if (!tunnel_install(t))
		goto out;
	have_wire = wire_open(&w) == 0;
	CHECK(have_wire);

	/* Traffic: site1 -> site2 and the replies. */
	CHECK_RC(ping(ip2), N_PING);
	CHECK_RC(udp_echo(ip1, ip2, N_ECHO), N_ECHO);

	/* Each SA carried exactly these packets, and the inner bytes. */
	check_sa(x1, "gw1", "out", &t->sa12, pk, by);
	check_sa(x2, "gw2", "in ", &t->sa12, pk, by);
	check_sa(x2, "gw2", "out", &t->sa21, pk, by);
	check_sa(x1, "gw1", "in ", &t->sa21, pk, by);

	/* On the wire: only ESP with our SPI left gw1 towards gw2. */
	if (have_wire) {
		wire_count(&w, t->spi12);
		printf("  wire gw1->gw2: %u ESP spi 0x%08x, %u other ESP, "
		       "%u plaintext, %u of gw1's own\n", w.esp, t->spi12,
		       w.esp_other_spi, w.plain, w.other);
		CHECK_EQ_U64(w.esp, pk);
		CHECK_EQ_U64(w.esp_other_spi, 0);
		CHECK_EQ_U64(w.plain, 0);
		close(w.fd);
	}
out:
	tunnel_flush(t);
	test_end();
}

/* ---- soft expiry --------------------------------------------------------- */

/* Soft packet limit 5 on all four SAs, 10 echoes: each gateway reports a
 * soft (not hard) expiry for both of its SAs, and traffic keeps flowing
 * (a soft expiry only asks for a rekey). */
static void test_soft_expiry(void)
{
	struct tunnel t = {
		.name = "soft expiry by packet count",
		.aead = XFRM_AEAD_AES128_GCM,
		.outer = AF_INET, .inner = AF_INET,
		.spi12 = 0x5e000201, .spi21 = 0x5e000202,
		.reqid = REQID_LO + 2,
		.lft = { .soft_packets = 5 },
	};
	struct xfrm_listener *l1 = NULL, *l2 = NULL;
	/* seen[gw][0: spi12, 1: spi21] */
	int seen[2][2] = { { 0 } }, hard = 0, other = 0, g;
	struct timespec t0, now;

	test_begin("%s", t.name);
	if (!CHECK_RC(xfrm_listener_open(&l1, ns_gw1, REQID_LO, REQID_HI), 0) ||
	    !CHECK_RC(xfrm_listener_open(&l2, ns_gw2, REQID_LO, REQID_HI), 0))
		goto out;
	if (!tunnel_install(&t))
		goto out;
	CHECK_RC(udp_echo(site_ip(AF_INET, 1), site_ip(AF_INET, 2), 10), 10);

	/* Poll both listeners until all four events arrived (30 s). */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = xfrm_listener_fd(l1), .events = POLLIN },
			{ .fd = xfrm_listener_fd(l2), .events = POLLIN },
		};

		if (seen[0][0] && seen[0][1] && seen[1][0] && seen[1][1])
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 30)
			break;
		if (poll(p, 2, 1000) <= 0)
			continue;
		for (g = 0; g < 2; g++) {
			struct xfrm_expire ev[8];
			size_t n = 0, i;

			if (!(p[g].revents & POLLIN))
				continue;
			if (!CHECK_RC(xfrm_listener_read(g ? l2 : l1, ev, 8,
							 &n), 0))
				goto out;
			for (i = 0; i < n; i++) {
				printf("  %s: %s expiry spi 0x%08x reqid "
				       "0x%08x\n", g ? "gw2" : "gw1",
				       ev[i].hard ? "hard" : "soft", ev[i].spi,
				       ev[i].reqid);
				hard += ev[i].hard;
				if (ev[i].reqid != t.reqid)
					other++;
				else if (ev[i].spi == t.spi12)
					seen[g][0]++;
				else if (ev[i].spi == t.spi21)
					seen[g][1]++;
				else
					other++;
			}
		}
	}
	CHECK(seen[0][0] == 1); /* gw1's outbound SA */
	CHECK(seen[0][1] == 1); /* gw1's inbound SA */
	CHECK(seen[1][0] == 1); /* gw2's inbound SA */
	CHECK(seen[1][1] == 1); /* gw2's outbound SA */
	CHECK(hard == 0);
	CHECK(other == 0);
	/* Soft expiry does not stop the SAs. */
	CHECK_RC(udp_echo(site_ip(AF_INET, 1), site_ip(AF_INET, 2), 2), 2);
out:
	tunnel_flush(&t);
	if (l1)
		xfrm_listener_close(l1);
	if (l2)
		xfrm_listener_close(l2);
	test_end();
}

/* Hard packet limit 8 on all four SAs: 8 echoes pass; the 9th datagram
 * finds gw1's outbound SA at its limit, is dropped, and the kernel reports
 * a hard expiry for exactly that SA and deletes it (the other three SAs
 * carried 8 packets each and stay). */
static void test_hard_expiry(void)
{
	struct tunnel t = {
		.name = "hard expiry by packet count",
		.aead = XFRM_AEAD_CHACHA20_POLY1305,
		.outer = AF_INET, .inner = AF_INET,
		.spi12 = 0x5e000211, .spi21 = 0x5e000212,
		.reqid = REQID_LO + 5,
		.lft = { .hard_packets = 8 },
	};
	const char *ip1 = site_ip(AF_INET, 1), *ip2 = site_ip(AF_INET, 2);
	struct xfrm_listener *l = NULL;
	struct xfrm_sa_stats st;
	struct timespec t0, now;
	int hard12 = 0, other = 0;

	test_begin("%s", t.name);
	if (!CHECK_RC(xfrm_listener_open(&l, ns_gw1, REQID_LO, REQID_HI), 0))
		goto out;
	if (!tunnel_install(&t))
		goto out;
	CHECK_RC(udp_echo(ip1, ip2, 8), 8);
	/* The 9th must not arrive; 2 s is ample when it would (about 1 ms
	 * round trip under emulation). */
	printf("  a 9th datagram, to be dropped at gw1:\n");
	CHECK_RC(udp_echo_wait(ip1, ip2, 1, 2000), 0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (hard12 == 0) {
		struct pollfd p = { .fd = xfrm_listener_fd(l),
				    .events = POLLIN };
		struct xfrm_expire ev[8];
		size_t n = 0, i;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 30)
			break;
		if (poll(&p, 1, 1000) <= 0)
			continue;
		if (!CHECK_RC(xfrm_listener_read(l, ev, 8, &n), 0))
			break;
		for (i = 0; i < n; i++) {
			printf("  gw1: %s expiry spi 0x%08x\n",
			       ev[i].hard ? "hard" : "soft", ev[i].spi);
			if (ev[i].hard && ev[i].spi == t.spi12 &&
			    ev[i].reqid == t.reqid)
				hard12++;
			else
				other++;
		}
	}
	CHECK(hard12 == 1);
	CHECK(other == 0);
	/* The expired SA is gone, its peer SA saw the 8 packets. */
	CHECK_RC(xfrm_sa_stats(x1, &t.sa12.dst, t.spi12, &st), -ENOENT);
	if (CHECK_RC(xfrm_sa_stats(x2, &t.sa12.dst, t.spi12, &st), 0))
		CHECK_EQ_U64(st.packets, 8);
	/* gw1 keeps its inbound SA and 3 policies. */
	tunnel_flush_n(&t, 4, 5);
	if (l)
		xfrm_listener_close(l);
	test_end();
	return;
out:
	tunnel_flush(&t);
	if (l)
		xfrm_listener_close(l);
	test_end();
}

/* ---- error paths --------------------------------------------------------- */

static int mentions(const char *msg, const char *what)
{
	if (strstr(msg, what))
		return 1;
	printf("  message \"%s\" does not mention \"%s\"\n", msg, what);
	return 0;
}

/* With one tunnel installed, each bad request fails with its errno and a
 * message naming the object, and the kernel's SA and policy set in both
 * gateways stays exactly as it was. */
static void test_errors(void)
{
	struct tunnel t = {
		.name = "error paths leave the SA and policy set unchanged",
		.aead = XFRM_AEAD_AES256_GCM,
		.outer = AF_INET, .inner = AF_INET,
		.spi12 = 0x5e000301, .spi21 = 0x5e000302,
		.reqid = REQID_LO + 3,
	};
	static char before1[8192], before2[8192], after[8192];
	struct xfrm_sa bad;
	struct xfrm_policy pol;
	char spi[16];
	int rc;

	test_begin("%s", t.name);
	if (!tunnel_install(&t))
		goto out;
	kernel_set(ns_gw1, before1, sizeof(before1));
	kernel_set(ns_gw2, before2, sizeof(before2));
	CHECK(strstr(before1, "0x5e000301") != NULL);

	/* Unknown algorithm (not in enum xfrm_aead). */
	bad = t.sa12;
	bad.spi = 0x5e000303;
	bad.aead = (enum xfrm_aead)77;
	rc = xfrm_sa_add(x1, &bad);
	printf("  unknown algorithm: %d, \"%s\"\n", rc, xfrm_error(x1));
	CHECK(rc < 0);
	CHECK(xfrm_error(x1)[0] != 0);
	snprintf(spi, sizeof(spi), "0x%08x", bad.spi);
	CHECK(mentions(xfrm_error(x1), spi));

	/* A key of the wrong length for the algorithm. */
	bad = t.sa12;
	bad.spi = 0x5e000304;
	bad.key_len = 20; /* AES-256-GCM needs 36 */
	rc = xfrm_sa_add(x1, &bad);
	printf("  key length 20: %d, \"%s\"\n", rc, xfrm_error(x1));
	CHECK(rc < 0);
	snprintf(spi, sizeof(spi), "0x%08x", bad.spi);
	CHECK(mentions(xfrm_error(x1), spi));

	/* Duplicate SPI (same dst and SPI, other key): the kernel's EEXIST. */
	bad = t.sa12;
	fill_key(bad.key, bad.key_len, 0x33);
	rc = xfrm_sa_add(x1, &bad);
	printf("  duplicate SPI: %d, \"%s\"\n", rc, xfrm_error(x1));
	CHECK_RC(rc, -EEXIST);
	snprintf(spi, sizeof(spi), "0x%08x", bad.spi);
	CHECK(mentions(xfrm_error(x1), spi));
	CHECK(mentions(xfrm_error(x1), "EEXIST"));
	rc = xfrm_sa_add(x2, &t.sa21);
	CHECK_RC(rc, -EEXIST);
	CHECK(mentions(xfrm_error(x2), "EEXIST"));

	/* Duplicate policy (same selector and direction). */
	pol = t.pol[0];
	rc = xfrm_policy_add(x1, &pol);
	printf("  duplicate policy: %d, \"%s\"\n", rc, xfrm_error(x1));
	CHECK_RC(rc, -EEXIST);
	CHECK(mentions(xfrm_error(x1), "EEXIST"));

	/* Deleting what does not exist: ENOENT, nothing else touched. */
	rc = xfrm_sa_delete(x1, &t.sa12.dst, 0x5e0003ff);
	printf("  delete missing SA: %d, \"%s\"\n", rc, xfrm_error(x1));
	CHECK_RC(rc, -ENOENT);
	CHECK(mentions(xfrm_error(x1), "ENOENT"));

	kernel_set(ns_gw1, after, sizeof(after));
	if (!CHECK(strcmp(before1, after) == 0))
		printf("  gw1 before:\n%s  gw1 after:\n%s", before1, after);
	kernel_set(ns_gw2, after, sizeof(after));
	if (!CHECK(strcmp(before2, after) == 0))
		printf("  gw2 before:\n%s  gw2 after:\n%s", before2, after);
	/* The tunnel still works. */
	CHECK_RC(udp_echo(site_ip(AF_INET, 1), site_ip(AF_INET, 2), 2), 2);
out:
	tunnel_flush(&t);
	test_end();
}

/* xfrm_flush removes only objects in the context's reqid range: an SA and
 * a policy made with iproute2 under another reqid survive it. */
static void test_flush_spares_foreign(void)
{
	struct tunnel t = {
		.name = "xfrm_flush spares SAs and policies outside its reqids",
		.aead = XFRM_AEAD_CHACHA20_POLY1305,
		.outer = AF_INET, .inner = AF_INET,
		.spi12 = 0x5e000401, .spi21 = 0x5e000402,
		.reqid = REQID_LO + 4,
	};
	char set[8192];

	test_begin("%s", t.name);
	if (!CHECK(run_ip("ip -n %s xfrm state add src 192.0.2.1 dst "
			  "192.0.2.2 proto esp spi 0x00e2e0f1 reqid 0xe2e001 "
			  "mode tunnel aead 'rfc4106(gcm(aes))' "
			  "0x0102030405060708090a0b0c0d0e0f1011121314 128",
			  ns_gw1) == 0) ||
	    !CHECK(run_ip("ip -n %s xfrm policy add src 198.51.100.64/26 dst "
			  "203.0.113.64/26 dir out tmpl src 192.0.2.1 dst "
			  "192.0.2.2 proto esp reqid 0xe2e001 mode tunnel",
			  ns_gw1) == 0))
		goto out;
	if (!tunnel_install(&t))
		goto out;
	CHECK_RC(xfrm_flush(x1), 5);
	kernel_set(ns_gw1, set, sizeof(set));
	CHECK(strstr(set, "0x00e2e0f1") != NULL);
	CHECK(strstr(set, "198.51.100.64/26") != NULL);
	CHECK(strstr(set, "0x5e000401") == NULL);
	CHECK(strstr(set, "0x5e000402") == NULL);
	CHECK(strstr(set, "198.51.100.0/24") == NULL);
	CHECK_RC(xfrm_flush(x1), 0);
out:
	run_ip("ip -n %s xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto "
	       "esp spi 0x00e2e0f1", ns_gw1);
	run_ip("ip -n %s xfrm policy delete src 198.51.100.64/26 dst "
	       "203.0.113.64/26 dir out", ns_gw1);
	tunnel_flush_n(&t, 0, 5);
	test_end();
}

int main(int argc, char **argv)
{
	struct tunnel tunnels[] = {
		{ .name = "AES-128-GCM, IPv4: ping + UDP echo through ESP",
		  .aead = XFRM_AEAD_AES128_GCM, .outer = AF_INET,
		  .inner = AF_INET, .spi12 = 0x5e000101, .spi21 = 0x5e000102 },
		{ .name = "AES-256-GCM with ESN, IPv4",
		  .aead = XFRM_AEAD_AES256_GCM, .esn = true,
		  .replay_window = 128, .outer = AF_INET, .inner = AF_INET,
		  .spi12 = 0x5e000111, .spi21 = 0x5e000112 },
		{ .name = "ChaCha20-Poly1305, IPv4",
		  .aead = XFRM_AEAD_CHACHA20_POLY1305, .replay_window = 64,
		  .outer = AF_INET, .inner = AF_INET,
		  .spi12 = 0x5e000121, .spi21 = 0x5e000122 },
		{ .name = "AES-256-GCM, IPv6 selectors over IPv6",
		  .aead = XFRM_AEAD_AES256_GCM, .outer = AF_INET6,
		  .inner = AF_INET6, .spi12 = 0x5e000131, .spi21 = 0x5e000132 },
		{ .name = "ChaCha20-Poly1305 with ESN, IPv6 over IPv6",
		  .aead = XFRM_AEAD_CHACHA20_POLY1305, .esn = true,
		  .replay_window = 256, .outer = AF_INET6, .inner = AF_INET6,
		  .spi12 = 0x5e000141, .spi21 = 0x5e000142 },
		{ .name = "AES-128-GCM, IPv6 selectors over IPv4",
		  .aead = XFRM_AEAD_AES128_GCM, .outer = AF_INET,
		  .inner = AF_INET6, .spi12 = 0x5e000151, .spi21 = 0x5e000152 },
	};
	size_t i;
	int rc;

	if (argc != 5) {
		fprintf(stderr, "usage: %s SITE1 GW1 GW2 SITE2\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	ns_site1 = argv[1];
	ns_gw1 = argv[2];
	ns_gw2 = argv[3];
	ns_site2 = argv[4];

	test_begin("xfrm_open in both gateways");
	rc = xfrm_open(&x1, ns_gw1, REQID_LO, REQID_HI);
	CHECK_RC(rc, 0);
	if (rc == 0)
		CHECK_RC(xfrm_open(&x2, ns_gw2, REQID_LO, REQID_HI), 0);
	if (!test_end() || !x1 || !x2)
		return test_main_end(argv[0]);

	for (i = 0; i < sizeof(tunnels) / sizeof(tunnels[0]); i++) {
		tunnels[i].reqid = REQID_LO + 0x10 + (uint32_t)i;
		run_tunnel(&tunnels[i]);
	}
	test_soft_expiry();
	test_hard_expiry();
	test_errors();
	test_flush_spares_foreign();

	xfrm_close(x1);
	xfrm_close(x2);
	return test_main_end(argv[0]);
}
