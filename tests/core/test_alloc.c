/* What the core does with the memory it is given (tests/alloc_wrap.h): no
 * result depends on bytes that nobody wrote, and a request for zero bytes,
 * which C lets malloc answer with NULL, is not taken for a lack of memory. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "alloc_wrap.h"
#include "core_formula.h"
#include "core_panel.h"
#include "core_sfa.h"

static void setup(void) {
  gsl_set_error_handler_off();
}

TestSuite(alloc, .init = setup);

typedef struct sfa_outcome {
  core_status st;
  core_err err;
  double beta[2];
} sfa_outcome;

/* A cross-section frontier (60 firms, fixed seed) whose response is of the
 * order of 1e-8: the log-likelihood is finite at the start the gamma grid
 * picks, but its gradient is not at the points the Hessian is differenced
 * at, so the fit must precondition without that Hessian. (It then stops
 * where the Hessian is not negative definite; how many iterations that took
 * is in the message.) */
static sfa_outcome fit_tiny_response(void) {
  const size_t n = 60;
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 42);
  gsl_matrix *X = gsl_matrix_alloc(n, 2);
  gsl_vector *y = gsl_vector_alloc(n);
  for (size_t i = 0; i < n; i++) {
    double x = gsl_rng_uniform(rng);
    double u = fabs(gsl_ran_gaussian(rng, 0.5));
    double v = gsl_ran_gaussian(rng, 0.2);
    gsl_matrix_set(X, i, 0, 1.0);
    gsl_matrix_set(X, i, 1, x);
    gsl_vector_set(y, i, 1e-8 * (1.0 + 0.5 * x - u + v));
  }
  core_sfa_spec spec = {0};
  core_sfa_result *r = NULL;
  sfa_outcome o = {0};
  o.st = core_sfa_fit(X, y, true, &spec, &r, &o.err);
  o.beta[0] = o.beta[1] = NAN;
  if (o.st == CORE_OK) {
    o.beta[0] = r->beta[0];
    o.beta[1] = r->beta[1];
  }
  core_sfa_result_free(r);
  gsl_vector_free(y);
  gsl_matrix_free(X);
  gsl_rng_free(rng);
  return o;
}

/* The preconditioner once read the diagonal of a Hessian that was never
 * computed (malloc'd and left unwritten when a gradient was not finite), so
 * the outcome depended on what the heap held. */
Test(alloc, sfa_fit_does_not_depend_on_unwritten_memory) {
  alloc_fill = 0x00;
  sfa_outcome zero = fit_tiny_response();
  alloc_fill = 0x7f; /* 0x7f7f7f7f7f7f7f7f is the double 1.38e306 */
  sfa_outcome poison = fit_tiny_response();
  cr_assert_eq(zero.st, poison.st, "\"%s\" then \"%s\"", zero.err.msg,
               poison.err.msg);
  cr_assert_str_eq(zero.err.msg, poison.err.msg);
  for (size_t j = 0; j < 2; j++)
    cr_assert(zero.beta[j] == poison.beta[j] ||
                  (isnan(zero.beta[j]) && isnan(poison.beta[j])),
              "beta[%zu]: %.17g then %.17g", j, zero.beta[j], poison.beta[j]);
}

/* "y ~ 1 | f": the effects absorb the constant and the design has no
 * column at all, which is a design (the estimator then says that nothing is
 * left to estimate), not a lack of memory. */
Test(alloc, design_without_columns_is_not_out_of_memory) {
  const double y[4] = {1.25, 2.5, 3.75, 5.125};
  const char *const rep[4] = {"CHN", "CHN", "USA", "USA"};
  core_panel *p = core_panel_alloc(4);
  cr_assert_not_null(p);
  cr_assert_eq(core_panel_add_column(p, "y", y, NULL, NULL), CORE_OK);
  cr_assert_eq(core_panel_set_keys(p, rep, NULL, NULL, NULL), CORE_OK);
  core_formula *f = NULL;
  core_err err;
  cr_assert_eq(core_formula_parse("y ~ 1 | reporter", &f, &err), CORE_OK, "%s",
               err.msg);
  alloc_zero_null = true;
  core_design *d = NULL;
  core_status st = core_design_build_fe(f, p, CORE_DESIGN_FIT, &d, &err);
  alloc_zero_null = false;
  cr_assert_eq(st, CORE_OK, "%s", err.msg);
  cr_assert_eq(d->p, 0u);
  cr_assert_eq(d->n, 4u);
  core_design_free(d);
  core_formula_free(f);
  core_panel_free(p);
}
