/* The tunnel's transition table (daemon/tunnel_rows.def) for tests: does
 * a transition the C code reported through tunnel_ops.row fit its row? */
#ifndef TESTS_LIB_TUNNEL_ROWS_H
#define TESTS_LIB_TUNNEL_ROWS_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/tunnel.h"

#define TROW(id, from, ev, to, m) { id, from, ev, to, m },
static const struct {
	unsigned id, from, ev, to, model;
} tunnel_rows_tab[] = {
#include "daemon/tunnel_rows.def"
};
#undef TROW

#define TUNNEL_ROWS_N (sizeof(tunnel_rows_tab) / sizeof(tunnel_rows_tab[0]))

static inline bool tunnel_row_fits(unsigned id, unsigned ev,
				   enum tunnel_state from,
				   enum tunnel_state to)
{
	for (size_t i = 0; i < TUNNEL_ROWS_N; i++)
		if (tunnel_rows_tab[i].id == id)
			return (tunnel_rows_tab[i].from >> from & 1) &&
			       (tunnel_rows_tab[i].ev & ev) &&
			       (tunnel_rows_tab[i].to == S_SAME ?
					to == from :
					(tunnel_rows_tab[i].to >> to & 1));
	return false;
}

#endif
