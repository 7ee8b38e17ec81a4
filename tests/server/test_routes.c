/* Route matching: exact paths, {param} captures, 404 and 405 with the
 * Allow list, HEAD served by GET, and the service's own table. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
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
  cr_assert_eq(srv_route_match(t, n, "GET", "/v1/pca", &m), SRV_MATCH_METHOD);
  cr_assert_str_eq(m.allow, "POST, OPTIONS");
  cr_assert_eq(srv_route_match(t, n, "GET", "/v1/models", &m), SRV_MATCH_OK);
  cr_assert_eq(m.route->api, api_get_models);
  cr_assert_eq(srv_route_match(t, n, "PATCH", "/v1/models/m_1", &m),
               SRV_MATCH_METHOD);
  cr_assert_str_eq(m.allow, "GET, HEAD, DELETE, OPTIONS");
  cr_assert_eq(
      srv_route_match(t, n, "GET", "/v1/models/default/potentials", &m),
      SRV_MATCH_OK);
  cr_assert_eq(m.n_params, 1u);
  cr_assert_str_eq(m.params[0], "default");
  cr_assert_eq(srv_route_match(t, n, "POST", "/v1/datasets", &m), SRV_MATCH_OK);
  cr_assert(m.route->flags & SRV_ROUTE_BODY_CSV);
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

/* The contract and the table agree: every route is documented with its
 * method, and every documented path and method is routed. openapi.yaml is
 * read line by line: paths are two-space keys under "paths:", methods are
 * four-space keys below them. */
Test(routes, table_matches_openapi) {
  static const char *const docs[] = {GRAVITAS_SOURCE_DIR "/openapi.yaml"};
  size_t n;
  const srv_route *t = srv_routes_table(&n);
  bool documented[64] = {false};
  cr_assert_lt(n, 64u);
  size_t operations = 0;
  for (size_t doc = 0; doc < sizeof docs / sizeof docs[0]; doc++) {
    FILE *f = fopen(docs[doc], "r");
    if (doc > 0 && f == NULL) break;
    cr_assert_not_null(f, "openapi.yaml is missing");
    char line[1024], path[512] = "";
    bool in_paths = false;
    while (fgets(line, sizeof line, f)) {
      if (strncmp(line, "paths:", 6) == 0) {
        in_paths = true;
        continue;
      }
      if (!in_paths) continue;
      if (line[0] != ' ' && line[0] != '\n' && line[0] != '#') break;
      if (strncmp(line, "  /", 3) == 0) {
        char *colon = strrchr(line, ':');
        cr_assert_not_null(colon);
        snprintf(path, sizeof path, "%.*s", (int)(colon - line - 2), line + 2);
        continue;
      }
      static const char *const methods[] = {"get", "post", "put", "delete",
                                            "patch"};
      for (size_t k = 0; k < 5; k++) {
        char key[32];
        snprintf(key, sizeof key, "    %s:", methods[k]);
        if (strncmp(line, key, strlen(key)) != 0) continue;
        char upper[16];
        size_t len = strlen(methods[k]);
        for (size_t c = 0; c <= len; c++)
          upper[c] = (char)(methods[k][c] >= 'a' && methods[k][c] <= 'z'
                                ? methods[k][c] - 32
                                : methods[k][c]);
        bool found = false;
        for (size_t i = 0; i < n; i++)
          if (strcmp(t[i].pattern, path) == 0 &&
              strcmp(t[i].method, upper) == 0) {
            documented[i] = found = true;
          }
        cr_expect(found, "%s %s is in openapi.yaml but not routed", upper,
                  path);
        operations++;
      }
    }
    fclose(f);
  }
  cr_assert_gt(operations, 0u, "no operations found in openapi.yaml");
  for (size_t i = 0; i < n; i++)
    cr_expect(documented[i], "%s %s is routed but not in openapi.yaml",
              t[i].method, t[i].pattern);
}

Test(routes, every_write_method_is_flagged) {
  size_t n;
  const srv_route *t = srv_routes_table(&n);
  for (size_t i = 0; i < n; i++) {
    bool write = strcmp(t[i].method, "GET") != 0;
    cr_expect_eq((t[i].flags & SRV_ROUTE_IS_WRITE) != 0, write, "%s %s",
                 t[i].method, t[i].pattern);
  }
}
