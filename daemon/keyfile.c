/* Identity key files and public-key strings (keyfile.h).
 *
 * The file is opened with O_NOFOLLOW and every check (regular file, owner,
 * mode) is made with fstat on the descriptor that is then read, so nothing
 * can be swapped between the check and the read. base64 is RFC 4648 §4
 * (standard alphabet, '=' padding); decoding is strict: exactly 44
 * characters for 32 bytes, the one '=' at the end, and the unused low bits of
 * the last symbol zero, so every key has exactly one spelling.
 */
#include "daemon/errmsg.h"
#include "daemon/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/crypto.h"

/* A key file is 44 characters and '\n'; a few bytes more are read so that
 * trailing garbage is seen. */
#define KEYFILE_LEN (KEY_B64_LEN + 1)
#define KEYFILE_READ_MAX (KEYFILE_LEN + 16)


/* Value of a base64 symbol, -1 for anything else; range arithmetic, so
 * a secret's symbols do not index memory. */
static int b64_value(unsigned char c)
{
	int v = -1;

	v += ((c >= 'A') & (c <= 'Z')) * (c - 'A' + 1);
	v += ((c >= 'a') & (c <= 'z')) * (c - 'a' + 27);
	v += ((c >= '0') & (c <= '9')) * (c - '0' + 53);
	v += (c == '+') * 63;
	v += (c == '/') * 64;
	return v;
}

static char b64_symbol(unsigned v)
{
	/* v < 64; ranges, not a table indexed by a secret. */
	if (v < 26)
		return (char)('A' + v);
	if (v < 52)
		return (char)('a' + (v - 26));
	if (v < 62)
		return (char)('0' + (v - 52));
	return v == 62 ? '+' : '/';
}

/* 32 bytes -> 44 characters and a NUL. */
static void b64_encode32(const uint8_t in[32], char out[KEY_B64_LEN + 1])
{
	size_t o = 0;
	size_t i;

	for (i = 0; i + 3 <= 32; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];

		out[o++] = b64_symbol(w >> 18 & 63);
		out[o++] = b64_symbol(w >> 12 & 63);
		out[o++] = b64_symbol(w >> 6 & 63);
		out[o++] = b64_symbol(w & 63);
	}
	/* Two bytes left: three symbols and one '='. */
	{
		uint32_t w = (uint32_t)in[30] << 16 | (uint32_t)in[31] << 8;

		out[o++] = b64_symbol(w >> 18 & 63);
		out[o++] = b64_symbol(w >> 12 & 63);
		out[o++] = b64_symbol(w >> 6 & 63);
		out[o++] = '=';
	}
	out[o] = '\0';
}

/* Exactly 44 characters (s need not be NUL-terminated) -> 32 bytes. */
static int b64_decode32(const char *s, uint8_t out[32])
{
	uint8_t tmp[33];
	size_t o = 0;
	int bad = 0;
	size_t i;

	if (s[KEY_B64_LEN - 1] != '=')
		return -1;
	for (i = 0; i < KEY_B64_LEN - 1; i += 4) {
		int a = b64_value((unsigned char)s[i]);
		int b = b64_value((unsigned char)s[i + 1]);
		int c = b64_value((unsigned char)s[i + 2]);
		int d = i + 3 < KEY_B64_LEN - 1 ?
				b64_value((unsigned char)s[i + 3]) : 0;
		uint32_t w;

		bad |= (a < 0) | (b < 0) | (c < 0) | (d < 0);
		w = (uint32_t)(a & 63) << 18 | (uint32_t)(b & 63) << 12 |
		    (uint32_t)(c & 63) << 6 | (uint32_t)(d & 63);
		tmp[o++] = (uint8_t)(w >> 16);
		tmp[o++] = (uint8_t)(w >> 8);
		if (o < 33)
			tmp[o++] = (uint8_t)w;
	}
	/* The last group "xyz=" carries 16 bits; z's low 2 bits must be 0
	 * (RFC 4648 §3.5: canonical encoding). */
	bad |= (b64_value((unsigned char)s[KEY_B64_LEN - 2]) & 3) != 0;
	if (!bad)
		memcpy(out, tmp, 32);
	crypto_wipe(tmp, sizeof(tmp));
	return bad ? -1 : 0;
}

void key_public_encode(const uint8_t pk[32], char *out)
{
	b64_encode32(pk, out);
}

int key_public_decode(const char *s, uint8_t pk[32])
{
	if (!s || strnlen(s, KEY_B64_LEN + 1) != KEY_B64_LEN)
		return -1;
	return b64_decode32(s, pk);
}

int keyfile_generate(const char *path, char *pk_b64, char *err,
		     size_t errlen)
{
	uint8_t sk[32], pk[32];
	char line[KEYFILE_LEN + 1];
	size_t off = 0;
	int fd, rc = -1;

	if (crypto_ed25519_keygen(NULL, sk, pk) != EPOCH_OK) {
		errmsg_set(err, errlen, "%s: cannot generate a key", path);
		goto out;
	}
	b64_encode32(sk, line);
	line[KEY_B64_LEN] = '\n';
	line[KEYFILE_LEN] = '\0';

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* The umask may only have removed bits; make sure it is 0600. */
	if (fchmod(fd, 0600) != 0) {
		errmsg_set(err, errlen, "%s: chmod: %s", path, strerror(errno));
		goto fail_unlink;
	}
	while (off < KEYFILE_LEN) {
		ssize_t n = write(fd, line + off, KEYFILE_LEN - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errmsg_set(err, errlen, "%s: write: %s", path,
			       n < 0 ? strerror(errno) : "short write");
			goto fail_unlink;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0) {
		errmsg_set(err, errlen, "%s: fsync: %s", path, strerror(errno));
		goto fail_unlink;
	}
	if (close(fd) != 0) {
		fd = -1;
		errmsg_set(err, errlen, "%s: close: %s", path, strerror(errno));
		goto fail_unlink;
	}
	if (pk_b64)
		key_public_encode(pk, pk_b64);
	rc = 0;
	goto out;

fail_unlink:
	if (fd >= 0)
		close(fd);
	unlink(path);
out:
	crypto_wipe(sk, sizeof(sk));
	crypto_wipe(line, sizeof(line));
	return rc;
}

int keyfile_load(const char *path, uint8_t sk[32], uint8_t pk[32], char *err,
		 size_t errlen)
{
	char buf[KEYFILE_READ_MAX];
	uint8_t seed[32];
	size_t len = 0;
	struct stat st;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ELOOP)
			errmsg_set(err, errlen,
			       "%s: is a symbolic link (refused; name the "
			       "file itself)", path);
		else
			errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		errmsg_set(err, errlen, "%s: stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		errmsg_set(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		errmsg_set(err, errlen,
		       "%s: owned by uid %u, not by this user (uid %u)", path,
		       (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	if (st.st_mode & 077) {
		errmsg_set(err, errlen,
		       "%s: mode %04o gives access to group or others "
		       "(chmod 600 it)", path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			errmsg_set(err, errlen, "%s: read: %s", path,
			       strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	/* 44 characters, optionally one newline; nothing else. */
	if (len == KEYFILE_LEN && buf[KEY_B64_LEN] == '\n')
		len = KEY_B64_LEN;
	if (len != KEY_B64_LEN) {
		errmsg_set(err, errlen,
		       "%s: not a key file (expected %d base64 characters "
		       "and a newline)", path, KEY_B64_LEN);
		goto out;
	}
	if (b64_decode32(buf, seed) != 0) {
		errmsg_set(err, errlen, "%s: not a key file (bad base64)", path);
		goto out;
	}
	if (crypto_ed25519_public(seed, pk) != EPOCH_OK) {
		errmsg_set(err, errlen, "%s: cannot derive the public key", path);
		goto out;
	}
	memcpy(sk, seed, 32);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	crypto_wipe(buf, sizeof(buf));
	crypto_wipe(seed, sizeof(seed));
	return rc;
}
