/* POST /v1/models with the panel estimators (METHODS.md sections 3-5):
 * fixed effects (`fe`, or `ols` with factors after '|'), random effects
 * (`re`, Swamy-Arora, with the Hausman test on request) and PPML (`ppml`,
 * with or without fixed effects). Each builds its design with the factors
 * absorbed (core_design_build_fe), fills the common coefficient table, and
 * predicts every row in levels for the potentials. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_core.h"
#include "api_fe_key.h"
#include "api_json.h"
#include "api_models_int.h"
#include "api_pot_scale.h"

#define LOG_2PI 1.8378770664093454836

void api_panel_free(model_ctx *c) {
  for (size_t f = 0; f < CORE_HDFE_MAX_FACTORS; f++) {
    free(c->levels[f]);
    free(c->panel_levels[f]);
  }
  free(c->cluster2_ids);
  core_fe_result_free(c->fe);
  core_re_result_free(c->re);
  core_ppml_result_free(c->ppml);
  core_fe_result_free(c->fe_other);
  core_re_result_free(c->re_other);
  free(c->kinds_owned);
}

static bool invalid(model_ctx *c, const char *ptr, const char *detail,
                    const char *what) {
  api_mctx_raise(c, API_E_INVALID);
  api_errors_add(&c->errs, ptr, "%s", detail);
  return api_mctx_errors(c, what);
}

/* The individual of random effects when the formula names none. */
static const char *default_individual(const core_panel *p) {
  if (p->reporter && p->partner) return "reporter^partner";
  if (p->partner) return "partner";
  if (p->reporter) return "reporter";
  return NULL;
}

bool api_panel_prepare(model_ctx *c) {
  size_t nfe = core_formula_n_fe(c->formula);
  if (c->est == API_EST_OLS && nfe > 0) c->est = API_EST_FE;
  if (c->want_hausman && c->est != API_EST_FE && c->est != API_EST_RE)
    return invalid(c, "/diagnostics",
                   "\"hausman\" compares fixed and random effects: it needs "
                   "the estimator \"fe\" or \"re\"",
                   "The diagnostic does not apply");
  bool two_way = c->cluster_var2[0] != '\0';
  if (c->by != NULL && (c->est != API_EST_OLS || nfe > 0))
    return invalid(c, "/by",
                   "\"by\" fits least squares per group: it needs the "
                   "estimator \"ols\" without fixed effects",
                   "The option does not apply");
  if (c->by != NULL && c->vcov_kind == CORE_VCOV_CLUSTER)
    return invalid(c, "/by", "\"by\" takes the classical or hc0-hc3 variances",
                   "The option does not apply");
  switch (c->est) {
  case API_EST_OLS:
    if (two_way)
      return invalid(c, "/vcov",
                     "two-way clustering is offered with fixed effects (fe) "
                     "and ppml",
                     "The variance does not apply");
    return true;
  case API_EST_SFA:
    if (nfe > 0)
      return invalid(c, "/formula",
                     "the stochastic frontier takes no fixed effects after "
                     "'|'",
                     "The formula does not apply");
    return true;
  case API_EST_FE:
    if (nfe == 0)
      return invalid(c, "/formula",
                     "the estimator \"fe\" needs the fixed effects after '|', "
                     "e.g. log(trade) ~ log(gdp) | reporter^year + partner",
                     "No fixed effects");
    if (c->vcov_kind != CORE_VCOV_CLASSICAL && c->vcov_kind != CORE_VCOV_HC1 &&
        c->vcov_kind != CORE_VCOV_CLUSTER)
      return invalid(c, "/vcov",
                     "fixed effects offer \"classical\", \"hc1\", "
                     "\"cluster:<a>\" and \"cluster:<a>+<b>\"",
                     "The variance does not apply");
    return true;
  case API_EST_RE: {
    if (nfe > 1)
      return invalid(c, "/formula",
                     "random effects take one individual factor after '|' "
                     "(default: the reporter-partner pair)",
                     "Too many factors");
    const char *ind = nfe == 1 ? core_formula_fe_label(c->formula, 0)
                               : default_individual(c->data.panel);
    if (ind == NULL)
      return invalid(c, "/formula",
                     "random effects need the individual: reporter or "
                     "partner keys in the data, or one factor after '|'",
                     "No individual");
    snprintf(c->re_individual, sizeof c->re_individual, "%s", ind);
    if (c->vcov_given && c->vcov_kind != CORE_VCOV_CLASSICAL)
      return invalid(c, "/vcov",
                     "random effects offer the \"classical\" variance",
                     "The variance does not apply");
    return true;
  }
  case API_EST_PPML:
    if (core_formula_response_kind(c->formula) != CORE_TERM_LEVEL)
      return invalid(c, "/formula",
                     "PPML models trade in levels (zeros allowed): write the "
                     "response without log(), e.g. trade ~ log(dist)",
                     "The response must be in levels");
    if (!c->vcov_given) {
      c->vcov_kind = CORE_VCOV_HC0;
      snprintf(c->vcov_text, sizeof c->vcov_text, "hc0");
    }
    if (c->vcov_kind != CORE_VCOV_CLASSICAL && c->vcov_kind != CORE_VCOV_HC0 &&
        c->vcov_kind != CORE_VCOV_CLUSTER)
      return invalid(c, "/vcov",
                     "PPML offers \"hc0\" (robust, the default), "
                     "\"classical\", \"cluster:<a>\" and \"cluster:<a>+<b>\"",
                     "The variance does not apply");
    return true;
  }
  return true;
}

/* ---- factors and clusters ---------------------------------------------- */

/* Level ids of factor label over the panel, and over the fit rows. */
static bool make_factor(model_ctx *c, size_t f, const char *label) {
  const core_panel *p = c->data.panel;
  const core_design *d = c->fit;
  c->panel_levels[f] = malloc((p->n ? p->n : 1) * sizeof(size_t));
  c->levels[f] = malloc((d->n ? d->n : 1) * sizeof(size_t));
  if (!c->panel_levels[f] || !c->levels[f])
    return api_mctx_internal(c, "Out of memory.");
  core_err err;
  core_err_clear(&err);
  core_status st = core_factor_from_panel(p, label, NULL, c->panel_levels[f],
                                          &c->n_levels[f], &err);
  if (st == CORE_ENOMEM) return api_mctx_internal(c, "Out of memory.");
  if (st != CORE_OK) {
    c->code = api_core_code(st, true);
    api_errors_add(&c->errs, "/formula", "factor '%s': %s", label, err.msg);
    return api_mctx_errors(c, "The fixed effects cannot be built");
  }
  for (size_t i = 0; i < d->n; i++)
    c->levels[f][i] = c->panel_levels[f][d->row[i]];
  return true;
}

/* Cluster ids of var over the fit rows (into *ids, caller frees). */
static bool cluster_ids(model_ctx *c, const char *var, size_t **ids,
                        size_t *n_ids) {
  const core_panel *p = c->data.panel;
  const core_design *d = c->fit;
  size_t *all = malloc((p->n ? p->n : 1) * sizeof *all);
  *ids = malloc((d->n ? d->n : 1) * sizeof **ids);
  if (!all || !*ids) {
    free(all);
    return api_mctx_internal(c, "Out of memory.");
  }
  core_err err;
  core_err_clear(&err);
  core_status st = core_factor_from_panel(p, var, NULL, all, n_ids, &err);
  if (st != CORE_OK) {
    free(all);
    if (st == CORE_ENOMEM) return api_mctx_internal(c, "Out of memory.");
    return invalid(c, "/vcov", err.msg, "The cluster variable is unusable");
  }
  size_t missing = 0;
  for (size_t i = 0; i < d->n; i++) {
    (*ids)[i] = all[d->row[i]];
    missing += (*ids)[i] == CORE_HDFE_NO_LEVEL;
  }
  free(all);
  if (missing > 0) {
    char detail[256];
    snprintf(detail, sizeof detail,
             "the cluster variable '%s' is missing on %zu of the %zu rows "
             "used",
             var, missing, d->n);
    return invalid(c, "/vcov", detail, "The cluster variable is incomplete");
  }
  return true;
}

/* The cluster ids of "cluster:<a>" (and "+<b>") over the fit rows, into
 * c->cluster and c->cluster2_ids (NULL for one way). */
static bool clusters(model_ctx *c) {
  if (!cluster_ids(c, c->cluster_var, &c->cluster, &c->n_clusters))
    return false;
  return c->cluster_var2[0] == '\0' ||
         cluster_ids(c, c->cluster_var2, &c->cluster2_ids, &c->n_clusters2);
}

/* ---- the fits ----------------------------------------------------------- */

static bool core_failure(model_ctx *c, core_status st, const core_err *err,
                         const char *ptr) {
  c->code = api_core_code(st, false);
  if (c->code == API_E_INTERNAL) return api_mctx_internal(c, err->msg);
  const char *where = st == CORE_ENOCONV   ? "/estimator"
                      : st == CORE_ETOOFEW ? "/data"
                                           : ptr;
  api_errors_add(&c->errs, where, "%s", err->msg);
  return api_mctx_errors(
      c, st == CORE_ENOCONV ? "The estimator did not converge"
                            : "The model cannot be estimated on these data");
}

static void copy_warnings(model_ctx *c, const core_warnings *w) {
  for (size_t i = 0; i < w->n; i++)
    core_warn(&c->warnings, "%s", w->msgs[i]);
}

static bool fit_fe_model(model_ctx *c, const gsl_matrix *X, const char **lab,
                         const char *const *fe_labels, size_t nf,
                         const core_fe_opts *opts, core_fe_result **out) {
  core_fe_factor fac[CORE_HDFE_MAX_FACTORS];
  for (size_t f = 0; f < nf; f++)
    fac[f] = (core_fe_factor){fe_labels[f], c->levels[f], c->n_levels[f]};
  core_err err;
  core_err_clear(&err);
  core_status st = core_fe_fit(X, c->fit->y, lab, fac, nf, opts, out, &err);
  return st == CORE_OK ? true : core_failure(c, st, &err, "/formula");
}

static bool hausman(model_ctx *c, const core_fe_result *fe,
                    const core_re_result *re) {
  core_err err;
  core_err_clear(&err);
  core_status st = core_hausman_fe_re(fe, re, &c->hausman, &c->warnings, &err);
  if (st != CORE_OK) {
    c->code = api_core_code(st, false);
    if (c->code == API_E_INTERNAL) return api_mctx_internal(c, err.msg);
    api_errors_add(&c->errs, "/diagnostics", "%s", err.msg);
    return api_mctx_errors(c, "The Hausman test cannot be computed");
  }
  c->has_hausman = true;
  return true;
}

static bool fit_fe(model_ctx *c) {
  core_design *d = c->fit;
  size_t nf = core_formula_n_fe(c->formula);
  const char *labels[CORE_HDFE_MAX_FACTORS];
  for (size_t f = 0; f < nf; f++) {
    labels[f] = core_formula_fe_label(c->formula, f);
    if (!make_factor(c, f, labels[f])) return false;
  }
  c->nf = nf;
  core_fe_opts opts = {.level = c->confidence};
  if (c->vcov_kind == CORE_VCOV_HC1) opts.vcov = CORE_FE_VCOV_HC1;
  if (c->vcov_kind == CORE_VCOV_CLUSTER) {
    if (!clusters(c)) return false;
    opts.vcov = c->cluster2_ids ? CORE_FE_VCOV_CLUSTER2 : CORE_FE_VCOV_CLUSTER;
    opts.cluster = c->cluster;
    opts.n_clusters = c->n_clusters;
    opts.cluster2 = c->cluster2_ids;
    opts.n_clusters2 = c->n_clusters2;
  }
  if (!fit_fe_model(c, d->X, (const char **)d->col_label, labels, nf, &opts,
                    &c->fe))
    return false;
  const core_fe_result *r = c->fe;
  copy_warnings(c, &r->warnings);
  c->tab = API_COEF_TABLE(r, t, r->p, r->col_label, d->col_kind);
  if (!c->want_hausman) return true;
  /* Random effects on the first factor, the same rows and regressors. */
  core_err err;
  core_err_clear(&err);
  core_status st =
      core_re_fit(d->X, d->y, (const char *const *)d->col_label, c->levels[0],
                  c->n_levels[0], c->confidence, &c->re_other, &err);
  if (st != CORE_OK) return core_failure(c, st, &err, "/diagnostics");
  return hausman(c, c->fe, c->re_other);
}

static bool fit_re(model_ctx *c) {
  core_design *d = c->fit;
  if (!make_factor(c, 0, c->re_individual)) return false;
  c->nf = 1;
  /* X without the constant: random effects add their own intercept. */
  size_t off = d->has_intercept ? 1 : 0;
  if (d->p <= off)
    return invalid(c, "/formula", "random effects need a regressor",
                   "No regressor");
  gsl_matrix_const_view Xv =
      gsl_matrix_const_submatrix(d->X, 0, off, d->n, d->p - off);
  const char *const *lab = (const char *const *)d->col_label + off;
  core_err err;
  core_err_clear(&err);
  core_status st = core_re_fit(&Xv.matrix, d->y, lab, c->levels[0],
                               c->n_levels[0], c->confidence, &c->re, &err);
  if (st != CORE_OK) return core_failure(c, st, &err, "/formula");
  const core_re_result *r = c->re;
  copy_warnings(c, &r->warnings);
  c->kinds_owned = malloc(r->p * sizeof *c->kinds_owned);
  if (c->kinds_owned == NULL) return api_mctx_internal(c, "Out of memory.");
  c->kinds_owned[0] = CORE_TERM_INTERCEPT;
  for (size_t j = 1; j < r->p; j++)
    c->kinds_owned[j] = d->col_kind[off + j - 1];
  c->tab = API_COEF_TABLE(r, t, r->p, r->col_label, c->kinds_owned);
  if (!c->want_hausman) return true;
  const char *ind = c->re_individual;
  core_fe_opts opts = {.level = c->confidence};
  if (!fit_fe_model(c, &Xv.matrix, (const char **)lab, &ind, 1, &opts,
                    &c->fe_other))
    return false;
  return hausman(c, c->fe_other, c->re);
}

static bool fit_ppml(model_ctx *c) {
  core_design *d = c->fit;
  size_t nf = core_formula_n_fe(c->formula);
  for (size_t f = 0; f < nf; f++)
    if (!make_factor(c, f, core_formula_fe_label(c->formula, f))) return false;
  c->nf = nf;
  core_ppml_options o;
  core_ppml_options_init(&o);
  o.level = c->confidence;
  o.vcov = c->vcov_kind == CORE_VCOV_CLASSICAL ? CORE_PPML_VCOV_CLASSICAL
           : c->vcov_kind == CORE_VCOV_CLUSTER ? CORE_PPML_VCOV_CLUSTER
                                               : CORE_PPML_VCOV_ROBUST;
  if (c->vcov_kind == CORE_VCOV_CLUSTER) {
    if (!clusters(c)) return false;
    o.cluster_ways = c->cluster2_ids ? 2 : 1;
    o.cluster[0] = c->cluster;
    o.n_clusters[0] = c->n_clusters;
    o.cluster[1] = c->cluster2_ids;
    o.n_clusters[1] = c->n_clusters2;
  }
  core_ppml_fe fe = {.nf = nf,
                     .levels = (const size_t *const *)c->levels,
                     .n_levels = c->n_levels};
  core_err err;
  core_err_clear(&err);
  core_status st = core_ppml_fit(d->X, d->y, d->has_intercept, nf ? &fe : NULL,
                                 &o, &c->ppml, &c->warnings, &err);
  if (st != CORE_OK) {
    if (st == CORE_EINVAL && err.n_rows > 0) {
      /* A negative outcome: name its cells. */
      char ptr[API_POINTER_MAX];
      const char *resp = core_formula_response_label(c->formula);
      for (size_t i = 0; i < err.n_rows; i++) {
        size_t row = err.rows[i] < d->n ? d->row[err.rows[i]] : err.rows[i];
        api_data_cell_pointer(&c->data, row, resp, ptr, sizeof ptr);
        api_errors_add(&c->errs, ptr, "%s", err.msg);
      }
      c->code = API_E_DOMAIN;
      return api_mctx_errors(c, "PPML needs outcomes >= 0");
    }
    return core_failure(c, st, &err, "/formula");
  }
  const core_ppml_result *r = c->ppml;
  c->tab = API_COEF_TABLE(r, z, r->p, d->col_label, d->col_kind);
  return true;
}

bool api_panel_fit(model_ctx *c) {
  core_err err;
  core_err_clear(&err);
  core_status st = core_design_build_fe(c->formula, c->data.panel,
                                        CORE_DESIGN_FIT, &c->fit, &err);
  if (st != CORE_OK) return api_mctx_design_error(c, st, &err);
  c->n_fit = c->fit->n;
  switch (c->est) {
  case API_EST_FE: return fit_fe(c);
  case API_EST_RE: return fit_re(c);
  case API_EST_PPML: return fit_ppml(c);
  case API_EST_OLS:
  case API_EST_SFA: break;
  }
  return api_mctx_internal(c, "Unknown estimator.");
}

/* ---- potentials ---------------------------------------------------------- */

/* Mean of exp(residual) or exp(s^2/2) over the rows used, for a response
 * in logs (1 otherwise), as core_smearing_factor. */
static double smearing(model_ctx *c, const double *resid, size_t n,
                       double sigma2) {
  if (core_formula_response_kind(c->formula) == CORE_TERM_LEVEL) return 1.0;
  return core_smearing_factor(c->pot.smearing, resid, n, sigma2);
}

bool api_panel_potentials(model_ctx *c) {
  core_err err;
  core_err_clear(&err);
  core_status st = core_design_build_fe(c->formula, c->data.panel,
                                        CORE_DESIGN_PREDICT, &c->pred, &err);
  if (st != CORE_OK) return api_mctx_design_error(c, st, &err);
  if (!api_mctx_pred_alloc(c)) return false;
  const core_design *d = c->pred;
  size_t nfit = c->fit->n ? c->fit->n : 1;
  double *resid = malloc(nfit * sizeof *resid);
  if (resid == NULL) return api_mctx_internal(c, "Out of memory.");
  /* The fixed-effect values of each row, by the levels of the panel (a
   * random-effects model has none). */
  double *const *fe = NULL;
  size_t nf = 0;
  if (c->est == API_EST_FE) {
    fe = c->fe->fe;
    nf = c->nf;
  } else if (c->est == API_EST_PPML) {
    fe = c->ppml->fe;
    nf = c->nf;
  }
  const double *beta = c->tab.est;
  const bool *dropped = c->tab.dropped;
  size_t off = 0;
  double b0 = 0;
  if (c->est == API_EST_RE) {
    b0 = beta[0];
    beta++;
    dropped++;
    off = d->has_intercept ? 1 : 0;
  }
  for (size_t i = 0; i < d->n; i++) {
    double s = b0;
    for (size_t j = off; j < d->p; j++)
      if (!dropped[j - off]) s += gsl_matrix_get(d->X, i, j) * beta[j - off];
    size_t r = d->row[i];
    for (size_t f = 0; f < nf; f++) {
      size_t l = c->panel_levels[f][r];
      s += l == CORE_HDFE_NO_LEVEL ? NAN : fe[f][l];
    }
    c->xb[i] = s;
  }
  /* Residuals of the fit rows for the retransformation factor. */
  size_t m = 0;
  double sigma2 = NAN;
  if (c->est == API_EST_FE) {
    for (size_t i = 0; i < c->fe->n_in; i++)
      if (c->fe->used[i]) resid[m++] = c->fe->resid[i];
    sigma2 = c->fe->sigma2;
    c->factor = smearing(c, resid, m, sigma2);
  } else if (c->est == API_EST_RE) {
    const core_design *f = c->fit;
    size_t foff = f->has_intercept ? 1 : 0;
    for (size_t i = 0; i < f->n; i++) {
      double s = b0;
      for (size_t j = foff; j < f->p; j++)
        if (!dropped[j - foff])
          s += gsl_matrix_get(f->X, i, j) * beta[j - foff];
      resid[m++] = gsl_vector_get(f->y, i) - s;
    }
    sigma2 = c->re->sigma2_u + c->re->sigma2_e;
    c->factor = smearing(c, resid, m, sigma2);
  } else {
    c->factor = 1.0; /* PPML: no smearing (api_pot_scale.h) */
  }
  free(resid);
  core_err_clear(&err);
  api_pot_scale sc =
      api_pot_scale_of(c->est == API_EST_PPML,
                       core_formula_response_kind(c->formula), c->factor);
  st = core_potential(&c->pot, sc.kind, sc.factor, c->xb, c->actual, d->n,
                      c->pot_rows, &c->warnings, &err);
  if (st == CORE_OK) return true;
  c->code = api_core_code(st, false);
  if (c->code == API_E_INTERNAL) return api_mctx_internal(c, err.msg);
  api_errors_add(&c->errs, "/potential", "%s", err.msg);
  return api_mctx_errors(c, "The potential cannot be computed");
}

/* ---- the answer ---------------------------------------------------------- */

static json_t *num(api_out *o, double x, const char *what) {
  return api_out_num(o, x, what);
}

static json_t *fit_object(api_out *o, size_t n, size_t k, double df_resid,
                          double r2, double adj_r2, double rmse, double f,
                          double f_p, double loglik, double n_par) {
  json_t *fit = json_object();
  api_out_set(o, fit, "n", json_integer((json_int_t)n));
  api_out_set(o, fit, "k", json_integer((json_int_t)k));
  api_out_set(o, fit, "df_resid",
              json_integer((json_int_t)(df_resid > 0 ? df_resid : 0)));
  api_out_set(o, fit, "r2", num(o, r2, NULL));
  api_out_set(o, fit, "adj_r2", num(o, adj_r2, NULL));
  api_out_set(o, fit, "rmse", num(o, rmse, NULL));
  api_out_set(o, fit, "f", num(o, f, NULL));
  api_out_set(o, fit, "f_p_value", num(o, f_p, NULL));
  api_out_set(o, fit, "log_likelihood", num(o, loglik, NULL));
  api_out_set(o, fit, "aic", num(o, -2.0 * loglik + 2.0 * n_par, NULL));
  api_out_set(o, fit, "bic",
              num(o, -2.0 * loglik + log((double)n) * n_par, NULL));
  return fit;
}

static json_t *factors_json(api_out *o, size_t nf, char **label,
                            const size_t *n_levels, const size_t *used,
                            const bool *nested) {
  json_t *arr = json_array();
  for (size_t f = 0; f < nf; f++) {
    json_t *e = json_object();
    api_out_set(o, e, "factor", json_string(label[f]));
    api_out_set(o, e, "levels", json_integer((json_int_t)n_levels[f]));
    if (used)
      api_out_set(o, e, "levels_used", json_integer((json_int_t)used[f]));
    if (nested) api_out_set(o, e, "nested_in_cluster", json_boolean(nested[f]));
    api_out_push(o, arr, e);
  }
  return arr;
}

/* "fixed_effect_values": for each factor, the key and value of every level
 * with an estimated effect (api_fe_key.h), so that the stored model can
 * predict new rows of those levels. A level's key is read from its first
 * row in the data. */
static json_t *fe_values_json(model_ctx *c, api_out *o, size_t nf,
                              const char *const *labels, double *const *fe) {
  const core_panel *p = c->data.panel;
  json_t *arr = json_array();
  for (size_t f = 0; f < nf; f++) {
    size_t L = c->n_levels[f];
    size_t *first = malloc((L ? L : 1) * sizeof *first);
    if (first == NULL) {
      o->failed = true;
      break;
    }
    for (size_t l = 0; l < L; l++)
      first[l] = SIZE_MAX;
    for (size_t r = 0; r < p->n; r++) {
      size_t l = c->panel_levels[f][r];
      if (l != CORE_HDFE_NO_LEVEL && l < L && first[l] == SIZE_MAX)
        first[l] = r;
    }
    json_t *levels = json_array();
    api_fe_factor fac;
    bool known = api_fe_factor_resolve(p, labels[f], &fac);
    for (size_t l = 0; known && l < L; l++) {
      if (first[l] == SIZE_MAX || !isfinite(fe[f][l])) continue;
      json_t *parts = api_fe_key_parts(p, &fac, first[l]);
      if (parts == NULL) continue;
      json_t *e = json_object();
      api_out_set(o, e, "key", parts);
      api_out_set(o, e, "value", json_real(fe[f][l]));
      api_out_push(o, levels, e);
    }
    free(first);
    json_t *e = json_object();
    api_out_set(o, e, "factor", json_string(labels[f]));
    api_out_set(o, e, "levels", levels);
    api_out_push(o, arr, e);
  }
  return arr;
}

static void answer_fe(model_ctx *c, api_out *o, json_t *body) {
  const core_fe_result *r = c->fe;
  double n = (double)r->n;
  double loglik = -n / 2.0 * (LOG_2PI + log(r->ssr / n) + 1.0);
  api_out_set(o, body, "fit",
              fit_object(o, r->n, r->k, r->df_resid, r->r2, r->adj_r2, r->rmse,
                         r->f, r->f_p_value, loglik,
                         (double)(r->k + r->df_absorbed) + 1.0));
  json_t *fe = json_object();
  api_out_set(o, fe, "factors",
              factors_json(o, r->nf, r->fe_label, r->fe_n_levels,
                           r->fe_levels_used, r->fe_nested));
  api_out_set(o, fe, "df_absorbed", json_integer((json_int_t)r->df_absorbed));
  api_out_set(o, fe, "df_absorbed_exact", json_boolean(r->df_absorbed_exact));
  api_out_set(o, fe, "within_r2", num(o, r->r2_within, NULL));
  api_out_set(o, fe, "r2_xb", num(o, r->r2_xb, NULL));
  api_out_set(o, fe, "iterations", json_integer((json_int_t)r->iterations));
  api_out_set(o, fe, "converged", json_boolean(r->converged));
  api_out_set(o, body, "fixed_effects", fe);
  api_out_set(
      o, body, "fixed_effect_values",
      fe_values_json(c, o, r->nf, (const char *const *)r->fe_label, r->fe));
  json_t *dropped = json_object_get(body, "dropped");
  api_out_set(o, dropped, "singletons",
              json_integer((json_int_t)r->n_singletons));
  api_out_set(o, dropped, "missing_fixed_effect",
              json_integer((json_int_t)r->n_missing_fe));
}

static void answer_re(model_ctx *c, api_out *o, json_t *body) {
  const core_re_result *r = c->re;
  double adj = 1.0 - (1.0 - r->r2) * ((double)r->n - 1.0) / (double)r->df_resid;
  /* F and the likelihood belong to the quasi-demeaned OLS and are not
   * reported (as plm, which reports a Wald chi-square instead). */
  api_out_set(o, body, "fit",
              fit_object(o, r->n, r->k, r->df_resid, r->r2, adj,
                         sqrt(r->sigma2), NAN, NAN, NAN, NAN));
  json_t *re = json_object();
  api_out_set(o, re, "method", json_string("swamy_arora"));
  api_out_set(o, re, "individual", json_string(c->re_individual));
  api_out_set(o, re, "n_groups", json_integer((json_int_t)r->n_groups));
  api_out_set(o, re, "balanced", json_boolean(r->balanced));
  api_out_set(o, re, "sigma2_u", num(o, r->sigma2_u, NULL));
  api_out_set(o, re, "sigma2_e", num(o, r->sigma2_e, NULL));
  api_out_set(o, re, "sigma2_u_truncated", json_boolean(r->sigma2_u_truncated));
  api_out_set(o, re, "theta_min", num(o, r->theta_min, NULL));
  api_out_set(o, re, "theta_max", num(o, r->theta_max, NULL));
  api_out_set(o, body, "random_effects", re);
}

static void answer_ppml(model_ctx *c, api_out *o, json_t *body) {
  const core_ppml_result *r = c->ppml;
  api_out_set(o, body, "fit",
              fit_object(o, r->n, r->k,
                         (double)r->n - (double)r->k - r->df_absorbed,
                         r->pseudo_r2, NAN, NAN, NAN, NAN, r->loglik,
                         (double)r->k + r->df_absorbed));
  json_t *pp = json_object();
  api_out_set(o, pp, "deviance", num(o, r->deviance, NULL));
  api_out_set(o, pp, "null_deviance", num(o, r->null_deviance, NULL));
  api_out_set(o, pp, "pseudo_r2", num(o, r->pseudo_r2, NULL));
  api_out_set(o, pp, "df_absorbed", num(o, r->df_absorbed, NULL));
  if (r->nf > 0) {
    char *labels[CORE_HDFE_MAX_FACTORS];
    for (size_t f = 0; f < r->nf; f++)
      labels[f] = (char *)core_formula_fe_label(c->formula, f);
    api_out_set(o, pp, "factors",
                factors_json(o, r->nf, labels, r->fe_levels, NULL, NULL));
  }
  api_out_set(o, body, "ppml", pp);
  if (r->nf > 0) {
    const char *labels[CORE_HDFE_MAX_FACTORS];
    for (size_t f = 0; f < r->nf; f++)
      labels[f] = core_formula_fe_label(c->formula, f);
    api_out_set(o, body, "fixed_effect_values",
                fe_values_json(c, o, r->nf, labels, r->fe));
  }
  json_t *conv = json_object();
  api_out_set(o, conv, "converged", json_boolean(r->conv.converged));
  api_out_set(o, conv, "iterations",
              json_integer((json_int_t)r->conv.iterations));
  api_out_set(o, conv, "tolerance", num(o, r->conv.tolerance, NULL));
  api_out_set(o, conv, "criterion",
              json_string(r->conv.rule ? r->conv.rule : "deviance"));
  api_out_set(o, body, "convergence", conv);
  json_t *dropped = json_object_get(body, "dropped");
  api_out_set(o, dropped, "singletons",
              json_integer((json_int_t)r->n_singleton));
  api_out_set(o, dropped, "separated",
              json_integer((json_int_t)(r->n_separated + r->n_fe_zero)));
  api_out_set(o, dropped, "missing_fixed_effect",
              json_integer((json_int_t)r->n_no_level));
}

void api_panel_answer(model_ctx *c, api_out *o, json_t *body) {
  if (c->est == API_EST_FE) answer_fe(c, o, body);
  if (c->est == API_EST_RE) answer_re(c, o, body);
  if (c->est == API_EST_PPML) answer_ppml(c, o, body);
  if (!c->has_hausman) return;
  const core_hausman_result *h = &c->hausman;
  json_t *hz = json_object();
  api_out_set(o, hz, "statistic", num(o, h->stat, NULL));
  api_out_set(o, hz, "df", num(o, h->df, NULL));
  api_out_set(o, hz, "p_value", num(o, h->p_value, NULL));
  api_out_set(o, hz, "coefficients", json_integer((json_int_t)h->q));
  api_out_set(o, hz, "positive_definite", json_boolean(h->pos_def));
  api_out_set(o, hz, "note",
              json_string(h->pos_def
                              ? "V_FE - V_RE is positive definite"
                              : "V_FE - V_RE is not positive definite: a "
                                "generalised inverse was used and df is its "
                                "rank"));
  json_t *diag = json_object();
  api_out_set(o, diag, "hausman", hz);
  api_out_set(o, body, "diagnostics", diag);
}
