/* Responses, the error table and problem+json bodies (see api.h). */
#include "api.h"
#include "api_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_errno.h>

void api_global_init(void) {
  /* GSL's default handler aborts the process; every GSL failure is handled
   * through return codes instead. */
  gsl_set_error_handler_off();
  json_object_seed(0);
}

void api_limits_default(api_limits *l) {
  l->max_body_bytes = 32u * 1024u * 1024u;
  l->max_rows = 1000000;
  l->max_columns = 256;
  l->max_formula_len = 2048;
  l->max_json_depth = 32;
}

void api_response_free(api_response *res) {
  if (res == NULL) return;
  free(res->body);
  for (size_t i = 0; i < res->n_headers; i++) {
    free(res->headers[i].name);
    free(res->headers[i].value);
  }
  memset(res, 0, sizeof *res);
}

bool api_response_header(api_response *res, const char *name,
                         const char *value) {
  if (res->n_headers >= API_MAX_HEADERS) return false;
  char *n = strdup(name);
  char *v = strdup(value);
  if (n == NULL || v == NULL) {
    free(n);
    free(v);
    return false;
  }
  res->headers[res->n_headers].name = n;
  res->headers[res->n_headers].value = v;
  res->n_headers++;
  return true;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void api_timing_start(api_timing *t) {
  memset(t, 0, sizeof *t);
  t->start = now_ms();
}

bool api_timing_mark(api_timing *t, const char *name) {
  if (t->n < API_TIMING_MAX) {
    t->end[t->n] = now_ms();
    t->name[t->n] = name;
    t->n++;
  }
  return true;
}

void api_timing_header(const api_timing *t, api_response *res) {
  if (res->status < 200 || res->status > 299) return;
  char text[API_TIMING_MAX * 32 + 32];
  size_t len = 0;
  double from = t->start;
  for (size_t i = 0; i < t->n; i++) {
    int k = snprintf(text + len, sizeof text - len, "%s;dur=%.3f, ", t->name[i],
                     t->end[i] - from);
    if (k < 0 || (size_t)k >= sizeof text - len) return;
    len += (size_t)k;
    from = t->end[i];
  }
  int k = snprintf(text + len, sizeof text - len, "total;dur=%.3f",
                   now_ms() - t->start);
  if (k < 0 || (size_t)k >= sizeof text - len) return;
  api_response_header(res, "Server-Timing", text);
}

static const char internal_body[] =
    "{\"type\":\"https://gravitas.dev/problems/internal-error\","
    "\"title\":\"Internal server error\",\"status\":500,"
    "\"detail\":\"The server ran out of memory while answering.\"}";

static void set_internal(api_response *res) {
  free(res->body);
  res->status = 500;
  res->content_type = "application/problem+json";
  res->body = strdup(internal_body);
  res->body_len = res->body ? strlen(res->body) : 0;
}

static void set_json(api_response *res, int status, const char *ctype,
                     json_t *body) {
  char *text =
      body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
  json_decref(body);
  if (text == NULL) {
    set_internal(res);
    return;
  }
  free(res->body);
  res->status = status;
  res->content_type = ctype;
  res->body = text;
  res->body_len = strlen(text);
}

void api_response_json(api_response *res, int status, json_t *body) {
  set_json(res, status, "application/json", body);
}

void api_response_raw(api_response *res, int status, const char *content_type,
                      const char *body, size_t len) {
  char *copy = malloc(len + 1);
  if (copy == NULL) {
    set_internal(res);
    return;
  }
  if (len) memcpy(copy, body, len);
  copy[len] = '\0';
  free(res->body);
  res->status = status;
  res->content_type = content_type;
  res->body = copy;
  res->body_len = len;
}

void api_response_take(api_response *res, int status, const char *content_type,
                       char *body, size_t len) {
  free(res->body);
  res->status = status;
  res->content_type = content_type;
  res->body = body;
  res->body_len = len;
}

static const struct {
  int status;
  const char *slug;
  const char *title;
} error_table[] = {
#define API_X_ROW(code, status, slug, title) {status, slug, title},
    API_ERRORS(API_X_ROW)
#undef API_X_ROW
};

int api_error_status(api_error_code code) {
  return code < API_E_COUNT ? error_table[code].status : 500;
}
const char *api_error_slug(api_error_code code) {
  return code < API_E_COUNT ? error_table[code].slug : "internal-error";
}
const char *api_error_title(api_error_code code) {
  return code < API_E_COUNT ? error_table[code].title : "Internal server error";
}

void api_errors_add(api_errors *e, const char *pointer, const char *fmt, ...) {
  if (e->list == NULL) e->list = json_array();
  if (e->list == NULL) return;
  char detail[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  /* A message may quote the client's bytes; it must still be a JSON string
   * (json_pack fails on invalid UTF-8 and the error would be lost). */
  char ptr[API_POINTER_MAX];
  if (!api_utf8_valid(pointer, strlen(pointer))) {
    snprintf(ptr, sizeof ptr, "%s", pointer);
    pointer = api_utf8_sanitize(ptr);
  }
  json_array_append_new(e->list,
                        json_pack("{s:s, s:s}", "pointer", pointer, "detail",
                                  api_utf8_sanitize(detail)));
}

size_t api_errors_count(const api_errors *e) {
  return e && e->list ? json_array_size(e->list) : 0;
}

void api_errors_clear(api_errors *e) {
  if (e == NULL) return;
  json_decref(e->list);
  e->list = NULL;
}

void api_problem(api_response *res, api_error_code code, api_errors *errs,
                 const char *fmt, ...) {
  char detail[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  api_utf8_sanitize(detail);
  char type[128];
  snprintf(type, sizeof type, "https://gravitas.dev/problems/%s",
           api_error_slug(code));
  json_t *body = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title",
                           api_error_title(code), "status",
                           api_error_status(code), "detail", detail);
  /* errors is always present (possibly empty) so clients need no special
   * case. */
  if (body != NULL) {
    json_t *list =
        (errs != NULL && errs->list != NULL) ? errs->list : json_array();
    if (errs != NULL) errs->list = NULL;
    json_object_set_new(body, "errors", list);
  }
  api_errors_clear(errs);
  set_json(res, api_error_status(code), "application/problem+json", body);
}

const char *api_pointer_escape(const char *token, char *buf, size_t bufsz) {
  size_t o = 0;
  if (bufsz == 0) return buf;
  for (const char *s = token; *s && o + 1 < bufsz; s++) {
    if (*s == '~' || *s == '/') {
      if (o + 2 >= bufsz) break;
      buf[o++] = '~';
      buf[o++] = (*s == '~') ? '0' : '1';
    } else {
      buf[o++] = *s;
    }
  }
  buf[o] = '\0';
  return buf;
}

bool api_etag_matches(const char *if_none_match, const char *etag) {
  if (if_none_match == NULL || etag == NULL) return false;
  size_t elen = strlen(etag);
  const char *p = if_none_match;
  while (*p != '\0') {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    if (*p == '\0') break;
    const char *end = p;
    while (*end != '\0' && *end != ',')
      end++;
    const char *q = end;
    while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
      q--;
    const char *tag = p;
    if (q - tag >= 2 && tag[0] == 'W' && tag[1] == '/') tag += 2;
    size_t len = (size_t)(q - tag);
    if ((len == 1 && tag[0] == '*') ||
        (len == elen && memcmp(tag, etag, elen) == 0))
      return true;
    p = end;
  }
  return false;
}
