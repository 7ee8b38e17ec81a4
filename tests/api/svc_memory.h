/* An in-memory api_service for handler tests: datasets, models and aliases in
 * plain arrays (no threads, no SQLite), with the same observable contract as
 * server/'s table: idempotent puts, cursor pages in insertion order,
 * NOT_FOUND for unknown ids, aliases that never dangle.
 *
 *   mem_svc m;
 *   mem_svc_init(&m);
 *   api_env env = test_env();
 *   env.service = (void *)&m.table;
 *   ... call handlers ...
 *   mem_svc_free(&m);
 *
 * Fault injection: set m.fail to API_SVC_BUSY or API_SVC_ERROR and every
 * call answers it (m.fail_after counts calls that still succeed first).
 *
 * Lists (dataset_list, model_list) answer a JSON array of the stored
 * summaries (datasets) or result JSON (models), each with "created_at" added
 * as the server does; the cursor is the decimal sequence number of the last
 * item of the page. Malformed cursors answer API_SVC_NOT_FOUND.
 *
 * Models: model_acquire builds a fresh view of the stored result for each
 * call with api_model_view_build (or with m.view_build(result_json,
 * m.view_ctx) when that hook is set, freed by m.view_free); a result that is
 * not a model answer gives API_SVC_ERROR. m.acquired - m.released is the
 * number of views still held. Deleting a model an alias points at, and
 * putting an existing id with other content (datasets) or another dataset
 * id or spec (models), answer API_SVC_CONFLICT as the store does. */
#ifndef GRAVITAS_TESTS_API_SVC_MEMORY_H
#define GRAVITAS_TESTS_API_SVC_MEMORY_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_model_view.h"
#include "api_service.h"

typedef struct mem_dataset {
  char *id, *name, *summary, *content;
  size_t content_len, n_rows;
  unsigned long seq;
} mem_dataset;

typedef struct mem_model {
  char *id, *dataset_id, *spec, *result;
  unsigned long seq;
} mem_model;

typedef struct mem_alias {
  char *name, *model_id;
} mem_alias;

typedef struct mem_svc {
  api_service table; /* first member: &m.table == (api_service *)&m */
  mem_dataset *ds;
  size_t n_ds, cap_ds;
  mem_model *models;
  size_t n_models, cap_models;
  mem_alias *aliases;
  size_t n_aliases, cap_aliases;
  unsigned long seq;
  api_svc_status fail; /* API_SVC_OK: no injected failure */
  size_t fail_after;   /* calls that succeed before fail applies */
  size_t calls;        /* every call made through the table */
  /* Model views (optional). */
  const api_model_view *(*view_build)(const char *result_json, void *ctx);
  void (*view_free)(const api_model_view *view, void *ctx);
  void *view_ctx;
  size_t acquired, released;
} mem_svc;

static inline char *mem_strdup(const char *s) {
  return s ? strdup(s) : NULL;
}

static inline char *mem_memdup(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d == NULL) return NULL;
  if (n) memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

/* The injected failure for this call, or API_SVC_OK. */
static inline api_svc_status mem_fault(mem_svc *m) {
  m->calls++;
  if (m->fail == API_SVC_OK) return API_SVC_OK;
  if (m->fail_after > 0) {
    m->fail_after--;
    return API_SVC_OK;
  }
  return m->fail;
}

static inline bool mem_grow(void **arr, size_t *cap, size_t n, size_t size) {
  if (n < *cap) return true;
  size_t c = *cap ? 2 * *cap : 8;
  void *a = realloc(*arr, c * size);
  if (a == NULL) return false;
  *arr = a;
  *cap = c;
  return true;
}

static inline mem_dataset *mem_find_ds(mem_svc *m, const char *id) {
  for (size_t i = 0; i < m->n_ds; i++)
    if (strcmp(m->ds[i].id, id) == 0) return &m->ds[i];
  return NULL;
}

static inline mem_model *mem_find_model(mem_svc *m, const char *id) {
  for (size_t i = 0; i < m->n_models; i++)
    if (strcmp(m->models[i].id, id) == 0) return &m->models[i];
  return NULL;
}

static inline mem_alias *mem_find_alias(mem_svc *m, const char *name) {
  for (size_t i = 0; i < m->n_aliases; i++)
    if (strcmp(m->aliases[i].name, name) == 0) return &m->aliases[i];
  return NULL;
}

/* "created_at" of sequence number seq: a fixed day, one second apart. */
static inline void mem_created_at(unsigned long seq, char *buf, size_t n) {
  snprintf(buf, n, "2024-01-01T%02lu:%02lu:%02luZ", (seq / 3600) % 24,
           (seq / 60) % 60, seq % 60);
}

/* The JSON text json_text with "created_at" added (malloc'd); a copy of the
 * text when it is not an object. */
static inline char *mem_with_created(const char *json_text, unsigned long seq) {
  json_t *o = json_text ? json_loads(json_text, 0, NULL) : NULL;
  if (!json_is_object(o)) {
    json_decref(o);
    return mem_strdup(json_text ? json_text : "null");
  }
  char at[32];
  mem_created_at(seq, at, sizeof at);
  json_object_set_new(o, "created_at", json_string(at));
  char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(o);
  return s;
}

/* Parses a cursor (a decimal sequence number). */
static inline bool mem_cursor(const char *after, unsigned long *seq) {
  *seq = 0;
  if (after == NULL) return true;
  if (*after == '\0' || strlen(after) > 18) return false;
  for (const char *c = after; *c; c++) {
    if (*c < '0' || *c > '9') return false;
    *seq = 10 * *seq + (unsigned long)(*c - '0');
  }
  return true;
}

/* ---- datasets ---------------------------------------------------------- */

static inline api_svc_status
mem_dataset_put(void *ctx, const char *id, const char *name, size_t n_rows,
                const char *summary_json, const char *content,
                size_t content_len, bool *created) {
  mem_svc *m = ctx;
  api_svc_status f = mem_fault(m);
  *created = false;
  if (f != API_SVC_OK) return f;
  if (id == NULL || content == NULL) return API_SVC_ERROR;
  mem_dataset *d = mem_find_ds(m, id);
  if (d != NULL) {
    /* Same id, different content: the store's conflict. */
    if (d->content_len != content_len ||
        memcmp(d->content, content, content_len) != 0)
      return API_SVC_CONFLICT;
    return API_SVC_OK;
  }
  if (!mem_grow((void **)&m->ds, &m->cap_ds, m->n_ds, sizeof *m->ds))
    return API_SVC_ERROR;
  d = &m->ds[m->n_ds];
  *d = (mem_dataset){.id = mem_strdup(id),
                     .name = mem_strdup(name),
                     .summary = mem_strdup(summary_json),
                     .content = mem_memdup(content, content_len),
                     .content_len = content_len,
                     .n_rows = n_rows,
                     .seq = ++m->seq};
  m->n_ds++;
  *created = true;
  return API_SVC_OK;
}

static inline api_svc_status mem_dataset_get(void *ctx, const char *id,
                                             char **summary_json,
                                             char **content,
                                             size_t *content_len) {
  mem_svc *m = ctx;
  api_svc_status f = mem_fault(m);
  if (summary_json) *summary_json = NULL;
  if (content) *content = NULL;
  if (f != API_SVC_OK) return f;
  mem_dataset *d = mem_find_ds(m, id);
  if (d == NULL) return API_SVC_NOT_FOUND;
  if (summary_json) *summary_json = mem_with_created(d->summary, d->seq);
  if (content) {
    *content = mem_memdup(d->content, d->content_len);
    if (content_len) *content_len = d->content_len;
  }
  return API_SVC_OK;
}

/* A page of items in insertion order; item(i) gives the JSON text of the
 * i-th stored item (malloc'd). */
static inline api_svc_status mem_page(size_t n, const unsigned long *seqs,
                                      const char *after, size_t limit,
                                      char *(*item)(mem_svc *, size_t),
                                      mem_svc *m, char **items_json,
                                      char **next) {
  unsigned long from;
  *items_json = NULL;
  *next = NULL;
  if (!mem_cursor(after, &from) || limit == 0) return API_SVC_NOT_FOUND;
  json_t *arr = json_array();
  size_t taken = 0;
  unsigned long last = 0;
  bool more = false;
  for (size_t i = 0; i < n; i++) {
    if (seqs[i] <= from) continue;
    if (taken == limit) {
      more = true;
      break;
    }
    char *t = item(m, i);
    json_t *v = t ? json_loads(t, 0, NULL) : NULL;
    free(t);
    json_array_append_new(arr, v ? v : json_null());
    last = seqs[i];
    taken++;
  }
  *items_json = json_dumps(arr, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(arr);
  if (more) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lu", last);
    *next = strdup(buf);
  }
  return *items_json ? API_SVC_OK : API_SVC_ERROR;
}

static inline char *mem_ds_item(mem_svc *m, size_t i) {
  return mem_with_created(m->ds[i].summary, m->ds[i].seq);
}

static inline api_svc_status mem_dataset_list(void *ctx, const char *after,
                                              size_t limit, char **items_json,
                                              char **next) {
  mem_svc *m = ctx;
  api_svc_status f = mem_fault(m);
  *items_json = NULL;
  *next = NULL;
  if (f != API_SVC_OK) return f;
  unsigned long *seqs = malloc((m->n_ds ? m->n_ds : 1) * sizeof *seqs);
  if (seqs == NULL) return API_SVC_ERROR;
  for (size_t i = 0; i < m->n_ds; i++)
    seqs[i] = m->ds[i].seq;
  api_svc_status st =
      mem_page(m->n_ds, seqs, after, limit, mem_ds_item, m, items_json, next);
  free(seqs);
  return st;
}

static inline api_svc_status mem_dataset_delete(void *ctx, const char *id) {
  mem_svc *m = ctx;
  api_svc_status f = mem_fault(m);
  if (f != API_SVC_OK) return f;
  mem_dataset *d = mem_find_ds(m, id);
  if (d == NULL) return API_SVC_NOT_FOUND;
  free(d->id);
  free(d->name);
  free(d->summary);
  free(d->content);
  size_t i = (size_t)(d - m->ds);
  memmove(&m->ds[i], &m->ds[i + 1], (m->n_ds - i - 1) * sizeof *m->ds);
  m->n_ds--;
  return API_SVC_OK;
}

/* ---- models ------------------------------------------------------------ */

static inline api_svc_status
mem_model_put(void *ctx, const char *id, const char *dataset_id,
              const char *spec_json, const char *result_json, bool *created) {
  mem_svc *m = ctx;
  api_svc_status f = mem_fault(m);
  *created = false;
  if (f != API_SVC_OK) return f;
  if (id == NULL || result_json == NULL) return API_SVC_ERROR;
  mem_model *mm = mem_find_model(m, id);
  if (mm != NULL) {
    bool same =
        strcmp(mm->dataset_id ? mm->dataset_id : "",
               dataset_id ? dataset_id : "") == 0 &&
        strcmp(mm->spec ? mm->spec : "", spec_json ? spec_json : "") == 0;
    return same ? API_SVC_OK : API_SVC_CONFLICT;
  }
  if (!mem_grow((void **)&m->models, &m->cap_models, m->n_models,
                sizeof *m->models))
    return API_SVC_ERROR;
  m->models[m->n_models++] = (mem_model){.id = mem_strdup(id),
                                         .dataset_id = mem_strdup(dataset_id),
                                         .spec = mem_strdup(spec_json),
                                         .result = mem_strdup(result_json),
                                         .seq = ++m->seq};
  *created = true;
  return API_SVC_OK;
}

static inline api_svc_status
mem_model_resolve(void *ctx, const char *id_or_alias, char **id_out) {
  mem_svc *m = ctx;
  api_svc_status f = mem_fault(m);
  *id_out = NULL;
  if (f != API_SVC_OK) return f;
  mem_alias *a = mem_find_alias(m, id_or_alias);
  const char *id = a ? a->model_id : id_or_alias;
  if (mem_find_model(m, id) == NULL) return API_SVC_NOT_FOUND;
  *id_out = mem_strdup(id);
  return *id_out ? API_SVC_OK : API_SVC_ERROR;
}

static inline api_svc_status mem_model_acquire(void *ctx, const char *id,
                                               const api_model_view **view,
                                               void **handle) {
  mem_svc *m = ctx;
  api_svc_status f = mem_fault(m);
  *view = NULL;
  *handle = NULL;
  if (f != API_SVC_OK) return f;
  mem_model *mm = mem_find_model(m, id);
  if (mm == NULL) return API_SVC_NOT_FOUND;
  const api_model_view *v = NULL;
  if (m->view_build != NULL) {
    v = m->view_build(mm->result, m->view_ctx);
  } else {
    api_model_view *built = NULL;
    char err[256];
    if (api_model_view_build(mm->result, strlen(mm->result), &built, err,
                             sizeof err) == 0)
      v = built;
  }
  if (v == NULL) return API_SVC_ERROR;
  *view = v;
  *handle = (void *)v;
  m->acquired++;
  return API_SVC_OK;
}

static inline void mem_model_release(void *ctx, void *handle) {
  mem_svc *m = ctx;
  if (handle == NULL) return;
  if (m->view_build != NULL) {
    if (m->view_free) m->view_free((const api_model_view *)handle, m->view_ctx);
  } else {
    api_model_view_free((api_model_view *)handle);
  }
  m->released++;
}

static inline char *mem_model_item(mem_svc *m, size_t i) {
  return mem_with_created(m->models[i].result, m->models[i].seq);
}

static inline api_svc_status mem_model_list(void *ctx, const char *after,
                                            size_t limit, char **items_json,
                                            char **next) {
  mem_svc *m = ctx;
  api_svc_status f = mem_fault(m);
  *items_json = NULL;
  *next = NULL;
  if (f != API_SVC_OK) return f;
  unsigned long *seqs = malloc((m->n_models ? m->n_models : 1) * sizeof *seqs);
  if (seqs == NULL) return API_SVC_ERROR;
  for (size_t i = 0; i < m->n_models; i++)
    seqs[i] = m->models[i].seq;
  api_svc_status st = mem_page(m->n_models, seqs, after, limit, mem_model_item,
                               m, items_json, next);
  free(seqs);
  return st;
}

static inline api_svc_status mem_model_delete(void *ctx, const char *id) {
  mem_svc *m = ctx;
  api_svc_status f = mem_fault(m);
  if (f != API_SVC_OK) return f;
  mem_model *mm = mem_find_model(m, id);
  if (mm == NULL) return API_SVC_NOT_FOUND;
  for (size_t i = 0; i < m->n_aliases; i++)
    if (strcmp(m->aliases[i].model_id, id) == 0) return API_SVC_CONFLICT;
  free(mm->id);
  free(mm->dataset_id);
  free(mm->spec);
  free(mm->result);
  size_t i = (size_t)(mm - m->models);
  memmove(&m->models[i], &m->models[i + 1],
          (m->n_models - i - 1) * sizeof *m->models);
  m->n_models--;
  return API_SVC_OK;
}

/* ---- aliases ----------------------------------------------------------- */

static inline api_svc_status mem_alias_put(void *ctx, const char *name,
                                           const char *model_id,
                                           char **previous) {
  mem_svc *m = ctx;
  api_svc_status f = mem_fault(m);
  if (previous) *previous = NULL;
  if (f != API_SVC_OK) return f;
  if (mem_find_model(m, model_id) == NULL) return API_SVC_NOT_FOUND;
  mem_alias *a = mem_find_alias(m, name);
  if (a != NULL) {
    char *id = mem_strdup(model_id);
    if (id == NULL) return API_SVC_ERROR;
    if (previous)
      *previous = a->model_id;
    else
      free(a->model_id);
    a->model_id = id;
    return API_SVC_OK;
  }
  if (!mem_grow((void **)&m->aliases, &m->cap_aliases, m->n_aliases,
                sizeof *m->aliases))
    return API_SVC_ERROR;
  m->aliases[m->n_aliases++] =
      (mem_alias){.name = mem_strdup(name), .model_id = mem_strdup(model_id)};
  return API_SVC_OK;
}

static inline int mem_alias_cmp(const void *a, const void *b) {
  return strcmp(((const mem_alias *)a)->name, ((const mem_alias *)b)->name);
}

/* [{"name", "model_id"}, ...] ordered by name. */
static inline api_svc_status mem_alias_list(void *ctx, char **items_json) {
  mem_svc *m = ctx;
  api_svc_status f = mem_fault(m);
  *items_json = NULL;
  if (f != API_SVC_OK) return f;
  if (m->n_aliases > 1)
    qsort(m->aliases, m->n_aliases, sizeof *m->aliases, mem_alias_cmp);
  json_t *arr = json_array();
  for (size_t i = 0; i < m->n_aliases; i++)
    json_array_append_new(arr,
                          json_pack("{s:s, s:s}", "name", m->aliases[i].name,
                                    "model_id", m->aliases[i].model_id));
  *items_json = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  return *items_json ? API_SVC_OK : API_SVC_ERROR;
}

/* ---- life cycle -------------------------------------------------------- */

static inline void mem_svc_init(mem_svc *m) {
  memset(m, 0, sizeof *m);
  m->table = (api_service){.ctx = m,
                           .dataset_put = mem_dataset_put,
                           .dataset_get = mem_dataset_get,
                           .dataset_list = mem_dataset_list,
                           .dataset_delete = mem_dataset_delete,
                           .model_put = mem_model_put,
                           .model_resolve = mem_model_resolve,
                           .model_acquire = mem_model_acquire,
                           .model_release = mem_model_release,
                           .model_list = mem_model_list,
                           .model_delete = mem_model_delete,
                           .alias_put = mem_alias_put,
                           .alias_list = mem_alias_list};
}

static inline void mem_svc_free(mem_svc *m) {
  for (size_t i = 0; i < m->n_ds; i++) {
    free(m->ds[i].id);
    free(m->ds[i].name);
    free(m->ds[i].summary);
    free(m->ds[i].content);
  }
  for (size_t i = 0; i < m->n_models; i++) {
    free(m->models[i].id);
    free(m->models[i].dataset_id);
    free(m->models[i].spec);
    free(m->models[i].result);
  }
  for (size_t i = 0; i < m->n_aliases; i++) {
    free(m->aliases[i].name);
    free(m->aliases[i].model_id);
  }
  free(m->ds);
  free(m->models);
  free(m->aliases);
  memset(m, 0, sizeof *m);
}

#endif
