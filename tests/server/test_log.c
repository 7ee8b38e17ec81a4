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
