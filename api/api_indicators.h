/* World Bank indicators over HTTP (api_indicators.c): tidy values with
 * their source's last-updated date, panels built from them, and the ops
 * refresh of the embedded default. The handlers are declared in api.h. */
#ifndef GRAVITAS_API_INDICATORS_H
#define GRAVITAS_API_INDICATORS_H

#include "api.h"
#include "api_service.h"

/* Longest year range one request may ask for, most countries and
 * indicators (the World Bank's own limit is 60 indicators per call). */
#define API_WB_MAX_YEARS 100
#define API_WB_MAX_COUNTRIES 300
#define API_WB_MAX_INDICATORS 60

/* The problem for a failed indicators_get: 422 (the World Bank refused an
 * indicator or country; errors point at /indicators/<i> with its message),
 * 502, 504, 503 with Retry-After, or 500. r may be NULL (500). */
void api_wb_problem(api_response *res, const api_wb_result *r);

#endif
