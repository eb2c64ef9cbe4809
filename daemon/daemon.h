/* The epochd daemon (DESIGN.md §3-§8): one process, one thread, one epoll
 * loop joining the tunnels' state machines (daemon/tunnel.h) with the UDP
 * wire protocol (daemon/wire.h), the kernel's XFRM (xfrm/xfrm.h), the
 * control socket (daemon/ctl.h) and the configuration (daemon/config.h).
 *
 * daemon/epochd.c is only the command line around these calls. */
#ifndef EPOCHD_DAEMON_H
#define EPOCHD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

struct daemon;

struct daemon_opts {
	const char *config_path; /* NULL: CONFIG_DEFAULT_PATH */
	bool debug;              /* log level debug whatever the config says */
};

/* Loads the configuration and the private key, opens the sockets and the
 * kernel interfaces, flushes what a previous instance left in the tunnels'
 * reqids, installs the tunnels' policies and starts the initiators'
 * handshakes. -1 with a one-line message in err on any failure (nothing
 * is left behind). */
int daemon_open(struct daemon **d, const struct daemon_opts *o, char *err,
		size_t errlen);
/* Runs the event loop until SIGTERM or SIGINT (SIGHUP reloads). 0, or -1
 * after a fatal error (already logged). */
int daemon_run(struct daemon *d);
/* Deletes every SA and policy of the tunnels, removes the control socket
 * and frees everything. */
void daemon_close(struct daemon *d);

/* `epochd -t`: loads and checks the configuration and the key file. */
int daemon_check_config(const char *path, char *err, size_t errlen);

#endif
