/* epochd's UDP wire protocol: header, fragmentation, reassembly and the
 * request/response bookkeeping. The format is in docs/protocol.md; section
 * numbers below refer to it. */
#include <stdlib.h>
#include <string.h>

#include "daemon/wire.h"
#include "proto/codec.h"

struct wire_reasm_slot {
	bool used;
	uint8_t type, flags, count;
	uint64_t isid, rsid;
	uint32_t msg_id, total;
	size_t fsize;          /* fragment size implied by the fragments */
	unsigned nhave;
	uint8_t have[(WIRE_FRAGMENTS_MAX + 7) / 8];
	uint8_t *buf;          /* total bytes */
	uint64_t deadline;
};

/* ---- names -------------------------------------------------------------- */

const char *wire_result_name(int rc)
{
	switch (rc) {
#define WIRE_RESULT_NAME(name, value, text) case name: return #name;
	WIRE_RESULTS(WIRE_RESULT_NAME)
#undef WIRE_RESULT_NAME
	default:
		return result_name(rc);
	}
}

const char *wire_result_text(int rc)
{
	switch (rc) {
#define WIRE_RESULT_TEXT(name, value, text) case name: return text;
	WIRE_RESULTS(WIRE_RESULT_TEXT)
#undef WIRE_RESULT_TEXT
	default:
		return result_text(rc);
	}
}

const char *wire_type_name(unsigned type)
{
	static const char *const names[] = {
		NULL, "HELLO", "COOKIE", "WELCOME", "COMMIT", "EPOCH_ACK",
		"RESUME", "KEEPALIVE", "CLOSE", "ERROR",
	};

	if (type >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[type];
}

/* ---- header (§2) -------------------------------------------------------- */

/* The per-type rules of §2.2: which flags and session ids each type may
 * carry. Shared by encode and decode so we never send what we refuse. */
static int check_fields(const struct wire_header *h)
{
	bool resp = (h->flags & WIRE_F_RESPONSE) != 0;
	bool init = (h->flags & WIRE_F_INITIATOR) != 0;

	if (wire_type_name(h->type) == NULL)
		return WIRE_ERR_TYPE;
	if (h->flags & ~WIRE_F_ALL)
		return WIRE_ERR_FLAGS;
	switch (h->type) {
	case WIRE_HELLO:
		if (resp || !init)
			return WIRE_ERR_FLAGS;
		break;
	case WIRE_COOKIE:
	case WIRE_WELCOME:
		if (!resp || init)
			return WIRE_ERR_FLAGS;
		break;
	case WIRE_COMMIT:
		if (resp)
			return WIRE_ERR_FLAGS;
		break;
	case WIRE_EPOCH_ACK:
		if (!resp)
			return WIRE_ERR_FLAGS;
		break;
	default: /* RESUME, KEEPALIVE, CLOSE, ERROR: either way */
		break;
	}
	if (h->isid == 0)
		return WIRE_ERR_SESSION;
	switch (h->type) {
	case WIRE_HELLO:
	case WIRE_COOKIE:
		if (h->rsid != 0)
			return WIRE_ERR_SESSION;
		break;
	case WIRE_ERROR:
		break;
	default:
		if (h->rsid == 0)
			return WIRE_ERR_SESSION;
		break;
	}
	if (h->frag_count == 0 || h->frag_index >= h->frag_count)
		return WIRE_ERR_FRAGMENT;
	if (h->total_len > WIRE_MESSAGE_MAX)
		return WIRE_ERR_TOO_BIG;
	return EPOCH_OK;
}

/* §3: every fragment but the last carries F bytes, the last 1..F, so the
 * datagram alone determines F. Sets *fsize to it. */
static int check_length(const struct wire_header *h, size_t n, size_t *fsize)
{
	size_t count = h->frag_count, total = h->total_len, f;

	if (count == 1) {
		if (n != total)
			return WIRE_ERR_LENGTH;
		*fsize = n;
		return EPOCH_OK;
	}
	if (n == 0 || n > total)
		return WIRE_ERR_LENGTH;
	if (h->frag_index + 1u < count) {
		if ((count - 1) * n >= total || total > count * n)
			return WIRE_ERR_LENGTH;
		f = n;
	} else {
		if ((total - n) % (count - 1) != 0)
			return WIRE_ERR_LENGTH;
		f = (total - n) / (count - 1);
		if (f < n)
			return WIRE_ERR_LENGTH;
	}
	*fsize = f;
	return EPOCH_OK;
}

int wire_header_encode(const struct wire_header *h,
		       uint8_t out[WIRE_HEADER_LEN])
{
	struct codec_writer w;

	GUARD(check_fields(h));
	codec_writer_init(&w, out, WIRE_HEADER_LEN);
	codec_write_u16(&w, WIRE_MAGIC);
	codec_write_u8(&w, WIRE_VERSION);
	codec_write_u8(&w, h->type);
	codec_write_u8(&w, h->flags);
	codec_write_u8(&w, h->frag_index);
	codec_write_u8(&w, h->frag_count);
	codec_write_u8(&w, 0); /* reserved */
	codec_write_u64(&w, h->isid);
	codec_write_u64(&w, h->rsid);
	codec_write_u32(&w, h->msg_id);
	codec_write_u32(&w, h->total_len);
	GUARD(codec_writer_error(&w));
	return w.len == WIRE_HEADER_LEN ? EPOCH_OK : EPOCH_ERR_MALFORMED;
}

int wire_decode(const uint8_t *buf, size_t len, struct wire_header *h,
		const uint8_t **frag, size_t *frag_len)
{
	struct codec_reader r;
	struct wire_header t;
	uint16_t magic;
	uint8_t version, reserved;
	size_t fsize;

	if (buf == NULL || len < WIRE_HEADER_LEN)
		return EPOCH_ERR_TRUNCATED;
	codec_reader_init(&r, buf, len);
	GUARD(codec_read_u16(&r, &magic));
	GUARD(codec_read_u8(&r, &version));
	GUARD(codec_read_u8(&r, &t.type));
	GUARD(codec_read_u8(&r, &t.flags));
	GUARD(codec_read_u8(&r, &t.frag_index));
	GUARD(codec_read_u8(&r, &t.frag_count));
	GUARD(codec_read_u8(&r, &reserved));
	GUARD(codec_read_u64(&r, &t.isid));
	GUARD(codec_read_u64(&r, &t.rsid));
	GUARD(codec_read_u32(&r, &t.msg_id));
	GUARD(codec_read_u32(&r, &t.total_len));
	if (magic != WIRE_MAGIC)
		return WIRE_ERR_MAGIC;
	if (version != WIRE_VERSION)
		return WIRE_ERR_VERSION;
	if (wire_type_name(t.type) == NULL)
		return WIRE_ERR_TYPE;
	if (t.flags & ~WIRE_F_ALL)
		return WIRE_ERR_FLAGS;
	if (reserved != 0)
		return WIRE_ERR_RESERVED;
	GUARD(check_fields(&t));
	GUARD(check_length(&t, codec_remaining(&r), &fsize));
	*h = t;
	*frag = buf + r.pos;
	*frag_len = codec_remaining(&r);
	return EPOCH_OK;
}

int wire_session_id(const struct crypto_rng *rng, uint64_t *sid)
{
	uint8_t b[8];
	uint64_t v;

	do {
		GUARD(crypto_random(rng, b, sizeof(b)));
		v = 0;
		for (size_t i = 0; i < sizeof(b); i++)
			v = (v << 8) | b[i];
	} while (v == 0);
	*sid = v;
	return EPOCH_OK;
}

/* ---- fragmentation (§3) ------------------------------------------------- */

void wire_limits_default(struct wire_limits *l)
{
	l->mtu = WIRE_MTU_DEFAULT;
	l->max_fragments = 64;
	l->max_message = WIRE_MESSAGE_MAX;
	l->max_reassemblies = 16;
	l->max_memory = 1024 * 1024;
	l->reassembly_timeout_ms = 10000;
}

int wire_limits_check(const struct wire_limits *l)
{
	if (l->mtu < WIRE_MTU_MIN || l->mtu > WIRE_MTU_MAX ||
	    l->max_fragments < 1 || l->max_fragments > WIRE_FRAGMENTS_MAX ||
	    l->max_message > WIRE_MESSAGE_MAX || l->max_reassemblies < 1 ||
	    l->max_reassemblies > 4096 || l->reassembly_timeout_ms == 0)
		return EPOCH_ERR_INVALID_ARG;
	return EPOCH_OK;
}

size_t wire_fragment_size(size_t mtu)
{
	if (mtu < WIRE_MTU_MIN)
		return 0;
	return mtu - WIRE_IP_UDP_OVERHEAD - WIRE_HEADER_LEN;
}

const uint8_t *wire_datagram(const struct wire_datagrams *d, size_t i,
			     size_t *len)
{
	if (i >= d->count) {
		*len = 0;
		return NULL;
	}
	*len = i + 1 == d->count ? d->last_len : d->stride;
	return d->buf + i * d->stride;
}

void wire_datagrams_free(struct wire_datagrams *d)
{
	free(d->buf);
	memset(d, 0, sizeof(*d));
}

int wire_fragment(const struct wire_limits *l, const struct wire_header *h,
		  const uint8_t *payload, size_t len,
		  struct wire_datagrams *out)
{
	struct wire_header t = *h;
	size_t f = wire_fragment_size(l->mtu), count;
	uint8_t *buf;

	memset(out, 0, sizeof(*out));
	GUARD(wire_limits_check(l));
	if (len > l->max_message)
		return WIRE_ERR_TOO_BIG;
	if (len > 0 && payload == NULL)
		return EPOCH_ERR_INVALID_ARG;
	count = len == 0 ? 1 : (len + f - 1) / f;
	if (count > l->max_fragments)
		return WIRE_ERR_TOO_BIG;
	t.frag_count = (uint8_t)count;
	t.frag_index = 0;
	t.total_len = (uint32_t)len;
	GUARD(check_fields(&t));
	buf = malloc(count * (WIRE_HEADER_LEN + f));
	if (buf == NULL)
		return EPOCH_ERR_NOMEM;
	for (size_t i = 0; i < count; i++) {
		uint8_t *d = buf + i * (WIRE_HEADER_LEN + f);
		size_t n = i + 1 == count ? len - i * f : f;
		int rc;

		t.frag_index = (uint8_t)i;
		rc = wire_header_encode(&t, d);
		if (rc != EPOCH_OK) {
			free(buf);
			return rc;
		}
		if (n > 0)
			memcpy(d + WIRE_HEADER_LEN, payload + i * f, n);
	}
	out->buf = buf;
	out->count = count;
	out->stride = WIRE_HEADER_LEN + f;
	out->last_len = WIRE_HEADER_LEN + (len - (count - 1) * f);
	return EPOCH_OK;
}

/* ---- reassembly (§3.2) -------------------------------------------------- */

void wire_message_free(struct wire_message *m)
{
	if (m->owned)
		free((void *)m->data);
	memset(m, 0, sizeof(*m));
}

int wire_reasm_init(struct wire_reasm *ra, const struct wire_limits *l)
{
	memset(ra, 0, sizeof(*ra));
	GUARD(wire_limits_check(l));
	ra->lim = *l;
	ra->slots = calloc(l->max_reassemblies, sizeof(*ra->slots));
	if (ra->slots == NULL)
		return EPOCH_ERR_NOMEM;
	return EPOCH_OK;
}

static void slot_drop(struct wire_reasm *ra, struct wire_reasm_slot *s)
{
	free(s->buf);
	ra->mem_used -= s->total;
	ra->active--;
	memset(s, 0, sizeof(*s));
}

void wire_reasm_free(struct wire_reasm *ra)
{
	if (ra->slots != NULL) {
		for (unsigned i = 0; i < ra->lim.max_reassemblies; i++)
			if (ra->slots[i].used)
				slot_drop(ra, &ra->slots[i]);
		free(ra->slots);
	}
	memset(ra, 0, sizeof(*ra));
}

unsigned wire_reasm_expire(struct wire_reasm *ra, uint64_t now)
{
	unsigned n = 0;

	for (unsigned i = 0; i < ra->lim.max_reassemblies; i++) {
		struct wire_reasm_slot *s = &ra->slots[i];

		if (s->used && s->deadline <= now) {
			slot_drop(ra, s);
			n++;
		}
	}
	ra->stats.expired += n;
	return n;
}

uint64_t wire_reasm_next_timeout(const struct wire_reasm *ra, uint64_t now)
{
	uint64_t best = WIRE_NO_TIMEOUT;

	for (unsigned i = 0; i < ra->lim.max_reassemblies; i++) {
		const struct wire_reasm_slot *s = &ra->slots[i];

		if (!s->used)
			continue;
		if (s->deadline <= now)
			return 0;
		if (s->deadline - now < best)
			best = s->deadline - now;
	}
	return best;
}

/* The reassembly key: both session ids, the message id and the two flags
 * (direction and request/response), so a request and its response, or
 * the two sides' requests with equal ids, never mix. */
static bool slot_matches(const struct wire_reasm_slot *s,
			 const struct wire_header *h)
{
	return s->used && s->isid == h->isid && s->rsid == h->rsid &&
	       s->msg_id == h->msg_id && s->flags == h->flags;
}

bool wire_reasm_has(const struct wire_reasm *ra, const struct wire_header *h)
{
	for (unsigned i = 0; i < ra->lim.max_reassemblies; i++)
		if (slot_matches(&ra->slots[i], h))
			return true;
	return false;
}

unsigned wire_reasm_count(const struct wire_reasm *ra, uint8_t type)
{
	unsigned n = 0;

	for (unsigned i = 0; i < ra->lim.max_reassemblies; i++)
		n += ra->slots[i].used && ra->slots[i].type == type;
	return n;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int wire_reasm_feed(struct wire_reasm *ra, const struct wire_header *h,
		    const uint8_t *frag, size_t frag_len, uint64_t now,
		    struct wire_message *out)
{
	struct wire_reasm_slot *s = NULL, *free_slot = NULL;
	size_t fsize;
	unsigned idx = h->frag_index;

	wire_reasm_expire(ra, now);
	GUARD(check_fields(h));
	GUARD(check_length(h, frag_len, &fsize));
	if (frag_len > 0 && frag == NULL)
		return EPOCH_ERR_INVALID_ARG;
	if (h->total_len > ra->lim.max_message) {
		ra->stats.refused++;
		return WIRE_ERR_TOO_BIG;
	}
	if (h->frag_count > ra->lim.max_fragments) {
		ra->stats.refused++;
		return WIRE_ERR_FRAGMENT;
	}
	if (h->frag_count == 1) {
		memset(out, 0, sizeof(*out));
		out->hdr = *h;
		out->data = frag;
		out->len = frag_len;
		out->owned = false;
		ra->stats.completed++;
		return 1;
	}
	for (unsigned i = 0; i < ra->lim.max_reassemblies; i++) {
		if (slot_matches(&ra->slots[i], h)) {
			s = &ra->slots[i];
			break;
		}
		if (!ra->slots[i].used && free_slot == NULL)
			free_slot = &ra->slots[i];
	}
	if (s != NULL) {
		if (s->type != h->type || s->total != h->total_len ||
		    s->count != h->frag_count || s->fsize != fsize) {
			slot_drop(ra, s);
			ra->stats.inconsistent++;
			return WIRE_ERR_INCONSISTENT;
		}
		if (s->have[idx / 8] & (1u << (idx % 8))) {
			ra->stats.duplicates++;
			return 0;
		}
	} else {
		if (free_slot == NULL ||
		    ra->lim.max_memory - ra->mem_used < h->total_len) {
			ra->stats.refused++;
			return WIRE_ERR_LIMIT;
		}
		s = free_slot;
		s->buf = malloc(h->total_len);
		if (s->buf == NULL)
			return EPOCH_ERR_NOMEM;
		s->used = true;
		s->type = h->type;
		s->flags = h->flags;
		s->count = h->frag_count;
		s->isid = h->isid;
		s->rsid = h->rsid;
		s->msg_id = h->msg_id;
		s->total = h->total_len;
		s->fsize = fsize;
		ra->active++;
		ra->mem_used += h->total_len;
	}
	memcpy(s->buf + (size_t)idx * s->fsize, frag, frag_len);
	s->have[idx / 8] |= (uint8_t)(1u << (idx % 8));
	s->nhave++;
	s->deadline = add_sat(now, ra->lim.reassembly_timeout_ms);
	if (s->nhave < s->count)
		return 0;
	memset(out, 0, sizeof(*out));
	out->hdr = *h;
	out->hdr.frag_index = 0;
	out->data = s->buf;
	out->len = s->total;
	out->owned = true;
	s->buf = NULL; /* handed over; slot_drop frees nothing */
	slot_drop(ra, s);
	ra->stats.completed++;
	return 1;
}

/* ---- requests and responses (§4) ---------------------------------------- */

void wire_retx_default(struct wire_retx *r)
{
	r->initial_ms = 500;
	r->cap_ms = 8000;
	r->max_retries = 6;
}

void wire_session_init(struct wire_session *s, const struct wire_limits *l,
		       const struct wire_retx *r, uint64_t isid,
		       uint64_t rsid, bool initiator)
{
	memset(s, 0, sizeof(*s));
	s->lim = *l;
	s->retx = *r;
	s->isid = isid;
	s->rsid = rsid;
	s->initiator = initiator;
}

void wire_session_free(struct wire_session *s)
{
	for (unsigned i = 0; i < WIRE_PENDING_MAX; i++)
		wire_datagrams_free(&s->pending[i].dg);
	for (unsigned i = 0; i < WIRE_CACHE_MAX; i++)
		wire_datagrams_free(&s->cache[i].dg);
	memset(s, 0, sizeof(*s));
}

void wire_session_set_rsid(struct wire_session *s, uint64_t rsid)
{
	s->rsid = rsid;
}

static uint8_t our_flags(const struct wire_session *s)
{
	return s->initiator ? WIRE_F_INITIATOR : 0;
}

int wire_request(struct wire_session *s, uint8_t type, const uint8_t *payload,
		 size_t len, uint64_t now, const struct wire_datagrams **out,
		 uint32_t *msg_id)
{
	struct wire_pending *p = NULL;
	struct wire_header h;

	if (s->id_exhausted)
		return WIRE_ERR_EXHAUSTED;
	for (unsigned i = 0; i < WIRE_PENDING_MAX; i++) {
		if (!s->pending[i].active) {
			p = &s->pending[i];
			break;
		}
	}
	if (p == NULL)
		return WIRE_ERR_BUSY;
	memset(&h, 0, sizeof(h));
	h.type = type;
	h.flags = our_flags(s);
	h.isid = s->isid;
	h.rsid = s->rsid;
	h.msg_id = s->next_id;
	GUARD(wire_fragment(&s->lim, &h, payload, len, &p->dg));
	p->active = true;
	p->type = type;
	p->msg_id = s->next_id;
	p->retries = 0;
	p->deadline = add_sat(now, s->retx.initial_ms);
	if (msg_id != NULL)
		*msg_id = s->next_id;
	if (++s->next_id == 0)
		s->id_exhausted = true;
	*out = &p->dg;
	return EPOCH_OK;
}

int wire_response_match(struct wire_session *s, const struct wire_header *h,
			uint8_t *req_type)
{
	uint8_t peer = s->initiator ? 0 : WIRE_F_INITIATOR;

	if (!(h->flags & WIRE_F_RESPONSE) ||
	    (h->flags & WIRE_F_INITIATOR) != peer)
		return 0;
	for (unsigned i = 0; i < WIRE_PENDING_MAX; i++) {
		struct wire_pending *p = &s->pending[i];

		if (p->active && p->msg_id == h->msg_id) {
			if (req_type != NULL)
				*req_type = p->type;
			wire_datagrams_free(&p->dg);
			memset(p, 0, sizeof(*p));
			return 1;
		}
	}
	return 0;
}

void wire_request_cancel(struct wire_session *s, uint32_t msg_id)
{
	for (unsigned i = 0; i < WIRE_PENDING_MAX; i++) {
		struct wire_pending *p = &s->pending[i];

		if (p->active && p->msg_id == msg_id) {
			wire_datagrams_free(&p->dg);
			memset(p, 0, sizeof(*p));
		}
	}
}

/* The wait after retransmission k (k = 0: after the first send):
 * min(initial_ms * 2^k, cap_ms), without overflow. */
static uint64_t backoff(const struct wire_retx *r, unsigned k)
{
	uint64_t v = r->initial_ms;

	for (unsigned i = 0; i < k && v < r->cap_ms; i++)
		v = v > UINT64_MAX / 2 ? UINT64_MAX : v * 2;
	return v < r->cap_ms ? v : r->cap_ms;
}

int wire_poll(struct wire_session *s, uint64_t now, struct wire_event *ev)
{
	struct wire_pending *p = NULL;

	memset(ev, 0, sizeof(*ev));
	for (unsigned i = 0; i < WIRE_PENDING_MAX; i++) {
		struct wire_pending *q = &s->pending[i];

		if (!q->active || q->deadline > now)
			continue;
		if (p == NULL || q->deadline < p->deadline ||
		    (q->deadline == p->deadline && q->msg_id < p->msg_id))
			p = q;
	}
	if (p == NULL)
		return 0;
	ev->type = p->type;
	ev->msg_id = p->msg_id;
	if (p->retries >= s->retx.max_retries) {
		ev->kind = WIRE_EV_GIVE_UP;
		wire_datagrams_free(&p->dg);
		memset(p, 0, sizeof(*p));
		return 1;
	}
	p->retries++;
	p->deadline = add_sat(now, backoff(&s->retx, p->retries));
	s->retransmissions++;
	ev->kind = WIRE_EV_RETRANSMIT;
	ev->dg = &p->dg;
	return 1;
}

uint64_t wire_next_timeout(const struct wire_session *s, uint64_t now)
{
	uint64_t best = WIRE_NO_TIMEOUT;

	for (unsigned i = 0; i < WIRE_PENDING_MAX; i++) {
		const struct wire_pending *p = &s->pending[i];

		if (!p->active)
			continue;
		if (p->deadline <= now)
			return 0;
		if (p->deadline - now < best)
			best = p->deadline - now;
	}
	return best;
}

/* A request from the peer: no RESPONSE flag, the peer's direction. */
static int check_peer_request(const struct wire_session *s,
			      const struct wire_message *m)
{
	uint8_t peer = s->initiator ? 0 : WIRE_F_INITIATOR;

	if ((m->hdr.flags & WIRE_F_RESPONSE) ||
	    (m->hdr.flags & WIRE_F_INITIATOR) != peer)
		return EPOCH_ERR_INVALID_ARG;
	return EPOCH_OK;
}

/* 1 if id was answered (inside the window), 0 if not, -1 if it is left
 * of the window. */
static int window_seen(const struct wire_session *s, uint32_t id)
{
	uint32_t diff;

	if (!s->rx_any || id > s->rx_top)
		return 0;
	diff = s->rx_top - id;
	if (diff >= WIRE_WINDOW)
		return -1;
	return (s->rx_mask >> diff) & 1 ? 1 : 0;
}

static void window_mark(struct wire_session *s, uint32_t id)
{
	if (!s->rx_any) {
		s->rx_any = true;
		s->rx_top = id;
		s->rx_mask = 1;
	} else if (id > s->rx_top) {
		uint32_t shift = id - s->rx_top;

		s->rx_mask = shift >= WIRE_WINDOW ? 0 : s->rx_mask << shift;
		s->rx_mask |= 1;
		s->rx_top = id;
	} else if (s->rx_top - id < WIRE_WINDOW) {
		s->rx_mask |= (uint64_t)1 << (s->rx_top - id);
	}
}

int wire_request_check(const struct wire_session *s,
		       const struct wire_message *m,
		       const struct wire_datagrams **cached)
{
	uint8_t digest[32];
	int seen;

	GUARD(check_peer_request(s, m));
	*cached = NULL;
	seen = window_seen(s, m->hdr.msg_id);
	if (seen == 0)
		return WIRE_RX_NEW;
	if (seen < 0)
		return WIRE_RX_OLD;
	for (unsigned i = 0; i < WIRE_CACHE_MAX; i++) {
		const struct wire_cached *c = &s->cache[i];

		if (!c->active || c->msg_id != m->hdr.msg_id)
			continue;
		GUARD(crypto_hash(CRYPTO_SHA256, m->data, m->len, digest));
		if (!crypto_ct_equal(digest, c->req_digest, sizeof(digest)))
			return WIRE_RX_OLD;
		*cached = &c->dg;
		return WIRE_RX_DUPLICATE;
	}
	return WIRE_RX_OLD;
}

int wire_respond(struct wire_session *s, const struct wire_message *m,
		 uint8_t type, const uint8_t *payload, size_t len,
		 const struct wire_datagrams **out)
{
	struct wire_cached *c = NULL;
	struct wire_datagrams dg;
	struct wire_header h;
	uint8_t digest[32];

	GUARD(check_peer_request(s, m));
	GUARD(crypto_hash(CRYPTO_SHA256, m->data, m->len, digest));
	memset(&h, 0, sizeof(h));
	h.type = type;
	h.flags = WIRE_F_RESPONSE | our_flags(s);
	h.isid = s->isid;
	h.rsid = s->rsid;
	h.msg_id = m->hdr.msg_id;
	GUARD(wire_fragment(&s->lim, &h, payload, len, &dg));
	for (unsigned i = 0; i < WIRE_CACHE_MAX; i++) {
		if (s->cache[i].active && s->cache[i].msg_id == h.msg_id) {
			c = &s->cache[i];
			break;
		}
	}
	if (c == NULL) {
		c = &s->cache[s->cache_next];
		s->cache_next = (s->cache_next + 1) % WIRE_CACHE_MAX;
	}
	wire_datagrams_free(&c->dg);
	c->active = true;
	c->msg_id = h.msg_id;
	memcpy(c->req_digest, digest, sizeof(digest));
	c->dg = dg;
	window_mark(s, h.msg_id);
	*out = &c->dg;
	return EPOCH_OK;
}
