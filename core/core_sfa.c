/* Stochastic frontier (ALS 1977, Stevenson 1980, Battese-Coelli 1988/1992)
 * by maximum likelihood with an analytic gradient, GSL BFGS2 and Newton
 * polishing, as METHODS.md section 7 (see core_sfa.h). */
#include "core_sfa.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_sf_erf.h>

#include "core_ols.h"

#define LN_2PI 1.8378770664093454836
#define SQRT1_2 0.70710678118654752440

/* The optimiser's parameters are unbounded; beyond these the estimates are
 * at the boundary of the parameter space (gamma -> 0 or 1, sigma^2 -> 0 or
 * Inf), where no interior maximum exists. */
#define LOGIT_GAMMA_MAX 25.0
#define LOG_SIGMA2_MAX 50.0

/* What the objective reports where the likelihood is not finite: large,
 * finite, so that the line search's interpolation shrinks the step instead
 * of producing NaN. */
#define BAD_OBJECTIVE 1e30

/* Newton steps on the finite-difference Hessian after BFGS2. */
#define NEWTON_MAX 20

/* ------------------------------------------------------------------------ */
/* Normal helpers, stable in the tails                                      */
/* ------------------------------------------------------------------------ */

/* ln Phi(z) = ln(erfc(-z / sqrt 2) / 2); log_erfc stays accurate where
 * Phi(z) underflows (z very negative). */
static double log_Phi(double z) {
  gsl_sf_result r;
  if (gsl_sf_log_erfc_e(-z * SQRT1_2, &r) != GSL_SUCCESS) return NAN;
  return r.val - M_LN2;
}

/* phi(z) / Phi(z) (the inverse Mills ratio of -z): GSL's hazard function
 * h(x) = phi(x) / Q(x) at x = -z, accurate for all z. */
static double mills(double z) {
  gsl_sf_result r;
  if (gsl_sf_hazard_e(-z, &r) != GSL_SUCCESS) return NAN;
  return r.val;
}

/* ------------------------------------------------------------------------ */
/* The problem: data laid out by group, and the likelihood                  */
/* ------------------------------------------------------------------------ */

typedef struct sfa_problem {
  size_t n, k, np, G; /* rows, columns, parameters, groups (incl. empty) */
  bool tr, tv;
  const gsl_matrix *X;
  const gsl_vector *y;
  size_t *start; /* G + 1 offsets into rows */
  size_t *rows;  /* row indices grouped */
  double *dt;    /* n: t - T_i (0 without time variation) */
  /* Scratch (no allocation while iterating). */
  double *e, *h, *w, *th;
  double *g2; /* np: second gradient buffer for Hessians */
  /* Preconditioning of the optimiser: theta = theta0 + L^-T zeta with
   * L L' the Hessian of F at the start, so that BFGS2 works on a problem
   * whose Hessian is near the identity (the intercept and the log
   * regressors are otherwise strongly correlated and BFGS2 zig-zags). */
  double *theta0, *L;
  bool bad; /* the last evaluation was not finite */
} sfa_problem;

static void problem_free(sfa_problem *p) {
  if (p == NULL) return;
  free(p->start);
  free(p->rows);
  free(p->dt);
  free(p->e);
  free(p->h);
  free(p->w);
  free(p->th);
  free(p->g2);
  free(p->theta0);
  free(p->L);
}

/* Validates everything but the data values and lays the rows out by group.
 * Returns CORE_OK, CORE_EINVAL, CORE_ETOOFEW or CORE_ENOMEM. */
static core_status problem_init(sfa_problem *p, const gsl_matrix *X,
                                const gsl_vector *y, const core_sfa_spec *s,
                                core_err *err) {
  memset(p, 0, sizeof *p);
  size_t n = X->size1, k = X->size2;
  if (k == 0) return core_err_set(err, CORE_EINVAL, "X has no columns");
  if (y->size != n)
    return core_err_set(err, CORE_EINVAL,
                        "y has %zu entries but X has %zu rows", y->size, n);
  if (n > INT_MAX || k > INT_MAX || k > SIZE_MAX / sizeof(double) / (k + 4) ||
      n > SIZE_MAX / sizeof(double) / (k + 4))
    return core_err_set(err, CORE_EINVAL, "X is too large (%zu x %zu)", n, k);
  p->n = n;
  p->k = k;
  p->X = X;
  p->y = y;
  p->tr = s->truncated;
  p->tv = s->time_varying;
  p->np = k + 2 + (p->tr ? 1 : 0) + (p->tv ? 1 : 0);
  if (!(s->tol >= 0.0))
    return core_err_set(err, CORE_EINVAL, "tol %g is negative or NaN", s->tol);
  if (s->group == NULL && p->tv)
    return core_err_set(err, CORE_EINVAL,
                        "a time-varying model (eta) needs panel groups");
  if (s->group != NULL && (s->n_groups == 0 || s->n_groups > n))
    return core_err_set(err, CORE_EINVAL,
                        "n_groups = %zu is not in 1..%zu (the rows)",
                        s->n_groups, n);
  if (p->tv && s->period == NULL)
    return core_err_set(err, CORE_EINVAL,
                        "a time-varying model (eta) needs the period of "
                        "each row");
  if (n <= p->np)
    return core_err_set(err, CORE_ETOOFEW,
                        "%zu observations for %zu parameters", n, p->np);
  p->G = s->group != NULL ? s->n_groups : n;
  p->start = calloc(p->G + 1, sizeof *p->start);
  p->rows = malloc(n * sizeof *p->rows);
  p->dt = calloc(n, sizeof *p->dt);
  p->e = malloc(n * sizeof *p->e);
  p->h = malloc(n * sizeof *p->h);
  p->w = malloc(n * sizeof *p->w);
  p->th = malloc(p->np * sizeof *p->th);
  p->g2 = malloc(p->np * sizeof *p->g2);
  p->theta0 = calloc(p->np, sizeof *p->theta0);
  p->L = calloc(p->np * p->np, sizeof *p->L);
  if (!p->start || !p->rows || !p->dt || !p->e || !p->h || !p->w || !p->th ||
      !p->g2 || !p->theta0 || !p->L)
    return core_err_set(err, CORE_ENOMEM, "out of memory");
  if (s->group == NULL) {
    for (size_t i = 0; i < n; i++) {
      p->rows[i] = i;
      p->start[i + 1] = i + 1;
    }
    return CORE_OK;
  }
  /* Counting sort of the rows by group. */
  for (size_t i = 0; i < n; i++) {
    if (s->group[i] >= p->G) {
      core_err_set(err, CORE_EINVAL,
                   "group id %zu in row %zu is not below n_groups = %zu",
                   s->group[i], i, p->G);
      core_err_add_row(err, i);
      return CORE_EINVAL;
    }
    p->start[s->group[i] + 1]++;
  }
  for (size_t g = 0; g < p->G; g++)
    p->start[g + 1] += p->start[g];
  size_t *fill = calloc(p->G, sizeof *fill);
  if (fill == NULL) return core_err_set(err, CORE_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    size_t g = s->group[i];
    p->rows[p->start[g] + fill[g]++] = i;
  }
  free(fill);
  if (!p->tv) return CORE_OK;
  bool varies = false;
  for (size_t i = 0; i < n; i++)
    if (!isfinite(s->period[i])) {
      core_err_set(err, CORE_EINVAL, "period is not finite in row %zu", i);
      core_err_add_row(err, i);
      return CORE_EINVAL;
    }
  for (size_t g = 0; g < p->G; g++) {
    size_t a = p->start[g], b = p->start[g + 1];
    if (a == b) continue;
    double last = s->period[p->rows[a]];
    for (size_t j = a + 1; j < b; j++)
      last = fmax(last, s->period[p->rows[j]]);
    for (size_t j = a; j < b; j++) {
      p->dt[p->rows[j]] = s->period[p->rows[j]] - last;
      if (p->dt[p->rows[j]] != 0.0) varies = true;
    }
  }
  if (!varies)
    return core_err_set(err, CORE_EINVAL,
                        "every group is observed in a single period (T_i = "
                        "1): eta is not identified");
  return CORE_OK;
}

/* ln L (METHODS.md section 7) and, when grad is not NULL, its gradient in
 * theta = (b, ln s^2, logit gamma, [mu], [eta]). Returns false when the
 * likelihood or its gradient is not finite. */
static bool loglik(sfa_problem *p, const double *theta, double *ll,
                   double *grad) {
  size_t n = p->n, k = p->k;
  double om = theta[k], ta = theta[k + 1];
  double mu = p->tr ? theta[k + 2] : 0.0;
  double eta = p->tv ? theta[k + 2 + (p->tr ? 1 : 0)] : 0.0;
  if (!isfinite(om) || !isfinite(ta) || !isfinite(mu) || !isfinite(eta))
    return false;
  double s2 = exp(om);
  /* gamma and 1 - gamma each from its own side, so neither cancels. */
  double gam = ta >= 0 ? 1.0 / (1.0 + exp(-ta)) : exp(ta) / (1.0 + exp(ta));
  double cgam = ta >= 0 ? exp(-ta) / (1.0 + exp(-ta)) : 1.0 / (1.0 + exp(ta));
  double a = gam * s2, v = cgam * s2;
  if (!(a > 0) || !(v > 0) || !isfinite(a) || !isfinite(v)) return false;

  /* e = y - X b */
  for (size_t i = 0; i < n; i++)
    p->e[i] = p->y->data[i * p->y->stride];
  cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, -1.0, p->X->data,
              (int)p->X->tda, theta, 1, 1.0, p->e, 1);

  double sa = sqrt(a), z0 = mu / sa;
  double lphi0 = log_Phi(z0), g0 = z0 + mills(z0);
  double sum = 0.0, dmu = 0.0, da = 0.0, dv = 0.0, deta = 0.0;
  for (size_t g = 0; g < p->G; g++) {
    size_t lo = p->start[g], hi = p->start[g + 1];
    if (lo == hi) continue;
    double T = (double)(hi - lo);
    double P = 0, S = 0, Q = 0, Pd = 0, Sd = 0;
    for (size_t j = lo; j < hi; j++) {
      size_t r = p->rows[j];
      double hh = p->tv ? exp(-eta * p->dt[r]) : 1.0, e = p->e[r];
      p->h[r] = hh;
      P += hh * e;
      S += hh * hh;
      Q += e * e;
      if (p->tv) {
        Pd -= p->dt[r] * hh * e;
        Sd -= 2.0 * p->dt[r] * hh * hh;
      }
    }
    double A = v + a * S, D = sqrt(a * v * A), N = mu * v - a * P;
    double z = N / D;
    sum += -0.5 * T * LN_2PI - 0.5 * (T - 1.0) * om -
           0.5 * (T - 1.0) * log(cgam) - 0.5 * log(A) - 0.5 * Q / v +
           0.5 * z * z - 0.5 * z0 * z0 + log_Phi(z) - lphi0;
    if (grad == NULL) continue;
    double gz = z + mills(z);
    double dP = -gz * a / D;
    double dS = -gz * z * a / (2.0 * A) - a / (2.0 * A);
    double dQ = -0.5 / v;
    if (p->tr) dmu += gz * v / D - g0 / sa;
    da += gz * (-P / D - z * (A + a * S) / (2.0 * a * A)) - S / (2.0 * A) +
          g0 * z0 / (2.0 * a);
    dv += gz * (mu / D - z * (A + v) / (2.0 * v * A)) - (T - 1.0) / (2.0 * v) -
          0.5 / A + Q / (2.0 * v * v);
    if (p->tv) deta += dP * Pd + dS * Sd;
    for (size_t j = lo; j < hi; j++) {
      size_t r = p->rows[j];
      p->w[r] = -(dP * p->h[r] + 2.0 * dQ * p->e[r]);
    }
  }
  *ll = sum;
  if (!isfinite(sum)) return false;
  if (grad == NULL) return true;
  cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)k, 1.0, p->X->data,
              (int)p->X->tda, p->w, 1, 0.0, grad, 1);
  grad[k] = da * a + dv * v;
  grad[k + 1] = da * a * cgam - dv * v * gam;
  size_t j = k + 2;
  if (p->tr) grad[j++] = dmu;
  if (p->tv) grad[j] = deta;
  for (size_t i = 0; i < p->np; i++)
    if (!isfinite(grad[i])) return false;
  return true;
}

/* ------------------------------------------------------------------------ */
/* The optimiser's objective: F = -ln L / n                                 */
/* ------------------------------------------------------------------------ */

/* theta = theta0 + L^-T zeta. */
static void to_theta(const sfa_problem *p, const gsl_vector *zeta,
                     double *theta) {
  for (size_t i = 0; i < p->np; i++)
    theta[i] = gsl_vector_get(zeta, i);
  cblas_dtrsv(CblasRowMajor, CblasLower, CblasTrans, CblasNonUnit, (int)p->np,
              p->L, (int)p->np, theta, 1);
  for (size_t i = 0; i < p->np; i++)
    theta[i] += p->theta0[i];
}

static double obj_f(const gsl_vector *x, void *params) {
  sfa_problem *p = params;
  double ll;
  to_theta(p, x, p->th);
  if (!loglik(p, p->th, &ll, NULL)) {
    p->bad = true;
    return BAD_OBJECTIVE;
  }
  return -ll / (double)p->n;
}

static void obj_fdf(const gsl_vector *x, void *params, double *f,
                    gsl_vector *g) {
  sfa_problem *p = params;
  double ll;
  to_theta(p, x, p->th);
  if (!loglik(p, p->th, &ll, g->data)) {
    /* Zero slope at a huge value: the line search backs off. */
    p->bad = true;
    *f = BAD_OBJECTIVE;
    gsl_vector_set_zero(g);
    return;
  }
  *f = -ll / (double)p->n;
  gsl_vector_scale(g, -1.0 / (double)p->n);
  /* dF/dzeta = L^-1 dF/dtheta. */
  cblas_dtrsv(CblasRowMajor, CblasLower, CblasNoTrans, CblasNonUnit, (int)p->np,
              p->L, (int)p->np, g->data, (int)g->stride);
}

static void obj_df(const gsl_vector *x, void *params, gsl_vector *g) {
  double f;
  obj_fdf(x, params, &f, g);
}

static double max_abs(const double *v, size_t m) {
  double r = 0.0;
  for (size_t i = 0; i < m; i++)
    r = fmax(r, fabs(v[i]));
  return r;
}

/* Hessian of F at theta by central differences of the analytic gradient
 * (step 1e-5 max(1, |theta_j|), near the cube root of the machine epsilon
 * that balances truncation against rounding), symmetrised. H is np x np.
 * theta is restored. Returns false when a gradient is not finite. */
static bool hessian(sfa_problem *p, double *theta, double *H, double *gp) {
  size_t np = p->np;
  double ll;
  for (size_t j = 0; j < np; j++) {
    double t = theta[j], hstep = 1e-5 * fmax(1.0, fabs(t));
    theta[j] = t + hstep;
    bool ok = loglik(p, theta, &ll, gp);
    theta[j] = t - hstep;
    ok = ok && loglik(p, theta, &ll, p->g2);
    theta[j] = t;
    if (!ok) return false;
    for (size_t i = 0; i < np; i++)
      H[i * np + j] = -(gp[i] - p->g2[i]) / (2.0 * hstep) / (double)p->n;
  }
  for (size_t i = 0; i < np; i++)
    for (size_t j = i + 1; j < np; j++) {
      double m = 0.5 * (H[i * np + j] + H[j * np + i]);
      H[i * np + j] = H[j * np + i] = m;
    }
  return true;
}

/* Cholesky factor of H in L (np x np, lower used); false if H is not
 * positive definite. */
static bool cholesky(size_t np, const double *H, double *L) {
  memcpy(L, H, np * np * sizeof *L);
  gsl_matrix_view m = gsl_matrix_view_array(L, np, np);
  return gsl_linalg_cholesky_decomp1(&m.matrix) == GSL_SUCCESS;
}

/* At theta: ln L (*ll), the gradient of F (grad), the Hessian H with its
 * Cholesky factor L, and the Newton step H^-1 grad (step; scratch gp).
 * Returns the Newton decrement grad' H^-1 grad, or NaN when the Hessian is
 * not positive definite or something is not finite. */
static double newton(sfa_problem *p, double *theta, double *H, double *L,
                     double *grad, double *step, double *gp, double *ll) {
  size_t np = p->np;
  if (!loglik(p, theta, ll, grad)) return NAN;
  for (size_t i = 0; i < np; i++)
    grad[i] = -grad[i] / (double)p->n;
  if (!hessian(p, theta, H, gp) || !cholesky(np, H, L)) return NAN;
  gsl_matrix_view Lm = gsl_matrix_view_array(L, np, np);
  gsl_vector_view gv = gsl_vector_view_array(grad, np);
  gsl_vector_view sv = gsl_vector_view_array(step, np);
  if (gsl_linalg_cholesky_solve(&Lm.matrix, &gv.vector, &sv.vector) !=
      GSL_SUCCESS)
    return NAN;
  double d = 0.0;
  for (size_t i = 0; i < np; i++)
    d += grad[i] * step[i];
  return isfinite(d) ? d : NAN;
}

/* ------------------------------------------------------------------------ */
/* Result                                                                   */
/* ------------------------------------------------------------------------ */

void core_sfa_result_free(core_sfa_result *r) {
  if (r == NULL) return;
  free(r->V);
  free(r->beta);
  free(r->se);
  free(r->z);
  free(r->p_value);
  free(r->xb);
  free(r->resid);
  free(r->efficiency);
  free(r->frontier);
  core_warnings_clear(&r->warnings);
  free(r);
}

static core_sfa_result *result_alloc(size_t n, size_t k, size_t np) {
  core_sfa_result *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  /* Never 0 bytes: core_sfa_fit passes n > k >= 1 and np = k + 2 or more
   * (problem_init refuses k = 0; the analyzer does not see that
   * core_err_set, variadic and in another file, returns its error code). */
  // NOLINTNEXTLINE(clang-analyzer-optin.portability.UnixAPI)
  r->V = malloc(np * np * sizeof *r->V);
  r->beta = malloc(k * sizeof *r->beta);
  r->se = malloc(k * sizeof *r->se);
  r->z = malloc(k * sizeof *r->z);
  r->p_value = malloc(k * sizeof *r->p_value);
  r->xb = malloc(n * sizeof *r->xb);
  r->resid = malloc(n * sizeof *r->resid);
  r->efficiency = malloc(n * sizeof *r->efficiency);
  r->frontier = malloc(n * sizeof *r->frontier);
  if (!r->V || !r->beta || !r->se || !r->z || !r->p_value || !r->xb ||
      !r->resid || !r->efficiency || !r->frontier) {
    core_sfa_result_free(r);
    return NULL;
  }
  return r;
}

/* Kodde and Palm (1986), Econometrica 54(5), Table 1: upper 5% and 1%
 * points of the mixed chi-square, df = 1..10. */
static const double KP05[10] = {2.706,  5.138,  7.045,  8.761,  10.371,
                                11.911, 13.401, 14.853, 16.274, 17.670};
static const double KP01[10] = {5.412,  8.273,  10.501, 12.483, 14.325,
                                16.074, 17.755, 19.383, 20.972, 22.525};

double core_sfa_kodde_palm(size_t df, double alpha) {
  if (df < 1 || df > 10) return NAN;
  if (alpha == 0.05) return KP05[df - 1];
  if (alpha == 0.01) return KP01[df - 1];
  return NAN;
}

double core_sfa_mixchisq_pvalue(double x, size_t df) {
  if (df < 1 || isnan(x)) return NAN;
  if (x <= 0.0) return 1.0;
  double lower = df == 1 ? 0.0 : core_chisq_pvalue(x, (double)(df - 1));
  return 0.5 * lower + 0.5 * core_chisq_pvalue(x, (double)df);
}

/* Efficiency, frontier and the fitted values at the final theta. */
static void fill_efficiency(sfa_problem *p, const double *theta,
                            core_sfa_result *r) {
  size_t k = p->k;
  double s2 = r->sigma2, a = r->gamma * s2, v = (1.0 - r->gamma) * s2;
  double mu = r->mu, eta = r->eta;
  for (size_t i = 0; i < p->n; i++) {
    double xb = 0.0;
    for (size_t j = 0; j < k; j++)
      xb += p->X->data[i * p->X->tda + j] * theta[j];
    r->xb[i] = xb;
    r->resid[i] = p->y->data[i * p->y->stride] - xb;
  }
  for (size_t g = 0; g < p->G; g++) {
    size_t lo = p->start[g], hi = p->start[g + 1];
    if (lo == hi) continue;
    double P = 0, S = 0;
    for (size_t j = lo; j < hi; j++) {
      size_t row = p->rows[j];
      double hh = p->tv ? exp(-eta * p->dt[row]) : 1.0;
      P += hh * r->resid[row];
      S += hh * hh;
    }
    double A = v + a * S;
    double ms = (mu * v - a * P) / A, ss = sqrt(a * v / A), zz = ms / ss;
    double lz = log_Phi(zz);
    for (size_t j = lo; j < hi; j++) {
      size_t row = p->rows[j];
      double hh = p->tv ? exp(-eta * p->dt[row]) : 1.0;
      double lte =
          log_Phi(zz - hh * ss) - lz - hh * ms + 0.5 * hh * hh * ss * ss;
      /* E[exp(-hu)] <= 1 exactly; rounding must not push it above. */
      double te = fmin(1.0, exp(lte));
      r->efficiency[row] = te;
      r->frontier[row] = exp(p->y->data[row * p->y->stride]) / te;
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Data checks                                                              */
/* ------------------------------------------------------------------------ */

static core_status check_values(const gsl_matrix *X, const gsl_vector *y,
                                bool has_intercept, size_t *icol,
                                core_err *err) {
  size_t n = X->size1, k = X->size2;
  for (size_t i = 0; i < n; i++) {
    bool bad = !isfinite(y->data[i * y->stride]);
    for (size_t j = 0; j < k && !bad; j++)
      bad = !isfinite(X->data[i * X->tda + j]);
    if (bad) {
      if (err != NULL && err->code == CORE_OK)
        core_err_set(err, CORE_EINVAL,
                     "row %zu has a non-finite value in y or X", i);
      core_err_add_row(err, i);
    }
  }
  if (err != NULL && err->code != CORE_OK) return err->code;
  *icol = SIZE_MAX;
  if (!has_intercept) return CORE_OK;
  *icol = core_constant_column(X);
  if (*icol == SIZE_MAX)
    return core_err_set(err, CORE_EINVAL,
                        "has_intercept is set but no column of X is a "
                        "non-zero constant");
  return CORE_OK;
}

core_status core_sfa_loglik(const gsl_matrix *X, const gsl_vector *y,
                            const core_sfa_spec *spec, const double *theta,
                            double *ll, double *grad, core_err *err) {
  core_err_clear(err);
  if (X == NULL || y == NULL || theta == NULL || ll == NULL)
    return core_err_set(err, CORE_EINVAL,
                        "X, y, theta and ll must not be NULL");
  const core_sfa_spec dflt = {0};
  const core_sfa_spec *s = spec != NULL ? spec : &dflt;
  sfa_problem p;
  size_t icol;
  core_status st = problem_init(&p, X, y, s, err);
  if (st == CORE_OK) st = check_values(X, y, false, &icol, err);
  if (st == CORE_OK && !loglik(&p, theta, ll, grad))
    st = core_err_set(err, CORE_EDOMAIN,
                      "the log-likelihood is not finite at theta");
  problem_free(&p);
  return st;
}

/* ------------------------------------------------------------------------ */
/* The fit                                                                  */
/* ------------------------------------------------------------------------ */

/* The answer when OLS residuals are not negatively skewed: OLS with
 * gamma = 0 (no inefficiency), as FRONTIER 4.1 reports it. */
static void wrong_skew_result(const core_ols_result *ols, sfa_problem *p,
                              core_sfa_result *r) {
  size_t k = p->k, np = p->np;
  for (size_t i = 0; i < np * np; i++)
    r->V[i] = NAN;
  for (size_t i = 0; i < k; i++) {
    r->beta[i] = ols->beta[i];
    r->se[i] = ols->se[i];
    r->z[i] = ols->t[i];
    r->p_value[i] = ols->p_value[i];
    for (size_t j = 0; j < k; j++)
      r->V[i * np + j] = ols->V[i * k + j];
  }
  r->sigma2 = ols->ssr / (double)p->n;
  r->gamma = 0.0;
  r->mu = r->eta = 0.0;
  r->se_sigma2 = r->se_gamma = r->se_mu = r->se_eta = NAN;
  r->sigma_u2 = 0.0;
  r->sigma_v2 = r->sigma2;
  r->lambda = 0.0;
  r->loglik = ols->loglik;
  r->lr = 0.0;
  r->lr_p_value = 1.0;
  r->grid_gamma = 0.0;
  for (size_t i = 0; i < p->n; i++) {
    r->xb[i] = ols->fitted[i];
    r->resid[i] = ols->resid[i];
    r->efficiency[i] = 1.0;
    r->frontier[i] = exp(p->y->data[i * p->y->stride]);
  }
}

/* Start: the FRONTIER 4.1 grid over gamma from OLS. Returns false when no
 * grid point has a finite ln L (*gamma is then NaN); otherwise theta
 * receives the best point and *gamma its gamma. */
static bool grid_start(sfa_problem *p, const core_ols_result *ols, size_t icol,
                       double *theta, double *trial, double *gamma) {
  size_t k = p->k, np = p->np;
  double s2ml = ols->ssr / (double)p->n, best = -INFINITY, bestg = NAN;
  bool found = false;
  for (int pass = 0; pass < 2; pass++) {
    double lo = 0.05, step = 0.05;
    int m = 19;
    if (pass == 1) {
      if (!found) break;
      lo = fmax(0.01, bestg - 0.04);
      step = 0.01;
      m = 9;
    }
    for (int q = 0; q < m; q++) {
      double gam = lo + step * q;
      if (gam >= 1.0) break;
      double s2 = s2ml / (1.0 - 2.0 * gam / M_PI);
      memset(trial, 0, np * sizeof *trial);
      memcpy(trial, ols->beta, k * sizeof *trial);
      if (icol != SIZE_MAX) trial[icol] += sqrt(2.0 * gam * s2 / M_PI);
      trial[k] = log(s2);
      trial[k + 1] = log(gam / (1.0 - gam));
      double ll;
      if (loglik(p, trial, &ll, NULL) && ll > best) {
        best = ll;
        bestg = gam;
        found = true;
        memcpy(theta, trial, np * sizeof *theta);
      }
    }
  }
  *gamma = bestg;
  return found;
}

core_status core_sfa_fit(const gsl_matrix *X, const gsl_vector *y,
                         bool has_intercept, const core_sfa_spec *spec,
                         core_sfa_result **out, core_err *err) {
  core_err_clear(err);
  if (out != NULL) *out = NULL;
  if (X == NULL || y == NULL || out == NULL)
    return core_err_set(err, CORE_EINVAL, "X, y and out must not be NULL");
  const core_sfa_spec dflt = {0};
  const core_sfa_spec *s = spec != NULL ? spec : &dflt;
  size_t max_iter = s->max_iter > 0 ? s->max_iter : CORE_SFA_MAX_ITER;
  double tol = s->tol > 0 ? s->tol : CORE_SFA_TOL;

  sfa_problem p;
  core_sfa_result *r = NULL;
  core_ols_result *ols = NULL;
  gsl_multimin_fdfminimizer *mz = NULL;
  gsl_vector *x0 = NULL;
  double *theta = NULL, *trial = NULL, *grad = NULL, *H = NULL, *L = NULL;
  double *step = NULL;
  size_t icol = SIZE_MAX;
  core_status st = problem_init(&p, X, y, s, err);
  if (st == CORE_OK) st = check_values(X, y, has_intercept, &icol, err);
  if (st != CORE_OK) goto cleanup;
  size_t n = p.n, k = p.k, np = p.np;

  st = core_ols_fit(X, y, has_intercept, NULL, 0.95, &ols, err);
  if (st != CORE_OK) goto cleanup;
  if (ols->k < k) {
    size_t j = 0;
    while (j < k && !ols->dropped[j])
      j++;
    st = core_err_set(err, CORE_ESINGULAR,
                      "column %zu of X is collinear with earlier columns", j);
    goto cleanup;
  }
  r = result_alloc(n, k, np);
  /* np >= 3: see result_alloc. */
  // NOLINTNEXTLINE(clang-analyzer-optin.portability.UnixAPI)
  theta = malloc(np * sizeof *theta);
  trial = malloc(np * sizeof *trial);
  grad = malloc(np * sizeof *grad);
  H = malloc(np * np * sizeof *H);
  L = malloc(np * np * sizeof *L);
  step = malloc(np * sizeof *step);
  x0 = gsl_vector_alloc(np);
  if (!r || !theta || !trial || !grad || !H || !L || !step || !x0) {
    st = core_err_set(err, CORE_ENOMEM, "out of memory");
    goto cleanup;
  }
  r->n = n;
  r->k = k;
  r->truncated = p.tr;
  r->time_varying = p.tv;
  r->n_par = np;
  r->n_groups = 0;
  for (size_t g = 0; g < p.G; g++)
    r->n_groups += p.start[g + 1] > p.start[g];
  r->loglik_ols = ols->loglik;
  r->lr_df = np - k - 1;
  r->lr_crit_05 = core_sfa_kodde_palm(r->lr_df, 0.05);
  r->lr_crit_01 = core_sfa_kodde_palm(r->lr_df, 0.01);

  /* Skewness of the OLS residuals: inefficiency makes them negatively
   * skewed; otherwise the MLE of gamma is 0 (Waldman 1982). */
  double m2 = ols->ssr / (double)n, m3 = 0.0;
  for (size_t i = 0; i < n; i++)
    m3 += ols->resid[i] * ols->resid[i] * ols->resid[i];
  m3 /= (double)n;
  double yy = 0.0;
  for (size_t i = 0; i < n; i++)
    yy += y->data[i * y->stride] * y->data[i * y->stride];
  r->ols_skewness = m2 > 0 ? m3 / pow(m2, 1.5) : 0.0;
  /* An exact fit up to rounding (relative residual below 1e-10). */
  if (!(ols->ssr > 1e-20 * yy)) {
    st = core_err_set(err, CORE_EINVAL,
                      "OLS fits y exactly: there is no noise to separate "
                      "from inefficiency");
    goto cleanup;
  }
  if (!(m3 < 0.0)) {
    wrong_skew_result(ols, &p, r);
    r->stop = CORE_SFA_WRONG_SKEW;
    if (core_warn(&r->warnings,
                  "the OLS residuals are not negatively skewed (skewness "
                  "%.4g): no inefficiency is identified, so the result is "
                  "the OLS fit with gamma = 0 and efficiency 1",
                  r->ols_skewness) != CORE_OK) {
      st = core_err_set(err, CORE_ENOMEM, "out of memory");
      goto cleanup;
    }
    *out = r;
    r = NULL;
    goto cleanup;
  }

  if (!grid_start(&p, ols, icol, theta, trial, &r->grid_gamma)) {
    st = core_err_set(err, CORE_ENOCONV,
                      "the log-likelihood is not finite at any start value "
                      "of the gamma grid");
    goto cleanup;
  }

  /* BFGS2 on F = -ln L / n. */
  gsl_multimin_function_fdf fn = {obj_f, obj_df, obj_fdf, np, &p};
  mz = gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2,
                                       np);
  if (mz == NULL) {
    st = core_err_set(err, CORE_ENOMEM, "out of memory");
    goto cleanup;
  }
  /* Preconditioner from the Hessian at the grid point; where that is not
   * positive definite (far from the optimum), its absolute diagonal; where
   * it could not be computed (a gradient is not finite there, so H was left
   * partly unwritten), the identity. */
  memcpy(p.theta0, theta, np * sizeof *theta);
  bool have_h = hessian(&p, theta, H, trial);
  bool pre = have_h && cholesky(np, H, p.L);
  for (size_t i = 0; i < np && pre; i++)
    for (size_t j = 0; j < np; j++)
      if (j > i) p.L[i * np + j] = 0.0;
  if (!pre) {
    memset(p.L, 0, np * np * sizeof *p.L);
    for (size_t i = 0; i < np; i++) {
      double d = have_h ? fabs(H[i * np + i]) : 0.0;
      p.L[i * np + i] = isfinite(d) && d > 0 ? sqrt(d) : 1.0;
    }
  }
  gsl_vector_set_zero(x0);
  p.bad = false;
  if (gsl_multimin_fdfminimizer_set(mz, &fn, x0, 0.01, 0.1) != GSL_SUCCESS ||
      p.bad) {
    st = core_err_set(err, CORE_EINTERNAL,
                      "the optimiser could not start at the grid point");
    goto cleanup;
  }
  size_t iter = 0;
  int gst = GSL_CONTINUE;
  bool limit = false, stalled = false;
  while (gst == GSL_CONTINUE) {
    if (iter >= max_iter) {
      limit = true;
      break;
    }
    iter++;
    int ist = gsl_multimin_fdfminimizer_iterate(mz);
    to_theta(&p, gsl_multimin_fdfminimizer_x(mz), theta);
    if (fabs(theta[k + 1]) > LOGIT_GAMMA_MAX || fabs(theta[k]) > LOG_SIGMA2_MAX)
      break;
    if (ist == GSL_ENOPROG) {
      stalled = true;
      break;
    }
    if (ist != GSL_SUCCESS) {
      st = core_err_set(err, CORE_EINTERNAL,
                        "the optimiser failed (GSL: %s) at iteration %zu",
                        gsl_strerror(ist), iter);
      goto cleanup;
    }
    /* In the preconditioned coordinates |g|^2 approximates the Newton
     * decrement g' H^-1 g of F. */
    double gn = gsl_blas_dnrm2(gsl_multimin_fdfminimizer_gradient(mz));
    gst = (double)n * gn * gn < tol ? GSL_SUCCESS : GSL_CONTINUE;
  }
  to_theta(&p, gsl_multimin_fdfminimizer_x(mz), theta);
  if (fabs(theta[k + 1]) > LOGIT_GAMMA_MAX || fabs(theta[k]) > LOG_SIGMA2_MAX) {
    st = core_err_set(err, CORE_ENOCONV,
                      "the estimates ran to the boundary (gamma = %.6g, "
                      "sigma^2 = %.6g) after %zu iterations: no interior "
                      "maximum",
                      1.0 / (1.0 + exp(-theta[k + 1])), exp(theta[k]), iter);
    goto cleanup;
  }
  if (limit) {
    st = core_err_set(err, CORE_ENOCONV,
                      "no convergence within %zu iterations (tolerance %.3g)",
                      max_iter, tol);
    goto cleanup;
  }
  (void)stalled;

  /* Newton polishing on the finite-difference Hessian: BFGS2's line search
   * can stall a little short of the optimum (GSL_ENOPROG); full Newton
   * steps (halved until F does not increase) take the decrement to rounding
   * level, and the last Hessian gives the variance. */
  double ll = 0.0, F = 0.0, dec = NAN;
  for (int it = 0; it <= NEWTON_MAX; it++) {
    dec = newton(&p, theta, H, L, grad, step, trial, &ll);
    if (isnan(dec) || dec * (double)n < tol * 1e-6 || it == NEWTON_MAX) break;
    F = -ll / (double)n;
    bool moved = false;
    /* Halving is exact in binary, so t runs 1, 1/2, ..., 2^-9: ten steps on
     * every machine. newton wrote step[] because it answered a number (a
     * NaN left the loop above), which the analyzer cannot tell. */
    // NOLINTNEXTLINE(cert-flp30-c)
    for (double t = 1.0; t > 1e-3 && !moved; t *= 0.5) {
      for (size_t i = 0; i < np; i++)
        // NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult)
        trial[i] = theta[i] - t * step[i];
      double lt;
      if (loglik(&p, trial, &lt, NULL) && -lt / (double)n <= F) {
        moved = true;
        memcpy(theta, trial, np * sizeof *theta);
      }
    }
    if (!moved) break;
    iter++;
  }
  r->iterations = iter;
  r->grad_max = max_abs(grad, np);
  r->decrement = dec * (double)n;
  if (isnan(dec)) {
    st = core_err_set(err, CORE_ENOCONV,
                      "the optimiser stopped after %zu iterations where the "
                      "Hessian of the log-likelihood is not negative definite "
                      "(gamma = %.6g, sigma^2 = %.6g): no strict maximum",
                      iter, 1.0 / (1.0 + exp(-theta[k + 1])), exp(theta[k]));
    goto cleanup;
  }
  if (!(r->decrement < tol)) {
    st = core_err_set(err, CORE_ENOCONV,
                      "the optimiser stopped after %zu iterations without "
                      "meeting the convergence test (n g'H^-1 g = %.3g, "
                      "tolerance %.3g)",
                      iter, r->decrement, tol);
    goto cleanup;
  }
  if (fabs(theta[k + 1]) > LOGIT_GAMMA_MAX || fabs(theta[k]) > LOG_SIGMA2_MAX) {
    st = core_err_set(err, CORE_ENOCONV,
                      "the estimates ran to the boundary of the parameter "
                      "space (gamma -> 0 or 1): no interior maximum");
    goto cleanup;
  }
  r->stop = CORE_SFA_CONVERGED;

  /* Estimates on the natural scale. */
  size_t jm = k + 2, je = k + 2 + (p.tr ? 1 : 0);
  r->sigma2 = exp(theta[k]);
  r->gamma = 1.0 / (1.0 + exp(-theta[k + 1]));
  r->mu = p.tr ? theta[jm] : 0.0;
  r->eta = p.tv ? theta[je] : 0.0;
  r->sigma_u2 = r->gamma * r->sigma2;
  r->sigma_v2 = r->sigma2 / (1.0 + exp(theta[k + 1]));
  r->lambda = sqrt(r->sigma_u2 / r->sigma_v2);
  r->loglik = ll;
  r->lr = fmax(0.0, 2.0 * (ll - r->loglik_ols));
  r->lr_p_value = core_sfa_mixchisq_pvalue(r->lr, r->lr_df);
  memcpy(r->beta, theta, k * sizeof *theta);

  /* Variance: (n H)^-1 in theta, then J V J with J = diag(1 for b, mu,
   * eta; s^2 for ln s^2; gamma (1 - gamma) for logit gamma). */
  /* L holds the Cholesky factor of H at theta (from the last newton()). */
  gsl_matrix_view Lm = gsl_matrix_view_array(L, np, np);
  bool have_v = gsl_linalg_cholesky_invert(&Lm.matrix) == GSL_SUCCESS;
  if (have_v) {
    double *J = step;
    for (size_t i = 0; i < np; i++)
      J[i] = 1.0;
    J[k] = r->sigma2;
    J[k + 1] = r->gamma * (1.0 - r->gamma);
    for (size_t i = 0; i < np; i++)
      for (size_t j = 0; j < np; j++)
        r->V[i * np + j] = J[i] * J[j] * L[i * np + j] / (double)n;
    for (size_t i = 0; i < np * np && have_v; i++)
      have_v = isfinite(r->V[i]);
  }
  if (!have_v) {
    st = core_err_set(err, CORE_EINTERNAL,
                      "the Hessian could not be inverted at the estimates");
    goto cleanup;
  }
  for (size_t j = 0; j < k; j++) {
    r->se[j] = sqrt(r->V[j * np + j]);
    r->z[j] = r->beta[j] / r->se[j];
    r->p_value[j] = core_t_pvalue(r->z[j], INFINITY);
  }
  r->se_sigma2 = sqrt(r->V[k * np + k]);
  r->se_gamma = sqrt(r->V[(k + 1) * np + k + 1]);
  r->se_mu = p.tr ? sqrt(r->V[jm * np + jm]) : NAN;
  r->se_eta = p.tv ? sqrt(r->V[je * np + je]) : NAN;

  fill_efficiency(&p, theta, r);
  *out = r;
  r = NULL;

cleanup:
  if (mz != NULL) gsl_multimin_fdfminimizer_free(mz);
  if (x0 != NULL) gsl_vector_free(x0);
  free(theta);
  free(trial);
  free(grad);
  free(H);
  free(L);
  free(step);
  core_ols_result_free(ols);
  core_sfa_result_free(r);
  problem_free(&p);
  return st;
}
