/* The World Bank body parser: every recorded real response (exact values),
 * then hand-made malformed bodies, one error path per test. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wb_parse.h"

#define SAMPLES GRAVITAS_SOURCE_DIR "/tests/wbfixture/samples/"

/* Reads a recorded body byte for byte (they have no trailing newline). */
static char *read_sample(const char *name, size_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s%s", SAMPLES, name);
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  char *buf = malloc(1 << 16);
  cr_assert_not_null(buf);
  *len = fread(buf, 1, 1 << 16, f);
  cr_assert(feof(f), "%s is larger than the test buffer", path);
  fclose(f);
  return buf;
}

static wb_page *parse_sample(const char *name, wb_rows_kind kind) {
  size_t len;
  char *body = read_sample(name, &len);
  wb_page *p = NULL;
  char err[256];
  wb_parse_status st = wb_parse_page(body, len, kind, &p, err, sizeof err);
  free(body);
  cr_assert_eq(st, WB_PARSE_OK, "%s: %s (%s)", name, wb_parse_status_name(st),
               err);
  cr_assert_not_null(p);
  return p;
}

/* Parses a literal body and checks the status and a fragment of the reason.
 */
static void expect_fail(const char *body, size_t len, wb_parse_status want,
                        const char *fragment) {
  wb_page *p = (wb_page *)0x1;
  char err[256];
  wb_parse_status st =
      wb_parse_page(body, len, WB_ROWS_INDICATOR, &p, err, sizeof err);
  cr_assert_eq(st, want, "body %.80s: got %s (%s), want %s", body,
               wb_parse_status_name(st), err, wb_parse_status_name(want));
  cr_assert_null(p, "a failed parse leaves *out NULL");
  cr_assert(strstr(err, fragment) != NULL, "reason \"%s\" lacks \"%s\"", err,
            fragment);
}

#define FAIL(lit, want, frag) expect_fail(lit, sizeof(lit) - 1, want, frag)

static wb_page *parse_ok(const char *body) {
  wb_page *p = NULL;
  char err[256];
  wb_parse_status st =
      wb_parse_page(body, strlen(body), WB_ROWS_INDICATOR, &p, err, sizeof err);
  cr_assert_eq(st, WB_PARSE_OK, "%s: %s", body, err);
  return p;
}

/* A valid header for hand-made bodies. */
#define HDR                                                                    \
  "{\"page\":1,\"pages\":1,\"per_page\":50,\"total\":1,\"sourceid\":\"2\","    \
  "\"lastupdated\":\"2026-07-01\"}"
#define ROW(cc, date, value)                                                   \
  "{\"indicator\":{\"id\":\"SP.POP.TOTL\",\"value\":\"Population, total\"},"   \
  "\"country\":{\"id\":\"KZ\",\"value\":\"Kazakhstan\"},"                      \
  "\"countryiso3code\":" cc ",\"date\":" date ",\"value\":" value "}"

/* ---- the recorded real responses ---------------------------------------- */

Test(wb_parse_samples, multi_page_with_a_null) {
  wb_page *p =
      parse_sample("indicator_JPN_USA_NY.GDP.MKTP.CD_page1of3_with_nulls.json",
                   WB_ROWS_INDICATOR);
  cr_assert_not(p->is_message);
  cr_assert_eq(p->page, 1);
  cr_assert_eq(p->pages, 3);
  cr_assert_eq(p->per_page, 50);
  cr_assert_eq(p->total, 122);
  cr_assert(p->has_sourceid);
  cr_assert_str_eq(p->sourceid, "2");
  cr_assert(p->has_lastupdated);
  cr_assert_str_eq(p->lastupdated, "2021-05-25");
  cr_assert_eq(p->n_rows, 50);
  /* JPN 2020 is null upstream: missing, never zero. */
  cr_assert_str_eq(p->obs[0].country, "JPN");
  cr_assert_str_eq(p->obs[0].indicator, "NY.GDP.MKTP.CD");
  cr_assert_eq(p->obs[0].year, 2020);
  cr_assert_not(p->obs[0].has_value);
  cr_assert(isnan(p->obs[0].value));
  cr_assert_eq(p->obs[1].year, 2019);
  cr_assert(p->obs[1].has_value);
  cr_assert_eq(p->obs[1].value, 5081769542379.77);
  cr_assert_eq(p->obs[2].value, 4954806619995.19);
  cr_assert_eq(p->obs[47].year, 1973);
  cr_assert_eq(p->obs[47].value, 432082670450.719);
  cr_assert_eq(p->obs[49].year, 1971);
  cr_assert_eq(p->obs[49].value, 240151807460.241);
  for (size_t k = 1; k < 50; k++) {
    cr_assert(p->obs[k].has_value, "row %zu", k);
    cr_assert_eq(p->obs[k].year, 2020 - (int)k);
    cr_assert_str_eq(p->obs[k].country, "JPN");
  }
  wb_page_free(p);
}

Test(wb_parse_samples, date_range_two_per_page) {
  wb_page *p = parse_sample(
      "indicator_JPN_USA_NY.GDP.MKTP.CD_date2018-2019_per_page2_page1of2.json",
      WB_ROWS_INDICATOR);
  cr_assert_eq(p->page, 1);
  cr_assert_eq(p->pages, 2);
  cr_assert_eq(p->per_page, 2);
  cr_assert_eq(p->total, 4);
  cr_assert_eq(p->n_rows, 2);
  cr_assert_eq(p->obs[0].year, 2019);
  cr_assert_eq(p->obs[0].value, 5081769542379.77);
  cr_assert_eq(p->obs[1].year, 2018);
  cr_assert_eq(p->obs[1].value, 4954806619995.19);
  wb_page_free(p);
}

Test(wb_parse_samples, all_countries_aggregate_rows) {
  wb_page *p = parse_sample(
      "indicator_all_countries_date2018-2019_per_page2_page1of264.json",
      WB_ROWS_INDICATOR);
  cr_assert_eq(p->pages, 264);
  cr_assert_eq(p->total, 528);
  cr_assert_str_eq(p->obs[0].country, "ARB");
  cr_assert_eq(p->obs[0].year, 2019);
  cr_assert_eq(p->obs[0].value, 2817414584665.11);
  cr_assert_eq(p->obs[1].value, 2771384097904.53);
  wb_page_free(p);
}

Test(wb_parse_samples, null_sourceid) {
  wb_page *p =
      parse_sample("indicator_two_indicators_source2_per_page2_page1of4.json",
                   WB_ROWS_INDICATOR);
  cr_assert_not(p->has_sourceid);
  cr_assert_str_eq(p->sourceid, "");
  cr_assert_str_eq(p->lastupdated, "2021-05-25");
  cr_assert_eq(p->pages, 4);
  cr_assert_eq(p->total, 8);
  cr_assert_eq(p->n_rows, 2);
  cr_assert_eq(p->obs[0].value, 5081769542379.77);
  wb_page_free(p);
}

Test(wb_parse_samples, footnote_field_is_accepted) {
  wb_page *p = parse_sample("indicator_JPN_USA_footnote_y_per_page2.json",
                            WB_ROWS_INDICATOR);
  cr_assert_eq(p->n_rows, 2);
  cr_assert_eq(p->obs[0].year, 2019);
  cr_assert_eq(p->obs[0].value, 5081769542379.77);
  cr_assert_eq(p->obs[1].value, 4954806619995.19);
  wb_page_free(p);
}

static void assert_msg120(const wb_msg *m) {
  cr_assert_str_eq(m->id, "120");
  cr_assert_str_eq(m->key, "Invalid value");
  cr_assert_str_eq(m->value, "The provided parameter value is not valid");
}

Test(wb_parse_samples, invalid_indicator_message_with_http_200) {
  wb_page *p = parse_sample("error_invalid_indicator.json", WB_ROWS_INDICATOR);
  cr_assert(p->is_message);
  cr_assert_eq(p->n_messages, 1);
  assert_msg120(&p->messages[0]);
  cr_assert_eq(p->n_rows, 0);
  wb_page_free(p);
}

Test(wb_parse_samples, invalid_country_message) {
  wb_page *p =
      parse_sample("error_invalid_country_codes.json", WB_ROWS_INDICATOR);
  cr_assert(p->is_message);
  cr_assert_eq(p->n_messages, 1);
  assert_msg120(&p->messages[0]);
  wb_page_free(p);
}

Test(wb_parse_samples, several_messages) {
  /* SOURCES.md calls it "two entries"; the recorded body holds three. */
  wb_page *p =
      parse_sample("error_one_invalid_of_two_indicators_two_messages.json",
                   WB_ROWS_INDICATOR);
  cr_assert(p->is_message);
  cr_assert_eq(p->n_messages, 3);
  for (size_t k = 0; k < 3; k++)
    assert_msg120(&p->messages[k]);
  wb_page_free(p);
}

Test(wb_parse_samples, language_message_id150) {
  wb_page *p =
      parse_sample("error_unsupported_language_id150.json", WB_ROWS_ANY);
  cr_assert(p->is_message);
  cr_assert_eq(p->n_messages, 1);
  cr_assert_str_eq(p->messages[0].id, "150");
  cr_assert_str_eq(p->messages[0].key,
                   "Language is not yet supported in the API");
  cr_assert_str_eq(p->messages[0].value,
                   "Response requested in an unsupported language.");
  wb_page_free(p);
}

Test(wb_parse_samples, country_metadata_invalid_id_message) {
  wb_page *p =
      parse_sample("error_country_metadata_invalid_id.json", WB_ROWS_ANY);
  cr_assert(p->is_message);
  assert_msg120(&p->messages[0]);
  wb_page_free(p);
}

Test(wb_parse_samples, html_page_with_bom_is_not_json) {
  size_t len;
  char *body = read_sample("error_invalid_source_http400_body.html", &len);
  cr_assert_eq(len, 1647);
  cr_assert_eq(memcmp(body, "\xEF\xBB\xBF<?xml", 8), 0);
  wb_page *p = NULL;
  char err[256];
  cr_assert_eq(wb_parse_page(body, len, WB_ROWS_INDICATOR, &p, err, sizeof err),
               WB_PARSE_NOT_JSON);
  cr_assert_null(p);
  cr_assert(strstr(err, "not JSON") && strstr(err, "HTML"), "%s", err);
  cr_assert(strstr(err, "<?xml version=") != NULL, "quotes the start: %s", err);
  free(body);
}

Test(wb_parse_samples, country_metadata_string_per_page) {
  wb_page *p = parse_sample("country_JPN_metadata.json", WB_ROWS_ANY);
  cr_assert_not(p->is_message);
  cr_assert_eq(p->page, 1);
  cr_assert_eq(p->pages, 1);
  cr_assert_eq(p->per_page, 50, "\"per_page\":\"50\" is a string here");
  cr_assert_eq(p->total, 1);
  cr_assert_not(p->has_sourceid);
  cr_assert_not(p->has_lastupdated);
  cr_assert_eq(p->n_rows, 1);
  cr_assert_null(p->obs);
  wb_page_free(p);
}

Test(wb_parse_samples, country_metadata_is_not_indicator_data) {
  size_t len;
  char *body = read_sample("country_JPN_metadata.json", &len);
  wb_page *p = NULL;
  char err[256];
  cr_assert_eq(wb_parse_page(body, len, WB_ROWS_INDICATOR, &p, err, sizeof err),
               WB_PARSE_BAD_SHAPE);
  cr_assert(strstr(err, "row 0") != NULL, "%s", err);
  free(body);
}

Test(wb_parse_samples, country_lists) {
  wb_page *p =
      parse_sample("country_list_per_page2_page1of149.json", WB_ROWS_ANY);
  cr_assert_eq(p->pages, 149);
  cr_assert_eq(p->per_page, 2);
  cr_assert_eq(p->total, 297);
  cr_assert_eq(p->n_rows, 2);
  wb_page_free(p);
  p = parse_sample("country_list_region_EAS_per_page2.json", WB_ROWS_ANY);
  cr_assert_eq(p->pages, 19);
  cr_assert_eq(p->per_page, 2);
  cr_assert_eq(p->total, 38);
  cr_assert_eq(p->n_rows, 2);
  wb_page_free(p);
}

Test(wb_parse_samples, truncated_real_body) {
  size_t len;
  char *body = read_sample(
      "indicator_JPN_USA_NY.GDP.MKTP.CD_page1of3_with_nulls.json", &len);
  /* Cut at many places: always "truncated", never a crash or a page. */
  for (size_t cut = 1; cut < len; cut += 97) {
    wb_page *p = NULL;
    char err[256];
    wb_parse_status st =
        wb_parse_page(body, cut, WB_ROWS_INDICATOR, &p, err, sizeof err);
    cr_assert_eq(st, WB_PARSE_MALFORMED, "cut %zu: %s", cut, err);
    cr_assert(strstr(err, "truncated") != NULL, "cut %zu: %s", cut, err);
    cr_assert_null(p);
  }
  free(body);
}

/* ---- not JSON ------------------------------------------------------------ */

Test(wb_parse_text, empty_and_blank) {
  FAIL("", WB_PARSE_NOT_JSON, "empty");
  FAIL(" \r\n\t ", WB_PARSE_NOT_JSON, "empty");
  FAIL("\xEF\xBB\xBF", WB_PARSE_NOT_JSON, "empty");
  wb_page *p = NULL;
  char err[64];
  cr_assert_eq(wb_parse_page(NULL, 0, WB_ROWS_INDICATOR, &p, err, sizeof err),
               WB_PARSE_NOT_JSON);
  cr_assert_null(p);
}

Test(wb_parse_text, html_without_bom) {
  FAIL("<html><body>Service Unavailable</body></html>", WB_PARSE_NOT_JSON,
       "HTML");
}

Test(wb_parse_text, short_html_is_quoted_safely) {
  /* Fewer bytes than the quote length, and control bytes: no over-read. */
  FAIL("\n<a\x01", WB_PARSE_NOT_JSON, "(starts with \"<a?\")");
}

Test(wb_parse_text, plain_text) {
  FAIL("Internal Server Error", WB_PARSE_NOT_JSON, "0x49");
  /* Words that begin like JSON literals are still text. */
  FAIL("not found", WB_PARSE_NOT_JSON, "0x6E");
  FAIL("nul", WB_PARSE_NOT_JSON, "0x6E");
  FAIL("forbidden", WB_PARSE_NOT_JSON, "0x66");
  FAIL("timeout", WB_PARSE_NOT_JSON, "0x74");
  /* A real literal goes to the JSON parser (and is then the wrong shape). */
  FAIL("null ", WB_PARSE_BAD_SHAPE, "got null");
  FAIL("nullx", WB_PARSE_MALFORMED, "malformed");
}

/* ---- malformed JSON ----------------------------------------------------- */

Test(wb_parse_json, syntax_error_names_line_and_column) {
  FAIL("[{\"page\":1,,\"pages\":1}]", WB_PARSE_MALFORMED, "line 1, column");
}

Test(wb_parse_json, trailing_garbage) {
  FAIL("[" HDR ",[]]x", WB_PARSE_MALFORMED, "malformed JSON");
}

Test(wb_parse_json, duplicate_keys) {
  FAIL("[{\"page\":1,\"page\":2,\"pages\":1,\"per_page\":1,\"total\":0},[]]",
       WB_PARSE_MALFORMED, "duplicate");
}

Test(wb_parse_json, embedded_nul_byte) {
  FAIL("[" HDR ",[\"a\0b\"]]", WB_PARSE_MALFORMED, "malformed");
}

Test(wb_parse_json, escaped_nul_in_string) {
  FAIL("[" HDR ",[{\"x\":\"\\u0000\"}]]", WB_PARSE_MALFORMED, "malformed");
}

Test(wb_parse_json, deep_nesting) {
  size_t n = 100000;
  char *body = malloc(n);
  memset(body, '[', n);
  wb_page *p = NULL;
  char err[256];
  cr_assert_eq(wb_parse_page(body, n, WB_ROWS_INDICATOR, &p, err, sizeof err),
               WB_PARSE_MALFORMED);
  cr_assert_null(p);
  free(body);
}

Test(wb_parse_json, number_overflow) {
  FAIL("[" HDR
       ",[" ROW("\"KAZ\"", "\"2019\"", "123456789012345678901234567890") "]]",
       WB_PARSE_MALFORMED, "malformed");
}

/* ---- valid JSON of the wrong shape -------------------------------------- */

Test(wb_parse_shape, scalars) {
  FAIL("42", WB_PARSE_BAD_SHAPE, "got a number");
  FAIL("\"Service down\"", WB_PARSE_BAD_SHAPE, "got a string");
  FAIL("null", WB_PARSE_BAD_SHAPE, "got null");
  FAIL("true", WB_PARSE_BAD_SHAPE, "got a boolean");
  FAIL("{\"page\":1}", WB_PARSE_BAD_SHAPE, "got an object");
  FAIL("[]", WB_PARSE_BAD_SHAPE, "empty");
}

Test(wb_parse_shape, wrong_array_length) {
  FAIL("[" HDR "]", WB_PARSE_BAD_SHAPE, "array of 1 elements");
  FAIL("[" HDR ",[],[]]", WB_PARSE_BAD_SHAPE, "array of 3 elements");
}

Test(wb_parse_shape, header_not_object) {
  FAIL("[[1],[]]", WB_PARSE_BAD_SHAPE, "header is not an object");
}

Test(wb_parse_shape, missing_pagination_field) {
  FAIL("[{\"page\":1,\"per_page\":50,\"total\":1},[]]", WB_PARSE_BAD_SHAPE,
       "no \"pages\"");
}

Test(wb_parse_shape, negative_or_huge_pagination) {
  FAIL("[{\"page\":-1,\"pages\":1,\"per_page\":50,\"total\":1},[]]",
       WB_PARSE_BAD_SHAPE, "\"page\" is out of range");
  FAIL("[{\"page\":1,\"pages\":1,\"per_page\":50,\"total\":1000000000001},[]]",
       WB_PARSE_BAD_SHAPE, "\"total\" is out of range");
  FAIL("[{\"page\":1,\"pages\":1,\"per_page\":\"2000000000\",\"total\":1},[]]",
       WB_PARSE_BAD_SHAPE, "\"per_page\" is out of range");
  FAIL("[{\"page\":1,\"pages\":1e300,\"per_page\":1,\"total\":1},[]]",
       WB_PARSE_BAD_SHAPE, "\"pages\" is out of range");
}

Test(wb_parse_shape, pagination_strings_must_be_digits) {
  FAIL("[{\"page\":\"\",\"pages\":1,\"per_page\":50,\"total\":1},[]]",
       WB_PARSE_BAD_SHAPE, "not a whole number");
  FAIL("[{\"page\":\"1.5\",\"pages\":1,\"per_page\":50,\"total\":1},[]]",
       WB_PARSE_BAD_SHAPE, "\"1.5\"");
  FAIL("[{\"page\":\" 1\",\"pages\":1,\"per_page\":50,\"total\":1},[]]",
       WB_PARSE_BAD_SHAPE, "not a whole number");
  FAIL("[{\"page\":\"+1\",\"pages\":1,\"per_page\":50,\"total\":1},[]]",
       WB_PARSE_BAD_SHAPE, "not a whole number");
  FAIL("[{\"page\":\"-1\",\"pages\":1,\"per_page\":50,\"total\":1},[]]",
       WB_PARSE_BAD_SHAPE, "not a whole number");
  FAIL("[{\"page\":\"12345678901\",\"pages\":1,\"per_page\":50,\"total\":1},"
       "[]]",
       WB_PARSE_BAD_SHAPE, "not a whole number");
}

Test(wb_parse_shape, pagination_other_types) {
  FAIL("[{\"page\":true,\"pages\":1,\"per_page\":50,\"total\":1},[]]",
       WB_PARSE_BAD_SHAPE, "neither a number nor a string");
  FAIL("[{\"page\":1.5,\"pages\":1,\"per_page\":50,\"total\":1},[]]",
       WB_PARSE_BAD_SHAPE, "out of range");
}

Test(wb_parse_shape, all_pagination_as_strings_and_integral_reals) {
  wb_page *p = parse_ok("[{\"page\":\"2\",\"pages\":\"7\",\"per_page\":\"50\","
                        "\"total\":\"313\",\"sourceid\":\"2\"},[]]");
  cr_assert_eq(p->page, 2);
  cr_assert_eq(p->pages, 7);
  cr_assert_eq(p->per_page, 50);
  cr_assert_eq(p->total, 313);
  wb_page_free(p);
  p = parse_ok("[{\"page\":1.0,\"pages\":3.0,\"per_page\":50,\"total\":122},"
               "null]");
  cr_assert_eq(p->page, 1);
  cr_assert_eq(p->pages, 3);
  cr_assert_eq(p->n_rows, 0);
  wb_page_free(p);
}

Test(wb_parse_shape, sourceid_and_lastupdated_types) {
  FAIL("[{\"page\":1,\"pages\":1,\"per_page\":50,\"total\":1,\"sourceid\":2},"
       "[]]",
       WB_PARSE_BAD_SHAPE, "\"sourceid\" is neither a string nor null");
  FAIL("[{\"page\":1,\"pages\":1,\"per_page\":50,\"total\":1,\"lastupdated\":"
       "\"2021-05-25-2021-05-25-2021-05-25-2021-05-25-2021-05-25-2021-05-25\"}"
       ",[]]",
       WB_PARSE_BAD_SHAPE, "\"lastupdated\" is longer than 63 bytes");
}

Test(wb_parse_shape, rows_element) {
  FAIL("[" HDR ",{}]", WB_PARSE_BAD_SHAPE, "neither an array nor null");
  FAIL("[" HDR ",[1]]", WB_PARSE_BAD_SHAPE, "row 0 is not an object");
  wb_page *p = parse_ok("[" HDR ",null]");
  cr_assert_eq(p->n_rows, 0);
  cr_assert_null(p->obs);
  wb_page_free(p);
}

Test(wb_parse_shape, any_rows_must_be_objects) {
  const char *b = "[" HDR ",[{},2]]";
  wb_page *p = NULL;
  char err[128];
  cr_assert_eq(wb_parse_page(b, strlen(b), WB_ROWS_ANY, &p, err, sizeof err),
               WB_PARSE_BAD_SHAPE);
  cr_assert_str_eq(err, "row 1 is not an object");
}

/* ---- indicator rows ------------------------------------------------------ */

Test(wb_parse_rows, null_is_missing_zero_is_zero_integer_is_exact) {
  wb_page *p = parse_ok("[" HDR ",[" ROW("\"KAZ\"", "\"2021\"", "null") "," ROW(
      "\"KAZ\"", "\"2020\"",
      "0") "," ROW("\"KAZ\"", "\"2019\"",
                   "19743603") "," ROW("\"KAZ\"", "\"2018\"",
                                       "-0.0117396193331287") "]]");
  cr_assert_eq(p->n_rows, 4);
  cr_assert_not(p->obs[0].has_value);
  cr_assert(isnan(p->obs[0].value));
  cr_assert(p->obs[1].has_value);
  cr_assert_eq(p->obs[1].value, 0.0);
  cr_assert_eq(p->obs[2].value, 19743603.0);
  cr_assert_eq(p->obs[3].value, -0.0117396193331287);
  cr_assert_eq(p->obs[3].year, 2018);
  cr_assert_str_eq(p->obs[3].indicator, "SP.POP.TOTL");
  wb_page_free(p);
}

Test(wb_parse_rows, empty_iso3_falls_back_to_country_id) {
  wb_page *p = parse_ok("[" HDR ",[" ROW("\"\"", "\"2019\"", "1.5") "," ROW(
      "null", "\"2019\"", "2.5") "]]");
  cr_assert_str_eq(p->obs[0].country, "KZ");
  cr_assert_str_eq(p->obs[1].country, "KZ");
  wb_page_free(p);
}

Test(wb_parse_rows, no_country_code_at_all) {
  FAIL("[" HDR ",[{\"indicator\":{\"id\":\"X\"},\"date\":\"2019\","
       "\"value\":1}]]",
       WB_PARSE_BAD_SHAPE, "row 0 has neither");
}

Test(wb_parse_rows, iso3_of_wrong_type_or_too_long) {
  FAIL("[" HDR ",[" ROW("7", "\"2019\"", "1") "]]", WB_PARSE_BAD_SHAPE,
       "\"countryiso3code\" is not a string");
  FAIL("[" HDR ",[" ROW(
           "\"KAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZ"
           "KAZKAZ\"",
           "\"2019\"", "1") "]]",
       WB_PARSE_BAD_SHAPE, "longer than 63 bytes");
}

Test(wb_parse_rows, indicator_id_required) {
  FAIL("[" HDR ",[{\"countryiso3code\":\"KAZ\",\"indicator\":\"SP.POP.TOTL\","
       "\"date\":\"2019\",\"value\":1}]]",
       WB_PARSE_BAD_SHAPE, "row 0 has no \"indicator\".\"id\"");
}

Test(wb_parse_rows, date_must_be_a_year_string) {
  FAIL("[" HDR ",[" ROW("\"KAZ\"", "\"2019Q1\"", "1") "]]", WB_PARSE_BAD_SHAPE,
       "\"2019Q1\" is not a year");
  FAIL("[" HDR ",[" ROW("\"KAZ\"", "\"2019M01\"", "1") "]]", WB_PARSE_BAD_SHAPE,
       "is not a year");
  FAIL("[" HDR ",[" ROW("\"KAZ\"", "\"\"", "1") "]]", WB_PARSE_BAD_SHAPE,
       "is not a year");
  FAIL("[" HDR ",[" ROW("\"KAZ\"", "\"20190\"", "1") "]]", WB_PARSE_BAD_SHAPE,
       "is not a year");
  FAIL("[" HDR ",[" ROW("\"KAZ\"", "\"-201\"", "1") "]]", WB_PARSE_BAD_SHAPE,
       "is not a year");
  FAIL("[" HDR ",[" ROW("\"KAZ\"", "2019", "1") "]]", WB_PARSE_BAD_SHAPE,
       "\"date\" is not a year string");
  FAIL("[" HDR ",[{\"indicator\":{\"id\":\"X\"},\"countryiso3code\":\"KAZ\","
       "\"value\":1}]]",
       WB_PARSE_BAD_SHAPE, "row 0 has no \"date\"");
}

Test(wb_parse_rows, value_must_be_number_or_null) {
  FAIL("[" HDR ",[" ROW("\"KAZ\"", "\"2019\"", "\"19743603\"") "]]",
       WB_PARSE_BAD_SHAPE, "\"value\" is neither a number nor null");
  FAIL("[" HDR ",[" ROW("\"KAZ\"", "\"2019\"", "true") "]]", WB_PARSE_BAD_SHAPE,
       "neither a number nor null");
  FAIL("[" HDR ",[{\"indicator\":{\"id\":\"X\"},\"countryiso3code\":\"KAZ\","
       "\"date\":\"2019\"}]]",
       WB_PARSE_BAD_SHAPE, "row 0 has no \"value\"");
}

Test(wb_parse_rows, bad_row_after_good_rows_names_its_index) {
  FAIL("[" HDR ",[" ROW("\"KAZ\"", "\"2019\"",
                        "1") "," ROW("\"KAZ\"", "\"2018\"", "[]") "]]",
       WB_PARSE_BAD_SHAPE, "row 1:");
}

/* ---- message bodies ------------------------------------------------------ */

Test(wb_parse_messages, malformed_message_lists) {
  FAIL("[{\"message\":[]}]", WB_PARSE_BAD_SHAPE, "not a non-empty array");
  FAIL("[{\"message\":\"Invalid\"}]", WB_PARSE_BAD_SHAPE,
       "not a non-empty array");
  FAIL("[{\"message\":[1]}]", WB_PARSE_BAD_SHAPE, "message 0 is not an object");
  FAIL("[{\"message\":[{}]}]", WB_PARSE_BAD_SHAPE, "no id, key or value");
  FAIL("[{\"message\":[{\"id\":\"1\",\"key\":[]}]}]", WB_PARSE_BAD_SHAPE,
       "wrong type");
}

Test(wb_parse_messages, numeric_id_and_missing_fields) {
  wb_page *p = parse_ok("[{\"message\":[{\"id\":175,\"value\":\"The indicator "
                        "was not found.\"}]}]");
  cr_assert(p->is_message);
  cr_assert_str_eq(p->messages[0].id, "175");
  cr_assert_str_eq(p->messages[0].key, "");
  cr_assert_str_eq(p->messages[0].value, "The indicator was not found.");
  wb_page_free(p);
}

Test(wb_parse_messages, long_text_is_cut_on_a_utf8_boundary) {
  /* 300 two-byte characters: the kept text must end on a whole character. */
  char body[1024];
  size_t n = 0;
  n += (size_t)snprintf(body, sizeof body,
                        "[{\"message\":[{\"id\":\"1\","
                        "\"value\":\"");
  for (int k = 0; k < 300; k++) {
    body[n++] = '\xC3';
    body[n++] = '\xA9';
  }
  n += (size_t)snprintf(body + n, sizeof body - n, "\"}]}]");
  wb_page *p = NULL;
  char err[128];
  cr_assert_eq(wb_parse_page(body, n, WB_ROWS_INDICATOR, &p, err, sizeof err),
               WB_PARSE_OK, "%s", err);
  size_t len = strlen(p->messages[0].value);
  cr_assert_eq(len, 254, "127 whole characters fit in 255 bytes");
  cr_assert_eq((unsigned char)p->messages[0].value[len - 1], 0xA9);
  wb_page_free(p);
}

Test(wb_parse_api, null_out_and_no_error_buffer) {
  char err[64];
  cr_assert_eq(wb_parse_page("[]", 2, WB_ROWS_INDICATOR, NULL, err, sizeof err),
               WB_PARSE_BAD_SHAPE);
  cr_assert_eq(wb_parse_page(NULL, 5, WB_ROWS_INDICATOR, NULL, NULL, 0),
               WB_PARSE_BAD_SHAPE);
  wb_page *p = NULL;
  cr_assert_eq(wb_parse_page("x", 1, WB_ROWS_INDICATOR, &p, NULL, 0),
               WB_PARSE_NOT_JSON);
  cr_assert_eq(wb_parse_page("[1", 2, WB_ROWS_INDICATOR, &p, err, 1),
               WB_PARSE_MALFORMED);
  cr_assert_str_eq(err, "");
  wb_page_free(NULL);
  cr_assert_str_eq(wb_parse_status_name(WB_PARSE_MALFORMED), "malformed-json");
  cr_assert_str_eq(wb_parse_status_name((wb_parse_status)99), "unknown");
}

Test(wb_parse_api, bom_before_json_is_skipped) {
  const char b[] =
      "\xEF\xBB\xBF[" HDR ",[" ROW("\"KAZ\"", "\"2019\"", "181.36") "]]";
  wb_page *p = NULL;
  char err[128];
  cr_assert_eq(
      wb_parse_page(b, sizeof b - 1, WB_ROWS_INDICATOR, &p, err, sizeof err),
      WB_PARSE_OK, "%s", err);
  cr_assert_eq(p->obs[0].value, 181.36);
  wb_page_free(p);
}
