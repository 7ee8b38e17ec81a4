/* Health, readiness, metrics and the OpenAPI document (see srv_handlers.h). */
#include "srv_handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv_buf.h"
#include "srv_http.h"
#include "srv_log.h"
#include "srv_metrics.h"

/* Bounds for rendered or served text: far above what they hold today, low
 * enough that a runaway file cannot exhaust memory. */
#define METRICS_MAX (4u * 1024u * 1024u)
#define OPENAPI_MAX (16u * 1024u * 1024u)

void srv_problem(api_response *res, api_error_code code, bool whole_body,
                 const char *detail) {
  api_errors errs = {.list = json_array()};
  if (whole_body) api_errors_add(&errs, "", "%s", detail);
  api_problem(res, code, &errs, "%s", detail);
}

void srv_handle_healthz(srv_http *srv, const api_request *req,
                        api_response *res) {
  (void)srv;
  (void)req;
  api_response_json(res, 200, json_pack("{s:s}", "status", "ok"));
}

void srv_handle_readyz(srv_http *srv, const api_request *req,
                       api_response *res) {
  (void)req;
  json_t *checks = NULL;
  bool ready = srv_http_ready(srv, &checks);
  if (checks == NULL) {
    srv_problem(res, API_E_INTERNAL, false, "Out of memory while checking.");
    return;
  }
  if (ready) {
    api_response_json(
        res, 200, json_pack("{s:s, s:o}", "status", "ready", "checks", checks));
    return;
  }
  api_errors errs = {.list = json_array()};
  const char *name;
  json_t *value;
  json_object_foreach(checks, name, value) {
    if (strcmp(json_string_value(value), "ok") == 0) continue;
    char token[128], pointer[160];
    snprintf(pointer, sizeof pointer, "/checks/%s",
             api_pointer_escape(name, token, sizeof token));
    api_errors_add(&errs, pointer, "%s", json_string_value(value));
  }
  json_decref(checks);
  api_problem(res, API_E_UNAVAILABLE, &errs, "%zu readiness check(s) failed.",
              api_errors_count(&errs));
}

void srv_handle_metrics(srv_http *srv, const api_request *req,
                        api_response *res) {
  (void)srv;
  (void)req;
  srv_buf text;
  srv_buf_init(&text, METRICS_MAX);
  if (!srv_metrics_render(&text)) {
    srv_buf_free(&text);
    SRV_LOG_ERROR("metrics", "cannot render the metrics text");
    srv_problem(res, API_E_INTERNAL, false, "The metrics cannot be rendered.");
    return;
  }
  free(res->body);
  res->status = 200;
  res->content_type = SRV_METRICS_CONTENT_TYPE;
  res->body_len = text.len;
  res->body = srv_buf_steal(&text);
}

void srv_handle_openapi(srv_http *srv, const api_request *req,
                        api_response *res) {
  (void)req;
  const char *path = srv_http_config(srv)->openapi_path;
  srv_buf text;
  srv_buf_init(&text, OPENAPI_MAX);
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    srv_problem(res, API_E_NOT_FOUND, false,
                "The OpenAPI document is not installed on this server.");
    return;
  }
  char chunk[16384];
  size_t got;
  srv_buf_result r = SRV_BUF_OK;
  while (r == SRV_BUF_OK && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
    r = srv_buf_append(&text, chunk, got);
  if (r == SRV_BUF_OK) r = srv_buf_append(&text, "", 0);
  bool read_error = ferror(f) != 0;
  fclose(f);
  if (r != SRV_BUF_OK || read_error) {
    srv_buf_free(&text);
    SRV_LOG_ERROR("openapi", "cannot read the OpenAPI document (%s)",
                  r == SRV_BUF_TOO_LARGE ? "larger than 16 MiB"
                  : r == SRV_BUF_NOMEM   ? "out of memory"
                                         : "read error");
    srv_problem(res, API_E_NOT_FOUND, false,
                "The OpenAPI document cannot be read on this server.");
    return;
  }
  free(res->body);
  res->status = 200;
  res->content_type = "application/yaml";
  res->body_len = text.len;
  res->body = srv_buf_steal(&text);
}
