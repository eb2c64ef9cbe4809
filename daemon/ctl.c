/* The control channel: strict JSON subset, requests, replies, status,
 * events, and the socket helpers of both ends. See ctl.h and
 * docs/control.md. */
#include "daemon/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- output buffer ------------------------------------------------------- */

void ctl_buf_init(struct ctl_buf *b, size_t limit)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->limit = limit;
	b->err = false;
}

void ctl_buf_free(struct ctl_buf *b)
{
	free(b->p);
	ctl_buf_init(b, b->limit);
}

/* Room for n more bytes and a NUL. */
static bool buf_reserve(struct ctl_buf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (b->err)
		return false;
	if (n > b->limit || b->len > b->limit - n) {
		b->err = true;
		return false;
	}
	want = b->len + n + 1;
	if (want <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	p = realloc(b->p, cap);
	if (p == NULL) {
		b->err = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void ctl_buf_add(struct ctl_buf *b, const char *s, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void ctl_buf_puts(struct ctl_buf *b, const char *s)
{
	ctl_buf_add(b, s, strlen(s));
}

void ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = true;
		return;
	}
	if (!buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void ctl_buf_consume(struct ctl_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->p, b->p + n, b->len - n);
		b->len -= n;
	}
	if (b->p != NULL)
		b->p[b->len] = '\0';
}

/* ---- UTF-8 --------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if it is
 * not one (RFC 3629 §4: no overlongs, no surrogates, at most U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t k;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		k = 2;
	else if (c >= 0xe0 && c <= 0xef)
		k = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 4;
	else
		return 0;
	if (n < k)
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < k; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return k;
}

static size_t utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* ---- JSON parser --------------------------------------------------------- */

struct jp {
	const char *s;
	size_t len, pos;
	struct ctl_json_doc *doc;
	size_t max_nodes;
	char *err;
	size_t errlen;
};

static int jp_fail(struct jp *p, const char *what)
{
	snprintf(p->err, p->errlen, "malformed JSON at byte %zu: %s", p->pos,
		 what);
	return -1;
}

static void jp_ws(struct jp *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' ||
				   p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\n' ||
				   p->s[p->pos] == '\r'))
		p->pos++;
}

static int jp_node(struct jp *p, enum ctl_json_type t)
{
	struct ctl_json_doc *d = p->doc;
	struct ctl_json *v;

	if (d->n >= p->max_nodes)
		return jp_fail(p, "too many values");
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;

		v = realloc(d->v, cap * sizeof(*v));
		if (v == NULL)
			return jp_fail(p, "out of memory");
		d->v = v;
		d->cap = cap;
	}
	v = &d->v[d->n];
	memset(v, 0, sizeof(*v));
	v->type = t;
	v->first = -1;
	v->next = -1;
	return (int)d->n++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int jp_u4(struct jp *p, uint32_t *cp)
{
	uint32_t v = 0;

	if (p->len - p->pos < 4)
		return jp_fail(p, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		int h = hexval(p->s[p->pos + i]);

		if (h < 0)
			return jp_fail(p, "bad \\u escape");
		v = v << 4 | (uint32_t)h;
	}
	p->pos += 4;
	*cp = v;
	return 0;
}

/* A string at p->pos (its opening quote); the unescaped text goes to the
 * document's string area (never longer than the source, see parse). */
static int jp_string(struct jp *p, const char **out, size_t *outlen)
{
	struct ctl_json_doc *d = p->doc;
	char *o = d->strs + d->strs_len;
	size_t n = 0;

	p->pos++;
	for (;;) {
		unsigned char c;

		if (p->pos >= p->len)
			return jp_fail(p, "unterminated string");
		c = (unsigned char)p->s[p->pos];
		if (c == '"') {
			p->pos++;
			break;
		}
		if (c < 0x20)
			return jp_fail(p, "control character in string");
		if (c == '\\') {
			uint32_t cp;
			char e;

			if (p->len - p->pos < 2)
				return jp_fail(p, "unterminated string");
			e = p->s[p->pos + 1];
			p->pos += 2;
			switch (e) {
			case '"': o[n++] = '"'; continue;
			case '\\': o[n++] = '\\'; continue;
			case '/': o[n++] = '/'; continue;
			case 'b': o[n++] = '\b'; continue;
			case 'f': o[n++] = '\f'; continue;
			case 'n': o[n++] = '\n'; continue;
			case 'r': o[n++] = '\r'; continue;
			case 't': o[n++] = '\t'; continue;
			case 'u': break;
			default:
				p->pos -= 2;
				return jp_fail(p, "bad escape");
			}
			if (jp_u4(p, &cp) < 0)
				return -1;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return jp_fail(p, "lone low surrogate");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				uint32_t lo;

				if (p->len - p->pos < 2 ||
				    p->s[p->pos] != '\\' ||
				    p->s[p->pos + 1] != 'u')
					return jp_fail(p,
						       "lone high surrogate");
				p->pos += 2;
				if (jp_u4(p, &lo) < 0)
					return -1;
				if (lo < 0xdc00 || lo > 0xdfff)
					return jp_fail(p,
						       "lone high surrogate");
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			}
			if (cp == 0)
				return jp_fail(p, "\\u0000 in string");
			n += utf8_put(o + n, cp);
			continue;
		}
		{
			size_t k = utf8_seq((const unsigned char *)p->s +
					    p->pos, p->len - p->pos);

			if (k == 0)
				return jp_fail(p, "invalid UTF-8");
			memcpy(o + n, p->s + p->pos, k);
			n += k;
			p->pos += k;
		}
	}
	o[n] = '\0';
	d->strs_len += n + 1;
	*out = o;
	*outlen = n;
	return 0;
}

static int jp_value(struct jp *p, int depth);

static int jp_int(struct jp *p)
{
	uint64_t v = 0;
	size_t start = p->pos;
	int i;

	while (p->pos < p->len && p->s[p->pos] >= '0' &&
	       p->s[p->pos] <= '9') {
		unsigned dgt = (unsigned)(p->s[p->pos] - '0');

		if (v > (UINT64_MAX - dgt) / 10)
			return jp_fail(p, "integer too large");
		v = v * 10 + dgt;
		p->pos++;
	}
	if (p->s[start] == '0' && p->pos - start > 1) {
		p->pos = start;
		return jp_fail(p, "leading zero");
	}
	if (p->pos < p->len && (p->s[p->pos] == '.' || p->s[p->pos] == 'e' ||
				p->s[p->pos] == 'E'))
		return jp_fail(p, "only integers are supported");
	i = jp_node(p, CTL_JSON_INT);
	if (i < 0)
		return -1;
	p->doc->v[i].num = v;
	return i;
}

/* Adds child c to parent's list (tail kept by the caller). */
static void jp_link(struct ctl_json_doc *d, int parent, int *tail, int c)
{
	if (*tail < 0)
		d->v[parent].first = c;
	else
		d->v[*tail].next = c;
	*tail = c;
	d->v[parent].n++;
}

static int jp_container(struct jp *p, int depth, bool obj)
{
	struct ctl_json_doc *d = p->doc;
	int self, tail = -1;
	char close = obj ? '}' : ']';

	if (depth >= CTL_JSON_DEPTH)
		return jp_fail(p, "nested too deeply");
	self = jp_node(p, obj ? CTL_JSON_OBJECT : CTL_JSON_ARRAY);
	if (self < 0)
		return -1;
	p->pos++;
	jp_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return self;
	}
	for (;;) {
		const char *key = NULL;
		size_t keylen;
		int c;

		jp_ws(p);
		if (obj) {
			if (p->pos >= p->len || p->s[p->pos] != '"')
				return jp_fail(p, "expected a member name");
			if (jp_string(p, &key, &keylen) < 0)
				return -1;
			for (int m = d->v[self].first; m >= 0;
			     m = d->v[m].next)
				if (strcmp(d->v[m].key, key) == 0)
					return jp_fail(p, "duplicate member");
			jp_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':')
				return jp_fail(p, "expected ':'");
			p->pos++;
		}
		c = jp_value(p, depth + 1);
		if (c < 0)
			return -1;
		d->v[c].key = key;
		jp_link(d, self, &tail, c);
		jp_ws(p);
		if (p->pos >= p->len)
			return jp_fail(p, "unexpected end");
		if (p->s[p->pos] == close) {
			p->pos++;
			return self;
		}
		if (p->s[p->pos] != ',')
			return jp_fail(p, obj ? "expected ',' or '}'"
					      : "expected ',' or ']'");
		p->pos++;
	}
}

static int jp_value(struct jp *p, int depth)
{
	char c;
	int i;

	jp_ws(p);
	if (p->pos >= p->len)
		return jp_fail(p, "unexpected end");
	c = p->s[p->pos];
	switch (c) {
	case '{':
		return jp_container(p, depth, true);
	case '[':
		return jp_container(p, depth, false);
	case '"': {
		const char *s;
		size_t n;

		if (jp_string(p, &s, &n) < 0)
			return -1;
		i = jp_node(p, CTL_JSON_STRING);
		if (i < 0)
			return -1;
		p->doc->v[i].str = s;
		p->doc->v[i].len = n;
		return i;
	}
	case 't':
	case 'f': {
		const char *lit = c == 't' ? "true" : "false";
		size_t n = strlen(lit);

		if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0)
			return jp_fail(p, "unexpected character");
		i = jp_node(p, CTL_JSON_BOOL);
		if (i < 0)
			return -1;
		p->pos += n;
		p->doc->v[i].b = c == 't';
		return i;
	}
	case 'n':
		return jp_fail(p, "null is not supported");
	case '-':
		return jp_fail(p, "negative numbers are not supported");
	default:
		if (c >= '0' && c <= '9')
			return jp_int(p);
		return jp_fail(p, "unexpected character");
	}
}

int ctl_json_parse(struct ctl_json_doc *doc, const char *text, size_t len,
		   size_t max_nodes, char *err, size_t errlen)
{
	struct jp p = { text, len, 0, doc, max_nodes, err, errlen };

	memset(doc, 0, sizeof(*doc));
	/* Unescaped strings plus their NULs never exceed the source: each
	 * string loses its two quotes and gains one NUL, and every escape is
	 * at least as long as the UTF-8 it stands for. */
	doc->strs_cap = len + 1;
	doc->strs = malloc(doc->strs_cap);
	if (doc->strs == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (jp_value(&p, 0) < 0)
		goto fail;
	jp_ws(&p);
	if (p.pos != len) {
		jp_fail(&p, "trailing data");
		goto fail;
	}
	return 0;
fail:
	ctl_json_free(doc);
	return -1;
}

void ctl_json_free(struct ctl_json_doc *doc)
{
	free(doc->v);
	free(doc->strs);
	memset(doc, 0, sizeof(*doc));
}

const struct ctl_json *ctl_json_get(const struct ctl_json_doc *doc,
				    const struct ctl_json *o, const char *key)
{
	if (o == NULL || o->type != CTL_JSON_OBJECT)
		return NULL;
	for (int m = o->first; m >= 0; m = doc->v[m].next)
		if (strcmp(doc->v[m].key, key) == 0)
			return &doc->v[m];
	return NULL;
}

const struct ctl_json *ctl_json_child(const struct ctl_json_doc *doc,
				      const struct ctl_json *o, size_t i)
{
	int m;

	if (o == NULL || (o->type != CTL_JSON_OBJECT &&
			  o->type != CTL_JSON_ARRAY))
		return NULL;
	for (m = o->first; m >= 0 && i > 0; m = doc->v[m].next)
		i--;
	return m >= 0 ? &doc->v[m] : NULL;
}

/* ---- JSON emitter -------------------------------------------------------- */

void ctl_json_put_str(struct ctl_buf *b, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, run = 0;

	ctl_buf_add(b, "\"", 1);
	while (i < n) {
		unsigned char c = u[i];
		const char *esc = NULL;
		char tmp[8];
		size_t k;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			run++;
			continue;
		}
		k = c >= 0x80 ? utf8_seq(u + i, n - i) : 0;
		if (k > 0) {
			i += k;
			run += k;
			continue;
		}
		ctl_buf_add(b, s + i - run, run);
		run = 0;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			if (c < 0x20) {
				snprintf(tmp, sizeof(tmp), "\\u%04x", c);
				esc = tmp;
			} else {
				esc = "\\ufffd"; /* not UTF-8 */
			}
		}
		ctl_buf_puts(b, esc);
		i++;
	}
	ctl_buf_add(b, s + i - run, run);
	ctl_buf_add(b, "\"", 1);
}

void ctl_json_put_key(struct ctl_buf *b, const char *key, bool first)
{
	if (!first)
		ctl_buf_add(b, ",", 1);
	ctl_json_put_str(b, key);
	ctl_buf_add(b, ":", 1);
}

static void put_u64(struct ctl_buf *b, const char *key, uint64_t v)
{
	ctl_json_put_key(b, key, false);
	ctl_buf_printf(b, "%llu", (unsigned long long)v);
}

static void put_str(struct ctl_buf *b, const char *key, const char *v)
{
	ctl_json_put_key(b, key, false);
	ctl_json_put_str(b, v);
}

/* ---- names --------------------------------------------------------------- */

static const char *const cmd_names[CTL_CMD_COUNT] = {
	"status", "up", "down", "rekey", "reload", "watch",
};
static const char *const state_names[CTL_STATE_COUNT] = {
	"down", "connecting", "up", "rekeying", "disabled",
};
static const char *const role_names[CTL_ROLE_COUNT] = {
	"initiator", "responder",
};
static const char *const trigger_names[CTL_TRIGGER_COUNT] = {
	"none", "handshake", "time", "bytes", "packets", "manual", "peer",
	"resume",
};
static const char *const event_names[CTL_EVENT_COUNT] = {
	"up", "down", "rekey", "rejected", "reload",
};

#define NAME_OF(tab, i) \
	((unsigned)(i) < sizeof(tab) / sizeof(tab[0]) ? tab[i] : "unknown")

const char *ctl_cmd_name(enum ctl_cmd c) { return NAME_OF(cmd_names, c); }
const char *ctl_state_name(enum ctl_state s)
{
	return NAME_OF(state_names, s);
}
const char *ctl_role_name(enum ctl_role r) { return NAME_OF(role_names, r); }
const char *ctl_trigger_name(enum ctl_trigger t)
{
	return NAME_OF(trigger_names, t);
}
const char *ctl_event_name(enum ctl_event_type t)
{
	return NAME_OF(event_names, t);
}

static int lookup(const char *const *tab, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(tab[i], s) == 0)
			return i;
	return -1;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

bool ctl_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > CTL_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/* ---- requests ------------------------------------------------------------ */

#define REQ_MAX_NODES 16

int ctl_request_parse(const char *line, size_t len, struct ctl_request *req,
		      char *err, size_t errlen)
{
	struct ctl_json_doc doc;
	const struct ctl_json *root, *cmd = NULL, *tun = NULL;
	char jerr[128];
	int c, rc = -1;

	memset(req, 0, sizeof(*req));
	if (len > CTL_REQ_MAX - 1) {
		snprintf(err, errlen, "request too long (limit %d bytes)",
			 CTL_REQ_MAX);
		return -1;
	}
	if (ctl_json_parse(&doc, line, len, REQ_MAX_NODES, jerr,
			   sizeof(jerr)) < 0) {
		snprintf(err, errlen, "bad request: %s", jerr);
		return -1;
	}
	root = &doc.v[0];
	if (root->type != CTL_JSON_OBJECT) {
		snprintf(err, errlen, "bad request: not a JSON object");
		goto out;
	}
	for (int m = root->first; m >= 0; m = doc.v[m].next) {
		const struct ctl_json *v = &doc.v[m];

		if (strcmp(v->key, "cmd") == 0) {
			cmd = v;
		} else if (strcmp(v->key, "tunnel") == 0) {
			tun = v;
		} else {
			snprintf(err, errlen, "bad request: unknown field "
				 "\"%.32s\"", v->key);
			goto out;
		}
		if (v->type != CTL_JSON_STRING) {
			snprintf(err, errlen, "bad request: \"%s\" must be "
				 "a string", v->key);
			goto out;
		}
	}
	if (cmd == NULL) {
		snprintf(err, errlen, "bad request: missing \"cmd\"");
		goto out;
	}
	c = lookup(cmd_names, CTL_CMD_COUNT, cmd->str);
	if (c < 0) {
		snprintf(err, errlen, "unknown command \"%.32s\"", cmd->str);
		goto out;
	}
	req->cmd = (enum ctl_cmd)c;
	if (tun != NULL) {
		if (!ctl_name_valid(tun->str, tun->len)) {
			snprintf(err, errlen, "bad tunnel name \"%.40s\" (1 to "
				 "%d of A-Z a-z 0-9 _ -)", tun->str,
				 CTL_NAME_MAX);
			goto out;
		}
		if (req->cmd == CTL_CMD_RELOAD || req->cmd == CTL_CMD_WATCH) {
			snprintf(err, errlen, "%s takes no tunnel",
				 ctl_cmd_name(req->cmd));
			goto out;
		}
		memcpy(req->tunnel, tun->str, tun->len + 1);
	} else if (req->cmd == CTL_CMD_UP || req->cmd == CTL_CMD_DOWN ||
		   req->cmd == CTL_CMD_REKEY) {
		snprintf(err, errlen, "%s needs \"tunnel\"",
			 ctl_cmd_name(req->cmd));
		goto out;
	}
	rc = 0;
out:
	ctl_json_free(&doc);
	if (rc < 0)
		memset(req, 0, sizeof(*req));
	return rc;
}

int ctl_request_format(const struct ctl_request *req, char *out,
		       size_t outlen)
{
	size_t tl = strnlen(req->tunnel, sizeof(req->tunnel));
	bool need = req->cmd == CTL_CMD_UP || req->cmd == CTL_CMD_DOWN ||
		    req->cmd == CTL_CMD_REKEY;
	bool none = req->cmd == CTL_CMD_RELOAD || req->cmd == CTL_CMD_WATCH;
	int n;

	if ((unsigned)req->cmd >= CTL_CMD_COUNT)
		return -1;
	if (tl > 0 && (!ctl_name_valid(req->tunnel, tl) || none))
		return -1;
	if (tl == 0 && need)
		return -1;
	/* Names need no escaping: ctl_name_valid allows none of " \ or
	 * control characters. */
	if (tl > 0)
		n = snprintf(out, outlen,
			     "{\"cmd\":\"%s\",\"tunnel\":\"%s\"}\n",
			     cmd_names[req->cmd], req->tunnel);
	else
		n = snprintf(out, outlen, "{\"cmd\":\"%s\"}\n",
			     cmd_names[req->cmd]);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* ---- replies ------------------------------------------------------------- */

void ctl_reply_ok(struct ctl_buf *b, const char *msg)
{
	ctl_buf_puts(b, "{\"ok\":true");
	if (msg != NULL && msg[0] != '\0')
		put_str(b, "message", msg);
	ctl_buf_puts(b, "}\n");
}

void ctl_reply_error(struct ctl_buf *b, const char *msg)
{
	ctl_buf_puts(b, "{\"ok\":false");
	put_str(b, "error", msg);
	ctl_buf_puts(b, "}\n");
}

/* Copies a string member into dst (size bytes) or fails. */
static int get_str(const struct ctl_json_doc *doc, const struct ctl_json *o,
		   const char *key, char *dst, size_t size, bool required,
		   char *err, size_t errlen)
{
	const struct ctl_json *v = ctl_json_get(doc, o, key);

	if (v == NULL) {
		if (!required) {
			dst[0] = '\0';
			return 0;
		}
		snprintf(err, errlen, "missing \"%s\"", key);
		return -1;
	}
	if (v->type != CTL_JSON_STRING) {
		snprintf(err, errlen, "\"%s\" must be a string", key);
		return -1;
	}
	if (v->len >= size) {
		snprintf(err, errlen, "\"%s\" is too long", key);
		return -1;
	}
	memcpy(dst, v->str, v->len + 1);
	return 0;
}

static int get_u64(const struct ctl_json_doc *doc, const struct ctl_json *o,
		   const char *key, uint64_t max, uint64_t *dst, char *err,
		   size_t errlen)
{
	const struct ctl_json *v = ctl_json_get(doc, o, key);

	if (v == NULL) {
		snprintf(err, errlen, "missing \"%s\"", key);
		return -1;
	}
	if (v->type != CTL_JSON_INT || v->num > max) {
		snprintf(err, errlen, "\"%s\" must be an integer 0..%llu", key,
			 (unsigned long long)max);
		return -1;
	}
	*dst = v->num;
	return 0;
}

static int get_enum(const struct ctl_json_doc *doc, const struct ctl_json *o,
		    const char *key, const char *const *tab, int n, int *dst,
		    char *err, size_t errlen)
{
	char s[32];

	if (get_str(doc, o, key, s, sizeof(s), true, err, errlen) < 0)
		return -1;
	*dst = lookup(tab, n, s);
	if (*dst < 0) {
		snprintf(err, errlen, "unknown %s \"%s\"", key, s);
		return -1;
	}
	return 0;
}

static int reply_ok(const struct ctl_json_doc *doc, const struct ctl_json *r,
		    bool *ok, char *err, size_t errlen)
{
	const struct ctl_json *v = ctl_json_get(doc, r, "ok");

	if (r->type != CTL_JSON_OBJECT || v == NULL ||
	    v->type != CTL_JSON_BOOL) {
		snprintf(err, errlen, "bad reply from epochd: no \"ok\"");
		return -1;
	}
	*ok = v->b;
	return 0;
}

int ctl_reply_parse(const char *line, size_t len, char *msg, size_t msglen,
		    char *err, size_t errlen)
{
	struct ctl_json_doc doc;
	char jerr[128];
	bool ok;
	int rc = -1;

	if (ctl_json_parse(&doc, line, len, 64, jerr, sizeof(jerr)) < 0) {
		snprintf(err, errlen, "bad reply from epochd: %s", jerr);
		return -1;
	}
	if (reply_ok(&doc, &doc.v[0], &ok, err, errlen) < 0)
		goto out;
	if (get_str(&doc, &doc.v[0], ok ? "message" : "error", msg, msglen,
		    !ok, jerr, sizeof(jerr)) < 0) {
		snprintf(err, errlen, "bad reply from epochd: %s", jerr);
		goto out;
	}
	rc = ok ? 0 : 1;
out:
	ctl_json_free(&doc);
	return rc;
}

/* ---- status -------------------------------------------------------------- */

void ctl_status_json(struct ctl_buf *b, const struct ctl_status *st)
{
	ctl_buf_puts(b, "{");
	ctl_json_put_key(b, "name", true);
	ctl_json_put_str(b, st->name);
	put_str(b, "state", ctl_state_name(st->state));
	put_str(b, "role", ctl_role_name(st->role));
	put_str(b, "peer", st->peer);
	put_u64(b, "epoch", st->epoch);
	put_str(b, "suite", st->suite);
	put_str(b, "esp", st->esp);
	put_u64(b, "spi_in", st->spi_in);
	put_u64(b, "spi_out", st->spi_out);
	put_u64(b, "bytes_in", st->bytes_in);
	put_u64(b, "bytes_out", st->bytes_out);
	put_u64(b, "packets_in", st->packets_in);
	put_u64(b, "packets_out", st->packets_out);
	put_u64(b, "last_rekey", st->last_rekey);
	put_str(b, "last_trigger", ctl_trigger_name(st->last_trigger));
	put_u64(b, "next_rekey", st->next_rekey);
	put_u64(b, "retransmits", st->retransmits);
	ctl_buf_puts(b, "}");
}

void ctl_status_reply(struct ctl_buf *b, const struct ctl_status *st,
		      size_t n)
{
	ctl_status_reply_dos(b, st, n, NULL);
}

void ctl_status_reply_dos(struct ctl_buf *b, const struct ctl_status *st,
			  size_t n, const struct ctl_dos *dos)
{
	ctl_buf_puts(b, "{\"ok\":true,\"tunnels\":[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			ctl_buf_puts(b, ",");
		ctl_status_json(b, &st[i]);
	}
	ctl_buf_puts(b, "]");
	if (dos) {
		ctl_buf_puts(b, ",\"dos\":{");
		ctl_json_put_key(b, "half_open", true);
		ctl_buf_printf(b, "%llu", (unsigned long long)dos->half_open);
		put_u64(b, "cookie_threshold", dos->cookie_threshold);
		put_u64(b, "hellos", dos->hellos);
		put_u64(b, "hellos_processed", dos->hellos_processed);
		put_u64(b, "hellos_rate_limited", dos->hellos_rate_limited);
		put_u64(b, "hellos_dropped", dos->hellos_dropped);
		put_u64(b, "cookies_sent", dos->cookies_sent);
		put_u64(b, "cookies_valid", dos->cookies_valid);
		put_u64(b, "cookies_invalid", dos->cookies_invalid);
		put_u64(b, "cookies_received", dos->cookies_received);
		put_u64(b, "cookies_ignored", dos->cookies_ignored);
		put_u64(b, "unknown_source", dos->unknown_source);
		put_u64(b, "rate_sources", dos->rate_sources);
		put_u64(b, "rate_evictions", dos->rate_evictions);
		ctl_buf_puts(b, "}");
	}
	ctl_buf_puts(b, "}\n");
}

int ctl_status_parse(const struct ctl_json_doc *doc,
		     const struct ctl_json *o, struct ctl_status *st,
		     char *err, size_t errlen)
{
	uint64_t v;
	int e;

	memset(st, 0, sizeof(*st));
	if (o->type != CTL_JSON_OBJECT) {
		snprintf(err, errlen, "tunnel status is not an object");
		return -1;
	}
	/* Members this version does not know are ignored (a newer daemon may
	 * add some); the known ones are all required. */
	if (get_str(doc, o, "name", st->name, sizeof(st->name), true, err,
		    errlen) < 0)
		return -1;
	if (!ctl_name_valid(st->name, strlen(st->name))) {
		snprintf(err, errlen, "bad tunnel name \"%s\"", st->name);
		return -1;
	}
	if (get_enum(doc, o, "state", state_names, CTL_STATE_COUNT, &e, err,
		     errlen) < 0)
		return -1;
	st->state = (enum ctl_state)e;
	if (get_enum(doc, o, "role", role_names, CTL_ROLE_COUNT, &e, err,
		     errlen) < 0)
		return -1;
	st->role = (enum ctl_role)e;
	if (get_str(doc, o, "peer", st->peer, sizeof(st->peer), true, err,
		    errlen) < 0 ||
	    get_u64(doc, o, "epoch", UINT64_MAX, &st->epoch, err, errlen) < 0 ||
	    get_str(doc, o, "suite", st->suite, sizeof(st->suite), true, err,
		    errlen) < 0 ||
	    get_str(doc, o, "esp", st->esp, sizeof(st->esp), true, err,
		    errlen) < 0)
		return -1;
	if (get_u64(doc, o, "spi_in", UINT32_MAX, &v, err, errlen) < 0)
		return -1;
	st->spi_in = (uint32_t)v;
	if (get_u64(doc, o, "spi_out", UINT32_MAX, &v, err, errlen) < 0)
		return -1;
	st->spi_out = (uint32_t)v;
	if (get_u64(doc, o, "bytes_in", UINT64_MAX, &st->bytes_in, err,
		    errlen) < 0 ||
	    get_u64(doc, o, "bytes_out", UINT64_MAX, &st->bytes_out, err,
		    errlen) < 0 ||
	    get_u64(doc, o, "packets_in", UINT64_MAX, &st->packets_in, err,
		    errlen) < 0 ||
	    get_u64(doc, o, "packets_out", UINT64_MAX, &st->packets_out, err,
		    errlen) < 0 ||
	    get_u64(doc, o, "last_rekey", UINT64_MAX, &st->last_rekey, err,
		    errlen) < 0)
		return -1;
	if (get_enum(doc, o, "last_trigger", trigger_names, CTL_TRIGGER_COUNT,
		     &e, err, errlen) < 0)
		return -1;
	st->last_trigger = (enum ctl_trigger)e;
	if (get_u64(doc, o, "next_rekey", UINT64_MAX, &st->next_rekey, err,
		    errlen) < 0 ||
	    get_u64(doc, o, "retransmits", UINT64_MAX, &st->retransmits, err,
		    errlen) < 0)
		return -1;
	return 0;
}

/* A status reply of n tunnels has 1 + 2 + 18 n values, and the "dos"
 * object 1 + 14. */
#define STATUS_MAX_TUNNELS 4096
#define STATUS_MAX_NODES (3 + 18 * STATUS_MAX_TUNNELS + 16)

int ctl_status_reply_parse(const char *line, size_t len,
			   struct ctl_status **out, size_t *n, char *err,
			   size_t errlen)
{
	struct ctl_json_doc doc;
	const struct ctl_json *r, *t;
	struct ctl_status *st = NULL;
	char jerr[CTL_ERR_MAX];
	size_t i;
	bool ok;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (ctl_json_parse(&doc, line, len, STATUS_MAX_NODES, jerr,
			   sizeof(jerr)) < 0) {
		snprintf(err, errlen, "bad reply from epochd: %s", jerr);
		return -1;
	}
	r = &doc.v[0];
	if (reply_ok(&doc, r, &ok, err, errlen) < 0)
		goto out;
	if (!ok) {
		if (get_str(&doc, r, "error", jerr, sizeof(jerr), true, err,
			    errlen) == 0) {
			snprintf(err, errlen, "%s", jerr);
			rc = 1;
		}
		goto out;
	}
	t = ctl_json_get(&doc, r, "tunnels");
	if (t == NULL || t->type != CTL_JSON_ARRAY) {
		snprintf(err, errlen, "bad reply from epochd: no \"tunnels\"");
		goto out;
	}
	st = calloc(t->n ? t->n : 1, sizeof(*st));
	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	i = 0;
	for (int m = t->first; m >= 0; m = doc.v[m].next, i++) {
		if (ctl_status_parse(&doc, &doc.v[m], &st[i], jerr,
				     sizeof(jerr)) < 0) {
			snprintf(err, errlen, "bad reply from epochd: tunnel "
				 "%zu: %s", i + 1, jerr);
			free(st);
			st = NULL;
			goto out;
		}
	}
	*out = st;
	*n = t->n;
	rc = 0;
out:
	ctl_json_free(&doc);
	return rc;
}

static void put_dur(struct ctl_buf *b, uint64_t d)
{
	if (d < 60)
		ctl_buf_printf(b, "%llus", (unsigned long long)d);
	else if (d < 3600)
		ctl_buf_printf(b, "%llum%02llus", (unsigned long long)d / 60,
			       (unsigned long long)d % 60);
	else if (d < 86400)
		ctl_buf_printf(b, "%lluh%02llum", (unsigned long long)d / 3600,
			       (unsigned long long)d % 3600 / 60);
	else
		ctl_buf_printf(b, "%llud%02lluh",
			       (unsigned long long)d / 86400,
			       (unsigned long long)d % 86400 / 3600);
}

static void put_spi(struct ctl_buf *b, uint32_t spi)
{
	if (spi == 0)
		ctl_buf_puts(b, "-");
	else
		ctl_buf_printf(b, "0x%08x", spi);
}

void ctl_status_table(struct ctl_buf *b, const struct ctl_status *st,
		      size_t n, uint64_t now)
{
	if (n == 0) {
		ctl_buf_puts(b, "no tunnels\n");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ctl_status *s = &st[i];

		if (i > 0)
			ctl_buf_puts(b, "\n");
		ctl_buf_printf(b, "tunnel %s\n", s->name);
		ctl_buf_printf(b, "  state        %s (%s)\n",
			       ctl_state_name(s->state),
			       ctl_role_name(s->role));
		ctl_buf_printf(b, "  peer         %s\n", s->peer);
		ctl_buf_printf(b, "  epoch        %llu\n",
			       (unsigned long long)s->epoch);
		ctl_buf_printf(b, "  suite        %s\n", s->suite);
		ctl_buf_printf(b, "  esp          %s\n", s->esp);
		ctl_buf_puts(b, "  spi          in ");
		put_spi(b, s->spi_in);
		ctl_buf_puts(b, ", out ");
		put_spi(b, s->spi_out);
		ctl_buf_printf(b, "\n  received     %llu bytes, %llu packets\n",
			       (unsigned long long)s->bytes_in,
			       (unsigned long long)s->packets_in);
		ctl_buf_printf(b, "  sent         %llu bytes, %llu packets\n",
			       (unsigned long long)s->bytes_out,
			       (unsigned long long)s->packets_out);
		ctl_buf_puts(b, "  last rekey   ");
		if (s->last_rekey == 0) {
			ctl_buf_puts(b, "never");
		} else {
			put_dur(b, now > s->last_rekey ? now - s->last_rekey
						       : 0);
			ctl_buf_printf(b, " ago (%s)",
				       ctl_trigger_name(s->last_trigger));
		}
		ctl_buf_puts(b, "\n  next rekey   ");
		if (s->next_rekey == 0) {
			ctl_buf_puts(b, "not scheduled");
		} else if (s->next_rekey <= now) {
			ctl_buf_puts(b, "due");
		} else {
			ctl_buf_puts(b, "in ");
			put_dur(b, s->next_rekey - now);
		}
		ctl_buf_printf(b, "\n  retransmits  %llu\n",
			       (unsigned long long)s->retransmits);
	}
}

/* ---- events -------------------------------------------------------------- */

void ctl_event_json(struct ctl_buf *b, const struct ctl_event *ev)
{
	ctl_buf_puts(b, "{");
	ctl_json_put_key(b, "event", true);
	ctl_json_put_str(b, ctl_event_name(ev->type));
	put_u64(b, "time", ev->time);
	if (ev->type != CTL_EVENT_RELOAD)
		put_str(b, "tunnel", ev->tunnel);
	switch (ev->type) {
	case CTL_EVENT_UP:
	case CTL_EVENT_REKEY:
		put_u64(b, "epoch", ev->epoch);
		put_u64(b, "spi_in", ev->spi_in);
		put_u64(b, "spi_out", ev->spi_out);
		if (ev->type == CTL_EVENT_REKEY)
			put_str(b, "trigger", ctl_trigger_name(ev->trigger));
		break;
	case CTL_EVENT_REJECTED:
		put_str(b, "peer", ev->peer);
		put_str(b, "reason", ev->reason);
		break;
	default:
		put_str(b, "reason", ev->reason);
		break;
	}
	ctl_buf_puts(b, "}\n");
}

/* ---- server side --------------------------------------------------------- */

static int sun_of(const char *path, struct sockaddr_un *sa, char *err,
		  size_t errlen)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (path[0] == '\0' || strlen(path) >= sizeof(sa->sun_path)) {
		snprintf(err, errlen, "control socket path is empty or "
			 "longer than %zu bytes: %s", sizeof(sa->sun_path) - 1,
			 path);
		return -1;
	}
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

int ctl_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat stt;
	int fd;

	if (sun_of(path, &sa, err, errlen) < 0)
		return -1;
	if (lstat(path, &stt) == 0) {
		int probe;

		if (!S_ISSOCK(stt.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket; "
				 "refusing to replace it", path);
			return -1;
		}
		/* A socket: in use by a running daemon, or stale. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			return -1;
		}
		if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			snprintf(err, errlen, "%s is in use (is another epochd "
				 "running?)", path);
			return -1;
		}
		if (errno != ECONNREFUSED) {
			snprintf(err, errlen, "cannot probe %s: %s", path,
				 strerror(errno));
			close(probe);
			return -1;
		}
		close(probe);
		if (unlink(path) < 0 && errno != ENOENT) {
			snprintf(err, errlen, "cannot remove stale socket %s: "
				 "%s", path, strerror(errno));
			return -1;
		}
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "cannot bind %s: %s", path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	/* The socket file is created with the umask's mode; set 0660 before
	 * listen(), so no connection is accepted under other permissions. */
	if (chmod(path, 0660) < 0 || listen(fd, 16) < 0) {
		snprintf(err, errlen, "cannot set up %s: %s", path,
			 strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

void ctl_unlink(const char *path)
{
	struct stat stt;

	if (lstat(path, &stt) == 0 && S_ISSOCK(stt.st_mode))
		unlink(path);
}

void ctl_client_init(struct ctl_client *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	ctl_buf_init(&c->out, 2 * CTL_OUT_MAX);
}

int ctl_accept(int listen_fd, struct ctl_client *c, char *err,
	       size_t errlen)
{
	int fd;

	for (;;) {
		fd = accept4(listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		snprintf(err, errlen, "accept: %s", strerror(errno));
		return -1;
	}
	ctl_client_init(c, fd);
	return 1;
}

void ctl_client_close(struct ctl_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	ctl_buf_free(&c->out);
	c->out_off = 0;
	c->in_len = 0;
}

void ctl_client_read(struct ctl_client *c)
{
	while (!c->eof && !c->dead && c->in_len < sizeof(c->in)) {
		ssize_t n = read(c->fd, c->in + c->in_len,
				 sizeof(c->in) - c->in_len);

		if (n > 0) {
			c->in_len += (size_t)n;
		} else if (n == 0) {
			c->eof = true;
		} else if (errno == EINTR) {
			continue;
		} else {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = true;
			break;
		}
	}
}

static void queue_error(struct ctl_client *c, const char *msg)
{
	struct ctl_buf b;

	ctl_buf_init(&b, CTL_REQ_MAX);
	ctl_reply_error(&b, msg);
	if (!b.err)
		ctl_client_queue(c, &b);
	ctl_buf_free(&b);
}

int ctl_client_next(struct ctl_client *c, struct ctl_request *req)
{
	char err[CTL_ERR_MAX];

	while (!c->dead) {
		char *nl = memchr(c->in, '\n', c->in_len);
		size_t len, used;

		if (nl == NULL) {
			if (c->discard) {
				c->in_len = 0;
				return 0;
			}
			if (c->in_len == sizeof(c->in)) {
				snprintf(err, sizeof(err), "request too long "
					 "(limit %d bytes)", CTL_REQ_MAX);
				queue_error(c, err);
				c->discard = true;
				c->in_len = 0;
				return 0;
			}
			if (!c->eof || c->in_len == 0)
				return 0;
			/* the last request, without its newline */
			len = c->in_len;
			used = c->in_len;
		} else {
			len = (size_t)(nl - c->in);
			used = len + 1;
		}
		if (c->discard) {
			c->discard = false;
			memmove(c->in, c->in + used, c->in_len - used);
			c->in_len -= used;
			continue;
		}
		if (ctl_request_parse(c->in, len, req, err, sizeof(err)) < 0) {
			queue_error(c, err);
		} else if (c->watching) {
			queue_error(c, "no requests after watch");
		} else {
			memmove(c->in, c->in + used, c->in_len - used);
			c->in_len -= used;
			return 1;
		}
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
	}
	return 0;
}

void ctl_client_queue(struct ctl_client *c, const struct ctl_buf *b)
{
	if (c->dead || b->len == 0)
		return;
	if (c->out_off > 0) {
		ctl_buf_consume(&c->out, c->out_off);
		c->out_off = 0;
	}
	if (b->err || c->out.len > CTL_OUT_MAX ||
	    b->len > CTL_OUT_MAX - c->out.len) {
		c->dead = true;
		return;
	}
	ctl_buf_add(&c->out, b->p, b->len);
	if (c->out.err)
		c->dead = true;
}

bool ctl_client_flush(struct ctl_client *c)
{
	while (!c->dead && c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off,
				 c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			c->out_off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			if (n == 0 || (errno != EAGAIN &&
				       errno != EWOULDBLOCK))
				c->dead = true;
			break;
		}
	}
	if (c->out_off == c->out.len) {
		c->out.len = 0;
		c->out_off = 0;
	}
	return !c->dead && c->out_off < c->out.len;
}

bool ctl_client_done(const struct ctl_client *c)
{
	return c->dead || (c->eof && c->in_len == 0 &&
			   c->out_off >= c->out.len);
}

/* ---- client side --------------------------------------------------------- */

int ctl_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	int fd, e;

	if (sun_of(path, &sa, err, errlen) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		snprintf(err, errlen, "cannot connect to %s: %s%s", path,
			 strerror(e),
			 e == ENOENT || e == ECONNREFUSED
				 ? " (is epochd running?)" : "");
		close(fd);
		return -1;
	}
	return fd;
}

int ctl_read_line(int fd, struct ctl_buf *acc, size_t *line_len, char *err,
		  size_t errlen)
{
	for (;;) {
		char *nl = acc->len ? memchr(acc->p, '\n', acc->len) : NULL;
		size_t room;
		ssize_t n;

		if (nl != NULL) {
			*nl = '\0';
			*line_len = (size_t)(nl - acc->p);
			return 1;
		}
		if (acc->len >= acc->limit) {
			snprintf(err, errlen, "reply longer than %zu bytes",
				 acc->limit);
			return -1;
		}
		room = acc->limit - acc->len;
		if (room > 65536)
			room = 65536;
		if (!buf_reserve(acc, room)) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		n = read(fd, acc->p + acc->len, room);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "read from epochd: %s",
				 strerror(errno));
			return -1;
		}
		if (n == 0) {
			if (acc->len == 0)
				return 0;
			snprintf(err, errlen, "epochd closed the connection "
				 "in the middle of a reply");
			return -1;
		}
		acc->len += (size_t)n;
		acc->p[acc->len] = '\0';
	}
}
