/* Fitting models from inside the process: the embedded default is fitted
 * through exactly the path a client's POST /v1/models takes. */
#ifndef GRAVITAS_API_MODELS_H
#define GRAVITAS_API_MODELS_H

#include <jansson.h>

#include "api.h"

/* POST /v1/models with annotations: every member of the annotations object
 * (may be NULL) is added to the model answer before it is stored, except
 * "warnings", an array of strings appended to the answer's own warnings.
 * Annotations do not enter the model id. Answers as api_post_models. */
void api_models_post_annotated(const api_request *req, api_response *res,
                               const json_t *annotations);

/* What POST /v1/models accepts, from the tables its checks use (for
 * GET /v1): {"estimators": [...], "vcov": [...], "potential_methods":
 * [...]}. A new object, or NULL when out of memory. */
json_t *api_models_capabilities(void);

#endif
