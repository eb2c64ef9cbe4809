/* daemon/cookie: cookies verify for their source and isid within two
 * slots and for nothing else; the secrets rotate; the payload forms parse
 * strictly. */
#include <string.h>

#include "daemon/cookie.h"
#include "tests/lib/test.h"

#define PERIOD 60000u

static const uint8_t A4[4] = { 192, 0, 2, 1 };
static const uint8_t B4[4] = { 192, 0, 2, 7 };
static const uint8_t A6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint64_t ISID = 0x0123456789abcdefULL;

/* A deterministic rng: a counter. */
static int count_fill(void *ctx, uint8_t *out, size_t n)
{
	uint8_t *c = ctx;

	for (size_t i = 0; i < n; i++)
		out[i] = (*c)++;
	return EPOCH_OK;
}

static void test_roundtrip(void)
{
	struct cookie_key k;
	uint8_t c[COOKIE_LEN], c6[COOKIE_LEN];
	uint64_t now = 5 * PERIOD + 17;

	if (!CHECK_OK(cookie_key_init(&k, NULL, PERIOD, now)))
		return;
	CHECK_OK(cookie_make(&k, A4, 4, 7450, ISID, now, c));
	CHECK_EQ_U64(c[0], COOKIE_VERSION);
	CHECK_EQ_U64(c[1], 5);
	CHECK_OK(cookie_check(&k, A4, 4, 7450, ISID, now + 1000, c,
			      COOKIE_LEN));
	/* Same inputs, same cookie (stateless). */
	{
		uint8_t again[COOKIE_LEN];

		CHECK_OK(cookie_make(&k, A4, 4, 7450, ISID, now + 5, again));
		CHECK_MEM(again, c, COOKIE_LEN);
	}
	CHECK_OK(cookie_make(&k, A6, 16, 7450, ISID, now, c6));
	CHECK_OK(cookie_check(&k, A6, 16, 7450, ISID, now, c6, COOKIE_LEN));
	CHECK(memcmp(c, c6, COOKIE_LEN) != 0);
	cookie_key_wipe(&k);
}

static void test_refusals(void)
{
	struct cookie_key k;
	uint8_t c[COOKIE_LEN], bad[COOKIE_LEN];
	uint64_t now = 3 * PERIOD;

	if (!CHECK_OK(cookie_key_init(&k, NULL, PERIOD, now)))
		return;
	CHECK_OK(cookie_make(&k, A4, 4, 7450, ISID, now, c));
	/* Another address, port, isid, family. */
	CHECK_RC(cookie_check(&k, B4, 4, 7450, ISID, now, c, COOKIE_LEN),
		 EPOCH_ERR_AUTH);
	CHECK_RC(cookie_check(&k, A4, 4, 7451, ISID, now, c, COOKIE_LEN),
		 EPOCH_ERR_AUTH);
	CHECK_RC(cookie_check(&k, A4, 4, 7450, ISID + 1, now, c, COOKIE_LEN),
		 EPOCH_ERR_AUTH);
	CHECK_RC(cookie_check(&k, A6, 16, 7450, ISID, now, c, COOKIE_LEN),
		 EPOCH_ERR_AUTH);
	/* Truncated, extended, empty, wrong version, each MAC bit. */
	CHECK_RC(cookie_check(&k, A4, 4, 7450, ISID, now, c, COOKIE_LEN - 1),
		 EPOCH_ERR_AUTH);
	CHECK_RC(cookie_check(&k, A4, 4, 7450, ISID, now, c, 0),
		 EPOCH_ERR_AUTH);
	memcpy(bad, c, COOKIE_LEN);
	bad[0] = 2;
	CHECK_RC(cookie_check(&k, A4, 4, 7450, ISID, now, bad, COOKIE_LEN),
		 EPOCH_ERR_AUTH);
	for (size_t i = 2; i < COOKIE_LEN; i++) {
		memcpy(bad, c, COOKIE_LEN);
		bad[i] ^= (uint8_t)(1u << (i % 8));
		if (!CHECK_RC(cookie_check(&k, A4, 4, 7450, ISID, now, bad,
					   COOKIE_LEN),
			      EPOCH_ERR_AUTH))
			break;
	}
	/* A slot byte that is neither current nor previous. */
	memcpy(bad, c, COOKIE_LEN);
	bad[1] = (uint8_t)(bad[1] + 1);
	CHECK_RC(cookie_check(&k, A4, 4, 7450, ISID, now, bad, COOKIE_LEN),
		 EPOCH_ERR_AUTH);
	/* Another daemon's key (another secret). */
	{
		struct cookie_key k2;

		CHECK_OK(cookie_key_init(&k2, NULL, PERIOD, now));
		CHECK_RC(cookie_check(&k2, A4, 4, 7450, ISID, now, c,
				      COOKIE_LEN),
			 EPOCH_ERR_AUTH);
		cookie_key_wipe(&k2);
	}
	CHECK_RC(cookie_make(&k, A4, 3, 7450, ISID, now, c),
		 EPOCH_ERR_INVALID_ARG);
	cookie_key_wipe(&k);
	CHECK_RC(cookie_key_init(&k, NULL, 999, now), EPOCH_ERR_INVALID_ARG);
}

/* A cookie verifies in its slot and the next, not in the one after; a
 * jump of two slots forgets both secrets. */
static void test_rotation(void)
{
	struct cookie_key k;
	struct crypto_rng rng;
	uint8_t ctr = 0, c[COOKIE_LEN], c2[COOKIE_LEN], prev[32];
	uint64_t t0 = 10 * PERIOD + 5;

	rng.fill = count_fill;
	rng.ctx = &ctr;
	if (!CHECK_OK(cookie_key_init(&k, &rng, PERIOD, t0)))
		return;
	CHECK_OK(cookie_make(&k, A4, 4, 7450, ISID, t0, c));
	CHECK_OK(cookie_check(&k, A4, 4, 7450, ISID, t0 + PERIOD - 6, c,
			      COOKIE_LEN));
	CHECK_EQ_U64(k.slot, 10);
	memcpy(prev, k.cur, 32);
	/* Next slot: rotated, the old secret is the previous one. */
	CHECK_OK(cookie_check(&k, A4, 4, 7450, ISID, t0 + PERIOD, c,
			      COOKIE_LEN));
	CHECK_EQ_U64(k.slot, 11);
	CHECK_MEM(k.prev, prev, 32);
	CHECK(memcmp(k.cur, prev, 32) != 0);
	CHECK_OK(cookie_make(&k, A4, 4, 7450, ISID, t0 + PERIOD, c2));
	CHECK(memcmp(c, c2, COOKIE_LEN) != 0);
	CHECK_EQ_U64(c2[1], 11);
	/* Two slots on: the first cookie has expired, the second lives. */
	CHECK_RC(cookie_check(&k, A4, 4, 7450, ISID, t0 + 2 * PERIOD, c,
			      COOKIE_LEN),
		 EPOCH_ERR_AUTH);
	CHECK_OK(cookie_check(&k, A4, 4, 7450, ISID, t0 + 2 * PERIOD, c2,
			      COOKIE_LEN));
	/* A clock going backwards changes nothing. */
	CHECK_OK(cookie_key_rotate(&k, t0));
	CHECK_EQ_U64(k.slot, 12);
	/* A long pause: both secrets new, nothing old verifies, even where
	 * the slot byte matches again (256 slots later). */
	CHECK_RC(cookie_check(&k, A4, 4, 7450, ISID, t0 + 257 * PERIOD, c2,
			      COOKIE_LEN),
		 EPOCH_ERR_AUTH);
	CHECK_EQ_U64(k.slot, 267);
	CHECK_EQ_U64((uint8_t)k.slot, c2[1]);
	cookie_key_wipe(&k);
	CHECK_EQ_U64(k.slot, 0);
}

static void test_hello_split(void)
{
	uint8_t buf[80];
	const uint8_t *c;
	size_t cl, off, n;
	uint8_t ck[COOKIE_MAX];

	memset(ck, 0xa5, sizeof(ck));
	/* Empty cookie. */
	buf[0] = 0;
	buf[1] = 0x77;
	CHECK_OK(cookie_hello_split(buf, 2, &c, &cl, &off));
	CHECK(c == NULL);
	CHECK_EQ_U64(cl, 0);
	CHECK_EQ_U64(off, 1);
	/* 34 bytes, then the KeyPackage. */
	n = cookie_vec_encode(ck, COOKIE_LEN, buf);
	CHECK_EQ_U64(n, 35);
	buf[n] = 0x77;
	CHECK_OK(cookie_hello_split(buf, n + 1, &c, &cl, &off));
	CHECK(c == buf + 1);
	CHECK_EQ_U64(cl, 34);
	CHECK_EQ_U64(off, 35);
	/* 64 bytes: a two-byte length. */
	n = cookie_vec_encode(ck, 64, buf);
	CHECK_EQ_U64(n, 66);
	CHECK_EQ_U64(buf[0], 0x40);
	CHECK_EQ_U64(buf[1], 64);
	CHECK_OK(cookie_hello_split(buf, n, &c, &cl, &off));
	CHECK_EQ_U64(cl, 64);
	CHECK_EQ_U64(off, 66);
	/* Refusals. */
	CHECK_RC(cookie_hello_split(buf, 0, &c, &cl, &off),
		 EPOCH_ERR_TRUNCATED);
	CHECK_RC(cookie_hello_split(buf, 40, &c, &cl, &off),
		 EPOCH_ERR_TRUNCATED);
	buf[0] = 0x40;
	buf[1] = 65;
	CHECK_RC(cookie_hello_split(buf, 80, &c, &cl, &off),
		 EPOCH_ERR_TOO_LONG);
	buf[1] = 10; /* non-minimal */
	CHECK_RC(cookie_hello_split(buf, 80, &c, &cl, &off),
		 EPOCH_ERR_VARINT);
	buf[0] = 0x80; /* 4 bytes: never minimal for <= 64 */
	buf[1] = 0;
	buf[2] = 0;
	buf[3] = 5;
	CHECK_RC(cookie_hello_split(buf, 80, &c, &cl, &off),
		 EPOCH_ERR_VARINT);
	buf[0] = 0xc0;
	CHECK_RC(cookie_hello_split(buf, 80, &c, &cl, &off),
		 EPOCH_ERR_VARINT);
	buf[0] = 0x81;
	CHECK_RC(cookie_hello_split(buf, 80, &c, &cl, &off),
		 EPOCH_ERR_TOO_LONG);
	buf[0] = 0x3f; /* 63 bytes, 10 there */
	CHECK_RC(cookie_hello_split(buf, 11, &c, &cl, &off),
		 EPOCH_ERR_TRUNCATED);
}

static void test_payload(void)
{
	uint8_t buf[80], ck[COOKIE_LEN];
	const uint8_t *c;
	size_t cl, n;

	memset(ck, 0x3c, sizeof(ck));
	n = cookie_vec_encode(ck, sizeof(ck), buf);
	CHECK_OK(cookie_payload_parse(buf, n, &c, &cl));
	CHECK_EQ_U64(cl, COOKIE_LEN);
	CHECK_MEM(c, ck, COOKIE_LEN);
	CHECK_RC(cookie_payload_parse(buf, n + 1, &c, &cl),
		 EPOCH_ERR_TRAILING);
	CHECK_RC(cookie_payload_parse(buf, n - 1, &c, &cl),
		 EPOCH_ERR_TRUNCATED);
	buf[0] = 0;
	CHECK_RC(cookie_payload_parse(buf, 1, &c, &cl), EPOCH_ERR_MALFORMED);
	CHECK_RC(cookie_payload_parse(buf, 0, &c, &cl), EPOCH_ERR_TRUNCATED);
}

int main(void)
{
	test_run("cookie_roundtrip", test_roundtrip);
	test_run("cookie_refusals", test_refusals);
	test_run("cookie_rotation", test_rotation);
	test_run("cookie_hello_split", test_hello_split);
	test_run("cookie_payload", test_payload);
	return test_main_end("test_cookie");
}
