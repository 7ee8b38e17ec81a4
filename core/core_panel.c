/* The panel column store (see core_panel.h): numeric columns with NaN as the
 * missing value, plus optional reporter/partner/year keys. */
#include "core_panel.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Allocation of count elements of size bytes, refusing sizes that overflow.
 * calloc already checks the product, but we also want a non-NULL result for
 * count == 0 so that "no rows" is not confused with "out of memory". */
static void *alloc_array(size_t count, size_t size) {
  if (count == 0) count = 1;
  return calloc(count, size);
}

core_panel *core_panel_alloc(size_t n) {
  if (n > SIZE_MAX / sizeof(double)) return NULL;
  core_panel *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  p->n = n;
  return p;
}

static void free_strings(char **s, size_t n) {
  if (s == NULL) return;
  for (size_t i = 0; i < n; i++)
    free(s[i]);
  free(s);
}

void core_panel_free(core_panel *p) {
  if (p == NULL) return;
  for (size_t j = 0; j < p->ncol; j++) {
    free(p->names[j]);
    free(p->cols[j]);
  }
  free(p->names);
  free(p->cols);
  free_strings(p->reporter, p->n);
  free_strings(p->partner, p->n);
  free(p->year);
  free(p->year_values);
  free(p);
}

static bool is_reserved(const char *name) {
  return strcmp(name, "reporter") == 0 || strcmp(name, "partner") == 0 ||
         strcmp(name, "year") == 0;
}

static bool name_char(char c, bool first) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '.')
    return true;
  return !first && c >= '0' && c <= '9';
}

bool core_panel_valid_name(const char *name) {
  if (name == NULL || name[0] == '\0') return false;
  size_t len = 0;
  for (const char *c = name; *c != '\0'; c++, len++) {
    if (len >= CORE_NAME_MAX) return false;
    if (!name_char(*c, c == name)) return false;
  }
  return !is_reserved(name);
}

core_status core_panel_add_column(core_panel *p, const char *name,
                                  const double *values, size_t *index_out,
                                  core_err *err) {
  core_err_clear(err);
  if (p == NULL || name == NULL)
    return core_err_set(err, CORE_EINVAL, "no panel or no column name given");
  if (!core_panel_valid_name(name)) {
    if (err) snprintf(err->name, sizeof err->name, "%s", name);
    if (is_reserved(name))
      return core_err_set(err, CORE_EINVAL,
                          "'%s' is a reserved key name and cannot be a "
                          "numeric column",
                          name);
    return core_err_set(err, CORE_EINVAL,
                        "invalid column name '%.80s': use 1 to %d characters "
                        "from A-Z a-z 0-9 _ . not starting with a digit",
                        name, CORE_NAME_MAX);
  }
  if (core_panel_find(p, name) >= 0) {
    if (err) snprintf(err->name, sizeof err->name, "%s", name);
    return core_err_set(err, CORE_EINVAL, "duplicate column name '%s'", name);
  }
  if (p->ncol == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 8;
    char **names = realloc(p->names, cap * sizeof *names);
    if (names == NULL) goto nomem;
    p->names = names;
    double **cols = realloc(p->cols, cap * sizeof *cols);
    if (cols == NULL) goto nomem;
    p->cols = cols;
    p->cap = cap;
  }
  char *copy = strdup(name);
  double *col = alloc_array(p->n, sizeof *col);
  if (copy == NULL || col == NULL) {
    free(copy);
    free(col);
    goto nomem;
  }
  for (size_t i = 0; i < p->n; i++) {
    double v = values ? values[i] : NAN;
    col[i] = isfinite(v) ? v : NAN;
  }
  p->names[p->ncol] = copy;
  p->cols[p->ncol] = col;
  if (index_out) *index_out = p->ncol;
  p->ncol++;
  return CORE_OK;
nomem:
  return core_err_set(err, CORE_ENOMEM, "out of memory adding column '%s'",
                      name);
}

long core_panel_find(const core_panel *p, const char *name) {
  if (p == NULL || name == NULL) return -1;
  for (size_t j = 0; j < p->ncol; j++)
    if (strcmp(p->names[j], name) == 0) return (long)j;
  if (p->year_values != NULL && strcmp(name, "year") == 0) return (long)p->ncol;
  return -1;
}

const double *core_panel_column(const core_panel *p, const char *name) {
  long j = core_panel_find(p, name);
  if (j < 0) return NULL;
  if ((size_t)j == p->ncol) return p->year_values;
  return p->cols[j];
}

/* Copies n key strings; NULL entries stay NULL. Returns NULL on allocation
 * failure (with *bad = SIZE_MAX) or on an empty string (with *bad = its row).
 */
static char **copy_keys(const char *const *src, size_t n, size_t *bad) {
  char **dst = alloc_array(n, sizeof *dst);
  if (dst == NULL) {
    *bad = SIZE_MAX;
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    if (src[i] == NULL) continue;
    if (src[i][0] == '\0') {
      *bad = i;
      free_strings(dst, n);
      return NULL;
    }
    dst[i] = strdup(src[i]);
    if (dst[i] == NULL) {
      *bad = SIZE_MAX;
      free_strings(dst, n);
      return NULL;
    }
  }
  return dst;
}

core_status core_panel_set_keys(core_panel *p, const char *const *reporter,
                                const char *const *partner, const int *year,
                                core_err *err) {
  core_err_clear(err);
  if (p == NULL) return core_err_set(err, CORE_EINVAL, "no panel given");
  char **rep = NULL, **par = NULL;
  int *yr = NULL;
  double *yv = NULL;
  size_t bad = 0;
  const char *which = NULL;
  /* Build everything first so that a failure leaves the old keys intact. */
  if (reporter) {
    rep = copy_keys(reporter, p->n, &bad);
    if (rep == NULL) {
      which = "reporter";
      goto fail;
    }
  }
  if (partner) {
    par = copy_keys(partner, p->n, &bad);
    if (par == NULL) {
      which = "partner";
      goto fail;
    }
  }
  if (year) {
    yr = alloc_array(p->n, sizeof *yr);
    yv = alloc_array(p->n, sizeof *yv);
    if (yr == NULL || yv == NULL) {
      bad = SIZE_MAX;
      which = "year";
      goto fail;
    }
    for (size_t i = 0; i < p->n; i++) {
      yr[i] = year[i];
      yv[i] = (double)year[i];
    }
  }
  free_strings(p->reporter, p->n);
  free_strings(p->partner, p->n);
  free(p->year);
  free(p->year_values);
  p->reporter = rep;
  p->partner = par;
  p->year = yr;
  p->year_values = yv;
  return CORE_OK;
fail:
  free_strings(rep, p->n);
  free_strings(par, p->n);
  free(yr);
  free(yv);
  if (bad == SIZE_MAX)
    return core_err_set(err, CORE_ENOMEM, "out of memory copying the %s key",
                        which);
  if (err) {
    snprintf(err->name, sizeof err->name, "%s", which);
    core_err_add_row(err, bad);
  }
  return core_err_set(err, CORE_EINVAL,
                      "empty %s key in row %zu: use NULL for a missing key",
                      which, bad);
}

bool core_panel_is_longitudinal(const core_panel *p) {
  return p != NULL && p->year != NULL &&
         (p->reporter != NULL || p->partner != NULL);
}

const char *core_panel_entity(const core_panel *p, size_t i, char *buf,
                              size_t bufsz) {
  if (buf == NULL || bufsz == 0) return buf;
  buf[0] = '\0';
  if (p == NULL || i >= p->n) return buf;
  /* A missing key inside a present key array prints as "NA", as R does. */
  const char *r = p->reporter ? (p->reporter[i] ? p->reporter[i] : "NA") : NULL;
  const char *q = p->partner ? (p->partner[i] ? p->partner[i] : "NA") : NULL;
  if (r && q)
    snprintf(buf, bufsz, "%s-%s", r, q);
  else if (r || q)
    snprintf(buf, bufsz, "%s", r ? r : q);
  return buf;
}

size_t core_panel_missing(const core_panel *p, size_t j) {
  if (p == NULL || j >= p->ncol) return 0; /* the year view is never missing */
  size_t miss = 0;
  for (size_t i = 0; i < p->n; i++)
    miss += isnan(p->cols[j][i]) ? 1 : 0;
  return miss;
}
