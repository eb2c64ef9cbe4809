/* Tunnel state files (daemon/statefile.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/errmsg.h"
#include "daemon/statefile.h"
#include "proto/crypto.h"
#include "proto/result.h"

static const uint8_t magic[5] = { 'E', 'P', 'D', 'S', 1 };

void statefile_encode_hdr(const struct statefile_hdr *h,
			  struct codec_writer *w)
{
	codec_write_bytes(w, magic, sizeof(magic));
	codec_write_u32(w, h->reqid);
	codec_write_u64(w, h->isid);
	codec_write_u64(w, h->rsid);
	codec_write_u32(w, h->next_id);
}

int statefile_decode(const uint8_t *buf, size_t len, struct statefile_hdr *h,
		     const uint8_t **tun, size_t *tun_len)
{
	struct codec_reader r;
	uint8_t m[sizeof(magic)];

	if (!buf || !h || !tun || !tun_len)
		return EPOCH_ERR_INVALID_ARG;
	codec_reader_init(&r, buf, len);
	if (codec_read_bytes(&r, m, sizeof(m)) != EPOCH_OK ||
	    memcmp(m, magic, sizeof(m)) != 0 ||
	    codec_read_u32(&r, &h->reqid) != EPOCH_OK ||
	    codec_read_u64(&r, &h->isid) != EPOCH_OK ||
	    codec_read_u64(&r, &h->rsid) != EPOCH_OK ||
	    codec_read_u32(&r, &h->next_id) != EPOCH_OK ||
	    !h->isid || !h->rsid || r.pos == len)
		return EPOCH_ERR_MALFORMED;
	*tun = buf + r.pos;
	*tun_len = len - r.pos;
	return EPOCH_OK;
}

static int path_of(char *out, size_t cap, const char *dir, const char *name,
		   const char *suffix)
{
	int n = snprintf(out, cap, "%s/%s.state%s", dir, name, suffix);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int statefile_write(const char *dir, const char *name, const uint8_t *buf,
		    size_t len, char *err, size_t errlen)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd, dfd, rc;

	if (path_of(tmp, sizeof(tmp), dir, name, ".tmp") < 0 ||
	    path_of(path, sizeof(path), dir, name, "") < 0) {
		errmsg_set(err, errlen, "%s/%s.state: path too long", dir,
			   name);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		rc = -errno;
		errmsg_set(err, errlen, "%s: %s", tmp, strerror(-rc));
		return rc;
	}
	/* 0600 whatever the umask left. */
	rc = fchmod(fd, 0600) < 0 ? -errno : 0;
	if (!rc)
		rc = write_all(fd, buf, len);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc) {
		errmsg_set(err, errlen, "%s: %s", tmp, strerror(-rc));
		unlink(tmp);
		return rc;
	}
	/* The rename itself must reach the disk. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) < 0)
			rc = -errno;
		close(dfd);
	}
	if (rc)
		errmsg_set(err, errlen, "%s: fsync: %s", dir, strerror(-rc));
	return rc;
}

int statefile_read(const char *dir, const char *name, uint8_t **buf,
		   size_t *len, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	uint8_t *p;
	size_t got = 0;
	int fd, rc = 0;

	*buf = NULL;
	*len = 0;
	if (path_of(path, sizeof(path), dir, name, "") < 0) {
		errmsg_set(err, errlen, "%s/%s.state: path too long", dir,
			   name);
		return -ENAMETOOLONG;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc != -ENOENT)
			errmsg_set(err, errlen, "%s: %s", path,
				   strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
	} else if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		errmsg_set(err, errlen, "%s: not a regular file of mode 0600",
			   path);
		close(fd);
		return -EPERM;
	} else if (st.st_size <= 0 || st.st_size > STATEFILE_MAX) {
		errmsg_set(err, errlen, "%s: size %lld out of range", path,
			   (long long)st.st_size);
		close(fd);
		return -EFBIG;
	}
	if (rc) {
		errmsg_set(err, errlen, "%s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	p = malloc((size_t)st.st_size);
	if (!p) {
		close(fd);
		errmsg_set(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, p + got, (size_t)st.st_size - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			rc = k < 0 ? -errno : -EIO;
			break;
		}
		got += (size_t)k;
	}
	close(fd);
	if (rc) {
		crypto_wipe(p, (size_t)st.st_size);
		free(p);
		errmsg_set(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	*buf = p;
	*len = got;
	return 0;
}

int statefile_remove(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (path_of(path, sizeof(path), dir, name, "") < 0)
		return -ENAMETOOLONG;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int statefile_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		errmsg_set(err, errlen, "state_dir %s: %s", dir,
			   strerror(errno));
		return -errno;
	}
	if (stat(dir, &st) < 0) {
		errmsg_set(err, errlen, "state_dir %s: %s", dir,
			   strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		errmsg_set(err, errlen, "state_dir %s: not a directory", dir);
		return -ENOTDIR;
	}
	if (st.st_mode & 022) {
		errmsg_set(err, errlen,
			   "state_dir %s: mode %04o lets group or others write "
			   "(chmod 700 it)", dir, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}
