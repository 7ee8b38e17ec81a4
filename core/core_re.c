/* Swamy-Arora random effects and the Hausman test (see core_re.h). */
#include "core_re.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>

#include "core_ols.h"

static char *dup_str(const char *s) {
  size_t len = strlen(s);
  char *d = malloc(len + 1);
  if (d) memcpy(d, s, len + 1);
  return d;
}

void core_re_result_free(core_re_result *r) {
  if (!r) return;
  if (r->col_label)
    for (size_t j = 0; j < r->p; j++)
      free(r->col_label[j]);
  free(r->col_label);
  free(r->dropped);
  free(r->beta);
  free(r->se);
  free(r->t);
  free(r->p_value);
  free(r->ci_low);
  free(r->ci_high);
  free(r->V);
  free(r->theta);
  free(r->T);
  core_warnings_clear(&r->warnings);
  free(r);
}

static core_re_result *re_alloc(size_t p, size_t n_ids,
                                const char *const *labels) {
  core_re_result *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->p = p;
  r->n_ids = n_ids;
  r->col_label = calloc(p, sizeof *r->col_label);
  r->dropped = calloc(p, sizeof *r->dropped);
  r->beta = malloc(p * sizeof(double));
  r->se = malloc(p * sizeof(double));
  r->t = malloc(p * sizeof(double));
  r->p_value = malloc(p * sizeof(double));
  r->ci_low = malloc(p * sizeof(double));
  r->ci_high = malloc(p * sizeof(double));
  r->V = malloc(p * p * sizeof(double));
  r->theta = malloc((n_ids ? n_ids : 1) * sizeof(double));
  r->T = calloc(n_ids ? n_ids : 1, sizeof(size_t));
  if (!r->col_label || !r->dropped || !r->beta || !r->se || !r->t ||
      !r->p_value || !r->ci_low || !r->ci_high || !r->V || !r->theta || !r->T) {
    core_re_result_free(r);
    return NULL;
  }
  for (size_t j = 0; j < p; j++) {
    char buf[32];
    snprintf(buf, sizeof buf, "x%zu", j - 1);
    const char *s = j == 0                      ? "(Intercept)"
                    : (labels && labels[j - 1]) ? labels[j - 1]
                                                : buf;
    if (!(r->col_label[j] = dup_str(s))) {
      core_re_result_free(r);
      return NULL;
    }
  }
  return r;
}

core_status core_re_fit(const gsl_matrix *X, const gsl_vector *y,
                        const char *const *labels, const size_t *group,
                        size_t n_groups, double level, core_re_result **out,
                        core_err *err) {
  if (out) *out = NULL;
  if (!X || !y || !group || !out)
    return core_err_set(err, CORE_EINVAL, "core_re_fit: NULL argument");
  size_t n = X->size1, p0 = X->size2, p = p0 + 1;
  if (y->size != n)
    return core_err_set(err, CORE_EINVAL, "X has %zu rows but y has %zu values",
                        n, y->size);
  if (level == 0) level = 0.95;
  if (!(level > 0 && level < 1))
    return core_err_set(err, CORE_EINVAL, "confidence level not in (0, 1)");
  for (size_t i = 0; i < n; i++)
    if (group[i] >= n_groups) {
      core_err_set(err, CORE_EINVAL,
                   "individual id %zu of row %zu is not below %zu", group[i], i,
                   n_groups);
      core_err_add_row(err, i);
      return CORE_EINVAL;
    }

  core_status st;
  core_re_result *r = re_alloc(p, n_groups, labels);
  core_fe_result *fe = NULL;
  core_ols_result *bt = NULL, *ols = NULL;
  gsl_matrix *Zb = NULL, *Xs = NULL, *A = NULL, *B = NULL;
  gsl_vector *yb = NULL, *ys = NULL;
  double *mean = NULL;
  size_t *gidx = NULL;
  if (!r) goto nomem;
  r->n = n;

  /* Within fit (keeps singletons, as plm). */
  core_fe_factor fac = {"individual", group, n_groups};
  core_fe_opts fo;
  memset(&fo, 0, sizeof fo);
  fo.keep_singletons = true;
  fo.level = level;
  st = core_fe_fit(X, y, labels, &fac, 1, &fo, &fe, err);
  if (st != CORE_OK) goto fail;
  r->within_k = fe->k;
  r->sigma2_e = fe->sigma2;

  /* Individual means of [1, X, y], T_i. */
  for (size_t i = 0; i < n; i++)
    r->T[group[i]]++;
  size_t N = 0;
  gidx = malloc((n_groups ? n_groups : 1) * sizeof *gidx);
  if (!gidx) goto nomem;
  for (size_t g = 0; g < n_groups; g++)
    gidx[g] = r->T[g] ? N++ : SIZE_MAX;
  r->n_groups = N;
  r->balanced = true;
  for (size_t g = 0; g < n_groups; g++)
    if (r->T[g] && r->T[g] != r->T[group[0]]) r->balanced = false;
  mean = calloc(N * (p + 1), sizeof *mean); /* per group: 1, x..., y */
  if (!mean) goto nomem;
  for (size_t i = 0; i < n; i++) {
    double *mg = mean + gidx[group[i]] * (p + 1);
    mg[0] += 1.0;
    for (size_t j = 0; j < p0; j++)
      mg[j + 1] += gsl_matrix_get(X, i, j);
    mg[p] += gsl_vector_get(y, i);
  }
  for (size_t g = 0; g < n_groups; g++) {
    if (!r->T[g]) continue;
    double *mg = mean + gidx[g] * (p + 1);
    for (size_t j = 0; j <= p; j++)
      mg[j] /= (double)r->T[g];
  }

  /* Between regression weighted by T_i (the means repeated T_i times). */
  Zb = gsl_matrix_alloc(N, p);
  yb = gsl_vector_alloc(N);
  if (!Zb || !yb) goto nomem;
  for (size_t g = 0; g < n_groups; g++) {
    if (!r->T[g]) continue;
    size_t c = gidx[g];
    double s = sqrt((double)r->T[g]);
    const double *mg = mean + c * (p + 1);
    for (size_t j = 0; j < p; j++)
      gsl_matrix_set(Zb, c, j, s * mg[j]);
    gsl_vector_set(yb, c, s * mg[p]);
  }
  st = core_ols_fit(Zb, yb, false, NULL, level, &bt, err);
  if (st != CORE_OK) goto fail;
  size_t Kb = bt->k; /* with the intercept */
  if (N <= Kb) {
    st = core_err_set(err, CORE_ETOOFEW,
                      "%zu individuals are too few for the between "
                      "regression with %zu coefficients",
                      N, Kb);
    goto fail;
  }
  double qb = bt->ssr;
  /* tr[(sum T_i z z')^-1 sum T_i^2 z z'] over the between columns kept. */
  A = gsl_matrix_calloc(Kb, Kb);
  B = gsl_matrix_calloc(Kb, Kb);
  if (!A || !B) goto nomem;
  for (size_t g = 0; g < n_groups; g++) {
    if (!r->T[g]) continue;
    const double *mg = mean + gidx[g] * (p + 1);
    double T = (double)r->T[g];
    for (size_t a = 0, ia = 0; a < p; a++) {
      if (bt->dropped[a]) continue;
      for (size_t b = 0, ib = 0; b < p; b++) {
        if (bt->dropped[b]) continue;
        double zz = mg[a] * mg[b];
        *gsl_matrix_ptr(A, ia, ib) += T * zz;
        *gsl_matrix_ptr(B, ia, ib) += T * T * zz;
        ib++;
      }
      ia++;
    }
  }
  if (gsl_linalg_cholesky_decomp1(A) != 0) {
    st = core_err_set(err, CORE_ESINGULAR,
                      "the between cross-product matrix is singular");
    goto fail;
  }
  double tr = 0;
  for (size_t c = 0; c < Kb; c++) {
    gsl_vector_view col = gsl_matrix_column(B, c);
    if (gsl_linalg_cholesky_svx(A, &col.vector) != 0) {
      st = core_err_set(err, CORE_EINTERNAL, "Cholesky solve failed");
      goto fail;
    }
    tr += gsl_matrix_get(B, c, c);
  }
  double s2u = (qb - ((double)N - (double)Kb) * r->sigma2_e) / ((double)n - tr);
  if (!(s2u > 0)) {
    r->sigma2_u_truncated = s2u < 0;
    s2u = 0;
    if (r->sigma2_u_truncated &&
        core_warn(&r->warnings,
                  "the individual variance component was negative and is "
                  "set to 0 (theta = 0: pooled OLS)") != CORE_OK)
      goto nomem;
  }
  r->sigma2_u = s2u;
  r->theta_min = INFINITY;
  r->theta_max = -INFINITY;
  for (size_t g = 0; g < n_groups; g++) {
    if (!r->T[g]) {
      r->theta[g] = NAN;
      continue;
    }
    double th = 1.0 - sqrt(r->sigma2_e / ((double)r->T[g] * s2u + r->sigma2_e));
    r->theta[g] = th;
    if (th < r->theta_min) r->theta_min = th;
    if (th > r->theta_max) r->theta_max = th;
  }

  /* Quasi-demeaned OLS. */
  Xs = gsl_matrix_alloc(n, p);
  ys = gsl_vector_alloc(n);
  if (!Xs || !ys) goto nomem;
  for (size_t i = 0; i < n; i++) {
    double th = r->theta[group[i]];
    const double *mg = mean + gidx[group[i]] * (p + 1);
    gsl_matrix_set(Xs, i, 0, 1.0 - th);
    for (size_t j = 0; j < p0; j++)
      gsl_matrix_set(Xs, i, j + 1, gsl_matrix_get(X, i, j) - th * mg[j + 1]);
    gsl_vector_set(ys, i, gsl_vector_get(y, i) - th * mg[p]);
  }
  st = core_ols_fit(Xs, ys, false, NULL, level, &ols, err);
  if (st != CORE_OK) goto fail;
  r->k = ols->k;
  memcpy(r->dropped, ols->dropped, p * sizeof *r->dropped);
  memcpy(r->beta, ols->beta, p * sizeof(double));
  memcpy(r->se, ols->se, p * sizeof(double));
  memcpy(r->t, ols->t, p * sizeof(double));
  memcpy(r->p_value, ols->p_value, p * sizeof(double));
  memcpy(r->ci_low, ols->ci_low, p * sizeof(double));
  memcpy(r->ci_high, ols->ci_high, p * sizeof(double));
  memcpy(r->V, ols->V, p * p * sizeof(double));
  r->df_resid = ols->df_resid;
  r->ssr = ols->ssr;
  r->sigma2 = ols->sigma2;
  {
    double ybar = 0, sst = 0;
    for (size_t i = 0; i < n; i++)
      ybar += gsl_vector_get(ys, i);
    ybar /= (double)n;
    for (size_t i = 0; i < n; i++) {
      double d = gsl_vector_get(ys, i) - ybar;
      sst += d * d;
    }
    r->r2 = sst > 0 ? 1.0 - ols->ssr / sst : NAN;
  }
  for (size_t j = 0; j < p; j++)
    if (r->dropped[j] &&
        core_warn(&r->warnings, "%s was dropped: it is collinear",
                  r->col_label[j]) != CORE_OK)
      goto nomem;
  *out = r;
  r = NULL;
  st = CORE_OK;
  goto cleanup;
nomem:
  st = core_err_set(err, CORE_ENOMEM,
                    "out of memory in the random-effects "
                    "fit");
fail:
cleanup:
  core_re_result_free(r);
  core_fe_result_free(fe);
  core_ols_result_free(bt);
  core_ols_result_free(ols);
  gsl_matrix_free(Zb);
  gsl_matrix_free(Xs);
  gsl_matrix_free(A);
  gsl_matrix_free(B);
  gsl_vector_free(yb);
  gsl_vector_free(ys);
  free(mean);
  free(gidx);
  return st;
}

core_status core_hausman(size_t q, const double *b_fe, const double *V_fe,
                         const double *b_re, const double *V_re,
                         core_hausman_result *out, core_warnings *w,
                         core_err *err) {
  if (!b_fe || !V_fe || !b_re || !V_re || !out || q == 0)
    return core_err_set(err, CORE_EINVAL,
                        "core_hausman: NULL argument or "
                        "no coefficient");
  memset(out, 0, sizeof *out);
  out->q = q;
  for (size_t a = 0; a < q; a++) {
    if (!isfinite(b_fe[a]) || !isfinite(b_re[a]))
      return core_err_set(err, CORE_EINVAL, "coefficient %zu is not finite", a);
    for (size_t b = 0; b < q; b++)
      if (!isfinite(V_fe[a * q + b]) || !isfinite(V_re[a * q + b]))
        return core_err_set(err, CORE_EINVAL, "a variance entry is not finite");
  }
  gsl_matrix *D = gsl_matrix_alloc(q, q), *Q = gsl_matrix_alloc(q, q);
  gsl_vector *ev = gsl_vector_alloc(q);
  gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(q);
  core_status st = CORE_OK;
  if (!D || !Q || !ev || !ws) {
    st = core_err_set(err, CORE_ENOMEM, "out of memory in the Hausman test");
    goto cleanup;
  }
  for (size_t a = 0; a < q; a++)
    for (size_t b = 0; b < q; b++)
      gsl_matrix_set(D, a, b,
                     0.5 * ((V_fe[a * q + b] - V_re[a * q + b]) +
                            (V_fe[b * q + a] - V_re[b * q + a])));
  if (gsl_eigen_symmv(D, ev, Q, ws) != 0) {
    st = core_err_set(err, CORE_EINTERNAL,
                      "eigen-decomposition failed in the Hausman test");
    goto cleanup;
  }
  double lmax = 0;
  for (size_t c = 0; c < q; c++)
    if (fabs(gsl_vector_get(ev, c)) > lmax) lmax = fabs(gsl_vector_get(ev, c));
  double H = 0;
  size_t rank = 0;
  out->pos_def = lmax > 0;
  for (size_t c = 0; c < q; c++) {
    double l = gsl_vector_get(ev, c);
    if (l <= CORE_HAUSMAN_TOL * lmax) out->pos_def = false;
    if (fabs(l) <= CORE_HAUSMAN_TOL * lmax || lmax == 0) continue;
    double proj = 0;
    for (size_t a = 0; a < q; a++)
      proj += gsl_matrix_get(Q, a, c) * (b_fe[a] - b_re[a]);
    H += proj * proj / l;
    rank++;
  }
  out->stat = H;
  out->df = (double)rank;
  out->p_value = rank > 0 && H >= 0 ? core_chisq_pvalue(H, (double)rank) : NAN;
  if (!out->pos_def &&
      core_warn(w,
                "V_FE - V_RE is not positive definite: the Hausman statistic "
                "uses a generalised inverse with %zu of %zu dimensions",
                rank, q) != CORE_OK)
    st = core_err_set(err, CORE_ENOMEM, "out of memory");
cleanup:
  gsl_matrix_free(D);
  gsl_matrix_free(Q);
  gsl_vector_free(ev);
  gsl_eigen_symmv_free(ws);
  return st;
}

core_status core_hausman_fe_re(const core_fe_result *fe,
                               const core_re_result *re,
                               core_hausman_result *out, core_warnings *w,
                               core_err *err) {
  if (!fe || !re || !out)
    return core_err_set(err, CORE_EINVAL, "core_hausman_fe_re: NULL argument");
  size_t *ia = malloc((fe->p ? fe->p : 1) * sizeof *ia);
  size_t *ib = malloc((fe->p ? fe->p : 1) * sizeof *ib);
  double *bf = NULL, *br = NULL, *Vf = NULL, *Vr = NULL;
  core_status st = CORE_OK;
  if (!ia || !ib) goto nomem;
  size_t q = 0;
  for (size_t j = 0; j < fe->p; j++) {
    if (fe->dropped[j]) continue;
    for (size_t c = 1; c < re->p; c++)
      if (!re->dropped[c] && strcmp(fe->col_label[j], re->col_label[c]) == 0) {
        ia[q] = j;
        ib[q++] = c;
        break;
      }
  }
  if (q == 0) {
    st = core_err_set(err, CORE_EINVAL,
                      "the fixed- and random-effects fits share no "
                      "coefficient");
    goto cleanup;
  }
  bf = malloc(q * sizeof *bf);
  br = malloc(q * sizeof *br);
  Vf = malloc(q * q * sizeof *Vf);
  Vr = malloc(q * q * sizeof *Vr);
  if (!bf || !br || !Vf || !Vr) goto nomem;
  for (size_t a = 0; a < q; a++) {
    bf[a] = fe->beta[ia[a]];
    br[a] = re->beta[ib[a]];
    for (size_t b = 0; b < q; b++) {
      Vf[a * q + b] = fe->V[ia[a] * fe->p + ia[b]];
      Vr[a * q + b] = re->V[ib[a] * re->p + ib[b]];
    }
  }
  st = core_hausman(q, bf, Vf, br, Vr, out, w, err);
  goto cleanup;
nomem:
  st = core_err_set(err, CORE_ENOMEM, "out of memory in the Hausman test");
cleanup:
  free(ia);
  free(ib);
  free(bf);
  free(br);
  free(Vf);
  free(Vr);
  return st;
}
