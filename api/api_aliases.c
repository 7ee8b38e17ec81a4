/* Aliases: PUT /v1/aliases/{name} points a stable name at a model id, GET
 * /v1/aliases lists them. An alias is accepted wherever a model id is. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "api_svc.h"

#define ALIAS_MAX 128

/* 1..128 characters of [A-Za-z0-9._-], not a model id (which would shadow
 * the model of that id). */
static bool valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > ALIAS_MAX) return false;
  for (const char *p = s; *p; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return strncmp(s, "m_", 2) != 0;
}

/* The updated_at of alias name in a GET /v1/aliases listing, or NULL. */
static json_t *updated_at(const api_service *svc, const char *name) {
  char *items = NULL;
  if (svc->alias_list(svc->ctx, &items) != API_SVC_OK) return NULL;
  json_error_t jerr;
  json_t *arr = json_loads(items, 0, &jerr);
  free(items);
  json_t *out = NULL;
  size_t i;
  json_t *a;
  json_array_foreach(arr, i, a) {
    const char *n = json_string_value(json_object_get(a, "name"));
    if (n != NULL && strcmp(n, name) == 0) {
      out = json_incref(json_object_get(a, "updated_at"));
      break;
    }
  }
  json_decref(arr);
  return out;
}

void api_put_alias(const api_request *req, api_response *res) {
  const char *name = req->params[0];
  api_errors errs = {0};
  if (!valid_name(name)) {
    api_errors_add(&errs, "/path/name",
                   "must be 1 to %d characters of [A-Za-z0-9._-] and not "
                   "start with \"m_\"",
                   ALIAS_MAX);
    api_problem(res, API_E_INVALID, &errs, "The alias name is invalid.");
    return;
  }
  json_t *root =
      api_json_parse_body(req, req->env ? &req->env->limits : NULL, res);
  if (root == NULL) return;
  const json_t *model_id = NULL;
  const api_field fields[] = {{.name = "model_id",
                               .type = API_F_STRING,
                               .required = true,
                               .out = &model_id}};
  if (!api_json_fields(root, "", fields, 1, &errs)) {
    api_problem(res, API_E_INVALID, &errs, "The request cannot be used.");
    json_decref(root);
    return;
  }
  const api_service *svc = api_svc_get(req, res);
  if (svc == NULL) {
    json_decref(root);
    return;
  }
  /* The target may itself be given as an alias: it is resolved once, so
   * aliases never chain. */
  char *id = NULL, *previous = NULL;
  char what[200];
  snprintf(what, sizeof what, "The model '%.128s'",
           json_string_value(model_id));
  api_svc_status st =
      svc->model_resolve(svc->ctx, json_string_value(model_id), &id);
  if (st == API_SVC_OK) st = svc->alias_put(svc->ctx, name, id, &previous);
  json_decref(root);
  if (st != API_SVC_OK) {
    api_svc_problem(res, st, "/model_id", what);
    free(id);
    return;
  }
  json_t *when = updated_at(svc, name);
  json_t *body =
      json_pack("{s:s, s:s, s:o, s:o}", "name", name, "model_id", id,
                "previous", previous ? json_string(previous) : json_null(),
                "updated_at", when ? when : json_null());
  api_response_json(res, previous ? 200 : 201, body);
  char loc[ALIAS_MAX + 16];
  snprintf(loc, sizeof loc, "/v1/aliases/%s", name);
  api_response_header(res, "Location", loc);
  free(id);
  free(previous);
}

void api_get_aliases(const api_request *req, api_response *res) {
  const api_service *svc = api_svc_get(req, res);
  if (svc == NULL) return;
  char *items = NULL;
  api_svc_status st = svc->alias_list(svc->ctx, &items);
  if (st != API_SVC_OK) {
    api_svc_problem(res, st, "", "The alias list");
    return;
  }
  json_error_t jerr;
  json_t *arr = json_loads(items, 0, &jerr);
  free(items);
  api_response_json(res, 200,
                    json_pack("{s:o}", "items", arr ? arr : json_array()));
}
