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

#include "proto/crypto.h"
#include "proto/mlkem.h"
#include "proto/xwing.h"

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
	return EPOCH_OK;
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

static const struct bench_op {
	const char *name;
	int (*run)(void);
} ops[] = {
	{ "mlkem768_keygen", op_mlkem_keygen },
	{ "mlkem768_encaps", op_mlkem_encaps },
	{ "mlkem768_decaps", op_mlkem_decaps },
	{ "xwing_keygen", op_xwing_keygen },
	{ "xwing_encaps", op_xwing_encaps },
	{ "xwing_decaps", op_xwing_decaps },
	{ "x25519_dh", op_x25519_dh },
	{ "ed25519_sign", op_ed25519_sign },
	{ "ed25519_verify", op_ed25519_verify },
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
		printf("BENCH %s %.0f ops/s\n", ops[i].name, v);
		fflush(stdout);
	}
	return 0;
}
