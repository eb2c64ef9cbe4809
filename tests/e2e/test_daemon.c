/* epochd end to end (issue 6, "Tests"): two daemons, one in each gateway
 * namespace of netns/topology.sh, keying the tunnel site1 <-> site2
 * (harness: daemon_harness.h). This program covers
 *
 *  - establishment with suite xwing and with x25519-aes128 (0x0001): both
 *    up, equal epochs, spi_in of one = spi_out of the other, those SPIs
 *    the kernel's only SAs of the tunnel, ping site1 -> site2 through ESP
 *    (every echo answered, the SAs' counters grow by at least as much),
 *    epochctl status (table and --json) agreeing;
 *  - a wrong peer key, pinned by the responder and then by the initiator:
 *    a "peer rejected" line naming the peer's address, no SA on either
 *    side, neither up;
 *  - configuration errors: epochd -t and epochd itself exit 1 with
 *    "epochd: FILE:LINE: SETTING" (four kinds of error), a good one passes
 *    -t, a key file readable by others is refused;
 *  - garbage: random, short and well-formed-header datagrams to both
 *    daemons from the peer's own address, garbage and oversized lines on
 *    the control socket: error replies, the daemons keep running, the
 *    tunnel stays up on its epoch and still rekeys and carries traffic;
 *    epochctl's exit status for refused requests;
 *  - peer restart: kill -9 of the responder's daemon, then of the
 *    initiator's, each started again from scratch: the tunnel comes back
 *    without operator action (short DPD settings), traffic flows.
 *
 * usage: test_daemon SITE1 GW1 GW2 SITE2 (as root where ESP works;
 * tests/e2e/run.sh runs it). The zero-loss rekey runs are in
 * test_daemon_rekey.c.
 */
#include "tests/e2e/daemon_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/test.h"

static struct dh_env env;
static struct dh_env *const E = &env;

#define UP_MS 90000 /* handshake, generous under emulation */

/* Case bookkeeping: diagnostics when the case has failed so far. */
static void diag_if_failed(const char *why)
{
	if (test_case_failures())
		dh_diag(E, why);
}

static void print_status(const char *tag, const struct dh_status st[2])
{
	for (int gw = 0; gw < 2; gw++)
		printf("  %s: %s state %s epoch %llu suite %s spi in 0x%08llx "
		       "out 0x%08llx packets in %llu out %llu retransmits "
		       "%llu\n", tag, E->ns_gw[gw], st[gw].state,
		       (unsigned long long)st[gw].epoch, st[gw].suite,
		       (unsigned long long)st[gw].spi_in,
		       (unsigned long long)st[gw].spi_out,
		       (unsigned long long)st[gw].packets_in,
		       (unsigned long long)st[gw].packets_out,
		       (unsigned long long)st[gw].retransmits);
}

/* The kernel holds exactly the SAs the statuses name. */
static void check_kernel_sas(const struct dh_status st[2])
{
	for (int gw = 0; gw < 2; gw++) {
		struct dh_sas s;

		if (!CHECK(dh_sas(E, gw, &s) >= 0))
			continue;
		CHECK(s.n_in == 1 && s.n_out == 1 && s.n_other == 0);
		CHECK_EQ_U64(s.spi_in[0], st[gw].spi_in);
		CHECK_EQ_U64(s.spi_out[0], st[gw].spi_out);
		CHECK(dh_policies(E, gw) >= 3); /* out, in, fwd */
	}
}

/* Pings site1 -> site2 (count echoes): all answered and both gateways'
 * tunnel counters grew by at least count each way. */
static void check_ping(int count)
{
	struct dh_status a[2], b[2];
	int rx;

	if (!CHECK(dh_status(E, 0, &a[0]) == 0 && dh_status(E, 1, &a[1]) == 0))
		return;
	rx = dh_ping(E, 0, count);
	CHECK(rx == count);
	if (!CHECK(dh_status(E, 0, &b[0]) == 0 && dh_status(E, 1, &b[1]) == 0))
		return;
	for (int gw = 0; gw < 2; gw++) {
		uint64_t din = b[gw].packets_in - a[gw].packets_in;
		uint64_t dout = b[gw].packets_out - a[gw].packets_out;

		printf("  %s: ESP packets in +%llu out +%llu during the ping\n",
		       E->ns_gw[gw], (unsigned long long)din,
		       (unsigned long long)dout);
		CHECK(din >= (uint64_t)count && dout >= (uint64_t)count);
	}
}

/* ---- establishment ------------------------------------------------------- */

static void establish(const char *suite, bool with_epochctl)
{
	struct dh_conf c = { .suite = suite };
	struct dh_status st[2];
	uint64_t t0;

	t0 = dh_now_ms();
	if (!CHECK(dh_start_both(E, &c) == 0))
		goto out;
	if (!CHECK(dh_wait_synced(E, 1, UP_MS, st) == 0)) {
		print_status("not up", st);
		goto out;
	}
	printf("  %s: both up %llu ms after the first start\n", suite,
	       (unsigned long long)(dh_now_ms() - t0));
	print_status(suite, st);
	for (int gw = 0; gw < 2; gw++) {
		CHECK(!strcmp(st[gw].suite, suite));
		CHECK(!strcmp(st[gw].trigger, "handshake"));
		CHECK(dh_log_count(E, gw, "t1: up: epoch") == 1);
	}
	check_kernel_sas(st);
	check_ping(5);

	if (with_epochctl) {
		char out[8192], ep[64];
		char *av[] = { E->epochctl, "-s", E->d[0].sock, "status",
			       DH_TUNNEL, "--json", NULL };
		char *tv[] = { E->epochctl, "-s", E->d[1].sock, "status",
			       DH_TUNNEL, NULL };

		snprintf(ep, sizeof(ep), "\"epoch\":%llu,",
			 (unsigned long long)st[0].epoch);
		CHECK(dh_run_output(av, true, out, sizeof(out)) == 0);
		CHECK(strstr(out, "\"state\":\"up\"") != NULL);
		CHECK(strstr(out, "\"name\":\"t1\"") != NULL);
		CHECK(strstr(out, ep) != NULL);
		CHECK(dh_run_output(tv, true, out, sizeof(out)) == 0);
		printf("  epochctl status t1 in %s:\n%s", E->ns_gw[1], out);
		CHECK(strstr(out, "state        up (responder)") != NULL);
	}
out:
	diag_if_failed(suite);
	dh_stop_both_checked(E);
}

static void t_establish_xwing(void)
{
	establish("xwing", true);
}

static void t_establish_x25519(void)
{
	establish("x25519-aes128", false);
}

/* ---- wrong peer key ------------------------------------------------------ */

/* Gateway bad pins a key that is not its peer's. */
static void wrong_key(int bad)
{
	char wrong_key[PATH_MAX + 16], pub[64] = "", conf[2][PATH_MAX];
	char *av[4], line[64];
	struct dh_conf good = { .suite = "x25519-aes128" };
	struct dh_conf c = good;
	struct dh_status st[2];
	uint64_t t0;
	int pfd[2];

	/* A third key pair: its public key is what `bad` pins. */
	snprintf(wrong_key, sizeof(wrong_key), "%s/wrong%d.key", E->work, bad);
	av[0] = E->epochctl;
	av[1] = "genkey";
	av[2] = wrong_key;
	av[3] = NULL;
	if (!CHECK(pipe(pfd) == 0))
		return;
	if (fork() == 0) {
		dup2(pfd[1], 1);
		execv(av[0], av);
		_exit(127);
	}
	close(pfd[1]);
	{
		ssize_t k = read(pfd[0], pub, sizeof(pub) - 1);

		pub[k > 0 ? k : 0] = 0;
		pub[strcspn(pub, "\n")] = 0;
	}
	close(pfd[0]);
	wait(NULL);
	if (!CHECK(strlen(pub) == 44))
		return;
	c.peer_key = pub;
	if (!CHECK(dh_conf_write(E, bad, &c, conf[bad]) == 0) ||
	    !CHECK(dh_conf_write(E, !bad, &good, conf[!bad]) == 0))
		return;
	t0 = dh_now_ms();
	for (int gw = 0; gw < 2; gw++)
		if (!CHECK(dh_start(E, gw, conf[gw], 30000) == 0))
			goto out;
	if (!CHECK(dh_wait_log(E, bad, "peer rejected", 1, 60000) == 0))
		goto out;
	printf("  %s rejected its peer after %llu ms:\n", E->ns_gw[bad],
	       (unsigned long long)(dh_now_ms() - t0));
	dh_sh("grep 'peer rejected' '%s' | head -n 3", E->d[bad].log);
	snprintf(line, sizeof(line), "(from %s", dh_ip_gw[!bad]);
	CHECK(dh_log_count(E, bad, line) >= 1);
	CHECK(dh_log_count(E, bad, "t1: peer rejected: ") >= 1);
	/* The initiator keeps trying (gw1: the lower address initiates);
	 * by its second retransmission nothing can be in flight that would
	 * still install an SA. */
	t0 = dh_now_ms();
	for (;;) {
		if (!CHECK(dh_status(E, 0, &st[0]) == 0 &&
			   dh_status(E, 1, &st[1]) == 0))
			goto out;
		if (st[0].retransmits >= 2)
			break;
		if (!CHECK(dh_now_ms() - t0 < 60000))
			goto out;
		dh_nap_ms(100);
	}
	print_status("wrong key", st);
	for (int gw = 0; gw < 2; gw++) {
		struct dh_sas s;

		CHECK(strcmp(st[gw].state, "up") != 0);
		CHECK(strcmp(st[gw].state, "rekeying") != 0);
		CHECK_EQ_U64(st[gw].spi_in, 0);
		CHECK_EQ_U64(st[gw].spi_out, 0);
		if (CHECK(dh_sas(E, gw, &s) >= 0))
			CHECK(s.n_in + s.n_out + s.n_other == 0);
		CHECK(dh_log_count(E, gw, "t1: up:") == 0);
	}
out:
	diag_if_failed("wrong key");
	dh_stop_both_checked(E);
}

static void t_wrong_key_responder(void)
{
	wrong_key(1);
}

static void t_wrong_key_initiator(void)
{
	wrong_key(0);
}

/* ---- configuration errors ------------------------------------------------ */

/* A configuration of gw1 with line `line` (1-based) replaced by text (NULL:
 * unchanged). Returns the number of lines. */
static int bad_conf(const char *path, int line, const char *text)
{
	char good[PATH_MAX], buf[256];
	struct dh_conf c = { 0 };
	FILE *in, *out;
	int n = 0;

	if (dh_conf_write(E, 0, &c, good) != 0)
		return -1;
	in = fopen(good, "r");
	out = fopen(path, "w");
	if (!in || !out) {
		if (in)
			fclose(in);
		if (out)
			fclose(out);
		return -1;
	}
	while (fgets(buf, sizeof(buf), in)) {
		n++;
		if (n == line && text)
			fprintf(out, "%s\n", text);
		else
			fputs(buf, out);
	}
	fclose(in);
	fclose(out);
	return n;
}

/* The line of the written config holding `what` (1-based), or -1. */
static int find_line(const char *path, const char *what)
{
	char buf[256];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f)) {
		n++;
		if (strstr(buf, what)) {
			fclose(f);
			return n;
		}
	}
	fclose(f);
	return -1;
}

/* epochd [-t] -c path in gw1's namespace; its output in out; exit status,
 * or -2 if it kept running (then killed). */
static int run_epochd(bool check, const char *path, char *out, size_t cap)
{
	char *av[10];
	int pfd[2], st = 0, n = 0;
	size_t len = 0;
	uint64_t t0 = dh_now_ms();
	pid_t pid;

	av[n++] = "ip";
	av[n++] = "netns";
	av[n++] = "exec";
	av[n++] = (char *)E->ns_gw[0];
	av[n++] = E->epochd;
	if (check)
		av[n++] = "-t";
	av[n++] = "-c";
	av[n++] = (char *)path;
	av[n] = NULL;
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execvp("ip", av);
		_exit(127);
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd pf = { .fd = pfd[0], .events = POLLIN };
		ssize_t k;

		if (poll(&pf, 1, 200) > 0) {
			k = read(pfd[0], out + len, cap - 1 - len);
			if (k > 0) {
				len += (size_t)k;
				if (len < cap - 1)
					continue;
			}
		}
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		if (dh_now_ms() - t0 > 30000) {
			kill(pid, SIGTERM);
			waitpid(pid, &st, 0);
			close(pfd[0]);
			out[len] = 0;
			return -2;
		}
	}
	for (;;) {
		ssize_t k = read(pfd[0], out + len, cap - 1 - len);

		if (k <= 0)
			break;
		len += (size_t)k;
	}
	close(pfd[0]);
	out[len] = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct bad_case {
	const char *anchor;  /* a line of the good config to replace */
	const char *text;    /* its replacement */
	const char *setting; /* what the message must name */
};

static void t_config_errors(void)
{
	static const struct bad_case cases[] = {
		{ "\tport = ", "\tport = 70000;", "global.port" },
		{ "\t\tremote = ", "\t\tremote = \"192.0.2.300\";",
		  "tunnels.[0].remote" },
		{ "\t\tname = ", "\t\tname = \"t1\"; colour = \"blue\";",
		  "colour" },
		{ "\tlog_level = ", "\tlog_level = = \"info\";", NULL },
	};
	char path[PATH_MAX + 16], out[4096], want[PATH_MAX + 64];
	int rc;

	/* The good one first: -t says OK, exit 0. */
	{
		char good[PATH_MAX];
		struct dh_conf c = { 0 };

		if (!CHECK(dh_conf_write(E, 0, &c, good) == 0))
			return;
		rc = run_epochd(true, good, out, sizeof(out));
		printf("  epochd -t (good): exit %d: %s", rc, out);
		CHECK(rc == 0);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *k = &cases[i];
		char good[PATH_MAX];
		struct dh_conf c = { 0 };
		int line;

		if (!CHECK(dh_conf_write(E, 0, &c, good) == 0))
			return;
		line = find_line(good, k->anchor);
		if (!CHECK(line > 0))
			return;
		snprintf(path, sizeof(path), "%s/bad%zu.conf", E->work, i);
		if (!CHECK(bad_conf(path, line, k->text) > 0))
			return;
		/* -t: "epochd: FILE:LINE: ..."; a start: the same after
		 * the log prefix ("epochd: error: FILE:LINE: ..."). */
		snprintf(want, sizeof(want), " %s:%d: ", path, line);
		for (int start = 0; start < 2; start++) {
			rc = run_epochd(!start, path, out, sizeof(out));
			printf("  epochd %s (line %d: %s): exit %d: %s",
			       start ? "-c" : "-t -c", line, k->text, rc, out);
			if (!strchr(out, '\n'))
				printf("\n");
			CHECK(rc == 1);
			CHECK(strstr(out, want) != NULL);
			/* -t: exactly one line, "epochd: FILE:LINE: ..." */
			if (!start) {
				CHECK(strncmp(out, "epochd: ", 8) == 0 &&
				      strstr(out, want) == out + 7);
				CHECK(strchr(out, '\n') ==
				      out + strlen(out) - 1);
			}
			if (k->setting)
				CHECK(strstr(out, k->setting) != NULL);
		}
	}
	/* The private key file must not be readable by others. */
	{
		char good[PATH_MAX];
		struct dh_conf c = { 0 };

		if (!CHECK(dh_conf_write(E, 0, &c, good) == 0))
			return;
		if (!CHECK(chmod(E->key[0], 0644) == 0))
			return;
		rc = run_epochd(true, good, out, sizeof(out));
		printf("  epochd -t (key file mode 0644): exit %d: %s", rc,
		       out);
		CHECK(rc == 1);
		CHECK(strstr(out, E->key[0]) != NULL);
		CHECK(chmod(E->key[0], 0600) == 0);
		rc = run_epochd(true, good, out, sizeof(out));
		CHECK(rc == 0);
	}
}

/* ---- garbage ------------------------------------------------------------- */

static uint32_t rnd32(void)
{
	uint32_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint32_t)rand();
	return v;
}

static void rnd_fill(uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = getrandom(p, n, 0);

		if (k <= 0)
			break;
		p += k;
		n -= (size_t)k;
	}
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* One garbage datagram of kind k into buf; its length. */
static size_t garbage(int k, uint8_t *buf, size_t cap)
{
	size_t len;

	switch (k) {
	case 0: /* random */
		len = 1 + rnd32() % 1400;
		rnd_fill(buf, len);
		return len;
	case 1: /* short: 0..31 bytes, starting like ours */
		len = rnd32() % 32;
		rnd_fill(buf, len);
		if (len >= 2)
			put_be(buf, 0x4550, 2);
		if (len >= 3)
			buf[2] = 1;
		return len;
	default: { /* a header that decodes, or nearly, and a random body */
		unsigned cnt = 1 + rnd32() % 64, type = 1 + rnd32() % 9;
		unsigned flags = rnd32() % 4, idx = rnd32() % cnt;
		uint32_t total = rnd32() % 2 ? cnt * 1200u
					    : rnd32() % 65537u;
		size_t body = rnd32() % 2 ? 1200 : rnd32() % 1400;

		if (type == 1) { /* HELLO: initiator, request, rsid 0 */
			flags = 2;
		}
		len = 32 + body;
		if (len > cap)
			len = cap;
		rnd_fill(buf, len);
		put_be(buf, 0x4550, 2);
		buf[2] = 1;
		buf[3] = (uint8_t)type;
		buf[4] = (uint8_t)flags;
		buf[5] = (uint8_t)idx;
		buf[6] = (uint8_t)cnt;
		buf[7] = 0;
		if (type == 1 || (type == 9 && rnd32() % 2))
			put_be(buf + 16, 0, 8);
		put_be(buf + 28, total, 4);
		return len;
	}
	}
}

/* Sends n datagrams of each kind from each gateway to the other's daemon
 * (from the peer's own address). Returns the number sent. */
static long send_garbage(int n)
{
	static uint8_t buf[1500];
	long sent = 0;

	for (int from = 0; from < 2; from++) {
		struct sockaddr_in to = { .sin_family = AF_INET,
					  .sin_port = htons(DH_PORT) };
		int fd = dh_udp_socket_in(E->ns_gw[from], AF_INET);

		if (!CHECK(fd >= 0))
			continue;
		inet_pton(AF_INET, dh_ip_gw[!from], &to.sin_addr);
		for (int i = 0; i < 3 * n; i++) {
			size_t len = garbage(i % 3, buf, sizeof(buf));

			if (sendto(fd, buf, len, 0, (struct sockaddr *)&to,
				   sizeof(to)) == (ssize_t)len)
				sent++;
			/* Let the emulated CPU breathe now and then (the
			 * socket's buffer drops the rest, also fine). */
			if (i % 64 == 63)
				dh_nap_ms(5);
		}
		close(fd);
	}
	return sent;
}

/* Control socket: requests that must be refused, pipelined on one
 * connection, each answered in order with ok:false and the documented
 * error; then a good request on the same connection. */
static void ctl_garbage(int gw)
{
	static const struct {
		const char *req;
		const char *err; /* expected in the error */
	} reqs[] = {
		{ "garbage", "bad request: malformed JSON at byte" },
		{ "{}", "bad request: missing \\\"cmd\\\"" },
		{ "[1,2,3]", "bad request: not a JSON object" },
		{ "{\"cmd\":\"nosuch\"}", "unknown command \\\"nosuch\\\"" },
		{ "{\"cmd\":\"rekey\"}", "rekey needs \\\"tunnel\\\"" },
		{ "{\"cmd\":\"status\",\"x\":1}",
		  "bad request: unknown field \\\"x\\\"" },
		{ "{\"cmd\":\"rekey\",\"tunnel\":\"nosuch\"}", "nosuch" },
		{ "{\"cmd\":\"status\",\"tunnel\":\"bad name!\"}",
		  "bad tunnel name" },
		{ "{\"cmd\":\"reload\",\"tunnel\":\"t1\"}",
		  "reload takes no tunnel" },
		{ "{\"cmd\":null}", "bad request: malformed JSON" },
		{ "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]",
		  "bad request: malformed JSON" },
		{ "\xff\xfe\x01{\"cmd\"", "bad request: malformed JSON" },
		{ NULL, "request too long (limit 4096 bytes)" }, /* 5000 B */
		{ "{\"cmd\":\"status\",\"tunnel\":\"t1\"}", NULL }, /* ok */
	};
	const size_t n = sizeof(reqs) / sizeof(reqs[0]);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	static char big[5001], in[65536];
	size_t len = 0, got = 0;
	uint64_t t0 = dh_now_ms();
	int fd;

	memset(big, 'x', 5000);
	big[0] = '{';
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", E->d[gw].sock);
	if (!CHECK(fd >= 0) ||
	    !CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *r = reqs[i].req ? reqs[i].req : big;
		size_t rl = strlen(r);

		if (!CHECK(write(fd, r, rl) == (ssize_t)rl) ||
		    !CHECK(write(fd, "\n", 1) == 1))
			goto out;
	}
	while (got < n && dh_now_ms() - t0 < 30000) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		char *line = in, *nl;
		ssize_t k;

		if (poll(&pf, 1, 1000) <= 0)
			continue;
		k = read(fd, in + len, sizeof(in) - 1 - len);
		if (k <= 0)
			break;
		len += (size_t)k;
		in[len] = 0;
		while (got < n && (nl = strchr(line, '\n')) != NULL) {
			*nl = 0;
			printf("  control garbage %zu -> %.160s\n", got, line);
			if (reqs[got].err) {
				CHECK(strncmp(line, "{\"ok\":false,\"error\":",
					      20) == 0);
				if (!CHECK(strstr(line, reqs[got].err)))
					printf("    expected: %s\n",
					       reqs[got].err);
			} else {
				CHECK(strncmp(line, "{\"ok\":true", 10) == 0);
				CHECK(strstr(line, "\"name\":\"t1\"") != NULL);
			}
			got++;
			line = nl + 1;
		}
		memmove(in, line, len - (size_t)(line - in) + 1);
		len -= (size_t)(line - in);
	}
	CHECK_EQ_U64(got, n);
out:
	if (fd >= 0)
		close(fd);
}

/* Clients that misbehave at the socket level: 2 MB without a newline, half
 * a request then close, connect and close. */
static void ctl_abuse(int gw)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	static char junk[65536];
	long written = 0;

	memset(junk, 'A', sizeof(junk));
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", E->d[gw].sock);
	for (int kind = 0; kind < 3; kind++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (!CHECK(fd >= 0))
			return;
		if (!CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) ==
			   0)) {
			close(fd);
			return;
		}
		if (kind == 0) {
			uint64_t t0 = dh_now_ms();

			fcntl(fd, F_SETFL, O_NONBLOCK);
			while (written < 2 << 20 && dh_now_ms() - t0 < 20000) {
				struct pollfd pf = { .fd = fd,
						     .events = POLLOUT };
				ssize_t k;

				if (poll(&pf, 1, 1000) <= 0)
					continue;
				k = write(fd, junk, sizeof(junk));
				if (k < 0 && errno != EAGAIN)
					break; /* the daemon closed it */
				if (k > 0)
					written += k;
			}
			printf("  control: %ld bytes without a newline "
			       "written\n", written);
		} else if (kind == 1) {
			CHECK(write(fd, "{\"cmd\":\"sta", 11) == 11);
		}
		close(fd);
	}
}

static void t_garbage(void)
{
	struct dh_conf c = { .suite = "x25519-aes128" };
	struct dh_status st[2], st2[2];
	char out[4096];
	long sent;
	uint64_t t0;

	if (!CHECK(dh_start_both(E, &c) == 0))
		goto out;
	if (!CHECK(dh_wait_synced(E, 1, UP_MS, st) == 0))
		goto out;
	t0 = dh_now_ms();
	sent = send_garbage(1000);
	printf("  %ld garbage datagrams sent in %llu ms\n", sent,
	       (unsigned long long)(dh_now_ms() - t0));
	CHECK(sent >= 5000);
	for (int gw = 0; gw < 2; gw++) {
		ctl_garbage(gw);
		ctl_abuse(gw);
	}
	/* epochctl's view of refused requests. */
	{
		char *rk[] = { E->epochctl, "-s", E->d[0].sock, "rekey",
			       "nosuch", NULL };
		char *bad[] = { E->epochctl, "-s", E->d[0].sock, "status",
				"bad name!", NULL };
		char *none[] = { E->epochctl, "-s", "/nonexistent/epochd.sock",
				 "status", NULL };
		int rc;

		rc = dh_run_output(rk, true, out, sizeof(out));
		printf("  epochctl rekey nosuch: exit %d: %s", rc, out);
		CHECK(rc == 1);
		CHECK(strstr(out, "nosuch") != NULL);
		rc = dh_run_output(bad, true, out, sizeof(out));
		printf("  epochctl status 'bad name!': exit %d\n", rc);
		CHECK(rc == 2);
		rc = dh_run_output(none, true, out, sizeof(out));
		printf("  epochctl -s /nonexistent/epochd.sock: exit %d\n", rc);
		CHECK(rc == 3);
	}
	/* Still running, still up on the same epoch and SAs. */
	for (int gw = 0; gw < 2; gw++)
		CHECK(dh_alive(E, gw));
	if (!CHECK(dh_wait_synced(E, 1, 30000, st2) == 0))
		goto out;
	print_status("after garbage", st2);
	CHECK_EQ_U64(st2[0].epoch, st[0].epoch);
	CHECK_EQ_U64(st2[0].spi_in, st[0].spi_in);
	CHECK_EQ_U64(st2[0].spi_out, st[0].spi_out);
	check_kernel_sas(st2);
	/* And it still works: a rekey, traffic. */
	if (CHECK(dh_rekey(E, 1) == 0) &&
	    CHECK(dh_wait_synced(E, st[0].epoch + 1, 60000, st2) == 0))
		print_status("rekeyed", st2);
	check_ping(5);
	for (int gw = 0; gw < 2; gw++)
		CHECK(dh_alive(E, gw));
out:
	diag_if_failed("garbage");
	dh_stop_both_checked(E);
}

/* ---- peer restart -------------------------------------------------------- */

static void t_restart(void)
{
	struct dh_conf c = { .suite = "x25519-aes128", .dpd_interval = 2,
			     .dpd_timeout = 6 };
	char conf[2][PATH_MAX];
	struct dh_status st[2];

	for (int gw = 0; gw < 2; gw++)
		if (!CHECK(dh_conf_write(E, gw, &c, conf[gw]) == 0))
			return;
	for (int gw = 0; gw < 2; gw++)
		if (!CHECK(dh_start(E, gw, conf[gw], 30000) == 0))
			goto out;
	if (!CHECK(dh_wait_synced(E, 1, UP_MS, st) == 0))
		goto out;
	check_ping(3);
	/* gw2 (responder) first, then gw1 (initiator). */
	for (int k = 0; k < 2; k++) {
		int gw = 1 - k;
		uint64_t t0;
		struct dh_sas s[2];

		dh_kill9(E, gw);
		printf("  killed epochd in %s (kill -9)\n", E->ns_gw[gw]);
		t0 = dh_now_ms();
		if (!CHECK(dh_start(E, gw, conf[gw], 30000) == 0))
			goto out;
		/* The new instance is up with the survivor, SPIs matching:
		 * a session both ends agree on. */
		if (!CHECK(dh_wait_synced(E, 1, 120000, st) == 0)) {
			print_status("not back", st);
			goto out;
		}
		printf("  restart of %s: tunnel back up %llu ms after the "
		       "new start\n", E->ns_gw[gw],
		       (unsigned long long)(dh_now_ms() - t0));
		print_status("back", st);
		check_ping(3);
		/* The survivor's SAs of the dead session are gone (at the
		 * latest after its grace period). */
		if (!CHECK(dh_wait_one_sa_each(E, 60000, s) == 0))
			printf("  SAs: gw1 in %d out %d, gw2 in %d out %d\n",
			       s[0].n_in, s[0].n_out, s[1].n_in, s[1].n_out);
		if (!CHECK(dh_wait_synced(E, 1, 30000, st) == 0))
			goto out;
		check_kernel_sas(st);
	}
out:
	diag_if_failed("restart");
	dh_stop_both_checked(E);
}

int main(int argc, char **argv)
{
	if (dh_init(E, argc, argv) != 0) {
		printf("0 passed, 1 failed\n");
		return 1;
	}
	dh_run_case("config", "config errors: epochd -t and epochd exit 1 with "
		    "FILE:LINE", t_config_errors);
	dh_run_case("xwing", "establishment, suite xwing", t_establish_xwing);
	dh_run_case("x25519", "establishment, suite x25519-aes128 (0x0001)",
		    t_establish_x25519);
	dh_run_case("wrongkey", "wrong peer key pinned by the responder: "
		    "rejected, no SA", t_wrong_key_responder);
	dh_run_case("wrongkey", "wrong peer key pinned by the initiator: "
		    "rejected, no SA", t_wrong_key_initiator);
	dh_run_case("garbage", "garbage datagrams and control requests: "
		    "survives, stays up", t_garbage);
	dh_run_case("restart", "peer daemon killed and restarted: tunnel comes "
		    "back", t_restart);
	dh_cleanup(E);
	return test_main_end(argv[0]);
}
