/* Stateless HELLO cookies (docs/protocol.md §5, "COOKIE"; DESIGN §6).
 *
 * Under load a responder answers a HELLO with a COOKIE instead of doing
 * any work for it; the initiator sends the HELLO again with the cookie in
 * front of its KeyPackage, which proves that it receives datagrams at its
 * source address. A cookie is
 *
 *     version (1) || slot (low byte of the time slot) ||
 *     HMAC-SHA256(secret of that slot, "epochd cookie" || version ||
 *                 slot (8 bytes) || address length || address ||
 *                 port (2) || isid (8))
 *
 * 34 bytes. The secret is random per daemon and replaced every period
 * (slot = now / period); the previous slot's secret is still accepted,
 * so a cookie lives between one and two periods. Checking costs one HMAC
 * and needs no state besides the two secrets.
 *
 * Also here: the two wire payload forms that carry a cookie, a HELLO's
 * `opaque cookie<V>` prefix and a COOKIE message, strictly parsed.
 *
 * Pure code: time comes in as milliseconds, randomness through a
 * struct crypto_rng (NULL: the system CSPRNG). Functions return EPOCH_OK
 * or a negative EPOCH_ERR_* (proto/result.h).
 */
#ifndef EPOCHD_COOKIE_H
#define EPOCHD_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/crypto.h"
#include "proto/result.h"

#define COOKIE_VERSION 1u
#define COOKIE_LEN 34u       /* what cookie_make writes */
#define COOKIE_MAX 64u       /* the protocol's limit for any cookie */
#define COOKIE_SECRET_LEN 32u
#define COOKIE_ADDR_MAX 16u  /* an IPv6 address */
#define COOKIE_PERIOD_MS_DEFAULT 60000u

struct cookie_key {
	uint8_t cur[COOKIE_SECRET_LEN];  /* the secret of slot */
	uint8_t prev[COOKIE_SECRET_LEN]; /* of slot - 1 */
	uint64_t slot;
	uint64_t period_ms;
	const struct crypto_rng *rng;
};

/* Draws both secrets for the slot of now. period_ms >= 1000. */
int cookie_key_init(struct cookie_key *k, const struct crypto_rng *rng,
		    uint64_t period_ms, uint64_t now_ms);
/* Wipes the secrets. */
void cookie_key_wipe(struct cookie_key *k);
/* Moves to the slot of now if it has begun: one slot on, the current
 * secret becomes the previous one and a new one is drawn; two or more,
 * both are drawn anew (nothing issued before verifies). A clock that went
 * backwards changes nothing. */
int cookie_key_rotate(struct cookie_key *k, uint64_t now_ms);

/* The cookie for a source (address bytes, 4 or 16, and port) and the
 * HELLO's isid, under the current slot (rotating first). */
int cookie_make(struct cookie_key *k, const uint8_t *addr, size_t addr_len,
		uint16_t port, uint64_t isid, uint64_t now_ms,
		uint8_t out[COOKIE_LEN]);
/* EPOCH_OK if c is a cookie this key issued for that source and isid in
 * the current or the previous slot (rotating first); EPOCH_ERR_AUTH if
 * not (wrong source, isid or secret, expired, other length or version).
 * The MAC is compared in constant time. */
int cookie_check(struct cookie_key *k, const uint8_t *addr, size_t addr_len,
		 uint16_t port, uint64_t isid, uint64_t now_ms,
		 const uint8_t *c, size_t c_len);

/* A HELLO payload, `opaque cookie<V>` then the KeyPackage: the cookie
 * (borrowed, *c_len 0 when empty) and the KeyPackage's offset in *kp_off.
 * Only the bytes of the cookie prefix are read, so this works on the
 * first fragment alone. EPOCH_ERR_TRUNCATED (len too short for the
 * prefix), EPOCH_ERR_VARINT (a non-minimal or 4-byte length),
 * EPOCH_ERR_TOO_LONG (a cookie over COOKIE_MAX). */
int cookie_hello_split(const uint8_t *p, size_t len, const uint8_t **c,
		       size_t *c_len, size_t *kp_off);
/* Writes `opaque cookie<V>` (c_len <= COOKIE_MAX) at out, which has room
 * for COOKIE_MAX + 2 bytes; returns the bytes written. */
size_t cookie_vec_encode(const uint8_t *c, size_t c_len, uint8_t *out);
/* A COOKIE payload: exactly one `opaque cookie<V>` of 1..COOKIE_MAX
 * bytes. EPOCH_ERR_TRUNCATED, _VARINT, _TOO_LONG, EPOCH_ERR_MALFORMED (an
 * empty cookie), EPOCH_ERR_TRAILING. */
int cookie_payload_parse(const uint8_t *p, size_t len, const uint8_t **c,
			 size_t *c_len);

#endif
