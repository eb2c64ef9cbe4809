/* XFRM figures through xfrm/ on a kernel that can do ESP (make bench-xfrm
 * runs it here or in the VM of netns/vm.sh):
 *   BENCH xfrm_sa_install <mean> us   one tunnel-mode AES-256-GCM ESN SA
 *                                     (NEWSA, acked), over N_SA SAs
 *   BENCH xfrm_rollover <mean> us     one make-before-break sequence on one
 *                                     gateway (xfrm_rollover: new inbound
 *                                     SA, new outbound SA, out policy
 *                                     switch, old outbound SA deleted),
 *                                     over N_ROLL sequences
 * Runs in a network namespace of its own (unshare), so nothing outside it
 * is touched and everything goes with the process; flushes it anyway.
 * Needs root. Exit status 0, or 1 if a step fails.
 */
#include "xfrm/xfrm.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#define REQID_LO 0x5e2f0100u
#define REQID_HI 0x5e2f01ffu
#define REQID (REQID_LO + 1)
#define N_SA 1000
#define N_ROLL 300
#define N_WARM 50

static struct xfrm_ctx *x;
static struct xfrm_addr a1, a2;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void sa_make(struct xfrm_sa *sa, const struct xfrm_addr *src,
		    const struct xfrm_addr *dst, uint32_t spi)
{
	size_t i;

	memset(sa, 0, sizeof(*sa));
	sa->src = *src;
	sa->dst = *dst;
	sa->spi = spi;
	sa->reqid = REQID;
	sa->aead = XFRM_AEAD_AES256_GCM;
	sa->key_len = xfrm_aead_key_len(sa->aead);
	/* Distinct keys; their quality does not matter here. */
	for (i = 0; i < sa->key_len; i++)
		sa->key[i] = (uint8_t)(spi * 31u + i * 7u);
	sa->esn = true;
	sa->replay_window = 128;
}

static int fail(const char *what)
{
	fprintf(stderr, "bench_xfrm: %s: %s\n", what, xfrm_error(x));
	return 1;
}

static int bench_install(double *mean)
{
	struct xfrm_sa sa;
	double t0, t;
	uint32_t i;

	/* Warm-up (first allocations in the kernel), removed again. */
	for (i = 0; i < N_WARM; i++) {
		sa_make(&sa, &a1, &a2, 0x20000 + i);
		if (xfrm_sa_add(x, &sa))
			return fail("install (warm-up)");
	}
	if (xfrm_flush(x) != N_WARM)
		return fail("flush after warm-up");
	t = 0;
	for (i = 0; i < N_SA; i++) {
		sa_make(&sa, &a1, &a2, 0x10000 + i);
		t0 = now_us();
		if (xfrm_sa_add(x, &sa))
			return fail("install");
		t += now_us() - t0;
	}
	*mean = t / N_SA;
	if (xfrm_flush(x) != N_SA)
		return fail("flush after install");
	return 0;
}

static int bench_rollover(double *mean)
{
	struct xfrm_sa in[2], out[2];
	struct xfrm_policy pol;
	double t0, t = 0;
	uint32_t i, spi = 0x30000;
	int n = 0;

	memset(&pol, 0, sizeof(pol));
	xfrm_addr_parse(&pol.sel.src, "198.51.100.0");
	xfrm_addr_parse(&pol.sel.dst, "203.0.113.0");
	pol.sel.src_plen = pol.sel.dst_plen = 24;
	pol.dir = XFRM_DIR_OUT;
	pol.tmpl_src = a1;
	pol.tmpl_dst = a2;
	pol.reqid = REQID;
	sa_make(&in[0], &a2, &a1, spi++);
	sa_make(&out[0], &a1, &a2, spi++);
	pol.spi = out[0].spi;
	if (xfrm_sa_add(x, &in[0]) || xfrm_sa_add(x, &out[0]) ||
	    xfrm_policy_add(x, &pol))
		return fail("rollover setup");
	for (i = 0; i < N_WARM + N_ROLL; i++) {
		int o = i & 1, w = !o;

		sa_make(&in[w], &a2, &a1, spi++);
		sa_make(&out[w], &a1, &a2, spi++);
		t0 = now_us();
		if (xfrm_rollover(x, &in[w], &out[w], &pol, &out[o]))
			return fail("rollover");
		if (i >= N_WARM) {
			t += now_us() - t0;
			n++;
		}
		pol.spi = out[w].spi;
		/* The old inbound SA after its grace period (not timed). */
		if (xfrm_sa_delete(x, &in[o].dst, in[o].spi))
			return fail("delete old inbound");
	}
	*mean = t / n;
	/* Left: one inbound, one outbound SA and the policy. */
	if (xfrm_flush(x) != 3)
		return fail("flush after rollovers");
	return 0;
}

int main(void)
{
	struct utsname u;
	double install = 0, roll = 0;
	int rc;

	if (unshare(CLONE_NEWNET) != 0) {
		perror("bench_xfrm: unshare(CLONE_NEWNET) (needs root)");
		return 1;
	}
	xfrm_addr_parse(&a1, "192.0.2.1");
	xfrm_addr_parse(&a2, "192.0.2.2");
	rc = xfrm_open(&x, NULL, REQID_LO, REQID_HI);
	if (rc) {
		fprintf(stderr, "bench_xfrm: xfrm_open: %s\n", strerror(-rc));
		return 1;
	}
	uname(&u);
	if (bench_install(&install) || bench_rollover(&roll)) {
		xfrm_close(x);
		return 1;
	}
	xfrm_close(x);
	fprintf(stderr, "bench_xfrm: kernel %s, %d SAs, %d rollovers\n",
		u.release, N_SA, N_ROLL);
	printf("BENCH xfrm_sa_install %.1f us\n", install);
	printf("BENCH xfrm_rollover %.1f us\n", roll);
	return 0;
}
