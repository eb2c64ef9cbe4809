/* epochd end to end, denial of service (issue 7): the HELLO load rules of
 * docs/protocol.md §5 against a flood, with the two daemons of
 * daemon_harness.h (X-Wing: a HELLO is 3 fragments, a COMMIT 4).
 *
 * flood: DOS_FLOOD_ADDRS (default 100) extra addresses 192.0.2.100... are
 * added to gw1's link interface; a child process in gw1's namespace sends
 * forged HELLOs (valid headers; an empty cookie, a forged cookie, or no
 * first fragment at all; garbage KeyPackage bytes or a real KeyPackage
 * signed by a key nobody pinned, replayed) at DOS_RATE HELLOs per second
 * (default 300) towards gw2's daemon (the responder), half of them from
 * those addresses (no tunnel: dropped at the lookup) and half spoofing
 * gw1's own address 192.0.2.1, which is the tunnel's peer. Meanwhile t1
 * rekeys, alternately from each side, at least DOS_REKEYS times (default
 * 20) and for at least DOS_SECONDS (default 20), and a ping crosses the
 * tunnel. Asserted:
 *  - every rekey completes, both daemons end on one epoch, the ping
 *    passes;
 *  - gw2 sent COOKIE replies, and the HELLOs it handed to the handshake
 *    (hellos_processed: KeyPackage parsing, signature checks, group
 *    creation) grew by at most hello_burst + hello_rate * seconds of
 *    flood (+ 2 for the slot edges), not with the flood;
 *  - the datagrams from the extra addresses were counted as
 *    unknown_source;
 *  - gw2's VmRSS grew by less than 4 MiB: its reassembly buffers are
 *    capped at 1 MiB per tunnel, the rate table is allocated at start,
 *    and a per-HELLO cost (a leak or per-HELLO state of the ~3 KB a
 *    HELLO carries) would pass that within the first 1,400 HELLOs;
 *  - a new handshake started then (gw1 down, up) comes through: gw1's
 *    address is over its rate at gw2, so it takes a COOKIE round trip.
 *  It prints
 *    DOS hellos=N from=M addrs cookies=C rekeys=R rss_kb_before=X
 *        rss_kb_after=Y
 *
 * cookie_always: cookie_threshold = 0 on both: every handshake needs a
 * cookie; t1 still comes up (gw2 sent a COOKIE and let the cookie'd HELLO
 * in, gw1 acted on a COOKIE and logged it), passes a ping and rekeys.
 *
 * usage: test_daemon_dos SITE1 GW1 GW2 SITE2 (as root where ESP works;
 * tests/e2e/run.sh runs it)
 */
#include "tests/e2e/daemon_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/crypto.h"
#include "proto/mls.h"
#include "proto/mls_group.h"
#include "tests/lib/test.h"

#define REKEY_MS 60000
#define FRAG 1200          /* fragment size for the default MTU 1280 */
#define HELLO_LEN 2689     /* an X-Wing HELLO: empty cookie + KeyPackage */
#define ADDR_BASE 100      /* 192.0.2.100 ... */
/* Under ASan (this program is built with the daemon's flags) the
 * allocator's quarantine and shadow memory grow RSS with every free: a
 * looser bound, while LeakSanitizer checks leaks at the daemon's exit
 * (the harness requires exit status 0). 7 MB were measured for 14,000
 * HELLOs; a leak of one HELLO's 3 KB each would be 42 MB. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_BOUND_KB 32768
#else
#define RSS_BOUND_KB 4096
#endif
/* The defaults of epochd.conf(5). */
#define HELLO_RATE 2
#define HELLO_BURST 8

static struct dh_env env;
static struct dh_env *const E = &env;
static int n_addrs = 100, rate = 300, n_rekeys = 20, flood_s = 20;
static bool addrs_added;

/* ---- status and /proc -------------------------------------------------- */

struct dos_counters {
	uint64_t hellos, processed, rate_limited, dropped, cookies_sent;
	uint64_t cookies_valid, cookies_invalid, cookies_received;
	uint64_t unknown_source, half_open;
};

static bool get_u64(const char *obj, const char *key, uint64_t *v)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(obj, pat);
	if (!p)
		return false;
	*v = strtoull(p + strlen(pat), NULL, 10);
	return true;
}

/* The "dos" object of gateway gw's full status reply. */
static int dos_status(int gw, struct dos_counters *c)
{
	char reply[8192];
	const char *o;

	memset(c, 0, sizeof(*c));
	if (dh_ctl(E->d[gw].sock, "{\"cmd\":\"status\"}", reply,
		   sizeof(reply), 10000) != 0)
		return -1;
	o = strstr(reply, "\"dos\":{");
	if (!o || !get_u64(o, "hellos", &c->hellos) ||
	    !get_u64(o, "hellos_processed", &c->processed) ||
	    !get_u64(o, "hellos_rate_limited", &c->rate_limited) ||
	    !get_u64(o, "hellos_dropped", &c->dropped) ||
	    !get_u64(o, "cookies_sent", &c->cookies_sent) ||
	    !get_u64(o, "cookies_valid", &c->cookies_valid) ||
	    !get_u64(o, "cookies_invalid", &c->cookies_invalid) ||
	    !get_u64(o, "cookies_received", &c->cookies_received) ||
	    !get_u64(o, "unknown_source", &c->unknown_source) ||
	    !get_u64(o, "half_open", &c->half_open)) {
		printf("  bad status reply from %s: %.300s\n", E->ns_gw[gw],
		       reply);
		return -1;
	}
	return 0;
}

static void dos_print(int gw, const char *when, const struct dos_counters *c)
{
	printf("  %s %s: hellos=%llu processed=%llu rate_limited=%llu "
	       "dropped=%llu cookies_sent=%llu valid=%llu invalid=%llu "
	       "received=%llu unknown_source=%llu half_open=%llu\n",
	       E->ns_gw[gw], when, (unsigned long long)c->hellos,
	       (unsigned long long)c->processed,
	       (unsigned long long)c->rate_limited,
	       (unsigned long long)c->dropped,
	       (unsigned long long)c->cookies_sent,
	       (unsigned long long)c->cookies_valid,
	       (unsigned long long)c->cookies_invalid,
	       (unsigned long long)c->cookies_received,
	       (unsigned long long)c->unknown_source,
	       (unsigned long long)c->half_open);
}

/* VmRSS of a process in kB, or -1. */
static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* ---- extra addresses on gw1 ------------------------------------------- */

static int addrs(bool add)
{
	return dh_sh("i=%d; while [ $i -lt %d ]; do "
		     "echo \"addr %s 192.0.2.$i/32 dev g1\"; i=$((i+1)); "
		     "done | ip -n %s -batch - 2>&1 | head -3",
		     ADDR_BASE, ADDR_BASE + n_addrs, add ? "add" : "del",
		     E->ns_gw[0]);
}

static void addrs_cleanup(void)
{
	if (addrs_added)
		addrs(false);
	addrs_added = false;
}

/* ---- the flood ---------------------------------------------------------- */

struct flood_result {
	uint64_t hellos, dgrams, spoofed, errors;
};

static volatile sig_atomic_t flood_stop;

static void on_term(int sig)
{
	(void)sig;
	flood_stop = 1;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/* A HELLO fragment's header (docs/protocol.md §2.1). */
static void hello_header(uint8_t *p, unsigned idx, unsigned count,
			 uint64_t isid, uint32_t total)
{
	memset(p, 0, 32);
	p[0] = 0x45;
	p[1] = 0x50;
	p[2] = 1;          /* version */
	p[3] = 1;          /* HELLO */
	p[4] = 0x02;       /* INITIATOR */
	p[5] = (uint8_t)idx;
	p[6] = (uint8_t)count;
	put64(p + 8, isid);
	put32(p + 24, 0);  /* msg_id */
	put32(p + 28, total);
}

/* A real KeyPackage, signed by a fresh key that no daemon pinned: it
 * parses and needs a signature check to be refused. */
static uint8_t *real_kp(size_t *len)
{
	struct mls_member_config mc;
	struct mls_kp_secret *kp = NULL;
	uint8_t sk[32], pk[32];
	const uint8_t *b;
	uint8_t *out = NULL;
	static const uint8_t id[] = "flood";

	if (crypto_ed25519_keygen(NULL, sk, pk) != EPOCH_OK)
		return NULL;
	memset(&mc, 0, sizeof(mc));
	mc.suite = MLS_SUITE_XWING_AES256GCM_SHA512_ED25519;
	mc.identity = id;
	mc.identity_len = sizeof(id) - 1;
	mc.sig_sk = sk;
	mc.sig_pk = pk;
	mc.not_after = UINT64_MAX >> 1;
	if (mls_kp_create(&kp, &mc) == EPOCH_OK) {
		b = mls_kp_bytes(kp, len);
		out = malloc(*len);
		if (out)
			memcpy(out, b, *len);
		mls_kp_secret_free(kp);
	}
	crypto_wipe(sk, sizeof(sk));
	return out;
}

static int sock_bound(int fd, const char *addr)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	inet_pton(AF_INET, addr, &a.sin_addr);
	return bind(fd, (struct sockaddr *)&a, sizeof(a));
}

/* The child: in gw1's namespace, sends until SIGTERM, then writes its
 * counts to fd. */
static void flood_child(int fd)
{
	enum { N_SPOOF = 4 };
	int *socks = calloc((size_t)n_addrs + N_SPOOF, sizeof(int));
	struct sockaddr_in to;
	struct flood_result r;
	uint8_t msg[HELLO_LEN], dg[32 + FRAG];
	uint8_t *kp;
	size_t kp_len = 0;
	uint64_t t0 = dh_now_ms(), n = 0;
	char a[32];

	memset(&r, 0, sizeof(r));
	signal(SIGTERM, on_term);
	kp = real_kp(&kp_len);
	if (!socks || !kp || kp_len + 1 > HELLO_LEN)
		_exit(3);
	for (int i = 0; i < n_addrs + N_SPOOF; i++) {
		socks[i] = dh_udp_socket_in(E->ns_gw[0], AF_INET);
		if (i < n_addrs)
			snprintf(a, sizeof(a), "192.0.2.%d", ADDR_BASE + i);
		else
			snprintf(a, sizeof(a), "%s", dh_ip_gw[0]);
		if (socks[i] < 0 || sock_bound(socks[i], a) != 0) {
			fprintf(stderr, "flood: socket %s: %s\n", a,
				strerror(errno));
			_exit(3);
		}
	}
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons(DH_PORT);
	inet_pton(AF_INET, dh_ip_gw[1], &to.sin_addr);
	while (!flood_stop) {
		/* Paced: by now, rate * elapsed HELLOs. */
		uint64_t due = (dh_now_ms() - t0) * (uint64_t)rate / 1000;
		uint64_t isid;
		unsigned mode, first;
		int s;
		uint32_t total = HELLO_LEN;

		if (n >= due) {
			dh_nap_ms(5);
			continue;
		}
		/* Every mode from both kinds of source. */
		mode = (unsigned)(n / 2 % 4);
		s = (n % 2) ? socks[n_addrs + (int)(n / 2 % N_SPOOF)] :
			      socks[(n / 2) % (uint64_t)n_addrs];
		crypto_random(NULL, (uint8_t *)&isid, sizeof(isid));
		isid |= 1;
		/* The payload: cookie vector, KeyPackage or garbage. */
		crypto_random(NULL, msg, sizeof(msg));
		switch (mode) {
		case 0: /* empty cookie, garbage */
			msg[0] = 0;
			break;
		case 1: /* a forged cookie (version 1, 34 bytes) */
			msg[0] = 34;
			msg[1] = 1;
			break;
		case 2: /* empty cookie, the replayed real KeyPackage */
			msg[0] = 0;
			memcpy(msg + 1, kp, kp_len);
			total = (uint32_t)(kp_len + 1);
			break;
		default: /* no first fragment */
			break;
		}
		first = mode == 3 ? 1 : 0;
		for (unsigned i = first; i * FRAG < total; i++) {
			size_t fl = total - i * FRAG < FRAG ?
					    total - i * FRAG : FRAG;
			unsigned count = (total + FRAG - 1) / FRAG;

			hello_header(dg, i, count, isid, total);
			memcpy(dg + 32, msg + i * FRAG, fl);
			if (sendto(s, dg, 32 + fl, 0, (struct sockaddr *)&to,
				   sizeof(to)) < 0)
				r.errors++;
			r.dgrams++;
		}
		r.hellos++;
		r.spoofed += n % 2;
		n++;
	}
	if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(4);
	_exit(0);
}

static pid_t flood_start(int *rfd)
{
	int p[2];
	pid_t pid;

	if (pipe(p) != 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		flood_child(p[1]);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	*rfd = p[0];
	return pid;
}

static int flood_stop_wait(pid_t pid, int rfd, struct flood_result *r)
{
	int st = 0;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	kill(pid, SIGTERM);
	n = read(rfd, r, sizeof(*r));
	close(rfd);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0 || n != (ssize_t)sizeof(*r)) {
		printf("  flood child failed (status 0x%x)\n", st);
		return -1;
	}
	return 0;
}

/* ---- cases -------------------------------------------------------------- */

/* While the flood spoofs its address: gw1 closes the tunnel and starts
 * a new handshake. gw1's address is over its HELLO rate at gw2, so the
 * HELLO needs a cookie: the tunnel comes back through the COOKIE round
 * trip and carries traffic. */
static void handshake_in_flood(void)
{
	struct dos_counters a, b;
	struct dh_status st[2], s1;
	char r[1024];
	uint64_t t0, end;
	int pings;

	if (!CHECK(dos_status(0, &a) == 0))
		return;
	CHECK(dh_ctl(E->d[0].sock, "{\"cmd\":\"down\",\"tunnel\":\"t1\"}",
		     r, sizeof(r), 10000) == 0 && strstr(r, "\"ok\":true"));
	/* gw2 hears the CLOSE (or would wait for a HELLO anyway). */
	end = dh_now_ms() + 30000;
	while (dh_now_ms() < end) {
		if (dh_status(E, 1, &s1) == 0 && !strcmp(s1.state, "down"))
			break;
		dh_nap_ms(100);
	}
	CHECK(!strcmp(s1.state, "down"));
	t0 = dh_now_ms();
	CHECK(dh_ctl(E->d[0].sock, "{\"cmd\":\"up\",\"tunnel\":\"t1\"}",
		     r, sizeof(r), 10000) == 0 && strstr(r, "\"ok\":true"));
	if (!CHECK(dh_wait_synced(E, 1, 90000, st) == 0))
		return;
	CHECK(dos_status(0, &b) == 0);
	printf("  new handshake during the flood: up in %.1f s, epoch %llu, "
	       "COOKIEs taken by %s: %llu\n",
	       (double)(dh_now_ms() - t0) / 1e3,
	       (unsigned long long)st[0].epoch, E->ns_gw[0],
	       (unsigned long long)(b.cookies_received - a.cookies_received));
	CHECK(b.cookies_received > a.cookies_received);
	pings = dh_ping(E, 0, 5);
	printf("  ping after it: %d of 5\n", pings);
	CHECK(pings >= 3);
}

static void t_flood(void)
{
	struct dh_conf c = { .suite = "xwing" };
	struct dh_rekeys rk = { 0 };
	struct dh_status st[2];
	struct dos_counters d0, d1;
	struct flood_result fr;
	uint64_t t_flood0, secs, allowed;
	long rss0, rss1;
	int rfd = -1, pings = -1;
	pid_t fpid = -1;

	if (!CHECK(dh_start_both(E, &c) == 0))
		goto out;
	if (!CHECK(dh_wait_synced(E, 1, 90000, st) == 0))
		goto out;
	if (!CHECK(addrs(true) == 0))
		goto out;
	addrs_added = true;
	/* A rekey before measuring: the allocator has seen one. */
	CHECK(dh_rekeys(E, 1, false, REKEY_MS, &rk) == 0);
	rss0 = rss_kb(E->d[1].pid);
	if (!CHECK(rss0 > 0) || !CHECK(dos_status(1, &d0) == 0))
		goto out;
	dos_print(1, "before", &d0);
	fpid = flood_start(&rfd);
	if (!CHECK(fpid > 0))
		goto out;
	t_flood0 = dh_now_ms();
	/* Let the flood reach full speed, then rekey through it. */
	dh_nap_ms(2000);
	/* At least n_rekeys, alternately from each side, spread over at
	 * least flood_s seconds of flood (a pause between rekeys, not a
	 * wait for anything). */
	if (CHECK(dh_rekeys_begin(E, REKEY_MS, &rk) == 0))
		while (rk.done < n_rekeys ||
		       dh_now_ms() - t_flood0 < (uint64_t)flood_s * 1000) {
			if (dh_rekey_step(E, rk.done & 1, REKEY_MS, &rk) != 0)
				break;
			dh_nap_ms(300);
		}
	dh_rekeys_print("during the flood", &rk);
	CHECK(rk.done >= n_rekeys && rk.refused == 0);
	CHECK_EQ_U64(rk.st[0].epoch, rk.st[1].epoch);
	pings = dh_ping(E, 0, 10);
	printf("  ping site1 -> site2 during the flood: %d of 10\n", pings);
	CHECK(pings >= 5);
	handshake_in_flood();
	CHECK(dos_status(1, &d1) == 0);
	CHECK(flood_stop_wait(fpid, rfd, &fr) == 0);
	fpid = -1;
	secs = (dh_now_ms() - t_flood0 + 999) / 1000;
	rss1 = rss_kb(E->d[1].pid);
	dos_print(1, "after", &d1);
	printf("  flood: %llu HELLOs (%llu spoofing %s) in %llu datagrams "
	       "over %llu s, %llu send errors\n",
	       (unsigned long long)fr.hellos,
	       (unsigned long long)fr.spoofed, dh_ip_gw[0],
	       (unsigned long long)fr.dgrams, (unsigned long long)secs,
	       (unsigned long long)fr.errors);

	CHECK(dh_alive(E, 1));
	if (CHECK(dh_wait_synced(E, 1, 30000, st) == 0))
		CHECK_EQ_U64(st[0].epoch, st[1].epoch);
	CHECK(d1.cookies_sent > d0.cookies_sent);
	CHECK(d1.unknown_source > d0.unknown_source);
	/* The handshake work is the rate's, not the flood's. */
	allowed = HELLO_BURST + HELLO_RATE * secs + 2;
	printf("  HELLOs handed to the handshake during the flood: %llu "
	       "(bound %llu = burst %d + %d/s * %llu s + 2)\n",
	       (unsigned long long)(d1.processed - d0.processed),
	       (unsigned long long)allowed, HELLO_BURST, HELLO_RATE,
	       (unsigned long long)secs);
	CHECK(d1.processed - d0.processed <= allowed);
	CHECK(fr.hellos > 10 * allowed);
	printf("  VmRSS of %s's epochd: %ld kB before, %ld kB after "
	       "(bound +%d kB)\n", E->ns_gw[1], rss0, rss1, RSS_BOUND_KB);
	CHECK(rss1 > 0 && rss1 <= rss0 + RSS_BOUND_KB);
	printf("DOS hellos=%llu from=%d addrs cookies=%llu rekeys=%d "
	       "rss_kb_before=%ld rss_kb_after=%ld processed=%llu\n",
	       (unsigned long long)fr.hellos, n_addrs + 1,
	       (unsigned long long)(d1.cookies_sent - d0.cookies_sent),
	       rk.done, rss0, rss1,
	       (unsigned long long)(d1.processed - d0.processed));
out:
	if (fpid > 0) {
		kill(fpid, SIGKILL);
		waitpid(fpid, NULL, 0);
		if (rfd >= 0)
			close(rfd);
	}
	addrs_cleanup();
	if (test_case_failures())
		dh_diag(E, "dos flood");
	dh_stop_both_checked(E);
}

static void t_cookie_always(void)
{
	struct dh_conf c = { .suite = "xwing",
			     .extra_global = "\tcookie_threshold = 0;" };
	struct dh_rekeys rk = { 0 };
	struct dh_status st[2];
	struct dos_counters r, i;
	int pings;

	if (!CHECK(dh_start_both(E, &c) == 0))
		goto out;
	if (!CHECK(dh_wait_synced(E, 1, 90000, st) == 0))
		goto out;
	if (!CHECK(dos_status(1, &r) == 0) || !CHECK(dos_status(0, &i) == 0))
		goto out;
	dos_print(1, "responder", &r);
	dos_print(0, "initiator", &i);
	CHECK_EQ_U64(r.half_open, 0);
	CHECK(r.cookies_sent >= 1);
	CHECK(r.cookies_valid >= 1);
	CHECK(i.cookies_received >= 1);
	CHECK(dh_log_count(E, 0, "sent a cookie") >= 1);
	pings = dh_ping(E, 0, 5);
	printf("  ping through the cookie'd tunnel: %d of 5\n", pings);
	CHECK(pings >= 4);
	CHECK(dh_rekeys(E, 2, false, REKEY_MS, &rk) == 0);
	printf("COOKIE_ALWAYS up=yes cookies_sent=%llu cookies_valid=%llu "
	       "cookies_received=%llu rekeys=%d\n",
	       (unsigned long long)r.cookies_sent,
	       (unsigned long long)r.cookies_valid,
	       (unsigned long long)i.cookies_received, rk.done);
out:
	if (test_case_failures())
		dh_diag(E, "cookie always");
	dh_stop_both_checked(E);
}

static void on_exit_addrs(void)
{
	addrs_cleanup();
}

int main(int argc, char **argv)
{
	if (dh_init(E, argc, argv) != 0) {
		printf("0 passed, 1 failed\n");
		return 1;
	}
	atexit(on_exit_addrs);
	n_addrs = dh_env_int("DOS_FLOOD_ADDRS", n_addrs);
	if (n_addrs < 1 || n_addrs > 150)
		n_addrs = 100;
	rate = dh_env_int("DOS_RATE", rate);
	n_rekeys = dh_env_int("DOS_REKEYS", n_rekeys);
	flood_s = dh_env_int("DOS_SECONDS", flood_s);
	dh_run_case("cookie", "cookie_threshold = 0: the handshake goes "
		    "through a COOKIE round trip", t_cookie_always);
	dh_run_case("flood", "forged HELLOs from many addresses while t1 "
		    "rekeys: work and memory stay bounded", t_flood);
	dh_cleanup(E);
	return test_main_end(argv[0]);
}
