/* epochd end to end, zero loss across rekeys (issue 6, "Tests"): the two
 * daemons of daemon_harness.h key the tunnel site1 <-> site2 while udpflow
 * (tests/e2e/udpflow.c) sends sequence-numbered datagrams both ways at
 * 2,000/s;
 *  - REKEY_ALTERNATE (default 200) rekeys by `epochctl rekey` (the control
 *    request) alternately on gw1 and gw2, each waiting until both daemons
 *    are up on the new, equal epoch with matching SPIs;
 *  - then REKEY_BOTH (default 50) rekeys triggered on both daemons at the
 *    same moment: collisions, which the initiator's commit wins (each
 *    still ends with both on one epoch). The "rekey collision" lines the
 *    daemons log are counted (collisions=N; at least one must happen);
 *  - the flows stop and the run prints
 *      REKEY rekeys=N epochs_equal=yes lost=0 dup=0 collisions=N ...
 *    and fails on any loss or duplicate, on datagrams that did not go
 *    through ESP, or on a flow slower than a quarter of its rate;
 *  - at the end each gateway holds exactly one SA per direction for the
 *    tunnel, the ones the statuses name: the old inbound SAs are deleted
 *    when their grace period (about 32 s) ends; polled up to 90 s.
 *
 * usage: test_daemon_rekey SITE1 GW1 GW2 SITE2 (as root where ESP works;
 * tests/e2e/run.sh runs it)
 * environment: REKEY_ALTERNATE, REKEY_BOTH (counts, for shorter runs).
 */
#include "tests/e2e/daemon_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/test.h"

#define RATE 2000
#define PORT 50111
#define REKEY_MS 60000   /* one rekey, trigger to both synced */
#define GRACE_MS 90000   /* old inbound SAs gone after their grace */

static struct dh_env env;
static struct dh_env *const E = &env;
static int n_alt = 200, n_both = 50;

/* Waits until both gateways' inbound counters grew by at least n: traffic
 * flows through the tunnel both ways. */
static int wait_traffic(uint64_t n, int limit_ms)
{
	struct dh_status a[2], b[2];
	uint64_t t0 = dh_now_ms();

	if (dh_status(E, 0, &a[0]) || dh_status(E, 1, &a[1]))
		return -1;
	for (;;) {
		if (dh_status(E, 0, &b[0]) || dh_status(E, 1, &b[1]))
			return -1;
		if (b[0].packets_in >= a[0].packets_in + n &&
		    b[1].packets_in >= a[1].packets_in + n)
			return 0;
		if (dh_now_ms() - t0 > (uint64_t)limit_ms)
			return -1;
		dh_nap_ms(50);
	}
}

static void t_rekey_zero_loss(void)
{
	struct dh_conf c = { .suite = "xwing" };
	struct dh_flow fl[2] = { { .pid = -1, .fd = -1 },
				 { .pid = -1, .fd = -1 } };
	struct dh_flowres res[2];
	struct dh_rekeys alt = { 0 }, both = { 0 };
	struct dh_status st[2];
	struct dh_sas sas[2];
	int coll0[2] = { 0, 0 }, coll_i, coll_r, done = 0;
	uint64_t t_grace;
	char extra[256];
	bool flows = false, one_sa;

	if (!CHECK(dh_start_both(E, &c) == 0))
		goto out;
	if (!CHECK(dh_wait_synced(E, 1, 90000, st) == 0))
		goto out;
	if (!CHECK(dh_flows_start(E, fl, PORT, RATE) == 0))
		goto out;
	flows = true;
	if (!CHECK(wait_traffic(100, 30000) == 0))
		goto stop;

	CHECK(dh_rekeys(E, n_alt, false, REKEY_MS, &alt) == 0);
	dh_rekeys_print("alternating", &alt);
	done += alt.done;
	if (alt.done != n_alt)
		goto stop;

	coll0[0] = dh_log_count(E, 0, "rekey collision");
	coll0[1] = dh_log_count(E, 1, "rekey collision");
	CHECK(dh_rekeys(E, n_both, true, REKEY_MS, &both) == 0);
	dh_rekeys_print("simultaneous", &both);
	done += both.done;

stop:
	if (!CHECK(dh_flows_stop(E, fl, res) == 0)) {
		flows = false;
		goto out;
	}
	flows = false;
	coll_i = dh_log_count(E, 0, "rekey collision") - coll0[0];
	coll_r = dh_log_count(E, 1, "rekey collision") - coll0[1];
	printf("  rekey collision lines during the simultaneous rekeys: "
	       "%s (initiator) %d, %s (responder) %d\n", E->ns_gw[0], coll_i,
	       E->ns_gw[1], coll_r);
	if (n_both > 0)
		CHECK(coll_r >= 1);

	/* One SA per direction per gateway, once the grace periods end. */
	t_grace = dh_now_ms();
	one_sa = dh_wait_one_sa_each(E, GRACE_MS, sas) == 0;
	if (CHECK(one_sa))
		printf("  one SA per direction per gateway %.1f s after the "
		       "last rekey\n",
		       (double)(dh_now_ms() - t_grace) / 1e3);
	else
		for (int gw = 0; gw < 2; gw++)
			printf("  %s: %d inbound, %d outbound SAs\n",
			       E->ns_gw[gw], sas[gw].n_in, sas[gw].n_out);
	/* The statuses now (the old SAs' counts summed in). */
	/* (Reported either way: the figures say what went wrong.) */
	if (!CHECK(dh_wait_synced(E, 1, 30000, st) == 0))
		for (int gw = 0; gw < 2; gw++)
			if (dh_status(E, gw, &st[gw]) != 0)
				printf("  no status from %s\n", E->ns_gw[gw]);
	for (int gw = 0; gw < 2 && one_sa; gw++) {
		/* The one SA each way is the one the status names. */
		CHECK_EQ_U64(sas[gw].spi_in[0], st[gw].spi_in);
		CHECK_EQ_U64(sas[gw].spi_out[0], st[gw].spi_out);
	}
	snprintf(extra, sizeof(extra),
		 "collisions=%d epoch=%llu retransmits=%llu+%llu", coll_r,
		 (unsigned long long)st[0].epoch,
		 (unsigned long long)st[0].retransmits,
		 (unsigned long long)st[1].retransmits);
	dh_rekey_report("REKEY", done, st, res, extra);
	CHECK(done == n_alt + n_both);
out:
	if (flows)
		dh_flows_kill(fl);
	if (test_case_failures())
		dh_diag(E, "rekey zero loss");
	dh_stop_both_checked(E);
}

int main(int argc, char **argv)
{
	if (dh_init(E, argc, argv) != 0) {
		printf("0 passed, 1 failed\n");
		return 1;
	}
	n_alt = dh_env_int("REKEY_ALTERNATE", n_alt);
	n_both = dh_env_int("REKEY_BOTH", n_both);
	test_run("rekeys under 2,000 datagrams/s each way lose nothing, "
		 "leave one SA per direction", t_rekey_zero_loss);
	dh_cleanup(E);
	return test_main_end(argv[0]);
}
