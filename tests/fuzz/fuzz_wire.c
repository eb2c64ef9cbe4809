/* Fuzz target for daemon/wire: datagram decoding and reassembly.
 *
 * Byte 0 picks the mode (bit 0) and the reassembler's limits (bits 1-7:
 * small caps so the limits are reached). Then:
 *
 *  mode 0, datagrams: records of [u16 big-endian length][bytes][u8 time
 *  step], each decoded with wire_decode and, when accepted, fed to one
 *  reassembler at a clock advanced by step * 100 ms.
 *  mode 1, round trip: [u16 length][u8 mtu selector][u8 order seed] and
 *  the payload pattern (the rest, repeated to the length): the message is
 *  fragmented, its datagrams fed in a seeded order with duplicates and
 *  interleaved with the mode-0 style datagrams from the same bytes.
 *
 * Invariants:
 *  - nothing crashes; a refused datagram changes no output;
 *  - an accepted header re-encodes to exactly its 32 bytes, the fragment
 *    is the rest of the datagram, index < count, total_len <= 64 KiB;
 *  - the reassembler never holds more than max_memory bytes or more than
 *    max_reassemblies messages, and mem_used is 0 after everything expired;
 *  - a completed message has total_len bytes within max_message;
 *  - round trip: the message completes exactly when its last missing
 *    fragment arrives and equals the fragmented payload byte for byte.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/wire.h"
#include "tests/fuzz/fuzz.h"

static const uint8_t ROUND_TRIP_ISID[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static void limits_from(uint8_t b, struct wire_limits *l)
{
	static const size_t mem[4] = { 2000, 7000, 65536, 1024 * 1024 };
	static const unsigned frags[4] = { 2, 6, 64, 255 };

	wire_limits_default(l);
	l->max_memory = mem[(b >> 1) & 3];
	l->max_fragments = frags[(b >> 3) & 3];
	l->max_reassemblies = 1 + ((b >> 5) & 3);
	l->max_message = (b & 0x80) ? 5000 : WIRE_MESSAGE_MAX;
	l->reassembly_timeout_ms = 1000;
}

static void check_invariants(const struct wire_reasm *ra)
{
	FUZZ_REQUIRE(ra->mem_used <= ra->lim.max_memory);
	FUZZ_REQUIRE(ra->active <= ra->lim.max_reassemblies);
}

/* Decodes and feeds one datagram; returns the feed result or the decode
 * error. A completed message is checked and freed. */
static int one_datagram(struct wire_reasm *ra, const uint8_t *d, size_t n,
			uint64_t now, struct wire_message *keep)
{
	struct wire_header h;
	const uint8_t *frag = NULL;
	size_t flen = 12345;
	struct wire_message m;
	uint8_t enc[WIRE_HEADER_LEN];
	int rc = wire_decode(d, n, &h, &frag, &flen);

	if (rc != EPOCH_OK) {
		FUZZ_REQUIRE(rc < 0 && frag == NULL && flen == 12345);
		return rc;
	}
	FUZZ_REQUIRE(n >= WIRE_HEADER_LEN);
	FUZZ_REQUIRE(wire_header_encode(&h, enc) == EPOCH_OK);
	FUZZ_REQUIRE(memcmp(enc, d, WIRE_HEADER_LEN) == 0);
	FUZZ_REQUIRE(frag == d + WIRE_HEADER_LEN);
	FUZZ_REQUIRE(flen == n - WIRE_HEADER_LEN);
	FUZZ_REQUIRE(h.frag_index < h.frag_count);
	FUZZ_REQUIRE(h.total_len <= WIRE_MESSAGE_MAX);
	FUZZ_REQUIRE(flen <= h.total_len);
	rc = wire_reasm_feed(ra, &h, frag, flen, now, &m);
	check_invariants(ra);
	if (rc == 1) {
		FUZZ_REQUIRE(m.len == h.total_len);
		FUZZ_REQUIRE(m.len <= ra->lim.max_message);
		FUZZ_REQUIRE(m.hdr.msg_id == h.msg_id &&
			     m.hdr.type == h.type);
		{
			size_t sum = 0; /* touch every byte (ASan) */

			for (size_t i = 0; i < m.len; i++)
				sum += m.data[i];
			FUZZ_REQUIRE(sum <= 255 * m.len);
		}
		if (keep != NULL && keep->data == NULL && m.owned) {
			*keep = m;
			return rc;
		}
		wire_message_free(&m);
	} else {
		FUZZ_REQUIRE(rc <= 0);
	}
	return rc;
}

/* Mode 0: a stream of records. Returns the clock at the end. With
 * interleave, the clock stays and datagrams of the round trip's session
 * are skipped (a forged fragment of an unauthenticated message could
 * legitimately spoil it). */
static uint64_t run_records(struct wire_reasm *ra, const uint8_t *p,
			    size_t n, uint64_t now, bool interleave)
{
	size_t pos = 0;

	while (pos + 2 <= n) {
		size_t len = ((size_t)p[pos] << 8) | p[pos + 1];

		pos += 2;
		if (len > n - pos)
			len = n - pos;
		if (!interleave || len < 16 ||
		    memcmp(p + pos + 8, ROUND_TRIP_ISID, 8) != 0)
			one_datagram(ra, p + pos, len, now, NULL);
		pos += len;
		if (pos < n && !interleave)
			now += (uint64_t)p[pos] * 100;
		pos++;
	}
	return now;
}

static void round_trip(struct wire_reasm *ra, const uint8_t *p, size_t n)
{
	static const size_t mtus[4] = { 1280, 576, 1500, 9000 };
	struct wire_header h = {
		.type = WIRE_WELCOME, .flags = WIRE_F_RESPONSE,
		.isid = 0x0102030405060708ULL, .rsid = 0x1112131415161718ULL,
		.msg_id = 0x01000000, /* unlikely among random records */
	};
	struct wire_limits l;
	struct wire_datagrams dg;
	struct wire_message got = { 0 };
	size_t len, have_n = 0;
	uint8_t *payload, have[WIRE_FRAGMENTS_MAX] = { 0 };
	uint32_t seed;
	int rc;

	if (n < 4)
		return;
	len = (((size_t)p[0] << 8) | p[1]) * 2 % (WIRE_MESSAGE_MAX + 1);
	l = ra->lim;
	l.mtu = mtus[p[2] & 3];
	seed = p[3] | 1u;
	p += 4;
	n -= 4;
	payload = malloc(len + 1);
	FUZZ_REQUIRE(payload != NULL);
	for (size_t i = 0; i < len; i++)
		payload[i] = n > 0 ? (uint8_t)(p[i % n] + i / n) : (uint8_t)i;
	rc = wire_fragment(&l, &h, payload, len, &dg);
	if (rc != EPOCH_OK) {
		FUZZ_REQUIRE(rc == WIRE_ERR_TOO_BIG);
		FUZZ_REQUIRE(len > l.max_message ||
			     (len + wire_fragment_size(l.mtu) - 1) /
			     wire_fragment_size(l.mtu) > l.max_fragments);
		free(payload);
		return;
	}
	/* feed in a seeded order, with duplicates, until complete; the
	 * random records of mode 0 are interleaved */
	for (unsigned step = 0; step < 4 * dg.count + 8 && got.data == NULL;
	     step++) {
		size_t i, dn;
		const uint8_t *d;

		seed = seed * 1103515245u + 12345u;
		i = (seed >> 16) % dg.count;
		d = wire_datagram(&dg, i, &dn);
		FUZZ_REQUIRE(dn <= l.mtu - WIRE_IP_UDP_OVERHEAD);
		rc = one_datagram(ra, d, dn, 0, &got);
		if (!have[i]) {
			have[i] = 1;
			have_n++;
		}
		if (rc == 1) {
			/* one-fragment messages borrow: compare now */
			FUZZ_REQUIRE(have_n == dg.count);
			if (got.data == NULL) {
				FUZZ_REQUIRE(dg.count == 1);
				FUZZ_REQUIRE(len == 0 ||
					     memcmp(d + WIRE_HEADER_LEN,
						    payload, len) == 0);
				break;
			}
		} else if (rc == 0) {
			FUZZ_REQUIRE(have_n < dg.count);
		} else {
			/* refused by a limit of this reassembler */
			FUZZ_REQUIRE(rc == WIRE_ERR_LIMIT ||
				     rc == WIRE_ERR_FRAGMENT ||
				     rc == WIRE_ERR_TOO_BIG);
			break;
		}
		if (step % 3 == 2 && n > 0)
			run_records(ra, p, n < 64 ? n : 64, 0, true);
	}
	if (got.data != NULL) {
		FUZZ_REQUIRE(got.len == len);
		FUZZ_REQUIRE(memcmp(got.data, payload, len) == 0);
		wire_message_free(&got);
	}
	wire_datagrams_free(&dg);
	free(payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_limits l;
	struct wire_reasm ra;
	uint64_t now = 0;

	if (size < 1)
		return 0;
	limits_from(data[0], &l);
	FUZZ_REQUIRE(wire_reasm_init(&ra, &l) == EPOCH_OK);
	if (data[0] & 1)
		round_trip(&ra, data + 1, size - 1);
	else
		now = run_records(&ra, data + 1, size - 1, 0, false);
	check_invariants(&ra);
	wire_reasm_expire(&ra, now + l.reassembly_timeout_ms);
	FUZZ_REQUIRE(ra.active == 0 && ra.mem_used == 0);
	wire_reasm_free(&ra);
	return 0;
}
