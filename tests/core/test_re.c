/* core_re_fit (Swamy-Arora) and core_hausman against plm (model = "random",
 * random.method = "swar"; phtest) on the unbalanced generated panel and a
 * balanced subset (tests/reference/panel/reference.R). Also the truncation
 * of a negative sigma2_u, a non-positive-definite Hausman difference and the
 * error paths. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "core_fe.h"
#include "core_hdfe.h"
#include "core_re.h"
#include "tests/reference/panel/fixture.h"

#define REL 1e-8

static void setup(void) {
  gsl_set_error_handler_off();
}

TestSuite(re, .init = setup);

static const char *const XR[] = {"lgdp_o", "lgdp_d", "rta", "ldist"};

/* Rows (all when rows == NULL) into X, y and the pair index. */
static void build(const core_panel *p, const size_t *rows, size_t n,
                  gsl_matrix **X, gsl_vector **y, size_t **grp, size_t *ng) {
  size_t *all = malloc(p->n * sizeof *all);
  cr_assert_eq(core_factor_from_panel(p, "pair", NULL, all, ng, NULL), CORE_OK);
  *X = gsl_matrix_alloc(n, 4);
  *y = gsl_vector_alloc(n);
  *grp = malloc(n * sizeof **grp);
  const double *yv = core_panel_column(p, "ltrade");
  for (size_t i = 0; i < n; i++) {
    size_t r = rows ? rows[i] : i;
    gsl_vector_set(*y, i, yv[r]);
    for (size_t j = 0; j < 4; j++)
      gsl_matrix_set(*X, i, j, core_panel_column(p, XR[j])[r]);
    (*grp)[i] = all[r];
  }
  free(all);
}

static double cmp_re(const char *model, const core_re_result *r) {
  double d = 99;
  for (size_t j = 0; j < r->p; j++) {
    char what[128];
    snprintf(what, sizeof what, "%s coef %s", model, r->col_label[j]);
    d = fmin(d,
             check_rel(what, r->beta[j],
                       ref_value(model, "classical", "coef", r->col_label[j]),
                       REL));
    snprintf(what, sizeof what, "%s se %s", model, r->col_label[j]);
    d = fmin(d, check_rel(what, r->se[j],
                          ref_value(model, "classical", "se", r->col_label[j]),
                          REL));
  }
  return d;
}

Test(re, unbalanced_swamy_arora_and_hausman_match_plm) {
  core_panel *p = panel_load();
  gsl_matrix *X;
  gsl_vector *y;
  size_t *g, ng;
  build(p, NULL, p->n, &X, &y, &g, &ng);
  core_re_result *re = NULL;
  core_err e;
  core_status st = core_re_fit(X, y, XR, g, ng, 0.95, &re, &e);
  cr_assert_eq(st, CORE_OK, "%s", e.msg);
  cr_assert_not(re->balanced);
  cr_assert_eq(re->n, (size_t)ref_value("RE", "-", "n", "-"));
  double d = cmp_re("RE", re);
  d = fmin(d, check_rel("sigma2_e", re->sigma2_e,
                        ref_value("RE", "-", "sigma2_e", "-"), REL));
  d = fmin(d, check_rel("sigma2_u", re->sigma2_u,
                        ref_value("RE", "-", "sigma2_u", "-"), REL));
  d = fmin(d, check_rel("theta_min", re->theta_min,
                        ref_value("RE", "-", "theta_min", "-"), REL));
  d = fmin(d, check_rel("theta_max", re->theta_max,
                        ref_value("RE", "-", "theta_max", "-"), REL));
  d = fmin(d, check_rel("theta_first", re->theta[0],
                        ref_value("RE", "-", "theta_first", "-"), REL));
  cr_log_info("RE (unbalanced, swar): %.1f digits vs plm", d);

  core_fe_factor fac = {"pair", g, ng};
  core_fe_opts fo = {.keep_singletons = true, .tol = 1e-13};
  core_fe_result *fe = NULL;
  cr_assert_eq(core_fe_fit(X, y, XR, &fac, 1, &fo, &fe, &e), CORE_OK);
  cr_assert(fe->dropped_fe[3]); /* ldist */
  d = 99;
  for (size_t j = 0; j < 3; j++)
    d = fmin(d, check_rel("within se", fe->se[j],
                          ref_value("RE", "within", "se", XR[j]), REL));
  core_hausman_result h;
  core_warnings w = {0};
  cr_assert_eq(core_hausman_fe_re(fe, re, &h, &w, &e), CORE_OK);
  cr_assert_eq(h.q, 3);
  cr_assert_eq(h.df, ref_value("RE", "-", "hausman_df", "-"));
  /* Here V_FE - V_RE has a negative eigenvalue (common in practice): the
   * full-rank generalised inverse is the plain inverse phtest uses, and the
   * fit says it is not positive definite. */
  cr_assert_not(h.pos_def);
  cr_assert_eq(w.n, 1);
  core_warnings_clear(&w);
  d = fmin(d, check_rel("hausman", h.stat, ref_value("RE", "-", "hausman", "-"),
                        REL));
  d = fmin(d, check_rel("hausman p", h.p_value,
                        ref_value("RE", "-", "hausman_p", "-"), 1e-6));
  cr_log_info("Hausman (unbalanced): %.1f digits vs plm::phtest", d);
  core_fe_result_free(fe);
  core_re_result_free(re);
  gsl_matrix_free(X);
  gsl_vector_free(y);
  free(g);
  core_panel_free(p);
}

Test(re, balanced_swamy_arora_matches_plm) {
  core_panel *p = panel_load();
  FILE *f = fopen(PANEL_DIR "balanced_rows.csv", "r");
  cr_assert_not_null(f);
  char line[64];
  cr_assert_not_null(fgets(line, sizeof line, f));
  size_t *rows = malloc(p->n * sizeof *rows), n = 0;
  while (fgets(line, sizeof line, f)) {
    char *end;
    rows[n++] = (size_t)strtoul(line, &end, 10);
  }
  fclose(f);
  cr_assert_eq(n, (size_t)ref_value("REB", "-", "n", "-"));
  gsl_matrix *X;
  gsl_vector *y;
  size_t *g, ng;
  build(p, rows, n, &X, &y, &g, &ng);
  core_re_result *re = NULL;
  core_err e;
  cr_assert_eq(core_re_fit(X, y, XR, g, ng, 0, &re, &e), CORE_OK, "%s", e.msg);
  cr_assert(re->balanced);
  double d = cmp_re("REB", re);
  d = fmin(d, check_rel("sigma2_u", re->sigma2_u,
                        ref_value("REB", "-", "sigma2_u", "-"), REL));
  d = fmin(d, check_rel("theta", re->theta_min,
                        ref_value("REB", "-", "theta", "-"), REL));
  cr_assert_eq(re->theta_min, re->theta_max);
  core_fe_factor fac = {"pair", g, ng};
  core_fe_opts fo = {.tol = 1e-13};
  core_fe_result *fe = NULL;
  cr_assert_eq(core_fe_fit(X, y, XR, &fac, 1, &fo, &fe, &e), CORE_OK);
  core_hausman_result h;
  cr_assert_eq(core_hausman_fe_re(fe, re, &h, NULL, &e), CORE_OK);
  d = fmin(d, check_rel("hausman", h.stat,
                        ref_value("REB", "-", "hausman", "-"), REL));
  cr_log_info("RE (balanced) and Hausman: %.1f digits vs plm", d);
  core_fe_result_free(fe);
  core_re_result_free(re);
  gsl_matrix_free(X);
  gsl_vector_free(y);
  free(g);
  free(rows);
  core_panel_free(p);
}

Test(re, negative_sigma2_u_is_truncated_with_a_warning) {
  /* 12 individuals x 5 periods; y alternates around a common mean so the
   * individual means hardly differ: the between variance is below
   * s2_e / T. */
  size_t N = 12, T = 5, n = N * T;
  gsl_matrix *X = gsl_matrix_alloc(n, 1);
  gsl_vector *y = gsl_vector_alloc(n);
  size_t *g = malloc(n * sizeof *g);
  for (size_t i = 0; i < N; i++)
    for (size_t t = 0; t < T; t++) {
      size_t r = i * T + t;
      g[r] = i;
      double x = sin(1.7 * (double)r) + 0.3 * (double)t;
      gsl_matrix_set(X, r, 0, x);
      gsl_vector_set(y, r,
                     2.0 + 0.5 * x + ((t % 2) ? 0.9 : -0.9) +
                         0.01 * cos(3.1 * (double)r));
    }
  core_re_result *re = NULL;
  core_err e;
  cr_assert_eq(core_re_fit(X, y, NULL, g, N, 0.95, &re, &e), CORE_OK, "%s",
               e.msg);
  cr_assert(re->sigma2_u_truncated);
  cr_assert_eq(re->sigma2_u, 0.0);
  cr_assert_eq(re->theta_max, 0.0);
  cr_assert_geq(re->warnings.n, 1);
  core_re_result_free(re);
  gsl_matrix_free(X);
  gsl_vector_free(y);
  free(g);
}

Test(re, hausman_generalised_inverse_when_not_positive_definite) {
  double bf[2] = {1.25, -0.4}, br[2] = {1.05, -0.35};
  double Vf[4] = {0.04, 0.01, 0.01, 0.02}, Vr[4] = {0.03, 0.01, 0.01, 0.025};
  core_hausman_result h;
  core_warnings w = {0};
  core_err e;
  cr_assert_eq(core_hausman(2, bf, Vf, br, Vr, &h, &w, &e), CORE_OK);
  cr_assert_not(h.pos_def);
  cr_assert_eq(h.df, 2); /* eigenvalues 0.01 and -0.005: both kept */
  /* H = 0.2^2 / 0.01 + (-0.05)^2 / -0.005 = 4 - 0.5 */
  cr_assert_float_eq(h.stat, 3.5, 1e-12);
  cr_assert_eq(w.n, 1);
  core_warnings_clear(&w);
  /* A singular difference: rank 1, df 1. */
  double Vr2[4] = {0.03, 0.01, 0.01, 0.02};
  cr_assert_eq(core_hausman(2, bf, Vf, br, Vr2, &h, &w, &e), CORE_OK);
  cr_assert_eq(h.df, 1);
  cr_assert_float_eq(h.stat, 4.0, 1e-12);
  core_warnings_clear(&w);
  cr_assert_eq(core_hausman(0, bf, Vf, br, Vr, &h, NULL, &e), CORE_EINVAL);
  cr_assert_eq(core_hausman(2, NULL, Vf, br, Vr, &h, NULL, &e), CORE_EINVAL);
  double bn[2] = {NAN, 1};
  cr_assert_eq(core_hausman(2, bn, Vf, br, Vr, &h, NULL, &e), CORE_EINVAL);
  cr_assert_eq(core_hausman_fe_re(NULL, NULL, &h, NULL, &e), CORE_EINVAL);
}

Test(re, argument_errors) {
  gsl_matrix *X = gsl_matrix_alloc(6, 1);
  gsl_vector *y = gsl_vector_alloc(6), *y5 = gsl_vector_alloc(5);
  size_t g[6] = {0, 0, 1, 1, 2, 2}, gb[6] = {0, 0, 1, 1, 2, 3};
  for (size_t i = 0; i < 6; i++) {
    gsl_matrix_set(X, i, 0, 0.37 * (double)i * (double)i);
    gsl_vector_set(y, i, 1.3 + 0.11 * (double)i);
  }
  core_re_result *r = NULL;
  core_err e;
  cr_assert_eq(core_re_fit(NULL, y, NULL, g, 3, 0.95, &r, &e), CORE_EINVAL);
  cr_assert_eq(core_re_fit(X, NULL, NULL, g, 3, 0.95, &r, &e), CORE_EINVAL);
  cr_assert_eq(core_re_fit(X, y, NULL, NULL, 3, 0.95, &r, &e), CORE_EINVAL);
  cr_assert_eq(core_re_fit(X, y, NULL, g, 3, 0.95, NULL, &e), CORE_EINVAL);
  cr_assert_eq(core_re_fit(X, y5, NULL, g, 3, 0.95, &r, &e), CORE_EINVAL);
  cr_assert_eq(core_re_fit(X, y, NULL, gb, 3, 0.95, &r, &e), CORE_EINVAL);
  cr_assert_eq(core_re_fit(X, y, NULL, g, 3, 1.5, &r, &e), CORE_EINVAL);
  /* 3 individuals cannot carry a between regression with 2 coefficients
   * and leave degrees of freedom: N - K - 1 = 1 is fine, so use 2. */
  size_t g2[6] = {0, 0, 0, 1, 1, 1};
  cr_assert_eq(core_re_fit(X, y, NULL, g2, 2, 0.95, &r, &e), CORE_ETOOFEW);
  cr_assert_null(r);
  gsl_matrix_free(X);
  gsl_vector_free(y);
  gsl_vector_free(y5);
}
