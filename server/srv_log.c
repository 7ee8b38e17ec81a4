/* JSON log lines (see srv_log.h). */
#include "srv_log.h"

#include "api_text.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static FILE *sink;

/* The access-line flusher (srv_log_start_flusher). */
static atomic_bool lazy_access;
static pthread_t flusher;
static pthread_mutex_t fl_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fl_cv;
static bool fl_stop, fl_running;
static unsigned fl_interval_ms;
static char fl_buf[1 << 16];

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

/* One locked write of the whole line so that concurrent threads never
 * interleave inside a line. Access lines (access) wait in the stream's
 * buffer for the flusher when it runs (or for the next line of any other
 * kind, which flushes them first, in order). */
static void write_line(const char *text, size_t len, bool access) {
  FILE *out = sink ? sink : stderr;
  bool lazy =
      access && atomic_load_explicit(&lazy_access, memory_order_relaxed);
  flockfile(out);
  fwrite(text, 1, len, out);
  putc('\n', out);
  if (!lazy) fflush(out);
  funlockfile(out);
}

/* s as a JSON string into t; bytes of s that are not UTF-8 become '?' (as
 * srv_log_string). */
static void put_log_string(api_text *t, const char *s) {
  size_t mark = t->len;
  api_text_string(t, s);
  if (!t->failed || s == NULL) return;
  char *copy = strdup(s);
  t->failed = false;
  t->len = mark;
  if (copy == NULL) {
    api_text_put(t, "null", 4);
    return;
  }
  for (char *p = copy; *p; p++)
    if ((unsigned char)*p >= 0x80) *p = '?';
  api_text_string(t, copy);
  free(copy);
}

void srv_log_access(bool error, const char *method, const char *path,
                    int status, size_t bytes, double duration_ms,
                    const char *remote, bool aborted) {
  /* The bytes srv_log_json would write for the same fields (checked in
   * tests/server/test_log.c), without building a JSON tree: this runs for
   * every request. */
  api_text t = {0};
  api_text_raw(&t, error ? "{\"level\":\"error\",\"event\":\"access\","
                           "\"method\":"
                         : "{\"level\":\"info\",\"event\":\"access\","
                           "\"method\":");
  put_log_string(&t, method);
  api_text_raw(&t, ",\"path\":");
  put_log_string(&t, path);
  api_text_raw(&t, ",\"status\":");
  api_text_int(&t, status);
  api_text_raw(&t, ",\"bytes\":");
  api_text_int(&t, (long long)bytes);
  api_text_raw(&t, ",\"duration_ms\":");
  char num[40];
  int n = snprintf(num, sizeof num, "%.10g", duration_ms);
  if (n > 0 && !strchr(num, '.') && !strchr(num, 'e') && n + 2 < 40) {
    num[n++] = '.';
    num[n++] = '0';
    num[n] = '\0';
  }
  api_text_raw(&t, num);
  api_text_raw(&t, ",\"remote\":");
  put_log_string(&t, remote);
  if (aborted) api_text_raw(&t, ",\"aborted\":true");
  api_text_put(&t, "}", 1);
  if (!t.failed) write_line(t.s, t.len, !error);
  api_text_free(&t);
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
  write_line(text, strlen(text),
             strcmp(event, "access") == 0 && strcmp(level, "info") == 0);
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

static void *flush_loop(void *arg) {
  (void)arg;
  pthread_mutex_lock(&fl_mu);
  while (!fl_stop) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += (long)fl_interval_ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&fl_cv, &fl_mu, &until);
    FILE *out = sink ? sink : stderr;
    fflush(out); /* takes the stream's own lock */
  }
  pthread_mutex_unlock(&fl_mu);
  return NULL;
}

int srv_log_start_flusher(unsigned interval_ms) {
  if (fl_running) return 0;
  FILE *out = sink ? sink : stderr;
  /* stderr is unbuffered: give it a buffer (before anything is written). */
  if (out == stderr && setvbuf(stderr, fl_buf, _IOFBF, sizeof fl_buf) != 0)
    return -1;
  pthread_condattr_t ca;
  if (pthread_condattr_init(&ca) != 0) return -1;
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(&fl_cv, &ca);
  pthread_condattr_destroy(&ca);
  if (rc != 0) return -1;
  fl_interval_ms = interval_ms ? interval_ms : 100;
  fl_stop = false;
  if (pthread_create(&flusher, NULL, flush_loop, NULL) != 0) {
    pthread_cond_destroy(&fl_cv);
    return -1;
  }
  fl_running = true;
  atomic_store(&lazy_access, true);
  return 0;
}

void srv_log_stop_flusher(void) {
  if (!fl_running) return;
  atomic_store(&lazy_access, false);
  pthread_mutex_lock(&fl_mu);
  fl_stop = true;
  pthread_cond_signal(&fl_cv);
  pthread_mutex_unlock(&fl_mu);
  pthread_join(flusher, NULL);
  pthread_cond_destroy(&fl_cv);
  fl_running = false;
  fflush(sink ? sink : stderr);
}
