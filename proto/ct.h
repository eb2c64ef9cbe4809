/* Constant-time annotations for checking under valgrind ("ctgrind").
 *
 * Internal header for proto/ modules and their tests. ct_poison() marks
 * secret bytes as undefined for memcheck, so that any branch or memory
 * index that depends on them is reported; ct_declassify() marks bytes as
 * defined again, for values that are public by definition (a public key, a
 * ciphertext, the result of a public check). Outside valgrind the client
 * requests are a few no-op instructions; without the valgrind headers they
 * compile to nothing. See tests/ctgrind.sh.
 */
#ifndef EPOCHD_CT_H
#define EPOCHD_CT_H

#include <stddef.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define CT_HAVE_VALGRIND 1
#endif
#endif

static inline void ct_poison(const void *p, size_t n)
{
#ifdef CT_HAVE_VALGRIND
	(void)VALGRIND_MAKE_MEM_UNDEFINED(p, n);
#else
	(void)p;
	(void)n;
#endif
}

static inline void ct_declassify(const void *p, size_t n)
{
#ifdef CT_HAVE_VALGRIND
	(void)VALGRIND_MAKE_MEM_DEFINED(p, n);
#else
	(void)p;
	(void)n;
#endif
}

#endif
