/* POST /v1/models with "estimator": "sfa": the stochastic frontier gravity
 * model (METHODS.md section 7) on the design of the formula, its answer
 * members, and the `frontier` potential (K = technical efficiency, the
 * predicted value the frontier trade). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "api_core.h"
#include "api_models_int.h"

typedef struct pair_key {
  const char *rep, *par; /* rep may be NULL (no reporter key) */
  size_t i;              /* fit row */
} pair_key;

static int cmp_str(const char *a, const char *b) {
  if (a == NULL || b == NULL) return (a != NULL) - (b != NULL);
  return strcmp(a, b);
}

static int cmp_pair(const void *pa, const void *pb) {
  const pair_key *a = pa, *b = pb;
  int c = cmp_str(a->rep, b->rep);
  return c ? c : cmp_str(a->par, b->par);
}

/* Groups the fit rows by (reporter, partner) and reads their years, for the
 * panel models (one sort: O(n log n)). Returns false after answering when
 * the keys are missing. */
static bool panel_of(model_ctx *c, const core_design *d, size_t *n_groups) {
  const core_panel *p = c->data.panel;
  if (p->partner == NULL || p->year == NULL) {
    api_mctx_raise(c, API_E_INVALID);
    api_errors_add(&c->errs, "/time",
                   "a panel frontier needs the keys partner and year in the "
                   "data (a pair's rows are one cross-section unit)");
    return api_mctx_errors(c, "The data is not a panel");
  }
  size_t n = d->n ? d->n : 1;
  c->sfa_group = malloc(n * sizeof *c->sfa_group);
  c->sfa_period = malloc(n * sizeof *c->sfa_period);
  pair_key *keys = malloc(n * sizeof *keys);
  if (!c->sfa_group || !c->sfa_period || !keys) {
    free(keys);
    return api_mctx_internal(c, "Out of memory.");
  }
  for (size_t i = 0; i < d->n; i++) {
    size_t r = d->row[i];
    keys[i] = (pair_key){p->reporter ? p->reporter[r] : NULL, p->partner[r], i};
    c->sfa_period[i] = (double)p->year[r];
  }
  qsort(keys, d->n, sizeof *keys, cmp_pair);
  size_t groups = 0;
  for (size_t i = 0; i < d->n; i++) {
    if (i > 0 && cmp_pair(&keys[i - 1], &keys[i]) != 0) groups++;
    c->sfa_group[keys[i].i] = groups;
  }
  free(keys);
  *n_groups = d->n ? groups + 1 : 0;
  return true;
}

/* Maps a core failure of the frontier fit to its problem. */
static bool fit_error(model_ctx *c, core_status st, const core_err *err) {
  c->code = api_core_code(st, false);
  if (c->code == API_E_INTERNAL) return api_mctx_internal(c, err->msg);
  const char *ptr = st == CORE_ENOCONV                 ? "/estimator"
                    : st == CORE_ETOOFEW               ? "/data"
                    : st == CORE_EINVAL && c->sfa_time ? "/time"
                                                       : "/formula";
  api_errors_add(&c->errs, ptr, "%s", err->msg);
  return api_mctx_errors(c, st == CORE_ENOCONV
                                ? "The stochastic frontier did not converge"
                                : "The stochastic frontier cannot be fitted");
}

bool api_sfa_fit(model_ctx *c) {
  core_design *d = c->fit;
  c->n_fit = d->n;
  if (core_formula_response_kind(c->formula) != CORE_TERM_LOG) {
    api_mctx_raise(c, API_E_INVALID);
    api_errors_add(&c->errs, "/formula",
                   "the stochastic frontier models the log of trade: write "
                   "the response as log(...)");
    return api_mctx_errors(c, "The response must be in logs");
  }
  core_sfa_spec spec = {.truncated = c->sfa_truncated};
  if (c->sfa_time != NULL) {
    size_t groups = 0;
    if (!panel_of(c, d, &groups)) return false;
    spec.group = c->sfa_group;
    spec.n_groups = groups;
    spec.period = c->sfa_period;
    spec.time_varying = strcmp(c->sfa_time, "bc92") == 0;
  }
  core_err err;
  core_err_clear(&err);
  core_status st =
      core_sfa_fit(d->X, d->y, d->has_intercept, &spec, &c->sfa, &err);
  if (st != CORE_OK) return fit_error(c, st, &err);
  const core_sfa_result *r = c->sfa;
  for (size_t i = 0; i < r->warnings.n; i++)
    core_warn(&c->warnings, "%s", r->warnings.msgs[i]);
  /* The coefficient table: z statistics with normal intervals. */
  size_t k = r->k ? r->k : 1;
  c->owned_dropped = calloc(k, sizeof *c->owned_dropped);
  c->owned[0] = malloc(k * sizeof(double));
  c->owned[1] = malloc(k * sizeof(double));
  if (!c->owned_dropped || !c->owned[0] || !c->owned[1])
    return api_mctx_internal(c, "Out of memory.");
  double q = gsl_cdf_ugaussian_Pinv(0.5 + c->confidence / 2.0);
  for (size_t j = 0; j < r->k; j++) {
    c->owned[0][j] = r->beta[j] - q * r->se[j];
    c->owned[1][j] = r->beta[j] + q * r->se[j];
  }
  c->tab = (api_coef_table){.p = r->k,
                            .label = (const char *const *)d->col_label,
                            .kind = d->col_kind,
                            .dropped = c->owned_dropped,
                            .est = r->beta,
                            .se = r->se,
                            .stat = r->z,
                            .p_value = r->p_value,
                            .ci_low = c->owned[0],
                            .ci_high = c->owned[1]};
  return true;
}

bool api_sfa_potentials(model_ctx *c) {
  const core_design *d = c->pred;
  const core_design *f = c->fit;
  const core_sfa_result *r = c->sfa;
  const core_panel *p = c->data.panel;
  if (!api_mctx_pred_alloc(c)) return false;
  size_t n = d->n ? d->n : 1;
  c->owned[2] = malloc(2 * n * sizeof(double));
  size_t *fit_of = malloc((p->n ? p->n : 1) * sizeof *fit_of);
  if (!c->owned[2] || !fit_of) {
    free(fit_of);
    return api_mctx_internal(c, "Out of memory.");
  }
  for (size_t i = 0; i < p->n; i++)
    fit_of[i] = SIZE_MAX;
  for (size_t i = 0; i < f->n; i++)
    fit_of[f->row[i]] = i;
  double *eff = c->owned[2], *frontier = c->owned[2] + n;
  for (size_t i = 0; i < d->n; i++) {
    double s = 0;
    for (size_t j = 0; j < d->p; j++)
      s += gsl_matrix_get(d->X, i, j) * r->beta[j];
    c->xb[i] = s;
    size_t k = fit_of[d->row[i]];
    /* Rows of the fit have their efficiency and frontier (actual / TE);
     * other rows only the noise-free frontier exp(x b). */
    eff[i] = k != SIZE_MAX ? r->efficiency[k] : NAN;
    frontier[i] = k != SIZE_MAX ? r->frontier[k] : exp(s);
  }
  free(fit_of);
  /* Predictions of a frontier model are exp(x b) itself. */
  c->factor = 1.0;
  core_err err;
  core_err_clear(&err);
  core_status st = core_potential_frontier(&c->pot, eff, frontier, c->actual,
                                           d->n, c->pot_rows, &err);
  if (st == CORE_OK) return true;
  c->code = api_core_code(st, false);
  if (c->code == API_E_INTERNAL) return api_mctx_internal(c, err.msg);
  api_errors_add(&c->errs, "/potential/thresholds", "%s", err.msg);
  return api_mctx_errors(c, "The potential cannot be computed");
}

static json_t *num(api_out *o, double x, const char *what) {
  return api_out_num(o, x, what);
}

void api_sfa_answer(model_ctx *c, api_out *o, json_t *body) {
  const core_sfa_result *r = c->sfa;
  double np = (double)r->n_par, n = (double)r->n;
  json_t *fit = json_object();
  api_out_set(o, fit, "n", json_integer((json_int_t)r->n));
  api_out_set(o, fit, "k", json_integer((json_int_t)r->k));
  api_out_set(o, fit, "df_resid", json_integer((json_int_t)(r->n - r->n_par)));
  /* R-squared, RMSE and F belong to least squares: null here. */
  api_out_set(o, fit, "r2", json_null());
  api_out_set(o, fit, "adj_r2", json_null());
  api_out_set(o, fit, "rmse", json_null());
  api_out_set(o, fit, "f", json_null());
  api_out_set(o, fit, "f_p_value", json_null());
  api_out_set(o, fit, "log_likelihood",
              num(o, r->loglik, "fit.log_likelihood"));
  api_out_set(o, fit, "aic", num(o, -2.0 * r->loglik + 2.0 * np, "fit.aic"));
  api_out_set(o, fit, "bic", num(o, -2.0 * r->loglik + log(n) * np, "fit.bic"));
  api_out_set(o, body, "fit", fit);

  json_t *fr = json_object();
  api_out_set(o, fr, "inefficiency",
              json_string(r->truncated ? "truncated_normal" : "half_normal"));
  api_out_set(o, fr, "time",
              json_string(c->sfa_time ? c->sfa_time : "cross_section"));
  api_out_set(o, fr, "n_groups", json_integer((json_int_t)r->n_groups));
  api_out_set(o, fr, "gamma", num(o, r->gamma, "frontier.gamma"));
  api_out_set(o, fr, "gamma_se", num(o, r->se_gamma, NULL));
  api_out_set(o, fr, "sigma2", num(o, r->sigma2, "frontier.sigma2"));
  api_out_set(o, fr, "sigma2_se", num(o, r->se_sigma2, NULL));
  api_out_set(o, fr, "sigma_u2", num(o, r->sigma_u2, "frontier.sigma_u2"));
  api_out_set(o, fr, "sigma_v2", num(o, r->sigma_v2, "frontier.sigma_v2"));
  api_out_set(o, fr, "lambda", num(o, r->lambda, "frontier.lambda"));
  api_out_set(o, fr, "mu", num(o, r->mu, "frontier.mu"));
  api_out_set(o, fr, "mu_se", num(o, r->se_mu, NULL));
  api_out_set(o, fr, "eta", num(o, r->eta, "frontier.eta"));
  api_out_set(o, fr, "eta_se", num(o, r->se_eta, NULL));
  api_out_set(o, fr, "log_likelihood_ols", num(o, r->loglik_ols, NULL));
  api_out_set(o, fr, "ols_skewness", num(o, r->ols_skewness, NULL));
  double mean_eff = 0;
  for (size_t i = 0; i < r->n; i++)
    mean_eff += r->efficiency[i];
  api_out_set(o, fr, "mean_efficiency",
              num(o, r->n ? mean_eff / n : NAN, NULL));
  json_t *lr = json_object();
  api_out_set(o, lr, "statistic", num(o, r->lr, NULL));
  api_out_set(o, lr, "df", json_integer((json_int_t)r->lr_df));
  api_out_set(o, lr, "p_value", num(o, r->lr_p_value, NULL));
  api_out_set(o, lr, "critical_05", num(o, r->lr_crit_05, NULL));
  api_out_set(o, lr, "critical_01", num(o, r->lr_crit_01, NULL));
  api_out_set(o, lr, "distribution", json_string("mixed_chi_square"));
  api_out_set(o, fr, "lr_test", lr);
  api_out_set(o, body, "frontier", fr);

  json_t *conv = json_object();
  api_out_set(o, conv, "converged", json_true());
  api_out_set(o, conv, "iterations", json_integer((json_int_t)r->iterations));
  api_out_set(o, conv, "tolerance", num(o, CORE_SFA_TOL, NULL));
  api_out_set(o, conv, "criterion",
              json_string(r->stop == CORE_SFA_WRONG_SKEW ? "wrong_skew_ols"
                                                         : "newton_decrement"));
  api_out_set(o, body, "convergence", conv);
}
