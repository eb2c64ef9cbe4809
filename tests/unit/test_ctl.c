/* daemon/ctl: the JSON subset, requests and their refusals, replies, status
 * and event renderings (exact strings worked out by hand from
 * docs/control.md), the server helpers on a unix socket in a temporary
 * directory, and build/bin/epochctl run against a tiny in-test server. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/ctl.h"
#include "tests/lib/test.h"

#define CHECK_STR(got, want) check_str((got), (want), __FILE__, __LINE__)

static int check_str(const char *got, const char *want, const char *file,
		     int line)
{
	if (got != NULL && strcmp(got, want) == 0)
		return 1;
	test_fail(file, line, "got \"%s\", want \"%s\"",
		  got ? got : "(null)", want);
	return 0;
}

static char tmpdir[] = "/tmp/test_ctl.XXXXXX";
static char epochctl_path[PATH_MAX + 32];

static void tmp_path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

/* ---- JSON ---------------------------------------------------------------- */

static void test_json_accept(void)
{
	const char *t = " {\"a\":[{\"b\":true},{\"c\":18446744073709551615}],"
			"\"s\":\"\\u00e9\\ud83d\\ude00\\n\\/\\\"\",\"e\":{},"
			"\"z\":[],\"f\":false,\"n\":0} \r\n";
	static const char want_s[] = "\xc3\xa9\xf0\x9f\x98\x80\n/\"";
	struct ctl_json_doc d;
	const struct ctl_json *a, *s, *c;
	char err[128];

	if (!CHECK(ctl_json_parse(&d, t, strlen(t), 64, err,
				  sizeof(err)) == 0))
		return;
	CHECK(d.v[0].type == CTL_JSON_OBJECT && d.v[0].n == 6);
	a = ctl_json_get(&d, &d.v[0], "a");
	CHECK(a != NULL && a->type == CTL_JSON_ARRAY && a->n == 2);
	c = ctl_json_get(&d, ctl_json_child(&d, a, 1), "c");
	CHECK(c != NULL && c->type == CTL_JSON_INT && c->num == UINT64_MAX);
	c = ctl_json_get(&d, ctl_json_child(&d, a, 0), "b");
	CHECK(c != NULL && c->type == CTL_JSON_BOOL && c->b);
	CHECK(ctl_json_child(&d, a, 2) == NULL);
	s = ctl_json_get(&d, &d.v[0], "s");
	CHECK(s != NULL && s->type == CTL_JSON_STRING &&
	      s->len == sizeof(want_s) - 1);
	CHECK(s != NULL && memcmp(s->str, want_s, sizeof(want_s)) == 0);
	c = ctl_json_get(&d, &d.v[0], "e");
	CHECK(c != NULL && c->type == CTL_JSON_OBJECT && c->n == 0);
	c = ctl_json_get(&d, &d.v[0], "f");
	CHECK(c != NULL && c->type == CTL_JSON_BOOL && !c->b);
	c = ctl_json_get(&d, &d.v[0], "n");
	CHECK(c != NULL && c->type == CTL_JSON_INT && c->num == 0);
	CHECK(ctl_json_get(&d, &d.v[0], "missing") == NULL);
	CHECK(ctl_json_get(&d, a, "b") == NULL); /* not an object */
	ctl_json_free(&d);

	/* exactly CTL_JSON_DEPTH levels */
	t = "[[[[[[[[1]]]]]]]]";
	CHECK(ctl_json_parse(&d, t, strlen(t), 64, err, sizeof(err)) == 0);
	ctl_json_free(&d);
}

static const struct {
	const char *in;
	const char *err;
} json_bad[] = {
	{ "", "malformed JSON at byte 0: unexpected end" },
	{ "   ", "malformed JSON at byte 3: unexpected end" },
	{ "{", "malformed JSON at byte 1: expected a member name" },
	{ "{}x", "malformed JSON at byte 2: trailing data" },
	{ "{} {}", "malformed JSON at byte 3: trailing data" },
	{ "[1,]", "malformed JSON at byte 3: unexpected character" },
	{ "[1 2]", "malformed JSON at byte 3: expected ',' or ']'" },
	{ "{\"a\":1,}", "malformed JSON at byte 7: expected a member name" },
	{ "{\"a\":1 \"b\":2}",
	  "malformed JSON at byte 7: expected ',' or '}'" },
	{ "{\"a\"}", "malformed JSON at byte 4: expected ':'" },
	{ "{1:2}", "malformed JSON at byte 1: expected a member name" },
	{ "{\"a\":1,\"a\":2}", "malformed JSON at byte 10: duplicate member" },
	{ "01", "malformed JSON at byte 0: leading zero" },
	{ "1.5", "malformed JSON at byte 1: only integers are supported" },
	{ "1e3", "malformed JSON at byte 1: only integers are supported" },
	{ "-1", "malformed JSON at byte 0: negative numbers are not "
		"supported" },
	{ "18446744073709551616", "malformed JSON at byte 19: integer too "
				  "large" },
	{ "null", "malformed JSON at byte 0: null is not supported" },
	{ "tru", "malformed JSON at byte 0: unexpected character" },
	{ "trueish", "malformed JSON at byte 4: trailing data" },
	{ "\"abc", "malformed JSON at byte 4: unterminated string" },
	{ "\"a\tb\"", "malformed JSON at byte 2: control character in "
		      "string" },
	{ "\"\\x\"", "malformed JSON at byte 1: bad escape" },
	{ "\"\\u12\"", "malformed JSON at byte 3: truncated \\u escape" },
	{ "\"\\u12x4\"", "malformed JSON at byte 3: bad \\u escape" },
	{ "\"\\u0000\"", "malformed JSON at byte 7: \\u0000 in string" },
	{ "\"\\ud800\"", "malformed JSON at byte 7: lone high surrogate" },
	{ "\"\\ud800\\u0041\"", "malformed JSON at byte 13: lone high "
				"surrogate" },
	{ "\"\\udc00\"", "malformed JSON at byte 7: lone low surrogate" },
	{ "\"\xc0\xaf\"", "malformed JSON at byte 1: invalid UTF-8" },
	{ "\"\xed\xa0\x80\"", "malformed JSON at byte 1: invalid UTF-8" },
	{ "\"\xf4\x90\x80\x80\"", "malformed JSON at byte 1: invalid UTF-8" },
	{ "\"\xe2\x82\"", "malformed JSON at byte 1: invalid UTF-8" },
	{ "[[[[[[[[[1]]]]]]]]]", "malformed JSON at byte 8: nested too "
				 "deeply" },
	{ "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]", "malformed JSON at byte 32: "
					     "too many values" },
};

static void test_json_refuse(void)
{
	for (size_t i = 0; i < sizeof(json_bad) / sizeof(json_bad[0]); i++) {
		struct ctl_json_doc d;
		char err[128] = "";

		test_begin("json refuses \"%s\"", json_bad[i].in);
		CHECK(ctl_json_parse(&d, json_bad[i].in,
				     strlen(json_bad[i].in), 16, err,
				     sizeof(err)) == -1);
		CHECK_STR(err, json_bad[i].err);
		CHECK(d.v == NULL && d.strs == NULL);
		test_end();
	}
	/* An embedded NUL byte outside a string is refused too. */
	test_begin("json refuses a NUL byte");
	{
		struct ctl_json_doc d;
		char err[128];

		CHECK(ctl_json_parse(&d, "{}\0", 3, 4, err, sizeof(err)) < 0);
		CHECK_STR(err, "malformed JSON at byte 2: trailing data");
	}
	test_end();
}

static void test_json_emit(void)
{
	struct ctl_buf b;

	ctl_buf_init(&b, 1024);
	ctl_json_put_str(&b, "a\"b\\c\n\x01\t\xff\xc3\xa9/");
	CHECK_STR(b.p, "\"a\\\"b\\\\c\\n\\u0001\\t\\ufffd\xc3\xa9/\"");
	ctl_buf_free(&b);

	/* the limit: err set, nothing more written */
	ctl_buf_init(&b, 8);
	ctl_buf_puts(&b, "12345678");
	CHECK(!b.err && b.len == 8);
	ctl_buf_puts(&b, "9");
	CHECK(b.err && b.len == 8);
	CHECK_STR(b.p, "12345678");
	ctl_buf_free(&b);
}

/* ---- requests ------------------------------------------------------------ */

static void test_request_accept(void)
{
	static const struct {
		const char *line;
		enum ctl_cmd cmd;
		const char *tunnel;
		const char *canon;
	} ok[] = {
		{ "{\"cmd\":\"status\"}", CTL_CMD_STATUS, "",
		  "{\"cmd\":\"status\"}\n" },
		{ " { \"tunnel\" : \"t1\", \"cmd\" : \"status\" } ",
		  CTL_CMD_STATUS, "t1",
		  "{\"cmd\":\"status\",\"tunnel\":\"t1\"}\n" },
		{ "{\"cmd\":\"up\",\"tunnel\":\"site-b_2\"}", CTL_CMD_UP,
		  "site-b_2", "{\"cmd\":\"up\",\"tunnel\":\"site-b_2\"}\n" },
		{ "{\"cmd\":\"down\",\"tunnel\":\"A_1\"}", CTL_CMD_DOWN, "A_1",
		  "{\"cmd\":\"down\",\"tunnel\":\"A_1\"}\n" },
		{ "{\"cmd\":\"down\",\"tunnel\":\"-x_\"}", CTL_CMD_DOWN, "-x_",
		  "{\"cmd\":\"down\",\"tunnel\":\"-x_\"}\n" },
		{ "{\"cmd\":\"rekey\",\"tunnel\":"
		  "\"abcdefghijklmnopqrstuvwxyz012345\"}", CTL_CMD_REKEY,
		  "abcdefghijklmnopqrstuvwxyz012345",
		  "{\"cmd\":\"rekey\",\"tunnel\":"
		  "\"abcdefghijklmnopqrstuvwxyz012345\"}\n" },
		{ "{\"cmd\":\"reload\"}", CTL_CMD_RELOAD, "",
		  "{\"cmd\":\"reload\"}\n" },
		{ "{\"cmd\":\"watch\"}\r", CTL_CMD_WATCH, "",
		  "{\"cmd\":\"watch\"}\n" },
		{ "{\"cmd\":\"re\\u006bey\",\"tunnel\":\"t\\u0031\"}",
		  CTL_CMD_REKEY, "t1",
		  "{\"cmd\":\"rekey\",\"tunnel\":\"t1\"}\n" },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct ctl_request r, back;
		char err[CTL_ERR_MAX] = "", line[CTL_REQ_MAX];

		test_begin("request %s", ok[i].line);
		CHECK(ctl_request_parse(ok[i].line, strlen(ok[i].line), &r,
					err, sizeof(err)) == 0);
		CHECK_STR(err, "");
		CHECK(r.cmd == ok[i].cmd);
		CHECK_STR(r.tunnel, ok[i].tunnel);
		CHECK(ctl_request_format(&r, line, sizeof(line)) == 0);
		CHECK_STR(line, ok[i].canon);
		CHECK(ctl_request_parse(line, strlen(line) - 1, &back, err,
					sizeof(err)) == 0);
		CHECK(back.cmd == r.cmd && strcmp(back.tunnel, r.tunnel) == 0);
		test_end();
	}

	test_begin("request at the size limit");
	{
		char line[CTL_REQ_MAX];
		struct ctl_request r;
		char err[CTL_ERR_MAX];

		memset(line, ' ', sizeof(line));
		memcpy(line, "{\"cmd\":\"reload\"}", 16);
		CHECK(ctl_request_parse(line, CTL_REQ_MAX - 1, &r, err,
					sizeof(err)) == 0);
		CHECK(r.cmd == CTL_CMD_RELOAD);
		CHECK(ctl_request_parse(line, CTL_REQ_MAX, &r, err,
					sizeof(err)) == -1);
		CHECK_STR(err, "request too long (limit 4096 bytes)");
	}
	test_end();
}

static const struct {
	const char *line;
	const char *err;
} req_bad[] = {
	{ "", "bad request: malformed JSON at byte 0: unexpected end" },
	{ "{\"cmd\":\"status\"",
	  "bad request: malformed JSON at byte 15: unexpected end" },
	{ "cmd=status", "bad request: malformed JSON at byte 0: unexpected "
			"character" },
	{ "[\"status\"]", "bad request: not a JSON object" },
	{ "\"status\"", "bad request: not a JSON object" },
	{ "{}", "bad request: missing \"cmd\"" },
	{ "{\"tunnel\":\"t1\"}", "bad request: missing \"cmd\"" },
	{ "{\"cmd\":\"frob\"}", "unknown command \"frob\"" },
	{ "{\"cmd\":\"STATUS\"}", "unknown command \"STATUS\"" },
	{ "{\"cmd\":\"\"}", "unknown command \"\"" },
	{ "{\"cmd\":1}", "bad request: \"cmd\" must be a string" },
	{ "{\"cmd\":true}", "bad request: \"cmd\" must be a string" },
	{ "{\"cmd\":\"up\",\"tunnel\":[]}",
	  "bad request: \"tunnel\" must be a string" },
	{ "{\"cmd\":\"status\",\"json\":true}",
	  "bad request: unknown field \"json\"" },
	{ "{\"cmd\":\"status\",\"cmd\":\"status\"}",
	  "bad request: malformed JSON at byte 21: duplicate member" },
	{ "{\"cmd\":\"up\"}", "up needs \"tunnel\"" },
	{ "{\"cmd\":\"down\"}", "down needs \"tunnel\"" },
	{ "{\"cmd\":\"rekey\"}", "rekey needs \"tunnel\"" },
	{ "{\"cmd\":\"reload\",\"tunnel\":\"t1\"}", "reload takes no tunnel" },
	{ "{\"cmd\":\"watch\",\"tunnel\":\"t1\"}", "watch takes no tunnel" },
	{ "{\"cmd\":\"up\",\"tunnel\":\"\"}",
	  "bad tunnel name \"\" (1 to 32 of A-Z a-z 0-9 _ -)" },
	{ "{\"cmd\":\"up\",\"tunnel\":\"a.b\"}",
	  "bad tunnel name \"a.b\" (1 to 32 of A-Z a-z 0-9 _ -)" },
	{ "{\"cmd\":\"up\",\"tunnel\":\"../etc\"}",
	  "bad tunnel name \"../etc\" (1 to 32 of A-Z a-z 0-9 _ -)" },
	{ "{\"cmd\":\"up\",\"tunnel\":\"a b\"}",
	  "bad tunnel name \"a b\" (1 to 32 of A-Z a-z 0-9 _ -)" },
	{ "{\"cmd\":\"up\",\"tunnel\":\"t\\n\"}",
	  "bad tunnel name \"t\n\" (1 to 32 of A-Z a-z 0-9 _ -)" },
	{ "{\"cmd\":\"up\",\"tunnel\":\"abcdefghijklmnopqrstuvwxyz0123456\"}",
	  "bad tunnel name \"abcdefghijklmnopqrstuvwxyz0123456\" (1 to 32 "
	  "of A-Z a-z 0-9 _ -)" },
	{ "{\"cmd\":\"status\",\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,"
	  "\"f\":1,\"g\":1,\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,"
	  "\"m\":1,\"n\":1,\"o\":1}",
	  "bad request: malformed JSON at byte 105: too many values" },
	{ "{\"cmd\":\"status\",\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,"
	  "\"f\":1,\"g\":1,\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,"
	  "\"m\":1,\"n\":1}",
	  "bad request: unknown field \"a\"" },
};

static void test_request_refuse(void)
{
	for (size_t i = 0; i < sizeof(req_bad) / sizeof(req_bad[0]); i++) {
		struct ctl_request r;
		char err[CTL_ERR_MAX] = "";

		test_begin("request refused: %s", req_bad[i].line);
		memset(&r, 0x55, sizeof(r));
		CHECK(ctl_request_parse(req_bad[i].line,
					strlen(req_bad[i].line), &r, err,
					sizeof(err)) == -1);
		CHECK_STR(err, req_bad[i].err);
		CHECK(r.cmd == 0 && r.tunnel[0] == '\0');
		test_end();
	}

	test_begin("request_format refuses what parse refuses");
	{
		struct ctl_request r;
		char line[CTL_REQ_MAX];

		memset(&r, 0, sizeof(r));
		r.cmd = CTL_CMD_REKEY;
		CHECK(ctl_request_format(&r, line, sizeof(line)) == -1);
		r.cmd = CTL_CMD_RELOAD;
		strcpy(r.tunnel, "t1");
		CHECK(ctl_request_format(&r, line, sizeof(line)) == -1);
		r.cmd = CTL_CMD_UP;
		strcpy(r.tunnel, "a\"b");
		CHECK(ctl_request_format(&r, line, sizeof(line)) == -1);
		strcpy(r.tunnel, "t1");
		CHECK(ctl_request_format(&r, line, 10) == -1);
		r.cmd = CTL_CMD_COUNT;
		CHECK(ctl_request_format(&r, line, sizeof(line)) == -1);
	}
	test_end();
}

/* ---- status, replies, events --------------------------------------------- */

static void sample_status(struct ctl_status st[2])
{
	memset(st, 0, 2 * sizeof(*st));
	strcpy(st[0].name, "t1");
	st[0].state = CTL_STATE_UP;
	st[0].role = CTL_ROLE_INITIATOR;
	strcpy(st[0].peer, "192.0.2.2:7450");
	st[0].epoch = 12;
	strcpy(st[0].suite, "xwing");
	strcpy(st[0].esp, "aes256gcm");
	st[0].spi_in = 0xc0000001;
	st[0].spi_out = 0x0a0b0c0d;
	st[0].bytes_in = 1234567;
	st[0].bytes_out = 89;
	st[0].packets_in = 1000;
	st[0].packets_out = 1;
	st[0].last_rekey = 1700000000;
	st[0].last_trigger = CTL_TRIGGER_TIME;
	st[0].next_rekey = 1700003600;
	st[0].retransmits = 2;

	strcpy(st[1].name, "t2");
	st[1].state = CTL_STATE_CONNECTING;
	st[1].role = CTL_ROLE_RESPONDER;
	strcpy(st[1].peer, "[2001:db8::2]:7450");
	strcpy(st[1].suite, "x25519-aes128");
	strcpy(st[1].esp, "chacha20poly1305");
}

static const char status_json_want[] =
	"{\"ok\":true,\"tunnels\":["
	"{\"name\":\"t1\",\"state\":\"up\",\"role\":\"initiator\","
	"\"peer\":\"192.0.2.2:7450\",\"epoch\":12,"
	"\"suite\":\"xwing\","
	"\"esp\":\"aes256gcm\",\"spi_in\":3221225473,"
	"\"spi_out\":168496141,\"bytes_in\":1234567,\"bytes_out\":89,"
	"\"packets_in\":1000,\"packets_out\":1,\"last_rekey\":1700000000,"
	"\"last_trigger\":\"time\",\"next_rekey\":1700003600,"
	"\"retransmits\":2},"
	"{\"name\":\"t2\",\"state\":\"connecting\",\"role\":\"responder\","
	"\"peer\":\"[2001:db8::2]:7450\",\"epoch\":0,"
	"\"suite\":\"x25519-aes128\","
	"\"esp\":\"chacha20poly1305\",\"spi_in\":0,"
	"\"spi_out\":0,\"bytes_in\":0,\"bytes_out\":0,\"packets_in\":0,"
	"\"packets_out\":0,\"last_rekey\":0,\"last_trigger\":\"none\","
	"\"next_rekey\":0,\"retransmits\":0}]}\n";

static const char status_table_want[] =
	"tunnel t1\n"
	"  state        up (initiator)\n"
	"  peer         192.0.2.2:7450\n"
	"  epoch        12\n"
	"  suite        xwing\n"
	"  esp          aes256gcm\n"
	"  spi          in 0xc0000001, out 0x0a0b0c0d\n"
	"  received     1234567 bytes, 1000 packets\n"
	"  sent         89 bytes, 1 packets\n"
	"  last rekey   1m40s ago (time)\n"
	"  next rekey   in 58m20s\n"
	"  retransmits  2\n"
	"\n"
	"tunnel t2\n"
	"  state        connecting (responder)\n"
	"  peer         [2001:db8::2]:7450\n"
	"  epoch        0\n"
	"  suite        x25519-aes128\n"
	"  esp          chacha20poly1305\n"
	"  spi          in -, out -\n"
	"  received     0 bytes, 0 packets\n"
	"  sent         0 bytes, 0 packets\n"
	"  last rekey   never\n"
	"  next rekey   not scheduled\n"
	"  retransmits  0\n";

static void test_status(void)
{
	struct ctl_status st[2], *back;
	struct ctl_buf b, b2;
	char err[CTL_ERR_MAX];
	size_t n;

	sample_status(st);
	ctl_buf_init(&b, 1 << 20);
	ctl_status_reply(&b, st, 2);
	CHECK_STR(b.p, status_json_want);

	/* parsed back and rendered again: the same line */
	CHECK(ctl_status_reply_parse(b.p, b.len - 1, &back, &n, err,
				     sizeof(err)) == 0);
	CHECK(n == 2);
	if (n == 2) {
		ctl_buf_init(&b2, 1 << 20);
		ctl_status_reply(&b2, back, n);
		CHECK_STR(b2.p, status_json_want);
		ctl_buf_free(&b2);
		CHECK(back[0].spi_in == 0xc0000001 &&
		      back[0].bytes_in == 1234567 &&
		      back[1].state == CTL_STATE_CONNECTING);
	}
	free(back);
	ctl_buf_free(&b);

	ctl_buf_init(&b, 1 << 20);
	ctl_status_table(&b, st, 2, 1700000100);
	CHECK_STR(b.p, status_table_want);
	ctl_buf_free(&b);

	/* durations: hours and days; a due rekey; no tunnels */
	st[0].last_rekey = 1700000100 - 3661;
	st[0].next_rekey = 1700000100 + 90061;
	st[0].last_trigger = CTL_TRIGGER_MANUAL;
	ctl_buf_init(&b, 1 << 20);
	ctl_status_table(&b, st, 1, 1700000100);
	CHECK(strstr(b.p, "  last rekey   1h01m ago (manual)\n") != NULL);
	CHECK(strstr(b.p, "  next rekey   in 1d01h\n") != NULL);
	ctl_buf_free(&b);
	st[0].next_rekey = 1700000100;
	ctl_buf_init(&b, 1 << 20);
	ctl_status_table(&b, st, 1, 1700000100);
	CHECK(strstr(b.p, "  next rekey   due\n") != NULL);
	ctl_buf_free(&b);
	ctl_buf_init(&b, 1 << 20);
	ctl_status_table(&b, st, 0, 1700000100);
	CHECK_STR(b.p, "no tunnels\n");
	ctl_status_reply(&b, st, 0);
	CHECK_STR(b.p, "no tunnels\n{\"ok\":true,\"tunnels\":[]}\n");
	ctl_buf_free(&b);
}

/* The daemon-wide "dos" object after "tunnels": byte for byte, and a
 * client reads the tunnels of such a reply as before. */
static void test_status_dos(void)
{
	struct ctl_status st[2], *back;
	struct ctl_dos dos = {
		.half_open = 1, .cookie_threshold = 2, .hellos = 3,
		.hellos_processed = 4, .hellos_rate_limited = 5,
		.hellos_dropped = 6, .cookies_sent = 7, .cookies_valid = 8,
		.cookies_invalid = 9, .cookies_received = 10,
		.cookies_ignored = 11, .unknown_source = 12,
		.rate_sources = 13, .rate_evictions = 14,
	};
	static const char want_tail[] =
		"]," "\"dos\":{\"half_open\":1,\"cookie_threshold\":2,"
		"\"hellos\":3,\"hellos_processed\":4,"
		"\"hellos_rate_limited\":5,\"hellos_dropped\":6,"
		"\"cookies_sent\":7,\"cookies_valid\":8,"
		"\"cookies_invalid\":9,\"cookies_received\":10,"
		"\"cookies_ignored\":11,\"unknown_source\":12,"
		"\"rate_sources\":13,\"rate_evictions\":14}}\n";
	struct ctl_buf b;
	char err[CTL_ERR_MAX];
	size_t n = 0, wl = strlen(want_tail);

	sample_status(st);
	ctl_buf_init(&b, 1 << 20);
	ctl_status_reply_dos(&b, st, 2, &dos);
	CHECK(b.len > wl && strcmp(b.p + b.len - wl, want_tail) == 0);
	/* Up to the tunnels' closing bracket, the plain reply. */
	CHECK(strncmp(b.p, status_json_want, b.len - wl) == 0);
	CHECK(ctl_status_reply_parse(b.p, b.len - 1, &back, &n, err,
				     sizeof(err)) == 0);
	CHECK(n == 2);
	if (n == 2)
		CHECK(back[1].state == CTL_STATE_CONNECTING);
	free(back);
	ctl_buf_free(&b);
}

static void test_status_refuse(void)
{
	static const struct {
		const char *line;
		int rc;
		const char *err;
	} bad[] = {
		{ "{\"ok\":false,\"error\":\"no tunnel \\\"x\\\"\"}", 1,
		  "no tunnel \"x\"" },
		{ "{\"ok\":true}", -1,
		  "bad reply from epochd: no \"tunnels\"" },
		{ "{\"tunnels\":[]}", -1,
		  "bad reply from epochd: no \"ok\"" },
		{ "garbage", -1, "bad reply from epochd: malformed JSON at "
				 "byte 0: unexpected character" },
		{ "{\"ok\":true,\"tunnels\":[1]}", -1,
		  "bad reply from epochd: tunnel 1: tunnel status is not an "
		  "object" },
		{ "{\"ok\":true,\"tunnels\":[{\"name\":\"t1\"}]}", -1,
		  "bad reply from epochd: tunnel 1: missing \"state\"" },
		{ "{\"ok\":true,\"tunnels\":[{\"name\":\"t1\",\"state\":"
		  "\"sleepy\"}]}", -1,
		  "bad reply from epochd: tunnel 1: unknown state \"sleepy\"" },
		{ "{\"ok\":true,\"tunnels\":[{\"name\":\"t/1\"}]}", -1,
		  "bad reply from epochd: tunnel 1: bad tunnel name \"t/1\"" },
	};
	struct ctl_status st[2], *out;
	struct ctl_buf b;
	char err[CTL_ERR_MAX], *p;
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(ctl_status_reply_parse(bad[i].line, strlen(bad[i].line),
					     &out, &n, err, sizeof(err)) ==
		      bad[i].rc);
		CHECK_STR(err, bad[i].err);
		CHECK(out == NULL && n == 0);
	}
	/* an SPI over 32 bits; an unknown member is ignored */
	sample_status(st);
	ctl_buf_init(&b, 1 << 20);
	ctl_status_reply(&b, st, 1);
	p = strstr(b.p, "\"spi_out\":168496141");
	{
		struct ctl_buf b2;

		ctl_buf_init(&b2, 1 << 20);
		ctl_buf_add(&b2, b.p, (size_t)(p - b.p));
		ctl_buf_puts(&b2, "\"spi_out\":4294967296");
		ctl_buf_puts(&b2, p + strlen("\"spi_out\":168496141"));
		CHECK(ctl_status_reply_parse(b2.p, b2.len - 1, &out, &n, err,
					     sizeof(err)) == -1);
		ctl_buf_free(&b2);
	}
	CHECK_STR(err, "bad reply from epochd: tunnel 1: \"spi_out\" must be "
		  "an integer 0..4294967295");
	ctl_buf_free(&b);
	ctl_buf_init(&b, 1 << 20);
	ctl_buf_puts(&b, "{\"ok\":true,\"new\":[],\"tunnels\":[");
	ctl_status_json(&b, &st[0]);
	b.len--;
	ctl_buf_puts(&b, ",\"future\":\"x\"}]}");
	CHECK(ctl_status_reply_parse(b.p, b.len, &out, &n, err,
				     sizeof(err)) == 0);
	CHECK(n == 1 && out != NULL && out[0].retransmits == 2);
	free(out);
	ctl_buf_free(&b);
}

#define S(lit) lit, strlen(lit)

static void test_replies_events(void)
{
	struct ctl_buf b;
	struct ctl_event ev;
	char msg[CTL_ERR_MAX], err[CTL_ERR_MAX];

	ctl_buf_init(&b, 4096);
	ctl_reply_ok(&b, NULL);
	ctl_reply_ok(&b, "");
	ctl_reply_ok(&b, "reloaded: 1 added, 0 removed, 2 changed");
	ctl_reply_error(&b, "no tunnel \"t9\"");
	CHECK_STR(b.p, "{\"ok\":true}\n{\"ok\":true}\n"
		  "{\"ok\":true,\"message\":\"reloaded: 1 added, 0 removed, "
		  "2 changed\"}\n"
		  "{\"ok\":false,\"error\":\"no tunnel \\\"t9\\\"\"}\n");
	ctl_buf_free(&b);

	CHECK(ctl_reply_parse(S("{\"ok\":true}"), msg, sizeof(msg), err,
			      sizeof(err)) == 0);
	CHECK_STR(msg, "");
	CHECK(ctl_reply_parse(S("{\"ok\":true,\"message\":\"hi\"}"), msg,
			      sizeof(msg), err, sizeof(err)) == 0);
	CHECK_STR(msg, "hi");
	CHECK(ctl_reply_parse(S("{\"ok\":false,\"error\":\"no\"}"), msg,
			      sizeof(msg), err, sizeof(err)) == 1);
	CHECK_STR(msg, "no");
	CHECK(ctl_reply_parse(S("{\"ok\":false}"), msg, sizeof(msg), err,
			      sizeof(err)) == -1);
	CHECK_STR(err, "bad reply from epochd: missing \"error\"");
	CHECK(ctl_reply_parse(S("{\"ok\":1}"), msg, sizeof(msg), err,
			      sizeof(err)) == -1);
	CHECK_STR(err, "bad reply from epochd: no \"ok\"");

	memset(&ev, 0, sizeof(ev));
	ctl_buf_init(&b, 4096);
	ev.type = CTL_EVENT_REKEY;
	ev.time = 1700000000;
	strcpy(ev.tunnel, "t1");
	ev.epoch = 13;
	ev.spi_in = 1;
	ev.spi_out = 4294967295u;
	ev.trigger = CTL_TRIGGER_PEER;
	ctl_event_json(&b, &ev);
	ev.type = CTL_EVENT_UP;
	ctl_event_json(&b, &ev);
	ev.type = CTL_EVENT_DOWN;
	strcpy(ev.reason, "peer not answering");
	ctl_event_json(&b, &ev);
	ev.type = CTL_EVENT_REJECTED;
	strcpy(ev.peer, "192.0.2.9:7450");
	strcpy(ev.reason, "credential does not match peer_key");
	ctl_event_json(&b, &ev);
	ev.type = CTL_EVENT_RELOAD;
	strcpy(ev.reason, "1 added, 0 removed, 0 changed");
	ctl_event_json(&b, &ev);
	CHECK_STR(b.p,
		  "{\"event\":\"rekey\",\"time\":1700000000,\"tunnel\":\"t1\","
		  "\"epoch\":13,\"spi_in\":1,\"spi_out\":4294967295,"
		  "\"trigger\":\"peer\"}\n"
		  "{\"event\":\"up\",\"time\":1700000000,\"tunnel\":\"t1\","
		  "\"epoch\":13,\"spi_in\":1,\"spi_out\":4294967295}\n"
		  "{\"event\":\"down\",\"time\":1700000000,\"tunnel\":\"t1\","
		  "\"reason\":\"peer not answering\"}\n"
		  "{\"event\":\"rejected\",\"time\":1700000000,\"tunnel\":"
		  "\"t1\",\"peer\":\"192.0.2.9:7450\",\"reason\":\"credential "
		  "does not match peer_key\"}\n"
		  "{\"event\":\"reload\",\"time\":1700000000,\"reason\":"
		  "\"1 added, 0 removed, 0 changed\"}\n");
	ctl_buf_free(&b);
	CHECK_STR(ctl_state_name((enum ctl_state)99), "unknown");
}

/* ---- server helpers ------------------------------------------------------ */

static int connect_to(const char *path)
{
	char err[256];

	return ctl_connect(path, err, sizeof(err));
}

/* Reads one line (blocking, with a timeout) from fd into out. */
static int read_line(int fd, char *out, size_t n)
{
	size_t len = 0;

	while (len + 1 < n) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, 5000) != 1)
			return -1;
		r = read(fd, out + len, 1);
		if (r <= 0)
			return -1;
		if (out[len] == '\n') {
			out[len + 1] = '\0';
			return 0;
		}
		len++;
	}
	return -1;
}

static void wait_readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	CHECK(poll(&p, 1, 5000) == 1);
}

/* Runs the server side until it has a request or times out. */
static int serve_next(struct ctl_client *c, struct ctl_request *req)
{
	for (int i = 0; i < 100; i++) {
		struct pollfd p = { c->fd, POLLIN, 0 };

		if (ctl_client_next(c, req) == 1)
			return 1;
		ctl_client_flush(c);
		if (ctl_client_done(c))
			return 0;
		if (poll(&p, 1, 5000) != 1)
			return -1;
		ctl_client_read(c);
	}
	return -1;
}

static void test_listen(void)
{
	char path[256], err[256], line[512];
	struct stat stt;
	struct ctl_client c;
	struct ctl_request req;
	struct ctl_buf b;
	int lfd, cfd, fd2;

	tmp_path(path, sizeof(path), "s.sock");
	lfd = ctl_listen(path, err, sizeof(err));
	if (!CHECK(lfd >= 0)) {
		test_note("%s", err);
		return;
	}
	CHECK(stat(path, &stt) == 0 && S_ISSOCK(stt.st_mode) &&
	      (stt.st_mode & 07777) == 0660);
	CHECK(fcntl(lfd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(lfd, F_GETFD) & FD_CLOEXEC);

	/* a second daemon on the same path is refused */
	CHECK(ctl_listen(path, err, sizeof(err)) == -1);
	snprintf(line, sizeof(line), "%s is in use (is another epochd "
		 "running?)", path);
	CHECK_STR(err, line);

	/* the refused daemon's probe was a connection that closed at once */
	CHECK(ctl_accept(lfd, &c, err, sizeof(err)) == 1);
	wait_readable(c.fd);
	ctl_client_read(&c);
	CHECK(ctl_client_next(&c, &req) == 0 && ctl_client_done(&c));
	ctl_client_close(&c);
	/* nothing pending now */
	CHECK(ctl_accept(lfd, &c, err, sizeof(err)) == 0);
	cfd = connect_to(path);
	CHECK(cfd >= 0);
	CHECK(ctl_accept(lfd, &c, err, sizeof(err)) == 1);
	CHECK(fcntl(c.fd, F_GETFL) & O_NONBLOCK);

	/* two requests in one write, then one split over two writes */
	CHECK(write(cfd, "{\"cmd\":\"status\"}\n{\"cmd\":\"rekey\","
		    "\"tunnel\":\"t1\"}\n{\"cmd\":", 54) == 54);
	CHECK(serve_next(&c, &req) == 1 && req.cmd == CTL_CMD_STATUS &&
	      req.tunnel[0] == '\0');
	CHECK(serve_next(&c, &req) == 1 && req.cmd == CTL_CMD_REKEY);
	CHECK_STR(req.tunnel, "t1");
	CHECK(ctl_client_next(&c, &req) == 0);
	CHECK(write(cfd, "\"reload\"}\n", 10) == 10);
	CHECK(serve_next(&c, &req) == 1 && req.cmd == CTL_CMD_RELOAD);

	/* an oversized request: an error reply, and the next one served */
	{
		size_t big = 3 * CTL_REQ_MAX;
		char *junk = malloc(big);

		memset(junk, 'x', big);
		junk[big - 1] = '\n';
		CHECK(write(cfd, junk, big) == (ssize_t)big);
		free(junk);
	}
	CHECK(write(cfd, "{\"cmd\":\"watch\"}\n", 16) == 16);
	CHECK(serve_next(&c, &req) == 1 && req.cmd == CTL_CMD_WATCH);
	ctl_client_flush(&c);
	CHECK(read_line(cfd, line, sizeof(line)) == 0);
	CHECK_STR(line, "{\"ok\":false,\"error\":\"request too long (limit "
		  "4096 bytes)\"}\n");

	/* garbage: an error reply each, never a crash */
	CHECK(write(cfd, "\x01\x02\xff\n{\"cmd\":\"nope\"}\n", 19) == 19);
	wait_readable(c.fd);
	ctl_client_read(&c);
	CHECK(ctl_client_next(&c, &req) == 0);
	ctl_client_flush(&c);
	CHECK(read_line(cfd, line, sizeof(line)) == 0);
	CHECK_STR(line, "{\"ok\":false,\"error\":\"bad request: malformed "
		  "JSON at byte 0: unexpected character\"}\n");
	CHECK(read_line(cfd, line, sizeof(line)) == 0);
	CHECK_STR(line, "{\"ok\":false,\"error\":\"unknown command "
		  "\\\"nope\\\"\"}\n");

	/* watching: events queued and written; requests refused */
	c.watching = true;
	ctl_buf_init(&b, 4096);
	ctl_reply_ok(&b, NULL);
	ctl_client_queue(&c, &b);
	CHECK(!ctl_client_flush(&c));
	CHECK(read_line(cfd, line, sizeof(line)) == 0);
	CHECK_STR(line, "{\"ok\":true}\n");
	ctl_buf_free(&b);
	CHECK(write(cfd, "{\"cmd\":\"status\"}\n", 17) == 17);
	wait_readable(c.fd);
	ctl_client_read(&c);
	CHECK(ctl_client_next(&c, &req) == 0);
	ctl_client_flush(&c);
	CHECK(read_line(cfd, line, sizeof(line)) == 0);
	CHECK_STR(line, "{\"ok\":false,\"error\":\"no requests after "
		  "watch\"}\n");

	/* a client that never reads is dropped at CTL_OUT_MAX */
	ctl_buf_init(&b, CTL_OUT_MAX);
	for (int i = 0; i < 4096; i++)
		ctl_buf_puts(&b, "0123456789abcdef");
	for (int i = 0; i < 64 && !c.dead; i++) {
		ctl_client_queue(&c, &b);
		ctl_client_flush(&c);
	}
	CHECK(c.dead && ctl_client_done(&c));
	ctl_buf_free(&b);
	ctl_client_close(&c);
	close(cfd);

	/* EOF after a last request without its newline: served, then done */
	cfd = connect_to(path);
	CHECK(ctl_accept(lfd, &c, err, sizeof(err)) == 1);
	CHECK(write(cfd, "{\"cmd\":\"reload\"}", 16) == 16);
	shutdown(cfd, SHUT_WR);
	CHECK(serve_next(&c, &req) == 1 && req.cmd == CTL_CMD_RELOAD);
	CHECK(serve_next(&c, &req) == 0 && ctl_client_done(&c));
	ctl_client_close(&c);
	close(cfd);

	/* the daemon dies without unlinking: the socket is stale */
	close(lfd);
	CHECK(stat(path, &stt) == 0);
	fd2 = connect_to(path);
	CHECK(fd2 == -1);
	CHECK(connect_to(path) < 0);
	lfd = ctl_listen(path, err, sizeof(err));
	CHECK(lfd >= 0);
	cfd = connect_to(path);
	CHECK(cfd >= 0);
	close(cfd);
	close(lfd);
	ctl_unlink(path);
	CHECK(stat(path, &stt) == -1 && errno == ENOENT);
}

static void test_listen_refuse(void)
{
	char path[256], err[256], want[512];
	struct stat stt;
	int fd;

	/* a regular file at the path is never replaced */
	tmp_path(path, sizeof(path), "file.sock");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && write(fd, "keep", 4) == 4);
	close(fd);
	CHECK(ctl_listen(path, err, sizeof(err)) == -1);
	snprintf(want, sizeof(want), "%s exists and is not a socket; "
		 "refusing to replace it", path);
	CHECK_STR(err, want);
	CHECK(stat(path, &stt) == 0 && S_ISREG(stt.st_mode) &&
	      stt.st_size == 4);
	ctl_unlink(path); /* not a socket: left alone */
	CHECK(stat(path, &stt) == 0);
	unlink(path);

	/* nor a symlink or a directory */
	tmp_path(path, sizeof(path), "link.sock");
	CHECK(symlink("/dev/null", path) == 0);
	CHECK(ctl_listen(path, err, sizeof(err)) == -1);
	CHECK(lstat(path, &stt) == 0 && S_ISLNK(stt.st_mode));
	unlink(path);
	tmp_path(path, sizeof(path), "dir.sock");
	CHECK(mkdir(path, 0700) == 0);
	CHECK(ctl_listen(path, err, sizeof(err)) == -1);
	rmdir(path);

	/* a path too long for sun_path */
	memset(want, 'a', 200);
	want[200] = '\0';
	CHECK(ctl_listen(want, err, sizeof(err)) == -1);
	CHECK(strncmp(err, "control socket path is empty or longer than 107 "
		      "bytes: aaaa", 55) == 0);
	CHECK(ctl_listen("", err, sizeof(err)) == -1);
	CHECK_STR(err, "control socket path is empty or longer than 107 "
		  "bytes: ");

	/* a missing directory */
	tmp_path(path, sizeof(path), "none/x.sock");
	CHECK(ctl_listen(path, err, sizeof(err)) == -1);
	snprintf(want, sizeof(want), "cannot bind %s: No such file or "
		 "directory", path);
	CHECK_STR(err, want);
}

static void test_read_line(void)
{
	struct ctl_buf acc;
	char err[256];
	size_t len;
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(write(sv[1], "one\ntwo\n\nthree", 15) == 15);
	ctl_buf_init(&acc, 8);
	CHECK(ctl_read_line(sv[0], &acc, &len, err, sizeof(err)) == 1);
	CHECK(len == 3);
	CHECK_STR(acc.p, "one");
	ctl_buf_consume(&acc, len + 1);
	CHECK(ctl_read_line(sv[0], &acc, &len, err, sizeof(err)) == 1);
	CHECK_STR(acc.p, "two");
	ctl_buf_consume(&acc, len + 1);
	CHECK(ctl_read_line(sv[0], &acc, &len, err, sizeof(err)) == 1);
	CHECK(len == 0);
	ctl_buf_consume(&acc, len + 1);
	close(sv[1]);
	CHECK(ctl_read_line(sv[0], &acc, &len, err, sizeof(err)) == -1);
	CHECK_STR(err, "epochd closed the connection in the middle of a "
		  "reply");
	ctl_buf_free(&acc);
	close(sv[0]);

	/* clean EOF; a line over the limit */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	close(sv[1]);
	ctl_buf_init(&acc, 8);
	CHECK(ctl_read_line(sv[0], &acc, &len, err, sizeof(err)) == 0);
	close(sv[0]);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(write(sv[1], "123456789\n", 10) == 10);
	CHECK(ctl_read_line(sv[0], &acc, &len, err, sizeof(err)) == -1);
	CHECK_STR(err, "reply longer than 8 bytes");
	ctl_buf_free(&acc);
	close(sv[0]);
	close(sv[1]);
}

/* ---- epochctl as a subprocess -------------------------------------------- */

struct run {
	int code;
	char req[CTL_REQ_MAX + 2];
	char out[16384];
	char err[4096];
};

static void read_all(int fd, char *out, size_t n)
{
	size_t len = 0;
	ssize_t r;

	while (len + 1 < n && (r = read(fd, out + len, n - 1 - len)) > 0)
		len += (size_t)r;
	out[len] = '\0';
}

/* Runs epochctl with args (NULL-terminated); when lfd >= 0 serves one
 * connection: records the request line and answers reply. */
static void run_ctl(int lfd, const char *reply, struct run *r, ...)
{
	const char *argv[16];
	int out[2], err[2], n = 0, st;
	pid_t pid;
	va_list ap;

	memset(r, 0, sizeof(*r));
	r->code = -1;
	argv[n++] = "epochctl";
	va_start(ap, r);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	if (pipe(out) < 0 || pipe(err) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		if (lfd >= 0)
			close(lfd);
		execv(epochctl_path, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	if (lfd >= 0) {
		struct pollfd p = { lfd, POLLIN, 0 };
		struct ctl_client c;
		char e[128];

		if (poll(&p, 1, 5000) == 1 &&
		    ctl_accept(lfd, &c, e, sizeof(e)) == 1) {
			int fl = fcntl(c.fd, F_GETFL);

			fcntl(c.fd, F_SETFL, fl & ~O_NONBLOCK);
			if (read_line(c.fd, r->req, sizeof(r->req)) == 0 &&
			    reply != NULL)
				CHECK(write(c.fd, reply, strlen(reply)) ==
				      (ssize_t)strlen(reply));
			ctl_client_close(&c);
		}
	}
	read_all(out[0], r->out, sizeof(r->out));
	read_all(err[0], r->err, sizeof(r->err));
	close(out[0]);
	close(err[0]);
	if (waitpid(pid, &st, 0) == pid && WIFEXITED(st))
		r->code = WEXITSTATUS(st);
}

static void test_epochctl(void)
{
	char path[256], want[512], err[256];
	struct run r;
	struct ctl_status st[2];
	struct ctl_buf b;
	int lfd;

	if (access(epochctl_path, X_OK) != 0) {
		test_fail(__FILE__, __LINE__, "no %s", epochctl_path);
		return;
	}
	tmp_path(path, sizeof(path), "ctl.sock");
	lfd = ctl_listen(path, err, sizeof(err));
	if (!CHECK(lfd >= 0))
		return;

	/* status as a table (times 0, so the output does not depend on the
	 * clock) */
	sample_status(st);
	st[0].last_rekey = 0;
	st[0].next_rekey = 0;
	ctl_buf_init(&b, 1 << 20);
	ctl_status_reply(&b, st, 2);
	run_ctl(lfd, b.p, &r, "-s", path, "status", NULL);
	CHECK(r.code == 0);
	CHECK_STR(r.req, "{\"cmd\":\"status\"}\n");
	{
		struct ctl_buf t;

		ctl_buf_init(&t, 1 << 20);
		ctl_status_table(&t, st, 2, 1);
		CHECK_STR(r.out, t.p);
		CHECK(strstr(r.out, "  last rekey   never\n") != NULL);
		ctl_buf_free(&t);
	}
	CHECK_STR(r.err, "");

	/* status NAME --json: the daemon's line */
	run_ctl(lfd, b.p, &r, "--socket", path, "status", "--json", "t1",
		NULL);
	CHECK(r.code == 0);
	CHECK_STR(r.req, "{\"cmd\":\"status\",\"tunnel\":\"t1\"}\n");
	CHECK_STR(r.out, b.p);
	ctl_buf_free(&b);

	/* status of an unknown tunnel */
	run_ctl(lfd, "{\"ok\":false,\"error\":\"no tunnel \\\"t9\\\"\"}\n", &r,
		"-s", path, "status", "t9", NULL);
	CHECK(r.code == 1);
	CHECK_STR(r.out, "");
	CHECK_STR(r.err, "epochctl: no tunnel \"t9\"\n");

	/* rekey: quiet on success */
	run_ctl(lfd, "{\"ok\":true}\n", &r, "-s", path, "rekey", "t1", NULL);
	CHECK(r.code == 0);
	CHECK_STR(r.req, "{\"cmd\":\"rekey\",\"tunnel\":\"t1\"}\n");
	CHECK_STR(r.out, "");
	CHECK_STR(r.err, "");

	run_ctl(lfd, "{\"ok\":false,\"error\":\"t1 is down\"}\n", &r, "-s",
		path, "rekey", "t1", NULL);
	CHECK(r.code == 1);
	CHECK_STR(r.err, "epochctl: t1 is down\n");

	/* reload prints the daemon's message */
	run_ctl(lfd, "{\"ok\":true,\"message\":\"1 added, 0 removed, 0 "
		"changed\"}\n", &r, "-s", path, "reload", NULL);
	CHECK(r.code == 0);
	CHECK_STR(r.req, "{\"cmd\":\"reload\"}\n");
	CHECK_STR(r.out, "1 added, 0 removed, 0 changed\n");

	/* a name that begins with '-' after "--" */
	run_ctl(lfd, "{\"ok\":true}\n", &r, "-s", path, "rekey", "--", "-t",
		NULL);
	CHECK(r.code == 0);
	CHECK_STR(r.req, "{\"cmd\":\"rekey\",\"tunnel\":\"-t\"}\n");

	/* up, down */
	run_ctl(lfd, "{\"ok\":true}\n", &r, "-s", path, "up", "t2", NULL);
	CHECK(r.code == 0);
	CHECK_STR(r.req, "{\"cmd\":\"up\",\"tunnel\":\"t2\"}\n");
	run_ctl(lfd, "{\"ok\":true}\n", &r, "-s", path, "down", "t2", NULL);
	CHECK(r.code == 0);
	CHECK_STR(r.req, "{\"cmd\":\"down\",\"tunnel\":\"t2\"}\n");

	/* watch: events printed as they come; the end is exit 3 */
	run_ctl(lfd, "{\"ok\":true}\n{\"event\":\"up\",\"time\":1}\n"
		"{\"event\":\"down\",\"time\":2}\n", &r, "-s", path, "watch",
		NULL);
	CHECK(r.code == 3);
	CHECK_STR(r.req, "{\"cmd\":\"watch\"}\n");
	CHECK_STR(r.out, "{\"event\":\"up\",\"time\":1}\n"
		  "{\"event\":\"down\",\"time\":2}\n");
	CHECK_STR(r.err, "epochctl: epochd closed the connection\n");

	/* a reply that is not one; no reply at all */
	run_ctl(lfd, "hello\n", &r, "-s", path, "rekey", "t1", NULL);
	CHECK(r.code == 3);
	CHECK_STR(r.err, "epochctl: bad reply from epochd: malformed JSON at "
		  "byte 0: unexpected character\n");
	run_ctl(lfd, "", &r, "-s", path, "status", NULL);
	CHECK(r.code == 3);
	CHECK_STR(r.err, "epochctl: epochd closed the connection without a "
		  "reply\n");
	run_ctl(lfd, "{\"ok\":true,\"tunnels\":[{}]}\n", &r, "-s", path,
		"status", NULL);
	CHECK(r.code == 3);
	CHECK_STR(r.err, "epochctl: bad reply from epochd: tunnel 1: missing "
		  "\"name\"\n");
	close(lfd);
	ctl_unlink(path);

	/* the daemon is not running */
	run_ctl(-1, NULL, &r, "-s", path, "status", NULL);
	CHECK(r.code == 3);
	snprintf(want, sizeof(want), "epochctl: cannot connect to %s: No such "
		 "file or directory (is epochd running?)\n", path);
	CHECK_STR(r.err, want);

	/* usage errors: exit 2, no connection attempted */
	run_ctl(-1, NULL, &r, "-s", path, "rekey", NULL);
	CHECK(r.code == 2);
	CHECK_STR(r.err, "epochctl: rekey needs a tunnel name\n");
	run_ctl(-1, NULL, &r, "-s", path, "up", "a/b", NULL);
	CHECK(r.code == 2);
	CHECK_STR(r.err, "epochctl: bad tunnel name \"a/b\"\n");
	run_ctl(-1, NULL, &r, "-s", path, "frob", NULL);
	CHECK(r.code == 2);
	CHECK_STR(r.err, "epochctl: unknown command frob (try epochctl "
		  "--help)\n");
	run_ctl(-1, NULL, &r, "-s", path, "reload", "t1", NULL);
	CHECK(r.code == 2);
	CHECK_STR(r.err, "epochctl: reload takes no argument\n");
	run_ctl(-1, NULL, &r, "-s", path, "rekey", "--json", "t1", NULL);
	CHECK(r.code == 2);
	CHECK_STR(r.err, "epochctl: rekey: unknown option --json\n");
	run_ctl(-1, NULL, &r, "-s", path, "status", "a", "b", NULL);
	CHECK(r.code == 2);
	run_ctl(-1, NULL, &r, "-s", NULL);
	CHECK(r.code == 2);
	CHECK_STR(r.err, "epochctl: -s needs a path\n");
	run_ctl(-1, NULL, &r, NULL);
	CHECK(r.code == 2 && strstr(r.err, "usage: epochctl") != NULL);
	run_ctl(-1, NULL, &r, "--help", NULL);
	CHECK(r.code == 0 && strstr(r.out, "usage: epochctl") != NULL);
}

static void test_epochctl_keys(void)
{
	char path[256];
	struct run r, r2;
	struct stat stt;

	tmp_path(path, sizeof(path), "id.key");
	run_ctl(-1, NULL, &r, "genkey", path, NULL);
	CHECK(r.code == 0);
	CHECK(strlen(r.out) == 45 && r.out[44] == '\n');
	CHECK(stat(path, &stt) == 0 && (stt.st_mode & 07777) == 0600);
	run_ctl(-1, NULL, &r2, "pubkey", path, NULL);
	CHECK(r2.code == 0);
	CHECK_STR(r2.out, r.out);
	/* never overwritten */
	run_ctl(-1, NULL, &r2, "genkey", path, NULL);
	CHECK(r2.code == 1 && r2.out[0] == '\0');
	CHECK(strncmp(r2.err, "epochctl: ", 10) == 0);
	run_ctl(-1, NULL, &r2, "pubkey", path, NULL);
	CHECK_STR(r2.out, r.out);
	/* a group-readable key file is refused */
	CHECK(chmod(path, 0640) == 0);
	run_ctl(-1, NULL, &r2, "pubkey", path, NULL);
	CHECK(r2.code == 1 && r2.out[0] == '\0');
	unlink(path);
}

static void find_epochctl(const char *argv0)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		snprintf(self, sizeof(self), "%s", argv0);
	else
		self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash != NULL)
		*slash = '\0';
	snprintf(epochctl_path, sizeof(epochctl_path), "%s/../bin/epochctl",
		 slash != NULL ? self : ".");
}

int main(int argc, char **argv)
{
	int rc;

	(void)argc;
	signal(SIGPIPE, SIG_IGN);
	find_epochctl(argv[0]);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_run("json: accepted documents", test_json_accept);
	test_json_refuse();
	test_run("json: emitter escapes", test_json_emit);
	test_request_accept();
	test_request_refuse();
	test_run("status: JSON and table", test_status);
	test_run("status: refused replies", test_status_refuse);
	test_run("status: dos counters", test_status_dos);
	test_run("replies and events", test_replies_events);
	test_run("server: listen, accept, limits, stale socket", test_listen);
	test_run("server: refused socket paths", test_listen_refuse);
	test_run("client: reading reply lines", test_read_line);
	test_run("epochctl against a test server", test_epochctl);
	test_run("epochctl genkey/pubkey", test_epochctl_keys);
	rc = test_main_end(argv[0]);
	rmdir(tmpdir);
	return rc;
}
