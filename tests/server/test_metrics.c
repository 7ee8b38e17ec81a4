/* The Prometheus text: counters by route, method and status, histograms
 * with cumulative buckets, cache counters and build info. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "server/srv_test_doubles.h"
#include "srv_metrics.h"
#include "srv_routes.h"

static char *render(void) {
  srv_buf b;
  srv_buf_init(&b, 1u << 22);
  cr_assert(srv_metrics_render(&b));
  return srv_buf_steal(&b);
}

static size_t index_of(const char *pattern, const char *method) {
  size_t n;
  const srv_route *t = srv_routes_table(&n);
  for (size_t i = 0; i < n; i++)
    if (strcmp(t[i].pattern, pattern) == 0 && strcmp(t[i].method, method) == 0)
      return i;
  cr_assert_fail("no route %s %s", method, pattern);
  return n;
}

static void has(const char *text, const char *line) {
  cr_expect(strstr(text, line) != NULL, "missing line: %s", line);
}

Test(metrics, empty_render_has_every_family) {
  srv_metrics_reset();
  char *t = render();
  has(t, "# TYPE gravitas_build_info gauge\n");
  has(t, "gravitas_build_info{version=\"" GRAVITAS_VERSION "\",revision=\"");
  has(t, "# TYPE gravitas_http_requests_total counter\n");
  has(t, "# TYPE gravitas_http_request_duration_seconds histogram\n");
  has(t, "# TYPE gravitas_fit_duration_seconds histogram\n");
  has(t, "gravitas_fit_duration_seconds_bucket{le=\"0.0005\"} 0\n");
  has(t, "gravitas_fit_duration_seconds_bucket{le=\"+Inf\"} 0\n");
  has(t, "gravitas_fit_duration_seconds_count 0\n");
  has(t, "gravitas_model_cache_hits_total 0\n");
  has(t, "gravitas_model_cache_misses_total 0\n");
  has(t, "gravitas_models_cached 0\n");
  has(t, "# TYPE gravitas_worldbank_indicators_total counter\n");
  has(t, "gravitas_worldbank_indicators_total{outcome=\"stale_cache\"} 0\n");
  has(t, "gravitas_worldbank_requests_total 0\n");
  has(t, "gravitas_worldbank_retries_total 0\n");
  /* Every line is a comment or "name{labels} value". */
  for (char *line = t; *line;) {
    char *nl = strchr(line, '\n');
    cr_assert_not_null(nl, "the text ends with a newline");
    cr_expect(line[0] == '#' || strncmp(line, "gravitas_", 9) == 0);
    line = nl + 1;
  }
  free(t);
}

Test(metrics, requests_by_route_method_status) {
  srv_metrics_reset();
  size_t healthz = index_of("/healthz", "GET");
  size_t models = index_of("/v1/models", "POST");
  size_t n;
  srv_routes_table(&n);
  srv_metrics_request(healthz, "GET", 200, 0.000731);
  srv_metrics_request(healthz, "GET", 200, 0.0042);
  srv_metrics_request(healthz, "HEAD", 200, 0.0003);
  srv_metrics_request(models, "POST", 503, 0.00089);
  srv_metrics_request(n, "GET", 404, 0.000117);
  srv_metrics_request(n + 17, "BREW", 418, 0.2);
  char *t = render();
  has(t, "gravitas_http_requests_total{route=\"/healthz\",method=\"GET\","
         "status=\"200\"} 2\n");
  has(t, "gravitas_http_requests_total{route=\"/healthz\",method=\"HEAD\","
         "status=\"200\"} 1\n");
  has(t, "gravitas_http_requests_total{route=\"/v1/models\",method=\"POST\","
         "status=\"503\"} 1\n");
  has(t, "gravitas_http_requests_total{route=\"unmatched\",method=\"GET\","
         "status=\"404\"} 1\n");
  has(t, "gravitas_http_requests_total{route=\"unmatched\",method=\"OTHER\","
         "status=\"other\"} 1\n");
  /* /healthz: 0.0003 <= 0.0005, 0.000731 <= 0.001, 0.0042 <= 0.005. */
  has(t, "gravitas_http_request_duration_seconds_bucket{route=\"/healthz\","
         "le=\"0.0005\"} 1\n");
  has(t, "gravitas_http_request_duration_seconds_bucket{route=\"/healthz\","
         "le=\"0.001\"} 2\n");
  has(t, "gravitas_http_request_duration_seconds_bucket{route=\"/healthz\","
         "le=\"0.0025\"} 2\n");
  has(t, "gravitas_http_request_duration_seconds_bucket{route=\"/healthz\","
         "le=\"0.005\"} 3\n");
  has(t, "gravitas_http_request_duration_seconds_bucket{route=\"/healthz\","
         "le=\"10\"} 3\n");
  has(t, "gravitas_http_request_duration_seconds_bucket{route=\"/healthz\","
         "le=\"+Inf\"} 3\n");
  has(t, "gravitas_http_request_duration_seconds_sum{route=\"/healthz\"} "
         "0.005231000\n");
  has(t, "gravitas_http_request_duration_seconds_count{route=\"/healthz\"} "
         "3\n");
  /* Routes with no traffic have no series. */
  cr_expect(strstr(t, "route=\"/readyz\"") == NULL);
  free(t);
}

Test(metrics, fit_histogram_and_cache) {
  srv_metrics_reset();
  srv_metrics_fit(0.0137);
  srv_metrics_fit(2.75);
  srv_metrics_fit(12.5);
  srv_metrics_cache_hit();
  srv_metrics_cache_hit();
  srv_metrics_cache_hit();
  srv_metrics_cache_miss();
  srv_metrics_models_cached(42);
  srv_metrics_models_cached(41);
  char *t = render();
  has(t, "gravitas_fit_duration_seconds_bucket{le=\"0.01\"} 0\n");
  has(t, "gravitas_fit_duration_seconds_bucket{le=\"0.025\"} 1\n");
  has(t, "gravitas_fit_duration_seconds_bucket{le=\"2.5\"} 1\n");
  has(t, "gravitas_fit_duration_seconds_bucket{le=\"5\"} 2\n");
  has(t, "gravitas_fit_duration_seconds_bucket{le=\"10\"} 2\n");
  has(t, "gravitas_fit_duration_seconds_bucket{le=\"+Inf\"} 3\n");
  has(t, "gravitas_fit_duration_seconds_sum 15.263700000\n");
  has(t, "gravitas_fit_duration_seconds_count 3\n");
  has(t, "gravitas_model_cache_hits_total 3\n");
  has(t, "gravitas_model_cache_misses_total 1\n");
  has(t, "gravitas_models_cached 41\n");
  free(t);
}

Test(metrics, boundary_goes_to_its_own_bucket_and_nan_to_zero) {
  srv_metrics_reset();
  srv_metrics_fit(0.0005); /* le is "less or equal" */
  srv_metrics_fit(0.0 / 0.0);
  srv_metrics_fit(-1.0);
  char *t = render();
  has(t, "gravitas_fit_duration_seconds_bucket{le=\"0.0005\"} 3\n");
  free(t);
}

Test(metrics, render_reports_a_full_buffer) {
  srv_metrics_reset();
  srv_buf b;
  srv_buf_init(&b, 100);
  cr_assert_not(srv_metrics_render(&b));
  srv_buf_free(&b);
}

Test(metrics, world_bank_outcomes_requests_and_retries) {
  srv_metrics_reset();
  srv_metrics_wb_indicator(SRV_WB_WORLDBANK);
  srv_metrics_wb_indicator(SRV_WB_WORLDBANK);
  srv_metrics_wb_indicator(SRV_WB_TIMEOUT);
  srv_metrics_wb_indicator((srv_wb_outcome)99); /* out of range: error */
  srv_metrics_wb_requests(7, 2);
  srv_metrics_wb_requests(1, 0);
  char *t = render();
  has(t, "gravitas_worldbank_indicators_total{outcome=\"worldbank\"} 2\n");
  has(t, "gravitas_worldbank_indicators_total{outcome=\"timeout\"} 1\n");
  has(t, "gravitas_worldbank_indicators_total{outcome=\"error\"} 1\n");
  has(t, "gravitas_worldbank_indicators_total{outcome=\"cache\"} 0\n");
  has(t, "gravitas_worldbank_requests_total 8\n");
  has(t, "gravitas_worldbank_retries_total 2\n");
  free(t);
  srv_metrics_reset();
}
