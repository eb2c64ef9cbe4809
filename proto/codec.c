/* See codec.h. */
#include "proto/codec.h"

#include <stdlib.h>
#include <string.h>

#include "proto/crypto.h"

/* ---- reader ------------------------------------------------------------ */

void codec_reader_init(struct codec_reader *r, const uint8_t *buf, size_t len)
{
	r->buf = buf;
	r->len = buf != NULL ? len : 0;
	r->pos = 0;
}

size_t codec_remaining(const struct codec_reader *r)
{
	return r->len - r->pos;
}

int codec_reader_done(const struct codec_reader *r)
{
	return r->pos == r->len ? EPOCH_OK : EPOCH_ERR_TRAILING;
}

/* The one place where a read is checked against the end. */
static int take(struct codec_reader *r, size_t n, const uint8_t **p)
{
	if (n > codec_remaining(r))
		return EPOCH_ERR_TRUNCATED;
	*p = r->buf + r->pos;
	r->pos += n;
	return EPOCH_OK;
}

static int read_be(struct codec_reader *r, size_t n, uint64_t *v)
{
	const uint8_t *p;
	uint64_t x = 0;

	GUARD(take(r, n, &p));
	for (size_t i = 0; i < n; i++)
		x = x << 8 | p[i];
	*v = x;
	return EPOCH_OK;
}

int codec_read_u8(struct codec_reader *r, uint8_t *v)
{
	uint64_t x;

	GUARD(read_be(r, 1, &x));
	*v = (uint8_t)x;
	return EPOCH_OK;
}

int codec_read_u16(struct codec_reader *r, uint16_t *v)
{
	uint64_t x;

	GUARD(read_be(r, 2, &x));
	*v = (uint16_t)x;
	return EPOCH_OK;
}

int codec_read_u24(struct codec_reader *r, uint32_t *v)
{
	uint64_t x;

	GUARD(read_be(r, 3, &x));
	*v = (uint32_t)x;
	return EPOCH_OK;
}

int codec_read_u32(struct codec_reader *r, uint32_t *v)
{
	uint64_t x;

	GUARD(read_be(r, 4, &x));
	*v = (uint32_t)x;
	return EPOCH_OK;
}

int codec_read_u64(struct codec_reader *r, uint64_t *v)
{
	return read_be(r, 8, v);
}

/* RFC 9420 §2.1.2. The reader does not move on error. */
int codec_read_varint(struct codec_reader *r, uint32_t *v)
{
	size_t start = r->pos, n;
	uint64_t x;
	int rc;

	if (codec_remaining(r) < 1)
		return EPOCH_ERR_TRUNCATED;
	switch (r->buf[r->pos] >> 6) {
	case 0: n = 1; break;
	case 1: n = 2; break;
	case 2: n = 4; break;
	default: return EPOCH_ERR_VARINT;
	}
	rc = read_be(r, n, &x);
	if (rc != EPOCH_OK)
		return rc;
	x &= (n == 1) ? 0x3f : (n == 2) ? 0x3fff : 0x3fffffff;
	/* Minimum-length rule: anything that fits a shorter form is invalid. */
	if ((n == 2 && x < 0x40) || (n == 4 && x < 0x4000)) {
		r->pos = start;
		return EPOCH_ERR_VARINT;
	}
	*v = (uint32_t)x;
	return EPOCH_OK;
}

int codec_read_bytes(struct codec_reader *r, uint8_t *out, size_t n)
{
	const uint8_t *p;

	GUARD(take(r, n, &p));
	if (n != 0)
		memcpy(out, p, n);
	return EPOCH_OK;
}

int codec_read_fixed(struct codec_reader *r, struct codec_slice *s, size_t n)
{
	GUARD(take(r, n, &s->p));
	s->len = n;
	return EPOCH_OK;
}

int codec_read_vec(struct codec_reader *r, struct codec_slice *s, size_t max)
{
	size_t start = r->pos;
	uint32_t n;
	int rc;

	GUARD(codec_read_varint(r, &n));
	if (n > max) {
		r->pos = start;
		return EPOCH_ERR_TOO_LONG;
	}
	rc = codec_read_fixed(r, s, n);
	if (rc != EPOCH_OK)
		r->pos = start;
	return rc;
}

/* The length is checked before the body: any length other than n is
 * EPOCH_ERR_MALFORMED (never TOO_LONG, and not TRUNCATED just because the
 * wrong-length body is also missing); only the right length with a short
 * body is EPOCH_ERR_TRUNCATED. */
int codec_read_vec_exact(struct codec_reader *r, struct codec_slice *s,
			 size_t n)
{
	size_t start = r->pos;
	uint32_t len;
	int rc;

	GUARD(codec_read_varint(r, &len));
	if (len != n) {
		r->pos = start;
		return EPOCH_ERR_MALFORMED;
	}
	rc = codec_read_fixed(r, s, n);
	if (rc != EPOCH_OK)
		r->pos = start;
	return rc;
}

int codec_read_sub(struct codec_reader *r, struct codec_reader *sub,
		   size_t max)
{
	struct codec_slice s;

	GUARD(codec_read_vec(r, &s, max));
	codec_reader_init(sub, s.p, s.len);
	return EPOCH_OK;
}

int codec_read_optional(struct codec_reader *r, bool *present)
{
	uint8_t b;

	GUARD(codec_read_u8(r, &b));
	if (b > 1) {
		r->pos--;
		return EPOCH_ERR_MALFORMED;
	}
	*present = b == 1;
	return EPOCH_OK;
}

/* ---- writer ------------------------------------------------------------ */

void codec_writer_init(struct codec_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf != NULL ? cap : 0;
	w->len = 0;
	w->max = w->cap;
	w->dynamic = false;
	w->err = EPOCH_OK;
}

void codec_writer_init_dynamic(struct codec_writer *w, size_t max)
{
	codec_writer_init(w, NULL, 0);
	w->max = max;
	w->dynamic = true;
}

void codec_writer_free(struct codec_writer *w)
{
	if (w->dynamic && w->buf != NULL) {
		crypto_wipe(w->buf, w->cap);
		free(w->buf);
	}
	w->buf = NULL;
	w->cap = w->len = 0;
}

int codec_writer_error(const struct codec_writer *w)
{
	return w->err;
}

static int fail(struct codec_writer *w, int rc)
{
	/* Sticky: every later call reports the first error. */
	if (w->err == EPOCH_OK)
		w->err = rc;
	return w->err;
}

/* Makes room for n more bytes; the one place capacity is checked. Growing
 * allocates a new buffer and wipes the old one (realloc would leave a
 * copy of any secret behind). */
static int reserve(struct codec_writer *w, size_t n)
{
	size_t need, cap;
	uint8_t *nb;

	if (w->err != EPOCH_OK)
		return w->err;
	if (n > w->max || w->len > w->max - n)
		return fail(w, EPOCH_ERR_NO_SPACE);
	need = w->len + n;
	if (need <= w->cap)
		return EPOCH_OK;
	if (!w->dynamic)
		return fail(w, EPOCH_ERR_NO_SPACE);
	cap = w->cap ? w->cap : 256;
	if (cap > w->max)
		cap = w->max; /* max bounds the allocation, not only len */
	while (cap < need)
		cap = cap > w->max / 2 ? w->max : cap * 2;
	nb = malloc(cap);
	if (nb == NULL)
		return fail(w, EPOCH_ERR_NOMEM);
	if (w->buf != NULL) {
		memcpy(nb, w->buf, w->len);
		crypto_wipe(w->buf, w->cap);
		free(w->buf);
	}
	w->buf = nb;
	w->cap = cap;
	return EPOCH_OK;
}

static int write_be(struct codec_writer *w, uint64_t v, size_t n)
{
	GUARD(reserve(w, n));
	for (size_t i = 0; i < n; i++)
		w->buf[w->len + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	w->len += n;
	return EPOCH_OK;
}

int codec_write_u8(struct codec_writer *w, uint8_t v)
{
	return write_be(w, v, 1);
}

int codec_write_u16(struct codec_writer *w, uint16_t v)
{
	return write_be(w, v, 2);
}

int codec_write_u24(struct codec_writer *w, uint32_t v)
{
	if (v > 0xffffff)
		return fail(w, EPOCH_ERR_TOO_LONG);
	return write_be(w, v, 3);
}

int codec_write_u32(struct codec_writer *w, uint32_t v)
{
	return write_be(w, v, 4);
}

int codec_write_u64(struct codec_writer *w, uint64_t v)
{
	return write_be(w, v, 8);
}

size_t codec_varint_size(uint32_t v)
{
	if (v < 0x40)
		return 1;
	if (v < 0x4000)
		return 2;
	if (v <= CODEC_VARINT_MAX)
		return 4;
	return 0;
}

int codec_write_varint(struct codec_writer *w, uint32_t v)
{
	switch (codec_varint_size(v)) {
	case 1: return write_be(w, v, 1);
	case 2: return write_be(w, 0x4000u | v, 2);
	case 4: return write_be(w, 0x80000000u | v, 4);
	}
	return fail(w, EPOCH_ERR_TOO_LONG);
}

int codec_write_bytes(struct codec_writer *w, const uint8_t *p, size_t n)
{
	GUARD(reserve(w, n));
	if (n != 0)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
	return EPOCH_OK;
}

int codec_write_vec(struct codec_writer *w, const uint8_t *p, size_t n)
{
	if (n > CODEC_VARINT_MAX)
		return fail(w, EPOCH_ERR_TOO_LONG);
	GUARD(codec_write_varint(w, (uint32_t)n));
	return codec_write_bytes(w, p, n);
}

int codec_write_optional(struct codec_writer *w, bool present)
{
	return codec_write_u8(w, present ? 1 : 0);
}

size_t codec_vec_begin(struct codec_writer *w)
{
	return w->len;
}

int codec_vec_end(struct codec_writer *w, size_t mark)
{
	size_t n, pre;

	if (w->err != EPOCH_OK)
		return w->err;
	if (mark > w->len)
		return fail(w, EPOCH_ERR_INVALID_ARG);
	n = w->len - mark;
	if (n > CODEC_VARINT_MAX)
		return fail(w, EPOCH_ERR_TOO_LONG);
	pre = codec_varint_size((uint32_t)n);
	GUARD(reserve(w, pre));
	memmove(w->buf + mark + pre, w->buf + mark, n);
	/* Write the prefix in place: rewind, encode, then skip the body. */
	w->len = mark;
	GUARD(codec_write_varint(w, (uint32_t)n));
	w->len = mark + pre + n;
	return EPOCH_OK;
}
