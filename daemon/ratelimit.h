/* Per-source token buckets in a table of fixed size (docs/protocol.md §5,
 * "Load rules"): each source address may start `rate` HELLOs per second
 * with bursts of `burst`. Memory is allocated once (ratelimit_init) and
 * never grows: a flood from many addresses evicts entries instead. The
 * table is 4-way set associative under a keyed hash (the seed is random,
 * so a remote sender cannot aim its addresses at one set); a new source
 * takes a free way of its set, else the way whose bucket is fullest after
 * refilling (a full bucket evicted loses nothing: a new entry starts
 * full).
 *
 * Pure code: time comes in as milliseconds, randomness through a struct
 * crypto_rng (NULL: the system CSPRNG).
 */
#ifndef EPOCHD_RATELIMIT_H
#define EPOCHD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/crypto.h"

#define RATELIMIT_KEY_MAX 17 /* family byte and an IPv6 address */
#define RATELIMIT_WAYS 4

struct ratelimit_entry {
	uint8_t key[RATELIMIT_KEY_MAX];
	uint8_t key_len;      /* 0: free */
	uint64_t tokens;      /* thousandths of a token */
	uint64_t last_ms;     /* last refill */
};

struct ratelimit {
	struct ratelimit_entry *e;
	size_t n;             /* entries, a multiple of RATELIMIT_WAYS */
	uint64_t rate;        /* tokens per second */
	uint64_t burst;       /* bucket size in tokens */
	uint64_t seed[2];
	uint64_t evictions;   /* entries replaced by another source */
	uint64_t limited;     /* ratelimit_take refusals */
};

/* entries is rounded up to a power of two, at least RATELIMIT_WAYS;
 * rate and burst >= 1. EPOCH_OK, EPOCH_ERR_INVALID_ARG or _NOMEM. */
int ratelimit_init(struct ratelimit *r, size_t entries, unsigned rate,
		   unsigned burst, const struct crypto_rng *rng);
void ratelimit_free(struct ratelimit *r);
/* Changes rate and burst (a reload); buckets over the new burst are cut
 * down to it. */
void ratelimit_set(struct ratelimit *r, unsigned rate, unsigned burst);
/* Takes one token from key's bucket (creating the entry if needed): true
 * if there was one, false if the source is over its rate. */
bool ratelimit_take(struct ratelimit *r, const uint8_t *key, size_t len,
		    uint64_t now_ms);
/* True if key's bucket holds less than one token now (changes nothing;
 * an unknown source has a full bucket). */
bool ratelimit_over(const struct ratelimit *r, const uint8_t *key,
		    size_t len, uint64_t now_ms);
/* Entries in use. */
size_t ratelimit_used(const struct ratelimit *r);
/* Bytes the table holds (constant after init). */
size_t ratelimit_memory(const struct ratelimit *r);

#endif
