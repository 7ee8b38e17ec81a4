/* Specification of core_ols: NIST StRD certified regressions, collinearity
 * handling (R's lm convention), every error path, the distribution helpers
 * against R, and a timing run at n = 1e6. The R/sandwich/statsmodels
 * reference for the variances is in test_ols_sandwich.c. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_errno.h>

#include "core_ols.h"

static void setup(void) {
  gsl_set_error_handler_off();
}

TestSuite(ols, .init = setup);

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

/* A numeric CSV with a header row. */
typedef struct table {
  size_t nrow, ncol;
  char names[16][32];
  double *v; /* row-major nrow x ncol */
} table;

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  cr_assert_eq(fseek(f, 0, SEEK_END), 0);
  long len = ftell(f);
  cr_assert_geq(len, 0);
  rewind(f);
  char *buf = malloc((size_t)len + 1);
  cr_assert_not_null(buf);
  cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
  buf[len] = '\0';
  fclose(f);
  return buf;
}

static double parse_num(const char *s, char **end) {
  errno = 0;
  double v = strtod(s, end);
  cr_assert(*end != s && errno == 0, "bad number at '%.20s'", s);
  return v;
}

static table *table_read(const char *path) {
  char *buf = slurp(path);
  table *t = calloc(1, sizeof *t);
  cr_assert_not_null(t);
  char *s = buf;
  while (*s != '\n' && *s != '\0') {
    size_t len = strcspn(s, ",\n\r");
    cr_assert_lt(t->ncol, 16);
    cr_assert_lt(len, 32);
    memcpy(t->names[t->ncol], s, len);
    t->names[t->ncol][len] = '\0';
    t->ncol++;
    s += len;
    if (*s == ',') s++;
    if (*s == '\r') s++;
  }
  size_t cap = 64;
  t->v = malloc(cap * t->ncol * sizeof *t->v);
  while (*s != '\0') {
    while (*s == '\n' || *s == '\r')
      s++;
    if (*s == '\0') break;
    if (t->nrow == cap) {
      cap *= 2;
      t->v = realloc(t->v, cap * t->ncol * sizeof *t->v);
      cr_assert_not_null(t->v);
    }
    for (size_t j = 0; j < t->ncol; j++) {
      char *end;
      t->v[t->nrow * t->ncol + j] = parse_num(s, &end);
      s = end;
      cr_assert(*s == (j + 1 < t->ncol ? ',' : *s), "bad CSV row");
      if (*s == ',') s++;
    }
    t->nrow++;
  }
  free(buf);
  return t;
}

static void table_free(table *t) {
  if (t == NULL) return;
  free(t->v);
  free(t);
}

static size_t table_col(const table *t, const char *name) {
  for (size_t j = 0; j < t->ncol; j++)
    if (strcmp(t->names[j], name) == 0) return j;
  cr_assert_fail("no column %s", name);
  return 0;
}

static double table_get(const table *t, size_t i, const char *name) {
  return t->v[i * t->ncol + table_col(t, name)];
}

/* Log relative error (number of correct significant digits), capped at 15
 * as NIST does. */
static double lre(double got, double want) {
  if (got == want) return 15.0;
  double e = want == 0.0 ? fabs(got) : fabs(got - want) / fabs(want);
  double d = -log10(e);
  return d > 15.0 ? 15.0 : d;
}

/* A tiny reader for the certified JSON files (core tests link no JSON
 * library): the value after the unique key "key", a number or the i-th
 * number of an array. */
static const char *json_value(const char *buf, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\"", key);
  const char *s = strstr(buf, pat);
  cr_assert_not_null(s, "no key %s", key);
  cr_assert_null(strstr(s + 1, pat), "key %s is not unique", key);
  s += strlen(pat);
  while (*s == ' ' || *s == '\n')
    s++;
  cr_assert_eq(*s, ':', "no ':' after %s", key);
  s++;
  while (*s == ' ' || *s == '\n')
    s++;
  return s;
}

static double json_num_at(const char *buf, const char *key, size_t i) {
  const char *s = json_value(buf, key);
  cr_assert_eq(*s, '[', "%s is not an array", key);
  s++;
  for (size_t j = 0;; j++) {
    char *end;
    double v = parse_num(s, &end);
    if (j == i) return v;
    s = end;
    while (*s == ' ' || *s == '\n')
      s++;
    cr_assert_eq(*s, ',', "%s has no element %zu", key, i);
    s++;
  }
}

static double json_num(const char *buf, const char *key) {
  char *end;
  return parse_num(json_value(buf, key), &end);
}

static size_t json_array_len(const char *buf, const char *key) {
  const char *s = json_value(buf, key);
  cr_assert_eq(*s, '[');
  size_t n = 1;
  for (s++; *s != ']'; s++) {
    cr_assert_neq(*s, '\0');
    n += *s == ',';
  }
  return n;
}

static core_ols_result *fit_ok(const gsl_matrix *X, const gsl_vector *y,
                               bool icept, const core_vcov_spec *vc) {
  core_ols_result *r = NULL;
  core_err err;
  core_status st = core_ols_fit(X, y, icept, vc, 0.95, &r, &err);
  cr_assert_eq(st, CORE_OK, "fit failed: %s (%s)", err.msg,
               core_status_name(st));
  cr_assert_not_null(r);
  return r;
}

/* ---------------------------------------------------------------------- */
/* NIST StRD                                                              */
/* ---------------------------------------------------------------------- */

/* Fits a NIST set with the design built here and checks every certified
 * value to min_digits significant digits; logs the digits achieved. */
static void nist_check(const char *set, int degree, double min_digits) {
  char path[512];
  snprintf(path, sizeof path, "%s/tests/reference/nist/%s.csv",
           GRAVITAS_SOURCE_DIR, set);
  table *t = table_read(path);
  snprintf(path, sizeof path, "%s/tests/reference/nist/%s.certified.json",
           GRAVITAS_SOURCE_DIR, set);
  char *cert = slurp(path);
  const char *ic = json_value(cert, "intercept");
  bool icept = strncmp(ic, "true", 4) == 0;
  cr_assert(icept || strncmp(ic, "false", 5) == 0);
  size_t n = t->nrow;
  cr_assert_eq((double)n, json_num(cert, "n_obs"));
  size_t ncoef = json_array_len(cert, "coefficients");

  /* degree < 0: the CSV columns x1..xm are the regressors; else the powers
   * of x (1..degree) built here, as the certified model states. */
  gsl_matrix *X = gsl_matrix_alloc(n, ncoef);
  gsl_vector *y = gsl_vector_alloc(n);
  for (size_t i = 0; i < n; i++) {
    gsl_vector_set(y, i, table_get(t, i, "y"));
    size_t j = 0;
    if (icept) gsl_matrix_set(X, i, j++, 1.0);
    if (degree < 0) {
      for (size_t c = 1; c < t->ncol; c++)
        gsl_matrix_set(X, i, j++, t->v[i * t->ncol + c]);
    } else {
      double x = table_get(t, i, "x");
      for (int d = 1; d <= degree; d++)
        gsl_matrix_set(X, i, j++, pow(x, d)); /* x, x^2: exact in double */
    }
    cr_assert_eq(j, ncoef);
  }
  core_ols_result *r = fit_ok(X, y, icept, NULL);
  cr_assert_eq(r->k, ncoef);

  double worst_b = 15, worst_se = 15;
  for (size_t j = 0; j < ncoef; j++) {
    double db = lre(r->beta[j], json_num_at(cert, "coefficients", j));
    double ds = lre(r->se[j], json_num_at(cert, "std_errors", j));
    worst_b = fmin(worst_b, db);
    worst_se = fmin(worst_se, ds);
    cr_expect_geq(db, min_digits, "%s beta[%zu]: %.2f digits", set, j, db);
    cr_expect_geq(ds, min_digits, "%s se[%zu]: %.2f digits", set, j, ds);
  }
  double dsd = lre(r->rmse, json_num(cert, "residual_sd"));
  double dr2 = lre(r->r2, json_num(cert, "r_squared"));
  double df = lre(r->f, json_num(cert, "f_statistic"));
  double dssr = lre(r->ssr, json_num(cert, "residual_ss"));
  cr_expect_geq(dsd, min_digits, "%s residual sd: %.2f digits", set, dsd);
  cr_expect_geq(dr2, min_digits, "%s R^2: %.2f digits", set, dr2);
  cr_expect_geq(df, min_digits, "%s F: %.2f digits", set, df);
  cr_expect_geq(dssr, min_digits, "%s SSR: %.2f digits", set, dssr);
  cr_expect_eq(r->f_df1, json_num(cert, "regression_df"));
  cr_expect_eq(r->f_df2, json_num(cert, "residual_df"));
  cr_log_info("NIST %s: digits beta %.1f, se %.1f, residual sd %.1f, R^2 "
              "%.1f, F %.1f, SSR %.1f",
              set, worst_b, worst_se, dsd, dr2, df, dssr);

  core_ols_result_free(r);
  gsl_matrix_free(X);
  gsl_vector_free(y);
  free(cert);
  table_free(t);
}

Test(ols, nist_norris) {
  nist_check("Norris", 1, 9.0);
}

Test(ols, nist_pontius_quadratic) {
  nist_check("Pontius", 2, 9.0);
}

Test(ols, nist_noint1_uncentred_r2) {
  nist_check("NoInt1", 1, 9.0);
}

Test(ols, nist_longley) {
  nist_check("Longley", -1, 9.0);
}

/* ---------------------------------------------------------------------- */
/* Collinearity (R's lm: the later of collinear columns is dropped)       */
/* ---------------------------------------------------------------------- */

/* Deterministic pseudo-random numbers with many digits (xorshift64*). */
static double urand(unsigned long long *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return (double)((*s * 2685821657736338717ULL) >> 11) * 0x1.0p-53;
}

/* n rows: 1, x1, x2, x3 with y = 2.5 + 1.25 x1 - 0.75 x2 + 0.5 x3 + noise. */
static void make_data(size_t n, gsl_matrix **X, gsl_vector **y) {
  unsigned long long s = 0x9E3779B97F4A7C15ULL;
  *X = gsl_matrix_alloc(n, 4);
  *y = gsl_vector_alloc(n);
  for (size_t i = 0; i < n; i++) {
    double x1 = 3.0 + 7.0 * urand(&s), x2 = -2.0 + 5.0 * urand(&s);
    double x3 = 100.0 * urand(&s);
    gsl_matrix_set(*X, i, 0, 1.0);
    gsl_matrix_set(*X, i, 1, x1);
    gsl_matrix_set(*X, i, 2, x2);
    gsl_matrix_set(*X, i, 3, x3);
    gsl_vector_set(*y, i,
                   2.5 + 1.25 * x1 - 0.75 * x2 + 0.5 * x3 +
                       (urand(&s) - 0.5) * (1.0 + x1));
  }
}

/* Builds X with one extra column inserted at position pos, computed by f. */
static gsl_matrix *with_extra(const gsl_matrix *X, size_t pos,
                              double (*f)(const gsl_matrix *, size_t)) {
  gsl_matrix *Z = gsl_matrix_alloc(X->size1, X->size2 + 1);
  for (size_t i = 0; i < X->size1; i++) {
    size_t c = 0;
    for (size_t j = 0; j <= X->size2; j++)
      gsl_matrix_set(Z, i, j, j == pos ? f(X, i) : gsl_matrix_get(X, i, c++));
  }
  return Z;
}

static double sum_x1_x2(const gsl_matrix *X, size_t i) {
  return gsl_matrix_get(X, i, 1) + gsl_matrix_get(X, i, 2);
}
static double dup_x2(const gsl_matrix *X, size_t i) {
  return gsl_matrix_get(X, i, 2);
}
static double const_col(const gsl_matrix *X, size_t i) {
  (void)X;
  (void)i;
  return 4.375;
}

/* Fits X_extra (extra column at pos) and X, checks the extra column is the
 * dropped one and the rest equals the fit without it, for every variance. */
static void check_dropped(double (*f)(const gsl_matrix *, size_t), size_t pos,
                          const char *what) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(157, &X, &y);
  gsl_matrix *Z = with_extra(X, pos, f);
  size_t cl[157];
  for (size_t i = 0; i < 157; i++)
    cl[i] = (i * 7 + i / 5) % 13;
  core_vcov_kind kinds[] = {CORE_VCOV_CLASSICAL, CORE_VCOV_HC0,
                            CORE_VCOV_HC1,       CORE_VCOV_HC2,
                            CORE_VCOV_HC3,       CORE_VCOV_CLUSTER};
  for (size_t v = 0; v < sizeof kinds / sizeof kinds[0]; v++) {
    core_vcov_spec vc = {kinds[v], cl, 13};
    core_ols_result *a = fit_ok(Z, y, true, &vc);
    core_ols_result *b = fit_ok(X, y, true, &vc);
    cr_assert_eq(a->k, 4, "%s: k = %zu", what, a->k);
    cr_assert_eq(a->p, 5);
    for (size_t j = 0; j < 5; j++)
      cr_assert_eq(a->dropped[j], j == pos);
    cr_assert(isnan(a->beta[pos]) && isnan(a->se[pos]) && isnan(a->t[pos]) &&
              isnan(a->p_value[pos]) && isnan(a->ci_low[pos]) &&
              isnan(a->ci_high[pos]));
    for (size_t j = 0; j < 5; j++) {
      cr_assert(isnan(a->V[pos * 5 + j]) && isnan(a->V[j * 5 + pos]));
    }
    for (size_t j = 0, c = 0; j < 5; j++) {
      if (j == pos) continue;
      cr_expect_float_eq(a->beta[j], b->beta[c], 1e-10 * fabs(b->beta[c]),
                         "%s beta[%zu]", what, j);
      cr_expect_float_eq(a->se[j], b->se[c], 1e-9 * b->se[c], "%s se[%zu]",
                         what, j);
      cr_expect_float_eq(a->p_value[j], b->p_value[c],
                         1e-8 * b->p_value[c] + 1e-300, "%s p[%zu]", what, j);
      c++;
    }
    cr_expect_float_eq(a->r2, b->r2, 1e-12);
    cr_expect_float_eq(a->f, b->f, 1e-9 * b->f, "%s F", what);
    cr_expect_eq(a->f_df1, 3.0);
    cr_expect_eq(a->df_resid, 153.0);
    cr_expect_float_eq(a->aic, b->aic, 1e-10 * fabs(b->aic));
    core_ols_result_free(a);
    core_ols_result_free(b);
  }
  gsl_matrix_free(Z);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, collinear_sum_is_dropped) {
  check_dropped(sum_x1_x2, 4, "x4 = x1 + x2 (last)");
  /* Placed in the middle, it still goes: its own pivot step comes after x1
   * and x2, and the columns after it keep their estimates. */
  check_dropped(sum_x1_x2, 3, "x1 + x2 (middle)");
}

Test(ols, duplicated_column_later_copy_dropped) {
  check_dropped(dup_x2, 3, "duplicate of x2");
}

Test(ols, constant_column_besides_intercept_dropped) {
  check_dropped(const_col, 2, "constant 4.375");
}

Test(ols, intercept_after_a_constant_column_is_the_dropped_one) {
  /* Of the constant 4.375 (first) and the ones column (second) the later,
   * the ones, goes; the kept constant then plays the intercept. */
  gsl_matrix *X;
  gsl_vector *y;
  make_data(60, &X, &y);
  gsl_matrix *Z = with_extra(X, 0, const_col);
  core_vcov_spec vc = {CORE_VCOV_HC1, NULL, 0};
  core_ols_result *a = fit_ok(Z, y, true, &vc);
  core_ols_result *b = fit_ok(X, y, true, &vc);
  cr_assert_eq(a->k, 4);
  cr_assert(!a->dropped[0] && a->dropped[1]);
  cr_expect_float_eq(a->beta[0] * 4.375, b->beta[0], 1e-10 * fabs(b->beta[0]));
  cr_expect_float_eq(a->f, b->f, 1e-9 * b->f);
  cr_expect_eq(a->f_df1, 3.0);
  core_ols_result_free(a);
  core_ols_result_free(b);
  gsl_matrix_free(Z);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, more_columns_than_rows_but_low_rank) {
  /* n = 6, p = 8, rank 3: R's lm keeps the first three. */
  double base[6][3] = {{1, 0.25, 3.5},  {1, 1.75, -2.25}, {1, 2.5, 0.125},
                       {1, -0.5, 4.75}, {1, 3.25, 1.5},   {1, 0.875, -1.0}};
  double yv[6] = {1.5, 2.25, 0.75, 3.125, 2.0, -0.5};
  gsl_matrix *X = gsl_matrix_alloc(6, 8);
  gsl_vector *y = gsl_vector_alloc(6);
  for (size_t i = 0; i < 6; i++) {
    for (size_t j = 0; j < 3; j++)
      gsl_matrix_set(X, i, j, base[i][j]);
    for (size_t j = 3; j < 8; j++)
      gsl_matrix_set(X, i, j,
                     (double)(j - 2) * base[i][1] - 0.5 * base[i][2] +
                         (double)j * base[i][0]);
    gsl_vector_set(y, i, yv[i]);
  }
  core_ols_result *r = fit_ok(X, y, true, NULL);
  cr_assert_eq(r->k, 3);
  for (size_t j = 0; j < 8; j++)
    cr_assert_eq(r->dropped[j], j >= 3);
  cr_assert_eq(r->df_resid, 3.0);
  for (size_t i = 0; i < 6; i++)
    cr_expect_float_eq(r->fitted[i] + r->resid[i], yv[i], 1e-14);
  core_ols_result_free(r);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

/* ---------------------------------------------------------------------- */
/* Identities that hold for any data                                      */
/* ---------------------------------------------------------------------- */

Test(ols, residual_identities_and_vcov_null_is_classical) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(83, &X, &y);
  core_ols_result *r = fit_ok(X, y, true, NULL);
  cr_assert_eq(r->vcov, CORE_VCOV_CLASSICAL);
  double sumh = 0, ssr = 0;
  for (size_t i = 0; i < 83; i++) {
    cr_expect_float_eq(r->fitted[i] + r->resid[i], gsl_vector_get(y, i),
                       1e-12 * fabs(gsl_vector_get(y, i)));
    cr_expect(r->leverage[i] > 0 && r->leverage[i] < 1);
    sumh += r->leverage[i];
    ssr += r->resid[i] * r->resid[i];
  }
  /* Residuals are orthogonal to every column. */
  for (size_t j = 0; j < 4; j++) {
    double dot = 0, scale = 0;
    for (size_t i = 0; i < 83; i++) {
      dot += gsl_matrix_get(X, i, j) * r->resid[i];
      scale += fabs(gsl_matrix_get(X, i, j) * r->resid[i]);
    }
    cr_expect_leq(fabs(dot), 1e-13 * scale, "X'e[%zu] = %g", j, dot);
  }
  cr_expect_float_eq(sumh, 4.0, 1e-12, "trace of the hat matrix");
  cr_expect_float_eq(r->ssr, ssr, 1e-12 * ssr);
  cr_expect_float_eq(r->rmse * r->rmse, r->ssr / 79.0, 1e-12 * r->ssr);
  /* V is symmetric and se = sqrt(diag V). */
  for (size_t a = 0; a < 4; a++) {
    cr_expect_float_eq(r->se[a] * r->se[a], r->V[a * 4 + a],
                       1e-14 * r->V[a * 4 + a]);
    for (size_t b = 0; b < 4; b++)
      cr_expect_eq(r->V[a * 4 + b], r->V[b * 4 + a]);
  }
  /* CI half-width is t_{0.975, 79} se: R's qt(0.975, 79). */
  double q = 1.9904502102301285;
  for (size_t a = 0; a < 4; a++)
    cr_expect_float_eq(r->ci_high[a] - r->beta[a], q * r->se[a],
                       1e-12 * q * r->se[a]);
  core_ols_result_free(r);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, no_slope_gives_nan_f) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(20, &X, &y);
  gsl_matrix_view c = gsl_matrix_submatrix(X, 0, 0, 20, 1);
  core_vcov_kind kinds[] = {CORE_VCOV_CLASSICAL, CORE_VCOV_HC1};
  for (size_t v = 0; v < 2; v++) {
    core_vcov_spec vc = {kinds[v], NULL, 0};
    core_ols_result *r = fit_ok(&c.matrix, y, true, &vc);
    cr_assert_eq(r->k, 1);
    cr_expect(isnan(r->f) && isnan(r->f_p_value) && isnan(r->f_df1));
    cr_expect_float_eq(r->r2, 0.0, 1e-12, "R^2 of the intercept alone");
    core_ols_result_free(r);
  }
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, perfect_fit_does_not_crash) {
  /* y exactly linear in x: SSR is (nearly) zero; the fit must still return
   * the exact line and never abort. */
  gsl_matrix *X = gsl_matrix_alloc(7, 2);
  gsl_vector *y = gsl_vector_alloc(7);
  for (size_t i = 0; i < 7; i++) {
    gsl_matrix_set(X, i, 0, 1.0);
    gsl_matrix_set(X, i, 1, 0.5 * (double)i);
    gsl_vector_set(y, i, 3.0 - 2.0 * 0.5 * (double)i);
  }
  for (int v = CORE_VCOV_CLASSICAL; v <= CORE_VCOV_HC1; v++) {
    core_vcov_spec vc = {(core_vcov_kind)v, NULL, 0};
    core_ols_result *r = fit_ok(X, y, true, &vc);
    cr_expect_float_eq(r->beta[0], 3.0, 1e-13);
    cr_expect_float_eq(r->beta[1], -2.0, 1e-13);
    cr_expect_leq(r->ssr, 1e-25);
    core_ols_result_free(r);
  }
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

/* ---------------------------------------------------------------------- */
/* Errors: each path returns its code, a message, and never aborts        */
/* ---------------------------------------------------------------------- */

static core_status fit_err(const gsl_matrix *X, const gsl_vector *y, bool icept,
                           const core_vcov_spec *vc, double level,
                           core_err *err) {
  static core_ols_result sentinel;
  core_ols_result *r = &sentinel; /* the fit must reset it to NULL */
  core_status st = core_ols_fit(X, y, icept, vc, level, &r, err);
  cr_assert_null(r, "out must be NULL on error");
  cr_assert_eq(err->code, st);
  cr_assert_neq(err->msg[0], '\0', "error without a message");
  return st;
}

Test(ols, error_null_pointers) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(10, &X, &y);
  core_err err;
  core_ols_result *r = NULL;
  cr_expect_eq(fit_err(NULL, y, true, NULL, 0.95, &err), CORE_EINVAL);
  cr_expect_eq(fit_err(X, NULL, true, NULL, 0.95, &err), CORE_EINVAL);
  cr_expect_eq(core_ols_fit(X, y, true, NULL, 0.95, NULL, &err), CORE_EINVAL);
  /* A NULL err is allowed. */
  cr_expect_eq(core_ols_fit(NULL, y, true, NULL, 0.95, &r, NULL), CORE_EINVAL);
  cr_expect_null(r);
  core_ols_result_free(NULL);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, error_size_mismatch) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(10, &X, &y);
  gsl_vector *y9 = gsl_vector_alloc(9);
  gsl_vector_set_all(y9, 1.5);
  core_err err;
  cr_expect_eq(fit_err(X, y9, true, NULL, 0.95, &err), CORE_EINVAL);
  cr_expect(strstr(err.msg, "9") && strstr(err.msg, "10"), "%s", err.msg);
  gsl_vector_free(y9);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, error_non_finite_x_names_row) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(10, &X, &y);
  gsl_matrix_set(X, 6, 2, NAN);
  core_err err;
  cr_expect_eq(fit_err(X, y, true, NULL, 0.95, &err), CORE_EINVAL);
  cr_expect_eq(err.n_rows, 1);
  cr_expect_eq(err.rows[0], 6);
  gsl_matrix_set(X, 6, 2, 1.0);
  gsl_matrix_set(X, 8, 1, -INFINITY);
  cr_expect_eq(fit_err(X, y, true, NULL, 0.95, &err), CORE_EINVAL);
  cr_expect_eq(err.rows[0], 8);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, error_non_finite_y_names_row) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(10, &X, &y);
  gsl_vector_set(y, 3, INFINITY);
  core_err err;
  cr_expect_eq(fit_err(X, y, true, NULL, 0.95, &err), CORE_EINVAL);
  cr_expect_eq(err.rows[0], 3);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, error_values_too_large_to_square) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(10, &X, &y);
  gsl_matrix_set(X, 2, 3, 1e300);
  core_err err;
  cr_expect_eq(fit_err(X, y, true, NULL, 0.95, &err), CORE_EINVAL);
  gsl_matrix_set(X, 2, 3, 1.0);
  gsl_vector_set(y, 1, -3e200);
  cr_expect_eq(fit_err(X, y, true, NULL, 0.95, &err), CORE_EINVAL);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, error_too_few_observations_gives_n_and_k) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(4, &X, &y); /* 4 rows, 4 independent columns */
  core_err err;
  cr_expect_eq(fit_err(X, y, true, NULL, 0.95, &err), CORE_ETOOFEW);
  cr_expect(strstr(err.msg, "n = 4") && strstr(err.msg, "k = 4"), "%s",
            err.msg);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, error_rank_zero) {
  gsl_matrix *X = gsl_matrix_calloc(12, 3);
  gsl_vector *y = gsl_vector_alloc(12);
  gsl_vector_set_all(y, 2.75);
  core_err err;
  cr_expect_eq(fit_err(X, y, false, NULL, 0.95, &err), CORE_ESINGULAR);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, error_intercept_claimed_without_constant) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(15, &X, &y);
  gsl_matrix_view v = gsl_matrix_submatrix(X, 0, 1, 15, 3);
  core_err err;
  cr_expect_eq(fit_err(&v.matrix, y, true, NULL, 0.95, &err), CORE_EINVAL);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, error_bad_level) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(15, &X, &y);
  core_err err;
  double bad[] = {0.0, 1.0, -0.5, 95.0, NAN};
  for (size_t i = 0; i < 5; i++)
    cr_expect_eq(fit_err(X, y, true, NULL, bad[i], &err), CORE_EINVAL);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, error_unknown_vcov_kind) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(15, &X, &y);
  core_vcov_spec vc = {(core_vcov_kind)42, NULL, 0};
  core_err err;
  cr_expect_eq(fit_err(X, y, true, &vc, 0.95, &err), CORE_EINVAL);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, error_cluster_ids_missing) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(15, &X, &y);
  core_vcov_spec vc = {CORE_VCOV_CLUSTER, NULL, 5};
  core_err err;
  cr_expect_eq(fit_err(X, y, true, &vc, 0.95, &err), CORE_EINVAL);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, error_cluster_count_below_two) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(15, &X, &y);
  size_t cl[15] = {0};
  core_vcov_spec vc = {CORE_VCOV_CLUSTER, cl, 1};
  core_err err;
  cr_expect_eq(fit_err(X, y, true, &vc, 0.95, &err), CORE_EINVAL);
  vc.n_clusters = 0;
  cr_expect_eq(fit_err(X, y, true, &vc, 0.95, &err), CORE_EINVAL);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, error_cluster_id_out_of_range_names_row) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(15, &X, &y);
  size_t cl[15];
  for (size_t i = 0; i < 15; i++)
    cl[i] = i % 3;
  cl[11] = 3;
  core_vcov_spec vc = {CORE_VCOV_CLUSTER, cl, 3};
  core_err err;
  cr_expect_eq(fit_err(X, y, true, &vc, 0.95, &err), CORE_EINVAL);
  cr_expect_eq(err.rows[0], 11);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, error_more_clusters_than_rows) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(15, &X, &y);
  size_t cl[15];
  for (size_t i = 0; i < 15; i++)
    cl[i] = i;
  core_vcov_spec vc = {CORE_VCOV_CLUSTER, cl, 16};
  core_err err;
  cr_expect_eq(fit_err(X, y, true, &vc, 0.95, &err), CORE_EINVAL);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, error_one_non_empty_cluster) {
  gsl_matrix *X;
  gsl_vector *y;
  make_data(15, &X, &y);
  size_t cl[15];
  for (size_t i = 0; i < 15; i++)
    cl[i] = 2;
  core_vcov_spec vc = {CORE_VCOV_CLUSTER, cl, 4};
  core_err err;
  cr_expect_eq(fit_err(X, y, true, &vc, 0.95, &err), CORE_EINVAL);
  cr_expect(strstr(err.msg, "non-empty") != NULL, "%s", err.msg);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, empty_clusters_are_not_counted) {
  /* Ids 0..5 declared, only 0, 2, 4 used: G = 3, df = 2, and the result
   * equals the one with compact ids 0..2. */
  gsl_matrix *X;
  gsl_vector *y;
  make_data(30, &X, &y);
  size_t sparse[30], compact[30];
  for (size_t i = 0; i < 30; i++) {
    compact[i] = (i * 5) % 3;
    sparse[i] = 2 * compact[i];
  }
  core_vcov_spec a = {CORE_VCOV_CLUSTER, sparse, 6};
  core_vcov_spec b = {CORE_VCOV_CLUSTER, compact, 3};
  core_ols_result *ra = fit_ok(X, y, true, &a);
  core_ols_result *rb = fit_ok(X, y, true, &b);
  cr_expect_eq(ra->n_clusters, 3);
  cr_expect_eq(ra->df_inf, 2.0);
  for (size_t j = 0; j < 4; j++)
    cr_expect_eq(ra->se[j], rb->se[j]);
  core_ols_result_free(ra);
  core_ols_result_free(rb);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, cluster_f_missing_when_slopes_exceed_g_minus_1) {
  /* 3 slopes, G = 3: the CR1 V of the slopes has rank <= 2. */
  gsl_matrix *X;
  gsl_vector *y;
  make_data(40, &X, &y);
  size_t cl[40];
  for (size_t i = 0; i < 40; i++)
    cl[i] = (i * 7) % 3;
  core_vcov_spec vc = {CORE_VCOV_CLUSTER, cl, 3};
  core_ols_result *r = fit_ok(X, y, true, &vc);
  cr_expect_eq(r->df_inf, 2.0);
  cr_expect(isnan(r->f) && isnan(r->f_p_value), "F = %g", r->f);
  cr_expect(isfinite(r->se[1]) && isfinite(r->p_value[1]));
  core_ols_result_free(r);
  /* With 4 clusters (G - 1 = 3 slopes) it exists. */
  for (size_t i = 0; i < 40; i++)
    cl[i] = (i * 7) % 4;
  vc.n_clusters = 4;
  r = fit_ok(X, y, true, &vc);
  cr_expect(isfinite(r->f) && r->f > 0, "F = %g", r->f);
  cr_expect_eq(r->f_df2, 3.0);
  core_ols_result_free(r);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ols, error_hc2_hc3_with_leverage_one_names_row) {
  /* A dummy that is 1 in row 9 only: that row has h_ii = 1. */
  gsl_matrix *X;
  gsl_vector *y;
  make_data(25, &X, &y);
  gsl_matrix *Z = gsl_matrix_alloc(25, 5);
  for (size_t i = 0; i < 25; i++) {
    for (size_t j = 0; j < 4; j++)
      gsl_matrix_set(Z, i, j, gsl_matrix_get(X, i, j));
    gsl_matrix_set(Z, i, 4, i == 9 ? 1.0 : 0.0);
  }
  core_err err;
  core_vcov_kind bad[] = {CORE_VCOV_HC2, CORE_VCOV_HC3};
  for (size_t v = 0; v < 2; v++) {
    core_vcov_spec vc = {bad[v], NULL, 0};
    cr_expect_eq(fit_err(Z, y, true, &vc, 0.95, &err), CORE_ESINGULAR);
    cr_expect_eq(err.n_rows, 1);
    cr_expect_eq(err.rows[0], 9);
  }
  /* HC0/HC1 are defined there. */
  core_vcov_spec ok = {CORE_VCOV_HC1, NULL, 0};
  core_ols_result *r = fit_ok(Z, y, true, &ok);
  cr_expect_float_eq(r->leverage[9], 1.0, 1e-12);
  core_ols_result_free(r);
  gsl_matrix_free(Z);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

/* ---------------------------------------------------------------------- */
/* Distribution helpers against R 4.2.2                                   */
/* ---------------------------------------------------------------------- */

static void expect_rel(double got, double want, double tol, const char *what) {
  cr_expect(fabs(got - want) <= tol * fabs(want), "%s: got %.17g want %.17g",
            what, got, want);
}

Test(ols, t_pvalue_matches_r) {
  /* R: 2 * pt(|t|, df, lower.tail = FALSE); tolerance 1e-12 relative. */
  expect_rel(core_t_pvalue(2.3456789, 17.5), 0.031004186831506943, 1e-12,
             "t 17.5");
  expect_rel(core_t_pvalue(-11.25, 4), 0.00035563474681280888, 1e-12, "t 4");
  expect_rel(core_t_pvalue(37.5, 250), 1.2289275164918886e-104, 1e-12,
             "far tail");
  expect_rel(core_t_pvalue(0.0125, 1234), 0.99002872323959989, 1e-12, "near 1");
  expect_rel(core_t_pvalue(3.75, INFINITY), 0.00017683457040160776, 1e-12,
             "normal");
  expect_rel(core_t_pvalue(60, 396), 7.0333413429739953e-201, 1e-12,
             "very far tail");
  cr_expect_eq(core_t_pvalue(INFINITY, 10), 0.0);
  cr_expect_eq(core_t_pvalue(0.0, 10), 1.0);
}

Test(ols, f_and_chisq_pvalues_match_r) {
  expect_rel(core_f_pvalue(3.21, 4, 57), 0.019082087178387767, 1e-12, "F");
  expect_rel(core_f_pvalue(215.7, 2, 9), 2.4933221553179867e-08, 1e-12, "F");
  expect_rel(core_f_pvalue(0.45, 6, 1e3), 0.84524061540502693, 1e-12, "F");
  expect_rel(core_f_pvalue(3.21, 4, INFINITY), 0.012084629262129047, 1e-12,
             "F df2 = Inf is chi^2 / df1");
  cr_expect_eq(core_f_pvalue(INFINITY, 3, 5), 0.0);
  /* R: pf(1e4, 4, 396, lower.tail = FALSE) underflows to 0; GSL reports an
   * underflow error, which must come back as 0, not NaN. */
  cr_expect_eq(core_f_pvalue(1e4, 4, 396), 0.0);
  cr_expect_eq(core_chisq_pvalue(5e3, 2), 0.0);
  expect_rel(core_chisq_pvalue(7.815, 3), 0.049993902974883903, 1e-12, "chi2");
  expect_rel(core_chisq_pvalue(152.3, 12), 1.9351831938154137e-26, 1e-12,
             "chi2 tail");
  expect_rel(core_chisq_pvalue(0.0042, 1), 0.94832734393016005, 1e-12, "chi2");
  cr_expect_eq(core_chisq_pvalue(INFINITY, 2), 0.0);
}

Test(ols, t_quantile_matches_r) {
  expect_rel(core_t_quantile(0.975, 9), 2.2621571627982049, 1e-12, "q 9");
  expect_rel(core_t_quantile(0.995, 23), 2.8073356837699985, 1e-12, "q 23");
  expect_rel(core_t_quantile(0.95, 395), 1.6487203887375292, 1e-12, "q 395");
  expect_rel(core_t_quantile(0.025, 3.5), -2.9400886379827296, 1e-12, "q");
  expect_rel(core_t_quantile(0.975, INFINITY), 1.9599639845400536, 1e-12,
             "normal");
}

Test(ols, distribution_helpers_guard_domains) {
  cr_expect(isnan(core_t_pvalue(NAN, 5)));
  cr_expect(isnan(core_t_pvalue(1.0, 0)));
  cr_expect(isnan(core_t_pvalue(1.0, -3)));
  cr_expect(isnan(core_t_pvalue(1.0, NAN)));
  cr_expect(isnan(core_f_pvalue(-0.5, 2, 10)));
  cr_expect(isnan(core_f_pvalue(1.0, 0, 10)));
  cr_expect(isnan(core_f_pvalue(1.0, 2, 0)));
  cr_expect(isnan(core_f_pvalue(1.0, INFINITY, 10)));
  cr_expect(isnan(core_f_pvalue(NAN, 2, 10)));
  cr_expect(isnan(core_chisq_pvalue(-1.0, 2)));
  cr_expect(isnan(core_chisq_pvalue(1.0, 0)));
  cr_expect(isnan(core_chisq_pvalue(1.0, INFINITY)));
  cr_expect(isnan(core_chisq_pvalue(NAN, 2)));
  cr_expect(isnan(core_t_quantile(0.0, 5)));
  cr_expect(isnan(core_t_quantile(1.0, 5)));
  cr_expect(isnan(core_t_quantile(1.5, 5)));
  cr_expect(isnan(core_t_quantile(NAN, 5)));
  cr_expect(isnan(core_t_quantile(0.975, 0)));
  cr_expect(isnan(core_t_quantile(0.975, -1)));
}

/* ---------------------------------------------------------------------- */
/* Speed                                                                  */
/* ---------------------------------------------------------------------- */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

Test(ols, speed_n_1e6_p_8, .timeout = 120) {
  size_t n = 1000000, p = 8, G = 500;
  gsl_matrix *X = gsl_matrix_alloc(n, p);
  gsl_vector *y = gsl_vector_alloc(n);
  size_t *cl = malloc(n * sizeof *cl);
  cr_assert(X && y && cl);
  unsigned long long s = 12345;
  for (size_t i = 0; i < n; i++) {
    double lin = 0.5;
    gsl_matrix_set(X, i, 0, 1.0);
    for (size_t j = 1; j < p; j++) {
      double x = urand(&s) * (double)j;
      gsl_matrix_set(X, i, j, x);
      lin += 0.1 * (double)j * x;
    }
    gsl_vector_set(y, i, lin + urand(&s) - 0.5);
    cl[i] = i % G;
  }
  core_vcov_kind kinds[] = {CORE_VCOV_CLASSICAL, CORE_VCOV_HC1, CORE_VCOV_HC3,
                            CORE_VCOV_CLUSTER};
  const char *names[] = {"classical", "HC1", "HC3", "CR1"};
  for (size_t v = 0; v < 4; v++) {
    core_vcov_spec vc = {kinds[v], cl, G};
    double t0 = now();
    core_ols_result *r = fit_ok(X, y, true, &vc);
    double dt = now() - t0;
    cr_log_info("OLS n = 1e6, p = 8, %s: %.3f s", names[v], dt);
    cr_expect_eq(r->k, p);
    for (size_t j = 1; j < p; j++)
      cr_expect_float_eq(r->beta[j], 0.1 * (double)j, 5e-3, "beta[%zu]", j);
    core_ols_result_free(r);
  }
  free(cl);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

/* The design checks shared by the estimators (core_check_design). */
Test(ols_design_checks, constant_column_and_finite_entries) {
  gsl_matrix *X = gsl_matrix_alloc(3, 3);
  const double v[9] = {0.0, 2.5, 7.25, 0.0, 2.5, -1.125, 0.0, 2.5, 3.0625};
  for (size_t i = 0; i < 9; i++)
    X->data[i] = v[i];
  /* Column 0 is constant but zero: the first non-zero constant is 1. */
  cr_assert_eq(core_constant_column(X), 1u);
  core_err err;
  core_err_clear(&err);
  cr_assert_eq(core_check_design(X, true, &err), CORE_OK);
  gsl_matrix_set(X, 2, 1, 2.75);
  cr_assert_eq(core_constant_column(X), SIZE_MAX);
  cr_assert_eq(core_check_design(X, true, &err), CORE_EINVAL);
  cr_assert(strstr(err.msg, "non-zero constant"), "%s", err.msg);
  cr_assert_eq(core_check_design(X, false, &err), CORE_OK);
  gsl_matrix_set(X, 1, 2, NAN);
  core_err_clear(&err);
  cr_assert_eq(core_check_design(X, false, &err), CORE_EINVAL);
  cr_assert_str_eq(err.msg, "X[1, 2] is not finite");
  cr_assert_eq(err.rows[0], 1u);
  gsl_matrix_free(X);
}

/* core_ols_fit_cols (column-major input, used by the within and PPML fits)
 * gives bit-for-bit the answers of core_ols_fit for every variance kind,
 * leaves out only what its flags say, and makes the same checks. */
TestSuite(ols_cols, .init = setup);

Test(ols_cols, same_answers_as_the_matrix_entry_point) {
  gsl_matrix *X;
  gsl_vector *y;
  size_t n = 500, p = 4;
  make_data(n, &X, &y);
  double *buf = malloc(n * p * sizeof *buf);
  const double *cols[4];
  for (size_t j = 0; j < p; j++) {
    cols[j] = buf + j * n;
    for (size_t i = 0; i < n; i++)
      buf[j * n + i] = gsl_matrix_get(X, i, j);
  }
  size_t *cl = malloc(n * sizeof *cl);
  for (size_t i = 0; i < n; i++)
    cl[i] = i % 17;
  const core_vcov_kind kinds[] = {CORE_VCOV_CLASSICAL, CORE_VCOV_HC0,
                                  CORE_VCOV_HC1,       CORE_VCOV_HC2,
                                  CORE_VCOV_HC3,       CORE_VCOV_CLUSTER};
  for (size_t t = 0; t < sizeof kinds / sizeof kinds[0]; t++) {
    core_vcov_spec vs = {kinds[t], cl, 17};
    core_ols_result *a = NULL, *b = NULL, *c = NULL;
    core_err err;
    cr_assert_eq(core_ols_fit(X, y, true, &vs, 0.95, &a, &err), CORE_OK);
    cr_assert_eq(
        core_ols_fit_cols(cols, y->data, n, p, true, &vs, 0.95, 0, &b, &err),
        CORE_OK);
    cr_assert_eq(core_ols_fit_cols(cols, y->data, n, p, true, &vs, 0.95,
                                   CORE_OLS_NO_FITTED | CORE_OLS_NO_LEVERAGE,
                                   &c, &err),
                 CORE_OK);
    for (size_t j = 0; j < p; j++) {
      cr_assert_eq(a->beta[j], b->beta[j]);
      cr_assert_eq(a->se[j], b->se[j]);
      cr_assert_eq(a->beta[j], c->beta[j]);
      cr_assert_eq(a->se[j], c->se[j], "kind %d column %zu", (int)kinds[t], j);
    }
    cr_assert_eq(a->f, b->f);
    cr_assert_eq(a->ssr, c->ssr);
    for (size_t i = 0; i < n; i++) {
      cr_assert_eq(a->fitted[i], b->fitted[i]);
      cr_assert_eq(a->leverage[i], b->leverage[i]);
      cr_assert_eq(a->resid[i], c->resid[i]);
    }
    cr_assert_null(c->fitted);
    /* Without the residuals (classical only: the others need them), the
     * SSR comes from Q'y: the same to rounding. */
    core_ols_result *e = NULL;
    cr_assert_eq(core_ols_fit_cols(cols, y->data, n, p, true, &vs, 0.95,
                                   CORE_OLS_NO_FITTED | CORE_OLS_NO_RESID, &e,
                                   &err),
                 CORE_OK);
    if (kinds[t] == CORE_VCOV_CLASSICAL) {
      cr_assert_null(e->resid);
      cr_assert_float_eq(e->ssr, a->ssr, 1e-12 * a->ssr);
      for (size_t j = 0; j < p; j++)
        cr_assert_float_eq(e->se[j], a->se[j], 1e-12 * a->se[j]);
    } else {
      cr_assert_not_null(e->resid);
      cr_assert_eq(e->ssr, a->ssr);
    }
    core_ols_result_free(e);
    /* In place on a scratch copy: the same numbers again. */
    double *scr = malloc(n * p * sizeof *scr);
    double *sc[4];
    for (size_t j = 0; j < p; j++) {
      sc[j] = scr + j * n;
      memcpy(sc[j], cols[j], n * sizeof *scr);
    }
    core_ols_result *d = NULL;
    cr_assert_eq(
        core_ols_fit_scratch(sc, y->data, n, p, true, &vs, 0.95, 0, &d, &err),
        CORE_OK);
    for (size_t j = 0; j < p; j++)
      cr_assert_eq(a->se[j], d->se[j]);
    core_ols_result_free(d);
    free(scr);
    /* HC2 and HC3 need the leverages whatever the flags say. */
    if (kinds[t] == CORE_VCOV_HC2 || kinds[t] == CORE_VCOV_HC3)
      cr_assert_not_null(c->leverage);
    else
      cr_assert_null(c->leverage);
    core_ols_result_free(a);
    core_ols_result_free(b);
    core_ols_result_free(c);
  }
  /* The same checks as the matrix entry point. */
  core_ols_result *r = NULL;
  core_err err;
  buf[2 * n + 7] = INFINITY;
  cr_assert_eq(
      core_ols_fit_cols(cols, y->data, n, p, true, NULL, 0.95, 0, &r, &err),
      CORE_EINVAL);
  cr_assert_null(r);
  cr_assert_str_eq(err.msg, "X[7, 2] is not finite");
  cr_assert_eq(err.rows[0], 7u);
  buf[2 * n + 7] = 1.0;
  cr_assert_eq(core_ols_fit_cols(cols + 1, y->data, n, p - 1, true, NULL, 0.95,
                                 0, &r, &err),
               CORE_EINVAL);
  cr_assert(strstr(err.msg, "non-zero constant"), "%s", err.msg);
  cr_assert_eq(core_ols_fit_cols(cols + 1, y->data, n, p - 1, false, NULL, 0.95,
                                 0, &r, &err),
               CORE_OK);
  core_ols_result_free(r);
  cr_assert_eq(
      core_ols_fit_cols(NULL, y->data, n, p, true, NULL, 0.95, 0, &r, &err),
      CORE_EINVAL);
  free(buf);
  free(cl);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

/* core_ols_rank_scratch makes core_ols_fit's column choice: the later of
 * collinear columns and zero columns dropped, the rest kept. */
Test(ols_cols, rank_alone_matches_the_fit) {
  gsl_matrix *X;
  gsl_vector *y;
  size_t n = 300;
  make_data(n, &X, &y);
  /* 1, x1, x2, x1 + x2, 0, x3, 2 x3 */
  enum { P = 7 };
  double *buf = malloc(n * P * sizeof *buf);
  double *cols[P];
  gsl_matrix *Z = gsl_matrix_alloc(n, P);
  for (size_t i = 0; i < n; i++) {
    double v[P] = {1.0,
                   gsl_matrix_get(X, i, 1),
                   gsl_matrix_get(X, i, 2),
                   gsl_matrix_get(X, i, 1) + gsl_matrix_get(X, i, 2),
                   0.0,
                   gsl_matrix_get(X, i, 3),
                   2.0 * gsl_matrix_get(X, i, 3)};
    for (size_t j = 0; j < P; j++) {
      buf[j * n + i] = v[j];
      gsl_matrix_set(Z, i, j, v[j]);
    }
  }
  for (size_t j = 0; j < P; j++)
    cols[j] = buf + j * n;
  core_ols_result *r = NULL;
  core_err err;
  cr_assert_eq(core_ols_fit(Z, y, true, NULL, 0.95, &r, &err), CORE_OK);
  bool dropped[P];
  size_t rank = 99;
  cr_assert_eq(core_ols_rank_scratch(cols, n, P, dropped, &rank, &err),
               CORE_OK);
  cr_assert_eq(rank, r->k);
  cr_assert_eq(rank, 4u);
  for (size_t j = 0; j < P; j++)
    cr_assert_eq(dropped[j], r->dropped[j], "column %zu", j);
  cr_assert(dropped[3] && dropped[4] && dropped[6]);
  /* Every column zero: rank 0, all dropped. Non-finite: named. */
  memset(buf, 0, n * P * sizeof *buf);
  cr_assert_eq(core_ols_rank_scratch(cols, n, P, dropped, &rank, &err),
               CORE_OK);
  cr_assert_eq(rank, 0u);
  buf[3 * n + 5] = NAN;
  cr_assert_eq(core_ols_rank_scratch(cols, n, P, dropped, &rank, &err),
               CORE_EINVAL);
  cr_assert_str_eq(err.msg, "X[5, 3] is not finite");
  core_ols_result_free(r);
  gsl_matrix_free(Z);
  free(buf);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

/* core_cholesky: L L' rebuilds A; an indefinite matrix and (with rel_tol) a
 * nearly singular one are refused. */
Test(ols_cols, cholesky_factors_and_refuses) {
  double A[9] = {4.0, 2.0, -2.0, 2.0, 10.0, 2.0, -2.0, 2.0, 5.0};
  double L[9];
  memcpy(L, A, sizeof A);
  cr_assert(core_cholesky(L, 3, 0.0));
  for (size_t i = 0; i < 3; i++)
    for (size_t j = 0; j <= i; j++) {
      double s = 0.0;
      for (size_t a = 0; a <= j; a++)
        s += L[i * 3 + a] * L[j * 3 + a];
      cr_assert_float_eq(s, A[i * 3 + j], 1e-14, "(%zu, %zu)", i, j);
    }
  cr_assert_float_eq(L[0], 2.0, 1e-15);
  cr_assert_float_eq(L[4], 3.0, 1e-15);
  double B[4] = {1.0, 2.0, 2.0, 1.0}; /* eigenvalues 3 and -1 */
  cr_assert_not(core_cholesky(B, 2, 0.0));
  double C[4] = {1.0, 1.0, 1.0, 1.0 + 1e-12}; /* pivot 1e-12 of 1 */
  double D[4];
  memcpy(D, C, sizeof C);
  cr_assert(core_cholesky(C, 2, 0.0));
  cr_assert_not(core_cholesky(D, 2, 1e-10));
}
