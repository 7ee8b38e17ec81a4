/* libFuzzer entry point for the World Bank body parser (server/wb_parse.c):
 * every input is parsed in both row modes and must never crash, leak, or
 * return a page together with an error. Built by tests/fuzz/CMakeLists.txt:
 * `make fuzz` runs it for minutes, `make test` for 20 s (fuzz_smoke). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wb_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, wb_rows_kind kind) {
  wb_page *p = NULL;
  char err[256];
  wb_parse_status st =
      wb_parse_page((const char *)data, size, kind, &p, err, sizeof err);
  if (st == WB_PARSE_OK) {
    if (p == NULL) abort();
    if (p->is_message) {
      if (p->n_messages == 0) abort();
      for (size_t k = 0; k < p->n_messages; k++)
        if (strlen(p->messages[k].value) >= WB_TEXT_MAX) abort();
    } else {
      if (p->page < 0 || p->pages < 0 || p->per_page < 0 || p->total < 0)
        abort();
      if (kind == WB_ROWS_INDICATOR && p->n_rows > 0 && p->obs == NULL) abort();
      for (size_t k = 0; kind == WB_ROWS_INDICATOR && k < p->n_rows; k++) {
        const wb_obs *o = &p->obs[k];
        if (o->year < 0 || o->year > 9999) abort();
        if (o->country[0] == '\0' || o->indicator[0] == '\0') abort();
        /* Missing is NaN, present is a finite number. */
        if (o->has_value != (o->value == o->value)) abort();
      }
    }
  } else if (p != NULL || err[0] == '\0') {
    abort();
  }
  wb_page_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check(data, size, WB_ROWS_INDICATOR);
  check(data, size, WB_ROWS_ANY);
  return 0;
}
