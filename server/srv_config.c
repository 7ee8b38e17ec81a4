/* Configuration from flags, environment and defaults (see srv_config.h). */
#include "srv_config.h"
#include "srv_cpus.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef GRAVITAS_SOURCE_DIR
#define GRAVITAS_SOURCE_DIR "."
#endif

enum kind {
  K_PORT,      /* unsigned, 0..65535 */
  K_UNSIGNED,  /* unsigned int in [min, max] */
  K_SIZE,      /* size_t in [min, max] */
  K_STRING,    /* non-empty string, copied */
  K_HOST,      /* numeric address or "localhost" */
  K_ORIGINS,   /* "*" or comma list of origins */
  K_KEYS,      /* comma list of keys */
  K_KEYS_FILE, /* file with one key per line */
};

/* Field identifiers for the settings whose default depends on others. */
enum id {
  S_PORT,
  S_HOST,
  S_DATA_DIR,
  S_THREADS,
  S_CORS,
  S_KEYS,
  S_KEYS_FILE,
  S_MAX_BODY,
  S_MAX_ROWS,
  S_MAX_COLUMNS,
  S_MAX_FORMULA,
  S_MAX_DEPTH,
  S_MAX_FITS,
  S_TIMEOUT,
  S_CACHE,
  S_OPENAPI,
  S_WB_URL,
  S_WB_TTL,
  S_WB_TIMEOUT,
  S_GRACE,
  S_COUNT
};

typedef struct setting {
  enum id id;
  const char *flag; /* without the leading "--" */
  const char *env;
  const char *meta;  /* placeholder in --help */
  const char *deflt; /* default as shown in --help */
  const char *help;
  enum kind kind;
  unsigned long long min, max;
} setting;

#define MIB (1024ULL * 1024ULL)

static const setting settings[S_COUNT] = {
    {S_PORT, "port", "GRAVITAS_PORT", "N", "8080",
     "TCP port to listen on (0..65535; 0 picks a free port)", K_PORT, 0, 65535},
    {S_HOST, "host", "GRAVITAS_HOST", "ADDR", "127.0.0.1",
     "numeric IPv4 or IPv6 address to bind (or localhost)", K_HOST, 0, 0},
    {S_DATA_DIR, "data-dir", "GRAVITAS_DATA_DIR", "DIR", "./var",
     "directory for the store; created when missing", K_STRING, 0, 0},
    {S_THREADS, "threads", "GRAVITAS_THREADS", "N", "one per usable core",
     "HTTP threads, and as many worker threads for writes (1..256)", K_UNSIGNED,
     1, 256},
    {S_CORS, "cors-origins", "GRAVITAS_CORS_ORIGINS", "LIST", "none",
     "origins allowed by CORS: comma list of http(s)://host[:port], or *",
     K_ORIGINS, 0, 0},
    {S_KEYS, "api-keys", "GRAVITAS_API_KEYS", "LIST", "none (writes open)",
     "comma list of bearer keys required for POST, PUT and DELETE", K_KEYS, 0,
     0},
    {S_KEYS_FILE, "api-keys-file", "GRAVITAS_API_KEYS_FILE", "FILE", "none",
     "file with one bearer key per line (blank lines and # comments skipped)",
     K_KEYS_FILE, 0, 0},
    {S_MAX_BODY, "max-body-bytes", "GRAVITAS_MAX_BODY_BYTES", "N",
     "33554432 (32 MiB)", "largest request body in bytes (1..1073741824)",
     K_SIZE, 1, 1024 * MIB},
    {S_MAX_ROWS, "max-rows", "GRAVITAS_MAX_ROWS", "N", "1000000",
     "most rows in a dataset (1..100000000)", K_SIZE, 1, 100000000},
    {S_MAX_COLUMNS, "max-columns", "GRAVITAS_MAX_COLUMNS", "N", "256",
     "most variables in a dataset (1..65536)", K_SIZE, 1, 65536},
    {S_MAX_FORMULA, "max-formula-len", "GRAVITAS_MAX_FORMULA_LEN", "N", "2048",
     "longest formula in bytes (1..1048576)", K_SIZE, 1, 1048576},
    {S_MAX_DEPTH, "max-json-depth", "GRAVITAS_MAX_JSON_DEPTH", "N", "32",
     "deepest nesting of a JSON body (1..2048)", K_SIZE, 1, 2048},
    {S_MAX_FITS, "max-concurrent-fits", "GRAVITAS_MAX_CONCURRENT_FITS", "N",
     "the number of threads",
     "fits running at once; beyond it 503 busy (0..4096; 0 refuses fits)",
     K_UNSIGNED, 0, 4096},
    {S_TIMEOUT, "connection-timeout", "GRAVITAS_CONNECTION_TIMEOUT", "SECONDS",
     "30", "idle seconds before a connection is closed (1..86400)", K_UNSIGNED,
     1, 86400},
    {S_CACHE, "cache-mb", "GRAVITAS_CACHE_MB", "N", "256",
     "model cache budget in MiB (0..1048576)", K_SIZE, 0, 1048576},
    {S_OPENAPI, "openapi", "GRAVITAS_OPENAPI", "FILE",
     "the source tree's openapi.yaml, else ./openapi.yaml",
     "OpenAPI document served at GET /openapi.yaml", K_STRING, 0, 0},
    {S_WB_URL, "wb-base-url", "GRAVITAS_WB_BASE_URL", "URL",
     "https://api.worldbank.org/v2",
     "World Bank API v2 base URL (http or https; a mirror or a test server)",
     K_STRING, 0, 0},
    {S_WB_TTL, "wb-ttl-hours", "GRAVITAS_WB_TTL_HOURS", "HOURS", "24",
     "cached World Bank values younger than this are served without a "
     "request (0..87600; 0 always fetches)",
     K_UNSIGNED, 0, 87600},
    {S_WB_TIMEOUT, "wb-timeout-ms", "GRAVITAS_WB_TIMEOUT_MS", "MS", "30000",
     "time limit of one World Bank request in milliseconds (100..600000)",
     K_UNSIGNED, 100, 600000},
    {S_GRACE, "shutdown-grace-ms", "GRAVITAS_SHUTDOWN_GRACE_MS", "MS", "10000",
     "on SIGTERM, how long requests in flight may take to finish before "
     "queued writes are drained and the server exits (0..3600000); keep it "
     "under the supervisor's stop timeout",
     K_UNSIGNED, 0, 3600000},
};

const char *srv_config_getenv(void *ctx, const char *name) {
  (void)ctx;
  return getenv(name);
}

static void fail(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t errsz, const char *fmt, ...) {
  if (errsz == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errsz, fmt, ap);
  va_end(ap);
}

/* Parses a whole decimal number in [min, max]. Unlike strtoull alone it
 * refuses signs, spaces, empty text and trailing garbage. */
static bool parse_number(const char *s, unsigned long long min,
                         unsigned long long max, unsigned long long *out) {
  if (s[0] < '0' || s[0] > '9') return false;
  errno = 0;
  char *end = NULL;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0') return false;
  if (v < min || v > max) return false;
  *out = v;
  return true;
}

static void free_list(char **list, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(list[i]);
  free(list);
}

static bool list_push(char ***list, size_t *n, const char *s, size_t len) {
  char **grown = realloc(*list, (*n + 1) * sizeof *grown);
  if (grown == NULL) return false;
  *list = grown;
  char *copy = strndup(s, len);
  if (copy == NULL) return false;
  grown[(*n)++] = copy;
  return true;
}

/* Trims spaces and tabs from both ends of [*s, *s + *len). */
static void trim(const char **s, size_t *len) {
  while (*len && (**s == ' ' || **s == '\t')) {
    (*s)++;
    (*len)--;
  }
  while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
    (*len)--;
}

/* A key is 1..512 visible ASCII characters without a comma, so that it can
 * travel in a header and in the comma list. */
static bool key_ok(const char *s, size_t len) {
  if (len == 0 || len > 512) return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c >= 0x7f || c == ',') return false;
  }
  return true;
}

/* An origin is scheme://host[:port] exactly as browsers send it: http or
 * https, a non-empty host, no path, no spaces. */
static bool origin_ok(const char *s, size_t len) {
  size_t skip;
  if (len > 7 && strncmp(s, "http://", 7) == 0)
    skip = 7;
  else if (len > 8 && strncmp(s, "https://", 8) == 0)
    skip = 8;
  else
    return false;
  if (len > 1024) return false;
  for (size_t i = skip; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c >= 0x7f || c == '/' || c == '*') return false;
  }
  return true;
}

typedef bool (*item_check)(const char *s, size_t len);

/* Splits a comma list into list, checking every item. Returns false with
 * err set on an empty or invalid item or when out of memory. */
static bool split_list(const char *value, const char *what, const char *src,
                       item_check check, char ***list, size_t *n, char *err,
                       size_t errsz) {
  const char *p = value;
  for (size_t index = 1;; index++) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    const char *item = p;
    trim(&item, &len);
    if (len == 0) {
      fail(err, errsz, "%s: item %zu of the %s list is empty", src, index,
           what);
      return false;
    }
    if (!check(item, len)) {
      /* Keys are secrets: name the position, never the value. */
      if (check == key_ok)
        fail(err, errsz,
             "%s: key %zu is not 1..512 visible ASCII characters without "
             "commas",
             src, index);
      else
        fail(err, errsz,
             "%s: '%.*s' is not an origin like https://example.org[:port]", src,
             (int)(len > 200 ? 200 : len), item);
      return false;
    }
    if (!list_push(list, n, item, len)) {
      fail(err, errsz, "%s: out of memory", src);
      return false;
    }
    if (comma == NULL) break;
    p = comma + 1;
  }
  return true;
}

static bool read_keys_file(srv_config *cfg, const char *path, const char *src,
                           char *err, size_t errsz) {
  FILE *f = fopen(path, "r");
  char *line = NULL;
  size_t cap = 0;
  size_t found = 0;
  bool ok = false;
  if (f == NULL) {
    fail(err, errsz, "%s: cannot open '%s': %s", src, path, strerror(errno));
    goto cleanup;
  }
  ssize_t got;
  for (size_t lineno = 1; (got = getline(&line, &cap, f)) >= 0; lineno++) {
    const char *s = line;
    size_t len = (size_t)got;
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
      len--;
    trim(&s, &len);
    if (len == 0 || s[0] == '#') continue;
    if (!key_ok(s, len)) {
      fail(err, errsz,
           "%s: line %zu of '%s' is not a key of 1..512 visible ASCII "
           "characters without commas",
           src, lineno, path);
      goto cleanup;
    }
    if (!list_push(&cfg->api_keys, &cfg->n_api_keys, s, len)) {
      fail(err, errsz, "%s: out of memory", src);
      goto cleanup;
    }
    found++;
  }
  if (ferror(f)) {
    fail(err, errsz, "%s: cannot read '%s'", src, path);
    goto cleanup;
  }
  if (found == 0) {
    /* A configured but empty key file would silently leave writes open. */
    fail(err, errsz, "%s: '%s' holds no keys", src, path);
    goto cleanup;
  }
  cfg->api_keys_file = strdup(path);
  if (cfg->api_keys_file == NULL) {
    fail(err, errsz, "%s: out of memory", src);
    goto cleanup;
  }
  ok = true;
cleanup:
  free(line);
  if (f) fclose(f);
  return ok;
}

static bool host_ok(const char *s) {
  unsigned char addr[16];
  return strcmp(s, "localhost") == 0 || inet_pton(AF_INET, s, addr) == 1 ||
         inet_pton(AF_INET6, s, addr) == 1;
}

static bool set_string(char **dst, const char *value) {
  char *copy = strdup(value);
  if (copy == NULL) return false;
  free(*dst);
  *dst = copy;
  return true;
}

/* Applies one setting's value; src names where it came from ("--port" or
 * "GRAVITAS_PORT") for the error message. */
static bool apply(srv_config *cfg, const setting *s, const char *value,
                  const char *src, char *err, size_t errsz) {
  unsigned long long v = 0;
  switch (s->kind) {
  case K_PORT:
  case K_UNSIGNED:
  case K_SIZE:
    if (!parse_number(value, s->min, s->max, &v)) {
      fail(err, errsz, "%s: '%.64s' is not a whole number in %llu..%llu", src,
           value, s->min, s->max);
      return false;
    }
    break;
  case K_HOST:
    if (!host_ok(value)) {
      fail(err, errsz,
           "%s: '%.64s' is not a numeric IPv4 or IPv6 address or localhost",
           src, value);
      return false;
    }
    break;
  case K_STRING:
    if (value[0] == '\0') {
      fail(err, errsz, "%s: must not be empty", src);
      return false;
    }
    break;
  case K_ORIGINS:
  case K_KEYS:
  case K_KEYS_FILE: break;
  }

  switch (s->id) {
  case S_PORT: cfg->port = (unsigned)v; return true;
  case S_THREADS: cfg->threads = (unsigned)v; return true;
  case S_MAX_FITS: cfg->max_concurrent_fits = (unsigned)v; return true;
  case S_TIMEOUT: cfg->connection_timeout = (unsigned)v; return true;
  case S_MAX_BODY: cfg->limits.max_body_bytes = (size_t)v; return true;
  case S_MAX_ROWS: cfg->limits.max_rows = (size_t)v; return true;
  case S_MAX_COLUMNS: cfg->limits.max_columns = (size_t)v; return true;
  case S_MAX_FORMULA: cfg->limits.max_formula_len = (size_t)v; return true;
  case S_MAX_DEPTH: cfg->limits.max_json_depth = (size_t)v; return true;
  case S_CACHE: cfg->cache_mb = (size_t)v; return true;
  case S_WB_TTL: cfg->wb_ttl_hours = (unsigned)v; return true;
  case S_WB_TIMEOUT: cfg->wb_timeout_ms = (unsigned)v; return true;
  case S_GRACE: cfg->shutdown_grace_ms = (unsigned)v; return true;
  case S_WB_URL:
    if (strncmp(value, "http://", 7) != 0 &&
        strncmp(value, "https://", 8) != 0) {
      fail(err, errsz, "%s: '%.64s' is not an http:// or https:// URL", src,
           value);
      return false;
    }
    if (!set_string(&cfg->wb_base_url, value)) {
      fail(err, errsz, "%s: out of memory", src);
      return false;
    }
    return true;
  case S_HOST:
  case S_DATA_DIR:
  case S_OPENAPI: {
    char **dst = s->id == S_HOST       ? &cfg->host
                 : s->id == S_DATA_DIR ? &cfg->data_dir
                                       : &cfg->openapi_path;
    if (!set_string(dst, value)) {
      fail(err, errsz, "%s: out of memory", src);
      return false;
    }
    return true;
  }
  case S_CORS:
    if (strcmp(value, "*") == 0) {
      cfg->cors_any = true;
      return true;
    }
    if (strchr(value, '*') != NULL) {
      fail(err, errsz, "%s: * must stand alone, not inside a list", src);
      return false;
    }
    return split_list(value, "origin", src, origin_ok, &cfg->cors_origins,
                      &cfg->n_cors_origins, err, errsz);
  case S_KEYS:
    return split_list(value, "key", src, key_ok, &cfg->api_keys,
                      &cfg->n_api_keys, err, errsz);
  case S_KEYS_FILE: return read_keys_file(cfg, value, src, err, errsz);
  case S_COUNT: break;
  }
  fail(err, errsz, "%s: unknown setting", src);
  return false;
}

static bool set_defaults(srv_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->port = 8080;
  cfg->threads = srv_cpus(256);
  api_limits_default(&cfg->limits);
  cfg->connection_timeout = 30;
  cfg->cache_mb = 256;
  cfg->wb_ttl_hours = 24;
  cfg->wb_timeout_ms = 30000;
  cfg->shutdown_grace_ms = 10000;
  const char *openapi = GRAVITAS_SOURCE_DIR "/openapi.yaml";
  if (access(openapi, R_OK) != 0) openapi = "./openapi.yaml";
  cfg->host = strdup("127.0.0.1");
  cfg->data_dir = strdup("./var");
  cfg->openapi_path = strdup(openapi);
  cfg->wb_base_url = strdup("https://api.worldbank.org/v2");
  return cfg->host && cfg->data_dir && cfg->openapi_path && cfg->wb_base_url;
}

static const setting *find_flag(const char *name, size_t len) {
  for (size_t i = 0; i < S_COUNT; i++)
    if (strlen(settings[i].flag) == len &&
        strncmp(settings[i].flag, name, len) == 0)
      return &settings[i];
  return NULL;
}

srv_config_result srv_config_parse(srv_config *cfg, int argc,
                                   char *const argv[], srv_env_fn env,
                                   void *env_ctx, char *err, size_t errsz) {
  const char *from_flag[S_COUNT] = {0};
  char src[96];

  if (errsz) err[0] = '\0';
  memset(cfg, 0, sizeof *cfg);
  /* Flags are collected first so that --help works whatever else is set. */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
      return SRV_CONFIG_HELP;
    if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0)
      return SRV_CONFIG_VERSION;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
      fail(err, errsz, "unexpected argument '%.64s' (see --help)", a);
      return SRV_CONFIG_ERROR;
    }
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const setting *s = find_flag(name, len);
    if (s == NULL) {
      fail(err, errsz, "unknown option '--%.*s' (see --help)",
           (int)(len > 64 ? 64 : len), name);
      return SRV_CONFIG_ERROR;
    }
    if (eq != NULL) {
      from_flag[s->id] = eq + 1;
    } else if (i + 1 < argc) {
      from_flag[s->id] = argv[++i];
    } else {
      fail(err, errsz, "--%s needs a value", s->flag);
      return SRV_CONFIG_ERROR;
    }
  }

  if (!set_defaults(cfg)) {
    fail(err, errsz, "out of memory");
    goto error;
  }
  bool fits_set = false;
  for (size_t i = 0; i < S_COUNT; i++) {
    const setting *s = &settings[i];
    const char *value = from_flag[s->id];
    if (value != NULL) {
      snprintf(src, sizeof src, "--%s", s->flag);
    } else {
      value = env ? env(env_ctx, s->env) : NULL;
      if (value != NULL && value[0] == '\0') value = NULL;
      snprintf(src, sizeof src, "%s", s->env);
    }
    if (value == NULL) continue;
    if (!apply(cfg, s, value, src, err, errsz)) goto error;
    if (s->id == S_MAX_FITS) fits_set = true;
  }
  if (!fits_set) cfg->max_concurrent_fits = cfg->threads;
  return SRV_CONFIG_RUN;

error:
  srv_config_free(cfg);
  return SRV_CONFIG_ERROR;
}

void srv_config_usage(FILE *out) {
  fprintf(out,
          "Usage: gravitas [--help] [--version] [--SETTING VALUE | "
          "--SETTING=VALUE]...\n"
          "\n"
          "Gravitas %s: gravity models of trade and trade potential over "
          "HTTP.\n"
          "Each setting is a flag or an environment variable; a flag beats "
          "the\n"
          "variable, which beats the default. An empty variable counts as "
          "unset.\n\n",
          GRAVITAS_VERSION);
  for (size_t i = 0; i < S_COUNT; i++) {
    const setting *s = &settings[i];
    fprintf(out, "  --%s %s\n      env %s, default %s\n      %s\n", s->flag,
            s->meta, s->env, s->deflt, s->help);
  }
  fprintf(out, "\n  --help     print this text\n"
               "  --version  print the version\n"
               "\nExit status: 0 after a clean shutdown (SIGTERM, SIGINT), "
               "1 when the server cannot start, 2 on a bad setting.\n");
}

void srv_config_free(srv_config *cfg) {
  if (cfg == NULL) return;
  free(cfg->host);
  free(cfg->data_dir);
  free(cfg->openapi_path);
  free(cfg->wb_base_url);
  free(cfg->api_keys_file);
  free_list(cfg->cors_origins, cfg->n_cors_origins);
  free_list(cfg->api_keys, cfg->n_api_keys);
  memset(cfg, 0, sizeof *cfg);
}

bool srv_mkdir_p(const char *path, char *err, size_t errsz) {
  struct stat st;
  size_t len = strlen(path);
  if (len == 0) {
    fail(err, errsz, "the directory name is empty");
    return false;
  }
  char *copy = strdup(path);
  if (copy == NULL) {
    fail(err, errsz, "out of memory");
    return false;
  }
  bool ok = false;
  /* Create each prefix ending before a '/', then the whole path. */
  for (size_t i = 1; i <= len; i++) {
    if (i < len && copy[i] != '/') continue;
    char saved = copy[i];
    copy[i] = '\0';
    if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
      fail(err, errsz, "cannot create '%s': %s", copy, strerror(errno));
      goto cleanup;
    }
    copy[i] = saved;
  }
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
    fail(err, errsz, "'%s' exists but is not a directory", path);
    goto cleanup;
  }
  ok = true;
cleanup:
  free(copy);
  return ok;
}
