/* epoch-bench: throughput figures, one "BENCH <name> <value> <unit>" line
 * each. Every operation runs for a fixed time (BENCH_SECONDS, default 1)
 * after a short warm-up, timed with CLOCK_MONOTONIC. Nothing is asserted;
 * an operation that returns an error stops the program.
 *
 * Usage: epoch-bench [name-prefix...]   (no argument: every figure)
 * To add a figure, write an op function and add a row to ops[].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/codec.h"
#include "proto/crypto.h"
#include "proto/mlkem.h"
#include "proto/mls.h"
#include "proto/xwing.h"
#include "tests/bench/bench_tunnel.h"

static int mls_setup(void);

/* State shared by the ops, prepared once by setup(). */
static struct {
	uint8_t mlkem_ek[MLKEM_EK_LEN], mlkem_dk[MLKEM_DK_LEN],
		mlkem_ct[MLKEM_CT_LEN], mlkem_ss[MLKEM_SS_LEN];
	uint8_t xwing_sk[XWING_SK_LEN], xwing_pk[XWING_PK_LEN],
		xwing_ct[XWING_CT_LEN], xwing_ss[XWING_SS_LEN];
	uint8_t x25519_sk[32], x25519_peer[32], x25519_out[32];
	uint8_t ed_sk[32], ed_pk[32], ed_sig[64], msg[64];
	uint8_t ek_out[MLKEM_EK_LEN], dk_out[MLKEM_DK_LEN], ct_out[MLKEM_CT_LEN];
	uint8_t xsk_out[XWING_SK_LEN], xpk_out[XWING_PK_LEN],
		xct_out[XWING_CT_LEN], ss_out[32];
} st;

static int setup(void)
{
	uint8_t peer_sk[32];

	GUARD(mlkem_keygen(NULL, st.mlkem_ek, st.mlkem_dk));
	GUARD(mlkem_encaps(NULL, st.mlkem_ek, st.mlkem_ct, st.mlkem_ss));
	GUARD(xwing_keygen(NULL, st.xwing_sk, st.xwing_pk));
	GUARD(xwing_encaps(NULL, st.xwing_pk, st.xwing_ct, st.xwing_ss));
	GUARD(crypto_x25519_keygen(NULL, st.x25519_sk, st.x25519_out));
	GUARD(crypto_x25519_keygen(NULL, peer_sk, st.x25519_peer));
	GUARD(crypto_ed25519_keygen(NULL, st.ed_sk, st.ed_pk));
	GUARD(crypto_random(NULL, st.msg, sizeof(st.msg)));
	GUARD(crypto_ed25519_sign(st.ed_sk, st.msg, sizeof(st.msg), st.ed_sig));
	GUARD(tbench_setup());
	return mls_setup();
}

static int op_mlkem_keygen(void)
{
	return mlkem_keygen(NULL, st.ek_out, st.dk_out);
}

static int op_mlkem_encaps(void)
{
	return mlkem_encaps(NULL, st.mlkem_ek, st.ct_out, st.ss_out);
}

static int op_mlkem_decaps(void)
{
	return mlkem_decaps(st.mlkem_dk, st.mlkem_ct, st.ss_out);
}

static int op_xwing_keygen(void)
{
	return xwing_keygen(NULL, st.xsk_out, st.xpk_out);
}

static int op_xwing_encaps(void)
{
	return xwing_encaps(NULL, st.xwing_pk, st.xct_out, st.ss_out);
}

static int op_xwing_decaps(void)
{
	return xwing_decaps(st.xwing_sk, st.xwing_ct, st.ss_out);
}

static int op_x25519_dh(void)
{
	return crypto_x25519(st.x25519_sk, st.x25519_peer, st.ss_out);
}

static int op_ed25519_sign(void)
{
	return crypto_ed25519_sign(st.ed_sk, st.msg, sizeof(st.msg),
				   st.ed_sig);
}

static int op_ed25519_verify(void)
{
	return crypto_ed25519_verify(st.ed_pk, st.msg, sizeof(st.msg),
				     st.ed_sig);
}

/* ---- MLS: two members, as epochd runs them ------------------------------- */

struct mls_pair {
	uint8_t sk[2][32], pk[2][32];
	struct mls_member_config cfg[2];
	struct mls_group *a, *b; /* a created the group, b joined */
	size_t kp_len, welcome_len, commit_len;
};

static struct mls_pair pair_s1, pair_xwing;
static const struct mls_policy bench_policy = { .now = 1800000000u };

static int pair_init(struct mls_pair *p, uint16_t suite)
{
	static const char *const ids[2] = { "gw-a", "gw-b" };

	for (int i = 0; i < 2; i++) {
		GUARD(crypto_ed25519_keygen(NULL, p->sk[i], p->pk[i]));
		p->cfg[i].suite = suite;
		p->cfg[i].identity = (const uint8_t *)ids[i];
		p->cfg[i].identity_len = 4;
		p->cfg[i].sig_sk = p->sk[i];
		p->cfg[i].sig_pk = p->pk[i];
		p->cfg[i].not_before = 0;
		p->cfg[i].not_after = UINT64_MAX >> 1;
	}
	return EPOCH_OK;
}

/* KeyPackage, create, add with path + Welcome, join, the joiner's path
 * commit, process and apply: DESIGN.md §3's handshake. Leaves the pair's
 * groups in place (freeing the previous ones). */
static int mls_handshake(struct mls_pair *p)
{
	struct mls_kp_secret *kp = NULL;
	struct codec_writer cw, ww, jw;
	struct mls_received r;
	const uint8_t *kpb;
	int rc;

	mls_group_free(p->a);
	mls_group_free(p->b);
	p->a = p->b = NULL;
	codec_writer_init_dynamic(&cw, 1 << 20);
	codec_writer_init_dynamic(&ww, 1 << 20);
	codec_writer_init_dynamic(&jw, 1 << 20);
	GUARD_GOTO(rc, mls_kp_create(&kp, &p->cfg[1]), out);
	kpb = mls_kp_bytes(kp, &p->kp_len);
	GUARD_GOTO(rc, mls_group_create(&p->a, &p->cfg[0],
					(const uint8_t *)"bench", 5, NULL, 0),
		   out);
	GUARD_GOTO(rc, mls_group_add(p->a, kpb, p->kp_len, &bench_policy,
				     NULL, &cw, &ww), out);
	GUARD_GOTO(rc, mls_group_apply(p->a), out);
	GUARD_GOTO(rc, mls_group_join(&p->b, &p->cfg[1], kp, ww.buf, ww.len,
				      &bench_policy), out);
	GUARD_GOTO(rc, mls_group_commit(p->b, NULL, &jw), out);
	GUARD_GOTO(rc, mls_group_process(p->a, jw.buf, jw.len, &r), out);
	GUARD_GOTO(rc, mls_group_apply(p->b), out);
	p->welcome_len = ww.len;
	p->commit_len = jw.len;
out:
	mls_kp_secret_free(kp);
	codec_writer_free(&cw);
	codec_writer_free(&ww);
	codec_writer_free(&jw);
	return rc;
}

/* A path commit by one side, processed and applied; sides alternate. */
static int mls_rekey(struct mls_pair *p)
{
	static int turn;
	struct mls_group *c = turn ? p->a : p->b, *q = turn ? p->b : p->a;
	struct codec_writer w;
	struct mls_received r;
	int rc;

	turn ^= 1;
	codec_writer_init_dynamic(&w, 1 << 20);
	GUARD_GOTO(rc, mls_group_commit(c, NULL, &w), out);
	GUARD_GOTO(rc, mls_group_process(q, w.buf, w.len, &r), out);
	rc = mls_group_apply(c);
out:
	codec_writer_free(&w);
	return rc;
}

static int mls_setup(void)
{
	GUARD(pair_init(&pair_s1, MLS_SUITE_X25519_AES128GCM_SHA256_ED25519));
	GUARD(pair_init(&pair_xwing, MLS_SUITE_XWING_AES256GCM_SHA512_ED25519));
	/* The rekey figures need groups; the sizes come from these too. */
	GUARD(mls_handshake(&pair_s1));
	return mls_handshake(&pair_xwing);
}

static int op_mls_handshake_s1(void)
{
	return mls_handshake(&pair_s1);
}

static int op_mls_handshake_xwing(void)
{
	return mls_handshake(&pair_xwing);
}

static int op_mls_rekey_s1(void)
{
	return mls_rekey(&pair_s1);
}

static int op_mls_rekey_xwing(void)
{
	return mls_rekey(&pair_xwing);
}

static const struct bench_op {
	const char *name;
	int (*run)(void);
	const char *unit;
} ops[] = {
	{ "mlkem768_keygen", op_mlkem_keygen, "ops/s" },
	{ "mlkem768_encaps", op_mlkem_encaps, "ops/s" },
	{ "mlkem768_decaps", op_mlkem_decaps, "ops/s" },
	{ "xwing_keygen", op_xwing_keygen, "ops/s" },
	{ "xwing_encaps", op_xwing_encaps, "ops/s" },
	{ "xwing_decaps", op_xwing_decaps, "ops/s" },
	{ "x25519_dh", op_x25519_dh, "ops/s" },
	{ "ed25519_sign", op_ed25519_sign, "ops/s" },
	{ "ed25519_verify", op_ed25519_verify, "ops/s" },
	{ "mls_handshake_s1", op_mls_handshake_s1, "handshakes/s" },
	{ "mls_handshake_xwing", op_mls_handshake_xwing, "handshakes/s" },
	{ "mls_rekey_s1", op_mls_rekey_s1, "rekeys/s" },
	{ "mls_rekey_xwing", op_mls_rekey_xwing, "rekeys/s" },
	/* daemon/tunnel pairs through daemon/wire framing, fake kernel */
	{ "tunnel_rekeys_per_s_xwing", tbench_rekey_xwing, "rekeys/s" },
	{ "tunnel_rekeys_per_s_aes128", tbench_rekey_aes128, "rekeys/s" },
	{ "tunnel_rekeys_per_s_chacha", tbench_rekey_chacha, "rekeys/s" },
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs op for about seconds; returns ops/s, or -1 on an error. */
static double measure(const struct bench_op *op, double seconds)
{
	unsigned long n = 0, batch = 1, i;
	double start, elapsed;

	for (i = 0; i < 8; i++) /* warm-up: caches, OpenSSL fetches */
		if (op->run() != EPOCH_OK)
			return -1;
	start = now();
	do {
		for (i = 0; i < batch; i++)
			if (op->run() != EPOCH_OK)
				return -1;
		n += batch;
		elapsed = now() - start;
		/* Keep clock reads rare: about 100 per second. */
		if (elapsed > 0 && n / elapsed / 100 > (double)batch * 2)
			batch *= 2;
	} while (elapsed < seconds);
	return (double)n / elapsed;
}

static int selected(const char *name, int argc, char **argv)
{
	int i;

	if (argc < 2)
		return 1;
	for (i = 1; i < argc; i++)
		if (strncmp(name, argv[i], strlen(argv[i])) == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *env = getenv("BENCH_SECONDS");
	double seconds = env ? atof(env) : 1.0;
	size_t i;
	int rc;

	if (!(seconds > 0))
		seconds = 1.0;
	rc = setup();
	if (rc != EPOCH_OK) {
		fprintf(stderr, "epoch-bench: setup failed: %s\n",
			result_name(rc));
		return 1;
	}
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		double v;

		if (!selected(ops[i].name, argc, argv))
			continue;
		v = measure(&ops[i], seconds);
		if (v < 0) {
			fprintf(stderr, "epoch-bench: %s failed\n", ops[i].name);
			return 1;
		}
		printf("BENCH %s %.0f %s\n", ops[i].name, v,
		       ops[i].unit);
		fflush(stdout);
	}
	/* Encoded sizes (MLSMessage bytes) of the last handshake. */
	const struct {
		const char *name;
		size_t v;
	} sizes[] = {
		{ "mls_size_keypackage_s1", pair_s1.kp_len },
		{ "mls_size_welcome_s1", pair_s1.welcome_len },
		{ "mls_size_commit_s1", pair_s1.commit_len },
		{ "mls_size_keypackage_xwing", pair_xwing.kp_len },
		{ "mls_size_welcome_xwing", pair_xwing.welcome_len },
		{ "mls_size_commit_xwing", pair_xwing.commit_len },
	};
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (selected(sizes[i].name, argc, argv))
			printf("BENCH %s %zu bytes\n", sizes[i].name,
			       sizes[i].v);
	/* Bytes and datagrams on the wire (bench_tunnel.c). */
	tbench_print_sizes(selected, argc, argv);
	tbench_free();
	mls_group_free(pair_s1.a);
	mls_group_free(pair_s1.b);
	mls_group_free(pair_xwing.a);
	mls_group_free(pair_xwing.b);
	return 0;
}
