/* Key erasure, shown (issue 7): the two daemons of daemon_harness.h run
 * tunnel t1 through REKEYS (default 20) rekeys, triggered alternately on
 * gw1 and gw2; midway gw2 is killed with SIGKILL and resumes from its
 * state file. Before each rollover the test reads the ESP keys of every
 * SA of the tunnel from both kernels (ip xfrm state); the daemons are the
 * test build of make keyscan (BUILD/keyscan/bin/epochd, -DEPOCHD_TEST_
 * SECRETS), which appends every epoch's MLS secrets to a file
 * (daemon/test_secrets.h). After the last rekey the test waits until the
 * old SAs are gone from both kernels (their grace period ended), dumps the
 * memory of every epochd process with gcore and searches each core for
 *  - every old ESP key (the key without its 4-byte salt: key || salt
 *    contains it, and the salt alone is too short to mean anything);
 *  - every secret of every old epoch (epoch_secret, encryption_secret,
 *    exporter_secret, init_secret, ..., the HPKE private keys of the
 *    tree) that is not also a secret of the current epoch (a member's
 *    leaf key stays the same across the epochs the other member commits).
 * None may be found. The scan is shown to work on the same cores: every
 * MLS secret of the current epoch the group keeps must be found in each
 * gateway's cores. Whether the current ESP keys are there is reported:
 * the daemon wipes them once the kernel has them, so they should not be.
 * It prints
 *   ERASURE rekeys=N old_keys=N found=0 old_secrets=N found=0
 *           current_found=yes cores=N ...
 * and, for anything found, where (core, file offset, address, mapping).
 *
 * A second case checks that the normal build's epochd has no trace of the
 * hook (its environment variable name) while the test build's has.
 *
 * usage: test_daemon_erasure SITE1 GW1 GW2 SITE2 (as root where ESP works;
 * tests/e2e/run.sh runs it; needs gdb's gcore)
 * environment: REKEYS (count), ERASURE_RESTART (the restart of gw2 after
 * that many rekeys, default half of them; 0: none), ERASURE_KEEP_CORES=1
 * (leave the cores in the log directory).
 */
#include "tests/e2e/daemon_harness.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/test.h"

#define REKEY_MS 60000
#define GRACE_MS 120000
#define MARKER "EPOCHD_TEST_SECRETS_FILE" /* daemon/test_secrets.h */
#define NEEDLE_MAX 4096
#define PROC_MAX 16
#define GCORE "/usr/bin/gcore"

static struct dh_env env;
static struct dh_env *const E = &env;
static int n_rekeys = 20, restart_at = 10;
static char keyscan[PATH_MAX], normal[PATH_MAX];

/* ---- what is searched ---------------------------------------------------- */

enum kind { K_ESP, K_SECRET };

struct needle {
	enum kind kind;
	uint8_t b[128];
	size_t n;
	uint64_t epoch;       /* first epoch it was seen in */
	char what[48];        /* secret name, or "spi 0x... dst ..." */
	uint32_t spi;         /* ESP: the SA's SPI */
	bool current;         /* also a secret / key of the current epoch */
	int found[PROC_MAX];  /* hits per core */
	long off;             /* first hit's file offset */
	int off_core;
};

static struct needle nd[NEEDLE_MAX];
static size_t n_nd;

static struct needle *needle_find(enum kind k, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n_nd; i++)
		if (nd[i].kind == k && nd[i].n == n && !memcmp(nd[i].b, b, n))
			return &nd[i];
	return NULL;
}

/* Adds (or finds) a needle; NULL when full or too long. */
static struct needle *needle_add(enum kind k, const uint8_t *b, size_t n,
				 uint64_t epoch, const char *what)
{
	struct needle *x = needle_find(k, b, n);

	if (x)
		return x;
	if (n_nd == NEEDLE_MAX || n > sizeof(nd[0].b) || n < 16)
		return NULL;
	x = &nd[n_nd++];
	memset(x, 0, sizeof(*x));
	x->kind = k;
	memcpy(x->b, b, n);
	x->n = n;
	x->epoch = epoch;
	snprintf(x->what, sizeof(x->what), "%s", what);
	x->off = -1;
	return x;
}

static int unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = strlen(h), i;

	if (n % 2 || n / 2 > cap)
		return -1;
	for (i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return (int)i;
}

/* ---- ESP keys from the kernels ------------------------------------------ */

struct sa_key {
	uint32_t spi;
	char dst[64];
	uint8_t key[64];
	size_t n;         /* without the salt */
};

/* The ESP SAs of the tunnel (reqid of the automatic range) in gateway gw
 * with their keys. Returns the number, or -1. */
static int kernel_keys(int gw, struct sa_key *v, int cap)
{
	char cmd[256], line[1024], src[64] = "", dst[64] = "";
	bool ours = false;
	uint32_t spi = 0;
	int n = 0, bad = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ip -n %s xfrm state list", E->ns_gw[gw]);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		unsigned long s, reqid;
		char alg[128], hex[300];
		unsigned bits;
		int len;

		if (sscanf(line, "src %63s dst %63s", src, dst) == 2) {
			ours = false;
			continue;
		}
		if (sscanf(line, " proto esp spi 0x%lx reqid %lu", &s,
			   &reqid) == 2) {
			ours = reqid >= DH_REQID_LO && reqid <= DH_REQID_HI;
			spi = (uint32_t)s;
			continue;
		}
		if (!ours || sscanf(line, " aead %127s 0x%299s %u", alg, hex,
				    &bits) != 3)
			continue;
		if (n == cap) {
			bad = 1;
			break;
		}
		len = unhex(hex, v[n].key, sizeof(v[n].key));
		/* rfc4106(gcm(aes)) and rfc7539esp(chacha20,poly1305):
		 * the last 4 bytes are the salt. */
		if (len < 20) {
			printf("  %s: cannot read the key of spi 0x%08x: "
			       "%s", E->ns_gw[gw], spi, line);
			bad = 1;
			continue;
		}
		v[n].n = (size_t)len - 4;
		v[n].spi = spi;
		snprintf(v[n].dst, sizeof(v[n].dst), "%s", dst);
		n++;
		ours = false;
	}
	if (pclose(p) != 0 || bad)
		return -1;
	return n;
}

/* Reads both kernels' keys into the needles (epoch: the tunnel's now).
 * Returns the number of SAs read, or -1. */
static int record_keys(uint64_t epoch)
{
	struct sa_key v[32];
	int total = 0;

	for (int gw = 0; gw < 2; gw++) {
		int n = kernel_keys(gw, v, 32);

		if (n < 2) {
			test_fail(__FILE__, __LINE__,
				  "%s: %d ESP SAs with keys", E->ns_gw[gw], n);
			return -1;
		}
		for (int i = 0; i < n; i++) {
			char what[48];
			struct needle *x;

			snprintf(what, sizeof(what), "spi 0x%08x dst %s",
				 v[i].spi, v[i].dst);
			x = needle_add(K_ESP, v[i].key, v[i].n, epoch, what);
			if (!x) {
				test_fail(__FILE__, __LINE__, "too many keys");
				return -1;
			}
			x->spi = v[i].spi;
		}
		total += n;
	}
	return total;
}

/* ---- the secrets file of the test build ---------------------------------- */

/* Reads the file: every secret becomes a needle; those of epoch `cur` are
 * marked current. epochs_seen[e] counts epoch_secret lines of epoch e.
 * Returns the number of lines, or -1. */
static int record_secrets(const char *path, uint64_t cur, int *epochs_seen,
			  size_t n_epochs)
{
	char line[600], tun[64], name[48], hex[300];
	unsigned long long ep;
	int lines = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		test_fail(__FILE__, __LINE__, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		uint8_t b[128];
		struct needle *x;
		int n;

		if (sscanf(line, "%63s %llu %47s %299s", tun, &ep, name,
			   hex) != 4 ||
		    (n = unhex(hex, b, sizeof(b))) < 16) {
			test_fail(__FILE__, __LINE__, "%s: bad line '%s'",
				  path, line);
			fclose(f);
			return -1;
		}
		lines++;
		x = needle_add(K_SECRET, b, (size_t)n, ep, name);
		if (!x) {
			test_fail(__FILE__, __LINE__, "too many secrets");
			fclose(f);
			return -1;
		}
		if (ep == cur)
			x->current = true;
		if (!strcmp(name, "epoch_secret") && ep < n_epochs)
			epochs_seen[ep]++;
	}
	fclose(f);
	return lines;
}

/* ---- cores --------------------------------------------------------------- */

struct core {
	pid_t pid;
	int gw;              /* whose namespace, -1 unknown */
	char path[PATH_MAX];
	char *maps;          /* /proc/PID/maps before the dump */
	uint8_t *buf;
	size_t len;
};

/* Every process whose executable is the test epochd (the same file: in
 * the VM the link reads /host/...). */
static int find_daemons(struct core *c, int cap)
{
	struct stat want, st;
	char link[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (stat(keyscan, &want) != 0)
		return -1;
	d = opendir("/proc");
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		snprintf(link, sizeof(link), "/proc/%ld/exe", pid);
		if (stat(link, &st) != 0 || st.st_dev != want.st_dev ||
		    st.st_ino != want.st_ino)
			continue;
		if (n == cap)
			break;
		memset(&c[n], 0, sizeof(c[n]));
		c[n].pid = (pid_t)pid;
		c[n].gw = -1;
		for (int gw = 0; gw < 2; gw++)
			if (E->d[gw].pid == (pid_t)pid)
				c[n].gw = gw;
		n++;
	}
	closedir(d);
	return n;
}

static char *slurp(const char *path, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (!b || fd < 0) {
		free(b);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t k;

		if (n + 1 == cap) {
			char *nb = realloc(b, cap * 2);

			if (!nb)
				break;
			b = nb;
			cap *= 2;
		}
		k = read(fd, b + n, cap - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	b[n] = 0;
	if (len)
		*len = n;
	return b;
}

/* Which gateway a pid belongs to when it is not one the harness started
 * (a child of one): its parent chain. */
static int gw_of(pid_t pid)
{
	for (int depth = 0; depth < 8 && pid > 1; depth++) {
		char path[64], *s, *p;
		long ppid;

		for (int gw = 0; gw < 2; gw++)
			if (E->d[gw].pid == pid)
				return gw;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		s = slurp(path, NULL);
		if (!s)
			return -1;
		p = strrchr(s, ')');
		if (!p || sscanf(p + 1, " %*c %ld", &ppid) != 1) {
			free(s);
			return -1;
		}
		free(s);
		pid = (pid_t)ppid;
	}
	return -1;
}

/* gcore of c->pid into the run directory; everything the kernel would put
 * in a core and the written pages of file mappings (coredump_filter
 * 0x37). 0 or -1. */
static int dump(struct core *c)
{
	char path[64], prefix[PATH_MAX - 16], out[65536];
	char *av[5];
	struct stat st;
	int fd, rc;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)c->pid);
	c->maps = slurp(path, NULL);
	snprintf(path, sizeof(path), "/proc/%d/coredump_filter", (int)c->pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0x37", 4) != 4) {
		test_fail(__FILE__, __LINE__, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	snprintf(prefix, sizeof(prefix), "%s/core", E->work);
	snprintf(c->path, sizeof(c->path), "%s.%d", prefix, (int)c->pid);
	av[0] = GCORE;
	av[1] = "-o";
	av[2] = prefix;
	snprintf(path, sizeof(path), "%d", (int)c->pid);
	av[3] = path;
	av[4] = NULL;
	rc = dh_run_output(av, true, out, sizeof(out));
	if (rc != 0 || stat(c->path, &st) != 0 || st.st_size == 0) {
		test_fail(__FILE__, __LINE__, "gcore %d: exit %d, no core %s",
			  (int)c->pid, rc, c->path);
		printf("%s\n", out);
		return -1;
	}
	c->buf = (uint8_t *)slurp(c->path, &c->len);
	if (!c->buf) {
		test_fail(__FILE__, __LINE__, "%s: cannot read", c->path);
		return -1;
	}
	return 0;
}

/* The address of file offset off in an ELF core, or 0. */
static uint64_t core_vaddr(const struct core *c, uint64_t off)
{
	const Elf64_Ehdr *eh = (const void *)c->buf;

	if (c->len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64)
		return 0;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		uint64_t at = eh->e_phoff + (uint64_t)i * eh->e_phentsize;

		if (at + sizeof(ph) > c->len)
			break;
		memcpy(&ph, c->buf + at, sizeof(ph));
		if (ph.p_type == PT_LOAD && off >= ph.p_offset &&
		    off < ph.p_offset + ph.p_filesz)
			return ph.p_vaddr + (off - ph.p_offset);
	}
	return 0;
}

/* The /proc/PID/maps line holding va (into out). */
static void mapping_of(const struct core *c, uint64_t va, char *out,
		       size_t cap)
{
	const char *p = c->maps;

	snprintf(out, cap, "?");
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		unsigned long long lo, hi;

		if (sscanf(p, "%llx-%llx", &lo, &hi) == 2 && va >= lo &&
		    va < hi) {
			int n = nl ? (int)(nl - p) : (int)strlen(p);

			snprintf(out, cap, "%.*s", n, p);
			return;
		}
		p = nl ? nl + 1 : NULL;
	}
}

/* All needles at once: a hash of their first 8 bytes, looked up at every
 * offset of the core. */
#define HBITS 13
static int htab[1 << HBITS];

static unsigned hash8(uint64_t w)
{
	return (unsigned)((w * 0x9e3779b97f4a7c15ull) >> (64 - HBITS));
}

static void hash_build(void)
{
	memset(htab, -1, sizeof(htab));
	for (size_t i = 0; i < n_nd; i++) {
		uint64_t w;
		unsigned h;

		memcpy(&w, nd[i].b, 8);
		h = hash8(w);
		while (htab[h] >= 0)
			h = (h + 1) & ((1u << HBITS) - 1);
		htab[h] = (int)i;
	}
}

static void scan(struct core *c, int ci)
{
	for (size_t off = 0; off + 16 <= c->len; off++) {
		uint64_t w;
		unsigned h;

		memcpy(&w, c->buf + off, 8);
		for (h = hash8(w); htab[h] >= 0;
		     h = (h + 1) & ((1u << HBITS) - 1)) {
			struct needle *x = &nd[htab[h]];

			if (off + x->n > c->len || memcmp(x->b, &w, 8) ||
			    memcmp(x->b, c->buf + off, x->n))
				continue;
			if (!x->found[ci]++ && x->off < 0) {
				x->off = (long)off;
				x->off_core = ci;
			}
		}
	}
}

static void report_hit(const char *label, const struct needle *x,
		       const struct core *cs)
{
	const struct core *c = &cs[x->off_core];
	uint64_t va = core_vaddr(c, (uint64_t)x->off);
	char map[256];

	mapping_of(c, va, map, sizeof(map));
	printf("  %s %s %s of epoch %llu in core of pid %d (%s) at "
	       "offset %ld, address 0x%llx, mapping %s\n", label,
	       x->kind == K_ESP ? "ESP key" : "secret", x->what,
	       (unsigned long long)x->epoch, (int)c->pid,
	       c->gw >= 0 ? E->ns_gw[c->gw] : "?", x->off,
	       (unsigned long long)va, map);
}

/* ---- the cases ------------------------------------------------------------ */

static bool file_has(const char *path, const char *s)
{
	size_t len;
	char *b = slurp(path, &len);
	bool has;

	if (!b)
		return false;
	has = memmem(b, len, s, strlen(s)) != NULL;
	free(b);
	return has;
}

static void t_hook_only_in_test_build(void)
{
	CHECK(access(keyscan, X_OK) == 0);
	CHECK(file_has(keyscan, MARKER));
	/* The normal build: not a byte of the hook. */
	CHECK(access(normal, X_OK) == 0);
	CHECK(!file_has(normal, MARKER));
	printf("  %s has the hook (%s), %s has not\n", keyscan, MARKER,
	       normal);
}

/* What one pass (a dump of every epochd, searched) found. */
struct tally {
	int cores;
	size_t old_keys, old_keys_found, old_sec, old_sec_found;
	size_t cur_keys, cur_keys_found, cur_sec, cur_sec_missing;
};

/* Marks the ESP keys of the SAs the statuses name current, all others
 * not; secrets of epoch cur current. */
static void mark_current(const struct dh_status st[2], uint64_t cur)
{
	for (size_t i = 0; i < n_nd; i++) {
		struct needle *x = &nd[i];

		if (x->kind == K_SECRET) {
			x->current = x->current || x->epoch == cur;
			continue;
		}
		x->current = false;
		for (int gw = 0; gw < 2; gw++)
			if (x->spi == st[gw].spi_in || x->spi == st[gw].spi_out)
				x->current = true;
	}
}

/* Dumps every epochd process, searches the cores for every needle and
 * counts. 0, or -1 (reported). */
static int pass(const char *tag, uint64_t cur, struct tally *t)
{
	struct core cores[PROC_MAX];
	int n_cores, per_gw[2] = { 0, 0 }, rc = -1;
	uint64_t t0;

	memset(t, 0, sizeof(*t));
	memset(cores, 0, sizeof(cores));
	for (size_t i = 0; i < n_nd; i++) {
		memset(nd[i].found, 0, sizeof(nd[i].found));
		nd[i].off = -1;
	}
	n_cores = find_daemons(cores, PROC_MAX);
	if (!CHECK(n_cores >= 2))
		return -1;
	for (int i = 0; i < n_cores; i++) {
		if (cores[i].gw < 0)
			cores[i].gw = gw_of(cores[i].pid);
		if (!CHECK(cores[i].gw >= 0) || !CHECK(dump(&cores[i]) == 0))
			goto out;
		per_gw[cores[i].gw]++;
		printf("  %s: core of epochd pid %d (%s): %zu bytes\n", tag,
		       (int)cores[i].pid, E->ns_gw[cores[i].gw], cores[i].len);
	}
	if (!CHECK(per_gw[0] >= 1 && per_gw[1] >= 1))
		goto out;
	t->cores = n_cores;

	hash_build();
	t0 = dh_now_ms();
	for (int i = 0; i < n_cores; i++)
		scan(&cores[i], i);
	printf("  %s: %zu byte strings searched in %d cores in %.1f s\n",
	       tag, n_nd, n_cores, (double)(dh_now_ms() - t0) / 1e3);

	for (size_t i = 0; i < n_nd; i++) {
		struct needle *x = &nd[i];
		int hits = 0, gw_hits[2] = { 0, 0 };

		for (int c = 0; c < n_cores; c++) {
			hits += x->found[c];
			if (x->found[c])
				gw_hits[cores[c].gw]++;
		}
		if (!x->current) {
			if (x->kind == K_ESP) {
				t->old_keys++;
				t->old_keys_found += hits > 0;
			} else {
				t->old_sec++;
				t->old_sec_found += hits > 0;
			}
			if (hits)
				report_hit("FOUND old", x, cores);
			continue;
		}
		if (x->kind == K_ESP) {
			t->cur_keys++;
			t->cur_keys_found += hits > 0;
			if (hits)
				report_hit("FOUND current", x, cores);
			continue;
		}
		/* A current secret of the group: both members hold the
		 * same ones, except each its own leaf key. */
		t->cur_sec++;
		if (!strcmp(x->what, "leaf_hpke_sk") ? hits == 0 :
		    gw_hits[0] == 0 || gw_hits[1] == 0) {
			t->cur_sec_missing++;
			printf("  %s: current %s (epoch %llu) not found: %s %d, "
			       "%s %d cores\n", tag, x->what,
			       (unsigned long long)cur, E->ns_gw[0],
			       gw_hits[0], E->ns_gw[1], gw_hits[1]);
		}
	}
	rc = 0;
out:
	for (int i = 0; i < n_cores; i++) {
		free(cores[i].buf);
		free(cores[i].maps);
		if (!cores[i].path[0])
			continue;
		if (getenv("ERASURE_KEEP_CORES")) {
			char keep[PATH_MAX + 64];

			snprintf(keep, sizeof(keep), "%s/erasure-%s-core.%d",
				 E->logs, tag, (int)cores[i].pid);
			if (rename(cores[i].path, keep) == 0)
				continue;
		}
		unlink(cores[i].path);
	}
	return rc;
}

/* The checks of one pass: nothing old, every current MLS secret, no ESP
 * key at all (the daemon wipes each one once the kernel has it). */
static void pass_check(const struct tally *t)
{
	CHECK_EQ_U64(t->old_keys_found, 0);
	CHECK_EQ_U64(t->old_sec_found, 0);
	CHECK(t->cur_sec >= 10);
	CHECK_EQ_U64(t->cur_sec_missing, 0);
	/* One SA each way (out of one gateway = in of the other). */
	CHECK_EQ_U64(t->cur_keys, 2);
	CHECK_EQ_U64(t->cur_keys_found, 0);
}

/* Midway, gw2 is killed (SIGKILL) and started again: the new instance
 * reads its state file and resumes (daemon/statefile.h), so the buffers
 * of loading a saved epoch are searched too (that epoch is old at the
 * end). The epoch the resume commit replaces is recorded first. */
static int restart(struct dh_rekeys *r)
{
	struct dh_status st[2];
	char conf[PATH_MAX];

	if (record_keys(r->epoch) <= 0)
		return -1;
	/* (dh_start copies its argument into E->d[1].conf.) */
	snprintf(conf, sizeof(conf), "%s", E->d[1].conf);
	dh_kill9(E, 1);
	if (dh_start(E, 1, conf, 30000) != 0 ||
	    dh_wait_synced(E, r->epoch + 1, REKEY_MS, st) != 0) {
		test_fail(__FILE__, __LINE__, "%s not back after a restart",
			  E->ns_gw[1]);
		return -1;
	}
	printf("  %s killed and started again after rekey %d: epoch %llu "
	       "-> %llu, %d \"resumed\" lines in its log\n", E->ns_gw[1],
	       r->done, (unsigned long long)r->epoch,
	       (unsigned long long)st[0].epoch,
	       dh_log_count(E, 1, "resumed"));
	r->epoch = st[0].epoch;
	return 0;
}

static void t_erasure(void)
{
	struct dh_conf conf = { .suite = "xwing" };
	struct dh_rekeys r;
	struct dh_status st[2];
	struct dh_sas sas[2];
	struct tally early, late;
	char secrets[PATH_MAX];
	int epochs_seen[4096] = { 0 };
	uint64_t cur, t0;
	int lines;

	snprintf(secrets, sizeof(secrets), "%s/secrets.txt", E->work);
	unlink(secrets);
	setenv(MARKER, secrets, 1);
	/* The test build of epochd for the daemons. */
	snprintf(E->epochd, sizeof(E->epochd), "%s", keyscan);
	if (!CHECK(access(GCORE, X_OK) == 0)) {
		printf("  %s missing (make deps installs gdb)\n", GCORE);
		return;
	}
	if (!CHECK(dh_start_both(E, &conf) == 0))
		goto out;
	if (!CHECK(dh_rekeys_begin(E, 90000, &r) == 0))
		goto out;
	for (int i = 0; i < n_rekeys; i++) {
		if (i == restart_at && restart_at > 0 &&
		    !CHECK(restart(&r) == 0))
			goto out;
		/* This epoch's keys, before its rollover. */
		if (!CHECK(record_keys(r.epoch) > 0))
			goto out;
		if (!CHECK(dh_rekey_step(E, i & 1, REKEY_MS, &r) == 0))
			goto out;
	}
	dh_rekeys_print("alternating", &r);
	cur = r.epoch;
	/* The current keys, and the previous epoch's inbound SAs, still in
	 * their grace period. */
	if (!CHECK(record_keys(cur) > 0))
		goto out;
	lines = record_secrets(secrets, cur, epochs_seen,
			       sizeof(epochs_seen) / sizeof(epochs_seen[0]));
	if (!CHECK(lines > 0))
		goto out;
	/* Each daemon wrote every epoch it reached. */
	for (uint64_t ep = r.epoch0; ep <= cur && ep < 4096; ep++)
		if (!CHECK(epochs_seen[ep] >= 2))
			printf("  epoch %llu: %d epoch_secret lines\n",
			       (unsigned long long)ep, epochs_seen[ep]);

	/* Right after the rollover: the old epochs are gone from the
	 * daemons already (their SAs are not: the kernel holds the
	 * previous inbound ones until the grace period ends). */
	if (!CHECK(dh_wait_synced(E, cur, 30000, st) == 0) ||
	    !CHECK_EQ_U64(st[0].epoch, cur))
		goto out;
	mark_current(st, cur);
	t0 = dh_now_ms();
	if (!CHECK(pass("rollover", cur, &early) == 0))
		goto out;
	pass_check(&early);
	printf("  at the rollover (old inbound SAs still in the kernels): "
	       "old_keys=%zu found=%zu old_secrets=%zu found=%zu "
	       "current_esp_keys_in_daemon=%zu/%zu\n", early.old_keys,
	       early.old_keys_found, early.old_sec, early.old_sec_found,
	       early.cur_keys_found, early.cur_keys);

	/* Past the grace period: only the current SAs are left. */
	if (!CHECK(dh_wait_one_sa_each(E, GRACE_MS, sas) == 0))
		goto out;
	printf("  old SAs gone from both kernels %.1f s after the first "
	       "dump\n", (double)(dh_now_ms() - t0) / 1e3);
	if (!CHECK(dh_wait_synced(E, cur, 30000, st) == 0) ||
	    !CHECK_EQ_U64(st[0].epoch, cur) ||
	    !CHECK(record_keys(cur) == 4))
		goto out;
	mark_current(st, cur);
	if (!CHECK(pass("grace", cur, &late) == 0))
		goto out;
	pass_check(&late);
	/* 2 SAs (one each way) per old epoch (the restart's resume commit
	 * adds one). */
	CHECK(late.old_keys >= 2 * (uint64_t)n_rekeys);
	CHECK(late.old_sec >= 10 * (size_t)n_rekeys);
	printf("ERASURE rekeys=%d old_keys=%zu found=%zu old_secrets=%zu "
	       "found=%zu current_found=%s cores=%d current_secrets=%zu "
	       "current_esp_keys_in_daemon=%zu/%zu epoch=%llu\n", r.done,
	       late.old_keys, late.old_keys_found, late.old_sec,
	       late.old_sec_found,
	       late.cur_sec && !late.cur_sec_missing ? "yes" : "no",
	       late.cores, late.cur_sec, late.cur_keys_found, late.cur_keys,
	       (unsigned long long)cur);
out:
	if (test_case_failures())
		dh_diag(E, "erasure");
	dh_stop_both_checked(E);
	unsetenv(MARKER);
}

int main(int argc, char **argv)
{
	char self[PATH_MAX - 64], *slash;
	ssize_t n;

	if (dh_init(E, argc, argv) != 0) {
		printf("0 passed, 1 failed\n");
		return 1;
	}
	n_rekeys = dh_env_int("REKEYS", n_rekeys);
	restart_at = dh_env_int("ERASURE_RESTART", n_rekeys / 2);
	/* BUILD/tests/e2e/test_daemon_erasure: BUILD/keyscan/bin/epochd
	 * (make keyscan) next to BUILD/bin/epochd. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		printf("FAIL readlink /proc/self/exe\n0 passed, 1 failed\n");
		return 1;
	}
	self[n] = 0;
	slash = strrchr(self, '/');
	*slash = 0;
	snprintf(keyscan, sizeof(keyscan), "%s/../../keyscan/bin/epochd",
		 self);
	snprintf(normal, sizeof(normal), "%s", E->epochd);
	test_run("the secrets hook is only in the test build "
		 "(make keyscan)", t_hook_only_in_test_build);
	test_run("after 20 rekeys and the grace period no old ESP key or "
		 "epoch secret is in any epochd's memory",
		 t_erasure);
	dh_cleanup(E);
	return test_main_end(argv[0]);
}
