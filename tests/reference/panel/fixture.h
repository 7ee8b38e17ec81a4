/* Test helper (header-only, for tests/core/test_{hdfe,fe,re}.c): loads
 * data.csv into a core_panel (reporter, partner, year keys and the numeric
 * columns) and looks up R's reference values in values.csv. */
#ifndef GRAVITAS_TESTS_PANEL_FIXTURE_H
#define GRAVITAS_TESTS_PANEL_FIXTURE_H

#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_panel.h"

#define PANEL_DIR GRAVITAS_SOURCE_DIR "/tests/reference/panel/"
#define PANEL_MAXROWS 8000
#define PANEL_NUM 7

static const char *const panel_num_names[PANEL_NUM] = {
    "lgdp_o", "lgdp_d", "ldist", "band", "rta", "ltrade", "pair"};

static core_panel *panel_load(void) {
  FILE *f = fopen(PANEL_DIR "data.csv", "r");
  cr_assert_not_null(f, "cannot open data.csv");
  static char rep[PANEL_MAXROWS][8], par[PANEL_MAXROWS][8];
  static const char *reps[PANEL_MAXROWS], *pars[PANEL_MAXROWS];
  static int yr[PANEL_MAXROWS];
  static double num[PANEL_NUM][PANEL_MAXROWS];
  char line[512];
  cr_assert_not_null(fgets(line, sizeof line, f));
  size_t n = 0;
  while (fgets(line, sizeof line, f)) {
    cr_assert_lt(n, PANEL_MAXROWS);
    char *s = line, *end;
    char *c1 = strchr(s, ',');
    cr_assert_not_null(c1);
    *c1 = '\0';
    snprintf(rep[n], sizeof rep[n], "%.7s", s);
    s = c1 + 1;
    char *c2 = strchr(s, ',');
    cr_assert_not_null(c2);
    *c2 = '\0';
    snprintf(par[n], sizeof par[n], "%.7s", s);
    s = c2 + 1;
    long y = strtol(s, &end, 10);
    cr_assert(end != s && *end == ',');
    yr[n] = (int)y;
    s = end + 1;
    /* file order: lgdp_o,lgdp_d,ldist,band,rta,ltrade,pair */
    for (int j = 0; j < PANEL_NUM; j++) {
      num[j][n] = strtod(s, &end);
      cr_assert(end != s);
      s = end + 1;
    }
    reps[n] = rep[n];
    pars[n] = par[n];
    n++;
  }
  fclose(f);
  core_panel *p = core_panel_alloc(n);
  cr_assert_not_null(p);
  for (int j = 0; j < PANEL_NUM; j++)
    cr_assert_eq(
        core_panel_add_column(p, panel_num_names[j], num[j], NULL, NULL),
        CORE_OK);
  cr_assert_eq(core_panel_set_keys(p, reps, pars, yr, NULL), CORE_OK);
  return p;
}

/* R's value for (model, vcov, stat, term); fails the test when absent. */
static double ref_value(const char *model, const char *vcov, const char *stat,
                        const char *term) {
  FILE *f = fopen(PANEL_DIR "values.csv", "r");
  cr_assert_not_null(f, "cannot open values.csv");
  char line[512], key[256];
  snprintf(key, sizeof key, "%s,%s,%s,%s,", model, vcov, stat, term);
  size_t kl = strlen(key);
  double v = NAN;
  bool found = false;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, key, kl) == 0) {
      char *end;
      errno = 0;
      v = strtod(line + kl, &end);
      found = end != line + kl;
      break;
    }
  }
  fclose(f);
  cr_assert(found, "no reference value %s", key);
  return v;
}

/* Asserts got ~ want to rel relative and returns the digits achieved. */
__attribute__((unused)) static double check_rel(const char *what, double got,
                                                double want, double rel) {
  double err = fabs(got - want) / fmax(fabs(want), 1e-300);
  double digits = err > 0 ? -log10(err) : 17.0;
  cr_assert(err <= rel, "%s: got %.17g, R %.17g (rel err %.3g)", what, got,
            want, err);
  return digits;
}

#endif
