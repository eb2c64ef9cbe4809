/* daemon/ratelimit: bursts and refill at the configured rate, sources
 * independent, memory fixed under a flood from many sources (entries are
 * evicted, fullest bucket first), a source over its rate stays limited
 * while the flood goes on. */
#include <string.h>

#include "daemon/ratelimit.h"
#include "tests/lib/test.h"

static size_t key_of(uint32_t i, uint8_t k[5])
{
	k[0] = 4;
	k[1] = (uint8_t)(i >> 24);
	k[2] = (uint8_t)(i >> 16);
	k[3] = (uint8_t)(i >> 8);
	k[4] = (uint8_t)i;
	return 5;
}

static void test_burst_refill(void)
{
	struct ratelimit r;
	uint8_t k[5];
	size_t n = key_of(0xc0000201, k);
	uint64_t t = 1000;
	int ok = 0;

	if (!CHECK_OK(ratelimit_init(&r, 64, 2, 5, NULL)))
		return;
	CHECK(!ratelimit_over(&r, k, n, t));
	for (int i = 0; i < 10; i++)
		ok += ratelimit_take(&r, k, n, t);
	CHECK_EQ_U64(ok, 5);
	CHECK_EQ_U64(r.limited, 5);
	CHECK(ratelimit_over(&r, k, n, t));
	/* 2 per second: one token after 500 ms, not at 499. */
	CHECK(!ratelimit_take(&r, k, n, t + 499));
	CHECK(ratelimit_take(&r, k, n, t + 500));
	CHECK(!ratelimit_take(&r, k, n, t + 500));
	/* Ten seconds on: full again, but never more than the burst. */
	ok = 0;
	for (int i = 0; i < 10; i++)
		ok += ratelimit_take(&r, k, n, t + 10500);
	CHECK_EQ_U64(ok, 5);
	/* Over 10 s of steady asking, rate * 10 (+ what was left). */
	ok = 0;
	for (uint64_t ms = 0; ms < 10000; ms += 10)
		ok += ratelimit_take(&r, k, n, t + 20000 + ms);
	CHECK(ok >= 20 && ok <= 26);
	/* Another source is not affected. */
	{
		uint8_t k2[5];
		size_t n2 = key_of(0xc0000202, k2);

		CHECK(ratelimit_take(&r, k2, n2, t + 30000));
	}
	CHECK_EQ_U64(ratelimit_used(&r), 2);
	/* A clock going backwards gives nothing. */
	CHECK(!ratelimit_over(&r, k, n, t + 40000));
	ratelimit_set(&r, 1, 1);
	CHECK(ratelimit_take(&r, k, n, t + 40000));
	CHECK(!ratelimit_take(&r, k, n, t + 39000));
	ratelimit_free(&r);
	CHECK_RC(ratelimit_init(&r, 64, 0, 5, NULL), EPOCH_ERR_INVALID_ARG);
	CHECK_RC(ratelimit_init(&r, 64, 5, 0, NULL), EPOCH_ERR_INVALID_ARG);
}

/* 100,000 sources through a 256-entry table: the memory is what init
 * allocated; a source hammering all along stays limited except for what
 * its rate grants (its bucket is the emptiest of its set, never the one
 * evicted). */
static void test_bounded(void)
{
	struct ratelimit r;
	uint8_t k[5], hk[5];
	size_t n, hn = key_of(0xc0000201, hk);
	size_t mem;
	uint64_t t = 0;
	unsigned granted = 0;

	if (!CHECK_OK(ratelimit_init(&r, 200, 1, 3, NULL)))
		return;
	CHECK_EQ_U64(r.n, 256);
	mem = ratelimit_memory(&r);
	CHECK_EQ_U64(mem, 256 * sizeof(struct ratelimit_entry));
	for (uint32_t i = 0; i < 100000; i++) {
		n = key_of(0x0a000000 + i, k);
		CHECK(ratelimit_take(&r, k, n, t)); /* a new source: full */
		if (i % 10 == 0)
			granted += ratelimit_take(&r, hk, hn, t);
		t += 1; /* 100 s in all */
	}
	CHECK_EQ_U64(ratelimit_memory(&r), mem);
	CHECK(ratelimit_used(&r) <= 256);
	CHECK(ratelimit_used(&r) >= 250);
	CHECK(r.evictions >= 100000 - 256);
	/* 3 at the start, then one a second for 100 s. */
	test_note("hammering source granted %u of 10000", granted);
	CHECK(granted >= 100 && granted <= 104);
	ratelimit_free(&r);
}

int main(void)
{
	test_run("ratelimit_burst_refill", test_burst_refill);
	test_run("ratelimit_bounded", test_bounded);
	return test_main_end("test_ratelimit");
}
