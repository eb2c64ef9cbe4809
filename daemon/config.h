/* epochd's configuration (/etc/epochd.conf, libconfig syntax; DESIGN §8,
 * docs/epochd.conf.5).
 *
 *   global = { private_key = "/etc/epochd/private.key"; ... };
 *   tunnels = ( { name = "site-b"; local = "192.0.2.1"; ... }, ... );
 *
 * Loading is all or nothing: any syntax error, unknown setting, missing
 * required setting, wrong type, out-of-range value, duplicate tunnel name or
 * reqid gives -1 and one message "FILE:LINE: SETTING: what is wrong", e.g.
 *   /etc/epochd.conf:12: tunnels.[0].remote: "192.0.2.300" is not an IPv4
 *   or IPv6 address
 * SETTING is the libconfig path of the offending setting. `@include`
 * directives are refused (a config never makes the daemon read other
 * files). A loaded struct config is plain data owning its tunnel array; it
 * holds no libconfig object.
 */
#ifndef EPOCHD_CONFIG_H
#define EPOCHD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xfrm/xfrm.h" /* struct xfrm_addr, enum xfrm_aead (types only) */

#define CONFIG_DEFAULT_PATH "/etc/epochd.conf"
#define CONFIG_FILE_MAX (1024 * 1024) /* bytes; bigger files are refused */

#define CONFIG_NAME_MAX 32    /* tunnel names: [A-Za-z0-9_-]{1,32} */
#define CONFIG_PATH_MAX 256   /* bytes of a path setting, NUL included */
#define CONFIG_LISTEN_MAX 8   /* listen addresses */
#define CONFIG_TS_MAX 16      /* prefixes in local_ts / remote_ts */
#define CONFIG_TUNNELS_MAX 1024

#define CONFIG_PORT_DEFAULT 7450
#define CONFIG_MTU_DEFAULT 1280
#define CONFIG_MTU_MIN 576
#define CONFIG_MTU_MAX 65535
/* Denial of service (docs/protocol.md §5, load rules). */
#define CONFIG_COOKIE_THRESHOLD_DEFAULT 2 /* half-open handshakes */
#define CONFIG_COOKIE_THRESHOLD_MAX 65535
#define CONFIG_HELLO_RATE_DEFAULT 2       /* HELLOs per second per source */
#define CONFIG_HELLO_BURST_DEFAULT 8
#define CONFIG_HELLO_RATE_MAX 100000
#define CONFIG_STATE_DIR_DEFAULT "/var/lib/epochd"
#define CONFIG_CONTROL_DEFAULT "/run/epochd/epochd.sock"
/* The unprivileged user the network process runs as (docs/privsep.md);
 * "" turns privilege separation off. */
#define CONFIG_USER_DEFAULT "epochd"
#define CONFIG_USER_MAX 32 /* bytes of a user name, NUL excluded */

#define CONFIG_REKEY_TIME_DEFAULT 3600 /* seconds */
#define CONFIG_REKEY_TIME_MIN 10
#define CONFIG_REKEY_TIME_MAX (7 * 24 * 3600)
#define CONFIG_REKEY_JITTER_DEFAULT 10 /* percent */
#define CONFIG_REKEY_JITTER_MAX 50
#define CONFIG_DPD_INTERVAL_DEFAULT 10 /* seconds; 0: off */
#define CONFIG_DPD_INTERVAL_MAX 3600
#define CONFIG_DPD_TIMEOUT_DEFAULT 30
#define CONFIG_DPD_TIMEOUT_MAX 86400
/* Tunnels without a reqid get one in [AUTO_LO, AUTO_HI] (a hash of the
 * name, probed past taken values, so it survives edits of other tunnels);
 * explicit reqids must lie in [1, CONFIG_REQID_MAX] outside that range. */
#define CONFIG_REQID_MAX 0x7fffffffu
#define CONFIG_REQID_AUTO_LO 0x45700000u
#define CONFIG_REQID_AUTO_HI 0x4570ffffu

enum config_log_level {
	CONFIG_LOG_ERROR,
	CONFIG_LOG_WARNING,
	CONFIG_LOG_NOTICE,
	CONFIG_LOG_INFO, /* default */
	CONFIG_LOG_DEBUG,
};

enum config_log_target {
	CONFIG_LOG_STDERR, /* default */
	CONFIG_LOG_SYSLOG,
};

enum config_role {
	CONFIG_ROLE_AUTO, /* default: the lower address initiates */
	CONFIG_ROLE_INITIATOR,
	CONFIG_ROLE_RESPONDER,
};

/* An address prefix (traffic selector); host bits are always zero. */
struct config_prefix {
	struct xfrm_addr addr;
	uint8_t plen;
};

struct config_tunnel {
	char name[CONFIG_NAME_MAX + 1];
	struct xfrm_addr local, remote; /* same family */
	uint8_t peer_key[32];           /* Ed25519 public key */
	struct config_prefix local_ts[CONFIG_TS_MAX];
	struct config_prefix remote_ts[CONFIG_TS_MAX];
	size_t n_local_ts, n_remote_ts; /* at least 1 each */
	uint16_t suite;                 /* MLS cipher suite (proto/mls.h) */
	enum xfrm_aead esp;
	uint32_t rekey_time;            /* seconds */
	uint32_t rekey_jitter;          /* percent: the timer fires at
					 * rekey_time minus up to this much */
	uint64_t rekey_bytes, rekey_packets; /* soft limits; 0: none */
	/* Kernel hard lifetimes (derived, not settable): 110% of the soft
	 * ones; hard_time is rekey_time + max(rekey_time / 10, 60). */
	uint64_t hard_bytes, hard_packets;
	uint32_t hard_time;
	uint32_t dpd_interval, dpd_timeout; /* seconds; interval 0: off */
	enum config_role role;          /* as written */
	bool initiator;                 /* role resolved (auto: lower
					 * address, see config_role_resolve) */
	uint32_t reqid;
	bool reqid_auto;
	uint32_t mark, mark_mask;       /* mark_mask 0: no mark */
	uint32_t if_id;                 /* 0: none */
	bool enabled;
	unsigned line;                  /* of the tunnel's group */
};

struct config_global {
	struct xfrm_addr listen[CONFIG_LISTEN_MAX];
	size_t n_listen;            /* default: 0.0.0.0 and :: */
	uint16_t port;
	char private_key[CONFIG_PATH_MAX];
	unsigned private_key_line;  /* of the setting, for messages */
	char state_dir[CONFIG_PATH_MAX];
	char control_socket[CONFIG_PATH_MAX];
	char pid_file[CONFIG_PATH_MAX]; /* "": none (the default) */
	char user[CONFIG_USER_MAX + 1]; /* "": no privilege separation */
	enum config_log_level log_level;
	enum config_log_target log_target;
	uint32_t mtu;
	/* HELLOs need a cookie while this many handshakes are half-open
	 * (0: always). */
	uint32_t cookie_threshold;
	/* Per source address: HELLOs per second and burst before its
	 * HELLOs need a cookie. */
	uint32_t hello_rate;
	uint32_t hello_burst;
};

struct config {
	char source[CONFIG_PATH_MAX]; /* file name used in messages */
	struct config_global global;
	struct config_tunnel *tunnels; /* in file order */
	size_t n_tunnels;
};

/* Reads and checks path. On success out owns its memory (config_free);
 * on failure out is left empty and err holds the message. */
int config_load_file(const char *path, struct config *out, char *err,
		     size_t errlen);
/* The same over len bytes of text (need not be NUL-terminated; a NUL byte
 * inside is an error); name stands for the file in messages. */
int config_load_string(const char *text, size_t len, const char *name,
		       struct config *out, char *err, size_t errlen);
/* Frees and zeroes; safe on a zeroed struct and twice. */
void config_free(struct config *c);
/* keyfile_load of global.private_key; a refusal (missing, unreadable,
 * group or world readable, malformed) is reported as
 * "FILE:LINE: global.private_key: <keyfile's message>". */
int config_load_key(const struct config *c, uint8_t sk[32], uint8_t pk[32],
		    char *err, size_t errlen);

/* Checks the invariants of a loaded struct (ranges, address families,
 * unique names and reqids, resolved roles): 0 or -1 with a message. Every
 * config a load returns passes it. */
int config_check(const struct config *c, char *err, size_t errlen);

const struct config_tunnel *config_tunnel_find(const struct config *c,
					       const char *name);
/* true if this side initiates: CONFIG_ROLE_INITIATOR, or AUTO and the
 * local address is numerically lower than the remote one (network byte
 * order, both of one family). Both sides with auto agree on one
 * initiator. */
bool config_role_resolve(enum config_role role, const struct xfrm_addr *local,
			 const struct xfrm_addr *remote);

/* Names as written in the config; "?" for an unknown value. */
const char *config_suite_name(uint16_t suite);
const char *config_esp_name(enum xfrm_aead esp);
const char *config_role_name(enum config_role role);
const char *config_log_level_name(enum config_log_level level);
const char *config_log_target_name(enum config_log_target target);

/* What `epochctl reload` has to do. */
enum config_change {
	CONFIG_UNCHANGED,
	CONFIG_ADDED,
	CONFIG_REMOVED,
	CONFIG_CHANGED,
};

struct config_diff_entry {
	const char *name;                /* points into old or new */
	enum config_change change;
	const struct config_tunnel *old; /* NULL when added */
	const struct config_tunnel *new; /* NULL when removed */
};

struct config_diff {
	/* Every tunnel name of either config once: old's in old's order,
	 * then those only in new, in new's order. */
	struct config_diff_entry *entries;
	size_t n;
	size_t n_added, n_removed, n_changed, n_unchanged;
	/* Global settings that need a restart differ (listen, port,
	 * private_key, state_dir, control_socket, pid_file, user). log_level,
	 * log_target and mtu do not count: a reload can apply them. */
	bool global_changed;
};

/* Pointers in out stay valid while old and new live. 0, or -1 when out of
 * memory. */
int config_diff(const struct config *old, const struct config *new,
		struct config_diff *out);
void config_diff_free(struct config_diff *d);
/* true if a and b are the same tunnel in every setting (line aside). */
bool config_tunnel_equal(const struct config_tunnel *a,
			 const struct config_tunnel *b);

#endif
