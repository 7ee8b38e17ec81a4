/* Handler test of GET /v1 (api/api_info.c). */
#include "api/api_testing.h"

Test(info, describes_the_service_and_its_limits) {
  api_env env = test_env();
  env.limits.max_rows = 12345;
  env.threads = 3;
  api_request req = {.method = "GET", .path = "/v1", .env = &env};
  api_response res = {0};
  api_get_info(&req, &res);
  cr_assert_eq(res.status, 200);
  cr_assert_str_eq(res.content_type, "application/json");
  json_t *j = json_loadb(res.body, res.body_len, 0, NULL);
  cr_assert_not_null(j);
  json_t *want = json_pack(
      "{s:s, s:s, s:s, s:[s,s,s,s,s], s:[s,s,s,s,s,s,s], s:[s,s,s],"
      " s:{s:I, s:I, s:I, s:I, s:I}, s:I}",
      "service", "gravitas", "version", "0.1.0", "build", "test-build",
      "estimators", "ols", "sfa", "fe", "re", "ppml", "vcov", "classical",
      "hc0", "hc1", "hc2", "hc3", "cluster:<var>", "cluster:<a>+<b>",
      "potential_methods", "level", "log", "frontier", "limits",
      "max_body_bytes", (json_int_t)33554432, "max_rows", (json_int_t)12345,
      "max_columns", (json_int_t)256, "max_formula_len", (json_int_t)2048,
      "max_json_depth", (json_int_t)32, "threads", (json_int_t)3);
  char *got = json_dumps(j, JSON_SORT_KEYS);
  cr_assert(json_equal(j, want), "%s", got);
  free(got);
  json_decref(want);
  json_decref(j);
  api_response_free(&res);
}

Test(info, works_without_an_environment) {
  api_request req = {.method = "GET", .path = "/v1"};
  api_response res = {0};
  api_get_info(&req, &res);
  cr_assert_eq(res.status, 200);
  json_t *j = json_loadb(res.body, res.body_len, 0, NULL);
  cr_assert_str_eq(json_string_value(json_object_get(j, "version")),
                   GRAVITAS_VERSION);
  cr_assert_eq(json_integer_value(json_object_get(j, "threads")), 1);
  json_decref(j);
  api_response_free(&res);
}
