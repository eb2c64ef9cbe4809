/* key-schedule.json: GroupContext, key schedule (RFC 9420 §8), external
 * key pair and exporter (§8.5). */
#include <string.h>

#include "proto/codec.h"
#include "tests/mls/vectors.h"

#define F(name) { #name, offsetof(struct mls_epoch_secrets, name) }

static void epoch_case(const struct mls_suite *s, const struct json *e,
		       const struct test_bytes *group_id, uint64_t n,
		       uint8_t *init_secret)
{
	static const struct {
		const char *key;
		size_t off;
	} fields[] = {
		F(joiner_secret), F(welcome_secret), F(init_secret),
		F(sender_data_secret), F(encryption_secret),
		F(exporter_secret), F(epoch_authenticator), F(external_secret),
		F(confirmation_key), F(membership_key), F(resumption_psk),
	};
	struct test_bytes th = { 0 }, cth = { 0 }, commit = { 0 },
			  psk = { 0 }, gc_want = { 0 }, want = { 0 },
			  ext_pub = { 0 }, ectx = { 0 },
			  esecret = { 0 };
	struct mls_epoch_secrets es = { 0 };
	struct hpke_keypair kp = { 0 };
	struct codec_writer w;
	const struct json *exp = json_get(e, "exporter");
	uint8_t out[1024];
	uint64_t elen = 0;

	codec_writer_init_dynamic(&w, 1 << 16);
	if (vhex(e, "tree_hash", &th) || vhex(e, "confirmed_transcript_hash",
					       &cth) ||
	    vhex(e, "commit_secret", &commit) || vhex(e, "psk_secret", &psk) ||
	    vhex(e, "group_context", &gc_want) ||
	    vhex(e, "external_pub", &ext_pub) ||
	    !CHECK(commit.len == s->nh && psk.len == s->nh))
		goto out;
	struct mls_group_context gc = {
		.cipher_suite = s->id,
		.group_id = group_id->p,
		.group_id_len = group_id->len,
		.epoch = n,
		.tree_hash = th.p,
		.tree_hash_len = th.len,
		.confirmed_transcript_hash = cth.p,
		.confirmed_transcript_hash_len = cth.len,
	};
	if (!CHECK_OK(mls_group_context_encode(&w, &gc)) ||
	    !CHECK(w.len == gc_want.len) ||
	    !CHECK_MEM(w.buf, gc_want.p, gc_want.len))
		goto out;
	if (!CHECK_OK(mls_key_schedule(s, init_secret, commit.p, psk.p, w.buf,
				       w.len, &es)))
		goto out;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (vhex(e, fields[i].key, &want))
			goto out;
		if (!CHECK(want.len == s->nh) ||
		    !CHECK_MEM((uint8_t *)&es + fields[i].off, want.p,
			       want.len))
			test_note("field %s", fields[i].key);
		test_bytes_free(&want);
	}
	if (CHECK_OK(mls_external_keypair(s, es.external_secret, &kp)) &&
	    CHECK(kp.pk_len == ext_pub.len))
		CHECK_MEM(kp.pk, ext_pub.p, ext_pub.len);
	/* The exporter label is used as the string given (the generator
	 * writes random hex text there, but it is not decoded). */
	const char *label = exp ? json_get_str(exp, "label") : NULL;
	if (CHECK(label != NULL) &&
	    !vhex(exp, "context", &ectx) && !vhex(exp, "secret", &esecret) &&
	    CHECK(json_get_u64(exp, "length", &elen) == 0 &&
		  elen == esecret.len && elen <= sizeof(out)) &&
	    CHECK_OK(mls_exporter(s, es.exporter_secret,
				  (const uint8_t *)label, strlen(label),
				  ectx.p, ectx.len, out, elen)))
		CHECK_MEM(out, esecret.p, esecret.len);
	memcpy(init_secret, es.init_secret, s->nh);
out:
	mls_epoch_secrets_wipe(&es);
	hpke_keypair_wipe(&kp);
	codec_writer_free(&w);
	test_bytes_free(&th);
	test_bytes_free(&cth);
	test_bytes_free(&commit);
	test_bytes_free(&psk);
	test_bytes_free(&gc_want);
	test_bytes_free(&want);
	test_bytes_free(&ext_pub);
	test_bytes_free(&ectx);
	test_bytes_free(&esecret);
}

void run_key_schedule(const struct json *doc, const char *file)
{
	for (size_t i = 0; i < doc->n; i++) {
		const struct json *c = doc->items[i];
		const struct mls_suite *s = vsuite(c, file, i);
		const struct json *epochs = json_get(c, "epochs");
		struct test_bytes gid = { 0 }, init = { 0 };
		uint8_t init_secret[MLS_MAX_NH];

		if (!s)
			continue;
		vcase_begin("%s[%zu] suite %u", file, i, s->id);
		if (!vhex(c, "group_id", &gid) &&
		    !vhex(c, "initial_init_secret", &init) &&
		    CHECK(init.len == s->nh) &&
		    CHECK(epochs && epochs->type == JSON_ARRAY &&
			  epochs->n > 0)) {
			memcpy(init_secret, init.p, s->nh);
			/* Each epoch's init_secret feeds the next. */
			for (size_t n = 0; n < epochs->n; n++)
				epoch_case(s, epochs->items[n], &gid, n,
					   init_secret);
		}
		crypto_wipe(init_secret, sizeof(init_secret));
		test_bytes_free(&gid);
		test_bytes_free(&init);
		vcase_end();
	}
}
