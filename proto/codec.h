/* Bounds-checked reader and writer for every wire format in epochd.
 *
 * The TLS presentation language as RFC 9420 §2.1 uses it: big-endian
 * fixed-width integers, MLS variable-length integers (§2.1.2), opaque
 * vectors with a varint length prefix, and optional<T>. All untrusted bytes
 * are read through a codec_reader; nothing else does pointer arithmetic on
 * packets. Errors are returned (result.h), never undefined behaviour.
 */
#ifndef EPOCHD_CODEC_H
#define EPOCHD_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/result.h"

/* Largest value an MLS varint can carry (30 bits). */
#define CODEC_VARINT_MAX 0x3fffffffu

/* ---- reader ------------------------------------------------------------ */

struct codec_reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
};

/* A borrowed view into the reader's buffer. */
struct codec_slice {
	const uint8_t *p;
	size_t len;
};

void codec_reader_init(struct codec_reader *r, const uint8_t *buf,
		       size_t len);
size_t codec_remaining(const struct codec_reader *r);
/* EPOCH_ERR_TRAILING if unread bytes remain. */
int codec_reader_done(const struct codec_reader *r);

int codec_read_u8(struct codec_reader *r, uint8_t *v);
int codec_read_u16(struct codec_reader *r, uint16_t *v);
int codec_read_u24(struct codec_reader *r, uint32_t *v);
int codec_read_u32(struct codec_reader *r, uint32_t *v);
int codec_read_u64(struct codec_reader *r, uint64_t *v);
/* RFC 9420 §2.1.2: the prefix 0b11 and non-minimal encodings are
 * EPOCH_ERR_VARINT. */
int codec_read_varint(struct codec_reader *r, uint32_t *v);
/* Copies exactly n bytes. */
int codec_read_bytes(struct codec_reader *r, uint8_t *out, size_t n);
/* Borrows exactly n bytes. */
int codec_read_fixed(struct codec_reader *r, struct codec_slice *s,
		     size_t n);
/* opaque data<V>: varint length then bytes. A length above max is
 * EPOCH_ERR_TOO_LONG; past the end, EPOCH_ERR_TRUNCATED. */
int codec_read_vec(struct codec_reader *r, struct codec_slice *s, size_t max);
/* Like codec_read_vec but the length must be exactly n (fixed-size keys
 * carried in a vector). EPOCH_ERR_MALFORMED otherwise. */
int codec_read_vec_exact(struct codec_reader *r, struct codec_slice *s,
			 size_t n);
/* Enters a varint-prefixed vector of structures: sub reads its contents.
 * The outer reader moves past the whole vector. */
int codec_read_sub(struct codec_reader *r, struct codec_reader *sub,
		   size_t max);
/* optional<T> presence octet: 0 or 1, anything else EPOCH_ERR_MALFORMED. */
int codec_read_optional(struct codec_reader *r, bool *present);

/* ---- writer ------------------------------------------------------------ */

/* Writes into a caller buffer (fixed) or a heap buffer that grows
 * (codec_writer_init_dynamic). A growing buffer is wiped before it is
 * released or moved, so it may hold secrets. The first error is sticky:
 * later writes do nothing and codec_writer_error() reports it. */
struct codec_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t max;   /* dynamic: upper bound on cap */
	bool dynamic;
	int err;
};

void codec_writer_init(struct codec_writer *w, uint8_t *buf, size_t cap);
/* Heap-backed writer that may grow up to max bytes. */
void codec_writer_init_dynamic(struct codec_writer *w, size_t max);
/* Wipes and frees a dynamic writer's buffer. */
void codec_writer_free(struct codec_writer *w);
int codec_writer_error(const struct codec_writer *w);

int codec_write_u8(struct codec_writer *w, uint8_t v);
int codec_write_u16(struct codec_writer *w, uint16_t v);
int codec_write_u24(struct codec_writer *w, uint32_t v);
int codec_write_u32(struct codec_writer *w, uint32_t v);
int codec_write_u64(struct codec_writer *w, uint64_t v);
/* Minimal encoding; values above CODEC_VARINT_MAX are EPOCH_ERR_TOO_LONG. */
int codec_write_varint(struct codec_writer *w, uint32_t v);
int codec_write_bytes(struct codec_writer *w, const uint8_t *p, size_t n);
/* opaque data<V>: varint length then bytes. */
int codec_write_vec(struct codec_writer *w, const uint8_t *p, size_t n);
int codec_write_optional(struct codec_writer *w, bool present);

/* A vector whose length is known only after its contents are written:
 * mark = codec_vec_begin(w); ...writes...; codec_vec_end(w, mark). The
 * contents are moved to make room for the minimal length prefix. */
size_t codec_vec_begin(struct codec_writer *w);
int codec_vec_end(struct codec_writer *w, size_t mark);

/* Encoded size of a varint for v (0 if v is too large). */
size_t codec_varint_size(uint32_t v);

#endif
