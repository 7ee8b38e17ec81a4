/* Process-wide Prometheus metrics: request counts and latencies by route,
 * fit durations, model cache counters, World Bank fetcher counters and
 * build info. Every function is
 * thread-safe and lock-free; recording never allocates. */
#ifndef GRAVITAS_SRV_METRICS_H
#define GRAVITAS_SRV_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "srv_buf.h"

/* Routes are identified by their index in srv_routes_table(); requests that
 * matched no path use the index equal to the table length ("unmatched"). */

/* Records one finished request. method is the request method (unknown ones
 * are counted as "OTHER"), status the HTTP status (0 when the connection
 * closed before a response), seconds the time from first byte to
 * completion. Indexes past the table are counted as "unmatched". */
void srv_metrics_request(size_t route_index, const char *method, int status,
                         double seconds);

/* Records the duration of one model fit, in seconds. */
void srv_metrics_fit(double seconds);

/* Model cache events (for the cache's owner to call). */
void srv_metrics_cache_hit(void);
void srv_metrics_cache_miss(void);
/* Sets the gauge of models currently cached. */
void srv_metrics_models_cached(size_t n);

/* World Bank fetcher: each indicator a request asked for, by where its
 * values came from or why they did not (the outcome labels below), and the
 * HTTP requests made to the World Bank with how many of them were retries.
 */
typedef enum srv_wb_outcome {
  SRV_WB_WORLDBANK,   /* fetched now */
  SRV_WB_CACHE,       /* fresh in the indicator cache */
  SRV_WB_STALE_CACHE, /* the World Bank failed; older cached values served */
  SRV_WB_INVALID,     /* the World Bank refused the indicator or country */
  SRV_WB_UPSTREAM,    /* unreachable, 5xx, malformed */
  SRV_WB_TIMEOUT,     /* no answer in time */
  SRV_WB_BUSY,        /* every fetch slot in use */
  SRV_WB_ERROR,       /* memory, storage, not configured, nothing cached */
  SRV_WB_OUTCOMES
} srv_wb_outcome;
void srv_metrics_wb_indicator(srv_wb_outcome outcome);
void srv_metrics_wb_requests(size_t made, size_t repeats);

/* Appends the Prometheus text format (version 0.0.4) of every metric to out.
 * Returns true, or false when out's maximum or memory ran out (out then
 * holds a truncated text and should not be served). */
bool srv_metrics_render(srv_buf *out);

/* Zeroes everything. Only for tests, with no request in flight. */
void srv_metrics_reset(void);

/* The content type of srv_metrics_render's text. */
#define SRV_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
