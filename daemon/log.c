/* epochd's log (daemon/log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "daemon/log.h"

static enum config_log_target log_target = CONFIG_LOG_STDERR;
static enum config_log_level log_lvl = CONFIG_LOG_INFO;

void log_open(enum config_log_target target, enum config_log_level level)
{
	if (target == CONFIG_LOG_SYSLOG && log_target != CONFIG_LOG_SYSLOG)
		openlog("epochd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (target != CONFIG_LOG_SYSLOG && log_target == CONFIG_LOG_SYSLOG)
		closelog();
	log_target = target;
	log_lvl = level;
}

void log_set_level(enum config_log_level level)
{
	log_lvl = level;
}

enum config_log_level log_level(void)
{
	return log_lvl;
}

void log_close(void)
{
	if (log_target == CONFIG_LOG_SYSLOG)
		closelog();
	log_target = CONFIG_LOG_STDERR;
}

void log_msg(enum config_log_level level, const char *tunnel,
	     const char *fmt, ...)
{
	static const int prio[] = {
		[CONFIG_LOG_ERROR] = LOG_ERR,
		[CONFIG_LOG_WARNING] = LOG_WARNING,
		[CONFIG_LOG_NOTICE] = LOG_NOTICE,
		[CONFIG_LOG_INFO] = LOG_INFO,
		[CONFIG_LOG_DEBUG] = LOG_DEBUG,
	};
	char text[1024];
	va_list ap;

	if (level > log_lvl)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (log_target == CONFIG_LOG_SYSLOG) {
		if (tunnel)
			syslog(prio[level], "%s: %s", tunnel, text);
		else
			syslog(prio[level], "%s", text);
		return;
	}
	if (tunnel)
		fprintf(stderr, "epochd: %s: %s: %s\n",
			config_log_level_name(level), tunnel, text);
	else
		fprintf(stderr, "epochd: %s: %s\n",
			config_log_level_name(level), text);
}
