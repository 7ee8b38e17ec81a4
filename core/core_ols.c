/* Ordinary least squares by Householder QR with R's limited column pivoting
 * (LINPACK dqrdc2), and its classical, HC0-HC3 and CR1 variances, tests and
 * fit statistics exactly as METHODS.md section 2 (see core_ols.h). */
#include "core_ols.h"

#include "core_mem.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_sf_gamma.h>

/* dqrdc2 re-computes a downdated column norm from scratch once its square
 * has shrunk by this factor, so that the rank decision uses accurate norms. */
#define NORM_RECOMPUTE 1e-6

/* HC2/HC3 divide by 1 - h_ii; below this the observation is treated as having
 * leverage one (its residual is zero and its weight undefined). */
#define LEVERAGE_ONE_TOL 1e-10

/* ------------------------------------------------------------------------ */
/* Distribution helpers                                                     */
/* ------------------------------------------------------------------------ */

/* A GSL special-function result as a probability: an underflow is a p-value
 * of 0 (GSL reports it as an error), any other failure NaN. */
static double prob_of(int status, const gsl_sf_result *res) {
  if (status == GSL_EUNDRFLW) return 0.0;
  if (status != GSL_SUCCESS || !isfinite(res->val)) return NAN;
  return fmin(1.0, fmax(0.0, res->val));
}

double core_t_pvalue(double t, double df) {
  if (isnan(t) || isnan(df) || !(df > 0)) return NAN;
  double a = fabs(t);
  if (isinf(a)) return 0.0;
  if (isinf(df)) return fmin(1.0, 2.0 * gsl_cdf_ugaussian_Q(a));
  /* GSL's upper tail is accurate to ~1e-15 (against R's TOMS 708 pt) except
   * where its Cornish-Fisher branch (df > 30, t^2 < 10 df) meets a large
   * t^2 / df, where it drifts to 1e-7 relative; there the incomplete beta,
   * two-sided p = I_x(df/2, 1/2) with x = df / (df + t^2), is exact to
   * ~1e-14 (and the beta is the weak one for small t^2 / df). */
  if (df <= 30.0 || a * a < 0.1 * df)
    return fmin(1.0, 2.0 * gsl_cdf_tdist_Q(a, df));
  double x = df / (df + a * a);
  gsl_sf_result res;
  return prob_of(gsl_sf_beta_inc_e(0.5 * df, 0.5, x, &res), &res);
}

double core_f_pvalue(double f, double df1, double df2) {
  if (isnan(f) || isnan(df1) || isnan(df2)) return NAN;
  if (!(f >= 0) || !(df1 > 0) || !(df2 > 0) || isinf(df1)) return NAN;
  if (isinf(f)) return 0.0;
  if (isinf(df2)) return core_chisq_pvalue(f * df1, df1);
  /* Q = I_{df2/(df2 + df1 f)}(df2/2, df1/2), the upper tail directly. */
  double x = df2 / (df2 + df1 * f);
  gsl_sf_result res;
  return prob_of(gsl_sf_beta_inc_e(0.5 * df2, 0.5 * df1, x, &res), &res);
}

double core_chisq_pvalue(double x, double df) {
  if (isnan(x) || isnan(df) || !(x >= 0) || !(df > 0) || isinf(df)) return NAN;
  if (isinf(x)) return 0.0;
  /* Upper regularised gamma Q(df/2, x/2). */
  gsl_sf_result res;
  return prob_of(gsl_sf_gamma_inc_Q_e(0.5 * df, 0.5 * x, &res), &res);
}

double core_t_quantile(double prob, double df) {
  if (isnan(prob) || isnan(df) || !(prob > 0) || !(prob < 1) || !(df > 0))
    return NAN;
  double q =
      isinf(df) ? gsl_cdf_ugaussian_Pinv(prob) : gsl_cdf_tdist_Pinv(prob, df);
  return isfinite(q) ? q : NAN;
}

/* ------------------------------------------------------------------------ */
/* QR with limited pivoting                                                 */
/* ------------------------------------------------------------------------ */

/* The factorisation state. Columns live in one column-major block; col[l] is
 * the column at pivot position l, so moving a column costs a pointer swap. */
typedef struct qr_state {
  size_t n, p, k; /* rows, columns, rank (positions < k are kept) */
  double **col;   /* p pointers into the block; col[l][0..n-1] */
  size_t *perm;   /* perm[l] = index in X of the column at position l */
  double *vl;     /* leading element of the l-th Householder vector */
  double *rdiag;  /* R_ll */
  double *nrm;    /* downdated norms of the reduced columns (LINPACK qraux) */
  double *orig;   /* original column norms (1 for a zero column) */
} qr_state;

/* The per-column arrays of q (p of each); false when memory runs out (what
 * was allocated is then freed by qr_state_free). */
static bool qr_state_alloc(qr_state *q, size_t p) {
  size_t pp = p ? p : 1;
  q->col = malloc(pp * sizeof *q->col);
  q->perm = malloc(pp * sizeof *q->perm);
  q->vl = malloc(pp * sizeof *q->vl);
  q->rdiag = malloc(pp * sizeof *q->rdiag);
  q->nrm = malloc(pp * sizeof *q->nrm);
  q->orig = malloc(pp * sizeof *q->orig);
  return q->col && q->perm && q->vl && q->rdiag && q->nrm && q->orig;
}

static void qr_state_free(qr_state *q) {
  free(q->col);
  free(q->perm);
  free(q->vl);
  free(q->rdiag);
  free(q->nrm);
  free(q->orig);
}

/* Moves the column at position l to the end (dqrdc2's cycling). */
static void move_to_end(qr_state *q, size_t l) {
  double *c = q->col[l];
  size_t pm = q->perm[l];
  double nr = q->nrm[l], og = q->orig[l];
  for (size_t j = l + 1; j < q->p; j++) {
    q->col[j - 1] = q->col[j];
    q->perm[j - 1] = q->perm[j];
    q->nrm[j - 1] = q->nrm[j];
    q->orig[j - 1] = q->orig[j];
  }
  q->col[q->p - 1] = c;
  q->perm[q->p - 1] = pm;
  q->nrm[q->p - 1] = nr;
  q->orig[q->p - 1] = og;
}

/* Householder QR as R's dqrdc2: columns are processed left to right, and one
 * whose reduced norm has fallen below tol times its original norm is moved to
 * the end and left out, so that of collinear columns the later ones go. The
 * reflector of position l is H = I - v v' / v[0] with v stored in
 * col[l][l..n-1] (v[0] = vl[l]); R's strict upper triangle is in the rows
 * above the diagonal of the kept columns and its diagonal in rdiag. */
static void qr_factor(qr_state *q, double tol, bool have_norms) {
  size_t n = q->n, p = q->p;
  for (size_t j = 0; j < p; j++) {
    if (!have_norms) q->nrm[j] = cblas_dnrm2((int)n, q->col[j], 1);
    q->orig[j] = q->nrm[j] == 0.0 ? 1.0 : q->nrm[j];
  }
  size_t lup = n < p ? n : p;
  size_t k = p; /* positions >= k hold dropped columns */
  size_t l = 0;
  while (l < k && l < lup) {
    if (q->nrm[l] < q->orig[l] * tol) {
      move_to_end(q, l);
      k--;
      continue;
    }
    if (l == n - 1) {
      /* The last row needs no reflector (only reachable when rank = n). */
      q->vl[l] = 0.0;
      q->rdiag[l] = q->col[l][l];
      l++;
      continue;
    }
    int m = (int)(n - l);
    double *v = q->col[l] + l;
    double nrmxl = cblas_dnrm2(m, v, 1);
    if (!(nrmxl > 0.0) || !isfinite(nrmxl)) {
      /* The downdated estimate said non-negligible but the column is exactly
       * zero: treat it as dropped rather than divide by zero. */
      move_to_end(q, l);
      k--;
      continue;
    }
    if (v[0] != 0.0) nrmxl = copysign(nrmxl, v[0]);
    cblas_dscal(m, 1.0 / nrmxl, v, 1);
    v[0] += 1.0;
    for (size_t j = l + 1; j < k; j++) {
      double *x = q->col[j] + l;
      double t = -cblas_ddot(m, v, 1, x, 1) / v[0];
      cblas_daxpy(m, t, v, 1, x, 1);
      if (q->nrm[j] != 0.0) {
        double r = fabs(x[0]) / q->nrm[j];
        double tt = fmax(1.0 - r * r, 0.0);
        if (tt >= NORM_RECOMPUTE)
          q->nrm[j] *= sqrt(tt);
        else
          q->nrm[j] = cblas_dnrm2(m - 1, x + 1, 1);
      }
    }
    q->vl[l] = v[0];
    q->rdiag[l] = -nrmxl;
    l++;
  }
  q->k = l;
}

/* Applies reflector l to z[l..n-1] (z has n entries). */
static void apply_reflector(const qr_state *q, size_t l, double *z) {
  if (q->vl[l] == 0.0) return;
  int m = (int)(q->n - l);
  const double *v = q->col[l] + l;
  double t = -cblas_ddot(m, v, 1, z + l, 1) / v[0];
  cblas_daxpy(m, t, v, 1, z + l, 1);
}

/* Overwrites the first k columns with the thin Q (n x k), Q R = X_kept,
 * accumulating the reflectors backwards as LAPACK's dorg2r. R must have been
 * copied out before (its upper triangle lives in these columns). */
static void form_thin_q(qr_state *q) {
  size_t n = q->n, k = q->k;
  for (size_t l = k; l-- > 0;) {
    const double *v = q->col[l] + l;
    for (size_t j = l + 1; j < k; j++)
      apply_reflector(q, l, q->col[j]);
    double *c = q->col[l];
    memset(c, 0, l * sizeof *c);
    if (q->vl[l] == 0.0) {
      memset(c + l, 0, (n - l) * sizeof *c);
      c[l] = 1.0;
      continue;
    }
    /* H e_l = e_l - v v[0] / v[0] = e_l - v. */
    c[l] = 1.0 - v[0];
    for (size_t i = l + 1; i < n; i++)
      c[i] = -c[i];
  }
}

/* ------------------------------------------------------------------------ */
/* Small dense helpers (k x k, row-major)                                   */
/* ------------------------------------------------------------------------ */

/* Inverse of the upper triangular R (diagonal non-zero) into Ri. */
static void upper_inverse(size_t k, const double *R, double *Ri) {
  memset(Ri, 0, k * k * sizeof *Ri);
  for (size_t c = 0; c < k; c++) {
    Ri[c * k + c] = 1.0 / R[c * k + c];
    for (size_t i = c; i-- > 0;) {
      double s = 0.0;
      for (size_t j = i + 1; j <= c; j++)
        s += R[i * k + j] * Ri[j * k + c];
      Ri[i * k + c] = -s / R[i * k + i];
    }
  }
}

/* V = scale * Ri M Ri' where M is symmetric (k x k); tmp has k*k doubles. */
static void sandwich(size_t k, const double *Ri, const double *M, double scale,
                     double *tmp, double *V) {
  for (size_t i = 0; i < k; i++)
    for (size_t j = 0; j < k; j++) {
      double s = 0.0;
      for (size_t a = i; a < k; a++)
        s += Ri[i * k + a] * M[a * k + j];
      tmp[i * k + j] = s;
    }
  for (size_t i = 0; i < k; i++)
    for (size_t j = i; j < k; j++) {
      double s = 0.0;
      for (size_t a = j; a < k; a++)
        s += tmp[i * k + a] * Ri[j * k + a];
      V[i * k + j] = V[j * k + i] = scale * s;
    }
}

/* Quadratic form b' A^-1 b for a symmetric positive definite A (m x m) via
 * Cholesky in L (m*m scratch) and z (m scratch). NaN when A is not positive
 * definite. */
static double quad_form_inv(size_t m, const double *A, const double *b,
                            double *L, double *z) {
  memcpy(L, A, m * m * sizeof *L);
  if (!core_cholesky(L, m, 0.0)) return NAN;
  double w = 0.0;
  for (size_t i = 0; i < m; i++) {
    double s = b[i];
    for (size_t a = 0; a < i; a++)
      s -= L[i * m + a] * z[a];
    z[i] = s / L[i * m + i];
    w += z[i] * z[i];
  }
  return w;
}

/* ------------------------------------------------------------------------ */
/* Result                                                                   */
/* ------------------------------------------------------------------------ */

void core_ols_result_free(core_ols_result *r) {
  if (r == NULL) return;
  free(r->dropped);
  free(r->beta);
  free(r->se);
  free(r->t);
  free(r->p_value);
  free(r->ci_low);
  free(r->ci_high);
  free(r->V);
  free(r->fitted);
  free(r->resid);
  free(r->leverage);
  free(r);
}

static core_ols_result *result_alloc(size_t n, size_t p, bool fitted,
                                     bool leverage, bool resid) {
  core_ols_result *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->dropped = calloc(p, sizeof *r->dropped);
  r->beta = malloc(p * sizeof *r->beta);
  r->se = malloc(p * sizeof *r->se);
  r->t = malloc(p * sizeof *r->t);
  r->p_value = malloc(p * sizeof *r->p_value);
  r->ci_low = malloc(p * sizeof *r->ci_low);
  r->ci_high = malloc(p * sizeof *r->ci_high);
  r->V = malloc(p * p * sizeof *r->V);
  r->fitted = fitted ? core_alloc(n, sizeof *r->fitted) : NULL;
  r->resid = resid ? core_alloc(n, sizeof *r->resid) : NULL;
  r->leverage = leverage ? core_alloc(n, sizeof *r->leverage) : NULL;
  if (!r->dropped || !r->beta || !r->se || !r->t || !r->p_value || !r->ci_low ||
      !r->ci_high || !r->V || (fitted && !r->fitted) || (resid && !r->resid) ||
      (leverage && !r->leverage)) {
    core_ols_result_free(r);
    return NULL;
  }
  return r;
}

/* ------------------------------------------------------------------------ */
/* Validation                                                               */
/* ------------------------------------------------------------------------ */

/* The checks that do not depend on the layout of X: sizes, level, y finite,
 * the variance spec. */
static core_status check_common(size_t n, size_t p, const double *y,
                                size_t ystride, const core_vcov_spec *vc,
                                double level, core_err *err) {
  if (p == 0) return core_err_set(err, CORE_EINVAL, "X has no columns");
  if (n == 0)
    return core_err_set(err, CORE_ETOOFEW,
                        "no observations (n = 0) for %zu columns", p);
  /* The level-1 BLAS take int lengths. */
  if (n > INT_MAX || p > INT_MAX || p > SIZE_MAX / sizeof(double) / p ||
      n > SIZE_MAX / sizeof(double) / p)
    return core_err_set(err, CORE_EINVAL, "X is too large (%zu x %zu)", n, p);
  if (!(level > 0.0 && level < 1.0))
    return core_err_set(err, CORE_EINVAL,
                        "confidence level %g is not strictly between 0 and 1",
                        level);
  for (size_t i = 0; i < n; i++) {
    double v = y[i * ystride];
    if (!isfinite(v)) {
      core_err_set(err, CORE_EINVAL, "y is not finite in row %zu", i);
      core_err_add_row(err, i);
      return CORE_EINVAL;
    }
  }
  if (vc->kind < CORE_VCOV_CLASSICAL || vc->kind > CORE_VCOV_CLUSTER)
    return core_err_set(err, CORE_EINVAL, "unknown variance kind %d",
                        (int)vc->kind);
  if (vc->kind == CORE_VCOV_CLUSTER) {
    if (vc->cluster == NULL)
      return core_err_set(err, CORE_EINVAL,
                          "cluster variance requested without cluster ids");
    if (vc->n_clusters < 2)
      return core_err_set(err, CORE_EINVAL,
                          "cluster variance needs at least 2 clusters, got %zu",
                          vc->n_clusters);
    if (vc->n_clusters > n)
      return core_err_set(err, CORE_EINVAL,
                          "%zu clusters declared for only %zu observations",
                          vc->n_clusters, n);
    for (size_t i = 0; i < n; i++)
      if (vc->cluster[i] >= vc->n_clusters) {
        core_err_set(err, CORE_EINVAL,
                     "cluster id %zu in row %zu is not below n_clusters = %zu",
                     vc->cluster[i], i, vc->n_clusters);
        core_err_add_row(err, i);
        return CORE_EINVAL;
      }
  }
  return CORE_OK;
}

static core_status check_inputs(const gsl_matrix *X, const gsl_vector *y,
                                bool has_intercept, const core_vcov_spec *vc,
                                double level, core_err *err) {
  size_t n = X->size1, p = X->size2;
  if (y->size != n)
    return core_err_set(err, CORE_EINVAL,
                        "y has %zu entries but X has %zu rows", y->size, n);
  core_status st = check_common(n, p, y->data, y->stride, vc, level, err);
  if (st != CORE_OK) return st;
  /* Centred R^2 and the F test assume the constant is in the model. */
  return core_check_design(X, has_intercept, err);
}

static core_status check_inputs_cols(const double *const *cols, const double *y,
                                     size_t n, size_t p, bool has_intercept,
                                     const core_vcov_spec *vc, double level,
                                     core_err *err) {
  core_status st = check_common(n, p, y, 1, vc, level, err);
  if (st != CORE_OK) return st;
  bool have_const = false;
  for (size_t j = 0; j < p; j++) {
    const double *c = cols[j];
    size_t i = 0;
    while (i < n && isfinite(c[i]))
      i++;
    if (i < n) {
      core_err_set(err, CORE_EINVAL, "X[%zu, %zu] is not finite", i, j);
      core_err_add_row(err, i);
      return CORE_EINVAL;
    }
    if (has_intercept && !have_const && c[0] != 0.0) {
      i = 1;
      while (i < n && c[i] == c[0])
        i++;
      have_const = i == n;
    }
  }
  if (has_intercept && !have_const)
    return core_err_set(err, CORE_EINVAL,
                        "has_intercept is set but no column of X is a "
                        "non-zero constant");
  return CORE_OK;
}

/* ------------------------------------------------------------------------ */
/* The fit                                                                  */
/* ------------------------------------------------------------------------ */

/* The fit on column-major X: col[j] holds the n values of column j, and is
 * overwritten (the caller frees it); inputs already checked. */
static core_status fit_block(double *const *cols, size_t n, size_t p,
                             const double *yv, size_t ys, bool has_intercept,
                             const core_vcov_spec *vc, double level,
                             unsigned flags, core_ols_result **out,
                             core_err *err) {
  core_status st = CORE_OK;
  core_ols_result *r = NULL;
  double *qty = NULL, *R = NULL, *Ri = NULL, *M = NULL;
  double *Vk = NULL, *tmp = NULL, *wbuf = NULL, *U = NULL, *bp = NULL;
  size_t *cl_count = NULL;
  qr_state q = {.n = n, .p = p};
  bool *is_const = NULL;
  bool hc = vc->kind >= CORE_VCOV_HC0 && vc->kind <= CORE_VCOV_HC3;
  bool want_lev = !(flags & CORE_OLS_NO_LEVERAGE) ||
                  vc->kind == CORE_VCOV_HC2 || vc->kind == CORE_VCOV_HC3;
  bool want_q = want_lev || hc || vc->kind == CORE_VCOV_CLUSTER;

  bool q_ok = qr_state_alloc(&q, p);
  qty = core_alloc(n, sizeof *qty);
  is_const = calloc(p, sizeof *is_const);
  /* The residuals: for the fitted values and the robust variances, or
   * when asked for; the classical variance needs only their sum of
   * squares, the squared tail of Q'y. */
  bool want_resid = !(flags & CORE_OLS_NO_RESID) ||
                    !(flags & CORE_OLS_NO_FITTED) ||
                    vc->kind != CORE_VCOV_CLASSICAL;
  r = result_alloc(n, p, !(flags & CORE_OLS_NO_FITTED), want_lev, want_resid);
  if (!q_ok || !qty || !is_const || !r) {
    st = core_err_set(err, CORE_ENOMEM, "out of memory for OLS (%zu x %zu)", n,
                      p);
    goto cleanup;
  }

  /* Column-major copy with contiguous columns, for the level-1 BLAS. */
  for (size_t j = 0; j < p; j++) {
    q.col[j] = cols[j];
    q.perm[j] = j;
  }
  for (size_t j = 0; j < p; j++) {
    const double *c = cols[j];
    size_t i = 1;
    while (i < n && c[i] == c[0])
      i++;
    is_const[j] = c[0] != 0.0 && i == n;
  }
  for (size_t i = 0; i < n; i++)
    qty[i] = yv[i * ys];
  /* Sums of squares must not overflow (the norms themselves are scaled). */
  double ynorm = cblas_dnrm2((int)n, qty, 1);
  if (!isfinite(ynorm * ynorm)) {
    st = core_err_set(err, CORE_EINVAL,
                      "y is too large in magnitude to be squared");
    goto cleanup;
  }
  for (size_t j = 0; j < p; j++) {
    double cn = cblas_dnrm2((int)n, q.col[j], 1);
    if (!isfinite(cn * cn)) {
      st = core_err_set(err, CORE_EINVAL,
                        "column %zu of X is too large in magnitude to be "
                        "squared",
                        j);
      goto cleanup;
    }
    q.nrm[j] = cn; /* the QR starts from these norms */
  }

  qr_factor(&q, CORE_OLS_RANK_TOL, true);
  size_t k = q.k;
  if (k == 0) {
    st = core_err_set(err, CORE_ESINGULAR,
                      "the design has rank 0 (every column is zero)");
    goto cleanup;
  }
  if (n <= k) {
    st = core_err_set(err, CORE_ETOOFEW,
                      "too few observations: n = %zu for k = %zu estimated "
                      "coefficients (need n > k)",
                      n, k);
    goto cleanup;
  }

  /* Effects Q'y, coefficients by back substitution, residuals Q [0; Q2'y]. */
  for (size_t l = 0; l < k; l++)
    apply_reflector(&q, l, qty);
  R = calloc(k * k, sizeof *R);
  Ri = malloc(k * k * sizeof *Ri);
  M = calloc(k * k, sizeof *M);
  Vk = malloc(k * k * sizeof *Vk);
  tmp = malloc(k * k * sizeof *tmp);
  wbuf = hc ? core_alloc(n, sizeof *wbuf) : NULL;
  bp = malloc(k * sizeof *bp);
  if (!R || !Ri || !M || !Vk || !tmp || (hc && !wbuf) || !bp) {
    st = core_err_set(err, CORE_ENOMEM, "out of memory for OLS");
    goto cleanup;
  }
  for (size_t a = 0; a < k; a++) {
    R[a * k + a] = q.rdiag[a];
    for (size_t b = a + 1; b < k; b++)
      R[a * k + b] = q.col[b][a];
  }
  double *beta_piv = bp;
  for (size_t a = k; a-- > 0;) {
    double s = qty[a];
    for (size_t b = a + 1; b < k; b++)
      s -= R[a * k + b] * beta_piv[b];
    beta_piv[a] = s / R[a * k + a];
  }
  double *resid = r->resid;
  if (resid != NULL) {
    memset(resid, 0, k * sizeof *resid);
    memcpy(resid + k, qty + k, (n - k) * sizeof *resid);
    for (size_t l = k; l-- > 0;)
      apply_reflector(&q, l, resid);
  }
  if (r->fitted)
    for (size_t i = 0; i < n; i++)
      r->fitted[i] = yv[i * ys] - resid[i];

  for (size_t j = 0; j < p; j++) {
    r->beta[j] = r->se[j] = r->t[j] = r->p_value[j] = NAN;
    r->ci_low[j] = r->ci_high[j] = NAN;
    r->dropped[j] = true;
  }
  for (size_t j = 0; j < p * p; j++)
    r->V[j] = NAN;
  for (size_t a = 0; a < k; a++) {
    r->dropped[q.perm[a]] = false;
    r->beta[q.perm[a]] = beta_piv[a];
  }

  /* Thin Q and leverages h_ii = ||q_i||^2. */
  if (want_q) form_thin_q(&q);
  if (want_lev) {
    memset(r->leverage, 0, n * sizeof *r->leverage);
    for (size_t a = 0; a < k; a++) {
      const double *c = q.col[a];
      for (size_t i = 0; i < n; i++)
        r->leverage[i] += c[i] * c[i];
    }
  }

  /* Sums of squares. */
  double ssr = resid != NULL ? cblas_ddot((int)n, resid, 1, resid, 1)
                             : cblas_ddot((int)(n - k), qty + k, 1, qty + k, 1);
  double sst = 0.0;
  if (has_intercept) {
    double mean = 0.0;
    for (size_t i = 0; i < n; i++)
      mean += yv[i * ys];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) {
      double d = yv[i * ys] - mean;
      sst += d * d;
    }
  } else {
    sst = ynorm * ynorm;
  }
  double dn = (double)n, dk = (double)k, dfr = dn - dk;
  r->n = n;
  r->p = p;
  r->k = k;
  r->has_intercept = has_intercept;
  r->vcov = vc->kind;
  r->n_clusters = 0;
  r->df_resid = dfr;
  r->df_inf = dfr;
  r->ssr = ssr;
  r->sst = sst;
  r->sigma2 = ssr / dfr;
  r->rmse = sqrt(r->sigma2);
  r->r2 = sst > 0.0 ? 1.0 - ssr / sst : NAN;
  r->adj_r2 = has_intercept ? 1.0 - (1.0 - r->r2) * (dn - 1.0) / dfr
                            : 1.0 - (1.0 - r->r2) * dn / dfr;
  r->loglik = -0.5 * dn * (log(2.0 * M_PI) + log(ssr / dn) + 1.0);
  r->aic = -2.0 * r->loglik + 2.0 * (dk + 1.0);
  r->bic = -2.0 * r->loglik + log(dn) * (dk + 1.0);

  /* Meat M (k x k) in the pivoted basis, so that V = scale Ri M Ri'. */
  double scale = 1.0;
  upper_inverse(k, R, Ri);
  switch (vc->kind) {
  case CORE_VCOV_CLASSICAL:
    for (size_t a = 0; a < k; a++)
      M[a * k + a] = 1.0;
    scale = r->sigma2;
    break;
  case CORE_VCOV_HC0:
  case CORE_VCOV_HC1:
  case CORE_VCOV_HC2:
  case CORE_VCOV_HC3: {
    size_t n_bad = 0;
    for (size_t i = 0; i < n; i++) {
      double w = resid[i] * resid[i];
      if (vc->kind == CORE_VCOV_HC2 || vc->kind == CORE_VCOV_HC3) {
        double om = 1.0 - r->leverage[i];
        if (om < LEVERAGE_ONE_TOL) {
          if (n_bad++ == 0)
            core_err_set(err, CORE_ESINGULAR,
                         "HC2/HC3 are undefined: row %zu has leverage 1 "
                         "(a coefficient is determined by it alone)",
                         i);
          core_err_add_row(err, i);
          continue;
        }
        w /= vc->kind == CORE_VCOV_HC2 ? om : om * om;
      }
      wbuf[i] = w;
    }
    if (n_bad > 0) {
      st = CORE_ESINGULAR;
      goto cleanup;
    }
    double *qa = core_alloc(n, sizeof *qa);
    if (qa == NULL) {
      st = core_err_set(err, CORE_ENOMEM, "out of memory for OLS");
      goto cleanup;
    }
    for (size_t a = 0; a < k; a++) {
      const double *c = q.col[a];
      for (size_t i = 0; i < n; i++)
        qa[i] = wbuf[i] * c[i];
      for (size_t b = a; b < k; b++)
        M[a * k + b] = M[b * k + a] = cblas_ddot((int)n, qa, 1, q.col[b], 1);
    }
    free(qa);
    if (vc->kind == CORE_VCOV_HC1) scale = dn / dfr;
    break;
  }
  case CORE_VCOV_CLUSTER: {
    size_t G = vc->n_clusters, g_eff = 0;
    cl_count = calloc(G, sizeof *cl_count);
    U = calloc(G * k, sizeof *U);
    if (!cl_count || !U) {
      st = core_err_set(err, CORE_ENOMEM, "out of memory for clusters");
      goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
      if (cl_count[vc->cluster[i]]++ == 0) g_eff++;
    if (g_eff < 2) {
      st = core_err_set(err, CORE_EINVAL,
                        "cluster variance needs at least 2 non-empty "
                        "clusters, got %zu",
                        g_eff);
      goto cleanup;
    }
    /* Scores u_g = sum_{i in g} e_i q_i (in the Q basis), then M = U'U. */
    for (size_t a = 0; a < k; a++) {
      const double *c = q.col[a];
      for (size_t i = 0; i < n; i++)
        U[vc->cluster[i] * k + a] += resid[i] * c[i];
    }
    for (size_t g = 0; g < G; g++) {
      const double *u = U + g * k;
      for (size_t a = 0; a < k; a++)
        for (size_t b = a; b < k; b++)
          M[a * k + b] += u[a] * u[b];
    }
    for (size_t a = 0; a < k; a++)
      for (size_t b = 0; b < a; b++)
        M[a * k + b] = M[b * k + a];
    double dg = (double)g_eff;
    scale = dg / (dg - 1.0) * (dn - 1.0) / dfr;
    r->n_clusters = g_eff;
    r->df_inf = dg - 1.0;
    break;
  }
  }
  sandwich(k, Ri, M, scale, tmp, Vk);

  /* Back to the caller's column order; per-coefficient inference. */
  double tq = core_t_quantile(0.5 * (1.0 + level), r->df_inf);
  for (size_t a = 0; a < k; a++) {
    size_t ja = q.perm[a];
    for (size_t b = 0; b < k; b++)
      r->V[ja * p + q.perm[b]] = Vk[a * k + b];
    double se = sqrt(Vk[a * k + a]);
    r->se[ja] = se;
    r->t[ja] = bp[a] / se;
    r->p_value[ja] = core_t_pvalue(r->t[ja], r->df_inf);
    r->ci_low[ja] = bp[a] - tq * se;
    r->ci_high[ja] = bp[a] + tq * se;
  }

  /* F for all slopes = 0 (all coefficients without an intercept). */
  size_t icept = SIZE_MAX; /* pivot position of the kept constant column */
  if (has_intercept)
    for (size_t a = 0; a < k && icept == SIZE_MAX; a++)
      if (is_const[q.perm[a]]) icept = a;
  size_t nq = has_intercept ? k - 1 : k;
  r->f = r->f_df1 = r->f_df2 = r->f_p_value = NAN;
  if (nq > 0) {
    r->f_df1 = (double)nq;
    r->f_df2 = r->df_inf;
    if (vc->kind == CORE_VCOV_CLASSICAL) {
      r->f = ((sst - ssr) / (double)nq) / r->sigma2;
    } else if ((!has_intercept || icept != SIZE_MAX) &&
               (vc->kind != CORE_VCOV_CLUSTER || nq <= r->n_clusters - 1)) {
      /* A cluster V has rank at most G - 1: with more slopes than that the
       * Wald statistic does not exist (Stata reports it missing too). */
      /* Wald test with the chosen V on the slopes (pivot positions other
       * than the intercept's), re-using R/M as scratch. */
      double *Vs = R, *L = M, *bs = Ri, *z = tmp;
      size_t m = 0;
      for (size_t a = 0; a < k; a++) {
        if (a == icept) continue;
        size_t mb = 0;
        for (size_t b = 0; b < k; b++) {
          if (b == icept) continue;
          Vs[m * nq + mb++] = Vk[a * k + b];
        }
        bs[m++] = bp[a];
      }
      r->f = quad_form_inv(nq, Vs, bs, L, z) / (double)nq;
    }
    r->f_p_value = core_f_pvalue(r->f, r->f_df1, r->f_df2);
  }

  *out = r;
  r = NULL;
  st = CORE_OK;

cleanup:
  core_ols_result_free(r);
  qr_state_free(&q);
  free(qty);
  free(is_const);
  free(R);
  free(Ri);
  free(M);
  free(Vk);
  free(tmp);
  free(wbuf);
  free(bp);
  free(U);
  free(cl_count);
  return st;
}

core_status core_ols_fit(const gsl_matrix *X, const gsl_vector *y,
                         bool has_intercept, const core_vcov_spec *vcov,
                         double level, core_ols_result **out, core_err *err) {
  core_err_clear(err);
  if (out != NULL) *out = NULL;
  if (X == NULL || y == NULL || out == NULL)
    return core_err_set(err, CORE_EINVAL, "X, y and out must not be NULL");
  const core_vcov_spec classical = {CORE_VCOV_CLASSICAL, NULL, 0};
  const core_vcov_spec *vc = vcov != NULL ? vcov : &classical;
  core_status st = check_inputs(X, y, has_intercept, vc, level, err);
  if (st != CORE_OK) return st;
  size_t n = X->size1, p = X->size2;
  /* Column-major copy with contiguous columns, for the level-1 BLAS. */
  double *block = core_alloc(n * p, sizeof *block);
  if (block == NULL)
    return core_err_set(err, CORE_ENOMEM, "out of memory for OLS (%zu x %zu)",
                        n, p);
  double **cols = malloc(p * sizeof *cols);
  if (cols == NULL) {
    free(block);
    return core_err_set(err, CORE_ENOMEM, "out of memory for OLS");
  }
  for (size_t j = 0; j < p; j++)
    cols[j] = block + j * n;
  for (size_t i = 0; i < n; i++) {
    const double *row = X->data + i * X->tda;
    for (size_t j = 0; j < p; j++)
      block[j * n + i] = row[j];
  }
  st = fit_block(cols, n, p, y->data, y->stride, has_intercept, vc, level, 0,
                 out, err);
  free(cols);
  free(block);
  return st;
}

/* core_ols_fit_cols and core_ols_fit_scratch: scratch NULL means copy. */
static core_status fit_cols(const double *const *cols, double *const *scratch,
                            const double *y, size_t n, size_t p,
                            bool has_intercept, const core_vcov_spec *vcov,
                            double level, unsigned flags, core_ols_result **out,
                            core_err *err) {
  core_err_clear(err);
  if (out != NULL) *out = NULL;
  if (cols == NULL || y == NULL || out == NULL)
    return core_err_set(err, CORE_EINVAL, "cols, y and out must not be NULL");
  for (size_t j = 0; j < p; j++)
    if (cols[j] == NULL)
      return core_err_set(err, CORE_EINVAL, "column %zu is NULL", j);
  const core_vcov_spec classical = {CORE_VCOV_CLASSICAL, NULL, 0};
  const core_vcov_spec *vc = vcov != NULL ? vcov : &classical;
  core_status st =
      check_inputs_cols(cols, y, n, p, has_intercept, vc, level, err);
  if (st != CORE_OK) return st;
  if (scratch != NULL)
    return fit_block(scratch, n, p, y, 1, has_intercept, vc, level, flags, out,
                     err);
  double *block = core_alloc(n * p, sizeof *block);
  double **work = malloc(p * sizeof *work);
  if (block == NULL || work == NULL) {
    free(block);
    free(work);
    return core_err_set(err, CORE_ENOMEM, "out of memory for OLS (%zu x %zu)",
                        n, p);
  }
  for (size_t j = 0; j < p; j++) {
    work[j] = block + j * n;
    memcpy(work[j], cols[j], n * sizeof *block);
  }
  st = fit_block(work, n, p, y, 1, has_intercept, vc, level, flags, out, err);
  free(work);
  free(block);
  return st;
}

core_status core_ols_fit_cols(const double *const *cols, const double *y,
                              size_t n, size_t p, bool has_intercept,
                              const core_vcov_spec *vcov, double level,
                              unsigned flags, core_ols_result **out,
                              core_err *err) {
  return fit_cols(cols, NULL, y, n, p, has_intercept, vcov, level, flags, out,
                  err);
}

core_status core_ols_fit_scratch(double *const *cols, const double *y, size_t n,
                                 size_t p, bool has_intercept,
                                 const core_vcov_spec *vcov, double level,
                                 unsigned flags, core_ols_result **out,
                                 core_err *err) {
  return fit_cols((const double *const *)cols, cols, y, n, p, has_intercept,
                  vcov, level, flags, out, err);
}

core_status core_ols_rank_scratch(double *const *cols, size_t n, size_t p,
                                  bool *dropped, size_t *rank, core_err *err) {
  core_err_clear(err);
  if (cols == NULL || dropped == NULL || rank == NULL)
    return core_err_set(err, CORE_EINVAL, "NULL argument");
  *rank = 0;
  if (n > INT_MAX || p > INT_MAX)
    return core_err_set(err, CORE_EINVAL, "X is too large (%zu x %zu)", n, p);
  for (size_t j = 0; j < p; j++) {
    dropped[j] = true;
    for (size_t i = 0; i < n; i++)
      if (!isfinite(cols[j][i])) {
        core_err_set(err, CORE_EINVAL, "X[%zu, %zu] is not finite", i, j);
        core_err_add_row(err, i);
        return CORE_EINVAL;
      }
  }
  qr_state q = {.n = n, .p = p};
  core_status st = CORE_OK;
  if (!qr_state_alloc(&q, p)) {
    st = core_err_set(err, CORE_ENOMEM, "out of memory for the rank");
    goto cleanup;
  }
  for (size_t j = 0; j < p; j++) {
    q.col[j] = cols[j];
    q.perm[j] = j;
  }
  qr_factor(&q, CORE_OLS_RANK_TOL, false);
  for (size_t a = 0; a < q.k; a++)
    dropped[q.perm[a]] = false;
  *rank = q.k;
cleanup:
  qr_state_free(&q);
  return st;
}

bool core_cholesky(double *A, size_t k, double rel_tol) {
  for (size_t j = 0; j < k; j++) {
    double ajj = A[j * k + j], d = ajj;
    for (size_t a = 0; a < j; a++)
      d -= A[j * k + a] * A[j * k + a];
    if (!isfinite(d) || !(d > rel_tol * ajj) || !(d > 0.0)) return false;
    d = sqrt(d);
    A[j * k + j] = d;
    for (size_t i = j + 1; i < k; i++) {
      double s = A[i * k + j];
      for (size_t a = 0; a < j; a++)
        s -= A[i * k + a] * A[j * k + a];
      A[i * k + j] = s / d;
    }
  }
  return true;
}

core_status core_check_design(const gsl_matrix *X, bool has_intercept,
                              core_err *err) {
  size_t n = X->size1, p = X->size2;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < p; j++)
      if (!isfinite(X->data[i * X->tda + j])) {
        core_err_set(err, CORE_EINVAL, "X[%zu, %zu] is not finite", i, j);
        core_err_add_row(err, i);
        return CORE_EINVAL;
      }
  if (has_intercept && core_constant_column(X) == SIZE_MAX)
    return core_err_set(err, CORE_EINVAL,
                        "has_intercept is set but no column of X is a "
                        "non-zero constant");
  return CORE_OK;
}

size_t core_constant_column(const gsl_matrix *X) {
  size_t n = X->size1, p = X->size2;
  if (n == 0) return SIZE_MAX;
  for (size_t j = 0; j < p; j++) {
    double c = X->data[j];
    if (c == 0.0) continue;
    size_t i = 1;
    while (i < n && X->data[i * X->tda + j] == c)
      i++;
    if (i == n) return j;
  }
  return SIZE_MAX;
}
