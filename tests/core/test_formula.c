/* Tests of the formula parser and the design-matrix builder
 * (core/core_formula.h): grammar, normalised labels, every error with its
 * position/name/rows, evaluated values to full precision, missing rows,
 * FIT versus PREDICT, interactions, intercept handling and speed. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core_formula.h"

/* ------------------------------------------------------------- helpers */

static core_formula *parse_ok(const char *text) {
  core_err err;
  core_formula *f = NULL;
  core_status st = core_formula_parse(text, &f, &err);
  cr_assert_eq(st, CORE_OK, "parse of \"%s\" failed: %s", text, err.msg);
  cr_assert_not_null(f);
  return f;
}

/* Asserts that text fails with code at pos and that msg contains part. */
static void parse_fails(const char *text, core_status code, int pos,
                        const char *part) {
  core_err err;
  core_formula *f = (core_formula *)&err; /* must be reset to NULL */
  core_status st = core_formula_parse(text, &f, &err);
  cr_assert_eq(st, code, "\"%s\": got %s (%s)", text, core_status_name(st),
               err.msg);
  cr_assert_eq(err.code, code);
  cr_assert_null(f);
  cr_assert_eq(err.pos, pos, "\"%s\": pos %d, expected %d (%s)", text, err.pos,
               pos, err.msg);
  cr_assert_not_null(strstr(err.msg, part),
                     "\"%s\": message \"%s\" lacks \"%s\"", text, err.msg,
                     part);
}

/* Normalised text of a formula that must parse. */
static void text_is(const char *text, const char *norm) {
  core_formula *f = parse_ok(text);
  cr_assert_str_eq(core_formula_text(f), norm);
  core_formula_free(f);
}

#define NROWS 6

/* Values with many digits; every column is finite on every row. */
static const double A[NROWS] = {1234.56789012345, 0.000123456789012345,
                                98765.4321098765, 3.14159265358979,
                                271.828182845905, 17.0000000000003};
static const double B[NROWS] = {0.0137035999084,   6.02214076e23,
                                0.000314159265359, 299792458.0,
                                1.602176634e-19,   42.4242424242424};
static const double X[NROWS] = {-1.41421356237310, 2.23606797749979,
                                0.577215664901533, -0.693147180559945,
                                1.61803398874989,  9.86960440108936};
static const double Z[NROWS] = {3.5, -2.25, 0.125, 7.875, -11.0625, 0.03125};
static const double Y[NROWS] = {5321.123456789,   17.3205080756888,
                                0.0271828182846,  94868.3298050514,
                                1.41421356237310, 6.02214076};

static core_panel *make_panel(void) {
  core_panel *p = core_panel_alloc(NROWS);
  cr_assert_not_null(p);
  cr_assert_eq(core_panel_add_column(p, "a", A, NULL, NULL), CORE_OK);
  cr_assert_eq(core_panel_add_column(p, "b", B, NULL, NULL), CORE_OK);
  cr_assert_eq(core_panel_add_column(p, "x", X, NULL, NULL), CORE_OK);
  cr_assert_eq(core_panel_add_column(p, "z", Z, NULL, NULL), CORE_OK);
  cr_assert_eq(core_panel_add_column(p, "etrade", Y, NULL, NULL), CORE_OK);
  return p;
}

static core_design *build_ok(const char *text, const core_panel *p,
                             core_design_mode mode) {
  core_formula *f = parse_ok(text);
  core_err err;
  core_design *d = NULL;
  core_status st = core_design_build(f, p, mode, &d, &err);
  cr_assert_eq(st, CORE_OK, "build of \"%s\" failed: %s", text, err.msg);
  cr_assert_not_null(d);
  core_formula_free(f);
  return d;
}

static core_status build_fails(const char *text, const core_panel *p,
                               core_design_mode mode, core_err *err) {
  core_formula *f = parse_ok(text);
  core_design *d = (core_design *)err; /* must be reset to NULL */
  core_status st = core_design_build(f, p, mode, &d, err);
  cr_assert_neq(st, CORE_OK, "build of \"%s\" should fail", text);
  cr_assert_null(d);
  core_formula_free(f);
  return st;
}

static void assert_rel(double got, double want, double tol) {
  cr_assert(fabs(got - want) <= tol * fabs(want), "got %.17g, want %.17g", got,
            want);
}

/* ------------------------------------------------------------ parsing */

Test(formula_parse, paper_model) {
  core_formula *f = parse_ok(
      "log(etrade) ~ log(pgdp) + log(pop) + cbec + log(net) + log(cpi) + "
      "log(open) + log(dist) | year");
  cr_assert_str_eq(core_formula_text(f),
                   "log(etrade) ~ log(pgdp) + log(pop) + cbec + log(net) + "
                   "log(cpi) + log(open) + log(dist) | year");
  cr_assert_str_eq(core_formula_response_label(f), "log(etrade)");
  cr_assert_eq(core_formula_response_kind(f), CORE_TERM_LOG);
  cr_assert(core_formula_has_intercept(f));
  cr_assert_eq(core_formula_n_terms(f), 7);
  const char *labels[7] = {"log(pgdp)", "log(pop)",  "cbec",     "log(net)",
                           "log(cpi)",  "log(open)", "log(dist)"};
  for (size_t i = 0; i < 7; i++) {
    cr_assert_str_eq(core_formula_term_label(f, i), labels[i]);
    cr_assert_eq(core_formula_term_kind(f, i),
                 i == 2 ? CORE_TERM_LEVEL : CORE_TERM_LOG);
  }
  cr_assert_eq(core_formula_n_fe(f), 1);
  cr_assert_str_eq(core_formula_fe_label(f, 0), "year");
  cr_assert_eq(core_formula_n_vars(f), 9);
  cr_assert_str_eq(core_formula_var(f, 0), "etrade");
  cr_assert_eq(core_formula_var_pos(f, 0), 4);
  cr_assert_str_eq(core_formula_var(f, 3), "cbec");
  cr_assert_str_eq(core_formula_var(f, 8), "year");
  core_formula_free(f);
}

Test(formula_parse, normalises_whitespace_and_labels) {
  core_formula *f = parse_ok(
      "  log( y )~log(a *b)+I( x ^ 2 )+ log(x) : z+log( gdp_o*gdp_d )\t|\n"
      "year ");
  cr_assert_str_eq(core_formula_text(f),
                   "log(y) ~ log(a*b) + I(x^2) + log(x):z + log(gdp_o*gdp_d) "
                   "| year");
  cr_assert_str_eq(core_formula_term_label(f, 0), "log(a*b)");
  cr_assert_str_eq(core_formula_term_label(f, 1), "I(x^2)");
  cr_assert_str_eq(core_formula_term_label(f, 2), "log(x):z");
  cr_assert_eq(core_formula_term_kind(f, 0), CORE_TERM_LOG);
  cr_assert_eq(core_formula_term_kind(f, 1), CORE_TERM_LEVEL);
  cr_assert_eq(core_formula_term_kind(f, 2), CORE_TERM_INTERACTION);
  cr_assert_eq(core_formula_term_kind(f, 3), CORE_TERM_LOG);
  core_formula_free(f);
}

Test(formula_parse, arithmetic_labels) {
  core_formula *f = parse_ok(
      "y ~ I(a+b-c) + I((a + b)/2) + I(-x) + log(exp(x)+1) + sqrt(a/b) + "
      "I(x*1e3) + I(.5*x) + log1p(x) + exp(z) + I(2^-x) + I(a - -b)");
  const char *want[] = {"I(a + b - c)",    "I((a + b)/2)", "I(-x)",
                        "log(exp(x) + 1)", "sqrt(a/b)",    "I(x*1e3)",
                        "I(.5*x)",         "log1p(x)",     "exp(z)",
                        "I(2^-x)",         "I(a - -b)"};
  size_t n = sizeof want / sizeof *want;
  cr_assert_eq(core_formula_n_terms(f), n);
  for (size_t i = 0; i < n; i++)
    cr_assert_str_eq(core_formula_term_label(f, i), want[i]);
  cr_assert_eq(core_formula_term_kind(f, 3), CORE_TERM_LOG);
  cr_assert_eq(core_formula_term_kind(f, 4), CORE_TERM_LEVEL);
  cr_assert_eq(core_formula_term_kind(f, 7), CORE_TERM_LOG1P);
  cr_assert_eq(core_formula_term_kind(f, 8), CORE_TERM_LEVEL);
  core_formula_free(f);
}

Test(formula_parse, response_kinds) {
  core_formula *f = parse_ok("log(a/b) ~ x");
  cr_assert_eq(core_formula_response_kind(f), CORE_TERM_LOG);
  cr_assert_str_eq(core_formula_response_label(f), "log(a/b)");
  core_formula_free(f);
  f = parse_ok("log1p(x) ~ z");
  cr_assert_eq(core_formula_response_kind(f), CORE_TERM_LOG1P);
  core_formula_free(f);
  f = parse_ok("y ~ z");
  cr_assert_eq(core_formula_response_kind(f), CORE_TERM_LEVEL);
  cr_assert_str_eq(core_formula_response_label(f), "y");
  core_formula_free(f);
  f = parse_ok("I(log(y)) ~ z");
  cr_assert_eq(core_formula_response_kind(f), CORE_TERM_LEVEL);
  core_formula_free(f);
  f = parse_ok("(log(y)) ~ z");
  cr_assert_eq(core_formula_response_kind(f), CORE_TERM_LOG);
  core_formula_free(f);
}

Test(formula_parse, intercept_rules_follow_r) {
  struct {
    const char *text;
    bool intercept;
    size_t n_terms;
    const char *norm;
  } cases[] = {
      {"y ~ x", true, 1, "y ~ x"},
      {"y~0+x", false, 1, "y ~ 0 + x"},
      {"y ~ x + 0", false, 1, "y ~ x + 0"},
      {"y ~ x - 1", false, 1, "y ~ x - 1"},
      {"y ~ -1 + x", false, 1, "y ~ -1 + x"},
      {"y ~ 1 + x", true, 1, "y ~ 1 + x"},
      {"y ~ x + 1", true, 1, "y ~ x + 1"},
      {"y ~ x - 1 + 1", true, 1, "y ~ x - 1 + 1"},
      {"y ~ 1 + x - 1", false, 1, "y ~ 1 + x - 1"},
      {"y ~ 1", true, 0, "y ~ 1"},
      {"y ~ 0 + 1", true, 0, "y ~ 0 + 1"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    core_formula *f = parse_ok(cases[i].text);
    cr_assert_eq(core_formula_has_intercept(f), cases[i].intercept, "%s",
                 cases[i].text);
    cr_assert_eq(core_formula_n_terms(f), cases[i].n_terms, "%s",
                 cases[i].text);
    cr_assert_str_eq(core_formula_text(f), cases[i].norm);
    core_formula_free(f);
  }
}

Test(formula_parse, no_regressor_and_no_intercept) {
  parse_fails("y ~ 0", CORE_EINVAL, -1, "no regressor and no intercept");
  parse_fails("y ~ -1", CORE_EINVAL, -1, "no regressor and no intercept");
  parse_fails("y ~ 1 - 1", CORE_EINVAL, -1, "no regressor and no intercept");
}

Test(formula_parse, interactions) {
  core_formula *f = parse_ok("y ~ a:b + log(x):z:b");
  cr_assert_str_eq(core_formula_term_label(f, 0), "a:b");
  cr_assert_str_eq(core_formula_term_label(f, 1), "log(x):z:b");
  cr_assert_eq(core_formula_term_kind(f, 0), CORE_TERM_INTERACTION);
  cr_assert_eq(core_formula_term_kind(f, 1), CORE_TERM_INTERACTION);
  core_formula_free(f);
}

Test(formula_parse, fixed_effects) {
  core_formula *f =
      parse_ok("log(etrade) ~ log(gdp_o*gdp_d) + year | reporter^year + "
               "partner");
  cr_assert_eq(core_formula_n_fe(f), 2);
  cr_assert_str_eq(core_formula_fe_label(f, 0), "reporter^year");
  cr_assert_str_eq(core_formula_fe_label(f, 1), "partner");
  cr_assert_str_eq(core_formula_text(f),
                   "log(etrade) ~ log(gdp_o*gdp_d) + year | reporter^year + "
                   "partner");
  const char *vars[] = {"etrade", "gdp_o",    "gdp_d",
                        "year",   "reporter", "partner"};
  const int pos[] = {4, 18, 24, 33, 40, 56};
  cr_assert_eq(core_formula_n_vars(f), 6);
  for (size_t i = 0; i < 6; i++) {
    cr_assert_str_eq(core_formula_var(f, i), vars[i]);
    cr_assert_eq(core_formula_var_pos(f, i), pos[i], "var %zu", i);
  }
  core_formula_free(f);
}

Test(formula_parse, variable_names) {
  core_formula *f = parse_ok("y.1 ~ .x_2 + _a.b + x.Y9");
  cr_assert_str_eq(core_formula_text(f), "y.1 ~ .x_2 + _a.b + x.Y9");
  cr_assert_eq(core_formula_n_vars(f), 4);
  core_formula_free(f);
  /* a repeated variable is listed once, at its first position */
  f = parse_ok("log(a) ~ I(a*b) + b:z");
  cr_assert_eq(core_formula_n_vars(f), 3);
  cr_assert_str_eq(core_formula_var(f, 1), "b");
  cr_assert_eq(core_formula_var_pos(f, 1), 13);
  core_formula_free(f);
}

Test(formula_parse, accessors_out_of_range_and_null) {
  core_formula *f = parse_ok("y ~ x");
  cr_assert_null(core_formula_term_label(f, 1));
  cr_assert_eq(core_formula_term_kind(f, 1), CORE_TERM_INTERCEPT);
  cr_assert_null(core_formula_fe_label(f, 0));
  cr_assert_null(core_formula_var(f, 2));
  cr_assert_eq(core_formula_var_pos(f, 2), -1);
  core_formula_free(f);
  core_formula_free(NULL);
  cr_assert_null(core_formula_text(NULL));
  cr_assert_null(core_formula_response_label(NULL));
  cr_assert_eq(core_formula_n_terms(NULL), 0);
  cr_assert_eq(core_formula_n_fe(NULL), 0);
  cr_assert_eq(core_formula_n_vars(NULL), 0);
  cr_assert_not(core_formula_has_intercept(NULL));
}

Test(formula_parse, longest_accepted_and_too_long) {
  char buf[CORE_FORMULA_MAX_LEN + 2];
  memset(buf, ' ', sizeof buf);
  memcpy(buf, "y ~ x", 5);
  buf[CORE_FORMULA_MAX_LEN] = '\0';
  text_is(buf, "y ~ x");
  buf[CORE_FORMULA_MAX_LEN] = ' ';
  buf[CORE_FORMULA_MAX_LEN + 1] = '\0';
  parse_fails(buf, CORE_EINVAL, -1, "longer than 4096 bytes");
}

Test(formula_parse, empty_and_null) {
  parse_fails("", CORE_EINVAL, -1, "empty");
  parse_fails(" \t\n", CORE_EINVAL, -1, "empty");
  core_err err;
  core_formula *f = NULL;
  cr_assert_eq(core_formula_parse(NULL, &f, &err), CORE_EINVAL);
  cr_assert_eq(core_formula_parse("y ~ x", NULL, &err), CORE_EINVAL);
  /* a NULL err is allowed */
  cr_assert_eq(core_formula_parse("y ~", &f, NULL), CORE_EPARSE);
  cr_assert_null(f);
}

Test(formula_parse, missing_tilde) {
  parse_fails("y x", CORE_EPARSE, 2, "expected '~' at position 2, found 'x'");
  parse_fails("log(y) + x", CORE_EPARSE, 10,
              "expected '~' at position 10, found end of formula");
  parse_fails("~ x", CORE_EPARSE, 0, "expected a response before '~'");
}

Test(formula_parse, two_tildes) {
  parse_fails("y ~ x ~ z", CORE_EPARSE, 6, "second '~' at position 6");
}

Test(formula_parse, trailing_and_leading_plus) {
  parse_fails("y ~ x +", CORE_EPARSE, 7,
              "expected a term at position 7, found end of formula");
  parse_fails("y ~ + x", CORE_EPARSE, 4,
              "expected a term at position 4, found '+'");
  parse_fails("y ~", CORE_EPARSE, 3, "expected a term at position 3");
  parse_fails("y ~ x + + z", CORE_EPARSE, 8, "expected a term at position 8");
}

Test(formula_parse, empty_parentheses) {
  parse_fails("y ~ log()", CORE_EPARSE, 8,
              "empty parentheses: expected an expression inside log() at "
              "position 8");
  parse_fails("y ~ I(a + ())", CORE_EPARSE, 11, "empty parentheses");
}

Test(formula_parse, unbalanced_parentheses) {
  parse_fails("y ~ log(x", CORE_EPARSE, 9,
              "expected ')' at position 9, found end of formula (to close "
              "'(' at position 7)");
  parse_fails("y ~ log(x))", CORE_EPARSE, 10, "')' at position 10 has no '('");
  parse_fails("y) ~ x", CORE_EPARSE, 1, "')' at position 1 has no '('");
  parse_fails("y ~ I((a + b)", CORE_EPARSE, 13, "expected ')' at position 13");
  parse_fails("y ~ log(a*b))+ z", CORE_EPARSE, 12, "has no '('");
  parse_fails("y ~ (x)", CORE_EPARSE, 4,
              "expected a variable or a function call at position 4, found "
              "'('");
}

Test(formula_parse, bad_numbers) {
  parse_fails("y ~ I(1e)", CORE_EPARSE, 6, "bad number '1e' at position 6");
  parse_fails("y ~ I(1.2.3*x)", CORE_EPARSE, 6, "bad number '1.2.3'");
  parse_fails("y ~ I(2x)", CORE_EPARSE, 6, "bad number '2x'");
  parse_fails("y ~ I(x*1e+)", CORE_EPARSE, 8, "bad number '1e+'");
  parse_fails("y ~ I(1e999*x)", CORE_EPARSE, 6,
              "number '1e999' at position 6 is out of range");
}

Test(formula_parse, stray_characters) {
  parse_fails("y ~ x $ z", CORE_EPARSE, 6,
              "unexpected character '$' at position 6");
  parse_fails("y ~ log(x, 10)", CORE_EPARSE, 9, "unexpected character ','");
  parse_fails("y ~ x + g\xc3\xa9o", CORE_EPARSE, 9,
              "unexpected byte 0xC3 at position 9");
  parse_fails("y ~ x & z", CORE_EPARSE, 6, "'&'");
}

Test(formula_parse, unknown_function) {
  parse_fails("y ~ x + ln(z)", CORE_EPARSE, 8,
              "unknown function 'ln' at position 8: the known functions are "
              "log, log1p, exp, sqrt and I");
  parse_fails("y ~ I(LOG(x))", CORE_EPARSE, 6, "unknown function 'LOG'");
  parse_fails("f(y) ~ x", CORE_EPARSE, 0, "unknown function 'f'");
}

Test(formula_parse, minus_only_removes_the_intercept) {
  parse_fails("y ~ x - z", CORE_EPARSE, 8,
              "expected '1' at position 8, found 'z': '-' only removes the "
              "intercept");
  parse_fails("y ~ x - 0", CORE_EPARSE, 8, "expected '1'");
  parse_fails("y ~ -x", CORE_EPARSE, 5, "expected '1'");
}

Test(formula_parse, bare_arithmetic_in_terms) {
  parse_fails("y ~ x*z", CORE_EPARSE, 5,
              "expected '+', ':', '|' or end of formula at position 5, found "
              "'*': write I(a*b)");
  parse_fails("y ~ x^2", CORE_EPARSE, 5, "found '^'");
  parse_fails("y ~ 2", CORE_EPARSE, 4, "expected a term, 0 or 1 at position 4");
  parse_fails("y ~ x:2", CORE_EPARSE, 6,
              "expected a variable or a function call at position 6");
  parse_fails("y ~ 1:x", CORE_EPARSE, 5, "found ':'");
}

Test(formula_parse, duplicate_terms) {
  core_err err;
  core_formula *f = NULL;
  cr_assert_eq(core_formula_parse("y ~ x + z + x", &f, &err), CORE_EINVAL);
  cr_assert_str_eq(err.name, "x");
  cr_assert_eq(err.pos, 12);
  cr_assert_str_eq(err.msg,
                   "duplicate term 'x' at position 12 (already at position 4)");
  cr_assert_eq(core_formula_parse("y ~ log(x) + log( x )", &f, &err),
               CORE_EINVAL);
  cr_assert_str_eq(err.name, "log(x)");
  cr_assert_eq(core_formula_parse("y ~ a:b + b:a", &f, &err), CORE_EINVAL);
  cr_assert_str_eq(err.name, "b:a");
  cr_assert_eq(err.pos, 10);
  cr_assert_eq(core_formula_parse("y ~ x:x", &f, &err), CORE_EINVAL);
  cr_assert_str_eq(err.name, "x:x");
  cr_assert_not_null(strstr(err.msg, "uses 'x' twice"), "%s", err.msg);
  cr_assert_null(f);
}

Test(formula_parse, fixed_effect_errors) {
  parse_fails("y ~ x |", CORE_EPARSE, 7,
              "expected a fixed-effect variable name at position 7");
  parse_fails("y ~ x | year +", CORE_EPARSE, 14, "fixed-effect variable name");
  parse_fails("y ~ x | log(year)", CORE_EPARSE, 8, "is a function call");
  parse_fails("y ~ x | year | z", CORE_EPARSE, 13,
              "expected '+', '^' or end of formula at position 13");
  parse_fails("y ~ x | reporter^", CORE_EPARSE, 17, "fixed-effect variable");
  parse_fails("y ~ x | year + year", CORE_EINVAL, 15,
              "duplicate fixed effect 'year'");
  parse_fails("y ~ x | reporter^year + year^reporter", CORE_EINVAL, 24,
              "duplicate fixed effect 'year^reporter'");
  parse_fails("y ~ x | year^year", CORE_EINVAL, 8, "uses 'year' twice");
}

Test(formula_parse, name_too_long) {
  char buf[200];
  char name[66];
  memset(name, 'v', 65);
  name[65] = '\0';
  snprintf(buf, sizeof buf, "y ~ %s", name);
  parse_fails(buf, CORE_EPARSE, 4, "65 bytes long; the limit is 64");
  name[64] = '\0';
  snprintf(buf, sizeof buf, "y ~ %s", name);
  core_formula *f = parse_ok(buf);
  core_formula_free(f);
}

Test(formula_parse, nesting_limit) {
  char buf[1200];
  size_t k = 0;
  k += (size_t)snprintf(buf, sizeof buf, "y ~ I(");
  for (int i = 0; i < 150; i++)
    buf[k++] = '(';
  buf[k++] = 'x';
  for (int i = 0; i < 150; i++)
    buf[k++] = ')';
  buf[k++] = ')';
  buf[k] = '\0';
  core_err err;
  core_formula *f = NULL;
  cr_assert_eq(core_formula_parse(buf, &f, &err), CORE_EPARSE);
  cr_assert_not_null(strstr(err.msg, "nested too deeply"), "%s", err.msg);
  cr_assert_gt(err.pos, 6);
  /* 50 levels are fine */
  k = (size_t)snprintf(buf, sizeof buf, "y ~ I(");
  for (int i = 0; i < 50; i++)
    buf[k++] = '(';
  buf[k++] = 'x';
  for (int i = 0; i < 50; i++)
    buf[k++] = ')';
  buf[k++] = ')';
  buf[k] = '\0';
  f = parse_ok(buf);
  core_formula_free(f);
}

/* ------------------------------------------------------------- design */

Test(formula_design, values_to_full_precision) {
  core_panel *p = make_panel();
  core_design *d =
      build_ok("log(etrade) ~ log(a*b) + log(a/b) + I(x^2) + log(x^2):z + "
               "sqrt(a) + exp(x) + log1p(b) + I(-z) + I((a - x)/(b + z))",
               p, CORE_DESIGN_FIT);
  cr_assert_eq(d->n, NROWS);
  cr_assert_eq(d->p, 10);
  cr_assert_eq(d->n_missing, 0);
  cr_assert(d->has_intercept);
  const char *labels[10] = {
      "(Intercept)", "log(a*b)", "log(a/b)", "I(x^2)", "log(x^2):z",
      "sqrt(a)",     "exp(x)",   "log1p(b)", "I(-z)",  "I((a - x)/(b + z))"};
  core_term_kind kinds[10] = {
      CORE_TERM_INTERCEPT,   CORE_TERM_LOG,   CORE_TERM_LOG,   CORE_TERM_LEVEL,
      CORE_TERM_INTERACTION, CORE_TERM_LEVEL, CORE_TERM_LEVEL, CORE_TERM_LOG1P,
      CORE_TERM_LEVEL,       CORE_TERM_LEVEL};
  for (size_t j = 0; j < 10; j++) {
    cr_assert_str_eq(d->col_label[j], labels[j]);
    cr_assert_eq(d->col_kind[j], kinds[j]);
  }
  for (size_t i = 0; i < NROWS; i++) {
    const gsl_matrix *M = d->X;
    cr_assert_eq(d->row[i], i);
    cr_assert_eq(gsl_vector_get(d->y, i), log(Y[i]));
    cr_assert_eq(gsl_vector_get(d->y_level, i), Y[i]);
    cr_assert_eq(gsl_matrix_get(M, i, 0), 1.0);
    /* the same operations in the same order give the same bits */
    cr_assert_eq(gsl_matrix_get(M, i, 1), log(A[i] * B[i]));
    cr_assert_eq(gsl_matrix_get(M, i, 2), log(A[i] / B[i]));
    /* and agree with the identities to rounding */
    assert_rel(gsl_matrix_get(M, i, 1), log(A[i]) + log(B[i]), 1e-15);
    assert_rel(gsl_matrix_get(M, i, 2), log(A[i]) - log(B[i]), 1e-15);
    cr_assert_eq(gsl_matrix_get(M, i, 3), pow(X[i], 2.0));
    assert_rel(gsl_matrix_get(M, i, 3), X[i] * X[i], 1e-16);
    cr_assert_eq(gsl_matrix_get(M, i, 4), log(pow(X[i], 2.0)) * Z[i]);
    cr_assert_eq(gsl_matrix_get(M, i, 5), sqrt(A[i]));
    cr_assert_eq(gsl_matrix_get(M, i, 6), exp(X[i]));
    cr_assert_eq(gsl_matrix_get(M, i, 7), log1p(B[i]));
    cr_assert_eq(gsl_matrix_get(M, i, 8), -Z[i]);
    cr_assert_eq(gsl_matrix_get(M, i, 9), (A[i] - X[i]) / (B[i] + Z[i]));
  }
  core_design_free(d);
  core_design_free(NULL);
  core_panel_free(p);
}

Test(formula_design, operand_order_of_non_commutative_operations) {
  /* The evaluator computes the deeper operand first; the result must still
   * be left op right. */
  core_panel *p = make_panel();
  core_design *d = build_ok(
      "etrade ~ 0 + I(a - (b - (x - z))) + I(a/(b/(x/z))) + I(a^(x/(b+a))) + "
      "I((a - b) - (x - z)) + I(2 - x) + I(x/4) + I(2^-z^2)",
      p, CORE_DESIGN_FIT);
  cr_assert_not(d->has_intercept);
  cr_assert_eq(d->p, 7);
  for (size_t i = 0; i < NROWS; i++) {
    cr_assert_eq(gsl_matrix_get(d->X, i, 0), A[i] - (B[i] - (X[i] - Z[i])));
    cr_assert_eq(gsl_matrix_get(d->X, i, 1), A[i] / (B[i] / (X[i] / Z[i])));
    cr_assert_eq(gsl_matrix_get(d->X, i, 2), pow(A[i], X[i] / (B[i] + A[i])));
    cr_assert_eq(gsl_matrix_get(d->X, i, 3), (A[i] - B[i]) - (X[i] - Z[i]));
    cr_assert_eq(gsl_matrix_get(d->X, i, 4), 2 - X[i]);
    cr_assert_eq(gsl_matrix_get(d->X, i, 5), X[i] / 4);
    /* -z^2 is -(z^2), and ^ is right-associative */
    cr_assert_eq(gsl_matrix_get(d->X, i, 6), pow(2, -pow(Z[i], 2)));
  }
  core_design_free(d);
  core_panel_free(p);
}

/* A panel with gaps: etrade missing on row 1, x missing on row 3, etrade 0
 * on row 4 and a (only used by some formulas) missing on row 5. */
static core_panel *make_gappy_panel(void) {
  core_panel *p = make_panel();
  p->cols[core_panel_find(p, "etrade")][1] = NAN;
  p->cols[core_panel_find(p, "x")][3] = NAN;
  p->cols[core_panel_find(p, "etrade")][4] = 0.0;
  p->cols[core_panel_find(p, "a")][5] = NAN;
  return p;
}

Test(formula_design, fit_drops_and_counts_missing_rows) {
  core_panel *p = make_gappy_panel();
  p->cols[core_panel_find(p, "etrade")][4] = 0.5; /* valid for this test */
  core_design *d = build_ok("log(etrade) ~ x + z", p, CORE_DESIGN_FIT);
  cr_assert_eq(d->n, 4);
  cr_assert_eq(d->n_missing, 2);
  const size_t rows[4] = {0, 2, 4, 5};
  for (size_t i = 0; i < 4; i++) {
    cr_assert_eq(d->row[i], rows[i]);
    cr_assert_eq(gsl_matrix_get(d->X, i, 1), X[rows[i]]);
    cr_assert_eq(gsl_matrix_get(d->X, i, 2), Z[rows[i]]);
  }
  cr_assert_eq(gsl_vector_get(d->y, 2), log(0.5));
  cr_assert_eq(gsl_vector_get(d->y_level, 2), 0.5);
  core_design_free(d);
  /* a variable that no term uses does not drop rows */
  d = build_ok("log(etrade) ~ z", p, CORE_DESIGN_FIT);
  cr_assert_eq(d->n, 5);
  cr_assert_eq(d->n_missing, 1);
  core_design_free(d);
  core_panel_free(p);
}

Test(formula_design, predict_keeps_rows_without_response) {
  core_panel *p = make_gappy_panel();
  core_design *d = build_ok("log(etrade) ~ log(a) + z", p, CORE_DESIGN_PREDICT);
  /* rows 3 (x missing) is fine here; row 5 lacks a regressor */
  cr_assert_eq(d->n, 5);
  cr_assert_eq(d->n_missing, 1);
  const size_t rows[5] = {0, 1, 2, 3, 4};
  for (size_t i = 0; i < 5; i++)
    cr_assert_eq(d->row[i], rows[i]);
  cr_assert_eq(gsl_vector_get(d->y, 0), log(Y[0]));
  cr_assert(isnan(gsl_vector_get(d->y, 1))); /* missing */
  cr_assert(isnan(gsl_vector_get(d->y_level, 1)));
  cr_assert(isnan(gsl_vector_get(d->y, 4)));        /* log(0): no error */
  cr_assert_eq(gsl_vector_get(d->y_level, 4), 0.0); /* the actual value */
  cr_assert_eq(gsl_matrix_get(d->X, 3, 1), log(A[3]));
  core_design_free(d);
  core_panel_free(p);
}

Test(formula_design, fit_rejects_response_outside_log_domain) {
  core_panel *p = make_gappy_panel();
  p->cols[core_panel_find(p, "etrade")][2] = -3.25;
  core_err err;
  cr_assert_eq(build_fails("log(etrade) ~ z", p, CORE_DESIGN_FIT, &err),
               CORE_EDOMAIN);
  cr_assert_eq(err.code, CORE_EDOMAIN);
  cr_assert_str_eq(err.name, "etrade");
  cr_assert_str_eq(err.msg, "log() needs values > 0: etrade is <= 0 in 2 "
                            "rows (first: row 2)");
  cr_assert_eq(err.n_rows, 2);
  cr_assert_eq(err.rows_total, 2);
  cr_assert_eq(err.rows[0], 2);
  cr_assert_eq(err.rows[1], 4);
  cr_assert_eq(err.pos, 4);
  core_panel_free(p);
}

Test(formula_design, predict_response_of_a_ratio) {
  core_panel *p = make_panel();
  p->cols[core_panel_find(p, "b")][2] = 0.0; /* a/b undefined on row 2 */
  core_design *d = build_ok("log(a/b) ~ z", p, CORE_DESIGN_PREDICT);
  cr_assert_eq(d->n, NROWS);
  cr_assert_eq(gsl_vector_get(d->y_level, 0), A[0] / B[0]);
  cr_assert_eq(gsl_vector_get(d->y, 0), log(A[0] / B[0]));
  cr_assert(isnan(gsl_vector_get(d->y_level, 2)));
  cr_assert(isnan(gsl_vector_get(d->y, 2)));
  core_design_free(d);
  /* the same data in FIT mode is a domain error naming the divisor */
  core_err err;
  cr_assert_eq(build_fails("log(a/b) ~ z", p, CORE_DESIGN_FIT, &err),
               CORE_EDOMAIN);
  cr_assert_str_eq(err.name, "b");
  cr_assert_str_eq(err.msg, "division by zero: b is 0 in 1 row (first: row 2)");
  cr_assert_eq(err.rows[0], 2);
  core_panel_free(p);
}

Test(formula_design, response_kinds_and_y_level) {
  core_panel *p = make_panel();
  core_design *d = build_ok("log1p(b) ~ z", p, CORE_DESIGN_FIT);
  for (size_t i = 0; i < NROWS; i++) {
    cr_assert_eq(gsl_vector_get(d->y, i), log1p(B[i]));
    cr_assert_eq(gsl_vector_get(d->y_level, i), B[i]);
  }
  core_design_free(d);
  d = build_ok("I(a*b) ~ z", p, CORE_DESIGN_FIT);
  for (size_t i = 0; i < NROWS; i++) {
    cr_assert_eq(gsl_vector_get(d->y, i), A[i] * B[i]);
    cr_assert_eq(gsl_vector_get(d->y_level, i), A[i] * B[i]);
  }
  core_design_free(d);
  core_panel_free(p);
}

Test(formula_design, domain_error_on_regressor_names_the_variable) {
  core_panel *p = make_panel();
  core_err err;
  /* x is negative on rows 0 and 3 */
  cr_assert_eq(build_fails("etrade ~ z + log(x)", p, CORE_DESIGN_FIT, &err),
               CORE_EDOMAIN);
  cr_assert_str_eq(err.name, "x");
  cr_assert_str_eq(
      err.msg, "log() needs values > 0: x is <= 0 in 2 rows (first: row 0)");
  cr_assert_eq(err.n_rows, 2);
  cr_assert_eq(err.rows[0], 0);
  cr_assert_eq(err.rows[1], 3);
  cr_assert_eq(err.pos, 17);
  /* PREDICT mode checks regressors just the same */
  cr_assert_eq(build_fails("etrade ~ log(x)", p, CORE_DESIGN_PREDICT, &err),
               CORE_EDOMAIN);
  cr_assert_str_eq(err.name, "x");
  core_panel_free(p);
}

Test(formula_design, domain_error_on_expression_names_the_term) {
  core_panel *p = make_panel();
  core_err err;
  cr_assert_eq(build_fails("etrade ~ log(a*x)", p, CORE_DESIGN_FIT, &err),
               CORE_EDOMAIN);
  cr_assert_str_eq(err.name, "log(a*x)");
  cr_assert_str_eq(err.msg,
                   "log() needs values > 0: a*x is <= 0 in 2 rows (first: "
                   "row 0)");
  cr_assert_eq(err.pos, 13);
  cr_assert_eq(build_fails("etrade ~ sqrt(z)", p, CORE_DESIGN_FIT, &err),
               CORE_EDOMAIN);
  cr_assert_str_eq(err.name, "z");
  cr_assert_str_eq(err.msg,
                   "sqrt() needs values >= 0: z is < 0 in 2 rows (first: row "
                   "1)");
  cr_assert_eq(err.rows[1], 4);
  cr_assert_eq(build_fails("etrade ~ log1p(I(z/2))", p, CORE_DESIGN_FIT, &err),
               CORE_EDOMAIN);
  cr_assert_str_eq(err.name, "log1p(I(z/2))");
  cr_assert_str_eq(err.msg,
                   "log1p() needs values > -1: I(z/2) is <= -1 in 2 rows "
                   "(first: row 1)");
  cr_assert_eq(build_fails("etrade ~ I(a/(z - z))", p, CORE_DESIGN_FIT, &err),
               CORE_EDOMAIN);
  cr_assert_str_eq(err.name, "I(a/(z - z))");
  cr_assert_str_eq(err.msg,
                   "division by zero: (z - z) is 0 in 6 rows (first: row 0)");
  cr_assert_eq(err.rows_total, 6);
  core_panel_free(p);
}

Test(formula_design, log1p_boundary_is_an_error) {
  core_panel *p = make_panel();
  p->cols[core_panel_find(p, "a")][5] = -1.0;
  p->cols[core_panel_find(p, "a")][2] = -0.9999999999999999; /* allowed */
  core_err err;
  cr_assert_eq(build_fails("etrade ~ log1p(a)", p, CORE_DESIGN_FIT, &err),
               CORE_EDOMAIN);
  cr_assert_str_eq(err.name, "a");
  cr_assert_eq(err.rows_total, 1);
  cr_assert_eq(err.rows[0], 5);
  core_panel_free(p);
}

Test(formula_design, overflow_and_undefined_results) {
  core_panel *p = make_panel();
  p->cols[core_panel_find(p, "x")][4] = 800.5;
  core_err err;
  cr_assert_eq(build_fails("etrade ~ exp(x)", p, CORE_DESIGN_FIT, &err),
               CORE_EDOMAIN);
  cr_assert_str_eq(err.name, "x");
  cr_assert_str_eq(err.msg, "exp(x) is not finite (overflow or undefined) in "
                            "1 row (first: row 4)");
  /* (-2.25)^0.5 is undefined */
  cr_assert_eq(build_fails("etrade ~ I(z^0.5)", p, CORE_DESIGN_FIT, &err),
               CORE_EDOMAIN);
  cr_assert_str_eq(err.name, "I(z^0.5)");
  cr_assert_str_eq(err.msg, "z^0.5 is not finite (overflow or undefined) in "
                            "2 rows (first: row 1)");
  /* an interaction whose product overflows */
  p->cols[core_panel_find(p, "b")][1] = 1e300;
  p->cols[core_panel_find(p, "a")][1] = 1e300;
  cr_assert_eq(build_fails("etrade ~ a:b", p, CORE_DESIGN_FIT, &err),
               CORE_EDOMAIN);
  cr_assert_str_eq(err.name, "a:b");
  cr_assert_str_eq(err.msg, "a:b is not finite (overflow or undefined) in 1 "
                            "row (first: row 1)");
  cr_assert_eq(err.pos, 9);
  core_panel_free(p);
}

Test(formula_design, domain_problems_on_incomplete_rows_are_ignored) {
  core_panel *p = make_panel();
  /* x <= 0 on rows 0 and 3, but z is missing there */
  p->cols[core_panel_find(p, "z")][0] = NAN;
  p->cols[core_panel_find(p, "z")][3] = NAN;
  core_design *d = build_ok("etrade ~ log(x) + z", p, CORE_DESIGN_FIT);
  cr_assert_eq(d->n, 4);
  cr_assert_eq(d->n_missing, 2);
  cr_assert_eq(gsl_matrix_get(d->X, 0, 1), log(X[1]));
  core_design_free(d);
  core_panel_free(p);
}

Test(formula_design, interactions_are_products) {
  core_panel *p = make_panel();
  core_design *d = build_ok("etrade ~ a:b + log(a):z:x", p, CORE_DESIGN_FIT);
  cr_assert_eq(d->col_kind[1], CORE_TERM_INTERACTION);
  for (size_t i = 0; i < NROWS; i++) {
    cr_assert_eq(gsl_matrix_get(d->X, i, 1), A[i] * B[i]);
    cr_assert_eq(gsl_matrix_get(d->X, i, 2), log(A[i]) * Z[i] * X[i]);
  }
  core_design_free(d);
  core_panel_free(p);
}

Test(formula_design, intercept_handling) {
  core_panel *p = make_panel();
  core_design *d = build_ok("etrade ~ 1", p, CORE_DESIGN_FIT);
  cr_assert_eq(d->p, 1);
  cr_assert(d->has_intercept);
  cr_assert_str_eq(d->col_label[0], "(Intercept)");
  cr_assert_eq(d->col_kind[0], CORE_TERM_INTERCEPT);
  for (size_t i = 0; i < NROWS; i++)
    cr_assert_eq(gsl_matrix_get(d->X, i, 0), 1);
  core_design_free(d);
  d = build_ok("etrade ~ x + z - 1", p, CORE_DESIGN_FIT);
  cr_assert_eq(d->p, 2);
  cr_assert_not(d->has_intercept);
  cr_assert_str_eq(d->col_label[0], "x");
  cr_assert_eq(gsl_matrix_get(d->X, 5, 1), Z[5]);
  core_design_free(d);
  d = build_ok("etrade ~ 0 + I(2.5) + x", p, CORE_DESIGN_FIT);
  cr_assert_eq(gsl_matrix_get(d->X, 3, 0), 2.5);
  core_design_free(d);
  core_panel_free(p);
}

Test(formula_design, unknown_variable) {
  core_panel *p = make_panel();
  core_err err;
  cr_assert_eq(build_fails("log(etrade) ~ z + log(gdp_o*gdp_d)", p,
                           CORE_DESIGN_FIT, &err),
               CORE_EUNKNOWN_VAR);
  cr_assert_str_eq(err.name, "gdp_o");
  cr_assert_eq(err.pos, 22);
  cr_assert_str_eq(err.msg, "variable 'gdp_o' at position 22 is not a column "
                            "of the data");
  /* the response must exist in PREDICT mode too (add an all-missing column
   * when it is unknown) */
  cr_assert_eq(build_fails("log(flow) ~ z", p, CORE_DESIGN_PREDICT, &err),
               CORE_EUNKNOWN_VAR);
  cr_assert_str_eq(err.name, "flow");
  cr_assert_eq(err.pos, 4);
  core_panel_free(p);
}

Test(formula_design, string_keys_are_not_numbers) {
  core_panel *p = make_panel();
  const char *rep[NROWS] = {"CHN", "CHN", "CHN", "CHN", "CHN", "CHN"};
  core_panel_set_keys(p, rep, NULL, NULL, NULL);
  core_err err;
  cr_assert_eq(build_fails("etrade ~ z + reporter", p, CORE_DESIGN_FIT, &err),
               CORE_EUNKNOWN_VAR);
  cr_assert_str_eq(err.name, "reporter");
  cr_assert_eq(err.pos, 13);
  cr_assert_not_null(strstr(err.msg, "is a string key"), "%s", err.msg);
  cr_assert_eq(build_fails("etrade ~ I(partner*2)", p, CORE_DESIGN_FIT, &err),
               CORE_EUNKNOWN_VAR);
  cr_assert_str_eq(err.name, "partner");
  cr_assert_not_null(strstr(err.msg, "after '|'"), "%s", err.msg);
  core_panel_free(p);
}

Test(formula_design, year_is_numeric_with_a_year_key) {
  core_panel *p = make_panel();
  core_err err;
  cr_assert_eq(build_fails("etrade ~ year", p, CORE_DESIGN_FIT, &err),
               CORE_EUNKNOWN_VAR);
  cr_assert_str_eq(err.name, "year");
  cr_assert_not_null(strstr(err.msg, "no year key"), "%s", err.msg);
  const int years[NROWS] = {2015, 2016, 2017, 2018, 2019, 2020};
  core_panel_set_keys(p, NULL, NULL, years, NULL);
  core_design *d =
      build_ok("etrade ~ year + I(year - 2015)", p, CORE_DESIGN_FIT);
  for (size_t i = 0; i < NROWS; i++) {
    cr_assert_eq(gsl_matrix_get(d->X, i, 1), (double)years[i]);
    cr_assert_eq(gsl_matrix_get(d->X, i, 2), (double)(years[i] - 2015));
  }
  core_design_free(d);
  core_panel_free(p);
}

Test(formula_design, fixed_effects_are_not_supported_yet) {
  core_panel *p = make_panel();
  const char *rep[NROWS] = {"CHN", "CHN", "CHN", "CHN", "CHN", "CHN"};
  const int years[NROWS] = {2015, 2016, 2017, 2018, 2019, 2020};
  core_err err;
  /* unknown fixed-effect variables are reported first */
  cr_assert_eq(build_fails("etrade ~ z | reporter", p, CORE_DESIGN_FIT, &err),
               CORE_EUNKNOWN_VAR);
  cr_assert_str_eq(err.name, "reporter");
  cr_assert_eq(err.pos, 13);
  core_panel_set_keys(p, rep, NULL, years, NULL);
  cr_assert_eq(
      build_fails("etrade ~ z | reporter^year", p, CORE_DESIGN_FIT, &err),
      CORE_ENOTSUP);
  cr_assert_not_null(strstr(err.msg, "reporter^year"), "%s", err.msg);
  cr_assert_eq(build_fails("etrade ~ z | partner", p, CORE_DESIGN_FIT, &err),
               CORE_EUNKNOWN_VAR);
  cr_assert_str_eq(err.name, "partner");
  core_panel_free(p);
}

/* The fixed-effect design: the formula's factors are accepted, the constant
 * is absorbed (no intercept column), and rows missing a factor's variable
 * are dropped like rows missing a regressor. */
Test(formula_design, fixed_effects_design_for_absorbing_estimators) {
  core_panel *p = make_panel();
  const char *rep[NROWS] = {"CHN", "CHN", NULL, "CHN", "USA", "USA"};
  const int years[NROWS] = {2015, 2016, 2017, 2018, 2019, 2020};
  cr_assert_eq(core_panel_set_keys(p, rep, NULL, years, NULL), CORE_OK);
  core_formula *f = parse_ok("log(etrade) ~ a + z | reporter + year");
  core_design *d = NULL;
  core_err err;
  cr_assert_eq(core_design_build_fe(f, p, CORE_DESIGN_FIT, &d, &err), CORE_OK,
               "%s", err.msg);
  cr_assert_eq(d->p, 2u);
  cr_assert_not(d->has_intercept);
  cr_assert_str_eq(d->col_label[0], "a");
  cr_assert_str_eq(d->col_label[1], "z");
  cr_assert_eq(d->n, NROWS - 1);
  cr_assert_eq(d->n_missing, 1u);
  for (size_t i = 0; i < d->n; i++)
    cr_assert_neq(d->row[i], 2u, "the row without a reporter is dropped");
  cr_assert_eq(gsl_matrix_get(d->X, 2, 0), A[3]);
  cr_assert_eq(gsl_vector_get(d->y, 2), log(Y[3]));
  core_design_free(d);
  /* Without fixed effects it is the ordinary design. */
  core_formula_free(f);
  f = parse_ok("log(etrade) ~ z");
  cr_assert_eq(core_design_build_fe(f, p, CORE_DESIGN_PREDICT, &d, &err),
               CORE_OK);
  cr_assert(d->has_intercept);
  cr_assert_eq(d->n, NROWS);
  core_design_free(d);
  core_formula_free(f);
  core_panel_free(p);
}

Test(formula_design, too_few_rows) {
  core_panel *p = make_panel();
  for (size_t i = 0; i < NROWS; i++)
    p->cols[core_panel_find(p, i % 2 ? "x" : "etrade")][i] = NAN;
  core_err err;
  cr_assert_eq(build_fails("etrade ~ x", p, CORE_DESIGN_FIT, &err),
               CORE_ETOOFEW);
  cr_assert_str_eq(err.msg, "no complete row: all 6 rows have a missing value "
                            "(etrade: 3 missing, x: 3 missing)");
  /* PREDICT only needs x: three rows remain */
  core_design *d = build_ok("etrade ~ x", p, CORE_DESIGN_PREDICT);
  cr_assert_eq(d->n, 3);
  cr_assert_eq(d->n_missing, 3);
  cr_assert(isnan(gsl_vector_get(d->y, 0)));
  core_design_free(d);
  core_panel_free(p);
  core_panel *e = core_panel_alloc(0);
  core_panel_add_column(e, "y", NULL, NULL, NULL);
  cr_assert_eq(build_fails("y ~ 1", e, CORE_DESIGN_FIT, &err), CORE_ETOOFEW);
  cr_assert_str_eq(err.msg, "the data has no rows");
  core_panel_free(e);
}

Test(formula_design, invalid_arguments) {
  core_panel *p = make_panel();
  core_formula *f = parse_ok("etrade ~ x");
  core_design *d = NULL;
  core_err err;
  cr_assert_eq(core_design_build(NULL, p, CORE_DESIGN_FIT, &d, &err),
               CORE_EINVAL);
  cr_assert_eq(core_design_build(f, NULL, CORE_DESIGN_FIT, &d, &err),
               CORE_EINVAL);
  cr_assert_eq(core_design_build(f, p, CORE_DESIGN_FIT, NULL, &err),
               CORE_EINVAL);
  cr_assert_eq(core_design_build(f, p, (core_design_mode)7, &d, &err),
               CORE_EINVAL);
  cr_assert_null(d);
  /* a NULL err is allowed */
  cr_assert_eq(core_design_build(f, p, CORE_DESIGN_FIT, &d, NULL), CORE_OK);
  core_design_free(d);
  core_formula_free(f);
  core_panel_free(p);
}

Test(formula_design, deep_and_wide_expressions) {
  core_panel *p = make_panel();
  /* a long left-deep sum and a balanced tree of products */
  char buf[2048];
  size_t k = (size_t)snprintf(buf, sizeof buf, "etrade ~ I(a");
  for (int i = 0; i < 200; i++)
    k += (size_t)snprintf(buf + k, sizeof buf - k, " + a");
  snprintf(buf + k, sizeof buf - k,
           ") + I(((a + b)*(x + z))*((a - b)*(x - z)))");
  core_design *d = build_ok(buf, p, CORE_DESIGN_FIT);
  for (size_t i = 0; i < NROWS; i++) {
    double s = A[i];
    for (int j = 0; j < 200; j++)
      s += A[i];
    cr_assert_eq(gsl_matrix_get(d->X, i, 1), s);
    cr_assert_eq(gsl_matrix_get(d->X, i, 2),
                 ((A[i] + B[i]) * (X[i] + Z[i])) *
                     ((A[i] - B[i]) * (X[i] - Z[i])));
  }
  core_design_free(d);
  core_panel_free(p);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A design of a million rows is built correctly; the time is logged, not
 * asserted (speed is measured by the benchmarks in tests/bench/). */
Test(formula_design, million_rows_eight_terms, .timeout = 120) {
  size_t n = 1000000;
  core_panel *p = core_panel_alloc(n);
  double *v = malloc(n * sizeof *v);
  cr_assert_not_null(v);
  const char *names[6] = {"etrade", "gdp_o", "gdp_d", "dist", "cbec", "pop"};
  for (size_t j = 0; j < 6; j++) {
    for (size_t i = 0; i < n; i++)
      v[i] = 1.0 + (double)((i * 2654435761u + j * 97) % 100003) * 0.731;
    if (j == 1) v[17] = NAN;
    cr_assert_eq(core_panel_add_column(p, names[j], v, NULL, NULL), CORE_OK);
  }
  free(v);
  core_formula *f =
      parse_ok("log(etrade) ~ log(gdp_o*gdp_d) + log(dist) + cbec + log(pop) + "
               "I(cbec^2) + log(dist):cbec + sqrt(pop) + log1p(gdp_o/gdp_d)");
  core_design *d = NULL;
  core_err err;
  double t0 = now();
  core_status st = core_design_build(f, p, CORE_DESIGN_FIT, &d, &err);
  double dt = now() - t0;
  cr_assert_eq(st, CORE_OK, "%s", err.msg);
  cr_assert_eq(d->n, n - 1);
  cr_assert_eq(d->p, 9);
  cr_assert_eq(d->row[17], 18);
  const double *go = core_panel_column(p, "gdp_o");
  const double *gd = core_panel_column(p, "gdp_d");
  cr_assert_eq(gsl_matrix_get(d->X, 500000, 1),
               log(go[d->row[500000]] * gd[d->row[500000]]));
  cr_log_info("design build, n = 1e6, 9 columns: %.3f s", dt);
  core_design_free(d);
  core_formula_free(f);
  core_panel_free(p);
}
