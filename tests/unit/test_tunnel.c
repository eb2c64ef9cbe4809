/* daemon/tunnel: two tunnel state machines talking through an in-memory
 * network, each on a model kernel that checks the make-before-break rule
 * on every step: a side may only send on an outbound SA whose twin (same
 * SPI, same key) is installed as inbound on the peer, and an inbound SA
 * may only be deleted when the peer no longer sends on it. Any breach is
 * counted as a violation (it would lose packets) and fails the test.
 * Handshakes for suite 1 and X-Wing, alternating rekeys, collisions,
 * lost, duplicated and late messages, retransmission give-ups and a peer
 * with the wrong key; the initiator restarting without state while the
 * responder is established (row 22), replayed HELLOs, CLOSE both ways,
 * the restart backoff. A side that goes down on purpose (tunnel_down)
 * sets its kernel's `down`: its deletions are the intended teardown, not
 * breaches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/tunnel.h"
#include "proto/crypto.h"
#include "tests/lib/test.h"
#include "tests/lib/tunnel_rows.h"

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
	bool down; /* tearing down on purpose: losses intended */
	unsigned fail_adds; /* refuse this many inbound SA installs */
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
	if (k->fail_adds) {
		k->fail_adds--;
		return EPOCH_ERR_STATE;
	}
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
	if (!k->down && k->peer->has_out && k->peer->out_spi == spi)
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

/* The transition table (daemon/tunnel_rows.def): every row the C code
 * takes in these tests must fit it (start state, event, end state), and
 * by the end each row of tunnel.c must have been taken. The spin model
 * (tests/model) is checked against the same table. */
static bool rows_hit[512];
static unsigned rows_bad, rows_taken;

static void op_row(void *ctx, unsigned id, unsigned ev,
		   enum tunnel_state from, enum tunnel_state to)
{
	(void)ctx;
	rows_taken++;
	if (tunnel_row_fits(id, ev, from, to)) {
		rows_hit[id < 512 ? id : 0] = true;
		return;
	}
	rows_bad++;
	fprintf(stderr, "row %u does not fit the table: event 0x%x, %s -> %s\n",
		id, ev, tunnel_state_name(from), tunnel_state_name(to));
}

/* After all the tests: nothing outside the table, and every row of
 * tunnel.c taken (2a and 23a belong to the daemon). */
static void test_rows(void)
{
	CHECK(rows_taken > 0);
	CHECK_EQ_U64(rows_bad, 0);
	for (size_t i = 0; i < TUNNEL_ROWS_N; i++) {
		unsigned id = tunnel_rows_tab[i].id;

		if (id == 21 || id == 231 || rows_hit[id])
			continue;
		fprintf(stderr, "row %u never taken\n", id);
		CHECK(rows_hit[id]);
	}
}

static const struct tunnel_ops ops_tmpl = {
	NULL,	       op_send,	      op_alloc_spi, op_in_add,
	op_in_del,     op_out_switch, op_out_del,    NULL,
	op_row,
};

static const uint8_t params[] = { 0xf0, 0xe0, 0x02, 0x01, 0x02 };

struct pair {
	struct net net;
	struct side s[2]; /* 0: initiator, 1: responder */
	uint64_t now;
};

/* Settings of the next pair_init (test_backoff): side 0's randomness and
 * restart cap. */
static struct {
	const struct crypto_rng *rng0;
	uint64_t restart_max_ms;
	uint64_t retransmit_cap_ms;
} opt;

static void side_cfg(struct pair *p, int i, uint16_t suite, bool wrong_key,
		     struct tunnel_cfg *cfg)
{
	struct side *s = &p->s[i];
	struct tunnel_cfg c;

	memset(&c, 0, sizeof(c));
	c.initiator = i == 0;
	c.member.suite = suite;
	c.member.identity = (const uint8_t *)s->ident;
	c.member.identity_len = strlen(s->ident);
	c.member.sig_sk = s->sk;
	c.member.sig_pk = s->pk;
	c.member.not_before = 0;
	c.member.not_after = UINT64_MAX >> 1;
	c.member.rng = i == 0 && opt.rng0 ? opt.rng0 : &rng.rng;
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
	c.restart_max_ms = opt.restart_max_ms;
	c.retransmit_cap_ms = opt.retransmit_cap_ms;
	*cfg = c;
}

static int side_new(struct pair *p, int i, uint16_t suite, bool wrong_key)
{
	struct side *s = &p->s[i];
	struct tunnel_cfg c;
	struct tunnel_ops o = ops_tmpl;

	side_cfg(p, i, suite, wrong_key, &c);
	o.ctx = s;
	return CHECK_OK(tunnel_new(&s->t, &c, &o));
}

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
		s->k.side = s;
		snprintf(s->ident, sizeof(s->ident), "gw%d", i + 1);
		crypto_ed25519_keygen(&rng.rng, s->sk, s->pk);
	}
	for (int i = 0; i < 2; i++)
		if (!side_new(p, i, suite, wrong_key))
			return 0;
	return 1;
}

/* The initiator's daemon crashes (its tunnel object gone, SAs left
 * behind) and a new one starts: it flushes the SAs of its reqid range
 * and gets a fresh tunnel with the same keys and config. */
static int restart_initiator(struct pair *p)
{
	struct kern *k = &p->s[0].k;

	tunnel_free(p->s[0].t);
	p->s[0].t = NULL;
	k->n_in = 0;
	k->has_out = false;
	return side_new(p, 0, 1, false);
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

/* Delivers the oldest queued message; returns tunnel_receive's result. */
static int pump_one(struct pair *p)
{
	struct msg m = p->net.q[0];
	int rc;

	memmove(&p->net.q[0], &p->net.q[1], (p->net.n - 1) * sizeof(m));
	p->net.n--;
	p->now += 1;
	rc = tunnel_receive(p->s[m.to].t, m.type, m.response, m.p, m.len,
			    p->now);
	free(m.p);
	return rc;
}

/* Takes the oldest queued message out of the network (the caller frees
 * m->p). */
static int take(struct pair *p, struct msg *m)
{
	if (!CHECK(p->net.n > 0))
		return 0;
	*m = p->net.q[0];
	memmove(&p->net.q[0], &p->net.q[1], (p->net.n - 1) * sizeof(*m));
	p->net.n--;
	return 1;
}

static int deliver(struct pair *p, const struct msg *m)
{
	p->now += 1;
	return tunnel_receive(p->s[m->to].t, m->type, m->response, m->p,
			      m->len, p->now);
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
	/* every round was one collision on each side (rows 14 and 15) */
	CHECK_EQ_U64(tunnel_collisions(p.s[0].t), 10);
	CHECK_EQ_U64(tunnel_collisions(p.s[1].t), 10);
out:
	pair_free(&p);
}

/* While the responder has a commit staged, a COMMIT that claims its epoch
 * but does not authenticate cancels nothing: the responder's rekey goes
 * on (it is processed on a copy of the group). */
static void test_forged_collision(void)
{
	struct pair p;
	struct msg m;
	uint64_t e;

	if (!pair_init(&p, 1, false) || !handshake(&p))
		goto out;
	e = tunnel_epoch(p.s[0].t);
	CHECK_OK(tunnel_rekey(p.s[0].t, p.now));
	CHECK_OK(tunnel_rekey(p.s[1].t, p.now));
	/* the initiator's COMMIT, tampered with, reaches the responder */
	if (take(&p, &m)) {
		m.p[m.len - 1] ^= 1;
		CHECK(deliver(&p, &m) != EPOCH_OK);
		m.p[m.len - 1] ^= 1;
		CHECK(tunnel_state(p.s[1].t) == TUNNEL_REKEY_SENT);
		CHECK(p.s[1].k.n_in == 2); /* its staged inbound SA kept */
		CHECK_EQ_U64(tunnel_collisions(p.s[1].t), 0);
		free(m.p);
	}
	/* the responder's COMMIT reaches the initiator: an authenticated
	 * collision, refused and counted once, also when retransmitted */
	if (take(&p, &m)) {
		CHECK_RC(deliver(&p, &m), EPOCH_ERR_STATE);
		CHECK_RC(deliver(&p, &m), EPOCH_ERR_STATE);
		CHECK_EQ_U64(tunnel_collisions(p.s[0].t), 1);
		CHECK(tunnel_state(p.s[0].t) == TUNNEL_REKEY_SENT);
		free(m.p);
	}
	/* the initiator's retransmission wins */
	advance(&p, 600);
	in_step(&p);
	CHECK_EQ_U64(tunnel_epoch(p.s[0].t), e + 1);
	CHECK_EQ_U64(tunnel_collisions(p.s[1].t), 1);
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

/* No answer: the handshake gives up to DOWN; so does a rekey (row 16),
 * with every SA deleted and a restart scheduled. A peer with the wrong
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
		/* it starts again restart_ms (+ up to 25 %) later, by
		 * itself */
		CHECK(tunnel_next_timer(p.s[0].t) <= p.now + 2500);
		p.net.drop_next[0] = 0;
		advance(&p, 2500);
		in_step(&p);
		p.net.drop_next[0] = 100;
		CHECK_OK(tunnel_rekey(p.s[0].t, p.now));
		CHECK(p.s[0].k.n_in == 2);
		advance(&p, 16000); /* give-up at 15.5 s */
		/* Row 16: the peer may have applied the commit, so the
		 * tunnel goes down (every SA deleted) and starts again. */
		CHECK(tunnel_state(p.s[0].t) == TUNNEL_DOWN);
		CHECK(p.s[0].k.n_in == 0 && !p.s[0].k.has_out);
		CHECK(tunnel_next_timer(p.s[0].t) <= p.now + 2500);
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

/* With retransmit_cap_ms (what epochd uses) the interval doubles up to
 * the cap and the sends go on until the same give-up time: 500 ms
 * doubling to 2 s, give-up at 500 * (2^5 - 1) = 15.5 s: sends at 0, 0.5,
 * 1.5, 3.5, 5.5, ..., 13.5 s (8 retransmissions). A rekey whose ACKs
 * are all lost still completes as soon as one gets through. */
static void test_retransmit_cap(void)
{
	struct pair p;

	opt.retransmit_cap_ms = 2000;
	if (pair_init(&p, 1, false)) {
		p.net.drop_next[0] = 100;
		CHECK_OK(tunnel_start(p.s[0].t, p.now));
		advance(&p, 15400);
		CHECK(tunnel_state(p.s[0].t) == TUNNEL_HELLO_SENT);
		CHECK_EQ_U64(tunnel_retransmissions(p.s[0].t), 8);
		advance(&p, 200);
		CHECK(tunnel_state(p.s[0].t) == TUNNEL_DOWN);
		CHECK_EQ_U64(tunnel_retransmissions(p.s[0].t), 8);
		p.net.drop_next[0] = 0;
		advance(&p, 2600);
		in_step(&p);
		/* the responder's ACKs lost for 12 s: the COMMIT keeps
		 * coming every 2 s and the cached ACK ends the rekey */
		CHECK_OK(tunnel_rekey(p.s[0].t, p.now));
		p.net.drop_next[1] = 100;
		advance(&p, 12000);
		CHECK(tunnel_state(p.s[0].t) == TUNNEL_REKEY_SENT);
		p.net.drop_next[1] = 0;
		advance(&p, 2100);
		CHECK(tunnel_state(p.s[0].t) == TUNNEL_ESTABLISHED);
		CHECK_EQ_U64(tunnel_epoch(p.s[0].t), tunnel_epoch(p.s[1].t));
	}
	pair_free(&p);
	opt.retransmit_cap_ms = 0;
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

/* Row 22: the initiator's daemon restarts without its state while the
 * responder is established (variant 0) or has a rekey of its own under
 * way whose COMMIT got lost (variant 1), with old inbound SAs still in
 * their grace period. The responder keeps the old session until the new
 * one's first COMMIT, then switches: exactly one SA per direction on
 * each side, the old group gone, the session counter one up. */
static void test_restart(void)
{
	for (int v = 0; v < 2; v++) {
		struct pair p;
		struct tunnel *r;
		uint32_t in, out;
		uint64_t sess, e;
		uint8_t x[32], y[32];

		test_begin("restart: responder %s",
			   v ? "in REKEY_SENT" : "established");
		if (!pair_init(&p, 1, false) || !handshake(&p))
			goto next;
		r = p.s[1].t;
		for (int k = 0; k < 3; k++) {
			CHECK_OK(tunnel_rekey(p.s[k & 1].t, p.now));
			CHECK(pump(&p, false) == 0);
			in_step(&p);
		}
		CHECK(p.s[1].k.n_in > 1); /* old SAs in their grace period */
		if (v) {
			p.net.drop_next[1] = 1;
			CHECK_OK(tunnel_rekey(r, p.now));
			CHECK(tunnel_state(r) == TUNNEL_REKEY_SENT);
		}
		sess = tunnel_session(r);
		e = tunnel_epoch(r);
		in = tunnel_spi_in(r);
		out = tunnel_spi_out(r);
		CHECK_OK(tunnel_export(r, "t", x, sizeof(x)));
		if (!restart_initiator(&p))
			goto next;
		CHECK_OK(tunnel_start(p.s[0].t, p.now));
		CHECK_EQ_U64(tunnel_session(p.s[0].t), 1);
		/* the HELLO: a pending session; the old one untouched */
		CHECK_OK(pump_one(&p));
		CHECK(tunnel_pending(r));
		CHECK(tunnel_state(r) == (v ? TUNNEL_REKEY_SENT :
					      TUNNEL_ESTABLISHED));
		CHECK_EQ_U64(tunnel_epoch(r), e);
		CHECK_EQ_U64(tunnel_session(r), sess);
		CHECK(tunnel_spi_in(r) == in && tunnel_spi_out(r) == out);
		CHECK_OK(tunnel_export(r, "t", y, sizeof(y)));
		CHECK_MEM(y, x, sizeof(x));
		/* WELCOME, COMMIT (the switch), EPOCH_ACK */
		CHECK(pump(&p, false) == 0);
		in_step(&p);
		CHECK_EQ_U64(tunnel_epoch(r), 2);
		CHECK_EQ_U64(tunnel_session(r), sess + 1);
		CHECK(!tunnel_pending(r));
		CHECK(tunnel_spi_in(r) != in && tunnel_spi_out(r) != out);
		CHECK_OK(tunnel_export(r, "t", y, sizeof(y)));
		CHECK(memcmp(x, y, sizeof(x)) != 0);
		/* the old session's SAs are gone at once */
		CHECK(p.s[0].k.n_in == 1 && p.s[1].k.n_in == 1);
		CHECK(p.s[0].k.has_out && p.s[1].k.has_out);
		/* no retransmission of the old session's COMMIT (variant 1) */
		advance(&p, 20000);
		CHECK(tunnel_retransmissions(r) == 0);
		in_step(&p);
		/* the new session rekeys both ways */
		for (int k = 0; k < 4; k++) {
			CHECK_OK(tunnel_rekey(p.s[k & 1].t, p.now));
			CHECK(pump(&p, false) == 0);
			in_step(&p);
		}
		CHECK_EQ_U64(tunnel_epoch(r), 6);
		CHECK_EQ_U64(tunnel_session(r), sess + 1);
		advance(&p, 17000);
		CHECK(p.s[0].k.n_in == 1 && p.s[1].k.n_in == 1);
		in_step(&p);
	next:
		pair_free(&p);
		test_end();
	}
}

/* Row 22 against replays: the HELLO that made the current session is
 * refused (KeyPackages are single-use); a HELLO the responder never saw
 * but nobody will complete (a captured one, here from a tunnel object
 * whose answers go nowhere) only fills the pending slot: the session's
 * epoch, SPIs and exporter stay, it still rekeys both ways, and a
 * duplicate of the pending HELLO gets the cached WELCOME again. */
static void test_replayed_hello(void)
{
	struct pair p;
	struct side ghost;
	struct tunnel_cfg c;
	struct tunnel_ops o = ops_tmpl;
	struct msg hello = { 0 }, ghello = { 0 };
	struct tunnel *r;
	uint32_t spi[4];
	uint64_t e, sess;
	uint8_t x[32], y[32];

	memset(&ghost, 0, sizeof(ghost));
	if (!pair_init(&p, 1, false))
		goto out;
	r = p.s[1].t;
	CHECK_OK(tunnel_start(p.s[0].t, p.now));
	if (!take(&p, &hello))
		goto out;
	CHECK_OK(deliver(&p, &hello));
	CHECK(pump(&p, false) == 0);
	if (!in_step(&p))
		goto out;
	for (int k = 0; k < 3; k++) {
		CHECK_OK(tunnel_rekey(p.s[k & 1].t, p.now));
		CHECK(pump(&p, false) == 0);
	}
	in_step(&p);
	e = tunnel_epoch(r);
	sess = tunnel_session(r);
	spi[0] = tunnel_spi_in(p.s[0].t);
	spi[1] = tunnel_spi_out(p.s[0].t);
	spi[2] = tunnel_spi_in(r);
	spi[3] = tunnel_spi_out(r);
	CHECK_OK(tunnel_export(r, "t", x, sizeof(x)));

	/* the old HELLO again */
	CHECK_RC(deliver(&p, &hello), EPOCH_ERR_STATE);
	CHECK(p.net.n == 0);
	CHECK(!tunnel_pending(r));

	/* a fresh HELLO from the initiator's keys that nobody completes:
	 * the WELCOME reaches the established initiator, which refuses it */
	ghost = p.s[0];
	ghost.t = NULL;
	side_cfg(&p, 0, 1, false, &c);
	o.ctx = &ghost;
	if (!CHECK_OK(tunnel_new(&ghost.t, &c, &o)))
		goto out;
	CHECK_OK(tunnel_start(ghost.t, p.now));
	if (!take(&p, &ghello))
		goto out;
	CHECK_OK(deliver(&p, &ghello));
	CHECK(tunnel_pending(r));
	CHECK(p.net.n == 1 && p.net.q[0].type == TUNNEL_MSG_WELCOME);
	CHECK(pump(&p, false) == 1);
	/* its duplicate: the cached WELCOME again */
	CHECK_OK(deliver(&p, &ghello));
	CHECK(p.net.n == 1 && p.net.q[0].type == TUNNEL_MSG_WELCOME);
	CHECK(pump(&p, false) == 1);
	/* nothing changed */
	in_step(&p);
	CHECK_EQ_U64(tunnel_epoch(r), e);
	CHECK_EQ_U64(tunnel_session(r), sess);
	CHECK(tunnel_spi_in(p.s[0].t) == spi[0] &&
	      tunnel_spi_out(p.s[0].t) == spi[1] &&
	      tunnel_spi_in(r) == spi[2] && tunnel_spi_out(r) == spi[3]);
	CHECK_OK(tunnel_export(r, "t", y, sizeof(y)));
	CHECK_MEM(y, x, sizeof(x));
	/* the session still rekeys, with the pending slot taken */
	for (int k = 0; k < 4; k++) {
		CHECK_OK(tunnel_rekey(p.s[k & 1].t, p.now));
		CHECK(pump(&p, false) == 0);
		in_step(&p);
	}
	CHECK_EQ_U64(tunnel_epoch(r), e + 4);
	CHECK(tunnel_pending(r));
	/* and the old HELLO is still refused */
	CHECK_RC(deliver(&p, &hello), EPOCH_ERR_STATE);
	advance(&p, 17000);
	CHECK(p.s[0].k.n_in == 1 && p.s[1].k.n_in == 1);
	in_step(&p);
out:
	free(hello.p);
	free(ghello.p);
	tunnel_free(ghost.t);
	pair_free(&p);
}

/* Row 22, one pending slot: the initiator restarts, gets the WELCOME,
 * commits, and restarts again before that COMMIT arrives. The second
 * HELLO replaces the pending session; the first COMMIT then fails on
 * both groups and changes nothing; the second session takes over. */
static void test_newer_hello(void)
{
	struct pair p;
	struct msg commit = { 0 };
	struct tunnel *r;
	uint32_t in, out;
	uint64_t sess;

	if (!pair_init(&p, 1, false) || !handshake(&p))
		goto out;
	r = p.s[1].t;
	in = tunnel_spi_in(r);
	out = tunnel_spi_out(r);
	sess = tunnel_session(r);
	if (!restart_initiator(&p))
		goto out;
	CHECK_OK(tunnel_start(p.s[0].t, p.now));
	CHECK_OK(pump_one(&p)); /* HELLO A: pending */
	CHECK_OK(pump_one(&p)); /* WELCOME A: joined, COMMIT A queued */
	CHECK(tunnel_state(p.s[0].t) == TUNNEL_JOIN_COMMIT_SENT);
	if (!take(&p, &commit) || !CHECK(commit.type == TUNNEL_MSG_COMMIT))
		goto out;
	if (!restart_initiator(&p))
		goto out;
	CHECK_OK(tunnel_start(p.s[0].t, p.now));
	CHECK_OK(pump_one(&p)); /* HELLO B replaces A */
	CHECK(tunnel_pending(r));
	CHECK(deliver(&p, &commit) != EPOCH_OK);
	CHECK(tunnel_state(r) == TUNNEL_ESTABLISHED);
	CHECK(tunnel_spi_in(r) == in && tunnel_spi_out(r) == out);
	CHECK_EQ_U64(tunnel_session(r), sess);
	CHECK(tunnel_pending(r));
	CHECK(pump(&p, false) == 0); /* WELCOME B, COMMIT B, EPOCH_ACK */
	in_step(&p);
	CHECK_EQ_U64(tunnel_session(r), sess + 1);
	CHECK_EQ_U64(tunnel_epoch(r), 2);
	CHECK(!tunnel_pending(r));
	CHECK(p.s[0].k.n_in == 1 && p.s[1].k.n_in == 1);
	/* the first COMMIT once more: refused, harmless */
	CHECK(deliver(&p, &commit) != EPOCH_OK);
	in_step(&p);
	CHECK_OK(tunnel_rekey(r, p.now));
	CHECK(pump(&p, false) == 0);
	in_step(&p);
	/* a third restart, and that initiator goes down before its COMMIT
	 * arrives: its CLOSE authenticates in the pending session, which
	 * proves the current one's peer gone too: everything goes */
	free(commit.p);
	commit.p = NULL;
	if (!restart_initiator(&p))
		goto out;
	CHECK_OK(tunnel_start(p.s[0].t, p.now));
	CHECK_OK(pump_one(&p)); /* HELLO C: pending */
	CHECK_OK(pump_one(&p)); /* WELCOME C: joined, COMMIT C queued */
	if (!take(&p, &commit))
		goto out;
	p.s[0].k.down = true;
	CHECK_OK(tunnel_down(p.s[0].t));
	p.s[0].k.down = false;
	CHECK(pump(&p, false) == 0); /* CLOSE, its response */
	CHECK(tunnel_state(r) == TUNNEL_DOWN);
	CHECK(!tunnel_pending(r));
	CHECK(p.s[1].k.n_in == 0 && !p.s[1].k.has_out);
	CHECK_RC(deliver(&p, &commit), EPOCH_ERR_STATE);
	CHECK(p.s[0].k.violations == 0 && p.s[1].k.violations == 0);
out:
	free(commit.p);
	pair_free(&p);
}

/* Row 20: CLOSE. The initiator goes down: the responder answers and
 * deletes its SAs, nobody restarts. The responder goes down: the
 * initiator answers, deletes its SAs and restarts after restart_ms (+ up
 * to 25 %); the responder accepts the new HELLO. Tampered, garbage and
 * replayed CLOSEs change nothing; a CLOSE response is ignored. */
static void test_close(void)
{
	static const uint8_t garbage[40] = { 0, 1, 0, 2, 7 };
	struct pair p;
	struct msg c1 = { 0 }, c2 = { 0 };
	uint64_t t0;

	if (!pair_init(&p, 1, false) || !handshake(&p))
		goto out;
	/* the initiator goes down */
	p.s[0].k.down = true;
	CHECK_OK(tunnel_down(p.s[0].t));
	p.s[0].k.down = false;
	CHECK(tunnel_state(p.s[0].t) == TUNNEL_DOWN);
	CHECK(p.s[0].k.n_in == 0 && !p.s[0].k.has_out);
	CHECK(tunnel_next_timer(p.s[0].t) == UINT64_MAX);
	if (!take(&p, &c1) || !CHECK(c1.type == TUNNEL_MSG_CLOSE) ||
	    !CHECK(!c1.response))
		goto out;
	/* tampered, garbage */
	c1.p[c1.len - 1] ^= 1;
	CHECK(deliver(&p, &c1) != EPOCH_OK);
	c1.p[c1.len - 1] ^= 1;
	CHECK(tunnel_receive(p.s[1].t, TUNNEL_MSG_CLOSE, false, garbage,
			     sizeof(garbage), p.now) != EPOCH_OK);
	CHECK(tunnel_state(p.s[1].t) == TUNNEL_ESTABLISHED);
	CHECK(p.s[1].k.n_in == 1 && p.s[1].k.has_out);
	CHECK(p.net.n == 0);
	/* the real one: answered, SAs deleted; the answer is ignored */
	CHECK_OK(deliver(&p, &c1));
	CHECK(tunnel_state(p.s[1].t) == TUNNEL_DOWN);
	CHECK(p.s[1].k.n_in == 0 && !p.s[1].k.has_out);
	CHECK(p.net.n == 1 && p.net.q[0].type == TUNNEL_MSG_CLOSE &&
	      p.net.q[0].response);
	CHECK(pump(&p, false) == 0);
	CHECK(tunnel_state(p.s[0].t) == TUNNEL_DOWN);
	CHECK(tunnel_next_timer(p.s[0].t) == UINT64_MAX);
	CHECK(tunnel_next_timer(p.s[1].t) == UINT64_MAX);
	/* replayed: no group to authenticate it */
	CHECK_RC(deliver(&p, &c1), EPOCH_ERR_STATE);
	CHECK(p.s[0].k.violations == 0 && p.s[1].k.violations == 0);

	/* up again; now the responder goes down */
	if (!handshake(&p))
		goto out;
	p.s[1].k.down = true;
	CHECK_OK(tunnel_down(p.s[1].t));
	p.s[1].k.down = false;
	CHECK(p.s[1].k.n_in == 0 && !p.s[1].k.has_out);
	if (!take(&p, &c2) || !CHECK(c2.type == TUNNEL_MSG_CLOSE))
		goto out;
	CHECK_OK(deliver(&p, &c2));
	t0 = p.now;
	CHECK(tunnel_state(p.s[0].t) == TUNNEL_DOWN);
	CHECK(p.s[0].k.n_in == 0 && !p.s[0].k.has_out);
	CHECK(tunnel_next_timer(p.s[0].t) >= t0 + 2000 &&
	      tunnel_next_timer(p.s[0].t) <= t0 + 2500);
	CHECK(pump(&p, false) == 0); /* the response, ignored */
	CHECK(tunnel_state(p.s[1].t) == TUNNEL_DOWN);
	/* a CLOSE response out of nowhere: accepted, ignored */
	CHECK_OK(tunnel_receive(p.s[1].t, TUNNEL_MSG_CLOSE, true, garbage,
				sizeof(garbage), p.now));
	CHECK(tunnel_state(p.s[1].t) == TUNNEL_DOWN);
	/* the initiator comes back by itself */
	advance(&p, 3000);
	in_step(&p);
	CHECK_EQ_U64(tunnel_epoch(p.s[0].t), 2);
	/* the old CLOSEs belong to gone groups */
	CHECK(deliver(&p, &c1) != EPOCH_OK);
	c2.to = 0;
	CHECK(deliver(&p, &c2) != EPOCH_OK);
	CHECK(tunnel_receive(p.s[0].t, TUNNEL_MSG_CLOSE, false, garbage,
			     sizeof(garbage), p.now) != EPOCH_OK);
	CHECK(p.net.n == 0);
	in_step(&p);
	CHECK_OK(tunnel_rekey(p.s[1].t, p.now));
	CHECK(pump(&p, false) == 0);
	in_step(&p);
out:
	free(c1.p);
	free(c2.p);
	pair_free(&p);
}

/* Randomness for the initiator in test_backoff: its 4-byte draws (the
 * restart jitter) are all 0x00 or all 0xff, so the jitter is 0 or exactly
 * 25 %; every other draw comes from the test's stream. */
struct jit_rng {
	struct crypto_rng rng;
	uint8_t byte;
};

static int jit_fill(void *ctx, uint8_t *out, size_t n)
{
	struct jit_rng *j = ctx;

	if (n != 4)
		return rng.rng.fill(rng.rng.ctx, out, n);
	memset(out, j->byte, n);
	return 0;
}

/* Drives only the initiator's timers, at exactly their deadlines, until
 * it is DOWN; returns the restart delay it then chose. */
static uint64_t until_down(struct pair *p)
{
	struct tunnel *t = p->s[0].t;

	for (int i = 0; i < 100 && tunnel_state(t) != TUNNEL_DOWN; i++) {
		p->now = tunnel_next_timer(t);
		tunnel_timer(t, p->now);
		pump(p, false);
	}
	return tunnel_state(t) == TUNNEL_DOWN ?
		       tunnel_next_timer(t) - p->now : 0;
}

/* Restart backoff: restart_ms doubling up to restart_max_ms, jitter up to
 * 25 % on top, reset once a session is established. */
static void test_backoff(void)
{
	static const uint64_t want[] = { 2000 + 500, 4000, 7000 + 1750, 7000,
					 7000 + 1750 };
	struct jit_rng j = { { jit_fill, &j }, 0xff };
	struct tunnel_cfg c;
	struct tunnel_ops o = ops_tmpl;
	struct tunnel *t;
	struct pair p;
	size_t i;

	opt.rng0 = &j.rng;
	opt.restart_max_ms = 7000;
	if (!pair_init(&p, 1, false))
		goto out;
	t = p.s[0].t;
	/* a cap below restart_ms is refused */
	side_cfg(&p, 0, 1, false, &c);
	c.restart_max_ms = 1999;
	o.ctx = &p.s[0];
	CHECK_RC(tunnel_new(&t, &c, &o), EPOCH_ERR_INVALID_ARG);
	t = p.s[0].t;
	p.net.drop_next[0] = 1000;
	CHECK_OK(tunnel_start(t, p.now));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		j.byte = i & 1 ? 0x00 : 0xff;
		if (!CHECK_EQ_U64(until_down(&p), want[i]))
			break;
		p.now = tunnel_next_timer(t);
		CHECK_OK(tunnel_timer(t, p.now));
		CHECK(tunnel_state(t) == TUNNEL_HELLO_SENT);
	}
	/* the next restart reaches the peer: established, and the backoff
	 * starts over */
	p.net.drop_next[0] = 0;
	p.now = tunnel_next_timer(t); /* the HELLO's retransmission */
	CHECK_OK(tunnel_timer(t, p.now));
	CHECK(pump(&p, false) == 0);
	in_step(&p);
	/* ... then the responder dies: the keepalive gives up */
	p.net.drop_next[1] = 1000;
	p.s[1].k.has_out = false;
	j.byte = 0x00;
	CHECK_EQ_U64(until_down(&p), 2000);
	CHECK(p.s[0].k.violations == 0);
out:
	opt.rng0 = NULL;
	opt.restart_max_ms = 0;
	pair_free(&p);
}

/* ---- restarts with saved state (rows 23-26) ------------------------------ */

/* Side i's daemon is killed: the tunnel's saved bytes `st` are all that
 * is left besides the SAs in the (model) kernel. A new tunnel loads them,
 * finds its SAs there and sends RESUME. */
static int crash_and_resume(struct pair *p, int i, const struct codec_writer *st)
{
	struct side *s = &p->s[i];

	tunnel_free(s->t);
	s->t = NULL;
	if (!side_new(p, i, 1, false) ||
	    !CHECK_OK(tunnel_load(s->t, st->buf, st->len, p->now)))
		return 0;
	if (!CHECK(k_find(&s->k, tunnel_spi_in(s->t)) >= 0) ||
	    !CHECK(s->k.has_out && s->k.out_spi == tunnel_spi_out(s->t)) ||
	    !CHECK(!tunnel_spi_staged(s->t) ||
		   k_find(&s->k, tunnel_spi_staged(s->t)) >= 0))
		return 0;
	return CHECK_OK(tunnel_resume(s->t, p->now)) &&
	       CHECK(tunnel_state(s->t) == TUNNEL_REKEY_SENT);
}

static int save(struct pair *p, int i, struct codec_writer *w)
{
	w->len = 0;
	return CHECK_OK(tunnel_save(p->s[i].t, w));
}

static void drop_one(struct pair *p)
{
	struct msg m;

	if (take(p, &m))
		free(m.p);
}

/* Each scenario, with either side restarting: the tunnel ends in step one
 * epoch (or two) further, with no violation of the no-loss order, and one
 * SA per direction after the grace period. */
static void test_resume(void)
{
	static const char *const names[] = {
		"idle", "commit lost", "ack lost", "plus two", "crossing",
	};

	for (int sc = 0; sc < 5; sc++) {
		for (int i = 0; i < 2; i++) {
			struct pair p;
			struct codec_writer w;
			uint64_t e;
			int want = 1;

			test_begin("resume %s, %s restarts", names[sc],
				   i ? "responder" : "initiator");
			codec_writer_init_dynamic(&w, 1 << 20);
			if (!pair_init(&p, 1, false) || !handshake(&p))
				goto next;
			e = tunnel_epoch(p.s[i].t);
			switch (sc) {
			case 0: /* saved while established */
				if (!save(&p, i, &w))
					goto next;
				break;
			case 1: /* our COMMIT never arrived */
				if (!CHECK_OK(tunnel_rekey(p.s[i].t, p.now)) ||
				    !save(&p, i, &w))
					goto next;
				drop_one(&p);
				break;
			case 2: /* the peer applied it; its ACK was lost */
				if (!CHECK_OK(tunnel_rekey(p.s[i].t, p.now)) ||
				    !save(&p, i, &w) ||
				    !CHECK_OK(pump_one(&p)))
					goto next;
				drop_one(&p);
				break;
			case 3: /* we applied the peer's commit, our ACK
				 * was lost: the peer is still staged */
				if (!CHECK_OK(tunnel_rekey(p.s[!i].t, p.now)) ||
				    !CHECK_OK(pump_one(&p)) || !save(&p, i, &w))
					goto next;
				drop_one(&p);
				want = 2;
				break;
			case 4: /* the peer's COMMIT crosses our RESUME */
				if (!save(&p, i, &w) ||
				    !CHECK_OK(tunnel_rekey(p.s[!i].t, p.now)))
					goto next;
				break;
			}
			if (!crash_and_resume(&p, i, &w))
				goto next;
			pump(&p, false);
			if (!in_step(&p))
				goto next;
			CHECK_EQ_U64(tunnel_epoch(p.s[i].t), e + want);
			advance(&p, 17000);
			CHECK(p.s[0].k.n_in == 1 && p.s[1].k.n_in == 1);
			in_step(&p);
			/* and it goes on rekeying */
			CHECK_OK(tunnel_rekey(p.s[i].t, p.now));
			pump(&p, false);
			in_step(&p);
		next:
			codec_writer_free(&w);
			pair_free(&p);
			test_end();
		}
	}
}

/* Both daemons die while a rekey's EPOCH_ACK is lost (the committer's
 * state is staged, the peer's applied) and come back one after the other:
 * each sends RESUME; the peer's "equal" answer needs the applied commit's
 * hash from its state file. */
static void test_resume_both(void)
{
	for (int i = 0; i < 2; i++) {
		struct pair p;
		struct codec_writer w[2];
		uint64_t e;

		test_begin("resume both, %s committed",
			   i ? "responder" : "initiator");
		codec_writer_init_dynamic(&w[0], 1 << 20);
		codec_writer_init_dynamic(&w[1], 1 << 20);
		if (!pair_init(&p, 1, false) || !handshake(&p))
			goto next;
		e = tunnel_epoch(p.s[0].t);
		if (!CHECK_OK(tunnel_rekey(p.s[i].t, p.now)) ||
		    !save(&p, i, &w[i]) || !CHECK_OK(pump_one(&p)) ||
		    !save(&p, !i, &w[!i]))
			goto next;
		drop_one(&p); /* the EPOCH_ACK */
		if (!crash_and_resume(&p, !i, &w[!i]) ||
		    !crash_and_resume(&p, i, &w[i]))
			goto next;
		pump(&p, false);
		advance(&p, 20000);
		if (in_step(&p))
			CHECK(tunnel_epoch(p.s[0].t) >= e + 2);
		CHECK(p.s[0].k.n_in == 1 && p.s[1].k.n_in == 1);
	next:
		codec_writer_free(&w[0]);
		codec_writer_free(&w[1]);
		pair_free(&p);
		test_end();
	}
}

/* Twenty restarts in a row, alternating sides, each resumed at once. */
static void test_resume_many(void)
{
	struct pair p;
	struct codec_writer w;

	codec_writer_init_dynamic(&w, 1 << 20);
	if (!pair_init(&p, 1, false) || !handshake(&p))
		goto out;
	for (int k = 0; k < 20; k++) {
		if (!save(&p, k & 1, &w) || !crash_and_resume(&p, k & 1, &w))
			break;
		pump(&p, false);
		if (!in_step(&p))
			break;
	}
	CHECK_EQ_U64(tunnel_epoch(p.s[0].t), 22);
out:
	codec_writer_free(&w);
	pair_free(&p);
}

/* State that is not this tunnel's, damaged, in the wrong state, or too
 * old: refused, and a stale RESUME is refused by the peer, which changes
 * nothing there. */
static void test_resume_refused(void)
{
	struct pair p;
	struct codec_writer w, old;
	struct side *s;
	struct tunnel_cfg c;
	struct tunnel_ops o = ops_tmpl;
	struct tunnel *t2 = NULL;
	uint64_t e;

	codec_writer_init_dynamic(&w, 1 << 20);
	codec_writer_init_dynamic(&old, 1 << 20);
	if (!pair_init(&p, 1, false))
		goto out;
	s = &p.s[0];
	CHECK_RC(tunnel_save(s->t, &w), EPOCH_ERR_STATE); /* DOWN */
	if (!handshake(&p) || !save(&p, 0, &old))
		goto out;
	/* another peer key, and the other role */
	side_cfg(&p, 0, 1, false, &c);
	c.peer_key[3] ^= 1;
	o.ctx = s;
	if (CHECK_OK(tunnel_new(&t2, &c, &o))) {
		CHECK_RC(tunnel_load(t2, old.buf, old.len, p.now),
			 EPOCH_ERR_CREDENTIAL);
		CHECK(tunnel_state(t2) == TUNNEL_DOWN);
		CHECK(tunnel_spi_in(t2) == 0);
		tunnel_free(t2);
		t2 = NULL;
	}
	side_cfg(&p, 1, 1, false, &c);
	o.ctx = &p.s[1];
	if (CHECK_OK(tunnel_new(&t2, &c, &o))) {
		CHECK_RC(tunnel_load(t2, old.buf, old.len, p.now),
			 EPOCH_ERR_CREDENTIAL);
		/* damaged: every truncation and a flipped magic */
		for (size_t n = 0; n < old.len; n += 1 + n / 8)
			CHECK(tunnel_load(t2, old.buf, n, p.now) ==
			      EPOCH_ERR_MALFORMED);
		old.buf[0] ^= 1;
		CHECK_RC(tunnel_load(t2, old.buf, old.len, p.now),
			 EPOCH_ERR_MALFORMED);
		old.buf[0] ^= 1;
		tunnel_free(t2);
		t2 = NULL;
	}
	/* two epochs later the saved state is stale */
	for (int k = 0; k < 2; k++) {
		CHECK_OK(tunnel_rekey(p.s[1].t, p.now));
		pump(&p, false);
	}
	e = tunnel_epoch(p.s[1].t);
	tunnel_free(s->t);
	s->t = NULL;
	if (!side_new(&p, 0, 1, false) ||
	    !CHECK_OK(tunnel_load(s->t, old.buf, old.len, p.now)))
		goto out;
	CHECK_RC(tunnel_load(s->t, old.buf, old.len, p.now), EPOCH_ERR_STATE);
	s->k.down = true; /* the stale SAs were deleted: no order to keep */
	p.s[1].k.down = true;
	if (!CHECK_OK(tunnel_resume(s->t, p.now)))
		goto out;
	CHECK_RC(pump_one(&p), EPOCH_ERR_EPOCH);
	CHECK_EQ_U64(tunnel_epoch(p.s[1].t), e);
	CHECK(tunnel_state(p.s[1].t) == TUNNEL_ESTABLISHED);
	/* the restarted side gives up (row 16) and starts a handshake */
	advance(&p, 20000);
	CHECK(tunnel_state(s->t) != TUNNEL_REKEY_SENT);
out:
	codec_writer_free(&w);
	codec_writer_free(&old);
	pair_free(&p);
}

/* The kernel refuses the SA of a peer's commit that was already applied:
 * the tunnel goes down (both sides then agree on nothing) and a new
 * handshake brings it back, whichever side failed. */
static void test_kernel_refuses(void)
{
	for (int i = 0; i < 2; i++) {
		struct pair p;

		test_begin("kernel refuses the new SA on the %s",
			   i ? "responder" : "initiator");
		if (!pair_init(&p, 1, false) || !handshake(&p))
			goto next;
		p.s[i].k.fail_adds = 1;
		p.s[0].k.down = p.s[1].k.down = true;
		if (!CHECK_OK(tunnel_rekey(p.s[!i].t, p.now)))
			goto next;
		CHECK(pump_one(&p) == EPOCH_ERR_STATE);
		CHECK(tunnel_state(p.s[i].t) == TUNNEL_DOWN);
		CHECK(p.s[i].k.n_in == 0 && !p.s[i].k.has_out);
		advance(&p, 120000);
		in_step(&p);
	next:
		pair_free(&p);
		test_end();
	}
}

/* Row 16a: while our commit waits for its EPOCH_ACK, the peer (which
 * applied it; its ACK is lost) sends a KEEPALIVE and then a CLOSE of the
 * new epoch: both dropped unprocessed, our commit stays staged, and the
 * retransmitted COMMIT still fetches the cached ACK. */
static void test_staged_epoch_dropped(void)
{
	struct pair p;
	struct msg c = { 0 }, a = { 0 }, k = { 0 }, cl = { 0 };
	uint64_t e;

	if (!pair_init(&p, 1, false) || !handshake(&p))
		goto out;
	e = tunnel_epoch(p.s[0].t);
	CHECK_OK(tunnel_rekey(p.s[0].t, p.now));
	if (!take(&p, &c) || !CHECK(c.type == TUNNEL_MSG_COMMIT))
		goto out;
	CHECK_OK(deliver(&p, &c));
	if (!take(&p, &a) || !CHECK(a.type == TUNNEL_MSG_EPOCH_ACK))
		goto out; /* the ACK is lost: a stays out of the network */
	/* the peer's DPD: a KEEPALIVE of epoch e + 1 */
	p.now += 60000;
	CHECK_OK(tunnel_timer(p.s[1].t, p.now));
	if (!take(&p, &k) || !CHECK(k.type == TUNNEL_MSG_KEEPALIVE))
		goto out;
	CHECK_RC(deliver(&p, &k), EPOCH_ERR_EPOCH);
	CHECK(tunnel_state(p.s[0].t) == TUNNEL_REKEY_SENT);
	CHECK_EQ_U64(tunnel_epoch(p.s[0].t), e);
	/* the ACK's retransmission completes the rekey */
	CHECK_OK(deliver(&p, &a));
	CHECK(tunnel_state(p.s[0].t) == TUNNEL_ESTABLISHED);
	CHECK_EQ_U64(tunnel_epoch(p.s[0].t), e + 1);
	pump(&p, false);
	/* again, now with a CLOSE of the staged epoch */
	free(c.p);
	free(a.p);
	c.p = a.p = NULL;
	CHECK_OK(tunnel_rekey(p.s[1].t, p.now));
	if (!take(&p, &c) || !CHECK(c.type == TUNNEL_MSG_COMMIT))
		goto out;
	CHECK_OK(deliver(&p, &c));
	if (!take(&p, &a))
		goto out;
	p.s[0].k.down = true;
	CHECK_OK(tunnel_down(p.s[0].t));
	if (!take(&p, &cl) || !CHECK(cl.type == TUNNEL_MSG_CLOSE))
		goto out;
	e = tunnel_epoch(p.s[1].t);
	CHECK_RC(deliver(&p, &cl), EPOCH_ERR_EPOCH);
	/* not torn down by it (the peer's teardown was on purpose: its
	 * kernel's deletions are not counted as breaches) */
	CHECK(tunnel_state(p.s[1].t) == TUNNEL_REKEY_SENT);
	CHECK_EQ_U64(tunnel_epoch(p.s[1].t), e);
	CHECK(p.s[1].k.n_in == 2 && p.s[1].k.has_out);
out:
	free(c.p);
	free(a.p);
	free(k.p);
	free(cl.p);
	pair_free(&p);
}

/* The model's finding (tests/model, -DBAD_NO_REARM): the committer
 * restarts late in the peer's grace period, its commit applied there but
 * the ACK lost; until the repeated ACK reaches it, it still sends on its
 * old outbound SA. The RESUME, answered again, renews the peer's grace
 * period for its old inbound SA (once). */
static void test_resume_rearms_grace(void)
{
	struct codec_writer st;
	struct pair p;
	struct msg c = { 0 }, a = { 0 }, r = { 0 };
	uint32_t old_in;

	codec_writer_init_dynamic(&st, 1u << 20);
	if (!pair_init(&p, 1, false) || !handshake(&p))
		goto out;
	old_in = tunnel_spi_in(p.s[1].t);
	CHECK_OK(tunnel_rekey(p.s[0].t, p.now));
	if (!save(&p, 0, &st) || !take(&p, &c))
		goto out;
	CHECK_OK(deliver(&p, &c)); /* applied by the responder */
	if (!take(&p, &a) || !CHECK(a.type == TUNNEL_MSG_EPOCH_ACK))
		goto out; /* lost */
	/* the initiator crashes now and is back 1 s before the grace
	 * period (16 s) of the responder's old inbound SA ends */
	p.now += 15000;
	CHECK_OK(tunnel_timer(p.s[1].t, p.now));
	CHECK(k_find(&p.s[1].k, old_in) >= 0);
	if (!crash_and_resume(&p, 0, &st) || !take(&p, &r) ||
	    !CHECK(r.type == TUNNEL_MSG_RESUME))
		goto out;
	CHECK_OK(deliver(&p, &r)); /* answered again (row 11) */
	free(a.p);
	a.p = NULL;
	if (!take(&p, &a)) /* and lost again */
		goto out;
	/* past the first grace period: the old SA is still there, the
	 * initiator still sends on it */
	p.now += 2000;
	CHECK_OK(tunnel_timer(p.s[1].t, p.now));
	CHECK(k_find(&p.s[1].k, old_in) >= 0);
	CHECK(p.s[0].k.out_spi == old_in);
	/* the next copy gets through: one epoch further, no breach */
	advance(&p, 40000);
	CHECK(in_step(&p));
	CHECK(k_find(&p.s[1].k, old_in) < 0);
out:
	free(c.p);
	free(a.p);
	free(r.p);
	codec_writer_free(&st);
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
	test_run("retransmit_cap", test_retransmit_cap);
	test_run("expiry", test_expiry);
	test_run("dpd_and_down", test_dpd_and_down);
	test_run("forged_collision", test_forged_collision);
	test_restart();
	test_run("replayed_hello", test_replayed_hello);
	test_run("newer_hello", test_newer_hello);
	test_run("close", test_close);
	test_run("backoff", test_backoff);
	test_kernel_refuses();
	test_resume();
	test_resume_both();
	test_run("resume_many", test_resume_many);
	test_run("resume_refused", test_resume_refused);
	test_run("staged_epoch_dropped", test_staged_epoch_dropped);
	test_run("resume_rearms_grace", test_resume_rearms_grace);
	test_run("rows", test_rows);
	return test_main_end(argv[0]);
}
