/* Process configuration: command-line flags beat environment variables,
 * which beat defaults. Every setting has a flag, a GRAVITAS_* variable, a
 * default and a line in --help. The environment is read through an injected
 * lookup function so that tests need no setenv. */
#ifndef GRAVITAS_SRV_CONFIG_H
#define GRAVITAS_SRV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "api.h"

typedef struct srv_config {
  unsigned port;       /* 0..65535; 0 picks a free port */
  char *host;          /* numeric IPv4/IPv6 address to bind */
  char *data_dir;      /* created at start when missing */
  unsigned threads;    /* HTTP worker threads */
  bool cors_any;       /* "*": every origin is allowed */
  char **cors_origins; /* allowed origins (exact match) */
  size_t n_cors_origins;
  char **api_keys; /* bearer keys for writes; none = open */
  size_t n_api_keys;
  char *api_keys_file;          /* where some keys came from, or NULL */
  api_limits limits;            /* input limits handed to api/ */
  unsigned max_concurrent_fits; /* fits running at once; 0 refuses all */
  unsigned connection_timeout;  /* idle seconds before a connection closes */
  size_t cache_mb;              /* model cache budget in MiB */
  char *openapi_path;           /* file served at GET /openapi.yaml */
  char *wb_base_url;            /* World Bank API v2 base URL */
  unsigned wb_ttl_hours;        /* indicator cache time to live */
  unsigned wb_timeout_ms;       /* one World Bank request's time limit */
  unsigned shutdown_grace_ms;   /* in-flight requests' time after SIGTERM */
} srv_config;

/* Returns the value of the environment variable name, or NULL when unset. */
typedef const char *(*srv_env_fn)(void *ctx, const char *name);

/* srv_env_fn over the real environment (getenv); ctx is ignored. Returns
 * getenv's answer. */
const char *srv_config_getenv(void *ctx, const char *name);

typedef enum srv_config_result {
  SRV_CONFIG_RUN = 0, /* cfg is filled: start the server */
  SRV_CONFIG_HELP,    /* --help was asked for: print srv_config_usage */
  SRV_CONFIG_VERSION, /* --version was asked for */
  SRV_CONFIG_ERROR    /* err holds one line saying what is wrong */
} srv_config_result;

/* Fills cfg from argv (argv[0] is the program name) and the environment.
 * An environment variable set to the empty string counts as unset. Returns
 * SRV_CONFIG_RUN with cfg filled (free it with srv_config_free), HELP or
 * VERSION (cfg holds nothing to free), or ERROR with a message in err (cfg
 * holds nothing to free). */
srv_config_result srv_config_parse(srv_config *cfg, int argc,
                                   char *const argv[], srv_env_fn env,
                                   void *env_ctx, char *err, size_t errsz);

/* Prints every setting (flag, variable, default, meaning) to out. */
void srv_config_usage(FILE *out);

/* Creates directory path and its missing parents (mode 0755), like
 * mkdir -p. Returns true when path is a directory afterwards; otherwise
 * false with a one-line reason in err. */
bool srv_mkdir_p(const char *path, char *err, size_t errsz);

/* Frees what cfg owns and zeroes it. NULL is a no-op. */
void srv_config_free(srv_config *cfg);

#endif
