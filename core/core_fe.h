/* Fixed-effects (within) OLS with any number of factors (METHODS.md section
 * 3): y and X are demeaned over all factors (core_hdfe.h), OLS by QR on the
 * demeaned data (core_ols.h), then the degrees of freedom are corrected for
 * the levels the factors absorb and the variance recomputed.
 *
 * Conventions (checked against R: lm with factor dummies + sandwich, and
 * plm; see tests/reference/panel/):
 *   df_resid = n - k - df_absorbed (n after singletons, k estimated slopes);
 *   classical V = s^2 (X~'X~)^-1 with s^2 = SSR / df_resid (lm with dummies,
 *     plm within);
 *   HC1 = HC0 * n / (n - k - df_absorbed) (Stata/reghdfe `robust`, fixest
 *     "hetero", sandwich::vcovHC(type = "HC1") on lm with dummies);
 *   CLUSTER (CR1) = G/(G-1) (n-1)/(n - k - df_c) sum_g X~_g'e_g e_g'X~_g,
 *     where df_c is df_absorbed without the factors nested in the cluster
 *     variable (reghdfe, fixest fixef.K = "nested"); with count_nested set,
 *     df_c = df_absorbed (Stata regress/areg with dummies, sandwich::vcovCL
 *     on lm with dummies);
 *   CLUSTER2 (Cameron-Gelbach-Miller) V = V_A + V_B - V_AB, each term with
 *     its own G/(G-1) and the common (n-1)/(n - k - df_c) (factors nested in
 *     either cluster variable absorb none) = sandwich::vcovCL(cluster = ~a+b,
 *     multi0 = FALSE, type = "HC1"); when V is not positive semi-definite
 *     its negative eigenvalues are set to 0 (CGM 2011, section 2.3),
 *     vcov_psd_fixed says so and a warning is added;
 *   t, p and CIs use df_inf = df_resid, or G - 1 (CLUSTER), or
 *     min(G_A, G_B) - 1 (CLUSTER2).
 * No intercept is reported: it is absorbed by the fixed effects (as plm). A
 * regressor collinear with the fixed effects (its demeaned norm below
 * CORE_FE_COLLIN_TOL times its centred norm, e.g. a time-invariant variable
 * with an individual effect) is dropped and named in the warnings; the fixed
 * effects take precedence (as fixest). */
#ifndef GRAVITAS_CORE_FE_H
#define GRAVITAS_CORE_FE_H

#include <stdbool.h>
#include <stddef.h>

#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "core_err.h"
#include "core_hdfe.h"

#define CORE_FE_COLLIN_TOL 1e-6

typedef enum core_fe_vcov_kind {
  CORE_FE_VCOV_CLASSICAL = 0,
  CORE_FE_VCOV_HC1,
  CORE_FE_VCOV_CLUSTER, /* one-way CR1 */
  CORE_FE_VCOV_CLUSTER2 /* two-way, Cameron-Gelbach-Miller */
} core_fe_vcov_kind;

/* One fixed-effect factor, aligned with the rows of X. */
typedef struct core_fe_factor {
  const char *label;   /* e.g. "reporter^year" (copied; NULL gives "fe<f>") */
  const size_t *level; /* n ids < n_levels; CORE_HDFE_NO_LEVEL drops the row */
  size_t n_levels;
} core_fe_factor;

/* Options; a zero-initialised struct (or NULL) means the defaults. */
typedef struct core_fe_opts {
  core_fe_vcov_kind vcov;
  const size_t *cluster; /* CLUSTER, CLUSTER2: n ids < n_clusters */
  size_t n_clusters;
  const size_t *cluster2; /* CLUSTER2: n ids < n_clusters2 */
  size_t n_clusters2;
  bool count_nested;    /* count factors nested in the clusters (default:
                           they absorb none, reghdfe) */
  bool keep_singletons; /* default: drop them iteratively */
  double tol;           /* demeaning tolerance (0: 1e-8) */
  size_t max_iter;      /* demeaning iterations (0: 10000) */
  double level;         /* confidence level (0: 0.95) */
} core_fe_opts;

typedef struct core_fe_result {
  size_t n_in;         /* rows given */
  size_t n;            /* rows used */
  size_t n_missing_fe; /* rows dropped for a missing factor level */
  size_t n_singletons; /* rows dropped as singletons */
  bool *used;          /* n_in: row used in the fit */

  size_t p;         /* columns of X given */
  size_t k;         /* slopes estimated */
  char **col_label; /* p labels (copies; "x<j>" when none given) */
  bool *dropped;    /* p: not estimated (collinear), statistics NaN */
  bool *dropped_fe; /* p: dropped because collinear with the fixed effects */
  double *beta, *se, *t, *p_value, *ci_low, *ci_high; /* p each */
  double *V; /* p x p row-major (NaN rows/cols for dropped) */

  core_fe_vcov_kind vcov;
  size_t n_clusters, n_clusters2; /* G used (non-empty clusters), else 0 */
  bool vcov_psd_fixed; /* CLUSTER2: negative eigenvalues were zeroed */

  size_t nf;
  char **fe_label;         /* nf */
  size_t *fe_n_levels;     /* nf: n_levels given */
  size_t *fe_levels_used;  /* nf: levels with a used row */
  bool *fe_nested;         /* nf: nested in the cluster variable(s) */
  double **fe;             /* nf arrays of fe_n_levels[f] values (NaN for a
                              level without a used row); normalised as
                              core_hdfe_recover_fe: for f >= 1 the lowest
                              used level id is 0 */
  size_t df_absorbed;      /* rank of the fixed effects (see core_hdfe.h) */
  bool df_absorbed_exact;  /* false for 3+ factors (an upper bound) */
  size_t df_absorbed_vcov; /* the df_c of the cluster adjustment */
  size_t components;       /* of the first two factors' graph (1 if nf=1) */

  double df_resid; /* n - k - df_absorbed */
  double df_inf;   /* df for t, F and CIs */
  double ssr, sigma2, rmse;
  double sst_within, r2_within;      /* of the demeaned y; 1 - SSR/SST_within */
  double sst, r2, adj_r2;            /* 1 - SSR/SST of y centred (= lm with
                                        dummies; = corr(y, fitted)^2);
                                        adj: (n-1)/df_resid */
  double r2_xb;                      /* corr(y, x b)^2, Stata's "overall" */
  double f, f_df1, f_df2, f_p_value; /* all slopes = 0: from the within
                                        sums of squares (CLASSICAL) or a
                                        Wald test with V; NaN if k = 0 */
  double *fitted;    /* n_in: x b + sum of fe (NaN for rows not used) */
  double *resid;     /* n_in: y - fitted (NaN for rows not used) */
  size_t iterations; /* demeaning iterations (worst column) */
  bool converged;
  core_warnings warnings;
} core_fe_result;

/* Fits y on X (n x p, no intercept column: a constant is collinear with the
 * fixed effects and is dropped) absorbing nf factors fe[0..nf-1]. labels
 * (p strings or NULL) name the columns in the result and messages.
 * Returns CORE_OK with *out owned by the caller (core_fe_result_free), or
 * with *out = NULL and err filled: CORE_EINVAL (NULL X, y, fe or out; sizes;
 * nf = 0 or > CORE_HDFE_MAX_FACTORS; non-finite data with rows[]; a level id
 * out of range; bad options or cluster ids), CORE_ETOOFEW (no row left after
 * dropping singletons, or df_resid <= 0; G < 2 clusters), CORE_ESINGULAR
 * (every regressor collinear with the fixed effects: err->name is the
 * first), CORE_ENOCONV (the demeaning did not converge: never returns a
 * non-converged estimate), CORE_ENOMEM. */
core_status core_fe_fit(const gsl_matrix *X, const gsl_vector *y,
                        const char *const *labels, const core_fe_factor *fe,
                        size_t nf, const core_fe_opts *opts,
                        core_fe_result **out, core_err *err);
void core_fe_result_free(core_fe_result *r); /* NULL is a no-op */

#endif
