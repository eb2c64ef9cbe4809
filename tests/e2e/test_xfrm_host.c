/* xfrm/ against the running kernel, in a private network namespace.
 *
 * usage: test_xfrm_host [ignored...]   (as root; tests/e2e/run.sh passes
 * the topology's namespace names, which this program does not use)
 *
 * The process first moves into network and mount namespaces of its own
 * (unshare), so nothing it does is seen by the host or by other tests;
 * a second private network namespace, named under a private tmpfs on
 * /run, checks xfrm_open(name). Everything else runs in the first.
 *
 * Without ESP (the development host: XFRM but no ESP, no GCM): policies
 * add/update/delete as seen by `ip xfrm policy`, duplicate policy EEXIST,
 * ALLOCSPI and the larval SA's hard expiry on the listener, the refused SA
 * (-ENOSYS, "not available") changing nothing, flush scope, socket bypass
 * (a plain socket's datagram dropped by an out policy, a bypassed one not).
 * With ESP (the VM): also SA add (both algorithms, ESN, mark, if_id,
 * lifetimes, IPv6 over IPv4), counters, duplicate SPI, delete, UPDSA of an
 * allocated SPI, rollover and its step-numbered failure, and 200 of each
 * in a row.
 * The ESP cases are skipped, with the reason printed, only when the kernel
 * refuses an AEAD SA with ENOSYS or EPROTONOSUPPORT.
 */
#include "xfrm/xfrm.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/test.h"

#define LO 0x7e570000u /* this context's reqids */
#define HI 0x7e5700ffu
#define OTHER_LO 0x7e580000u /* a second context's, never ours */
#define OTHER_HI 0x7e5800ffu

static struct xfrm_ctx *x;
static int have_esp = -1; /* unknown until probed */
static char esp_reason[512];

/* ---- helpers ------------------------------------------------------------- */

/* Runs a shell command in this process's namespaces; its output into buf
 * (NUL-terminated). Returns the exit status, -1 if it could not run. */
static int sh(char *buf, size_t cap, const char *cmd)
{
	FILE *f = popen(cmd, "r");
	size_t n = 0;
	int st;

	if (buf && cap)
		buf[0] = 0;
	if (!f)
		return -1;
	if (buf && cap) {
		n = fread(buf, 1, cap - 1, f);
		buf[n] = 0;
	} else {
		char tmp[512];

		while (fread(tmp, 1, sizeof(tmp), f) > 0)
			;
	}
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `ip xfrm state` and `ip xfrm policy` output (the kernel's whole set). */
static void kernel_set(char *buf, size_t cap)
{
	sh(buf, cap, "ip xfrm state list 2>&1; echo ----; "
		     "ip xfrm policy list 2>&1");
}

static int mentions(const char *msg, const char *what)
{
	if (strstr(msg, what))
		return 1;
	printf("  \"%s\" does not mention \"%s\"\n", msg, what);
	return 0;
}

static void addr(struct xfrm_addr *a, const char *s)
{
	if (xfrm_addr_parse(a, s))
		abort();
}

static void sel(struct xfrm_selector *s, const char *src, int sp,
		const char *dst, int dp)
{
	memset(s, 0, sizeof(*s));
	addr(&s->src, src);
	addr(&s->dst, dst);
	s->src_plen = (uint8_t)sp;
	s->dst_plen = (uint8_t)dp;
}

/* A policy site1 -> site2 (or back) between 192.0.2.1 and 192.0.2.2. */
static void policy(struct xfrm_policy *p, enum xfrm_dir dir, uint32_t reqid,
		   uint32_t spi)
{
	memset(p, 0, sizeof(*p));
	p->dir = dir;
	if (dir == XFRM_DIR_OUT) {
		sel(&p->sel, "198.51.100.0", 24, "203.0.113.0", 24);
		addr(&p->tmpl_src, "192.0.2.1");
		addr(&p->tmpl_dst, "192.0.2.2");
	} else {
		sel(&p->sel, "203.0.113.0", 24, "198.51.100.0", 24);
		addr(&p->tmpl_src, "192.0.2.2");
		addr(&p->tmpl_dst, "192.0.2.1");
	}
	p->reqid = reqid;
	p->spi = spi;
	p->priority = 100;
}

static void sa_init(struct xfrm_sa *sa, enum xfrm_aead a, const char *src,
		    const char *dst, uint32_t spi, uint32_t reqid)
{
	size_t i;

	memset(sa, 0, sizeof(*sa));
	addr(&sa->src, src);
	addr(&sa->dst, dst);
	sa->spi = spi;
	sa->reqid = reqid;
	sa->aead = a;
	sa->key_len = xfrm_aead_key_len(a);
	for (i = 0; i < sa->key_len; i++)
		sa->key[i] = (uint8_t)(0xa0 + i + spi);
	sa->replay_window = 32;
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle))) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* ---- namespaces ---------------------------------------------------------- */

static char ns_name[64];
static int ns_a_fd = -1; /* the private namespace everything runs in */

/* xfrm_open(name) works in the named namespace and returns the caller to
 * its own: a policy made through it is seen there and not here. */
static void test_open_named(void)
{
	struct xfrm_ctx *xb = NULL;
	struct xfrm_policy p;
	struct stat before, after;
	char out[4096], cmd[256];
	int fd;

	snprintf(ns_name, sizeof(ns_name), "epxh%d", (int)getpid());
	/* A private tmpfs on /run in our own mount namespace: the name is
	 * seen by this process (and its children) only, and nothing is
	 * created on the host's /run. */
	if (!CHECK(unshare(CLONE_NEWNS) == 0) ||
	    !CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0) ||
	    !CHECK(mount("tmpfs", "/run", "tmpfs", 0, "size=64k") == 0) ||
	    !CHECK(mkdir("/run/netns", 0755) == 0))
		return;
	snprintf(out, sizeof(out), "/run/netns/%s", ns_name);
	fd = open(out, O_CREAT | O_RDONLY | O_CLOEXEC, 0444);
	if (!CHECK(fd >= 0))
		return;
	close(fd);
	/* Namespace B: made, bound to the name, then left again. */
	if (!CHECK(unshare(CLONE_NEWNET) == 0) ||
	    !CHECK(mount("/proc/thread-self/ns/net", out, NULL, MS_BIND,
			 NULL) == 0) ||
	    !CHECK(setns(ns_a_fd, CLONE_NEWNET) == 0))
		return;

	CHECK(stat("/proc/thread-self/ns/net", &before) == 0);
	CHECK_RC(xfrm_open(&xb, ns_name, OTHER_LO, OTHER_HI), 0);
	CHECK(stat("/proc/thread-self/ns/net", &after) == 0);
	CHECK(before.st_ino == after.st_ino);
	if (!xb)
		return;
	policy(&p, XFRM_DIR_OUT, OTHER_LO + 1, 0x1001);
	CHECK_RC(xfrm_policy_add(xb, &p), 0);
	sh(out, sizeof(out), "ip xfrm policy list");
	CHECK(strstr(out, "198.51.100.0/24") == NULL);
	snprintf(cmd, sizeof(cmd), "ip -n %s xfrm policy list", ns_name);
	sh(out, sizeof(out), cmd);
	CHECK(strstr(out, "198.51.100.0/24") != NULL);
	CHECK_RC(xfrm_flush(xb), 1);
	xfrm_close(xb);
	/* A name that does not exist: ENOENT, and we are still here. */
	xb = NULL;
	CHECK_RC(xfrm_open(&xb, "epxh-no-such-ns", LO, HI), -ENOENT);
	CHECK(xb == NULL);
	CHECK(stat("/proc/thread-self/ns/net", &after) == 0);
	CHECK(before.st_ino == after.st_ino);
}

/* ---- policies ------------------------------------------------------------ */

static void test_policies(void)
{
	struct xfrm_policy out, in, fwd;
	char set[32768], want[96];
	int rc;

	policy(&out, XFRM_DIR_OUT, LO + 1, 0x1001);
	policy(&in, XFRM_DIR_IN, LO + 1, 0);
	policy(&fwd, XFRM_DIR_FWD, LO + 1, 0);
	CHECK_RC(xfrm_policy_add(x, &out), 0);
	CHECK_RC(xfrm_policy_add(x, &in), 0);
	CHECK_RC(xfrm_policy_add(x, &fwd), 0);
	sh(set, sizeof(set), "ip xfrm policy list");
	CHECK_EQ_U64(count_of(set, "src 198.51.100.0/24 dst 203.0.113.0/24"),
		     1);
	CHECK_EQ_U64(count_of(set, "src 203.0.113.0/24 dst 198.51.100.0/24"),
		     2);
	CHECK(strstr(set, "dir out priority 100") != NULL);
	CHECK(strstr(set, "dir in priority 100") != NULL);
	CHECK(strstr(set, "dir fwd priority 100") != NULL);
	snprintf(want, sizeof(want), "proto esp spi 0x00001001 reqid %u "
		 "mode tunnel", LO + 1);
	CHECK(strstr(set, want) != NULL);
	snprintf(want, sizeof(want), "proto esp reqid %u mode tunnel", LO + 1);
	CHECK_EQ_U64(count_of(set, want), 2);
	CHECK_EQ_U64(count_of(set, "spi 0x"), 1);

	/* The switch: the out template names the new SPI. */
	out.spi = 0x1002;
	CHECK_RC(xfrm_policy_update(x, &out), 0);
	sh(set, sizeof(set), "ip xfrm policy list");
	CHECK(strstr(set, "spi 0x00001002") != NULL);
	CHECK(strstr(set, "spi 0x00001001") == NULL);
	CHECK_EQ_U64(count_of(set, "dir out"), 1);

	/* An SPI in an in template is refused before the kernel. */
	in.spi = 0x1002;
	rc = xfrm_policy_update(x, &in);
	printf("  in policy with an SPI: %d, \"%s\"\n", rc, xfrm_error(x));
	CHECK_RC(rc, -EINVAL);
	CHECK(mentions(xfrm_error(x), "EINVAL"));
	in.spi = 0;

	CHECK_RC(xfrm_policy_delete(x, &out), 0);
	CHECK_RC(xfrm_policy_delete(x, &in), 0);
	CHECK_RC(xfrm_policy_delete(x, &fwd), 0);
	sh(set, sizeof(set), "ip xfrm policy list");
	CHECK(set[0] == 0);
}

static void test_policy_errors(void)
{
	struct xfrm_policy out;
	char before[32768], after[32768];
	int rc;

	policy(&out, XFRM_DIR_OUT, LO + 2, 0x2001);
	CHECK_RC(xfrm_policy_add(x, &out), 0);
	kernel_set(before, sizeof(before));
	rc = xfrm_policy_add(x, &out);
	printf("  duplicate policy: %d, \"%s\"\n", rc, xfrm_error(x));
	CHECK_RC(rc, -EEXIST);
	CHECK(mentions(xfrm_error(x), "add policy out 198.51.100.0/24 -> "
				      "203.0.113.0/24"));
	CHECK(mentions(xfrm_error(x), "File exists (EEXIST)"));
	kernel_set(after, sizeof(after));
	CHECK(strcmp(before, after) == 0);
	CHECK_RC(xfrm_policy_delete(x, &out), 0);
	rc = xfrm_policy_delete(x, &out);
	printf("  delete missing policy: %d, \"%s\"\n", rc, xfrm_error(x));
	CHECK_RC(rc, -ENOENT);
	CHECK(mentions(xfrm_error(x), "delete policy out"));
	CHECK(mentions(xfrm_error(x), "(ENOENT)"));
	rc = xfrm_policy_update(x, &out); /* UPDPOLICY also creates */
	CHECK_RC(rc, 0);
	CHECK_RC(xfrm_policy_delete(x, &out), 0);
}

/* ---- SAs without ESP: the probe, ALLOCSPI, the refused SA ---------------- */

/* Tries to install an AEAD SA: decides have_esp. Without ESP the kernel's
 * answer must be the "algorithm not available" one, and nothing changes. */
static void test_sa_probe(void)
{
	struct xfrm_sa sa;
	char before[32768], after[32768];
	int rc, rc2;

	sa_init(&sa, XFRM_AEAD_AES128_GCM, "192.0.2.1", "192.0.2.2",
		0x3001, LO + 3);
	kernel_set(before, sizeof(before));
	rc = xfrm_sa_add(x, &sa);
	printf("  AES-128-GCM SA: %d, \"%s\"\n", rc, xfrm_error(x));
	if (rc == 0) {
		have_esp = 1;
		CHECK_RC(xfrm_sa_delete(x, &sa.dst, sa.spi), 0);
		kernel_set(after, sizeof(after));
		CHECK(strcmp(before, after) == 0);
		return;
	}
	have_esp = 0;
	/* This host's kernel: no rfc4106(gcm(aes)) -> ENOSYS, before any
	 * check of the ESP type itself. */
	CHECK_RC(rc, -ENOSYS);
	CHECK(mentions(xfrm_error(x), "add SA spi 0x00003001 dst 192.0.2.2: "
				      "Function not implemented (ENOSYS)"));
	CHECK(mentions(xfrm_error(x), "algorithm rfc4106(gcm(aes)) not "
				      "available in this kernel"));
	sa_init(&sa, XFRM_AEAD_CHACHA20_POLY1305, "192.0.2.1", "192.0.2.2",
		0x3002, LO + 3);
	rc2 = xfrm_sa_add(x, &sa);
	printf("  ChaCha20-Poly1305 SA: %d, \"%s\"\n", rc2, xfrm_error(x));
	CHECK_RC(rc2, -ENOSYS);
	CHECK(mentions(xfrm_error(x), "algorithm rfc7539esp(chacha20,poly1305)"
				      " not available"));
	kernel_set(after, sizeof(after));
	CHECK(strcmp(before, after) == 0);
	{
		struct utsname u;

		uname(&u);
		snprintf(esp_reason, sizeof(esp_reason),
			 "kernel %.64s cannot install ESP SAs: %.400s",
			 u.release, xfrm_error(x));
	}
}

/* ALLOCSPI: a larval SA with an SPI in range, under our reqid. */
static void test_alloc_spi(void)
{
	struct xfrm_addr s, d;
	struct xfrm_sa sa;
	uint32_t spi = 0, spi2 = 0;
	char set[32768], want[64];
	int rc, i;

	addr(&s, "192.0.2.1");
	addr(&d, "192.0.2.2");
	rc = xfrm_alloc_spi(x, &s, &d, LO + 4, 0x4000, 0x40ff, &spi);
	printf("  ALLOCSPI: %d, spi 0x%08x \"%s\"\n", rc, spi, xfrm_error(x));
	CHECK_RC(rc, 0);
	CHECK(spi >= 0x4000 && spi <= 0x40ff);
	snprintf(want, sizeof(want), "spi 0x%08x reqid %u", spi, LO + 4);
	sh(set, sizeof(set), "ip xfrm state list");
	CHECK(strstr(set, want) != NULL);
	/* A one-SPI range that is taken: the kernel says ENOENT. */
	rc = xfrm_alloc_spi(x, &s, &d, LO + 5, spi, spi, &spi2);
	printf("  ALLOCSPI of a taken SPI: %d, \"%s\"\n", rc, xfrm_error(x));
	CHECK(rc < 0);
	CHECK(mentions(xfrm_error(x), "allocate SPI"));
	CHECK(spi2 == 0);
	/* Filling it in (UPDSA). */
	sa_init(&sa, XFRM_AEAD_AES256_GCM, "192.0.2.1", "192.0.2.2", spi,
		LO + 4);
	rc = xfrm_sa_add(x, &sa);
	printf("  UPDSA of the allocated SPI: %d, \"%s\"\n", rc,
	       xfrm_error(x));
	if (have_esp) {
		CHECK_RC(rc, 0);
		sh(set, sizeof(set), "ip xfrm state list");
		CHECK(strstr(set, "rfc4106(gcm(aes))") != NULL);
		CHECK_EQ_U64(count_of(set, want), 1);
	} else {
		CHECK_RC(rc, -ENOSYS);
		CHECK(mentions(xfrm_error(x), "update SA spi"));
		CHECK(mentions(xfrm_error(x), "not available"));
	}
	CHECK_RC(xfrm_sa_delete(x, &d, spi), 0);
	sh(set, sizeof(set), "ip xfrm state list");
	CHECK(strstr(set, want) == NULL);
	rc = xfrm_sa_delete(x, &d, spi);
	printf("  delete missing SA: %d, \"%s\"\n", rc, xfrm_error(x));
	CHECK_RC(rc, -ENOENT);
	CHECK(mentions(xfrm_error(x), "(ENOENT)"));
	/* The kernel keeps the larval SA it made for that request, with SPI
	 * 0: no DELSA can name it (ESP SAs are looked up by SPI), so
	 * xfrm_flush leaves it; it expires after net.core.xfrm_acq_expires
	 * (2 s in this namespace). */
	for (i = 0; i < 80; i++) {
		sh(set, sizeof(set), "ip xfrm state list");
		if (!strstr(set, "spi 0x00000000"))
			break;
		usleep(250000);
	}
	CHECK(strstr(set, "spi 0x00000000") == NULL);

}

/* ---- flush scope --------------------------------------------------------- */

static void test_flush_scope(void)
{
	struct xfrm_ctx *other = NULL;
	struct xfrm_policy p;
	struct xfrm_addr s, d;
	uint32_t spi;
	char set[32768], want[64];
	int n = 0;

	if (!CHECK_RC(xfrm_open(&other, NULL, OTHER_LO, OTHER_HI), 0))
		return;
	addr(&s, "192.0.2.1");
	addr(&d, "192.0.2.2");
	/* Ours: 3 policies, 2 larval SAs. */
	policy(&p, XFRM_DIR_OUT, LO + 6, 0x6001);
	n += CHECK_RC(xfrm_policy_add(x, &p), 0);
	policy(&p, XFRM_DIR_IN, LO + 6, 0);
	n += CHECK_RC(xfrm_policy_add(x, &p), 0);
	policy(&p, XFRM_DIR_FWD, HI, 0);
	n += CHECK_RC(xfrm_policy_add(x, &p), 0);
	n += CHECK_RC(xfrm_alloc_spi(x, &s, &d, LO, 0x6000, 0x60ff, &spi),
			 0);
	n += CHECK_RC(xfrm_alloc_spi(x, &d, &s, HI, 0x6000, 0x60ff, &spi),
			 0);
	/* Not ours: the other context's, and one made by iproute2. */
	policy(&p, XFRM_DIR_OUT, OTHER_LO, 0);
	p.sel.src_plen = 25;
	CHECK_RC(xfrm_policy_add(other, &p), 0);
	CHECK_RC(xfrm_alloc_spi(other, &s, &d, OTHER_LO, 0x6100, 0x61ff, &spi),
		 0);
	CHECK(sh(NULL, 0, "ip xfrm policy add src 198.51.100.64/26 dst "
			  "203.0.113.64/26 dir out tmpl src 192.0.2.1 dst "
			  "192.0.2.2 proto esp reqid 0x7e570100 mode tunnel") ==
	      0);
	if (have_esp == 1) {
		struct xfrm_sa sa;

		sa_init(&sa, XFRM_AEAD_CHACHA20_POLY1305, "192.0.2.1",
			"192.0.2.2", 0x6201, LO + 7);
		sa.mark = 7;
		sa.mark_mask = 0xff;
		n += CHECK_RC(xfrm_sa_add(x, &sa), 0);
	}

	CHECK_RC(xfrm_flush(x), n);
	sh(set, sizeof(set), "ip xfrm policy list; ip xfrm state list");
	CHECK(strstr(set, "198.51.100.0/25") != NULL);
	CHECK(strstr(set, "198.51.100.64/26") != NULL);
	CHECK(strstr(set, "198.51.100.0/24") == NULL);
	CHECK_EQ_U64(count_of(set, "203.0.113.0/24"), 1); /* the /25 one */
	snprintf(want, sizeof(want), "reqid %u ", OTHER_LO);
	CHECK_EQ_U64(count_of(set, want), 2);
	snprintf(want, sizeof(want), "reqid %u ", HI + 1); /* iproute2's */
	CHECK_EQ_U64(count_of(set, want), 1);
	CHECK_EQ_U64(count_of(set, "src 192.0.2."), 4); /* 1 SA, 3 tmpl */
	CHECK_RC(xfrm_flush(x), 0);
	CHECK_RC(xfrm_flush(other), 2);
	CHECK(sh(NULL, 0, "ip xfrm policy delete src 198.51.100.64/26 dst "
			  "203.0.113.64/26 dir out") == 0);
	sh(set, sizeof(set), "ip xfrm policy list; ip xfrm state list");
	CHECK(set[0] == 0);
	xfrm_close(other);
}

/* ---- socket bypass, listener --------------------------------------------- */

static void test_bypass(void)
{
	int fd4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int fd6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	CHECK(fd4 >= 0 && fd6 >= 0);
	CHECK_RC(xfrm_socket_bypass(fd4, AF_INET), 0);
	CHECK_RC(xfrm_socket_bypass(fd6, AF_INET6), 0);
	CHECK_RC(xfrm_socket_bypass(fd4, AF_UNIX), -EAFNOSUPPORT);
	CHECK_RC(xfrm_socket_bypass(-1, AF_INET), -EBADF);
	close(fd4);
	close(fd6);
}

/* The bypass works: with an out policy for 192.0.2.1 -> 192.0.2.2 and no
 * SA, a plain UDP socket's datagram is dropped while a bypassed socket's
 * goes out (seen on the far end of a veth pair). The plain one is sent
 * first, so had it gone out it would be seen first. */
static void test_bypass_traffic(void)
{
	struct xfrm_policy p;
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(50999) };
	struct sockaddr_ll ll = { .sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_IP) };
	int ps = -1, a = -1, b = -1, i, seen_bypass = 0, seen_plain = 0;
	ssize_t ra;

	memset(&p, 0, sizeof(p));
	sel(&p.sel, "192.0.2.1", 32, "192.0.2.2", 32);
	p.dir = XFRM_DIR_OUT;
	addr(&p.tmpl_src, "192.0.2.1");
	addr(&p.tmpl_dst, "192.0.2.2");
	p.reqid = LO + 30;
	if (!CHECK(sh(NULL, 0, "ip link add epxv0 type veth peer name epxv1 "
			      "&& ip link set epxv0 up && ip link set epxv1 up "
			      "&& ip addr add 192.0.2.1/24 dev epxv0 && "
			      "ip neigh add 192.0.2.2 lladdr 02:00:00:00:00:02 "
			      "dev epxv0") == 0))
		goto out;
	ll.sll_ifindex = (int)if_nametoindex("epxv1");
	ps = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
	if (!CHECK(ps >= 0) || !CHECK(ll.sll_ifindex > 0) ||
	    !CHECK(bind(ps, (struct sockaddr *)&ll, sizeof(ll)) == 0))
		goto out;
	if (!CHECK_RC(xfrm_policy_add(x, &p), 0))
		goto out;
	inet_pton(AF_INET, "192.0.2.2", &to.sin_addr);
	a = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	b = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (!CHECK(a >= 0 && b >= 0) ||
	    !CHECK_RC(xfrm_socket_bypass(b, AF_INET), 0))
		goto out;
	ra = sendto(a, "plain", 5, 0, (struct sockaddr *)&to, sizeof(to));
	printf("  plain socket: sendto %zd (%s)\n", ra,
	       ra < 0 ? strerror(errno) : "accepted");
	CHECK(sendto(b, "bypass", 6, 0, (struct sockaddr *)&to, sizeof(to)) ==
	      6);
	/* Up to 10 s for the bypassed datagram; the plain one never. */
	for (i = 0; i < 100 && !seen_bypass; i++) {
		struct pollfd pf = { .fd = ps, .events = POLLIN };
		uint8_t pkt[256];
		ssize_t n;

		if (poll(&pf, 1, 100) <= 0)
			continue;
		while ((n = recv(ps, pkt, sizeof(pkt), MSG_DONTWAIT)) > 0) {
			size_t ihl = (size_t)(pkt[0] & 15) * 4;

			if (n < (ssize_t)(ihl + 8) || pkt[9] != IPPROTO_UDP ||
			    pkt[ihl + 2] != (50999 >> 8) ||
			    pkt[ihl + 3] != (50999 & 255))
				continue;
			if ((size_t)n >= ihl + 14 &&
			    !memcmp(pkt + ihl + 8, "bypass", 6))
				seen_bypass++;
			else
				seen_plain++;
		}
	}
	CHECK_EQ_U64(seen_bypass, 1);
	CHECK_EQ_U64(seen_plain, 0);
	CHECK_RC(xfrm_policy_delete(x, &p), 0);
out:
	if (ps >= 0)
		close(ps);
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	sh(NULL, 0, "ip link del epxv0 2>/dev/null");
}

/* The listener reads nothing while nothing expires; an allocated SPI's
 * larval SA expires (hard) after net.core.xfrm_acq_expires seconds, set
 * to 2 in this namespace, and that event arrives, for our reqid only. */
static void test_listener(void)
{
	struct xfrm_listener *l = NULL;
	struct xfrm_ctx *other = NULL;
	struct xfrm_expire ev[4];
	struct xfrm_addr s, d;
	uint32_t spi = 0, spi_other = 0;
	size_t n = 99, got = 0;
	int i;

	if (!CHECK_RC(xfrm_listener_open(&l, NULL, LO, HI), 0))
		return;
	CHECK(fcntl(xfrm_listener_fd(l), F_GETFL) & O_NONBLOCK);
	CHECK_RC(xfrm_listener_read(l, ev, 4, &n), 0);
	CHECK_EQ_U64(n, 0);

	addr(&s, "192.0.2.1");
	addr(&d, "192.0.2.2");
	CHECK_RC(xfrm_open(&other, NULL, OTHER_LO, OTHER_HI), 0);
	CHECK_RC(xfrm_alloc_spi(other, &s, &d, OTHER_LO + 9, 0x9100, 0x91ff,
				&spi_other), 0);
	CHECK_RC(xfrm_alloc_spi(x, &s, &d, LO + 9, 0x9000, 0x90ff, &spi), 0);
	/* Poll generously (emulation): up to 20 s. */
	for (i = 0; i < 40 && !got; i++) {
		struct pollfd p = { .fd = xfrm_listener_fd(l),
				    .events = POLLIN };

		if (poll(&p, 1, 500) <= 0)
			continue;
		CHECK_RC(xfrm_listener_read(l, ev, 4, &n), 0);
		got += n;
	}
	CHECK_EQ_U64(got, 1);
	if (got) {
		printf("  expire: spi 0x%08x reqid 0x%08x hard %d\n", ev[0].spi,
		       ev[0].reqid, ev[0].hard);
		CHECK_EQ_U64(ev[0].spi, spi);
		CHECK_EQ_U64(ev[0].reqid, LO + 9);
		CHECK(ev[0].hard);
		CHECK(ev[0].dst.family == AF_INET &&
		      !memcmp(&ev[0].dst.a.v4, &d.a.v4, 4));
	}
	/* The other context's larval SA expired too (same timer); its event
	 * was filtered out, and both SAs are gone. */
	for (i = 0; i < 40; i++) {
		char set[4096];

		sh(set, sizeof(set), "ip xfrm state list");
		if (!set[0])
			break;
		usleep(250000);
	}
	CHECK_RC(xfrm_listener_read(l, ev, 4, &n), 0);
	CHECK_EQ_U64(n, 0);
	xfrm_close(other);
	xfrm_listener_close(l);
}

/* ---- with ESP ------------------------------------------------------------ */

static void test_sa_lifecycle(void)
{
	static const struct {
		enum xfrm_aead a;
		const char *name;
		bool esn;
		uint32_t win;
		const char *src, *dst;
	} v[] = {
		{ XFRM_AEAD_AES128_GCM, "rfc4106(gcm(aes))", false, 32,
		  "192.0.2.1", "192.0.2.2" },
		{ XFRM_AEAD_AES256_GCM, "rfc4106(gcm(aes))", true, 128,
		  "192.0.2.1", "192.0.2.2" },
		{ XFRM_AEAD_CHACHA20_POLY1305, "rfc7539esp(chacha20,poly1305)",
		  false, 256, "2001:db8::1", "2001:db8::2" },
		{ XFRM_AEAD_CHACHA20_POLY1305, "rfc7539esp(chacha20,poly1305)",
		  true, 1024, "2001:db8::1", "2001:db8::2" },
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct xfrm_sa sa;
		struct xfrm_sa_stats st;
		char set[16384], want[192];
		time_t t0 = time(NULL);
		size_t n, k;
		int ok;

		sa_init(&sa, v[i].a, v[i].src, v[i].dst, 0x7001 + (uint32_t)i,
			LO + 10);
		sa.esn = v[i].esn;
		sa.replay_window = v[i].win;
		sa.lft.soft_packets = 1000;
		sa.lft.hard_packets = 2000;
		sa.lft.soft_bytes = 1 << 20;
		sa.lft.hard_bytes = 2 << 20;
		sa.lft.soft_seconds = 3000;
		sa.lft.hard_seconds = 3600;
		sa.if_id = i == 2 ? 42 : 0;
		sa.mark = i == 3 ? 0x10 : 0;
		sa.mark_mask = i == 3 ? 0xf0 : 0;
		if (!CHECK_RC(xfrm_sa_add(x, &sa), 0)) {
			printf("  %s\n", xfrm_error(x));
			continue;
		}
		sh(set, sizeof(set), "ip -s xfrm state list");
		snprintf(want, sizeof(want),
			 "spi 0x%08x(%u) reqid %u(0x%08x) mode tunnel", sa.spi,
			 sa.spi, sa.reqid, sa.reqid);
		ok = CHECK(strstr(set, want) != NULL);
		n = (size_t)snprintf(want, sizeof(want), "aead %s 0x",
				     v[i].name);
		for (k = 0; k < sa.key_len; k++)
			n += (size_t)snprintf(want + n, sizeof(want) - n,
					      "%02x", sa.key[k]);
		snprintf(want + n, sizeof(want) - n, " (%zu bits) 128",
			 sa.key_len * 8);
		ok &= CHECK(strstr(set, want) != NULL);
		ok &= CHECK(strstr(set, "limit: soft 1048576(bytes), hard "
					"2097152(bytes)") != NULL);
		ok &= CHECK(strstr(set, "limit: soft 1000(packets), hard "
					"2000(packets)") != NULL);
		ok &= CHECK(strstr(set, "expire add: soft 3000(sec), hard "
					"3600(sec)") != NULL);
		if (v[i].esn) {
			snprintf(want, sizeof(want), "replay_window %u,",
				 v[i].win);
			ok &= CHECK(strstr(set, "anti-replay esn context") !=
				    NULL);
			ok &= CHECK(strstr(set, want) != NULL);
			/* "flag af-unspec esn": SAs without a selector carry
			 * both inner families (xfrm.h). */
			ok &= CHECK(strstr(set, "flag af-unspec esn") != NULL);
		} else if (v[i].win > 32) {
			snprintf(want, sizeof(want), "replay_window %u,",
				 v[i].win);
			ok &= CHECK(strstr(set, want) != NULL);
			ok &= CHECK(strstr(set, "af-unspec esn") == NULL);
		} else {
			ok &= CHECK(strstr(set, "replay-window 32 ") != NULL);
		}
		if (i == 2)
			ok &= CHECK(strstr(set, "if_id 0x2a") != NULL);
		if (i == 3)
			ok &= CHECK(strstr(set, "mark 0x10/0xf0") != NULL);
		if (!ok)
			printf("%s", set);
		if (!CHECK_RC(xfrm_sa_stats(x, &sa.dst, sa.spi, &st), 0))
			printf("  %s\n", xfrm_error(x));
		CHECK_EQ_U64(st.packets, 0);
		CHECK_EQ_U64(st.bytes, 0);
		CHECK_EQ_U64(st.replay_errors, 0);
		CHECK_EQ_U64(st.integrity_failed, 0);
		CHECK_EQ_U64(st.use_time, 0);
		CHECK(st.add_time >= (uint64_t)t0 - 2 &&
		      st.add_time <= (uint64_t)time(NULL) + 2);
		if (!CHECK_RC(xfrm_sa_delete(x, &sa.dst, sa.spi), 0))
			printf("  %s\n", xfrm_error(x));
		CHECK_RC(xfrm_sa_stats(x, &sa.dst, sa.spi, &st), -ENOENT);
		CHECK(mentions(xfrm_error(x), "read SA spi"));
	}
	{
		char set[4096];

		sh(set, sizeof(set), "ip xfrm state list");
		CHECK(set[0] == 0);
	}
}

/* IPv6 inner traffic over an IPv4 SA. */
static void test_sa_v6_over_v4(void)
{
	struct xfrm_sa sa;
	char set[8192];

	sa_init(&sa, XFRM_AEAD_AES128_GCM, "192.0.2.1", "192.0.2.2", 0x7101,
		LO + 11);
	sel(&sa.sel, "2001:db8:1::", 64, "2001:db8:2::", 64);
	if (!CHECK_RC(xfrm_sa_add(x, &sa), 0))
		printf("  %s\n", xfrm_error(x));
	sh(set, sizeof(set), "ip xfrm state list");
	CHECK(strstr(set, "sel src 2001:db8:1::/64 dst 2001:db8:2::/64") !=
	      NULL);
	if (!CHECK(strstr(set, "af-unspec") != NULL))
		printf("%s", set);
	CHECK_RC(xfrm_sa_delete(x, &sa.dst, sa.spi), 0);
}

static void test_sa_duplicate(void)
{
	struct xfrm_sa sa;
	char before[32768], after[32768];
	int rc;

	sa_init(&sa, XFRM_AEAD_AES256_GCM, "192.0.2.1", "192.0.2.2", 0x7201,
		LO + 12);
	CHECK_RC(xfrm_sa_add(x, &sa), 0);
	kernel_set(before, sizeof(before));
	sa.key[0] ^= 1;
	rc = xfrm_sa_add(x, &sa);
	printf("  duplicate SPI: %d, \"%s\"\n", rc, xfrm_error(x));
	CHECK_RC(rc, -EEXIST);
	CHECK(mentions(xfrm_error(x), "add SA spi 0x00007201 dst 192.0.2.2: "
				      "File exists (EEXIST)"));
	kernel_set(after, sizeof(after));
	CHECK(strcmp(before, after) == 0);
	CHECK_RC(xfrm_sa_delete(x, &sa.dst, sa.spi), 0);
}

static void test_rollover(void)
{
	struct xfrm_sa in1, out1, in2, out2, in3, out3;
	struct xfrm_policy pol;
	char set[32768];
	int rc;

	sa_init(&in1, XFRM_AEAD_AES256_GCM, "192.0.2.2", "192.0.2.1", 0x7301,
		LO + 13);
	sa_init(&out1, XFRM_AEAD_AES256_GCM, "192.0.2.1", "192.0.2.2", 0x7302,
		LO + 13);
	in2 = in1;
	in2.spi = 0x7303;
	in2.key[1] ^= 0x55;
	out2 = out1;
	out2.spi = 0x7304;
	out2.key[1] ^= 0x55;
	policy(&pol, XFRM_DIR_OUT, LO + 13, out1.spi);
	CHECK_RC(xfrm_sa_add(x, &in1), 0);
	CHECK_RC(xfrm_sa_add(x, &out1), 0);
	CHECK_RC(xfrm_policy_add(x, &pol), 0);

	rc = xfrm_rollover(x, &in2, &out2, &pol, &out1);
	if (!CHECK_RC(rc, 0))
		printf("  %s\n", xfrm_error(x));
	sh(set, sizeof(set), "ip xfrm state list; ip xfrm policy list");
	CHECK(strstr(set, "spi 0x00007301") != NULL); /* old in stays */
	CHECK(strstr(set, "spi 0x00007302") == NULL); /* old out gone */
	CHECK_EQ_U64(count_of(set, "spi 0x00007303"), 1);
	CHECK_EQ_U64(count_of(set, "spi 0x00007304"), 2); /* SA, template */

	/* Step 2 fails (the new outbound SPI exists): step 1 stays done,
	 * the policy still names 0x7304. */
	in3 = in1;
	in3.spi = 0x7305;
	out3 = out2;
	rc = xfrm_rollover(x, &in3, &out3, &pol, &out2);
	printf("  rollover onto an existing SPI: %d, \"%s\"\n", rc,
	       xfrm_error(x));
	CHECK_RC(rc, -EEXIST);
	CHECK(mentions(xfrm_error(x), "rollover step 2/4 (new outbound SA): "
				      "add SA spi 0x00007304"));
	sh(set, sizeof(set), "ip xfrm state list; ip xfrm policy list");
	CHECK(strstr(set, "spi 0x00007305") != NULL);
	CHECK_EQ_U64(count_of(set, "spi 0x00007304"), 2);
	CHECK_RC(xfrm_sa_delete(x, &in1.dst, in1.spi), 0);
	CHECK_RC(xfrm_flush(x), 4); /* in2, in3, out2, policy */
}

/* Many in a row: 200 SA add/delete pairs and 200 full make-before-break
 * sequences each leave exactly what they should (the figures come from
 * tests/e2e/bench_xfrm.c, `make bench-xfrm`). */
static void repeated(void)
{
	enum { N = 200 };
	struct xfrm_sa sa, in[2], out[2];
	struct xfrm_policy pol;
	int i, ok = 1;

	for (i = 0; i < N && ok; i++) {
		sa_init(&sa, XFRM_AEAD_AES256_GCM, "192.0.2.1", "192.0.2.2",
			0x10000 + (uint32_t)i, LO + 20);
		ok &= CHECK_RC(xfrm_sa_add(x, &sa), 0);
		ok &= CHECK_RC(xfrm_sa_delete(x, &sa.dst, sa.spi), 0);
	}

	sa_init(&in[0], XFRM_AEAD_AES256_GCM, "192.0.2.2", "192.0.2.1",
		0x20000, LO + 21);
	sa_init(&out[0], XFRM_AEAD_AES256_GCM, "192.0.2.1", "192.0.2.2",
		0x30000, LO + 21);
	policy(&pol, XFRM_DIR_OUT, LO + 21, out[0].spi);
	ok &= CHECK_RC(xfrm_sa_add(x, &in[0]), 0);
	ok &= CHECK_RC(xfrm_sa_add(x, &out[0]), 0);
	ok &= CHECK_RC(xfrm_policy_add(x, &pol), 0);
	for (i = 1; i <= N && ok; i++) {
		struct xfrm_sa *ni = &in[i & 1], *no = &out[i & 1];
		struct xfrm_sa *oi = &in[!(i & 1)], *oo = &out[!(i & 1)];

		*ni = *oi;
		ni->spi = 0x20000 + (uint32_t)i;
		*no = *oo;
		no->spi = 0x30000 + (uint32_t)i;
		ok &= CHECK_RC(xfrm_rollover(x, ni, no, &pol, oo), 0);
		ok &= CHECK_RC(xfrm_sa_delete(x, &oi->dst, oi->spi), 0);
	}
	if (!ok)
		printf("  %s\n", xfrm_error(x));
	if (ok)
		CHECK_RC(xfrm_flush(x), 3); /* in, out, policy */
	else
		xfrm_flush(x);
}

int main(int argc, char **argv)
{
	(void)argc;
	setvbuf(stdout, NULL, _IOLBF, 0);

	test_begin("private network namespace and xfrm_open");
	if (!CHECK(geteuid() == 0))
		printf("  needs root (namespaces, XFRM)\n");
	else if (CHECK(unshare(CLONE_NEWNET) == 0)) {
		ns_a_fd = open("/proc/thread-self/ns/net", O_RDONLY |
			       O_CLOEXEC);
		CHECK(ns_a_fd >= 0);
		CHECK_RC(xfrm_open(&x, NULL, LO, HI), 0);
		CHECK(xfrm_error(x)[0] == 0);
		/* Larval SAs (ALLOCSPI) live 2 s here instead of 30. */
		CHECK(sh(NULL, 0, "echo 2 >/proc/sys/net/core/"
				  "xfrm_acq_expires") == 0);
	}
	if (!test_end() || !x)
		return test_main_end(argv[0]);

	test_run("xfrm_open(name) enters and leaves a named namespace",
		 test_open_named);
	test_run("policies out/in/fwd: add, update SPI, delete (ip sees it)",
		 test_policies);
	test_run("duplicate policy EEXIST, missing ENOENT, set unchanged",
		 test_policy_errors);
	test_run("AEAD SA probe (ESP, or ENOSYS with nothing changed)",
		 test_sa_probe);
	test_run("ALLOCSPI: SPI in range, UPDSA, delete", test_alloc_spi);
	test_run("xfrm_flush deletes only its reqid range", test_flush_scope);
	test_run("socket bypass on UDP sockets", test_bypass);
	test_run("expire listener: nothing, then our larval SA's hard expiry",
		 test_listener);
	test_run("socket bypass: plain socket blocked, bypassed one sends",
		 test_bypass_traffic);
	if (have_esp == 1) {
		test_run("SA add/stats/delete: GCM, ChaCha, ESN, mark, if_id",
			 test_sa_lifecycle);
		test_run("SA with IPv6 selector over IPv4", test_sa_v6_over_v4);
		test_run("duplicate SPI EEXIST, set unchanged",
			 test_sa_duplicate);
		test_run("rollover, and its failure naming the step",
			 test_rollover);
		test_run("200 SA add/delete and 200 rollovers in a row",
			 repeated);
	} else {
		test_skip("SA add/stats/delete", esp_reason);
		test_skip("SA with IPv6 selector over IPv4", esp_reason);
		test_skip("duplicate SPI", esp_reason);
		test_skip("rollover", esp_reason);
		test_skip("200 SA add/delete and 200 rollovers", esp_reason);
	}
	test_begin("nothing left in the namespace");
	{
		char set[32768];
		int i;

		CHECK_RC(xfrm_flush(x), 0);
		/* The blocked datagram's acquire left a larval SA (SPI 0):
		 * it expires after xfrm_acq_expires (2 s). */
		for (i = 0; i < 80; i++) {
			kernel_set(set, sizeof(set));
			if (!strcmp(set, "----\n"))
				break;
			usleep(250000);
		}
		if (!CHECK(strcmp(set, "----\n") == 0))
			printf("%s", set);
	}
	test_end();
	xfrm_close(x);
	return test_main_end(argv[0]);
}
