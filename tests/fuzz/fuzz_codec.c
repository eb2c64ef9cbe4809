/* Fuzz target for proto/codec: the input chooses a sequence of reader
 * operations and supplies the bytes they read.
 *
 * Input layout: byte 0 gives the number of operation bytes k (1..32), the
 * next k bytes are operations, everything after them is the payload the
 * readers work on. Each operation byte selects a function (op % OP_COUNT)
 * and an argument (op / OP_COUNT: a length or a maximum from a table).
 *
 * Invariants, checked after every operation:
 *  - no reader position ever passes its length; a failed read leaves the
 *    position and the output unchanged;
 *  - every integer and varint result equals an independent reference
 *    decoder's (RFC 9420 §2.1 big-endian, §2.1.2 varints with the
 *    minimal-encoding rule and the invalid 0b11 prefix), error code too;
 *  - anything read re-encodes to exactly the bytes it was read from, and
 *    reading that encoding gives the same value back (so an accepted varint
 *    is canonical);
 *  - borrowed slices and sub-readers lie inside the parent's bytes;
 *  - the re-encodings of everything read at the top level, written to one
 *    growing writer (sub-vectors through codec_vec_begin/end), reproduce the
 *    consumed payload byte for byte;
 *  - any 32-bit value read is also written as a varint: accepted exactly up
 *    to 2^30-1, with the minimal size, and read back unchanged.
 */
#include <string.h>

#include "proto/codec.h"
#include "tests/fuzz/fuzz.h"

enum {
	OP_U8, OP_U16, OP_U24, OP_U32, OP_U64, OP_VARINT, OP_BYTES, OP_FIXED,
	OP_VEC, OP_VEC_EXACT, OP_SUB, OP_LEAVE, OP_OPTIONAL, OP_DONE,
	OP_COUNT
};

/* Lengths and maxima around the varint size boundaries. */
static const size_t args[] = {
	0, 1, 2, 3, 4, 7, 8, 16, 31, 32, 63, 64, 65, 100, 16383, 16384,
	(size_t)CODEC_VARINT_MAX, SIZE_MAX,
};
#define ARGS_N (sizeof(args) / sizeof(args[0]))

#define DEPTH 8

/* Reference decoders, written from the RFC, not from codec.c. */
static int ref_be(const uint8_t *p, size_t avail, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (avail < n)
		return EPOCH_ERR_TRUNCATED;
	for (size_t i = 0; i < n; i++)
		x = (x << 8) | p[i];
	*v = x;
	return EPOCH_OK;
}

static int ref_varint(const uint8_t *p, size_t avail, uint32_t *v,
		      size_t *used)
{
	size_t n;
	uint64_t x;

	if (avail < 1)
		return EPOCH_ERR_TRUNCATED;
	if ((p[0] & 0xc0) == 0xc0)
		return EPOCH_ERR_VARINT;
	n = (size_t)1 << (p[0] >> 6);
	if (ref_be(p, avail, n, &x) != EPOCH_OK)
		return EPOCH_ERR_TRUNCATED;
	x &= (1ULL << (8 * n - 2)) - 1;
	if ((n == 2 && x < 64) || (n == 4 && x < 16384))
		return EPOCH_ERR_VARINT;
	*v = (uint32_t)x;
	*used = n;
	return EPOCH_OK;
}

/* A varint round trip of an arbitrary 32-bit value. */
static void check_varint_write(uint32_t v)
{
	uint8_t buf[4];
	struct codec_writer w;
	struct codec_reader r;
	uint32_t back;
	size_t want = v < 64 ? 1 : v < 16384 ? 2 : v <= 0x3fffffff ? 4 : 0;

	FUZZ_REQUIRE(codec_varint_size(v) == want);
	codec_writer_init(&w, buf, sizeof(buf));
	if (want == 0) {
		FUZZ_REQUIRE(codec_write_varint(&w, v) == EPOCH_ERR_TOO_LONG);
		FUZZ_REQUIRE(w.len == 0);
		FUZZ_REQUIRE(codec_writer_error(&w) == EPOCH_ERR_TOO_LONG);
		return;
	}
	FUZZ_REQUIRE(codec_write_varint(&w, v) == EPOCH_OK);
	FUZZ_REQUIRE(w.len == want);
	codec_reader_init(&r, buf, w.len);
	FUZZ_REQUIRE(codec_read_varint(&r, &back) == EPOCH_OK);
	FUZZ_REQUIRE(back == v && codec_reader_done(&r) == EPOCH_OK);
}

/* The bytes consumed by a successful read must equal enc[0..n). */
static void check_span(const struct codec_reader *r, size_t before,
		       const uint8_t *enc, size_t n)
{
	FUZZ_REQUIRE(r->pos - before == n);
	FUZZ_REQUIRE(n == 0 || memcmp(r->buf + before, enc, n) == 0);
}

static int inside(const struct codec_reader *r, const uint8_t *p, size_t n)
{
	if (n == 0)
		return 1;
	return p >= r->buf && n <= r->len &&
	       (size_t)(p - r->buf) <= r->len - n;
}

/* Runs one operation on r; appends the re-encoding of what it read to
 * mirror (when mirror is not NULL). Returns the sub-reader to enter (via
 * *sub) for OP_SUB. */
static int run_op(struct codec_reader *r, unsigned op, size_t arg,
		  struct codec_writer *mirror, struct codec_reader *sub)
{
	size_t before = r->pos, avail = r->len - r->pos;
	const uint8_t *p = r->buf != NULL ? r->buf + r->pos : NULL;
	uint8_t enc[16];
	struct codec_writer w;
	uint64_t ref = 0;
	int rc = EPOCH_OK, want;

	codec_writer_init(&w, enc, sizeof(enc));
	switch (op) {
	case OP_U8: case OP_U16: case OP_U24: case OP_U32: case OP_U64: {
		static const size_t width[] = { 1, 2, 3, 4, 8 };
		size_t n = width[op - OP_U8];
		uint8_t v8 = 0xa5;
		uint16_t v16 = 0xa5a5;
		uint32_t v32 = 0xa5a5a5a5;
		uint64_t v64 = 0xa5a5a5a5a5a5a5a5ULL, got = 0;

		switch (op) {
		case OP_U8: rc = codec_read_u8(r, &v8); got = v8; break;
		case OP_U16: rc = codec_read_u16(r, &v16); got = v16; break;
		case OP_U24: rc = codec_read_u24(r, &v32); got = v32; break;
		case OP_U32: rc = codec_read_u32(r, &v32); got = v32; break;
		default: rc = codec_read_u64(r, &v64); got = v64; break;
		}
		want = ref_be(p, avail, n, &ref);
		FUZZ_REQUIRE(rc == want);
		if (rc != EPOCH_OK) {
			FUZZ_REQUIRE(v8 == 0xa5 && v16 == 0xa5a5 &&
				     v32 == 0xa5a5a5a5 &&
				     v64 == 0xa5a5a5a5a5a5a5a5ULL);
			break;
		}
		FUZZ_REQUIRE(got == ref);
		switch (op) {
		case OP_U8: codec_write_u8(&w, v8); break;
		case OP_U16: codec_write_u16(&w, v16); break;
		case OP_U24: codec_write_u24(&w, v32); break;
		case OP_U32: codec_write_u32(&w, v32); break;
		default: codec_write_u64(&w, v64); break;
		}
		FUZZ_REQUIRE(codec_writer_error(&w) == EPOCH_OK);
		check_span(r, before, enc, w.len);
		if (op == OP_U32)
			check_varint_write(v32);
		if (op == OP_U64) {
			check_varint_write((uint32_t)v64);
			check_varint_write((uint32_t)(v64 >> 32));
		}
		break;
	}
	case OP_VARINT: {
		uint32_t v = 0x5a5a5a5a, rv = 0, back;
		size_t used = 0;
		struct codec_reader rr;

		rc = codec_read_varint(r, &v);
		want = ref_varint(p, avail, &rv, &used);
		FUZZ_REQUIRE(rc == want);
		if (rc != EPOCH_OK) {
			FUZZ_REQUIRE(v == 0x5a5a5a5a);
			break;
		}
		FUZZ_REQUIRE(v == rv && v <= CODEC_VARINT_MAX);
		FUZZ_REQUIRE(codec_varint_size(v) == used);
		FUZZ_REQUIRE(codec_write_varint(&w, v) == EPOCH_OK);
		check_span(r, before, enc, w.len); /* canonical */
		codec_reader_init(&rr, enc, w.len);
		FUZZ_REQUIRE(codec_read_varint(&rr, &back) == EPOCH_OK &&
			     back == v);
		break;
	}
	case OP_BYTES: case OP_FIXED: {
		uint8_t out[128];
		struct codec_slice s = { NULL, 12345 };
		size_t n = arg < sizeof(out) ? arg : arg % sizeof(out);

		if (op == OP_BYTES) {
			memset(out, 0xa5, sizeof(out));
			rc = codec_read_bytes(r, out, n);
		} else {
			rc = codec_read_fixed(r, &s, n);
		}
		FUZZ_REQUIRE(rc == (n <= avail ? EPOCH_OK : EPOCH_ERR_TRUNCATED));
		if (rc != EPOCH_OK) {
			FUZZ_REQUIRE(s.len == 12345);
			break;
		}
		if (op == OP_FIXED) {
			FUZZ_REQUIRE(s.len == n && inside(r, s.p, n));
			FUZZ_REQUIRE(n == 0 || s.p == p);
		}
		check_span(r, before, op == OP_BYTES ? out : s.p, n);
		if (mirror != NULL)
			codec_write_bytes(mirror, r->buf + before, n);
		return EPOCH_OK;
	}
	case OP_VEC: case OP_VEC_EXACT: case OP_SUB: {
		struct codec_slice s = { NULL, 12345 };
		struct codec_reader tmp = { NULL, 0, 0 };
		uint32_t len = 0;
		size_t used = 0;

		if (op == OP_VEC)
			rc = codec_read_vec(r, &s, arg);
		else if (op == OP_VEC_EXACT)
			rc = codec_read_vec_exact(r, &s, arg);
		else
			rc = codec_read_sub(r, &tmp, arg);
		/* reference: the prefix, then the limit, then the body */
		want = ref_varint(p, avail, &len, &used);
		if (want == EPOCH_OK) {
			if (op == OP_VEC_EXACT && len != arg)
				want = EPOCH_ERR_MALFORMED;
			else if (op != OP_VEC_EXACT && len > arg)
				want = EPOCH_ERR_TOO_LONG;
			else if (len > avail - used)
				want = EPOCH_ERR_TRUNCATED;
		}
		FUZZ_REQUIRE(rc == want);
		if (rc != EPOCH_OK) {
			FUZZ_REQUIRE(s.len == 12345);
			break;
		}
		if (op == OP_SUB) {
			FUZZ_REQUIRE(tmp.pos == 0 && tmp.len == len);
			s.p = tmp.buf;
			s.len = tmp.len;
			*sub = tmp;
		}
		FUZZ_REQUIRE(s.len == len && inside(r, s.p, s.len));
		FUZZ_REQUIRE(s.len == 0 || s.p == p + used);
		/* re-encode: header then body */
		{
			struct codec_writer big;
			struct codec_reader rr;
			struct codec_slice back;

			codec_writer_init_dynamic(&big, used + s.len);
			FUZZ_REQUIRE(codec_write_vec(&big, s.p, s.len) ==
				     EPOCH_OK);
			check_span(r, before, big.buf, big.len);
			codec_reader_init(&rr, big.buf, big.len);
			FUZZ_REQUIRE(codec_read_vec(&rr, &back, s.len) ==
				     EPOCH_OK);
			FUZZ_REQUIRE(back.len == s.len &&
				     (s.len == 0 ||
				      memcmp(back.p, s.p, s.len) == 0));
			codec_writer_free(&big);
		}
		if (mirror != NULL) {
			/* the sub-vector form: contents, then the prefix */
			size_t mark = codec_vec_begin(mirror);

			codec_write_bytes(mirror, s.p, s.len);
			codec_vec_end(mirror, mark);
		}
		return EPOCH_OK;
	}
	case OP_OPTIONAL: {
		bool present = true;

		rc = codec_read_optional(r, &present);
		want = avail < 1 ? EPOCH_ERR_TRUNCATED
		       : p[0] > 1 ? EPOCH_ERR_MALFORMED : EPOCH_OK;
		FUZZ_REQUIRE(rc == want);
		if (rc != EPOCH_OK) {
			FUZZ_REQUIRE(present);
			break;
		}
		FUZZ_REQUIRE(present == (p[0] == 1));
		codec_write_optional(&w, present);
		check_span(r, before, enc, w.len);
		break;
	}
	case OP_DONE:
		rc = codec_reader_done(r);
		FUZZ_REQUIRE(rc == (avail == 0 ? EPOCH_OK : EPOCH_ERR_TRAILING));
		FUZZ_REQUIRE(codec_remaining(r) == avail);
		return rc;
	}
	if (rc != EPOCH_OK) {
		FUZZ_REQUIRE(r->pos == before);
		return rc;
	}
	if (mirror != NULL && w.len != 0)
		codec_write_bytes(mirror, enc, w.len);
	return EPOCH_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct codec_reader stack[DEPTH];
	struct codec_writer mirror;
	const uint8_t *ops;
	size_t nops;
	int depth = 0;

	if (size == 0)
		return 0;
	nops = (size_t)(data[0] % 32) + 1;
	if (nops > size - 1)
		nops = size - 1;
	ops = data + 1;
	codec_reader_init(&stack[0], data + 1 + nops, size - 1 - nops);
	codec_writer_init_dynamic(&mirror, size);

	for (size_t i = 0; i < nops; i++) {
		unsigned op = ops[i] % OP_COUNT;
		size_t arg = args[(ops[i] / OP_COUNT) % ARGS_N];
		struct codec_reader *r = &stack[depth], sub;
		size_t pos = r->pos;
		int rc;

		if (op == OP_LEAVE) {
			if (depth > 0)
				depth--;
			continue;
		}
		rc = run_op(r, op, arg, depth == 0 ? &mirror : NULL, &sub);
		FUZZ_REQUIRE(r->pos <= r->len);
		if (rc != EPOCH_OK)
			FUZZ_REQUIRE(r->pos == pos);
		if (op == OP_SUB && rc == EPOCH_OK && depth + 1 < DEPTH)
			stack[++depth] = sub;
	}
	for (int d = 0; d <= depth; d++)
		FUZZ_REQUIRE(stack[d].pos <= stack[d].len);

	/* the top level's re-encodings reproduce what it consumed */
	FUZZ_REQUIRE(codec_writer_error(&mirror) == EPOCH_OK);
	FUZZ_REQUIRE(mirror.len == stack[0].pos);
	FUZZ_REQUIRE(mirror.len == 0 ||
		     memcmp(mirror.buf, stack[0].buf, mirror.len) == 0);
	FUZZ_REQUIRE(mirror.cap <= size);
	codec_writer_free(&mirror);
	return 0;
}
