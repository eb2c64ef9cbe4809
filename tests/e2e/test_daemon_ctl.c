/* epochd end to end: the operator's commands (issue 6, "epochctl").
 *
 *  - watch: the event stream carries the rekey with the new epoch and the
 *    SPIs the status shows;
 *  - unknown tunnel names are refused with the name in the error;
 *  - down: the SAs are deleted on both sides (the peer hears CLOSE and is
 *    down too), the policies stay, so site traffic is dropped and never
 *    sent in the clear; up: the tunnel comes back and carries traffic;
 *  - reload: a tunnel added to the file starts, the unchanged one keeps
 *    its epoch and SAs; a file with an error is refused with FILE:LINE
 *    and changes nothing; removing the added tunnel deletes its policies.
 *
 * usage: test_daemon_ctl SITE1 GW1 GW2 SITE2 (as root where ESP works;
 * tests/e2e/run.sh runs it). Harness: daemon_harness.h.
 */
#include "tests/e2e/daemon_harness.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/lib/test.h"

static struct dh_env env;
static struct dh_env *const E = &env;

#define UP_MS 90000
#define REPLY_MS 20000

static void diag_if_failed(const char *why)
{
	if (test_case_failures())
		dh_diag(E, why);
}

/* Reads one line from fd within limit_ms into buf; 0 or -1. */
static int read_line(int fd, char *buf, size_t cap, int limit_ms)
{
	size_t len = 0;
	uint64_t end = dh_now_ms() + (uint64_t)limit_ms;

	while (len + 1 < cap) {
		struct pollfd p = { fd, POLLIN, 0 };
		uint64_t now = dh_now_ms();
		ssize_t k;

		if (now >= end)
			return -1;
		if (poll(&p, 1, (int)(end - now)) <= 0)
			continue;
		k = read(fd, buf + len, 1);
		if (k <= 0)
			return -1;
		if (buf[len] == '\n') {
			buf[len] = 0;
			return 0;
		}
		len++;
	}
	return -1;
}

static int ctl_open(const char *sock)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool has(const char *s, const char *needle)
{
	return strstr(s, needle) != NULL;
}

static void t_watch(void)
{
	struct dh_status st[2];
	char line[4096], want[64];
	int fd;
	bool seen = false;

	if (!CHECK(dh_wait_synced(E, 1, UP_MS, st) == 0))
		goto out;
	fd = ctl_open(E->d[0].sock);
	if (!CHECK(fd >= 0))
		goto out;
	CHECK(write(fd, "{\"cmd\":\"watch\"}\n", 16) == 16);
	CHECK(read_line(fd, line, sizeof(line), REPLY_MS) == 0 &&
	      has(line, "\"ok\":true"));
	CHECK(dh_rekey(E, 1) == 0);
	snprintf(want, sizeof(want), "\"epoch\":%llu",
		 (unsigned long long)st[0].epoch + 1);
	/* Events until the rekey to the next epoch (others may come
	 * first, none after a limit). */
	while (read_line(fd, line, sizeof(line), UP_MS) == 0) {
		printf("  event: %s\n", line);
		if (has(line, "\"event\":\"rekey\"") && has(line, want)) {
			seen = true;
			break;
		}
	}
	CHECK(seen);
	CHECK(has(line, "\"tunnel\":\"t1\""));
	CHECK(has(line, "\"trigger\":\"peer\""));
	if (CHECK(dh_wait_synced(E, st[0].epoch + 1, UP_MS, st) == 0)) {
		snprintf(want, sizeof(want), "\"spi_in\":%llu",
			 (unsigned long long)st[0].spi_in);
		CHECK(has(line, want));
	}
	close(fd);
out:
	diag_if_failed("watch");
}

static void t_unknown(void)
{
	char r[1024];

	CHECK(dh_ctl(E->d[0].sock, "{\"cmd\":\"rekey\",\"tunnel\":\"nope\"}",
		     r, sizeof(r), REPLY_MS) == 0);
	printf("  reply: %s\n", r);
	CHECK(has(r, "\"ok\":false") && has(r, "no tunnel named nope"));
	CHECK(dh_ctl(E->d[0].sock, "{\"cmd\":\"status\",\"tunnel\":\"nope\"}",
		     r, sizeof(r), REPLY_MS) == 0);
	CHECK(has(r, "\"ok\":false"));
}

static void t_down_up(void)
{
	struct dh_status st[2], a;
	struct dh_sas s;
	char r[1024];
	uint64_t end;
	int pol;

	if (!CHECK(dh_wait_synced(E, 1, UP_MS, st) == 0))
		goto out;
	pol = dh_policies(E, 0);
	CHECK(dh_ctl(E->d[0].sock, "{\"cmd\":\"down\",\"tunnel\":\"t1\"}", r,
		     sizeof(r), REPLY_MS) == 0 && has(r, "\"ok\":true"));
	CHECK(dh_status(E, 0, &a) == 0 && !strcmp(a.state, "disabled"));
	CHECK_EQ_U64(a.spi_in, 0);
	CHECK_EQ_U64(a.spi_out, 0);
	/* The peer hears CLOSE: down, its SAs deleted. */
	end = dh_now_ms() + UP_MS;
	while (dh_now_ms() < end) {
		if (dh_status(E, 1, &a) == 0 && !strcmp(a.state, "down"))
			break;
		dh_nap_ms(100);
	}
	CHECK(!strcmp(a.state, "down"));
	CHECK(dh_wait_log(E, 1, "t1: down: closed by the peer", 1, UP_MS) ==
	      0);
	for (int gw = 0; gw < 2; gw++) {
		CHECK(dh_sas(E, gw, &s) >= 0);
		CHECK(s.n_in == 0 && s.n_out == 0);
	}
	/* Fail-closed: the policies stay, site traffic is dropped. */
	CHECK_EQ_U64(dh_policies(E, 0), pol);
	CHECK(dh_ping(E, 0, 3) == 0);
	/* A rekey of a disabled tunnel is refused. */
	CHECK(dh_ctl(E->d[0].sock, "{\"cmd\":\"rekey\",\"tunnel\":\"t1\"}", r,
		     sizeof(r), REPLY_MS) == 0 && has(r, "\"ok\":false"));
	CHECK(dh_ctl(E->d[0].sock, "{\"cmd\":\"up\",\"tunnel\":\"t1\"}", r,
		     sizeof(r), REPLY_MS) == 0 && has(r, "\"ok\":true"));
	if (CHECK(dh_wait_synced(E, 1, UP_MS, st) == 0))
		CHECK(dh_ping(E, 0, 3) == 3);
out:
	diag_if_failed("down/up");
}

/* The file of daemon 0 with a second tunnel t2 (to an address nobody
 * answers) inserted before the list's end, or with garbage appended. */
static int conf_variant(const char *src, const char *dst, bool add_t2,
			bool garbage, int *bad_line)
{
	static char text[16384];
	FILE *f = fopen(src, "r");
	size_t n;
	char *end;

	if (!f)
		return -1;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	f = fopen(dst, "w");
	if (!f)
		return -1;
	end = strrchr(text, ')');
	if (add_t2 && end) {
		fwrite(text, 1, (size_t)(end - text), f);
		fprintf(f, ",\n{ name = \"t2\"; local = \"192.0.2.1\"; "
			   "remote = \"192.0.2.99\";\n  peer_key = \"%s\";\n"
			   "  local_ts = [ \"198.51.100.0/25\" ];\n"
			   "  remote_ts = [ \"203.0.113.128/25\" ]; }\n%s",
			E->pub[1], end);
	} else {
		fputs(text, f);
	}
	if (garbage) {
		*bad_line = 1;
		for (const char *q = text; *q; q++)
			*bad_line += *q == '\n';
		fputs("tunnels2 = ( { name = 5 } );\n", f);
	}
	return fclose(f);
}

static void t_reload(void)
{
	struct dh_status st[2], a;
	struct dh_sas s0, s1;
	char r[4096], orig[PATH_MAX + 8], where[PATH_MAX + 16];
	int pol, bad = 0;

	if (!CHECK(dh_wait_synced(E, 1, UP_MS, st) == 0))
		goto out;
	CHECK(dh_sas(E, 0, &s0) >= 0);
	pol = dh_policies(E, 0);
	snprintf(orig, sizeof(orig), "%s.orig", E->d[0].conf);
	if (!CHECK(rename(E->d[0].conf, orig) == 0))
		goto out;
	/* Added. */
	CHECK(conf_variant(orig, E->d[0].conf, true, false, &bad) == 0);
	CHECK(dh_ctl(E->d[0].sock, "{\"cmd\":\"reload\"}", r, sizeof(r),
		     REPLY_MS) == 0);
	printf("  reload: %s\n", r);
	CHECK(has(r, "\"ok\":true") &&
	      has(r, "1 added, 0 removed, 0 changed, 1 unchanged"));
	CHECK(dh_ctl(E->d[0].sock, "{\"cmd\":\"status\",\"tunnel\":\"t2\"}",
		     r, sizeof(r), REPLY_MS) == 0);
	CHECK(has(r, "\"name\":\"t2\"") && has(r, "\"role\":\"initiator\""));
	CHECK(dh_policies(E, 0) == pol + 3);
	/* t1 untouched: same epoch, same SAs. */
	CHECK(dh_status(E, 0, &a) == 0 && a.epoch == st[0].epoch &&
	      a.spi_in == st[0].spi_in && a.spi_out == st[0].spi_out);
	CHECK(dh_sas(E, 0, &s1) >= 0 && s1.n_in == s0.n_in &&
	      s1.n_out == s0.n_out && s1.spi_in[0] == s0.spi_in[0]);
	/* An error: refused with file:line, nothing changes. */
	CHECK(conf_variant(orig, E->d[0].conf, false, true, &bad) == 0);
	snprintf(where, sizeof(where), "%s:%d:", E->d[0].conf, bad);
	CHECK(dh_ctl(E->d[0].sock, "{\"cmd\":\"reload\"}", r, sizeof(r),
		     REPLY_MS) == 0);
	printf("  reload (bad file): %s\n", r);
	CHECK(has(r, "\"ok\":false") && has(r, where));
	CHECK(dh_ctl(E->d[0].sock, "{\"cmd\":\"status\",\"tunnel\":\"t2\"}",
		     r, sizeof(r), REPLY_MS) == 0 && has(r, "\"ok\":true"));
	/* Removed again. */
	CHECK(rename(orig, E->d[0].conf) == 0);
	CHECK(dh_ctl(E->d[0].sock, "{\"cmd\":\"reload\"}", r, sizeof(r),
		     REPLY_MS) == 0);
	printf("  reload: %s\n", r);
	CHECK(has(r, "0 added, 1 removed, 0 changed, 1 unchanged"));
	CHECK(dh_ctl(E->d[0].sock, "{\"cmd\":\"status\",\"tunnel\":\"t2\"}",
		     r, sizeof(r), REPLY_MS) == 0 && has(r, "\"ok\":false"));
	CHECK(dh_policies(E, 0) == pol);
	CHECK(dh_status(E, 0, &a) == 0 && a.epoch == st[0].epoch &&
	      a.spi_in == st[0].spi_in);
	CHECK(dh_ping(E, 0, 3) == 3);
out:
	diag_if_failed("reload");
}

int main(int argc, char **argv)
{
	struct dh_conf c = { .suite = "x25519-aes128" };

	if (dh_init(E, argc, argv) != 0) {
		printf("0 passed, 1 failed\n");
		return 1;
	}
	if (dh_start_both(E, &c) != 0) {
		test_begin("daemons start");
		test_fail(__FILE__, __LINE__, "the daemons did not start");
		test_end();
	} else {
		dh_run_case("watch", "watch: the rekey event", t_watch);
		dh_run_case("unknown", "unknown tunnel names refused",
			    t_unknown);
		dh_run_case("downup", "down: SAs gone both sides, policies "
			    "kept; up: back", t_down_up);
		dh_run_case("reload", "reload: added, unchanged untouched, "
			    "error refused, removed", t_reload);
		dh_stop_both_checked(E);
	}
	dh_cleanup(E);
	return test_main_end(argv[0]);
}
