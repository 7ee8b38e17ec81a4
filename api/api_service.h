/* What api/ handlers may ask of the running process — storage of datasets,
 * models and aliases, and the model cache — without knowing SQLite, threads
 * or libmicrohttpd. server/ implements this table (srv_service.c) over the
 * store and the LRU cache and puts it in api_env.service; handler tests can
 * implement it over plain memory. Every function is thread-safe. Strings
 * returned through char ** are malloc'd and freed by the caller. */
#ifndef GRAVITAS_API_SERVICE_H
#define GRAVITAS_API_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef enum api_svc_status {
  API_SVC_OK = 0,
  API_SVC_NOT_FOUND, /* no such id or alias */
  API_SVC_BUSY,      /* storage busy; answer 503 with Retry-After */
  API_SVC_CONFLICT,  /* the change conflicts (a model still aliased) */
  API_SVC_ERROR      /* storage failure; answer 500 */
} api_svc_status;

/* A parsed, immutable model held by the cache and shared between threads.
 * Built by api_model_view_build (api_models.c) from the stored result JSON;
 * never modified after it is built. */
typedef struct api_model_view api_model_view;

/* World Bank indicators (api_indicators.c answers them; server/ fetches
 * and caches them, srv_indicators.c). */
typedef enum api_wb_error {
  API_WB_OK = 0,
  API_WB_INVALID,  /* the World Bank refused an indicator or country: 422 */
  API_WB_UPSTREAM, /* unreachable, 5xx, non-JSON, malformed: 502 */
  API_WB_TIMEOUT,  /* no answer in time: 504 */
  API_WB_BUSY,     /* every fetch slot is in use: 503 with Retry-After */
  API_WB_ERROR     /* out of memory, storage failure, not configured: 500 */
} api_wb_error;

#define API_WB_CODE_MAX 64
#define API_WB_DATE_MAX 64

/* One tidy value. */
typedef struct api_wb_row {
  char country[API_WB_CODE_MAX];
  size_t indicator; /* index into the requested indicators */
  int year;
  bool has_value; /* false: the World Bank has no value (null) */
  double value;
  char lastupdated[API_WB_DATE_MAX]; /* the source's date, "" when none */
} api_wb_row;

/* What happened to one requested indicator. */
typedef struct api_wb_status {
  char indicator[API_WB_CODE_MAX];
  const char *source; /* static: "worldbank", "cache", "stale-cache" or
                         "error" */
  double age_hours;   /* age of the oldest value served (0 when fetched) */
  char lastupdated[API_WB_DATE_MAX];
  api_wb_error error; /* API_WB_OK unless source is "error" */
  char message[512];  /* why it failed or fell back; "" otherwise */
  size_t rows;
} api_wb_status;

typedef struct api_wb_result {
  api_wb_row *rows; /* indicator order, then country, then year */
  size_t n_rows;
  api_wb_status *status; /* one per requested indicator, same order */
  size_t n_status;
  json_t *warnings; /* array of strings (owned) */
  /* API_WB_OK when every indicator has values to serve; otherwise the
   * first failed indicator's kind with message naming it. */
  api_wb_error error;
  char message[512];
} api_wb_result;

/* How indicators_get treats the cache. */
typedef enum api_wb_mode {
  API_WB_NORMAL = 0, /* cached while fresh, else fetched */
  API_WB_REFRESH,    /* always fetched (cached values only as a fallback) */
  API_WB_CACHE_ONLY  /* never fetched: whatever is cached, however old;
                        an indicator with nothing cached has source "error"
                        but the call does not fail */
} api_wb_mode;

/* Frees a result (api_indicators.c). NULL is a no-op. */
void api_wb_result_free(api_wb_result *r);

typedef struct api_service {
  void *ctx;

  /* Datasets. put is idempotent: *created is false when the id existed. */
  api_svc_status (*dataset_put)(void *ctx, const char *id, const char *name,
                                size_t n_rows, const char *summary_json,
                                const char *content, size_t content_len,
                                bool *created);
  /* summary_json and/or content may be NULL when not wanted. */
  api_svc_status (*dataset_get)(void *ctx, const char *id, char **summary_json,
                                char **content, size_t *content_len);
  /* Page of summaries (JSON array text) after the cursor `after` (NULL =
   * start); *next is the cursor for the following page or NULL at the end. */
  api_svc_status (*dataset_list)(void *ctx, const char *after, size_t limit,
                                 char **items_json, char **next);
  api_svc_status (*dataset_delete)(void *ctx, const char *id);

  /* Models. result_json is the full model answer. */
  api_svc_status (*model_put)(void *ctx, const char *id, const char *dataset_id,
                              const char *spec_json, const char *result_json,
                              bool *created);
  /* Resolves an id or an alias name to a model id (*id_out). */
  api_svc_status (*model_resolve)(void *ctx, const char *id_or_alias,
                                  char **id_out);
  /* The cached view of a model id (loaded from storage on a miss). *handle
   * must be passed to model_release when done with *view. */
  api_svc_status (*model_acquire)(void *ctx, const char *id,
                                  const api_model_view **view, void **handle);
  void (*model_release)(void *ctx, void *handle);
  api_svc_status (*model_list)(void *ctx, const char *after, size_t limit,
                               char **items_json, char **next);
  api_svc_status (*model_delete)(void *ctx, const char *id);

  /* Aliases. *previous (may be NULL) receives the former target or NULL. */
  api_svc_status (*alias_put)(void *ctx, const char *name, const char *model_id,
                              char **previous);
  api_svc_status (*alias_list)(void *ctx, char **items_json);

  /* World Bank values of indicators[0..m) for countries[0..n) and years
   * from..to: from the indicator cache while fresh, else fetched (see
   * api_wb_mode) and cached; when a fetch fails, cached values are
   * served with a warning naming their age. Returns the error kind and sets
   * *out (free with api_wb_result_free) unless out of memory (API_WB_ERROR
   * with *out NULL). May be NULL when the process has no fetcher. */
  api_wb_error (*indicators_get)(void *ctx, const char *const *countries,
                                 size_t n, const char *const *indicators,
                                 size_t m, int from, int to, api_wb_mode mode,
                                 api_wb_result **out);
} api_service;

#endif
