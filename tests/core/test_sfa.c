/* Specification of core_sfa: published FRONTIER 4.1 / R frontier estimates
 * (Coelli's 60-firm example and the Philippine rice panel, see
 * tests/reference/sfa/README.md), parameter recovery on simulated data with
 * fixed seeds, the analytic gradient against central differences, the
 * properties of efficiency and frontier, and every error path. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "core_sfa.h"

static void setup(void) {
  gsl_set_error_handler_off();
}

TestSuite(sfa, .init = setup);

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

#define REF_DIR GRAVITAS_SOURCE_DIR "/tests/reference/sfa/"

/* A numeric CSV with a header row (at most 8 columns). */
typedef struct table {
  size_t nrow, ncol;
  double *v; /* row-major */
} table;

static table read_csv(const char *path) {
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "cannot open %s", path);
  char line[512];
  cr_assert_not_null(fgets(line, sizeof line, f));
  table t = {0, 1, NULL};
  for (const char *c = line; *c; c++)
    t.ncol += *c == ',';
  size_t cap = 64;
  t.v = malloc(cap * t.ncol * sizeof *t.v);
  while (fgets(line, sizeof line, f) != NULL) {
    if (line[0] == '\n' || line[0] == '\0') continue;
    if (t.nrow == cap) {
      cap *= 2;
      t.v = realloc(t.v, cap * t.ncol * sizeof *t.v);
      cr_assert_not_null(t.v);
    }
    char *s = line;
    for (size_t j = 0; j < t.ncol; j++) {
      char *end;
      errno = 0;
      double x = strtod(s, &end);
      cr_assert(end != s && errno == 0, "bad number in %s: '%.20s'", path, s);
      t.v[t.nrow * t.ncol + j] = x;
      s = end + (*end == ',');
    }
    t.nrow++;
  }
  fclose(f);
  return t;
}

/* Coelli's example: ln output on 1, ln capital, ln labour (60 firms). */
typedef struct dataset {
  gsl_matrix *X;
  gsl_vector *y;
  size_t *group;
  double *period;
  size_t n_groups;
} dataset;

static void dataset_free(dataset *d) {
  gsl_matrix_free(d->X);
  gsl_vector_free(d->y);
  free(d->group);
  free(d->period);
}

static dataset front41(void) {
  table t = read_csv(REF_DIR "front41Data.csv");
  cr_assert_eq(t.nrow, 60);
  dataset d = {gsl_matrix_alloc(60, 3), gsl_vector_alloc(60), NULL, NULL, 0};
  for (size_t i = 0; i < 60; i++) {
    gsl_vector_set(d.y, i, log(t.v[i * 4 + 1]));
    gsl_matrix_set(d.X, i, 0, 1.0);
    gsl_matrix_set(d.X, i, 1, log(t.v[i * 4 + 2]));
    gsl_matrix_set(d.X, i, 2, log(t.v[i * 4 + 3]));
  }
  free(t.v);
  return d;
}

/* The rice panel: ln PROD on 1, ln AREA, ln LABOR, ln NPK; 43 farmers
 * (groups) x 8 years (periods). */
static dataset rice(void) {
  table t = read_csv(REF_DIR "riceProdPhil.csv");
  cr_assert_eq(t.nrow, 344);
  size_t n = t.nrow;
  dataset d = {gsl_matrix_alloc(n, 4), gsl_vector_alloc(n),
               malloc(n * sizeof(size_t)), malloc(n * sizeof(double)), 43};
  for (size_t i = 0; i < n; i++) {
    const double *r = t.v + i * 6;
    d.period[i] = r[0];
    d.group[i] = (size_t)r[1] - 1;
    gsl_vector_set(d.y, i, log(r[2]));
    gsl_matrix_set(d.X, i, 0, 1.0);
    gsl_matrix_set(d.X, i, 1, log(r[3]));
    gsl_matrix_set(d.X, i, 2, log(r[4]));
    gsl_matrix_set(d.X, i, 3, log(r[5]));
  }
  free(t.v);
  return d;
}

/* A published value printed to a given number of decimals: agreement to
 * 1e-4 relative, or to half a unit of the last printed digit when that is
 * looser. */
static void expect_pub(double got, double want, int decimals,
                       const char *what) {
  double tol = fmax(1e-4 * fabs(want), 0.5 * pow(10.0, -decimals) + 1e-12);
  cr_expect(fabs(got - want) <= tol, "%s: got %.8g, published %.8g (tol %.2g)",
            what, got, want, tol);
}

static void expect_rel(double got, double want, double rel, const char *what) {
  cr_expect(fabs(got - want) <= rel * fabs(want),
            "%s: got %.8g, want %.8g (rel %.2g)", what, got, want, rel);
}

/* Efficiency in (0, 1] and frontier >= actual for every row. */
static void expect_efficiency_props(const core_sfa_result *r,
                                    const gsl_vector *y) {
  for (size_t i = 0; i < r->n; i++) {
    cr_expect(r->efficiency[i] > 0.0 && r->efficiency[i] <= 1.0,
              "efficiency[%zu] = %g", i, r->efficiency[i]);
    cr_expect(r->frontier[i] >= exp(gsl_vector_get(y, i)),
              "frontier[%zu] below actual", i);
    cr_expect(fabs(r->frontier[i] * r->efficiency[i] -
                   exp(gsl_vector_get(y, i))) <= 1e-12 * r->frontier[i]);
    cr_expect(fabs(r->resid[i] + r->xb[i] - gsl_vector_get(y, i)) < 1e-12);
  }
}

/* ---------------------------------------------------------------------- */
/* Published estimates                                                    */
/* ---------------------------------------------------------------------- */

/* FRONTIER 4.1 output EG1.OUT (Coelli 1996, shipped in R frontier
 * inst/front41/EG1.OUT): cross-section half-normal, 60 firms. */
Test(sfa, front41_half_normal_matches_frontier41) {
  dataset d = front41();
  core_sfa_result *r = NULL;
  core_err err;
  cr_assert_eq(core_sfa_fit(d.X, d.y, true, NULL, &r, &err), CORE_OK, "%s",
               err.msg);
  cr_assert_eq(r->stop, CORE_SFA_CONVERGED);
  cr_expect_eq(r->n_par, 5);
  expect_pub(r->beta[0], 0.56161963, 8, "beta0");
  expect_pub(r->beta[1], 0.28110205, 8, "beta1");
  expect_pub(r->beta[2], 0.53647981, 8, "beta2");
  expect_pub(r->sigma2, 0.21700046, 8, "sigma2");
  expect_pub(r->gamma, 0.79720730, 8, "gamma");
  expect_pub(r->loglik, -17.027229, 6, "loglik");
  expect_pub(r->loglik_ols, -18.446849, 6, "loglik OLS");
  expect_pub(r->lr, 2.8392402, 7, "LR");
  cr_expect_eq(r->lr_df, 1);
  /* R frontier lrtest(a1): Pr(>Chisq) = 0.046 for the mixture. */
  cr_expect(fabs(r->lr_p_value - 0.046) < 0.0005, "p = %g", r->lr_p_value);
  cr_expect_float_eq(r->lr_crit_05, 2.706, 1e-12);
  /* The grid start of FRONTIER: gamma 0.8, s2 0.22067413, b0 0.58014216. */
  expect_rel(r->grid_gamma, 0.80, 1e-12, "grid gamma");
  /* Standard errors: FRONTIER takes them from its DFP Hessian
   * approximation, ours from the finite-difference Hessian; they agree to
   * about 1%. */
  const double se[] = {0.20261668, 0.047643365, 0.045251553};
  for (int j = 0; j < 3; j++)
    expect_rel(r->se[j], se[j], 0.02, "se beta");
  expect_rel(r->se_sigma2, 0.063909106, 0.02, "se sigma2");
  expect_rel(r->se_gamma, 0.13642399, 0.02, "se gamma");
  expect_rel(r->lambda, sqrt(0.79720730 / (1 - 0.79720730)), 1e-4, "lambda");
  /* Technical efficiency estimates of EG1.OUT. */
  const double te[60] = {
      0.65068880, 0.82889151, 0.72642592, 0.74785113, 0.69133584, 0.77654637,
      0.56516787, 0.73768185, 0.84388964, 0.75784167, 0.54558432, 0.93739520,
      0.44809682, 0.61831027, 0.87384359, 0.54952777, 0.71262499, 0.75907226,
      0.85727198, 0.80651927, 0.72458613, 0.87223606, 0.83681369, 0.75225715,
      0.52974774, 0.89731683, 0.81013415, 0.78179413, 0.85610585, 0.62097885,
      0.57938181, 0.74934194, 0.88192581, 0.42082174, 0.35126244, 0.88908382,
      0.84118609, 0.67868899, 0.67291047, 0.83853427, 0.75964587, 0.68189614,
      0.80438742, 0.88652992, 0.74299265, 0.72610191, 0.85341515, 0.78519185,
      0.67207111, 0.51430249, 0.84238134, 0.85098581, 0.85963850, 0.75508293,
      0.81649829, 0.75991250, 0.87350729, 0.66471456, 0.85670448, 0.70842786};
  double mean = 0;
  for (int i = 0; i < 60; i++) {
    expect_pub(r->efficiency[i], te[i], 8, "efficiency");
    mean += r->efficiency[i] / 60;
  }
  expect_pub(mean, 0.74056772, 8, "mean efficiency");
  expect_efficiency_props(r, d.y);
  core_sfa_result_free(r);
  dataset_free(&d);
}

/* R frontier (FRONTIER 4.1 code) tests/frontierTest.Rout.save, models b1,
 * b2, b3: rice panel, 43 farmers x 8 years, printed to 5 significant
 * digits. */
static core_sfa_result *fit_rice(bool truncated, bool time_varying,
                                 dataset *d) {
  *d = rice();
  core_sfa_spec s = {
      truncated, time_varying, d->group, d->n_groups, d->period, 0, 0};
  core_sfa_result *r = NULL;
  core_err err;
  cr_assert_eq(core_sfa_fit(d->X, d->y, true, &s, &r, &err), CORE_OK, "%s",
               err.msg);
  cr_assert_eq(r->stop, CORE_SFA_CONVERGED);
  cr_expect_eq(r->n_groups, 43);
  expect_efficiency_props(r, d->y);
  /* OLS of the same output: -1.66964 0.32976 0.38375 0.28292, ln L
   * -104.91. */
  expect_pub(r->loglik_ols, -104.91, 2, "loglik OLS");
  return r;
}

Test(sfa, rice_panel_pitt_lee_matches_frontier) {
  dataset d;
  core_sfa_result *r = fit_rice(false, false, &d);
  const double b[] = {-0.83217, 0.45390, 0.28892, 0.22754};
  for (int j = 0; j < 4; j++)
    expect_pub(r->beta[j], b[j], 5, "beta");
  expect_pub(r->sigma2, 0.15538, 5, "sigma2");
  expect_pub(r->gamma, 0.46431, 5, "gamma");
  expect_pub(r->loglik, -86.430, 3, "loglik");
  expect_pub(r->lr, 36.953, 3, "LR");
  const double se[] = {0.275249, 0.063801, 0.063639, 0.040859};
  for (int j = 0; j < 4; j++)
    expect_rel(r->se[j], se[j], 0.02, "se beta");
  expect_rel(r->se_sigma2, 0.024202, 0.02, "se sigma2");
  expect_rel(r->se_gamma, 0.088023, 0.02, "se gamma");
  /* Efficiency is constant within a farmer; farmer 1's is 0.74 or so and
   * the published mean over farmers is 0.8188. */
  double mean = 0;
  for (size_t i = 0; i < d.X->size1; i++) {
    if (d.period[i] == 1.0) mean += r->efficiency[i] / 43;
    for (size_t j = 0; j < d.X->size1; j++)
      if (d.group[j] == d.group[i])
        cr_expect_float_eq(r->efficiency[j], r->efficiency[i], 1e-14);
  }
  expect_pub(mean, 0.8188, 4, "mean efficiency");
  core_sfa_result_free(r);
  dataset_free(&d);
}

Test(sfa, rice_panel_truncated_matches_frontier) {
  dataset d;
  core_sfa_result *r = fit_rice(true, false, &d);
  /* FRONTIER's DFP stops at a relative tolerance of 1e-5 on a likelihood
   * that is flat along (s2, gamma, mu) (se of mu 0.96): its estimates are
   * close to, but not exactly at, the maximum. ln L must agree to 1e-4 and
   * ours must be at least as high. */
  expect_pub(r->loglik, -86.343, 3, "loglik");
  cr_expect(r->loglik >= -86.343 - 0.0005);
  const double b[] = {-0.82887, 0.45457, 0.28732, 0.22512};
  for (int j = 0; j < 4; j++)
    expect_pub(r->beta[j], b[j], 5, "beta");
  expect_rel(r->sigma2, 0.20339, 2e-3, "sigma2");
  expect_rel(r->gamma, 0.59048, 1e-3, "gamma");
  expect_rel(r->mu, -0.27344, 5e-3, "mu");
  cr_expect_eq(r->lr_df, 2);
  core_sfa_result_free(r);
  dataset_free(&d);
}

Test(sfa, rice_panel_bc92_matches_frontier) {
  dataset d;
  core_sfa_result *r = fit_rice(false, true, &d);
  const double b[] = {-0.75392, 0.47492, 0.30010, 0.19946};
  for (int j = 0; j < 4; j++)
    expect_pub(r->beta[j], b[j], 5, "beta");
  expect_pub(r->sigma2, 0.12996, 5, "sigma2");
  expect_pub(r->gamma, 0.36963, 5, "gamma");
  expect_pub(r->eta, 0.05891, 5, "eta");
  expect_pub(r->loglik, -84.550, 3, "loglik");
  expect_pub(r->lr, 40.713, 3, "LR");
  cr_expect_eq(r->lr_df, 2);
  expect_rel(r->se_eta, 0.031049, 0.02, "se eta");
  expect_rel(r->se_gamma, 0.107268, 0.02, "se gamma");
  /* Mean efficiency of each year, 1 .. 8. */
  const double year_mean[8] = {0.78484, 0.79503, 0.80484, 0.81427,
                               0.82332, 0.83202, 0.84035, 0.84833};
  for (int t = 0; t < 8; t++) {
    double m = 0;
    for (size_t i = 0; i < d.X->size1; i++)
      if (d.period[i] == t + 1) m += r->efficiency[i] / 43;
    expect_pub(m, year_mean[t], 5, "year mean efficiency");
  }
  core_sfa_result_free(r);
  dataset_free(&d);
}

/* ---------------------------------------------------------------------- */
/* Simulation                                                             */
/* ---------------------------------------------------------------------- */

/* y = 1 + 0.5 x1 - 0.3 x2 + v - u, u = exp(-eta (t - T)) |N+(mu, su2)|. */
static dataset simulate(unsigned long seed, size_t groups, size_t periods,
                        double sv, double su, double mu, double eta) {
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, seed);
  size_t n = groups * periods;
  dataset d = {gsl_matrix_alloc(n, 3), gsl_vector_alloc(n),
               malloc(n * sizeof(size_t)), malloc(n * sizeof(double)), groups};
  for (size_t g = 0; g < groups; g++) {
    double u;
    do
      u = mu + su * gsl_ran_ugaussian(rng);
    while (u < 0);
    for (size_t t = 0; t < periods; t++) {
      size_t i = g * periods + t;
      double x1 = 2.0 + gsl_ran_ugaussian(rng);
      double x2 = gsl_rng_uniform(rng) * 3.0;
      double h = exp(-eta * ((double)t - (double)(periods - 1)));
      gsl_matrix_set(d.X, i, 0, 1.0);
      gsl_matrix_set(d.X, i, 1, x1);
      gsl_matrix_set(d.X, i, 2, x2);
      gsl_vector_set(d.y, i,
                     1.0 + 0.5 * x1 - 0.3 * x2 + sv * gsl_ran_ugaussian(rng) -
                         h * u);
      d.group[i] = g;
      d.period[i] = (double)t;
    }
  }
  gsl_rng_free(rng);
  return d;
}

static void expect_within(double got, double want, double se, double k,
                          const char *what) {
  cr_expect(isfinite(se) && se > 0, "%s: se %g", what, se);
  cr_expect(fabs(got - want) <= k * se, "%s: %g vs true %g (se %g)", what, got,
            want, se);
}

static void expect_recovers(const core_sfa_result *r, double sv, double su,
                            double mu, double eta) {
  const double b[] = {1.0, 0.5, -0.3};
  for (int j = 0; j < 3; j++)
    expect_within(r->beta[j], b[j], r->se[j], 4.0, "beta");
  double s2 = sv * sv + su * su;
  expect_within(r->sigma2, s2, r->se_sigma2, 4.0, "sigma2");
  expect_within(r->gamma, su * su / s2, r->se_gamma, 4.0, "gamma");
  if (r->truncated) expect_within(r->mu, mu, r->se_mu, 4.0, "mu");
  if (r->time_varying) expect_within(r->eta, eta, r->se_eta, 4.0, "eta");
}

Test(sfa, simulation_half_normal_recovers_parameters) {
  dataset d = simulate(20240611, 5000, 1, 0.3, 0.5, 0.0, 0.0);
  core_sfa_result *r = NULL;
  core_err err;
  cr_assert_eq(core_sfa_fit(d.X, d.y, true, NULL, &r, &err), CORE_OK, "%s",
               err.msg);
  expect_recovers(r, 0.3, 0.5, 0.0, 0.0);
  expect_efficiency_props(r, d.y);
  cr_expect(r->lr > r->lr_crit_01);
  cr_expect(r->lr_p_value < 1e-6);
  core_sfa_result_free(r);
  dataset_free(&d);
}

Test(sfa, simulation_truncated_recovers_parameters) {
  dataset d = simulate(777, 5000, 1, 0.25, 0.4, 0.3, 0.0);
  core_sfa_spec s = {.truncated = true};
  core_sfa_result *r = NULL;
  core_err err;
  cr_assert_eq(core_sfa_fit(d.X, d.y, true, &s, &r, &err), CORE_OK, "%s",
               err.msg);
  expect_recovers(r, 0.25, 0.4, 0.3, 0.0);
  expect_efficiency_props(r, d.y);
  cr_expect_eq(r->lr_df, 2);
  core_sfa_result_free(r);
  dataset_free(&d);
}

Test(sfa, simulation_bc92_panel_recovers_parameters) {
  dataset d = simulate(4242, 400, 10, 0.2, 0.45, 0.0, 0.08);
  core_sfa_spec s = {false, true, d.group, d.n_groups, d.period, 0, 0};
  core_sfa_result *r = NULL;
  core_err err;
  cr_assert_eq(core_sfa_fit(d.X, d.y, true, &s, &r, &err), CORE_OK, "%s",
               err.msg);
  expect_recovers(r, 0.2, 0.45, 0.0, 0.08);
  expect_efficiency_props(r, d.y);
  /* eta > 0: efficiency rises over time within each pair. */
  for (size_t i = 1; i < d.X->size1; i++)
    if (d.group[i] == d.group[i - 1])
      cr_expect(r->efficiency[i] >= r->efficiency[i - 1]);
  core_sfa_result_free(r);
  dataset_free(&d);
}

/* ---------------------------------------------------------------------- */
/* Gradient and helpers                                                   */
/* ---------------------------------------------------------------------- */

/* The analytic gradient against central differences of ln L, in all four
 * models, at a point away from the optimum. */
Test(sfa, analytic_gradient_matches_central_differences) {
  dataset d = rice();
  for (int m = 0; m < 4; m++) {
    bool tr = m & 1, tv = m & 2;
    core_sfa_spec s = {tr, tv, d.group, d.n_groups, d.period, 0, 0};
    double th[8] = {-0.9, 0.41, 0.27, 0.23, log(0.17), 0.3, 0, 0};
    size_t np = 6;
    if (tr) th[np++] = -0.21;
    if (tv) th[np++] = 0.043;
    double g[8], ll, lp, lm;
    core_err err;
    cr_assert_eq(core_sfa_loglik(d.X, d.y, &s, th, &ll, g, &err), CORE_OK, "%s",
                 err.msg);
    for (size_t j = 0; j < np; j++) {
      double t = th[j], h = 1e-5 * fmax(1.0, fabs(t));
      th[j] = t + h;
      cr_assert_eq(core_sfa_loglik(d.X, d.y, &s, th, &lp, NULL, NULL), CORE_OK);
      th[j] = t - h;
      cr_assert_eq(core_sfa_loglik(d.X, d.y, &s, th, &lm, NULL, NULL), CORE_OK);
      th[j] = t;
      double num = (lp - lm) / (2 * h);
      cr_expect(fabs(num - g[j]) <= 1e-6 * fmax(1.0, fabs(g[j])),
                "model %d, parameter %zu: analytic %.10g, numeric %.10g", m, j,
                g[j], num);
    }
  }
  dataset_free(&d);
}

/* A cross-section is a panel of single-observation groups. */
Test(sfa, cross_section_equals_singleton_panel) {
  dataset d = front41();
  size_t grp[60];
  for (size_t i = 0; i < 60; i++)
    grp[i] = 59 - i;
  core_sfa_spec s = {.group = grp, .n_groups = 60};
  core_sfa_result *a = NULL, *b = NULL;
  cr_assert_eq(core_sfa_fit(d.X, d.y, true, NULL, &a, NULL), CORE_OK);
  cr_assert_eq(core_sfa_fit(d.X, d.y, true, &s, &b, NULL), CORE_OK);
  cr_expect_float_eq(a->loglik, b->loglik, 1e-9);
  for (int j = 0; j < 3; j++)
    cr_expect_float_eq(a->beta[j], b->beta[j], 1e-6);
  core_sfa_result_free(a);
  core_sfa_result_free(b);
  dataset_free(&d);
}

Test(sfa, kodde_palm_values_are_mixture_quantiles) {
  for (size_t df = 1; df <= 10; df++) {
    cr_expect(fabs(core_sfa_mixchisq_pvalue(core_sfa_kodde_palm(df, 0.05), df) -
                   0.05) < 2e-4,
              "df %zu", df);
    cr_expect(fabs(core_sfa_mixchisq_pvalue(core_sfa_kodde_palm(df, 0.01), df) -
                   0.01) < 1e-4,
              "df %zu", df);
  }
  cr_expect(isnan(core_sfa_kodde_palm(0, 0.05)));
  cr_expect(isnan(core_sfa_kodde_palm(11, 0.05)));
  cr_expect(isnan(core_sfa_kodde_palm(2, 0.10)));
  cr_expect(isnan(core_sfa_mixchisq_pvalue(1.0, 0)));
  cr_expect(isnan(core_sfa_mixchisq_pvalue(NAN, 1)));
  cr_expect_float_eq(core_sfa_mixchisq_pvalue(0.0, 2), 1.0, 0);
}

/* ---------------------------------------------------------------------- */
/* Wrong skew and error paths                                             */
/* ---------------------------------------------------------------------- */

/* Positive skew (here: the sign of y flipped, an "inefficiency" that
 * raises output): the OLS fit with gamma = 0 and a warning. */
Test(sfa, wrong_skew_returns_ols_with_gamma_zero) {
  dataset d = front41();
  gsl_vector_scale(d.y, -1.0);
  core_sfa_result *r = NULL;
  cr_assert_eq(core_sfa_fit(d.X, d.y, true, NULL, &r, NULL), CORE_OK);
  cr_expect_eq(r->stop, CORE_SFA_WRONG_SKEW);
  cr_expect(r->ols_skewness > 0);
  cr_expect_eq(r->gamma, 0.0);
  cr_expect_eq(r->warnings.n, 1);
  /* FRONTIER's OLS, printed to 8 digits, differs from the exact one in
   * the 7th. */
  cr_expect_float_eq(r->beta[1], -0.28049246, 1e-6);
  cr_expect_float_eq(r->loglik, r->loglik_ols, 0);
  cr_expect_float_eq(r->lr_p_value, 1.0, 0);
  for (size_t i = 0; i < 60; i++)
    cr_expect_eq(r->efficiency[i], 1.0);
  core_sfa_result_free(r);
  dataset_free(&d);
}

static core_status fit_err(const gsl_matrix *X, const gsl_vector *y, bool icpt,
                           const core_sfa_spec *s, core_err *err) {
  core_sfa_result *r = (core_sfa_result *)1;
  core_status st = core_sfa_fit(X, y, icpt, s, &r, err);
  if (st != CORE_OK) cr_expect_null(r);
  core_sfa_result_free(st == CORE_OK ? r : NULL);
  return st;
}

Test(sfa, error_null_arguments) {
  dataset d = front41();
  core_err err;
  core_sfa_result *r = NULL;
  cr_expect_eq(core_sfa_fit(NULL, d.y, true, NULL, &r, &err), CORE_EINVAL);
  cr_expect_eq(core_sfa_fit(d.X, NULL, true, NULL, &r, &err), CORE_EINVAL);
  cr_expect_eq(core_sfa_fit(d.X, d.y, true, NULL, NULL, &err), CORE_EINVAL);
  double ll;
  cr_expect_eq(core_sfa_loglik(d.X, d.y, NULL, NULL, &ll, NULL, &err),
               CORE_EINVAL);
  core_sfa_result_free(NULL);
  dataset_free(&d);
}

Test(sfa, error_size_mismatch) {
  dataset d = front41();
  gsl_vector *y = gsl_vector_alloc(59);
  core_err err;
  cr_expect_eq(fit_err(d.X, y, true, NULL, &err), CORE_EINVAL);
  cr_expect(strstr(err.msg, "59") != NULL, "%s", err.msg);
  gsl_vector_free(y);
  dataset_free(&d);
}

Test(sfa, error_non_finite_data_names_rows) {
  dataset d = front41();
  gsl_vector_set(d.y, 7, NAN);
  gsl_matrix_set(d.X, 11, 2, INFINITY);
  core_err err;
  cr_expect_eq(fit_err(d.X, d.y, true, NULL, &err), CORE_EINVAL);
  cr_expect_eq(err.n_rows, 2);
  cr_expect_eq(err.rows[0], 7);
  cr_expect_eq(err.rows[1], 11);
  dataset_free(&d);
}

Test(sfa, error_intercept_without_constant_column) {
  dataset d = front41();
  gsl_matrix_set(d.X, 3, 0, 2.0);
  core_err err;
  cr_expect_eq(fit_err(d.X, d.y, true, NULL, &err), CORE_EINVAL);
  cr_expect(strstr(err.msg, "constant") != NULL, "%s", err.msg);
  dataset_free(&d);
}

Test(sfa, error_collinear_design) {
  dataset d = front41();
  gsl_matrix *X = gsl_matrix_alloc(60, 4);
  for (size_t i = 0; i < 60; i++) {
    for (size_t j = 0; j < 3; j++)
      gsl_matrix_set(X, i, j, gsl_matrix_get(d.X, i, j));
    gsl_matrix_set(X, i, 3, 2.0 * gsl_matrix_get(d.X, i, 1));
  }
  core_err err;
  cr_expect_eq(fit_err(X, d.y, true, NULL, &err), CORE_ESINGULAR);
  cr_expect(strstr(err.msg, "column 3") != NULL, "%s", err.msg);
  gsl_matrix_free(X);
  dataset_free(&d);
}

Test(sfa, error_too_few_observations) {
  dataset d = front41();
  gsl_matrix_view X = gsl_matrix_submatrix(d.X, 0, 0, 5, 3);
  gsl_vector_view y = gsl_vector_subvector(d.y, 0, 5);
  core_err err;
  cr_expect_eq(fit_err(&X.matrix, &y.vector, true, NULL, &err), CORE_ETOOFEW);
  dataset_free(&d);
}

Test(sfa, error_bad_groups) {
  dataset d = rice();
  core_err err;
  d.group[100] = 43;
  core_sfa_spec s = {false, false, d.group, 43, d.period, 0, 0};
  cr_expect_eq(fit_err(d.X, d.y, true, &s, &err), CORE_EINVAL);
  cr_expect_eq(err.rows[0], 100);
  d.group[100] = 0;
  s.n_groups = 0;
  cr_expect_eq(fit_err(d.X, d.y, true, &s, &err), CORE_EINVAL);
  dataset_free(&d);
}

Test(sfa, error_eta_without_panel_or_periods) {
  dataset d = rice();
  core_err err;
  core_sfa_spec s = {.time_varying = true};
  cr_expect_eq(fit_err(d.X, d.y, true, &s, &err), CORE_EINVAL);
  s.group = d.group;
  s.n_groups = 43;
  cr_expect_eq(fit_err(d.X, d.y, true, &s, &err), CORE_EINVAL);
  s.period = d.period;
  d.period[5] = NAN;
  cr_expect_eq(fit_err(d.X, d.y, true, &s, &err), CORE_EINVAL);
  cr_expect_eq(err.rows[0], 5);
  dataset_free(&d);
}

/* T_i = 1 everywhere: every group is seen once, eta is not identified. */
Test(sfa, error_eta_with_single_period_groups) {
  dataset d = front41();
  size_t grp[60];
  double per[60];
  for (size_t i = 0; i < 60; i++) {
    grp[i] = i;
    per[i] = (double)(i % 5);
  }
  core_sfa_spec s = {false, true, grp, 60, per, 0, 0};
  core_err err;
  cr_expect_eq(fit_err(d.X, d.y, true, &s, &err), CORE_EINVAL);
  cr_expect(strstr(err.msg, "T_i = 1") != NULL, "%s", err.msg);
  /* Without eta the same layout is just the cross-section. */
  s.time_varying = false;
  cr_expect_eq(fit_err(d.X, d.y, true, &s, &err), CORE_OK);
  dataset_free(&d);
}

Test(sfa, error_bad_tolerance) {
  dataset d = front41();
  core_sfa_spec s = {.tol = -1.0};
  core_err err;
  cr_expect_eq(fit_err(d.X, d.y, true, &s, &err), CORE_EINVAL);
  s.tol = NAN;
  cr_expect_eq(fit_err(d.X, d.y, true, &s, &err), CORE_EINVAL);
  dataset_free(&d);
}

Test(sfa, error_iteration_limit_is_no_convergence) {
  dataset d = rice();
  core_sfa_spec s = {false, true, d.group, 43, d.period, 1, 0};
  core_err err;
  cr_expect_eq(fit_err(d.X, d.y, true, &s, &err), CORE_ENOCONV);
  cr_expect(strstr(err.msg, "1 iterations") != NULL, "%s", err.msg);
  dataset_free(&d);
}

Test(sfa, error_perfect_fit) {
  dataset d = front41();
  for (size_t i = 0; i < 60; i++)
    gsl_vector_set(d.y, i, 0.3 + 0.2 * gsl_matrix_get(d.X, i, 1));
  core_err err;
  cr_expect_eq(fit_err(d.X, d.y, true, NULL, &err), CORE_EINVAL);
  dataset_free(&d);
}

Test(sfa, loglik_not_finite_is_edomain) {
  dataset d = front41();
  double th[5] = {0.5, 0.3, 0.5, NAN, 0.0}, ll;
  core_err err;
  cr_expect_eq(core_sfa_loglik(d.X, d.y, NULL, th, &ll, NULL, &err),
               CORE_EDOMAIN);
  dataset_free(&d);
}
