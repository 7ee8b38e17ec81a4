/* The datasets resource: POST /v1/datasets (JSON rows or columns form, or
 * text/csv), GET /v1/datasets (pages of summaries), GET and DELETE
 * /v1/datasets/{id}. Storage goes through the api_service table.
 *
 * What is stored for a dataset (dataset_put):
 *   content: compact JSON {"columns": {"reporter": [...], "partner": [...],
 *     "year": [...], "<var>": [...], ...}}: the keys present, in that order,
 *     then the numeric columns sorted by strcmp of their names; strings or
 *     null for reporter/partner, integers for year, reals written with 17
 *     significant digits (always with a point or an exponent) or null when
 *     missing. json_loadb + api_data_decode of it rebuild the panel with the
 *     same values and the same id (the numeric columns come back in sorted
 *     order). Same id, same bytes: the content is a function of the id.
 *   summary: the answer of POST without created_at: {"id", "name" (string
 *     or null), "n_rows", "variables" (numeric names in the order of the
 *     upload), "reporters", "partners" (sorted distinct codes), "years"
 *     (sorted distinct), "missing" {"<var>": count}, "warnings" [...]}. */
#include "api.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_canon.h"
#include "api_csv.h"
#include "api_data.h"
#include "api_json.h"
#include "api_num.h"
#include "api_text.h"
#include "api_service.h"
#include "api_svc.h"

/* Longest dataset name, in characters. */
#define NAME_MAX_CHARS 128
/* Distinct reporters, partners or years listed in a summary at most. */
#define SUMMARY_MAX_VALUES 1000
/* Page size bounds of GET /v1/datasets. */
#define LIST_DEFAULT 100
#define LIST_MAX 1000
/* Longest cursor accepted from a client. */
#define CURSOR_MAX 256

/* ---- small helpers ----------------------------------------------------- */

static void internal(api_response *res, const char *what) {
  api_errors errs = {0};
  api_errors_add(&errs, "", "%s", what);
  api_problem(res, API_E_INTERNAL, &errs, "%s", what);
}

static bool is_dataset_id(const char *s) {
  if (s == NULL || strncmp(s, "ds_", 3) != 0) return false;
  for (size_t i = 3; i < API_DATASET_ID_LEN; i++) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return s[API_DATASET_ID_LEN] == '\0';
}

/* The id is not echoed: it may be any bytes a client sent. */
static void not_found(api_response *res, bool well_formed) {
  api_errors errs = {0};
  api_errors_add(&errs, "/path/id",
                 well_formed ? "no dataset has this id"
                             : "not a dataset id (ds_ and 32 lowercase hex "
                               "digits)");
  api_problem(res, API_E_NOT_FOUND, &errs, "There is no such dataset.");
}

static bool set_etag(api_response *res, const char *id) {
  char tag[API_DATASET_ID_LEN + 3];
  snprintf(tag, sizeof tag, "\"%s\"", id);
  return api_response_header(res, "ETag", tag);
}

/* ---- media types ------------------------------------------------------- */

typedef enum media { MEDIA_JSON, MEDIA_CSV, MEDIA_OTHER } media;

static bool token_eq(const char *s, size_t n, const char *lit) {
  return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* The media type of a Content-Type value. For text/csv only a UTF-8 (or
 * ASCII) charset is accepted. */
static media media_of(const char *ct) {
  if (ct == NULL) return MEDIA_OTHER;
  while (*ct == ' ' || *ct == '\t')
    ct++;
  size_t n = strcspn(ct, "; \t");
  media m = token_eq(ct, n, "application/json") ? MEDIA_JSON
            : token_eq(ct, n, "text/csv")       ? MEDIA_CSV
                                                : MEDIA_OTHER;
  if (m != MEDIA_CSV) return m;
  const char *p = ct + n;
  while ((p = strchr(p, ';')) != NULL) {
    p++;
    while (*p == ' ' || *p == '\t')
      p++;
    size_t k = strcspn(p, "=;");
    if (!token_eq(p, k, "charset") || p[k] != '=') continue;
    const char *v = p + k + 1;
    size_t vn = strcspn(v, "; \t");
    if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') v++, vn -= 2;
    if (!token_eq(v, vn, "utf-8") && !token_eq(v, vn, "utf8") &&
        !token_eq(v, vn, "us-ascii"))
      return MEDIA_OTHER;
  }
  return MEDIA_CSV;
}

/* ---- summary ----------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* Sorted distinct non-missing codes of one key as a JSON array; counts
 * them in *distinct and the missing ones in *missing. */
static json_t *distinct_codes(char *const *codes, size_t n, size_t *distinct,
                              size_t *missing) {
  json_t *arr = json_array();
  *distinct = *missing = 0;
  if (codes == NULL || arr == NULL) return arr;
  const char **v = malloc((n ? n : 1) * sizeof *v);
  if (v == NULL) {
    json_decref(arr);
    return NULL;
  }
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (codes[i])
      v[m++] = codes[i];
    else
      (*missing)++;
  qsort(v, m, sizeof *v, cmp_str);
  for (size_t i = 0; i < m; i++) {
    if (i > 0 && strcmp(v[i], v[i - 1]) == 0) continue;
    if (*distinct < SUMMARY_MAX_VALUES &&
        json_array_append_new(arr, json_string(v[i])) != 0) {
      json_decref(arr);
      arr = NULL;
      break;
    }
    (*distinct)++;
  }
  free(v);
  return arr;
}

static json_t *distinct_years(const int *years, size_t n, size_t *distinct) {
  json_t *arr = json_array();
  *distinct = 0;
  if (years == NULL || arr == NULL) return arr;
  int *v = malloc((n ? n : 1) * sizeof *v);
  if (v == NULL) {
    json_decref(arr);
    return NULL;
  }
  memcpy(v, years, n * sizeof *v);
  qsort(v, n, sizeof *v, cmp_int);
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && v[i] == v[i - 1]) continue;
    if (*distinct < SUMMARY_MAX_VALUES &&
        json_array_append_new(arr, json_integer(v[i])) != 0) {
      json_decref(arr);
      arr = NULL;
      break;
    }
    (*distinct)++;
  }
  free(v);
  return arr;
}

typedef struct key_row {
  const char *r, *p;
  int y;
  size_t i;
} key_row;

static int strcmp_null(const char *a, const char *b) {
  if (a == NULL || b == NULL) return (a != NULL) - (b != NULL);
  return strcmp(a, b);
}

static int cmp_key_row(const void *a, const void *b) {
  const key_row *x = a, *y = b;
  int c = strcmp_null(x->r, y->r);
  if (c == 0) c = strcmp_null(x->p, y->p);
  if (c == 0) c = (x->y > y->y) - (x->y < y->y);
  if (c == 0) c = (x->i > y->i) - (x->i < y->i);
  return c;
}

static bool same_key(const key_row *x, const key_row *y) {
  return strcmp_null(x->r, y->r) == 0 && strcmp_null(x->p, y->p) == 0 &&
         x->y == y->y;
}

static bool warn(json_t *warnings, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static bool warn(json_t *warnings, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return json_array_append_new(
             warnings, json_string(api_utf8_sanitize(api_utf8_trim(msg)))) == 0;
}

/* Rows that repeat a key combination of an earlier row; one warning. */
static bool warn_duplicates(const core_panel *p, json_t *warnings) {
  if (p->reporter == NULL && p->partner == NULL && p->year == NULL) return true;
  key_row *k = malloc((p->n ? p->n : 1) * sizeof *k);
  if (k == NULL) return false;
  for (size_t i = 0; i < p->n; i++)
    k[i] = (key_row){.r = p->reporter ? p->reporter[i] : NULL,
                     .p = p->partner ? p->partner[i] : NULL,
                     .y = p->year ? p->year[i] : 0,
                     .i = i};
  qsort(k, p->n, sizeof *k, cmp_key_row);
  size_t dups = 0, first = 0, second = 0;
  for (size_t i = 1; i < p->n; i++)
    if (same_key(&k[i], &k[i - 1])) {
      if (dups == 0 || k[i].i < second) {
        /* The example shown is the earliest repeated row. */
        size_t j = i - 1;
        while (j > 0 && same_key(&k[j - 1], &k[i]))
          j--;
        first = k[j].i;
        second = k[i].i;
      }
      dups++;
    }
  bool ok = true;
  if (dups > 0) {
    char label[2 * API_KEY_MAX + 32];
    char yr[16] = "";
    if (p->year) snprintf(yr, sizeof yr, "%d", p->year[first]);
    const char *parts[3] = {
        p->reporter ? (p->reporter[first] ? p->reporter[first] : "NA") : NULL,
        p->partner ? (p->partner[first] ? p->partner[first] : "NA") : NULL,
        p->year ? yr : NULL};
    const char *key_names[3] = {"reporter", "partner", "year"};
    char names[40] = "";
    size_t o = 0, on = 0;
    label[0] = '\0';
    for (size_t m = 0; m < 3; m++) {
      if (parts[m] == NULL) continue;
      o += (size_t)snprintf(label + o, sizeof label - o, "%s%s", o ? " " : "",
                            parts[m]);
      on += (size_t)snprintf(names + on, sizeof names - on, "%s%s",
                             on ? ", " : "", key_names[m]);
      if (o >= sizeof label) o = sizeof label - 1;
      if (on >= sizeof names) on = sizeof names - 1;
    }
    ok = warn(warnings,
              "%zu row%s repeat the (%s) of an earlier row, e.g. rows %zu "
              "and %zu (%s); models will treat them as separate "
              "observations",
              dups, dups == 1 ? "" : "s", names, first, second, label);
  }
  free(k);
  return ok;
}

/* The summary of panel p (without created_at). NULL on allocation failure. */
static json_t *summary_build(const core_panel *p, const char *id,
                             const char *name) {
  json_t *s = json_object(), *vars = json_array(), *missing = json_object(),
         *warnings = json_array();
  size_t nrep = 0, nrep_missing = 0, npar = 0, npar_missing = 0, nyear = 0;
  json_t *reps = distinct_codes(p->reporter, p->n, &nrep, &nrep_missing);
  json_t *pars = distinct_codes(p->partner, p->n, &npar, &npar_missing);
  json_t *years = distinct_years(p->year, p->n, &nyear);
  bool ok = s && vars && missing && warnings && reps && pars && years;
  for (size_t j = 0; ok && j < p->ncol; j++) {
    size_t miss = core_panel_missing(p, j);
    ok = json_array_append_new(vars, json_string(p->names[j])) == 0 &&
         json_object_set_new(missing, p->names[j],
                             json_integer((json_int_t)miss)) == 0;
    if (!ok) break;
    if (p->n > 0 && miss == p->n) {
      ok = warn(warnings, "variable %s is missing in every row", p->names[j]);
      continue;
    }
    const double *c = p->cols[j];
    size_t present = 0;
    double first = NAN;
    bool constant = true;
    for (size_t i = 0; i < p->n; i++) {
      if (isnan(c[i])) continue;
      if (present++ == 0)
        first = c[i];
      else if (c[i] != first)
        constant = false;
    }
    if (present >= 2 && constant)
      ok = warn(warnings,
                "variable %s is constant (every present value is %.17g); it "
                "cannot be a regressor next to an intercept",
                p->names[j], first);
  }
  if (ok && nrep_missing)
    ok = warn(warnings, "%zu row%s have no reporter", nrep_missing,
              nrep_missing == 1 ? "" : "s");
  if (ok && npar_missing)
    ok = warn(warnings, "%zu row%s have no partner", npar_missing,
              npar_missing == 1 ? "" : "s");
  if (ok && nrep > SUMMARY_MAX_VALUES)
    ok = warn(warnings, "%zu distinct reporters; only the first %d are listed",
              nrep, SUMMARY_MAX_VALUES);
  if (ok && npar > SUMMARY_MAX_VALUES)
    ok = warn(warnings, "%zu distinct partners; only the first %d are listed",
              npar, SUMMARY_MAX_VALUES);
  if (ok && nyear > SUMMARY_MAX_VALUES)
    ok = warn(warnings, "%zu distinct years; only the first %d are listed",
              nyear, SUMMARY_MAX_VALUES);
  if (ok) ok = warn_duplicates(p, warnings);
  if (ok)
    ok =
        json_object_set_new(s, "id", json_string(id)) == 0 &&
        json_object_set_new(s, "name",
                            name ? json_string(name) : json_null()) == 0 &&
        json_object_set_new(s, "n_rows", json_integer((json_int_t)p->n)) == 0 &&
        json_object_set(s, "variables", vars) == 0 &&
        json_object_set(s, "reporters", reps) == 0 &&
        json_object_set(s, "partners", pars) == 0 &&
        json_object_set(s, "years", years) == 0 &&
        json_object_set(s, "missing", missing) == 0 &&
        json_object_set(s, "warnings", warnings) == 0;
  json_decref(vars);
  json_decref(reps);
  json_decref(pars);
  json_decref(years);
  json_decref(missing);
  json_decref(warnings);
  if (!ok) {
    json_decref(s);
    return NULL;
  }
  return s;
}

/* ---- content ----------------------------------------------------------- */

/* A JSON string literal; s is valid UTF-8 (Jansson or the CSV parser
 * checked it). */
static void text_string(api_text *t, const char *s) {
  api_text_raw(t, "\"");
  for (const char *c = s; *c; c++) {
    unsigned char u = (unsigned char)*c;
    if (u == '"' || u == '\\') {
      char esc[2] = {'\\', (char)u};
      api_text_put(t, esc, 2);
    } else if (u < 0x20) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", u);
      api_text_put(t, esc, 6);
    } else {
      api_text_put(t, c, 1);
    }
  }
  api_text_raw(t, "\"");
}

/* A real as Jansson would read it back: 17 significant digits, always with
 * a point or an exponent so that it is a real (and "-0.0" stays -0). */
static void text_real(api_text *t, double x) {
  char buf[API_NUM_BUF + 2];
  /* api_fmt_g17 writes the bytes of snprintf's "%.17g", without its
   * multi-precision arithmetic (a third of storing 100,000 rows). */
  size_t n = api_fmt_g17(x, buf);
  if (n == 0 || n >= API_NUM_BUF - 1) {
    t->failed = true;
    return;
  }
  if (strpbrk(buf, ".eE") == NULL) {
    buf[n++] = '.';
    buf[n++] = '0';
    buf[n] = '\0';
  }
  api_text_put(t, buf, (size_t)n);
}

typedef struct named {
  const char *name;
  size_t j;
} named;

static int cmp_named(const void *a, const void *b) {
  return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

/* The stored content of p (see the top of this file). NULL on failure. */
static char *content_build(const core_panel *p, size_t *len) {
  api_text t = {0};
  named *order = malloc((p->ncol ? p->ncol : 1) * sizeof *order);
  if (order == NULL) return NULL;
  for (size_t j = 0; j < p->ncol; j++)
    order[j] = (named){.name = p->names[j], .j = j};
  qsort(order, p->ncol, sizeof *order, cmp_named);
  /* About 20 bytes a cell (a real's 17 digits and a comma): one block,
   * up to 256 MiB reserved up front; beyond that the buffer grows. */
  size_t guess = 64 + 20 * p->n * (p->ncol + 3);
  api_text_reserve(&t, guess < ((size_t)256 << 20) ? guess : (size_t)256 << 20);
  api_text_raw(&t, "{\"columns\":{");
  bool first_col = true;
  char *const *keys[2] = {p->reporter, p->partner};
  const char *key_names[2] = {"reporter", "partner"};
  for (size_t k = 0; k < 2; k++) {
    if (keys[k] == NULL) continue;
    api_text_raw(&t, first_col ? "\"" : ",\"");
    api_text_raw(&t, key_names[k]);
    api_text_raw(&t, "\":[");
    for (size_t i = 0; i < p->n; i++) {
      if (i) api_text_raw(&t, ",");
      if (keys[k][i])
        text_string(&t, keys[k][i]);
      else
        api_text_raw(&t, "null");
    }
    api_text_raw(&t, "]");
    first_col = false;
  }
  if (p->year) {
    api_text_raw(&t, first_col ? "\"year\":[" : ",\"year\":[");
    for (size_t i = 0; i < p->n; i++) {
      char buf[16];
      int n = snprintf(buf, sizeof buf, "%s%d", i ? "," : "", p->year[i]);
      api_text_put(&t, buf, (size_t)n);
    }
    api_text_raw(&t, "]");
    first_col = false;
  }
  for (size_t jj = 0; jj < p->ncol; jj++) {
    size_t j = order[jj].j;
    api_text_raw(&t, first_col ? "" : ",");
    text_string(&t, p->names[j]);
    api_text_raw(&t, ":[");
    for (size_t i = 0; i < p->n; i++) {
      if (i) api_text_raw(&t, ",");
      if (isfinite(p->cols[j][i]))
        text_real(&t, p->cols[j][i]);
      else
        api_text_raw(&t, "null");
    }
    api_text_raw(&t, "]");
    first_col = false;
  }
  api_text_raw(&t, "}}");
  free(order);
  if (t.failed) {
    api_text_free(&t);
    return NULL;
  }
  *len = t.len;
  return t.s;
}

/* ---- POST /v1/datasets ------------------------------------------------- */

/* Checks a dataset name (from the body or the query); faults name ptr. */
static bool name_ok(const char *name, size_t bytes, const char *ptr,
                    api_errors *errs) {
  size_t chars = 0;
  for (size_t i = 0; i < bytes; i++)
    if (((unsigned char)name[i] & 0xC0) != 0x80) chars++;
  if (bytes == 0 || chars > NAME_MAX_CHARS || strlen(name) != bytes) {
    api_errors_add(errs, ptr,
                   "must be a name of 1 to %d characters (no NUL); it has %zu",
                   NAME_MAX_CHARS, chars);
    return false;
  }
  return true;
}

typedef struct post_ctx {
  const api_request *req;
  api_response *res;
  const api_service *svc;
  json_t *root;
  api_data data;
  api_errors errs;
  const char *name; /* borrowed from root or the query */
  char id[API_DATASET_ID_LEN + 1];
  json_t *summary;
  char *summary_text;
  char *content;
  size_t content_len;
  api_lifted lifted; /* numeric columns of the body (api_lift.h) */
} post_ctx;

/* Reads a JSON body into c->data; false after answering. */
static bool read_json(post_ctx *c) {
  const api_limits *lim = &c->req->env->limits;
  c->root = api_json_parse_body_lifted(c->req, lim, c->res, &c->lifted);
  if (c->root == NULL) return false;
  const json_t *name = NULL, *rows = NULL, *cols = NULL;
  const api_field fields[] = {
      {.name = "name", .type = API_F_STRING, .out = &name},
      {.name = "rows", .type = API_F_ARRAY, .out = &rows},
      {.name = "columns", .type = API_F_OBJECT, .out = &cols},
  };
  bool ok = api_json_fields(c->root, "", fields, 3, &c->errs);
  if (name != NULL && name_ok(json_string_value(name), json_string_length(name),
                              "/name", &c->errs))
    c->name = json_string_value(name);
  if (!ok || api_errors_count(&c->errs) > 0) {
    api_problem(c->res, API_E_INVALID, &c->errs,
                "The body is not a dataset: see errors.");
    return false;
  }
  /* api_data_decode takes exactly the rows or columns member. */
  json_t *data = json_copy(c->root);
  if (data == NULL) {
    internal(c->res, "out of memory while reading the dataset");
    return false;
  }
  json_object_del(data, "name");
  api_error_code code = API_E_INVALID;
  ok = api_data_decode(data, "", lim, &c->lifted, &c->data, &code, &c->errs);
  json_decref(data);
  if (!ok) {
    api_problem(c->res, code, &c->errs, "The data cannot be stored: %s.",
                code == API_E_LIMIT ? "it exceeds a limit" : "see errors");
    return false;
  }
  return true;
}

static bool read_csv(post_ctx *c) {
  api_error_code code = API_E_MALFORMED_CSV;
  if (!api_csv_decode(c->req->body, c->req->body_len, &c->req->env->limits,
                      &c->data, &code, &c->errs)) {
    api_problem(c->res, code, &c->errs, "The CSV body cannot be stored: %s.",
                code == API_E_LIMIT ? "it exceeds a limit" : "see errors");
    return false;
  }
  return true;
}

static bool read_body(post_ctx *c) {
  media m = media_of(c->req->content_type);
  if (m == MEDIA_OTHER) {
    /* The value is not echoed: it may be any bytes. */
    api_errors_add(&c->errs, "",
                   "%s; use application/json or text/csv (charset utf-8)",
                   c->req->content_type ? "this Content-Type is not accepted"
                                        : "the Content-Type is missing");
    api_problem(c->res, API_E_MEDIA_TYPE, &c->errs,
                "A dataset is posted as application/json or text/csv.");
    return false;
  }
  const char *qname = api_query(c->req, "name");
  if (qname != NULL &&
      !name_ok(qname, strlen(qname), "/query/name", &c->errs)) {
    api_problem(c->res, API_E_BAD_QUERY, &c->errs,
                "The name query parameter is invalid.");
    return false;
  }
  json_t *qjson = qname ? json_string(qname) : NULL; /* NULL: not UTF-8 */
  bool q_utf8 = qjson != NULL;
  json_decref(qjson);
  if (qname != NULL && !q_utf8) {
    api_errors_add(&c->errs, "/query/name", "must be valid UTF-8");
    api_problem(c->res, API_E_BAD_QUERY, &c->errs,
                "The name query parameter is invalid.");
    return false;
  }
  bool ok = m == MEDIA_JSON ? read_json(c) : read_csv(c);
  if (ok && c->name == NULL) c->name = qname;
  return ok;
}

static void post_answer(post_ctx *c, bool created) {
  /* Answer what is stored: after a repeat upload the first name and summary
   * stay, and the stored summary carries created_at. */
  json_t *body = NULL;
  char *stored = NULL;
  if (c->svc->dataset_get(c->svc->ctx, c->id, &stored, NULL, NULL) ==
          API_SVC_OK &&
      stored != NULL)
    body = json_loads(stored, 0, NULL);
  free(stored);
  if (!json_is_object(body)) {
    json_decref(body);
    body = json_incref(c->summary);
  }
  char loc[64];
  snprintf(loc, sizeof loc, "/v1/datasets/%s", c->id);
  api_response_json(c->res, created ? 201 : 200, body);
  if (c->res->status == 201 || c->res->status == 200) {
    api_response_header(c->res, "Location", loc);
    set_etag(c->res, c->id);
  }
}

/* Server-Timing: parse (the body into a panel), id (its content hash),
 * encode (summary and stored content), store (the durable write). */
void api_post_datasets(const api_request *req, api_response *res) {
  post_ctx c = {.req = req, .res = res, .svc = api_svc_get(req, res)};
  if (c.svc == NULL) return;
  api_timing timing;
  api_timing_start(&timing);
  if (!read_body(&c)) goto cleanup;
  api_timing_mark(&timing, "parse");
  if (!api_canon_dataset_id(c.data.panel, c.id)) {
    internal(res, "the dataset id could not be computed");
    goto cleanup;
  }
  api_timing_mark(&timing, "id");
  c.summary = summary_build(c.data.panel, c.id, c.name);
  c.summary_text =
      c.summary ? json_dumps(c.summary, JSON_COMPACT | JSON_REAL_PRECISION(17))
                : NULL;
  c.content = content_build(c.data.panel, &c.content_len);
  if (c.summary_text == NULL || c.content == NULL) {
    internal(res, "out of memory while storing the dataset");
    goto cleanup;
  }
  bool created = false;
  api_timing_mark(&timing, "encode");
  api_svc_status st =
      c.svc->dataset_put(c.svc->ctx, c.id, c.name, c.data.panel->n,
                         c.summary_text, c.content, c.content_len, &created);
  if (st != API_SVC_OK) {
    api_svc_problem(res, st, "", "the dataset");
    goto cleanup;
  }
  api_timing_mark(&timing, "store");
  post_answer(&c, created);
  api_timing_header(&timing, res);
cleanup:
  api_errors_clear(&c.errs);
  api_data_free(&c.data);
  json_decref(c.root);
  api_lifted_free(&c.lifted);
  json_decref(c.summary);
  free(c.summary_text);
  free(c.content);
}

/* ---- GET /v1/datasets -------------------------------------------------- */

static bool cursor_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > CURSOR_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if (!isgraph((unsigned char)s[i])) return false;
  return true;
}

void api_get_datasets(const api_request *req, api_response *res) {
  const api_service *svc = api_svc_get(req, res);
  if (svc == NULL) return;
  long long limit = LIST_DEFAULT;
  if (!api_query_int(req, res, "limit", 1, LIST_MAX, LIST_DEFAULT, &limit))
    return;
  const char *after = api_query(req, "after");
  api_errors errs = {0};
  if (after != NULL && !cursor_ok(after)) {
    api_errors_add(&errs, "/query/after",
                   "must be the next cursor of an earlier page");
    api_problem(res, API_E_BAD_QUERY, &errs, "A query parameter is invalid.");
    return;
  }
  char *items = NULL, *next = NULL;
  api_svc_status st =
      svc->dataset_list(svc->ctx, after, (size_t)limit, &items, &next);
  if (st == API_SVC_NOT_FOUND) {
    api_errors_add(&errs, "/query/after",
                   "is not a cursor this service issued");
    api_problem(res, API_E_BAD_QUERY, &errs, "The cursor is not valid.");
  } else if (st != API_SVC_OK) {
    api_svc_problem(res, st, "", "the dataset list");
  } else {
    json_t *arr = items ? json_loads(items, 0, NULL) : json_array();
    if (!json_is_array(arr)) {
      json_decref(arr);
      internal(res, "the stored dataset list is not a JSON array");
    } else {
      json_t *body = json_object();
      if (body) {
        json_object_set_new(body, "items", arr);
        json_object_set_new(body, "next",
                            next ? json_string(next) : json_null());
      } else {
        json_decref(arr);
      }
      api_response_json(res, 200, body);
    }
  }
  free(items);
  free(next);
}

/* ---- GET /v1/datasets/{id} --------------------------------------------- */

/* {"rows": [...]} from the stored content (columns form). NULL when the
 * content is not what this file stores. */
static json_t *rows_of_content(const char *content, size_t len) {
  json_t *doc = json_loadb(content, len, 0, NULL);
  json_t *cols = json_object_get(doc, "columns");
  json_t *rows = json_array(), *out = NULL;
  if (!json_is_object(cols) || rows == NULL) goto cleanup;
  size_t n = SIZE_MAX;
  const char *key;
  json_t *arr;
  json_object_foreach(cols, key, arr) {
    if (!json_is_array(arr)) goto cleanup;
    if (n == SIZE_MAX) n = json_array_size(arr);
    if (json_array_size(arr) != n) goto cleanup;
  }
  if (n == SIZE_MAX) n = 0;
  for (size_t i = 0; i < n; i++) {
    json_t *row = json_object();
    if (row == NULL || json_array_append_new(rows, row) != 0) goto cleanup;
    json_object_foreach(cols, key, arr) {
      if (json_object_set(row, key, json_array_get(arr, i)) != 0) goto cleanup;
    }
  }
  out = json_pack("{s:O}", "rows", rows);
cleanup:
  json_decref(rows);
  json_decref(doc);
  return out;
}

static bool rows_param(const api_request *req, api_response *res, bool *rows) {
  const char *v = api_query(req, "rows");
  *rows = false;
  if (v == NULL || strcmp(v, "false") == 0) return true;
  if (strcmp(v, "true") == 0) {
    *rows = true;
    return true;
  }
  api_errors errs = {0};
  api_errors_add(&errs, "/query/rows", "must be true or false");
  api_problem(res, API_E_BAD_QUERY, &errs, "A query parameter is invalid.");
  return false;
}

void api_get_dataset(const api_request *req, api_response *res) {
  const api_service *svc = api_svc_get(req, res);
  const char *id = req->n_params > 0 ? req->params[0] : NULL;
  bool rows = false;
  if (svc == NULL) return;
  if (!rows_param(req, res, &rows)) return;
  if (!is_dataset_id(id)) {
    not_found(res, false);
    return;
  }
  char *summary = NULL, *content = NULL;
  size_t content_len = 0;
  char tag[API_DATASET_ID_LEN + 3];
  snprintf(tag, sizeof tag, "\"%s\"", id);
  bool conditional = api_etag_matches(req->if_none_match, tag);
  /* A conditional hit needs no content, only to know that the id exists. */
  api_svc_status st =
      svc->dataset_get(svc->ctx, id, &summary,
                       rows && !conditional ? &content : NULL, &content_len);
  if (st == API_SVC_NOT_FOUND) {
    not_found(res, true);
  } else if (st != API_SVC_OK) {
    api_svc_problem(res, st, "", "the dataset");
  } else if (conditional) {
    res->status = 304;
    res->content_type = NULL;
    set_etag(res, id);
  } else {
    json_t *body = summary ? json_loads(summary, 0, NULL) : NULL;
    json_t *data =
        rows && content ? rows_of_content(content, content_len) : NULL;
    if (!json_is_object(body) || (rows && data == NULL)) {
      json_decref(body);
      json_decref(data);
      internal(res, "the stored dataset cannot be read back");
    } else {
      if (data) json_object_set_new(body, "data", data);
      api_response_json(res, 200, body);
      if (res->status == 200) set_etag(res, id);
    }
  }
  free(summary);
  free(content);
}

/* ---- DELETE /v1/datasets/{id} ------------------------------------------ */

void api_delete_dataset(const api_request *req, api_response *res) {
  const api_service *svc = api_svc_get(req, res);
  const char *id = req->n_params > 0 ? req->params[0] : NULL;
  if (svc == NULL) return;
  if (!is_dataset_id(id)) {
    not_found(res, false);
    return;
  }
  api_svc_status st = svc->dataset_delete(svc->ctx, id);
  if (st == API_SVC_NOT_FOUND) {
    not_found(res, true);
  } else if (st != API_SVC_OK) {
    api_svc_problem(res, st, "", "the dataset");
  } else {
    res->status = 204;
    res->content_type = NULL;
  }
}
