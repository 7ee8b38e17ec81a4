/* Tests of body parsing, the depth limit and declarative field specs
 * (api/api_json.c). */
#include "api/api_testing.h"

#include "api_json.h"

static json_t *parse(const char *text, api_response *res) {
  api_env env = test_env();
  api_request req = {
      .body = text, .body_len = text ? strlen(text) : 0, .env = &env};
  return api_json_parse_body(&req, &env.limits, res);
}

static json_t *problem_of(api_response *res) {
  json_t *j = json_loadb(res->body, res->body_len, 0, NULL);
  cr_assert_not_null(j);
  return j;
}

Test(json, parses_an_object) {
  api_response res = {0};
  json_t *j = parse("{\"a\": [1.25, {\"b\": null}]}", &res);
  cr_assert_not_null(j);
  cr_assert_eq(res.status, 0, "no answer is written on success");
  cr_assert_eq(json_real_value(json_array_get(json_object_get(j, "a"), 0)),
               1.25);
  json_decref(j);
}

Test(json, empty_and_blank_bodies_are_malformed) {
  const char *bodies[] = {NULL, "", "   ", " \r\n\t "};
  for (size_t i = 0; i < 4; i++) {
    api_response res = {0};
    cr_assert_null(parse(bodies[i], &res));
    cr_assert_eq(res.status, 400);
    json_t *p = problem_of(&res);
    cr_assert_str_eq(json_string_value(json_object_get(p, "type")),
                     "https://gravitas.dev/problems/malformed-json");
    json_t *e = json_array_get(json_object_get(p, "errors"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "pointer")), "");
    json_decref(p);
    api_response_free(&res);
  }
}

Test(json, syntax_error_names_line_and_column) {
  api_response res = {0};
  cr_assert_null(parse("{\n  \"formula\": \"y ~ x\",\n}", &res));
  cr_assert_eq(res.status, 400);
  json_t *p = problem_of(&res);
  const char *d = json_string_value(json_object_get(
      json_array_get(json_object_get(p, "errors"), 0), "detail"));
  cr_assert(strstr(d, "line 3") != NULL, "%s", d);
  cr_assert(strstr(d, "column") != NULL, "%s", d);
  json_decref(p);
  api_response_free(&res);
}

Test(json, duplicate_key_is_malformed_and_named) {
  api_response res = {0};
  cr_assert_null(parse("{\"formula\": \"a\", \"formula\": \"b\"}", &res));
  cr_assert_eq(res.status, 400);
  json_t *p = problem_of(&res);
  const char *d = json_string_value(json_object_get(p, "detail"));
  cr_assert(strstr(d, "duplicate") && strstr(d, "formula"), "%s", d);
  json_decref(p);
  api_response_free(&res);
}

Test(json, trailing_garbage_and_nan_are_malformed) {
  const char *bodies[] = {"{\"a\": 1} x", "{\"a\": NaN}", "{\"a\": 1e400}",
                          "{\"a\": \"\xff\"}"};
  for (size_t i = 0; i < 4; i++) {
    api_response res = {0};
    cr_assert_null(parse(bodies[i], &res), "%s", bodies[i]);
    cr_assert_eq(res.status, 400, "%s", bodies[i]);
    api_response_free(&res);
  }
}

Test(json, non_object_body_is_invalid_with_empty_pointer) {
  api_response res = {0};
  cr_assert_null(parse("[1, 2]", &res));
  cr_assert_eq(res.status, 422);
  json_t *p = problem_of(&res);
  json_t *e = json_array_get(json_object_get(p, "errors"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(e, "pointer")), "");
  json_decref(p);
  api_response_free(&res);
}

Test(json, depth_limit) {
  api_env env = test_env();
  env.limits.max_json_depth = 3;
  const char *ok = "{\"a\": {\"b\": [1]}}";     /* depth 3 */
  const char *deep = "{\"a\": {\"b\": [[1]]}}"; /* depth 4 */
  api_response res = {0};
  api_request req = {.body = ok, .body_len = strlen(ok), .env = &env};
  json_t *j = api_json_parse_body(&req, &env.limits, &res);
  cr_assert_not_null(j);
  cr_assert_eq(api_json_depth(j, 100), 3);
  json_decref(j);
  req.body = deep;
  req.body_len = strlen(deep);
  cr_assert_null(api_json_parse_body(&req, &env.limits, &res));
  cr_assert_eq(res.status, 422);
  json_t *p = problem_of(&res);
  cr_assert_str_eq(json_string_value(json_object_get(p, "type")),
                   "https://gravitas.dev/problems/limit-exceeded");
  json_decref(p);
  api_response_free(&res);
}

Test(json, depth_counting_stops_at_the_cap) {
  json_t *j = json_loads("[[[[[[[[[[1]]]]]]]]]]", 0, NULL);
  cr_assert_eq(api_json_depth(j, 100), 10);
  cr_assert_eq(api_json_depth(j, 4), 5);
  cr_assert_eq(api_json_depth(json_array_get(j, 0), 100), 9);
  json_t *s = json_integer(3);
  cr_assert_eq(api_json_depth(s, 5), 0);
  json_decref(s);
  json_decref(j);
}

static const char *const colours[] = {"red", "green", NULL};

Test(json, fields_collect_every_error) {
  json_t *obj = json_loads("{\"name\": 3, \"colour\": \"blue\", \"level\": 1.5,"
                           " \"count\": 2.0, \"a/b~c\": 1}",
                           0, NULL);
  const json_t *name = NULL, *colour = NULL, *level = NULL, *count = NULL,
               *needed = NULL;
  const api_field f[] = {
      {.name = "name", .type = API_F_STRING, .out = &name},
      {.name = "colour",
       .type = API_F_STRING,
       .allowed = colours,
       .out = &colour},
      {.name = "level",
       .type = API_F_NUMBER,
       .has_min = true,
       .min = 0,
       .min_exclusive = true,
       .has_max = true,
       .max = 1,
       .max_exclusive = true,
       .out = &level},
      {.name = "count", .type = API_F_INTEGER, .out = &count},
      {.name = "needed", .type = API_F_ARRAY, .required = true, .out = &needed},
  };
  api_errors errs = {0};
  cr_assert_not(api_json_fields(obj, "/base", f, 5, &errs));
  cr_assert_eq(api_errors_count(&errs), 6);
  const char *want[][2] = {
      {"/base/name", "must be a string"},
      {"/base/colour", "must be one of \"red\", \"green\""},
      {"/base/level", "must be > 0 and < 1"},
      {"/base/count", "must be an integer"},
      {"/base/needed", "is required"},
      {"/base/a~1b~0c", "unknown field; expected one of "
                        "name, colour, level, count, "
                        "needed"}};
  for (size_t i = 0; i < 6; i++) {
    json_t *e = json_array_get(errs.list, i);
    cr_assert_str_eq(json_string_value(json_object_get(e, "pointer")),
                     want[i][0]);
    cr_assert_str_eq(json_string_value(json_object_get(e, "detail")),
                     want[i][1]);
  }
  cr_assert_null(name);
  cr_assert_null(colour);
  cr_assert_null(level);
  cr_assert_null(count);
  api_errors_clear(&errs);
  json_decref(obj);
}

Test(json, fields_accept_valid_values) {
  json_t *obj = json_loads("{\"colour\": \"green\", \"level\": 0.95,"
                           " \"count\": 7}",
                           0, NULL);
  const json_t *colour = NULL, *level = NULL, *count = NULL, *absent = NULL;
  const api_field f[] = {
      {.name = "colour",
       .type = API_F_STRING,
       .allowed = colours,
       .out = &colour},
      {.name = "level",
       .type = API_F_NUMBER,
       .has_min = true,
       .min = 0,
       .min_exclusive = true,
       .out = &level},
      {.name = "count",
       .type = API_F_INTEGER,
       .has_max = true,
       .max = 7,
       .out = &count},
      {.name = "absent", .type = API_F_OBJECT, .out = &absent},
  };
  api_errors errs = {0};
  cr_assert(api_json_fields(obj, "", f, 4, &errs));
  cr_assert_eq(api_errors_count(&errs), 0);
  cr_assert_str_eq(json_string_value(colour), "green");
  cr_assert_eq(json_number_value(level), 0.95);
  cr_assert_eq(json_integer_value(count), 7);
  cr_assert_null(absent);
  json_decref(obj);
}

Test(json, fields_on_a_non_object) {
  json_t *arr = json_array();
  const api_field f[] = {{.name = "x", .type = API_F_NUMBER}};
  api_errors errs = {0};
  cr_assert_not(api_json_fields(arr, "/potential", f, 1, &errs));
  json_t *e = json_array_get(errs.list, 0);
  cr_assert_str_eq(json_string_value(json_object_get(e, "pointer")),
                   "/potential");
  cr_assert_str_eq(json_string_value(json_object_get(e, "detail")),
                   "must be an object");
  api_errors_clear(&errs);
  json_decref(arr);
}

Test(json, utf8_trim_drops_only_incomplete_sequences) {
  char a[] = "ab\xc3";            /* a cut two-byte sequence */
  char b[] = "ab\xc3\xa9";        /* complete */
  char c[] = "x\xe2\x82";         /* a cut three-byte sequence */
  char d[] = "x\xf0\x9f\x98\x80"; /* complete four-byte */
  cr_assert_str_eq(api_utf8_trim(a), "ab");
  cr_assert_str_eq(api_utf8_trim(b), "ab\xc3\xa9");
  cr_assert_str_eq(api_utf8_trim(c), "x");
  cr_assert_str_eq(api_utf8_trim(d), "x\xf0\x9f\x98\x80");
}

Test(json, pointer_builders) {
  char buf[64];
  cr_assert_str_eq(api_pointer_join(buf, sizeof buf, "/data/rows/3", "g/d~p"),
                   "/data/rows/3/g~1d~0p");
  cr_assert_str_eq(api_pointer_index(buf, sizeof buf, "/variables", 12),
                   "/variables/12");
  cr_assert_str_eq(api_pointer_join(buf, sizeof buf, "", "formula"),
                   "/formula");
}

Test(json, unknown_fields_beyond_the_cap_are_counted) {
  json_t *obj = json_object();
  char key[16];
  for (int i = 0; i < 40; i++) {
    snprintf(key, sizeof key, "k%02d", i);
    json_object_set_new(obj, key, json_integer(i));
  }
  const api_field f[] = {{.name = "x", .type = API_F_NUMBER}};
  api_errors errs = {0};
  cr_assert_not(api_json_fields(obj, "", f, 1, &errs));
  cr_assert_eq(api_errors_count(&errs), API_MAX_UNKNOWN + 1);
  json_t *last = json_array_get(errs.list, API_MAX_UNKNOWN);
  cr_assert_str_eq(json_string_value(json_object_get(last, "pointer")), "");
  cr_assert_str_eq(json_string_value(json_object_get(last, "detail")),
                   "24 more unknown fields are not listed");
  api_errors_clear(&errs);
  json_decref(obj);
}

/* Found by fuzz_request: Jansson's error text quotes the offending token
 * ("invalid escape near '"part\<0xd9>...'"), raw bytes included. The problem
 * body must still be written (a 400, not a 500 for an unencodable detail). */
Test(json, error_text_quoting_invalid_utf8_is_still_a_400) {
  static const char body[] =
      "\n{\"data\": {\"rows\": [{\"retrueer\": null, "
      "\"part\\\331\227P\374\177\000\000\020 99998, "
      "\"y\": 2.5, \"x\": 2.5}]}, \"formula\": \"y ~ x\"}";
  api_env env = test_env();
  api_request req = {.body = body, .body_len = sizeof body - 1, .env = &env};
  api_response res = {0};
  cr_assert_null(api_json_parse_body(&req, &env.limits, &res));
  cr_assert_eq(res.status, 400);
  json_t *p = problem_of(&res);
  const char *d = json_string_value(json_object_get(p, "detail"));
  cr_assert(strstr(d, "invalid escape") != NULL, "%s", d);
  cr_assert(api_utf8_valid(d, strlen(d)));
  json_decref(p);
  api_response_free(&res);
}

Test(json, utf8_sanitize_and_valid) {
  char a[] = "ok \xc3\xa9 \xff x \xc3";
  cr_assert_not(api_utf8_valid(a, strlen(a)));
  cr_assert_str_eq(api_utf8_sanitize(a), "ok \xc3\xa9 ? x ?");
  cr_assert(api_utf8_valid(a, strlen(a)));
  cr_assert_not(api_utf8_valid("\xed\xa0\x80", 3), "a surrogate");
  cr_assert_not(api_utf8_valid("\xc0\xaf", 2), "an overlong form");
  cr_assert(api_utf8_valid("\xf0\x9f\x98\x80", 4));
}

/* api_errors_add writes an entry even when its pointer or detail carries
 * bytes that are not UTF-8. */
Test(json, error_entries_survive_invalid_utf8) {
  api_errors errs = {0};
  api_errors_add(&errs, "/data/\xff", "bad %s", "\xfe");
  cr_assert_eq(api_errors_count(&errs), 1);
  json_t *e = json_array_get(errs.list, 0);
  cr_assert_str_eq(json_string_value(json_object_get(e, "pointer")), "/data/?");
  cr_assert_str_eq(json_string_value(json_object_get(e, "detail")), "bad ?");
  api_errors_clear(&errs);
}

/* api_json_valid against Jansson (JSON_DECODE_ANY | JSON_ALLOW_NUL) on each
 * text: both accept or both refuse. */
static bool jansson_accepts(const char *s, size_t n) {
  json_error_t e;
  json_t *v = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
  json_decref(v);
  return v != NULL;
}

Test(json, valid_accepts_every_kind_of_value) {
  static const char *const ok[] = {
      "{}",
      "[]",
      " {\"a\": [1, -2.5e-3, 0, -0, 1E+9, true, false, null]} ",
      "\"x\"",
      "0",
      "-0.0",
      "123",
      "1.5e308",
      "null",
      "\t\r\n[ ]\n",
      "{\"\\u00e9\\\"\\\\\\/\\b\\f\\n\\r\\t\": \"\\ud83d\\ude00\"}",
      "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
      "\"\\u0000\"",
      "[[[[[]]]],{\"a\":{\"b\":{}}}]",
      "{\"a\":1,\"a\":2}"};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    cr_assert(api_json_valid(ok[i], strlen(ok[i])), "%s", ok[i]);
    cr_assert(jansson_accepts(ok[i], strlen(ok[i])), "%s", ok[i]);
  }
}

Test(json, valid_refuses_what_is_not_json) {
  static const char *const bad[] = {"",
                                    " ",
                                    "{",
                                    "}",
                                    "[1,]",
                                    "{\"a\":1,}",
                                    "{\"a\" 1}",
                                    "{a:1}",
                                    "[1 2]",
                                    "01",
                                    "1.",
                                    ".5",
                                    "1e",
                                    "1e+",
                                    "+1",
                                    "-",
                                    "--1",
                                    "0x10",
                                    "NaN",
                                    "Infinity",
                                    "tru",
                                    "nul",
                                    "True",
                                    "\"abc",
                                    "\"a\nb\"",
                                    "\"\\x\"",
                                    "\"\\u12\"",
                                    "\"\\u12G4\"",
                                    "\"\\ud800\"",
                                    "\"\\udc00\"",
                                    "\"\\ud800\\u0041\"",
                                    "\"\xc3\"",
                                    "\"\xc0\xaf\"",
                                    "\"\xed\xa0\x80\"",
                                    "\"\xf4\x90\x80\x80\"",
                                    "\"\xff\"",
                                    "{} {}",
                                    "[] x",
                                    "\xef\xbb\xbf{}",
                                    "{\"a\":}",
                                    "[,1]",
                                    "{,}",
                                    "[\"a\":1]",
                                    "{\"a\",1}",
                                    "{1:2}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    cr_assert_not(api_json_valid(bad[i], strlen(bad[i])), "%s", bad[i]);
    cr_assert_not(jansson_accepts(bad[i], strlen(bad[i])), "%s", bad[i]);
  }
  /* A NUL byte outside and inside a string; a text cut anywhere. */
  cr_assert_not(api_json_valid("[1]\0", 4));
  cr_assert_not(api_json_valid("\"a\0b\"", 5));
  const char *full = "{\"k\": [1.5, \"\\u00e9\", {\"x\": null}]}";
  for (size_t n = 0; n < strlen(full); n++)
    cr_assert_not(api_json_valid(full, n), "%.*s", (int)n, full);
  cr_assert(api_json_valid(full, strlen(full)));
  cr_assert_not(api_json_valid(NULL, 0));
}

Test(json, valid_numbers_beyond_what_jansson_holds_are_json) {
  const char *big[] = {"123456789012345678901234567890", "1e999", "-1e999"};
  for (size_t i = 0; i < sizeof big / sizeof *big; i++)
    cr_assert(api_json_valid(big[i], strlen(big[i])), "%s", big[i]);
}

Test(json, valid_depth_limit_is_janssons) {
  size_t d = API_JSON_VALID_MAX_DEPTH;
  char *s = malloc(2 * d + 4);
  cr_assert_not_null(s);
  for (size_t extra = 0; extra <= 1; extra++) {
    size_t n = d + extra;
    for (size_t i = 0; i < n; i++) {
      s[i] = '[';
      s[2 * n - 1 - i] = ']';
    }
    cr_assert_eq(api_json_valid(s, 2 * n), extra == 0, "depth %zu", n);
    cr_assert_eq(jansson_accepts(s, 2 * n), extra == 0, "depth %zu", n);
  }
  /* Objects and arrays mixed, both closed in the right order. */
  cr_assert(api_json_valid("{\"a\":[{\"b\":[1]}]}", 17));
  cr_assert_not(api_json_valid("{\"a\":[{\"b\":[1}]]}", 17));
  free(s);
}

Test(json, valid_nul_escape_in_a_key_is_json) {
  /* Jansson refuses it (it cannot hold the key), RFC 8259 does not. */
  const char *s = "{\"a\\u0000b\": 1}";
  cr_assert(api_json_valid(s, strlen(s)));
}

Test(json, valid_refuses_a_raw_nul_after_a_number) {
  /* Jansson lets this pass (it ends the number at the NUL); RFC 8259 has
   * no place for a raw NUL byte outside strings, nor inside them. */
  static const char s[] = "{\"a\": 3655.65\0, \"b\": 1}";
  cr_assert_not(api_json_valid(s, sizeof s - 1));
}
