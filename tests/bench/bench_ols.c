/* Benchmark: core-only OLS (core_ols_fit) with an intercept and 7 random
 * regressors (8 columns) and HC1 variance at n = 1e5 and 1e6. Prints the
 * best of 3 wall and CPU times and the first slope. Never asserts on time.
 * Usage: bench_ols */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <gsl/gsl_errno.h>

#include "core_ols.h"
#include "core_mem.h"

#include "bench_util.h"

enum { P = 8 };

/* splitmix64: a small, fixed-seed generator (reproducible everywhere). */
static uint64_t rng_state = 42;

static double unif(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1.0p-53;
}

static double gauss(void) {
  double s = 0;
  for (int i = 0; i < 12; i++)
    s += unif();
  return s - 6.0;
}

static int run(size_t n) {
  gsl_matrix *X = gsl_matrix_alloc(n, P);
  gsl_vector *y = gsl_vector_alloc(n);
  if (!X || !y) return 1;
  const double beta[P] = {1.0, 0.8, -0.5, 0.3, 1.1, -0.05, 0.2, -0.7};
  for (size_t i = 0; i < n; i++) {
    double s = 0.0;
    for (size_t j = 0; j < P; j++) {
      double x = j == 0 ? 1.0 : gauss();
      gsl_matrix_set(X, i, j, x);
      s += beta[j] * x;
    }
    gsl_vector_set(y, i, s + gauss());
  }
  core_vcov_spec vc = {CORE_VCOV_HC1, NULL, 0};
  double best = 1e300, best_cpu = 1e300, b1 = 0.0;
  for (int rep = 0; rep < 3; rep++) {
    core_ols_result *r = NULL;
    core_err e;
    double t0 = now(), c0 = cpu_now();
    core_status st = core_ols_fit(X, y, true, &vc, 0.95, &r, &e);
    double dt = now() - t0, dc = cpu_now() - c0;
    if (st != CORE_OK) {
      fprintf(stderr, "fit failed: %s\n", e.msg);
      return 1;
    }
    if (dt < best) best = dt;
    if (dc < best_cpu) best_cpu = dc;
    b1 = r->beta[1];
    core_ols_result_free(r);
  }
  printf("n = %zu: core_ols_fit (8 columns, hc1) best of 3: %.4f s wall, "
         "%.4f s CPU, b1 = %.6f\n",
         n, best, best_cpu, b1);
  gsl_matrix_free(X);
  gsl_vector_free(y);
  return 0;
}

int main(void) {
  gsl_set_error_handler_off();
  core_blas_single_thread(); /* as the server (server/main.c) */
  if (run(100000) != 0) return 1;
  if (run(1000000) != 0) return 1;
  return 0;
}
