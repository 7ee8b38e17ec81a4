/* libFuzzer entry point for the text/csv dataset parser (api/api_csv.c):
 * every input is parsed under tight and default limits and must never
 * crash, leak or read past its buffer; a refusal always names at least one
 * error, an acceptance respects the limits, and an accepted panel written
 * back as JSON (columns form, 17 digits) decodes through api_data_decode to
 * the same dataset id. Built by tests/fuzz/CMakeLists.txt: `make fuzz` runs
 * it for minutes, `make test` for 20 s (fuzz_smoke). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_canon.h"
#include "api_csv.h"
#include "api_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The panel in the JSON columns form. */
static json_t *as_json(const core_panel *p) {
  json_t *cols = json_object();
  if (p->reporter || p->partner) {
    char **k[2] = {p->reporter, p->partner};
    const char *names[2] = {"reporter", "partner"};
    for (int m = 0; m < 2; m++) {
      if (k[m] == NULL) continue;
      json_t *a = json_array();
      for (size_t i = 0; i < p->n; i++)
        json_array_append_new(a, k[m][i] ? json_string(k[m][i]) : json_null());
      json_object_set_new(cols, names[m], a);
    }
  }
  if (p->year) {
    json_t *a = json_array();
    for (size_t i = 0; i < p->n; i++)
      json_array_append_new(a, json_integer(p->year[i]));
    json_object_set_new(cols, "year", a);
  }
  for (size_t j = 0; j < p->ncol; j++) {
    json_t *a = json_array();
    for (size_t i = 0; i < p->n; i++)
      json_array_append_new(
          a, isfinite(p->cols[j][i]) ? json_real(p->cols[j][i]) : json_null());
    json_object_set_new(cols, p->names[j], a);
  }
  return json_pack("{s:o}", "columns", cols);
}

static void same_id_through_json(const core_panel *p) {
  char a[API_DATASET_ID_LEN + 1], b[API_DATASET_ID_LEN + 1];
  if (!api_canon_dataset_id(p, a)) abort();
  json_t *doc = as_json(p);
  char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(doc);
  if (text == NULL) abort();
  json_t *back = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
  free(text);
  if (back == NULL) abort();
  api_limits lim;
  api_limits_default(&lim);
  api_data d;
  api_errors errs = {0};
  api_error_code code;
  if (!api_data_decode(back, "", &lim, NULL, &d, &code, &errs)) abort();
  if (!api_canon_dataset_id(d.panel, b) || strcmp(a, b) != 0) abort();
  api_data_free(&d);
  api_errors_clear(&errs);
  json_decref(back);
}

static void check(const uint8_t *data, size_t size, size_t max_rows,
                  size_t max_columns) {
  api_limits lim;
  api_limits_default(&lim);
  lim.max_rows = max_rows;
  lim.max_columns = max_columns;
  api_data d;
  api_errors errs = {0};
  api_error_code code = API_E_COUNT;
  bool ok = api_csv_decode((const char *)data, size, &lim, &d, &code, &errs);
  if (ok) {
    const core_panel *p = d.panel;
    if (p == NULL || p->n == 0 || p->n > max_rows || p->ncol > max_columns)
      abort();
    if (api_errors_count(&errs) != 0) abort();
    same_id_through_json(p);
  } else {
    if (d.panel != NULL || api_errors_count(&errs) == 0) abort();
    if (code != API_E_MALFORMED_CSV && code != API_E_LIMIT &&
        code != API_E_INTERNAL)
      abort();
  }
  api_data_free(&d);
  api_errors_clear(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check(data, size, 4, 3);
  check(data, size, 1000000, 256);
  return 0;
}
