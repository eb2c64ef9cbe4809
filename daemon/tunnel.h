/* One tunnel's protocol state machine (docs/state-machine.md): the MLS
 * handshake and make-before-break rekeys of DESIGN.md §3-4, driven by
 * events (a message from the peer, a timer, a rekey trigger) and acting
 * on the world only through struct tunnel_ops (send a message, allocate an
 * SPI, install or delete an SA, switch the outbound SA). No sockets, no
 * clocks, no kernel here: the daemon's event loop supplies those, and the
 * unit test drives two tunnels against a model kernel that checks the
 * no-loss ordering on every step.
 *
 * Functions return 0 or a negative EPOCH_ERR_* (proto/result.h). A message
 * that fails its checks is refused with its error and changes nothing.
 */
#ifndef EPOCHD_TUNNEL_H
#define EPOCHD_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"
#include "proto/mls.h"

/* Message types, with their wire numbers (docs/protocol.md, the
 * WIRE_* types of daemon/wire.h). */
enum tunnel_msg {
	TUNNEL_MSG_HELLO = 1,     /* KeyPackage (request) */
	TUNNEL_MSG_WELCOME = 3,   /* Welcome (response to HELLO) */
	TUNNEL_MSG_COMMIT = 4,    /* MLS commit, AD = committer's SPI */
	TUNNEL_MSG_EPOCH_ACK = 5, /* MLS application message: acker's SPI */
	TUNNEL_MSG_RESUME = 6,    /* MLS commit after a restart (as COMMIT) */
	TUNNEL_MSG_KEEPALIVE = 7, /* MLS application message, empty; the
				   * request gets a response */
	TUNNEL_MSG_CLOSE = 8,     /* MLS application message: request
				   * uint16 reason, response empty */
};

/* The reason a CLOSE request carries (docs/protocol.md §5). */
#define TUNNEL_CLOSE_ADMIN 0

enum tunnel_state {
	TUNNEL_DOWN,
	TUNNEL_HELLO_SENT,
	TUNNEL_WELCOME_SENT,
	TUNNEL_JOIN_COMMIT_SENT,
	TUNNEL_ESTABLISHED,
	TUNNEL_REKEY_SENT,
};
const char *tunnel_state_name(enum tunnel_state s);

#define TUNNEL_ESP_KEY_MAX 36 /* key || 4-byte salt */

/* What a tunnel asks of the outside world; each returns 0 or a negative
 * error. send's `response` is the wire header's RESPONSE flag (WELCOME,
 * EPOCH_ACK, KEEPALIVE and CLOSE answers). out_switch installs the
 * outbound SA for the peer's inbound SPI `spi` with `key`, points the out
 * policy at it and deletes the outbound SA old_spi (0: none yet, or the
 * kernel removed it on a hard expiry) — xfrm_rollover's steps 2-4. */
struct tunnel_ops {
	void *ctx;
	int (*send)(void *ctx, enum tunnel_msg type, bool response,
		    const uint8_t *msg, size_t len);
	int (*alloc_spi)(void *ctx, uint32_t *spi);
	int (*sa_in_add)(void *ctx, uint32_t spi, const uint8_t *key,
			 size_t key_len);
	int (*sa_in_del)(void *ctx, uint32_t spi);
	int (*out_switch)(void *ctx, uint32_t spi, const uint8_t *key,
			  size_t key_len, uint32_t old_spi);
	int (*sa_out_del)(void *ctx, uint32_t spi);
	/* Optional (NULL: none): the tunnel's state must be written now
	 * (tunnel_save), before a COMMIT, RESUME or EPOCH_ACK leaves, the
	 * message that lets the peer move on. Its result is not checked:
	 * the daemon logs a failed write and the message goes anyway. */
	int (*save)(void *ctx);
	/* Optional (NULL: none), for tests: each row of
	 * daemon/tunnel_rows.def a call took, at the end of that call, in
	 * order: the row's id, the call's event (TUNNEL_E_ bit), the state
	 * the row started in and the state the call ended in. */
	void (*row)(void *ctx, unsigned id, unsigned event,
		    enum tunnel_state from, enum tunnel_state to);
};

/* The names daemon/tunnel_rows.def uses (TROW(id, from, events, to,
 * model)): state masks, the events (the call or message that drives a
 * row) and whether the spin model has the row. */
#define S_DOWN (1u << TUNNEL_DOWN)
#define S_HELLO_SENT (1u << TUNNEL_HELLO_SENT)
#define S_WELCOME_SENT (1u << TUNNEL_WELCOME_SENT)
#define S_JOIN_COMMIT_SENT (1u << TUNNEL_JOIN_COMMIT_SENT)
#define S_ESTABLISHED (1u << TUNNEL_ESTABLISHED)
#define S_REKEY_SENT (1u << TUNNEL_REKEY_SENT)
#define S_ANY 63u
#define S_SAME 0u
#define E_START (1u << 0)      /* tunnel_start */
#define E_TIMER (1u << 1)      /* tunnel_timer */
#define E_REKEY (1u << 2)      /* tunnel_rekey */
#define E_EXPIRE (1u << 3)     /* tunnel_expired */
#define E_DOWN (1u << 4)       /* tunnel_down */
#define E_LOAD (1u << 5)       /* tunnel_load (daemon: its state file) */
#define E_RESUMECMD (1u << 6)  /* tunnel_resume */
#define E_HELLO (1u << 7)      /* tunnel_receive of each message type */
#define E_WELCOME (1u << 8)
#define E_COMMIT (1u << 9)
#define E_ACK (1u << 10)
#define E_RESUME (1u << 11)
#define E_KEEPALIVE (1u << 12)
#define E_CLOSE (1u << 13)
#define E_COOKIE (1u << 14)    /* daemon: a COOKIE for our HELLO */
#define M_YES 1
#define M_NO 0

struct tunnel_cfg {
	bool initiator;                 /* the tunnel initiator (I) */
	struct mls_member_config member; /* suite, identity, our keys, rng */
	uint8_t peer_key[32];           /* pinned Ed25519 key of the peer */
	uint8_t esp_alg;                /* one-byte algorithm code */
	size_t esp_key_len;             /* key + salt bytes to export */
	const uint8_t *params;          /* tunnel parameters (GroupContext */
	size_t params_len;              /* extension content), responder */
	uint64_t retransmit_ms;         /* first retransmission, doubles */
	unsigned max_tries;             /* sends of one request */
	uint64_t retransmit_cap_ms;     /* 0: the interval doubles, max_tries
					 * sends. Else it doubles up to this
					 * cap and sends go on until the same
					 * give-up time, retransmit_ms *
					 * (2^max_tries - 1) after the first:
					 * more copies, so the fragments of a
					 * long message get through heavy
					 * loss */
	uint64_t dpd_ms;                /* no sign of the peer this long: a
					 * KEEPALIVE (0: never) */
	uint64_t restart_ms;            /* initiator: new handshake this
					 * long after a failed handshake, a
					 * lost peer or its CLOSE; doubles
					 * on each further failure */
	uint64_t restart_max_ms;        /* cap of that doubling (0: no
					 * growth, restart_ms every time;
					 * else at least restart_ms). Each
					 * delay gets up to 25 % random
					 * jitter on top (member.rng); an
					 * established session resets it */
	uint64_t grace_ms;              /* old inbound SA kept this long;
					 * at least the whole retransmission
					 * schedule, retransmit_ms *
					 * (2^max_tries - 1) */
};

struct tunnel;

int tunnel_new(struct tunnel **t, const struct tunnel_cfg *cfg,
	       const struct tunnel_ops *ops);
void tunnel_free(struct tunnel *t);

/* Initiator: starts the handshake (HELLO). */
int tunnel_start(struct tunnel *t, uint64_t now_ms);
/* Starts a rekey (ESTABLISHED only, else EPOCH_ERR_STATE). */
int tunnel_rekey(struct tunnel *t, uint64_t now_ms);
/* A message from the peer; response: the wire header's RESPONSE flag.
 * Every message that authenticates, except a HELLO (replayable) and a
 * CLOSE, counts as a sign of life for dead-peer detection. */
int tunnel_receive(struct tunnel *t, enum tunnel_msg type, bool response,
		   const uint8_t *msg, size_t len, uint64_t now_ms);
/* The daemon saw inbound ESP traffic on this tunnel's SAs (from the
 * kernel's counters): the peer is alive, no KEEPALIVE needed. */
void tunnel_traffic(struct tunnel *t, uint64_t now_ms);
/* Administratively down (row 20): if a group exists, one CLOSE request
 * (reason TUNNEL_CLOSE_ADMIN, never retransmitted: best effort) goes to
 * the peer in the current epoch; then every SA of the tunnel is deleted,
 * the group (and a pending one) wiped, the restart backoff reset, and no
 * restart happens until tunnel_start. A responder still answers a HELLO
 * afterwards (row 4): the daemon stops feeding it messages if it must
 * stay down.
 *
 * Receiving CLOSE: an authenticated request is answered with a CLOSE
 * response (encrypted before the group is wiped), then the tunnel is torn
 * down as here; the initiator schedules its restart (backoff, see
 * restart_ms), the responder waits for a HELLO. On a responder a request
 * that authenticates in the pending session (row 22) also tears down
 * everything: it comes from the restarted peer. tunnel_receive returns 0
 * and the state is DOWN: the peer closed. A CLOSE response is accepted
 * and ignored (0, nothing changes); a request that does not authenticate
 * changes nothing. */
int tunnel_down(struct tunnel *t);
/* The kernel's expiry event for one of this tunnel's SAs (row 18): a soft
 * expiry of a current SA starts a rekey (nothing to do while one is under
 * way); a hard expiry means the kernel has deleted the SA: an old inbound
 * SA is forgotten, a current one also starts a rekey. An SPI that is not
 * this tunnel's is EPOCH_ERR_INVALID_ARG. */
int tunnel_expired(struct tunnel *t, uint32_t spi, bool hard,
		   uint64_t now_ms);
/* Retransmissions, give-ups and grace-period deletions due at now. */
int tunnel_timer(struct tunnel *t, uint64_t now_ms);
/* When tunnel_timer next has something to do (UINT64_MAX: nothing). */
uint64_t tunnel_next_timer(const struct tunnel *t);

enum tunnel_state tunnel_state(const struct tunnel *t);
uint64_t tunnel_epoch(const struct tunnel *t);
/* Current inbound and outbound SPIs (0 when none). */
uint32_t tunnel_spi_in(const struct tunnel *t);
uint32_t tunnel_spi_out(const struct tunnel *t);
/* Counters for status. */
unsigned tunnel_retransmissions(const struct tunnel *t);
unsigned tunnel_rekeys(const struct tunnel *t);
/* Rekey collisions (rows 14 and 15): on the initiator, authenticated
 * COMMITs of the responder refused because ours wins (once per commit of
 * ours); on the responder, commits of ours discarded for the
 * initiator's. */
unsigned tunnel_collisions(const struct tunnel *t);

/* Sessions (wire session ids, docs/protocol.md §2). tunnel_session()
 * starts at 0 and increases by one each time a new session becomes the
 * current one: on the initiator at every HELLO it starts (tunnel_start,
 * a restart), on the responder when a HELLO is accepted in DOWN (row 4)
 * and when a pending session (row 22) takes over. The daemon sends new
 * requests (COMMIT, KEEPALIVE, CLOSE) with the current session's ids; a
 * response goes out with the ids of the request it answers. On the
 * responder the counter changes inside tunnel_receive, before the send of
 * the answer (WELCOME in row 4, EPOCH_ACK in row 22): the daemon then
 * adopts the ids of the message it is delivering as the current ones.
 *
 * Row 22: a responder with a session (WELCOME_SENT, ESTABLISHED,
 * REKEY_SENT) that receives a new valid HELLO (the initiator restarted
 * without state) keeps that session and builds the new one in a single
 * pending slot (a newer HELLO replaces it); tunnel_pending() tells
 * whether one exists. While it does, the daemon delivers messages of both
 * the current session and the pending HELLO's session to the tunnel. A
 * HELLO already answered (a replay: KeyPackages are single-use; the last
 * TUNNEL_HELLOS_SEEN are remembered) is refused with EPOCH_ERR_STATE,
 * except a duplicate of the HELLO whose WELCOME is cached (rows 5, 22),
 * which gets that WELCOME again. */
#define TUNNEL_HELLOS_SEEN 8
uint64_t tunnel_session(const struct tunnel *t);
bool tunnel_pending(const struct tunnel *t);
/* ---- restarts (DESIGN.md §5, kohbrok §4.5, docs/state-machine.md rows
 * 23-26) -------------------------------------------------------------------
 *
 * tunnel_save writes what a restarted daemon needs to carry on: role,
 * state, SPIs (current, staged, old inbound ones in their grace period),
 * the MLS group with a staged commit, and that commit's message. Only an
 * ESTABLISHED or REKEY_SENT tunnel can be saved (EPOCH_ERR_STATE
 * otherwise: a restart then means a new handshake). The bytes are secret.
 *
 * tunnel_load, on a fresh tunnel (DOWN), takes such bytes back: the
 * tunnel is then ESTABLISHED (or REKEY_SENT) with those SPIs, but nothing
 * is sent. EPOCH_ERR_MALFORMED if the bytes are damaged,
 * EPOCH_ERR_CREDENTIAL if they are not for this configuration (role, our
 * key, the peer's key, the tunnel parameters): state that is stale. The
 * caller checks that the SAs (tunnel_spi_in/out/staged) still exist in
 * the kernel and, if they do not, calls tunnel_down and starts over.
 *
 * tunnel_resume then sends RESUME (row 23): the saved staged commit again
 * if there was one, else a fresh commit with a fresh inbound SPI, exactly
 * as a rekey; the tunnel waits for EPOCH_ACK in REKEY_SENT, and gives up
 * as row 16 does (tear down, the initiator starts a new handshake).
 *
 * A RESUME from the peer whose commit was sent in epoch m, with our epoch
 * c (rows 24-26): m == c is handled like a COMMIT (collisions included);
 * m + 1 == c is the peer's commit that we applied but whose EPOCH_ACK it
 * never got before it restarted: it gets an EPOCH_ACK of epoch c again;
 * m == c + 1 with a commit of ours staged means the peer applied ours and
 * restarted before its EPOCH_ACK reached us: our commit, then its commit
 * are applied (the "+2" case). Any other epoch is EPOCH_ERR_EPOCH. */
int tunnel_save(const struct tunnel *t, struct codec_writer *out);
int tunnel_load(struct tunnel *t, const uint8_t *buf, size_t len,
		uint64_t now_ms);
int tunnel_resume(struct tunnel *t, uint64_t now_ms);
/* The key of the tunnel's SA for spi (its current inbound or outbound SPI
 * or the staged inbound one), derived again from the group, into key
 * (TUNNEL_ESP_KEY_MAX bytes; *len its length, *in its direction): for a
 * restarted daemon that finds one of its saved SAs missing in the kernel
 * (it crashed between a kernel change and the next save). */
int tunnel_sa_key(const struct tunnel *t, uint32_t spi, bool *in,
		  uint8_t *key, size_t *len);
/* MLS messages made so far (commits and encrypted application messages;
 * not retransmissions, which resend the same bytes): the daemon saves the
 * state again when this changes, so that a restart does not reuse an MLS
 * generation it already used (RFC 9420 §6.3.1's reuse_guard is the second
 * line). */
unsigned tunnel_messages_sealed(const struct tunnel *t);
/* The staged inbound SPI (REKEY_SENT; 0 otherwise) and the old inbound
 * SPIs still in their grace period (up to cap, returns how many). */
uint32_t tunnel_spi_staged(const struct tunnel *t);
size_t tunnel_old_spis(const struct tunnel *t, uint32_t *spis, size_t cap);

/* MLS-Exporter of the current epoch (tests compare both sides). */
int tunnel_export(const struct tunnel *t, const char *label, uint8_t *out,
		  size_t len);

#endif
