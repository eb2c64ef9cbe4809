/* deserialization.json: a vector's varint length header (RFC 9420 §2.1.2)
 * decodes to the given length, and the length re-encodes to the header. */
#include "tests/mls/vectors.h"

void run_deserialization(const struct json *doc, const char *file)
{
	for (size_t i = 0; i < doc->n; i++) {
		const struct json *c = doc->items[i];
		struct test_bytes h;
		uint64_t want = 0;
		uint32_t got = 0;
		uint8_t out[4];
		struct codec_reader r;
		struct codec_writer w;

		vcase_begin("%s[%zu]", file, i);
		if (vhex(c, "vlbytes_header", &h) == 0 &&
		    CHECK(json_get_u64(c, "length", &want) == 0)) {
			codec_reader_init(&r, h.p, h.len);
			if (CHECK_OK(codec_read_varint(&r, &got)) &&
			    CHECK_OK(codec_reader_done(&r)))
				CHECK_EQ_U64(got, want);
			codec_writer_init(&w, out, sizeof(out));
			if (CHECK_OK(codec_write_varint(&w, (uint32_t)want)) &&
			    CHECK_EQ_U64(w.len, h.len))
				CHECK_MEM(out, h.p, h.len);
		}
		test_bytes_free(&h);
		vcase_end();
	}
}
