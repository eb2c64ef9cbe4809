/* proto/hpke: RFC 9180 Appendix A (parsed from its text form), the
 * draft-ietf-hpke-pq vectors (JSON), and negative tests.
 *
 * Every vector is one test case. Vectors of suites or modes the module does
 * not implement are reported with test_skip and the reason. Expected values
 * come only from the vector files. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/hpke.h"
#include "tests/lib/json.h"
#include "tests/lib/test.h"

#define RFC_FILE "tests/vectors/hpke/rfc9180-appendix-a.txt"
#define PQ_FILE "tests/vectors/hpke/hpke-pq.json"
#define MODULUS_FILE "tests/vectors/mlkem/cctv-modulus/ML-KEM-768.txt"

/* ---- a vector: named text fields (hex or decimal) ------------------------ */

struct field {
	char *name;
	char *val;
};

struct record {
	struct field *f;
	size_t n, cap;
};

struct vec {
	char name[384];
	char heading[160]; /* RFC: section heading; JSON: "hpke-pq.json[i]" */
	int line;          /* RFC: line of the setup heading */
	struct record setup;
	struct record *enc, *exp;
	size_t n_enc, n_exp;
	int seq_given; /* RFC lists "sequence number"; JSON's are 0, 1, ... */
};

struct vecs {
	struct vec *v;
	size_t n;
};

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (q == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return q;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = xrealloc(NULL, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static struct field *rec_add(struct record *r, const char *name,
			     size_t name_len, const char *val, size_t val_len)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->f = xrealloc(r->f, r->cap * sizeof(*r->f));
	}
	r->f[r->n].name = xstrndup(name, name_len);
	r->f[r->n].val = xstrndup(val, val_len);
	return &r->f[r->n++];
}

static void rec_free(struct record *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->f[i].name);
		free(r->f[i].val);
	}
	free(r->f);
	memset(r, 0, sizeof(*r));
}

static const char *rec_get(const struct record *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->f[i].name, name) == 0)
			return r->f[i].val;
	return NULL;
}

/* Decimal field; -1 if absent or not a number. */
static long rec_num(const struct record *r, const char *name)
{
	const char *s = rec_get(r, name);
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	v = strtol(s, &end, 10);
	return *end == '\0' && v >= 0 ? v : -1;
}

/* Hex field into b; 0 on success. A missing field is a test failure. */
static int rec_hex(const struct record *r, const char *name,
		   struct test_bytes *b)
{
	const char *s = rec_get(r, name);

	b->p = NULL;
	b->len = 0;
	if (s == NULL) {
		test_fail(__FILE__, __LINE__, "field %s missing", name);
		return -1;
	}
	if (test_hex(s, b) != 0) {
		test_fail(__FILE__, __LINE__, "field %s: bad hex", name);
		return -1;
	}
	return 0;
}

static struct record *push_rec(struct record **arr, size_t *n)
{
	*arr = xrealloc(*arr, (*n + 1) * sizeof(**arr));
	memset(&(*arr)[*n], 0, sizeof(**arr));
	return &(*arr)[(*n)++];
}

static struct vec *push_vec(struct vecs *vs)
{
	vs->v = xrealloc(vs->v, (vs->n + 1) * sizeof(*vs->v));
	memset(&vs->v[vs->n], 0, sizeof(*vs->v));
	return &vs->v[vs->n++];
}

static void vecs_free(struct vecs *vs)
{
	size_t i, j;

	for (i = 0; i < vs->n; i++) {
		struct vec *v = &vs->v[i];

		rec_free(&v->setup);
		for (j = 0; j < v->n_enc; j++)
			rec_free(&v->enc[j]);
		for (j = 0; j < v->n_exp; j++)
			rec_free(&v->exp[j]);
		free(v->enc);
		free(v->exp);
	}
	free(vs->v);
	memset(vs, 0, sizeof(*vs));
}

/* ---- RFC 9180 Appendix A, text form --------------------------------------
 * "## <suite>" headings, then per mode "### <Mode> Setup Information",
 * "#### Encryptions" and "#### Exported Values", each followed by a ~~~
 * block. Inside a block: "name: value" or "name:" lines; a line of bare hex
 * continues the previous field's value; a blank line separates records
 * (one encryption or export each). Anything else inside a block is an
 * error, so a format change cannot be skipped silently. */

static int is_hex_line(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* "name: value" / "name:" with name of letters, '_' and spaces; sets the
 * name and value spans. */
static int is_field_line(const char *s, size_t n, size_t *name_len,
			 const char **val, size_t *val_len)
{
	size_t i = 0;

	while (i < n && ((s[i] >= 'a' && s[i] <= 'z') ||
			 (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_' ||
			 s[i] == ' '))
		i++;
	if (i == 0 || i >= n || s[i] != ':')
		return 0;
	*name_len = i;
	if (i + 1 == n) {
		*val = s + n;
		*val_len = 0;
		return 1;
	}
	if (s[i + 1] != ' ' || !is_hex_line(s + i + 2, n - i - 2))
		return 0;
	*val = s + i + 2;
	*val_len = n - i - 2;
	return 1;
}

enum rfc_section { SEC_NONE, SEC_SETUP, SEC_ENC, SEC_EXP };

static int parse_rfc(const char *text, struct vecs *out)
{
	char suite[160] = "";
	enum rfc_section sec = SEC_NONE;
	struct vec *cur = NULL;
	struct record *rec = NULL;
	struct field *last = NULL;
	int fence = 0, lineno = 0;
	const char *p = text;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		size_t name_len, val_len;
		const char *val;

		lineno++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n >= 3 && strncmp(p, "~~~", 3) == 0) {
			fence = !fence;
			rec = NULL;
			last = NULL;
			if (fence && sec == SEC_NONE) {
				fprintf(stderr, "%s:%d: block outside a vector\n",
					RFC_FILE, lineno);
				return -1;
			}
		} else if (fence) {
			if (n == 0) {
				rec = NULL; /* record separator */
				last = NULL;
			} else if (is_field_line(p, n, &name_len, &val,
						 &val_len)) {
				if (rec == NULL) {
					if (sec == SEC_SETUP)
						rec = &cur->setup;
					else if (sec == SEC_ENC)
						rec = push_rec(&cur->enc,
							       &cur->n_enc);
					else
						rec = push_rec(&cur->exp,
							       &cur->n_exp);
				}
				last = rec_add(rec, p, name_len, val, val_len);
			} else if (is_hex_line(p, n) && last != NULL) {
				size_t old = strlen(last->val);

				last->val = xrealloc(last->val, old + n + 1);
				memcpy(last->val + old, p, n);
				last->val[old + n] = '\0';
			} else {
				fprintf(stderr, "%s:%d: unexpected line: %.*s\n",
					RFC_FILE, lineno, (int)n, p);
				return -1;
			}
		} else if (n > 3 && strncmp(p, "## ", 3) == 0) {
			snprintf(suite, sizeof(suite), "%.*s", (int)(n - 3),
				 p + 3);
			sec = SEC_NONE;
		} else if (n > 4 && strncmp(p, "### ", 4) == 0) {
			if (suite[0] == '\0') {
				fprintf(stderr, "%s:%d: mode before suite\n",
					RFC_FILE, lineno);
				return -1;
			}
			cur = push_vec(out);
			snprintf(cur->heading, sizeof(cur->heading),
				 "%s / %.*s", suite, (int)(n - 4), p + 4);
			cur->line = lineno;
			cur->seq_given = 1;
			sec = SEC_SETUP;
		} else if (n > 5 && strncmp(p, "#### ", 5) == 0) {
			if (cur == NULL) {
				fprintf(stderr, "%s:%d: subsection before vector\n",
					RFC_FILE, lineno);
				return -1;
			}
			if (strncmp(p + 5, "Encryptions", n - 5) == 0)
				sec = SEC_ENC;
			else if (strncmp(p + 5, "Exported Values", n - 5) == 0)
				sec = SEC_EXP;
			else {
				fprintf(stderr, "%s:%d: unknown subsection\n",
					RFC_FILE, lineno);
				return -1;
			}
		}
		p += nl ? (size_t)(nl - p) + 1 : strlen(p);
	}
	if (fence) {
		fprintf(stderr, "%s: unterminated ~~~ block\n", RFC_FILE);
		return -1;
	}
	return 0;
}

/* ---- draft-ietf-hpke-pq JSON into the same form -------------------------- */

static void json_to_rec(const struct json *o, struct record *r)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		const struct json *m = o->items[i];

		if (m->type == JSON_STRING || m->type == JSON_NUMBER)
			rec_add(r, o->keys[i], strlen(o->keys[i]), m->str,
				strlen(m->str));
	}
}

static int load_pq(struct vecs *out)
{
	struct json *doc = json_parse_file(PQ_FILE);
	size_t i, j;

	if (doc == NULL)
		return -1;
	if (doc->type != JSON_ARRAY) {
		json_free(doc);
		return -1;
	}
	for (i = 0; i < doc->n; i++) {
		const struct json *o = doc->items[i];
		const struct json *e = json_get(o, "encryptions");
		const struct json *x = json_get(o, "exports");
		struct vec *v = push_vec(out);

		snprintf(v->heading, sizeof(v->heading), "hpke-pq.json[%zu]",
			 i);
		json_to_rec(o, &v->setup);
		for (j = 0; e != NULL && e->type == JSON_ARRAY && j < e->n; j++)
			json_to_rec(e->items[j], push_rec(&v->enc, &v->n_enc));
		for (j = 0; x != NULL && x->type == JSON_ARRAY && j < x->n; j++)
			json_to_rec(x->items[j], push_rec(&v->exp, &v->n_exp));
	}
	json_free(doc);
	return 0;
}

/* ---- names (for messages only; support is asked of the module) ----------- */

static const char *kem_name(long id)
{
	switch (id) {
	case 0x10: return "DHKEM(P-256)";
	case 0x11: return "DHKEM(P-384)";
	case 0x12: return "DHKEM(P-521)";
	case 0x20: return "DHKEM(X25519)";
	case 0x21: return "DHKEM(X448)";
	case 0x40: return "ML-KEM-512";
	case 0x41: return "ML-KEM-768";
	case 0x42: return "ML-KEM-1024";
	case 0x50: return "MLKEM768-P256";
	case 0x51: return "MLKEM1024-P384";
	case 0x647a: return "X-Wing";
	}
	return "unknown KEM";
}

static const char *kdf_name(long id)
{
	switch (id) {
	case 1: return "HKDF-SHA256";
	case 2: return "HKDF-SHA384";
	case 3: return "HKDF-SHA512";
	case 0x10: return "SHAKE128";
	case 0x11: return "SHAKE256";
	case 0x12: return "TurboSHAKE128";
	case 0x13: return "TurboSHAKE256";
	}
	return "unknown KDF";
}

static const char *aead_name(long id)
{
	switch (id) {
	case 1: return "AES-128-GCM";
	case 2: return "AES-256-GCM";
	case 3: return "ChaCha20Poly1305";
	case 0xffff: return "Export-only";
	}
	return "unknown AEAD";
}

static const char *mode_name(long mode)
{
	switch (mode) {
	case 0: return "base";
	case 1: return "psk";
	case 2: return "auth";
	case 3: return "authpsk";
	}
	return "unknown-mode";
}

/* Why the module cannot run this vector, or NULL if it can. Support of
 * each id is asked of the module (hpke_suite_lens) paired with ids it is
 * known to support, so the reason names the missing piece. */
static const char *skip_reason(long mode, long kem, long kdf, long aead,
			       char *buf, size_t n)
{
	struct hpke_lens l;
	struct hpke_suite k = { (uint16_t)kem, HPKE_KDF_HKDF_SHA256,
				HPKE_AEAD_AES128GCM };
	struct hpke_suite d = { HPKE_KEM_X25519_SHA256, (uint16_t)kdf,
				HPKE_AEAD_AES128GCM };
	struct hpke_suite a = { HPKE_KEM_X25519_SHA256, HPKE_KDF_HKDF_SHA256,
				(uint16_t)aead };

	if (kem < 0 || kdf < 0 || aead < 0 || mode < 0)
		return NULL; /* malformed: let the run fail loudly */
	if (hpke_suite_lens(&k, &l) != EPOCH_OK) {
		snprintf(buf, n, "KEM 0x%04lx %s not implemented", kem,
			 kem_name(kem));
		return buf;
	}
	if (hpke_suite_lens(&d, &l) != EPOCH_OK) {
		snprintf(buf, n, "KDF 0x%04lx %s not implemented", kdf,
			 kdf_name(kdf));
		return buf;
	}
	if (hpke_suite_lens(&a, &l) != EPOCH_OK) {
		snprintf(buf, n, "AEAD 0x%04lx %s not implemented", aead,
			 aead_name(aead));
		return buf;
	}
	if (mode == 2 || mode == 3) {
		snprintf(buf, n, "mode %s not implemented (not used by MLS; "
			 "the PQ KEMs have no AuthEncap)", mode_name(mode));
		return buf;
	}
	return NULL;
}

/* ---- running one vector -------------------------------------------------- */

struct tally {
	unsigned vectors, encryptions, exports;
};

static void check_field(const struct record *r, const char *name,
			const uint8_t *got, size_t got_len)
{
	struct test_bytes want;

	if (rec_hex(r, name, &want) != 0)
		return;
	if (got_len == want.len)
		test_check_mem(got, want.p, want.len, name, __FILE__, __LINE__);
	else
		test_fail(__FILE__, __LINE__, "%s: %zu bytes, expected %zu",
			  name, got_len, want.len);
	test_bytes_free(&want);
}

/* Advances a sender/receiver pair to sequence number seq with empty
 * messages that the receiver opens (the only way to reach a sequence
 * number through the API). */
static int advance(struct hpke_ctx *s, struct hpke_ctx *r, uint64_t seq)
{
	uint8_t ct[HPKE_TAG_LEN], pt[1];
	size_t ct_len, pt_len;

	while (s->seq < seq) {
		if (!CHECK_OK(hpke_ctx_seal(s, NULL, 0, NULL, 0, ct,
					    sizeof(ct), &ct_len)) ||
		    !CHECK_OK(hpke_ctx_open(r, NULL, 0, ct, ct_len, pt,
					    sizeof(pt), &pt_len)))
			return -1;
	}
	return CHECK(s->seq == seq && r->seq == seq) ? 0 : -1;
}

static void run_encryption(const struct vec *v, const struct record *e,
			   size_t idx, struct hpke_ctx *s, struct hpke_ctx *r,
			   const struct test_bytes *base_nonce)
{
	struct test_bytes pt = { 0 }, aad = { 0 }, ct = { 0 }, nonce = { 0 };
	uint8_t *out = NULL;
	size_t out_len = 0, i;
	long seq = v->seq_given ? rec_num(e, "sequence number") : (long)idx;

	if (!CHECK(seq >= 0) || !CHECK(seq >= (long)s->seq) ||
	    rec_hex(e, "pt", &pt) || rec_hex(e, "aad", &aad) ||
	    rec_hex(e, "ct", &ct) || rec_hex(e, "nonce", &nonce))
		goto out;
	/* The listed nonce is base_nonce XOR seq: checks that the parser
	 * paired this record with the right sequence number. */
	if (CHECK(nonce.len == HPKE_NONCE_LEN &&
		  base_nonce->len == HPKE_NONCE_LEN)) {
		for (i = 0; i < 8; i++)
			nonce.p[HPKE_NONCE_LEN - 1 - i] ^=
				(uint8_t)((uint64_t)seq >> (8 * i));
		CHECK_MEM(nonce.p, base_nonce->p, HPKE_NONCE_LEN);
	}
	if (advance(s, r, (uint64_t)seq) != 0)
		goto out;
	out = xrealloc(NULL, ct.len + pt.len + 1);
	if (CHECK_OK(hpke_ctx_seal(s, aad.p, aad.len, pt.p, pt.len, out,
				   ct.len, &out_len)) &&
	    CHECK(out_len == ct.len))
		CHECK_MEM(out, ct.p, ct.len);
	if (CHECK_OK(hpke_ctx_open(r, aad.p, aad.len, ct.p, ct.len, out,
				   pt.len, &out_len)) &&
	    CHECK(out_len == pt.len))
		CHECK_MEM(out, pt.p, pt.len);
out:
	free(out);
	test_bytes_free(&pt);
	test_bytes_free(&aad);
	test_bytes_free(&ct);
	test_bytes_free(&nonce);
}

static void run_export(const struct record *e, const struct hpke_ctx *s,
		       const struct hpke_ctx *r)
{
	struct test_bytes ectx = { 0 }, want = { 0 };
	long L = rec_num(e, "L");
	uint8_t *out;

	if (!CHECK(L > 0) || rec_hex(e, "exporter_context", &ectx) ||
	    rec_hex(e, "exported_value", &want))
		goto out;
	CHECK(want.len == (size_t)L);
	out = xrealloc(NULL, (size_t)L);
	if (CHECK_OK(hpke_ctx_export(s, ectx.p, ectx.len, out, (size_t)L)))
		CHECK_MEM(out, want.p, want.len);
	memset(out, 0, (size_t)L);
	if (CHECK_OK(hpke_ctx_export(r, ectx.p, ectx.len, out, (size_t)L)))
		CHECK_MEM(out, want.p, want.len);
	free(out);
out:
	test_bytes_free(&ectx);
	test_bytes_free(&want);
}

/* Optional field: checked only if the vector lists it. */
static void check_opt(const struct record *r, const char *name,
		      const uint8_t *got, size_t got_len)
{
	if (rec_get(r, name) != NULL)
		check_field(r, name, got, got_len);
}

static void run_vector(const struct vec *v, struct tally *t)
{
	const struct record *su = &v->setup;
	long mode = rec_num(su, "mode");
	struct hpke_suite suite = { (uint16_t)rec_num(su, "kem_id"),
				    (uint16_t)rec_num(su, "kdf_id"),
				    (uint16_t)rec_num(su, "aead_id") };
	struct test_bytes info = { 0 }, ikmE = { 0 }, ikmR = { 0 },
			  pkRm = { 0 }, skRm = { 0 }, enc = { 0 },
			  psk = { 0 }, psk_id = { 0 }, bn = { 0 };
	struct hpke_psk pskin, *pskp = NULL;
	struct hpke_keypair kp;
	struct hpke_ks_trace tr;
	struct hpke_ctx ks, s, r;
	struct hpke_lens l;
	uint8_t encb[HPKE_MAX_ENC], ss[HPKE_MAX_SECRET];
	size_t enc_len = 0, ss_len = 0, i;

	memset(&s, 0, sizeof(s));
	memset(&r, 0, sizeof(r));
	memset(&ks, 0, sizeof(ks));
	if (!CHECK(mode == 0 || mode == 1) ||
	    !CHECK_OK(hpke_suite_lens(&suite, &l)) ||
	    rec_hex(su, "info", &info) || rec_hex(su, "ikmE", &ikmE) ||
	    rec_hex(su, "ikmR", &ikmR) || rec_hex(su, "pkRm", &pkRm) ||
	    rec_hex(su, "skRm", &skRm) || rec_hex(su, "enc", &enc))
		goto out;
	if (mode == 1) {
		if (rec_hex(su, "psk", &psk) || rec_hex(su, "psk_id", &psk_id))
			goto out;
		pskin = (struct hpke_psk){ psk.p, psk.len, psk_id.p,
					   psk_id.len };
		pskp = &pskin;
	}

	/* DeriveKeyPair: recipient always, ephemeral where listed (RFC; for
	 * X-Wing ikmE is encapsulation randomness, not a key seed). */
	if (CHECK_OK(hpke_derive_keypair(suite.kem_id, ikmR.p, ikmR.len,
					 &kp))) {
		check_field(su, "skRm", kp.sk, kp.sk_len);
		check_field(su, "pkRm", kp.pk, kp.pk_len);
	}
	hpke_keypair_wipe(&kp);
	if (rec_get(su, "skEm") != NULL &&
	    CHECK_OK(hpke_derive_keypair(suite.kem_id, ikmE.p, ikmE.len,
					 &kp))) {
		check_field(su, "skEm", kp.sk, kp.sk_len);
		check_field(su, "pkEm", kp.pk, kp.pk_len);
	}
	hpke_keypair_wipe(&kp);

	/* KEM alone: Encap with ikmE, Decap with skRm. */
	if (CHECK_OK(hpke_kem_encap_derand(suite.kem_id, ikmE.p, ikmE.len,
					   pkRm.p, pkRm.len, encb,
					   sizeof(encb), &enc_len, ss,
					   &ss_len))) {
		check_field(su, "enc", encb, enc_len);
		check_field(su, "shared_secret", ss, ss_len);
	}
	memset(ss, 0, sizeof(ss));
	if (CHECK_OK(hpke_kem_decap(suite.kem_id, enc.p, enc.len, skRm.p,
				    skRm.len, ss, &ss_len)))
		check_field(su, "shared_secret", ss, ss_len);

	/* Key schedule alone, from the listed shared secret. */
	{
		struct test_bytes want_ss;

		if (rec_hex(su, "shared_secret", &want_ss) == 0) {
			if (CHECK_OK(hpke_key_schedule(&ks, &suite,
						       HPKE_ROLE_SENDER,
						       want_ss.p, want_ss.len,
						       info.p, info.len, pskp,
						       &tr))) {
				check_opt(su, "key_schedule_context",
					  tr.key_schedule_context,
					  tr.key_schedule_context_len);
				check_opt(su, "secret", tr.secret,
					  tr.secret_len);
				check_field(su, "key", ks.key, ks.key_len);
				check_field(su, "base_nonce", ks.base_nonce,
					    ks.nonce_len);
				check_field(su, "exporter_secret",
					    ks.exporter_secret,
					    ks.exporter_len);
			}
			crypto_wipe(&tr, sizeof(tr));
			test_bytes_free(&want_ss);
		}
	}

	/* Full setup on both sides. */
	if (!CHECK_OK(hpke_setup_s_derand(&s, &suite, ikmE.p, ikmE.len,
					  pkRm.p, pkRm.len, info.p, info.len,
					  pskp, encb, sizeof(encb),
					  &enc_len)) ||
	    !CHECK_OK(hpke_setup_r(&r, &suite, enc.p, enc.len, skRm.p,
				   skRm.len, info.p, info.len, pskp)))
		goto out;
	check_field(su, "enc", encb, enc_len);
	check_field(su, "key", s.key, s.key_len);
	check_field(su, "key", r.key, r.key_len);
	check_field(su, "base_nonce", s.base_nonce, s.nonce_len);
	check_field(su, "base_nonce", r.base_nonce, r.nonce_len);
	check_field(su, "exporter_secret", s.exporter_secret, s.exporter_len);
	check_field(su, "exporter_secret", r.exporter_secret, r.exporter_len);

	if (suite.aead_id == HPKE_AEAD_EXPORT_ONLY) {
		uint8_t ct[HPKE_TAG_LEN + 1];
		size_t ct_len;

		CHECK(v->n_enc == 0);
		CHECK_RC(hpke_ctx_seal(&s, NULL, 0, NULL, 0, ct, sizeof(ct),
				       &ct_len), EPOCH_ERR_UNSUPPORTED);
	} else if (rec_hex(su, "base_nonce", &bn) == 0) {
		for (i = 0; i < v->n_enc; i++)
			run_encryption(v, &v->enc[i], i, &s, &r, &bn);
	}
	for (i = 0; i < v->n_exp; i++)
		run_export(&v->exp[i], &s, &r);
	t->vectors++;
	t->encryptions += (unsigned)v->n_enc;
	t->exports += (unsigned)v->n_exp;
out:
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
	hpke_ctx_wipe(&ks);
	crypto_wipe(ss, sizeof(ss));
	test_bytes_free(&info);
	test_bytes_free(&ikmE);
	test_bytes_free(&ikmR);
	test_bytes_free(&pkRm);
	test_bytes_free(&skRm);
	test_bytes_free(&enc);
	test_bytes_free(&psk);
	test_bytes_free(&psk_id);
	test_bytes_free(&bn);
}

/* Per suite-and-mode counts, printed at the end. */
struct group {
	char name[96];
	struct tally run;
	unsigned passed, skipped;
};

static struct group groups[64];
static size_t n_groups;

static struct group *group_of(const char *name)
{
	size_t i;

	for (i = 0; i < n_groups; i++)
		if (strcmp(groups[i].name, name) == 0)
			return &groups[i];
	if (n_groups == sizeof(groups) / sizeof(groups[0]))
		return &groups[n_groups - 1];
	snprintf(groups[n_groups].name, sizeof(groups[0].name), "%s", name);
	return &groups[n_groups++];
}

static void print_groups(const char *title)
{
	size_t i;

	printf("%s\n", title);
	for (i = 0; i < n_groups; i++) {
		struct group *g = &groups[i];

		if (g->skipped && !g->run.vectors)
			printf("  %s: %u skipped\n", g->name, g->skipped);
		else
			printf("  %s: %u vector%s (%u passed), %u encryptions, "
			       "%u exports%s\n",
			       g->name, g->run.vectors,
			       g->run.vectors == 1 ? "" : "s", g->passed,
			       g->run.encryptions, g->run.exports,
			       g->skipped ? " (some skipped)" : "");
	}
	memset(groups, 0, sizeof(groups));
	n_groups = 0;
}

/* Runs every vector; returns how many ran (passed or failed) per KEM of
 * interest through *x25519 and *xwing. */
static void run_all(struct vecs *vs, unsigned *x25519, unsigned *xwing)
{
	size_t i;

	for (i = 0; i < vs->n; i++) {
		struct vec *v = &vs->v[i];
		const struct record *su = &v->setup;
		long mode = rec_num(su, "mode"), kem = rec_num(su, "kem_id"),
		     kdf = rec_num(su, "kdf_id"), aead = rec_num(su, "aead_id");
		char reason[160], gname[96];
		const char *why;
		struct group *g;
		struct tally t = { 0 };

		snprintf(gname, sizeof(gname), "%s/%s/%s %s", kem_name(kem),
			 kdf_name(kdf), aead_name(aead), mode_name(mode));
		snprintf(v->name, sizeof(v->name), "%s (%s)", gname,
			 v->heading);
		g = group_of(gname);
		why = skip_reason(mode, kem, kdf, aead, reason, sizeof(reason));
		if (why != NULL) {
			test_skip(v->name, why);
			g->skipped++;
			continue;
		}
		test_begin("%s", v->name);
		run_vector(v, &t);
		g->passed += (unsigned)test_end();
		g->run.vectors++;
		g->run.encryptions += t.encryptions;
		g->run.exports += t.exports;
		if (kem == HPKE_KEM_X25519_SHA256)
			(*x25519)++;
		if (kem == HPKE_KEM_XWING)
			(*xwing)++;
	}
}

static void test_vectors(void)
{
	struct vecs rfc = { 0 }, pq = { 0 };
	char *text = test_read_file(RFC_FILE, NULL);
	unsigned rfc_x25519 = 0, rfc_xwing = 0, pq_x25519 = 0, pq_xwing = 0;
	size_t i, n_enc = 0, n_exp = 0;

	/* Parsing, checked against the file's own structure: 28 setup
	 * blocks (7 suites x 4 modes), 144 encryptions, 84 exports. */
	test_begin("rfc9180 appendix A: parse");
	if (CHECK(text != NULL) && CHECK(parse_rfc(text, &rfc) == 0)) {
		for (i = 0; i < rfc.n; i++) {
			n_enc += rfc.v[i].n_enc;
			n_exp += rfc.v[i].n_exp;
		}
		CHECK_EQ_U64(rfc.n, 28);
		CHECK_EQ_U64(n_enc, 144);
		CHECK_EQ_U64(n_exp, 84);
	}
	test_end();
	free(text);
	run_all(&rfc, &rfc_x25519, &rfc_xwing);
	print_groups("RFC 9180 Appendix A:");

	test_begin("hpke-pq.json: load");
	if (CHECK(load_pq(&pq) == 0))
		CHECK_EQ_U64(pq.n, 13);
	test_end();
	run_all(&pq, &pq_x25519, &pq_xwing);
	print_groups("draft-ietf-hpke-pq (hpke-pq.json):");

	/* What must have run: base and psk of the three X25519/HKDF-SHA256
	 * suites, and X-Wing with HKDF-SHA256/ChaCha20Poly1305. */
	test_begin("vector coverage");
	CHECK_EQ_U64(rfc_x25519, 6);
	CHECK_EQ_U64(pq_xwing, 1);
	CHECK_EQ_U64(pq_x25519 + rfc_xwing, 0);
	test_end();
	vecs_free(&rfc);
	vecs_free(&pq);
}


/* ---- API and negative tests ---------------------------------------------- */

/* KEMs the module must support; each runs through the API tests. */
static const uint16_t kems[] = { HPKE_KEM_X25519_SHA256, HPKE_KEM_XWING };
#define N_KEMS (sizeof(kems) / sizeof(kems[0]))

static const uint8_t msg[] = "Beauty is truth, truth beauty";
static const uint8_t aad0[] = "Count-0";
static const uint8_t info0[] = "Ode on a Grecian Urn";

static void keypair(uint16_t kem, const char *seed, struct hpke_keypair *kp)
{
	struct test_rng t;

	test_rng_init(&t, seed);
	CHECK_OK(hpke_generate_keypair(kem, &t.rng, kp));
	crypto_xof_wipe(&t.xof);
}

/* A sender and receiver context for suite, from a fixed seed. */
static int pair(const struct hpke_suite *suite, const struct hpke_psk *ps,
		const struct hpke_psk *pr, struct hpke_ctx *s,
		struct hpke_ctx *r)
{
	struct hpke_keypair kp;
	struct test_rng t;
	uint8_t enc[HPKE_MAX_ENC];
	size_t enc_len;
	int ok;

	keypair(suite->kem_id, "recipient", &kp);
	test_rng_init(&t, "ephemeral");
	ok = CHECK_OK(hpke_setup_s(s, suite, &t.rng, kp.pk, kp.pk_len, info0,
				   sizeof(info0), ps, enc, sizeof(enc),
				   &enc_len)) &&
	     CHECK_OK(hpke_setup_r(r, suite, enc, enc_len, kp.sk, kp.sk_len,
				   info0, sizeof(info0), pr));
	hpke_keypair_wipe(&kp);
	crypto_xof_wipe(&t.xof);
	return ok;
}

/* Every supported KEM x KDF x AEAD: single-shot seal/open with fresh keys
 * (system RNG), a second message on a context, and matching exports. */
static void test_roundtrip_all_suites(void)
{
	static const uint16_t kdfs[] = { 1, 2, 3 }, aeads[] = { 1, 2, 3,
								0xffff };
	size_t k, d, a;

	for (k = 0; k < N_KEMS; k++)
	for (d = 0; d < 3; d++)
	for (a = 0; a < 4; a++) {
		struct hpke_suite su = { kems[k], kdfs[d], aeads[a] };
		struct hpke_keypair kp;
		struct hpke_ctx s, r;
		struct hpke_lens l;
		uint8_t enc[HPKE_MAX_ENC], ct[sizeof(msg) + HPKE_TAG_LEN];
		uint8_t pt[sizeof(msg)], e1[40], e2[40];
		size_t enc_len, ct_len, pt_len;

		if (!CHECK_OK(hpke_suite_lens(&su, &l)) ||
		    !CHECK_OK(hpke_generate_keypair(su.kem_id, NULL, &kp)))
			continue;
		CHECK_EQ_U64(kp.sk_len, l.nsk);
		CHECK_EQ_U64(kp.pk_len, l.npk);
		if (aeads[a] != HPKE_AEAD_EXPORT_ONLY) {
			if (CHECK_OK(hpke_seal(&su, NULL, kp.pk, kp.pk_len,
					       info0, sizeof(info0), aad0,
					       sizeof(aad0), msg, sizeof(msg),
					       enc, sizeof(enc), &enc_len, ct,
					       sizeof(ct), &ct_len)) &&
			    CHECK(enc_len == l.nenc) &&
			    CHECK(ct_len == sizeof(msg) + l.nt) &&
			    CHECK_OK(hpke_open(&su, kp.sk, kp.sk_len, enc,
					       enc_len, info0, sizeof(info0),
					       aad0, sizeof(aad0), ct, ct_len,
					       pt, sizeof(pt), &pt_len)))
				CHECK(pt_len == sizeof(msg) &&
				      memcmp(pt, msg, sizeof(msg)) == 0);
		}
		if (CHECK_OK(hpke_setup_s(&s, &su, NULL, kp.pk, kp.pk_len,
					  NULL, 0, NULL, enc, sizeof(enc),
					  &enc_len)) &&
		    CHECK_OK(hpke_setup_r(&r, &su, enc, enc_len, kp.sk,
					  kp.sk_len, NULL, 0, NULL))) {
			CHECK_OK(hpke_ctx_export(&s, aad0, 3, e1, sizeof(e1)));
			CHECK_OK(hpke_ctx_export(&r, aad0, 3, e2, sizeof(e2)));
			CHECK_MEM(e1, e2, sizeof(e1));
			if (aeads[a] != HPKE_AEAD_EXPORT_ONLY &&
			    CHECK_OK(hpke_ctx_seal(&s, NULL, 0, msg, 5, ct,
						   sizeof(ct), &ct_len)) &&
			    CHECK_OK(hpke_ctx_open(&r, NULL, 0, ct, ct_len, pt,
						   sizeof(pt), &pt_len)))
				CHECK(pt_len == 5 && memcmp(pt, msg, 5) == 0);
		}
		hpke_ctx_wipe(&s);
		hpke_ctx_wipe(&r);
		hpke_keypair_wipe(&kp);
	}
}

/* The randomized Encap is the derandomized one fed Nsk (DHKEM) or 64
 * (X-Wing) bytes from the RNG, and GenerateKeyPair is DeriveKeyPair of Nsk
 * random bytes. */
static void test_rng_matches_derand(void)
{
	size_t k;

	for (k = 0; k < N_KEMS; k++) {
		struct hpke_suite su = { kems[k], 1, 3 };
		struct hpke_keypair kp, kp2;
		struct hpke_ctx s1, s2;
		struct test_rng t;
		uint8_t ikm[64], enc1[HPKE_MAX_ENC], enc2[HPKE_MAX_ENC];
		size_t n = kems[k] == HPKE_KEM_XWING ? 64 : 32, l1, l2;
		uint8_t e1[32], e2[32];

		keypair(kems[k], "recipient", &kp);
		test_rng_init(&t, "recipient");
		CHECK_OK(crypto_xof_squeeze(&t.xof, ikm, kp.sk_len));
		if (CHECK_OK(hpke_derive_keypair(kems[k], ikm, kp.sk_len,
						 &kp2)))
			CHECK_MEM(kp2.pk, kp.pk, kp.pk_len);
		hpke_keypair_wipe(&kp2);

		test_rng_init(&t, "eph");
		CHECK_OK(hpke_setup_s(&s1, &su, &t.rng, kp.pk, kp.pk_len,
				      NULL, 0, NULL, enc1, sizeof(enc1), &l1));
		test_rng_init(&t, "eph");
		CHECK_OK(crypto_xof_squeeze(&t.xof, ikm, n));
		CHECK_OK(hpke_setup_s_derand(&s2, &su, ikm, n, kp.pk,
					     kp.pk_len, NULL, 0, NULL, enc2,
					     sizeof(enc2), &l2));
		if (CHECK(l1 == l2))
			CHECK_MEM(enc1, enc2, l1);
		CHECK_OK(hpke_ctx_export(&s1, NULL, 0, e1, sizeof(e1)));
		CHECK_OK(hpke_ctx_export(&s2, NULL, 0, e2, sizeof(e2)));
		CHECK_MEM(e1, e2, sizeof(e1));
		hpke_ctx_wipe(&s1);
		hpke_ctx_wipe(&s2);
		hpke_keypair_wipe(&kp);
		crypto_xof_wipe(&t.xof);
	}
}

static void test_tampering(void)
{
	static const struct hpke_suite su = { HPKE_KEM_X25519_SHA256, 1, 1 };
	static const uint8_t bad_aad[] = "Count-1";
	struct hpke_ctx s, r;
	uint8_t ct[sizeof(msg) + HPKE_TAG_LEN], pt[sizeof(msg)];
	size_t ct_len, pt_len, i;

	if (!pair(&su, NULL, NULL, &s, &r))
		return;
	if (!CHECK_OK(hpke_ctx_seal(&s, aad0, sizeof(aad0), msg, sizeof(msg),
				    ct, sizeof(ct), &ct_len)))
		goto out;
	/* Every byte of ciphertext and tag is authenticated. */
	for (i = 0; i < ct_len; i++) {
		ct[i] ^= 0x01;
		CHECK_RC(hpke_ctx_open(&r, aad0, sizeof(aad0), ct, ct_len, pt,
				       sizeof(pt), &pt_len), EPOCH_ERR_AUTH);
		ct[i] ^= 0x01;
	}
	CHECK_RC(hpke_ctx_open(&r, bad_aad, sizeof(bad_aad), ct, ct_len, pt,
			       sizeof(pt), &pt_len), EPOCH_ERR_AUTH);
	CHECK_RC(hpke_ctx_open(&r, NULL, 0, ct, ct_len, pt, sizeof(pt),
			       &pt_len), EPOCH_ERR_AUTH);
	CHECK_RC(hpke_ctx_open(&r, aad0, sizeof(aad0), ct, ct_len - 1, pt,
			       sizeof(pt), &pt_len), EPOCH_ERR_AUTH);
	CHECK_RC(hpke_ctx_open(&r, aad0, sizeof(aad0), ct, HPKE_TAG_LEN - 1,
			       pt, sizeof(pt), &pt_len), EPOCH_ERR_AUTH);
	/* Failures do not advance the receiver: the genuine message opens. */
	CHECK_EQ_U64(r.seq, 0);
	if (CHECK_OK(hpke_ctx_open(&r, aad0, sizeof(aad0), ct, ct_len, pt,
				   sizeof(pt), &pt_len)))
		CHECK(pt_len == sizeof(msg) &&
		      memcmp(pt, msg, sizeof(msg)) == 0);
	/* Replaying it fails: the receiver is now at sequence number 1. */
	CHECK_RC(hpke_ctx_open(&r, aad0, sizeof(aad0), ct, ct_len, pt,
			       sizeof(pt), &pt_len), EPOCH_ERR_AUTH);
out:
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
}

/* Single-shot: wrong info, tampered enc, wrong recipient key. */
static void test_single_shot_negative(void)
{
	static const struct hpke_suite su = { HPKE_KEM_X25519_SHA256, 1, 3 };
	struct hpke_keypair kp, other;
	uint8_t enc[HPKE_MAX_ENC], ct[sizeof(msg) + HPKE_TAG_LEN];
	uint8_t pt[sizeof(msg)];
	size_t enc_len, ct_len, pt_len;

	keypair(su.kem_id, "r", &kp);
	keypair(su.kem_id, "other", &other);
	if (!CHECK_OK(hpke_seal(&su, NULL, kp.pk, kp.pk_len, info0,
				sizeof(info0), aad0, sizeof(aad0), msg,
				sizeof(msg), enc, sizeof(enc), &enc_len, ct,
				sizeof(ct), &ct_len)))
		goto out;
	CHECK_RC(hpke_open(&su, kp.sk, kp.sk_len, enc, enc_len, info0,
			   sizeof(info0) - 1, aad0, sizeof(aad0), ct, ct_len, pt,
			   sizeof(pt), &pt_len), EPOCH_ERR_AUTH);
	CHECK_RC(hpke_open(&su, other.sk, other.sk_len, enc, enc_len, info0,
			   sizeof(info0), aad0, sizeof(aad0), ct, ct_len, pt,
			   sizeof(pt), &pt_len), EPOCH_ERR_AUTH);
	enc[0] ^= 0x80;
	CHECK_RC(hpke_open(&su, kp.sk, kp.sk_len, enc, enc_len, info0,
			   sizeof(info0), aad0, sizeof(aad0), ct, ct_len, pt,
			   sizeof(pt), &pt_len), EPOCH_ERR_AUTH);
	enc[0] ^= 0x80;
	ct[3] ^= 0x10;
	CHECK_RC(hpke_open(&su, kp.sk, kp.sk_len, enc, enc_len, info0,
			   sizeof(info0), aad0, sizeof(aad0), ct, ct_len, pt,
			   sizeof(pt), &pt_len), EPOCH_ERR_AUTH);
	ct[3] ^= 0x10;
	/* A different suite id changes every key: the suite is bound. */
	{
		struct hpke_suite other_aead = { HPKE_KEM_X25519_SHA256, 1, 3 };

		other_aead.kdf_id = HPKE_KDF_HKDF_SHA384;
		CHECK_RC(hpke_open(&other_aead, kp.sk, kp.sk_len, enc, enc_len,
				   info0, sizeof(info0), aad0, sizeof(aad0),
				   ct, ct_len, pt, sizeof(pt), &pt_len),
			 EPOCH_ERR_AUTH);
	}
	if (CHECK_OK(hpke_open(&su, kp.sk, kp.sk_len, enc, enc_len, info0,
			       sizeof(info0), aad0, sizeof(aad0), ct, ct_len,
			       pt, sizeof(pt), &pt_len)))
		CHECK(pt_len == sizeof(msg) &&
		      memcmp(pt, msg, sizeof(msg)) == 0);
out:
	hpke_keypair_wipe(&kp);
	hpke_keypair_wipe(&other);
}

static void test_lengths(void)
{
	static const struct hpke_suite su = { HPKE_KEM_X25519_SHA256, 1, 1 };
	static const uint8_t zero[32];
	struct hpke_keypair kp;
	struct hpke_ctx s, r;
	uint8_t enc[HPKE_MAX_ENC + 1], scratch[HPKE_MAX_ENC];
	uint8_t ct[sizeof(msg) + HPKE_TAG_LEN];
	uint8_t pt[sizeof(msg)], ss[HPKE_MAX_SECRET];
	size_t enc_len, sc_len, ct_len, pt_len, ss_len;

	keypair(su.kem_id, "r", &kp);
	if (!CHECK_OK(hpke_setup_s(&s, &su, NULL, kp.pk, kp.pk_len, NULL, 0,
				   NULL, enc, sizeof(enc), &enc_len)))
		goto out;
	/* enc of the wrong length */
	CHECK_RC(hpke_setup_r(&r, &su, enc, enc_len - 1, kp.sk, kp.sk_len,
			      NULL, 0, NULL), EPOCH_ERR_MALFORMED);
	CHECK_RC(hpke_setup_r(&r, &su, enc, enc_len + 1, kp.sk, kp.sk_len,
			      NULL, 0, NULL), EPOCH_ERR_MALFORMED);
	CHECK_RC(hpke_kem_decap(su.kem_id, enc, 0, kp.sk, kp.sk_len, ss,
				&ss_len), EPOCH_ERR_MALFORMED);
	CHECK_RC(hpke_open(&su, kp.sk, kp.sk_len, enc, HPKE_MAX_ENC, NULL, 0,
			   NULL, 0, ct, sizeof(ct), pt, sizeof(pt), &pt_len),
		 EPOCH_ERR_MALFORMED);
	/* the context of a failed setup is unusable */
	CHECK_RC(hpke_ctx_open(&r, NULL, 0, ct, sizeof(ct), pt, sizeof(pt),
			       &pt_len), EPOCH_ERR_STATE);
	CHECK_RC(hpke_ctx_export(&r, NULL, 0, ss, 1), EPOCH_ERR_STATE);
	/* keys of the wrong length */
	CHECK_RC(hpke_setup_r(&r, &su, enc, enc_len, kp.sk, kp.sk_len - 1,
			      NULL, 0, NULL), EPOCH_ERR_INVALID_KEY);
	CHECK_RC(hpke_setup_s(&r, &su, NULL, kp.pk, kp.pk_len + 1, NULL, 0,
			      NULL, scratch, sizeof(scratch), &sc_len),
		 EPOCH_ERR_INVALID_KEY);
	/* small-order X25519 public key / enc (RFC 9180 §7.1.4) */
	CHECK_RC(hpke_setup_s(&r, &su, NULL, zero, 32, NULL, 0, NULL, scratch,
			      sizeof(scratch), &sc_len), EPOCH_ERR_INVALID_KEY);
	CHECK_RC(hpke_setup_r(&r, &su, zero, 32, kp.sk, kp.sk_len, NULL, 0,
			      NULL), EPOCH_ERR_INVALID_KEY);
	/* output buffers too small */
	CHECK_RC(hpke_setup_s(&r, &su, NULL, kp.pk, kp.pk_len, NULL, 0, NULL,
			      scratch, 31, &sc_len), EPOCH_ERR_NO_SPACE);
	CHECK_RC(hpke_ctx_seal(&s, NULL, 0, msg, sizeof(msg), ct,
			       sizeof(ct) - 1, &ct_len), EPOCH_ERR_NO_SPACE);
	CHECK_EQ_U64(s.seq, 0);
	if (CHECK_OK(hpke_ctx_seal(&s, NULL, 0, msg, sizeof(msg), ct,
				   sizeof(ct), &ct_len))) {
		if (CHECK_OK(hpke_setup_r(&r, &su, enc, enc_len, kp.sk,
					  kp.sk_len, NULL, 0, NULL))) {
			CHECK_RC(hpke_ctx_open(&r, NULL, 0, ct, ct_len, pt,
					       sizeof(pt) - 1, &pt_len),
				 EPOCH_ERR_NO_SPACE);
			CHECK_OK(hpke_ctx_open(&r, NULL, 0, ct, ct_len, pt,
					       sizeof(pt), &pt_len));
		}
	}
out:
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
	hpke_keypair_wipe(&kp);
}

static void test_unsupported_ids(void)
{
	static const struct hpke_suite bad[] = {
		{ 0x0010, 1, 1 },      /* DHKEM(P-256) */
		{ 0x0041, 1, 1 },      /* ML-KEM-768 alone */
		{ 0x0000, 1, 1 },      /* reserved */
		{ 0x0020, 0x0011, 1 }, /* SHAKE256 KDF */
		{ 0x0020, 0x0000, 1 },
		{ 0x0020, 1, 0x0000 }, /* reserved AEAD */
		{ 0x0020, 1, 0x0004 },
		{ 0x0020, 1, 0xfffe },
	};
	struct hpke_keypair kp;
	struct hpke_lens l;
	struct hpke_ctx c;
	uint8_t enc[HPKE_MAX_ENC], ct[64], pt[64], ss[HPKE_MAX_SECRET];
	size_t i, enc_len, ct_len, pt_len, ss_len;

	keypair(HPKE_KEM_X25519_SHA256, "r", &kp);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_RC(hpke_suite_lens(&bad[i], &l), EPOCH_ERR_UNSUPPORTED);
		CHECK_RC(hpke_setup_s(&c, &bad[i], NULL, kp.pk, kp.pk_len,
				      NULL, 0, NULL, enc, sizeof(enc),
				      &enc_len), EPOCH_ERR_UNSUPPORTED);
		CHECK_RC(hpke_setup_r(&c, &bad[i], kp.pk, kp.pk_len, kp.sk,
				      kp.sk_len, NULL, 0, NULL),
			 EPOCH_ERR_UNSUPPORTED);
		CHECK_RC(hpke_seal(&bad[i], NULL, kp.pk, kp.pk_len, NULL, 0,
				   NULL, 0, msg, 4, enc, sizeof(enc), &enc_len,
				   ct, sizeof(ct), &ct_len),
			 EPOCH_ERR_UNSUPPORTED);
		CHECK_RC(hpke_open(&bad[i], kp.sk, kp.sk_len, kp.pk, kp.pk_len,
				   NULL, 0, NULL, 0, ct, 20, pt, sizeof(pt),
				   &pt_len), EPOCH_ERR_UNSUPPORTED);
	}
	CHECK_RC(hpke_derive_keypair(0x0010, msg, 32, &kp),
		 EPOCH_ERR_UNSUPPORTED);
	CHECK_RC(hpke_generate_keypair(0x0021, NULL, &kp),
		 EPOCH_ERR_UNSUPPORTED);
	CHECK_RC(hpke_kem_encap(0x0050, NULL, msg, 32, enc, sizeof(enc),
				&enc_len, ss, &ss_len), EPOCH_ERR_UNSUPPORTED);
	CHECK_RC(hpke_kem_decap(0x0042, msg, 32, msg, 32, ss, &ss_len),
		 EPOCH_ERR_UNSUPPORTED);
	hpke_keypair_wipe(&kp);
}

/* The 64-bit sequence number refuses to wrap. Reaching 2^64 - 2 through
 * the API would take 2^64 messages, so the test sets the private counter of
 * both contexts directly. */
static void test_sequence_overflow(void)
{
	static const struct hpke_suite su = { HPKE_KEM_X25519_SHA256, 1, 2 };
	struct hpke_ctx s, r;
	uint8_t ct[sizeof(msg) + HPKE_TAG_LEN], pt[sizeof(msg)];
	size_t ct_len, pt_len;

	if (!pair(&su, NULL, NULL, &s, &r))
		return;
	s.seq = r.seq = UINT64_MAX - 1;
	if (CHECK_OK(hpke_ctx_seal(&s, NULL, 0, msg, sizeof(msg), ct,
				   sizeof(ct), &ct_len)) &&
	    CHECK_OK(hpke_ctx_open(&r, NULL, 0, ct, ct_len, pt, sizeof(pt),
				   &pt_len)))
		CHECK(memcmp(pt, msg, sizeof(msg)) == 0);
	CHECK(s.seq == UINT64_MAX && r.seq == UINT64_MAX);
	CHECK_RC(hpke_ctx_seal(&s, NULL, 0, msg, sizeof(msg), ct, sizeof(ct),
			       &ct_len), EPOCH_ERR_STATE);
	CHECK_RC(hpke_ctx_open(&r, NULL, 0, ct, ct_len, pt, sizeof(pt),
			       &pt_len), EPOCH_ERR_STATE);
	CHECK(s.seq == UINT64_MAX && r.seq == UINT64_MAX);
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
}

static void test_roles_and_export_only(void)
{
	static const struct hpke_suite su = { HPKE_KEM_X25519_SHA256, 3, 3 };
	static const struct hpke_suite eo = { HPKE_KEM_X25519_SHA256, 1,
					      HPKE_AEAD_EXPORT_ONLY };
	struct hpke_ctx s, r, zero;
	uint8_t ct[sizeof(msg) + HPKE_TAG_LEN], pt[sizeof(msg)], e[32];
	size_t ct_len, pt_len;

	memset(&zero, 0, sizeof(zero));
	CHECK_RC(hpke_ctx_seal(&zero, NULL, 0, msg, 3, ct, sizeof(ct),
			       &ct_len), EPOCH_ERR_STATE);
	CHECK_RC(hpke_ctx_export(&zero, NULL, 0, e, sizeof(e)),
		 EPOCH_ERR_STATE);
	if (pair(&su, NULL, NULL, &s, &r)) {
		/* ContextR has no Seal, ContextS no Open (§5.2) */
		CHECK_RC(hpke_ctx_seal(&r, NULL, 0, msg, 3, ct, sizeof(ct),
				       &ct_len), EPOCH_ERR_STATE);
		if (CHECK_OK(hpke_ctx_seal(&s, NULL, 0, msg, 3, ct, sizeof(ct),
					   &ct_len)))
			CHECK_RC(hpke_ctx_open(&s, NULL, 0, ct, ct_len, pt,
					       sizeof(pt), &pt_len),
				 EPOCH_ERR_STATE);
		/* wiping leaves nothing usable */
		hpke_ctx_wipe(&s);
		CHECK(memcmp(&s, &zero, sizeof(s)) == 0);
		CHECK_RC(hpke_ctx_seal(&s, NULL, 0, msg, 3, ct, sizeof(ct),
				       &ct_len), EPOCH_ERR_STATE);
	}
	hpke_ctx_wipe(&r);
	if (pair(&eo, NULL, NULL, &s, &r)) {
		CHECK_RC(hpke_ctx_seal(&s, NULL, 0, msg, 3, ct, sizeof(ct),
				       &ct_len), EPOCH_ERR_UNSUPPORTED);
		CHECK_RC(hpke_ctx_open(&r, NULL, 0, ct, sizeof(ct), pt,
				       sizeof(pt), &pt_len),
			 EPOCH_ERR_UNSUPPORTED);
		CHECK_OK(hpke_ctx_export(&s, NULL, 0, e, sizeof(e)));
	}
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
}

static void test_psk(void)
{
	static const struct hpke_suite su = { HPKE_KEM_X25519_SHA256, 1, 1 };
	static const uint8_t k1[32] = { 1 }, k2[32] = { 2 };
	const struct hpke_psk a = { k1, 32, (const uint8_t *)"id", 2 };
	const struct hpke_psk b = { k2, 32, (const uint8_t *)"id", 2 };
	const struct hpke_psk a_id = { k1, 32, (const uint8_t *)"iD", 2 };
	const struct hpke_psk shortk = { k1, 31, (const uint8_t *)"id", 2 };
	const struct hpke_psk noid = { k1, 32, (const uint8_t *)"id", 0 };
	const struct hpke_psk nokey = { NULL, 32, (const uint8_t *)"id", 2 };
	const struct hpke_psk *mismatch[][2] = {
		{ &a, &b }, { &a, &a_id }, { &a, NULL }, { NULL, &a },
	};
	struct hpke_keypair kp;
	struct hpke_ctx s, r;
	uint8_t enc[HPKE_MAX_ENC], ct[sizeof(msg) + HPKE_TAG_LEN];
	uint8_t pt[sizeof(msg)];
	size_t enc_len, ct_len, pt_len, i;

	keypair(su.kem_id, "r", &kp);
	CHECK_RC(hpke_setup_s(&s, &su, NULL, kp.pk, kp.pk_len, NULL, 0,
			      &shortk, enc, sizeof(enc), &enc_len),
		 EPOCH_ERR_INVALID_ARG);
	CHECK_RC(hpke_setup_s(&s, &su, NULL, kp.pk, kp.pk_len, NULL, 0, &noid,
			      enc, sizeof(enc), &enc_len),
		 EPOCH_ERR_INVALID_ARG);
	CHECK_RC(hpke_setup_s(&s, &su, NULL, kp.pk, kp.pk_len, NULL, 0,
			      &nokey, enc, sizeof(enc), &enc_len),
		 EPOCH_ERR_INVALID_ARG);
	hpke_keypair_wipe(&kp);
	if (pair(&su, &a, &a, &s, &r) &&
	    CHECK_OK(hpke_ctx_seal(&s, NULL, 0, msg, 4, ct, sizeof(ct),
				   &ct_len)))
		CHECK_OK(hpke_ctx_open(&r, NULL, 0, ct, ct_len, pt, sizeof(pt),
				       &pt_len));
	for (i = 0; i < sizeof(mismatch) / sizeof(mismatch[0]); i++) {
		if (pair(&su, mismatch[i][0], mismatch[i][1], &s, &r) &&
		    CHECK_OK(hpke_ctx_seal(&s, NULL, 0, msg, 4, ct, sizeof(ct),
					   &ct_len)))
			CHECK_RC(hpke_ctx_open(&r, NULL, 0, ct, ct_len, pt,
					       sizeof(pt), &pt_len),
				 EPOCH_ERR_AUTH);
	}
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
}

static void test_input_limits(void)
{
	static const struct hpke_suite su = { HPKE_KEM_X25519_SHA256, 1, 1 };
	struct hpke_keypair kp;
	struct hpke_ctx s;
	uint8_t *big = calloc(1, HPKE_MAX_INPUT + 1), enc[HPKE_MAX_ENC];
	uint8_t *out = malloc(255 * 32 + 1);
	size_t enc_len;

	if (!CHECK(big != NULL && out != NULL))
		goto out;
	keypair(su.kem_id, "r", &kp);
	CHECK_OK(hpke_derive_keypair(su.kem_id, big, HPKE_MAX_INPUT, &kp));
	CHECK_RC(hpke_derive_keypair(su.kem_id, big, HPKE_MAX_INPUT + 1, &kp),
		 EPOCH_ERR_TOO_LONG);
	keypair(su.kem_id, "r", &kp);
	CHECK_RC(hpke_setup_s(&s, &su, NULL, kp.pk, kp.pk_len, big,
			      HPKE_MAX_INPUT + 1, NULL, enc, sizeof(enc),
			      &enc_len), EPOCH_ERR_TOO_LONG);
	if (CHECK_OK(hpke_setup_s(&s, &su, NULL, kp.pk, kp.pk_len, big,
				  HPKE_MAX_INPUT, NULL, enc, sizeof(enc),
				  &enc_len))) {
		CHECK_OK(hpke_ctx_export(&s, big, HPKE_MAX_EXPORTER_CONTEXT,
					 out, 32));
		CHECK_RC(hpke_ctx_export(&s, big, HPKE_MAX_EXPORTER_CONTEXT + 1,
					 out, 32), EPOCH_ERR_TOO_LONG);
		/* L at most 255 * Nh (§5.3) */
		CHECK_OK(hpke_ctx_export(&s, NULL, 0, out, 255 * 32));
		CHECK_RC(hpke_ctx_export(&s, NULL, 0, out, 255 * 32 + 1),
			 EPOCH_ERR_INVALID_ARG);
	}
	hpke_ctx_wipe(&s);
	hpke_keypair_wipe(&kp);
out:
	free(big);
	free(out);
}

/* X-Wing specifics: the encapsulation seed is exactly 64 bytes; enc of the
 * wrong size is malformed; a tampered enc decapsulates (ML-KEM's implicit
 * rejection) to a different secret, so Open fails; an ML-KEM key failing
 * the FIPS 203 modulus check (first key of the CCTV modulus file, with any
 * X25519 half) is refused by Encap. */
static void test_xwing_negative(void)
{
	static const struct hpke_suite su = { HPKE_KEM_XWING, 1, 3 };
	struct hpke_keypair kp;
	struct hpke_ctx s;
	struct test_bytes bad = { 0 };
	uint8_t ikmE[65] = { 7 }, enc[HPKE_MAX_ENC + 1], pk[HPKE_MAX_PK];
	uint8_t ct[sizeof(msg) + HPKE_TAG_LEN], pt[sizeof(msg)];
	size_t enc_len, ct_len, pt_len;
	char *text, *nl;

	keypair(su.kem_id, "xwing", &kp);
	CHECK_RC(hpke_setup_s_derand(&s, &su, ikmE, 32, kp.pk, kp.pk_len,
				     NULL, 0, NULL, enc, sizeof(enc),
				     &enc_len), EPOCH_ERR_INVALID_ARG);
	CHECK_RC(hpke_setup_s_derand(&s, &su, ikmE, 65, kp.pk, kp.pk_len,
				     NULL, 0, NULL, enc, sizeof(enc),
				     &enc_len), EPOCH_ERR_INVALID_ARG);
	if (CHECK_OK(hpke_seal(&su, NULL, kp.pk, kp.pk_len, NULL, 0, NULL, 0,
			       msg, sizeof(msg), enc, sizeof(enc), &enc_len,
			       ct, sizeof(ct), &ct_len))) {
		CHECK_EQ_U64(enc_len, 1120);
		CHECK_RC(hpke_open(&su, kp.sk, kp.sk_len, enc, enc_len - 1,
				   NULL, 0, NULL, 0, ct, ct_len, pt,
				   sizeof(pt), &pt_len), EPOCH_ERR_MALFORMED);
		CHECK_RC(hpke_open(&su, kp.sk, kp.sk_len, enc, enc_len + 1,
				   NULL, 0, NULL, 0, ct, ct_len, pt,
				   sizeof(pt), &pt_len), EPOCH_ERR_MALFORMED);
		enc[100] ^= 0x04; /* ML-KEM part */
		CHECK_RC(hpke_open(&su, kp.sk, kp.sk_len, enc, enc_len, NULL,
				   0, NULL, 0, ct, ct_len, pt, sizeof(pt),
				   &pt_len), EPOCH_ERR_AUTH);
		enc[100] ^= 0x04;
		enc[1100] ^= 0x04; /* X25519 part */
		CHECK_RC(hpke_open(&su, kp.sk, kp.sk_len, enc, enc_len, NULL,
				   0, NULL, 0, ct, ct_len, pt, sizeof(pt),
				   &pt_len), EPOCH_ERR_AUTH);
		enc[1100] ^= 0x04;
		CHECK_OK(hpke_open(&su, kp.sk, kp.sk_len, enc, enc_len, NULL,
				   0, NULL, 0, ct, ct_len, pt, sizeof(pt),
				   &pt_len));
	}
	text = test_read_file(MODULUS_FILE, NULL);
	if (CHECK(text != NULL)) {
		nl = strchr(text, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (CHECK(test_hex(text, &bad) == 0) &&
		    CHECK(bad.len + 32 == HPKE_MAX_PK)) {
			memcpy(pk, bad.p, bad.len);
			memcpy(pk + bad.len, kp.pk + bad.len, 32);
			CHECK_RC(hpke_setup_s(&s, &su, NULL, pk, sizeof(pk),
					      NULL, 0, NULL, enc, sizeof(enc),
					      &enc_len),
				 EPOCH_ERR_INVALID_KEY);
		}
	}
	free(text);
	test_bytes_free(&bad);
	hpke_ctx_wipe(&s);
	hpke_keypair_wipe(&kp);
}

int main(int argc, char **argv)
{
	test_vectors();
	test_run("roundtrip_all_suites", test_roundtrip_all_suites);
	test_run("rng_matches_derand", test_rng_matches_derand);
	test_run("tampering", test_tampering);
	test_run("single_shot_negative", test_single_shot_negative);
	test_run("lengths", test_lengths);
	test_run("unsupported_ids", test_unsupported_ids);
	test_run("sequence_overflow", test_sequence_overflow);
	test_run("roles_and_export_only", test_roles_and_export_only);
	test_run("psk", test_psk);
	test_run("input_limits", test_input_limits);
	test_run("xwing_negative", test_xwing_negative);
	return test_main_end(argv[0]);
}
