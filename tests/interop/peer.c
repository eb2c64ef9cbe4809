/* A line-oriented child process over two pipes (see peer.h). */
#include "tests/interop/peer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Keeps the first reason the transport failed in p->err. */
static void __attribute__((format(printf, 2, 3)))
peer_err(struct peer *p, const char *fmt, ...)
{
	va_list ap;

	if (p->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
}

#define PEER_FAIL(p, ...) peer_err((p), __VA_ARGS__)

static void describe_status(int st, char *out, size_t cap)
{
	if (WIFEXITED(st))
		snprintf(out, cap, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(out, cap, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(out, cap, "ended (wait status 0x%x)", (unsigned)st);
}

/* Waits for the child; after grace_ms it is killed. Returns the wait
 * status (also kept in p->status), or -1 if there was no child. */
static int reap(struct peer *p, int grace_ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int st = 0, waited = 0;
	pid_t r;

	if (p->pid <= 0)
		return -1;
	for (;;) {
		r = waitpid(p->pid, &st, WNOHANG);
		if (r == p->pid)
			break;
		if (r < 0 && errno != EINTR) {
			st = -1;
			break;
		}
		if (r == 0 && waited >= grace_ms) {
			kill(p->pid, SIGKILL);
			while ((r = waitpid(p->pid, &st, 0)) < 0 &&
			       errno == EINTR)
				;
			if (r < 0)
				st = -1;
			break;
		}
		if (r == 0) {
			nanosleep(&ts, NULL);
			waited += 10;
		}
	}
	p->pid = 0;
	p->status = st;
	return st;
}

/* The transport failed: say why, reap the child, refuse further calls. */
static void mark_dead(struct peer *p, const char *what, int err)
{
	char how[64] = "";

	p->dead = true;
	if (p->in_fd >= 0) {
		close(p->in_fd);
		p->in_fd = -1;
	}
	if (p->pid > 0 && reap(p, 2000) != -1)
		describe_status(p->status, how, sizeof(how));
	PEER_FAIL(p, "peer %s: %s%s%s%s%s", p->name, what,
		  err ? ": " : "", err ? strerror(err) : "",
		  how[0] ? "; the peer " : "", how);
}

int peer_spawn(struct peer *p, const char *name, char *const argv[])
{
	posix_spawn_file_actions_t fa;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	int rc;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->in_fd = p->out_fd = -1;
	/* A write to a dead child must be an EPIPE error, not our death. */
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		rc = errno;
		goto fail_pipes;
	}
	rc = posix_spawn_file_actions_init(&fa);
	if (rc != 0)
		goto fail_pipes;
	/* dup2 onto 0 and 1 clears close-on-exec there; every other pipe
	 * end is close-on-exec, so the child keeps only its two. */
	rc = posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, out[1],
						      STDOUT_FILENO);
	if (rc == 0)
		rc = posix_spawnp(&p->pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		p->pid = 0;
		goto fail_pipes;
	}
	close(in[0]);
	close(out[1]);
	p->in_fd = in[1];
	p->out_fd = out[0];
	return 0;

fail_pipes:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	p->dead = true;
	PEER_FAIL(p, "peer %s: cannot run %s: %s", p->name, argv[0],
		  strerror(rc));
	return -1;
}

int peer_spawn_tsmls(struct peer *p, const char *name)
{
	const char *node = getenv("EPOCHD_NODE");
	const char *script = getenv("EPOCHD_TSMLS_PEER");
	char mods[4096];
	const char *slash, *r;
	char *argv[3];
	size_t dir;

	if (node == NULL || node[0] == '\0')
		node = "node";
	if (script == NULL || script[0] == '\0')
		script = "tests/interop/tsmls_peer.mjs";
	slash = strrchr(script, '/');
	dir = slash ? (size_t)(slash - script) + 1 : 0;
	snprintf(mods, sizeof(mods), "%.*snode_modules/ts-mls/package.json",
		 (int)dir, script);
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->in_fd = p->out_fd = -1;
	p->dead = true;
	if (access(script, R_OK) != 0) {
		PEER_FAIL(p, "peer %s: %s not readable (%s); run the tests "
			  "from the tree root", name, script, strerror(errno));
		return -1;
	}
	if (access(mods, R_OK) != 0) {
		PEER_FAIL(p, "peer %s: ts-mls is not installed (%s: %s); run "
			  "`make deps-npm`", name, mods, strerror(errno));
		return -1;
	}
	argv[0] = (char *)node;
	argv[1] = (char *)script;
	argv[2] = NULL;
	if (peer_spawn(p, name, argv) != 0) {
		size_t l = strlen(p->err);

		snprintf(p->err + l, sizeof(p->err) - l, "; Node.js is needed "
			 "for the interop tests (`make deps` installs it)");
		return -1;
	}
	/* The peer loads ts-mls and makes a key pair before it reads its
	 * first command: a hex answer shows the whole chain works. */
	r = peer_cmd(p, "signature_public_key");
	if (r == NULL)
		return -1;
	if (peer_is_error(r) || strlen(r) != 64) {
		PEER_FAIL(p, "peer %s: unexpected first reply \"%.80s\"", name,
			  r);
		peer_close(p);
		p->dead = true;
		return -1;
	}
	return 0;
}

static int write_all(struct peer *p, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(p->in_fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			mark_dead(p, "write to the peer failed",
				  w < 0 ? errno : EIO);
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads until buf holds a whole line; returns it NUL-terminated. */
static const char *read_line(struct peer *p)
{
	char *nl;

	/* Drop the previous reply, keep what followed it. */
	if (p->used > 0) {
		memmove(p->buf, p->buf + p->used, p->len - p->used);
		p->len -= p->used;
		p->used = 0;
	}
	for (;;) {
		ssize_t r;

		nl = p->len ? memchr(p->buf, '\n', p->len) : NULL;
		if (nl != NULL)
			break;
		if (p->cap - p->len < 4096) {
			size_t ncap = p->cap ? 2 * p->cap : 65536;
			char *nb = realloc(p->buf, ncap);

			if (nb == NULL) {
				mark_dead(p, "out of memory", ENOMEM);
				return NULL;
			}
			p->buf = nb;
			p->cap = ncap;
		}
		r = read(p->out_fd, p->buf + p->len, p->cap - p->len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			mark_dead(p, "read from the peer failed", errno);
			return NULL;
		}
		if (r == 0) {
			mark_dead(p, "the peer closed its output before a "
				  "full reply line", 0);
			return NULL;
		}
		p->len += (size_t)r;
	}
	*nl = '\0';
	p->used = (size_t)(nl - p->buf) + 1;
	if (nl > p->buf && nl[-1] == '\r')
		nl[-1] = '\0';
	return p->buf;
}

static const char *send_line(struct peer *p, char *line, size_t n)
{
	/* line has room for the newline at line[n]. */
	if (memchr(line, '\n', n) != NULL) {
		PEER_FAIL(p, "peer %s: a command must be one line", p->name);
		return NULL;
	}
	line[n] = '\n';
	if (write_all(p, line, n + 1) != 0)
		return NULL;
	return read_line(p);
}

const char *peer_cmd(struct peer *p, const char *fmt, ...)
{
	const char *r;
	va_list ap;
	char *s, *t;
	int n;

	if (p->dead || p->pid <= 0)
		return NULL;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		mark_dead(p, "out of memory", ENOMEM);
		return NULL;
	}
	t = realloc(s, (size_t)n + 1);
	if (t == NULL) {
		free(s);
		mark_dead(p, "out of memory", ENOMEM);
		return NULL;
	}
	r = send_line(p, t, (size_t)n);
	free(t);
	return r;
}

static const char hexdig[] = "0123456789abcdef";

const char *peer_cmd_hex(struct peer *p, const char *cmd, const uint8_t *b,
			 size_t n)
{
	size_t cl = strlen(cmd), len = cl + 1 + (n ? 2 * n : 1);
	const char *r;
	char *s;

	if (p->dead || p->pid <= 0)
		return NULL;
	s = malloc(len + 1);
	if (s == NULL) {
		mark_dead(p, "out of memory", ENOMEM);
		return NULL;
	}
	memcpy(s, cmd, cl);
	s[cl] = ' ';
	if (n == 0)
		s[cl + 1] = '-';
	for (size_t i = 0; i < n; i++) {
		s[cl + 1 + 2 * i] = hexdig[b[i] >> 4];
		s[cl + 2 + 2 * i] = hexdig[b[i] & 15];
	}
	r = send_line(p, s, len);
	free(s);
	return r;
}

bool peer_is_error(const char *reply)
{
	return reply == NULL || strncmp(reply, "error", 5) == 0;
}

int peer_unhex(const char *hex, struct test_bytes *out)
{
	out->p = NULL;
	out->len = 0;
	if (hex == NULL)
		return -1;
	if (strcmp(hex, "-") == 0) {
		out->p = malloc(1);
		return out->p ? 0 : -1;
	}
	if (hex[0] == '\0')
		return -1;
	return test_hex(hex, out);
}

char *peer_hex(const uint8_t *b, size_t n)
{
	char *s = malloc(n ? 2 * n + 1 : 2);

	if (s == NULL)
		return NULL;
	if (n == 0) {
		strcpy(s, "-");
		return s;
	}
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = hexdig[b[i] >> 4];
		s[2 * i + 1] = hexdig[b[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

int peer_close(struct peer *p)
{
	int ok = 0;

	if (p->pid > 0 && !p->dead) {
		const char *r = peer_cmd(p, "quit");

		if (r != NULL && strcmp(r, "bye") != 0)
			PEER_FAIL(p, "peer %s: quit answered \"%.80s\"",
				  p->name, r);
	}
	if (p->in_fd >= 0)
		close(p->in_fd);
	if (p->out_fd >= 0)
		close(p->out_fd);
	p->in_fd = p->out_fd = -1;
	if (p->pid > 0)
		reap(p, 2000);
	if (WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0 && !p->dead)
		ok = 1;
	free(p->buf);
	p->buf = NULL;
	p->len = p->cap = p->used = 0;
	p->dead = true;
	return ok ? 0 : -1;
}
