/* One tunnel's state machine (daemon/tunnel.h, docs/state-machine.md). */
#include <stdlib.h>
#include <string.h>

#include "daemon/tunnel.h"
#include "daemon/tunnel_int.h"
#include "proto/crypto.h"

#define MAX_OLD_IN 8 /* old inbound SAs inside their grace period */
#define ROWS_MAX 8   /* rows one call may take (tunnel_ops.row) */
#define MSG_MAX (1u << 20)
#define ESP_LABEL "epochd esp"

struct old_in {
	uint32_t spi;
	uint64_t delete_at;
	bool rearmed; /* rearm_grace done */
};

struct tunnel {
	struct tunnel_cfg cfg;
	struct tunnel_ops ops;
	uint8_t *params;
	enum tunnel_state state;
	struct mls_kp_secret *kp;
	struct mls_group *g;
	uint32_t spi_in, spi_out, spi_staged;
	struct old_in old[MAX_OLD_IN];
	size_t n_old;
	/* The request we wait an answer for, resent until answered. */
	enum tunnel_msg req_type;
	uint8_t *req;
	size_t req_len;
	unsigned tries;
	uint64_t retx_at, retx_ms;
	uint64_t give_up_at; /* with retransmit_cap_ms */
	/* The last request we answered and our answer, for duplicates. */
	uint8_t *last_req, *last_resp;
	size_t last_req_len, last_resp_len;
	enum tunnel_msg last_resp_type;
	unsigned retransmissions, rekeys, collisions, sealed;
	bool collided;       /* row 14 counted for the outstanding commit */
	uint64_t last_alive; /* last sign of the peer */
	uint64_t restart_at; /* initiator, DOWN after losing the peer */
	uint64_t backoff;    /* next restart delay before jitter (0: first) */
	uint64_t session;    /* tunnel_session() */
	/* Row 22 (responder): a new session built beside the current one,
	 * with its HELLO and WELCOME for duplicates. */
	struct mls_group *pend;
	uint8_t *pend_hello, *pend_welcome;
	size_t pend_hello_len, pend_welcome_len;
	/* SHA-256 of the last HELLOs answered (a ring): replays refused. */
	uint8_t seen[TUNNEL_HELLOS_SEEN][32];
	size_t n_seen, seen_next;
	/* SHA-256 of the peer's last commit we applied: row 24 answers a
	 * RESUME of the previous epoch only if it is that commit. */
	uint8_t applied[32];
	bool have_applied;
	/* The rows of daemon/tunnel_rows.def the current call took. */
	unsigned ev, rows[ROWS_MAX];
	enum tunnel_state rows_from[ROWS_MAX];
	size_t n_rows;
};

const char *tunnel_state_name(enum tunnel_state s)
{
	static const char *const names[] = {
		[TUNNEL_DOWN] = "down",
		[TUNNEL_HELLO_SENT] = "hello-sent",
		[TUNNEL_WELCOME_SENT] = "welcome-sent",
		[TUNNEL_JOIN_COMMIT_SENT] = "join-commit-sent",
		[TUNNEL_ESTABLISHED] = "established",
		[TUNNEL_REKEY_SENT] = "rekey-sent",
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] :
								"?";
}

/* ---- helpers ------------------------------------------------------------- */

/* A transition of the table (daemon/tunnel_rows.def) starts here. Row
 * 16b replaces the row the kernel's refusal cut short. */
static void row(struct tunnel *t, unsigned id)
{
	if (id == 162 && t->n_rows)
		t->n_rows--;
	if (t->n_rows < ROWS_MAX) {
		t->rows[t->n_rows] = id;
		t->rows_from[t->n_rows] = t->state;
		t->n_rows++;
	}
}

static void call_begin(struct tunnel *t, unsigned ev)
{
	t->ev = ev;
	t->n_rows = 0;
}

/* Reports the call's rows (tunnel_ops.row); returns rc. */
static int call_end(struct tunnel *t, int rc)
{
	for (size_t i = 0; t->ops.row && i < t->n_rows; i++)
		t->ops.row(t->ops.ctx, t->rows[i], t->ev, t->rows_from[i],
			   i + 1 < t->n_rows ? t->rows_from[i + 1] : t->state);
	t->n_rows = 0;
	return rc;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The ESP key for the SA whose receiver allocated `spi`, traffic going
 * from the initiator (i2r) or to it (r2i), from the current or the staged
 * epoch (DESIGN.md §3). */
static int esp_key(const struct tunnel *t, const struct mls_group *g,
		   bool staged, bool i2r, uint32_t spi, uint8_t *key)
{
	uint8_t ctx[3 + 4 + 1];

	memcpy(ctx, i2r ? "i2r" : "r2i", 3);
	put32(ctx + 3, spi);
	ctx[7] = t->cfg.esp_alg;
	return mls_group_export(g, staged, (const uint8_t *)ESP_LABEL,
				strlen(ESP_LABEL), ctx, sizeof(ctx), key,
				t->cfg.esp_key_len);
}

/* Our inbound traffic flows towards us: r2i for the initiator. */
static bool in_dir_i2r(const struct tunnel *t)
{
	return !t->cfg.initiator;
}

/* Replaces *p (*len bytes) by a copy of src. */
static int keep_copy(const uint8_t *src, size_t n, uint8_t **p, size_t *len)
{
	uint8_t *d = malloc(n ? n : 1);

	if (!d)
		return EPOCH_ERR_NOMEM;
	if (n)
		memcpy(d, src, n);
	free(*p);
	*p = d;
	*len = n;
	return EPOCH_OK;
}

static int tsend(struct tunnel *t, enum tunnel_msg type, bool response,
		 const uint8_t *msg, size_t len)
{
	return t->ops.send(t->ops.ctx, type, response, msg, len);
}

/* Every application message is encrypted here (counted:
 * tunnel_messages_sealed). */
static int seal(struct tunnel *t, struct mls_group *g, const uint8_t *pt,
		size_t len, struct codec_writer *w)
{
	t->sealed++;
	return mls_group_encrypt(g, NULL, 0, pt, len, w);
}

/* The save point before a message that lets the peer move on. */
static void save_now(struct tunnel *t)
{
	if (t->ops.save)
		t->ops.save(t->ops.ctx);
}

static void request_clear(struct tunnel *t)
{
	free(t->req);
	t->req = NULL;
	t->req_len = 0;
	t->tries = 0;
	t->retx_at = UINT64_MAX;
}

/* Sends msg as a request and keeps it for retransmission; with `save`,
 * the state (with the request) is saved first. */
static int request_send_ex(struct tunnel *t, enum tunnel_msg type,
			   const uint8_t *msg, size_t len, uint64_t now,
			   bool save)
{
	GUARD(keep_copy(msg, len, &t->req, &t->req_len));
	t->req_type = type;
	t->collided = false;
	t->tries = 1;
	t->retx_ms = t->cfg.retransmit_ms;
	t->retx_at = now + t->retx_ms;
	t->give_up_at = now + t->cfg.retransmit_ms *
				      ((UINT64_C(1) << t->cfg.max_tries) - 1);
	if (save)
		save_now(t);
	return tsend(t, type, false, t->req, t->req_len);
}

static int request_send(struct tunnel *t, enum tunnel_msg type,
			const uint8_t *msg, size_t len, uint64_t now)
{
	return request_send_ex(t, type, msg, len, now, false);
}

/* Sends w as the answer to request req and remembers both, so that a
 * duplicate of req gets the same answer again. */
static int respond(struct tunnel *t, enum tunnel_msg type,
		   const struct codec_writer *w, const uint8_t *req,
		   size_t req_len)
{
	GUARD(keep_copy(w->buf, w->len, &t->last_resp, &t->last_resp_len));
	GUARD(keep_copy(req, req_len, &t->last_req, &t->last_req_len));
	t->last_resp_type = type;
	return tsend(t, type, true, t->last_resp,
			   t->last_resp_len);
}

/* A duplicate request gets the answer it had. */
static int resend_answer(struct tunnel *t)
{
	return tsend(t, t->last_resp_type, true, t->last_resp,
			   t->last_resp_len);
}

static bool is_duplicate(const struct tunnel *t, const uint8_t *msg,
			 size_t len)
{
	return t->last_req && t->last_req_len == len &&
	       memcmp(t->last_req, msg, len) == 0;
}

static void answer_clear(struct tunnel *t)
{
	free(t->last_req);
	free(t->last_resp);
	t->last_req = t->last_resp = NULL;
	t->last_req_len = t->last_resp_len = 0;
}

/* Row 22's pending session and its cached WELCOME. */
static void pending_clear(struct tunnel *t)
{
	mls_group_free(t->pend);
	t->pend = NULL;
	free(t->pend_hello);
	free(t->pend_welcome);
	t->pend_hello = t->pend_welcome = NULL;
	t->pend_hello_len = t->pend_welcome_len = 0;
}

static bool hello_seen(const struct tunnel *t, const uint8_t *h)
{
	for (size_t i = 0; i < t->n_seen; i++)
		if (memcmp(t->seen[i], h, 32) == 0)
			return true;
	return false;
}

static void hello_remember(struct tunnel *t, const uint8_t *h)
{
	memcpy(t->seen[t->seen_next], h, 32);
	t->seen_next = (t->seen_next + 1) % TUNNEL_HELLOS_SEEN;
	if (t->n_seen < TUNNEL_HELLOS_SEEN)
		t->n_seen++;
}

/* Rows 3, 19, 20: the initiator starts again after restart_ms, doubled
 * after each further failure up to restart_max_ms, plus a random jitter
 * of up to 25 % so that restarting pairs do not synchronise. */
static void schedule_restart(struct tunnel *t, uint64_t now)
{
	uint64_t cap = t->cfg.restart_max_ms > t->cfg.restart_ms ?
			       t->cfg.restart_max_ms : t->cfg.restart_ms;
	uint64_t d = t->backoff ? t->backoff : t->cfg.restart_ms;
	uint64_t q, j = 0;
	uint8_t b[4];

	if (!t->cfg.initiator)
		return;
	if (d > cap)
		d = cap;
	q = d / 4;
	/* j = q * r / (2^32 - 1): 0 .. q inclusive; without randomness no
	 * jitter rather than no restart. */
	if (q && crypto_random(t->cfg.member.rng, b, sizeof(b)) == EPOCH_OK) {
		uint64_t r = get32(b);

		j = q <= UINT32_MAX ? q * r / UINT32_MAX : q / UINT32_MAX * r;
	}
	t->restart_at = now + d + j;
	t->backoff = d > cap / 2 ? cap : d * 2;
}

/* Deletes every inbound SA of the tunnel: old ones in their grace
 * period, the current one and a staged one. */
static void delete_inbound(struct tunnel *t)
{
	for (size_t i = 0; i < t->n_old; i++)
		t->ops.sa_in_del(t->ops.ctx, t->old[i].spi);
	t->n_old = 0;
	if (t->spi_in)
		t->ops.sa_in_del(t->ops.ctx, t->spi_in);
	if (t->spi_staged)
		t->ops.sa_in_del(t->ops.ctx, t->spi_staged);
}

/* Keeps an inbound SA until now + grace, then tunnel_timer deletes it. */
static int retire_in(struct tunnel *t, uint32_t spi, uint64_t now)
{
	if (!spi)
		return EPOCH_OK;
	if (t->n_old == MAX_OLD_IN) {
		/* The oldest goes now rather than never. */
		GUARD(t->ops.sa_in_del(t->ops.ctx, t->old[0].spi));
		memmove(&t->old[0], &t->old[1],
			(MAX_OLD_IN - 1) * sizeof(t->old[0]));
		t->n_old--;
	}
	t->old[t->n_old].spi = spi;
	t->old[t->n_old].delete_at = now + t->cfg.grace_ms;
	t->old[t->n_old].rearmed = false;
	t->n_old++;
	return EPOCH_OK;
}

/* The peer is whom the config pins. */
static int accept_peer(void *ctx, const struct mls_credential *cred,
		       const uint8_t *pk, size_t len)
{
	const struct tunnel *t = ctx;

	(void)cred;
	return len == 32 && crypto_ct_equal(pk, t->cfg.peer_key, 32) ?
		       EPOCH_OK : EPOCH_ERR_CREDENTIAL;
}

static struct mls_policy policy(struct tunnel *t, uint64_t now)
{
	struct mls_policy p = { now / 1000, accept_peer, t };

	return p;
}

/* ---- life cycle ------------------------------------------------------------ */

int tunnel_new(struct tunnel **out, const struct tunnel_cfg *cfg,
	       const struct tunnel_ops *ops)
{
	struct tunnel *t;

	if (!out || !cfg || !ops || !ops->send || !ops->alloc_spi ||
	    !ops->sa_in_add || !ops->sa_in_del || !ops->out_switch ||
	    !ops->sa_out_del ||
	    cfg->esp_key_len == 0 || cfg->esp_key_len > TUNNEL_ESP_KEY_MAX ||
	    cfg->max_tries == 0 || cfg->max_tries > 16 ||
	    (!cfg->params && cfg->params_len) ||
	    (cfg->restart_max_ms && cfg->restart_max_ms < cfg->restart_ms) ||
	    cfg->restart_ms > UINT32_MAX || cfg->restart_max_ms > UINT32_MAX)
		return EPOCH_ERR_INVALID_ARG;
	/* An old inbound SA must outlive every retransmission of a COMMIT
	 * whose EPOCH_ACK was lost: until the committer hears the ACK it
	 * keeps sending on that SA. */
	if (cfg->grace_ms <
	    cfg->retransmit_ms * ((UINT64_C(1) << cfg->max_tries) - 1))
		return EPOCH_ERR_INVALID_ARG;
	t = calloc(1, sizeof(*t));
	if (!t)
		return EPOCH_ERR_NOMEM;
	t->cfg = *cfg;
	t->ops = *ops;
	t->params = malloc(cfg->params_len ? cfg->params_len : 1);
	if (!t->params) {
		free(t);
		return EPOCH_ERR_NOMEM;
	}
	if (cfg->params_len)
		memcpy(t->params, cfg->params, cfg->params_len);
	t->cfg.params = t->params;
	t->retx_at = UINT64_MAX;
	t->restart_at = UINT64_MAX;
	*out = t;
	return EPOCH_OK;
}

void tunnel_free(struct tunnel *t)
{
	if (!t)
		return;
	mls_kp_secret_free(t->kp);
	mls_group_free(t->g);
	pending_clear(t);
	free(t->params);
	free(t->req);
	free(t->last_req);
	free(t->last_resp);
	crypto_wipe(t, sizeof(*t));
	free(t);
}

/* ---- the transitions (docs/state-machine.md rows) ------------------------ */

/* Row 1. */
static int start(struct tunnel *t, uint64_t now)
{
	const uint8_t *kp;
	size_t len;
	int rc;

	if (!t->cfg.initiator || t->state != TUNNEL_DOWN)
		return EPOCH_ERR_STATE;
	row(t, 10);
	mls_kp_secret_free(t->kp);
	t->kp = NULL;
	GUARD(mls_kp_create(&t->kp, &t->cfg.member));
	kp = mls_kp_bytes(t->kp, &len);
	/* A new session: the daemon sends this HELLO with a new isid. */
	t->session++;
	rc = request_send(t, TUNNEL_MSG_HELLO, kp, len, now);
	if (t->req)
		t->state = TUNNEL_HELLO_SENT; /* a failed send is a loss */
	return rc;
}

int tunnel_start(struct tunnel *t, uint64_t now)
{
	if (!t)
		return EPOCH_ERR_INVALID_ARG;
	call_begin(t, E_START);
	return call_end(t, start(t, now));
}

/* Stages a commit carrying a fresh inbound SPI and installs that SA from
 * the staged epoch; sends the COMMIT (rows 6 and 9) or RESUME (row 23).
 * A rekey or RESUME (not the join commit) moves to REKEY_SENT and is
 * saved before it leaves. */
static int commit_with_spi(struct tunnel *t, enum tunnel_msg type,
			   bool rekey, uint64_t now)
{
	uint8_t ad[4], key[TUNNEL_ESP_KEY_MAX];
	struct mls_commit_opts o = { ad, sizeof(ad), false };
	struct codec_writer w;
	uint32_t spi;
	int rc;

	GUARD(t->ops.alloc_spi(t->ops.ctx, &spi));
	put32(ad, spi);
	codec_writer_init_dynamic(&w, MSG_MAX);
	GUARD_GOTO(rc, mls_group_commit(t->g, &o, &w), out);
	t->sealed++;
	rc = esp_key(t, t->g, true, in_dir_i2r(t), spi, key);
	if (rc == EPOCH_OK)
		rc = t->ops.sa_in_add(t->ops.ctx, spi, key, t->cfg.esp_key_len);
	crypto_wipe(key, sizeof(key));
	if (rc != EPOCH_OK) {
		mls_group_discard(t->g);
		goto out;
	}
	t->spi_staged = spi;
	if (rekey)
		t->state = TUNNEL_REKEY_SENT;
	rc = request_send_ex(t, type, w.buf, w.len, now, rekey);
out:
	codec_writer_free(&w);
	return rc;
}

/* Row 9. */
int tunnel_rekey(struct tunnel *t, uint64_t now)
{
	if (!t)
		return EPOCH_ERR_INVALID_ARG;
	if (t->state != TUNNEL_ESTABLISHED)
		return EPOCH_ERR_STATE;
	call_begin(t, E_REKEY);
	row(t, 90);
	return call_end(t, commit_with_spi(t, TUNNEL_MSG_COMMIT, true, now));
}

/* Rows 4 and 22 (and 5: a duplicate HELLO gets the same WELCOME). */
static int on_hello(struct tunnel *t, const uint8_t *msg, size_t len,
		    uint64_t now)
{
	struct mls_policy pol = policy(t, now);
	struct mls_group *g = NULL;
	struct codec_writer cw, ww;
	uint8_t gid[16], h[32], *hp = NULL, *wp = NULL;
	size_t hl, wl;
	int rc;

	if (t->cfg.initiator)
		return EPOCH_ERR_SENDER;
	if (is_duplicate(t, msg, len)) {
		row(t, 50);
		return resend_answer(t);
	}
	if (t->pend_hello && t->pend_hello_len == len &&
	    memcmp(t->pend_hello, msg, len) == 0) {
		row(t, 50);
		return tsend(t, TUNNEL_MSG_WELCOME, true,
				   t->pend_welcome, t->pend_welcome_len);
	}
	/* A KeyPackage is single-use: a HELLO answered before is a replay,
	 * or a late copy of one whose session has moved on. */
	GUARD(crypto_hash(CRYPTO_SHA256, msg, len, h));
	if (hello_seen(t, h))
		return EPOCH_ERR_STATE;
	GUARD(crypto_random(t->cfg.member.rng, gid, sizeof(gid)));
	codec_writer_init_dynamic(&cw, MSG_MAX);
	codec_writer_init_dynamic(&ww, MSG_MAX);
	GUARD_GOTO(rc, mls_group_create(&g, &t->cfg.member, gid, sizeof(gid),
					t->cfg.params, t->cfg.params_len),
		   out);
	GUARD_GOTO(rc, mls_group_add(g, msg, len, &pol, NULL, &cw, &ww), out);
	GUARD_GOTO(rc, mls_group_apply(g), out);
	if (t->state == TUNNEL_DOWN) {
		/* Row 4. The daemon answers with a new session's ids. */
		row(t, 40);
		hello_remember(t, h);
		t->g = g;
		g = NULL;
		t->session++;
		t->state = TUNNEL_WELCOME_SENT;
		rc = respond(t, TUNNEL_MSG_WELCOME, &ww, msg, len);
		goto out;
	}
	/* Row 22: the initiator restarted without state (or this is a
	 * replay nobody can complete). The current session goes on; the
	 * new one waits in the pending slot, replacing an older one, until
	 * its first COMMIT (on_commit). */
	GUARD_GOTO(rc, keep_copy(msg, len, &hp, &hl), out);
	GUARD_GOTO(rc, keep_copy(ww.buf, ww.len, &wp, &wl), out);
	row(t, 220);
	hello_remember(t, h);
	pending_clear(t);
	t->pend = g;
	g = NULL;
	t->pend_hello = hp;
	t->pend_hello_len = hl;
	t->pend_welcome = wp;
	t->pend_welcome_len = wl;
	hp = wp = NULL;
	rc = tsend(t, TUNNEL_MSG_WELCOME, true, t->pend_welcome,
			 t->pend_welcome_len);
out:
	free(hp);
	free(wp);
	mls_group_free(g);
	codec_writer_free(&cw);
	codec_writer_free(&ww);
	return rc;
}

/* Row 6. */
static int on_welcome(struct tunnel *t, const uint8_t *msg, size_t len,
		      uint64_t now)
{
	struct mls_policy pol = policy(t, now);
	const uint8_t *params;
	size_t params_len;

	if (t->state != TUNNEL_HELLO_SENT)
		return EPOCH_ERR_STATE;
	GUARD(mls_group_join(&t->g, &t->cfg.member, t->kp, msg, len, &pol));
	/* The responder's tunnel parameters must be ours (epochd puts the
	 * negotiated ones in the GroupContext; here: equal). */
	params = mls_group_context_extensions(t->g, &params_len);
	if (params_len != t->cfg.params_len ||
	    (params_len && memcmp(params, t->cfg.params, params_len))) {
		mls_group_free(t->g);
		t->g = NULL;
		return EPOCH_ERR_PROPOSAL;
	}
	mls_kp_secret_free(t->kp);
	t->kp = NULL;
	row(t, 60);
	request_clear(t);
	GUARD(commit_with_spi(t, TUNNEL_MSG_COMMIT, false, now));
	t->state = TUNNEL_JOIN_COMMIT_SENT;
	return EPOCH_OK;
}

/* The epoch an MLSMessage claims in its clear header (PrivateMessage and
 * PublicMessage both start with group_id, epoch); false if unreadable. */
static bool peek_epoch(const uint8_t *msg, size_t len, uint64_t *epoch)
{
	struct codec_reader r;
	struct codec_slice sl;
	uint16_t version, wf;

	codec_reader_init(&r, msg, len);
	return codec_read_u16(&r, &version) == EPOCH_OK &&
	       codec_read_u16(&r, &wf) == EPOCH_OK &&
	       codec_read_vec(&r, &sl, MSG_MAX) == EPOCH_OK &&
	       codec_read_u64(&r, epoch) == EPOCH_OK;
}

/* Whether an MLSMessage's clear content_type (PrivateMessage: after the
 * epoch; PublicMessage: in FramedContent, after the sender and the
 * authenticated data) is ct. Checked before mls_group_process: a genuine
 * message of the peer under another wire type (the header is not
 * authenticated), e.g. a COMMIT sent on as KEEPALIVE, would otherwise be
 * processed, move the group's epoch behind the tunnel's back and only
 * then be refused. mls_group_process authenticates the value. */
static bool peek_content(const uint8_t *msg, size_t len, uint8_t ct)
{
	struct codec_reader r;
	struct codec_slice sl;
	uint16_t version, wf;
	uint64_t epoch;
	uint8_t st, got;
	uint32_t index;

	codec_reader_init(&r, msg, len);
	if (codec_read_u16(&r, &version) != EPOCH_OK ||
	    codec_read_u16(&r, &wf) != EPOCH_OK ||
	    codec_read_vec(&r, &sl, MSG_MAX) != EPOCH_OK ||
	    codec_read_u64(&r, &epoch) != EPOCH_OK)
		return false;
	if (wf == MLS_WIRE_PUBLIC_MESSAGE) {
		if (codec_read_u8(&r, &st) != EPOCH_OK ||
		    ((st == MLS_SENDER_MEMBER || st == MLS_SENDER_EXTERNAL) &&
		     codec_read_u32(&r, &index) != EPOCH_OK) ||
		    codec_read_vec(&r, &sl, MSG_MAX) != EPOCH_OK)
			return false;
	} else if (wf != MLS_WIRE_PRIVATE_MESSAGE) {
		return false;
	}
	return codec_read_u8(&r, &got) == EPOCH_OK && got == ct;
}

/* A copy of the tunnel's group (with or without a staged commit) to try
 * a message on; the saved bytes in between are wiped. */
static int group_copy(const struct tunnel *t, bool with_staged,
		      struct mls_group **copy)
{
	struct codec_writer w;
	int rc;

	*copy = NULL;
	codec_writer_init_dynamic(&w, MSG_MAX);
	rc = mls_group_save_ex(t->g, with_staged, &w);
	if (rc == EPOCH_OK)
		rc = mls_group_load(copy, w.buf, w.len, t->cfg.member.rng);
	codec_writer_free(&w);
	return rc;
}

/* A peer's commit while one of ours is staged (rows 14, 15).
 * mls_group_process refuses it unread then, and discarding ours first
 * would let any message claiming the epoch cancel our rekey; so it is
 * processed on a copy of the group without our commit. On success *copy
 * is that copy with the peer's commit applied; on failure nothing
 * changed. */
static int process_beside_staged(struct tunnel *t, const uint8_t *msg,
				 size_t len, struct mls_group **copy,
				 struct mls_received *r)
{
	uint64_t epoch;
	int rc;

	*copy = NULL;
	if (!peek_epoch(msg, len, &epoch))
		return EPOCH_ERR_MALFORMED;
	if (epoch != mls_group_epoch(t->g))
		return EPOCH_ERR_EPOCH; /* not a competing commit */
	rc = group_copy(t, false, copy); /* without the staged commit */
	if (rc == EPOCH_OK)
		rc = mls_group_process(*copy, msg, len, r);
	if (rc != EPOCH_OK) {
		mls_group_free(*copy);
		*copy = NULL;
	}
	return rc;
}

/* Rows 7, 10, 15 once the commit is applied: new inbound SA, switch the
 * outbound SA to the committer's SPI, acknowledge. */
static int rekeyed(struct tunnel *t, const uint8_t *msg, size_t len,
		   const struct mls_received *r, uint64_t now)
{
	struct codec_writer w;
	uint8_t key[TUNNEL_ESP_KEY_MAX], spi_be[4];
	uint32_t peer_spi, spi = 0;
	int rc;

	if (r->content_type != MLS_CONTENT_COMMIT || r->ad_len != 4) {
		/* Authenticated but not what a COMMIT carries: the epoch may
		 * have moved; the tunnel resynchronises by rekeying. */
		return EPOCH_ERR_PROPOSAL;
	}
	peer_spi = get32(r->authenticated_data);
	codec_writer_init_dynamic(&w, MSG_MAX);
	GUARD_GOTO(rc, t->ops.alloc_spi(t->ops.ctx, &spi), out);
	GUARD_GOTO(rc, esp_key(t, t->g, false, in_dir_i2r(t), spi, key), out);
	GUARD_GOTO(rc, t->ops.sa_in_add(t->ops.ctx, spi, key,
					t->cfg.esp_key_len), out);
	GUARD_GOTO(rc, esp_key(t, t->g, false, !in_dir_i2r(t), peer_spi, key),
		   out);
	GUARD_GOTO(rc, t->ops.out_switch(t->ops.ctx, peer_spi, key,
					 t->cfg.esp_key_len, t->spi_out),
		   out);
	GUARD_GOTO(rc, retire_in(t, t->spi_in, now), out);
	t->spi_in = spi;
	t->spi_out = peer_spi;
	put32(spi_be, spi);
	GUARD_GOTO(rc, seal(t, t->g, spi_be, sizeof(spi_be), &w), out);
	t->state = TUNNEL_ESTABLISHED;
	t->rekeys++;
	t->have_applied = crypto_hash(CRYPTO_SHA256, msg, len, t->applied) ==
			  EPOCH_OK;
	save_now(t); /* the new epoch, before the peer hears of it */
	GUARD_GOTO(rc, respond(t, TUNNEL_MSG_EPOCH_ACK, &w, msg, len), out);
out:
	crypto_wipe(key, sizeof(key));
	codec_writer_free(&w);
	return rc;
}

/* EPOCH_ACK{spi} in the current epoch, the answer to request msg (kept
 * for its duplicates). */
static int ack_with_spi(struct tunnel *t, uint32_t spi, const uint8_t *msg,
			size_t len)
{
	struct codec_writer w;
	uint8_t spi_be[4];
	int rc;

	put32(spi_be, spi);
	codec_writer_init_dynamic(&w, MSG_MAX);
	rc = seal(t, t->g, spi_be, sizeof(spi_be), &w);
	if (rc == EPOCH_OK)
		rc = respond(t, TUNNEL_MSG_EPOCH_ACK, &w, msg, len);
	codec_writer_free(&w);
	return rc;
}

/* Row 22: the pending session's first COMMIT authenticated, so the peer
 * holds that KeyPackage's private keys: it restarted and lost every SA
 * of the current session (epochd flushes its reqid range on start), and
 * its old instance, which could not have made this commit, is gone. The
 * pending session becomes the current one; the old group is wiped and
 * the old inbound SAs are deleted at once rather than after a grace
 * period: nobody sends on them any more. */
static int switch_session(struct tunnel *t, const uint8_t *msg, size_t len,
			  const struct mls_received *r)
{
	uint8_t key[TUNNEL_ESP_KEY_MAX];
	uint32_t peer_spi, spi;
	int rc;

	if (r->content_type != MLS_CONTENT_COMMIT || r->ad_len != 4)
		return EPOCH_ERR_PROPOSAL;
	peer_spi = get32(r->authenticated_data);
	GUARD(t->ops.alloc_spi(t->ops.ctx, &spi));
	rc = esp_key(t, t->pend, false, in_dir_i2r(t), spi, key);
	if (rc == EPOCH_OK)
		rc = t->ops.sa_in_add(t->ops.ctx, spi, key, t->cfg.esp_key_len);
	if (rc == EPOCH_OK) {
		rc = esp_key(t, t->pend, false, !in_dir_i2r(t), peer_spi, key);
		if (rc == EPOCH_OK)
			rc = t->ops.out_switch(t->ops.ctx, peer_spi, key,
					       t->cfg.esp_key_len, t->spi_out);
		if (rc != EPOCH_OK)
			t->ops.sa_in_del(t->ops.ctx, spi);
	}
	crypto_wipe(key, sizeof(key));
	GUARD(rc);
	row(t, 221);
	/* From here on the new session is the current one. */
	delete_inbound(t);
	t->spi_in = spi;
	t->spi_out = peer_spi;
	t->spi_staged = 0;
	mls_group_free(t->g);
	t->g = t->pend;
	t->pend = NULL;
	pending_clear(t);
	request_clear(t);
	answer_clear(t);
	t->session++; /* before the EPOCH_ACK goes out */
	t->state = TUNNEL_ESTABLISHED;
	t->rekeys++;
	return ack_with_spi(t, spi, msg, len);
}

static void tear_down(struct tunnel *t);
static void schedule_restart(struct tunnel *t, uint64_t now);

/* The group has moved to the new epoch but the kernel refused one of its
 * SAs (rows 10, 12, 25): the two sides can no longer agree on SAs, so the
 * tunnel goes down as in row 16 and the initiator starts a new handshake.
 * Nothing else would end it: the peer's retransmissions belong to an epoch
 * we have left. */
static int kernel_refused(struct tunnel *t, int rc, uint64_t now)
{
	row(t, 162);
	tear_down(t);
	schedule_restart(t, now);
	return rc;
}

/* Rows 7, 10, 11, 14, 15, 22: the peer's commit. */
static int on_commit(struct tunnel *t, const uint8_t *msg, size_t len,
		     uint64_t now)
{
	struct mls_group *copy = NULL;
	struct mls_received r;
	int rc;

	if (is_duplicate(t, msg, len)) {
		row(t, 110);
		return resend_answer(t);
	}
	if (!peek_content(msg, len, MLS_CONTENT_COMMIT))
		return EPOCH_ERR_MALFORMED;
	/* The current session first, then the pending one (row 22); a
	 * message that fails both changes nothing. */
	if (!t->g)
		rc = EPOCH_ERR_STATE;
	else if (mls_group_has_staged(t->g))
		rc = process_beside_staged(t, msg, len, &copy, &r);
	else
		rc = mls_group_process(t->g, msg, len, &r);
	if (rc != EPOCH_OK) {
		if (t->pend && mls_group_process(t->pend, msg, len, &r) ==
				       EPOCH_OK)
			return switch_session(t, msg, len, &r);
		return rc;
	}
	if (copy) {
		/* Collision: both committed epoch e; the initiator's commit
		 * wins (kohbrok §4.4). */
		if (t->cfg.initiator) {
			row(t, 140);
			mls_group_free(copy);
			if (!t->collided)
				t->collisions++;
			t->collided = true;
			return EPOCH_ERR_STATE;
		}
		/* Row 15: ours goes with the old group. */
		row(t, 150);
		t->collisions++;
		mls_group_free(t->g);
		t->g = copy;
		if (t->spi_staged &&
		    t->ops.sa_in_del(t->ops.ctx, t->spi_staged) != EPOCH_OK)
			retire_in(t, t->spi_staged, now); /* try again later */
		t->spi_staged = 0;
		request_clear(t);
		t->state = TUNNEL_ESTABLISHED;
	} else {
		row(t, t->state == TUNNEL_WELCOME_SENT ? 70 : 100);
	}
	rc = rekeyed(t, msg, len, &r, now);
	if (rc != EPOCH_OK && r.content_type == MLS_CONTENT_COMMIT &&
	    r.ad_len == 4)
		return kernel_refused(t, rc, now);
	return rc;
}

/* Rows 8, 12: the peer acknowledged our staged commit. */
static int on_ack(struct tunnel *t, const uint8_t *msg, size_t len,
		  uint64_t now)
{
	struct mls_received r;
	uint8_t key[TUNNEL_ESP_KEY_MAX];
	uint32_t peer_spi;
	int rc;

	if (t->state != TUNNEL_JOIN_COMMIT_SENT &&
	    t->state != TUNNEL_REKEY_SENT)
		return EPOCH_ERR_STATE;
	if (!peek_content(msg, len, MLS_CONTENT_APPLICATION))
		return EPOCH_ERR_MALFORMED;
	/* Authenticated with the staged epoch's keys; applies the commit. */
	GUARD(mls_group_process(t->g, msg, len, &r));
	if (mls_group_has_staged(t->g))
		return EPOCH_ERR_EPOCH; /* an old epoch's message */
	if (r.content_type != MLS_CONTENT_APPLICATION || r.app_len != 4)
		return EPOCH_ERR_MALFORMED;
	peer_spi = get32(r.application_data);
	row(t, t->state == TUNNEL_JOIN_COMMIT_SENT ? 80 : 120);
	rc = esp_key(t, t->g, false, !in_dir_i2r(t), peer_spi, key);
	if (rc == EPOCH_OK)
		rc = t->ops.out_switch(t->ops.ctx, peer_spi, key,
				       t->cfg.esp_key_len, t->spi_out);
	crypto_wipe(key, sizeof(key));
	if (rc != EPOCH_OK)
		return kernel_refused(t, rc, now);
	GUARD(retire_in(t, t->spi_in, now));
	t->spi_in = t->spi_staged;
	t->spi_staged = 0;
	t->spi_out = peer_spi;
	request_clear(t);
	t->state = TUNNEL_ESTABLISHED;
	t->rekeys++;
	t->backoff = 0; /* a session is established: restarts start over */
	return EPOCH_OK;
}

/* Row 19's messages: a KEEPALIVE request is answered in the current
 * epoch; a response ends our outstanding KEEPALIVE. */
static int on_keepalive(struct tunnel *t, bool response, const uint8_t *msg,
			size_t len)
{
	struct mls_received r;
	struct codec_writer w;
	int rc;

	if (!response && is_duplicate(t, msg, len)) {
		row(t, 193);
		return resend_answer(t);
	}
	if (!t->g || (t->state != TUNNEL_ESTABLISHED &&
		      t->state != TUNNEL_REKEY_SENT))
		return EPOCH_ERR_STATE;
	if (!peek_content(msg, len, MLS_CONTENT_APPLICATION))
		return EPOCH_ERR_MALFORMED;
	/* While our commit waits for its EPOCH_ACK, a KEEPALIVE of the
	 * staged epoch (the peer applied the commit, its ACK was lost) must
	 * not apply the commit behind the tunnel's back: only the ACK
	 * carries the peer's new SPI. It is dropped; our COMMIT's next
	 * retransmission fetches the cached ACK. */
	if (t->state == TUNNEL_REKEY_SENT) {
		uint64_t e;

		if (!peek_epoch(msg, len, &e) || e != mls_group_epoch(t->g)) {
			row(t, 161);
			return EPOCH_ERR_EPOCH;
		}
	}
	GUARD(mls_group_process(t->g, msg, len, &r));
	if (r.content_type != MLS_CONTENT_APPLICATION || r.app_len != 0)
		return EPOCH_ERR_MALFORMED;
	row(t, 193);
	if (response) {
		if (t->req && t->req_type == TUNNEL_MSG_KEEPALIVE)
			request_clear(t);
		return EPOCH_OK;
	}
	codec_writer_init_dynamic(&w, MSG_MAX);
	rc = seal(t, t->g, NULL, 0, &w);
	if (rc == EPOCH_OK)
		rc = respond(t, TUNNEL_MSG_KEEPALIVE, &w, msg, len);
	codec_writer_free(&w);
	return rc;
}

static void tear_down(struct tunnel *t);

/* Row 20, the peer's side. A CLOSE that authenticates in the pending
 * session (row 22: the restarted initiator went down before its first
 * COMMIT arrived) comes from the peer's new instance, so the current
 * session has no peer either: everything goes. */
static int on_close(struct tunnel *t, bool response, const uint8_t *msg,
		    size_t len, uint64_t now)
{
	struct mls_group *g = t->g;
	struct mls_received r;
	struct codec_writer w;
	uint64_t e;
	int rc;

	if (response) {
		row(t, 202);
		return EPOCH_OK; /* we tore down when we sent the request */
	}
	if (!peek_content(msg, len, MLS_CONTENT_APPLICATION))
		return EPOCH_ERR_MALFORMED;
	/* While our commit is staged, a message of the staged epoch would
	 * apply it before its reason is checked (and may be our EPOCH_ACK
	 * under another type): as for KEEPALIVE, only the current epoch.
	 * A peer that applied our commit and then closed is found gone when
	 * the commit's retransmissions go unanswered (row 16). */
	if (g && mls_group_has_staged(g) &&
	    (!peek_epoch(msg, len, &e) || e != mls_group_epoch(g))) {
		row(t, 161);
		rc = EPOCH_ERR_EPOCH;
	} else
		rc = g ? mls_group_process(g, msg, len, &r) : EPOCH_ERR_STATE;
	if (rc != EPOCH_OK && t->pend &&
	    mls_group_process(t->pend, msg, len, &r) == EPOCH_OK) {
		g = t->pend;
		rc = EPOCH_OK;
	}
	GUARD(rc);
	if (r.content_type != MLS_CONTENT_APPLICATION || r.app_len != 2)
		return EPOCH_ERR_MALFORMED;
	/* Answered before the group goes; best effort, never repeated. */
	row(t, 201);
	codec_writer_init_dynamic(&w, MSG_MAX);
	if (seal(t, g, NULL, 0, &w) == EPOCH_OK)
		tsend(t, TUNNEL_MSG_CLOSE, true, w.buf, w.len);
	codec_writer_free(&w);
	tear_down(t);
	schedule_restart(t, now); /* the initiator; the responder waits */
	return EPOCH_OK;
}

/* A RESUME we answer again (rows 11 and 26): the peer restarted before
 * our EPOCH_ACK reached it and sends on its old outbound SA until the
 * answer does, so our old inbound SAs get a new grace period, once each
 * (a replayed RESUME cannot keep old keys alive). Found by the spin model
 * (tests/model, -DBAD_NO_REARM): without it a restart late in the
 * peer's grace period lost the traffic in between. */
static void rearm_grace(struct tunnel *t, uint64_t now)
{
	for (size_t i = 0; i < t->n_old; i++) {
		if (t->old[i].rearmed)
			continue;
		t->old[i].rearmed = true;
		if (t->old[i].delete_at < now + t->cfg.grace_ms)
			t->old[i].delete_at = now + t->cfg.grace_ms;
	}
}

/* Row 26: the peer restarted after we applied its commit and before our
 * EPOCH_ACK reached it (our epoch is its commit's): the ACK of our
 * current epoch again. The commit itself is of an epoch we no longer have
 * and cannot be checked; the answer tells nothing new (our current
 * inbound SPI, encrypted in the current epoch), and it authenticates at
 * the peer only if its staged commit is the one we applied. */
static int resume_ack_again(struct tunnel *t, const uint8_t *msg, size_t len,
			    uint64_t now)
{
	uint8_t h[32];

	/* Nothing here authenticates the message (the group has moved
	 * past its epoch): only the commit we applied, byte for byte, gets
	 * the EPOCH_ACK again, not anything claiming its epoch. */
	GUARD(crypto_hash(CRYPTO_SHA256, msg, len, h));
	if (!t->have_applied || memcmp(h, t->applied, sizeof(h)) != 0)
		return EPOCH_ERR_EPOCH;
	row(t, 260);
	rearm_grace(t, now);
	return ack_with_spi(t, t->spi_in, msg, len);
}

/* Row 25 (+2): our staged commit, then the peer's, on a copy of the group
 * so that a message of the staged epoch that is not a commit leaves the
 * tunnel as it was. */
static int resume_plus_two(struct tunnel *t, const uint8_t *msg, size_t len,
			   uint64_t now)
{
	struct mls_group *copy = NULL;
	struct mls_received r;
	int rc;

	rc = group_copy(t, true, &copy);
	if (rc == EPOCH_OK)
		rc = mls_group_process(copy, msg, len, &r);
	if (rc == EPOCH_OK && (r.content_type != MLS_CONTENT_COMMIT ||
			       mls_group_has_staged(copy)))
		rc = EPOCH_ERR_PROPOSAL;
	if (rc != EPOCH_OK) {
		mls_group_free(copy);
		return rc;
	}
	row(t, 250);
	mls_group_free(t->g);
	t->g = copy;
	/* The peer may be sending on our staged SA already (it applied our
	 * commit): it is retired like the current one. */
	GUARD(retire_in(t, t->spi_staged, now));
	t->spi_staged = 0;
	request_clear(t);
	t->state = TUNNEL_ESTABLISHED;
	rc = rekeyed(t, msg, len, &r, now);
	return rc == EPOCH_OK ? rc : kernel_refused(t, rc, now);
}

/* Rows 24-26: a RESUME (the peer restarted). */
static int on_resume(struct tunnel *t, const uint8_t *msg, size_t len,
		     uint64_t now)
{
	uint64_t m, c;

	if (is_duplicate(t, msg, len)) {
		row(t, 110);
		rearm_grace(t, now);
		return resend_answer(t);
	}
	if (!t->g || (t->state != TUNNEL_ESTABLISHED &&
		      t->state != TUNNEL_REKEY_SENT))
		return EPOCH_ERR_STATE;
	if (!peek_epoch(msg, len, &m))
		return EPOCH_ERR_MALFORMED;
	c = mls_group_epoch(t->g);
	if (m == c)
		return on_commit(t, msg, len, now);
	if (m + 1 == c)
		return resume_ack_again(t, msg, len, now);
	if (m == c + 1 && t->state == TUNNEL_REKEY_SENT &&
	    mls_group_has_staged(t->g))
		return resume_plus_two(t, msg, len, now);
	return EPOCH_ERR_EPOCH;
}

int tunnel_receive(struct tunnel *t, enum tunnel_msg type, bool response,
		   const uint8_t *msg, size_t len, uint64_t now)
{
	bool want_response;
	int rc;

	if (!t || !msg)
		return EPOCH_ERR_INVALID_ARG;
	call_begin(t, type == TUNNEL_MSG_HELLO ? E_HELLO :
		      type == TUNNEL_MSG_WELCOME ? E_WELCOME :
		      type == TUNNEL_MSG_COMMIT ? E_COMMIT :
		      type == TUNNEL_MSG_EPOCH_ACK ? E_ACK :
		      type == TUNNEL_MSG_RESUME ? E_RESUME :
		      type == TUNNEL_MSG_KEEPALIVE ? E_KEEPALIVE : E_CLOSE);
	want_response = type == TUNNEL_MSG_WELCOME ||
			type == TUNNEL_MSG_EPOCH_ACK;
	if (type != TUNNEL_MSG_KEEPALIVE && type != TUNNEL_MSG_CLOSE &&
	    response != want_response)
		return call_end(t, EPOCH_ERR_MALFORMED);
	switch (type) {
	case TUNNEL_MSG_HELLO:
		rc = on_hello(t, msg, len, now);
		break;
	case TUNNEL_MSG_WELCOME:
		rc = on_welcome(t, msg, len, now);
		break;
	case TUNNEL_MSG_COMMIT:
		rc = on_commit(t, msg, len, now);
		break;
	case TUNNEL_MSG_EPOCH_ACK:
		rc = on_ack(t, msg, len, now);
		break;
	case TUNNEL_MSG_RESUME:
		rc = on_resume(t, msg, len, now);
		break;
	case TUNNEL_MSG_KEEPALIVE:
		rc = on_keepalive(t, response, msg, len);
		break;
	case TUNNEL_MSG_CLOSE:
		return call_end(t, on_close(t, response, msg, len, now));
	default:
		return call_end(t, EPOCH_ERR_MALFORMED);
	}
	/* Only what authenticated counts as a sign of life; a HELLO may be
	 * a replay. */
	if (rc == EPOCH_OK && type != TUNNEL_MSG_HELLO)
		t->last_alive = now;
	return call_end(t, rc);
}

void tunnel_traffic(struct tunnel *t, uint64_t now)
{
	if (t && now > t->last_alive)
		t->last_alive = now;
}

/* Every SA of the tunnel deleted and the group wiped (rows 19, 20). */
static void tear_down(struct tunnel *t)
{
	delete_inbound(t);
	if (t->spi_out)
		t->ops.sa_out_del(t->ops.ctx, t->spi_out);
	t->spi_in = t->spi_staged = t->spi_out = 0;
	request_clear(t);
	mls_group_free(t->g);
	t->g = NULL;
	mls_kp_secret_free(t->kp);
	t->kp = NULL;
	pending_clear(t);
	answer_clear(t);
	t->state = TUNNEL_DOWN;
}

int tunnel_down(struct tunnel *t)
{
	static const uint8_t reason[2] = { TUNNEL_CLOSE_ADMIN >> 8,
					   TUNNEL_CLOSE_ADMIN & 0xff };
	struct codec_writer w;

	if (!t)
		return EPOCH_ERR_INVALID_ARG;
	call_begin(t, E_DOWN);
	row(t, 200);
	if (t->g) {
		/* Row 20: CLOSE once, in the current epoch; best effort. */
		codec_writer_init_dynamic(&w, MSG_MAX);
		if (seal(t, t->g, reason, sizeof(reason), &w) == EPOCH_OK)
			tsend(t, TUNNEL_MSG_CLOSE, false, w.buf, w.len);
		codec_writer_free(&w);
	}
	tear_down(t);
	t->restart_at = UINT64_MAX;
	t->backoff = 0;
	return call_end(t, EPOCH_OK);
}

/* Row 19: nothing heard for dpd_ms: ask. */
static int keepalive_send(struct tunnel *t, uint64_t now)
{
	struct codec_writer w;
	int rc;

	row(t, 190);
	codec_writer_init_dynamic(&w, MSG_MAX);
	rc = seal(t, t->g, NULL, 0, &w);
	if (rc == EPOCH_OK)
		rc = request_send(t, TUNNEL_MSG_KEEPALIVE, w.buf, w.len,
				  now);
	codec_writer_free(&w);
	return rc;
}

/* Row 18. */
static int expired(struct tunnel *t, uint32_t spi, bool hard, uint64_t now)
{
	for (size_t i = 0; i < t->n_old; i++) {
		if (t->old[i].spi != spi)
			continue;
		row(t, 181);
		if (hard) {
			/* Gone already: the grace timer must not delete it. */
			t->old[i] = t->old[--t->n_old];
		}
		return EPOCH_OK;
	}
	if (spi != t->spi_in && spi != t->spi_out && spi != t->spi_staged)
		return EPOCH_ERR_INVALID_ARG;
	if (hard && spi == t->spi_out)
		t->spi_out = 0; /* nothing left to delete at the switch */
	if (hard && spi == t->spi_in)
		t->spi_in = 0;
	if (hard && spi == t->spi_staged)
		t->spi_staged = 0;
	if (t->state != TUNNEL_ESTABLISHED) {
		row(t, 181);
		return EPOCH_OK; /* a handshake or rekey is under way */
	}
	row(t, 180);
	return commit_with_spi(t, TUNNEL_MSG_COMMIT, true, now);
}

int tunnel_expired(struct tunnel *t, uint32_t spi, bool hard, uint64_t now)
{
	if (!t || !spi)
		return EPOCH_ERR_INVALID_ARG;
	call_begin(t, E_EXPIRE);
	return call_end(t, expired(t, spi, hard, now));
}

/* Rows 2, 3, 13, 16, 17. */
static int timer(struct tunnel *t, uint64_t now)
{
	size_t k = 0;

	for (size_t i = 0; i < t->n_old; i++) {
		if (t->old[i].delete_at <= now) {
			row(t, 170);
			GUARD(t->ops.sa_in_del(t->ops.ctx, t->old[i].spi));
		} else
			t->old[k++] = t->old[i];
	}
	t->n_old = k;
	if (t->state == TUNNEL_DOWN && now >= t->restart_at) {
		int rc;

		t->restart_at = UINT64_MAX;
		rc = start(t, now);
		if (rc != EPOCH_OK && t->state == TUNNEL_DOWN)
			schedule_restart(t, now);
		return rc;
	}
	if (t->state == TUNNEL_ESTABLISHED && !t->req && t->cfg.dpd_ms &&
	    now >= t->last_alive + t->cfg.dpd_ms)
		return keepalive_send(t, now);
	if (!t->req || now < t->retx_at)
		return EPOCH_OK;
	if (t->cfg.retransmit_cap_ms ? now < t->give_up_at :
				       t->tries < t->cfg.max_tries) {
		row(t, t->req_type == TUNNEL_MSG_HELLO ? 20 :
		       t->req_type == TUNNEL_MSG_KEEPALIVE ? 191 : 130);
		t->tries++;
		t->retransmissions++;
		t->retx_ms *= 2;
		if (t->cfg.retransmit_cap_ms &&
		    t->retx_ms > t->cfg.retransmit_cap_ms)
			t->retx_ms = t->cfg.retransmit_cap_ms;
		t->retx_at = now + t->retx_ms;
		if (t->cfg.retransmit_cap_ms && t->retx_at > t->give_up_at)
			t->retx_at = t->give_up_at;
		return tsend(t, t->req_type, false, t->req,
				   t->req_len);
	}
	/* Given up. */
	if (t->req_type == TUNNEL_MSG_KEEPALIVE) {
		/* Row 19: the peer is gone. The policies stay (traffic is
		 * dropped, never sent in clear); the initiator tries again. */
		row(t, 192);
		tear_down(t);
		schedule_restart(t, now);
		return EPOCH_ERR_STATE;
	}
	if (t->state == TUNNEL_REKEY_SENT) {
		/* Row 16: our COMMIT went unanswered for the whole schedule.
		 * The peer may have applied it (only its ACKs were lost), so
		 * neither epoch is safe to keep: as for a dead peer (row 19),
		 * everything is deleted and the initiator starts again. */
		row(t, 160);
		tear_down(t);
		schedule_restart(t, now);
		return EPOCH_ERR_STATE;
	}
	row(t, 30);
	request_clear(t);
	if (t->state != TUNNEL_ESTABLISHED) {
		if (t->spi_staged)
			t->ops.sa_in_del(t->ops.ctx, t->spi_staged);
		t->spi_staged = 0;
		mls_group_free(t->g);
		t->g = NULL;
		t->state = TUNNEL_DOWN;
		/* Rows 1, 3: the initiator tries again after a pause. */
		schedule_restart(t, now);
	}
	return EPOCH_ERR_STATE;
}

int tunnel_timer(struct tunnel *t, uint64_t now)
{
	if (!t)
		return EPOCH_ERR_INVALID_ARG;
	call_begin(t, E_TIMER);
	return call_end(t, timer(t, now));
}

uint64_t tunnel_next_timer(const struct tunnel *t)
{
	uint64_t next = t->req ? t->retx_at : UINT64_MAX;

	if (t->state == TUNNEL_DOWN && t->restart_at < next)
		next = t->restart_at;
	if (t->state == TUNNEL_ESTABLISHED && !t->req && t->cfg.dpd_ms &&
	    t->last_alive + t->cfg.dpd_ms < next)
		next = t->last_alive + t->cfg.dpd_ms;

	for (size_t i = 0; i < t->n_old; i++)
		if (t->old[i].delete_at < next)
			next = t->old[i].delete_at;
	return next;
}

enum tunnel_state tunnel_state(const struct tunnel *t)
{
	return t->state;
}

uint64_t tunnel_epoch(const struct tunnel *t)
{
	return t->g ? mls_group_epoch(t->g) : 0;
}

uint32_t tunnel_spi_in(const struct tunnel *t)
{
	return t->spi_in;
}

uint32_t tunnel_spi_out(const struct tunnel *t)
{
	return t->spi_out;
}

unsigned tunnel_retransmissions(const struct tunnel *t)
{
	return t->retransmissions;
}

unsigned tunnel_rekeys(const struct tunnel *t)
{
	return t->rekeys;
}

unsigned tunnel_collisions(const struct tunnel *t)
{
	return t->collisions;
}

uint64_t tunnel_session(const struct tunnel *t)
{
	return t->session;
}

bool tunnel_pending(const struct tunnel *t)
{
	return t->pend != NULL;
}

int tunnel_export(const struct tunnel *t, const char *label, uint8_t *out,
		  size_t len)
{
	if (!t->g)
		return EPOCH_ERR_STATE;
	return mls_group_export(t->g, false, (const uint8_t *)label,
				strlen(label), NULL, 0, out, len);
}

/* ---- restarts --------------------------------------------------------------- */

static const uint8_t save_magic[5] = { 'E', 'P', 'T', 'S', 2 };

int tunnel_save(const struct tunnel *t, struct codec_writer *w)
{
	bool staged;
	size_t mark;
	int rc;

	if (!t || !w)
		return EPOCH_ERR_INVALID_ARG;
	if (!t->g || (t->state != TUNNEL_ESTABLISHED &&
		      t->state != TUNNEL_REKEY_SENT))
		return EPOCH_ERR_STATE;
	staged = t->state == TUNNEL_REKEY_SENT;
	if (staged && (!t->req || !mls_group_has_staged(t->g) ||
		       (t->req_type != TUNNEL_MSG_COMMIT &&
			t->req_type != TUNNEL_MSG_RESUME)))
		return EPOCH_ERR_STATE;
	codec_write_bytes(w, save_magic, sizeof(save_magic));
	codec_write_u8(w, t->cfg.initiator);
	codec_write_u8(w, staged);
	codec_write_u32(w, t->spi_in);
	codec_write_u32(w, t->spi_out);
	codec_write_u32(w, staged ? t->spi_staged : 0);
	codec_write_u8(w, (uint8_t)t->n_old);
	for (size_t i = 0; i < t->n_old; i++)
		codec_write_u32(w, t->old[i].spi);
	/* The group as a vector: its length is patched in afterwards. */
	mark = w->len;
	codec_write_u32(w, 0);
	rc = mls_group_save_ex(t->g, staged, w);
	if (rc != EPOCH_OK)
		return rc;
	if (codec_writer_error(w) == EPOCH_OK)
		put32(w->buf + mark, (uint32_t)(w->len - mark - 4));
	codec_write_vec(w, staged ? t->req : NULL, staged ? t->req_len : 0);
	/* Row 26 after our own restart: the peer's commit we applied. */
	codec_write_u8(w, t->have_applied);
	if (t->have_applied)
		codec_write_bytes(w, t->applied, sizeof(t->applied));
	return codec_writer_error(w);
}

static int load_checked(struct tunnel *t, struct codec_reader *r,
			struct mls_group **g, uint64_t now)
{
	uint8_t magic[sizeof(save_magic)], init, staged, n_old, have_applied;
	uint8_t applied[32] = { 0 };
	uint32_t spi_in, spi_out, spi_staged, old[MAX_OLD_IN], glen;
	const uint8_t *gc, *peer;
	size_t gc_len, peer_len, id_len;
	const uint8_t *id;
	struct codec_slice req, gs;

	GUARD(codec_read_bytes(r, magic, sizeof(magic)));
	if (memcmp(magic, save_magic, sizeof(magic)) != 0)
		return EPOCH_ERR_MALFORMED;
	GUARD(codec_read_u8(r, &init));
	GUARD(codec_read_u8(r, &staged));
	GUARD(codec_read_u32(r, &spi_in));
	GUARD(codec_read_u32(r, &spi_out));
	GUARD(codec_read_u32(r, &spi_staged));
	GUARD(codec_read_u8(r, &n_old));
	if (init > 1 || staged > 1 || n_old > MAX_OLD_IN || !spi_in ||
	    !spi_out || !spi_staged != !staged)
		return EPOCH_ERR_MALFORMED;
	for (size_t i = 0; i < n_old; i++)
		GUARD(codec_read_u32(r, &old[i]));
	GUARD(codec_read_u32(r, &glen));
	GUARD(codec_read_fixed(r, &gs, glen));
	if (mls_group_load(g, gs.p, gs.len, t->cfg.member.rng) != EPOCH_OK)
		return EPOCH_ERR_MALFORMED;
	GUARD(codec_read_vec(r, &req, MSG_MAX));
	GUARD(codec_read_u8(r, &have_applied));
	if (have_applied > 1)
		return EPOCH_ERR_MALFORMED;
	if (have_applied)
		GUARD(codec_read_bytes(r, applied, sizeof(applied)));
	GUARD(codec_reader_done(r));
	if (mls_group_has_staged(*g) != staged || !req.len != !staged)
		return EPOCH_ERR_MALFORMED;
	/* Stale: saved under another configuration. */
	gc = mls_group_context_extensions(*g, &gc_len);
	if ((bool)init != t->cfg.initiator ||
	    mls_group_suite(*g) != t->cfg.member.suite ||
	    mls_group_peer(*g, &id, &id_len, &peer, &peer_len) != EPOCH_OK ||
	    peer_len != 32 || !crypto_ct_equal(peer, t->cfg.peer_key, 32) ||
	    gc_len != t->cfg.params_len ||
	    (gc_len && memcmp(gc, t->cfg.params, gc_len)))
		return EPOCH_ERR_CREDENTIAL;
	if (staged)
		GUARD(keep_copy(req.p, req.len, &t->req, &t->req_len));
	t->spi_in = spi_in;
	t->spi_out = spi_out;
	t->spi_staged = spi_staged;
	/* Old inbound SAs get a whole grace period again. */
	for (size_t i = 0; i < n_old; i++) {
		t->old[i].spi = old[i];
		t->old[i].delete_at = now + t->cfg.grace_ms;
	}
	t->n_old = n_old;
	t->have_applied = have_applied;
	memcpy(t->applied, applied, sizeof(applied));
	t->state = staged ? TUNNEL_REKEY_SENT : TUNNEL_ESTABLISHED;
	return EPOCH_OK;
}

int tunnel_load(struct tunnel *t, const uint8_t *buf, size_t len,
		uint64_t now)
{
	struct mls_group *g = NULL;
	struct codec_reader r;
	int rc;

	if (!t || !buf)
		return EPOCH_ERR_INVALID_ARG;
	if (t->state != TUNNEL_DOWN || t->g)
		return EPOCH_ERR_STATE;
	call_begin(t, E_LOAD);
	row(t, 230);
	codec_reader_init(&r, buf, len);
	rc = load_checked(t, &r, &g, now);
	if (rc != EPOCH_OK) {
		t->n_rows = 0;
		mls_group_free(g);
		free(t->req);
		t->req = NULL;
		t->req_len = 0;
		t->spi_in = t->spi_out = t->spi_staged = 0;
		t->n_old = 0;
		t->state = TUNNEL_DOWN;
		/* Short or damaged bytes are all one thing here. */
		return call_end(t, rc == EPOCH_ERR_CREDENTIAL ||
					   rc == EPOCH_ERR_NOMEM ?
				   rc : EPOCH_ERR_MALFORMED);
	}
	t->g = g;
	t->req_type = TUNNEL_MSG_RESUME;
	t->retx_at = UINT64_MAX;
	t->last_alive = now;
	t->session++;
	return call_end(t, EPOCH_OK);
}

/* Row 23. */
static int resume(struct tunnel *t, uint64_t now)
{
	uint8_t *req;
	size_t len;
	int rc;

	if (t->state == TUNNEL_ESTABLISHED && !t->req) {
		row(t, 232);
		return commit_with_spi(t, TUNNEL_MSG_RESUME, true, now);
	}
	if (t->state != TUNNEL_REKEY_SENT || !t->req ||
	    t->req_type != TUNNEL_MSG_RESUME || t->tries)
		return EPOCH_ERR_STATE;
	row(t, 233);
	/* The saved commit again, as a RESUME. */
	req = t->req;
	len = t->req_len;
	t->req = NULL;
	t->req_len = 0;
	rc = request_send_ex(t, TUNNEL_MSG_RESUME, req, len, now, true);
	free(req);
	return rc;
}

int tunnel_resume(struct tunnel *t, uint64_t now)
{
	if (!t)
		return EPOCH_ERR_INVALID_ARG;
	call_begin(t, E_RESUMECMD);
	return call_end(t, resume(t, now));
}

uint32_t tunnel_spi_staged(const struct tunnel *t)
{
	return t->state == TUNNEL_REKEY_SENT ? t->spi_staged : 0;
}

size_t tunnel_old_spis(const struct tunnel *t, uint32_t *spis, size_t cap)
{
	size_t n = t->n_old < cap ? t->n_old : cap;

	for (size_t i = 0; i < n; i++)
		spis[i] = t->old[i].spi;
	return n;
}

int tunnel_sa_key(const struct tunnel *t, uint32_t spi, bool *in,
		  uint8_t *key, size_t *len)
{
	bool staged = false, i2r;

	if (!t || !t->g || !spi || !in || !key || !len)
		return EPOCH_ERR_INVALID_ARG;
	if (spi == t->spi_in) {
		*in = true;
	} else if (spi == t->spi_out) {
		*in = false;
	} else if (t->state == TUNNEL_REKEY_SENT && spi == t->spi_staged) {
		*in = true;
		staged = true;
	} else {
		return EPOCH_ERR_INVALID_ARG;
	}
	i2r = *in ? in_dir_i2r(t) : !in_dir_i2r(t);
	*len = t->cfg.esp_key_len;
	return esp_key(t, t->g, staged, i2r, spi, key);
}

unsigned tunnel_messages_sealed(const struct tunnel *t)
{
	return t->sealed;
}

struct mls_group *tunnel_group_int(const struct tunnel *t)
{
	return t ? t->g : NULL;
}
