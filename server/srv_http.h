/* The HTTP front end: a libmicrohttpd daemon with an internal thread pool
 * that routes requests, accumulates bodies within limits, applies CORS and
 * auth, hands requests to api/ (reads on its own threads, writes on a
 * worker pool while the connection is suspended) and logs and counts
 * every one. main and the in-process tests start and stop it the same
 * way. */
#ifndef GRAVITAS_SRV_HTTP_H
#define GRAVITAS_SRV_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "srv_config.h"

typedef struct srv_http srv_http;

/* A readiness check: returns true when ready; otherwise writes a short
 * reason (never a secret) into detail (size detail_sz). Must be thread-safe
 * and fast: /readyz runs every check on each call. */
typedef bool (*srv_ready_fn)(void *ctx, char *detail, size_t detail_sz);

#define SRV_MAX_READY_CHECKS 8

/* Starts listening on cfg's host and port with cfg's limits. cfg must
 * outlive the server. service goes into api_env.service (may be NULL).
 * Returns the running server, or NULL with a one-line reason in err. */
srv_http *srv_http_start(const srv_config *cfg, void *service, char *err,
                         size_t errsz);

/* The port actually bound (the real one when cfg asked for port 0). */
unsigned srv_http_port(const srv_http *srv);

/* The environment handed to every handler. */
const api_env *srv_http_env(const srv_http *srv);

/* The configuration the server was started with. */
const srv_config *srv_http_config(const srv_http *srv);

/* Adds a readiness check named name (a static string, shown in /readyz).
 * Returns false when SRV_MAX_READY_CHECKS are already registered. */
bool srv_http_add_ready_check(srv_http *srv, const char *name, srv_ready_fn fn,
                              void *ctx);

/* Runs every readiness check. Returns true when all pass. *checks receives
 * a new JSON object {name: "ok" | reason} (NULL when out of memory). */
bool srv_http_ready(srv_http *srv, json_t **checks);

/* Takes a fit slot without blocking. Returns true when one was free (give
 * it back with srv_http_fit_release), false when all are in use. */
bool srv_http_fit_acquire(srv_http *srv);
void srv_http_fit_release(srv_http *srv);

/* Requests between their first byte and their completion right now. */
unsigned srv_http_in_flight(const srv_http *srv);

/* Stops accepting connections, waits up to grace_ms for requests in flight
 * to complete, stops the daemon and frees everything. NULL is a no-op. */
void srv_http_stop(srv_http *srv, unsigned grace_ms);

#endif
