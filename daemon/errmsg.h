/* One-line error messages into caller buffers, shared by the daemon's
 * parts (config, keyfile, ...). */
#ifndef EPOCHD_ERRMSG_H
#define EPOCHD_ERRMSG_H

#include <stddef.h>

/* vsnprintf into err (errlen bytes); nothing when err is NULL or errlen 0. */
void errmsg_set(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
