/* Benchmark: two-way fixed-effects OLS (core_fe_fit) with 5 regressors and
 * factors of 10,000 and 200 levels at n = 1e5 and 1e6. Prints the time of
 * the fit (demeaning + QR + variance + FE recovery) and, with a path
 * argument, writes the 1e5 data set as CSV for bench_fe.R (plm on the same
 * data). Usage: bench_fe [out.csv]. Never asserts on time. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <gsl/gsl_errno.h>

#include "core_fe.h"
#include "core_mem.h"

#include "bench_util.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static double unif(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) * 0x1.0p-53;
}

static double gauss(void) {
  double s = 0;
  for (int i = 0; i < 12; i++)
    s += unif();
  return s - 6.0;
}

static int run(size_t n, const char *csv) {
  enum { K = 5 };
  size_t LA = 10000, LB = 200;
  gsl_matrix *X = gsl_matrix_alloc(n, K);
  gsl_vector *y = gsl_vector_alloc(n);
  size_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
  double *fa = malloc(LA * sizeof *fa), *fb = malloc(LB * sizeof *fb);
  if (!X || !y || !a || !b || !fa || !fb) return 1;
  for (size_t l = 0; l < LA; l++)
    fa[l] = gauss();
  for (size_t l = 0; l < LB; l++)
    fb[l] = 0.5 * gauss();
  const double beta[K] = {0.8, -0.5, 0.3, 1.1, -0.05};
  for (size_t i = 0; i < n; i++) {
    a[i] = (size_t)(unif() * (double)LA);
    b[i] = (size_t)(unif() * (double)LB);
    double s = fa[a[i]] + fb[b[i]];
    for (size_t j = 0; j < K; j++) {
      double x =
          gauss() + (j == 0 ? 0.5 * fa[a[i]] : 0.0) + (j == 1 ? fb[b[i]] : 0.0);
      gsl_matrix_set(X, i, j, x);
      s += beta[j] * x;
    }
    gsl_vector_set(y, i, s + gauss());
  }
  if (csv) {
    FILE *f = fopen(csv, "w");
    if (!f) return 1;
    fprintf(f, "y,x1,x2,x3,x4,x5,a,b\n");
    for (size_t i = 0; i < n; i++) {
      fprintf(f, "%.17g", gsl_vector_get(y, i));
      for (size_t j = 0; j < K; j++)
        fprintf(f, ",%.17g", gsl_matrix_get(X, i, j));
      fprintf(f, ",%zu,%zu\n", a[i], b[i]);
    }
    fclose(f);
  }
  core_fe_factor fe[2] = {{"a", a, LA}, {"b", b, LB}};
  const char *labels[K] = {"x1", "x2", "x3", "x4", "x5"};
  double best = 1e300, best_cpu = 1e300;
  core_fe_result *r = NULL;
  for (int rep = 0; rep < 5; rep++) {
    core_err e;
    double t0 = now(), c0 = cpu_now();
    core_status st = core_fe_fit(X, y, labels, fe, 2, NULL, &r, &e);
    double dt = now() - t0, dc = cpu_now() - c0;
    if (dc < best_cpu) best_cpu = dc;
    if (st != CORE_OK) {
      fprintf(stderr, "fit failed: %s\n", e.msg);
      return 1;
    }
    if (dt < best) best = dt;
    if (rep < 4) {
      core_fe_result_free(r);
      r = NULL;
    }
  }
  /* One more fit, untimed, for its peak working memory. */
  {
    core_fe_result *rm = NULL;
    core_err e;
    long m0 = bench_mem_start();
    core_status st = core_fe_fit(X, y, labels, fe, 2, NULL, &rm, &e);
    long peak = bench_mem_peak(m0);
    core_fe_result_free(rm);
    if (st != CORE_OK) return 1;
    double data_mib =
        (double)(n * (K + 1) * sizeof(double) + 2 * n * sizeof(size_t)) /
        1048576.0;
    printf("n = %zu: peak working memory %.1f MiB = %.2f x the data (%.1f "
           "MiB: y, %d regressors, 2 factors)\n",
           n, (double)peak / 1024.0, (double)peak / 1024.0 / data_mib, data_mib,
           (int)K);
  }
  printf("n = %zu: core_fe_fit two-way (10000 x 200 levels, 5 regressors) "
         "best of 5: %.4f s wall, %.4f s CPU, %zu iterations, %zu singletons, "
         "b1 = %.6f\n",
         n, best, best_cpu, r->iterations, r->n_singletons, r->beta[0]);
  core_fe_result_free(r);
  gsl_matrix_free(X);
  gsl_vector_free(y);
  free(a);
  free(b);
  free(fa);
  free(fb);
  return 0;
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();
  core_blas_single_thread(); /* as the server (server/main.c) */
  if (run(100000, argc > 1 ? argv[1] : NULL) != 0) return 1;
  if (run(1000000, NULL) != 0) return 1;
  return 0;
}
