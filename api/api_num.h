/* Fast, exact number formatting for the large outputs (the canonical form
 * behind dataset ids, the potentials of a model answer).
 *
 * glibc's printf("%.17g") goes through multi-precision arithmetic and took
 * about a microsecond a number: with 900,000 numbers in a 100,000-row fit
 * it was a third of POST /v1/models. These functions write the very same
 * bytes from 128-bit integer arithmetic for |x| in [1e-5, 1e38) (the exact
 * binary value times a power of ten, rounded half to even, as glibc rounds)
 * and hand every other value to snprintf. tests/api/test_num.c compares
 * them with snprintf and with Jansson on millions of values. */
#ifndef GRAVITAS_API_NUM_H
#define GRAVITAS_API_NUM_H

#include <stddef.h>

/* Room for any output of the functions below, with its NUL. */
#define API_NUM_BUF 40

/* Writes x exactly as snprintf(buf, API_NUM_BUF, "%.17g", x) does; returns
 * the length (without the NUL). */
size_t api_fmt_g17(double x, char buf[API_NUM_BUF]);

/* Writes a finite x exactly as Jansson's json_dumps writes a real with
 * JSON_REAL_PRECISION(17): %.17g, ".0" appended when there is neither a
 * point nor an exponent, the exponent without '+' or leading zeros
 * ("1e-5", "1.5e20"). Returns the length. */
size_t api_fmt_json_real(double x, char buf[API_NUM_BUF]);

#endif
