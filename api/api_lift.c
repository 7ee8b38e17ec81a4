/* See api_lift.h. The scan walks the text with a strict grammar only on
 * the path that can hold a lifted array (the top object, its "data"
 * object, a "columns" object); every other value is skipped by bracket
 * counting. Anything unexpected on that path stops the scan and nothing is
 * lifted: Jansson then parses the client's text as it is, so a text the
 * scan does not fully understand keeps exactly its old answer. A marked
 * text that Jansson refuses means the client's text is refused too (the
 * marker and the array are both one value); the client's text is then
 * parsed for the error. */
#include "api_lift.h"
#include "api_num.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_mem.h"

#define MARKER_PREFIX "\\u0001gv1:" /* in the text */
#define MARKER_VALUE "\001gv1:"     /* in the parsed string */
/* Shorter arrays are left to Jansson: not worth a marker. */
#define LIFT_MIN_BYTES 32
/* Longest number token read (Jansson reads any length; a longer token is
 * left to it). */
#define TOKEN_MAX 64

typedef struct repl {
  size_t start, end; /* the array's text [start, end) */
  size_t col;        /* its index in the table */
} repl;

typedef struct scan {
  const char *s;
  size_t len, i;
  size_t max_depth;
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
static bool read_number(scan *sc, double *x) {
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
  if (i >= n || !(s[i] == ',' || s[i] == ']' || is_ws(s[i]))) return false;
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
  if (sc->nr == sc->rcap) {
    size_t ncap = sc->rcap ? sc->rcap * 2 : 16;
    repl *r = realloc(sc->r, ncap * sizeof *r);
    if (r == NULL) return false;
    sc->r = r;
    sc->rcap = ncap;
  }
  api_lifted_col col = {0};
  size_t cap = 0;
  sc->i++; /* '[' */
  skip_ws(sc);
  bool ok = sc->i < sc->len && sc->s[sc->i] != ']'; /* [] is left as is */
  while (ok) {
    double x;
    if (sc->len - sc->i >= 4 && memcmp(sc->s + sc->i, "null", 4) == 0 &&
        (sc->len - sc->i == 4 || sc->s[sc->i + 4] == ',' ||
         sc->s[sc->i + 4] == ']' || is_ws(sc->s[sc->i + 4]))) {
      sc->i += 4;
      x = NAN;
    } else if (!read_number(sc, &x)) {
      ok = false;
      break;
    }
    if (!push_value(&col, &cap, x)) {
      ok = false;
      break;
    }
    skip_ws(sc);
    if (sc->i >= sc->len) {
      ok = false;
    } else if (sc->s[sc->i] == ',') {
      sc->i++;
      skip_ws(sc);
    } else if (sc->s[sc->i] == ']') {
      sc->i++;
      break;
    } else {
      ok = false;
    }
  }
  if (!ok || sc->i - start < LIFT_MIN_BYTES) {
    free(col.v);
    sc->i = start;
    return false;
  }
  sc->r[sc->nr++] = (repl){start, sc->i, t->n};
  t->cols[t->n++] = col;
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
    skip_ws(sc);
    if (sc->i >= sc->len) return false;
    if (sc->s[sc->i] == '}') {
      sc->i++;
      return true;
    }
    if (sc->s[sc->i] != ',') return false;
    sc->i++;
    skip_ws(sc);
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
  /* A marker is at most 12 + 20 bytes; an array at least LIFT_MIN_BYTES. */
  size_t cap = sc->len - removed + sc->nr * 40 + 1;
  char *t = malloc(cap);
  if (t == NULL) return NULL;
  size_t o = 0, from = 0;
  for (size_t k = 0; k < sc->nr; k++) {
    const repl *r = &sc->r[k];
    memcpy(t + o, sc->s + from, r->start - from);
    o += r->start - from;
    int m = snprintf(t + o, cap - o, "\"" MARKER_PREFIX "%zu\"", r->col);
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
                      size_t max_depth, api_lifted *lifted, json_error_t *err) {
  scan sc = {.s = buf, .len = len, .max_depth = max_depth, .out = lifted};
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

void api_lifted_free(api_lifted *lifted) {
  if (lifted == NULL) return;
  for (size_t i = 0; i < lifted->n; i++)
    free(lifted->cols[i].v);
  free(lifted->cols);
  *lifted = (api_lifted){0};
}
