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

typedef struct api_service {
  void *ctx;

  /* Datasets. put is idempotent: *created is false when the id existed. */
  api_svc_status (*dataset_put)(void *ctx, const char *id, const char *name,
                                size_t n_rows, const char *summary_json,
                                const char *content, size_t content_len,
                                bool *created);
  /* summary_json and/or content may be NULL when not wanted. */
  api_svc_status (*dataset_get)(void *ctx, const char *id,
                                char **summary_json, char **content,
                                size_t *content_len);
  /* Page of summaries (JSON array text) after the cursor `after` (NULL =
   * start); *next is the cursor for the following page or NULL at the end. */
  api_svc_status (*dataset_list)(void *ctx, const char *after, size_t limit,
                                 char **items_json, char **next);
  api_svc_status (*dataset_delete)(void *ctx, const char *id);

  /* Models. result_json is the full model answer. */
  api_svc_status (*model_put)(void *ctx, const char *id,
                              const char *dataset_id, const char *spec_json,
                              const char *result_json, bool *created);
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
  api_svc_status (*alias_put)(void *ctx, const char *name,
                              const char *model_id, char **previous);
  api_svc_status (*alias_list)(void *ctx, char **items_json);
} api_service;

#endif
