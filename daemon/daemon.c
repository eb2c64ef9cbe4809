/* The epochd event loop (daemon/daemon.h).
 *
 * Who does what:
 *  - tunnel.c: a tunnel's protocol (handshake, rekeys, collisions,
 *    retransmission of its one outstanding request, the answer to a
 *    duplicate request, grace periods, keepalives). Pure.
 *  - here: the outside world of each tunnel: its wire framing (session
 *    ids, message ids, fragmentation, reassembly, docs/protocol.md), its
 *    kernel objects (SPIs, SAs, policies, counters), its rekey timer,
 *    status, events and log lines; plus the sockets, timers and signals.
 *
 * Time: CLOCK_MONOTONIC milliseconds for every deadline, the wall clock
 * only for what status shows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/cookie.h"
#include "daemon/ctl.h"
#include "daemon/daemon.h"
#include "daemon/dos.h"
#include "daemon/errmsg.h"
#include "daemon/keyfile.h"
#include "daemon/log.h"
#include "daemon/privsep.h"
#include "daemon/statefile.h"
#include "daemon/test_secrets.h"
#include "daemon/tunnel.h"
#include "daemon/wire.h"
#include "proto/crypto.h"
#include "proto/mls.h"
#include "xfrm/xfrm.h"

#define MAX_SOCKS CONFIG_LISTEN_MAX
#define MAX_CLIENTS 32
#define DGRAM_MAX 65536
/* The tunnel's request schedule: the first retransmission after 500 ms,
 * doubling; max_tries sends cover dpd_timeout (tunnel_cfg). */
#define RETRANSMIT_MS 500
#define RETRANSMIT_CAP_MS 2000
#define RESTART_MS 2000
#define RESTART_MAX_MS 60000
/* A rekey that gave up is tried again this much later. */
#define REKEY_RETRY_MS 10000
#define SPI_MIN 0x00000100u
#define SPI_MAX 0xfffffffeu
#define REPLAY_WINDOW PSEP_REPLAY_WINDOW
#define POLICY_PRIORITY PSEP_POLICY_PRIORITY
#define WARN_INTERVAL_MS 10000 /* one "peer rejected" warning per tunnel */
#define PARAMS_MAX (4 + 4 + 2 * CONFIG_TS_MAX * 18)
/* COOKIEs one HELLO session acts on (a spoofed one cannot loop us). */
#define COOKIE_ROUNDS_MAX 4

struct daemon;

/* A session's ids (docs/protocol.md §2.1). */
struct session_ids {
	uint64_t isid, rsid;
	uint32_t next_id; /* our next request id in this session */
};

struct dtunnel {
	struct daemon *d;
	struct config_tunnel cfg;
	struct tunnel *t;
	struct psep_xfrm *x;
	bool disabled;          /* epochctl down / enabled = false */
	bool policies;          /* installed */
	uint8_t params[PARAMS_MAX];
	size_t params_len;
	char peer_str[CTL_PEER_MAX + 1];
	struct sockaddr_storage peer_sa; /* remote address, daemon port */
	socklen_t peer_sa_len;
	/* Wire state. */
	struct session_ids cur, pend; /* pend: a HELLO accepted (responder) */
	uint8_t last_req_digest[32];  /* our last request, for msg_id reuse */
	uint32_t last_req_id;
	bool have_last_req;
	/* Initiator: the current HELLO's KeyPackage and the responder's
	 * cookie for its session (docs/protocol.md §5, COOKIE). */
	uint8_t *hello_kp;
	size_t hello_kp_len;
	uint8_t cookie[COOKIE_MAX];
	size_t cookie_len;
	uint64_t cookie_isid;
	unsigned cookie_rounds;
	struct wire_reasm ra;
	/* Our last response, resent when a fragment of the request it
	 * answered arrives again (docs/protocol.md §4.4). */
	struct wire_datagrams resp;
	struct wire_header resp_req;  /* the request's header */
	uint64_t resp_sent;           /* monotonic ms */
	/* While tunnel_receive runs: the request being answered. */
	const struct wire_header *cur_hdr;
	uint64_t cur_rsid;
	const struct sockaddr_storage *cur_src;
	socklen_t cur_src_len;
	/* Kernel counters of SAs already deleted. */
	uint64_t old_bytes_in, old_bytes_out, old_pkts_in, old_pkts_out;
	uint64_t last_in_pkts; /* inbound packets at the last DPD look */
	/* Every inbound SA installed (current, staged, in grace): status
	 * and DPD count them all. */
	uint32_t in_spis[16];
	size_t n_in_spis;
	/* Rekeys and what status shows. */
	uint64_t rekey_at;      /* monotonic ms, UINT64_MAX: none */
	enum ctl_trigger pending_trigger, last_trigger;
	uint64_t last_rekey;    /* Unix seconds */
	uint64_t last_warn;     /* monotonic ms of the last warning */
	/* State file (DESIGN.md §5): what it holds, so that it is written
	 * again only when something in it changed. */
	struct {
		enum tunnel_state state;
		uint64_t epoch, session, isid, rsid;
		uint32_t in, out, staged, id_block;
		unsigned sealed;
	} saved;
	bool have_saved;
	bool resumed;           /* up from a state file, not a handshake */
	uint64_t last_save_warn;
	/* Last observed, for events. */
	enum tunnel_state seen_state;
	uint64_t seen_session;
	uint64_t seen_epoch;
	uint32_t seen_in, seen_out;
};

struct daemon {
	struct config cfg;
	char config_path[CONFIG_PATH_MAX];
	bool debug;
	uint8_t sk[32], pk[32];
	char pk_b64[KEY_B64_LEN + 1];
	struct wire_limits lim;
	int ep, tfd, sfd, ctl_fd;
	int socks[MAX_SOCKS];
	int sock_family[MAX_SOCKS];
	struct xfrm_addr sock_addr[MAX_SOCKS];
	bool sock_any[MAX_SOCKS];
	size_t n_socks;
	struct xfrm_listener *xl;
	struct psep *ps; /* NULL: no privilege separation */
	struct dtunnel **tun;
	size_t n_tun;
	struct ctl_client clients[MAX_CLIENTS];
	bool stop;
	uint8_t *rbuf;
	struct ctl_buf scratch;
	struct dos dos;         /* HELLO load rules (daemon/dos.h) */
};

/* epoll tags: the low bits say what, the rest which. */
enum { TAG_TIMER = 1, TAG_SIGNAL, TAG_CTL, TAG_XFRM, TAG_SOCK = 0x100,
       TAG_CLIENT = 0x200 };

/* ---- small helpers --------------------------------------------------------- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t wall_s(void)
{
	return (uint64_t)time(NULL);
}

static const char *addr_str(const struct xfrm_addr *a, char *buf, size_t n)
{
	if (!inet_ntop(a->family, &a->a, buf, (socklen_t)n))
		snprintf(buf, n, "?");
	return buf;
}

static socklen_t to_sockaddr(const struct xfrm_addr *a, uint16_t port,
			     struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		s->sin_addr = a->a.v4;
		return sizeof(*s);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	s6->sin6_addr = a->a.v6;
	return sizeof(*s6);
}

static void from_sockaddr(const struct sockaddr_storage *ss,
			  struct xfrm_addr *a, uint16_t *port)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		a->family = AF_INET;
		a->a.v4 = s->sin_addr;
		*port = ntohs(s->sin_port);
	} else {
		const struct sockaddr_in6 *s6 =
			(const struct sockaddr_in6 *)ss;

		a->family = AF_INET6;
		a->a.v6 = s6->sin6_addr;
		*port = ntohs(s6->sin6_port);
		/* An IPv4-mapped source on a dual-stack socket. */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			a->family = AF_INET;
			memcpy(&a->a.v4, &s6->sin6_addr.s6_addr[12], 4);
		}
	}
}

static bool addr_equal(const struct xfrm_addr *a, const struct xfrm_addr *b)
{
	if (a->family != b->family)
		return false;
	return a->family == AF_INET ?
		       a->a.v4.s_addr == b->a.v4.s_addr :
		       memcmp(&a->a.v6, &b->a.v6, sizeof(a->a.v6)) == 0;
}

static const char *rc_text(int rc)
{
	return rc <= -100 ? wire_result_text(rc) : result_text(rc);
}

static const char *rc_name(int rc)
{
	return rc <= -100 ? wire_result_name(rc) : result_name(rc);
}

/* ---- tunnel parameters (GroupContext extension, docs/protocol.md §5) ---- */

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

/* version 1, the ESP algorithm, then the initiator's and the responder's
 * traffic selectors: both sides must have configured the same tunnel. */
static uint8_t esp_code(enum xfrm_aead a)
{
	return (uint8_t)(a + 1);
}

static void params_build(struct dtunnel *dt)
{
	const struct config_tunnel *c = &dt->cfg;
	uint8_t *p = dt->params + 4;
	size_t o = 0;

	p[o++] = 1;
	p[o++] = esp_code(c->esp);
	if (c->initiator) {
		o += put_prefixes(p + o, c->local_ts, c->n_local_ts);
		o += put_prefixes(p + o, c->remote_ts, c->n_remote_ts);
	} else {
		o += put_prefixes(p + o, c->remote_ts, c->n_remote_ts);
		o += put_prefixes(p + o, c->local_ts, c->n_local_ts);
	}
	/* As the GroupContext's extensions vector content: one Extension,
	 * type MLS_EXT_EPOCHD_TUNNEL, extension_data<V> (a minimal varint
	 * length: 1 byte below 64, else 2; o < 16384). */
	dt->params[0] = MLS_EXT_EPOCHD_TUNNEL >> 8;
	dt->params[1] = MLS_EXT_EPOCHD_TUNNEL & 0xff;
	if (o < 64) {
		dt->params[2] = (uint8_t)o;
		memmove(dt->params + 3, dt->params + 4, o);
		dt->params_len = o + 3;
	} else {
		dt->params[2] = (uint8_t)(0x40 | o >> 8);
		dt->params[3] = (uint8_t)o;
		dt->params_len = o + 4;
	}
}

/* ---- events and log lines ------------------------------------------------- */

static void broadcast(struct daemon *d, const struct ctl_event *ev)
{
	struct ctl_buf b;

	ctl_buf_init(&b, CTL_OUT_MAX);
	ctl_event_json(&b, ev);
	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		struct ctl_client *c = &d->clients[i];

		if (c->fd < 0 || !c->watching)
			continue;
		ctl_client_queue(c, &b);
		ctl_client_flush(c);
	}
	ctl_buf_free(&b);
}

static void event(struct dtunnel *dt, enum ctl_event_type type,
		  const char *reason)
{
	struct ctl_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.time = wall_s();
	snprintf(ev.tunnel, sizeof(ev.tunnel), "%s", dt->cfg.name);
	ev.epoch = tunnel_epoch(dt->t);
	ev.spi_in = tunnel_spi_in(dt->t);
	ev.spi_out = tunnel_spi_out(dt->t);
	ev.trigger = dt->last_trigger;
	snprintf(ev.peer, sizeof(ev.peer), "%s", dt->peer_str);
	if (reason)
		snprintf(ev.reason, sizeof(ev.reason), "%s", reason);
	broadcast(dt->d, &ev);
}

static bool state_up(enum tunnel_state s)
{
	return s == TUNNEL_ESTABLISHED || s == TUNNEL_REKEY_SENT;
}

static void schedule_rekey(struct dtunnel *dt, uint64_t now)
{
	uint64_t base = (uint64_t)dt->cfg.rekey_time * 1000, cut = 0;
	uint32_t r = 0;

	if (dt->cfg.rekey_jitter) {
		crypto_random(NULL, (uint8_t *)&r, sizeof(r));
		cut = base * dt->cfg.rekey_jitter / 100 * (r % 10001) / 10000;
	}
	dt->rekey_at = now + base - cut;
}

/* Request ids are saved in blocks: a restarted daemon continues at the
 * next block, never reusing an id the peer may have cached an answer
 * for (docs/protocol.md §4.4). */
#define ID_BLOCK 1024u

/* Writes the tunnel's state file when what it holds has changed (a new
 * epoch, SPIs, a staged commit, a session, the next block of request
 * ids), and removes it when the tunnel has nothing to resume (DOWN or a
 * handshake under way). A failed write is logged (at most every 10 s):
 * the tunnel runs on, only a restart would need a new handshake. */
static void persist(struct dtunnel *dt, uint64_t now)
{
	const char *dir = dt->d->cfg.global.state_dir;
	enum tunnel_state s = tunnel_state(dt->t);
	struct statefile_hdr h;
	struct codec_writer w;
	char err[CTL_ERR_MAX];
	int rc;

	if (!state_up(s)) {
		if (dt->have_saved && statefile_remove(dir, dt->cfg.name) < 0)
			log_msg(CONFIG_LOG_WARNING, dt->cfg.name,
				"cannot remove the state file in %s", dir);
		dt->have_saved = false;
		return;
	}
	if (dt->have_saved && dt->saved.state == s &&
	    dt->saved.epoch == tunnel_epoch(dt->t) &&
	    dt->saved.session == tunnel_session(dt->t) &&
	    dt->saved.isid == dt->cur.isid && dt->saved.rsid == dt->cur.rsid &&
	    dt->saved.in == tunnel_spi_in(dt->t) &&
	    dt->saved.out == tunnel_spi_out(dt->t) &&
	    dt->saved.staged == tunnel_spi_staged(dt->t) &&
	    dt->saved.id_block == dt->cur.next_id / ID_BLOCK &&
	    dt->saved.sealed == tunnel_messages_sealed(dt->t))
		return;
	h.reqid = dt->cfg.reqid;
	h.isid = dt->cur.isid;
	h.rsid = dt->cur.rsid;
	h.next_id = (dt->cur.next_id / ID_BLOCK + 1) * ID_BLOCK;
	codec_writer_init_dynamic(&w, STATEFILE_MAX);
	statefile_encode_hdr(&h, &w);
	rc = tunnel_save(dt->t, &w);
	if (rc == EPOCH_OK)
		rc = codec_writer_error(&w);
	if (rc == EPOCH_OK) {
		rc = statefile_write(dir, dt->cfg.name, w.buf, w.len, err,
				     sizeof(err));
	} else {
		snprintf(err, sizeof(err), "cannot save the tunnel: %s",
			 rc_text(rc));
		rc = -1;
	}
	codec_writer_free(&w); /* wipes the group's secrets */
	if (rc < 0) {
		if (!dt->last_save_warn ||
		    now - dt->last_save_warn >= WARN_INTERVAL_MS) {
			dt->last_save_warn = now;
			log_msg(CONFIG_LOG_WARNING, dt->cfg.name,
				"state file not written (a restart will need "
				"a new handshake): %s", err);
		}
		return;
	}
	dt->have_saved = true;
	dt->saved.state = s;
	dt->saved.epoch = tunnel_epoch(dt->t);
	dt->saved.session = tunnel_session(dt->t);
	dt->saved.isid = dt->cur.isid;
	dt->saved.rsid = dt->cur.rsid;
	dt->saved.in = tunnel_spi_in(dt->t);
	dt->saved.out = tunnel_spi_out(dt->t);
	dt->saved.staged = tunnel_spi_staged(dt->t);
	dt->saved.id_block = dt->cur.next_id / ID_BLOCK;
	dt->saved.sealed = tunnel_messages_sealed(dt->t);
}

/* Compares the tunnel with what we saw last and reports the difference:
 * up, a new epoch, down. why: the reason of a down. */
static void observe(struct dtunnel *dt, uint64_t now, const char *why)
{
	enum tunnel_state s = tunnel_state(dt->t);
	uint64_t e = tunnel_epoch(dt->t);
	uint32_t in = tunnel_spi_in(dt->t), out = tunnel_spi_out(dt->t);
	bool was = state_up(dt->seen_state), is = state_up(s);
	uint64_t session = tunnel_session(dt->t);
	const char *name = dt->cfg.name;

	if (was && is && session != dt->seen_session) {
		/* Row 22: the peer restarted and a new session replaced
		 * the old one. */
		log_msg(CONFIG_LOG_NOTICE, name,
			"new session: the peer restarted");
		was = false;
	}
	if (!was && is) {
		/* A handshake, or adopted from the state file: then the
		 * RESUME is on its way and its EPOCH_ACK will show as a rekey
		 * (trigger resume). */
		bool resumed = dt->resumed;

		dt->resumed = false;
		dt->last_trigger = resumed ? CTL_TRIGGER_RESUME :
					     CTL_TRIGGER_HANDSHAKE;
		dt->pending_trigger = resumed ? CTL_TRIGGER_RESUME :
						CTL_TRIGGER_PEER;
		dt->last_rekey = wall_s();
		schedule_rekey(dt, now);
		log_msg(CONFIG_LOG_INFO, name,
			"up%s: epoch %llu%s, spi in 0x%08x out 0x%08x, suite "
			"%s, esp %s, peer %s",
			resumed ? " (resumed)" : "", (unsigned long long)e,
			resumed ? " from the state file" : "", in, out,
			config_suite_name(dt->cfg.suite),
			config_esp_name(dt->cfg.esp), dt->peer_str);
		event(dt, CTL_EVENT_UP, NULL);
	} else if (was && is && (e != dt->seen_epoch || in != dt->seen_in ||
				 out != dt->seen_out)) {
		if (e == dt->seen_epoch)
			goto same; /* SAs only (a hard expiry) */
		dt->last_trigger = dt->pending_trigger;
		dt->pending_trigger = CTL_TRIGGER_PEER;
		dt->last_rekey = wall_s();
		schedule_rekey(dt, now);
		log_msg(CONFIG_LOG_INFO, name,
			"rekey: epoch %llu, spi in 0x%08x out 0x%08x, "
			"trigger %s",
			(unsigned long long)e, in, out,
			ctl_trigger_name(dt->last_trigger));
		event(dt, CTL_EVENT_REKEY, NULL);
	} else if (was && !is) {
		dt->rekey_at = UINT64_MAX;
		log_msg(CONFIG_LOG_NOTICE, name, "down: %s",
			why ? why : "peer not answering");
		event(dt, CTL_EVENT_DOWN, why ? why : "peer not answering");
	} else if (!was && !is && dt->seen_state != TUNNEL_DOWN &&
		   s == TUNNEL_DOWN) {
		log_msg(CONFIG_LOG_NOTICE, name,
			"handshake with %s failed: %s", dt->peer_str,
			why ? why : "peer not answering");
	}
same:
	/* Test build only (make keyscan); nothing otherwise. */
	if (is && (!was || e != dt->seen_epoch))
		test_secrets_record(name, dt->t);
	dt->seen_state = s;
	dt->seen_session = session;
	dt->seen_epoch = e;
	dt->seen_in = in;
	dt->seen_out = out;
	persist(dt, now);
}

/* ---- the wire ---------------------------------------------------------------- */

static int sock_for(struct daemon *d, const struct xfrm_addr *local)
{
	int any = -1;

	for (size_t i = 0; i < d->n_socks; i++) {
		if (d->sock_family[i] != local->family)
			continue;
		if (d->sock_any[i])
			any = d->socks[i];
		else if (addr_equal(&d->sock_addr[i], local))
			return d->socks[i];
	}
	return any;
}

/* Sends one datagram from the tunnel's local address. */
static void send_dgram(struct dtunnel *dt, const struct sockaddr_storage *to,
		       socklen_t tolen, const uint8_t *buf, size_t len)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} cm;
	struct iovec iov = { (void *)buf, len };
	struct msghdr m;
	struct cmsghdr *c;
	int fd = sock_for(dt->d, &dt->cfg.local);

	if (fd < 0)
		return;
	memset(&m, 0, sizeof(m));
	memset(&cm, 0, sizeof(cm));
	m.msg_name = (void *)to;
	m.msg_namelen = tolen;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cm.b;
	c = &cm.h;
	if (dt->cfg.local.family == AF_INET) {
		struct in_pktinfo pi;

		memset(&pi, 0, sizeof(pi));
		pi.ipi_spec_dst = dt->cfg.local.a.v4;
		m.msg_controllen = CMSG_SPACE(sizeof(pi));
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	} else {
		struct in6_pktinfo pi;

		memset(&pi, 0, sizeof(pi));
		pi.ipi6_addr = dt->cfg.local.a.v6;
		m.msg_controllen = CMSG_SPACE(sizeof(pi));
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	}
	if (sendmsg(fd, &m, MSG_DONTWAIT) < 0)
		log_msg(CONFIG_LOG_DEBUG, dt->cfg.name, "send to %s: %s",
			dt->peer_str, strerror(errno));
}

/* Initiator: keeps the KeyPackage of a new HELLO, to send it again with a
 * cookie; a new session forgets the old session's cookie. */
static int hello_keep(struct dtunnel *dt, const uint8_t *kp, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	if (!p)
		return EPOCH_ERR_NOMEM;
	memcpy(p, kp, len);
	free(dt->hello_kp);
	dt->hello_kp = p;
	dt->hello_kp_len = len;
	crypto_wipe(dt->cookie, sizeof(dt->cookie));
	dt->cookie_len = 0;
	dt->cookie_isid = 0;
	dt->cookie_rounds = 0;
	return EPOCH_OK;
}

/* tunnel_ops.send: frames msg (docs/protocol.md §2-§4). A response answers
 * the request being processed (cur_hdr) and goes back where it came from;
 * a request gets the next message id of the current session, or the id it
 * had if the tunnel is retransmitting it (same bytes), so fragments of the
 * copies combine at the receiver. A new HELLO starts a new session. */
static int op_send(void *ctx, enum tunnel_msg type, bool response,
		   const uint8_t *msg, size_t len)
{
	struct dtunnel *dt = ctx;
	struct wire_header h;
	struct wire_datagrams dg;
	const struct sockaddr_storage *to = &dt->peer_sa;
	socklen_t tolen = dt->peer_sa_len;
	uint8_t dig[32];
	size_t n_dg;
	int rc;

	memset(&h, 0, sizeof(h));
	h.type = (uint8_t)type;
	h.flags = (uint8_t)((response ? WIRE_F_RESPONSE : 0) |
			    (dt->cfg.initiator ? WIRE_F_INITIATOR : 0));
	if (response) {
		if (!dt->cur_hdr)
			return EPOCH_ERR_STATE;
		h.isid = dt->cur_hdr->isid;
		h.rsid = dt->cur_rsid;
		h.msg_id = dt->cur_hdr->msg_id;
		to = dt->cur_src;
		tolen = dt->cur_src_len;
	} else {
		GUARD(crypto_hash(CRYPTO_SHA256, msg, len, dig));
		if (dt->have_last_req &&
		    memcmp(dig, dt->last_req_digest, 32) == 0) {
			h.msg_id = dt->last_req_id;
		} else {
			if (type == TUNNEL_MSG_HELLO) {
				GUARD(wire_session_id(NULL, &dt->cur.isid));
				dt->cur.rsid = 0;
				dt->cur.next_id = 0;
				GUARD(hello_keep(dt, msg, len));
			}
			if (dt->cur.next_id == UINT32_MAX)
				return EPOCH_ERR_STATE;
			h.msg_id = dt->cur.next_id++;
			memcpy(dt->last_req_digest, dig, 32);
			dt->last_req_id = h.msg_id;
			dt->have_last_req = true;
		}
		h.isid = dt->cur.isid;
		h.rsid = dt->cur.rsid;
	}
	if (type == TUNNEL_MSG_HELLO && !response) {
		/* HELLO = opaque cookie<V> (empty unless the responder sent
		 * a COOKIE for this session) || KeyPackage (docs/protocol.md
		 * §5). */
		uint8_t *hello = malloc(len + COOKIE_MAX + 2);
		size_t o;

		if (!hello)
			return EPOCH_ERR_NOMEM;
		o = cookie_vec_encode(dt->cookie, dt->cookie_isid == h.isid ?
					  dt->cookie_len : 0, hello);
		memcpy(hello + o, msg, len);
		rc = wire_fragment(&dt->d->lim, &h, hello, len + o, &dg);
		free(hello);
		len += o;
	} else {
		rc = wire_fragment(&dt->d->lim, &h, msg, len, &dg);
	}
	if (rc < 0) {
		log_msg(CONFIG_LOG_WARNING, dt->cfg.name,
			"cannot send %s of %zu bytes: %s",
			wire_type_name(type), len, rc_text(rc));
		return EPOCH_ERR_INVALID_ARG;
	}
	for (size_t i = 0; i < dg.count; i++) {
		size_t l;
		const uint8_t *p = wire_datagram(&dg, i, &l);

		send_dgram(dt, to, tolen, p, l);
	}
	n_dg = dg.count; /* dg may move to dt->resp */
	if (response && type != TUNNEL_MSG_WELCOME) {
		wire_datagrams_free(&dt->resp);
		dt->resp = dg;
		dt->resp_req = *dt->cur_hdr;
		dt->resp_sent = mono_ms();
		memset(&dg, 0, sizeof(dg));
	}
	log_msg(CONFIG_LOG_DEBUG, dt->cfg.name,
		"sent %s%s id %u, %zu bytes in %zu datagrams",
		wire_type_name(type), response ? " response" : "", h.msg_id,
		len, n_dg);
	wire_datagrams_free(&dg);
	return EPOCH_OK;
}

/* ---- the kernel ------------------------------------------------------------- */

static void sa_template(const struct dtunnel *dt, bool in, uint32_t spi,
			const uint8_t *key, size_t key_len,
			struct xfrm_sa *sa)
{
	const struct config_tunnel *c = &dt->cfg;

	memset(sa, 0, sizeof(*sa));
	sa->src = in ? c->remote : c->local;
	sa->dst = in ? c->local : c->remote;
	sa->spi = spi;
	sa->reqid = c->reqid;
	sa->aead = c->esp;
	memcpy(sa->key, key, key_len);
	sa->key_len = key_len;
	sa->esn = true;
	sa->replay_window = REPLAY_WINDOW;
	sa->mark = c->mark;
	sa->mark_mask = c->mark_mask;
	sa->if_id = c->if_id;
	sa->lft.soft_bytes = c->rekey_bytes;
	sa->lft.hard_bytes = c->hard_bytes;
	sa->lft.soft_packets = c->rekey_packets;
	sa->lft.hard_packets = c->hard_packets;
	sa->lft.hard_seconds = c->hard_time;
}

static void xfrm_fail(struct dtunnel *dt, const char *what)
{
	log_msg(CONFIG_LOG_ERROR, dt->cfg.name, "%s: %s", what,
		psep_error(dt->x));
}

static int op_alloc_spi(void *ctx, uint32_t *spi)
{
	struct dtunnel *dt = ctx;

	if (psep_alloc_spi(dt->x, &dt->cfg.remote, &dt->cfg.local,
			   dt->cfg.reqid, SPI_MIN, SPI_MAX, spi) < 0) {
		xfrm_fail(dt, "allocate SPI");
		return EPOCH_ERR_STATE;
	}
	return EPOCH_OK;
}

/* Installs the tunnel's SA for spi in one direction; the key is wiped
 * from the request. */
static int sa_install(struct dtunnel *dt, bool in, uint32_t spi,
		      const uint8_t *key, size_t key_len)
{
	struct xfrm_sa sa;
	int rc;

	sa_template(dt, in, spi, key, key_len, &sa);
	rc = psep_sa_add(dt->x, &sa);
	crypto_wipe(&sa, sizeof(sa));
	if (rc < 0) {
		xfrm_fail(dt, in ? "install inbound SA" :
				   "install outbound SA");
		return EPOCH_ERR_STATE;
	}
	return EPOCH_OK;
}

static int op_sa_in_add(void *ctx, uint32_t spi, const uint8_t *key,
			size_t key_len)
{
	struct dtunnel *dt = ctx;

	GUARD(sa_install(dt, true, spi, key, key_len));
	if (dt->n_in_spis < sizeof(dt->in_spis) / sizeof(dt->in_spis[0]))
		dt->in_spis[dt->n_in_spis++] = spi;
	return EPOCH_OK;
}

static void in_spi_forget(struct dtunnel *dt, uint32_t spi)
{
	for (size_t i = 0; i < dt->n_in_spis; i++)
		if (dt->in_spis[i] == spi) {
			dt->in_spis[i] = dt->in_spis[--dt->n_in_spis];
			return;
		}
}

/* Inbound bytes and packets of every SA the tunnel has had. SAs the
 * kernel no longer knows (a hard expiry) are forgotten. */
static void count_in(struct dtunnel *dt, uint64_t *bytes, uint64_t *pkts)
{
	struct xfrm_sa_stats st;

	*bytes = dt->old_bytes_in;
	*pkts = dt->old_pkts_in;
	for (size_t i = 0; i < dt->n_in_spis;) {
		if (psep_sa_stats(dt->x, &dt->cfg.local, dt->in_spis[i],
				  &st) < 0) {
			in_spi_forget(dt, dt->in_spis[i]);
			continue;
		}
		*bytes += st.bytes;
		*pkts += st.packets;
		i++;
	}
}

/* Adds a deleted SA's counters to the tunnel's totals. */
static void count_deleted(struct dtunnel *dt, bool in, uint32_t spi)
{
	struct xfrm_sa_stats st;

	if (psep_sa_stats(dt->x, in ? &dt->cfg.local : &dt->cfg.remote, spi,
			  &st) < 0)
		return;
	if (in) {
		dt->old_bytes_in += st.bytes;
		dt->old_pkts_in += st.packets;
	} else {
		dt->old_bytes_out += st.bytes;
		dt->old_pkts_out += st.packets;
	}
}

static int sa_del(struct dtunnel *dt, bool in, uint32_t spi)
{
	int rc;

	count_deleted(dt, in, spi);
	if (in)
		in_spi_forget(dt, spi);
	rc = psep_sa_delete(dt->x, in ? &dt->cfg.local : &dt->cfg.remote,
			    spi);
	if (rc < 0 && rc != -ENOENT) {
		xfrm_fail(dt, "delete SA");
		return EPOCH_ERR_STATE;
	}
	log_msg(CONFIG_LOG_DEBUG, dt->cfg.name, "deleted %s SA 0x%08x",
		in ? "inbound" : "outbound", spi);
	return EPOCH_OK;
}

static int op_sa_in_del(void *ctx, uint32_t spi)
{
	return sa_del(ctx, true, spi);
}

static int op_sa_out_del(void *ctx, uint32_t spi)
{
	return sa_del(ctx, false, spi);
}

/* The policies for selector pair (i, j) of the tunnel, by direction. */
static bool policy_for(const struct dtunnel *dt, size_t i, size_t j,
		       enum xfrm_dir dir, uint32_t spi,
		       struct xfrm_policy *p)
{
	const struct config_tunnel *c = &dt->cfg;
	const struct config_prefix *l = &c->local_ts[i], *r = &c->remote_ts[j];
	bool out = dir == XFRM_DIR_OUT;

	if (l->addr.family != r->addr.family)
		return false;
	memset(p, 0, sizeof(*p));
	p->sel.src = out ? l->addr : r->addr;
	p->sel.src_plen = out ? l->plen : r->plen;
	p->sel.dst = out ? r->addr : l->addr;
	p->sel.dst_plen = out ? r->plen : l->plen;
	p->dir = dir;
	p->tmpl_src = out ? c->local : c->remote;
	p->tmpl_dst = out ? c->remote : c->local;
	p->reqid = c->reqid;
	p->spi = out ? spi : 0;
	p->priority = POLICY_PRIORITY;
	p->mark = c->mark;
	p->mark_mask = c->mark_mask;
	p->if_id = c->if_id;
	return true;
}

/* Points every out policy at spi (0: no SA yet). */
static int policies_out(struct dtunnel *dt, uint32_t spi)
{
	struct xfrm_policy p;

	for (size_t i = 0; i < dt->cfg.n_local_ts; i++)
		for (size_t j = 0; j < dt->cfg.n_remote_ts; j++)
			if (policy_for(dt, i, j, XFRM_DIR_OUT, spi, &p) &&
			    psep_policy_update(dt->x, &p) < 0) {
				xfrm_fail(dt, "switch out policy");
				return -1;
			}
	return 0;
}

/* Out, in and fwd policies for every selector pair, installed with the
 * tunnel and kept while it is configured: without an SA its traffic is
 * dropped, never sent in the clear. */
static int policies_install(struct dtunnel *dt)
{
	static const enum xfrm_dir dirs[] = { XFRM_DIR_IN, XFRM_DIR_FWD };
	struct xfrm_policy p;

	if (policies_out(dt, 0) < 0)
		return -1;
	for (size_t i = 0; i < dt->cfg.n_local_ts; i++)
		for (size_t j = 0; j < dt->cfg.n_remote_ts; j++)
			for (size_t k = 0; k < 2; k++)
				if (policy_for(dt, i, j, dirs[k], 0, &p) &&
				    psep_policy_update(dt->x, &p) < 0) {
					xfrm_fail(dt, "install policy");
					return -1;
				}
	dt->policies = true;
	return 0;
}

static int op_out_switch(void *ctx, uint32_t spi, const uint8_t *key,
			 size_t key_len, uint32_t old_spi)
{
	struct dtunnel *dt = ctx;

	GUARD(sa_install(dt, false, spi, key, key_len));
	if (policies_out(dt, spi) < 0)
		return EPOCH_ERR_STATE;
	if (old_spi)
		return sa_del(dt, false, old_spi);
	return EPOCH_OK;
}

/* tunnel_ops.save: the state file, before a message lets the peer move
 * on (the rest is saved after each step, in observe). */
static int op_save(void *ctx)
{
	persist(ctx, mono_ms());
	return EPOCH_OK;
}

static const struct tunnel_ops dt_ops = {
	.save = op_save,
	.send = op_send,
	.alloc_spi = op_alloc_spi,
	.sa_in_add = op_sa_in_add,
	.sa_in_del = op_sa_in_del,
	.out_switch = op_out_switch,
	.sa_out_del = op_sa_out_del,
};

/* ---- tunnels ------------------------------------------------------------------ */

/* max_tries such that the schedule 500 ms * (2^n - 1) covers dpd_timeout. */
static unsigned tries_for(uint32_t timeout_s)
{
	unsigned n = 3;

	while (n < 10 && (uint64_t)RETRANSMIT_MS * ((1u << n) - 1) <
				 (uint64_t)timeout_s * 1000)
		n++;
	return n;
}

static void dtunnel_free(struct dtunnel *dt)
{
	if (!dt)
		return;
	tunnel_free(dt->t);
	wire_reasm_free(&dt->ra);
	wire_datagrams_free(&dt->resp);
	free(dt->hello_kp);
	psep_close(dt->x);
	crypto_wipe(dt, sizeof(*dt));
	free(dt);
}

static struct dtunnel *dtunnel_new(struct daemon *d,
				   const struct config_tunnel *c, char *err,
				   size_t errlen)
{
	struct dtunnel *dt = calloc(1, sizeof(*dt));
	struct tunnel_cfg tc;
	struct tunnel_ops ops;
	char a[INET6_ADDRSTRLEN];
	unsigned tries;
	int rc;

	if (!dt) {
		errmsg_set(err, errlen, "%s: out of memory", c->name);
		return NULL;
	}
	dt->d = d;
	dt->cfg = *c;
	dt->disabled = !c->enabled;
	dt->rekey_at = UINT64_MAX;
	dt->pending_trigger = CTL_TRIGGER_PEER;
	params_build(dt);
	addr_str(&c->remote, a, sizeof(a));
	if (c->remote.family == AF_INET6)
		snprintf(dt->peer_str, sizeof(dt->peer_str), "[%s]:%u", a,
			 d->cfg.global.port);
	else
		snprintf(dt->peer_str, sizeof(dt->peer_str), "%s:%u", a,
			 d->cfg.global.port);
	dt->peer_sa_len = to_sockaddr(&c->remote, d->cfg.global.port,
				      &dt->peer_sa);
	if (wire_reasm_init(&dt->ra, &d->lim) < 0) {
		errmsg_set(err, errlen, "%s: out of memory", c->name);
		free(dt);
		return NULL;
	}
	rc = psep_open(&dt->x, d->ps, c->reqid);
	if (rc < 0) {
		errmsg_set(err, errlen, "%s: cannot open XFRM netlink: %s",
			   c->name, strerror(-rc));
		wire_reasm_free(&dt->ra);
		free(dt);
		return NULL;
	}
	memset(&tc, 0, sizeof(tc));
	tc.initiator = c->initiator;
	tc.member.suite = c->suite;
	tc.member.identity = (const uint8_t *)d->pk_b64;
	tc.member.identity_len = strlen(d->pk_b64);
	tc.member.sig_sk = d->sk;
	tc.member.sig_pk = d->pk;
	tc.member.not_before = 0;
	tc.member.not_after = UINT64_MAX >> 1;
	tc.member.rng = NULL;
	memcpy(tc.peer_key, c->peer_key, 32);
	tc.esp_alg = esp_code(c->esp);
	tc.esp_key_len = xfrm_aead_key_len(c->esp);
	tc.params = dt->params;
	tc.params_len = dt->params_len;
	tries = tries_for(c->dpd_timeout);
	tc.retransmit_ms = RETRANSMIT_MS;
	tc.max_tries = tries;
	tc.retransmit_cap_ms = RETRANSMIT_CAP_MS;
	tc.dpd_ms = (uint64_t)c->dpd_interval * 1000;
	tc.restart_ms = RESTART_MS;
	tc.restart_max_ms = RESTART_MAX_MS;
	tc.grace_ms = (uint64_t)RETRANSMIT_MS * ((1u << tries) - 1) + 1000;
	ops = dt_ops;
	ops.ctx = dt;
	rc = tunnel_new(&dt->t, &tc, &ops);
	crypto_wipe(&tc, sizeof(tc));
	if (rc < 0) {
		errmsg_set(err, errlen, "%s: %s", c->name, rc_text(rc));
		psep_close(dt->x);
		wire_reasm_free(&dt->ra);
		free(dt);
		return NULL;
	}
	return dt;
}

/* Whether the kernel still has the SA (dst, spi) of this tunnel. */
static bool sa_exists(struct dtunnel *dt, bool in, uint32_t spi)
{
	struct xfrm_sa_stats st;

	return psep_sa_stats(dt->x, in ? &dt->cfg.local : &dt->cfg.remote,
			     spi, &st) == 0;
}

/* A restart (DESIGN.md §5): the tunnel's state file is loaded and, if its
 * SAs are all still in the kernel, adopted (traffic never stopped), SAs
 * of ours it does not know deleted, the policies pointed at its outbound
 * SA, and a RESUME sent. Returns 1 when resumed, 0 when the caller must
 * start from scratch (no file, a damaged or stale one: removed). */
static int try_resume(struct dtunnel *dt, uint64_t now)
{
	const char *dir = dt->d->cfg.global.state_dir, *name = dt->cfg.name;
	struct statefile_hdr h;
	const uint8_t *tb;
	uint8_t *buf = NULL;
	size_t len = 0, tl, n_keep;
	uint32_t keep[4 + 16], missing = 0;
	char err[CTL_ERR_MAX];
	int rc;

	rc = statefile_read(dir, name, &buf, &len, err, sizeof(err));
	if (rc == -ENOENT)
		return 0;
	if (rc < 0) {
		log_msg(CONFIG_LOG_WARNING, name, "state file ignored: %s",
			err);
		goto fresh;
	}
	rc = statefile_decode(buf, len, &h, &tb, &tl);
	if (rc == EPOCH_OK && h.reqid != dt->cfg.reqid)
		rc = EPOCH_ERR_CREDENTIAL;
	if (rc == EPOCH_OK)
		rc = tunnel_load(dt->t, tb, tl, now);
	crypto_wipe(buf, len);
	free(buf);
	buf = NULL;
	if (rc != EPOCH_OK) {
		log_msg(CONFIG_LOG_WARNING, name,
			"state file ignored: %s, new handshake",
			rc == EPOCH_ERR_CREDENTIAL ?
				"made for another configuration" :
				"damaged");
		goto fresh;
	}
	/* The saved session: RESUME (or a CLOSE, below) goes out in it. */
	dt->cur.isid = h.isid;
	dt->cur.rsid = h.rsid;
	dt->cur.next_id = h.next_id;
	n_keep = 0;
	keep[n_keep++] = tunnel_spi_in(dt->t);
	keep[n_keep++] = tunnel_spi_out(dt->t);
	if (tunnel_spi_staged(dt->t))
		keep[n_keep++] = tunnel_spi_staged(dt->t);
	/* An SA the file names but the kernel lacks: the crash came between
	 * a kernel change and the next save (the file is one step behind).
	 * Its key comes from the saved group again. */
	for (size_t i = 0; i < n_keep; i++) {
		uint8_t key[TUNNEL_ESP_KEY_MAX];
		size_t kl;
		bool in = i != 1;

		if (sa_exists(dt, in, keep[i]))
			continue;
		rc = tunnel_sa_key(dt->t, keep[i], &in, key, &kl);
		if (rc == EPOCH_OK)
			rc = sa_install(dt, in, keep[i], key, kl);
		crypto_wipe(key, sizeof(key));
		if (rc != EPOCH_OK) {
			missing = keep[i];
			break;
		}
		log_msg(CONFIG_LOG_NOTICE, name,
			"%s SA 0x%08x of the state file was missing: "
			"installed again", in ? "inbound" : "outbound",
			keep[i]);
	}
	if (missing) {
		log_msg(CONFIG_LOG_NOTICE, name,
			"state file of epoch %llu cannot be used (SA 0x%08x): "
			"new handshake",
			(unsigned long long)tunnel_epoch(dt->t), missing);
		/* The peer hears CLOSE and starts over too. */
		tunnel_down(dt->t);
		memset(&dt->cur, 0, sizeof(dt->cur));
		goto fresh;
	}
	n_keep += tunnel_old_spis(dt->t, keep + n_keep,
				  sizeof(keep) / sizeof(keep[0]) - n_keep);
	rc = psep_sa_prune(dt->x, keep, n_keep);
	if (rc > 0)
		log_msg(CONFIG_LOG_NOTICE, name,
			"removed %d SAs the state file does not know", rc);
	for (size_t i = 0; i < n_keep; i++)
		if (i != 1 && dt->n_in_spis < sizeof(dt->in_spis) /
						      sizeof(dt->in_spis[0]))
			dt->in_spis[dt->n_in_spis++] = keep[i];
	if (policies_install(dt) < 0 ||
	    policies_out(dt, tunnel_spi_out(dt->t)) < 0) {
		log_msg(CONFIG_LOG_ERROR, name, "cannot install policies: %s",
			psep_error(dt->x));
		tunnel_down(dt->t);
		memset(&dt->cur, 0, sizeof(dt->cur));
		goto fresh;
	}
	dt->resumed = true;
	rc = tunnel_resume(dt->t, now);
	if (rc < 0)
		log_msg(CONFIG_LOG_WARNING, name, "cannot send RESUME: %s",
			rc_text(rc));
	return 1;
fresh:
	statefile_remove(dir, name);
	return 0;
}

/* Kernel state of a tunnel: resumed from its state file, or leftovers of
 * a previous instance flushed, policies installed and the initiator's
 * handshake started. */
static int dtunnel_start(struct dtunnel *dt, uint64_t now, char *err,
			 size_t errlen)
{
	int n;

	if (!dt->disabled && try_resume(dt, now))
		return 0;
	n = psep_flush(dt->x);
	if (n > 0)
		log_msg(CONFIG_LOG_NOTICE, dt->cfg.name,
			"removed %d SAs and policies left by an earlier "
			"instance", n);
	if (policies_install(dt) < 0) {
		errmsg_set(err, errlen, "%s: %s", dt->cfg.name,
			   psep_error(dt->x));
		return -1;
	}
	if (!dt->disabled && dt->cfg.initiator) {
		int rc = tunnel_start(dt->t, now);

		if (rc < 0)
			log_msg(CONFIG_LOG_ERROR, dt->cfg.name,
				"cannot start the handshake: %s",
				rc_text(rc));
	}
	return 0;
}

/* Everything of the tunnel out of the kernel (reload, exit). */
static void dtunnel_stop(struct dtunnel *dt, const char *why)
{
	int n;

	tunnel_down(dt->t);
	observe(dt, mono_ms(), why);
	statefile_remove(dt->d->cfg.global.state_dir, dt->cfg.name);
	n = psep_flush(dt->x);
	if (n < 0)
		xfrm_fail(dt, "remove SAs and policies");
	dt->policies = false;
}

static struct dtunnel *find_tunnel(struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->n_tun; i++)
		if (strcmp(d->tun[i]->cfg.name, name) == 0)
			return d->tun[i];
	return NULL;
}

static void warn_rejected(struct dtunnel *dt, uint64_t now, const char *what,
			  int rc, const struct xfrm_addr *from)
{
	char a[INET6_ADDRSTRLEN];
	char reason[CTL_ERR_MAX];
	struct ctl_event ev;

	if (dt->last_warn && now - dt->last_warn < WARN_INTERVAL_MS) {
		log_msg(CONFIG_LOG_DEBUG, dt->cfg.name,
			"%s refused: %s (%s)", what, rc_text(rc),
			rc_name(rc));
		return;
	}
	dt->last_warn = now;
	if (rc == EPOCH_ERR_CREDENTIAL)
		snprintf(reason, sizeof(reason),
			 "%s: the peer's key is not the configured peer_key "
			 "(%s)", what, rc_name(rc));
	else if (rc == EPOCH_ERR_PROPOSAL && strcmp(what, "WELCOME") == 0)
		snprintf(reason, sizeof(reason),
			 "%s: the peer's tunnel parameters (esp, local_ts, "
			 "remote_ts) differ from ours (%s)", what,
			 rc_name(rc));
	else
		snprintf(reason, sizeof(reason), "%s: %s (%s)", what,
			 rc_text(rc), rc_name(rc));
	log_msg(CONFIG_LOG_WARNING, dt->cfg.name, "peer rejected: %s (from %s)",
		reason, addr_str(from, a, sizeof(a)));
	memset(&ev, 0, sizeof(ev));
	ev.type = CTL_EVENT_REJECTED;
	ev.time = wall_s();
	snprintf(ev.tunnel, sizeof(ev.tunnel), "%s", dt->cfg.name);
	snprintf(ev.peer, sizeof(ev.peer), "%s", a);
	snprintf(ev.reason, sizeof(ev.reason), "%s", reason);
	broadcast(dt->d, &ev);
}

/* Initiator: a COOKIE (docs/protocol.md §5). Unauthenticated, so it is
 * taken only for the HELLO we are waiting on (its session id and message
 * id), at most COOKIE_ROUNDS_MAX times per session, and changes nothing
 * but the cookie in front of the HELLO: the HELLO goes out again at once
 * as a new request, and its retransmissions carry the cookie. */
static void on_cookie(struct dtunnel *dt, const struct wire_message *m)
{
	const struct wire_header *h = &m->hdr;
	const uint8_t *c;
	size_t c_len;
	const char *why = NULL;

	if (!dt->cfg.initiator)
		why = "we are the responder";
	else if (tunnel_state(dt->t) != TUNNEL_HELLO_SENT ||
		 h->isid != dt->cur.isid || dt->cur.rsid || !dt->hello_kp ||
		 !dt->have_last_req || h->msg_id != dt->last_req_id)
		why = "not for the HELLO we are waiting on";
	else if (cookie_payload_parse(m->data, m->len, &c, &c_len) < 0)
		why = "malformed";
	else if (dt->cookie_rounds >= COOKIE_ROUNDS_MAX)
		why = "too many for one session";
	else if (dt->cur.next_id == UINT32_MAX)
		why = "message ids exhausted";
	if (why) {
		dt->d->dos.st.cookies_ignored++;
		log_msg(CONFIG_LOG_DEBUG, dt->cfg.name, "COOKIE ignored: %s",
			why);
		return;
	}
	dt->d->dos.st.cookies_received++;
	memcpy(dt->cookie, c, c_len);
	dt->cookie_len = c_len;
	dt->cookie_isid = dt->cur.isid;
	dt->cookie_rounds++;
	dt->last_req_id = dt->cur.next_id++;
	log_msg(CONFIG_LOG_INFO, dt->cfg.name,
		"the peer is under load and sent a cookie: HELLO again with "
		"it (id %u)", dt->last_req_id);
	op_send(dt, TUNNEL_MSG_HELLO, false, dt->hello_kp, dt->hello_kp_len);
}

/* A complete message from the tunnel's peer. */
static void dispatch(struct dtunnel *dt, const struct wire_message *m,
		     const struct sockaddr_storage *src, socklen_t srclen,
		     const struct xfrm_addr *from, uint64_t now)
{
	const struct wire_header *h = &m->hdr;
	bool resp = h->flags & WIRE_F_RESPONSE;
	bool from_init = h->flags & WIRE_F_INITIATOR;
	bool in_pend = false;
	unsigned collisions = tunnel_collisions(dt->t);
	uint64_t session = tunnel_session(dt->t);
	const uint8_t *data = m->data;
	size_t len = m->len;
	const char *tname = wire_type_name(h->type);
	uint64_t rsid;
	int rc;

	if (dt->disabled) {
		log_msg(CONFIG_LOG_DEBUG, dt->cfg.name,
			"%s ignored: tunnel is down (epochctl down)", tname);
		return;
	}
	/* The sender is the peer: its INITIATOR flag is the opposite of
	 * ours. */
	if (from_init == dt->cfg.initiator) {
		log_msg(CONFIG_LOG_DEBUG, dt->cfg.name,
			"%s ignored: both sides claim the same role", tname);
		return;
	}
	switch (h->type) {
	case WIRE_HELLO:
		/* A new session (rows 4, 22) or a retransmission of the
		 * one being set up (row 5: same ids again). */
		if (h->isid == dt->pend.isid && dt->pend.rsid)
			rsid = dt->pend.rsid;
		else if (h->isid == dt->cur.isid && dt->cur.rsid)
			rsid = dt->cur.rsid;
		else if (wire_session_id(NULL, &rsid) < 0)
			return;
		break;
	case WIRE_WELCOME:
		if (h->isid != dt->cur.isid || dt->cur.rsid) {
			log_msg(CONFIG_LOG_DEBUG, dt->cfg.name,
				"WELCOME ignored: not for our HELLO");
			return;
		}
		rsid = h->rsid;
		break;
	case WIRE_COMMIT:
	case WIRE_RESUME:
	case WIRE_EPOCH_ACK:
	case WIRE_KEEPALIVE:
	case WIRE_CLOSE:
		if (h->isid == dt->cur.isid && h->rsid == dt->cur.rsid) {
			rsid = h->rsid;
		} else if (h->isid == dt->pend.isid &&
			   h->rsid == dt->pend.rsid && dt->pend.rsid) {
			rsid = h->rsid;
			in_pend = true;
		} else {
			log_msg(CONFIG_LOG_DEBUG, dt->cfg.name,
				"%s ignored: unknown session", tname);
			return;
		}
		break;
	case WIRE_COOKIE:
		on_cookie(dt, m);
		return;
	case WIRE_ERROR: {
		/* Unauthenticated: logged, never acted on. */
		unsigned code = m->len >= 2 ? (unsigned)m->data[0] << 8 |
						      m->data[1] : 0;

		log_msg(CONFIG_LOG_INFO, dt->cfg.name,
			"the peer reports error %u", code);
		return;
	}
	default:
		log_msg(CONFIG_LOG_DEBUG, dt->cfg.name,
			"%s ignored: not supported", tname ? tname : "?");
		return;
	}
	/* The initiator's join COMMIT goes out while the WELCOME is being
	 * processed: it must carry the responder's id already. */
	if (h->type == WIRE_WELCOME)
		dt->cur.rsid = rsid;
	if (h->type == WIRE_HELLO) {
		/* The cookie in front of the KeyPackage was checked on the
		 * first fragment when it was needed (on_datagram, dos.h). */
		const uint8_t *c;
		size_t c_len, off;

		rc = cookie_hello_split(m->data, m->len, &c, &c_len, &off);
		if (rc < 0) {
			log_msg(CONFIG_LOG_DEBUG, dt->cfg.name,
				"HELLO ignored: cookie: %s", rc_text(rc));
			return;
		}
		data += off;
		len -= off;
		dt->d->dos.st.hellos_processed++;
	}
	if (h->type == WIRE_RESUME)
		dt->pending_trigger = CTL_TRIGGER_RESUME;
	dt->cur_hdr = h;
	dt->cur_rsid = rsid;
	dt->cur_src = src;
	dt->cur_src_len = srclen;
	rc = tunnel_receive(dt->t, (enum tunnel_msg)h->type, resp, data, len,
			    now);
	dt->cur_hdr = NULL;
	dt->cur_src = NULL;
	if (tunnel_collisions(dt->t) != collisions && !dt->cfg.initiator)
		dt->pending_trigger = CTL_TRIGGER_PEER;
	if (tunnel_collisions(dt->t) != collisions)
		log_msg(CONFIG_LOG_INFO, dt->cfg.name, "rekey collision: %s",
			dt->cfg.initiator ?
				"the peer's commit yields to ours" :
				"yielding to the initiator's commit");
	if (rc < 0 && h->type == WIRE_WELCOME &&
	    tunnel_state(dt->t) == TUNNEL_HELLO_SENT)
		dt->cur.rsid = 0;
	if (rc < 0) {
		/* A late copy of a handshake message is not a rejection. */
		if ((h->type == WIRE_HELLO || h->type == WIRE_WELCOME ||
		     rc == EPOCH_ERR_CREDENTIAL) && rc != EPOCH_ERR_STATE)
			warn_rejected(dt, now, tname, rc, from);
		else if (tunnel_collisions(dt->t) == collisions)
			log_msg(CONFIG_LOG_DEBUG, dt->cfg.name,
				"%s%s id %u refused: %s (%s)", tname,
				resp ? " response" : "", h->msg_id,
				rc_text(rc), rc_name(rc));
		observe(dt, now, NULL);
		return;
	}
	switch (h->type) {
	case WIRE_HELLO:
		if (dt->cfg.initiator)
			break;
		if (h->isid == dt->cur.isid && rsid == dt->cur.rsid)
			break; /* row 5: the current session's HELLO again */
		dt->pend.isid = h->isid;
		dt->pend.rsid = rsid;
		dt->pend.next_id = 0;
		if (!tunnel_pending(dt->t)) {
			/* Row 4: no other session: this one is current. */
			dt->cur = dt->pend;
			memset(&dt->pend, 0, sizeof(dt->pend));
			dt->have_last_req = false;
		}
		break;
	default:
		if (in_pend && tunnel_session(dt->t) != session) {
			/* Row 22: the new session replaced the old one. */
			dt->cur = dt->pend;
			memset(&dt->pend, 0, sizeof(dt->pend));
			dt->have_last_req = false;
		}
		break;
	}
	observe(dt, now, h->type == WIRE_CLOSE ? "closed by the peer" : NULL);
}

/* A fragment of the request our last response answered: the peer did
 * not get the response (a lost EPOCH_ACK). Its datagrams go out again at
 * once, at most every 100 ms, without waiting for the whole request
 * again: under loss a complete copy of a 4-fragment COMMIT is rare, a
 * fragment of it is not. Not for WELCOME (responses to HELLO are not
 * worth an amplifier); those come from the tunnel's duplicate check. */
static bool resend_response(struct dtunnel *dt, const struct wire_header *h,
			    const struct sockaddr_storage *src,
			    socklen_t srclen, uint64_t now)
{
	const struct wire_header *q = &dt->resp_req;

	if (!dt->resp.count || (h->flags & WIRE_F_RESPONSE) ||
	    h->type != q->type || h->isid != q->isid || h->rsid != q->rsid ||
	    h->msg_id != q->msg_id || h->total_len != q->total_len)
		return false;
	if (now - dt->resp_sent >= 100) {
		for (size_t i = 0; i < dt->resp.count; i++) {
			size_t l;
			const uint8_t *p = wire_datagram(&dt->resp, i, &l);

			send_dgram(dt, src, srclen, p, l);
		}
		dt->resp_sent = now;
		log_msg(CONFIG_LOG_DEBUG, dt->cfg.name,
			"%s id %u again: its response resent",
			wire_type_name(h->type), h->msg_id);
	}
	return true;
}

static struct dtunnel *tunnel_by_addr(struct daemon *d,
				      const struct xfrm_addr *from,
				      const struct xfrm_addr *to, bool have_to)
{
	struct dtunnel *match = NULL;

	for (size_t i = 0; i < d->n_tun; i++) {
		struct dtunnel *dt = d->tun[i];

		if (!addr_equal(&dt->cfg.remote, from))
			continue;
		if (have_to && addr_equal(&dt->cfg.local, to))
			return dt;
		if (!match)
			match = dt;
	}
	return match;
}

/* Responder handshakes half-open across every tunnel: WELCOME sent, no
 * join COMMIT yet, including row-22 pending sessions. */
static unsigned half_open(const struct daemon *d)
{
	unsigned n = 0;

	for (size_t i = 0; i < d->n_tun; i++) {
		const struct dtunnel *dt = d->tun[i];

		if (dt->cfg.initiator)
			continue;
		n += tunnel_state(dt->t) == TUNNEL_WELCOME_SENT;
		n += tunnel_pending(dt->t);
	}
	return n;
}

/* Before a datagram may take a reassembly buffer (docs/protocol.md §5,
 * load rules): a HELLO goes through the cookie and rate rules of dos.h,
 * answered with a COOKIE where they say so; a fragment of a message that
 * dispatch would drop for its session ids (one not ours) is dropped now,
 * so a flood that spoofs the peer's address cannot fill the reassembly
 * table that the tunnel's rekeys need. */
static bool admit(struct dtunnel *dt, const struct wire_header *h,
		  const uint8_t *frag, size_t flen, size_t dgram_len,
		  const struct sockaddr_storage *src, socklen_t srclen,
		  const struct xfrm_addr *from, uint16_t port, uint64_t now)
{
	struct daemon *d = dt->d;
	uint8_t reply[DOS_COOKIE_DGRAM_LEN];
	struct dos_hello in;
	size_t rlen;
	enum dos_verdict v;

	switch (h->type) {
	case WIRE_HELLO:
		if (dt->cfg.initiator || dt->disabled)
			return false; /* dispatch would ignore it */
		memset(&in, 0, sizeof(in));
		in.h = h;
		in.frag = frag;
		in.frag_len = flen;
		in.dgram_len = dgram_len;
		in.addr = (const uint8_t *)&from->a;
		in.addr_len = from->family == AF_INET ? 4 : 16;
		in.port = port;
		in.half_open = half_open(d);
		in.reasm_exists = wire_reasm_has(&dt->ra, h);
		in.hello_reasms = wire_reasm_count(&dt->ra, WIRE_HELLO);
		v = dos_hello_check(&d->dos, &in, now, reply, &rlen);
		if (v == DOS_COOKIE) {
			send_dgram(dt, src, srclen, reply, rlen);
			log_msg(CONFIG_LOG_DEBUG, dt->cfg.name,
				"HELLO id %u: COOKIE sent (half-open %u, "
				"threshold %u)", h->msg_id, in.half_open,
				d->dos.threshold);
		}
		return v == DOS_PASS;
	case WIRE_WELCOME:
		return h->frag_count == 1 ||
		       (h->isid == dt->cur.isid && !dt->cur.rsid);
	case WIRE_COMMIT:
	case WIRE_RESUME:
	case WIRE_EPOCH_ACK:
	case WIRE_KEEPALIVE:
	case WIRE_CLOSE:
		return h->frag_count == 1 ||
		       (h->isid == dt->cur.isid && h->rsid == dt->cur.rsid) ||
		       (h->isid == dt->pend.isid && h->rsid == dt->pend.rsid &&
			dt->pend.rsid);
	default:
		return true;
	}
}

static void on_datagram(struct daemon *d, const uint8_t *buf, size_t len,
			const struct sockaddr_storage *src, socklen_t srclen,
			const struct xfrm_addr *to, bool have_to,
			uint64_t now)
{
	struct wire_header h;
	struct wire_message m;
	struct xfrm_addr from;
	struct dtunnel *dt;
	const uint8_t *frag;
	size_t flen;
	uint16_t port;
	char a[INET6_ADDRSTRLEN];
	int rc;

	from_sockaddr(src, &from, &port);
	dt = tunnel_by_addr(d, &from, to, have_to);
	if (!dt) {
		/* The cheapest path: a flood from addresses that are no
		 * tunnel's peer ends here. */
		d->dos.st.unknown_source++;
		if (log_level() >= CONFIG_LOG_DEBUG)
			log_msg(CONFIG_LOG_DEBUG, NULL,
				"datagram from %s port %u ignored: no tunnel "
				"to that address",
				addr_str(&from, a, sizeof(a)), port);
		return;
	}
	rc = wire_decode(buf, len, &h, &frag, &flen);
	if (rc < 0) {
		log_msg(CONFIG_LOG_DEBUG, dt->cfg.name,
			"datagram of %zu bytes from %s dropped: %s (%s)", len,
			addr_str(&from, a, sizeof(a)), rc_text(rc),
			rc_name(rc));
		return;
	}
	if (resend_response(dt, &h, src, srclen, now))
		return;
	if (!admit(dt, &h, frag, flen, len, src, srclen, &from, port, now))
		return;
	rc = wire_reasm_feed(&dt->ra, &h, frag, flen, now, &m);
	if (rc < 0) {
		log_msg(CONFIG_LOG_DEBUG, dt->cfg.name,
			"fragment dropped: %s (%s)", rc_text(rc),
			rc_name(rc));
		return;
	}
	if (rc == 0)
		return;
	dispatch(dt, &m, src, srclen, &from, now);
	wire_message_free(&m);
}

static void on_socket(struct daemon *d, int fd, uint64_t now)
{
	for (int budget = 0; budget < 256; budget++) {
		union {
			struct cmsghdr h;
			char b[256];
		} cm;
		struct sockaddr_storage src;
		struct iovec iov = { d->rbuf, DGRAM_MAX };
		struct msghdr msg;
		struct xfrm_addr to;
		bool have_to = false;
		ssize_t n;

		memset(&msg, 0, sizeof(msg));
		msg.msg_name = &src;
		msg.msg_namelen = sizeof(src);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cm.b;
		msg.msg_controllen = sizeof(cm.b);
		n = recvmsg(fd, &msg, MSG_DONTWAIT);
		if (n < 0)
			return;
		memset(&to, 0, sizeof(to));
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c;
		     c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level == IPPROTO_IP &&
			    c->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;

				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				to.family = AF_INET;
				to.a.v4 = pi.ipi_addr;
				have_to = true;
			} else if (c->cmsg_level == IPPROTO_IPV6 &&
				   c->cmsg_type == IPV6_PKTINFO) {
				struct in6_pktinfo pi;

				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				to.family = AF_INET6;
				to.a.v6 = pi.ipi6_addr;
				have_to = true;
			}
		}
		on_datagram(d, d->rbuf, (size_t)n, &src, msg.msg_namelen, &to,
			    have_to, now);
	}
}

/* ---- kernel expiry events ----------------------------------------------------- */

static void on_expire(struct daemon *d, uint64_t now)
{
	struct xfrm_expire ev[16];
	size_t n = 0;

	if (xfrm_listener_read(d->xl, ev, 16, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct dtunnel *dt = NULL;
		enum ctl_trigger trig = CTL_TRIGGER_BYTES;
		int rc;

		for (size_t k = 0; k < d->n_tun; k++)
			if (d->tun[k]->cfg.reqid == ev[i].reqid)
				dt = d->tun[k];
		if (!dt)
			continue;
		if (dt->cfg.rekey_packets && !dt->cfg.rekey_bytes)
			trig = CTL_TRIGGER_PACKETS;
		else if (dt->cfg.rekey_packets) {
			struct xfrm_sa_stats st;
			bool in = addr_equal(&ev[i].dst, &dt->cfg.local);

			if (psep_sa_stats(dt->x, in ? &dt->cfg.local :
						      &dt->cfg.remote,
					  ev[i].spi, &st) == 0 &&
			    st.packets >= dt->cfg.rekey_packets)
				trig = CTL_TRIGGER_PACKETS;
		}
		if (tunnel_state(dt->t) == TUNNEL_ESTABLISHED)
			dt->pending_trigger = trig;
		rc = tunnel_expired(dt->t, ev[i].spi, ev[i].hard, now);
		if (rc == EPOCH_ERR_INVALID_ARG) {
			/* Not one of the tunnel's SAs (a larval SA of an
			 * abandoned SPI allocation, or one already
			 * replaced). */
			dt->pending_trigger = CTL_TRIGGER_PEER;
			continue;
		}
		if (ev[i].hard)
			log_msg(CONFIG_LOG_WARNING, dt->cfg.name,
				"hard expiry of SA 0x%08x: the kernel deleted "
				"it", ev[i].spi);
		else
			log_msg(CONFIG_LOG_INFO, dt->cfg.name,
				"soft expiry of SA 0x%08x (%s limit)",
				ev[i].spi, ctl_trigger_name(trig));
		if (rc < 0)
			log_msg(CONFIG_LOG_WARNING, dt->cfg.name,
				"rekey after expiry failed: %s", rc_text(rc));
		observe(dt, now, NULL);
	}
}

/* ---- timers ---------------------------------------------------------------------- */

static uint64_t next_deadline(struct daemon *d, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < d->n_tun; i++) {
		struct dtunnel *dt = d->tun[i];
		uint64_t t = tunnel_next_timer(dt->t), r;

		if (t < next)
			next = t;
		if (dt->rekey_at < next)
			next = dt->rekey_at;
		r = wire_reasm_next_timeout(&dt->ra, now);
		if (r != WIRE_NO_TIMEOUT && now + r < next)
			next = now + r;
	}
	return next;
}

static void arm_timer(struct daemon *d, uint64_t now)
{
	struct itimerspec its;
	uint64_t next = next_deadline(d, now);

	memset(&its, 0, sizeof(its));
	if (next != UINT64_MAX) {
		if (next <= now)
			next = now + 1;
		its.it_value.tv_sec = (time_t)(next / 1000);
		its.it_value.tv_nsec = (long)(next % 1000) * 1000000;
	}
	timerfd_settime(d->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* The peer is alive if our current inbound SA received packets. */
static void look_for_traffic(struct dtunnel *dt, uint64_t now)
{
	uint64_t bytes, pkts;

	count_in(dt, &bytes, &pkts);
	if (pkts != dt->last_in_pkts) {
		dt->last_in_pkts = pkts;
		tunnel_traffic(dt->t, now);
	}
}

static void do_rekey(struct dtunnel *dt, enum ctl_trigger trig, uint64_t now)
{
	int rc;

	dt->pending_trigger = trig;
	rc = tunnel_rekey(dt->t, now);
	if (rc < 0) {
		dt->pending_trigger = CTL_TRIGGER_PEER;
		if (dt->rekey_at == UINT64_MAX)
			dt->rekey_at = now + REKEY_RETRY_MS;
		log_msg(CONFIG_LOG_WARNING, dt->cfg.name,
			"cannot start a rekey: %s", rc_text(rc));
	}
	observe(dt, now, NULL);
}

static void on_timer(struct daemon *d, uint64_t now)
{
	uint64_t junk;

	if (read(d->tfd, &junk, sizeof(junk)) < 0 && errno != EAGAIN)
		log_msg(CONFIG_LOG_DEBUG, NULL, "timerfd: %s",
			strerror(errno));
	for (size_t i = 0; i < d->n_tun; i++) {
		struct dtunnel *dt = d->tun[i];
		int rc;

		wire_reasm_expire(&dt->ra, now);
		if (dt->rekey_at <= now) {
			dt->rekey_at = UINT64_MAX;
			if (tunnel_state(dt->t) == TUNNEL_ESTABLISHED)
				do_rekey(dt, CTL_TRIGGER_TIME, now);
		}
		if (tunnel_next_timer(dt->t) > now)
			continue;
		if (tunnel_state(dt->t) == TUNNEL_ESTABLISHED)
			look_for_traffic(dt, now);
		rc = tunnel_timer(dt->t, now);
		if (rc < 0)
			log_msg(CONFIG_LOG_DEBUG, dt->cfg.name, "timer: %s",
				rc_text(rc));
		observe(dt, now, NULL);
	}
}

/* ---- control socket ------------------------------------------------------------- */

static void status_of(struct dtunnel *dt, uint64_t now, struct ctl_status *st)
{
	enum tunnel_state s = tunnel_state(dt->t);
	struct xfrm_sa_stats ss;

	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", dt->cfg.name);
	if (dt->disabled)
		st->state = CTL_STATE_DISABLED;
	else if (s == TUNNEL_ESTABLISHED)
		st->state = CTL_STATE_UP;
	else if (s == TUNNEL_REKEY_SENT)
		st->state = CTL_STATE_REKEYING;
	else if (s == TUNNEL_DOWN)
		st->state = CTL_STATE_DOWN;
	else
		st->state = CTL_STATE_CONNECTING;
	st->role = dt->cfg.initiator ? CTL_ROLE_INITIATOR : CTL_ROLE_RESPONDER;
	snprintf(st->peer, sizeof(st->peer), "%s", dt->peer_str);
	st->epoch = tunnel_epoch(dt->t);
	snprintf(st->suite, sizeof(st->suite), "%s",
		 config_suite_name(dt->cfg.suite));
	snprintf(st->esp, sizeof(st->esp), "%s", config_esp_name(dt->cfg.esp));
	st->spi_in = tunnel_spi_in(dt->t);
	st->spi_out = tunnel_spi_out(dt->t);
	count_in(dt, &st->bytes_in, &st->packets_in);
	st->bytes_out = dt->old_bytes_out;
	st->packets_out = dt->old_pkts_out;
	if (st->spi_out &&
	    psep_sa_stats(dt->x, &dt->cfg.remote, st->spi_out, &ss) == 0) {
		st->bytes_out += ss.bytes;
		st->packets_out += ss.packets;
	}
	st->last_rekey = dt->last_rekey;
	st->last_trigger = dt->last_trigger;
	if (dt->rekey_at != UINT64_MAX)
		st->next_rekey = wall_s() + (dt->rekey_at > now ?
					     (dt->rekey_at - now) / 1000 : 0);
	st->retransmits = tunnel_retransmissions(dt->t);
}

static void dos_status(struct daemon *d, struct ctl_dos *o)
{
	const struct dos_stats *s = &d->dos.st;

	memset(o, 0, sizeof(*o));
	o->half_open = half_open(d);
	o->cookie_threshold = d->dos.threshold;
	o->hellos = s->hellos;
	o->hellos_processed = s->hellos_processed;
	o->hellos_rate_limited = s->hellos_rate_limited;
	o->hellos_dropped = s->hellos_dropped;
	o->cookies_sent = s->cookies_sent;
	o->cookies_valid = s->cookies_valid;
	o->cookies_invalid = s->cookies_invalid;
	o->cookies_received = s->cookies_received;
	o->cookies_ignored = s->cookies_ignored;
	o->unknown_source = s->unknown_source;
	o->rate_sources = ratelimit_used(&d->dos.rl);
	o->rate_evictions = d->dos.rl.evictions;
}

static int do_reload(struct daemon *d, char *msg, size_t msglen);

static void handle_request(struct daemon *d, struct ctl_client *c,
			   const struct ctl_request *req, uint64_t now)
{
	struct ctl_buf *b = &d->scratch;
	struct dtunnel *dt = NULL;
	char msg[CTL_ERR_MAX];
	int rc;

	b->len = 0;
	b->err = false;
	if (req->tunnel[0]) {
		dt = find_tunnel(d, req->tunnel);
		if (!dt) {
			snprintf(msg, sizeof(msg), "no tunnel named %s",
				 req->tunnel);
			ctl_reply_error(b, msg);
			goto out;
		}
	}
	switch (req->cmd) {
	case CTL_CMD_STATUS: {
		struct ctl_dos dos;
		size_t n = dt ? 1 : d->n_tun;
		struct ctl_status *st = calloc(n ? n : 1, sizeof(*st));

		if (!st) {
			ctl_reply_error(b, "out of memory");
			break;
		}
		for (size_t i = 0; i < n; i++)
			status_of(dt ? dt : d->tun[i], now, &st[i]);
		dos_status(d, &dos);
		ctl_status_reply_dos(b, st, n, &dos);
		free(st);
		break;
	}
	case CTL_CMD_UP:
		if (!dt->disabled && tunnel_state(dt->t) != TUNNEL_DOWN) {
			ctl_reply_ok(b, "already up or connecting");
			break;
		}
		dt->disabled = false;
		if (dt->cfg.initiator && tunnel_state(dt->t) == TUNNEL_DOWN) {
			rc = tunnel_start(dt->t, now);
			if (rc < 0) {
				snprintf(msg, sizeof(msg),
					 "cannot start %s: %s", dt->cfg.name,
					 rc_text(rc));
				ctl_reply_error(b, msg);
				break;
			}
		}
		log_msg(CONFIG_LOG_NOTICE, dt->cfg.name, "enabled (epochctl up)");
		observe(dt, now, NULL);
		ctl_reply_ok(b, dt->cfg.initiator ? "handshake started" :
			     "waiting for the initiator");
		break;
	case CTL_CMD_DOWN:
		dt->disabled = true;
		tunnel_down(dt->t);
		observe(dt, now, "administratively down (epochctl down)");
		log_msg(CONFIG_LOG_NOTICE, dt->cfg.name,
			"disabled (epochctl down): SAs deleted, policies "
			"kept (traffic is dropped)");
		ctl_reply_ok(b, NULL);
		break;
	case CTL_CMD_REKEY:
		if (tunnel_state(dt->t) != TUNNEL_ESTABLISHED) {
			snprintf(msg, sizeof(msg),
				 "%s is not up (state %s)%s", dt->cfg.name,
				 tunnel_state_name(tunnel_state(dt->t)),
				 tunnel_state(dt->t) == TUNNEL_REKEY_SENT ?
					 ": a rekey is under way" : "");
			ctl_reply_error(b, msg);
			break;
		}
		do_rekey(dt, CTL_TRIGGER_MANUAL, now);
		if (tunnel_state(dt->t) == TUNNEL_REKEY_SENT)
			ctl_reply_ok(b, "rekey started");
		else
			ctl_reply_error(b, "rekey could not start (see the "
					   "log)");
		break;
	case CTL_CMD_RELOAD:
		if (do_reload(d, msg, sizeof(msg)) < 0)
			ctl_reply_error(b, msg);
		else
			ctl_reply_ok(b, msg);
		break;
	case CTL_CMD_WATCH:
		c->watching = true;
		ctl_reply_ok(b, NULL);
		break;
	default:
		ctl_reply_error(b, "unknown command");
		break;
	}
out:
	if (b->err) {
		b->len = 0;
		b->err = false;
		ctl_reply_error(b, "reply too large");
	}
	ctl_client_queue(c, b);
}

static void client_update_epoll(struct daemon *d, size_t i, bool want_out)
{
	struct epoll_event ev = { .events = EPOLLIN | (want_out ? EPOLLOUT : 0),
				  .data.u64 = TAG_CLIENT + i };

	epoll_ctl(d->ep, EPOLL_CTL_MOD, d->clients[i].fd, &ev);
}

static void client_close(struct daemon *d, size_t i)
{
	epoll_ctl(d->ep, EPOLL_CTL_DEL, d->clients[i].fd, NULL);
	ctl_client_close(&d->clients[i]);
	d->clients[i].fd = -1;
}

static void on_client(struct daemon *d, size_t i, uint32_t events,
		      uint64_t now)
{
	struct ctl_client *c = &d->clients[i];
	struct ctl_request req;

	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		ctl_client_read(c);
	while (!c->dead && ctl_client_next(c, &req) == 1)
		handle_request(d, c, &req, now);
	if (ctl_client_done(c)) {
		client_close(d, i);
		return;
	}
	client_update_epoll(d, i, ctl_client_flush(c));
	if (ctl_client_done(c))
		client_close(d, i);
}

static void on_accept(struct daemon *d)
{
	for (;;) {
		struct ctl_client tmp;
		struct epoll_event ev;
		char err[CTL_ERR_MAX];
		size_t i;
		int rc = ctl_accept(d->ctl_fd, &tmp, err, sizeof(err));

		if (rc <= 0)
			return;
		for (i = 0; i < MAX_CLIENTS && d->clients[i].fd >= 0; i++)
			;
		if (i == MAX_CLIENTS) {
			log_msg(CONFIG_LOG_WARNING, NULL,
				"control: too many clients, connection "
				"refused");
			ctl_client_close(&tmp);
			continue;
		}
		d->clients[i] = tmp;
		ev.events = EPOLLIN;
		ev.data.u64 = TAG_CLIENT + i;
		if (epoll_ctl(d->ep, EPOLL_CTL_ADD, tmp.fd, &ev) < 0)
			client_close(d, i);
	}
}

/* ---- configuration --------------------------------------------------------------- */

static int tunnels_add(struct daemon *d, const struct config_tunnel *c,
		       uint64_t now, char *err, size_t errlen)
{
	struct dtunnel *dt, **v;

	v = realloc(d->tun, (d->n_tun + 1) * sizeof(*v));
	if (!v) {
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	d->tun = v;
	dt = dtunnel_new(d, c, err, errlen);
	if (!dt)
		return -1;
	if (dtunnel_start(dt, now, err, errlen) < 0) {
		psep_flush(dt->x);
		dtunnel_free(dt);
		return -1;
	}
	d->tun[d->n_tun++] = dt;
	observe(dt, now, NULL); /* a resumed tunnel is up at once */
	return 0;
}

static void tunnels_remove(struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->n_tun; i++) {
		if (strcmp(d->tun[i]->cfg.name, name) != 0)
			continue;
		dtunnel_stop(d->tun[i], "removed or changed by reload");
		dtunnel_free(d->tun[i]);
		memmove(&d->tun[i], &d->tun[i + 1],
			(d->n_tun - i - 1) * sizeof(d->tun[0]));
		d->n_tun--;
		return;
	}
}

/* epochctl reload / SIGHUP: the new file's tunnels replace the old ones
 * that changed; unchanged tunnels are not touched. */
static int do_reload(struct daemon *d, char *msg, size_t msglen)
{
	struct config nc;
	struct config_diff diff;
	char err[512];
	uint64_t now = mono_ms();
	unsigned failed = 0;
	struct ctl_event ev;

	memset(&nc, 0, sizeof(nc));
	if (config_load_file(d->config_path, &nc, err, sizeof(err)) < 0) {
		log_msg(CONFIG_LOG_ERROR, NULL,
			"reload refused, configuration unchanged: %s", err);
		snprintf(msg, msglen, "%.200s", err);
		return -1;
	}
	if (psep_reload(d->ps, err, sizeof(err)) < 0) {
		log_msg(CONFIG_LOG_ERROR, NULL, "reload refused, configuration "
			"unchanged: privileged process: %s", err);
		snprintf(msg, msglen, "privileged process: %.180s", err);
		config_free(&nc);
		return -1;
	}
	if (config_diff(&d->cfg, &nc, &diff) < 0) {
		config_free(&nc);
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < diff.n; i++) {
		const struct config_diff_entry *e = &diff.entries[i];

		if (e->change == CONFIG_REMOVED || e->change == CONFIG_CHANGED) {
			log_msg(CONFIG_LOG_NOTICE, e->name, "%s by reload",
				e->change == CONFIG_REMOVED ? "removed" :
							      "changed");
			tunnels_remove(d, e->name);
		}
	}
	for (size_t i = 0; i < diff.n; i++) {
		const struct config_diff_entry *e = &diff.entries[i];

		if (e->change != CONFIG_ADDED && e->change != CONFIG_CHANGED)
			continue;
		if (tunnels_add(d, e->new, now, err, sizeof(err)) < 0) {
			log_msg(CONFIG_LOG_ERROR, e->name,
				"not started after reload: %s", err);
			failed++;
		} else if (e->change == CONFIG_ADDED) {
			log_msg(CONFIG_LOG_NOTICE, e->name, "added by reload");
		}
	}
	snprintf(msg, msglen,
		 "reloaded: %zu added, %zu removed, %zu changed, %zu "
		 "unchanged%s%s",
		 diff.n_added, diff.n_removed, diff.n_changed,
		 diff.n_unchanged,
		 diff.global_changed ? "; global settings that need a "
				       "restart were not applied" : "",
		 failed ? "; some tunnels failed to start (see the log)" :
			  "");
	log_msg(CONFIG_LOG_NOTICE, NULL, "%s", msg);
	config_diff_free(&diff);
	/* Keep the new tunnel settings and the reloadable globals; the
	 * rest of the global section stays as the daemon runs it. */
	{
		struct config_global g = d->cfg.global;
		struct config_tunnel *ot = d->cfg.tunnels;

		g.log_level = nc.global.log_level;
		g.log_target = nc.global.log_target;
		g.cookie_threshold = nc.global.cookie_threshold;
		g.hello_rate = nc.global.hello_rate;
		g.hello_burst = nc.global.hello_burst;
		dos_configure(&d->dos, g.cookie_threshold, g.hello_rate,
			      g.hello_burst);
		d->cfg.tunnels = nc.tunnels;
		d->cfg.n_tunnels = nc.n_tunnels;
		nc.tunnels = ot;
		config_free(&nc);
		d->cfg.global = g;
	}
	/* The dtunnels copy their settings; those of d->cfg are what the
	 * next diff compares with. */
	log_open(d->cfg.global.log_target,
		 d->debug ? CONFIG_LOG_DEBUG : d->cfg.global.log_level);
	memset(&ev, 0, sizeof(ev));
	ev.type = CTL_EVENT_RELOAD;
	ev.time = wall_s();
	snprintf(ev.reason, sizeof(ev.reason), "%s", msg);
	broadcast(d, &ev);
	return failed ? -1 : 0;
}

/* ---- sockets --------------------------------------------------------------------- */

static int open_udp(struct daemon *d, const struct xfrm_addr *a, char *err,
		    size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(a, d->cfg.global.port, &ss);
	char s[INET6_ADDRSTRLEN];
	bool any;
	int one = 1, fd, rc;

	fd = socket(a->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (a->family == AF_INET6) {
		static const struct in6_addr zero6;

		any = memcmp(&a->a.v6, &zero6, sizeof(zero6)) == 0;
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			       sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
			       sizeof(one)) < 0)
			goto fail;
	} else {
		any = a->a.v4.s_addr == htonl(INADDR_ANY);
		if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one,
			       sizeof(one)) < 0)
			goto fail;
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	rc = xfrm_socket_bypass(fd, a->family);
	if (rc < 0) {
		errno = -rc;
		goto fail;
	}
	d->socks[d->n_socks] = fd;
	d->sock_family[d->n_socks] = a->family;
	d->sock_addr[d->n_socks] = *a;
	d->sock_any[d->n_socks] = any;
	d->n_socks++;
	return 0;
fail:
	errmsg_set(err, errlen, "cannot listen on %s port %u: %s",
		   addr_str(a, s, sizeof(s)), d->cfg.global.port,
		   strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int ep_add(struct daemon *d, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* The control socket's directory (/run/epochd by default) is created
 * 0750 when missing (systemd's RuntimeDirectory does it for the unit). */
static int socket_dir(const char *path, char *err, size_t errlen)
{
	char dir[CONFIG_PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		errmsg_set(err, errlen, "cannot create %s: %s", dir,
			   strerror(errno));
		return -1;
	}
	return 0;
}

int daemon_check_config(const char *path, char *err, size_t errlen)
{
	struct config c;
	uint8_t sk[32], pk[32];
	int rc;

	memset(&c, 0, sizeof(c));
	if (config_load_file(path ? path : CONFIG_DEFAULT_PATH, &c, err,
			     errlen) < 0)
		return -1;
	rc = config_load_key(&c, sk, pk, err, errlen);
	crypto_wipe(sk, sizeof(sk));
	config_free(&c);
	return rc;
}

int daemon_open(struct daemon **out, const struct daemon_opts *o, char *err,
		size_t errlen)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct xfrm_addr any4, any6;
	sigset_t ss;
	uint64_t now = mono_ms();
	int rc;

	*out = NULL;
	if (!d) {
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	d->ep = d->tfd = d->sfd = d->ctl_fd = -1;
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		d->clients[i].fd = -1;
	d->debug = o->debug;
	ctl_buf_init(&d->scratch, CTL_OUT_MAX);
	snprintf(d->config_path, sizeof(d->config_path), "%s",
		 o->config_path ? o->config_path : CONFIG_DEFAULT_PATH);
	if (config_load_file(d->config_path, &d->cfg, err, errlen) < 0)
		goto fail;
	log_open(d->cfg.global.log_target,
		 d->debug ? CONFIG_LOG_DEBUG : d->cfg.global.log_level);
	/* Only the network process returns (docs/privsep.md). */
	if (psep_start(&d->ps, &d->cfg, d->config_path, err, errlen) < 0)
		goto fail;
	if (config_load_key(&d->cfg, d->sk, d->pk, err, errlen) < 0)
		goto fail;
	key_public_encode(d->pk, d->pk_b64);
	wire_limits_default(&d->lim);
	d->lim.mtu = d->cfg.global.mtu;
	if (dos_init(&d->dos, d->cfg.global.cookie_threshold,
		     d->cfg.global.hello_rate, d->cfg.global.hello_burst, NULL,
		     now) < 0) {
		errmsg_set(err, errlen, "cannot set up the HELLO rate limits");
		goto fail;
	}
	d->rbuf = malloc(DGRAM_MAX);
	if (!d->rbuf) {
		errmsg_set(err, errlen, "out of memory");
		goto fail;
	}
	d->ep = epoll_create1(EPOLL_CLOEXEC);
	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->ep < 0 || d->tfd < 0 || d->sfd < 0) {
		errmsg_set(err, errlen, "epoll/timerfd/signalfd: %s",
			   strerror(errno));
		goto fail;
	}
	if (d->cfg.global.n_listen == 0) {
		xfrm_addr_parse(&any4, "0.0.0.0");
		xfrm_addr_parse(&any6, "::");
		if (open_udp(d, &any4, err, errlen) < 0 ||
		    open_udp(d, &any6, err, errlen) < 0)
			goto fail;
	}
	for (size_t i = 0; i < d->cfg.global.n_listen; i++)
		if (open_udp(d, &d->cfg.global.listen[i], err, errlen) < 0)
			goto fail;
	rc = xfrm_listener_open(&d->xl, NULL, 1, CONFIG_REQID_MAX);
	if (rc < 0) {
		errmsg_set(err, errlen,
			   "cannot open the XFRM expire listener: %s",
			   strerror(-rc));
		goto fail;
	}
	if (socket_dir(d->cfg.global.control_socket, err, errlen) < 0 ||
	    statefile_dir(d->cfg.global.state_dir, err, errlen) < 0)
		goto fail;
	d->ctl_fd = ctl_listen(d->cfg.global.control_socket, err, errlen);
	if (d->ctl_fd < 0)
		goto fail;
	if (ep_add(d, d->tfd, TAG_TIMER) < 0 ||
	    ep_add(d, d->sfd, TAG_SIGNAL) < 0 ||
	    ep_add(d, d->ctl_fd, TAG_CTL) < 0 ||
	    ep_add(d, xfrm_listener_fd(d->xl), TAG_XFRM) < 0) {
		errmsg_set(err, errlen, "epoll: %s", strerror(errno));
		goto fail;
	}
	for (size_t i = 0; i < d->n_socks; i++)
		if (ep_add(d, d->socks[i], TAG_SOCK + i) < 0) {
			errmsg_set(err, errlen, "epoll: %s", strerror(errno));
			goto fail;
		}
	if (psep_drop(d->ps, &d->cfg, err, errlen) < 0)
		goto fail;
	for (size_t i = 0; i < d->cfg.n_tunnels; i++)
		if (tunnels_add(d, &d->cfg.tunnels[i], now, err, errlen) < 0)
			goto fail;
	log_msg(CONFIG_LOG_NOTICE, NULL,
		"started: %zu tunnels, control socket %s, port %u",
		d->n_tun, d->cfg.global.control_socket, d->cfg.global.port);
	*out = d;
	return 0;
fail:
	daemon_close(d);
	return -1;
}

int daemon_run(struct daemon *d)
{
	struct epoll_event evs[32];

	while (!d->stop) {
		uint64_t now;
		int n;

		arm_timer(d, mono_ms());
		n = epoll_wait(d->ep, evs, 32, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_msg(CONFIG_LOG_ERROR, NULL, "epoll_wait: %s",
				strerror(errno));
			return -1;
		}
		now = mono_ms();
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag >= TAG_CLIENT) {
				if (d->clients[tag - TAG_CLIENT].fd >= 0)
					on_client(d, tag - TAG_CLIENT,
						  evs[i].events, now);
			} else if (tag >= TAG_SOCK) {
				on_socket(d, d->socks[tag - TAG_SOCK], now);
			} else if (tag == TAG_TIMER) {
				on_timer(d, now);
			} else if (tag == TAG_CTL) {
				on_accept(d);
			} else if (tag == TAG_XFRM) {
				on_expire(d, now);
			} else if (tag == TAG_SIGNAL) {
				struct signalfd_siginfo si;
				char msg[CTL_ERR_MAX];

				while (read(d->sfd, &si, sizeof(si)) ==
				       sizeof(si)) {
					if (si.ssi_signo == SIGHUP)
						do_reload(d, msg, sizeof(msg));
					else
						d->stop = true;
				}
			}
		}
	}
	log_msg(CONFIG_LOG_NOTICE, NULL, "stopping");
	return 0;
}

void daemon_close(struct daemon *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_tun; i++) {
		dtunnel_stop(d->tun[i], "epochd stopping");
		dtunnel_free(d->tun[i]);
	}
	free(d->tun);
	psep_free(d->ps);
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (d->clients[i].fd >= 0)
			ctl_client_close(&d->clients[i]);
	if (d->ctl_fd >= 0) {
		close(d->ctl_fd);
		ctl_unlink(d->cfg.global.control_socket);
	}
	for (size_t i = 0; i < d->n_socks; i++)
		close(d->socks[i]);
	xfrm_listener_close(d->xl);
	if (d->ep >= 0)
		close(d->ep);
	if (d->tfd >= 0)
		close(d->tfd);
	if (d->sfd >= 0)
		close(d->sfd);
	free(d->rbuf);
	ctl_buf_free(&d->scratch);
	dos_free(&d->dos);
	config_free(&d->cfg);
	crypto_wipe(d, sizeof(*d));
	free(d);
}
