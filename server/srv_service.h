/* The api_service table (api/api_service.h) over the SQLite store and the
 * model cache: what the handlers ask of storage, answered by server/. */
#ifndef GRAVITAS_SRV_SERVICE_H
#define GRAVITAS_SRV_SERVICE_H

#include <stddef.h>

#include "api_service.h"
#include "srv_cache.h"
#include "store.h"

typedef struct srv_service srv_service;

/* Creates the service over an open store (borrowed: it must outlive the
 * service) with a model cache of cache_bytes. Returns NULL when memory runs
 * out. */
srv_service *srv_service_new(store *st, size_t cache_bytes);

/* Frees the service and its cache. Call only when no thread uses it. NULL is
 * a no-op. */
void srv_service_free(srv_service *s);

/* The table to put in api_env.service (owned by s). */
const api_service *srv_service_table(const srv_service *s);

/* The cache, for metrics. */
srv_cache *srv_service_cache(const srv_service *s);

#endif
