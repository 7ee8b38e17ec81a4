/* Error and warning helpers for the estimation core (see core_err.h). */
#include "core_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void core_err_clear(core_err *e) {
  if (e == NULL) return;
  memset(e, 0, sizeof *e);
  e->code = CORE_OK;
  e->pos = -1;
}

core_status core_err_set(core_err *e, core_status code, const char *fmt, ...) {
  if (e == NULL) return code;
  e->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  return code;
}

void core_err_add_row(core_err *e, size_t row) {
  if (e == NULL) return;
  if (e->n_rows < CORE_ERR_MAX_ROWS) e->rows[e->n_rows++] = row;
  e->rows_total++;
}

const char *core_status_name(core_status code) {
  switch (code) {
  case CORE_OK: return "ok";
  case CORE_ENOMEM: return "out_of_memory";
  case CORE_EINVAL: return "invalid";
  case CORE_EPARSE: return "formula_syntax";
  case CORE_EUNKNOWN_VAR: return "unknown_variable";
  case CORE_EDOMAIN: return "domain";
  case CORE_ESINGULAR: return "singular";
  case CORE_ETOOFEW: return "too_few_observations";
  case CORE_ENOTSUP: return "not_supported";
  case CORE_ENOCONV: return "not_converged";
  case CORE_EINTERNAL: return "internal";
  }
  return "unknown";
}

core_status core_warn(core_warnings *w, const char *fmt, ...) {
  if (w == NULL) return CORE_OK;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (len < 0) return CORE_EINTERNAL;
  if (w->n == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 4;
    char **m = realloc(w->msgs, cap * sizeof *m);
    if (m == NULL) return CORE_ENOMEM;
    w->msgs = m;
    w->cap = cap;
  }
  char *s = strdup(buf);
  if (s == NULL) return CORE_ENOMEM;
  w->msgs[w->n++] = s;
  return CORE_OK;
}

core_status core_warnings_move(core_warnings *dst, core_warnings *src) {
  if (dst == NULL || src == NULL) return CORE_OK;
  for (size_t i = 0; i < src->n; i++) {
    if (dst->n == dst->cap) {
      size_t cap = dst->cap ? dst->cap * 2 : 4;
      char **m = realloc(dst->msgs, cap * sizeof *m);
      if (m == NULL) return CORE_ENOMEM;
      dst->msgs = m;
      dst->cap = cap;
    }
    dst->msgs[dst->n++] = src->msgs[i];
    src->msgs[i] = NULL;
  }
  src->n = 0;
  return CORE_OK;
}

void core_warnings_clear(core_warnings *w) {
  if (w == NULL) return;
  for (size_t i = 0; i < w->n; i++)
    free(w->msgs[i]);
  free(w->msgs);
  w->msgs = NULL;
  w->n = w->cap = 0;
}
