/* JSON log lines: whole lines, valid JSON even for hostile bytes, and the
 * error form with file and line. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "srv_log.h"

static char *captured;
static size_t captured_len;
static FILE *sink;

static void init(void) {
  sink = open_memstream(&captured, &captured_len);
  srv_log_set_stream(sink);
}

static void fini(void) {
  srv_log_set_stream(NULL);
  fclose(sink);
  free(captured);
}

TestSuite(log, .init = init, .fini = fini);

Test(log, one_line_with_fields_in_order) {
  srv_log_json("info", "listening",
               json_pack("{s:s, s:i, s:s}", "host", "127.0.0.1", "port", 43117,
                         "version", "0.1.0"));
  fflush(sink);
  cr_assert_str_eq(captured,
                   "{\"level\":\"info\",\"event\":\"listening\",\"host\":"
                   "\"127.0.0.1\",\"port\":43117,\"version\":\"0.1.0\"}\n");
}

Test(log, null_fields) {
  srv_log_json("info", "stopped", NULL);
  fflush(sink);
  cr_assert_str_eq(captured, "{\"level\":\"info\",\"event\":\"stopped\"}\n");
}

Test(log, invalid_utf8_is_replaced) {
  json_t *s = srv_log_string("/v1/\xff\xfe\"x\n");
  cr_assert_not_null(s);
  cr_assert_str_eq(json_string_value(s), "/v1/??\"x\n");
  json_decref(s);
  json_t *ok = srv_log_string("/v1/caf\xc3\xa9");
  cr_assert_str_eq(json_string_value(ok), "/v1/caf\xc3\xa9");
  json_decref(ok);
  json_t *null = srv_log_string(NULL);
  cr_assert(json_is_null(null));
}

Test(log, error_has_file_and_line) {
  int line = __LINE__ + 1;
  SRV_LOG_ERROR("store", "cannot open %s (code %d)", "db.sqlite", 14);
  fflush(sink);
  json_error_t e;
  json_t *j = json_loads(captured, 0, &e);
  cr_assert_not_null(j, "%s", e.text);
  cr_assert_str_eq(json_string_value(json_object_get(j, "level")), "error");
  cr_assert_str_eq(json_string_value(json_object_get(j, "event")), "store");
  cr_assert_str_eq(json_string_value(json_object_get(j, "file")), "test_log.c");
  cr_assert_eq(json_integer_value(json_object_get(j, "line")), line);
  cr_assert_str_eq(json_string_value(json_object_get(j, "message")),
                   "cannot open db.sqlite (code 14)");
  json_decref(j);
}

/* srv_log_access writes the bytes srv_log_json writes for the same access
 * fields: ordinary and hostile paths (quotes, control characters, bytes
 * that are not UTF-8), whole and fractional durations, aborted requests,
 * error lines. */
Test(log, access_lines_are_the_json_lines) {
  const struct {
    bool error, aborted;
    const char *method, *path;
    int status;
    size_t bytes;
    double ms;
  } c[] = {{false, false, "GET", "/v1/potential", 200, 324, 0.008},
           {true, false, "POST", "/v1/models", 500, 1234567, 12.0},
           {false, true, "PUT", "/a\"b\\c\x01\t/\xff\xfe", 400, 0, 1234.567},
           {false, false, "GET", "/\xc3\xa9t\xc3\xa9", 404, 17, 1e-3},
           {false, false, "GET", NULL, 0, 0, 0.0}};
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    json_t *fields = json_pack(
        "{s:o, s:o, s:i, s:I, s:f, s:s}", "method", srv_log_string(c[i].method),
        "path", srv_log_string(c[i].path), "status", c[i].status, "bytes",
        (json_int_t)c[i].bytes, "duration_ms", c[i].ms, "remote", "::1");
    if (c[i].aborted) json_object_set_new(fields, "aborted", json_true());
    srv_log_json(c[i].error ? "error" : "info", "access", fields);
    fflush(sink);
    char *want = strdup(captured);
    rewind(sink);
    srv_log_access(c[i].error, c[i].method, c[i].path, c[i].status, c[i].bytes,
                   c[i].ms, "::1", c[i].aborted);
    fflush(sink);
    cr_assert_str_eq(captured, want, "case %zu", i);
    free(want);
    rewind(sink);
  }
}

/* ---- the access-line flusher ---------------------------------------------
 */

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Access lines wait in the stream's buffer; any other line flushes them
 * first, in order; stopping the flusher flushes the rest. */
Test(log_flusher, access_lines_wait_and_other_lines_flush_them) {
  char path[] = "/tmp/gravitas-log-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  FILE *f = fdopen(fd, "w");
  cr_assert_not_null(f);
  cr_assert_eq(setvbuf(f, NULL, _IOFBF, 1 << 16), 0);
  srv_log_set_stream(f);
  cr_assert_eq(srv_log_start_flusher(60000), 0); /* no timed flush here */
  srv_log_json("info", "access", json_pack("{s:i}", "status", 200));
  srv_log_json("info", "access", json_pack("{s:i}", "status", 404));
  cr_assert_eq(file_size(path), 0, "an access line was written at once");
  /* A 5xx access line is an error: written at once, after the others. */
  srv_log_json("error", "access", json_pack("{s:i}", "status", 500));
  long n1 = file_size(path);
  cr_assert_gt(n1, 0);
  srv_log_json("info", "access", json_pack("{s:i}", "status", 201));
  cr_assert_eq(file_size(path), n1);
  srv_log_stop_flusher();
  cr_assert_gt(file_size(path), n1);
  /* Flushed one by one again. */
  srv_log_json("info", "access", json_pack("{s:i}", "status", 204));
  long n2 = file_size(path);
  srv_log_set_stream(NULL);
  fclose(f);
  FILE *r = fopen(path, "r");
  char buf[1024];
  size_t len = fread(buf, 1, sizeof buf - 1, r);
  buf[len] = '\0';
  fclose(r);
  unlink(path);
  cr_assert_eq((long)len, n2, "the last line was not flushed at once");
  const char *want[] = {"200", "404", "500", "201", "204"};
  const char *p = buf;
  for (size_t i = 0; i < 5; i++) {
    p = strstr(p, want[i]);
    cr_assert_not_null(p, "line %zu (status %s) missing or out of order", i,
                       want[i]);
  }
}

/* The flusher thread writes waiting access lines within its interval. */
Test(log_flusher, the_thread_flushes_within_its_interval) {
  char path[] = "/tmp/gravitas-log-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  FILE *f = fdopen(fd, "w");
  cr_assert_eq(setvbuf(f, NULL, _IOFBF, 1 << 16), 0);
  srv_log_set_stream(f);
  cr_assert_eq(srv_log_start_flusher(20), 0);
  srv_log_json("info", "access", json_pack("{s:i}", "status", 200));
  long n = 0;
  for (int i = 0; i < 200 && n <= 0; i++) { /* up to 2 s */
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
    n = file_size(path);
  }
  cr_assert_gt(n, 0, "the access line was never flushed");
  srv_log_stop_flusher();
  srv_log_set_stream(NULL);
  fclose(f);
  unlink(path);
}
