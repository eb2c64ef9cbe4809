/* daemon/wire: the header of docs/protocol.md §2 byte for byte and each
 * refusal, fragmentation and reassembly around the MTU boundaries and at
 * the limits, the retransmission schedule, duplicate detection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/wire.h"
#include "tests/lib/test.h"

#define F1280 1200u /* fragment payload for the default MTU */

/* The example header of docs/protocol.md §2.4. */
static const char example_hex[] =
	"4550" "01" "04" "02" "01" "04" "00"
	"0123456789abcdef" "fedcba9876543210" "00000007" "00000fe0";

static struct wire_header example_header(void)
{
	struct wire_header h = {
		.type = WIRE_COMMIT, .flags = WIRE_F_INITIATOR,
		.frag_index = 1, .frag_count = 4,
		.isid = 0x0123456789abcdefULL, .rsid = 0xfedcba9876543210ULL,
		.msg_id = 7, .total_len = 4064,
	};
	return h;
}

static void test_header_example(void)
{
	struct wire_header h = example_header(), d;
	struct test_bytes want;
	uint8_t buf[WIRE_HEADER_LEN + F1280];
	const uint8_t *frag;
	size_t n;

	if (!CHECK(test_hex(example_hex, &want) == 0))
		return;
	CHECK_EQ_U64(want.len, WIRE_HEADER_LEN);
	CHECK_OK(wire_header_encode(&h, buf));
	CHECK_MEM(buf, want.p, WIRE_HEADER_LEN);
	/* a middle fragment of 4064 bytes in 4: F = 1200 */
	memset(buf + WIRE_HEADER_LEN, 0x5a, F1280);
	CHECK_OK(wire_decode(buf, sizeof(buf), &d, &frag, &n));
	CHECK_EQ_U64(d.type, WIRE_COMMIT);
	CHECK_EQ_U64(d.flags, WIRE_F_INITIATOR);
	CHECK_EQ_U64(d.frag_index, 1);
	CHECK_EQ_U64(d.frag_count, 4);
	CHECK_EQ_U64(d.isid, 0x0123456789abcdefULL);
	CHECK_EQ_U64(d.rsid, 0xfedcba9876543210ULL);
	CHECK_EQ_U64(d.msg_id, 7);
	CHECK_EQ_U64(d.total_len, 4064);
	CHECK(frag == buf + WIRE_HEADER_LEN);
	CHECK_EQ_U64(n, F1280);
	test_bytes_free(&want);
}

/* Every type with every flag combination: encode accepts exactly what
 * decode accepts, and what is accepted round-trips. */
static void test_header_types(void)
{
	for (unsigned type = 0; type <= 10; type++) {
		for (unsigned flags = 0; flags < 8; flags++) {
			for (unsigned rz = 0; rz < 2; rz++) {
				struct wire_header h = {
					.type = (uint8_t)type,
					.flags = (uint8_t)flags,
					.frag_count = 1, .isid = 42,
					.rsid = rz ? 0 : 99, .msg_id = 3,
					.total_len = 0,
				}, d;
				uint8_t buf[WIRE_HEADER_LEN];
				const uint8_t *frag;
				size_t n;
				int rc = wire_header_encode(&h, buf);

				if (rc != EPOCH_OK)
					continue;
				CHECK_OK(wire_decode(buf, sizeof(buf), &d,
						     &frag, &n));
				CHECK(d.type == h.type &&
				      d.flags == h.flags &&
				      d.frag_index == h.frag_index &&
				      d.frag_count == h.frag_count &&
				      d.isid == h.isid && d.rsid == h.rsid &&
				      d.msg_id == h.msg_id &&
				      d.total_len == h.total_len);
				CHECK(type >= 1 && type <= 9 && flags < 4);
			}
		}
	}
	/* spot checks of the per-type rules */
	{
		struct wire_header h = { .type = WIRE_HELLO,
			.flags = WIRE_F_INITIATOR, .frag_count = 1, .isid = 1 };
		uint8_t buf[WIRE_HEADER_LEN];

		CHECK_OK(wire_header_encode(&h, buf));
		h.flags = 0; /* HELLO from the responder */
		CHECK_RC(wire_header_encode(&h, buf), WIRE_ERR_FLAGS);
		h.flags = WIRE_F_INITIATOR | WIRE_F_RESPONSE;
		CHECK_RC(wire_header_encode(&h, buf), WIRE_ERR_FLAGS);
		h.flags = WIRE_F_INITIATOR;
		h.rsid = 5; /* HELLO carries no responder id */
		CHECK_RC(wire_header_encode(&h, buf), WIRE_ERR_SESSION);
		h.type = WIRE_WELCOME; /* a response from the responder */
		h.flags = WIRE_F_RESPONSE;
		CHECK_OK(wire_header_encode(&h, buf));
		h.rsid = 0;
		CHECK_RC(wire_header_encode(&h, buf), WIRE_ERR_SESSION);
		h.type = WIRE_ERROR; /* ERROR may answer a HELLO */
		CHECK_OK(wire_header_encode(&h, buf));
		h.type = WIRE_COOKIE;
		CHECK_OK(wire_header_encode(&h, buf));
		h.type = WIRE_EPOCH_ACK;
		h.rsid = 9;
		h.flags = WIRE_F_INITIATOR;
		CHECK_RC(wire_header_encode(&h, buf), WIRE_ERR_FLAGS);
		h.type = WIRE_COMMIT;
		CHECK_OK(wire_header_encode(&h, buf));
		h.flags = WIRE_F_RESPONSE;
		CHECK_RC(wire_header_encode(&h, buf), WIRE_ERR_FLAGS);
	}
	CHECK(strcmp(wire_type_name(WIRE_EPOCH_ACK), "EPOCH_ACK") == 0);
	CHECK(wire_type_name(0) == NULL && wire_type_name(10) == NULL);
}

/* Decodes the example datagram after patching byte off to v (and an
 * optional second patch), expecting rc. */
static void refuse(const char *what, size_t datalen, size_t off, uint8_t v,
		   int want)
{
	uint8_t buf[WIRE_HEADER_LEN + 2 * F1280];
	struct wire_header h = example_header(), d;
	const uint8_t *frag = NULL;
	size_t n = 77;
	int rc;

	memset(buf, 0, sizeof(buf));
	CHECK_OK(wire_header_encode(&h, buf));
	if (off < WIRE_HEADER_LEN)
		buf[off] = v;
	rc = wire_decode(buf, datalen, &d, &frag, &n);
	if (!CHECK_RC(rc, want))
		printf("  (case %s)\n", what);
	if (want != EPOCH_OK)
		CHECK(frag == NULL && n == 77);
	else
		CHECK(frag == buf + WIRE_HEADER_LEN &&
		      n == datalen - WIRE_HEADER_LEN);
}

static void test_header_refusals(void)
{
	size_t ok = WIRE_HEADER_LEN + F1280, none = 999;

	refuse("valid", ok, none, 0, EPOCH_OK);
	refuse("empty", 0, none, 0, EPOCH_ERR_TRUNCATED);
	refuse("31 bytes", WIRE_HEADER_LEN - 1, none, 0, EPOCH_ERR_TRUNCATED);
	refuse("magic", ok, 0, 0x46, WIRE_ERR_MAGIC);
	refuse("magic2", ok, 1, 0x00, WIRE_ERR_MAGIC);
	refuse("version 0", ok, 2, 0, WIRE_ERR_VERSION);
	refuse("version 2", ok, 2, 2, WIRE_ERR_VERSION);
	refuse("type 0", ok, 3, 0, WIRE_ERR_TYPE);
	refuse("type 10", ok, 3, 10, WIRE_ERR_TYPE);
	refuse("type 255", ok, 3, 255, WIRE_ERR_TYPE);
	refuse("flag 0x04", ok, 4, WIRE_F_INITIATOR | 0x04, WIRE_ERR_FLAGS);
	refuse("flag 0x80", ok, 4, 0x80, WIRE_ERR_FLAGS);
	refuse("COMMIT response", ok, 4, WIRE_F_RESPONSE, WIRE_ERR_FLAGS);
	refuse("reserved", ok, 7, 1, WIRE_ERR_RESERVED);
	refuse("count 0", ok, 6, 0, WIRE_ERR_FRAGMENT);
	refuse("index = count", ok, 5, 4, WIRE_ERR_FRAGMENT);
	refuse("index > count", ok, 5, 200, WIRE_ERR_FRAGMENT);
	/* total_len 0x00010001 = 65537 */
	refuse("total > 64 KiB", ok, 29, 0x01, WIRE_ERR_TOO_BIG);
	/* fragment 1 of 4 with 4064 bytes: F=1200 fits, 1001..1354 do not */
	refuse("short middle", WIRE_HEADER_LEN + 1000, none, 0,
	       WIRE_ERR_LENGTH);
	refuse("long middle", WIRE_HEADER_LEN + 1400, none, 0,
	       WIRE_ERR_LENGTH);
	/* 3n < 4064 <= 4n: n from 1016 to 1354 */
	refuse("middle 1015", WIRE_HEADER_LEN + 1015, none, 0,
	       WIRE_ERR_LENGTH);
	refuse("middle 1016", WIRE_HEADER_LEN + 1016, none, 0, EPOCH_OK);
	refuse("middle 1354", WIRE_HEADER_LEN + 1354, none, 0, EPOCH_OK);
	refuse("middle 1355", WIRE_HEADER_LEN + 1355, none, 0,
	       WIRE_ERR_LENGTH);
	refuse("empty middle", WIRE_HEADER_LEN, none, 0, WIRE_ERR_LENGTH);

	/* isid 0, COMMIT with rsid 0 */
	{
		struct wire_header h = example_header(), d;
		uint8_t buf[WIRE_HEADER_LEN + F1280];
		const uint8_t *frag;
		size_t n;

		CHECK_OK(wire_header_encode(&h, buf));
		memset(buf + 8, 0, 8);
		CHECK_RC(wire_decode(buf, sizeof(buf), &d, &frag, &n),
			 WIRE_ERR_SESSION);
		CHECK_OK(wire_header_encode(&h, buf));
		memset(buf + 16, 0, 8);
		CHECK_RC(wire_decode(buf, sizeof(buf), &d, &frag, &n),
			 WIRE_ERR_SESSION);
	}
	/* the last fragment: 4064 = 3*1200 + 464 */
	{
		struct wire_header h = example_header(), d;
		uint8_t buf[WIRE_HEADER_LEN + F1280];
		const uint8_t *frag;
		size_t n;

		h.frag_index = 3;
		CHECK_OK(wire_header_encode(&h, buf));
		CHECK_OK(wire_decode(buf, WIRE_HEADER_LEN + 464, &d, &frag,
				     &n));
		CHECK_RC(wire_decode(buf, WIRE_HEADER_LEN + 463, &d, &frag,
				     &n), WIRE_ERR_LENGTH);
		/* 4064 - 1016 = 3048 = 3*1016: F = last, allowed */
		CHECK_OK(wire_decode(buf, WIRE_HEADER_LEN + 1016, &d, &frag,
				     &n));
		/* 4064 - 1100 = 2964 = 3*988 < 1100: F below last */
		CHECK_RC(wire_decode(buf, WIRE_HEADER_LEN + 1100, &d, &frag,
				     &n), WIRE_ERR_LENGTH);
		/* a one-fragment message: length = total_len exactly */
		h.frag_index = 0;
		h.frag_count = 1;
		h.total_len = 10;
		CHECK_OK(wire_header_encode(&h, buf));
		CHECK_OK(wire_decode(buf, WIRE_HEADER_LEN + 10, &d, &frag,
				     &n));
		CHECK_RC(wire_decode(buf, WIRE_HEADER_LEN + 9, &d, &frag,
				     &n), WIRE_ERR_LENGTH);
		CHECK_RC(wire_decode(buf, WIRE_HEADER_LEN + 11, &d, &frag,
				     &n), WIRE_ERR_LENGTH);
	}
	CHECK(strcmp(wire_result_name(WIRE_ERR_LENGTH), "WIRE_ERR_LENGTH")
	      == 0);
	CHECK(strcmp(wire_result_name(EPOCH_ERR_TRUNCATED),
		     "EPOCH_ERR_TRUNCATED") == 0);
}

/* ---- fragmentation and reassembly --------------------------------------- */

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + seed + (i >> 8));
}

static struct wire_header commit_header(uint32_t id)
{
	struct wire_header h = {
		.type = WIRE_COMMIT, .flags = WIRE_F_INITIATOR,
		.isid = 0x1111, .rsid = 0x2222, .msg_id = id,
	};
	return h;
}

/* Fragments len bytes at the given MTU; checks the datagram count and
 * sizes; feeds them to a fresh reassembler in the order given by perm
 * (NULL: in order), each `copies` times; checks the message. */
static void round_trip(size_t len, size_t mtu, size_t want_count,
		       const size_t *perm, unsigned copies)
{
	struct wire_limits l;
	struct wire_reasm ra;
	struct wire_datagrams dg;
	struct wire_header h = commit_header(1);
	struct wire_message m;
	uint8_t *msg = malloc(len + 1);
	size_t f, maxdg;
	int done = 0;

	wire_limits_default(&l);
	l.mtu = mtu;
	f = wire_fragment_size(mtu);
	maxdg = mtu - WIRE_IP_UDP_OVERHEAD;
	fill(msg, len, (unsigned)len);
	CHECK_OK(wire_reasm_init(&ra, &l));
	if (!CHECK_OK(wire_fragment(&l, &h, msg, len, &dg)))
		goto out;
	CHECK_EQ_U64(dg.count, want_count);
	for (size_t i = 0; i < dg.count; i++) {
		size_t n;
		const uint8_t *d = wire_datagram(&dg, i, &n);

		CHECK(n <= maxdg);
		CHECK_EQ_U64(n, WIRE_HEADER_LEN +
			     (i + 1 < dg.count ? f : len - i * f));
		CHECK(d != NULL);
	}
	for (unsigned c = 0; c < copies; c++) {
		for (size_t k = 0; k < dg.count; k++) {
			size_t i = perm != NULL ? perm[k] : k, n, fl;
			const uint8_t *d = wire_datagram(&dg, i, &n), *fr;
			struct wire_header dh;
			int rc;

			CHECK_OK(wire_decode(d, n, &dh, &fr, &fl));
			CHECK_EQ_U64(dh.frag_index, i);
			rc = wire_reasm_feed(&ra, &dh, fr, fl, 100, &m);
			if (rc == 1) {
				done++;
				CHECK_EQ_U64(m.len, len);
				CHECK(len == 0 ||
				      memcmp(m.data, msg, len) == 0);
				CHECK_EQ_U64(m.hdr.msg_id, 1);
				CHECK_EQ_U64(m.hdr.type, WIRE_COMMIT);
				CHECK(m.owned == (dg.count > 1));
				wire_message_free(&m);
			} else {
				CHECK_OK(rc);
			}
		}
	}
	/* later copies of a multi-fragment message start a new reassembly
	 * (completed messages are forgotten): each round completes once */
	CHECK_EQ_U64(done, copies);
	if (dg.count > 1 && copies == 1)
		CHECK_EQ_U64(ra.active, 0);
	wire_datagrams_free(&dg);
out:
	wire_reasm_free(&ra);
	free(msg);
}

static void test_fragment_sizes(void)
{
	CHECK_EQ_U64(wire_fragment_size(1280), 1200);
	CHECK_EQ_U64(wire_fragment_size(1500), 1420);
	CHECK_EQ_U64(wire_fragment_size(576), 496);
	round_trip(0, 1280, 1, NULL, 1);
	round_trip(1, 1280, 1, NULL, 1);
	round_trip(F1280 - 1, 1280, 1, NULL, 1);
	round_trip(F1280, 1280, 1, NULL, 1);      /* exactly one full */
	round_trip(F1280 + 1, 1280, 2, NULL, 1);  /* one byte more */
	round_trip(2 * F1280, 1280, 2, NULL, 1);
	round_trip(2 * F1280 + 1, 1280, 3, NULL, 1);
	round_trip(6144, 1280, 6, NULL, 1);       /* X-Wing sized */
	round_trip(4403, 1280, 4, NULL, 1);       /* ts-mls Welcome */
	round_trip(65536, 1280, 55, NULL, 1);     /* the largest */
	round_trip(6144, 1500, 5, NULL, 1);
	round_trip(6144, 576, 13, NULL, 1);
}

static void test_shuffled_duplicated(void)
{
	static const size_t rev[6] = { 5, 4, 3, 2, 1, 0 };
	static const size_t mix[6] = { 3, 0, 5, 1, 4, 2 };
	struct wire_limits l;
	struct wire_reasm ra;
	struct wire_datagrams dg;
	struct wire_header h = commit_header(9);
	struct wire_message m;
	uint8_t msg[6144];
	static const size_t order[] = { 2, 2, 0, 5, 0, 2, 1, 3, 3, 4 };
	unsigned completions = 0;

	round_trip(6144, 1280, 6, rev, 1);
	round_trip(6144, 1280, 6, mix, 1);
	round_trip(6144, 1280, 6, mix, 3);

	/* duplicates inside one reassembly are ignored and counted */
	wire_limits_default(&l);
	fill(msg, sizeof(msg), 3);
	CHECK_OK(wire_reasm_init(&ra, &l));
	CHECK_OK(wire_fragment(&l, &h, msg, sizeof(msg), &dg));
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		size_t n, fl;
		const uint8_t *d = wire_datagram(&dg, order[k], &n), *fr;
		struct wire_header dh;
		int rc;

		CHECK_OK(wire_decode(d, n, &dh, &fr, &fl));
		rc = wire_reasm_feed(&ra, &dh, fr, fl, 0, &m);
		if (k + 1 < sizeof(order) / sizeof(order[0])) {
			CHECK_EQ_U64(rc, 0);
			continue;
		}
		if (CHECK_EQ_U64(rc, 1)) {
			completions++;
			CHECK_EQ_U64(m.len, sizeof(msg));
			CHECK(memcmp(m.data, msg, sizeof(msg)) == 0);
			wire_message_free(&m);
		}
	}
	CHECK_EQ_U64(completions, 1);
	CHECK_EQ_U64(ra.stats.duplicates, 4);
	CHECK_EQ_U64(ra.stats.completed, 1);
	CHECK_EQ_U64(ra.mem_used, 0);
	wire_datagrams_free(&dg);
	wire_reasm_free(&ra);
}

/* Decodes datagram i of dg and feeds it at now. */
static int feed(struct wire_reasm *ra, const struct wire_datagrams *dg,
		size_t i, uint64_t now, struct wire_message *m)
{
	size_t n, fl;
	const uint8_t *d = wire_datagram(dg, i, &n), *fr;
	struct wire_header h;
	int rc = wire_decode(d, n, &h, &fr, &fl);

	if (rc != EPOCH_OK)
		return rc;
	return wire_reasm_feed(ra, &h, fr, fl, now, m);
}

static void test_limits(void)
{
	struct wire_limits l, small;
	struct wire_reasm ra;
	struct wire_datagrams a, b, c, big;
	struct wire_message m;
	static uint8_t msg[65537];

	wire_limits_default(&l);
	CHECK_OK(wire_limits_check(&l));
	/* the sender refuses what no receiver accepts */
	CHECK_RC(wire_fragment(&l, &(struct wire_header){ .type = WIRE_COMMIT,
		.isid = 1, .rsid = 2 }, msg, 65537, &a), WIRE_ERR_TOO_BIG);
	small = l;
	small.max_fragments = 4;
	CHECK_RC(wire_fragment(&small, &(struct wire_header){
		.type = WIRE_COMMIT, .isid = 1, .rsid = 2 }, msg, 4 * F1280 + 1,
		&a), WIRE_ERR_TOO_BIG);
	small.max_message = 1000;
	CHECK_RC(wire_fragment(&small, &(struct wire_header){
		.type = WIRE_COMMIT, .isid = 1, .rsid = 2 }, msg, 1001, &a),
		WIRE_ERR_TOO_BIG);
	/* out-of-range limits */
	small = l;
	small.mtu = 575;
	CHECK_RC(wire_limits_check(&small), EPOCH_ERR_INVALID_ARG);
	small = l;
	small.max_fragments = 256;
	CHECK_RC(wire_limits_check(&small), EPOCH_ERR_INVALID_ARG);
	small = l;
	small.max_message = 65537;
	CHECK_RC(wire_limits_check(&small), EPOCH_ERR_INVALID_ARG);

	/* receiver: too many fragments, too big */
	small = l;
	small.max_fragments = 5;
	small.max_message = 8000;
	CHECK_OK(wire_reasm_init(&ra, &small));
	CHECK_OK(wire_fragment(&l, &(struct wire_header){ .type = WIRE_COMMIT,
		.isid = 1, .rsid = 2, .msg_id = 1 }, msg, 6144, &a));
	CHECK_EQ_U64(a.count, 6);
	CHECK_RC(feed(&ra, &a, 0, 0, &m), WIRE_ERR_FRAGMENT);
	CHECK_OK(wire_fragment(&l, &(struct wire_header){ .type = WIRE_COMMIT,
		.isid = 1, .rsid = 2, .msg_id = 2 }, msg, 9000, &big));
	CHECK_RC(feed(&ra, &big, 0, 0, &m), WIRE_ERR_TOO_BIG);
	CHECK_EQ_U64(ra.active, 0);
	CHECK_EQ_U64(ra.stats.refused, 2);
	wire_reasm_free(&ra);
	wire_datagrams_free(&big);

	/* memory cap: 10000 bytes hold one 6144-byte message, not two */
	small = l;
	small.max_memory = 10000;
	CHECK_OK(wire_reasm_init(&ra, &small));
	CHECK_OK(wire_fragment(&l, &(struct wire_header){ .type = WIRE_COMMIT,
		.isid = 1, .rsid = 2, .msg_id = 2 }, msg, 6144, &b));
	CHECK_OK(feed(&ra, &a, 0, 0, &m));
	CHECK_EQ_U64(ra.mem_used, 6144);
	CHECK_RC(feed(&ra, &b, 0, 0, &m), WIRE_ERR_LIMIT);
	CHECK_EQ_U64(ra.mem_used, 6144);
	CHECK(ra.mem_used <= small.max_memory);
	/* completing the first frees its memory; then the second fits */
	for (size_t i = 1; i < a.count; i++) {
		int rc = feed(&ra, &a, i, 0, &m);

		CHECK_EQ_U64(rc, i + 1 == a.count ? 1 : 0);
		if (rc == 1)
			wire_message_free(&m);
	}
	CHECK_EQ_U64(ra.mem_used, 0);
	CHECK_OK(feed(&ra, &b, 0, 0, &m));
	CHECK_EQ_U64(ra.mem_used, 6144);
	wire_reasm_free(&ra);

	/* concurrent reassemblies */
	small = l;
	small.max_reassemblies = 2;
	CHECK_OK(wire_reasm_init(&ra, &small));
	CHECK_OK(wire_fragment(&l, &(struct wire_header){ .type = WIRE_COMMIT,
		.isid = 1, .rsid = 2, .msg_id = 3 }, msg, 6144, &c));
	CHECK_OK(feed(&ra, &a, 0, 0, &m));
	CHECK_OK(feed(&ra, &b, 0, 0, &m));
	CHECK_RC(feed(&ra, &c, 0, 0, &m), WIRE_ERR_LIMIT);
	CHECK_EQ_U64(ra.active, 2);
	/* one-fragment messages need no slot */
	{
		struct wire_datagrams one;

		CHECK_OK(wire_fragment(&l, &(struct wire_header){
			.type = WIRE_KEEPALIVE, .isid = 1, .rsid = 2,
			.msg_id = 4 }, msg, 10, &one));
		CHECK_EQ_U64(feed(&ra, &one, 0, 0, &m), 1);
		CHECK(!m.owned && m.len == 10);
		wire_datagrams_free(&one);
	}
	wire_reasm_free(&ra);
	wire_datagrams_free(&a);
	wire_datagrams_free(&b);
	wire_datagrams_free(&c);
}

/* wire_reasm_feed re-checks a header it is given directly. */
static void test_feed_refusals(void)
{
	struct wire_limits l;
	struct wire_reasm ra;
	struct wire_message m;
	uint8_t frag[1200] = { 0 };
	struct wire_header h = example_header();

	wire_limits_default(&l);
	l.max_reassemblies = 0;
	CHECK_RC(wire_reasm_init(&ra, &l), EPOCH_ERR_INVALID_ARG);
	wire_limits_default(&l);
	CHECK_OK(wire_reasm_init(&ra, &l));
	CHECK_RC(wire_reasm_feed(&ra, &h, frag, 1015, 0, &m),
		 WIRE_ERR_LENGTH);
	CHECK_RC(wire_reasm_feed(&ra, &h, NULL, 1200, 0, &m),
		 EPOCH_ERR_INVALID_ARG);
	h.flags = 0x40;
	CHECK_RC(wire_reasm_feed(&ra, &h, frag, 1200, 0, &m),
		 WIRE_ERR_FLAGS);
	h = example_header();
	h.frag_index = 4;
	CHECK_RC(wire_reasm_feed(&ra, &h, frag, 1200, 0, &m),
		 WIRE_ERR_FRAGMENT);
	h = example_header();
	h.type = 0;
	CHECK_RC(wire_reasm_feed(&ra, &h, frag, 1200, 0, &m), WIRE_ERR_TYPE);
	CHECK_EQ_U64(ra.active, 0);
	h = example_header();
	CHECK_OK(wire_reasm_feed(&ra, &h, frag, 1200, 0, &m));
	CHECK_EQ_U64(ra.active, 1);
	CHECK_EQ_U64(ra.mem_used, 4064);
	wire_reasm_free(&ra);
}

static void test_timeout(void)
{
	struct wire_limits l;
	struct wire_reasm ra;
	struct wire_datagrams a;
	struct wire_message m;
	static uint8_t msg[3000];

	wire_limits_default(&l);
	CHECK_EQ_U64(l.reassembly_timeout_ms, 10000);
	CHECK_OK(wire_reasm_init(&ra, &l));
	CHECK_OK(wire_fragment(&l, &(struct wire_header){ .type = WIRE_COMMIT,
		.isid = 1, .rsid = 2, .msg_id = 1 }, msg, sizeof(msg), &a));
	CHECK_EQ_U64(a.count, 3);
	CHECK_EQ_U64(wire_reasm_next_timeout(&ra, 0), WIRE_NO_TIMEOUT);
	CHECK_OK(feed(&ra, &a, 0, 1000, &m));
	CHECK_EQ_U64(wire_reasm_next_timeout(&ra, 1000), 10000);
	/* a new fragment moves the deadline; a duplicate does not */
	CHECK_OK(feed(&ra, &a, 1, 5000, &m));
	CHECK_OK(feed(&ra, &a, 1, 6000, &m));
	CHECK_EQ_U64(wire_reasm_next_timeout(&ra, 6000), 9000);
	CHECK_EQ_U64(wire_reasm_expire(&ra, 14999), 0);
	CHECK_EQ_U64(ra.active, 1);
	CHECK_EQ_U64(wire_reasm_next_timeout(&ra, 15000), 0);
	CHECK_EQ_U64(wire_reasm_next_timeout(&ra, 20000), 0);
	CHECK_EQ_U64(wire_reasm_expire(&ra, 15000), 1);
	CHECK_EQ_U64(ra.active, 0);
	CHECK_EQ_U64(ra.mem_used, 0);
	CHECK_EQ_U64(ra.stats.expired, 1);
	/* the last fragment alone now starts over: no completion */
	CHECK_OK(feed(&ra, &a, 2, 15001, &m));
	CHECK_EQ_U64(ra.active, 1);
	/* expiry also happens inside feed */
	CHECK_OK(feed(&ra, &a, 0, 25001, &m));
	CHECK_EQ_U64(ra.stats.expired, 2);
	CHECK_EQ_U64(ra.active, 1);
	wire_reasm_free(&ra);
	wire_datagrams_free(&a);
}

/* wire_reasm_has and wire_reasm_count: what the daemon asks before it
 * lets a fragment other than the first of a HELLO in under load. */
static void test_has_count(void)
{
	struct wire_limits l;
	struct wire_reasm ra;
	struct wire_datagrams a, b;
	struct wire_message m;
	struct wire_header h = { .type = WIRE_HELLO, .flags = WIRE_F_INITIATOR,
				 .isid = 9, .msg_id = 0 };
	struct wire_header other = h;
	static uint8_t msg[3000];

	wire_limits_default(&l);
	CHECK_OK(wire_reasm_init(&ra, &l));
	CHECK_OK(wire_fragment(&l, &h, msg, sizeof(msg), &a));
	CHECK_OK(wire_fragment(&l, &(struct wire_header){ .type = WIRE_COMMIT,
		.isid = 1, .rsid = 2, .msg_id = 1 }, msg, sizeof(msg), &b));
	other.frag_count = 3;
	CHECK(!wire_reasm_has(&ra, &other));
	CHECK_EQ_U64(wire_reasm_count(&ra, WIRE_HELLO), 0);
	CHECK_OK(feed(&ra, &a, 0, 0, &m));
	CHECK_OK(feed(&ra, &b, 0, 0, &m));
	CHECK(wire_reasm_has(&ra, &other));
	CHECK_EQ_U64(wire_reasm_count(&ra, WIRE_HELLO), 1);
	CHECK_EQ_U64(wire_reasm_count(&ra, WIRE_COMMIT), 1);
	other.msg_id = 1;
	CHECK(!wire_reasm_has(&ra, &other));
	other.msg_id = 0;
	other.isid = 10;
	CHECK(!wire_reasm_has(&ra, &other));
	wire_reasm_free(&ra);
	wire_datagrams_free(&a);
	wire_datagrams_free(&b);
}

static void test_inconsistent(void)
{
	struct wire_limits l, l2;
	struct wire_reasm ra;
	struct wire_datagrams a, b;
	struct wire_message m;
	static uint8_t msg[6144];
	struct wire_header h = { .type = WIRE_COMMIT, .isid = 1, .rsid = 2,
				 .msg_id = 1 };

	wire_limits_default(&l);
	CHECK_OK(wire_reasm_init(&ra, &l));
	CHECK_OK(wire_fragment(&l, &h, msg, 6144, &a));
	/* same message id, other total */
	CHECK_OK(wire_fragment(&l, &h, msg, 6000, &b));
	CHECK_OK(feed(&ra, &a, 0, 0, &m));
	CHECK_OK(feed(&ra, &a, 1, 0, &m));
	CHECK_RC(feed(&ra, &b, 2, 0, &m), WIRE_ERR_INCONSISTENT);
	CHECK_EQ_U64(ra.active, 0);
	CHECK_EQ_U64(ra.mem_used, 0);
	CHECK_EQ_U64(ra.stats.inconsistent, 1);
	wire_datagrams_free(&b);
	/* same total, other count (a sender with another MTU) */
	l2 = l;
	l2.mtu = 1500;
	CHECK_OK(wire_fragment(&l2, &h, msg, 6144, &b));
	CHECK_EQ_U64(b.count, 5);
	CHECK_OK(feed(&ra, &a, 0, 0, &m));
	CHECK_RC(feed(&ra, &b, 1, 0, &m), WIRE_ERR_INCONSISTENT);
	CHECK_EQ_U64(ra.active, 0);
	wire_datagrams_free(&b);
	/* same total and count, other fragment size: 3 fragments of 3000
	 * with F 1200 (last 600) against F 1001 (last 998) */
	l2.mtu = 1081; /* F = 1001 */
	CHECK_OK(wire_fragment(&l2, &h, msg, 3000, &b));
	CHECK_EQ_U64(b.count, 3);
	wire_datagrams_free(&a);
	CHECK_OK(wire_fragment(&l, &h, msg, 3000, &a));
	CHECK_OK(feed(&ra, &a, 0, 0, &m));
	CHECK_RC(feed(&ra, &b, 2, 0, &m), WIRE_ERR_INCONSISTENT);
	wire_datagrams_free(&b);
	/* other type, same id */
	h.type = WIRE_RESUME;
	CHECK_OK(wire_fragment(&l, &h, msg, 3000, &b));
	CHECK_OK(feed(&ra, &a, 0, 0, &m));
	CHECK_RC(feed(&ra, &b, 1, 0, &m), WIRE_ERR_INCONSISTENT);
	CHECK_EQ_U64(ra.stats.inconsistent, 4);
	/* a response with the same id is another message, not a conflict */
	wire_datagrams_free(&b);
	h.type = WIRE_EPOCH_ACK;
	h.flags = WIRE_F_RESPONSE;
	CHECK_OK(wire_fragment(&l, &h, msg, 3000, &b));
	CHECK_OK(feed(&ra, &a, 0, 0, &m));
	CHECK_OK(feed(&ra, &b, 1, 0, &m));
	CHECK_EQ_U64(ra.active, 2);
	wire_datagrams_free(&a);
	wire_datagrams_free(&b);
	wire_reasm_free(&ra);
}

/* ---- retransmission and duplicates --------------------------------------- */

static void test_retransmit_schedule(void)
{
	static const uint64_t at[] = { 500, 1500, 3500, 7500, 15500, 23500 };
	struct wire_limits l;
	struct wire_retx r;
	struct wire_session s;
	const struct wire_datagrams *dg;
	struct wire_event ev;
	uint8_t payload[3000], first[64];
	uint32_t id = 99;
	uint64_t t0 = 1000000;

	wire_limits_default(&l);
	wire_retx_default(&r);
	CHECK_EQ_U64(r.initial_ms, 500);
	CHECK_EQ_U64(r.cap_ms, 8000);
	CHECK_EQ_U64(r.max_retries, 6);
	wire_session_init(&s, &l, &r, 0xaa, 0xbb, true);
	fill(payload, sizeof(payload), 1);
	CHECK_EQ_U64(wire_next_timeout(&s, t0), WIRE_NO_TIMEOUT);
	CHECK_OK(wire_request(&s, WIRE_COMMIT, payload, sizeof(payload), t0,
			      &dg, &id));
	CHECK_EQ_U64(id, 0);
	CHECK_EQ_U64(dg->count, 3);
	memcpy(first, dg->buf, sizeof(first));
	CHECK_EQ_U64(wire_next_timeout(&s, t0), 500);
	for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
		uint64_t due = t0 + at[k];

		CHECK_EQ_U64(wire_next_timeout(&s, due - 1), 1);
		CHECK_EQ_U64(wire_poll(&s, due - 1, &ev), 0);
		CHECK_EQ_U64(wire_next_timeout(&s, due), 0);
		if (!CHECK_EQ_U64(wire_poll(&s, due, &ev), 1))
			break;
		CHECK_EQ_U64(ev.kind, WIRE_EV_RETRANSMIT);
		CHECK_EQ_U64(ev.msg_id, 0);
		CHECK_EQ_U64(ev.type, WIRE_COMMIT);
		CHECK(ev.dg != NULL && ev.dg->count == 3 &&
		      memcmp(ev.dg->buf, first, sizeof(first)) == 0);
		CHECK_EQ_U64(wire_poll(&s, due, &ev), 0);
	}
	CHECK_EQ_U64(s.retransmissions, 6);
	/* the last wait is the cap, then it gives up */
	CHECK_EQ_U64(wire_next_timeout(&s, t0 + 23500), 8000);
	CHECK_EQ_U64(wire_poll(&s, t0 + 31499, &ev), 0);
	CHECK_EQ_U64(wire_poll(&s, t0 + 31500, &ev), 1);
	CHECK_EQ_U64(ev.kind, WIRE_EV_GIVE_UP);
	CHECK_EQ_U64(ev.msg_id, 0);
	CHECK_EQ_U64(ev.type, WIRE_COMMIT);
	CHECK(ev.dg == NULL);
	CHECK_EQ_U64(wire_next_timeout(&s, t0 + 31500), WIRE_NO_TIMEOUT);
	CHECK_EQ_U64(wire_poll(&s, t0 + 99999, &ev), 0);
	/* ids keep increasing after a give-up */
	CHECK_OK(wire_request(&s, WIRE_KEEPALIVE, NULL, 0, t0, &dg, &id));
	CHECK_EQ_U64(id, 1);
	wire_session_free(&s);

	/* a late poll: the next wait counts from the poll */
	wire_session_init(&s, &l, &r, 0xaa, 0xbb, false);
	CHECK_OK(wire_request(&s, WIRE_COMMIT, payload, 10, 0, &dg, &id));
	CHECK_EQ_U64(wire_poll(&s, 700, &ev), 1);
	CHECK_EQ_U64(wire_next_timeout(&s, 700), 1000);
	wire_session_free(&s);

	/* a small cap and no retries */
	r.cap_ms = 700;
	r.max_retries = 0;
	wire_session_init(&s, &l, &r, 0xaa, 0xbb, true);
	CHECK_OK(wire_request(&s, WIRE_KEEPALIVE, NULL, 0, 0, &dg, &id));
	CHECK_EQ_U64(wire_poll(&s, 500, &ev), 1);
	CHECK_EQ_U64(ev.kind, WIRE_EV_GIVE_UP);
	wire_session_free(&s);
	r.max_retries = 3;
	wire_session_init(&s, &l, &r, 0xaa, 0xbb, true);
	CHECK_OK(wire_request(&s, WIRE_KEEPALIVE, NULL, 0, 0, &dg, &id));
	CHECK_EQ_U64(wire_poll(&s, 500, &ev), 1);
	CHECK_EQ_U64(wire_next_timeout(&s, 500), 700);
	CHECK_EQ_U64(wire_poll(&s, 1200, &ev), 1);
	CHECK_EQ_U64(wire_next_timeout(&s, 1200), 700);
	wire_session_free(&s);
}

static void test_pending_and_match(void)
{
	struct wire_limits l;
	struct wire_retx r;
	struct wire_session s;
	const struct wire_datagrams *dg;
	struct wire_event ev;
	uint32_t id;
	uint8_t type = 0;

	wire_limits_default(&l);
	wire_retx_default(&r);
	wire_session_init(&s, &l, &r, 0xaa, 0xbb, true);
	for (unsigned i = 0; i < WIRE_PENDING_MAX; i++) {
		CHECK_OK(wire_request(&s, WIRE_KEEPALIVE, NULL, 0, i * 10, &dg,
				      &id));
		CHECK_EQ_U64(id, i);
	}
	CHECK_RC(wire_request(&s, WIRE_KEEPALIVE, NULL, 0, 0, &dg, &id),
		 WIRE_ERR_BUSY);
	/* a response from the peer (the responder: no INITIATOR flag) */
	{
		struct wire_header h = { .type = WIRE_KEEPALIVE,
			.flags = WIRE_F_RESPONSE, .frag_count = 1,
			.isid = 0xaa, .rsid = 0xbb, .msg_id = 2 };

		h.flags |= WIRE_F_INITIATOR; /* our own direction: no */
		CHECK_EQ_U64(wire_response_match(&s, &h, &type), 0);
		h.flags = WIRE_F_RESPONSE;
		CHECK_EQ_U64(wire_response_match(&s, &h, &type), 1);
		CHECK_EQ_U64(type, WIRE_KEEPALIVE);
		/* a late duplicate response matches nothing */
		CHECK_EQ_U64(wire_response_match(&s, &h, &type), 0);
		h.flags = 0; /* a request is not a response */
		h.msg_id = 1;
		CHECK_EQ_U64(wire_response_match(&s, &h, &type), 0);
	}
	/* the earliest deadline first: ids 0, 1, 3 at 500, 510, 530 */
	CHECK_EQ_U64(wire_next_timeout(&s, 0), 500);
	CHECK_EQ_U64(wire_poll(&s, 600, &ev), 1);
	CHECK_EQ_U64(ev.msg_id, 0);
	CHECK_EQ_U64(wire_poll(&s, 600, &ev), 1);
	CHECK_EQ_U64(ev.msg_id, 1);
	CHECK_EQ_U64(wire_poll(&s, 600, &ev), 1);
	CHECK_EQ_U64(ev.msg_id, 3);
	CHECK_EQ_U64(wire_poll(&s, 600, &ev), 0);
	wire_request_cancel(&s, 3);
	CHECK_OK(wire_request(&s, WIRE_COMMIT, NULL, 0, 0, &dg, &id));
	CHECK_EQ_U64(id, 4);
	wire_session_free(&s);

	/* message ids exhausted at 2^32 */
	wire_session_init(&s, &l, &r, 0xaa, 0xbb, true);
	s.next_id = UINT32_MAX;
	CHECK_OK(wire_request(&s, WIRE_COMMIT, NULL, 0, 0, &dg, &id));
	CHECK_EQ_U64(id, UINT32_MAX);
	CHECK_RC(wire_request(&s, WIRE_COMMIT, NULL, 0, 0, &dg, &id),
		 WIRE_ERR_EXHAUSTED);
	wire_session_free(&s);
}

/* A peer's request as the reassembler hands it over. */
static struct wire_message peer_request(uint32_t id, const uint8_t *p,
					size_t n)
{
	struct wire_message m = {
		.hdr = { .type = WIRE_COMMIT, .flags = WIRE_F_INITIATOR,
			 .frag_count = 1, .isid = 0xaa, .rsid = 0xbb,
			 .msg_id = id, .total_len = (uint32_t)n },
		.data = p, .len = n,
	};
	return m;
}

static void test_duplicates(void)
{
	struct wire_limits l;
	struct wire_retx r;
	struct wire_session s;
	const struct wire_datagrams *cached, *out;
	uint8_t req[2000], other[2000], resp[1500];
	struct wire_message m;
	size_t n;

	wire_limits_default(&l);
	wire_retx_default(&r);
	/* the responder's session */
	wire_session_init(&s, &l, &r, 0xaa, 0xbb, false);
	fill(req, sizeof(req), 7);
	memcpy(other, req, sizeof(other));
	other[1999] ^= 1;
	fill(resp, sizeof(resp), 8);
	m = peer_request(0, req, sizeof(req));
	CHECK_EQ_U64(wire_request_check(&s, &m, &cached), WIRE_RX_NEW);
	/* checking changes nothing: still new */
	CHECK_EQ_U64(wire_request_check(&s, &m, &cached), WIRE_RX_NEW);
	CHECK_OK(wire_respond(&s, &m, WIRE_EPOCH_ACK, resp, sizeof(resp),
			      &out));
	CHECK_EQ_U64(out->count, 2);
	{
		struct wire_header h;
		const uint8_t *fr;
		size_t fl;
		const uint8_t *d = wire_datagram(out, 0, &n);

		CHECK_OK(wire_decode(d, n, &h, &fr, &fl));
		CHECK_EQ_U64(h.type, WIRE_EPOCH_ACK);
		CHECK_EQ_U64(h.flags, WIRE_F_RESPONSE);
		CHECK_EQ_U64(h.msg_id, 0);
		CHECK_EQ_U64(h.isid, 0xaa);
		CHECK_EQ_U64(h.rsid, 0xbb);
	}
	/* the same request again: the same response, same bytes */
	CHECK_EQ_U64(wire_request_check(&s, &m, &cached), WIRE_RX_DUPLICATE);
	CHECK(cached == out);
	/* same id, other content: not answered again */
	m = peer_request(0, other, sizeof(other));
	CHECK_EQ_U64(wire_request_check(&s, &m, &cached), WIRE_RX_OLD);
	CHECK(cached == NULL);
	/* our own direction, or a response: not a peer request */
	m = peer_request(0, req, sizeof(req));
	m.hdr.flags = 0;
	CHECK_RC(wire_request_check(&s, &m, &cached), EPOCH_ERR_INVALID_ARG);
	m.hdr.flags = WIRE_F_INITIATOR | WIRE_F_RESPONSE;
	CHECK_RC(wire_request_check(&s, &m, &cached), EPOCH_ERR_INVALID_ARG);
	wire_session_free(&s);
}

static void test_window(void)
{
	struct wire_limits l;
	struct wire_retx r;
	struct wire_session s;
	const struct wire_datagrams *cached, *out;
	uint8_t req[1] = { 0 };
	struct wire_message m;

	wire_limits_default(&l);
	wire_retx_default(&r);
	wire_session_init(&s, &l, &r, 0xaa, 0xbb, false);
	/* out of order: 10 then 8; both new */
	m = peer_request(10, req, 1);
	CHECK_OK(wire_respond(&s, &m, WIRE_KEEPALIVE, NULL, 0, &out));
	m = peer_request(8, req, 1);
	CHECK_EQ_U64(wire_request_check(&s, &m, &cached), WIRE_RX_NEW);
	CHECK_OK(wire_respond(&s, &m, WIRE_KEEPALIVE, NULL, 0, &out));
	CHECK_EQ_U64(wire_request_check(&s, &m, &cached), WIRE_RX_DUPLICATE);
	m = peer_request(9, req, 1);
	CHECK_EQ_U64(wire_request_check(&s, &m, &cached), WIRE_RX_NEW);
	/* answer 11..73: top 73, window 10..73 */
	for (uint32_t id = 11; id <= 73; id++) {
		m = peer_request(id, req, 1);
		CHECK_OK(wire_respond(&s, &m, WIRE_KEEPALIVE, NULL, 0, &out));
	}
	CHECK_EQ_U64(s.rx_top, 73);
	m = peer_request(9, req, 1); /* never answered, left the window */
	CHECK_EQ_U64(wire_request_check(&s, &m, &cached), WIRE_RX_OLD);
	m = peer_request(8, req, 1);
	CHECK_EQ_U64(wire_request_check(&s, &m, &cached), WIRE_RX_OLD);
	m = peer_request(10, req, 1); /* in the window, answered, evicted */
	CHECK_EQ_U64(wire_request_check(&s, &m, &cached), WIRE_RX_OLD);
	m = peer_request(65, req, 1); /* the oldest of 8 cached: 66..73 */
	CHECK_EQ_U64(wire_request_check(&s, &m, &cached), WIRE_RX_OLD);
	m = peer_request(66, req, 1);
	CHECK_EQ_U64(wire_request_check(&s, &m, &cached), WIRE_RX_DUPLICATE);
	m = peer_request(74, req, 1);
	CHECK_EQ_U64(wire_request_check(&s, &m, &cached), WIRE_RX_NEW);
	/* a jump beyond the window clears it */
	m = peer_request(1000, req, 1);
	CHECK_OK(wire_respond(&s, &m, WIRE_KEEPALIVE, NULL, 0, &out));
	m = peer_request(937, req, 1);
	CHECK_EQ_U64(wire_request_check(&s, &m, &cached), WIRE_RX_NEW);
	m = peer_request(936, req, 1);
	CHECK_EQ_U64(wire_request_check(&s, &m, &cached), WIRE_RX_OLD);
	wire_session_free(&s);
}

/* A deterministic RNG that returns zero bytes first. */
static int zero_then_fill(void *ctx, uint8_t *out, size_t n)
{
	unsigned *calls = ctx;

	for (size_t i = 0; i < n; i++)
		out[i] = *calls == 0 ? 0 : (uint8_t)(0x10 + i);
	(*calls)++;
	return EPOCH_OK;
}

/* HELLO -> WELCOME -> COMMIT -> EPOCH_ACK through both sessions and a
 * reassembler each, HELLO lost once and retransmitted. */
static void test_handshake_flow(void)
{
	struct wire_limits l;
	struct wire_retx r;
	struct wire_session si, sr;
	struct wire_reasm ri, rr;
	const struct wire_datagrams *dg, *cached;
	struct wire_message m;
	struct wire_event ev;
	unsigned calls = 0;
	struct crypto_rng rng = { zero_then_fill, &calls };
	uint64_t isid, rsid;
	uint8_t kp[2695], welcome[4403], commit[4080], ack[300], type;
	uint32_t id;
	int got;

	CHECK_OK(wire_session_id(&rng, &isid));
	CHECK_EQ_U64(calls, 2); /* the all-zero id was drawn again */
	CHECK_EQ_U64(isid, 0x1011121314151617ULL);
	rsid = 0x7777;
	wire_limits_default(&l);
	wire_retx_default(&r);
	fill(kp, sizeof(kp), 1);
	fill(welcome, sizeof(welcome), 2);
	fill(commit, sizeof(commit), 3);
	fill(ack, sizeof(ack), 4);
	CHECK_OK(wire_reasm_init(&ri, &l));
	CHECK_OK(wire_reasm_init(&rr, &l));
	wire_session_init(&si, &l, &r, isid, 0, true);

	CHECK_OK(wire_request(&si, WIRE_HELLO, kp, sizeof(kp), 0, &dg, &id));
	CHECK_EQ_U64(dg->count, 3);
	/* the first copy's fragment 1 is lost */
	CHECK_EQ_U64(feed(&rr, dg, 0, 0, &m), 0);
	CHECK_EQ_U64(feed(&rr, dg, 2, 0, &m), 0);
	CHECK_EQ_U64(wire_poll(&si, 500, &ev), 1);
	CHECK_EQ_U64(ev.kind, WIRE_EV_RETRANSMIT);
	/* the retransmitted fragment 1 completes the message; its fragment
	 * 2, late, starts a new reassembly that expires unless the whole
	 * HELLO comes again */
	CHECK_EQ_U64(feed(&rr, ev.dg, 0, 500, &m), 0);
	CHECK_EQ_U64(feed(&rr, ev.dg, 1, 500, &m), 1);
	CHECK_EQ_U64(rr.active, 0);
	{
		struct wire_message late;

		CHECK_EQ_U64(feed(&rr, ev.dg, 2, 500, &late), 0);
		CHECK_EQ_U64(rr.active, 1);
		CHECK_EQ_U64(wire_reasm_expire(&rr, 10500), 1);
	}
	CHECK_EQ_U64(m.len, sizeof(kp));
	CHECK(memcmp(m.data, kp, sizeof(kp)) == 0);
	CHECK_EQ_U64(m.hdr.rsid, 0);
	/* the responder creates its session from the HELLO */
	wire_session_init(&sr, &l, &r, m.hdr.isid, rsid, false);
	CHECK_EQ_U64(wire_request_check(&sr, &m, &cached), WIRE_RX_NEW);
	CHECK_OK(wire_respond(&sr, &m, WIRE_WELCOME, welcome,
			      sizeof(welcome), &dg));
	wire_message_free(&m);
	CHECK_EQ_U64(dg->count, 4);
	got = 0;
	for (size_t i = 0; i < dg->count; i++)
		if (feed(&ri, dg, i, 510, &m) == 1)
			got++;
	CHECK_EQ_U64(got, 1);
	CHECK_EQ_U64(m.hdr.type, WIRE_WELCOME);
	CHECK_EQ_U64(m.hdr.rsid, rsid);
	CHECK_EQ_U64(wire_response_match(&si, &m.hdr, &type), 1);
	CHECK_EQ_U64(type, WIRE_HELLO);
	wire_session_set_rsid(&si, m.hdr.rsid);
	wire_message_free(&m);
	CHECK_EQ_U64(wire_next_timeout(&si, 510), WIRE_NO_TIMEOUT);

	CHECK_OK(wire_request(&si, WIRE_COMMIT, commit, sizeof(commit), 520,
			      &dg, &id));
	CHECK_EQ_U64(id, 1);
	got = 0;
	for (size_t i = 0; i < dg->count; i++)
		if (feed(&rr, dg, i, 530, &m) == 1)
			got++;
	CHECK_EQ_U64(got, 1);
	CHECK_EQ_U64(wire_request_check(&sr, &m, &cached), WIRE_RX_NEW);
	CHECK_OK(wire_respond(&sr, &m, WIRE_EPOCH_ACK, ack, sizeof(ack),
			      &dg));
	/* the COMMIT again (the ACK lost): the same ACK */
	CHECK_EQ_U64(wire_request_check(&sr, &m, &cached), WIRE_RX_DUPLICATE);
	CHECK(cached == dg);
	wire_message_free(&m);
	CHECK_EQ_U64(feed(&ri, dg, 0, 540, &m), 1);
	CHECK_EQ_U64(m.hdr.type, WIRE_EPOCH_ACK);
	CHECK_EQ_U64(wire_response_match(&si, &m.hdr, &type), 1);
	CHECK_EQ_U64(type, WIRE_COMMIT);
	CHECK_EQ_U64(ri.mem_used + rr.mem_used, 0);

	wire_session_free(&si);
	wire_session_free(&sr);
	wire_reasm_free(&ri);
	wire_reasm_free(&rr);
}

int main(int argc, char **argv)
{
	(void)argc;
	test_run("header_example", test_header_example);
	test_run("header_types", test_header_types);
	test_run("header_refusals", test_header_refusals);
	test_run("fragment_sizes", test_fragment_sizes);
	test_run("shuffled_duplicated", test_shuffled_duplicated);
	test_run("limits", test_limits);
	test_run("feed_refusals", test_feed_refusals);
	test_run("timeout", test_timeout);
	test_run("has_count", test_has_count);
	test_run("inconsistent", test_inconsistent);
	test_run("retransmit_schedule", test_retransmit_schedule);
	test_run("pending_and_match", test_pending_and_match);
	test_run("duplicates", test_duplicates);
	test_run("window", test_window);
	test_run("handshake_flow", test_handshake_flow);
	return test_main_end(argv[0]);
}
