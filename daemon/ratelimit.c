/* Per-source token buckets in a bounded table (daemon/ratelimit.h). */
#include <stdlib.h>
#include <string.h>

#include "daemon/ratelimit.h"
#include "proto/result.h"

static uint64_t mix(uint64_t x)
{
	/* splitmix64's finaliser */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t hash(const struct ratelimit *r, const uint8_t *key,
		     size_t len)
{
	uint64_t h = r->seed[0] ^ len;

	for (size_t i = 0; i < len; i++)
		h = mix(h ^ key[i] ^ r->seed[1]);
	return mix(h);
}

int ratelimit_init(struct ratelimit *r, size_t entries, unsigned rate,
		   unsigned burst, const struct crypto_rng *rng)
{
	size_t n = RATELIMIT_WAYS;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!rate || !burst || entries > ((size_t)1 << 24))
		return EPOCH_ERR_INVALID_ARG;
	while (n < entries)
		n <<= 1;
	rc = crypto_random(rng, (uint8_t *)r->seed, sizeof(r->seed));
	if (rc < 0)
		return rc;
	r->e = calloc(n, sizeof(*r->e));
	if (!r->e)
		return EPOCH_ERR_NOMEM;
	r->n = n;
	r->rate = rate;
	r->burst = burst;
	return EPOCH_OK;
}

void ratelimit_free(struct ratelimit *r)
{
	free(r->e);
	memset(r, 0, sizeof(*r));
}

void ratelimit_set(struct ratelimit *r, unsigned rate, unsigned burst)
{
	if (!rate || !burst)
		return;
	r->rate = rate;
	r->burst = burst;
	for (size_t i = 0; i < r->n; i++)
		if (r->e[i].tokens > (uint64_t)burst * 1000)
			r->e[i].tokens = (uint64_t)burst * 1000;
}

/* The bucket's level at now (thousandths), without storing it. */
static uint64_t level(const struct ratelimit *r,
		      const struct ratelimit_entry *e, uint64_t now)
{
	uint64_t cap = r->burst * 1000, t = e->tokens, dt;

	if (now > e->last_ms) {
		dt = now - e->last_ms;
		/* ms * tokens/s = thousandths of a token */
		if (dt >= cap / r->rate + 1)
			return cap;
		t += dt * r->rate;
	}
	return t > cap ? cap : t;
}

static struct ratelimit_entry *set_of(const struct ratelimit *r,
				      const uint8_t *key, size_t len)
{
	size_t sets = r->n / RATELIMIT_WAYS;

	return &r->e[(hash(r, key, len) & (sets - 1)) * RATELIMIT_WAYS];
}

static bool key_is(const struct ratelimit_entry *e, const uint8_t *key,
		   size_t len)
{
	return e->key_len == len && memcmp(e->key, key, len) == 0;
}

bool ratelimit_take(struct ratelimit *r, const uint8_t *key, size_t len,
		    uint64_t now_ms)
{
	struct ratelimit_entry *s, *e = NULL, *victim = NULL;
	uint64_t best = 0;

	if (!r->e || len == 0 || len > RATELIMIT_KEY_MAX)
		return false;
	s = set_of(r, key, len);
	for (size_t i = 0; i < RATELIMIT_WAYS; i++) {
		uint64_t l;

		if (key_is(&s[i], key, len)) {
			e = &s[i];
			break;
		}
		if (!s[i].key_len) {
			if (!victim || victim->key_len) {
				victim = &s[i];
				best = UINT64_MAX;
			}
			continue;
		}
		l = level(r, &s[i], now_ms);
		if (!victim || (victim->key_len && l >= best)) {
			victim = &s[i];
			best = l;
		}
	}
	if (!e) {
		e = victim;
		if (e->key_len)
			r->evictions++;
		memset(e, 0, sizeof(*e));
		memcpy(e->key, key, len);
		e->key_len = (uint8_t)len;
		e->tokens = r->burst * 1000;
		e->last_ms = now_ms;
	}
	e->tokens = level(r, e, now_ms);
	if (now_ms > e->last_ms)
		e->last_ms = now_ms;
	if (e->tokens < 1000) {
		r->limited++;
		return false;
	}
	e->tokens -= 1000;
	return true;
}

bool ratelimit_over(const struct ratelimit *r, const uint8_t *key,
		    size_t len, uint64_t now_ms)
{
	const struct ratelimit_entry *s;

	if (!r->e || len == 0 || len > RATELIMIT_KEY_MAX)
		return false;
	s = set_of(r, key, len);
	for (size_t i = 0; i < RATELIMIT_WAYS; i++)
		if (key_is(&s[i], key, len))
			return level(r, &s[i], now_ms) < 1000;
	return false;
}

size_t ratelimit_used(const struct ratelimit *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->e[i].key_len != 0;
	return n;
}

size_t ratelimit_memory(const struct ratelimit *r)
{
	return r->n * sizeof(*r->e);
}
