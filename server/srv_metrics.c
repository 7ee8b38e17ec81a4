/* Prometheus metrics held in fixed arrays of atomics (see srv_metrics.h). */
#include "srv_metrics.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gravitas_build_id.h" /* GRAVITAS_BUILD, written at build time */
#include "srv_routes.h"

/* Upper bounds of the latency histograms in seconds (+Inf is implicit). */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025,  0.05,  0.1,    0.25,  0.5,
                                 1,      2.5,   5,      10};
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])

static const char *const methods[] = {"GET",    "HEAD",    "POST",  "PUT",
                                      "DELETE", "OPTIONS", "PATCH", "OTHER"};
#define N_METHODS (sizeof methods / sizeof methods[0])

/* Statuses the service can answer; anything else is counted under "other"
 * so that the table stays fixed-size. Status 0 means no response was sent. */
static const int statuses[] = {0,   200, 201, 202, 204, 206, 301, 302,
                               304, 400, 401, 403, 404, 405, 406, 408,
                               409, 410, 411, 412, 413, 414, 415, 416,
                               422, 429, 431, 500, 501, 502, 503, 504};
#define N_STATUSES (sizeof statuses / sizeof statuses[0])
#define STATUS_OTHER N_STATUSES

#define MAX_ROUTES 64 /* table length + 1 for "unmatched" must fit */

typedef struct histogram {
  atomic_uint_fast64_t counts[N_BUCKETS + 1]; /* per bucket, not cumulative */
  atomic_uint_fast64_t sum_ns;
} histogram;

static atomic_uint_fast64_t requests[MAX_ROUTES][N_METHODS][N_STATUSES + 1];
static histogram latency[MAX_ROUTES];
static histogram fits;
static atomic_uint_fast64_t cache_hits, cache_misses, models_cached;
static atomic_uint_fast64_t wb_outcomes[SRV_WB_OUTCOMES], wb_requests,
    wb_retries;
static const char *const wb_outcome_names[SRV_WB_OUTCOMES] = {
    "worldbank", "cache",   "stale_cache", "invalid",
    "upstream",  "timeout", "busy",        "error"};

static size_t method_index(const char *m) {
  for (size_t i = 0; i + 1 < N_METHODS; i++)
    if (m != NULL && strcmp(methods[i], m) == 0) return i;
  return N_METHODS - 1;
}

static size_t status_index(int status) {
  for (size_t i = 0; i < N_STATUSES; i++)
    if (statuses[i] == status) return i;
  return STATUS_OTHER;
}

static size_t route_slot(size_t route_index) {
  size_t n;
  srv_routes_table(&n);
  if (n >= MAX_ROUTES) n = MAX_ROUTES - 1;
  return route_index < n ? route_index : n;
}

static void observe(histogram *h, double seconds) {
  if (!(seconds >= 0)) seconds = 0; /* also catches NaN */
  size_t b = 0;
  while (b < N_BUCKETS && seconds > buckets[b])
    b++;
  atomic_fetch_add_explicit(&h->counts[b], 1, memory_order_relaxed);
  double ns = seconds * 1e9;
  uint64_t add = ns < 1.8e19 ? (uint64_t)(ns + 0.5) : UINT64_MAX / 2;
  atomic_fetch_add_explicit(&h->sum_ns, add, memory_order_relaxed);
}

void srv_metrics_request(size_t route_index, const char *method, int status,
                         double seconds) {
  size_t r = route_slot(route_index);
  atomic_fetch_add_explicit(
      &requests[r][method_index(method)][status_index(status)], 1,
      memory_order_relaxed);
  observe(&latency[r], seconds);
}

void srv_metrics_fit(double seconds) {
  observe(&fits, seconds);
}

void srv_metrics_cache_hit(void) {
  atomic_fetch_add_explicit(&cache_hits, 1, memory_order_relaxed);
}

void srv_metrics_cache_miss(void) {
  atomic_fetch_add_explicit(&cache_misses, 1, memory_order_relaxed);
}

void srv_metrics_models_cached(size_t n) {
  atomic_store_explicit(&models_cached, n, memory_order_relaxed);
}

void srv_metrics_wb_indicator(srv_wb_outcome outcome) {
  if ((unsigned)outcome >= SRV_WB_OUTCOMES) outcome = SRV_WB_ERROR;
  atomic_fetch_add_explicit(&wb_outcomes[outcome], 1, memory_order_relaxed);
}

void srv_metrics_wb_requests(size_t made, size_t repeats) {
  atomic_fetch_add_explicit(&wb_requests, made, memory_order_relaxed);
  atomic_fetch_add_explicit(&wb_retries, repeats, memory_order_relaxed);
}

static uint64_t load(atomic_uint_fast64_t *a) {
  return atomic_load_explicit(a, memory_order_relaxed);
}

static bool render_histogram(srv_buf *out, const char *name, const char *labels,
                             histogram *h) {
  uint64_t cumulative = 0;
  const char *sep = labels[0] ? "," : "";
  for (size_t b = 0; b <= N_BUCKETS; b++) {
    cumulative += load(&h->counts[b]);
    bool ok;
    if (b < N_BUCKETS)
      ok = srv_buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels,
                          sep, buckets[b],
                          (unsigned long long)cumulative) == SRV_BUF_OK;
    else
      ok =
          srv_buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels,
                         sep, (unsigned long long)cumulative) == SRV_BUF_OK;
    if (!ok) return false;
  }
  const char *open = labels[0] ? "{" : "";
  const char *close = labels[0] ? "}" : "";
  return srv_buf_printf(out, "%s_sum%s%s%s %.9f\n%s_count%s%s%s %llu\n", name,
                        open, labels, close, (double)load(&h->sum_ns) / 1e9,
                        name, open, labels, close,
                        (unsigned long long)cumulative) == SRV_BUF_OK;
}

static bool histogram_empty(histogram *h) {
  for (size_t b = 0; b <= N_BUCKETS; b++)
    if (load(&h->counts[b])) return false;
  return true;
}

static const char *route_label(size_t slot) {
  size_t n;
  const srv_route *t = srv_routes_table(&n);
  return slot < n && slot < MAX_ROUTES - 1 ? t[slot].pattern : "unmatched";
}

bool srv_metrics_render(srv_buf *out) {
  size_t n;
  srv_routes_table(&n);
  size_t slots = route_slot(n) + 1;
  char labels[256];

#define P(...)                                                                 \
  do {                                                                         \
    if (srv_buf_printf(out, __VA_ARGS__) != SRV_BUF_OK) return false;          \
  } while (0)

  P("# HELP gravitas_build_info Version of the running server and the "
    "commit it was built from (git describe).\n"
    "# TYPE gravitas_build_info gauge\n"
    "gravitas_build_info{version=\"%s\",revision=\"%s\"} 1\n",
    GRAVITAS_VERSION, GRAVITAS_BUILD);

  P("# HELP gravitas_http_requests_total HTTP requests by route, method and "
    "status.\n"
    "# TYPE gravitas_http_requests_total counter\n");
  for (size_t r = 0; r < slots; r++)
    for (size_t m = 0; m < N_METHODS; m++)
      for (size_t s = 0; s <= N_STATUSES; s++) {
        uint64_t v = load(&requests[r][m][s]);
        if (v == 0) continue;
        if (s == STATUS_OTHER)
          P("gravitas_http_requests_total{route=\"%s\",method=\"%s\","
            "status=\"other\"} %llu\n",
            route_label(r), methods[m], (unsigned long long)v);
        else
          P("gravitas_http_requests_total{route=\"%s\",method=\"%s\","
            "status=\"%d\"} %llu\n",
            route_label(r), methods[m], statuses[s], (unsigned long long)v);
      }

  P("# HELP gravitas_http_request_duration_seconds Time from request to "
    "completed response.\n"
    "# TYPE gravitas_http_request_duration_seconds histogram\n");
  for (size_t r = 0; r < slots; r++) {
    if (histogram_empty(&latency[r])) continue;
    snprintf(labels, sizeof labels, "route=\"%s\"", route_label(r));
    if (!render_histogram(out, "gravitas_http_request_duration_seconds", labels,
                          &latency[r]))
      return false;
  }

  P("# HELP gravitas_fit_duration_seconds Time spent fitting models.\n"
    "# TYPE gravitas_fit_duration_seconds histogram\n");
  if (!render_histogram(out, "gravitas_fit_duration_seconds", "", &fits))
    return false;

  P("# HELP gravitas_model_cache_hits_total Model cache lookups that hit.\n"
    "# TYPE gravitas_model_cache_hits_total counter\n"
    "gravitas_model_cache_hits_total %llu\n"
    "# HELP gravitas_model_cache_misses_total Model cache lookups that "
    "missed.\n"
    "# TYPE gravitas_model_cache_misses_total counter\n"
    "gravitas_model_cache_misses_total %llu\n"
    "# HELP gravitas_models_cached Models held in the cache.\n"
    "# TYPE gravitas_models_cached gauge\n"
    "gravitas_models_cached %llu\n",
    (unsigned long long)load(&cache_hits),
    (unsigned long long)load(&cache_misses),
    (unsigned long long)load(&models_cached));

  P("# HELP gravitas_worldbank_indicators_total Indicators asked of the World "
    "Bank fetcher, by where their values came from or why they did not.\n"
    "# TYPE gravitas_worldbank_indicators_total counter\n");
  for (size_t o = 0; o < SRV_WB_OUTCOMES; o++)
    P("gravitas_worldbank_indicators_total{outcome=\"%s\"} %llu\n",
      wb_outcome_names[o], (unsigned long long)load(&wb_outcomes[o]));
  P("# HELP gravitas_worldbank_requests_total HTTP requests made to the World "
    "Bank API, retries included.\n"
    "# TYPE gravitas_worldbank_requests_total counter\n"
    "gravitas_worldbank_requests_total %llu\n"
    "# HELP gravitas_worldbank_retries_total World Bank requests that repeated "
    "a failed one.\n"
    "# TYPE gravitas_worldbank_retries_total counter\n"
    "gravitas_worldbank_retries_total %llu\n",
    (unsigned long long)load(&wb_requests),
    (unsigned long long)load(&wb_retries));
#undef P
  return true;
}

void srv_metrics_reset(void) {
  for (size_t r = 0; r < MAX_ROUTES; r++) {
    for (size_t m = 0; m < N_METHODS; m++)
      for (size_t s = 0; s <= N_STATUSES; s++)
        atomic_store(&requests[r][m][s], 0);
    for (size_t b = 0; b <= N_BUCKETS; b++)
      atomic_store(&latency[r].counts[b], 0);
    atomic_store(&latency[r].sum_ns, 0);
  }
  for (size_t b = 0; b <= N_BUCKETS; b++)
    atomic_store(&fits.counts[b], 0);
  atomic_store(&fits.sum_ns, 0);
  atomic_store(&cache_hits, 0);
  atomic_store(&cache_misses, 0);
  atomic_store(&models_cached, 0);
  for (size_t o = 0; o < SRV_WB_OUTCOMES; o++)
    atomic_store(&wb_outcomes[o], 0);
  atomic_store(&wb_requests, 0);
  atomic_store(&wb_retries, 0);
}
