/* A tunnel's saved state (DESIGN.md §5): one file per tunnel in the state
 * directory, STATE_DIR/NAME.state, mode 0600, replaced atomically (write a
 * temporary file, fsync, rename, fsync the directory) after every change
 * of epoch, SPIs or staged commit, removed when the tunnel goes down.
 *
 * Contents: "EPDS" version 1, the tunnel's reqid, its wire session ids
 * and next request id (docs/protocol.md §2), then the bytes of
 * tunnel_save. The bytes are secret (the MLS group's private keys and
 * epoch secrets): every buffer holding them is wiped.
 */
#ifndef EPOCHD_STATEFILE_H
#define EPOCHD_STATEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"

#define STATEFILE_MAX (1u << 20)

struct statefile_hdr {
	uint32_t reqid;
	uint64_t isid, rsid;
	uint32_t next_id;
};

/* Writes the header and then the tunnel's bytes (tunnel_save) into w. */
void statefile_encode_hdr(const struct statefile_hdr *h,
			  struct codec_writer *w);
/* Splits a file's bytes: header into *h, the tunnel's part as a slice of
 * buf. EPOCH_ERR_MALFORMED if damaged or of another version. */
int statefile_decode(const uint8_t *buf, size_t len, struct statefile_hdr *h,
		     const uint8_t **tun, size_t *tun_len);

/* File operations; each returns 0 or a negative errno and, on failure,
 * a message in err. statefile_read returns -ENOENT when there is no file;
 * the caller wipes and frees *buf. */
int statefile_write(const char *dir, const char *name, const uint8_t *buf,
		    size_t len, char *err, size_t errlen);
int statefile_read(const char *dir, const char *name, uint8_t **buf,
		   size_t *len, char *err, size_t errlen);
int statefile_remove(const char *dir, const char *name);
/* Creates dir (0700) if missing; refuses one that group or others may
 * write or that is not a directory. */
int statefile_dir(const char *dir, char *err, size_t errlen);

#endif
