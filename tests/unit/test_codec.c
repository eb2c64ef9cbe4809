/* proto/codec: every reader and writer function, the RFC 9420 §2.1.2
 * variable-length integer rules, and the mlswg deserialization vectors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "tests/lib/json.h"
#include "tests/lib/test.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A reader over buf, positioned after `skip` bytes, so that "the position
 * did not move" is checked at a non-zero offset. */
static void reader_at(struct codec_reader *r, const uint8_t *buf, size_t len,
		      size_t skip)
{
	codec_reader_init(r, buf, len);
	r->pos = skip;
}

/* ---- reader basics ------------------------------------------------------ */

static void test_reader_basics(void)
{
	static const uint8_t buf[3] = { 1, 2, 3 };
	struct codec_reader r;
	uint8_t b;

	codec_reader_init(&r, buf, sizeof(buf));
	CHECK_EQ_U64(codec_remaining(&r), 3);
	CHECK_RC(codec_reader_done(&r), EPOCH_ERR_TRAILING);
	CHECK_OK(codec_read_u8(&r, &b));
	CHECK_EQ_U64(b, 1);
	CHECK_EQ_U64(codec_remaining(&r), 2);
	CHECK_OK(codec_read_bytes(&r, NULL, 0));
	CHECK_RC(codec_reader_done(&r), EPOCH_ERR_TRAILING);
	CHECK_OK(codec_read_u16(&r, (uint16_t[1]){ 0 }));
	CHECK_EQ_U64(codec_remaining(&r), 0);
	CHECK_OK(codec_reader_done(&r));
	CHECK_RC(codec_read_u8(&r, &b), EPOCH_ERR_TRUNCATED);

	/* a NULL buffer is an empty reader whatever the length says */
	codec_reader_init(&r, NULL, 100);
	CHECK_EQ_U64(codec_remaining(&r), 0);
	CHECK_OK(codec_reader_done(&r));
	CHECK_RC(codec_read_u8(&r, &b), EPOCH_ERR_TRUNCATED);
	codec_reader_init(&r, buf, 0);
	CHECK_OK(codec_reader_done(&r));
}

/* ---- fixed-width integers (RFC 9420 §2.1: network byte order) ----------- */

static void test_integers(void)
{
	static const uint8_t be[8] = { 0x01, 0x23, 0x45, 0x67,
				       0x89, 0xab, 0xcd, 0xef };
	struct codec_reader r;
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	codec_reader_init(&r, be, 8);
	CHECK_OK(codec_read_u8(&r, &v8));
	CHECK_EQ_U64(v8, 0x01);
	codec_reader_init(&r, be, 8);
	CHECK_OK(codec_read_u16(&r, &v16));
	CHECK_EQ_U64(v16, 0x0123);
	codec_reader_init(&r, be, 8);
	CHECK_OK(codec_read_u24(&r, &v32));
	CHECK_EQ_U64(v32, 0x012345);
	CHECK_EQ_U64(r.pos, 3);
	codec_reader_init(&r, be, 8);
	CHECK_OK(codec_read_u32(&r, &v32));
	CHECK_EQ_U64(v32, 0x01234567);
	codec_reader_init(&r, be, 8);
	CHECK_OK(codec_read_u64(&r, &v64));
	CHECK_EQ_U64(v64, 0x0123456789abcdefULL);
	CHECK_OK(codec_reader_done(&r));

	/* the writer produces the same bytes, and the extremes */
	{
		uint8_t out[32];
		struct codec_writer w;
		static const uint8_t want[] = {
			0x01, 0x01, 0x23, 0x01, 0x23, 0x45,
			0x01, 0x23, 0x45, 0x67,
			0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			0x00, 0x00,
		};

		codec_writer_init(&w, out, sizeof(out));
		CHECK_OK(codec_write_u8(&w, 0x01));
		CHECK_OK(codec_write_u16(&w, 0x0123));
		CHECK_OK(codec_write_u24(&w, 0x012345));
		CHECK_OK(codec_write_u32(&w, 0x01234567));
		CHECK_OK(codec_write_u64(&w, 0x0123456789abcdefULL));
		CHECK_OK(codec_write_u8(&w, 0xff));
		CHECK_OK(codec_write_u64(&w, UINT64_MAX));
		CHECK_OK(codec_write_u16(&w, 0));
		CHECK_EQ_U64(w.len, sizeof(want));
		CHECK_MEM(out, want, sizeof(want));
		CHECK_OK(codec_writer_error(&w));
	}
}

/* A u24 holds 24 bits; a larger value is refused, and the error sticks. */
static void test_u24_range(void)
{
	uint8_t out[8];
	struct codec_writer w;

	codec_writer_init(&w, out, sizeof(out));
	CHECK_OK(codec_write_u24(&w, 0xffffff));
	CHECK_RC(codec_write_u24(&w, 0x1000000), EPOCH_ERR_TOO_LONG);
	CHECK_EQ_U64(w.len, 3);
	CHECK_RC(codec_write_u8(&w, 0), EPOCH_ERR_TOO_LONG);
	CHECK_RC(codec_writer_error(&w), EPOCH_ERR_TOO_LONG);
	CHECK_EQ_U64(w.len, 3);
}

/* Every read of an n-byte integer from fewer than n bytes is
 * EPOCH_ERR_TRUNCATED and leaves the reader where it was. */
static void test_integer_truncation(void)
{
	static const size_t widths[] = { 1, 2, 3, 4, 8 };
	uint8_t buf[16];

	memset(buf, 0x5a, sizeof(buf));
	for (size_t wi = 0; wi < ARRAY_LEN(widths); wi++) {
		size_t n = widths[wi];

		for (size_t have = 0; have < n; have++) {
			struct codec_reader r;
			uint8_t v8 = 7;
			uint16_t v16 = 7;
			uint32_t v32 = 7;
			uint64_t v64 = 7;
			int rc = EPOCH_OK;

			reader_at(&r, buf, 2 + have, 2);
			switch (n) {
			case 1: rc = codec_read_u8(&r, &v8); break;
			case 2: rc = codec_read_u16(&r, &v16); break;
			case 3: rc = codec_read_u24(&r, &v32); break;
			case 4: rc = codec_read_u32(&r, &v32); break;
			case 8: rc = codec_read_u64(&r, &v64); break;
			}
			CHECK_RC(rc, EPOCH_ERR_TRUNCATED);
			CHECK_EQ_U64(r.pos, 2);
			/* outputs untouched on error */
			CHECK(v8 == 7 && v16 == 7 && v32 == 7 && v64 == 7);
		}
	}
}

/* ---- variable-length integers (RFC 9420 §2.1.2) ------------------------- */

/* The summary table of §2.1.2: 1, 2, 4 bytes for 6, 14, 30 bits; prefix
 * 00/01/10. Each boundary value with its only valid encoding. */
static const struct {
	uint32_t v;
	size_t n;
	uint8_t enc[4];
} varints[] = {
	{ 0, 1, { 0x00 } },
	{ 37, 1, { 0x25 } }, /* §2.1.2 example: 0x25 decodes to 37 */
	{ 63, 1, { 0x3f } },
	{ 64, 2, { 0x40, 0x40 } },
	{ 15293, 2, { 0x7b, 0xbd } }, /* §2.1.2 example */
	{ 16383, 2, { 0x7f, 0xff } },
	{ 16384, 4, { 0x80, 0x00, 0x40, 0x00 } },
	{ 494878333, 4, { 0x9d, 0x7f, 0x3e, 0x7d } }, /* §2.1.2 example */
	{ 0x3fffffff, 4, { 0xbf, 0xff, 0xff, 0xff } },
};

static void test_varint_boundaries(void)
{
	for (size_t i = 0; i < ARRAY_LEN(varints); i++) {
		uint8_t out[8];
		struct codec_writer w;
		struct codec_reader r;
		uint32_t v = 0;

		CHECK_EQ_U64(codec_varint_size(varints[i].v), varints[i].n);
		codec_writer_init(&w, out, sizeof(out));
		CHECK_OK(codec_write_varint(&w, varints[i].v));
		CHECK_EQ_U64(w.len, varints[i].n);
		CHECK_MEM(out, varints[i].enc, varints[i].n);

		codec_reader_init(&r, varints[i].enc, varints[i].n);
		CHECK_OK(codec_read_varint(&r, &v));
		CHECK_EQ_U64(v, varints[i].v);
		CHECK_OK(codec_reader_done(&r));
	}
	CHECK_EQ_U64(CODEC_VARINT_MAX, 0x3fffffff);
}

/* 2^30 and above cannot be encoded: EPOCH_ERR_TOO_LONG, sticky. */
static void test_varint_too_large(void)
{
	static const uint32_t bad[] = { 0x40000000, 0x7fffffff, 0xffffffff };

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		uint8_t out[8];
		struct codec_writer w;

		CHECK_EQ_U64(codec_varint_size(bad[i]), 0);
		codec_writer_init(&w, out, sizeof(out));
		CHECK_RC(codec_write_varint(&w, bad[i]), EPOCH_ERR_TOO_LONG);
		CHECK_EQ_U64(w.len, 0);
		CHECK_RC(codec_write_varint(&w, 1), EPOCH_ERR_TOO_LONG);
		CHECK_RC(codec_writer_error(&w), EPOCH_ERR_TOO_LONG);
	}
}

/* §2.1.2: "values using more bits than necessary MUST be treated as
 * malformed", and the prefix 11 is invalid. The reader does not move. */
static void test_varint_invalid(void)
{
	static const struct {
		uint8_t b[5];
		size_t n;
	} bad[] = {
		{ { 0x40, 0x00 }, 2 },             /* 0 in two bytes */
		{ { 0x40, 0x01 }, 2 },             /* 1 in two bytes */
		{ { 0x40, 0x25 }, 2 },             /* 37 in two bytes */
		{ { 0x40, 0x3f }, 2 },             /* 63 in two bytes */
		{ { 0x80, 0x00, 0x00, 0x00 }, 4 }, /* 0 in four bytes */
		{ { 0x80, 0x00, 0x00, 0x01 }, 4 }, /* 1 in four bytes */
		{ { 0x80, 0x00, 0x00, 0x3f }, 4 }, /* 63 in four bytes */
		{ { 0x80, 0x00, 0x00, 0x40 }, 4 }, /* 64 in four bytes */
		{ { 0x80, 0x00, 0x3f, 0xff }, 4 }, /* 16383 in four bytes */
		{ { 0xc0 }, 1 },                   /* prefix 11 */
		{ { 0xc0, 0, 0, 0, 0 }, 5 },
		{ { 0xff, 0xff, 0xff, 0xff, 0xff }, 5 },
		{ { 0xd2, 0x34 }, 2 },
	};

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		uint8_t buf[8] = { 0xee };
		struct codec_reader r;
		struct codec_slice s;
		uint32_t v = 12345;

		memcpy(buf + 1, bad[i].b, bad[i].n);
		reader_at(&r, buf, 1 + bad[i].n, 1);
		CHECK_RC(codec_read_varint(&r, &v), EPOCH_ERR_VARINT);
		CHECK_EQ_U64(r.pos, 1);
		CHECK_EQ_U64(v, 12345);
		/* the same through a vector length prefix */
		CHECK_RC(codec_read_vec(&r, &s, 1000), EPOCH_ERR_VARINT);
		CHECK_EQ_U64(r.pos, 1);
	}
}

/* A varint cut short anywhere is EPOCH_ERR_TRUNCATED, reader unmoved. */
static void test_varint_truncation(void)
{
	for (size_t i = 0; i < ARRAY_LEN(varints); i++) {
		for (size_t have = 0; have < varints[i].n; have++) {
			uint8_t buf[8] = { 0xee };
			struct codec_reader r;
			uint32_t v = 12345;

			memcpy(buf + 1, varints[i].enc, have);
			reader_at(&r, buf, 1 + have, 1);
			CHECK_RC(codec_read_varint(&r, &v),
				 EPOCH_ERR_TRUNCATED);
			CHECK_EQ_U64(r.pos, 1);
			CHECK_EQ_U64(v, 12345);
		}
	}
}

/* Every 1- and 2-byte input and a sweep of 4-byte ones: the reader
 * accepts exactly the minimal encodings, and those re-encode to the same
 * bytes. */
static void test_varint_exhaustive(void)
{
	unsigned accepted = 0;

	for (uint32_t x = 0; x < 0x10000; x++) {
		uint8_t b[2] = { (uint8_t)(x >> 8), (uint8_t)x }, out[4];
		struct codec_reader r;
		struct codec_writer w;
		uint32_t v;
		int rc;
		int prefix = b[0] >> 6;

		codec_reader_init(&r, b, 2);
		rc = codec_read_varint(&r, &v);
		if (prefix == 0) {
			CHECK_OK(rc);
			CHECK_EQ_U64(v, b[0]);
			CHECK_EQ_U64(r.pos, 1);
		} else if (prefix == 1) {
			if ((x & 0x3fff) < 64) {
				CHECK_RC(rc, EPOCH_ERR_VARINT);
				continue;
			}
			CHECK_OK(rc);
			CHECK_EQ_U64(v, x & 0x3fff);
			CHECK_EQ_U64(r.pos, 2);
		} else if (prefix == 2) {
			CHECK_RC(rc, EPOCH_ERR_TRUNCATED);
			continue;
		} else {
			CHECK_RC(rc, EPOCH_ERR_VARINT);
			continue;
		}
		if (rc != EPOCH_OK)
			continue;
		accepted++;
		codec_writer_init(&w, out, sizeof(out));
		CHECK_OK(codec_write_varint(&w, v));
		CHECK_EQ_U64(w.len, r.pos);
		CHECK_MEM(out, b, r.pos);
	}
	CHECK_EQ_U64(accepted, 64 * 256 + (16384 - 64));

	for (uint64_t x = 0; x <= 0xffffffffULL; x += 0x10001ULL * 7 + 3) {
		uint8_t b[4] = { (uint8_t)(x >> 24), (uint8_t)(x >> 16),
				 (uint8_t)(x >> 8), (uint8_t)x };
		struct codec_reader r;
		uint32_t v;
		int rc;

		if (b[0] >> 6 != 2)
			continue;
		codec_reader_init(&r, b, 4);
		rc = codec_read_varint(&r, &v);
		if ((x & 0x3fffffff) < 0x4000) {
			CHECK_RC(rc, EPOCH_ERR_VARINT);
		} else {
			CHECK_OK(rc);
			CHECK_EQ_U64(v, x & 0x3fffffff);
		}
	}
}

/* ---- opaque vectors, fixed reads ----------------------------------------- */

static void test_bytes_fixed(void)
{
	static const uint8_t buf[6] = { 9, 1, 2, 3, 4, 5 };
	struct codec_reader r;
	struct codec_slice s;
	uint8_t out[8];

	reader_at(&r, buf, sizeof(buf), 1);
	CHECK_OK(codec_read_bytes(&r, out, 2));
	CHECK_MEM(out, buf + 1, 2);
	CHECK_OK(codec_read_fixed(&r, &s, 3));
	CHECK(s.p == buf + 3);
	CHECK_EQ_U64(s.len, 3);
	CHECK_OK(codec_reader_done(&r));
	CHECK_OK(codec_read_fixed(&r, &s, 0));
	CHECK_EQ_U64(s.len, 0);

	for (size_t n = 1; n <= 6; n++) {
		reader_at(&r, buf, sizeof(buf), 6 - n + 1);
		CHECK_RC(codec_read_bytes(&r, out, n), EPOCH_ERR_TRUNCATED);
		CHECK_EQ_U64(r.pos, 6 - n + 1);
		CHECK_RC(codec_read_fixed(&r, &s, n), EPOCH_ERR_TRUNCATED);
		CHECK_EQ_U64(r.pos, 6 - n + 1);
	}
	/* a huge length must not wrap the bounds check */
	reader_at(&r, buf, sizeof(buf), 1);
	CHECK_RC(codec_read_fixed(&r, &s, SIZE_MAX), EPOCH_ERR_TRUNCATED);
	CHECK_RC(codec_read_bytes(&r, out, SIZE_MAX - 1), EPOCH_ERR_TRUNCATED);
	CHECK_EQ_U64(r.pos, 1);
}

static void test_vec(void)
{
	/* <3> 'a' 'b' 'c' <0> <2> 'x' */
	static const uint8_t buf[] = { 3, 'a', 'b', 'c', 0, 2, 'x' };
	struct codec_reader r;
	struct codec_slice s;

	codec_reader_init(&r, buf, sizeof(buf));
	CHECK_OK(codec_read_vec(&r, &s, 3)); /* length == max is fine */
	CHECK_EQ_U64(s.len, 3);
	CHECK(s.p == buf + 1);
	CHECK_OK(codec_read_vec(&r, &s, 0));
	CHECK_EQ_U64(s.len, 0);
	/* body cut short: truncated, and the length prefix is not consumed */
	CHECK_RC(codec_read_vec(&r, &s, 10), EPOCH_ERR_TRUNCATED);
	CHECK_EQ_U64(r.pos, 5);

	/* over max: EPOCH_ERR_TOO_LONG before looking at the body */
	codec_reader_init(&r, buf, sizeof(buf));
	CHECK_RC(codec_read_vec(&r, &s, 2), EPOCH_ERR_TOO_LONG);
	CHECK_EQ_U64(r.pos, 0);
	{
		/* a 2^30-1 length with no body: too long for max 1000,
		 * truncated for an unlimited max */
		static const uint8_t big[] = { 0xbf, 0xff, 0xff, 0xff, 0 };

		codec_reader_init(&r, big, sizeof(big));
		CHECK_RC(codec_read_vec(&r, &s, 1000), EPOCH_ERR_TOO_LONG);
		CHECK_RC(codec_read_vec(&r, &s, SIZE_MAX), EPOCH_ERR_TRUNCATED);
		CHECK_EQ_U64(r.pos, 0);
	}
	/* an empty input has no length */
	codec_reader_init(&r, buf, 0);
	CHECK_RC(codec_read_vec(&r, &s, 10), EPOCH_ERR_TRUNCATED);
}

/* Truncation at every byte of an encoded vector, for lengths on both sides
 * of the varint size boundaries. */
static void test_vec_truncation(void)
{
	static const size_t lens[] = { 0, 1, 63, 64, 300 };
	static uint8_t buf[2 + 300];

	for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
		struct codec_writer w;
		size_t total;

		codec_writer_init(&w, buf, sizeof(buf));
		for (size_t k = 0; k < lens[i]; k++)
			buf[k] = (uint8_t)k; /* source; overwritten below */
		{
			uint8_t body[300];

			for (size_t k = 0; k < lens[i]; k++)
				body[k] = (uint8_t)(k * 3);
			CHECK_OK(codec_write_vec(&w, body, lens[i]));
		}
		total = w.len;
		CHECK_EQ_U64(total, codec_varint_size((uint32_t)lens[i]) + lens[i]);
		for (size_t have = 0; have < total; have++) {
			struct codec_reader r;
			struct codec_slice s;

			codec_reader_init(&r, buf, have);
			CHECK_RC(codec_read_vec(&r, &s, 1000),
				 EPOCH_ERR_TRUNCATED);
			CHECK_EQ_U64(r.pos, 0);
		}
		{
			struct codec_reader r;
			struct codec_slice s;

			codec_reader_init(&r, buf, total);
			CHECK_OK(codec_read_vec(&r, &s, 1000));
			CHECK_EQ_U64(s.len, lens[i]);
			CHECK_OK(codec_reader_done(&r));
		}
	}
}

/* codec.h: the length must be exactly n; EPOCH_ERR_MALFORMED otherwise. */
static void test_vec_exact(void)
{
	static const uint8_t four[] = { 4, 1, 2, 3, 4 };
	static const uint8_t three[] = { 3, 1, 2, 3 };
	static const uint8_t five[] = { 5, 1, 2, 3, 4, 5 };
	static const uint8_t five_short[] = { 5, 1 };
	static const uint8_t four_short[] = { 4, 1, 2 };
	struct codec_reader r;
	struct codec_slice s;

	codec_reader_init(&r, four, sizeof(four));
	CHECK_OK(codec_read_vec_exact(&r, &s, 4));
	CHECK_EQ_U64(s.len, 4);
	CHECK_OK(codec_reader_done(&r));

	codec_reader_init(&r, three, sizeof(three));
	CHECK_RC(codec_read_vec_exact(&r, &s, 4), EPOCH_ERR_MALFORMED);
	CHECK_EQ_U64(r.pos, 0);
	codec_reader_init(&r, five, sizeof(five));
	CHECK_RC(codec_read_vec_exact(&r, &s, 4), EPOCH_ERR_MALFORMED);
	CHECK_EQ_U64(r.pos, 0);
	/* a wrong length is wrong whether or not its body is there */
	codec_reader_init(&r, five_short, sizeof(five_short));
	CHECK_RC(codec_read_vec_exact(&r, &s, 4), EPOCH_ERR_MALFORMED);
	CHECK_EQ_U64(r.pos, 0);
	/* the right length with the body cut short is truncation */
	codec_reader_init(&r, four_short, sizeof(four_short));
	CHECK_RC(codec_read_vec_exact(&r, &s, 4), EPOCH_ERR_TRUNCATED);
	CHECK_EQ_U64(r.pos, 0);
	codec_reader_init(&r, four, 0);
	CHECK_RC(codec_read_vec_exact(&r, &s, 4), EPOCH_ERR_TRUNCATED);
	/* an invalid length prefix stays a varint error */
	{
		static const uint8_t nonmin[] = { 0x40, 0x04, 1, 2, 3, 4 };

		codec_reader_init(&r, nonmin, sizeof(nonmin));
		CHECK_RC(codec_read_vec_exact(&r, &s, 4), EPOCH_ERR_VARINT);
		CHECK_EQ_U64(r.pos, 0);
	}
	/* zero-length exact vectors */
	{
		static const uint8_t zero[] = { 0 };

		codec_reader_init(&r, zero, 1);
		CHECK_OK(codec_read_vec_exact(&r, &s, 0));
		CHECK_EQ_U64(s.len, 0);
	}
}

static void test_sub_reader(void)
{
	/* struct { uint8 a; opaque v<V>; } items<V>; then a trailing u8 */
	static const uint8_t buf[] = { 7, 1, 2, 'h', 'i', 2, 0, 9, 0x55 };
	struct codec_reader r, sub;
	struct codec_slice s;
	uint8_t a;

	codec_reader_init(&r, buf, sizeof(buf));
	CHECK_OK(codec_read_sub(&r, &sub, 100));
	CHECK_EQ_U64(r.pos, 8); /* the outer reader is past the vector */
	CHECK_EQ_U64(codec_remaining(&sub), 7);
	CHECK_OK(codec_read_u8(&sub, &a));
	CHECK_EQ_U64(a, 1);
	CHECK_OK(codec_read_vec(&sub, &s, 10));
	CHECK_EQ_U64(s.len, 2);
	CHECK_MEM(s.p, "hi", 2);
	CHECK_OK(codec_read_u8(&sub, &a));
	CHECK_EQ_U64(a, 2);
	CHECK_OK(codec_read_vec(&sub, &s, 10));
	CHECK_EQ_U64(s.len, 0);
	/* the sub-reader ends at the vector's end, not the buffer's */
	CHECK_RC(codec_reader_done(&sub), EPOCH_ERR_TRAILING);
	CHECK_OK(codec_read_u8(&sub, &a));
	CHECK_EQ_U64(a, 9);
	CHECK_OK(codec_reader_done(&sub));
	CHECK_RC(codec_read_u8(&sub, &a), EPOCH_ERR_TRUNCATED);
	CHECK_OK(codec_read_u8(&r, &a));
	CHECK_EQ_U64(a, 0x55);
	CHECK_OK(codec_reader_done(&r));

	codec_reader_init(&r, buf, sizeof(buf));
	CHECK_RC(codec_read_sub(&r, &sub, 6), EPOCH_ERR_TOO_LONG);
	CHECK_EQ_U64(r.pos, 0);
	codec_reader_init(&r, buf, 7);
	CHECK_RC(codec_read_sub(&r, &sub, 100), EPOCH_ERR_TRUNCATED);
	CHECK_EQ_U64(r.pos, 0);
}

/* optional<T> (RFC 9420 §2.1.3): a presence octet 0 or 1. */
static void test_optional(void)
{
	static const uint8_t buf[] = { 0, 1, 2, 0xff };
	struct codec_reader r;
	bool present = true;

	codec_reader_init(&r, buf, sizeof(buf));
	CHECK_OK(codec_read_optional(&r, &present));
	CHECK(!present);
	CHECK_OK(codec_read_optional(&r, &present));
	CHECK(present);
	CHECK_RC(codec_read_optional(&r, &present), EPOCH_ERR_MALFORMED);
	CHECK_EQ_U64(r.pos, 2);
	reader_at(&r, buf, sizeof(buf), 3);
	CHECK_RC(codec_read_optional(&r, &present), EPOCH_ERR_MALFORMED);
	CHECK_EQ_U64(r.pos, 3);
	reader_at(&r, buf, sizeof(buf), 4);
	CHECK_RC(codec_read_optional(&r, &present), EPOCH_ERR_TRUNCATED);
	CHECK(present); /* untouched on error */

	{
		uint8_t out[2];
		struct codec_writer w;

		codec_writer_init(&w, out, sizeof(out));
		CHECK_OK(codec_write_optional(&w, true));
		CHECK_OK(codec_write_optional(&w, false));
		CHECK(out[0] == 1 && out[1] == 0);
	}
}

/* ---- writers --------------------------------------------------------------- */

/* A fixed buffer that fills up: EPOCH_ERR_NO_SPACE, nothing partial is
 * written, and every later write fails the same way. */
static void test_fixed_overflow(void)
{
	uint8_t out[5];
	struct codec_writer w;

	memset(out, 0xee, sizeof(out));
	codec_writer_init(&w, out, 4);
	CHECK_OK(codec_write_u16(&w, 0x0102));
	CHECK_RC(codec_write_u24(&w, 0x030405), EPOCH_ERR_NO_SPACE);
	CHECK_EQ_U64(w.len, 2);
	CHECK(out[2] == 0xee); /* no partial write */
	CHECK_RC(codec_write_u8(&w, 3), EPOCH_ERR_NO_SPACE); /* would fit */
	CHECK_RC(codec_write_bytes(&w, out, 0), EPOCH_ERR_NO_SPACE);
	CHECK_RC(codec_write_vec(&w, out, 0), EPOCH_ERR_NO_SPACE);
	CHECK_RC(codec_write_optional(&w, true), EPOCH_ERR_NO_SPACE);
	CHECK_RC(codec_vec_end(&w, codec_vec_begin(&w)), EPOCH_ERR_NO_SPACE);
	CHECK_RC(codec_writer_error(&w), EPOCH_ERR_NO_SPACE);
	CHECK_EQ_U64(w.len, 2);
	CHECK(out[4] == 0xee);

	/* exactly full is fine */
	codec_writer_init(&w, out, 4);
	CHECK_OK(codec_write_u32(&w, 0xdeadbeef));
	CHECK_OK(codec_write_bytes(&w, NULL, 0));
	CHECK_OK(codec_writer_error(&w));
	CHECK_RC(codec_write_u8(&w, 0), EPOCH_ERR_NO_SPACE);

	/* a NULL buffer has no capacity */
	codec_writer_init(&w, NULL, 100);
	CHECK_RC(codec_write_u8(&w, 0), EPOCH_ERR_NO_SPACE);
	/* a huge write must not wrap the bounds check */
	codec_writer_init(&w, out, 4);
	CHECK_OK(codec_write_u8(&w, 0));
	CHECK_RC(codec_write_bytes(&w, out, SIZE_MAX), EPOCH_ERR_NO_SPACE);
	codec_writer_free(&w); /* no-op for a caller buffer */
	CHECK(w.buf == NULL);
}

static void test_dynamic_growth(void)
{
	struct codec_writer w;
	size_t n = 5000;

	codec_writer_init_dynamic(&w, n);
	CHECK_EQ_U64(w.len, 0);
	for (size_t i = 0; i < n; i++)
		if (!CHECK_OK(codec_write_u8(&w, (uint8_t)(i * 13))))
			break;
	CHECK_EQ_U64(w.len, n);
	CHECK(w.cap >= n && w.cap <= n);
	for (size_t i = 0; w.buf != NULL && i < n; i++)
		if (!CHECK(w.buf[i] == (uint8_t)(i * 13)))
			break;
	/* at max: one more byte is refused, and the error sticks */
	CHECK_RC(codec_write_u8(&w, 0), EPOCH_ERR_NO_SPACE);
	CHECK_RC(codec_writer_error(&w), EPOCH_ERR_NO_SPACE);
	CHECK_EQ_U64(w.len, n);
	codec_writer_free(&w);
	CHECK(w.buf == NULL);
	CHECK_EQ_U64(w.len, 0);
	CHECK_EQ_U64(w.cap, 0);
	codec_writer_free(&w); /* twice is fine */

	/* large single writes grow straight to size */
	{
		static uint8_t big[70000];

		for (size_t i = 0; i < sizeof(big); i++)
			big[i] = (uint8_t)(i ^ (i >> 8));
		codec_writer_init_dynamic(&w, SIZE_MAX);
		CHECK_OK(codec_write_u8(&w, 1));
		CHECK_OK(codec_write_bytes(&w, big, sizeof(big)));
		CHECK_OK(codec_write_vec(&w, big, sizeof(big)));
		CHECK_EQ_U64(w.len, 1 + sizeof(big) + 4 + sizeof(big));
		if (w.buf != NULL) {
			CHECK_MEM(w.buf + 1, big, sizeof(big));
			CHECK_MEM(w.buf + 1 + sizeof(big) + 4, big, sizeof(big));
		}
		codec_writer_free(&w);
	}
}

/* The dynamic buffer never grows past max ("upper bound on cap"), also
 * when max is below the first allocation size. */
static void test_dynamic_small_max(void)
{
	static const size_t maxes[] = { 0, 1, 10, 100, 255, 256, 257, 1000 };

	for (size_t i = 0; i < ARRAY_LEN(maxes); i++) {
		struct codec_writer w;
		size_t max = maxes[i];

		codec_writer_init_dynamic(&w, max);
		for (size_t k = 0; k < max; k++)
			CHECK_OK(codec_write_u8(&w, (uint8_t)k));
		CHECK_EQ_U64(w.len, max);
		CHECK(w.cap <= max);
		CHECK_RC(codec_write_u8(&w, 0), EPOCH_ERR_NO_SPACE);
		codec_writer_free(&w);
	}
}

/* ---- codec_vec_begin / codec_vec_end ------------------------------------ */

/* Contents written first, the minimal length prefix inserted afterwards:
 * check the bytes against codec_write_vec of the same body, around the
 * prefix size boundaries 63/64 and 16383/16384. */
static void test_vec_begin_end(void)
{
	static const size_t lens[] = { 0, 1, 62, 63, 64, 65, 16382, 16383,
				       16384, 16385, 70000 };
	static uint8_t body[70000];

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
		size_t n = lens[i], mark;
		struct codec_writer a, b;
		struct codec_reader r;
		struct codec_slice s;
		uint8_t x;

		codec_writer_init_dynamic(&a, SIZE_MAX);
		codec_writer_init_dynamic(&b, SIZE_MAX);
		CHECK_OK(codec_write_u8(&a, 0xaa));
		mark = codec_vec_begin(&a);
		CHECK_EQ_U64(mark, 1);
		/* written in pieces so the buffer grows inside the vector */
		for (size_t k = 0; k < n; k += 1000)
			CHECK_OK(codec_write_bytes(&a, body + k,
						   n - k < 1000 ? n - k : 1000));
		CHECK_OK(codec_vec_end(&a, mark));
		CHECK_OK(codec_write_u8(&a, 0xbb));

		CHECK_OK(codec_write_u8(&b, 0xaa));
		CHECK_OK(codec_write_vec(&b, body, n));
		CHECK_OK(codec_write_u8(&b, 0xbb));

		CHECK_EQ_U64(a.len, 2 + codec_varint_size((uint32_t)n) + n);
		CHECK_EQ_U64(a.len, b.len);
		if (a.buf != NULL && b.buf != NULL)
			CHECK_MEM(a.buf, b.buf, b.len);

		codec_reader_init(&r, a.buf, a.len);
		CHECK_OK(codec_read_u8(&r, &x));
		CHECK_OK(codec_read_vec(&r, &s, SIZE_MAX));
		CHECK_EQ_U64(s.len, n);
		if (n != 0)
			CHECK_MEM(s.p, body, n);
		CHECK_OK(codec_read_u8(&r, &x));
		CHECK_EQ_U64(x, 0xbb);
		CHECK_OK(codec_reader_done(&r));
		codec_writer_free(&a);
		codec_writer_free(&b);
	}
}

static void test_vec_begin_end_nested_and_errors(void)
{
	uint8_t out[16];
	struct codec_writer w;
	size_t outer, inner;
	/* outer<V> { u8 1, inner<V> { u8 2, u8 3 }, u8 4 } */
	static const uint8_t want[] = { 5, 1, 2, 2, 3, 4 };

	codec_writer_init(&w, out, sizeof(out));
	outer = codec_vec_begin(&w);
	CHECK_OK(codec_write_u8(&w, 1));
	inner = codec_vec_begin(&w);
	CHECK_OK(codec_write_u8(&w, 2));
	CHECK_OK(codec_write_u8(&w, 3));
	CHECK_OK(codec_vec_end(&w, inner));
	CHECK_OK(codec_write_u8(&w, 4));
	CHECK_OK(codec_vec_end(&w, outer));
	CHECK_EQ_U64(w.len, sizeof(want));
	CHECK_MEM(out, want, sizeof(want));

	/* a mark past the end is a caller bug: EPOCH_ERR_INVALID_ARG */
	codec_writer_init(&w, out, sizeof(out));
	CHECK_OK(codec_write_u8(&w, 1));
	CHECK_RC(codec_vec_end(&w, 2), EPOCH_ERR_INVALID_ARG);
	CHECK_RC(codec_writer_error(&w), EPOCH_ERR_INVALID_ARG);

	/* the prefix does not fit a full fixed buffer */
	codec_writer_init(&w, out, 3);
	inner = codec_vec_begin(&w);
	CHECK_OK(codec_write_u24(&w, 0x010203));
	CHECK_RC(codec_vec_end(&w, inner), EPOCH_ERR_NO_SPACE);
	CHECK_RC(codec_writer_error(&w), EPOCH_ERR_NO_SPACE);

	/* 64 bytes need a 2-byte prefix: 66 fit in 66, not in 65 */
	{
		uint8_t big[66];

		codec_writer_init(&w, big, 65);
		inner = codec_vec_begin(&w);
		for (int i = 0; i < 64; i++)
			codec_write_u8(&w, (uint8_t)i);
		CHECK_RC(codec_vec_end(&w, inner), EPOCH_ERR_NO_SPACE);
		codec_writer_init(&w, big, 66);
		inner = codec_vec_begin(&w);
		for (int i = 0; i < 64; i++)
			codec_write_u8(&w, (uint8_t)i);
		CHECK_OK(codec_vec_end(&w, inner));
		CHECK(big[0] == 0x40 && big[1] == 0x40 && big[2] == 0 &&
		      big[65] == 63);
	}
	/* a dynamic writer at its max cannot take the prefix either */
	codec_writer_init_dynamic(&w, 64);
	inner = codec_vec_begin(&w);
	for (int i = 0; i < 64; i++)
		codec_write_u8(&w, (uint8_t)i);
	CHECK_OK(codec_writer_error(&w));
	CHECK_RC(codec_vec_end(&w, inner), EPOCH_ERR_NO_SPACE);
	codec_writer_free(&w);
}

/* ---- round trips ------------------------------------------------------------ */

/* A pseudo-random sequence of typed values written, then read back equal
 * with nothing left over. */
static void test_round_trip(void)
{
	struct test_rng rng;

	test_rng_init(&rng, "codec round trip");
	for (int iter = 0; iter < 200; iter++) {
		uint8_t ops[40], vals[40][8], blob[40][70];
		size_t blen[40];
		struct codec_writer w;
		struct codec_reader r;

		crypto_random(&rng.rng, ops, sizeof(ops));
		crypto_random(&rng.rng, &vals[0][0], sizeof(vals));
		codec_writer_init_dynamic(&w, 1 << 20);
		for (int i = 0; i < 40; i++) {
			uint64_t v = 0;

			for (int k = 0; k < 8; k++)
				v = v << 8 | vals[i][k];
			blen[i] = vals[i][0] % 70;
			crypto_random(&rng.rng, blob[i], blen[i]);
			switch (ops[i] % 8) {
			case 0: codec_write_u8(&w, (uint8_t)v); break;
			case 1: codec_write_u16(&w, (uint16_t)v); break;
			case 2: codec_write_u24(&w, (uint32_t)v & 0xffffff); break;
			case 3: codec_write_u32(&w, (uint32_t)v); break;
			case 4: codec_write_u64(&w, v); break;
			case 5: codec_write_varint(&w, (uint32_t)v >> (v & 31) &
						       CODEC_VARINT_MAX); break;
			case 6: codec_write_vec(&w, blob[i], blen[i]); break;
			case 7: codec_write_optional(&w, v & 1); break;
			}
		}
		if (!CHECK_OK(codec_writer_error(&w)))
			break;
		codec_reader_init(&r, w.buf, w.len);
		for (int i = 0; i < 40; i++) {
			uint64_t v = 0, got = 0;
			uint8_t g8;
			uint16_t g16;
			uint32_t g32;
			struct codec_slice s;
			bool p;

			for (int k = 0; k < 8; k++)
				v = v << 8 | vals[i][k];
			switch (ops[i] % 8) {
			case 0: CHECK_OK(codec_read_u8(&r, &g8)); got = g8;
				v = (uint8_t)v; break;
			case 1: CHECK_OK(codec_read_u16(&r, &g16)); got = g16;
				v = (uint16_t)v; break;
			case 2: CHECK_OK(codec_read_u24(&r, &g32)); got = g32;
				v = (uint32_t)v & 0xffffff; break;
			case 3: CHECK_OK(codec_read_u32(&r, &g32)); got = g32;
				v = (uint32_t)v; break;
			case 4: CHECK_OK(codec_read_u64(&r, &got)); break;
			case 5: CHECK_OK(codec_read_varint(&r, &g32)); got = g32;
				v = (uint32_t)v >> (v & 31) & CODEC_VARINT_MAX;
				break;
			case 6:
				CHECK_OK(codec_read_vec(&r, &s, 69));
				CHECK_EQ_U64(s.len, blen[i]);
				if (s.len == blen[i] && s.len != 0)
					CHECK_MEM(s.p, blob[i], s.len);
				got = v = 0;
				break;
			case 7: CHECK_OK(codec_read_optional(&r, &p)); got = p;
				v &= 1; break;
			}
			CHECK_EQ_U64(got, v);
		}
		CHECK_OK(codec_reader_done(&r));
		codec_writer_free(&w);
	}
}

/* ---- tests/vectors/mls/deserialization.json ------------------------------ */

/* mlswg test-vectors/deserialization.json, format in FORMATS-test-vectors.md
 * "Vector Deserialization": decode each vlbytes_header and compare it with
 * `length`. We also check that the header is consumed exactly and that
 * encoding `length` gives the same (minimal) header. One case per entry. */
static void test_deserialization_vectors(void)
{
	const char *path = "tests/vectors/mls/deserialization.json";
	struct json *doc = json_parse_file(path);

	if (doc == NULL || doc->type != JSON_ARRAY || doc->n == 0) {
		test_begin("deserialization.json");
		test_fail(__FILE__, __LINE__, "cannot read %s", path);
		test_end();
		json_free(doc);
		return;
	}
	for (size_t i = 0; i < doc->n; i++) {
		struct test_bytes hdr = { 0 };
		uint64_t length = 0;

		test_begin("deserialization.json #%zu", i);
		if (CHECK(json_get_hex(doc->items[i], "vlbytes_header", &hdr) ==
			  0) &&
		    CHECK(json_get_u64(doc->items[i], "length", &length) == 0)) {
			struct codec_reader r;
			struct codec_writer w;
			uint8_t out[4];
			uint32_t v = 0;

			test_note("header %s length %llu",
				  test_tohex(hdr.p, hdr.len),
				  (unsigned long long)length);
			codec_reader_init(&r, hdr.p, hdr.len);
			CHECK_OK(codec_read_varint(&r, &v));
			CHECK_EQ_U64(v, length);
			CHECK_OK(codec_reader_done(&r));
			codec_writer_init(&w, out, sizeof(out));
			CHECK(length <= CODEC_VARINT_MAX);
			CHECK_OK(codec_write_varint(&w, (uint32_t)length));
			CHECK_EQ_U64(w.len, hdr.len);
			CHECK_MEM(out, hdr.p, hdr.len);
		}
		test_bytes_free(&hdr);
		test_end();
	}
	json_free(doc);
}

int main(int argc, char **argv)
{
	(void)argc;
	test_run("reader_basics", test_reader_basics);
	test_run("integers", test_integers);
	test_run("u24_range", test_u24_range);
	test_run("integer_truncation", test_integer_truncation);
	test_run("varint_boundaries", test_varint_boundaries);
	test_run("varint_too_large", test_varint_too_large);
	test_run("varint_invalid", test_varint_invalid);
	test_run("varint_truncation", test_varint_truncation);
	test_run("varint_exhaustive", test_varint_exhaustive);
	test_run("bytes_fixed", test_bytes_fixed);
	test_run("vec", test_vec);
	test_run("vec_truncation", test_vec_truncation);
	test_run("vec_exact", test_vec_exact);
	test_run("sub_reader", test_sub_reader);
	test_run("optional", test_optional);
	test_run("fixed_overflow", test_fixed_overflow);
	test_run("dynamic_growth", test_dynamic_growth);
	test_run("dynamic_small_max", test_dynamic_small_max);
	test_run("vec_begin_end", test_vec_begin_end);
	test_run("vec_begin_end_nested_and_errors",
		 test_vec_begin_end_nested_and_errors);
	test_run("round_trip", test_round_trip);
	test_deserialization_vectors();
	return test_main_end(argv[0]);
}
