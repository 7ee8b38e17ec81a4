/* Handler answers when a request for zero bytes gets NULL, as C allows
 * malloc and calloc to answer (tests/alloc_wrap.h): such a NULL is not a
 * lack of memory, so no 500 "Out of memory." may come of it. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_wrap.h"
#include "api_indicators.h"
#include "api_service.h"
#include "api_testing.h"
#include "svc_memory.h"

/* Never called: a panel of derived variables only asks for no indicator. */
static api_wb_error no_get(void *ctx, const char *const *countries, size_t n,
                           const char *const *indicators, size_t m, int from,
                           int to, api_wb_mode mode, api_wb_result **out) {
  (void)ctx, (void)countries, (void)n, (void)indicators, (void)m, (void)from;
  (void)to, (void)mode;
  *out = NULL;
  cr_assert_fail("the World Bank was asked for indicators");
  return API_WB_ERROR;
}

/* Only the economic distance (capital distance times the oil price): the
 * panel has no indicator series, so its table of series has zero cells. */
Test(alloc, worldbank_panel_of_the_distance_alone) {
  mem_svc m;
  mem_svc_init(&m);
  m.table.indicators_get = no_get;
  api_env env = test_env();
  env.service = (void *)&m.table;
  const char *body = "{\"reporter\": \"CHN\", \"partners\": [\"KAZ\", \"UZB\"],"
                     " \"from\": 2015, \"to\": 2017, \"variables\": {},"
                     " \"derived\": {\"economic_distance\": {}}}";
  alloc_zero_null = true;
  reply r =
      call_env(api_post_datasets_from_worldbank, &env, body, strlen(body));
  alloc_zero_null = false;
  cr_assert_eq(r.status, 201, "%d: %s", r.status,
               json_dumps(r.json, JSON_COMPACT));
  cr_assert_eq(m.n_ds, 1u);
  reply_free(&r);
  mem_svc_free(&m);
}
