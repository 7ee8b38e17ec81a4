/* Tests of the text/csv dataset parser (api/api_csv.c): the panel it builds
 * is the one api_data_decode builds from the same data in JSON (same id),
 * every fault names its pointer and its line and column, limits stop the
 * parse, and the parser never reads past the buffer (inputs are copied into
 * exact-size heap blocks, so ASan sees any overread). Values: GDP (current
 * US$), population and China's goods trade with Central Asia, 2019-2021, as
 * published in WDI and by MOFCOM. */
#include "api/api_testing.h"

#include <stdlib.h>

#include "api_canon.h"
#include "api_csv.h"
#include "api_data.h"

static const char gdp_csv[] =
    "reporter,partner,year,trade,gdp_partner,pop_partner\n"
    "CHN,KAZ,2019,21990000000,181667190058.79999,18513930\n"
    "CHN,KAZ,2020,21430000000,171082379507.38901,18755666\n"
    "CHN,KAZ,2021,25250000000,197112364390.92001,19002586\n"
    "CHN,KGZ,2019,6352000000,8871026594.1640205,6456900\n"
    "CHN,KGZ,2020,2865000000,7780874561.9246502,6579900\n"
    "CHN,KGZ,2021,7547000000,NA,6694200\n"
    "CHN,UZB,2019,7210000000,59907829795.455101,33580650\n"
    "CHN,UZB,2020,6620000000,59894265547.053001,34232050\n"
    "CHN,UZB,2021,8050000000,,34915100\n";

/* The same rows in JSON (rows form), keys in another order per row. */
static const char gdp_json_rows[] =
    "{\"rows\": ["
    "{\"year\": 2019, \"reporter\": \"CHN\", \"partner\": \"KAZ\", "
    "\"trade\": 21990000000, \"gdp_partner\": 181667190058.79999, "
    "\"pop_partner\": 18513930},"
    "{\"reporter\": \"CHN\", \"partner\": \"KAZ\", \"year\": 2020, "
    "\"trade\": 21430000000, \"gdp_partner\": 171082379507.38901, "
    "\"pop_partner\": 18755666},"
    "{\"reporter\": \"CHN\", \"partner\": \"KAZ\", \"year\": 2021, "
    "\"trade\": 25250000000, \"gdp_partner\": 197112364390.92001, "
    "\"pop_partner\": 19002586},"
    "{\"reporter\": \"CHN\", \"partner\": \"KGZ\", \"year\": 2019, "
    "\"trade\": 6352000000, \"gdp_partner\": 8871026594.1640205, "
    "\"pop_partner\": 6456900},"
    "{\"reporter\": \"CHN\", \"partner\": \"KGZ\", \"year\": 2020, "
    "\"trade\": 2865000000, \"gdp_partner\": 7780874561.9246502, "
    "\"pop_partner\": 6579900},"
    "{\"reporter\": \"CHN\", \"partner\": \"KGZ\", \"year\": 2021, "
    "\"trade\": 7547000000, \"gdp_partner\": null, \"pop_partner\": 6694200},"
    "{\"reporter\": \"CHN\", \"partner\": \"UZB\", \"year\": 2019, "
    "\"trade\": 7210000000, \"gdp_partner\": 59907829795.455101, "
    "\"pop_partner\": 33580650},"
    "{\"reporter\": \"CHN\", \"partner\": \"UZB\", \"year\": 2020, "
    "\"trade\": 6620000000, \"gdp_partner\": 59894265547.053001, "
    "\"pop_partner\": 34232050},"
    "{\"reporter\": \"CHN\", \"partner\": \"UZB\", \"year\": 2021, "
    "\"trade\": 8050000000, \"pop_partner\": 34915100, "
    "\"gdp_partner\": null}"
    "]}";

/* Parses n bytes copied into a block of exactly n bytes. */
static bool csv_n(const char *text, size_t n, const api_limits *lim,
                  api_data *out, api_error_code *code, api_errors *errs) {
  char *copy = malloc(n ? n : 1);
  cr_assert_not_null(copy);
  if (n) memcpy(copy, text, n);
  bool ok = api_csv_decode(n ? copy : NULL, n, lim, out, code, errs);
  free(copy);
  return ok;
}

static api_data csv_ok(const char *text, size_t n) {
  api_limits lim;
  api_limits_default(&lim);
  api_data d;
  api_errors errs = {0};
  api_error_code code;
  bool ok = csv_n(text, n, &lim, &d, &code, &errs);
  char *dump = errs.list ? json_dumps(errs.list, JSON_COMPACT) : NULL;
  cr_assert(ok, "CSV refused: %s", dump ? dump : "(no errors)");
  free(dump);
  cr_assert_not_null(d.panel);
  cr_assert_eq(d.form, API_DATA_ROWS);
  api_errors_clear(&errs);
  return d;
}

static api_data csv_s(const char *text) {
  return csv_ok(text, strlen(text));
}

static void id_of(const core_panel *p, char id[API_DATASET_ID_LEN + 1]) {
  cr_assert(api_canon_dataset_id(p, id));
}

static void json_id(const char *text, char id[API_DATASET_ID_LEN + 1]) {
  json_error_t e;
  json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &e);
  cr_assert_not_null(doc, "%s", e.text);
  api_limits lim;
  api_limits_default(&lim);
  api_data d;
  api_errors errs = {0};
  api_error_code code;
  cr_assert(api_data_decode(doc, "", &lim, NULL, &d, &code, &errs));
  id_of(d.panel, id);
  api_data_free(&d);
  json_decref(doc);
}

/* A fault: decoding fails with code, and the error at pointer has a detail
 * starting with "line <line>, column <col>: " and containing `has`. */
typedef struct fault_case {
  const char *text;
  size_t len; /* 0: strlen(text) */
  api_error_code code;
  const char *pointer;
  const char *prefix; /* "line 4, column 5: " or NULL */
  const char *has;    /* a piece of the detail, or NULL */
} fault_case;

static void assert_fault(const fault_case *c, const api_limits *lim_in) {
  api_limits lim;
  api_limits_default(&lim);
  if (lim_in) lim = *lim_in;
  api_data d;
  api_errors errs = {0};
  api_error_code code = API_E_COUNT;
  size_t n = c->len ? c->len : strlen(c->text);
  bool ok = csv_n(c->text, n, &lim, &d, &code, &errs);
  char *dump = errs.list ? json_dumps(errs.list, JSON_COMPACT) : strdup("[]");
  cr_assert(!ok, "accepted: %.80s", c->text);
  cr_assert_null(d.panel);
  cr_assert_eq(code, c->code, "code %d, want %d: %s", code, c->code, dump);
  const char *detail = NULL;
  size_t i;
  json_t *e;
  json_array_foreach(errs.list, i, e) {
    if (strcmp(json_string_value(json_object_get(e, "pointer")), c->pointer) ==
        0) {
      detail = json_string_value(json_object_get(e, "detail"));
      break;
    }
  }
  cr_assert_not_null(detail, "no error at %s: %s", c->pointer, dump);
  if (c->prefix)
    cr_assert(strncmp(detail, c->prefix, strlen(c->prefix)) == 0,
              "detail '%s' does not start with '%s'", detail, c->prefix);
  if (c->has)
    cr_assert_not_null(strstr(detail, c->has), "detail '%s' lacks '%s'", detail,
                       c->has);
  free(dump);
  api_errors_clear(&errs);
}

/* ---- what is built ----------------------------------------------------- */

Test(csv, builds_the_panel_with_keys_numbers_and_missing_cells) {
  api_data d = csv_s(gdp_csv);
  const core_panel *p = d.panel;
  cr_assert_eq(p->n, 9);
  cr_assert_eq(p->ncol, 3);
  cr_assert_str_eq(p->names[0], "trade");
  cr_assert_str_eq(p->names[1], "gdp_partner");
  cr_assert_str_eq(p->names[2], "pop_partner");
  cr_assert_str_eq(p->reporter[4], "CHN");
  cr_assert_str_eq(p->partner[4], "KGZ");
  cr_assert_eq(p->year[4], 2020);
  /* Bit-exact: the same conversion a JSON parser does. */
  cr_assert_eq(p->cols[1][0], strtod("181667190058.79999", NULL));
  cr_assert_eq(p->cols[1][4], strtod("7780874561.9246502", NULL));
  cr_assert_eq(p->cols[0][8], 8050000000.0);
  cr_assert_eq(p->cols[2][8], 34915100.0);
  cr_assert(isnan(p->cols[1][5]), "NA is missing");
  cr_assert(isnan(p->cols[1][8]), "an empty cell is missing");
  cr_assert_eq(core_panel_missing(p, 1), 2);
  char buf[128];
  cr_assert_str_eq(api_data_cell_pointer(&d, 5, "gdp_partner", buf, sizeof buf),
                   "/rows/5/gdp_partner");
  api_data_free(&d);
}

Test(csv, same_content_as_json_rows_gives_the_same_id) {
  char a[API_DATASET_ID_LEN + 1], b[API_DATASET_ID_LEN + 1];
  api_data d = csv_s(gdp_csv);
  id_of(d.panel, a);
  api_data_free(&d);
  json_id(gdp_json_rows, b);
  cr_assert_str_eq(a, b);
  cr_assert_eq(strlen(a), API_DATASET_ID_LEN);
}

/* Builds a variant of gdp_csv: CRLF line ends, a BOM, every field quoted,
 * and/or no final line end. */
static char *variant(bool crlf, bool bom, bool quote_all, bool final_eol) {
  size_t n = strlen(gdp_csv);
  char *out = malloc(4 * n + 8);
  size_t o = 0;
  if (bom) {
    memcpy(out, "\xEF\xBB\xBF", 3);
    o = 3;
  }
  bool start = true;
  for (size_t i = 0; i < n; i++) {
    char c = gdp_csv[i];
    if (quote_all && start) out[o++] = '"';
    start = false;
    if (c == ',' || c == '\n') {
      if (quote_all) out[o++] = '"';
      if (c == ',') {
        out[o++] = ',';
        start = true;
        continue;
      }
      if (i + 1 == n && !final_eol) break;
      if (crlf) out[o++] = '\r';
      out[o++] = '\n';
      start = true;
      continue;
    }
    out[o++] = c;
  }
  out[o] = '\0';
  return out;
}

Test(csv, crlf_bom_quotes_and_a_missing_final_newline_change_nothing) {
  char want[API_DATASET_ID_LEN + 1], got[API_DATASET_ID_LEN + 1];
  json_id(gdp_json_rows, want);
  for (unsigned m = 0; m < 16; m++) {
    char *t = variant(m & 1, m & 2, m & 4, m & 8);
    api_data d = csv_s(t);
    id_of(d.panel, got);
    cr_assert_str_eq(got, want, "variant %u: %s", m, t);
    api_data_free(&d);
    free(t);
  }
}

Test(csv, blank_lines_after_the_last_record_are_ignored) {
  char want[API_DATASET_ID_LEN + 1], got[API_DATASET_ID_LEN + 1];
  json_id(gdp_json_rows, want);
  size_t n = strlen(gdp_csv);
  char *t = malloc(n + 8);
  memcpy(t, gdp_csv, n);
  memcpy(t + n, "\r\n\n\r\n", 5);
  api_data d = csv_ok(t, n + 5);
  cr_assert_eq(d.panel->n, 9);
  id_of(d.panel, got);
  cr_assert_str_eq(got, want);
  api_data_free(&d);
  free(t);
}

Test(csv, quoted_fields_with_escapes_commas_and_line_breaks) {
  const char text[] =
      "reporter,partner,year,note_value\n"
      "\"Korea, Rep.\",\"Cote d\"\"Ivoire\",2020,1637895802792.6201\n"
      "\"Two\nlines\",CIV,2021,\"61349000000.5\"\n"
      "KOR,CIV,2022,-0.00012345678901234567\n";
  api_data d = csv_s(text);
  const core_panel *p = d.panel;
  cr_assert_eq(p->n, 3);
  cr_assert_str_eq(p->reporter[0], "Korea, Rep.");
  cr_assert_str_eq(p->partner[0], "Cote d\"Ivoire");
  cr_assert_str_eq(p->reporter[1], "Two\nlines");
  cr_assert_eq(p->cols[0][1], 61349000000.5);
  cr_assert_eq(p->cols[0][2], strtod("-0.00012345678901234567", NULL));
  char a[API_DATASET_ID_LEN + 1], b[API_DATASET_ID_LEN + 1];
  id_of(p, a);
  json_id("{\"columns\": {\"reporter\": [\"Korea, Rep.\", \"Two\\nlines\", "
          "\"KOR\"], \"partner\": [\"Cote d\\\"Ivoire\", \"CIV\", \"CIV\"], "
          "\"year\": [2020, 2021, 2022], \"note_value\": [1637895802792.6201, "
          "61349000000.5, -0.00012345678901234567]}}",
          b);
  cr_assert_str_eq(a, b);
  api_data_free(&d);
}

Test(csv, missing_keys_and_the_code_na) {
  const char text[] = "reporter,partner,gdp\n"
                      "NA,KAZ,181667190058.79999\n"
                      ",\"NA\",12500000000.25\n"
                      "\"\",KGZ,NA\n";
  api_data d = csv_s(text);
  const core_panel *p = d.panel;
  cr_assert_null(p->reporter[0], "unquoted NA is a missing key");
  cr_assert_null(p->reporter[1], "an empty key is missing");
  cr_assert_str_eq(p->partner[1], "NA", "quoted \"NA\" is Namibia's code");
  cr_assert_null(p->reporter[2]);
  cr_assert(isnan(p->cols[0][2]));
  cr_assert_null(p->year);
  char a[API_DATASET_ID_LEN + 1], b[API_DATASET_ID_LEN + 1];
  id_of(p, a);
  json_id(
      "{\"rows\": [{\"reporter\": null, \"partner\": \"KAZ\", \"gdp\": "
      "181667190058.79999}, {\"reporter\": null, \"partner\": \"NA\", "
      "\"gdp\": 12500000000.25}, {\"reporter\": null, \"partner\": \"KGZ\", "
      "\"gdp\": null}]}",
      b);
  cr_assert_str_eq(a, b);
  api_data_free(&d);
}

Test(csv, numbers_read_like_json_numbers) {
  /* Spaces around numbers are ignored; "-0" is an integer zero as in JSON,
   * "-0.0" a negative zero; exponents and tiny values are exact. */
  const char text[] = "x,y\n"
                      " 1.5e300 ,-0\n"
                      "-2.2250738585072014e-308,-0.0\n"
                      "+4.9406564584124654e-324,1234567890123456789\n";
  api_data d = csv_s(text);
  const core_panel *p = d.panel;
  cr_assert_eq(p->cols[0][0], 1.5e300);
  cr_assert_eq(p->cols[0][1], -2.2250738585072014e-308);
  cr_assert_eq(p->cols[0][2], 4.9406564584124654e-324);
  cr_assert(!signbit(p->cols[1][0]), "-0 is an integer zero");
  cr_assert(signbit(p->cols[1][1]), "-0.0 is a negative zero");
  char a[API_DATASET_ID_LEN + 1], b[API_DATASET_ID_LEN + 1];
  id_of(p, a);
  json_id("{\"columns\": {\"x\": [1.5e300, -2.2250738585072014e-308, "
          "4.9406564584124654e-324], \"y\": [-0, -0.0, "
          "1234567890123456789]}}",
          b);
  cr_assert_str_eq(a, b);
  api_data_free(&d);
}

Test(csv, a_header_of_keys_only_and_a_single_column) {
  api_data d = csv_s("reporter,partner,year\nCHN,KAZ,2019\nCHN,KGZ,2020");
  cr_assert_eq(d.panel->n, 2);
  cr_assert_eq(d.panel->ncol, 0);
  api_data_free(&d);
  /* One column: an empty line in the middle is a missing value. */
  d = csv_s("gdp\n181667190058.79999\n\n171082379507.38901\n");
  cr_assert_eq(d.panel->n, 3);
  cr_assert(isnan(d.panel->cols[0][1]));
  api_data_free(&d);
}

/* ---- faults ------------------------------------------------------------ */

Test(csv, unterminated_quote_names_its_cell_and_line) {
  fault_case c = {"reporter,partner,year,gdp\n"
                  "CHN,KAZ,2019,181667190058.79999\n"
                  "CHN,\"KGZ,2020,8871026594.1640205\n"
                  "CHN,UZB,2021,59907829795.455101\n",
                  0,
                  API_E_MALFORMED_CSV,
                  "/rows/1/partner",
                  "line 3, column 2: ",
                  "unterminated"};
  assert_fault(&c, NULL);
  fault_case h = {"reporter,\"partner", 0,
                  API_E_MALFORMED_CSV,  "/header/1",
                  "line 1, column 2: ", "unterminated"};
  assert_fault(&h, NULL);
}

Test(csv, too_many_and_too_few_fields) {
  fault_case many = {"reporter,year,gdp\n"
                     "KAZ,2019,181667190058.79999\n"
                     "KGZ,2020,8871026594.1640205,7\n",
                     0,
                     API_E_MALFORMED_CSV,
                     "/rows/1",
                     "line 3, column 4: ",
                     "has 4 fields but the header has 3"};
  assert_fault(&many, NULL);
  fault_case few = {"reporter,year,gdp\r\n"
                    "KAZ,2019,181667190058.79999\r\n"
                    "KAZ,2020,171082379507.38901\r\n"
                    "KGZ,2020\r\n",
                    0,
                    API_E_MALFORMED_CSV,
                    "/rows/2",
                    "line 4, column 3: ",
                    "has 2 fields but the header has 3"};
  assert_fault(&few, NULL);
  /* A blank line in the middle of a multi-column file is a short record. */
  fault_case blank = {"reporter,gdp\nKAZ,1.5\n\nKGZ,2.5\n",
                      0,
                      API_E_MALFORMED_CSV,
                      "/rows/1",
                      "line 3, column 2: ",
                      "has 1 field but"};
  assert_fault(&blank, NULL);
}

Test(csv, empty_header_name) {
  fault_case c = {"reporter,,gdp\nKAZ,1,2\n", 0,
                  API_E_MALFORMED_CSV,        "/header/1",
                  "line 1, column 2: ",       "empty column name"};
  assert_fault(&c, NULL);
  fault_case q = {"reporter,gdp,\"\"\nKAZ,1,2\n",
                  0,
                  API_E_MALFORMED_CSV,
                  "/header/2",
                  "line 1, column 3: ",
                  "empty column name"};
  assert_fault(&q, NULL);
}

Test(csv, duplicate_header_name) {
  fault_case c = {"reporter,gdp,year,gdp\nKAZ,1,2019,2\n",
                  0,
                  API_E_MALFORMED_CSV,
                  "/header/3",
                  "line 1, column 4: ",
                  "duplicate column name \"gdp\" (also column 2)"};
  assert_fault(&c, NULL);
  fault_case k = {"year,reporter,year\n2019,KAZ,2019\n",
                  0,
                  API_E_MALFORMED_CSV,
                  "/header/2",
                  "line 1, column 3: ",
                  "duplicate"};
  assert_fault(&k, NULL);
}

Test(csv, invalid_header_name) {
  fault_case c = {"reporter,gdp per capita\nKAZ,1\n",
                  0,
                  API_E_MALFORMED_CSV,
                  "/header/1",
                  "line 1, column 2: ",
                  "invalid column name \"gdp per capita\""};
  assert_fault(&c, NULL);
  fault_case d = {"reporter,2019\nKAZ,1\n", 0,
                  API_E_MALFORMED_CSV,      "/header/1",
                  "line 1, column 2: ",     "invalid column name"};
  assert_fault(&d, NULL);
  char longname[200];
  memset(longname, 'g', 70);
  memcpy(longname + 70, "\n1\n", 4);
  fault_case l = {longname,
                  0,
                  API_E_MALFORMED_CSV,
                  "/header/0",
                  "line 1, column 1: ",
                  "longer than 64 bytes"};
  assert_fault(&l, NULL);
}

Test(csv, non_numeric_value_names_row_column_and_line) {
  fault_case c = {"reporter,partner,year,trade,gdp_partner\n"
                  "CHN,KAZ,2019,21990000000,181667190058.79999\n"
                  "CHN,KAZ,2020,21430000000,171082379507.38901\n"
                  "CHN,KGZ,2019,6352000000,8.871.026.594\n",
                  0,
                  API_E_MALFORMED_CSV,
                  "/rows/2/gdp_partner",
                  "line 4, column 5: ",
                  "\"8.871.026.594\" is not a number"};
  assert_fault(&c, NULL);
  const char *bad[] = {"1,5", "0x1p3", "inf", "nan", "1e",
                       "--1", ".",     "1 2", "NaN", "12a"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char text[64];
    snprintf(text, sizeof text, "gdp\n\"%s\"\n", bad[i]);
    fault_case b = {text,
                    0,
                    API_E_MALFORMED_CSV,
                    "/rows/0/gdp",
                    "line 2, column 1: ",
                    "not a number"};
    assert_fault(&b, NULL);
  }
  fault_case r = {"gdp\n1e999\n",       0,
                  API_E_MALFORMED_CSV,  "/rows/0/gdp",
                  "line 2, column 1: ", "out of the range"};
  assert_fault(&r, NULL);
}

Test(csv, every_bad_cell_is_listed_up_to_the_cap) {
  /* 100 bad cells: 64 listed, then one entry counting the rest. */
  char *text = malloc(16 + 100 * 8);
  size_t o = (size_t)snprintf(text, 16, "gdp\n");
  for (int i = 0; i < 100; i++)
    o += (size_t)snprintf(text + o, 8, "x%d\n", i);
  api_limits lim;
  api_limits_default(&lim);
  api_data d;
  api_errors errs = {0};
  api_error_code code;
  cr_assert(!csv_n(text, o, &lim, &d, &code, &errs));
  cr_assert_eq(code, API_E_MALFORMED_CSV);
  cr_assert_eq(api_errors_count(&errs), API_DATA_MAX_ERRORS + 1);
  json_t *last = json_array_get(errs.list, API_DATA_MAX_ERRORS);
  cr_assert_str_eq(json_string_value(json_object_get(last, "detail")),
                   "36 more faults in the data are not listed");
  json_t *e17 = json_array_get(errs.list, 17);
  cr_assert_str_eq(json_string_value(json_object_get(e17, "pointer")),
                   "/rows/17/gdp");
  cr_assert_str_eq(json_string_value(json_object_get(e17, "detail")),
                   "line 19, column 1: \"x17\" is not a number (a decimal "
                   "number, or empty or NA when missing, is expected)");
  api_errors_clear(&errs);
  free(text);
}

Test(csv, bad_year) {
  const char *bad[] = {"2019.0",       "20x9", "10000", "-10000",
                       "999999999999", "1e3",  "+"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char text[96];
    snprintf(text, sizeof text, "reporter,year,gdp\nKAZ,2019,1.5\nKAZ,%s,2.5\n",
             bad[i]);
    fault_case c = {text,
                    0,
                    API_E_MALFORMED_CSV,
                    "/rows/1/year",
                    "line 3, column 2: ",
                    "is not a year"};
    assert_fault(&c, NULL);
  }
  fault_case m = {"reporter,year,gdp\nKAZ,2019,1.5\nKAZ,NA,2.5\n",
                  0,
                  API_E_MALFORMED_CSV,
                  "/rows/1/year",
                  "line 3, column 2: ",
                  "a year cannot be missing"};
  assert_fault(&m, NULL);
  fault_case e = {"reporter,year,gdp\nKAZ,,1.5\n",
                  0,
                  API_E_MALFORMED_CSV,
                  "/rows/0/year",
                  "line 2, column 2: ",
                  "cannot be missing"};
  assert_fault(&e, NULL);
  /* Extremes are years. */
  api_data d = csv_s("year,x\n-9999,1\n9999,2\n+2019,3\n");
  cr_assert_eq(d.panel->year[0], -9999);
  cr_assert_eq(d.panel->year[1], 9999);
  cr_assert_eq(d.panel->year[2], 2019);
  api_data_free(&d);
}

Test(csv, nul_bytes_are_refused_where_they_are) {
  static const char in_data[] = "reporter,gdp\nKAZ,1.5\nKG\0Z,2.5\n";
  fault_case c = {in_data,
                  sizeof in_data - 1,
                  API_E_MALFORMED_CSV,
                  "/rows/1/reporter",
                  "line 3, column 1: ",
                  "NUL byte"};
  assert_fault(&c, NULL);
  static const char in_quotes[] = "reporter,gdp\nKAZ,\"1\0.5\"\n";
  fault_case q = {in_quotes,     sizeof in_quotes - 1, API_E_MALFORMED_CSV,
                  "/rows/0/gdp", "line 2, column 2: ", "NUL byte"};
  assert_fault(&q, NULL);
  static const char in_header[] = "reporter,g\0dp\nKAZ,1\n";
  fault_case h = {in_header,   sizeof in_header - 1, API_E_MALFORMED_CSV,
                  "/header/1", "line 1, column 2: ", "NUL byte"};
  assert_fault(&h, NULL);
  static const char after_quote[] = "gdp\n\"1.5\"\0\n";
  fault_case a = {after_quote,   sizeof after_quote - 1, API_E_MALFORMED_CSV,
                  "/rows/0/gdp", "line 2, column 1: ",   "NUL byte"};
  assert_fault(&a, NULL);
}

Test(csv, quotes_and_carriage_returns_out_of_place) {
  fault_case inner = {
      "reporter,gdp\nK\"AZ,1.5\n", 0,
      API_E_MALFORMED_CSV,         "/rows/0/reporter",
      "line 2, column 1: ",        "a quote inside an unquoted field"};
  assert_fault(&inner, NULL);
  fault_case after = {"reporter,gdp\n\"KAZ\"x,1.5\n",
                      0,
                      API_E_MALFORMED_CSV,
                      "/rows/0/reporter",
                      "line 2, column 1: ",
                      "after a closing quote"};
  assert_fault(&after, NULL);
  fault_case cr = {"reporter,gdp\rKAZ,1.5\r", 0,
                   API_E_MALFORMED_CSV,       "/header/1",
                   "line 1, column 2: ",      "carriage return"};
  assert_fault(&cr, NULL);
}

Test(csv, empty_body_and_header_without_rows) {
  api_limits lim;
  api_limits_default(&lim);
  api_data d;
  api_errors errs = {0};
  api_error_code code;
  cr_assert(!api_csv_decode(NULL, 0, &lim, &d, &code, &errs));
  cr_assert_eq(code, API_E_MALFORMED_CSV);
  cr_assert_str_eq(json_string_value(json_object_get(
                       json_array_get(errs.list, 0), "pointer")),
                   "/header");
  api_errors_clear(&errs);
  fault_case bom = {"\xEF\xBB\xBF\r\n",   0,
                    API_E_MALFORMED_CSV,  "/header",
                    "line 1, column 1: ", "the body is empty"};
  assert_fault(&bom, NULL);
  fault_case hdr = {"reporter,year,gdp\r\n", 0,
                    API_E_MALFORMED_CSV,     "/rows",
                    "line 2, column 1: ",    "no data rows"};
  assert_fault(&hdr, NULL);
}

Test(csv, keys_too_long_or_not_utf8) {
  char text[200];
  int n = snprintf(text, sizeof text, "reporter,gdp\n");
  memset(text + n, 'K', 65);
  snprintf(text + n + 65, sizeof text - (size_t)n - 65, ",1.5\n");
  fault_case l = {text,
                  0,
                  API_E_MALFORMED_CSV,
                  "/rows/0/reporter",
                  "line 2, column 1: ",
                  "1 to 64 bytes"};
  assert_fault(&l, NULL);
  fault_case u = {"reporter,partner,gdp\nCHN,C\xF4te,1.5\n",
                  0,
                  API_E_MALFORMED_CSV,
                  "/rows/0/partner",
                  "line 2, column 2: ",
                  "not valid UTF-8"};
  assert_fault(&u, NULL);
  /* Valid UTF-8 is taken as it is. */
  api_data d = csv_s("reporter,partner,gdp\nCHN,C\xC3\xB4te d'Ivoire,1.5\n");
  cr_assert_str_eq(d.panel->partner[0], "C\xC3\xB4te d'Ivoire");
  api_data_free(&d);
}

Test(csv, lines_are_counted_across_quoted_line_breaks) {
  fault_case c = {"reporter,gdp\n\"multi\nline\nname\",1.5\nKAZ,abc\n",
                  0,
                  API_E_MALFORMED_CSV,
                  "/rows/1/gdp",
                  "line 5, column 2: ",
                  "not a number"};
  assert_fault(&c, NULL);
}

Test(csv, pointers_escape_column_names) {
  /* Names cannot hold "/" or "~", so only plain names reach pointers; a
   * name with a dot is valid and kept as it is. */
  fault_case c = {"gdp.ppp\nabc\n",     0,
                  API_E_MALFORMED_CSV,  "/rows/0/gdp.ppp",
                  "line 2, column 1: ", NULL};
  assert_fault(&c, NULL);
}

/* ---- limits ------------------------------------------------------------ */

Test(csv, too_many_rows_stop_at_the_limit) {
  api_limits lim;
  api_limits_default(&lim);
  lim.max_rows = 8;
  fault_case c = {gdp_csv,
                  0,
                  API_E_LIMIT,
                  "/rows",
                  "line 10, column 1: ",
                  "the limit is 8 rows"};
  assert_fault(&c, &lim);
  lim.max_rows = 9;
  api_data d;
  api_errors errs = {0};
  api_error_code code;
  cr_assert(csv_n(gdp_csv, strlen(gdp_csv), &lim, &d, &code, &errs));
  cr_assert_eq(d.panel->n, 9);
  api_data_free(&d);
}

Test(csv, too_many_columns_stop_at_the_limit) {
  api_limits lim;
  api_limits_default(&lim);
  lim.max_columns = 2;
  fault_case c = {gdp_csv,
                  0,
                  API_E_LIMIT,
                  "/header/5",
                  "line 1, column 6: ",
                  "the limit is 2 variables"};
  assert_fault(&c, &lim);
  lim.max_columns = 3; /* keys do not count */
  api_data d;
  api_errors errs = {0};
  api_error_code code;
  cr_assert(csv_n(gdp_csv, strlen(gdp_csv), &lim, &d, &code, &errs));
  api_data_free(&d);
}

Test(csv, every_prefix_is_parsed_within_its_buffer) {
  /* Each prefix of a tricky body is either accepted or refused with at
   * least one error; ASan checks that no byte past the end is read. */
  const char text[] = "\xEF\xBB\xBFreporter,\"par\"\"tner\",year,gdp\r\n"
                      "\"C,HN\",KAZ,2019,\"181667190058.79999\"\r\n"
                      "CHN,\"K\nAZ\",2020,NA\r\n";
  for (size_t n = 0; n <= sizeof text - 1; n++) {
    api_limits lim;
    api_limits_default(&lim);
    api_data d;
    api_errors errs = {0};
    api_error_code code;
    bool ok = csv_n(text, n, &lim, &d, &code, &errs);
    if (ok)
      api_data_free(&d);
    else
      cr_assert_gt(api_errors_count(&errs), 0, "prefix %zu", n);
    api_errors_clear(&errs);
  }
}

Test(csv, time_is_linear_in_the_size) {
  /* 200,000 rows of three keys and two numbers parse well inside a second
   * (a quadratic step would take minutes). */
  size_t rows = 200000;
  char *text = malloc(rows * 64 + 64);
  size_t o = (size_t)snprintf(text, 64, "reporter,partner,year,gdp,pop\n");
  for (size_t i = 0; i < rows; i++)
    o += (size_t)snprintf(text + o, 64, "C%zu,P%zu,%zu,%zu.123456789,%zu\n",
                          i % 97, i % 89, 1960 + i % 60, 1000000 + i, i);
  api_data d = csv_ok(text, o);
  cr_assert_eq(d.panel->n, rows);
  cr_assert_eq(d.panel->cols[0][12345], 1012345.123456789);
  api_data_free(&d);
  free(text);
}
