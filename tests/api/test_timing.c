/* api_timing (api/api_response.c): the Server-Timing header of writes. */
#include "api/api_testing.h"

#include <time.h>

static const char *header_of(const api_response *res, const char *name) {
  for (size_t i = 0; i < res->n_headers; i++)
    if (strcmp(res->headers[i].name, name) == 0) return res->headers[i].value;
  return NULL;
}

static void nap_ms(long ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

Test(timing, stages_in_order_with_their_own_durations) {
  api_timing t;
  api_timing_start(&t);
  nap_ms(20);
  cr_assert(api_timing_mark(&t, "parse"));
  nap_ms(5);
  cr_assert(api_timing_mark(&t, "store"));
  api_response res = {.status = 201};
  api_timing_header(&t, &res);
  const char *v = header_of(&res, "Server-Timing");
  cr_assert_not_null(v);
  double parse = -1, store = -1, total = -1;
  cr_assert_eq(sscanf(v, "parse;dur=%lf, store;dur=%lf, total;dur=%lf", &parse,
                      &store, &total),
               3, "%s", v);
  cr_assert_geq(parse, 19.0, "%s", v);
  cr_assert_geq(store, 4.0, "%s", v);
  cr_assert_lt(store, parse, "each stage has its own duration: %s", v);
  cr_assert_geq(total, parse + store - 0.002, "%s", v);
  api_response_free(&res);
}

Test(timing, only_on_2xx_answers) {
  const int statuses[] = {199, 304, 400, 422, 503};
  for (size_t i = 0; i < sizeof statuses / sizeof *statuses; i++) {
    api_timing t;
    api_timing_start(&t);
    api_timing_mark(&t, "parse");
    api_response res = {.status = statuses[i]};
    api_timing_header(&t, &res);
    cr_assert_null(header_of(&res, "Server-Timing"), "%d", statuses[i]);
    api_response_free(&res);
  }
  api_timing t;
  api_timing_start(&t);
  api_response res = {.status = 200};
  api_timing_header(&t, &res);
  const char *v = header_of(&res, "Server-Timing");
  cr_assert_not_null(v);
  cr_assert_eq(strncmp(v, "total;dur=", 10), 0, "no stage, a total: %s", v);
  api_response_free(&res);
}

Test(timing, stages_beyond_the_cap_are_dropped) {
  api_timing t;
  api_timing_start(&t);
  for (int i = 0; i < API_TIMING_MAX + 3; i++)
    cr_assert(api_timing_mark(&t, "s"));
  cr_assert_eq(t.n, (size_t)API_TIMING_MAX);
  api_response res = {.status = 201};
  api_timing_header(&t, &res);
  const char *v = header_of(&res, "Server-Timing");
  cr_assert_not_null(v);
  size_t count = 0;
  for (const char *p = v; (p = strstr(p, "s;dur=")) != NULL; p++)
    count++;
  cr_assert_eq(count, (size_t)API_TIMING_MAX, "%s", v);
  api_response_free(&res);
}
