/* Handler tests of POST /v1/pca (api/api_pca.c): real WDI e-commerce
 * enablers (tests/e2e/fixtures/enablers_2019.csv) against reference values
 * computed independently with numpy/scipy by fixtures/make_pca_reference.py
 * (fixtures/pca_enablers_2019.json); relative tolerance 1e-9 (absolute
 * 1e-12 near zero). And every bad input with its pointer. */
#include "api/api_testing.h"

#include <errno.h>
#include <stdlib.h>

/* {"rows": [...]} from the enablers CSV: reporter, year, then numbers
 * (empty = null). */
static json_t *enablers(void) {
  const char *path =
      GRAVITAS_SOURCE_DIR "/tests/e2e/fixtures/enablers_2019.csv";
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "cannot open %s", path);
  char line[1024], names[8][32];
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
        cr_assert(strlen(s) < sizeof names[0] && nn < 8);
        memcpy(names[nn++], s, strlen(s) + 1);
      } else if (k == 0) {
        json_object_set_new(row, names[k], json_string(s));
      } else if (k == 1) {
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
  return json_pack("{s:o}", "rows", rows);
}

static json_t *reference(void) {
  json_error_t e;
  json_t *j = json_load_file(
      GRAVITAS_SOURCE_DIR "/tests/api/fixtures/pca_enablers_2019.json", 0, &e);
  cr_assert_not_null(j, "%s", e.text);
  return j;
}

static void close_to(double got, double want, const char *what, size_t i,
                     size_t j) {
  double tol = fmax(1e-9 * fabs(want), 1e-12);
  cr_assert(fabs(got - want) <= tol, "%s[%zu][%zu]: %.17g, want %.17g", what, i,
            j, got, want);
}

static void same_numbers(json_t *got, json_t *want, const char *what) {
  cr_assert_eq(json_array_size(got), json_array_size(want), "%s", what);
  for (size_t i = 0; i < json_array_size(want); i++) {
    json_t *g = json_array_get(got, i), *w = json_array_get(want, i);
    if (json_is_array(w)) {
      cr_assert_eq(json_array_size(g), json_array_size(w));
      for (size_t j = 0; j < json_array_size(w); j++)
        close_to(json_number_value(json_array_get(g, j)),
                 json_number_value(json_array_get(w, j)), what, i, j);
    } else if (json_is_null(w)) {
      cr_assert(json_is_null(g), "%s[%zu] should be null", what, i);
    } else {
      cr_assert(json_is_number(g), "%s[%zu] is not a number", what, i);
      close_to(json_number_value(g), json_number_value(w), what, i, 0);
    }
  }
}

static json_t *request(void) {
  return json_pack("{s:o, s:[s,s,s,s], s:{s:s, s:s}}", "data", enablers(),
                   "variables", "internet", "broadband", "servers", "tertiary",
                   "index", "method", "first", "scale", "unit");
}

Test(pca, enablers_match_the_reference) {
  reply r = call_json(api_post_pca, request());
  char *dump = json_dumps(r.json, JSON_COMPACT);
  cr_assert_eq(r.status, 200, "%.600s", dump);
  free(dump);
  cr_assert_str_eq(r.content_type, "application/json");
  json_t *ref = reference();
  cr_assert_eq(json_integer_value(json_object_get(r.json, "n")), 7);
  cr_assert_eq(json_integer_value(json_object_get(r.json, "n_dropped")), 3);
  cr_assert(json_equal(json_object_get(r.json, "variables"),
                       json_object_get(ref, "variables")));
  const char *keys[] = {"eigenvalues", "proportion", "cumulative",
                        "eigenvectors", "loadings"};
  for (size_t k = 0; k < 5; k++)
    same_numbers(json_object_get(r.json, keys[k]),
                 json_object_get(ref, keys[k]), keys[k]);
  same_numbers(json_object_get(r.json, "index"),
               json_object_get(ref, "index_first_unit"), "index");
  cr_assert_eq(json_array_size(json_object_get(r.json, "index")), 10,
               "one entry per data row");
  cr_assert_eq(json_integer_value(json_object_get(r.json, "n_components_kept")),
               1);
  json_t *kmo = json_object_get(r.json, "kmo"),
         *rk = json_object_get(ref, "kmo");
  close_to(json_number_value(json_object_get(kmo, "overall")),
           json_number_value(json_object_get(rk, "overall")), "kmo", 0, 0);
  const char *v;
  json_t *w;
  json_object_foreach(json_object_get(rk, "per_variable"), v, w) {
    close_to(json_number_value(
                 json_object_get(json_object_get(kmo, "per_variable"), v)),
             json_number_value(w), v, 0, 0);
  }
  json_t *b = json_object_get(r.json, "bartlett"),
         *rb = json_object_get(ref, "bartlett");
  const char *bk[] = {"statistic", "df", "p_value"};
  for (size_t k = 0; k < 3; k++)
    close_to(json_number_value(json_object_get(b, bk[k])),
             json_number_value(json_object_get(rb, bk[k])), bk[k], 0, 0);
  cr_assert_str_eq(
      json_string_value(json_object_get(r.json, "sign_convention")),
      "each component is oriented so that the sum of its loadings is "
      "positive");
  cr_assert(json_is_array(json_object_get(r.json, "warnings")));
  json_decref(ref);
  reply_free(&r);
}

Test(pca, columns_form_gives_the_same_answer) {
  json_t *data = enablers();
  json_t *rows = json_object_get(data, "rows");
  json_t *cols = json_object();
  const char *names[] = {"internet", "broadband", "servers", "tertiary"};
  for (size_t k = 0; k < 4; k++) {
    json_t *a = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
      json_array_append(a, json_object_get(row, names[k]));
    }
    json_object_set_new(cols, names[k], a);
  }
  json_decref(data);
  reply a = call_json(api_post_pca, request());
  reply b = call_json(api_post_pca,
                      json_pack("{s:{s:o}, s:[s,s,s,s], s:{s:s, s:s}}", "data",
                                "columns", cols, "variables", "internet",
                                "broadband", "servers", "tertiary", "index",
                                "method", "first", "scale", "unit"));
  cr_assert_eq(b.status, 200);
  cr_assert(json_equal(a.json, b.json));
  reply_free(&a);
  reply_free(&b);
}

static json_t *small(void) {
  json_t *rows = json_array();
  for (int i = 0; i < 10; i++)
    json_array_append_new(rows, json_pack("{s:f, s:f, s:f}", "a", 1.25 * i, "b",
                                          (i * 7) % 5 + 0.5, "c",
                                          (i * i) % 7 - 2.75));
  return json_pack("{s:o}", "rows", rows);
}

static reply pca(json_t *vars, json_t *index, json_t *extra) {
  json_t *doc = json_pack("{s:o, s:o}", "data", small(), "variables", vars);
  if (index) json_object_set_new(doc, "index", index);
  if (extra) json_object_set_new(doc, "extra", extra);
  return call_json(api_post_pca, doc);
}

Test(pca, kaiser_and_percent) {
  reply r = pca(json_pack("[s,s,s]", "a", "b", "c"),
                json_pack("{s:s, s:s}", "method", "kaiser", "scale", "percent"),
                NULL);
  cr_assert_eq(r.status, 200);
  double lo = 1e300, hi = -1e300;
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(r.json, "index"), i, v) {
    lo = fmin(lo, json_number_value(v));
    hi = fmax(hi, json_number_value(v));
  }
  cr_assert_float_eq(lo, 0, 1e-12);
  cr_assert_float_eq(hi, 100, 1e-10);
  reply_free(&r);
}

Test(pca_bad, unknown_variable) {
  reply r = pca(json_pack("[s,s]", "a", "nope"), NULL, NULL);
  const char *d = assert_problem(&r, 422, "invalid-request", "/variables/1");
  cr_assert_str_eq(d, "unknown variable 'nope'; the data has: a, b, c");
  reply_free(&r);
}

Test(pca_bad, variables_list) {
  reply r = pca(json_pack("[s]", "a"), NULL, NULL);
  assert_problem(&r, 422, "invalid-request", "/variables");
  reply_free(&r);
  r = pca(json_string("a"), NULL, NULL);
  cr_assert_str_eq(assert_problem(&r, 422, "invalid-request", "/variables"),
                   "must be an array");
  reply_free(&r);
  r = pca(json_pack("[s,i,s]", "a", 3, "a"), NULL, NULL);
  assert_problem(&r, 422, "invalid-request", "/variables/1");
  cr_assert_str_eq(assert_problem(&r, 422, "invalid-request", "/variables/2"),
                   "'a' is listed twice");
  reply_free(&r);
}

Test(pca_bad, index_options_and_unknown_fields) {
  reply r =
      pca(json_pack("[s,s]", "a", "b"),
          json_pack("{s:s, s:s, s:i}", "method", "mean", "scale", "z", "k", 1),
          json_integer(1));
  assert_problem(&r, 422, "invalid-request", "/index/method");
  assert_problem(&r, 422, "invalid-request", "/index/scale");
  assert_problem(&r, 422, "invalid-request", "/index/k");
  assert_problem(&r, 422, "invalid-request", "/extra");
  reply_free(&r);
  r = call(api_post_pca, "{}");
  assert_problem(&r, 422, "invalid-request", "/data");
  assert_problem(&r, 422, "invalid-request", "/variables");
  reply_free(&r);
}

Test(pca_bad, constant_column) {
  json_t *d = small();
  size_t i;
  json_t *row;
  json_array_foreach(json_object_get(d, "rows"), i, row) {
    json_object_set_new(row, "k", json_real(2.5));
  }
  reply r = call_json(api_post_pca, json_pack("{s:o, s:[s,s]}", "data", d,
                                              "variables", "a", "k"));
  assert_problem(&r, 422, "invalid-request", NULL);
  reply_free(&r);
}

Test(pca_bad, too_few_rows) {
  reply r =
      call(api_post_pca,
           "{\"data\": {\"rows\": [{\"a\": 1.5, \"b\": 2.25},"
           " {\"a\": 2.5, \"b\": 1.75}]}, \"variables\": [\"a\", \"b\"]}");
  assert_problem(&r, 422, "singular-design", "/data/rows");
  reply_free(&r);
}

Test(pca_bad, bad_data_and_malformed_json) {
  reply r = call(api_post_pca, "{\"data\": ");
  assert_problem(&r, 400, "malformed-json", "");
  reply_free(&r);
  r = call(api_post_pca, "{\"data\": {\"rows\": [{\"a\": \"x\", \"b\": 1}]},"
                         " \"variables\": [\"a\", \"b\"]}");
  assert_problem(&r, 422, "invalid-request", "/data/rows/0/a");
  reply_free(&r);
  r = call(api_post_pca, "");
  assert_problem(&r, 400, "malformed-json", "");
  reply_free(&r);
}

Test(pca_bad, text_key_is_not_a_variable) {
  reply r = call(api_post_pca,
                 "{\"data\": {\"rows\": [{\"reporter\": \"CHN\", \"a\": 1.5}]},"
                 " \"variables\": [\"a\", \"reporter\"]}");
  cr_assert_str_eq(assert_problem(&r, 422, "invalid-request", "/variables/1"),
                   "'reporter' is a text key, not a number");
  reply_free(&r);
}

Test(pca_bad, limits) {
  api_env env = test_env();
  env.limits.max_columns = 2;
  const char *body = "{\"data\": {\"rows\": [{\"a\": 1.5, \"b\": 2.25}]},"
                     " \"variables\": [\"a\", \"b\", \"c\"]}";
  reply r = call_env(api_post_pca, &env, body, strlen(body));
  cr_assert_str_eq(assert_problem(&r, 422, "limit-exceeded", "/variables"),
                   "lists 3 variables; the limit is 2");
  reply_free(&r);
  env = test_env();
  env.limits.max_rows = 1;
  body = "{\"data\": {\"rows\": [{\"a\": 1.5}, {\"a\": 2.5}]},"
         " \"variables\": [\"a\", \"b\"]}";
  r = call_env(api_post_pca, &env, body, strlen(body));
  assert_problem(&r, 422, "limit-exceeded", "/data/rows");
  reply_free(&r);
  /* A limit together with an invalid field: the invalid field wins. */
  body = "{\"data\": {\"rows\": [{\"a\": 1.5}, {\"a\": 2.5}]},"
         " \"variables\": [\"a\", \"b\"], \"extra\": 1}";
  r = call_env(api_post_pca, &env, body, strlen(body));
  assert_problem(&r, 422, "invalid-request", "/extra");
  assert_problem(&r, 422, "invalid-request", "/data/rows");
  reply_free(&r);
}

/* Mutated bodies (fixed-seed edits) are answered 200, 400 or 422. */
Test(pca_bad, mutated_bodies_never_crash_nor_5xx) {
  json_t *doc =
      json_pack("{s:o, s:[s,s,s], s:{s:s, s:s}}", "data", small(), "variables",
                "a", "b", "c", "index", "method", "kaiser", "scale", "unit");
  char *base = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  size_t len = strlen(base);
  char *buf = malloc(len + 1);
  unsigned long long s = 0x2545f4914f6cdd1dull;
  const char alphabet[] = "{}[]:,\"0123456789.-e nul";
  api_env env = test_env();
  size_t ok = 0;
  for (int it = 0; it < 2000; it++) {
    memcpy(buf, base, len + 1);
    size_t n = len;
    for (int e = 0; e < 1 + it % 3; e++) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      size_t at = (size_t)(s >> 33) % n;
      if ((s >> 20) % 3 == 0) {
        memmove(buf + at, buf + at + 1, n - at);
        n--;
      } else {
        buf[at] = alphabet[(s >> 8) % (sizeof alphabet - 1)];
      }
    }
    reply r = call_env(api_post_pca, &env, buf, n);
    cr_assert(r.status == 200 || r.status == 400 || r.status == 422,
              "status %d for %.*s", r.status, (int)n, buf);
    ok += r.status == 200;
    reply_free(&r);
  }
  cr_assert_gt(ok, 0);
  free(buf);
  free(base);
}
