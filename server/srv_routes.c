/* The route table and matcher (see srv_routes.h). */
#include "srv_routes.h"

#include <string.h>

#include "srv_handlers.h"

static const srv_route routes[] = {
    {"GET", "/healthz", NULL, srv_handle_healthz, 0},
    {"GET", "/readyz", NULL, srv_handle_readyz, 0},
    {"GET", "/metrics", NULL, srv_handle_metrics, 0},
    {"GET", "/openapi.yaml", NULL, srv_handle_openapi, 0},
    {"GET", "/v1", api_get_info, NULL, 0},
    {"POST", "/v1/models", api_post_models, NULL,
     SRV_ROUTE_NEEDS_BODY | SRV_ROUTE_IS_WRITE | SRV_ROUTE_IS_FIT},
    {"POST", "/v1/pca", api_post_pca, NULL,
     SRV_ROUTE_NEEDS_BODY | SRV_ROUTE_IS_WRITE | SRV_ROUTE_IS_FIT},
    {"GET", "/v1/models", api_get_models, NULL, 0},
    {"GET", "/v1/models/{id}", api_get_model, NULL, 0},
    {"DELETE", "/v1/models/{id}", api_delete_model, NULL, SRV_ROUTE_IS_WRITE},
    {"GET", "/v1/models/{id}/potentials", api_get_model_potentials, NULL, 0},
    {"POST", "/v1/models/{id}/predict", api_post_model_predict, NULL,
     SRV_ROUTE_NEEDS_BODY | SRV_ROUTE_IS_WRITE | SRV_ROUTE_IS_FIT},
    {"POST", "/v1/datasets", api_post_datasets, NULL,
     SRV_ROUTE_NEEDS_BODY | SRV_ROUTE_BODY_CSV | SRV_ROUTE_IS_WRITE},
    {"GET", "/v1/datasets", api_get_datasets, NULL, 0},
    {"GET", "/v1/datasets/{id}", api_get_dataset, NULL, 0},
    {"DELETE", "/v1/datasets/{id}", api_delete_dataset, NULL,
     SRV_ROUTE_IS_WRITE},
    {"PUT", "/v1/aliases/{name}", api_put_alias, NULL,
     SRV_ROUTE_NEEDS_BODY | SRV_ROUTE_IS_WRITE},
    {"GET", "/v1/aliases", api_get_aliases, NULL, 0},
    {"GET", "/v1/potential", api_get_potential, NULL, 0},
    {"POST", "/v1/indicators/fetch", api_post_indicators_fetch, NULL,
     SRV_ROUTE_NEEDS_BODY | SRV_ROUTE_IS_WRITE},
    {"POST", "/v1/datasets/from-worldbank", api_post_datasets_from_worldbank,
     NULL, SRV_ROUTE_NEEDS_BODY | SRV_ROUTE_IS_WRITE},
    {"POST", "/v1/indicators/refresh", api_post_indicators_refresh, NULL,
     SRV_ROUTE_IS_WRITE | SRV_ROUTE_IS_FIT},
};

const srv_route *srv_routes_table(size_t *n) {
  *n = sizeof routes / sizeof routes[0];
  return routes;
}

/* Matches one pattern against path, copying captured segments into m's
 * storage (from *used on). Returns false when the path does not match or
 * the captures do not fit. */
static bool match_pattern(const char *pattern, const char *path, srv_match *m,
                          size_t *used) {
  const char *p = pattern;
  const char *s = path;
  size_t n_params = 0;
  while (*p && *s) {
    if (*p != '/' || *s != '/') return false;
    p++;
    s++;
    const char *pend = strchr(p, '/');
    size_t plen = pend ? (size_t)(pend - p) : strlen(p);
    const char *send = strchr(s, '/');
    size_t slen = send ? (size_t)(send - s) : strlen(s);
    if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
      if (slen == 0 || n_params == SRV_MAX_PARAMS) return false;
      if (*used + slen + 1 > sizeof m->storage) return false;
      memcpy(m->storage + *used, s, slen);
      m->storage[*used + slen] = '\0';
      m->params[n_params++] = m->storage + *used;
      *used += slen + 1;
    } else if (plen != slen || strncmp(p, s, plen) != 0) {
      return false;
    }
    p += plen;
    s += slen;
  }
  if (*p != '\0' || *s != '\0') return false;
  m->n_params = n_params;
  return true;
}

static void allow_add(srv_match *m, const char *method) {
  size_t len = strlen(m->allow);
  /* Each method is listed once however many routes share the path. */
  const char *hit = strstr(m->allow, method);
  while (hit != NULL) {
    size_t mlen = strlen(method);
    bool starts = hit == m->allow || hit[-1] == ' ';
    bool ends = hit[mlen] == '\0' || hit[mlen] == ',';
    if (starts && ends) return;
    hit = strstr(hit + 1, method);
  }
  size_t mlen = strlen(method);
  size_t sep = len ? 2 : 0;
  if (len + sep + mlen + 1 > sizeof m->allow) return;
  if (sep) memcpy(m->allow + len, ", ", 2);
  memcpy(m->allow + len + sep, method, mlen + 1);
}

srv_match_result srv_route_match(const srv_route *table, size_t n,
                                 const char *method, const char *path,
                                 srv_match *m) {
  m->route = NULL;
  m->path_index = n;
  m->n_params = 0;
  m->allow[0] = '\0';
  const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
  srv_match scratch;
  for (size_t i = 0; i < n; i++) {
    size_t used = 0;
    /* Captures go to scratch until the method matches too, so that a
     * same-path route for another method cannot leave stale params. */
    if (!match_pattern(table[i].pattern, path, &scratch, &used)) continue;
    if (m->path_index == n) m->path_index = i;
    allow_add(m, table[i].method);
    if (strcmp(table[i].method, "GET") == 0) allow_add(m, "HEAD");
    if (m->route == NULL && strcmp(table[i].method, want) == 0) {
      m->route = &table[i];
      memcpy(m->storage, scratch.storage, used);
      m->n_params = scratch.n_params;
      for (size_t k = 0; k < scratch.n_params; k++)
        m->params[k] = m->storage + (scratch.params[k] - scratch.storage);
    }
  }
  if (m->path_index == n) return SRV_MATCH_NOT_FOUND;
  allow_add(m, "OPTIONS");
  return m->route != NULL ? SRV_MATCH_OK : SRV_MATCH_METHOD;
}
