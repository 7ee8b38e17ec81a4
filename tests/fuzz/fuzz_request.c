/* libFuzzer entry point for JSON request decoding (api/api_json.c,
 * api/api_data.c) and the POST /v1/models handler (api/api_models*.c) on
 * which they sit. Every input is a request body under the default limits:
 *   - api_json_parse_body either returns an object or answers 400/422 with a
 *     problem body;
 *   - its "data" member goes through api_data_decode (default limits, then
 *     at most 4 rows and 3 columns): an accepted dataset
 *     respects the limits and lists no error, a refused one names at least
 *     one error with a known code and leaves no panel;
 *   - api_json_fields with a spec like the models request's agrees with the
 *     number of errors it adds;
 *   - api_post_models (no service: inline data only) answers one JSON body
 *     with a status it may answer, a body api_json_valid accepts (the
 *     store's check of a model before keeping it);
 *   - parsing with the numeric columns and the rows lifted (api_lift.h),
 *     under the default limits and tight ones, gives the same answer as
 *     without: the same problem body when refused; when parsed,
 *     the same decoding of "data" and of the body itself (the datasets
 *     form): same verdict, same errors, the same panel bit for bit;
 *   - api_json_valid accepts exactly what Jansson accepts (any value, NUL
 *     escapes allowed), apart from numbers too big for Jansson, NUL
 *     escapes in object keys and raw NUL bytes (never JSON; Jansson lets
 *     one pass after a number).
 * None of this may crash, leak or read past the body (which is not
 * NUL-terminated). Built by tests/fuzz/CMakeLists.txt (make fuzz). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "api_data.h"
#include "api_json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static api_env env;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  api_global_init();
  api_limits_default(&env.limits);
  env.version = "0.1.0";
  env.build = "fuzz";
  env.threads = 1;
  env.service = NULL;
  return 0;
}

/* The body is a JSON document whose status matches the code in "type". */
static void check_answer(const api_response *res) {
  if (res->status < 200 || res->status > 599) abort();
  if (res->body == NULL || res->body_len == 0 || res->content_type == NULL)
    abort();
  json_t *doc = json_loadb(res->body, res->body_len, 0, NULL);
  if (doc == NULL || !json_is_object(doc)) abort();
  /* What the store would keep passes the store's own check. */
  if (!api_json_valid(res->body, res->body_len)) abort();
  if (res->status >= 400) {
    json_t *status = json_object_get(doc, "status");
    if (json_integer_value(status) != res->status) abort();
    if (!json_is_array(json_object_get(doc, "errors"))) abort();
  }
  json_decref(doc);
}

static void check_data(const json_t *data, const api_limits *lim) {
  api_data d;
  memset(&d, 0, sizeof d);
  api_errors errs = {0};
  api_error_code code = API_E_COUNT;
  bool ok = api_data_decode(data, "/data", lim, NULL, &d, &code, &errs);
  if (ok) {
    const core_panel *p = d.panel;
    if (p == NULL || p->n == 0 || p->n > lim->max_rows ||
        p->ncol > lim->max_columns || api_errors_count(&errs) != 0)
      abort();
    char buf[256], ptr[API_POINTER_MAX];
    api_data_variables(&d, buf, sizeof buf);
    if (strlen(buf) >= sizeof buf) abort();
    for (size_t j = 0; j < p->ncol; j++) {
      if (!api_data_has_variable(&d, p->names[j])) abort();
      api_data_cell_pointer(&d, p->n - 1, p->names[j], ptr, sizeof ptr);
      if (strncmp(ptr, "/data/", 6) != 0) abort();
    }
    api_data_pointer(&d, ptr, sizeof ptr);
  } else {
    if (d.panel != NULL || api_errors_count(&errs) == 0) abort();
    if (code != API_E_INVALID && code != API_E_LIMIT && code != API_E_INTERNAL)
      abort();
  }
  api_data_free(&d);
  api_errors_clear(&errs);
}

/* Decodes data (a member of root, or root) both ways and compares. */
static void same_decoding(const json_t *plain, const json_t *lifted_data,
                          const api_lifted *lifted, const api_limits *lim) {
  api_data a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  api_errors ea = {0}, eb = {0};
  api_error_code ca = API_E_COUNT, cb = API_E_COUNT;
  bool oka = api_data_decode(plain, "/data", lim, NULL, &a, &ca, &ea);
  bool okb = api_data_decode(lifted_data, "/data", lim, lifted, &b, &cb, &eb);
  if (oka != okb) abort();
  if (!oka && ca != cb) abort();
  if (!json_equal(ea.list, eb.list) && (ea.list != NULL || eb.list != NULL))
    abort();
  if (oka) {
    const core_panel *p = a.panel, *q = b.panel;
    if (p->n != q->n || p->ncol != q->ncol) abort();
    for (size_t j = 0; j < p->ncol; j++) {
      if (strcmp(p->names[j], q->names[j]) != 0) abort();
      if (memcmp(p->cols[j], q->cols[j], p->n * sizeof(double)) != 0) abort();
    }
    char **kp[2] = {p->reporter, p->partner},
         **kq[2] = {q->reporter, q->partner};
    for (int k = 0; k < 2; k++) {
      if ((kp[k] == NULL) != (kq[k] == NULL)) abort();
      for (size_t i = 0; kp[k] != NULL && i < p->n; i++)
        if ((kp[k][i] == NULL) != (kq[k][i] == NULL) ||
            (kp[k][i] != NULL && strcmp(kp[k][i], kq[k][i]) != 0))
          abort();
    }
    if ((p->year == NULL) != (q->year == NULL)) abort();
    if (p->year != NULL && memcmp(p->year, q->year, p->n * sizeof(int)) != 0)
      abort();
  }
  api_data_free(&a);
  api_data_free(&b);
  api_errors_clear(&ea);
  api_errors_clear(&eb);
}

static void check_lifted(const api_request *req, const api_limits *lim) {
  api_response ra, rb;
  memset(&ra, 0, sizeof ra);
  memset(&rb, 0, sizeof rb);
  api_lifted lifted = {0};
  json_t *a = api_json_parse_body(req, lim, &ra);
  json_t *b = api_json_parse_body_lifted(req, lim, &rb, &lifted);
  if ((a == NULL) != (b == NULL)) abort();
  if (a == NULL) {
    if (ra.status != rb.status || ra.body_len != rb.body_len ||
        memcmp(ra.body, rb.body, ra.body_len) != 0)
      abort();
    if (lifted.n != 0 || lifted.nrows != 0) abort();
  } else {
    json_t *da = json_object_get(a, "data"), *db = json_object_get(b, "data");
    if ((da == NULL) != (db == NULL)) abort();
    if (da != NULL) same_decoding(da, db, &lifted, lim);
    same_decoding(a, b, &lifted, lim);
  }
  json_decref(a);
  json_decref(b);
  api_lifted_free(&lifted);
  api_response_free(&ra);
  api_response_free(&rb);
}

static void check_fields(const json_t *root) {
  static const char *const estimators[] = {"ols", "sfa",  "fe",
                                           "re",  "ppml", NULL};
  const json_t *formula, *data, *estimator, *confidence, *iterations, *flag,
      *list;
  const api_field fields[] = {
      {.name = "formula",
       .type = API_F_STRING,
       .required = true,
       .out = &formula},
      {.name = "data", .type = API_F_OBJECT, .out = &data},
      {.name = "estimator",
       .type = API_F_STRING,
       .allowed = estimators,
       .out = &estimator},
      {.name = "confidence",
       .type = API_F_NUMBER,
       .has_min = true,
       .min_exclusive = true,
       .min = 0,
       .has_max = true,
       .max_exclusive = true,
       .max = 1,
       .out = &confidence},
      {.name = "iterations",
       .type = API_F_INTEGER,
       .has_min = true,
       .min = 1,
       .has_max = true,
       .max = 1000,
       .out = &iterations},
      {.name = "robust", .type = API_F_BOOL, .out = &flag},
      {.name = "diagnostics", .type = API_F_ARRAY, .out = &list},
  };
  api_errors errs = {0};
  bool ok = api_json_fields(root, "", fields, sizeof fields / sizeof fields[0],
                            &errs);
  if (ok != (api_errors_count(&errs) == 0)) abort();
  if (ok && formula == NULL) abort();
  api_errors_clear(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* A copy of exactly size bytes, so that ASan catches a read past the end
   * (the server hands bodies over without a terminating NUL). */
  char *body = malloc(size ? size : 1);
  if (body == NULL) return 0;
  if (size) memcpy(body, data, size);
  api_request req = {.method = "POST",
                     .path = "/v1/models",
                     .content_type = "application/json",
                     .body = size ? body : NULL,
                     .body_len = size,
                     .env = &env};

  /* api_json_valid (the store's check of an answer) agrees with Jansson,
   * apart from what is valid JSON but Jansson cannot hold (numbers too big,
   * "\u0000" in an object key) and raw NUL bytes, which RFC 8259 never
   * allows but Jansson lets pass after a number. */
  json_error_t je;
  json_t *any = json_loadb(body, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
  bool valid = api_json_valid(body, size);
  if (any != NULL) {
    if (!valid && memchr(body, 0, size) == NULL) abort();
    json_decref(any);
  } else if (valid && strstr(je.text, "too big") == NULL &&
             strstr(je.text, "overflow") == NULL &&
             strstr(je.text, "NUL byte in object key") == NULL) {
    abort();
  }

  api_response res;
  memset(&res, 0, sizeof res);
  json_t *root = api_json_parse_body(&req, &env.limits, &res);
  if (root == NULL) {
    if (res.status != 400 && res.status != 422) abort();
    check_answer(&res);
  } else {
    if (!json_is_object(root) || res.status != 0) abort();
    if (api_json_depth(root, env.limits.max_json_depth) >
        env.limits.max_json_depth)
      abort();
    json_t *d = json_object_get(root, "data");
    if (d != NULL) {
      /* Under the default limits, and under tight ones (the limit paths). */
      api_limits tight = env.limits;
      tight.max_rows = 4;
      tight.max_columns = 3;
      check_data(d, &env.limits);
      check_data(d, &tight);
    }
    check_fields(root);
    json_decref(root);
  }
  api_response_free(&res);

  /* Under the default limits, and under tight ones (the rows lift leaves
   * an array past max_rows or max_columns to the decoder's limit path). */
  check_lifted(&req, &env.limits);
  api_limits tight = env.limits;
  tight.max_rows = 4;
  tight.max_columns = 3;
  check_lifted(&req, &tight);

  memset(&res, 0, sizeof res);
  api_post_models(&req, &res);
  check_answer(&res);
  api_response_free(&res);
  free(body);
  return 0;
}
