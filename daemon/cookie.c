/* Stateless HELLO cookies (daemon/cookie.h). */
#include <string.h>

#include "daemon/cookie.h"

static const char LABEL[] = "epochd cookie";

int cookie_key_init(struct cookie_key *k, const struct crypto_rng *rng,
		    uint64_t period_ms, uint64_t now_ms)
{
	memset(k, 0, sizeof(*k));
	if (period_ms < 1000)
		return EPOCH_ERR_INVALID_ARG;
	k->rng = rng;
	k->period_ms = period_ms;
	k->slot = now_ms / period_ms;
	GUARD(crypto_random(rng, k->cur, sizeof(k->cur)));
	GUARD(crypto_random(rng, k->prev, sizeof(k->prev)));
	return EPOCH_OK;
}

void cookie_key_wipe(struct cookie_key *k)
{
	crypto_wipe(k, sizeof(*k));
}

int cookie_key_rotate(struct cookie_key *k, uint64_t now_ms)
{
	uint64_t slot;

	if (!k->period_ms)
		return EPOCH_ERR_STATE;
	slot = now_ms / k->period_ms;
	if (slot <= k->slot)
		return EPOCH_OK;
	if (slot == k->slot + 1)
		memcpy(k->prev, k->cur, sizeof(k->prev));
	else
		GUARD(crypto_random(k->rng, k->prev, sizeof(k->prev)));
	GUARD(crypto_random(k->rng, k->cur, sizeof(k->cur)));
	k->slot = slot;
	return EPOCH_OK;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* version || slot low byte || HMAC(secret, LABEL || version || slot ||
 * addr_len || addr || port || isid). */
static int mac(const uint8_t *secret, uint64_t slot, const uint8_t *addr,
	       size_t addr_len, uint16_t port, uint64_t isid,
	       uint8_t out[COOKIE_LEN])
{
	uint8_t in[sizeof(LABEL) - 1 + 1 + 8 + 1 + COOKIE_ADDR_MAX + 2 + 8];
	size_t o = 0;
	int rc;

	if ((addr_len != 4 && addr_len != 16) || !addr)
		return EPOCH_ERR_INVALID_ARG;
	memcpy(in, LABEL, sizeof(LABEL) - 1);
	o += sizeof(LABEL) - 1;
	in[o++] = COOKIE_VERSION;
	put64(in + o, slot);
	o += 8;
	in[o++] = (uint8_t)addr_len;
	memcpy(in + o, addr, addr_len);
	o += addr_len;
	in[o++] = (uint8_t)(port >> 8);
	in[o++] = (uint8_t)port;
	put64(in + o, isid);
	o += 8;
	out[0] = COOKIE_VERSION;
	out[1] = (uint8_t)slot;
	rc = crypto_hmac(CRYPTO_SHA256, secret, COOKIE_SECRET_LEN, in, o,
			 out + 2);
	crypto_wipe(in, sizeof(in));
	return rc;
}

int cookie_make(struct cookie_key *k, const uint8_t *addr, size_t addr_len,
		uint16_t port, uint64_t isid, uint64_t now_ms,
		uint8_t out[COOKIE_LEN])
{
	GUARD(cookie_key_rotate(k, now_ms));
	return mac(k->cur, k->slot, addr, addr_len, port, isid, out);
}

int cookie_check(struct cookie_key *k, const uint8_t *addr, size_t addr_len,
		 uint16_t port, uint64_t isid, uint64_t now_ms,
		 const uint8_t *c, size_t c_len)
{
	uint8_t want[COOKIE_LEN];
	const uint8_t *secret;
	uint64_t slot;
	int rc;

	GUARD(cookie_key_rotate(k, now_ms));
	if (c_len != COOKIE_LEN || c[0] != COOKIE_VERSION)
		return EPOCH_ERR_AUTH;
	/* The slot byte names the secret: no trial of both. */
	if (c[1] == (uint8_t)k->slot) {
		slot = k->slot;
		secret = k->cur;
	} else if (k->slot > 0 && c[1] == (uint8_t)(k->slot - 1)) {
		slot = k->slot - 1;
		secret = k->prev;
	} else {
		return EPOCH_ERR_AUTH;
	}
	rc = mac(secret, slot, addr, addr_len, port, isid, want);
	if (rc == EPOCH_OK && !crypto_ct_equal(want, c, COOKIE_LEN))
		rc = EPOCH_ERR_AUTH;
	crypto_wipe(want, sizeof(want));
	return rc;
}

/* An RFC 9420 §2.1.2 varint length, at most COOKIE_MAX. */
static int vec_len(const uint8_t *p, size_t len, size_t *n, size_t *hdr)
{
	uint64_t v;

	if (len < 1)
		return EPOCH_ERR_TRUNCATED;
	switch (p[0] >> 6) {
	case 0:
		*n = p[0];
		*hdr = 1;
		return EPOCH_OK;
	case 1:
		if (len < 2)
			return EPOCH_ERR_TRUNCATED;
		v = (uint64_t)(p[0] & 0x3f) << 8 | p[1];
		if (v < 64)
			return EPOCH_ERR_VARINT;
		if (v > COOKIE_MAX)
			return EPOCH_ERR_TOO_LONG;
		*n = (size_t)v;
		*hdr = 2;
		return EPOCH_OK;
	case 2:
		if (len < 4)
			return EPOCH_ERR_TRUNCATED;
		v = (uint64_t)(p[0] & 0x3f) << 24 | (uint64_t)p[1] << 16 |
		    (uint64_t)p[2] << 8 | p[3];
		return v < 16384 ? EPOCH_ERR_VARINT : EPOCH_ERR_TOO_LONG;
	default:
		return EPOCH_ERR_VARINT;
	}
}

int cookie_hello_split(const uint8_t *p, size_t len, const uint8_t **c,
		       size_t *c_len, size_t *kp_off)
{
	size_t n, hdr;

	*c = NULL;
	*c_len = 0;
	*kp_off = 0;
	GUARD(vec_len(p, len, &n, &hdr));
	if (len - hdr < n)
		return EPOCH_ERR_TRUNCATED;
	*c = n ? p + hdr : NULL;
	*c_len = n;
	*kp_off = hdr + n;
	return EPOCH_OK;
}

size_t cookie_vec_encode(const uint8_t *c, size_t c_len, uint8_t *out)
{
	size_t o = 0;

	if (c_len > COOKIE_MAX)
		c_len = COOKIE_MAX;
	if (c_len < 64) {
		out[o++] = (uint8_t)c_len;
	} else {
		out[o++] = (uint8_t)(0x40 | c_len >> 8);
		out[o++] = (uint8_t)c_len;
	}
	if (c_len)
		memcpy(out + o, c, c_len);
	return o + c_len;
}

int cookie_payload_parse(const uint8_t *p, size_t len, const uint8_t **c,
			 size_t *c_len)
{
	size_t off;

	GUARD(cookie_hello_split(p, len, c, c_len, &off));
	if (*c_len == 0)
		return EPOCH_ERR_MALFORMED;
	if (off != len) {
		*c = NULL;
		*c_len = 0;
		return EPOCH_ERR_TRAILING;
	}
	return EPOCH_OK;
}
