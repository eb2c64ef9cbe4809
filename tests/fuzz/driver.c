/* Standalone driver for a libFuzzer target, so the corpus is a regression
 * test in every unit run (and under the sanitizers) without libFuzzer.
 *
 * build/tests/fuzz_<name> [file or directory ...]
 *
 * Without arguments it replays every file of tests/fuzz/corpus/<name>/
 * (<name> from the program's own name; run from the tree root), one test
 * case per file, then feeds FUZZ_DRIVER_RUNS (default 4000, or the
 * target's fuzz_driver_runs) deterministic pseudo-random inputs: random
 * bytes and mutations of the corpus files (bit flips, truncation,
 * splices). A broken invariant aborts the program,
 * which the runner counts as a failure.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"
#include "tests/lib/test.h"

/* A target whose inputs are slow may define fuzz_driver_runs (fuzz.h). */
extern const long fuzz_driver_runs __attribute__((weak));

#define DRIVER_MAX_INPUT 4096
#define DRIVER_MAX_FILES 512

struct corpus {
	uint8_t *data[DRIVER_MAX_FILES];
	size_t len[DRIVER_MAX_FILES];
	size_t n;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_file(struct corpus *c, const char *path)
{
	size_t len = 0;
	char *buf;

	test_begin("corpus %s", path);
	buf = test_read_file(path, &len);
	if (buf == NULL) {
		test_fail(__FILE__, __LINE__, "cannot read %s: %s", path,
			  strerror(errno));
		test_end();
		return;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	test_end();
	if (c->n < DRIVER_MAX_FILES && len <= DRIVER_MAX_INPUT) {
		c->data[c->n] = (uint8_t *)buf;
		c->len[c->n++] = len;
	} else {
		free(buf);
	}
}

/* Files of a directory in name order, so runs are reproducible. */
static int run_dir(struct corpus *c, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *names[DRIVER_MAX_FILES];
	size_t n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL && n < DRIVER_MAX_FILES) {
		char path[4096];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			names[n++] = strdup(path);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (names[i] != NULL)
			run_file(c, names[i]);
		free(names[i]);
	}
	return (int)n;
}

static void run_random(const struct corpus *c, const char *name)
{
	const char *env = getenv("FUZZ_DRIVER_RUNS");
	long runs = env != NULL ? strtol(env, NULL, 10) :
		    &fuzz_driver_runs != NULL ? fuzz_driver_runs : 4000;
	struct test_rng rng;
	uint8_t buf[DRIVER_MAX_INPUT], r[8];

	test_rng_init(&rng, name);
	test_begin("%ld pseudo-random inputs", runs);
	for (long i = 0; i < runs; i++) {
		size_t len;

		crypto_random(&rng.rng, r, sizeof(r));
		if (c->n == 0 || r[0] % 4 == 0) {
			/* fresh random bytes, mostly short */
			len = (size_t)(r[1] | r[2] << 8) % (r[3] % 8 == 0 ? 1024 : 96);
			crypto_random(&rng.rng, buf, len);
		} else {
			/* a mutated corpus entry */
			size_t k = (size_t)(r[1] | r[2] << 8) % c->n;
			unsigned flips = r[3] % 4;

			len = c->len[k];
			memcpy(buf, c->data[k], len);
			for (unsigned f = 0; f < flips && len > 0; f++) {
				uint8_t pos[3];

				crypto_random(&rng.rng, pos, sizeof(pos));
				buf[(size_t)(pos[0] | pos[1] << 8) % len] ^=
					(uint8_t)(1u << (pos[2] % 8));
			}
			switch (r[4] % 4) {
			case 0: /* truncate */
				if (len > 0)
					len = (size_t)r[5] % (len + 1);
				break;
			case 1: /* append random bytes */
				{
					size_t extra = r[5] % 64;

					if (len + extra > sizeof(buf))
						extra = sizeof(buf) - len;
					crypto_random(&rng.rng, buf + len, extra);
					len += extra;
				}
				break;
			case 2: /* splice: tail of another entry */
				{
					size_t j = (size_t)r[6] % c->n;
					size_t cut = len > 0 ? (size_t)r[5] % len : 0;
					size_t tail = c->len[j];

					if (cut + tail > sizeof(buf))
						tail = sizeof(buf) - cut;
					memcpy(buf + cut, c->data[j], tail);
					len = cut + tail;
				}
				break;
			default: /* flips only */
				break;
			}
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	test_end();
}

int main(int argc, char **argv)
{
	struct corpus c = { { NULL }, { 0 }, 0 };
	const char *base = strrchr(argv[0], '/');
	const char *name;
	char dir[512];

	base = base != NULL ? base + 1 : argv[0];
	name = strncmp(base, "fuzz_", 5) == 0 ? base + 5 : base;
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (run_dir(&c, argv[i]) < 0)
				run_file(&c, argv[i]);
	} else {
		snprintf(dir, sizeof(dir), "tests/fuzz/corpus/%s", name);
		if (run_dir(&c, dir) <= 0) {
			/* every target ships seed inputs */
			test_begin("corpus %s", dir);
			test_fail(__FILE__, __LINE__,
				  "no seed files in %s (run from the tree root)",
				  dir);
			test_end();
		}
	}
	run_random(&c, base);
	for (size_t i = 0; i < c.n; i++)
		free(c.data[i]);
	return test_main_end(argv[0]);
}
