/* epochd end to end: hostile input (issue 7, "Bad input"). A table of
 * rows, each a hostile message (or file, or control request) with the
 * error the target daemon must name; after every row both daemons are
 * alive and tunnel t1 still carries site traffic through ESP, and every
 * few rows t1 rekeys.
 *
 *  - wire rows: datagrams from gw1's address to gw2's daemon (t1's
 *    reassembler and dispatch): truncated, bad magic/version/type/flags,
 *    fragment counts, oversized, inconsistent fragments, unknown
 *    sessions, garbage HELLO, wrong role;
 *  - MLS rows: this program is itself an MLS peer (a struct tunnel of
 *    daemon/tunnel.h over its own UDP socket at 192.0.2.11 in gw1's
 *    namespace) of a second tunnel t2 on gw2's daemon. With the group's
 *    real keys it sends forged commits (signature, confirmation tag,
 *    epoch, group id, sender, an extra Remove of the daemon), replays of
 *    an old COMMIT and of an EPOCH_ACK, a COMMIT with a wrong session id,
 *    a HELLO whose KeyPackage is signed by a key that is not pinned, a
 *    flood of partial reassemblies. Each is refused, t2 stays on its
 *    epoch and afterwards still rekeys both ways; t1 is unaffected;
 *  - control rows: garbage on the control socket;
 *  - configuration rows: epochd -t and reload with files that have every
 *    kind of error, each naming FILE:LINE and the setting.
 *
 * The target daemons log at debug level (the refusals are debug lines).
 *
 * usage: test_daemon_hostile SITE1 GW1 GW2 SITE2 (as root where ESP works;
 * tests/e2e/run.sh runs it). Harness: daemon_harness.h.
 */
#include "tests/e2e/daemon_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/keyfile.h"
#include "daemon/tunnel.h"
#include "daemon/tunnel_int.h"
#include "daemon/wire.h"
#include "proto/codec.h"
#include "proto/crypto.h"
#include "proto/mls.h"
#include "proto/mls_group.h"
#include "proto/mls_group_int.h"
#include "tests/lib/test.h"

static struct dh_env env;
static struct dh_env *const E = &env;

#define UP_MS 90000
#define REPLY_MS 20000
#define LOG_MS 20000
#define PEER_IP "192.0.2.11"
#define SUITE "x25519-aes128"

static char peer_key_path[PATH_MAX], other_key_path[PATH_MAX];
static char peer_pub[64];
static int rows_done;

static bool has(const char *s, const char *needle)
{
	return s && strstr(s, needle) != NULL;
}

/* ---- the test's own MLS peer (tunnel t2 of gw2's daemon) --------------- */

#define SAVED_MAX 8

struct saved {
	uint8_t type;
	bool response;
	uint32_t msg_id;
	uint8_t *buf;  /* the datagrams, back to back */
	size_t len[8];
	size_t n;
};

struct peer {
	int fd;
	struct sockaddr_in to;
	struct tunnel *t;
	struct wire_limits lim;
	struct wire_reasm ra;
	uint64_t isid, rsid;
	uint32_t next_id;
	uint8_t last_dig[32];
	uint32_t last_id;
	bool have_last;
	const struct wire_header *cur; /* request being answered */
	uint32_t spi;
	uint8_t sk[32], pk[32];
	char pk_b64[KEY_B64_LEN + 1];
	uint8_t params[256];
	size_t params_len;
	struct saved saved[SAVED_MAX]; /* the last messages sent, newest
					* first */
};

static struct peer P;

static void saved_free(struct saved *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

static void save_sent(struct peer *p, uint8_t type, bool response,
		      const struct wire_datagrams *dg)
{
	struct saved *s;
	size_t total = 0, off = 0;

	if (dg->count > 8)
		return;
	saved_free(&p->saved[SAVED_MAX - 1]);
	memmove(&p->saved[1], &p->saved[0],
		(SAVED_MAX - 1) * sizeof(p->saved[0]));
	s = &p->saved[0];
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < dg->count; i++) {
		size_t l;

		wire_datagram(dg, i, &l);
		total += l;
	}
	s->buf = malloc(total ? total : 1);
	if (!s->buf)
		return;
	for (size_t i = 0; i < dg->count; i++) {
		size_t l;
		const uint8_t *d = wire_datagram(dg, i, &l);

		memcpy(s->buf + off, d, l);
		s->len[i] = l;
		off += l;
	}
	s->n = dg->count;
	s->msg_id = (uint32_t)s->buf[24] << 24 | (uint32_t)s->buf[25] << 16 |
		    (uint32_t)s->buf[26] << 8 | s->buf[27];
	s->type = type;
	s->response = response;
}

/* The newest saved message of type (skip: how many newer ones of that
 * type to pass over). */
static const struct saved *saved_find(uint8_t type, bool response, int skip)
{
	for (int i = 0; i < SAVED_MAX; i++)
		if (P.saved[i].buf && P.saved[i].type == type &&
		    P.saved[i].response == response && skip-- == 0)
			return &P.saved[i];
	return NULL;
}

static void send_saved(const struct saved *s)
{
	size_t off = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (sendto(P.fd, s->buf + off, s->len[i], 0,
			   (const struct sockaddr *)&P.to, sizeof(P.to)) < 0)
			printf("  peer: sendto: %s\n", strerror(errno));
		off += s->len[i];
	}
}

/* Frames and sends one message with header h (fragment fields set
 * here). */
static int peer_raw(struct peer *p, const struct wire_header *h,
		    const uint8_t *msg, size_t len, bool save)
{
	struct wire_datagrams dg;
	int rc = wire_fragment(&p->lim, h, msg, len, &dg);

	if (rc < 0) {
		printf("  peer: wire_fragment: %s\n", wire_result_name(rc));
		return rc;
	}
	for (size_t i = 0; i < dg.count; i++) {
		size_t l;
		const uint8_t *d = wire_datagram(&dg, i, &l);

		if (sendto(p->fd, d, l, 0, (const struct sockaddr *)&p->to,
			   sizeof(p->to)) < 0)
			printf("  peer: sendto: %s\n", strerror(errno));
	}
	if (save && (h->type == WIRE_COMMIT || h->type == WIRE_EPOCH_ACK))
		save_sent(p, h->type, h->flags & WIRE_F_RESPONSE, &dg);
	wire_datagrams_free(&dg);
	return 0;
}

/* tunnel_ops.send, framed as daemon.c's op_send does (docs/protocol.md
 * §2-§5): we are the initiator of t2. */
static int op_send(void *ctx, enum tunnel_msg type, bool response,
		   const uint8_t *msg, size_t len)
{
	struct peer *p = ctx;
	struct wire_header h;
	uint8_t dig[32];
	int rc;

	memset(&h, 0, sizeof(h));
	h.type = (uint8_t)type;
	h.flags = (uint8_t)((response ? WIRE_F_RESPONSE : 0) |
			    WIRE_F_INITIATOR);
	if (response) {
		if (!p->cur)
			return EPOCH_ERR_STATE;
		h.isid = p->cur->isid;
		h.rsid = p->cur->rsid;
		h.msg_id = p->cur->msg_id;
	} else {
		if (crypto_hash(CRYPTO_SHA256, msg, len, dig) != 0)
			return EPOCH_ERR_CRYPTO;
		if (p->have_last && memcmp(dig, p->last_dig, 32) == 0) {
			h.msg_id = p->last_id;
		} else {
			if (type == TUNNEL_MSG_HELLO) {
				if (wire_session_id(NULL, &p->isid) < 0)
					return EPOCH_ERR_RNG;
				p->rsid = 0;
				p->next_id = 0;
			}
			h.msg_id = p->next_id++;
			memcpy(p->last_dig, dig, 32);
			p->last_id = h.msg_id;
			p->have_last = true;
		}
		h.isid = p->isid;
		h.rsid = p->rsid;
	}
	if (type == TUNNEL_MSG_HELLO && !response) {
		uint8_t *b = malloc(len + 1);

		if (!b)
			return EPOCH_ERR_NOMEM;
		b[0] = 0; /* no cookie */
		memcpy(b + 1, msg, len);
		rc = peer_raw(p, &h, b, len + 1, true);
		free(b);
	} else {
		rc = peer_raw(p, &h, msg, len, true);
	}
	return rc < 0 ? EPOCH_ERR_INVALID_ARG : EPOCH_OK;
}

static int op_alloc_spi(void *ctx, uint32_t *spi)
{
	struct peer *p = ctx;

	*spi = 0x10000 + ++p->spi; /* 1..255 are reserved (RFC 4303) */
	return EPOCH_OK;
}

static int op_sa_in_add(void *ctx, uint32_t spi, const uint8_t *key,
			size_t key_len)
{
	return EPOCH_OK;
}

static int op_sa_del(void *ctx, uint32_t spi)
{
	return EPOCH_OK;
}

static int op_out_switch(void *ctx, uint32_t spi, const uint8_t *key,
			 size_t key_len, uint32_t old_spi)
{
	return EPOCH_OK;
}

/* One datagram from the socket into the tunnel. */
static void peer_datagram(struct peer *p, const uint8_t *buf, size_t n,
			  uint64_t now)
{
	struct wire_header h;
	struct wire_message m;
	const uint8_t *frag;
	size_t flen;
	int rc;

	if (wire_decode(buf, n, &h, &frag, &flen) < 0)
		return;
	if (wire_reasm_feed(&p->ra, &h, frag, flen, now, &m) != 1)
		return;
	if (m.hdr.type == WIRE_WELCOME && (m.hdr.flags & WIRE_F_RESPONSE) &&
	    m.hdr.isid == p->isid && !p->rsid)
		p->rsid = m.hdr.rsid;
	p->cur = &m.hdr;
	rc = tunnel_receive(p->t, (enum tunnel_msg)m.hdr.type,
			    m.hdr.flags & WIRE_F_RESPONSE, m.data, m.len, now);
	p->cur = NULL;
	if (rc < 0 && m.hdr.type != WIRE_KEEPALIVE)
		printf("  peer: %s%s refused: %s\n",
		       wire_type_name(m.hdr.type),
		       (m.hdr.flags & WIRE_F_RESPONSE) ? " response" : "",
		       wire_result_name(rc));
	wire_message_free(&m);
}

/* Runs the peer (socket, timers) for up to limit_ms or until done()
 * holds. 0 if it does. */
static int peer_run(struct peer *p, int limit_ms, bool (*done)(void *),
		    void *arg)
{
	static uint8_t buf[65536];
	uint64_t end = dh_now_ms() + (uint64_t)limit_ms;

	for (;;) {
		struct pollfd pf = { p->fd, POLLIN, 0 };
		uint64_t now = dh_now_ms();
		ssize_t n;

		if (done && done(arg))
			return 0;
		if (now >= end)
			return -1;
		if (tunnel_next_timer(p->t) <= now)
			tunnel_timer(p->t, now);
		if (poll(&pf, 1, 20) <= 0)
			continue;
		n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n >= 0)
			peer_datagram(p, buf, (size_t)n, dh_now_ms());
	}
}

struct until_epoch {
	uint64_t epoch;
};

static bool peer_up_at(void *arg)
{
	const struct until_epoch *u = arg;

	return tunnel_state(P.t) == TUNNEL_ESTABLISHED &&
	       tunnel_epoch(P.t) >= u->epoch;
}

/* version 1, the ESP algorithm, the initiator's and the responder's
 * traffic selectors (daemon.c params_build), as the GroupContext
 * extension. */
static size_t put_prefixes(uint8_t *p, const struct config_prefix *v,
			   size_t n)
{
	size_t o = 0;

	p[o++] = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		bool v4 = v[i].addr.family == AF_INET;

		p[o++] = v4 ? 4 : 6;
		p[o++] = v[i].plen;
		memcpy(p + o, &v[i].addr.a, v4 ? 4 : 16);
		o += v4 ? 4 : 16;
	}
	return o;
}

static void peer_params(struct peer *p, const struct config_tunnel *c)
{
	uint8_t body[200];
	size_t o = 0;

	body[o++] = 1;
	body[o++] = (uint8_t)(c->esp + 1);
	o += put_prefixes(body + o, c->local_ts, c->n_local_ts);
	o += put_prefixes(body + o, c->remote_ts, c->n_remote_ts);
	p->params[0] = MLS_EXT_EPOCHD_TUNNEL >> 8;
	p->params[1] = MLS_EXT_EPOCHD_TUNNEL & 0xff;
	p->params[2] = (uint8_t)o; /* o < 64 */
	memcpy(p->params + 3, body, o);
	p->params_len = o + 3;
}

/* Our side of t2 as a configuration (parsed by config.c, so the
 * parameters are built from the same values the daemon has). */
static int peer_open(struct peer *p)
{
	static const struct tunnel_ops ops = {
		.send = op_send,
		.alloc_spi = op_alloc_spi,
		.sa_in_add = op_sa_in_add,
		.sa_in_del = op_sa_del,
		.out_switch = op_out_switch,
		.sa_out_del = op_sa_del,
	};
	struct tunnel_ops o = ops;
	struct tunnel_cfg tc;
	struct config c;
	struct sockaddr_in a;
	char text[8192], err[512];
	int rc;

	memset(p, 0, sizeof(p[0]));
	p->fd = -1;
	if (keyfile_load(peer_key_path, p->sk, p->pk, err, sizeof(err)) != 0) {
		printf("  peer: %s\n", err);
		return -1;
	}
	key_public_encode(p->pk, p->pk_b64);
	snprintf(text, sizeof(text),
		 "global = { private_key = \"%s\"; };\n"
		 "tunnels = ( { name = \"t2\"; local = \"" PEER_IP "\";\n"
		 "  remote = \"%s\"; peer_key = \"%s\"; role = \"initiator\";\n"
		 "  suite = \"" SUITE "\";\n"
		 "  local_ts = [ \"198.51.100.128/25\" ];\n"
		 "  remote_ts = [ \"203.0.113.128/25\" ]; } );\n",
		 peer_key_path, dh_ip_gw[1], E->pub[1]);
	memset(&c, 0, sizeof(c));
	if (config_load_string(text, strlen(text), "peer", &c, err,
			       sizeof(err)) != 0) {
		printf("  peer: config: %s\n", err);
		return -1;
	}
	peer_params(p, &c.tunnels[0]);
	memset(&tc, 0, sizeof(tc));
	tc.initiator = true;
	tc.member.suite = c.tunnels[0].suite;
	tc.member.identity = (const uint8_t *)p->pk_b64;
	tc.member.identity_len = strlen(p->pk_b64);
	tc.member.sig_sk = p->sk;
	tc.member.sig_pk = p->pk;
	tc.member.not_after = UINT64_MAX >> 1;
	memcpy(tc.peer_key, c.tunnels[0].peer_key, 32);
	tc.esp_alg = (uint8_t)(c.tunnels[0].esp + 1);
	tc.esp_key_len = 20;
	tc.params = p->params;
	tc.params_len = p->params_len;
	tc.retransmit_ms = 500;
	tc.max_tries = 6;
	tc.retransmit_cap_ms = 2000;
	tc.grace_ms = 40000;
	tc.restart_ms = 3600 * 1000; /* never within the test */
	config_free(&c);
	o.ctx = p;
	rc = tunnel_new(&p->t, &tc, &o);
	if (rc < 0) {
		printf("  peer: tunnel_new: %s\n", wire_result_name(rc));
		return -1;
	}
	wire_limits_default(&p->lim);
	if (wire_reasm_init(&p->ra, &p->lim) < 0)
		return -1;
	p->fd = dh_udp_socket_in(E->ns_gw[0], AF_INET);
	if (p->fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(DH_PORT);
	inet_pton(AF_INET, PEER_IP, &a.sin_addr);
	if (bind(p->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		printf("  peer: bind " PEER_IP ": %s\n", strerror(errno));
		return -1;
	}
	p->to = a;
	inet_pton(AF_INET, dh_ip_gw[1], &p->to.sin_addr);
	return 0;
}

static void peer_close(struct peer *p)
{
	tunnel_free(p->t);
	p->t = NULL;
	wire_reasm_free(&p->ra);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	for (int i = 0; i < SAVED_MAX; i++)
		saved_free(&p->saved[i]);
	crypto_wipe(p->sk, sizeof(p->sk));
}

/* ---- what every row checks afterwards ----------------------------------- */

/* t2's state and epoch on gw2's daemon. 0 or -1. */
static int t2_status(char *state, size_t cap, uint64_t *epoch)
{
	char r[4096];
	const char *s, *q;

	if (dh_ctl(E->d[1].sock, "{\"cmd\":\"status\",\"tunnel\":\"t2\"}", r,
		   sizeof(r), REPLY_MS) != 0 || !has(r, "\"ok\":true"))
		return -1;
	s = strstr(r, "\"state\":\"");
	q = strstr(r, "\"epoch\":");
	if (!s || !q)
		return -1;
	s += 9;
	snprintf(state, cap, "%.*s", (int)strcspn(s, "\""), s);
	*epoch = strtoull(q + 8, NULL, 10);
	return 0;
}

/* Both daemons alive, t1 passes traffic (ping through ESP: the replies
 * come back and gw2's inbound packet counter grew). */
static void after_row(void)
{
	struct dh_status a, b;

	CHECK(dh_alive(E, 0));
	CHECK(dh_alive(E, 1));
	if (!CHECK(dh_status(E, 1, &a) == 0))
		return;
	CHECK(dh_ping(E, 0, 2) == 2);
	CHECK(dh_status(E, 1, &b) == 0 && b.packets_in >= a.packets_in + 2);
	rows_done++;
}

/* ---- wire rows against t1 ------------------------------------------------ */

static int fd1 = -1; /* in gw1's namespace, from 192.0.2.1 */

static void send_raw(int fd, const void *buf, size_t len)
{
	struct sockaddr_in to;

	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons(DH_PORT);
	inet_pton(AF_INET, dh_ip_gw[1], &to.sin_addr);
	if (sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		printf("  sendto: %s\n", strerror(errno));
}

/* A header as bytes (docs/protocol.md §2), without wire_header_encode's
 * checks. */
static void hdr_bytes(uint8_t *b, uint16_t magic, uint8_t version,
		      const struct wire_header *h)
{
	memset(b, 0, WIRE_HEADER_LEN);
	b[0] = (uint8_t)(magic >> 8);
	b[1] = (uint8_t)magic;
	b[2] = version;
	b[3] = h->type;
	b[4] = h->flags;
	b[5] = h->frag_index;
	b[6] = h->frag_count;
	b[7] = 0; /* reserved */
	for (int i = 0; i < 8; i++) {
		b[8 + i] = (uint8_t)(h->isid >> (56 - 8 * i));
		b[16 + i] = (uint8_t)(h->rsid >> (56 - 8 * i));
	}
	for (int i = 0; i < 4; i++) {
		b[24 + i] = (uint8_t)(h->msg_id >> (24 - 8 * i));
		b[28 + i] = (uint8_t)(h->total_len >> (24 - 8 * i));
	}
}

/* Sends a datagram with the header and n payload bytes of fill. */
static void send_dg(int fd, uint16_t magic, uint8_t version,
		    const struct wire_header *h, size_t n, uint8_t fill)
{
	static uint8_t b[65536];

	if (n > sizeof(b) - WIRE_HEADER_LEN)
		n = sizeof(b) - WIRE_HEADER_LEN;
	hdr_bytes(b, magic, version, h);
	memset(b + WIRE_HEADER_LEN, fill, n);
	send_raw(fd, b, WIRE_HEADER_LEN + n);
}

static struct wire_header hdr(uint8_t type, uint8_t flags, uint64_t isid,
			      uint64_t rsid, uint8_t idx, uint8_t count,
			      uint32_t id, uint32_t total)
{
	struct wire_header h = { type, flags, idx, count, isid, rsid, id,
				 total };

	return h;
}

/* A log line of gw2's daemon must appear: its count rises above what it
 * was before the row. */
struct expect {
	const char *what;   /* the row */
	const char *needle; /* in gw2's log */
};

/* Where gw2's log ended when the row began: the expected line must
 * appear after it. */
static long log_mark;

static void row_begin(void)
{
	struct stat st;

	log_mark = stat(E->d[1].log, &st) == 0 ? (long)st.st_size : 0;
}

static bool log_since(long off, const char *needle)
{
	char line[4096];
	FILE *f = fopen(E->d[1].log, "r");
	bool found = false;

	if (!f)
		return false;
	fseek(f, off, SEEK_SET);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static void row_end(const struct expect *x)
{
	uint64_t end = dh_now_ms() + LOG_MS;
	bool ok;

	while (!(ok = log_since(log_mark, x->needle)) && dh_now_ms() < end)
		dh_nap_ms(50);
	printf("  row %-44s expect \"%s\": %s\n", x->what, x->needle,
	       ok ? "seen" : "NOT SEEN");
	CHECK(ok);
	after_row();
}

static uint64_t rnd64(void)
{
	uint64_t v = 0;

	while (v == 0)
		if (wire_session_id(NULL, &v) < 0)
			return 0x1234;
	return v;
}

static void t_wire(void)
{
	static const uint8_t junk[] = "EP\x01\x04not a header";
	const uint8_t I = WIRE_F_INITIATOR;
	struct dh_rekeys rk;
	struct wire_header h;
	uint64_t s1 = rnd64(), s2 = rnd64();

	fd1 = dh_udp_socket_in(E->ns_gw[0], AF_INET);
	if (!CHECK(fd1 >= 0))
		return;
	if (!CHECK(dh_rekeys_begin(E, UP_MS, &rk) == 0))
		return;

	/* 1 */
	row_begin();
	send_raw(fd1, junk, 0);
	row_end(&(struct expect){ "empty datagram",
		"datagram of 0 bytes from 192.0.2.1 dropped: input ends "
		"before the value (EPOCH_ERR_TRUNCATED)" });
	/* 2 */
	row_begin();
	send_raw(fd1, junk, 16);
	row_end(&(struct expect){ "truncated header (16 bytes)",
		"datagram of 16 bytes from 192.0.2.1 dropped: input ends "
		"before the value (EPOCH_ERR_TRUNCATED)" });
	/* 3 */
	h = hdr(WIRE_COMMIT, I, s1, s2, 0, 1, 1, 40);
	row_begin();
	send_dg(fd1, 0x4551, WIRE_VERSION, &h, 40, 0xa5);
	row_end(&(struct expect){ "bad magic", "(WIRE_ERR_MAGIC)" });
	/* 4 */
	row_begin();
	send_dg(fd1, WIRE_MAGIC, 2, &h, 40, 0xa5);
	row_end(&(struct expect){ "wrong version (2)",
		"dropped: unsupported protocol version (WIRE_ERR_VERSION)" });
	/* 5 */
	h = hdr(200, I, s1, s2, 0, 1, 1, 40);
	row_begin();
	send_dg(fd1, WIRE_MAGIC, WIRE_VERSION, &h, 40, 0xa5);
	row_end(&(struct expect){ "unknown type (200)",
		"dropped: unknown message type (WIRE_ERR_TYPE)" });
	/* 6 */
	h = hdr(WIRE_COMMIT, I | 0x80, s1, s2, 0, 1, 1, 40);
	row_begin();
	send_dg(fd1, WIRE_MAGIC, WIRE_VERSION, &h, 40, 0xa5);
	row_end(&(struct expect){ "unknown flag bit", "(WIRE_ERR_FLAGS)" });
	/* 6b */
	h = hdr(WIRE_COMMIT, I, s1, s2, 0, 1, 1, 40);
	row_begin();
	{
		uint8_t b[WIRE_HEADER_LEN + 40];

		hdr_bytes(b, WIRE_MAGIC, WIRE_VERSION, &h);
		b[7] = 1;
		memset(b + WIRE_HEADER_LEN, 0xa5, 40);
		send_raw(fd1, b, sizeof(b));
	}
	row_end(&(struct expect){ "reserved octet 1",
		"dropped: reserved octet not zero (WIRE_ERR_RESERVED)" });
	/* 7 */
	h = hdr(WIRE_COMMIT, I | WIRE_F_RESPONSE, s1, s2, 0, 1, 1, 40);
	row_begin();
	send_dg(fd1, WIRE_MAGIC, WIRE_VERSION, &h, 40, 0xa5);
	row_end(&(struct expect){ "COMMIT flagged as a response",
		"(WIRE_ERR_FLAGS)" });
	CHECK(dh_rekey_step(E, 0, UP_MS, &rk) == 0);
	/* 8 */
	h = hdr(WIRE_HELLO, I, s1, s2, 0, 1, 1, 40);
	row_begin();
	send_dg(fd1, WIRE_MAGIC, WIRE_VERSION, &h, 40, 0xa5);
	row_end(&(struct expect){ "HELLO with a responder session id",
		"(WIRE_ERR_SESSION)" });
	/* 9 */
	h = hdr(WIRE_COMMIT, I, s1, s2, 3, 2, 1, 40);
	row_begin();
	send_dg(fd1, WIRE_MAGIC, WIRE_VERSION, &h, 20, 0xa5);
	row_end(&(struct expect){ "fragment index 3 >= count 2",
		"dropped: fragment index or count invalid (WIRE_ERR_FRAGMENT)"
		});
	/* 10 */
	h = hdr(WIRE_COMMIT, I, s1, s2, 0, 0, 1, 40);
	row_begin();
	send_dg(fd1, WIRE_MAGIC, WIRE_VERSION, &h, 40, 0xa5);
	row_end(&(struct expect){ "fragment count 0",
		"dropped: fragment index or count invalid (WIRE_ERR_FRAGMENT)"
		});
	/* 12 */
	h = hdr(WIRE_COMMIT, I, s1, s2, 0, 1, 3, 70000);
	row_begin();
	send_dg(fd1, WIRE_MAGIC, WIRE_VERSION, &h, 100, 0xa5);
	row_end(&(struct expect){ "total_len 70000 (> 65536)",
		"dropped: message larger than allowed (WIRE_ERR_TOO_BIG)" });
	/* 13 */
	h = hdr(WIRE_COMMIT, I, s1, s2, 0, 1, 4, 50);
	row_begin();
	send_dg(fd1, WIRE_MAGIC, WIRE_VERSION, &h, 40, 0xa5);
	row_end(&(struct expect){ "fragment shorter than total_len",
		"dropped: fragment length does not fit total_len "
		"(WIRE_ERR_LENGTH)" });
	CHECK(dh_rekey_step(E, 1, UP_MS, &rk) == 0);
	/* 16: a whole oversized message in one datagram, unknown session */
	h = hdr(WIRE_COMMIT, I, s1, s2, 0, 1, 7, 65000);
	row_begin();
	send_dg(fd1, WIRE_MAGIC, WIRE_VERSION, &h, 65000, 0xa5);
	row_end(&(struct expect){ "65000-byte COMMIT, wrong session ids",
		"t1: COMMIT ignored: unknown session" });
	/* 17 */
	h = hdr(WIRE_EPOCH_ACK, I | WIRE_F_RESPONSE, s1, s2, 0, 1, 8, 60);
	row_begin();
	send_dg(fd1, WIRE_MAGIC, WIRE_VERSION, &h, 60, 0xa5);
	row_end(&(struct expect){ "EPOCH_ACK, wrong session ids",
		"t1: EPOCH_ACK ignored: unknown session" });
	/* 18: the responder's role claimed by gw1 */
	h = hdr(WIRE_KEEPALIVE, 0, s1, s2, 0, 1, 9, 60);
	row_begin();
	send_dg(fd1, WIRE_MAGIC, WIRE_VERSION, &h, 60, 0xa5);
	row_end(&(struct expect){ "wrong role flag",
		"t1: KEEPALIVE ignored: both sides claim the same role" });
	/* 19: a HELLO whose KeyPackage is garbage (new session) */
	h = hdr(WIRE_HELLO, I, s1, 0, 0, 1, 0, 301);
	row_begin();
	{
		static uint8_t b[WIRE_HEADER_LEN + 301];

		hdr_bytes(b, WIRE_MAGIC, WIRE_VERSION, &h);
		memset(b + WIRE_HEADER_LEN, 0x17, 301);
		b[WIRE_HEADER_LEN] = 0; /* no cookie */
		send_raw(fd1, b, sizeof(b));
	}
	row_end(&(struct expect){ "HELLO with a garbage KeyPackage",
		"t1: peer rejected: HELLO: " });
	/* 20: a cookie never issued (without load cookies are not
	 * checked: the KeyPackage behind it is what is refused) */
	h = hdr(WIRE_HELLO, I, s2, 0, 0, 1, 0, 309);
	row_begin();
	{
		static uint8_t b[WIRE_HEADER_LEN + 309];

		hdr_bytes(b, WIRE_MAGIC, WIRE_VERSION, &h);
		b[WIRE_HEADER_LEN] = 8; /* cookie<V>: 8 bytes */
		memset(b + WIRE_HEADER_LEN + 1, 0x07, 8);
		memset(b + WIRE_HEADER_LEN + 9, 0x17, 300);
		send_raw(fd1, b, sizeof(b));
	}
	row_end(&(struct expect){ "HELLO with a cookie never issued",
		"malformed encoding (EPOCH_ERR_MALFORMED)" });
	/* 21: ERROR is unauthenticated: logged, never acted on */
	h = hdr(WIRE_ERROR, I, s1, 0, 0, 1, 10, 2);
	row_begin();
	{
		uint8_t b[WIRE_HEADER_LEN + 2];

		hdr_bytes(b, WIRE_MAGIC, WIRE_VERSION, &h);
		b[WIRE_HEADER_LEN] = 0x12;
		b[WIRE_HEADER_LEN + 1] = 0x34;
		send_raw(fd1, b, sizeof(b));
	}
	row_end(&(struct expect){ "forged ERROR message",
		"t1: the peer reports error 4660" });
	CHECK(dh_rekey_step(E, 0, UP_MS, &rk) == 0);
	dh_rekeys_print("t1 during the wire rows", &rk);
	if (test_case_failures())
		dh_diag(E, "wire rows");
}

/* ---- MLS rows against t2 (this program is the peer) ---------------------- */

static uint64_t t2_epoch0;

static void t_peer_up(void)
{
	struct until_epoch u = { 1 };
	char st[32];
	uint64_t ep = 0;

	if (!CHECK(peer_open(&P) == 0))
		return;
	CHECK_OK(tunnel_start(P.t, dh_now_ms()));
	if (!CHECK(peer_run(&P, UP_MS, peer_up_at, &u) == 0)) {
		printf("  peer: state %s epoch %llu\n",
		       tunnel_state_name(tunnel_state(P.t)),
		       (unsigned long long)tunnel_epoch(P.t));
		return;
	}
	CHECK(t2_status(st, sizeof(st), &ep) == 0);
	printf("  t2: %s, epoch %llu (peer: epoch %llu)\n", st,
	       (unsigned long long)ep,
	       (unsigned long long)tunnel_epoch(P.t));
	CHECK(!strcmp(st, "up") && ep == tunnel_epoch(P.t));
	t2_epoch0 = ep;
	after_row();
}

/* Sends a forged COMMIT (with the group's real keys) as a new request of
 * the current session and discards the staged epoch. */
static int send_forged(unsigned forge, uint32_t id)
{
	struct mls_group *g = tunnel_group_int(P.t);
	uint8_t ad[4] = { 0, 0, 0x77, 0x77 };
	struct mls_commit_opts o = { ad, sizeof(ad), false };
	struct mls_policy pol = { (uint64_t)time(NULL), NULL, NULL };
	struct codec_writer w;
	struct wire_header h;
	int rc;

	if (!g)
		return -1;
	codec_writer_init_dynamic(&w, 1 << 16);
	rc = mls_group_commit_forged(g, &o, forge, NULL, 0, &pol, &w, NULL);
	if (rc < 0) {
		printf("  forge %#x: %s\n", forge, wire_result_name(rc));
		codec_writer_free(&w);
		return -1;
	}
	mls_group_discard(g);
	memset(&h, 0, sizeof(h));
	h.type = WIRE_COMMIT;
	h.flags = WIRE_F_INITIATOR;
	h.isid = P.isid;
	h.rsid = P.rsid;
	h.msg_id = id;
	P.next_id = id + 1;
	rc = peer_raw(&P, &h, w.buf, w.len, false);
	codec_writer_free(&w);
	return rc;
}

/* t2 refused it: still up on its epoch; our tunnel unchanged too. */
static void t2_unchanged(void)
{
	char st[32];
	uint64_t ep = 0;

	/* Answers (none expected) are consumed. */
	peer_run(&P, 200, NULL, NULL);
	CHECK(t2_status(st, sizeof(st), &ep) == 0);
	CHECK(!strcmp(st, "up"));
	CHECK_EQ_U64(ep, tunnel_epoch(P.t));
	CHECK(tunnel_state(P.t) == TUNNEL_ESTABLISHED);
}

static void forged_row(const char *what, unsigned forge, const char *err)
{
	char nd[160];
	uint32_t id = P.next_id;

	snprintf(nd, sizeof(nd), "t2: COMMIT id %u refused: %s", id, err);
	row_begin();
	if (!CHECK(send_forged(forge, id) == 0))
		return;
	row_end(&(struct expect){ what, nd });
	t2_unchanged();
}

static bool peer_no_request(void *arg)
{
	const struct until_epoch *u = arg;

	return tunnel_state(P.t) == TUNNEL_ESTABLISHED &&
	       tunnel_epoch(P.t) >= u->epoch;
}

/* A real rekey of t2 started by us (COMMIT -> EPOCH_ACK). */
static int peer_rekey(void)
{
	struct until_epoch u = { tunnel_epoch(P.t) + 1 };

	if (tunnel_rekey(P.t, dh_now_ms()) != 0)
		return -1;
	return peer_run(&P, UP_MS, peer_no_request, &u);
}

/* A real rekey of t2 started by the daemon (epochctl rekey t2). */
static int daemon_rekey_t2(void)
{
	struct until_epoch u = { tunnel_epoch(P.t) + 1 };
	char r[1024];

	if (dh_ctl(E->d[1].sock, "{\"cmd\":\"rekey\",\"tunnel\":\"t2\"}", r,
		   sizeof(r), REPLY_MS) != 0 || !has(r, "\"ok\":true"))
		return -1;
	return peer_run(&P, UP_MS, peer_no_request, &u);
}

static void t_mls(void)
{
	struct dh_rekeys rk;
	const struct saved *s;
	char nd[200];
	uint64_t e0;

	if (!CHECK(P.t && tunnel_state(P.t) == TUNNEL_ESTABLISHED))
		return;
	if (!CHECK(dh_rekeys_begin(E, UP_MS, &rk) == 0))
		return;
	forged_row("forged signature", MLS_FORGE_SIGNATURE,
		   "signature verification failed (EPOCH_ERR_SIGNATURE)");
	forged_row("forged confirmation tag", MLS_FORGE_CONFIRMATION,
		   "confirmation tag mismatch (EPOCH_ERR_CONFIRMATION)");
	forged_row("wrong epoch (signed for epoch + 1)", MLS_FORGE_EPOCH,
		   "message for another epoch or group (EPOCH_ERR_EPOCH)");
	CHECK(dh_rekey_step(E, 1, UP_MS, &rk) == 0);
	forged_row("signed for another group", MLS_FORGE_GROUP_ID,
		   "message for another epoch or group (EPOCH_ERR_EPOCH)");
	forged_row("commit that removes the peer (extra Remove)",
		   MLS_FORGE_PROPOSAL,
		   "proposal or commit content not allowed "
		   "(EPOCH_ERR_PROPOSAL)");
	forged_row("sender index of the peer", MLS_FORGE_SENDER,
		   "sender not allowed for this message (EPOCH_ERR_SENDER)");

	/* Replays, after two real rekeys (one each way): our join COMMIT,
	 * our last COMMIT, our last EPOCH_ACK. */
	e0 = tunnel_epoch(P.t);
	CHECK(peer_rekey() == 0);
	CHECK(daemon_rekey_t2() == 0);
	CHECK_EQ_U64(tunnel_epoch(P.t), e0 + 2);
	t2_unchanged();
	CHECK(dh_rekey_step(E, 0, UP_MS, &rk) == 0);
	/* The oldest COMMIT we kept (an earlier epoch's). */
	s = saved_find(WIRE_COMMIT, false, 1);
	if (CHECK(s != NULL)) {
		snprintf(nd, sizeof(nd), "t2: COMMIT id %u refused: message "
			 "for another epoch or group (EPOCH_ERR_EPOCH)",
			 s->msg_id);
		row_begin();
		send_saved(s);
		row_end(&(struct expect){ "replayed COMMIT of an old epoch",
			nd });
		t2_unchanged();
	}
	/* Our last COMMIT again: its EPOCH_ACK is resent from the cache,
	 * the commit is not processed twice. */
	s = saved_find(WIRE_COMMIT, false, 0);
	if (CHECK(s != NULL)) {
		snprintf(nd, sizeof(nd), "t2: COMMIT id %u again: its "
			 "response resent", s->msg_id);
		row_begin();
		send_saved(s);
		row_end(&(struct expect){ "replayed last COMMIT", nd });
		t2_unchanged();
	}
	/* Our last EPOCH_ACK (the daemon's commit is applied). */
	s = saved_find(WIRE_EPOCH_ACK, true, 0);
	if (CHECK(s != NULL)) {
		snprintf(nd, sizeof(nd), "t2: EPOCH_ACK response id %u "
			 "refused: operation not allowed in this state "
			 "(EPOCH_ERR_STATE)", s->msg_id);
		row_begin();
		send_saved(s);
		row_end(&(struct expect){ "replayed EPOCH_ACK", nd });
		t2_unchanged();
	}
	/* A COMMIT with a session id that is not t2's. */
	{
		struct wire_header h = hdr(WIRE_COMMIT, WIRE_F_INITIATOR,
					   P.isid, P.rsid ^ 1, 0, 1, P.next_id,
					   100);

		row_begin();
		send_dg(P.fd, WIRE_MAGIC, WIRE_VERSION, &h, 100, 0x33);
		row_end(&(struct expect){ "COMMIT with a wrong session id",
			"t2: COMMIT ignored: unknown session" });
		t2_unchanged();
	}
	/* Garbage MLS in the right session: a 60000-byte COMMIT. */
	{
		struct wire_header h = hdr(WIRE_COMMIT, WIRE_F_INITIATOR,
					   P.isid, P.rsid, 0, 1, 0, 0);
		static uint8_t junk[60000];
		uint32_t id = P.next_id++;

		memset(junk, 0xee, sizeof(junk));
		h.msg_id = id;
		snprintf(nd, sizeof(nd), "t2: COMMIT id %u refused: malformed "
			 "encoding (EPOCH_ERR_MALFORMED)", id);
		row_begin();
		peer_raw(&P, &h, junk, sizeof(junk), false);
		row_end(&(struct expect){ "oversized garbage COMMIT (60000)",
			nd });
		t2_unchanged();
	}
	/* A valid HELLO signed by a key that is not t2's peer_key. */
	{
		struct mls_member_config mc;
		struct mls_kp_secret *kp = NULL;
		uint8_t sk[32], pk[32];
		char b64[KEY_B64_LEN + 1], err[256];
		const uint8_t *kpb;
		size_t kpl;

		if (CHECK(keyfile_load(other_key_path, sk, pk, err,
				       sizeof(err)) == 0)) {
			key_public_encode(pk, b64);
			memset(&mc, 0, sizeof(mc));
			mc.suite = MLS_SUITE_X25519_AES128GCM_SHA256_ED25519;
			mc.identity = (const uint8_t *)b64;
			mc.identity_len = strlen(b64);
			mc.sig_sk = sk;
			mc.sig_pk = pk;
			mc.not_after = UINT64_MAX >> 1;
			CHECK_OK(mls_kp_create(&kp, &mc));
		}
		crypto_wipe(sk, sizeof(sk));
		if (kp) {
			struct wire_header h = hdr(WIRE_HELLO,
						   WIRE_F_INITIATOR, rnd64(),
						   0, 0, 1, 0, 0);
			uint8_t *b;

			kpb = mls_kp_bytes(kp, &kpl);
			b = malloc(kpl + 1);
			if (CHECK(b != NULL)) {
				b[0] = 0;
				memcpy(b + 1, kpb, kpl);
				row_begin();
				peer_raw(&P, &h, b, kpl + 1, false);
				row_end(&(struct expect){
					"HELLO from a key not pinned",
					"(EPOCH_ERR_CREDENTIAL)" });
				free(b);
			}
			mls_kp_secret_free(kp);
			t2_unchanged();
		}
	}
	/* Fragment rows in t2's session (a fragment of a message with
	 * session ids that are not the tunnel's is dropped before
	 * reassembly, silently: admit() in daemon.c). */
	{
		const uint8_t I = WIRE_F_INITIATOR;
		uint64_t is = P.isid, rs = P.rsid;
		struct wire_header h;

		/* more fragments than the reassembler takes (64) */
		h = hdr(WIRE_COMMIT, I, is, rs, 0, 200, 500, 200 * 100);
		row_begin();
		send_dg(P.fd, WIRE_MAGIC, WIRE_VERSION, &h, 100, 0xa5);
		row_end(&(struct expect){ "200 fragments (limit 64)",
			"t2: fragment dropped: fragment index or count "
			"invalid (WIRE_ERR_FRAGMENT)" });
		/* fragment 0 of 3, then fragment 1 of the same message
		 * with another total_len */
		h = hdr(WIRE_COMMIT, I, is, rs, 0, 3, 501, 3000);
		send_dg(P.fd, WIRE_MAGIC, WIRE_VERSION, &h, 1000, 0xa5);
		h = hdr(WIRE_COMMIT, I, is, rs, 1, 3, 501, 2500);
		row_begin();
		send_dg(P.fd, WIRE_MAGIC, WIRE_VERSION, &h, 1000, 0x5a);
		row_end(&(struct expect){
			"inconsistent total_len (3000 vs 2500)",
			"t2: fragment dropped: fragment contradicts earlier "
			"ones (WIRE_ERR_INCONSISTENT)" });
		/* overlapping: fragments of 1000 bytes, then one of 1100
		 * (another fragment size) */
		h = hdr(WIRE_COMMIT, I, is, rs, 0, 3, 502, 3000);
		send_dg(P.fd, WIRE_MAGIC, WIRE_VERSION, &h, 1000, 0xa5);
		h = hdr(WIRE_COMMIT, I, is, rs, 1, 3, 502, 3000);
		row_begin();
		send_dg(P.fd, WIRE_MAGIC, WIRE_VERSION, &h, 1100, 0x5a);
		row_end(&(struct expect){
			"overlapping fragments (size 1000/1100)",
			"t2: fragment dropped: fragment contradicts earlier "
			"ones (WIRE_ERR_INCONSISTENT)" });
		t2_unchanged();
	}
	/* Reassembly exhaustion: 20 partial messages of 60000 bytes
	 * (16 slots, 1 MiB). */
	{
		row_begin();
		for (uint32_t i = 0; i < 20; i++) {
			struct wire_header h = hdr(WIRE_COMMIT,
						   WIRE_F_INITIATOR, P.isid,
						   P.rsid, 0, 60, 1000 + i,
						   60000);

			send_dg(P.fd, WIRE_MAGIC, WIRE_VERSION, &h, 1000,
				0x44);
		}
		row_end(&(struct expect){ "20 partial 60 kB messages",
			"t2: fragment dropped: reassembly limit reached "
			"(count or memory) (WIRE_ERR_LIMIT)" });
		t2_unchanged();
	}
	/* t2's session survived all of it: a rekey each way. */
	e0 = tunnel_epoch(P.t);
	CHECK(peer_rekey() == 0);
	CHECK(daemon_rekey_t2() == 0);
	CHECK_EQ_U64(tunnel_epoch(P.t), e0 + 2);
	t2_unchanged();
	printf("  t2: epoch %llu -> %llu over the MLS rows\n",
	       (unsigned long long)t2_epoch0,
	       (unsigned long long)tunnel_epoch(P.t));
	CHECK(dh_rekey_step(E, 1, UP_MS, &rk) == 0);
	dh_rekeys_print("t1 during the MLS rows", &rk);
	if (test_case_failures())
		dh_diag(E, "MLS rows");
}

/* ---- control socket rows ------------------------------------------------- */

static int ctl_open(const char *sock)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes req (len bytes) and reads the first reply line. */
static int ctl_raw(const char *req, size_t len, char *out, size_t cap)
{
	int fd = ctl_open(E->d[1].sock);
	size_t n = 0, off = 0;
	uint64_t end = dh_now_ms() + REPLY_MS;

	out[0] = 0;
	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t k = write(fd, req + off, len - off);

		if (k <= 0)
			break;
		off += (size_t)k;
	}
	while (n + 1 < cap && dh_now_ms() < end) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t k;

		if (poll(&p, 1, 100) <= 0)
			continue;
		k = read(fd, out + n, 1);
		if (k <= 0)
			break;
		if (out[n] == '\n')
			break;
		n++;
	}
	out[n] = 0;
	close(fd);
	return n ? 0 : -1;
}

static void t_ctl(void)
{
	static char big[10000], deep[6002];
	struct {
		const char *what, *req;
		size_t len;
		const char *want;
	} rows[] = {
		{ "not JSON", "hello\n", 0, "\"error\":\"bad request: " },
		{ "binary with NULs", "\x00\xff\xfe{\x01\n", 6,
		  "\"error\":\"bad request: " },
		{ "a JSON array", "[1,2]\n", 0, "not a JSON object" },
		{ "no cmd", "{}\n", 0, "missing \\\"cmd\\\"" },
		{ "cmd not a string", "{\"cmd\":5}\n", 0,
		  "\\\"cmd\\\" must be" },
		{ "unknown command", "{\"cmd\":\"selfdestruct\"}\n", 0,
		  "unknown command \\\"selfdestruct\\\"" },
		{ "unknown field", "{\"cmd\":\"status\",\"x\":1}\n", 0,
		  "unknown field" },
		{ "bad tunnel name",
		  "{\"cmd\":\"rekey\",\"tunnel\":\"../etc\"}\n", 0,
		  "bad tunnel name" },
		{ "string with a bad escape",
		  "{\"cmd\":\"status\\u00\"}\n", 0, "bad request: " },
		{ "request of 10000 bytes", big, sizeof(big),
		  "request too long (limit 4096 bytes)" },
		{ "3000 nested arrays", deep, sizeof(deep) - 1,
		  "\"ok\":false" },
	};
	char r[4096];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\n';
	for (size_t i = 0; i < 3000; i++) {
		deep[i] = '[';
		deep[3000 + i] = ']';
	}
	deep[6000] = '\n';
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t len = rows[i].len ? rows[i].len : strlen(rows[i].req);
		bool ok = ctl_raw(rows[i].req, len, r, sizeof(r)) == 0 &&
			  has(r, "\"ok\":false") && has(r, rows[i].want);

		printf("  row %-44s expect %s: %s\n", rows[i].what,
		       rows[i].want, ok ? "ok" : r);
		CHECK(ok);
		after_row();
	}
	/* Half a request, then the connection closes. */
	{
		int fd = ctl_open(E->d[1].sock);

		if (CHECK(fd >= 0)) {
			CHECK(write(fd, "{\"cmd\":\"sta", 11) == 11);
			close(fd);
		}
		CHECK(dh_ctl(E->d[1].sock, "{\"cmd\":\"status\"}", r,
			     sizeof(r), REPLY_MS) == 0 &&
		      has(r, "\"ok\":true"));
		after_row();
	}
}

/* ---- configuration rows -------------------------------------------------- */

/* gw2's running configuration, read once. */
static char conf_text[16384];

static int conf_load_text(void)
{
	FILE *f = fopen(E->d[1].conf, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(conf_text, 1, sizeof(conf_text) - 1, f);
	fclose(f);
	conf_text[n] = 0;
	return 0;
}

/* The line number of needle in conf_text, or -1. */
static int line_of(const char *needle)
{
	const char *p = strstr(conf_text, needle);
	int line = 1;

	if (!p)
		return -1;
	for (const char *q = conf_text; q < p; q++)
		line += *q == '\n';
	return line;
}

/* Writes a copy of conf_text to path with the line that starts with
 * `match` replaced by repl (NULL: deleted), or (match NULL) with append
 * inserted before the list's final ')'. */
static int conf_variant(const char *path, const char *match,
			const char *repl, const char *append)
{
	FILE *f = fopen(path, "w");
	const char *p = match ? strstr(conf_text, match) : NULL;

	if (!f)
		return -1;
	if (match && !p) {
		fclose(f);
		return -1;
	}
	if (p) {
		const char *eol = strchr(p, '\n');

		fwrite(conf_text, 1, (size_t)(p - conf_text), f);
		if (repl)
			fputs(repl, f);
		fputs(eol ? eol + 1 - (repl ? 1 : 0) : "", f);
	} else if (append) {
		const char *end = strrchr(conf_text, ')');

		fwrite(conf_text, 1, (size_t)(end - conf_text), f);
		fputs(append, f);
		fputs(end, f);
	}
	return fclose(f);
}

/* epochd -t on path: its output into out, the exit status returned. */
static int epochd_t(const char *path, char *out, size_t cap)
{
	char *av[] = { E->epochd, "-t", "-c", (char *)path, NULL };

	return dh_run_output(av, true, out, cap);
}

static void t_config(void)
{
	struct {
		const char *what;
		const char *match; /* start of the line replaced */
		const char *repl;  /* NULL: the line is deleted */
		const char *anchor; /* where the error is (NULL: match) */
		const char *setting, *msg;
	} rows[] = {
		{ "syntax error", "\tport = ", "\tport = = 7450;",
		  NULL, "", "syntax error" },
		{ "stray semicolon", "tunnels = (", "tunnels = ( ;",
		  NULL, "", "syntax error" },
		{ "unknown setting", "\tport = ", "\tprot = 7450;", NULL,
		  "global.prot", "unknown setting" },
		{ "wrong type", "\tport = ", "\tport = \"x\";", NULL,
		  "global.port", "expected an integer" },
		{ "out of range", "\tport = ", "\tport = 70000;", NULL,
		  "global.port", "70000 is out of range (1 to 65535)" },
		{ "bad enum value", "\tlog_level = ",
		  "\tlog_level = \"loud\";", NULL, "global.log_level",
		  "\"loud\" is not one of" },
		{ "missing required setting", "\t\tremote = ", NULL,
		  "\t{\n\t\tname", "tunnels.[0]",
		  "missing required setting \"remote\"" },
		{ "missing private_key", "\tprivate_key = ", NULL,
		  "global = {", "global",
		  "missing required setting \"private_key\"" },
		{ "bad address", "\t\tremote = ",
		  "\t\tremote = \"192.0.2.300\";", NULL,
		  "tunnels.[0].remote", "is not an IPv4 or IPv6 address" },
		{ "bad prefix", "\t\tlocal_ts = ",
		  "\t\tlocal_ts = [ \"203.0.113.0/33\" ];", NULL,
		  "tunnels.[0].local_ts.[0]", "is not an address prefix" },
		{ "bad peer key", "\t\tpeer_key = ",
		  "\t\tpeer_key = \"AAAA\";", NULL, "tunnels.[0].peer_key",
		  "not a public key" },
		{ "unknown suite", "\t\tsuite = ",
		  "\t\tsuite = \"rot13\";", NULL,
		  "tunnels.[0].suite", "\"rot13\" is not one of" },
		{ "duplicate setting", "\t\tname = ",
		  "\t\tname = \"t1\"; name = \"t1\";", NULL, "",
		  "duplicate setting name" },
		{ "out of range (rekey_time)", "\t\tname = ",
		  "\t\tname = \"t1\"; rekey_time = -5;", NULL,
		  "tunnels.[0].rekey_time", "-5 is out of range" },
		{ "missing key file", "\tprivate_key = ",
		  "\tprivate_key = \"/nonexistent/epochd.key\";", NULL,
		  "global.private_key", "No such file or directory" },
	};
	char path[PATH_MAX + 16], want[PATH_MAX + 256], out[4096], r[4096];
	char orig[PATH_MAX + 16];
	struct dh_status a0, a1;

	if (!CHECK(conf_load_text() == 0))
		return;
	snprintf(path, sizeof(path), "%s/bad.conf", E->work);
	snprintf(orig, sizeof(orig), "%s.orig", E->d[1].conf);
	CHECK(dh_status(E, 1, &a0) == 0);
	if (!CHECK(rename(E->d[1].conf, orig) == 0))
		return;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]) + 3; i++) {
		const char *what, *setting, *msg;
		int line, st;
		bool ok_t, ok_r;

		if (i < sizeof(rows) / sizeof(rows[0])) {
			what = rows[i].what;
			setting = rows[i].setting;
			msg = rows[i].msg;
			line = line_of(rows[i].anchor ? rows[i].anchor :
							rows[i].match);
			if (!CHECK(conf_variant(path, rows[i].match,
						rows[i].repl, NULL) == 0))
				continue;
		} else if (i == sizeof(rows) / sizeof(rows[0])) {
			char t[1024];

			what = "duplicate tunnel";
			snprintf(t, sizeof(t),
				 ",\n\t{ name = \"t1\"; local = \"%s\";\n"
				 "\t\tremote = \"192.0.2.3\"; peer_key = "
				 "\"%s\";\n"
				 "\t\tlocal_ts = [ \"203.0.113.0/24\" ];\n"
				 "\t\tremote_ts = [ \"198.51.100.0/24\" ]; }\n",
				 dh_ip_gw[1], E->pub[0]);
			if (!CHECK(conf_variant(path, NULL, NULL, t) == 0))
				continue;
			setting = "tunnels.[2].name";
			msg = "\"t1\" is already the name of tunnels.[0]";
			/* the appended group's first line: after the ","
			 * that takes the line of the list's ')' */
			line = 2;
			for (const char *q = conf_text;
			     q < strrchr(conf_text, ')'); q++)
				line += *q == '\n';
		} else {
			/* The key file: group/world readable (0644, 0640),
			 * then unreadable garbage. */
			const char *key = E->key[1];
			mode_t m = i == sizeof(rows) / sizeof(rows[0]) + 1 ?
					   0644 : 0640;

			what = m == 0644 ? "key file mode 0644" :
					   "key file mode 0640";
			setting = "global.private_key";
			msg = "gives access to group or others";
			line = line_of("\tprivate_key = ");
			if (!CHECK(conf_variant(path, NULL, NULL, "") == 0) ||
			    !CHECK(chmod(key, m) == 0))
				continue;
		}
		/* epochd -t */
		snprintf(want, sizeof(want), "%s:%d: %s%s", path, line,
			 setting, *setting ? ": " : "");
		st = epochd_t(path, out, sizeof(out));
		out[strcspn(out, "\n")] = 0;
		ok_t = st != 0 && has(out, want) && has(out, msg);
		printf("  row %-30s epochd -t: %s\n", what, out);
		if (!ok_t)
			printf("    expected status != 0, \"%s\" and \"%s\"\n",
			       want, msg);
		CHECK(ok_t);
		/* reload of the same file: refused, nothing changes (a
		 * changed key file is read at start only) */
		if (i <= sizeof(rows) / sizeof(rows[0])) {
			char w2[PATH_MAX + 256];

			if (rename(path, E->d[1].conf) != 0)
				test_fail(__FILE__, __LINE__, "rename");
			snprintf(w2, sizeof(w2), "%s:%d:", E->d[1].conf,
				 line);
			ok_r = dh_ctl(E->d[1].sock, "{\"cmd\":\"reload\"}",
				      r, sizeof(r), REPLY_MS) == 0;
			/* private_key is read at start only: a reload
			 * with another path is accepted and says so */
			if (!strcmp(setting, "global.private_key"))
				ok_r = ok_r && has(r, "\"ok\":true") &&
				       has(r, "need a restart were not "
					      "applied");
			else
				ok_r = ok_r && has(r, "\"ok\":false") &&
				       has(r, w2);
			if (!ok_r)
				printf("    reload: %s (expected %s)\n", r, w2);
			CHECK(ok_r);
		} else {
			CHECK(chmod(E->key[1], 0600) == 0);
		}
		after_row();
	}
	CHECK(rename(orig, E->d[1].conf) == 0);
	CHECK(dh_ctl(E->d[1].sock, "{\"cmd\":\"reload\"}", r, sizeof(r),
		     REPLY_MS) == 0);
	printf("  reload of the original: %s\n", r);
	CHECK(has(r, "\"ok\":true") && has(r, "0 added, 0 removed, 0 changed"));
	/* t1 kept its epoch and SAs through all of it. */
	CHECK(dh_status(E, 1, &a1) == 0 && a1.epoch == a0.epoch &&
	      a1.spi_in == a0.spi_in);
}

/* ---- setup --------------------------------------------------------------- */

/* gw2's configuration with t2 (the test's peer at 192.0.2.11) added. */
static int conf_with_t2(const char *path)
{
	static char text[16384];
	FILE *f = fopen(path, "r");
	size_t n;
	char *end;

	if (!f)
		return -1;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	end = strrchr(text, ')');
	if (!end)
		return -1;
	f = fopen(path, "w");
	if (!f)
		return -1;
	fwrite(text, 1, (size_t)(end - text), f);
	fprintf(f, ",\n\t{\n\t\tname = \"t2\";\n\t\tlocal = \"%s\";\n"
		   "\t\tremote = \"" PEER_IP "\";\n\t\trole = \"responder\";\n"
		   "\t\tsuite = \"" SUITE "\";\n"
		   "\t\tpeer_key = \"%s\";\n"
		   "\t\tlocal_ts = [ \"203.0.113.128/25\" ];\n"
		   "\t\tremote_ts = [ \"198.51.100.128/25\" ];\n\t}\n%s",
		dh_ip_gw[1], peer_pub, end);
	return fclose(f);
}

/* gw1's daemon listens on 192.0.2.1 only (not on the wildcard), so that
 * this program can bind 192.0.2.11 port 7450 in gw1's namespace: the port
 * gw2's daemon sends t2's requests to. */
static int conf_listen(const char *path)
{
	static char text[16384];
	FILE *f = fopen(path, "r");
	size_t n;
	char *g;

	if (!f)
		return -1;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	g = strstr(text, "global = {\n");
	if (!g)
		return -1;
	g += strlen("global = {\n");
	f = fopen(path, "w");
	if (!f)
		return -1;
	fwrite(text, 1, (size_t)(g - text), f);
	fprintf(f, "\tlisten = \"%s\";\n%s", dh_ip_gw[0], g);
	return fclose(f);
}

static int genkey(const char *path, char *pub, size_t cap)
{
	char *av[] = { E->epochctl, "genkey", (char *)path, NULL };
	int rc = dh_run_output(av, false, pub, cap);

	pub[strcspn(pub, "\n")] = 0;
	return rc == 0 && strlen(pub) == KEY_B64_LEN ? 0 : -1;
}

static int setup(void)
{
	struct dh_conf c = { .suite = SUITE, .log_level = "debug" };
	char conf[2][PATH_MAX], other[64];

	snprintf(peer_key_path, sizeof(peer_key_path), "%s/peer.key",
		 E->work);
	snprintf(other_key_path, sizeof(other_key_path), "%s/other.key",
		 E->work);
	if (genkey(peer_key_path, peer_pub, sizeof(peer_pub)) != 0 ||
	    genkey(other_key_path, other, sizeof(other)) != 0) {
		printf("  epochctl genkey failed\n");
		return -1;
	}
	if (dh_sh("ip -n %s addr add " PEER_IP "/24 dev g1", E->ns_gw[0]) != 0)
		return -1;
	for (int gw = 0; gw < 2; gw++)
		if (dh_conf_write(E, gw, &c, conf[gw]) != 0)
			return -1;
	if (conf_with_t2(conf[1]) != 0 || conf_listen(conf[0]) != 0)
		return -1;
	for (int gw = 0; gw < 2; gw++)
		if (dh_start(E, gw, conf[gw], 30000) != 0)
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	if (dh_init(E, argc, argv) != 0) {
		printf("0 passed, 1 failed\n");
		return 1;
	}
	if (setup() != 0) {
		test_begin("daemons start (t1, and t2 to this program)");
		test_fail(__FILE__, __LINE__, "setup failed");
		test_end();
	} else {
		dh_run_case("wire", "wire rows: t1 refuses each, passes "
			    "traffic, rekeys", t_wire);
		dh_run_case("peer", "t2: this program joins as an MLS peer",
			    t_peer_up);
		dh_run_case("mls", "MLS rows: forged, replayed, foreign key; "
			    "t2 survives, t1 unaffected", t_mls);
		dh_run_case("ctl", "control socket rows: garbage refused",
			    t_ctl);
		dh_run_case("config", "configuration rows: epochd -t and "
			    "reload name FILE:LINE and the setting",
			    t_config);
		printf("  %d rows, each followed by a ping through t1\n",
		       rows_done);
		peer_close(&P);
		dh_stop_both_checked(E);
	}
	if (fd1 >= 0)
		close(fd1);
	dh_sh("ip -n %s addr del " PEER_IP "/24 dev g1 2>/dev/null",
	      E->ns_gw[0]);
	dh_cleanup(E);
	return test_main_end(argv[0]);
}
