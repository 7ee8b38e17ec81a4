/* Helpers for the handler tests: call an api/ handler with a JSON body (no
 * HTTP), parse what it answered, and look into problem+json bodies. */
#ifndef GRAVITAS_TESTS_API_TESTING_H
#define GRAVITAS_TESTS_API_TESTING_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "api.h"

typedef struct reply {
  int status;
  const char *content_type;
  json_t *json; /* the parsed body (owned), NULL when it is not JSON */
} reply;

static inline api_env test_env(void) {
  api_env env = {.version = "0.1.0", .build = "test-build", .threads = 2};
  api_limits_default(&env.limits);
  return env;
}

/* Calls fn with body (len bytes) under env; parses the answer. */
static inline reply call_env(api_handler_fn fn, const api_env *env,
                             const char *body, size_t len) {
  api_request req = {.method = "POST",
                     .path = "/test",
                     .content_type = "application/json",
                     .body = body,
                     .body_len = len,
                     .env = env};
  api_response res = {0};
  fn(&req, &res);
  reply r = {.status = res.status, .content_type = res.content_type};
  cr_assert_neq(res.status, 0, "the handler set no status");
  cr_assert_not_null(res.body, "the handler wrote no body");
  json_error_t e;
  r.json = json_loadb(res.body, res.body_len, JSON_REJECT_DUPLICATES, &e);
  cr_assert_not_null(r.json, "answer is not JSON (%s): %.300s", e.text,
                     res.body);
  api_response_free(&res);
  return r;
}

static inline reply call(api_handler_fn fn, const char *body) {
  api_env env = test_env();
  return call_env(fn, &env, body, body ? strlen(body) : 0);
}

/* Calls fn with a JSON document (stolen). */
static inline reply call_json(api_handler_fn fn, json_t *doc) {
  char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(doc);
  cr_assert_not_null(text);
  reply r = call(fn, text);
  free(text);
  return r;
}

static inline void reply_free(reply *r) {
  json_decref(r->json);
  r->json = NULL;
}

/* The slug of a problem's type ("" when not a problem). */
static inline const char *problem_slug(const reply *r) {
  const char *t = json_string_value(json_object_get(r->json, "type"));
  const char *s = t ? strrchr(t, '/') : NULL;
  return s ? s + 1 : "";
}

/* The detail of the first error with this pointer, or NULL. */
static inline const char *error_at(const reply *r, const char *pointer) {
  json_t *errs = json_object_get(r->json, "errors");
  size_t i;
  json_t *e;
  json_array_foreach(errs, i, e) {
    if (strcmp(json_string_value(json_object_get(e, "pointer")), pointer) == 0)
      return json_string_value(json_object_get(e, "detail"));
  }
  return NULL;
}

static inline size_t n_errors(const reply *r) {
  return json_array_size(json_object_get(r->json, "errors"));
}

/* Asserts a problem with this status and slug that names pointer (pointer
 * may be NULL: then only at least one error is required). Returns the
 * detail at pointer (or of the first error). */
static inline const char *assert_problem(const reply *r, int status,
                                         const char *slug,
                                         const char *pointer) {
  char *dump = json_dumps(r->json, JSON_COMPACT);
  cr_assert_eq(r->status, status, "status %d, want %d: %s", r->status, status,
               dump);
  cr_assert_str_eq(r->content_type, "application/problem+json", "%s", dump);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "status")), status);
  cr_assert_str_eq(problem_slug(r), slug, "%s", dump);
  cr_assert_gt(n_errors(r), 0, "no errors[]: %s", dump);
  const char *d = NULL;
  if (pointer != NULL) {
    d = error_at(r, pointer);
    cr_assert_not_null(d, "no error at pointer '%s': %s", pointer, dump);
  } else {
    d = json_string_value(json_object_get(
        json_array_get(json_object_get(r->json, "errors"), 0), "detail"));
  }
  free(dump);
  return d;
}

/* Significant decimal digits on which got agrees with want. */
static inline double sig_digits(double got, double want) {
  if (got == want) return 17;
  if (want == 0) return -log10(fabs(got));
  return -log10(fabs(got - want) / fabs(want));
}

#endif
