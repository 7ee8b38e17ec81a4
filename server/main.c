/* The gravitas process: reads the configuration, starts the HTTP front end
 * and runs until SIGTERM or SIGINT, then shuts down gracefully. */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "api.h"
#include "srv_config.h"
#include "srv_http.h"
#include "srv_log.h"

/* How long in-flight requests may take to finish after a stop signal. */
#define SHUTDOWN_GRACE_MS 10000u

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

  int status = 1;
  bool curl_ready = false;
  srv_http *srv = NULL;

  /* Writes to a closed socket must fail with EPIPE, not kill the process:
   * libmicrohttpd and libcurl (with CURLOPT_NOSIGNAL) leave it to us. */
  signal(SIGPIPE, SIG_IGN);
  /* SIGTERM and SIGINT are blocked in every thread (the daemon's threads
   * inherit the mask) and taken synchronously with sigwait below, so no
   * work ever runs inside a signal handler. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0) {
    SRV_LOG_ERROR("start", "cannot block the stop signals");
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

  srv = srv_http_start(&cfg, NULL, err, sizeof err);
  if (srv == NULL) {
    SRV_LOG_ERROR("start", "%s", err);
    goto cleanup;
  }
  srv_log_json("info", "listening",
               json_pack("{s:s, s:i, s:s}", "host", cfg.host, "port",
                         (int)srv_http_port(srv), "version", GRAVITAS_VERSION));

  int sig = 0;
  while (sigwait(&stop, &sig) != 0) {
  }
  srv_log_json("info", "shutdown",
               json_pack("{s:s, s:i}", "signal",
                         sig == SIGTERM ? "SIGTERM" : "SIGINT", "in_flight",
                         (int)srv_http_in_flight(srv)));
  srv_http_stop(srv, SHUTDOWN_GRACE_MS);
  srv = NULL;
  srv_log_json("info", "stopped", NULL);
  status = 0;

cleanup:
  srv_http_stop(srv, 0);
  if (curl_ready) curl_global_cleanup();
  srv_config_free(&cfg);
  return status;
}
