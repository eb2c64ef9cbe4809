/* MLS interop with ts-mls 1.6.4 (tests/interop/tsmls_peer.mjs, driven over
 * pipes by tests/interop/peer.c), for suite 0x0001 and the X-Wing suite
 * (ts-mls 1.6.4 number 0x0053, our alias of 0xF00D).
 *
 * Always built and run:
 *  - transport: the peer starts, answers, reports errors as "error ..."
 *    and stays usable, survives a 200 KB command line; a child that dies
 *    is detected and described; the peer's KeyPackage decodes with
 *    mls_message_decode_all and its KeyPackage and LeafNode signatures
 *    verify with our VerifyWithLabel.
 *
 * With proto/mls_group.c present (the Makefile then defines
 * EPOCHD_HAVE_MLS_GROUP), the group scenarios, per suite:
 *  1. ts-mls makes the KeyPackage, C validates it, creates the group, adds
 *     the peer and applies its commit, ts-mls joins from the Welcome;
 *  2. C makes the KeyPackage (mls_kp_create), ts-mls creates the group and
 *     adds C (a commit without UpdatePath), C joins (mls_group_join);
 *  then in each 20 epochs of path commits from alternating sides (some of
 *  the peer's as PublicMessage, one of ours with public_message), at every
 *  epoch equal MLS-Exporter("epochd test", epoch as u64, 32) and
 *  epoch_authenticator on both sides and one application message each way;
 *  and at the end a tampered commit each way and a replayed commit are
 *  rejected without changing the state.
 *
 * A missing node or ts-mls is a failure with a message, never a skip.
 * Run from the tree root; EPOCHD_NODE and EPOCHD_TSMLS_PEER override the
 * node binary and the peer script.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/codec.h"
#include "proto/crypto.h"
#include "proto/mls.h"
#include "tests/interop/peer.h"
#include "tests/lib/test.h"

struct suite_case {
	uint16_t suite;        /* what the C side is configured with */
	unsigned peer_suite;   /* ts-mls 1.6.4's number */
	const char *name;
	size_t hpke_pk_len;    /* init_key / encryption_key */
};

static const struct suite_case suites[] = {
	{ MLS_SUITE_X25519_AES128GCM_SHA256_ED25519, 1, "suite 0x0001", 32 },
	{ MLS_SUITE_XWING_AES256GCM_SHA512_ED25519_TSMLS16, 83,
	  "X-Wing 0x0053", 1216 },
};

static const char peer_identity[] = "tsmls-peer";

/* ---- reply checks -------------------------------------------------------- */

/* A reply that is neither a transport failure nor "error ...". */
static int reply_ok(struct peer *p, const char *r, const char *file,
		    int line)
{
	if (r == NULL) {
		test_fail(file, line, "%s", p->err[0] ? p->err :
			  "peer: no reply");
		return 0;
	}
	if (peer_is_error(r)) {
		test_fail(file, line, "peer %s: %.400s", p->name, r);
		return 0;
	}
	return 1;
}

static int reply_is(struct peer *p, const char *r, const char *want,
		    const char *file, int line)
{
	if (!reply_ok(p, r, file, line))
		return 0;
	if (strcmp(r, want) == 0)
		return 1;
	test_fail(file, line, "peer %s replied \"%.200s\", expected \"%s\"",
		  p->name, r, want);
	return 0;
}

/* A hex reply decoded into out (freed by the caller even on failure). */
static int reply_bytes(struct peer *p, const char *r, struct test_bytes *out,
		       const char *file, int line)
{
	out->p = NULL;
	out->len = 0;
	if (!reply_ok(p, r, file, line))
		return 0;
	if (peer_unhex(r, out) != 0) {
		test_fail(file, line, "peer %s: reply is not hex: \"%.200s\"",
			  p->name, r);
		return 0;
	}
	return 1;
}

#define REPLY_OK(p, r) reply_ok((p), (r), __FILE__, __LINE__)
#define REPLY_IS(p, r, want) reply_is((p), (r), (want), __FILE__, __LINE__)
#define REPLY_BYTES(p, r, out) reply_bytes((p), (r), (out), __FILE__, __LINE__)

/* An "error ..." reply: the peer refused, and the transport is fine. */
#define REPLY_ERROR(p, r)                                                   \
	(CHECK((r) != NULL) && CHECK(strncmp((r), "error ", 6) == 0))

static int start_peer(struct peer *p, const char *name,
		      const struct suite_case *sc, bool grease)
{
	char *id;
	int ok;

	if (peer_spawn_tsmls(p, name) != 0) {
		test_fail(__FILE__, __LINE__, "%s", p->err);
		return 0;
	}
	ok = REPLY_IS(p, peer_cmd(p, "suite %u", sc->peer_suite), "ok");
	id = peer_hex((const uint8_t *)peer_identity, strlen(peer_identity));
	ok = ok && CHECK(id != NULL) &&
	     REPLY_IS(p, peer_cmd(p, "identity %s", id), "ok");
	free(id);
	ok = ok && REPLY_IS(p, peer_cmd(p, "grease %s", grease ? "on" : "off"),
			    "ok");
	return ok;
}

/* Flips the lowest bit of the byte `from_end` bytes before the end. */
static void flip(struct test_bytes *b, size_t from_end)
{
	b->p[b->len - from_end] ^= 0x01;
}

/* ---- KeyPackage checks (decoder and signatures only) --------------------- */

/* Verifies the KeyPackage and LeafNode signatures of an MLSMessage holding
 * a KeyPackage, from the bytes: the TBS structures are the encodings up
 * to (not including) each signature's vector. Returns an EPOCH_* code. */
static int verify_kp_signatures(const struct suite_case *sc,
				const uint8_t *buf, size_t len,
				const struct mls_key_package *kp)
{
	const struct mls_suite *s = mls_suite_get(sc->suite);
	const struct mls_leaf_node *ln = &kp->leaf_node;
	const uint8_t *kp_start = buf + 4, *leaf_start, *leaf_end, *kp_end;
	int rc;

	if (s == NULL)
		return EPOCH_ERR_SUITE;
	leaf_start = kp->init_key.p + kp->init_key.len;
	leaf_end = ln->signature.p - codec_varint_size(ln->signature.len);
	kp_end = kp->signature.p - codec_varint_size(kp->signature.len);
	if (kp->signature.p + kp->signature.len != buf + len ||
	    leaf_end <= leaf_start || kp_end <= leaf_end)
		return EPOCH_ERR_MALFORMED;
	rc = mls_verify_with_label(s, ln->signature_key.p,
				   ln->signature_key.len, "LeafNodeTBS",
				   leaf_start, (size_t)(leaf_end - leaf_start),
				   ln->signature.p, ln->signature.len);
	if (rc != EPOCH_OK)
		return rc;
	return mls_verify_with_label(s, ln->signature_key.p,
				     ln->signature_key.len, "KeyPackageTBS",
				     kp_start, (size_t)(kp_end - kp_start),
				     kp->signature.p, kp->signature.len);
}

static bool u16_list_has(const struct mls_u16_list *l, uint16_t v)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == v)
			return true;
	return false;
}

/* ---- transport and the peer's KeyPackage (no group code needed) --------- */

static void transport_case(const struct suite_case *sc)
{
	struct test_bytes kp = { 0 }, sigpk = { 0 }, bad = { 0 };
	struct mls_message *m = calloc(1, sizeof(*m));
	struct peer p;
	const char *r;
	char info[128];
	char *big = NULL;

	memset(&p, 0, sizeof(p));
	p.in_fd = p.out_fd = -1;
	test_begin("%s: ts-mls peer transport and its KeyPackage", sc->name);
	if (!CHECK(m != NULL) || !start_peer(&p, "tsmls", sc, true))
		goto out;
	if (!REPLY_BYTES(&p, peer_cmd(&p, "signature_public_key"), &sigpk) ||
	    !CHECK(sigpk.len == 32))
		goto out;

	/* Refusals are replies, and the peer stays usable after them. */
	r = peer_cmd(&p, "info");
	REPLY_ERROR(&p, r);
	r = peer_cmd(&p, "no_such_command 00");
	REPLY_ERROR(&p, r);
	r = peer_cmd(&p, "process zz");
	REPLY_ERROR(&p, r);
	/* A long line (200 KB of hex) goes through whole: without a group
	 * the peer refuses at once, so it is sent again below with one. */
	big = calloc(1, 100000);
	if (CHECK(big != NULL)) {
		r = peer_cmd_hex(&p, "process", (const uint8_t *)big, 100000);
		if (REPLY_ERROR(&p, r))
			CHECK(strcmp(r, "error no group") == 0);
	}
	r = peer_cmd(&p, "signature_public_key");
	if (REPLY_OK(&p, r))
		CHECK(strcmp(r, test_tohex(sigpk.p, sigpk.len)) == 0);

	/* The KeyPackage: decode it and check what docs/mls-suites.md §4
	 * says ts-mls puts there. */
	if (!REPLY_BYTES(&p, peer_cmd(&p, "keypackage"), &kp))
		goto out;
	if (CHECK_OK(mls_message_decode_all(kp.p, kp.len, m))) {
		const struct mls_key_package *k = &m->u.key_package;
		const struct mls_leaf_node *ln = &k->leaf_node;

		CHECK_EQ_U64(m->version, MLS_PROTOCOL_VERSION_MLS10);
		CHECK_EQ_U64(m->wire_format, MLS_WIRE_KEY_PACKAGE);
		CHECK_EQ_U64(k->version, MLS_PROTOCOL_VERSION_MLS10);
		CHECK_EQ_U64(k->cipher_suite, sc->suite);
		CHECK_EQ_U64(k->init_key.len, sc->hpke_pk_len);
		CHECK_EQ_U64(ln->encryption_key.len, sc->hpke_pk_len);
		CHECK(k->init_key.len != ln->encryption_key.len ||
		      memcmp(k->init_key.p, ln->encryption_key.p,
			     k->init_key.len) != 0);
		CHECK_EQ_U64(ln->credential.type, MLS_CRED_BASIC);
		if (CHECK_EQ_U64(ln->credential.identity.len,
				 strlen(peer_identity)))
			CHECK_MEM(ln->credential.identity.p, peer_identity,
				  strlen(peer_identity));
		if (CHECK_EQ_U64(ln->signature_key.len, 32))
			CHECK_MEM(ln->signature_key.p, sigpk.p, 32);
		CHECK_EQ_U64(ln->source, MLS_LEAF_SRC_KEY_PACKAGE);
		CHECK_EQ_U64(ln->not_before, 0);
		CHECK_EQ_U64(ln->not_after, INT64_MAX);
		CHECK(u16_list_has(&ln->capabilities.versions,
				   MLS_PROTOCOL_VERSION_MLS10));
		CHECK(u16_list_has(&ln->capabilities.cipher_suites,
				   sc->peer_suite));
		CHECK(u16_list_has(&ln->capabilities.credentials,
				   MLS_CRED_BASIC));
		CHECK_OK(verify_kp_signatures(sc, kp.p, kp.len,
					      &m->u.key_package));
		/* A flipped signature bit no longer verifies. */
		bad.p = malloc(kp.len);
		bad.len = kp.len;
		if (CHECK(bad.p != NULL)) {
			memcpy(bad.p, kp.p, kp.len);
			flip(&bad, 1);
			if (CHECK_OK(mls_message_decode_all(bad.p, bad.len, m)))
				CHECK_RC(verify_kp_signatures(sc, bad.p,
						bad.len, &m->u.key_package),
					 EPOCH_ERR_SIGNATURE);
		}
	}

	/* A fresh group on the peer's side. */
	if (REPLY_IS(&p, peer_cmd(&p, "create_group 00112233"), "ok")) {
		snprintf(info, sizeof(info),
			 "suite=%u epoch=0 leaf=0 members=1 staged=0",
			 sc->peer_suite);
		REPLY_IS(&p, peer_cmd(&p, "info"), info);
		REPLY_IS(&p, peer_cmd(&p, "epoch"), "0");
		if (big != NULL) {
			r = peer_cmd_hex(&p, "process", (const uint8_t *)big,
					 100000);
			if (REPLY_ERROR(&p, r))
				CHECK(strcmp(r, "error cannot decode "
					     "MLSMessage") == 0);
		}
		REPLY_IS(&p, peer_cmd(&p, "info"), info);
	}
	if (!CHECK(peer_close(&p) == 0))
		test_fail(__FILE__, __LINE__, "%s", p.err[0] ? p.err :
			  "the peer did not exit with status 0");
out:
	peer_close(&p);
	test_bytes_free(&kp);
	test_bytes_free(&sigpk);
	test_bytes_free(&bad);
	free(big);
	free(m);
	test_end();
}

/* The transport notices a child that exits, and says how. */
static void transport_dead_child(void)
{
	char *argv[] = { "sh", "-c", "read line; echo half-a-line | tr -d "
			 "'\\n'; exit 3", NULL };
	struct peer p;

	if (!CHECK(peer_spawn(&p, "sh", argv) == 0)) {
		test_fail(__FILE__, __LINE__, "%s", p.err);
		return;
	}
	CHECK(peer_cmd(&p, "hello") == NULL);
	CHECK(p.dead);
	CHECK(strstr(p.err, "exited with status 3") != NULL);
	/* Later calls fail at once, and closing is still clean. */
	CHECK(peer_cmd(&p, "again") == NULL);
	CHECK(peer_close(&p) != 0);
	CHECK(p.pid == 0);

	/* A program that does not exist is an error, not a hang. */
	{
		char *nx[] = { "/nonexistent/epochd-no-such-program", NULL };

		CHECK(peer_spawn(&p, "nx", nx) != 0);
		CHECK(strstr(p.err, "cannot run") != NULL);
		CHECK(peer_cmd(&p, "x") == NULL);
		peer_close(&p);
	}
}

#ifdef EPOCHD_HAVE_MLS_GROUP

/* ---- the C member ---------------------------------------------------- */

#define EPOCHS 20
static const char c_identity[] = "epochd-c";
static const char exp_label[] = "epochd test";

struct c_member {
	uint8_t sk[32], pk[32];
	struct mls_member_config cfg;
};

static int c_member_init(struct c_member *c, uint16_t suite)
{
	uint64_t now = (uint64_t)time(NULL);

	memset(c, 0, sizeof(*c));
	if (crypto_ed25519_keygen(NULL, c->sk, c->pk) != EPOCH_OK)
		return -1;
	c->cfg.suite = suite;
	c->cfg.identity = (const uint8_t *)c_identity;
	c->cfg.identity_len = strlen(c_identity);
	c->cfg.sig_sk = c->sk;
	c->cfg.sig_pk = c->pk;
	/* ts-mls checks not_before <= now <= not_after on an Add. */
	c->cfg.not_before = now - 3600;
	c->cfg.not_after = now + 30 * 86400;
	c->cfg.rng = NULL;
	return 0;
}

/* The credential policy: we pin the peer's identity and signature key. */
struct pin {
	uint8_t sig_pk[32];
	unsigned calls;
};

static int pin_accept(void *ctx, const struct mls_credential *cred,
		      const uint8_t *sig_pk, size_t sig_pk_len)
{
	struct pin *pin = ctx;

	pin->calls++;
	if (cred->type != MLS_CRED_BASIC ||
	    cred->identity.len != strlen(peer_identity) ||
	    memcmp(cred->identity.p, peer_identity, cred->identity.len) != 0)
		return EPOCH_ERR_CREDENTIAL;
	if (sig_pk_len != 32 || memcmp(sig_pk, pin->sig_pk, 32) != 0)
		return EPOCH_ERR_CREDENTIAL;
	return EPOCH_OK;
}

/* The two sides of one scenario. */
struct pair {
	const struct suite_case *sc;
	const char *scen;
	struct peer p;
	struct mls_group *g;
	struct c_member c;
	struct pin pin;
	struct mls_policy pol;
	uint32_t peer_index;
	uint8_t last_export[32];
	bool have_last;
	unsigned n_c_public, n_peer_public;
};

static void u64_be(uint64_t v, uint8_t out[8])
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

/* The peer's `last_ad` (authenticated_data of the last message it
 * accepted) equals ad. */
static int peer_last_ad_is(struct pair *x, const uint8_t *ad, size_t ad_len)
{
	struct test_bytes got = { 0 };
	int ok = REPLY_BYTES(&x->p, peer_cmd(&x->p, "last_ad"), &got) &&
		 CHECK_EQ_U64(got.len, ad_len) && CHECK_MEM(got.p, ad, ad_len);

	test_bytes_free(&got);
	return ok;
}

/* Our exporter of the current (or staged) epoch for `epoch`'s context. */
static int c_export(struct pair *x, bool staged, uint64_t epoch,
		    uint8_t out[32])
{
	uint8_t ctx[8];

	u64_be(epoch, ctx);
	return mls_group_export(x->g, staged, (const uint8_t *)exp_label,
				strlen(exp_label), ctx, sizeof(ctx), out, 32);
}

/* Both sides in epoch `epoch` with the same exporter output and
 * epoch_authenticator; one application message each way. fresh: the
 * exporter must differ from the one seen last (a new epoch). */
static int check_epoch(struct pair *x, uint64_t epoch, bool fresh)
{
	struct test_bytes pexp = { 0 }, pauth = { 0 }, got = { 0 };
	struct codec_writer w;
	struct mls_received rcv;
	uint8_t cexp[32], auth[MLS_MAX_NH], ctx[8], pt[64], ad[8];
	char ep[24], *lab = NULL, *ctxh = NULL, *pth = NULL, *adh = NULL;
	size_t auth_len = 0, pt_len, ad_len;
	int ok = 1;
	const char *r;

	codec_writer_init_dynamic(&w, 1 << 20);
	snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
	ok &= CHECK_EQ_U64(mls_group_epoch(x->g), epoch);
	ok &= REPLY_IS(&x->p, peer_cmd(&x->p, "epoch"), ep);
	if (!ok)
		goto out;

	/* MLS-Exporter("epochd test", epoch as u64, 32). */
	u64_be(epoch, ctx);
	lab = peer_hex((const uint8_t *)exp_label, strlen(exp_label));
	ctxh = peer_hex(ctx, sizeof(ctx));
	ok &= CHECK(lab != NULL && ctxh != NULL);
	ok &= CHECK_OK(c_export(x, false, epoch, cexp));
	if (ok && REPLY_BYTES(&x->p, peer_cmd(&x->p, "export %s %s 32", lab,
					       ctxh), &pexp) &&
	    CHECK_EQ_U64(pexp.len, 32))
		ok &= CHECK_MEM(cexp, pexp.p, 32);
	else
		ok = 0;
	if (fresh && x->have_last)
		ok &= CHECK(memcmp(cexp, x->last_export, 32) != 0);
	memcpy(x->last_export, cexp, 32);
	x->have_last = true;

	/* epoch_authenticator (Nh bytes). */
	ok &= CHECK_OK(mls_group_epoch_authenticator(x->g, auth, sizeof(auth),
						     &auth_len));
	if (REPLY_BYTES(&x->p, peer_cmd(&x->p, "epoch_authenticator"),
			&pauth) && CHECK_EQ_U64(pauth.len, auth_len))
		ok &= CHECK_MEM(auth, pauth.p, auth_len);
	else
		ok = 0;

	/* Application messages carry authenticated_data in odd epochs
	 * (empty in even ones). */
	ad_len = epoch % 2 ? sizeof(ad) : 0;

	/* C -> peer: a PrivateMessage the peer decrypts to our bytes. */
	pt_len = snprintf((char *)pt, sizeof(pt), "c->ts-mls %s epoch %s",
			  x->scen, ep);
	if (pt_len > sizeof(pt) - 1)
		pt_len = sizeof(pt) - 1;
	u64_be(0x632d617070000000ull | epoch, ad);   /* "c-app" */
	if (CHECK_OK(mls_group_encrypt(x->g, ad, ad_len, pt, pt_len, &w)) &&
	    REPLY_BYTES(&x->p, peer_cmd_hex(&x->p, "decrypt", w.buf, w.len),
			&got) && CHECK_EQ_U64(got.len, pt_len))
		ok &= CHECK_MEM(got.p, pt, pt_len) &
		      peer_last_ad_is(x, ad, ad_len);
	else
		ok = 0;
	test_bytes_free(&got);

	/* peer -> C: ours decrypts the peer's application message. */
	pt_len = snprintf((char *)pt, sizeof(pt), "ts-mls->c %s epoch %s",
			  x->scen, ep);
	if (pt_len > sizeof(pt) - 1)
		pt_len = sizeof(pt) - 1;
	u64_be(0x74732d6170700000ull | epoch, ad);   /* "ts-app" */
	pth = peer_hex(pt, pt_len);
	adh = peer_hex(ad, ad_len);
	r = CHECK(pth != NULL && adh != NULL) ?
	    peer_cmd(&x->p, "encrypt %s %s", pth, adh) : NULL;
	if (REPLY_BYTES(&x->p, r, &got) &&
	    CHECK_OK(mls_group_process(x->g, got.p, got.len, &rcv))) {
		ok &= CHECK_EQ_U64(rcv.content_type, MLS_CONTENT_APPLICATION);
		ok &= CHECK_EQ_U64(rcv.sender, x->peer_index);
		ok &= CHECK_EQ_U64(rcv.epoch, epoch);
		if (CHECK_EQ_U64(rcv.ad_len, ad_len))
			ok &= CHECK_MEM(rcv.authenticated_data, ad, ad_len);
		else
			ok = 0;
		if (CHECK_EQ_U64(rcv.app_len, pt_len))
			ok &= CHECK_MEM(rcv.application_data, pt, pt_len);
		else
			ok = 0;
		ok &= CHECK_EQ_U64(mls_group_epoch(x->g), epoch);
	} else {
		ok = 0;
	}
out:
	test_bytes_free(&got);
	test_bytes_free(&pexp);
	test_bytes_free(&pauth);
	free(lab);
	free(ctxh);
	free(pth);
	free(adh);
	codec_writer_free(&w);
	return ok;
}

/* A path commit of ours: staged until the peer has processed it. */
static int c_commit(struct pair *x, bool public_message)
{
	struct codec_writer w;
	struct mls_message *m = calloc(1, sizeof(*m));
	uint64_t e = mls_group_epoch(x->g);
	uint8_t ad[8], staged_exp[32], now_exp[32];
	struct mls_commit_opts o = { 0 };
	char want[40];
	int ok = 1, have_staged;

	/* epochd puts the committer's inbound SPI in the AD. */
	u64_be(0x5350490000000000ull | e, ad);
	o.authenticated_data = ad;
	o.ad_len = sizeof(ad);
	o.public_message = public_message;
	codec_writer_init_dynamic(&w, 1 << 20);
	if (!CHECK(m != NULL) ||
	    !CHECK_OK(mls_group_commit(x->g, &o, &w))) {
		ok = 0;
		goto out;
	}
	ok &= CHECK(mls_group_has_staged(x->g));
	ok &= CHECK_EQ_U64(mls_group_epoch(x->g), e);
	/* The staged epoch's exporter, to compare once we have moved. */
	have_staged = CHECK_OK(c_export(x, true, e + 1, staged_exp));
	ok &= have_staged;
	/* What we sent, read back with our decoder. */
	if (CHECK_OK(mls_message_decode_all(w.buf, w.len, m))) {
		if (public_message) {
			const struct mls_framed_content *fc =
				&m->u.public_message.content;

			ok &= CHECK_EQ_U64(m->wire_format,
					   MLS_WIRE_PUBLIC_MESSAGE);
			ok &= CHECK_EQ_U64(fc->content_type,
					   MLS_CONTENT_COMMIT);
			ok &= CHECK_EQ_U64(fc->epoch, e);
			ok &= CHECK_EQ_U64(fc->sender.type, MLS_SENDER_MEMBER);
			ok &= CHECK_EQ_U64(fc->sender.index,
					   mls_group_my_index(x->g));
			ok &= CHECK(fc->commit.has_path);
			ok &= CHECK_EQ_U64(fc->commit.n_proposals, 0);
			if (CHECK_EQ_U64(fc->authenticated_data.len,
					 sizeof(ad)))
				ok &= CHECK_MEM(fc->authenticated_data.p, ad,
						sizeof(ad));
		} else {
			const struct mls_private_message *pm =
				&m->u.private_message;

			ok &= CHECK_EQ_U64(m->wire_format,
					   MLS_WIRE_PRIVATE_MESSAGE);
			ok &= CHECK_EQ_U64(pm->content_type,
					   MLS_CONTENT_COMMIT);
			ok &= CHECK_EQ_U64(pm->epoch, e);
			if (CHECK_EQ_U64(pm->authenticated_data.len,
					 sizeof(ad)))
				ok &= CHECK_MEM(pm->authenticated_data.p, ad,
						sizeof(ad));
		}
	} else {
		ok = 0;
	}
	snprintf(want, sizeof(want), "ok epoch %" PRIu64, e + 1);
	if (!REPLY_IS(&x->p, peer_cmd_hex(&x->p, "process", w.buf, w.len),
		      want)) {
		CHECK_OK(mls_group_discard(x->g));
		ok = 0;
		goto out;
	}
	/* ts-mls authenticated the same authenticated_data. */
	ok &= peer_last_ad_is(x, ad, sizeof(ad));
	/* The peer took it: now we move. */
	ok &= CHECK_OK(mls_group_apply(x->g));
	ok &= CHECK(!mls_group_has_staged(x->g));
	ok &= CHECK_EQ_U64(mls_group_epoch(x->g), e + 1);
	if (CHECK_OK(c_export(x, false, e + 1, now_exp)) && have_staged)
		ok &= CHECK_MEM(now_exp, staged_exp, 32);
	else
		ok = 0;
	if (public_message)
		x->n_c_public++;
out:
	codec_writer_free(&w);
	free(m);
	return ok;
}

/* A path commit of the peer's (PrivateMessage, or PublicMessage), with
 * authenticated_data (with_ad) or without. */
static int peer_commit(struct pair *x, bool public_message, bool with_ad)
{
	struct test_bytes c = { 0 };
	struct mls_message *m = calloc(1, sizeof(*m));
	struct mls_received rcv;
	uint64_t e = mls_group_epoch(x->g);
	uint8_t ad[8];
	size_t ad_len = with_ad ? sizeof(ad) : 0;
	char want[40], adh[2 * sizeof(ad) + 2];
	int ok = 1;

	u64_be(0x74732d7370690000ull | e, ad);   /* "ts-spi" */
	if (ad_len)
		snprintf(adh, sizeof(adh), "%s", test_tohex(ad, sizeof(ad)));
	else
		snprintf(adh, sizeof(adh), "-");
	if (!CHECK(m != NULL) ||
	    !REPLY_BYTES(&x->p, peer_cmd(&x->p, "%s %s", public_message ?
					 "commit_public" : "commit", adh),
			 &c)) {
		ok = 0;
		goto out;
	}
	snprintf(want, sizeof(want), "%" PRIu64, e);
	/* Staged on the peer's side: it stays in epoch e until merge. */
	ok &= REPLY_IS(&x->p, peer_cmd(&x->p, "epoch"), want);
	if (CHECK_OK(mls_message_decode_all(c.p, c.len, m))) {
		if (public_message) {
			const struct mls_framed_content *fc =
				&m->u.public_message.content;

			ok &= CHECK_EQ_U64(m->wire_format,
					   MLS_WIRE_PUBLIC_MESSAGE);
			ok &= CHECK_EQ_U64(fc->content_type,
					   MLS_CONTENT_COMMIT);
			ok &= CHECK_EQ_U64(fc->sender.index, x->peer_index);
			ok &= CHECK(fc->commit.has_path);
		} else {
			ok &= CHECK_EQ_U64(m->wire_format,
					   MLS_WIRE_PRIVATE_MESSAGE);
			ok &= CHECK_EQ_U64(m->u.private_message.content_type,
					   MLS_CONTENT_COMMIT);
		}
	} else {
		ok = 0;
	}
	if (!CHECK_OK(mls_group_process(x->g, c.p, c.len, &rcv))) {
		REPLY_OK(&x->p, peer_cmd(&x->p, "discard"));
		ok = 0;
		goto out;
	}
	ok &= CHECK_EQ_U64(rcv.content_type, MLS_CONTENT_COMMIT);
	ok &= CHECK_EQ_U64(rcv.sender, x->peer_index);
	ok &= CHECK_EQ_U64(rcv.epoch, e);
	if (CHECK_EQ_U64(rcv.ad_len, ad_len))
		ok &= CHECK_MEM(rcv.authenticated_data, ad, ad_len);
	else
		ok = 0;
	ok &= CHECK_EQ_U64(mls_group_epoch(x->g), e + 1);
	ok &= CHECK(!mls_group_has_staged(x->g));
	snprintf(want, sizeof(want), "ok epoch %" PRIu64, e + 1);
	ok &= REPLY_IS(&x->p, peer_cmd(&x->p, "merge"), want);
	if (public_message)
		x->n_peer_public++;
out:
	test_bytes_free(&c);
	free(m);
	return ok;
}

/* The peer's identity and key as our group sees them. */
static int check_group_peer(struct pair *x)
{
	const uint8_t *id = NULL, *pk = NULL;
	size_t id_len = 0, pk_len = 0;
	int ok;

	ok = CHECK_OK(mls_group_peer(x->g, &id, &id_len, &pk, &pk_len));
	if (!ok)
		return 0;
	if (CHECK_EQ_U64(id_len, strlen(peer_identity)))
		ok &= CHECK_MEM(id, peer_identity, id_len);
	else
		ok = 0;
	if (CHECK_EQ_U64(pk_len, 32))
		ok &= CHECK_MEM(pk, x->pin.sig_pk, 32);
	else
		ok = 0;
	return ok;
}

static int pair_start(struct pair *x, const struct suite_case *sc,
		      const char *scen)
{
	struct test_bytes pk = { 0 };
	int ok;

	memset(x, 0, sizeof(*x));
	x->sc = sc;
	x->scen = scen;
	x->p.pid = 0;
	x->p.in_fd = x->p.out_fd = -1;
	if (!CHECK(c_member_init(&x->c, sc->suite) == 0))
		return 0;
	/* GREASE on: the C parser must take ts-mls's real KeyPackages. */
	if (!start_peer(&x->p, "tsmls", sc, true))
		return 0;
	ok = REPLY_BYTES(&x->p, peer_cmd(&x->p, "signature_public_key"), &pk)
	     && CHECK_EQ_U64(pk.len, 32);
	if (ok)
		memcpy(x->pin.sig_pk, pk.p, 32);
	test_bytes_free(&pk);
	x->pol.now = (uint64_t)time(NULL);
	x->pol.accept_credential = pin_accept;
	x->pol.ctx = &x->pin;
	return ok;
}

static void pair_end(struct pair *x)
{
	if (x->p.pid > 0 && !CHECK(peer_close(&x->p) == 0))
		test_fail(__FILE__, __LINE__, "%s", x->p.err[0] ? x->p.err :
			  "the peer did not exit with status 0");
	else
		peer_close(&x->p);
	mls_group_free(x->g);
	x->g = NULL;
	crypto_wipe(x->c.sk, sizeof(x->c.sk));
}

/* Which commits go as PublicMessage in the epoch loop, counted per side
 * from 0: the peer's second and seventh, our fourth. */
static bool peer_public_at(unsigned k)
{
	return k == 1 || k == 6;
}

static bool c_public_at(unsigned k)
{
	return k == 3;
}

/* EPOCHS path commits, alternating; `c_first`: C commits in the first. */
static int run_epochs(struct pair *x, bool c_first)
{
	unsigned n_c = 0, n_peer = 0;

	for (int i = 0; i < EPOCHS; i++) {
		uint64_t e = mls_group_epoch(x->g);
		bool c_turn = (i % 2 == 0) == c_first;
		bool pub = c_turn ? c_public_at(n_c) : peer_public_at(n_peer);
		int ok;

		test_begin("%s: %s: epoch %" PRIu64 " (%s commits%s)",
			   x->sc->name, x->scen, e + 1, c_turn ? "C" : "ts-mls",
			   pub ? ", PublicMessage" : "");
		if (c_turn)
			ok = c_commit(x, pub);
		else
			ok = peer_commit(x, pub, n_peer != 0);
		if (c_turn)
			n_c++;
		else
			n_peer++;
		ok = ok && check_epoch(x, e + 1, true);
		if (!test_end() || !ok)
			return 0;
	}
	return 1;
}

/* After the epochs: what must be refused, refused without harm. */
static void negative_cases(struct pair *x)
{
	struct test_bytes c = { 0 };
	struct codec_writer w;
	struct mls_received rcv;
	struct mls_commit_opts o = { 0 };
	uint64_t e;
	char want[40];
	int rc;

	test_begin("%s: %s: tampered and replayed commits are rejected",
		   x->sc->name, x->scen);
	e = mls_group_epoch(x->g);

	/* A peer's commit with a flipped bit (in the AEAD tag or the
	 * signature, near the end) is rejected; the peer then drops it. */
	if (REPLY_BYTES(&x->p, peer_cmd(&x->p, "commit"), &c)) {
		flip(&c, 5);
		rc = mls_group_process(x->g, c.p, c.len, &rcv);
		CHECK(rc < 0);
		test_note("tampered peer commit: %s", result_name(rc));
		CHECK_EQ_U64(mls_group_epoch(x->g), e);
		REPLY_OK(&x->p, peer_cmd(&x->p, "discard"));
	}
	test_bytes_free(&c);
	check_epoch(x, e, false);

	/* Ours, tampered, is refused by ts-mls; we discard it. */
	codec_writer_init_dynamic(&w, 1 << 20);
	if (CHECK_OK(mls_group_commit(x->g, &o, &w))) {
		w.buf[w.len - 5] ^= 0x01;
		REPLY_ERROR(&x->p, peer_cmd_hex(&x->p, "process", w.buf,
						 w.len));
		CHECK_OK(mls_group_discard(x->g));
		CHECK(!mls_group_has_staged(x->g));
		CHECK_RC(mls_group_discard(x->g), EPOCH_ERR_STATE);
		CHECK_RC(mls_group_apply(x->g), EPOCH_ERR_STATE);
	}
	codec_writer_free(&w);
	check_epoch(x, e, false);

	/* A commit of the peer's, processed, then replayed. */
	if (REPLY_BYTES(&x->p, peer_cmd(&x->p, "commit"), &c) &&
	    CHECK_OK(mls_group_process(x->g, c.p, c.len, &rcv))) {
		snprintf(want, sizeof(want), "ok epoch %" PRIu64, e + 1);
		REPLY_IS(&x->p, peer_cmd(&x->p, "merge"), want);
		rc = mls_group_process(x->g, c.p, c.len, &rcv);
		CHECK(rc < 0);
		test_note("replayed peer commit: %s", result_name(rc));
		CHECK_EQ_U64(mls_group_epoch(x->g), e + 1);
		check_epoch(x, e + 1, true);
	}
	test_bytes_free(&c);
	test_end();
}

/* Scenario 1: ts-mls's KeyPackage, C creates the group and adds it. */
static void scenario_c_creates(const struct suite_case *sc)
{
	static const char scen[] = "C creates, ts-mls joins";
	struct test_bytes kp = { 0 };
	struct codec_writer cw, ww;
	struct mls_message *m = calloc(1, sizeof(*m));
	struct pair *x = calloc(1, sizeof(*x));
	struct mls_commit_opts o = { 0 };
	uint8_t gid[16];
	char info[128];
	int ok = 0;

	codec_writer_init_dynamic(&cw, 1 << 20);
	codec_writer_init_dynamic(&ww, 1 << 20);
	test_begin("%s: %s: handshake", sc->name, scen);
	if (!CHECK(m != NULL && x != NULL) || !pair_start(x, sc, scen))
		goto end;
	if (!REPLY_BYTES(&x->p, peer_cmd(&x->p, "keypackage"), &kp))
		goto end;
	if (!CHECK_OK(crypto_random(NULL, gid, sizeof(gid))) ||
	    !CHECK_OK(mls_group_create(&x->g, &x->c.cfg, gid, sizeof(gid),
				       NULL, 0)))
		goto end;
	CHECK_EQ_U64(mls_group_epoch(x->g), 0);
	CHECK_EQ_U64(mls_group_my_index(x->g), 0);
	CHECK_EQ_U64(mls_group_suite(x->g), sc->suite);
	CHECK_RC(mls_group_peer(x->g, &(const uint8_t *){ NULL },
				&(size_t){ 0 }, &(const uint8_t *){ NULL },
				&(size_t){ 0 }), EPOCH_ERR_STATE);
	if (!CHECK_OK(mls_group_add(x->g, kp.p, kp.len, &x->pol, &o, &cw,
				    &ww)))
		goto end;
	CHECK(x->pin.calls > 0);
	CHECK(mls_group_has_staged(x->g));
	CHECK_EQ_U64(mls_group_epoch(x->g), 0);
	if (CHECK_OK(mls_message_decode_all(ww.buf, ww.len, m))) {
		CHECK_EQ_U64(m->wire_format, MLS_WIRE_WELCOME);
		CHECK_EQ_U64(m->u.welcome.cipher_suite, sc->suite);
		CHECK_EQ_U64(m->u.welcome.n_secrets, 1);
	}
	if (!CHECK_OK(mls_group_apply(x->g)))
		goto end;
	CHECK_EQ_U64(mls_group_epoch(x->g), 1);
	x->peer_index = 1;
	if (!REPLY_IS(&x->p, peer_cmd_hex(&x->p, "join", ww.buf, ww.len),
		      "ok epoch 1"))
		goto end;
	snprintf(info, sizeof(info), "suite=%u epoch=1 leaf=1 members=2 "
		 "staged=0", sc->peer_suite);
	REPLY_IS(&x->p, peer_cmd(&x->p, "info"), info);
	check_group_peer(x);
	ok = check_epoch(x, 1, true);
end:
	ok = test_end() && ok;
	if (ok && run_epochs(x, false)) {
		test_begin("%s: %s: PublicMessage commits were exercised",
			   sc->name, scen);
		CHECK(x->n_c_public == 1);
		CHECK(x->n_peer_public == 2);
		test_end();
		negative_cases(x);
	}
	if (x != NULL) {
		test_begin("%s: %s: peer exits cleanly", sc->name, scen);
		pair_end(x);
		test_end();
	}
	test_bytes_free(&kp);
	codec_writer_free(&cw);
	codec_writer_free(&ww);
	free(m);
	free(x);
}

/* Scenario 2: C's KeyPackage, ts-mls creates the group and adds C. */
static void scenario_tsmls_creates(const struct suite_case *sc)
{
	static const char scen[] = "ts-mls creates, C joins";
	struct test_bytes cw = { 0 }, ww = { 0 };
	struct mls_message *m = calloc(1, sizeof(*m));
	struct pair *x = calloc(1, sizeof(*x));
	struct mls_kp_secret *kp = NULL;
	const uint8_t *kpb;
	size_t kp_len = 0;
	const char *r, *sp;
	int ok = 0;

	test_begin("%s: %s: handshake", sc->name, scen);
	if (!CHECK(m != NULL && x != NULL) || !pair_start(x, sc, scen))
		goto end;
	if (!CHECK_OK(mls_kp_create(&kp, &x->c.cfg)))
		goto end;
	kpb = mls_kp_bytes(kp, &kp_len);
	/* Our KeyPackage, read back with our decoder and verifier. */
	if (CHECK(kpb != NULL) &&
	    CHECK_OK(mls_message_decode_all(kpb, kp_len, m))) {
		CHECK_EQ_U64(m->wire_format, MLS_WIRE_KEY_PACKAGE);
		CHECK_EQ_U64(m->u.key_package.cipher_suite, sc->suite);
		CHECK_OK(verify_kp_signatures(sc, kpb, kp_len,
					      &m->u.key_package));
	}
	if (!REPLY_IS(&x->p, peer_cmd(&x->p, "create_group 65706f636864"),
		      "ok"))
		goto end;
	r = peer_cmd_hex(&x->p, "add", kpb, kp_len);
	if (!REPLY_OK(&x->p, r))
		goto end;
	sp = strchr(r, ' ');
	if (!CHECK(sp != NULL))
		goto end;
	{
		char *commit = strndup(r, (size_t)(sp - r));

		if (!CHECK(commit != NULL) ||
		    !CHECK(peer_unhex(commit, &cw) == 0) ||
		    !CHECK(peer_unhex(sp + 1, &ww) == 0)) {
			free(commit);
			goto end;
		}
		free(commit);
	}
	/* ts-mls's add commit carries no UpdatePath (docs/mls-suites.md
	 * §4); the Welcome is for our suite. */
	if (CHECK_OK(mls_message_decode_all(ww.p, ww.len, m))) {
		CHECK_EQ_U64(m->wire_format, MLS_WIRE_WELCOME);
		CHECK_EQ_U64(m->u.welcome.cipher_suite, sc->suite);
	}
	if (CHECK_OK(mls_message_decode_all(cw.p, cw.len, m)))
		CHECK_EQ_U64(m->wire_format, MLS_WIRE_PRIVATE_MESSAGE);
	if (!CHECK_OK(mls_group_join(&x->g, &x->c.cfg, kp, ww.p, ww.len,
				     &x->pol)))
		goto end;
	CHECK(x->pin.calls > 0);
	if (!REPLY_IS(&x->p, peer_cmd(&x->p, "merge"), "ok epoch 1"))
		goto end;
	CHECK_EQ_U64(mls_group_epoch(x->g), 1);
	CHECK_EQ_U64(mls_group_my_index(x->g), 1);
	CHECK_EQ_U64(mls_group_suite(x->g), sc->suite);
	CHECK(!mls_group_has_staged(x->g));
	x->peer_index = 0;
	check_group_peer(x);
	ok = check_epoch(x, 1, true);
end:
	mls_kp_secret_free(kp);
	ok = test_end() && ok;
	if (ok && run_epochs(x, true)) {
		test_begin("%s: %s: PublicMessage commits were exercised",
			   sc->name, scen);
		CHECK(x->n_c_public == 1);
		CHECK(x->n_peer_public == 2);
		test_end();
		negative_cases(x);
	}
	if (x != NULL) {
		test_begin("%s: %s: peer exits cleanly", sc->name, scen);
		pair_end(x);
		test_end();
	}
	test_bytes_free(&cw);
	test_bytes_free(&ww);
	free(m);
	free(x);
}

/* mls_group_add of a refused ts-mls KeyPackage fails with the specific
 * error and leaves the group as it was (epoch 0, nothing staged, nothing
 * written). */
static void add_refused(struct pair *x, const struct test_bytes *kp,
			int want)
{
	struct codec_writer cw, ww;
	struct mls_commit_opts o = { 0 };

	codec_writer_init_dynamic(&cw, 1 << 20);
	codec_writer_init_dynamic(&ww, 1 << 20);
	CHECK_RC(mls_group_add(x->g, kp->p, kp->len, &x->pol, &o, &cw, &ww),
		 want);
	CHECK(!mls_group_has_staged(x->g));
	CHECK_EQ_U64(mls_group_epoch(x->g), 0);
	CHECK_EQ_U64(cw.len, 0);
	CHECK_EQ_U64(ww.len, 0);
	codec_writer_free(&cw);
	codec_writer_free(&ww);
}

/* ts-mls KeyPackages our group must refuse: a key the policy does not
 * pin (EPOCH_ERR_CREDENTIAL), a broken signature (EPOCH_ERR_SIGNATURE),
 * another cipher suite (EPOCH_ERR_SUITE). */
static void scenario_refused_keypackages(const struct suite_case *sc)
{
	const struct suite_case *other = sc == &suites[0] ? &suites[1] :
					 &suites[0];
	struct test_bytes kp = { 0 };
	struct pair *x = calloc(1, sizeof(*x));
	uint8_t pinned[32];

	test_begin("%s: refused KeyPackages", sc->name);
	if (!CHECK(x != NULL) || !pair_start(x, sc, "refused") ||
	    !REPLY_BYTES(&x->p, peer_cmd(&x->p, "keypackage"), &kp) ||
	    !CHECK_OK(mls_group_create(&x->g, &x->c.cfg,
				       (const uint8_t *)"g", 1, NULL, 0)))
		goto end;
	/* Pin some other key. */
	memcpy(pinned, x->pin.sig_pk, 32);
	x->pin.sig_pk[0] ^= 0x01;
	add_refused(x, &kp, EPOCH_ERR_CREDENTIAL);
	memcpy(x->pin.sig_pk, pinned, 32);
	/* The right key, but the KeyPackage signature's last byte flipped. */
	flip(&kp, 1);
	add_refused(x, &kp, EPOCH_ERR_SIGNATURE);
	test_bytes_free(&kp);
	/* A KeyPackage for the other suite (the peer makes a new signature
	 * key with it; pin that one so only the suite is wrong). */
	if (REPLY_IS(&x->p, peer_cmd(&x->p, "suite %u", other->peer_suite),
		     "ok") &&
	    REPLY_BYTES(&x->p, peer_cmd(&x->p, "signature_public_key"), &kp) &&
	    CHECK_EQ_U64(kp.len, 32)) {
		memcpy(x->pin.sig_pk, kp.p, 32);
		test_bytes_free(&kp);
		if (REPLY_BYTES(&x->p, peer_cmd(&x->p, "keypackage"), &kp))
			add_refused(x, &kp, EPOCH_ERR_SUITE);
	}
	/* And the group still takes a good one. */
	test_bytes_free(&kp);
	if (REPLY_IS(&x->p, peer_cmd(&x->p, "suite %u", sc->peer_suite),
		     "ok") &&
	    REPLY_BYTES(&x->p, peer_cmd(&x->p, "signature_public_key"), &kp) &&
	    CHECK_EQ_U64(kp.len, 32)) {
		struct codec_writer cw, ww;
		struct mls_commit_opts o = { 0 };

		memcpy(x->pin.sig_pk, kp.p, 32);
		test_bytes_free(&kp);
		codec_writer_init_dynamic(&cw, 1 << 20);
		codec_writer_init_dynamic(&ww, 1 << 20);
		if (REPLY_BYTES(&x->p, peer_cmd(&x->p, "keypackage"), &kp) &&
		    CHECK_OK(mls_group_add(x->g, kp.p, kp.len, &x->pol, &o,
					   &cw, &ww)))
			CHECK_OK(mls_group_discard(x->g));
		codec_writer_free(&cw);
		codec_writer_free(&ww);
	}
end:
	if (x != NULL)
		pair_end(x);
	test_end();
	test_bytes_free(&kp);
	free(x);
}

#endif /* EPOCHD_HAVE_MLS_GROUP */

int main(int argc, char **argv)
{
	size_t n = sizeof(suites) / sizeof(suites[0]);

	test_run("transport: a dying child is detected",
		 transport_dead_child);
	for (size_t i = 0; i < n; i++)
		transport_case(&suites[i]);
#ifdef EPOCHD_HAVE_MLS_GROUP
	for (size_t i = 0; i < n; i++) {
		scenario_c_creates(&suites[i]);
		scenario_tsmls_creates(&suites[i]);
		scenario_refused_keypackages(&suites[i]);
	}
#else
	printf("interop: proto/mls_group.c is not there yet: only the "
	       "transport and KeyPackage cases ran\n");
#endif
	return test_main_end(argc > 0 ? argv[0] : "interop");
}
