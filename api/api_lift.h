/* Numeric columns (and whole rows arrays) lifted out of a JSON text before
 * Jansson parses it.
 *
 * Why: Jansson makes one heap object per number (and per row object). For the
 * columns form of a dataset (100,000 rows x 9 columns, 18.5 MB) that was
 * 900,000 objects, 0.35-0.6 s of parsing and most of the request's peak memory.
 * The arrays at /columns/<name> and /data/columns/<name> that hold only JSON
 * numbers and nulls are read straight into doubles here; in the text that
 * Jansson then parses, each is replaced by a marker string
 * ("\u0001gv1:<index>"), and a rows array read into columns by a marker
 * in a one-element array (["\u0001gv1:r<index>"], see api_lifted_rows
 * below), so that "rows" stays an array to every check of the fields. When
 * Jansson refuses that text, the client's own text is parsed instead, so that
 * an error is Jansson's own, its line and column those of the client's text.
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

/* The rows form (/rows, /data/rows) read straight into columns, when every
 * row is an object of plain members that the rows decoder (api_data.c)
 * would take without a single fault: reporter and partner strings (1 to
 * API_KEY_MAX bytes of UTF-8, no escapes) or null, integer years in range
 * in every row or in none, other members valid variable names holding
 * numbers or null, no member twice in a row, no empty row. Anything else
 * leaves the array to Jansson and the decoder, whose faults and pointers
 * are then those of the client's text. */
typedef struct api_lifted_rows {
  size_t n;          /* rows */
  size_t ncol;       /* numeric variables, in order of first appearance */
  char **names;      /* ncol names; owned */
  size_t *first_row; /* the row where each first appears */
  double **cols;     /* ncol columns of n values, NaN when absent or null */
  /* n reporters, partners (an entry NULL: absent or null in that row); the
   * array NULL when the key is a member of no row. */
  const char **keys[2];
  int *year;   /* n years, or NULL when no row has a year */
  char **strs; /* the distinct key strings the rows point at */
  size_t nstr;
} api_lifted_rows;

typedef struct api_lifted {
  api_lifted_col *cols; /* owned */
  size_t n, cap;
  api_lifted_rows *rows; /* owned */
  size_t nrows, rows_cap;
} api_lifted;

/* json_loadb(buf, len, flags, err) with the numeric columns and rows lifted
 * into *lifted (which must start empty: {0}). Returns what json_loadb
 * returns; on NULL, *lifted is emptied. A rows array of more than max_rows
 * rows or max_columns variables is left to Jansson (whose path answers the
 * limit); 0 means no limit, for max_depth too. */
json_t *api_lift_load(const char *buf, size_t len, size_t flags,
                      size_t max_depth, size_t max_rows, size_t max_columns,
                      api_lifted *lifted, json_error_t *err);

/* The lifted column a marker string v stands for, or NULL when v is not a
 * marker of this table (lifted may be NULL). */
const api_lifted_col *api_lifted_get(const api_lifted *lifted, const json_t *v);

/* The lifted rows v (the one-element array holding a rows marker) stands
 * for, or NULL when v is not such an array of this table (lifted may be
 * NULL). */
const api_lifted_rows *api_lifted_rows_get(const api_lifted *lifted,
                                           const json_t *v);

/* Frees the columns and empties the table. NULL is a no-op. */
void api_lifted_free(api_lifted *lifted);

#endif
