/* CORS decisions: which request origins get Access-Control-* headers. */
#ifndef GRAVITAS_SRV_CORS_H
#define GRAVITAS_SRV_CORS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct srv_cors {
  bool any;             /* "*" configured */
  char *const *origins; /* borrowed from the configuration */
  size_t n_origins;
} srv_cors;

/* Max-Age of a preflight answer, in seconds. */
#define SRV_CORS_MAX_AGE "600"
/* Request headers a browser may send (preflight answer): the body's type,
 * the write key, and the validator of a conditional GET (a page that keeps
 * its own copy of an immutable resource revalidates it with its ETag). */
#define SRV_CORS_ALLOW_HEADERS "Content-Type, Authorization, If-None-Match"
/* Response headers scripts may read. */
#define SRV_CORS_EXPOSE_HEADERS "ETag, Location, Retry-After, Server-Timing"

/* True when CORS is configured at all ("*" or any origin). Every answer then
 * carries "Vary: Origin", allowed or not: the same URL answers with or
 * without Access-Control-Allow-Origin depending on the request's Origin, so
 * a shared cache must not hand one origin's answer to another. */
bool srv_cors_enabled(const srv_cors *c);

/* True when origin (the request's Origin header, NULL when absent) may read
 * the response: it is non-empty and either "*" is configured or it equals
 * (byte for byte, as browsers serialise origins) a configured origin. An
 * absent Origin is never allowed: same-origin and non-browser clients need
 * no CORS headers. */
bool srv_cors_allowed(const srv_cors *c, const char *origin);

#endif
