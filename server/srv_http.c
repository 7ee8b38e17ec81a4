/* The libmicrohttpd front end (see srv_http.h). The access handler follows
 * libmicrohttpd's life cycle: the first call sees headers only and creates
 * the request context, later calls carry body chunks, the last call (no
 * data) dispatches; the context is freed only in the completion callback,
 * which also writes the access log and the metrics. */
#include "srv_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "srv_auth.h"
#include "srv_buf.h"
#include "srv_cors.h"
#include "srv_handlers.h"
#include "srv_log.h"
#include "srv_metrics.h"
#include "srv_pool.h"
#include "srv_routes.h"

#include "gravitas_build_id.h" /* GRAVITAS_BUILD, written at build time */

/* Connection limits. libmicrohttpd's defaults are unsafe (no timeout, no
 * per-IP limit), so every one is set explicitly. The memory limit covers
 * headers and MHD's read buffer only; bodies go to our bounded buffer. */
#define CONNECTION_LIMIT 1024u
#define PER_IP_CONNECTION_LIMIT 256u
#define CONNECTION_MEMORY_LIMIT ((size_t)64 * 1024)

typedef struct ready_check {
  const char *name;
  srv_ready_fn fn;
  void *ctx;
} ready_check;

struct srv_http {
  const srv_config *cfg;
  struct MHD_Daemon *daemon;
  api_env env;
  srv_auth *auth;
  srv_cors cors;
  const srv_route *routes;
  size_t n_routes;
  atomic_int fit_slots;
  atomic_uint in_flight;
  srv_pool *pool; /* runs the writes (fits, uploads, fetches) */
  unsigned port;
  pthread_mutex_t ready_lock;
  ready_check checks[SRV_MAX_READY_CHECKS];
  size_t n_checks;
};

/* What a helper that may reply did (STYLE item 4). */
typedef enum step {
  STEP_CONTINUE = 0, /* nothing queued; go on */
  STEP_REPLIED,      /* a response is queued */
  STEP_FATAL         /* close the connection without a response */
} step;

typedef struct req_ctx {
  srv_http *srv;
  struct MHD_Connection *conn;
  struct timespec start;
  char method[16];
  char *path;
  srv_match_result mres;
  srv_match match;
  srv_buf body;
  size_t discarded; /* body bytes dropped after the limit was passed */
  bool too_large;
  bool replied;
  /* A write handed to the pool: the connection is suspended until the
   * worker has filled res (job_done) and resumed it. */
  bool job_pending;
  atomic_bool job_done;
  bool job_fit; /* the job holds a fit slot */
  api_request req;
  api_response res;
  int status;
  size_t bytes;
  char remote[INET6_ADDRSTRLEN];
} req_ctx;

static double elapsed_since(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) +
         (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static const char *header(struct MHD_Connection *conn, const char *name) {
  return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* ---- responses ---------------------------------------------------------- */

/* The CORS headers of every answer: "Vary: Origin" whenever CORS is
 * configured, and for an allowed origin the origin itself, the headers its
 * scripts may read, and Timing-Allow-Origin (so that the Resource Timing API
 * of the page shows the answer's Server-Timing and its phases). */
static void add_cors(req_ctx *ctx, struct MHD_Response *r) {
  const srv_cors *cors = &ctx->srv->cors;
  if (!srv_cors_enabled(cors)) return;
  MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Origin");
  const char *origin = header(ctx->conn, MHD_HTTP_HEADER_ORIGIN);
  if (!srv_cors_allowed(cors, origin)) return;
  MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
  MHD_add_response_header(r, "Access-Control-Expose-Headers",
                          SRV_CORS_EXPOSE_HEADERS);
  MHD_add_response_header(r, "Timing-Allow-Origin", origin);
}

/* Queues res (consuming its body) with CORS headers. Returns STEP_REPLIED,
 * or STEP_FATAL when libmicrohttpd refuses (logged as an internal error). */
static step queue(req_ctx *ctx, api_response *res) {
  if (res->status < 100 || res->status > 599) {
    SRV_LOG_ERROR("handler", "handler for %s %s left status %d", ctx->method,
                  ctx->path, res->status);
    api_response_free(res);
    srv_problem(res, API_E_INTERNAL, false, "The handler gave no answer.");
  }
  size_t len = res->body ? res->body_len : 0;
  struct MHD_Response *r =
      MHD_create_response_from_buffer_with_free_callback(len, res->body, free);
  if (r == NULL) {
    SRV_LOG_ERROR("mhd", "cannot create a response");
    api_response_free(res);
    return STEP_FATAL;
  }
  res->body = NULL; /* the response owns it now */
  if (res->content_type)
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
  for (size_t i = 0; i < res->n_headers; i++)
    MHD_add_response_header(r, res->headers[i].name, res->headers[i].value);
  add_cors(ctx, r);
  enum MHD_Result ok = MHD_queue_response(ctx->conn, (unsigned)res->status, r);
  MHD_destroy_response(r);
  int status = res->status;
  api_response_free(res);
  if (ok != MHD_YES) {
    SRV_LOG_ERROR("mhd", "cannot queue a %d response", status);
    return STEP_FATAL;
  }
  ctx->replied = true;
  ctx->status = status;
  ctx->bytes = len;
  return STEP_REPLIED;
}

static step problem(req_ctx *ctx, api_error_code code, const char *hname,
                    const char *hvalue, const char *detail) {
  api_response res = {0};
  srv_problem(&res, code, code == API_E_TOO_LARGE || code == API_E_MEDIA_TYPE,
              detail);
  if (hname != NULL) api_response_header(&res, hname, hvalue);
  return queue(ctx, &res);
}

/* ---- checks before the body --------------------------------------------- */

/* application/json, optionally with charset=utf-8 (any case, optionally
 * quoted); nothing else. */
static bool is_json(const char *ct) {
  if (ct == NULL) return false;
  while (*ct == ' ' || *ct == '\t')
    ct++;
  if (strncasecmp(ct, "application/json", 16) != 0) return false;
  const char *p = ct + 16;
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p == '\0') return true;
  if (*p != ';') return false;
  p++;
  while (*p == ' ' || *p == '\t')
    p++;
  if (strncasecmp(p, "charset=", 8) != 0) return false;
  p += 8;
  if (strncasecmp(p, "utf-8", 5) == 0)
    p += 5;
  else if (strncasecmp(p, "\"utf-8\"", 7) == 0)
    p += 7;
  else
    return false;
  while (*p == ' ' || *p == '\t')
    p++;
  return *p == '\0';
}

/* The media type part of ct equals type (any case), followed by nothing or
 * by parameters. */
static bool media_type_is(const char *ct, const char *type) {
  if (ct == NULL) return false;
  while (*ct == ' ' || *ct == '\t')
    ct++;
  size_t n = strlen(type);
  if (strncasecmp(ct, type, n) != 0) return false;
  const char *p = ct + n;
  while (*p == ' ' || *p == '\t')
    p++;
  return *p == '\0' || *p == ';';
}

/* text/csv with any parameters (charset, header); the CSV parser checks
 * that the bytes are UTF-8. */
static bool is_csv(const char *ct) {
  return media_type_is(ct, "text/csv");
}

static step preflight(req_ctx *ctx) {
  api_response res = {0};
  res.status = 204;
  api_response_header(&res, MHD_HTTP_HEADER_ALLOW, ctx->match.allow);
  const char *origin = header(ctx->conn, MHD_HTTP_HEADER_ORIGIN);
  if (srv_cors_allowed(&ctx->srv->cors, origin)) {
    api_response_header(&res, "Access-Control-Allow-Methods", ctx->match.allow);
    api_response_header(&res, "Access-Control-Allow-Headers",
                        SRV_CORS_ALLOW_HEADERS);
    api_response_header(&res, "Access-Control-Max-Age", SRV_CORS_MAX_AGE);
  }
  return queue(ctx, &res);
}

/* Everything that can be decided from the request line and headers, so
 * that a refused body is never read. */
static step check_headers(req_ctx *ctx) {
  const srv_config *cfg = ctx->srv->cfg;
  if (strcmp(ctx->method, "OPTIONS") == 0 && ctx->mres != SRV_MATCH_NOT_FOUND)
    return preflight(ctx);
  if (ctx->mres == SRV_MATCH_NOT_FOUND)
    return problem(ctx, API_E_NOT_FOUND, NULL, NULL,
                   "No resource at this path.");
  if (ctx->mres == SRV_MATCH_METHOD)
    return problem(ctx, API_E_METHOD, MHD_HTTP_HEADER_ALLOW, ctx->match.allow,
                   "This path does not support this method; see Allow.");
  const srv_route *route = ctx->match.route;
  /* Writes need a key by their method too, so a route added without the
   * flag is never left open by mistake. */
  bool write =
      (route->flags & SRV_ROUTE_IS_WRITE) || strcmp(ctx->method, "POST") == 0 ||
      strcmp(ctx->method, "PUT") == 0 || strcmp(ctx->method, "PATCH") == 0 ||
      strcmp(ctx->method, "DELETE") == 0;
  if (write) {
    switch (srv_auth_check(ctx->srv->auth,
                           header(ctx->conn, MHD_HTTP_HEADER_AUTHORIZATION))) {
    case SRV_AUTH_OK: break;
    case SRV_AUTH_MISSING:
      return problem(ctx, API_E_UNAUTHORIZED, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                     "Bearer realm=\"gravitas\"",
                     "This request needs an Authorization: Bearer key.");
    case SRV_AUTH_MALFORMED:
      return problem(ctx, API_E_UNAUTHORIZED, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                     "Bearer realm=\"gravitas\"",
                     "The Authorization header is not 'Bearer <key>'.");
    case SRV_AUTH_WRONG:
      return problem(ctx, API_E_FORBIDDEN, NULL, NULL,
                     "The key is not accepted.");
    }
  }
  const char *ctype = header(ctx->conn, MHD_HTTP_HEADER_CONTENT_TYPE);
  if ((route->flags & SRV_ROUTE_NEEDS_BODY) && !is_json(ctype)) {
    if (!(route->flags & SRV_ROUTE_BODY_CSV))
      return problem(ctx, API_E_MEDIA_TYPE, NULL, NULL,
                     "The body must be sent as Content-Type: "
                     "application/json.");
    if (!is_csv(ctype))
      return problem(ctx, API_E_MEDIA_TYPE, NULL, NULL,
                     "The body must be sent as Content-Type: "
                     "application/json or text/csv.");
  }
  const char *cl = header(ctx->conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cl != NULL) {
    /* libmicrohttpd has already refused a malformed Content-Length, so a
     * value that does not parse here can only be too big for 64 bits. */
    char *end = NULL;
    unsigned long long n = strtoull(cl, &end, 10);
    bool huge = end == cl || *end != '\0' || n == ULLONG_MAX;
    if (huge || n > cfg->limits.max_body_bytes) {
      char detail[128];
      snprintf(detail, sizeof detail, "The body may hold at most %zu bytes.",
               cfg->limits.max_body_bytes);
      return problem(ctx, API_E_TOO_LARGE, NULL, NULL, detail);
    }
    /* One allocation for the whole body instead of doublings and copies.
     * Only address space until the bytes arrive: pages are touched as they
     * are written, so a client that announces much and sends little costs
     * little memory. */
    if (n > 0 && srv_buf_reserve(&ctx->body, (size_t)n) == SRV_BUF_NOMEM) {
      SRV_LOG_ERROR("body", "out of memory for a %llu-byte body", n);
      return STEP_FATAL;
    }
  }
  return STEP_CONTINUE;
}

/* ---- body and dispatch -------------------------------------------------- */

/* Copies a chunk into the body buffer. Past the limit the rest of the body
 * is read and dropped so that 413 can be answered when it ends; a client
 * that keeps sending for as long again is cut off instead. */
static step accumulate(req_ctx *ctx, const char *data, size_t n) {
  if (!ctx->too_large) {
    srv_buf_result r = srv_buf_append(&ctx->body, data, n);
    if (r == SRV_BUF_OK) return STEP_CONTINUE;
    if (r == SRV_BUF_NOMEM) {
      SRV_LOG_ERROR("body", "out of memory holding a %zu-byte body",
                    ctx->body.len + n);
      return STEP_FATAL;
    }
    ctx->too_large = true;
    ctx->discarded = ctx->body.len;
    srv_buf_free(&ctx->body);
  }
  ctx->discarded += n;
  if (ctx->discarded / 2 > ctx->srv->cfg->limits.max_body_bytes)
    return STEP_FATAL;
  return STEP_CONTINUE;
}

static const char *query_value(const void *qctx, const char *key) {
  const req_ctx *ctx = qctx;
  return MHD_lookup_connection_value(ctx->conn, MHD_GET_ARGUMENT_KIND, key);
}

/* Runs the route's handler into res. */
static void run_handler(req_ctx *ctx, api_response *res) {
  const srv_route *route = ctx->match.route;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (route->api != NULL)
    route->api(&ctx->req, res);
  else
    route->local(ctx->srv, &ctx->req, res);
  if (ctx->job_fit) {
    srv_metrics_fit(elapsed_since(&t0));
    srv_http_fit_release(ctx->srv);
    ctx->job_fit = false;
  }
}

/* A pool worker: runs the handler, then hands the connection back to
 * libmicrohttpd, which calls on_request again to queue the answer. ctx is
 * not touched after the resume (the connection may complete and free it). */
static void run_job(void *arg) {
  req_ctx *ctx = arg;
  run_handler(ctx, &ctx->res);
  atomic_store(&ctx->job_done, true);
  MHD_resume_connection(ctx->conn);
}

static step dispatch(req_ctx *ctx) {
  if (ctx->too_large) {
    char detail[128];
    snprintf(detail, sizeof detail, "The body may hold at most %zu bytes.",
             ctx->srv->cfg->limits.max_body_bytes);
    return problem(ctx, API_E_TOO_LARGE, NULL, NULL, detail);
  }
  const srv_route *route = ctx->match.route;
  bool fit = (route->flags & SRV_ROUTE_IS_FIT) != 0;
  if (fit && !srv_http_fit_acquire(ctx->srv))
    return problem(ctx, API_E_BUSY, MHD_HTTP_HEADER_RETRY_AFTER, "1",
                   "Every fit slot is in use; retry shortly.");
  ctx->job_fit = fit;
  ctx->req = (api_request){
      .method = ctx->method,
      .path = ctx->path,
      .n_params = ctx->match.n_params,
      .content_type = header(ctx->conn, MHD_HTTP_HEADER_CONTENT_TYPE),
      .if_none_match = header(ctx->conn, MHD_HTTP_HEADER_IF_NONE_MATCH),
      .body = ctx->body.data,
      .body_len = ctx->body.len,
      .query = query_value,
      .query_ctx = ctx,
      .env = &ctx->srv->env,
  };
  for (size_t i = 0; i < ctx->match.n_params; i++)
    ctx->req.params[i] = ctx->match.params[i];
  /* Writes (fits, uploads, World Bank fetches, store commits) may take
   * seconds: they run on the pool while this thread serves other
   * connections. Reads are answered here. */
  if (route->flags & SRV_ROUTE_IS_WRITE) {
    ctx->job_pending = true;
    MHD_suspend_connection(ctx->conn);
    if (!srv_pool_submit(ctx->srv->pool, run_job, ctx)) {
      /* Only while stopping (the queue holds as many jobs as there can be
       * connections): answer busy once libmicrohttpd resumes. */
      if (ctx->job_fit) {
        srv_http_fit_release(ctx->srv);
        ctx->job_fit = false;
      }
      srv_problem(&ctx->res, API_E_BUSY, false,
                  "The server is shutting down; retry shortly.");
      api_response_header(&ctx->res, MHD_HTTP_HEADER_RETRY_AFTER, "1");
      atomic_store(&ctx->job_done, true);
      MHD_resume_connection(ctx->conn);
    }
    return STEP_CONTINUE;
  }
  api_response res = {0};
  run_handler(ctx, &res);
  return queue(ctx, &res);
}

/* ---- libmicrohttpd callbacks -------------------------------------------- */

static void remote_of(struct MHD_Connection *conn, char *out, size_t outsz) {
  snprintf(out, outsz, "-");
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info == NULL || info->client_addr == NULL) return;
  const struct sockaddr *sa = info->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET,
              &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
              (socklen_t)outsz);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6,
              &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
              (socklen_t)outsz);
}

static req_ctx *ctx_new(srv_http *srv, struct MHD_Connection *conn,
                        const char *url, const char *method) {
  req_ctx *ctx = calloc(1, sizeof *ctx);
  if (ctx == NULL) return NULL;
  clock_gettime(CLOCK_MONOTONIC, &ctx->start);
  ctx->srv = srv;
  ctx->conn = conn;
  snprintf(ctx->method, sizeof ctx->method, "%s", method);
  ctx->path = strdup(url);
  if (ctx->path == NULL) {
    free(ctx);
    return NULL;
  }
  srv_buf_init(&ctx->body, srv->cfg->limits.max_body_bytes);
  remote_of(conn, ctx->remote, sizeof ctx->remote);
  ctx->mres = srv_route_match(srv->routes, srv->n_routes, ctx->method,
                              ctx->path, &ctx->match);
  return ctx;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls) {
  (void)version;
  srv_http *srv = cls;
  req_ctx *ctx = *req_cls;
  step s;
  if (ctx == NULL) {
    ctx = ctx_new(srv, conn, url, method);
    if (ctx == NULL) {
      SRV_LOG_ERROR("request", "out of memory for a request context");
      return MHD_NO;
    }
    *req_cls = ctx;
    atomic_fetch_add(&srv->in_flight, 1);
    s = check_headers(ctx);
    return s == STEP_FATAL ? MHD_NO : MHD_YES;
  }
  if (*upload_data_size > 0) {
    size_t n = *upload_data_size;
    *upload_data_size = 0; /* consumed, whatever happens to it */
    if (ctx->replied) return MHD_YES;
    s = accumulate(ctx, upload_data, n);
    return s == STEP_FATAL ? MHD_NO : MHD_YES;
  }
  if (ctx->replied) return MHD_YES;
  if (ctx->job_pending) {
    /* Called again after the worker resumed the connection. */
    if (!atomic_load(&ctx->job_done)) return MHD_YES;
    ctx->job_pending = false;
    s = queue(ctx, &ctx->res);
    return s == STEP_FATAL ? MHD_NO : MHD_YES;
  }
  s = dispatch(ctx);
  return s == STEP_FATAL ? MHD_NO : MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)conn;
  srv_http *srv = cls;
  req_ctx *ctx = *req_cls;
  if (ctx == NULL) return;
  *req_cls = NULL;
  double seconds = elapsed_since(&ctx->start);
  int status = ctx->replied ? ctx->status : 0;
  srv_metrics_request(ctx->match.path_index, ctx->method, status, seconds);
  /* Client faults are routine (info); only the server's own failures are
   * errors, and those were logged with file and line where they happened. */
  srv_log_access(status >= 500 && status != 503, ctx->method, ctx->path, status,
                 ctx->bytes, (double)((long long)(seconds * 1e6)) / 1e3,
                 ctx->remote, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
  srv_buf_free(&ctx->body);
  api_response_free(&ctx->res); /* an answer never queued (client gone) */
  free(ctx->path);
  free(ctx);
  atomic_fetch_sub(&srv->in_flight, 1);
}

__attribute__((format(printf, 2, 0))) static void
on_mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char message[512];
  vsnprintf(message, sizeof message, fmt, ap);
  size_t len = strlen(message);
  while (len && (message[len - 1] == '\n' || message[len - 1] == ' '))
    message[--len] = '\0';
  /* libmicrohttpd reports mostly client misbehaviour (a peer closing early,
   * a malformed header) here; the server's own failures are also logged
   * with file and line where they are detected, so this is a warning. */
  srv_log_json("warn", "mhd",
               json_pack("{s:o}", "message", srv_log_string(message)));
}

/* ---- readiness ---------------------------------------------------------- */

static bool data_dir_ready(void *ctx, char *detail, size_t detail_sz) {
  const srv_http *srv = ctx;
  struct stat st;
  if (stat(srv->cfg->data_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(detail, detail_sz, "the data directory is missing");
    return false;
  }
  if (access(srv->cfg->data_dir, W_OK | X_OK) != 0) {
    snprintf(detail, detail_sz, "the data directory is not writable");
    return false;
  }
  return true;
}

bool srv_http_add_ready_check(srv_http *srv, const char *name, srv_ready_fn fn,
                              void *ctx) {
  pthread_mutex_lock(&srv->ready_lock);
  bool ok = srv->n_checks < SRV_MAX_READY_CHECKS;
  if (ok) srv->checks[srv->n_checks++] = (ready_check){name, fn, ctx};
  pthread_mutex_unlock(&srv->ready_lock);
  return ok;
}

bool srv_http_ready(srv_http *srv, json_t **checks) {
  ready_check copy[SRV_MAX_READY_CHECKS];
  pthread_mutex_lock(&srv->ready_lock);
  size_t n = srv->n_checks;
  memcpy(copy, srv->checks, n * sizeof copy[0]);
  pthread_mutex_unlock(&srv->ready_lock);
  /* Checks run outside the lock: they may be slow (a store query). */
  bool all = true;
  json_t *out = json_object();
  for (size_t i = 0; i < n; i++) {
    char detail[256] = "not ready";
    bool ok = copy[i].fn(copy[i].ctx, detail, sizeof detail);
    all = all && ok;
    if (out != NULL)
      json_object_set_new(out, copy[i].name,
                          ok ? json_string("ok") : srv_log_string(detail));
  }
  *checks = out;
  return all;
}

/* ---- start and stop ----------------------------------------------------- */

bool srv_http_fit_acquire(srv_http *srv) {
  int free_slots = atomic_load(&srv->fit_slots);
  while (free_slots > 0) {
    if (atomic_compare_exchange_weak(&srv->fit_slots, &free_slots,
                                     free_slots - 1))
      return true;
  }
  return false;
}

void srv_http_fit_release(srv_http *srv) {
  atomic_fetch_add(&srv->fit_slots, 1);
}

unsigned srv_http_in_flight(const srv_http *srv) {
  return atomic_load(&((srv_http *)srv)->in_flight);
}

unsigned srv_http_port(const srv_http *srv) {
  return srv->port;
}

const api_env *srv_http_env(const srv_http *srv) {
  return &srv->env;
}

const srv_config *srv_http_config(const srv_http *srv) {
  return srv->cfg;
}

static void free_server(srv_http *srv) {
  srv_pool_free(srv->pool);
  srv_auth_free(srv->auth);
  pthread_mutex_destroy(&srv->ready_lock);
  free(srv);
}

srv_http *srv_http_start(const srv_config *cfg, void *service, char *err,
                         size_t errsz) {
  srv_http *srv = calloc(1, sizeof *srv);
  if (srv == NULL) {
    snprintf(err, errsz, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&srv->ready_lock, NULL);
  srv->cfg = cfg;
  srv->routes = srv_routes_table(&srv->n_routes);
  srv->env = (api_env){.limits = cfg->limits,
                       .version = GRAVITAS_VERSION,
                       .build = GRAVITAS_BUILD,
                       .threads = cfg->threads,
                       .service = service};
  srv->cors = (srv_cors){.any = cfg->cors_any,
                         .origins = cfg->cors_origins,
                         .n_origins = cfg->n_cors_origins};
  atomic_init(&srv->fit_slots, (int)cfg->max_concurrent_fits);
  atomic_init(&srv->in_flight, 0);
  srv->auth = srv_auth_new(cfg->api_keys, cfg->n_api_keys);
  if (srv->auth == NULL) {
    snprintf(err, errsz, "out of memory");
    free_server(srv);
    return NULL;
  }
  srv_http_add_ready_check(srv, "data_dir", data_dir_ready, srv);
  /* As many workers as HTTP threads; the queue holds a job for every
   * connection there can be, so a write is never refused for room. */
  srv->pool = srv_pool_new(cfg->threads, CONNECTION_LIMIT);
  if (srv->pool == NULL) {
    snprintf(err, errsz, "cannot start %u worker threads", cfg->threads);
    free_server(srv);
    return NULL;
  }

  struct sockaddr_storage addr;
  memset(&addr, 0, sizeof addr);
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                   MHD_USE_ITC | /* ITC: needed by MHD_quiesce_daemon */
                   MHD_ALLOW_SUSPEND_RESUME; /* writes run on the pool */
  const char *host =
      strcmp(cfg->host, "localhost") == 0 ? "127.0.0.1" : cfg->host;
  struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)cfg->port);
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)cfg->port);
    flags |= MHD_USE_IPv6;
  } else {
    snprintf(err, errsz, "'%s' is not a numeric address", cfg->host);
    free_server(srv);
    return NULL;
  }
  if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
    flags |= MHD_USE_EPOLL;

  /* One thread is the daemon's own internal thread: a pool size of 0 or 1
   * is ignored with a warning, so the option is left out then. */
  struct MHD_OptionItem pool[] = {
      {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)cfg->threads, NULL},
      {MHD_OPTION_END, 0, NULL}};
  if (cfg->threads <= 1) pool[0] = pool[1];
  srv->daemon = MHD_start_daemon(
      flags, (uint16_t)cfg->port, NULL, NULL, on_request, srv,
      /* The logger must come first to catch messages about later options. */
      MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
      (struct sockaddr *)&addr, MHD_OPTION_ARRAY, pool,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->connection_timeout,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)PER_IP_CONNECTION_LIMIT,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY_LIMIT,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
  if (srv->daemon == NULL) {
    snprintf(err, errsz, "cannot listen on %s port %u (in use or not allowed)",
             cfg->host, cfg->port);
    free_server(srv);
    return NULL;
  }
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
  srv->port = info != NULL ? info->port : cfg->port;
  return srv;
}

void srv_http_stop(srv_http *srv, unsigned grace_ms) {
  if (srv == NULL) return;
  if (srv->daemon != NULL) {
    /* Stop accepting first; the listening socket is ours to close then. */
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (atomic_load(&srv->in_flight) > 0 &&
           elapsed_since(&t0) * 1000.0 < (double)grace_ms) {
      struct timespec nap = {0, 10 * 1000 * 1000};
      nanosleep(&nap, NULL);
    }
    /* Every queued write runs to its end and resumes its connection:
     * libmicrohttpd must not be stopped with a connection suspended. */
    srv_pool_stop(srv->pool);
    MHD_stop_daemon(srv->daemon);
  }
  free_server(srv);
}
