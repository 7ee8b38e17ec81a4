/* Configuration: defaults, environment, flags beating the environment, and
 * a refusal with a clear message for every kind of bad value. */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "srv_config.h"
#include "srv_cpus.h"

/* A fake environment: a NULL-terminated list of NAME=value strings. */
static const char *fake_env(void *ctx, const char *name) {
  const char *const *vars = ctx;
  size_t n = strlen(name);
  for (size_t i = 0; vars[i] != NULL; i++)
    if (strncmp(vars[i], name, n) == 0 && vars[i][n] == '=')
      return vars[i] + n + 1;
  return NULL;
}

static srv_config cfg;
static char err[512];

static srv_config_result parse(char *const *argv, const char *const *env) {
  int argc = 0;
  while (argv[argc] != NULL)
    argc++;
  return srv_config_parse(&cfg, argc, argv, fake_env, (void *)env, err,
                          sizeof err);
}

static void fini(void) {
  srv_config_free(&cfg);
}

TestSuite(config, .fini = fini);

static const char *const no_env[] = {NULL};

Test(config, defaults) {
  char *argv[] = {"gravitas", NULL};
  cr_assert_eq(parse(argv, no_env), SRV_CONFIG_RUN, "%s", err);
  cr_assert_eq(cfg.port, 8080u);
  cr_assert_str_eq(cfg.host, "127.0.0.1");
  cr_assert_str_eq(cfg.data_dir, "./var");
  cr_assert_eq(cfg.threads, srv_cpus(256), "one per usable core");
  cr_assert_eq(cfg.max_concurrent_fits, cfg.threads);
  cr_assert_eq(cfg.connection_timeout, 30u);
  cr_assert_eq(cfg.cache_mb, 256u);
  cr_assert_str_eq(cfg.wb_base_url, "https://api.worldbank.org/v2");
  cr_assert_eq(cfg.wb_ttl_hours, 24u);
  cr_assert_eq(cfg.wb_timeout_ms, 30000u);
  cr_assert_eq(cfg.shutdown_grace_ms, 10000u);
  api_limits d;
  api_limits_default(&d);
  cr_assert_eq(cfg.limits.max_body_bytes, 33554432u);
  cr_assert_eq(cfg.limits.max_body_bytes, d.max_body_bytes);
  cr_assert_eq(cfg.limits.max_rows, d.max_rows);
  cr_assert_eq(cfg.limits.max_columns, d.max_columns);
  cr_assert_eq(cfg.limits.max_formula_len, d.max_formula_len);
  cr_assert_eq(cfg.limits.max_json_depth, d.max_json_depth);
  cr_assert_not(cfg.cors_any);
  cr_assert_eq(cfg.n_cors_origins, 0u);
  cr_assert_eq(cfg.n_api_keys, 0u);
  /* The source tree's contract when it is there, else ./openapi.yaml. */
  if (access(GRAVITAS_SOURCE_DIR "/openapi.yaml", R_OK) == 0)
    cr_assert_str_eq(cfg.openapi_path, GRAVITAS_SOURCE_DIR "/openapi.yaml");
  else
    cr_assert_str_eq(cfg.openapi_path, "./openapi.yaml");
}

Test(config, environment_sets_every_setting) {
  const char *env[] = {"GRAVITAS_PORT=18081",
                       "GRAVITAS_HOST=::1",
                       "GRAVITAS_DATA_DIR=/tmp/gravitas-data",
                       "GRAVITAS_THREADS=3",
                       "GRAVITAS_CORS_ORIGINS=https://a.example, "
                       "http://b.example:8443",
                       "GRAVITAS_API_KEYS=k3y-0ne,Second.Key_2",
                       "GRAVITAS_MAX_BODY_BYTES=1048577",
                       "GRAVITAS_MAX_ROWS=123457",
                       "GRAVITAS_MAX_COLUMNS=77",
                       "GRAVITAS_MAX_FORMULA_LEN=4099",
                       "GRAVITAS_MAX_JSON_DEPTH=9",
                       "GRAVITAS_MAX_CONCURRENT_FITS=5",
                       "GRAVITAS_CONNECTION_TIMEOUT=17",
                       "GRAVITAS_CACHE_MB=513",
                       "GRAVITAS_OPENAPI=/srv/contract.yaml",
                       "GRAVITAS_WB_BASE_URL=http://127.0.0.1:8999/v2",
                       "GRAVITAS_WB_TTL_HOURS=7",
                       "GRAVITAS_WB_TIMEOUT_MS=2501",
                       "GRAVITAS_SHUTDOWN_GRACE_MS=0",
                       NULL};
  char *argv[] = {"gravitas", NULL};
  cr_assert_eq(parse(argv, env), SRV_CONFIG_RUN, "%s", err);
  cr_assert_eq(cfg.port, 18081u);
  cr_assert_str_eq(cfg.host, "::1");
  cr_assert_str_eq(cfg.data_dir, "/tmp/gravitas-data");
  cr_assert_eq(cfg.threads, 3u);
  cr_assert_eq(cfg.n_cors_origins, 2u);
  cr_assert_str_eq(cfg.cors_origins[0], "https://a.example");
  cr_assert_str_eq(cfg.cors_origins[1], "http://b.example:8443");
  cr_assert_eq(cfg.n_api_keys, 2u);
  cr_assert_str_eq(cfg.api_keys[0], "k3y-0ne");
  cr_assert_str_eq(cfg.api_keys[1], "Second.Key_2");
  cr_assert_eq(cfg.limits.max_body_bytes, 1048577u);
  cr_assert_eq(cfg.limits.max_rows, 123457u);
  cr_assert_eq(cfg.limits.max_columns, 77u);
  cr_assert_eq(cfg.limits.max_formula_len, 4099u);
  cr_assert_eq(cfg.limits.max_json_depth, 9u);
  cr_assert_eq(cfg.max_concurrent_fits, 5u);
  cr_assert_eq(cfg.connection_timeout, 17u);
  cr_assert_eq(cfg.cache_mb, 513u);
  cr_assert_str_eq(cfg.openapi_path, "/srv/contract.yaml");
  cr_assert_str_eq(cfg.wb_base_url, "http://127.0.0.1:8999/v2");
  cr_assert_eq(cfg.wb_ttl_hours, 7u);
  cr_assert_eq(cfg.wb_timeout_ms, 2501u);
  cr_assert_eq(cfg.shutdown_grace_ms, 0u);
}

Test(config, world_bank_flags_beat_environment) {
  const char *env[] = {"GRAVITAS_WB_BASE_URL=http://127.0.0.1:1/v2",
                       "GRAVITAS_WB_TTL_HOURS=5", NULL};
  char *argv[] = {"gravitas", "--wb-base-url", "https://mirror.example/v2",
                  "--wb-ttl-hours=0", NULL};
  cr_assert_eq(parse(argv, env), SRV_CONFIG_RUN, "%s", err);
  cr_assert_str_eq(cfg.wb_base_url, "https://mirror.example/v2");
  cr_assert_eq(cfg.wb_ttl_hours, 0u);
}

Test(config, flags_beat_environment) {
  const char *env[] = {"GRAVITAS_PORT=18081", "GRAVITAS_THREADS=3",
                       "GRAVITAS_HOST=10.1.2.3", "GRAVITAS_CORS_ORIGINS=*",
                       NULL};
  char *argv[] = {"gravitas",
                  "--port",
                  "0",
                  "--threads=7",
                  "--host",
                  "0.0.0.0",
                  "--cors-origins",
                  "https://only.example",
                  NULL};
  cr_assert_eq(parse(argv, env), SRV_CONFIG_RUN, "%s", err);
  cr_assert_eq(cfg.port, 0u);
  cr_assert_eq(cfg.threads, 7u);
  cr_assert_eq(cfg.max_concurrent_fits, 7u, "fits default to the threads");
  cr_assert_str_eq(cfg.host, "0.0.0.0");
  cr_assert_not(cfg.cors_any);
  cr_assert_eq(cfg.n_cors_origins, 1u);
}

Test(config, flag_beats_a_bad_environment_value) {
  /* Only the value in force is parsed: the flag wins, so the environment
   * value is never looked at. */
  const char *env[] = {"GRAVITAS_PORT=eighty", NULL};
  char *argv[] = {"gravitas", "--port", "65535", NULL};
  cr_assert_eq(parse(argv, env), SRV_CONFIG_RUN, "%s", err);
  cr_assert_eq(cfg.port, 65535u);
}

Test(config, empty_environment_counts_as_unset) {
  const char *env[] = {"GRAVITAS_PORT=", "GRAVITAS_API_KEYS=", NULL};
  char *argv[] = {"gravitas", NULL};
  cr_assert_eq(parse(argv, env), SRV_CONFIG_RUN, "%s", err);
  cr_assert_eq(cfg.port, 8080u);
  cr_assert_eq(cfg.n_api_keys, 0u);
}

Test(config, cors_star_and_zero_fits) {
  const char *env[] = {"GRAVITAS_CORS_ORIGINS=*",
                       "GRAVITAS_MAX_CONCURRENT_FITS=0", NULL};
  char *argv[] = {"gravitas", NULL};
  cr_assert_eq(parse(argv, env), SRV_CONFIG_RUN, "%s", err);
  cr_assert(cfg.cors_any);
  cr_assert_eq(cfg.max_concurrent_fits, 0u);
}

Test(config, help_and_version) {
  char *help[] = {"gravitas", "--port", "1", "--help", NULL};
  cr_assert_eq(parse(help, no_env), SRV_CONFIG_HELP);
  char *h[] = {"gravitas", "-h", NULL};
  cr_assert_eq(parse(h, no_env), SRV_CONFIG_HELP);
  char *version[] = {"gravitas", "--version", NULL};
  cr_assert_eq(parse(version, no_env), SRV_CONFIG_VERSION);
}

Test(config, usage_lists_every_setting) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  cr_assert_not_null(f);
  srv_config_usage(f);
  fclose(f);
  static const char *const must[] = {"--port",
                                     "GRAVITAS_PORT",
                                     "--host",
                                     "GRAVITAS_HOST",
                                     "--data-dir",
                                     "GRAVITAS_DATA_DIR",
                                     "--threads",
                                     "GRAVITAS_THREADS",
                                     "--cors-origins",
                                     "GRAVITAS_CORS_ORIGINS",
                                     "--api-keys",
                                     "GRAVITAS_API_KEYS",
                                     "--api-keys-file",
                                     "GRAVITAS_API_KEYS_FILE",
                                     "--max-body-bytes",
                                     "GRAVITAS_MAX_BODY_BYTES",
                                     "--max-rows",
                                     "GRAVITAS_MAX_ROWS",
                                     "--max-columns",
                                     "GRAVITAS_MAX_COLUMNS",
                                     "--max-formula-len",
                                     "GRAVITAS_MAX_FORMULA_LEN",
                                     "--max-json-depth",
                                     "GRAVITAS_MAX_JSON_DEPTH",
                                     "--max-concurrent-fits",
                                     "GRAVITAS_MAX_CONCURRENT_FITS",
                                     "--connection-timeout",
                                     "GRAVITAS_CONNECTION_TIMEOUT",
                                     "--cache-mb",
                                     "GRAVITAS_CACHE_MB",
                                     "--openapi",
                                     "GRAVITAS_OPENAPI",
                                     "--wb-base-url",
                                     "GRAVITAS_WB_BASE_URL",
                                     "--wb-ttl-hours",
                                     "GRAVITAS_WB_TTL_HOURS",
                                     "--wb-timeout-ms",
                                     "GRAVITAS_WB_TIMEOUT_MS",
                                     "--shutdown-grace-ms",
                                     "GRAVITAS_SHUTDOWN_GRACE_MS",
                                     "default 8080",
                                     "default 127.0.0.1",
                                     "default ./var",
                                     "33554432",
                                     "--version",
                                     "--help"};
  for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
    cr_expect(strstr(text, must[i]) != NULL, "usage lacks %s", must[i]);
  free(text);
}

/* Each bad value must be refused with a message naming where it came from. */
typedef struct bad_case {
  const char *flag; /* as given on the command line */
  const char *value;
  const char *mention; /* expected in the message */
} bad_case;

static const bad_case bad_flags[] = {
    {"--port", "65536", "--port"},
    {"--port", "-1", "--port"},
    {"--port", "+80", "--port"},
    {"--port", " 80", "--port"},
    {"--port", "80x", "--port"},
    {"--port", "", "--port"},
    {"--port", "99999999999999999999999", "--port"},
    {"--port", "0x50", "--port"},
    {"--threads", "0", "--threads"},
    {"--threads", "257", "--threads"},
    {"--threads", "2.5", "--threads"},
    {"--host", "example.org", "--host"},
    {"--host", "256.1.1.1", "--host"},
    {"--host", "", "--host"},
    {"--data-dir", "", "--data-dir"},
    {"--openapi", "", "--openapi"},
    {"--max-body-bytes", "0", "--max-body-bytes"},
    {"--max-body-bytes", "1073741825", "--max-body-bytes"},
    {"--max-rows", "0", "--max-rows"},
    {"--max-rows", "100000001", "--max-rows"},
    {"--max-columns", "65537", "--max-columns"},
    {"--max-formula-len", "0", "--max-formula-len"},
    {"--max-json-depth", "2049", "--max-json-depth"},
    {"--max-concurrent-fits", "4097", "--max-concurrent-fits"},
    {"--max-concurrent-fits", "-0", "--max-concurrent-fits"},
    {"--connection-timeout", "0", "--connection-timeout"},
    {"--connection-timeout", "86401", "--connection-timeout"},
    {"--cache-mb", "1048577", "--cache-mb"},
    {"--cors-origins", "example.org", "not an origin"},
    {"--cors-origins", "https://a.example/path", "not an origin"},
    {"--cors-origins", "https://a.example,,https://b.example", "empty"},
    {"--cors-origins", "https://a.example,*", "stand alone"},
    {"--cors-origins", "ftp://a.example", "not an origin"},
    {"--api-keys", "good,,other", "empty"},
    {"--api-keys", "has space", "--api-keys"},
    {"--api-keys-file", "/nonexistent/keys.txt", "cannot open"},
    {"--wb-base-url", "ftp://mirror.example/v2", "--wb-base-url"},
    {"--wb-base-url", "", "--wb-base-url"},
    {"--wb-ttl-hours", "87601", "--wb-ttl-hours"},
    {"--wb-ttl-hours", "-1", "--wb-ttl-hours"},
    {"--wb-timeout-ms", "99", "--wb-timeout-ms"},
    {"--shutdown-grace-ms", "3600001", "--shutdown-grace-ms"},
    {"--shutdown-grace-ms", "-1", "--shutdown-grace-ms"},
};

Test(config, every_bad_flag_value_is_refused) {
  for (size_t i = 0; i < sizeof bad_flags / sizeof bad_flags[0]; i++) {
    char *argv[] = {"gravitas", (char *)bad_flags[i].flag,
                    (char *)bad_flags[i].value, NULL};
    err[0] = '\0';
    cr_expect_eq(parse(argv, no_env), SRV_CONFIG_ERROR, "%s %s accepted",
                 bad_flags[i].flag, bad_flags[i].value);
    cr_expect(strstr(err, bad_flags[i].mention) != NULL,
              "message for %s '%s' lacks '%s': %s", bad_flags[i].flag,
              bad_flags[i].value, bad_flags[i].mention, err);
    cr_expect_null(cfg.host, "a refused configuration holds nothing");
  }
}

Test(config, bad_environment_value_names_the_variable) {
  const char *env[] = {"GRAVITAS_THREADS=many", NULL};
  char *argv[] = {"gravitas", NULL};
  cr_assert_eq(parse(argv, env), SRV_CONFIG_ERROR);
  cr_assert(strstr(err, "GRAVITAS_THREADS") != NULL, "%s", err);
  cr_assert(strstr(err, "'many'") != NULL, "%s", err);
}

Test(config, bad_key_is_not_echoed) {
  char *argv[] = {"gravitas", "--api-keys", "fine,s3cret value", NULL};
  cr_assert_eq(parse(argv, no_env), SRV_CONFIG_ERROR);
  cr_assert(strstr(err, "s3cret") == NULL, "key leaked: %s", err);
  cr_assert(strstr(err, "key 2") != NULL, "%s", err);
}

Test(config, unknown_missing_and_positional_arguments) {
  char *unknown[] = {"gravitas", "--prot", "80", NULL};
  cr_assert_eq(parse(unknown, no_env), SRV_CONFIG_ERROR);
  cr_assert(strstr(err, "--prot") != NULL, "%s", err);
  char *missing[] = {"gravitas", "--port", NULL};
  cr_assert_eq(parse(missing, no_env), SRV_CONFIG_ERROR);
  cr_assert(strstr(err, "needs a value") != NULL, "%s", err);
  char *positional[] = {"gravitas", "8080", NULL};
  cr_assert_eq(parse(positional, no_env), SRV_CONFIG_ERROR);
  cr_assert(strstr(err, "unexpected argument") != NULL, "%s", err);
  char *dashes[] = {"gravitas", "--", NULL};
  cr_assert_eq(parse(dashes, no_env), SRV_CONFIG_ERROR);
}

static char *write_temp(const char *text) {
  char *path = strdup("/tmp/gravitas-keys-XXXXXX");
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  FILE *f = fdopen(fd, "w");
  fputs(text, f);
  fclose(f);
  return path;
}

Test(config, keys_file_adds_to_keys_from_the_list) {
  char *path = write_temp("# ops keys\n\n  alpha-7f3a  \r\nbeta-91c2\n");
  char file_env[256];
  snprintf(file_env, sizeof file_env, "GRAVITAS_API_KEYS_FILE=%s", path);
  const char *env[] = {"GRAVITAS_API_KEYS=inline-5d1e", file_env, NULL};
  char *argv[] = {"gravitas", NULL};
  cr_assert_eq(parse(argv, env), SRV_CONFIG_RUN, "%s", err);
  cr_assert_eq(cfg.n_api_keys, 3u);
  cr_assert_str_eq(cfg.api_keys[0], "inline-5d1e");
  cr_assert_str_eq(cfg.api_keys[1], "alpha-7f3a");
  cr_assert_str_eq(cfg.api_keys[2], "beta-91c2");
  cr_assert_str_eq(cfg.api_keys_file, path);
  unlink(path);
  free(path);
}

Test(config, keys_file_without_keys_is_refused) {
  char *path = write_temp("# nothing but comments\n\n");
  char *argv[] = {"gravitas", "--api-keys-file", path, NULL};
  cr_assert_eq(parse(argv, no_env), SRV_CONFIG_ERROR);
  cr_assert(strstr(err, "holds no keys") != NULL, "%s", err);
  unlink(path);
  free(path);
}

Test(config, keys_file_with_a_bad_line_names_the_line) {
  char *path = write_temp("good-key\nbad key here\n");
  char *argv[] = {"gravitas", "--api-keys-file", path, NULL};
  cr_assert_eq(parse(argv, no_env), SRV_CONFIG_ERROR);
  cr_assert(strstr(err, "line 2") != NULL, "%s", err);
  cr_assert(strstr(err, "bad key") == NULL, "key leaked: %s", err);
  unlink(path);
  free(path);
}

Test(config, mkdir_p_creates_parents) {
  char base[] = "/tmp/gravitas-mkdir-XXXXXX";
  cr_assert_not_null(mkdtemp(base));
  char path[256];
  snprintf(path, sizeof path, "%s/a/b/c", base);
  cr_assert(srv_mkdir_p(path, err, sizeof err), "%s", err);
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert(S_ISDIR(st.st_mode));
  cr_assert(srv_mkdir_p(path, err, sizeof err), "existing is fine: %s", err);
  /* A file in the way is an error with a reason. */
  char file[300];
  snprintf(file, sizeof file, "%s/a/file", base);
  FILE *f = fopen(file, "w");
  fclose(f);
  char below[320];
  snprintf(below, sizeof below, "%s/sub", file);
  cr_assert_not(srv_mkdir_p(file, err, sizeof err));
  cr_assert(strstr(err, "not a directory") != NULL, "%s", err);
  cr_assert_not(srv_mkdir_p(below, err, sizeof err));
  cr_assert(strstr(err, "cannot create") != NULL, "%s", err);
  cr_assert_not(srv_mkdir_p("", err, sizeof err));
  unlink(file);
  rmdir(path);
  snprintf(path, sizeof path, "%s/a/b", base);
  rmdir(path);
  snprintf(path, sizeof path, "%s/a", base);
  rmdir(path);
  rmdir(base);
}
