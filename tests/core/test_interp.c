/* Specification of core_interp_panel: linear interior filling in the year,
 * carrying to the ends (NEAREST), entities from any combination of keys,
 * rows in any order, the fill list, every error path, and a size that a
 * quadratic algorithm could not handle. Expected values are written out by
 * hand (x_u + (year - y_u) / (y_v - y_u) (x_v - x_u)). */
#include <criterion/criterion.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core_interp.h"

static core_panel *panel(size_t n, const char *const *rep,
                         const char *const *par, const int *year) {
  core_panel *p = core_panel_alloc(n);
  cr_assert_not_null(p);
  core_err err;
  cr_assert_eq(core_panel_set_keys(p, rep, par, year, &err), CORE_OK, "%s",
               err.msg);
  return p;
}

static size_t column(core_panel *p, const char *name, const double *v) {
  size_t j = 0;
  core_err err;
  cr_assert_eq(core_panel_add_column(p, name, v, &j, &err), CORE_OK, "%s",
               err.msg);
  return j;
}

static void near(double got, double want) {
  cr_assert(fabs(got - want) <= 1e-15 * fabs(want), "got %.17g want %.17g", got,
            want);
}

/* The item of the list for (row, col), or NULL. */
static const core_fill *item(const core_fill_list *l, size_t row, size_t col) {
  for (size_t i = 0; i < l->n; i++)
    if (l->items[i].row == row && l->items[i].col == col) return &l->items[i];
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* Filling                                                                */
/* ---------------------------------------------------------------------- */

Test(interp, linear_interior_gaps_in_the_year_rows_shuffled) {
  /* Two pairs, rows out of order, 2012 absent as a row for CHN-KAZ: the
   * 2011 and 2013 gaps lie 1/4 and 3/4 of the way from 2010 to 2014. */
  const char *rep[] = {"CHN", "CHN", "CHN", "CHN", "CHN",
                       "CHN", "CHN", "CHN", "CHN"};
  const char *par[] = {"KAZ", "KGZ", "KAZ", "KGZ", "KAZ",
                       "KAZ", "KGZ", "KGZ", "KAZ"};
  int year[] = {2014, 2011, 2010, 2010, 2013, 2011, 2012, 2013, 2015};
  double v[] = {
      2.71828182845905, NAN, 3.14159265358979, 1.41421356237310, NAN, NAN, NAN,
      1.73205080756888, NAN};
  core_panel *p = panel(9, rep, par, year);
  size_t c = column(p, "x", v);
  core_fill_list l = {0, 0, NULL};
  core_err err;
  cr_assert_eq(core_interp_panel(p, &c, 1, CORE_INTERP_LINEAR, &l, &err),
               CORE_OK, "%s", err.msg);
  /* CHN-KAZ 2011 = 3.14159265358979 + 0.25 (2.71828182845905 -
   * 3.14159265358979) = 3.035764947307105; 2013 (0.75 of the way) =
   * 2.824109534741735 (exact rational arithmetic, rounded). */
  near(p->cols[c][5], 3.035764947307105);
  near(p->cols[c][4], 2.824109534741735);
  /* CHN-KGZ 2011 = 1.4142135623731 + (1.73205080756888 - 1.4142135623731)
   * / 3 = 1.5201593107716933; 2012 = 1.6261050591702866. */
  near(p->cols[c][1], 1.5201593107716933);
  near(p->cols[c][6], 1.6261050591702866);
  /* The trailing 2015 gap is not extrapolated. */
  cr_assert(isnan(p->cols[c][8]));
  cr_assert_eq(l.n, 4);
  /* Items in (entity, year) order: KAZ 2011, 2013, KGZ 2011, 2012. */
  size_t rows[] = {5, 4, 1, 6};
  int years[] = {2011, 2013, 2011, 2012};
  for (size_t i = 0; i < 4; i++) {
    cr_assert_eq(l.items[i].row, rows[i]);
    cr_assert_eq(l.items[i].col, c);
    cr_assert_eq(l.items[i].year, years[i]);
    cr_assert_eq(l.items[i].value, p->cols[c][rows[i]]);
    cr_assert_eq(l.items[i].kind, CORE_FILL_INTERPOLATED);
  }
  /* Observed cells are untouched. */
  cr_assert_eq(p->cols[c][0], 2.71828182845905);
  cr_assert_eq(p->cols[c][7], 1.73205080756888);
  core_fill_list_clear(&l);
  cr_assert_null(l.items);
  cr_assert_eq(l.n, 0);
  core_panel_free(p);
}

Test(interp, nearest_carries_to_both_ends) {
  const char *rep[] = {"KAZ", "KAZ", "KAZ", "KAZ", "KAZ", "KAZ"};
  int year[] = {2010, 2011, 2012, 2013, 2014, 2015};
  double v[] = {NAN, NAN, 46.789, NAN, 52.125, NAN};
  core_panel *p = panel(6, rep, NULL, year);
  size_t c = column(p, "users", v);
  core_fill_list l = {0, 0, NULL};
  core_err err;
  cr_assert_eq(core_interp_panel(p, &c, 1, CORE_INTERP_NEAREST, &l, &err),
               CORE_OK);
  double want[] = {46.789, 46.789, 46.789, 49.457, 52.125, 52.125};
  core_fill_kind kind[] = {
      CORE_FILL_CARRIED, CORE_FILL_CARRIED, 0, CORE_FILL_INTERPOLATED, 0,
      CORE_FILL_CARRIED};
  for (size_t i = 0; i < 6; i++) {
    near(p->cols[c][i], want[i]);
    const core_fill *f = item(&l, i, c);
    if (i == 2 || i == 4) {
      cr_assert_null(f);
      continue;
    }
    cr_assert_not_null(f, "row %zu not listed", i);
    cr_assert_eq(f->kind, kind[i]);
    cr_assert_eq(f->year, year[i]);
    cr_assert_eq(f->value, p->cols[c][i]);
  }
  cr_assert_eq(l.n, 4);
  core_fill_list_clear(&l);
  core_panel_free(p);
}

Test(interp, linear_leaves_the_ends_and_empty_series_missing) {
  const char *rep[] = {"TJK", "TJK", "TJK", "TKM", "TKM"};
  int year[] = {2010, 2011, 2012, 2010, 2011};
  double v[] = {NAN, 3.5, NAN, NAN, NAN};
  core_panel *p = panel(5, rep, NULL, year);
  size_t c = column(p, "x", v);
  core_fill_list l = {0, 0, NULL};
  core_err err;
  for (int m = CORE_INTERP_LINEAR; m <= CORE_INTERP_NEAREST; m++) {
    cr_assert_eq(core_interp_panel(p, &c, 1, (core_interp_mode)m, &l, &err),
                 CORE_OK);
    /* TKM has no observed value: it stays missing, whatever the mode. */
    cr_assert(isnan(p->cols[c][3]) && isnan(p->cols[c][4]));
  }
  /* LINEAR filled nothing; NEAREST then carried 3.5 both ways. */
  cr_assert_eq(l.n, 2);
  cr_assert_eq(p->cols[c][0], 3.5);
  cr_assert_eq(p->cols[c][2], 3.5);
  core_fill_list_clear(&l);
  core_panel_free(p);
}

Test(interp, none_fills_nothing_even_without_a_year) {
  double v[] = {1.5, NAN, 2.5};
  core_panel *p = core_panel_alloc(3);
  size_t c = column(p, "x", v);
  core_fill_list l = {0, 0, NULL};
  core_err err;
  cr_assert_eq(core_interp_panel(p, &c, 1, CORE_INTERP_NONE, &l, &err),
               CORE_OK);
  cr_assert(isnan(p->cols[c][1]));
  cr_assert_eq(l.n, 0);
  core_panel_free(p);
}

Test(interp, entities_from_partner_only_or_no_key) {
  /* Partner only: two series. */
  const char *par[] = {"UZB", "MNG", "UZB", "MNG", "UZB"};
  int year[] = {2016, 2016, 2018, 2020, 2017};
  double v[] = {8.25, 100.0, 9.75, 120.0, NAN};
  core_panel *p = panel(5, NULL, par, year);
  size_t c = column(p, "x", v);
  core_fill_list l = {0, 0, NULL};
  core_err err;
  cr_assert_eq(core_interp_panel(p, &c, 1, CORE_INTERP_LINEAR, &l, &err),
               CORE_OK);
  cr_assert_eq(p->cols[c][4], 9.0);
  cr_assert_eq(l.n, 1);
  core_fill_list_clear(&l);
  core_panel_free(p);

  /* No entity key: the whole panel is one yearly series. */
  int y2[] = {2003, 2001, 2002};
  double v2[] = {7.0, 1.0, NAN};
  p = panel(3, NULL, NULL, y2);
  c = column(p, "x", v2);
  cr_assert_eq(core_interp_panel(p, &c, 1, CORE_INTERP_LINEAR, &l, &err),
               CORE_OK);
  cr_assert_eq(p->cols[c][2], 4.0);
  core_fill_list_clear(&l);
  core_panel_free(p);
}

Test(interp, missing_keys_form_their_own_entity) {
  /* Rows with a missing reporter are one entity (not merged with "CHN"). */
  const char *rep[] = {"CHN", NULL, "CHN", NULL, "CHN", NULL};
  int year[] = {2010, 2010, 2011, 2011, 2012, 2012};
  double v[] = {1.0, 10.0, NAN, NAN, 3.0, 30.0};
  core_panel *p = panel(6, rep, NULL, year);
  size_t c = column(p, "x", v);
  core_fill_list l = {0, 0, NULL};
  core_err err;
  cr_assert_eq(core_interp_panel(p, &c, 1, CORE_INTERP_LINEAR, &l, &err),
               CORE_OK);
  cr_assert_eq(p->cols[c][2], 2.0);
  cr_assert_eq(p->cols[c][3], 20.0);
  core_fill_list_clear(&l);
  core_panel_free(p);
}

Test(interp, several_columns_and_an_existing_list) {
  const char *rep[] = {"KGZ", "KGZ", "KGZ"};
  int year[] = {2019, 2020, 2021};
  double a[] = {0.5, NAN, 1.5};
  double b[] = {NAN, 7.25, NAN};
  double untouched[] = {NAN, 1.0, NAN};
  core_panel *p = panel(3, rep, NULL, year);
  size_t ca = column(p, "a", a);
  column(p, "u", untouched);
  size_t cb = column(p, "b", b);
  core_fill_list l = {0, 0, NULL};
  core_err err;
  size_t cols[] = {ca, cb};
  cr_assert_eq(core_interp_panel(p, cols, 2, CORE_INTERP_LINEAR, &l, &err),
               CORE_OK);
  cr_assert_eq(l.n, 1);
  cr_assert_eq(core_interp_panel(p, cols, 2, CORE_INTERP_NEAREST, &l, &err),
               CORE_OK);
  /* The earlier item is kept; b gets two carried cells. */
  cr_assert_eq(l.n, 3);
  cr_assert_eq(l.items[0].col, ca);
  cr_assert_eq(l.items[0].value, 1.0);
  cr_assert_eq(l.items[1].col, cb);
  cr_assert_eq(l.items[2].col, cb);
  cr_assert_eq(p->cols[cb][0], 7.25);
  cr_assert_eq(p->cols[cb][2], 7.25);
  cr_assert(isnan(p->cols[1][0]) && isnan(p->cols[1][2]));
  core_fill_list_clear(&l);
  core_fill_list_clear(&l); /* twice is fine */
  core_fill_list_clear(NULL);
  core_panel_free(p);
}

Test(interp, extreme_values_and_years) {
  /* xv - xu overflows for +/-1.5e308; years span INT_MIN..INT_MAX. */
  const char *rep[] = {"RUS", "RUS", "RUS"};
  int year[] = {INT_MIN, 0, INT_MAX};
  double v[] = {-1.5e308, NAN, 1.5e308};
  core_panel *p = panel(3, rep, NULL, year);
  size_t c = column(p, "x", v);
  core_fill_list l = {0, 0, NULL};
  core_err err;
  cr_assert_eq(core_interp_panel(p, &c, 1, CORE_INTERP_LINEAR, &l, &err),
               CORE_OK);
  /* t = 2^31 / (2^32 - 1): the value is 1.5e308 (2t - 1). */
  double t = 2147483648.0 / 4294967295.0;
  cr_assert(isfinite(p->cols[c][1]));
  cr_assert(fabs(p->cols[c][1] - 1.5e308 * (2 * t - 1)) <= 1e-15 * 1.5e308);
  core_fill_list_clear(&l);
  core_panel_free(p);
}

Test(interp, large_panel_is_not_quadratic) {
  /* 2000 entities x 100 years = 200,000 rows, shuffled, every odd year
   * missing: 98,000 interior fills (the last odd year is trailing). */
  size_t ne = 2000, ny = 100, n = ne * ny;
  char **names = malloc(ne * sizeof *names);
  const char **rep = malloc(n * sizeof *rep);
  int *year = malloc(n * sizeof *year);
  double *v = malloc(n * sizeof *v);
  size_t *perm = malloc(n * sizeof *perm);
  for (size_t e = 0; e < ne; e++) {
    names[e] = malloc(8);
    snprintf(names[e], 8, "E%04zu", e);
  }
  for (size_t i = 0; i < n; i++)
    perm[i] = i;
  unsigned long s = 12345;
  for (size_t i = n - 1; i > 0; i--) {
    s = s * 6364136223846793005UL + 1442695040888963407UL;
    size_t j = (size_t)(s >> 33) % (i + 1), tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
  for (size_t i = 0; i < n; i++) {
    size_t e = perm[i] / ny, t = perm[i] % ny;
    rep[i] = names[e];
    year[i] = 1950 + (int)t;
    v[i] = t % 2 ? NAN : (double)e + 0.5 * (double)t;
  }
  core_panel *p = panel(n, rep, NULL, year);
  size_t c = column(p, "x", v);
  core_fill_list l = {0, 0, NULL};
  core_err err;
  clock_t t0 = clock();
  cr_assert_eq(core_interp_panel(p, &c, 1, CORE_INTERP_LINEAR, &l, &err),
               CORE_OK);
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  cr_assert_lt(secs, 10.0, "took %.2f s", secs);
  cr_assert_eq(l.n, ne * (ny / 2 - 1));
  for (size_t i = 0; i < n; i++) {
    size_t e = perm[i] / ny, t = perm[i] % ny;
    if (t == ny - 1)
      cr_assert(isnan(p->cols[c][i]));
    else
      cr_assert_eq(p->cols[c][i], (double)e + 0.5 * (double)t, "row %zu", i);
  }
  core_fill_list_clear(&l);
  core_panel_free(p);
  for (size_t e = 0; e < ne; e++)
    free(names[e]);
  free(names);
  free(rep);
  free(year);
  free(v);
  free(perm);
}

/* ---------------------------------------------------------------------- */
/* Errors                                                                 */
/* ---------------------------------------------------------------------- */

Test(interp, error_duplicate_entity_year_names_them) {
  const char *rep[] = {"CHN", "CHN", "CHN", "CHN"};
  const char *par[] = {"KAZ", "UZB", "KAZ", "KAZ"};
  int year[] = {2015, 2015, 2016, 2015};
  double v[] = {1.0, NAN, NAN, 3.0};
  core_panel *p = panel(4, rep, par, year);
  size_t c = column(p, "x", v);
  core_fill_list l = {0, 0, NULL};
  core_err err;
  cr_assert_eq(core_interp_panel(p, &c, 1, CORE_INTERP_NEAREST, &l, &err),
               CORE_EINVAL);
  cr_assert(strstr(err.msg, "The entity CHN-KAZ has more than one row for "
                            "year 2015 (rows 0 and 3)"),
            "%s", err.msg);
  cr_assert_eq(err.n_rows, 2);
  cr_assert_eq(err.rows[0], 0);
  cr_assert_eq(err.rows[1], 3);
  cr_assert_str_eq(err.name, "year");
  /* Nothing was written. */
  cr_assert(isnan(p->cols[c][2]));
  cr_assert_eq(l.n, 0);
  core_panel_free(p);
}

Test(interp, error_duplicate_year_without_entity_keys) {
  int year[] = {2001, 2001};
  double v[] = {1.0, 2.0};
  core_panel *p = panel(2, NULL, NULL, year);
  size_t c = column(p, "x", v);
  core_fill_list l = {0, 0, NULL};
  core_err err;
  cr_assert_eq(core_interp_panel(p, &c, 1, CORE_INTERP_LINEAR, &l, &err),
               CORE_EINVAL);
  cr_assert(strstr(err.msg, "The data has more than one row for year 2001"),
            "%s", err.msg);
  core_panel_free(p);
}

Test(interp, error_no_year_key) {
  const char *rep[] = {"KAZ", "KAZ", "KAZ"};
  double v[] = {1.0, NAN, 2.0};
  core_panel *p = panel(3, rep, NULL, NULL);
  size_t c = column(p, "x", v);
  core_fill_list l = {0, 0, NULL};
  core_err err;
  cr_assert_eq(core_interp_panel(p, &c, 1, CORE_INTERP_LINEAR, &l, &err),
               CORE_EINVAL);
  cr_assert(strstr(err.msg, "needs a year key"));
  cr_assert(isnan(p->cols[c][1]));
  core_panel_free(p);
}

Test(interp, error_bad_arguments) {
  int year[] = {2001, 2002, 2003};
  double v[] = {1.0, NAN, 2.0};
  core_panel *p = panel(3, NULL, NULL, year);
  size_t c = column(p, "x", v);
  core_fill_list l = {0, 0, NULL};
  core_err err;
  cr_assert_eq(core_interp_panel(NULL, &c, 1, CORE_INTERP_LINEAR, &l, &err),
               CORE_EINVAL);
  cr_assert_eq(core_interp_panel(p, NULL, 1, CORE_INTERP_LINEAR, &l, &err),
               CORE_EINVAL);
  cr_assert_eq(core_interp_panel(p, &c, 1, CORE_INTERP_LINEAR, NULL, &err),
               CORE_EINVAL);
  cr_assert_eq(core_interp_panel(p, &c, 1, (core_interp_mode)5, &l, &err),
               CORE_EINVAL);
  cr_assert(strstr(err.msg, "Unknown interpolation mode"));
  /* The virtual year column (index ncol) and beyond are not fillable. */
  size_t bad = p->ncol;
  cr_assert_eq(core_interp_panel(p, &bad, 1, CORE_INTERP_LINEAR, &l, &err),
               CORE_EINVAL);
  cr_assert(strstr(err.msg, "Column 1 is not a numeric column"), "%s", err.msg);
  cr_assert(isnan(p->cols[c][1]));
  cr_assert_eq(l.n, 0);
  /* NULL err is allowed; no columns is a no-op. */
  cr_assert_eq(core_interp_panel(NULL, &c, 1, CORE_INTERP_LINEAR, &l, NULL),
               CORE_EINVAL);
  cr_assert_eq(core_interp_panel(p, NULL, 0, CORE_INTERP_LINEAR, NULL, &err),
               CORE_OK);
  core_panel_free(p);
}
