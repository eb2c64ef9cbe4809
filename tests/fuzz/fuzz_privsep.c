/* Fuzz target for daemon/privsep: the input is one request of the network
 * process as the privileged process receives it (docs/privsep.md), given
 * to psep_decode and, when it decodes, to psep_check against a fixed
 * configuration. No kernel call is on this path.
 *
 * Invariants:
 *  - decode returns 0 or -EPROTO; on -EPROTO the reason is non-empty and
 *    the request struct holds nothing (no key bytes left behind);
 *  - on 0 the request re-encodes to exactly the input (one encoding per
 *    request: nothing the decoder ignores can carry meaning);
 *  - check returns 0 or -EPERM, with a reason when refusing;
 *  - what check accepts is within the configuration: the reqid is a
 *    tunnel's (or a FLUSH of a listed extra reqid, or a RELOAD with reqid
 *    0; a PRUNE names a tunnel's reqid), an SA has the tunnel's reqid, algorithm and key length and the
 *    tunnel's gateways as its endpoints, a policy the tunnel's reqid and
 *    gateways as its template.
 */
#include <errno.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/privsep.h"
#include "tests/fuzz/fuzz.h"

/* The same two tunnels as tests/unit/test_privsep.c. */
static const char conf_text[] =
	"global = { private_key = \"/k\"; };\n"
	"tunnels = (\n"
	" { name = \"t4\"; local = \"192.0.2.1\"; remote = \"192.0.2.2\";\n"
	"   peer_key = \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\";\n"
	"   local_ts = [ \"198.51.100.0/24\", \"198.51.100.128/25\" ];\n"
	"   remote_ts = [ \"203.0.113.0/24\", \"203.0.113.7/32\" ];\n"
	"   rekey_bytes = 1000000L; },\n"
	" { name = \"t6\"; local = \"2001:db8::1\"; remote = \"2001:db8::2\";\n"
	"   peer_key = \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\";\n"
	"   local_ts = [ \"2001:db8:1::/48\" ];\n"
	"   remote_ts = [ \"2001:db8:2::/48\" ];\n"
	"   esp = \"chacha20poly1305\"; reqid = 100; mark = 0x10;\n"
	"   mark_mask = 0xf0; if_id = 7; }\n"
	");\n";

static bool same_addr(const struct xfrm_addr *a, const struct xfrm_addr *b)
{
	if (a->family != b->family)
		return false;
	return a->family == AF_INET ?
		       a->a.v4.s_addr == b->a.v4.s_addr :
		       memcmp(&a->a.v6, &b->a.v6, sizeof(a->a.v6)) == 0;
}

static void accepted(const struct config *c, const struct psep_req *r,
		     const uint32_t *extra, size_t n_extra)
{
	const struct config_tunnel *t = NULL;

	for (size_t i = 0; i < c->n_tunnels; i++)
		if (c->tunnels[i].reqid == r->reqid)
			t = &c->tunnels[i];
	if (r->type == PSEP_RELOAD) {
		FUZZ_REQUIRE(r->reqid == 0);
		return;
	}
	if (r->type == PSEP_FLUSH) {
		bool listed = false;

		for (size_t i = 0; i < n_extra; i++)
			listed |= extra[i] == r->reqid;
		FUZZ_REQUIRE(t || listed);
		return;
	}
	FUZZ_REQUIRE(t != NULL);
	switch (r->type) {
	case PSEP_ALLOC_SPI:
		FUZZ_REQUIRE(same_addr(&r->src, &t->remote));
		FUZZ_REQUIRE(same_addr(&r->dst, &t->local));
		FUZZ_REQUIRE(r->min >= PSEP_SPI_MIN && r->min <= r->max);
		break;
	case PSEP_SA_ADD:
		FUZZ_REQUIRE(r->sa.reqid == t->reqid);
		FUZZ_REQUIRE(r->sa.aead == t->esp);
		FUZZ_REQUIRE(r->sa.key_len == xfrm_aead_key_len(t->esp));
		FUZZ_REQUIRE((same_addr(&r->sa.src, &t->local) &&
			      same_addr(&r->sa.dst, &t->remote)) ||
			     (same_addr(&r->sa.src, &t->remote) &&
			      same_addr(&r->sa.dst, &t->local)));
		FUZZ_REQUIRE(r->sa.lft.hard_seconds == t->hard_time);
		break;
	case PSEP_SA_DELETE:
	case PSEP_SA_STATS:
		FUZZ_REQUIRE(same_addr(&r->dst, &t->local) ||
			     same_addr(&r->dst, &t->remote));
		break;
	case PSEP_SA_PRUNE:
		FUZZ_REQUIRE(r->n_keep <= PSEP_KEEP_MAX);
		break;
	default: /* policies */
		FUZZ_REQUIRE(r->pol.reqid == t->reqid);
		FUZZ_REQUIRE(r->pol.priority == PSEP_POLICY_PRIORITY);
		FUZZ_REQUIRE(r->pol.dir == XFRM_DIR_OUT || r->pol.spi == 0);
		FUZZ_REQUIRE(
			r->pol.dir == XFRM_DIR_OUT ?
				same_addr(&r->pol.tmpl_dst, &t->remote) :
				same_addr(&r->pol.tmpl_dst, &t->local));
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t extra[2] = { 5, 0x45700001u };
	struct config c;
	struct psep_req r;
	uint8_t again[PSEP_MSG_MAX];
	char why[200];
	int rc, n;

	FUZZ_REQUIRE(config_load_string(conf_text, strlen(conf_text), "f",
					&c, NULL, 0) == 0);
	memset(&r, 0x5a, sizeof(r));
	why[0] = 0;
	rc = psep_decode(data, size, &r, why, sizeof(why));
	FUZZ_REQUIRE(rc == 0 || rc == -EPROTO);
	FUZZ_REQUIRE(memchr(why, 0, sizeof(why)) != NULL);
	if (rc < 0) {
		static const struct psep_req zero;

		FUZZ_REQUIRE(why[0] != 0);
		FUZZ_REQUIRE(memcmp(&r, &zero, sizeof(r)) == 0);
		config_free(&c);
		return 0;
	}
	n = psep_encode(&r, again, sizeof(again));
	FUZZ_REQUIRE(n >= 0 && (size_t)n == size);
	FUZZ_REQUIRE(memcmp(again, data, size) == 0);
	why[0] = 0;
	rc = psep_check(&c, &r, extra, 2, why, sizeof(why));
	FUZZ_REQUIRE(rc == 0 || rc == -EPERM);
	if (rc < 0)
		FUZZ_REQUIRE(why[0] != 0);
	else
		accepted(&c, &r, extra, 2);
	config_free(&c);
	return 0;
}
