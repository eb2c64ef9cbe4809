/* epochd end to end, restarts without loss (issue 7, "Restart and
 * resumption"; DESIGN.md §5): the two daemons of daemon_harness.h carry
 * sequence-numbered datagrams both ways (udpflow, 1,000/s) while one of
 * them is killed with SIGKILL and started again, RESTARTS times (default
 * 40: gw1 the first half, gw2 the second). Each time:
 *  - the kernel keeps the SAs and policies of the killed daemon, so
 *    traffic goes on while it is away; the new instance finds its state
 *    file, adopts those SAs ("up (resumed)" in its log) and sends RESUME;
 *  - both daemons end up on the same, higher epoch with matching SPIs;
 *  - no full handshake happens: the new instance logs no "up: epoch"
 *    line, the survivor logs neither "up: epoch" nor "new session";
 *  - the fail-closed policies were in the kernel throughout.
 * At the end the flows stop and the run prints
 *   RESTART restarts=40 lost=0 dup=0 resumed=40 handshakes=0 ...
 * and fails on any loss or duplicate.
 *
 * A second case shows the fallback: a state file removed (on the
 * initiator, then on the responder) or stale (an older epoch's file put
 * back) means a full handshake, and the tunnel comes back by itself; SAs
 * that vanished from the kernel while the daemon was away are installed
 * again from the state file (resumed, no handshake).
 *
 * usage: test_daemon_restart SITE1 GW1 GW2 SITE2 (as root where ESP
 * works; tests/e2e/run.sh runs it)
 * environment: RESTARTS (count, even; for shorter runs), DAEMON_ONLY.
 */
#include "tests/e2e/daemon_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/test.h"

#define RATE 1000
#define PORT 50121
#define BACK_MS 90000 /* a restart, kill to both synced again */

static struct dh_env env;
static struct dh_env *const E = &env;
static int n_restarts = 40;

static void state_path(int gw, char *out, size_t cap)
{
	snprintf(out, cap, "%s/state%d/%s.state", E->work, gw + 1, DH_TUNNEL);
}

/* Starts daemon gw again with its configuration. */
static int start(int gw)
{
	char conf[PATH_MAX];

	snprintf(conf, sizeof(conf), "%s", E->d[gw].conf);
	return dh_start(E, gw, conf, 30000);
}

/* Kills daemon gw, starts it again, waits until both are synced beyond
 * epoch `after`. Returns 0 or -1. */
static int restart(int gw, uint64_t after, struct dh_status st[2])
{
	dh_kill9(E, gw);
	if (!CHECK(start(gw) == 0))
		return -1;
	if (!CHECK(dh_wait_synced(E, after + 1, BACK_MS, st) == 0)) {
		printf("  not back after restarting %s: epochs %llu/%llu, "
		       "states %s/%s\n", E->ns_gw[gw],
		       (unsigned long long)st[0].epoch,
		       (unsigned long long)st[1].epoch, st[0].state,
		       st[1].state);
		return -1;
	}
	return 0;
}

static void t_restarts(void)
{
	struct dh_conf c = { .suite = "xwing" };
	struct dh_flow fl[2] = { { .pid = -1, .fd = -1 },
				 { .pid = -1, .fd = -1 } };
	struct dh_flowres res[2];
	struct dh_status st[2];
	struct dh_sas sas[2];
	uint64_t e0, lost = 0, dup = 0, t0, ms_max = 0;
	int resumed = 0, full = 0, done = 0;
	bool flows = false;

	if (!CHECK(dh_start_both(E, &c) == 0) ||
	    !CHECK(dh_wait_synced(E, 1, 90000, st) == 0))
		goto out;
	e0 = st[0].epoch;
	if (!CHECK(dh_flows_start(E, fl, PORT, RATE) == 0))
		goto out;
	flows = true;
	t0 = dh_now_ms();
	for (int k = 0; k < n_restarts; k++) {
		int gw = k < n_restarts / 2 ? 0 : 1;
		int h0, other0;
		uint64_t t1 = dh_now_ms(), e = st[0].epoch;

		/* The survivor's own full-handshake lines so far. */
		other0 = dh_log_count(E, !gw, "up: epoch") +
			 dh_log_count(E, !gw, "new session");
		if (restart(gw, e, st) != 0)
			break;
		if (dh_now_ms() - t1 > ms_max)
			ms_max = dh_now_ms() - t1;
		h0 = dh_log_count(E, gw, "up: epoch");
		if (CHECK(dh_log_count(E, gw, "up (resumed)") == 1))
			resumed++;
		full += h0 + (dh_log_count(E, !gw, "up: epoch") +
			      dh_log_count(E, !gw, "new session") - other0);
		CHECK(h0 == 0);
		/* Fail-closed all along: the policies never left. */
		CHECK(dh_policies(E, 0) > 0 && dh_policies(E, 1) > 0);
		done++;
	}
	printf("  %d restarts in %.1f s, slowest %.1f s (kill to synced)\n",
	       done, (double)(dh_now_ms() - t0) / 1e3, (double)ms_max / 1e3);
	if (!CHECK(dh_flows_stop(E, fl, res) == 0))
		goto out;
	flows = false;
	for (int d = 0; d < 2; d++) {
		const struct dh_flowres *tx = &res[d], *rx = &res[!d];
		uint64_t l = tx->sent > rx->unique ? tx->sent - rx->unique : 0;

		printf("  RESTART dir=%s sent=%llu received=%llu lost=%llu "
		       "dup=%llu reordered=%llu rate=%llu/s stalls=%llu\n",
		       d ? "site2->site1" : "site1->site2",
		       (unsigned long long)tx->sent,
		       (unsigned long long)rx->unique, (unsigned long long)l,
		       (unsigned long long)rx->dup,
		       (unsigned long long)rx->reordered,
		       (unsigned long long)tx->rate,
		       (unsigned long long)tx->stalls);
		CHECK(rx->fin == 1);
		CHECK_EQ_U64(rx->peer_sent, tx->sent);
		CHECK_EQ_U64(tx->send_errors, 0);
		CHECK_EQ_U64(l, 0);
		CHECK_EQ_U64(rx->dup, 0);
		CHECK(tx->sent >= 100);
		lost += l;
		dup += rx->dup;
	}
	if (!CHECK(dh_wait_synced(E, 1, 30000, st) == 0))
		goto out;
	/* The epoch advanced with every resumption (one or two each). */
	CHECK(st[0].epoch >= e0 + (uint64_t)done);
	CHECK(done == n_restarts);
	CHECK(full == 0);
	printf("RESTART restarts=%d lost=%llu dup=%llu resumed=%d "
	       "handshakes=%d epochs=%llu..%llu\n", done,
	       (unsigned long long)lost, (unsigned long long)dup, resumed,
	       full, (unsigned long long)e0, (unsigned long long)st[0].epoch);
	/* No SA left behind by any instance: one per direction once the
	 * grace periods end. */
	if (CHECK(dh_wait_one_sa_each(E, 90000, sas) == 0))
		for (int gw = 0; gw < 2; gw++) {
			CHECK_EQ_U64(sas[gw].spi_in[0], st[gw].spi_in);
			CHECK_EQ_U64(sas[gw].spi_out[0], st[gw].spi_out);
		}
out:
	if (flows)
		dh_flows_kill(fl);
	if (test_case_failures())
		dh_diag(E, "restarts");
	dh_stop_both_checked(E);
}

/* Copies file a to b (0600). 0 or -1. */
static int copy_file(const char *a, const char *b)
{
	char cmd[2 * PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "cp -p '%s' '%s'", a, b);
	return system(cmd) == 0 ? 0 : -1;
}

static void t_fallback(void)
{
	struct dh_conf c = { .suite = "x25519-aes128", .dpd_interval = 2,
			     .dpd_timeout = 6 };
	struct dh_status st[2];
	char path[PATH_MAX], old[PATH_MAX + 8];

	if (!CHECK(dh_start_both(E, &c) == 0) ||
	    !CHECK(dh_wait_synced(E, 1, 90000, st) == 0))
		goto out;
	/* No state file: a new handshake, on either side. */
	for (int gw = 0; gw < 2; gw++) {
		uint64_t t0;

		dh_kill9(E, gw);
		state_path(gw, path, sizeof(path));
		if (!CHECK(unlink(path) == 0))
			goto out;
		t0 = dh_now_ms();
		if (!CHECK(start(gw) == 0) ||
		    !CHECK(dh_wait_synced(E, 1, BACK_MS, st) == 0))
			goto out;
		printf("  %s without its state file: back by a new handshake "
		       "in %.1f s\n", E->ns_gw[gw],
		       (double)(dh_now_ms() - t0) / 1e3);
		CHECK(dh_log_count(E, gw, "up (resumed)") == 0);
		CHECK(dh_log_count(E, gw, "up: epoch") >= 1);
		CHECK(dh_ping(E, 0, 3) >= 2);
	}
	/* The file is there but the kernel lost the SAs (as after a crash
	 * between a kernel change and the next save): they are installed
	 * again from the saved group and the tunnel resumes. */
	{
		uint64_t e = st[0].epoch;

		dh_kill9(E, 1);
		if (!CHECK(dh_sh("ip -n %s xfrm state deleteall",
				 E->ns_gw[1]) == 0) ||
		    !CHECK(start(1) == 0) ||
		    !CHECK(dh_wait_synced(E, e + 1, BACK_MS, st) == 0))
			goto out;
		CHECK(dh_log_count(E, 1, "installed again") >= 2);
		CHECK(dh_log_count(E, 1, "up (resumed)") == 1);
		CHECK(dh_log_count(E, 1, "up: epoch") == 0);
		printf("  SAs deleted behind the daemon's back: installed "
		       "again from the state file, resumed at epoch %llu\n",
		       (unsigned long long)st[0].epoch);
		CHECK(dh_ping(E, 0, 3) >= 2);
	}
	/* A stale file (two epochs old) on the initiator: its SAs are
	 * installed again but the peer refuses the RESUME (an epoch it
	 * does not have), the initiator gives up and starts a handshake. */
	state_path(0, path, sizeof(path));
	snprintf(old, sizeof(old), "%s.old", path);
	if (!CHECK(copy_file(path, old) == 0))
		goto out;
	for (int k = 0; k < 2; k++) {
		uint64_t e = st[0].epoch;

		if (!CHECK(dh_rekey(E, 1) == 0) ||
		    !CHECK(dh_wait_synced(E, e + 1, BACK_MS, st) == 0))
			goto out;
	}
	dh_kill9(E, 0);
	if (!CHECK(rename(old, path) == 0) ||
	    !CHECK(start(0) == 0) ||
	    !CHECK(dh_wait_log(E, 0, "up: epoch", 1, BACK_MS) == 0) ||
	    !CHECK(dh_wait_synced(E, 1, BACK_MS, st) == 0))
		goto out;
	printf("  stale state file: back by a new handshake at epoch %llu\n",
	       (unsigned long long)st[0].epoch);
	CHECK(dh_ping(E, 0, 3) >= 2);
out:
	if (test_case_failures())
		dh_diag(E, "fallback");
	dh_stop_both_checked(E);
}

int main(int argc, char **argv)
{
	if (dh_init(E, argc, argv) != 0) {
		printf("0 passed, 1 failed\n");
		return 1;
	}
	n_restarts = dh_env_int("RESTARTS", n_restarts);
	dh_run_case("restarts", "SIGKILL and restart of either daemon, "
		    "resumed from the state file, lose nothing", t_restarts);
	dh_run_case("fallback", "a missing or stale state file means a new "
		    "handshake", t_fallback);
	dh_cleanup(E);
	return test_main_end(argv[0]);
}
