/* Handler tests of stored models (api/api_model_store.c, with POST
 * /v1/models of api/api_models.c storing them) over the in-memory service
 * (svc_memory.h), no HTTP: a fit is stored and answered again byte for
 * byte, read by id and by alias with ETags, listed in pages, deleted, its
 * potentials filtered, and new rows predicted with it. Numbers: the China -
 * Central Asia panel of tests/e2e/fixtures/gravity_chn_ca.csv (70 rows,
 * 2010-2023, goods trade observed in 13 of them). */
#include "api/api_requests.h"

#include <errno.h>
#include <math.h>

#include "api_canon.h"
#include "api_svc.h"
#include "api_text.h"

static const char gravity_csv_path[] =
    GRAVITAS_SOURCE_DIR "/tests/e2e/fixtures/gravity_chn_ca.csv";

static const char gravity_formula[] =
    "log(etrade) ~ log(gdp_r * gdp_p) + log(distcap * oil) + open_p";

/* The whole file (malloc'd, NUL-terminated). */
static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  cr_assert_eq(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  cr_assert_geq(n, 0);
  cr_assert_eq(fseek(f, 0, SEEK_SET), 0);
  char *buf = malloc((size_t)n + 1);
  cr_assert_not_null(buf);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* The panel as {"rows": [...]}: empty cells null, year an integer. */
static json_t *gravity_rows(void) {
  char *text = read_file(gravity_csv_path);
  char names[16][32];
  size_t nn = 0;
  json_t *rows = json_array();
  bool header = true;
  for (char *line = text; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    line[strcspn(line, "\r")] = '\0';
    json_t *row = header ? NULL : json_object();
    size_t k = 0;
    for (char *s = line;;) {
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
        cr_assert(*end == '\0' && end != s, "year %s", s);
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
    line = nl ? nl + 1 : NULL;
  }
  free(text);
  cr_assert_eq(json_array_size(rows), 70);
  return json_pack("{s:o}", "rows", rows);
}

/* POST /v1/models with the panel inline and HC1 standard errors. */
static answer post_gravity(fixture *f) {
  json_t *req = json_pack("{s:o, s:s, s:s}", "data", gravity_rows(), "formula",
                          gravity_formula, "vcov", "hc1");
  char *text = json_dumps(req, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(req);
  answer a = run_body(api_post_models, f, NULL, text);
  free(text);
  return a;
}

/* Posts the panel and returns its model id (malloc'd). */
static char *stored_gravity(fixture *f) {
  answer a = post_gravity(f);
  assert_status(&a, 201);
  char *id = strdup(jstr(a.json, "id"));
  answer_free(&a);
  return id;
}

static char *quoted(const char *id) {
  size_t n = strlen(id) + 3;
  char *q = malloc(n);
  cr_assert_not_null(q);
  snprintf(q, n, "\"%s\"", id);
  return q;
}

/* ---- a fit is stored ------------------------------------------------------
 */

Test(model_store, a_posted_model_is_stored_and_answered_again_unchanged) {
  fixture f;
  fixture_init(&f);
  answer a = post_gravity(&f);
  assert_status(&a, 201);
  const char *id = jstr(a.json, "id");
  cr_assert_eq(strlen(id), API_MODEL_ID_LEN);
  cr_assert_eq(f.m.n_models, 1);
  cr_assert_str_eq(f.m.models[0].id, id);
  cr_assert_str_eq(f.m.models[0].result, a.body,
                   "the answer is what is stored");
  char want_loc[96];
  snprintf(want_loc, sizeof want_loc, "/v1/models/%s", id);
  char *tag = quoted(id);
  cr_assert_str_eq(a.location, want_loc);
  cr_assert_str_eq(a.etag, tag);

  answer b = post_gravity(&f);
  assert_status(&b, 200);
  cr_assert_eq(b.body_len, a.body_len);
  cr_assert_eq(memcmp(b.body, a.body, a.body_len), 0, "the same bytes");
  cr_assert_str_eq(b.location, want_loc);
  cr_assert_str_eq(b.etag, tag);
  cr_assert_eq(f.m.n_models, 1, "nothing new is stored");
  free(tag);
  answer_free(&a);
  answer_free(&b);
  fixture_done(&f);
}

Test(model_store, inline_and_stored_data_give_the_same_model) {
  fixture inl;
  fixture_init(&inl);
  char *inline_id = stored_gravity(&inl);
  char *inline_body = strdup(inl.m.models[0].result);

  fixture f;
  fixture_init(&f);
  char *csv = read_file(gravity_csv_path);
  call_in up = {.content_type = "text/csv", .body = csv};
  answer ds = run(api_post_datasets, &f.env, &up);
  free(csv);
  assert_status(&ds, 201);
  const char *ds_id = jstr(ds.json, "id");
  cr_assert_eq(strlen(ds_id), API_DATASET_ID_LEN);
  json_t *req = json_pack("{s:s, s:s, s:s}", "dataset_id", ds_id, "formula",
                          gravity_formula, "vcov", "hc1");
  char *text = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  answer a = run_body(api_post_models, &f, NULL, text);
  assert_status(&a, 201);
  cr_assert_str_eq(jstr(a.json, "id"), inline_id);
  cr_assert_str_eq(jstr(a.json, "dataset_id"), ds_id);
  cr_assert_str_eq(f.m.models[0].dataset_id, ds_id);
  /* The same fit: the same coefficients, to the last digit. */
  json_t *inl_json = json_loads(inline_body, 0, NULL);
  cr_assert(json_equal(json_object_get(inl_json, "coefficients"),
                       json_object_get(a.json, "coefficients")));
  json_decref(inl_json);

  /* Asked again, with the stored dataset or inline: the stored bytes. */
  answer b = run_body(api_post_models, &f, NULL, text);
  assert_status(&b, 200);
  cr_assert_str_eq(b.body, a.body);
  answer c = post_gravity(&f);
  assert_status(&c, 200);
  cr_assert_str_eq(c.body, a.body);
  cr_assert_eq(f.m.n_models, 1);
  free(text);
  free(inline_id);
  free(inline_body);
  answer_free(&ds);
  answer_free(&a);
  answer_free(&b);
  answer_free(&c);
  fixture_done(&inl);
  fixture_done(&f);
}

/* ---- GET /v1/models/{id} --------------------------------------------------
 */

Test(model_get, by_id_and_by_alias_answers_the_stored_bytes) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  store_alias(&f, "chn-ca-2023", id);
  char *tag = quoted(id);
  const char *names[] = {id, "chn-ca-2023"};
  for (size_t i = 0; i < 2; i++) {
    answer a = run_get(api_get_model, &f, names[i], NULL);
    assert_status(&a, 200);
    cr_assert_str_eq(a.content_type, "application/json");
    cr_assert_str_eq(a.body, f.m.models[0].result, "%s", names[i]);
    cr_assert_eq(a.body_len, strlen(f.m.models[0].result));
    cr_assert_str_eq(a.etag, tag, "the model's tag, also by alias");
    answer_free(&a);
  }
  cr_assert_eq(f.m.acquired, 2);
  free(tag);
  free(id);
  fixture_done(&f);
}

/* GET /v1/models/{id} with If-None-Match: the status and the ETag. */
static void assert_conditional(fixture *f, const char *id,
                               const char *if_none_match, int want) {
  call_in in = {.param = id, .if_none_match = if_none_match};
  answer a = run(api_get_model, &f->env, &in);
  cr_assert_eq(a.status, want, "If-None-Match: %s gave %d", if_none_match,
               a.status);
  char *tag = quoted(id);
  cr_assert_str_eq(a.etag, tag);
  free(tag);
  if (want == 304)
    cr_assert_null(a.body, "a 304 has no body");
  else
    cr_assert_str_eq(a.body, f->m.models[0].result);
  answer_free(&a);
}

Test(model_get, if_none_match_with_the_exact_tag_is_not_modified) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  char *tag = quoted(id);
  assert_conditional(&f, id, tag, 304);
  free(tag);
  free(id);
  fixture_done(&f);
}

Test(model_get, if_none_match_with_a_list_holding_the_tag_is_not_modified) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  char list[160];
  snprintf(list, sizeof list,
           "\"m_00000000000000000000000000000000\", \"%s\" ,\"x\"", id);
  assert_conditional(&f, id, list, 304);
  free(id);
  fixture_done(&f);
}

Test(model_get, if_none_match_with_the_weak_tag_is_not_modified) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  char weak[96];
  snprintf(weak, sizeof weak, "W/\"%s\"", id);
  assert_conditional(&f, id, weak, 304);
  free(id);
  fixture_done(&f);
}

Test(model_get, if_none_match_star_is_not_modified) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  assert_conditional(&f, id, "*", 304);
  free(id);
  fixture_done(&f);
}

Test(model_get, if_none_match_with_other_tags_answers_the_model) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  char unquoted[64], prefix[64];
  snprintf(unquoted, sizeof unquoted, "%s", id);
  snprintf(prefix, sizeof prefix, "\"%.20s\"", id);
  assert_conditional(&f, id, "\"m_00000000000000000000000000000000\"", 200);
  assert_conditional(&f, id, unquoted, 200);
  assert_conditional(&f, id, prefix, 200);
  assert_conditional(&f, id, "", 200);
  free(id);
  fixture_done(&f);
}

Test(etag, matching_rules) {
  const char *tag = "\"m_5d41402abc4b2a76b9719d911017c592\"";
  cr_assert(api_etag_matches(tag, tag));
  cr_assert(api_etag_matches("W/\"m_5d41402abc4b2a76b9719d911017c592\"", tag));
  cr_assert(api_etag_matches(" \"a\",\t\"m_5d41402abc4b2a76b9719d911017c592\" ",
                             tag));
  cr_assert(api_etag_matches("\"a\", *", tag));
  cr_assert(api_etag_matches("*", tag));
  cr_assert_not(api_etag_matches(NULL, tag));
  cr_assert_not(api_etag_matches(tag, NULL));
  cr_assert_not(api_etag_matches("", tag));
  cr_assert_not(api_etag_matches(", ,", tag));
  cr_assert_not(api_etag_matches("\"m_5d41402abc4b2a76b9719d911017c59\"", tag));
  cr_assert_not(api_etag_matches("m_5d41402abc4b2a76b9719d911017c592", tag));
  cr_assert_not(
      api_etag_matches("w/\"m_5d41402abc4b2a76b9719d911017c592\"", tag));
  cr_assert_not(api_etag_matches("**", tag));
}

Test(model_get, unknown_id_is_not_found_at_the_path) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  answer a =
      run_get(api_get_model, &f, "m_0123456789abcdef0123456789abcdef", NULL);
  const char *d = assert_answer_problem(&a, 404, "not-found", "/path/id");
  cr_assert(strstr(d, "m_0123456789abcdef0123456789abcdef"), "%s", d);
  cr_assert_str_eq(a.etag, "");
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_get, unknown_alias_is_not_found_at_the_path) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  answer a = run_get(api_get_model, &f, "chn-ca-2030", NULL);
  const char *d = assert_answer_problem(&a, 404, "not-found", "/path/id");
  cr_assert(strstr(d, "'chn-ca-2030'"), "%s", d);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_get, busy_store_is_503_with_retry_after) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  f.m.fail = API_SVC_BUSY;
  answer a = run_get(api_get_model, &f, id, NULL);
  assert_answer_problem(&a, 503, "busy", "");
  cr_assert_str_eq(a.retry_after, "1");
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_get, busy_store_after_the_alias_is_resolved_is_503) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  f.m.fail = API_SVC_BUSY;
  f.m.fail_after = 1; /* model_resolve succeeds, model_acquire is busy */
  answer a = run_get(api_get_model, &f, id, NULL);
  assert_answer_problem(&a, 503, "busy", "");
  cr_assert_str_eq(a.retry_after, "1");
  cr_assert_eq(f.m.acquired, 0);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_get, failing_store_is_500) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  f.m.fail = API_SVC_ERROR;
  answer a = run_get(api_get_model, &f, id, NULL);
  assert_answer_problem(&a, 500, "internal-error", "");
  cr_assert_str_eq(a.retry_after, "");
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_get, a_stored_answer_that_is_not_a_model_is_500) {
  fixture f;
  fixture_init(&f);
  store_answer(&f, "m_0123456789abcdef0123456789abcdef", "ds_x",
               "{\"id\": \"m_0123456789abcdef0123456789abcdef\"}");
  answer a =
      run_get(api_get_model, &f, "m_0123456789abcdef0123456789abcdef", NULL);
  assert_answer_problem(&a, 500, "internal-error", "");
  answer_free(&a);
  fixture_done(&f);
}

Test(model_get, without_a_store_is_503_unavailable) {
  api_env env = test_env();
  call_in in = {.param = "m_0123456789abcdef0123456789abcdef"};
  answer a = run(api_get_model, &env, &in);
  assert_answer_problem(&a, 503, "unavailable", "");
  answer_free(&a);
}

/* ---- GET /v1/models -------------------------------------------------------
 */

/* Stores n models under the ids m_<32 hex of i> directly (a minimal model
 * answer each, formula of the gravity panel). */
static void store_n(fixture *f, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char id[API_MODEL_ID_LEN + 1], text[512];
    snprintf(id, sizeof id, "m_%032zx", i + 1);
    snprintf(text, sizeof text,
             "{\"id\": \"%s\", \"dataset_id\": "
             "\"ds_9b1e5a0c4f7d2e8a6b3c1d0f5e4a7b29\", \"estimator\": "
             "\"ols\", \"vcov\": \"hc1\", \"formula\": \"%s\", "
             "\"coefficients\": [{\"term\": \"(Intercept)\", \"estimate\": "
             "-34.61828739044%zu}]}",
             id, gravity_formula, i);
    store_answer(f, id, "ds_9b1e5a0c4f7d2e8a6b3c1d0f5e4a7b29", text);
  }
}

static answer list(fixture *f, const char *limit, const char *after) {
  kv q[3] = {{NULL, NULL}, {NULL, NULL}, {NULL, NULL}};
  size_t k = 0;
  if (limit) q[k++] = (kv){"limit", limit};
  if (after) q[k++] = (kv){"after", after};
  return run_get(api_get_models, f, NULL, q);
}

Test(model_list, empty_store_is_an_empty_page) {
  fixture f;
  fixture_init(&f);
  answer a = list(&f, NULL, NULL);
  assert_status(&a, 200);
  cr_assert_eq(json_array_size(json_object_get(a.json, "items")), 0);
  cr_assert(json_is_null(json_object_get(a.json, "next")));
  answer_free(&a);
  fixture_done(&f);
}

Test(model_list, pages_follow_the_cursor_in_insertion_order) {
  fixture f;
  fixture_init(&f);
  store_n(&f, 5);
  char after[32] = "";
  size_t seen = 0, pages = 0;
  for (;;) {
    answer a = list(&f, "2", after[0] ? after : NULL);
    assert_status(&a, 200);
    json_t *items = json_object_get(a.json, "items");
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
      char want[API_MODEL_ID_LEN + 1];
      snprintf(want, sizeof want, "m_%032zx", seen + 1);
      cr_assert_str_eq(jstr(it, "id"), want);
      cr_assert_str_eq(jstr(it, "formula"), gravity_formula);
      cr_assert_not_null(jstr(it, "created_at"));
      seen++;
    }
    pages++;
    const char *next = jstr(a.json, "next");
    if (next == NULL) {
      cr_assert(json_is_null(json_object_get(a.json, "next")));
      answer_free(&a);
      break;
    }
    cr_assert_eq(json_array_size(items), 2, "a page before the last is full");
    snprintf(after, sizeof after, "%s", next);
    answer_free(&a);
  }
  cr_assert_eq(seen, 5);
  cr_assert_eq(pages, 3);
  fixture_done(&f);
}

Test(model_list, the_default_limit_is_100_and_the_maximum_1000) {
  fixture f;
  fixture_init(&f);
  store_n(&f, 101);
  answer a = list(&f, NULL, NULL);
  assert_status(&a, 200);
  cr_assert_eq(json_array_size(json_object_get(a.json, "items")), 100);
  cr_assert_str_eq(jstr(a.json, "next"), "100");
  answer_free(&a);
  a = list(&f, "1000", NULL);
  assert_status(&a, 200);
  cr_assert_eq(json_array_size(json_object_get(a.json, "items")), 101);
  cr_assert(json_is_null(json_object_get(a.json, "next")));
  answer_free(&a);
  a = list(&f, "1", NULL);
  assert_status(&a, 200);
  cr_assert_eq(json_array_size(json_object_get(a.json, "items")), 1);
  answer_free(&a);
  fixture_done(&f);
}

static void assert_bad_limit(const char *limit) {
  fixture f;
  fixture_init(&f);
  store_n(&f, 2);
  answer a = list(&f, limit, NULL);
  const char *d = assert_answer_problem(&a, 400, "bad-query", "/query/limit");
  cr_assert(strstr(d, "from 1 to 1000"), "%s", d);
  cr_assert_eq(f.m.calls, 2, "no store call for a bad limit");
  answer_free(&a);
  fixture_done(&f);
}

Test(model_list, limit_0_is_bad) {
  assert_bad_limit("0");
}
Test(model_list, limit_1001_is_bad) {
  assert_bad_limit("1001");
}
Test(model_list, limit_with_trailing_text_is_bad) {
  assert_bad_limit("1x");
}
Test(model_list, limit_with_a_plus_sign_is_bad) {
  assert_bad_limit("+1");
}
Test(model_list, empty_limit_is_bad) {
  assert_bad_limit("");
}
Test(model_list, negative_limit_is_bad) {
  assert_bad_limit("-1");
}
Test(model_list, limit_with_a_leading_space_is_bad) {
  assert_bad_limit(" 5");
}
Test(model_list, limit_beyond_long_long_is_bad) {
  assert_bad_limit("99999999999999999999");
}

static void assert_bad_cursor(const char *after) {
  fixture f;
  fixture_init(&f);
  store_n(&f, 2);
  answer a = list(&f, "1", after);
  const char *d = assert_answer_problem(&a, 400, "bad-query", "/query/after");
  cr_assert(strstr(d, "cursor"), "%s", d);
  answer_free(&a);
  fixture_done(&f);
}

Test(model_list, cursor_that_is_not_ours_is_bad) {
  assert_bad_cursor("abc");
}
Test(model_list, empty_cursor_is_bad) {
  assert_bad_cursor("");
}
Test(model_list, model_id_as_cursor_is_bad) {
  assert_bad_cursor("m_00000000000000000000000000000001");
}

Test(model_list, busy_store_is_503) {
  fixture f;
  fixture_init(&f);
  f.m.fail = API_SVC_BUSY;
  answer a = list(&f, NULL, NULL);
  assert_answer_problem(&a, 503, "busy", "");
  cr_assert_str_eq(a.retry_after, "1");
  answer_free(&a);
  fixture_done(&f);
}

Test(model_list, failing_store_is_500) {
  fixture f;
  fixture_init(&f);
  f.m.fail = API_SVC_ERROR;
  answer a = list(&f, NULL, NULL);
  assert_answer_problem(&a, 500, "internal-error", "");
  answer_free(&a);
  fixture_done(&f);
}

Test(model_list, without_a_store_is_503_unavailable) {
  api_env env = test_env();
  call_in in = {0};
  answer a = run(api_get_models, &env, &in);
  assert_answer_problem(&a, 503, "unavailable", "");
  answer_free(&a);
}

/* ---- DELETE /v1/models/{id} -----------------------------------------------
 */

Test(model_delete, deletes_and_the_model_is_gone) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  answer a = run_get(api_delete_model, &f, id, NULL);
  assert_status(&a, 204);
  cr_assert_null(a.body);
  cr_assert_eq(f.m.n_models, 0);
  answer_free(&a);
  a = run_get(api_get_model, &f, id, NULL);
  assert_answer_problem(&a, 404, "not-found", "/path/id");
  answer_free(&a);
  a = run_get(api_delete_model, &f, id, NULL);
  assert_answer_problem(&a, 404, "not-found", "/path/id");
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_delete, an_aliased_model_is_a_conflict_naming_the_alias) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  store_alias(&f, "default", id);
  answer a = run_get(api_delete_model, &f, id, NULL);
  const char *d = assert_answer_problem(&a, 409, "conflict", "/path/id");
  cr_assert(strstr(d, "'default'"), "%s", d);
  cr_assert(strstr(d, "PUT /v1/aliases/{name}"), "%s", d);
  const char *detail = problem_detail(&a);
  cr_assert(strstr(detail, id), "%s", detail);
  cr_assert(strstr(detail, "'default'"), "%s", detail);
  cr_assert_eq(f.m.n_models, 1, "still stored");
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_delete, every_alias_of_the_model_is_named_and_no_other) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  store_n(&f, 1);
  store_alias(&f, "default", id);
  store_alias(&f, "chn-ca-2023", id);
  store_alias(&f, "staging", "m_00000000000000000000000000000001");
  answer a = run_get(api_delete_model, &f, "default", NULL);
  const char *d = assert_answer_problem(&a, 409, "conflict", "/path/id");
  cr_assert(strstr(d, "'chn-ca-2023', 'default'"), "%s", d);
  cr_assert_null(strstr(d, "staging"), "%s", d);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_delete, unknown_id_is_not_found) {
  fixture f;
  fixture_init(&f);
  answer a =
      run_get(api_delete_model, &f, "m_0123456789abcdef0123456789abcdef", NULL);
  const char *d = assert_answer_problem(&a, 404, "not-found", "/path/id");
  cr_assert(strstr(d, "m_0123456789abcdef0123456789abcdef"), "%s", d);
  answer_free(&a);
  fixture_done(&f);
}

Test(model_delete, busy_store_is_503) {
  fixture f;
  fixture_init(&f);
  store_n(&f, 1);
  f.m.fail = API_SVC_BUSY;
  answer a =
      run_get(api_delete_model, &f, "m_00000000000000000000000000000001", NULL);
  assert_answer_problem(&a, 503, "busy", "");
  cr_assert_str_eq(a.retry_after, "1");
  cr_assert_eq(f.m.n_models, 1);
  answer_free(&a);
  fixture_done(&f);
}

Test(model_delete, failing_store_is_500) {
  fixture f;
  fixture_init(&f);
  store_n(&f, 1);
  f.m.fail = API_SVC_ERROR;
  f.m.fail_after = 1;
  answer a =
      run_get(api_delete_model, &f, "m_00000000000000000000000000000001", NULL);
  assert_answer_problem(&a, 500, "internal-error", "");
  answer_free(&a);
  fixture_done(&f);
}

Test(model_delete, without_a_store_is_503_unavailable) {
  api_env env = test_env();
  call_in in = {.param = "m_00000000000000000000000000000001"};
  answer a = run(api_delete_model, &env, &in);
  assert_answer_problem(&a, 503, "unavailable", "");
  answer_free(&a);
}

/* ---- GET /v1/models/{id}/potentials ---------------------------------------
 */

static answer potentials(fixture *f, const char *id, const kv *q) {
  return run_get(api_get_model_potentials, f, id, q);
}

Test(model_potentials, all_rows_without_filters) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  answer a = potentials(&f, id, NULL);
  assert_status(&a, 200);
  cr_assert_str_eq(jstr(a.json, "model_id"), id);
  json_t *rows = json_object_get(a.json, "potentials");
  cr_assert_eq(json_array_size(rows), 70);
  char *tag = quoted(id);
  cr_assert_str_eq(a.etag, tag);
  free(tag);
  /* Sorted by reporter, partner, year: KAZ 2010 first, UZB 2023 last. */
  json_t *first = json_array_get(rows, 0), *last = json_array_get(rows, 69);
  cr_assert_str_eq(jstr(first, "partner"), "KAZ");
  cr_assert_eq(json_integer_value(json_object_get(first, "year")), 2010);
  cr_assert_str_eq(jstr(last, "partner"), "UZB");
  cr_assert_eq(json_integer_value(json_object_get(last, "year")), 2023);
  cr_assert_eq(jnum(last, "actual"), 14000000000.0);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_potentials, by_alias) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  store_alias(&f, "default", id);
  answer a = potentials(&f, "default", NULL);
  assert_status(&a, 200);
  cr_assert_str_eq(jstr(a.json, "model_id"), id);
  cr_assert_eq(json_array_size(json_object_get(a.json, "potentials")), 70);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_potentials, reporter_and_partner_give_the_pair_in_year_order) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  const kv q[] = {{"reporter", "CHN"}, {"partner", "KAZ"}, {NULL, NULL}};
  answer a = potentials(&f, id, q);
  assert_status(&a, 200);
  json_t *rows = json_object_get(a.json, "potentials");
  cr_assert_eq(json_array_size(rows), 14);
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    cr_assert_str_eq(jstr(r, "reporter"), "CHN");
    cr_assert_str_eq(jstr(r, "partner"), "KAZ");
    cr_assert_eq(json_integer_value(json_object_get(r, "year")),
                 2010 + (json_int_t)i);
  }
  cr_assert_eq(jnum(json_array_get(rows, 11), "actual"), 25250000000.0);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_potentials, reporter_alone_gives_every_partner) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  const kv q[] = {{"reporter", "CHN"}, {NULL, NULL}};
  answer a = potentials(&f, id, q);
  assert_status(&a, 200);
  cr_assert_eq(json_array_size(json_object_get(a.json, "potentials")), 70);
  answer_free(&a);
  const kv q2[] = {{"reporter", "KAZ"}, {NULL, NULL}};
  a = potentials(&f, id, q2);
  assert_status(&a, 200);
  cr_assert_eq(json_array_size(json_object_get(a.json, "potentials")), 0);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_potentials, partner_alone_filters_the_partner) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  const kv q[] = {{"partner", "TKM"}, {NULL, NULL}};
  answer a = potentials(&f, id, q);
  assert_status(&a, 200);
  json_t *rows = json_object_get(a.json, "potentials");
  cr_assert_eq(json_array_size(rows), 14);
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) cr_assert_str_eq(jstr(r, "partner"), "TKM");
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_potentials, year_gives_one_row_per_pair) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  const kv q[] = {{"year", "2023"}, {NULL, NULL}};
  answer a = potentials(&f, id, q);
  assert_status(&a, 200);
  json_t *rows = json_object_get(a.json, "potentials");
  cr_assert_eq(json_array_size(rows), 5);
  const char *partners[] = {"KAZ", "KGZ", "TJK", "TKM", "UZB"};
  const double actual[] = {41000000000.0, 19800000000.0, 3900000000.0,
                           10600000000.0, 14000000000.0};
  for (size_t i = 0; i < 5; i++) {
    json_t *r = json_array_get(rows, i);
    cr_assert_str_eq(jstr(r, "partner"), partners[i]);
    cr_assert_eq(json_integer_value(json_object_get(r, "year")), 2023);
    cr_assert_eq(jnum(r, "actual"), actual[i]);
    double k = jnum(r, "k");
    cr_assert_float_eq(k, actual[i] / jnum(r, "predicted"), 1e-12 * k);
    cr_assert_not_null(jstr(r, "class"));
  }
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_potentials, reporter_partner_and_year_give_one_row) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  const kv q[] = {
      {"reporter", "CHN"}, {"partner", "UZB"}, {"year", "2011"}, {NULL, NULL}};
  answer a = potentials(&f, id, q);
  assert_status(&a, 200);
  json_t *rows = json_object_get(a.json, "potentials");
  cr_assert_eq(json_array_size(rows), 1);
  json_t *r = json_array_get(rows, 0);
  cr_assert_eq(jnum(r, "actual"), 2630000000.0);
  cr_assert_float_eq(jnum(r, "gap"), jnum(r, "predicted") - 2630000000.0,
                     1e-9 * 2630000000.0);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_potentials, a_year_without_rows_is_an_empty_list) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  const kv q[] = {{"reporter", "CHN"}, {"year", "1999"}, {NULL, NULL}};
  answer a = potentials(&f, id, q);
  assert_status(&a, 200);
  cr_assert_eq(json_array_size(json_object_get(a.json, "potentials")), 0);
  cr_assert_str_eq(jstr(a.json, "model_id"), id);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_potentials, malformed_year_is_bad_query) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  const char *bad[] = {"20x3", "", "2023.0", "+2023", "10000"};
  for (size_t i = 0; i < 5; i++) {
    const kv q[] = {{"year", bad[i]}, {NULL, NULL}};
    answer a = potentials(&f, id, q);
    assert_answer_problem(&a, 400, "bad-query", "/query/year");
    answer_free(&a);
  }
  cr_assert_eq(f.m.acquired, 0, "the model is not opened for a bad query");
  free(id);
  fixture_done(&f);
}

Test(model_potentials, unknown_model_is_not_found) {
  fixture f;
  fixture_init(&f);
  answer a = potentials(&f, "chn-ca-2030", NULL);
  assert_answer_problem(&a, 404, "not-found", "/path/id");
  answer_free(&a);
  fixture_done(&f);
}

Test(model_potentials, busy_store_is_503) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  f.m.fail = API_SVC_BUSY;
  answer a = potentials(&f, id, NULL);
  assert_answer_problem(&a, 503, "busy", "");
  cr_assert_str_eq(a.retry_after, "1");
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

/* ---- POST /v1/models/{id}/predict -----------------------------------------
 */

static answer predict_doc(fixture *f, const char *id, json_t *doc) {
  char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(doc);
  answer a = run_body(api_post_model_predict, f, id, text);
  free(text);
  return a;
}

static answer predict_rows(fixture *f, const char *id, json_t *data) {
  return predict_doc(f, id, json_pack("{s:o}", "data", data));
}

static void set_cell(json_t *data, size_t row, const char *var, json_t *v) {
  json_object_set_new(json_array_get(json_object_get(data, "rows"), row), var,
                      v);
}

static void del_column(json_t *data, const char *var) {
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(data, "rows"), i, r)
      json_object_del(r, var);
}

static void assert_same_number(const json_t *got, const json_t *want,
                               const char *what, size_t row) {
  if (json_is_null(want)) {
    cr_assert(json_is_null(got), "%s of row %zu: want null", what, row);
    return;
  }
  double g = json_number_value(got), w = json_number_value(want);
  cr_assert(json_is_number(got), "%s of row %zu is not a number", what, row);
  cr_assert_leq(fabs(g - w), 1e-12 * fabs(w), "%s of row %zu: %.17g vs %.17g",
                what, row, g, w);
}

Test(model_predict, the_model_s_own_rows_reproduce_its_potentials) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  json_t *stored = json_loads(f.m.models[0].result, 0, NULL);
  answer a = predict_rows(&f, id, gravity_rows());
  assert_status(&a, 200);
  cr_assert_str_eq(jstr(a.json, "model_id"), id);
  json_t *pred = json_object_get(a.json, "predictions");
  json_t *pots = json_object_get(stored, "potentials");
  cr_assert_eq(json_array_size(pred), 70);
  cr_assert_eq(json_array_size(pots), 70);
  size_t i, with_k = 0;
  json_t *p;
  json_array_foreach(pred, i, p) {
    json_t *s = json_array_get(pots, i);
    cr_assert_eq(json_integer_value(json_object_get(p, "row")),
                 json_integer_value(json_object_get(s, "row")));
    cr_assert_str_eq(jstr(p, "partner"), jstr(s, "partner"));
    cr_assert_eq(json_integer_value(json_object_get(p, "year")),
                 json_integer_value(json_object_get(s, "year")));
    assert_same_number(json_object_get(p, "predicted"),
                       json_object_get(s, "predicted"), "predicted", i);
    assert_same_number(json_object_get(p, "actual"),
                       json_object_get(s, "actual"), "actual", i);
    assert_same_number(json_object_get(p, "k"), json_object_get(s, "k"), "k",
                       i);
    assert_same_number(json_object_get(p, "gap"), json_object_get(s, "gap"),
                       "gap", i);
    cr_assert(
        json_equal(json_object_get(p, "class"), json_object_get(s, "class")),
        "class of row %zu", i);
    cr_assert(json_is_number(json_object_get(p, "linear_predictor")));
    with_k += json_is_number(json_object_get(p, "k"));
  }
  cr_assert_eq(with_k, 13);
  cr_assert_eq(json_integer_value(json_object_get(
                   json_object_get(a.json, "dropped"), "missing_rows")),
               0);
  json_decref(stored);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_predict, rows_without_the_outcome_are_predicted_with_nulls) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  json_t *stored = json_loads(f.m.models[0].result, 0, NULL);
  json_t *data = gravity_rows();
  del_column(data, "etrade");
  store_alias(&f, "default", id);
  answer a = predict_rows(&f, "default", data);
  assert_status(&a, 200);
  json_t *pred = json_object_get(a.json, "predictions");
  cr_assert_eq(json_array_size(pred), 70);
  size_t i;
  json_t *p;
  json_array_foreach(pred, i, p) {
    json_t *s = json_array_get(json_object_get(stored, "potentials"), i);
    assert_same_number(json_object_get(p, "predicted"),
                       json_object_get(s, "predicted"), "predicted", i);
    cr_assert(json_is_null(json_object_get(p, "actual")), "row %zu", i);
    cr_assert(json_is_null(json_object_get(p, "k")), "row %zu", i);
    cr_assert(json_is_null(json_object_get(p, "class")), "row %zu", i);
    cr_assert(json_is_null(json_object_get(p, "gap")), "row %zu", i);
  }
  json_decref(stored);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_predict, a_row_missing_a_regressor_value_is_dropped) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  json_t *data = gravity_rows();
  set_cell(data, 7, "oil", json_null());
  answer a = predict_rows(&f, id, data);
  assert_status(&a, 200);
  json_t *pred = json_object_get(a.json, "predictions");
  cr_assert_eq(json_array_size(pred), 69);
  cr_assert_eq(
      json_integer_value(json_object_get(json_array_get(pred, 7), "row")), 8,
      "row 7 is left out");
  cr_assert_eq(json_integer_value(json_object_get(
                   json_object_get(a.json, "dropped"), "missing_rows")),
               1);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_predict, a_missing_regressor_points_into_the_data) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  json_t *data = gravity_rows();
  del_column(data, "open_p");
  answer a = predict_rows(&f, id, data);
  /* The variable is missing from the rows, not from the formula. */
  const char *d = assert_answer_problem(&a, 422, "formula-error", "/data");
  cr_assert(strstr(d, "open_p"), "%s", d);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

/* Posts the panel with another formula and returns the model id. */
static char *stored_formula(fixture *f, const char *formula) {
  json_t *req =
      json_pack("{s:o, s:s}", "data", gravity_rows(), "formula", formula);
  char *text = json_dumps(req, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(req);
  answer a = run_body(api_post_models, f, NULL, text);
  free(text);
  assert_status(&a, 201);
  char *id = strdup(jstr(a.json, "id"));
  answer_free(&a);
  return id;
}

Test(model_predict, log_of_a_non_positive_regressor_points_at_the_cell) {
  fixture f;
  fixture_init(&f);
  char *id = stored_formula(
      &f, "log(etrade) ~ log(gdp_r * gdp_p) + log(oil) + open_p");
  /* The WTI front-month settled at -37.63 US$ on 20 April 2020. */
  json_t *data = gravity_rows();
  set_cell(data, 3, "oil", json_real(-37.63));
  answer a = predict_rows(&f, id, data);
  const char *d =
      assert_answer_problem(&a, 422, "domain-error", "/data/rows/3/oil");
  cr_assert(strstr(d, "log"), "%s", d);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_predict, log_of_a_non_positive_product_points_at_the_row) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  /* log(distcap * oil) has no single cell to blame: the row is named. */
  json_t *data = gravity_rows();
  set_cell(data, 3, "oil", json_real(-37.63));
  answer a = predict_rows(&f, id, data);
  const char *d =
      assert_answer_problem(&a, 422, "domain-error", "/data/rows/3");
  cr_assert(strstr(d, "log"), "%s", d);
  cr_assert_eq(n_errors(&(reply){.json = a.json}), 1);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_predict, body_that_is_not_an_object_is_refused) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  answer a = run_body(api_post_model_predict, &f, id, "[{\"data\": {}}]");
  assert_answer_problem(&a, 422, "invalid-request", "");
  answer_free(&a);
  a = run_body(api_post_model_predict, &f, id, "{\"data\": ");
  assert_answer_problem(&a, 400, "malformed-json", "");
  answer_free(&a);
  a = run_body(api_post_model_predict, &f, id, "");
  assert_answer_problem(&a, 400, "malformed-json", "");
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_predict, unknown_member_is_invalid) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  answer a = predict_doc(&f, id,
                         json_pack("{s:o, s:s}", "data", gravity_rows(),
                                   "formula", gravity_formula));
  assert_answer_problem(&a, 422, "invalid-request", "/formula");
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_predict, missing_data_is_invalid) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  answer a = run_body(api_post_model_predict, &f, id, "{}");
  assert_answer_problem(&a, 422, "invalid-request", "/data");
  answer_free(&a);
  a = run_body(api_post_model_predict, &f, id, "{\"data\": [1, 2]}");
  assert_answer_problem(&a, 422, "invalid-request", "/data");
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_predict, a_model_stored_without_its_potential_is_not_supported) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  json_t *old = json_loads(f.m.models[0].result, 0, NULL);
  json_object_del(old, "potential");
  const char *old_id = "m_7e3c2d1b0a99887766554433221100ff";
  json_object_set_new(old, "id", json_string(old_id));
  char *text = json_dumps(old, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(old);
  store_answer(&f, old_id, f.m.models[0].dataset_id, text);
  free(text);
  answer a = predict_rows(&f, old_id, gravity_rows());
  const char *d = assert_answer_problem(&a, 422, "not-supported", "/path/id");
  cr_assert(strstr(d, "fit it again"), "%s", d);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

/* A model with fixed effects whose answer predates "fixed_effect_values"
 * cannot know the effects of new rows: 422, and how to get them. */
Test(model_predict, a_fe_model_stored_without_its_effects_is_not_supported) {
  fixture f;
  fixture_init(&f);
  char *id = stored_gravity(&f);
  json_t *old = json_loads(f.m.models[0].result, 0, NULL);
  const char *formula = json_string_value(json_object_get(old, "formula"));
  char fe_formula[512];
  snprintf(fe_formula, sizeof fe_formula, "%s | reporter", formula);
  json_object_set_new(old, "formula", json_string(fe_formula));
  json_object_set_new(old, "estimator", json_string("fe"));
  const char *old_id = "m_0e3c2d1b0a99887766554433221100aa";
  json_object_set_new(old, "id", json_string(old_id));
  char *text = json_dumps(old, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(old);
  store_answer(&f, old_id, f.m.models[0].dataset_id, text);
  free(text);
  answer a = predict_rows(&f, old_id, gravity_rows());
  const char *d = assert_answer_problem(&a, 422, "not-supported", "/path/id");
  cr_assert(strstr(d, "fixed-effect values") && strstr(d, "fit it again"), "%s",
            d);
  answer_free(&a);
  free(id);
  fixture_done(&f);
}

Test(model_predict, unknown_model_is_not_found) {
  fixture f;
  fixture_init(&f);
  answer a =
      predict_rows(&f, "m_0123456789abcdef0123456789abcdef", gravity_rows());
  assert_answer_problem(&a, 404, "not-found", "/path/id");
  answer_free(&a);
  fixture_done(&f);
}

Test(model_predict, without_a_store_is_503_unavailable) {
  api_env env = test_env();
  call_in in = {.param = "default", .body = "{\"data\": {\"rows\": []}}"};
  answer a = run(api_post_model_predict, &env, &in);
  assert_answer_problem(&a, 503, "unavailable", "");
  answer_free(&a);
}

/* A potential row as a Jansson object: the reference for its text. */
static json_t *ref_entry_json(const api_pot_entry *e) {
  json_t *num[4];
  const double v[4] = {e->actual, e->predicted, e->k, e->gap};
  for (size_t i = 0; i < 4; i++)
    num[i] = isfinite(v[i]) ? json_real(v[i]) : json_null();
  return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "reporter",
                   e->reporter ? json_string(e->reporter) : json_null(),
                   "partner",
                   e->partner ? json_string(e->partner) : json_null(), "year",
                   e->has_year ? json_integer(e->year) : json_null(), "actual",
                   num[0], "predicted", num[1], "k", num[2], "class",
                   e->cls ? json_string(e->cls) : json_null(), "gap", num[3]);
}

/* The potentials of GET /v1/models/{id}/potentials and /v1/potential are
 * written as text: the bytes must be those json_dumps makes of the same
 * object, for every kind of value (nulls, non-finite numbers, signed zeros,
 * extreme reals, escapes). */
Test(model_store, potential_rows_as_text_are_jansson_bytes) {
  const double vals[] = {
      0.0,   -0.0,    1.0,      -2.5,      1e-320,
      1e300, NAN,     INFINITY, -INFINITY, 0.1,
      1e17,  123.456, -1e-5,    5e-324,    1.7976931348623157e308};
  const char *names[] = {NULL, "CHN", "K\"A\\Z", "\xc3\xa9t\xc3\xa9", "a\nb\t"};
  const char *classes[] = {NULL, "huge_potential", "expanding_potential"};
  size_t nv = sizeof vals / sizeof vals[0];
  for (size_t i = 0; i < 300; i++) {
    api_pot_entry e = {.reporter = names[i % 5],
                       .partner = names[(i / 5) % 5],
                       .year = (int)(1990 + i % 40) * ((i % 7) ? 1 : -1),
                       .has_year = (i % 3) != 0,
                       .actual = vals[i % nv],
                       .predicted = vals[(i * 7 + 1) % nv],
                       .k = vals[(i * 3 + 2) % nv],
                       .gap = vals[(i * 11 + 5) % nv],
                       .cls = classes[i % 3]};
    json_t *j = ref_entry_json(&e);
    cr_assert_not_null(j);
    char *want = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(j);
    api_text t = {0};
    api_pot_entry_text(&t, &e);
    cr_assert_not(t.failed);
    cr_assert_str_eq(t.s, want, "row %zu", i);
    free(want);
    api_text_free(&t);
  }
}
