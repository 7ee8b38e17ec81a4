/* Handler tests of the datasets resource (api/api_datasets.c) over the
 * in-memory service (svc_memory.h): uploads in JSON and CSV, the summary,
 * the stored content, pages, reads with rows, conditional reads, deletes and
 * every failure status. Values: GDP (current US$) and population of
 * Kazakhstan, Kyrgyzstan and Uzbekistan and China's goods trade with them,
 * 2019-2021 (WDI, MOFCOM). */
#include "api/api_testing.h"

#include <stdlib.h>

#include "api_canon.h"
#include "api_data.h"
#include "api/svc_memory.h"

static const char gdp_csv[] =
    "reporter,partner,year,trade,gdp_partner,pop_partner,landlocked\n"
    "CHN,KAZ,2019,21990000000,181667190058.79999,18513930,1\n"
    "CHN,KAZ,2020,21430000000,171082379507.38901,18755666,1\n"
    "CHN,KGZ,2019,6352000000,8871026594.1640205,6456900,1\n"
    "CHN,KGZ,2020,2865000000,7780874561.9246502,6579900,1\n"
    "CHN,UZB,2019,7210000000,59907829795.455101,33580650,1\n"
    "CHN,UZB,2020,6620000000,NA,34232050,1\n";

static const char gdp_json[] =
    "{\"name\": \"china-central-asia\", \"columns\": {"
    "\"reporter\": [\"CHN\", \"CHN\", \"CHN\", \"CHN\", \"CHN\", \"CHN\"],"
    "\"partner\": [\"KAZ\", \"KAZ\", \"KGZ\", \"KGZ\", \"UZB\", \"UZB\"],"
    "\"year\": [2019, 2020, 2019, 2020, 2019, 2020],"
    "\"pop_partner\": [18513930, 18755666, 6456900, 6579900, 33580650, "
    "34232050],"
    "\"trade\": [21990000000, 21430000000, 6352000000, 2865000000, "
    "7210000000, 6620000000],"
    "\"gdp_partner\": [181667190058.79999, 171082379507.38901, "
    "8871026594.1640205, 7780874561.9246502, 59907829795.455101, null],"
    "\"landlocked\": [1, 1, 1, 1, 1, 1]}}";

/* ---- calling handlers -------------------------------------------------- */

typedef struct kv {
  const char *key, *value;
} kv;

static const char *lookup(const void *ctx, const char *key) {
  for (const kv *q = ctx; q && q->key; q++)
    if (strcmp(q->key, key) == 0) return q->value;
  return NULL;
}

typedef struct call_in {
  const char *content_type;
  const char *body;
  size_t len; /* 0: strlen(body) */
  const kv *query;
  const char *id;
  const char *if_none_match;
} call_in;

typedef struct answer {
  int status;
  const char *content_type;
  json_t *json; /* NULL when there is no body */
  char location[128], etag[64], retry_after[16];
} answer;

static answer run(api_handler_fn fn, const api_env *env, const call_in *in) {
  api_request req = {.method = "X",
                     .path = "/v1/datasets",
                     .content_type = in->content_type,
                     .if_none_match = in->if_none_match,
                     .body = in->body,
                     .body_len =
                         in->body ? (in->len ? in->len : strlen(in->body)) : 0,
                     .query = in->query ? lookup : NULL,
                     .query_ctx = in->query,
                     .env = env};
  if (in->id) {
    req.params[0] = in->id;
    req.n_params = 1;
  }
  api_response res = {0};
  fn(&req, &res);
  answer a = {.status = res.status, .content_type = res.content_type};
  cr_assert_neq(res.status, 0, "no status");
  if (res.body != NULL) {
    json_error_t e;
    a.json = json_loadb(res.body, res.body_len, JSON_REJECT_DUPLICATES, &e);
    cr_assert_not_null(a.json, "not JSON: %.300s", res.body);
  }
  for (size_t i = 0; i < res.n_headers; i++) {
    const char *n = res.headers[i].name, *v = res.headers[i].value;
    if (strcmp(n, "Location") == 0)
      snprintf(a.location, sizeof a.location, "%s", v);
    else if (strcmp(n, "ETag") == 0)
      snprintf(a.etag, sizeof a.etag, "%s", v);
    else if (strcmp(n, "Retry-After") == 0)
      snprintf(a.retry_after, sizeof a.retry_after, "%s", v);
  }
  api_response_free(&res);
  return a;
}

static void answer_free(answer *a) {
  json_decref(a->json);
  a->json = NULL;
}

static reply as_reply(const answer *a) {
  return (reply){
      .status = a->status, .content_type = a->content_type, .json = a->json};
}

static char *dump(const json_t *j) {
  return j ? json_dumps(j, JSON_COMPACT) : strdup("(no body)");
}

static void assert_status(const answer *a, int status) {
  char *d = dump(a->json);
  cr_assert_eq(a->status, status, "status %d, want %d: %.800s", a->status,
               status, d);
  free(d);
}

typedef struct fixture {
  mem_svc m;
  api_env env;
} fixture;

static void fixture_init(fixture *f) {
  mem_svc_init(&f->m);
  f->env = test_env();
  f->env.service = &f->m.table;
}

static answer post_csv(fixture *f, const char *csv, const char *name) {
  kv q[2] = {{"name", name}, {NULL, NULL}};
  call_in in = {.content_type = "text/csv; charset=utf-8",
                .body = csv,
                .query = name ? q : NULL};
  return run(api_post_datasets, &f->env, &in);
}

static answer post_json(fixture *f, const char *json) {
  call_in in = {.content_type = "application/json", .body = json};
  return run(api_post_datasets, &f->env, &in);
}

static const char *str(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

/* ---- POST -------------------------------------------------------------- */

Test(datasets, csv_and_json_of_the_same_content_get_the_same_id) {
  fixture f;
  fixture_init(&f);
  answer a = post_csv(&f, gdp_csv, "china-central-asia");
  assert_status(&a, 201);
  const char *id = str(a.json, "id");
  cr_assert_not_null(id);
  cr_assert_eq(strlen(id), API_DATASET_ID_LEN);
  cr_assert_eq(strncmp(id, "ds_", 3), 0);
  char want_loc[128], want_tag[64];
  snprintf(want_loc, sizeof want_loc, "/v1/datasets/%s", id);
  snprintf(want_tag, sizeof want_tag, "\"%s\"", id);
  cr_assert_str_eq(a.location, want_loc);
  cr_assert_str_eq(a.etag, want_tag);
  answer b = post_json(&f, gdp_json);
  assert_status(&b, 200);
  cr_assert_str_eq(str(b.json, "id"), id);
  cr_assert_str_eq(b.location, want_loc);
  cr_assert_eq(f.m.n_ds, 1);
  /* The rows form with keys in another order: the same again. */
  answer c = post_json(
      &f, "{\"rows\": ["
          "{\"landlocked\": 1, \"year\": 2019, \"reporter\": \"CHN\", "
          "\"partner\": \"KAZ\", \"trade\": 21990000000, \"gdp_partner\": "
          "181667190058.79999, \"pop_partner\": 18513930},"
          "{\"reporter\": \"CHN\", \"partner\": \"KAZ\", \"year\": 2020, "
          "\"trade\": 21430000000, \"gdp_partner\": 171082379507.38901, "
          "\"pop_partner\": 18755666, \"landlocked\": 1},"
          "{\"reporter\": \"CHN\", \"partner\": \"KGZ\", \"year\": 2019, "
          "\"trade\": 6352000000, \"gdp_partner\": 8871026594.1640205, "
          "\"pop_partner\": 6456900, \"landlocked\": 1},"
          "{\"reporter\": \"CHN\", \"partner\": \"KGZ\", \"year\": 2020, "
          "\"trade\": 2865000000, \"gdp_partner\": 7780874561.9246502, "
          "\"pop_partner\": 6579900, \"landlocked\": 1},"
          "{\"reporter\": \"CHN\", \"partner\": \"UZB\", \"year\": 2019, "
          "\"trade\": 7210000000, \"gdp_partner\": 59907829795.455101, "
          "\"pop_partner\": 33580650, \"landlocked\": 1},"
          "{\"reporter\": \"CHN\", \"partner\": \"UZB\", \"year\": 2020, "
          "\"trade\": 6620000000, \"pop_partner\": 34232050, "
          "\"landlocked\": 1}]}");
  assert_status(&c, 200);
  cr_assert_str_eq(str(c.json, "id"), id);
  /* A repeat keeps the first name. */
  cr_assert_str_eq(str(c.json, "name"), "china-central-asia");
  answer_free(&a);
  answer_free(&b);
  answer_free(&c);
  mem_svc_free(&f.m);
}

Test(datasets, the_summary_describes_the_data) {
  fixture f;
  fixture_init(&f);
  answer a = post_csv(&f, gdp_csv, NULL);
  assert_status(&a, 201);
  const json_t *s = a.json;
  cr_assert(json_is_null(json_object_get(s, "name")));
  cr_assert_eq(json_integer_value(json_object_get(s, "n_rows")), 6);
  json_t *want = json_loads(
      "{\"variables\": [\"trade\", \"gdp_partner\", \"pop_partner\", "
      "\"landlocked\"], \"reporters\": [\"CHN\"], \"partners\": [\"KAZ\", "
      "\"KGZ\", \"UZB\"], \"years\": [2019, 2020], \"missing\": {\"trade\": 0, "
      "\"gdp_partner\": 1, \"pop_partner\": 0, \"landlocked\": 0}}",
      0, NULL);
  const char *k;
  json_t *v;
  json_object_foreach(want, k, v) {
    char *got = dump(json_object_get(s, k)), *exp = dump(v);
    cr_assert(json_equal(json_object_get(s, k), v), "%s: %s, want %s", k, got,
              exp);
    free(got);
    free(exp);
  }
  json_decref(want);
  json_t *w = json_object_get(s, "warnings");
  cr_assert_eq(json_array_size(w), 1);
  cr_assert_not_null(strstr(json_string_value(json_array_get(w, 0)),
                            "landlocked is constant"));
  /* The stored summary is the same object, created_at added by the store. */
  cr_assert_str_eq(str(s, "created_at"), "2024-01-01T00:00:01Z");
  json_t *stored = json_loads(f.m.ds[0].summary, 0, NULL);
  cr_assert_null(json_object_get(stored, "created_at"));
  json_object_del(a.json, "created_at");
  cr_assert(json_equal(stored, a.json));
  cr_assert_eq(f.m.ds[0].n_rows, 6);
  json_decref(stored);
  answer_free(&a);
  mem_svc_free(&f.m);
}

Test(datasets, warnings_for_missing_columns_and_duplicate_keys) {
  fixture f;
  fixture_init(&f);
  answer a = post_csv(&f,
                      "reporter,partner,year,gdp,tariff\n"
                      "CHN,KAZ,2019,181667190058.79999,NA\n"
                      "CHN,KAZ,2020,171082379507.38901,\n"
                      "CHN,KAZ,2019,197112364390.92001,NA\n"
                      "NA,KGZ,2019,8871026594.1640205,NA\n",
                      "dups");
  assert_status(&a, 201);
  json_t *w = json_object_get(a.json, "warnings");
  char *d = dump(w);
  bool missing = false, dup = false, nokey = false;
  size_t i;
  json_t *e;
  json_array_foreach(w, i, e) {
    const char *t = json_string_value(e);
    missing |= strstr(t, "tariff is missing in every row") != NULL;
    dup |= strstr(t, "1 row repeat the (reporter, partner, year) of an "
                     "earlier row, e.g. rows 0 and 2 (CHN KAZ 2019)") != NULL;
    nokey |= strstr(t, "1 row have no reporter") != NULL;
  }
  cr_assert(missing && dup && nokey, "%s", d);
  free(d);
  answer_free(&a);
  mem_svc_free(&f.m);
}

Test(datasets, stored_content_rebuilds_the_same_panel_and_id) {
  fixture f;
  fixture_init(&f);
  answer a = post_csv(&f, gdp_csv, NULL);
  assert_status(&a, 201);
  /* What api_models.c does for {"dataset_id"}. */
  json_error_t e;
  json_t *doc = json_loadb(f.m.ds[0].content, f.m.ds[0].content_len,
                           JSON_REJECT_DUPLICATES, &e);
  cr_assert_not_null(doc, "%s", e.text);
  api_limits lim;
  api_limits_default(&lim);
  api_data d;
  api_errors errs = {0};
  api_error_code code;
  cr_assert(api_data_decode(doc, "", &lim, NULL, &d, &code, &errs));
  char id[API_DATASET_ID_LEN + 1];
  cr_assert(api_canon_dataset_id(d.panel, id));
  cr_assert_str_eq(id, str(a.json, "id"));
  cr_assert_eq(d.panel->cols[core_panel_find(d.panel, "gdp_partner")][3],
               7780874561.9246502);
  /* Keys first, then the variables in name order. */
  cr_assert(strncmp(f.m.ds[0].content, "{\"columns\":{\"reporter\":[\"CHN\",",
                    29) == 0,
            "%s", f.m.ds[0].content);
  cr_assert_not_null(
      strstr(f.m.ds[0].content, "\"gdp_partner\":[181667190058.79999,"));
  cr_assert_not_null(strstr(f.m.ds[0].content, "\"landlocked\":[1.0,"));
  api_data_free(&d);
  json_decref(doc);
  answer_free(&a);
  mem_svc_free(&f.m);
}

Test(datasets, name_rules_and_unknown_members) {
  fixture f;
  fixture_init(&f);
  char long_name[200];
  memset(long_name, 'n', 129);
  long_name[129] = '\0';
  char body[512];
  snprintf(body, sizeof body,
           "{\"name\": \"%s\", \"rows\": [{\"gdp\": 181667190058.79999}]}",
           long_name);
  answer a = post_json(&f, body);
  reply r = as_reply(&a);
  assert_problem(&r, 422, "invalid-request", "/name");
  answer_free(&a);
  a = post_json(&f, "{\"name\": \"\", \"rows\": [{\"gdp\": 1.5}]}");
  r = as_reply(&a);
  assert_problem(&r, 422, "invalid-request", "/name");
  answer_free(&a);
  a = post_json(&f, "{\"rows\": [{\"gdp\": 1.5}], \"format\": \"wide\"}");
  r = as_reply(&a);
  assert_problem(&r, 422, "invalid-request", "/format");
  answer_free(&a);
  a = post_json(&f, "{\"rows\": [{\"gdp\": \"1.5\"}]}");
  r = as_reply(&a);
  assert_problem(&r, 422, "invalid-request", "/rows/0/gdp");
  answer_free(&a);
  a = post_json(&f, "{\"rows\": [{\"gdp\": 1.5}]");
  r = as_reply(&a);
  assert_problem(&r, 400, "malformed-json", "");
  answer_free(&a);
  /* 128 characters of two bytes each are fine. */
  char utf[300] = "";
  for (int i = 0; i < 128; i++)
    memcpy(utf + 2 * i, "\xC3\xA9", 3);
  a = post_csv(&f, "gdp\n181667190058.79999\n", utf);
  assert_status(&a, 201);
  cr_assert_str_eq(str(a.json, "name"), utf);
  answer_free(&a);
  a = post_csv(&f, "gdp\n1.5\n", "");
  r = as_reply(&a);
  assert_problem(&r, 400, "bad-query", "/query/name");
  answer_free(&a);
  a = post_csv(&f, "gdp\n1.5\n", "C\xF4te");
  r = as_reply(&a);
  assert_problem(&r, 400, "bad-query", "/query/name");
  answer_free(&a);
  cr_assert_eq(f.m.n_ds, 1);
  mem_svc_free(&f.m);
}

Test(datasets, csv_faults_come_back_with_pointer_and_line) {
  fixture f;
  fixture_init(&f);
  answer a = post_csv(&f,
                      "reporter,partner,year,gdp\n"
                      "CHN,KAZ,2019,181667190058.79999\n"
                      "CHN,KGZ,2019,8871026594.16x\n",
                      NULL);
  reply r = as_reply(&a);
  const char *d = assert_problem(&r, 400, "malformed-csv", "/rows/1/gdp");
  cr_assert(strncmp(d, "line 3, column 4: ", 18) == 0, "%s", d);
  answer_free(&a);
  cr_assert_eq(f.m.n_ds, 0);
  mem_svc_free(&f.m);
}

Test(datasets, limits_apply_to_both_forms) {
  fixture f;
  fixture_init(&f);
  f.env.limits.max_rows = 5;
  answer a = post_csv(&f, gdp_csv, NULL);
  reply r = as_reply(&a);
  assert_problem(&r, 422, "limit-exceeded", "/rows");
  answer_free(&a);
  a = post_json(&f, gdp_json);
  r = as_reply(&a);
  assert_problem(&r, 422, "limit-exceeded", "/columns");
  answer_free(&a);
  f.env.limits.max_rows = 100;
  f.env.limits.max_columns = 3;
  a = post_csv(&f, gdp_csv, NULL);
  r = as_reply(&a);
  assert_problem(&r, 422, "limit-exceeded", "/header/6");
  answer_free(&a);
  mem_svc_free(&f.m);
}

Test(datasets, other_media_types_are_415) {
  fixture f;
  fixture_init(&f);
  const char *bad[] = {"text/plain", "application/x-www-form-urlencoded",
                       "text/csv; charset=latin1", "text/csvx", NULL};
  for (size_t i = 0; i < 5; i++) {
    call_in in = {.content_type = bad[i], .body = gdp_csv};
    answer a = run(api_post_datasets, &f.env, &in);
    reply r = as_reply(&a);
    assert_problem(&r, 415, "unsupported-media-type", "");
    answer_free(&a);
  }
  const char *good[] = {"TEXT/CSV", "text/csv;charset=\"UTF-8\"",
                        "text/csv; header=present; charset=utf-8"};
  for (size_t i = 0; i < 3; i++) {
    call_in in = {.content_type = good[i], .body = gdp_csv};
    answer a = run(api_post_datasets, &f.env, &in);
    cr_assert(a.status == 201 || a.status == 200, "%s: %d", good[i], a.status);
    answer_free(&a);
  }
  call_in js = {.content_type = "application/json; charset=utf-8",
                .body = gdp_json};
  answer a = run(api_post_datasets, &f.env, &js);
  assert_status(&a, 200);
  answer_free(&a);
  mem_svc_free(&f.m);
}

Test(datasets, no_service_is_503_for_every_handler) {
  api_env env = test_env();
  api_handler_fn fns[4] = {api_post_datasets, api_get_datasets, api_get_dataset,
                           api_delete_dataset};
  for (size_t i = 0; i < 4; i++) {
    call_in in = {.content_type = "text/csv",
                  .body = gdp_csv,
                  .id = "ds_0123456789abcdef0123456789abcdef"};
    answer a = run(fns[i], &env, &in);
    reply r = as_reply(&a);
    assert_problem(&r, 503, "unavailable", NULL);
    answer_free(&a);
  }
}

Test(datasets, busy_is_503_with_retry_after_and_errors_are_500) {
  fixture f;
  fixture_init(&f);
  f.m.fail = API_SVC_BUSY;
  answer a = post_csv(&f, gdp_csv, NULL);
  reply r = as_reply(&a);
  assert_problem(&r, 503, "busy", NULL);
  cr_assert_str_eq(a.retry_after, "1");
  answer_free(&a);
  call_in list = {0};
  a = run(api_get_datasets, &f.env, &list);
  r = as_reply(&a);
  assert_problem(&r, 503, "busy", NULL);
  cr_assert_str_eq(a.retry_after, "1");
  answer_free(&a);
  f.m.fail = API_SVC_ERROR;
  call_in one = {.id = "ds_0123456789abcdef0123456789abcdef"};
  a = run(api_get_dataset, &f.env, &one);
  r = as_reply(&a);
  assert_problem(&r, 500, "internal-error", NULL);
  answer_free(&a);
  a = run(api_delete_dataset, &f.env, &one);
  r = as_reply(&a);
  assert_problem(&r, 500, "internal-error", NULL);
  answer_free(&a);
  mem_svc_free(&f.m);
}

/* ---- GET list ---------------------------------------------------------- */

Test(datasets, pages_walk_every_dataset_once) {
  fixture f;
  fixture_init(&f);
  char ids[7][API_DATASET_ID_LEN + 1];
  for (int k = 0; k < 7; k++) {
    char csv[128];
    snprintf(csv, sizeof csv, "partner,year,gdp\nKAZ,%d,%.17g\n", 2015 + k,
             181667190058.79999 * (1 + 0.0137 * k));
    answer a = post_csv(&f, csv, NULL);
    assert_status(&a, 201);
    snprintf(ids[k], sizeof ids[k], "%s", str(a.json, "id"));
    answer_free(&a);
  }
  char cursor[64] = "";
  int seen = 0, pages = 0;
  for (;;) {
    kv q[3] = {{"limit", "3"}, {cursor[0] ? "after" : NULL, cursor}, {0}};
    call_in in = {.query = q};
    answer a = run(api_get_datasets, &f.env, &in);
    assert_status(&a, 200);
    json_t *items = json_object_get(a.json, "items");
    cr_assert(json_array_size(items) <= 3);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
      cr_assert_str_eq(str(it, "id"), ids[seen]);
      cr_assert_not_null(json_object_get(it, "years"));
      seen++;
    }
    pages++;
    json_t *next = json_object_get(a.json, "next");
    if (json_is_null(next)) {
      answer_free(&a);
      break;
    }
    snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
    answer_free(&a);
  }
  cr_assert_eq(seen, 7);
  cr_assert_eq(pages, 3);
  /* The default page holds them all. */
  call_in all = {0};
  answer a = run(api_get_datasets, &f.env, &all);
  cr_assert_eq(json_array_size(json_object_get(a.json, "items")), 7);
  cr_assert(json_is_null(json_object_get(a.json, "next")));
  answer_free(&a);
  mem_svc_free(&f.m);
}

Test(datasets, bad_limits_and_cursors_are_400) {
  fixture f;
  fixture_init(&f);
  const char *bad[] = {
      "0", "1001", "abc", "10x", "", "-5", " 5", "+5", "99999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    kv q[2] = {{"limit", bad[i]}, {0}};
    call_in in = {.query = q};
    answer a = run(api_get_datasets, &f.env, &in);
    reply r = as_reply(&a);
    assert_problem(&r, 400, "bad-query", "/query/limit");
    answer_free(&a);
  }
  kv ok[2] = {{"limit", "1000"}, {0}};
  call_in in = {.query = ok};
  answer a = run(api_get_datasets, &f.env, &in);
  assert_status(&a, 200);
  answer_free(&a);
  kv q[2] = {{"after", "not a cursor"}, {0}};
  in = (call_in){.query = q};
  a = run(api_get_datasets, &f.env, &in);
  reply r = as_reply(&a);
  assert_problem(&r, 400, "bad-query", "/query/after");
  answer_free(&a);
  kv q2[2] = {{"after", "zzz"}, {0}}; /* well-formed, unknown to the store */
  in = (call_in){.query = q2};
  a = run(api_get_datasets, &f.env, &in);
  r = as_reply(&a);
  assert_problem(&r, 400, "bad-query", "/query/after");
  answer_free(&a);
  mem_svc_free(&f.m);
}

/* ---- GET one, DELETE --------------------------------------------------- */

Test(datasets, rows_round_trip_every_value_exactly) {
  fixture f;
  fixture_init(&f);
  answer p = post_csv(&f, gdp_csv, "ca");
  assert_status(&p, 201);
  kv q[2] = {{"rows", "true"}, {0}};
  call_in in = {.id = str(p.json, "id"), .query = q};
  answer a = run(api_get_dataset, &f.env, &in);
  assert_status(&a, 200);
  cr_assert_str_eq(a.etag, p.etag);
  cr_assert_str_eq(str(a.json, "id"), str(p.json, "id"));
  cr_assert_str_eq(str(a.json, "name"), "ca");
  json_t *rows = json_object_get(json_object_get(a.json, "data"), "rows");
  cr_assert_eq(json_array_size(rows), 6);
  /* Parse the CSV text again and compare cell by cell, bit for bit. */
  const char *line = strchr(gdp_csv, '\n') + 1;
  const char *names[7] = {"reporter",    "partner",     "year",      "trade",
                          "gdp_partner", "pop_partner", "landlocked"};
  for (size_t i = 0; i < 6; i++) {
    json_t *row = json_array_get(rows, i);
    cr_assert_eq(json_object_size(row), 7);
    const char *c = line;
    for (size_t j = 0; j < 7; j++) {
      size_t n = strcspn(c, ",\n");
      char cell[64];
      snprintf(cell, sizeof cell, "%.*s", (int)n, c);
      json_t *v = json_object_get(row, names[j]);
      if (j < 2)
        cr_assert_str_eq(json_string_value(v), cell);
      else if (j == 2)
        cr_assert_eq(json_integer_value(v), strtol(cell, NULL, 10));
      else if (strcmp(cell, "NA") == 0)
        cr_assert(json_is_null(v), "row %zu %s", i, names[j]);
      else
        cr_assert_eq(json_real_value(v), strtod(cell, NULL), "row %zu %s", i,
                     names[j]);
      c += n + 1;
    }
    line = c;
  }
  answer_free(&a);
  /* Without rows (default and explicit false): no data member. */
  kv no[2] = {{"rows", "false"}, {0}};
  for (int k = 0; k < 2; k++) {
    call_in s = {.id = str(p.json, "id"), .query = k ? no : NULL};
    a = run(api_get_dataset, &f.env, &s);
    assert_status(&a, 200);
    cr_assert_null(json_object_get(a.json, "data"));
    cr_assert_eq(json_integer_value(json_object_get(a.json, "n_rows")), 6);
    answer_free(&a);
  }
  kv bad[2] = {{"rows", "yes"}, {0}};
  call_in b = {.id = str(p.json, "id"), .query = bad};
  a = run(api_get_dataset, &f.env, &b);
  reply r = as_reply(&a);
  assert_problem(&r, 400, "bad-query", "/query/rows");
  answer_free(&a);
  answer_free(&p);
  mem_svc_free(&f.m);
}

Test(datasets, if_none_match_gives_304_without_a_body) {
  fixture f;
  fixture_init(&f);
  answer p = post_csv(&f, gdp_csv, NULL);
  const char *id = str(p.json, "id");
  char list[256];
  snprintf(list, sizeof list, "\"ds_00000000000000000000000000000000\", W/%s",
           p.etag);
  const char *hits[] = {p.etag, "*", list};
  for (size_t i = 0; i < 3; i++) {
    call_in in = {.id = id, .if_none_match = hits[i]};
    answer a = run(api_get_dataset, &f.env, &in);
    cr_assert_eq(a.status, 304, "%s: %d", hits[i], a.status);
    cr_assert_null(a.json);
    cr_assert_str_eq(a.etag, p.etag);
    answer_free(&a);
  }
  call_in miss = {.id = id,
                  .if_none_match = "\"ds_00000000000000000000000000000000\""};
  answer a = run(api_get_dataset, &f.env, &miss);
  assert_status(&a, 200);
  answer_free(&a);
  /* A deleted dataset is 404 even with a matching tag. */
  call_in del = {.id = id};
  a = run(api_delete_dataset, &f.env, &del);
  answer_free(&a);
  call_in gone = {.id = id, .if_none_match = "*"};
  a = run(api_get_dataset, &f.env, &gone);
  assert_status(&a, 404);
  answer_free(&a);
  answer_free(&p);
  mem_svc_free(&f.m);
}

Test(datasets, unknown_and_malformed_ids_are_404) {
  fixture f;
  fixture_init(&f);
  const char *ids[] = {"ds_0123456789abcdef0123456789abcdef",
                       "ds_0123456789ABCDEF0123456789ABCDEF",
                       "ds_0123",
                       "m_0123456789abcdef0123456789abcdef",
                       "ds_0123456789abcdef0123456789abcdef0",
                       "../etc/passwd",
                       ""};
  for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
    call_in in = {.id = ids[i]};
    answer a = run(api_get_dataset, &f.env, &in);
    reply r = as_reply(&a);
    assert_problem(&r, 404, "not-found", "/path/id");
    answer_free(&a);
    a = run(api_delete_dataset, &f.env, &in);
    r = as_reply(&a);
    assert_problem(&r, 404, "not-found", "/path/id");
    answer_free(&a);
  }
  /* Malformed ids never reach the store. */
  cr_assert_eq(f.m.calls, 2);
  mem_svc_free(&f.m);
}

Test(datasets, delete_is_204_then_404) {
  fixture f;
  fixture_init(&f);
  answer p = post_csv(&f, gdp_csv, NULL);
  call_in in = {.id = str(p.json, "id")};
  answer a = run(api_delete_dataset, &f.env, &in);
  cr_assert_eq(a.status, 204);
  cr_assert_null(a.json);
  answer_free(&a);
  cr_assert_eq(f.m.n_ds, 0);
  a = run(api_get_dataset, &f.env, &in);
  assert_status(&a, 404);
  answer_free(&a);
  a = run(api_delete_dataset, &f.env, &in);
  assert_status(&a, 404);
  answer_free(&a);
  /* Posting again creates it anew. */
  a = post_csv(&f, gdp_csv, NULL);
  assert_status(&a, 201);
  answer_free(&a);
  answer_free(&p);
  mem_svc_free(&f.m);
}
