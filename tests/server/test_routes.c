/* Route matching: exact paths, {param} captures, 404 and 405 with the
 * Allow list, HEAD served by GET, and the service's own table. */
#include <criterion/criterion.h>

#include <string.h>

#include "server/srv_test_doubles.h"
#include "srv_routes.h"

static void h_list(const api_request *q, api_response *r) {
  (void)q;
  (void)r;
}
static void h_get(const api_request *q, api_response *r) {
  (void)q;
  (void)r;
}
static void h_del(const api_request *q, api_response *r) {
  (void)q;
  (void)r;
}
static void h_pot(const api_request *q, api_response *r) {
  (void)q;
  (void)r;
}
static void h_alias(const api_request *q, api_response *r) {
  (void)q;
  (void)r;
}

static const srv_route table[] = {
    {"GET", "/v1/models", h_list, NULL, 0},
    {"GET", "/v1/models/{id}", h_get, NULL, 0},
    {"DELETE", "/v1/models/{id}", h_del, NULL, SRV_ROUTE_IS_WRITE},
    {"GET", "/v1/models/{id}/potentials", h_pot, NULL, 0},
    {"PUT", "/v1/aliases/{name}", h_alias, NULL, SRV_ROUTE_IS_WRITE},
    {"GET", "/v1/a/{x}/b/{y}", h_pot, NULL, 0},
};
#define N (sizeof table / sizeof table[0])

static srv_match m;

Test(routes, exact_path) {
  cr_assert_eq(srv_route_match(table, N, "GET", "/v1/models", &m),
               SRV_MATCH_OK);
  cr_assert_eq(m.route, &table[0]);
  cr_assert_eq(m.n_params, 0u);
  cr_assert_eq(m.path_index, 0u);
}

Test(routes, one_param) {
  cr_assert_eq(srv_route_match(table, N, "GET", "/v1/models/m_3f9c81aa07", &m),
               SRV_MATCH_OK);
  cr_assert_eq(m.route, &table[1]);
  cr_assert_eq(m.n_params, 1u);
  cr_assert_str_eq(m.params[0], "m_3f9c81aa07");
}

Test(routes, same_path_other_method_picks_its_route) {
  cr_assert_eq(srv_route_match(table, N, "DELETE", "/v1/models/m_42", &m),
               SRV_MATCH_OK);
  cr_assert_eq(m.route, &table[2]);
  cr_assert_str_eq(m.params[0], "m_42");
  cr_assert_eq(m.path_index, 1u, "the label is the first route of the path");
  cr_assert_str_eq(m.allow, "GET, HEAD, DELETE, OPTIONS");
}

Test(routes, param_then_literal) {
  cr_assert_eq(
      srv_route_match(table, N, "GET", "/v1/models/m_7/potentials", &m),
      SRV_MATCH_OK);
  cr_assert_eq(m.route, &table[3]);
  cr_assert_str_eq(m.params[0], "m_7");
}

Test(routes, two_params) {
  cr_assert_eq(srv_route_match(table, N, "GET", "/v1/a/first/b/second", &m),
               SRV_MATCH_OK);
  cr_assert_eq(m.n_params, 2u);
  cr_assert_str_eq(m.params[0], "first");
  cr_assert_str_eq(m.params[1], "second");
}

Test(routes, unknown_paths_are_not_found) {
  static const char *const paths[] = {"/",
                                      "/v1/model",
                                      "/v1/models/",
                                      "//v1/models",
                                      "/v1/models/x/",
                                      "/v1/models//potentials",
                                      "/v1/models/x/y",
                                      "/V1/models",
                                      "",
                                      "/v1/modelsx",
                                      "/v1/aliases/"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    cr_expect_eq(srv_route_match(table, N, "GET", paths[i], &m),
                 SRV_MATCH_NOT_FOUND, "'%s' matched", paths[i]);
    cr_expect_null(m.route);
    cr_expect_eq(m.path_index, N);
    cr_expect_str_eq(m.allow, "");
  }
}

Test(routes, wrong_method_gives_allow) {
  cr_assert_eq(srv_route_match(table, N, "POST", "/v1/models/m_1", &m),
               SRV_MATCH_METHOD);
  cr_assert_null(m.route);
  cr_assert_str_eq(m.allow, "GET, HEAD, DELETE, OPTIONS");
  cr_assert_eq(srv_route_match(table, N, "GET", "/v1/aliases/default", &m),
               SRV_MATCH_METHOD);
  cr_assert_str_eq(m.allow, "PUT, OPTIONS");
}

Test(routes, head_is_served_by_get) {
  cr_assert_eq(srv_route_match(table, N, "HEAD", "/v1/models/m_9", &m),
               SRV_MATCH_OK);
  cr_assert_eq(m.route, &table[1]);
  cr_assert_eq(srv_route_match(table, N, "HEAD", "/v1/aliases/x", &m),
               SRV_MATCH_METHOD);
}

Test(routes, options_is_left_to_the_dispatcher) {
  cr_assert_eq(srv_route_match(table, N, "OPTIONS", "/v1/models", &m),
               SRV_MATCH_METHOD);
  cr_assert_str_eq(m.allow, "GET, HEAD, OPTIONS");
  cr_assert_eq(srv_route_match(table, N, "OPTIONS", "/nope", &m),
               SRV_MATCH_NOT_FOUND);
}

Test(routes, oversized_capture_does_not_match) {
  char path[SRV_MATCH_STORAGE + 64];
  memcpy(path, "/v1/models/", 11);
  memset(path + 11, 'x', SRV_MATCH_STORAGE + 10);
  path[11 + SRV_MATCH_STORAGE + 10] = '\0';
  cr_assert_eq(srv_route_match(table, N, "GET", path, &m), SRV_MATCH_NOT_FOUND);
}

Test(routes, service_table) {
  size_t n;
  const srv_route *t = srv_routes_table(&n);
  cr_assert_eq(srv_route_match(t, n, "GET", "/healthz", &m), SRV_MATCH_OK);
  cr_assert_not_null(m.route->local);
  cr_assert_eq(srv_route_match(t, n, "GET", "/v1", &m), SRV_MATCH_OK);
  cr_assert_eq(m.route->api, api_get_info);
  cr_assert_eq(srv_route_match(t, n, "POST", "/v1/models", &m), SRV_MATCH_OK);
  cr_assert_eq(m.route->api, api_post_models);
  cr_assert_eq(m.route->flags,
               SRV_ROUTE_NEEDS_BODY | SRV_ROUTE_IS_WRITE | SRV_ROUTE_IS_FIT);
  cr_assert_eq(srv_route_match(t, n, "POST", "/v1/pca", &m), SRV_MATCH_OK);
  cr_assert_eq(m.route->api, api_post_pca);
  cr_assert_eq(srv_route_match(t, n, "GET", "/v1/models", &m),
               SRV_MATCH_METHOD);
  cr_assert_str_eq(m.allow, "POST, OPTIONS");
  cr_assert_eq(srv_route_match(t, n, "DELETE", "/metrics", &m),
               SRV_MATCH_METHOD);
  cr_assert_str_eq(m.allow, "GET, HEAD, OPTIONS");
  cr_assert_eq(srv_route_match(t, n, "GET", "/v2", &m), SRV_MATCH_NOT_FOUND);
  /* Every route has exactly one handler and a path starting with '/'. */
  for (size_t i = 0; i < n; i++) {
    cr_expect((t[i].api == NULL) != (t[i].local == NULL), "%s", t[i].pattern);
    cr_expect_eq(t[i].pattern[0], '/');
    if (t[i].flags & SRV_ROUTE_NEEDS_BODY)
      cr_expect_str_neq(t[i].method, "GET");
  }
}
