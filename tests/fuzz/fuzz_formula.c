/* libFuzzer entry point for the formula parser (core/core_formula.c): every
 * input, taken as a NUL-terminated string, must parse or be refused without
 * crashing, leaking or reading past its end. An accepted formula
 * round-trips: its normalised text (core_formula_text) parses again to the
 * same text, terms, fixed effects and intercept. It is then built into
 * design matrices over a small fixed panel in every mode; a built design
 * has finite cells, its labels, and rows within the panel. Built by
 * tests/fuzz/CMakeLists.txt (make fuzz). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "core_formula.h"
#include "core_panel.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NROW 7
static core_panel *panel;

/* Variables a formula is likely to name: gravity-model names, short ones the
 * fuzzer finds quickly, and columns with a missing value, a zero, negative
 * values and huge values (the domain and overflow paths). */
static const struct {
  const char *name;
  double v[NROW];
} columns[] = {
    {"y", {1.25, 2.375, 3.0625, 4.4375, 5.53125, 6.71875, 7.84375}},
    {"x", {0.5, -1.75, 2.125, 3.3125, -4.40625, 5.546875, 6.6015625}},
    {"z", {10.1, 11.3, 9.7, 12.9, 13.1, 8.3, 14.7}},
    {"a", {2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5}},
    {"b", {1.1, 2.2, 3.3, 4.4, 5.5, 6.6, 7.7}},
    {"w", {1.5, NAN, 2.5, 3.5, NAN, 4.5, 5.5}},
    {"n", {-1.5, -2.5, -3.5, -4.5, -5.5, -6.5, -7.5}},
    {"o", {0.0, 1.0, 0.0, 2.0, 0.0, 3.0, 0.0}},
    {"h", {1e300, 2e300, 3e300, 4e300, 5e300, 6e300, 7e300}},
    {"etrade",
     {1234.5678, 2345.6789, 3456.789, 4567.891, 5678.912, 6789.123, 7891.234}},
    {"gdp_r", {6.19e12, 7.67e12, 8.53e12, 9.57e12, 1.04e13, 1.10e13, 1.12e13}},
    {"gdp_p", {1.48e11, 1.92e11, 2.08e11, 2.36e11, 2.21e11, 1.84e11, 1.37e11}},
    {"dist",
     {3655.658, 3655.658, 3655.658, 5811.211, 5811.211, 5811.211, 5811.211}},
    {"open_p", {74.13, 73.11, 72.25, 70.81, 69.93, 68.77, 67.52}},
};

static void build_panel(void) {
  panel = core_panel_alloc(NROW);
  if (panel == NULL) abort();
  core_err err;
  for (size_t j = 0; j < sizeof columns / sizeof columns[0]; j++)
    if (core_panel_add_column(panel, columns[j].name, columns[j].v, NULL,
                              &err) != CORE_OK)
      abort();
  static const char *const rep[NROW] = {"CHN", "CHN", "CHN", "USA",
                                        "USA", NULL,  "JPN"};
  static const char *const par[NROW] = {"KAZ", "KAZ", "RUS", "RUS",
                                        "KAZ", "KAZ", "RUS"};
  static const int year[NROW] = {2010, 2011, 2010, 2011, 2012, 2010, 2012};
  if (core_panel_set_keys(panel, rep, par, year, &err) != CORE_OK) abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  gsl_set_error_handler_off();
  build_panel();
  return 0;
}

static void same_structure(const core_formula *f, const core_formula *g) {
  if (strcmp(core_formula_text(f), core_formula_text(g)) != 0) abort();
  if (strcmp(core_formula_response_label(f), core_formula_response_label(g)) !=
      0)
    abort();
  if (core_formula_response_kind(f) != core_formula_response_kind(g)) abort();
  if (core_formula_has_intercept(f) != core_formula_has_intercept(g)) abort();
  size_t nt = core_formula_n_terms(f), nfe = core_formula_n_fe(f);
  if (nt != core_formula_n_terms(g) || nfe != core_formula_n_fe(g)) abort();
  for (size_t i = 0; i < nt; i++) {
    if (strcmp(core_formula_term_label(f, i), core_formula_term_label(g, i)))
      abort();
    if (core_formula_term_kind(f, i) != core_formula_term_kind(g, i)) abort();
  }
  for (size_t i = 0; i < nfe; i++)
    if (strcmp(core_formula_fe_label(f, i), core_formula_fe_label(g, i)))
      abort();
  size_t nv = core_formula_n_vars(f);
  if (nv != core_formula_n_vars(g)) abort();
  for (size_t i = 0; i < nv; i++)
    if (strcmp(core_formula_var(f, i), core_formula_var(g, i))) abort();
}

/* The accessors answer every index, out-of-range ones with NULL or -1. */
static void accessors(const core_formula *f, size_t len) {
  size_t nt = core_formula_n_terms(f), nv = core_formula_n_vars(f);
  if (core_formula_response_label(f) == NULL) abort();
  for (size_t i = 0; i < nt; i++)
    if (core_formula_term_label(f, i) == NULL) abort();
  for (size_t i = 0; i < core_formula_n_fe(f); i++)
    if (core_formula_fe_label(f, i) == NULL) abort();
  for (size_t i = 0; i < nv; i++) {
    const char *v = core_formula_var(f, i);
    int pos = core_formula_var_pos(f, i);
    if (v == NULL || strlen(v) == 0 || strlen(v) > CORE_NAME_MAX) abort();
    if (pos < 0 || (size_t)pos >= len) abort();
  }
  if (core_formula_term_label(f, nt) != NULL ||
      core_formula_term_kind(f, nt) != CORE_TERM_INTERCEPT ||
      core_formula_fe_label(f, core_formula_n_fe(f)) != NULL ||
      core_formula_var(f, nv) != NULL || core_formula_var_pos(f, nv) != -1)
    abort();
}

static void design(const core_formula *f, bool fe, core_design_mode mode) {
  core_design *d = NULL;
  core_err err;
  core_err_clear(&err);
  core_status st = fe ? core_design_build_fe(f, panel, mode, &d, &err)
                      : core_design_build(f, panel, mode, &d, &err);
  if (st != CORE_OK) {
    if (d != NULL || err.code != st) abort();
    if (err.n_rows > CORE_ERR_MAX_ROWS) abort();
    for (size_t k = 0; k < err.n_rows; k++)
      if (err.rows[k] >= NROW) abort();
    return;
  }
  if (d == NULL || d->n == 0 || d->n + d->n_missing != NROW) abort();
  if (d->X->size1 != d->n || d->X->size2 != d->p || d->y->size != d->n) abort();
  size_t terms = core_formula_n_terms(f);
  if (d->p != terms + (d->has_intercept ? 1 : 0)) abort();
  for (size_t i = 0; i < d->n; i++) {
    if (d->row[i] >= NROW || (i > 0 && d->row[i] <= d->row[i - 1])) abort();
    for (size_t j = 0; j < d->p; j++)
      if (!isfinite(gsl_matrix_get(d->X, i, j))) abort();
    if (mode == CORE_DESIGN_FIT && !isfinite(gsl_vector_get(d->y, i))) abort();
  }
  for (size_t j = 0; j < d->p; j++)
    if (d->col_label[j] == NULL) abort();
  core_design_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (text == NULL) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  size_t len = strlen(text);

  core_formula *f = NULL;
  core_err err;
  core_err_clear(&err);
  core_status st = core_formula_parse(text, &f, &err);
  if (st != CORE_OK) {
    if (f != NULL || err.code != st) abort();
    if (st == CORE_EPARSE && (err.pos < 0 || (size_t)err.pos > len)) abort();
    if (st != CORE_EPARSE && st != CORE_EINVAL && st != CORE_ENOMEM) abort();
    free(text);
    return 0;
  }
  if (f == NULL) abort();
  accessors(f, len);

  /* The normalised text parses to the same formula. */
  const char *norm = core_formula_text(f);
  if (norm == NULL) abort();
  if (strlen(norm) <= CORE_FORMULA_MAX_LEN) {
    core_formula *g = NULL;
    if (core_formula_parse(norm, &g, &err) != CORE_OK || g == NULL) abort();
    same_structure(f, g);
    core_formula_free(g);
  }

  design(f, false, CORE_DESIGN_FIT);
  design(f, false, CORE_DESIGN_PREDICT);
  design(f, true, CORE_DESIGN_FIT);
  design(f, true, CORE_DESIGN_PREDICT);
  core_formula_free(f);
  free(text);
  return 0;
}
