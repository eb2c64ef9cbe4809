/* epochd's UDP wire protocol (DESIGN §6, docs/protocol.md): the header,
 * application-layer fragmentation and reassembly, and the reliable
 * request/response bookkeeping (retransmission with exponential backoff,
 * duplicate detection with a cache of responses).
 *
 * Pure code: no sockets, no clocks, no global state. Time is passed in as
 * milliseconds (uint64_t, any monotonic origin); randomness comes through a
 * struct crypto_rng. The event loop owns the socket and the timerfd and asks
 * wire_next_timeout() / wire_reasm_next_timeout() when to wake up.
 *
 * Functions return EPOCH_OK (0), a positive value where documented, or a
 * negative code: EPOCH_ERR_* (proto/result.h) or WIRE_ERR_* below;
 * wire_result_name() names either kind.
 */
#ifndef EPOCHD_WIRE_H
#define EPOCHD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/crypto.h"
#include "proto/result.h"

/* ---- constants of the format (docs/protocol.md §2) ---------------------- */

#define WIRE_MAGIC 0x4550u        /* "EP" */
#define WIRE_VERSION 1u
#define WIRE_HEADER_LEN 32u
/* Every datagram is at most mtu - WIRE_IP_UDP_OVERHEAD bytes of UDP
 * payload (IPv6 header 40 + UDP header 8, used for IPv4 too). */
#define WIRE_IP_UDP_OVERHEAD 48u
#define WIRE_MTU_DEFAULT 1280u
#define WIRE_MTU_MIN 576u
#define WIRE_MTU_MAX 65535u
/* Format limits: frag_count is one octet; total_len at most 64 KiB. */
#define WIRE_FRAGMENTS_MAX 255u
#define WIRE_MESSAGE_MAX 65536u

enum wire_type {
	WIRE_HELLO = 1,
	WIRE_COOKIE = 2,
	WIRE_WELCOME = 3,
	WIRE_COMMIT = 4,
	WIRE_EPOCH_ACK = 5,
	WIRE_RESUME = 6,
	WIRE_KEEPALIVE = 7,
	WIRE_CLOSE = 8,
	WIRE_ERROR = 9,
};

#define WIRE_F_RESPONSE 0x01u  /* a response to the request with msg_id */
#define WIRE_F_INITIATOR 0x02u /* sent by the session's initiator */
#define WIRE_F_ALL (WIRE_F_RESPONSE | WIRE_F_INITIATOR)

/* Wire-specific result codes (EPOCH_ERR_* are -1..-30). */
#define WIRE_RESULTS(X)                                                     \
	X(WIRE_ERR_MAGIC, -100, "not an epochd datagram (bad magic)")       \
	X(WIRE_ERR_VERSION, -101, "unsupported protocol version")           \
	X(WIRE_ERR_TYPE, -102, "unknown message type")                      \
	X(WIRE_ERR_FLAGS, -103, "unknown flag bit, or flags not for the type") \
	X(WIRE_ERR_RESERVED, -104, "reserved octet not zero")               \
	X(WIRE_ERR_SESSION, -105, "session ids not allowed for the type")   \
	X(WIRE_ERR_FRAGMENT, -106, "fragment index or count invalid")       \
	X(WIRE_ERR_LENGTH, -107, "fragment length does not fit total_len") \
	X(WIRE_ERR_TOO_BIG, -108, "message larger than allowed")            \
	X(WIRE_ERR_LIMIT, -109, "reassembly limit reached (count or memory)") \
	X(WIRE_ERR_INCONSISTENT, -110, "fragment contradicts earlier ones") \
	X(WIRE_ERR_BUSY, -111, "too many outstanding requests")             \
	X(WIRE_ERR_EXHAUSTED, -112, "message ids exhausted")

enum wire_result {
#define WIRE_RESULT_ENUM(name, value, text) name = value,
	WIRE_RESULTS(WIRE_RESULT_ENUM)
#undef WIRE_RESULT_ENUM
};

/* Name of a WIRE_ERR_* or EPOCH_* code ("EPOCH_ERR_UNKNOWN" otherwise). */
const char *wire_result_name(int rc);
const char *wire_result_text(int rc);
/* "HELLO", ... or NULL for an unknown type. */
const char *wire_type_name(unsigned type);

/* ---- header ------------------------------------------------------------- */

struct wire_header {
	uint8_t type;        /* enum wire_type */
	uint8_t flags;       /* WIRE_F_* */
	uint8_t frag_index;  /* 0 .. frag_count-1 */
	uint8_t frag_count;  /* 1 .. 255 */
	uint64_t isid;       /* initiator session id, never 0 */
	uint64_t rsid;       /* responder session id, 0 only where allowed */
	uint32_t msg_id;
	uint32_t total_len;  /* length of the whole (reassembled) message */
};

/* Writes the 32-byte header into out (WIRE_HEADER_LEN bytes). Refuses a
 * header that decode would refuse, apart from the fragment length rules. */
int wire_header_encode(const struct wire_header *h,
		       uint8_t out[WIRE_HEADER_LEN]);
/* Decodes one datagram: the header, strictly checked, and the fragment
 * (borrowed from buf). Every refusal has its own code: EPOCH_ERR_TRUNCATED
 * (shorter than a header), WIRE_ERR_MAGIC, _VERSION, _TYPE, _FLAGS,
 * _RESERVED, _SESSION, _FRAGMENT, _TOO_BIG (total_len > WIRE_MESSAGE_MAX),
 * _LENGTH (the fragment's length does not fit the rule of §3). */
int wire_decode(const uint8_t *buf, size_t len, struct wire_header *h,
		const uint8_t **frag, size_t *frag_len);

/* A fresh session id: 8 random bytes, never 0. */
int wire_session_id(const struct crypto_rng *rng, uint64_t *sid);

/* ---- fragmentation ------------------------------------------------------ */

struct wire_limits {
	size_t mtu;                 /* IP MTU of the path, default 1280 */
	unsigned max_fragments;     /* per message, <= 255, default 64 */
	size_t max_message;         /* bytes, <= 65536, default 65536 */
	unsigned max_reassemblies;  /* concurrent, default 16 */
	size_t max_memory;          /* reassembly buffers, default 1 MiB */
	uint64_t reassembly_timeout_ms; /* since the last new fragment, 10 s */
};

void wire_limits_default(struct wire_limits *l);
/* EPOCH_ERR_INVALID_ARG if a limit is out of range. */
int wire_limits_check(const struct wire_limits *l);
/* Fragment payload bytes per datagram for an MTU:
 * mtu - WIRE_IP_UDP_OVERHEAD - WIRE_HEADER_LEN (1200 for 1280). */
size_t wire_fragment_size(size_t mtu);

/* A message encoded as datagrams, back to back in one heap buffer: every
 * datagram but the last is stride bytes long. */
struct wire_datagrams {
	uint8_t *buf;
	size_t count;
	size_t stride;
	size_t last_len;
};
/* Datagram i (< d->count): its bytes and length. */
const uint8_t *wire_datagram(const struct wire_datagrams *d, size_t i,
			     size_t *len);

/* Encodes payload as h->type/flags/isid/rsid/msg_id into ceil(len / F)
 * datagrams (one for len 0), F = wire_fragment_size(l->mtu). The header's
 * fragment fields and total_len are set here. WIRE_ERR_TOO_BIG if the
 * message exceeds l->max_message or needs more than l->max_fragments. */
int wire_fragment(const struct wire_limits *l, const struct wire_header *h,
		  const uint8_t *payload, size_t len,
		  struct wire_datagrams *out);
void wire_datagrams_free(struct wire_datagrams *d);

/* ---- reassembly --------------------------------------------------------- */

/* A complete message. data is owned (free with wire_message_free) when
 * owned is true, else it borrows the datagram given to the reassembler. */
struct wire_message {
	struct wire_header hdr; /* frag_index 0, frag_count as received */
	const uint8_t *data;
	size_t len;
	bool owned;
};
void wire_message_free(struct wire_message *m);

struct wire_reasm_slot;

struct wire_reasm_stats {
	uint64_t completed;
	uint64_t duplicates;   /* fragments already held */
	uint64_t inconsistent; /* reassemblies dropped */
	uint64_t expired;
	uint64_t refused;      /* fragments refused on a limit */
};

struct wire_reasm {
	struct wire_limits lim;
	struct wire_reasm_slot *slots; /* lim.max_reassemblies */
	unsigned active;
	size_t mem_used;               /* sum of buffer sizes held */
	struct wire_reasm_stats stats;
};

int wire_reasm_init(struct wire_reasm *ra, const struct wire_limits *l);
/* Wipes and frees every buffer. */
void wire_reasm_free(struct wire_reasm *ra);
/* Feeds a decoded fragment (h, frag from wire_decode) at time now.
 * Returns 1 with *out set when it completes a message (a one-fragment
 * message completes at once and borrows frag), 0 when it was stored or
 * ignored as a duplicate, or an error: WIRE_ERR_TOO_BIG / _FRAGMENT (over
 * this reassembler's limits), _LIMIT (no slot or memory: dropped),
 * _INCONSISTENT (the fragment contradicts the message's earlier fragments;
 * the whole reassembly is dropped). Expired reassemblies are dropped
 * first. */
int wire_reasm_feed(struct wire_reasm *ra, const struct wire_header *h,
		    const uint8_t *frag, size_t frag_len, uint64_t now,
		    struct wire_message *out);
/* True if a reassembly with h's key (isid, rsid, msg_id, flags) is under
 * way: a later fragment of it needs no new buffer. */
bool wire_reasm_has(const struct wire_reasm *ra, const struct wire_header *h);
/* Reassemblies under way of message type type. */
unsigned wire_reasm_count(const struct wire_reasm *ra, uint8_t type);
/* Drops reassemblies whose deadline is <= now; returns how many. */
unsigned wire_reasm_expire(struct wire_reasm *ra, uint64_t now);
/* Milliseconds from now to the next reassembly deadline (0 if due),
 * WIRE_NO_TIMEOUT if none. */
uint64_t wire_reasm_next_timeout(const struct wire_reasm *ra, uint64_t now);

#define WIRE_NO_TIMEOUT UINT64_MAX

/* ---- requests, responses, retransmission, duplicates ------------------- */

struct wire_retx {
	uint64_t initial_ms; /* first retransmission after this, default 500 */
	uint64_t cap_ms;     /* the interval doubles up to this, default 8000 */
	unsigned max_retries; /* retransmissions before giving up, default 6 */
};
void wire_retx_default(struct wire_retx *r);

#define WIRE_PENDING_MAX 4      /* outstanding requests per session */
#define WIRE_CACHE_MAX 8        /* cached responses per session */
#define WIRE_WINDOW 64          /* duplicate-detection window (ids) */

struct wire_pending {
	bool active;
	uint8_t type;
	uint32_t msg_id;
	unsigned retries;       /* retransmissions so far */
	uint64_t deadline;      /* next retransmission or give-up */
	struct wire_datagrams dg;
};

struct wire_cached {
	bool active;
	uint32_t msg_id;
	uint8_t req_digest[32]; /* SHA-256 of the request message */
	struct wire_datagrams dg;
};

/* One tunnel session's wire state, on one side. */
struct wire_session {
	struct wire_limits lim;
	struct wire_retx retx;
	uint64_t isid, rsid;
	bool initiator;            /* we are the session's initiator */
	uint32_t next_id;          /* our next request id */
	bool id_exhausted;
	struct wire_pending pending[WIRE_PENDING_MAX];
	/* receiver: ids of the peer's requests answered */
	bool rx_any;
	uint32_t rx_top;           /* highest id answered */
	uint64_t rx_mask;          /* bit k: rx_top - k answered */
	struct wire_cached cache[WIRE_CACHE_MAX];
	unsigned cache_next;       /* round-robin eviction */
	uint64_t retransmissions;  /* counter for status */
};

void wire_session_init(struct wire_session *s, const struct wire_limits *l,
		       const struct wire_retx *r, uint64_t isid,
		       uint64_t rsid, bool initiator);
/* Frees every stored datagram. */
void wire_session_free(struct wire_session *s);
/* The initiator learns the responder's id from WELCOME. */
void wire_session_set_rsid(struct wire_session *s, uint64_t rsid);

/* Sends a new request: assigns the next message id, fragments it, keeps
 * the datagrams for retransmission and sets the first deadline
 * (now + initial_ms). *out borrows the datagrams to send now (valid until
 * the request is answered or given up). WIRE_ERR_BUSY if WIRE_PENDING_MAX
 * requests are outstanding. *msg_id (optional) receives the id. */
int wire_request(struct wire_session *s, uint8_t type, const uint8_t *payload,
		 size_t len, uint64_t now, const struct wire_datagrams **out,
		 uint32_t *msg_id);
/* A response (already reassembled) arrived: 1 if it answers an
 * outstanding request (retransmission stops; *type gets the request's
 * type), 0 if it matches none (late duplicate: ignore it). */
int wire_response_match(struct wire_session *s, const struct wire_header *h,
			uint8_t *req_type);
/* Cancels an outstanding request (e.g. a staged commit discarded). */
void wire_request_cancel(struct wire_session *s, uint32_t msg_id);

enum wire_event_kind {
	WIRE_EV_NONE = 0,
	WIRE_EV_RETRANSMIT = 1, /* send ev.dg again */
	WIRE_EV_GIVE_UP = 2,    /* request msg_id of type is abandoned */
};

struct wire_event {
	enum wire_event_kind kind;
	uint8_t type;
	uint32_t msg_id;
	const struct wire_datagrams *dg; /* RETRANSMIT only */
};

/* Handles one due deadline (<= now): returns 1 with *ev set, 0 when none is
 * due. Call until 0. Retransmission k (1-based) is sent at the deadline
 * and the next deadline is that time + min(initial_ms << k, cap_ms); after
 * max_retries retransmissions the next deadline gives up. */
int wire_poll(struct wire_session *s, uint64_t now, struct wire_event *ev);
/* Milliseconds from now to the session's next deadline (0 if one is due),
 * WIRE_NO_TIMEOUT if no request is outstanding. */
uint64_t wire_next_timeout(const struct wire_session *s, uint64_t now);

enum wire_rx {
	WIRE_RX_NEW = 0,       /* process it, then wire_respond() */
	WIRE_RX_DUPLICATE = 1, /* resend *cached, do not process again */
	WIRE_RX_OLD = 2,       /* ignore: answered and evicted, left the
				* window, or same id with other content */
};

/* Classifies a reassembled request (m->hdr without WIRE_F_RESPONSE) from
 * the peer; changes nothing. The request counts as answered only when
 * wire_respond() is called for it, so a forged header whose payload fails
 * authentication moves no window. */
int wire_request_check(const struct wire_session *s,
		       const struct wire_message *m,
		       const struct wire_datagrams **cached);
/* Answers request m: fragments the response (same msg_id, RESPONSE flag),
 * caches it with the request's digest (evicting the oldest of
 * WIRE_CACHE_MAX), marks the id answered. *out borrows the datagrams. */
int wire_respond(struct wire_session *s, const struct wire_message *m,
		 uint8_t type, const uint8_t *payload, size_t len,
		 const struct wire_datagrams **out);

#endif
