/* Fuzz target for daemon/ctl: every input goes through the JSON parser,
 * the request parser, the reply parsers and the server's line framing.
 *
 * Invariants:
 *  - JSON: an accepted document has at most the node limit, nesting at most
 *    CTL_JSON_DEPTH, children counts that match the lists, keys exactly on
 *    object members, strings without NULs; written back with the emitter it
 *    parses again, and that second form is a fixed point (canonical);
 *  - requests: an accepted request has a known command, a valid tunnel name
 *    exactly where the command allows one, formats to a line that parses
 *    to the same request; anything over CTL_REQ_MAX - 1 bytes is refused;
 *    a refusal comes with a message and leaves the request zeroed;
 *  - status replies: an accepted one renders (JSON and table) and reparses
 *    to the same rendering; reply parsing returns -1, 0 or 1 only;
 *  - framing: the input fed to a server-side client in pieces yields only
 *    valid requests, and every line queued back is an error reply.
 */
#include <string.h>

#include "daemon/ctl.h"
#include "tests/fuzz/fuzz.h"

#define MAX_NODES 256

static void emit(const struct ctl_json_doc *d, int i, struct ctl_buf *b)
{
	const struct ctl_json *v = &d->v[i];
	bool first = true;

	switch (v->type) {
	case CTL_JSON_OBJECT:
	case CTL_JSON_ARRAY:
		ctl_buf_puts(b, v->type == CTL_JSON_OBJECT ? "{" : "[");
		for (int m = v->first; m >= 0; m = d->v[m].next) {
			if (v->type == CTL_JSON_OBJECT)
				ctl_json_put_key(b, d->v[m].key, first);
			else if (!first)
				ctl_buf_puts(b, ",");
			first = false;
			emit(d, m, b);
		}
		ctl_buf_puts(b, v->type == CTL_JSON_OBJECT ? "}" : "]");
		break;
	case CTL_JSON_STRING:
		ctl_json_put_str(b, v->str);
		break;
	case CTL_JSON_INT:
		ctl_buf_printf(b, "%llu", (unsigned long long)v->num);
		break;
	case CTL_JSON_BOOL:
		ctl_buf_puts(b, v->b ? "true" : "false");
		break;
	}
}

static size_t walk(const struct ctl_json_doc *d, int i, int depth)
{
	const struct ctl_json *v = &d->v[i];
	size_t count = 1, n = 0;

	FUZZ_REQUIRE(i >= 0 && (size_t)i < d->n);
	if (v->type == CTL_JSON_STRING)
		FUZZ_REQUIRE(v->str != NULL && strlen(v->str) == v->len);
	if (v->type != CTL_JSON_OBJECT && v->type != CTL_JSON_ARRAY) {
		FUZZ_REQUIRE(v->first == -1 && v->n == 0);
		return 1;
	}
	FUZZ_REQUIRE(depth < CTL_JSON_DEPTH);
	for (int m = v->first; m >= 0; m = d->v[m].next) {
		FUZZ_REQUIRE(m > i);
		FUZZ_REQUIRE((d->v[m].key != NULL) ==
			     (v->type == CTL_JSON_OBJECT));
		count += walk(d, m, depth + 1);
		n++;
	}
	FUZZ_REQUIRE(n == v->n);
	return count;
}

static void check_json(const uint8_t *data, size_t size)
{
	struct ctl_json_doc d, d2;
	struct ctl_buf b, b2;
	char err[128];

	if (ctl_json_parse(&d, (const char *)data, size, MAX_NODES, err,
			   sizeof(err)) < 0) {
		FUZZ_REQUIRE(strncmp(err, "malformed JSON at byte ", 23) == 0 ||
			     strcmp(err, "out of memory") == 0);
		FUZZ_REQUIRE(d.v == NULL && d.strs == NULL);
		return;
	}
	FUZZ_REQUIRE(d.n >= 1 && d.n <= MAX_NODES);
	FUZZ_REQUIRE(walk(&d, 0, 0) == d.n);
	FUZZ_REQUIRE(d.v[0].key == NULL && d.v[0].next == -1);
	FUZZ_REQUIRE(d.strs_len <= size);

	ctl_buf_init(&b, 1 << 20);
	emit(&d, 0, &b);
	FUZZ_REQUIRE(!b.err);
	FUZZ_REQUIRE(ctl_json_parse(&d2, b.p, b.len, MAX_NODES, err,
				    sizeof(err)) == 0);
	FUZZ_REQUIRE(d2.n == d.n);
	ctl_buf_init(&b2, 1 << 20);
	emit(&d2, 0, &b2);
	FUZZ_REQUIRE(!b2.err && b2.len == b.len &&
		     memcmp(b2.p, b.p, b.len) == 0);
	ctl_buf_free(&b2);
	ctl_buf_free(&b);
	ctl_json_free(&d2);
	ctl_json_free(&d);
}

static void check_request_ok(const struct ctl_request *r)
{
	size_t tl = strnlen(r->tunnel, sizeof(r->tunnel));
	bool need = r->cmd == CTL_CMD_UP || r->cmd == CTL_CMD_DOWN ||
		    r->cmd == CTL_CMD_REKEY;
	bool none = r->cmd == CTL_CMD_RELOAD || r->cmd == CTL_CMD_WATCH;
	struct ctl_request back;
	char line[CTL_REQ_MAX], err[CTL_ERR_MAX];

	FUZZ_REQUIRE((unsigned)r->cmd < CTL_CMD_COUNT);
	FUZZ_REQUIRE(tl < sizeof(r->tunnel));
	FUZZ_REQUIRE(tl == 0 || ctl_name_valid(r->tunnel, tl));
	FUZZ_REQUIRE(!need || tl > 0);
	FUZZ_REQUIRE(!none || tl == 0);
	FUZZ_REQUIRE(ctl_request_format(r, line, sizeof(line)) == 0);
	FUZZ_REQUIRE(strlen(line) > 0 && line[strlen(line) - 1] == '\n');
	FUZZ_REQUIRE(ctl_request_parse(line, strlen(line) - 1, &back, err,
				       sizeof(err)) == 0);
	FUZZ_REQUIRE(back.cmd == r->cmd && strcmp(back.tunnel, r->tunnel) == 0);
}

static void check_request(const uint8_t *data, size_t size)
{
	struct ctl_request r;
	char err[CTL_ERR_MAX] = "";

	if (ctl_request_parse((const char *)data, size, &r, err,
			      sizeof(err)) == 0) {
		FUZZ_REQUIRE(size <= CTL_REQ_MAX - 1);
		check_request_ok(&r);
		return;
	}
	FUZZ_REQUIRE(err[0] != '\0');
	FUZZ_REQUIRE(r.cmd == 0 && r.tunnel[0] == '\0');
}

static void check_replies(const uint8_t *data, size_t size)
{
	struct ctl_status *st, *st2;
	struct ctl_buf b, b2;
	char err[CTL_ERR_MAX], msg[1024];
	size_t n, n2;
	int rc;

	rc = ctl_reply_parse((const char *)data, size, msg, sizeof(msg), err,
			     sizeof(err));
	FUZZ_REQUIRE(rc >= -1 && rc <= 1);
	rc = ctl_status_reply_parse((const char *)data, size, &st, &n, err,
				    sizeof(err));
	FUZZ_REQUIRE(rc >= -1 && rc <= 1);
	if (rc != 0) {
		FUZZ_REQUIRE(st == NULL && n == 0);
		return;
	}
	ctl_buf_init(&b, 1 << 22);
	ctl_status_reply(&b, st, n);
	FUZZ_REQUIRE(!b.err && b.len > 0 && b.p[b.len - 1] == '\n');
	FUZZ_REQUIRE(ctl_status_reply_parse(b.p, b.len - 1, &st2, &n2, err,
					    sizeof(err)) == 0);
	FUZZ_REQUIRE(n2 == n);
	ctl_buf_init(&b2, 1 << 22);
	ctl_status_reply(&b2, st2, n2);
	FUZZ_REQUIRE(b2.len == b.len && memcmp(b2.p, b.p, b.len) == 0);
	ctl_buf_free(&b2);
	ctl_buf_init(&b2, 1 << 22);
	ctl_status_table(&b2, st, n, 1700000000);
	FUZZ_REQUIRE(!b2.err && b2.len > 0);
	ctl_buf_free(&b2);
	ctl_buf_free(&b);
	free(st);
	free(st2);
}

static void check_framing(const uint8_t *data, size_t size)
{
	struct ctl_client c;
	struct ctl_request r;
	size_t fed = 0, chunk = size > 0 ? (size_t)data[0] * 31 + 1 : 1;
	char err[CTL_ERR_MAX], msg[1024];

	ctl_client_init(&c, -1);
	for (;;) {
		size_t k = size - fed, room = sizeof(c.in) - c.in_len;

		if (k > chunk)
			k = chunk;
		if (k > room)
			k = room;
		memcpy(c.in + c.in_len, data + fed, k);
		c.in_len += k;
		fed += k;
		if (fed == size)
			c.eof = true;
		while (ctl_client_next(&c, &r) == 1)
			check_request_ok(&r);
		FUZZ_REQUIRE(c.in_len < sizeof(c.in));
		if (fed == size)
			break;
	}
	FUZZ_REQUIRE(c.in_len == 0 && !c.dead);
	/* every queued line is an error reply */
	for (size_t off = 0; off < c.out.len;) {
		char *nl = memchr(c.out.p + off, '\n', c.out.len - off);

		FUZZ_REQUIRE(nl != NULL);
		FUZZ_REQUIRE(ctl_reply_parse(c.out.p + off,
					     (size_t)(nl - c.out.p) - off, msg,
					     sizeof(msg), err,
					     sizeof(err)) == 1);
		off = (size_t)(nl - c.out.p) + 1;
	}
	c.fd = -1;
	ctl_client_close(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_json(data, size);
	check_request(data, size);
	check_replies(data, size);
	check_framing(data, size);
	return 0;
}
