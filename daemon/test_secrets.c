/* The key erasure test's hook (daemon/test_secrets.h). Compiled to
 * nothing unless EPOCHD_TEST_SECRETS is defined. */
#include "daemon/test_secrets.h"

#ifdef EPOCHD_TEST_SECRETS
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/tunnel_int.h"
#include "proto/mls_group.h"
#include "proto/mls_group_int.h"

struct rec {
	const char *name;
	uint64_t epoch;
	int fd;
	int err;
};

/* One line, one write (O_APPEND: lines of both daemons do not mix). The
 * secret is only read here, as hex: no binary copy is made. */
static void put(void *ctx, const char *what, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	struct rec *r = ctx;
	char line[512];
	int off;

	off = snprintf(line, sizeof(line), "%s %llu %s ", r->name,
		       (unsigned long long)r->epoch, what);
	if (off < 0 || (size_t)off + 2 * n + 2 > sizeof(line)) {
		r->err = EOVERFLOW;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		line[off++] = hex[p[i] >> 4];
		line[off++] = hex[p[i] & 15];
	}
	line[off++] = '\n';
	if (write(r->fd, line, (size_t)off) != off)
		r->err = errno ? errno : EIO;
	explicit_bzero(line, sizeof(line));
}

void test_secrets_record(const char *name, const struct tunnel *t)
{
	const char *path = getenv(TEST_SECRETS_ENV);
	const struct mls_group *g = tunnel_group_int(t);
	struct rec r = { .name = name };

	if (!path || !*path || !g)
		return;
	r.epoch = mls_group_epoch(g);
	r.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (r.fd < 0) {
		log_msg(CONFIG_LOG_ERROR, name, "%s: %s", path,
			strerror(errno));
		return;
	}
	mls_group_test_secrets(g, put, &r);
	close(r.fd);
	if (r.err)
		log_msg(CONFIG_LOG_ERROR, name, "%s: %s", path,
			strerror(r.err));
	else
		log_msg(CONFIG_LOG_INFO, name,
			"test build: epoch %llu secrets written to %s",
			(unsigned long long)r.epoch, path);
}
#endif
