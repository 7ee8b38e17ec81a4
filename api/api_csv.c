/* The strict RFC 4180 parser for text/csv dataset uploads (see api_csv.h):
 * one pass over the bytes, growable column buffers, the panel built at the
 * end exactly as api_data_decode builds it from the rows form. */
#include "api_csv.h"
#include "api_num.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"

/* ---- the lexer --------------------------------------------------------- */

typedef struct lexer {
  const char *s;
  size_t len;
  size_t pos;
  size_t line;     /* 1-based line of s[pos] */
  const char *err; /* what was wrong when a lex call failed */
  size_t err_line;
} lexer;

/* One field: its raw content is s[start, start + len) (between the quotes
 * for a quoted field, "" pairs not yet collapsed). */
typedef struct field {
  size_t start;
  size_t len;
  bool quoted;
  bool escapes; /* a "" pair occurs inside */
  size_t line;  /* line on which the field starts */
} field;

static bool lex_fail(lexer *lx, size_t line, const char *why) {
  lx->err = why;
  lx->err_line = line;
  return false;
}

/* Reads the field at lx->pos and the delimiter after it. *eor is true when
 * the field ends its record (line end or end of input). Returns false with
 * lx->err set on a structural fault. Each byte is looked at once or twice. */
static bool lex_field(lexer *lx, field *f, bool *eor) {
  const char *s = lx->s;
  size_t n = lx->len, i = lx->pos;
  f->line = lx->line;
  f->quoted = false;
  f->escapes = false;
  if (i < n && s[i] == '"') {
    f->quoted = true;
    f->start = ++i;
    for (;;) {
      if (i >= n)
        return lex_fail(lx, f->line,
                        "unterminated quoted field: the quote opened here "
                        "is never closed");
      char c = s[i];
      if (c == '"') {
        if (i + 1 < n && s[i + 1] == '"') {
          f->escapes = true;
          i += 2;
          continue;
        }
        break;
      }
      if (c == '\0')
        return lex_fail(lx, lx->line, "a NUL byte is not allowed in CSV text");
      if (c == '\n') lx->line++;
      i++;
    }
    f->len = i - f->start;
    i++; /* the closing quote */
  } else {
    f->start = i;
    while (i < n && s[i] != ',' && s[i] != '\n' && s[i] != '\r') {
      if (s[i] == '"')
        return lex_fail(lx, lx->line,
                        "a quote inside an unquoted field (enclose the field "
                        "in quotes and write a quote inside it as \"\")");
      if (s[i] == '\0')
        return lex_fail(lx, lx->line, "a NUL byte is not allowed in CSV text");
      i++;
    }
    f->len = i - f->start;
  }
  if (i >= n) {
    *eor = true;
    lx->pos = n;
    return true;
  }
  if (s[i] == ',') {
    *eor = false;
    lx->pos = i + 1;
    return true;
  }
  if (s[i] == '\n') {
    *eor = true;
    lx->pos = i + 1;
    lx->line++;
    return true;
  }
  if (s[i] == '\r') {
    if (i + 1 < n && s[i + 1] == '\n') {
      *eor = true;
      lx->pos = i + 2;
      lx->line++;
      return true;
    }
    return lex_fail(lx, lx->line,
                    "a carriage return not followed by a line feed (lines "
                    "must end with CRLF or LF)");
  }
  if (s[i] == '\0')
    return lex_fail(lx, lx->line, "a NUL byte is not allowed in CSV text");
  return lex_fail(lx, lx->line,
                  "unexpected text after a closing quote (a comma or a line "
                  "end must follow it)");
}

/* Copies the field's content into dst (room for f->len bytes), collapsing
 * "" pairs. Returns the length written (no NUL added). */
static size_t field_copy(const lexer *lx, const field *f, char *dst) {
  const char *src = lx->s + f->start;
  if (!f->escapes) {
    if (f->len) memcpy(dst, src, f->len);
    return f->len;
  }
  size_t o = 0;
  for (size_t i = 0; i < f->len; i++) {
    dst[o++] = src[i];
    if (src[i] == '"') i++; /* the second quote of the pair */
  }
  return o;
}

/* ---- values ------------------------------------------------------------ */

static void trim(const char **t, size_t *n) {
  while (*n > 0 && (**t == ' ' || **t == '\t')) {
    (*t)++;
    (*n)--;
  }
  while (*n > 0 && ((*t)[*n - 1] == ' ' || (*t)[*n - 1] == '\t'))
    (*n)--;
}

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

typedef enum num_status { NUM_OK, NUM_SYNTAX, NUM_RANGE } num_status;

/* Parses t[0, n) (trimmed, not NUL-terminated) as a decimal number. A
 * number written without a point or exponent is an integer, and "-0" is
 * then 0, as Jansson reads the same text in JSON. */
static num_status parse_number(const char *t, size_t n, double *out) {
  char buf[400];
  size_t i = 0, digits = 0;
  bool integer = true;
  if (n == 0 || n >= sizeof buf) return NUM_SYNTAX;
  if (t[i] == '+' || t[i] == '-') i++;
  while (i < n && is_digit(t[i]))
    i++, digits++;
  if (i < n && t[i] == '.') {
    integer = false;
    i++;
    while (i < n && is_digit(t[i]))
      i++, digits++;
  }
  if (digits == 0) return NUM_SYNTAX;
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    integer = false;
    i++;
    if (i < n && (t[i] == '+' || t[i] == '-')) i++;
    size_t ed = 0;
    while (i < n && is_digit(t[i]))
      i++, ed++;
    if (ed == 0) return NUM_SYNTAX;
  }
  if (i != n) return NUM_SYNTAX;
  double v;
  if (!api_parse_real(t, n, &v)) { /* the rare cases it leaves to strtod */
    memcpy(buf, t, n);
    buf[n] = '\0';
    errno = 0;
    char *end = NULL;
    v = strtod(buf, &end);
    if (end != buf + n) return NUM_SYNTAX;
    if (errno == ERANGE && isinf(v)) return NUM_RANGE;
  }
  if (integer && v == 0) v = 0.0;
  *out = v;
  return NUM_OK;
}

/* ---- the parser -------------------------------------------------------- */

typedef enum col_kind { COL_NUM, COL_REPORTER, COL_PARTNER, COL_YEAR } col_kind;

typedef struct column {
  col_kind kind;
  size_t num; /* index among the numeric columns */
  char name[CORE_NAME_MAX + 1];
} column;

#define NO_KEY SIZE_MAX

typedef struct parser {
  lexer lx;
  const api_limits *limits;
  api_errors *errs;
  size_t n_errors; /* faults seen, listed or not */
  api_error_code code;
  bool stop; /* a structural fault, a limit or memory: no more parsing */

  column *cols; /* the header */
  size_t ncols, cap_cols;
  size_t n_num;
  long key_col[3]; /* header index of reporter, partner, year, or -1 */

  size_t n_rows, cap_rows;
  double **vals;      /* n_num arrays of cap_rows */
  size_t *key_off[2]; /* reporter, partner: offsets into arena or NO_KEY */
  int *year;
  char *arena; /* key strings, NUL-terminated */
  size_t arena_len, arena_cap;
} parser;

__attribute__((format(printf, 5, 0))) static void
faultv(parser *P, const char *ptr, size_t line, size_t col, const char *fmt,
       va_list ap) {
  if (P->n_errors < API_DATA_MAX_ERRORS) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    api_utf8_sanitize(msg);
    api_errors_add(P->errs, ptr, "line %zu, column %zu: %s", line, col, msg);
  }
  P->n_errors++;
}

static void fault(parser *P, const char *ptr, size_t line, size_t col,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void fault(parser *P, const char *ptr, size_t line, size_t col,
                  const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  faultv(P, ptr, line, col, fmt, ap);
  va_end(ap);
}

static void oom(parser *P) {
  P->code = API_E_INTERNAL;
  P->stop = true;
}

/* "/rows/<row>/<column name>" or "/rows/<row>" when col is past the
 * header. */
static const char *cell_ptr(const parser *P, size_t row, size_t col, char *buf,
                            size_t bufsz) {
  if (col < P->ncols) {
    char esc[2 * CORE_NAME_MAX + 1];
    api_pointer_escape(P->cols[col].name, esc, sizeof esc);
    snprintf(buf, bufsz, "/rows/%zu/%s", row, esc);
  } else {
    snprintf(buf, bufsz, "/rows/%zu", row);
  }
  return buf;
}

/* A structural fault while lexing record `row` (SIZE_MAX = the header) at
 * field index col: reported once, and the parse stops. */
static void lex_fault(parser *P, size_t row, size_t col) {
  char ptr[API_POINTER_MAX];
  if (row == SIZE_MAX)
    snprintf(ptr, sizeof ptr, "/header/%zu", col);
  else
    cell_ptr(P, row, col, ptr, sizeof ptr);
  fault(P, ptr, P->lx.err_line, col + 1, "%s", P->lx.err);
  P->stop = true;
}

static bool add_column(parser *P, const column *c) {
  if (P->ncols == P->cap_cols) {
    size_t cap = P->cap_cols ? 2 * P->cap_cols : 16;
    column *nc = realloc(P->cols, cap * sizeof *nc);
    if (nc == NULL) return false;
    P->cols = nc;
    P->cap_cols = cap;
  }
  P->cols[P->ncols++] = *c;
  return true;
}

static col_kind kind_of(const char *name) {
  if (strcmp(name, "reporter") == 0) return COL_REPORTER;
  if (strcmp(name, "partner") == 0) return COL_PARTNER;
  if (strcmp(name, "year") == 0) return COL_YEAR;
  return COL_NUM;
}

/* Checks one header name (field j) and adds its column; faults name
 * /header/j. */
static void header_field(parser *P, const field *f, size_t j) {
  char ptr[64];
  snprintf(ptr, sizeof ptr, "/header/%zu", j);
  size_t line = f->line, colno = j + 1;
  if (f->len == 0) {
    fault(P, ptr, line, colno, "empty column name");
    return;
  }
  if (f->len > CORE_NAME_MAX) {
    fault(P, ptr, line, colno,
          "column name longer than %d bytes: 1 to %d characters of "
          "[A-Za-z0-9_.], not starting with a digit",
          CORE_NAME_MAX, CORE_NAME_MAX);
    return;
  }
  column c = {.kind = COL_NUM};
  size_t n = field_copy(&P->lx, f, c.name);
  c.name[n] = '\0';
  if (n == 0) {
    fault(P, ptr, line, colno, "empty column name");
    return;
  }
  c.kind = kind_of(c.name);
  if (c.kind == COL_NUM && !core_panel_valid_name(c.name)) {
    fault(P, ptr, line, colno,
          "invalid column name \"%s\": 1 to %d characters of [A-Za-z0-9_.], "
          "not starting with a digit (reporter, partner and year are the "
          "keys)",
          c.name, CORE_NAME_MAX);
    return;
  }
  for (size_t k = 0; k < P->ncols; k++)
    if (strcmp(P->cols[k].name, c.name) == 0) {
      fault(P, ptr, line, colno,
            "duplicate column name \"%s\" (also column %zu)", c.name, k + 1);
      return;
    }
  if (P->n_errors > 0) return; /* keep nothing of a header already bad */
  if (c.kind == COL_NUM) {
    if (P->n_num >= P->limits->max_columns) {
      fault(P, ptr, line, colno,
            "one variable too many: the limit is %zu variables",
            P->limits->max_columns);
      P->code = API_E_LIMIT;
      P->stop = true;
      return;
    }
    c.num = P->n_num++;
  } else {
    P->key_col[c.kind - COL_REPORTER] = (long)P->ncols;
  }
  if (!add_column(P, &c)) oom(P);
}

static void parse_header(parser *P, size_t content_end) {
  if (P->lx.pos >= content_end) {
    fault(P, "/header", P->lx.line, 1,
          "the body is empty; a header row naming the columns is expected");
    P->stop = true;
    return;
  }
  bool eor = false;
  for (size_t j = 0; !eor && !P->stop; j++) {
    field f;
    if (!lex_field(&P->lx, &f, &eor)) {
      lex_fault(P, SIZE_MAX, j);
      return;
    }
    header_field(P, &f, j);
  }
  /* A bad header leaves nothing to read the rows by. */
  if (P->n_errors > 0) P->stop = true;
}

/* Makes room for one more row in every buffer. */
static bool grow_rows(parser *P) {
  if (P->n_rows < P->cap_rows) return true;
  size_t cap = P->cap_rows ? 2 * P->cap_rows : 64;
  if (cap > P->limits->max_rows) cap = P->limits->max_rows;
  if (cap <= P->n_rows) cap = P->n_rows + 1;
  for (size_t k = 0; k < P->n_num; k++) {
    double *v = realloc(P->vals[k], cap * sizeof *v);
    if (v == NULL) return false;
    P->vals[k] = v;
  }
  for (size_t k = 0; k < 2; k++) {
    if (P->key_col[k] < 0) continue;
    size_t *o = realloc(P->key_off[k], cap * sizeof *o);
    if (o == NULL) return false;
    P->key_off[k] = o;
  }
  if (P->key_col[2] >= 0) {
    int *y = realloc(P->year, cap * sizeof *y);
    if (y == NULL) return false;
    P->year = y;
  }
  P->cap_rows = cap;
  return true;
}

static bool arena_reserve(parser *P, size_t more) {
  if (P->arena_cap - P->arena_len > more) return true;
  size_t cap = P->arena_cap ? P->arena_cap : 4096;
  while (cap - P->arena_len <= more)
    cap *= 2;
  char *a = realloc(P->arena, cap);
  if (a == NULL) return false;
  P->arena = a;
  P->arena_cap = cap;
  return true;
}

static void key_cell(parser *P, size_t k, size_t row, size_t j,
                     const field *f) {
  const char *raw = P->lx.s + f->start;
  P->key_off[k][row] = NO_KEY;
  if (f->len == 0) return;
  if (!f->quoted && f->len == 2 && raw[0] == 'N' && raw[1] == 'A') return;
  if (!arena_reserve(P, f->len + 1)) {
    oom(P);
    return;
  }
  char *dst = P->arena + P->arena_len;
  size_t n = field_copy(&P->lx, f, dst);
  char ptr[API_POINTER_MAX];
  if (n > API_KEY_MAX) {
    fault(P, cell_ptr(P, row, j, ptr, sizeof ptr), f->line, j + 1,
          "a %s code must be 1 to %d bytes, or empty or NA when missing",
          P->cols[j].name, API_KEY_MAX);
    return;
  }
  if (!api_utf8_valid(dst, n)) {
    fault(P, cell_ptr(P, row, j, ptr, sizeof ptr), f->line, j + 1,
          "the %s code is not valid UTF-8", P->cols[j].name);
    return;
  }
  dst[n] = '\0';
  P->key_off[k][row] = P->arena_len;
  P->arena_len += n + 1;
}

/* Numeric and year cells: the content, trimmed, in buf. Returns false (and
 * *len 0) when it does not fit, which only a value far too long does. */
static bool small_copy(const parser *P, const field *f, char *buf, size_t bufsz,
                       const char **t, size_t *len) {
  if (f->len >= bufsz) return false;
  *len = field_copy(&P->lx, f, buf);
  *t = buf;
  trim(t, len);
  return true;
}

static bool is_na(const char *t, size_t n) {
  return n == 2 && t[0] == 'N' && t[1] == 'A';
}

static void year_cell(parser *P, size_t row, size_t j, const field *f) {
  char buf[64], ptr[API_POINTER_MAX];
  const char *t = NULL;
  size_t n = 0;
  bool fits = small_copy(P, f, buf, sizeof buf, &t, &n);
  if (fits && (n == 0 || is_na(t, n))) {
    fault(P, cell_ptr(P, row, j, ptr, sizeof ptr), f->line, j + 1,
          "the year is missing; a year cannot be missing");
    return;
  }
  size_t i = 0;
  bool neg = false;
  if (fits && (t[0] == '-' || t[0] == '+')) neg = t[i++] == '-';
  long v = 0;
  bool ok = fits && i < n && n - i <= 5;
  for (; ok && i < n; i++) {
    if (!is_digit(t[i]))
      ok = false;
    else
      v = 10 * v + (t[i] - '0');
  }
  if (neg) v = -v;
  if (!ok || v < API_YEAR_MIN || v > API_YEAR_MAX) {
    fault(P, cell_ptr(P, row, j, ptr, sizeof ptr), f->line, j + 1,
          "\"%.*s\" is not a year: an integer from %d to %d is expected",
          fits ? (int)n : 32, fits ? t : P->lx.s + f->start, API_YEAR_MIN,
          API_YEAR_MAX);
    return;
  }
  P->year[row] = (int)v;
}

static void num_cell(parser *P, size_t row, size_t j, const field *f) {
  char buf[512], ptr[API_POINTER_MAX];
  const char *t = NULL;
  size_t n = 0;
  double *dst = &P->vals[P->cols[j].num][row];
  *dst = NAN;
  num_status st = NUM_SYNTAX;
  if (small_copy(P, f, buf, sizeof buf, &t, &n)) {
    if (n == 0 || is_na(t, n)) return;
    st = parse_number(t, n, dst);
    if (st == NUM_OK) return;
  }
  *dst = NAN;
  cell_ptr(P, row, j, ptr, sizeof ptr);
  if (st == NUM_RANGE)
    fault(P, ptr, f->line, j + 1,
          "%.*s is out of the range of a double-precision number", (int)n, t);
  else if (t != NULL && n <= 40)
    fault(P, ptr, f->line, j + 1,
          "\"%.*s\" is not a number (a decimal number, or empty or NA when "
          "missing, is expected)",
          (int)n, t);
  else
    fault(P, ptr, f->line, j + 1,
          "not a number (a decimal number, or empty or NA when missing, is "
          "expected)");
}

static void parse_row(parser *P) {
  size_t row = P->n_rows;
  size_t line = P->lx.line;
  if (!grow_rows(P)) {
    oom(P);
    return;
  }
  bool eor = false;
  size_t j = 0;
  for (; !eor; j++) {
    field f;
    if (!lex_field(&P->lx, &f, &eor)) {
      lex_fault(P, row, j);
      return;
    }
    if (j >= P->ncols) continue; /* counted for the fault below */
    switch (P->cols[j].kind) {
    case COL_REPORTER: key_cell(P, 0, row, j, &f); break;
    case COL_PARTNER: key_cell(P, 1, row, j, &f); break;
    case COL_YEAR: year_cell(P, row, j, &f); break;
    case COL_NUM: num_cell(P, row, j, &f); break;
    }
    if (P->stop) return;
  }
  if (j != P->ncols) {
    char ptr[64];
    snprintf(ptr, sizeof ptr, "/rows/%zu", row);
    fault(P, ptr, line, j < P->ncols ? j + 1 : P->ncols + 1,
          "the record has %zu field%s but the header has %zu", j,
          j == 1 ? "" : "s", P->ncols);
    P->stop = true;
    return;
  }
  P->n_rows++;
}

static void parser_free(parser *P) {
  for (size_t k = 0; P->vals && k < P->n_num; k++)
    free(P->vals[k]);
  free(P->vals);
  free(P->key_off[0]);
  free(P->key_off[1]);
  free(P->year);
  free(P->arena);
  free(P->cols);
}

static core_panel *build_panel(parser *P) {
  core_panel *p = core_panel_alloc(P->n_rows);
  const char **keys[2] = {NULL, NULL};
  core_err cerr;
  core_err_clear(&cerr);
  bool ok = p != NULL;
  for (size_t j = 0; ok && j < P->ncols; j++) {
    const column *c = &P->cols[j];
    if (c->kind == COL_NUM)
      ok = core_panel_add_column(p, c->name, P->vals[c->num], NULL, &cerr) ==
           CORE_OK;
  }
  for (size_t k = 0; ok && k < 2; k++) {
    if (P->key_col[k] < 0) continue;
    keys[k] = malloc((P->n_rows ? P->n_rows : 1) * sizeof *keys[k]);
    ok = keys[k] != NULL;
    for (size_t i = 0; ok && i < P->n_rows; i++)
      keys[k][i] =
          P->key_off[k][i] == NO_KEY ? NULL : P->arena + P->key_off[k][i];
  }
  if (ok)
    ok = core_panel_set_keys(
             p, (const char *const *)keys[0], (const char *const *)keys[1],
             P->key_col[2] >= 0 ? P->year : NULL, &cerr) == CORE_OK;
  free(keys[0]);
  free(keys[1]);
  if (!ok) {
    core_panel_free(p);
    return NULL;
  }
  return p;
}

bool api_csv_decode(const char *body, size_t len, const api_limits *limits,
                    api_data *out, api_error_code *code, api_errors *errs) {
  parser P = {.limits = limits,
              .errs = errs,
              .code = API_E_MALFORMED_CSV,
              .key_col = {-1, -1, -1}};
  memset(out, 0, sizeof *out);
  out->form = API_DATA_ROWS;
  *code = API_E_MALFORMED_CSV;
  if (body == NULL) len = 0;
  P.lx = (lexer){.s = body, .len = len, .pos = 0, .line = 1};
  if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) P.lx.pos = 3;
  /* Line ends after the last record are not records. */
  size_t content_end = len;
  while (content_end > P.lx.pos &&
         (body[content_end - 1] == '\n' || body[content_end - 1] == '\r'))
    content_end--;

  parse_header(&P, content_end);
  if (!P.stop) {
    P.vals = calloc(P.n_num ? P.n_num : 1, sizeof *P.vals);
    if (P.vals == NULL) oom(&P);
  }
  while (!P.stop && P.lx.pos < content_end) {
    if (P.n_rows >= limits->max_rows) {
      fault(&P, "/rows", P.lx.line, 1,
            "more than %zu data rows; the limit is %zu rows", limits->max_rows,
            limits->max_rows);
      P.code = API_E_LIMIT;
      break;
    }
    parse_row(&P);
  }
  if (!P.stop && P.n_errors == 0 && P.n_rows == 0)
    fault(&P, "/rows", P.lx.line, 1,
          "no data rows after the header; at least one is expected");
  if (P.n_errors > API_DATA_MAX_ERRORS)
    api_errors_add(errs, "/rows", "%zu more faults in the data are not listed",
                   P.n_errors - API_DATA_MAX_ERRORS);

  bool ok = false;
  if (P.code == API_E_MALFORMED_CSV && P.n_errors == 0) {
    out->panel = build_panel(&P);
    if (out->panel == NULL)
      P.code = API_E_INTERNAL;
    else
      ok = true;
  }
  if (!ok && P.code == API_E_INTERNAL && api_errors_count(errs) == 0)
    api_errors_add(errs, "", "out of memory while reading the CSV body");
  parser_free(&P);
  *code = ok ? API_E_COUNT : P.code;
  return ok;
}
