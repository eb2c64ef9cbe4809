/* daemon/dos: the load rules for HELLO datagrams before reassembly. Under
 * load a first fragment without a cookie gets a COOKIE reply (decoded
 * here as the initiator would), the same HELLO with that cookie passes,
 * with a wrong one it does not; later fragments pass only into a
 * reassembly under way; a source over its rate needs cookies; no reply is
 * larger than its request; HELLO reassemblies without a cookie are
 * capped. */
#include <string.h>

#include "daemon/dos.h"
#include "tests/lib/test.h"

static const uint8_t SRC[4] = { 192, 0, 2, 1 };
static uint8_t frag[1200];
static uint8_t kp[1200];

/* A HELLO's first fragment: cookie vector then KeyPackage bytes. */
static size_t hello_frag(const uint8_t *c, size_t c_len)
{
	size_t o = cookie_vec_encode(c, c_len, frag);

	memcpy(frag + o, kp, sizeof(frag) - o);
	return sizeof(frag);
}

static void input(struct dos_hello *in, struct wire_header *h, size_t flen,
		  unsigned half_open)
{
	memset(in, 0, sizeof(*in));
	in->h = h;
	in->frag = frag;
	in->frag_len = flen;
	in->dgram_len = WIRE_HEADER_LEN + flen;
	in->addr = SRC;
	in->addr_len = 4;
	in->port = 7450;
	in->half_open = half_open;
}

static void test_cookie_round_trip(void)
{
	struct dos g;
	struct wire_header h = { .type = WIRE_HELLO, .flags = WIRE_F_INITIATOR,
				 .frag_index = 0, .frag_count = 3,
				 .isid = 0x1111, .msg_id = 0,
				 .total_len = 2689 };
	struct wire_header rh;
	struct dos_hello in;
	uint8_t reply[DOS_COOKIE_DGRAM_LEN], ck[COOKIE_MAX];
	const uint8_t *f, *c;
	size_t rlen, fl, cl;

	memset(kp, 0x5a, sizeof(kp));
	if (!CHECK_OK(dos_init(&g, 0, 2, 8, NULL, 1000)))
		return;
	input(&in, &h, hello_frag(NULL, 0), 0);
	CHECK_EQ_U64(dos_hello_check(&g, &in, 1000, reply, &rlen), DOS_COOKIE);
	CHECK_EQ_U64(rlen, DOS_COOKIE_DGRAM_LEN);
	CHECK_EQ_U64(g.st.cookies_sent, 1);
	/* The reply as the initiator decodes it. */
	CHECK_OK(wire_decode(reply, rlen, &rh, &f, &fl));
	CHECK_EQ_U64(rh.type, WIRE_COOKIE);
	CHECK_EQ_U64(rh.flags, WIRE_F_RESPONSE);
	CHECK_EQ_U64(rh.isid, 0x1111);
	CHECK_EQ_U64(rh.rsid, 0);
	CHECK_EQ_U64(rh.msg_id, 0);
	if (!CHECK_OK(cookie_payload_parse(f, fl, &c, &cl)))
		goto out;
	CHECK_EQ_U64(cl, COOKIE_LEN);
	memcpy(ck, c, cl);
	/* HELLO[1] with the cookie passes. */
	h.msg_id = 1;
	input(&in, &h, hello_frag(ck, cl), 0);
	CHECK_EQ_U64(dos_hello_check(&g, &in, 2000, reply, &rlen), DOS_PASS);
	CHECK_EQ_U64(g.st.cookies_valid, 1);
	/* Its later fragments pass into that reassembly. */
	h.frag_index = 1;
	in.reasm_exists = true;
	CHECK_EQ_U64(dos_hello_check(&g, &in, 2000, reply, &rlen), DOS_PASS);
	/* ... but not without one (under load). */
	in.reasm_exists = false;
	CHECK_EQ_U64(dos_hello_check(&g, &in, 2000, reply, &rlen), DOS_DROP);
	h.frag_index = 0;
	/* From another port, or for another isid: a new COOKIE. */
	in.port = 7451;
	CHECK_EQ_U64(dos_hello_check(&g, &in, 2000, reply, &rlen), DOS_COOKIE);
	in.port = 7450;
	h.isid = 0x2222;
	CHECK_EQ_U64(dos_hello_check(&g, &in, 2000, reply, &rlen), DOS_COOKIE);
	CHECK_EQ_U64(g.st.cookies_invalid, 2);
	h.isid = 0x1111;
	/* Two periods later the cookie has expired. */
	CHECK_EQ_U64(dos_hello_check(&g, &in,
				     1000 + 2 * COOKIE_PERIOD_MS_DEFAULT,
				     reply, &rlen),
		     DOS_COOKIE);
	/* A datagram shorter than a COOKIE gets none (no amplifier). */
	input(&in, &h, 10, 0);
	h.frag_count = 1;
	h.total_len = 10;
	CHECK_EQ_U64(dos_hello_check(&g, &in, 3000, reply, &rlen), DOS_DROP);
	CHECK_EQ_U64(rlen, 0);
	/* A malformed cookie vector: dropped. */
	frag[0] = 0xc0;
	input(&in, &h, 20, 0);
	CHECK_EQ_U64(dos_hello_check(&g, &in, 3000, reply, &rlen), DOS_DROP);
out:
	dos_free(&g);
}

/* Below the threshold a source passes until its burst is spent, then
 * needs cookies; time refills it. */
static void test_rate(void)
{
	struct dos g;
	struct wire_header h = { .type = WIRE_HELLO, .flags = WIRE_F_INITIATOR,
				 .frag_index = 0, .frag_count = 3,
				 .isid = 7, .total_len = 2689 };
	struct dos_hello in;
	uint8_t reply[DOS_COOKIE_DGRAM_LEN];
	size_t rlen;
	int pass = 0, cookie = 0;

	if (!CHECK_OK(dos_init(&g, 2, 2, 8, NULL, 0)))
		return;
	input(&in, &h, hello_frag(NULL, 0), 1);
	for (int i = 0; i < 100; i++) {
		enum dos_verdict v = dos_hello_check(&g, &in, 0, reply, &rlen);

		pass += v == DOS_PASS;
		cookie += v == DOS_COOKIE;
	}
	CHECK_EQ_U64(pass, 8);
	CHECK_EQ_U64(cookie, 92);
	CHECK_EQ_U64(g.st.hellos_rate_limited, 92);
	/* Later fragments of that source start no reassembly now. */
	h.frag_index = 2;
	CHECK_EQ_U64(dos_hello_check(&g, &in, 0, reply, &rlen), DOS_DROP);
	h.frag_index = 0;
	CHECK_EQ_U64(dos_hello_check(&g, &in, 500, reply, &rlen), DOS_PASS);
	/* At the threshold: cookies for everyone, tokens or not. */
	in.half_open = 2;
	CHECK_EQ_U64(dos_hello_check(&g, &in, 60000, reply, &rlen),
		     DOS_COOKIE);
	/* Two HELLO reassemblies without cookies: the next needs one. */
	in.half_open = 0;
	in.hello_reasms = DOS_HELLO_REASM_MAX;
	CHECK_EQ_U64(dos_hello_check(&g, &in, 120000, reply, &rlen),
		     DOS_COOKIE);
	/* A one-fragment HELLO takes no buffer: no cap. */
	h.frag_count = 1;
	h.total_len = (uint32_t)in.frag_len;
	CHECK_EQ_U64(dos_hello_check(&g, &in, 120000, reply, &rlen), DOS_PASS);
	dos_free(&g);
}

int main(void)
{
	test_run("dos_cookie_round_trip", test_cookie_round_trip);
	test_run("dos_rate", test_rate);
	return test_main_end("test_dos");
}
