/* Tests of inline dataset decoding (api/api_data.c): both forms, every
 * fault with its pointer, limits, and cell pointers. */
#include "api/api_testing.h"

#include "api_data.h"

typedef struct decoded {
  bool ok;
  api_error_code code;
  api_data data;
  json_t *errors; /* owned */
} decoded;

static decoded decode_lim(const char *text, const api_limits *lim) {
  json_error_t e;
  json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
  cr_assert_not_null(j, "bad fixture: %s", e.text);
  decoded d = {0};
  api_errors errs = {0};
  d.ok = api_data_decode(j, "/data", lim, NULL, &d.data, &d.code, &errs);
  d.errors = errs.list ? errs.list : json_array();
  json_decref(j);
  return d;
}

static decoded decode(const char *text) {
  api_limits lim;
  api_limits_default(&lim);
  return decode_lim(text, &lim);
}

static void decoded_free(decoded *d) {
  api_data_free(&d->data);
  json_decref(d->errors);
}

static const char *detail_at(const decoded *d, const char *ptr) {
  size_t i;
  json_t *e;
  json_array_foreach(d->errors, i, e) {
    if (strcmp(json_string_value(json_object_get(e, "pointer")), ptr) == 0)
      return json_string_value(json_object_get(e, "detail"));
  }
  return NULL;
}

static void expect_fault(const char *text, api_error_code code, const char *ptr,
                         const char *fragment) {
  decoded d = decode(text);
  char *dump = json_dumps(d.errors, 0);
  cr_assert_not(d.ok, "%s", text);
  cr_assert_eq(d.code, code, "%s -> %s", text, dump);
  cr_assert_null(d.data.panel);
  const char *detail = detail_at(&d, ptr);
  cr_assert_not_null(detail, "no error at %s for %s: %s", ptr, text, dump);
  if (fragment)
    cr_assert(strstr(detail, fragment) != NULL, "'%s' lacks '%s'", detail,
              fragment);
  free(dump);
  decoded_free(&d);
}

Test(data, rows_form) {
  decoded d = decode(
      "{\"rows\": [{\"reporter\": \"CHN\", \"partner\": \"KAZ\", \"year\": "
      "2015, \"etrade\": 14291000000.5, \"gdp\": null},"
      " {\"year\": 2016, \"gdp\": 1.0123456789012345e13, \"reporter\": "
      "\"CHN\", \"partner\": null}]}");
  cr_assert(d.ok);
  const core_panel *p = d.data.panel;
  cr_assert_eq(d.data.form, API_DATA_ROWS);
  cr_assert_eq(p->n, 2);
  cr_assert_eq(p->ncol, 2);
  cr_assert_str_eq(p->names[0], "etrade");
  cr_assert_str_eq(p->names[1], "gdp");
  cr_assert_eq(p->cols[0][0], 14291000000.5);
  cr_assert(isnan(p->cols[0][1]), "a variable absent from a row is missing");
  cr_assert(isnan(p->cols[1][0]), "null is missing");
  cr_assert_eq(p->cols[1][1], 1.0123456789012345e13);
  cr_assert_str_eq(p->reporter[1], "CHN");
  cr_assert_str_eq(p->partner[0], "KAZ");
  cr_assert_null(p->partner[1]);
  cr_assert_eq(p->year[0], 2015);
  cr_assert_eq(p->year[1], 2016);
  cr_assert_eq(json_array_size(d.errors), 0);
  decoded_free(&d);
}

Test(data, columns_form) {
  decoded d = decode("{\"columns\": {\"y\": [60323, 61122.5, null],"
                     " \"year\": [1947, 1948, 1949], \"x\": [83.0, 88.5, "
                     "-0.125]}}");
  cr_assert(d.ok);
  const core_panel *p = d.data.panel;
  cr_assert_eq(d.data.form, API_DATA_COLUMNS);
  cr_assert_eq(p->n, 3);
  cr_assert_eq(p->ncol, 2);
  cr_assert_null(p->reporter);
  cr_assert_null(p->partner);
  cr_assert_eq(p->year[2], 1949);
  cr_assert_eq(p->cols[0][1], 61122.5);
  cr_assert(isnan(p->cols[0][2]));
  cr_assert_eq(p->cols[1][2], -0.125);
  decoded_free(&d);
}

Test(data, cell_pointers) {
  decoded r = decode("{\"rows\": [{\"a/b\": 1}]}");
  decoded c = decode("{\"columns\": {\"x\": [1]}}");
  cr_assert_not(r.ok, "a/b is not a valid variable name");
  cr_assert(c.ok);
  char buf[128];
  cr_assert_str_eq(api_data_cell_pointer(&c.data, 4, "x", buf, sizeof buf),
                   "/data/columns/x/4");
  cr_assert_str_eq(api_data_pointer(&c.data, buf, sizeof buf), "/data/columns");
  api_data rows = {.form = API_DATA_ROWS};
  snprintf(rows.base, sizeof rows.base, "/data");
  cr_assert_str_eq(api_data_cell_pointer(&rows, 17, "gdp", buf, sizeof buf),
                   "/data/rows/17/gdp");
  cr_assert_str_eq(api_data_pointer(&rows, buf, sizeof buf), "/data/rows");
  decoded_free(&r);
  decoded_free(&c);
}

Test(data, variables_list_and_lookup) {
  decoded d = decode("{\"rows\": [{\"partner\": \"KGZ\", \"year\": 2020,"
                     " \"gdp\": 1.5, \"pop\": 2.5}]}");
  cr_assert(d.ok);
  char buf[256];
  cr_assert_str_eq(api_data_variables(&d.data, buf, sizeof buf),
                   "partner, year, gdp, pop");
  cr_assert_str_eq(api_data_variables(&d.data, buf, 16), "partner, ...");
  cr_assert(api_data_has_variable(&d.data, "partner"));
  cr_assert(api_data_has_variable(&d.data, "year"));
  cr_assert(api_data_has_variable(&d.data, "pop"));
  cr_assert_not(api_data_has_variable(&d.data, "reporter"));
  cr_assert_not(api_data_has_variable(&d.data, "dist"));
  decoded_free(&d);
}

Test(data, wrong_value_types) {
  expect_fault("{\"rows\": [{\"x\": 1.5}, {\"x\": \"abc\"}]}", API_E_INVALID,
               "/data/rows/1/x", "must be a number or null");
  expect_fault("{\"rows\": [{\"x\": true}]}", API_E_INVALID, "/data/rows/0/x",
               "number");
  expect_fault("{\"rows\": [{\"x\": {\"v\": 1}}]}", API_E_INVALID,
               "/data/rows/0/x", "number");
  expect_fault("{\"columns\": {\"x\": [1.5, 2.5, \"abc\", 4.5]}}",
               API_E_INVALID, "/data/columns/x/2", "number");
  expect_fault("{\"columns\": {\"x\": 88.5}}", API_E_INVALID, "/data/columns/x",
               "array");
  expect_fault("{\"rows\": [1, 2]}", API_E_INVALID, "/data/rows/0",
               "must be an object");
}

Test(data, every_fault_is_listed) {
  decoded d = decode("{\"rows\": [{\"x\": \"a\", \"y\": 1.5}, {\"x\": 2.5, "
                     "\"y\": false}, {\"year\": 1.5}]}");
  cr_assert_not(d.ok);
  cr_assert_not_null(detail_at(&d, "/data/rows/0/x"));
  cr_assert_not_null(detail_at(&d, "/data/rows/1/y"));
  cr_assert_not_null(detail_at(&d, "/data/rows/2/year"));
  decoded_free(&d);
}

Test(data, fault_list_is_bounded) {
  /* 200 bad cells: 64 are listed, and one entry counts the rest. */
  char text[200 * 16 + 64];
  size_t o = (size_t)snprintf(text, sizeof text, "{\"rows\": [");
  for (int i = 0; i < 200; i++)
    o += (size_t)snprintf(text + o, sizeof text - o, "%s{\"x\": \"v\"}",
                          i ? "," : "");
  snprintf(text + o, sizeof text - o, "]}");
  decoded d = decode(text);
  cr_assert_not(d.ok);
  cr_assert_eq(json_array_size(d.errors), API_DATA_MAX_ERRORS + 1);
  cr_assert_str_eq(detail_at(&d, "/data/rows"),
                   "136 more faults in the data are not listed");
  decoded_free(&d);
}

Test(data, key_types) {
  expect_fault("{\"rows\": [{\"year\": \"2011\"}]}", API_E_INVALID,
               "/data/rows/0/year", "integer");
  expect_fault("{\"rows\": [{\"year\": 2011.5}]}", API_E_INVALID,
               "/data/rows/0/year", "integer");
  expect_fault("{\"rows\": [{\"year\": 2011.0}]}", API_E_INVALID,
               "/data/rows/0/year", "integer");
  expect_fault("{\"rows\": [{\"year\": 100000}]}", API_E_INVALID,
               "/data/rows/0/year", "-9999 to 9999");
  expect_fault("{\"rows\": [{\"year\": 9223372036854775807}]}", API_E_INVALID,
               "/data/rows/0/year", "-9999 to 9999");
  expect_fault("{\"rows\": [{\"reporter\": 156}]}", API_E_INVALID,
               "/data/rows/0/reporter", "string");
  expect_fault("{\"rows\": [{\"partner\": \"\"}]}", API_E_INVALID,
               "/data/rows/0/partner", "string");
  expect_fault("{\"columns\": {\"reporter\": [\"CHN\", 3]}}", API_E_INVALID,
               "/data/columns/reporter/1", "string");
  expect_fault("{\"rows\": [{\"reporter\": \"" /* 65 bytes */
               "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
               "AAAA\"}]}",
               API_E_INVALID, "/data/rows/0/reporter", "1 to 64 bytes");
}

Test(data, a_year_cannot_be_missing) {
  expect_fault("{\"rows\": [{\"year\": 2010, \"x\": 1}, {\"x\": 2}]}",
               API_E_INVALID, "/data/rows/1", "no year");
  expect_fault("{\"rows\": [{\"year\": 2010}, {\"year\": null}]}",
               API_E_INVALID, "/data/rows/1/year", "cannot be missing");
  expect_fault("{\"columns\": {\"year\": [2010, null], \"x\": [1, 2]}}",
               API_E_INVALID, "/data/columns/year/1", "cannot be missing");
}

Test(data, other_keys_may_be_missing_in_some_rows) {
  decoded d = decode("{\"rows\": [{\"reporter\": \"CHN\", \"x\": 1.5},"
                     " {\"x\": 2.5}, {\"reporter\": null, \"x\": 3.5}]}");
  cr_assert(d.ok);
  cr_assert_str_eq(d.data.panel->reporter[0], "CHN");
  cr_assert_null(d.data.panel->reporter[1]);
  cr_assert_null(d.data.panel->reporter[2]);
  decoded_free(&d);
}

Test(data, invalid_variable_names) {
  expect_fault("{\"rows\": [{\"1x\": 1}]}", API_E_INVALID, "/data/rows/0/1x",
               "invalid variable name");
  expect_fault("{\"columns\": {\"a b\": [1]}}", API_E_INVALID,
               "/data/columns/a b", "invalid variable name");
  expect_fault("{\"rows\": [{\"\": 1}]}", API_E_INVALID, "/data/rows/0/",
               "invalid variable name");
}

Test(data, shape_faults) {
  expect_fault("{}", API_E_INVALID, "/data", "exactly one");
  expect_fault("{\"rows\": [{\"x\": 1}], \"columns\": {\"x\": [1]}}",
               API_E_INVALID, "/data", "exactly one");
  expect_fault("{\"rows\": {\"y\": 1}}", API_E_INVALID, "/data/rows",
               "must be an array");
  expect_fault("{\"rows\": [], \"extra\": 1}", API_E_INVALID, "/data/extra",
               "unknown field");
  expect_fault("{\"columns\": [1]}", API_E_INVALID, "/data/columns",
               "must be an object");
}

Test(data, empty_data) {
  expect_fault("{\"rows\": []}", API_E_INVALID, "/data/rows",
               "must contain at least one row");
  expect_fault("{\"columns\": {}}", API_E_INVALID, "/data/columns",
               "must contain at least one row");
  expect_fault("{\"columns\": {\"y\": [], \"x\": []}}", API_E_INVALID,
               "/data/columns", "must contain at least one row");
}

Test(data, columns_of_unequal_length_name_the_first_that_differs) {
  decoded d = decode("{\"columns\": {\"y\": [1, 2, 3], \"x\": [1, 2],"
                     " \"z\": [1]}}");
  cr_assert_not(d.ok);
  cr_assert_eq(json_array_size(d.errors), 1);
  const char *msg = detail_at(&d, "/data/columns/x");
  cr_assert_not_null(msg);
  cr_assert_str_eq(msg, "has 2 values but /data/columns/y has 3; columns "
                        "must have equal lengths");
  decoded_free(&d);
}

Test(data, row_limit) {
  api_limits lim;
  api_limits_default(&lim);
  lim.max_rows = 2;
  decoded d =
      decode_lim("{\"rows\": [{\"x\": 1}, {\"x\": 2}, {\"x\": 3}]}", &lim);
  cr_assert_not(d.ok);
  cr_assert_eq(d.code, API_E_LIMIT);
  cr_assert_str_eq(detail_at(&d, "/data/rows"), "has 3 rows; the limit is 2");
  decoded_free(&d);
  d = decode_lim("{\"columns\": {\"x\": [1, 2, 3]}}", &lim);
  cr_assert_eq(d.code, API_E_LIMIT);
  cr_assert_not_null(detail_at(&d, "/data/columns"));
  decoded_free(&d);
  d = decode_lim("{\"columns\": {\"x\": [1, 2]}}", &lim);
  cr_assert(d.ok, "at the limit is accepted");
  decoded_free(&d);
}

Test(data, column_limit) {
  api_limits lim;
  api_limits_default(&lim);
  lim.max_columns = 2;
  decoded d = decode_lim("{\"rows\": [{\"year\": 2000, \"a\": 1, \"b\": 2},"
                         " {\"year\": 2001, \"a\": 1, \"c\": 2}]}",
                         &lim);
  cr_assert_not(d.ok);
  cr_assert_eq(d.code, API_E_LIMIT);
  cr_assert_not_null(detail_at(&d, "/data/rows/1/c"));
  decoded_free(&d);
  d = decode_lim("{\"columns\": {\"a\": [1], \"b\": [2], \"c\": [3]}}", &lim);
  cr_assert_eq(d.code, API_E_LIMIT);
  cr_assert_not_null(detail_at(&d, "/data/columns/c"));
  decoded_free(&d);
  d = decode_lim("{\"columns\": {\"reporter\": [\"A\"], \"year\": [1],"
                 " \"a\": [1], \"b\": [2]}}",
                 &lim);
  cr_assert(d.ok, "keys do not count as variables");
  decoded_free(&d);
}
