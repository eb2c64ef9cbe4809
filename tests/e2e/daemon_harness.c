/* The daemon end-to-end tests' harness: see daemon_harness.h. */
#include "tests/e2e/daemon_harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/test.h"

const char *const dh_ip_gw[2] = { "192.0.2.1", "192.0.2.2" };
const char *const dh_ip_site[2] = { "198.51.100.2", "203.0.113.2" };
static const char *const net_site[2] = { "198.51.100.0/24",
					 "203.0.113.0/24" };
static const char *const gw_dev[2] = { "g1", "g2" };

/* The environment to clean up at exit or on a signal (test program state,
 * one per process). */
static struct dh_env *cleanup_env;

uint64_t dh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000;
}

void dh_nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
}

int dh_sh(const char *fmt, ...)
{
	char cmd[2048], line[1024];
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(stdout);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		printf("    %s", line);
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- setup and cleanup --------------------------------------------------- */

static void on_exit_cleanup(void)
{
	if (cleanup_env)
		dh_cleanup(cleanup_env);
}

static void on_signal(int sig)
{
	printf("  harness: signal %d, cleaning up\n", sig);
	on_exit_cleanup();
	_exit(128 + sig);
}

int dh_run_output(char *const argv[], bool with_stderr, char *out,
		  size_t cap)
{
	int pfd[2], st;
	size_t len = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) != 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pfd[1], 1);
		if (with_stderr)
			dup2(pfd[1], 2);
		execv(argv[0], argv);
		perror(argv[0]);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t k = read(pfd[0], out + len, cap - 1 - len);

		if (k <= 0)
			break;
		len += (size_t)k;
		if (len == cap - 1)
			break;
	}
	close(pfd[0]);
	out[len] = 0;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int dh_env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : def;
}

/* A writable directory for the run: /run (tmpfs in the VM, root's on a
 * host), else the log directory. */
static int make_workdir(struct dh_env *e)
{
	const char *bases[2] = { "/run", e->logs };

	for (int i = 0; i < 2; i++) {
		snprintf(e->work, sizeof(e->work), "%s/epochd-e2e.XXXXXX",
			 bases[i]);
		/* 0711: epochd's unprivileged processes (docs/privsep.md)
		 * reach their configuration and state_dir in it. */
		if (strlen(e->work) < 60 && mkdtemp(e->work) &&
		    chmod(e->work, 0711) == 0)
			return 0;
	}
	printf("FAIL harness: no writable run directory (%s)\n",
	       strerror(errno));
	e->work[0] = 0;
	return -1;
}

/* The control socket's directory, as systemd's RuntimeDirectory would be
 * for a daemon running as its user: owned by user epochd when it exists
 * (the network process removes the socket at exit, docs/privsep.md). */
static int sock_dir(struct dh_env *e, int gw)
{
	struct passwd *pw = getpwnam("epochd");
	char dir[sizeof(e->work) + 16];

	snprintf(dir, sizeof(dir), "%s/run-gw%d", e->work, gw + 1);
	if (strlen(dir) + sizeof("/epochd.sock") > sizeof(e->d[gw].sock)) {
		printf("FAIL harness: %s: too long for a socket path\n", dir);
		return -1;
	}
	if (mkdir(dir, 0750) != 0 ||
	    (pw && chown(dir, pw->pw_uid, 0) != 0)) {
		printf("FAIL harness: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	memcpy(e->d[gw].sock, dir, strlen(dir));
	memcpy(e->d[gw].sock + strlen(dir), "/epochd.sock",
	       sizeof("/epochd.sock"));
	return 0;
}

int dh_init(struct dh_env *e, int argc, char **argv)
{
	char self[960], *slash;
	const char *ld = getenv("E2E_LOG_DIR");
	ssize_t n;

	memset(e, 0, sizeof(*e));
	e->t0 = dh_now_ms();
	e->d[0].pid = e->d[1].pid = -1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 5) {
		fprintf(stderr, "usage: %s SITE1 GW1 GW2 SITE2\n", argv[0]);
		return -1;
	}
	e->ns_site[0] = argv[1];
	e->ns_gw[0] = argv[2];
	e->ns_gw[1] = argv[3];
	e->ns_site[1] = argv[4];
	signal(SIGPIPE, SIG_IGN);
	/* Everything the harness starts inherits nice 19, the flows' nice
	 * (udpflow -n 19; see test_rollover.c): on a starved emulated CPU
	 * the kernel's packet processing comes first, and the daemons, the
	 * flows and this program share the rest evenly (with the daemons at
	 * 0, back-to-back rekeys left the flows under 100 datagrams/s). */
	if (setpriority(PRIO_PROCESS, 0, 19) != 0)
		perror("setpriority");

	/* BUILD/tests/e2e/test_x: epochd and epochctl in BUILD/bin. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		printf("FAIL harness: readlink /proc/self/exe\n");
		return -1;
	}
	self[n] = 0;
	slash = strrchr(self, '/');
	*slash = 0;
	snprintf(e->udpflow, sizeof(e->udpflow), "%s/udpflow", self);
	snprintf(e->epochd, sizeof(e->epochd), "%s/../../bin/epochd", self);
	snprintf(e->epochctl, sizeof(e->epochctl), "%s/../../bin/epochctl",
		 self);
	if (ld && *ld)
		snprintf(e->logs, sizeof(e->logs), "%s", ld);
	else
		snprintf(e->logs, sizeof(e->logs), "%s/../../test-logs/e2e",
			 self);
	mkdir(e->logs, 0755);
	{
		const char *need[3] = { e->epochd, e->epochctl, e->udpflow };

		for (int i = 0; i < 3; i++)
			if (access(need[i], X_OK) != 0) {
				printf("FAIL harness: %s: %s\n", need[i],
				       strerror(errno));
				return -1;
			}
	}
	if (make_workdir(e) != 0)
		return -1;
	cleanup_env = e;
	atexit(on_exit_cleanup);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);

	for (int gw = 0; gw < 2; gw++) {
		char *av[4];
		int rc;

		snprintf(e->key[gw], sizeof(e->key[gw]), "%s/gw%d.key",
			 e->work, gw + 1);
		av[0] = e->epochctl;
		av[1] = "genkey";
		av[2] = e->key[gw];
		av[3] = NULL;
		rc = dh_run_output(av, false, e->pub[gw], sizeof(e->pub[gw]));
		e->pub[gw][strcspn(e->pub[gw], "\n")] = 0;
		if (rc != 0 || strlen(e->pub[gw]) != 44) {
			printf("FAIL harness: epochctl genkey %s: exit %d, "
			       "'%s'\n", e->key[gw], rc, e->pub[gw]);
			return -1;
		}
		e->d[gw].gw = gw;
		if (sock_dir(e, gw) != 0)
			return -1;
		snprintf(e->d[gw].log, sizeof(e->d[gw].log),
			 "%s/epochd-%s-gw%d.log", e->logs,
			 program_invocation_short_name, gw + 1);
		unlink(e->d[gw].log);
	}
	printf("  harness: run directory %s, daemon logs %s/epochd-%s-gw*.log"
	       "\n", e->work, e->logs, program_invocation_short_name);
	return 0;
}

void dh_cleanup(struct dh_env *e)
{
	for (int gw = 0; gw < 2; gw++)
		if (e->d[gw].pid > 0)
			dh_stop(e, gw);
	if (e->netem[0] || e->netem[1])
		dh_netem_off(e);
	if (e->work[0]) {
		char cmd[PATH_MAX + 16];

		printf("  harness: %s ran %.1f s\n",
		       program_invocation_short_name,
		       (double)(dh_now_ms() - e->t0) / 1e3);

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->work);
		if (system(cmd) != 0)
			printf("  harness: could not remove %s\n", e->work);
		e->work[0] = 0;
	}
}

/* ---- configuration and daemons ------------------------------------------- */

int dh_conf_write(struct dh_env *e, int gw, const struct dh_conf *c,
		  char *out)
{
	char state[PATH_MAX + 16];
	FILE *f;
	bool bad;

	const char *level = getenv("E2E_DAEMON_LOG_LEVEL");
	/* E2E_DAEMON_USER (set, even empty) overrides the default user:
	 * "" compares a run without privilege separation. */
	const char *user = c->user ? c->user : getenv("E2E_DAEMON_USER");

	if (!level || !*level)
		level = "info";
	e->confs++;
	snprintf(out, PATH_MAX, "%s/gw%d-%d.conf", e->work, gw + 1, e->confs);
	snprintf(state, sizeof(state), "%s/state%d", e->work, gw + 1);
	mkdir(state, 0700);
	f = fopen(out, "w");
	if (!f) {
		test_fail(__FILE__, __LINE__, "%s: %s", out, strerror(errno));
		return -1;
	}
	fprintf(f,
		"# written by %s\n"
		"global = {\n"
		"\tport = %d;\n"
		"\tprivate_key = \"%s\";\n"
		"\tstate_dir = \"%s\";\n"
		"\tcontrol_socket = \"%s\";\n"
		"\tlog_level = \"%s\";\n"
		"%s%s%s%s%s"
		"};\n"
		"tunnels = (\n"
		"\t{\n"
		"\t\tname = \"%s\";\n"
		"\t\tlocal = \"%s\";\n"
		"\t\tremote = \"%s\";\n"
		"\t\tpeer_key = \"%s\";\n"
		"\t\tlocal_ts = [ \"%s\" ];\n"
		"\t\tremote_ts = [ \"%s\" ];\n",
		program_invocation_short_name, DH_PORT, e->key[gw], state,
		e->d[gw].sock, c->log_level ? c->log_level : level,
		user ? "\tuser = \"" : "", user ? user : "",
		user ? "\";\n" : "",
		c->extra_global ? c->extra_global : "",
		c->extra_global ? "\n" : "", DH_TUNNEL, dh_ip_gw[gw],
		dh_ip_gw[!gw],
		c->peer_key ? c->peer_key : e->pub[!gw], net_site[gw],
		net_site[!gw]);
	if (c->suite)
		fprintf(f, "\t\tsuite = \"%s\";\n", c->suite);
	if (c->esp)
		fprintf(f, "\t\tesp = \"%s\";\n", c->esp);
	if (c->dpd_interval)
		fprintf(f, "\t\tdpd_interval = %d;\n", c->dpd_interval);
	if (c->dpd_timeout)
		fprintf(f, "\t\tdpd_timeout = %d;\n", c->dpd_timeout);
	if (c->extra_tunnel)
		fprintf(f, "%s\n", c->extra_tunnel);
	fprintf(f, "\t}\n);\n");
	bad = fchmod(fileno(f), 0644) != 0;
	if (fclose(f) != 0 || bad) {
		test_fail(__FILE__, __LINE__, "%s: write failed", out);
		return -1;
	}
	return 0;
}

bool dh_alive(struct dh_env *e, int gw)
{
	struct dh_daemon *d = &e->d[gw];
	int st;

	if (d->pid <= 0)
		return false;
	if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
		printf("  harness: epochd in %s exited (%s %d)\n",
		       e->ns_gw[gw], WIFEXITED(st) ? "status" : "signal",
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		d->pid = -1;
		dh_san_reports(e, gw);
		return false;
	}
	return true;
}

int dh_start(struct dh_env *e, int gw, const char *conf, int limit_ms)
{
	struct dh_daemon *d = &e->d[gw];
	uint64_t t0 = dh_now_ms();
	char reply[4096];
	int fd;

	snprintf(d->conf, sizeof(d->conf), "%s", conf);
	fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		test_fail(__FILE__, __LINE__, "%s: %s", d->log,
			  strerror(errno));
		return -1;
	}
	d->log_off = lseek(fd, 0, SEEK_END);
	dprintf(fd, "---- harness: start %d, %s\n", ++d->starts, conf);
	fflush(stdout);
	d->pid = fork();
	if (d->pid < 0) {
		close(fd);
		test_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
		return -1;
	}
	if (d->pid == 0) {
		/* ip netns exec execs epochd in this process: d->pid is the
		 * daemon's own pid (kill -9 reaches it). It dies with us. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("ip", "ip", "netns", "exec", e->ns_gw[gw], e->epochd,
		       "-c", conf, (char *)NULL);
		perror("exec ip netns exec epochd");
		_exit(127);
	}
	close(fd);
	for (;;) {
		if (!dh_alive(e, gw)) {
			test_fail(__FILE__, __LINE__,
				  "epochd in %s exited during start",
				  e->ns_gw[gw]);
			dh_sh("tail -n 20 '%s'", d->log);
			return -1;
		}
		if (dh_ctl(d->sock, "{\"cmd\":\"status\"}", reply,
			   sizeof(reply), 5000) == 0 &&
		    strstr(reply, "\"ok\":true"))
			break;
		if (dh_now_ms() - t0 > (uint64_t)limit_ms) {
			test_fail(__FILE__, __LINE__,
				  "epochd in %s: control socket %s not "
				  "answering after %d ms", e->ns_gw[gw],
				  d->sock, limit_ms);
			dh_sh("tail -n 20 '%s'", d->log);
			return -1;
		}
		dh_nap_ms(20);
	}
	printf("  harness: epochd in %s (pid %d) answering after %llu ms\n",
	       e->ns_gw[gw], (int)d->pid,
	       (unsigned long long)(dh_now_ms() - t0));
	return 0;
}

int dh_start_both(struct dh_env *e, const struct dh_conf *c)
{
	char conf[2][PATH_MAX];

	for (int gw = 0; gw < 2; gw++)
		if (dh_conf_write(e, gw, c, conf[gw]) != 0)
			return -1;
	for (int gw = 0; gw < 2; gw++)
		if (dh_start(e, gw, conf[gw], 30000) != 0)
			return -1;
	return 0;
}

/* The processes whose parent is pid (epochd's network process,
 * docs/privsep.md): up to cap into out; how many. */
static int children(pid_t pid, pid_t *out, int cap)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < cap) {
		char path[64], line[128];
		char *end;
		long v = strtol(de->d_name, &end, 10), ppid = -1;
		FILE *f;

		if (*end || v <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/status", v);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "PPid: %ld", &ppid) == 1)
				break;
		fclose(f);
		if (ppid == pid)
			out[n++] = (pid_t)v;
	}
	closedir(d);
	return n;
}

/* After the daemon's main process is reaped: its network process must be
 * gone too (it dies with its parent) before anything binds its port
 * again. Gone or a zombie of init counts. */
static void children_wait(struct dh_env *e, int gw, const pid_t *c, int n)
{
	uint64_t t0 = dh_now_ms();

	for (int i = 0; i < n; i++)
		for (;;) {
			char path[64], line[128], state = 0;
			FILE *f;

			snprintf(path, sizeof(path), "/proc/%d/status",
				 (int)c[i]);
			f = fopen(path, "r");
			if (!f)
				break;
			while (fgets(line, sizeof(line), f))
				if (sscanf(line, "State: %c", &state) == 1)
					break;
			fclose(f);
			if (state == 'Z' || state == 'X')
				break;
			if (dh_now_ms() - t0 > 10000) {
				printf("  harness: process %d of epochd in %s "
				       "still there 10 s after its parent\n",
				       (int)c[i], e->ns_gw[gw]);
				break;
			}
			dh_nap_ms(5);
		}
}

int dh_stop(struct dh_env *e, int gw)
{
	struct dh_daemon *d = &e->d[gw];
	uint64_t t0 = dh_now_ms();
	int st;

	pid_t c[4];
	int nc;

	if (d->pid <= 0)
		return -1;
	nc = children(d->pid, c, 4);
	kill(d->pid, SIGTERM);
	for (;;) {
		pid_t r = waitpid(d->pid, &st, WNOHANG);

		if (r == d->pid) {
			d->pid = -1;
			children_wait(e, gw, c, nc);
			return st;
		}
		if (r < 0 && errno != EINTR) {
			d->pid = -1;
			return -1;
		}
		if (dh_now_ms() - t0 > 30000) {
			printf("  harness: epochd in %s ignored SIGTERM for "
			       "30 s: SIGKILL\n", e->ns_gw[gw]);
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &st, 0);
			d->pid = -1;
			return -1;
		}
		dh_nap_ms(10);
	}
}

void dh_kill9(struct dh_env *e, int gw)
{
	struct dh_daemon *d = &e->d[gw];
	int st;

	pid_t c[4];
	int nc;

	if (d->pid <= 0)
		return;
	nc = children(d->pid, c, 4);
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &st, 0);
	d->pid = -1;
	children_wait(e, gw, c, nc);
}

/* Sanitizer reports (ASan, LeakSanitizer, UBSan) anywhere in the log. */
static const char *const san_marks[] = {
	"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
};

int dh_san_reports(struct dh_env *e, int gw)
{
	char line[2048];
	FILE *f = fopen(e->d[gw].log, "r");
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		for (size_t i = 0; i < sizeof(san_marks) / sizeof(*san_marks);
		     i++)
			if (strstr(line, san_marks[i])) {
				if (n++ < 5)
					printf("  harness: %s: %s",
					       e->d[gw].log, line);
			}
	fclose(f);
	return n;
}

void dh_stop_both_checked(struct dh_env *e)
{
	for (int gw = 0; gw < 2; gw++) {
		struct dh_sas s;
		int st;

		if (e->d[gw].pid <= 0)
			continue;
		st = dh_stop(e, gw);
		if (!CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0))
			printf("  epochd in %s: wait status %d\n",
			       e->ns_gw[gw], st);
		CHECK(dh_san_reports(e, gw) == 0);
		/* SIGTERM: its SAs and policies are gone, the socket too. */
		if (CHECK(dh_sas(e, gw, &s) >= 0))
			CHECK(s.n_in + s.n_out + s.n_other == 0);
		CHECK(dh_policies(e, gw) == 0);
		CHECK(access(e->d[gw].sock, F_OK) != 0);
	}
}

/* ---- control socket ------------------------------------------------------ */

int dh_ctl(const char *sock, const char *req, char *reply, size_t cap,
	   int limit_ms)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	uint64_t t0 = dh_now_ms();
	size_t len = 0, rl = strlen(req);
	int fd, rc = -1;
	char *nl;

	reply[0] = 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		goto out;
	if (write(fd, req, rl) != (ssize_t)rl || write(fd, "\n", 1) != 1)
		goto out;
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		long left = limit_ms - (long)(dh_now_ms() - t0);
		ssize_t k;

		if (left <= 0 || len >= cap - 1)
			goto out;
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		k = read(fd, reply + len, cap - 1 - len);
		if (k <= 0)
			goto out;
		len += (size_t)k;
		reply[len] = 0;
		nl = strchr(reply, '\n');
		if (nl) {
			*nl = 0;
			rc = 0;
			goto out;
		}
	}
out:
	close(fd);
	return rc;
}

static bool json_u64(const char *s, const char *key, uint64_t *v)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\":", key);
	p = strstr(s, k);
	if (!p)
		return false;
	p += strlen(k);
	if (*p < '0' || *p > '9')
		return false;
	*v = strtoull(p, NULL, 10);
	return true;
}

static bool json_str(const char *s, const char *key, char *out, size_t cap)
{
	char k[64];
	const char *p, *q;

	snprintf(k, sizeof(k), "\"%s\":\"", key);
	p = strstr(s, k);
	if (!p)
		return false;
	p += strlen(k);
	q = strchr(p, '"');
	if (!q || (size_t)(q - p) >= cap)
		return false;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = 0;
	return true;
}

int dh_status(struct dh_env *e, int gw, struct dh_status *st)
{
	char reply[4096];

	memset(st, 0, sizeof(*st));
	snprintf(st->state, sizeof(st->state), "?");
	if (dh_ctl(e->d[gw].sock,
		   "{\"cmd\":\"status\",\"tunnel\":\"" DH_TUNNEL "\"}", reply,
		   sizeof(reply), 10000) != 0)
		return -1;
	if (!strstr(reply, "\"ok\":true") ||
	    !json_str(reply, "state", st->state, sizeof(st->state)) ||
	    !json_str(reply, "last_trigger", st->trigger,
		      sizeof(st->trigger)) ||
	    !json_str(reply, "suite", st->suite, sizeof(st->suite)) ||
	    !json_u64(reply, "epoch", &st->epoch) ||
	    !json_u64(reply, "spi_in", &st->spi_in) ||
	    !json_u64(reply, "spi_out", &st->spi_out) ||
	    !json_u64(reply, "bytes_in", &st->bytes_in) ||
	    !json_u64(reply, "bytes_out", &st->bytes_out) ||
	    !json_u64(reply, "packets_in", &st->packets_in) ||
	    !json_u64(reply, "packets_out", &st->packets_out) ||
	    !json_u64(reply, "retransmits", &st->retransmits)) {
		printf("  harness: bad status reply from %s: %.300s\n",
		       e->ns_gw[gw], reply);
		return -1;
	}
	return 0;
}

static bool synced(const struct dh_status st[2], uint64_t min_epoch)
{
	return !strcmp(st[0].state, "up") && !strcmp(st[1].state, "up") &&
	       st[0].epoch == st[1].epoch && st[0].epoch >= min_epoch &&
	       st[0].spi_in != 0 && st[0].spi_out != 0 &&
	       st[0].spi_in == st[1].spi_out && st[1].spi_in == st[0].spi_out;
}

int dh_wait_synced(struct dh_env *e, uint64_t min_epoch, int limit_ms,
		   struct dh_status st[2])
{
	uint64_t t0 = dh_now_ms();
	long nap = 2;

	for (;;) {
		int ok = dh_status(e, 0, &st[0]) == 0 &&
			 dh_status(e, 1, &st[1]) == 0;

		if (ok && synced(st, min_epoch))
			return 0;
		if (dh_now_ms() - t0 > (uint64_t)limit_ms)
			return -1;
		if (!dh_alive(e, 0) || !dh_alive(e, 1))
			return -1;
		dh_nap_ms(nap);
		if (nap < 50)
			nap += nap / 2 + 1;
	}
}

int dh_rekey(struct dh_env *e, int gw)
{
	char reply[512];

	if (dh_ctl(e->d[gw].sock,
		   "{\"cmd\":\"rekey\",\"tunnel\":\"" DH_TUNNEL "\"}", reply,
		   sizeof(reply), 10000) != 0)
		return -1;
	if (!strstr(reply, "\"ok\":true")) {
		printf("  harness: rekey on %s: %s\n", e->ns_gw[gw], reply);
		return -1;
	}
	return 0;
}

int dh_rekey_both(struct dh_env *e)
{
	static const char req[] =
		"{\"cmd\":\"rekey\",\"tunnel\":\"" DH_TUNNEL "\"}\n";
	int fd[2] = { -1, -1 }, ok = 0;

	for (int gw = 0; gw < 2; gw++) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		fd[gw] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s",
			 e->d[gw].sock);
		if (fd[gw] < 0 ||
		    connect(fd[gw], (struct sockaddr *)&a, sizeof(a)) != 0)
			goto out;
	}
	/* Both requests leave before either reply is read. */
	for (int gw = 0; gw < 2; gw++)
		if (write(fd[gw], req, sizeof(req) - 1) !=
		    (ssize_t)sizeof(req) - 1)
			goto out;
	for (int gw = 0; gw < 2; gw++) {
		char reply[512];
		size_t len = 0;

		while (len < sizeof(reply) - 1) {
			struct pollfd pf = { .fd = fd[gw], .events = POLLIN };
			ssize_t k;

			if (poll(&pf, 1, 10000) <= 0)
				goto out;
			k = read(fd[gw], reply + len, sizeof(reply) - 1 - len);
			if (k <= 0)
				goto out;
			len += (size_t)k;
			reply[len] = 0;
			if (strchr(reply, '\n'))
				break;
		}
		if (strstr(reply, "\"ok\":true"))
			ok++;
		else
			printf("  harness: rekey on %s: %s", e->ns_gw[gw],
			       reply);
	}
out:
	for (int gw = 0; gw < 2; gw++)
		if (fd[gw] >= 0)
			close(fd[gw]);
	return ok == 2 ? 0 : -1;
}

/* ---- kernel state, logs, ping -------------------------------------------- */

int dh_sas(struct dh_env *e, int gw, struct dh_sas *s)
{
	char cmd[256], line[512], src[64] = "", dst[64] = "";
	FILE *p;
	int n = 0;

	memset(s, 0, sizeof(*s));
	snprintf(cmd, sizeof(cmd), "ip -n %s xfrm state list", e->ns_gw[gw]);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		unsigned long spi, reqid;

		if (sscanf(line, "src %63s dst %63s", src, dst) == 2)
			continue;
		if (sscanf(line, " proto esp spi 0x%lx reqid %lu", &spi,
			   &reqid) != 2)
			continue;
		if (reqid < DH_REQID_LO || reqid > DH_REQID_HI)
			continue;
		n++;
		if (!strcmp(src, dh_ip_gw[gw]) && !strcmp(dst, dh_ip_gw[!gw])) {
			if (s->n_out < 8)
				s->spi_out[s->n_out] = (uint32_t)spi;
			s->n_out++;
		} else if (!strcmp(dst, dh_ip_gw[gw]) &&
			   !strcmp(src, dh_ip_gw[!gw])) {
			if (s->n_in < 8)
				s->spi_in[s->n_in] = (uint32_t)spi;
			s->n_in++;
		} else {
			s->n_other++;
		}
	}
	if (pclose(p) != 0)
		return -1;
	return n;
}

int dh_policies(struct dh_env *e, int gw)
{
	char cmd[256], line[512];
	FILE *p;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "ip -n %s xfrm policy list", e->ns_gw[gw]);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		const char *r = strstr(line, " reqid ");
		unsigned long reqid;

		if (r && sscanf(r, " reqid %lu", &reqid) == 1 &&
		    reqid >= DH_REQID_LO && reqid <= DH_REQID_HI)
			n++;
	}
	if (pclose(p) != 0)
		return -1;
	return n;
}

int dh_wait_one_sa_each(struct dh_env *e, int limit_ms, struct dh_sas s[2])
{
	uint64_t t0 = dh_now_ms();

	for (;;) {
		bool ok = true;

		for (int gw = 0; gw < 2; gw++)
			ok &= dh_sas(e, gw, &s[gw]) >= 0 && s[gw].n_in == 1 &&
			      s[gw].n_out == 1 && s[gw].n_other == 0;
		if (ok)
			return 0;
		if (dh_now_ms() - t0 > (uint64_t)limit_ms)
			return -1;
		dh_nap_ms(250);
	}
}

int dh_log_count(struct dh_env *e, int gw, const char *needle)
{
	char line[2048];
	FILE *f = fopen(e->d[gw].log, "r");
	int n = 0;

	if (!f)
		return 0;
	if (e->d[gw].log_off > 0)
		fseek(f, e->d[gw].log_off, SEEK_SET);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

int dh_wait_log(struct dh_env *e, int gw, const char *needle, int n,
		int limit_ms)
{
	uint64_t t0 = dh_now_ms();

	for (;;) {
		if (dh_log_count(e, gw, needle) >= n)
			return 0;
		if (dh_now_ms() - t0 > (uint64_t)limit_ms)
			return -1;
		dh_nap_ms(50);
	}
}

int dh_ping(struct dh_env *e, int s, int count)
{
	char cmd[256], line[256];
	FILE *p;
	int tx = -1, rx = -1;

	snprintf(cmd, sizeof(cmd),
		 "ip netns exec %s ping -n -q -c %d -i 0.2 -W 5 %s 2>&1",
		 e->ns_site[s], count, dh_ip_site[!s]);
	fflush(stdout);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, "%d packets transmitted, %d received", &tx,
			   &rx) == 2)
			printf("  ping %s -> %s: %s", e->ns_site[s],
			       dh_ip_site[!s], line);
	pclose(p);
	return tx == count ? rx : -1;
}

void dh_diag(struct dh_env *e, const char *why)
{
	printf("  ---- diagnostics (%s)\n", why);
	for (int gw = 0; gw < 2; gw++) {
		printf("  epochd %s log (tail):\n", e->ns_gw[gw]);
		dh_sh("tail -n 30 '%s' 2>&1", e->d[gw].log);
		printf("  ip -n %s xfrm state:\n", e->ns_gw[gw]);
		dh_sh("ip -n %s xfrm state list 2>&1 | grep -v -e auth "
		      "-e enc -e aead | head -n 40", e->ns_gw[gw]);
		printf("  ip -n %s xfrm policy:\n", e->ns_gw[gw]);
		dh_sh("ip -n %s xfrm policy list 2>&1 | head -n 40",
		      e->ns_gw[gw]);
	}
	printf("  ----\n");
}

/* ---- netem --------------------------------------------------------------- */

int dh_netem(struct dh_env *e, const char *args, int port)
{
	for (int gw = 0; gw < 2; gw++) {
		int rc;

		e->netem[gw] = true;
		if (port == 0)
			rc = dh_sh("ip netns exec %s tc qdisc add dev %s root "
				   "netem %s 2>&1", e->ns_gw[gw], gw_dev[gw],
				   args);
		else
			rc = dh_sh("ip netns exec %s sh -c 'tc qdisc add dev "
				   "%s root handle 1: prio && tc qdisc add dev "
				   "%s parent 1:3 handle 30: netem %s && tc "
				   "filter add dev %s parent 1:0 protocol ip "
				   "prio 1 u32 match ip protocol 17 0xff match "
				   "ip dport %d 0xffff flowid 1:3' 2>&1",
				   e->ns_gw[gw], gw_dev[gw], gw_dev[gw], args,
				   gw_dev[gw], port);
		if (rc != 0) {
			test_fail(__FILE__, __LINE__, "netem on %s: tc exit %d",
				  e->ns_gw[gw], rc);
			return -1;
		}
	}
	return 0;
}

long dh_netem_drops(struct dh_env *e)
{
	long sum = 0;

	for (int gw = 0; gw < 2; gw++) {
		char cmd[256], line[512];
		bool netem = false;
		FILE *p;

		snprintf(cmd, sizeof(cmd),
			 "ip netns exec %s tc -s qdisc show dev %s",
			 e->ns_gw[gw], gw_dev[gw]);
		p = popen(cmd, "r");
		if (!p)
			return -1;
		while (fgets(line, sizeof(line), p)) {
			const char *d = strstr(line, "(dropped ");

			if (!strncmp(line, "qdisc ", 6))
				netem = !strncmp(line, "qdisc netem ", 12);
			else if (netem && d)
				sum += strtol(d + 9, NULL, 10);
		}
		if (pclose(p) != 0)
			return -1;
	}
	return sum;
}

int dh_netem_off(struct dh_env *e)
{
	int bad = 0;

	for (int gw = 0; gw < 2; gw++) {
		if (!e->netem[gw])
			continue;
		printf("  netem on %s dev %s:\n", e->ns_gw[gw], gw_dev[gw]);
		dh_sh("ip netns exec %s tc -s qdisc show dev %s 2>&1 | "
		      "grep -A 2 netem", e->ns_gw[gw], gw_dev[gw]);
		if (dh_sh("ip netns exec %s tc qdisc del dev %s root 2>&1",
			  e->ns_gw[gw], gw_dev[gw]) != 0)
			bad++;
		e->netem[gw] = false;
	}
	return bad ? -1 : 0;
}

/* ---- sockets in a namespace ---------------------------------------------- */

int dh_udp_socket_in(const char *ns, int family)
{
	char path[PATH_MAX];
	int self, target, fd = -1;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || target < 0)
		goto out;
	if (setns(target, CLONE_NEWNET) != 0)
		goto out;
	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (setns(self, CLONE_NEWNET) != 0) {
		/* Cannot go back: nothing of this process may continue in
		 * the wrong namespace. */
		perror("setns back");
		abort();
	}
out:
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	return fd;
}

/* ---- udpflow ------------------------------------------------------------- */

static int flow_start(struct dh_env *e, struct dh_flow *f, int site,
		      int port, int rate)
{
	char sport[16], srate[16];
	int pfd[2];

	memset(f, 0, sizeof(*f));
	f->pid = -1;
	f->fd = -1;
	snprintf(sport, sizeof(sport), "%d", port);
	snprintf(srate, sizeof(srate), "%d", rate);
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return -1;
	fflush(stdout);
	f->pid = fork();
	if (f->pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (f->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		dup2(pfd[1], 1);
		execlp("ip", "ip", "netns", "exec", e->ns_site[site],
		       e->udpflow, "-l", dh_ip_site[site], "-p",
		       dh_ip_site[!site], "-P", sport, "-r", srate, "-L",
		       "20000", "-n", "19", "-w", (char *)NULL);
		perror("exec ip netns exec udpflow");
		_exit(127);
	}
	close(pfd[1]);
	f->fd = pfd[0];
	return 0;
}

/* Reads f's output until a line starting with prefix (copied to out). */
static int flow_expect(struct dh_flow *f, const char *prefix, char *out,
		       size_t cap, int limit_ms)
{
	uint64_t t0 = dh_now_ms();
	size_t pl = strlen(prefix);

	for (;;) {
		struct pollfd pf = { .fd = f->fd, .events = POLLIN };
		char *nl;
		ssize_t k;
		long left;

		while ((nl = memchr(f->buf, '\n', f->len)) != NULL) {
			size_t ll = (size_t)(nl - f->buf);
			bool hit = ll >= pl && !memcmp(f->buf, prefix, pl);

			if (hit) {
				size_t c = ll < cap - 1 ? ll : cap - 1;

				memcpy(out, f->buf, c);
				out[c] = 0;
			} else {
				printf("  udpflow: %.*s\n", (int)ll, f->buf);
			}
			memmove(f->buf, nl + 1, f->len - ll - 1);
			f->len -= ll + 1;
			if (hit)
				return 0;
		}
		left = limit_ms - (long)(dh_now_ms() - t0);
		if (left <= 0 || f->len == sizeof(f->buf))
			return -1;
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		k = read(f->fd, f->buf + f->len, sizeof(f->buf) - f->len);
		if (k <= 0)
			return -1;
		f->len += (size_t)k;
	}
}

static void flow_reap(struct dh_flow *f, bool kill_it)
{
	int st;

	if (f->pid > 0) {
		if (kill_it)
			kill(f->pid, SIGKILL);
		waitpid(f->pid, &st, 0);
		if (!kill_it && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			test_fail(__FILE__, __LINE__, "udpflow exit status %d",
				  st);
		f->pid = -1;
	}
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

void dh_flows_kill(struct dh_flow f[2])
{
	for (int s = 0; s < 2; s++)
		if (f[s].pid > 0 || f[s].fd >= 0)
			flow_reap(&f[s], true);
}

int dh_flows_start(struct dh_env *e, struct dh_flow f[2], int port,
		   int rate)
{
	f[0].pid = f[1].pid = -1;
	f[0].fd = f[1].fd = -1;
	for (int s = 0; s < 2; s++) {
		char ready[64];

		if (flow_start(e, &f[s], s, port, rate) != 0 ||
		    flow_expect(&f[s], "UDPFLOW-READY", ready, sizeof(ready),
				30000) != 0) {
			test_fail(__FILE__, __LINE__,
				  "udpflow in %s did not start",
				  e->ns_site[s]);
			dh_flows_kill(f);
			return -1;
		}
	}
	for (int s = 0; s < 2; s++)
		kill(f[s].pid, SIGUSR1);
	return 0;
}

static bool get_u64(const char *line, const char *key, uint64_t *v)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), " %s=", key);
	p = strstr(line, k);
	if (!p)
		return false;
	*v = strtoull(p + strlen(k), NULL, 10);
	return true;
}

static bool parse_flow(const char *line, struct dh_flowres *o)
{
	return get_u64(line, "sent", &o->sent) &&
	       get_u64(line, "received", &o->received) &&
	       get_u64(line, "unique", &o->unique) &&
	       get_u64(line, "lost", &o->lost) &&
	       get_u64(line, "dup", &o->dup) &&
	       get_u64(line, "reordered", &o->reordered) &&
	       get_u64(line, "fins", &o->fins) &&
	       get_u64(line, "fin", &o->fin) &&
	       get_u64(line, "peer_sent", &o->peer_sent) &&
	       get_u64(line, "send_errors", &o->send_errors) &&
	       get_u64(line, "rate", &o->rate) &&
	       get_u64(line, "stalls", &o->stalls);
}

int dh_flows_stop(struct dh_env *e, struct dh_flow f[2],
		  struct dh_flowres r[2])
{
	int bad = 0;

	for (int s = 0; s < 2; s++)
		if (f[s].pid > 0)
			kill(f[s].pid, SIGTERM);
	for (int s = 0; s < 2; s++) {
		if (f[s].pid <= 0) {
			bad++;
			continue;
		}
		if (flow_expect(&f[s], "UDPFLOW ", f[s].line,
				sizeof(f[s].line), 60000) == 0) {
			printf("  %s\n", f[s].line);
			f[s].done = true;
			flow_reap(&f[s], false);
			if (!parse_flow(f[s].line, &r[s]))
				bad++;
		} else {
			test_fail(__FILE__, __LINE__,
				  "no result from udpflow in %s",
				  e->ns_site[s]);
			flow_reap(&f[s], true);
			bad++;
		}
	}
	return bad ? -1 : 0;
}

/* ---- rekey runs ---------------------------------------------------------- */

int dh_rekeys_begin(struct dh_env *e, int limit_ms, struct dh_rekeys *r)
{
	memset(r, 0, sizeof(*r));
	r->t0 = dh_now_ms();
	if (dh_wait_synced(e, 1, limit_ms, r->st) != 0) {
		test_fail(__FILE__, __LINE__, "not synced before the rekeys");
		return -1;
	}
	r->epoch0 = r->epoch = r->st[0].epoch;
	return 0;
}

int dh_rekey_step(struct dh_env *e, int who, int limit_ms,
		  struct dh_rekeys *r)
{
	uint64_t t0 = dh_now_ms(), dt;
	int rc = who == 2 ? dh_rekey_both(e) : dh_rekey(e, who);

	if (rc != 0) {
		r->refused++;
		test_fail(__FILE__, __LINE__, "rekey request %d refused",
			  r->done + 1);
	}
	if (dh_wait_synced(e, r->epoch + 1, limit_ms, r->st) != 0) {
		test_fail(__FILE__, __LINE__,
			  "rekey %d (%s) did not complete in %d ms: %s %s "
			  "epoch %llu, %s %s epoch %llu", r->done + 1,
			  who == 2 ? "both sides" : e->ns_gw[who], limit_ms,
			  e->ns_gw[0], r->st[0].state,
			  (unsigned long long)r->st[0].epoch, e->ns_gw[1],
			  r->st[1].state, (unsigned long long)r->st[1].epoch);
		return -1;
	}
	dt = dh_now_ms() - t0;
	r->ms += dt;
	if (dt > r->ms_max)
		r->ms_max = dt;
	r->epoch = r->st[0].epoch;
	r->done++;
	if (r->done % 50 == 0)
		printf("  %d rekeys at %.1f s, epoch %llu, retransmits "
		       "%llu+%llu\n", r->done,
		       (double)(dh_now_ms() - r->t0) / 1e3,
		       (unsigned long long)r->epoch,
		       (unsigned long long)r->st[0].retransmits,
		       (unsigned long long)r->st[1].retransmits);
	return rc;
}

int dh_rekeys(struct dh_env *e, int count, bool both, int limit_ms,
	      struct dh_rekeys *r)
{
	if (dh_rekeys_begin(e, limit_ms, r) != 0)
		return -1;
	for (int i = 0; i < count; i++)
		if (dh_rekey_step(e, both ? 2 : i & 1, limit_ms, r) != 0)
			return -1;
	return 0;
}

void dh_rekeys_print(const char *what, const struct dh_rekeys *r)
{
	printf("  %s: %d rekeys in %.1f s (%.0f ms each, slowest %llu ms), "
	       "epoch %llu -> %llu\n", what, r->done,
	       (double)(dh_now_ms() - r->t0) / 1e3,
	       r->done ? (double)r->ms / r->done : 0.0,
	       (unsigned long long)r->ms_max, (unsigned long long)r->epoch0,
	       (unsigned long long)r->epoch);
}

void dh_rekey_report(const char *tag, int rekeys, const struct dh_status st[2],
		     const struct dh_flowres r[2], const char *extra)
{
	static const char *const dir[2] = { "site1->site2", "site2->site1" };
	uint64_t lost = 0, dup = 0;
	bool equal = st[0].epoch == st[1].epoch;

	for (int d = 0; d < 2; d++) {
		const struct dh_flowres *tx = &r[d], *rx = &r[!d];
		uint64_t l = tx->sent > rx->unique ? tx->sent - rx->unique : 0;

		printf("  %s dir=%s sent=%llu received=%llu lost=%llu dup=%llu "
		       "reordered=%llu rate=%llu/s stalls=%llu esp_in=%llu\n",
		       tag, dir[d], (unsigned long long)tx->sent,
		       (unsigned long long)rx->unique, (unsigned long long)l,
		       (unsigned long long)rx->dup,
		       (unsigned long long)rx->reordered,
		       (unsigned long long)tx->rate,
		       (unsigned long long)tx->stalls,
		       (unsigned long long)st[!d].packets_in);
		lost += l;
		dup += rx->dup;
		/* The receiver saw the sender's FIN and agrees on the count;
		 * nothing lost or duplicated; the flows kept a quarter of
		 * the nominal rate at least (so the run was under load). */
		CHECK(rx->fin == 1);
		CHECK_EQ_U64(rx->peer_sent, tx->sent);
		CHECK_EQ_U64(tx->send_errors, 0);
		CHECK_EQ_U64(l, 0);
		CHECK_EQ_U64(rx->dup, 0);
		CHECK_EQ_U64(rx->unique, tx->sent);
		CHECK(tx->sent >= 100);
		CHECK(tx->rate >= 500);
		/* Every datagram (and FIN) went through the tunnel: the
		 * receiving gateway's inbound SAs counted at least as many
		 * ESP packets over the session. */
		CHECK(st[!d].packets_in >= rx->received + rx->fins);
	}
	CHECK(equal);
	printf("%s rekeys=%d epochs_equal=%s lost=%llu dup=%llu%s%s\n", tag,
	       rekeys, equal ? "yes" : "no", (unsigned long long)lost,
	       (unsigned long long)dup, extra ? " " : "", extra ? extra : "");
}

void dh_run_case(const char *key, const char *name, void (*fn)(void))
{
	const char *only = getenv("DAEMON_ONLY");

	if (only && *only && !strstr(only, key)) {
		test_skip(name, "not in DAEMON_ONLY");
		return;
	}
	test_run(name, fn);
}
