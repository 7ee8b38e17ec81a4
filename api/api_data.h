/* Inline datasets in request bodies: decoding {"rows": [...]} or
 * {"columns": {...}} into a core_panel with every fault named by its JSON
 * Pointer, and building pointers back from panel cells for later errors
 * (domain errors name /data/rows/<i>/<var> or /data/columns/<var>/<i>). */
#ifndef GRAVITAS_API_DATA_H
#define GRAVITAS_API_DATA_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "api_lift.h"

#include "api.h"
#include "core_panel.h"

typedef enum api_data_form {
  API_DATA_ROWS,   /* {"rows": [{"reporter": ..., "x": 1.5}, ...]} */
  API_DATA_COLUMNS /* {"columns": {"x": [1.5, ...], ...}} */
} api_data_form;

/* Smallest and largest year accepted. */
#define API_YEAR_MIN (-9999)
#define API_YEAR_MAX 9999

/* Longest reporter or partner code, bytes. */
#define API_KEY_MAX 64

/* At most this many faults are listed for one dataset (the rest are
 * counted in a final entry). */
#define API_DATA_MAX_ERRORS 64

typedef struct api_data {
  core_panel *panel; /* owned; NULL until decoded */
  api_data_form form;
  char base[64]; /* pointer of the data object, e.g. "/data" */
} api_data;

/* Decodes `data` (found at pointer base, e.g. "/data") under the limits
 * (max_rows, max_columns). On success returns true and out->panel holds the
 * panel (free with api_data_free). On failure returns false, adds the faults
 * to errs and sets *code: API_E_INVALID (shape, types, names, empty data,
 * columns of unequal length), API_E_LIMIT (too many rows or columns; the
 * decoding stops there) or API_E_INTERNAL (out of memory); out->panel is
 * NULL then. A column given as a marker of lifted (the table filled by
 * api_json_parse_body_lifted or api_lift_load; may be NULL) is read from
 * there, with the same result as the array it replaced. */
bool api_data_decode(const json_t *data, const char *base,
                     const api_limits *limits, const api_lifted *lifted,
                     api_data *out, api_error_code *code, api_errors *errs);

/* Frees the panel (d itself is not freed). NULL is a no-op. */
void api_data_free(api_data *d);

/* The pointer of one cell: "<base>/rows/<row>/<var>" or
 * "<base>/columns/<var>/<row>". Returns buf. */
const char *api_data_cell_pointer(const api_data *d, size_t row,
                                  const char *var, char *buf, size_t bufsz);

/* The pointer of the rows array or the columns object. Returns buf. */
const char *api_data_pointer(const api_data *d, char *buf, size_t bufsz);

/* Comma-separated names a formula may use: the keys present (reporter,
 * partner, year) and then the numeric variables in order of appearance.
 * Truncated with "..." when buf is too small. Returns buf. */
const char *api_data_variables(const api_data *d, char *buf, size_t bufsz);

/* True when name is a key or column of the panel ("reporter", "partner" and
 * "year" only when those keys are present). */
bool api_data_has_variable(const api_data *d, const char *name);

#endif
