/* The one mapping of core statuses to API problems (api/api_core.c). */
#include "api/api_testing.h"

#include "api_core.h"

Test(core_map, every_status) {
  const struct {
    core_status st;
    bool in_formula;
    api_error_code code;
    int http;
  } cases[] = {
      {CORE_ENOMEM, false, API_E_INTERNAL, 500},
      {CORE_EINTERNAL, true, API_E_INTERNAL, 500},
      {CORE_EINVAL, false, API_E_INVALID, 422},
      {CORE_EINVAL, true, API_E_FORMULA, 422},
      {CORE_EPARSE, true, API_E_FORMULA, 422},
      {CORE_EUNKNOWN_VAR, false, API_E_FORMULA, 422},
      {CORE_EDOMAIN, false, API_E_DOMAIN, 422},
      {CORE_ESINGULAR, false, API_E_SINGULAR, 422},
      {CORE_ETOOFEW, false, API_E_SINGULAR, 422},
      {CORE_ENOTSUP, false, API_E_NOT_SUPPORTED, 422},
      {CORE_ENOCONV, false, API_E_NO_CONVERGENCE, 422},
      {CORE_OK, false, API_E_INTERNAL, 500},
      {(core_status)999, false, API_E_INTERNAL, 500},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    api_error_code got = api_core_code(cases[i].st, cases[i].in_formula);
    cr_assert_eq(got, cases[i].code, "case %zu", i);
    cr_assert_eq(api_error_status(got), cases[i].http, "case %zu", i);
  }
}
