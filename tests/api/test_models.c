/* Handler tests of POST /v1/models (api/api_models.c): the request structs
 * go in directly (no HTTP), the answer JSON is parsed and checked. Numbers:
 * NIST StRD Longley (certified values, 9 significant digits) and the real
 * China - Central Asia panel of tests/e2e/fixtures/gravity_chn_ca.csv, whose
 * potentials are recomputed here from the returned coefficients. */
#include "api/api_testing.h"

#include <errno.h>
#include <stdlib.h>

/* NIST StRD Longley.dat (also in tests/reference/nist/Longley.csv). */
static const double longley[16][7] = {
    {60323, 83.0, 234289, 2356, 1590, 107608, 1947},
    {61122, 88.5, 259426, 2325, 1456, 108632, 1948},
    {60171, 88.2, 258054, 3682, 1616, 109773, 1949},
    {61187, 89.5, 284599, 3351, 1650, 110929, 1950},
    {63221, 96.2, 328975, 2099, 3099, 112075, 1951},
    {63639, 98.1, 346999, 1932, 3594, 113270, 1952},
    {64989, 99.0, 365385, 1870, 3547, 115094, 1953},
    {63761, 100.0, 363112, 3578, 3350, 116219, 1954},
    {66019, 101.2, 397469, 2904, 3048, 117388, 1955},
    {67857, 104.6, 419180, 2822, 2857, 118734, 1956},
    {68169, 108.4, 442769, 2936, 2798, 120445, 1957},
    {66513, 110.8, 444546, 4681, 2637, 121950, 1958},
    {68655, 112.6, 482704, 3813, 2552, 123366, 1959},
    {69564, 114.2, 502601, 3931, 2514, 125368, 1960},
    {69331, 115.7, 518173, 4806, 2572, 127852, 1961},
    {70551, 116.9, 554894, 4007, 2827, 130081, 1962}};
static const char *const longley_names[7] = {"y",  "x1", "x2", "x3",
                                             "x4", "x5", "x6"};
/* NIST certified values (Longley.certified.json). */
static const double longley_beta[7] = {-3482258.63459582,  15.0618722713733,
                                       -0.035819179292591, -2.02022980381683,
                                       -1.03322686717359,  -0.0511041056535807,
                                       1829.15146461355};
static const double longley_se[7] = {
    890420.383607373,  84.9149257747669, 0.0334910077722432, 0.488399681651699,
    0.214274163161675, 0.22607320006937, 455.478499142212};
static const double longley_sd = 304.854073561965;
static const double longley_r2 = 0.995479004577296;

static json_t *longley_columns(size_t n) {
  json_t *cols = json_object();
  for (size_t j = 0; j < 7; j++) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
      json_array_append_new(a, json_real(longley[i][j]));
    json_object_set_new(cols, longley_names[j], a);
  }
  return json_pack("{s:o}", "columns", cols);
}

/* Rows form with each row's keys in a different (rotated) order. */
static json_t *longley_rows(size_t n) {
  json_t *rows = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *r = json_object();
    for (size_t k = 0; k < 7; k++) {
      size_t j = (k + i) % 7;
      json_object_set_new(r, longley_names[j], json_real(longley[i][j]));
    }
    json_array_append_new(rows, r);
  }
  return json_pack("{s:o}", "rows", rows);
}

static const char longley_formula[] = "y ~ x1 + x2 + x3 + x4 + x5 + x6";

static reply post(json_t *doc) {
  return call_json(api_post_models, doc);
}

static json_t *coef(const reply *r, const char *term) {
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(r->json, "coefficients"), i, c) {
    if (strcmp(json_string_value(json_object_get(c, "term")), term) == 0)
      return c;
  }
  return NULL;
}

static double num(const json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  cr_assert(json_is_number(v), "%s is not a number", key);
  return json_number_value(v);
}

static void assert_created(const reply *r) {
  char *dump = json_dumps(r->json, JSON_COMPACT);
  cr_assert_eq(r->status, 201, "status %d: %.600s", r->status, dump);
  cr_assert_str_eq(r->content_type, "application/json");
  free(dump);
}

Test(models, longley_matches_nist_certified_values) {
  reply r = post(json_pack("{s:o, s:s, s:s, s:s}", "data", longley_columns(16),
                           "formula", longley_formula, "estimator", "ols",
                           "vcov", "classical"));
  assert_created(&r);
  json_t *coefs = json_object_get(r.json, "coefficients");
  cr_assert_eq(json_array_size(coefs), 7);
  const char *terms[7] = {"(Intercept)", "x1", "x2", "x3", "x4", "x5", "x6"};
  double worst = 17;
  for (size_t j = 0; j < 7; j++) {
    json_t *c = json_array_get(coefs, j);
    cr_assert_str_eq(json_string_value(json_object_get(c, "term")), terms[j]);
    double db = sig_digits(num(c, "estimate"), longley_beta[j]);
    double ds = sig_digits(num(c, "std_error"), longley_se[j]);
    cr_assert_geq(db, 9, "%s estimate: %.3f digits", terms[j], db);
    cr_assert_geq(ds, 9, "%s std_error: %.3f digits", terms[j], ds);
    worst = fmin(worst, fmin(db, ds));
    cr_assert(json_is_null(json_object_get(c, "effect")),
              "no effect for a level response");
    /* t = b / se and the interval brackets the estimate. */
    cr_assert_float_eq(num(c, "statistic"),
                       num(c, "estimate") / num(c, "std_error"),
                       1e-12 * fabs(num(c, "statistic")));
    cr_assert_lt(num(c, "ci_low"), num(c, "estimate"));
    cr_assert_gt(num(c, "ci_high"), num(c, "estimate"));
  }
  fprintf(stderr, "Longley through api_post_models: >= %.2f digits\n", worst);
  json_t *fit = json_object_get(r.json, "fit");
  cr_assert_eq(json_integer_value(json_object_get(fit, "n")), 16);
  cr_assert_eq(json_integer_value(json_object_get(fit, "k")), 7);
  cr_assert_eq(json_integer_value(json_object_get(fit, "df_resid")), 9);
  cr_assert_geq(sig_digits(num(fit, "rmse"), longley_sd), 9);
  cr_assert_geq(sig_digits(num(fit, "r2"), longley_r2), 9);
  for (const char *const *k =
           (const char *const[]){"adj_r2", "f", "f_p_value", "log_likelihood",
                                 "aic", "bic", NULL};
       *k; k++)
    cr_assert(json_is_number(json_object_get(fit, *k)), "%s", *k);
  cr_assert_str_eq(json_string_value(json_object_get(r.json, "estimator")),
                   "ols");
  cr_assert_str_eq(json_string_value(json_object_get(r.json, "vcov")),
                   "classical");
  cr_assert_str_eq(json_string_value(json_object_get(r.json, "formula")),
                   longley_formula);
  json_t *dropped = json_object_get(r.json, "dropped");
  cr_assert_eq(json_array_size(json_object_get(dropped, "collinear")), 0);
  cr_assert_eq(json_integer_value(json_object_get(dropped, "missing_rows")), 0);
  cr_assert_eq(json_array_size(json_object_get(r.json, "interpolated")), 0);
  /* A level response: predicted = xb, K = actual / predicted, every row. */
  json_t *pots = json_object_get(r.json, "potentials");
  cr_assert_eq(json_array_size(pots), 16);
  for (size_t i = 0; i < 16; i++) {
    json_t *p = json_array_get(pots, i);
    cr_assert_eq(json_integer_value(json_object_get(p, "row")), (int)i);
    cr_assert(json_is_null(json_object_get(p, "reporter")));
    cr_assert(json_is_null(json_object_get(p, "partner")));
    cr_assert(json_is_null(json_object_get(p, "year")));
    double xb = 0;
    for (size_t j = 0; j < 7; j++)
      xb += num(json_array_get(coefs, j), "estimate") *
            (j == 0 ? 1.0 : longley[i][j]);
    cr_assert_float_eq(num(p, "predicted"), xb, 1e-9 * fabs(xb));
    cr_assert_eq(num(p, "actual"), longley[i][0]);
    cr_assert_float_eq(num(p, "k"), longley[i][0] / xb, 1e-9);
    cr_assert_float_eq(num(p, "gap"), num(p, "predicted") - longley[i][0],
                       1e-6);
    cr_assert_str_eq(json_string_value(json_object_get(p, "class")),
                     "expanding_potential");
  }
  const char *id = json_string_value(json_object_get(r.json, "id"));
  const char *ds = json_string_value(json_object_get(r.json, "dataset_id"));
  cr_assert_eq(strlen(id), 34);
  cr_assert_eq(strncmp(id, "m_", 2), 0);
  cr_assert_eq(strlen(ds), 35);
  cr_assert_eq(strncmp(ds, "ds_", 3), 0);
  cr_assert_eq(strspn(id + 2, "0123456789abcdef"), 32);
  cr_assert_eq(strspn(ds + 3, "0123456789abcdef"), 32);
  cr_assert(json_is_array(json_object_get(r.json, "warnings")));
  reply_free(&r);
}

Test(models, rows_and_columns_with_shuffled_keys_get_the_same_ids) {
  reply a = post(json_pack("{s:o, s:s}", "data", longley_columns(16), "formula",
                           longley_formula));
  reply b = post(json_pack("{s:s, s:s, s:o, s:s}", "vcov", "classical",
                           "estimator", "ols", "data", longley_rows(16),
                           "formula", longley_formula));
  /* A formula written differently normalises to the same text. */
  reply c = post(
      json_pack("{s:o, s:s, s:f, s:s, s:{s:s, s:s, s:[f,f]}}", "data",
                longley_rows(16), "formula", "y~x1+x2 +x3+  x4+x5+x6",
                "confidence", 0.95, "interpolate", "none", "potential",
                "method", "level", "smearing", "duan", "thresholds", 0.8, 1.2));
  assert_created(&a);
  assert_created(&b);
  assert_created(&c);
  const char *keys[] = {"id", "dataset_id"};
  for (size_t k = 0; k < 2; k++) {
    cr_assert_str_eq(json_string_value(json_object_get(a.json, keys[k])),
                     json_string_value(json_object_get(b.json, keys[k])));
    cr_assert_str_eq(json_string_value(json_object_get(a.json, keys[k])),
                     json_string_value(json_object_get(c.json, keys[k])));
  }
  cr_assert(json_equal(json_object_get(a.json, "coefficients"),
                       json_object_get(b.json, "coefficients")));
  reply_free(&a);
  reply_free(&b);
  reply_free(&c);
}

Test(models, the_spec_changes_the_model_id_but_not_the_dataset_id) {
  reply a = post(json_pack("{s:o, s:s}", "data", longley_columns(16), "formula",
                           longley_formula));
  const char *variants[][2] = {{"vcov", "hc1"},
                               {"confidence", NULL},
                               {"formula", "y ~ x1 + x2"},
                               {"potential", NULL}};
  for (size_t i = 0; i < 4; i++) {
    json_t *doc = json_pack("{s:o, s:s}", "data", longley_columns(16),
                            "formula", longley_formula);
    if (i == 1)
      json_object_set_new(doc, "confidence", json_real(0.9));
    else if (i == 3)
      json_object_set_new(doc, "potential",
                          json_pack("{s:[f,f]}", "thresholds", 0.9, 1.1));
    else
      json_object_set_new(doc, variants[i][0], json_string(variants[i][1]));
    reply b = post(doc);
    assert_created(&b);
    cr_assert_str_neq(json_string_value(json_object_get(a.json, "id")),
                      json_string_value(json_object_get(b.json, "id")),
                      "variant %zu", i);
    cr_assert_str_eq(json_string_value(json_object_get(a.json, "dataset_id")),
                     json_string_value(json_object_get(b.json, "dataset_id")));
    reply_free(&b);
  }
  reply_free(&a);
}

/* ---- the real gravity panel ------------------------------------------- */

/* Reads tests/e2e/fixtures/gravity_chn_ca.csv as {"rows": [...]}: empty
 * cells become null, reporter/partner strings, year an integer. */
static json_t *gravity_rows(void) {
  const char *path =
      GRAVITAS_SOURCE_DIR "/tests/e2e/fixtures/gravity_chn_ca.csv";
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "cannot open %s", path);
  char line[2048], names[16][32];
  size_t nn = 0;
  json_t *rows = json_array();
  bool header = true;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    json_t *row = header ? NULL : json_object();
    size_t k = 0;
    char *s = line;
    for (;;) {
      char *comma = strchr(s, ',');
      if (comma) *comma = '\0';
      if (header) {
        cr_assert(strlen(s) < sizeof names[0] && nn < 16);
        memcpy(names[nn++], s, strlen(s) + 1);
      } else if (k < 2) {
        json_object_set_new(row, names[k], json_string(s));
      } else if (k == 2) {
        char *end;
        long y = strtol(s, &end, 10);
        cr_assert(*end == '\0' && end != s && y > 0 && y < 10000, "year %s", s);
        json_object_set_new(row, names[k], json_integer(y));
      } else if (*s == '\0') {
        json_object_set_new(row, names[k], json_null());
      } else {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        cr_assert(*end == '\0' && errno == 0, "bad cell %s", s);
        json_object_set_new(row, names[k], json_real(v));
      }
      k++;
      if (!comma) break;
      s = comma + 1;
    }
    if (!header) json_array_append_new(rows, row);
    header = false;
  }
  fclose(f);
  cr_assert_eq(json_array_size(rows), 70);
  return json_pack("{s:o}", "rows", rows);
}

static const char gravity_formula[] =
    "log(etrade) ~ log(gdp_r * gdp_p) + log(distcap * oil) + open_p";

/* xb of data row i under the returned coefficients. */
static double gravity_xb(const reply *r, json_t *row) {
  double b0 = num(coef(r, "(Intercept)"), "estimate");
  double b1 = num(coef(r, "log(gdp_r*gdp_p)"), "estimate");
  double b2 = num(coef(r, "log(distcap*oil)"), "estimate");
  double b3 = num(coef(r, "open_p"), "estimate");
  return b0 + b1 * log(num(row, "gdp_r") * num(row, "gdp_p")) +
         b2 * log(num(row, "distcap") * num(row, "oil")) +
         b3 * num(row, "open_p");
}

Test(models, gravity_potentials_recomputed_from_the_coefficients) {
  json_t *data = gravity_rows();
  json_incref(data);
  reply r = post(json_pack("{s:o, s:s, s:s, s:{s:s, s:s, s:[f,f]}}", "data",
                           data, "formula", gravity_formula, "vcov", "hc1",
                           "potential", "method", "level", "smearing", "duan",
                           "thresholds", 0.8, 1.2));
  assert_created(&r);
  json_t *rows = json_object_get(data, "rows");
  json_t *fit = json_object_get(r.json, "fit");
  cr_assert_eq(json_integer_value(json_object_get(fit, "n")), 13);
  cr_assert_eq(json_integer_value(json_object_get(
                   json_object_get(r.json, "dropped"), "missing_rows")),
               57);
  /* Effects: elasticities for the log terms, semi-elasticity for open_p. */
  json_t *e = json_object_get(coef(&r, "log(gdp_r*gdp_p)"), "effect");
  cr_assert_str_eq(json_string_value(json_object_get(e, "kind")), "elasticity");
  cr_assert_eq(num(e, "value"), num(coef(&r, "log(gdp_r*gdp_p)"), "estimate"));
  e = json_object_get(coef(&r, "open_p"), "effect");
  cr_assert_str_eq(json_string_value(json_object_get(e, "kind")),
                   "semi_elasticity");
  double b3 = num(coef(&r, "open_p"), "estimate");
  cr_assert_float_eq(num(e, "value"), 100 * (exp(b3) - 1),
                     1e-12 * fabs(100 * (exp(b3) - 1)));
  cr_assert(json_is_null(json_object_get(coef(&r, "(Intercept)"), "effect")));

  /* Duan's smearing factor from the estimation rows. */
  double smear = 0;
  size_t n_obs = 0, i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    if (json_is_null(json_object_get(row, "etrade"))) continue;
    smear += exp(log(num(row, "etrade")) - gravity_xb(&r, row));
    n_obs++;
  }
  cr_assert_eq(n_obs, 13);
  smear /= (double)n_obs;

  json_t *pots = json_object_get(r.json, "potentials");
  cr_assert_eq(json_array_size(pots), 70, "every row has its regressors");
  size_t with_k = 0;
  json_array_foreach(pots, i, row) {
    size_t at = (size_t)json_integer_value(json_object_get(row, "row"));
    json_t *src = json_array_get(rows, at);
    cr_assert_str_eq(json_string_value(json_object_get(row, "reporter")),
                     "CHN");
    cr_assert_str_eq(json_string_value(json_object_get(row, "partner")),
                     json_string_value(json_object_get(src, "partner")));
    cr_assert_eq(json_integer_value(json_object_get(row, "year")),
                 json_integer_value(json_object_get(src, "year")));
    double pred = exp(gravity_xb(&r, src)) * smear;
    cr_assert_float_eq(num(row, "predicted"), pred, 1e-9 * pred);
    if (json_is_null(json_object_get(src, "etrade"))) {
      cr_assert(json_is_null(json_object_get(row, "actual")));
      cr_assert(json_is_null(json_object_get(row, "k")));
      cr_assert(json_is_null(json_object_get(row, "class")));
      cr_assert(json_is_null(json_object_get(row, "gap")));
      continue;
    }
    double actual = num(src, "etrade"), k = actual / pred;
    cr_assert_eq(num(row, "actual"), actual);
    cr_assert_float_eq(num(row, "k"), k, 1e-9 * k);
    cr_assert_float_eq(num(row, "gap"), pred - actual, 1e-9 * pred);
    const char *want = k <= 0.8  ? "huge_potential"
                       : k < 1.2 ? "expanding_potential"
                                 : "remodelling_potential";
    cr_assert_str_eq(json_string_value(json_object_get(row, "class")), want);
    with_k++;
  }
  cr_assert_eq(with_k, 13);
  json_decref(data);
  reply_free(&r);
}

Test(models, interpolation_fills_regressor_gaps_and_lists_them) {
  /* internet_p is missing for TJK 2018-2019 (interior) and TKM 2018-2023
   * (trailing) in the source. */
  const char *formula = "log(etrade) ~ log(gdp_r * gdp_p) + internet_p";
  reply none =
      post(json_pack("{s:o, s:s}", "data", gravity_rows(), "formula", formula));
  reply lin = post(json_pack("{s:o, s:s, s:s}", "data", gravity_rows(),
                             "formula", formula, "interpolate", "linear"));
  reply near = post(json_pack("{s:o, s:s, s:s}", "data", gravity_rows(),
                              "formula", formula, "interpolate", "nearest"));
  assert_created(&none);
  assert_created(&lin);
  assert_created(&near);
  size_t p0 = json_array_size(json_object_get(none.json, "potentials"));
  size_t p1 = json_array_size(json_object_get(lin.json, "potentials"));
  size_t p2 = json_array_size(json_object_get(near.json, "potentials"));
  cr_assert_eq(p0, 62);
  cr_assert_eq(p1, 64, "TJK 2018-2019 filled");
  cr_assert_eq(p2, 70, "and TKM 2018-2023 carried");
  json_t *filled = json_object_get(lin.json, "interpolated");
  cr_assert_eq(json_array_size(filled), 2);
  json_t *f = json_array_get(filled, 0);
  cr_assert_str_eq(json_string_value(json_object_get(f, "entity")), "CHN-TJK");
  cr_assert_str_eq(json_string_value(json_object_get(f, "variable")),
                   "internet_p");
  cr_assert_eq(json_integer_value(json_object_get(f, "year")), 2018);
  cr_assert_str_eq(json_string_value(json_object_get(f, "kind")),
                   "interpolated");
  size_t carried = 0, i;
  json_array_foreach(json_object_get(near.json, "interpolated"), i, f) {
    if (strcmp(json_string_value(json_object_get(f, "kind")), "carried") == 0)
      carried++;
  }
  cr_assert_eq(carried, 6);
  /* Only the regressor is filled, never the response (etrade). */
  json_array_foreach(json_object_get(near.json, "interpolated"), i, f) {
    cr_assert_str_eq(json_string_value(json_object_get(f, "variable")),
                     "internet_p");
  }
  cr_assert_str_eq(json_string_value(json_object_get(none.json, "dataset_id")),
                   json_string_value(json_object_get(lin.json, "dataset_id")),
                   "the dataset id is of the data as sent");
  cr_assert_str_neq(json_string_value(json_object_get(none.json, "id")),
                    json_string_value(json_object_get(lin.json, "id")));
  reply_free(&none);
  reply_free(&lin);
  reply_free(&near);
}

Test(models, interpolation_needs_a_year) {
  reply r =
      post(json_pack("{s:o, s:s, s:s}", "data", longley_columns(16), "formula",
                     longley_formula, "interpolate", "linear"));
  assert_problem(&r, 422, "invalid-request", "/interpolate");
  reply_free(&r);
}

Test(models, cluster_robust_variance) {
  json_t *data = gravity_rows();
  reply r = post(json_pack("{s:o, s:s, s:s}", "data", data, "formula",
                           "log(etrade) ~ log(gdp_r * gdp_p)", "vcov",
                           "cluster:partner"));
  assert_created(&r);
  cr_assert_str_eq(json_string_value(json_object_get(r.json, "vcov")),
                   "cluster:partner");
  reply c = post(json_pack("{s:o, s:s}", "data", gravity_rows(), "formula",
                           "log(etrade) ~ log(gdp_r * gdp_p)"));
  assert_created(&c);
  json_t *a = coef(&r, "log(gdp_r*gdp_p)"), *b = coef(&c, "log(gdp_r*gdp_p)");
  cr_assert_eq(num(a, "estimate"), num(b, "estimate"));
  cr_assert_neq(num(a, "std_error"), num(b, "std_error"));
  reply_free(&r);
  reply_free(&c);
}

Test(models, cluster_rows_without_a_cluster_value_are_left_out) {
  json_t *data = longley_columns(16);
  json_t *g = json_array();
  for (int i = 0; i < 16; i++)
    json_array_append_new(g, i == 3 ? json_null() : json_integer(i % 4));
  json_object_set_new(json_object_get(data, "columns"), "g", g);
  reply r = post(json_pack("{s:o, s:s, s:s}", "data", data, "formula", "y ~ x1",
                           "vcov", "cluster:g"));
  assert_created(&r);
  json_t *fit = json_object_get(r.json, "fit");
  cr_assert_eq(json_integer_value(json_object_get(fit, "n")), 15);
  cr_assert_eq(json_integer_value(json_object_get(
                   json_object_get(r.json, "dropped"), "missing_rows")),
               1);
  reply_free(&r);
}

Test(models, collinear_term_is_dropped_and_named) {
  json_t *data = longley_columns(16);
  json_t *v = json_array();
  for (int i = 0; i < 16; i++)
    json_array_append_new(v, json_real(2 * longley[i][1] - 3 * longley[i][3]));
  json_object_set_new(json_object_get(data, "columns"), "v", v);
  reply r =
      post(json_pack("{s:o, s:s}", "data", data, "formula", "y ~ x1 + x3 + v"));
  assert_created(&r);
  json_t *col =
      json_object_get(json_object_get(r.json, "dropped"), "collinear");
  cr_assert_eq(json_array_size(col), 1);
  cr_assert_str_eq(json_string_value(json_array_get(col, 0)), "v");
  cr_assert_null(coef(&r, "v"), "a dropped term has no coefficient entry");
  cr_assert_eq(json_array_size(json_object_get(r.json, "coefficients")), 3);
  cr_assert_eq(
      json_integer_value(json_object_get(json_object_get(r.json, "fit"), "k")),
      3);
  cr_assert_gt(json_array_size(json_object_get(r.json, "warnings")), 0);
  reply_free(&r);
}

Test(models, undefined_numbers_are_null_with_a_warning) {
  /* Intercept only: there is no slope to test, so F is undefined. */
  reply r = post(
      json_pack("{s:o, s:s}", "data", longley_columns(16), "formula", "y ~ 1"));
  assert_created(&r);
  json_t *fit = json_object_get(r.json, "fit");
  cr_assert(json_is_null(json_object_get(fit, "f")));
  cr_assert(json_is_null(json_object_get(fit, "f_p_value")));
  bool warned = false;
  size_t i;
  json_t *w;
  json_array_foreach(json_object_get(r.json, "warnings"), i, w) {
    if (strstr(json_string_value(w), "fit.f ")) warned = true;
  }
  cr_assert(warned, "a warning says why fit.f is null");
  reply_free(&r);
}

/* ---- bad input ---------------------------------------------------------- */

static json_t *small_rows(size_t n) {
  static const char *partners[] = {"KAZ", "KGZ", "TJK", "TKM",
                                   "UZB", "KAZ", "KGZ", "TJK"};
  json_t *rows = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(
        rows, json_pack("{s:s, s:s, s:i, s:f, s:f, s:f, s:f}", "reporter",
                        "CHN", "partner", partners[i], "year", 2010 + (int)i,
                        "y", longley[i][0], "x", longley[i][1], "z",
                        longley[i][2], "w", longley[i][3]));
  return json_pack("{s:o}", "rows", rows);
}

static json_t *model(const char *formula) {
  return json_pack("{s:o, s:s}", "data", small_rows(8), "formula", formula);
}

static void set_cell(json_t *doc, size_t row, const char *var, json_t *v) {
  json_object_set_new(
      json_array_get(json_object_get(json_object_get(doc, "data"), "rows"),
                     row),
      var, v);
}

Test(models_bad, malformed_json) {
  const char *bodies[] = {"{\"formula\": \"y ~ x\",}",
                          "{formula: 1}",
                          "",
                          "  ",
                          "{\"formula\": \"y ~ x\"} trailing",
                          "{\"data\": {\"rows\": [1, 2}]}"};
  for (size_t i = 0; i < 6; i++) {
    reply r = call(api_post_models, bodies[i]);
    const char *d = assert_problem(&r, 400, "malformed-json", "");
    cr_assert(strlen(d) > 0);
    reply_free(&r);
  }
  reply r = call(api_post_models, "{\"formula\": \"y ~ x\",\n  \"a\": }");
  const char *d = assert_problem(&r, 400, "malformed-json", "");
  cr_assert(strstr(d, "line 2"), "%s", d);
  reply_free(&r);
}

Test(models_bad, duplicate_key) {
  reply r = call(api_post_models, "{\"data\": {\"rows\": [{\"y\": 1.5, "
                                  "\"x\": 2.5}]}, \"formula\": \"y ~ x\", "
                                  "\"formula\": \"y ~ x - 1\"}");
  const char *d = assert_problem(&r, 400, "malformed-json", "");
  cr_assert(strstr(d, "formula"), "%s", d);
  reply_free(&r);
  r = call(api_post_models, "{\"data\": {\"rows\": [{\"y\": 1.5, \"x\": 2.5,"
                            " \"x\": 3.5}]}, \"formula\": \"y ~ x\"}");
  assert_problem(&r, 400, "malformed-json", "");
  reply_free(&r);
}

Test(models_bad, body_not_an_object) {
  reply r = call(api_post_models, "[1, 2]");
  assert_problem(&r, 422, "invalid-request", "");
  reply_free(&r);
}

Test(models_bad, wrong_types) {
  json_t *doc = model("y ~ x");
  json_object_set_new(doc, "formula", json_integer(3));
  reply r = post(doc);
  cr_assert_str_eq(assert_problem(&r, 422, "invalid-request", "/formula"),
                   "must be a string");
  reply_free(&r);

  doc = model("y ~ x");
  set_cell(doc, 2, "x", json_string("abc"));
  set_cell(doc, 5, "z", json_true());
  set_cell(doc, 1, "year", json_real(2011.5));
  set_cell(doc, 4, "reporter", json_integer(156));
  json_object_set_new(doc, "vcov", json_integer(5));
  json_object_set_new(doc, "confidence", json_string("high"));
  r = post(doc);
  cr_assert_str_eq(assert_problem(&r, 422, "invalid-request", "/data/rows/2/x"),
                   "must be a number or null");
  assert_problem(&r, 422, "invalid-request", "/data/rows/5/z");
  assert_problem(&r, 422, "invalid-request", "/data/rows/1/year");
  assert_problem(&r, 422, "invalid-request", "/data/rows/4/reporter");
  assert_problem(&r, 422, "invalid-request", "/vcov");
  assert_problem(&r, 422, "invalid-request", "/confidence");
  cr_assert_eq(n_errors(&r), 6, "every fault is listed");
  reply_free(&r);
}

Test(models_bad, unknown_and_missing_fields) {
  json_t *doc = model("y ~ x");
  json_object_set_new(doc, "formula2", json_string("y ~ x"));
  json_object_set_new(doc, "a/b~c", json_integer(1));
  reply r = post(doc);
  const char *d = assert_problem(&r, 422, "invalid-request", "/formula2");
  cr_assert_str_eq(d, "unknown field; expected one of data, dataset_id, "
                      "formula, estimator, vcov, potential, interpolate, "
                      "confidence, inefficiency, time, diagnostics, by");
  assert_problem(&r, 422, "invalid-request", "/a~1b~0c");
  reply_free(&r);

  r = call(api_post_models, "{}");
  assert_problem(&r, 422, "invalid-request", "/data");
  assert_problem(&r, 422, "invalid-request", "/formula");
  reply_free(&r);

  doc = model("y ~ x");
  json_object_set_new(doc, "potential", json_pack("{s:s}", "methd", "log"));
  json_object_set_new(json_object_get(doc, "data"), "extra", json_integer(1));
  r = post(doc);
  assert_problem(&r, 422, "invalid-request", "/potential/methd");
  assert_problem(&r, 422, "invalid-request", "/data/extra");
  reply_free(&r);
}

Test(models_bad, other_field_values) {
  const char *cases[][3] = {
      {"interpolate", "spline", "/interpolate"},
      {"potential", "log", "/potential"},
  };
  for (size_t i = 0; i < 2; i++) {
    json_t *doc = model("y ~ x");
    json_object_set_new(doc, cases[i][0], json_string(cases[i][1]));
    reply r = post(doc);
    assert_problem(&r, 422, "invalid-request", cases[i][2]);
    reply_free(&r);
  }
  double conf[] = {0, 1, 1.5, -0.95};
  for (size_t i = 0; i < 4; i++) {
    json_t *doc = model("y ~ x");
    json_object_set_new(doc, "confidence", json_real(conf[i]));
    reply r = post(doc);
    cr_assert_str_eq(assert_problem(&r, 422, "invalid-request", "/confidence"),
                     "must be > 0 and < 1");
    reply_free(&r);
  }
  json_t *doc = model("y ~ x");
  json_object_set_new(
      doc, "potential",
      json_pack("{s:s, s:s}", "method", "frontier", "smearing", "mean"));
  reply r = post(doc);
  assert_problem(&r, 422, "invalid-request", "/potential/method");
  assert_problem(&r, 422, "invalid-request", "/potential/smearing");
  reply_free(&r);
}

Test(models_bad, estimators) {
  /* fe needs its factors; ppml a response in levels. */
  json_t *fe = model("y ~ x");
  json_object_set_new(fe, "estimator", json_string("fe"));
  reply rf = post(fe);
  assert_problem(&rf, 422, "invalid-request", "/formula");
  reply_free(&rf);
  json_t *pp = model("log(y) ~ x");
  json_object_set_new(pp, "estimator", json_string("ppml"));
  reply rp = post(pp);
  assert_problem(&rp, 422, "invalid-request", "/formula");
  reply_free(&rp);
  /* The stochastic frontier models log trade. */
  json_t *sfa = model("y ~ x");
  json_object_set_new(sfa, "estimator", json_string("sfa"));
  reply rs = post(sfa);
  assert_problem(&rs, 422, "invalid-request", "/formula");
  reply_free(&rs);
  json_t *bad[] = {json_string("OLS"), json_string(""), json_integer(1)};
  for (size_t i = 0; i < 3; i++) {
    json_t *doc = model("y ~ x");
    json_object_set_new(doc, "estimator", bad[i]);
    reply r = post(doc);
    assert_problem(&r, 422, "invalid-request", "/estimator");
    reply_free(&r);
  }
}

Test(models_bad, dataset_id) {
  /* Without a store (these tests give the handler none) a stored dataset
   * cannot be had: 503, naming the field. */
  reply r = post(json_pack("{s:s, s:s}", "dataset_id",
                           "ds_0123456789abcdef0123456789abcdef", "formula",
                           "y ~ x"));
  assert_problem(&r, 503, "unavailable", "/dataset_id");
  reply_free(&r);
  json_t *doc = model("y ~ x");
  json_object_set_new(doc, "dataset_id",
                      json_string("ds_0123456789abcdef0123456789abcdef"));
  r = post(doc);
  cr_assert_str_eq(assert_problem(&r, 422, "invalid-request", "/dataset_id"),
                   "give exactly one of data or dataset_id");
  reply_free(&r);
}

Test(models_bad, variable_missing_from_the_data) {
  reply r = post(model("y ~ x + gdp"));
  const char *d = assert_problem(&r, 422, "formula-error", "/formula");
  cr_assert_str_eq(d, "unknown variable 'gdp' at byte 8; the data has: "
                      "reporter, partner, year, y, x, z, w");
  reply_free(&r);
  r = post(model("nope ~ x"));
  assert_problem(&r, 422, "formula-error", "/formula");
  reply_free(&r);
  r = post(model("y ~ x + reporter"));
  d = assert_problem(&r, 422, "formula-error", "/formula");
  cr_assert(strstr(d, "text key"), "%s", d);
  reply_free(&r);
}

Test(models_bad, formula_syntax) {
  const char *bad[] = {"y ~ ~ x", "y x", "~ x",        "y ~", "y ~ log(x",
                       "y ~ x +", "",    "y ~ foo(x)", "   ", "y ~ x + x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    reply r = post(model(bad[i]));
    assert_problem(&r, 422, "formula-error", "/formula");
    reply_free(&r);
  }
}

Test(models_bad, fixed_effects_with_only_singletons) {
  /* Each year holds one row: every row is a singleton of the factor. */
  reply r = post(model("y ~ x + z | year"));
  const char *d = assert_problem(&r, 422, "singular-design", "/data");
  cr_assert(strstr(d, "singletons"), "%s", d);
  reply_free(&r);
}

Test(models_bad, log_of_non_positive_names_every_row) {
  json_t *doc = model("log(y) ~ x + z");
  set_cell(doc, 1, "y", json_real(-61122));
  set_cell(doc, 6, "y", json_real(0.0));
  reply r = post(doc);
  assert_problem(&r, 422, "domain-error", "/data/rows/1/y");
  assert_problem(&r, 422, "domain-error", "/data/rows/6/y");
  cr_assert_null(error_at(&r, "/data/rows/0/y"));
  cr_assert_eq(n_errors(&r), 2);
  reply_free(&r);

  json_t *data = longley_columns(8);
  json_array_set_new(json_object_get(json_object_get(data, "columns"), "x1"), 4,
                     json_real(-1.0));
  r = post(json_pack("{s:o, s:s}", "data", data, "formula", "y ~ log(x1)"));
  assert_problem(&r, 422, "domain-error", "/data/columns/x1/4");
  reply_free(&r);

  doc = model("y ~ sqrt(x)");
  set_cell(doc, 7, "x", json_real(-100.0));
  r = post(doc);
  assert_problem(&r, 422, "domain-error", "/data/rows/7/x");
  reply_free(&r);
}

Test(models_bad, log_domain_errors_are_capped_at_16_rows) {
  json_t *data = longley_columns(16);
  json_t *x1 = json_object_get(json_object_get(data, "columns"), "x1");
  for (size_t i = 0; i < 16; i++)
    json_array_set_new(x1, i, json_real(-1.5));
  json_t *more =
      json_pack("{s:o, s:s}", "data", data, "formula", "y ~ log(x1)");
  reply r = post(more);
  assert_problem(&r, 422, "domain-error", "/data/columns/x1/15");
  cr_assert_eq(n_errors(&r), 16);
  reply_free(&r);
}

Test(models_bad, missing_log_argument_drops_the_row) {
  json_t *doc = model("y ~ log(x)");
  set_cell(doc, 3, "x", json_null());
  reply r = post(doc);
  assert_created(&r);
  cr_assert_eq(json_integer_value(json_object_get(
                   json_object_get(r.json, "dropped"), "missing_rows")),
               1);
  cr_assert_eq(
      json_integer_value(json_object_get(json_object_get(r.json, "fit"), "n")),
      7);
  reply_free(&r);
}

Test(models_bad, rank_zero_design) {
  json_t *doc = model("y ~ x - 1");
  for (size_t i = 0; i < 8; i++)
    set_cell(doc, i, "x", json_real(0.0));
  reply r = post(doc);
  const char *d = assert_problem(&r, 422, "singular-design", "/formula");
  cr_assert(strstr(d, "rank 0"), "%s", d);
  reply_free(&r);
}

Test(models_bad, more_regressors_than_rows) {
  for (size_t n = 3; n <= 4; n++) {
    reply r = post(json_pack("{s:o, s:s}", "data", small_rows(n), "formula",
                             "y ~ x + z + w"));
    const char *d = assert_problem(&r, 422, "singular-design", "/formula");
    char want[32];
    snprintf(want, sizeof want, "n = %zu", n);
    cr_assert(strstr(d, want), "%s", d);
    cr_assert(strstr(d, "k = 4"), "%s", d);
    reply_free(&r);
  }
}

Test(models_bad, no_complete_row) {
  json_t *doc = model("y ~ x");
  for (size_t i = 0; i < 8; i++)
    set_cell(doc, i, "x", json_null());
  reply r = post(doc);
  assert_problem(&r, 422, "singular-design", "/data");
  reply_free(&r);
}

Test(models_bad, empty_data) {
  reply r =
      post(json_pack("{s:{s:[]}, s:s}", "data", "rows", "formula", "y ~ x"));
  cr_assert_str_eq(assert_problem(&r, 422, "invalid-request", "/data/rows"),
                   "must contain at least one row");
  reply_free(&r);
  r = post(json_pack("{s:{s:{}}, s:s}", "data", "columns", "formula", "y ~ x"));
  assert_problem(&r, 422, "invalid-request", "/data/columns");
  reply_free(&r);
}

Test(models_bad, vcov_values) {
  json_t *doc = model("y ~ x");
  json_object_set_new(doc, "vcov", json_string("cluster:nope"));
  reply r = post(doc);
  const char *d = assert_problem(&r, 422, "invalid-request", "/vcov");
  cr_assert(strstr(d, "'nope'"), "%s", d);
  reply_free(&r);
  const char *bad[] = {"hc4",    "cluster:", "cluster",   "HC1",
                       "robust", "",         "cluster:1x"};
  for (size_t i = 0; i < 7; i++) {
    doc = model("y ~ x");
    json_object_set_new(doc, "vcov", json_string(bad[i]));
    r = post(doc);
    assert_problem(&r, 422, "invalid-request", "/vcov");
    reply_free(&r);
  }
  /* One cluster only. */
  doc = model("y ~ x");
  for (size_t i = 0; i < 8; i++)
    set_cell(doc, i, "g", json_real(1.0));
  json_object_set_new(doc, "vcov", json_string("cluster:g"));
  r = post(doc);
  d = assert_problem(&r, 422, "invalid-request", "/vcov");
  cr_assert(strstr(d, "at least 2 clusters"), "%s", d);
  reply_free(&r);
}

Test(models_bad, thresholds) {
  json_t *cases[] = {
      json_pack("[f,f]", 1.2, 0.8),   json_pack("[f,f]", 0.8, 0.8),
      json_pack("[i,f]", 0, 1.2),     json_pack("[f,f]", -0.5, 1.2),
      json_pack("[f]", 0.8),          json_pack("[f,f,f]", 0.8, 1.2, 2.0),
      json_pack("[s,f]", "low", 1.2), json_real(0.8)};
  const char *ptrs[] = {"/potential/thresholds",   "/potential/thresholds",
                        "/potential/thresholds/0", "/potential/thresholds/0",
                        "/potential/thresholds",   "/potential/thresholds",
                        "/potential/thresholds/0", "/potential/thresholds"};
  for (size_t i = 0; i < 8; i++) {
    json_t *doc = model("log(y) ~ log(x) + log(z)");
    json_object_set_new(doc, "potential",
                        json_pack("{s:o}", "thresholds", cases[i]));
    reply r = post(doc);
    assert_problem(&r, 422, "invalid-request", ptrs[i]);
    reply_free(&r);
  }
}

Test(models_bad, limits) {
  api_env env = test_env();
  env.limits.max_formula_len = 10;
  env.limits.max_rows = 4;
  env.limits.max_columns = 3;
  json_t *doc = model("y ~ x + z + w");
  char *text = json_dumps(doc, 0);
  json_decref(doc);
  reply r = call_env(api_post_models, &env, text, strlen(text));
  cr_assert_str_eq(assert_problem(&r, 422, "limit-exceeded", "/formula"),
                   "is 13 bytes long; the limit is 10 bytes");
  assert_problem(&r, 422, "limit-exceeded", "/data/rows");
  reply_free(&r);
  free(text);

  env = test_env();
  env.limits.max_columns = 3;
  doc = model("y ~ x");
  text = json_dumps(doc, 0);
  json_decref(doc);
  r = call_env(api_post_models, &env, text, strlen(text));
  assert_problem(&r, 422, "limit-exceeded", "/data/rows/0/w");
  reply_free(&r);
  free(text);

  env = test_env();
  env.limits.max_json_depth = 4;
  const char *deep = "{\"data\": {\"rows\": [{\"y\": [[1]]}]}, \"formula\": "
                     "\"y ~ x\"}";
  r = call_env(api_post_models, &env, deep, strlen(deep));
  assert_problem(&r, 422, "limit-exceeded", "");
  reply_free(&r);

  /* The default limits: a formula of 2,405 bytes. */
  size_t n = 5 + 4 * 600 + 1;
  char *f = malloc(n);
  memcpy(f, "y ~ x", 6);
  for (int i = 0; i < 600; i++)
    memcpy(f + 5 + 4 * i, " + x", 5);
  r = post(model(f));
  assert_problem(&r, 422, "limit-exceeded", "/formula");
  reply_free(&r);
  free(f);
}

/* Mutated bodies (bytes flipped, cut, duplicated; a fixed-seed generator so
 * failures reproduce) are answered 201, 400 or 422 and never crash. */
Test(models_bad, mutated_bodies_never_crash_nor_5xx) {
  json_t *doc = model("log(y) ~ log(x) + z:w + I(z^2)");
  json_object_set_new(doc, "vcov", json_string("cluster:partner"));
  json_object_set_new(
      doc, "potential",
      json_pack("{s:s, s:[f,f]}", "method", "log", "thresholds", 0.8, 1.2));
  char *base = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  size_t len = strlen(base);
  char *buf = malloc(2 * len + 1);
  unsigned long long s = 0x9e3779b97f4a7c15ull;
  const char alphabet[] = "{}[]:,\"0123456789.-+eE ntrufalsy~|()*/^x\\";
  api_env env = test_env();
  size_t counts[3] = {0};
  for (int it = 0; it < 3000; it++) {
    memcpy(buf, base, len + 1);
    size_t n = len;
    int edits = 1 + it % 4;
    for (int e = 0; e < edits; e++) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      size_t at = (size_t)(s >> 33) % n;
      switch ((s >> 20) % 4) {
      case 0: buf[at] = alphabet[(s >> 8) % (sizeof alphabet - 1)]; break;
      case 1:
        memmove(buf + at, buf + at + 1, n - at);
        n--;
        break;
      case 2:
        if (n < 2 * len) {
          memmove(buf + at + 1, buf + at, n - at + 1);
          buf[at] = alphabet[(s >> 8) % (sizeof alphabet - 1)];
          n++;
        }
        break;
      default:
        n = at + 1;
        buf[n] = '\0';
        break;
      }
    }
    reply r = call_env(api_post_models, &env, buf, n);
    cr_assert(r.status == 201 || r.status == 400 || r.status == 422,
              "status %d for %.*s", r.status, (int)n, buf);
    counts[r.status == 201 ? 0 : r.status == 400 ? 1 : 2]++;
    if (r.status != 201) cr_assert_gt(n_errors(&r), 0);
    reply_free(&r);
  }
  /* The mutations reach every outcome. */
  cr_assert_gt(counts[0], 0);
  cr_assert_gt(counts[1], 0);
  cr_assert_gt(counts[2], 0);
  free(buf);
  free(base);
}

Test(models_bad, domain_error_of_a_term_points_at_the_row) {
  json_t *doc = model("y ~ log(x * z)");
  set_cell(doc, 2, "z", json_real(-258054));
  reply r = post(doc);
  const char *d = assert_problem(&r, 422, "domain-error", "/data/rows/2");
  cr_assert(strstr(d, "log"), "%s", d);
  reply_free(&r);
  json_t *data = longley_columns(8);
  json_array_set_new(json_object_get(json_object_get(data, "columns"), "x2"), 5,
                     json_real(-346999));
  r = post(
      json_pack("{s:o, s:s}", "data", data, "formula", "y ~ log(x1 * x2)"));
  d = assert_problem(&r, 422, "domain-error", "/data/columns");
  cr_assert(strstr(d, "row 5"), "%s", d);
  reply_free(&r);
}

Test(models_bad, hc3_with_a_row_of_leverage_one_points_at_vcov) {
  /* A dummy that is 1 on one row only fits that row exactly (h = 1). */
  json_t *doc = model("y ~ x + d");
  for (size_t i = 0; i < 8; i++)
    set_cell(doc, i, "d", json_real(i == 5));
  json_object_set_new(doc, "vcov", json_string("hc3"));
  reply r = post(doc);
  assert_problem(&r, 422, "singular-design", "/vcov");
  reply_free(&r);
}

Test(models, log_potential_method) {
  reply r =
      post(json_pack("{s:o, s:s, s:{s:s, s:[f,f]}}", "data", gravity_rows(),
                     "formula", "log(etrade) ~ log(gdp_r * gdp_p)", "potential",
                     "method", "log", "thresholds", 0.9, 1.1));
  assert_created(&r);
  json_t *data = gravity_rows();
  json_t *rows = json_object_get(data, "rows");
  size_t i;
  json_t *p;
  double b0 = num(coef(&r, "(Intercept)"), "estimate");
  double b1 = num(coef(&r, "log(gdp_r*gdp_p)"), "estimate");
  size_t seen = 0;
  json_array_foreach(json_object_get(r.json, "potentials"), i, p) {
    json_t *src = json_array_get(
        rows, (size_t)json_integer_value(json_object_get(p, "row")));
    double xb = b0 + b1 * log(num(src, "gdp_r") * num(src, "gdp_p"));
    /* Predicted in levels without smearing; K = ln(actual) / xb. */
    cr_assert_float_eq(num(p, "predicted"), exp(xb), 1e-9 * exp(xb));
    if (json_is_null(json_object_get(src, "etrade"))) continue;
    double k = log(num(src, "etrade")) / xb;
    cr_assert_float_eq(num(p, "k"), k, 1e-9 * fabs(k));
    const char *want = k <= 0.9  ? "huge_potential"
                       : k < 1.1 ? "expanding_potential"
                                 : "remodelling_potential";
    cr_assert_str_eq(json_string_value(json_object_get(p, "class")), want);
    seen++;
  }
  cr_assert_eq(seen, 13);
  json_decref(data);
  reply_free(&r);
}
