/* The one mapping of core/ status codes to the API error table: a client's
 * mistake found by the core is a 4xx, only memory and internal faults are a
 * 500 (ARCHITECTURE.md, Errors). */
#ifndef GRAVITAS_API_CORE_H
#define GRAVITAS_API_CORE_H

#include <stdbool.h>

#include "api.h"
#include "core_err.h"

/* The problem code for a core status: CORE_ENOMEM and CORE_EINTERNAL give
 * API_E_INTERNAL; CORE_EINVAL API_E_INVALID, or API_E_FORMULA when
 * in_formula says it came from parsing the formula text (empty, too long,
 * duplicate term); CORE_EPARSE and
 * CORE_EUNKNOWN_VAR API_E_FORMULA; CORE_EDOMAIN API_E_DOMAIN; CORE_ESINGULAR
 * and CORE_ETOOFEW API_E_SINGULAR; CORE_ENOTSUP API_E_NOT_SUPPORTED;
 * CORE_ENOCONV API_E_NO_CONVERGENCE; CORE_OK and unknown values
 * API_E_INTERNAL (a caller never maps success). */
api_error_code api_core_code(core_status st, bool in_formula);

#endif
