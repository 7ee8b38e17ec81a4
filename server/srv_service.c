/* The api_service table over the store and the model cache (see
 * srv_service.h). Reads of models go through the cache: a hit hands back the
 * shared parsed view, a miss reads the store, parses once and inserts. */
#include "srv_service.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_model_view.h"
#include "srv_indicators.h"
#include "srv_log.h"
#include "srv_metrics.h"

/* Aliases resolved lately, so that GET /v1/potential (alias "default")
 * does not open an SQLite read transaction per request (it cost a quarter
 * of the endpoint's throughput). Only alias_put changes an alias; it drops
 * the entry and bumps the generation, and a resolution that read the store
 * while a put happened does not insert its (possibly stale) answer. */
#define ALIAS_CACHE_MAX 64

typedef struct alias_entry {
  char *name, *id;
} alias_entry;

struct srv_service {
  api_service table;
  store *st;
  srv_cache *cache;
  srv_indicators *ind; /* NULL: no fetcher (indicators_get answers 500) */
  pthread_mutex_t alias_mu;
  alias_entry alias[ALIAS_CACHE_MAX];
  size_t n_alias, alias_next; /* entries; the slot to replace when full */
  unsigned long alias_gen;
};

static api_svc_status map(store_status s, const store_err *err,
                          const char *what) {
  switch (s) {
  case STORE_OK: return API_SVC_OK;
  case STORE_NOT_FOUND:
  /* An id that is not one of ours cannot name anything stored. */
  case STORE_INVALID: return API_SVC_NOT_FOUND;
  case STORE_BUSY: return API_SVC_BUSY;
  case STORE_CONFLICT: return API_SVC_CONFLICT;
  case STORE_IO:
  case STORE_CORRUPT:
  case STORE_NOMEM: break;
  }
  SRV_LOG_ERROR("store", "%s: %s", what, err ? err->msg : store_status_name(s));
  return API_SVC_ERROR;
}

/* Adds created_at to a stored summary. Returns a new malloc'd text, or NULL
 * when memory runs out or the summary is not a JSON object. */
static char *summary_with_time(const char *summary, const char *created_at) {
  json_error_t jerr;
  json_t *o = json_loads(summary ? summary : "{}", 0, &jerr);
  if (!json_is_object(o)) {
    json_decref(o);
    return NULL;
  }
  json_object_set_new(o, "created_at", json_string(created_at));
  char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(o);
  return text;
}

/* Writes a page's items (arr, stolen; NULL after a failure) and its cursor
 * into the caller's strings. */
static api_svc_status finish_page(json_t *arr, const char *cursor,
                                  char **items_json, char **next) {
  *items_json =
      arr ? json_dumps(arr, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
  json_decref(arr);
  *next = cursor ? strdup(cursor) : NULL;
  if (*items_json != NULL && (cursor == NULL || *next != NULL))
    return API_SVC_OK;
  free(*items_json);
  free(*next);
  *items_json = *next = NULL;
  return API_SVC_ERROR;
}

/* ---- datasets ----------------------------------------------------------- */

static api_svc_status dataset_put(void *ctx, const char *id, const char *name,
                                  size_t n_rows, const char *summary_json,
                                  const char *content, size_t content_len,
                                  bool *created) {
  srv_service *s = ctx;
  store_err err;
  store_status st =
      store_put_dataset(s->st, id, name, (int64_t)n_rows, summary_json, content,
                        content_len, created, &err);
  return map(st, &err, "put dataset");
}

static api_svc_status dataset_get(void *ctx, const char *id,
                                  char **summary_json, char **content,
                                  size_t *content_len) {
  srv_service *s = ctx;
  if (summary_json) *summary_json = NULL;
  if (content) *content = NULL;
  unsigned with = (summary_json ? STORE_WITH_SUMMARY : 0u) |
                  (content ? STORE_WITH_CONTENT : 0u);
  store_dataset *d = NULL;
  store_err err;
  store_status st = store_get_dataset(s->st, id, with, &d, &err);
  if (st != STORE_OK) return map(st, &err, "get dataset");
  api_svc_status out = API_SVC_OK;
  if (summary_json) {
    *summary_json = summary_with_time(d->summary_json, d->created_at);
    if (*summary_json == NULL) out = API_SVC_ERROR;
  }
  if (content && out == API_SVC_OK) {
    *content = (char *)d->content;
    *content_len = d->content_len;
    d->content = NULL;
  }
  store_dataset_free(d);
  return out;
}

static api_svc_status dataset_list(void *ctx, const char *after, size_t limit,
                                   char **items_json, char **next) {
  srv_service *s = ctx;
  *items_json = NULL;
  *next = NULL;
  store_dataset_page *page = NULL;
  store_err err;
  store_status st = store_list_datasets(s->st, after, limit, &page, &err);
  if (st != STORE_OK) return map(st, &err, "list datasets");
  json_t *arr = json_array();
  for (size_t i = 0; arr != NULL && i < page->n; i++) {
    char *text = summary_with_time(page->items[i].summary_json,
                                   page->items[i].created_at);
    json_error_t jerr;
    json_t *o = text ? json_loads(text, 0, &jerr) : NULL;
    free(text);
    if (o == NULL || json_array_append_new(arr, o) != 0) {
      json_decref(arr);
      arr = NULL;
    }
  }
  api_svc_status out = finish_page(arr, page->next, items_json, next);
  store_dataset_page_free(page);
  return out;
}

static api_svc_status dataset_delete(void *ctx, const char *id) {
  srv_service *s = ctx;
  store_err err;
  return map(store_delete_dataset(s->st, id, &err), &err, "delete dataset");
}

/* ---- models ------------------------------------------------------------- */

static api_svc_status model_put(void *ctx, const char *id,
                                const char *dataset_id, const char *spec_json,
                                const char *result_json, bool *created) {
  srv_service *s = ctx;
  store_err err;
  return map(store_put_model(s->st, id, dataset_id, spec_json, result_json,
                             created, &err),
             &err, "put model");
}

static bool is_model_id(const char *s) {
  if (strncmp(s, "m_", 2) != 0 || strlen(s) != 34) return false;
  for (const char *p = s + 2; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
  return true;
}

static api_svc_status model_resolve(void *ctx, const char *id_or_alias,
                                    char **id_out) {
  srv_service *s = ctx;
  *id_out = NULL;
  if (is_model_id(id_or_alias)) {
    *id_out = strdup(id_or_alias);
    return *id_out ? API_SVC_OK : API_SVC_ERROR;
  }
  pthread_mutex_lock(&s->alias_mu);
  for (size_t i = 0; i < s->n_alias; i++)
    if (strcmp(s->alias[i].name, id_or_alias) == 0) {
      *id_out = strdup(s->alias[i].id);
      pthread_mutex_unlock(&s->alias_mu);
      return *id_out ? API_SVC_OK : API_SVC_ERROR;
    }
  unsigned long gen = s->alias_gen;
  pthread_mutex_unlock(&s->alias_mu);
  store_err err;
  api_svc_status st =
      map(store_get_alias(s->st, id_or_alias, id_out, &err), &err, "get alias");
  if (st != API_SVC_OK) return st;
  char *name = strdup(id_or_alias), *id = strdup(*id_out);
  pthread_mutex_lock(&s->alias_mu);
  if (name != NULL && id != NULL && gen == s->alias_gen) {
    size_t slot;
    if (s->n_alias < ALIAS_CACHE_MAX) {
      slot = s->n_alias++;
    } else { /* full: replace the slots in turn */
      slot = s->alias_next;
      s->alias_next = (s->alias_next + 1) % ALIAS_CACHE_MAX;
      free(s->alias[slot].name);
      free(s->alias[slot].id);
    }
    s->alias[slot] = (alias_entry){name, id};
    name = id = NULL;
  }
  pthread_mutex_unlock(&s->alias_mu);
  free(name);
  free(id);
  return API_SVC_OK;
}

static void view_free(void *v) {
  api_model_view_free(v);
}

static api_svc_status model_acquire(void *ctx, const char *id,
                                    const api_model_view **view,
                                    void **handle) {
  srv_service *s = ctx;
  *view = NULL;
  *handle = NULL;
  srv_cache_entry *e = srv_cache_get(s->cache, id);
  if (e != NULL) {
    srv_metrics_cache_hit();
  } else {
    srv_metrics_cache_miss();
    store_model *m = NULL;
    store_err err;
    store_status st = store_get_model(s->st, id, &m, &err);
    if (st != STORE_OK) return map(st, &err, "get model");
    api_model_view *v = NULL;
    char why[160];
    int rc = api_model_view_build(m->result_json, strlen(m->result_json), &v,
                                  why, sizeof why);
    store_model_free(m);
    if (rc != 0) {
      SRV_LOG_ERROR("cache", "model %s cannot be read: %s", id, why);
      return API_SVC_ERROR;
    }
    e = srv_cache_put(s->cache, id, v, v->bytes);
    if (e == NULL) return API_SVC_ERROR;
    srv_cache_stats stats;
    srv_cache_stats_get(s->cache, &stats);
    srv_metrics_models_cached(stats.entries);
  }
  *view = srv_cache_value(e);
  *handle = e;
  return API_SVC_OK;
}

static void model_release(void *ctx, void *handle) {
  srv_service *s = ctx;
  srv_cache_release(s->cache, handle);
}

static api_svc_status model_list(void *ctx, const char *after, size_t limit,
                                 char **items_json, char **next) {
  srv_service *s = ctx;
  *items_json = NULL;
  *next = NULL;
  store_model_page *page = NULL;
  store_err err;
  store_status st = store_list_models(s->st, NULL, after, limit, &page, &err);
  if (st != STORE_OK) return map(st, &err, "list models");
  json_t *arr = json_array();
  for (size_t i = 0; arr != NULL && i < page->n; i++) {
    const store_model *m = &page->items[i];
    json_error_t jerr;
    json_t *spec = json_loads(m->spec_json ? m->spec_json : "{}", 0, &jerr);
    json_t *o = spec ? json_pack("{s:s, s:s, s:s, s:o}", "id", m->id,
                                 "dataset_id", m->dataset_id, "created_at",
                                 m->created_at, "spec", spec)
                     : NULL;
    if (o == NULL || json_array_append_new(arr, o) != 0) {
      json_decref(arr);
      arr = NULL;
    }
  }
  api_svc_status out = finish_page(arr, page->next, items_json, next);
  store_model_page_free(page);
  return out;
}

static api_svc_status model_delete(void *ctx, const char *id) {
  srv_service *s = ctx;
  store_err err;
  store_status st = store_delete_model(s->st, id, &err);
  if (st == STORE_OK) {
    srv_cache_remove(s->cache, id);
    srv_cache_stats stats;
    srv_cache_stats_get(s->cache, &stats);
    srv_metrics_models_cached(stats.entries);
  }
  return map(st, &err, "delete model");
}

/* ---- aliases ------------------------------------------------------------ */

static api_svc_status alias_put(void *ctx, const char *name,
                                const char *model_id, char **previous) {
  srv_service *s = ctx;
  store_err err;
  api_svc_status st =
      map(store_put_alias(s->st, name, model_id, previous, &err), &err,
          "put alias");
  /* Whatever the outcome, the cached resolution of name is dropped. */
  pthread_mutex_lock(&s->alias_mu);
  s->alias_gen++;
  for (size_t i = 0; i < s->n_alias; i++)
    if (strcmp(s->alias[i].name, name) == 0) {
      free(s->alias[i].name);
      free(s->alias[i].id);
      s->alias[i] = s->alias[--s->n_alias];
      s->alias[s->n_alias] = (alias_entry){NULL, NULL};
      s->alias_next = 0;
      break;
    }
  pthread_mutex_unlock(&s->alias_mu);
  return st;
}

static api_svc_status alias_list(void *ctx, char **items_json) {
  srv_service *s = ctx;
  *items_json = NULL;
  store_alias_list *l = NULL;
  store_err err;
  store_status st = store_list_aliases(s->st, &l, &err);
  if (st != STORE_OK) return map(st, &err, "list aliases");
  json_t *arr = json_array();
  for (size_t i = 0; arr != NULL && i < l->n; i++) {
    json_t *o =
        json_pack("{s:s, s:s, s:s}", "name", l->items[i].name, "model_id",
                  l->items[i].model_id, "updated_at", l->items[i].updated_at);
    if (o == NULL || json_array_append_new(arr, o) != 0) {
      json_decref(arr);
      arr = NULL;
    }
  }
  store_alias_list_free(l);
  *items_json = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
  json_decref(arr);
  return *items_json ? API_SVC_OK : API_SVC_ERROR;
}

/* ---- World Bank indicators (srv_indicators.c) ------------------------- */

static api_wb_error indicators_get(void *ctx, const char *const *countries,
                                   size_t n, const char *const *indicators,
                                   size_t m, int from, int to, api_wb_mode mode,
                                   api_wb_result **out) {
  srv_service *s = ctx;
  return srv_indicators_get(s->ind, countries, n, indicators, m, from, to, mode,
                            out);
}

void srv_service_set_indicators(srv_service *s, srv_indicators *x) {
  s->ind = x;
}

/* ---- life cycle --------------------------------------------------------- */

srv_service *srv_service_new(store *st, size_t cache_bytes) {
  srv_service *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->st = st;
  s->cache = srv_cache_new(cache_bytes, view_free);
  if (s->cache == NULL || pthread_mutex_init(&s->alias_mu, NULL) != 0) {
    srv_cache_free(s->cache);
    free(s);
    return NULL;
  }
  s->table = (api_service){.ctx = s,
                           .dataset_put = dataset_put,
                           .dataset_get = dataset_get,
                           .dataset_list = dataset_list,
                           .dataset_delete = dataset_delete,
                           .model_put = model_put,
                           .model_resolve = model_resolve,
                           .model_acquire = model_acquire,
                           .model_release = model_release,
                           .model_list = model_list,
                           .model_delete = model_delete,
                           .alias_put = alias_put,
                           .alias_list = alias_list,
                           .indicators_get = indicators_get};
  return s;
}

void srv_service_free(srv_service *s) {
  if (s == NULL) return;
  srv_cache_free(s->cache);
  for (size_t i = 0; i < s->n_alias; i++) {
    free(s->alias[i].name);
    free(s->alias[i].id);
  }
  pthread_mutex_destroy(&s->alias_mu);
  free(s);
}

const api_service *srv_service_table(const srv_service *s) {
  return &s->table;
}

srv_cache *srv_service_cache(const srv_service *s) {
  return s->cache;
}
