/* One-way random effects by Swamy-Arora (balanced and unbalanced panels, as
 * plm's model = "random", random.method = "swar") and the Hausman test of
 * fixed against random effects (METHODS.md section 4).
 *
 * Variance components (Baltagi 2005, 9.2; plm ercomp):
 *   s2_e = SSR_within / (n - N - K_w) from the within fit on the individual
 *     index (K_w slopes estimated there; time-invariant regressors drop);
 *   s2_u = (q_b - (N - K - 1) s2_e) / (n - tr[(Z'PZ)^-1 Z'P S Z])
 *     where q_b = sum_i T_i u_i^2 with u_i the residuals of the between
 *     regression of the individual means (with intercept, weighted by T_i),
 *     K its slopes, Z = [1, X], P the projection on individual means and
 *     S Z the individual sums; for a balanced panel the denominator is
 *     T (N - K - 1), i.e. s2_u = s2_b - s2_e / T. Truncated at 0 with a
 *     warning when negative (then theta = 0: pooled OLS).
 *   theta_i = 1 - sqrt(s2_e / (T_i s2_u + s2_e)); y - theta_i ybar_i is
 *     regressed on [1 - theta_i, x - theta_i xbar_i] by OLS, classical V =
 *     SSR* / (n - k) (X*'X*)^-1 (plm's vcov of the random model). */
#ifndef GRAVITAS_CORE_RE_H
#define GRAVITAS_CORE_RE_H

#include <stdbool.h>
#include <stddef.h>

#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "core_err.h"
#include "core_fe.h"

typedef struct core_re_result {
  size_t n;         /* observations */
  size_t n_groups;  /* individuals with at least one observation (N) */
  bool balanced;    /* every individual has the same T */
  size_t p;         /* coefficients: the intercept first, then X's columns */
  size_t k;         /* estimated */
  char **col_label; /* p: "(Intercept)", then the labels given */
  bool *dropped;    /* p */
  double *beta, *se, *t, *p_value, *ci_low, *ci_high; /* p each */
  double *V;                                          /* p x p row-major */
  double sigma2_e, sigma2_u;
  bool sigma2_u_truncated; /* the estimate was negative and set to 0 */
  size_t n_ids;            /* n_groups given (length of theta, T) */
  double *theta;           /* n_ids: per individual (NaN when absent) */
  size_t *T;               /* n_ids: observations per individual */
  double theta_min, theta_max;
  double df_resid, ssr, sigma2, r2; /* of the quasi-demeaned regression;
                                       r2 = 1 - SSR/SST centred (plm's
                                       r.squared type "rss") */
  size_t within_k;                  /* slopes of the within fit */
  core_warnings warnings;
} core_re_result;

/* Fits y on [1, X] (X: n x p0 regressors without an intercept column) with
 * a random individual effect; group[i] < n_groups is the individual of row
 * i. labels (p0 or NULL) name X's columns. level: confidence level (0 means
 * 0.95). Returns CORE_OK with *out owned by the caller
 * (core_re_result_free), or *out = NULL and err filled: CORE_EINVAL (NULL
 * argument, sizes, ids out of range, non-finite data: rows[]), CORE_ETOOFEW
 * (too few individuals or observations for the components: N <= K + 1 or
 * n - N - K_w <= 0), CORE_ESINGULAR, CORE_ENOMEM. */
core_status core_re_fit(const gsl_matrix *X, const gsl_vector *y,
                        const char *const *labels, const size_t *group,
                        size_t n_groups, double level, core_re_result **out,
                        core_err *err);
void core_re_result_free(core_re_result *r); /* NULL is a no-op */

typedef struct core_hausman_result {
  double stat;    /* H = d' [V_FE - V_RE]^+ d */
  double df;      /* rank of V_FE - V_RE used (= q when positive definite) */
  double p_value; /* chi-square upper tail, NaN when df = 0 */
  size_t q;       /* common coefficients compared */
  bool pos_def;   /* V_FE - V_RE positive definite */
} core_hausman_result;

/* Relative eigenvalue tolerance of the generalised inverse. */
#define CORE_HAUSMAN_TOL 1e-10

/* Hausman test on q common coefficients: b_fe, b_re (q), V_fe, V_re (q x q
 * row-major). The inverse is the Moore-Penrose one from the symmetric
 * eigen-decomposition of V_FE - V_RE, keeping eigenvalues with |l| >
 * CORE_HAUSMAN_TOL max |l|; df is their number (Stata's hausman; plm's
 * phtest uses q, the same when positive definite). When some eigenvalue is
 * <= the tolerance (not positive definite) pos_def is false and a warning
 * is added to w (may be NULL). Errors: CORE_EINVAL (NULL, q = 0, non-finite
 * values), CORE_ENOMEM, CORE_EINTERNAL. */
core_status core_hausman(size_t q, const double *b_fe, const double *V_fe,
                         const double *b_re, const double *V_re,
                         core_hausman_result *out, core_warnings *w,
                         core_err *err);

/* The same over the coefficients estimated by both fits, matched by label
 * (the time-varying ones: the RE intercept and regressors dropped from the
 * within fit are left out). CORE_EINVAL when none is common. */
core_status core_hausman_fe_re(const core_fe_result *fe,
                               const core_re_result *re,
                               core_hausman_result *out, core_warnings *w,
                               core_err *err);

#endif
