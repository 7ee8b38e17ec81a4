/* Handler tests of the fast path GET /v1/potential (api/api_potential.c)
 * over the in-memory service (svc_memory.h), no HTTP: one pair for a year
 * or for its latest observed year, every partner of a reporter, the model
 * by id, alias or the default alias, 404 details that list what exists,
 * bad queries, ETag and Cache-Control; and api_default_install, which
 * stores the embedded default and aliases it "default". The stored model
 * is a hand-written answer with China's and Russia's goods trade with
 * Central Asia (US$, MOFCOM and Rosstat) and its scores. */
#include "api/api_requests.h"

#include "api_canon.h"
#include "api_default_install.h"

static const char model_id[] = "m_3f9c81aa07d24be1b6a0c3d5e8f71290";
static const char model_tag[] = "\"m_3f9c81aa07d24be1b6a0c3d5e8f71290\"";
static const char formula[] =
    "log(etrade) ~ log(gdp_r * gdp_p) + log(distcap * oil)";

/* Rows deliberately out of order: the view sorts them. CHN-KAZ is observed
 * 2021-2023 and predicted for 2024; CHN-TKM is never observed. */
static const char answer_text[] =
    "{\"id\": \"m_3f9c81aa07d24be1b6a0c3d5e8f71290\", \"dataset_id\": "
    "\"ds_9b1e5a0c4f7d2e8a6b3c1d0f5e4a7b29\", \"estimator\": \"ols\", "
    "\"vcov\": \"hc1\", \"formula\": \"log(etrade) ~ log(gdp_r * gdp_p) + "
    "log(distcap * oil)\", \"coefficients\": ["
    "{\"term\": \"(Intercept)\", \"estimate\": -41.730581244316371},"
    "{\"term\": \"log(gdp_r*gdp_p)\", \"estimate\": 1.0148296315307421},"
    "{\"term\": \"log(distcap*oil)\", \"estimate\": -0.61490372819904632}],"
    "\"potential\": {\"method\": \"level\", \"smearing\": \"duan\", "
    "\"thresholds\": [0.8, 1.2], \"factor\": 1.0412837905512217},"
    "\"potentials\": ["
    "{\"reporter\": \"CHN\", \"partner\": \"KAZ\", \"year\": 2024, \"actual\": "
    "null, \"predicted\": 35880000000, \"k\": null, \"class\": null, \"gap\": "
    "null},"
    "{\"reporter\": \"RUS\", \"partner\": \"KAZ\", \"year\": 2023, \"actual\": "
    "26120000000, \"predicted\": 23870000000, \"k\": 1.0942605781, \"class\": "
    "\"expanding_potential\", \"gap\": -2250000000},"
    "{\"reporter\": \"CHN\", \"partner\": \"KAZ\", \"year\": 2021, \"actual\": "
    "25250000000, \"predicted\": 24338000000, \"k\": 1.0374722656, \"class\": "
    "\"expanding_potential\", \"gap\": -912000000},"
    "{\"reporter\": \"CHN\", \"partner\": \"TKM\", \"year\": 2023, \"actual\": "
    "null, \"predicted\": 10240000000, \"k\": null, \"class\": null, \"gap\": "
    "null},"
    "{\"reporter\": \"CHN\", \"partner\": \"KGZ\", \"year\": 2023, \"actual\": "
    "19800000000, \"predicted\": 13100000000, \"k\": 1.5114503817, \"class\": "
    "\"remodelling_potential\", \"gap\": -6700000000},"
    "{\"reporter\": \"CHN\", \"partner\": \"KAZ\", \"year\": 2023, \"actual\": "
    "41000000000, \"predicted\": 33170000000, \"k\": 1.2360566777, \"class\": "
    "\"remodelling_potential\", \"gap\": -7830000000},"
    "{\"reporter\": \"CHN\", \"partner\": \"KGZ\", \"year\": 2018, \"actual\": "
    "5610000000, \"predicted\": 7212000000, \"k\": 0.7778702163, \"class\": "
    "\"huge_potential\", \"gap\": 1602000000},"
    "{\"reporter\": \"CHN\", \"partner\": \"TKM\", \"year\": 2022, \"actual\": "
    "null, \"predicted\": 9712000000, \"k\": null, \"class\": null, \"gap\": "
    "null},"
    "{\"reporter\": \"CHN\", \"partner\": \"KAZ\", \"year\": 2022, \"actual\": "
    "31200000000, \"predicted\": 28410000000, \"k\": 1.0982048574, \"class\": "
    "\"expanding_potential\", \"gap\": -2790000000}]}";

/* The model stored and aliased "default". */
static void stored(fixture *f) {
  fixture_init(f);
  store_answer(f, model_id, "ds_9b1e5a0c4f7d2e8a6b3c1d0f5e4a7b29", answer_text);
  store_alias(f, "default", model_id);
}

static answer potential(fixture *f, const kv *q) {
  return run_get(api_get_potential, f, NULL, q);
}

static void assert_model(const json_t *m) {
  cr_assert_str_eq(jstr(m, "id"), model_id);
  cr_assert_str_eq(jstr(m, "estimator"), "ols");
  cr_assert_str_eq(jstr(m, "formula"), formula);
}

static void assert_cacheable(const answer *a) {
  cr_assert_str_eq(a->cache_control, "public, max-age=60");
  cr_assert_str_eq(a->etag, model_tag);
}

/* The answer is written as text: it must be the very bytes json_dumps
 * (JSON_COMPACT | JSON_REAL_PRECISION(17)) makes of the object it parses
 * to, members in the same order. */
static void assert_jansson_bytes(const answer *a) {
  cr_assert_not_null(a->json, "%s", a->body);
  char *again = json_dumps(a->json, JSON_COMPACT | JSON_REAL_PRECISION(17));
  cr_assert_not_null(again);
  cr_assert_str_eq(a->body, again);
  cr_assert_eq(a->body_len, strlen(again));
  free(again);
}

static void assert_year(const json_t *item, json_int_t year) {
  cr_assert_eq(json_integer_value(json_object_get(item, "year")), year,
               "year %lld, want %lld",
               (long long)json_integer_value(json_object_get(item, "year")),
               (long long)year);
}

/* ---- one pair -------------------------------------------------------------
 */

Test(potential, pair_and_year) {
  fixture f;
  stored(&f);
  const kv q[] = {
      {"reporter", "CHN"}, {"partner", "KAZ"}, {"year", "2021"}, {NULL, NULL}};
  answer a = potential(&f, q);
  assert_status(&a, 200);
  assert_cacheable(&a);
  cr_assert_str_eq(jstr(a.json, "reporter"), "CHN");
  cr_assert_str_eq(jstr(a.json, "partner"), "KAZ");
  assert_year(a.json, 2021);
  cr_assert_eq(jnum(a.json, "actual"), 25250000000.0);
  cr_assert_eq(jnum(a.json, "predicted"), 24338000000.0);
  cr_assert_eq(jnum(a.json, "k"), 1.0374722656);
  cr_assert_eq(jnum(a.json, "gap"), -912000000.0);
  cr_assert_str_eq(jstr(a.json, "class"), "expanding_potential");
  assert_model(json_object_get(a.json, "model"));
  assert_jansson_bytes(&a);
  cr_assert_eq(json_object_size(a.json), 9, "%s", a.body);
  answer_free(&a);
  fixture_done(&f);
}

Test(potential, pair_for_a_predicted_year_has_null_observations) {
  fixture f;
  stored(&f);
  const kv q[] = {
      {"reporter", "CHN"}, {"partner", "KAZ"}, {"year", "2024"}, {NULL, NULL}};
  answer a = potential(&f, q);
  assert_status(&a, 200);
  assert_year(a.json, 2024);
  cr_assert_eq(jnum(a.json, "predicted"), 35880000000.0);
  const char *nulls[] = {"actual", "k", "class", "gap"};
  for (size_t i = 0; i < 4; i++)
    cr_assert(json_is_null(json_object_get(a.json, nulls[i])), "%s", nulls[i]);
  answer_free(&a);
  fixture_done(&f);
}

Test(potential, pair_without_year_is_the_latest_year_with_observed_k) {
  fixture f;
  stored(&f);
  const kv q[] = {{"reporter", "CHN"}, {"partner", "KAZ"}, {NULL, NULL}};
  answer a = potential(&f, q);
  assert_status(&a, 200);
  assert_year(a.json, 2023); /* not 2024, which has no outcome */
  cr_assert_eq(jnum(a.json, "k"), 1.2360566777);
  cr_assert_str_eq(jstr(a.json, "class"), "remodelling_potential");
  answer_free(&a);
  fixture_done(&f);
}

Test(potential, pair_never_observed_is_its_latest_year_with_null_k) {
  fixture f;
  stored(&f);
  const kv q[] = {{"reporter", "CHN"}, {"partner", "TKM"}, {NULL, NULL}};
  answer a = potential(&f, q);
  assert_status(&a, 200);
  assert_year(a.json, 2023);
  cr_assert_eq(jnum(a.json, "predicted"), 10240000000.0);
  cr_assert(json_is_null(json_object_get(a.json, "k")));
  cr_assert(json_is_null(json_object_get(a.json, "class")));
  answer_free(&a);
  fixture_done(&f);
}

/* ---- every partner --------------------------------------------------------
 */

Test(potential, reporter_alone_gives_one_item_per_partner) {
  fixture f;
  stored(&f);
  const kv q[] = {{"reporter", "CHN"}, {NULL, NULL}};
  answer a = potential(&f, q);
  assert_status(&a, 200);
  assert_cacheable(&a);
  cr_assert_str_eq(jstr(a.json, "reporter"), "CHN");
  cr_assert(json_is_null(json_object_get(a.json, "year")));
  assert_model(json_object_get(a.json, "model"));
  json_t *items = json_object_get(a.json, "items");
  cr_assert_eq(json_array_size(items), 3);
  const char *partners[] = {"KAZ", "KGZ", "TKM"};
  const json_int_t years[] = {2023, 2023, 2023};
  for (size_t i = 0; i < 3; i++) {
    json_t *it = json_array_get(items, i);
    cr_assert_str_eq(jstr(it, "reporter"), "CHN");
    cr_assert_str_eq(jstr(it, "partner"), partners[i]);
    assert_year(it, years[i]);
  }
  cr_assert_eq(jnum(json_array_get(items, 1), "k"), 1.5114503817);
  cr_assert(json_is_null(json_object_get(json_array_get(items, 2), "k")));
  assert_jansson_bytes(&a);
  cr_assert_eq(json_object_size(a.json), 4, "%s", a.body);
  answer_free(&a);
  fixture_done(&f);
}

Test(potential, reporter_and_year_skip_partners_without_that_year) {
  fixture f;
  stored(&f);
  const kv q[] = {{"reporter", "CHN"}, {"year", "2022"}, {NULL, NULL}};
  answer a = potential(&f, q);
  assert_status(&a, 200);
  assert_year(a.json, 2022);
  json_t *items = json_object_get(a.json, "items");
  cr_assert_eq(json_array_size(items), 2, "KGZ has no 2022 row");
  cr_assert_str_eq(jstr(json_array_get(items, 0), "partner"), "KAZ");
  cr_assert_eq(jnum(json_array_get(items, 0), "actual"), 31200000000.0);
  cr_assert_str_eq(jstr(json_array_get(items, 1), "partner"), "TKM");
  assert_year(json_array_get(items, 1), 2022);
  assert_jansson_bytes(&a);
  answer_free(&a);
  fixture_done(&f);
}

Test(potential, a_reporter_with_one_partner) {
  fixture f;
  stored(&f);
  const kv q[] = {{"reporter", "RUS"}, {NULL, NULL}};
  answer a = potential(&f, q);
  assert_status(&a, 200);
  json_t *items = json_object_get(a.json, "items");
  cr_assert_eq(json_array_size(items), 1);
  cr_assert_str_eq(jstr(json_array_get(items, 0), "partner"), "KAZ");
  cr_assert_eq(jnum(json_array_get(items, 0), "gap"), -2250000000.0);
  answer_free(&a);
  fixture_done(&f);
}

/* ---- which model ----------------------------------------------------------
 */

Test(potential, model_by_id_and_by_alias) {
  fixture f;
  fixture_init(&f);
  store_answer(&f, model_id, "ds_9b1e5a0c4f7d2e8a6b3c1d0f5e4a7b29",
               answer_text);
  store_alias(&f, "chn-ca-2023", model_id);
  const char *names[] = {model_id, "chn-ca-2023"};
  for (size_t i = 0; i < 2; i++) {
    const kv q[] = {{"reporter", "CHN"},
                    {"partner", "KGZ"},
                    {"model", names[i]},
                    {NULL, NULL}};
    answer a = potential(&f, q);
    assert_status(&a, 200);
    assert_year(a.json, 2023);
    assert_model(json_object_get(a.json, "model"));
    assert_cacheable(&a);
    answer_free(&a);
  }
  fixture_done(&f);
}

Test(potential, an_empty_model_parameter_is_the_default) {
  fixture f;
  stored(&f);
  const kv q[] = {{"reporter", "RUS"}, {"model", ""}, {NULL, NULL}};
  answer a = potential(&f, q);
  assert_status(&a, 200);
  assert_model(json_object_get(a.json, "model"));
  answer_free(&a);
  fixture_done(&f);
}

Test(potential, no_default_alias_is_not_found_at_model) {
  fixture f;
  fixture_init(&f);
  store_answer(&f, model_id, "ds_9b1e5a0c4f7d2e8a6b3c1d0f5e4a7b29",
               answer_text);
  const kv q[] = {{"reporter", "CHN"}, {NULL, NULL}};
  answer a = potential(&f, q);
  const char *d = assert_answer_problem(&a, 404, "not-found", "/query/model");
  cr_assert(strstr(d, "'default'"), "%s", d);
  answer_free(&a);
  fixture_done(&f);
}

Test(potential, unknown_model_is_not_found_at_model) {
  fixture f;
  stored(&f);
  const kv q[] = {{"reporter", "CHN"}, {"model", "chn-ca-2030"}, {NULL, NULL}};
  answer a = potential(&f, q);
  const char *d = assert_answer_problem(&a, 404, "not-found", "/query/model");
  cr_assert(strstr(d, "'chn-ca-2030'"), "%s", d);
  answer_free(&a);
  fixture_done(&f);
}

/* ---- 404 details list what exists -----------------------------------------
 */

Test(potential, unknown_reporter_lists_the_reporters) {
  fixture f;
  stored(&f);
  const kv q[] = {{"reporter", "USA"}, {"partner", "KAZ"}, {NULL, NULL}};
  answer a = potential(&f, q);
  const char *d =
      assert_answer_problem(&a, 404, "not-found", "/query/reporter");
  cr_assert_str_eq(d, "The model has no reporter 'USA'; reporters: CHN, RUS");
  cr_assert_str_eq(problem_detail(&a), d);
  cr_assert_str_eq(a.cache_control, "", "errors are not cached");
  answer_free(&a);
  fixture_done(&f);
}

Test(potential, unknown_pair_lists_the_reporter_s_partners) {
  fixture f;
  stored(&f);
  const kv q[] = {{"reporter", "CHN"}, {"partner", "AFG"}, {NULL, NULL}};
  answer a = potential(&f, q);
  const char *d = assert_answer_problem(&a, 404, "not-found", "/query/partner");
  cr_assert_str_eq(d,
                   "The model has no pair CHN-AFG; partners of CHN: KAZ, KGZ, "
                   "TKM");
  answer_free(&a);
  fixture_done(&f);
}

Test(potential, unknown_year_of_a_pair_lists_its_years) {
  fixture f;
  stored(&f);
  const kv q[] = {
      {"reporter", "CHN"}, {"partner", "KAZ"}, {"year", "2019"}, {NULL, NULL}};
  answer a = potential(&f, q);
  const char *d = assert_answer_problem(&a, 404, "not-found", "/query/year");
  cr_assert_str_eq(
      d, "The model has no year 2019 for CHN-KAZ; years: 2021, 2022, 2023, "
         "2024");
  answer_free(&a);
  fixture_done(&f);
}

Test(potential, unknown_year_of_a_reporter_lists_its_years_once_in_order) {
  fixture f;
  stored(&f);
  const kv q[] = {{"reporter", "CHN"}, {"year", "1999"}, {NULL, NULL}};
  answer a = potential(&f, q);
  const char *d = assert_answer_problem(&a, 404, "not-found", "/query/year");
  cr_assert_str_eq(d, "The model has no year 1999 for reporter CHN; years: "
                      "2018, 2021, 2022, 2023, 2024");
  answer_free(&a);
  fixture_done(&f);
}

/* ---- bad queries ----------------------------------------------------------
 */

Test(potential, missing_reporter_is_bad_query) {
  fixture f;
  stored(&f);
  const kv q[] = {{"partner", "KAZ"}, {NULL, NULL}};
  answer a = potential(&f, q);
  const char *d =
      assert_answer_problem(&a, 400, "bad-query", "/query/reporter");
  cr_assert(strstr(d, "required"), "%s", d);
  cr_assert_eq(f.m.acquired, 0);
  answer_free(&a);
  fixture_done(&f);
}

Test(potential, empty_reporter_is_bad_query) {
  fixture f;
  stored(&f);
  const kv q[] = {{"reporter", ""}, {NULL, NULL}};
  answer a = potential(&f, q);
  assert_answer_problem(&a, 400, "bad-query", "/query/reporter");
  answer_free(&a);
  fixture_done(&f);
}

Test(potential, no_query_at_all_is_bad_query) {
  fixture f;
  stored(&f);
  answer a = potential(&f, NULL);
  assert_answer_problem(&a, 400, "bad-query", "/query/reporter");
  answer_free(&a);
  fixture_done(&f);
}

Test(potential, malformed_year_is_bad_query) {
  fixture f;
  stored(&f);
  const char *bad[] = {"2023a", "", "+2023", " 2023", "20.23", "10000"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const kv q[] = {{"reporter", "CHN"}, {"year", bad[i]}, {NULL, NULL}};
    answer a = potential(&f, q);
    const char *d = assert_answer_problem(&a, 400, "bad-query", "/query/year");
    cr_assert(strstr(d, "-9999 to 9999"), "%s", d);
    answer_free(&a);
  }
  cr_assert_eq(f.m.acquired, 0);
  fixture_done(&f);
}

/* ---- caching --------------------------------------------------------------
 */

Test(potential, if_none_match_is_not_modified_with_its_headers) {
  fixture f;
  stored(&f);
  const kv q[] = {{"reporter", "CHN"}, {"partner", "KAZ"}, {NULL, NULL}};
  const char *tags[] = {model_tag, "W/\"m_3f9c81aa07d24be1b6a0c3d5e8f71290\"",
                        "\"m_0\", \"m_3f9c81aa07d24be1b6a0c3d5e8f71290\"", "*"};
  for (size_t i = 0; i < 4; i++) {
    call_in in = {.query = q, .if_none_match = tags[i]};
    answer a = run(api_get_potential, &f.env, &in);
    cr_assert_eq(a.status, 304, "If-None-Match: %s", tags[i]);
    cr_assert_null(a.body);
    assert_cacheable(&a);
    answer_free(&a);
  }
  call_in in = {.query = q, .if_none_match = "\"m_0\""};
  answer a = run(api_get_potential, &f.env, &in);
  assert_status(&a, 200);
  answer_free(&a);
  fixture_done(&f);
}

/* ---- store faults ---------------------------------------------------------
 */

Test(potential, busy_store_is_503_with_retry_after) {
  fixture f;
  stored(&f);
  f.m.fail = API_SVC_BUSY;
  const kv q[] = {{"reporter", "CHN"}, {NULL, NULL}};
  answer a = potential(&f, q);
  assert_answer_problem(&a, 503, "busy", "");
  cr_assert_str_eq(a.retry_after, "1");
  answer_free(&a);
  fixture_done(&f);
}

Test(potential, failing_store_is_500) {
  fixture f;
  stored(&f);
  f.m.fail = API_SVC_ERROR;
  const kv q[] = {{"reporter", "CHN"}, {NULL, NULL}};
  answer a = potential(&f, q);
  assert_answer_problem(&a, 500, "internal-error", "");
  answer_free(&a);
  fixture_done(&f);
}

Test(potential, without_a_store_is_503_unavailable) {
  api_env env = test_env();
  const kv q[] = {{"reporter", "CHN"}, {NULL, NULL}};
  call_in in = {.query = q};
  answer a = run(api_get_potential, &env, &in);
  assert_answer_problem(&a, 503, "unavailable", "");
  answer_free(&a);
}

/* ---- api_default_install --------------------------------------------------
 */

static size_t model_puts;
static api_svc_status (*real_model_put)(void *, const char *, const char *,
                                        const char *, const char *, bool *);

static api_svc_status counting_model_put(void *ctx, const char *id,
                                         const char *dataset_id,
                                         const char *spec_json,
                                         const char *result_json,
                                         bool *created) {
  model_puts++;
  return real_model_put(ctx, id, dataset_id, spec_json, result_json, created);
}

Test(default_install, stores_the_default_and_aliases_it) {
  fixture f;
  fixture_init(&f);
  char id[API_MODEL_ID_LEN + 1], err[512] = "";
  cr_assert_eq(api_default_install(&f.env, id, err, sizeof err), 0, "%s", err);
  cr_assert_eq(strlen(id), API_MODEL_ID_LEN);
  cr_assert_eq(strncmp(id, "m_", 2), 0);
  cr_assert_eq(f.m.n_ds, 1);
  cr_assert_eq(f.m.n_models, 1);
  cr_assert_str_eq(f.m.models[0].id, id);
  cr_assert_str_eq(f.m.models[0].dataset_id, f.m.ds[0].id);
  cr_assert_eq(f.m.n_aliases, 1);
  cr_assert_str_eq(f.m.aliases[0].name, API_DEFAULT_ALIAS);
  cr_assert_str_eq(f.m.aliases[0].model_id, id);
  /* The fast path answers from it without naming a model. */
  const kv q[] = {{"reporter", "CHN"}, {"partner", "KAZ"}, {NULL, NULL}};
  answer a = potential(&f, q);
  assert_status(&a, 200);
  cr_assert_str_eq(jstr(json_object_get(a.json, "model"), "id"), id);
  cr_assert(json_is_number(json_object_get(a.json, "predicted")));
  answer_free(&a);
  fixture_done(&f);
}

Test(default_install, a_second_install_is_idempotent) {
  fixture f;
  fixture_init(&f);
  real_model_put = f.m.table.model_put;
  f.m.table.model_put = counting_model_put;
  char first[API_MODEL_ID_LEN + 1], second[API_MODEL_ID_LEN + 1];
  char err[512] = "";
  cr_assert_eq(api_default_install(&f.env, first, err, sizeof err), 0, "%s",
               err);
  cr_assert_eq(model_puts, 1);
  unsigned long seq = f.m.seq;
  cr_assert_eq(api_default_install(&f.env, second, err, sizeof err), 0, "%s",
               err);
  cr_assert_str_eq(second, first);
  cr_assert_eq(f.m.n_ds, 1);
  cr_assert_eq(f.m.n_models, 1);
  cr_assert_eq(f.m.n_aliases, 1);
  cr_assert_eq(f.m.seq, seq, "nothing new was created");
  cr_assert_str_eq(f.m.aliases[0].model_id, first);
  fprintf(stderr, "default_install: model_put called %zu times in two runs\n",
          model_puts);
  fixture_done(&f);
}

Test(default_install, without_a_store_fails_with_a_sentence) {
  api_env env = test_env();
  char id[API_MODEL_ID_LEN + 1] = "x", err[512] = "";
  cr_assert_eq(api_default_install(&env, id, err, sizeof err), -1);
  cr_assert_str_eq(id, "");
  cr_assert_str_eq(err, "no store is configured");
}

Test(default_install, a_busy_store_fails_with_a_sentence) {
  fixture f;
  fixture_init(&f);
  f.m.fail = API_SVC_BUSY;
  char id[API_MODEL_ID_LEN + 1], err[512] = "";
  cr_assert_eq(api_default_install(&f.env, id, err, sizeof err), -1);
  cr_assert_str_eq(id, "");
  cr_assert(strstr(err, "/v1/datasets answered 503"), "%s", err);
  cr_assert_eq(f.m.n_aliases, 0);
  fixture_done(&f);
}

/* ---- the rendered answers are made once per view --------------------------
 */

static api_model_view *shared_view;

static const api_model_view *shared_build(const char *result_json, void *ctx) {
  (void)ctx;
  if (shared_view == NULL) {
    char err[160];
    cr_assert_eq(api_model_view_build(result_json, strlen(result_json),
                                      &shared_view, err, sizeof err),
                 0, "%s", err);
  }
  return shared_view;
}

static void shared_free(const api_model_view *v, void *ctx) {
  (void)v;
  (void)ctx;
}

/* A view held in the cache answers a pair-year from the text it rendered the
 * first time: the same bytes as a fresh view makes, every time, and each
 * pair-year its own. */
Test(potential, a_cached_view_answers_from_its_rendered_text) {
  fixture fresh, cached;
  stored(&fresh);
  stored(&cached);
  cached.m.view_build = shared_build;
  cached.m.view_free = shared_free;
  const kv q21[] = {
      {"reporter", "CHN"}, {"partner", "KAZ"}, {"year", "2021"}, {NULL, NULL}};
  const kv q22[] = {
      {"reporter", "CHN"}, {"partner", "KAZ"}, {"year", "2022"}, {NULL, NULL}};
  answer want = potential(&fresh, q21);
  assert_status(&want, 200);
  for (int i = 0; i < 3; i++) {
    answer a = potential(&cached, q21);
    assert_status(&a, 200);
    assert_cacheable(&a);
    cr_assert_eq(a.body_len, want.body_len);
    cr_assert_str_eq(a.body, want.body);
    answer_free(&a);
  }
  size_t count = 0;
  size_t row = api_model_view_find(shared_view, "CHN", "KAZ", &count);
  cr_assert_eq(count, 4u);
  cr_assert_eq(shared_view->pot_rows[row].year, 2021); /* years in order */
  cr_assert_not_null(atomic_load(&shared_view->pot_json[row]),
                     "the 2021 answer was not kept");
  cr_assert_null(atomic_load(&shared_view->pot_json[row + 1]),
                 "2022 was rendered before it was asked for");
  answer b = potential(&cached, q22);
  assert_status(&b, 200);
  assert_year(b.json, 2022);
  cr_assert_str_neq(b.body, want.body);
  answer_free(&b);
  answer_free(&want);
  fixture_done(&fresh);
  fixture_done(&cached);
  api_model_view_free(shared_view);
  shared_view = NULL;
}
