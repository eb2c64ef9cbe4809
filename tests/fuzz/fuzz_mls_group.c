/* Fuzz target for what a two-member group parses from the network or disk
 * (proto/mls_group.h): messages from the peer, KeyPackages, Welcomes and
 * saved state.
 *
 * On the first call it builds, from a fixed pseudo-random stream, a pair
 * of suite-1 groups (A created the group, B joined, one rekey each way) and
 * a group of one, and saves them; every input then starts from freshly
 * loaded copies, so the target keeps no state between calls.
 *
 * Byte 0 picks the mode; the rest is the input:
 *  0: a message from B to A (mls_group_process);
 *  1: a KeyPackage for the group of one (mls_group_add, then discard);
 *  2: saved state (mls_group_load; what loads saves back to the same bytes);
 *  3: a Welcome for a fresh KeyPackage (mls_group_join).
 *
 * Invariants: every call returns EPOCH_OK or a negative EPOCH_ERR_* code
 * within its buffers; a refused message leaves A's epoch and exporter as
 * they were; a refused add leaves nothing staged and no output.
 */
#include <string.h>

#include "proto/codec.h"
#include "proto/mls.h"
#include "tests/fuzz/fuzz.h"


static struct fuzz_stream stream;
static const struct crypto_rng rng = { fuzz_stream_fill, &stream };
static const struct mls_policy policy = { .now = 1800000000u };

static struct {
	int ready;
	uint8_t sk[3][32], pk[3][32];
	struct mls_member_config cfg[3];
	struct codec_writer a, alone; /* saved A, saved group of one */
} fx;

/* FUZZ_SEEDS_OUT=dir: the seeds of tests/fuzz/corpus/mls_group/ are
 * written there (valid inputs of each mode, made from the fixture). */
static void write_seed(const char *dir, const char *name, uint8_t mode,
		       const uint8_t *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		abort();
	fputc(mode, f);
	fwrite(p, 1, n, f);
	fclose(f);
}

static int write_seeds(const char *dir, struct mls_group *b,
		       const uint8_t *kpb, size_t kpl, const uint8_t *welcome,
		       size_t welcome_len)
{
	struct codec_writer w;
	int rc;

	codec_writer_init_dynamic(&w, 1 << 20);
	GUARD_GOTO(rc, mls_group_encrypt(b, NULL, 0, (const uint8_t *)"seed",
					 4, &w), out);
	write_seed(dir, "app", 0, w.buf, w.len);
	w.len = 0;
	GUARD_GOTO(rc, mls_group_commit(b, NULL, &w), out);
	write_seed(dir, "commit", 0, w.buf, w.len);
	write_seed(dir, "keypackage", 1, kpb, kpl);
	write_seed(dir, "state", 2, fx.a.buf, fx.a.len);
	write_seed(dir, "welcome", 3, welcome, welcome_len);
out:
	codec_writer_free(&w);
	return rc;
}

static int setup(void)
{
	const char *seeds = getenv("FUZZ_SEEDS_OUT");
	static const char *const ids[3] = { "fuzz-a", "fuzz-b", "fuzz-c" };
	struct mls_group *a = NULL, *b = NULL, *one = NULL;
	struct mls_kp_secret *kp = NULL;
	struct codec_writer cw, ww;
	struct mls_received r;
	const uint8_t *kpb;
	size_t kpl;
	int rc;

	for (int i = 0; i < 3; i++) {
		GUARD(crypto_ed25519_keygen(&rng, fx.sk[i], fx.pk[i]));
		fx.cfg[i].suite = 1;
		fx.cfg[i].identity = (const uint8_t *)ids[i];
		fx.cfg[i].identity_len = strlen(ids[i]);
		fx.cfg[i].sig_sk = fx.sk[i];
		fx.cfg[i].sig_pk = fx.pk[i];
		fx.cfg[i].not_after = UINT64_MAX >> 1;
		fx.cfg[i].rng = &rng;
	}
	codec_writer_init_dynamic(&cw, 1 << 20);
	codec_writer_init_dynamic(&ww, 1 << 20);
	codec_writer_init_dynamic(&fx.a, 1 << 20);
	codec_writer_init_dynamic(&fx.alone, 1 << 20);
	GUARD_GOTO(rc, mls_kp_create(&kp, &fx.cfg[1]), out);
	kpb = mls_kp_bytes(kp, &kpl);
	GUARD_GOTO(rc, mls_group_create(&a, &fx.cfg[0], (const uint8_t *)"g",
					1, NULL, 0), out);
	GUARD_GOTO(rc, mls_group_create(&one, &fx.cfg[0],
					(const uint8_t *)"g1", 2, NULL, 0),
		   out);
	GUARD_GOTO(rc, mls_group_add(a, kpb, kpl, &policy, NULL, &cw, &ww),
		   out);
	GUARD_GOTO(rc, mls_group_apply(a), out);
	GUARD_GOTO(rc, mls_group_join(&b, &fx.cfg[1], kp, ww.buf, ww.len,
				      &policy), out);
	cw.len = 0;
	GUARD_GOTO(rc, mls_group_commit(b, NULL, &cw), out);
	GUARD_GOTO(rc, mls_group_process(a, cw.buf, cw.len, &r), out);
	GUARD_GOTO(rc, mls_group_apply(b), out);
	GUARD_GOTO(rc, mls_group_save(a, &fx.a), out);
	GUARD_GOTO(rc, mls_group_save(one, &fx.alone), out);
	if (seeds)
		GUARD_GOTO(rc, write_seeds(seeds, b, kpb, kpl, ww.buf, ww.len),
			   out);
	fx.ready = 1;
out:
	codec_writer_free(&cw);
	codec_writer_free(&ww);
	mls_kp_secret_free(kp);
	mls_group_free(a);
	mls_group_free(b);
	mls_group_free(one);
	return rc;
}

static void exporter(const struct mls_group *g, uint8_t out[32])
{
	FUZZ_REQUIRE(mls_group_export(g, false, (const uint8_t *)"f", 1, NULL,
				      0, out, 32) == EPOCH_OK);
}

static void mode_process(const uint8_t *p, size_t n)
{
	struct mls_group *a = NULL;
	struct mls_received r;
	uint8_t before[32], after[32];
	uint64_t epoch;
	int rc;

	FUZZ_REQUIRE(mls_group_load(&a, fx.a.buf, fx.a.len, &rng) == EPOCH_OK);
	epoch = mls_group_epoch(a);
	exporter(a, before);
	rc = mls_group_process(a, p, n, &r);
	FUZZ_REQUIRE(rc <= 0);
	if (rc != EPOCH_OK) {
		exporter(a, after);
		FUZZ_REQUIRE(mls_group_epoch(a) == epoch);
		FUZZ_REQUIRE(memcmp(before, after, 32) == 0);
	} else if (r.content_type == MLS_CONTENT_APPLICATION) {
		FUZZ_REQUIRE(mls_group_epoch(a) == epoch);
	} else {
		FUZZ_REQUIRE(mls_group_epoch(a) == epoch + 1);
	}
	mls_group_free(a);
}

static void mode_add(const uint8_t *p, size_t n)
{
	struct mls_group *g = NULL;
	struct codec_writer cw, ww;
	int rc;

	FUZZ_REQUIRE(mls_group_load(&g, fx.alone.buf, fx.alone.len, &rng) ==
		     EPOCH_OK);
	codec_writer_init_dynamic(&cw, 1 << 20);
	codec_writer_init_dynamic(&ww, 1 << 20);
	rc = mls_group_add(g, p, n, &policy, NULL, &cw, &ww);
	FUZZ_REQUIRE(rc <= 0);
	if (rc == EPOCH_OK) {
		FUZZ_REQUIRE(cw.len > 0 && ww.len > 0);
		FUZZ_REQUIRE(mls_group_discard(g) == EPOCH_OK);
	} else {
		FUZZ_REQUIRE(cw.len == 0 && ww.len == 0);
		FUZZ_REQUIRE(!mls_group_has_staged(g));
	}
	codec_writer_free(&cw);
	codec_writer_free(&ww);
	mls_group_free(g);
}

static void mode_load(const uint8_t *p, size_t n)
{
	struct mls_group *g = NULL;
	struct codec_writer w;
	int rc = mls_group_load(&g, p, n, &rng);

	FUZZ_REQUIRE(rc <= 0);
	if (rc != EPOCH_OK)
		return;
	codec_writer_init_dynamic(&w, 1 << 20);
	FUZZ_REQUIRE(mls_group_save(g, &w) == EPOCH_OK);
	FUZZ_REQUIRE(w.len == n && memcmp(w.buf, p, n) == 0);
	codec_writer_free(&w);
	mls_group_free(g);
}

static void mode_join(const uint8_t *p, size_t n)
{
	struct mls_kp_secret *kp = NULL;
	struct mls_group *g = NULL;
	int rc;

	FUZZ_REQUIRE(mls_kp_create(&kp, &fx.cfg[2]) == EPOCH_OK);
	rc = mls_group_join(&g, &fx.cfg[2], kp, p, n, &policy);
	FUZZ_REQUIRE(rc <= 0);
	FUZZ_REQUIRE((rc == EPOCH_OK) == (g != NULL));
	mls_group_free(g);
	mls_kp_secret_free(kp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fx.ready && setup() != EPOCH_OK)
		abort();
	if (size < 1)
		return 0;
	/* The same stream for every input: deterministic. */
	memset(&stream, 0, sizeof(stream));
	stream.ctr[7] = 0x80;
	switch (data[0] & 3) {
	case 0:
		mode_process(data + 1, size - 1);
		break;
	case 1:
		mode_add(data + 1, size - 1);
		break;
	case 2:
		mode_load(data + 1, size - 1);
		break;
	default:
		mode_join(data + 1, size - 1);
		break;
	}
	return 0;
}
