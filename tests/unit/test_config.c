/* daemon/config: the example config field by field, defaults, one refusal
 * per rule with its exact message (file:line and setting), config_diff. */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/keyfile.h"
#include "proto/mls.h"
#include "tests/lib/test.h"

#define EXAMPLE "daemon/epochd.conf.example"
#define PK_A "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define PK_B "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="

static bool addr_is(const struct xfrm_addr *a, const char *s)
{
	struct xfrm_addr b;

	memset(&b, 0, sizeof(b));
	if (inet_pton(AF_INET, s, &b.a.v4) == 1)
		b.family = AF_INET;
	else if (inet_pton(AF_INET6, s, &b.a.v6) == 1)
		b.family = AF_INET6;
	else
		return false;
	if (a->family != b.family)
		return false;
	return a->family == AF_INET ?
		       memcmp(&a->a.v4, &b.a.v4, 4) == 0 :
		       memcmp(&a->a.v6, &b.a.v6, 16) == 0;
}

static bool prefix_is(const struct config_prefix *p, const char *s,
		      unsigned plen)
{
	return p->plen == plen && addr_is(&p->addr, s);
}

static bool key_is(const uint8_t k[32], const char *b64)
{
	uint8_t want[32];

	return key_public_decode(b64, want) == 0 &&
	       memcmp(k, want, 32) == 0;
}

static int load(const char *text, struct config *c, char *err, size_t n)
{
	return config_load_string(text, strlen(text), "test.conf", c, err, n);
}

static void test_example(void)
{
	struct config c;
	char err[512] = "x";
	const struct config_tunnel *t;
	const struct config_global *g = &c.global;

	if (!CHECK(config_load_file(EXAMPLE, &c, err, sizeof(err)) == 0)) {
		test_note("%s", err);
		return;
	}
	CHECK(err[0] == '\0');
	CHECK(strcmp(c.source, EXAMPLE) == 0);
	CHECK(config_check(&c, err, sizeof(err)) == 0);
	CHECK(g->n_listen == 2);
	CHECK(addr_is(&g->listen[0], "0.0.0.0"));
	CHECK(addr_is(&g->listen[1], "::"));
	CHECK(g->port == 7450);
	CHECK(strcmp(g->private_key, "/etc/epochd/private.key") == 0);
	CHECK(strcmp(g->state_dir, "/var/lib/epochd") == 0);
	CHECK(strcmp(g->control_socket, "/run/epochd/epochd.sock") == 0);
	CHECK(strcmp(g->pid_file, "") == 0);
	CHECK(strcmp(g->user, "epochd") == 0);
	CHECK(g->log_level == CONFIG_LOG_INFO);
	CHECK(g->log_target == CONFIG_LOG_STDERR);
	CHECK(g->mtu == 1280);
	CHECK(g->cookie_threshold == 2);
	CHECK(g->hello_rate == 2);
	CHECK(g->hello_burst == 8);
	CHECK(c.n_tunnels == 2);

	t = config_tunnel_find(&c, "site-b");
	if (CHECK(t == &c.tunnels[0])) {
		CHECK(t->line == 24);
		CHECK(addr_is(&t->local, "192.0.2.1"));
		CHECK(addr_is(&t->remote, "198.51.100.2"));
		CHECK(key_is(t->peer_key, PK_A));
		CHECK(t->n_local_ts == 1);
		CHECK(prefix_is(&t->local_ts[0], "10.1.0.0", 16));
		CHECK(t->n_remote_ts == 2);
		CHECK(prefix_is(&t->remote_ts[0], "10.2.0.0", 16));
		CHECK(prefix_is(&t->remote_ts[1], "10.3.0.0", 24));
		/* Defaults. */
		CHECK(t->enabled);
		CHECK(t->suite == MLS_SUITE_XWING_AES256GCM_SHA512_ED25519);
		CHECK(t->suite == 0xF00D);
		CHECK(t->esp == XFRM_AEAD_AES256_GCM);
		CHECK(t->rekey_time == 3600);
		CHECK(t->rekey_jitter == 10);
		CHECK(t->rekey_bytes == 0 && t->hard_bytes == 0);
		CHECK(t->rekey_packets == 0 && t->hard_packets == 0);
		CHECK(t->hard_time == 3600 + 360);
		CHECK(t->dpd_interval == 10);
		CHECK(t->dpd_timeout == 30);
		CHECK(t->role == CONFIG_ROLE_AUTO);
		CHECK(t->initiator); /* 192.0.2.1 < 198.51.100.2 */
		CHECK(t->reqid_auto);
		CHECK(t->reqid >= CONFIG_REQID_AUTO_LO &&
		      t->reqid <= CONFIG_REQID_AUTO_HI);
		CHECK(t->mark == 0 && t->mark_mask == 0);
		CHECK(t->if_id == 0);
	}
	t = config_tunnel_find(&c, "site_c-v6");
	if (CHECK(t == &c.tunnels[1])) {
		CHECK(t->enabled);
		CHECK(addr_is(&t->local, "2001:db8::1"));
		CHECK(addr_is(&t->remote, "2001:db8:ffff::2"));
		CHECK(key_is(t->peer_key, PK_B));
		CHECK(t->n_local_ts == 2);
		CHECK(prefix_is(&t->local_ts[0], "10.1.0.0", 16));
		CHECK(prefix_is(&t->local_ts[1], "2001:db8:1::", 48));
		CHECK(t->n_remote_ts == 1);
		CHECK(prefix_is(&t->remote_ts[0], "2001:db8:c::", 48));
		CHECK(t->suite == 0x0001);
		CHECK(t->esp == XFRM_AEAD_CHACHA20_POLY1305);
		CHECK(t->rekey_time == 600);
		CHECK(t->rekey_jitter == 20);
		CHECK(t->rekey_bytes == 1000000000ULL);
		CHECK(t->hard_bytes == 1100000000ULL);
		CHECK(t->rekey_packets == 1000000);
		CHECK(t->hard_packets == 1100000);
		CHECK(t->hard_time == 660);
		CHECK(t->dpd_interval == 5);
		CHECK(t->dpd_timeout == 20);
		CHECK(t->role == CONFIG_ROLE_RESPONDER);
		CHECK(!t->initiator);
		CHECK(!t->reqid_auto && t->reqid == 100);
		CHECK(t->mark == 0x10 && t->mark_mask == 0xf0);
		CHECK(t->if_id == 7);
	}
	CHECK(config_tunnel_find(&c, "site-x") == NULL);
	CHECK(config_tunnel_find(&c, "site-B") == NULL);
	config_free(&c);
	CHECK(c.tunnels == NULL && c.n_tunnels == 0);
	config_free(&c); /* twice is fine */
}

static void expect_ok(const char *text, struct config *c);

/* The smallest config: defaults everywhere. */
static void test_defaults(void)
{
	struct config c;
	char err[512];

	if (!CHECK(load("global = { private_key = \"/k\"; };", &c, err,
			sizeof(err)) == 0)) {
		test_note("%s", err);
		return;
	}
	CHECK(c.n_tunnels == 0 && c.tunnels == NULL);
	CHECK(c.global.n_listen == 2);
	CHECK(c.global.port == CONFIG_PORT_DEFAULT && c.global.port == 7450);
	CHECK(c.global.mtu == 1280);
	CHECK(strcmp(c.global.private_key, "/k") == 0);
	CHECK(strcmp(c.global.state_dir, "/var/lib/epochd") == 0);
	CHECK(strcmp(c.global.control_socket, "/run/epochd/epochd.sock") == 0);
	CHECK(c.global.pid_file[0] == '\0');
	CHECK(strcmp(c.global.user, CONFIG_USER_DEFAULT) == 0 &&
	      strcmp(c.global.user, "epochd") == 0);
	CHECK(c.global.log_level == CONFIG_LOG_INFO);
	CHECK(c.global.log_target == CONFIG_LOG_STDERR);
	config_free(&c);

	/* user: "" turns privilege separation off; a change needs a
	 * restart. */
	{
		struct config u, v;
		struct config_diff diff;

		expect_ok("global = { private_key = \"/k\"; user = \"\"; };",
			  &u);
		CHECK(u.global.user[0] == '\0');
		expect_ok("global = { private_key = \"/k\"; "
			  "user = \"_ipsec-2.X\"; };", &v);
		CHECK(strcmp(v.global.user, "_ipsec-2.X") == 0);
		if (CHECK(config_diff(&u, &v, &diff) == 0)) {
			CHECK(diff.global_changed);
			config_diff_free(&diff);
		}
		config_free(&u);
		config_free(&v);
	}

	/* Every global setting, non-default. */
	if (!CHECK(load("global = { listen = \"192.0.2.1\"; port = 1; "
			"private_key = \"/a\"; state_dir = \"/b\"; "
			"control_socket = \"/c\"; pid_file = \"/d\"; "
			"log_level = \"debug\"; log_target = \"syslog\"; "
			"mtu = 65535; cookie_threshold = 0; "
			"hello_rate = 100000; hello_burst = 1; };\n"
			"tunnels = ();", &c, err,
			sizeof(err)) == 0)) {
		test_note("%s", err);
		return;
	}
	CHECK(c.global.n_listen == 1);
	CHECK(addr_is(&c.global.listen[0], "192.0.2.1"));
	CHECK(c.global.port == 1);
	CHECK(strcmp(c.global.state_dir, "/b") == 0);
	CHECK(strcmp(c.global.control_socket, "/c") == 0);
	CHECK(strcmp(c.global.pid_file, "/d") == 0);
	CHECK(c.global.log_level == CONFIG_LOG_DEBUG);
	CHECK(c.global.log_target == CONFIG_LOG_SYSLOG);
	CHECK(c.global.mtu == 65535);
	CHECK(c.global.cookie_threshold == 0);
	CHECK(c.global.hello_rate == 100000);
	CHECK(c.global.hello_burst == 1);
	CHECK(c.n_tunnels == 0);
	config_free(&c);
}

/* A config with one tunnel, each setting on its own line:
 *   1 global   2 tunnels = ( {   3 name   4 local   5 remote
 *   6 peer_key   7 local_ts   8 remote_ts   9 extra   10 } );
 * NULL leaves a line empty (the setting missing). */
static char *tunnel_cfg(const char *name, const char *local,
			const char *remote, const char *key, const char *lts,
			const char *rts, const char *extra)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
		 "global = { private_key = \"/etc/epochd/k\"; };\n"
		 "tunnels = ( {\n"
		 "%s%s%s\n%s%s%s\n%s%s%s\n%s%s%s\n%s%s%s\n%s%s%s\n%s\n"
		 "} );\n",
		 name ? "name = \"" : "", name ? name : "", name ? "\";" : "",
		 local ? "local = \"" : "", local ? local : "",
		 local ? "\";" : "",
		 remote ? "remote = \"" : "", remote ? remote : "",
		 remote ? "\";" : "",
		 key ? "peer_key = \"" : "", key ? key : "", key ? "\";" : "",
		 lts ? "local_ts = " : "", lts ? lts : "", lts ? ";" : "",
		 rts ? "remote_ts = " : "", rts ? rts : "", rts ? ";" : "",
		 extra ? extra : "");
	return buf;
}

#define TUN(extra)                                                          \
	tunnel_cfg("t1", "192.0.2.1", "192.0.2.2", PK_A,                    \
		   "[ \"10.1.0.0/16\" ]", "[ \"10.2.0.0/16\" ]", extra)

/* Loads text, expects a refusal with exactly want, and an empty struct. */
static void expect_err(const char *text, const char *want)
{
	struct config c;
	char err[512];

	memset(&c, 0x5a, sizeof(c));
	if (!CHECK(load(text, &c, err, sizeof(err)) == -1)) {
		fprintf(stderr, "  accepted: %s\n  want: %s\n", text, want);
		config_free(&c);
		return;
	}
	if (!CHECK(strcmp(err, want) == 0))
		fprintf(stderr, "  got:  %s\n  want: %s\n", err, want);
	CHECK(c.tunnels == NULL && c.n_tunnels == 0);
}

static void expect_ok(const char *text, struct config *c)
{
	char err[512];

	if (!CHECK(load(text, c, err, sizeof(err)) == 0))
		fprintf(stderr, "  %s\n", err);
}

static void test_tunnel_ok(void)
{
	struct config c;

	expect_ok(TUN(NULL), &c);
	if (CHECK(c.n_tunnels == 1)) {
		CHECK(strcmp(c.tunnels[0].name, "t1") == 0);
		CHECK(c.tunnels[0].initiator);
		CHECK(c.tunnels[0].line == 2);
	}
	config_free(&c);
	/* Role auto: the higher address responds. */
	expect_ok(tunnel_cfg("t1", "192.0.2.10", "192.0.2.9", PK_A,
			     "\"10.1.0.0/16\"", "( \"10.2.0.0/16\" )",
			     "role = \"auto\";"), &c);
	if (CHECK(c.n_tunnels == 1)) {
		CHECK(!c.tunnels[0].initiator);
		CHECK(c.tunnels[0].n_local_ts == 1);
		CHECK(c.tunnels[0].n_remote_ts == 1);
	}
	config_free(&c);
	expect_ok(tunnel_cfg("t1", "192.0.2.10", "192.0.2.9", PK_A,
			     "\"10.1.0.0/16\"", "\"10.2.0.1\"",
			     "role = \"initiator\";"), &c);
	if (CHECK(c.n_tunnels == 1)) {
		CHECK(c.tunnels[0].initiator);
		CHECK(prefix_is(&c.tunnels[0].remote_ts[0], "10.2.0.1", 32));
	}
	config_free(&c);
	/* Suites and ESP algorithms by name. */
	expect_ok(TUN("suite = \"xwing-tsmls\"; esp = \"aes128gcm\";"), &c);
	if (CHECK(c.n_tunnels == 1)) {
		CHECK(c.tunnels[0].suite == 0x0053);
		CHECK(c.tunnels[0].esp == XFRM_AEAD_AES128_GCM);
	}
	config_free(&c);
	expect_ok(TUN("suite = \"x25519-chacha\"; enabled = false;"), &c);
	if (CHECK(c.n_tunnels == 1)) {
		CHECK(c.tunnels[0].suite == 0x0003);
		CHECK(!c.tunnels[0].enabled);
	}
	config_free(&c);
	/* A mark written in hex above 2^31 (libconfig reads it as a negative
	 * int) and no mask: all ones. */
	expect_ok(TUN("mark = 0xfffffffe; if_id = 0xffffffff; "
		      "dpd_interval = 0; dpd_timeout = 1;"), &c);
	if (CHECK(c.n_tunnels == 1)) {
		CHECK(c.tunnels[0].mark == 0xfffffffe);
		CHECK(c.tunnels[0].mark_mask == 0xffffffff);
		CHECK(c.tunnels[0].if_id == 0xffffffff);
		CHECK(c.tunnels[0].dpd_interval == 0);
	}
	config_free(&c);
	/* Big numbers with L; big-looking ones in comments and strings are
	 * not numbers. */
	expect_ok(TUN("rekey_bytes = 5000000000L; # 5000000000\n"
		      "rekey_packets = 0xffffffff; /* 99999999999 */"), &c);
	if (CHECK(c.n_tunnels == 1)) {
		CHECK(c.tunnels[0].rekey_bytes == 5000000000ULL);
		CHECK(c.tunnels[0].rekey_packets == 0xffffffffULL);
	}
	config_free(&c);
	/* Small rekey limits: the hard one still lies above. */
	expect_ok(TUN("rekey_bytes = 65536; rekey_packets = 100; "
		      "rekey_time = 10;"), &c);
	if (CHECK(c.n_tunnels == 1)) {
		CHECK(c.tunnels[0].hard_bytes == 65536 + 6553);
		CHECK(c.tunnels[0].hard_packets == 110);
		CHECK(c.tunnels[0].hard_time == 70);
	}
	config_free(&c);
}

#define G1 "test.conf:1: "
#define T(n) "test.conf:" #n ": tunnels.[0]."

static void test_refusals_global(void)
{
	char big[600];

	expect_err("global = { private_key = \"/k\" ",
		   "test.conf:1: syntax error");
	expect_err("", "test.conf: missing required section \"global\"");
	expect_err("global = ( );",
		   "test.conf:1: global: expected a group { ... }");
	expect_err("global = { };",
		   "test.conf:1: global: missing required setting "
		   "\"private_key\"");
	expect_err("global = { private_key = \"/k\"; };\nglobals = 1;",
		   "test.conf:2: globals: unknown setting");
	expect_err("global = {\n private_key = \"/k\";\n prot = 7450; };",
		   "test.conf:3: global.prot: unknown setting");
	expect_err("global = { private_key = \"/k\";\n port = 0; };",
		   "test.conf:2: global.port: 0 is out of range (1 to 65535)");
	expect_err("global = { private_key = \"/k\";\n port = 65536; };",
		   "test.conf:2: global.port: 65536 is out of range "
		   "(1 to 65535)");
	expect_err("global = { private_key = \"/k\";\n port = \"7450\"; };",
		   "test.conf:2: global.port: expected an integer");
	expect_err("global = { private_key = \"/k\";\n port = 7450.0; };",
		   "test.conf:2: global.port: expected an integer");
	expect_err("global = { private_key = \"k\"; };",
		   "test.conf:1: global.private_key: \"k\" is not an "
		   "absolute path");
	expect_err("global = { private_key = 1; };",
		   "test.conf:1: global.private_key: expected a string");
	expect_err("global = { private_key = \"/k\";\n"
		   " state_dir = \"/a\\nb\"; };",
		   "test.conf:2: global.state_dir: control character in path");
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	snprintf(big + 300, sizeof(big) - 300, "\"; };");
	{
		char text[700];

		snprintf(text, sizeof(text),
			 "global = { private_key = \"%s", big);
		expect_err(text, "test.conf:1: global.private_key: path "
				 "longer than 255 bytes");
	}
	expect_err("global = { private_key = \"/k\";\n control_socket = "
		   "\"/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"; };",
		   "test.conf:2: global.control_socket: longer than 107 bytes "
		   "(the limit of a unix socket path)");
	expect_err("global = { private_key = \"/k\";\n log_level = \"loud\"; };",
		   "test.conf:2: global.log_level: \"loud\" is not one of "
		   "\"error\", \"warning\", \"notice\", \"info\" or \"debug\"");
	expect_err("global = { private_key = \"/k\";\n"
		   " log_target = \"file\"; };",
		   "test.conf:2: global.log_target: \"file\" is not one of "
		   "\"stderr\" or \"syslog\"");
	expect_err("global = { private_key = \"/k\";\n user = \"-x\"; };",
		   "test.conf:2: global.user: \"-x\" is not a user name (up "
		   "to 32 of A-Z a-z 0-9 . _ -, not starting with - or a "
		   "digit; \"\": no privilege separation)");
	expect_err("global = { private_key = \"/k\"; user = \"0abc\"; };",
		   "test.conf:1: global.user: \"0abc\" is not a user name (up "
		   "to 32 of A-Z a-z 0-9 . _ -, not starting with - or a "
		   "digit; \"\": no privilege separation)");
	expect_err("global = { private_key = \"/k\"; user = \"a b\"; };",
		   "test.conf:1: global.user: \"a b\" is not a user name (up "
		   "to 32 of A-Z a-z 0-9 . _ -, not starting with - or a "
		   "digit; \"\": no privilege separation)");
	expect_err("global = { private_key = \"/k\"; user = "
		   "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"; };",
		   "test.conf:1: global.user: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		   "\" is not a user name (up "
		   "to 32 of A-Z a-z 0-9 . _ -, not starting with - or a "
		   "digit; \"\": no privilege separation)");
	expect_err("global = { private_key = \"/k\"; user = 0; };",
		   "test.conf:1: global.user: expected a string");
	expect_err("global = { private_key = \"/k\";\n mtu = 575; };",
		   "test.conf:2: global.mtu: 575 is out of range "
		   "(576 to 65535)");
	expect_err("global = { private_key = \"/k\";\n"
		   " cookie_threshold = 65536; };",
		   "test.conf:2: global.cookie_threshold: 65536 is out of "
		   "range (0 to 65535)");
	expect_err("global = { private_key = \"/k\";\n hello_rate = 0; };",
		   "test.conf:2: global.hello_rate: 0 is out of range "
		   "(1 to 100000)");
	expect_err("global = { private_key = \"/k\";\n"
		   " hello_burst = 100001; };",
		   "test.conf:2: global.hello_burst: 100001 is out of range "
		   "(1 to 100000)");
	expect_err("global = { private_key = \"/k\";\n"
		   " listen = [ \"0.0.0.0\", \"::\", \"192.0.2.300\" ]; };",
		   "test.conf:2: global.listen.[2]: \"192.0.2.300\" is not an "
		   "IPv4 or IPv6 address");
	expect_err("global = { private_key = \"/k\";\n"
		   " listen = [ \"::1\", \"::1\" ]; };",
		   "test.conf:2: global.listen.[1]: address listed twice");
	expect_err("global = { private_key = \"/k\";\n listen = [ ]; };",
		   "test.conf:2: global.listen: 0 addresses (1 to 8 allowed)");
	expect_err("global = { private_key = \"/k\";\n listen = 1; };",
		   "test.conf:2: global.listen: expected an address or a list "
		   "of addresses");
	expect_err("global = { private_key = \"/k\"; };\ntunnels = { };",
		   "test.conf:2: tunnels: expected a list ( { ... }, { ... } )");
	expect_err("global = { private_key = \"/k\"; };\ntunnels = ( 1 );",
		   "test.conf:2: tunnels.[0]: expected a group { ... }");
}

static void test_refusals_include(void)
{
	expect_err("global = { private_key = \"/k\"; };\n"
		   "  @include \"/etc/passwd\"\n",
		   "test.conf:2: @include is not allowed (a config is one "
		   "self-contained file)");
	/* Even in a comment, and in any case. */
	expect_err("/*\n@INCLUDE \"x\"\n*/\n",
		   "test.conf:2: @include is not allowed (a config is one "
		   "self-contained file)");
	{
		static const char nul[] = "global = { private_key = \"/k\";\n"
					  "\0 };";
		struct config c;
		char err[256];

		CHECK(config_load_string(nul, sizeof(nul) - 1, "n.conf", &c,
					 err, sizeof(err)) == -1);
		CHECK(strcmp(err, "n.conf:2: NUL byte in the file") == 0);
	}
}

static void test_refusals_tunnel(void)
{
	/* Missing required settings (line of the tunnel's group). */
	expect_err(tunnel_cfg(NULL, "192.0.2.1", "192.0.2.2", PK_A, "\"10.0.0.0/8\"",
			      "\"10.1.0.0/16\"", NULL),
		   "test.conf:2: tunnels.[0]: missing required setting "
		   "\"name\"");
	expect_err(tunnel_cfg("t1", NULL, "192.0.2.2", PK_A, "\"10.0.0.0/8\"",
			      "\"10.1.0.0/16\"", NULL),
		   "test.conf:2: tunnels.[0]: missing required setting "
		   "\"local\"");
	expect_err(tunnel_cfg("t1", "192.0.2.1", NULL, PK_A, "\"10.0.0.0/8\"",
			      "\"10.1.0.0/16\"", NULL),
		   "test.conf:2: tunnels.[0]: missing required setting "
		   "\"remote\"");
	expect_err(tunnel_cfg("t1", "192.0.2.1", "192.0.2.2", NULL,
			      "\"10.0.0.0/8\"", "\"10.1.0.0/16\"", NULL),
		   "test.conf:2: tunnels.[0]: missing required setting "
		   "\"peer_key\"");
	expect_err(tunnel_cfg("t1", "192.0.2.1", "192.0.2.2", PK_A, NULL,
			      "\"10.1.0.0/16\"", NULL),
		   "test.conf:2: tunnels.[0]: missing required setting "
		   "\"local_ts\"");
	expect_err(tunnel_cfg("t1", "192.0.2.1", "192.0.2.2", PK_A,
			      "\"10.0.0.0/8\"", NULL, NULL),
		   "test.conf:2: tunnels.[0]: missing required setting "
		   "\"remote_ts\"");
	/* Unknown setting. */
	expect_err(TUN("rekey_tme = 60;"),
		   T(9) "rekey_tme: unknown setting");
	/* Names. */
	expect_err(tunnel_cfg("a b", "192.0.2.1", "192.0.2.2", PK_A,
			      "\"10.0.0.0/8\"", "\"10.1.0.0/16\"", NULL),
		   T(3) "name: \"a b\" is not a valid name (1 to 32 of "
		   "A-Z a-z 0-9 _ -)");
	expect_err(tunnel_cfg("", "192.0.2.1", "192.0.2.2", PK_A,
			      "\"10.0.0.0/8\"", "\"10.1.0.0/16\"", NULL),
		   T(3) "name: \"\" is not a valid name (1 to 32 of "
		   "A-Z a-z 0-9 _ -)");
	expect_err(tunnel_cfg("abcdefghijklmnopqrstuvwxyz0123456",
			      "192.0.2.1", "192.0.2.2", PK_A,
			      "\"10.0.0.0/8\"", "\"10.1.0.0/16\"", NULL),
		   T(3) "name: \"abcdefghijklmnopqrstuvwxyz0123456\" is not "
		   "a valid name (1 to 32 of A-Z a-z 0-9 _ -)");
	/* Addresses. */
	expect_err(tunnel_cfg("t1", "192.0.2.1", "192.0.2.300", PK_A,
			      "\"10.0.0.0/8\"", "\"10.1.0.0/16\"", NULL),
		   T(5) "remote: \"192.0.2.300\" is not an IPv4 or IPv6 "
		   "address");
	expect_err(tunnel_cfg("t1", "gw.example", "192.0.2.2", PK_A,
			      "\"10.0.0.0/8\"", "\"10.1.0.0/16\"", NULL),
		   T(4) "local: \"gw.example\" is not an IPv4 or IPv6 "
		   "address");
	expect_err(tunnel_cfg("t1", "192.0.2.1", "2001:db8::2", PK_A,
			      "\"10.0.0.0/8\"", "\"10.1.0.0/16\"", NULL),
		   T(5) "remote: is IPv6 but local is IPv4 (both must be of "
		   "one family)");
	expect_err(tunnel_cfg("t1", "192.0.2.1", "192.0.2.1", PK_A,
			      "\"10.0.0.0/8\"", "\"10.1.0.0/16\"", NULL),
		   T(5) "remote: is the same as local");
	expect_err(tunnel_cfg("t1", "0.0.0.0", "192.0.2.1", PK_A,
			      "\"10.0.0.0/8\"", "\"10.1.0.0/16\"", NULL),
		   T(4) "local: must be a unicast address of this host");
	expect_err(tunnel_cfg("t1", "192.0.2.1", "ff02::1", PK_A,
			      "\"10.0.0.0/8\"", "\"10.1.0.0/16\"", NULL),
		   T(5) "remote: must be a unicast address of the peer");
	/* Peer key: short, bad character, non-canonical. */
	expect_err(tunnel_cfg("t1", "192.0.2.1", "192.0.2.2",
			      "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR=",
			      "\"10.0.0.0/8\"", "\"10.1.0.0/16\"", NULL),
		   T(6) "peer_key: not a public key (44 characters of base64, "
		   "as `epochctl pubkey` prints)");
	expect_err(tunnel_cfg("t1", "192.0.2.1", "192.0.2.2",
			      "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURp=",
			      "\"10.0.0.0/8\"", "\"10.1.0.0/16\"", NULL),
		   T(6) "peer_key: not a public key (44 characters of base64, "
		   "as `epochctl pubkey` prints)");
	/* Traffic selectors. */
	expect_err(tunnel_cfg("t1", "192.0.2.1", "192.0.2.2", PK_A,
			      "[ \"10.0.0.0/8\", \"10.1.2.3/16\" ]",
			      "\"10.1.0.0/16\"", NULL),
		   T(7) "local_ts.[1]: \"10.1.2.3/16\" has host bits set");
	expect_err(tunnel_cfg("t1", "192.0.2.1", "192.0.2.2", PK_A,
			      "\"10.0.0.0/8\"", "\"10.1.0.0/33\"", NULL),
		   T(8) "remote_ts: \"10.1.0.0/33\" is not an address prefix "
		   "(ADDRESS/LENGTH)");
	expect_err(tunnel_cfg("t1", "192.0.2.1", "192.0.2.2", PK_A,
			      "\"10.0.0.0/08\"", "\"10.1.0.0/16\"", NULL),
		   T(7) "local_ts: \"10.0.0.0/08\" is not an address prefix "
		   "(ADDRESS/LENGTH)");
	expect_err(tunnel_cfg("t1", "192.0.2.1", "192.0.2.2", PK_A,
			      "\"10.0.0.0/8\"", "[ ]", NULL),
		   T(8) "remote_ts: 0 prefixes (1 to 16 allowed)");
	expect_err(tunnel_cfg("t1", "192.0.2.1", "192.0.2.2", PK_A,
			      "[ \"::/0\", \"::/0\" ]", "\"10.1.0.0/16\"",
			      NULL),
		   T(7) "local_ts.[1]: \"::/0\" listed twice");
	expect_err(tunnel_cfg("t1", "192.0.2.1", "192.0.2.2", PK_A,
			      "10", "\"10.1.0.0/16\"", NULL),
		   T(7) "local_ts: expected a list of prefixes "
		   "[ \"a/len\", ... ]");
	/* Enumerations. */
	expect_err(TUN("suite = \"mlkem\";"),
		   T(9) "suite: \"mlkem\" is not one of \"xwing\", "
		   "\"xwing-tsmls\", \"x25519-aes128\" or \"x25519-chacha\"");
	expect_err(TUN("esp = \"aes256cbc\";"),
		   T(9) "esp: \"aes256cbc\" is not one of \"aes256gcm\", "
		   "\"aes128gcm\" or \"chacha20poly1305\"");
	expect_err(TUN("role = \"both\";"),
		   T(9) "role: \"both\" is not one of \"auto\", \"initiator\" "
		   "or \"responder\"");
	expect_err(TUN("enabled = 1;"),
		   T(9) "enabled: expected true or false");
	/* Ranges. */
	expect_err(TUN("rekey_time = 9;"),
		   T(9) "rekey_time: 9 is out of range (10 to 604800)");
	expect_err(TUN("rekey_time = 604801;"),
		   T(9) "rekey_time: 604801 is out of range (10 to 604800)");
	expect_err(TUN("rekey_jitter = 51;"),
		   T(9) "rekey_jitter: 51 is out of range (0 to 50)");
	expect_err(TUN("rekey_bytes = 1000;"),
		   T(9) "rekey_bytes: 1000 is out of range (0 for none, or "
		   "65536 to 1152921504606846976)");
	expect_err(TUN("rekey_bytes = -1;"),
		   T(9) "rekey_bytes: -1 is out of range (0 to "
		   "1152921504606846976)");
	expect_err(TUN("rekey_packets = 99;"),
		   T(9) "rekey_packets: 99 is out of range (0 for none, or "
		   "100 to 1152921504606846976)");
	expect_err(TUN("dpd_interval = 3601;"),
		   T(9) "dpd_interval: 3601 is out of range (0 to 3600)");
	expect_err(TUN("dpd_interval = 10; dpd_timeout = 10;"),
		   T(9) "dpd_timeout: dpd_timeout (10) must be longer than "
		   "dpd_interval (10)");
	expect_err(TUN("dpd_interval = 30;"),
		   T(9) "dpd_interval: dpd_timeout (30) must be longer than "
		   "dpd_interval (30)");
	expect_err(TUN("reqid = 0;"),
		   T(9) "reqid: 0 is out of range (1 to 2147483647)");
	expect_err(TUN("reqid = 0x45700001;"),
		   T(9) "reqid: 1164967937 is in the range reserved for "
		   "automatic reqids (1164967936 to 1165033471)");
	expect_err(TUN("mark_mask = 0xff;"),
		   T(9) "mark_mask: set without mark");
	expect_err(TUN("mark = 0x100; mark_mask = 0xff;"),
		   T(9) "mark_mask: mark 0x100 has bits outside the mask 0xff");
	/* Integers libconfig 1.5 would wrap without a word. */
	expect_err(TUN("rekey_bytes = 5000000000;"),
		   "test.conf:9: rekey_bytes: 5000000000 does not fit in 32 "
		   "bits (write larger numbers with the suffix L)");
	expect_err(TUN("rekey_packets = -2147483649;"),
		   "test.conf:9: rekey_packets: -2147483649 does not fit in "
		   "32 bits (write larger numbers with the suffix L)");
	expect_err(TUN("mark = 0x100000000;"),
		   "test.conf:9: mark: 0x100000000 does not fit in 32 bits "
		   "(write larger numbers with the suffix L)");
	expect_err(TUN("rekey_bytes = 9223372036854775808L;"),
		   "test.conf:9: rekey_bytes: 9223372036854775808L does not "
		   "fit in 64 bits");
	expect_err(TUN("rekey_bytes = 0x10000000000000000L;"),
		   "test.conf:9: rekey_bytes: 0x10000000000000000L does not "
		   "fit in 64 bits");
	expect_err(TUN("reqid = 0x80000000;"),
		   T(9) "reqid: 2147483648 is out of range (1 to 2147483647)");
	expect_err(TUN("mark = -1;"),
		   T(9) "mark: -1 is out of range (0 to 4294967295)");
	expect_err(TUN("if_id = 0;"),
		   T(9) "if_id: 0 is out of range (1 to 4294967295)");
}

static void test_refusals_across(void)
{
	static const char head[] =
		"global = { private_key = \"/k\"; };\n"
		"tunnels = (\n";
	static const char t_a[] =
		"{ name = \"a\"; local = \"192.0.2.1\"; remote = \"192.0.2.2\";"
		" peer_key = \"" PK_A "\"; local_ts = \"10.0.0.0/8\";"
		" remote_ts = \"10.1.0.0/16\"; reqid = 5; }";
	static const char t_b[] =
		"{ name = \"b\"; local = \"192.0.2.1\"; remote = \"192.0.2.3\";"
		" peer_key = \"" PK_B "\"; local_ts = \"10.0.0.0/8\";"
		" remote_ts = \"10.2.0.0/16\"; reqid = 6; }";
	static const char t_a2[] =
		"{ name = \"a\"; local = \"192.0.2.1\"; remote = \"192.0.2.4\";"
		" peer_key = \"" PK_B "\"; local_ts = \"10.0.0.0/8\";"
		" remote_ts = \"10.3.0.0/16\"; }";
	static const char t_c5[] =
		"{ name = \"c\"; local = \"192.0.2.1\"; remote = \"192.0.2.4\";"
		" peer_key = \"" PK_B "\"; local_ts = \"10.0.0.0/8\";"
		" remote_ts = \"10.3.0.0/16\"; reqid = 5; }";
	char text[2048];
	struct config c;

	snprintf(text, sizeof(text), "%s%s,\n%s,\n%s );\n", head, t_a, t_b,
		 t_a2);
	expect_err(text, "test.conf:5: tunnels.[2].name: \"a\" is already the "
			 "name of tunnels.[0] (line 3)");
	snprintf(text, sizeof(text), "%s%s,\n%s,\n%s );\n", head, t_a, t_b,
		 t_c5);
	expect_err(text, "test.conf:5: tunnels.[2].reqid: reqid 5 is already "
			 "used by tunnels.[0] (line 3)");
	snprintf(text, sizeof(text), "%s%s,\n%s );\n", head, t_a, t_b);
	expect_ok(text, &c);
	CHECK(c.n_tunnels == 2);
	config_free(&c);
}

/* Automatic reqids: unique, stable under edits of other tunnels, clear of
 * explicit ones. */
static void test_reqids(void)
{
	char text[64 * 1024];
	struct config c, d;
	size_t off;
	const struct config_tunnel *a, *b;

	off = (size_t)snprintf(text, sizeof(text),
			       "global = { private_key = \"/k\"; };\n"
			       "tunnels = (\n");
	for (int i = 0; i < 200; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
			"%s{ name = \"t%d\"; local = \"192.0.2.1\"; "
			"remote = \"198.51.%d.%d\"; peer_key = \"" PK_A "\"; "
			"local_ts = \"10.0.0.0/8\"; remote_ts = \"10.%d.0.0/16\";"
			" }\n", i ? "," : "", i, i / 200, i % 200 + 1, i);
	snprintf(text + off, sizeof(text) - off, ");\n");
	expect_ok(text, &c);
	if (!CHECK(c.n_tunnels == 200))
		goto out;
	for (size_t i = 0; i < c.n_tunnels; i++) {
		CHECK(c.tunnels[i].reqid_auto);
		for (size_t j = 0; j < i; j++)
			CHECK(c.tunnels[i].reqid != c.tunnels[j].reqid);
	}
	/* Without the first tunnel the others keep their reqids (no hash
	 * collision among these names: checked by the loop above holding
	 * all distinct and the comparison below). */
	{
		char *p = strstr(text, "{ name = \"t1\"");
		char *start = strstr(text, "{ name = \"t0\"");

		memmove(start, p, strlen(p) + 1);
	}
	expect_ok(text, &d);
	if (CHECK(d.n_tunnels == 199)) {
		a = config_tunnel_find(&c, "t150");
		b = config_tunnel_find(&d, "t150");
		CHECK(a && b && a->reqid == b->reqid);
	}
	config_free(&d);
out:
	config_free(&c);
}

static void test_load_file_errors(void)
{
	struct config c;
	char err[512], path[64];
	FILE *f;

	CHECK(config_load_file("/nonexistent/epochd.conf", &c, err,
			       sizeof(err)) == -1);
	CHECK(strcmp(err, "/nonexistent/epochd.conf: No such file or "
			  "directory") == 0);
	CHECK(config_load_file("/tmp", &c, err, sizeof(err)) == -1);
	CHECK(strcmp(err, "/tmp: not a regular file") == 0);
	/* A file's messages carry its path. */
	snprintf(path, sizeof(path), "/tmp/test_config.%d.conf", (int)getpid());
	f = fopen(path, "w");
	if (!CHECK(f != NULL))
		return;
	fputs("global = {\n\tprivate_key = \"/k\";\n};\n"
	      "tunnels = (\n\t{\n\t\tname = \"x\";\n\t\tlocal = \"192.0.2.1\";\n"
	      "\t\tremote = \"192.0.2.300\";\n", f);
	fclose(f);
	CHECK(config_load_file(path, &c, err, sizeof(err)) == -1);
	{
		char want[256];

		snprintf(want, sizeof(want), "%s:9: syntax error", path);
		if (!CHECK(strcmp(err, want) == 0))
			fprintf(stderr, "  got %s\n", err);
	}
	f = fopen(path, "w");
	fputs("global = {\n\tprivate_key = \"/k\";\n};\n"
	      "tunnels = (\n\t{\n\t\tname = \"x\";\n\t\tlocal = \"192.0.2.1\";\n"
	      "\t\tremote = \"192.0.2.300\";\n\t}\n);\n", f);
	fclose(f);
	CHECK(config_load_file(path, &c, err, sizeof(err)) == -1);
	{
		char want[256];

		snprintf(want, sizeof(want),
			 "%s:8: tunnels.[0].remote: \"192.0.2.300\" is not an "
			 "IPv4 or IPv6 address", path);
		if (!CHECK(strcmp(err, want) == 0))
			fprintf(stderr, "  got %s\n", err);
	}
	unlink(path);
}

static void test_diff(void)
{
	static const char *g = "global = { private_key = \"/k\"; };\n";
	char a[4096], b[4096];
	struct config ca, cb;
	struct config_diff d;

#define TUNNEL(name, remote, extra)                                         \
	"{ name = \"" name "\"; local = \"192.0.2.1\"; remote = \"" remote    \
	"\"; peer_key = \"" PK_A "\"; local_ts = \"10.0.0.0/8\"; "           \
	"remote_ts = \"10.9.0.0/16\"; " extra " }"

	snprintf(a, sizeof(a), "%stunnels = (%s, %s, %s);", g,
		 TUNNEL("keep", "192.0.2.2", ""),
		 TUNNEL("gone", "192.0.2.3", ""),
		 TUNNEL("edit", "192.0.2.4", "rekey_time = 600;"));
	snprintf(b, sizeof(b), "%stunnels = (%s, %s, %s);", g,
		 TUNNEL("new", "192.0.2.5", ""),
		 TUNNEL("edit", "192.0.2.4", "rekey_time = 601;"),
		 TUNNEL("keep", "192.0.2.2", ""));
	expect_ok(a, &ca);
	expect_ok(b, &cb);
	if (!CHECK(config_diff(&ca, &cb, &d) == 0))
		goto out;
	CHECK(d.n == 4);
	CHECK(d.n_added == 1 && d.n_removed == 1 && d.n_changed == 1 &&
	      d.n_unchanged == 1);
	CHECK(!d.global_changed);
	if (d.n == 4) {
		CHECK(strcmp(d.entries[0].name, "keep") == 0);
		CHECK(d.entries[0].change == CONFIG_UNCHANGED);
		CHECK(d.entries[0].old == &ca.tunnels[0]);
		CHECK(d.entries[0].new == &cb.tunnels[2]);
		CHECK(strcmp(d.entries[1].name, "gone") == 0);
		CHECK(d.entries[1].change == CONFIG_REMOVED);
		CHECK(d.entries[1].new == NULL);
		CHECK(strcmp(d.entries[2].name, "edit") == 0);
		CHECK(d.entries[2].change == CONFIG_CHANGED);
		CHECK(strcmp(d.entries[3].name, "new") == 0);
		CHECK(d.entries[3].change == CONFIG_ADDED);
		CHECK(d.entries[3].old == NULL);
		CHECK(d.entries[3].new == &cb.tunnels[0]);
	}
	config_diff_free(&d);
	CHECK(d.entries == NULL && d.n == 0);

	/* Against itself: all unchanged (a moved line does not count). */
	CHECK(config_diff(&cb, &cb, &d) == 0);
	CHECK(d.n == 3 && d.n_unchanged == 3 && !d.global_changed);
	config_diff_free(&d);
	config_free(&cb);

	/* Each single field changed is seen. */
	{
		static const char *edits[] = {
			"enabled = false;", "suite = \"x25519-aes128\";",
			"esp = \"aes128gcm\";", "rekey_jitter = 11;",
			"rekey_bytes = 70000;", "rekey_packets = 1000;",
			"dpd_interval = 11;", "dpd_timeout = 31;",
			"role = \"initiator\";", "reqid = 9;", "mark = 1;",
			"if_id = 3;",
		};
		for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]);
		     i++) {
			char extra[128];

			snprintf(extra, sizeof(extra), "rekey_time = 600; %s",
				 edits[i]);
			snprintf(b, sizeof(b), "%stunnels = (%s, %s, "
				 "{ name = \"edit\"; local = \"192.0.2.1\"; "
				 "remote = \"192.0.2.4\"; peer_key = \"" PK_A
				 "\"; local_ts = \"10.0.0.0/8\"; remote_ts = "
				 "\"10.9.0.0/16\"; %s });\n", g,
				 TUNNEL("keep", "192.0.2.2", ""),
				 TUNNEL("gone", "192.0.2.3", ""), extra);
			expect_ok(b, &cb);
			if (CHECK(config_diff(&ca, &cb, &d) == 0)) {
				if (!CHECK(d.n == 3 && d.n_changed == 1 &&
					   d.n_unchanged == 2 &&
					   d.entries[2].change ==
						   CONFIG_CHANGED))
					fprintf(stderr, "  edit: %s\n",
						edits[i]);
			}
			config_diff_free(&d);
			config_free(&cb);
		}
	}
	/* The peer key, a selector, the remote address; and a global
	 * setting that needs a restart (the tunnels all unchanged). */
	{
		static const char *const olds[] = {
			PK_A "\"; local_ts = \"10.0.0.0/8\"; remote_ts",
			"\"10.9.0.0/16\"",
			"192.0.2.2",
		};
		static const char *const news[] = {
			PK_B "\"; local_ts = \"10.0.0.0/8\"; remote_ts",
			"[ \"10.9.0.0/16\", \"10.8.0.0/16\" ]",
			"192.0.2.9",
		};
		for (size_t i = 0; i < 3; i++) {
			char *p;

			snprintf(b, sizeof(b), "%s", a);
			p = strstr(b, olds[i]);
			if (!CHECK(p != NULL))
				continue;
			{
				char tail[4096];

				snprintf(tail, sizeof(tail), "%s",
					 p + strlen(olds[i]));
				snprintf(p, sizeof(b) - (size_t)(p - b),
					 "%s%s", news[i], tail);
			}
			expect_ok(b, &cb);
			if (CHECK(config_diff(&ca, &cb, &d) == 0))
				CHECK(d.n == 3 && d.n_changed == 1 &&
				      d.entries[0].change == CONFIG_CHANGED);
			config_diff_free(&d);
			config_free(&cb);
		}
	}
	snprintf(b, sizeof(b), "%s", a);
	memcpy(strstr(b, "\"/k\""), "\"/j\"", 4);
	expect_ok(b, &cb);
	if (CHECK(config_diff(&ca, &cb, &d) == 0))
		CHECK(d.global_changed && d.n_unchanged == 3);
	config_diff_free(&d);
	config_free(&cb);
	snprintf(b, sizeof(b), "global = { private_key = \"/k\"; "
		 "mtu = 1400; log_level = \"debug\"; };\n%s",
		 strstr(a, "tunnels"));
	expect_ok(b, &cb);
	if (CHECK(config_diff(&ca, &cb, &d) == 0))
		CHECK(!d.global_changed && d.n_unchanged == 3);
	config_diff_free(&d);
	config_free(&cb);
out:
	config_free(&ca);
}

int main(void)
{
	test_run("example", test_example);
	test_run("defaults", test_defaults);
	test_run("tunnel_ok", test_tunnel_ok);
	test_run("refusals_global", test_refusals_global);
	test_run("refusals_include", test_refusals_include);
	test_run("refusals_tunnel", test_refusals_tunnel);
	test_run("refusals_across", test_refusals_across);
	test_run("reqids", test_reqids);
	test_run("load_file_errors", test_load_file_errors);
	test_run("diff", test_diff);
	return test_main_end("test_config");
}
