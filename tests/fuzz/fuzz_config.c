/* Fuzz target for daemon/config: the input is an epochd.conf text given to
 * config_load_string.
 *
 * Invariants:
 *  - the load returns 0 or -1, nothing else, and never crashes or leaks
 *    (the sanitizer builds check memory);
 *  - on -1: the message is non-empty, NUL-terminated within its buffer and
 *    begins with the file name given ("fuzz.conf:"), and the struct is
 *    empty (no tunnels, nothing to free);
 *  - on 0: the message is empty, config_check accepts the struct, every
 *    tunnel is found by its name, its enumerations have names, and a second
 *    load of the same text gives a config that config_diff calls
 *    identical (deterministic, nothing depends on the line of a tunnel);
 *  - a load into an output buffer of one byte still works (messages are
 *    truncated, not overrun).
 */
#include <string.h>

#include "daemon/config.h"
#include "tests/fuzz/fuzz.h"

#define NAME "fuzz.conf"

/* libconfig 1.5 (Debian's libconfig9) does not free the value of a token
 * (a string, a setting name) its scanner has allocated when a syntax error
 * follows it (its grammar has no %destructor): a leak inside libconfig,
 * bounded by the text, once per refused load. LeakSanitizer reads this
 * hook; only buffers allocated by the scanner are exempt (a config_t left
 * undestroyed would still show its settings, allocated by the parser). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c, d;
	struct config_diff diff;
	char err[512], small[1];
	int rc;

	memset(err, 'x', sizeof(err));
	rc = config_load_string((const char *)data, size, NAME, &c, err,
				sizeof(err));
	FUZZ_REQUIRE(rc == 0 || rc == -1);
	FUZZ_REQUIRE(memchr(err, '\0', sizeof(err)) != NULL);
	if (rc != 0) {
		FUZZ_REQUIRE(err[0] != '\0');
		FUZZ_REQUIRE(strncmp(err, NAME ":", strlen(NAME) + 1) == 0);
		FUZZ_REQUIRE(c.tunnels == NULL && c.n_tunnels == 0);
		small[0] = 'x';
		FUZZ_REQUIRE(config_load_string((const char *)data, size, NAME,
						&d, small, sizeof(small)) ==
			     -1);
		FUZZ_REQUIRE(small[0] == '\0');
		return 0;
	}
	FUZZ_REQUIRE(err[0] == '\0');
	FUZZ_REQUIRE(config_check(&c, err, sizeof(err)) == 0);
	FUZZ_REQUIRE(strcmp(c.source, NAME) == 0);
	for (size_t i = 0; i < c.n_tunnels; i++) {
		const struct config_tunnel *t = &c.tunnels[i];

		FUZZ_REQUIRE(config_tunnel_find(&c, t->name) == t);
		FUZZ_REQUIRE(strcmp(config_suite_name(t->suite), "?") != 0);
		FUZZ_REQUIRE(strcmp(config_esp_name(t->esp), "?") != 0);
		FUZZ_REQUIRE(strcmp(config_role_name(t->role), "?") != 0);
	}
	FUZZ_REQUIRE(config_load_string((const char *)data, size, NAME, &d,
					NULL, 0) == 0);
	FUZZ_REQUIRE(config_diff(&c, &d, &diff) == 0);
	FUZZ_REQUIRE(diff.n == c.n_tunnels && diff.n_unchanged == diff.n);
	FUZZ_REQUIRE(!diff.global_changed);
	config_diff_free(&diff);
	config_free(&d);
	config_free(&c);
	FUZZ_REQUIRE(c.tunnels == NULL);
	return 0;
}
