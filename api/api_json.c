/* Request body parsing, depth limit and declarative field validation (see
 * api_json.h). */
#include "api_json.h"

#include <stdio.h>
#include <string.h>

static bool all_space(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
      return false;
  return true;
}

json_t *api_json_parse_body(const api_request *req, const api_limits *limits,
                            api_response *res) {
  return api_json_parse_body_lifted(req, limits, res, NULL);
}

json_t *api_json_parse_body_lifted(const api_request *req,
                                   const api_limits *limits, api_response *res,
                                   api_lifted *lifted) {
  api_errors errs = {0};
  if (req->body == NULL || req->body_len == 0 ||
      all_space(req->body, req->body_len)) {
    api_errors_add(&errs, "", "the body is empty; a JSON object is expected");
    api_problem(res, API_E_MALFORMED_JSON, &errs,
                "The body is empty; a JSON object is expected.");
    return NULL;
  }
  json_error_t jerr;
  /* Duplicate keys would otherwise be accepted silently (the last one
   * wins); the default EOF check stays on so trailing data is refused. */
  json_t *root =
      lifted != NULL
          ? api_lift_load(req->body, req->body_len, JSON_REJECT_DUPLICATES,
                          limits != NULL ? limits->max_json_depth : 0,
                          limits != NULL ? limits->max_rows : 0,
                          limits != NULL ? limits->max_columns : 0, lifted,
                          &jerr)
          : json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL) {
    api_errors_add(&errs, "", "%s at line %d, column %d", jerr.text, jerr.line,
                   jerr.column);
    api_problem(res, API_E_MALFORMED_JSON, &errs, "%s at line %d, column %d",
                jerr.text, jerr.line, jerr.column);
    return NULL;
  }
  if (!json_is_object(root)) {
    json_decref(root);
    api_lifted_free(lifted);
    api_errors_add(&errs, "", "the body must be a JSON object");
    api_problem(res, API_E_INVALID, &errs, "The body must be a JSON object.");
    return NULL;
  }
  if (limits != NULL && limits->max_json_depth > 0) {
    size_t depth = api_json_depth(root, limits->max_json_depth);
    if (depth > limits->max_json_depth) {
      json_decref(root);
      api_lifted_free(lifted);
      api_errors_add(&errs, "", "nesting deeper than %zu levels",
                     limits->max_json_depth);
      api_problem(res, API_E_LIMIT, &errs,
                  "The body nests deeper than the limit of %zu levels.",
                  limits->max_json_depth);
      return NULL;
    }
  }
  return root;
}

size_t api_json_depth(const json_t *v, size_t cap) {
  /* Jansson itself refuses documents nested deeper than 2048 levels, and the
   * walk stops below cap + 1, so the recursion is bounded either way. */
  if (!json_is_object(v) && !json_is_array(v)) return 0;
  if (cap == 0) return 1;
  size_t deepest = 0;
  if (json_is_object(v)) {
    const char *key;
    const json_t *child;
    json_object_foreach((json_t *)v, key, child) {
      size_t d = api_json_depth(child, cap - 1);
      if (d > deepest) deepest = d;
      if (deepest >= cap) break;
    }
  } else {
    size_t i;
    const json_t *child;
    json_array_foreach(v, i, child) {
      size_t d = api_json_depth(child, cap - 1);
      if (d > deepest) deepest = d;
      if (deepest >= cap) break;
    }
  }
  return deepest + 1;
}

const char *api_pointer_join(char *buf, size_t bufsz, const char *base,
                             const char *token) {
  char esc[API_POINTER_MAX];
  api_pointer_escape(token, esc, sizeof esc);
  if (snprintf(buf, bufsz, "%s/%s", base, esc) < 0 && bufsz > 0) buf[0] = '\0';
  return api_utf8_trim(buf);
}

const char *api_pointer_index(char *buf, size_t bufsz, const char *base,
                              size_t index) {
  if (snprintf(buf, bufsz, "%s/%zu", base, index) < 0 && bufsz > 0)
    buf[0] = '\0';
  return buf;
}

/* Strict UTF-8 (no overlong forms, no surrogates, at most U+10FFFF), the
 * rule Jansson applies to JSON strings. Length of the valid UTF-8 sequence
 * at s[0, n) (n > 0), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t k;
  unsigned min;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    k = 1;
    min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    k = 2;
    min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    k = 3;
    min = 0x10000;
  } else {
    return 0;
  }
  if (n <= k) return 0;
  unsigned v = c & (0x3Fu >> k);
  for (size_t j = 1; j <= k; j++) {
    if ((s[j] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[j] & 0x3Fu);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  return k + 1;
}

bool api_utf8_valid(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    size_t k = utf8_seq(u + i, n - i);
    if (k == 0) return false;
    i += k;
  }
  return true;
}

static const char *json_ws(const char *p, const char *e) {
  while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

static int hex4(const char *p, const char *e) {
  if (e - p < 4) return -1;
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/* p at the opening quote; the position after the closing one, or NULL. */
static const char *json_string_end(const char *p, const char *e) {
  p++;
  for (;;) {
    while (p < e && (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x80 &&
           *p != '"' && *p != '\\')
      p++;
    if (p >= e) return NULL;
    unsigned char c = (unsigned char)*p;
    if (c == '"') return p + 1;
    if (c < 0x20) return NULL;
    if (c >= 0x80) {
      size_t k = utf8_seq((const unsigned char *)p, (size_t)(e - p));
      if (k == 0) return NULL;
      p += k;
      continue;
    }
    /* An escape. */
    if (++p >= e) return NULL;
    switch (*p) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't': p++; continue;
    case 'u': break;
    default: return NULL;
    }
    int u = hex4(p + 1, e);
    if (u < 0) return NULL;
    p += 5;
    if (u >= 0xDC00 && u <= 0xDFFF) return NULL;
    if (u >= 0xD800 && u <= 0xDBFF) {
      if (e - p < 2 || p[0] != '\\' || p[1] != 'u') return NULL;
      int lo = hex4(p + 2, e);
      if (lo < 0xDC00 || lo > 0xDFFF) return NULL;
      p += 6;
    }
  }
}

static const char *json_digits(const char *p, const char *e) {
  const char *q = p;
  while (q < e && *q >= '0' && *q <= '9')
    q++;
  return q == p ? NULL : q;
}

/* A number at p; the position after it, or NULL. */
static const char *json_number_end(const char *p, const char *e) {
  if (*p == '-') p++;
  if (p >= e) return NULL;
  if (*p == '0')
    p++;
  else if (!(p = json_digits(p, e)))
    return NULL;
  if (p < e && *p == '.' && !(p = json_digits(p + 1, e))) return NULL;
  if (p < e && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < e && (*p == '+' || *p == '-')) p++;
    if (!(p = json_digits(p, e))) return NULL;
  }
  return p;
}

static const char *json_word_end(const char *p, const char *e, const char *word,
                                 size_t len) {
  return (size_t)(e - p) >= len && memcmp(p, word, len) == 0 ? p + len : NULL;
}

bool api_json_valid(const char *s, size_t n) {
  if (s == NULL) return false;
  const char *p = s, *e = s + n;
  /* One bit per open container: 1 object, 0 array. Zeroed, so that setting
   * one bit reads no byte that was never written (the other bits of a byte
   * are not looked at before they are set). */
  unsigned char stack[API_JSON_VALID_MAX_DEPTH / 8] = {0};
  size_t depth = 0;
#define TOP_IS_OBJECT() ((stack[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1u)
value:
  p = json_ws(p, e);
  if (p >= e) return false;
  switch (*p) {
  case '{':
  case '[': {
    if (depth == API_JSON_VALID_MAX_DEPTH) return false;
    bool obj = *p == '{';
    unsigned char bit = (unsigned char)(1u << (depth % 8));
    stack[depth / 8] =
        obj ? (unsigned char)(stack[depth / 8] | bit)
            : (unsigned char)(stack[depth / 8] & (unsigned char)~bit);
    depth++;
    p = json_ws(p + 1, e);
    if (p < e && *p == (obj ? '}' : ']')) {
      depth--;
      p++;
      goto after;
    }
    if (obj) goto key;
    goto value;
  }
  case '"': p = json_string_end(p, e); break;
  case 't': p = json_word_end(p, e, "true", 4); break;
  case 'f': p = json_word_end(p, e, "false", 5); break;
  case 'n': p = json_word_end(p, e, "null", 4); break;
  default:
    p = (*p == '-' || (*p >= '0' && *p <= '9')) ? json_number_end(p, e) : NULL;
  }
  if (p == NULL) return false;
after:
  p = json_ws(p, e);
  if (depth == 0) return p == e;
  if (p >= e) return false;
  if (*p == ',') {
    p++;
    if (TOP_IS_OBJECT()) goto key;
    goto value;
  }
  if (*p != (TOP_IS_OBJECT() ? '}' : ']')) return false;
  depth--;
  p++;
  goto after;
key:
  p = json_ws(p, e);
  if (p >= e || *p != '"' || !(p = json_string_end(p, e))) return false;
  p = json_ws(p, e);
  if (p >= e || *p != ':') return false;
  p++;
  goto value;
#undef TOP_IS_OBJECT
}

char *api_utf8_sanitize(char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    size_t k = utf8_seq((const unsigned char *)s + i, n - i);
    if (k == 0) {
      s[i] = '?';
      k = 1;
    }
    i += k;
  }
  return s;
}

char *api_utf8_trim(char *buf) {
  size_t len = strlen(buf);
  /* Walk back over continuation bytes to the last lead byte and check that
   * its sequence is complete. */
  size_t i = len;
  while (i > 0 && ((unsigned char)buf[i - 1] & 0xC0) == 0x80)
    i--;
  if (i == 0) return buf;
  unsigned char lead = (unsigned char)buf[i - 1];
  size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (len - (i - 1) < need) buf[i - 1] = '\0';
  return buf;
}

const char *api_ftype_name(api_ftype t) {
  switch (t) {
  case API_F_STRING: return "a string";
  case API_F_NUMBER: return "a number";
  case API_F_INTEGER: return "an integer";
  case API_F_BOOL: return "true or false";
  case API_F_OBJECT: return "an object";
  case API_F_ARRAY: return "an array";
  }
  return "a value";
}

const char *api_fields_list(const api_field *fields, size_t n, char *buf,
                            size_t bufsz) {
  size_t o = 0;
  if (bufsz == 0) return buf;
  buf[0] = '\0';
  for (size_t i = 0; i < n && o < bufsz; i++) {
    int w = snprintf(buf + o, bufsz - o, "%s%s", i ? ", " : "", fields[i].name);
    if (w < 0) break;
    o += (size_t)w;
  }
  return buf;
}

static bool type_ok(const json_t *v, api_ftype t) {
  switch (t) {
  case API_F_STRING: return json_is_string(v);
  case API_F_NUMBER: return json_is_number(v);
  case API_F_INTEGER: return json_is_integer(v);
  case API_F_BOOL: return json_is_boolean(v);
  case API_F_OBJECT: return json_is_object(v);
  case API_F_ARRAY: return json_is_array(v);
  }
  return false;
}

static void allowed_list(const char *const *allowed, char *buf, size_t bufsz) {
  size_t o = 0;
  buf[0] = '\0';
  for (size_t i = 0; allowed[i] != NULL && o < bufsz; i++) {
    int w = snprintf(buf + o, bufsz - o, "%s\"%s\"", i ? ", " : "", allowed[i]);
    if (w < 0) break;
    o += (size_t)w;
  }
}

/* Checks one present value against its spec; adds errors; true when valid. */
static bool check_value(const json_t *v, const api_field *f, const char *ptr,
                        api_errors *errs) {
  if (!type_ok(v, f->type)) {
    api_errors_add(errs, ptr, "must be %s", api_ftype_name(f->type));
    return false;
  }
  if (f->type == API_F_STRING && f->allowed != NULL) {
    const char *s = json_string_value(v);
    for (size_t i = 0; f->allowed[i] != NULL; i++)
      if (strcmp(s, f->allowed[i]) == 0) return true;
    char list[512];
    allowed_list(f->allowed, list, sizeof list);
    api_errors_add(errs, ptr, "must be one of %s", list);
    return false;
  }
  if (f->type == API_F_NUMBER || f->type == API_F_INTEGER) {
    double x = json_number_value(v);
    bool low = f->has_min && (f->min_exclusive ? !(x > f->min) : x < f->min);
    bool high = f->has_max && (f->max_exclusive ? !(x < f->max) : x > f->max);
    if (low || high) {
      if (f->has_min && f->has_max)
        api_errors_add(errs, ptr, "must be %s %.17g and %s %.17g",
                       f->min_exclusive ? ">" : ">=", f->min,
                       f->max_exclusive ? "<" : "<=", f->max);
      else if (f->has_min)
        api_errors_add(errs, ptr, "must be %s %.17g",
                       f->min_exclusive ? ">" : ">=", f->min);
      else
        api_errors_add(errs, ptr, "must be %s %.17g",
                       f->max_exclusive ? "<" : "<=", f->max);
      return false;
    }
  }
  return true;
}

bool api_json_fields(const json_t *obj, const char *base,
                     const api_field *fields, size_t n, api_errors *errs) {
  size_t before = api_errors_count(errs);
  char ptr[API_POINTER_MAX];
  for (size_t i = 0; i < n; i++)
    if (fields[i].out != NULL) *fields[i].out = NULL;
  if (!json_is_object(obj)) {
    api_errors_add(errs, base, "must be an object");
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    const api_field *f = &fields[i];
    const json_t *v = json_object_get(obj, f->name);
    api_pointer_join(ptr, sizeof ptr, base, f->name);
    if (v == NULL) {
      if (f->required) api_errors_add(errs, ptr, "is required");
      continue;
    }
    if (check_value(v, f, ptr, errs) && f->out != NULL) *f->out = v;
  }
  const char *key;
  const json_t *value;
  size_t unknown = 0;
  json_object_foreach((json_t *)obj, key, value) {
    bool known = false;
    for (size_t i = 0; i < n && !known; i++)
      known = strcmp(key, fields[i].name) == 0;
    if (!known && unknown++ < API_MAX_UNKNOWN) {
      char list[512];
      api_fields_list(fields, n, list, sizeof list);
      api_errors_add(errs, api_pointer_join(ptr, sizeof ptr, base, key),
                     "unknown field; expected one of %s", list);
    }
  }
  /* A body of a million stray keys gets a bounded answer. */
  if (unknown > API_MAX_UNKNOWN)
    api_errors_add(errs, base[0] ? base : "",
                   "%zu more unknown fields are not listed",
                   unknown - API_MAX_UNKNOWN);
  return api_errors_count(errs) == before;
}
