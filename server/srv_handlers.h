/* Handlers that belong to server/ itself: liveness, readiness, metrics and
 * the OpenAPI document. Each writes exactly one response in every case. */
#ifndef GRAVITAS_SRV_HANDLERS_H
#define GRAVITAS_SRV_HANDLERS_H

#include "srv_routes.h"

/* Writes a problem answer for a fault server/ detects itself. The contract
 * gives every problem an errors list: when whole_body is true it holds one
 * entry {pointer "", detail} (the request body as a whole is at fault, as
 * for 413 and 415), otherwise it is empty. */
void srv_problem(api_response *res, api_error_code code, bool whole_body,
                 const char *detail);

/* 200 {"status":"ok"}: the process answers. */
void srv_handle_healthz(srv_http *srv, const api_request *req,
                        api_response *res);

/* 200 {"status":"ready","checks":{...}} when every readiness check passes,
 * else a 503 "unavailable" problem listing the failing checks. */
void srv_handle_readyz(srv_http *srv, const api_request *req,
                       api_response *res);

/* 200 Prometheus text, or a 500 problem when it cannot be rendered. */
void srv_handle_metrics(srv_http *srv, const api_request *req,
                        api_response *res);

/* 200 application/yaml with the configured OpenAPI file, a 404 problem when
 * it is missing or unreadable, or a 500 problem when out of memory. */
void srv_handle_openapi(srv_http *srv, const api_request *req,
                        api_response *res);

#endif
