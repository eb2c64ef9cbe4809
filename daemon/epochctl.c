/* epochctl: the command-line client of epochd's control socket
 * (docs/epochctl.8, docs/control.md).
 *
 * Exit codes: 0 success; 1 the daemon refused the request (or genkey /
 * pubkey failed); 2 usage error; 3 the daemon cannot be reached or sent
 * something that is not a valid reply (including the end of a watch).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/ctl.h"
#include "daemon/keyfile.h"
#include "proto/crypto.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

#define KEYFILE_DEFAULT "/etc/epochd/private.key"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: epochctl [-s SOCKET] COMMAND [ARGS]\n"
		"\n"
		"  status [NAME] [--json]  tunnels' state, keys and counters\n"
		"  up NAME                 start (or restart) a tunnel\n"
		"  down NAME               stop a tunnel, delete its SAs\n"
		"  rekey NAME              start a rekey now\n"
		"  reload                  re-read the configuration\n"
		"  watch                   print events, one JSON object a "
		"line\n"
		"  genkey [FILE]           write a new private key file "
		"(0600),\n"
		"                          print its public key\n"
		"  pubkey [FILE]           print a key file's public key\n"
		"\n"
		"  -s SOCKET  control socket (default %s)\n"
		"  KEY FILE defaults to %s\n",
		CTL_SOCKET_DEFAULT, KEYFILE_DEFAULT);
}

static int fail(int code, const char *msg)
{
	fprintf(stderr, "epochctl: %s\n", msg);
	return code;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Sends the request and reads the first reply line into acc (set up here;
 * the caller frees it on success). Returns 0, or an exit code after
 * printing the error, with nothing left to free. */
static int transact(const char *sock, const struct ctl_request *req,
		    int *fdp, struct ctl_buf *acc, size_t *line_len)
{
	char err[CTL_ERR_MAX + 64], line[CTL_REQ_MAX];
	int fd, rc;

	ctl_buf_init(acc, CTL_REPLY_MAX);
	if (ctl_request_format(req, line, sizeof(line)) < 0)
		return fail(EXIT_USAGE, "bad tunnel name");
	fd = ctl_connect(sock, err, sizeof(err));
	if (fd < 0)
		return fail(EXIT_UNREACHABLE, err);
	if (write_all(fd, line, strlen(line)) < 0) {
		close(fd);
		snprintf(err, sizeof(err), "cannot send to %s", sock);
		return fail(EXIT_UNREACHABLE, err);
	}
	rc = ctl_read_line(fd, acc, line_len, err, sizeof(err));
	if (rc <= 0) {
		close(fd);
		ctl_buf_free(acc);
		return fail(EXIT_UNREACHABLE,
			    rc == 0 ? "epochd closed the connection without "
				      "a reply" : err);
	}
	*fdp = fd;
	return 0;
}

static int cmd_status(const char *sock, const struct ctl_request *req,
		      bool json)
{
	struct ctl_buf acc, out;
	struct ctl_status *st;
	char err[CTL_ERR_MAX + 64];
	size_t len, n;
	int fd, rc;

	rc = transact(sock, req, &fd, &acc, &len);
	if (rc != 0)
		return rc;
	close(fd);
	rc = ctl_status_reply_parse(acc.p, len, &st, &n, err, sizeof(err));
	if (rc != 0) {
		ctl_buf_free(&acc);
		return fail(rc > 0 ? EXIT_REFUSED : EXIT_UNREACHABLE, err);
	}
	ctl_buf_init(&out, CTL_REPLY_MAX * 2);
	if (json) /* the daemon's line as it is, checked above */
		ctl_buf_printf(&out, "%s\n", acc.p);
	else
		ctl_status_table(&out, st, n, (uint64_t)time(NULL));
	free(st);
	ctl_buf_free(&acc);
	rc = 0;
	if (out.err || fwrite(out.p, 1, out.len, stdout) != out.len ||
	    fflush(stdout) != 0)
		rc = fail(EXIT_REFUSED, "cannot write the output");
	ctl_buf_free(&out);
	return rc;
}

static int cmd_simple(const char *sock, const struct ctl_request *req)
{
	struct ctl_buf acc;
	char err[CTL_ERR_MAX + 64], msg[1024];
	size_t len;
	int fd, rc;

	rc = transact(sock, req, &fd, &acc, &len);
	if (rc != 0)
		return rc;
	close(fd);
	rc = ctl_reply_parse(acc.p, len, msg, sizeof(msg), err, sizeof(err));
	ctl_buf_free(&acc);
	if (rc < 0)
		return fail(EXIT_UNREACHABLE, err);
	if (rc > 0)
		return fail(EXIT_REFUSED, msg);
	if (msg[0] != '\0')
		printf("%s\n", msg);
	return 0;
}

static int cmd_watch(const char *sock, const struct ctl_request *req)
{
	struct ctl_buf acc;
	char err[CTL_ERR_MAX + 64], msg[1024];
	size_t len;
	int fd, rc;

	rc = transact(sock, req, &fd, &acc, &len);
	if (rc != 0)
		return rc;
	rc = ctl_reply_parse(acc.p, len, msg, sizeof(msg), err, sizeof(err));
	if (rc != 0) {
		close(fd);
		ctl_buf_free(&acc);
		return rc < 0 ? fail(EXIT_UNREACHABLE, err)
			      : fail(EXIT_REFUSED, msg);
	}
	ctl_buf_consume(&acc, len + 1);
	for (;;) {
		rc = ctl_read_line(fd, &acc, &len, err, sizeof(err));
		if (rc <= 0)
			break;
		printf("%s\n", acc.p);
		if (fflush(stdout) != 0) {
			rc = -2;
			break;
		}
		ctl_buf_consume(&acc, len + 1);
	}
	close(fd);
	ctl_buf_free(&acc);
	if (rc == -2)
		return fail(EXIT_REFUSED, "cannot write the output");
	return fail(EXIT_UNREACHABLE, rc == 0 ? "epochd closed the connection"
					      : err);
}

static int cmd_genkey(const char *path)
{
	char pk[KEY_B64_LEN + 1], err[512];

	if (keyfile_generate(path, pk, err, sizeof(err)) < 0)
		return fail(EXIT_REFUSED, err);
	printf("%s\n", pk);
	return 0;
}

static int cmd_pubkey(const char *path)
{
	uint8_t sk[32], pk[32];
	char b64[KEY_B64_LEN + 1], err[512];
	int rc;

	rc = keyfile_load(path, sk, pk, err, sizeof(err));
	crypto_wipe(sk, sizeof(sk));
	if (rc < 0)
		return fail(EXIT_REFUSED, err);
	key_public_encode(pk, b64);
	printf("%s\n", b64);
	return 0;
}

int main(int argc, char **argv)
{
	const char *sock = CTL_SOCKET_DEFAULT, *cmd, *arg = NULL;
	struct ctl_request req;
	bool json = false, words = false;
	char msg[128];
	int i = 1, c;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "-s") == 0 ||
			   strcmp(argv[i], "--socket") == 0) {
			if (++i == argc)
				return fail(EXIT_USAGE, "-s needs a path");
			sock = argv[i];
		} else if (strncmp(argv[i], "--socket=", 9) == 0) {
			sock = argv[i] + 9;
		} else {
			snprintf(msg, sizeof(msg), "unknown option %.40s "
				 "(try epochctl --help)", argv[i]);
			return fail(EXIT_USAGE, msg);
		}
	}
	if (i == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[i++];
	/* Arguments: at most one word, plus --json for status; after "--"
	 * only words (a tunnel name may begin with '-'). */
	for (; i < argc; i++) {
		if (!words && strcmp(argv[i], "--") == 0) {
			words = true;
		} else if (!words && strcmp(cmd, "status") == 0 &&
			   strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (!words && argv[i][0] == '-' && argv[i][1] != '\0') {
			snprintf(msg, sizeof(msg), "%s: unknown option %.40s",
				 cmd, argv[i]);
			return fail(EXIT_USAGE, msg);
		} else if (arg == NULL) {
			arg = argv[i];
		} else {
			snprintf(msg, sizeof(msg), "%s: too many arguments",
				 cmd);
			return fail(EXIT_USAGE, msg);
		}
	}
	if (strcmp(cmd, "genkey") == 0)
		return cmd_genkey(arg ? arg : KEYFILE_DEFAULT);
	if (strcmp(cmd, "pubkey") == 0)
		return cmd_pubkey(arg ? arg : KEYFILE_DEFAULT);

	memset(&req, 0, sizeof(req));
	for (c = 0; c < CTL_CMD_COUNT; c++)
		if (strcmp(cmd, ctl_cmd_name((enum ctl_cmd)c)) == 0)
			break;
	if (c == CTL_CMD_COUNT) {
		snprintf(msg, sizeof(msg), "unknown command %.40s (try "
			 "epochctl --help)", cmd);
		return fail(EXIT_USAGE, msg);
	}
	req.cmd = (enum ctl_cmd)c;
	if (arg != NULL) {
		if (req.cmd == CTL_CMD_RELOAD || req.cmd == CTL_CMD_WATCH) {
			snprintf(msg, sizeof(msg), "%s takes no argument",
				 cmd);
			return fail(EXIT_USAGE, msg);
		}
		if (!ctl_name_valid(arg, strlen(arg))) {
			snprintf(msg, sizeof(msg), "bad tunnel name \"%.40s\"",
				 arg);
			return fail(EXIT_USAGE, msg);
		}
		memcpy(req.tunnel, arg, strlen(arg) + 1);
	} else if (req.cmd == CTL_CMD_UP || req.cmd == CTL_CMD_DOWN ||
		   req.cmd == CTL_CMD_REKEY) {
		snprintf(msg, sizeof(msg), "%s needs a tunnel name", cmd);
		return fail(EXIT_USAGE, msg);
	}
	switch (req.cmd) {
	case CTL_CMD_STATUS:
		return cmd_status(sock, &req, json);
	case CTL_CMD_WATCH:
		return cmd_watch(sock, &req);
	default:
		return cmd_simple(sock, &req);
	}
}
