/* epochd: the MLS-keyed IPsec daemon (docs/epochd.8). The command line
 * around daemon/daemon.h.
 *
 * Exit status: 0 after SIGTERM/SIGINT (or -t with a good configuration),
 * 1 when the configuration, the key or the system refuses, 2 usage. */
#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: epochd [-c CONFIG] [-t] [-d]\n"
		"  -c CONFIG  configuration file (default %s)\n"
		"  -t         check the configuration and the key file, "
		"then exit\n"
		"  -d         log at debug level\n"
		"Runs in the foreground; SIGHUP reloads, SIGTERM stops.\n",
		CONFIG_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
	struct daemon_opts o = { NULL, false };
	struct daemon *d;
	bool check = false;
	char err[1024];
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			o.config_path = argv[++i];
		} else if (strcmp(argv[i], "-t") == 0) {
			check = true;
		} else if (strcmp(argv[i], "-d") == 0) {
			o.debug = true;
		} else if (strcmp(argv[i], "-h") == 0 ||
			   strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "epochd: unknown argument '%s'\n",
				argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (check) {
		if (daemon_check_config(o.config_path, err, sizeof(err)) < 0) {
			fprintf(stderr, "epochd: %s\n", err);
			return 1;
		}
		printf("epochd: %s: configuration OK\n",
		       o.config_path ? o.config_path : CONFIG_DEFAULT_PATH);
		return 0;
	}
	if (daemon_open(&d, &o, err, sizeof(err)) < 0) {
		log_msg(CONFIG_LOG_ERROR, NULL, "%s", err);
		return 1;
	}
	rc = daemon_run(d);
	daemon_close(d);
	log_close();
	return rc < 0 ? 1 : 0;
}
