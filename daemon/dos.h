/* The responder's load rules for HELLOs (docs/protocol.md §5, "Load
 * rules"): what happens to a HELLO datagram before it may take a
 * reassembly buffer. Decided per datagram from its header and fragment
 * alone, with no per-HELLO state:
 *
 *  - a first fragment (index 0) takes a token from its source address's
 *    bucket (daemon/ratelimit.h); a cookie is required when the half-open
 *    handshakes have reached the threshold or the source is over its
 *    rate. A required cookie that is missing or wrong gets a COOKIE reply
 *    (daemon/cookie.h), built here, and the datagram is dropped: no
 *    buffer, no signature check, no KEM, no state. The reply is never
 *    longer than the datagram it answers (no amplification);
 *  - a later fragment joins a reassembly that its first fragment started;
 *    without one it may start one only when no cookie would be required
 *    (taking a token), so a flood of later fragments cannot fill the
 *    reassembly table either;
 *  - at most DOS_HELLO_REASM_MAX HELLOs let in without a cookie are
 *    reassembled at once per tunnel (beyond that a first fragment needs
 *    a cookie), so the other messages of a working tunnel (a rekey's
 *    COMMIT) always find room and junk cannot keep out a HELLO that
 *    proved its address.
 *
 * Pure code; time in milliseconds; randomness through a crypto_rng.
 */
#ifndef EPOCHD_DOS_H
#define EPOCHD_DOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/cookie.h"
#include "daemon/ratelimit.h"
#include "daemon/wire.h"

#define DOS_RATE_ENTRIES 1024   /* sources tracked (fixed memory) */
#define DOS_HELLO_REASM_MAX 2   /* HELLO reassemblies per tunnel */
/* A COOKIE datagram: header, a 1-byte length, the cookie. */
#define DOS_COOKIE_DGRAM_LEN (WIRE_HEADER_LEN + 1 + COOKIE_LEN)

struct dos_stats {
	uint64_t hellos;              /* first fragments looked at */
	uint64_t hellos_processed;    /* counted by the caller */
	uint64_t hellos_rate_limited;
	uint64_t hellos_dropped;
	uint64_t cookies_sent;
	uint64_t cookies_valid;
	uint64_t cookies_invalid;
	uint64_t cookies_received;    /* counted by the caller (initiator) */
	uint64_t cookies_ignored;     /* counted by the caller */
	uint64_t unknown_source;      /* counted by the caller */
};

struct dos {
	struct cookie_key key;
	struct ratelimit rl;
	unsigned threshold;           /* half-open handshakes; 0: always */
	struct dos_stats st;
};

int dos_init(struct dos *g, unsigned threshold, unsigned rate,
	     unsigned burst, const struct crypto_rng *rng, uint64_t now_ms);
/* New settings (a reload). */
void dos_configure(struct dos *g, unsigned threshold, unsigned rate,
		   unsigned burst);
/* Wipes the cookie secrets, frees the table. */
void dos_free(struct dos *g);

enum dos_verdict {
	DOS_PASS = 0,   /* on to reassembly */
	DOS_COOKIE = 1, /* send the reply (*reply_len bytes), drop it */
	DOS_DROP = 2,   /* drop it silently */
};

/* What the responder's side of the daemon knows about a HELLO datagram
 * (h, frag from wire_decode; h is a HELLO request). */
struct dos_hello {
	const struct wire_header *h;
	const uint8_t *frag;
	size_t frag_len;
	size_t dgram_len;             /* the whole datagram */
	const uint8_t *addr;          /* source address, 4 or 16 bytes */
	size_t addr_len;
	uint16_t port;                /* source port */
	unsigned half_open;           /* across every tunnel */
	bool reasm_exists;            /* wire_reasm_has for h */
	unsigned hello_reasms;        /* wire_reasm_count of HELLOs */
};

/* The verdict for one HELLO datagram at now. For DOS_COOKIE the COOKIE
 * datagram (DOS_COOKIE_DGRAM_LEN bytes: RESPONSE flag, the HELLO's isid
 * and msg_id, rsid 0) is in reply. */
enum dos_verdict dos_hello_check(struct dos *g, const struct dos_hello *in,
				 uint64_t now_ms,
				 uint8_t reply[DOS_COOKIE_DGRAM_LEN],
				 size_t *reply_len);

#endif
