/* core_hdfe: factors from a panel (keys, numeric columns, interactions,
 * missing keys), iterative singleton dropping (fixest's rule, counts checked
 * against R in tests/reference/panel), the weighted demeaning against the
 * closed form, convergence failure, df absorbed and the error paths. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "core_hdfe.h"
#include "tests/reference/panel/fixture.h"

static void setup(void) {
  gsl_set_error_handler_off();
}

TestSuite(hdfe, .init = setup);

Test(hdfe, factors_from_panel_keys_columns_and_interactions) {
  core_panel *p = panel_load();
  size_t n = p->n, *a = malloc(n * sizeof *a), na;
  cr_assert_eq(core_factor_from_panel(p, "reporter", NULL, a, &na, NULL),
               CORE_OK);
  cr_assert_eq(na, 30);
  cr_assert_eq(a[0], 0);
  cr_assert_eq(core_factor_from_panel(p, "year", NULL, a, &na, NULL), CORE_OK);
  cr_assert_eq(na, 8);
  cr_assert_eq(core_factor_from_panel(p, "band", NULL, a, &na, NULL), CORE_OK);
  cr_assert_eq(na, 5);
  cr_assert_eq(core_factor_from_panel(p, "reporter ^ year", NULL, a, &na, NULL),
               CORE_OK);
  cr_assert_eq(na, 240);
  cr_assert_eq(
      core_factor_from_panel(p, "reporter^partner", NULL, a, &na, NULL),
      CORE_OK);
  cr_assert_eq(na, 870);
  bool *use = calloc(n, sizeof *use);
  use[0] = use[1] = true;
  cr_assert_eq(core_factor_from_panel(p, "partner", use, a, &na, NULL),
               CORE_OK);
  cr_assert_eq(na, 1); /* rows 0 and 1: C01-C02 in 2010 and 2011 */
  cr_assert_eq(a[2], CORE_HDFE_NO_LEVEL);
  core_err e;
  cr_assert_eq(core_factor_from_panel(p, "nosuch", NULL, a, &na, &e),
               CORE_EUNKNOWN_VAR);
  cr_assert_str_eq(e.name, "nosuch");
  cr_assert_eq(core_factor_from_panel(p, "reporter^^year", NULL, a, &na, &e),
               CORE_EINVAL);
  cr_assert_eq(core_factor_from_panel(p, "", NULL, a, &na, &e), CORE_EINVAL);
  cr_assert_eq(core_factor_from_panel(NULL, "year", NULL, a, &na, &e),
               CORE_EINVAL);
  /* A missing numeric value has no level. */
  double v[3] = {1.5, NAN, 1.5};
  core_panel *q = core_panel_alloc(3);
  cr_assert_eq(core_panel_add_column(q, "g", v, NULL, NULL), CORE_OK);
  cr_assert_eq(core_factor_from_panel(q, "g", NULL, a, &na, NULL), CORE_OK);
  cr_assert_eq(na, 1);
  cr_assert_eq(a[1], CORE_HDFE_NO_LEVEL);
  cr_assert_eq(core_factor_from_panel(q, "reporter", NULL, a, &na, &e),
               CORE_EUNKNOWN_VAR);
  core_panel_free(q);
  free(use);
  free(a);
  core_panel_free(p);
}

Test(hdfe, singletons_iterate_like_fixest) {
  /* Row 4 is alone in A=2; dropping it leaves row 3 alone in B=1, whose
   * removal leaves row 2 alone in A=1: three rounds. */
  size_t A[6] = {0, 0, 1, 1, 2, 0}, B[6] = {0, 0, 0, 1, 1, 0};
  const size_t *lev[2] = {A, B};
  size_t nl[2] = {3, 2}, dropped;
  bool keep[6] = {true, true, true, true, true, true};
  cr_assert_eq(core_hdfe_drop_singletons(6, 2, lev, nl, keep, &dropped, NULL),
               CORE_OK);
  cr_assert_eq(dropped, 3);
  cr_assert(keep[0] && keep[1] && keep[5]);
  cr_assert_not(keep[2] || keep[3] || keep[4]);
  /* Counts on the generated panel equal R's iterative rule. */
  core_panel *p = panel_load();
  size_t n = p->n, *pr = malloc(n * sizeof *pr), *yr = malloc(n * sizeof *yr);
  size_t npr, nyr;
  cr_assert_eq(core_factor_from_panel(p, "pair", NULL, pr, &npr, NULL),
               CORE_OK);
  cr_assert_eq(core_factor_from_panel(p, "year", NULL, yr, &nyr, NULL),
               CORE_OK);
  bool *k = malloc(n * sizeof *k);
  for (size_t i = 0; i < n; i++)
    k[i] = true;
  const size_t *l2[2] = {pr, yr};
  size_t nl2[2] = {npr, nyr};
  cr_assert_eq(core_hdfe_drop_singletons(n, 2, l2, nl2, k, &dropped, NULL),
               CORE_OK);
  cr_assert_eq(dropped, (size_t)ref_value("M2", "-", "singletons", "-"));
  /* Errors. */
  core_err e;
  cr_assert_eq(core_hdfe_drop_singletons(6, 2, lev, nl, NULL, &dropped, &e),
               CORE_EINVAL);
  cr_assert_eq(core_hdfe_drop_singletons(6, 0, lev, nl, keep, &dropped, &e),
               CORE_EINVAL);
  size_t bad[6] = {0, 0, 7, 1, 2, 0};
  const size_t *lb[2] = {bad, B};
  for (int i = 0; i < 6; i++)
    keep[i] = true;
  cr_assert_eq(core_hdfe_drop_singletons(6, 2, lb, nl, keep, &dropped, &e),
               CORE_EINVAL);
  free(k);
  free(pr);
  free(yr);
  core_panel_free(p);
}

/* Weighted two-way demeaning against the normal equations solved densely. */
Test(hdfe, weighted_demeaning_matches_dense_least_squares) {
  enum { N = 40 };
  size_t A[N], B[N], C[N];
  double x[N], w[N], x0[N];
  for (size_t i = 0; i < N; i++) {
    A[i] = (i * 7) % 6;
    B[i] = (i * 3 + i / 6) % 5;
    C[i] = (i / 4) % 3;
    x[i] = x0[i] = sin(0.7 * (double)i) * 3.0 + 0.1 * (double)i;
    w[i] = 0.5 + fabs(cos(1.3 * (double)i));
  }
  const size_t *lev[3] = {A, B, C};
  size_t nl[3] = {6, 5, 3};
  for (size_t nf = 1; nf <= 3; nf++) {
    core_hdfe *h = NULL;
    cr_assert_eq(core_hdfe_alloc(N, nf, lev, nl, NULL, &h, NULL), CORE_OK);
    memcpy(x, x0, sizeof x);
    double *cols[1] = {x};
    core_hdfe_opts o = {1e-13, 1000};
    core_hdfe_info info;
    cr_assert_eq(core_hdfe_demean(h, cols, 1, w, &o, &info, NULL), CORE_OK);
    cr_assert(info.converged);
    if (nf == 1) cr_assert_eq(info.iterations, 1);
    /* Weighted residual is orthogonal to every dummy: sum_l w x~ = 0. */
    for (size_t f = 0; f < nf; f++)
      for (size_t l = 0; l < nl[f]; l++) {
        double s = 0;
        for (size_t i = 0; i < N; i++)
          if (lev[f][i] == l) s += w[i] * x[i];
        cr_assert(fabs(s) < 1e-10, "nf %zu factor %zu level %zu: %g", nf, f, l,
                  s);
      }
    /* The recovered effects rebuild x0 - x~. */
    double fe0[6], fe1[5], fe2[3];
    double *fe[3] = {fe0, fe1, fe2};
    cr_assert_eq(core_hdfe_recover_fe(h, x0, w, &o, fe, &info, NULL), CORE_OK);
    for (size_t i = 0; i < N; i++) {
      double s = 0;
      for (size_t f = 0; f < nf; f++)
        s += fe[f][lev[f][i]];
      cr_assert(fabs(x0[i] - s - x[i]) < 1e-10);
    }
    for (size_t f = 1; f < nf; f++)
      cr_assert_eq(fe[f][0], 0.0);
    bool exact;
    size_t df = core_hdfe_df_absorbed(h, NULL, &exact);
    cr_assert_eq(df, nf == 1 ? 6 : nf == 2 ? 10 : 12);
    cr_assert_eq(exact, nf < 3);
    core_hdfe_free(h);
  }
}

Test(hdfe, components_and_nested_df) {
  /* Two disconnected blocks: A {0,1} x B {0,1} and A {2} x B {2}. */
  size_t A[6] = {0, 1, 0, 1, 2, 2}, B[6] = {0, 0, 1, 1, 2, 2};
  const size_t *lev[2] = {A, B};
  size_t nl[2] = {3, 3};
  core_hdfe *h = NULL;
  cr_assert_eq(core_hdfe_alloc(6, 2, lev, nl, NULL, &h, NULL), CORE_OK);
  cr_assert_eq(core_hdfe_components(h), 2);
  cr_assert_eq(core_hdfe_df_absorbed(h, NULL, NULL), 4);
  size_t cl[6] = {0, 1, 0, 1, 2, 2}; /* A nested in cl, B not */
  cr_assert(core_hdfe_nested_in(h, 0, cl));
  cr_assert_not(core_hdfe_nested_in(h, 1, cl));
  bool nested[2] = {true, false};
  cr_assert_eq(core_hdfe_df_absorbed(h, nested, NULL), 3);
  bool both[2] = {true, true};
  cr_assert_eq(core_hdfe_df_absorbed(h, both, NULL), 1);
  core_hdfe_free(h);
}

Test(hdfe, convergence_failure_and_errors) {
  core_panel *p = panel_load();
  size_t n = p->n, *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), na,
         nb;
  cr_assert_eq(core_factor_from_panel(p, "reporter^year", NULL, a, &na, NULL),
               CORE_OK);
  cr_assert_eq(core_factor_from_panel(p, "partner^year", NULL, b, &nb, NULL),
               CORE_OK);
  const size_t *lev[2] = {a, b};
  size_t nl[2] = {na, nb};
  core_hdfe *h = NULL;
  cr_assert_eq(core_hdfe_alloc(n, 2, lev, nl, NULL, &h, NULL), CORE_OK);
  double *x = malloc(n * sizeof *x);
  memcpy(x, core_panel_column(p, "ltrade"), n * sizeof *x);
  double *cols[1] = {x};
  core_hdfe_opts o = {1e-15, 1};
  core_hdfe_info info;
  core_err e;
  cr_assert_eq(core_hdfe_demean(h, cols, 1, NULL, &o, &info, &e), CORE_ENOCONV);
  cr_assert_not(info.converged);
  cr_assert_eq(info.iterations, 1);
  o.tol = 0;
  cr_assert_eq(core_hdfe_demean(h, cols, 1, NULL, &o, &info, &e), CORE_EINVAL);
  cr_assert_eq(core_hdfe_demean(NULL, cols, 1, NULL, NULL, &info, &e),
               CORE_EINVAL);
  double *nul[1] = {NULL};
  cr_assert_eq(core_hdfe_demean(h, nul, 1, NULL, NULL, &info, &e), CORE_EINVAL);
  double *w = malloc(n * sizeof *w);
  for (size_t i = 0; i < n; i++)
    w[i] = 1.0;
  w[5] = -1.0;
  core_err_clear(&e);
  cr_assert_eq(core_hdfe_demean(h, cols, 1, w, NULL, &info, &e), CORE_EINVAL);
  cr_assert_eq(e.rows[0], 5);
  x[7] = NAN;
  cr_assert_eq(core_hdfe_demean(h, cols, 1, NULL, NULL, &info, &e),
               CORE_EINVAL);
  cr_assert_eq(core_hdfe_recover_fe(h, x, NULL, NULL, NULL, &info, &e),
               CORE_EINVAL);
  core_hdfe_free(h);
  /* alloc errors: no kept row; NO_LEVEL on a kept row. */
  bool *none = calloc(n, sizeof *none);
  cr_assert_eq(core_hdfe_alloc(n, 2, lev, nl, none, &h, &e), CORE_ETOOFEW);
  cr_assert_null(h);
  a[3] = CORE_HDFE_NO_LEVEL;
  core_err_clear(&e);
  cr_assert_eq(core_hdfe_alloc(n, 2, lev, nl, NULL, &h, &e), CORE_EINVAL);
  cr_assert_eq(e.rows[0], 3);
  cr_assert_eq(core_hdfe_alloc(n, 0, lev, nl, NULL, &h, &e), CORE_EINVAL);
  cr_assert_eq(core_hdfe_alloc(n, 2, lev, nl, NULL, NULL, &e), CORE_EINVAL);
  core_hdfe_free(NULL);
  free(none);
  free(w);
  free(x);
  free(a);
  free(b);
  core_panel_free(p);
}

/* Above CORE_HDFE_PARALLEL_MIN the columns are shared by two threads: the
 * result must be bit for bit that of solving each column alone (one
 * column never takes the threaded path), with weights and with 2 and 3
 * factors. */
Test(hdfe, two_threads_give_the_serial_result_bit_for_bit) {
  enum { N = 60000, K = 5 };
  cr_assert_geq((size_t)N * K, (size_t)CORE_HDFE_PARALLEL_MIN);
  size_t *l0 = malloc(N * sizeof *l0), *l1 = malloc(N * sizeof *l1),
         *l2 = malloc(N * sizeof *l2);
  double *w = malloc(N * sizeof *w), *a = malloc(N * K * sizeof *a),
         *b = malloc(N * K * sizeof *b);
  unsigned long long st = 88172645463325252ULL;
  for (size_t i = 0; i < N; i++) {
    st ^= st << 13, st ^= st >> 7, st ^= st << 17;
    l0[i] = st % 3000;
    l1[i] = (st >> 20) % 40;
    l2[i] = (st >> 40) % 7;
    w[i] = 0.5 + (double)((st >> 30) % 1000) / 1000.0;
    for (size_t j = 0; j < K; j++) {
      st ^= st << 13, st ^= st >> 7, st ^= st << 17;
      a[j * N + i] = b[j * N + i] =
          (double)(st >> 11) * 0x1.0p-53 + 0.01 * (double)l0[i];
    }
  }
  for (size_t nf = 2; nf <= 3; nf++) {
    const size_t *lev[3] = {l0, l1, l2};
    size_t nl[3] = {3000, 40, 7};
    core_hdfe *h = NULL;
    cr_assert_eq(core_hdfe_alloc(N, nf, lev, nl, NULL, &h, NULL), CORE_OK);
    double *ca[K];
    for (size_t j = 0; j < K; j++)
      ca[j] = a + j * N;
    core_hdfe_info ia, ib;
    cr_assert_eq(core_hdfe_demean(h, ca, K, w, NULL, &ia, NULL), CORE_OK);
    size_t worst = 0;
    for (size_t j = 0; j < K; j++) {
      double *cb[1] = {b + j * N};
      cr_assert_eq(core_hdfe_demean(h, cb, 1, w, NULL, &ib, NULL), CORE_OK);
      if (ib.iterations > worst) worst = ib.iterations;
    }
    cr_assert_eq(ia.iterations, worst);
    cr_assert(memcmp(a, b, N * K * sizeof *a) == 0,
              "threaded demeaning differs from serial (nf = %zu)", nf);
    core_hdfe_free(h);
  }
  free(l0);
  free(l1);
  free(l2);
  free(w);
  free(a);
  free(b);
}

/* From CORE_HDFE_PARALLEL_MIN rows the components are counted on a second
 * thread while the cross-table is built: two disjoint blocks of levels give
 * 2, one more row joining them gives 1, and the degrees of freedom follow. */
Test(hdfe, components_on_the_second_thread) {
  size_t n = CORE_HDFE_PARALLEL_MIN + 1;
  size_t *l0 = malloc(n * sizeof *l0), *l1 = malloc(n * sizeof *l1);
  for (size_t i = 0; i + 1 < n; i++) {
    size_t half = i % 2;
    l0[i] = half * 1000 + (i / 2) % 1000;
    l1[i] = half * 20 + (i / 7) % 20;
  }
  const size_t *lev[2] = {l0, l1};
  size_t nl[2] = {2000, 40};
  for (int joined = 0; joined < 2; joined++) {
    /* The last row: inside the first block, or joining the two. */
    l0[n - 1] = 0;
    l1[n - 1] = joined ? 20 : 0;
    core_hdfe *h = NULL;
    cr_assert_eq(core_hdfe_alloc(n, 2, lev, nl, NULL, &h, NULL), CORE_OK);
    cr_assert_eq(core_hdfe_components(h), joined ? 1u : 2u);
    bool exact = false;
    cr_assert_eq(core_hdfe_df_absorbed(h, NULL, &exact),
                 2000u + 40u - (joined ? 1u : 2u));
    cr_assert(exact);
    core_hdfe_free(h);
  }
  free(l0);
  free(l1);
}

/* Two factors sweep on a cross-table of their cells, built from a dense
 * table of cell ids when the level grid is small next to the rows and by a
 * sort when it is not. Both must demean as the general sweep over rows
 * does (the same two factors plus a constant third factor, which takes no
 * cross-table): a grid of 30 cells over 400 rows and one of 90,000 cells
 * over 400 rows, weighted. */
Test(hdfe, both_cross_tables_demean_as_the_row_sweep) {
  enum { N = 400 };
  static size_t A[N], B[N], Z[N];
  static double x[N], y[N], w[N];
  const size_t grids[2][2] = {{6, 5}, {300, 300}};
  for (size_t g = 0; g < 2; g++) {
    size_t LA = grids[g][0], LB = grids[g][1];
    for (size_t i = 0; i < N; i++) {
      A[i] = (i * 7 + i / 13) % LA;
      B[i] = (i * 11 + i / 3) % LB;
      Z[i] = 0;
      x[i] = y[i] = sin(0.37 * (double)i) + 0.01 * (double)A[i];
      w[i] = 0.5 + fabs(cos(1.1 * (double)i));
    }
    const size_t *lev[3] = {A, B, Z};
    size_t nl[3] = {LA, LB, 1};
    core_hdfe *h2 = NULL, *h3 = NULL;
    cr_assert_eq(core_hdfe_alloc(N, 2, lev, nl, NULL, &h2, NULL), CORE_OK);
    cr_assert_eq(core_hdfe_alloc(N, 3, lev, nl, NULL, &h3, NULL), CORE_OK);
    core_hdfe_opts o = {1e-14, 100000};
    double *cx[1] = {x}, *cy[1] = {y};
    cr_assert_eq(core_hdfe_demean(h2, cx, 1, w, &o, NULL, NULL), CORE_OK);
    cr_assert_eq(core_hdfe_demean(h3, cy, 1, w, &o, NULL, NULL), CORE_OK);
    for (size_t i = 0; i < N; i++)
      cr_assert(fabs(x[i] - y[i]) < 1e-9, "grid %zu row %zu: %.17g vs %.17g", g,
                i, x[i], y[i]);
    core_hdfe_free(h2);
    core_hdfe_free(h3);
  }
}
