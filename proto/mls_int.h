/* Declarations shared by the proto/mls_*.c files; not part of the API. */
#ifndef EPOCHD_MLS_INT_H
#define EPOCHD_MLS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"
#include "proto/mls.h"

/* "MLS 1.0 " (RFC 9420 §5.1.2, §5.1.3, §8). */
#define MLS_LABEL_PREFIX "MLS 1.0 "

/* Writes opaque label<V> = "MLS 1.0 " + label. */
int mls_write_label(struct codec_writer *w, const uint8_t *label,
		    size_t label_len);

/* Cap on encoded labeled structures (KDFLabel, SignContent, ...). The
 * KDFLabel ends up as an HKDF info, which OpenSSL 3.0 caps at 32 KiB. */
#define MLS_LABELED_MAX (1u << 20)

#endif
