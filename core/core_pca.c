/* Principal component analysis on the correlation matrix, the composite index
 * built from it, and the KMO / Bartlett adequacy measures (METHODS.md
 * section 6; see core_pca.h for the contract). */
#include "core_pca.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "core_ols.h"

/* R counts as singular when its smallest eigenvalue is below this fraction of
 * the largest: the inverse (and ln|R|) would then carry fewer than about six
 * correct digits, and exact collinearity in data shows up as ~1e-16. */
#define SINGULAR_RCOND 1e-10

/* A component's loadings "sum to zero" when the sum is below this fraction of
 * the sum of their absolute values; the sign then follows the largest one. */
#define SIGN_TIE_TOL 1e-8

/* Kaiser's criterion keeps eigenvalues > 1; the eigenvalues of an identity
 * correlation matrix come out as 1 +/- a few ulps, which must not count. */
#define KAISER_TOL 1e-12

/* Below this the KMO is "unacceptable" on Kaiser's (1974) scale. */
#define KMO_UNACCEPTABLE 0.5

void core_pca_result_free(core_pca_result *r) {
  if (r == NULL) return;
  free(r->used);
  free(r->mean);
  free(r->sd);
  free(r->corr);
  free(r->eigenvalues);
  free(r->proportion);
  free(r->cumulative);
  free(r->eigenvectors);
  free(r->loadings);
  free(r->scores);
  free(r->index);
  free(r->kmo_per_variable);
  core_warnings_clear(&r->warnings);
  free(r);
}

/* Allocates every array of the result (NaN-filled where numeric), or NULL. */
static core_pca_result *result_alloc(size_t n_rows, size_t p) {
  core_pca_result *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->n_rows = n_rows;
  r->p = p;
  size_t nr = n_rows ? n_rows : 1;
  r->used = calloc(nr, sizeof *r->used);
  r->mean = malloc(p * sizeof *r->mean);
  r->sd = malloc(p * sizeof *r->sd);
  r->corr = malloc(p * p * sizeof *r->corr);
  r->eigenvalues = malloc(p * sizeof *r->eigenvalues);
  r->proportion = malloc(p * sizeof *r->proportion);
  r->cumulative = malloc(p * sizeof *r->cumulative);
  r->eigenvectors = malloc(p * p * sizeof *r->eigenvectors);
  r->loadings = malloc(p * p * sizeof *r->loadings);
  r->scores = malloc(nr * p * sizeof *r->scores);
  r->index = malloc(nr * sizeof *r->index);
  r->kmo_per_variable = malloc(p * sizeof *r->kmo_per_variable);
  if (!r->used || !r->mean || !r->sd || !r->corr || !r->eigenvalues ||
      !r->proportion || !r->cumulative || !r->eigenvectors || !r->loadings ||
      !r->scores || !r->index || !r->kmo_per_variable) {
    core_pca_result_free(r);
    return NULL;
  }
  for (size_t i = 0; i < n_rows * p; i++)
    r->scores[i] = NAN;
  for (size_t i = 0; i < n_rows; i++)
    r->index[i] = NAN;
  for (size_t j = 0; j < p; j++)
    r->kmo_per_variable[j] = NAN;
  r->kmo_overall = NAN;
  r->bartlett_statistic = NAN;
  r->bartlett_df = NAN;
  r->bartlett_p_value = NAN;
  return r;
}

/* Checks the arguments and the data values; marks complete rows in used and
 * returns their number in *n. */
static core_status check_input(const double *const *cols, size_t n_rows,
                               size_t p, core_index_method method,
                               core_index_scale scale, bool *used, size_t *n,
                               core_err *err) {
  if (method != CORE_INDEX_FIRST && method != CORE_INDEX_KAISER)
    return core_err_set(err, CORE_EINVAL, "Unknown composite index method.");
  if (scale != CORE_SCALE_NONE && scale != CORE_SCALE_UNIT &&
      scale != CORE_SCALE_PERCENT)
    return core_err_set(err, CORE_EINVAL, "Unknown index scale.");
  for (size_t j = 0; j < p; j++)
    if (cols[j] == NULL && n_rows > 0)
      return core_err_set(err, CORE_EINVAL, "Variable %zu has no data.", j);
  for (size_t j = 0; j < p; j++) {
    size_t observed = 0;
    for (size_t i = 0; i < n_rows; i++) {
      double x = cols[j][i];
      if (isinf(x)) {
        if (err) snprintf(err->name, sizeof err->name, "%zu", j);
        core_err_add_row(err, i);
        return core_err_set(err, CORE_EINVAL,
                            "Variable %zu (0-based) is infinite in row %zu.", j,
                            i);
      }
      observed += isnan(x) ? 0 : 1;
    }
    if (observed == 0) {
      if (err) snprintf(err->name, sizeof err->name, "%zu", j);
      return core_err_set(err, CORE_ETOOFEW,
                          "Variable %zu (0-based) has no observed value.", j);
    }
  }
  *n = 0;
  for (size_t i = 0; i < n_rows; i++) {
    bool ok = true;
    for (size_t j = 0; j < p && ok; j++)
      ok = !isnan(cols[j][i]);
    used[i] = ok;
    *n += ok ? 1 : 0;
  }
  if (*n < 3)
    return core_err_set(err, CORE_ETOOFEW,
                        "Only %zu row%s %s a value for every variable; a "
                        "principal component analysis needs at least 3.",
                        *n, *n == 1 ? "" : "s", *n == 1 ? "has" : "have");
  return CORE_OK;
}

/* Standardises column j over the used rows into z (column j of an n x p
 * row-major array) and stores its mean and sd. The column is first scaled by
 * a power of two (exact) so that neither huge nor tiny magnitudes overflow or
 * underflow in the sums of squares. */
static core_status standardise(const double *x, size_t n_rows, const bool *used,
                               size_t n, size_t p, size_t j, double *z,
                               double *mean_out, double *sd_out,
                               core_err *err) {
  double lo = INFINITY, hi = -INFINITY, amax = 0;
  for (size_t i = 0; i < n_rows; i++) {
    if (!used[i]) continue;
    lo = fmin(lo, x[i]);
    hi = fmax(hi, x[i]);
    amax = fmax(amax, fabs(x[i]));
  }
  if (lo == hi) {
    if (err) snprintf(err->name, sizeof err->name, "%zu", j);
    return core_err_set(err, CORE_EINVAL,
                        "Variable %zu (0-based) is constant (%.17g) over the "
                        "complete rows, so it cannot be standardised.",
                        j, lo);
  }
  int e = 0;
  frexp(amax, &e);
  double sum = 0;
  for (size_t i = 0; i < n_rows; i++)
    if (used[i]) sum += ldexp(x[i], -e);
  double mean = sum / (double)n, corr = 0;
  /* A second pass corrects the mean for the rounding of the first. */
  for (size_t i = 0; i < n_rows; i++)
    if (used[i]) corr += ldexp(x[i], -e) - mean;
  mean += corr / (double)n;
  double ss = 0;
  for (size_t i = 0; i < n_rows; i++) {
    if (!used[i]) continue;
    double d = ldexp(x[i], -e) - mean;
    ss += d * d;
  }
  double sd = sqrt(ss / (double)(n - 1));
  /* Cannot happen: after scaling max |x| is in [0.5, 1) and two distinct
   * values leave a deviation far above the underflow threshold. */
  if (!(sd > 0) || !isfinite(sd))
    return core_err_set(err, CORE_EINTERNAL,
                        "Variable %zu could not be standardised.", j);
  size_t k = 0;
  for (size_t i = 0; i < n_rows; i++)
    if (used[i]) z[(k++) * p + j] = (ldexp(x[i], -e) - mean) / sd;
  *mean_out = ldexp(mean, e);
  *sd_out = ldexp(sd, e);
  return CORE_OK;
}

/* Flips column j of the p x p eigenvector matrix v so that its entries (and so
 * its loadings) sum to a positive number; when the sum is zero to rounding,
 * the entry of largest absolute value is made positive. */
static bool needs_flip(const double *v, size_t p, size_t j) {
  double s = 0, a = 0, big = 0;
  for (size_t i = 0; i < p; i++) {
    s += v[i * p + j];
    a += fabs(v[i * p + j]);
    if (fabs(v[i * p + j]) > fabs(big)) big = v[i * p + j];
  }
  if (fabs(s) <= SIGN_TIE_TOL * a) return big < 0;
  return s < 0;
}

/* Eigen-decomposes the correlation matrix into r's eigenvalues, eigenvectors
 * (signed by the convention) and loadings. */
static core_status eigen(core_pca_result *r, core_err *err) {
  size_t p = r->p;
  core_status st = CORE_ENOMEM;
  gsl_matrix *a = gsl_matrix_alloc(p, p), *evec = gsl_matrix_alloc(p, p);
  gsl_vector *eval = gsl_vector_alloc(p);
  gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(p);
  if (!a || !evec || !eval || !ws) {
    core_err_set(err, CORE_ENOMEM, "Out of memory in the eigen solver.");
    goto cleanup;
  }
  memcpy(a->data, r->corr, p * p * sizeof *r->corr); /* tda == p */
  if (gsl_eigen_symmv(a, eval, evec, ws) != GSL_SUCCESS ||
      gsl_eigen_symmv_sort(eval, evec, GSL_EIGEN_SORT_VAL_DESC) !=
          GSL_SUCCESS) {
    st = core_err_set(err, CORE_EINTERNAL,
                      "The symmetric eigen solver failed on the correlation "
                      "matrix.");
    goto cleanup;
  }
  double total = 0;
  for (size_t j = 0; j < p; j++) {
    r->eigenvalues[j] = gsl_vector_get(eval, j);
    total += r->eigenvalues[j];
  }
  for (size_t j = 0; j < p; j++)
    for (size_t i = 0; i < p; i++)
      r->eigenvectors[i * p + j] = gsl_matrix_get(evec, i, j);
  double cum = 0;
  for (size_t j = 0; j < p; j++) {
    if (needs_flip(r->eigenvectors, p, j))
      for (size_t i = 0; i < p; i++)
        r->eigenvectors[i * p + j] = -r->eigenvectors[i * p + j];
    /* A singular R can give eigenvalues of -1e-17: their loadings are 0. */
    double root = sqrt(fmax(r->eigenvalues[j], 0.0));
    for (size_t i = 0; i < p; i++)
      r->loadings[i * p + j] = r->eigenvectors[i * p + j] * root;
    r->proportion[j] = r->eigenvalues[j] / total;
    cum += r->proportion[j];
    r->cumulative[j] = cum;
  }
  st = CORE_OK;
cleanup:
  gsl_eigen_symmv_free(ws);
  gsl_vector_free(eval);
  gsl_matrix_free(evec);
  gsl_matrix_free(a);
  return st;
}

/* Builds the composite index from the scores (method, then scale). */
static core_status build_index(core_pca_result *r, core_index_method method,
                               core_index_scale scale) {
  size_t p = r->p;
  r->n_kept = 1;
  if (method == CORE_INDEX_KAISER) {
    r->n_kept = 0;
    while (r->n_kept < p && r->eigenvalues[r->n_kept] > 1.0 + KAISER_TOL)
      r->n_kept++;
    if (r->n_kept == 0) {
      r->n_kept = 1;
      core_status st = core_warn(
          &r->warnings,
          "No eigenvalue exceeds 1 (the largest is %.6g), so Kaiser's "
          "criterion keeps no component; the index is the first component's "
          "score alone.",
          r->eigenvalues[0]);
      if (st != CORE_OK) return st;
    }
  }
  double kept = 0;
  for (size_t j = 0; j < r->n_kept; j++)
    kept += r->eigenvalues[j];
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < r->n_rows; i++) {
    if (!r->used[i]) continue;
    double s;
    if (r->n_kept == 1) {
      s = r->scores[i * p];
    } else {
      s = 0;
      for (size_t j = 0; j < r->n_kept; j++)
        s += r->eigenvalues[j] / kept * r->scores[i * p + j];
    }
    r->index[i] = s;
    lo = fmin(lo, s);
    hi = fmax(hi, s);
  }
  if (scale == CORE_SCALE_NONE) return CORE_OK;
  /* The index has variance > 0 for any valid input (PC1's is lambda_1 >= 1),
   * so this guards rounding only; a constant cannot be min-max scaled. */
  if (!(hi > lo))
    return core_warn(&r->warnings,
                     "The composite index takes the same value on every row, "
                     "so it cannot be rescaled to [0, %s]; it is reported "
                     "unscaled.",
                     scale == CORE_SCALE_UNIT ? "1" : "100");
  double top = scale == CORE_SCALE_UNIT ? 1.0 : 100.0;
  for (size_t i = 0; i < r->n_rows; i++)
    if (r->used[i]) r->index[i] = top * ((r->index[i] - lo) / (hi - lo));
  return CORE_OK;
}

/* KMO and Bartlett's sphericity test from R = LL' (Cholesky): ln|R| =
 * 2 sum ln L_kk and P = R^-1. NaN with a warning when R is singular. */
static core_status adequacy(core_pca_result *r, core_err *err) {
  size_t p = r->p, n = r->n;
  double lmax = r->eigenvalues[0], lmin = r->eigenvalues[p - 1];
  if (n <= p)
    return core_warn(&r->warnings,
                     "Only %zu complete rows for %zu variables: the "
                     "correlation matrix is singular, so the KMO measure and "
                     "Bartlett's test are undefined and reported as missing.",
                     n, p);
  if (!(lmin > SINGULAR_RCOND * lmax))
    return core_warn(&r->warnings,
                     "The correlation matrix is singular (some variable is, "
                     "to rounding, a linear combination of the others), so "
                     "the KMO measure and Bartlett's test are undefined and "
                     "reported as missing.");
  gsl_matrix *c = gsl_matrix_alloc(p, p);
  if (c == NULL)
    return core_err_set(err, CORE_ENOMEM, "Out of memory for R^-1.");
  memcpy(c->data, r->corr, p * p * sizeof *r->corr);
  if (gsl_linalg_cholesky_decomp1(c) != GSL_SUCCESS) {
    gsl_matrix_free(c);
    return core_warn(&r->warnings,
                     "The correlation matrix is not numerically positive "
                     "definite, so the KMO measure and Bartlett's test are "
                     "reported as missing.");
  }
  double logdet = 0;
  for (size_t k = 0; k < p; k++)
    logdet += 2.0 * log(gsl_matrix_get(c, k, k));
  if (gsl_linalg_cholesky_invert(c) != GSL_SUCCESS) {
    gsl_matrix_free(c);
    return core_err_set(err, CORE_EINTERNAL, "Inverting R failed.");
  }
  double r2_all = 0, a2_all = 0;
  for (size_t i = 0; i < p; i++) {
    double r2 = 0, a2 = 0;
    for (size_t j = 0; j < p; j++) {
      if (i == j) continue;
      double rij = r->corr[i * p + j];
      double aij = -gsl_matrix_get(c, i, j) /
                   sqrt(gsl_matrix_get(c, i, i) * gsl_matrix_get(c, j, j));
      r2 += rij * rij;
      a2 += aij * aij;
    }
    r->kmo_per_variable[i] = r2 / (r2 + a2);
    r2_all += r2;
    a2_all += a2;
  }
  gsl_matrix_free(c);
  r->kmo_overall = r2_all / (r2_all + a2_all);
  double dp = (double)p;
  r->bartlett_statistic = -((double)n - 1.0 - (2.0 * dp + 5.0) / 6.0) * logdet;
  r->bartlett_df = dp * (dp - 1.0) / 2.0;
  /* ln|R| <= 0 for a correlation matrix; a rounding-positive one is 0. */
  r->bartlett_p_value =
      core_chisq_pvalue(fmax(r->bartlett_statistic, 0.0), r->bartlett_df);
  core_status st = CORE_OK;
  if (isnan(r->kmo_overall))
    st = core_warn(&r->warnings,
                   "The variables are uncorrelated (all correlations and "
                   "partial correlations are 0), so the KMO measure is "
                   "undefined and reported as missing.");
  else if (r->kmo_overall < KMO_UNACCEPTABLE)
    st = core_warn(&r->warnings,
                   "The KMO measure of sampling adequacy is %.3f, below 0.5 "
                   "(\"unacceptable\" on Kaiser's scale): the variables share "
                   "too little variance for a trustworthy composite index.",
                   r->kmo_overall);
  char list[256] = "";
  size_t used = 0, count = 0;
  for (size_t i = 0; i < p && st == CORE_OK; i++) {
    if (!(r->kmo_per_variable[i] < KMO_UNACCEPTABLE)) continue;
    count++;
    if (used < sizeof list) {
      int w = snprintf(list + used, sizeof list - used, "%s%zu (%.3f)",
                       count > 1 ? ", " : "", i + 1, r->kmo_per_variable[i]);
      used += w > 0 ? (size_t)w : 0;
    }
  }
  if (count > 0 && st == CORE_OK)
    st =
        core_warn(&r->warnings,
                  "The per-variable KMO is below 0.5 for %zu variable%s "
                  "(position counted from 1 in the order given, value): "
                  "%s%s; consider leaving %s out.",
                  count, count == 1 ? "" : "s", list,
                  used >= sizeof list ? "..." : "", count == 1 ? "it" : "them");
  if (st != CORE_OK) core_err_set(err, st, "Out of memory for a warning.");
  return st;
}

core_status core_pca(const double *const *cols, size_t n_rows, size_t p,
                     core_index_method method, core_index_scale scale,
                     core_pca_result **out, core_err *err) {
  core_err_clear(err);
  if (out == NULL)
    return core_err_set(err, CORE_EINVAL, "No place for the PCA result.");
  *out = NULL;
  if (cols == NULL)
    return core_err_set(err, CORE_EINVAL, "No data for the PCA.");
  if (p < 2)
    return core_err_set(err, CORE_EINVAL,
                        "A principal component analysis needs at least 2 "
                        "variables (got %zu).",
                        p);
  /* Sizes whose products would overflow cannot be allocated anyway. */
  if (p > SIZE_MAX / sizeof(double) / p ||
      (n_rows > 0 && p > SIZE_MAX / sizeof(double) / n_rows))
    return core_err_set(err, CORE_ENOMEM, "The PCA input is too large.");
  core_pca_result *r = result_alloc(n_rows, p);
  double *z = NULL;
  core_status st = CORE_ENOMEM;
  if (r == NULL) {
    core_err_set(err, st, "Out of memory for the PCA result.");
    goto cleanup;
  }
  st = check_input(cols, n_rows, p, method, scale, r->used, &r->n, err);
  if (st != CORE_OK) goto cleanup;
  size_t n = r->n;
  /* check_input answers CORE_OK only with n >= 3 (and p >= 2 was checked
   * above); the analyzer does not see that core_err_set (variadic, in
   * another file) returns its non-OK code on every other path. */
  // NOLINTNEXTLINE(clang-analyzer-optin.portability.UnixAPI)
  z = malloc(n * p * sizeof *z);
  if (z == NULL) {
    st = core_err_set(err, CORE_ENOMEM, "Out of memory for the PCA.");
    goto cleanup;
  }
  for (size_t j = 0; j < p; j++) {
    st = standardise(cols[j], n_rows, r->used, n, p, j, z, &r->mean[j],
                     &r->sd[j], err);
    if (st != CORE_OK) goto cleanup;
  }
  for (size_t a = 0; a < p; a++) {
    r->corr[a * p + a] = 1.0;
    for (size_t b = a + 1; b < p; b++) {
      double s = 0;
      for (size_t k = 0; k < n; k++)
        /* standardise wrote column j of z whenever it answered CORE_OK (its
         * error path returns core_err_set's code, which the analyzer does
         * not see). */
        // NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult)
        s += z[k * p + a] * z[k * p + b];
      r->corr[a * p + b] = r->corr[b * p + a] = s / (double)(n - 1);
    }
  }
  st = eigen(r, err);
  if (st != CORE_OK) goto cleanup;
  for (size_t i = 0, k = 0; i < n_rows; i++) {
    if (!r->used[i]) continue;
    for (size_t j = 0; j < p; j++) {
      double s = 0;
      for (size_t v = 0; v < p; v++)
        s += z[k * p + v] * r->eigenvectors[v * p + j];
      r->scores[i * p + j] = s;
    }
    k++;
  }
  st = build_index(r, method, scale);
  if (st != CORE_OK) {
    core_err_set(err, st, "Out of memory for a warning.");
    goto cleanup;
  }
  st = adequacy(r, err);
  if (st != CORE_OK) goto cleanup;
  *out = r;
  r = NULL;
cleanup:
  free(z);
  core_pca_result_free(r);
  return st;
}
