/* Handler tests of aliases (api/api_aliases.c) over the in-memory service
 * (svc_memory.h), no HTTP: PUT /v1/aliases/{name} creates and moves an
 * alias, resolves a target given as an alias once (aliases never chain) and
 * refuses invalid names, unknown targets and bad bodies; GET /v1/aliases
 * lists them by name. The models are stored answers of two fits of the
 * China - Central Asia panel (coefficients from tests/e2e). */
#include "api/api_requests.h"

#include "api_canon.h"

static const char m2021[] = "m_3f9c81aa07d24be1b6a0c3d5e8f71290";
static const char m2023[] = "m_a41b7c09e2d85f36b0c4e1d2a9f87b63";

static void store_model(fixture *f, const char *id, double b_gdp) {
  char text[1024];
  snprintf(text, sizeof text,
           "{\"id\": \"%s\", \"dataset_id\": "
           "\"ds_9b1e5a0c4f7d2e8a6b3c1d0f5e4a7b29\", \"estimator\": \"ols\", "
           "\"vcov\": \"hc1\", \"formula\": \"log(etrade) ~ log(gdp_r * "
           "gdp_p) + log(distcap * oil)\", \"coefficients\": [{\"term\": "
           "\"(Intercept)\", \"estimate\": -41.730581244316371}, {\"term\": "
           "\"log(gdp_r*gdp_p)\", \"estimate\": %.17g}, {\"term\": "
           "\"log(distcap*oil)\", \"estimate\": -0.61490372819904632}]}",
           id, b_gdp);
  store_answer(f, id, "ds_9b1e5a0c4f7d2e8a6b3c1d0f5e4a7b29", text);
}

static void two_models(fixture *f) {
  fixture_init(f);
  store_model(f, m2021, 1.0148296315307421);
  store_model(f, m2023, 1.0871902543068836);
}

static answer put(fixture *f, const char *name, const char *body) {
  return run_body(api_put_alias, f, name, body);
}

static answer put_target(fixture *f, const char *name, const char *target) {
  char body[256];
  snprintf(body, sizeof body, "{\"model_id\": \"%s\"}", target);
  return put(f, name, body);
}

/* The model id the alias points at in the store, or NULL. */
static const char *target_of(const fixture *f, const char *name) {
  for (size_t i = 0; i < f->m.n_aliases; i++)
    if (strcmp(f->m.aliases[i].name, name) == 0)
      return f->m.aliases[i].model_id;
  return NULL;
}

/* ---- PUT /v1/aliases/{name} -----------------------------------------------
 */

Test(alias_put, creates_with_201_and_no_previous_target) {
  fixture f;
  two_models(&f);
  answer a = put_target(&f, "default", m2021);
  assert_status(&a, 201);
  cr_assert_str_eq(a.content_type, "application/json");
  cr_assert_str_eq(jstr(a.json, "name"), "default");
  cr_assert_str_eq(jstr(a.json, "model_id"), m2021);
  cr_assert(json_is_null(json_object_get(a.json, "previous")));
  cr_assert_not_null(json_object_get(a.json, "updated_at"),
                     "present (null when the store keeps no time)");
  cr_assert_str_eq(a.location, "/v1/aliases/default");
  cr_assert_str_eq(target_of(&f, "default"), m2021);
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_put, moves_with_200_naming_the_previous_target) {
  fixture f;
  two_models(&f);
  answer a = put_target(&f, "default", m2021);
  assert_status(&a, 201);
  answer_free(&a);
  a = put_target(&f, "default", m2023);
  assert_status(&a, 200);
  cr_assert_str_eq(jstr(a.json, "model_id"), m2023);
  cr_assert_str_eq(jstr(a.json, "previous"), m2021);
  cr_assert_str_eq(a.location, "/v1/aliases/default");
  cr_assert_str_eq(target_of(&f, "default"), m2023);
  cr_assert_eq(f.m.n_aliases, 1);
  answer_free(&a);
  /* Pointing it at the same model again is a move to itself. */
  a = put_target(&f, "default", m2023);
  assert_status(&a, 200);
  cr_assert_str_eq(jstr(a.json, "previous"), m2023);
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_put, a_target_given_as_an_alias_resolves_to_its_model) {
  fixture f;
  two_models(&f);
  answer a = put_target(&f, "default", m2021);
  answer_free(&a);
  a = put_target(&f, "stable", "default");
  assert_status(&a, 201);
  cr_assert_str_eq(jstr(a.json, "model_id"), m2021, "the id, not the alias");
  cr_assert_str_eq(target_of(&f, "stable"), m2021);
  answer_free(&a);
  /* Moving "default" later leaves "stable" where it was: no chain. */
  a = put_target(&f, "default", m2023);
  assert_status(&a, 200);
  answer_free(&a);
  cr_assert_str_eq(target_of(&f, "stable"), m2021);
  cr_assert_str_eq(target_of(&f, "default"), m2023);
  fixture_done(&f);
}

Test(alias_put, the_longest_name_and_every_allowed_character) {
  fixture f;
  two_models(&f);
  char name[129];
  memset(name, 'k', 128);
  name[128] = '\0';
  answer a = put_target(&f, name, m2021);
  assert_status(&a, 201);
  cr_assert_str_eq(jstr(a.json, "name"), name);
  answer_free(&a);
  a = put_target(&f, "CHN-CA_2023.v2", m2021);
  assert_status(&a, 201);
  answer_free(&a);
  /* "m" alone and "m-..." do not look like a model id. */
  a = put_target(&f, "m-2023", m2021);
  assert_status(&a, 201);
  answer_free(&a);
  fixture_done(&f);
}

static void assert_bad_name(const char *name) {
  fixture f;
  two_models(&f);
  answer a = put_target(&f, name, m2021);
  const char *d =
      assert_answer_problem(&a, 422, "invalid-request", "/path/name");
  cr_assert(strstr(d, "[A-Za-z0-9._-]"), "%s", d);
  cr_assert_eq(f.m.n_aliases, 0);
  cr_assert_eq(f.m.calls, 2, "the store is not asked");
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_put, a_name_with_a_space_is_invalid) {
  assert_bad_name("a b");
}

Test(alias_put, a_name_of_129_characters_is_invalid) {
  char name[130];
  memset(name, 'k', 129);
  name[129] = '\0';
  assert_bad_name(name);
}

Test(alias_put, a_name_that_looks_like_a_model_id_is_invalid) {
  assert_bad_name("m_x");
}

Test(alias_put, a_name_with_a_slash_is_invalid) {
  assert_bad_name("a/b");
}

Test(alias_put, a_non_ascii_name_is_invalid) {
  assert_bad_name("\xc3\xa9t\xc3\xa9");
}

Test(alias_put, an_empty_name_is_invalid) {
  assert_bad_name("");
}

Test(alias_put, an_unknown_target_is_not_found_at_model_id) {
  fixture f;
  two_models(&f);
  answer a = put_target(&f, "default", "m_0123456789abcdef0123456789abcdef");
  const char *d = assert_answer_problem(&a, 404, "not-found", "/model_id");
  cr_assert(strstr(d, "m_0123456789abcdef0123456789abcdef"), "%s", d);
  cr_assert_eq(f.m.n_aliases, 0);
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_put, an_unknown_alias_as_target_is_not_found) {
  fixture f;
  two_models(&f);
  answer a = put_target(&f, "stable", "default");
  assert_answer_problem(&a, 404, "not-found", "/model_id");
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_put, malformed_json_is_400) {
  fixture f;
  two_models(&f);
  answer a = put(&f, "default", "{\"model_id\": ");
  assert_answer_problem(&a, 400, "malformed-json", "");
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_put, an_empty_body_is_400) {
  fixture f;
  two_models(&f);
  answer a = put(&f, "default", NULL);
  assert_answer_problem(&a, 400, "malformed-json", "");
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_put, a_duplicate_key_is_400) {
  fixture f;
  two_models(&f);
  char body[160];
  snprintf(body, sizeof body, "{\"model_id\": \"%s\", \"model_id\": \"%s\"}",
           m2021, m2023);
  answer a = put(&f, "default", body);
  assert_answer_problem(&a, 400, "malformed-json", "");
  cr_assert_eq(f.m.n_aliases, 0);
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_put, an_array_body_is_invalid) {
  fixture f;
  two_models(&f);
  answer a = put(&f, "default", "[\"m_3f9c81aa07d24be1b6a0c3d5e8f71290\"]");
  assert_answer_problem(&a, 422, "invalid-request", "");
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_put, a_bare_string_body_is_malformed) {
  fixture f;
  two_models(&f);
  /* JSON texts other than an array or object are not accepted at all. */
  answer a = put(&f, "default", "\"m_3f9c81aa07d24be1b6a0c3d5e8f71290\"");
  assert_answer_problem(&a, 400, "malformed-json", "");
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_put, a_missing_model_id_is_invalid) {
  fixture f;
  two_models(&f);
  answer a = put(&f, "default", "{}");
  assert_answer_problem(&a, 422, "invalid-request", "/model_id");
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_put, a_model_id_that_is_not_a_string_is_invalid) {
  fixture f;
  two_models(&f);
  answer a = put(&f, "default", "{\"model_id\": 2023}");
  assert_answer_problem(&a, 422, "invalid-request", "/model_id");
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_put, an_unknown_member_is_invalid) {
  fixture f;
  two_models(&f);
  char body[160];
  snprintf(body, sizeof body, "{\"model_id\": \"%s\", \"ttl\": 3600}", m2021);
  answer a = put(&f, "default", body);
  assert_answer_problem(&a, 422, "invalid-request", "/ttl");
  cr_assert_eq(f.m.n_aliases, 0);
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_put, busy_store_is_503_with_retry_after) {
  fixture f;
  two_models(&f);
  f.m.fail = API_SVC_BUSY;
  answer a = put_target(&f, "default", m2021);
  assert_answer_problem(&a, 503, "busy", "");
  cr_assert_str_eq(a.retry_after, "1");
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_put, busy_store_when_storing_is_503) {
  fixture f;
  two_models(&f);
  f.m.fail = API_SVC_BUSY;
  f.m.fail_after = 1; /* model_resolve succeeds, alias_put is busy */
  answer a = put_target(&f, "default", m2021);
  assert_answer_problem(&a, 503, "busy", "");
  cr_assert_eq(f.m.n_aliases, 0);
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_put, failing_store_is_500) {
  fixture f;
  two_models(&f);
  f.m.fail = API_SVC_ERROR;
  answer a = put_target(&f, "default", m2021);
  assert_answer_problem(&a, 500, "internal-error", "");
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_put, without_a_store_is_503_unavailable) {
  api_env env = test_env();
  call_in in = {.param = "default",
                .body =
                    "{\"model_id\": \"m_3f9c81aa07d24be1b6a0c3d5e8f71290\"}"};
  answer a = run(api_put_alias, &env, &in);
  assert_answer_problem(&a, 503, "unavailable", "");
  answer_free(&a);
}

/* ---- GET /v1/aliases ------------------------------------------------------
 */

Test(alias_list, empty) {
  fixture f;
  fixture_init(&f);
  answer a = run_get(api_get_aliases, &f, NULL, NULL);
  assert_status(&a, 200);
  cr_assert(json_is_array(json_object_get(a.json, "items")));
  cr_assert_eq(json_array_size(json_object_get(a.json, "items")), 0);
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_list, lists_every_alias_by_name_with_its_target) {
  fixture f;
  two_models(&f);
  const char *names[] = {"stable", "default", "CHN-CA_2023.v2"};
  const char *targets[] = {m2021, m2023, m2023};
  for (size_t i = 0; i < 3; i++) {
    answer a = put_target(&f, names[i], targets[i]);
    assert_status(&a, 201);
    answer_free(&a);
  }
  answer a = run_get(api_get_aliases, &f, NULL, NULL);
  assert_status(&a, 200);
  json_t *items = json_object_get(a.json, "items");
  cr_assert_eq(json_array_size(items), 3);
  const char *want_names[] = {"CHN-CA_2023.v2", "default", "stable"};
  const char *want_targets[] = {m2023, m2023, m2021};
  for (size_t i = 0; i < 3; i++) {
    json_t *it = json_array_get(items, i);
    cr_assert_str_eq(jstr(it, "name"), want_names[i]);
    cr_assert_str_eq(jstr(it, "model_id"), want_targets[i]);
  }
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_list, busy_store_is_503) {
  fixture f;
  fixture_init(&f);
  f.m.fail = API_SVC_BUSY;
  answer a = run_get(api_get_aliases, &f, NULL, NULL);
  assert_answer_problem(&a, 503, "busy", "");
  cr_assert_str_eq(a.retry_after, "1");
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_list, failing_store_is_500) {
  fixture f;
  fixture_init(&f);
  f.m.fail = API_SVC_ERROR;
  answer a = run_get(api_get_aliases, &f, NULL, NULL);
  assert_answer_problem(&a, 500, "internal-error", "");
  answer_free(&a);
  fixture_done(&f);
}

Test(alias_list, without_a_store_is_503_unavailable) {
  api_env env = test_env();
  call_in in = {0};
  answer a = run(api_get_aliases, &env, &in);
  assert_answer_problem(&a, 503, "unavailable", "");
  answer_free(&a);
}
