/* Trade potential K = actual / predicted, its classes, the retransformation
 * of log predictions, and the per-term effects (METHODS.md sections 8-9; see
 * core_potential.h for the contract). */
#include "core_potential.h"

#include <math.h>
#include <stdio.h>

/* Under the log method a logarithm this close to zero makes the ratio
 * ln(actual) / ln(predicted) explode or collapse. */
#define LOG_NEAR_ZERO 1e-3

void core_pot_spec_default(core_pot_spec *spec) {
  if (spec == NULL) return;
  spec->method = CORE_POT_LEVEL;
  spec->smearing = CORE_SMEAR_DUAN;
  spec->lo = 0.8;
  spec->hi = 1.2;
}

double core_smearing_factor(core_smearing s, const double *resid, size_t n,
                            double sigma2) {
  switch (s) {
  case CORE_SMEAR_NONE: return 1.0;
  case CORE_SMEAR_NORMAL:
    return isfinite(sigma2) && sigma2 >= 0 ? exp(sigma2 / 2.0) : NAN;
  case CORE_SMEAR_DUAN: {
    if (resid == NULL || n == 0) return NAN;
    double sum = 0, m = -INFINITY;
    for (size_t i = 0; i < n; i++) {
      if (!isfinite(resid[i])) return NAN;
      sum += exp(resid[i]);
      m = fmax(m, resid[i]);
    }
    if (isfinite(sum)) return sum / (double)n;
    /* Some exp(e_i) overflowed: factor out the largest residual. */
    sum = 0;
    for (size_t i = 0; i < n; i++)
      sum += exp(resid[i] - m);
    return exp(m) * (sum / (double)n);
  }
  }
  return NAN;
}

core_pot_class core_pot_classify(double k, double lo, double hi) {
  if (!isfinite(k) || !isfinite(lo) || !isfinite(hi) || !(lo < hi))
    return CORE_CLASS_NONE;
  if (k <= lo) return CORE_CLASS_HUGE;
  if (k >= hi) return CORE_CLASS_REMODELLING;
  return CORE_CLASS_EXPANDING;
}

const char *core_pot_class_name(core_pot_class c) {
  switch (c) {
  case CORE_CLASS_HUGE: return "huge_potential";
  case CORE_CLASS_EXPANDING: return "expanding_potential";
  case CORE_CLASS_REMODELLING: return "remodelling_potential";
  case CORE_CLASS_NONE: return NULL;
  }
  return NULL;
}

/* The prediction in levels from the linear prediction xb. */
static double level_of(core_term_kind response, double xb, double factor) {
  switch (response) {
  case CORE_TERM_LOG: return exp(xb) * factor;
  case CORE_TERM_LOG1P: return factor == 1.0 ? expm1(xb) : exp(xb) * factor - 1;
  default: return xb;
  }
}

/* Counts rows of one kind of trouble and remembers the first. */
typedef struct tally {
  size_t count, first;
} tally;

static void mark(tally *t, size_t i) {
  if (t->count++ == 0) t->first = i;
}

core_status core_potential(const core_pot_spec *spec,
                           core_term_kind response_kind, double factor,
                           const double *xb, const double *actual, size_t n,
                           core_pot_row *out, core_warnings *w, core_err *err) {
  core_err_clear(err);
  if (spec == NULL)
    return core_err_set(err, CORE_EINVAL, "No potential specification.");
  if (!isfinite(spec->lo) || !isfinite(spec->hi) || !(spec->lo > 0) ||
      !(spec->lo < spec->hi))
    return core_err_set(err, CORE_EINVAL,
                        "The class thresholds must be finite with 0 < low < "
                        "high (got low %.17g, high %.17g).",
                        spec->lo, spec->hi);
  if (spec->method != CORE_POT_LEVEL && spec->method != CORE_POT_LOG)
    return core_err_set(err, CORE_EINVAL, "Unknown potential method.");
  if (spec->smearing != CORE_SMEAR_DUAN &&
      spec->smearing != CORE_SMEAR_NORMAL && spec->smearing != CORE_SMEAR_NONE)
    return core_err_set(err, CORE_EINVAL, "Unknown smearing method.");
  if (response_kind != CORE_TERM_LOG && response_kind != CORE_TERM_LOG1P &&
      response_kind != CORE_TERM_LEVEL)
    return core_err_set(err, CORE_EINVAL,
                        "The response must be in levels, log() or log1p().");
  if (n > 0 && (xb == NULL || actual == NULL || out == NULL))
    return core_err_set(err, CORE_EINVAL, "No data for the potentials.");
  bool is_log = spec->method == CORE_POT_LOG;
  /* The factor only multiplies level predictions of a log response. */
  if (!is_log && response_kind != CORE_TERM_LEVEL &&
      !(isfinite(factor) && factor > 0))
    return core_err_set(err, CORE_EINVAL,
                        "The retransformation factor must be positive and "
                        "finite (got %.17g).",
                        factor);
  tally nonpos_pred = {0, 0}, bad_log = {0, 0}, small_log = {0, 0},
        negative_k = {0, 0};
  for (size_t i = 0; i < n; i++) {
    core_pot_row *r = &out[i];
    r->actual = isfinite(actual[i]) ? actual[i] : NAN;
    r->predicted = level_of(response_kind, xb[i], is_log ? 1.0 : factor);
    r->k = NAN;
    r->gap = NAN;
    r->cls = CORE_CLASS_NONE;
    /* An overflowed or undefined prediction says nothing about K; the
     * caller reports non-finite predictions (as null) itself. */
    if (isnan(r->actual) || !isfinite(r->predicted)) continue;
    r->gap = r->predicted - r->actual;
    if (!is_log) {
      if (!(r->predicted > 0)) {
        mark(&nonpos_pred, i);
        continue;
      }
      r->k = r->actual / r->predicted;
    } else {
      if (!(r->actual > 0) || !(r->predicted > 0)) {
        mark(&bad_log, i);
        continue;
      }
      double la = log(r->actual), lp = log(r->predicted);
      if (la < 0 || lp < 0 || fabs(la) < LOG_NEAR_ZERO ||
          fabs(lp) < LOG_NEAR_ZERO)
        mark(&small_log, i);
      r->k = lp != 0 ? la / lp : NAN;
      if (r->k < 0) mark(&negative_k, i);
    }
    r->cls = core_pot_classify(r->k, spec->lo, spec->hi);
  }
  core_status st = CORE_OK;
  if (nonpos_pred.count > 0)
    st = core_warn(w,
                   "%zu prediction%s in levels %s not positive (first at "
                   "position %zu, counting from 0), so K = actual / "
                   "predicted is undefined there and left missing.",
                   nonpos_pred.count, nonpos_pred.count == 1 ? "" : "s",
                   nonpos_pred.count == 1 ? "is" : "are", nonpos_pred.first);
  if (st == CORE_OK && bad_log.count > 0)
    st = core_warn(w,
                   "Under the log method %zu row%s %s an actual or predicted "
                   "value <= 0 (first at position %zu, counting from 0), "
                   "whose logarithm does not exist; K is left missing there.",
                   bad_log.count, bad_log.count == 1 ? "" : "s",
                   bad_log.count == 1 ? "has" : "have", bad_log.first);
  if (st == CORE_OK && small_log.count > 0)
    st = core_warn(
        w,
        "Under the log method K = ln(actual) / ln(predicted) loses its "
        "meaning where a logarithm is negative (a value below 1) or within "
        "0.001 of zero: %zu row%s (first at position %zu, counting from 0), "
        "of which %zu %s a negative K, classified as huge potential. Consider "
        "the level method (K = actual / predicted).",
        small_log.count, small_log.count == 1 ? "" : "s", small_log.first,
        negative_k.count, negative_k.count == 1 ? "has" : "have");
  if (st != CORE_OK) core_err_set(err, st, "Out of memory for a warning.");
  return st;
}

core_effect_kind core_effect(core_term_kind response, core_term_kind term,
                             double b, double *value) {
  core_effect_kind k = CORE_EFFECT_NONE;
  if (response == CORE_TERM_LOG || response == CORE_TERM_LOG1P) {
    if (term == CORE_TERM_LOG || term == CORE_TERM_LOG1P)
      k = CORE_EFFECT_ELASTICITY;
    else if (term == CORE_TERM_LEVEL)
      k = CORE_EFFECT_SEMI_ELASTICITY;
  }
  if (value != NULL) {
    if (k == CORE_EFFECT_ELASTICITY)
      *value = b;
    else if (k == CORE_EFFECT_SEMI_ELASTICITY)
      *value = 100.0 * expm1(b);
    else
      *value = NAN;
  }
  return k;
}

core_status core_potential_frontier(const core_pot_spec *spec,
                                    const double *efficiency,
                                    const double *frontier,
                                    const double *actual, size_t n,
                                    core_pot_row *out, core_err *err) {
  core_err_clear(err);
  if (spec == NULL || (n > 0 && (!efficiency || !frontier || !actual || !out)))
    return core_err_set(err, CORE_EINVAL, "no specification or arrays given");
  if (!(spec->lo > 0) || !(spec->lo < spec->hi) || !isfinite(spec->hi))
    return core_err_set(err, CORE_EINVAL,
                        "thresholds must satisfy 0 < lo < hi (got %.17g, "
                        "%.17g)",
                        spec->lo, spec->hi);
  for (size_t i = 0; i < n; i++) {
    core_pot_row *r = &out[i];
    r->actual = actual[i];
    r->predicted = frontier[i];
    bool both = isfinite(actual[i]) && isfinite(frontier[i]);
    r->gap = both ? frontier[i] - actual[i] : NAN;
    r->k = both && isfinite(efficiency[i]) ? efficiency[i] : NAN;
    r->cls = core_pot_classify(r->k, spec->lo, spec->hi);
  }
  return CORE_OK;
}
