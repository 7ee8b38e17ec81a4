/* The World Bank response parser (see wb_parse.h): one body in, a tidy page
 * or a message list or one clear reason out. */
#include "wb_parse.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (err == NULL || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* Copies src into dst (size n > 0), cutting on a UTF-8 character boundary
 * when it is too long, so the result is still valid UTF-8 when src was
 * (later it goes into JSON error bodies, which Jansson would refuse). */
static void copy_text(char *dst, size_t n, const char *src) {
  size_t len = strlen(src);
  if (len >= n) {
    len = n - 1;
    while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
      len--;
  }
  memcpy(dst, src, len);
  dst[len] = '\0';
}

/* A pagination field: a JSON integer, an integral real, or a string of
 * decimal digits (the country endpoints send "per_page":"50"), each within
 * 0..WB_PAGINATION_MAX. Returns 0 and sets *v, or -1 with err written. */
static int read_count(const json_t *hdr, const char *name, long *v, char *err,
                      size_t errlen) {
  const json_t *j = json_object_get(hdr, name);
  if (j == NULL) {
    set_err(err, errlen, "page header has no \"%s\"", name);
    return -1;
  }
  if (json_is_integer(j)) {
    json_int_t i = json_integer_value(j);
    if (i < 0 || i > WB_PAGINATION_MAX) goto range;
    *v = (long)i;
    return 0;
  }
  if (json_is_real(j)) {
    double d = json_real_value(j);
    if (!(d >= 0 && d <= (double)WB_PAGINATION_MAX) || d != floor(d))
      goto range;
    *v = (long)d;
    return 0;
  }
  if (json_is_string(j)) {
    const char *s = json_string_value(j);
    size_t n = json_string_length(j);
    if (n == 0 || n > 10) goto badstr;
    long acc = 0;
    for (size_t k = 0; k < n; k++) {
      if (s[k] < '0' || s[k] > '9') goto badstr;
      acc = acc * 10 + (s[k] - '0');
    }
    if (acc > WB_PAGINATION_MAX) goto range;
    *v = acc;
    return 0;
  badstr:
    set_err(err, errlen,
            "page header \"%s\" is the string \"%.40s\", not a "
            "whole number",
            name, s);
    return -1;
  }
  set_err(err, errlen, "page header \"%s\" is neither a number nor a string",
          name);
  return -1;
range:
  set_err(err, errlen, "page header \"%s\" is out of range 0..%ld", name,
          WB_PAGINATION_MAX);
  return -1;
}

/* An optional text header field: a string (kept), null or absent (not
 * kept). Returns 0, or -1 for any other type or an over-long string. */
static int read_opt_text(const json_t *hdr, const char *name, bool *has,
                         char *dst, char *err, size_t errlen) {
  const json_t *j = json_object_get(hdr, name);
  *has = false;
  dst[0] = '\0';
  if (j == NULL || json_is_null(j)) return 0;
  if (!json_is_string(j)) {
    set_err(err, errlen, "page header \"%s\" is neither a string nor null",
            name);
    return -1;
  }
  if (json_string_length(j) >= WB_CODE_MAX ||
      strlen(json_string_value(j)) != json_string_length(j)) {
    set_err(err, errlen, "page header \"%s\" is longer than %d bytes", name,
            WB_CODE_MAX - 1);
    return -1;
  }
  memcpy(dst, json_string_value(j), json_string_length(j) + 1);
  *has = true;
  return 0;
}

/* A code (country or indicator id): 1..WB_CODE_MAX-1 bytes, no NUL. */
static bool code_ok(const json_t *j) {
  return json_is_string(j) && json_string_length(j) > 0 &&
         json_string_length(j) < WB_CODE_MAX &&
         strlen(json_string_value(j)) == json_string_length(j);
}

/* The "date" of an indicator row: a string of 1 to 4 decimal digits. Other
 * periods ("2019Q1", "2019M01") and anything else are refused: the service
 * works on annual data only. */
static int read_year(const json_t *j, int *year) {
  if (!json_is_string(j)) return -1;
  const char *s = json_string_value(j);
  size_t n = json_string_length(j);
  if (n == 0 || n > 4) return -1;
  int y = 0;
  for (size_t k = 0; k < n; k++) {
    if (s[k] < '0' || s[k] > '9') return -1;
    y = y * 10 + (s[k] - '0');
  }
  *year = y;
  return 0;
}

static int read_obs(const json_t *row, size_t idx, wb_obs *o, char *err,
                    size_t errlen) {
  if (!json_is_object(row)) {
    set_err(err, errlen, "row %zu is not an object", idx);
    return -1;
  }
  /* Aggregates can carry an empty countryiso3code; country.id then names
   * the row (e.g. "1A" for Arab World in older responses). */
  const json_t *iso3 = json_object_get(row, "countryiso3code");
  const json_t *country = json_object_get(row, "country");
  const json_t *cid =
      json_is_object(country) ? json_object_get(country, "id") : NULL;
  if (iso3 != NULL && !json_is_string(iso3) && !json_is_null(iso3)) {
    set_err(err, errlen, "row %zu: \"countryiso3code\" is not a string", idx);
    return -1;
  }
  const json_t *code = code_ok(iso3) ? iso3 : cid;
  if (iso3 != NULL && json_is_string(iso3) && json_string_length(iso3) > 0 &&
      !code_ok(iso3)) {
    set_err(err, errlen,
            "row %zu: \"countryiso3code\" is longer than %d "
            "bytes",
            idx, WB_CODE_MAX - 1);
    return -1;
  }
  if (!code_ok(code)) {
    set_err(err, errlen,
            "row %zu has neither a \"countryiso3code\" nor a "
            "\"country\".\"id\" code",
            idx);
    return -1;
  }
  memcpy(o->country, json_string_value(code), json_string_length(code) + 1);

  const json_t *ind = json_object_get(row, "indicator");
  const json_t *iid = json_is_object(ind) ? json_object_get(ind, "id") : NULL;
  if (!code_ok(iid)) {
    set_err(err, errlen, "row %zu has no \"indicator\".\"id\" code", idx);
    return -1;
  }
  memcpy(o->indicator, json_string_value(iid), json_string_length(iid) + 1);

  const json_t *date = json_object_get(row, "date");
  if (date == NULL) {
    set_err(err, errlen, "row %zu has no \"date\"", idx);
    return -1;
  }
  if (read_year(date, &o->year) != 0) {
    if (json_is_string(date))
      set_err(err, errlen, "row %zu: \"date\" \"%.20s\" is not a year", idx,
              json_string_value(date));
    else
      set_err(err, errlen, "row %zu: \"date\" is not a year string", idx);
    return -1;
  }

  const json_t *val = json_object_get(row, "value");
  if (val == NULL) {
    set_err(err, errlen, "row %zu has no \"value\"", idx);
    return -1;
  }
  if (json_is_null(val)) {
    /* The source has no value: missing, never zero. */
    o->has_value = false;
    o->value = NAN;
  } else if (json_is_number(val)) {
    o->has_value = true;
    o->value = json_number_value(val);
  } else {
    set_err(err, errlen, "row %zu: \"value\" is neither a number nor null",
            idx);
    return -1;
  }
  /* "footnote", "unit", "obs_status" and "decimal" carry nothing we use. */
  return 0;
}

static wb_parse_status read_messages(const json_t *msgs, wb_page *p, char *err,
                                     size_t errlen) {
  if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
    set_err(err, errlen, "\"message\" is not a non-empty array");
    return WB_PARSE_BAD_SHAPE;
  }
  size_t n = json_array_size(msgs);
  p->messages = calloc(n, sizeof *p->messages);
  if (p->messages == NULL) {
    set_err(err, errlen, "out of memory");
    return WB_PARSE_NOMEM;
  }
  p->n_messages = n;
  for (size_t k = 0; k < n; k++) {
    const json_t *m = json_array_get(msgs, k);
    wb_msg *dst = &p->messages[k];
    if (!json_is_object(m)) {
      set_err(err, errlen, "message %zu is not an object", k);
      return WB_PARSE_BAD_SHAPE;
    }
    const json_t *id = json_object_get(m, "id");
    const json_t *key = json_object_get(m, "key");
    const json_t *value = json_object_get(m, "value");
    if (json_is_string(id))
      copy_text(dst->id, sizeof dst->id, json_string_value(id));
    else if (json_is_integer(id))
      snprintf(dst->id, sizeof dst->id, "%" JSON_INTEGER_FORMAT,
               json_integer_value(id));
    else if (id != NULL && !json_is_null(id))
      goto bad;
    if (json_is_string(key))
      copy_text(dst->key, sizeof dst->key, json_string_value(key));
    else if (key != NULL && !json_is_null(key))
      goto bad;
    if (json_is_string(value))
      copy_text(dst->value, sizeof dst->value, json_string_value(value));
    else if (value != NULL && !json_is_null(value))
      goto bad;
    if (dst->id[0] == '\0' && dst->key[0] == '\0' && dst->value[0] == '\0') {
      set_err(err, errlen, "message %zu has no id, key or value", k);
      return WB_PARSE_BAD_SHAPE;
    }
    continue;
  bad:
    set_err(err, errlen, "message %zu has a field of the wrong type", k);
    return WB_PARSE_BAD_SHAPE;
  }
  p->is_message = true;
  return WB_PARSE_OK;
}

static wb_parse_status read_data(const json_t *root, wb_rows_kind kind,
                                 wb_page *p, char *err, size_t errlen) {
  const json_t *hdr = json_array_get(root, 0);
  const json_t *rows = json_array_get(root, 1);
  if (json_array_size(root) != 2) {
    set_err(err, errlen,
            "expected [header, rows], got an array of %zu "
            "elements",
            json_array_size(root));
    return WB_PARSE_BAD_SHAPE;
  }
  if (!json_is_object(hdr)) {
    set_err(err, errlen, "the page header is not an object");
    return WB_PARSE_BAD_SHAPE;
  }
  if (read_count(hdr, "page", &p->page, err, errlen) ||
      read_count(hdr, "pages", &p->pages, err, errlen) ||
      read_count(hdr, "per_page", &p->per_page, err, errlen) ||
      read_count(hdr, "total", &p->total, err, errlen) ||
      read_opt_text(hdr, "sourceid", &p->has_sourceid, p->sourceid, err,
                    errlen) ||
      read_opt_text(hdr, "lastupdated", &p->has_lastupdated, p->lastupdated,
                    err, errlen))
    return WB_PARSE_BAD_SHAPE;
  /* An empty result comes as [header, null]. */
  if (json_is_null(rows)) return WB_PARSE_OK;
  if (!json_is_array(rows)) {
    set_err(err, errlen, "the rows element is neither an array nor null");
    return WB_PARSE_BAD_SHAPE;
  }
  size_t n = json_array_size(rows);
  p->n_rows = n;
  if (kind == WB_ROWS_ANY || n == 0) {
    for (size_t k = 0; k < n; k++) {
      if (!json_is_object(json_array_get(rows, k))) {
        set_err(err, errlen, "row %zu is not an object", k);
        return WB_PARSE_BAD_SHAPE;
      }
    }
    return WB_PARSE_OK;
  }
  p->obs = calloc(n, sizeof *p->obs);
  if (p->obs == NULL) {
    set_err(err, errlen, "out of memory");
    return WB_PARSE_NOMEM;
  }
  for (size_t k = 0; k < n; k++)
    if (read_obs(json_array_get(rows, k), k, &p->obs[k], err, errlen) != 0)
      return WB_PARSE_BAD_SHAPE;
  return WB_PARSE_OK;
}

static const char *json_type_name(const json_t *j) {
  switch (json_typeof(j)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER:
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  case JSON_NULL: return "null";
  }
  return "an unknown value";
}

wb_parse_status wb_parse_page(const char *body, size_t len, wb_rows_kind kind,
                              wb_page **out, char *err, size_t errlen) {
  wb_parse_status st = WB_PARSE_OK;
  json_t *root = NULL;
  wb_page *p = NULL;
  if (out != NULL) *out = NULL;
  set_err(err, errlen, "%s", "");
  if (out == NULL || (body == NULL && len > 0)) {
    set_err(err, errlen, "no output or no body given");
    return WB_PARSE_BAD_SHAPE;
  }
  /* A UTF-8 BOM: the World Bank's HTML error pages begin with one. */
  if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
    body += 3;
    len -= 3;
  }
  size_t first = 0;
  while (first < len && (body[first] == ' ' || body[first] == '\t' ||
                         body[first] == '\r' || body[first] == '\n'))
    first++;
  if (first == len) {
    set_err(err, errlen, "the body is empty, not JSON");
    return WB_PARSE_NOT_JSON;
  }
  unsigned char c = (unsigned char)body[first];
  if (c == '<') {
    /* Quote the start of the page, made printable whatever its bytes. */
    char quote[21];
    size_t qn = len - first < 20 ? len - first : 20;
    for (size_t k = 0; k < qn; k++) {
      unsigned char b = (unsigned char)body[first + k];
      quote[k] = (b < 0x20 || b >= 0x7F || b == '"') ? '?' : (char)b;
    }
    quote[qn] = '\0';
    set_err(err, errlen,
            "the body is not JSON: it looks like HTML or XML "
            "(starts with \"%s\")",
            quote);
    return WB_PARSE_NOT_JSON;
  }
  /* Only a JSON value may follow; a word that is not a JSON literal (an
   * upstream "not found" or "Internal Server Error") is text, not JSON. */
  bool json_start =
      c == '[' || c == '{' || c == '"' || c == '-' || (c >= '0' && c <= '9');
  static const char *const literals[] = {"true", "false", "null"};
  for (size_t k = 0; !json_start && k < 3; k++) {
    size_t ln = strlen(literals[k]);
    json_start =
        len - first >= ln && memcmp(body + first, literals[k], ln) == 0;
  }
  if (!json_start) {
    set_err(err, errlen, "the body is not JSON: it starts with byte 0x%02X", c);
    return WB_PARSE_NOT_JSON;
  }

  json_error_t jerr;
  root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if (root == NULL) {
    /* Jansson gives up at the end of the input, wanting more, when the
     * body was cut short: say so, it usually means a dropped connection. */
    size_t tl = strlen(jerr.text);
    bool at_eof =
        (size_t)jerr.position >= len &&
        ((tl >= 16 && strcmp(jerr.text + tl - 16, "near end of file") == 0) ||
         strstr(jerr.text, "premature end of input") != NULL);
    if (at_eof)
      set_err(err, errlen,
              "truncated JSON: the body ends after %zu bytes "
              "(%s)",
              len, jerr.text);
    else
      set_err(err, errlen, "malformed JSON at line %d, column %d: %s",
              jerr.line, jerr.column, jerr.text);
    return WB_PARSE_MALFORMED;
  }
  if (!json_is_array(root) || json_array_size(root) == 0) {
    set_err(err, errlen, "expected a JSON array [header, rows], got %s%s",
            json_type_name(root), json_is_array(root) ? " that is empty" : "");
    st = WB_PARSE_BAD_SHAPE;
    goto cleanup;
  }
  p = calloc(1, sizeof *p);
  if (p == NULL) {
    set_err(err, errlen, "out of memory");
    st = WB_PARSE_NOMEM;
    goto cleanup;
  }
  const json_t *first_el = json_array_get(root, 0);
  const json_t *msgs =
      json_is_object(first_el) ? json_object_get(first_el, "message") : NULL;
  if (msgs != NULL)
    st = read_messages(msgs, p, err, errlen);
  else
    st = read_data(root, kind, p, err, errlen);
  if (st == WB_PARSE_OK) {
    *out = p;
    p = NULL;
  }
cleanup:
  wb_page_free(p);
  json_decref(root);
  return st;
}

void wb_page_free(wb_page *p) {
  if (p == NULL) return;
  free(p->messages);
  free(p->obs);
  free(p);
}

const char *wb_parse_status_name(wb_parse_status s) {
  switch (s) {
  case WB_PARSE_OK: return "ok";
  case WB_PARSE_NOT_JSON: return "not-json";
  case WB_PARSE_MALFORMED: return "malformed-json";
  case WB_PARSE_BAD_SHAPE: return "bad-shape";
  case WB_PARSE_NOMEM: return "no-memory";
  }
  return "unknown";
}
