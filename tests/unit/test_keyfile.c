/* daemon/keyfile: key files (generate, load, refusals) and public-key
 * strings, against RFC 8032 §7.1 TEST 1. The base64 strings below were
 * computed independently with coreutils:
 *   printf '\x9d\x61...\x7f\x60' | base64
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/keyfile.h"
#include "proto/crypto.h"
#include "tests/lib/test.h"

/* RFC 8032 §7.1, TEST 1. */
static const char rfc_sk_hex[] =
	"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char rfc_pk_hex[] =
	"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
static const char rfc_sk_b64[] =
	"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
static const char rfc_pk_b64[] =
	"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

static char dir[PATH_MAX];

static void path_in_dir(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

/* Writes data to dir/name with the given mode (exactly: fchmod). */
static void write_file(const char *name, const char *data, size_t len,
		       mode_t mode, char *path, size_t pathlen)
{
	int fd;

	path_in_dir(path, pathlen, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (!CHECK(fd >= 0))
		return;
	CHECK(write(fd, data, len) == (ssize_t)len);
	CHECK(fchmod(fd, mode) == 0);
	close(fd);
}

static void test_public_vector(void)
{
	uint8_t pk[32], got[32];
	char s[KEY_B64_LEN + 1];

	CHECK(test_hex_fixed(rfc_pk_hex, pk, 32) == 0);
	memset(s, 'x', sizeof(s));
	key_public_encode(pk, s);
	CHECK(strlen(s) == KEY_B64_LEN);
	CHECK(strcmp(s, rfc_pk_b64) == 0);
	CHECK(key_public_decode(rfc_pk_b64, got) == 0);
	CHECK_MEM(got, pk, 32);
}

static void test_public_roundtrip(void)
{
	uint8_t pk[32], got[32];
	char s[KEY_B64_LEN + 1];

	/* Every byte value in every position class. */
	for (int k = 0; k < 256; k++) {
		for (int i = 0; i < 32; i++)
			pk[i] = (uint8_t)(k + 37 * i);
		key_public_encode(pk, s);
		if (!CHECK(key_public_decode(s, got) == 0))
			break;
		if (!CHECK_MEM(got, pk, 32))
			break;
	}
}

static void test_public_refusals(void)
{
	uint8_t pk[32], keep[32];
	char s[80];

	memset(pk, 0xa5, 32);
	memcpy(keep, pk, 32);
	CHECK(key_public_decode(NULL, pk) == -1);
	CHECK(key_public_decode("", pk) == -1);
	/* One character short, one too many. */
	snprintf(s, sizeof(s), "%.43s", rfc_pk_b64);
	CHECK(key_public_decode(s, pk) == -1);
	snprintf(s, sizeof(s), "%sA", rfc_pk_b64);
	CHECK(key_public_decode(s, pk) == -1);
	/* Trailing newline or space. */
	snprintf(s, sizeof(s), "%s\n", rfc_pk_b64);
	CHECK(key_public_decode(s, pk) == -1);
	/* A character outside the alphabet (URL-safe '-', '_', '.'). */
	snprintf(s, sizeof(s), "%s", rfc_pk_b64);
	s[5] = '-';
	CHECK(key_public_decode(s, pk) == -1);
	s[5] = '_';
	CHECK(key_public_decode(s, pk) == -1);
	s[5] = '.';
	CHECK(key_public_decode(s, pk) == -1);
	/* No padding: 43 symbols and one more symbol instead of '='. */
	snprintf(s, sizeof(s), "%s", rfc_pk_b64);
	s[43] = 'A';
	CHECK(key_public_decode(s, pk) == -1);
	/* '=' too early. */
	snprintf(s, sizeof(s), "%s", rfc_pk_b64);
	s[42] = '=';
	CHECK(key_public_decode(s, pk) == -1);
	/* Non-canonical: the unused low bits of the last symbol set ('o' is
	 * 40 = 0b101000; 'p' is 41 with bit 0 set). */
	snprintf(s, sizeof(s), "%s", rfc_pk_b64);
	CHECK(s[42] == 'o');
	s[42] = 'p';
	CHECK(key_public_decode(s, pk) == -1);
	s[42] = 'q';
	CHECK(key_public_decode(s, pk) == -1);
	/* A refused string leaves the output alone. */
	CHECK_MEM(pk, keep, 32);
}

static void test_load_vector(void)
{
	char path[PATH_MAX + 16], line[64], err[256];
	uint8_t sk[32], pk[32], want_sk[32], want_pk[32];

	CHECK(test_hex_fixed(rfc_sk_hex, want_sk, 32) == 0);
	CHECK(test_hex_fixed(rfc_pk_hex, want_pk, 32) == 0);
	snprintf(line, sizeof(line), "%s\n", rfc_sk_b64);
	write_file("rfc.key", line, strlen(line), 0600, path, sizeof(path));
	err[0] = '\0';
	CHECK(keyfile_load(path, sk, pk, err, sizeof(err)) == 0);
	CHECK(err[0] == '\0');
	CHECK_MEM(sk, want_sk, 32);
	CHECK_MEM(pk, want_pk, 32);

	/* Without the newline too; and 0400 is stricter than 0600. */
	write_file("rfc2.key", rfc_sk_b64, KEY_B64_LEN, 0400, path,
		   sizeof(path));
	CHECK(keyfile_load(path, sk, pk, err, sizeof(err)) == 0);
	CHECK_MEM(pk, want_pk, 32);
}

static void test_generate_roundtrip(void)
{
	char path[PATH_MAX + 16], pk_b64[KEY_B64_LEN + 1], err[256];
	char pk2_b64[KEY_B64_LEN + 1];
	uint8_t sk[32], pk[32], pk2[32], sk2[32], sig[64];
	struct stat st;
	size_t len;
	char *text;

	path_in_dir(path, sizeof(path), "gen.key");
	unlink(path);
	CHECK(keyfile_generate(path, pk_b64, err, sizeof(err)) == 0);
	CHECK(strlen(pk_b64) == KEY_B64_LEN);
	CHECK(lstat(path, &st) == 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK((st.st_mode & 07777) == 0600);
	text = test_read_file(path, &len);
	if (CHECK(text != NULL)) {
		CHECK(len == KEY_B64_LEN + 1);
		CHECK(text[KEY_B64_LEN] == '\n');
		CHECK(key_public_decode(pk_b64, pk) == 0);
		free(text);
	}
	CHECK(keyfile_load(path, sk, pk2, err, sizeof(err)) == 0);
	key_public_encode(pk2, pk2_b64);
	CHECK(strcmp(pk2_b64, pk_b64) == 0);
	/* The pair works: a signature verifies under the public key. */
	CHECK_OK(crypto_ed25519_sign(sk, (const uint8_t *)"m", 1, sig));
	CHECK_OK(crypto_ed25519_verify(pk, (const uint8_t *)"m", 1, sig));
	CHECK_OK(crypto_ed25519_public(sk, pk2));
	CHECK_MEM(pk2, pk, 32);

	/* Never overwrites: a second generate fails and the key stays. */
	err[0] = '\0';
	CHECK(keyfile_generate(path, NULL, err, sizeof(err)) == -1);
	CHECK(strstr(err, path) != NULL);
	CHECK(strstr(err, "File exists") != NULL);
	CHECK(keyfile_load(path, sk2, pk2, err, sizeof(err)) == 0);
	CHECK_MEM(sk2, sk, 32);

	/* Two keys differ. */
	path_in_dir(path, sizeof(path), "gen2.key");
	unlink(path);
	CHECK(keyfile_generate(path, pk2_b64, err, sizeof(err)) == 0);
	CHECK(strcmp(pk2_b64, pk_b64) != 0);
	crypto_wipe(sk, 32);
	crypto_wipe(sk2, 32);
}

static void test_generate_through_symlink(void)
{
	char path[PATH_MAX + 16], target[PATH_MAX + 16], err[256];
	struct stat st;

	/* A dangling symlink: O_EXCL must not create its target. */
	path_in_dir(target, sizeof(target), "nowhere.key");
	path_in_dir(path, sizeof(path), "dangling.key");
	unlink(path);
	unlink(target);
	CHECK(symlink(target, path) == 0);
	CHECK(keyfile_generate(path, NULL, err, sizeof(err)) == -1);
	CHECK(lstat(target, &st) == -1 && errno == ENOENT);
}

/* Loads path and expects a refusal whose message holds want. */
static void expect_refused(const char *path, const char *want)
{
	uint8_t sk[32], pk[32];
	char err[256];

	memset(sk, 0x5a, 32);
	err[0] = '\0';
	if (!CHECK(keyfile_load(path, sk, pk, err, sizeof(err)) == -1))
		return;
	if (!CHECK(strstr(err, want) != NULL))
		test_note("got \"%s\", want \"%s\"", err, want);
	CHECK(strstr(err, path) == err); /* names the file first */
	/* The output key was not touched. */
	for (int i = 0; i < 32; i++)
		CHECK(sk[i] == 0x5a);
}

static void test_load_refusals(void)
{
	char path[PATH_MAX + 16], target[PATH_MAX + 16], line[128];

	snprintf(line, sizeof(line), "%s\n", rfc_sk_b64);
	write_file("0644.key", line, strlen(line), 0644, path, sizeof(path));
	expect_refused(path, "mode 0644 gives access to group or others");
	write_file("0640.key", line, strlen(line), 0640, path, sizeof(path));
	expect_refused(path, "mode 0640");
	write_file("0602.key", line, strlen(line), 0602, path, sizeof(path));
	expect_refused(path, "mode 0602");
	/* World-readable alone, and group-writable alone. */
	write_file("0604.key", line, strlen(line), 0604, path, sizeof(path));
	expect_refused(path, "mode 0604 gives access to group or others");
	write_file("0620.key", line, strlen(line), 0620, path, sizeof(path));
	expect_refused(path, "mode 0620");

	/* A symlink to a good file is refused. */
	write_file("good.key", line, strlen(line), 0600, target,
		   sizeof(target));
	path_in_dir(path, sizeof(path), "link.key");
	unlink(path);
	CHECK(symlink(target, path) == 0);
	expect_refused(path, "is a symbolic link");

	/* Not a regular file. */
	path_in_dir(path, sizeof(path), "subdir");
	rmdir(path);
	CHECK(mkdir(path, 0700) == 0);
	expect_refused(path, "not a regular file");
	rmdir(path);

	path_in_dir(path, sizeof(path), "missing.key");
	unlink(path);
	expect_refused(path, "No such file or directory");

	/* Wrong lengths. */
	write_file("short.key", line, KEY_B64_LEN - 1, 0600, path,
		   sizeof(path));
	expect_refused(path, "not a key file (expected 44");
	write_file("empty.key", "", 0, 0600, path, sizeof(path));
	expect_refused(path, "not a key file (expected 44");
	/* Trailing garbage: a second newline, a second line, CRLF. */
	snprintf(line, sizeof(line), "%s\n\n", rfc_sk_b64);
	write_file("nl2.key", line, strlen(line), 0600, path, sizeof(path));
	expect_refused(path, "not a key file (expected 44");
	snprintf(line, sizeof(line), "%s\n%s\n", rfc_sk_b64, rfc_sk_b64);
	write_file("two.key", line, strlen(line), 0600, path, sizeof(path));
	expect_refused(path, "not a key file (expected 44");
	snprintf(line, sizeof(line), "%s\r\n", rfc_sk_b64);
	write_file("crlf.key", line, strlen(line), 0600, path, sizeof(path));
	expect_refused(path, "not a key file (expected 44");
	snprintf(line, sizeof(line), "%sx", rfc_sk_b64);
	write_file("x.key", line, strlen(line), 0600, path, sizeof(path));
	expect_refused(path, "not a key file (expected 44");
	/* Bad base64 of the right length. */
	snprintf(line, sizeof(line), "%s\n", rfc_sk_b64);
	line[10] = '*';
	write_file("bad64.key", line, strlen(line), 0600, path, sizeof(path));
	expect_refused(path, "bad base64");
	snprintf(line, sizeof(line), "%s\n", rfc_sk_b64);
	line[43] = 'A'; /* no padding */
	write_file("nopad.key", line, strlen(line), 0600, path, sizeof(path));
	expect_refused(path, "bad base64");
}

static void test_owner(void)
{
	char path[PATH_MAX + 16], line[64];

	if (geteuid() != 0) {
		test_skip("keyfile_owner", "needs root to chown");
		return;
	}
	test_begin("keyfile_owner");
	snprintf(line, sizeof(line), "%s\n", rfc_sk_b64);
	write_file("other.key", line, strlen(line), 0600, path, sizeof(path));
	CHECK(chown(path, 65534, 65534) == 0);
	expect_refused(path, "owned by uid 65534, not by this user (uid 0)");
	test_end();
}

static void rm_tree(void)
{
	char cmd[PATH_MAX + 16];

	if (snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir) < (int)sizeof(cmd))
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_keyfile.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_run("public_vector", test_public_vector);
	test_run("public_roundtrip", test_public_roundtrip);
	test_run("public_refusals", test_public_refusals);
	test_run("load_vector", test_load_vector);
	test_run("generate_roundtrip", test_generate_roundtrip);
	test_run("generate_through_symlink", test_generate_through_symlink);
	test_run("load_refusals", test_load_refusals);
	test_owner();
	rm_tree();
	return test_main_end("test_keyfile");
}
