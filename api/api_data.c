/* Decoding inline datasets (rows or columns form) into a core_panel (see
 * api_data.h). */
#include "api_data.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"

typedef enum key_kind {
  KEY_NONE = -1,
  KEY_REPORTER,
  KEY_PARTNER,
  KEY_YEAR
} key_kind;

static key_kind key_of(const char *name) {
  if (strcmp(name, "reporter") == 0) return KEY_REPORTER;
  if (strcmp(name, "partner") == 0) return KEY_PARTNER;
  if (strcmp(name, "year") == 0) return KEY_YEAR;
  return KEY_NONE;
}

/* Decoding state shared by both forms. */
typedef struct decoder {
  const api_limits *limits;
  const api_lifted *lifted;
  api_errors *errs;
  size_t n_errors; /* faults seen (may exceed those listed) */
  api_error_code code;
  core_panel *panel;
  const char **key_str[2]; /* reporter, partner: borrowed strings or NULL */
  bool key_present[3];
  int *year;
  bool *year_set;
} decoder;

static void fault(decoder *d, const char *ptr, const char *detail) {
  if (d->n_errors < API_DATA_MAX_ERRORS)
    api_errors_add(d->errs, ptr, "%s", detail);
  d->n_errors++;
}

/* Where a cell is, as pieces: the pointer is only printed when a fault
 * needs it (a million rows must not cost a million snprintf calls). */
typedef struct cell_ref {
  const char *base; /* pointer of the row object or of the column array */
  const char *key;  /* member name in a row, or NULL for an array index */
  size_t index;
} cell_ref;

static void cell_fault(decoder *d, const cell_ref *at, const char *detail) {
  char ptr[API_POINTER_MAX];
  if (at->key)
    api_pointer_join(ptr, sizeof ptr, at->base, at->key);
  else
    api_pointer_index(ptr, sizeof ptr, at->base, at->index);
  fault(d, ptr, detail);
}

static const char bad_name[] =
    "invalid variable name: 1 to 64 characters of [A-Za-z0-9_.], not "
    "starting with a digit";

/* Checks a key cell and stores it; faults name ptr. */
static void key_cell(decoder *d, key_kind k, size_t row, const json_t *v,
                     const cell_ref *ptr) {
  d->key_present[k] = true;
  if (json_is_null(v)) return; /* missing; years are checked later */
  if (k == KEY_YEAR) {
    if (!json_is_integer(v)) {
      cell_fault(d, ptr, "must be an integer year");
      return;
    }
    json_int_t y = json_integer_value(v);
    if (y < API_YEAR_MIN || y > API_YEAR_MAX) {
      char msg[96];
      snprintf(msg, sizeof msg, "must be an integer year from %d to %d",
               API_YEAR_MIN, API_YEAR_MAX);
      cell_fault(d, ptr, msg);
      return;
    }
    d->year[row] = (int)y;
    d->year_set[row] = true;
    return;
  }
  if (!json_is_string(v) || json_string_length(v) == 0 ||
      json_string_length(v) > API_KEY_MAX ||
      strlen(json_string_value(v)) != json_string_length(v)) {
    char msg[96];
    snprintf(msg, sizeof msg,
             "must be a string of 1 to %d bytes (no NUL), or null",
             API_KEY_MAX);
    cell_fault(d, ptr, msg);
    return;
  }
  d->key_str[k][row] = json_string_value(v);
}

/* Checks a numeric cell and stores it in column col. */
static void num_cell(decoder *d, size_t col, size_t row, const json_t *v,
                     const cell_ref *ptr) {
  if (json_is_null(v)) return; /* the column starts all missing */
  if (!json_is_number(v)) {
    cell_fault(d, ptr, "must be a number or null");
    return;
  }
  d->panel->cols[col][row] = json_number_value(v);
}

/* Finds or adds the column called name; hint is a likely index. Returns the
 * index, or SIZE_MAX after recording a fault (limit or memory). */
static size_t column_for(decoder *d, const char *name, size_t hint,
                         const char *ptr) {
  core_panel *p = d->panel;
  if (hint < p->ncol && strcmp(p->names[hint], name) == 0) return hint;
  for (size_t j = 0; j < p->ncol; j++)
    if (strcmp(p->names[j], name) == 0) return j;
  if (p->ncol >= d->limits->max_columns) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "one variable too many: the limit is %zu variables",
             d->limits->max_columns);
    fault(d, ptr, msg);
    d->code = API_E_LIMIT;
    return SIZE_MAX;
  }
  size_t idx = 0;
  core_err cerr;
  core_err_clear(&cerr);
  if (core_panel_add_column(p, name, NULL, &idx, &cerr) != CORE_OK) {
    d->code = API_E_INTERNAL;
    return SIZE_MAX;
  }
  return idx;
}

static bool setup(decoder *d, size_t n) {
  d->panel = core_panel_alloc(n);
  d->key_str[0] = calloc(n, sizeof(const char *));
  d->key_str[1] = calloc(n, sizeof(const char *));
  d->year = calloc(n, sizeof(int));
  d->year_set = calloc(n, sizeof(bool));
  return d->panel && d->key_str[0] && d->key_str[1] && d->year && d->year_set;
}

static void teardown(decoder *d) {
  free((void *)d->key_str[0]);
  free((void *)d->key_str[1]);
  free(d->year);
  free(d->year_set);
}

static void decode_rows(decoder *d, const json_t *rows, const char *ptr_rows) {
  size_t n = json_array_size(rows);
  char ptr[API_POINTER_MAX], rowptr[API_POINTER_MAX];
  for (size_t i = 0; i < n && d->code == API_E_INVALID; i++) {
    const json_t *row = json_array_get(rows, i);
    api_pointer_index(rowptr, sizeof rowptr, ptr_rows, i);
    if (!json_is_object(row)) {
      fault(d, rowptr, "must be an object");
      continue;
    }
    const char *key;
    const json_t *v;
    size_t pos = 0;
    json_object_foreach((json_t *)row, key, v) {
      cell_ref at = {.base = rowptr, .key = key};
      key_kind k = key_of(key);
      if (k != KEY_NONE) {
        key_cell(d, k, i, v, &at);
      } else if (!core_panel_valid_name(key)) {
        cell_fault(d, &at, bad_name);
      } else {
        size_t col = pos;
        if (col >= d->panel->ncol || strcmp(d->panel->names[col], key) != 0)
          col = column_for(d, key, pos,
                           api_pointer_join(ptr, sizeof ptr, rowptr, key));
        if (col == SIZE_MAX) break;
        num_cell(d, col, i, v, &at);
        pos = col + 1;
      }
    }
  }
  if (d->code != API_E_INVALID || !d->key_present[KEY_YEAR]) return;
  /* The panel holds no missing year, so a year key given in some rows must
   * be given in all of them. */
  for (size_t i = 0; i < n; i++) {
    const json_t *row = json_array_get(rows, i);
    if (!json_is_object(row) || d->year_set[i]) continue;
    const json_t *y = json_object_get(row, "year");
    if (y != NULL && !json_is_null(y)) continue; /* already a fault */
    api_pointer_index(rowptr, sizeof rowptr, ptr_rows, i);
    if (y != NULL)
      fault(d, api_pointer_join(ptr, sizeof ptr, rowptr, "year"),
            "must be an integer year: other rows have one and a year cannot "
            "be missing");
    else
      fault(d, rowptr,
            "has no year while other rows do; a year cannot be missing");
  }
}

/* The rows lifted by api_lift.c: clean by construction (api_lift.h), so
 * only the limit of columns can still fault, at the member that first
 * passes it, as decode_rows would report it. */
static void decode_lifted_rows(decoder *d, const api_lifted_rows *lr,
                               const char *ptr_rows) {
  char ptr[API_POINTER_MAX], rowptr[API_POINTER_MAX];
  size_t n = lr->n;
  for (size_t j = 0; j < lr->ncol; j++) {
    api_pointer_index(rowptr, sizeof rowptr, ptr_rows, lr->first_row[j]);
    size_t col =
        column_for(d, lr->names[j], j,
                   api_pointer_join(ptr, sizeof ptr, rowptr, lr->names[j]));
    if (col == SIZE_MAX) return;
    memcpy(d->panel->cols[col], lr->cols[j], n * sizeof *lr->cols[j]);
  }
  for (int k = 0; k < 2; k++)
    if (lr->keys[k] != NULL) {
      d->key_present[k] = true;
      memcpy((void *)d->key_str[k], lr->keys[k], n * sizeof *lr->keys[k]);
    }
  if (lr->year != NULL) {
    d->key_present[KEY_YEAR] = true;
    memcpy(d->year, lr->year, n * sizeof *lr->year);
    for (size_t i = 0; i < n; i++)
      d->year_set[i] = true;
  }
}

static void decode_columns(decoder *d, const json_t *cols, const char *ptr_cols,
                           size_t n) {
  char ptr[API_POINTER_MAX], cell[API_POINTER_MAX];
  const char *key;
  const json_t *arr;
  json_object_foreach((json_t *)cols, key, arr) {
    if (d->code != API_E_INVALID) break;
    api_pointer_join(ptr, sizeof ptr, ptr_cols, key);
    key_kind k = key_of(key);
    size_t col = SIZE_MAX;
    if (k == KEY_NONE) {
      if (!core_panel_valid_name(key)) {
        fault(d, ptr, bad_name);
        continue;
      }
      col = column_for(d, key, SIZE_MAX, ptr);
      if (col == SIZE_MAX) break;
    }
    const api_lifted_col *lc = api_lifted_get(d->lifted, arr);
    if (lc != NULL) {
      /* Only numeric columns are lifted (api_lift.c): a key column never
       * comes as a marker, but would be refused like any non-array. */
      if (k != KEY_NONE) {
        fault(d, ptr, "must be an array of values, one per row");
        continue;
      }
      if (lc->n != n) continue;
      memcpy(d->panel->cols[col], lc->v, n * sizeof *lc->v);
      continue;
    }
    if (!json_is_array(arr) || json_array_size(arr) != n) continue;
    for (size_t i = 0; i < n; i++) {
      const json_t *v = json_array_get(arr, i);
      cell_ref at = {.base = ptr, .index = i};
      if (k != KEY_NONE)
        key_cell(d, k, i, v, &at);
      else
        num_cell(d, col, i, v, &at);
    }
    if (k == KEY_YEAR)
      for (size_t i = 0; i < n; i++)
        if (!d->year_set[i] && json_is_null(json_array_get(arr, i)))
          fault(d, api_pointer_index(cell, sizeof cell, ptr, i),
                "must be an integer year; a year cannot be missing");
  }
}

/* Checks the columns object's shape; returns the common length or SIZE_MAX
 * after recording faults. */
static size_t columns_length(decoder *d, const json_t *cols,
                             const char *ptr_cols) {
  char ptr[API_POINTER_MAX];
  const char *key, *first = NULL;
  const json_t *arr;
  size_t n = SIZE_MAX;
  bool bad = false, differs = false;
  json_object_foreach((json_t *)cols, key, arr) {
    api_pointer_join(ptr, sizeof ptr, ptr_cols, key);
    const api_lifted_col *lc = api_lifted_get(d->lifted, arr);
    if (lc == NULL && !json_is_array(arr)) {
      fault(d, ptr, "must be an array of values, one per row");
      bad = true;
      continue;
    }
    size_t len = lc != NULL ? lc->n : json_array_size(arr);
    if (n == SIZE_MAX) {
      n = len;
      first = key;
    } else if (len != n && !differs) {
      char msg[256], fp[API_POINTER_MAX];
      snprintf(msg, sizeof msg,
               "has %zu values but %s has %zu; columns must have equal "
               "lengths",
               len, api_pointer_join(fp, sizeof fp, ptr_cols, first), n);
      fault(d, ptr, msg);
      differs = bad = true;
    }
  }
  if (bad) return SIZE_MAX;
  if (n == SIZE_MAX || n == 0) {
    fault(d, ptr_cols, "must contain at least one row");
    return SIZE_MAX;
  }
  return n;
}

static void limit_rows(decoder *d, const char *ptr, size_t n) {
  char msg[160];
  snprintf(msg, sizeof msg, "has %zu rows; the limit is %zu", n,
           d->limits->max_rows);
  fault(d, ptr, msg);
  d->code = API_E_LIMIT;
}

bool api_data_decode(const json_t *data, const char *base,
                     const api_limits *limits, const api_lifted *lifted,
                     api_data *out, api_error_code *code, api_errors *errs) {
  decoder d = {
      .limits = limits, .lifted = lifted, .errs = errs, .code = API_E_INVALID};
  char ptr[API_POINTER_MAX];
  memset(out, 0, sizeof *out);
  snprintf(out->base, sizeof out->base, "%s", base);
  *code = API_E_INVALID;

  const json_t *rows = NULL, *cols = NULL;
  /* Rows lifted out of the text stand as a marker (api_lift.h). */
  const api_lifted_rows *lr =
      api_lifted_rows_get(lifted, json_object_get(data, "rows"));
  const api_field fields[] = {
      {.name = "rows", .type = API_F_ARRAY, .out = &rows},
      {.name = "columns", .type = API_F_OBJECT, .out = &cols},
  };
  if (!api_json_fields(data, base, fields, 2, errs)) return false;
  bool has_rows = json_object_get(data, "rows") != NULL;
  bool has_cols = json_object_get(data, "columns") != NULL;
  if (has_rows == has_cols) {
    api_errors_add(errs, base,
                   "must have exactly one of \"rows\" or "
                   "\"columns\"");
    return false;
  }
  out->form = has_rows ? API_DATA_ROWS : API_DATA_COLUMNS;
  size_t n;
  if (rows != NULL) {
    api_pointer_join(ptr, sizeof ptr, base, "rows");
    n = lr != NULL ? lr->n : json_array_size(rows);
    if (n == 0) {
      api_errors_add(errs, ptr, "must contain at least one row");
      return false;
    }
    if (n > limits->max_rows) {
      limit_rows(&d, ptr, n);
      *code = d.code;
      return false;
    }
  } else {
    api_pointer_join(ptr, sizeof ptr, base, "columns");
    n = columns_length(&d, cols, ptr);
    if (n == SIZE_MAX) return false;
    if (n > limits->max_rows) {
      limit_rows(&d, ptr, n);
      *code = d.code;
      return false;
    }
  }

  bool ok = false;
  if (!setup(&d, n)) {
    d.code = API_E_INTERNAL;
    goto cleanup;
  }
  if (lr != NULL)
    decode_lifted_rows(&d, lr, ptr);
  else if (rows != NULL)
    decode_rows(&d, rows, ptr);
  else
    decode_columns(&d, cols, ptr, n);
  if (d.n_errors > API_DATA_MAX_ERRORS)
    api_errors_add(errs, ptr, "%zu more faults in the data are not listed",
                   d.n_errors - API_DATA_MAX_ERRORS);
  if (d.code != API_E_INVALID || d.n_errors > 0) goto cleanup;

  core_err cerr;
  core_err_clear(&cerr);
  if (core_panel_set_keys(
          d.panel,
          d.key_present[KEY_REPORTER] ? (const char *const *)d.key_str[0]
                                      : NULL,
          d.key_present[KEY_PARTNER] ? (const char *const *)d.key_str[1] : NULL,
          d.key_present[KEY_YEAR] ? d.year : NULL, &cerr) != CORE_OK) {
    /* Empty strings were refused above, so only memory can fail here. */
    d.code = API_E_INTERNAL;
    goto cleanup;
  }
  out->panel = d.panel;
  d.panel = NULL;
  ok = true;
cleanup:
  teardown(&d);
  core_panel_free(d.panel);
  *code = ok ? API_E_COUNT : d.code;
  return ok;
}

void api_data_free(api_data *d) {
  if (d == NULL) return;
  core_panel_free(d->panel);
  d->panel = NULL;
}

const char *api_data_cell_pointer(const api_data *d, size_t row,
                                  const char *var, char *buf, size_t bufsz) {
  char esc[API_POINTER_MAX];
  api_pointer_escape(var, esc, sizeof esc);
  if (d->form == API_DATA_ROWS)
    snprintf(buf, bufsz, "%s/rows/%zu/%s", d->base, row, esc);
  else
    snprintf(buf, bufsz, "%s/columns/%s/%zu", d->base, esc, row);
  return buf;
}

const char *api_data_pointer(const api_data *d, char *buf, size_t bufsz) {
  snprintf(buf, bufsz, "%s/%s", d->base,
           d->form == API_DATA_ROWS ? "rows" : "columns");
  return buf;
}

const char *api_data_variables(const api_data *d, char *buf, size_t bufsz) {
  size_t o = 0;
  if (bufsz == 0) return buf;
  buf[0] = '\0';
  const core_panel *p = d->panel;
  if (p == NULL) return buf;
  const char *keys[3] = {p->reporter ? "reporter" : NULL,
                         p->partner ? "partner" : NULL,
                         p->year ? "year" : NULL};
  size_t total = 3 + p->ncol;
  for (size_t i = 0; i < total; i++) {
    const char *name = i < 3 ? keys[i] : p->names[i - 3];
    if (name == NULL) continue;
    size_t need = strlen(name) + (o ? 2 : 0);
    if (o + need + 4 >= bufsz) {
      snprintf(buf + o, bufsz - o, "%s", o ? ", ..." : "...");
      break;
    }
    o += (size_t)snprintf(buf + o, bufsz - o, "%s%s", o ? ", " : "", name);
  }
  return buf;
}

bool api_data_has_variable(const api_data *d, const char *name) {
  const core_panel *p = d->panel;
  if (p == NULL) return false;
  switch (key_of(name)) {
  case KEY_REPORTER: return p->reporter != NULL;
  case KEY_PARTNER: return p->partner != NULL;
  case KEY_YEAR: return p->year != NULL;
  case KEY_NONE: break;
  }
  return core_panel_find(p, name) >= 0;
}
