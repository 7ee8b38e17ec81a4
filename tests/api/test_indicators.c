/* Handler tests of the World Bank endpoints (api_indicators.c) over a fake
 * indicators_get: the answer's shape, and each failure kind's problem. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api_indicators.h"
#include "api_service.h"
#include "api_testing.h"

/* What the fake answers next. */
static api_wb_error next_error;

static api_wb_error fake_get(void *ctx, const char *const *countries, size_t n,
                             const char *const *indicators, size_t m, int from,
                             int to, api_wb_mode mode, api_wb_result **out) {
  (void)ctx;
  (void)mode;
  api_wb_result *r = calloc(1, sizeof *r);
  r->warnings = json_array();
  r->status = calloc(m, sizeof *r->status);
  r->n_status = m;
  r->rows = calloc(n * m * (size_t)(to - from + 1), sizeof *r->rows);
  for (size_t i = 0; i < m; i++) {
    api_wb_status *s = &r->status[i];
    snprintf(s->indicator, sizeof s->indicator, "%s", indicators[i]);
    s->source = "worldbank";
    snprintf(s->lastupdated, sizeof s->lastupdated, "2026-07-01");
    for (size_t c = 0; c < n; c++)
      for (int y = from; y <= to; y++) {
        api_wb_row *w = &r->rows[r->n_rows++];
        snprintf(w->country, sizeof w->country, "%s", countries[c]);
        w->indicator = i;
        w->year = y;
        w->has_value = y != to; /* the last year is null */
        w->value = w->has_value ? 1234.56789012345 + y : NAN;
        snprintf(w->lastupdated, sizeof w->lastupdated, "2026-07-01");
        s->rows++;
      }
  }
  if (next_error != API_WB_OK) {
    r->error = next_error;
    r->status[m - 1].source = "error";
    r->status[m - 1].error = next_error;
    snprintf(r->status[m - 1].message, sizeof r->status[m - 1].message,
             "World Bank indicator \"%s\": refused", indicators[m - 1]);
    snprintf(r->message, sizeof r->message, "%s", r->status[m - 1].message);
  }
  *out = r;
  return r->error;
}

static api_service svc = {.indicators_get = fake_get};

static reply fetch(const char *body) {
  api_env env = test_env();
  env.service = &svc;
  return call_env(api_post_indicators_fetch, &env, body, strlen(body));
}

#define BODY                                                                   \
  "{\"countries\":[\"KAZ\",\"TKM\"],\"indicators\":[\"SP.POP.TOTL\","          \
  "\"X.Y\"],\"from\":2021,\"to\":2022}"

Test(indicators_fetch, tidy_rows_with_nulls_and_lastupdated) {
  next_error = API_WB_OK;
  reply r = fetch(BODY);
  cr_assert_eq(r.status, 200);
  json_t *rows = json_object_get(r.json, "rows");
  cr_assert_eq(json_array_size(rows), 8u);
  json_t *first = json_array_get(rows, 0);
  cr_assert_str_eq(json_string_value(json_object_get(first, "country")), "KAZ");
  cr_assert_str_eq(json_string_value(json_object_get(first, "indicator")),
                   "SP.POP.TOTL");
  cr_assert_float_eq(json_number_value(json_object_get(first, "value")),
                     1234.56789012345 + 2021, 1e-9);
  cr_assert(json_is_null(json_object_get(json_array_get(rows, 1), "value")));
  cr_assert_str_eq(json_string_value(json_object_get(first, "lastupdated")),
                   "2026-07-01");
  json_t *st = json_array_get(json_object_get(r.json, "status"), 1);
  cr_assert_str_eq(json_string_value(json_object_get(st, "source")),
                   "worldbank");
  reply_free(&r);
}

Test(indicators_fetch, refused_indicator_is_422_at_its_pointer) {
  next_error = API_WB_INVALID;
  reply r = fetch(BODY);
  assert_problem(&r, 422, "invalid-request", NULL);
  cr_assert_not_null(error_at(&r, "/indicators/1"));
  cr_assert(strstr(json_string_value(json_object_get(r.json, "detail")),
                   "X.Y") != NULL);
  reply_free(&r);
}

Test(indicators_fetch, upstream_timeout_and_busy) {
  next_error = API_WB_UPSTREAM;
  reply r = fetch(BODY);
  assert_problem(&r, 502, "upstream-error", NULL);
  reply_free(&r);
  next_error = API_WB_TIMEOUT;
  r = fetch(BODY);
  assert_problem(&r, 504, "upstream-timeout", NULL);
  reply_free(&r);
  next_error = API_WB_BUSY;
  r = fetch(BODY);
  assert_problem(&r, 503, "busy", NULL);
  reply_free(&r);
}

Test(indicators_fetch, bad_fields_are_named) {
  next_error = API_WB_OK;
  reply r = fetch("{\"countries\":[\"K Z\"],\"indicators\":[],\"from\":2022,"
                  "\"to\":2021,\"extra\":1}");
  assert_problem(&r, 422, "invalid-request", NULL);
  cr_assert_not_null(error_at(&r, "/extra"));
  reply_free(&r);
  r = fetch("{\"countries\":[\"K Z\"],\"indicators\":[],\"from\":2022,"
            "\"to\":2021}");
  assert_problem(&r, 422, "invalid-request", NULL);
  cr_assert_not_null(error_at(&r, "/countries/0"));
  cr_assert_not_null(error_at(&r, "/indicators"));
  cr_assert_not_null(error_at(&r, "/to"));
  reply_free(&r);
}

Test(indicators_fetch, no_fetcher_is_503) {
  api_service none = {0};
  api_env env = test_env();
  env.service = &none;
  reply r = call_env(api_post_indicators_fetch, &env, BODY, strlen(BODY));
  assert_problem(&r, 503, "unavailable", NULL);
  reply_free(&r);
}
