/* Shared helpers of the stored-resource handlers (see api_svc.h). */
#include "api_svc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *api_query(const api_request *req, const char *key) {
  return req->query ? req->query(req->query_ctx, key) : NULL;
}

const api_service *api_svc_get(const api_request *req, api_response *res) {
  const api_service *svc = req->env ? req->env->service : NULL;
  if (svc != NULL) return svc;
  api_errors errs = {0};
  api_errors_add(&errs, "", "no store is configured");
  api_problem(res, API_E_UNAVAILABLE, &errs,
              "Stored resources are not available on this server.");
  return NULL;
}

void api_svc_problem(api_response *res, api_svc_status st, const char *pointer,
                     const char *what) {
  api_errors errs = {0};
  switch (st) {
  case API_SVC_NOT_FOUND:
    api_errors_add(&errs, pointer, "%s was not found", what);
    api_problem(res, API_E_NOT_FOUND, &errs, "%s was not found.", what);
    return;
  case API_SVC_BUSY:
    api_errors_add(&errs, "", "the store is busy");
    api_problem(res, API_E_BUSY, &errs, "The store is busy; retry shortly.");
    api_response_header(res, "Retry-After", "1");
    return;
  case API_SVC_CONFLICT:
    api_errors_add(&errs, pointer, "%s conflicts with the stored state", what);
    api_problem(res, API_E_CONFLICT, &errs,
                "%s conflicts with the stored state.", what);
    return;
  case API_SVC_OK:
  case API_SVC_ERROR: break;
  }
  api_errors_add(&errs, "", "the store failed");
  api_problem(res, API_E_INTERNAL, &errs, "The store failed while reading %s.",
              what);
}

bool api_model_open(const api_request *req, api_response *res,
                    const char *id_or_alias, const char *pointer,
                    api_model_ref *ref) {
  *ref = (api_model_ref){0};
  const api_service *svc = api_svc_get(req, res);
  if (svc == NULL) return false;
  char what[200];
  snprintf(what, sizeof what, "The model or alias '%.128s'", id_or_alias);
  char *id = NULL;
  api_svc_status st = svc->model_resolve(svc->ctx, id_or_alias, &id);
  if (st == API_SVC_OK)
    st = svc->model_acquire(svc->ctx, id, &ref->view, &ref->handle);
  free(id);
  if (st != API_SVC_OK) {
    api_svc_problem(res, st, pointer, what);
    return false;
  }
  ref->svc = svc;
  return true;
}

void api_model_close(api_model_ref *ref) {
  if (ref->svc != NULL && ref->handle != NULL)
    ref->svc->model_release(ref->svc->ctx, ref->handle);
  *ref = (api_model_ref){0};
}

bool api_query_int(const api_request *req, api_response *res, const char *key,
                   long long min, long long max, long long def,
                   long long *out) {
  const char *s = api_query(req, key);
  *out = def;
  if (s == NULL) return true;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  bool digits = s[0] != '\0' && s[0] != ' ' && s[0] != '+' && s[0] != '\t';
  if (digits && end != s && *end == '\0' && errno == 0 && v >= min &&
      v <= max) {
    *out = v;
    return true;
  }
  char pointer[96];
  snprintf(pointer, sizeof pointer, "/query/%.64s", key);
  api_errors errs = {0};
  api_errors_add(&errs, pointer, "must be an integer from %lld to %lld", min,
                 max);
  api_problem(res, API_E_BAD_QUERY, &errs, "The query parameter %s is invalid.",
              key);
  return false;
}
