/* core_status -> API error code (see api_core.h). */
#include "api_core.h"

api_error_code api_core_code(core_status st, bool in_formula) {
  switch (st) {
  case CORE_EINVAL: return in_formula ? API_E_FORMULA : API_E_INVALID;
  case CORE_EPARSE:
  case CORE_EUNKNOWN_VAR: return API_E_FORMULA;
  case CORE_EDOMAIN: return API_E_DOMAIN;
  case CORE_ESINGULAR:
  case CORE_ETOOFEW: return API_E_SINGULAR;
  case CORE_ENOTSUP: return API_E_NOT_SUPPORTED;
  case CORE_ENOCONV: return API_E_NO_CONVERGENCE;
  case CORE_OK:
  case CORE_ENOMEM:
  case CORE_EINTERNAL: break;
  }
  return API_E_INTERNAL;
}
