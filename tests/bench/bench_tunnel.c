/* epoch-bench: two daemon/tunnel.h state machines talking to each other
 * in-process through the real wire framing of daemon/wire.h (headers,
 * wire_fragment at the default MTU of 1280, wire_decode and reassembly on
 * the receiving side), each on a minimal fake kernel (SPIs from a counter,
 * SA operations only counted). Framing as the daemon does it
 * (daemon/daemon.c op_send): the tunnel's message is the whole payload
 * (HELLO carries an empty cookie<V> and the KeyPackage), responses
 * carry the request's msg_id, requests count up per side.
 *
 * Figures, for each suite epochd offers (xwing = 0xF00D, aes128 = 0x0001
 * X25519/AES-128-GCM, chacha = 0x0003 X25519/ChaCha20-Poly1305):
 *   handshake_bytes_<s>      UDP payload bytes (epochd's 32-byte header
 *   handshake_datagrams_<s>  included) and datagrams of HELLO, WELCOME,
 *                            COMMIT, EPOCH_ACK
 *   rekey_bytes_<s>          the same for one rekey (COMMIT + EPOCH_ACK)
 *   rekey_datagrams_<s>
 *   tunnel_rekeys_per_s_<s>  rekeys (commit and ack processed by both
 *                            sides, SAs on the fake kernel) per second
 * IP and UDP headers are extra: 48 bytes per datagram over IPv6, 28 over
 * IPv4 (multiply by the datagram count). A "#" line per message gives the
 * payload and wire sizes behind each sum.
 */
#include "tests/bench/bench_tunnel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/keyfile.h"
#include "daemon/tunnel.h"
#include "daemon/wire.h"
#include "proto/crypto.h"
#include "proto/mls.h"

#define TB_QUEUE 64
#define TB_KEY_LEN 36  /* aes256gcm: key and salt */
#define TB_ESP_ALG 2   /* daemon.c's code for aes256gcm */

struct tb_count {
	size_t bytes, dgrams;
	/* per message type: payload bytes, datagrams, last one sent */
	size_t msg_len[10], msg_dgrams[10], msg_n[10];
};

struct tb_pair;

struct tb_side {
	int id;
	struct tb_pair *p;
	struct tunnel *t;
	struct wire_reasm ra;
	uint32_t next_spi, next_id, cur_id;
	unsigned n_in;
	uint8_t sk[32], pk[32];
	char ident[KEY_B64_LEN + 1];
};

struct tb_dgram {
	int to;
	size_t len;
	uint8_t *p;
};

struct tb_pair {
	const char *name;
	uint16_t suite;
	struct wire_limits lim;
	struct tb_side s[2]; /* 0: initiator, 1: responder */
	uint64_t isid, rsid, now;
	struct tb_dgram q[TB_QUEUE];
	size_t q_head, q_n;
	struct tb_count c;
	int turn;
	/* results */
	struct tb_count hs, rk[2]; /* handshake; rekey by side 0, side 1 */
};

static struct tb_pair tb_pairs[3] = {
	{ .name = "xwing", .suite = MLS_SUITE_XWING_AES256GCM_SHA512_ED25519 },
	{ .name = "aes128",
	  .suite = MLS_SUITE_X25519_AES128GCM_SHA256_ED25519 },
	{ .name = "chacha",
	  .suite = MLS_SUITE_X25519_CHACHA20_SHA256_ED25519 },
};

/* The GroupContext extensions: one MLS_EXT_EPOCHD_TUNNEL (0xF0E0) whose
 * 16 bytes are the tunnel parameters as daemon.c builds them for the demo
 * topology: version 1, aes256gcm, one IPv4 /24 each way. */
static const uint8_t tb_params[] = { 0xf0, 0xe0, 16, 1, TB_ESP_ALG, 1, 4, 24,
				     198, 51, 100, 0, 1, 4, 24, 203, 0, 113,
				     0 };

static int tb_send(void *ctx, enum tunnel_msg type, bool response,
		   const uint8_t *msg, size_t len)
{
	struct tb_side *s = ctx;
	struct tb_pair *p = s->p;
	struct wire_header h;
	struct wire_datagrams dg;
	int rc;

	memset(&h, 0, sizeof(h));
	h.type = (uint8_t)type;
	h.flags = (uint8_t)((response ? WIRE_F_RESPONSE : 0) |
			    (s->id == 0 ? WIRE_F_INITIATOR : 0));
	h.isid = p->isid;
	h.rsid = type == TUNNEL_MSG_HELLO ? 0 : p->rsid;
	h.msg_id = response ? s->cur_id : s->next_id++;
	if (type == TUNNEL_MSG_HELLO && !response) {
		/* An empty cookie<V> in front of the KeyPackage, as
		 * epochd sends it. */
		uint8_t *hello = malloc(len + 1);

		if (!hello)
			return EPOCH_ERR_NOMEM;
		hello[0] = 0;
		memcpy(hello + 1, msg, len);
		rc = wire_fragment(&p->lim, &h, hello, len + 1, &dg);
		free(hello);
		len++;
	} else {
		rc = wire_fragment(&p->lim, &h, msg, len, &dg);
	}
	if (rc < 0)
		return EPOCH_ERR_INVALID_ARG;
	for (size_t i = 0; i < dg.count; i++) {
		size_t l, at = (p->q_head + p->q_n) % TB_QUEUE;
		const uint8_t *d = wire_datagram(&dg, i, &l);

		if (p->q_n == TB_QUEUE ||
		    l > p->lim.mtu - WIRE_IP_UDP_OVERHEAD) {
			wire_datagrams_free(&dg);
			return EPOCH_ERR_NO_SPACE;
		}
		p->q[at].to = !s->id;
		p->q[at].len = l;
		p->q[at].p = malloc(l);
		if (!p->q[at].p) {
			wire_datagrams_free(&dg);
			return EPOCH_ERR_NOMEM;
		}
		memcpy(p->q[at].p, d, l);
		p->q_n++;
		p->c.bytes += l;
		p->c.dgrams++;
	}
	p->c.msg_len[type] = len;
	p->c.msg_dgrams[type] = dg.count;
	p->c.msg_n[type]++;
	wire_datagrams_free(&dg);
	return EPOCH_OK;
}

static int tb_alloc_spi(void *ctx, uint32_t *spi)
{
	*spi = ((struct tb_side *)ctx)->next_spi++;
	return EPOCH_OK;
}

static int tb_in_add(void *ctx, uint32_t spi, const uint8_t *key,
		     size_t len)
{
	(void)spi;
	(void)key;
	(void)len;
	((struct tb_side *)ctx)->n_in++;
	return EPOCH_OK;
}

static int tb_in_del(void *ctx, uint32_t spi)
{
	(void)spi;
	((struct tb_side *)ctx)->n_in--;
	return EPOCH_OK;
}

static int tb_out_switch(void *ctx, uint32_t spi, const uint8_t *key,
			 size_t len, uint32_t old)
{
	(void)ctx;
	(void)spi;
	(void)key;
	(void)len;
	(void)old;
	return EPOCH_OK;
}

static int tb_out_del(void *ctx, uint32_t spi)
{
	(void)ctx;
	(void)spi;
	return EPOCH_OK;
}

/* Delivers every queued datagram (FIFO), through wire_decode and the
 * receiver's reassembly, until none is left; the first refusal stops. */
static int tb_pump(struct tb_pair *p)
{
	while (p->q_n) {
		struct tb_dgram d = p->q[p->q_head];
		struct tb_side *r = &p->s[d.to];
		struct wire_header h;
		struct wire_message m;
		const uint8_t *frag;
		size_t frag_len;
		int rc;

		p->q_head = (p->q_head + 1) % TB_QUEUE;
		p->q_n--;
		p->now++;
		rc = wire_decode(d.p, d.len, &h, &frag, &frag_len);
		if (rc == EPOCH_OK)
			rc = wire_reasm_feed(&r->ra, &h, frag, frag_len, p->now,
					     &m);
		if (rc == 1) {
			if (h.type == WIRE_WELCOME)
				p->rsid = m.hdr.rsid;
			r->cur_id = m.hdr.msg_id;
			/* HELLO: skip the (empty) cookie. */
			size_t skip = m.hdr.type == WIRE_HELLO && m.len ? 1 : 0;

			rc = tunnel_receive(r->t, (enum tunnel_msg)m.hdr.type,
					    m.hdr.flags & WIRE_F_RESPONSE,
					    m.data + skip, m.len - skip,
					    p->now);
			wire_message_free(&m);
		}
		free(d.p);
		if (rc < 0)
			return rc;
	}
	return EPOCH_OK;
}

static int tb_in_step(const struct tb_pair *p, uint64_t epoch)
{
	const struct tunnel *a = p->s[0].t, *b = p->s[1].t;

	if (tunnel_state(a) != TUNNEL_ESTABLISHED ||
	    tunnel_state(b) != TUNNEL_ESTABLISHED ||
	    tunnel_epoch(a) != epoch || tunnel_epoch(b) != epoch ||
	    tunnel_spi_out(a) != tunnel_spi_in(b) ||
	    tunnel_spi_out(b) != tunnel_spi_in(a))
		return EPOCH_ERR_STATE;
	return EPOCH_OK;
}

static int tb_rekey(struct tb_pair *p)
{
	uint64_t e = tunnel_epoch(p->s[0].t);
	struct tb_side *c = &p->s[p->turn];

	p->turn ^= 1;
	GUARD(tunnel_rekey(c->t, p->now));
	GUARD(tb_pump(p));
	return tb_in_step(p, e + 1);
}

static int tb_init(struct tb_pair *p)
{
	static const struct tunnel_ops ops = {
		NULL,	   tb_send,	  tb_alloc_spi, tb_in_add,
		tb_in_del, tb_out_switch, tb_out_del,	NULL, NULL,
	};

	wire_limits_default(&p->lim); /* mtu 1280 */
	p->now = 1800000000000ull;
	p->isid = 0x0123456789abcdefull;
	p->rsid = 0xfedcba9876543210ull;
	for (int i = 0; i < 2; i++) {
		struct tb_side *s = &p->s[i];

		s->id = i;
		s->p = p;
		s->next_spi = 0x10000000u * (unsigned)(i + 1);
		GUARD(crypto_ed25519_keygen(NULL, s->sk, s->pk));
		key_public_encode(s->pk, s->ident);
		GUARD(wire_reasm_init(&s->ra, &p->lim));
	}
	for (int i = 0; i < 2; i++) {
		struct tb_side *s = &p->s[i];
		struct tunnel_cfg c;
		struct tunnel_ops o = ops;

		/* As daemon.c configures a tunnel (defaults of DESIGN §8). */
		memset(&c, 0, sizeof(c));
		c.initiator = i == 0;
		c.member.suite = p->suite;
		c.member.identity = (const uint8_t *)s->ident;
		c.member.identity_len = strlen(s->ident);
		c.member.sig_sk = s->sk;
		c.member.sig_pk = s->pk;
		c.member.not_before = 0;
		c.member.not_after = UINT64_MAX >> 1;
		memcpy(c.peer_key, p->s[!i].pk, 32);
		c.esp_alg = TB_ESP_ALG;
		c.esp_key_len = TB_KEY_LEN;
		c.params = tb_params;
		c.params_len = sizeof(tb_params);
		c.retransmit_ms = 500;
		c.max_tries = 6;
		c.grace_ms = 500 * 63 + 1000;
		c.dpd_ms = 0;
		c.restart_ms = 2000;
		o.ctx = s;
		GUARD(tunnel_new(&s->t, &c, &o));
	}
	return EPOCH_OK;
}

/* The handshake, then one rekey committed by each side, bytes counted. */
static int tb_measure(struct tb_pair *p)
{
	GUARD(tb_init(p));
	memset(&p->c, 0, sizeof(p->c));
	GUARD(tunnel_start(p->s[0].t, p->now));
	GUARD(tb_pump(p));
	GUARD(tb_in_step(p, 2));
	p->hs = p->c;
	for (int i = 0; i < 2; i++) {
		memset(&p->c, 0, sizeof(p->c));
		GUARD(tb_rekey(p));
		p->rk[i] = p->c;
	}
	return EPOCH_OK;
}

int tbench_setup(void)
{
	for (size_t i = 0; i < sizeof(tb_pairs) / sizeof(tb_pairs[0]); i++) {
		int rc = tb_measure(&tb_pairs[i]);

		if (rc < 0) {
			fprintf(stderr, "epoch-bench: tunnel pair %s: %s\n",
				tb_pairs[i].name, result_name(rc));
			return rc;
		}
	}
	return EPOCH_OK;
}

int tbench_rekey_xwing(void)
{
	return tb_rekey(&tb_pairs[0]);
}

int tbench_rekey_aes128(void)
{
	return tb_rekey(&tb_pairs[1]);
}

int tbench_rekey_chacha(void)
{
	return tb_rekey(&tb_pairs[2]);
}

static void tb_explain(const char *what, const struct tb_count *c)
{
	static const enum tunnel_msg types[] = {
		TUNNEL_MSG_HELLO, TUNNEL_MSG_WELCOME, TUNNEL_MSG_COMMIT,
		TUNNEL_MSG_EPOCH_ACK
	};

	printf("# %s:", what);
	for (size_t i = 0; i < 4; i++) {
		enum tunnel_msg t = types[i];

		if (!c->msg_n[t])
			continue;
		printf(" %s %zu B in %zu dgram%s (%zu B with headers)%s",
		       wire_type_name(t), c->msg_len[t], c->msg_dgrams[t],
		       c->msg_dgrams[t] == 1 ? "" : "s",
		       c->msg_len[t] + WIRE_HEADER_LEN * c->msg_dgrams[t],
		       c->msg_n[t] > 1 ? " (sent more than once!)" : "");
	}
	printf("\n");
}

void tbench_print_sizes(int (*sel)(const char *name, int argc, char **argv),
			int argc, char **argv)
{
	bool said = false;

	for (size_t i = 0; i < sizeof(tb_pairs) / sizeof(tb_pairs[0]); i++) {
		const struct tb_pair *p = &tb_pairs[i];
		char n[4][64];
		char what[64];

		snprintf(n[0], sizeof(n[0]), "handshake_bytes_%s", p->name);
		snprintf(n[1], sizeof(n[1]), "handshake_datagrams_%s", p->name);
		snprintf(n[2], sizeof(n[2]), "rekey_bytes_%s", p->name);
		snprintf(n[3], sizeof(n[3]), "rekey_datagrams_%s", p->name);
		if (!sel(n[0], argc, argv) && !sel(n[1], argc, argv) &&
		    !sel(n[2], argc, argv) && !sel(n[3], argc, argv))
			continue;
		if (!said) {
			printf("# UDP payload bytes incl. epochd's 32-byte "
			       "header, MTU 1280; IP/UDP headers extra: 48 B "
			       "per datagram (IPv6), 28 B (IPv4)\n");
			said = true;
		}
		snprintf(what, sizeof(what), "handshake %s (0x%04x)", p->name,
			 p->suite);
		tb_explain(what, &p->hs);
		snprintf(what, sizeof(what), "rekey %s by the initiator",
			 p->name);
		tb_explain(what, &p->rk[0]);
		snprintf(what, sizeof(what), "rekey %s by the responder",
			 p->name);
		tb_explain(what, &p->rk[1]);
		if (sel(n[0], argc, argv))
			printf("BENCH %s %zu bytes\n", n[0], p->hs.bytes);
		if (sel(n[1], argc, argv))
			printf("BENCH %s %zu datagrams\n", n[1], p->hs.dgrams);
		/* The initiator's rekey; the responder's, if it differs, is
		 * on the "#" line above. */
		if (sel(n[2], argc, argv))
			printf("BENCH %s %zu bytes\n", n[2], p->rk[0].bytes);
		if (sel(n[3], argc, argv))
			printf("BENCH %s %zu datagrams\n", n[3],
			       p->rk[0].dgrams);
	}
}

void tbench_free(void)
{
	for (size_t i = 0; i < sizeof(tb_pairs) / sizeof(tb_pairs[0]); i++) {
		struct tb_pair *p = &tb_pairs[i];

		while (p->q_n) {
			free(p->q[p->q_head].p);
			p->q_head = (p->q_head + 1) % TB_QUEUE;
			p->q_n--;
		}
		for (int k = 0; k < 2; k++) {
			tunnel_free(p->s[k].t);
			p->s[k].t = NULL;
			wire_reasm_free(&p->s[k].ra);
			crypto_wipe(p->s[k].sk, sizeof(p->s[k].sk));
		}
	}
}
