/* Tests of the panel column store (core/core_panel.h): names, columns,
 * keys, entity labels and missing counts. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/core_panel.h"

Test(panel, alloc_sets_sizes_and_free_null_is_noop) {
  core_panel *p = core_panel_alloc(7);
  cr_assert_not_null(p);
  cr_assert_eq(p->n, 7);
  cr_assert_eq(p->ncol, 0);
  cr_assert_null(p->reporter);
  cr_assert_null(p->partner);
  cr_assert_null(p->year);
  cr_assert_null(p->year_values);
  core_panel_free(p);
  core_panel_free(NULL);
  core_panel *e = core_panel_alloc(0);
  cr_assert_not_null(e);
  cr_assert_eq(e->n, 0);
  core_panel_free(e);
}

Test(panel, alloc_refuses_overflowing_sizes) {
  cr_assert_null(core_panel_alloc(SIZE_MAX));
}

Test(panel, valid_names) {
  cr_assert(core_panel_valid_name("gdp"));
  cr_assert(core_panel_valid_name("gdp_o.2019"));
  cr_assert(core_panel_valid_name("_x"));
  cr_assert(core_panel_valid_name(".hidden"));
  cr_assert(core_panel_valid_name("Year")); /* case matters */
  char name64[65];
  memset(name64, 'a', 64);
  name64[64] = '\0';
  cr_assert(core_panel_valid_name(name64));
}

Test(panel, invalid_names) {
  cr_assert_not(core_panel_valid_name(NULL));
  cr_assert_not(core_panel_valid_name(""));
  cr_assert_not(core_panel_valid_name("1gdp"));
  cr_assert_not(core_panel_valid_name("gdp-o"));
  cr_assert_not(core_panel_valid_name("gdp o"));
  cr_assert_not(core_panel_valid_name("g\xc3\xa9o"));
  cr_assert_not(core_panel_valid_name("reporter"));
  cr_assert_not(core_panel_valid_name("partner"));
  cr_assert_not(core_panel_valid_name("year"));
  char name65[66];
  memset(name65, 'a', 65);
  name65[65] = '\0';
  cr_assert_not(core_panel_valid_name(name65));
}

Test(panel, add_column_copies_and_maps_inf_to_nan) {
  core_panel *p = core_panel_alloc(4);
  double v[4] = {1234.5678901234567, INFINITY, -0.000314159265358979,
                 -INFINITY};
  core_err err;
  size_t idx = 99;
  cr_assert_eq(core_panel_add_column(p, "gdp", v, &idx, &err), CORE_OK);
  cr_assert_eq(err.code, CORE_OK);
  cr_assert_eq(idx, 0);
  v[0] = 0.0; /* the panel owns a copy */
  cr_assert_eq(p->cols[0][0], 1234.5678901234567);
  cr_assert(isnan(p->cols[0][1]));
  cr_assert_eq(p->cols[0][2], -0.000314159265358979);
  cr_assert(isnan(p->cols[0][3]));
  cr_assert_str_eq(p->names[0], "gdp");
  cr_assert_eq(core_panel_missing(p, 0), 2);
  core_panel_free(p);
}

Test(panel, add_column_null_values_is_all_missing) {
  core_panel *p = core_panel_alloc(3);
  size_t idx = 0;
  cr_assert_eq(
      core_panel_add_column(p, "a", (double[]){1.5, 2.5, 3.5}, NULL, NULL),
      CORE_OK);
  cr_assert_eq(core_panel_add_column(p, "b", NULL, &idx, NULL), CORE_OK);
  cr_assert_eq(idx, 1);
  for (size_t i = 0; i < 3; i++)
    cr_assert(isnan(p->cols[1][i]));
  cr_assert_eq(core_panel_missing(p, 1), 3);
  cr_assert_eq(core_panel_missing(p, 0), 0);
  core_panel_free(p);
}

Test(panel, add_many_columns_grows) {
  core_panel *p = core_panel_alloc(2);
  char name[16];
  for (int j = 0; j < 40; j++) {
    snprintf(name, sizeof name, "v%d", j);
    double v[2] = {j + 0.125, -j - 0.375};
    cr_assert_eq(core_panel_add_column(p, name, v, NULL, NULL), CORE_OK);
  }
  cr_assert_eq(p->ncol, 40);
  cr_assert_eq(core_panel_find(p, "v37"), 37);
  cr_assert_eq(core_panel_column(p, "v37")[1], -37.375);
  core_panel_free(p);
}

Test(panel, add_column_on_empty_panel) {
  core_panel *p = core_panel_alloc(0);
  cr_assert_eq(core_panel_add_column(p, "x", NULL, NULL, NULL), CORE_OK);
  cr_assert_not_null(core_panel_column(p, "x"));
  cr_assert_eq(core_panel_missing(p, 0), 0);
  core_panel_free(p);
}

Test(panel, add_column_duplicate_name) {
  core_panel *p = core_panel_alloc(1);
  core_err err;
  cr_assert_eq(core_panel_add_column(p, "gdp", NULL, NULL, &err), CORE_OK);
  cr_assert_eq(core_panel_add_column(p, "gdp", NULL, NULL, &err), CORE_EINVAL);
  cr_assert_eq(err.code, CORE_EINVAL);
  cr_assert_str_eq(err.name, "gdp");
  cr_assert_not_null(strstr(err.msg, "duplicate column name 'gdp'"), "%s",
                     err.msg);
  cr_assert_eq(p->ncol, 1);
  core_panel_free(p);
}

Test(panel, add_column_invalid_name) {
  core_panel *p = core_panel_alloc(1);
  core_err err;
  cr_assert_eq(core_panel_add_column(p, "9lives", NULL, NULL, &err),
               CORE_EINVAL);
  cr_assert_str_eq(err.name, "9lives");
  cr_assert_not_null(strstr(err.msg, "invalid column name '9lives'"), "%s",
                     err.msg);
  cr_assert_eq(core_panel_add_column(p, "year", NULL, NULL, &err), CORE_EINVAL);
  cr_assert_not_null(strstr(err.msg, "reserved"), "%s", err.msg);
  cr_assert_eq(core_panel_add_column(p, "", NULL, NULL, &err), CORE_EINVAL);
  cr_assert_eq(core_panel_add_column(p, NULL, NULL, NULL, &err), CORE_EINVAL);
  cr_assert_eq(core_panel_add_column(NULL, "x", NULL, NULL, &err), CORE_EINVAL);
  cr_assert_eq(p->ncol, 0);
  core_panel_free(p);
}

Test(panel, find_and_column) {
  core_panel *p = core_panel_alloc(2);
  cr_assert_eq(core_panel_add_column(p, "a", (double[]){0.5, 1.25}, NULL, NULL),
               CORE_OK);
  cr_assert_eq(
      core_panel_add_column(p, "b", (double[]){-7.75, 8.0625}, NULL, NULL),
      CORE_OK);
  cr_assert_eq(core_panel_find(p, "a"), 0);
  cr_assert_eq(core_panel_find(p, "b"), 1);
  cr_assert_eq(core_panel_find(p, "c"), -1);
  cr_assert_eq(core_panel_find(p, "year"), -1); /* no year key */
  cr_assert_eq(core_panel_find(NULL, "a"), -1);
  cr_assert_eq(core_panel_find(p, NULL), -1);
  cr_assert_eq(core_panel_column(p, "b")[0], -7.75);
  cr_assert_null(core_panel_column(p, "c"));
  cr_assert_null(core_panel_column(p, "year"));
  cr_assert_null(core_panel_column(NULL, "a"));
  core_panel_free(p);
}

Test(panel, set_keys_copies_and_fills_year_values) {
  core_panel *p = core_panel_alloc(3);
  char r0[] = "CHN";
  const char *rep[3] = {r0, "CHN", NULL};
  const char *par[3] = {"KAZ", "UZB", "KGZ"};
  int year[3] = {2019, 2020, 2021};
  core_err err;
  cr_assert_eq(core_panel_set_keys(p, rep, par, year, &err), CORE_OK);
  r0[0] = 'X';
  year[0] = 1900;
  cr_assert_str_eq(p->reporter[0], "CHN");
  cr_assert_null(p->reporter[2]);
  cr_assert_str_eq(p->partner[1], "UZB");
  cr_assert_eq(p->year[0], 2019);
  cr_assert_eq(p->year_values[2], 2021.0);
  /* "year" resolves to the key as doubles, at the virtual index ncol. */
  cr_assert_eq(core_panel_find(p, "year"), (long)p->ncol);
  const double *yv = core_panel_column(p, "year");
  cr_assert_not_null(yv);
  cr_assert_eq(yv[1], 2020.0);
  cr_assert_eq(core_panel_missing(p, p->ncol), 0);
  core_panel_free(p);
}

Test(panel, set_keys_replaces_earlier_keys) {
  core_panel *p = core_panel_alloc(2);
  const char *rep[2] = {"CHN", "CHN"};
  cr_assert_eq(core_panel_set_keys(p, rep, NULL, (int[]){2001, 2002}, NULL),
               CORE_OK);
  const char *par[2] = {"KAZ", "TJK"};
  cr_assert_eq(core_panel_set_keys(p, NULL, par, NULL, NULL), CORE_OK);
  cr_assert_null(p->reporter);
  cr_assert_null(p->year);
  cr_assert_null(p->year_values);
  cr_assert_str_eq(p->partner[1], "TJK");
  cr_assert_null(core_panel_column(p, "year"));
  core_panel_free(p);
}

Test(panel, set_keys_rejects_empty_string_and_keeps_old_keys) {
  core_panel *p = core_panel_alloc(3);
  const char *rep[3] = {"CHN", "CHN", "CHN"};
  cr_assert_eq(core_panel_set_keys(p, rep, NULL, NULL, NULL), CORE_OK);
  const char *bad[3] = {"KAZ", "UZB", ""};
  core_err err;
  cr_assert_eq(core_panel_set_keys(p, rep, bad, (int[]){1, 2, 3}, &err),
               CORE_EINVAL);
  cr_assert_str_eq(err.name, "partner");
  cr_assert_eq(err.n_rows, 1);
  cr_assert_eq(err.rows[0], 2);
  cr_assert_not_null(strstr(err.msg, "empty partner key in row 2"), "%s",
                     err.msg);
  cr_assert_str_eq(p->reporter[0], "CHN");
  cr_assert_null(p->partner);
  cr_assert_null(p->year);
  cr_assert_eq(core_panel_set_keys(p, bad, NULL, NULL, &err), CORE_EINVAL);
  cr_assert_str_eq(err.name, "reporter");
  cr_assert_eq(core_panel_set_keys(NULL, rep, NULL, NULL, &err), CORE_EINVAL);
  core_panel_free(p);
}

Test(panel, is_longitudinal) {
  core_panel *p = core_panel_alloc(1);
  const char *k[1] = {"CHN"};
  int y[1] = {2020};
  cr_assert_not(core_panel_is_longitudinal(p));
  cr_assert_not(core_panel_is_longitudinal(NULL));
  core_panel_set_keys(p, k, NULL, NULL, NULL);
  cr_assert_not(core_panel_is_longitudinal(p));
  core_panel_set_keys(p, NULL, NULL, y, NULL);
  cr_assert_not(core_panel_is_longitudinal(p));
  core_panel_set_keys(p, k, NULL, y, NULL);
  cr_assert(core_panel_is_longitudinal(p));
  core_panel_set_keys(p, NULL, k, y, NULL);
  cr_assert(core_panel_is_longitudinal(p));
  core_panel_free(p);
}

Test(panel, entity_labels) {
  core_panel *p = core_panel_alloc(2);
  char buf[32];
  cr_assert_str_eq(core_panel_entity(p, 0, buf, sizeof buf), "");
  const char *rep[2] = {"CHN", NULL};
  const char *par[2] = {"KAZ", "UZB"};
  core_panel_set_keys(p, rep, par, NULL, NULL);
  cr_assert_eq(core_panel_entity(p, 0, buf, sizeof buf), buf);
  cr_assert_str_eq(buf, "CHN-KAZ");
  cr_assert_str_eq(core_panel_entity(p, 1, buf, sizeof buf), "NA-UZB");
  cr_assert_str_eq(core_panel_entity(p, 2, buf, sizeof buf), "");
  char small[5];
  cr_assert_str_eq(core_panel_entity(p, 0, small, sizeof small), "CHN-");
  cr_assert_null(core_panel_entity(p, 0, NULL, 8));
  char one[1] = {'z'};
  core_panel_entity(p, 0, one, 0);
  cr_assert_eq(one[0], 'z'); /* bufsz 0: nothing written */
  core_panel_set_keys(p, rep, NULL, NULL, NULL);
  cr_assert_str_eq(core_panel_entity(p, 0, buf, sizeof buf), "CHN");
  core_panel_set_keys(p, NULL, par, NULL, NULL);
  cr_assert_str_eq(core_panel_entity(p, 1, buf, sizeof buf), "UZB");
  cr_assert_str_eq(core_panel_entity(NULL, 0, buf, sizeof buf), "");
  core_panel_free(p);
}

Test(panel, missing_out_of_range_is_zero) {
  core_panel *p = core_panel_alloc(2);
  cr_assert_eq(core_panel_missing(p, 0), 0);
  cr_assert_eq(core_panel_missing(NULL, 0), 0);
  core_panel_free(p);
}
