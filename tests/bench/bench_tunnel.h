/* epoch-bench: daemon/tunnel figures (tests/bench/bench_tunnel.c). */
#ifndef EPOCHD_BENCH_TUNNEL_H
#define EPOCHD_BENCH_TUNNEL_H

/* Sets up one tunnel pair per suite (handshake and two rekeys, bytes
 * counted on the wire); 0 or a negative EPOCH_ERR_*. */
int tbench_setup(void);
/* One rekey on the established pair of a suite, sides alternating. */
int tbench_rekey_xwing(void);
int tbench_rekey_aes128(void);
int tbench_rekey_chacha(void);
/* Prints the byte and datagram figures whose names sel() accepts. */
void tbench_print_sizes(int (*sel)(const char *name, int argc, char **argv),
			int argc, char **argv);
void tbench_free(void);

#endif
