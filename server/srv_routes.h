/* The one route table of the service and the matcher that maps a method
 * and path to a route, a 404 or a 405 (with the Allow list). */
#ifndef GRAVITAS_SRV_ROUTES_H
#define GRAVITAS_SRV_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"

typedef struct srv_http srv_http;

/* A handler that belongs to server/ itself (health, metrics, the contract):
 * it may look at the running server. Writes exactly one response. */
typedef void (*srv_local_fn)(srv_http *srv, const api_request *req,
                             api_response *res);

enum srv_route_flags {
  SRV_ROUTE_NEEDS_BODY = 1u << 0, /* POST/PUT with a JSON body (415 check) */
  SRV_ROUTE_IS_WRITE = 1u << 1,   /* needs a key when keys are configured */
  SRV_ROUTE_IS_FIT = 1u << 2,     /* takes a fit slot (503 busy when none) */
  SRV_ROUTE_BODY_CSV = 1u << 3,   /* text/csv is accepted besides JSON */
};

typedef struct srv_route {
  const char *method;  /* "GET", "POST", "PUT", "DELETE" */
  const char *pattern; /* "/v1/models/{id}"; also the metrics route label */
  api_handler_fn api;  /* exactly one of api and local is set */
  srv_local_fn local;
  unsigned flags; /* srv_route_flags */
} srv_route;

/* The service's routes. Returns the table and its length in *n. */
const srv_route *srv_routes_table(size_t *n);

#define SRV_MAX_PARAMS 4
#define SRV_MATCH_STORAGE 1024
#define SRV_ALLOW_LEN 96

typedef enum srv_match_result {
  SRV_MATCH_OK = 0,    /* route set, params captured */
  SRV_MATCH_NOT_FOUND, /* no pattern matches the path */
  SRV_MATCH_METHOD     /* the path exists but not for this method */
} srv_match_result;

typedef struct srv_match {
  const srv_route *route; /* the matched route (SRV_MATCH_OK only) */
  size_t path_index;      /* first route whose pattern matches the path,
                             or the table length when none does */
  const char *params[SRV_MAX_PARAMS]; /* point into storage */
  size_t n_params;
  char allow[SRV_ALLOW_LEN]; /* "GET, HEAD, OPTIONS" when the path exists */
  char storage[SRV_MATCH_STORAGE];
} srv_match;

/* Matches method and path (no query string) against table. A {name}
 * segment matches one non-empty segment; everything else matches exactly,
 * so "/v1/" and "//v1" are not "/v1". HEAD is served by GET routes. When
 * the path exists, m->allow lists its methods (GET implies HEAD; OPTIONS is
 * always listed). Returns SRV_MATCH_OK, SRV_MATCH_NOT_FOUND or
 * SRV_MATCH_METHOD (also for OPTIONS, which no route handles: the
 * dispatcher answers preflights itself). */
srv_match_result srv_route_match(const srv_route *table, size_t n,
                                 const char *method, const char *path,
                                 srv_match *m);

#endif
