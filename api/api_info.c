/* GET /v1: service name, version, build, capabilities and limits. */
#include "api.h"
#include "api_models.h"

void api_get_info(const api_request *req, api_response *res) {
  const api_env *env = req->env;
  api_limits def;
  api_limits_default(&def);
  const api_limits *l = env ? &env->limits : &def;
  const char *version = env && env->version ? env->version : GRAVITAS_VERSION;
  const char *build = env && env->build ? env->build : version;
  unsigned threads = env && env->threads > 0 ? env->threads : 1;
  /* The estimators, variances and potential methods come from the tables
   * POST /v1/models checks its fields with, so this list cannot go stale. */
  json_t *caps = api_models_capabilities();
  json_t *body =
      caps == NULL
          ? NULL
          : json_pack("{s:s, s:s, s:s, s:O, s:O, s:O,"
                      " s:{s:I, s:I, s:I, s:I, s:I}, s:I}",
                      "service", "gravitas", "version", version, "build", build,
                      "estimators", json_object_get(caps, "estimators"), "vcov",
                      json_object_get(caps, "vcov"), "potential_methods",
                      json_object_get(caps, "potential_methods"), "limits",
                      "max_body_bytes", (json_int_t)l->max_body_bytes,
                      "max_rows", (json_int_t)l->max_rows, "max_columns",
                      (json_int_t)l->max_columns, "max_formula_len",
                      (json_int_t)l->max_formula_len, "max_json_depth",
                      (json_int_t)l->max_json_depth, "threads",
                      (json_int_t)threads);
  json_decref(caps);
  if (body == NULL) {
    api_errors errs = {0};
    api_errors_add(&errs, "", "out of memory");
    api_problem(res, API_E_INTERNAL, &errs,
                "Out of memory while describing the service.");
    return;
  }
  api_response_json(res, 200, body);
}
