/* Fuzz target for daemon/cookie and daemon/dos: the cookie prefix of a
 * HELLO, the COOKIE payload, cookie verification and the load rules on
 * arbitrary first fragments.
 *
 * The input is used three ways:
 *  - as a HELLO payload (cookie_hello_split) and a COOKIE payload
 *    (cookie_payload_parse);
 *  - its cookie, if any, checked by a key drawn from a fixed counter rng
 *    (cookie_check);
 *  - as the first fragment of a HELLO to dos_hello_check, byte 0 of the
 *    input choosing half_open (bit 0) and the source (bits 1-2).
 *
 * Invariants:
 *  - nothing crashes; a split that succeeds points inside the input, its
 *    cookie at most COOKIE_MAX bytes, and re-encodes to the same prefix;
 *  - a COOKIE payload that parses re-encodes to exactly the input;
 *  - no input verifies as a cookie unless it is the one cookie_make gives
 *    for that source (the input is compared with it);
 *  - a COOKIE verdict's reply is a COOKIE datagram that decodes, carries
 *    the HELLO's isid and msg_id, and whose cookie verifies; never longer
 *    than the datagram it answers.
 */
#include <string.h>

#include "daemon/dos.h"
#include "tests/fuzz/fuzz.h"

static int count_fill(void *ctx, uint8_t *out, size_t n)
{
	uint8_t *c = ctx;

	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)((*c)++ * 37 + 11);
	return EPOCH_OK;
}

static const uint8_t SRC[3][16] = {
	{ 192, 0, 2, 1 },
	{ 192, 0, 2, 77 },
	{ 0x20, 0x01, 0x0d, 0xb8, [15] = 5 },
};

static void split_and_payload(const uint8_t *data, size_t size)
{
	const uint8_t *c;
	size_t cl, off;
	uint8_t enc[COOKIE_MAX + 2];

	if (cookie_hello_split(data, size, &c, &cl, &off) == EPOCH_OK) {
		FUZZ_REQUIRE(cl <= COOKIE_MAX);
		FUZZ_REQUIRE(off <= size);
		FUZZ_REQUIRE(cookie_vec_encode(c, cl, enc) == off);
		FUZZ_REQUIRE(memcmp(enc, data, off) == 0);
	}
	if (cookie_payload_parse(data, size, &c, &cl) == EPOCH_OK) {
		FUZZ_REQUIRE(cl >= 1 && cl <= COOKIE_MAX);
		FUZZ_REQUIRE(cookie_vec_encode(c, cl, enc) == size);
		FUZZ_REQUIRE(memcmp(enc, data, size) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crypto_rng rng;
	uint8_t ctr = 0, reply[DOS_COOKIE_DGRAM_LEN], want[COOKIE_LEN];
	struct dos g;
	struct dos_hello in;
	struct wire_header h, rh;
	const uint8_t *c, *f;
	size_t cl, off, rlen, fl;
	unsigned sel;
	uint64_t now = 123456789;
	enum dos_verdict v;

	split_and_payload(data, size);
	if (size < 1)
		return 0;
	rng.fill = count_fill;
	rng.ctx = &ctr;
	sel = (data[0] >> 1) % 3;
	FUZZ_REQUIRE(dos_init(&g, data[0] & 1, 1, 2, &rng, now) == EPOCH_OK);
	memset(&in, 0, sizeof(in));
	memset(&h, 0, sizeof(h));
	h.type = WIRE_HELLO;
	h.flags = WIRE_F_INITIATOR;
	h.frag_count = 2;
	h.isid = 0x0102030405060708ULL;
	h.msg_id = 1;
	h.total_len = (uint32_t)(size + 100);
	in.h = &h;
	in.frag = data + 1;
	in.frag_len = size - 1;
	in.dgram_len = WIRE_HEADER_LEN + size - 1;
	in.addr = SRC[sel];
	in.addr_len = sel == 2 ? 16 : 4;
	in.port = 7450;
	in.half_open = 1;
	/* The cookie in the input verifies only if it is the real one. */
	FUZZ_REQUIRE(cookie_make(&g.key, in.addr, in.addr_len, in.port,
				 h.isid, now, want) == EPOCH_OK);
	if (cookie_hello_split(in.frag, in.frag_len, &c, &cl, &off) ==
		    EPOCH_OK &&
	    cookie_check(&g.key, in.addr, in.addr_len, in.port, h.isid, now,
			 c, cl) == EPOCH_OK)
		FUZZ_REQUIRE(cl == COOKIE_LEN &&
			     memcmp(c, want, COOKIE_LEN) == 0);
	for (int i = 0; i < 4; i++) {
		v = dos_hello_check(&g, &in, now + (uint64_t)i * 300, reply,
				    &rlen);
		FUZZ_REQUIRE(v == DOS_PASS || v == DOS_COOKIE ||
			     v == DOS_DROP);
		if (v != DOS_COOKIE) {
			FUZZ_REQUIRE(rlen == 0);
			continue;
		}
		FUZZ_REQUIRE(rlen == DOS_COOKIE_DGRAM_LEN);
		FUZZ_REQUIRE(rlen <= in.dgram_len);
		FUZZ_REQUIRE(wire_decode(reply, rlen, &rh, &f, &fl) ==
			     EPOCH_OK);
		FUZZ_REQUIRE(rh.type == WIRE_COOKIE && rh.isid == h.isid &&
			     rh.msg_id == h.msg_id && rh.rsid == 0);
		FUZZ_REQUIRE(cookie_payload_parse(f, fl, &c, &cl) ==
			     EPOCH_OK);
		FUZZ_REQUIRE(cookie_check(&g.key, in.addr, in.addr_len,
					  in.port, h.isid, now, c,
					  cl) == EPOCH_OK);
	}
	dos_free(&g);
	return 0;
}
