/* The World Bank fetcher against a real local HTTP server playing the API
 * (tests/wbfixture/server.py on loopback, started per test): data equal to
 * the WDI extract value for value, then every misbehaviour it can stage. */
#include <criterion/criterion.h>

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "srv_buf.h"
#include "wb_fetch.h"

#define FIXTURE_DIR GRAVITAS_SOURCE_DIR "/tests/wbfixture"

/* ---- the fixture server -------------------------------------------------- */

static pid_t fx_pid = -1;
static int fx_port;

static void fx_start(void) {
  curl_global_init(CURL_GLOBAL_ALL);
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  fx_pid = fork();
  cr_assert_geq(fx_pid, 0);
  if (fx_pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    /* Tracebacks of clients that hung up (timeouts) are expected noise. */
    if (freopen("/dev/null", "w", stderr) == NULL) _exit(126);
    execl("/usr/bin/python3", "python3", FIXTURE_DIR "/server.py",
          (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char line[32];
  size_t n = 0;
  struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
  while (n < sizeof line - 1 && poll(&pfd, 1, 15000) > 0) {
    ssize_t got = read(fds[0], line + n, 1);
    if (got <= 0 || line[n] == '\n') break;
    n++;
  }
  line[n] = '\0';
  close(fds[0]);
  char *end = NULL;
  long port = strtol(line, &end, 10);
  cr_assert(n > 0 && *end == '\0' && port > 0 && port < 65536,
            "fixture printed no port (\"%s\")", line);
  fx_port = (int)port;
}

static void fx_stop(void) {
  if (fx_pid > 0) {
    kill(fx_pid, SIGTERM);
    waitpid(fx_pid, NULL, 0);
    fx_pid = -1;
  }
  curl_global_cleanup();
}

TestSuite(wb_fetch, .init = fx_start, .fini = fx_stop, .timeout = 60);

/* The base URL for a scenario ("" for plain behaviour). */
static const char *base(const char *scenario) {
  static char buf[256];
  if (scenario[0] == '\0')
    snprintf(buf, sizeof buf, "http://127.0.0.1:%d/v2", fx_port);
  else
    snprintf(buf, sizeof buf, "http://127.0.0.1:%d/scenario/%s/v2", fx_port,
             scenario);
  return buf;
}

/* Fast settings for tests: short waits, few retries. */
static wb_config test_config(const char *scenario) {
  wb_config c;
  wb_config_defaults(&c);
  c.base_url = base(scenario);
  c.timeout_connect_ms = 2000;
  c.timeout_total_ms = 10000;
  c.max_retries = 2;
  c.backoff_base_ms = 20;
  c.backoff_max_ms = 200;
  return c;
}

static size_t to_buf(char *p, size_t size, size_t n, void *ud) {
  return srv_buf_append(ud, p, size * n) == SRV_BUF_OK ? size * n : 0;
}

/* GET /_stats from the fixture as JSON (caller decrefs). */
static json_t *fx_stats(void) {
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/_stats", fx_port);
  srv_buf b;
  srv_buf_init(&b, 1 << 24);
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, to_buf);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)&b);
  cr_assert_eq(curl_easy_perform(e), CURLE_OK);
  curl_easy_cleanup(e);
  json_error_t jerr;
  json_t *j = json_loadb(b.data, b.len, 0, &jerr);
  srv_buf_free(&b);
  cr_assert_not_null(j, "stats: %s", jerr.text);
  return j;
}

static long long stat_int(const char *name) {
  json_t *s = fx_stats();
  long long v = json_integer_value(json_object_get(s, name));
  json_decref(s);
  return v;
}

static double elapsed_s(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) +
         (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- the committed WDI extract, read independently of the fixture ------ */

typedef struct csv_cell {
  char iso3[8];
  char ind[32];
  int year;
  bool has;
  double value;
} csv_cell;

static csv_cell *csv;
static size_t n_csv;

static void load_csv(void) {
  FILE *f = fopen(FIXTURE_DIR "/wdi_central_asia.csv", "r");
  cr_assert_not_null(f);
  csv = calloc(2000, sizeof *csv);
  char line[256];
  cr_assert_not_null(fgets(line, sizeof line, f)); /* header */
  while (fgets(line, sizeof line, f) != NULL) {
    cr_assert_lt(n_csv, 2000u);
    csv_cell *c = &csv[n_csv++];
    char *f1 = strchr(line, ',');
    char *f2 = f1 ? strchr(f1 + 1, ',') : NULL;
    char *f3 = f2 ? strchr(f2 + 1, ',') : NULL;
    cr_assert(f1 && f2 && f3, "bad CSV line %s", line);
    *f1 = *f2 = *f3 = '\0';
    cr_assert_lt(strlen(line), sizeof c->iso3);
    cr_assert_lt(strlen(f1 + 1), sizeof c->ind);
    memcpy(c->iso3, line, strlen(line) + 1);
    memcpy(c->ind, f1 + 1, strlen(f1 + 1) + 1);
    char *end;
    c->year = (int)strtol(f2 + 1, &end, 10);
    cr_assert_eq(*end, '\0');
    char *v = f3 + 1;
    v[strcspn(v, "\r\n")] = '\0';
    c->has = v[0] != '\0';
    c->value = c->has ? strtod(v, &end) : NAN;
    if (c->has) cr_assert_eq(*end, '\0', "bad value %s", v);
  }
  fclose(f);
  cr_assert_eq(n_csv, 1960u);
}

static const csv_cell *csv_find(const char *iso3, const char *ind, int year) {
  for (size_t k = 0; k < n_csv; k++)
    if (csv[k].year == year && strcmp(csv[k].iso3, iso3) == 0 &&
        strcmp(csv[k].ind, ind) == 0)
      return &csv[k];
  return NULL;
}

/* Every row equals the CSV cell (value bit for bit, null stays missing) and
 * every requested CSV cell appears exactly once. Returns the missing count.
 */
static size_t assert_equals_csv(const wb_result *r,
                                const char *const *countries, size_t nc,
                                const char *const *inds, size_t ni, int from,
                                int to) {
  if (csv == NULL) load_csv();
  size_t missing = 0, expected = 0;
  for (size_t c = 0; c < nc; c++)
    for (size_t i = 0; i < ni; i++)
      for (int y = from; y <= to; y++)
        if (csv_find(countries[c], inds[i], y)) expected++;
  cr_assert_eq(r->n_rows, expected, "rows %zu, want %zu", r->n_rows, expected);
  for (size_t k = 0; k < r->n_rows; k++) {
    const wb_row *row = &r->rows[k];
    const csv_cell *cell = csv_find(row->country, row->indicator, row->year);
    cr_assert_not_null(cell, "row %s %s %d is not in the CSV", row->country,
                       row->indicator, row->year);
    cr_assert_eq(row->has_value, cell->has, "%s %s %d", row->country,
                 row->indicator, row->year);
    if (cell->has) {
      cr_assert_eq(row->value, cell->value, "%s %s %d: %.17g != %.17g",
                   row->country, row->indicator, row->year, row->value,
                   cell->value);
    } else {
      cr_assert(isnan(row->value), "missing must stay NaN, not %g", row->value);
      missing++;
    }
    for (size_t j = 0; j < k; j++)
      cr_assert(!(r->rows[j].year == row->year &&
                  strcmp(r->rows[j].country, row->country) == 0 &&
                  strcmp(r->rows[j].indicator, row->indicator) == 0),
                "duplicate row %s %s %d", row->country, row->indicator,
                row->year);
  }
  return missing;
}

static const char *const CA6[] = {"KAZ", "KGZ", "UZB", "TJK", "TKM", "CHN"};

/* ---- correct data ------------------------------------------------------- */

Test(wb_fetch, multi_page_fetch_equals_the_wdi_extract) {
  const char *const inds[] = {"NY.GDP.PCAP.PP.CD", "SP.POP.TOTL",
                              "LP.LPI.OVRL.XQ", "FP.CPI.TOTL",
                              "GB.XPD.RSDV.GD.ZS"};
  /* 6 countries x 14 years = 84 rows per indicator: 4 pages of 25. */
  wb_config cfg = test_config("pagesize-25");
  wb_result *r = NULL;
  wb_error err;
  wb_error_kind k =
      wb_fetch_indicators(&cfg, CA6, 6, inds, 5, 2010, 2023, &r, &err);
  cr_assert_eq(k, WB_OK, "%s", err.message);
  cr_assert_str_eq(err.message, "");
  size_t missing = assert_equals_csv(r, CA6, 6, inds, 5, 2010, 2023);
  /* LPI misses 7 years everywhere (+2 TKM), CPI has no TKM, TJK 2017-23:
   * the nulls of the source come back as missing, counted independently. */
  size_t want_missing = 0;
  for (size_t k2 = 0; k2 < n_csv; k2++)
    for (size_t c = 0; c < 6; c++)
      for (size_t i = 0; i < 5; i++)
        if (!csv[k2].has && strcmp(csv[k2].iso3, CA6[c]) == 0 &&
            strcmp(csv[k2].ind, inds[i]) == 0)
          want_missing++;
  cr_assert_eq(missing, want_missing);
  cr_assert_gt(missing, 60u);
  cr_assert_eq(r->n_status, 5u);
  for (size_t i = 0; i < 5; i++) {
    const wb_indicator_status *s = &r->status[i];
    cr_assert_str_eq(s->indicator, inds[i]);
    cr_assert(s->ok);
    cr_assert_eq(s->kind, WB_OK);
    cr_assert_str_eq(s->lastupdated, "2026-07-01");
    cr_assert(s->has_sourceid);
    cr_assert_str_eq(s->sourceid, "2");
    cr_assert_eq(s->pages, 4u);
    cr_assert_eq(s->rows, 84u);
    cr_assert_eq(s->attempts, 4u);
    cr_assert_eq(s->retries, 0u);
    cr_assert_str_eq(s->error, "");
  }
  /* The tidy rows come grouped by indicator in request order. */
  cr_assert_str_eq(r->rows[0].indicator, "NY.GDP.PCAP.PP.CD");
  cr_assert_str_eq(r->rows[419].indicator, "GB.XPD.RSDV.GD.ZS");
  cr_assert_eq(r->calls, 1u);
  cr_assert_eq(r->requests, 20u);
  cr_assert_eq(stat_int("requests"), 20);
  wb_result_free(r);
}

Test(wb_fetch, pagination_fields_as_strings) {
  const char *const inds[] = {"IT.NET.USER.ZS"};
  wb_config cfg = test_config("strhdr,pagesize-30");
  wb_result *r = NULL;
  wb_error err;
  cr_assert_eq(wb_fetch_indicators(&cfg, CA6, 6, inds, 1, 2010, 2023, &r, &err),
               WB_OK, "%s", err.message);
  assert_equals_csv(r, CA6, 6, inds, 1, 2010, 2023);
  cr_assert_eq(r->status[0].pages, 3u);
  wb_result_free(r);
}

Test(wb_fetch, empty_year_range_is_zero_rows_not_an_error) {
  const char *const inds[] = {"SP.POP.TOTL"};
  wb_config cfg = test_config("");
  wb_result *r = NULL;
  wb_error err;
  cr_assert_eq(wb_fetch_indicators(&cfg, CA6, 6, inds, 1, 1990, 1995, &r, &err),
               WB_OK, "%s", err.message);
  cr_assert_eq(r->n_rows, 0u);
  cr_assert(r->status[0].ok);
  cr_assert_eq(r->status[0].pages, 1u);
  wb_result_free(r);
}

Test(wb_fetch, gzip_is_used_and_decoded) {
  const char *const inds[] = {"NY.GDP.MKTP.CD", "IT.NET.BBND.P2"};
  wb_config cfg = test_config("pagesize-40");
  wb_result *r = NULL;
  wb_error err;
  cr_assert_eq(wb_fetch_indicators(&cfg, CA6, 6, inds, 2, 2010, 2023, &r, &err),
               WB_OK, "%s", err.message);
  assert_equals_csv(r, CA6, 6, inds, 2, 2010, 2023);
  json_t *s = fx_stats();
  long long req = json_integer_value(json_object_get(s, "requests"));
  cr_assert_eq(req, 6);
  cr_assert_eq(json_integer_value(json_object_get(s, "gzip")), req,
               "every response went compressed");
  json_decref(s);
  wb_result_free(r);
}

Test(wb_fetch, user_agent_names_the_service_and_version) {
  const char *const inds[] = {"SP.POP.TOTL"};
  wb_config cfg = test_config("");
  wb_result *r = NULL;
  cr_assert_eq(wb_fetch_indicators(&cfg, CA6, 1, inds, 1, 2020, 2021, &r, NULL),
               WB_OK);
  json_t *s = fx_stats();
  json_t *uas = json_object_get(s, "user_agents");
  cr_assert_eq(json_array_size(uas), 1u);
  cr_assert_str_eq(json_string_value(json_array_get(uas, 0)),
                   "gravitas/" GRAVITAS_VERSION " (+https://gravitas.dev)");
  /* The exact request: codes, date range, per_page, page. */
  cr_assert_str_eq(
      json_string_value(json_array_get(json_object_get(s, "paths"), 0)),
      "/v2/country/KAZ/indicator/SP.POP.TOTL?format=json&date="
      "2020:2021&per_page=1000&page=1");
  json_decref(s);
  wb_result_free(r);
}

/* ---- retries ------------------------------------------------------------ */

Test(wb_fetch, http_500_then_success_is_retried_and_counted) {
  const char *const inds[] = {"NY.GDP.PCAP.PP.CD"};
  wb_config cfg = test_config("fail500-1");
  wb_result *r = NULL;
  wb_error err;
  cr_assert_eq(wb_fetch_indicators(&cfg, CA6, 6, inds, 1, 2010, 2023, &r, &err),
               WB_OK, "%s", err.message);
  assert_equals_csv(r, CA6, 6, inds, 1, 2010, 2023);
  cr_assert_eq(r->status[0].attempts, 2u);
  cr_assert_eq(r->status[0].retries, 1u);
  cr_assert_eq(r->requests, 2u);
  cr_assert_eq(stat_int("requests"), 2);
  wb_result_free(r);
}

Test(wb_fetch, http_500_every_time_is_502_after_all_retries) {
  const char *const inds[] = {"SP.POP.TOTL"};
  wb_config cfg = test_config("fail500-99");
  wb_result *r = NULL;
  wb_error err;
  wb_error_kind k =
      wb_fetch_indicators(&cfg, CA6, 6, inds, 1, 2010, 2023, &r, &err);
  cr_assert_eq(k, WB_E_UPSTREAM);
  cr_assert_eq(err.kind, WB_E_UPSTREAM);
  cr_assert_eq(wb_error_http_status(k), 502);
  cr_assert(strstr(err.message, "HTTP 500 on each of 3 attempts") &&
                strstr(err.message, "\"SP.POP.TOTL\""),
            "%s", err.message);
  cr_assert_not_null(r);
  cr_assert_not(r->status[0].ok);
  cr_assert_eq(r->status[0].attempts, 3u);
  cr_assert_eq(r->n_rows, 0u);
  cr_assert_eq(stat_int("requests"), 3);
  wb_result_free(r);
}

Test(wb_fetch, http_429_waits_for_retry_after) {
  const char *const inds[] = {"SP.POP.TOTL"};
  wb_config cfg = test_config("429-1");
  cfg.backoff_base_ms = 1;
  cfg.backoff_max_ms = 5000;
  wb_result *r = NULL;
  wb_error err;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(wb_fetch_indicators(&cfg, CA6, 6, inds, 1, 2010, 2023, &r, &err),
               WB_OK, "%s", err.message);
  double t = elapsed_s(&t0);
  cr_assert_geq(t, 1.0, "Retry-After: 1 was honoured (%.3f s)", t);
  cr_assert_lt(t, 4.0);
  cr_assert_eq(r->status[0].attempts, 2u);
  assert_equals_csv(r, CA6, 6, inds, 1, 2010, 2023);
  wb_result_free(r);
}

Test(wb_fetch, retry_after_is_capped_by_backoff_max) {
  const char *const inds[] = {"SP.POP.TOTL"};
  wb_config cfg = test_config("429-1,ra-30");
  cfg.backoff_max_ms = 300;
  wb_result *r = NULL;
  wb_error err;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(wb_fetch_indicators(&cfg, CA6, 1, inds, 1, 2010, 2023, &r, &err),
               WB_OK, "%s", err.message);
  double t = elapsed_s(&t0);
  cr_assert_geq(t, 0.3, "%.3f s", t);
  cr_assert_lt(t, 3.0, "Retry-After: 30 capped at 300 ms (%.3f s)", t);
  wb_result_free(r);
}

Test(wb_fetch, slower_than_the_timeout_is_504_in_bounded_time) {
  const char *const inds[] = {"SP.POP.TOTL"};
  wb_config cfg = test_config("delay-5000");
  cfg.timeout_total_ms = 300;
  cfg.max_retries = 2;
  cfg.backoff_base_ms = 10;
  cfg.backoff_max_ms = 50;
  wb_result *r = NULL;
  wb_error err;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  wb_error_kind k =
      wb_fetch_indicators(&cfg, CA6, 6, inds, 1, 2010, 2023, &r, &err);
  double t = elapsed_s(&t0);
  cr_assert_eq(k, WB_E_TIMEOUT, "%s", err.message);
  cr_assert_eq(wb_error_http_status(k), 504);
  cr_assert(strstr(err.message, "timed out after 3 attempts"), "%s",
            err.message);
  cr_assert_eq(r->status[0].attempts, 3u);
  /* 3 x 300 ms plus at most 2 x 50 ms of backoff, with slack for a busy
   * machine; far below the 5 s the server would take. */
  cr_assert_geq(t, 0.9, "%.3f s", t);
  cr_assert_lt(t, 2.5, "%.3f s", t);
  wb_result_free(r);
}

Test(wb_fetch, connection_refused_is_retried_then_502) {
  const char *const inds[] = {"SP.POP.TOTL"};
  wb_config cfg = test_config("");
  cfg.base_url = "http://127.0.0.1:1/v2";
  cfg.max_retries = 1;
  wb_result *r = NULL;
  wb_error err;
  cr_assert_eq(wb_fetch_indicators(&cfg, CA6, 1, inds, 1, 2010, 2023, &r, &err),
               WB_E_UPSTREAM);
  cr_assert(strstr(err.message, "transfer failed after 2 attempts"), "%s",
            err.message);
  cr_assert_eq(r->status[0].attempts, 2u);
  wb_result_free(r);
}

/* ---- bodies we must refuse ---------------------------------------------- */

static wb_result *expect_upstream(const char *scenario, const char *fragment,
                                  unsigned attempts) {
  const char *const inds[] = {"SP.POP.TOTL"};
  wb_config cfg = test_config(scenario);
  cfg.max_retries = 1;
  wb_result *r = NULL;
  wb_error err;
  wb_error_kind k =
      wb_fetch_indicators(&cfg, CA6, 6, inds, 1, 2010, 2023, &r, &err);
  cr_assert_eq(k, WB_E_UPSTREAM, "%s: %s", scenario, err.message);
  cr_assert_eq(wb_error_http_status(k), 502);
  cr_assert(strstr(err.message, fragment) != NULL, "%s: \"%s\" lacks \"%s\"",
            scenario, err.message, fragment);
  cr_assert(strstr(err.message, "SP.POP.TOTL"), "names the indicator: %s",
            err.message);
  cr_assert_not_null(r);
  cr_assert_not(r->status[0].ok);
  cr_assert_eq(r->status[0].kind, WB_E_UPSTREAM);
  cr_assert_str_eq(r->status[0].error, err.message);
  if (attempts > 0) cr_assert_eq(r->status[0].attempts, attempts);
  cr_assert_eq(r->n_rows, 0u);
  return r;
}

Test(wb_fetch, truncated_body_is_retried_then_502) {
  wb_result_free(expect_upstream("truncate", "truncated", 2));
}

Test(wb_fetch, truncated_json_on_close_is_502) {
  wb_result_free(expect_upstream("truncclose", "truncated JSON", 1));
}

Test(wb_fetch, malformed_json_is_502_not_retried) {
  wb_result_free(expect_upstream("malformed", "malformed JSON at line 1", 1));
}

Test(wb_fetch, html_error_page_with_bom_is_502_non_json) {
  wb_result *r = expect_upstream("html", "HTTP 400; the body is not JSON", 1);
  cr_assert(strstr(r->status[0].error, "HTML"), "%s", r->status[0].error);
  wb_result_free(r);
}

Test(wb_fetch, html_with_http_200_is_502_non_json) {
  wb_result_free(expect_upstream("html200", "the body is not JSON", 1));
}

Test(wb_fetch, oversized_body_hits_the_cap) {
  const char *const inds[] = {"SP.POP.TOTL"};
  wb_config cfg = test_config("oversize-300000");
  cfg.max_response_bytes = 65536;
  wb_result *r = NULL;
  wb_error err;
  cr_assert_eq(wb_fetch_indicators(&cfg, CA6, 6, inds, 1, 2010, 2023, &r, &err),
               WB_E_UPSTREAM);
  cr_assert(strstr(err.message, "larger than the 65536-byte cap"), "%s",
            err.message);
  cr_assert_eq(r->status[0].attempts, 1u);
  /* The body went gzip-compressed (a few kB on the wire): the cap counts
   * decoded bytes, so a compressed bomb cannot slip under it. */
  cr_assert_eq(stat_int("gzip"), 1);
  wb_result_free(r);
  /* The same body under a cap that fits it is accepted. */
  cfg.max_response_bytes = 400000;
  cr_assert_eq(wb_fetch_indicators(&cfg, CA6, 6, inds, 1, 2010, 2023, &r, &err),
               WB_OK, "%s", err.message);
  assert_equals_csv(r, CA6, 6, inds, 1, 2010, 2023);
  wb_result_free(r);
}

Test(wb_fetch, page_count_changing_between_pages_fails) {
  /* Pages 2.. go out together after page 1, so how many were sent before
   * the first bad one came back varies: at least page 1 and page 2. */
  wb_result *r = expect_upstream("pagesize-10,pagechange",
                                 "the page count changed between pages: "
                                 "page 1 said 9 pages and 84 rows",
                                 0);
  cr_assert_geq(r->status[0].attempts, 2u);
  cr_assert(strstr(r->status[0].error, "says 10 pages and 94 rows"), "%s",
            r->status[0].error);
  wb_result_free(r);
}

Test(wb_fetch, lastupdated_changing_between_pages_fails) {
  wb_result *r = expect_upstream("pagesize-30,lastupdchange",
                                 "lastupdated changed between pages "
                                 "(\"2026-07-01\" then \"2026-07-02\")",
                                 0);
  wb_result_free(r);
}

Test(wb_fetch, rows_not_adding_up_to_the_total_fail) {
  wb_result_free(expect_upstream("pagesize-30,shortpage",
                                 "the pages held 83 rows but the header "
                                 "announced 84",
                                 3));
}

Test(wb_fetch, http_404_with_text_is_502) {
  const char *const inds[] = {"SP.POP.TOTL"};
  wb_config cfg = test_config("");
  char b[128];
  snprintf(b, sizeof b, "http://127.0.0.1:%d/not-the-api", fx_port);
  cfg.base_url = b;
  wb_result *r = NULL;
  wb_error err;
  cr_assert_eq(wb_fetch_indicators(&cfg, CA6, 1, inds, 1, 2010, 2023, &r, &err),
               WB_E_UPSTREAM);
  cr_assert(strstr(err.message,
                   "HTTP 404; the body is not JSON: it starts with byte 0x6E"),
            "%s", err.message);
  cr_assert_eq(r->status[0].attempts, 1u, "a 404 is not retried");
  wb_result_free(r);
}

Test(wb_fetch, http_429_every_time_is_502_after_all_retries) {
  wb_result *r = expect_upstream("429-99", "HTTP 429 on each of 2 attempts", 2);
  wb_result_free(r);
}

Test(wb_fetch, recorded_page_answering_the_wrong_page_fails) {
  /* The recorded 2-page body claims page 1 when page 2 is asked for. */
  const char *const inds[] = {"NY.GDP.MKTP.CD"};
  const char *const c[] = {"JPN", "USA"};
  wb_config cfg = test_config(
      "sample-indicator_JPN_USA_NY.GDP.MKTP.CD_date2018-2019_per_page2_"
      "page1of2.json");
  wb_result *r = NULL;
  wb_error err;
  cr_assert_eq(wb_fetch_indicators(&cfg, c, 2, inds, 1, 2018, 2019, &r, &err),
               WB_E_UPSTREAM);
  cr_assert(strstr(err.message, "page 2: asked for page 2, got page 1"), "%s",
            err.message);
  wb_result_free(r);
}

Test(wb_fetch, rows_of_another_indicator_or_year_fail) {
  const char *const c[] = {"JPN", "USA"};
  wb_config cfg = test_config(
      "sample-indicator_JPN_USA_NY.GDP.MKTP.CD_date2018-2019_per_page2_"
      "page1of2.json");
  const char *const other[] = {"SP.POP.TOTL"};
  wb_result *r = NULL;
  wb_error err;
  cr_assert_eq(wb_fetch_indicators(&cfg, c, 2, other, 1, 2018, 2019, &r, &err),
               WB_E_UPSTREAM);
  cr_assert(strstr(err.message, "row 0 is for indicator \"NY.GDP.MKTP.CD\""),
            "%s", err.message);
  wb_result_free(r);
  const char *const same[] = {"NY.GDP.MKTP.CD"};
  cr_assert_eq(wb_fetch_indicators(&cfg, c, 2, same, 1, 2010, 2018, &r, &err),
               WB_E_UPSTREAM);
  cr_assert(strstr(err.message, "row 0 is for year 2019, outside 2010:2018"),
            "%s", err.message);
  wb_result_free(r);
}

/* ---- the World Bank refusing the request -------------------------------- */

Test(wb_fetch, message_body_with_http_200_names_the_indicator) {
  const char *const inds[] = {"INVALID.INDICATOR.ID", "SP.POP.TOTL"};
  wb_config cfg = test_config("");
  wb_result *r = NULL;
  wb_error err;
  wb_error_kind k =
      wb_fetch_indicators(&cfg, CA6, 6, inds, 2, 2010, 2023, &r, &err);
  cr_assert_eq(k, WB_E_INVALID_REQUEST, "%s", err.message);
  cr_assert_eq(wb_error_http_status(k), 422);
  cr_assert(strstr(err.message, "indicator \"INVALID.INDICATOR.ID\"") &&
                strstr(err.message, "message 120 \"Invalid value\": The "
                                    "provided parameter value is not valid"),
            "%s", err.message);
  cr_assert(strstr(err.message, "KAZ;KGZ;UZB;TJK;TKM;CHN"), "%s", err.message);
  /* The failing indicator was not retried, and lost no other's data. */
  cr_assert_not(r->status[0].ok);
  cr_assert_eq(r->status[0].kind, WB_E_INVALID_REQUEST);
  cr_assert_eq(r->status[0].attempts, 1u);
  cr_assert(r->status[1].ok);
  cr_assert_eq(r->status[1].rows, 84u);
  const char *const ok_ind[] = {"SP.POP.TOTL"};
  assert_equals_csv(r, CA6, 6, ok_ind, 1, 2010, 2023);
  wb_result_free(r);
}

Test(wb_fetch, forced_message_body_on_every_indicator_counts_the_failures) {
  const char *const inds[] = {"SP.POP.TOTL", "NY.GDP.MKTP.CD",
                              "IT.NET.USER.ZS"};
  wb_config cfg = test_config("message200");
  wb_result *r = NULL;
  wb_error err;
  cr_assert_eq(wb_fetch_indicators(&cfg, CA6, 6, inds, 3, 2010, 2023, &r, &err),
               WB_E_INVALID_REQUEST);
  cr_assert(strstr(err.message, "\"SP.POP.TOTL\"") &&
                strstr(err.message, "(and 2 more indicators failed)"),
            "%s", err.message);
  for (size_t i = 0; i < 3; i++)
    cr_assert_not(r->status[i].ok);
  wb_result_free(r);
}

Test(wb_fetch, message_body_with_http_400_is_invalid_request) {
  const char *const inds[] = {"SP.POP.TOTL"};
  wb_config cfg = test_config("message400");
  wb_result *r = NULL;
  wb_error err;
  cr_assert_eq(wb_fetch_indicators(&cfg, CA6, 6, inds, 1, 2010, 2023, &r, &err),
               WB_E_INVALID_REQUEST);
  cr_assert(strstr(err.message, "(HTTP 400): message 120"), "%s", err.message);
  cr_assert_eq(r->status[0].attempts, 1u);
  wb_result_free(r);
}

Test(wb_fetch, invalid_country_codes_are_named) {
  const char *const inds[] = {"NY.GDP.MKTP.CD"};
  const char *const c[] = {"ABCDEFG", "HIJKLM"};
  wb_config cfg = test_config("");
  wb_result *r = NULL;
  wb_error err;
  cr_assert_eq(wb_fetch_indicators(&cfg, c, 2, inds, 1, 2010, 2023, &r, &err),
               WB_E_INVALID_REQUEST);
  cr_assert(strstr(err.message, "countries ABCDEFG;HIJKLM") &&
                strstr(err.message, "not valid"),
            "%s", err.message);
  wb_result_free(r);
}

/* ---- splitting and concurrency ------------------------------------------ */

Test(wb_fetch, long_country_list_is_split_below_the_url_limits) {
  /* 1,352 placeholder codes from ISO's user-assigned ranges (Q.., X..),
   * which the fixture skips, with the six real ones spread among them
   * (every 250th place) so that each call has a known country, as a call
   * with none gets the World Bank's invalid-country message. Joined, about
   * 5,400 characters. */
  size_t n = 0, fake = 0;
  char(*codes)[4] = calloc(1400, sizeof *codes);
  const char *list[1400];
  for (const char *p = "QX"; *p; p++)
    for (char a = 'A'; a <= 'Z'; a++)
      for (char b = 'A'; b <= 'Z'; b++) {
        if (n % 250 == 0 && n / 250 < 6) {
          list[n] = CA6[n / 250];
          n++;
        }
        snprintf(codes[fake], 4, "%c%c%c", *p, a, b);
        list[n++] = codes[fake++];
      }
  cr_assert_eq(n, 1358u);
  const char *const inds[] = {"SP.POP.TOTL"};
  wb_config cfg = test_config("");
  wb_result *r = NULL;
  wb_error err;
  cr_assert_eq(
      wb_fetch_indicators(&cfg, list, n, inds, 1, 2010, 2023, &r, &err), WB_OK,
      "%s", err.message);
  assert_equals_csv(r, CA6, 6, inds, 1, 2010, 2023);
  /* 1,358 codes of 3 characters + ';' need at least 4 segments of 1,500. */
  cr_assert_geq(r->calls, 4u);
  json_t *s = fx_stats();
  json_t *paths = json_object_get(s, "paths");
  cr_assert_eq(json_array_size(paths), r->calls);
  char *seen = calloc(n, 1);
  size_t full = 0;
  size_t host_len = strlen("http://127.0.0.1:") + 5;
  for (size_t k = 0; k < json_array_size(paths); k++) {
    const char *p = json_string_value(json_array_get(paths, k));
    cr_assert_leq(strlen(p) + host_len, (size_t)WB_MAX_URL_LEN);
    const char *seg = p + strlen("/v2/country/");
    size_t seg_len = strcspn(seg, "/");
    cr_assert_leq(seg_len, (size_t)WB_MAX_SEGMENT_LEN);
    if (seg_len > WB_MAX_SEGMENT_LEN - 4) full++;
    for (size_t off = 0; off < seg_len; off += 4) {
      size_t idx = n;
      for (size_t c = 0; c < n; c++)
        if (strncmp(seg + off, list[c], 3) == 0) idx = c;
      cr_assert_lt(idx, n, "unknown code in %.*s", 3, seg + off);
      cr_assert_eq(seen[idx], 0, "%s requested twice", list[idx]);
      seen[idx] = 1;
    }
  }
  for (size_t c = 0; c < n; c++)
    cr_assert(seen[c], "%s never requested", list[c]);
  cr_assert_eq(full, r->calls - 1, "groups are packed: all but one full");
  free(seen);
  json_decref(s);
  wb_result_free(r);
  free(codes);
}

Test(wb_fetch, each_call_carries_one_indicator_even_above_sixty) {
  /* 61 indicator entries (the 14 of the extract, cycled): 61 chains, each
   * URL naming exactly one indicator, all equal to the extract. */
  static const char *const all[] = {
      "NY.GDP.PCAP.PP.CD", "NY.GDP.MKTP.CD", "SP.POP.TOTL",
      "IT.NET.BBND.P2",    "IT.NET.SECR.P6", "LP.LPI.OVRL.XQ",
      "GB.XPD.RSDV.GD.ZS", "SE.TER.ENRR",    "FP.CPI.TOTL.ZG",
      "NE.EXP.GNFS.ZS",    "NE.IMP.GNFS.ZS", "NE.TRD.GNFS.ZS",
      "IT.NET.USER.ZS",    "FP.CPI.TOTL"};
  const char *inds[61];
  for (size_t i = 0; i < 61; i++)
    inds[i] = all[i % 14];
  wb_config cfg = test_config("");
  cfg.max_in_flight = 8;
  wb_result *r = NULL;
  wb_error err;
  cr_assert_eq(
      wb_fetch_indicators(&cfg, CA6, 2, inds, 61, 2015, 2016, &r, &err), WB_OK,
      "%s", err.message);
  cr_assert_eq(r->requests, 61u);
  cr_assert_eq(r->n_status, 61u);
  size_t rows = 0;
  for (size_t i = 0; i < 61; i++) {
    cr_assert(r->status[i].ok);
    cr_assert_str_eq(r->status[i].indicator, all[i % 14]);
    rows += r->status[i].rows;
  }
  cr_assert_eq(rows, 61u * 2 * 2);
  if (csv == NULL) load_csv();
  for (size_t k = 0; k < r->n_rows; k++) {
    const csv_cell *cell =
        csv_find(r->rows[k].country, r->rows[k].indicator, r->rows[k].year);
    cr_assert_not_null(cell);
    cr_assert_eq(r->rows[k].has_value, cell->has);
    if (cell->has) cr_assert_eq(r->rows[k].value, cell->value);
  }
  json_t *s = fx_stats();
  json_t *paths = json_object_get(s, "paths");
  cr_assert_eq(json_array_size(paths), 61u);
  for (size_t k = 0; k < 61; k++) {
    const char *p = json_string_value(json_array_get(paths, k));
    const char *ind = strstr(p, "/indicator/");
    cr_assert_not_null(ind);
    cr_assert_null(strchr(ind, ';'), "one indicator per call: %s", p);
  }
  json_decref(s);
  wb_result_free(r);
}

static long long peak_for(int max_in_flight) {
  const char *const inds[] = {"NY.GDP.PCAP.PP.CD", "NY.GDP.MKTP.CD",
                              "SP.POP.TOTL",       "IT.NET.BBND.P2",
                              "IT.NET.SECR.P6",    "SE.TER.ENRR"};
  /* Slow answers (200 ms) so that transfers really overlap. */
  wb_config cfg = test_config("delay-200,pagesize-40");
  cfg.max_in_flight = max_in_flight;
  wb_result *r = NULL;
  wb_error err;
  cr_assert_eq(wb_fetch_indicators(&cfg, CA6, 6, inds, 6, 2010, 2023, &r, &err),
               WB_OK, "%s", err.message);
  assert_equals_csv(r, CA6, 6, inds, 6, 2010, 2023);
  cr_assert_eq(r->requests, 18u);
  wb_result_free(r);
  return stat_int("peak");
}

Test(wb_fetch, at_most_two_in_flight) {
  cr_assert_eq(peak_for(2), 2);
}

Test(wb_fetch, one_in_flight_is_sequential) {
  cr_assert_eq(peak_for(1), 1);
}

Test(wb_fetch, five_in_flight_overlap) {
  long long peak = peak_for(5);
  cr_assert_leq(peak, 5);
  cr_assert_geq(peak, 4, "18 slow requests should overlap (peak %lld)", peak);
}

/* ---- arguments ---------------------------------------------------------- */

static void expect_bad_args(const wb_config *cfg, const char *const *c,
                            size_t nc, const char *const *inds, size_t ni,
                            int from, int to, const char *fragment) {
  wb_result *r = (wb_result *)0x1;
  wb_error err;
  cr_assert_eq(wb_fetch_indicators(cfg, c, nc, inds, ni, from, to, &r, &err),
               WB_E_INVALID_REQUEST);
  cr_assert_null(r);
  cr_assert(strstr(err.message, fragment), "\"%s\" lacks \"%s\"", err.message,
            fragment);
}

Test(wb_fetch, bad_arguments_are_refused_before_any_request) {
  wb_config cfg = test_config("");
  const char *const inds[] = {"SP.POP.TOTL"};
  const char *const empty[] = {""};
  const char *const nul[] = {NULL};
  const char *const longc[] = {
      "KAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZKAZ"};
  expect_bad_args(&cfg, NULL, 0, inds, 1, 2010, 2023, "no countries");
  expect_bad_args(&cfg, CA6, 6, NULL, 0, 2010, 2023, "no indicators");
  expect_bad_args(&cfg, CA6, 6, inds, 1, 2023, 2010, "year range 2023:2010");
  expect_bad_args(&cfg, CA6, 6, inds, 1, 0, 2010, "year range");
  expect_bad_args(&cfg, CA6, 6, inds, 1, 2010, 10000, "year range");
  expect_bad_args(&cfg, empty, 1, inds, 1, 2010, 2023, "country 0 is empty");
  expect_bad_args(&cfg, nul, 1, inds, 1, 2010, 2023, "country 0 is empty");
  expect_bad_args(&cfg, longc, 1, inds, 1, 2010, 2023, "longer than 63");
  expect_bad_args(&cfg, CA6, 6, empty, 1, 2010, 2023, "indicator 0 is empty");
  expect_bad_args(&cfg, CA6, 6, longc, 1, 2010, 2023, "longer than 63");
  expect_bad_args(NULL, CA6, 6, inds, 1, 2010, 2023, "no World Bank base URL");
  wb_config bad = cfg;
  bad.max_in_flight = 0;
  expect_bad_args(&bad, CA6, 6, inds, 1, 2010, 2023, "out of range");
  bad = cfg;
  bad.max_response_bytes = 0;
  expect_bad_args(&bad, CA6, 6, inds, 1, 2010, 2023, "out of range");
  bad = cfg;
  bad.timeout_total_ms = 0;
  expect_bad_args(&bad, CA6, 6, inds, 1, 2010, 2023, "out of range");
  bad = cfg;
  bad.max_retries = -1;
  expect_bad_args(&bad, CA6, 6, inds, 1, 2010, 2023, "out of range");
  bad = cfg;
  bad.base_url = "";
  expect_bad_args(&bad, CA6, 6, inds, 1, 2010, 2023, "no World Bank base URL");
  wb_error err;
  cr_assert_eq(
      wb_fetch_indicators(&cfg, CA6, 6, inds, 1, 2010, 2023, NULL, &err),
      WB_E_INVALID_REQUEST);
  cr_assert_eq(stat_int("requests"), 0, "nothing was sent");
}

Test(wb_fetch, a_country_that_alone_overflows_the_url_is_refused) {
  /* A base URL of ~3,980 characters leaves no room for any country. */
  char *b = malloc(4100);
  int n = snprintf(b, 4100, "http://127.0.0.1:%d/", fx_port);
  memset(b + n, 'a', 3960);
  b[n + 3960] = '\0';
  wb_config cfg = test_config("");
  cfg.base_url = b;
  const char *const inds[] = {"SP.POP.TOTL"};
  expect_bad_args(&cfg, CA6, 1, inds, 1, 2010, 2023,
                  "country code \"KAZ\" alone makes the World Bank URL longer "
                  "than 4000 characters");
  free(b);
}

Test(wb_fetch, error_names_and_defaults) {
  cr_assert_str_eq(wb_error_kind_name(WB_E_TIMEOUT), "timeout");
  cr_assert_str_eq(wb_error_kind_name(WB_E_INVALID_REQUEST), "invalid-request");
  cr_assert_str_eq(wb_error_kind_name((wb_error_kind)42), "unknown");
  cr_assert_eq(wb_error_http_status(WB_E_NOMEM), 500);
  cr_assert_eq(wb_error_http_status(WB_OK), 200);
  wb_config c;
  wb_config_defaults(&c);
  cr_assert_str_eq(c.base_url, "https://api.worldbank.org/v2");
  cr_assert_null(c.user_agent);
  cr_assert_gt(c.timeout_connect_ms, 0);
  cr_assert_gt(c.timeout_total_ms, c.timeout_connect_ms);
  cr_assert_geq(c.max_in_flight, 1);
  wb_result_free(NULL);
}
