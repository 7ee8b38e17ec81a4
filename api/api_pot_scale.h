/* One rule, shared by the potentials of a fit (api_models_panel.c) and the
 * predictions of a stored model (api_model_store.c): how core_potential
 * scales a model's linear predictions. PPML predicts the mean
 * exp(x b + fe) itself: log link, factor 1 (no smearing). Every other
 * estimator goes by how its response is written (level or log), times its
 * retransformation (smearing) factor. */
#ifndef GRAVITAS_API_POT_SCALE_H
#define GRAVITAS_API_POT_SCALE_H

#include <stdbool.h>

#include "core_formula.h"

typedef struct api_pot_scale {
  core_term_kind kind; /* the response kind core_potential is given */
  double factor;       /* the factor it multiplies exp(x b) by */
} api_pot_scale;

static inline api_pot_scale api_pot_scale_of(bool ppml, core_term_kind response,
                                             double smearing) {
  if (ppml) return (api_pot_scale){CORE_TERM_LOG, 1.0};
  return (api_pot_scale){response, smearing};
}

#endif
