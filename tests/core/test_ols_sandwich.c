/* core_ols against independent references: R's lm + sandwich (vcovHC HC0-HC3,
 * vcovCL CR1), cross-checked with statsmodels when the fixture was made
 * (tests/reference/sandwich/README.md). Every value must agree to 1e-8
 * relative: |got - R| <= 1e-8 max(|R|, floor), where the floor is rmse for
 * residuals and fitted values and 1e-300 otherwise (one F p-value underflows
 * to a subnormal 7e-314 in R and to 0 here). */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "core_ols.h"

#define REL_TOL 1e-8

static void setup(void) {
  gsl_set_error_handler_off();
}

TestSuite(ols_sandwich, .init = setup);

static char *slurp(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/tests/reference/sandwich/%s",
           GRAVITAS_SOURCE_DIR, name);
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

static double parse_num(const char *s, char **end) {
  errno = 0;
  double v = strtod(s, end);
  /* ERANGE with a tiny result is a subnormal (an underflowing p-value). */
  cr_assert(*end != s && (errno == 0 || (errno == ERANGE && fabs(v) < 1.0)),
            "bad number at '%.20s'", s);
  return v;
}

/* data.csv: y,x1,x2,x3,x4,x5,g */
#define NCOL 7
typedef struct data {
  size_t n;
  double *v; /* n x NCOL */
} data;

static data read_data(void) {
  char *buf = slurp("data.csv");
  cr_assert_eq(strncmp(buf, "y,x1,x2,x3,x4,x5,g\n", 19), 0, "header");
  data d = {0, NULL};
  size_t cap = 512;
  d.v = malloc(cap * NCOL * sizeof *d.v);
  char *s = buf + 19;
  while (*s != '\0') {
    if (d.n == cap) {
      cap *= 2;
      d.v = realloc(d.v, cap * NCOL * sizeof *d.v);
      cr_assert_not_null(d.v);
    }
    for (size_t j = 0; j < NCOL; j++) {
      char *end;
      d.v[d.n * NCOL + j] = parse_num(s, &end);
      cr_assert_eq(*end, j + 1 < NCOL ? ',' : '\n', "row %zu", d.n);
      s = end + 1;
    }
    d.n++;
  }
  free(buf);
  return d;
}

/* values.csv: model,vcov,stat,term,value */
typedef struct record {
  char model[4], vcov[16], stat[16], term[32];
  double value;
} record;

static size_t field(char **s, char *dst, size_t cap) {
  size_t len = strcspn(*s, ",\n");
  cr_assert_lt(len, cap, "field too long: %.40s", *s);
  memcpy(dst, *s, len);
  dst[len] = '\0';
  *s += len;
  cr_assert_eq(**s, ',');
  (*s)++;
  return len;
}

static record *read_values(size_t *count) {
  char *buf = slurp("values.csv");
  char *s = strchr(buf, '\n');
  cr_assert_not_null(s);
  s++;
  size_t n = 0, cap = 1024;
  record *r = malloc(cap * sizeof *r);
  while (*s != '\0') {
    if (n == cap) {
      cap *= 2;
      r = realloc(r, cap * sizeof *r);
      cr_assert_not_null(r);
    }
    field(&s, r[n].model, sizeof r[n].model);
    field(&s, r[n].vcov, sizeof r[n].vcov);
    field(&s, r[n].stat, sizeof r[n].stat);
    field(&s, r[n].term, sizeof r[n].term);
    char *end;
    r[n].value = parse_num(s, &end);
    cr_assert_eq(*end, '\n');
    s = end + 1;
    n++;
  }
  free(buf);
  *count = n;
  return r;
}

/* The design of each model, as in reference.R. */
static const char *const TERMS_A[] = {"(Intercept)", "x1", "x2", "x3", "x4"};
static const char *const TERMS_B[] = {"x1", "x2", "x3", "x4"};
static const char *const TERMS_C[] = {"(Intercept)", "x1", "x2",
                                      "x5",          "x3", "x4"};

typedef struct model {
  const char *name;
  const char *const *terms;
  size_t p;
  bool icept;
} model;

static size_t term_index(const model *m, const char *term) {
  for (size_t j = 0; j < m->p; j++)
    if (strcmp(m->terms[j], term) == 0) return j;
  cr_assert_fail("model %s has no term %s", m->name, term);
  return 0;
}

static void build(const data *d, const model *m, gsl_matrix **X, gsl_vector **y,
                  size_t **cl, size_t *G) {
  *X = gsl_matrix_alloc(d->n, m->p);
  *y = gsl_vector_alloc(d->n);
  *cl = malloc(d->n * sizeof **cl);
  *G = 0;
  for (size_t i = 0; i < d->n; i++) {
    const double *row = d->v + i * NCOL;
    gsl_vector_set(*y, i, row[0]);
    for (size_t j = 0; j < m->p; j++) {
      const char *t = m->terms[j];
      gsl_matrix_set(*X, i, j,
                     t[0] == '(' ? 1.0 : row[t[1] - '0']); /* x1..x5 */
    }
    (*cl)[i] = (size_t)row[6];
    if ((*cl)[i] + 1 > *G) *G = (*cl)[i] + 1;
  }
}

static const struct {
  const char *name;
  core_vcov_kind kind;
} KINDS[] = {{"classical", CORE_VCOV_CLASSICAL},
             {"HC0", CORE_VCOV_HC0},
             {"HC1", CORE_VCOV_HC1},
             {"HC2", CORE_VCOV_HC2},
             {"HC3", CORE_VCOV_HC3},
             {"CR1", CORE_VCOV_CLUSTER}};

typedef struct tally {
  size_t checked;
  double worst;
  char worst_what[96];
} tally;

static void compare(tally *t, double got, double want, double scale,
                    const record *rec) {
  double err = fabs(got - want) / fmax(fabs(want), fmax(scale, 1e-300));
  cr_expect(err <= REL_TOL, "%s %s %s %s: got %.17g, R %.17g (rel %.3g)",
            rec->model, rec->vcov, rec->stat, rec->term, got, want, err);
  if (err > t->worst || t->checked == 0) {
    t->worst = err;
    snprintf(t->worst_what, sizeof t->worst_what, "%s %s %s", rec->vcov,
             rec->stat, rec->term);
  }
  t->checked++;
}

/* Per-fit values: everything but the 'any' records. */
static void check_fit(const model *m, const core_ols_result *r,
                      const char *vcov, const record *recs, size_t nrec,
                      tally *t) {
  for (size_t i = 0; i < nrec; i++) {
    const record *rec = &recs[i];
    if (strcmp(rec->model, m->name) != 0 || strcmp(rec->vcov, vcov) != 0)
      continue;
    const char *s = rec->stat;
    double v = rec->value;
    if (strcmp(s, "dropped") == 0) {
      cr_expect(r->dropped[term_index(m, rec->term)], "%s not dropped",
                rec->term);
      t->checked++;
    } else if (strcmp(s, "V") == 0) {
      char a[32];
      size_t len = strcspn(rec->term, ":");
      memcpy(a, rec->term, len);
      a[len] = '\0';
      size_t ia = term_index(m, a), ib = term_index(m, rec->term + len + 1);
      compare(t, r->V[ia * m->p + ib], v, 0.0, rec);
    } else if (rec->term[0] != '\0') {
      size_t j = term_index(m, rec->term);
      cr_expect(!r->dropped[j], "%s dropped", rec->term);
      double got = strcmp(s, "coef") == 0      ? r->beta[j]
                   : strcmp(s, "se") == 0      ? r->se[j]
                   : strcmp(s, "t") == 0       ? r->t[j]
                   : strcmp(s, "p") == 0       ? r->p_value[j]
                   : strcmp(s, "ci_low") == 0  ? r->ci_low[j]
                   : strcmp(s, "ci_high") == 0 ? r->ci_high[j]
                                               : NAN;
      cr_assert(!isnan(got), "unknown statistic %s", s);
      compare(t, got, v, 0.0, rec);
    } else {
      double got = strcmp(s, "f") == 0        ? r->f
                   : strcmp(s, "f_df1") == 0  ? r->f_df1
                   : strcmp(s, "f_df2") == 0  ? r->f_df2
                   : strcmp(s, "f_p") == 0    ? r->f_p_value
                   : strcmp(s, "df_inf") == 0 ? r->df_inf
                                              : NAN;
      cr_assert(!isnan(got), "unknown statistic %s", s);
      compare(t, got, v, 0.0, rec);
    }
  }
}

/* Fit-level values shared by every variance ('any' records). */
static void check_any(const model *m, const core_ols_result *r,
                      const core_ols_result *rc, const record *recs,
                      size_t nrec, tally *t) {
  for (size_t i = 0; i < nrec; i++) {
    const record *rec = &recs[i];
    if (strcmp(rec->model, m->name) != 0 || strcmp(rec->vcov, "any") != 0)
      continue;
    const char *s = rec->stat;
    double v = rec->value;
    if (rec->term[0] != '\0') {
      char *end;
      errno = 0;
      unsigned long row = strtoul(rec->term, &end, 10);
      cr_assert(*end == '\0' && errno == 0 && row < r->n);
      double got = strcmp(s, "leverage") == 0 ? r->leverage[row]
                   : strcmp(s, "resid") == 0  ? r->resid[row]
                   : strcmp(s, "fitted") == 0 ? r->fitted[row]
                                              : NAN;
      cr_assert(!isnan(got), "unknown statistic %s", s);
      compare(t, got, v, strcmp(s, "leverage") == 0 ? 0.0 : r->rmse, rec);
      continue;
    }
    double got = strcmp(s, "k") == 0            ? (double)r->k
                 : strcmp(s, "n") == 0          ? (double)r->n
                 : strcmp(s, "r2") == 0         ? r->r2
                 : strcmp(s, "adj_r2") == 0     ? r->adj_r2
                 : strcmp(s, "ssr") == 0        ? r->ssr
                 : strcmp(s, "rmse") == 0       ? r->rmse
                 : strcmp(s, "loglik") == 0     ? r->loglik
                 : strcmp(s, "aic") == 0        ? r->aic
                 : strcmp(s, "bic") == 0        ? r->bic
                 : strcmp(s, "n_clusters") == 0 ? (double)rc->n_clusters
                                                : NAN;
    cr_assert(!isnan(got), "unknown statistic %s", s);
    compare(t, got, v, 0.0, rec);
  }
}

static void run_model(const model *m) {
  data d = read_data();
  size_t nrec;
  record *recs = read_values(&nrec);
  gsl_matrix *X;
  gsl_vector *y;
  size_t *cl, G;
  build(&d, m, &X, &y, &cl, &G);
  size_t expected = 0;
  for (size_t i = 0; i < nrec; i++)
    expected += strcmp(recs[i].model, m->name) == 0;
  cr_assert_gt(expected, 0);

  tally t = {0, 0.0, ""};
  core_ols_result *rclass = NULL, *rcl = NULL;
  for (size_t v = 0; v < sizeof KINDS / sizeof KINDS[0]; v++) {
    core_vcov_spec vc = {KINDS[v].kind, cl, G};
    core_ols_result *r = NULL;
    core_err err;
    core_status st = core_ols_fit(X, y, m->icept, &vc, 0.95, &r, &err);
    cr_assert_eq(st, CORE_OK, "%s %s: %s", m->name, KINDS[v].name, err.msg);
    cr_assert_eq(r->vcov, KINDS[v].kind);
    check_fit(m, r, KINDS[v].name, recs, nrec, &t);
    if (KINDS[v].kind == CORE_VCOV_CLASSICAL)
      rclass = r;
    else if (KINDS[v].kind == CORE_VCOV_CLUSTER)
      rcl = r;
    else
      core_ols_result_free(r);
  }
  check_any(m, rclass, rcl, recs, nrec, &t);
  /* Every reference value of this model was looked at. */
  cr_expect_eq(t.checked, expected, "checked %zu of %zu values", t.checked,
               expected);
  cr_log_info("sandwich reference, model %s: %zu values within %g; worst "
              "relative difference %.2e (%s)",
              m->name, t.checked, REL_TOL, t.worst, t.worst_what);
  core_ols_result_free(rclass);
  core_ols_result_free(rcl);
  free(cl);
  gsl_matrix_free(X);
  gsl_vector_free(y);
  free(recs);
  free(d.v);
}

Test(ols_sandwich, model_a_with_intercept) {
  model m = {"A", TERMS_A, 5, true};
  run_model(&m);
}

Test(ols_sandwich, model_b_without_intercept) {
  model m = {"B", TERMS_B, 4, false};
  run_model(&m);
}

Test(ols_sandwich, model_c_collinear_column_dropped) {
  model m = {"C", TERMS_C, 6, true};
  run_model(&m);
}
