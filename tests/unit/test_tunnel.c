/* daemon/tunnel: two tunnel state machines talking through an in-memory
 * network, each on a model kernel that checks the make-before-break rule
 * on every step: a side may only send on an outbound SA whose twin (same
 * SPI, same key) is installed as inbound on the peer, and an inbound SA
 * may only be deleted when the peer no longer sends on it. Any breach is
 * counted as a violation (it would lose packets) and fails the test.
 * Handshakes for suite 1 and X-Wing, alternating rekeys, collisions,
 * lost, duplicated and late messages, retransmission give-ups and a peer
 * with the wrong key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/tunnel.h"
#include "proto/crypto.h"
#include "tests/lib/test.h"

#define KEY_LEN 36
#define MAX_IN 32

struct kern {
	struct {
		uint32_t spi;
		uint8_t key[KEY_LEN];
	} in[MAX_IN];
	size_t n_in;
	bool has_out;
	uint32_t out_spi;
	uint8_t out_key[KEY_LEN];
	uint32_t next_spi;
	struct kern *peer;
	unsigned violations;
	struct side *side;
};

struct msg {
	int to;
	enum tunnel_msg type;
	bool response;
	uint8_t *p;
	size_t len;
};

struct net {
	struct msg q[64];
	size_t n;
	unsigned drop_next[2]; /* drop the next N messages sent by side i */
	unsigned keepalives[2]; /* KEEPALIVE requests sent by side i */
	bool traffic;           /* advance() reports ESP traffic */
};

struct side {
	int id;
	struct net *net;
	struct kern k;
	struct tunnel *t;
	uint8_t sk[32], pk[32];
	char ident[8];
};

static struct test_rng rng;

static int k_find(const struct kern *k, uint32_t spi)
{
	for (size_t i = 0; i < k->n_in; i++)
		if (k->in[i].spi == spi)
			return (int)i;
	return -1;
}

static int op_send(void *ctx, enum tunnel_msg type, bool response,
		   const uint8_t *p, size_t len)
{
	struct side *s = ctx;
	struct net *n = s->net;

	if (type == TUNNEL_MSG_KEEPALIVE && !response)
		n->keepalives[s->id]++;
	if (n->drop_next[s->id]) {
		n->drop_next[s->id]--;
		return 0;
	}
	if (n->n == sizeof(n->q) / sizeof(n->q[0]))
		return EPOCH_ERR_NO_SPACE;
	n->q[n->n].to = !s->id;
	n->q[n->n].type = type;
	n->q[n->n].response = response;
	n->q[n->n].p = malloc(len);
	memcpy(n->q[n->n].p, p, len);
	n->q[n->n].len = len;
	n->n++;
	return 0;
}

static int op_alloc_spi(void *ctx, uint32_t *spi)
{
	struct side *s = ctx;

	*spi = s->k.next_spi++;
	return 0;
}

static int op_in_add(void *ctx, uint32_t spi, const uint8_t *key, size_t len)
{
	struct kern *k = &((struct side *)ctx)->k;

	if (len != KEY_LEN || k_find(k, spi) >= 0 || k->n_in == MAX_IN)
		return EPOCH_ERR_INVALID_ARG;
	k->in[k->n_in].spi = spi;
	memcpy(k->in[k->n_in].key, key, KEY_LEN);
	k->n_in++;
	return 0;
}

static int op_in_del(void *ctx, uint32_t spi)
{
	struct kern *k = &((struct side *)ctx)->k;
	int i = k_find(k, spi);

	if (i < 0)
		return EPOCH_ERR_INVALID_ARG;
	/* Deleting what the peer still sends on loses its packets. */
	if (k->peer->has_out && k->peer->out_spi == spi)
		k->violations++;
	k->in[i] = k->in[--k->n_in];
	return 0;
}

static int op_out_switch(void *ctx, uint32_t spi, const uint8_t *key,
			 size_t len, uint32_t old)
{
	struct kern *k = &((struct side *)ctx)->k;
	int i = k_find(k->peer, spi);

	if (len != KEY_LEN || (k->has_out ? old != k->out_spi : old != 0))
		return EPOCH_ERR_INVALID_ARG;
	/* Sending before the peer can receive, or with another key. */
	if (i < 0 || memcmp(k->peer->in[i].key, key, KEY_LEN) != 0)
		k->violations++;
	k->has_out = true;
	k->out_spi = spi;
	memcpy(k->out_key, key, KEY_LEN);
	return 0;
}

static int op_out_del(void *ctx, uint32_t spi)
{
	struct kern *k = &((struct side *)ctx)->k;

	if (!k->has_out || k->out_spi != spi)
		return EPOCH_ERR_INVALID_ARG;
	k->has_out = false;
	return 0;
}

static const struct tunnel_ops ops_tmpl = {
	NULL,	       op_send,	      op_alloc_spi, op_in_add,
	op_in_del,     op_out_switch, op_out_del,
};

static const uint8_t params[] = { 0xf0, 0xe0, 0x02, 0x01, 0x02 };

struct pair {
	struct net net;
	struct side s[2]; /* 0: initiator, 1: responder */
	uint64_t now;
};

static int pair_init(struct pair *p, uint16_t suite, bool wrong_key)
{
	memset(p, 0, sizeof(*p));
	p->now = 1800000000000ull;
	for (int i = 0; i < 2; i++) {
		struct side *s = &p->s[i];

		s->id = i;
		s->net = &p->net;
		s->k.next_spi = 0x1000u * (unsigned)(i + 1);
		s->k.peer = &p->s[!i].k;
		snprintf(s->ident, sizeof(s->ident), "gw%d", i + 1);
		crypto_ed25519_keygen(&rng.rng, s->sk, s->pk);
	}
	for (int i = 0; i < 2; i++) {
		struct side *s = &p->s[i];
		struct tunnel_cfg c;
		struct tunnel_ops o = ops_tmpl;

		memset(&c, 0, sizeof(c));
		c.initiator = i == 0;
		c.member.suite = suite;
		c.member.identity = (const uint8_t *)s->ident;
		c.member.identity_len = strlen(s->ident);
		c.member.sig_sk = s->sk;
		c.member.sig_pk = s->pk;
		c.member.not_before = 0;
		c.member.not_after = UINT64_MAX >> 1;
		c.member.rng = &rng.rng;
		memcpy(c.peer_key, p->s[!i].pk, 32);
		if (wrong_key && i == 1)
			c.peer_key[0] ^= 1;
		c.esp_alg = 2;
		c.esp_key_len = KEY_LEN;
		c.params = params;
		c.params_len = sizeof(params);
		c.retransmit_ms = 500;
		c.max_tries = 5;
		c.grace_ms = 16000; /* >= 500 * (2^5 - 1) */
		c.dpd_ms = 30000;
		c.restart_ms = 2000;
		o.ctx = s;
		if (!CHECK_OK(tunnel_new(&s->t, &c, &o)))
			return 0;
	}
	return 1;
}

static void pair_free(struct pair *p)
{
	for (size_t i = 0; i < p->net.n; i++)
		free(p->net.q[i].p);
	for (int i = 0; i < 2; i++)
		tunnel_free(p->s[i].t);
}

/* Delivers queued messages (FIFO; `reverse` delivers newest first) until
 * none is left; returns how many were refused. */
static unsigned pump(struct pair *p, bool reverse)
{
	unsigned refused = 0;

	while (p->net.n) {
		struct msg m;
		size_t i = reverse ? p->net.n - 1 : 0;

		m = p->net.q[i];
		memmove(&p->net.q[i], &p->net.q[i + 1],
			(p->net.n - i - 1) * sizeof(m));
		p->net.n--;
		p->now += 1;
		if (tunnel_receive(p->s[m.to].t, m.type, m.response, m.p,
				   m.len, p->now))
			refused++;
		free(m.p);
	}
	return refused;
}

/* Runs timers until time t. */
static void advance(struct pair *p, uint64_t ms)
{
	uint64_t end = p->now + ms;

	while (p->now < end) {
		p->now += 50;
		for (int i = 0; i < 2; i++) {
			if (p->net.traffic)
				tunnel_traffic(p->s[i].t, p->now);
			if (tunnel_next_timer(p->s[i].t) <= p->now)
				tunnel_timer(p->s[i].t, p->now);
		}
		pump(p, false);
	}
}

/* Both established in the same epoch, with the same exporter, each
 * sending on the other's current inbound SA, and no violation so far. */
static int in_step(struct pair *p)
{
	struct tunnel *a = p->s[0].t, *b = p->s[1].t;
	uint8_t ea[32], eb[32];

	return CHECK(tunnel_state(a) == TUNNEL_ESTABLISHED) &&
	       CHECK(tunnel_state(b) == TUNNEL_ESTABLISHED) &&
	       CHECK_EQ_U64(tunnel_epoch(a), tunnel_epoch(b)) &&
	       CHECK(tunnel_spi_out(a) == tunnel_spi_in(b)) &&
	       CHECK(tunnel_spi_out(b) == tunnel_spi_in(a)) &&
	       CHECK(p->s[0].k.out_spi == tunnel_spi_out(a)) &&
	       CHECK(p->s[1].k.out_spi == tunnel_spi_out(b)) &&
	       CHECK_OK(tunnel_export(a, "t", ea, sizeof(ea))) &&
	       CHECK_OK(tunnel_export(b, "t", eb, sizeof(eb))) &&
	       CHECK_MEM(ea, eb, sizeof(ea)) &&
	       CHECK(p->s[0].k.violations == 0) &&
	       CHECK(p->s[1].k.violations == 0);
}

static int handshake(struct pair *p)
{
	return CHECK_OK(tunnel_start(p->s[0].t, p->now)) &&
	       CHECK(pump(p, false) == 0) && in_step(p) &&
	       CHECK_EQ_U64(tunnel_epoch(p->s[0].t), 2);
}

static void test_handshake_and_rekeys(void)
{
	static const uint16_t suites[] = { 0x0001, 0xF00D };

	for (size_t i = 0; i < 2; i++) {
		struct pair p;

		test_begin("handshake and 20 rekeys, suite 0x%04x", suites[i]);
		if (!pair_init(&p, suites[i], false) || !handshake(&p))
			goto next;
		for (int k = 0; k < 20; k++) {
			struct tunnel *c = p.s[k & 1].t;

			if (!CHECK_OK(tunnel_rekey(c, p.now)) ||
			    !CHECK(tunnel_state(c) == TUNNEL_REKEY_SENT) ||
			    !CHECK(pump(&p, false) == 0) || !in_step(&p))
				break;
		}
		CHECK_EQ_U64(tunnel_epoch(p.s[0].t), 22);
		/* After the grace period: one SA per direction, no more. */
		advance(&p, 17000);
		CHECK(p.s[0].k.n_in == 1 && p.s[1].k.n_in == 1);
		in_step(&p);
	next:
		pair_free(&p);
		test_end();
	}
}

/* Both sides commit the same epoch: the initiator's commit wins, the
 * responder's staged commit and its inbound SA are dropped. */
static void test_collisions(void)
{
	struct pair p;

	if (!pair_init(&p, 1, false) || !handshake(&p))
		goto out;
	for (int k = 0; k < 10; k++) {
		uint64_t e = tunnel_epoch(p.s[0].t);

		if (!CHECK_OK(tunnel_rekey(p.s[0].t, p.now)) ||
		    !CHECK_OK(tunnel_rekey(p.s[1].t, p.now)))
			break;
		/* both COMMITs cross; in either delivery order */
		pump(&p, k & 1);
		if (!in_step(&p) || !CHECK_EQ_U64(tunnel_epoch(p.s[0].t), e + 1))
			break;
	}
	advance(&p, 17000);
	CHECK(p.s[0].k.n_in == 1 && p.s[1].k.n_in == 1);
	in_step(&p);
out:
	pair_free(&p);
}

/* A lost COMMIT is retransmitted; a lost EPOCH_ACK is answered again from
 * the cache when the COMMIT comes again; duplicates change nothing. */
static void test_loss_and_duplicates(void)
{
	struct pair p;
	unsigned before;

	if (!pair_init(&p, 1, false) || !handshake(&p))
		goto out;
	/* the COMMIT lost */
	p.net.drop_next[0] = 1;
	CHECK_OK(tunnel_rekey(p.s[0].t, p.now));
	CHECK(p.net.n == 0);
	advance(&p, 600);
	in_step(&p);
	CHECK(tunnel_retransmissions(p.s[0].t) == 1);
	/* the EPOCH_ACK (side 0's answer to side 1's COMMIT) lost */
	p.net.drop_next[0] = 1;
	CHECK_OK(tunnel_rekey(p.s[1].t, p.now));
	pump(&p, false);
	CHECK(tunnel_state(p.s[1].t) == TUNNEL_REKEY_SENT);
	CHECK(tunnel_state(p.s[0].t) == TUNNEL_ESTABLISHED);
	before = tunnel_rekeys(p.s[0].t);
	advance(&p, 600);
	in_step(&p);
	CHECK(tunnel_rekeys(p.s[0].t) == before); /* not processed twice */
	/* four EPOCH_ACKs in a row lost: the committer keeps sending on the
	 * old SA for 7.5 s; the peer must keep that inbound SA (the model
	 * kernel counts a violation otherwise) */
	p.net.drop_next[0] = 4;
	CHECK_OK(tunnel_rekey(p.s[1].t, p.now));
	advance(&p, 8000);
	in_step(&p);
	/* a COMMIT delivered twice: the second gets the cached ACK, which the
	 * committer refuses harmlessly */
	CHECK_OK(tunnel_rekey(p.s[0].t, p.now));
	if (CHECK(p.net.n == 1)) {
		struct msg m = p.net.q[0];

		m.p = malloc(m.len);
		memcpy(m.p, p.net.q[0].p, m.len);
		p.net.q[p.net.n++] = m;
	}
	CHECK(pump(&p, false) == 1);
	in_step(&p);
out:
	pair_free(&p);
}

/* No answer: the handshake gives up to DOWN; a rekey gives up back to
 * ESTABLISHED with its staged inbound SA removed. A peer with the wrong
 * key is refused and nothing is installed. */
static void test_give_up_and_wrong_key(void)
{
	struct pair p;

	if (pair_init(&p, 1, false)) {
		p.net.drop_next[0] = 100;
		CHECK_OK(tunnel_start(p.s[0].t, p.now));
		advance(&p, 16000); /* 500 * (2^5 - 1) = 15.5 s */
		CHECK(tunnel_state(p.s[0].t) == TUNNEL_DOWN);
		CHECK(tunnel_retransmissions(p.s[0].t) == 4);
		/* it starts again restart_ms later, by itself */
		CHECK(tunnel_next_timer(p.s[0].t) <= p.now + 2000);
		p.net.drop_next[0] = 0;
		advance(&p, 2500);
		in_step(&p);
		p.net.drop_next[0] = 100;
		CHECK_OK(tunnel_rekey(p.s[0].t, p.now));
		CHECK(p.s[0].k.n_in == 2);
		advance(&p, 20000);
		CHECK(tunnel_state(p.s[0].t) == TUNNEL_ESTABLISHED);
		CHECK(p.s[0].k.n_in == 1);
		p.net.drop_next[0] = 0;
		in_step(&p);
	}
	pair_free(&p);

	if (pair_init(&p, 1, true)) {
		CHECK_OK(tunnel_start(p.s[0].t, p.now));
		CHECK(p.net.n == 1);
		if (p.net.n == 1) {
			CHECK_RC(tunnel_receive(p.s[1].t, p.net.q[0].type,
						false, p.net.q[0].p,
						p.net.q[0].len, p.now),
				 EPOCH_ERR_CREDENTIAL);
			free(p.net.q[0].p);
			p.net.n = 0;
		}
		CHECK(tunnel_state(p.s[1].t) == TUNNEL_DOWN);
		CHECK(p.s[1].k.n_in == 0 && !p.s[1].k.has_out);
	}
	pair_free(&p);
}

/* Kernel expiry events (row 18). */
static void test_expiry(void)
{
	struct pair p;
	struct kern *k;
	uint32_t old_in, out;
	int i;

	if (!pair_init(&p, 1, false) || !handshake(&p))
		goto out;
	k = &p.s[0].k;
	/* soft expiry of the outbound SA: a rekey */
	CHECK_OK(tunnel_expired(p.s[0].t, tunnel_spi_out(p.s[0].t), false,
				p.now));
	CHECK(tunnel_state(p.s[0].t) == TUNNEL_REKEY_SENT);
	/* another one meanwhile changes nothing */
	CHECK_OK(tunnel_expired(p.s[0].t, tunnel_spi_out(p.s[0].t), false,
				p.now));
	CHECK(pump(&p, false) == 0);
	in_step(&p);
	CHECK_EQ_U64(tunnel_epoch(p.s[0].t), 3);
	/* hard expiry of an old inbound SA in its grace period: the kernel
	 * deleted it; the grace timer must not delete it again */
	old_in = k->in[0].spi == tunnel_spi_in(p.s[0].t) ? k->in[1].spi :
							   k->in[0].spi;
	i = k_find(k, old_in);
	if (CHECK(i >= 0 && k->n_in == 2)) {
		k->in[i] = k->in[--k->n_in];
		CHECK_OK(tunnel_expired(p.s[0].t, old_in, true, p.now));
	}
	advance(&p, 17000);
	CHECK(k->n_in == 1);
	/* hard expiry of the current outbound SA: gone from the kernel, a
	 * rekey installs a new one without deleting the old */
	out = tunnel_spi_out(p.s[0].t);
	k->has_out = false;
	CHECK_OK(tunnel_expired(p.s[0].t, out, true, p.now));
	CHECK(pump(&p, false) == 0);
	in_step(&p);
	CHECK(k->has_out && k->out_spi != out);
	/* not ours */
	CHECK_RC(tunnel_expired(p.s[0].t, 0xdead, false, p.now),
		 EPOCH_ERR_INVALID_ARG);
out:
	pair_free(&p);
}

/* Row 19: silence brings a KEEPALIVE, which a live peer answers; ESP
 * traffic keeps it quiet; a dead peer is given up (every SA deleted) and
 * the initiator starts again, so a peer that lost its state (restarted)
 * gets the tunnel back. Row 20: down deletes everything. */
static void test_dpd_and_down(void)
{
	struct pair p;

	if (!pair_init(&p, 1, false) || !handshake(&p))
		goto out;
	/* quiet with traffic */
	p.net.traffic = true;
	advance(&p, 40000);
	CHECK(p.net.keepalives[0] == 0 && p.net.keepalives[1] == 0);
	/* silence: each side asks once per 30 s and gets answers */
	p.net.traffic = false;
	advance(&p, 40000);
	CHECK(p.net.keepalives[0] >= 1 && p.net.keepalives[1] >= 1);
	in_step(&p);
	/* the responder dies (sends nothing, not even ESP) and comes back
	 * without its state */
	p.net.drop_next[1] = 1000;
	p.s[1].k.has_out = false;
	advance(&p, 80000);
	CHECK(tunnel_state(p.s[0].t) != TUNNEL_ESTABLISHED);
	CHECK(p.s[0].k.n_in == 0 && !p.s[0].k.has_out);
	CHECK_OK(tunnel_down(p.s[1].t));
	CHECK(p.s[1].k.n_in == 0 && !p.s[1].k.has_out);
	p.net.drop_next[1] = 0;
	/* the initiator's restarts (every restart_ms after a give-up) reach
	 * the restarted responder */
	advance(&p, 60000);
	in_step(&p);
	CHECK_EQ_U64(tunnel_epoch(p.s[0].t), 2);
	/* administratively down */
	CHECK_OK(tunnel_down(p.s[0].t));
	CHECK(tunnel_state(p.s[0].t) == TUNNEL_DOWN);
	CHECK(p.s[0].k.n_in == 0 && !p.s[0].k.has_out);
	CHECK(tunnel_next_timer(p.s[0].t) == UINT64_MAX);
out:
	pair_free(&p);
}

int main(int argc, char **argv)
{
	(void)argc;
	test_rng_init(&rng, "test_tunnel");
	test_handshake_and_rekeys();
	test_run("collisions", test_collisions);
	test_run("loss_and_duplicates", test_loss_and_duplicates);
	test_run("give_up_and_wrong_key", test_give_up_and_wrong_key);
	test_run("expiry", test_expiry);
	test_run("dpd_and_down", test_dpd_and_down);
	return test_main_end(argv[0]);
}
