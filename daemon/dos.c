/* The responder's load rules for HELLOs (daemon/dos.h). */
#include <string.h>

#include "daemon/dos.h"

int dos_init(struct dos *g, unsigned threshold, unsigned rate,
	     unsigned burst, const struct crypto_rng *rng, uint64_t now_ms)
{
	int rc;

	memset(g, 0, sizeof(*g));
	g->threshold = threshold;
	rc = cookie_key_init(&g->key, rng, COOKIE_PERIOD_MS_DEFAULT, now_ms);
	if (rc < 0)
		return rc;
	rc = ratelimit_init(&g->rl, DOS_RATE_ENTRIES, rate, burst, rng);
	if (rc < 0)
		cookie_key_wipe(&g->key);
	return rc;
}

void dos_configure(struct dos *g, unsigned threshold, unsigned rate,
		   unsigned burst)
{
	g->threshold = threshold;
	ratelimit_set(&g->rl, rate, burst);
}

void dos_free(struct dos *g)
{
	cookie_key_wipe(&g->key);
	ratelimit_free(&g->rl);
	memset(g, 0, sizeof(*g));
}

/* The rate-limit key: family (4 or 6) and the address bytes. */
static size_t rl_key(const struct dos_hello *in,
		     uint8_t k[RATELIMIT_KEY_MAX])
{
	k[0] = in->addr_len == 4 ? 4 : 6;
	memcpy(k + 1, in->addr, in->addr_len);
	return 1 + in->addr_len;
}

static bool make_reply(struct dos *g, const struct dos_hello *in,
		       uint64_t now, uint8_t *out, size_t *out_len)
{
	struct wire_header r;
	uint8_t ck[COOKIE_LEN];

	/* Never more bytes back than came in: no amplifier. */
	if (in->dgram_len < DOS_COOKIE_DGRAM_LEN)
		return false;
	if (cookie_make(&g->key, in->addr, in->addr_len, in->port,
			in->h->isid, now, ck) < 0)
		return false;
	memset(&r, 0, sizeof(r));
	r.type = WIRE_COOKIE;
	r.flags = WIRE_F_RESPONSE;
	r.frag_index = 0;
	r.frag_count = 1;
	r.isid = in->h->isid;
	r.rsid = 0;
	r.msg_id = in->h->msg_id;
	r.total_len = 1 + COOKIE_LEN;
	if (wire_header_encode(&r, out) < 0)
		return false;
	cookie_vec_encode(ck, COOKIE_LEN, out + WIRE_HEADER_LEN);
	*out_len = DOS_COOKIE_DGRAM_LEN;
	return true;
}

enum dos_verdict dos_hello_check(struct dos *g, const struct dos_hello *in,
				 uint64_t now_ms,
				 uint8_t reply[DOS_COOKIE_DGRAM_LEN],
				 size_t *reply_len)
{
	uint8_t k[RATELIMIT_KEY_MAX];
	size_t kl, c_len, kp_off;
	const uint8_t *c;
	bool load = in->half_open >= g->threshold, took, full;

	*reply_len = 0;
	if (in->addr_len != 4 && in->addr_len != 16) {
		g->st.hellos_dropped++;
		return DOS_DROP;
	}
	kl = rl_key(in, k);
	if (in->reasm_exists)
		return DOS_PASS; /* its first fragment was let in */
	/* HELLOs let in without a cookie may hold only a few reassembly
	 * buffers of the tunnel, whatever their source. */
	full = in->h->frag_count > 1 &&
	       in->hello_reasms >= DOS_HELLO_REASM_MAX;
	if (in->h->frag_index != 0) {
		/* Without its first fragment nothing can be checked: only
		 * when no cookie would be needed. */
		if (load || full || !ratelimit_take(&g->rl, k, kl, now_ms)) {
			g->st.hellos_dropped++;
			return DOS_DROP;
		}
		return DOS_PASS;
	}
	g->st.hellos++;
	if (cookie_hello_split(in->frag, in->frag_len, &c, &c_len,
			       &kp_off) < 0) {
		g->st.hellos_dropped++;
		return DOS_DROP;
	}
	took = ratelimit_take(&g->rl, k, kl, now_ms);
	if (!took)
		g->st.hellos_rate_limited++;
	if (!load && took && !full)
		return DOS_PASS;
	if (c_len) {
		if (cookie_check(&g->key, in->addr, in->addr_len, in->port,
				 in->h->isid, now_ms, c, c_len) == EPOCH_OK) {
			g->st.cookies_valid++;
			return DOS_PASS;
		}
		g->st.cookies_invalid++;
	}
	if (!make_reply(g, in, now_ms, reply, reply_len)) {
		g->st.hellos_dropped++;
		return DOS_DROP;
	}
	g->st.cookies_sent++;
	return DOS_COOKIE;
}
