/* The parsed, immutable form of a stored model answer, as the model cache
 * holds it and the read handlers use it: the answer text itself (served as
 * it is by GET /v1/models/{id}), the formula and coefficients that
 * predictions need, and the potentials sorted by (reporter, partner, year)
 * for the fast path. Built once from the stored JSON and never modified, so
 * any number of threads may read one view at the same time. */
#ifndef GRAVITAS_API_MODEL_VIEW_H
#define GRAVITAS_API_MODEL_VIEW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "api_fe_key.h"
#include "api_service.h"
#include "core_formula.h"
#include "core_potential.h"

/* One potential row of a model. reporter and partner are NULL when the
 * data had no such key; has_year is false when it had no year. The numbers
 * are NaN where the answer has null; cls is NULL where it has null. */
typedef struct api_pot_entry {
  const char *reporter;
  const char *partner;
  int year;
  bool has_year;
  double actual, predicted, k, gap;
  const char *cls; /* static class name or NULL */
} api_pot_entry;

struct api_model_view {
  char *id;         /* "m_..." */
  char *dataset_id; /* "ds_..." */
  char *estimator;  /* "ols" */
  char *vcov;
  char *formula_text;
  char etag[48]; /* "\"m_...\"" (quoted, as sent in ETag) */
  char *body;    /* the stored answer, exactly as stored */
  size_t body_len;
  core_formula *formula;
  /* Coefficients by design column label; a term dropped as collinear has
   * estimate 0 (it takes no part in predictions, as in R's predict.lm). */
  size_t n_coef;
  char **coef_term;
  double *coef;
  bool has_potential_spec; /* false for answers stored before the spec was */
  core_pot_spec pot;
  double factor; /* the retransformation factor of level predictions */
  /* Potential rows sorted by reporter, partner, year (NULL keys first). */
  size_t n_pot;
  api_pot_entry *pot_rows;
  char **strings; /* the key strings the entries point into */
  size_t n_strings;
  /* The answers of GET /v1/potential for one pair-year, made on first use
   * and then shared by every request (NULL until then; set once with a
   * compare-and-swap, freed with the view): the body text for row i. */
  _Atomic(char *) *pot_json;
  /* The estimated fixed effects by level key, one map per factor in the
   * formula's order ("fixed_effect_values" of fe and ppml answers; n_fe is
   * 0 for other models and for answers stored before they were written). */
  size_t n_fe;
  api_fe_map *fe;
  size_t bytes; /* approximate memory held, for the cache's budget */
};

/* Builds a view from a stored model answer (len bytes of JSON text; not
 * NUL-terminated). Returns 0 with *out set (free with api_model_view_free),
 * or -1 with *out NULL and a sentence in err when the text is not a model
 * answer (not JSON, a member missing or of the wrong type, a formula that
 * no longer parses) or memory runs out. */
int api_model_view_build(const char *json_text, size_t len,
                         api_model_view **out, char *err, size_t errlen);

/* Frees v and everything it owns. NULL is a no-op. */
void api_model_view_free(api_model_view *v);

/* The index of the first potential row with this reporter (and partner,
 * when partner is not NULL) in v->pot_rows, and the number of consecutive
 * rows that match in *count (0 when none; the index is then where such rows
 * would be). The rows of one pair are in year order. */
size_t api_model_view_find(const api_model_view *v, const char *reporter,
                           const char *partner, size_t *count);

#endif
