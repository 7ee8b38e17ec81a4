/* Installing the embedded default (see api_default_install.h). */
#include "api_default_install.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_default.h"
#include "api_models.h"
#include "api_service.h"

/* Calls a handler in-process with a JSON body and parses its answer.
 * Returns the answer (owned) when the status is 200 or 201, else NULL with
 * the problem's detail in err. */
static json_t *call(const api_env *env, const char *path, json_t *body,
                    const json_t *annotations, char *err, size_t errlen) {
  char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(17));
  if (text == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  api_request req = {.method = "POST",
                     .path = path,
                     .content_type = "application/json",
                     .body = text,
                     .body_len = strlen(text),
                     .env = env};
  api_response res = {0};
  if (strcmp(path, "/v1/datasets") == 0)
    api_post_datasets(&req, &res);
  else
    api_models_post_annotated(&req, &res, annotations);
  free(text);
  json_error_t jerr;
  json_t *answer =
      res.body ? json_loadb(res.body, res.body_len, 0, &jerr) : NULL;
  if (res.status != 200 && res.status != 201) {
    const char *detail = json_string_value(json_object_get(answer, "detail"));
    json_t *first = json_array_get(json_object_get(answer, "errors"), 0);
    snprintf(err, errlen, "%s answered %d: %s %s", path, res.status,
             detail ? detail : "(no detail)",
             first ? json_string_value(json_object_get(first, "detail")) : "");
    json_decref(answer);
    answer = NULL;
  } else if (answer == NULL) {
    snprintf(err, errlen, "%s answered something that is not JSON", path);
  }
  api_response_free(&res);
  return answer;
}

int api_default_install(const api_env *env, char model_id[API_MODEL_ID_LEN + 1],
                        char *err, size_t errlen) {
  model_id[0] = '\0';
  api_default *d = NULL;
  char why[512];
  if (api_default_build(&d, why, sizeof why) != 0) {
    snprintf(err, errlen, "the default cannot be built: %s", why);
    return -1;
  }
  int rc = api_default_install_built(env, d, model_id, NULL, NULL, err, errlen);
  api_default_free(d);
  return rc;
}

int api_default_install_built(const api_env *env, const api_default *d,
                              char model_id[API_MODEL_ID_LEN + 1],
                              char **previous_out,
                              char dataset_id[API_DATASET_ID_LEN + 1],
                              char *err, size_t errlen) {
  model_id[0] = '\0';
  if (previous_out) *previous_out = NULL;
  if (dataset_id) dataset_id[0] = '\0';
  const api_service *svc = env->service;
  if (svc == NULL) {
    snprintf(err, errlen, "no store is configured");
    return -1;
  }
  int rc = -1;
  json_t *ds = NULL, *model = NULL, *req = NULL, *notes = NULL;
  req = json_pack("{s:s, s:O}", "name", API_DEFAULT_NAME, "rows",
                  json_object_get(d->data, "rows"));
  ds = req ? call(env, "/v1/datasets", req, NULL, err, errlen) : NULL;
  json_decref(req);
  req = NULL;
  const char *ds_id = json_string_value(json_object_get(ds, "id"));
  if (ds_id == NULL) goto cleanup;
  if (dataset_id) snprintf(dataset_id, API_DATASET_ID_LEN + 1, "%s", ds_id);
  /* The paper reports OLS with classical standard errors; K in levels with
   * Duan's smearing is the service's default potential. */
  req = json_pack("{s:s, s:s, s:s, s:s}", "dataset_id", ds_id, "formula",
                  d->formula, "estimator", "ols", "vcov", "classical");
  notes = json_pack("{s:{s:s, s:s, s:O, s:O, s:O}, s:O}", "default", "name",
                    API_DEFAULT_NAME, "full_formula", d->full_formula,
                    "excluded", d->excluded, "filled", d->filled, "cbec",
                    d->cbec, "warnings", d->warnings);
  if (req == NULL || notes == NULL) {
    snprintf(err, errlen, "out of memory");
    goto cleanup;
  }
  model = call(env, "/v1/models", req, notes, err, errlen);
  const char *id = json_string_value(json_object_get(model, "id"));
  if (id == NULL || strlen(id) != API_MODEL_ID_LEN) goto cleanup;
  char *previous = NULL;
  api_svc_status st =
      svc->alias_put(svc->ctx, API_DEFAULT_ALIAS, id, &previous);
  if (previous_out)
    *previous_out = previous;
  else
    free(previous);
  if (st != API_SVC_OK) {
    snprintf(err, errlen, "the alias '%s' cannot be stored", API_DEFAULT_ALIAS);
    goto cleanup;
  }
  memcpy(model_id, id, API_MODEL_ID_LEN + 1);
  rc = 0;
cleanup:
  json_decref(req);
  json_decref(notes);
  json_decref(ds);
  json_decref(model);
  return rc;
}
