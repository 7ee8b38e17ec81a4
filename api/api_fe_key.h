/* Fixed-effect levels by their keys, so that a stored model with fixed
 * effects can predict new rows (POST /v1/models/{id}/predict): the answer
 * of a fe or ppml fit lists each estimated level's key (the values of the
 * factor's parts, e.g. ["CHN", 2019] for reporter^year) and value
 * ("fixed_effect_values"); the view reads them into maps; a new row's level
 * is found from its own key.
 *
 * A part is read as core_factor_from_panel reads it: "reporter" and
 * "partner" are the key strings, "year" the year key (unless a numeric
 * column has that name), anything else a numeric column, compared exactly
 * (-0 as 0). In JSON a part is a string, an integer (the year key) or a
 * number; as text, the parts joined by U+001F, numbers as "%.17g". */
#ifndef GRAVITAS_API_FE_KEY_H
#define GRAVITAS_API_FE_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "api_text.h"
#include "core_hdfe.h"
#include "core_panel.h"

/* A factor's parts resolved against a panel once (for all its rows). */
typedef struct api_fe_factor {
  size_t n;                        /* parts */
  int kind[CORE_HDFE_MAX_FACTORS]; /* reporter, partner, year, column */
  const double *col[CORE_HDFE_MAX_FACTORS]; /* a numeric column's values */
} api_fe_factor;

/* Resolves label ("reporter^year") against p; false when a part is not in
 * the panel. */
bool api_fe_factor_resolve(const core_panel *p, const char *label,
                           api_fe_factor *out);

/* The JSON parts of row r's level (a new array), or NULL when a part is
 * missing in that row (or no memory). */
json_t *api_fe_key_parts(const core_panel *p, const api_fe_factor *fac,
                         size_t r);

/* The text key of row r's level into t (reset first). False when a part is
 * missing in that row, or memory ran out. */
bool api_fe_key_text(const core_panel *p, const api_fe_factor *fac, size_t r,
                     api_text *t);

/* The text key of stored JSON parts into t (reset first). False when parts
 * is not an array of strings and numbers. */
bool api_fe_key_text_json(const json_t *parts, api_text *t);

/* A map from text keys to values (open addressing; read-only once built,
 * so shared by threads). */
typedef struct api_fe_map {
  char *label; /* the factor, e.g. "reporter^year" */
  size_t n, cap;
  char **keys;   /* cap slots, NULL = empty */
  double *value; /* cap */
} api_fe_map;

/* Adds key -> value (a duplicate key keeps the first value). False when
 * memory runs out. */
bool api_fe_map_put(api_fe_map *m, const char *key, double value);
/* The value of key; false when absent. */
bool api_fe_map_get(const api_fe_map *m, const char *key, double *value);
/* Frees what the map holds (not m itself). */
void api_fe_map_clear(api_fe_map *m);

#endif
