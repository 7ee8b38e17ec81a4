/* Fixed-effects (within) OLS over any number of factors (see core_fe.h):
 * demeaning by core_hdfe, QR by core_ols, then degrees of freedom, variances
 * (classical, HC1, CR1, two-way CGM), R^2 and the recovered fixed effects. */
#include "core_fe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>

#include "core_mem.h"
#include "core_ols.h"

static char *dup_str(const char *s) {
  size_t len = strlen(s);
  char *d = malloc(len + 1);
  if (d) memcpy(d, s, len + 1);
  return d;
}

void core_fe_result_free(core_fe_result *r) {
  if (!r) return;
  free(r->used);
  if (r->col_label)
    for (size_t j = 0; j < r->p; j++)
      free(r->col_label[j]);
  free(r->col_label);
  free(r->dropped);
  free(r->dropped_fe);
  free(r->beta);
  free(r->se);
  free(r->t);
  free(r->p_value);
  free(r->ci_low);
  free(r->ci_high);
  free(r->V);
  if (r->fe_label)
    for (size_t f = 0; f < r->nf; f++)
      free(r->fe_label[f]);
  free(r->fe_label);
  free(r->fe_n_levels);
  free(r->fe_levels_used);
  free(r->fe_nested);
  if (r->fe)
    for (size_t f = 0; f < r->nf; f++)
      free(r->fe[f]);
  free(r->fe);
  free(r->fitted);
  free(r->resid);
  core_warnings_clear(&r->warnings);
  free(r);
}

static core_fe_result *result_alloc(size_t n, size_t p, size_t nf,
                                    const char *const *labels,
                                    const core_fe_factor *fe) {
  core_fe_result *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->n_in = n;
  r->p = p;
  r->nf = nf;
  size_t pp = p ? p : 1, nn = n ? n : 1;
  r->used = calloc(nn, sizeof *r->used);
  r->col_label = calloc(pp, sizeof *r->col_label);
  r->dropped = calloc(pp, sizeof *r->dropped);
  r->dropped_fe = calloc(pp, sizeof *r->dropped_fe);
  r->beta = malloc(pp * sizeof(double));
  r->se = malloc(pp * sizeof(double));
  r->t = malloc(pp * sizeof(double));
  r->p_value = malloc(pp * sizeof(double));
  r->ci_low = malloc(pp * sizeof(double));
  r->ci_high = malloc(pp * sizeof(double));
  r->V = malloc(pp * pp * sizeof(double));
  r->fe_label = calloc(nf, sizeof *r->fe_label);
  r->fe_n_levels = calloc(nf, sizeof *r->fe_n_levels);
  r->fe_levels_used = calloc(nf, sizeof *r->fe_levels_used);
  r->fe_nested = calloc(nf, sizeof *r->fe_nested);
  r->fe = calloc(nf, sizeof *r->fe);
  r->fitted = core_alloc(nn, sizeof(double));
  r->resid = core_alloc(nn, sizeof(double));
  if (!r->used || !r->col_label || !r->dropped || !r->dropped_fe || !r->beta ||
      !r->se || !r->t || !r->p_value || !r->ci_low || !r->ci_high || !r->V ||
      !r->fe_label || !r->fe_n_levels || !r->fe_levels_used || !r->fe_nested ||
      !r->fe || !r->fitted || !r->resid) {
    core_fe_result_free(r);
    return NULL;
  }
  for (size_t j = 0; j < p; j++) {
    char buf[32];
    snprintf(buf, sizeof buf, "x%zu", j);
    r->col_label[j] = dup_str(labels && labels[j] ? labels[j] : buf);
    if (!r->col_label[j]) {
      core_fe_result_free(r);
      return NULL;
    }
    r->beta[j] = r->se[j] = r->t[j] = r->p_value[j] = NAN;
    r->ci_low[j] = r->ci_high[j] = NAN;
  }
  for (size_t j = 0; j < p * p; j++)
    r->V[j] = NAN;
  for (size_t i = 0; i < n; i++)
    r->fitted[i] = r->resid[i] = NAN;
  for (size_t f = 0; f < nf; f++) {
    char buf[32];
    snprintf(buf, sizeof buf, "fe%zu", f);
    r->fe_label[f] = dup_str(fe[f].label ? fe[f].label : buf);
    r->fe_n_levels[f] = fe[f].n_levels;
    r->fe[f] = malloc((fe[f].n_levels ? fe[f].n_levels : 1) * sizeof(double));
    if (!r->fe_label[f] || !r->fe[f]) {
      core_fe_result_free(r);
      return NULL;
    }
  }
  return r;
}

/* Renumbers cluster ids of the m kept rows to 0..G-1; returns G (0 on
 * allocation failure). */
static size_t compact_ids(const size_t *id, size_t n_ids, const size_t *rows,
                          size_t m, size_t *out) {
  size_t *map = malloc((n_ids ? n_ids : 1) * sizeof *map);
  if (!map) return 0;
  for (size_t g = 0; g < n_ids; g++)
    map[g] = SIZE_MAX;
  size_t G = 0;
  for (size_t i = 0; i < m; i++) {
    size_t g = id[rows[i]];
    if (map[g] == SIZE_MAX) map[g] = G++;
    out[i] = map[g];
  }
  free(map);
  return G;
}

/* meat = sum_g s_g s_g' with s_g = sum_{i in g} x~_i e_i (k x k): x[a] is
 * the a-th demeaned column (m values), e the residuals, work G x k. */
static void cluster_meat(const double *const *x, const double *e, size_t m,
                         size_t k, const size_t *g_of, size_t G, double *work,
                         double *meat) {
  memset(work, 0, G * k * sizeof *work);
  for (size_t a = 0; a < k; a++) {
    const double *xa = x[a];
    for (size_t i = 0; i < m; i++)
      work[g_of[i] * k + a] += xa[i] * e[i];
  }
  memset(meat, 0, k * k * sizeof *meat);
  for (size_t g = 0; g < G; g++) {
    const double *s = work + g * k;
    for (size_t a = 0; a < k; a++)
      for (size_t b = 0; b < k; b++)
        meat[a * k + b] += s[a] * s[b];
  }
}

/* out = bread meat bread (k x k, row-major, bread symmetric). */
static void sandwich(const double *bread, const double *meat, size_t k,
                     double *tmp, double *out) {
  for (size_t a = 0; a < k; a++)
    for (size_t b = 0; b < k; b++) {
      double s = 0;
      for (size_t c = 0; c < k; c++)
        s += bread[a * k + c] * meat[c * k + b];
      tmp[a * k + b] = s;
    }
  for (size_t a = 0; a < k; a++)
    for (size_t b = 0; b < k; b++) {
      double s = 0;
      for (size_t c = 0; c < k; c++)
        s += tmp[a * k + c] * bread[c * k + b];
      out[a * k + b] = s;
    }
}

/* Zeroes negative eigenvalues of the symmetric k x k matrix V. Returns 1
 * when something was changed, 0 when not, -1 on failure. */
static int psd_fix(double *V, size_t k) {
  gsl_matrix *A = gsl_matrix_alloc(k, k), *Q = gsl_matrix_alloc(k, k);
  gsl_vector *ev = gsl_vector_alloc(k);
  gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(k);
  int rc = -1;
  if (!A || !Q || !ev || !ws) goto cleanup;
  for (size_t a = 0; a < k; a++)
    for (size_t b = 0; b < k; b++)
      gsl_matrix_set(A, a, b, V[a * k + b]);
  if (gsl_eigen_symmv(A, ev, Q, ws) != 0) goto cleanup;
  rc = 0;
  for (size_t c = 0; c < k; c++)
    if (gsl_vector_get(ev, c) < 0) rc = 1;
  if (rc == 1) {
    for (size_t a = 0; a < k; a++)
      for (size_t b = 0; b < k; b++) {
        double s = 0;
        for (size_t c = 0; c < k; c++) {
          double l = gsl_vector_get(ev, c);
          if (l > 0) s += gsl_matrix_get(Q, a, c) * l * gsl_matrix_get(Q, b, c);
        }
        V[a * k + b] = s;
      }
  }
cleanup:
  gsl_matrix_free(A);
  gsl_matrix_free(Q);
  gsl_vector_free(ev);
  gsl_eigen_symmv_free(ws);
  return rc;
}

/* Wald F of all k slopes with V (k x k): b' V^-1 b / k, NaN when V is not
 * positive definite. */
static double wald_f(const double *b, const double *V, size_t k) {
  gsl_matrix *A = gsl_matrix_alloc(k, k);
  gsl_vector *x = gsl_vector_alloc(k);
  double f = NAN;
  if (!A || !x) goto cleanup;
  for (size_t a = 0; a < k; a++) {
    gsl_vector_set(x, a, b[a]);
    for (size_t c = 0; c < k; c++)
      gsl_matrix_set(A, a, c, V[a * k + c]);
  }
  if (gsl_linalg_cholesky_decomp1(A) != 0) goto cleanup;
  if (gsl_linalg_cholesky_svx(A, x) != 0) goto cleanup;
  double s = 0;
  for (size_t a = 0; a < k; a++)
    s += b[a] * gsl_vector_get(x, a);
  f = s / (double)k;
cleanup:
  gsl_matrix_free(A);
  gsl_vector_free(x);
  return f;
}

static core_status check_inputs(const gsl_matrix *X, const gsl_vector *y,
                                const core_fe_factor *fe, size_t nf,
                                const core_fe_opts *o, core_err *err) {
  if (!X || !y || !fe)
    return core_err_set(err, CORE_EINVAL, "core_fe_fit: NULL argument");
  size_t n = X->size1;
  if (y->size != n)
    return core_err_set(err, CORE_EINVAL, "X has %zu rows but y has %zu values",
                        n, y->size);
  if (nf == 0 || nf > CORE_HDFE_MAX_FACTORS)
    return core_err_set(err, CORE_EINVAL,
                        "number of fixed effects %zu not in 1..%d", nf,
                        CORE_HDFE_MAX_FACTORS);
  for (size_t f = 0; f < nf; f++) {
    if (!fe[f].level)
      return core_err_set(err, CORE_EINVAL, "fixed effect %zu has no levels",
                          f);
    for (size_t i = 0; i < n; i++) {
      size_t l = fe[f].level[i];
      if (l != CORE_HDFE_NO_LEVEL && l >= fe[f].n_levels) {
        core_err_set(err, CORE_EINVAL,
                     "fixed effect '%s': level id %zu of row %zu is out of "
                     "range",
                     fe[f].label ? fe[f].label : "?", l, i);
        core_err_add_row(err, i);
        return CORE_EINVAL;
      }
    }
  }
  for (size_t i = 0; i < n; i++) {
    bool ok = isfinite(gsl_vector_get(y, i));
    for (size_t j = 0; ok && j < X->size2; j++)
      ok = isfinite(gsl_matrix_get(X, i, j));
    if (!ok) {
      core_err_set(err, CORE_EINVAL, "row %zu has a non-finite value", i);
      core_err_add_row(err, i);
      return CORE_EINVAL;
    }
  }
  if (o->vcov > CORE_FE_VCOV_CLUSTER2)
    return core_err_set(err, CORE_EINVAL, "unknown variance kind %d",
                        (int)o->vcov);
  if (!(o->level > 0 && o->level < 1))
    return core_err_set(err, CORE_EINVAL, "confidence level not in (0, 1)");
  if (!(o->tol > 0) || !isfinite(o->tol))
    return core_err_set(err, CORE_EINVAL, "tolerance must be > 0");
  int ncl = o->vcov == CORE_FE_VCOV_CLUSTER    ? 1
            : o->vcov == CORE_FE_VCOV_CLUSTER2 ? 2
                                               : 0;
  for (int c = 0; c < ncl; c++) {
    const size_t *id = c == 0 ? o->cluster : o->cluster2;
    size_t G = c == 0 ? o->n_clusters : o->n_clusters2;
    if (!id || G == 0)
      return core_err_set(err, CORE_EINVAL, "cluster variable %d not given",
                          c + 1);
    for (size_t i = 0; i < n; i++)
      if (id[i] >= G) {
        core_err_set(err, CORE_EINVAL,
                     "cluster id %zu of row %zu is not below %zu", id[i], i, G);
        core_err_add_row(err, i);
        return CORE_EINVAL;
      }
  }
  return CORE_OK;
}

core_status core_fe_fit(const gsl_matrix *X, const gsl_vector *y,
                        const char *const *labels, const core_fe_factor *fe,
                        size_t nf, const core_fe_opts *opts,
                        core_fe_result **out, core_err *err) {
  if (out) *out = NULL;
  if (!out) return core_err_set(err, CORE_EINVAL, "core_fe_fit: no out");
  core_fe_opts o;
  memset(&o, 0, sizeof o);
  if (opts) o = *opts;
  if (o.tol == 0) o.tol = CORE_HDFE_DEFAULT_TOL;
  if (o.max_iter == 0) o.max_iter = CORE_HDFE_DEFAULT_MAX_ITER;
  if (o.level == 0) o.level = 0.95;
  core_status st = check_inputs(X, y, fe, nf, &o, err);
  if (st != CORE_OK) return st;

  size_t n = X->size1, p = X->size2;
  core_fe_result *r = NULL;
  core_hdfe *h = NULL;
  double *buf = NULL, **cols = NULL, *work = NULL, *fe_tmp = NULL;
  double *mean0 = NULL;
  size_t *cl1 = NULL, *cl2 = NULL, *cl12 = NULL;
  const size_t *rowsv = NULL;
  double **xk = NULL;
  core_ols_result *ols = NULL;
  size_t *kept_idx = NULL;
  const size_t *lev[CORE_HDFE_MAX_FACTORS];
  size_t nlev[CORE_HDFE_MAX_FACTORS];

  r = result_alloc(n, p, nf, labels, fe);
  if (!r) goto nomem;
  r->vcov = o.vcov;
  for (size_t f = 0; f < nf; f++) {
    lev[f] = fe[f].level;
    nlev[f] = fe[f].n_levels;
  }

  /* Rows: a missing level drops the row; then singletons. */
  bool *keep = r->used;
  for (size_t i = 0; i < n; i++) {
    keep[i] = true;
    for (size_t f = 0; f < nf; f++)
      if (lev[f][i] == CORE_HDFE_NO_LEVEL) keep[i] = false;
    if (!keep[i]) r->n_missing_fe++;
  }
  if (!o.keep_singletons) {
    st = core_hdfe_drop_singletons(n, nf, lev, nlev, keep, &r->n_singletons,
                                   err);
    if (st != CORE_OK) goto fail;
  }
  st = core_hdfe_alloc(n, nf, lev, nlev, keep, &h, err);
  if (st == CORE_ETOOFEW) {
    core_err_set(err, CORE_ETOOFEW,
                 "no observation left after dropping %zu singletons and %zu "
                 "rows with a missing fixed effect",
                 r->n_singletons, r->n_missing_fe);
    goto fail;
  }
  if (st != CORE_OK) goto fail;
  size_t m = core_hdfe_n_obs(h);
  r->n = m;
  for (size_t f = 0; f < nf; f++)
    r->fe_levels_used[f] = core_hdfe_n_levels(h, f);
  r->components = core_hdfe_components(h);

  /* Column-major copies of the kept rows: y, then the columns of X; they
   * are demeaned in place (X and y keep the original values). */
  buf = core_alloc((p + 1) * m, sizeof *buf);
  cols = malloc((p + 1) * sizeof *cols);
  rowsv = core_hdfe_rows(h);
  if (!buf || !cols) goto nomem;
  for (size_t j = 0; j <= p; j++)
    cols[j] = buf + j * m;
  for (size_t i = 0; i < m; i++) {
    size_t row = rowsv[i];
    const double *xr = X->data + row * X->tda;
    cols[0][i] = y->data[row * y->stride];
    for (size_t j = 0; j < p; j++)
      cols[j + 1][i] = xr[j];
  }
  core_hdfe_opts ho = {o.tol, o.max_iter};
  core_hdfe_info info;
  st = core_hdfe_demean(h, cols, p + 1, NULL, &ho, &info, err);
  r->iterations = info.iterations;
  r->converged = info.converged;
  if (st != CORE_OK) goto fail;

  /* Regressors collinear with the fixed effects. */
  size_t k1 = 0;
  kept_idx = malloc((p ? p : 1) * sizeof *kept_idx);
  xk = malloc((p ? p : 1) * sizeof *xk);
  mean0 = calloc(2 * (p ? p : 1), sizeof *mean0);
  if (!kept_idx || !xk || !mean0) goto nomem;
  /* Centred sums of squares of the original columns (two passes over the
   * kept rows of X). */
  double *ss0v = mean0 + (p ? p : 1);
  for (size_t i = 0; i < m; i++) {
    const double *xr = X->data + rowsv[i] * X->tda;
    for (size_t j = 0; j < p; j++)
      mean0[j] += xr[j];
  }
  for (size_t j = 0; j < p; j++)
    mean0[j] /= (double)m;
  for (size_t i = 0; i < m; i++) {
    const double *xr = X->data + rowsv[i] * X->tda;
    for (size_t j = 0; j < p; j++)
      ss0v[j] += (xr[j] - mean0[j]) * (xr[j] - mean0[j]);
  }
  for (size_t j = 0; j < p; j++) {
    const double *xd = cols[j + 1];
    double ss0 = ss0v[j], ssd = 0;
    for (size_t i = 0; i < m; i++)
      ssd += xd[i] * xd[i];
    if (ss0 == 0 || sqrt(ssd) <= CORE_FE_COLLIN_TOL * sqrt(ss0)) {
      r->dropped[j] = r->dropped_fe[j] = true;
      if (core_warn(&r->warnings,
                    "%s was dropped: it is collinear with the fixed effects",
                    r->col_label[j]) != CORE_OK)
        goto nomem;
    } else {
      kept_idx[k1++] = j;
    }
  }
  if (k1 == 0) {
    core_err_set(err, CORE_ESINGULAR,
                 "every regressor is collinear with the fixed effects%s",
                 p ? "" : " (no regressor given)");
    if (err && p) snprintf(err->name, sizeof err->name, "%s", r->col_label[0]);
    st = CORE_ESINGULAR;
    goto fail;
  }
  for (size_t c = 0; c < k1; c++)
    xk[c] = cols[kept_idx[c] + 1];
  /* The classical variance needs no demeaned X after the QR: it is done
   * in place; the others keep X~ for their scores. */
  if (o.vcov == CORE_FE_VCOV_CLASSICAL)
    st = core_ols_fit_scratch(xk, cols[0], m, k1, false, NULL, o.level,
                              CORE_OLS_NO_FITTED | CORE_OLS_NO_LEVERAGE |
                                  CORE_OLS_NO_RESID,
                              &ols, err);
  else
    st = core_ols_fit_cols(
        (const double *const *)xk, cols[0], m, k1, false, NULL, o.level,
        CORE_OLS_NO_FITTED | CORE_OLS_NO_LEVERAGE, &ols, err);
  if (st != CORE_OK) goto fail;
  for (size_t c = 0; c < k1; c++) {
    if (ols->dropped[c]) {
      size_t j = kept_idx[c];
      r->dropped[j] = true;
      if (core_warn(&r->warnings,
                    "%s was dropped: it is collinear with other regressors",
                    r->col_label[j]) != CORE_OK)
        goto nomem;
    }
  }
  /* The estimated columns: est[c] = X column, bread on them. */
  size_t k = ols->k;
  r->k = k;
  size_t *ecol = malloc(k * sizeof *ecol), *ecl = malloc(k * sizeof *ecl);
  if (!ecol || !ecl) {
    free(ecol);
    free(ecl);
    goto nomem;
  }
  size_t ne = 0;
  for (size_t c = 0; c < k1; c++)
    if (!ols->dropped[c]) {
      ecl[ne] = c;              /* column of Xd */
      ecol[ne++] = kept_idx[c]; /* column of X */
    }
  /* The OLS estimates exactly the columns it did not drop, so every entry
   * of ecl[] and ecol[] read below was written. */
  if (ne != k) {
    free(ecol);
    free(ecl);
    st = core_err_set(err, CORE_EINTERNAL,
                      "the OLS estimated %zu columns but kept %zu", k, ne);
    goto fail;
  }
  r->df_absorbed = core_hdfe_df_absorbed(h, NULL, &r->df_absorbed_exact);
  double df_resid = (double)m - (double)k - (double)r->df_absorbed;
  if (!(df_resid > 0)) {
    free(ecol);
    free(ecl);
    st = core_err_set(err, CORE_ETOOFEW,
                      "%zu observations are too few for %zu slopes and %zu "
                      "absorbed fixed effects",
                      m, k, r->df_absorbed);
    goto fail;
  }
  r->df_resid = df_resid;
  r->ssr = ols->ssr;
  r->sigma2 = ols->ssr / df_resid;
  r->rmse = sqrt(r->sigma2);

  /* Bread (X~'X~)^-1 = V_ols / s2_ols; the scores x~_i e_i are formed on
   * the fly from the estimated demeaned columns xe and the residuals. */
  work = calloc(4 * k * k, sizeof *work);
  if (!work) {
    free(ecol);
    free(ecl);
    goto nomem;
  }
  double *bread = work, *meat = work + k * k, *tmp = work + 2 * k * k;
  double *V = work + 3 * k * k;
  const double *const *xe = (const double *const *)xk; /* set below */
  for (size_t a = 0; a < k; a++)
    for (size_t b = 0; b < k; b++)
      bread[a * k + b] =
          ols->sigma2 > 0 ? ols->V[ecl[a] * k1 + ecl[b]] / ols->sigma2 : 0.0;
  for (size_t a = 0; a < k; a++)
    xk[a] = cols[ecol[a] + 1];
  const double *e = ols->resid;

  double df_inf = df_resid;
  r->df_absorbed_vcov = r->df_absorbed;
  if (o.vcov == CORE_FE_VCOV_CLASSICAL) {
    for (size_t a = 0; a < k * k; a++)
      V[a] = r->sigma2 * bread[a];
  } else if (o.vcov == CORE_FE_VCOV_HC1) {
    memset(meat, 0, k * k * sizeof *meat);
    for (size_t a = 0; a < k; a++)
      for (size_t b = a; b < k; b++) {
        const double *xa = xe[a], *xb = xe[b];
        double sum = 0;
        for (size_t i = 0; i < m; i++)
          sum += xa[i] * xb[i] * (e[i] * e[i]);
        meat[a * k + b] = meat[b * k + a] = sum;
      }
    sandwich(bread, meat, k, tmp, V);
    double adj = (double)m / df_resid;
    for (size_t a = 0; a < k * k; a++)
      V[a] *= adj;
  } else {
    bool two = o.vcov == CORE_FE_VCOV_CLUSTER2;
    cl1 = malloc(m * sizeof *cl1);
    cl2 = two ? malloc(m * sizeof *cl2) : NULL;
    cl12 = two ? malloc(m * sizeof *cl12) : NULL;
    if (!cl1 || (two && (!cl2 || !cl12))) {
      free(ecol);
      free(ecl);
      goto nomem;
    }
    size_t G1 = compact_ids(o.cluster, o.n_clusters, rowsv, m, cl1);
    size_t G2 = two ? compact_ids(o.cluster2, o.n_clusters2, rowsv, m, cl2) : 0;
    if (G1 == 0 || (two && G2 == 0)) {
      free(ecol);
      free(ecl);
      goto nomem;
    }
    size_t G12 = 0;
    if (two) {
      /* Intersection clusters: the pairs (g1, g2), numbered by first
       * appearance with a small open-addressing hash on g1 * G2 + g2. */
      size_t cap = 16;
      while (cap < 2 * m + 2)
        cap <<= 1;
      size_t *hk = malloc(cap * sizeof *hk), *hv = malloc(cap * sizeof *hv);
      if (!hk || !hv) {
        free(hk);
        free(hv);
        free(ecol);
        free(ecl);
        goto nomem;
      }
      for (size_t s = 0; s < cap; s++)
        hv[s] = SIZE_MAX;
      for (size_t i = 0; i < m; i++) {
        size_t key = cl1[i] * G2 + cl2[i];
        size_t s = (key * 0x9E3779B97F4A7C15ULL) >> 7 & (cap - 1);
        while (hv[s] != SIZE_MAX && hk[s] != key)
          s = (s + 1) & (cap - 1);
        if (hv[s] == SIZE_MAX) {
          hk[s] = key;
          hv[s] = G12++;
        }
        cl12[i] = hv[s];
      }
      free(hk);
      free(hv);
    }
    r->n_clusters = G1;
    r->n_clusters2 = G2;
    if (G1 < 2 || (two && G2 < 2)) {
      free(ecol);
      free(ecl);
      st = core_err_set(err, CORE_ETOOFEW,
                        "clustered variance needs at least 2 clusters (have "
                        "%zu)",
                        two && G2 < G1 ? G2 : G1);
      goto fail;
    }
    bool nested[CORE_HDFE_MAX_FACTORS];
    for (size_t f = 0; f < nf; f++) {
      nested[f] = core_hdfe_nested_in(h, f, cl1) ||
                  (two && core_hdfe_nested_in(h, f, cl2));
      r->fe_nested[f] = nested[f];
    }
    if (!o.count_nested)
      r->df_absorbed_vcov = core_hdfe_df_absorbed(h, nested, NULL);
    double dfc = (double)m - (double)k - (double)r->df_absorbed_vcov;
    double adj = dfc > 0 ? ((double)m - 1.0) / dfc : NAN;
    size_t Gmax = G1 > G2 ? G1 : G2;
    if (G12 > Gmax) Gmax = G12;
    fe_tmp = malloc(Gmax * k * sizeof *fe_tmp);
    if (!fe_tmp) {
      free(ecol);
      free(ecl);
      goto nomem;
    }
    cluster_meat(xe, e, m, k, cl1, G1, fe_tmp, meat);
    sandwich(bread, meat, k, tmp, V);
    double c1 = adj * (double)G1 / (double)(G1 - 1);
    for (size_t a = 0; a < k * k; a++)
      V[a] *= c1;
    df_inf = (double)G1 - 1.0;
    if (two) {
      cluster_meat(xe, e, m, k, cl2, G2, fe_tmp, meat);
      double *s2 = malloc(2 * k * k * sizeof *s2);
      if (!s2) {
        free(ecol);
        free(ecl);
        goto nomem;
      }
      sandwich(bread, meat, k, s2 + k * k, s2);
      double c2 = adj * (double)G2 / (double)(G2 - 1);
      for (size_t a = 0; a < k * k; a++)
        V[a] += c2 * s2[a];
      if (G12 >= 2) {
        cluster_meat(xe, e, m, k, cl12, G12, fe_tmp, meat);
        sandwich(bread, meat, k, s2 + k * k, s2);
        double c12 = adj * (double)G12 / (double)(G12 - 1);
        for (size_t a = 0; a < k * k; a++)
          V[a] -= c12 * s2[a];
      }
      free(s2);
      int fx = psd_fix(V, k);
      if (fx < 0) {
        free(ecol);
        free(ecl);
        st = core_err_set(err, CORE_EINTERNAL,
                          "eigen-decomposition of the two-way variance "
                          "failed");
        goto fail;
      }
      if (fx == 1) {
        r->vcov_psd_fixed = true;
        if (core_warn(&r->warnings,
                      "the two-way clustered variance was not positive "
                      "semi-definite; its negative eigenvalues were set to 0 "
                      "(Cameron, Gelbach and Miller 2011)") != CORE_OK) {
          free(ecol);
          free(ecl);
          goto nomem;
        }
      }
      df_inf = (double)(G1 < G2 ? G1 : G2) - 1.0;
    }
  }
  r->df_inf = df_inf;

  /* Coefficients and their statistics. */
  double q = core_t_quantile(0.5 + o.level / 2.0, df_inf);
  double *bvec = malloc(k * sizeof *bvec);
  if (!bvec) {
    free(ecol);
    free(ecl);
    goto nomem;
  }
  for (size_t a = 0; a < k; a++) {
    size_t j = ecol[a];
    double b = ols->beta[ecl[a]];
    bvec[a] = b;
    r->beta[j] = b;
    for (size_t c = 0; c < k; c++)
      r->V[j * p + ecol[c]] = V[a * k + c];
    double se = sqrt(V[a * k + a]);
    r->se[j] = se;
    r->t[j] = b / se;
    r->p_value[j] = core_t_pvalue(r->t[j], df_inf);
    r->ci_low[j] = b - q * se;
    r->ci_high[j] = b + q * se;
  }

  /* Sums of squares and R^2. */
  double sstw = 0, ybar = 0, sst = 0;
  for (size_t i = 0; i < m; i++)
    sstw += cols[0][i] * cols[0][i];
  const double *yv = y->data;
  size_t ys = y->stride;
  for (size_t i = 0; i < m; i++)
    ybar += yv[rowsv[i] * ys];
  ybar /= (double)m;
  for (size_t i = 0; i < m; i++)
    sst += (yv[rowsv[i] * ys] - ybar) * (yv[rowsv[i] * ys] - ybar);
  r->sst_within = sstw;
  r->r2_within = sstw > 0 ? 1.0 - r->ssr / sstw : NAN;
  r->sst = sst;
  r->r2 = sst > 0 ? 1.0 - r->ssr / sst : NAN;
  r->adj_r2 =
      sst > 0 ? 1.0 - (1.0 - r->r2) * ((double)m - 1.0) / df_resid : NAN;
  r->f_df1 = (double)k;
  r->f_df2 = df_inf;
  if (o.vcov == CORE_FE_VCOV_CLASSICAL)
    r->f = ((sstw - r->ssr) / (double)k) / r->sigma2;
  else
    r->f = wald_f(bvec, V, k);
  r->f_p_value = isnan(r->f) ? NAN : core_f_pvalue(r->f, r->f_df1, r->f_df2);
  free(bvec);

  /* x b on the original data, then the fixed effects from y - x b. */
  double *xb = cols[0]; /* the demeaned y is no longer needed */
  double *rr = cols[1 < p + 1 ? 1 : 0];
  for (size_t i = 0; i < m; i++) {
    const double *xr = X->data + rowsv[i] * X->tda;
    double s = 0;
    for (size_t a = 0; a < k; a++)
      s += xr[ecol[a]] * r->beta[ecol[a]];
    xb[i] = s;
  }
  for (size_t i = 0; i < m; i++)
    rr[i] = yv[rowsv[i] * ys] - xb[i];
  {
    double mx = 0, my = ybar, sxy = 0, sxx = 0;
    for (size_t i = 0; i < m; i++)
      mx += xb[i];
    mx /= (double)m;
    for (size_t i = 0; i < m; i++) {
      sxy += (xb[i] - mx) * (yv[rowsv[i] * ys] - my);
      sxx += (xb[i] - mx) * (xb[i] - mx);
    }
    r->r2_xb = (sxx > 0 && sst > 0) ? sxy * sxy / (sxx * sst) : NAN;
  }
  free(ecol);
  free(ecl);
  core_hdfe_info rinfo;
  st = core_hdfe_recover_fe(h, rr, NULL, &ho, r->fe, &rinfo, err);
  if (st != CORE_OK) goto fail;
  for (size_t i = 0; i < m; i++) {
    size_t row = rowsv[i];
    double s = xb[i];
    for (size_t f = 0; f < nf; f++)
      s += r->fe[f][lev[f][row]];
    r->fitted[row] = s;
    r->resid[row] = yv[row * ys] - s;
  }
  if (r->n_singletons > 0 &&
      core_warn(&r->warnings, "%zu singleton observations were dropped",
                r->n_singletons) != CORE_OK)
    goto nomem;
  if (!r->df_absorbed_exact &&
      core_warn(&r->warnings,
                "with %zu fixed effects the absorbed degrees of freedom (%zu) "
                "are an upper bound",
                nf, r->df_absorbed) != CORE_OK)
    goto nomem;

  *out = r;
  r = NULL;
  st = CORE_OK;
  goto cleanup;
nomem:
  st = core_err_set(err, CORE_ENOMEM, "out of memory in the within fit");
fail:
cleanup:
  core_fe_result_free(r);
  core_hdfe_free(h);
  free(buf);
  free(cols);
  free(work);
  free(fe_tmp);
  free(cl1);
  free(cl2);
  free(cl12);
  free(kept_idx);
  free(xk);
  free(mean0);
  core_ols_result_free(ols);
  return st;
}
