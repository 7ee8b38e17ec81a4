/* Installing the embedded default in a running service: the China and
 * Central Asia dataset is stored, its chosen specification fitted through
 * the same handlers a client's requests take, and the alias "default"
 * pointed at the fit. */
#ifndef GRAVITAS_API_DEFAULT_INSTALL_H
#define GRAVITAS_API_DEFAULT_INSTALL_H

#include <stddef.h>

#include "api.h"
#include "api_canon.h"

/* The alias the fast path reads when no model is named. */
#define API_DEFAULT_ALIAS "default"

/* Builds the default from the embedded files and installs it through
 * env->service (required). Idempotent: a restart finds the dataset and the
 * model stored and only re-points the alias. Returns 0 with the model id in
 * model_id, or -1 with a sentence in err (the default cannot be built, a
 * handler refused it, or the store failed). */
int api_default_install(const api_env *env, char model_id[API_MODEL_ID_LEN + 1],
                        char *err, size_t errlen);

/* The same with a default already built (by api_default_build_grid from
 * refreshed values, say; borrowed). *previous_out (when previous_out is not
 * NULL) receives the alias's former model id (caller frees) or NULL;
 * dataset_id (may be NULL) receives the stored dataset's id. Returns as
 * api_default_install. */
typedef struct api_default api_default;
int api_default_install_built(const api_env *env, const api_default *d,
                              char model_id[API_MODEL_ID_LEN + 1],
                              char **previous_out,
                              char dataset_id[API_DATASET_ID_LEN + 1],
                              char *err, size_t errlen);

#endif
