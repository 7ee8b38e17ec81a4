/* Gap filling in panel series (METHODS.md section 10): linear interpolation
 * in the year within each (reporter, partner) entity, optional carrying of
 * the nearest observed value beyond the ends, every filled cell listed (see
 * core_interp.h for the contract). */
#include "core_interp.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void core_fill_list_clear(core_fill_list *l) {
  if (l == NULL) return;
  free(l->items);
  l->items = NULL;
  l->n = 0;
  l->cap = 0;
}

static bool push(core_fill_list *l, size_t row, size_t col, int year,
                 double value, core_fill_kind kind) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    if (cap < l->cap || cap > SIZE_MAX / sizeof *l->items) return false;
    core_fill *items = realloc(l->items, cap * sizeof *items);
    if (items == NULL) return false;
    l->items = items;
    l->cap = cap;
  }
  l->items[l->n++] = (core_fill){row, col, year, value, kind};
  return true;
}

/* A missing key (NULL) sorts before every present one and equals another
 * missing key. */
static int key_cmp(const char *a, const char *b) {
  if (a == NULL || b == NULL) return (a != NULL) - (b != NULL);
  return strcmp(a, b);
}

static int entity_cmp(const core_panel *p, size_t a, size_t b) {
  int c = p->reporter ? key_cmp(p->reporter[a], p->reporter[b]) : 0;
  if (c == 0 && p->partner) c = key_cmp(p->partner[a], p->partner[b]);
  return c;
}

/* Order by entity, then year, then row (so equal keys keep their order). */
static int row_cmp(const core_panel *p, size_t a, size_t b) {
  int c = entity_cmp(p, a, b);
  if (c != 0) return c;
  if (p->year[a] != p->year[b]) return p->year[a] < p->year[b] ? -1 : 1;
  return (a > b) - (a < b);
}

/* Bottom-up merge sort of idx[0..n) with tmp as scratch: O(n log n) with a
 * context pointer, which qsort lacks (a global would not be thread-safe). */
static void sort_rows(const core_panel *p, size_t *idx, size_t *tmp, size_t n) {
  for (size_t width = 1; width < n; width *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * width) {
      size_t mid = lo + width < n ? lo + width : n;
      size_t hi = mid + width < n ? mid + width : n;
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi)
        tmp[k++] = row_cmp(p, idx[j], idx[i]) < 0 ? idx[j++] : idx[i++];
      while (i < mid)
        tmp[k++] = idx[i++];
      while (j < hi)
        tmp[k++] = idx[j++];
    }
    memcpy(idx, tmp, n * sizeof *idx);
  }
}

/* The value at year w on the line through (u, xu) and (v, xv), u < w < v. */
static double line(double u, double xu, double v, double xv, double w) {
  double t = (w - u) / (v - u);
  double y = xu + t * (xv - xu);
  /* xv - xu overflows only for values near +/-DBL_MAX of opposite signs. */
  if (!isfinite(y)) y = xu * (1.0 - t) + xv * t;
  return y;
}

/* Fills one column over the sorted rows idx[a..b) of one entity. */
static bool fill_series(core_panel *p, size_t col, const size_t *idx, size_t a,
                        size_t b, core_interp_mode mode, core_fill_list *l) {
  double *x = p->cols[col];
  const int *yr = p->year;
  size_t prev = SIZE_MAX; /* position of the last observed value */
  for (size_t k = a; k < b; k++) {
    size_t r = idx[k];
    if (isnan(x[r])) continue;
    if (prev != SIZE_MAX) {
      size_t u = idx[prev];
      for (size_t m = prev + 1; m < k; m++) {
        size_t w = idx[m];
        double v =
            line((double)yr[u], x[u], (double)yr[r], x[r], (double)yr[w]);
        if (!push(l, w, col, yr[w], v, CORE_FILL_INTERPOLATED)) return false;
        x[w] = v;
      }
    } else if (mode == CORE_INTERP_NEAREST) {
      for (size_t m = a; m < k; m++) {
        size_t w = idx[m];
        if (!push(l, w, col, yr[w], x[r], CORE_FILL_CARRIED)) return false;
        x[w] = x[r];
      }
    }
    prev = k;
  }
  if (mode == CORE_INTERP_NEAREST && prev != SIZE_MAX) {
    double last = x[idx[prev]];
    for (size_t m = prev + 1; m < b; m++) {
      size_t w = idx[m];
      if (!push(l, w, col, yr[w], last, CORE_FILL_CARRIED)) return false;
      x[w] = last;
    }
  }
  return true;
}

core_status core_interp_panel(core_panel *p, const size_t *cols, size_t ncols,
                              core_interp_mode mode, core_fill_list *filled,
                              core_err *err) {
  core_err_clear(err);
  if (p == NULL)
    return core_err_set(err, CORE_EINVAL, "No panel to interpolate.");
  if (mode != CORE_INTERP_NONE && mode != CORE_INTERP_LINEAR &&
      mode != CORE_INTERP_NEAREST)
    return core_err_set(err, CORE_EINVAL, "Unknown interpolation mode.");
  if (mode == CORE_INTERP_NONE || ncols == 0 || p->n == 0) return CORE_OK;
  if (cols == NULL || filled == NULL)
    return core_err_set(err, CORE_EINVAL,
                        "No columns or no fill list for the interpolation.");
  for (size_t c = 0; c < ncols; c++)
    if (cols[c] >= p->ncol)
      return core_err_set(err, CORE_EINVAL,
                          "Column %zu is not a numeric column of the panel "
                          "(it has %zu); the year key cannot be filled.",
                          cols[c], p->ncol);
  if (p->year == NULL)
    return core_err_set(err, CORE_EINVAL,
                        "Interpolation needs a year key to order each "
                        "series; the data has none.");
  size_t n = p->n;
  if (n > SIZE_MAX / 2 / sizeof(size_t))
    return core_err_set(err, CORE_ENOMEM, "The panel is too large to sort.");
  size_t *idx = malloc(2 * n * sizeof *idx);
  if (idx == NULL)
    return core_err_set(err, CORE_ENOMEM, "Out of memory for the sort.");
  for (size_t i = 0; i < n; i++)
    idx[i] = i;
  sort_rows(p, idx, idx + n, n);
  /* A year twice in one entity makes the series ambiguous: refuse before
   * anything is written. */
  for (size_t k = 1; k < n; k++) {
    size_t a = idx[k - 1], b = idx[k];
    if (p->year[a] != p->year[b] || entity_cmp(p, a, b) != 0) continue;
    char label[2 * CORE_NAME_MAX + 8];
    core_panel_entity(p, a, label, sizeof label);
    free(idx);
    if (err) snprintf(err->name, sizeof err->name, "year");
    core_err_add_row(err, a);
    core_err_add_row(err, b);
    return core_err_set(err, CORE_EINVAL,
                        "%s%s has more than one row for year %d (rows %zu and "
                        "%zu); a series can have one value per year.",
                        label[0] ? "The entity " : "The data", label,
                        p->year[a], a, b);
  }
  size_t n0 = filled->n;
  bool ok = true;
  for (size_t c = 0; c < ncols && ok; c++)
    for (size_t a = 0, b; a < n && ok; a = b) {
      for (b = a + 1; b < n && entity_cmp(p, idx[a], idx[b]) == 0; b++)
        ;
      ok = fill_series(p, cols[c], idx, a, b, mode, filled);
    }
  free(idx);
  if (ok) return CORE_OK;
  /* Out of memory: undo, so the panel and the list are as they were (every
   * filled cell was missing before). */
  for (size_t i = n0; i < filled->n; i++)
    p->cols[filled->items[i].col][filled->items[i].row] = NAN;
  filled->n = n0;
  return core_err_set(err, CORE_ENOMEM, "Out of memory for the fill list.");
}
