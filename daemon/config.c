/* epochd.conf loader (config.h): libconfig parses, this file checks every
 * setting and copies it into plain structs. The first error stops the load;
 * its message is "FILE:LINE: SETTING: what", SETTING the libconfig path
 * ("global.port", "tunnels.[0].remote", "tunnels.[0].local_ts.[1]").
 */
#include "daemon/config.h"
#include "daemon/keyfile.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/errmsg.h"
#include "daemon/keyfile.h"
#include "proto/mls.h"

#define SETTING_PATH_MAX 96

struct loader {
	const char *file; /* name in messages */
	char *err;
	size_t errlen;
};


/* "FILE:LINE: SETTING: message"; LINE is left out when unknown (0),
 * SETTING when NULL. Returns -1. */
static int fail(const struct loader *l, unsigned line, const char *setting,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(const struct loader *l, unsigned line, const char *setting,
		const char *fmt, ...)
{
	char msg[256];
	char where[SETTING_PATH_MAX + 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (setting)
		snprintf(where, sizeof(where), " %s:", setting);
	else
		where[0] = '\0';
	if (line)
		errmsg_set(l->err, l->errlen, "%s:%u:%s %s", l->file, line, where,
		       msg);
	else
		errmsg_set(l->err, l->errlen, "%s:%s %s", l->file, where, msg);
	return -1;
}

static unsigned line_of(const config_setting_t *s)
{
	return s ? config_setting_source_line(s) : 0;
}

/* ---- names ------------------------------------------------------------- */

struct name_value {
	const char *name;
	int value;
};

static const struct name_value suites[] = {
	{ "xwing", MLS_SUITE_XWING_AES256GCM_SHA512_ED25519 },
	{ "xwing-tsmls", MLS_SUITE_XWING_AES256GCM_SHA512_ED25519_TSMLS16 },
	{ "x25519-aes128", MLS_SUITE_X25519_AES128GCM_SHA256_ED25519 },
	{ "x25519-chacha", MLS_SUITE_X25519_CHACHA20_SHA256_ED25519 },
	{ NULL, 0 },
};

static const struct name_value esps[] = {
	{ "aes256gcm", XFRM_AEAD_AES256_GCM },
	{ "aes128gcm", XFRM_AEAD_AES128_GCM },
	{ "chacha20poly1305", XFRM_AEAD_CHACHA20_POLY1305 },
	{ NULL, 0 },
};

static const struct name_value roles[] = {
	{ "auto", CONFIG_ROLE_AUTO },
	{ "initiator", CONFIG_ROLE_INITIATOR },
	{ "responder", CONFIG_ROLE_RESPONDER },
	{ NULL, 0 },
};

static const struct name_value levels[] = {
	{ "error", CONFIG_LOG_ERROR },
	{ "warning", CONFIG_LOG_WARNING },
	{ "notice", CONFIG_LOG_NOTICE },
	{ "info", CONFIG_LOG_INFO },
	{ "debug", CONFIG_LOG_DEBUG },
	{ NULL, 0 },
};

static const struct name_value targets[] = {
	{ "stderr", CONFIG_LOG_STDERR },
	{ "syslog", CONFIG_LOG_SYSLOG },
	{ NULL, 0 },
};

static const char *name_of(const struct name_value *t, int v)
{
	for (; t->name; t++)
		if (t->value == v)
			return t->name;
	return "?";
}

static int value_of(const struct name_value *t, const char *name, int *v)
{
	for (; t->name; t++) {
		if (strcmp(t->name, name) == 0) {
			*v = t->value;
			return 0;
		}
	}
	return -1;
}

/* "a", "b" or "c" for messages. */
static void names_list(const struct name_value *t, char *out, size_t n)
{
	size_t off = 0;

	out[0] = '\0';
	for (const struct name_value *p = t; p->name && off < n; p++) {
		const char *sep = p == t ? "" : p[1].name ? ", " : " or ";
		int w = snprintf(out + off, n - off, "%s\"%s\"", sep, p->name);

		if (w < 0)
			break;
		off += (size_t)w;
	}
}

const char *config_suite_name(uint16_t suite)
{
	return name_of(suites, suite);
}

const char *config_esp_name(enum xfrm_aead esp)
{
	return name_of(esps, (int)esp);
}

const char *config_role_name(enum config_role role)
{
	return name_of(roles, (int)role);
}

const char *config_log_level_name(enum config_log_level level)
{
	return name_of(levels, (int)level);
}

const char *config_log_target_name(enum config_log_target target)
{
	return name_of(targets, (int)target);
}

/* ---- addresses --------------------------------------------------------- */

static size_t addr_len(const struct xfrm_addr *a)
{
	return a->family == AF_INET ? 4 : a->family == AF_INET6 ? 16 : 0;
}

static const uint8_t *addr_bytes(const struct xfrm_addr *a)
{
	return a->family == AF_INET ? (const uint8_t *)&a->a.v4 :
				      (const uint8_t *)&a->a.v6;
}

static bool addr_equal(const struct xfrm_addr *a, const struct xfrm_addr *b)
{
	return a->family == b->family && addr_len(a) != 0 &&
	       memcmp(addr_bytes(a), addr_bytes(b), addr_len(a)) == 0;
}

/* Strict: what inet_pton accepts (dotted quad or RFC 4291 text), nothing
 * else (no zone, no brackets, no spaces). */
/* 0 or -1: an IPv4 or IPv6 address, as xfrm/ parses it. */
static int addr_parse(const char *s, struct xfrm_addr *out)
{
	return xfrm_addr_parse(out, s) == 0 ? 0 : -1;
}

static bool addr_is_zero(const struct xfrm_addr *a)
{
	const uint8_t *p = addr_bytes(a);

	for (size_t i = 0; i < addr_len(a); i++)
		if (p[i])
			return false;
	return true;
}

static bool addr_is_multicast(const struct xfrm_addr *a)
{
	const uint8_t *p = addr_bytes(a);

	return a->family == AF_INET ? (p[0] & 0xf0) == 0xe0 : p[0] == 0xff;
}

static const char *family_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

/* true if no bit after the first plen is set. */
static bool prefix_host_bits_clear(const struct config_prefix *p)
{
	const uint8_t *b = addr_bytes(&p->addr);
	size_t n = addr_len(&p->addr);

	for (size_t i = 0; i < n; i++) {
		unsigned bits = i * 8 >= p->plen ? 8 :
				(p->plen - i * 8 >= 8 ? 0 :
				 8 - (p->plen - i * 8));
		uint8_t mask = (uint8_t)((1u << bits) - 1);

		if (b[i] & mask)
			return false;
	}
	return true;
}

/* "addr" or "addr/len" (len decimal, no sign, no leading zeros). A bare
 * address is a host prefix. -1 bad syntax, -2 host bits set. */
static int prefix_parse(const char *s, struct config_prefix *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned plen = 0, max;

	memset(out, 0, sizeof(*out));
	if (alen >= INET6_ADDRSTRLEN)
		return -1;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (addr_parse(buf, &out->addr) != 0)
		return -1;
	max = out->addr.family == AF_INET ? 32 : 128;
	if (slash) {
		const char *d = slash + 1;

		if (!*d || (d[0] == '0' && d[1]) || strlen(d) > 3)
			return -1;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return -1;
			plen = plen * 10 + (unsigned)(*d - '0');
		}
		if (plen > max)
			return -1;
	} else {
		plen = max;
	}
	out->plen = (uint8_t)plen;
	if (!prefix_host_bits_clear(out))
		return -2;
	return 0;
}

bool config_role_resolve(enum config_role role, const struct xfrm_addr *local,
			 const struct xfrm_addr *remote)
{
	if (role == CONFIG_ROLE_INITIATOR)
		return true;
	if (role == CONFIG_ROLE_RESPONDER)
		return false;
	if (local->family != remote->family || addr_len(local) == 0)
		return false;
	return memcmp(addr_bytes(local), addr_bytes(remote),
		      addr_len(local)) < 0;
}

/* ---- typed getters ----------------------------------------------------- */

static int get_string(const struct loader *l, const config_setting_t *s,
		      const char *path, const char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(l, line_of(s), path, "expected a string");
	*out = config_setting_get_string(s);
	if (!*out)
		return fail(l, line_of(s), path, "expected a string");
	return 0;
}

/* libconfig reads a hex constant without L as 32 bits and keeps it as a
 * signed int, so 0x80000000 to 0xffffffff come back negative: they are
 * taken as the unsigned value they spell. (Constants that do not fit at all
 * never get here: check_literals refuses them.) */
static int get_int(const struct loader *l, const config_setting_t *s,
		   const char *path, long long min, long long max,
		   long long *out)
{
	long long v;
	int t = config_setting_type(s);

	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
		return fail(l, line_of(s), path, "expected an integer");
	v = config_setting_get_int64(s);
	if (t == CONFIG_TYPE_INT && v < 0 &&
	    config_setting_get_format(s) == CONFIG_FORMAT_HEX)
		v = (long long)(uint32_t)v;
	if (v < min || v > max)
		return fail(l, line_of(s), path,
			    "%lld is out of range (%lld to %lld)", v, min,
			    max);
	*out = v;
	return 0;
}

/* A 32-bit unsigned value, min to 0xffffffff. */
static int get_u32(const struct loader *l, const config_setting_t *s,
		   const char *path, uint32_t min, uint32_t *out)
{
	long long v;

	if (get_int(l, s, path, min, 0xffffffffLL, &v) != 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int get_bool(const struct loader *l, const config_setting_t *s,
		    const char *path, bool *out)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return fail(l, line_of(s), path,
			    "expected true or false");
	*out = config_setting_get_bool(s) != 0;
	return 0;
}

static int get_enum(const struct loader *l, const config_setting_t *s,
		    const char *path, const struct name_value *t, int *out)
{
	char names[160];
	const char *str;

	if (get_string(l, s, path, &str) != 0)
		return -1;
	if (value_of(t, str, out) == 0)
		return 0;
	names_list(t, names, sizeof(names));
	return fail(l, line_of(s), path, "\"%.64s\" is not one of %s", str,
		    names);
}

static int get_path(const struct loader *l, const config_setting_t *s,
		    const char *path, bool empty_ok, char out[CONFIG_PATH_MAX])
{
	const char *str;
	size_t n;

	if (get_string(l, s, path, &str) != 0)
		return -1;
	n = strlen(str);
	if (n == 0 && empty_ok) {
		out[0] = '\0';
		return 0;
	}
	if (str[0] != '/')
		return fail(l, line_of(s), path,
			    "\"%.64s\" is not an absolute path", str);
	if (n >= CONFIG_PATH_MAX)
		return fail(l, line_of(s), path,
			    "path longer than %d bytes", CONFIG_PATH_MAX - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)str[i] < 0x20 || str[i] == 0x7f)
			return fail(l, line_of(s), path,
				    "control character in path");
	memcpy(out, str, n + 1);
	return 0;
}

static int get_addr(const struct loader *l, const config_setting_t *s,
		    const char *path, struct xfrm_addr *out)
{
	const char *str;

	if (get_string(l, s, path, &str) != 0)
		return -1;
	if (addr_parse(str, out) != 0)
		return fail(l, line_of(s), path,
			    "\"%.64s\" is not an IPv4 or IPv6 address", str);
	return 0;
}

/* Unknown members of a group are errors (a typo must not be ignored). */
static int check_known(const struct loader *l, const config_setting_t *g,
		       const char *path, const char *const *known)
{
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g, i);
		const char *name = m ? config_setting_name(m) : NULL;
		const char *const *k;
		char sub[SETTING_PATH_MAX];

		if (!name)
			continue;
		for (k = known; *k; k++)
			if (strcmp(*k, name) == 0)
				break;
		if (*k)
			continue;
		if (path)
			snprintf(sub, sizeof(sub), "%.48s.%.40s", path, name);
		else
			snprintf(sub, sizeof(sub), "%.40s", name);
		return fail(l, line_of(m), sub, "unknown setting");
	}
	return 0;
}

static const config_setting_t *member(const config_setting_t *g,
				      const char *name, const char *path,
				      char sub[SETTING_PATH_MAX])
{
	snprintf(sub, SETTING_PATH_MAX, "%.48s.%.40s", path, name);
	return config_setting_get_member(g, name);
}

/* ---- global ------------------------------------------------------------ */

/* A portable user name (POSIX 3.437, as useradd takes them), or "". A
 * leading digit is refused so a name is never taken for a uid. */
static bool user_ok(const char *u)
{
	size_t n = strlen(u);

	if (n > CONFIG_USER_MAX || u[0] == '-' || (u[0] >= '0' && u[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((u[i] >= 'a' && u[i] <= 'z') ||
		      (u[i] >= 'A' && u[i] <= 'Z') ||
		      (u[i] >= '0' && u[i] <= '9') || u[i] == '.' ||
		      u[i] == '_' || u[i] == '-'))
			return false;
	return true;
}

static const char *const global_keys[] = {
	"listen", "port", "private_key", "state_dir", "control_socket",
	"pid_file", "log_level", "log_target", "mtu", "cookie_threshold",
	"hello_rate", "hello_burst", "user", NULL,
};

static int load_listen(const struct loader *l, const config_setting_t *s,
		       const char *path, struct config_global *g)
{
	char sub[SETTING_PATH_MAX];
	int n;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		g->n_listen = 1;
		return get_addr(l, s, path, &g->listen[0]);
	}
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return fail(l, line_of(s), path,
			    "expected an address or a list of addresses");
	n = config_setting_length(s);
	if (n < 1 || n > CONFIG_LISTEN_MAX)
		return fail(l, line_of(s), path,
			    "%d addresses (1 to %d allowed)", n,
			    CONFIG_LISTEN_MAX);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);

		snprintf(sub, sizeof(sub), "%.64s.[%d]", path, i);
		if (!e || get_addr(l, e, sub, &g->listen[i]) != 0)
			return -1;
		for (int j = 0; j < i; j++)
			if (addr_equal(&g->listen[j], &g->listen[i]))
				return fail(l, line_of(e), sub,
					    "address listed twice");
	}
	g->n_listen = (size_t)n;
	return 0;
}

static int load_global(const struct loader *l, const config_setting_t *root,
		       struct config_global *g)
{
	const config_setting_t *gs = config_setting_get_member(root, "global");
	const config_setting_t *s;
	char sub[SETTING_PATH_MAX];
	const char *path = "global";
	long long v;
	int e;

	g->port = CONFIG_PORT_DEFAULT;
	g->mtu = CONFIG_MTU_DEFAULT;
	g->cookie_threshold = CONFIG_COOKIE_THRESHOLD_DEFAULT;
	g->hello_rate = CONFIG_HELLO_RATE_DEFAULT;
	g->hello_burst = CONFIG_HELLO_BURST_DEFAULT;
	g->log_level = CONFIG_LOG_INFO;
	g->log_target = CONFIG_LOG_STDERR;
	snprintf(g->state_dir, sizeof(g->state_dir), "%s",
		 CONFIG_STATE_DIR_DEFAULT);
	snprintf(g->control_socket, sizeof(g->control_socket), "%s",
		 CONFIG_CONTROL_DEFAULT);
	snprintf(g->user, sizeof(g->user), "%s", CONFIG_USER_DEFAULT);
	addr_parse("0.0.0.0", &g->listen[0]);
	addr_parse("::", &g->listen[1]);
	g->n_listen = 2;

	if (!gs)
		return fail(l, 0, NULL,
			    "missing required section \"global\"");
	if (!config_setting_is_group(gs))
		return fail(l, line_of(gs), path, "expected a group { ... }");
	if (check_known(l, gs, path, global_keys) != 0)
		return -1;

	if ((s = member(gs, "listen", path, sub)) &&
	    load_listen(l, s, sub, g) != 0)
		return -1;
	if ((s = member(gs, "port", path, sub))) {
		if (get_int(l, s, sub, 1, 65535, &v) != 0)
			return -1;
		g->port = (uint16_t)v;
	}
	s = member(gs, "private_key", path, sub);
	if (!s)
		return fail(l, line_of(gs), path,
			    "missing required setting \"private_key\"");
	if (get_path(l, s, sub, false, g->private_key) != 0)
		return -1;
	g->private_key_line = line_of(s);
	if ((s = member(gs, "state_dir", path, sub)) &&
	    get_path(l, s, sub, false, g->state_dir) != 0)
		return -1;
	if ((s = member(gs, "control_socket", path, sub))) {
		if (get_path(l, s, sub, false, g->control_socket) != 0)
			return -1;
		/* sockaddr_un.sun_path is 108 bytes. */
		if (strlen(g->control_socket) > 107)
			return fail(l, line_of(s), sub,
				    "longer than 107 bytes (the limit of a "
				    "unix socket path)");
	}
	if ((s = member(gs, "pid_file", path, sub)) &&
	    get_path(l, s, sub, true, g->pid_file) != 0)
		return -1;
	if ((s = member(gs, "user", path, sub))) {
		const char *u;

		if (get_string(l, s, sub, &u) != 0)
			return -1;
		if (!user_ok(u))
			return fail(l, line_of(s), sub,
				    "\"%.40s\" is not a user name (up to %d "
				    "of A-Z a-z 0-9 . _ -, not starting with "
				    "- or a digit; \"\": no privilege "
				    "separation)", u, CONFIG_USER_MAX);
		snprintf(g->user, sizeof(g->user), "%s", u);
	}
	if ((s = member(gs, "log_level", path, sub))) {
		if (get_enum(l, s, sub, levels, &e) != 0)
			return -1;
		g->log_level = (enum config_log_level)e;
	}
	if ((s = member(gs, "log_target", path, sub))) {
		if (get_enum(l, s, sub, targets, &e) != 0)
			return -1;
		g->log_target = (enum config_log_target)e;
	}
	if ((s = member(gs, "mtu", path, sub))) {
		if (get_int(l, s, sub, CONFIG_MTU_MIN, CONFIG_MTU_MAX, &v) != 0)
			return -1;
		g->mtu = (uint32_t)v;
	}
	if ((s = member(gs, "cookie_threshold", path, sub))) {
		if (get_int(l, s, sub, 0, CONFIG_COOKIE_THRESHOLD_MAX, &v) != 0)
			return -1;
		g->cookie_threshold = (uint32_t)v;
	}
	if ((s = member(gs, "hello_rate", path, sub))) {
		if (get_int(l, s, sub, 1, CONFIG_HELLO_RATE_MAX, &v) != 0)
			return -1;
		g->hello_rate = (uint32_t)v;
	}
	if ((s = member(gs, "hello_burst", path, sub))) {
		if (get_int(l, s, sub, 1, CONFIG_HELLO_RATE_MAX, &v) != 0)
			return -1;
		g->hello_burst = (uint32_t)v;
	}
	return 0;
}

/* ---- tunnels ----------------------------------------------------------- */

static const char *const tunnel_keys[] = {
	"name", "enabled", "local", "remote", "peer_key", "local_ts",
	"remote_ts", "suite", "esp", "rekey_time", "rekey_jitter",
	"rekey_bytes", "rekey_packets", "dpd_interval", "dpd_timeout",
	"role", "reqid", "mark", "mark_mask", "if_id", NULL,
};

static bool name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > CONFIG_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(isascii(c) && isalnum(c)) && c != '_' && c != '-')
			return false;
	}
	return true;
}

static int load_ts(const struct loader *l, const config_setting_t *s,
		   const char *path, struct config_prefix *out, size_t *n_out)
{
	char sub[SETTING_PATH_MAX];
	const config_setting_t *e;
	const char *str;
	int n, single = 0;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		single = 1;
		n = 1;
	} else if (config_setting_is_array(s) || config_setting_is_list(s)) {
		n = config_setting_length(s);
	} else {
		return fail(l, line_of(s), path,
			    "expected a list of prefixes [ \"a/len\", ... ]");
	}
	if (n < 1 || n > CONFIG_TS_MAX)
		return fail(l, line_of(s), path,
			    "%d prefixes (1 to %d allowed)", n, CONFIG_TS_MAX);
	for (int i = 0; i < n; i++) {
		int rc;

		if (single) {
			e = s;
			snprintf(sub, sizeof(sub), "%.90s", path);
		} else {
			e = config_setting_get_elem(s, i);
			snprintf(sub, sizeof(sub), "%.64s.[%d]", path, i);
		}
		if (!e || get_string(l, e, sub, &str) != 0)
			return -1;
		rc = prefix_parse(str, &out[i]);
		if (rc == -2)
			return fail(l, line_of(e), sub,
				    "\"%.64s\" has host bits set", str);
		if (rc != 0)
			return fail(l, line_of(e), sub,
				    "\"%.64s\" is not an address prefix "
				    "(ADDRESS/LENGTH)", str);
		for (int j = 0; j < i; j++)
			if (out[j].plen == out[i].plen &&
			    addr_equal(&out[j].addr, &out[i].addr))
				return fail(l, line_of(e), sub,
					    "\"%.64s\" listed twice", str);
	}
	*n_out = (size_t)n;
	return 0;
}

static int load_tunnel(const struct loader *l, const config_setting_t *ts,
		       int idx, struct config *c)
{
	struct config_tunnel *t = &c->tunnels[idx];
	const config_setting_t *s, *ms = NULL;
	char path[32], sub[SETTING_PATH_MAX];
	const char *str;
	long long v;
	int e;

	snprintf(path, sizeof(path), "tunnels.[%d]", idx);
	memset(t, 0, sizeof(*t));
	t->line = line_of(ts);
	t->suite = MLS_SUITE_XWING_AES256GCM_SHA512_ED25519;
	t->esp = XFRM_AEAD_AES256_GCM;
	t->rekey_time = CONFIG_REKEY_TIME_DEFAULT;
	t->rekey_jitter = CONFIG_REKEY_JITTER_DEFAULT;
	t->dpd_interval = CONFIG_DPD_INTERVAL_DEFAULT;
	t->dpd_timeout = CONFIG_DPD_TIMEOUT_DEFAULT;
	t->role = CONFIG_ROLE_AUTO;
	t->enabled = true;

	if (!config_setting_is_group(ts))
		return fail(l, line_of(ts), path, "expected a group { ... }");
	if (check_known(l, ts, path, tunnel_keys) != 0)
		return -1;

	/* name */
	if (!(s = member(ts, "name", path, sub)))
		return fail(l, t->line, path,
			    "missing required setting \"name\"");
	if (get_string(l, s, sub, &str) != 0)
		return -1;
	if (!name_valid(str))
		return fail(l, line_of(s), sub,
			    "\"%.64s\" is not a valid name (1 to %d of "
			    "A-Z a-z 0-9 _ -)", str, CONFIG_NAME_MAX);
	for (int j = 0; j < idx; j++)
		if (strcmp(c->tunnels[j].name, str) == 0)
			return fail(l, line_of(s), sub,
				    "\"%s\" is already the name of "
				    "tunnels.[%d] (line %u)", str, j,
				    c->tunnels[j].line);
	memcpy(t->name, str, strlen(str) + 1);

	if ((s = member(ts, "enabled", path, sub)) &&
	    get_bool(l, s, sub, &t->enabled) != 0)
		return -1;

	/* addresses */
	if (!(s = member(ts, "local", path, sub)))
		return fail(l, t->line, path,
			    "missing required setting \"local\"");
	if (get_addr(l, s, sub, &t->local) != 0)
		return -1;
	if (addr_is_zero(&t->local) || addr_is_multicast(&t->local))
		return fail(l, line_of(s), sub,
			    "must be a unicast address of this host");
	if (!(s = member(ts, "remote", path, sub)))
		return fail(l, t->line, path,
			    "missing required setting \"remote\"");
	if (get_addr(l, s, sub, &t->remote) != 0)
		return -1;
	if (addr_is_zero(&t->remote) || addr_is_multicast(&t->remote))
		return fail(l, line_of(s), sub,
			    "must be a unicast address of the peer");
	if (t->remote.family != t->local.family)
		return fail(l, line_of(s), sub,
			    "is %s but local is %s (both must be of one "
			    "family)", family_name(t->remote.family),
			    family_name(t->local.family));
	if (addr_equal(&t->local, &t->remote))
		return fail(l, line_of(s), sub, "is the same as local");

	/* peer key */
	if (!(s = member(ts, "peer_key", path, sub)))
		return fail(l, t->line, path,
			    "missing required setting \"peer_key\"");
	if (get_string(l, s, sub, &str) != 0)
		return -1;
	if (key_public_decode(str, t->peer_key) != 0)
		return fail(l, line_of(s), sub,
			    "not a public key (%d characters of base64, as "
			    "`epochctl pubkey` prints)", KEY_B64_LEN);

	/* traffic selectors */
	if (!(s = member(ts, "local_ts", path, sub)))
		return fail(l, t->line, path,
			    "missing required setting \"local_ts\"");
	if (load_ts(l, s, sub, t->local_ts, &t->n_local_ts) != 0)
		return -1;
	if (!(s = member(ts, "remote_ts", path, sub)))
		return fail(l, t->line, path,
			    "missing required setting \"remote_ts\"");
	if (load_ts(l, s, sub, t->remote_ts, &t->n_remote_ts) != 0)
		return -1;

	/* algorithms */
	if ((s = member(ts, "suite", path, sub))) {
		if (get_enum(l, s, sub, suites, &e) != 0)
			return -1;
		t->suite = (uint16_t)e;
	}
	if ((s = member(ts, "esp", path, sub))) {
		if (get_enum(l, s, sub, esps, &e) != 0)
			return -1;
		t->esp = (enum xfrm_aead)e;
	}

	/* rekeying */
	if ((s = member(ts, "rekey_time", path, sub))) {
		if (get_int(l, s, sub, CONFIG_REKEY_TIME_MIN,
			    CONFIG_REKEY_TIME_MAX, &v) != 0)
			return -1;
		t->rekey_time = (uint32_t)v;
	}
	if ((s = member(ts, "rekey_jitter", path, sub))) {
		if (get_int(l, s, sub, 0, CONFIG_REKEY_JITTER_MAX, &v) != 0)
			return -1;
		t->rekey_jitter = (uint32_t)v;
	}
	if ((s = member(ts, "rekey_bytes", path, sub))) {
		if (get_int(l, s, sub, 0, 1LL << 60, &v) != 0)
			return -1;
		if (v != 0 && v < 65536)
			return fail(l, line_of(s), sub,
				    "%lld is out of range (0 for none, or "
				    "65536 to %lld)", v, 1LL << 60);
		t->rekey_bytes = (uint64_t)v;
	}
	if ((s = member(ts, "rekey_packets", path, sub))) {
		if (get_int(l, s, sub, 0, 1LL << 60, &v) != 0)
			return -1;
		if (v != 0 && v < 100)
			return fail(l, line_of(s), sub,
				    "%lld is out of range (0 for none, or "
				    "100 to %lld)", v, 1LL << 60);
		t->rekey_packets = (uint64_t)v;
	}
	t->hard_bytes = t->rekey_bytes + t->rekey_bytes / 10;
	t->hard_packets = t->rekey_packets + t->rekey_packets / 10;
	t->hard_time = t->rekey_time +
		       (t->rekey_time / 10 > 60 ? t->rekey_time / 10 : 60);

	/* dead peer detection */
	if ((s = member(ts, "dpd_interval", path, sub))) {
		if (get_int(l, s, sub, 0, CONFIG_DPD_INTERVAL_MAX, &v) != 0)
			return -1;
		t->dpd_interval = (uint32_t)v;
	}
	if ((ms = member(ts, "dpd_timeout", path, sub))) {
		if (get_int(l, ms, sub, 1, CONFIG_DPD_TIMEOUT_MAX, &v) != 0)
			return -1;
		t->dpd_timeout = (uint32_t)v;
	} else {
		ms = s; /* a complaint names dpd_interval */
		snprintf(sub, sizeof(sub), "%s.dpd_interval", path);
	}
	if (t->dpd_interval && t->dpd_timeout <= t->dpd_interval)
		return fail(l, line_of(ms), sub,
			    "dpd_timeout (%u) must be longer than "
			    "dpd_interval (%u)", t->dpd_timeout,
			    t->dpd_interval);
	ms = NULL;

	/* role */
	if ((s = member(ts, "role", path, sub))) {
		if (get_enum(l, s, sub, roles, &e) != 0)
			return -1;
		t->role = (enum config_role)e;
	}
	t->initiator = config_role_resolve(t->role, &t->local, &t->remote);

	/* kernel identifiers */
	if ((s = member(ts, "reqid", path, sub))) {
		if (get_int(l, s, sub, 1, CONFIG_REQID_MAX, &v) != 0)
			return -1;
		if (v >= CONFIG_REQID_AUTO_LO && v <= CONFIG_REQID_AUTO_HI)
			return fail(l, line_of(s), sub,
				    "%lld is in the range reserved for "
				    "automatic reqids (%u to %u)", v,
				    CONFIG_REQID_AUTO_LO, CONFIG_REQID_AUTO_HI);
		for (int j = 0; j < idx; j++)
			if (!c->tunnels[j].reqid_auto &&
			    c->tunnels[j].reqid == (uint32_t)v)
				return fail(l, line_of(s), sub,
					    "reqid %lld is already used by "
					    "tunnels.[%d] (line %u)", v, j,
					    c->tunnels[j].line);
		t->reqid = (uint32_t)v;
	} else {
		t->reqid_auto = true;
	}
	if ((ms = member(ts, "mark", path, sub))) {
		if (get_u32(l, ms, sub, 0, &t->mark) != 0)
			return -1;
		t->mark_mask = 0xffffffffu;
	}
	if ((s = member(ts, "mark_mask", path, sub))) {
		if (!ms)
			return fail(l, line_of(s), sub,
				    "set without mark");
		if (get_u32(l, s, sub, 1, &t->mark_mask) != 0)
			return -1;
		if (t->mark & ~t->mark_mask)
			return fail(l, line_of(s), sub,
				    "mark 0x%x has bits outside the mask "
				    "0x%x", t->mark, t->mark_mask);
	}
	if ((s = member(ts, "if_id", path, sub)) &&
	    get_u32(l, s, sub, 1, &t->if_id) != 0)
		return -1;
	return 0;
}

/* FNV-1a: a stable hash of a tunnel name for its automatic reqid. */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static bool reqid_taken(const struct config *c, size_t upto, uint32_t r)
{
	for (size_t i = 0; i < c->n_tunnels; i++)
		if (c->tunnels[i].reqid == r &&
		    (!c->tunnels[i].reqid_auto || i < upto))
			return true;
	return false;
}

static void assign_reqids(struct config *c)
{
	const uint32_t span = CONFIG_REQID_AUTO_HI - CONFIG_REQID_AUTO_LO + 1;

	for (size_t i = 0; i < c->n_tunnels; i++) {
		struct config_tunnel *t = &c->tunnels[i];
		uint32_t off;

		if (!t->reqid_auto)
			continue;
		t->reqid = 0;
		off = name_hash(t->name) % span;
		/* At most CONFIG_TUNNELS_MAX probes: span is larger. */
		while (reqid_taken(c, i, CONFIG_REQID_AUTO_LO + off))
			off = (off + 1) % span;
		t->reqid = CONFIG_REQID_AUTO_LO + off;
	}
}

static int load_tunnels(const struct loader *l, const config_setting_t *root,
			struct config *c)
{
	const config_setting_t *ts = config_setting_get_member(root,
							       "tunnels");
	int n;

	if (!ts)
		return 0;
	if (!config_setting_is_list(ts))
		return fail(l, line_of(ts), "tunnels",
			    "expected a list ( { ... }, { ... } )");
	n = config_setting_length(ts);
	if (n > CONFIG_TUNNELS_MAX)
		return fail(l, line_of(ts), "tunnels",
			    "%d tunnels (at most %d allowed)", n,
			    CONFIG_TUNNELS_MAX);
	if (n == 0)
		return 0;
	c->tunnels = calloc((size_t)n, sizeof(*c->tunnels));
	if (!c->tunnels)
		return fail(l, 0, NULL, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *t = config_setting_get_elem(ts, i);

		if (!t || load_tunnel(l, t, i, c) != 0)
			return -1;
		c->n_tunnels = (size_t)i + 1;
	}
	assign_reqids(c);
	return 0;
}

/* ---- whole file -------------------------------------------------------- */

/* libconfig acts on `@include "file"` at the start of a line (after blanks)
 * wherever it is; any such line is refused before libconfig sees the text,
 * as is a NUL byte. */
static int prescan(const struct loader *l, const char *text, size_t len)
{
	unsigned line = 1;
	size_t i = 0;

	while (i < len) {
		size_t j = i;

		while (j < len && (text[j] == ' ' || text[j] == '\t'))
			j++;
		if (len - j >= 8 && strncasecmp(text + j, "@include", 8) == 0)
			return fail(l, line, NULL,
				    "@include is not allowed (a config is "
				    "one self-contained file)");
		for (; i < len && text[i] != '\n'; i++)
			if (text[i] == '\0')
				return fail(l, line, NULL,
					    "NUL byte in the file");
		i++;
		line++;
	}
	return 0;
}

static bool is_name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '*';
}

static bool is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_';
}

/* Checks one integer constant p[0..n) (sign, digits or 0x and hex digits,
 * then L or LL or nothing) the way libconfig 1.5 will read it, which is
 * without any overflow check: 5000000000 silently becomes 705032704.
 * Returns 0 if it fits (or is not an integer: floats are left to the
 * parser), -1 if not. */
static int literal_fits(const char *p, size_t n)
{
	bool neg = false, hex = false, is_long = false;
	unsigned long long v = 0, lim;
	size_t i = 0, digits = 0;

	if (i < n && (p[i] == '+' || p[i] == '-'))
		neg = p[i++] == '-';
	if (n - i >= 2 && p[i] == '0' && (p[i + 1] == 'x' || p[i + 1] == 'X')) {
		hex = true;
		i += 2;
	}
	for (; i < n; i++) {
		unsigned d;
		char c = p[i];

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (hex && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (hex && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			break;
		digits++;
		if (v > (ULLONG_MAX - d) / (hex ? 16 : 10))
			return -1;
		v = v * (hex ? 16 : 10) + d;
	}
	if (digits == 0)
		return 0;
	if (i < n && p[i] == 'L') {
		is_long = true;
		i++;
		if (i < n && p[i] == 'L')
			i++;
	}
	if (i != n)
		return 0; /* a float or something the parser refuses */
	if (hex)
		lim = is_long ? ULLONG_MAX : 0xffffffffULL;
	else if (is_long)
		lim = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
	else
		lim = neg ? 0x80000000ULL : 0x7fffffffULL;
	return v <= lim ? 0 : -1;
}

/* Finds integer constants libconfig would wrap (outside strings and
 * comments) and refuses them, naming the setting written last before. */
static int check_literals(const struct loader *l, const char *t, size_t len)
{
	const char *name = NULL;
	size_t name_len = 0, i = 0;
	unsigned line = 1;

	while (i < len) {
		char c = t[i];

		if (c == '\n') {
			line++;
			i++;
		} else if (c == '#' || (c == '/' && i + 1 < len &&
					t[i + 1] == '/')) {
			while (i < len && t[i] != '\n')
				i++;
		} else if (c == '/' && i + 1 < len && t[i + 1] == '*') {
			for (i += 2; i < len; i++) {
				if (t[i] == '\n')
					line++;
				else if (t[i] == '*' && i + 1 < len &&
					 t[i + 1] == '/')
					break;
			}
			i += 2;
		} else if (c == '"') {
			for (i++; i < len && t[i] != '"'; i++) {
				if (t[i] == '\\' && i + 1 < len)
					i++;
				if (t[i] == '\n')
					line++;
			}
			i++;
		} else if (is_name_start(c)) {
			name = t + i;
			while (i < len && is_name_char(t[i]))
				i++;
			name_len = (size_t)(t + i - name);
		} else if ((c >= '0' && c <= '9') || c == '-' || c == '+' ||
			   c == '.') {
			size_t s = i;

			for (i++; i < len && (is_name_char(t[i]) ||
					      t[i] == '.' || t[i] == '+');
			     i++)
				if ((t[i] == '-' || t[i] == '+') &&
				    t[i - 1] != 'e' && t[i - 1] != 'E')
					break;
			if (literal_fits(t + s, i - s) != 0) {
				char where[48];

				snprintf(where, sizeof(where), "%.*s",
					 (int)(name_len < 40 ? name_len : 40),
					 name ? name : "");
				return fail(l, line, name ? where : NULL,
					    "%.*s does not fit in %s",
					    (int)(i - s < 40 ? i - s : 40),
					    t + s,
					    t[i - 1] == 'L' ?
						    "64 bits" :
						    "32 bits (write larger "
						    "numbers with the suffix "
						    "L)");
			}
		} else {
			i++;
		}
	}
	return 0;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->tunnels);
	memset(c, 0, sizeof(*c));
}

int config_load_string(const char *text, size_t len, const char *name,
		       struct config *out, char *err, size_t errlen)
{
	struct loader l = { .file = name ? name : "(config)", .err = err,
			    .errlen = errlen };
	const config_setting_t *root;
	static const char *const top_keys[] = { "global", "tunnels", NULL };
	config_t cfg;
	char *buf;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (len > CONFIG_FILE_MAX)
		return fail(&l, 0, NULL, "larger than %d bytes",
			    CONFIG_FILE_MAX);
	if (prescan(&l, text, len) != 0 || check_literals(&l, text, len) != 0)
		return -1;
	buf = malloc(len + 1);
	if (!buf)
		return fail(&l, 0, NULL, "out of memory");
	memcpy(buf, text, len);
	buf[len] = '\0';

	config_init(&cfg);
	/* No automatic int -> float conversions or other leniency. */
	config_set_options(&cfg, 0);
	if (config_read_string(&cfg, buf) != CONFIG_TRUE) {
		fail(&l, (unsigned)config_error_line(&cfg), NULL, "%s",
		     config_error_text(&cfg) ? config_error_text(&cfg) :
					       "syntax error");
		goto out;
	}
	snprintf(out->source, sizeof(out->source), "%s", l.file);
	root = config_root_setting(&cfg);
	if (check_known(&l, root, NULL, top_keys) != 0 ||
	    load_global(&l, root, &out->global) != 0 ||
	    load_tunnels(&l, root, out) != 0)
		goto out;
	if (config_check(out, err, errlen) != 0) /* cannot happen */
		goto out;
	rc = 0;
out:
	config_destroy(&cfg);
	free(buf);
	if (rc != 0)
		config_free(out);
	return rc;
}

int config_load_file(const char *path, struct config *out, char *err,
		     size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc = -1;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		errmsg_set(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		errmsg_set(err, errlen, "%s: larger than %d bytes", path,
		       CONFIG_FILE_MAX);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		errmsg_set(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > (size_t)st.st_size) {
			errmsg_set(err, errlen, "%s: changed while read", path);
			goto out;
		}
	}
	rc = config_load_string(buf, len, path, out, err, errlen);
out:
	free(buf);
	close(fd);
	return rc;
}

/* ---- checks, lookups, diff --------------------------------------------- */

static int check_prefixes(const struct config_prefix *p, size_t n,
			  const char *what, const char *tname, char *err,
			  size_t errlen)
{
	if (n < 1 || n > CONFIG_TS_MAX) {
		errmsg_set(err, errlen, "%s: %s: %zu prefixes", tname, what, n);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t max = addr_len(&p[i].addr) * 8;

		if (max == 0 || p[i].plen > max ||
		    !prefix_host_bits_clear(&p[i])) {
			errmsg_set(err, errlen, "%s: %s[%zu] invalid", tname, what,
			       i);
			return -1;
		}
	}
	return 0;
}

static bool path_ok(const char *p, bool empty_ok)
{
	size_t n = strnlen(p, CONFIG_PATH_MAX);

	if (n == CONFIG_PATH_MAX)
		return false;
	return (n == 0 && empty_ok) || p[0] == '/';
}

int config_check(const struct config *c, char *err, size_t errlen)
{
	const struct config_global *g = &c->global;
	int e;

	if (g->n_listen < 1 || g->n_listen > CONFIG_LISTEN_MAX || !g->port ||
	    g->mtu < CONFIG_MTU_MIN || g->mtu > CONFIG_MTU_MAX ||
	    g->cookie_threshold > CONFIG_COOKIE_THRESHOLD_MAX ||
	    g->hello_rate < 1 || g->hello_rate > CONFIG_HELLO_RATE_MAX ||
	    g->hello_burst < 1 || g->hello_burst > CONFIG_HELLO_RATE_MAX ||
	    !path_ok(g->private_key, false) || !path_ok(g->state_dir, false) ||
	    !path_ok(g->control_socket, false) || !path_ok(g->pid_file, true) ||
	    !user_ok(g->user) ||
	    strcmp(config_log_level_name(g->log_level), "?") == 0 ||
	    strcmp(config_log_target_name(g->log_target), "?") == 0) {
		errmsg_set(err, errlen, "global settings out of range");
		return -1;
	}
	for (size_t i = 0; i < g->n_listen; i++)
		if (addr_len(&g->listen[i]) == 0) {
			errmsg_set(err, errlen, "global.listen: bad family");
			return -1;
		}
	if (c->n_tunnels > CONFIG_TUNNELS_MAX ||
	    (c->n_tunnels && !c->tunnels)) {
		errmsg_set(err, errlen, "bad tunnel count");
		return -1;
	}
	for (size_t i = 0; i < c->n_tunnels; i++) {
		const struct config_tunnel *t = &c->tunnels[i];
		uint64_t min_time;

		if (strnlen(t->name, sizeof(t->name)) == sizeof(t->name) ||
		    !name_valid(t->name)) {
			errmsg_set(err, errlen, "tunnel %zu: bad name", i);
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(c->tunnels[j].name, t->name) == 0 ||
			    c->tunnels[j].reqid == t->reqid) {
				errmsg_set(err, errlen,
				       "%s: name or reqid not unique",
				       t->name);
				return -1;
			}
		}
		if (addr_len(&t->local) == 0 ||
		    t->local.family != t->remote.family ||
		    addr_equal(&t->local, &t->remote) ||
		    addr_is_zero(&t->local) || addr_is_zero(&t->remote)) {
			errmsg_set(err, errlen, "%s: bad addresses", t->name);
			return -1;
		}
		if (check_prefixes(t->local_ts, t->n_local_ts, "local_ts",
				   t->name, err, errlen) != 0 ||
		    check_prefixes(t->remote_ts, t->n_remote_ts, "remote_ts",
				   t->name, err, errlen) != 0)
			return -1;
		min_time = t->rekey_time / 10 > 60 ? t->rekey_time / 10 : 60;
		if (value_of(suites, config_suite_name(t->suite), &e) != 0 ||
		    value_of(esps, config_esp_name(t->esp), &e) != 0 ||
		    value_of(roles, config_role_name(t->role), &e) != 0 ||
		    t->rekey_time < CONFIG_REKEY_TIME_MIN ||
		    t->rekey_time > CONFIG_REKEY_TIME_MAX ||
		    t->rekey_jitter > CONFIG_REKEY_JITTER_MAX ||
		    t->hard_time != t->rekey_time + min_time ||
		    t->hard_bytes < t->rekey_bytes ||
		    t->hard_packets < t->rekey_packets ||
		    t->dpd_interval > CONFIG_DPD_INTERVAL_MAX ||
		    t->dpd_timeout < 1 ||
		    t->dpd_timeout > CONFIG_DPD_TIMEOUT_MAX ||
		    (t->dpd_interval && t->dpd_timeout <= t->dpd_interval) ||
		    t->initiator != config_role_resolve(t->role, &t->local,
							&t->remote) ||
		    t->reqid == 0 || t->reqid > CONFIG_REQID_MAX ||
		    (t->reqid_auto != (t->reqid >= CONFIG_REQID_AUTO_LO &&
				       t->reqid <= CONFIG_REQID_AUTO_HI)) ||
		    (t->mark & ~t->mark_mask)) {
			errmsg_set(err, errlen, "%s: a setting is out of range",
			       t->name);
			return -1;
		}
	}
	return 0;
}

const struct config_tunnel *config_tunnel_find(const struct config *c,
					       const char *name)
{
	for (size_t i = 0; i < c->n_tunnels; i++)
		if (strcmp(c->tunnels[i].name, name) == 0)
			return &c->tunnels[i];
	return NULL;
}

static bool prefixes_equal(const struct config_prefix *a, size_t na,
			   const struct config_prefix *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].plen != b[i].plen ||
		    !addr_equal(&a[i].addr, &b[i].addr))
			return false;
	return true;
}

bool config_tunnel_equal(const struct config_tunnel *a,
			 const struct config_tunnel *b)
{
	return strcmp(a->name, b->name) == 0 &&
	       addr_equal(&a->local, &b->local) &&
	       addr_equal(&a->remote, &b->remote) &&
	       memcmp(a->peer_key, b->peer_key, 32) == 0 &&
	       prefixes_equal(a->local_ts, a->n_local_ts, b->local_ts,
			      b->n_local_ts) &&
	       prefixes_equal(a->remote_ts, a->n_remote_ts, b->remote_ts,
			      b->n_remote_ts) &&
	       a->suite == b->suite && a->esp == b->esp &&
	       a->rekey_time == b->rekey_time &&
	       a->rekey_jitter == b->rekey_jitter &&
	       a->rekey_bytes == b->rekey_bytes &&
	       a->rekey_packets == b->rekey_packets &&
	       a->hard_bytes == b->hard_bytes &&
	       a->hard_packets == b->hard_packets &&
	       a->hard_time == b->hard_time &&
	       a->dpd_interval == b->dpd_interval &&
	       a->dpd_timeout == b->dpd_timeout && a->role == b->role &&
	       a->initiator == b->initiator && a->reqid == b->reqid &&
	       a->reqid_auto == b->reqid_auto && a->mark == b->mark &&
	       a->mark_mask == b->mark_mask && a->if_id == b->if_id &&
	       a->enabled == b->enabled;
}

static bool listen_equal(const struct config_global *a,
			 const struct config_global *b)
{
	if (a->n_listen != b->n_listen)
		return false;
	for (size_t i = 0; i < a->n_listen; i++)
		if (!addr_equal(&a->listen[i], &b->listen[i]))
			return false;
	return true;
}

int config_diff(const struct config *old, const struct config *new,
		struct config_diff *out)
{
	const struct config_global *a = &old->global, *b = &new->global;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (old->n_tunnels + new->n_tunnels) {
		out->entries = calloc(old->n_tunnels + new->n_tunnels,
				      sizeof(*out->entries));
		if (!out->entries)
			return -1;
	}
	for (size_t i = 0; i < old->n_tunnels; i++) {
		const struct config_tunnel *o = &old->tunnels[i];
		const struct config_tunnel *m = config_tunnel_find(new,
								   o->name);
		struct config_diff_entry *e = &out->entries[n++];

		e->name = o->name;
		e->old = o;
		e->new = m;
		if (!m) {
			e->change = CONFIG_REMOVED;
			out->n_removed++;
		} else if (config_tunnel_equal(o, m)) {
			e->change = CONFIG_UNCHANGED;
			out->n_unchanged++;
		} else {
			e->change = CONFIG_CHANGED;
			out->n_changed++;
		}
	}
	for (size_t i = 0; i < new->n_tunnels; i++) {
		const struct config_tunnel *m = &new->tunnels[i];
		struct config_diff_entry *e;

		if (config_tunnel_find(old, m->name))
			continue;
		e = &out->entries[n++];
		e->name = m->name;
		e->change = CONFIG_ADDED;
		e->new = m;
		out->n_added++;
	}
	out->n = n;
	out->global_changed = !listen_equal(a, b) || a->port != b->port ||
			      strcmp(a->private_key, b->private_key) != 0 ||
			      strcmp(a->state_dir, b->state_dir) != 0 ||
			      strcmp(a->control_socket,
				     b->control_socket) != 0 ||
			      strcmp(a->pid_file, b->pid_file) != 0 ||
			      strcmp(a->user, b->user) != 0;
	return 0;
}

void config_diff_free(struct config_diff *d)
{
	if (!d)
		return;
	free(d->entries);
	memset(d, 0, sizeof(*d));
}

int config_load_key(const struct config *c, uint8_t sk[32], uint8_t pk[32],
		    char *err, size_t errlen)
{
	char why[512];

	if (keyfile_load(c->global.private_key, sk, pk, why,
			 sizeof(why)) == 0)
		return 0;
	errmsg_set(err, errlen, "%s:%u: global.private_key: %s", c->source,
		   c->global.private_key_line, why);
	return -1;
}
