/* epochd's log: one line per event, to stderr or syslog, with levels
 * (config.h's enum config_log_level). A line reads
 *   epochd: <level>: <tunnel>: <text>
 * on stderr (systemd's journal adds time and pid), or "<tunnel>: <text>"
 * at the syslog priority of its level. Never pass a key to it.
 *
 * One logger per process (the daemon's), kept in static state: the log is
 * the one thing every part of the daemon writes to. */
#ifndef EPOCHD_LOG_H
#define EPOCHD_LOG_H

#include "daemon/config.h"

/* Starts logging at level to target (stderr until called). */
void log_open(enum config_log_target target, enum config_log_level level);
void log_set_level(enum config_log_level level);
enum config_log_level log_level(void);
void log_close(void);

/* tunnel may be NULL (a daemon-wide line). */
void log_msg(enum config_log_level level, const char *tunnel,
	     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
