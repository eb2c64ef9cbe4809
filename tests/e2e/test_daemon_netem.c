/* epochd end to end on a bad network (issue 6, "Tests"): the daemons of
 * daemon_harness.h with netem (tc) on the gateway link, both veths:
 *
 *  - the whole link (ESP too): 10% loss, 20 ms delay, reordering (a quarter
 *    of the packets skip the delay). NETEM_REKEYS (default 50) rekeys,
 *    alternating sides, every fifth one triggered on both at once, each
 *    waiting until both daemons are on the new epoch; at the end both are
 *    still up on the same epoch, and once netem is gone the tunnel carries
 *    traffic;
 *  - the daemons' UDP port only (prio qdisc + u32 filter on the
 *    destination port; ESP untouched: ../shared/docs/esp-in-vm.md §8):
 *    30% loss, 20 ms +- 10 ms delay, with udpflow at 2,000 datagrams/s
 *    each way. PORT_REKEYS (default 100) rekeys from both sides, every
 *    third one on both at once (collisions); the run prints
 *      REKEY rekeys=N epochs_equal=yes lost=0 dup=0 netem=udp-port ...
 *    fails on any loss or duplicate, and at the end each gateway holds
 *    exactly one SA per direction (after the grace periods, polled).
 *
 * usage: test_daemon_netem SITE1 GW1 GW2 SITE2 (as root where ESP works;
 * tests/e2e/run.sh runs it)
 * environment (development): NETEM_REKEYS, PORT_REKEYS (counts),
 * PORT_SUITE (suite of the port case, default xwing), DAEMON_ONLY=link or
 * port, E2E_DAEMON_LOG_LEVEL=debug.
 */
#include "tests/e2e/daemon_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/test.h"

#define RATE 2000
#define PORT 50112
/* One rekey under loss: a commit or its ack lost six times in a row gives
 * the rekey up; the daemon retries 10 s later. Generous. */
#define REKEY_MS 90000
#define GRACE_MS 90000

static struct dh_env env;
static struct dh_env *const E = &env;
static int n_link = 50, n_port = 100;

/* count rekeys: every `every`-th on both sides at once, the others
 * alternating from gw1 and gw2. Returns the number completed. */
static int mixed_rekeys(int count, int every, struct dh_rekeys *r)
{
	if (dh_rekeys_begin(E, REKEY_MS, r) != 0)
		return 0;
	for (int i = 0; i < count; i++) {
		int who = every > 0 && i % every == every - 1 ? 2 : i & 1;

		if (dh_rekey_step(E, who, REKEY_MS, r) != 0)
			break;
	}
	dh_rekeys_print("mixed", r);
	return r->done;
}

static void t_link_netem(void)
{
	struct dh_conf c = { .suite = "x25519-aes128" };
	struct dh_rekeys r;
	struct dh_status st[2];
	long drops;
	int done;

	if (!CHECK(dh_start_both(E, &c) == 0))
		goto out;
	if (!CHECK(dh_wait_synced(E, 1, 90000, st) == 0))
		goto out;
	if (!CHECK(dh_netem(E, "loss 10% delay 20ms reorder 25% 50%", 0) ==
		   0))
		goto out;
	done = mixed_rekeys(n_link, 5, &r);
	CHECK(done == n_link);
	/* Still up, both on one epoch, right at the end (no waiting). */
	if (CHECK(dh_status(E, 0, &st[0]) == 0 &&
		  dh_status(E, 1, &st[1]) == 0)) {
		for (int gw = 0; gw < 2; gw++)
			printf("  %s: state %s epoch %llu retransmits %llu\n",
			       E->ns_gw[gw], st[gw].state,
			       (unsigned long long)st[gw].epoch,
			       (unsigned long long)st[gw].retransmits);
		CHECK(!strcmp(st[0].state, "up"));
		CHECK(!strcmp(st[1].state, "up"));
		CHECK(st[0].epoch == st[1].epoch);
		CHECK(st[0].epoch >= r.epoch0 + (uint64_t)n_link);
		/* The loss made the daemons retransmit. */
		CHECK(st[0].retransmits + st[1].retransmits > 0);
	}
	drops = dh_netem_drops(E);
	printf("NETEM-LINK rekeys=%d epochs_equal=%s state=%s,%s "
	       "netem_drops=%ld\n", done,
	       st[0].epoch == st[1].epoch ? "yes" : "no", st[0].state,
	       st[1].state, drops);
	CHECK(drops > 0); /* the netem was in the path */
	CHECK(dh_netem_off(E) == 0);
	/* Traffic through the tunnel once the link is clean. */
	if (CHECK(dh_wait_synced(E, 1, 30000, st) == 0))
		CHECK(dh_ping(E, 0, 5) == 5);
out:
	if (test_case_failures())
		dh_diag(E, "link netem");
	dh_netem_off(E);
	dh_stop_both_checked(E);
}

static void t_port_netem(void)
{
	const char *suite = getenv("PORT_SUITE");
	struct dh_conf c = { .suite = suite && *suite ? suite : "xwing" };
	struct dh_flow fl[2] = { { .pid = -1, .fd = -1 },
				 { .pid = -1, .fd = -1 } };
	struct dh_flowres res[2];
	struct dh_rekeys r = { 0 };
	struct dh_status st[2];
	struct dh_sas sas[2];
	bool flows = false;
	char extra[256];
	int done, coll0, coll;
	long drops;
	bool one_sa;
	uint64_t t_grace;

	if (!CHECK(dh_start_both(E, &c) == 0))
		goto out;
	if (!CHECK(dh_wait_synced(E, 1, 90000, st) == 0))
		goto out;
	if (!CHECK(dh_netem(E, "loss 30% delay 20ms 10ms", DH_PORT) == 0))
		goto out;
	if (!CHECK(dh_flows_start(E, fl, PORT, RATE) == 0))
		goto out;
	flows = true;
	coll0 = dh_log_count(E, 1, "rekey collision");
	done = mixed_rekeys(n_port, 3, &r);
	CHECK(done == n_port);
	if (!CHECK(dh_flows_stop(E, fl, res) == 0)) {
		flows = false;
		goto out;
	}
	flows = false;
	coll = dh_log_count(E, 1, "rekey collision") - coll0;
	/* The grace periods end under the same netem. */
	t_grace = dh_now_ms();
	one_sa = dh_wait_one_sa_each(E, done == n_port ? GRACE_MS : 40000,
				     sas) == 0;
	if (CHECK(one_sa))
		printf("  one SA per direction per gateway %.1f s after the "
		       "last rekey\n",
		       (double)(dh_now_ms() - t_grace) / 1e3);
	else
		for (int gw = 0; gw < 2; gw++)
			printf("  %s: %d inbound, %d outbound SAs\n",
			       E->ns_gw[gw], sas[gw].n_in, sas[gw].n_out);
	drops = dh_netem_drops(E);
	printf("  netem dropped %ld packets to port %d\n", drops, DH_PORT);
	CHECK(drops > 0); /* the netem was in the daemons' path */
	CHECK(dh_netem_off(E) == 0);
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
		 "netem=udp-port collisions=%d epoch=%llu "
		 "retransmits=%llu+%llu", coll,
		 (unsigned long long)st[0].epoch,
		 (unsigned long long)st[0].retransmits,
		 (unsigned long long)st[1].retransmits);
	dh_rekey_report("REKEY", done, st, res, extra);
	/* The loss made the daemons retransmit. */
	CHECK(st[0].retransmits + st[1].retransmits > 0);
out:
	if (flows)
		dh_flows_kill(fl);
	if (test_case_failures())
		dh_diag(E, "port netem");
	dh_netem_off(E);
	dh_stop_both_checked(E);
}

int main(int argc, char **argv)
{
	if (dh_init(E, argc, argv) != 0) {
		printf("0 passed, 1 failed\n");
		return 1;
	}
	n_link = dh_env_int("NETEM_REKEYS", n_link);
	n_port = dh_env_int("PORT_REKEYS", n_port);
	dh_run_case("link", "netem 10% loss, 20 ms delay, reordering on the "
		    "link: rekeys complete, tunnel stays up", t_link_netem);
	dh_run_case("port", "netem 30% loss, 20+-10 ms on the daemons' port: "
		    "rekeys lose no traffic, one SA per direction",
		    t_port_netem);
	dh_cleanup(E);
	return test_main_end(argv[0]);
}
