/* Fuzz target for the tunnel state file a restarted epochd reads
 * (daemon/statefile.h, tunnel_load of daemon/tunnel.h; DESIGN.md §5).
 *
 * On the first call it runs, from a fixed pseudo-random stream, a real
 * tunnel pair (suite 1) through the handshake and a rekey, saving the
 * initiator's file while it is ESTABLISHED and while its commit is staged
 * (REKEY_SENT): those are the seeds (FUZZ_SEEDS_OUT=dir writes them).
 * Every input is then decoded as a state file and loaded into a fresh
 * tunnel with the initiator's configuration.
 *
 * Invariants: a refused file leaves the tunnel DOWN with no SPI and an
 * error code of the documented set; an accepted one leaves it ESTABLISHED
 * or REKEY_SENT with non-zero SPIs, saves back to exactly the tunnel part
 * of the input, and tunnel_resume then works (sends RESUME).
 */
#include <string.h>

#include "daemon/statefile.h"
#include "daemon/tunnel.h"
#include "proto/codec.h"
#include "proto/mls.h"
#include "tests/fuzz/fuzz.h"


static struct fuzz_stream stream;
static const struct crypto_rng rng = { fuzz_stream_fill, &stream };
static const uint8_t params[] = { 0xf0, 0xe0, 0x02, 0x01, 0x02 };

/* The world of a fuzzed tunnel: SPIs counted up, SAs accepted, the
 * messages of the pair queued for the other side. */
struct side {
	int id;
	uint32_t next_spi;
	unsigned sent;
	struct msgq *q;
};

struct msgq {
	int to[16];
	enum tunnel_msg type[16];
	bool resp[16];
	uint8_t *p[16];
	size_t len[16];
	size_t n;
};

static int op_send(void *ctx, enum tunnel_msg type, bool response,
		   const uint8_t *msg, size_t len)
{
	struct side *s = ctx;
	struct msgq *q = s->q;

	s->sent++;
	if (!q)
		return EPOCH_OK;
	if (q->n == 16)
		return EPOCH_ERR_NO_SPACE;
	q->p[q->n] = malloc(len ? len : 1);
	if (!q->p[q->n])
		return EPOCH_ERR_NOMEM;
	memcpy(q->p[q->n], msg, len);
	q->len[q->n] = len;
	q->to[q->n] = !s->id;
	q->type[q->n] = type;
	q->resp[q->n] = response;
	q->n++;
	return EPOCH_OK;
}

static int op_alloc_spi(void *ctx, uint32_t *spi)
{
	*spi = ((struct side *)ctx)->next_spi++;
	return EPOCH_OK;
}

static int op_in_add(void *ctx, uint32_t spi, const uint8_t *k, size_t l)
{
	(void)ctx, (void)spi, (void)k, (void)l;
	return EPOCH_OK;
}

static int op_del(void *ctx, uint32_t spi)
{
	(void)ctx, (void)spi;
	return EPOCH_OK;
}

static int op_switch(void *ctx, uint32_t spi, const uint8_t *k, size_t l,
		     uint32_t old)
{
	(void)ctx, (void)spi, (void)k, (void)l, (void)old;
	return EPOCH_OK;
}

static struct {
	int ready;
	uint8_t sk[2][32], pk[2][32];
	struct side side[2];
	struct codec_writer seed[2]; /* established, staged */
} fx;

static void cfg_of(int i, struct tunnel_cfg *c)
{
	static const char *const ident[2] = { "gw1", "gw2" };

	memset(c, 0, sizeof(*c));
	c->initiator = i == 0;
	c->member.suite = 1;
	c->member.identity = (const uint8_t *)ident[i];
	c->member.identity_len = 3;
	c->member.sig_sk = fx.sk[i];
	c->member.sig_pk = fx.pk[i];
	c->member.not_after = UINT64_MAX >> 1;
	c->member.rng = &rng;
	memcpy(c->peer_key, fx.pk[!i], 32);
	c->esp_alg = 2;
	c->esp_key_len = 36;
	c->params = params;
	c->params_len = sizeof(params);
	c->retransmit_ms = 500;
	c->max_tries = 5;
	c->grace_ms = 16000;
	c->restart_ms = 2000;
}

static int new_tunnel(int i, struct side *s, struct tunnel **t)
{
	struct tunnel_cfg c;
	struct tunnel_ops o = { s, op_send, op_alloc_spi, op_in_add,
				op_del, op_switch, op_del, NULL, NULL };

	cfg_of(i, &c);
	return tunnel_new(t, &c, &o);
}

static void pump(struct msgq *q, struct tunnel *t[2])
{
	while (q->n) {
		int rc = tunnel_receive(t[q->to[0]], q->type[0], q->resp[0],
					q->p[0], q->len[0], 1000);
		if (getenv("FUZZ_DEBUG"))
			fprintf(stderr, "deliver type %d to %d: %d\n",
				q->type[0], q->to[0], rc);
		free(q->p[0]);
		memmove(q->to, q->to + 1, (q->n - 1) * sizeof(q->to[0]));
		memmove(q->type, q->type + 1, (q->n - 1) * sizeof(q->type[0]));
		memmove(q->resp, q->resp + 1, (q->n - 1) * sizeof(q->resp[0]));
		memmove(q->p, q->p + 1, (q->n - 1) * sizeof(q->p[0]));
		memmove(q->len, q->len + 1, (q->n - 1) * sizeof(q->len[0]));
		q->n--;
	}
}

static void save_seed(struct tunnel *t, struct codec_writer *w)
{
	struct statefile_hdr h = { 0x45700001u, 0x1122334455667788ull,
				   0x99aabbccddeeff00ull, 2048 };

	codec_writer_init_dynamic(w, STATEFILE_MAX);
	statefile_encode_hdr(&h, w);
	FUZZ_REQUIRE(tunnel_save(t, w) == EPOCH_OK);
}

static void seeds_out(void)
{
	const char *dir = getenv("FUZZ_SEEDS_OUT");
	char path[4096];

	if (!dir || !*dir)
		return;
	for (int i = 0; i < 2; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir,
			 i ? "staged" : "established");
		f = fopen(path, "wb");
		FUZZ_REQUIRE(f != NULL);
		fwrite(fx.seed[i].buf, 1, fx.seed[i].len, f);
		fclose(f);
	}
}

static void setup(void)
{
	struct msgq q = { .n = 0 };
	struct tunnel *t[2] = { NULL, NULL };

	for (int i = 0; i < 2; i++)
		FUZZ_REQUIRE(crypto_ed25519_keygen(&rng, fx.sk[i], fx.pk[i]) ==
			     EPOCH_OK);
	for (int i = 0; i < 2; i++) {
		fx.side[i].id = i;
		fx.side[i].next_spi = 0x1000u * (unsigned)(i + 1);
		fx.side[i].q = &q;
		FUZZ_REQUIRE(new_tunnel(i, &fx.side[i], &t[i]) == EPOCH_OK);
	}
	FUZZ_REQUIRE(tunnel_start(t[0], 1000) == EPOCH_OK);
	pump(&q, t);
	FUZZ_REQUIRE(tunnel_state(t[0]) == TUNNEL_ESTABLISHED);
	FUZZ_REQUIRE(tunnel_rekey(t[1], 1000) == EPOCH_OK);
	pump(&q, t);
	save_seed(t[0], &fx.seed[0]);
	FUZZ_REQUIRE(tunnel_rekey(t[0], 1000) == EPOCH_OK);
	save_seed(t[0], &fx.seed[1]);
	pump(&q, t);
	for (int i = 0; i < 2; i++) {
		tunnel_free(t[i]);
		fx.side[i].q = NULL;
	}
	seeds_out();
	fx.ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct statefile_hdr h;
	struct codec_writer w;
	struct tunnel *t = NULL;
	const uint8_t *tb;
	size_t tl;
	int rc;

	if (!fx.ready)
		setup();
	if (statefile_decode(data, size, &h, &tb, &tl) != EPOCH_OK)
		return 0;
	FUZZ_REQUIRE(tb >= data && tb + tl == data + size && tl > 0);
	FUZZ_REQUIRE(new_tunnel(0, &fx.side[0], &t) == EPOCH_OK);
	rc = tunnel_load(t, tb, tl, 5000);
	if (rc != EPOCH_OK) {
		FUZZ_REQUIRE(rc == EPOCH_ERR_MALFORMED ||
			     rc == EPOCH_ERR_CREDENTIAL ||
			     rc == EPOCH_ERR_NOMEM);
		FUZZ_REQUIRE(tunnel_state(t) == TUNNEL_DOWN);
		FUZZ_REQUIRE(tunnel_spi_in(t) == 0 && tunnel_spi_out(t) == 0);
		tunnel_free(t);
		return 0;
	}
	FUZZ_REQUIRE(tunnel_state(t) == TUNNEL_ESTABLISHED ||
		     tunnel_state(t) == TUNNEL_REKEY_SENT);
	FUZZ_REQUIRE(tunnel_spi_in(t) && tunnel_spi_out(t));
	FUZZ_REQUIRE((tunnel_state(t) == TUNNEL_REKEY_SENT) ==
		     (tunnel_spi_staged(t) != 0));
	codec_writer_init_dynamic(&w, STATEFILE_MAX);
	FUZZ_REQUIRE(tunnel_save(t, &w) == EPOCH_OK);
	FUZZ_REQUIRE(w.len == tl && memcmp(w.buf, tb, tl) == 0);
	codec_writer_free(&w);
	fx.side[0].sent = 0;
	FUZZ_REQUIRE(tunnel_resume(t, 6000) == EPOCH_OK);
	FUZZ_REQUIRE(fx.side[0].sent == 1);
	FUZZ_REQUIRE(tunnel_state(t) == TUNNEL_REKEY_SENT);
	tunnel_free(t);
	return 0;
}
