/* The front end in-process: a daemon on port 0 spoken to with libcurl.
 * These tests cover what server/ decides itself (404, 405, 413, 415, CORS,
 * auth, busy fits, health, metrics, the contract); handlers are api/'s. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "server/srv_test_doubles.h"
#include "srv_buf.h"
#include "srv_config.h"
#include "srv_http.h"
#include "srv_log.h"

static const char *no_env(void *ctx, const char *name) {
  (void)ctx;
  (void)name;
  return NULL;
}

static srv_config cfg;
static srv_http *srv;
static char data_dir[] = "/tmp/gravitas-http-XXXXXX";
static char *log_text;
static size_t log_len;
static FILE *log_sink;

#define KEY "k3y-7f3a91c2d5"

/* Starts a server with the common test settings plus extra flags. */
static void start(const char *const *extra) {
  cr_assert_not_null(mkdtemp(data_dir));
  char *argv[32] = {"gravitas",
                    "--port",
                    "0",
                    "--host",
                    "127.0.0.1",
                    "--threads",
                    "2",
                    "--data-dir",
                    data_dir,
                    "--max-body-bytes",
                    "1000",
                    "--cors-origins",
                    "https://app.example.org,http://localhost:5173"};
  int argc = 13;
  for (size_t i = 0; extra && extra[i]; i++)
    argv[argc++] = (char *)extra[i];
  argv[argc] = NULL;
  char err[512];
  cr_assert_eq(
      srv_config_parse(&cfg, argc, argv, no_env, NULL, err, sizeof err),
      SRV_CONFIG_RUN, "%s", err);
  log_sink = open_memstream(&log_text, &log_len);
  srv_log_set_stream(log_sink);
  srv = srv_http_start(&cfg, NULL, err, sizeof err);
  cr_assert_not_null(srv, "%s", err);
  cr_assert_gt(srv_http_port(srv), 0u);
}

static void stop(void) {
  srv_http_stop(srv, 2000);
  srv = NULL;
  srv_log_set_stream(NULL);
  if (log_sink) fclose(log_sink);
  log_sink = NULL;
  free(log_text);
  log_text = NULL;
  srv_config_free(&cfg);
  rmdir(data_dir);
}

static void init(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void fini(void) {
  if (srv) stop();
  curl_global_cleanup();
}

TestSuite(http, .init = init, .fini = fini, .timeout = 60);

typedef struct reply {
  long status;
  char headers[8192];
  size_t headers_len;
  srv_buf body;
} reply;

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  reply *r = ud;
  return srv_buf_append(&r->body, p, size * n) == SRV_BUF_OK ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  reply *r = ud;
  size_t len = size * n;
  if (r->headers_len + len < sizeof r->headers) {
    memcpy(r->headers + r->headers_len, p, len);
    r->headers_len += len;
    r->headers[r->headers_len] = '\0';
  }
  return len;
}

/* The value of response header name (copied into out), or NULL. */
static const char *hdr(const reply *r, const char *name, char *out,
                       size_t outsz) {
  size_t n = strlen(name);
  for (const char *line = r->headers; *line;) {
    const char *end = strstr(line, "\r\n");
    if (end == NULL) break;
    if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
      const char *v = line + n + 1;
      while (*v == ' ')
        v++;
      snprintf(out, outsz, "%.*s", (int)(end - v), v);
      return out;
    }
    line = end + 2;
  }
  return NULL;
}

/* Sends one request; headers is a NULL-terminated list or NULL; body may be
 * NULL. chunked sends the body with Transfer-Encoding: chunked. */
static void request(reply *r, const char *method, const char *path,
                    const char *const *headers, const char *body,
                    size_t body_len, bool chunked) {
  memset(r, 0, sizeof *r);
  srv_buf_init(&r->body, 1u << 24);
  CURL *c = curl_easy_init();
  cr_assert_not_null(c);
  char url[512];
  snprintf(url, sizeof url, "http://127.0.0.1:%u%s", srv_http_port(srv), path);
  struct curl_slist *list = NULL;
  for (size_t i = 0; headers && headers[i]; i++)
    list = curl_slist_append(list, headers[i]);
  if (chunked) list = curl_slist_append(list, "Transfer-Encoding: chunked");
  list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  else if (strcmp(method, "GET") != 0)
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (body != NULL) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (!chunked)
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
  }
  CURLcode rc = curl_easy_perform(c);
  cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  curl_slist_free_all(list);
  curl_easy_cleanup(c);
}

static void reply_free(reply *r) {
  srv_buf_free(&r->body);
}

/* Checks a problem+json answer: status, content type and slug. */
static void expect_problem(const reply *r, long status, const char *slug) {
  char v[256];
  cr_expect_eq(r->status, status, "status %ld, body %s", r->status,
               r->body.data ? r->body.data : "");
  cr_expect_str_eq(hdr(r, "Content-Type", v, sizeof v) ? v : "",
                   "application/problem+json");
  json_error_t e;
  json_t *j = json_loadb(r->body.data, r->body.len, 0, &e);
  cr_assert_not_null(j, "problem body is not JSON: %s", e.text);
  char type[160];
  snprintf(type, sizeof type, "https://gravitas.dev/problems/%s", slug);
  cr_expect_str_eq(json_string_value(json_object_get(j, "type")), type);
  cr_expect_eq(json_integer_value(json_object_get(j, "status")), status);
  cr_expect_not_null(json_string_value(json_object_get(j, "title")));
  cr_expect_not_null(json_string_value(json_object_get(j, "detail")));
  /* The contract gives every problem an errors list; only faults of the
   * body as a whole (413, 415) name it, with the pointer "". */
  json_t *errs = json_object_get(j, "errors");
  cr_expect(json_is_array(errs), "errors is missing");
  if (status == 413 || status == 415) {
    cr_expect_eq(json_array_size(errs), 1u);
    cr_expect_str_eq(
        json_string_value(json_object_get(json_array_get(errs, 0), "pointer")),
        "");
  } else if (status != 503 || strcmp(slug, "busy") == 0) {
    cr_expect_eq(json_array_size(errs), 0u);
  }
  json_decref(j);
}

static const char *const json_key[] = {"Content-Type: application/json",
                                       "Authorization: Bearer " KEY, NULL};

Test(http, healthz) {
  start(NULL);
  reply r;
  request(&r, "GET", "/healthz", NULL, NULL, 0, false);
  char v[128];
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(hdr(&r, "Content-Type", v, sizeof v), "application/json");
  cr_assert_str_eq(r.body.data, "{\"status\":\"ok\"}");
  reply_free(&r);
}

Test(http, head_has_headers_but_no_body) {
  start(NULL);
  reply r;
  request(&r, "HEAD", "/healthz", NULL, NULL, 0, false);
  char v[64];
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(hdr(&r, "Content-Length", v, sizeof v), "15");
  cr_assert_eq(r.body.len, 0u);
  reply_free(&r);
}

Test(http, unknown_path_is_404) {
  start(NULL);
  reply r;
  request(&r, "GET", "/v1/nothing-here?x=1", NULL, NULL, 0, false);
  expect_problem(&r, 404, "not-found");
  reply_free(&r);
  request(&r, "POST", "/nope", json_key, "{}", 2, false);
  expect_problem(&r, 404, "not-found");
  reply_free(&r);
}

Test(http, wrong_method_is_405_with_allow) {
  start(NULL);
  reply r;
  char v[128];
  request(&r, "GET", "/v1/pca", NULL, NULL, 0, false);
  expect_problem(&r, 405, "method-not-allowed");
  cr_assert_str_eq(hdr(&r, "Allow", v, sizeof v), "POST, OPTIONS");
  reply_free(&r);
  request(&r, "DELETE", "/healthz", NULL, NULL, 0, false);
  expect_problem(&r, 405, "method-not-allowed");
  cr_assert_str_eq(hdr(&r, "Allow", v, sizeof v), "GET, HEAD, OPTIONS");
  reply_free(&r);
}

Test(http, body_too_large_by_content_length) {
  const char *const extra[] = {"--api-keys", KEY, NULL};
  start(extra);
  char body[1001];
  memset(body, ' ', sizeof body);
  body[0] = '{';
  body[1000] = '}';
  reply r;
  request(&r, "POST", "/v1/models", json_key, body, 1001, false);
  expect_problem(&r, 413, "body-too-large");
  cr_expect(strstr(r.body.data, "at most 1000 bytes") != NULL, "%s",
            r.body.data);
  reply_free(&r);
}

Test(http, body_too_large_when_chunked) {
  const char *const extra[] = {"--max-concurrent-fits", "0", NULL};
  start(extra);
  char body[1500];
  memset(body, ' ', sizeof body - 1);
  body[0] = '{';
  body[sizeof body - 2] = '}';
  body[sizeof body - 1] = '\0';
  reply r;
  request(&r, "POST", "/v1/pca", json_key, body, 0, true);
  expect_problem(&r, 413, "body-too-large");
  reply_free(&r);
  /* At the limit exactly the body is accepted (and reaches the fit budget,
   * which is 0 here, so the answer is busy rather than too large). */
  body[999] = '}';
  body[1000] = '\0';
  request(&r, "POST", "/v1/pca", json_key, body, 0, true);
  expect_problem(&r, 503, "busy");
  reply_free(&r);
}

Test(http, body_must_be_json) {
  start(NULL);
  static const char *const csv[] = {"Content-Type: text/csv", NULL};
  static const char *const none[] = {"Content-Type:", NULL};
  static const char *const latin1[] = {
      "Content-Type: application/json; charset=latin1", NULL};
  static const char *const jsonx[] = {"Content-Type: application/jsonx", NULL};
  const char *const *cases[] = {csv, none, latin1, jsonx};
  for (size_t i = 0; i < 4; i++) {
    reply r;
    request(&r, "POST", "/v1/models", cases[i], "{}", 2, false);
    expect_problem(&r, 415, "unsupported-media-type");
    reply_free(&r);
  }
}

Test(http, json_with_charset_is_accepted) {
  const char *const extra[] = {"--max-concurrent-fits", "0", NULL};
  start(extra);
  static const char *const utf8[] = {
      "Content-Type: application/json; charset=utf-8", NULL};
  static const char *const upper[] = {
      "Content-Type: Application/JSON;charset=\"UTF-8\"", NULL};
  reply r;
  request(&r, "POST", "/v1/models", utf8, "{}", 2, false);
  expect_problem(&r, 503, "busy");
  reply_free(&r);
  request(&r, "POST", "/v1/models", upper, "{}", 2, false);
  expect_problem(&r, 503, "busy");
  reply_free(&r);
}

Test(http, busy_when_no_fit_slot_is_free) {
  const char *const extra[] = {"--max-concurrent-fits", "1", NULL};
  start(extra);
  cr_assert(srv_http_fit_acquire(srv), "one slot is configured");
  reply r;
  char v[32];
  request(&r, "POST", "/v1/models", json_key, "{}", 2, false);
  expect_problem(&r, 503, "busy");
  cr_assert_str_eq(hdr(&r, "Retry-After", v, sizeof v), "1");
  reply_free(&r);
  /* Reads never need a slot. */
  request(&r, "GET", "/healthz", NULL, NULL, 0, false);
  cr_assert_eq(r.status, 200);
  reply_free(&r);
  srv_http_fit_release(srv);
  request(&r, "POST", "/v1/models", json_key, "{}", 2, false);
  cr_assert_neq(r.status, 503, "the slot is free again");
  reply_free(&r);
  cr_assert(srv_http_fit_acquire(srv), "the handler gave its slot back");
  cr_assert_not(srv_http_fit_acquire(srv));
}

Test(http, cors_preflight_for_an_allowed_origin) {
  start(NULL);
  static const char *const h[] = {
      "Origin: http://localhost:5173", "Access-Control-Request-Method: POST",
      "Access-Control-Request-Headers: content-type, authorization", NULL};
  reply r;
  char v[128];
  request(&r, "OPTIONS", "/v1/pca", h, NULL, 0, false);
  cr_assert_eq(r.status, 204);
  cr_assert_str_eq(hdr(&r, "Access-Control-Allow-Origin", v, sizeof v),
                   "http://localhost:5173");
  cr_assert_str_eq(hdr(&r, "Vary", v, sizeof v), "Origin");
  cr_assert_str_eq(hdr(&r, "Access-Control-Allow-Methods", v, sizeof v),
                   "POST, OPTIONS");
  cr_assert_str_eq(hdr(&r, "Access-Control-Allow-Headers", v, sizeof v),
                   "Content-Type, Authorization, If-None-Match");
  cr_assert_str_eq(hdr(&r, "Access-Control-Max-Age", v, sizeof v), "600");
  cr_assert_eq(r.body.len, 0u);
  reply_free(&r);
}

Test(http, cors_other_origins_get_no_headers) {
  start(NULL);
  static const char *const h[] = {"Origin: https://evil.example",
                                  "Access-Control-Request-Method: POST", NULL};
  reply r;
  char v[128];
  request(&r, "OPTIONS", "/v1/pca", h, NULL, 0, false);
  cr_assert_eq(r.status, 204);
  cr_assert_null(hdr(&r, "Access-Control-Allow-Origin", v, sizeof v));
  cr_assert_null(hdr(&r, "Access-Control-Allow-Methods", v, sizeof v));
  cr_assert(strstr(r.headers, "Access-Control-") == NULL, "%s", r.headers);
  reply_free(&r);
  request(&r, "GET", "/healthz", h, NULL, 0, false);
  cr_assert(strstr(r.headers, "Access-Control-") == NULL, "%s", r.headers);
  cr_assert_null(hdr(&r, "Timing-Allow-Origin", v, sizeof v));
  /* Still "Vary: Origin": an allowed origin gets a different answer. */
  cr_assert_str_eq(hdr(&r, "Vary", v, sizeof v), "Origin");
  reply_free(&r);
  request(&r, "GET", "/healthz", NULL, NULL, 0, false);
  cr_assert(strstr(r.headers, "Access-Control-") == NULL, "%s", r.headers);
  cr_assert_str_eq(hdr(&r, "Vary", v, sizeof v), "Origin");
  reply_free(&r);
  /* An unknown path is a 404 even for a preflight. */
  request(&r, "OPTIONS", "/v1/none", h, NULL, 0, false);
  expect_problem(&r, 404, "not-found");
  reply_free(&r);
}

Test(http, cors_headers_on_ordinary_and_error_answers) {
  start(NULL);
  static const char *const h[] = {"Origin: https://app.example.org", NULL};
  reply r;
  char v[128];
  request(&r, "GET", "/healthz", h, NULL, 0, false);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(hdr(&r, "Access-Control-Allow-Origin", v, sizeof v),
                   "https://app.example.org");
  cr_assert_str_eq(hdr(&r, "Vary", v, sizeof v), "Origin");
  cr_assert_str_eq(hdr(&r, "Timing-Allow-Origin", v, sizeof v),
                   "https://app.example.org");
  cr_assert_str_eq(hdr(&r, "Access-Control-Expose-Headers", v, sizeof v),
                   "ETag, Location, Retry-After, Server-Timing");
  reply_free(&r);
  request(&r, "GET", "/nowhere", h, NULL, 0, false);
  cr_assert_eq(r.status, 404);
  cr_assert_str_eq(hdr(&r, "Access-Control-Allow-Origin", v, sizeof v),
                   "https://app.example.org");
  reply_free(&r);
}

Test(http, writes_need_a_key_reads_do_not) {
  const char *const extra[] = {"--api-keys", "other-key," KEY,
                               "--max-concurrent-fits", "0", NULL};
  start(extra);
  reply r;
  char v[128];
  static const char *const missing[] = {"Content-Type: application/json", NULL};
  request(&r, "POST", "/v1/models", missing, "{}", 2, false);
  expect_problem(&r, 401, "unauthorized");
  cr_assert_str_eq(hdr(&r, "WWW-Authenticate", v, sizeof v),
                   "Bearer realm=\"gravitas\"");
  reply_free(&r);

  static const char *const malformed[] = {"Content-Type: application/json",
                                          "Authorization: Basic " KEY, NULL};
  request(&r, "POST", "/v1/models", malformed, "{}", 2, false);
  expect_problem(&r, 401, "unauthorized");
  cr_assert_str_eq(hdr(&r, "WWW-Authenticate", v, sizeof v),
                   "Bearer realm=\"gravitas\"");
  reply_free(&r);

  static const char *const wrong[] = {"Content-Type: application/json",
                                      "Authorization: Bearer k3y-7f3a91c2d6",
                                      NULL};
  request(&r, "POST", "/v1/pca", wrong, "{}", 2, false);
  expect_problem(&r, 403, "forbidden");
  cr_assert_null(hdr(&r, "WWW-Authenticate", v, sizeof v));
  reply_free(&r);

  /* The right key passes auth and reaches the fit budget (0 here). */
  request(&r, "POST", "/v1/models", json_key, "{}", 2, false);
  expect_problem(&r, 503, "busy");
  reply_free(&r);

  request(&r, "GET", "/healthz", NULL, NULL, 0, false);
  cr_assert_eq(r.status, 200, "reads stay open");
  reply_free(&r);

  /* The key never reaches the log. */
  stop();
}

Test(http, access_log_lines_without_secrets) {
  const char *const extra[] = {"--api-keys", KEY, NULL};
  start(extra);
  reply r;
  request(&r, "POST", "/v1/pca", json_key, "{\"secret\":\"body\"}", 17, false);
  reply_free(&r);
  request(&r, "GET", "/healthz?probe=1", NULL, NULL, 0, false);
  reply_free(&r);
  srv_http_stop(srv, 2000);
  srv = NULL;
  fflush(log_sink);
  cr_assert(strstr(log_text, KEY) == NULL, "key in the log:\n%s", log_text);
  cr_assert(strstr(log_text, "secret") == NULL, "body in the log");
  bool saw_health = false;
  size_t access_lines = 0;
  for (char *line = log_text; line && *line;) {
    char *nl = strchr(line, '\n');
    cr_assert_not_null(nl);
    json_error_t e;
    json_t *j = json_loadb(line, (size_t)(nl - line), 0, &e);
    cr_assert_not_null(j, "not JSON: %.*s", (int)(nl - line), line);
    const char *event = json_string_value(json_object_get(j, "event"));
    if (event && strcmp(event, "access") == 0) {
      access_lines++;
      cr_expect_str_eq(json_string_value(json_object_get(j, "level")), "info");
      cr_expect(json_is_integer(json_object_get(j, "bytes")));
      cr_expect(json_is_number(json_object_get(j, "duration_ms")));
      cr_expect_str_eq(json_string_value(json_object_get(j, "remote")),
                       "127.0.0.1");
      const char *path = json_string_value(json_object_get(j, "path"));
      if (strcmp(path, "/healthz") == 0) {
        saw_health = true;
        cr_expect_str_eq(json_string_value(json_object_get(j, "method")),
                         "GET");
        cr_expect_eq(json_integer_value(json_object_get(j, "status")), 200);
        cr_expect_eq(json_integer_value(json_object_get(j, "bytes")), 15);
      }
    }
    json_decref(j);
    line = nl + 1;
  }
  cr_assert_eq(access_lines, 2u, "%s", log_text);
  cr_assert(saw_health);
  stop();
}

Test(http, metrics_count_requests) {
  start(NULL);
  reply r;
  request(&r, "GET", "/healthz", NULL, NULL, 0, false);
  reply_free(&r);
  request(&r, "GET", "/missing", NULL, NULL, 0, false);
  reply_free(&r);
  /* The counters are written when a request completes, which may be a
   * moment after the client has its answer. */
  bool seen = false;
  for (int i = 0; i < 100 && !seen; i++) {
    request(&r, "GET", "/metrics", NULL, NULL, 0, false);
    char v[128];
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(hdr(&r, "Content-Type", v, sizeof v),
                     "text/plain; version=0.0.4; charset=utf-8");
    seen = strstr(r.body.data, "gravitas_http_requests_total{route="
                               "\"/healthz\",method=\"GET\",status=\"200\"} "
                               "1\n") != NULL &&
           strstr(r.body.data, "gravitas_http_requests_total{route="
                               "\"unmatched\",method=\"GET\",status=\"404\"}"
                               " 1\n") != NULL;
    if (!seen) {
      reply_free(&r);
      usleep(10000);
      continue;
    }
    cr_assert(strstr(r.body.data, "gravitas_build_info{version=\"") != NULL);
    cr_assert(strstr(r.body.data, "gravitas_http_request_duration_seconds_"
                                  "bucket{route=\"/healthz\",le=\"+Inf\"} "
                                  "1\n") != NULL);
    reply_free(&r);
  }
  cr_assert(seen);
}

static bool failing_check(void *ctx, char *detail, size_t detail_sz) {
  (void)ctx;
  snprintf(detail, detail_sz, "the default model is not loaded");
  return false;
}

static bool passing_check(void *ctx, char *detail, size_t detail_sz) {
  (void)ctx;
  (void)detail;
  (void)detail_sz;
  return true;
}

Test(http, readiness) {
  start(NULL);
  reply r;
  request(&r, "GET", "/readyz", NULL, NULL, 0, false);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body.data,
                   "{\"status\":\"ready\",\"checks\":{\"data_dir\":\"ok\"}}");
  reply_free(&r);
  cr_assert(srv_http_add_ready_check(srv, "store", passing_check, NULL));
  cr_assert(
      srv_http_add_ready_check(srv, "default_model", failing_check, NULL));
  request(&r, "GET", "/readyz", NULL, NULL, 0, false);
  expect_problem(&r, 503, "unavailable");
  json_t *j = json_loadb(r.body.data, r.body.len, 0, NULL);
  json_t *errs = json_object_get(j, "errors");
  cr_assert_eq(json_array_size(errs), 1u);
  cr_assert_str_eq(
      json_string_value(json_object_get(json_array_get(errs, 0), "pointer")),
      "/checks/default_model");
  cr_assert_str_eq(
      json_string_value(json_object_get(json_array_get(errs, 0), "detail")),
      "the default model is not loaded");
  json_decref(j);
  reply_free(&r);
  for (int i = 0; i < SRV_MAX_READY_CHECKS - 3; i++)
    cr_assert(srv_http_add_ready_check(srv, "more", passing_check, NULL));
  cr_assert_not(
      srv_http_add_ready_check(srv, "one-too-many", passing_check, NULL));
}

Test(http, readiness_fails_without_the_data_dir) {
  start(NULL);
  rmdir(data_dir);
  reply r;
  request(&r, "GET", "/readyz", NULL, NULL, 0, false);
  expect_problem(&r, 503, "unavailable");
  cr_assert(strstr(r.body.data, "/checks/data_dir") != NULL);
  reply_free(&r);
}

Test(http, openapi_document) {
  char path[] = "/tmp/gravitas-openapi-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  static const char doc[] = "openapi: 3.1.0\ninfo:\n  title: Gravitas\n";
  cr_assert_eq(write(fd, doc, sizeof doc - 1), (ssize_t)(sizeof doc - 1));
  close(fd);
  const char *const extra[] = {"--openapi", path, NULL};
  start(extra);
  reply r;
  char v[64];
  request(&r, "GET", "/openapi.yaml", NULL, NULL, 0, false);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(hdr(&r, "Content-Type", v, sizeof v), "application/yaml");
  cr_assert_str_eq(r.body.data, doc);
  reply_free(&r);
  unlink(path);
  request(&r, "GET", "/openapi.yaml", NULL, NULL, 0, false);
  expect_problem(&r, 404, "not-found");
  reply_free(&r);
}

Test(http, v1_is_routed_to_api) {
  start(NULL);
  reply r;
  request(&r, "GET", "/v1", NULL, NULL, 0, false);
  cr_assert_eq(r.status, 200, "%s", r.body.data);
  reply_free(&r);
}

Test(http, stop_closes_the_port) {
  start(NULL);
  unsigned port = srv_http_port(srv);
  srv_http_stop(srv, 1000);
  srv = NULL;
  CURL *c = curl_easy_init();
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/healthz", port);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
  cr_assert_eq(curl_easy_perform(c), CURLE_COULDNT_CONNECT);
  curl_easy_cleanup(c);
  stop();
}

Test(http, port_in_use_is_an_error) {
  start(NULL);
  char port[16];
  snprintf(port, sizeof port, "%u", srv_http_port(srv));
  char *argv[] = {"gravitas", "--port", port, NULL};
  srv_config other;
  char err[256];
  cr_assert_eq(srv_config_parse(&other, 3, argv, no_env, NULL, err, sizeof err),
               SRV_CONFIG_RUN);
  srv_http *second = srv_http_start(&other, NULL, err, sizeof err);
  cr_assert_null(second);
  cr_assert(strstr(err, "cannot listen") != NULL, "%s", err);
  srv_config_free(&other);
}

/* A raw TCP connection to the server, for what curl will not do (stall). */
static int connect_raw(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(fd, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)srv_http_port(srv))};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

static void send_all(int fd, const char *text) {
  size_t len = strlen(text);
  cr_assert_eq(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
}

Test(http, idle_connection_times_out) {
  const char *const extra[] = {"--connection-timeout", "1", NULL};
  start(extra);
  int fd = connect_raw();
  send_all(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n"); /* never ends */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char buf[256];
  ssize_t got = recv(fd, buf, sizeof buf, 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double waited =
      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  cr_assert_leq(got, 0, "the server closed the idle connection");
  cr_assert_geq(waited, 0.5, "not before the timeout (%.3f s)", waited);
  cr_assert_lt(waited, 5.0, "soon after the timeout (%.3f s)", waited);
  close(fd);
}

static void *stop_thread(void *arg) {
  (void)arg;
  srv_http_stop(srv, 5000);
  return NULL;
}

Test(http, stop_lets_a_request_in_flight_finish) {
  start(NULL);
  int fd = connect_raw();
  send_all(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
               "\r\nab");
  /* Wait until the server has seen the request, then stop it while the
   * body is still incomplete. */
  for (int i = 0; i < 500 && srv_http_in_flight(srv) == 0; i++)
    usleep(2000);
  cr_assert_eq(srv_http_in_flight(srv), 1u);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, stop_thread, NULL), 0);
  usleep(200000);
  /* No new connection is accepted any more... */
  CURL *c = curl_easy_init();
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/healthz", srv_http_port(srv));
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
  cr_assert_eq(curl_easy_perform(c), CURLE_COULDNT_CONNECT);
  curl_easy_cleanup(c);
  /* ...but the request in flight is still answered. */
  send_all(fd, "cd");
  char buf[1024];
  ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
  cr_assert_gt(got, 0);
  buf[got] = '\0';
  cr_assert(strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);
  pthread_join(t, NULL);
  srv = NULL;
  close(fd);
}
