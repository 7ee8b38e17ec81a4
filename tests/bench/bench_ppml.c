/* Benchmark of two-way fixed-effect PPML (core_ppml_fit): n = 1e5 and 1e6
 * rows, 5 regressors, factors of 10,000 and 200 levels, ~30 % zeros, plus a
 * reduced-level variant (n = 1e5, 100 x 50 levels) that R's glm can fit
 * with dummies (tests/bench/bench_ppml.R). Prints wall times and the ratio
 * to fixest::fepois's 1.2 s at 1e6 (the field's bar on this kind of
 * machine). Usage: bench_ppml [--csv PATH] (PATH receives the reduced
 * dataset and PATH.ctime the C wall and CPU seconds for it, read by
 * bench_ppml.R). The machine may be shared: CPU time is the steadier. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "core_ppml.h"
#include "core_mem.h"

#include "bench_util.h"

#define K 5
#define FIXEST_1E6_SECONDS 1.2

/* splitmix64: a small, fixed-seed generator (reproducible everywhere). */
static uint64_t rng_state;

static uint64_t next_u64(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static double unif(void) {
  return ((double)(next_u64() >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void) {
  return sqrt(-2.0 * log(unif())) * cos(6.283185307179586 * unif());
}

typedef struct data {
  size_t n, la, lb;
  gsl_matrix *X;
  gsl_vector *y;
  size_t *a, *b;
} data;

static data make(size_t n, size_t la, size_t lb, uint64_t seed) {
  data d = {n,
            la,
            lb,
            gsl_matrix_alloc(n, K),
            gsl_vector_alloc(n),
            malloc(n * sizeof(size_t)),
            malloc(n * sizeof(size_t))};
  double *fa = malloc(la * sizeof *fa), *fb = malloc(lb * sizeof *fb);
  if (!d.X || !d.y || !d.a || !d.b || !fa || !fb) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  rng_state = seed;
  for (size_t l = 0; l < la; l++)
    fa[l] = 0.5 * gauss();
  for (size_t l = 0; l < lb; l++)
    fb[l] = 0.5 * gauss();
  const double beta[K] = {0.5, -0.3, 0.2, 0.1, -0.4};
  for (size_t i = 0; i < n; i++) {
    size_t a = (size_t)(unif() * (double)la), b = (size_t)(unif() * (double)lb);
    d.a[i] = a;
    d.b[i] = b;
    double eta = 1.0 + fa[a] + fb[b];
    for (size_t j = 0; j < K; j++) {
      /* Regressors correlated with the effects, as in gravity data. */
      double x = gauss() + 0.5 * (j % 2 ? fa[a] : fb[b]);
      gsl_matrix_set(d.X, i, j, x);
      eta += beta[j] * x;
    }
    double p0 = 1.0 / (1.0 + exp(1.0 + 1.2 * (eta - 1.0)));
    double y = unif() < p0 ? 0.0 : exp(eta) * -log(unif()) / (1.0 - p0);
    gsl_vector_set(d.y, i, round(y * 1e4) / 1e4);
  }
  free(fa);
  free(fb);
  return d;
}

static void release(data *d) {
  gsl_matrix_free(d->X);
  gsl_vector_free(d->y);
  free(d->a);
  free(d->b);
}

static double run(const char *label, data *d, double *cpu) {
  const size_t *lev[2] = {d->a, d->b};
  size_t nl[2] = {d->la, d->lb};
  core_ppml_fe fe = {2, lev, nl};
  core_ppml_result *r = NULL;
  core_err err;
  /* Best of 5, as bench_fe: the first touch of fresh memory varies from
   * run to run on a virtual machine. */
  double t = 1e300, ct = 1e300;
  for (int rep = 0; rep < 5; rep++) {
    core_ppml_result_free(r);
    r = NULL;
    double t0 = now(), c0 = cpu_now();
    core_status st =
        core_ppml_fit(d->X, d->y, false, &fe, NULL, &r, NULL, &err);
    double dt = now() - t0, dc = cpu_now() - c0;
    if (st != CORE_OK) {
      fprintf(stderr, "%s: %s: %s\n", label, core_status_name(st), err.msg);
      exit(1);
    }
    if (dt < t) t = dt;
    if (dc < ct) ct = dc;
  }
  /* One more fit, untimed, for its peak working memory. */
  {
    core_ppml_result *rm = NULL;
    long m0 = bench_mem_start();
    core_status st =
        core_ppml_fit(d->X, d->y, false, &fe, NULL, &rm, NULL, &err);
    long peak = bench_mem_peak(m0);
    core_ppml_result_free(rm);
    if (st != CORE_OK) exit(1);
    double data_mib =
        (double)(d->n * (K + 1) * sizeof(double) + 2 * d->n * sizeof(size_t)) /
        1048576.0;
    printf("%-32s n = %8zu  peak working memory %.1f MiB = %.2f x the data "
           "(%.1f MiB)\n",
           label, d->n, (double)peak / 1024.0, (double)peak / 1024.0 / data_mib,
           data_mib);
  }
  size_t zeros = 0;
  for (size_t i = 0; i < d->n; i++)
    zeros += gsl_vector_get(d->y, i) == 0.0;
  printf("%-32s n = %8zu  levels %5zu x %3zu  zeros %4.1f %%  wall %7.3f s  "
         "cpu %7.3f s  "
         "IRLS %2zu  demean max %3zu  dropped fe_zero %zu singleton %zu "
         "separated %zu\n",
         label, d->n, d->la, d->lb, 100.0 * (double)zeros / (double)d->n, t, ct,
         r->conv.iterations, r->conv.fe_iterations_max, r->n_fe_zero,
         r->n_singleton, r->n_separated);
  printf("%-32s b =", "");
  for (size_t j = 0; j < K; j++)
    printf(" %.10f", r->beta[j]);
  printf("\n%-32s se =", "");
  for (size_t j = 0; j < K; j++)
    printf(" %.10f", r->se[j]);
  printf("\n");
  core_ppml_result_free(r);
  if (cpu != NULL) *cpu = ct;
  return t;
}

static void write_csv(const data *d, const char *path, double wall,
                      double cpu) {
  FILE *f = fopen(path, "w");
  if (!f) {
    perror(path);
    exit(1);
  }
  fprintf(f, "y,x1,x2,x3,x4,x5,a,b\n");
  for (size_t i = 0; i < d->n; i++) {
    fprintf(f, "%.17g", gsl_vector_get(d->y, i));
    for (size_t j = 0; j < K; j++)
      fprintf(f, ",%.17g", gsl_matrix_get(d->X, i, j));
    fprintf(f, ",%zu,%zu\n", d->a[i], d->b[i]);
  }
  fclose(f);
  char p2[1024];
  snprintf(p2, sizeof p2, "%s.ctime", path);
  f = fopen(p2, "w");
  if (!f) {
    perror(p2);
    exit(1);
  }
  fprintf(f, "%.6f %.6f\n", wall, cpu);
  fclose(f);
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();
  core_blas_single_thread(); /* as the server (server/main.c) */
  const char *csv = NULL;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc) csv = argv[++i];
  data r = make(100000, 100, 50, 11);
  double cr;
  double tr = run("reduced (for R glm)", &r, &cr);
  if (csv) write_csv(&r, csv, tr, cr);
  release(&r);
  data a = make(100000, 10000, 200, 12);
  run("two-way FE", &a, NULL);
  release(&a);
  data b = make(1000000, 10000, 200, 13);
  double c6;
  double t6 = run("two-way FE", &b, &c6);
  release(&b);
  printf("n = 1e6: wall %.3f s (%.2f x fixest::fepois's %.1f s), cpu %.3f s "
         "(%.2f x)\n",
         t6, t6 / FIXEST_1E6_SECONDS, FIXEST_1E6_SECONDS, c6,
         c6 / FIXEST_1E6_SECONDS);
  return 0;
}
