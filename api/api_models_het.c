/* Heterogeneity of effects (METHODS.md section 9) for least squares:
 * - group effects: for every interaction term x:g with g a 0/1 variable and
 *   x itself in the model, the effect of x in the group g = 1 is
 *   b_x + b_{x:g}, its standard error sqrt(V_xx + V_gg + 2 V_xg) (the delta
 *   method, exact for this linear combination);
 * - "by": the model fitted separately on each group of a variable, with the
 *   Wald test that the coefficients are equal across the groups:
 *   W = d' C^-1 d, d the differences b_g - b_1 (g >= 2) over the
 *   coefficients every group estimates, C their covariance from the groups'
 *   own (independent) variances, chi-square with (G - 1) k degrees of
 *   freedom. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>

#include "api_models_int.h"

/* Index of the design column labelled label, or p when none. */
static size_t column_of(const core_design *d, const char *label, size_t len) {
  for (size_t j = 0; j < d->p; j++)
    if (strlen(d->col_label[j]) == len &&
        strncmp(d->col_label[j], label, len) == 0)
      return j;
  return d->p;
}

/* True when the panel column name holds only 0 and 1 on the fit rows. */
static bool binary(const core_panel *p, const core_design *d,
                   const char *name) {
  const double *v = core_panel_column(p, name);
  if (v == NULL) return false;
  bool zero = false, one = false;
  for (size_t i = 0; i < d->n; i++) {
    double x = v[d->row[i]];
    if (x == 0.0)
      zero = true;
    else if (x == 1.0)
      one = true;
    else
      return false;
  }
  return zero && one;
}

json_t *api_het_group_effects(model_ctx *c, api_out *o) {
  const core_design *d = c->fit;
  const core_ols_result *r = c->ols;
  json_t *arr = json_array();
  if (r == NULL || d == NULL) return arr;
  double q = core_t_quantile(0.5 + c->confidence / 2.0, r->df_inf);
  for (size_t j = 0; j < d->p; j++) {
    const char *label = d->col_label[j];
    const char *colon = strrchr(label, ':');
    if (colon == NULL || r->dropped[j]) continue;
    const char *g = colon + 1;
    if (!binary(c->data.panel, d, g)) continue;
    size_t x = column_of(d, label, (size_t)(colon - label));
    if (x == d->p || r->dropped[x]) continue;
    double est = r->beta[x] + r->beta[j];
    double var =
        r->V[x * r->p + x] + r->V[j * r->p + j] + 2.0 * r->V[x * r->p + j];
    double se = var >= 0 ? sqrt(var) : NAN;
    double t = est / se;
    json_t *e = json_object();
    char term[CORE_NAME_MAX * 2 + 2];
    snprintf(term, sizeof term, "%.*s", (int)(colon - label), label);
    api_out_set(o, e, "term", json_string(term));
    api_out_set(o, e, "group", json_string(g));
    api_out_set(o, e, "estimate", api_out_num(o, est, NULL));
    api_out_set(o, e, "std_error", api_out_num(o, se, NULL));
    api_out_set(o, e, "statistic", api_out_num(o, t, NULL));
    api_out_set(o, e, "p_value",
                api_out_num(o, core_t_pvalue(t, r->df_inf), NULL));
    api_out_set(o, e, "ci_low", api_out_num(o, est - q * se, NULL));
    api_out_set(o, e, "ci_high", api_out_num(o, est + q * se, NULL));
    api_out_push(o, arr, e);
  }
  return arr;
}

/* ---- by ------------------------------------------------------------------ */

typedef struct group_fit {
  char name[96];
  size_t n;
  core_ols_result *fit;
  char error[512];
} group_fit;

static void group_name(const core_panel *p, const char *by, size_t row,
                       char *buf, size_t bufsz) {
  if (strcmp(by, "reporter") == 0 && p->reporter && p->reporter[row])
    snprintf(buf, bufsz, "%s", p->reporter[row]);
  else if (strcmp(by, "partner") == 0 && p->partner && p->partner[row])
    snprintf(buf, bufsz, "%s", p->partner[row]);
  else if (strcmp(by, "year") == 0 && p->year)
    snprintf(buf, bufsz, "%d", p->year[row]);
  else {
    const double *v = core_panel_column(p, by);
    snprintf(buf, bufsz, "%.17g", v ? v[row] : NAN);
  }
}

/* The Wald statistic of equal coefficients over the fitted groups; NaN
 * (with *df 0) when fewer than two groups fitted or C is singular. */
static double wald(group_fit *gf, size_t ng, size_t p, const bool *common,
                   size_t *df) {
  size_t k = 0;
  for (size_t j = 0; j < p; j++)
    k += common[j];
  size_t m = 0;
  for (size_t g = 0; g < ng; g++)
    m += gf[g].fit != NULL;
  *df = 0;
  if (m < 2 || k == 0) return NAN;
  size_t q = (m - 1) * k;
  gsl_matrix *C = gsl_matrix_calloc(q, q);
  gsl_vector *dv = gsl_vector_alloc(q);
  gsl_vector *x = gsl_vector_alloc(q);
  double w = NAN;
  if (C && dv && x) {
    const core_ols_result *b1 = NULL;
    size_t blk = 0;
    for (size_t g = 0; g < ng; g++) {
      const core_ols_result *r = gf[g].fit;
      if (r == NULL) continue;
      if (b1 == NULL) {
        b1 = r;
        continue;
      }
      size_t a = 0;
      for (size_t i = 0; i < p; i++) {
        if (!common[i]) continue;
        gsl_vector_set(dv, blk * k + a, r->beta[i] - b1->beta[i]);
        size_t bcol = 0;
        for (size_t j = 0; j < p; j++) {
          if (!common[j]) continue;
          /* Every block shares V_1; the diagonal blocks add V_g. */
          for (size_t blk2 = 0; blk2 < m - 1; blk2++) {
            double v = b1->V[i * p + j] + (blk2 == blk ? r->V[i * p + j] : 0);
            gsl_matrix_set(C, blk * k + a, blk2 * k + bcol, v);
          }
          bcol++;
        }
        a++;
      }
      blk++;
    }
    if (gsl_linalg_cholesky_decomp1(C) == GSL_SUCCESS &&
        gsl_linalg_cholesky_solve(C, dv, x) == GSL_SUCCESS) {
      gsl_blas_ddot(dv, x, &w);
      *df = q;
    }
  }
  gsl_matrix_free(C);
  gsl_vector_free(dv);
  gsl_vector_free(x);
  return w;
}

bool api_het_by(model_ctx *c, api_out *o, json_t **out) {
  *out = NULL;
  const core_design *d = c->fit;
  const core_panel *p = c->data.panel;
  size_t *ids = malloc((p->n ? p->n : 1) * sizeof *ids);
  if (ids == NULL) return api_mctx_internal(c, "Out of memory.");
  size_t ng = 0;
  core_err err;
  core_err_clear(&err);
  core_status st = core_factor_from_panel(p, c->by, NULL, ids, &ng, &err);
  if (st != CORE_OK) {
    free(ids);
    if (st == CORE_ENOMEM) return api_mctx_internal(c, "Out of memory.");
    api_mctx_raise(c, API_E_INVALID);
    api_errors_add(&c->errs, "/by", "%s", err.msg);
    return api_mctx_errors(c, "The groups cannot be formed");
  }
  group_fit *gf = calloc(ng ? ng : 1, sizeof *gf);
  size_t *rows = malloc((d->n ? d->n : 1) * sizeof *rows);
  if (gf == NULL || rows == NULL) {
    free(ids);
    free(gf);
    free(rows);
    return api_mctx_internal(c, "Out of memory.");
  }
  core_vcov_spec vs = {.kind = c->vcov_kind};
  for (size_t g = 0; g < ng; g++) {
    size_t m = 0;
    for (size_t i = 0; i < d->n; i++)
      if (ids[d->row[i]] == g) rows[m++] = i;
    gf[g].n = m;
    if (m > 0)
      group_name(p, c->by, d->row[rows[0]], gf[g].name, sizeof gf[g].name);
    gsl_matrix *X = m ? gsl_matrix_alloc(m, d->p) : NULL;
    gsl_vector *y = m ? gsl_vector_alloc(m) : NULL;
    if (m == 0 || X == NULL || y == NULL) {
      snprintf(gf[g].error, sizeof gf[g].error,
               m ? "out of memory" : "no row of the fit is in this group");
    } else {
      for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < d->p; j++)
          gsl_matrix_set(X, i, j, gsl_matrix_get(d->X, rows[i], j));
        gsl_vector_set(y, i, gsl_vector_get(d->y, rows[i]));
      }
      core_err_clear(&err);
      if (core_ols_fit(X, y, d->has_intercept, &vs, c->confidence, &gf[g].fit,
                       &err) != CORE_OK)
        snprintf(gf[g].error, sizeof gf[g].error, "%s", err.msg);
    }
    gsl_matrix_free(X);
    gsl_vector_free(y);
  }
  free(rows);
  free(ids);
  /* The coefficients every fitted group estimates. */
  bool *common = malloc((d->p ? d->p : 1) * sizeof *common);
  json_t *groups = json_array();
  if (common == NULL) {
    for (size_t g = 0; g < ng; g++)
      core_ols_result_free(gf[g].fit);
    free(gf);
    json_decref(groups);
    return api_mctx_internal(c, "Out of memory.");
  }
  for (size_t j = 0; j < d->p; j++) {
    common[j] = true;
    for (size_t g = 0; g < ng; g++)
      if (gf[g].fit && gf[g].fit->dropped[j]) common[j] = false;
  }
  size_t failed = 0;
  for (size_t g = 0; g < ng; g++) {
    json_t *e = json_object();
    api_out_set(o, e, "group", json_string(gf[g].name));
    api_out_set(o, e, "n", json_integer((json_int_t)gf[g].n));
    const core_ols_result *r = gf[g].fit;
    if (r == NULL) {
      failed++;
      api_out_set(o, e, "error", json_string(gf[g].error));
    } else {
      json_t *coefs = json_array();
      for (size_t j = 0; j < d->p; j++) {
        if (r->dropped[j]) continue;
        json_t *co = json_object();
        api_out_set(o, co, "term", json_string(d->col_label[j]));
        api_out_set(o, co, "estimate", api_out_num(o, r->beta[j], NULL));
        api_out_set(o, co, "std_error", api_out_num(o, r->se[j], NULL));
        api_out_set(o, co, "statistic", api_out_num(o, r->t[j], NULL));
        api_out_set(o, co, "p_value", api_out_num(o, r->p_value[j], NULL));
        api_out_push(o, coefs, co);
      }
      api_out_set(o, e, "coefficients", coefs);
      api_out_set(o, e, "r2", api_out_num(o, r->r2, NULL));
      api_out_set(o, e, "df_resid", api_out_num(o, r->df_resid, NULL));
    }
    api_out_push(o, groups, e);
  }
  size_t df = 0;
  double w = wald(gf, ng, d->p, common, &df);
  for (size_t g = 0; g < ng; g++)
    core_ols_result_free(gf[g].fit);
  free(gf);
  free(common);
  json_t *wt = json_object();
  api_out_set(o, wt, "statistic", api_out_num(o, w, NULL));
  api_out_set(o, wt, "df", json_integer((json_int_t)df));
  api_out_set(
      o, wt, "p_value",
      api_out_num(o, df ? core_chisq_pvalue(w, (double)df) : NAN, NULL));
  api_out_set(o, wt, "note",
              json_string(failed ? "groups that could not be fitted are left "
                                   "out of the test"
                                 : "all groups fitted"));
  *out = json_pack("{s:s, s:o, s:o}", "variable", c->by, "groups", groups,
                   "wald", wt);
  if (*out == NULL) return api_mctx_internal(c, "Out of memory.");
  return true;
}
