/* Poisson pseudo-maximum likelihood (Santos Silva & Tenreyro 2006) with or
 * without high-dimensional fixed effects, as METHODS.md section 5: IRLS with
 * a QR solve per step (weighted within-transformation when there are fixed
 * effects, as ppmlhdfe), separation checks (fixed-effect levels whose
 * outcome is all zero, and regressor-induced separation by the iterative
 * rectifier of Correia, Guimaraes & Zylkin 2019), and robust (HC0),
 * cluster-robust (one- and two-way) or classical variances. */
#ifndef GRAVITAS_CORE_PPML_H
#define GRAVITAS_CORE_PPML_H

#include <stdbool.h>
#include <stddef.h>

#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "core_err.h"

/* Variance of the coefficients. With s_i = x~_i (y_i - mu_i) the score of
 * row i (x~ the regressors after the weighted within-transformation when
 * there are fixed effects) and B = (X~' diag(mu) X~)^-1:
 *   ROBUST (default): HC0, B (sum_i s_i s_i') B, with no small-sample
 *     factor; equal to R's sandwich::vcovHC(glm_fit, type = "HC0") for a
 *     poisson or quasipoisson glm (the dispersion cancels);
 *   CLASSICAL: B, the Poisson information with phi = 1 (R's
 *     summary(glm_fit, dispersion = 1));
 *   CLUSTER: one-way G/(G-1) B (sum_g s_g s_g') B, or two-way (Cameron,
 *     Gelbach & Miller) V_A + V_B - V_AB where each term carries its own
 *     G/(G-1) (G_AB = distinct pairs of the two ids); equal to R's
 *     sandwich::vcovCL(glm_fit, cluster = ..., type = "HC0", cadjust = TRUE),
 *     its default for glm. A two-way V need not be positive semi-definite:
 *     a negative variance gives NaN standard errors and a warning.
 * Tests and intervals use the normal distribution (z), as lmtest::coeftest
 * and ppmlhdfe do for this estimator. */
typedef enum core_ppml_vcov_kind {
  CORE_PPML_VCOV_ROBUST = 0,
  CORE_PPML_VCOV_CLASSICAL,
  CORE_PPML_VCOV_CLUSTER
} core_ppml_vcov_kind;

/* Why an input row is not in the fit (result->drop_reason). */
typedef enum core_ppml_drop {
  CORE_PPML_KEPT = 0,
  CORE_PPML_DROP_SINGLETON, /* alone in a level of some factor */
  CORE_PPML_DROP_FE_ZERO,   /* in a fixed-effect level whose y are all 0 */
  CORE_PPML_DROP_SEPARATED, /* separated by the regressors (and effects) */
  CORE_PPML_DROP_NO_LEVEL   /* a factor id is CORE_PPML_NO_LEVEL */
} core_ppml_drop;

/* A factor id meaning "no level" (missing key): the row is dropped. Equal to
 * CORE_HDFE_NO_LEVEL. */
#define CORE_PPML_NO_LEVEL ((size_t)-1)

#define CORE_PPML_DEFAULT_TOL 1e-8
#define CORE_PPML_DEFAULT_MAX_ITER 1000
#define CORE_PPML_DEFAULT_FE_TOL 1e-10
#define CORE_PPML_MAX_FACTORS 16

typedef struct core_ppml_options {
  /* IRLS stops when |D_k - D_{k-1}| / max(min(D_k, D_{k-1}), 0.1) <= tol
   * (D the deviance; ppmlhdfe's rule), after at least 2 iterations. */
  double tol;      /* > 0, default 1e-8 */
  size_t max_iter; /* >= 1, default 1000 */
  /* Tolerance of the weighted demeaning at convergence (core_hdfe_demean);
   * looser tolerances are used in early iterations (ppmlhdfe). */
  double fe_tol;            /* > 0, default 1e-10 */
  size_t fe_max_iter;       /* per demeaning call, default 10000 */
  bool drop_singletons;     /* default true (fixed effects only) */
  bool separation_fe;       /* default true: drop all-zero FE levels */
  bool separation_relu;     /* default true: the iterative rectifier */
  double relu_tol;          /* default 1e-4 (ppmlhdfe) */
  size_t relu_max_iter;     /* default 100 */
  core_ppml_vcov_kind vcov; /* default ROBUST */
  /* CLUSTER: 1 or 2 ways; cluster[w] holds n ids (aligned with the input
   * rows) in 0..n_clusters[w]-1. */
  size_t cluster_ways;
  const size_t *cluster[2];
  size_t n_clusters[2];
  double level; /* confidence level of the intervals, default 0.95 */
  /* When IRLS hits max_iter: false (default) returns CORE_ENOCONV with
   * *out = NULL; true returns CORE_ENOCONV with *out set (caller frees),
   * converged = false and a warning, so the caller may show the last
   * iterate, clearly flagged. */
  bool keep_nonconverged;
} core_ppml_options;

/* Fills o with the defaults above. */
void core_ppml_options_init(core_ppml_options *o);

/* Fixed effects: nf factors, each n level ids (aligned with the input rows)
 * in 0..n_levels[f]-1 or CORE_PPML_NO_LEVEL. */
typedef struct core_ppml_fe {
  size_t nf; /* 0 = no fixed effects; at most CORE_PPML_MAX_FACTORS */
  const size_t *const *levels;
  const size_t *n_levels;
} core_ppml_fe;

typedef struct core_ppml_convergence {
  bool converged;
  size_t iterations;
  double tolerance; /* opts.tol */
  double criterion; /* the last relative deviance change */
  const char *rule; /* static text naming the rule */
  size_t relu_iterations;
  size_t fe_iterations_max; /* most demeaning iterations of one call */
} core_ppml_convergence;

typedef struct core_ppml_result {
  size_t n_input; /* rows given */
  size_t n;       /* rows in the fit */
  size_t p;       /* columns of X given */
  size_t k;       /* estimated coefficients (rank) */
  bool has_intercept;
  size_t nf; /* factors */

  /* Rows: drop_reason[i] for each input row i; row[j] (j < n) the input
   * index of fit row j. Counts of the dropped rows by reason. */
  core_ppml_drop *drop_reason; /* n_input */
  size_t *row;                 /* n */
  size_t n_singleton, n_fe_zero, n_separated, n_no_level;

  /* Per column of X (length p). A column dropped for collinearity (with
   * other columns or with the fixed effects, or constant zero after the
   * separated rows went) has dropped[j] = true and NaN statistics. */
  bool *dropped;
  double *beta, *se, *z, *p_value, *ci_low, *ci_high;
  double *V; /* p x p row-major, NaN rows/columns for dropped columns */

  /* Per input row (n_input): fitted mean mu and linear index eta, NaN for
   * rows not in the fit (use mu directly as the prediction in levels). */
  double *mu, *eta;

  double deviance;      /* 2 sum [y ln(y/mu) - (y - mu)] */
  double null_deviance; /* same with mu = mean(y) (intercept or fixed
                           effects), else with mu = 1 (glm) */
  double loglik;        /* sum [y ln mu - mu - lgamma(y + 1)] */
  double pseudo_r2;     /* corr(y, mu)^2 over the fit rows */
  double df_absorbed;   /* degrees of freedom of the fixed effects */

  core_ppml_vcov_kind vcov;
  size_t n_clusters[2]; /* non-empty clusters per way (0 if unused) */

  core_ppml_convergence conv;

  /* Fixed-effect values (nf > 0): fe[f][l] for caller level l <
   * fe_levels[f], NaN for levels without a fit row; eta_i = x_i b +
   * sum_f fe[f][level]. Normalised as core_hdfe_recover_fe. */
  size_t *fe_levels;
  double **fe;
} core_ppml_result;

/* Fits E[y|x] = exp(x b + sum_f fe_f) by PPML. X is n x p (the intercept,
 * when wanted, is a column of ones and has_intercept says so; with fixed
 * effects it should be left out: it is absorbed). fe may be NULL (no fixed
 * effects). opts NULL means the defaults. warn (may be NULL) receives
 * warnings (rows dropped and why, non-convergence kept, negative two-way
 * variances).
 *
 * Start: mu = (y + mean(y)) / 2 (ppmlhdfe). Each IRLS step regresses
 * z = eta + (y - mu)/mu on X with weights mu by Householder QR of
 * sqrt(mu)-scaled data (no normal equations), after demeaning z and X with
 * weights mu when there are fixed effects (starting from the previous
 * step's demeaned values). Columns are chosen once, after the separation
 * checks, with R's rule (core_ols_fit; a column whose weighted norm falls
 * below 1e-7 of its original after demeaning is absorbed by the effects).
 *
 * Returns CORE_OK with *out owned by the caller (core_ppml_result_free).
 * Errors (*out = NULL unless said otherwise; err filled, may be NULL):
 * CORE_EINVAL (NULL X, y or out; sizes; non-finite data or y < 0, rows[]
 * naming them; bad options, cluster or factor ids), CORE_ETOOFEW (no row
 * left, or n <= k + absorbed df), CORE_ESINGULAR (no estimable column and no
 * fixed effects; the design lost rank during IRLS), CORE_ENOCONV (IRLS hit
 * max_iter: *out set only with opts->keep_nonconverged; or a demeaning did
 * not converge; an iterative rectifier that does not converge within
 * relu_max_iter only warns and drops nothing), CORE_EDOMAIN (mu overflowed: exp
 * of the linear index is not finite), CORE_ENOMEM, CORE_EINTERNAL. Never
 * aborts. */
core_status core_ppml_fit(const gsl_matrix *X, const gsl_vector *y,
                          bool has_intercept, const core_ppml_fe *fe,
                          const core_ppml_options *opts, core_ppml_result **out,
                          core_warnings *warn, core_err *err);

/* Frees r and everything it owns. NULL is a no-op. */
void core_ppml_result_free(core_ppml_result *r);

/* Name of a drop reason ("kept", "singleton", "fe_zero", "separated",
 * "no_level"). Never NULL. */
const char *core_ppml_drop_name(core_ppml_drop d);

#endif
