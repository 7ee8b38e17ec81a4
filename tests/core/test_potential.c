/* Specification of core_potential: smearing factors, K under the level and
 * log methods, the classes at the paper's boundaries (Table 3 of the Central
 * Asia paper, including its negative K), the warnings, the effects of terms,
 * and every error path.
 *
 * Expected values were computed by hand with mpmath at 40 digits from the
 * decimal inputs below (e.g. K = actual / (exp(xb) * mean(exp(e)))):
 *   from mpmath import mp, mpf, exp, log, expm1; mp.dps = 40
 *   duan = sum(exp(mpf(e)) for e in RESID) / 5 ...
 * The inputs are doubles nearest to those decimals, so the comparison is at
 * 1e-13 relative (xb ~ 10 carries ~1e-15 of input rounding into exp(xb)). */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "core/core_potential.h"

#define TOL 1e-13

static void near(double got, double want, const char *what) {
  cr_assert(fabs(got - want) <= TOL * fabs(want),
            "%s: got %.17g, want %.17g (rel %.3g)", what, got, want,
            fabs(got - want) / fabs(want));
}

static const double RESID[] = {0.1234567, -0.2345678, 0.3456789, -0.0987654,
                               -0.1358024};
static const double SIGMA2 = 0.0456789;
static const double XB[] = {9.8765432, 11.2345678, 7.6543210, 10.1010101};
static const double ACTUAL[] = {15234.567, 95234.5, 2456.789, NAN};

static bool has_warning(const core_warnings *w, const char *needle) {
  for (size_t i = 0; i < w->n; i++)
    if (strstr(w->msgs[i], needle)) return true;
  return false;
}

/* ---------------------------------------------------------------------- */
/* Defaults, smearing, classes                                            */
/* ---------------------------------------------------------------------- */

Test(potential, spec_defaults_are_the_papers) {
  core_pot_spec s;
  memset(&s, 0xff, sizeof s);
  core_pot_spec_default(&s);
  cr_assert_eq(s.method, CORE_POT_LEVEL);
  cr_assert_eq(s.smearing, CORE_SMEAR_DUAN);
  cr_assert_eq(s.lo, 0.8);
  cr_assert_eq(s.hi, 1.2);
  core_pot_spec_default(NULL); /* no crash */
}

Test(potential, smearing_factors) {
  near(core_smearing_factor(CORE_SMEAR_DUAN, RESID, 5, SIGMA2),
       1.0228465621069388365, "duan");
  near(core_smearing_factor(CORE_SMEAR_NORMAL, RESID, 5, SIGMA2),
       1.0231022672916013493, "normal");
  cr_assert_eq(core_smearing_factor(CORE_SMEAR_NONE, NULL, 0, NAN), 1.0);
}

Test(potential, smearing_factor_undefined_inputs_are_nan) {
  cr_assert(isnan(core_smearing_factor(CORE_SMEAR_DUAN, NULL, 5, 0.1)));
  cr_assert(isnan(core_smearing_factor(CORE_SMEAR_DUAN, RESID, 0, 0.1)));
  double bad[] = {0.1, NAN, 0.2};
  cr_assert(isnan(core_smearing_factor(CORE_SMEAR_DUAN, bad, 3, 0.1)));
  cr_assert(isnan(core_smearing_factor(CORE_SMEAR_NORMAL, NULL, 0, -0.5)));
  cr_assert(isnan(core_smearing_factor(CORE_SMEAR_NORMAL, NULL, 0, NAN)));
  cr_assert(isnan(core_smearing_factor((core_smearing)42, RESID, 5, 0.1)));
}

Test(potential, duan_survives_huge_residuals) {
  /* exp(709.5) overflows when summed twice; the mean does not:
   * (exp(709.5) + exp(709.5 - 1)) / 2 = exp(709.5) (1 + e^-1) / 2. */
  double e[] = {709.5, 708.5};
  double want = exp(709.5) * ((1.0 + exp(-1.0)) / 2.0);
  cr_assert(isfinite(want));
  near(core_smearing_factor(CORE_SMEAR_DUAN, e, 2, 0), want, "duan big");
}

Test(potential, classes_at_the_papers_boundaries) {
  cr_assert_eq(core_pot_classify(0.8, 0.8, 1.2), CORE_CLASS_HUGE);
  cr_assert_eq(core_pot_classify(nextafter(0.8, 1), 0.8, 1.2),
               CORE_CLASS_EXPANDING);
  cr_assert_eq(core_pot_classify(nextafter(1.2, 0), 0.8, 1.2),
               CORE_CLASS_EXPANDING);
  cr_assert_eq(core_pot_classify(1.2, 0.8, 1.2), CORE_CLASS_REMODELLING);
  /* Table 3: Tajikistan 2015 0.460, 2017 -4.691 (huge); Kazakhstan 2020
   * remodelling; Uzbekistan expanding. */
  cr_assert_eq(core_pot_classify(0.460, 0.8, 1.2), CORE_CLASS_HUGE);
  cr_assert_eq(core_pot_classify(-4.691, 0.8, 1.2), CORE_CLASS_HUGE);
  cr_assert_eq(core_pot_classify(-0.880, 0.8, 1.2), CORE_CLASS_HUGE);
  cr_assert_eq(core_pot_classify(1.0, 0.8, 1.2), CORE_CLASS_EXPANDING);
  cr_assert_eq(core_pot_classify(3.5, 0.8, 1.2), CORE_CLASS_REMODELLING);
  cr_assert_eq(core_pot_classify(NAN, 0.8, 1.2), CORE_CLASS_NONE);
  cr_assert_eq(core_pot_classify(INFINITY, 0.8, 1.2), CORE_CLASS_NONE);
  cr_assert_eq(core_pot_classify(1.0, 1.2, 0.8), CORE_CLASS_NONE);
  cr_assert_eq(core_pot_classify(1.0, NAN, 1.2), CORE_CLASS_NONE);
}

Test(potential, class_names) {
  cr_assert_str_eq(core_pot_class_name(CORE_CLASS_HUGE), "huge_potential");
  cr_assert_str_eq(core_pot_class_name(CORE_CLASS_EXPANDING),
                   "expanding_potential");
  cr_assert_str_eq(core_pot_class_name(CORE_CLASS_REMODELLING),
                   "remodelling_potential");
  cr_assert_null(core_pot_class_name(CORE_CLASS_NONE));
  cr_assert_null(core_pot_class_name((core_pot_class)99));
}

/* ---------------------------------------------------------------------- */
/* K                                                                      */
/* ---------------------------------------------------------------------- */

typedef struct want {
  double predicted, k, gap;
  core_pot_class cls;
} want;

static void run_level(core_smearing sm, core_term_kind resp, const want *w) {
  core_pot_spec spec;
  core_pot_spec_default(&spec);
  spec.smearing = sm;
  double f = core_smearing_factor(sm, RESID, 5, SIGMA2);
  core_pot_row out[4];
  core_warnings warn = {0, 0, NULL};
  core_err err;
  cr_assert_eq(core_potential(&spec, resp, f, XB, ACTUAL, 4, out, &warn, &err),
               CORE_OK, "%s", err.msg);
  for (size_t i = 0; i < 3; i++) {
    near(out[i].predicted, w[i].predicted, "predicted");
    near(out[i].k, w[i].k, "k");
    near(out[i].gap, w[i].gap, "gap");
    cr_assert_eq(out[i].actual, ACTUAL[i]);
    cr_assert_eq(out[i].cls, w[i].cls, "row %zu class %d", i, out[i].cls);
  }
  /* Unobserved outcome: prediction only. */
  cr_assert(isnan(out[3].actual) && isnan(out[3].k) && isnan(out[3].gap));
  cr_assert_eq(out[3].cls, CORE_CLASS_NONE);
  cr_assert(isfinite(out[3].predicted));
  cr_assert_eq(warn.n, 0);
  core_warnings_clear(&warn);
}

Test(potential, level_method_duan) {
  const want w[] = {{19913.092073866683116, 0.76505280764474380425,
                     4678.5250738666831163, CORE_CLASS_HUGE},
                    {77432.145318780510323, 1.2299090979325052936,
                     -17802.354681219489677, CORE_CLASS_REMODELLING},
                    {2157.9424722348120138, 1.1384867908251956514,
                     -298.8465277651879862, CORE_CLASS_EXPANDING}};
  run_level(CORE_SMEAR_DUAN, CORE_TERM_LOG, w);
}

Test(potential, level_method_normal) {
  const want w[] = {{19918.070221200395662, 0.76486159707302525298,
                     4683.5032212003956623, CORE_CLASS_HUGE},
                    {77451.502866384491249, 1.2296017052670218344,
                     -17782.997133615508751, CORE_CLASS_REMODELLING},
                    {2158.4819442326620605, 1.1382022474472844235,
                     -298.30705576733793951, CORE_CLASS_EXPANDING}};
  run_level(CORE_SMEAR_NORMAL, CORE_TERM_LOG, w);
}

Test(potential, level_method_no_smearing) {
  const want w[] = {{19468.308162319232485, 0.78253163412968737463,
                     4233.7411623192324847, CORE_CLASS_HUGE},
                    {75702.601140174690482, 1.2580082925243093955,
                     -19531.898859825309518, CORE_CLASS_REMODELLING},
                    {2109.7421179083932302, 1.1644972999997129678,
                     -347.0468820916067698, CORE_CLASS_EXPANDING}};
  run_level(CORE_SMEAR_NONE, CORE_TERM_LOG, w);
}

Test(potential, level_method_log1p_response) {
  /* predicted = exp(xb) * factor - 1. */
  const want w[] = {{19912.092073866683116, 0.76509122916292515223,
                     4677.5250738666831163, CORE_CLASS_HUGE},
                    {77431.145318780510323, 1.2299249818393346325,
                     -17803.354681219489677, CORE_CLASS_REMODELLING},
                    {2156.9424722348120138, 1.1390146151902310376,
                     -299.8465277651879862, CORE_CLASS_EXPANDING}};
  run_level(CORE_SMEAR_DUAN, CORE_TERM_LOG1P, w);
}

Test(potential, level_response_boundaries_exactly) {
  /* A level response: predicted = xb. 8/10 and 12/10 round to the doubles
   * 0.8 and 1.2 exactly: huge and remodelling, as the paper's <= and >=. */
  core_pot_spec spec;
  core_pot_spec_default(&spec);
  double xb[] = {10.0, 10.0, 10.0, -2.5, 0.0};
  double act[] = {8.0, 12.0, 9.5, 3.0, 1.0};
  core_pot_row out[5];
  core_warnings w = {0, 0, NULL};
  core_err err;
  cr_assert_eq(
      core_potential(&spec, CORE_TERM_LEVEL, NAN, xb, act, 5, out, &w, &err),
      CORE_OK, "%s", err.msg);
  cr_assert_eq(out[0].k, 0.8);
  cr_assert_eq(out[0].cls, CORE_CLASS_HUGE);
  cr_assert_eq(out[1].k, 1.2);
  cr_assert_eq(out[1].cls, CORE_CLASS_REMODELLING);
  cr_assert_eq(out[2].cls, CORE_CLASS_EXPANDING);
  cr_assert_eq(out[2].gap, 0.5);
  /* A predicted level <= 0: K undefined, gap still reported, one warning. */
  cr_assert(isnan(out[3].k) && isnan(out[4].k));
  cr_assert_eq(out[3].cls, CORE_CLASS_NONE);
  cr_assert_eq(out[3].gap, -5.5);
  cr_assert_eq(w.n, 1);
  cr_assert(has_warning(&w, "2 predictions in levels are not positive (first "
                            "at position 3"));
  core_warnings_clear(&w);
}

Test(potential, log_method_is_a_ratio_of_logs_without_smearing) {
  core_pot_spec spec;
  core_pot_spec_default(&spec);
  spec.method = CORE_POT_LOG;
  core_pot_row out[4];
  core_warnings w = {0, 0, NULL};
  core_err err;
  /* The factor is ignored (even an invalid one) under the log method. */
  cr_assert_eq(
      core_potential(&spec, CORE_TERM_LOG, NAN, XB, ACTUAL, 4, out, &w, &err),
      CORE_OK, "%s", err.msg);
  near(out[0].predicted, 19468.308162319232485, "p0");
  near(out[0].k, 0.9751713807739753867, "k0");
  near(out[1].k, 1.0204306702469005736, "k1");
  near(out[2].k, 1.0198958851801033646, "k2");
  near(out[2].gap, -347.0468820916067698, "gap2");
  for (size_t i = 0; i < 3; i++)
    cr_assert_eq(out[i].cls, CORE_CLASS_EXPANDING);
  cr_assert(isnan(out[3].k));
  cr_assert_eq(w.n, 0);
  core_warnings_clear(&w);
}

Test(potential, log_method_negative_k_as_in_table_3) {
  /* Tajikistan 2017 in Table 3: K = -4.691. With ln(predicted) = -0.2 and
   * ln(actual) = 0.9382, K = 0.9382 / -0.2 = -4.691: huge, with a warning. */
  core_pot_spec spec;
  core_pot_spec_default(&spec);
  spec.method = CORE_POT_LOG;
  double xb[] = {-0.2, 5.0, 0.0005};
  double act[] = {exp(0.9382), exp(0.0004), exp(3.0)};
  core_pot_row out[3];
  core_warnings w = {0, 0, NULL};
  core_err err;
  cr_assert_eq(
      core_potential(&spec, CORE_TERM_LOG, 1.0, xb, act, 3, out, &w, &err),
      CORE_OK);
  near(out[0].k, -4.691, "negative k");
  cr_assert_eq(out[0].cls, CORE_CLASS_HUGE);
  /* ln(actual) within 1e-3 of 0: K = 0.0004 / 5 = 8e-5, huge, warned. */
  /* ln(exp(0.0004)) keeps only ~12 digits (exp rounds near 1), hence 1e-11
   * for these two. */
  cr_assert(fabs(out[1].k - 0.00008) <= 1e-11 * 0.00008, "%.17g", out[1].k);
  cr_assert_eq(out[1].cls, CORE_CLASS_HUGE);
  /* ln(predicted) within 1e-3 of 0: K = 3 / 0.0005 = 6000, remodelling. */
  cr_assert(fabs(out[2].k - 6000.0) <= 1e-11 * 6000.0, "%.17g", out[2].k);
  cr_assert_eq(out[2].cls, CORE_CLASS_REMODELLING);
  cr_assert_eq(w.n, 1);
  cr_assert(has_warning(&w, "loses its meaning"));
  cr_assert(has_warning(&w, "3 rows (first at position 0"));
  cr_assert(has_warning(&w, "of which 1 has a negative K, classified as huge"));
  core_warnings_clear(&w);
}

Test(potential, log_method_without_a_logarithm) {
  /* Actual 0, and a level response whose prediction is negative: no log. */
  core_pot_spec spec;
  core_pot_spec_default(&spec);
  spec.method = CORE_POT_LOG;
  double xb[] = {250.0, -3.0};
  double act[] = {0.0, 20.0};
  core_pot_row out[2];
  core_warnings w = {0, 0, NULL};
  core_err err;
  cr_assert_eq(
      core_potential(&spec, CORE_TERM_LEVEL, 1.0, xb, act, 2, out, &w, &err),
      CORE_OK);
  cr_assert(isnan(out[0].k) && isnan(out[1].k));
  cr_assert_eq(out[0].cls, CORE_CLASS_NONE);
  cr_assert_eq(out[0].gap, 250.0);
  cr_assert(has_warning(&w, "2 rows have an actual or predicted value <= 0 "
                            "(first at position 0"));
  core_warnings_clear(&w);
}

Test(potential, overflowing_prediction_gives_no_k) {
  core_pot_spec spec;
  core_pot_spec_default(&spec);
  double xb[] = {800.0};
  double act[] = {12.5};
  core_pot_row out[1];
  core_warnings w = {0, 0, NULL};
  core_err err;
  cr_assert_eq(
      core_potential(&spec, CORE_TERM_LOG, 1.02, xb, act, 1, out, &w, &err),
      CORE_OK);
  cr_assert(isinf(out[0].predicted));
  cr_assert(isnan(out[0].k) && isnan(out[0].gap));
  cr_assert_eq(out[0].cls, CORE_CLASS_NONE);
  core_warnings_clear(&w);
}

Test(potential, custom_thresholds) {
  core_pot_spec spec;
  core_pot_spec_default(&spec);
  spec.lo = 0.5;
  spec.hi = 0.77;
  core_pot_row out[4];
  core_err err;
  cr_assert_eq(core_potential(&spec, CORE_TERM_LOG, 1.0228465621069388365, XB,
                              ACTUAL, 4, out, NULL, &err),
               CORE_OK);
  /* K = 0.76505... is now expanding, 1.23 and 1.14 remodelling. */
  cr_assert_eq(out[0].cls, CORE_CLASS_EXPANDING);
  cr_assert_eq(out[1].cls, CORE_CLASS_REMODELLING);
  cr_assert_eq(out[2].cls, CORE_CLASS_REMODELLING);
}

Test(potential, zero_rows_is_fine) {
  core_pot_spec spec;
  core_pot_spec_default(&spec);
  core_err err;
  cr_assert_eq(core_potential(&spec, CORE_TERM_LOG, 1.0, NULL, NULL, 0, NULL,
                              NULL, &err),
               CORE_OK);
}

/* ---------------------------------------------------------------------- */
/* Errors                                                                 */
/* ---------------------------------------------------------------------- */

static core_status try_spec(core_pot_spec spec, core_term_kind resp,
                            double factor, core_err *err) {
  core_pot_row out[4];
  core_warnings w = {0, 0, NULL};
  core_status st =
      core_potential(&spec, resp, factor, XB, ACTUAL, 4, out, &w, err);
  core_warnings_clear(&w);
  return st;
}

Test(potential, error_bad_thresholds) {
  core_pot_spec s;
  core_pot_spec_default(&s);
  core_err err;
  double bad[][2] = {{0.0, 1.2},      {-0.5, 1.2},     {1.2, 0.8},
                     {1.0, 1.0},      {NAN, 1.2},      {0.8, NAN},
                     {0.8, INFINITY}, {-INFINITY, 1.2}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    s.lo = bad[i][0];
    s.hi = bad[i][1];
    cr_assert_eq(try_spec(s, CORE_TERM_LOG, 1.0, &err), CORE_EINVAL, "case %zu",
                 i);
    cr_assert(strstr(err.msg, "0 < low < high"), "case %zu: %s", i, err.msg);
  }
}

Test(potential, error_bad_factor_for_level_predictions) {
  core_pot_spec s;
  core_pot_spec_default(&s);
  core_err err;
  double bad[] = {0.0, -1.0, NAN, INFINITY};
  for (size_t i = 0; i < 4; i++) {
    cr_assert_eq(try_spec(s, CORE_TERM_LOG, bad[i], &err), CORE_EINVAL);
    cr_assert(strstr(err.msg, "retransformation factor"));
    cr_assert_eq(try_spec(s, CORE_TERM_LOG1P, bad[i], &err), CORE_EINVAL);
  }
}

Test(potential, error_null_and_unknown_arguments) {
  core_pot_spec s;
  core_pot_spec_default(&s);
  core_pot_row out[4];
  core_err err;
  cr_assert_eq(
      core_potential(NULL, CORE_TERM_LOG, 1.0, XB, ACTUAL, 4, out, NULL, &err),
      CORE_EINVAL);
  cr_assert_eq(
      core_potential(&s, CORE_TERM_LOG, 1.0, NULL, ACTUAL, 4, out, NULL, &err),
      CORE_EINVAL);
  cr_assert_eq(
      core_potential(&s, CORE_TERM_LOG, 1.0, XB, NULL, 4, out, NULL, &err),
      CORE_EINVAL);
  cr_assert_eq(
      core_potential(&s, CORE_TERM_LOG, 1.0, XB, ACTUAL, 4, NULL, NULL, &err),
      CORE_EINVAL);
  cr_assert_eq(try_spec(s, CORE_TERM_INTERACTION, 1.0, &err), CORE_EINVAL);
  cr_assert_eq(try_spec(s, CORE_TERM_INTERCEPT, 1.0, &err), CORE_EINVAL);
  core_pot_spec m = s;
  m.method = (core_pot_method)9;
  cr_assert_eq(try_spec(m, CORE_TERM_LOG, 1.0, &err), CORE_EINVAL);
  m = s;
  m.smearing = (core_smearing)9;
  cr_assert_eq(try_spec(m, CORE_TERM_LOG, 1.0, &err), CORE_EINVAL);
  /* NULL err is allowed. */
  cr_assert_eq(
      core_potential(NULL, CORE_TERM_LOG, 1.0, XB, ACTUAL, 4, out, NULL, NULL),
      CORE_EINVAL);
}

/* ---------------------------------------------------------------------- */
/* Effects                                                                */
/* ---------------------------------------------------------------------- */

Test(potential, effects_of_terms) {
  double v = 0;
  cr_assert_eq(core_effect(CORE_TERM_LOG, CORE_TERM_LOG, 0.7654321, &v),
               CORE_EFFECT_ELASTICITY);
  cr_assert_eq(v, 0.7654321);
  cr_assert_eq(core_effect(CORE_TERM_LOG1P, CORE_TERM_LOG1P, -1.25, &v),
               CORE_EFFECT_ELASTICITY);
  cr_assert_eq(v, -1.25);
  cr_assert_eq(core_effect(CORE_TERM_LOG, CORE_TERM_LEVEL, 0.0123456, &v),
               CORE_EFFECT_SEMI_ELASTICITY);
  near(v, 1.2422121496706461314, "semi"); /* 100 (exp(b) - 1), mpmath */
  cr_assert_eq(core_effect(CORE_TERM_LOG1P, CORE_TERM_LEVEL, -0.4567, &v),
               CORE_EFFECT_SEMI_ELASTICITY);
  near(v, -36.662967733925654955, "semi negative");
  /* A tiny b keeps its digits (expm1, not exp - 1). */
  core_effect(CORE_TERM_LOG, CORE_TERM_LEVEL, 1e-12, &v);
  near(v, 1.00000000000050e-10, "semi tiny");
  core_term_kind none[][2] = {{CORE_TERM_LOG, CORE_TERM_INTERCEPT},
                              {CORE_TERM_LOG, CORE_TERM_INTERACTION},
                              {CORE_TERM_LEVEL, CORE_TERM_LOG},
                              {CORE_TERM_LEVEL, CORE_TERM_LEVEL},
                              {CORE_TERM_LEVEL, CORE_TERM_LOG1P},
                              {CORE_TERM_INTERACTION, CORE_TERM_LOG}};
  for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
    v = 0;
    cr_assert_eq(core_effect(none[i][0], none[i][1], 0.5, &v), CORE_EFFECT_NONE,
                 "case %zu", i);
    cr_assert(isnan(v));
  }
  cr_assert_eq(core_effect(CORE_TERM_LOG, CORE_TERM_LOG, 0.5, NULL),
               CORE_EFFECT_ELASTICITY);
}
