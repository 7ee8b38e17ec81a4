/* Ordinary least squares by Householder QR with column pivoting, and its
 * variance estimators (classical, HC0-HC3, one-way cluster CR1), tests and
 * fit statistics exactly as METHODS.md section 2. */
#ifndef GRAVITAS_CORE_OLS_H
#define GRAVITAS_CORE_OLS_H

#include <stdbool.h>
#include <stddef.h>

#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "core_err.h"

typedef enum core_vcov_kind {
  CORE_VCOV_CLASSICAL,
  CORE_VCOV_HC0,
  CORE_VCOV_HC1,
  CORE_VCOV_HC2,
  CORE_VCOV_HC3,
  CORE_VCOV_CLUSTER /* CR1, Stata convention */
} core_vcov_kind;

typedef struct core_vcov_spec {
  core_vcov_kind kind;
  const size_t *cluster; /* CLUSTER only: n group ids in 0..n_clusters-1,
                            aligned with the rows of X */
  size_t n_clusters;     /* CLUSTER only: G (needs G >= 2) */
} core_vcov_spec;

/* Rank tolerance of R's lm (LINPACK dqrdc2, tol = 1e-7): a column is dropped
 * when the norm of what remains of it after removing the earlier kept
 * columns falls below tol times its original norm. */
#define CORE_OLS_RANK_TOL 1e-7

typedef struct core_ols_result {
  size_t n; /* observations */
  size_t p; /* columns of X given */
  size_t k; /* rank = estimated coefficients */
  bool has_intercept;
  core_vcov_kind vcov;
  size_t n_clusters; /* G for CLUSTER, else 0 */

  /* Per column of X (length p). A column dropped for collinearity has
   * dropped[j] = true and NaN in every statistic below. */
  bool *dropped;
  double *beta, *se, *t, *p_value, *ci_low, *ci_high;

  double *V;        /* p x p row-major variance of beta (NaN rows/cols for
                       dropped columns) */
  double *fitted;   /* n (NULL with CORE_OLS_NO_FITTED) */
  double *resid;    /* n (NULL with CORE_OLS_NO_RESID, see there) */
  double *leverage; /* n, h_ii (NULL with CORE_OLS_NO_LEVERAGE, unless
                       HC2/HC3 needed them) */

  double df_resid; /* n - k */
  double df_inf;   /* degrees of freedom for t, F and CIs: n - k, or G - 1
                      for CLUSTER */
  double ssr, sst, r2, adj_r2, sigma2, rmse;
  /* F for all slopes = 0 (all coefficients without an intercept): from the
   * sums of squares for CLASSICAL, else the Wald statistic with V, df
   * (slopes, df_inf). NaN when there is no slope to test, and for a robust
   * V when V of the slopes is not positive definite (e.g. CLUSTER with
   * G - 1 < slopes) or the constant column itself was dropped. */
  double f, f_df1, f_df2, f_p_value;
  double loglik, aic, bic;
} core_ols_result;

/* Fits y on X (n x p; the intercept, when wanted, is a column of ones in X
 * and has_intercept says so: then some column of X must be a non-zero
 * constant). Householder QR with R's limited pivoting (dqrdc2): columns are
 * taken in order and one that is (nearly) a combination of earlier kept
 * columns (see CORE_OLS_RANK_TOL) is dropped, so the earlier of two collinear
 * columns is kept, as in R's lm. vcov NULL means classical. Clusters: ids in
 * 0..n_clusters-1 with n_clusters <= n; G is the number of non-empty
 * clusters. level is the confidence level of the intervals (0.95).
 * Returns CORE_OK with *out owned by the caller (core_ols_result_free), or,
 * with *out = NULL (when out is not NULL) and err filled (err may be NULL):
 * CORE_EINVAL (NULL X, y or out; sizes; non-finite data, rows[] naming the
 * first bad row; values whose squares overflow; level not in (0, 1); unknown
 * kind; bad cluster spec, G < 2; has_intercept without a constant column),
 * CORE_ETOOFEW (n <= k, the message gives n and k), CORE_ESINGULAR (rank 0;
 * HC2/HC3 with an observation of leverage 1, rows[] naming them),
 * CORE_ENOMEM. Never aborts. */
core_status core_ols_fit(const gsl_matrix *X, const gsl_vector *y,
                         bool has_intercept, const core_vcov_spec *vcov,
                         double level, core_ols_result **out, core_err *err);
/* Flags of core_ols_fit_cols: leave out what the caller does not use (each
 * is an n-vector; the leverages also need the thin Q, a second pass as
 * costly as the QR itself). */
#define CORE_OLS_NO_FITTED 1u   /* fitted = NULL */
#define CORE_OLS_NO_LEVERAGE 2u /* leverage = NULL unless HC2/HC3 */
/* resid = NULL, unless the fitted values or a robust or cluster variance
 * need them (the SSR is then the squared tail of Q'y). */
#define CORE_OLS_NO_RESID 8u

/* core_ols_fit on column-major data: cols[j] points at the n values of
 * column j, y at n values (stride 1; never modified). The same checks,
 * results and errors as core_ols_fit; flags as above (0: everything). For
 * the estimators that already hold their data by column (within and PPML
 * fits), saving the copy through a gsl_matrix. */
core_status core_ols_fit_cols(const double *const *cols, const double *y,
                              size_t n, size_t p, bool has_intercept,
                              const core_vcov_spec *vcov, double level,
                              unsigned flags, core_ols_result **out,
                              core_err *err);
/* core_ols_fit_cols without the copy: the QR is done in the columns
 * themselves, whose content afterwards is unspecified (for callers whose
 * columns are a temporary, e.g. PPML's weighted design). */
core_status core_ols_fit_scratch(double *const *cols, const double *y, size_t n,
                                 size_t p, bool has_intercept,
                                 const core_vcov_spec *vcov, double level,
                                 unsigned flags, core_ols_result **out,
                                 core_err *err);
/* The column choice of core_ols_fit alone (R's rule, CORE_OLS_RANK_TOL,
 * the earlier of collinear columns kept), done in place in the n x p
 * column-major cols (content afterwards unspecified): dropped[j] (p) says
 * whether column j is left out, *rank counts the kept ones (0 when every
 * column is zero). CORE_EINVAL (NULL argument, a non-finite entry, rows[]
 * naming it; sizes), CORE_ENOMEM. */
core_status core_ols_rank_scratch(double *const *cols, size_t n, size_t p,
                                  bool *dropped, size_t *rank, core_err *err);
/* In-place Cholesky factorisation A = L L' of the symmetric k x k matrix A
 * (row-major; its lower triangle is read and overwritten with L, the strict
 * upper triangle is left alone). False, with A part-way, when a pivot (the
 * squared norm of what is left of a column) is not finite, not positive, or
 * not above rel_tol times the column's diagonal entry (0: any positive
 * pivot). */
bool core_cholesky(double *A, size_t k, double rel_tol);
/* Frees r and everything it owns. NULL is a no-op. */
void core_ols_result_free(core_ols_result *r);

/* The checks every estimator makes of its design: every entry of X finite
 * (else CORE_EINVAL naming the first bad entry, its row in err->rows), and
 * with has_intercept some column a non-zero constant (else CORE_EINVAL).
 * Returns CORE_OK otherwise. */
core_status core_check_design(const gsl_matrix *X, bool has_intercept,
                              core_err *err);

/* Index of the first column of X that is a non-zero constant, or SIZE_MAX
 * when there is none (and for a matrix without rows). */
size_t core_constant_column(const gsl_matrix *X);

/* Two-sided p-value of a t statistic with df degrees of freedom, accurate in
 * the far tail (uses the upper tail directly). df = +Inf gives the normal;
 * |t| = Inf gives 0, as does a p-value that underflows. NaN for bad input
 * (NaN t or df, df <= 0). */
double core_t_pvalue(double t, double df);
/* Upper-tail p-value of an F statistic (0 for f = +Inf or on underflow;
 * df2 = +Inf gives the chi-square of f df1). NaN for bad input (NaN, f < 0,
 * df1 <= 0 or infinite, df2 <= 0). */
double core_f_pvalue(double f, double df1, double df2);
/* Upper-tail p-value of a chi-square statistic (0 for x = +Inf or on
 * underflow). NaN for bad input (NaN, x < 0, df <= 0 or infinite). */
double core_chisq_pvalue(double x, double df);
/* Quantile of Student's t (e.g. 0.975); df = +Inf gives the normal. NaN for
 * bad input (prob not in (0, 1), df <= 0, NaN). */
double core_t_quantile(double prob, double df);

#endif
