/* Model formulas, R/fixest style, and the design matrices built from them.
 *
 * Grammar (whitespace is free; positions are 0-based byte offsets):
 *   formula  := response '~' rhs [ '|' fe_list ]
 *   response := expr                       e.g. log(etrade), y, log1p(x)
 *   rhs      := ['0' '+' | '1' '+'] term { ('+' | '-') term }   ("- 1",
 *               "+ 0" or a leading "0 +" remove the intercept; "+ 1" keeps it)
 *   term     := factor { ':' factor }      a:b is the product a*b (interaction)
 *   factor   := NAME | func '(' expr ')'
 *   func     := log | log1p | exp | sqrt | I
 *   expr     := arithmetic over NAMEs and numbers with + - * / ^ and
 *               parentheses, plus nested func calls: log(a*b), log(a/b),
 *               I(x^2), log(gdp_o * gdp_d)
 *   fe_list  := fe { '+' fe },  fe := NAME { '^' NAME }   (e.g. reporter^year)
 *
 * Term labels are the normalised source text: single spaces around binary
 * + - and none elsewhere inside calls, e.g. "log(a*b)", "I(x^2)", "a:b". The
 * intercept's label is "(Intercept)". Duplicate terms are an error (a:b and
 * b:a are the same term; x:x is an error too: write I(x^2)).
 *
 * Details: as in R, the last of "0", "1" and "- 1" decides the intercept
 * ("y ~ x - 1 + 1" keeps it); '-' before anything but 1 is CORE_EPARSE.
 * Numbers are digits with an optional decimal part and exponent (1e3, .5).
 * In expressions -x^2 is -(x^2) and ^ is right-associative. Nesting deeper
 * than 100 levels is CORE_EPARSE. Names are at most CORE_NAME_MAX bytes.
 * Row numbers in messages ("first: row 4") are 0-based panel rows, the same
 * numbers as err->rows. */
#ifndef GRAVITAS_CORE_FORMULA_H
#define GRAVITAS_CORE_FORMULA_H

#include <stdbool.h>
#include <stddef.h>

#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "core_err.h"
#include "core_panel.h"

#define CORE_FORMULA_MAX_LEN 4096 /* longest formula text accepted, bytes */

typedef struct core_formula core_formula; /* opaque, immutable once parsed */

/* How a regressor (or the response) enters: used for effects and for the
 * retransformation of predictions. */
typedef enum core_term_kind {
  CORE_TERM_INTERCEPT,  /* the constant */
  CORE_TERM_LOG,        /* log(expr): coefficient is an elasticity */
  CORE_TERM_LOG1P,      /* log1p(expr): elasticity of (1 + expr) */
  CORE_TERM_LEVEL,      /* a plain variable or I()/exp()/sqrt() expression:
                           coefficient is a semi-elasticity when y is in logs */
  CORE_TERM_INTERACTION /* a:b */
} core_term_kind;

/* Parses text. On success *out owns a new formula (free with
 * core_formula_free). On failure returns CORE_EPARSE (err->pos set, err->msg
 * says what was expected), CORE_EINVAL (empty, too long, duplicate term, no
 * regressor and no intercept) or CORE_ENOMEM; *out is NULL. */
core_status core_formula_parse(const char *text, core_formula **out,
                               core_err *err);
void core_formula_free(core_formula *f);

/* Normalised text of the whole formula, e.g. "log(y) ~ log(x) + z | year". */
const char *core_formula_text(const core_formula *f);

const char *core_formula_response_label(const core_formula *f);
/* CORE_TERM_LOG, CORE_TERM_LOG1P or CORE_TERM_LEVEL. */
core_term_kind core_formula_response_kind(const core_formula *f);

bool core_formula_has_intercept(const core_formula *f);
/* Regressor terms, in formula order, without the intercept. */
size_t core_formula_n_terms(const core_formula *f);
const char *core_formula_term_label(const core_formula *f, size_t i);
core_term_kind core_formula_term_kind(const core_formula *f, size_t i);

/* Fixed-effect factors after '|', e.g. "year", "reporter^year". */
size_t core_formula_n_fe(const core_formula *f);
const char *core_formula_fe_label(const core_formula *f, size_t i);

/* Distinct variable names the formula reads (response, terms and fixed
 * effects), in first-appearance order. */
size_t core_formula_n_vars(const core_formula *f);
const char *core_formula_var(const core_formula *f, size_t i);

/* Byte offset in the original text where variable i first appears.
 * Out-of-range i: labels and names are NULL, positions -1, and
 * core_formula_term_kind returns CORE_TERM_INTERCEPT. */
int core_formula_var_pos(const core_formula *f, size_t i);

typedef enum core_design_mode {
  CORE_DESIGN_FIT,    /* rows need the response and every regressor */
  CORE_DESIGN_PREDICT /* rows need every regressor; y may be NaN */
} core_design_mode;

/* A design matrix built from a formula over a panel. */
typedef struct core_design {
  size_t n;            /* rows used */
  size_t p;            /* columns, intercept first when present */
  gsl_matrix *X;       /* n x p */
  gsl_vector *y;       /* n, the transformed response (NaN allowed in PREDICT
                          mode where the response is missing or not > 0) */
  gsl_vector *y_level; /* n, the response's inner expression before its outer
                          log/log1p (the "actual" trade), NaN when missing */
  size_t *row;         /* n: panel row index of each design row */
  char **col_label;    /* p labels: "(Intercept)", then term labels */
  core_term_kind *col_kind; /* p kinds */
  size_t n_missing;         /* panel rows dropped for a missing value */
  bool has_intercept;
} core_design;

/* Builds the design. Evaluates every term over all rows at once (column-wise,
 * no allocation per row); rows where a needed value is missing (NaN) are
 * dropped and counted in n_missing. Variables used only as fixed effects
 * never drop rows. Errors:
 *   CORE_EINVAL        a NULL argument or an unknown mode;
 *   CORE_EUNKNOWN_VAR  a variable is not in the panel (err->name, err->pos),
 *                      including the response in PREDICT mode (give the
 *                      panel an all-missing column when it is unknown), and
 *                      "reporter"/"partner" used outside the '|' part;
 *   CORE_EDOMAIN       log() of a value <= 0, log1p() of a value <= -1,
 *                      sqrt() of a negative, on a row that is otherwise
 *                      complete (err->name = the variable when the argument
 *                      is a single variable, else the term label; err->rows =
 *                      the panel rows; err->pos = the start of the failing
 *                      subexpression). Also division by zero and results
 *                      that are not finite (exp overflow, (-8)^0.5, a product
 *                      that overflows). In PREDICT mode a bad response value
 *                      makes y NaN instead of failing (y_level too when the
 *                      inner expression itself fails);
 *   CORE_ENOTSUP       the formula has fixed effects (later issue; checked
 *                      after the variables, before any evaluation);
 *   CORE_ETOOFEW       no complete row (err->msg says how many were missing);
 *   CORE_ENOMEM.
 * On success *out is owned by the caller (core_design_free). */
core_status core_design_build(const core_formula *f, const core_panel *p,
                              core_design_mode mode, core_design **out,
                              core_err *err);
/* As core_design_build, for estimators that absorb the fixed effects after
 * '|': the formula may have them; rows where a factor's variable is missing
 * (a NULL reporter or partner, a NaN numeric factor) are dropped and counted
 * in n_missing like any other; and X has no intercept column when the
 * formula has fixed effects (they absorb the constant; has_intercept is
 * false then). The factors themselves are not in X: the caller builds them
 * from the panel rows d->row (core_factor_from_panel). */
core_status core_design_build_fe(const core_formula *f, const core_panel *p,
                                 core_design_mode mode, core_design **out,
                                 core_err *err);
void core_design_free(core_design *d);

#endif
