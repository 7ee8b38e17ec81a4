/* Helpers shared by the handlers that use the service table (stored
 * datasets, models, aliases, the potential fast path): the table itself or a
 * 503, one mapping of service statuses to problems, opening a model by id
 * or alias, and strict query parameters. Each helper that may answer
 * returns false after writing the problem into res. */
#ifndef GRAVITAS_API_SVC_H
#define GRAVITAS_API_SVC_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "api_model_view.h"
#include "api_service.h"
#include "api_text.h"

/* The service table of req, or NULL after answering 503 unavailable (a
 * server without a store, as in handler tests that give none). */
const api_service *api_svc_get(const api_request *req, api_response *res);

/* Writes the problem for a failed service call: NOT_FOUND 404 (detail
 * "<what> was not found", errors[] pointing at pointer), BUSY 503 with
 * Retry-After, CONFLICT 409, ERROR 500. */
void api_svc_problem(api_response *res, api_svc_status st, const char *pointer,
                     const char *what);

/* A model held open for reading. */
typedef struct api_model_ref {
  const api_service *svc;
  const api_model_view *view;
  void *handle;
} api_model_ref;

/* Resolves id_or_alias (a model id or an alias name) and acquires the
 * model's cached view into ref. Returns true, or false after answering
 * (404 naming pointer when neither a model nor an alias has this name,
 * 503/500 on storage faults). Close ref with api_model_close. */
bool api_model_open(const api_request *req, api_response *res,
                    const char *id_or_alias, const char *pointer,
                    api_model_ref *ref);
void api_model_close(api_model_ref *ref);

/* Reads the query parameter key as a decimal integer in [min, max], consumed
 * whole. Absent: *out = def and true. Malformed or out of range: false after
 * answering 400 bad-query with pointer "/query/<key>". */
bool api_query_int(const api_request *req, api_response *res, const char *key,
                   long long min, long long max, long long def, long long *out);

/* A potential row as every endpoint that lists them answers it, written as
 * text into t: {reporter, partner, year, actual, predicted, k, class, gap}
 * with null for what is missing or not finite; the bytes json_dumps
 * (JSON_COMPACT | JSON_REAL_PRECISION(17)) makes of the same object. */
void api_pot_entry_text(api_text *t, const api_pot_entry *e);

/* The query parameter key, or NULL when absent (or when the request has no
 * query function). */
const char *api_query(const api_request *req, const char *key);

#endif
