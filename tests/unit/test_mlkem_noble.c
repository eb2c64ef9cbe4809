/* Differential test of proto/mlkem against @noble/post-quantum (npm, final
 * FIPS 203 ML-KEM-768): for a few hundred random (d, z, m) both give
 * byte-identical ek, dk, ct and shared secret, and the same implicit-
 * rejection key for a random ciphertext. The peer script is
 * tests/interop/mlkem_noble.mjs (installed by `make deps-npm`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/mlkem.h"
#include "tests/lib/test.h"

#define CASES 300

enum { F_D, F_Z, F_M, F_EK, F_DK, F_CT, F_SS, F_CTR, F_SSR, F_N };
static const size_t field_len[F_N] = {
	32, 32, 32, MLKEM_EK_LEN, MLKEM_DK_LEN, MLKEM_CT_LEN, MLKEM_SS_LEN,
	MLKEM_CT_LEN, MLKEM_SS_LEN,
};

/* Splits a line into F_N hex fields and decodes them; 0 on success. */
static int parse_line(char *line, uint8_t *f[F_N])
{
	char *save = NULL, *tok = strtok_r(line, " \n", &save);
	int i;

	for (i = 0; i < F_N; i++) {
		if (tok == NULL ||
		    test_hex_fixed(tok, f[i], field_len[i]) != 0)
			return -1;
		tok = strtok_r(NULL, " \n", &save);
	}
	return tok == NULL ? 0 : -1;
}

static void check_case(uint8_t *f[F_N])
{
	uint8_t ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN], ct[MLKEM_CT_LEN];
	uint8_t ss[MLKEM_SS_LEN], ss2[MLKEM_SS_LEN];

	CHECK_OK(mlkem_keygen_internal(f[F_D], f[F_Z], ek, dk));
	CHECK_MEM(ek, f[F_EK], MLKEM_EK_LEN);
	CHECK_MEM(dk, f[F_DK], MLKEM_DK_LEN);
	CHECK_OK(mlkem_encaps_internal(f[F_EK], f[F_M], ct, ss));
	CHECK_MEM(ct, f[F_CT], MLKEM_CT_LEN);
	CHECK_MEM(ss, f[F_SS], MLKEM_SS_LEN);
	CHECK_OK(mlkem_decaps(f[F_DK], f[F_CT], ss2));
	CHECK_MEM(ss2, f[F_SS], MLKEM_SS_LEN);
	CHECK_OK(mlkem_decaps(f[F_DK], f[F_CTR], ss2));
	CHECK_MEM(ss2, f[F_SSR], MLKEM_SS_LEN);
}

int main(int argc, char **argv)
{
	uint8_t *f[F_N];
	char *line = NULL;
	size_t cap = 0;
	int n = 0, i;
	FILE *p;

	for (i = 0; i < F_N; i++)
		f[i] = malloc(field_len[i]);
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "node tests/interop/mlkem_noble.mjs %d",
		 CASES);
	p = popen(cmd, "r");
	if (p == NULL) {
		test_begin("start node peer");
		CHECK(p != NULL);
		test_end();
		return test_main_end(argv[0]);
	}
	while (getline(&line, &cap, p) > 0) {
		test_begin("noble case %d", n);
		if (CHECK(parse_line(line, f) == 0))
			check_case(f);
		test_end();
		n++;
	}
	test_begin("node peer ran %d cases and exited 0", CASES);
	CHECK(pclose(p) == 0);
	CHECK_EQ_U64(n, CASES);
	test_end();
	printf("noble differential: %d cases\n", n);
	free(line);
	for (i = 0; i < F_N; i++)
		free(f[i]);
	return test_main_end(argv[0]);
}
