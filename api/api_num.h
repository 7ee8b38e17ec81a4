/* Fast, exact number formatting for the large outputs (the canonical form
 * behind dataset ids, the potentials of a model answer), and fast, exact
 * reading of the large inputs (numeric columns of a JSON body, CSV cells):
 * api_parse_real, 31 ns a 17-digit number against strtod's 89.
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

#include <stdbool.h>
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

/* Reads the decimal number s[0, n) (the JSON grammar: -?int(.frac)?
 * ([eE][+-]?exp)?, already checked by the caller) into *out exactly as
 * strtod rounds it (to nearest, ties to even), and returns true; returns
 * false, writing nothing, when it leaves the number to strtod: more than 19
 * digits from the first nonzero one, a result that is subnormal, zero by
 * underflow or infinite, or one of the rare products too close to a rounding
 * boundary. Clinger's fast path for small significands and exponents, the
 * Eisel-Lemire algorithm otherwise (the table in api_pow5.h).
 * tests/api/test_num.c compares it with strtod bit for bit. */
bool api_parse_real(const char *s, size_t n, double *out);

#endif
