/* Lifted numeric columns (api/api_lift.c): which arrays are lifted, that
 * the values are Jansson's to the bit, and that every answer (panel,
 * errors, problem bodies with their line and column) is the one the plain
 * parse gives. fuzz_request checks the same equivalence on arbitrary
 * bodies. */
#include "api/api_testing.h"

#include <math.h>

#include "api_data.h"
#include "api_json.h"
#include "api_lift.h"

typedef struct both {
  json_t *plain, *lifted_root;
  api_lifted lifted;
  api_response rp, rl;
} both;

static both parse_both(const char *text, size_t max_depth) {
  api_env env = test_env();
  if (max_depth) env.limits.max_json_depth = max_depth;
  api_request req = {.body = text, .body_len = strlen(text), .env = &env};
  both b;
  memset(&b, 0, sizeof b);
  b.plain = api_json_parse_body(&req, &env.limits, &b.rp);
  b.lifted_root =
      api_json_parse_body_lifted(&req, &env.limits, &b.rl, &b.lifted);
  return b;
}

static void both_free(both *b) {
  json_decref(b->plain);
  json_decref(b->lifted_root);
  api_lifted_free(&b->lifted);
  api_response_free(&b->rp);
  api_response_free(&b->rl);
}

/* Decodes data (at path "data" of both roots, or the roots) both ways and
 * asserts the same verdict, errors and panel, bit for bit. Returns the
 * plain decoding's verdict. */
static bool same_decoding(both *b, bool member) {
  const json_t *a = member ? json_object_get(b->plain, "data") : b->plain;
  const json_t *l =
      member ? json_object_get(b->lifted_root, "data") : b->lifted_root;
  api_limits lim;
  api_limits_default(&lim);
  api_data da = {0}, dl = {0};
  api_errors ea = {0}, el = {0};
  api_error_code ca = API_E_COUNT, cl = API_E_COUNT;
  bool oka = api_data_decode(a, "/data", &lim, NULL, &da, &ca, &ea);
  bool okl = api_data_decode(l, "/data", &lim, &b->lifted, &dl, &cl, &el);
  cr_assert_eq(oka, okl);
  if (!oka) cr_assert_eq(ca, cl);
  char *ta = ea.list ? json_dumps(ea.list, JSON_COMPACT) : NULL;
  char *tl = el.list ? json_dumps(el.list, JSON_COMPACT) : NULL;
  cr_assert((ta == NULL) == (tl == NULL));
  if (ta) cr_assert_str_eq(ta, tl);
  free(ta);
  free(tl);
  if (oka) {
    cr_assert_eq(da.panel->n, dl.panel->n);
    cr_assert_eq(da.panel->ncol, dl.panel->ncol);
    char **ka[2] = {da.panel->reporter, da.panel->partner};
    char **kl[2] = {dl.panel->reporter, dl.panel->partner};
    for (int k = 0; k < 2; k++) {
      cr_assert((ka[k] == NULL) == (kl[k] == NULL), "key %d", k);
      for (size_t i = 0; ka[k] != NULL && i < da.panel->n; i++) {
        cr_assert((ka[k][i] == NULL) == (kl[k][i] == NULL), "row %zu", i);
        if (ka[k][i] != NULL) cr_assert_str_eq(ka[k][i], kl[k][i]);
      }
    }
    cr_assert((da.panel->year == NULL) == (dl.panel->year == NULL));
    if (da.panel->year != NULL)
      cr_assert_eq(
          memcmp(da.panel->year, dl.panel->year, da.panel->n * sizeof(int)), 0,
          "years differ");
    for (size_t j = 0; j < da.panel->ncol; j++) {
      cr_assert_str_eq(da.panel->names[j], dl.panel->names[j]);
      cr_assert_eq(memcmp(da.panel->cols[j], dl.panel->cols[j],
                          da.panel->n * sizeof(double)),
                   0, "column %s differs", da.panel->names[j]);
    }
  }
  api_data_free(&da);
  api_data_free(&dl);
  api_errors_clear(&ea);
  api_errors_clear(&el);
  return oka;
}

/* The datasets form as api_datasets.c decodes it: the body without "name"
 * (both parses). */
static void drop_name(both *b) {
  json_t *root = json_copy(b->lifted_root), *plain = json_copy(b->plain);
  json_object_del(root, "name");
  json_object_del(plain, "name");
  json_decref(b->plain);
  json_decref(b->lifted_root);
  b->plain = plain;
  b->lifted_root = root;
}

static void same_problem(both *b) {
  cr_assert_null(b->plain);
  cr_assert_null(b->lifted_root);
  cr_assert_eq(b->rp.status, b->rl.status);
  cr_assert_eq(b->rp.body_len, b->rl.body_len);
  cr_assert_eq(memcmp(b->rp.body, b->rl.body, b->rp.body_len), 0, "%s | %s",
               b->rp.body, b->rl.body);
  cr_assert_eq(b->lifted.n, 0u, "nothing stays lifted on failure");
  cr_assert_eq(b->lifted.nrows, 0u, "nothing stays lifted on failure");
}

/* Numbers of every form Jansson reads, nulls among them. */
#define EDGE_NUMBERS                                                           \
  "0, -0, -0.0, 1, -1, 0.1, 1e-320, 5e-324, 2.2250738585072014e-308, "         \
  "1.7976931348623157e308, 123456789012345678, 9223372036854775807, "          \
  "-9223372036854775808, 1E5, 1e+5, 2.5E-3, null, 3.141592653589793, "         \
  "0.30000000000000004, 1e22, 1e23, 9007199254740993, null"

Test(lift, columns_are_lifted_with_jansson_values) {
  const char *text = "{\"data\": {\"columns\": {\"y\": [" EDGE_NUMBERS
                     "], \"x\": [" EDGE_NUMBERS "]}}, \"formula\": \"y ~ x\"}";
  both b = parse_both(text, 0);
  cr_assert_not_null(b.plain);
  cr_assert_not_null(b.lifted_root);
  cr_assert_eq(b.lifted.n, 2u, "both columns lifted");
  const json_t *y = json_object_get(
      json_object_get(json_object_get(b.lifted_root, "data"), "columns"), "y");
  const api_lifted_col *c = api_lifted_get(&b.lifted, y);
  cr_assert_not_null(c);
  cr_assert_eq(c->n, 23u);
  cr_assert(signbit(c->v[1]) == 0, "-0 is an integer: +0, as Jansson");
  cr_assert(signbit(c->v[2]) != 0, "-0.0 is a real: -0");
  cr_assert(isnan(c->v[16]));
  cr_assert_eq(c->v[14], 1e+5);
  cr_assert_eq(c->v[21], 9007199254740992.0, "rounded as strtoll + cast");
  cr_assert(same_decoding(&b, true));
  both_free(&b);
}

Test(lift, the_datasets_form_and_pretty_printing) {
  const char *text = "{\n  \"name\": \"d\",\n  \"columns\": {\n    \"year\": "
                     "[2001, 2002, 2003, 2004, 2005, 2006, 2007, 2008],\n"
                     "    \"v\": [\n      1.5,\n      -2.25,\n      null,\n"
                     "      1e300,\n      7,\n      8,\n      9,\n      10\n"
                     "    ]\n  }\n}\n";
  both b = parse_both(text, 0);
  cr_assert_not_null(b.lifted_root);
  cr_assert_eq(b.lifted.n, 1u, "v, not the year column");
  drop_name(&b);
  cr_assert(same_decoding(&b, false));
  both_free(&b);
}

Test(lift, arrays_jansson_would_refuse_or_read_otherwise_stay) {
  /* A string, a nested array, leading zeros, an integer past 64 bits, a
   * real that overflows, a short array: none is lifted. */
  const char *cases[] = {
      "{\"data\": {\"columns\": {\"y\": [1, 2, 3, 4, 5, 6, 7, \"8\", 9, 10, "
      "11, "
      "12]}}}",
      "{\"data\": {\"columns\": {\"y\": [1, 2, 3, 4, 5, 6, 7, [8], 9, 10, 11, "
      "12]}}}",
      "{\"data\": {\"columns\": {\"y\": [1, 2, 3, 4, 5, 6, 7, 08, 9, 10, 11, "
      "12]}}}",
      "{\"data\": {\"columns\": {\"y\": [1, 2, 3, 4, 5, 6, "
      "92233720368547758080, 9]}}}",
      "{\"data\": {\"columns\": {\"y\": [1, 2, 3, 4, 5, 6, 7, 1e400, 9, 10, "
      "11]}}}",
      "{\"data\": {\"columns\": {\"y\": [1, 2]}}}",
      /* a token of 64 bytes or more (TOKEN_MAX) is Jansson's to read */
      "{\"data\": {\"columns\": {\"y\": [1.5, 2.5, 3.5, 4.5, 5.5, "
      "0.10000000000000000000000000000000000000000000000000000000000000001, "
      "7.5]}}}",
      "{\"data\": {\"columns\": {\"y\": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, "
      "12,]}}}",
      "{\"data\": {\"columns\": {\"y\": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, "
      "12], \"y\": [1]}}}",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    both b = parse_both(cases[i], 0);
    if (b.plain == NULL) {
      same_problem(&b);
    } else {
      cr_assert_eq(b.lifted.n, 0u, "%s", cases[i]);
      same_decoding(&b, true);
    }
    both_free(&b);
  }
}

Test(lift, errors_after_a_lifted_array_keep_line_and_column) {
  const char *text = "{\"data\": {\"columns\": {\"y\": [\n1.5, 2.5, 3.5, 4.5,\n"
                     "5.5, 6.5, 7.5, 8.5, 9.5, 10.5\n]}},\n\"formula\": \"y ~ "
                     "x\" x}";
  both b = parse_both(text, 0);
  same_problem(&b);
  cr_assert(strstr(b.rp.body, "line 5") != NULL, "%s", b.rp.body);
  both_free(&b);
}

Test(lift, a_marker_sent_by_a_client_is_only_a_string) {
  const char *text =
      "{\"data\": {\"columns\": {\"y\": \"\\u0001gv1:0\", \"x\": "
      "[1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5]}}}";
  both b = parse_both(text, 0);
  cr_assert_not_null(b.lifted_root);
  cr_assert_eq(b.lifted.n, 0u, "\\u0001 in the body: nothing is lifted");
  cr_assert_not(same_decoding(&b, true), "y is not an array");
  both_free(&b);
}

Test(lift, the_depth_limit_judges_the_same_tree) {
  const char *text = "{\"data\": {\"columns\": {\"y\": [1.5, 2.5, 3.5, 4.5, "
                     "5.5, 6.5, 7.5, 8.5, 9.5, 10.5]}}}";
  both b = parse_both(text, 3); /* the array is the 4th level */
  same_problem(&b);
  cr_assert_eq(b.rp.status, 422);
  both_free(&b);
  b = parse_both(text, 4);
  cr_assert_not_null(b.lifted_root);
  cr_assert_eq(b.lifted.n, 1u);
  both_free(&b);
}

Test(lift, other_places_and_escaped_keys_are_not_lifted) {
  const char *cases[] = {
      /* not under columns */
      "{\"data\": {\"rows\": [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5]}}",
      /* columns deeper than /data/columns */
      "{\"x\": {\"data\": {\"columns\": {\"y\": [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, "
      "7.5, 8.5, 9.5]}}}}",
      /* an escaped key: "d\u0061ta" is data to Jansson, not to the scan */
      "{\"d\\u0061ta\": {\"columns\": {\"y\": [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, "
      "7.5, 8.5, 9.5]}}}",
      "{\"data\": {\"columns\": {\"\\u0079\": [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, "
      "7.5, 8.5, 9.5]}}}",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    both b = parse_both(cases[i], 0);
    cr_assert_not_null(b.lifted_root, "%s", cases[i]);
    cr_assert_eq(b.lifted.n, 0u, "%s", cases[i]);
    same_decoding(&b, true);
    both_free(&b);
  }
}

Test(lift, lift_load_of_a_stored_dataset) {
  /* What the store holds (api_datasets.c): the columns form at the top. */
  const char *text =
      "{\"columns\":{\"year\":[2019,2020,2021],\"gdp\":[1.0000000000000000,"
      "2.5,null],\"pop\":[3.0000000000000000,4.0000000000000000,5.0]}}";
  api_lifted lifted = {0};
  json_error_t err;
  json_t *j = api_lift_load(text, strlen(text), JSON_REJECT_DUPLICATES, 0, 0, 0,
                            &lifted, &err);
  cr_assert_not_null(j, "%s", err.text);
  cr_assert_eq(lifted.n, 1u, "pop; gdp is shorter than a marker is worth");
  api_limits lim;
  api_limits_default(&lim);
  api_data d = {0};
  api_errors errs = {0};
  api_error_code code;
  cr_assert(api_data_decode(j, "", &lim, &lifted, &d, &code, &errs));
  cr_assert_eq(d.panel->n, 3u);
  cr_assert_eq(d.panel->ncol, 2u);
  cr_assert_eq(d.panel->cols[0][1], 2.5);
  cr_assert(isnan(d.panel->cols[0][2]));
  cr_assert_eq(d.panel->cols[1][1], 4.0);
  cr_assert_eq(d.panel->year[2], 2021);
  api_data_free(&d);
  api_errors_clear(&errs);
  json_decref(j);
  api_lifted_free(&lifted);
}

/* ---- rows ---------------------------------------------------------------- */

/* Rows of every kind the decoder takes without a fault: members in any
 * order, numeric members absent from some rows or first seen late, null
 * keys and cells, the edge numbers, strings of UTF-8, pretty printing. */
#define CLEAN_ROWS                                                             \
  "[{\"reporter\": \"CHN\", \"partner\": \"KAZ\", \"year\": 2019, "            \
  "\"y\": 1.5, \"x\": -0},\n"                                                  \
  " {\"x\": 2.25, \"year\": -9999, \"partner\": \"K\xc3\xa9Z\", "              \
  "\"reporter\": \"CHN\", \"y\": null},\n"                                     \
  " {\"reporter\": null, \"year\": 9999, \"y\": 1e300, \"late\": 7, "          \
  "\"partner\": \"KAZ\"},\n"                                                   \
  " {\"year\": 0, \"y\": -0.0, \"x\": 9007199254740993, \"partner\": null},\n" \
  " {\"year\": 2020, \"x\": 5e-324, \"y\": 123456789012345678, \"late\": "     \
  "null, \"reporter\": \"CHN\"}]"

Test(lift, rows_are_lifted_with_the_decoder_s_values) {
  const char *texts[] = {"{\"data\": {\"rows\": " CLEAN_ROWS "}, "
                         "\"formula\": \"y ~ x\"}",
                         "{\"name\": \"d\", \"rows\": " CLEAN_ROWS "}"};
  for (size_t t = 0; t < 2; t++) {
    both b = parse_both(texts[t], 0);
    cr_assert_not_null(b.lifted_root, "%s", texts[t]);
    cr_assert_eq(b.lifted.nrows, 1u, "%s", texts[t]);
    const api_lifted_rows *r = &b.lifted.rows[0];
    cr_assert_eq(r->n, 5u);
    cr_assert_eq(r->ncol, 3u);
    cr_assert_str_eq(r->names[0], "y");
    cr_assert_str_eq(r->names[2], "late");
    cr_assert_eq(r->first_row[2], 2u);
    cr_assert(signbit(r->cols[1][0]) == 0, "-0 is an integer: +0");
    cr_assert(signbit(r->cols[0][3]) != 0, "-0.0 is a real: -0");
    cr_assert(isnan(r->cols[2][0]) && isnan(r->cols[2][4]));
    cr_assert(r->keys[0][0] == r->keys[0][1], "CHN is kept once");
    if (t == 1) drop_name(&b);
    cr_assert(same_decoding(&b, t == 0), "%s", texts[t]);
    both_free(&b);
  }
}

Test(lift, rows_the_decoder_would_fault_or_jansson_refuse_stay) {
  const char *pre = "{\"data\": {\"rows\": [{\"reporter\": \"CHN\", \"year\": "
                    "2019, \"y\": 1.5}, ";
  const char *rows[] = {
      "{\"reporter\": \"CHN\", \"year\": null, \"y\": 2}",
      "{\"reporter\": \"CHN\", \"y\": 2}",
      "{\"reporter\": \"CHN\", \"year\": 2020.0, \"y\": 2}",
      "{\"reporter\": \"CHN\", \"year\": 10000, \"y\": 2}",
      "{\"reporter\": \"CHN\", \"year\": \"2020\", \"y\": 2}",
      "{\"reporter\": \"\", \"year\": 2020, \"y\": 2}",
      "{\"reporter\": "
      "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
      "AAAAAAAA\", \"year\": 2020, \"y\": 2}",
      "{\"reporter\": \"\\u0043HN\", \"year\": 2020, \"y\": 2}",
      "{\"reporter\": 7, \"year\": 2020, \"y\": 2}",
      "{\"reporter\": \"C\xff\", \"year\": 2020, \"y\": 2}",
      "{\"reporter\": \"CHN\", \"year\": 2020, \"y\": \"2\"}",
      "{\"reporter\": \"CHN\", \"year\": 2020, \"y\": true}",
      "{\"reporter\": \"CHN\", \"year\": 2020, \"y\": [2]}",
      "{\"reporter\": \"CHN\", \"year\": 2020, \"1y\": 2}",
      "{\"reporter\": \"CHN\", \"year\": 2020, \"\\u0079\": 2}",
      "{\"reporter\": \"CHN\", \"year\": 2020, \"y\": 2, \"y\": 3}",
      "{\"reporter\": \"CHN\", \"reporter\": \"KAZ\", \"year\": 2020}",
      "{\"reporter\": \"CHN\", \"year\": 2020, \"y\": 02}",
      "{\"reporter\": \"CHN\", \"year\": 2020, \"y\": 1e400}",
      "{\"reporter\": \"CHN\", \"year\": 2020, \"y\": nullx}",
      "{}",
      "[1]",
      "7",
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char text[512];
    snprintf(text, sizeof text, "%s%s]}}", pre, rows[i]);
    both b = parse_both(text, 0);
    if (b.plain == NULL) {
      same_problem(&b);
    } else {
      cr_assert_eq(b.lifted.nrows, 0u, "%s", text);
      same_decoding(&b, true);
    }
    both_free(&b);
  }
}

Test(lift, rows_keep_the_limits_and_the_depth_of_the_same_tree) {
  /* The rows array is the 3rd level and its rows the 4th. */
  const char *text = "{\"data\": {\"rows\": [{\"y\": 1.5, \"x\": 2}, "
                     "{\"y\": 2.5, \"x\": 3}, {\"y\": 3.5, \"x\": 4}]}}";
  both b = parse_both(text, 3);
  same_problem(&b);
  both_free(&b);
  b = parse_both(text, 4);
  cr_assert_eq(b.lifted.nrows, 1u);
  both_free(&b);
  /* Past max_rows or max_columns: left to the decoder, which answers the
   * limit at the same place. */
  api_limits lim;
  api_limits_default(&lim);
  lim.max_rows = 2;
  api_lifted l = {0};
  json_error_t err;
  json_t *j = api_lift_load(text, strlen(text), JSON_REJECT_DUPLICATES, 0,
                            lim.max_rows, lim.max_columns, &l, &err);
  cr_assert_not_null(j);
  cr_assert_eq(l.nrows, 0u, "3 rows > max_rows 2");
  api_data d = {0};
  api_errors errs = {0};
  api_error_code code = API_E_COUNT;
  cr_assert_not(api_data_decode(json_object_get(j, "data"), "/data", &lim, &l,
                                &d, &code, &errs));
  cr_assert_eq(code, API_E_LIMIT);
  api_errors_clear(&errs);
  json_decref(j);
  api_lifted_free(&l);
  lim.max_rows = 10;
  lim.max_columns = 1;
  j = api_lift_load(text, strlen(text), JSON_REJECT_DUPLICATES, 0, lim.max_rows,
                    lim.max_columns, &l, &err);
  cr_assert_eq(l.nrows, 0u, "2 variables > max_columns 1");
  cr_assert_not(api_data_decode(json_object_get(j, "data"), "/data", &lim, &l,
                                &d, &code, &errs));
  cr_assert_eq(code, API_E_LIMIT);
  char *e = json_dumps(errs.list, JSON_COMPACT);
  cr_assert(strstr(e, "\"/data/rows/0/x\"") != NULL, "%s", e);
  free(e);
  api_errors_clear(&errs);
  json_decref(j);
  api_lifted_free(&l);
}

/* Found by fuzz_request: a body that ends right after a row's comma. The
 * scan must not read past the end (the copy has no terminating NUL, so
 * ASan sees any byte read beyond it). */
Test(lift, rows_cut_after_a_comma_are_refused_without_reading_past_the_end) {
  const char *text = "{\"data\": {\"rows\": [{\"reporter\": \"CHN\", \"year\": "
                     "2010, \"y\": 1.5, \"x\": 2.25}, ";
  size_t len = strlen(text);
  char *exact = malloc(len);
  cr_assert_not_null(exact);
  memcpy(exact, text, len);
  api_lifted l = {0};
  json_error_t err;
  json_t *j =
      api_lift_load(exact, len, JSON_REJECT_DUPLICATES, 0, 0, 0, &l, &err);
  cr_assert_null(j, "a truncated body is malformed");
  cr_assert_eq(l.nrows, 0u);
  free(exact);
}
