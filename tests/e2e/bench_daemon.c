/* Daemon figures: two real epochd processes in the netns/topology.sh
 * namespaces (make bench-daemon runs this here when the kernel can do ESP,
 * else inside the VM of netns/vm.sh). Run from the tree's root, as root.
 *
 *   BENCH setup_ms N ms            from starting both daemons (gw1
 *                                  initiator, gw2 responder, X-Wing,
 *                                  aes256gcm) to the first UDP probe
 *                                  delivered site1 -> site2 through the
 *                                  tunnel; site1 sends a probe every 5 ms.
 *                                  The clear path is closed beforehand
 *                                  (each gateway's route to the far site
 *                                  points at a neighbour that does not
 *                                  exist; ESP in tunnel mode routes by the
 *                                  outer address and is unaffected), and
 *                                  checked closed, so only ESP delivers.
 *   BENCH setup_round_trips N round-trips
 *                                  distinct requests (HELLO, COMMIT, ...)
 *                                  the daemons sent until then, from their
 *                                  debug logs ("sent X id N"); a request
 *                                  and its response are one round trip.
 *                                  Cross-checked against the gateways' UDP
 *                                  datagram counters (/proc/net/snmp in
 *                                  each namespace), printed as "#" lines.
 *   BENCH rekeys_per_s N rekeys/s  `rekey` on the control socket, sides
 *                                  alternating, each time waiting for the
 *                                  new epoch's "rekey" event from both
 *                                  daemons (watch), for BENCH_REKEY_SECONDS
 *                                  (default 20) seconds
 *   BENCH rekeys_per_s_traffic N rekeys/s
 *                                  the same with udpflow running both ways
 *                                  (500 datagrams/s each way); its loss
 *                                  and duplicate counts on "#" lines,
 *                                  with the drop/error counters that moved
 *                                  (snmp, xfrm_stat, softnet, ARP) on
 *                                  "#" lines
 *   BENCH rss_kb_1 N kB            VmRSS of an epochd, both processes
 *                                  with privilege separation (info log level)
 *   BENCH rss_kb_100 N kB          with 1 and with 100 tunnels (initiators,
 *                                  X-Wing) to addresses in 192.0.2.0/24
 *                                  that do not answer, 2 s after its
 *                                  "started" line
 *
 * usage: bench_daemon [setup|rekey|rss]...   (default: all three; rekey
 *   needs setup). Exit status 0, or 1 if a step fails (messages on
 *   stderr). Everything it makes (namespaces with the prefix epb<pid>-,
 *   daemons, /tmp/epbench.*) is removed at exit, also on SIGINT/SIGTERM;
 *   BENCH_KEEP=1 keeps the directory (configurations, daemon logs),
 *   BENCH_TMP=DIR puts it elsewhere than /tmp.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "daemon/ctl.h"

#define PROBE_PORT 50200
#define FLOW_PORT 50300
#define FLOW_RATE "500"
#define SETUP_TIMEOUT_MS 180000.0  /* TCG is slow; generous */
#define EPOCH_TIMEOUT_MS 60000.0
#define START_TIMEOUT_MS 60000.0
#define N_RSS_MAX 100
#define TUNNEL "t1"

enum { SITE1, GW1, GW2, SITE2 };

static struct {
	char build[PATH_MAX];
	char epochd[PATH_MAX], epochctl[PATH_MAX], udpflow[PATH_MAX];
	char dir[64], sockdir[64];
	char prefix[32];
	char ns[4][64];
	int self_ns;
	bool topo_up;
	pid_t pid[2];           /* the two daemons (gw1, gw2), 0: none */
	pid_t flow[2];          /* udpflow in site1, site2 */
	char conf[2][PATH_MAX], sock[2][PATH_MAX], log[2][PATH_MAX];
	char key[2][PATH_MAX], pub[2][64];
	bool vm;
} B;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_daemon: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return -1;
}

/* Runs a shell command; 0 if it exits 0. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
		return fail("failed: %s", cmd);
	return 0;
}

/* ---- namespaces ---------------------------------------------------------- */

static int ns_open(const char *name)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "/run/netns/%s", name);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(p, sizeof(p), "/var/run/netns/%s", name);
		fd = open(p, O_RDONLY | O_CLOEXEC);
	}
	return fd;
}

/* Moves this process into namespace name (NULL: back to our own). */
static int ns_enter(const char *name)
{
	int fd = name ? ns_open(name) : B.self_ns;
	int rc;

	if (fd < 0)
		return fail("no namespace %s", name);
	rc = setns(fd, CLONE_NEWNET);
	if (name)
		close(fd);
	if (rc != 0)
		return fail("setns %s: %s", name ? name : "(own)",
			    strerror(errno));
	return 0;
}

/* A UDP socket made inside namespace ns (it stays there). */
static int ns_socket(const char *ns, const char *addr, unsigned port)
{
	struct sockaddr_in a;
	int fd;

	if (ns_enter(ns) < 0)
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ns_enter(NULL);
	if (fd < 0)
		return fail("socket: %s", strerror(errno));
	if (addr) {
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, addr, &a.sin_addr);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
			close(fd);
			return fail("bind %s:%u: %s", addr, port,
				    strerror(errno));
		}
	}
	return fd;
}

/* A field of the "<proto>:" lines of /proc/net/snmp in namespace ns. */
static int snmp_field(const char *ns, const char *proto, const char *field,
		      unsigned long *v)
{
	size_t plen = strlen(proto);
	char hdr[1024], val[1024];
	FILE *f;
	int rc = -1;

	if (ns_enter(ns) < 0)
		return -1;
	f = fopen("/proc/self/net/snmp", "r");
	ns_enter(NULL);
	if (!f)
		return fail("/proc/self/net/snmp: %s", strerror(errno));
	while (fgets(hdr, sizeof(hdr), f) && fgets(val, sizeof(val), f)) {
		char *hs, *vs, *h, *x;

		if (strncmp(hdr, proto, plen) != 0 || hdr[plen] != ':')
			continue;
		strtok_r(hdr, " \n", &hs);
		strtok_r(val, " \n", &vs);
		while ((h = strtok_r(NULL, " \n", &hs)) &&
		       (x = strtok_r(NULL, " \n", &vs)))
			if (strcmp(h, field) == 0) {
				*v = strtoul(x, NULL, 10);
				rc = 0;
			}
		break;
	}
	fclose(f);
	return rc == 0 ? 0 : fail("no %s %s in /proc/net/snmp", proto, field);
}

static int udp_field(const char *ns, const char *field, unsigned long *v)
{
	return snmp_field(ns, "Udp", field, v);
}

/* The UDP InDatagrams and OutDatagrams of namespace ns. */
static int udp_counters(const char *ns, unsigned long *in,
			unsigned long *out)
{
	return udp_field(ns, "InDatagrams", in) ||
	       udp_field(ns, "OutDatagrams", out) ? -1 : 0;
}

/* ---- processes ----------------------------------------------------------- */

/* Starts argv[0] inside namespace ns with stdout and stderr to log. */
static pid_t spawn(const char *ns, const char *log, char *const argv[])
{
	pid_t pid = fork();

	if (pid < 0) {
		fail("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int fd = ns_open(ns);
		int lf = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND,
			      0644);

		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (fd < 0 || setns(fd, CLONE_NEWNET) != 0 || lf < 0)
			_exit(126);
		dup2(lf, 1);
		dup2(lf, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* SIGTERM, then waits (SIGKILL after 30 s); the exit status, or -1. */
static int stop(pid_t *pid)
{
	double t0 = now_ms();
	int st;

	if (*pid <= 0)
		return 0;
	kill(*pid, SIGTERM);
	for (;;) {
		pid_t r = waitpid(*pid, &st, WNOHANG);

		if (r == *pid)
			break;
		if (r < 0) {
			*pid = 0;
			return -1;
		}
		if (now_ms() - t0 > 30000) {
			kill(*pid, SIGKILL);
			waitpid(*pid, &st, 0);
			fail("pid %d did not stop on SIGTERM", (int)*pid);
			*pid = 0;
			return -1;
		}
		sleep_ms(10);
	}
	*pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (!nb)
				break;
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	if (buf)
		buf[len] = '\0';
	return buf;
}

/* Polls a daemon's log for needle; fails early if the daemon exits. */
static int wait_log(int i, const char *needle, double timeout_ms)
{
	double t0 = now_ms();

	while (!interrupted && now_ms() - t0 < timeout_ms) {
		char *s = read_file(B.log[i]);
		bool found = s && strstr(s, needle);
		int st;

		free(s);
		if (found)
			return 0;
		if (B.pid[i] > 0 &&
		    waitpid(B.pid[i], &st, WNOHANG) == B.pid[i]) {
			B.pid[i] = 0;
			return fail("epochd (gw%d) exited; see %s", i + 1,
				    B.log[i]);
		}
		sleep_ms(20);
	}
	return fail("no \"%s\" in %s", needle, B.log[i]);
}

static void show_log(int i)
{
	char *s = read_file(B.log[i]);

	if (!s)
		return;
	fprintf(stderr, "---- %s (last 4000 bytes)\n%s\n----\n", B.log[i],
		strlen(s) > 4000 ? s + strlen(s) - 4000 : s);
	free(s);
}

/* ---- keys and configurations ------------------------------------------- */

static int genkey(int i)
{
	char cmd[PATH_MAX * 2];
	FILE *p;

	snprintf(B.key[i], sizeof(B.key[i]), "%s/gw%d.key", B.dir, i + 1);
	snprintf(cmd, sizeof(cmd), "'%s' genkey '%s'", B.epochctl, B.key[i]);
	p = popen(cmd, "r");
	if (!p || !fgets(B.pub[i], sizeof(B.pub[i]), p)) {
		if (p)
			pclose(p);
		return fail("%s: no public key", cmd);
	}
	if (pclose(p) != 0)
		return fail("%s failed", cmd);
	B.pub[i][strcspn(B.pub[i], " \n")] = '\0';
	return strlen(B.pub[i]) == 44 ? 0 : fail("bad public key from %s", cmd);
}

/* One tunnel's settings. */
static void conf_tunnel(FILE *f, const char *name, const char *local,
			const char *remote, const char *peer_key,
			const char *lts, const char *rts, const char *role,
			bool last)
{
	fprintf(f,
		"\t{\n\t\tname = \"%s\";\n\t\tlocal = \"%s\";\n"
		"\t\tremote = \"%s\";\n\t\tpeer_key = \"%s\";\n"
		"\t\tlocal_ts = [ \"%s\" ];\n\t\tremote_ts = [ \"%s\" ];\n"
		"\t\tsuite = \"xwing\";\n\t\tesp = \"aes256gcm\";\n"
		"\t\trole = \"%s\";\n\t}%s\n",
		name, local, remote, peer_key, lts, rts, role, last ? "" : ",");
}

static FILE *conf_begin(int i, const char *tag, const char *level)
{
	FILE *f;

	snprintf(B.conf[i], sizeof(B.conf[i]), "%s/gw%d%s.conf", B.dir, i + 1,
		 tag);
	snprintf(B.sock[i], sizeof(B.sock[i]), "%s/gw%d%s.sock", B.sockdir,
		 i + 1, tag);
	snprintf(B.log[i], sizeof(B.log[i]), "%s/gw%d%s.log", B.dir, i + 1,
		 tag);
	f = fopen(B.conf[i], "w");
	if (!f) {
		fail("%s: %s", B.conf[i], strerror(errno));
		return NULL;
	}
	fprintf(f,
		"global = {\n\tprivate_key = \"%s\";\n"
		"\tstate_dir = \"%s/state%d\";\n\tcontrol_socket = \"%s\";\n"
		"\tlog_level = \"%s\";\n\tlog_target = \"stderr\";\n};\n"
		"tunnels = (\n",
		B.key[i], B.dir, i + 1, B.sock[i], level);
	return f;
}

static int conf_end(int i, FILE *f)
{
	char cmd[PATH_MAX * 3];

	fprintf(f, ");\n");
	if (fclose(f) != 0)
		return fail("%s: write error", B.conf[i]);
	snprintf(cmd, sizeof(cmd), "'%s' -t -c '%s' >/dev/null", B.epochd,
		 B.conf[i]);
	return sh("%s", cmd);
}

/* The demo tunnel between gw1 (initiator) and gw2 (responder). */
static int conf_pair(void)
{
	static const char *const local[2] = { "192.0.2.1", "192.0.2.2" };
	static const char *const ts[2] = { "198.51.100.0/24",
					   "203.0.113.0/24" };
	static const char *const role[2] = { "initiator", "responder" };

	for (int i = 0; i < 2; i++) {
		FILE *f = conf_begin(i, "", "debug");

		if (!f)
			return -1;
		conf_tunnel(f, TUNNEL, local[i], local[!i], B.pub[!i], ts[i],
			    ts[!i], role[i], true);
		if (conf_end(i, f) < 0)
			return -1;
	}
	return 0;
}

static pid_t start_epochd(int i)
{
	char *argv[] = { B.epochd, "-c", B.conf[i], NULL };

	B.pid[i] = spawn(B.ns[i == 0 ? GW1 : GW2], B.log[i], argv);
	return B.pid[i];
}

/* ---- control socket ------------------------------------------------------ */

/* One request; 0 when the reply is ok, the reply line in acc (caller
 * frees) when want_line. */
static int ctl_do(const char *sock, enum ctl_cmd cmd, const char *tunnel,
		  struct ctl_buf *acc, size_t *len)
{
	struct ctl_request req;
	char line[CTL_REQ_MAX], err[CTL_ERR_MAX + 64], msg[1024];
	size_t n;
	int fd, rc;

	memset(&req, 0, sizeof(req));
	req.cmd = cmd;
	snprintf(req.tunnel, sizeof(req.tunnel), "%s", tunnel ? tunnel : "");
	if (ctl_request_format(&req, line, sizeof(line)) < 0)
		return fail("bad request");
	fd = ctl_connect(sock, err, sizeof(err));
	if (fd < 0)
		return fail("%s", err);
	n = strlen(line);
	if (write(fd, line, n) != (ssize_t)n) {
		close(fd);
		return fail("write to %s: %s", sock, strerror(errno));
	}
	ctl_buf_init(acc, CTL_REPLY_MAX);
	rc = ctl_read_line(fd, acc, len, err, sizeof(err));
	close(fd);
	if (rc <= 0) {
		ctl_buf_free(acc);
		return fail("%s: %s", sock, rc ? err : "no reply");
	}
	if (cmd == CTL_CMD_STATUS)
		return 0;
	rc = ctl_reply_parse(acc->p, *len, msg, sizeof(msg), err, sizeof(err));
	ctl_buf_free(acc);
	if (rc != 0)
		return fail("%s %s: %s", ctl_cmd_name(cmd), sock,
			    rc > 0 ? msg : err);
	return 0;
}

static int status_of(int i, struct ctl_status *out)
{
	struct ctl_buf acc;
	struct ctl_status *st;
	char err[CTL_ERR_MAX + 64];
	size_t len, n;
	int rc;

	if (ctl_do(B.sock[i], CTL_CMD_STATUS, TUNNEL, &acc, &len) < 0)
		return -1;
	rc = ctl_status_reply_parse(acc.p, len, &st, &n, err, sizeof(err));
	ctl_buf_free(&acc);
	if (rc != 0 || n != 1) {
		if (rc == 0)
			free(st);
		return fail("status gw%d: %s", i + 1,
			    rc ? err : "not 1 tunnel");
	}
	*out = st[0];
	free(st);
	return 0;
}

struct watch {
	int fd;
	struct ctl_buf acc;
};

static int watch_open(struct watch *w, int i)
{
	char line[CTL_REQ_MAX], err[CTL_ERR_MAX + 64], msg[256];
	struct ctl_request req = { CTL_CMD_WATCH, "" };
	size_t len;
	int rc;

	ctl_request_format(&req, line, sizeof(line));
	w->fd = ctl_connect(B.sock[i], err, sizeof(err));
	if (w->fd < 0)
		return fail("%s", err);
	ctl_buf_init(&w->acc, CTL_REPLY_MAX);
	if (write(w->fd, line, strlen(line)) != (ssize_t)strlen(line))
		return fail("watch gw%d: write failed", i + 1);
	rc = ctl_read_line(w->fd, &w->acc, &len, err, sizeof(err));
	if (rc <= 0)
		return fail("watch gw%d: %s", i + 1, rc ? err : "closed");
	rc = ctl_reply_parse(w->acc.p, len, msg, sizeof(msg), err, sizeof(err));
	ctl_buf_consume(&w->acc, len + 1);
	return rc == 0 ? 0 : fail("watch gw%d refused", i + 1);
}

static void watch_close(struct watch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	ctl_buf_free(&w->acc);
}

/* Waits for a "rekey" (or "up") event of TUNNEL with epoch >= want. */
static int watch_epoch(struct watch *w, uint64_t want, double deadline)
{
	char err[CTL_ERR_MAX + 64];

	while (!interrupted) {
		struct ctl_json_doc doc;
		const struct ctl_json *ev, *ep, *tn;
		size_t len;
		bool hit = false;
		int rc;

		if (!memchr(w->acc.p ? w->acc.p : "", '\n', w->acc.len)) {
			struct pollfd p = { w->fd, POLLIN, 0 };
			double left = deadline - now_ms();

			if (left <= 0)
				return fail("no epoch %llu event in time",
					    (unsigned long long)want);
			if (poll(&p, 1, (int)left + 1) <= 0)
				continue;
		}
		rc = ctl_read_line(w->fd, &w->acc, &len, err, sizeof(err));
		if (rc <= 0)
			return fail("watch: %s", rc ? err : "closed");
		memset(&doc, 0, sizeof(doc));
		if (ctl_json_parse(&doc, w->acc.p, len, 64, err,
				   sizeof(err)) == 0) {
			ev = ctl_json_get(&doc, &doc.v[0], "event");
			ep = ctl_json_get(&doc, &doc.v[0], "epoch");
			tn = ctl_json_get(&doc, &doc.v[0], "tunnel");
			hit = ev && ep && tn && ev->type == CTL_JSON_STRING &&
			      ep->type == CTL_JSON_INT &&
			      tn->type == CTL_JSON_STRING &&
			      strcmp(tn->str, TUNNEL) == 0 &&
			      (strcmp(ev->str, "rekey") == 0 ||
			       strcmp(ev->str, "up") == 0) &&
			      ep->num >= want;
		}
		ctl_json_free(&doc);
		ctl_buf_consume(&w->acc, len + 1);
		if (hit)
			return 0;
	}
	return -1;
}

/* ---- setup --------------------------------------------------------------- */

/* Closes the clear path site1 <-> site2: each gateway's route to the far
 * site via a neighbour that does not exist. */
static int clear_path_close(void)
{
	return sh("ip -n %s route replace 203.0.113.0/24 via 192.0.2.99 "
		  "dev g1", B.ns[GW1]) ||
	       sh("ip -n %s route replace 198.51.100.0/24 via 192.0.2.98 "
		  "dev g2", B.ns[GW2]) ? -1 : 0;
}

static int probe_send(int tx, uint32_t seq)
{
	struct sockaddr_in a;
	uint8_t b[8];

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(PROBE_PORT);
	inet_pton(AF_INET, "203.0.113.2", &a.sin_addr);
	memcpy(b, "EPRB", 4);
	b[4] = (uint8_t)(seq >> 24);
	b[5] = (uint8_t)(seq >> 16);
	b[6] = (uint8_t)(seq >> 8);
	b[7] = (uint8_t)seq;
	return sendto(tx, b, sizeof(b), 0, (struct sockaddr *)&a,
		      sizeof(a)) == (ssize_t)sizeof(b) ? 0 : -1;
}

/* Waits up to ms for a probe; 1 if one came. */
static int probe_recv(int rx, int ms)
{
	struct pollfd p = { rx, POLLIN, 0 };
	uint8_t b[64];

	if (poll(&p, 1, ms) <= 0)
		return 0;
	return recv(rx, b, sizeof(b), MSG_DONTWAIT) == 8 &&
	       memcmp(b, "EPRB", 4) == 0;
}

/* Counts the distinct requests ("sent X id N" without "response") and
 * the retransmissions in daemon i's log. */
static void count_requests(int i, unsigned *req, unsigned *retx,
			   char *names, size_t names_len)
{
	char *s = read_file(B.log[i]), *line, *save;
	char seen[64][32];
	unsigned n = 0;

	*req = *retx = 0;
	if (!s)
		return;
	for (line = strtok_r(s, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char type[16], key[32];
		unsigned id;
		const char *p = strstr(line, ": sent ");
		bool dup = false;

		/* responses read "sent WELCOME response id 0": no match */
		if (!p || sscanf(p, ": sent %15s id %u", type, &id) != 2)
			continue;
		snprintf(key, sizeof(key), "%s %u", type, id);
		for (unsigned k = 0; k < n; k++)
			dup = dup || strcmp(seen[k], key) == 0;
		if (dup) {
			(*retx)++;
			continue;
		}
		if (n < 64)
			snprintf(seen[n++], sizeof(seen[0]), "%s", key);
		(*req)++;
		if (strlen(names) + strlen(key) + 3 < names_len) {
			if (names[0])
				strcat(names, ", ");
			strcat(names, key);
		}
	}
	free(s);
}

static int part_setup(void)
{
	unsigned long in[2], out[2];
	unsigned req[2], retx[2], k;
	char names[2][256] = { "", "" };
	double t0, t1, next;
	uint32_t seq = 0;
	int tx, rx, got = 0;

	if (conf_pair() < 0 || clear_path_close() < 0)
		return -1;
	rx = ns_socket(B.ns[SITE2], "203.0.113.2", PROBE_PORT);
	tx = ns_socket(B.ns[SITE1], NULL, 0);
	if (rx < 0 || tx < 0)
		return -1;
	/* The clear path is closed: nothing arrives without the tunnel. */
	for (k = 0; k < 3; k++)
		probe_send(tx, seq++);
	if (probe_recv(rx, 300))
		return fail("a probe arrived without the tunnel: the clear "
			    "path is open");
	printf("# clear path site1 -> site2 closed (3 probes, none "
	       "delivered in 300 ms)\n");
	if (udp_counters(B.ns[GW1], &in[0], &out[0]) < 0 ||
	    udp_counters(B.ns[GW2], &in[1], &out[1]) < 0)
		return -1;
	t0 = now_ms();
	if (start_epochd(1) < 0 || start_epochd(0) < 0)
		return -1;
	next = t0;
	while (!interrupted && now_ms() - t0 < SETUP_TIMEOUT_MS) {
		double n = now_ms();

		if (n >= next) {
			probe_send(tx, seq++);
			next += 5;
		}
		got = probe_recv(rx, next > n ? (int)(next - n) + 1 : 0);
		if (got)
			break;
	}
	t1 = now_ms();
	if (!got) /* main shows the logs */
		return fail("no probe through the tunnel in %.0f ms",
			    SETUP_TIMEOUT_MS);
	{
		unsigned long i2[2], o2[2];

		if (udp_counters(B.ns[GW1], &i2[0], &o2[0]) < 0 ||
		    udp_counters(B.ns[GW2], &i2[1], &o2[1]) < 0)
			return -1;
		for (int i = 0; i < 2; i++) {
			in[i] = i2[i] - in[i];
			out[i] = o2[i] - out[i];
		}
	}
	for (int i = 0; i < 2; i++)
		count_requests(i, &req[i], &retx[i], names[i],
			       sizeof(names[i]));
	close(tx);
	close(rx);
	printf("# %u probes sent, every 5 ms, until the first arrived\n",
	       seq - 3);
	printf("# requests: gw1 (initiator) %s; gw2 %s; retransmissions "
	       "%u + %u\n", names[0][0] ? names[0] : "none",
	       names[1][0] ? names[1] : "none", retx[0], retx[1]);
	printf("# UDP datagrams until then (/proc/net/snmp): gw1 out %lu in "
	       "%lu, gw2 out %lu in %lu (X-Wing handshake: 13 without "
	       "retransmissions, epoch-bench handshake_datagrams_xwing)\n",
	       out[0], in[0], out[1], in[1]);
	for (int i = 0; i < 2; i++) {
		char *log = read_file(B.log[i]), *line, *save;

		for (line = log ? strtok_r(log, "\n", &save) : NULL; line;
		     line = strtok_r(NULL, "\n", &save))
			if (!strstr(line, ": debug: "))
				printf("# gw%d: %s\n", i + 1, line);
		free(log);
	}
	printf("BENCH setup_ms %.0f ms\n", t1 - t0);
	printf("BENCH setup_round_trips %u round-trips\n", req[0] + req[1]);
	fflush(stdout);
	if (req[0] + req[1] == 0)
		return fail("no \"sent ... id\" lines in the debug logs");
	return 0;
}

/* ---- rekeys -------------------------------------------------------------- */

static int flow_start(double seconds)
{
	static const char *const ad[2][2] = {
		{ "198.51.100.2", "203.0.113.2" },
		{ "203.0.113.2", "198.51.100.2" },
	};
	char dur[32], port[16], log[2][PATH_MAX];

	snprintf(dur, sizeof(dur), "%.0f", seconds + 2);
	snprintf(port, sizeof(port), "%d", FLOW_PORT);
	for (int i = 0; i < 2; i++) {
		char *argv[] = { B.udpflow, "-l", (char *)ad[i][0], "-p",
				 (char *)ad[i][1], "-P", port, "-r",
				 FLOW_RATE, "-d", dur, "-n", "19", NULL };

		snprintf(log[i], sizeof(log[i]), "%s/flow%d.log", B.dir, i + 1);
		B.flow[i] = spawn(B.ns[i ? SITE2 : SITE1], log[i], argv);
		if (B.flow[i] < 0)
			return -1;
	}
	return 0;
}

static void flow_report(void)
{
	for (int i = 0; i < 2; i++) {
		char p[PATH_MAX], *s, *l;
		int st;

		if (B.flow[i] > 0)
			waitpid(B.flow[i], &st, 0);
		B.flow[i] = 0;
		snprintf(p, sizeof(p), "%s/flow%d.log", B.dir, i + 1);
		s = read_file(p);
		l = s ? strstr(s, "UDPFLOW") : NULL;
		if (l) {
			l[strcspn(l, "\n")] = '\0';
			printf("# site%d: %s\n", i + 1, l);
		}
		free(s);
	}
}

/* Drop and error counters of the whole path, to say where a datagram
 * lost during the traffic run went: per namespace the IP and UDP drop
 * counters of /proc/net/snmp and, on the gateways, /proc/net/xfrm_stat
 * (CONFIG_XFRM_STATISTICS); for the machine the backlog drops of
 * /proc/net/softnet_stat and the ARP queue's unresolved_discards. */
#define CNT_MAX 128

struct counters {
	char name[CNT_MAX][48];
	unsigned long v[CNT_MAX];
	int n;
};

static void cnt_add(struct counters *c, const char *a, const char *b,
		    unsigned long v)
{
	if (c->n == CNT_MAX)
		return;
	snprintf(c->name[c->n], sizeof(c->name[0]), "%s:%s", a, b);
	c->v[c->n++] = v;
}

static void counters_read(struct counters *c)
{
	static const char *const snmp[][2] = {
		{ "Ip", "InDiscards" }, { "Ip", "OutDiscards" },
		{ "Ip", "OutNoRoutes" }, { "Ip", "InHdrErrors" },
		{ "Ip", "InAddrErrors" }, { "Udp", "InErrors" },
		{ "Udp", "RcvbufErrors" }, { "Udp", "NoPorts" },
	};
	static const char *const nsn[4] = { "site1", "gw1", "gw2", "site2" };
	char line[512];
	FILE *f;

	c->n = 0;
	for (int i = 0; i < 4; i++) {
		for (size_t k = 0; k < sizeof(snmp) / sizeof(snmp[0]); k++) {
			unsigned long v = 0;

			if (snmp_field(B.ns[i], snmp[k][0], snmp[k][1],
				       &v) == 0)
				cnt_add(c, nsn[i], snmp[k][1], v);
		}
		if (i != GW1 && i != GW2)
			continue;
		if (ns_enter(B.ns[i]) < 0)
			continue;
		f = fopen("/proc/self/net/xfrm_stat", "r");
		ns_enter(NULL);
		while (f && fgets(line, sizeof(line), f)) {
			char name[40];
			unsigned long v;

			if (sscanf(line, "%39s %lu", name, &v) == 2)
				cnt_add(c, nsn[i], name, v);
		}
		if (f)
			fclose(f);
	}
	f = fopen("/proc/net/softnet_stat", "r");
	{
		unsigned long sum = 0, p, d;

		while (f && fscanf(f, "%lx %lx%*[^\n]", &p, &d) == 2)
			sum += d;
		if (f)
			fclose(f);
		cnt_add(c, "all", "softnet_dropped", sum);
	}
	f = fopen("/proc/net/stat/arp_cache", "r");
	if (f && fgets(line, sizeof(line), f)) {
		/* header names the columns; unresolved_discards is one */
		char hdr[512], *hs, *vs, *h, *v;
		unsigned long sum = 0;
		int col = -1, k = 0;

		snprintf(hdr, sizeof(hdr), "%s", line);
		for (h = strtok_r(hdr, " \n", &hs); h;
		     h = strtok_r(NULL, " \n", &hs), k++)
			if (strcmp(h, "unresolved_discards") == 0)
				col = k;
		while (col >= 0 && fgets(line, sizeof(line), f)) {
			k = 0;
			for (v = strtok_r(line, " \n", &vs); v;
			     v = strtok_r(NULL, " \n", &vs), k++)
				if (k == col)
					sum += strtoul(v, NULL, 16);
		}
		cnt_add(c, "all", "arp_unresolved_discards", sum);
	}
	if (f)
		fclose(f);
}

static void counters_report(const struct counters *before)
{
	struct counters now;
	char out[2048] = "";

	counters_read(&now);
	for (int k = 0; k < now.n && k < before->n; k++) {
		unsigned long d = now.v[k] - before->v[k];

		if (d && strcmp(now.name[k], before->name[k]) == 0 &&
		    strlen(out) + 80 < sizeof(out))
			snprintf(out + strlen(out), sizeof(out) - strlen(out),
				 " %s=%lu", now.name[k], d);
	}
	printf("# drop/error counters that moved during the traffic run:%s\n",
	       out[0] ? out : " none");
}

static int rekey_run(double seconds, double *rate, unsigned *count)
{
	struct watch w[2] = { { -1, { 0 } }, { -1, { 0 } } };
	struct ctl_status st;
	struct ctl_buf acc;
	double t0, el;
	uint64_t epoch;
	size_t len;
	unsigned n = 0;
	int rc = -1;

	if (watch_open(&w[0], 0) < 0 || watch_open(&w[1], 1) < 0 ||
	    status_of(0, &st) < 0)
		goto out;
	epoch = st.epoch;
	t0 = now_ms();
	do {
		int side = n & 1;
		double dl;

		if (ctl_do(B.sock[side], CTL_CMD_REKEY, TUNNEL, &acc, &len) < 0)
			goto out;
		epoch++;
		dl = now_ms() + EPOCH_TIMEOUT_MS;
		if (watch_epoch(&w[0], epoch, dl) < 0 ||
		    watch_epoch(&w[1], epoch, dl) < 0)
			goto out;
		n++;
		el = now_ms() - t0;
	} while (!interrupted && el < seconds * 1000);
	*rate = n / (el / 1000);
	*count = n;
	/* Both sides agree at the end. */
	{
		struct ctl_status a, b;

		if (status_of(0, &a) < 0 || status_of(1, &b) < 0)
			goto out;
		if (a.epoch != epoch || b.epoch != epoch ||
		    a.spi_out != b.spi_in || b.spi_out != a.spi_in) {
			fail("after the rekeys: epochs %llu/%llu (want %llu), "
			     "spi gw1 out %08x gw2 in %08x",
			     (unsigned long long)a.epoch,
			     (unsigned long long)b.epoch,
			     (unsigned long long)epoch, a.spi_out, b.spi_in);
			goto out;
		}
	}
	rc = 0;
out:
	watch_close(&w[0]);
	watch_close(&w[1]);
	return rc;
}

static int part_rekey(void)
{
	const char *env = getenv("BENCH_REKEY_SECONDS");
	double secs = env ? atof(env) : 20, rate;
	static struct counters cnt[1];
	unsigned n;

	if (!(secs > 0))
		secs = 20;
	if (B.pid[0] <= 0 || B.pid[1] <= 0)
		return fail("rekey needs the tunnel of setup");
	if (rekey_run(secs, &rate, &n) < 0)
		return -1;
	printf("# %u rekeys in %.0f s, sides alternating, no traffic\n", n,
	       secs);
	printf("BENCH rekeys_per_s %.1f rekeys/s\n", rate);
	fflush(stdout);
	counters_read(cnt);
	if (flow_start(secs) < 0)
		return -1;
	if (rekey_run(secs, &rate, &n) < 0)
		return -1;
	flow_report();
	counters_report(cnt);
	printf("# %u rekeys in %.0f s with udpflow %s datagrams/s each way\n",
	       n, secs, FLOW_RATE);
	printf("BENCH rekeys_per_s_traffic %.1f rekeys/s\n", rate);
	fflush(stdout);
	return 0;
}

/* ---- rss ----------------------------------------------------------------- */

static long vmrss_kb(pid_t pid)
{
	char p[64], *s, *l;
	long kb = -1;

	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	s = read_file(p);
	l = s ? strstr(s, "VmRSS:") : NULL;
	if (l)
		kb = strtol(l + 6, NULL, 10);
	free(s);
	return kb;
}

/* VmRSS of epochd's processes: the one started and its children (with
 * privilege separation the network process, which holds the tunnels, is
 * the child of the privileged one). */
static long vmrss_tree_kb(pid_t pid)
{
	char p[96], *s, *q, *end;
	long kb = vmrss_kb(pid);

	snprintf(p, sizeof(p), "/proc/%d/task/%d/children", (int)pid,
		 (int)pid);
	s = read_file(p);
	for (q = s; q && *q;) {
		long c = strtol(q, &end, 10), k;

		if (end == q)
			break;
		k = vmrss_kb((pid_t)c);
		if (k > 0 && kb > 0)
			kb += k;
		q = end;
	}
	free(s);
	return kb;
}

static int rss_one(unsigned n, long *kb)
{
	char tag[16], lts[32], rts[32], remote[32];
	FILE *f;
	int rc;

	snprintf(tag, sizeof(tag), "-rss%u", n);
	f = conf_begin(0, tag, "info");
	if (!f)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		char name[16];

		snprintf(name, sizeof(name), "r%u", i);
		snprintf(remote, sizeof(remote), "192.0.2.%u", 10 + i);
		snprintf(lts, sizeof(lts), "198.51.100.0/24");
		snprintf(rts, sizeof(rts), "203.0.113.%u/32", 100 + i);
		conf_tunnel(f, name, "192.0.2.1", remote, B.pub[1], lts, rts,
			    "initiator", i + 1 == n);
	}
	if (conf_end(0, f) < 0 || start_epochd(0) < 0)
		return -1;
	if (wait_log(0, "started", START_TIMEOUT_MS) < 0) {
		show_log(0);
		return -1;
	}
	/* Part of the definition: settled, 2 s later. Then a few more
	 * samples, 250 ms apart, to show whether it still moves. */
	sleep_ms(2000);
	*kb = vmrss_tree_kb(B.pid[0]);
	printf("# %u tunnel%s: VmRSS %ld kB at 2 s, then", n,
	       n == 1 ? "" : "s", *kb);
	for (int k = 0; k < 8; k++) {
		sleep_ms(250);
		printf(" %ld", vmrss_tree_kb(B.pid[0]));
	}
	printf(" kB; ");
	fflush(stdout);
	/* What the daemon holds in the kernel meanwhile (policies install
	 * without ESP support; SAs would not, and none is made here). */
	sh("printf '%%s XFRM policies, %%s SAs in gw1\\n' "
	   "$(ip -n %s xfrm policy list | grep -c '^src') "
	   "$(ip -n %s xfrm state list | grep -c '^src')",
	   B.ns[GW1], B.ns[GW1]);
	rc = stop(&B.pid[0]);
	if (rc != 0) {
		show_log(0);
		return fail("epochd with %u tunnels exited %d on SIGTERM", n,
			    rc);
	}
	return *kb > 0 ? 0 : fail("no VmRSS");
}

static int part_rss(void)
{
	long kb1, kb100;

	if (rss_one(1, &kb1) < 0 || rss_one(N_RSS_MAX, &kb100) < 0)
		return -1;
	printf("BENCH rss_kb_1 %ld kB\n", kb1);
	printf("BENCH rss_kb_100 %ld kB\n", kb100);
	printf("# %.1f kB per further tunnel\n",
	       (double)(kb100 - kb1) / (N_RSS_MAX - 1));
	fflush(stdout);
	return 0;
}

/* ---- main ---------------------------------------------------------------- */

static void cleanup(void)
{
	for (int i = 0; i < 2; i++) {
		if (B.flow[i] > 0) {
			kill(B.flow[i], SIGKILL);
			waitpid(B.flow[i], NULL, 0);
			B.flow[i] = 0;
		}
		stop(&B.pid[i]);
	}
	if (B.topo_up) {
		B.topo_up = false;
		sh("netns/topology.sh down %s >/dev/null", B.prefix);
	}
	if (B.dir[0] && !getenv("BENCH_KEEP"))
		sh("rm -rf '%s'", B.dir);
	if (B.sockdir[0])
		sh("rm -rf '%s'", B.sockdir);
}

static bool in_vm(void)
{
	char *s = read_file("/proc/cmdline");
	bool vm = s && strstr(s, "vmcmd=");

	free(s);
	return vm;
}

static int locate(void)
{
	char exe[PATH_MAX - 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *s;

	if (n <= 0)
		return fail("readlink /proc/self/exe: %s", strerror(errno));
	exe[n] = '\0';
	/* BUILD/tests/e2e/bench_daemon */
	for (int k = 0; k < 3; k++) {
		s = strrchr(exe, '/');
		if (!s)
			return fail("unexpected path %s", exe);
		*s = '\0';
	}
	snprintf(B.build, sizeof(B.build), "%s", exe);
	snprintf(B.epochd, sizeof(B.epochd), "%s/bin/epochd", exe);
	snprintf(B.epochctl, sizeof(B.epochctl), "%s/bin/epochctl", exe);
	snprintf(B.udpflow, sizeof(B.udpflow), "%s/tests/e2e/udpflow", exe);
	if (access(B.epochd, X_OK) || access(B.epochctl, X_OK) ||
	    access(B.udpflow, X_OK))
		return fail("%s, %s or %s missing (make)", B.epochd,
			    B.epochctl, B.udpflow);
	if (access("netns/topology.sh", X_OK))
		return fail("run from the tree's root (netns/topology.sh)");
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const names[4] = { "site1", "gw1", "gw2",
					      "site2" };
	bool do_setup = argc < 2, do_rekey = argc < 2, do_rss = argc < 2;
	struct sigaction sa;
	struct utsname u;
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "setup") == 0)
			do_setup = true;
		else if (strcmp(argv[i], "rekey") == 0)
			do_setup = do_rekey = true;
		else if (strcmp(argv[i], "rss") == 0)
			do_rss = true;
		else {
			fprintf(stderr, "usage: bench_daemon "
					"[setup|rekey|rss]...\n");
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		fail("needs root");
		return 1;
	}
	if (locate() < 0)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	B.self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (B.self_ns < 0) {
		fail("/proc/self/ns/net: %s", strerror(errno));
		return 1;
	}
	/* BENCH_TMP: where the work directory goes (default /tmp; with
	 * BENCH_KEEP and vm.sh -o DIR the logs survive the VM). */
	snprintf(B.dir, sizeof(B.dir), "%.40s/epbench.XXXXXX",
		 getenv("BENCH_TMP") ? getenv("BENCH_TMP") : "/tmp");
	if (!mkdtemp(B.dir)) {
		fail("mkdtemp: %s", strerror(errno));
		B.dir[0] = '\0';
		return 1;
	}
	/* epochd's network process (user epochd, docs/privsep.md) reaches
	 * its state directory in it. */
	chmod(B.dir, 0711);
	/* The control sockets stay in /tmp (a 9p share has none). */
	snprintf(B.sockdir, sizeof(B.sockdir), "/tmp/epbsock.XXXXXX");
	if (!mkdtemp(B.sockdir)) {
		fail("mkdtemp: %s", strerror(errno));
		B.sockdir[0] = '\0';
		cleanup();
		return 1;
	}
	snprintf(B.prefix, sizeof(B.prefix), "epb%d-", (int)getpid());
	for (int i = 0; i < 4; i++)
		snprintf(B.ns[i], sizeof(B.ns[i]), "%s%s", B.prefix, names[i]);
	B.vm = in_vm();
	uname(&u);
	printf("# bench_daemon: kernel %s%s\n", u.release,
	       B.vm ? " (VM, TCG): times under software emulation, much "
		      "slower than on hardware" : "");
	if (sh("netns/topology.sh up %s", B.prefix) < 0)
		goto out;
	B.topo_up = true;
	if (genkey(0) < 0 || genkey(1) < 0)
		goto out;
	if (do_setup && part_setup() < 0)
		goto out;
	if (do_rekey && part_rekey() < 0)
		goto out;
	for (int i = 0; i < 2; i++) {
		int st = stop(&B.pid[i]);

		if (st != 0) {
			show_log(i);
			fail("epochd gw%d exited %d on SIGTERM", i + 1, st);
			goto out;
		}
	}
	if (do_rss && part_rss() < 0)
		goto out;
	rc = interrupted ? 1 : 0;
out:
	if (rc)
		for (int i = 0; i < 2; i++)
			if (B.pid[i] > 0)
				show_log(i);
	cleanup();
	return rc;
}
