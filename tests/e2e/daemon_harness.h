/* The harness of the daemon end-to-end tests (tests/e2e/test_daemon*.c):
 * two epochd instances, one in each gateway namespace of
 * netns/topology.sh, with one tunnel "t1" between them carrying
 * site1 (198.51.100.0/24) <-> site2 (203.0.113.0/24) over the gateway link
 * (192.0.2.1 <-> 192.0.2.2).
 *
 * Per run (dh_init) a private directory outside /tmp (the VM's /tmp is its
 * own tmpfs, which would do, but /run is what a daemon uses) holds the key
 * files (epochctl genkey, 0600 root: read before the daemon drops
 * privileges), the configuration files (0644: the unprivileged network
 * process and the privileged process re-read them on reload; the
 * directory is 0711 for that) and the control sockets (each in a directory
 * of its own owned by user epochd, as a systemd RuntimeDirectory would
 * be, so the unprivileged process can remove its socket at exit); the daemons' logs (stderr) go to E2E_LOG_DIR (kept after the
 * run, copied out of the VM) or that directory. Everything the harness
 * starts is registered and cleaned up on every exit path (atexit, SIGTERM,
 * SIGINT, SIGHUP): daemons get SIGTERM (they delete their SAs and policies)
 * and SIGKILL if they do not stop, netem qdiscs are deleted, the run
 * directory is removed.
 *
 * Every wait polls with a limit (no sleep decides anything); limits are
 * generous because the VM is emulated and shared.
 */
#ifndef EPOCHD_DAEMON_HARNESS_H
#define EPOCHD_DAEMON_HARNESS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DH_TUNNEL "t1"
#define DH_PORT 7450
/* The reqid range of automatic reqids (config.h CONFIG_REQID_AUTO_*). */
#define DH_REQID_LO 0x45700000u
#define DH_REQID_HI 0x4570ffffu

extern const char *const dh_ip_gw[2];   /* 192.0.2.1, 192.0.2.2 */
extern const char *const dh_ip_site[2]; /* 198.51.100.2, 203.0.113.2 */

/* What a configuration file says beyond the fixed parts; zero/NULL members
 * are left at the daemon's defaults. */
struct dh_conf {
	const char *suite;      /* "xwing", "x25519-aes128", ... */
	const char *esp;
	const char *peer_key;   /* NULL: the peer's real public key */
	int dpd_interval;       /* seconds; 0: default */
	int dpd_timeout;
	const char *log_level;  /* default: E2E_DAEMON_LOG_LEVEL, else
				 * "info" */
	const char *extra_tunnel; /* raw lines added to the tunnel group */
	const char *user;       /* global.user; NULL: E2E_DAEMON_USER if
				 * set, else the daemon's default ("epochd":
				 * privilege separation, as in production);
				 * "": none */
	const char *extra_global; /* raw lines added to the global group */
};

struct dh_daemon {
	pid_t pid;          /* -1 when not running */
	int gw;
	char conf[PATH_MAX];
	char sock[108];
	char log[PATH_MAX];
	int starts;         /* runs so far (log files are appended) */
	long log_off;       /* where the current run's log begins */
};

struct dh_env {
	const char *ns_site[2], *ns_gw[2];
	char epochd[PATH_MAX], epochctl[PATH_MAX], udpflow[PATH_MAX];
	char work[128];       /* per-run directory (keys, configs, sockets) */
	char logs[1024];      /* where daemon logs go */
	char key[2][256];
	char pub[2][64];      /* base64 public keys */
	struct dh_daemon d[2];
	bool netem[2];        /* a root qdisc of ours on the gateway link */
	int confs;            /* configuration files written */
	uint64_t t0;          /* dh_init, ms */
};

/* Parses argv (SITE1 GW1 GW2 SITE2), finds the binaries next to this
 * program (build/bin/epochd, build/bin/epochctl, udpflow), makes the run
 * directory and the two key pairs, installs the cleanup handlers. Returns
 * 0, or -1 after printing why. */
int dh_init(struct dh_env *e, int argc, char **argv);
/* Stops everything (also run at exit). */
void dh_cleanup(struct dh_env *e);

/* Writes a configuration for gateway gw (its path in out, which is
 * PATH_MAX). */
int dh_conf_write(struct dh_env *e, int gw, const struct dh_conf *c,
		  char *out);
/* Starts epochd -c conf in gateway gw's namespace and waits (limit
 * ms) until its control socket answers a status request. Returns 0, or -1
 * (the daemon exited or did not answer; reported with test_fail). */
int dh_start(struct dh_env *e, int gw, const char *conf, int limit_ms);
/* Starts both with their own config written from c (peer keys right). */
int dh_start_both(struct dh_env *e, const struct dh_conf *c);
/* SIGTERM and wait (30 s), else SIGKILL. Returns the exit status as
 * waitpid's, or -1 if it had to be killed. */
int dh_stop(struct dh_env *e, int gw);
/* Stops both and checks they exited 0 and left no SA or policy of the
 * automatic reqid range. */
void dh_stop_both_checked(struct dh_env *e);
/* Lines of daemon gw's whole log (every run) with a sanitizer report
 * (ASan, LeakSanitizer, UBSan "runtime error:"); the first few are
 * printed. dh_stop_both_checked checks there are none, and dh_alive
 * prints them when it finds the daemon dead. */
int dh_san_reports(struct dh_env *e, int gw);
/* SIGKILL, reaped; returns once its network process (privilege
 * separation) is gone too. */
void dh_kill9(struct dh_env *e, int gw);
/* True while the daemon's process runs (reaps it if it exited, printing
 * the status). */
bool dh_alive(struct dh_env *e, int gw);

/* One control request line (without newline) on a fresh connection; the
 * reply line (without newline) into reply. 0, or -1 (connect, I/O,
 * timeout). */
int dh_ctl(const char *sock, const char *req, char *reply, size_t cap,
	   int limit_ms);

struct dh_status {
	char state[16];
	char trigger[16];
	char suite[24];
	uint64_t epoch, spi_in, spi_out;
	uint64_t bytes_in, bytes_out, packets_in, packets_out;
	uint64_t retransmits;
};
/* status of t1 from gateway gw's daemon. 0 or -1. */
int dh_status(struct dh_env *e, int gw, struct dh_status *st);
/* Both "up" (not rekeying), equal epochs >= min_epoch, spi_in of one =
 * spi_out of the other; polls up to limit_ms. 0, or -1 with the last
 * statuses in st (not reported: the caller decides). */
int dh_wait_synced(struct dh_env *e, uint64_t min_epoch, int limit_ms,
		   struct dh_status st[2]);
/* A rekey request for t1 to gateway gw; 0 if the reply is ok:true. */
int dh_rekey(struct dh_env *e, int gw);
/* Rekey requests to both at the same moment (both written before either
 * reply is read). 0 if both replies are ok:true. */
int dh_rekey_both(struct dh_env *e);

/* Kernel SAs of the automatic reqid range in gateway gw (ip xfrm state).
 * n_out: src is gw's address; n_in: dst is gw's address. spi_* hold the
 * first ones found. Returns the number of such SAs, or -1. */
struct dh_sas {
	int n_in, n_out, n_other;
	uint32_t spi_in[8], spi_out[8];
};
int dh_sas(struct dh_env *e, int gw, struct dh_sas *s);
/* Policies (templates) with a reqid of the automatic range in gateway gw,
 * or -1. */
int dh_policies(struct dh_env *e, int gw);
/* Polls until each gateway holds exactly one SA per direction (limit
 * ms); 0 or -1 (last counts in s). */
int dh_wait_one_sa_each(struct dh_env *e, int limit_ms, struct dh_sas s[2]);
/* Lines of daemon gw's log containing needle, in its current (last
 * started) run. */
int dh_log_count(struct dh_env *e, int gw, const char *needle);
/* Polls until daemon gw's log has at least n lines with needle. */
int dh_wait_log(struct dh_env *e, int gw, const char *needle, int n,
		int limit_ms);

/* ping from site s to the other site: count echo requests, interval
 * 0.2 s; returns the replies received (or -1). */
int dh_ping(struct dh_env *e, int s, int count);

/* Runs argv (absolute path), its stdout (and stderr if with_stderr)
 * into out (NUL-terminated, at most cap - 1 bytes). Returns the exit
 * status, or -1. */
int dh_run_output(char *const argv[], bool with_stderr, char *out,
		  size_t cap);
/* The integer in environment variable name, def if unset or empty. */
int dh_env_int(const char *name, int def);

/* Diagnostics: the tail of both daemons' logs and ip xfrm state/policy of
 * both gateways. */
void dh_diag(struct dh_env *e, const char *why);
/* Runs a shell command, output indented on stdout; returns its status. */
int dh_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* netem on the gateway link, both veths (g1 in gw1, g2 in gw2): args is
 * the netem part ("loss 10% delay 20ms reorder 25% 50%"). port > 0: only
 * UDP to that port (prio qdisc, u32 filter on the destination port;
 * esp-in-vm.md §8). 0 or -1. */
int dh_netem(struct dh_env *e, const char *args, int port);
/* Packets the netem qdiscs of both gateways dropped so far, or -1. */
long dh_netem_drops(struct dh_env *e);
/* Removes it again (also done by dh_cleanup); prints the netem qdiscs'
 * statistics first (drops). */
int dh_netem_off(struct dh_env *e);

/* A UDP socket in namespace ns (bound to an ephemeral port). fd or -1. */
int dh_udp_socket_in(const char *ns, int family);

/* ---- udpflow (the sequence-numbered traffic of test_rollover) ---------- */

struct dh_flow {
	pid_t pid;
	int fd;
	char buf[8192];
	size_t len;
	char line[1024];
	bool done;
};
struct dh_flowres {
	uint64_t sent, received, unique, lost, dup, reordered, fins, fin;
	uint64_t peer_sent, send_errors, rate, stalls;
};
/* Starts udpflow in both sites (port, rate per second, nice 19), waits
 * until both are bound, then lets them send. 0 or -1. */
int dh_flows_start(struct dh_env *e, struct dh_flow f[2], int port,
		   int rate);
/* SIGTERM both, read their result lines (parsed into r). 0 or -1. */
int dh_flows_stop(struct dh_env *e, struct dh_flow f[2],
		  struct dh_flowres r[2]);
/* Kills whatever is left. */
void dh_flows_kill(struct dh_flow f[2]);

/* ---- rekey runs -------------------------------------------------------- */

struct dh_rekeys {
	int done;             /* rekeys that completed */
	int refused;          /* rekey requests not answered ok:true */
	uint64_t epoch0, epoch; /* before the first, after the last */
	uint64_t t0, ms, ms_max; /* start; total and slowest (trigger to
				  * synced) */
	struct dh_status st[2]; /* last statuses */
};
/* Waits until both daemons are synced (dh_wait_synced) and starts the
 * count there. 0 or -1 (reported). */
int dh_rekeys_begin(struct dh_env *e, int limit_ms, struct dh_rekeys *r);
/* One rekey of t1, triggered on gateway who (0, 1) or on both at the same
 * moment (2); waits (limit_ms) until both daemons are up on the same epoch
 * above the last one, with matching SPIs. 0, or -1 (reported). */
int dh_rekey_step(struct dh_env *e, int who, int limit_ms,
		  struct dh_rekeys *r);
/* dh_rekeys_begin, then count steps: alternately gw1 and gw2, or all on
 * both at once. */
int dh_rekeys(struct dh_env *e, int count, bool both, int limit_ms,
	      struct dh_rekeys *r);
/* "  what: N rekeys in S s (M ms each, slowest X ms), epoch A -> B" */
void dh_rekeys_print(const char *what, const struct dh_rekeys *r);
/* After a run with flows: checks both directions (no loss, no
 * duplicate, every datagram went through ESP: the receiving gateway's
 * packets_in covers it) and prints
 *   TAG rekeys=N epochs_equal=yes lost=0 dup=0
 * with the figures summed over both directions, and a detail line per
 * direction. st: the daemons' statuses after the flows stopped. */
void dh_rekey_report(const char *tag, int rekeys, const struct dh_status st[2],
		     const struct dh_flowres r[2], const char *extra);

/* test_run(name, fn), unless DAEMON_ONLY (a list of keys, for
 * development) is set and lacks key: then reported as skipped. */
void dh_run_case(const char *key, const char *name, void (*fn)(void));

uint64_t dh_now_ms(void);
void dh_nap_ms(long ms);

#endif
