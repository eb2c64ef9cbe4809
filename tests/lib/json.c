#include "tests/lib/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const char *s;
	size_t len, pos;
	int depth;
};

static void ws(struct parser *p)
{
	while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]) != NULL &&
	       p->s[p->pos] != '\0')
		p->pos++;
}

static struct json *node(enum json_type t)
{
	struct json *j = calloc(1, sizeof(*j));

	if (j)
		j->type = t;
	return j;
}

static int push(struct json *j, char *key, struct json *v)
{
	struct json **items = realloc(j->items, (j->n + 1) * sizeof(*items));
	char **keys;

	if (items == NULL)
		return -1;
	j->items = items;
	if (j->type == JSON_OBJECT) {
		keys = realloc(j->keys, (j->n + 1) * sizeof(*keys));
		if (keys == NULL)
			return -1;
		j->keys = keys;
		j->keys[j->n] = key;
	}
	j->items[j->n++] = v;
	return 0;
}

static void put_utf8(char *out, size_t *o, unsigned cp)
{
	if (cp < 0x80) {
		out[(*o)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*o)++] = (char)(0xc0 | cp >> 6);
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*o)++] = (char)(0xe0 | cp >> 12);
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	}
}

static char *parse_string(struct parser *p)
{
	size_t start, o = 0;
	char *out;

	if (p->pos >= p->len || p->s[p->pos] != '"')
		return NULL;
	start = ++p->pos;
	while (p->pos < p->len && p->s[p->pos] != '"') {
		if (p->s[p->pos] == '\\')
			p->pos++;
		p->pos++;
	}
	if (p->pos >= p->len)
		return NULL;
	out = malloc(p->pos - start + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = start; i < p->pos; i++) {
		char c = p->s[i];

		if (c != '\\') {
			out[o++] = c;
			continue;
		}
		c = p->s[++i];
		switch (c) {
		case 'n': out[o++] = '\n'; break;
		case 't': out[o++] = '\t'; break;
		case 'r': out[o++] = '\r'; break;
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'u': {
			unsigned cp = 0;

			if (i + 4 >= p->pos) {
				free(out);
				return NULL;
			}
			for (int k = 0; k < 4; k++) {
				char h = p->s[++i];

				cp = cp * 16 + (unsigned)(h >= 'a' ? h - 'a' + 10
						: h >= 'A' ? h - 'A' + 10 : h - '0');
			}
			put_utf8(out, &o, cp);
			break;
		}
		default: out[o++] = c; break;
		}
	}
	out[o] = '\0';
	p->pos++;
	return out;
}

static struct json *parse_value(struct parser *p);

static struct json *parse_container(struct parser *p, int object)
{
	struct json *j = node(object ? JSON_OBJECT : JSON_ARRAY);
	char close = object ? '}' : ']';

	if (j == NULL || ++p->depth > 64)
		goto fail;
	p->pos++;
	ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		p->depth--;
		return j;
	}
	for (;;) {
		char *key = NULL;
		struct json *v;

		ws(p);
		if (object) {
			key = parse_string(p);
			if (key == NULL)
				goto fail;
			ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':') {
				free(key);
				goto fail;
			}
			p->pos++;
		}
		v = parse_value(p);
		if (v == NULL || push(j, key, v) != 0) {
			free(key);
			json_free(v);
			goto fail;
		}
		ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == close) {
			p->pos++;
			p->depth--;
			return j;
		}
		goto fail;
	}
fail:
	json_free(j);
	return NULL;
}

static struct json *parse_value(struct parser *p)
{
	struct json *j;
	size_t start;

	ws(p);
	if (p->pos >= p->len)
		return NULL;
	switch (p->s[p->pos]) {
	case '{': return parse_container(p, 1);
	case '[': return parse_container(p, 0);
	case '"':
		j = node(JSON_STRING);
		if (j && (j->str = parse_string(p)) == NULL) {
			free(j);
			j = NULL;
		}
		return j;
	}
	if (p->len - p->pos >= 4 && memcmp(p->s + p->pos, "null", 4) == 0) {
		p->pos += 4;
		return node(JSON_NULL);
	}
	if (p->len - p->pos >= 4 && memcmp(p->s + p->pos, "true", 4) == 0) {
		p->pos += 4;
		j = node(JSON_BOOL);
		if (j)
			j->boolean = 1;
		return j;
	}
	if (p->len - p->pos >= 5 && memcmp(p->s + p->pos, "false", 5) == 0) {
		p->pos += 5;
		return node(JSON_BOOL);
	}
	start = p->pos;
	while (p->pos < p->len && strchr("+-0123456789.eE", p->s[p->pos]) &&
	       p->s[p->pos] != '\0')
		p->pos++;
	if (p->pos == start)
		return NULL;
	j = node(JSON_NUMBER);
	if (j == NULL)
		return NULL;
	j->str = strndup(p->s + start, p->pos - start);
	if (j->str == NULL) {
		free(j);
		return NULL;
	}
	j->number = strtod(j->str, NULL);
	return j;
}

struct json *json_parse(const char *text, size_t len)
{
	struct parser p = { text, len, 0, 0 };
	struct json *j = parse_value(&p);

	ws(&p);
	if (j == NULL || p.pos != p.len) {
		fprintf(stderr, "json: parse error near byte %zu\n", p.pos);
		json_free(j);
		return NULL;
	}
	return j;
}

struct json *json_parse_file(const char *path)
{
	size_t len;
	char *text = test_read_file(path, &len);
	struct json *j;

	if (text == NULL) {
		fprintf(stderr, "json: cannot read %s\n", path);
		return NULL;
	}
	j = json_parse(text, len);
	free(text);
	return j;
}

void json_free(struct json *j)
{
	if (j == NULL)
		return;
	for (size_t i = 0; i < j->n; i++) {
		json_free(j->items[i]);
		if (j->keys)
			free(j->keys[i]);
	}
	free(j->items);
	free(j->keys);
	free(j->str);
	free(j);
}

const struct json *json_get(const struct json *j, const char *key)
{
	if (j == NULL || j->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < j->n; i++)
		if (strcmp(j->keys[i], key) == 0)
			return j->items[i];
	return NULL;
}

const char *json_str(const struct json *j)
{
	return j != NULL && j->type == JSON_STRING ? j->str : NULL;
}

const char *json_get_str(const struct json *j, const char *key)
{
	return json_str(json_get(j, key));
}

int json_get_u64(const struct json *j, const char *key, uint64_t *out)
{
	const struct json *v = json_get(j, key);
	char *end;

	if (v == NULL || v->type != JSON_NUMBER || v->str[0] < '0' ||
	    v->str[0] > '9')
		return -1;
	errno = 0;
	*out = strtoull(v->str, &end, 10);
	/* out of range is an error, not a silently clamped ULLONG_MAX */
	return *end == '\0' && errno == 0 ? 0 : -1;
}

int json_get_hex(const struct json *j, const char *key,
		 struct test_bytes *out)
{
	const char *s = json_get_str(j, key);

	if (s == NULL)
		return -1;
	return test_hex(s, out);
}
