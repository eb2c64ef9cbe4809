/* Fuzz target for the tunnel state machine (daemon/tunnel.h): every wire
 * message type as the daemon hands it to tunnel_receive, in every state.
 *
 * Each input builds a real pair of tunnels (initiator and responder, suite
 * 1) on model kernels, as tests/unit/test_tunnel.c does, from a
 * pseudo-random stream that starts anew for every input (its start
 * depends on the scenario), so runs are independent and deterministic.
 * Byte 0 picks the scenario: which side receives and in what state the
 * pair is (see scenarios[] below: DOWN, HELLO_SENT, WELCOME_SENT,
 * JOIN_COMMIT_SENT, ESTABLISHED, REKEY_SENT, a collision, a pending
 * session of a restarted initiator, after KEEPALIVE or CLOSE requests,
 * a RESUME of a peer restarted with its saved state, rows 23-26).
 * The messages the peer sent to get there are dropped from the network;
 * the input takes their place: up to 4 records [u8 op][u16 length][bytes],
 * op bits 0-3 the message type (1-8 and the unused numbers), bit 4 the
 * RESPONSE flag. Afterwards whatever the two sides still send each other
 * is delivered until the network is quiet.
 *
 * Invariants, checked after every record and at the end:
 *  - tunnel_receive returns 0 or a negative EPOCH_ERR_*;
 *  - only messages the peer really sent are accepted (not a HELLO, which
 *    any run's KeyPackage may be, nor a CLOSE response, which is ignored);
 *  - a refused message changes nothing: state, epoch, SPIs, session,
 *    pending session, exporter and the model kernel's SAs are as before;
 *  - the model kernel agrees with the tunnel: its outbound SA is
 *    tunnel_spi_out, its current inbound SA is installed, a tunnel in
 *    DOWN holds no SA;
 *  - no side breaks make-before-break (it sends on an SA its peer has not
 *    installed with the same key, or deletes an inbound SA the peer still
 *    sends on) unless it was torn down (CLOSE) and is DOWN;
 *  - two sides that end ESTABLISHED are in step: same epoch and exporter,
 *    each sending on the other's inbound SA.
 *
 * FUZZ_SEEDS_OUT=dir build/tests/fuzz_tunnel x writes the seed corpus
 * (for every scenario, the messages the peer really sent, as records).
 */
#include <string.h>

#include "daemon/tunnel.h"
#include "proto/codec.h"
#include "proto/crypto.h"
#include "tests/fuzz/fuzz.h"
#include "tests/lib/tunnel_rows.h"

/* Every input builds a pair of tunnels (a few ms): fewer pseudo-random
 * inputs in the unit runs than the driver's default. */
const long fuzz_driver_runs = 400;

#define KEY_LEN 36
#define MAX_IN 32
#define NET_MAX 64
#define RECORDS_MAX 4
#define SENT_MAX 32

/* ---- deterministic randomness ------------------------------------------ */


static struct fuzz_stream stream;
static const struct crypto_rng rng = { fuzz_stream_fill, &stream };

/* ---- model kernel and network -------------------------------------------- */

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
};

struct msg {
	int to;
	enum tunnel_msg type;
	bool response;
	uint8_t *p;
	size_t len;
};

struct side {
	int id;
	struct pair *pair;
	struct kern k;
	struct tunnel *t;
};

struct pair {
	struct msg q[NET_MAX];
	size_t n;
	struct side s[2]; /* 0: initiator, 1: responder */
	uint64_t now;
	/* Every message each side sent (up to SENT_MAX): what may
	 * authenticate. */
	struct msg sent[2][SENT_MAX];
	size_t n_sent[2];
	/* Seeds only: the last messages delivered to each side. */
	bool keep_history;
	struct msg hist[2][RECORDS_MAX];
	size_t n_hist[2];
};

static int k_find(const struct kern *k, uint32_t spi)
{
	for (size_t i = 0; i < k->n_in; i++)
		if (k->in[i].spi == spi)
			return (int)i;
	return -1;
}

/* Whatever the input, every transition the tunnel takes is a row of
 * daemon/tunnel_rows.def (the table the spin model is checked against). */
static void op_row(void *ctx, unsigned id, unsigned ev,
		   enum tunnel_state from, enum tunnel_state to)
{
	(void)ctx;
	if (!tunnel_row_fits(id, ev, from, to)) {
		fprintf(stderr, "row %u does not fit the table: event 0x%x, "
				"%s -> %s\n", id, ev, tunnel_state_name(from),
			tunnel_state_name(to));
		abort();
	}
}

static int op_send(void *ctx, enum tunnel_msg type, bool response,
		   const uint8_t *p, size_t len)
{
	struct side *s = ctx;
	struct pair *pr = s->pair;
	uint8_t *c;

	if (pr->n == NET_MAX)
		return EPOCH_ERR_NO_SPACE;
	c = malloc(len ? len : 1);
	if (!c)
		return EPOCH_ERR_NOMEM;
	if (len)
		memcpy(c, p, len);
	if (pr->n_sent[s->id] < SENT_MAX) {
		struct msg *m = &pr->sent[s->id][pr->n_sent[s->id]];

		m->p = malloc(len ? len : 1);
		if (!m->p) {
			free(c);
			return EPOCH_ERR_NOMEM;
		}
		if (len)
			memcpy(m->p, p, len);
		m->len = len;
		pr->n_sent[s->id]++;
	}
	pr->q[pr->n].to = !s->id;
	pr->q[pr->n].type = type;
	pr->q[pr->n].response = response;
	pr->q[pr->n].p = c;
	pr->q[pr->n].len = len;
	pr->n++;
	return EPOCH_OK;
}

static int op_alloc_spi(void *ctx, uint32_t *spi)
{
	struct side *s = ctx;

	*spi = s->k.next_spi++;
	return EPOCH_OK;
}

static int op_in_add(void *ctx, uint32_t spi, const uint8_t *key, size_t len)
{
	struct kern *k = &((struct side *)ctx)->k;

	if (len != KEY_LEN || k_find(k, spi) >= 0 || k->n_in == MAX_IN)
		return EPOCH_ERR_INVALID_ARG;
	k->in[k->n_in].spi = spi;
	memcpy(k->in[k->n_in].key, key, KEY_LEN);
	k->n_in++;
	return EPOCH_OK;
}

static int op_in_del(void *ctx, uint32_t spi)
{
	struct kern *k = &((struct side *)ctx)->k;
	int i = k_find(k, spi);

	if (i < 0)
		return EPOCH_ERR_INVALID_ARG;
	if (k->peer->has_out && k->peer->out_spi == spi)
		k->violations++; /* the peer still sends on it */
	k->in[i] = k->in[--k->n_in];
	return EPOCH_OK;
}

static int op_out_switch(void *ctx, uint32_t spi, const uint8_t *key,
			 size_t len, uint32_t old)
{
	struct kern *k = &((struct side *)ctx)->k;
	int i = k_find(k->peer, spi);

	if (len != KEY_LEN || (k->has_out ? old != k->out_spi : old != 0))
		return EPOCH_ERR_INVALID_ARG;
	if (i < 0 || memcmp(k->peer->in[i].key, key, KEY_LEN) != 0)
		k->violations++; /* the peer cannot receive it */
	k->has_out = true;
	k->out_spi = spi;
	memcpy(k->out_key, key, KEY_LEN);
	return EPOCH_OK;
}

static int op_out_del(void *ctx, uint32_t spi)
{
	struct kern *k = &((struct side *)ctx)->k;

	if (!k->has_out || k->out_spi != spi)
		return EPOCH_ERR_INVALID_ARG;
	k->has_out = false;
	return EPOCH_OK;
}

/* ---- the pair ------------------------------------------------------------ */

static const uint8_t params[] = { 0xf0, 0xe0, 0x02, 0x01, 0x02 };
static const char *const idents[2] = { "gw1", "gw2" };

static struct {
	bool ready, ready_verbose;
	uint8_t sk[2][32], pk[2][32];
} fx;

static int side_new(struct pair *p, int i)
{
	struct side *s = &p->s[i];
	struct tunnel_ops o = {
		.ctx = s,
		.send = op_send,
		.alloc_spi = op_alloc_spi,
		.sa_in_add = op_in_add,
		.sa_in_del = op_in_del,
		.out_switch = op_out_switch,
		.sa_out_del = op_out_del,
		.row = op_row,
	};
	struct tunnel_cfg c;

	memset(&c, 0, sizeof(c));
	c.initiator = i == 0;
	c.member.suite = 1;
	c.member.identity = (const uint8_t *)idents[i];
	c.member.identity_len = strlen(idents[i]);
	c.member.sig_sk = fx.sk[i];
	c.member.sig_pk = fx.pk[i];
	c.member.not_after = UINT64_MAX >> 1;
	c.member.rng = &rng;
	memcpy(c.peer_key, fx.pk[!i], 32);
	c.esp_alg = 2;
	c.esp_key_len = KEY_LEN;
	c.params = params;
	c.params_len = sizeof(params);
	c.retransmit_ms = 500;
	c.max_tries = 5;
	c.grace_ms = 16000;
	c.dpd_ms = 30000;
	c.restart_ms = 2000;
	return tunnel_new(&s->t, &c, &o);
}

static void net_clear(struct pair *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->q[i].p);
	p->n = 0;
}

static void pair_free(struct pair *p)
{
	net_clear(p);
	for (int i = 0; i < 2; i++) {
		for (size_t j = 0; j < p->n_hist[i]; j++)
			free(p->hist[i][j].p);
		for (size_t j = 0; j < p->n_sent[i]; j++)
			free(p->sent[i][j].p);
	}
	for (int i = 0; i < 2; i++)
		tunnel_free(p->s[i].t);
}

static int pair_init(struct pair *p)
{
	memset(p, 0, sizeof(*p));
	p->now = 1800000000000ull;
	for (int i = 0; i < 2; i++) {
		struct side *s = &p->s[i];

		s->id = i;
		s->pair = p;
		s->k.next_spi = 0x1000u * (unsigned)(i + 1);
		s->k.peer = &p->s[!i].k;
	}
	for (int i = 0; i < 2; i++)
		GUARD(side_new(p, i));
	return EPOCH_OK;
}

/* Delivers the oldest queued message. */
static int pump_one(struct pair *p)
{
	struct msg m = p->q[0];
	int rc;

	memmove(&p->q[0], &p->q[1], (p->n - 1) * sizeof(m));
	p->n--;
	p->now += 1;
	rc = tunnel_receive(p->s[m.to].t, m.type, m.response, m.p, m.len,
			    p->now);
	if (p->keep_history) {
		struct msg *h = p->hist[m.to];
		size_t *n = &p->n_hist[m.to];

		if (*n == RECORDS_MAX) {
			free(h[0].p);
			memmove(&h[0], &h[1], (RECORDS_MAX - 1) * sizeof(m));
			(*n)--;
		}
		h[(*n)++] = m;
	} else {
		free(m.p);
	}
	return rc;
}

/* Delivers until the network is quiet (a bounded number of messages). */
static void pump(struct pair *p)
{
	for (int i = 0; i < 64 && p->n; i++)
		pump_one(p);
}

/* Delivers n queued messages; EPOCH_OK if every one was accepted. */
static int pump_n(struct pair *p, int n)
{
	for (int i = 0; i < n; i++) {
		if (!p->n)
			return EPOCH_ERR_STATE;
		GUARD(pump_one(p));
	}
	return EPOCH_OK;
}

/* Both established, epoch 2. */
static int handshake(struct pair *p)
{
	GUARD(tunnel_start(p->s[0].t, p->now));
	GUARD(pump_n(p, 4)); /* HELLO, WELCOME, COMMIT, EPOCH_ACK */
	if (tunnel_state(p->s[0].t) != TUNNEL_ESTABLISHED ||
	    tunnel_state(p->s[1].t) != TUNNEL_ESTABLISHED || p->n)
		return EPOCH_ERR_STATE;
	return EPOCH_OK;
}

/* Side i's dead-peer timer fires: a KEEPALIVE request. */
static int keepalive(struct pair *p, int i)
{
	p->now += 30001;
	return tunnel_timer(p->s[i].t, p->now);
}

/* The initiator's daemon restarts without state and sends a new HELLO. */
static int restart_initiator(struct pair *p)
{
	struct kern *k = &p->s[0].k;

	tunnel_free(p->s[0].t);
	p->s[0].t = NULL;
	k->n_in = 0;
	k->has_out = false;
	GUARD(side_new(p, 0));
	return tunnel_start(p->s[0].t, p->now);
}

/* ---- scenarios ----------------------------------------------------------- */

/* Each builds the pair and leaves in the network, addressed to side
 * `to`, the messages that side would receive next (the seeds). */
struct scenario {
	const char *name;
	int to;
	int (*build)(struct pair *p);
};

static int sc_down_r(struct pair *p)
{
	return tunnel_start(p->s[0].t, p->now); /* HELLO */
}

static int sc_hello_sent(struct pair *p)
{
	GUARD(tunnel_start(p->s[0].t, p->now));
	return pump_n(p, 1); /* WELCOME */
}

static int sc_welcome_sent(struct pair *p)
{
	GUARD(tunnel_start(p->s[0].t, p->now));
	return pump_n(p, 2); /* join COMMIT */
}

static int sc_join_commit_sent(struct pair *p)
{
	GUARD(tunnel_start(p->s[0].t, p->now));
	return pump_n(p, 3); /* EPOCH_ACK */
}

static int sc_est_r_commit(struct pair *p)
{
	GUARD(handshake(p));
	return tunnel_rekey(p->s[0].t, p->now);
}

static int sc_est_i_commit(struct pair *p)
{
	GUARD(handshake(p));
	return tunnel_rekey(p->s[1].t, p->now);
}

static int sc_rekey_i_ack(struct pair *p)
{
	GUARD(sc_est_r_commit(p));
	return pump_n(p, 1);
}

static int sc_rekey_r_ack(struct pair *p)
{
	GUARD(sc_est_i_commit(p));
	return pump_n(p, 1);
}

/* Both committed the same epoch; each gets the other's COMMIT. */
static int sc_collision(struct pair *p)
{
	GUARD(handshake(p));
	GUARD(tunnel_rekey(p->s[0].t, p->now));
	return tunnel_rekey(p->s[1].t, p->now);
}

static int sc_collision_i(struct pair *p)
{
	GUARD(sc_collision(p));
	/* the initiator's COMMIT to the responder is lost */
	free(p->q[0].p);
	memmove(&p->q[0], &p->q[1], (p->n - 1) * sizeof(p->q[0]));
	p->n--;
	return EPOCH_OK;
}

static int sc_keepalive_r(struct pair *p)
{
	GUARD(handshake(p));
	return keepalive(p, 0);
}

static int sc_keepalive_i(struct pair *p)
{
	GUARD(handshake(p));
	return keepalive(p, 1);
}

static int sc_keepalive_resp(struct pair *p)
{
	GUARD(sc_keepalive_r(p));
	return pump_n(p, 1); /* the responder answers */
}

static int sc_close_r(struct pair *p)
{
	GUARD(handshake(p));
	return tunnel_down(p->s[0].t);
}

static int sc_close_i(struct pair *p)
{
	GUARD(handshake(p));
	return tunnel_down(p->s[1].t);
}

/* Row 22: the responder is established, the initiator restarted. */
static int sc_pending_hello(struct pair *p)
{
	GUARD(handshake(p));
	GUARD(tunnel_rekey(p->s[1].t, p->now));
	GUARD(pump_n(p, 2)); /* a rekey, so old SAs are in their grace */
	return restart_initiator(p); /* the new HELLO */
}

static int sc_pending_commit(struct pair *p)
{
	GUARD(sc_pending_hello(p));
	GUARD(pump_n(p, 2)); /* WELCOME, then the join COMMIT */
	return tunnel_pending(p->s[1].t) ? EPOCH_OK : EPOCH_ERR_STATE;
}

/* DOWN after the peer's CLOSE: the initiator waits for its restart. */
static int sc_closed_i(struct pair *p)
{
	GUARD(sc_close_i(p));
	GUARD(pump_n(p, 1));
	return tunnel_rekey(p->s[0].t, p->now) == EPOCH_ERR_STATE ?
		       EPOCH_OK : EPOCH_ERR_STATE; /* nothing queued */
}

/* Rows 23-26: side i's daemon is killed after its state was saved
 * (`st`); the SAs stay in the kernel; a new tunnel loads the state and
 * sends RESUME. */
static int crash_and_resume(struct pair *p, int i,
			    const struct codec_writer *st)
{
	tunnel_free(p->s[i].t);
	p->s[i].t = NULL;
	GUARD(side_new(p, i));
	GUARD(tunnel_load(p->s[i].t, st->buf, st->len, p->now));
	return tunnel_resume(p->s[i].t, p->now);
}

static void drop_first(struct pair *p)
{
	free(p->q[0].p);
	memmove(&p->q[0], &p->q[1], (p->n - 1) * sizeof(p->q[0]));
	p->n--;
}

/* kind 0: saved while established; 1: its COMMIT never arrived; 2: the
 * peer applied it, the ACK was lost; 3: it applied the peer's commit, its
 * ACK was lost (the peer is still staged: the "+2" case). */
static int resume(struct pair *p, int i, int kind)
{
	struct codec_writer w;
	int rc;

	GUARD(handshake(p));
	codec_writer_init_dynamic(&w, 1 << 20);
	if (kind == 0) {
		rc = tunnel_save(p->s[i].t, &w);
	} else if (kind == 3) {
		rc = tunnel_rekey(p->s[!i].t, p->now);
		if (rc == EPOCH_OK)
			rc = pump_n(p, 1);
		if (rc == EPOCH_OK)
			rc = tunnel_save(p->s[i].t, &w);
		if (rc == EPOCH_OK)
			drop_first(p);
	} else {
		rc = tunnel_rekey(p->s[i].t, p->now);
		if (rc == EPOCH_OK)
			rc = tunnel_save(p->s[i].t, &w);
		if (rc == EPOCH_OK && kind == 2)
			rc = pump_n(p, 1);
		if (rc == EPOCH_OK)
			drop_first(p);
	}
	if (rc == EPOCH_OK)
		rc = crash_and_resume(p, i, &w);
	codec_writer_free(&w);
	return rc;
}

static int sc_resume_idle_r(struct pair *p)
{
	return resume(p, 0, 0);
}

static int sc_resume_lost_r(struct pair *p)
{
	return resume(p, 0, 1);
}

static int sc_resume_ack_lost_r(struct pair *p)
{
	return resume(p, 0, 2);
}

static int sc_resume_plus_two_i(struct pair *p)
{
	return resume(p, 1, 3);
}

static int sc_resume_idle_i(struct pair *p)
{
	return resume(p, 1, 0);
}

static const struct scenario scenarios[] = {
	{ "down-r-hello", 1, sc_down_r },
	{ "hello-sent-welcome", 0, sc_hello_sent },
	{ "welcome-sent-commit", 1, sc_welcome_sent },
	{ "join-commit-sent-ack", 0, sc_join_commit_sent },
	{ "established-r-commit", 1, sc_est_r_commit },
	{ "established-i-commit", 0, sc_est_i_commit },
	{ "rekey-sent-i-ack", 0, sc_rekey_i_ack },
	{ "rekey-sent-r-ack", 1, sc_rekey_r_ack },
	{ "collision-r-commit", 1, sc_collision },
	{ "collision-i-commit", 0, sc_collision_i },
	{ "established-r-keepalive", 1, sc_keepalive_r },
	{ "established-i-keepalive", 0, sc_keepalive_i },
	{ "keepalive-i-response", 0, sc_keepalive_resp },
	{ "established-r-close", 1, sc_close_r },
	{ "established-i-close", 0, sc_close_i },
	{ "established-r-new-hello", 1, sc_pending_hello },
	{ "pending-r-commit", 1, sc_pending_commit },
	{ "down-i-closed", 0, sc_closed_i },
	{ "resume-r-idle", 1, sc_resume_idle_r },
	{ "resume-r-commit-lost", 1, sc_resume_lost_r },
	{ "resume-r-ack-lost", 1, sc_resume_ack_lost_r },
	{ "resume-i-plus-two", 0, sc_resume_plus_two_i },
	{ "resume-i-idle", 0, sc_resume_idle_i },
};

#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

/* ---- invariants ---------------------------------------------------------- */

struct snap {
	enum tunnel_state state;
	uint64_t epoch, session;
	uint32_t spi_in, spi_out;
	bool pending, has_exp;
	uint8_t exp[32];
	size_t n_in;
	bool has_out;
	uint32_t out_spi, in_spis[MAX_IN];
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void snap_take(const struct side *s, struct snap *n)
{
	memset(n, 0, sizeof(*n));
	n->state = tunnel_state(s->t);
	n->epoch = tunnel_epoch(s->t);
	n->session = tunnel_session(s->t);
	n->spi_in = tunnel_spi_in(s->t);
	n->spi_out = tunnel_spi_out(s->t);
	n->pending = tunnel_pending(s->t);
	n->has_exp = tunnel_export(s->t, "fuzz", n->exp, sizeof(n->exp)) ==
		     EPOCH_OK;
	n->n_in = s->k.n_in;
	n->has_out = s->k.has_out;
	n->out_spi = s->k.has_out ? s->k.out_spi : 0;
	for (size_t i = 0; i < s->k.n_in; i++)
		n->in_spis[i] = s->k.in[i].spi;
	qsort(n->in_spis, n->n_in, sizeof(n->in_spis[0]), cmp_u32);
}

/* The one refusal that moves the epoch: a genuine application message of
 * the staged epoch other than the EPOCH_ACK (a KEEPALIVE or CLOSE of a
 * peer that applied our commit, sent on as EPOCH_ACK: the header is not
 * authenticated) applies our staged commit before its length shows it is
 * no EPOCH_ACK. The tunnel stays in its state with its SAs; the real
 * EPOCH_ACK still completes the rekey (a later record or the pump), or
 * the commit's give-up tears down (row 16). */
static bool ack_applied(const struct snap *b, const struct snap *a,
			uint8_t op, int rc)
{
	return (op & 0x0f) == TUNNEL_MSG_EPOCH_ACK &&
	       rc == EPOCH_ERR_MALFORMED &&
	       (b->state == TUNNEL_REKEY_SENT ||
		b->state == TUNNEL_JOIN_COMMIT_SENT) &&
	       a->state == b->state && a->epoch == b->epoch + 1;
}

/* Whether side i sent exactly these bytes during this run. */
static bool was_sent(const struct pair *p, int i, const uint8_t *m,
		     size_t len)
{
	for (size_t j = 0; j < p->n_sent[i]; j++)
		if (p->sent[i][j].len == len &&
		    (len == 0 || memcmp(p->sent[i][j].p, m, len) == 0))
			return true;
	return false;
}

/* The model kernel agrees with what the tunnel says it has. */
static void check_side(const struct side *s)
{
	const struct kern *k = &s->k;
	uint32_t in = tunnel_spi_in(s->t), out = tunnel_spi_out(s->t);

	FUZZ_REQUIRE(out == (k->has_out ? k->out_spi : 0));
	FUZZ_REQUIRE(in == 0 || k_find(k, in) >= 0);
	if (tunnel_state(s->t) == TUNNEL_DOWN) {
		FUZZ_REQUIRE(k->n_in == 0 && !k->has_out);
		FUZZ_REQUIRE(!tunnel_pending(s->t));
	} else {
		FUZZ_REQUIRE(k->violations == 0);
	}
	if (tunnel_state(s->t) == TUNNEL_ESTABLISHED ||
	    tunnel_state(s->t) == TUNNEL_REKEY_SENT)
		FUZZ_REQUIRE(in != 0 && out != 0);
}

static void check_pair(const struct pair *p)
{
	const struct tunnel *a = p->s[0].t, *b = p->s[1].t;
	uint8_t ea[32], eb[32];

	check_side(&p->s[0]);
	check_side(&p->s[1]);
	if (tunnel_state(a) != TUNNEL_ESTABLISHED ||
	    tunnel_state(b) != TUNNEL_ESTABLISHED)
		return;
	FUZZ_REQUIRE(tunnel_epoch(a) == tunnel_epoch(b));
	FUZZ_REQUIRE(tunnel_spi_out(a) == tunnel_spi_in(b));
	FUZZ_REQUIRE(tunnel_spi_out(b) == tunnel_spi_in(a));
	FUZZ_REQUIRE(tunnel_export(a, "fuzz", ea, sizeof(ea)) == EPOCH_OK);
	FUZZ_REQUIRE(tunnel_export(b, "fuzz", eb, sizeof(eb)) == EPOCH_OK);
	FUZZ_REQUIRE(memcmp(ea, eb, sizeof(ea)) == 0);
}

/* ---- seeds --------------------------------------------------------------- */

/* Scenario sc's messages ms (those to its side) as records into
 * dir/name; nothing is written when there are none. */
static void write_seed(const char *dir, const char *name, size_t sc,
		       const struct msg *ms, size_t n)
{
	char path[512];
	FILE *f = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (size_t i = 0, k = 0; i < n && k < RECORDS_MAX; i++) {
		const struct msg *m = &ms[i];

		if (m->to != scenarios[sc].to)
			continue;
		if (!f) {
			f = fopen(path, "wb");
			if (!f)
				abort();
			fputc((int)sc, f);
		}
		fputc((int)m->type | (m->response ? 0x10 : 0), f);
		fputc((int)(m->len >> 8), f);
		fputc((int)(m->len & 0xff), f);
		fwrite(m->p, 1, m->len, f);
		k++;
	}
	if (f)
		fclose(f);
}

static int setup(void)
{
	const char *seeds = getenv("FUZZ_SEEDS_OUT");

	memset(&stream, 0, sizeof(stream));
	for (int i = 0; i < 2; i++)
		GUARD(crypto_ed25519_keygen(&rng, fx.sk[i], fx.pk[i]));
	fx.ready = true;
	for (size_t sc = 0; seeds && sc < N_SCENARIOS; sc++) {
		struct pair p;

		char name[128];

		memset(&stream, 0, sizeof(stream));
		stream.ctr[7] = (uint8_t)(0x80 + sc);
		if (pair_init(&p) != EPOCH_OK)
			abort();
		p.keep_history = true;
		if (scenarios[sc].build(&p) != EPOCH_OK) {
			fprintf(stderr, "scenario %s failed\n",
				scenarios[sc].name);
			abort();
		}
		/* what the peer sent to get here; and replays of what this
		 * side received before */
		write_seed(seeds, scenarios[sc].name, sc, p.q, p.n);
		snprintf(name, sizeof(name), "%s-replay", scenarios[sc].name);
		write_seed(seeds, name, sc, p.hist[scenarios[sc].to],
			   p.n_hist[scenarios[sc].to]);
		pair_free(&p);
	}
	return EPOCH_OK;
}

/* ---- the target ------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct scenario *sc;
	struct pair p;
	struct side *s;
	size_t off = 1;
	static bool verbose;

	if (!fx.ready && setup() != EPOCH_OK)
		abort();
	if (!fx.ready_verbose) {
		verbose = getenv("FUZZ_VERBOSE") != NULL;
		fx.ready_verbose = true;
	}
	if (size < 1)
		return 0;
	sc = &scenarios[data[0] % N_SCENARIOS];
	memset(&stream, 0, sizeof(stream));
	stream.ctr[7] = (uint8_t)(0x80 + data[0] % N_SCENARIOS);
	FUZZ_REQUIRE(pair_init(&p) == EPOCH_OK);
	FUZZ_REQUIRE(sc->build(&p) == EPOCH_OK);
	net_clear(&p); /* the input replaces what the peer sent */
	s = &p.s[sc->to];
	check_pair(&p);
	for (int r = 0; r < RECORDS_MAX && size - off >= 3; r++) {
		uint8_t op = data[off];
		size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
		struct snap before, after;
		int rc;

		off += 3;
		if (len > size - off)
			len = size - off;
		snap_take(s, &before);
		p.now += 1;
		rc = tunnel_receive(s->t, (enum tunnel_msg)(op & 0x0f),
				    op & 0x10, data + off, len, p.now);
		off += len;
		if (verbose)
			fprintf(stderr, "%s: type %u%s, %zu bytes: %d, %s\n",
				sc->name, op & 0x0fu,
				op & 0x10 ? " response" : "", len, rc,
				tunnel_state_name(tunnel_state(s->t)));
		FUZZ_REQUIRE(rc <= 0);
		/* Only the peer's own messages are accepted (nobody else can
		 * make one that authenticates), except a HELLO (a KeyPackage
		 * signed with the pinned key may come from any run) and a
		 * CLOSE response (ignored). */
		if (rc == EPOCH_OK && (op & 0x0f) != TUNNEL_MSG_HELLO &&
		    !((op & 0x0f) == TUNNEL_MSG_CLOSE && (op & 0x10)))
			FUZZ_REQUIRE(was_sent(&p, !sc->to, data + off - len,
					      len));
		if (rc != EPOCH_OK) {
			snap_take(s, &after);
			if (ack_applied(&before, &after, op, rc)) {
				after.epoch = before.epoch;
				memcpy(after.exp, before.exp, sizeof(after.exp));
			}
			FUZZ_REQUIRE(memcmp(&before, &after,
					    sizeof(before)) == 0);
		}
		check_pair(&p);
	}
	pump(&p);
	check_pair(&p);
	pair_free(&p);
	return 0;
}
