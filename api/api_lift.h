/* Numeric columns lifted out of a JSON text before Jansson parses it.
 *
 * Why: Jansson makes one heap object per number. For the columns form of a
 * dataset (100,000 rows x 9 columns, 18.5 MB) that was 900,000 objects,
 * 0.35-0.6 s of parsing and most of the request's peak memory. The arrays
 * at /columns/<name> and /data/columns/<name> that hold only JSON numbers
 * and nulls are read straight into doubles here; in the text that Jansson
 * then parses, each is replaced by a marker string ("\u0001gv1:<index>").
 * When Jansson refuses that text, the client's own text is parsed instead,
 * so that an error is Jansson's own, its line and column those of the
 * client's text.
 *
 * The values are those Jansson would give: a number without fraction or
 * exponent is read with strtoll and converted to double (so -0 is 0), any
 * other with strtod; null is NaN (missing). An array that is anything else
 * (a string, a nested value, a number Jansson refuses: leading zeros, an
 * integer beyond 64 bits, a real that overflows) is left in the text for
 * Jansson to parse or refuse as before. Nothing is lifted when the text
 * holds "\u0001" anywhere (so a client's string can never pass for a
 * marker), when it is not an object, or when the array would sit deeper
 * than max_depth (so the depth limit judges the same tree). */
#ifndef GRAVITAS_API_LIFT_H
#define GRAVITAS_API_LIFT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef struct api_lifted_col {
  double *v; /* n values, NaN for null; owned */
  size_t n;
} api_lifted_col;

typedef struct api_lifted {
  api_lifted_col *cols; /* owned */
  size_t n, cap;
} api_lifted;

/* json_loadb(buf, len, flags, err) with the numeric columns lifted into
 * *lifted (which must start empty: {0}). Returns what json_loadb returns;
 * on NULL, *lifted is emptied. max_depth 0 means no depth limit. */
json_t *api_lift_load(const char *buf, size_t len, size_t flags,
                      size_t max_depth, api_lifted *lifted, json_error_t *err);

/* The lifted column a marker string v stands for, or NULL when v is not a
 * marker of this table (lifted may be NULL). */
const api_lifted_col *api_lifted_get(const api_lifted *lifted, const json_t *v);

/* Frees the columns and empties the table. NULL is a no-op. */
void api_lifted_free(api_lifted *lifted);

#endif
