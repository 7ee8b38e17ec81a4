/* The gravitas process: reads the configuration, starts the HTTP front end
 * and runs until SIGTERM or SIGINT, then shuts down gracefully. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "api.h"
#include "api_default_install.h"
#include "core_mem.h"
#include "srv_config.h"
#include "srv_http.h"
#include "srv_indicators.h"
#include "srv_log.h"
#include "srv_service.h"
#include "store.h"

/* The stop signals' self-pipe: the handler writes, main reads. */
static int stop_pipe[2] = {-1, -1};

static void on_stop_signal(int sig) {
  int saved = errno;
  unsigned char b = (unsigned char)sig;
  /* A full pipe means a stop is already pending: nothing is lost. */
  ssize_t r = write(stop_pipe[1], &b, 1);
  (void)r;
  errno = saved;
}

/* What /readyz reports about the store and the default model. The default
 * is installed after the server listens, so liveness answers at once and
 * readiness follows when the default model is there. */
typedef struct readiness {
  store *st;
  atomic_int default_state; /* 0 installing, 1 ready, -1 failed */
  char default_error[512];
} readiness;

static bool store_ready(void *ctx, char *detail, size_t detail_sz) {
  readiness *r = ctx;
  store_err err;
  char *id = NULL;
  /* A cheap read proves the connection pool and the file answer. */
  store_status st = store_get_alias(r->st, API_DEFAULT_ALIAS, &id, &err);
  free(id);
  if (st == STORE_OK || st == STORE_NOT_FOUND) return true;
  snprintf(detail, detail_sz, "the store does not answer: %s", err.msg);
  return false;
}

static bool default_ready(void *ctx, char *detail, size_t detail_sz) {
  readiness *r = ctx;
  int state = atomic_load(&r->default_state);
  if (state == 1) return true;
  snprintf(detail, detail_sz, "%s",
           state == 0 ? "the default model is being installed"
                      : r->default_error);
  return false;
}

/* A large request (a 20 MB body, the fit's columns, a 20 MB answer and
 * SQLite's copy of it) frees its memory when it ends. By default glibc
 * gives blocks above its mmap threshold back to the kernel at once and
 * trims the heap, so the next large request takes fresh pages again, each
 * first touch a page fault (about 10 us per 4 KiB page on our VMs) and a
 * page zeroing. Blocks up to 32 MiB (glibc's largest mmap threshold) are
 * therefore served from the heap, and up to KEEP_FREED_BYTES of free
 * memory at the top of each arena is kept for the next request. */
#define KEEP_FREED_BYTES (256 << 20)
static void keep_freed_memory(void) {
  (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
  (void)mallopt(M_TRIM_THRESHOLD, KEEP_FREED_BYTES);
}

int main(int argc, char **argv) {
  srv_config cfg;
  char err[512];
  switch (srv_config_parse(&cfg, argc, argv, srv_config_getenv, NULL, err,
                           sizeof err)) {
  case SRV_CONFIG_HELP: srv_config_usage(stdout); return 0;
  case SRV_CONFIG_VERSION: printf("gravitas %s\n", GRAVITAS_VERSION); return 0;
  case SRV_CONFIG_ERROR: fprintf(stderr, "gravitas: %s\n", err); return 2;
  case SRV_CONFIG_RUN: break;
  }

  /* Each request fits on its own thread: BLAS worker threads would only
   * spin beside them (core_mem.h). */
  core_blas_single_thread();
  keep_freed_memory();
  /* Access lines are flushed in batches (srv_log.h). */
  if (srv_log_start_flusher(100) != 0)
    fprintf(stderr, "gravitas: access lines will be flushed one by one\n");
  int status = 1;
  bool curl_ready = false;
  srv_http *srv = NULL;
  store *st = NULL;
  srv_service *service = NULL;
  srv_indicators *indicators = NULL;
  readiness ready = {0};
  atomic_init(&ready.default_state, 0);

  /* Writes to a closed socket must fail with EPIPE, not kill the process:
   * libmicrohttpd and libcurl (with CURLOPT_NOSIGNAL) leave it to us. */
  signal(SIGPIPE, SIG_IGN);
  /* SIGTERM and SIGINT only write their number to a pipe that the main
   * thread reads once the server runs, so no work ever runs inside a signal
   * handler. A handler (rather than sigwait) is needed because threads that
   * libraries start before main (OpenBLAS's pool) do not block the signals:
   * with the default action, a stop signal taken by one of them would kill
   * the process without a graceful shutdown. The server's own threads block
   * them (they inherit the mask set around their creation). */
  if (pipe(stop_pipe) != 0 || fcntl(stop_pipe[0], F_SETFD, FD_CLOEXEC) != 0 ||
      fcntl(stop_pipe[1], F_SETFD, FD_CLOEXEC) != 0) {
    SRV_LOG_ERROR("start", "cannot create the stop pipe");
    goto cleanup;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0 ||
      pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0) {
    SRV_LOG_ERROR("start", "cannot handle the stop signals");
    goto cleanup;
  }

  api_global_init();
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    SRV_LOG_ERROR("start", "curl_global_init failed");
    goto cleanup;
  }
  curl_ready = true;
  if (!srv_mkdir_p(cfg.data_dir, err, sizeof err)) {
    SRV_LOG_ERROR("start", "data directory: %s", err);
    goto cleanup;
  }

  store_err serr;
  if (store_open(cfg.data_dir, NULL, &st, &serr) != STORE_OK) {
    SRV_LOG_ERROR("start", "store in %s: %s", cfg.data_dir, serr.msg);
    goto cleanup;
  }
  ready.st = st;
  service = srv_service_new(st, cfg.cache_mb * 1024u * 1024u);
  if (service == NULL) {
    SRV_LOG_ERROR("start", "out of memory for the service");
    goto cleanup;
  }
  /* A World Bank fetch occupies a worker thread (srv_http.c runs every
   * write on the pool), so at most half of the workers (at least one) may
   * be fetching at once, leaving the rest to fits; beyond that 503. */
  indicators = srv_indicators_new(
      st, &(srv_indicators_config){.base_url = cfg.wb_base_url,
                                   .ttl_hours = cfg.wb_ttl_hours,
                                   .timeout_ms = (long)cfg.wb_timeout_ms,
                                   .max_fetches =
                                       cfg.threads > 1 ? cfg.threads / 2 : 1,
                                   .max_retries = -1});
  if (indicators == NULL) {
    SRV_LOG_ERROR("start", "out of memory for the indicator fetcher");
    goto cleanup;
  }
  srv_service_set_indicators(service, indicators);

  srv =
      srv_http_start(&cfg, (void *)srv_service_table(service), err, sizeof err);
  if (srv == NULL) {
    SRV_LOG_ERROR("start", "%s", err);
    goto cleanup;
  }
  srv_http_add_ready_check(srv, "store", store_ready, &ready);
  srv_http_add_ready_check(srv, "default_model", default_ready, &ready);
  srv_log_json("info", "listening",
               json_pack("{s:s, s:i, s:s, s:i}", "host", cfg.host, "port",
                         (int)srv_http_port(srv), "version", GRAVITAS_VERSION,
                         "threads", (int)cfg.threads));

  /* The default is fitted through the same handlers as a client's
   * requests; a restart finds it stored and only re-points the alias. */
  char model_id[API_MODEL_ID_LEN + 1];
  if (api_default_install(srv_http_env(srv), model_id, ready.default_error,
                          sizeof ready.default_error) == 0) {
    atomic_store(&ready.default_state, 1);
    srv_log_json("info", "default model",
                 json_pack("{s:s, s:s}", "alias", API_DEFAULT_ALIAS, "model_id",
                           model_id));
  } else {
    atomic_store(&ready.default_state, -1);
    SRV_LOG_ERROR("start", "default model: %s", ready.default_error);
  }

  /* The daemon's threads exist now and keep the blocked mask; the main
   * thread takes the stop signals from here on. */
  pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
  int sig = 0;
  for (;;) {
    unsigned char b = 0;
    ssize_t r = read(stop_pipe[0], &b, 1);
    if (r == 1) {
      sig = b;
      break;
    }
    if (r < 0 && errno == EINTR) continue;
    SRV_LOG_ERROR("signal", "the stop pipe failed");
    sig = SIGTERM;
    break;
  }
  srv_log_json("info", "shutdown",
               json_pack("{s:s, s:i}", "signal",
                         sig == SIGTERM ? "SIGTERM" : "SIGINT", "in_flight",
                         (int)srv_http_in_flight(srv)));
  srv_http_stop(srv, cfg.shutdown_grace_ms);
  srv = NULL;
  srv_log_json("info", "stopped", NULL);
  status = 0;

cleanup:
  srv_http_stop(srv, 0);
  srv_service_free(service);
  srv_indicators_free(indicators);
  store_close(st);
  if (curl_ready) curl_global_cleanup();
  srv_config_free(&cfg);
  srv_log_stop_flusher();
  return status;
}
