/* Fuzz target for the Welcome path of proto/mls_welcome (RFC 9420
 * §12.4.3.1), with a fixed init key pair, KeyPackageRef and welcome_secret.
 *
 * Byte 0: bit 0 picks the mode, bit 1 the suite (1 or 0xF00D).
 *  - open: the rest is a Welcome body; when it decodes, it goes through
 *    mls_welcome_open_secrets and mls_welcome_open_group_info.
 *  - seal: the rest is u16 n, n bytes of GroupSecrets plaintext, then the
 *    GroupInfo plaintext (both arbitrary); they are sealed with
 *    mls_welcome_seal and opened again.
 *
 * Invariants:
 *  - every call returns EPOCH_OK or a negative EPOCH_ERR_* code and stays
 *    inside its buffers (ASan/UBSan in both builds);
 *  - what opens has a joiner secret (and any path secret) of Nh bytes and a
 *    GroupInfo of the Welcome's suite;
 *  - seal then open: the Welcome decodes, and each open returns what
 *    decoding the plaintext directly gives (EPOCH_ERR_MALFORMED for
 *    secrets of the wrong length, EPOCH_ERR_SUITE for a GroupInfo of
 *    another suite); whatever opens re-encodes to the plaintext.
 */
#include <string.h>

#include "proto/codec.h"
#include "proto/mls.h"
#include "tests/fuzz/fuzz.h"

/* Fixed inputs (zero-padded); the ref and the secret use Nh bytes. */
static const uint8_t init_ikm[32] = "fuzz_mls_welcome init_key ikm";
static const uint8_t kp_ref[MLS_MAX_NH] = "fuzz_mls_welcome KeyPackageRef";
static const uint8_t welcome_secret[MLS_MAX_NH] =
	"fuzz_mls_welcome welcome_secret";

struct fuzz_state {
	struct mls_welcome w;
	struct mls_group_secrets gs, gs_direct;
	struct mls_group_info gi, gi_direct;
	struct hpke_keypair init;
};

/* A deterministic stream for the HPKE encapsulation of the seal mode. */
static int counter_fill(void *ctx, uint8_t *out, size_t n)
{
	uint8_t *ctr = ctx;

	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(0x5a ^ (*ctr)++);
	return EPOCH_OK;
}

static void check_opened_secrets(const struct mls_suite *s,
				 const struct mls_group_secrets *gs)
{
	FUZZ_REQUIRE(gs->joiner_secret.len == s->nh);
	FUZZ_REQUIRE(!gs->has_path_secret || gs->path_secret.len == s->nh);
}

static void open_mode(const struct mls_suite *s, struct fuzz_state *st,
		      const uint8_t *p, size_t n, uint8_t *buf, size_t cap)
{
	uint8_t ws[MLS_MAX_NH];
	int rc;

	if (mls_welcome_decode_all(p, n, &st->w) != EPOCH_OK)
		return;
	rc = mls_welcome_open_secrets(s, &st->w, kp_ref, s->nh, &st->init,
				      buf, cap, &st->gs);
	FUZZ_REQUIRE(rc <= 0);
	if (rc == EPOCH_OK) {
		check_opened_secrets(s, &st->gs);
		/* Open the GroupInfo with the secret the joiner would use. */
		FUZZ_REQUIRE(mls_welcome_secret(s, st->gs.joiner_secret.p,
						NULL, ws) == EPOCH_OK);
		rc = mls_welcome_open_group_info(s, &st->w, ws, buf, cap,
						 &st->gi);
		FUZZ_REQUIRE(rc <= 0);
		if (rc == EPOCH_OK)
			FUZZ_REQUIRE(st->gi.group_context.cipher_suite ==
				     s->id);
	}
	rc = mls_welcome_open_group_info(s, &st->w, welcome_secret, buf, cap,
					 &st->gi);
	FUZZ_REQUIRE(rc <= 0);
	if (rc == EPOCH_OK)
		FUZZ_REQUIRE(st->gi.group_context.cipher_suite == s->id);
}

/* What opening the plaintext gs should give. */
static int expect_secrets(const struct mls_suite *s, struct fuzz_state *st,
			  const uint8_t *gs, size_t gs_len)
{
	int rc = mls_group_secrets_decode_all(gs, gs_len, &st->gs_direct);

	if (rc != EPOCH_OK)
		return rc;
	if (st->gs_direct.joiner_secret.len != s->nh ||
	    (st->gs_direct.has_path_secret &&
	     st->gs_direct.path_secret.len != s->nh))
		return EPOCH_ERR_MALFORMED;
	return EPOCH_OK;
}

static int expect_group_info(const struct mls_suite *s,
			     struct fuzz_state *st, const uint8_t *gi,
			     size_t gi_len)
{
	int rc = mls_group_info_decode_all(gi, gi_len, &st->gi_direct);

	if (rc != EPOCH_OK)
		return rc;
	if (st->gi_direct.group_context.version !=
		    MLS_PROTOCOL_VERSION_MLS10 ||
	    st->gi_direct.group_context.cipher_suite != s->id)
		return EPOCH_ERR_SUITE;
	return EPOCH_OK;
}

static void seal_mode(const struct mls_suite *s, struct fuzz_state *st,
		      const uint8_t *p, size_t n, uint8_t *buf, size_t cap)
{
	struct codec_writer sealed, re;
	uint8_t ctr = 0;
	struct crypto_rng rng = { counter_fill, &ctr };
	const uint8_t *gs, *gi;
	size_t gs_len, gi_len;
	int rc;

	if (n < 2)
		return;
	gs_len = ((size_t)p[0] << 8 | p[1]) % (n - 1);
	gs = p + 2;
	gi = gs + gs_len;
	gi_len = n - 2 - gs_len;
	codec_writer_init_dynamic(&sealed, 1 << 20);
	codec_writer_init_dynamic(&re, 1 << 20);
	rc = mls_welcome_seal(s, &rng, welcome_secret, kp_ref, s->nh,
			      st->init.pk, st->init.pk_len, gs, gs_len, gi,
			      gi_len, &sealed);
	FUZZ_REQUIRE(rc <= 0);
	/* HPKE takes at most 64 KiB of info (the encrypted GroupInfo). */
	FUZZ_REQUIRE(rc == EPOCH_OK ||
		     (rc == EPOCH_ERR_TOO_LONG && gi_len > 60000));
	if (rc != EPOCH_OK)
		goto out;
	FUZZ_REQUIRE(mls_welcome_decode_all(sealed.buf, sealed.len, &st->w) ==
		     EPOCH_OK);

	rc = mls_welcome_open_secrets(s, &st->w, kp_ref, s->nh, &st->init,
				      buf, cap, &st->gs);
	FUZZ_REQUIRE(rc == expect_secrets(s, st, gs, gs_len));
	if (rc == EPOCH_OK) {
		check_opened_secrets(s, &st->gs);
		FUZZ_REQUIRE(mls_group_secrets_encode(&re, &st->gs) ==
			     EPOCH_OK);
		FUZZ_REQUIRE(re.len == gs_len && !memcmp(re.buf, gs, gs_len));
	}
	rc = mls_welcome_open_group_info(s, &st->w, welcome_secret, buf, cap,
					 &st->gi);
	FUZZ_REQUIRE(rc == expect_group_info(s, st, gi, gi_len));
	if (rc == EPOCH_OK) {
		re.len = 0;
		FUZZ_REQUIRE(mls_group_info_encode(&re, &st->gi) == EPOCH_OK);
		FUZZ_REQUIRE(re.len == gi_len && !memcmp(re.buf, gi, gi_len));
	}
out:
	codec_writer_free(&sealed);
	codec_writer_free(&re);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct mls_suite *s;
	struct fuzz_state *st;
	uint8_t *buf;
	size_t cap;

	if (size < 1)
		return 0;
	s = mls_suite_get(data[0] & 2
				  ? MLS_SUITE_XWING_AES256GCM_SHA512_ED25519
				  : MLS_SUITE_X25519_AES128GCM_SHA256_ED25519);
	FUZZ_REQUIRE(s != NULL);
	st = calloc(1, sizeof(*st));
	cap = size + 16;
	buf = malloc(cap);
	FUZZ_REQUIRE(st && buf);
	FUZZ_REQUIRE(hpke_derive_keypair(s->hpke.kem_id, init_ikm,
					 sizeof(init_ikm),
					 &st->init) == EPOCH_OK);
	if (data[0] & 1)
		seal_mode(s, st, data + 1, size - 1, buf, cap);
	else
		open_mode(s, st, data + 1, size - 1, buf, cap);
	hpke_keypair_wipe(&st->init);
	free(st);
	free(buf);
	return 0;
}
