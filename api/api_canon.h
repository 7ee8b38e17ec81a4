/* Content ids: "ds_" + 128 bits of the SHA-256 of a dataset's canonical
 * serialisation, and "m_" + 128 bits of the SHA-256 of (dataset id,
 * canonical model specification). Same content, same id, whatever the JSON
 * key order or the rows/columns form of the request. The store reuses these.
 *
 * Canonical dataset serialisation (version 1), hashed as a byte stream:
 *   "gravitas-dataset-v1\n"
 *   "rows <n>\n"
 *   "keys" then " reporter", " partner", " year" for the keys present, "\n"
 *   "columns" then " <name>" for every numeric column, names sorted by
 *   strcmp, "\n"
 *   one line per row, in row order: the keys then the columns in the order
 *   above, each field followed by ";": a string key as "<bytes>:<text>", a
 *   year as its decimal integer, a number as printf "%.17g" ("-0" kept), a
 *   missing value as "NA" (a missing string key as "NA" too: "NA" cannot be
 *   confused with a "<bytes>:<text>" field). */
#ifndef GRAVITAS_API_CANON_H
#define GRAVITAS_API_CANON_H

#include <stdbool.h>
#include <stddef.h>

#include "core_panel.h"
#include "core_potential.h"

#define API_DATASET_ID_LEN 35 /* "ds_" + 32 hex */
#define API_MODEL_ID_LEN 34   /* "m_" + 32 hex */

/* Receives successive pieces of a canonical serialisation; returns false to
 * stop. */
typedef bool (*api_canon_sink)(void *ctx, const char *bytes, size_t len);

/* Writes p's canonical serialisation to sink. Returns false when the sink
 * stopped it or memory ran out. */
bool api_canon_dataset(const core_panel *p, api_canon_sink sink, void *ctx);

/* Writes "ds_<32 hex>" into out (API_DATASET_ID_LEN + 1 bytes). Returns
 * false (out = "") on memory or libcrypto failure. */
bool api_canon_dataset_id(const core_panel *p,
                          char out[API_DATASET_ID_LEN + 1]);

/* What identifies a model besides its data. Fill every field (defaults
 * included), so that a spec given explicitly and one left to the defaults
 * get the same id. */
typedef struct api_model_spec {
  const char *formula;     /* normalised (core_formula_text) */
  const char *estimator;   /* "ols" */
  const char *vcov;        /* "classical", "hc1", "cluster:<var>", ... */
  core_pot_spec potential; /* method, smearing, thresholds */
  const char *interpolate; /* "none", "linear", "nearest" */
  double confidence;       /* e.g. 0.95 */
  /* Estimator options in a fixed order, "key=value;key=value" (e.g.
   * "inefficiency=half_normal;time=bc92"); NULL or "" when none. */
  const char *options;
} api_model_spec;

/* The canonical text of a spec (malloc'd, caller frees), one "key=value"
 * line per field in a fixed order, numbers "%.17g". NULL on allocation
 * failure. */
char *api_canon_model_spec(const api_model_spec *spec);

/* Writes "m_<32 hex>" = SHA-256 of (dataset_id, "\n", canonical spec) into
 * out (API_MODEL_ID_LEN + 1 bytes). Returns false (out = "") on failure. */
bool api_canon_model_id(const char *dataset_id, const api_model_spec *spec,
                        char out[API_MODEL_ID_LEN + 1]);

#endif
