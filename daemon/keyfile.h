/* Identity key files and public-key strings (epochd.conf `private_key`,
 * `peer_key`; `epochctl genkey/pubkey`).
 *
 * A key file holds an Ed25519 private key (the 32-byte seed) as one line of
 * base64 (44 characters) and a newline, like WireGuard's. It must be a
 * regular file owned by the caller's user and not readable or writable by
 * group or others (mode 0600 or stricter); anything else is refused with a
 * message naming the file and what is wrong. Public keys travel as base64
 * strings (44 characters) in configs and in `epochctl status`.
 *
 * Functions return 0 or -1 with a one-line message in err (errlen bytes);
 * secrets read or made are wiped from every intermediate buffer.
 */
#ifndef EPOCHD_KEYFILE_H
#define EPOCHD_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#define KEY_B64_LEN 44 /* base64 of 32 bytes, with its '=' */

/* Writes a fresh private key to path: created with O_EXCL and mode 0600
 * (an existing file is never overwritten). pk_b64 (optional, 45 bytes)
 * receives the public key string. */
int keyfile_generate(const char *path, char *pk_b64, char *err,
		     size_t errlen);
/* Reads a private key file (checking owner and mode) and derives its
 * public key. */
int keyfile_load(const char *path, uint8_t sk[32], uint8_t pk[32], char *err,
		 size_t errlen);
/* Public key <-> base64 string (out: KEY_B64_LEN + 1 bytes). decode
 * accepts exactly 44 characters of standard base64 for 32 bytes. */
void key_public_encode(const uint8_t pk[32], char *out);
int key_public_decode(const char *s, uint8_t pk[32]);

#endif
