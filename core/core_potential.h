/* Trade potential K = actual / predicted with its classes (METHODS.md
 * section 8) and the per-term effects (section 9). */
#ifndef GRAVITAS_CORE_POTENTIAL_H
#define GRAVITAS_CORE_POTENTIAL_H

#include <stdbool.h>
#include <stddef.h>

#include "core_err.h"
#include "core_formula.h"

typedef enum core_pot_method {
  CORE_POT_LEVEL,   /* K = actual / predicted, predicted in levels */
  CORE_POT_LOG,     /* K = ln(actual) / ln(predicted) (the paper's Table 3) */
  CORE_POT_FRONTIER /* K = technical efficiency of a stochastic frontier
                       (core_potential_frontier), predicted = the frontier */
} core_pot_method;

typedef enum core_smearing {
  CORE_SMEAR_DUAN,   /* mean of exp(residual) over the estimation sample */
  CORE_SMEAR_NORMAL, /* exp(s^2 / 2) */
  CORE_SMEAR_NONE    /* 1 */
} core_smearing;

typedef enum core_pot_class {
  CORE_CLASS_NONE,       /* no actual value, or K not finite */
  CORE_CLASS_HUGE,       /* K <= lo */
  CORE_CLASS_EXPANDING,  /* lo < K < hi */
  CORE_CLASS_REMODELLING /* K >= hi */
} core_pot_class;

typedef struct core_pot_spec {
  core_pot_method method;
  core_smearing smearing;
  double lo, hi; /* thresholds, default 0.8 and 1.2; need 0 < lo < hi */
} core_pot_spec;

/* Fills spec with the defaults: level, duan, 0.8, 1.2. */
void core_pot_spec_default(core_pot_spec *spec);

typedef struct core_pot_row {
  double actual;    /* the outcome in levels (NaN when unobserved) */
  double predicted; /* the prediction in levels */
  double k;         /* NaN when actual is missing */
  double gap;       /* predicted - actual (NaN when actual is missing) */
  core_pot_class cls;
} core_pot_row;

/* Retransformation factor for `level` predictions: Duan's smearing estimate
 * mean(exp(resid)) over n residuals, exp(sigma2 / 2) for NORMAL, 1 for NONE.
 * NaN for DUAN with no residuals (resid NULL or n == 0) or a non-finite
 * residual, for NORMAL with sigma2 < 0 or not finite, and for an unknown s;
 * +Inf only when the true mean exceeds the double range. */
double core_smearing_factor(core_smearing s, const double *resid, size_t n,
                            double sigma2);

/* Computes n potential rows. xb[i] is the linear prediction on the response's
 * scale, actual[i] the outcome in levels (NaN when unobserved). response_kind
 * says how the response was transformed (LOG: predicted = exp(xb) * factor;
 * LOG1P: exp(xb) * factor - 1; LEVEL: xb). For the LOG method predicted is
 * still reported in levels, without smearing, and K = ln(actual) /
 * ln(predicted). Warnings (into w) where K loses its meaning: a logarithm
 * that is negative or within 1e-3 of zero under the LOG method, a predicted
 * level <= 0 under the LEVEL method (K is then NaN). Returns CORE_EINVAL for
 * bad thresholds, else CORE_OK.
 *
 * Details: one warning per kind of trouble (with a count and the first
 * position i), not one per row. Under the LOG method an actual or predicted
 * value <= 0 has no logarithm: K is NaN, with a warning; a negative K (one
 * logarithm below 0) is classified as huge potential, as the paper's Table 3
 * does, and the warning counts those rows. A non-finite prediction (exp
 * overflow) or a non-finite actual gives K and gap NaN and class NONE without
 * a warning (the caller reports null predictions). gap is set whenever actual
 * and predicted are finite, even where K is undefined. Other CORE_EINVAL
 * cases: spec NULL, an unknown method or smearing, a response kind other
 * than LOG, LOG1P or LEVEL, NULL arrays with n > 0, and (LEVEL method with a
 * LOG or LOG1P response) a factor that is not finite and > 0. CORE_ENOMEM if
 * a warning cannot be stored. */
core_status core_potential(const core_pot_spec *spec,
                           core_term_kind response_kind, double factor,
                           const double *xb, const double *actual, size_t n,
                           core_pot_row *out, core_warnings *w, core_err *err);

/* The `frontier` method (METHODS.md section 8): for each of n rows, K =
 * efficiency[i] (TE in (0, 1], NaN where the outcome is unobserved),
 * predicted = frontier[i] (the trade the fundamentals allow, in levels),
 * actual[i] the outcome, gap = frontier - actual where both are finite, and
 * the class of K under spec's thresholds. Returns CORE_EINVAL for NULL
 * arguments with n > 0 or bad thresholds, else CORE_OK. */
core_status core_potential_frontier(const core_pot_spec *spec,
                                    const double *efficiency,
                                    const double *frontier,
                                    const double *actual, size_t n,
                                    core_pot_row *out, core_err *err);

/* Class of a K under thresholds lo < hi: K <= lo huge, K >= hi
 * remodelling, else expanding; CORE_CLASS_NONE when K, lo or hi is not
 * finite or lo >= hi. */
core_pot_class core_pot_classify(double k, double lo, double hi);
/* "huge_potential", "expanding_potential", "remodelling_potential", or NULL
 * for CORE_CLASS_NONE. */
const char *core_pot_class_name(core_pot_class c);

typedef enum core_effect_kind {
  CORE_EFFECT_NONE,           /* intercept, interactions, level responses */
  CORE_EFFECT_ELASTICITY,     /* log regressor, log response: value = b */
  CORE_EFFECT_SEMI_ELASTICITY /* level regressor, log response:
                                 value = 100 (exp(b) - 1) percent per unit */
} core_effect_kind;

/* The effect of a coefficient b on a term of kind term under a response of
 * kind response: ELASTICITY (value b) for a LOG or LOG1P term under a LOG or
 * LOG1P response, SEMI_ELASTICITY (value 100 (exp(b) - 1), computed with
 * expm1) for a LEVEL term under a LOG or LOG1P response, NONE otherwise.
 * *value is NaN for CORE_EFFECT_NONE; value may be NULL. */
core_effect_kind core_effect(core_term_kind response, core_term_kind term,
                             double b, double *value);

#endif
