/* JSON log lines (see srv_log.h). */
#include "srv_log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static FILE *sink;

void srv_log_set_stream(FILE *f) {
  sink = f;
}

json_t *srv_log_string(const char *s) {
  if (s == NULL) return json_null();
  json_t *j = json_string(s);
  if (j != NULL) return j;
  char *copy = strdup(s);
  if (copy == NULL) return NULL;
  for (char *p = copy; *p; p++)
    if ((unsigned char)*p >= 0x80) *p = '?';
  j = json_string(copy);
  free(copy);
  return j;
}

void srv_log_json(const char *level, const char *event, json_t *fields) {
  json_t *line = json_object();
  char *text = NULL;
  if (line == NULL) goto cleanup;
  if (json_object_set_new(line, "level", json_string(level)) != 0 ||
      json_object_set_new(line, "event", json_string(event)) != 0)
    goto cleanup;
  if (fields != NULL && json_object_update(line, fields) != 0) goto cleanup;
  /* Ten significant digits: enough for a duration in milliseconds, without
   * binary noise such as 1.5940000000000001. */
  text = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(10));
  if (text == NULL) goto cleanup;
  FILE *out = sink ? sink : stderr;
  /* One locked write of the whole line so that concurrent threads never
   * interleave inside a line. */
  flockfile(out);
  fputs(text, out);
  putc('\n', out);
  fflush(out);
  funlockfile(out);
cleanup:
  free(text);
  json_decref(line);
  json_decref(fields);
}

void srv_log_error_at(const char *file, int line, const char *event,
                      const char *fmt, ...) {
  char message[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  const char *base = strrchr(file, '/');
  srv_log_json("error", event,
               json_pack("{s:s, s:i, s:o}", "file", base ? base + 1 : file,
                         "line", line, "message", srv_log_string(message)));
}
