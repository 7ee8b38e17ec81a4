/* core_fe_fit against R (tests/reference/panel/reference.R): lm with factor
 * dummies + sandwich (classical, HC1, CR1, two-way CGM) and plm within, on a
 * gravity-like unbalanced panel with singletons. Coefficients and standard
 * errors must agree to 1e-8 relative (the demeaning runs at tol 1e-13 here);
 * the digits achieved are printed. Also every error path. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "core_fe.h"
#include "core_hdfe.h"
#include "tests/reference/panel/fixture.h"

#define REL 1e-8

static void setup(void) {
  gsl_set_error_handler_off();
}

TestSuite(fe, .init = setup);

typedef struct fixture {
  core_panel *p;
  gsl_matrix *X;
  gsl_vector *y;
  size_t *lev[4];
  size_t nlev[4];
  core_fe_factor fac[4];
} fixture;

static void fx_build(fixture *fx, const char *const *xs, size_t k,
                     const char *const *fes, size_t nf) {
  memset(fx, 0, sizeof *fx);
  fx->p = panel_load();
  size_t n = fx->p->n;
  fx->X = gsl_matrix_alloc(n, k);
  fx->y = gsl_vector_alloc(n);
  const double *yv = core_panel_column(fx->p, "ltrade");
  for (size_t i = 0; i < n; i++)
    gsl_vector_set(fx->y, i, yv[i]);
  for (size_t j = 0; j < k; j++) {
    const double *c = core_panel_column(fx->p, xs[j]);
    cr_assert_not_null(c, "%s", xs[j]);
    for (size_t i = 0; i < n; i++)
      gsl_matrix_set(fx->X, i, j, c[i]);
  }
  for (size_t f = 0; f < nf; f++) {
    fx->lev[f] = malloc(n * sizeof(size_t));
    cr_assert_eq(core_factor_from_panel(fx->p, fes[f], NULL, fx->lev[f],
                                        &fx->nlev[f], NULL),
                 CORE_OK);
    fx->fac[f] = (core_fe_factor){fes[f], fx->lev[f], fx->nlev[f]};
  }
}

static void fx_free(fixture *fx) {
  core_panel_free(fx->p);
  gsl_matrix_free(fx->X);
  gsl_vector_free(fx->y);
  for (int f = 0; f < 4; f++)
    free(fx->lev[f]);
}

static const char *const XS[] = {"lgdp_o", "lgdp_d", "rta"};

/* Compares coef and se of the named terms; returns the fewest digits. */
static double cmp_coefs(const char *model, const char *vcov,
                        const core_fe_result *r, size_t j0, size_t nt) {
  double dmin = 99;
  for (size_t j = j0; j < j0 + nt; j++) {
    char what[128];
    snprintf(what, sizeof what, "%s %s coef %s", model, vcov, r->col_label[j]);
    double d = check_rel(what, r->beta[j],
                         ref_value(model, vcov, "coef", r->col_label[j]), REL);
    dmin = fmin(dmin, d);
    snprintf(what, sizeof what, "%s %s se %s", model, vcov, r->col_label[j]);
    d = check_rel(what, r->se[j], ref_value(model, vcov, "se", r->col_label[j]),
                  REL);
    dmin = fmin(dmin, d);
  }
  return dmin;
}

static core_fe_result *fit(fixture *fx, size_t nf, core_fe_opts *o) {
  core_fe_result *r = NULL;
  core_err e;
  core_err_clear(&e);
  core_status st = core_fe_fit(fx->X, fx->y, (const char *const *)XS, fx->fac,
                               nf, o, &r, &e);
  cr_assert_eq(st, CORE_OK, "%s: %s", core_status_name(st), e.msg);
  return r;
}

static core_fe_result *fit3(fixture *fx, core_fe_opts *o) {
  core_fe_result *r = NULL;
  core_err e;
  core_status st = core_fe_fit(fx->X, fx->y, (const char *const *)(XS + 1),
                               fx->fac, 3, o, &r, &e);
  cr_assert_eq(st, CORE_OK, "%s: %s", core_status_name(st), e.msg);
  return r;
}

Test(fe, one_way_pair_matches_lm_and_plm) {
  fixture fx;
  const char *fes[] = {"pair"};
  fx_build(&fx, XS, 3, fes, 1);
  core_fe_opts o = {.tol = 1e-13};
  core_fe_result *r = fit(&fx, 1, &o);
  cr_assert_eq(r->n, (size_t)ref_value("M1", "-", "n", "-"));
  cr_assert_eq(r->n_singletons,
               (size_t)ref_value("M1", "-", "singletons", "-"));
  cr_assert_eq(r->df_absorbed,
               (size_t)ref_value("M1", "-", "df_absorbed", "-"));
  double d = cmp_coefs("M1", "classical", r, 0, 3);
  d = fmin(d, cmp_coefs("M1", "plm", r, 0, 3));
  d = fmin(d, check_rel("M1 r2", r->r2, ref_value("M1", "-", "r2", "-"), REL));
  d = fmin(d, check_rel("M1 r2_within", r->r2_within,
                        ref_value("M1", "-", "r2_within", "-"), REL));
  /* Fitted values in levels with the recovered fixed effects. */
  size_t first = 0, last = 0;
  for (size_t i = 0; i < r->n_in; i++)
    if (r->used[i]) {
      if (first == 0 && !r->used[0]) first = i;
      last = i;
    }
  if (r->used[0]) first = 0;
  d = fmin(d, check_rel("M1 fitted first", r->fitted[first],
                        ref_value("M1", "-", "fitted_first", "-"), REL));
  d = fmin(d, check_rel("M1 fitted last", r->fitted[last],
                        ref_value("M1", "-", "fitted_last", "-"), REL));
  cr_log_info("one-way FE classical/plm/R2/fitted: %.1f digits vs R", d);
  core_fe_result_free(r);

  o.vcov = CORE_FE_VCOV_HC1;
  r = fit(&fx, 1, &o);
  d = cmp_coefs("M1", "HC1", r, 0, 3);
  cr_log_info("one-way FE HC1: %.1f digits vs R", d);
  core_fe_result_free(r);

  o.vcov = CORE_FE_VCOV_CLUSTER;
  o.cluster = fx.lev[0];
  o.n_clusters = fx.nlev[0];
  r = fit(&fx, 1, &o);
  cr_assert(r->fe_nested[0]);
  cr_assert_eq(r->df_absorbed_vcov, 1);
  cr_assert_eq(r->df_inf, (double)r->n_clusters - 1);
  d = cmp_coefs("M1", "cluster", r, 0, 3);
  core_fe_result_free(r);
  o.count_nested = true;
  r = fit(&fx, 1, &o);
  d = fmin(d, cmp_coefs("M1", "cluster_count", r, 0, 3));
  cr_log_info("one-way FE CR1 (nested and counted): %.1f digits vs R", d);
  core_fe_result_free(r);
  fx_free(&fx);
}

Test(fe, default_tolerance_digits) {
  fixture fx;
  const char *fes[] = {"pair", "year"};
  fx_build(&fx, XS, 3, fes, 2);
  core_fe_result *r = fit(&fx, 2, NULL);
  double d = cmp_coefs("M2", "classical", r, 0, 3);
  cr_log_info("two-way FE at the default tol 1e-8: %.1f digits vs R, %zu "
              "iterations",
              d, r->iterations);
  core_fe_result_free(r);
  fx_free(&fx);
}

Test(fe, two_way_pair_year_matches_lm_and_plm) {
  fixture fx;
  const char *fes[] = {"pair", "year"};
  fx_build(&fx, XS, 3, fes, 2);
  core_fe_opts o = {.tol = 1e-13};
  core_fe_result *r = fit(&fx, 2, &o);
  cr_assert_eq(r->n, (size_t)ref_value("M2", "-", "n", "-"));
  cr_assert_eq(r->n_singletons,
               (size_t)ref_value("M2", "-", "singletons", "-"));
  cr_assert_eq(r->df_absorbed,
               (size_t)ref_value("M2", "-", "df_absorbed", "-"));
  cr_assert(r->df_absorbed_exact);
  cr_assert_eq(r->components, 1);
  double d = cmp_coefs("M2", "classical", r, 0, 3);
  d = fmin(d, cmp_coefs("M2", "plm", r, 0, 3));
  d = fmin(d, check_rel("M2 r2", r->r2, ref_value("M2", "-", "r2", "-"), REL));
  d = fmin(d, check_rel("M2 r2_within", r->r2_within,
                        ref_value("M2", "-", "r2_within", "-"), REL));
  size_t first = 0;
  while (!r->used[first])
    first++;
  d = fmin(d, check_rel("M2 fitted first", r->fitted[first],
                        ref_value("M2", "-", "fitted_first", "-"), REL));
  /* The recovered FE are normalised: the first year (lowest id) is 0. */
  cr_assert_eq(r->fe[1][0], 0.0);
  cr_log_info("two-way FE classical/plm/R2/fitted: %.1f digits vs R (%zu "
              "iterations)",
              d, r->iterations);
  core_fe_result_free(r);

  o.vcov = CORE_FE_VCOV_HC1;
  r = fit(&fx, 2, &o);
  d = cmp_coefs("M2", "HC1", r, 0, 3);
  core_fe_result_free(r);

  size_t *rep = malloc(fx.p->n * sizeof *rep),
         *par = malloc(fx.p->n * sizeof *par);
  size_t nrep, npar;
  cr_assert_eq(core_factor_from_panel(fx.p, "reporter", NULL, rep, &nrep, NULL),
               CORE_OK);
  cr_assert_eq(core_factor_from_panel(fx.p, "partner", NULL, par, &npar, NULL),
               CORE_OK);
  o.vcov = CORE_FE_VCOV_CLUSTER2;
  o.cluster = rep;
  o.n_clusters = nrep;
  o.cluster2 = par;
  o.n_clusters2 = npar;
  r = fit(&fx, 2, &o);
  cr_assert(r->fe_nested[0]);
  cr_assert_not(r->fe_nested[1]);
  cr_assert_eq(r->df_inf, 29.0);
  d = fmin(d, cmp_coefs("M2", "cluster2", r, 0, 3));
  core_fe_result_free(r);
  o.count_nested = true;
  r = fit(&fx, 2, &o);
  d = fmin(d, cmp_coefs("M2", "cluster2_count", r, 0, 3));
  core_fe_result_free(r);
  o.count_nested = false;
  o.vcov = CORE_FE_VCOV_CLUSTER;
  o.cluster2 = NULL;
  r = fit(&fx, 2, &o);
  d = fmin(d, cmp_coefs("M2", "cluster_rep", r, 0, 3));
  core_fe_result_free(r);
  cr_log_info("two-way FE HC1, CR1, two-way CGM: %.1f digits vs R", d);
  free(rep);
  free(par);
  fx_free(&fx);
}

Test(fe, three_factors_with_interaction) {
  fixture fx;
  const char *fes[] = {"reporter^year", "partner", "band"};
  fx_build(&fx, XS + 1, 2, fes, 3);
  core_fe_opts o = {.tol = 1e-13};
  core_fe_result *r = fit3(&fx, &o);
  cr_assert_eq(r->fe_levels_used[0], 240);
  bool bound = false;
  for (size_t w = 0; w < r->warnings.n; w++)
    if (strstr(r->warnings.msgs[w], "upper bound")) bound = true;
  cr_assert(bound);
  cr_assert_eq(r->n_singletons,
               (size_t)ref_value("M3", "-", "singletons", "-"));
  cr_assert_not(r->df_absorbed_exact);
  cr_assert_eq(r->df_absorbed,
               (size_t)ref_value("M3", "-", "df_absorbed", "-"));
  double d = cmp_coefs("M3", "classical", r, 0, 2);
  d = fmin(d, check_rel("M3 r2", r->r2, ref_value("M3", "-", "r2", "-"), REL));
  core_fe_result_free(r);
  o.vcov = CORE_FE_VCOV_HC1;
  r = fit3(&fx, &o);
  d = fmin(d, cmp_coefs("M3", "HC1", r, 0, 2));
  cr_log_info("three factors (reporter^year + partner + band): %.1f digits "
              "vs R, %zu iterations",
              d, r->iterations);
  core_fe_result_free(r);
  fx_free(&fx);
}

Test(fe, time_invariant_regressor_dropped_and_named) {
  fixture fx;
  const char *xs[] = {"lgdp_o", "ldist", "rta"};
  const char *fes[] = {"pair"};
  fx_build(&fx, xs, 3, fes, 1);
  core_fe_result *r = NULL;
  core_err e;
  cr_assert_eq(core_fe_fit(fx.X, fx.y, xs, fx.fac, 1, NULL, &r, &e), CORE_OK);
  cr_assert(r->dropped_fe[1]);
  cr_assert_not(r->dropped[0]);
  cr_assert_eq(r->k, 2);
  cr_assert_eq(r->warnings.n >= 1, true);
  cr_assert_not_null(strstr(r->warnings.msgs[0], "ldist"));
  core_fe_result_free(r);
  fx_free(&fx);
}

Test(fe, every_regressor_collinear_is_singular) {
  fixture fx;
  const char *xs[] = {"ldist"};
  const char *fes[] = {"pair"};
  fx_build(&fx, xs, 1, fes, 1);
  core_fe_result *r = (core_fe_result *)1;
  core_err e;
  cr_assert_eq(core_fe_fit(fx.X, fx.y, xs, fx.fac, 1, NULL, &r, &e),
               CORE_ESINGULAR);
  cr_assert_null(r);
  cr_assert_str_eq(e.name, "ldist");
  fx_free(&fx);
}

Test(fe, no_convergence_is_reported) {
  fixture fx;
  const char *fes[] = {"reporter^year", "partner", "band"};
  fx_build(&fx, XS, 3, fes, 3);
  core_fe_opts o = {.max_iter = 1, .tol = 1e-14};
  core_fe_result *r = NULL;
  core_err e;
  cr_assert_eq(core_fe_fit(fx.X, fx.y, XS, fx.fac, 3, &o, &r, &e),
               CORE_ENOCONV);
  cr_assert_null(r);
  fx_free(&fx);
}

Test(fe, argument_errors) {
  gsl_matrix *X = gsl_matrix_alloc(6, 1);
  gsl_vector *y = gsl_vector_alloc(6), *y5 = gsl_vector_alloc(5);
  size_t lev[6] = {0, 0, 1, 1, 2, 2}, bad[6] = {0, 0, 1, 1, 2, 9};
  for (size_t i = 0; i < 6; i++) {
    gsl_matrix_set(X, i, 0, 0.37 * (double)i * (double)i);
    gsl_vector_set(y, i, 1.3 + 0.11 * (double)i);
  }
  core_fe_factor f = {"g", lev, 3}, fb = {"g", bad, 3};
  core_fe_result *r = NULL;
  core_err e;
  cr_assert_eq(core_fe_fit(NULL, y, NULL, &f, 1, NULL, &r, &e), CORE_EINVAL);
  cr_assert_eq(core_fe_fit(X, NULL, NULL, &f, 1, NULL, &r, &e), CORE_EINVAL);
  cr_assert_eq(core_fe_fit(X, y, NULL, NULL, 1, NULL, &r, &e), CORE_EINVAL);
  cr_assert_eq(core_fe_fit(X, y, NULL, &f, 1, NULL, NULL, &e), CORE_EINVAL);
  cr_assert_eq(core_fe_fit(X, y5, NULL, &f, 1, NULL, &r, &e), CORE_EINVAL);
  cr_assert_eq(core_fe_fit(X, y, NULL, &f, 0, NULL, &r, &e), CORE_EINVAL);
  core_err_clear(&e);
  cr_assert_eq(core_fe_fit(X, y, NULL, &fb, 1, NULL, &r, &e), CORE_EINVAL);
  cr_assert_eq(e.rows[0], 5);
  core_fe_opts o = {.vcov = CORE_FE_VCOV_CLUSTER};
  cr_assert_eq(core_fe_fit(X, y, NULL, &f, 1, &o, &r, &e), CORE_EINVAL);
  size_t cl[6] = {0, 1, 0, 1, 0, 7};
  o.cluster = cl;
  o.n_clusters = 2;
  cr_assert_eq(core_fe_fit(X, y, NULL, &f, 1, &o, &r, &e), CORE_EINVAL);
  core_fe_opts lv = {.level = 1.5};
  cr_assert_eq(core_fe_fit(X, y, NULL, &f, 1, &lv, &r, &e), CORE_EINVAL);
  gsl_vector_set(y, 2, NAN);
  core_err_clear(&e);
  cr_assert_eq(core_fe_fit(X, y, NULL, &f, 1, NULL, &r, &e), CORE_EINVAL);
  cr_assert_eq(e.rows[0], 2);
  cr_assert_null(r);
  gsl_matrix_free(X);
  gsl_vector_free(y);
  gsl_vector_free(y5);
}

Test(fe, all_singletons_is_too_few) {
  gsl_matrix *X = gsl_matrix_alloc(4, 1);
  gsl_vector *y = gsl_vector_alloc(4);
  size_t lev[4] = {0, 1, 2, 3};
  for (size_t i = 0; i < 4; i++) {
    gsl_matrix_set(X, i, 0, 0.5 + (double)i);
    gsl_vector_set(y, i, 2.0 - 0.3 * (double)i);
  }
  core_fe_factor f = {"g", lev, 4};
  core_fe_result *r = NULL;
  core_err e;
  cr_assert_eq(core_fe_fit(X, y, NULL, &f, 1, NULL, &r, &e), CORE_ETOOFEW);
  cr_assert_not_null(strstr(e.msg, "4 singletons"));
  /* Kept, every regressor is absorbed by the one-row levels. */
  core_fe_opts o = {.keep_singletons = true};
  cr_assert_eq(core_fe_fit(X, y, NULL, &f, 1, &o, &r, &e), CORE_ESINGULAR);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}
