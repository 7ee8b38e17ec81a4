/* Specification of core_pca: R's prcomp / psych reference values on real WDI
 * e-commerce enablers (tests/reference/pca, see its README.md), the composite
 * index methods and scales, the sign convention, missing rows, singular
 * correlation matrices, the KMO warnings and every error path.
 *
 * Tolerance: 1e-10 relative, |got - want| <= 1e-10 * max(|want|, scale),
 * where scale is the natural size of the quantity's family (1 for
 * correlations, eigenvector entries and proportions, the largest eigenvalue
 * for loadings, the column's largest |score| for scores and indices), so
 * that entries which are nearly zero are compared at the precision of
 * their neighbours. Eigenvectors are compared after our sign convention. */
#include <criterion/criterion.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "core/core_pca.h"

#define REL_TOL 1e-10

static void setup(void) {
  gsl_set_error_handler_off();
}

TestSuite(pca, .init = setup);

/* ---------------------------------------------------------------------- */
/* Fixtures                                                               */
/* ---------------------------------------------------------------------- */

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

static double num(const char *s, char **end) {
  errno = 0;
  double v = strtod(s, end);
  cr_assert(*end != s && errno == 0, "bad number at '%.20s'", s);
  return v;
}

/* The data: iso3,year,v1..vp; the numeric columns after the two keys. */
typedef struct data {
  size_t n, p;
  double *cols[8];
} data;

static data data_read(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/tests/reference/pca/%s", GRAVITAS_SOURCE_DIR,
           name);
  char *buf = slurp(path);
  data d = {0, 0, {NULL}};
  char *line = buf, *nl = strchr(line, '\n');
  cr_assert_not_null(nl);
  for (char *c = line; c < nl; c++)
    d.p += *c == ',' ? 1 : 0;
  d.p -= 1; /* iso3,year then p values: p + 1 commas */
  cr_assert(d.p >= 2 && d.p <= 8);
  size_t cap = 0;
  for (char *c = nl; *c; c++)
    cap += *c == '\n' ? 1 : 0;
  for (size_t j = 0; j < d.p; j++)
    d.cols[j] = malloc(cap * sizeof(double));
  for (line = nl + 1; *line; line = nl + 1) {
    nl = strchr(line, '\n');
    cr_assert_not_null(nl);
    char *c = strchr(strchr(line, ',') + 1, ',') + 1;
    for (size_t j = 0; j < d.p; j++) {
      char *end;
      d.cols[j][d.n] = num(c, &end);
      c = end + 1;
    }
    d.n++;
  }
  free(buf);
  return d;
}

static void data_free(data *d) {
  for (size_t j = 0; j < d->p; j++)
    free(d->cols[j]);
}

/* Reference values: quantity,i,j,value. */
typedef struct ref {
  size_t n;
  char (*q)[32];
  long *i, *j;
  double *v;
} ref;

static ref ref_read(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/tests/reference/pca/%s", GRAVITAS_SOURCE_DIR,
           name);
  char *buf = slurp(path);
  size_t cap = 0;
  for (char *c = buf; *c; c++)
    cap += *c == '\n' ? 1 : 0;
  ref r = {0, malloc(cap * 32), malloc(cap * sizeof(long)),
           malloc(cap * sizeof(long)), malloc(cap * sizeof(double))};
  char *line = strchr(buf, '\n') + 1;
  while (*line) {
    char *nl = strchr(line, '\n');
    char *c1 = strchr(line, ',');
    cr_assert(c1 && c1 < nl && c1 - line < 32);
    memcpy(r.q[r.n], line, (size_t)(c1 - line));
    r.q[r.n][c1 - line] = '\0';
    char *end;
    r.i[r.n] = c1[1] == ',' ? -1 : (long)num(c1 + 1, &end);
    char *c2 = strchr(c1 + 1, ',');
    r.j[r.n] = c2[1] == ',' ? -1 : (long)num(c2 + 1, &end);
    char *c3 = strchr(c2 + 1, ',');
    r.v[r.n] = num(c3 + 1, &end);
    r.n++;
    line = nl + 1;
  }
  free(buf);
  return r;
}

static void ref_free(ref *r) {
  free(r->q);
  free(r->i);
  free(r->j);
  free(r->v);
}

static double ref_get(const ref *r, const char *q, long i, long j) {
  for (size_t k = 0; k < r->n; k++)
    if (strcmp(r->q[k], q) == 0 && r->i[k] == i && r->j[k] == j) return r->v[k];
  cr_assert_fail("no reference value %s[%ld,%ld]", q, i, j);
  return NAN;
}

static void close_to(double got, double want, double scale, const char *what,
                     long i, long j) {
  double tol = REL_TOL * fmax(fabs(want), scale);
  cr_assert(fabs(got - want) <= tol,
            "%s[%ld,%ld]: got %.17g, want %.17g (diff %.3g > %.3g)", what, i, j,
            got, want, fabs(got - want), tol);
}

/* Largest |ref| of a row-indexed family over column j (or all, j = -1). */
static double family_scale(const ref *r, const char *q, long j) {
  double s = 0;
  for (size_t k = 0; k < r->n; k++)
    if (strcmp(r->q[k], q) == 0 && (j < 0 || r->j[k] == j))
      s = fmax(s, fabs(r->v[k]));
  return s;
}

static core_pca_result *run(const data *d, core_index_method m,
                            core_index_scale s) {
  core_pca_result *r = NULL;
  core_err err;
  core_status st =
      core_pca((const double *const *)d->cols, d->n, d->p, m, s, &r, &err);
  cr_assert_eq(st, CORE_OK, "core_pca: %s", err.msg);
  cr_assert_not_null(r);
  return r;
}

static bool has_warning(const core_pca_result *r, const char *needle) {
  for (size_t i = 0; i < r->warnings.n; i++)
    if (strstr(r->warnings.msgs[i], needle)) return true;
  return false;
}

/* Compares everything but the index; row_of maps reference row k to the
 * result row (NULL: identity). */
static void check_against(const core_pca_result *r, const ref *f,
                          const size_t *row_of) {
  size_t p = r->p;
  cr_assert_eq(r->n, (size_t)ref_get(f, "n", -1, -1));
  cr_assert_eq(p, (size_t)ref_get(f, "p", -1, -1));
  double lmax = ref_get(f, "eigenvalue", 0, -1);
  for (long a = 0; a < (long)p; a++) {
    close_to(r->mean[a], ref_get(f, "mean", a, -1), 0, "mean", a, -1);
    close_to(r->sd[a], ref_get(f, "sd", a, -1), 0, "sd", a, -1);
    close_to(r->eigenvalues[a], ref_get(f, "eigenvalue", a, -1), 0,
             "eigenvalue", a, -1);
    close_to(r->proportion[a], ref_get(f, "proportion", a, -1), 1, "proportion",
             a, -1);
    close_to(r->cumulative[a], ref_get(f, "cumulative", a, -1), 1, "cumulative",
             a, -1);
    close_to(r->kmo_per_variable[a], ref_get(f, "kmo_variable", a, -1), 0,
             "kmo_variable", a, -1);
    for (long b = 0; b < (long)p; b++) {
      close_to(r->corr[a * (long)p + b], ref_get(f, "corr", a, b), 1, "corr", a,
               b);
      close_to(r->eigenvectors[a * (long)p + b],
               ref_get(f, "eigenvector", a, b), 1, "eigenvector", a, b);
      close_to(r->loadings[a * (long)p + b], ref_get(f, "loading", a, b),
               sqrt(lmax), "loading", a, b);
    }
  }
  for (long b = 0; b < (long)p; b++) {
    double sc = family_scale(f, "score", b);
    for (long k = 0; k < (long)r->n; k++) {
      size_t row = row_of ? row_of[k] : (size_t)k;
      close_to(r->scores[row * p + (size_t)b], ref_get(f, "score", k, b), sc,
               "score", k, b);
    }
  }
  close_to(r->kmo_overall, ref_get(f, "kmo_overall", -1, -1), 0, "kmo", -1, -1);
  close_to(r->bartlett_statistic, ref_get(f, "bartlett_statistic", -1, -1), 0,
           "bartlett_statistic", -1, -1);
  cr_assert_eq(r->bartlett_df, ref_get(f, "bartlett_df", -1, -1));
  close_to(r->bartlett_p_value, ref_get(f, "bartlett_p_value", -1, -1), 0,
           "bartlett_p_value", -1, -1);
}

static void check_index(const core_pca_result *r, const ref *f, const char *q,
                        const size_t *row_of) {
  double sc = family_scale(f, q, -1);
  for (long k = 0; k < (long)r->n; k++) {
    size_t row = row_of ? row_of[k] : (size_t)k;
    close_to(r->index[row], ref_get(f, q, k, -1), sc, q, k, -1);
  }
}

/* ---------------------------------------------------------------------- */
/* Against R                                                              */
/* ---------------------------------------------------------------------- */

Test(pca, enablers_match_prcomp_and_psych) {
  data d = data_read("enablers.csv");
  ref f = ref_read("enablers.reference.csv");
  core_pca_result *r = run(&d, CORE_INDEX_FIRST, CORE_SCALE_NONE);
  cr_assert_eq(r->n_rows, 98);
  for (size_t i = 0; i < r->n_rows; i++)
    cr_assert(r->used[i]);
  check_against(r, &f, NULL);
  cr_assert_eq(r->n_kept, 1);
  check_index(r, &f, "index_first", NULL);
  /* R&D spending has a per-variable KMO of 0.439 in this data. */
  cr_assert(has_warning(r, "per-variable KMO is below 0.5 for 1 variable"));
  cr_assert(has_warning(r, "5 (0.439)"));
  cr_assert(!has_warning(r, "unacceptable"));
  core_pca_result_free(r);
  ref_free(&f);
  data_free(&d);
}

Test(pca, enablers_first_unit_scale) {
  data d = data_read("enablers.csv");
  ref f = ref_read("enablers.reference.csv");
  core_pca_result *r = run(&d, CORE_INDEX_FIRST, CORE_SCALE_UNIT);
  check_index(r, &f, "index_first_unit", NULL);
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < r->n_rows; i++) {
    lo = fmin(lo, r->index[i]);
    hi = fmax(hi, r->index[i]);
  }
  cr_assert_eq(lo, 0.0);
  cr_assert_eq(hi, 1.0);
  core_pca_result_free(r);
  ref_free(&f);
  data_free(&d);
}

Test(pca, enablers_kaiser_keeps_one_component) {
  /* The second eigenvalue is 0.98797 < 1: Kaiser's index is PC1's score. */
  data d = data_read("enablers.csv");
  ref f = ref_read("enablers.reference.csv");
  core_pca_result *r = run(&d, CORE_INDEX_KAISER, CORE_SCALE_NONE);
  cr_assert_eq(r->n_kept, 1);
  check_index(r, &f, "index_kaiser", NULL);
  cr_assert(!has_warning(r, "Kaiser"));
  core_pca_result_free(r);
  ref_free(&f);
  data_free(&d);
}

Test(pca, macro_kaiser_weights_three_components_percent) {
  data d = data_read("enablers_macro.csv");
  ref f = ref_read("enablers_macro.reference.csv");
  core_pca_result *r = run(&d, CORE_INDEX_KAISER, CORE_SCALE_PERCENT);
  check_against(r, &f, NULL);
  cr_assert_eq(r->n_kept, (size_t)ref_get(&f, "n_kept", -1, -1));
  cr_assert_eq(r->n_kept, 3);
  check_index(r, &f, "index_kaiser_percent", NULL);
  core_pca_result_free(r);
  r = run(&d, CORE_INDEX_KAISER, CORE_SCALE_NONE);
  check_index(r, &f, "index_kaiser", NULL);
  core_pca_result_free(r);
  ref_free(&f);
  data_free(&d);
}

Test(pca, sign_convention_loadings_sum_positive) {
  data d = data_read("enablers_macro.csv");
  core_pca_result *r = run(&d, CORE_INDEX_FIRST, CORE_SCALE_NONE);
  for (size_t j = 0; j < r->p; j++) {
    double s = 0;
    for (size_t i = 0; i < r->p; i++)
      s += r->loadings[i * r->p + j];
    cr_assert_gt(s, 0.0, "component %zu sums to %g", j, s);
  }
  core_pca_result_free(r);
  data_free(&d);
}

Test(pca, sign_tie_makes_largest_entry_positive) {
  /* With p = 2 the second eigenvector is (1, -1)/sqrt(2) up to sign: its
   * entries sum to zero, so the larger (first, to rounding) is positive. */
  double a[] = {2.71, 3.14, 1.41, 1.73, 2.24, 0.58};
  double b[] = {1.62, 2.72, 0.69, 1.10, 3.33, 0.31};
  const double *cols[] = {a, b};
  core_pca_result *r = NULL;
  core_err err;
  cr_assert_eq(
      core_pca(cols, 6, 2, CORE_INDEX_FIRST, CORE_SCALE_NONE, &r, &err),
      CORE_OK);
  double v0 = r->eigenvectors[0 * 2 + 1], v1 = r->eigenvectors[1 * 2 + 1];
  cr_assert_float_eq(fabs(v0), M_SQRT1_2, 1e-15);
  cr_assert_float_eq(fabs(v1), M_SQRT1_2, 1e-15);
  cr_assert(fabs(v0) >= fabs(v1) ? v0 > 0 : v1 > 0);
  cr_assert_float_eq(r->eigenvectors[0], M_SQRT1_2, 1e-15);
  cr_assert_float_eq(r->eigenvectors[2], M_SQRT1_2, 1e-15);
  core_pca_result_free(r);
}

Test(pca, rows_with_missing_values_are_left_out) {
  /* The enablers with a NaN row inserted after every third row (in a
   * different variable each time): the same numbers as R on the complete
   * rows, with NaN scores and index in the left-out rows. */
  data d = data_read("enablers.csv");
  ref f = ref_read("enablers.reference.csv");
  size_t extra = d.n / 3, n = d.n + extra;
  double *cols[5];
  size_t *row_of = malloc(d.n * sizeof *row_of);
  for (size_t j = 0; j < d.p; j++)
    cols[j] = malloc(n * sizeof(double));
  size_t out = 0;
  for (size_t k = 0; k < d.n; k++) {
    for (size_t j = 0; j < d.p; j++)
      cols[j][out] = d.cols[j][k];
    row_of[k] = out++;
    if (k % 3 == 2) {
      for (size_t j = 0; j < d.p; j++)
        cols[j][out] = d.cols[j][k] * 3.0;
      cols[k % d.p][out] = NAN;
      out++;
    }
  }
  cr_assert_eq(out, n);
  core_pca_result *r = NULL;
  core_err err;
  cr_assert_eq(core_pca((const double *const *)cols, n, d.p, CORE_INDEX_FIRST,
                        CORE_SCALE_NONE, &r, &err),
               CORE_OK, "%s", err.msg);
  cr_assert_eq(r->n_rows, n);
  cr_assert_eq(r->n, d.n);
  check_against(r, &f, row_of);
  check_index(r, &f, "index_first", row_of);
  size_t unused = 0;
  for (size_t i = 0; i < n; i++) {
    if (r->used[i]) continue;
    unused++;
    cr_assert(isnan(r->index[i]));
    for (size_t j = 0; j < d.p; j++)
      cr_assert(isnan(r->scores[i * d.p + j]));
  }
  cr_assert_eq(unused, extra);
  core_pca_result_free(r);
  for (size_t j = 0; j < d.p; j++)
    free(cols[j]);
  free(row_of);
  ref_free(&f);
  data_free(&d);
}

Test(pca, extreme_magnitudes_give_the_same_answer) {
  /* Standardising is scale-free; the columns are scaled by 2^k so the
   * inputs are exact, and neither 1e300-sized nor 1e-300-sized values may
   * overflow or underflow the sums of squares. */
  data d = data_read("enablers.csv");
  ref f = ref_read("enablers.reference.csv");
  int shift[] = {1000, -1000, 0, 900, -1020};
  for (size_t j = 0; j < d.p; j++)
    for (size_t i = 0; i < d.n; i++)
      d.cols[j][i] = ldexp(d.cols[j][i], shift[j]);
  core_pca_result *r = run(&d, CORE_INDEX_FIRST, CORE_SCALE_NONE);
  for (size_t j = 0; j < d.p; j++) {
    close_to(ldexp(r->mean[j], -shift[j]), ref_get(&f, "mean", (long)j, -1), 0,
             "mean", (long)j, -1);
    close_to(ldexp(r->sd[j], -shift[j]), ref_get(&f, "sd", (long)j, -1), 0,
             "sd", (long)j, -1);
  }
  cr_assert(isfinite(r->kmo_overall));
  r->mean[0] = ref_get(&f, "mean", 0, -1); /* only the scaled fields differ */
  for (size_t j = 0; j < d.p; j++) {
    r->mean[j] = ref_get(&f, "mean", (long)j, -1);
    r->sd[j] = ref_get(&f, "sd", (long)j, -1);
  }
  check_against(r, &f, NULL);
  core_pca_result_free(r);
  ref_free(&f);
  data_free(&d);
}

/* ---------------------------------------------------------------------- */
/* Adequacy warnings and singular R                                       */
/* ---------------------------------------------------------------------- */

/* Constructed: x3 = x1 + x2 + small noise (tests/reference/pca/low_kmo.R,
 * whose output low_kmo.out.txt holds these values from R 4.2.2 and psych
 * 2.2.9). */
static const double LK1[] = {3.17, 1.42, 4.88, 2.05, 5.61, 0.93,
                             3.76, 2.64, 4.12, 1.87, 5.03, 2.91};
static const double LK2[] = {0.58, 2.71, 1.34, 3.92, 0.87, 2.26,
                             3.41, 1.09, 2.83, 0.45, 1.77, 3.15};
static const double LK_NOISE[] = {0.11,  -0.07, 0.05,  -0.12, 0.09,  0.02,
                                  -0.04, 0.08,  -0.10, 0.06,  -0.03, 0.01};

Test(pca, low_kmo_is_unacceptable_and_matches_psych) {
  double x3[12];
  for (size_t i = 0; i < 12; i++)
    x3[i] = LK1[i] + LK2[i] + LK_NOISE[i];
  const double *cols[] = {LK1, LK2, x3};
  core_pca_result *r = NULL;
  core_err err;
  cr_assert_eq(
      core_pca(cols, 12, 3, CORE_INDEX_KAISER, CORE_SCALE_NONE, &r, &err),
      CORE_OK);
  close_to(r->kmo_overall, 0.21866781833638343, 0, "kmo", -1, -1);
  close_to(r->kmo_per_variable[0], 0.23794957754252238, 0, "kmo", 0, -1);
  close_to(r->kmo_per_variable[1], 0.11814351840941896, 0, "kmo", 1, -1);
  close_to(r->kmo_per_variable[2], 0.28228830594896542, 0, "kmo", 2, -1);
  close_to(r->bartlett_statistic, 69.144900697031744, 0, "chi2", -1, -1);
  cr_assert_eq(r->bartlett_df, 3.0);
  close_to(r->bartlett_p_value, 6.5064748272377942e-15, 0, "p", -1, -1);
  close_to(r->eigenvalues[0], 1.79813809877307151375, 0, "ev", 0, -1);
  close_to(r->eigenvalues[1], 1.20161671676626591321, 0, "ev", 1, -1);
  /* The smallest eigenvalue is ~2.5e-4: accurate relative to the largest. */
  close_to(r->eigenvalues[2], 0.00024518446066323918, 1.8, "ev", 2, -1);
  cr_assert_eq(r->n_kept, 2);
  cr_assert(has_warning(r, "0.219, below 0.5 (\"unacceptable\""));
  cr_assert(has_warning(r, "for 3 variables"));
  core_pca_result_free(r);
}

Test(pca, fewer_rows_than_variables_is_singular_but_answered) {
  data d = data_read("enablers.csv");
  core_pca_result *r = NULL;
  core_err err;
  /* 4 complete rows (KAZ 2010-2013 are rows 14-17) for 5 variables. */
  const double *cols[5];
  for (size_t j = 0; j < 5; j++)
    cols[j] = d.cols[j] + 14;
  cr_assert_eq(
      core_pca(cols, 4, 5, CORE_INDEX_FIRST, CORE_SCALE_UNIT, &r, &err),
      CORE_OK, "%s", err.msg);
  cr_assert_eq(r->n, 4);
  cr_assert(isnan(r->kmo_overall));
  cr_assert(isnan(r->bartlett_statistic));
  cr_assert(isnan(r->bartlett_df));
  cr_assert(isnan(r->bartlett_p_value));
  for (size_t j = 0; j < 5; j++)
    cr_assert(isnan(r->kmo_per_variable[j]));
  cr_assert(has_warning(r, "Only 4 complete rows for 5 variables"));
  /* Rank 3: the last two eigenvalues vanish; the first three sum to p. */
  cr_assert_float_eq(r->eigenvalues[0] + r->eigenvalues[1] + r->eigenvalues[2],
                     5.0, 1e-12);
  cr_assert_float_eq(r->eigenvalues[4], 0.0, 1e-12);
  for (size_t i = 0; i < 4; i++)
    cr_assert(isfinite(r->index[i]) && r->index[i] >= 0 && r->index[i] <= 1);
  core_pca_result_free(r);
  data_free(&d);
}

Test(pca, exact_collinearity_is_singular_but_answered) {
  double a[] = {1.5, 2.25, 3.125, 4.0625, 5.5, 6.75};
  double b[] = {0.5, 1.75, 0.25, 2.5, 1.25, 3.0};
  double c[6];
  for (size_t i = 0; i < 6; i++)
    c[i] = a[i] + b[i]; /* exact in binary */
  const double *cols[] = {a, b, c};
  core_pca_result *r = NULL;
  core_err err;
  cr_assert_eq(
      core_pca(cols, 6, 3, CORE_INDEX_FIRST, CORE_SCALE_NONE, &r, &err),
      CORE_OK);
  cr_assert(isnan(r->kmo_overall));
  cr_assert(isnan(r->bartlett_p_value));
  cr_assert(has_warning(r, "correlation matrix is singular"));
  cr_assert(isfinite(r->eigenvalues[0]) && isfinite(r->index[0]));
  for (size_t i = 0; i < 9; i++)
    cr_assert(isfinite(r->loadings[i]));
  core_pca_result_free(r);
}

Test(pca, kaiser_with_no_eigenvalue_above_one_keeps_the_first) {
  /* Orthogonal columns: R is the identity, every eigenvalue is 1. */
  double a[] = {1.25, -1.25, 1.25, -1.25};
  double b[] = {3.5, 3.5, -3.5, -3.5};
  const double *cols[] = {a, b};
  core_pca_result *r = NULL;
  core_err err;
  cr_assert_eq(
      core_pca(cols, 4, 2, CORE_INDEX_KAISER, CORE_SCALE_NONE, &r, &err),
      CORE_OK);
  cr_assert_eq(r->n_kept, 1);
  cr_assert(has_warning(r, "No eigenvalue exceeds 1"));
  for (size_t i = 0; i < 4; i++)
    cr_assert_eq(r->index[i], r->scores[i * 2]);
  /* No correlation at all: the KMO is 0/0, undefined, and said so. */
  cr_assert(isnan(r->kmo_overall));
  cr_assert(has_warning(r, "uncorrelated"));
  core_pca_result_free(r);
}

/* ---------------------------------------------------------------------- */
/* Errors                                                                 */
/* ---------------------------------------------------------------------- */

static core_status try_pca(const double *const *cols, size_t n, size_t p,
                           core_err *err) {
  core_pca_result *r = (core_pca_result *)&r; /* must be reset to NULL */
  core_status st =
      core_pca(cols, n, p, CORE_INDEX_FIRST, CORE_SCALE_NONE, &r, err);
  if (st != CORE_OK) cr_assert_null(r);
  core_pca_result_free(st == CORE_OK ? r : NULL);
  return st;
}

static const double A6[] = {1.5, 2.25, 3.125, 4.0625, 5.5, 6.75};
static const double B6[] = {0.5, 1.75, 0.25, 2.5, 1.25, 3.0};

Test(pca, error_null_arguments) {
  core_err err;
  cr_assert_eq(try_pca(NULL, 6, 2, &err), CORE_EINVAL);
  const double *cols[] = {A6, B6};
  cr_assert_eq(
      core_pca(cols, 6, 2, CORE_INDEX_FIRST, CORE_SCALE_NONE, NULL, &err),
      CORE_EINVAL);
  const double *half[] = {A6, NULL};
  cr_assert_eq(try_pca(half, 6, 2, &err), CORE_EINVAL);
  cr_assert(strstr(err.msg, "Variable 1 has no data"));
  /* A NULL err is allowed. */
  cr_assert_eq(try_pca(NULL, 6, 2, NULL), CORE_EINVAL);
}

Test(pca, error_fewer_than_two_variables) {
  core_err err;
  const double *cols[] = {A6};
  cr_assert_eq(try_pca(cols, 6, 1, &err), CORE_EINVAL);
  cr_assert(strstr(err.msg, "at least 2 variables (got 1)"));
  cr_assert_eq(try_pca(cols, 6, 0, &err), CORE_EINVAL);
}

Test(pca, error_constant_column_is_named) {
  double c[] = {2.5, 2.5, NAN, 2.5, 2.5, 2.5};
  const double *cols[] = {A6, B6, c};
  core_err err;
  cr_assert_eq(try_pca(cols, 6, 3, &err), CORE_EINVAL);
  cr_assert_str_eq(err.name, "2");
  cr_assert(strstr(err.msg, "Variable 2 (0-based) is constant (2.5)"));
}

Test(pca, error_fewer_than_three_complete_rows) {
  double c[] = {NAN, 0.75, NAN, NAN, 2.125, NAN};
  const double *cols[] = {A6, B6, c};
  core_err err;
  cr_assert_eq(try_pca(cols, 6, 3, &err), CORE_ETOOFEW);
  cr_assert(strstr(err.msg, "Only 2 rows have a value"));
  const double *two[] = {A6, B6};
  cr_assert_eq(try_pca(two, 2, 2, &err), CORE_ETOOFEW);
  cr_assert_eq(try_pca(two, 0, 2, &err), CORE_ETOOFEW);
}

Test(pca, error_nan_only_column) {
  double c[] = {NAN, NAN, NAN, NAN, NAN, NAN};
  const double *cols[] = {A6, c, B6};
  core_err err;
  cr_assert_eq(try_pca(cols, 6, 3, &err), CORE_ETOOFEW);
  cr_assert_str_eq(err.name, "1");
  cr_assert(strstr(err.msg, "Variable 1 (0-based) has no observed value"));
}

Test(pca, error_infinite_value_names_its_row) {
  double c[] = {0.5, 1.75, 0.25, -INFINITY, 1.25, 3.0};
  const double *cols[] = {A6, c};
  core_err err;
  cr_assert_eq(try_pca(cols, 6, 2, &err), CORE_EINVAL);
  cr_assert_str_eq(err.name, "1");
  cr_assert_eq(err.n_rows, 1);
  cr_assert_eq(err.rows[0], 3);
}

Test(pca, subnormal_values_are_standardised) {
  /* Distinct values whose deviations would underflow to zero when squared
   * are scaled up by a power of two (exactly) first: not an error. */
  double c[] = {0x1p-1074, 0x2p-1074, 0x1p-1074,
                0x2p-1074, 0x1p-1074, 0x3p-1074};
  double d[] = {1e-310, 3e-310, 2e-310, 5e-310, 4e-310, 6e-310};
  const double *cols[] = {A6, c};
  core_err err;
  cr_assert_eq(try_pca(cols, 6, 2, &err), CORE_OK, "%s", err.msg);
  const double *cols2[] = {d, B6};
  cr_assert_eq(try_pca(cols2, 6, 2, &err), CORE_OK, "%s", err.msg);
}

Test(pca, error_bad_method_or_scale) {
  const double *cols[] = {A6, B6};
  core_pca_result *r = NULL;
  core_err err;
  cr_assert_eq(
      core_pca(cols, 6, 2, (core_index_method)7, CORE_SCALE_NONE, &r, &err),
      CORE_EINVAL);
  cr_assert_null(r);
  cr_assert_eq(
      core_pca(cols, 6, 2, CORE_INDEX_FIRST, (core_index_scale)-1, &r, &err),
      CORE_EINVAL);
  cr_assert_null(r);
}

Test(pca, free_null_is_a_no_op) {
  core_pca_result_free(NULL);
}
