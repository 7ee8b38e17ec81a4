/* The boundary between server/ (HTTP) and api/ (JSON): a request goes in, a
 * response comes out; api/ never sees libmicrohttpd. Each resource lives in
 * its own api_<resource>.c; server/ owns the one route table. */
#ifndef GRAVITAS_API_H
#define GRAVITAS_API_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Every limit the API enforces on input; server/ fills it from configuration.
 */
typedef struct api_limits {
  size_t max_body_bytes;  /* request body (server/ enforces it, 413) */
  size_t max_rows;        /* rows in a dataset (422 problem "too-many-rows") */
  size_t max_columns;     /* variables in a dataset */
  size_t max_formula_len; /* bytes of formula text */
  size_t max_json_depth;  /* nesting depth of a JSON body */
} api_limits;

/* Defaults: 32 MiB, 1,000,000 rows, 256 columns, 2,048 bytes, depth 32. */
void api_limits_default(api_limits *l);

/* Service-wide context handlers may read. server/ owns it; handlers must
 * treat it as read-only (it is shared between threads). */
typedef struct api_env {
  api_limits limits;
  const char *version; /* e.g. "0.1.0" */
  const char *build;   /* e.g. git describe or build date */
  unsigned threads;    /* HTTP worker threads */
  void *service;       /* server/'s own state (store, cache), opaque here */
} api_env;

typedef struct api_request {
  const char *method;    /* "GET", "POST", ... */
  const char *path;      /* URL path without the query string */
  const char *params[4]; /* path parameters captured by the route, in order */
  size_t n_params;
  const char *content_type;  /* Content-Type value or NULL */
  const char *if_none_match; /* If-None-Match value or NULL */
  const char *body; /* the whole body, not NUL-terminated; may be NULL */
  size_t body_len;
  /* Query parameter lookup: the value of key, or NULL when absent. */
  const char *(*query)(const void *ctx, const char *key);
  const void *query_ctx;
  const api_env *env;
} api_request;

#define API_MAX_HEADERS 8

typedef struct api_header {
  char *name;  /* owned */
  char *value; /* owned */
} api_header;

typedef struct api_response {
  int status;               /* 0 until a handler sets it */
  const char *content_type; /* static string */
  char *body;               /* owned (malloc), may be NULL */
  size_t body_len;
  api_header headers[API_MAX_HEADERS]; /* extra headers: ETag, Location, ... */
  size_t n_headers;
} api_response;

typedef void (*api_handler_fn)(const api_request *req, api_response *res);

/* One-time process setup, before any thread starts: switches GSL's
 * aborting error handler off and seeds Jansson's hash function. */
void api_global_init(void);

/* Frees everything the response owns and zeroes it. NULL is a no-op. */
void api_response_free(api_response *res);

/* The stages of a write, for a Server-Timing header (W3C Server Timing):
 * api_timing_start, then api_timing_mark at the end of each stage reached
 * (name: a static string), then api_timing_header. */
#define API_TIMING_MAX 8
typedef struct api_timing {
  double start;               /* monotonic milliseconds */
  double end[API_TIMING_MAX]; /* the end of each stage marked */
  const char *name[API_TIMING_MAX];
  size_t n;
} api_timing;

void api_timing_start(api_timing *t);

/* Ends the stage called name (beyond API_TIMING_MAX stages, nothing).
 * Returns true, to sit in a chain of steps. */
bool api_timing_mark(api_timing *t, const char *name);

/* On a 2xx answer, adds "Server-Timing: <stage>;dur=<ms>, ...,
 * total;dur=<ms>": each stage marked, with its own duration, and the time
 * since api_timing_start. Other answers get nothing. */
void api_timing_header(const api_timing *t, api_response *res);

/* Adds an extra header (copied). Returns false when full or out of memory. */
bool api_response_header(api_response *res, const char *name,
                         const char *value);

/* Sets status and a JSON body (application/json). Steals body (decrefs it
 * even on failure). Reals are written with 17 significant digits. On
 * allocation failure the response becomes a 500 problem. */
void api_response_json(api_response *res, int status, json_t *body);

/* True when an If-None-Match header value (may be NULL) matches etag (a
 * quoted entity tag such as "\"ds_...\""): "*", or a comma list holding
 * etag, weak (W/) forms included (RFC 9110 section 13.1.2 uses the weak
 * comparison for If-None-Match). */
bool api_etag_matches(const char *if_none_match, const char *etag);

/* Sets a raw body with the given static content type (copied). */
void api_response_raw(api_response *res, int status, const char *content_type,
                      const char *body, size_t len);
/* api_response_raw without the copy: body (malloc'd, NUL-terminated at len)
 * is taken over. */
void api_response_take(api_response *res, int status, const char *content_type,
                       char *body, size_t len);

/* The one error table: code, HTTP status, stable slug, title. */
#define API_ERRORS(X)                                                          \
  X(API_E_MALFORMED_JSON, 400, "malformed-json", "The body is not valid JSON") \
  X(API_E_MALFORMED_CSV, 400, "malformed-csv", "The body is not valid CSV")    \
  X(API_E_BAD_QUERY, 400, "bad-query", "A query parameter is invalid")         \
  X(API_E_UNAUTHORIZED, 401, "unauthorized", "Authentication is required")     \
  X(API_E_FORBIDDEN, 403, "forbidden", "The credentials are not accepted")     \
  X(API_E_NOT_FOUND, 404, "not-found", "No such resource")                     \
  X(API_E_METHOD, 405, "method-not-allowed", "Method not allowed")             \
  X(API_E_NOT_MODIFIED, 304, "not-modified", "Not modified")                   \
  X(API_E_TIMEOUT, 408, "request-timeout", "The request took too long")        \
  X(API_E_CONFLICT, 409, "conflict",                                           \
    "The request conflicts with the current state")                            \
  X(API_E_TOO_LARGE, 413, "body-too-large", "The request body is too large")   \
  X(API_E_MEDIA_TYPE, 415, "unsupported-media-type",                           \
    "The Content-Type is not supported")                                       \
  X(API_E_INVALID, 422, "invalid-request",                                     \
    "The request has invalid or missing fields")                               \
  X(API_E_LIMIT, 422, "limit-exceeded", "The request exceeds a limit")         \
  X(API_E_FORMULA, 422, "formula-error", "The formula cannot be used")         \
  X(API_E_DOMAIN, 422, "domain-error",                                         \
    "A value is outside the domain of a transformation")                       \
  X(API_E_SINGULAR, 422, "singular-design",                                    \
    "The model cannot be estimated on these data")                             \
  X(API_E_NOT_SUPPORTED, 422, "not-supported",                                 \
    "The request asks for something not supported yet")                        \
  X(API_E_NO_CONVERGENCE, 422, "not-converged",                                \
    "The estimator did not converge")                                          \
  X(API_E_BUSY, 503, "busy", "The service is busy; retry later")               \
  X(API_E_UNAVAILABLE, 503, "unavailable", "The service is not ready")         \
  X(API_E_UPSTREAM, 502, "upstream-error", "An upstream service failed")       \
  X(API_E_UPSTREAM_TIMEOUT, 504, "upstream-timeout",                           \
    "An upstream service did not answer in time")                              \
  X(API_E_INTERNAL, 500, "internal-error", "Internal server error")

typedef enum api_error_code {
#define API_X_ENUM(code, status, slug, title) code,
  API_ERRORS(API_X_ENUM)
#undef API_X_ENUM
      API_E_COUNT
} api_error_code;

int api_error_status(api_error_code code);
const char *api_error_slug(api_error_code code);
const char *api_error_title(api_error_code code);

/* A list of {pointer, detail} entries for a problem body. */
typedef struct api_errors {
  json_t *list; /* JSON array, owned; NULL until the first add */
} api_errors;

/* Appends {pointer, detail}; pointer is an RFC 6901 JSON Pointer ("" for the
 * whole document). detail is printf-style. */
void api_errors_add(api_errors *e, const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
size_t api_errors_count(const api_errors *e);
void api_errors_clear(api_errors *e);

/* Writes an application/problem+json response (RFC 9457):
 * {type, title, status, detail, errors} (errors always present, maybe
 * empty). type is
 * "https://gravitas.dev/problems/<slug>". Takes ownership of errs' list
 * (errs may be NULL). detail is printf-style. */
void api_problem(api_response *res, api_error_code code, api_errors *errs,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Escapes one reference token for a JSON Pointer ("~" -> "~0", "/" -> "~1")
 * into buf (size bufsz, truncated safely). Returns buf. */
const char *api_pointer_escape(const char *token, char *buf, size_t bufsz);

/* Handlers, one file per resource (api_<resource>.c). server/ maps routes to
 * them; each writes exactly one response (status set) in every case. */
void api_get_info(const api_request *req, api_response *res); /* GET /v1 */
void api_post_models(const api_request *req,
                     api_response *res); /* POST /v1/models */
void api_post_pca(const api_request *req, api_response *res); /* POST /v1/pca */

/* Datasets (api_datasets.c). */
void api_post_datasets(const api_request *req,
                       api_response *res); /* POST /v1/datasets */
void api_get_datasets(const api_request *req,
                      api_response *res); /* GET /v1/datasets */
void api_get_dataset(const api_request *req,
                     api_response *res); /* GET /v1/datasets/{id} */
void api_delete_dataset(const api_request *req,
                        api_response *res); /* DELETE /v1/datasets/{id} */

/* Stored models (api_model_store.c). */
void api_get_models(const api_request *req,
                    api_response *res); /* GET /v1/models */
void api_get_model(const api_request *req,
                   api_response *res); /* GET /v1/models/{id} */
void api_delete_model(const api_request *req,
                      api_response *res); /* DELETE /v1/models/{id} */
void api_get_model_potentials(
    const api_request *req,
    api_response *res); /* GET /v1/models/{id}/potentials */
void api_post_model_predict(
    const api_request *req,
    api_response *res); /* POST /v1/models/{id}/predict */

/* Aliases (api_aliases.c) and the potential fast path (api_potential.c). */
void api_put_alias(const api_request *req,
                   api_response *res); /* PUT /v1/aliases/{name} */
void api_get_aliases(const api_request *req,
                     api_response *res); /* GET /v1/aliases */
void api_get_potential(const api_request *req,
                       api_response *res); /* GET /v1/potential */

/* World Bank indicators (api_indicators.c). */
void api_post_indicators_fetch(
    const api_request *req, api_response *res); /* POST /v1/indicators/fetch */
void api_post_datasets_from_worldbank(
    const api_request *req,
    api_response *res); /* POST /v1/datasets/from-worldbank */
void api_post_indicators_refresh(
    const api_request *req,
    api_response *res); /* POST /v1/indicators/refresh */

#endif
