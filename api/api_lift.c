/* See api_lift.h. The scan walks the text with a strict grammar only on
 * the path that can hold a lifted array (the top object, its "data"
 * object, a "columns" object, a "rows" array and its row objects); every
 * other value is skipped by bracket counting. Anything unexpected on that path
 * stops the scan and nothing is lifted: Jansson then parses the client's text
 * as it is, so a text the scan does not fully understand keeps exactly its old
 * answer. A marked text that Jansson refuses means the client's text is refused
 * too (the marker and the array are both one value); the client's text is then
 * parsed for the error. */
#include "api_lift.h"
#include "api_num.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_data.h"
#include "api_json.h"
#include "core_mem.h"
#include "core_panel.h"

#define MARKER_PREFIX "\\u0001gv1:" /* in the text */
#define MARKER_VALUE "\001gv1:"     /* in the parsed string */
/* Shorter arrays are left to Jansson: not worth a marker. */
#define LIFT_MIN_BYTES 32
/* Longest number token read (Jansson reads any length; a longer token is
 * left to it). */
#define TOKEN_MAX 64

typedef struct repl {
  size_t start, end; /* the array's text [start, end) */
  size_t col;        /* its index in the table (of columns or of rows) */
  bool rows;         /* a rows array (api_lifted_rows), not a column */
} repl;

typedef struct scan {
  const char *s;
  size_t len, i;
  size_t max_depth, max_rows, max_columns;
  api_lifted *out;
  repl *r;
  size_t nr, rcap;
} scan;

static bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(scan *sc) {
  while (sc->i < sc->len && is_ws(sc->s[sc->i]))
    sc->i++;
}

/* Past a string starting at sc->i ('"'). False when unterminated or
 * holding a raw control character (Jansson refuses both). */
static bool skip_string(scan *sc) {
  size_t i = sc->i + 1;
  while (i < sc->len) {
    unsigned char c = (unsigned char)sc->s[i];
    if (c == '"') {
      sc->i = i + 1;
      return true;
    }
    if (c < 0x20) return false;
    i += c == '\\' ? 2 : 1;
  }
  return false;
}

/* Past any value, counting brackets (the inside is Jansson's to judge). */
static bool skip_value(scan *sc) {
  if (sc->i >= sc->len) return false;
  char c = sc->s[sc->i];
  if (c == '"') return skip_string(sc);
  if (c != '{' && c != '[') {
    /* A scalar: up to the next delimiter. */
    while (sc->i < sc->len) {
      c = sc->s[sc->i];
      if (c == ',' || c == '}' || c == ']' || is_ws(c)) break;
      sc->i++;
    }
    return true;
  }
  size_t depth = 0;
  while (sc->i < sc->len) {
    c = sc->s[sc->i];
    if (c == '"') {
      if (!skip_string(sc)) return false;
      continue;
    }
    if (c == '{' || c == '[') depth++;
    if (c == '}' || c == ']') {
      depth--;
      if (depth == 0) {
        sc->i++;
        return true;
      }
    }
    sc->i++;
  }
  return false;
}

/* Reads the string at sc->i as a plain key (no escapes) into *k, *kn.
 * A key with escapes is still skipped but reported as such (kn = SIZE_MAX):
 * it never matches "data" or "columns" and its column is never lifted. */
static bool read_key(scan *sc, const char **k, size_t *kn) {
  if (sc->i >= sc->len || sc->s[sc->i] != '"') return false;
  size_t start = sc->i + 1;
  if (!skip_string(sc)) return false;
  *k = sc->s + start;
  *kn = sc->i - 1 - start;
  if (memchr(*k, '\\', *kn) != NULL) *kn = SIZE_MAX;
  return true;
}

static bool key_is(const char *k, size_t kn, const char *want) {
  return kn == strlen(want) && memcmp(k, want, kn) == 0;
}

static bool push_value(api_lifted_col *c, size_t *cap, double x) {
  if (c->n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 1024;
    double *v = c->v == NULL ? core_alloc(ncap, sizeof *v)
                             : realloc(c->v, ncap * sizeof *v);
    if (v == NULL) return false;
    c->v = v;
    *cap = ncap;
  }
  c->v[c->n++] = x;
  return true;
}

/* One JSON number at sc->i, read as Jansson reads it. False (nothing
 * consumed that matters) when the token is not one Jansson accepts. */
static bool read_number(scan *sc, double *x, bool *is_int) {
  const char *s = sc->s;
  size_t i = sc->i, n = sc->len;
  size_t start = i;
  bool real = false;
  if (i < n && s[i] == '-') i++;
  if (i >= n) return false;
  if (s[i] == '0') {
    i++;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
  } else {
    return false;
  }
  if (i < n && s[i] == '.') {
    real = true;
    i++;
    size_t d = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
    if (i == d) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    real = true;
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t d = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
    if (i == d) return false;
  }
  /* The token must end at a delimiter ("01", "1x" are Jansson's errors). */
  if (i >= n || !(s[i] == ',' || s[i] == ']' || s[i] == '}' || is_ws(s[i])))
    return false;
  *is_int = !real;
  size_t len = i - start;
  if (len >= TOKEN_MAX) return false;
  /* A real as strtod reads it, without strtod for almost every one. */
  if (real && api_parse_real(s + start, len, x)) {
    sc->i = i;
    return true;
  }
  char tok[TOKEN_MAX];
  memcpy(tok, s + start, len);
  tok[len] = '\0';
  /* A token the C library does not read whole (a locale whose decimal
   * point is not '.') is left to Jansson, which converts for the locale. */
  char *end = NULL;
  errno = 0;
  if (real) {
    double v = strtod(tok, &end);
    if ((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE) return false;
    *x = v;
  } else {
    long long v = strtoll(tok, &end, 10);
    if (errno == ERANGE) return false;
    *x = (double)v;
  }
  if (end != tok + len) return false;
  sc->i = i;
  return true;
}

/* Room for one more replacement in sc->r. False when memory is short. */
static bool repl_room(scan *sc) {
  if (sc->nr < sc->rcap) return true;
  size_t ncap = sc->rcap ? sc->rcap * 2 : 16;
  repl *r = realloc(sc->r, ncap * sizeof *r);
  if (r == NULL) return false;
  sc->r = r;
  sc->rcap = ncap;
  return true;
}

/* The token null at sc->i, followed by a delimiter or the end of the text:
 * consumed, true. Anything else: nothing consumed, false. */
static bool read_null(scan *sc) {
  size_t left = sc->len - sc->i;
  if (left < 4 || memcmp(sc->s + sc->i, "null", 4) != 0) return false;
  if (left > 4) {
    char c = sc->s[sc->i + 4];
    if (!(c == ',' || c == ']' || c == '}' || is_ws(c))) return false;
  }
  sc->i += 4;
  return true;
}

/* After an element of an array (close ']') or a member of an object
 * (close '}'): past "," and the white space after it (*end false), or past
 * close (*end true). False at the end of the text or before anything
 * else. */
static bool next_item(scan *sc, char close, bool *end) {
  skip_ws(sc);
  if (sc->i >= sc->len) return false;
  char c = sc->s[sc->i];
  if (c != ',' && c != close) return false;
  sc->i++;
  *end = c == close;
  if (!*end) skip_ws(sc);
  return true;
}

/* Tries to read the array at sc->i as numbers and nulls into a new column.
 * On success records the replacement and returns true; otherwise leaves
 * sc->i where it was and the table as it was. */
static bool lift_array(scan *sc) {
  size_t start = sc->i;
  api_lifted *t = sc->out;
  if (t->n == t->cap) {
    size_t ncap = t->cap ? t->cap * 2 : 16;
    api_lifted_col *c = realloc(t->cols, ncap * sizeof *c);
    if (c == NULL) return false;
    t->cols = c;
    t->cap = ncap;
  }
  if (!repl_room(sc)) return false;
  api_lifted_col col = {0};
  size_t cap = 0;
  sc->i++; /* '[' */
  skip_ws(sc);
  bool ok = sc->i < sc->len && sc->s[sc->i] != ']'; /* [] is left as is */
  while (ok) {
    double x;
    bool is_int;
    if (read_null(sc)) {
      x = NAN;
    } else if (!read_number(sc, &x, &is_int)) {
      ok = false;
      break;
    }
    bool end = false;
    ok = push_value(&col, &cap, x) && next_item(sc, ']', &end);
    if (end) break;
  }
  if (!ok || sc->i - start < LIFT_MIN_BYTES) {
    free(col.v);
    sc->i = start;
    return false;
  }
  sc->r[sc->nr++] = (repl){start, sc->i, t->n, false};
  t->cols[t->n++] = col;
  return true;
}

/* ---- rows ---------------------------------------------------------------- */

/* The distinct key strings of a rows table: most rows repeat a few country
 * codes, so each is kept once (open addressing on an FNV-1a hash; a slot
 * holds 1 + the string's index in t->strs). */
typedef struct intern {
  size_t *slot;
  size_t cap, used;
} intern;

static uint64_t fnv1a(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ULL;
  }
  return h;
}

typedef struct rows_build {
  api_lifted_rows t;
  size_t row_cap; /* rows allocated in every column and key array */
  size_t col_cap; /* columns allocated in names, first_row, cols, seen */
  size_t *seen;   /* per column: 1 + the last row that gave it a value */
  size_t str_cap;
  intern in;
  size_t with_year; /* rows that have a year */
  bool present[3];  /* reporter, partner, year: a member of some row */
} rows_build;

static void rows_table_free(api_lifted_rows *t) {
  for (size_t j = 0; j < t->ncol; j++) {
    free(t->names[j]);
    free(t->cols[j]);
  }
  free(t->names);
  free(t->first_row);
  free(t->cols);
  free((void *)t->keys[0]);
  free((void *)t->keys[1]);
  free(t->year);
  for (size_t i = 0; i < t->nstr; i++)
    free(t->strs[i]);
  free(t->strs);
  *t = (api_lifted_rows){0};
}

/* The kept copy of s[0, n), made on its first appearance. NULL when memory
 * is short. */
static const char *intern_get(rows_build *b, const char *s, size_t n) {
  intern *in = &b->in;
  if (2 * (in->used + 1) > in->cap) {
    size_t ncap = in->cap ? 2 * in->cap : 64;
    size_t *slot = calloc(ncap, sizeof *slot);
    if (slot == NULL) return NULL;
    for (size_t k = 0; k < in->cap; k++) {
      if (in->slot[k] == 0) continue;
      const char *str = b->t.strs[in->slot[k] - 1];
      size_t h = (size_t)fnv1a(str, strlen(str)) & (ncap - 1);
      while (slot[h] != 0)
        h = (h + 1) & (ncap - 1);
      slot[h] = in->slot[k];
    }
    free(in->slot);
    in->slot = slot;
    in->cap = ncap;
  }
  size_t mask = in->cap - 1, h = (size_t)fnv1a(s, n) & mask;
  for (; in->slot[h] != 0; h = (h + 1) & mask) {
    const char *str = b->t.strs[in->slot[h] - 1];
    if (strncmp(str, s, n) == 0 && str[n] == '\0') return str;
  }
  if (b->t.nstr == b->str_cap) {
    size_t ncap = b->str_cap ? 2 * b->str_cap : 64;
    char **strs = realloc(b->t.strs, ncap * sizeof *strs);
    if (strs == NULL) return NULL;
    b->t.strs = strs;
    b->str_cap = ncap;
  }
  char *copy = malloc(n + 1);
  if (copy == NULL) return NULL;
  memcpy(copy, s, n);
  copy[n] = '\0';
  b->t.strs[b->t.nstr++] = copy;
  in->slot[h] = b->t.nstr;
  in->used++;
  return copy;
}

/* Makes room for row i (== t.n) in every array, and sets it to absent. */
static bool rows_add_row(rows_build *b) {
  api_lifted_rows *t = &b->t;
  size_t i = t->n;
  if (i == b->row_cap) {
    size_t ncap = b->row_cap ? 2 * b->row_cap : 1024;
    for (size_t j = 0; j < t->ncol; j++) {
      double *c = realloc(t->cols[j], ncap * sizeof *c);
      if (c == NULL) return false;
      t->cols[j] = c;
    }
    for (int k = 0; k < 2; k++) {
      const char **kv = realloc((void *)t->keys[k], ncap * sizeof *kv);
      if (kv == NULL) return false;
      t->keys[k] = kv;
    }
    int *y = realloc(t->year, ncap * sizeof *y);
    if (y == NULL) return false;
    t->year = y;
    b->row_cap = ncap;
  }
  for (size_t j = 0; j < t->ncol; j++)
    t->cols[j][i] = NAN;
  t->keys[0][i] = t->keys[1][i] = NULL;
  t->year[i] = 0;
  t->n++;
  return true;
}

/* The column of member k (kn bytes) for the current row, added on its
 * first appearance; hint is the likely index (the one after the previous
 * member's). SIZE_MAX when k is not a valid variable name (the decoder's
 * fault), when memory is short or when the columns would pass the limit. */
static size_t rows_column(rows_build *b, const char *k, size_t kn, size_t hint,
                          const scan *sc) {
  api_lifted_rows *t = &b->t;
  if (hint < t->ncol && strncmp(t->names[hint], k, kn) == 0 &&
      t->names[hint][kn] == '\0')
    return hint;
  for (size_t j = 0; j < t->ncol; j++)
    if (strncmp(t->names[j], k, kn) == 0 && t->names[j][kn] == '\0') return j;
  /* A new name: checked once, not in every row that repeats it. */
  char valid[CORE_NAME_MAX + 1];
  if (kn == 0 || kn > CORE_NAME_MAX) return SIZE_MAX;
  memcpy(valid, k, kn);
  valid[kn] = '\0';
  if (!core_panel_valid_name(valid)) return SIZE_MAX;
  if (sc->max_columns != 0 && t->ncol >= sc->max_columns) return SIZE_MAX;
  if (t->ncol == b->col_cap) {
    size_t ncap = b->col_cap ? 2 * b->col_cap : 16;
    char **names = realloc(t->names, ncap * sizeof *names);
    if (names != NULL) t->names = names;
    size_t *first = realloc(t->first_row, ncap * sizeof *first);
    if (first != NULL) t->first_row = first;
    double **cols = realloc(t->cols, ncap * sizeof *cols);
    if (cols != NULL) t->cols = cols;
    size_t *seen = realloc(b->seen, ncap * sizeof *seen);
    if (seen != NULL) b->seen = seen;
    if (names == NULL || first == NULL || cols == NULL || seen == NULL)
      return SIZE_MAX;
    b->col_cap = ncap;
  }
  char *name = malloc(kn + 1);
  double *col = malloc(b->row_cap * sizeof *col);
  if (name == NULL || col == NULL) {
    free(name);
    free(col);
    return SIZE_MAX;
  }
  memcpy(name, k, kn);
  name[kn] = '\0';
  for (size_t i = 0; i < t->n; i++)
    col[i] = NAN;
  size_t j = t->ncol++;
  t->names[j] = name;
  t->first_row[j] = t->n - 1;
  t->cols[j] = col;
  b->seen[j] = 0;
  return j;
}

/* A key cell's string at sc->i: plain (no escapes), 1 to API_KEY_MAX bytes
 * of UTF-8, or null (*out NULL). False for anything the decoder would
 * refuse or that needs Jansson's unescaping. */
static bool rows_key_string(scan *sc, rows_build *b, const char **out) {
  const char *s = sc->s;
  if (read_null(sc)) {
    *out = NULL;
    return true;
  }
  if (s[sc->i] != '"') return false;
  size_t start = sc->i + 1;
  if (!skip_string(sc)) return false;
  size_t n = sc->i - 1 - start;
  if (n == 0 || n > API_KEY_MAX || memchr(s + start, '\\', n) != NULL ||
      !api_utf8_valid(s + start, n))
    return false;
  *out = intern_get(b, s + start, n);
  return *out != NULL;
}

/* One row object at sc->i into row t.n of the table. */
static bool rows_row(scan *sc, rows_build *b) {
  if (sc->i >= sc->len || sc->s[sc->i] != '{' || !rows_add_row(b)) return false;
  api_lifted_rows *t = &b->t;
  size_t i = t->n - 1;
  sc->i++;
  skip_ws(sc);
  if (sc->i >= sc->len || sc->s[sc->i] == '}') return false; /* {} */
  bool has[3] = {false, false, false};
  size_t pos = 0;
  for (;;) {
    const char *k;
    size_t kn;
    if (!read_key(sc, &k, &kn) || kn == SIZE_MAX) return false;
    skip_ws(sc);
    if (sc->i >= sc->len || sc->s[sc->i] != ':') return false;
    sc->i++;
    skip_ws(sc);
    if (sc->i >= sc->len) return false;
    int key = key_is(k, kn, "reporter")  ? 0
              : key_is(k, kn, "partner") ? 1
              : key_is(k, kn, "year")    ? 2
                                         : -1;
    if (key >= 0) {
      if (has[key]) return false; /* twice: Jansson's error */
      has[key] = true;
      b->present[key] = true;
      if (key < 2) {
        if (!rows_key_string(sc, b, &t->keys[key][i])) return false;
      } else {
        double x;
        bool is_int = false;
        /* An integer year in range; null or anything else is a fault. */
        if (!read_number(sc, &x, &is_int) || !is_int || x < API_YEAR_MIN ||
            x > API_YEAR_MAX)
          return false;
        t->year[i] = (int)x;
        b->with_year++;
      }
    } else {
      size_t j = rows_column(b, k, kn, pos, sc);
      if (j == SIZE_MAX || b->seen[j] == i + 1) return false;
      b->seen[j] = i + 1;
      pos = j + 1;
      double x = NAN;
      bool is_int;
      if (!read_null(sc) && !read_number(sc, &x, &is_int)) return false;
      t->cols[j][i] = x;
    }
    bool end = false;
    if (!next_item(sc, '}', &end)) return false;
    if (end) return true;
  }
}

/* Tries to read the rows array at sc->i into a new rows table. On success
 * records the replacement and returns true; otherwise leaves sc->i where it
 * was and the tables as they were. */
static bool lift_rows(scan *sc) {
  size_t start = sc->i;
  api_lifted *out = sc->out;
  if (out->nrows == out->rows_cap) {
    size_t ncap = out->rows_cap ? 2 * out->rows_cap : 2;
    api_lifted_rows *r = realloc(out->rows, ncap * sizeof *r);
    if (r == NULL) return false;
    out->rows = r;
    out->rows_cap = ncap;
  }
  if (!repl_room(sc)) return false;
  rows_build b = {0};
  sc->i++; /* '[' */
  skip_ws(sc);
  bool ok = sc->i < sc->len && sc->s[sc->i] != ']'; /* [] is left as is */
  while (ok) {
    if (sc->max_rows != 0 && b.t.n >= sc->max_rows) {
      ok = false;
      break;
    }
    bool end = false;
    ok = rows_row(sc, &b) && next_item(sc, ']', &end);
    if (end) break;
  }
  /* A year in some rows must be in all of them (the decoder's fault). */
  if (ok && b.with_year != 0 && b.with_year != b.t.n) ok = false;
  free(b.seen);
  free(b.in.slot);
  if (!ok || sc->i - start < LIFT_MIN_BYTES) {
    rows_table_free(&b.t);
    sc->i = start;
    return false;
  }
  for (int k = 0; k < 2; k++)
    if (!b.present[k]) {
      free((void *)b.t.keys[k]);
      b.t.keys[k] = NULL;
    }
  if (!b.present[2]) {
    free(b.t.year);
    b.t.year = NULL;
  }
  sc->r[sc->nr++] = (repl){start, sc->i, out->nrows, true};
  out->rows[out->nrows++] = b.t;
  return true;
}

/* Which object the scan is in: the top one, the top's "data", or a
 * "columns" object (in either). */
typedef enum obj_kind { OBJ_TOP, OBJ_DATA, OBJ_COLUMNS } obj_kind;

static bool object(scan *sc, obj_kind kind, size_t depth);

/* The value of member k (kn bytes, SIZE_MAX when escaped) of an object of
 * kind at depth (the object's own level). */
static bool member_value(scan *sc, obj_kind kind, size_t depth, const char *k,
                         size_t kn) {
  bool plain = kn != SIZE_MAX;
  if (kind == OBJ_COLUMNS) {
    /* The key columns keep Jansson's path: their cells are checked as
     * codes and integer years there. */
    bool liftable = plain && !key_is(k, kn, "reporter") &&
                    !key_is(k, kn, "partner") && !key_is(k, kn, "year") &&
                    (sc->max_depth == 0 || depth + 1 <= sc->max_depth);
    if (liftable && sc->s[sc->i] == '[' && lift_array(sc)) return true;
    return skip_value(sc);
  }
  if (plain && key_is(k, kn, "rows") && sc->s[sc->i] == '[' &&
      (sc->max_depth == 0 || depth + 2 <= sc->max_depth) && lift_rows(sc))
    return true;
  bool obj = sc->s[sc->i] == '{';
  if (obj && plain && key_is(k, kn, "columns"))
    return object(sc, OBJ_COLUMNS, depth + 1);
  if (obj && plain && kind == OBJ_TOP && key_is(k, kn, "data"))
    return object(sc, OBJ_DATA, depth + 1);
  return skip_value(sc);
}

/* The object at sc->i ('{'), of kind, at depth. */
static bool object(scan *sc, obj_kind kind, size_t depth) {
  sc->i++; /* '{' */
  skip_ws(sc);
  if (sc->i < sc->len && sc->s[sc->i] == '}') {
    sc->i++;
    return true;
  }
  for (;;) {
    const char *k;
    size_t kn;
    if (!read_key(sc, &k, &kn)) return false;
    skip_ws(sc);
    if (sc->i >= sc->len || sc->s[sc->i] != ':') return false;
    sc->i++;
    skip_ws(sc);
    if (sc->i >= sc->len || !member_value(sc, kind, depth, k, kn)) return false;
    bool end = false;
    if (!next_item(sc, '}', &end)) return false;
    if (end) return true;
  }
}

/* "\u0001" anywhere in the text: a client's string could then read as a
 * marker, so nothing is lifted. */
static bool has_u0001(const char *s, size_t n) {
  for (const char *p = s; (size_t)(p - s) + 6 <= n;) {
    const char *b = memchr(p, '\\', n - (size_t)(p - s));
    if (b == NULL || (size_t)(b - s) + 6 > n) return false;
    if (memcmp(b, "\\u0001", 6) == 0) return true;
    p = b + 1;
  }
  return false;
}

/* The text Jansson parses: the client's with each lifted array replaced
 * by its marker string. NULL when memory is short. */
static char *marked_text(const scan *sc, size_t *out_len) {
  size_t removed = 0;
  for (size_t k = 0; k < sc->nr; k++)
    removed += sc->r[k].end - sc->r[k].start;
  /* A marker is at most 2 + 13 + 20 + 1 bytes (a rows marker in its
   * array); an array at least LIFT_MIN_BYTES. */
  size_t cap = sc->len - removed + sc->nr * 40 + 1;
  char *t = malloc(cap);
  if (t == NULL) return NULL;
  size_t o = 0, from = 0;
  for (size_t k = 0; k < sc->nr; k++) {
    const repl *r = &sc->r[k];
    memcpy(t + o, sc->s + from, r->start - from);
    o += r->start - from;
    /* A rows marker stands inside a one-element array, so that "rows" is
     * still an array to every check of the request's fields. */
    int m =
        r->rows
            ? snprintf(t + o, cap - o, "[\"" MARKER_PREFIX "r%zu\"]", r->col)
            : snprintf(t + o, cap - o, "\"" MARKER_PREFIX "%zu\"", r->col);
    if (m < 0 || (size_t)m >= cap - o) {
      free(t);
      return NULL;
    }
    o += (size_t)m;
    from = r->end;
  }
  memcpy(t + o, sc->s + from, sc->len - from);
  o += sc->len - from;
  *out_len = o;
  return t;
}

json_t *api_lift_load(const char *buf, size_t len, size_t flags,
                      size_t max_depth, size_t max_rows, size_t max_columns,
                      api_lifted *lifted, json_error_t *err) {
  scan sc = {.s = buf,
             .len = len,
             .max_depth = max_depth,
             .max_rows = max_rows,
             .max_columns = max_columns,
             .out = lifted};
  bool scanned = false;
  if (len >= LIFT_MIN_BYTES && !has_u0001(buf, len)) {
    skip_ws(&sc);
    if (sc.i < len && buf[sc.i] == '{' && object(&sc, OBJ_TOP, 1)) {
      skip_ws(&sc);
      scanned = sc.i == len; /* one object and nothing after it */
    }
  }
  size_t text_len = 0;
  char *text = scanned && sc.nr > 0 ? marked_text(&sc, &text_len) : NULL;
  free(sc.r);
  json_t *root = NULL;
  if (text != NULL) {
    root = json_loadb(text, text_len, flags, err);
    free(text);
  }
  if (root == NULL) {
    /* Nothing lifted, or the marked text was refused: then the client's
     * text is refused too, and parsing it gives Jansson's own error, its
     * line and column those of the client's text. */
    api_lifted_free(lifted);
    root = json_loadb(buf, len, flags, err);
  }
  return root;
}

const api_lifted_col *api_lifted_get(const api_lifted *lifted,
                                     const json_t *v) {
  if (lifted == NULL || lifted->n == 0 || !json_is_string(v)) return NULL;
  const char *s = json_string_value(v);
  size_t pl = sizeof MARKER_VALUE - 1;
  if (strncmp(s, MARKER_VALUE, pl) != 0) return NULL;
  const char *d = s + pl;
  if (*d < '0' || *d > '9') return NULL;
  char *end = NULL;
  errno = 0;
  unsigned long long idx = strtoull(d, &end, 10);
  if (errno != 0 || *end != '\0' || idx >= lifted->n) return NULL;
  const api_lifted_col *c = &lifted->cols[idx];
  return c->v != NULL ? c : NULL;
}

const api_lifted_rows *api_lifted_rows_get(const api_lifted *lifted,
                                           const json_t *v) {
  if (lifted == NULL || lifted->nrows == 0 || !json_is_array(v) ||
      json_array_size(v) != 1 || !json_is_string(json_array_get(v, 0)))
    return NULL;
  const char *s = json_string_value(json_array_get(v, 0));
  size_t pl = sizeof MARKER_VALUE - 1;
  if (strncmp(s, MARKER_VALUE, pl) != 0 || s[pl] != 'r') return NULL;
  const char *d = s + pl + 1;
  if (*d < '0' || *d > '9') return NULL;
  char *end = NULL;
  errno = 0;
  unsigned long long idx = strtoull(d, &end, 10);
  if (errno != 0 || *end != '\0' || idx >= lifted->nrows) return NULL;
  return &lifted->rows[idx];
}

void api_lifted_free(api_lifted *lifted) {
  if (lifted == NULL) return;
  for (size_t i = 0; i < lifted->n; i++)
    free(lifted->cols[i].v);
  free(lifted->cols);
  for (size_t i = 0; i < lifted->nrows; i++)
    rows_table_free(&lifted->rows[i]);
  free(lifted->rows);
  *lifted = (api_lifted){0};
}
