#include "tests/lib/test.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned n_passed, n_failed, n_skipped;
static unsigned case_failures;
static char case_name[256];
static int in_case;

void test_begin(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(case_name, sizeof(case_name), fmt, ap);
	va_end(ap);
	case_failures = 0;
	in_case = 1;
}

int test_end(void)
{
	int ok = case_failures == 0;

	if (ok) {
		n_passed++;
		test_note("PASS %s", case_name);
	} else {
		n_failed++;
	}
	in_case = 0;
	return ok;
}

void test_run(const char *name, void (*fn)(void))
{
	test_begin("%s", name);
	fn();
	test_end();
}

void test_skip(const char *name, const char *reason)
{
	n_skipped++;
	printf("SKIP %s: %s\n", name, reason);
}

int test_main_end(const char *prog)
{
	const char *base = strrchr(prog, '/');

	base = base ? base + 1 : prog;
	if (n_skipped)
		printf("%s: %u passed, %u failed, %u skipped\n", base, n_passed,
		       n_failed, n_skipped);
	else
		printf("%s: %u passed, %u failed\n", base, n_passed, n_failed);
	fflush(stdout);
	return n_failed == 0 && (n_passed + n_skipped) > 0 ? 0 : 1;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	/* A failure outside any case still counts (as its own case). */
	if (!in_case) {
		n_failed++;
		snprintf(case_name, sizeof(case_name), "(outside a case)");
	}
	case_failures++;
	printf("FAIL %s: %s:%d: ", case_name, file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

unsigned test_case_failures(void)
{
	return in_case ? case_failures : 0;
}

void test_note(const char *fmt, ...)
{
	va_list ap;

	if (getenv("TEST_VERBOSE") == NULL)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

int test_check_rc(int got, int want, const char *expr, const char *file,
		  int line)
{
	if (got == want)
		return 1;
	test_fail(file, line, "%s returned %s (%d), expected %s", expr,
		  result_name(got), got, result_name(want));
	return 0;
}

int test_check_mem(const void *got, const void *want, size_t n,
		   const char *expr, const char *file, int line)
{
	char g[2 * 48 + 1], w[2 * 48 + 1];
	size_t show = n > 48 ? 48 : n, i;

	/* n == 0 always matches; memcmp must not see NULL pointers then */
	if (n == 0 || memcmp(got, want, n) == 0)
		return 1;
	for (i = 0; i < n && ((const uint8_t *)got)[i] ==
				     ((const uint8_t *)want)[i]; i++)
		;
	snprintf(g, sizeof(g), "%s", test_tohex(got, show));
	snprintf(w, sizeof(w), "%s", test_tohex(want, show));
	test_fail(file, line, "%s differs at byte %zu of %zu\n  got  %s%s\n  want %s%s",
		  expr, i, n, g, n > show ? "..." : "", w, n > show ? "..." : "");
	return 0;
}

int test_check_u64(uint64_t got, uint64_t want, const char *expr,
		   const char *file, int line)
{
	if (got == want)
		return 1;
	test_fail(file, line, "%s = %llu, expected %llu", expr,
		  (unsigned long long)got, (unsigned long long)want);
	return 0;
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

int test_hex(const char *hex, struct test_bytes *out)
{
	size_t n = strlen(hex), i;

	out->p = NULL;
	out->len = 0;
	if (n % 2)
		return -1;
	out->p = malloc(n / 2 + 1);
	if (out->p == NULL)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			test_bytes_free(out);
			return -1;
		}
		out->p[i] = (uint8_t)(hi << 4 | lo);
	}
	out->len = n / 2;
	return 0;
}

int test_hex_fixed(const char *hex, uint8_t *out, size_t want)
{
	struct test_bytes b;

	if (test_hex(hex, &b) != 0)
		return -1;
	if (b.len != want) {
		test_bytes_free(&b);
		return -1;
	}
	memcpy(out, b.p, want);
	test_bytes_free(&b);
	return 0;
}

void test_bytes_free(struct test_bytes *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

char *test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

const char *test_tohex(const uint8_t *p, size_t n)
{
	static char buf[2 * 4096 + 1];
	static const char digits[] = "0123456789abcdef";
	size_t i;

	if (n > 4096)
		n = 4096;
	for (i = 0; i < n; i++) {
		buf[2 * i] = digits[p[i] >> 4];
		buf[2 * i + 1] = digits[p[i] & 15];
	}
	buf[2 * n] = '\0';
	return buf;
}

static int test_rng_fill(void *ctx, uint8_t *out, size_t n)
{
	struct test_rng *t = ctx;

	return crypto_xof_squeeze(&t->xof, out, n);
}

void test_rng_init(struct test_rng *t, const char *seed)
{
	crypto_xof_init(&t->xof, CRYPTO_SHAKE128);
	crypto_xof_absorb(&t->xof, (const uint8_t *)seed, strlen(seed));
	t->rng.fill = test_rng_fill;
	t->rng.ctx = t;
}
