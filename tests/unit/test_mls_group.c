/* proto/mls_group: two C members against each other for every suite we
 * implement (KeyPackage, add with path, Welcome, join, alternating path
 * commits, application messages, exporter, staging, save/load), and one
 * negative test per validation rule the group layer enforces, each built
 * with the real keys (proto/mls_group_int.h) so that exactly one rule is
 * broken and the specific error is asserted. After every refusal the
 * refusing side must still work (state unchanged). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/mls.h"
#include "proto/mls_group_int.h"
#include "tests/lib/test.h"

#define NOW 1800000000u /* 2027-01-15, inside every lifetime below */

struct member {
	uint8_t sk[32], pk[32];
	char identity[16];
	struct mls_member_config cfg;
};

static struct test_rng rng;

static void member_init(struct member *m, uint16_t suite, const char *id)
{
	memset(m, 0, sizeof(*m));
	crypto_ed25519_keygen(&rng.rng, m->sk, m->pk);
	snprintf(m->identity, sizeof(m->identity), "%s", id);
	m->cfg.suite = suite;
	m->cfg.identity = (const uint8_t *)m->identity;
	m->cfg.identity_len = strlen(m->identity);
	m->cfg.sig_sk = m->sk;
	m->cfg.sig_pk = m->pk;
	m->cfg.not_before = NOW - 3600;
	m->cfg.not_after = NOW + 86400;
	m->cfg.rng = &rng.rng;
}

static const struct mls_policy policy = { .now = NOW };

/* One GroupContext extension (private-use type) standing in for the
 * tunnel parameters epochd puts there. */
static const uint8_t gc_ext[] = { 0xf0, 0xe0, 0x06, 't', 'u', 'n', 'n',
				  'e', 'l' };
/* The same with a type no member supports. */
static const uint8_t gc_ext_unknown[] = { 0xff, 0x01, 0x00 };
static const uint8_t group_id[] = "epochd test group";

/* The exporter of both sides agrees. */
static int same_exporter(const struct mls_group *a, const struct mls_group *b)
{
	uint8_t ea[32], eb[32];
	static const char label[] = "epochd test";
	uint64_t e = mls_group_epoch(a);

	if (!CHECK_OK(mls_group_export(a, false, (const uint8_t *)label,
				       strlen(label), (const uint8_t *)&e,
				       sizeof(e), ea, sizeof(ea))) ||
	    !CHECK_OK(mls_group_export(b, false, (const uint8_t *)label,
				       strlen(label), (const uint8_t *)&e,
				       sizeof(e), eb, sizeof(eb))))
		return 0;
	return CHECK_MEM(ea, eb, sizeof(ea));
}

/* from encrypts pt, to decrypts it. */
static int app_message(struct mls_group *from, struct mls_group *to,
		       const char *pt)
{
	struct codec_writer w;
	struct mls_received r;
	static const uint8_t ad[] = { 1, 2, 3 };
	int ok = 0;

	codec_writer_init_dynamic(&w, 1 << 20);
	if (CHECK_OK(mls_group_encrypt(from, ad, sizeof(ad),
				       (const uint8_t *)pt, strlen(pt), &w)) &&
	    CHECK_OK(mls_group_process(to, w.buf, w.len, &r))) {
		ok = CHECK(r.content_type == MLS_CONTENT_APPLICATION) &&
		     CHECK(r.app_len == strlen(pt)) &&
		     CHECK_MEM(r.application_data, pt, strlen(pt)) &&
		     CHECK(r.ad_len == sizeof(ad)) &&
		     CHECK_MEM(r.authenticated_data, ad, sizeof(ad)) &&
		     CHECK_EQ_U64(r.epoch, mls_group_epoch(to)) &&
		     CHECK(r.sender == mls_group_my_index(from));
	}
	codec_writer_free(&w);
	return ok;
}

/* A creates a group and adds B; B joins. */
static int pair_up(struct member *a, struct member *b, struct mls_group **ga,
		   struct mls_group **gb)
{
	struct mls_kp_secret *kp = NULL;
	struct codec_writer cw, ww;
	const uint8_t *kpb;
	size_t kpl;
	int ok = 0;

	*ga = *gb = NULL;
	codec_writer_init_dynamic(&cw, 1 << 20);
	codec_writer_init_dynamic(&ww, 1 << 20);
	if (!CHECK_OK(mls_kp_create(&kp, &b->cfg)) ||
	    !CHECK_OK(mls_group_create(ga, &a->cfg, group_id,
				       sizeof(group_id), gc_ext,
				       sizeof(gc_ext))))
		goto out;
	kpb = mls_kp_bytes(kp, &kpl);
	if (!CHECK_OK(mls_group_add(*ga, kpb, kpl, &policy, NULL, &cw, &ww)) ||
	    !CHECK_OK(mls_group_apply(*ga)) ||
	    !CHECK_OK(mls_group_join(gb, &b->cfg, kp, ww.buf, ww.len,
				     &policy)))
		goto out;
	ok = CHECK_EQ_U64(mls_group_epoch(*ga), 1) &&
	     CHECK_EQ_U64(mls_group_epoch(*gb), 1) && same_exporter(*ga, *gb);
out:
	mls_kp_secret_free(kp);
	codec_writer_free(&cw);
	codec_writer_free(&ww);
	return ok;
}

/* c commits (public or private), p processes, c applies. */
static int rekey(struct mls_group *c, struct mls_group *p, bool public_msg)
{
	struct codec_writer w;
	struct mls_received r;
	uint8_t spi[4] = { 0xc0, 0x00, 0x01, 0x02 };
	struct mls_commit_opts o = { spi, sizeof(spi), public_msg };
	uint8_t staged[32], got[32];
	uint64_t e = mls_group_epoch(c);
	int ok = 0;

	codec_writer_init_dynamic(&w, 1 << 20);
	if (!CHECK_OK(mls_group_commit(c, &o, &w)) ||
	    !CHECK(mls_group_has_staged(c)) ||
	    !CHECK_OK(mls_group_export(c, true, (const uint8_t *)"x", 1, NULL,
				       0, staged, sizeof(staged))) ||
	    !CHECK_OK(mls_group_process(p, w.buf, w.len, &r)))
		goto out;
	ok = CHECK(r.content_type == MLS_CONTENT_COMMIT) &&
	     CHECK(r.ad_len == sizeof(spi)) &&
	     CHECK_MEM(r.authenticated_data, spi, sizeof(spi)) &&
	     CHECK_EQ_U64(mls_group_epoch(p), e + 1) &&
	     CHECK_OK(mls_group_export(p, false, (const uint8_t *)"x", 1, NULL,
				       0, got, sizeof(got))) &&
	     CHECK_MEM(got, staged, sizeof(got)) &&
	     CHECK_OK(mls_group_apply(c)) && CHECK_EQ_U64(mls_group_epoch(c),
							 e + 1);
out:
	codec_writer_free(&w);
	return ok;
}

static const uint16_t suites[] = { 0x0001, 0x0003, 0xF00D };

static void same_state_after(struct mls_group *g, const uint8_t *msg,
			     size_t len, int want, const char *name);

static void test_life_cycle(void)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		struct member a, b;
		struct mls_group *ga = NULL, *gb = NULL;
		const uint8_t *id, *pk, *ext;
		size_t idl, pkl, extl;
		uint8_t aa[64], ab[64];
		size_t la, lb;

		test_begin("life_cycle suite 0x%04x", suites[i]);
		member_init(&a, suites[i], "gw-a");
		member_init(&b, suites[i], "gw-b");
		if (!pair_up(&a, &b, &ga, &gb))
			goto next;
		CHECK(mls_group_my_index(ga) == 0 &&
		      mls_group_my_index(gb) == 1);
		CHECK(mls_group_suite(gb) == suites[i]);
		ext = mls_group_context_extensions(gb, &extl);
		CHECK(extl == sizeof(gc_ext) && CHECK_MEM(ext, gc_ext, extl));
		if (CHECK_OK(mls_group_peer(gb, &id, &idl, &pk, &pkl)))
			CHECK(idl == 4 && CHECK_MEM(id, "gw-a", 4) &&
			      pkl == 32 && CHECK_MEM(pk, a.pk, 32));
		if (CHECK_OK(mls_group_peer(ga, &id, &idl, &pk, &pkl)))
			CHECK(idl == 4 && CHECK_MEM(id, "gw-b", 4) &&
			      CHECK_MEM(pk, b.pk, 32));
		app_message(ga, gb, "hello from a");
		app_message(gb, ga, "hello from b");
		for (int k = 0; k < 10; k++) {
			bool a_commits = k % 2 == 0;

			if (!rekey(a_commits ? ga : gb, a_commits ? gb : ga,
				   k % 3 == 0) ||
			    !same_exporter(ga, gb) ||
			    !app_message(ga, gb, "a to b") ||
			    !app_message(gb, ga, "b to a"))
				break;
		}
		CHECK_EQ_U64(mls_group_epoch(ga), 11);
		if (CHECK_OK(mls_group_epoch_authenticator(ga, aa, sizeof(aa),
							   &la)) &&
		    CHECK_OK(mls_group_epoch_authenticator(gb, ab, sizeof(ab),
							   &lb)))
			CHECK(la == lb && CHECK_MEM(aa, ab, la));
	next:
		mls_group_free(ga);
		mls_group_free(gb);
		test_end();
	}
}

/* Staging: discard leaves the epoch; a peer commit while ours is staged
 * is refused until we discard ours. */
static void test_staging(void)
{
	struct member a, b;
	struct mls_group *ga = NULL, *gb = NULL;
	struct codec_writer wa, wb;
	struct mls_received r;
	uint8_t buf[16];

	member_init(&a, 1, "gw-a");
	member_init(&b, 1, "gw-b");
	codec_writer_init_dynamic(&wa, 1 << 20);
	codec_writer_init_dynamic(&wb, 1 << 20);
	if (!pair_up(&a, &b, &ga, &gb))
		goto out;
	CHECK_RC(mls_group_apply(ga), EPOCH_ERR_STATE);
	CHECK_RC(mls_group_discard(ga), EPOCH_ERR_STATE);
	CHECK_RC(mls_group_export(ga, true, NULL, 0, NULL, 0, buf, sizeof(buf)),
		 EPOCH_ERR_STATE);
	if (!CHECK_OK(mls_group_commit(ga, NULL, &wa)))
		goto out;
	CHECK_RC(mls_group_commit(ga, NULL, &wa), EPOCH_ERR_STATE);
	CHECK_OK(mls_group_discard(ga));
	CHECK(!mls_group_has_staged(ga));
	CHECK_EQ_U64(mls_group_epoch(ga), 1);
	/* Both commit the same epoch; B's wins, A must discard first. */
	wa.len = 0;
	if (!CHECK_OK(mls_group_commit(ga, NULL, &wa)) ||
	    !CHECK_OK(mls_group_commit(gb, NULL, &wb)))
		goto out;
	CHECK_RC(mls_group_process(ga, wb.buf, wb.len, &r), EPOCH_ERR_STATE);
	CHECK_OK(mls_group_discard(ga));
	CHECK_OK(mls_group_process(ga, wb.buf, wb.len, &r));
	CHECK_OK(mls_group_apply(gb));
	/* A's discarded commit is for a past epoch now. */
	CHECK_RC(mls_group_process(gb, wa.buf, wa.len, &r), EPOCH_ERR_EPOCH);
	same_exporter(ga, gb);
	app_message(ga, gb, "after the collision");
	rekey(ga, gb, false);
	same_exporter(ga, gb);
out:
	codec_writer_free(&wa);
	codec_writer_free(&wb);
	mls_group_free(ga);
	mls_group_free(gb);
}

/* DESIGN.md §4 as the daemon runs it: the committer keeps its commit
 * staged, the peer applies it and answers with an application message of
 * the new epoch (EPOCH_ACK); the committer's process authenticates that
 * with the staged keys and applies its commit. A tampered acknowledgement
 * changes nothing. */
static void test_staged_ack(void)
{
	struct member a, b;
	struct mls_group *ga = NULL, *gb = NULL;
	struct codec_writer c, ack;
	struct mls_received r;
	static const uint8_t spi[4] = { 0xc0, 0, 0, 7 };

	member_init(&a, 0xF00D, "gw-a");
	member_init(&b, 0xF00D, "gw-b");
	codec_writer_init_dynamic(&c, 1 << 20);
	codec_writer_init_dynamic(&ack, 1 << 20);
	if (!pair_up(&a, &b, &ga, &gb) ||
	    !CHECK_OK(mls_group_commit(ga, NULL, &c)) ||
	    !CHECK_OK(mls_group_process(gb, c.buf, c.len, &r)) ||
	    !CHECK_OK(mls_group_encrypt(gb, NULL, 0, spi, sizeof(spi), &ack)))
		goto out;
	ack.buf[ack.len - 2] ^= 1;
	same_state_after(ga, ack.buf, ack.len, EPOCH_ERR_AUTH,
			 "tampered acknowledgement");
	CHECK(mls_group_has_staged(ga));
	CHECK_EQ_U64(mls_group_epoch(ga), 1);
	ack.buf[ack.len - 2] ^= 1;
	if (CHECK_OK(mls_group_process(ga, ack.buf, ack.len, &r))) {
		CHECK(!mls_group_has_staged(ga));
		CHECK_EQ_U64(mls_group_epoch(ga), 2);
		CHECK_EQ_U64(r.epoch, 2);
		CHECK(r.content_type == MLS_CONTENT_APPLICATION &&
		      r.app_len == sizeof(spi) &&
		      CHECK_MEM(r.application_data, spi, sizeof(spi)));
		same_exporter(ga, gb);
		app_message(ga, gb, "in the new epoch");
	}
	/* The acknowledgement again: a replay. */
	CHECK_RC(mls_group_process(ga, ack.buf, ack.len, &r),
		 EPOCH_ERR_GENERATION);
out:
	codec_writer_free(&c);
	codec_writer_free(&ack);
	mls_group_free(ga);
	mls_group_free(gb);
}

/* ---- KeyPackage validation ------------------------------------------------ */

enum kp_mut {
	KPM_SIGNATURE, KPM_SUITE, KPM_VERSION, KPM_SOURCE, KPM_DUP_INIT,
	KPM_CAPS_SUITE, KPM_CAPS_CRED, KPM_X509, KPM_INIT_LEN, KPM_LEAF_EXT,
	KPM_TRUNCATED, KPM_LEAF_SIGNATURE,
};

/* B's KeyPackage with one mutation, re-signed with B's key unless the
 * mutation is the signature itself. */
static int mutated_kp(const struct member *b, const struct mls_kp_secret *kp,
		      enum kp_mut mut, struct codec_writer *out)
{
	const struct mls_suite *s = mls_suite_get(b->cfg.suite);
	struct mls_message *m = calloc(1, sizeof(*m));
	struct mls_key_package *k;
	uint8_t lsig[64], ksig[64], short_key[31] = { 0 };
	static const uint8_t cert[] = { 0x30, 0x00 };
	const uint8_t *p;
	size_t len;
	int ok = 0;

	p = mls_kp_bytes(kp, &len);
	if (!m || !CHECK_OK(mls_message_decode_all(p, len, m)))
		goto out;
	k = &m->u.key_package;
	switch (mut) {
	case KPM_SUITE:
		k->cipher_suite = 3;
		k->leaf_node.capabilities.cipher_suites.v[0] = 3;
		break;
	case KPM_SOURCE:
		k->leaf_node.source = MLS_LEAF_SRC_UPDATE;
		break;
	case KPM_DUP_INIT:
		k->init_key = k->leaf_node.encryption_key;
		break;
	case KPM_CAPS_SUITE:
		k->leaf_node.capabilities.cipher_suites.v[0] = 0x0A0A;
		break;
	case KPM_CAPS_CRED:
		k->leaf_node.capabilities.credentials.v[0] = MLS_CRED_X509;
		break;
	case KPM_X509:
		k->leaf_node.capabilities.credentials.v[0] = MLS_CRED_X509;
		k->leaf_node.credential.type = MLS_CRED_X509;
		k->leaf_node.credential.n_certs = 1;
		k->leaf_node.credential.certs[0].p = cert;
		k->leaf_node.credential.certs[0].len = sizeof(cert);
		break;
	case KPM_INIT_LEN:
		k->init_key.p = short_key;
		k->init_key.len = sizeof(short_key);
		break;
	case KPM_LEAF_EXT:
		/* a leaf extension its capabilities do not list */
		k->leaf_node.extensions.n = 1;
		k->leaf_node.extensions.v[0].type = 0xF0F0;
		k->leaf_node.extensions.v[0].data.p = cert;
		k->leaf_node.extensions.v[0].data.len = sizeof(cert);
		break;
	default:
		break;
	}
	if (mut != KPM_SIGNATURE && mut != KPM_LEAF_SIGNATURE &&
	    mut != KPM_TRUNCATED && mut != KPM_VERSION) {
		if (!CHECK_OK(mls_leaf_node_sign(s, &k->leaf_node, b->sk, 32,
						 NULL, 0, 0, lsig,
						 sizeof(lsig))) ||
		    !CHECK_OK(mls_key_package_sign(s, k, b->sk, 32, ksig)))
			goto out;
	}
	if (mut == KPM_LEAF_SIGNATURE) {
		/* a valid KeyPackage signature over a broken leaf one */
		memcpy(lsig, k->leaf_node.signature.p, 64);
		lsig[5] ^= 0x40;
		k->leaf_node.signature.p = lsig;
		if (!CHECK_OK(mls_key_package_sign(s, k, b->sk, 32, ksig)))
			goto out;
	}
	codec_write_u16(out, mut == KPM_VERSION ? 2 : 1);
	codec_write_u16(out, MLS_WIRE_KEY_PACKAGE);
	mls_key_package_encode(out, k);
	if (mut == KPM_SIGNATURE)
		out->buf[out->len - 1] ^= 1;
	if (mut == KPM_TRUNCATED)
		out->len -= 10;
	ok = CHECK_OK(codec_writer_error(out));
out:
	free(m);
	return ok;
}

static int reject_kp(void *ctx, const struct mls_credential *cred,
		     const uint8_t *pk, size_t len)
{
	(void)ctx;
	(void)cred;
	(void)pk;
	(void)len;
	return EPOCH_ERR_CREDENTIAL;
}

static void test_kp_validation(void)
{
	static const struct {
		enum kp_mut mut;
		int want;
		const char *name;
	} cases[] = {
		{ KPM_SIGNATURE, EPOCH_ERR_SIGNATURE, "KeyPackage signature" },
		{ KPM_LEAF_SIGNATURE, EPOCH_ERR_SIGNATURE, "LeafNode signature" },
		{ KPM_SUITE, EPOCH_ERR_SUITE, "other cipher suite" },
		{ KPM_VERSION, EPOCH_ERR_SUITE, "protocol version 2" },
		{ KPM_SOURCE, EPOCH_ERR_LEAF_SOURCE, "leaf source update" },
		{ KPM_DUP_INIT, EPOCH_ERR_DUPLICATE_KEY, "init key = leaf key" },
		{ KPM_CAPS_SUITE, EPOCH_ERR_CAPABILITIES, "suite not in caps" },
		{ KPM_CAPS_CRED, EPOCH_ERR_CAPABILITIES, "basic not in caps" },
		{ KPM_X509, EPOCH_ERR_CREDENTIAL, "x509 credential" },
		{ KPM_INIT_LEN, EPOCH_ERR_INVALID_KEY, "init key length" },
		{ KPM_LEAF_EXT, EPOCH_ERR_CAPABILITIES,
		  "leaf extension not in caps" },
		{ KPM_TRUNCATED, EPOCH_ERR_TRUNCATED, "truncated" },
	};
	struct member a, b, c;
	struct mls_group *ga = NULL;
	struct mls_kp_secret *kp = NULL;
	struct codec_writer w, cw, ww;
	const uint8_t *p;
	size_t len;

	member_init(&a, 1, "gw-a");
	member_init(&b, 1, "gw-b");
	codec_writer_init_dynamic(&cw, 1 << 20);
	codec_writer_init_dynamic(&ww, 1 << 20);
	if (!CHECK_OK(mls_group_create(&ga, &a.cfg, group_id,
				       sizeof(group_id), NULL, 0)) ||
	    !CHECK_OK(mls_kp_create(&kp, &b.cfg)))
		goto out;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		codec_writer_init_dynamic(&w, 1 << 20);
		if (mutated_kp(&b, kp, cases[i].mut, &w) &&
		    test_check_rc(mls_group_add(ga, w.buf, w.len, &policy,
						NULL, &cw, &ww),
				  cases[i].want, cases[i].name, __FILE__,
				  __LINE__))
			CHECK(cw.len == 0 && ww.len == 0 &&
			      !mls_group_has_staged(ga));
		codec_writer_free(&w);
	}
	p = mls_kp_bytes(kp, &len);
	/* Lifetime: the same KeyPackage, judged at other times. */
	struct mls_policy early = { .now = NOW - 7200 };
	struct mls_policy late = { .now = NOW + 86401 };
	struct mls_policy no = { .now = NOW, .accept_credential = reject_kp };
	CHECK_RC(mls_group_add(ga, p, len, &early, NULL, &cw, &ww),
		 EPOCH_ERR_LIFETIME);
	CHECK_RC(mls_group_add(ga, p, len, &late, NULL, &cw, &ww),
		 EPOCH_ERR_LIFETIME);
	CHECK_RC(mls_group_add(ga, p, len, &no, NULL, &cw, &ww),
		 EPOCH_ERR_CREDENTIAL);
	/* A KeyPackage with our own signature key. */
	member_init(&c, 1, "gw-c");
	memcpy(c.sk, a.sk, 32);
	memcpy(c.pk, a.pk, 32);
	{
		struct mls_kp_secret *kc = NULL;
		const uint8_t *q;
		size_t ql;

		if (CHECK_OK(mls_kp_create(&kc, &c.cfg))) {
			q = mls_kp_bytes(kc, &ql);
			CHECK_RC(mls_group_add(ga, q, ql, &policy, NULL, &cw,
					       &ww),
				 EPOCH_ERR_DUPLICATE_KEY);
		}
		mls_kp_secret_free(kc);
	}
	/* A group whose GroupContext has an extension B does not support. */
	{
		struct mls_group *gx = NULL;

		if (CHECK_OK(mls_group_create(&gx, &a.cfg, group_id,
					      sizeof(group_id), gc_ext_unknown,
					      sizeof(gc_ext_unknown))))
			CHECK_RC(mls_group_add(gx, p, len, &policy, NULL, &cw,
					       &ww),
				 EPOCH_ERR_CAPABILITIES);
		mls_group_free(gx);
	}
	/* After all that the group is untouched and the real one works. */
	CHECK(cw.len == 0 && ww.len == 0 && mls_group_epoch(ga) == 0);
	if (CHECK_OK(mls_group_add(ga, p, len, &policy, NULL, &cw, &ww))) {
		/* A Welcome where a KeyPackage belongs. */
		CHECK_OK(mls_group_discard(ga));
		CHECK_RC(mls_group_add(ga, ww.buf, ww.len, &policy, NULL, &cw,
				       &ww),
			 EPOCH_ERR_MALFORMED);
	}
out:
	codec_writer_free(&cw);
	codec_writer_free(&ww);
	mls_kp_secret_free(kp);
	mls_group_free(ga);
}

/* ---- Welcome validation ----------------------------------------------------- */

static void test_welcome_validation(void)
{
	static const struct {
		unsigned forge;
		int want;
		const char *name;
	} cases[] = {
		{ MLS_FORGE_GI_SIGNATURE, EPOCH_ERR_SIGNATURE, "GroupInfo sig" },
		{ MLS_FORGE_GI_TREE_HASH, EPOCH_ERR_TREE_HASH, "tree hash" },
		{ MLS_FORGE_GI_CONFIRMATION, EPOCH_ERR_CONFIRMATION,
		  "confirmation tag" },
		{ MLS_FORGE_GI_NO_TREE, EPOCH_ERR_TREE, "no ratchet tree" },
		{ MLS_FORGE_GI_SIGNER, EPOCH_ERR_SENDER, "signer not a leaf" },
		{ MLS_FORGE_GS_PSK, EPOCH_ERR_UNSUPPORTED, "PSK in secrets" },
		{ MLS_FORGE_GI_SUITE, EPOCH_ERR_SUITE, "GroupContext suite" },
	};
	struct member a, b, b2;
	struct mls_group *ga = NULL, *gb = NULL;
	struct mls_kp_secret *kp = NULL, *kp2 = NULL;
	struct codec_writer cw, ww;
	struct mls_policy no = { .now = NOW, .accept_credential = reject_kp };
	const uint8_t *p;
	size_t len;

	member_init(&a, 1, "gw-a");
	member_init(&b, 1, "gw-b");
	member_init(&b2, 1, "gw-b2");
	codec_writer_init_dynamic(&cw, 1 << 20);
	codec_writer_init_dynamic(&ww, 1 << 20);
	if (!CHECK_OK(mls_group_create(&ga, &a.cfg, group_id,
				       sizeof(group_id), NULL, 0)) ||
	    !CHECK_OK(mls_kp_create(&kp, &b.cfg)) ||
	    !CHECK_OK(mls_kp_create(&kp2, &b2.cfg)))
		goto out;
	p = mls_kp_bytes(kp, &len);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cw.len = ww.len = 0;
		if (!CHECK_OK(mls_group_commit_forged(ga, NULL, cases[i].forge,
						      p, len, &policy, &cw,
						      &ww)))
			continue;
		test_check_rc(mls_group_join(&gb, &b.cfg, kp, ww.buf, ww.len,
					     &policy),
			      cases[i].want, cases[i].name, __FILE__,
			      __LINE__);
		CHECK(gb == NULL);
		CHECK_OK(mls_group_discard(ga));
	}
	cw.len = ww.len = 0;
	if (!CHECK_OK(mls_group_add(ga, p, len, &policy, NULL, &cw, &ww)))
		goto out;
	/* Someone else's Welcome, a tampered one, a wrong suite, a peer our
	 * policy refuses. */
	CHECK_RC(mls_group_join(&gb, &b2.cfg, kp2, ww.buf, ww.len, &policy),
		 EPOCH_ERR_INVALID_ARG);
	ww.buf[ww.len - 3] ^= 1;
	CHECK_RC(mls_group_join(&gb, &b.cfg, kp, ww.buf, ww.len, &policy),
		 EPOCH_ERR_AUTH);
	ww.buf[ww.len - 3] ^= 1;
	b.cfg.suite = 3;
	CHECK_RC(mls_group_join(&gb, &b.cfg, kp, ww.buf, ww.len, &policy),
		 EPOCH_ERR_SUITE);
	b.cfg.suite = 1;
	CHECK_RC(mls_group_join(&gb, &b.cfg, kp, ww.buf, ww.len, &no),
		 EPOCH_ERR_CREDENTIAL);
	CHECK_RC(mls_group_join(&gb, &b.cfg, kp, cw.buf, cw.len, &policy),
		 EPOCH_ERR_MALFORMED);
	/* A signature key pair that does not belong together; a Welcome
	 * over the size limit. */
	{
		struct member bad = b;
		uint8_t *big = calloc(1, (1u << 20) + 1);

		bad.cfg.sig_pk = a.pk;
		CHECK_RC(mls_group_join(&gb, &bad.cfg, kp, ww.buf, ww.len,
					&policy),
			 EPOCH_ERR_INVALID_KEY);
		if (CHECK(big != NULL))
			CHECK_RC(mls_group_join(&gb, &b.cfg, kp, big,
						(1u << 20) + 1, &policy),
				 EPOCH_ERR_TOO_LONG);
		free(big);
	}
	/* None of that burned the KeyPackage. */
	CHECK_OK(mls_group_apply(ga));
	if (CHECK_OK(mls_group_join(&gb, &b.cfg, kp, ww.buf, ww.len,
				    &policy)))
		same_exporter(ga, gb);
out:
	codec_writer_free(&cw);
	codec_writer_free(&ww);
	mls_kp_secret_free(kp);
	mls_kp_secret_free(kp2);
	mls_group_free(ga);
	mls_group_free(gb);
}

/* ---- commit and message validation --------------------------------------- */

/* g refuses msg with `want` and its whole saved state (secret-tree
 * positions included) is byte-for-byte what it was: "on any error the
 * group is unchanged". */
static void same_state_after(struct mls_group *g, const uint8_t *msg,
			     size_t len, int want, const char *name)
{
	struct codec_writer before, after;
	struct mls_received r;

	codec_writer_init_dynamic(&before, 1 << 20);
	codec_writer_init_dynamic(&after, 1 << 20);
	if (CHECK_OK(mls_group_save(g, &before)) &&
	    test_check_rc(mls_group_process(g, msg, len, &r), want, name,
			  __FILE__, __LINE__) &&
	    CHECK_OK(mls_group_save(g, &after)))
		if (!CHECK(after.len == before.len) ||
		    !CHECK_MEM(after.buf, before.buf, before.len))
			test_note("state changed by: %s", name);
	codec_writer_free(&before);
	codec_writer_free(&after);
}

static void test_commit_validation(void)
{
	static const struct {
		unsigned forge;
		bool public_msg;
		int want;
		const char *name;
	} cases[] = {
		{ MLS_FORGE_SIGNATURE, false, EPOCH_ERR_SIGNATURE, "signature" },
		{ MLS_FORGE_SIGNATURE, true, EPOCH_ERR_SIGNATURE,
		  "signature (public, valid membership tag)" },
		{ MLS_FORGE_CONFIRMATION, false, EPOCH_ERR_CONFIRMATION,
		  "confirmation tag" },
		{ MLS_FORGE_CONFIRMATION, true, EPOCH_ERR_CONFIRMATION,
		  "confirmation tag (public, valid membership tag)" },
		{ MLS_FORGE_MEMBERSHIP, true, EPOCH_ERR_MEMBERSHIP,
		  "membership tag" },
		{ MLS_FORGE_EPOCH, false, EPOCH_ERR_EPOCH, "epoch (private)" },
		{ MLS_FORGE_EPOCH, true, EPOCH_ERR_EPOCH, "epoch (public)" },
		{ MLS_FORGE_GROUP_ID, true, EPOCH_ERR_EPOCH, "group id" },
		{ MLS_FORGE_NO_PATH, false, EPOCH_ERR_PROPOSAL, "no path" },
		{ MLS_FORGE_PROPOSAL, false, EPOCH_ERR_PROPOSAL, "proposal" },
		{ MLS_FORGE_IDENTITY, false, EPOCH_ERR_CREDENTIAL,
		  "new identity" },
		{ MLS_FORGE_SENDER, true, EPOCH_ERR_SENDER, "sender is me" },
		{ MLS_FORGE_SENDER, false, EPOCH_ERR_SENDER,
		  "sender is me (private)" },
	};
	struct member a, b;
	struct mls_group *ga = NULL, *gb = NULL;
	struct codec_writer w, app;
	struct mls_received r;

	member_init(&a, 1, "gw-a");
	member_init(&b, 1, "gw-b");
	codec_writer_init_dynamic(&w, 1 << 20);
	codec_writer_init_dynamic(&app, 1 << 20);
	if (!pair_up(&a, &b, &ga, &gb))
		goto out;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mls_commit_opts o = { .public_message =
						     cases[i].public_msg };

		w.len = 0;
		if (!CHECK_OK(mls_group_commit_forged(ga, &o, cases[i].forge,
						      NULL, 0, NULL, &w,
						      NULL)))
			continue;
		same_state_after(gb, w.buf, w.len, cases[i].want,
				 cases[i].name);
		CHECK_EQ_U64(mls_group_epoch(gb), 1);
		CHECK_OK(mls_group_discard(ga));
	}
	/* B is still in step with A. */
	same_exporter(ga, gb);
	rekey(ga, gb, false);

	/* Application messages: tampered, replayed, from an old epoch,
	 * garbage, a Welcome where a message should be. */
	w.len = 0;
	if (CHECK_OK(mls_group_encrypt(ga, NULL, 0, (const uint8_t *)"x", 1,
				       &w))) {
		w.buf[w.len - 1] ^= 1;
		same_state_after(gb, w.buf, w.len, EPOCH_ERR_AUTH,
				 "tampered application message");
	}
	if (CHECK_OK(mls_group_encrypt(ga, NULL, 0, (const uint8_t *)"y", 1,
				       &app))) {
		CHECK_OK(mls_group_process(gb, app.buf, app.len, &r));
		same_state_after(gb, app.buf, app.len, EPOCH_ERR_GENERATION,
				 "replayed application message");
	}
	app.len = 0;
	CHECK_OK(mls_group_encrypt(ga, NULL, 0, (const uint8_t *)"z", 1,
				   &app));
	rekey(gb, ga, true);
	CHECK_RC(mls_group_process(gb, app.buf, app.len, &r),
		 EPOCH_ERR_EPOCH);
	CHECK_RC(mls_group_process(gb, app.buf, 3, &r), EPOCH_ERR_TRUNCATED);
	app.buf[2] = 0;
	app.buf[3] = 9;
	CHECK_RC(mls_group_process(gb, app.buf, app.len, &r),
		 EPOCH_ERR_MALFORMED);
	same_exporter(ga, gb);
	app_message(ga, gb, "still fine");
	app_message(gb, ga, "still fine");
out:
	codec_writer_free(&w);
	codec_writer_free(&app);
	mls_group_free(ga);
	mls_group_free(gb);
}

/* Save and load: a restarted member carries on where it was, sends on
 * fresh generations (the peer would refuse a reused one), and refuses
 * damaged state. */
static void test_save_load(void)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		struct member a, b;
		struct mls_group *ga = NULL, *gb = NULL, *g2 = NULL;
		struct codec_writer w;

		test_begin("save_load suite 0x%04x", suites[i]);
		member_init(&a, suites[i], "gw-a");
		member_init(&b, suites[i], "gw-b");
		codec_writer_init_dynamic(&w, 1 << 20);
		if (!pair_up(&a, &b, &ga, &gb) || !rekey(gb, ga, false) ||
		    !app_message(ga, gb, "before") ||
		    !app_message(gb, ga, "before"))
			goto next;
		if (!CHECK_OK(mls_group_save(ga, &w)))
			goto next;
		CHECK_RC(mls_group_load(&g2, w.buf, w.len - 1, &rng.rng),
			 EPOCH_ERR_MALFORMED);
		CHECK(g2 == NULL);
		w.buf[0] ^= 1;
		CHECK_RC(mls_group_load(&g2, w.buf, w.len, &rng.rng),
			 EPOCH_ERR_MALFORMED);
		w.buf[0] ^= 1;
		codec_write_u8(&w, 0); /* a trailing byte */
		CHECK_RC(mls_group_load(&g2, w.buf, w.len, &rng.rng),
			 EPOCH_ERR_MALFORMED);
		w.len--;
		if (!CHECK_OK(mls_group_load(&g2, w.buf, w.len, &rng.rng)))
			goto next;
		mls_group_free(ga);
		ga = g2;
		CHECK_EQ_U64(mls_group_epoch(ga), 2);
		CHECK(mls_group_my_index(ga) == 0);
		same_exporter(ga, gb);
		app_message(ga, gb, "after the restart");
		app_message(gb, ga, "after the restart");
		rekey(ga, gb, false);
		rekey(gb, ga, true);
		same_exporter(ga, gb);
		app_message(ga, gb, "two epochs later");
	next:
		codec_writer_free(&w);
		mls_group_free(ga);
		mls_group_free(gb);
		test_end();
	}
}

/* A staged commit survives save/load (mls_group_save_ex): the reloaded
 * member applies it when the peer's message of the staged epoch arrives
 * (an EPOCH_ACK), or, when that message is the peer's next commit, applies
 * both (kohbrok §4.5: the resumption commit two epochs ahead). */
static void test_save_staged(void)
{
	for (int plus2 = 0; plus2 < 2; plus2++) {
		struct member a, b;
		struct mls_group *ga = NULL, *gb = NULL, *g2 = NULL;
		struct codec_writer w, c, m;
		struct mls_received r;
		struct mls_commit_opts o = { NULL, 0, false };

		test_begin("save_staged %s", plus2 ? "plus_two" : "ack");
		member_init(&a, 0x0001, "gw-a");
		member_init(&b, 0x0001, "gw-b");
		codec_writer_init_dynamic(&w, 1 << 20);
		codec_writer_init_dynamic(&c, 1 << 20);
		codec_writer_init_dynamic(&m, 1 << 20);
		if (!pair_up(&a, &b, &ga, &gb) ||
		    !CHECK_OK(mls_group_commit(ga, &o, &c)) ||
		    !CHECK_OK(mls_group_save_ex(ga, true, &w)))
			goto next;
		/* Without the staged part the bytes are shorter and load
		 * without one. */
		if (!CHECK_OK(mls_group_load(&g2, w.buf, w.len, &rng.rng)) ||
		    !CHECK(mls_group_has_staged(g2)) ||
		    !CHECK_EQ_U64(mls_group_epoch(g2), 1))
			goto next;
		mls_group_free(ga);
		ga = g2;
		g2 = NULL;
		if (!CHECK_OK(mls_group_process(gb, c.buf, c.len, &r)) ||
		    !CHECK_EQ_U64(mls_group_epoch(gb), 2))
			goto next;
		if (!plus2) {
			CHECK_OK(mls_group_encrypt(gb, NULL, 0,
						   (const uint8_t *)"ack", 3,
						   &m));
		} else {
			CHECK_OK(mls_group_commit(gb, &o, &m));
			CHECK_OK(mls_group_apply(gb));
		}
		if (!CHECK_OK(mls_group_process(ga, m.buf, m.len, &r)))
			goto next;
		CHECK(!mls_group_has_staged(ga));
		CHECK_EQ_U64(mls_group_epoch(ga), plus2 ? 3 : 2);
		CHECK_EQ_U64(mls_group_epoch(gb), plus2 ? 3 : 2);
		CHECK(r.content_type == (plus2 ? MLS_CONTENT_COMMIT :
						 MLS_CONTENT_APPLICATION));
		same_exporter(ga, gb);
		app_message(ga, gb, "after the resumption");
		app_message(gb, ga, "after the resumption");
	next:
		codec_writer_free(&w);
		codec_writer_free(&c);
		codec_writer_free(&m);
		mls_group_free(g2);
		mls_group_free(ga);
		mls_group_free(gb);
		test_end();
	}
}

int main(int argc, char **argv)
{
	(void)argc;
	test_rng_init(&rng, "test_mls_group");
	test_life_cycle();
	test_run("staging", test_staging);
	test_run("staged_ack", test_staged_ack);
	test_run("kp_validation", test_kp_validation);
	test_run("welcome_validation", test_welcome_validation);
	test_run("commit_validation", test_commit_validation);
	test_save_load();
	test_save_staged();
	return test_main_end(argv[0]);
}
