/* The World Bank indicator fetcher: libcurl (multi interface, from the
 * calling thread) against the API v2 single-indicator endpoint, every page
 * followed, with timeouts, retries, a response cap and bounded concurrency. */
#ifndef GRAVITAS_WB_FETCH_H
#define GRAVITAS_WB_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "wb_parse.h"

#ifndef GRAVITAS_VERSION
#define GRAVITAS_VERSION "0.0.0"
#endif

#define WB_DEFAULT_BASE_URL "https://api.worldbank.org/v2"
#define WB_DEFAULT_USER_AGENT                                                  \
  "gravitas/" GRAVITAS_VERSION " (+https://gravitas.dev)"
/* The API's documented limits (World Bank Data Help Desk article 898581). */
#define WB_MAX_URL_LEN 4000
#define WB_MAX_SEGMENT_LEN 1500
#define WB_MAX_INDICATORS_PER_CALL 60
/* Rows asked for per page, and the most pages one call may have. */
#define WB_PER_PAGE 1000
#define WB_MAX_PAGES 1000
/* Longest error message kept, plus the NUL. */
#define WB_ERR_MAX 512

typedef struct wb_config {
  const char *base_url;      /* borrowed; e.g. WB_DEFAULT_BASE_URL */
  long timeout_connect_ms;   /* CURLOPT_CONNECTTIMEOUT_MS, > 0 */
  long timeout_total_ms;     /* CURLOPT_TIMEOUT_MS per request, > 0 */
  int max_retries;           /* extra attempts after the first, >= 0 */
  long backoff_base_ms;      /* first retry waits up to this (full jitter) */
  long backoff_max_ms;       /* cap of every wait, Retry-After included */
  size_t max_response_bytes; /* decoded body cap per response, > 0 */
  int max_in_flight;         /* transfers at once, >= 1 */
  const char *user_agent;    /* borrowed; NULL: WB_DEFAULT_USER_AGENT */
} wb_config;

/* Fills c with the defaults: the public API, 5 s connect, 30 s total, 3
 * retries, backoff 500 ms doubling up to 8 s, 16 MiB per response, 4 in
 * flight, the default User-Agent. */
void wb_config_defaults(wb_config *c);

typedef enum wb_error_kind {
  WB_OK = 0,
  WB_E_INVALID_REQUEST, /* the World Bank (or our own checks) refused the
                           indicator or country: answer 422 */
  WB_E_UPSTREAM,        /* 5xx after retries, non-JSON, malformed, truncated,
                           oversized, inconsistent pages: answer 502 */
  WB_E_TIMEOUT,         /* timed out on every attempt: answer 504 */
  WB_E_NOMEM            /* out of memory (or curl could not start): 500 */
} wb_error_kind;

typedef struct wb_error {
  wb_error_kind kind;
  /* Names the indicator and countries, quotes the World Bank's message id,
   * key and value when there is one. "" when kind == WB_OK. */
  char message[WB_ERR_MAX];
} wb_error;

/* The HTTP status a caller should answer for kind: 200, 422, 502, 504, 500.
 */
int wb_error_http_status(wb_error_kind kind);

/* A stable slug of kind ("ok", "invalid-request", "upstream", "timeout",
 * "no-memory"). Never NULL. */
const char *wb_error_kind_name(wb_error_kind kind);

/* One tidy observation. */
typedef struct wb_row {
  char country[WB_CODE_MAX]; /* the row's countryiso3code (or country.id) */
  const char *indicator;     /* borrowed from the result's status entry */
  int year;
  bool has_value; /* false: the World Bank has no value (null) */
  double value;   /* NaN when !has_value; never 0 for a missing value */
} wb_row;

/* What happened to one requested indicator. */
typedef struct wb_indicator_status {
  char *indicator; /* as requested (owned by the result) */
  bool ok;
  wb_error_kind kind;            /* WB_OK when ok */
  char lastupdated[WB_CODE_MAX]; /* "" when the source gave none */
  bool has_sourceid;             /* false when the header had null */
  char sourceid[WB_CODE_MAX];
  size_t pages;           /* pages received, over all country groups */
  size_t rows;            /* rows in the result for this indicator (0 if !ok) */
  unsigned attempts;      /* HTTP requests made, retries included */
  unsigned retries;       /* requests that were repeats after a failure */
  char error[WB_ERR_MAX]; /* "" when ok */
} wb_indicator_status;

typedef struct wb_result {
  wb_row *rows; /* the ok indicators' rows, in request order of indicator,
                   then country group, then page order of the World Bank */
  size_t n_rows;
  wb_indicator_status *status; /* one per requested indicator, same order */
  size_t n_status;
  size_t calls;    /* country groups per indicator (URL-length split) */
  size_t requests; /* HTTP requests made in total */
} wb_result;

/* Fetches indicators[0..n_ind) for countries[0..n_countries) and years
 * from..to from cfg->base_url, one request chain per indicator and country
 * group: {base}/country/{A;B;...}/indicator/{code}?format=json&date=from:to
 * &per_page=1000&page=k, codes URL-escaped. The country list is split so no
 * URL passes WB_MAX_URL_LEN and no path segment WB_MAX_SEGMENT_LEN; each
 * call carries one indicator (so never more than 60).
 *
 * Returns WB_OK when every indicator succeeded. Otherwise returns the kind
 * of the first failed indicator in request order, with err describing it
 * (and how many others failed). In both cases *out is a new result (free it
 * with wb_result_free) holding the rows of every indicator that succeeded
 * and a status for each, so one indicator's failure loses no other's data.
 * *out is NULL only when the call could not run: WB_E_INVALID_REQUEST for
 * bad arguments (no countries or indicators, an empty or over-long code, a
 * bad year range, a country that alone would overflow the URL, a bad
 * config) and WB_E_NOMEM. err may be NULL. Blocks the calling thread; safe
 * to call from several threads at once (no shared state), provided
 * curl_global_init ran in main. */
wb_error_kind wb_fetch_indicators(const wb_config *cfg,
                                  const char *const *countries,
                                  size_t n_countries,
                                  const char *const *indicators, size_t n_ind,
                                  int from, int to, wb_result **out,
                                  wb_error *err);

/* Frees a result. NULL is a no-op. */
void wb_result_free(wb_result *r);

#endif
