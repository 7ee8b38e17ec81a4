/* World Bank indicators for the api_service table: the fetcher (wb_fetch)
 * behind the store's indicator cache with a time to live. Fresh cached
 * values are served without a request; stale or missing ones are fetched
 * and cached; when a fetch fails, cached values are served with a warning
 * naming their age. At most max_fetches fetches run at once: beyond that
 * the call answers API_WB_BUSY (503 with Retry-After), so fetches never
 * occupy more than that many request threads. */
#ifndef GRAVITAS_SRV_INDICATORS_H
#define GRAVITAS_SRV_INDICATORS_H

#include <stdbool.h>
#include <stddef.h>

#include "api_service.h"
#include "srv_service.h"
#include "store.h"
#include "wb_fetch.h"

typedef struct srv_indicators srv_indicators;

typedef struct srv_indicators_config {
  const char *base_url; /* copied; NULL: WB_DEFAULT_BASE_URL */
  unsigned ttl_hours;   /* cached values younger than this are fresh */
  long timeout_ms;      /* per HTTP request; 0: the fetcher's default */
  unsigned max_fetches; /* fetches at once, >= 1 */
  int max_retries;      /* < 0: the fetcher's default */
} srv_indicators_config;

/* Creates the fetcher and cache front over st (borrowed: it must outlive
 * the result). Returns NULL when memory runs out. */
srv_indicators *srv_indicators_new(store *st, const srv_indicators_config *c);

/* Frees x. Call only when no thread uses it. NULL is a no-op. */
void srv_indicators_free(srv_indicators *x);

/* The api_service indicators_get contract (see api_service.h) over x. */
api_wb_error srv_indicators_get(srv_indicators *x, const char *const *countries,
                                size_t n, const char *const *indicators,
                                size_t m, int from, int to, api_wb_mode mode,
                                api_wb_result **out);

/* Puts x (borrowed) behind the indicators_get entry of s's table.
 * Implemented in srv_service.c, which owns the table. */
void srv_service_set_indicators(srv_service *s, srv_indicators *x);

#endif
