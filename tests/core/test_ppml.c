/* core_ppml against R's glm(family = quasipoisson) with sandwich variances
 * (tests/reference/ppml: gen_data.R makes the data, reference.R the values;
 * see README.md there). Coefficients, standard errors, statistics and every
 * fitted mean must agree to REL_TOL relative (the digits reached are logged);
 * the drop counts of the separation checks exactly; then the non-convergence
 * and every error path. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "core_ppml.h"

#define REL_TOL 1e-8
#define TIGHT 1e-13 /* IRLS tolerance of the comparisons with R */

static void setup(void) {
  gsl_set_error_handler_off();
}

TestSuite(ppml, .init = setup);

/* ------------------------------------------------------------------------ */
/* Fixture reading                                                          */
/* ------------------------------------------------------------------------ */

static char *slurp(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/tests/reference/ppml/%s", GRAVITAS_SOURCE_DIR,
           name);
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  cr_assert_eq(fseek(f, 0, SEEK_END), 0);
  long len = ftell(f);
  cr_assert_geq(len, 0);
  rewind(f);
  char *buf = malloc((size_t)len + 1);
  cr_assert_not_null(buf);
  cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
  buf[len] = '\0';
  fclose(f);
  return buf;
}

static double parse_num(const char *s) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  cr_assert(end != s && *end == '\0' &&
                (errno == 0 || (errno == ERANGE && fabs(v) < 1.0)),
            "bad number '%s'", s);
  return v;
}

#define MAXCOL 12
/* A CSV table of text cells (no quoting in these fixtures). */
typedef struct table {
  size_t n, ncol;
  char *names[MAXCOL];
  char **cell; /* n x ncol */
  char *buf;
} table;

static size_t split(char *line, char **out, size_t max) {
  size_t k = 0;
  char *s = line;
  for (;;) {
    cr_assert_lt(k, max);
    out[k++] = s;
    char *c = strchr(s, ',');
    if (c == NULL) break;
    *c = '\0';
    s = c + 1;
  }
  return k;
}

static table load(const char *name) {
  table t = {0};
  t.buf = slurp(name);
  size_t lines = 0;
  for (char *s = t.buf; *s; s++)
    lines += *s == '\n';
  t.cell = malloc(lines * MAXCOL * sizeof *t.cell);
  cr_assert_not_null(t.cell);
  char *save = t.buf;
  char *nl = strchr(save, '\n');
  cr_assert_not_null(nl);
  *nl = '\0';
  t.ncol = split(save, t.names, MAXCOL);
  save = nl + 1;
  while (*save) {
    nl = strchr(save, '\n');
    if (nl) *nl = '\0';
    size_t k = split(save, t.cell + t.n * MAXCOL, MAXCOL);
    cr_assert_eq(k, t.ncol, "%s row %zu has %zu cells", name, t.n, k);
    t.n++;
    if (!nl) break;
    save = nl + 1;
  }
  return t;
}

static void table_free(table *t) {
  free(t->cell);
  free(t->buf);
}

static size_t col_of(const table *t, const char *name) {
  for (size_t j = 0; j < t->ncol; j++)
    if (strcmp(t->names[j], name) == 0) return j;
  cr_assert_fail("no column %s", name);
  return 0;
}

static double num(const table *t, size_t i, const char *name) {
  return parse_num(t->cell[i * MAXCOL + col_of(t, name)]);
}

static const char *txt(const table *t, size_t i, const char *name) {
  return t->cell[i * MAXCOL + col_of(t, name)];
}

/* Level ids of the text key made of one or two columns (joined by '|'). */
static size_t *factor(const table *t, const char *a, const char *b,
                      size_t *n_levels) {
  size_t *id = malloc(t->n * sizeof *id);
  char **seen = malloc(t->n * sizeof *seen);
  cr_assert(id && seen);
  size_t nl = 0;
  for (size_t i = 0; i < t->n; i++) {
    char key[128];
    snprintf(key, sizeof key, "%s|%s", txt(t, i, a), b ? txt(t, i, b) : "");
    size_t l = 0;
    while (l < nl && strcmp(seen[l], key) != 0)
      l++;
    if (l == nl) {
      seen[nl] = strdup(key);
      cr_assert_not_null(seen[nl]);
      nl++;
    }
    id[i] = l;
  }
  for (size_t l = 0; l < nl; l++)
    free(seen[l]);
  free(seen);
  *n_levels = nl;
  return id;
}

/* values.csv: model,stat,term,value. */
static table *g_values;

static bool ref_find(const char *model, const char *stat, const char *term,
                     double *v) {
  if (g_values == NULL) {
    g_values = malloc(sizeof *g_values);
    cr_assert_not_null(g_values);
    *g_values = load("values.csv");
  }
  for (size_t i = 0; i < g_values->n; i++)
    if (strcmp(txt(g_values, i, "model"), model) == 0 &&
        strcmp(txt(g_values, i, "stat"), stat) == 0 &&
        strcmp(txt(g_values, i, "term"), term) == 0) {
      const char *c = txt(g_values, i, "value");
      *v = strcmp(c, "NA") == 0 ? NAN : parse_num(c);
      return true;
    }
  return false;
}

static double ref(const char *model, const char *stat, const char *term) {
  double v;
  cr_assert(ref_find(model, stat, term, &v), "no reference %s/%s/%s", model,
            stat, term);
  return v;
}

/* Worst relative error per kind of value, logged as digits. */
typedef struct tally {
  double coef, se, stat, mu;
} tally;

static double relerr(double got, double want, double floor) {
  return fabs(got - want) / fmax(fabs(want), floor);
}

static void check(const char *what, double got, double want, double floor,
                  double tol, double *worst) {
  double e = relerr(got, want, floor);
  if (e > *worst) *worst = e;
  cr_expect(e <= tol, "%s: got %.17g, R %.17g (relative error %.3g)", what, got,
            want, e);
}

static double digits(double e) {
  return -log10(fmax(e, 1e-17));
}

/* Logs the digits reached (17 = exact; a kind not compared is left out). */
static void log_digits(const char *model, const tally *t) {
  char buf[256];
  int len = snprintf(buf, sizeof buf, "%s: digits vs R:", model);
  const char *names[4] = {"coefficients", "standard errors", "statistics",
                          "fitted means"};
  double v[4] = {t->coef, t->se, t->stat, t->mu};
  for (size_t i = 0; i < 4; i++)
    if (v[i] > 0.0 && len > 0 && (size_t)len < sizeof buf)
      len += snprintf(buf + len, sizeof buf - (size_t)len, " %s %.1f", names[i],
                      digits(v[i]));
  cr_log_info("%s", buf);
}

/* ------------------------------------------------------------------------ */
/* Models                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct model {
  table t;
  gsl_matrix *X;
  gsl_vector *y;
  size_t p;
  const char *terms[8]; /* R's names of the columns of X */
  size_t *lev[2];
  size_t nlev[2];
  size_t nf;
  core_ppml_fe fe;
  const size_t *levp[2];
  size_t *pair, npair, *cl_exp, ncl_exp, *cl_imp, ncl_imp;
} model;

/* Builds y = trade and X from the named columns ("(Intercept)" = ones). */
static void model_init(model *m, const char *file, const char *const *terms,
                       size_t p) {
  memset(m, 0, sizeof *m);
  m->t = load(file);
  m->p = p;
  m->X = gsl_matrix_alloc(m->t.n, p);
  m->y = gsl_vector_alloc(m->t.n);
  cr_assert(m->X && m->y);
  for (size_t i = 0; i < m->t.n; i++) {
    gsl_vector_set(m->y, i, num(&m->t, i, "trade"));
    for (size_t j = 0; j < p; j++) {
      m->terms[j] = terms[j];
      double v =
          strcmp(terms[j], "(Intercept)") == 0 ? 1.0 : num(&m->t, i, terms[j]);
      gsl_matrix_set(m->X, i, j, v);
    }
  }
  m->pair = factor(&m->t, "exp", "imp", &m->npair);
  m->cl_exp = factor(&m->t, "exp", NULL, &m->ncl_exp);
  m->cl_imp = factor(&m->t, "imp", NULL, &m->ncl_imp);
}

static void model_fe(model *m, const char *a1, const char *b1, const char *a2,
                     const char *b2) {
  m->lev[0] = factor(&m->t, a1, b1, &m->nlev[0]);
  m->lev[1] = factor(&m->t, a2, b2, &m->nlev[1]);
  m->levp[0] = m->lev[0];
  m->levp[1] = m->lev[1];
  m->nf = 2;
  m->fe.nf = 2;
  m->fe.levels = m->levp;
  m->fe.n_levels = m->nlev;
}

static void model_free(model *m) {
  gsl_matrix_free(m->X);
  gsl_vector_free(m->y);
  free(m->lev[0]);
  free(m->lev[1]);
  free(m->pair);
  free(m->cl_exp);
  free(m->cl_imp);
  table_free(&m->t);
}

static core_ppml_result *fit(model *m, const core_ppml_options *o,
                             bool intercept) {
  core_ppml_result *r = NULL;
  core_err err;
  core_warnings w = {0};
  core_status st = core_ppml_fit(m->X, m->y, intercept, m->nf ? &m->fe : NULL,
                                 o, &r, &w, &err);
  cr_assert_eq(st, CORE_OK, "fit failed: %s: %s", core_status_name(st),
               err.msg);
  cr_assert_not_null(r);
  cr_assert(r->conv.converged);
  for (size_t i = 0; i < w.n; i++)
    cr_log_info("warning: %s", w.msgs[i]);
  core_warnings_clear(&w);
  return r;
}

/* Compares a fit with the reference of `name` (HC0 unless se_stat given). */
static void compare(const model *m, const core_ppml_result *r, const char *name,
                    const char *se_stat, tally *t, double tol) {
  char what[160];
  for (size_t j = 0; j < m->p; j++) {
    double b;
    cr_assert(ref_find(name, "coef", m->terms[j], &b));
    if (isnan(b)) {
      cr_expect(r->dropped[j], "%s: %s should be dropped", name, m->terms[j]);
      continue;
    }
    cr_assert(!r->dropped[j], "%s: %s dropped", name, m->terms[j]);
    snprintf(what, sizeof what, "%s coef %s", name, m->terms[j]);
    check(what, r->beta[j], b, 1e-300, tol, &t->coef);
    snprintf(what, sizeof what, "%s %s %s", name, se_stat, m->terms[j]);
    check(what, r->se[j], ref(name, se_stat, m->terms[j]), 1e-300, tol, &t->se);
    if (strcmp(se_stat, "se_hc0") == 0) {
      snprintf(what, sizeof what, "%s z %s", name, m->terms[j]);
      check(what, r->z[j], ref(name, "z_hc0", m->terms[j]), 1e-300, tol,
            &t->stat);
      snprintf(what, sizeof what, "%s p %s", name, m->terms[j]);
      /* p-values: relative where they are not tiny. */
      check(what, r->p_value[j], ref(name, "p_hc0", m->terms[j]), 1e-12,
            1e3 * tol, &t->stat);
      snprintf(what, sizeof what, "%s ci %s", name, m->terms[j]);
      check(what, r->ci_low[j], ref(name, "ci_low_hc0", m->terms[j]), fabs(b),
            tol, &t->stat);
      check(what, r->ci_high[j], ref(name, "ci_high_hc0", m->terms[j]), fabs(b),
            tol, &t->stat);
      for (size_t l = 0; l < m->p; l++) {
        char key[64];
        double v;
        snprintf(key, sizeof key, "%s:%s", m->terms[j], m->terms[l]);
        if (!ref_find(name, "vhc0", key, &v)) continue;
        snprintf(what, sizeof what, "%s V %s", name, key);
        char kj[64], kl[64];
        snprintf(kj, sizeof kj, "%s:%s", m->terms[j], m->terms[j]);
        snprintf(kl, sizeof kl, "%s:%s", m->terms[l], m->terms[l]);
        /* Covariances relative to sqrt(V_jj V_ll). */
        check(what, r->V[j * m->p + l], v,
              sqrt(ref(name, "vhc0", kj) * ref(name, "vhc0", kl)), tol, &t->se);
      }
    }
  }
}

static void compare_stats(const model *m, const core_ppml_result *r,
                          const char *name, tally *t, double tol) {
  cr_expect_eq((double)r->n, ref(name, "stat", "n"));
  check("deviance", r->deviance, ref(name, "stat", "deviance"), 1e-300, tol,
        &t->stat);
  check("null deviance", r->null_deviance, ref(name, "stat", "null_deviance"),
        1e-300, 1e-12, &t->stat);
  check("loglik", r->loglik, ref(name, "stat", "loglik"), 1e-300, tol,
        &t->stat);
  check("pseudo R2", r->pseudo_r2, ref(name, "stat", "pseudo_r2"), 1e-300, tol,
        &t->stat);
  char file[64];
  snprintf(file, sizeof file, "mu_%s.csv", name);
  char *buf = slurp(file);
  char *s = buf;
  for (size_t i = 0; i < m->t.n; i++) {
    char *nl = strchr(s, '\n');
    cr_assert_not_null(nl);
    *nl = '\0';
    if (strcmp(s, "NA") == 0) {
      cr_expect(isnan(r->mu[i]), "%s: row %zu should not be fitted", name, i);
      cr_expect_neq(r->drop_reason[i], CORE_PPML_KEPT);
    } else {
      char what[64];
      snprintf(what, sizeof what, "%s mu[%zu]", name, i);
      check(what, r->mu[i], parse_num(s), 1e-3, tol, &t->mu);
      cr_expect_eq(r->drop_reason[i], CORE_PPML_KEPT);
    }
    s = nl + 1;
  }
  free(buf);
}

static const char *const NOFE_TERMS[] = {"(Intercept)", "ldist",  "contig",
                                         "lgdp_o",      "lgdp_d", "rta"};
static const char *const FE_TERMS[] = {"ldist", "contig", "lgdp_o", "lgdp_d",
                                       "rta"};

static void tight(core_ppml_options *o) {
  core_ppml_options_init(o);
  o->tol = TIGHT;
  o->fe_tol = 1e-13;
}

/* ------------------------------------------------------------------------ */
/* Without fixed effects                                                    */
/* ------------------------------------------------------------------------ */

Test(ppml, nofe_matches_glm_hc0) {
  model m;
  model_init(&m, "gravity.csv", NOFE_TERMS, 6);
  core_ppml_options o;
  tight(&o);
  core_ppml_result *r = fit(&m, &o, true);
  tally t = {0};
  compare(&m, r, "nofe", "se_hc0", &t, REL_TOL);
  compare_stats(&m, r, "nofe", &t, REL_TOL);
  log_digits("no FE, HC0", &t);
  cr_expect_eq(r->n_separated, 0);
  cr_expect_eq(r->k, 6);
  cr_expect_eq(r->vcov, CORE_PPML_VCOV_ROBUST);
  cr_expect_str_eq(core_ppml_drop_name(r->drop_reason[0]), "kept");
  cr_log_info("no FE: %zu iterations, criterion %.3g", r->conv.iterations,
              r->conv.criterion);
  core_ppml_result_free(r);
  model_free(&m);
}

Test(ppml, nofe_default_tolerance_digits) {
  model m;
  model_init(&m, "gravity.csv", NOFE_TERMS, 6);
  core_ppml_result *r = fit(&m, NULL, true);
  tally t = {0};
  compare(&m, r, "nofe", "se_hc0", &t, 1e-6);
  log_digits("no FE, default tolerance 1e-8", &t);
  cr_expect_eq(r->conv.tolerance, 1e-8);
  cr_expect_leq(r->conv.criterion, 1e-8);
  cr_expect_not_null(r->conv.rule);
  core_ppml_result_free(r);
  model_free(&m);
}

Test(ppml, nofe_classical_and_clusters) {
  model m;
  model_init(&m, "gravity.csv", NOFE_TERMS, 6);
  core_ppml_options o;
  tight(&o);
  tally t = {0};
  o.vcov = CORE_PPML_VCOV_CLASSICAL;
  core_ppml_result *r = fit(&m, &o, true);
  compare(&m, r, "nofe", "se_classical", &t, REL_TOL);
  core_ppml_result_free(r);

  o.vcov = CORE_PPML_VCOV_CLUSTER;
  o.cluster_ways = 1;
  o.cluster[0] = m.pair;
  o.n_clusters[0] = m.npair;
  r = fit(&m, &o, true);
  compare(&m, r, "nofe", "se_cl_pair", &t, REL_TOL);
  cr_expect_eq(r->n_clusters[0], m.npair);
  core_ppml_result_free(r);

  o.cluster_ways = 2;
  o.cluster[0] = m.cl_exp;
  o.n_clusters[0] = m.ncl_exp;
  o.cluster[1] = m.cl_imp;
  o.n_clusters[1] = m.ncl_imp;
  r = fit(&m, &o, true);
  compare(&m, r, "nofe", "se_cl_exp_imp", &t, REL_TOL);
  cr_expect_eq(r->n_clusters[0], 30);
  cr_expect_eq(r->n_clusters[1], 30);
  core_ppml_result_free(r);
  log_digits("no FE, classical / cluster pair / two-way", &t);
  model_free(&m);
}

Test(ppml, nofe_separation_by_regressor) {
  const char *terms[] = {"(Intercept)", "ldist",  "contig",
                         "lgdp_o",      "lgdp_d", "d"};
  model m;
  model_init(&m, "separation.csv", terms, 6);
  core_ppml_options o;
  tight(&o);
  core_ppml_result *r = fit(&m, &o, true);
  cr_expect_eq((double)r->n_separated, ref("sep_nofe", "drop", "separated"));
  cr_expect_eq(r->n_fe_zero, 0);
  cr_expect(r->dropped[5], "d is zero once its rows are gone");
  for (size_t i = 0; i < m.t.n; i++)
    if (num(&m.t, i, "d") == 1.0)
      cr_expect_eq(r->drop_reason[i], CORE_PPML_DROP_SEPARATED, "row %zu", i);
  tally t = {0};
  compare(&m, r, "sep_nofe", "se_hc0", &t, REL_TOL);
  compare_stats(&m, r, "sep_nofe", &t, REL_TOL);
  log_digits("separation, no FE", &t);
  core_ppml_result_free(r);
  model_free(&m);
}

Test(ppml, nonconvergence_is_an_error) {
  model m;
  model_init(&m, "gravity.csv", NOFE_TERMS, 6);
  core_ppml_options o;
  core_ppml_options_init(&o);
  o.max_iter = 2;
  core_ppml_result *r = (core_ppml_result *)&o; /* must be reset */
  core_err err;
  core_status st = core_ppml_fit(m.X, m.y, true, NULL, &o, &r, NULL, &err);
  cr_expect_eq(st, CORE_ENOCONV);
  cr_expect_null(r);
  cr_expect_eq(err.code, CORE_ENOCONV);
  cr_expect_not_null(strstr(err.msg, "did not converge in 2 iterations"), "%s",
                     err.msg);

  o.keep_nonconverged = true;
  core_warnings w = {0};
  st = core_ppml_fit(m.X, m.y, true, NULL, &o, &r, &w, &err);
  cr_expect_eq(st, CORE_ENOCONV);
  cr_assert_not_null(r);
  cr_expect(!r->conv.converged);
  cr_expect_eq(r->conv.iterations, 2);
  cr_expect_gt(r->conv.criterion, o.tol);
  bool warned = false;
  for (size_t i = 0; i < w.n; i++)
    warned |= strstr(w.msgs[i], "did not converge") != NULL;
  cr_expect(warned);
  core_warnings_clear(&w);
  core_ppml_result_free(r);
  model_free(&m);
}

/* ------------------------------------------------------------------------ */
/* With fixed effects                                                       */
/* ------------------------------------------------------------------------ */

Test(ppml, fe2_matches_glm_dummies) {
  model m;
  model_init(&m, "gravity.csv", FE_TERMS, 5);
  model_fe(&m, "exp", NULL, "imp", NULL);
  core_ppml_options o;
  tight(&o);
  core_ppml_result *r = fit(&m, &o, false);
  tally t = {0};
  compare(&m, r, "fe2", "se_hc0", &t, REL_TOL);
  compare_stats(&m, r, "fe2", &t, REL_TOL);
  cr_expect_eq(r->df_absorbed, 59.0); /* 30 + 30 - 1 component */
  /* eta = x b + the recovered effects, row by row. */
  for (size_t i = 0; i < m.t.n; i++) {
    double e = r->fe[0][m.lev[0][i]] + r->fe[1][m.lev[1][i]];
    for (size_t j = 0; j < m.p; j++)
      e += r->beta[j] * gsl_matrix_get(m.X, i, j);
    cr_expect_leq(fabs(e - r->eta[i]), 1e-8 * fmax(1.0, fabs(r->eta[i])),
                  "row %zu: %.17g vs %.17g", i, e, r->eta[i]);
  }
  cr_log_info("FE exp + imp: %zu iterations, most demeaning iterations %zu",
              r->conv.iterations, r->conv.fe_iterations_max);
  core_ppml_result_free(r);

  o.vcov = CORE_PPML_VCOV_CLUSTER;
  o.cluster_ways = 1;
  o.cluster[0] = m.pair;
  o.n_clusters[0] = m.npair;
  r = fit(&m, &o, false);
  compare(&m, r, "fe2", "se_cl_pair", &t, REL_TOL);
  core_ppml_result_free(r);
  o.cluster_ways = 2;
  o.cluster[0] = m.cl_exp;
  o.n_clusters[0] = m.ncl_exp;
  o.cluster[1] = m.cl_imp;
  o.n_clusters[1] = m.ncl_imp;
  r = fit(&m, &o, false);
  compare(&m, r, "fe2", "se_cl_exp_imp", &t, REL_TOL);
  core_ppml_result_free(r);
  log_digits("FE exp + imp", &t);
  model_free(&m);
}

Test(ppml, fe2_default_tolerances_digits) {
  model m;
  model_init(&m, "gravity.csv", FE_TERMS, 5);
  model_fe(&m, "exp", NULL, "imp", NULL);
  core_ppml_result *r = fit(&m, NULL, false);
  tally t = {0};
  compare(&m, r, "fe2", "se_hc0", &t, 1e-6);
  log_digits("FE exp + imp, default tolerances", &t);
  core_ppml_result_free(r);
  model_free(&m);
}

Test(ppml, feyear_absorbs_a_regressor) {
  const char *terms[] = {"ldist", "contig", "rta", "lgdp_o"};
  model m;
  model_init(&m, "gravity_small.csv", terms, 4);
  model_fe(&m, "exp", "year", "imp", "year");
  core_ppml_options o;
  tight(&o);
  core_ppml_result *r = fit(&m, &o, false);
  cr_expect(r->dropped[3], "lgdp_o is absorbed by exporter-year");
  cr_expect_eq(r->k, 3);
  tally t = {0};
  compare(&m, r, "feyear", "se_hc0", &t, REL_TOL);
  compare_stats(&m, r, "feyear", &t, REL_TOL);
  core_ppml_result_free(r);
  o.vcov = CORE_PPML_VCOV_CLUSTER;
  o.cluster_ways = 1;
  o.cluster[0] = m.pair;
  o.n_clusters[0] = m.npair;
  r = fit(&m, &o, false);
  compare(&m, r, "feyear", "se_cl_pair", &t, REL_TOL);
  core_ppml_result_free(r);
  log_digits("FE exporter-year + importer-year", &t);
  model_free(&m);
}

Test(ppml, fe_separation_zero_level_and_regressor) {
  const char *terms[] = {"ldist", "contig", "lgdp_o", "lgdp_d", "d"};
  model m;
  model_init(&m, "separation.csv", terms, 5);
  model_fe(&m, "exp", NULL, "imp", NULL);
  core_ppml_options o;
  tight(&o);
  core_ppml_result *r = fit(&m, &o, false);
  cr_expect_eq((double)r->n_fe_zero, ref("sep_fe2", "drop", "fe_zero"));
  cr_expect_eq((double)r->n_singleton, ref("sep_fe2", "drop", "singleton"));
  cr_expect_eq((double)r->n_separated, ref("sep_fe2", "drop", "separated"));
  for (size_t i = 0; i < m.t.n; i++)
    if (strcmp(txt(&m.t, i, "exp"), "C05") == 0)
      cr_expect_eq(r->drop_reason[i], CORE_PPML_DROP_FE_ZERO, "row %zu", i);
  for (size_t i = 0; i < m.t.n; i++)
    if (strcmp(txt(&m.t, i, "exp"), "C05") == 0) {
      cr_expect(isnan(r->fe[0][m.lev[0][i]]), "C05 has no effect");
      break;
    }
  tally t = {0};
  compare(&m, r, "sep_fe2", "se_hc0", &t, REL_TOL);
  compare_stats(&m, r, "sep_fe2", &t, REL_TOL);
  log_digits("separation with FE", &t);
  core_ppml_result_free(r);
  model_free(&m);
}

Test(ppml, missing_level_rows_are_dropped) {
  model m;
  model_init(&m, "gravity.csv", FE_TERMS, 5);
  model_fe(&m, "exp", NULL, "imp", NULL);
  m.lev[0][7] = CORE_PPML_NO_LEVEL;
  m.lev[1][11] = CORE_PPML_NO_LEVEL;
  core_ppml_result *r = fit(&m, NULL, false);
  cr_expect_eq(r->n_no_level, 2);
  cr_expect_eq(r->drop_reason[7], CORE_PPML_DROP_NO_LEVEL);
  cr_expect_str_eq(core_ppml_drop_name(r->drop_reason[11]), "no_level");
  cr_expect(isnan(r->mu[7]));
  cr_expect_eq(r->n, m.t.n - 2);
  core_ppml_result_free(r);
  model_free(&m);
}

/* ------------------------------------------------------------------------ */
/* Error paths                                                              */
/* ------------------------------------------------------------------------ */

typedef struct small {
  gsl_matrix *X;
  gsl_vector *y;
} small;

/* 12 rows: intercept and one regressor, y with zeros. */
static small small_data(void) {
  small s = {gsl_matrix_alloc(12, 2), gsl_vector_alloc(12)};
  const double x[12] = {0.31, 1.27, 2.03, 0.88, 1.61, 2.47,
                        0.12, 1.93, 0.57, 2.21, 1.09, 0.74};
  const double y[12] = {1.7, 3.9, 0.0, 2.2, 5.1, 9.8,
                        0.0, 6.4, 1.3, 0.0, 2.9, 2.6};
  for (size_t i = 0; i < 12; i++) {
    gsl_matrix_set(s.X, i, 0, 1.0);
    gsl_matrix_set(s.X, i, 1, x[i]);
    gsl_vector_set(s.y, i, y[i]);
  }
  return s;
}

static void small_free(small *s) {
  gsl_matrix_free(s->X);
  gsl_vector_free(s->y);
}

static core_status try_fit(const small *s, const core_ppml_fe *fe,
                           const core_ppml_options *o, core_err *err) {
  core_ppml_result *r = NULL;
  core_status st = core_ppml_fit(s->X, s->y, true, fe, o, &r, NULL, err);
  cr_expect_null(r);
  core_ppml_result_free(r);
  return st;
}

Test(ppml, small_data_fits) {
  small s = small_data();
  core_ppml_result *r = NULL;
  core_err err;
  cr_assert_eq(core_ppml_fit(s.X, s.y, true, NULL, NULL, &r, NULL, &err),
               CORE_OK, "%s", err.msg);
  cr_expect(r->conv.converged);
  cr_expect_eq(r->n, 12);
  core_ppml_result_free(r);
  small_free(&s);
}

Test(ppml, error_null_arguments) {
  small s = small_data();
  core_ppml_result *r = NULL;
  core_err err;
  cr_expect_eq(core_ppml_fit(NULL, s.y, true, NULL, NULL, &r, NULL, &err),
               CORE_EINVAL);
  cr_expect_eq(core_ppml_fit(s.X, NULL, true, NULL, NULL, &r, NULL, &err),
               CORE_EINVAL);
  cr_expect_eq(core_ppml_fit(s.X, s.y, true, NULL, NULL, NULL, NULL, &err),
               CORE_EINVAL);
  /* err may be NULL. */
  cr_expect_eq(core_ppml_fit(NULL, s.y, true, NULL, NULL, &r, NULL, NULL),
               CORE_EINVAL);
  core_ppml_result_free(NULL);
  small_free(&s);
}

Test(ppml, error_negative_y_names_rows) {
  small s = small_data();
  gsl_vector_set(s.y, 3, -0.5);
  gsl_vector_set(s.y, 8, -2.0);
  core_err err;
  cr_expect_eq(try_fit(&s, NULL, NULL, &err), CORE_EINVAL);
  cr_expect_eq(err.n_rows, 2);
  cr_expect_eq(err.rows_total, 2);
  cr_expect_eq(err.rows[0], 3);
  cr_expect_eq(err.rows[1], 8);
  cr_expect_not_null(strstr(err.msg, "row 3"), "%s", err.msg);
  cr_expect_not_null(strstr(err.msg, "1 more"), "%s", err.msg);
  small_free(&s);
}

Test(ppml, error_non_finite_data) {
  small s = small_data();
  core_err err;
  gsl_vector_set(s.y, 5, NAN);
  cr_expect_eq(try_fit(&s, NULL, NULL, &err), CORE_EINVAL);
  cr_expect_eq(err.rows[0], 5);
  gsl_vector_set(s.y, 5, 1.0);
  gsl_matrix_set(s.X, 9, 1, INFINITY);
  cr_expect_eq(try_fit(&s, NULL, NULL, &err), CORE_EINVAL);
  cr_expect_eq(err.rows[0], 9);
  small_free(&s);
}

Test(ppml, error_sizes) {
  small s = small_data();
  gsl_vector *y = gsl_vector_alloc(11);
  gsl_vector_set_all(y, 1.0);
  core_ppml_result *r = NULL;
  core_err err;
  cr_expect_eq(core_ppml_fit(s.X, y, true, NULL, NULL, &r, NULL, &err),
               CORE_EINVAL);
  cr_expect_not_null(strstr(err.msg, "11 entries"), "%s", err.msg);
  gsl_vector_free(y);
  small_free(&s);
}

Test(ppml, error_intercept_without_constant) {
  small s = small_data();
  gsl_matrix_set(s.X, 4, 0, 2.0);
  core_err err;
  cr_expect_eq(try_fit(&s, NULL, NULL, &err), CORE_EINVAL);
  cr_expect_not_null(strstr(err.msg, "constant"), "%s", err.msg);
  small_free(&s);
}

Test(ppml, error_bad_options) {
  small s = small_data();
  core_err err;
  core_ppml_options o;
  core_ppml_options_init(&o);
  o.tol = 0.0;
  cr_expect_eq(try_fit(&s, NULL, &o, &err), CORE_EINVAL);
  core_ppml_options_init(&o);
  o.max_iter = 0;
  cr_expect_eq(try_fit(&s, NULL, &o, &err), CORE_EINVAL);
  core_ppml_options_init(&o);
  o.fe_tol = -1.0;
  cr_expect_eq(try_fit(&s, NULL, &o, &err), CORE_EINVAL);
  core_ppml_options_init(&o);
  o.fe_max_iter = 0;
  cr_expect_eq(try_fit(&s, NULL, &o, &err), CORE_EINVAL);
  core_ppml_options_init(&o);
  o.relu_tol = 2.0;
  cr_expect_eq(try_fit(&s, NULL, &o, &err), CORE_EINVAL);
  core_ppml_options_init(&o);
  o.level = 1.0;
  cr_expect_eq(try_fit(&s, NULL, &o, &err), CORE_EINVAL);
  core_ppml_options_init(&o);
  o.vcov = (core_ppml_vcov_kind)7;
  cr_expect_eq(try_fit(&s, NULL, &o, &err), CORE_EINVAL);
  small_free(&s);
}

Test(ppml, error_bad_clusters) {
  small s = small_data();
  core_err err;
  core_ppml_options o;
  core_ppml_options_init(&o);
  size_t id[12] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2};
  o.vcov = CORE_PPML_VCOV_CLUSTER;
  o.cluster_ways = 0;
  cr_expect_eq(try_fit(&s, NULL, &o, &err), CORE_EINVAL);
  o.cluster_ways = 3;
  cr_expect_eq(try_fit(&s, NULL, &o, &err), CORE_EINVAL);
  o.cluster_ways = 1;
  o.cluster[0] = NULL;
  o.n_clusters[0] = 3;
  cr_expect_eq(try_fit(&s, NULL, &o, &err), CORE_EINVAL);
  o.cluster[0] = id;
  o.n_clusters[0] = 1;
  cr_expect_eq(try_fit(&s, NULL, &o, &err), CORE_EINVAL);
  o.n_clusters[0] = 2;
  cr_expect_eq(try_fit(&s, NULL, &o, &err), CORE_EINVAL);
  cr_expect_eq(err.rows[0], 2);
  /* Declared 3 clusters but only one is used. */
  size_t one[12] = {0};
  o.cluster[0] = one;
  o.n_clusters[0] = 3;
  cr_expect_eq(try_fit(&s, NULL, &o, &err), CORE_EINVAL);
  cr_expect_not_null(strstr(err.msg, "non-empty"), "%s", err.msg);
  /* A valid one-way cluster fits. */
  o.cluster[0] = id;
  core_ppml_result *r = NULL;
  cr_expect_eq(core_ppml_fit(s.X, s.y, true, NULL, &o, &r, NULL, &err), CORE_OK,
               "%s", err.msg);
  cr_expect_eq(r->n_clusters[0], 3);
  core_ppml_result_free(r);
  small_free(&s);
}

Test(ppml, error_bad_factors) {
  small s = small_data();
  core_err err;
  size_t lv[12] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
  const size_t *levels[1] = {lv};
  size_t nl[1] = {3};
  core_ppml_fe fe = {1, levels, nl};
  cr_expect_eq(try_fit(&s, &fe, NULL, &err), CORE_EINVAL);
  cr_expect_eq(err.rows[0], 3);
  nl[0] = 4;
  fe.nf = CORE_PPML_MAX_FACTORS + 1;
  cr_expect_eq(try_fit(&s, &fe, NULL, &err), CORE_EINVAL);
  fe.nf = 1;
  fe.levels = NULL;
  cr_expect_eq(try_fit(&s, &fe, NULL, &err), CORE_EINVAL);
  const size_t *none[1] = {NULL};
  fe.levels = none;
  cr_expect_eq(try_fit(&s, &fe, NULL, &err), CORE_EINVAL);
  small_free(&s);
}

Test(ppml, error_all_zero_and_too_few) {
  small s = small_data();
  core_err err;
  gsl_vector_set_zero(s.y);
  cr_expect_eq(try_fit(&s, NULL, NULL, &err), CORE_EINVAL);
  cr_expect_not_null(strstr(err.msg, "zero in every row"), "%s", err.msg);
  small_free(&s);

  /* Two rows for two coefficients. */
  gsl_matrix *X = gsl_matrix_alloc(2, 2);
  gsl_vector *y = gsl_vector_alloc(2);
  gsl_matrix_set(X, 0, 0, 1.0);
  gsl_matrix_set(X, 1, 0, 1.0);
  gsl_matrix_set(X, 0, 1, 0.4);
  gsl_matrix_set(X, 1, 1, 1.9);
  gsl_vector_set(y, 0, 2.5);
  gsl_vector_set(y, 1, 3.5);
  core_ppml_result *r = NULL;
  cr_expect_eq(core_ppml_fit(X, y, true, NULL, NULL, &r, NULL, &err),
               CORE_ETOOFEW);
  cr_expect_null(r);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

Test(ppml, error_no_estimable_column) {
  small s = small_data();
  gsl_matrix_set_zero(s.X);
  core_err err;
  core_ppml_result *r = NULL;
  cr_expect_eq(core_ppml_fit(s.X, s.y, false, NULL, NULL, &r, NULL, &err),
               CORE_ESINGULAR);
  cr_expect_null(r);
  small_free(&s);
}

Test(ppml, error_everything_dropped) {
  /* Every level of the factor has y = 0 or a single row. */
  small s = small_data();
  size_t lv[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  const size_t *levels[1] = {lv};
  size_t nl[1] = {12};
  core_ppml_fe fe = {1, levels, nl};
  core_err err;
  cr_expect_eq(try_fit(&s, &fe, NULL, &err), CORE_ETOOFEW);
  cr_expect_not_null(strstr(err.msg, "no observation"), "%s", err.msg);
  small_free(&s);
}

Test(ppml, error_mean_overflows) {
  /* A huge regressor with an extreme positive outcome: the first step's
   * exp(eta) overflows and halving cannot rescue it... or converges; either
   * way the answer is a status, never a crash. */
  small s = small_data();
  for (size_t i = 0; i < 12; i++)
    gsl_matrix_set(s.X, i, 1, gsl_matrix_get(s.X, i, 1) * 1e300);
  gsl_vector_set(s.y, 5, 1e300);
  core_err err;
  core_ppml_result *r = NULL;
  core_status st = core_ppml_fit(s.X, s.y, true, NULL, NULL, &r, NULL, &err);
  cr_expect(st != CORE_OK || (r != NULL && r->conv.converged), "%s",
            core_status_name(st));
  cr_log_info("overflow case: %s (%s)", core_status_name(st), err.msg);
  core_ppml_result_free(r);
  small_free(&s);
}

/* IRLS steps go through the normal equations unless a Cholesky pivot is
 * tiny; then the QR path takes the step. A design with a third column that
 * differs from the second by 1e-5 u (|R_33| about 2e-6 of its norm:
 * above the 1e-7 of the rank rule, below the 1e-5 of the pivot rule) takes
 * that path at every step; the same model written with u itself (a
 * well-conditioned basis of the same column space) takes the Cholesky path.
 * Both must give the same fitted means, and the ill-conditioned fit must
 * still solve the PPML score equations X'(y - mu) = 0. */
Test(ppml, ill_conditioned_steps_take_the_qr_path) {
  enum { N = 400 };
  gsl_matrix *A = gsl_matrix_alloc(N, 3), *B = gsl_matrix_alloc(N, 3);
  gsl_vector *y = gsl_vector_alloc(N);
  unsigned long long st = 0x2545F4914F6CDD1DULL;
  for (size_t i = 0; i < N; i++) {
    st ^= st << 13, st ^= st >> 7, st ^= st << 17;
    double x = (double)(st >> 11) * 0x1.0p-53 * 3.0;
    st ^= st << 13, st ^= st >> 7, st ^= st << 17;
    double u = (double)(st >> 11) * 0x1.0p-53 - 0.5;
    gsl_matrix_set(A, i, 0, 1.0);
    gsl_matrix_set(A, i, 1, x);
    gsl_matrix_set(A, i, 2, x + 1e-5 * u);
    gsl_matrix_set(B, i, 0, 1.0);
    gsl_matrix_set(B, i, 1, x);
    gsl_matrix_set(B, i, 2, u);
    /* A deterministic count-like outcome with zeros. */
    double mu = exp(0.2 + 0.6 * x + 0.8 * u);
    gsl_vector_set(y, i, (i % 7 == 0) ? 0.0 : floor(mu + 0.5));
  }
  core_ppml_options o;
  core_ppml_options_init(&o);
  o.tol = 1e-12;
  core_ppml_result *ra = NULL, *rb = NULL;
  core_err err;
  cr_assert_eq(core_ppml_fit(A, y, true, NULL, &o, &ra, NULL, &err), CORE_OK,
               "%s", err.msg);
  cr_assert_eq(core_ppml_fit(B, y, true, NULL, &o, &rb, NULL, &err), CORE_OK,
               "%s", err.msg);
  cr_assert_eq(ra->k, 3u);
  for (size_t i = 0; i < N; i++)
    cr_assert_leq(fabs(ra->mu[i] - rb->mu[i]), 1e-7 * rb->mu[i],
                  "row %zu: %.17g vs %.17g", i, ra->mu[i], rb->mu[i]);
  for (size_t j = 0; j < 3; j++) {
    double sc = 0.0, scale = 0.0;
    for (size_t i = 0; i < N; i++) {
      double xij = gsl_matrix_get(A, i, j), yi = gsl_vector_get(y, i);
      sc += xij * (yi - ra->mu[i]);
      scale += fabs(xij * yi);
    }
    cr_assert_leq(fabs(sc), 1e-9 * scale, "score %zu = %g", j, sc);
  }
  core_ppml_result_free(ra);
  core_ppml_result_free(rb);
  gsl_matrix_free(A);
  gsl_matrix_free(B);
  gsl_vector_free(y);
}
