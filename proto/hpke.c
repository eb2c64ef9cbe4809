/* HPKE (RFC 9180): DHKEM(X25519, HKDF-SHA256) and X-Wing, HKDF, AEADs.
 * Section numbers in comments are RFC 9180's unless another document is
 * named. */
#include "proto/hpke.h"

#include <string.h>

#include "proto/xwing.h"

#define HPKE_V1 "HPKE-v1"
#define HPKE_V1_LEN 7
#define KEM_SUITE_ID_LEN 5   /* "KEM" || I2OSP(kem_id, 2), §4.1 */
#define HPKE_SUITE_ID_LEN 10 /* "HPKE" || kem || kdf || aead, §5.1 */

/* ---- byte-string helpers ------------------------------------------------ */

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Concatenation of up to five parts into a wiped heap buffer: the labeled
 * inputs below mix public labels with secret key material. */
struct part {
	const uint8_t *p;
	size_t len;
};

static int concat(struct crypto_secret *out, const struct part *parts,
		  size_t n)
{
	size_t total = 0, i, off = 0;

	for (i = 0; i < n; i++) {
		if (parts[i].len > SIZE_MAX / 2 - total)
			return EPOCH_ERR_TOO_LONG;
		total += parts[i].len;
	}
	GUARD(crypto_secret_alloc(out, total));
	for (i = 0; i < n; i++) {
		if (parts[i].len != 0)
			memcpy(out->p + off, parts[i].p, parts[i].len);
		off += parts[i].len;
	}
	return EPOCH_OK;
}

#define LABEL(s) { (const uint8_t *)(s), sizeof(s) - 1 }

/* ---- labeled KDF functions (§4) ----------------------------------------- */

/* LabeledExtract(salt, label, ikm) =
 *   Extract(salt, "HPKE-v1" || suite_id || label || ikm) */
static int labeled_extract(enum crypto_hash h, const uint8_t *suite_id,
			   size_t suite_id_len, const uint8_t *salt,
			   size_t salt_len, struct part label,
			   const uint8_t *ikm, size_t ikm_len, uint8_t *prk)
{
	struct part parts[] = {
		LABEL(HPKE_V1), { suite_id, suite_id_len }, label,
		{ ikm, ikm_len },
	};
	struct crypto_secret buf = { 0 };
	int rc;

	GUARD(concat(&buf, parts, 4));
	rc = crypto_hkdf_extract(h, salt, salt_len, buf.p, buf.len, prk);
	crypto_secret_free(&buf);
	return rc;
}

/* LabeledExpand(prk, label, info, L) =
 *   Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L) */
static int labeled_expand(enum crypto_hash h, const uint8_t *suite_id,
			  size_t suite_id_len, const uint8_t *prk,
			  size_t prk_len, struct part label,
			  const uint8_t *info, size_t info_len, uint8_t *out,
			  size_t L)
{
	uint8_t l2[2];
	struct part parts[] = {
		{ l2, 2 }, LABEL(HPKE_V1), { suite_id, suite_id_len }, label,
		{ info, info_len },
	};
	struct crypto_secret buf = { 0 };
	int rc;

	if (L > 0xffff)
		return EPOCH_ERR_INVALID_ARG;
	put_u16(l2, (uint16_t)L);
	GUARD(concat(&buf, parts, 5));
	rc = crypto_hkdf_expand(h, prk, prk_len, buf.p, buf.len, out, L);
	crypto_secret_free(&buf);
	return rc;
}

/* ---- KEMs ---------------------------------------------------------------- */

/* A KEM's operations on buffers of exactly its sizes (checked by the
 * dispatchers below). ikmE is the encapsulation randomness. */
struct kem_ops {
	int (*derive)(const uint8_t *ikm, size_t ikm_len, uint8_t *sk,
		      uint8_t *pk);
	int (*encap)(const uint8_t *ikmE, size_t ikmE_len, const uint8_t *pkR,
		     uint8_t *enc, uint8_t *ss);
	int (*decap)(const uint8_t *enc, const uint8_t *skR, uint8_t *ss);
};

/* DHKEM(X25519, HKDF-SHA256), §4.1 and §7.1. Its KDF is always
 * HKDF-SHA256, whatever the suite's KDF. */
static const uint8_t x25519_suite_id[KEM_SUITE_ID_LEN] = {
	'K', 'E', 'M', HPKE_KEM_X25519_SHA256 >> 8,
	HPKE_KEM_X25519_SHA256 & 0xff
};

/* §7.1.3: sk = LabeledExpand(LabeledExtract("", "dkp_prk", ikm), "sk", "",
 * Nsk). For X25519 any 32 bytes are a valid private key (clamped when
 * used), so there is no rejection loop. */
static int x25519_derive(const uint8_t *ikm, size_t ikm_len, uint8_t *sk,
			 uint8_t *pk)
{
	uint8_t prk[32];
	int rc;

	GUARD_GOTO(rc, labeled_extract(CRYPTO_SHA256, x25519_suite_id,
				       KEM_SUITE_ID_LEN, NULL, 0,
				       (struct part)LABEL("dkp_prk"), ikm,
				       ikm_len, prk), out);
	GUARD_GOTO(rc, labeled_expand(CRYPTO_SHA256, x25519_suite_id,
				      KEM_SUITE_ID_LEN, prk, sizeof(prk),
				      (struct part)LABEL("sk"), NULL, 0, sk,
				      32), out);
	GUARD_GOTO(rc, crypto_x25519_public(sk, pk), out);
out:
	crypto_wipe(prk, sizeof(prk));
	if (rc != EPOCH_OK)
		crypto_wipe(sk, 32);
	return rc;
}

/* §4.1 ExtractAndExpand(dh, kem_context), kem_context = enc || pkRm. */
static int x25519_extract_and_expand(const uint8_t dh[32],
				     const uint8_t enc[32],
				     const uint8_t pkRm[32], uint8_t ss[32])
{
	uint8_t prk[32], kem_context[64];
	int rc;

	memcpy(kem_context, enc, 32);
	memcpy(kem_context + 32, pkRm, 32);
	GUARD_GOTO(rc, labeled_extract(CRYPTO_SHA256, x25519_suite_id,
				       KEM_SUITE_ID_LEN, NULL, 0,
				       (struct part)LABEL("eae_prk"), dh, 32,
				       prk), out);
	rc = labeled_expand(CRYPTO_SHA256, x25519_suite_id, KEM_SUITE_ID_LEN,
			    prk, sizeof(prk),
			    (struct part)LABEL("shared_secret"), kem_context,
			    sizeof(kem_context), ss, 32);
out:
	crypto_wipe(prk, sizeof(prk));
	return rc;
}

/* §4.1 Encap: (skE, pkE) = DeriveKeyPair(ikmE) (GenerateKeyPair when ikmE
 * is random), dh = DH(skE, pkR), enc = pkE. DH fails with
 * EPOCH_ERR_INVALID_KEY on an all-zero output (§7.1.4). */
static int x25519_encap(const uint8_t *ikmE, size_t ikmE_len,
			const uint8_t *pkR, uint8_t *enc, uint8_t *ss)
{
	uint8_t skE[32], dh[32];
	int rc;

	GUARD_GOTO(rc, x25519_derive(ikmE, ikmE_len, skE, enc), out);
	GUARD_GOTO(rc, crypto_x25519(skE, pkR, dh), out);
	rc = x25519_extract_and_expand(dh, enc, pkR, ss);
out:
	crypto_wipe(skE, sizeof(skE));
	crypto_wipe(dh, sizeof(dh));
	return rc;
}

/* §4.1 Decap: dh = DH(skR, pkE), kem_context = enc || pk(skR). */
static int x25519_decap(const uint8_t *enc, const uint8_t *skR, uint8_t *ss)
{
	uint8_t dh[32], pkRm[32];
	int rc;

	GUARD_GOTO(rc, crypto_x25519(skR, enc, dh), out);
	GUARD_GOTO(rc, crypto_x25519_public(skR, pkRm), out);
	rc = x25519_extract_and_expand(dh, enc, pkRm, ss);
out:
	crypto_wipe(dh, sizeof(dh));
	return rc;
}

static const struct kem_ops x25519_ops = {
	x25519_derive, x25519_encap, x25519_decap
};

/* X-Wing (MLKEM768-X25519) as HPKE KEM 0x647a, draft-ietf-hpke-pq-04 §4
 * ("Hybrid KEMs with ECDH and ML-KEM"): keys and ciphertexts are the X-Wing
 * byte strings (Serialize/Deserialize are the identity), Encap/Decap are
 * X-Wing's own, and DeriveKeyPair hashes ikm to the 32-byte X-Wing seed
 * with SHAKE256.LabeledDerive under suite_id "KEM" || 0x647a. No
 * AuthEncap. */
static const uint8_t xwing_suite_id[KEM_SUITE_ID_LEN] = {
	'K', 'E', 'M', HPKE_KEM_XWING >> 8, HPKE_KEM_XWING & 0xff
};

/* LabeledDerive for a one-stage KDF (draft-ietf-hpke-hpke §4.4), here
 * SHAKE256: Derive(ikm || "HPKE-v1" || suite_id || I2OSP(len(label), 2) ||
 * label || I2OSP(L, 2) || context, L), Derive(x, L) = SHAKE256(x, 8 * L). */
static int shake256_labeled_derive(const uint8_t *suite_id,
				   size_t suite_id_len, const uint8_t *ikm,
				   size_t ikm_len, struct part label,
				   const uint8_t *context, size_t context_len,
				   uint8_t *out, size_t L)
{
	struct crypto_xof x;
	uint8_t label_len[2], l2[2];
	int rc;

	if (L > 0xffff || label.len > 0xffff)
		return EPOCH_ERR_INVALID_ARG;
	put_u16(label_len, (uint16_t)label.len);
	put_u16(l2, (uint16_t)L);
	GUARD_GOTO(rc, crypto_xof_init(&x, CRYPTO_SHAKE256), out);
	GUARD_GOTO(rc, crypto_xof_absorb(&x, ikm, ikm_len), out);
	GUARD_GOTO(rc, crypto_xof_absorb(&x, (const uint8_t *)HPKE_V1,
					 HPKE_V1_LEN), out);
	GUARD_GOTO(rc, crypto_xof_absorb(&x, suite_id, suite_id_len), out);
	GUARD_GOTO(rc, crypto_xof_absorb(&x, label_len, 2), out);
	GUARD_GOTO(rc, crypto_xof_absorb(&x, label.p, label.len), out);
	GUARD_GOTO(rc, crypto_xof_absorb(&x, l2, 2), out);
	GUARD_GOTO(rc, crypto_xof_absorb(&x, context, context_len), out);
	rc = crypto_xof_squeeze(&x, out, L);
out:
	crypto_xof_wipe(&x);
	return rc;
}

/* DeriveKeyPair(ikm): seed = SHAKE256.LabeledDerive(ikm, "DeriveKeyPair",
 * "", 32), then X-Wing's key generation from that seed; the private key is
 * the seed itself. */
static int xwing_derive(const uint8_t *ikm, size_t ikm_len, uint8_t *sk,
			uint8_t *pk)
{
	static const struct part label = LABEL("DeriveKeyPair");
	uint8_t seed[XWING_SK_LEN];
	int rc;

	GUARD_GOTO(rc, shake256_labeled_derive(xwing_suite_id,
					       KEM_SUITE_ID_LEN, ikm, ikm_len,
					       label, NULL, 0, seed,
					       sizeof(seed)), out);
	rc = xwing_keygen_derand(seed, sk, pk);
out:
	crypto_wipe(seed, sizeof(seed));
	if (rc != EPOCH_OK)
		crypto_wipe(sk, XWING_SK_LEN);
	return rc;
}

/* Encap: X-Wing EncapsulateDerand with ikmE as its 64-byte eseed, as the
 * draft-ietf-hpke-pq reference implementation does for the vectors' ikmE
 * (Encap itself is EncapsulateDerand(pk, random(64))). */
static int xwing_encap(const uint8_t *ikmE, size_t ikmE_len,
		       const uint8_t *pkR, uint8_t *enc, uint8_t *ss)
{
	if (ikmE_len != XWING_ESEED_LEN)
		return EPOCH_ERR_INVALID_ARG;
	return xwing_encaps_derand(pkR, ikmE, enc, ss);
}

static int xwing_decap(const uint8_t *enc, const uint8_t *skR, uint8_t *ss)
{
	return xwing_decaps(skR, enc, ss);
}

static const struct kem_ops xwing_ops = {
	xwing_derive, xwing_encap, xwing_decap
};

/* ---- algorithm registry: every identifier this module knows --------------
 * KEM (§7.1, draft-ietf-hpke-pq §8.2), KDF (§7.2), AEAD (§7.3). nrand is
 * the number of random bytes a randomized Encap draws. */
enum alg_kind { ALG_KEM, ALG_KDF, ALG_AEAD };

struct alg {
	enum alg_kind kind;
	uint16_t id;
	/* KEM */
	size_t nsecret, nenc, npk, nsk, nrand;
	const struct kem_ops *kem;
	/* KDF */
	enum crypto_hash hash;
	size_t nh;
	/* AEAD; aead 0 for export-only */
	enum crypto_aead aead;
	size_t nk, nn, nt;
};

static const struct alg algs[] = {
	{ .kind = ALG_KEM, .id = HPKE_KEM_X25519_SHA256, .nsecret = 32,
	  .nenc = 32, .npk = 32, .nsk = 32, .nrand = 32, .kem = &x25519_ops },
	{ .kind = ALG_KEM, .id = HPKE_KEM_XWING, .nsecret = XWING_SS_LEN,
	  .nenc = XWING_CT_LEN, .npk = XWING_PK_LEN, .nsk = XWING_SK_LEN,
	  .nrand = XWING_ESEED_LEN, .kem = &xwing_ops },
	{ .kind = ALG_KDF, .id = HPKE_KDF_HKDF_SHA256, .hash = CRYPTO_SHA256,
	  .nh = 32 },
	{ .kind = ALG_KDF, .id = HPKE_KDF_HKDF_SHA384, .hash = CRYPTO_SHA384,
	  .nh = 48 },
	{ .kind = ALG_KDF, .id = HPKE_KDF_HKDF_SHA512, .hash = CRYPTO_SHA512,
	  .nh = 64 },
	{ .kind = ALG_AEAD, .id = HPKE_AEAD_AES128GCM,
	  .aead = CRYPTO_AES128GCM, .nk = 16, .nn = 12, .nt = 16 },
	{ .kind = ALG_AEAD, .id = HPKE_AEAD_AES256GCM,
	  .aead = CRYPTO_AES256GCM, .nk = 32, .nn = 12, .nt = 16 },
	{ .kind = ALG_AEAD, .id = HPKE_AEAD_CHACHA20POLY1305,
	  .aead = CRYPTO_CHACHA20POLY1305, .nk = 32, .nn = 12, .nt = 16 },
	{ .kind = ALG_AEAD, .id = HPKE_AEAD_EXPORT_ONLY },
};

static const struct alg *find_alg(enum alg_kind kind, uint16_t id)
{
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].kind == kind && algs[i].id == id)
			return &algs[i];
	return NULL;
}

struct suite_algs {
	const struct alg *kem, *kdf, *aead;
};

static int find_suite(const struct hpke_suite *suite, struct suite_algs *a)
{
	if (suite == NULL)
		return EPOCH_ERR_INVALID_ARG;
	a->kem = find_alg(ALG_KEM, suite->kem_id);
	a->kdf = find_alg(ALG_KDF, suite->kdf_id);
	a->aead = find_alg(ALG_AEAD, suite->aead_id);
	if (a->kem == NULL || a->kdf == NULL || a->aead == NULL)
		return EPOCH_ERR_UNSUPPORTED;
	return EPOCH_OK;
}

int hpke_suite_lens(const struct hpke_suite *suite, struct hpke_lens *out)
{
	struct suite_algs a;

	if (out == NULL)
		return EPOCH_ERR_INVALID_ARG;
	GUARD(find_suite(suite, &a));
	out->nsecret = a.kem->nsecret;
	out->nenc = a.kem->nenc;
	out->npk = a.kem->npk;
	out->nsk = a.kem->nsk;
	out->nh = a.kdf->nh;
	out->nk = a.aead->nk;
	out->nn = a.aead->nn;
	out->nt = a.aead->nt;
	return EPOCH_OK;
}

/* ---- key pairs and KEM dispatch ----------------------------------------- */

int hpke_derive_keypair(uint16_t kem_id, const uint8_t *ikm, size_t ikm_len,
			struct hpke_keypair *kp)
{
	const struct alg *kem = find_alg(ALG_KEM, kem_id);
	int rc;

	if (kp == NULL || (ikm == NULL && ikm_len != 0))
		return EPOCH_ERR_INVALID_ARG;
	memset(kp, 0, sizeof(*kp));
	if (kem == NULL)
		return EPOCH_ERR_UNSUPPORTED;
	if (ikm_len > HPKE_MAX_INPUT)
		return EPOCH_ERR_TOO_LONG;
	rc = kem->kem->derive(ikm, ikm_len, kp->sk, kp->pk);
	if (rc != EPOCH_OK) {
		hpke_keypair_wipe(kp);
		return rc;
	}
	kp->kem_id = kem_id;
	kp->sk_len = kem->nsk;
	kp->pk_len = kem->npk;
	return EPOCH_OK;
}

int hpke_generate_keypair(uint16_t kem_id, const struct crypto_rng *rng,
			  struct hpke_keypair *kp)
{
	const struct alg *kem = find_alg(ALG_KEM, kem_id);
	uint8_t ikm[HPKE_MAX_SK];
	int rc;

	if (kem == NULL)
		return EPOCH_ERR_UNSUPPORTED;
	GUARD(crypto_random(rng, ikm, kem->nsk));
	rc = hpke_derive_keypair(kem_id, ikm, kem->nsk, kp);
	crypto_wipe(ikm, sizeof(ikm));
	return rc;
}

void hpke_keypair_wipe(struct hpke_keypair *kp)
{
	if (kp != NULL)
		crypto_wipe(kp, sizeof(*kp));
}

int hpke_kem_encap_derand(uint16_t kem_id, const uint8_t *ikmE,
			  size_t ikmE_len, const uint8_t *pkR, size_t pkR_len,
			  uint8_t *enc, size_t enc_cap, size_t *enc_len,
			  uint8_t ss[HPKE_MAX_SECRET], size_t *ss_len)
{
	const struct alg *kem = find_alg(ALG_KEM, kem_id);
	int rc;

	if ((ikmE == NULL && ikmE_len != 0) || pkR == NULL || enc == NULL ||
	    enc_len == NULL || ss == NULL || ss_len == NULL)
		return EPOCH_ERR_INVALID_ARG;
	if (kem == NULL)
		return EPOCH_ERR_UNSUPPORTED;
	if (ikmE_len > HPKE_MAX_INPUT)
		return EPOCH_ERR_TOO_LONG;
	if (pkR_len != kem->npk)
		return EPOCH_ERR_INVALID_KEY;
	if (enc_cap < kem->nenc)
		return EPOCH_ERR_NO_SPACE;
	rc = kem->kem->encap(ikmE, ikmE_len, pkR, enc, ss);
	if (rc != EPOCH_OK) {
		crypto_wipe(ss, kem->nsecret);
		return rc;
	}
	*enc_len = kem->nenc;
	*ss_len = kem->nsecret;
	return EPOCH_OK;
}

int hpke_kem_encap(uint16_t kem_id, const struct crypto_rng *rng,
		   const uint8_t *pkR, size_t pkR_len, uint8_t *enc,
		   size_t enc_cap, size_t *enc_len,
		   uint8_t ss[HPKE_MAX_SECRET], size_t *ss_len)
{
	const struct alg *kem = find_alg(ALG_KEM, kem_id);
	uint8_t rnd[64];
	int rc;

	if (kem == NULL)
		return EPOCH_ERR_UNSUPPORTED;
	if (kem->nrand > sizeof(rnd))
		return EPOCH_ERR_UNSUPPORTED;
	GUARD(crypto_random(rng, rnd, kem->nrand));
	rc = hpke_kem_encap_derand(kem_id, rnd, kem->nrand, pkR, pkR_len, enc,
				   enc_cap, enc_len, ss, ss_len);
	crypto_wipe(rnd, sizeof(rnd));
	return rc;
}

int hpke_kem_decap(uint16_t kem_id, const uint8_t *enc, size_t enc_len,
		   const uint8_t *skR, size_t skR_len,
		   uint8_t ss[HPKE_MAX_SECRET], size_t *ss_len)
{
	const struct alg *kem = find_alg(ALG_KEM, kem_id);
	int rc;

	if (enc == NULL || skR == NULL || ss == NULL || ss_len == NULL)
		return EPOCH_ERR_INVALID_ARG;
	if (kem == NULL)
		return EPOCH_ERR_UNSUPPORTED;
	if (enc_len != kem->nenc)
		return EPOCH_ERR_MALFORMED;
	if (skR_len != kem->nsk)
		return EPOCH_ERR_INVALID_KEY;
	rc = kem->kem->decap(enc, skR, ss);
	if (rc != EPOCH_OK) {
		crypto_wipe(ss, kem->nsecret);
		return rc;
	}
	*ss_len = kem->nsecret;
	return EPOCH_OK;
}

/* ---- key schedule (§5.1) ------------------------------------------------- */

static void suite_id_of(const struct hpke_suite *s,
			uint8_t out[HPKE_SUITE_ID_LEN])
{
	memcpy(out, "HPKE", 4);
	put_u16(out + 4, s->kem_id);
	put_u16(out + 6, s->kdf_id);
	put_u16(out + 8, s->aead_id);
}

/* §5.1 VerifyPSKInputs, with the §5.1.2 / §9.5 minimum psk length. */
static int check_psk(const struct hpke_psk *psk)
{
	if (psk == NULL)
		return EPOCH_OK; /* mode_base: default_psk, default_psk_id */
	if (psk->psk == NULL || psk->id == NULL || psk->id_len == 0 ||
	    psk->psk_len < 32)
		return EPOCH_ERR_INVALID_ARG;
	if (psk->psk_len > HPKE_MAX_INPUT || psk->id_len > HPKE_MAX_INPUT)
		return EPOCH_ERR_TOO_LONG;
	return EPOCH_OK;
}

int hpke_key_schedule(struct hpke_ctx *ctx, const struct hpke_suite *suite,
		      enum hpke_role role, const uint8_t *ss, size_t ss_len,
		      const uint8_t *info, size_t info_len,
		      const struct hpke_psk *psk, struct hpke_ks_trace *trace)
{
	struct suite_algs a;
	uint8_t sid[HPKE_SUITE_ID_LEN];
	uint8_t ksc[1 + 2 * HPKE_MAX_NH], secret[HPKE_MAX_NH];
	size_t nh, ksc_len;
	enum crypto_hash h;
	int rc;

	if (ctx == NULL)
		return EPOCH_ERR_INVALID_ARG;
	memset(ctx, 0, sizeof(*ctx));
	if (trace != NULL)
		memset(trace, 0, sizeof(*trace));
	GUARD(find_suite(suite, &a));
	if ((role != HPKE_ROLE_SENDER && role != HPKE_ROLE_RECEIVER) ||
	    ss == NULL || (info == NULL && info_len != 0))
		return EPOCH_ERR_INVALID_ARG;
	if (ss_len != a.kem->nsecret)
		return EPOCH_ERR_INVALID_ARG;
	if (info_len > HPKE_MAX_INPUT)
		return EPOCH_ERR_TOO_LONG;
	GUARD(check_psk(psk));

	h = a.kdf->hash;
	nh = a.kdf->nh;
	suite_id_of(suite, sid);
	ksc_len = 1 + 2 * nh;
	/* key_schedule_context = mode || psk_id_hash || info_hash */
	ksc[0] = psk != NULL ? HPKE_MODE_PSK : HPKE_MODE_BASE;
	GUARD_GOTO(rc, labeled_extract(h, sid, sizeof(sid), NULL, 0,
				       (struct part)LABEL("psk_id_hash"),
				       psk != NULL ? psk->id : NULL,
				       psk != NULL ? psk->id_len : 0, ksc + 1),
		   out);
	GUARD_GOTO(rc, labeled_extract(h, sid, sizeof(sid), NULL, 0,
				       (struct part)LABEL("info_hash"), info,
				       info_len, ksc + 1 + nh), out);
	/* secret = LabeledExtract(shared_secret, "secret", psk) */
	GUARD_GOTO(rc, labeled_extract(h, sid, sizeof(sid), ss, ss_len,
				       (struct part)LABEL("secret"),
				       psk != NULL ? psk->psk : NULL,
				       psk != NULL ? psk->psk_len : 0, secret),
		   out);
	/* Export-only (Nk = Nn = 0) derives no key and no base_nonce. */
	if (a.aead->nk != 0) {
		GUARD_GOTO(rc, labeled_expand(h, sid, sizeof(sid), secret, nh,
					      (struct part)LABEL("key"), ksc,
					      ksc_len, ctx->key, a.aead->nk),
			   out);
		GUARD_GOTO(rc, labeled_expand(h, sid, sizeof(sid), secret, nh,
					      (struct part)LABEL("base_nonce"),
					      ksc, ksc_len, ctx->base_nonce,
					      a.aead->nn), out);
	}
	GUARD_GOTO(rc, labeled_expand(h, sid, sizeof(sid), secret, nh,
				      (struct part)LABEL("exp"), ksc, ksc_len,
				      ctx->exporter_secret, nh), out);
	ctx->suite = *suite;
	ctx->role = role;
	ctx->key_len = a.aead->nk;
	ctx->nonce_len = a.aead->nn;
	ctx->exporter_len = nh;
	ctx->seq = 0;
	if (trace != NULL) {
		memcpy(trace->key_schedule_context, ksc, ksc_len);
		trace->key_schedule_context_len = ksc_len;
		memcpy(trace->secret, secret, nh);
		trace->secret_len = nh;
	}
out:
	crypto_wipe(secret, sizeof(secret));
	crypto_wipe(ksc, sizeof(ksc));
	if (rc != EPOCH_OK)
		hpke_ctx_wipe(ctx);
	return rc;
}

/* ---- setup (§5.1.1, §5.1.2) --------------------------------------------- */

static int setup_s(struct hpke_ctx *ctx, const struct hpke_suite *suite,
		   const struct crypto_rng *rng, const uint8_t *ikmE,
		   size_t ikmE_len, int derand, const uint8_t *pkR,
		   size_t pkR_len, const uint8_t *info, size_t info_len,
		   const struct hpke_psk *psk, uint8_t *enc, size_t enc_cap,
		   size_t *enc_len)
{
	struct suite_algs a;
	uint8_t ss[HPKE_MAX_SECRET];
	size_t ss_len = 0;
	int rc;

	if (ctx == NULL)
		return EPOCH_ERR_INVALID_ARG;
	memset(ctx, 0, sizeof(*ctx));
	/* Check the whole suite before the (costly, random-consuming) KEM. */
	GUARD(find_suite(suite, &a));
	if (derand)
		rc = hpke_kem_encap_derand(suite->kem_id, ikmE, ikmE_len, pkR,
					   pkR_len, enc, enc_cap, enc_len, ss,
					   &ss_len);
	else
		rc = hpke_kem_encap(suite->kem_id, rng, pkR, pkR_len, enc,
				    enc_cap, enc_len, ss, &ss_len);
	if (rc == EPOCH_OK)
		rc = hpke_key_schedule(ctx, suite, HPKE_ROLE_SENDER, ss,
				       ss_len, info, info_len, psk, NULL);
	crypto_wipe(ss, sizeof(ss));
	return rc;
}

int hpke_setup_s(struct hpke_ctx *ctx, const struct hpke_suite *suite,
		 const struct crypto_rng *rng, const uint8_t *pkR,
		 size_t pkR_len, const uint8_t *info, size_t info_len,
		 const struct hpke_psk *psk, uint8_t *enc, size_t enc_cap,
		 size_t *enc_len)
{
	return setup_s(ctx, suite, rng, NULL, 0, 0, pkR, pkR_len, info,
		       info_len, psk, enc, enc_cap, enc_len);
}

int hpke_setup_s_derand(struct hpke_ctx *ctx, const struct hpke_suite *suite,
			const uint8_t *ikmE, size_t ikmE_len,
			const uint8_t *pkR, size_t pkR_len,
			const uint8_t *info, size_t info_len,
			const struct hpke_psk *psk, uint8_t *enc,
			size_t enc_cap, size_t *enc_len)
{
	return setup_s(ctx, suite, NULL, ikmE, ikmE_len, 1, pkR, pkR_len,
		       info, info_len, psk, enc, enc_cap, enc_len);
}

int hpke_setup_r(struct hpke_ctx *ctx, const struct hpke_suite *suite,
		 const uint8_t *enc, size_t enc_len, const uint8_t *skR,
		 size_t skR_len, const uint8_t *info, size_t info_len,
		 const struct hpke_psk *psk)
{
	struct suite_algs a;
	uint8_t ss[HPKE_MAX_SECRET];
	size_t ss_len = 0;
	int rc;

	if (ctx == NULL)
		return EPOCH_ERR_INVALID_ARG;
	memset(ctx, 0, sizeof(*ctx));
	GUARD(find_suite(suite, &a));
	rc = hpke_kem_decap(suite->kem_id, enc, enc_len, skR, skR_len, ss,
			    &ss_len);
	if (rc == EPOCH_OK)
		rc = hpke_key_schedule(ctx, suite, HPKE_ROLE_RECEIVER, ss,
				       ss_len, info, info_len, psk, NULL);
	crypto_wipe(ss, sizeof(ss));
	return rc;
}

/* ---- context operations (§5.2, §5.3) ------------------------------------- */

/* ComputeNonce(seq) = base_nonce XOR I2OSP(seq, Nn) */
static void compute_nonce(const struct hpke_ctx *ctx,
			  uint8_t nonce[HPKE_NONCE_LEN])
{
	uint64_t seq = ctx->seq;
	size_t i;

	memcpy(nonce, ctx->base_nonce, HPKE_NONCE_LEN);
	for (i = 0; i < 8; i++)
		nonce[HPKE_NONCE_LEN - 1 - i] ^= (uint8_t)(seq >> (8 * i));
}

/* Common checks of Seal and Open. The sequence number is 64 bits: the
 * message that would need seq + 1 = 2^64 is refused, as §5.2's
 * IncrementSeq refuses at 2^(8*Nn) - 1 (before anything is returned). */
static int ctx_ready(const struct hpke_ctx *ctx, enum hpke_role role,
		     const struct alg **aead)
{
	if (ctx == NULL)
		return EPOCH_ERR_INVALID_ARG;
	if (ctx->role != HPKE_ROLE_SENDER && ctx->role != HPKE_ROLE_RECEIVER)
		return EPOCH_ERR_STATE;
	if (ctx->key_len == 0)
		return EPOCH_ERR_UNSUPPORTED; /* export-only AEAD */
	if (ctx->role != role || ctx->seq == UINT64_MAX)
		return EPOCH_ERR_STATE;
	*aead = find_alg(ALG_AEAD, ctx->suite.aead_id);
	return *aead != NULL ? EPOCH_OK : EPOCH_ERR_STATE;
}

int hpke_ctx_seal(struct hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
		  const uint8_t *pt, size_t pt_len, uint8_t *ct, size_t ct_cap,
		  size_t *ct_len)
{
	const struct alg *aead;
	uint8_t nonce[HPKE_NONCE_LEN];

	GUARD(ctx_ready(ctx, HPKE_ROLE_SENDER, &aead));
	if ((aad == NULL && aad_len != 0) || (pt == NULL && pt_len != 0) ||
	    ct == NULL || ct_len == NULL)
		return EPOCH_ERR_INVALID_ARG;
	if (pt_len > SIZE_MAX - aead->nt)
		return EPOCH_ERR_TOO_LONG;
	if (ct_cap < pt_len + aead->nt)
		return EPOCH_ERR_NO_SPACE;
	compute_nonce(ctx, nonce);
	GUARD(crypto_aead_seal(aead->aead, ctx->key, nonce, aad, aad_len, pt,
			       pt_len, ct));
	*ct_len = pt_len + aead->nt;
	ctx->seq++;
	return EPOCH_OK;
}

int hpke_ctx_open(struct hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
		  const uint8_t *ct, size_t ct_len, uint8_t *pt, size_t pt_cap,
		  size_t *pt_len)
{
	const struct alg *aead;
	uint8_t nonce[HPKE_NONCE_LEN];

	GUARD(ctx_ready(ctx, HPKE_ROLE_RECEIVER, &aead));
	if ((aad == NULL && aad_len != 0) || ct == NULL || pt == NULL ||
	    pt_len == NULL)
		return EPOCH_ERR_INVALID_ARG;
	if (ct_len < aead->nt)
		return EPOCH_ERR_AUTH; /* no room for a tag: cannot verify */
	if (pt_cap < ct_len - aead->nt)
		return EPOCH_ERR_NO_SPACE;
	compute_nonce(ctx, nonce);
	GUARD(crypto_aead_open(aead->aead, ctx->key, nonce, aad, aad_len, ct,
			       ct_len, pt));
	*pt_len = ct_len - aead->nt;
	ctx->seq++;
	return EPOCH_OK;
}

int hpke_ctx_export(const struct hpke_ctx *ctx, const uint8_t *exp_ctx,
		    size_t exp_ctx_len, uint8_t *out, size_t L)
{
	const struct alg *kdf;
	uint8_t sid[HPKE_SUITE_ID_LEN];

	if (ctx == NULL || (exp_ctx == NULL && exp_ctx_len != 0) ||
	    (out == NULL && L != 0))
		return EPOCH_ERR_INVALID_ARG;
	if (ctx->role != HPKE_ROLE_SENDER && ctx->role != HPKE_ROLE_RECEIVER)
		return EPOCH_ERR_STATE;
	kdf = find_alg(ALG_KDF, ctx->suite.kdf_id);
	if (kdf == NULL)
		return EPOCH_ERR_STATE;
	if (exp_ctx_len > HPKE_MAX_EXPORTER_CONTEXT)
		return EPOCH_ERR_TOO_LONG;
	if (L > 255 * kdf->nh)
		return EPOCH_ERR_INVALID_ARG;
	suite_id_of(&ctx->suite, sid);
	return labeled_expand(kdf->hash, sid, sizeof(sid), ctx->exporter_secret,
			      ctx->exporter_len, (struct part)LABEL("sec"),
			      exp_ctx, exp_ctx_len, out, L);
}

void hpke_ctx_wipe(struct hpke_ctx *ctx)
{
	if (ctx != NULL)
		crypto_wipe(ctx, sizeof(*ctx));
}

/* ---- single-shot base mode (§6.1) ---------------------------------------- */

int hpke_seal(const struct hpke_suite *suite, const struct crypto_rng *rng,
	      const uint8_t *pkR, size_t pkR_len, const uint8_t *info,
	      size_t info_len, const uint8_t *aad, size_t aad_len,
	      const uint8_t *pt, size_t pt_len, uint8_t *enc, size_t enc_cap,
	      size_t *enc_len, uint8_t *ct, size_t ct_cap, size_t *ct_len)
{
	struct hpke_ctx ctx;
	int rc;

	rc = hpke_setup_s(&ctx, suite, rng, pkR, pkR_len, info, info_len,
			  NULL, enc, enc_cap, enc_len);
	if (rc == EPOCH_OK)
		rc = hpke_ctx_seal(&ctx, aad, aad_len, pt, pt_len, ct, ct_cap,
				   ct_len);
	hpke_ctx_wipe(&ctx);
	return rc;
}

int hpke_open(const struct hpke_suite *suite, const uint8_t *skR,
	      size_t skR_len, const uint8_t *enc, size_t enc_len,
	      const uint8_t *info, size_t info_len, const uint8_t *aad,
	      size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *pt,
	      size_t pt_cap, size_t *pt_len)
{
	struct hpke_ctx ctx;
	int rc;

	rc = hpke_setup_r(&ctx, suite, enc, enc_len, skR, skR_len, info,
			  info_len, NULL);
	if (rc == EPOCH_OK)
		rc = hpke_ctx_open(&ctx, aad, aad_len, ct, ct_len, pt, pt_cap,
				   pt_len);
	hpke_ctx_wipe(&ctx);
	return rc;
}
