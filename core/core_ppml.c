/* PPML by IRLS with an optional weighted within-transformation over any
 * number of fixed effects (the ppmlhdfe approach), separation checks and
 * sandwich variances (see core_ppml.h and METHODS.md section 5). */
#include "core_ppml.h"

#include "core_mem.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

#include "core_hdfe.h"
#include "core_ols.h"

/* A column whose weighted norm after demeaning is below this fraction of
 * its weighted norm before is absorbed by the fixed effects (the same
 * threshold as R's lm for collinear columns). */
#define ABSORBED_TOL 1e-7

/* The QR of a step is rank deficient when some |R_jj| falls below this
 * fraction of the norm of its column (far looser than the choice of columns
 * made at the start, so only a real loss of rank stops the fit). */
#define STEP_RANK_TOL 1e-11

/* Loosest demeaning tolerance, used in the first IRLS steps (ppmlhdfe). */
#define FE_TOL_START 1e-4

/* Most halvings of a step whose mean overflows. */
#define MAX_HALVINGS 30

static const char CONV_RULE[] =
    "|D_k - D_{k-1}| / max(min(D_k, D_{k-1}), 0.1) <= tolerance, D the "
    "deviance";

/* ------------------------------------------------------------------------ */
/* Options, names, result                                                   */
/* ------------------------------------------------------------------------ */

void core_ppml_options_init(core_ppml_options *o) {
  if (o == NULL) return;
  memset(o, 0, sizeof *o);
  o->tol = CORE_PPML_DEFAULT_TOL;
  o->max_iter = CORE_PPML_DEFAULT_MAX_ITER;
  o->fe_tol = CORE_PPML_DEFAULT_FE_TOL;
  o->fe_max_iter = CORE_HDFE_DEFAULT_MAX_ITER;
  o->drop_singletons = true;
  o->separation_fe = true;
  o->separation_relu = true;
  o->relu_tol = 1e-4;
  o->relu_max_iter = 100;
  o->vcov = CORE_PPML_VCOV_ROBUST;
  o->level = 0.95;
}

const char *core_ppml_drop_name(core_ppml_drop d) {
  switch (d) {
  case CORE_PPML_KEPT: return "kept";
  case CORE_PPML_DROP_SINGLETON: return "singleton";
  case CORE_PPML_DROP_FE_ZERO: return "fe_zero";
  case CORE_PPML_DROP_SEPARATED: return "separated";
  case CORE_PPML_DROP_NO_LEVEL: return "no_level";
  }
  return "unknown";
}

void core_ppml_result_free(core_ppml_result *r) {
  if (r == NULL) return;
  free(r->drop_reason);
  free(r->row);
  free(r->dropped);
  free(r->beta);
  free(r->se);
  free(r->z);
  free(r->p_value);
  free(r->ci_low);
  free(r->ci_high);
  free(r->V);
  free(r->mu);
  free(r->eta);
  if (r->fe != NULL)
    for (size_t f = 0; f < r->nf; f++)
      free(r->fe[f]);
  free(r->fe);
  free(r->fe_levels);
  free(r);
}

/* ------------------------------------------------------------------------ */
/* Validation                                                               */
/* ------------------------------------------------------------------------ */

static core_status check_options(const core_ppml_options *o, size_t n,
                                 core_err *err) {
  if (!(o->tol > 0.0) || !isfinite(o->tol))
    return core_err_set(err, CORE_EINVAL, "tolerance %g is not > 0", o->tol);
  if (o->max_iter < 1)
    return core_err_set(err, CORE_EINVAL, "max_iter must be at least 1");
  if (!(o->fe_tol > 0.0) || !isfinite(o->fe_tol))
    return core_err_set(err, CORE_EINVAL,
                        "fixed-effect tolerance %g is not > 0", o->fe_tol);
  if (o->fe_max_iter < 1)
    return core_err_set(err, CORE_EINVAL, "fe_max_iter must be at least 1");
  if (o->separation_relu &&
      (!(o->relu_tol > 0.0 && o->relu_tol < 1.0) || o->relu_max_iter < 1))
    return core_err_set(err, CORE_EINVAL,
                        "relu_tol must be in (0, 1) and relu_max_iter >= 1");
  if (!(o->level > 0.0 && o->level < 1.0))
    return core_err_set(err, CORE_EINVAL,
                        "confidence level %g is not strictly between 0 and 1",
                        o->level);
  if (o->vcov != CORE_PPML_VCOV_ROBUST && o->vcov != CORE_PPML_VCOV_CLASSICAL &&
      o->vcov != CORE_PPML_VCOV_CLUSTER)
    return core_err_set(err, CORE_EINVAL, "unknown variance kind %d",
                        (int)o->vcov);
  if (o->vcov != CORE_PPML_VCOV_CLUSTER) return CORE_OK;
  if (o->cluster_ways < 1 || o->cluster_ways > 2)
    return core_err_set(err, CORE_EINVAL,
                        "cluster variance needs 1 or 2 cluster ways, got %zu",
                        o->cluster_ways);
  for (size_t w = 0; w < o->cluster_ways; w++) {
    if (o->cluster[w] == NULL)
      return core_err_set(err, CORE_EINVAL,
                          "cluster variance requested without cluster ids "
                          "(way %zu)",
                          w + 1);
    if (o->n_clusters[w] < 2 || o->n_clusters[w] > n)
      return core_err_set(err, CORE_EINVAL,
                          "way %zu declares %zu clusters: need 2..n = %zu",
                          w + 1, o->n_clusters[w], n);
    for (size_t i = 0; i < n; i++)
      if (o->cluster[w][i] >= o->n_clusters[w]) {
        core_err_set(err, CORE_EINVAL,
                     "cluster id %zu in row %zu is not below n_clusters = %zu",
                     o->cluster[w][i], i, o->n_clusters[w]);
        core_err_add_row(err, i);
        return CORE_EINVAL;
      }
  }
  return CORE_OK;
}

static core_status check_data(const gsl_matrix *X, const gsl_vector *y,
                              bool has_intercept, const core_ppml_fe *fe,
                              core_err *err) {
  size_t n = X->size1, p = X->size2;
  if (y->size != n)
    return core_err_set(err, CORE_EINVAL,
                        "y has %zu entries but X has %zu rows", y->size, n);
  if (n == 0 || p == 0)
    return core_err_set(err, CORE_ETOOFEW,
                        "no data (n = %zu rows, p = %zu columns)", n, p);
  if (n > INT_MAX || p > 4096 || n > SIZE_MAX / sizeof(double) / p)
    return core_err_set(err, CORE_EINVAL, "X is too large (%zu x %zu)", n, p);
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    double v = y->data[i * y->stride];
    if (!isfinite(v)) {
      if (bad++ == 0)
        core_err_set(err, CORE_EINVAL, "y is not finite in row %zu", i);
      core_err_add_row(err, i);
    }
  }
  if (bad) return CORE_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (y->data[i * y->stride] < 0.0) {
      if (bad++ == 0)
        core_err_set(err, CORE_EINVAL,
                     "PPML needs y >= 0 (levels, zeros allowed): y = %g in "
                     "row %zu",
                     y->data[i * y->stride], i);
      core_err_add_row(err, i);
    }
  if (bad) {
    if (err != NULL && bad > 1) {
      size_t len = strlen(err->msg);
      snprintf(err->msg + len, sizeof err->msg - len,
               " and %zu more rows with y < 0", bad - 1);
    }
    return CORE_EINVAL;
  }
  core_status st = core_check_design(X, has_intercept, err);
  if (st != CORE_OK) return st;
  if (fe == NULL || fe->nf == 0) return CORE_OK;
  if (fe->nf > CORE_PPML_MAX_FACTORS || fe->nf > CORE_HDFE_MAX_FACTORS)
    return core_err_set(err, CORE_EINVAL, "%zu factors given, at most %d",
                        fe->nf, CORE_PPML_MAX_FACTORS);
  if (fe->levels == NULL || fe->n_levels == NULL)
    return core_err_set(err, CORE_EINVAL,
                        "fixed effects without level ids or level counts");
  for (size_t f = 0; f < fe->nf; f++) {
    if (fe->levels[f] == NULL)
      return core_err_set(err, CORE_EINVAL, "factor %zu has no level ids", f);
    for (size_t i = 0; i < n; i++) {
      size_t l = fe->levels[f][i];
      if (l != CORE_PPML_NO_LEVEL && l >= fe->n_levels[f]) {
        core_err_set(err, CORE_EINVAL,
                     "factor %zu: level id %zu in row %zu is not below "
                     "n_levels = %zu",
                     f, l, i, fe->n_levels[f]);
        core_err_add_row(err, i);
        return CORE_EINVAL;
      }
    }
  }
  return CORE_OK;
}

/* ------------------------------------------------------------------------ */
/* Weighted least squares by QR                                             */
/* ------------------------------------------------------------------------ */

/* Workspace of weighted least squares on m rows and k columns (allocated
 * once per fit, reused by every step). */
typedef struct wls {
  size_t m, k;
  gsl_matrix *A; /* m x k: sqrt(w) x, then its QR (a view of Ad) */
  gsl_matrix *T; /* k x k block reflector */
  gsl_vector *b; /* m: sqrt(w) z, then Q'b (a view of bd) */
  double *Ad, *bd;
  gsl_matrix_view Av;
  gsl_vector_view bv;
  gsl_vector *work;
  double *cnorm; /* k */
} wls;

static void wls_free(wls *s) {
  free(s->Ad);
  free(s->bd);
  if (s->T) gsl_matrix_free(s->T);
  if (s->work) gsl_vector_free(s->work);
  free(s->cnorm);
  memset(s, 0, sizeof *s);
}

static bool wls_alloc(wls *s, size_t m, size_t k) {
  memset(s, 0, sizeof *s);
  s->m = m;
  s->k = k;
  if (k == 0) return true;
  s->Ad = core_alloc(m * k, sizeof *s->Ad);
  s->bd = core_alloc(m, sizeof *s->bd);
  s->T = gsl_matrix_alloc(k, k);
  s->work = gsl_vector_alloc(k);
  s->cnorm = malloc(k * sizeof *s->cnorm);
  if (!s->Ad || !s->bd || !s->T || !s->work || !s->cnorm) {
    wls_free(s);
    return false;
  }
  s->Av = gsl_matrix_view_array(s->Ad, m, k);
  s->bv = gsl_vector_view_array(s->bd, m);
  s->A = &s->Av.matrix;
  s->b = &s->bv.vector;
  return true;
}

/* Factorises sqrt(w) [cols] (columns are m arrays) into s->A/T. Returns
 * CORE_ESINGULAR when some |R_jj| is negligible against its column. */
static core_status wls_factor(wls *s, double *const *cols, const double *w,
                              core_err *err) {
  size_t m = s->m, k = s->k;
  for (size_t j = 0; j < k; j++)
    s->cnorm[j] = 0.0;
  for (size_t i = 0; i < m; i++) {
    double sw = sqrt(w[i]);
    double *row = s->A->data + i * s->A->tda;
    for (size_t j = 0; j < k; j++) {
      row[j] = sw * cols[j][i];
      s->cnorm[j] += row[j] * row[j];
    }
  }
  /* The column norms (for the rank check below) from the sums of squares
   * taken in passing; the scaled BLAS norm where those overflow or
   * underflow. */
  for (size_t j = 0; j < k; j++) {
    double ssj = s->cnorm[j];
    s->cnorm[j] = (isfinite(ssj) && ssj > 1e-280)
                      ? sqrt(ssj)
                      : cblas_dnrm2((int)m, s->A->data + j, (int)s->A->tda);
  }
  if (gsl_linalg_QR_decomp_r(s->A, s->T) != GSL_SUCCESS)
    return core_err_set(err, CORE_EINTERNAL, "QR decomposition failed");
  for (size_t j = 0; j < k; j++) {
    double r = fabs(gsl_matrix_get(s->A, j, j));
    if (!(r > STEP_RANK_TOL * s->cnorm[j]) || !isfinite(r))
      return core_err_set(err, CORE_ESINGULAR,
                          "the weighted design lost rank during IRLS "
                          "(column %zu of the kept regressors)",
                          j);
  }
  return CORE_OK;
}

/* Solves for beta (k) with the factorisation of wls_factor and z (m). */
static core_status wls_solve(wls *s, const double *z, const double *w,
                             double *beta, core_err *err) {
  size_t m = s->m, k = s->k;
  for (size_t i = 0; i < m; i++)
    s->b->data[i * s->b->stride] = sqrt(w[i]) * z[i];
  if (gsl_linalg_QR_QTvec_r(s->A, s->T, s->b, s->work) != GSL_SUCCESS)
    return core_err_set(err, CORE_EINTERNAL, "applying Q' failed");
  for (size_t j = 0; j < k; j++)
    beta[j] = s->b->data[j * s->b->stride];
  cblas_dtrsv(CblasRowMajor, CblasUpper, CblasNoTrans, CblasNonUnit, (int)k,
              s->A->data, (int)s->A->tda, beta, 1);
  for (size_t j = 0; j < k; j++)
    if (!isfinite(beta[j]))
      return core_err_set(err, CORE_ESINGULAR,
                          "the weighted least-squares step is not finite");
  return CORE_OK;
}

/* Cholesky pivots below this fraction of the column's squared weighted norm
 * (|R_jj| below 1e-5 of its norm) send the step to the QR path, which makes
 * the rank decision (STEP_RANK_TOL) on accurate numbers. */
#define CHOL_PIVOT_TOL 1e-10

/* One IRLS step by the weighted normal equations: G = X'WX and X'Wz in one
 * pass over the rows, Cholesky, then one round of iterative refinement
 * with the residual z - X b (Bjorck's corrected semi-normal equations),
 * which brings the solution to the accuracy of a QR solve for designs with
 * a condition number up to about 1e7. fixest and ppmlhdfe solve their IRLS
 * steps this way. G (k*k), g (k), d (k) and r (m) are scratch. Returns
 * false, with beta unspecified, when a pivot is small or not finite: the
 * caller then takes the QR path (wls_factor/wls_solve). */
static bool chol_step(size_t m, size_t k, double *const *cols, const double *w,
                      const double *z, double *beta, double *G, double *g,
                      double *d, double *r) {
  memset(G, 0, k * k * sizeof *G);
  memset(g, 0, k * sizeof *g);
  for (size_t i = 0; i < m; i++) {
    double wi = w[i];
    for (size_t a = 0; a < k; a++) {
      double wa = wi * cols[a][i];
      g[a] += wa * z[i];
      for (size_t b = 0; b <= a; b++)
        G[a * k + b] += wa * cols[b][i];
    }
  }
  /* In-place Cholesky G = L L' (lower triangle). */
  if (!core_cholesky(G, k, CHOL_PIVOT_TOL)) return false;
  for (int pass = 0; pass < 2; pass++) {
    double *x = pass == 0 ? beta : d;
    if (pass == 1) {
      /* Refinement: the right-hand side X'W (z - X b). */
      memset(g, 0, k * sizeof *g);
      for (size_t i = 0; i < m; i++) {
        double v = z[i];
        for (size_t a = 0; a < k; a++)
          v -= beta[a] * cols[a][i];
        r[i] = v;
      }
      for (size_t i = 0; i < m; i++) {
        double wr = w[i] * r[i];
        for (size_t a = 0; a < k; a++)
          g[a] += wr * cols[a][i];
      }
    }
    for (size_t a = 0; a < k; a++) { /* L y = g */
      double v = g[a];
      for (size_t b = 0; b < a; b++)
        v -= G[a * k + b] * x[b];
      x[a] = v / G[a * k + a];
    }
    for (size_t a = k; a-- > 0;) { /* L' x = y */
      double v = x[a];
      for (size_t b = a + 1; b < k; b++)
        v -= G[b * k + a] * x[b];
      x[a] = v / G[a * k + a];
    }
  }
  for (size_t a = 0; a < k; a++) {
    beta[a] += d[a];
    if (!isfinite(beta[a])) return false;
  }
  return true;
}

/* r = z - sum_j beta_j cols[j] (m values). */
static void residual(size_t m, size_t k, double *const *cols,
                     const double *beta, const double *z, double *r) {
  memcpy(r, z, m * sizeof *r);
  for (size_t j = 0; j < k; j++)
    cblas_daxpy((int)m, -beta[j], cols[j], 1, r, 1);
}

/* ------------------------------------------------------------------------ */
/* The fit context                                                          */
/* ------------------------------------------------------------------------ */

typedef struct ctx {
  size_t n, p, nf;
  const gsl_matrix *X;
  const gsl_vector *y;
  const core_ppml_fe *fe;
  const core_ppml_options *o;
  core_ppml_drop *reason; /* n */
  bool *keep;             /* n */
  core_warnings *warn;
  core_err *err;
  size_t fe_iter_max; /* most demeaning iterations seen */
} ctx;

static double yv(const ctx *c, size_t i) {
  return c->y->data[i * c->y->stride];
}

static core_status demean(ctx *c, core_hdfe *h, double *const *cols, size_t k,
                          const double *w, double tol) {
  if (k == 0) return CORE_OK;
  core_hdfe_opts ho = {tol, c->o->fe_max_iter};
  core_hdfe_info info;
  core_status st = core_hdfe_demean(h, cols, k, w, &ho, &info, c->err);
  if (info.iterations > c->fe_iter_max) c->fe_iter_max = info.iterations;
  if (st == CORE_ENOCONV)
    return core_err_set(c->err, CORE_ENOCONV,
                        "the weighted demeaning did not converge in %zu "
                        "iterations (last relative change %g, tolerance %g)",
                        c->o->fe_max_iter, info.max_change, tol);
  return st;
}

/* Drops rows of fixed-effect levels whose y are all zero and singletons,
 * repeatedly, among the rows still kept. */
static core_status drop_fe_rows(ctx *c, bool *changed_out) {
  size_t n = c->n, nf = c->nf;
  const core_ppml_fe *fe = c->fe;
  double *sum = NULL;
  bool *before = NULL;
  core_status st = CORE_OK;
  size_t maxl = 0;
  for (size_t f = 0; f < nf; f++)
    if (fe->n_levels[f] > maxl) maxl = fe->n_levels[f];
  sum = malloc((maxl ? maxl : 1) * sizeof *sum);
  before = core_alloc(n, sizeof *before);
  if (!sum || !before) {
    st = core_err_set(c->err, CORE_ENOMEM, "out of memory for PPML");
    goto cleanup;
  }
  *changed_out = false;
  for (;;) {
    bool changed = false;
    if (c->o->separation_fe)
      for (size_t f = 0; f < nf; f++) {
        const size_t *lv = fe->levels[f];
        memset(sum, 0, fe->n_levels[f] * sizeof *sum);
        for (size_t i = 0; i < n; i++)
          if (c->keep[i]) sum[lv[i]] += yv(c, i);
        for (size_t i = 0; i < n; i++)
          if (c->keep[i] && sum[lv[i]] == 0.0) {
            c->keep[i] = false;
            c->reason[i] = CORE_PPML_DROP_FE_ZERO;
            changed = true;
          }
      }
    if (c->o->drop_singletons) {
      memcpy(before, c->keep, n * sizeof *before);
      size_t nd = 0;
      st = core_hdfe_drop_singletons(n, nf, fe->levels, fe->n_levels, c->keep,
                                     &nd, c->err);
      if (st != CORE_OK) goto cleanup;
      for (size_t i = 0; i < n; i++)
        if (before[i] && !c->keep[i]) {
          c->reason[i] = CORE_PPML_DROP_SINGLETON;
          changed = true;
        }
    }
    if (!changed) break;
    *changed_out = true;
  }
cleanup:
  free(sum);
  free(before);
  return st;
}

/* Copies the kept rows of column j of X into dst (m values). */
static void gather_col(const ctx *c, size_t j, const size_t *rows, size_t m,
                       double *dst) {
  for (size_t i = 0; i < m; i++)
    dst[i] = c->X->data[rows[i] * c->X->tda + j];
}

/* ss[j] = sum_i w_i x_ij^2 over the kept rows, for the p columns of X (one
 * pass over its rows). */
static void weighted_ss(const ctx *c, const size_t *rows, size_t m,
                        const double *w, double *ss) {
  size_t p = c->p;
  for (size_t j = 0; j < p; j++)
    ss[j] = 0.0;
  for (size_t i = 0; i < m; i++) {
    const double *xr = c->X->data + rows[i] * c->X->tda;
    for (size_t j = 0; j < p; j++)
      ss[j] += w[i] * xr[j] * xr[j];
  }
}

/* Chooses the estimable columns among p: those whose weighted norm survives
 * the demeaning (xd, demeaned with weights w, against ss, the weighted sums
 * of squares of the originals, weighted_ss), then R's rule on sqrt(w) xd
 * (core_ols_fit). use[j] says whether column j is kept; *k_out counts
 * them. */
static core_status choose_columns(ctx *c, size_t m, const double *ss,
                                  double *const *xd, const double *w, bool *use,
                                  size_t *k_out) {
  size_t p = c->p, kc = 0;
  core_status st = CORE_OK;
  for (size_t j = 0; j < p; j++) {
    double a = ss[j], b = 0.0;
    for (size_t i = 0; i < m; i++)
      /* core_ppml_fit set xd[0..p) before this call; the analyzer loses
       * c->p == p once &c has been passed to other functions. */
      // NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
      b += w[i] * xd[j][i] * xd[j][i];
    use[j] = a > 0.0 && sqrt(b) >= ABSORBED_TOL * sqrt(a);
    if (use[j]) kc++;
  }
  *k_out = 0;
  if (kc == 0) return CORE_OK;
  double *A = core_alloc(m * kc, sizeof *A); /* sqrt(w) xd, column-major */
  double **ac = malloc(kc * sizeof *ac);
  bool *drop = malloc(kc * sizeof *drop);
  if (!A || !ac || !drop) {
    st = core_err_set(c->err, CORE_ENOMEM, "out of memory for PPML");
    goto cleanup;
  }
  for (size_t j = 0, a = 0; j < p; j++)
    if (use[j]) {
      double *col = A + a * m;
      const double *src = xd[j];
      for (size_t i = 0; i < m; i++)
        col[i] = sqrt(w[i]) * src[i];
      ac[a++] = col;
    }
  if (m <= kc) {
    st = core_err_set(c->err, CORE_ETOOFEW,
                      "too few observations: %zu rows for %zu regressors", m,
                      kc);
    goto cleanup;
  }
  size_t rank = 0;
  st = core_ols_rank_scratch(ac, m, kc, drop, &rank, c->err);
  if (st != CORE_OK) goto cleanup;
  /* rank 0 (every remaining column is zero): none is estimable. */
  size_t a = 0, k = 0;
  for (size_t j = 0; j < p; j++)
    if (use[j]) {
      if (drop[a]) use[j] = false;
      a++;
    }
  for (size_t j = 0; j < p; j++)
    k += use[j];
  *k_out = k;
cleanup:
  free(A);
  free(ac);
  free(drop);
  return st;
}

/* Indices of kept rows. */
static size_t kept_rows(const ctx *c, size_t *rows) {
  size_t m = 0;
  for (size_t i = 0; i < c->n; i++)
    if (c->keep[i]) rows[m++] = i;
  return m;
}

/* ------------------------------------------------------------------------ */
/* Separation: the iterative rectifier                                      */
/* ------------------------------------------------------------------------ */

/* One pass of the iterative rectifier (Correia, Guimaraes & Zylkin 2019;
 * ppmlhdfe's separation(ir)) over the kept rows: U = 1(y = 0); weighted
 * least squares of U on X (and the effects) with weight 1 on zeros and
 * K = (positives) / tol^2 on positives; fitted values within (-0.1 tol,
 * tol) and those of positive rows are set to 0; when every fitted value is
 * >= 0 the rows with a positive one are separated, else U = max(fitted, 0)
 * on the zeros and repeat. Marks separated rows dropped; *n_sep counts.
 * When no row was separated, the fixed-effect structure it built on the
 * kept rows is handed to *h_keep (else *h_keep stays NULL): the fit that
 * follows on the same rows re-uses it. rows is scratch for n row indices.
 */
static core_status relu_pass(ctx *c, size_t *rows, size_t *n_sep,
                             core_hdfe **h_keep) {
  size_t n = c->n, p = c->p, nf = c->nf;
  core_status st = CORE_OK;
  double *blockd = NULL, *w = NULL, *U = NULL, *Ud = NULL;
  double *uhat = NULL, *beta = NULL, *ss = NULL;
  double **xd = NULL, **xk = NULL;
  bool *use = NULL;
  core_hdfe *h = NULL;
  wls s = {0};
  *n_sep = 0;
  *h_keep = NULL;

  size_t m = kept_rows(c, rows);
  size_t npos = 0;
  for (size_t i = 0; i < m; i++)
    npos += yv(c, rows[i]) > 0.0;
  if (npos == m || m == 0) goto cleanup; /* no zeros: nothing to separate */

  blockd = core_alloc(m * p, sizeof *blockd);
  ss = malloc(p * sizeof *ss);
  xd = malloc(p * sizeof *xd);
  xk = malloc(p * sizeof *xk);
  use = malloc(p * sizeof *use);
  w = core_alloc(m, sizeof *w);
  beta = malloc(p * sizeof *beta);
  if (!blockd || !ss || !xd || !xk || !use || !w || !beta) goto nomem;
  for (size_t j = 0; j < p; j++) {
    xd[j] = blockd + j * m;
    gather_col(c, j, rows, m, xd[j]);
  }
  if (nf > 0) {
    st = core_hdfe_alloc(n, nf, c->fe->levels, c->fe->n_levels, c->keep, &h,
                         c->err);
    if (st != CORE_OK) goto cleanup;
  }
  /* The columns are chosen with unit weights (collinearity does not depend
   * on positive weights), then demeaned again with the rectifier's. */
  for (size_t i = 0; i < m; i++)
    w[i] = 1.0;
  weighted_ss(c, rows, m, w, ss);
  if (nf > 0) {
    st = demean(c, h, xd, p, w, c->o->fe_tol);
    if (st != CORE_OK) goto cleanup;
  }
  size_t k = 0;
  st = choose_columns(c, m, ss, xd, w, use, &k);
  if (st != CORE_OK) goto cleanup;
  double tol = c->o->relu_tol;
  double K = (double)npos / (tol * tol);
  for (size_t i = 0; i < m; i++)
    w[i] = yv(c, rows[i]) > 0.0 ? K : 1.0;
  size_t a = 0;
  for (size_t j = 0; j < p; j++)
    if (use[j]) xk[a++] = xd[j];
  if (nf > 0) {
    for (size_t j = 0; j < p; j++)
      if (use[j]) gather_col(c, j, rows, m, xd[j]);
    st = demean(c, h, xk, k, w, c->o->fe_tol);
    if (st != CORE_OK) goto cleanup;
  }
  /* Allocated after the column choice (its scratch is freed by then): the
   * peak memory of the pass. */
  U = core_alloc(m, sizeof *U);
  Ud = core_alloc(m, sizeof *Ud);
  uhat = core_alloc(m, sizeof *uhat);
  if (!U || !Ud || !uhat || !wls_alloc(&s, m, k)) goto nomem;
  if (k > 0) {
    st = wls_factor(&s, xk, w, c->err);
    if (st != CORE_OK) goto cleanup;
  }
  for (size_t i = 0; i < m; i++)
    U[i] = Ud[i] = yv(c, rows[i]) > 0.0 ? 0.0 : 1.0;
  bool converged = false;
  size_t it;
  for (it = 1; it <= c->o->relu_max_iter; it++) {
    /* Fitted values of U: U - (Ud - Xd b), Ud the demeaned U (started from
     * the previous demeaned U shifted by the change of U). */
    if (nf > 0) {
      double *cols1[1] = {Ud};
      st = demean(c, h, cols1, 1, w, c->o->fe_tol);
      if (st != CORE_OK) goto cleanup;
    }
    if (k > 0) {
      st = wls_solve(&s, Ud, w, beta, c->err);
      if (st != CORE_OK) goto cleanup;
      residual(m, k, xk, beta, Ud, uhat);
    } else {
      memcpy(uhat, Ud, m * sizeof *uhat);
    }
    bool all_nonneg = true;
    for (size_t i = 0; i < m; i++) {
      double v = U[i] - uhat[i];
      if (yv(c, rows[i]) > 0.0 || (v > -0.1 * tol && v < tol)) v = 0.0;
      uhat[i] = v;
      if (v < 0.0) all_nonneg = false;
    }
    if (all_nonneg) {
      converged = true;
      break;
    }
    for (size_t i = 0; i < m; i++) {
      double u = uhat[i] > 0.0 ? uhat[i] : 0.0;
      Ud[i] += u - U[i];
      U[i] = u;
    }
  }
  if (!converged) {
    st = core_warn(c->warn,
                   "the iterative rectifier separation check did not "
                   "converge in %zu iterations; no row was dropped for "
                   "separation by the regressors",
                   c->o->relu_max_iter);
    goto cleanup;
  }
  for (size_t i = 0; i < m; i++)
    if (uhat[i] > 0.0) {
      c->keep[rows[i]] = false;
      c->reason[rows[i]] = CORE_PPML_DROP_SEPARATED;
      (*n_sep)++;
    }
  if (*n_sep == 0) {
    *h_keep = h;
    h = NULL;
  }
  goto cleanup;
nomem:
  st = core_err_set(c->err, CORE_ENOMEM, "out of memory for PPML");
cleanup:
  wls_free(&s);
  core_hdfe_free(h);
  free(blockd);
  free(ss);
  free(xd);
  free(xk);
  free(use);
  free(w);
  free(U);
  free(Ud);
  free(uhat);
  free(beta);
  return st;
}

/* ------------------------------------------------------------------------ */
/* Variance                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct key_idx {
  size_t key, idx;
} key_idx;

static int cmp_key(const void *a, const void *b) {
  const key_idx *x = a, *y = b;
  return (x->key > y->key) - (x->key < y->key);
}

/* adj * sum_g u_g u_g' into M (k x k, accumulated with sign), u_g the sum
 * of the scores x[a][i] e[i] over cluster g; ids in 0..G-1. Returns the
 * number of non-empty clusters, 0 on allocation failure. */
static size_t cluster_meat(size_t m, size_t k, double *const *x,
                           const double *e, const size_t *id, size_t G,
                           double sign, double *M) {
  double *U = calloc(G * k, sizeof *U);
  size_t *cnt = calloc(G, sizeof *cnt);
  if (!U || !cnt) {
    free(U);
    free(cnt);
    return 0;
  }
  size_t ge = 0;
  for (size_t i = 0; i < m; i++)
    if (cnt[id[i]]++ == 0) ge++;
  for (size_t a = 0; a < k; a++)
    for (size_t i = 0; i < m; i++)
      U[id[i] * k + a] += x[a][i] * e[i];
  double adj = ge > 1 ? sign * (double)ge / (double)(ge - 1) : 0.0;
  for (size_t g = 0; g < G; g++) {
    const double *u = U + g * k;
    for (size_t a = 0; a < k; a++)
      for (size_t b = 0; b < k; b++)
        M[a * k + b] += adj * u[a] * u[b];
  }
  free(U);
  free(cnt);
  return ge;
}

/* ------------------------------------------------------------------------ */
/* The fit                                                                  */
/* ------------------------------------------------------------------------ */

static double deviance_of(size_t m, const double *y, const double *mu) {
  double d = 0.0;
  for (size_t i = 0; i < m; i++) {
    double t = y[i] > 0.0 ? y[i] * log(y[i] / mu[i]) : 0.0;
    d += t - (y[i] - mu[i]);
  }
  return 2.0 * d;
}

static core_ppml_result *result_alloc(size_t n, size_t p, size_t nf) {
  core_ppml_result *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->nf = nf;
  r->drop_reason = core_calloc(n, sizeof *r->drop_reason);
  r->row = core_alloc(n, sizeof *r->row);
  r->dropped = calloc(p, sizeof *r->dropped);
  r->beta = malloc(p * sizeof *r->beta);
  r->se = malloc(p * sizeof *r->se);
  r->z = malloc(p * sizeof *r->z);
  r->p_value = malloc(p * sizeof *r->p_value);
  r->ci_low = malloc(p * sizeof *r->ci_low);
  r->ci_high = malloc(p * sizeof *r->ci_high);
  r->V = malloc(p * p * sizeof *r->V);
  r->mu = core_alloc(n, sizeof *r->mu);
  r->eta = core_alloc(n, sizeof *r->eta);
  bool ok = r->drop_reason && r->row && r->dropped && r->beta && r->se &&
            r->z && r->p_value && r->ci_low && r->ci_high && r->V && r->mu &&
            r->eta;
  if (ok && nf > 0) {
    r->fe = calloc(nf, sizeof *r->fe);
    r->fe_levels = calloc(nf, sizeof *r->fe_levels);
    ok = r->fe && r->fe_levels;
  }
  if (!ok) {
    core_ppml_result_free(r);
    return NULL;
  }
  for (size_t j = 0; j < p; j++) {
    r->beta[j] = r->se[j] = r->z[j] = r->p_value[j] = NAN;
    r->ci_low[j] = r->ci_high[j] = NAN;
    r->dropped[j] = true;
  }
  for (size_t j = 0; j < p * p; j++)
    r->V[j] = NAN;
  for (size_t i = 0; i < n; i++)
    r->mu[i] = r->eta[i] = NAN;
  return r;
}

core_status core_ppml_fit(const gsl_matrix *X, const gsl_vector *y,
                          bool has_intercept, const core_ppml_fe *fe,
                          const core_ppml_options *opts, core_ppml_result **out,
                          core_warnings *warn, core_err *err) {
  core_err_clear(err);
  if (out != NULL) *out = NULL;
  if (X == NULL || y == NULL || out == NULL)
    return core_err_set(err, CORE_EINVAL, "X, y and out must not be NULL");
  core_ppml_options defaults;
  core_ppml_options_init(&defaults);
  const core_ppml_options *o = opts != NULL ? opts : &defaults;
  core_status st = check_data(X, y, has_intercept, fe, err);
  if (st != CORE_OK) return st;
  st = check_options(o, X->size1, err);
  if (st != CORE_OK) return st;

  size_t n = X->size1, p = X->size2;
  size_t nf = fe != NULL ? fe->nf : 0;
  ctx c = {.n = n,
           .p = p,
           .nf = nf,
           .X = X,
           .y = y,
           .fe = fe,
           .o = o,
           .warn = warn,
           .err = err};
  core_ppml_result *r = NULL;
  core_hdfe *h = NULL;
  wls s = {0};
  size_t *rows = NULL, *cid[3] = {NULL, NULL, NULL};
  double *blockd = NULL, *yk = NULL, *mu = NULL, *eta = NULL, *ss = NULL;
  double *w = NULL, *zz = NULL, *zd = NULL, *res = NULL, *etaold = NULL;
  double *beta = NULL, *B = NULL, *M = NULL, *tmp = NULL, *G = NULL;
  double **xd = NULL, **xk = NULL, **zx = NULL;
  bool *use = NULL;
  key_idx *kx = NULL;
  size_t *kcol = NULL;

  r = result_alloc(n, p, nf);
  c.keep = core_alloc(n, sizeof *c.keep);
  if (!r || !c.keep) goto nomem;
  c.reason = r->drop_reason;
  for (size_t i = 0; i < n; i++) {
    c.keep[i] = true;
    for (size_t f = 0; f < nf; f++)
      if (fe->levels[f][i] == CORE_PPML_NO_LEVEL) {
        c.keep[i] = false;
        c.reason[i] = CORE_PPML_DROP_NO_LEVEL;
      }
  }

  {
    double ysum = 0.0;
    for (size_t i = 0; i < n; i++)
      if (c.keep[i]) ysum += yv(&c, i);
    if (!(ysum > 0.0)) {
      st = core_err_set(err, CORE_EINVAL,
                        "y is zero in every row used: the PPML mean is not "
                        "identified");
      goto cleanup;
    }
  }

  /* Separation: all-zero levels and singletons, then the rectifier, until
   * nothing changes (a round of one may enable the other). */
  for (size_t round = 0; round < 8; round++) {
    bool changed = false;
    if (nf > 0) {
      st = drop_fe_rows(&c, &changed);
      if (st != CORE_OK) goto cleanup;
      if (round > 0 && !changed) break;
    }
    size_t nsep = 0;
    core_hdfe_free(h); /* built on rows that have changed since */
    h = NULL;
    if (o->separation_relu) {
      st = relu_pass(&c, r->row, &nsep, &h);
      if (st != CORE_OK) goto cleanup;
    }
    if (nsep == 0 || nf == 0) break;
  }
  for (size_t i = 0; i < n; i++)
    switch (c.reason[i]) {
    case CORE_PPML_KEPT: break;
    case CORE_PPML_DROP_SINGLETON: r->n_singleton++; break;
    case CORE_PPML_DROP_FE_ZERO: r->n_fe_zero++; break;
    case CORE_PPML_DROP_SEPARATED: r->n_separated++; break;
    case CORE_PPML_DROP_NO_LEVEL: r->n_no_level++; break;
    }
  if (r->n_fe_zero > 0)
    st = core_warn(warn,
                   "%zu rows dropped: their fixed-effect level has y = 0 in "
                   "every row (the effect would be -infinity)",
                   r->n_fe_zero);
  if (st == CORE_OK && r->n_separated > 0)
    st = core_warn(warn,
                   "%zu rows dropped: separated by the regressors (their "
                   "fitted mean is 0 in the limit)",
                   r->n_separated);
  if (st == CORE_OK && r->n_singleton > 0)
    st = core_warn(warn, "%zu singleton rows dropped", r->n_singleton);
  if (st == CORE_OK && r->n_no_level > 0)
    st = core_warn(warn, "%zu rows dropped: a fixed-effect key is missing",
                   r->n_no_level);
  if (st != CORE_OK) goto nomem;

  rows = r->row;
  size_t m = kept_rows(&c, rows);
  if (m == 0) {
    st = core_err_set(err, CORE_ETOOFEW,
                      "no observation is left after dropping %zu rows "
                      "(fe_zero %zu, singleton %zu, separated %zu, "
                      "no_level %zu)",
                      n, r->n_fe_zero, r->n_singleton, r->n_separated,
                      r->n_no_level);
    goto cleanup;
  }
  blockd = core_alloc(m * p, sizeof *blockd);
  ss = malloc(p * sizeof *ss);
  xd = malloc(p * sizeof *xd);
  zx = malloc((p + 1) * sizeof *zx);
  xk = malloc(p * sizeof *xk);
  use = malloc(p * sizeof *use);
  yk = core_alloc(m, sizeof *yk);
  mu = core_alloc(m, sizeof *mu);
  eta = core_alloc(m, sizeof *eta);
  beta = calloc(p, sizeof *beta);
  if (!blockd || !ss || !xd || !zx || !xk || !use || !yk || !mu || !eta ||
      !beta)
    goto nomem;
  /* The IRLS weights are the current means: w is mu (the working vectors
   * etaold, zz, zd and res are allocated after the column choice, the QR
   * workspace only when a step or the variance needs it, all to keep the
   * peak memory low). */
  w = mu;
  double ymean = 0.0;
  for (size_t i = 0; i < m; i++) {
    yk[i] = yv(&c, rows[i]);
    ymean += yk[i];
  }
  ymean /= (double)m;
  if (!(ymean > 0.0)) {
    st = core_err_set(err, CORE_EINVAL,
                      "y is zero in every row used: the PPML mean is not "
                      "identified");
    goto cleanup;
  }
  for (size_t j = 0; j < p; j++) {
    xd[j] = blockd + j * m;
    gather_col(&c, j, rows, m, xd[j]);
  }
  if (nf > 0 && h == NULL) {
    st = core_hdfe_alloc(n, nf, fe->levels, fe->n_levels, c.keep, &h, err);
    if (st != CORE_OK) goto cleanup;
  }

  /* Start (ppmlhdfe): mu = (y + mean(y)) / 2. */
  for (size_t i = 0; i < m; i++) {
    mu[i] = 0.5 * (yk[i] + ymean);
    eta[i] = log(mu[i]);
  }
  weighted_ss(&c, rows, m, w, ss);
  if (nf > 0) {
    st = demean(&c, h, xd, p, w, o->fe_tol);
    if (st != CORE_OK) goto cleanup;
  }
  size_t k = 0;
  st = choose_columns(&c, m, ss, xd, w, use, &k);
  if (st != CORE_OK) goto cleanup;
  if (k == 0 && nf == 0) {
    st = core_err_set(err, CORE_ESINGULAR,
                      "no column of X is estimable (all are zero on the rows "
                      "used)");
    goto cleanup;
  }
  kcol = malloc((k + 1) * sizeof *kcol);
  G = malloc((k * k + 2 * k + 1) * sizeof *G);
  if (!kcol || !G) goto nomem;
  {
    size_t a = 0;
    for (size_t j = 0; j < p; j++)
      if (use[j]) {
        kcol[a] = j;
        xk[a++] = xd[j];
      }
  }
  double dfa = nf > 0 ? (double)core_hdfe_df_absorbed(h, NULL, NULL) : 0.0;
  if ((double)m <= (double)k + dfa) {
    st = core_err_set(err, CORE_ETOOFEW,
                      "too few observations: n = %zu for %zu coefficients and "
                      "%.0f absorbed degrees of freedom",
                      m, k, dfa);
    goto cleanup;
  }
  etaold = core_alloc(m, sizeof *etaold);
  zz = core_alloc(m, sizeof *zz);
  zd = core_alloc(m, sizeof *zd);
  res = core_alloc(m, sizeof *res);
  if (!etaold || !zz || !zd || !res) goto nomem;

  /* IRLS. */
  double dev_old = deviance_of(m, yk, mu), dev = dev_old, crit = INFINITY;
  double fe_tol_now = fmax(o->fe_tol, FE_TOL_START);
  bool converged = false;
  size_t iter = 0;
  for (size_t i = 0; i < m; i++)
    zd[i] = 0.0;
  while (iter < o->max_iter) {
    iter++;
    for (size_t i = 0; i < m; i++) {
      double znew = eta[i] + (yk[i] - mu[i]) / mu[i];
      /* The demeaned z starts from the previous one shifted by the change
       * of z: both differ from the new z by a sum of effects only. */
      zd[i] += znew - (iter == 1 ? 0.0 : zz[i]);
      zz[i] = znew;
    }
    if (nf > 0) {
      /* z, and from the second step on X (demeaned with the previous
       * weights: M_w M_w' x = M_w x), in one call with one set of weights. */
      zx[0] = zd;
      for (size_t a = 0; a < k; a++)
        zx[a + 1] = xk[a];
      st = demean(&c, h, zx, iter > 1 ? k + 1 : 1, w, fe_tol_now);
      if (st != CORE_OK) goto cleanup;
    }
    if (k > 0 &&
        !chol_step(m, k, xk, w, zd, beta, G, G + k * k, G + k * k + k, res)) {
      if (s.k == 0 && !wls_alloc(&s, m, k)) goto nomem;
      st = wls_factor(&s, xk, w, err);
      if (st == CORE_OK) st = wls_solve(&s, zd, w, beta, err);
      if (st != CORE_OK) goto cleanup;
    }
    residual(m, k, xk, beta, zd, res);
    memcpy(etaold, eta, m * sizeof *eta);
    for (size_t i = 0; i < m; i++)
      eta[i] = zz[i] - res[i];
    /* Halve a step whose mean overflows (glm's safeguard). */
    size_t halvings = 0;
    for (;;) {
      bool finite = true;
      for (size_t i = 0; i < m && finite; i++) {
        mu[i] = exp(eta[i]);
        finite = isfinite(mu[i]) && mu[i] > 0.0;
      }
      if (finite) dev = deviance_of(m, yk, mu);
      if (finite && isfinite(dev)) break;
      if (++halvings > MAX_HALVINGS) {
        st = core_err_set(err, CORE_EDOMAIN,
                          "the PPML mean exp(eta) is not finite at iteration "
                          "%zu even after %d step halvings",
                          iter, MAX_HALVINGS);
        goto cleanup;
      }
      for (size_t i = 0; i < m; i++)
        eta[i] = 0.5 * (eta[i] + etaold[i]);
    }
    crit = fabs(dev - dev_old) / fmax(fmin(dev, dev_old), 0.1);
    dev_old = dev;
    if (crit <= o->tol) {
      if (fe_tol_now <= o->fe_tol) {
        converged = true;
        break;
      }
      /* Converged with loose demeaning: tighten it and iterate again. */
      fe_tol_now = o->fe_tol;
    } else if (nf > 0) {
      fe_tol_now = fmax(o->fe_tol, fmin(fe_tol_now, 0.1 * crit));
    }
  }
  r->conv.converged = converged;
  r->conv.iterations = iter;
  r->conv.tolerance = o->tol;
  r->conv.criterion = crit;
  r->conv.rule = CONV_RULE;
  if (!converged) {
    st = core_err_set(err, CORE_ENOCONV,
                      "PPML did not converge in %zu iterations: the relative "
                      "change of the deviance is %.3g, above the tolerance "
                      "%.3g",
                      iter, crit, o->tol);
    if (!o->keep_nonconverged) goto cleanup;
    if (core_warn(warn,
                  "PPML did not converge in %zu iterations (relative "
                  "deviance change %.3g > %.3g): the estimates are the last "
                  "iterate and must not be used as converged",
                  iter, crit, o->tol) != CORE_OK)
      goto nomem;
  }

  /* Variance at the final mu: x demeaned with weights mu, B from its QR
   * (the working vectors of the steps are released first). */
  free(zz);
  free(zd);
  free(etaold);
  zz = zd = etaold = NULL;
  if (nf > 0) {
    core_status st2 = demean(&c, h, xk, k, w, o->fe_tol);
    if (st2 != CORE_OK) {
      st = st2;
      goto cleanup;
    }
  }
  B = calloc(k * k + 1, sizeof *B);
  M = calloc(k * k + 1, sizeof *M);
  tmp = calloc(k * k + 1, sizeof *tmp);
  if (!B || !M || !tmp) goto nomem;
  if (k > 0 && s.k == 0 && !wls_alloc(&s, m, k)) goto nomem;
  if (k > 0) {
    core_status st2 = wls_factor(&s, xk, w, err);
    if (st2 != CORE_OK) {
      st = st2;
      goto cleanup;
    }
    /* Ri = R^-1 (upper), B = Ri Ri'. */
    for (size_t a = 0; a < k; a++)
      for (size_t b = a; b < k; b++)
        tmp[a * k + b] = gsl_matrix_get(s.A, a, b);
    double *Ri = M; /* scratch */
    memset(Ri, 0, k * k * sizeof *Ri);
    for (size_t col = 0; col < k; col++) {
      Ri[col * k + col] = 1.0 / tmp[col * k + col];
      for (size_t i = col; i-- > 0;) {
        double sum = 0.0;
        for (size_t j = i + 1; j <= col; j++)
          sum += tmp[i * k + j] * Ri[j * k + col];
        Ri[i * k + col] = -sum / tmp[i * k + i];
      }
    }
    for (size_t a = 0; a < k; a++)
      for (size_t b = a; b < k; b++) {
        double sum = 0.0;
        for (size_t j = b; j < k; j++)
          sum += Ri[a * k + j] * Ri[b * k + j];
        B[a * k + b] = B[b * k + a] = sum;
      }
    memset(M, 0, k * k * sizeof *M);
  }
  /* The scores are xk[a][i] * e[i], formed on the fly. */
  double *e = res;
  for (size_t i = 0; i < m; i++)
    e[i] = yk[i] - mu[i];
  r->vcov = o->vcov;
  if (k > 0 && o->vcov == CORE_PPML_VCOV_ROBUST) {
    for (size_t a = 0; a < k; a++)
      for (size_t b = a; b < k; b++) {
        const double *xa = xk[a], *xb = xk[b];
        double sum = 0.0;
        for (size_t i = 0; i < m; i++)
          sum += (xa[i] * e[i]) * (xb[i] * e[i]);
        M[a * k + b] = M[b * k + a] = sum;
      }
  } else if (k > 0 && o->vcov == CORE_PPML_VCOV_CLUSTER) {
    size_t ways = o->cluster_ways;
    for (size_t wy = 0; wy < ways; wy++) {
      cid[wy] = core_alloc(m, sizeof *cid[wy]);
      if (!cid[wy]) goto nomem;
      for (size_t i = 0; i < m; i++)
        cid[wy][i] = o->cluster[wy][rows[i]];
      size_t ge = cluster_meat(m, k, xk, e, cid[wy], o->n_clusters[wy], 1.0, M);
      if (ge == 0) goto nomem;
      if (ge < 2) {
        st = core_err_set(err, CORE_EINVAL,
                          "cluster way %zu has %zu non-empty cluster on the "
                          "rows used: at least 2 are needed",
                          wy + 1, ge);
        goto cleanup;
      }
      r->n_clusters[wy] = ge;
    }
    if (ways == 2) {
      /* The intersection: distinct (a, b) pairs, numbered by sorting. */
      kx = core_alloc(m, sizeof *kx);
      cid[2] = core_alloc(m, sizeof *cid[2]);
      if (!kx || !cid[2]) goto nomem;
      size_t gb = o->n_clusters[1];
      for (size_t i = 0; i < m; i++) {
        kx[i].key = cid[0][i] * gb + cid[1][i];
        kx[i].idx = i;
      }
      qsort(kx, m, sizeof *kx, cmp_key);
      size_t g = 0;
      for (size_t i = 0; i < m; i++) {
        if (i > 0 && kx[i].key != kx[i - 1].key) g++;
        cid[2][kx[i].idx] = g;
      }
      if (cluster_meat(m, k, xk, e, cid[2], g + 1, -1.0, M) == 0) goto nomem;
    }
  }
  double zq = core_t_quantile(0.5 * (1.0 + o->level), INFINITY);
  bool negvar = false;
  /* V = B M B (robust, cluster) or B (classical). */
  if (k > 0 && o->vcov != CORE_PPML_VCOV_CLASSICAL) {
    for (size_t a = 0; a < k; a++)
      for (size_t b = 0; b < k; b++) {
        double sum = 0.0;
        for (size_t j = 0; j < k; j++)
          sum += B[a * k + j] * M[j * k + b];
        tmp[a * k + b] = sum;
      }
    for (size_t a = 0; a < k; a++)
      for (size_t b = a; b < k; b++) {
        double sum = 0.0;
        for (size_t j = 0; j < k; j++)
          sum += tmp[a * k + j] * B[j * k + b];
        M[a * k + b] = sum;
      }
    for (size_t a = 0; a < k; a++)
      for (size_t b = 0; b < a; b++)
        M[a * k + b] = M[b * k + a];
  } else if (k > 0) {
    memcpy(M, B, k * k * sizeof *M);
  }
  for (size_t a = 0; a < k; a++) {
    size_t ja = kcol[a];
    r->dropped[ja] = false;
    r->beta[ja] = beta[a];
    for (size_t b = 0; b < k; b++)
      r->V[ja * p + kcol[b]] = M[a * k + b];
    double v = M[a * k + a];
    double se = v >= 0.0 ? sqrt(v) : NAN;
    if (!(v >= 0.0)) negvar = true;
    r->se[ja] = se;
    r->z[ja] = beta[a] / se;
    r->p_value[ja] = core_t_pvalue(r->z[ja], INFINITY);
    r->ci_low[ja] = beta[a] - zq * se;
    r->ci_high[ja] = beta[a] + zq * se;
  }
  if (negvar &&
      core_warn(warn,
                "the two-way cluster variance has a negative diagonal "
                "entry: its standard error is reported as NaN") != CORE_OK)
    goto nomem;

  /* Fit statistics over the rows used. */
  double mmu = 0.0, sxy = 0.0, sxx = 0.0, syy = 0.0, ll = 0.0;
  for (size_t i = 0; i < m; i++)
    mmu += mu[i];
  mmu /= (double)m;
  for (size_t i = 0; i < m; i++) {
    double dy = yk[i] - ymean, dm = mu[i] - mmu;
    sxy += dy * dm;
    syy += dy * dy;
    sxx += dm * dm;
    ll +=
        (yk[i] > 0.0 ? yk[i] * log(mu[i]) : 0.0) - mu[i] - lgamma(yk[i] + 1.0);
  }
  r->deviance = dev;
  r->loglik = ll;
  r->pseudo_r2 = sxx > 0.0 && syy > 0.0 ? sxy * sxy / (sxx * syy) : NAN;
  {
    /* Null model: the mean (intercept or effects), else mu = 1 (glm). */
    double d0 = 0.0, mu0 = (has_intercept || nf > 0) ? ymean : 1.0;
    for (size_t i = 0; i < m; i++)
      d0 += (yk[i] > 0.0 ? yk[i] * log(yk[i] / mu0) : 0.0) - (yk[i] - mu0);
    r->null_deviance = 2.0 * d0;
  }
  r->df_absorbed = dfa;
  r->n_input = n;
  r->n = m;
  r->p = p;
  r->k = k;
  r->has_intercept = has_intercept;
  r->conv.fe_iterations_max = c.fe_iter_max;
  for (size_t i = 0; i < m; i++) {
    r->mu[rows[i]] = mu[i];
    r->eta[rows[i]] = eta[i];
  }

  /* Fixed-effect values from eta - x b (a sum of effects only). */
  if (nf > 0) {
    for (size_t i = 0; i < m; i++) {
      double v = eta[i];
      const double *xr = X->data + rows[i] * X->tda;
      for (size_t a = 0; a < k; a++)
        v -= beta[a] * xr[kcol[a]];
      res[i] = v;
    }
    for (size_t f = 0; f < nf; f++) {
      r->fe_levels[f] = fe->n_levels[f];
      r->fe[f] = malloc((fe->n_levels[f] + 1) * sizeof *r->fe[f]);
      if (!r->fe[f]) goto nomem;
    }
    core_hdfe_opts ho = {o->fe_tol, o->fe_max_iter};
    core_hdfe_info info;
    core_status st2 = core_hdfe_recover_fe(h, res, w, &ho, r->fe, &info, err);
    if (st2 != CORE_OK) {
      st = st2;
      goto cleanup;
    }
  }
  if (!converged) {
    /* Restate the failure (later steps may have reused err). */
    st = core_err_set(err, CORE_ENOCONV,
                      "PPML did not converge in %zu iterations: the relative "
                      "change of the deviance is %.3g, above the tolerance "
                      "%.3g",
                      iter, crit, o->tol);
  } else {
    core_err_clear(err);
    st = CORE_OK;
  }

  *out = r;
  r = NULL;
  goto cleanup;
nomem:
  st = core_err_set(err, CORE_ENOMEM, "out of memory for PPML");
cleanup:
  core_ppml_result_free(r);
  core_hdfe_free(h);
  wls_free(&s);
  free(c.keep);
  free(blockd);
  free(ss);
  free(zx);
  free(xd);
  free(xk);
  free(use);
  free(yk);
  free(mu);
  free(eta);
  free(etaold);
  free(zz);
  free(zd);
  free(res);
  free(beta);
  free(B);
  free(M);
  free(tmp);
  free(kx);
  free(kcol);
  free(G);
  for (size_t i = 0; i < 3; i++)
    free(cid[i]);
  return st;
}
