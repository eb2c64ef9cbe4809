/* The control channel between epochctl and epochd (DESIGN §8,
 * docs/control.md).
 *
 * A unix stream socket (default /run/epochd/epochd.sock, mode 0660). The client
 * sends one request per line, a small JSON object such as
 * {"cmd":"status","tunnel":"t1"}; the daemon answers each with one JSON
 * line, {"ok":true,...} or {"ok":false,"error":"..."}. After a `watch`
 * request the connection carries one JSON event object per line until it
 * closes.
 *
 * Three parts:
 *  - a strict JSON subset (objects, arrays, strings with escapes,
 *    non-negative integers, booleans) with depth, node and size limits, and
 *    an emitter into a growing buffer;
 *  - the protocol: request parse/format, replies, the status record with its
 *    JSON and human renderings, events;
 *  - server helpers for the daemon's event loop: the listening socket and
 *    non-blocking per-client buffers with limits. The daemon supplies the
 *    data; nothing here knows about tunnels beyond the status record.
 *
 * Functions that can fail return 0 / -1 with a one-line message in err
 * (errlen bytes) unless said otherwise. No global state.
 */
#ifndef EPOCHD_CTL_H
#define EPOCHD_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_SOCKET_DEFAULT "/run/epochd/epochd.sock"
#define CTL_REQ_MAX 4096          /* one request line, newline included */
#define CTL_OUT_MAX (1024 * 1024) /* queued replies/events per client */
#define CTL_REPLY_MAX (4 * 1024 * 1024) /* a reply line, client side */
#define CTL_NAME_MAX 32           /* tunnel name: [A-Za-z0-9_-]{1,32} */
#define CTL_TEXT_MAX 48           /* suite, ESP algorithm */
#define CTL_PEER_MAX 64           /* "[v6 address]:port" */
#define CTL_ERR_MAX 256           /* error and event reason strings */

/* ---- JSON ---------------------------------------------------------------- */

#define CTL_JSON_DEPTH 8

enum ctl_json_type {
	CTL_JSON_OBJECT, CTL_JSON_ARRAY, CTL_JSON_STRING, CTL_JSON_INT,
	CTL_JSON_BOOL
};

/* One value. Children of an object or array are linked by index (-1 ends
 * a list); an object member's key is in key/key_len. Strings are unescaped
 * UTF-8 without NUL bytes, NUL-terminated. */
struct ctl_json {
	enum ctl_json_type type;
	int first;           /* first child, -1 if none */
	int next;            /* next sibling, -1 if last */
	size_t n;            /* number of children */
	const char *key;     /* member of an object: its key, else NULL */
	const char *str;     /* CTL_JSON_STRING */
	size_t len;          /* string length */
	uint64_t num;        /* CTL_JSON_INT (0 .. 2^64-1) */
	bool b;              /* CTL_JSON_BOOL */
};

struct ctl_json_doc {
	struct ctl_json *v;  /* v[0] is the root */
	size_t n, cap;
	char *strs;          /* unescaped strings and keys */
	size_t strs_len, strs_cap;
};

/* Parses exactly one JSON value filling text[0..len) (whitespace around it
 * allowed), with at most max_nodes values and CTL_JSON_DEPTH levels. The
 * subset: objects (duplicate keys refused), arrays, strings (valid UTF-8,
 * no control characters, escapes \" \\ \/ \b \f \n \r \t \uXXXX with
 * surrogate pairs; \u0000 refused), integers 0..2^64-1 without sign,
 * fraction, exponent or leading zeros, true and false. null is refused.
 * On error err says what and at which byte offset. */
int ctl_json_parse(struct ctl_json_doc *doc, const char *text, size_t len,
		   size_t max_nodes, char *err, size_t errlen);
void ctl_json_free(struct ctl_json_doc *doc);
/* Object member by key, NULL if absent (or o is not an object). */
const struct ctl_json *ctl_json_get(const struct ctl_json_doc *doc,
				    const struct ctl_json *o,
				    const char *key);
/* The i-th child of an array or object, in order; NULL past the end. */
const struct ctl_json *ctl_json_child(const struct ctl_json_doc *doc,
				      const struct ctl_json *o, size_t i);

/* A growing output buffer. On allocation failure or when the limit is
 * passed, err is set and later writes do nothing. */
struct ctl_buf {
	char *p;
	size_t len, cap, limit;
	bool err;
};

void ctl_buf_init(struct ctl_buf *b, size_t limit);
void ctl_buf_free(struct ctl_buf *b);
void ctl_buf_add(struct ctl_buf *b, const char *s, size_t n);
void ctl_buf_puts(struct ctl_buf *b, const char *s);
void ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A JSON string literal with quotes; bytes that are not valid UTF-8 are
 * written as U+FFFD, control characters as escapes. */
void ctl_json_put_str(struct ctl_buf *b, const char *s);
/* "key": with the comma before it unless first. */
void ctl_json_put_key(struct ctl_buf *b, const char *key, bool first);

/* ---- requests ------------------------------------------------------------ */

enum ctl_cmd {
	CTL_CMD_STATUS, CTL_CMD_UP, CTL_CMD_DOWN, CTL_CMD_REKEY,
	CTL_CMD_RELOAD, CTL_CMD_WATCH, CTL_CMD_COUNT
};

struct ctl_request {
	enum ctl_cmd cmd;
	char tunnel[CTL_NAME_MAX + 1]; /* "" when absent (status: all) */
};

const char *ctl_cmd_name(enum ctl_cmd cmd);
/* Tunnel names: 1..CTL_NAME_MAX characters of [A-Za-z0-9_-], the rule of
 * epochd.conf (config.h, CONFIG_NAME_MAX). */
bool ctl_name_valid(const char *s, size_t len);
/* Parses one request line (without its newline; at most CTL_REQ_MAX - 1
 * bytes): an object with "cmd" (a command name) and "tunnel" (required by
 * up, down and rekey, optional for status, refused for reload and watch);
 * any other member, a wrong type or a bad name is refused. */
int ctl_request_parse(const char *line, size_t len, struct ctl_request *req,
		      char *err, size_t errlen);
/* The request as one line with its newline into out; 0 or -1 if it does
 * not fit or is invalid (bad name, missing or extra tunnel). */
int ctl_request_format(const struct ctl_request *req, char *out,
		       size_t outlen);

/* ---- status -------------------------------------------------------------- */

enum ctl_state {
	CTL_STATE_DOWN,       /* configured, no session (or given up) */
	CTL_STATE_CONNECTING, /* handshake in progress */
	CTL_STATE_UP,         /* SAs installed, traffic flows */
	CTL_STATE_REKEYING,   /* up, a commit in flight */
	CTL_STATE_DISABLED,   /* `epochctl down` */
	CTL_STATE_COUNT
};

enum ctl_role { CTL_ROLE_INITIATOR, CTL_ROLE_RESPONDER, CTL_ROLE_COUNT };

enum ctl_trigger {
	CTL_TRIGGER_NONE,     /* no rekey yet */
	CTL_TRIGGER_HANDSHAKE,/* the handshake's first epoch */
	CTL_TRIGGER_TIME,     /* rekey_time */
	CTL_TRIGGER_BYTES,    /* kernel soft byte lifetime */
	CTL_TRIGGER_PACKETS,  /* kernel soft packet lifetime */
	CTL_TRIGGER_MANUAL,   /* epochctl rekey */
	CTL_TRIGGER_PEER,     /* the peer committed */
	CTL_TRIGGER_RESUME,   /* our RESUME after a restart (DESIGN §5) */
	CTL_TRIGGER_COUNT
};

/* One tunnel as `epochctl status` shows it. Times are Unix seconds, 0 for
 * "never" / "not scheduled". SPIs are 0 while no SA exists. */
struct ctl_status {
	char name[CTL_NAME_MAX + 1];
	enum ctl_state state;
	enum ctl_role role;
	char peer[CTL_PEER_MAX + 1];
	uint64_t epoch;
	char suite[CTL_TEXT_MAX + 1];
	char esp[CTL_TEXT_MAX + 1];
	uint32_t spi_in, spi_out;
	uint64_t bytes_in, bytes_out, packets_in, packets_out;
	uint64_t last_rekey;
	enum ctl_trigger last_trigger;
	uint64_t next_rekey;
	uint64_t retransmits;
};

const char *ctl_state_name(enum ctl_state s);
const char *ctl_role_name(enum ctl_role r);
const char *ctl_trigger_name(enum ctl_trigger t);

/* One status object (see docs/control.md for the members, in this order). */
void ctl_status_json(struct ctl_buf *b, const struct ctl_status *st);
/* The whole reply line: {"ok":true,"tunnels":[...]} and a newline. */
void ctl_status_reply(struct ctl_buf *b, const struct ctl_status *st,
		      size_t n);
/* Daemon-wide counters of the denial-of-service rules (docs/control.md,
 * "dos"), appended to a status reply. */
struct ctl_dos {
	uint64_t half_open;           /* responder handshakes half-open now */
	uint64_t cookie_threshold;    /* configured */
	uint64_t hellos;              /* first HELLO fragments looked at */
	uint64_t hellos_processed;    /* HELLOs handed to the handshake */
	uint64_t hellos_rate_limited; /* over their source's rate */
	uint64_t hellos_dropped;      /* fragments dropped unanswered */
	uint64_t cookies_sent;        /* COOKIE replies */
	uint64_t cookies_valid;       /* HELLOs let in by their cookie */
	uint64_t cookies_invalid;     /* HELLOs with a wrong or old one */
	uint64_t cookies_received;    /* initiator: COOKIEs acted on */
	uint64_t cookies_ignored;     /* initiator: COOKIEs not for us */
	uint64_t unknown_source;      /* datagrams from no tunnel's peer */
	uint64_t rate_sources;        /* rate-limit table entries in use */
	uint64_t rate_evictions;      /* entries taken over by another */
};
/* As ctl_status_reply, with a "dos" object after "tunnels" (dos may be
 * NULL: none). */
void ctl_status_reply_dos(struct ctl_buf *b, const struct ctl_status *st,
			  size_t n, const struct ctl_dos *dos);
/* Reads a status object back (every member required, nothing extra). */
int ctl_status_parse(const struct ctl_json_doc *doc,
		     const struct ctl_json *o, struct ctl_status *st,
		     char *err, size_t errlen);
/* Parses a status reply line: 0 with *out (malloc'd, free()) holding *n
 * records; 1 for an {"ok":false} reply (its error in err); -1 for a line
 * that is not a valid status reply. */
int ctl_status_reply_parse(const char *line, size_t len,
			   struct ctl_status **out, size_t *n, char *err,
			   size_t errlen);
/* The human rendering, one block per tunnel; times relative to now. */
void ctl_status_table(struct ctl_buf *b, const struct ctl_status *st,
		      size_t n, uint64_t now);

/* ---- replies and events -------------------------------------------------- */

/* {"ok":true} or {"ok":true,"message":"..."} (msg may be NULL), newline. */
void ctl_reply_ok(struct ctl_buf *b, const char *msg);
/* {"ok":false,"error":"..."} and a newline. */
void ctl_reply_error(struct ctl_buf *b, const char *msg);

/* Parses a generic reply line: 0 with *msg set to the message (or "") for
 * ok:true, 1 with the daemon's error in msg for ok:false, -1 (err) for a
 * line that is not a reply. */
int ctl_reply_parse(const char *line, size_t len, char *msg, size_t msglen,
		    char *err, size_t errlen);

enum ctl_event_type {
	CTL_EVENT_UP,       /* tunnel up: epoch, spi_in, spi_out */
	CTL_EVENT_DOWN,     /* tunnel down: reason */
	CTL_EVENT_REKEY,    /* new epoch: epoch, spi_in, spi_out, trigger */
	CTL_EVENT_REJECTED, /* peer rejected: reason (peer when known) */
	CTL_EVENT_RELOAD,   /* configuration reloaded: reason = summary */
	CTL_EVENT_COUNT
};

struct ctl_event {
	enum ctl_event_type type;
	uint64_t time;
	char tunnel[CTL_NAME_MAX + 1]; /* "" for reload */
	uint64_t epoch;
	uint32_t spi_in, spi_out;
	enum ctl_trigger trigger;
	char peer[CTL_PEER_MAX + 1];
	char reason[CTL_ERR_MAX];
};

const char *ctl_event_name(enum ctl_event_type t);
/* One event line (members depend on the type, see docs/control.md). */
void ctl_event_json(struct ctl_buf *b, const struct ctl_event *ev);

/* ---- server side --------------------------------------------------------- */

/* Creates the listening socket at path: non-blocking, close-on-exec, mode
 * 0660. A stale socket left by a dead daemon is removed; a socket that
 * accepts connections (a running daemon) or a path that is not a socket is
 * refused. Returns the descriptor or -1. */
int ctl_listen(const char *path, char *err, size_t errlen);
/* Removes the socket at path if it is one (at daemon exit). */
void ctl_unlink(const char *path);

struct ctl_client {
	int fd;
	char in[CTL_REQ_MAX];
	size_t in_len;
	bool discard;      /* skipping the rest of an oversized line */
	bool eof;          /* the peer closed its side */
	bool dead;         /* I/O error or output over CTL_OUT_MAX: close it */
	bool watching;     /* set by the daemon on a watch request */
	struct ctl_buf out;
	size_t out_off;    /* bytes of out already written */
};

/* Accepts one pending connection into c (non-blocking, close-on-exec).
 * Returns 1, 0 if none was pending, -1 on error. */
int ctl_accept(int listen_fd, struct ctl_client *c, char *err,
	       size_t errlen);
void ctl_client_init(struct ctl_client *c, int fd);
/* Closes the descriptor and frees the buffers. */
void ctl_client_close(struct ctl_client *c);
/* Reads what is available (call on EPOLLIN). Sets eof/dead. */
void ctl_client_read(struct ctl_client *c);
/* Takes the next complete request out of the input: 1 and *req filled, or
 * 0 when no complete line is left. A malformed or oversized request gets
 * its error reply queued here and is skipped, so the caller only sees
 * valid requests. A watching client's further requests are refused. */
int ctl_client_next(struct ctl_client *c, struct ctl_request *req);
/* Queues a rendered line (from ctl_reply_* / ctl_status_reply /
 * ctl_event_json into b); a client whose queue would pass CTL_OUT_MAX is
 * marked dead. */
void ctl_client_queue(struct ctl_client *c, const struct ctl_buf *b);
/* Writes queued output (call on EPOLLOUT or after queueing). Returns true
 * while output remains (keep EPOLLOUT armed). */
bool ctl_client_flush(struct ctl_client *c);
/* True when the daemon should close this client: dead, or eof with
 * nothing left to write. */
bool ctl_client_done(const struct ctl_client *c);

/* ---- client side --------------------------------------------------------- */

/* Connects to the daemon's socket (blocking). -1 with a message like
 * "cannot connect to /run/epochd/epochd.sock: No such file or directory (is epochd
 * running?)". */
int ctl_connect(const char *path, char *err, size_t errlen);
/* Makes the first line of acc available: returns 1 with *line_len its
 * length (acc->p[*line_len] is its newline, replaced by a NUL), reading
 * from fd as needed; 0 on EOF before a complete line; -1 on a read error
 * or a line longer than acc->limit. Drop the line afterwards with
 * ctl_buf_consume(acc, *line_len + 1). */
int ctl_read_line(int fd, struct ctl_buf *acc, size_t *line_len, char *err,
		  size_t errlen);
/* Removes the first n bytes of b. */
void ctl_buf_consume(struct ctl_buf *b, size_t n);

#endif
