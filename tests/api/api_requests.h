/* Requests with path parameters, a query and If-None-Match for the handler
 * tests of the stored resources (models, aliases, the potential fast path),
 * and the answers they get: status, the raw body and its parsed JSON, and
 * the extra headers. A fixture holds an in-memory service (svc_memory.h)
 * and an env pointing at it. Everything here is static inline so that a
 * test file may use any part of it. */
#ifndef GRAVITAS_TESTS_API_REQUESTS_H
#define GRAVITAS_TESTS_API_REQUESTS_H

#include <stdlib.h>
#include <string.h>

#include "api/api_testing.h"
#include "api/svc_memory.h"

/* One query parameter; a list ends with {NULL, NULL}. */
typedef struct kv {
  const char *key, *value;
} kv;

static inline const char *kv_lookup(const void *ctx, const char *key) {
  for (const kv *q = ctx; q && q->key; q++)
    if (strcmp(q->key, key) == 0) return q->value;
  return NULL;
}

typedef struct call_in {
  const char *content_type; /* NULL: application/json */
  const char *body;         /* NULL: no body */
  size_t len;               /* 0: strlen(body) */
  const kv *query;          /* NULL: the request has no query function */
  const char *param;        /* path parameter {id} or {name}; NULL: none */
  const char *if_none_match;
} call_in;

typedef struct answer {
  int status;
  const char *content_type;
  char *body; /* the raw body (owned, NUL-terminated), NULL when none */
  size_t body_len;
  json_t *json; /* the parsed body, NULL when there is none */
  char location[160], etag[64], retry_after[16], cache_control[64];
  size_t n_headers;
} answer;

static inline answer run(api_handler_fn fn, const api_env *env,
                         const call_in *in) {
  api_request req = {
      .method = "X",
      .path = "/test",
      .content_type = in->content_type ? in->content_type : "application/json",
      .if_none_match = in->if_none_match,
      .body = in->body,
      .body_len = in->body ? (in->len ? in->len : strlen(in->body)) : 0,
      .query = in->query ? kv_lookup : NULL,
      .query_ctx = in->query,
      .env = env};
  if (in->param) {
    req.params[0] = in->param;
    req.n_params = 1;
  }
  api_response res = {0};
  fn(&req, &res);
  answer a = {.status = res.status,
              .content_type = res.content_type,
              .n_headers = res.n_headers};
  cr_assert_neq(res.status, 0, "the handler set no status");
  if (res.body != NULL) {
    json_error_t e;
    a.json = json_loadb(res.body, res.body_len, JSON_REJECT_DUPLICATES, &e);
    cr_assert_not_null(a.json, "not JSON (%s): %.300s", e.text, res.body);
    a.body = res.body; /* taken over */
    a.body_len = res.body_len;
    res.body = NULL;
  }
  for (size_t i = 0; i < res.n_headers; i++) {
    const char *n = res.headers[i].name, *v = res.headers[i].value;
    if (strcmp(n, "Location") == 0)
      snprintf(a.location, sizeof a.location, "%s", v);
    else if (strcmp(n, "ETag") == 0)
      snprintf(a.etag, sizeof a.etag, "%s", v);
    else if (strcmp(n, "Retry-After") == 0)
      snprintf(a.retry_after, sizeof a.retry_after, "%s", v);
    else if (strcmp(n, "Cache-Control") == 0)
      snprintf(a.cache_control, sizeof a.cache_control, "%s", v);
  }
  api_response_free(&res);
  return a;
}

static inline void answer_free(answer *a) {
  json_decref(a->json);
  free(a->body);
  a->json = NULL;
  a->body = NULL;
}

static inline reply as_reply(const answer *a) {
  return (reply){
      .status = a->status, .content_type = a->content_type, .json = a->json};
}

static inline void assert_status(const answer *a, int status) {
  char *d = a->json ? json_dumps(a->json, JSON_COMPACT) : NULL;
  cr_assert_eq(a->status, status, "status %d, want %d: %.800s", a->status,
               status, d ? d : "(no body)");
  free(d);
}

/* Asserts a problem answer (see assert_problem) and returns its detail at
 * pointer. */
static inline const char *assert_answer_problem(const answer *a, int status,
                                                const char *slug,
                                                const char *pointer) {
  reply r = as_reply(a);
  return assert_problem(&r, status, slug, pointer);
}

/* The top-level "detail" of a problem. */
static inline const char *problem_detail(const answer *a) {
  return json_string_value(json_object_get(a->json, "detail"));
}

static inline const char *jstr(const json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

static inline double jnum(const json_t *o, const char *key) {
  const json_t *v = json_object_get(o, key);
  cr_assert(json_is_number(v), "%s is not a number", key);
  return json_number_value(v);
}

typedef struct fixture {
  mem_svc m;
  api_env env;
} fixture;

static inline void fixture_init(fixture *f) {
  mem_svc_init(&f->m);
  f->env = test_env();
  f->env.service = &f->m.table;
}

/* Asserts every acquired model view was released, then frees the store. */
static inline void fixture_done(fixture *f) {
  cr_assert_eq(f->m.acquired, f->m.released,
               "%zu model views acquired, %zu released", f->m.acquired,
               f->m.released);
  mem_svc_free(&f->m);
}

/* Calls fn with a JSON body text (POST, PUT) and the path parameter. */
static inline answer run_body(api_handler_fn fn, fixture *f, const char *param,
                              const char *body) {
  call_in in = {.body = body, .param = param};
  return run(fn, &f->env, &in);
}

/* Calls fn with the path parameter and a query (GET, DELETE). */
static inline answer run_get(api_handler_fn fn, fixture *f, const char *param,
                             const kv *query) {
  call_in in = {.param = param, .query = query};
  return run(fn, &f->env, &in);
}

/* Stores a model answer text directly through the service table, as a
 * handler that fitted it would (spec "{}"). */
static inline void store_answer(fixture *f, const char *id,
                                const char *dataset_id, const char *text) {
  bool created = false;
  api_svc_status st = f->m.table.model_put(f->m.table.ctx, id, dataset_id, "{}",
                                           text, &created);
  cr_assert_eq(st, API_SVC_OK);
  cr_assert(created, "%s was stored already", id);
}

/* Points alias name at model id directly through the service table. */
static inline void store_alias(fixture *f, const char *name, const char *id) {
  char *previous = NULL;
  cr_assert_eq(f->m.table.alias_put(f->m.table.ctx, name, id, &previous),
               API_SVC_OK);
  free(previous);
}

#endif
