/* Stochastic frontier gravity model (trade efficiency), METHODS.md section 7:
 * ln T_it = x_it b + v_it - u_it with v ~ N(0, s_v^2) and u >= 0, fitted by
 * maximum likelihood as in FRONTIER 4.1 (Coelli 1996): half-normal
 * (Aigner-Lovell-Schmidt 1977) or truncated-normal (Stevenson 1980) u, in a
 * cross-section or a panel with time-invariant u_i (Pitt-Lee, Battese-Coelli
 * 1988) or time-varying decay u_it = exp(-eta (t - T_i)) u_i (Battese-Coelli
 * 1992). Efficiency is the Battese-Coelli (1988) predictor E[exp(-u) | e]. */
#ifndef GRAVITAS_CORE_SFA_H
#define GRAVITAS_CORE_SFA_H

#include <stdbool.h>
#include <stddef.h>

#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "core_err.h"

/* Defaults used when the spec leaves max_iter or tol at 0. */
#define CORE_SFA_MAX_ITER 1000
#define CORE_SFA_TOL 1e-10

/* What to fit. A zeroed spec (or NULL) is the cross-section half-normal
 * model. */
typedef struct core_sfa_spec {
  bool truncated;    /* estimate mu (truncated normal); else mu = 0 */
  bool time_varying; /* estimate eta (Battese-Coelli 1992); needs a panel */
  /* Panel: group[i] in 0..n_groups-1 names the trading pair (or firm) of
   * row i and period[i] its time t (any finite numbers; T_i is the last
   * period of the group, so h = exp(-eta (t - T_i)) is 1 in that period).
   * group NULL means a cross-section (every row its own group); period is
   * needed only with time_varying. */
  const size_t *group;
  size_t n_groups;
  const double *period;
  size_t max_iter; /* quasi-Newton iterations; 0 = CORE_SFA_MAX_ITER */
  double tol;      /* convergence: n g' H^-1 g < tol, with g and H the
                      gradient and Hessian of -ln L / n (the Newton
                      decrement: ln L is within about tol / 2 of its
                      maximum and each estimate within about sqrt(tol)
                      standard errors of it); 0 = CORE_SFA_TOL */
} core_sfa_spec;

/* Why the fit stopped (always set when core_sfa_fit returns CORE_OK). */
typedef enum core_sfa_stop {
  CORE_SFA_CONVERGED,  /* convergence test met (after Newton polishing) */
  CORE_SFA_WRONG_SKEW, /* OLS residuals not negatively skewed: no
                          inefficiency is identified; the result is the OLS
                          fit with gamma = 0 and efficiency 1 (as FRONTIER
                          4.1 reports it), and a warning says so */
} core_sfa_stop;

typedef struct core_sfa_result {
  size_t n;        /* observations */
  size_t k;        /* frontier coefficients (columns of X) */
  size_t n_groups; /* cross-sections (n for a cross-section) */
  bool truncated, time_varying;
  core_sfa_stop stop;
  size_t iterations; /* quasi-Newton iterations (plus Newton polish steps) */
  double grad_max;   /* largest |gradient| of -ln L / n at the end */
  double decrement;  /* n g' H^-1 g at the end (below tol) */

  /* Estimation parameters: (b, sigma^2, gamma, [mu], [eta]) in this order;
   * n_par = k + 2 + truncated + time_varying. V (n_par x n_par, row-major)
   * is the inverse Hessian of -ln L in the optimiser's parameters
   * (b, ln s^2, logit gamma, mu, eta) mapped by the delta method. For
   * WRONG_SKEW, V holds the OLS variance of b and NaN elsewhere. */
  size_t n_par;
  double *V;

  /* Frontier coefficients (length k) with standard errors, z = b / se and
   * two-sided normal p-values. */
  double *beta, *se, *z, *p_value;

  /* Variance parameters: sigma2 = s_u^2 + s_v^2, gamma = s_u^2 / sigma2,
   * mu (0 unless truncated), eta (0 unless time_varying), each with its
   * standard error (NaN when not estimated). lambda = s_u / s_v. */
  double sigma2, se_sigma2, gamma, se_gamma, mu, se_mu, eta, se_eta;
  double sigma_u2, sigma_v2, lambda;

  double loglik;       /* at the estimates */
  double loglik_ols;   /* OLS with ML variance SSR/n (the model with u = 0) */
  double ols_skewness; /* third central moment of OLS residuals / s^3 */
  double grid_gamma;   /* best gamma of the FRONTIER-style grid (start) */

  /* LR test of no inefficiency (gamma = 0 and, when estimated, mu = 0 and
   * eta = 0): lr = 2 (loglik - loglik_ols), df = n_par - k - 1 restrictions
   * as FRONTIER 4.1 counts them. The statistic has a mixed chi-square
   * distribution under the null; lr_crit_05 and lr_crit_01 are the Kodde
   * and Palm (1986, Table 1) critical values at 5% and 1% for df, and
   * lr_p_value is the usual approximation P = 0.5 P(chi2(df-1) > lr) +
   * 0.5 P(chi2(df) > lr) (chi2(0) a point mass at 0), exact for df = 1. */
  double lr, lr_p_value, lr_crit_05, lr_crit_01;
  size_t lr_df;

  /* Per observation (length n): xb = x b (log frontier without noise),
   * resid = y - x b (the composed error v - u), efficiency =
   * E[exp(-h_it u_i) | e_i] in (0, 1] (Battese-Coelli 1988), and frontier =
   * exp(y) / efficiency (the trade the fundamentals allow, in levels). */
  double *xb, *resid, *efficiency, *frontier;

  core_warnings warnings; /* e.g. wrong skew */
} core_sfa_result;

/* Fits the stochastic frontier of y (= ln T, length n) on X (n x k; the
 * intercept, when wanted, is a constant column of X and has_intercept says
 * so: the start shifts it by the mean of u as FRONTIER 4.1 does). spec NULL
 * is the cross-section half-normal model.
 *
 * Start: OLS (core_ols_fit), then a grid over gamma = 0.05, 0.10, .., 0.95
 * refined by 0.01 around the best point, where s^2 = (SSR/n) / (1 - 2 gamma
 * / pi) and the intercept is b0 + sqrt(2 gamma s^2 / pi) (method of
 * moments, FRONTIER 4.1), mu = eta = 0. Then GSL BFGS2 on -ln L / n with
 * the analytic gradient, preconditioned by the Cholesky factor of the
 * Hessian at the grid point, polished by Newton steps on the Hessian
 * (central differences of the analytic gradient), which also gives the
 * variance; converged when the Newton decrement n g' H^-1 g < tol.
 *
 * Returns CORE_OK with *out owned by the caller (core_sfa_result_free),
 * including the WRONG_SKEW answer (see core_sfa_stop); or, with *out = NULL
 * and err filled (err may be NULL):
 * CORE_EINVAL: NULL X, y or out; size mismatch; non-finite data (rows[]
 *   names the first bad rows); has_intercept without a constant column;
 *   bad group ids or n_groups; time_varying without a panel or periods,
 *   with non-finite periods, or where every group has a single period
 *   (T_i = 1 everywhere: eta is not identified); tol < 0.
 * CORE_ETOOFEW: n <= n_par.
 * CORE_ESINGULAR: X is collinear (OLS dropped a column; name says which).
 * CORE_ENOCONV: the optimiser stopped without meeting the convergence
 *   test (iteration limit; no progress short of the maximum; a Hessian that
 *   is not negative definite where it stopped, e.g. mu running to -Inf in
 *   the truncated model; or the estimates ran to the boundary gamma -> 0
 *   or 1, sigma^2 -> 0 or Inf); msg says which.
 * CORE_ENOMEM, CORE_EINTERNAL (a GSL failure, or a Hessian that cannot be
 * inverted at a converged point). Never aborts. */
core_status core_sfa_fit(const gsl_matrix *X, const gsl_vector *y,
                         bool has_intercept, const core_sfa_spec *spec,
                         core_sfa_result **out, core_err *err);

/* Frees r and everything it owns. NULL is a no-op. */
void core_sfa_result_free(core_sfa_result *r);

/* The log-likelihood of METHODS.md section 7 and its analytic gradient at
 * theta = (b (k), ln s^2, logit gamma, [mu], [eta]) (length k + 2 +
 * truncated + time_varying), for tests and diagnostics. grad (same length)
 * may be NULL. Returns CORE_OK and *ll, CORE_EINVAL for bad arguments (as
 * core_sfa_fit; the wrong-skew check does not apply), CORE_EDOMAIN when the
 * likelihood is not finite at theta, CORE_ENOMEM. */
core_status core_sfa_loglik(const gsl_matrix *X, const gsl_vector *y,
                            const core_sfa_spec *spec, const double *theta,
                            double *ll, double *grad, core_err *err);

/* Kodde-Palm (1986) critical value of the mixed chi-square for df = 1..10
 * restrictions at level alpha = 0.05 or 0.01; NaN otherwise. */
double core_sfa_kodde_palm(size_t df, double alpha);

/* Upper tail of the mixture 0.5 chi2(df - 1) + 0.5 chi2(df) at x (df >= 1;
 * chi2(0) is a point mass at 0). NaN for bad input. */
double core_sfa_mixchisq_pvalue(double x, size_t df);

#endif
